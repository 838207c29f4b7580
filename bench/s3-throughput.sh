#!/usr/bin/env bash
# Backup and restore throughput of Kura to S3 (SeaweedFS on loopback) beside a local directory
# (issue 9), on the same generated hospital-like data set.
#
#   bench/s3-throughput.sh [--size 512MiB] [--workdir DIR] [--debug] [--no-build]
#
# Three repositories, each fresh: a local directory, an S3 bucket, and an S3 bucket with Object
# Lock written with `--lock-days 30` (COMPLIANCE retention on every object, the immutability
# probe at open, and the store-lock extension after the commit). For each: the initial backup,
# then a full restore verified against the source with `kura-gen digest` (a difference fails the
# run). Prints a markdown table. Warm page cache only: this measures Kura's S3 path, not the disk.
#
# SeaweedFS: when KURA_TEST_S3_ENDPOINT is set, that server is used (it must be the one
# scripts/start-seaweedfs.sh starts, for its admin and backup identities); otherwise one is
# started on KURA_S3_PORT (default 18700) and stopped at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE=512MiB
WORKDIR=${TMPDIR:-/tmp}/kura-s3-bench
PROFILE=release
BUILD=1

die() { printf 's3-throughput: %s\n' "$*" >&2; exit 1; }
log() { printf '[s3-throughput] %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=${2:?--size needs a value}; shift 2 ;;
    --workdir) WORKDIR=${2:?--workdir needs a value}; shift 2 ;;
    --debug) PROFILE=debug; shift ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if [ "$BUILD" = 1 ]; then
  flags=(--quiet -p kura -p kura-testkit)
  [ "$PROFILE" = release ] && flags+=(--release)
  log "building kura and kura-gen ($PROFILE)"
  (cd "$ROOT" && cargo build "${flags[@]}") || die "build failed"
fi
KURA=$TARGET/$PROFILE/kura
KURA_GEN=$TARGET/$PROFILE/kura-gen
[ -x "$KURA" ] && [ -x "$KURA_GEN" ] || die "$KURA or $KURA_GEN missing (build, or drop --no-build)"

STARTED=0
if [ -z "${KURA_TEST_S3_ENDPOINT:-}" ]; then
  export KURA_S3_PORT=${KURA_S3_PORT:-18700}
  eval "$("$ROOT/scripts/start-seaweedfs.sh")"
  STARTED=1
fi
cleanup() {
  [ "$STARTED" = 1 ] && "$ROOT/scripts/start-seaweedfs.sh" stop || true
}
trap cleanup EXIT

# Refuse to empty a directory this script did not make.
if [ -e "$WORKDIR" ] && [ ! -e "$WORKDIR/.kura-s3-bench" ] && [ -n "$(ls -A "$WORKDIR")" ]; then
  die "$WORKDIR exists and was not made by this script: choose another --workdir"
fi
rm -rf "$WORKDIR"; mkdir -p "$WORKDIR/logs"; touch "$WORKDIR/.kura-s3-bench"
PW=$WORKDIR/password; printf 'kura-s3-bench-%s\n' "$$" >"$PW"; chmod 600 "$PW"
DATA=$WORKDIR/data

log "generating $SIZE of data"
"$KURA_GEN" dataset "$DATA" --size "$SIZE" --seed 1 >"$WORKDIR/logs/dataset.txt"
BYTES=$(awk 'NR == 1 { print $5 }' "$WORKDIR/logs/dataset.txt")
FILES=$(awk 'NR == 1 { print $3 }' "$WORKDIR/logs/dataset.txt")
DIGEST=$("$KURA_GEN" digest "$DATA" | awk '{print $1}')

# A bucket made by the admin identity (as a storage operator would), with or without Object Lock.
make_bucket() {
  local name=$1 lock=$2 hdr=()
  [ "$lock" = 1 ] && hdr=(-H "x-amz-bucket-object-lock-enabled: true")
  curl -sf --aws-sigv4 "aws:amz:${AWS_REGION}:s3" \
    --user "$KURA_TEST_S3_ADMIN_KEY:$KURA_TEST_S3_ADMIN_SECRET" \
    -X PUT "${hdr[@]}" "$KURA_TEST_S3_ENDPOINT/$name" -o /dev/null ||
    die "cannot create bucket $name on $KURA_TEST_S3_ENDPOINT"
}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
mibs() { awk -v n="$BYTES" -v s="$1" 'BEGIN { printf "%.0f", n / 1048576 / s }'; }

# run LABEL REPO [backup options...]: one row of the table.
run() {
  local label=$1 repo=$2; shift 2
  local log=$WORKDIR/logs/$label
  export KURA_REPOSITORY=$repo KURA_PASSWORD_FILE=$PW
  "$KURA" init >"$log.init" 2>&1 || die "$label: init failed (see $log.init)"
  local t0 t1 t2 code=0
  t0=$(now)
  "$KURA" backup --no-detect --source bench "$@" "$DATA" >"$log.backup" 2>&1 || code=$?
  t1=$(now)
  [ "$code" = 0 ] || die "$label: backup exited $code (see $log.backup)"
  "$KURA" restore latest --target "$WORKDIR/restore-$label" >"$log.restore" 2>&1 ||
    die "$label: restore failed (see $log.restore)"
  t2=$(now)
  local got
  got=$("$KURA_GEN" digest "$WORKDIR/restore-$label$DATA" | awk '{print $1}')
  [ "$got" = "$DIGEST" ] || die "$label: the restored tree differs from the source"
  local b r
  b=$(secs "$t0" "$t1"); r=$(secs "$t1" "$t2")
  printf '| %s | %s s | %s MiB/s | %s s | %s MiB/s |\n' "$label" "$b" "$(mibs "$b")" "$r" "$(mibs "$r")"
  rm -rf "$WORKDIR/restore-$label"
}

BUCKET=kura-bench-$$
make_bucket "$BUCKET" 0
make_bucket "$BUCKET-lock" 1
echo
echo "$FILES files, $(awk -v n="$BYTES" 'BEGIN { printf "%.0f", n / 1048576 }') MiB; kura $PROFILE build; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| repository | backup | backup rate | restore | restore rate |"
echo "|---|---|---|---|---|"
run local "$WORKDIR/repo-local"
run s3 "s3:$KURA_TEST_S3_ENDPOINT/$BUCKET/bench"
run s3-object-lock "s3:$KURA_TEST_S3_ENDPOINT/$BUCKET-lock/bench" --lock-days 30
