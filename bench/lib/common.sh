# shellcheck shell=bash
# What every bench script shares: messages, and claiming a work directory it may empty.
#
# Sourced by bench/compare.sh (through lib/measure.sh), bench/detect-overhead.sh and
# bench/nochange.sh.

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# A default work directory NAME: on tmpfs when /dev/shm exists (the disk out of the picture, the
# cache warm), else under $TMPDIR.
default_workdir() {
  if [ -d /dev/shm ]; then printf '/dev/shm/%s\n' "$1"; else printf '%s/%s\n' "${TMPDIR:-/tmp}" "$1"; fi
}

# claim_workdir DIR MARKER [KEEP_GLOB]: empty DIR for this run and mark it with the file MARKER.
# A directory that is neither empty nor marked is refused: the scripts delete what is in it.
# Entries matching KEEP_GLOB survive (compare.sh keeps its million-file data set between runs).
claim_workdir() {
  local dir=$1 marker=$2 keep=${3:-}
  if [ -e "$dir" ] && [ ! -e "$dir/$marker" ] && [ -n "$(ls -A "$dir")" ]; then
    die "$dir exists and was not created by this script; name an empty or new directory"
  fi
  mkdir -p "$dir"
  if [ -n "$keep" ]; then
    find "$dir" -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} +
  else
    find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  fi
  touch "$dir/$marker"
}
