#!/usr/bin/env bash
# The no-change backup, measured well enough to compare builds or flags on a shared machine.
#
#   bench/nochange.sh [--size 512MiB] [--reps 7] [--workdir DIR] VARIANT...
#     VARIANT = LABEL=KURA_BINARY[,FLAG...]   e.g.  base=/tmp/kura-old  new=target/release/kura
#                                                   nodetect=target/release/kura,--no-detect
#
# Every variant gets its own repository holding one initial backup of the same data set
# (kura-gen, deterministic, on tmpfs when /dev/shm exists, so the disk is out of the picture and
# the cache is warm). Then each repetition runs one no-change backup per variant, the order
# rotating per repetition so a slow minute of the other jobs on the machine hits every variant
# alike. Reported: the median wall time and the median user+sys CPU time per variant. Argon2id
# key unlocking is included, as a user sees it. Each backup must exit 0 and report no file read.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
SIZE=512MiB
REPS=7
# shellcheck source=bench/lib/common.sh
. "$BENCH_DIR/lib/common.sh"
WORKDIR=$(default_workdir kura-nochange)
VARIANTS=()

while [ $# -gt 0 ]; do
  case $1 in
    --size) SIZE=${2:?--size needs a value}; shift ;;
    --reps) REPS=${2:?--reps needs a value}; shift ;;
    --workdir) WORKDIR=${2:?--workdir needs a value}; shift ;;
    -h | --help) sed -n '2,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) VARIANTS+=("$1") ;;
  esac
  shift
done
[ "${#VARIANTS[@]}" -ge 1 ] || die "name at least one variant LABEL=KURA_BINARY[,FLAG...] (see --help)"
[ "$REPS" -ge 1 ] 2>/dev/null || die "--reps must be a positive number, not '$REPS'"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
KURA_GEN=$TARGET/release/kura-gen
[ -x "$KURA_GEN" ] || die "$KURA_GEN is missing: run cargo build --release -p kura-testkit"

claim_workdir "$WORKDIR" .kura-nochange
mkdir -p "$WORKDIR/logs"
DATA=$WORKDIR/data
RESULTS=$WORKDIR/results.tsv
printf 'pw-nochange\n' >"$WORKDIR/password"
export KURA_PASSWORD_FILE=$WORKDIR/password
"$KURA_GEN" dataset "$DATA" --size "$SIZE" --seed 1 >"$WORKDIR/dataset.txt"
: >"$RESULTS"

# backup LABEL REP: one no-change backup of the variant; appends "label rep wall cpu" to RESULTS.
backup() {
  local label=$1 rep=$2 spec bin flags out
  spec=${VARIANT_SPEC[$label]}
  IFS=, read -r -a flags <<<"$spec"
  bin=${flags[0]}
  flags=("${flags[@]:1}")
  out=$WORKDIR/logs/$label-$rep
  local t
  t=$( { TIMEFORMAT='%R %U %S'; time KURA_REPOSITORY=$WORKDIR/repo-$label "$bin" backup \
    "${flags[@]}" --source bench --host bench "$DATA" >"$out.out" 2>"$out.err"; } 2>&1 ) ||
    die "backup $label (repetition $rep) failed; see $out.err"
  # A "no-change" backup that read files measures something else (the initial one reads all).
  if [ "$rep" != initial ] && ! grep -q '^read 0 B of' "$out.out"; then
    die "backup $label (repetition $rep) read files in a no-change backup; see $out.out"
  fi
  read -r wall user sys <<<"$t"
  printf '%s\t%s\t%s\t%s\n' "$label" "$rep" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.3f", u + s}')" >>"$RESULTS"
}

declare -A VARIANT_SPEC
LABELS=()
for v in "${VARIANTS[@]}"; do
  label=${v%%=*}
  spec=${v#*=}
  [ "$label" != "$v" ] && [ -n "$label" ] || die "variant '$v' is not LABEL=KURA_BINARY[,FLAG...]"
  [ -x "${spec%%,*}" ] || die "variant $label: ${spec%%,*} is not an executable"
  VARIANT_SPEC[$label]=$spec
  LABELS+=("$label")
  KURA_REPOSITORY=$WORKDIR/repo-$label "${spec%%,*}" init >/dev/null 2>&1 ||
    die "kura init failed for variant $label"
  backup "$label" initial
done
# Settle the file-change state every later run compares with (one untimed no-change backup).
for label in "${LABELS[@]}"; do backup "$label" warmup; done
: >"$RESULTS"

n=${#LABELS[@]}
for rep in $(seq 1 "$REPS"); do
  for i in $(seq 0 $((n - 1))); do
    backup "${LABELS[$(( (i + rep) % n ))]}" "$rep"
  done
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
printf '| variant | median wall (s) | median user+sys (s) | runs |\n|---|---:|---:|---:|\n'
for label in "${LABELS[@]}"; do
  wall=$(awk -v l="$label" '$1 == l {print $3}' "$RESULTS" | median)
  cpu=$(awk -v l="$label" '$1 == l {print $4}' "$RESULTS" | median)
  printf '| %s | %s | %s | %s |\n' "$label" "$wall" "$cpu" "$REPS"
done
