#!/usr/bin/env bash
# Clinical index at scale (issue 7, acceptance 5): build the index for N generated SS-MIX2
# patients through `kura backup --clinical ss-mix2`, back up again unchanged, and time summary
# lookups (end to end and in process, cold and warm). Prints the figures and the peak RSS of
# the whole run (the test process and every `kura` it starts; GNU time reports the largest).
#
#   bench/clinical-scale.sh [PATIENTS]        (default 100000; ~21 files per patient)
#
# Needs ~1 GB of disk per 10,000 patients under $TMPDIR. Use --release figures only; say in
# BENCHMARKS.md how loaded the machine was.
set -euo pipefail
cd "$(dirname "$0")/.."
patients="${1:-100000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo test --release -p kura --test e2e --no-run
export KURA_CLINICAL_SCALE_PATIENTS="$patients"
time_cmd=()
if [ -x /usr/bin/time ]; then time_cmd=(/usr/bin/time -v); fi
"${time_cmd[@]}" cargo test --release -p kura --test e2e clinical_scale:: -- --ignored --nocapture 2>&1 |
  grep -E "clinical scale|Maximum resident|Elapsed|test result"
