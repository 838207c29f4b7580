#!/usr/bin/env bash
# Clinical index at scale (issue 7, acceptance 5). Two measurements, both printed as one line:
#
#  1. in process (kura-engine test `clinical_index_at_scale`): generate N patients' SS-MIX2
#     files in memory (~17 per patient), parse and resolve them, store the index in a fresh
#     repository, then open it again and time summary lookups cold / another shard / warm, a
#     kana search, the ward list, and the whole-index load every lookup paid with layout
#     version 1. Peak RSS is the process's VmHWM. Default N = 100,000.
#  2. end to end (kura e2e test `clinical_scale`): write M patients' files to disk, run
#     `kura backup --clinical ss-mix2` twice (the second reuses every extract), then
#     `kura clinical summary` as a new process and in-process lookups. Peak RSS from GNU time
#     (the largest of the test process and every `kura` it started). Default M = 10,000
#     (~170,000 files; writing and backing up millions of small files takes hours on a loaded
#     2-core machine).
#
#   bench/clinical-scale.sh [N] [M]
#
# Report the machine's load with the figures (BENCHMARKS.md, "Clinical index at scale").
set -euo pipefail
cd "$(dirname "$0")/.."
in_process="${1:-100000}"
end_to_end="${2:-10000}"
profile=(--release)
if [ "${KURA_BENCH_PROFILE:-release}" = test ]; then profile=(); fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
KURA_CLINICAL_SCALE_PATIENTS="$in_process" \
  cargo test "${profile[@]}" -p kura-engine --lib clinical_index_at_scale -- --ignored --nocapture 2>&1 |
  grep -E "clinical index at scale|test result|panicked"
time_cmd=()
if [ -x /usr/bin/time ]; then time_cmd=(/usr/bin/time -v); fi
KURA_CLINICAL_SCALE_PATIENTS="$end_to_end" "${time_cmd[@]}" \
  cargo test "${profile[@]}" -p kura --test e2e clinical_scale:: -- --ignored --nocapture 2>&1 |
  grep -E "clinical scale|Maximum resident|test result|panicked"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
