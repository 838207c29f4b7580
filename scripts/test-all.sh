#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
#
# On a fresh machine it installs what the tests need (Debian's PostgreSQL), starts a throw-away
# PostgreSQL server on a Unix socket, then runs cargo fmt --check, clippy with warnings as errors,
# and every test of the workspace. Nothing is left running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $* (install it by hand and run again)" >&2; exit 1; fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install_packages() {
  local need=()
  [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || need+=(postgresql)
  command -v psql >/dev/null || need+=(postgresql-client)
  command -v curl >/dev/null || need+=(curl)
  python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
  # Headless Chromium for the web-page tests (console, emergency viewer).
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

PG_DIR=""
start_postgres() {
  local bin; bin=$(pg_bin)
  PG_DIR=$(mktemp -d /tmp/kura-pg.XXXXXX)
  local run=()
  # PostgreSQL refuses to run as root: use the postgres account the package created.
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; run=(runuser -u postgres --); fi
  "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -U kura --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  local port=$(( 20000 + RANDOM % 20000 ))
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-k $PG_DIR -p $port -c listen_addresses='' -c fsync=off" start >/dev/null
  export KURA_TEST_PGHOST="$PG_DIR" KURA_TEST_PGPORT="$port" KURA_TEST_PGUSER=kura
  log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') running on $PG_DIR port $port"
}

stop_postgres() {
  [ -n "$PG_DIR" ] || return 0
  local run=(); [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap 'scripts/start-seaweedfs.sh stop >/dev/null 2>&1 || true; stop_postgres' EXIT

# Incremental compilation only pays off on rebuilds; from scratch it doubles the target directory.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

install_packages
start_postgres
# A throw-away SeaweedFS on loopback for the S3 tests; KURA_REQUIRE_S3 makes them fail, not skip,
# if it is unreachable.
log "starting SeaweedFS"
eval "$(scripts/start-seaweedfs.sh)"
export KURA_REQUIRE_S3=1
# The browser tests fail, not skip, when Chromium is missing.
export KURA_REQUIRE_BROWSER=1

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# cargo-nextest (on the machine image) runs test binaries in parallel; plain cargo test otherwise.
if cargo nextest --version >/dev/null 2>&1; then
  log "cargo nextest run"
  cargo nextest run --workspace --locked --no-fail-fast --failure-output final
  log "doc tests"
  cargo test --workspace --locked --doc
else
  log "cargo test"
  cargo test --workspace --locked
fi

# The benchmark as a smoke test only (a tiny data set, Kura alone, no timing asserted): it must
# keep running from a clean checkout.
log "benchmark smoke run (bench/compare.sh --tiny)"
bench_dir=$(mktemp -d /tmp/kura-bench-ci.XXXXXX)
bench/compare.sh --tiny --debug --tools kura --workdir "$bench_dir/bench"
rm -rf "$bench_dir"

# The README's first command, as a new user types it (dev profile here: CI has built it already;
# the README adds --release). It once broke unnoticed when a second binary joined the workspace.
log "README: cargo run -- demo"
demo_dir=$(mktemp -d /tmp/kura-demo-ci.XXXXXX)
repo_root=$PWD
(cd "$demo_dir" && cargo run --manifest-path "$repo_root/Cargo.toml" --locked -q -- demo --size-mib 8)
rm -rf "$demo_dir"

log "all tests passed"
