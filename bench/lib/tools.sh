# shellcheck shell=bash disable=SC2034  # ALL_TOOLS and CMD are read by compare.sh
# One adapter per backup tool: the exact commands the benchmark runs, side by side.
#
# Sourced by bench/compare.sh. `tool_cmd TOOL ACTION [ARG]` fills the array CMD with the command
# line for ACTION (init, backup LABEL, restore TARGET LABEL, check); `tool_env TOOL DIR` exports the
# repository, password file and cache location for a tool whose files live under DIR.
#
# Fairness rules (issue 4): every repository is encrypted (restic and rustic always are; borg uses
# `repokey-blake2`; Kura always is); compression is zstd level 3 or the tool's automatic choice
# (`restic --compression auto`, `borg --compression zstd,3`, `rustic init --set-compression 3`, Kura's
# level 3 with incompressible data stored raw); passwords come from one file, never from an
# argument; each tool keeps its cache beside its repository so no run profits from an earlier one;
# each tool uses its default thread count (borg 1.2 is single-threaded by design).
#
# Every tool backs up the same absolute path, so every tool restores it to TARGET/<that path>.

ALL_TOOLS=(kura restic rustic borg)

# The command that runs TOOL, or nothing when it is not installed.
tool_bin() {
  case $1 in
    kura | kura-nodetect) echo "$KURA" ;;
    rustic) command -v rustic || { [ -x "$HOME/.cargo/bin/rustic" ] && echo "$HOME/.cargo/bin/rustic"; } ;;
    *) command -v "$1" ;;
  esac
}

tool_available() { [ -n "$(tool_bin "$1")" ] && [ -x "$(tool_bin "$1")" ]; }

tool_version() {
  local bin
  bin=$(tool_bin "$1")
  case $1 in
    restic) "$bin" version | awk '{print $2}' ;;
    kura)
      printf '%s (commit %s)\n' "$("$bin" --version | awk '{print $NF}')" \
        "${KURA_BENCH_COMMIT:-$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)}"
      ;;
    *) "$bin" --version 2>&1 | head -n 1 | awk '{print $NF}' ;;
  esac
}

# How to install a missing peer (the benchmark itself installs nothing).
tool_install_hint() {
  case $1 in
    restic) echo "apt-get install restic" ;;
    borg) echo "apt-get install borgbackup" ;;
    rustic) echo "cargo install rustic-rs --locked (optional)" ;;
    kura) echo "cargo build --release -p kura -p kura-testkit" ;;
  esac
}

# tool_env TOOL DIR: point TOOL at DIR/repo with its cache in DIR/cache.
tool_env() {
  local dir=$2
  mkdir -p "$dir/cache"
  case $1 in
    kura | kura-nodetect)
      export KURA_REPOSITORY="$dir/repo" KURA_PASSWORD_FILE="$PASSWORD_FILE"
      ;;
    restic)
      export RESTIC_REPOSITORY="$dir/repo" RESTIC_PASSWORD_FILE="$PASSWORD_FILE" \
        RESTIC_CACHE_DIR="$dir/cache"
      ;;
    rustic)
      export RUSTIC_REPOSITORY="$dir/repo" RUSTIC_PASSWORD_FILE="$PASSWORD_FILE" \
        RUSTIC_CACHE_DIR="$dir/cache" RUSTIC_NO_PROGRESS=true
      ;;
    borg)
      # BORG_BASE_DIR holds borg's cache, config and security state: a fresh one per repository.
      export BORG_REPO="$dir/repo" BORG_PASSCOMMAND="cat $PASSWORD_FILE" BORG_BASE_DIR="$dir/cache"
      ;;
  esac
}

# tool_cmd TOOL ACTION [ARG...] → CMD array.
tool_cmd() {
  local tool=$1 action=$2 bin
  bin=$(tool_bin "$tool")
  case "$tool:$action" in
    kura:init) CMD=("$bin" init) ;;
    kura:backup) CMD=("$bin" backup --source bench --host bench "$DATA") ;;
    kura:restore) CMD=("$bin" restore latest --target "$3") ;;
    kura:check) CMD=("$bin" check --read-data) ;;
    # Kura with ransomware detection off: only to measure what detection costs (issue 6).
    kura-nodetect:init) CMD=("$bin" init) ;;
    kura-nodetect:backup) CMD=("$bin" backup --no-detect --source bench --host bench "$DATA") ;;

    restic:init) CMD=("$bin" init --repository-version 2) ;;
    restic:backup) CMD=("$bin" backup --compression auto --host bench "$DATA") ;;
    restic:restore) CMD=("$bin" restore latest --target "$3") ;;
    restic:check) CMD=("$bin" check --read-data) ;;

    rustic:init) CMD=("$bin" init --set-compression 3) ;;
    rustic:backup) CMD=("$bin" backup --host bench "$DATA") ;;
    rustic:restore) CMD=("$bin" restore latest "$3") ;;
    rustic:check) CMD=("$bin" check --read-data) ;;

    borg:init) CMD=("$bin" init -e repokey-blake2) ;;
    borg:backup) CMD=("$bin" create --compression "zstd,3" "::$3" "$DATA") ;;
    # borg extracts into the current directory.
    borg:restore) CMD=(env -C "$3" "$bin" extract "::$4") ;;
    borg:check) CMD=("$bin" check --verify-data) ;;

    *) die "internal: no command for $tool $action" ;;
  esac
}
