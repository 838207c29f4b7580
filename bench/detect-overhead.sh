#!/usr/bin/env bash
# What ransomware detection costs a backup (issue 6, acceptance 5: within 10%), measured well.
#
#   bench/detect-overhead.sh [--size 256MiB] [--reps 7] [--workdir DIR] [--no-build] [--markdown FILE]
#                            [--kura PATH]   (another kura binary, e.g. a copy from before a change)
#
# `bench/compare.sh` runs each backup once with and once without detection; on this shared
# 2-core machine one pair of runs differs by ±15% with no code difference at all (see
# BENCHMARKS.md), which cannot resolve a 10% target. This script measures only that question:
#   - the same data set (kura-gen, deterministic) for both, on tmpfs when /dev/shm exists, read
#     once before the first run, so every run is warm and the disk is out of the picture;
#   - two repositories, "on" (`kura backup`) and "off" (`kura backup --no-detect`);
#   - per repetition: an INITIAL backup into freshly initialised repositories (every file new:
#     signals computed, no verdict since there is no history), then a RE-READ backup after
#     `touch` of every file, so every file is "changed" and read again with its parent's summary
#     at hand, and a verdict is judged (the worst case for the ratio: the content deduplicates,
#     so nothing is compressed or written and detection's share is the largest);
#   - runs interleaved on, off, off, on, on, off ... (the order alternates per repetition) so a
#     slow minute of load hits both sides alike; medians over the repetitions;
#   - wall time and user+sys CPU time (less sensitive to the other jobs on the machine).
# The release build is used; Argon2id key unlocking (the same in both) is included, as a user
# would see it.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
SIZE=256MiB
REPS=7
BUILD=1
MARKDOWN_OUT=""
KURA_OTHER=""
# shellcheck source=bench/lib/common.sh
. "$BENCH_DIR/lib/common.sh"
WORKDIR=$(default_workdir kura-detect-overhead)

while [ $# -gt 0 ]; do
  case $1 in
    --size) SIZE=${2:?--size needs a value}; shift ;;
    --reps) REPS=${2:?--reps needs a value}; shift ;;
    --workdir) WORKDIR=${2:?--workdir needs a value}; shift ;;
    --no-build) BUILD=0 ;;
    --kura) KURA_OTHER=${2:?--kura needs a path}; shift ;;
    --markdown) MARKDOWN_OUT=${2:?--markdown needs a file}; shift ;;
    -h | --help) sed -n '2,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[ "$REPS" -ge 1 ] 2>/dev/null || die "--reps must be a positive number, not '$REPS'"

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
KURA=$TARGET/release/kura
KURA_GEN=$TARGET/release/kura-gen
# --kura: measure another build (e.g. a copy of the binary from before a change) with the same data.
if [ -n "$KURA_OTHER" ]; then KURA=$KURA_OTHER BUILD=0; fi
if [ "$BUILD" = 1 ]; then
  log "building kura and kura-gen (release; a no-op when up to date)"
  (cd "$ROOT" && cargo build --quiet --release -p kura -p kura-testkit) || die "the release build failed"
fi
if [ ! -x "$KURA" ] || [ ! -x "$KURA_GEN" ]; then
  die "$KURA or $KURA_GEN is missing: run cargo build --release -p kura -p kura-testkit"
fi

# The work directory is emptied first, so only one this script created (marked) or an empty one.
claim_workdir "$WORKDIR" .kura-detect-overhead
DATA=$WORKDIR/data
RESULTS=$WORKDIR/results.tsv
printf 'pw-detect-overhead\n' >"$WORKDIR/password"
export KURA_PASSWORD_FILE=$WORKDIR/password
: >"$RESULTS"

log "generating the $SIZE data set in $DATA"
"$KURA_GEN" dataset "$DATA" --size "$SIZE" --seed 1 >"$WORKDIR/dataset.txt"
FILES=$(find "$DATA" -type f | wc -l)
tar -cf - -C "$DATA" . | cat >/dev/null # warm the page cache (a no-op on tmpfs)

# run SIDE PHASE REP: one timed backup into the SIDE repository; appends a line to RESULTS.
# Any exit code but 0 fails the benchmark: 4 (suspicious) on data that only had its mtime
# touched would be a detection fault, and a failed backup measures nothing.
run() {
  local side=$1 phase=$2 rep=$3 flags=() t rc base=$WORKDIR/$1.$2.$3
  [ "$side" = off ] && flags=(--no-detect)
  export KURA_REPOSITORY=$WORKDIR/repo-$side
  # bash's `time` keyword gives wall, user and sys of the command (no GNU time needed).
  t=$( { TIMEFORMAT='%R %U %S'; time "$KURA" backup "${flags[@]}" --source bench --host bench "$DATA" \
    >"$base.out" 2>"$base.err"; echo "rc=$?" >"$base.rc"; } 2>&1)
  rc=$(sed 's/rc=//' "$base.rc")
  if [ "$rc" != 0 ]; then
    tail -n 20 "$base.err" >&2
    die "kura backup ($side, $phase, repetition $rep) exited $rc; output in $base.out and $base.err"
  fi
  read -r wall user sys <<<"$t"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$phase" "$rep" "$wall" "$user" "$sys" >>"$RESULTS"
  log "$(printf '%-3s %-7s rep %-2s wall %6ss  cpu %6ss' "$side" "$phase" "$rep" "$wall" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')")"
}

fresh_repo() {
  rm -rf "$WORKDIR/repo-$1"
  KURA_REPOSITORY=$WORKDIR/repo-$1 "$KURA" init >/dev/null 2>&1 || die "kura init failed in $WORKDIR/repo-$1"
}

for rep in $(seq 1 "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then order=(on off); else order=(off on); fi
  for side in "${order[@]}"; do fresh_repo "$side"; done
  for side in "${order[@]}"; do run "$side" initial "$rep"; done
  find "$DATA" -type f -exec touch {} +
  for side in "${order[@]}"; do run "$side" reread "$rep"; done
done

samples() { # side phase column(4 wall, 5 cpu = user+sys): sorted ascending
  awk -F'\t' -v s="$1" -v p="$2" -v c="$3" '$1 == s && $2 == p { print (c == 4 ? $4 : $5 + $6) }' "$RESULTS" | sort -g
}
median() {
  samples "$@" | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f\n", m }'
}
# The least CPU time of any repetition: the run least disturbed by other jobs (load only adds).
minimum() { samples "$@" | head -n 1 | awk '{ printf "%.2f\n", $1 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

report() {
  printf '| %s, %s files, %s repetitions | on: wall s | off: wall s | wall ratio | on: CPU s | off: CPU s | CPU ratio | CPU ratio of the minima |\n' "$SIZE" "$FILES" "$REPS"
  printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
  local phase won woff con coff
  for phase in initial reread; do
    won=$(median on $phase 4) woff=$(median off $phase 4) con=$(median on $phase 5) coff=$(median off $phase 5)
    printf '| %s (medians) | %s | %s | %s× | %s | %s | %s× | %s× |\n' "$phase" "$won" "$woff" "$(ratio "$won" "$woff")" \
      "$con" "$coff" "$(ratio "$con" "$coff")" "$(ratio "$(minimum on $phase 5)" "$(minimum off $phase 5)")"
  done
  printf '\nkura %s (%s); load average at the end: %s\n' "$("$KURA" --version | awk '{print $NF}')" \
    "$([ -n "$KURA_OTHER" ] && echo "binary $KURA_OTHER" || echo "commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)")" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
}

report | tee "${MARKDOWN_OUT:-/dev/null}"
log "all samples: $RESULTS"
