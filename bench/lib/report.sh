# shellcheck shell=bash
# The report: markdown tables computed from "$RESULTS" (see lib/measure.sh for its columns).
#
# Sourced by bench/compare.sh. Ratios are Kura / peer, so smaller is better for every figure;
# "best peer" is the peer with the smallest figure in that row, and a target is met when
# Kura / best peer is at or below it (for RSS, the target is Kura ≤ restic in every phase).

PHASES=(initial nochange change restore check)

phase_label() {
  case $1 in
    initial) echo "initial backup" ;;
    nochange) echo "backup, no change" ;;
    change) echo "backup after 1% change" ;;
    restore) echo "full restore" ;;
    check) echo "check, read all data" ;;
  esac
}

# Issue 4's targets: Kura / best peer.
phase_target() {
  case $1 in
    initial) echo 0.4 ;;
    nochange) echo 0.25 ;;
    change) echo 0.3 ;;
    restore | check) echo 0.5 ;;
  esac
}

peers() {
  local t
  for t in "${TOOLS[@]}"; do [ "$t" = kura ] || echo "$t"; done
}

mib() { fdiv "$1" 1048576 1; }
kib_to_mib() { fdiv "$1" 1024 0; }

# min over peers of a figure; prints "n/a" when no peer has one.
best_peer() { # phase mode field
  local p v best=n/a
  for p in $(peers); do
    v=$(result "$p" "$1" "$2" "$3")
    [ "$v" = n/a ] && continue
    if [ "$best" = n/a ] || awk -v a="$v" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$v; fi
  done
  echo "$best"
}

# "yes"/"NO"/"n/a": is ratio ≤ target?
met() {
  awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a" || t == "n/a") print "n/a"; else print (r + 0 <= t + 0 ? "yes" : "**NO**") }'
}

# header row: | figure | tool... | Kura/peer... | Kura/best | target | met |
table_header() {
  local line="| $1 |" sep="|---|" p t
  for t in "${TOOLS[@]}"; do line+=" $t |"; sep+="---:|"; done
  for p in $(peers); do line+=" kura/$p |"; sep+="---:|"; done
  line+=" kura/best peer | target | met |"
  sep+="---:|---:|:---:|"
  printf '%s\n%s\n' "$line" "$sep"
}

