#!/usr/bin/env bash
# Stage B pilot: base SmolLM2-135M-Instruct's sampled accuracy per candidate skill (outcome in PREREG.md).
#   bash benchmarks/train_cpu/stage_b/pilot.sh [TEMPERATURE] [SKILLS]
# One generate call over pilot.jsonl (skills interleaved, so a pilot stopped early covers every skill evenly);
# resumable (generate appends). Then pilot_summary.py prints accuracy per skill with the plugin's evaluate.
set -euo pipefail
cd "$(dirname "$0")/../../.."
T=${1:-1.0}
SKILLS=${2:-"add1 next mul add21 sub"}
P=benchmarks/train_cpu/stage_b/pilot
[[ -f $P/pilot.jsonl ]] || python benchmarks/train_cpu/stage_b/make_data.py --pilot "${SKILLS// /,}" --out $P
nice -n 5 openrlhf-rlev generate --model smollm2 --data "$P/pilot.jsonl" -o "$P/t$T.preds.jsonl" \
  --temperature "$T" --n-samples 4 --max-new-tokens 48 --seed 0 --quiet
python benchmarks/train_cpu/stage_b/pilot_summary.py "$P/t$T.preds.jsonl" "$P/pilot.jsonl" | tee "$P/t$T.summary.md"
