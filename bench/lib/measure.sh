# shellcheck shell=bash
# Measuring one step: page-cache control, wall time, peak RSS and CPU time.
#
# Sourced by bench/compare.sh. Every timed step goes through `measure`, which records one line per
# step in "$RESULTS" (tab-separated: tool phase mode seconds peak_rss_kib user_s sys_s) so the
# report is computed from the same numbers the log shows.
#
# Cache protocol (the issue asks for it, and it makes runs comparable): before every timed step
# the dirty pages of the previous step are written out (`sync`) and, where the kernel lets us, the
# page cache is dropped. A "cold" step then starts at once; a "warm" step first reads everything it
# will read (the source tree and the tool's repository and cache) so it runs from the page cache.
# Where dropping is refused (an unprivileged container), only warm figures are produced and the
# report says "warm only".

CAN_DROP=0     # 1 when `echo 3 > /proc/sys/vm/drop_caches` works here
HAVE_TIME=0    # 1 when GNU time (/usr/bin/time -v) is installed

# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Seconds since the epoch with nanoseconds, for steps timed without GNU time.
now() { date +%s.%N; }

# a / b with `digits` decimals, or "n/a" when either is missing or b is zero.
fdiv() {
  awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
    if (a == "" || b == "" || a == "n/a" || b == "n/a" || b + 0 == 0) { print "n/a"; exit }
    printf "%.*f\n", d, a / b }'
}

# Write dirty pages out and drop the page cache; returns 1 when dropping is not allowed.
drop_caches() {
  sync
  if [ "$(id -u)" = 0 ]; then
    { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null
  elif command -v sudo >/dev/null; then
    sudo -n sh -c 'echo 3 > /proc/sys/vm/drop_caches' 2>/dev/null
  else
    return 1
  fi
}

detect_capabilities() {
  if [ "${NO_DROP:-0}" = 0 ] && drop_caches; then CAN_DROP=1; else CAN_DROP=0; fi
  if [ -x /usr/bin/time ] && /usr/bin/time -v true 2>/dev/null; then HAVE_TIME=1; fi
}

# Read every file under the given paths into the page cache (metadata included, as tar stats
# every entry). Paths that do not exist are skipped.
preread() {
  local p
  for p in "$@"; do
    [ -e "$p" ] || continue
    tar -cf - -C "$(dirname "$p")" "$(basename "$p")" 2>/dev/null | cat >/dev/null
  done
}

# Bring the cache into the state `mode` asks for before a timed step.
#   prepare_cache cold|warm PATH...   (PATHs: what the step will read)
prepare_cache() {
  local mode=$1
  shift
  if [ "$CAN_DROP" = 1 ]; then drop_caches || true; else sync; fi
  if [ "$mode" = warm ]; then preread "$@"; fi
}

# Field from a `/usr/bin/time -v` report.
time_field() {
  awk -F': ' -v k="$2" 'index($0, k) { v = $NF } END { print v }' "$1"
}

# "h:mm:ss" or "m:ss.ss" → seconds.
clock_to_seconds() {
  awk -v t="$1" 'BEGIN { n = split(t, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f\n", s }'
}

# measure TOOL PHASE MODE CMD...
# Runs CMD with its output in "$LOGDIR/TOOL.PHASE.MODE.{out,err}", records the figures, and fails
# the whole benchmark (with the end of the tool's error output) if CMD exits non-zero: a benchmark
# of a tool that reported an error measures nothing.
measure() {
  local tool=$1 phase=$2 mode=$3
  shift 3
  local base="$LOGDIR/$tool.$phase.$mode" rc=0 secs rss=n/a user=n/a sys=n/a t0
  t0=$(now)
  if [ "$HAVE_TIME" = 1 ]; then
    /usr/bin/time -v -o "$base.time" "$@" >"$base.out" 2>"$base.err" || rc=$?
  else
    "$@" >"$base.out" 2>"$base.err" || rc=$?
  fi
  secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }')
  if [ "$rc" != 0 ]; then
    tail -n 20 "$base.err" >&2
    die "$tool $phase ($mode) failed with exit code $rc: $* (full output in $base.out and $base.err)"
  fi
  if [ "$HAVE_TIME" = 1 ]; then
    # GNU time's own clock excludes our fork/exec bookkeeping; prefer it.
    secs=$(clock_to_seconds "$(time_field "$base.time" 'Elapsed (wall clock)')")
    rss=$(time_field "$base.time" 'Maximum resident set size')
    user=$(time_field "$base.time" 'User time')
    sys=$(time_field "$base.time" 'System time')
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$phase" "$mode" "$secs" "$rss" "$user" "$sys" >>"$RESULTS"
  log "$(printf '%-7s %-9s %-4s %8ss  peak RSS %s KiB' "$tool" "$phase" "$mode" "$secs" "$rss")"
}

# wall_seconds CMD...: run a shell pipeline (one string) and print its wall time in seconds.
wall_seconds() {
  local t0
  t0=$(now)
  bash -o pipefail -c "$1" >/dev/null 2>&1 || return 1
  awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }'
}

# result TOOL PHASE MODE FIELD (4 seconds, 5 RSS KiB, 6 user, 7 sys): the recorded figure or "n/a".
result() {
  awk -F'\t' -v t="$1" -v p="$2" -v m="$3" -v f="$4" \
    '$1 == t && $2 == p && $3 == m { v = $f } END { print (v == "" ? "n/a" : v) }' "$RESULTS"
}

# Apparent size in bytes of a directory (what the repository occupies, without the tool's cache).
dir_bytes() { du -sb "$1" | cut -f1; }