# table_row LABEL TARGET VALUE_OF_TOOL... : the values are given in TOOLS order.
table_row() {
  local label=$1 target=$2 line kura best=n/a v i=0 ratio
  shift 2
  local -a vals=("$@")
  line="| $label |"
  for v in "${vals[@]}"; do line+=" $v |"; done
  kura=${vals[0]}
  for ((i = 1; i < ${#vals[@]}; i++)); do
    v=${vals[$i]}
    line+=" $(fdiv "$kura" "$v")× |"
    if [ "$v" != n/a ] && { [ "$best" = n/a ] || awk -v a="$v" -v b="$best" 'BEGIN { exit !(a < b) }'; }; then
      best=$v
    fi
  done
  ratio=$(fdiv "$kura" "$best")
  line+=" ${ratio}× | ≤ $target× | $(met "$ratio" "$target") |"
  printf '%s\n' "$line"
}

# Values of one figure for every tool, in TOOLS order.
tool_values() { # phase mode field [conversion]
  local t v
  for t in "${TOOLS[@]}"; do
    v=$(result "$t" "$1" "$2" "$3")
    [ -n "${4:-}" ] && [ "$v" != n/a ] && v=$("$4" "$v")
    printf '%s\n' "$v"
  done
}

times_table() { # mode
  local ph
  table_header "seconds ($1 cache)"
  for ph in "${PHASES[@]}"; do
    mapfile -t v < <(tool_values "$ph" "$1" 4)
    table_row "$(phase_label "$ph")" "$(phase_target "$ph")" "${v[@]}"
  done
}

cpu_seconds() { # tool phase mode [decimals]
  local u s
  u=$(result "$1" "$2" "$3" 6)
  s=$(result "$1" "$2" "$3" 7)
  [ "$u" = n/a ] && { echo n/a; return; }
  awk -v u="$u" -v s="$s" -v d="${4:-1}" 'BEGIN { printf "%.*f\n", d, u + s }'
}

cpu_table() {
  local ph t line
  line="| CPU seconds (user+sys, warm) |"
  for t in "${TOOLS[@]}"; do line+=" $t |"; done
  printf '%s\n|---|%s\n' "$line" "$(printf -- '---:|%.0s' "${TOOLS[@]}")"
  for ph in "${PHASES[@]}"; do
    line="| $(phase_label "$ph") |"
    for t in "${TOOLS[@]}"; do line+=" $(cpu_seconds "$t" "$ph" warm) |"; done
    printf '%s\n' "$line"
  done
}

rss_table() {
  local ph t line k r ratio
  line="| peak RSS, MiB (warm) |"
  for t in "${TOOLS[@]}"; do line+=" $t |"; done
  printf '%s kura/restic | target | met |\n|---|%s---:|---:|:---:|\n' "$line" \
    "$(printf -- '---:|%.0s' "${TOOLS[@]}")"
  for ph in "${PHASES[@]}"; do
    line="| $(phase_label "$ph") |"
    for t in "${TOOLS[@]}"; do line+=" $(kib_to_mib "$(result "$t" "$ph" warm 5)") |"; done
    k=$(result kura "$ph" warm 5)
    r=$(result restic "$ph" warm 5)
    ratio=$(fdiv "$k" "$r")
    printf '%s %s× | ≤ 1.0× | %s |\n' "$line" "$ratio" "$(met "$ratio" 1.0)"
  done
}

size_table() {
  local t
  table_header "repository (warm pass)"
  mapfile -t v < <(tool_values size-g1 warm 4 mib)
  table_row "size after initial backup, MiB" n/a "${v[@]}" | sed 's/| ≤ n\/a× | n\/a |/| | |/'
  mapfile -t v < <(tool_values size-g3 warm 4 mib)
  table_row "size after 3 backups, MiB" 1.0 "${v[@]}"
  v=()
  for t in "${TOOLS[@]}"; do
    v+=("$(fdiv "$(awk -v a="$(result "$t" size-g3 warm 4)" -v b="$(result "$t" size-g2 warm 4)" \
      'BEGIN { print a - b }')" 1048576 1)")
  done
  table_row "growth from the 1% change, MiB" 0.5 "${v[@]}"
}

ceilings_section() {
  local read_w read_c b3 zs zs2 slowest slowest2 kura_s
  read_w=$(result machine read-warm warm 4)
  read_c=$(result machine read-cold warm 4)
  b3=$(result machine blake3 warm 4)
  zs=$(result machine zstd3 warm 4)
  zs2=$(result machine zstd2 warm 4)
  slowest=$(printf '%s\n' "$read_w" "$b3" "$zs" | awk '$1 != "n/a" && $1 > m { m = $1 } END { print (m == "" ? "n/a" : m) }')
  slowest2=$(printf '%s\n' "$read_w" "$b3" "$zs2" | awk '$1 != "n/a" && $1 > m { m = $1 } END { print (m == "" ? "n/a" : m) }')
  kura_s=$(result kura initial warm 4)
  mibs() { fdiv "$(mib "$DATA_BYTES")" "$1" 0; }
  echo "| machine ceiling on the same data | seconds | MiB/s |"
  echo "|---|---:|---:|"
  echo "| read from disk, cold cache (\`tar \| cat\`) | $read_c | $(mibs "$read_c") |"
  echo "| read from page cache (\`tar \| cat\`) | $read_w | $(mibs "$read_w") |"
  echo "| BLAKE3 on all cores (\`b3sum\`) | $b3 | $(mibs "$b3") |"
  echo "| zstd -3 on all cores (\`tar \| zstd -3 -T0\`) | $zs | $(mibs "$zs") |"
  echo "| zstd -2 on all cores (\`tar \| zstd -2 -T0\`), Kura's level for chunks ≥ 128 KiB | $zs2 | $(mibs "$zs2") |"
  local wr
  wr=$(result machine write-1gib warm 4)
  echo "| write 1 GiB and fsync (\`dd conv=fsync\`), not a pipeline stage | $wr | $(fdiv 1024 "$wr" 0) |"
  echo "| **Kura initial backup (warm)** | $kura_s | $(mibs "$kura_s") |"
  echo
  echo "Kura's initial backup runs at **$(fdiv "$(fdiv "$slowest" "$kura_s" 4)" 0.01 0)%** of the slowest" \
    "ceiling of its pipeline ($slowest s; target ≥ 50%)."
  echo "With zstd at level 2, the level Kura uses for large chunks, the slowest ceiling is $slowest2 s" \
    "and Kura runs at **$(fdiv "$(fdiv "$slowest2" "$kura_s" 4)" 0.01 0)%** of it."
}

machine_section() {
  local t
  echo "- machine: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))," \
    "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM," \
    "kernel $(uname -r), work directory on $(df -hT "$WORKDIR" | awk 'NR == 2 { print $1 " (" $2 ", " $3 ")" }')"
  echo "- load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine disturbs the figures)"
  printf -- '- versions:'
  for t in "${TOOLS[@]}"; do printf ' %s %s;' "$t" "$(tool_version "$t")"; done
  echo
  [ ${#SKIPPED[@]} = 0 ] || echo "- not installed, skipped: ${SKIPPED[*]}"
  if [ "$CAN_DROP" = 1 ]; then
    echo "- page cache: dropped before every timed step; warm figures then read the step's input first"
  else
    echo "- page cache: could not be dropped here: **warm only**"
  fi
}

# Issue 6: backup with ransomware detection on (Kura's default) against `--no-detect`, same data.
detection_section() {
  local ph on off con coff wr cr
  [ "$(result kura-nodetect initial warm 4)" = n/a ] && return 0
  echo "| detection overhead (warm) | with detection, s | --no-detect, s | wall ratio | CPU s with | CPU s without | CPU ratio | target | met (wall) | met (CPU) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|"
  for ph in initial nochange change; do
    on=$(result kura "$ph" warm 4)
    off=$(result kura-nodetect "$ph" warm 4)
    con=$(cpu_seconds kura "$ph" warm 2)
    coff=$(cpu_seconds kura-nodetect "$ph" warm 2)
    wr=$(fdiv "$on" "$off")
    cr=$(fdiv "$con" "$coff")
    echo "| $(phase_label "$ph") | $on | $off | ${wr}× | $con | $coff | ${cr}× | ≤ 1.10× | $(met "$wr" 1.10) | $(met "$cr" 1.10) |"
  done
}

report_full() {
  echo "## Kura and its peers on the $SIZE hospital data set"
  echo
  echo "Data: $DATA_FILES files, $(mib "$DATA_BYTES") MiB (kura-gen dataset --seed 1);" \
    "1% change: $MUTATION"
  echo
  machine_section
  echo
  times_table warm
  echo
  if [ -n "$(awk -F'\t' '$3 == "cold"' "$RESULTS")" ]; then
    times_table cold
    echo
  fi
  rss_table
  echo
  size_table
  echo
  cpu_table
  echo
  detection_section
  echo
  ceilings_section
  echo
  echo "Every restore was verified against the source with \`kura-gen digest\` (all matched)."
}

report_million() {
  local t line
  echo "## Backing up $DATA_FILES small files (kura-gen edge-cases --files $MILLION_FILES)"
  echo
  echo "Data: $(mib "$DATA_BYTES") MiB. Warm page cache."
  echo
  machine_section
  echo
  line="| figure |"
  for t in "${TOOLS[@]}"; do line+=" $t |"; done
  printf '%s\n|---|%s\n' "$line" "$(printf -- '---:|%.0s' "${TOOLS[@]}")"
  for ph in initial nochange; do
    line="| $(phase_label "$ph"), seconds |"
    for t in "${TOOLS[@]}"; do line+=" $(result "$t" "$ph" warm 4) |"; done
    echo "$line"
    line="| $(phase_label "$ph"), peak RSS MiB |"
    for t in "${TOOLS[@]}"; do line+=" $(kib_to_mib "$(result "$t" "$ph" warm 5)") |"; done
    echo "$line"
  done
  line="| repository, MiB |"
  for t in "${TOOLS[@]}"; do line+=" $(mib "$(result "$t" size-g2 warm 4)") |"; done
  echo "$line"
}
