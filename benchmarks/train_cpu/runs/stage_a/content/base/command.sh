# 2026-12-07T02:21:52Z commit 150f1ebf90d02e553eb34d505441996f100b6ec6
nice -n 10 openrlhf-rlev generate --model benchmarks/train_cpu/stage_a/model --data benchmarks/train_cpu/stage_a/data/content_heldout.jsonl -o benchmarks/train_cpu/runs/stage_a/content/base/heldout_preds.jsonl --max-new-tokens 32 --temperature 1.0 --n-samples 4 --seed 0 --quiet 
# 2026-12-07T02:26:23Z commit 150f1ebf90d02e553eb34d505441996f100b6ec6
openrlhf-rlev eval benchmarks/train_cpu/runs/stage_a/content/base/heldout_preds.jsonl --data benchmarks/train_cpu/stage_a/data/content_heldout.jsonl --tokenizer benchmarks/train_cpu/stage_a/model -o benchmarks/train_cpu/runs/stage_a/content/base/heldout_eval.json --quiet 
# 2026-12-07T02:27:18Z commit 150f1ebf90d02e553eb34d505441996f100b6ec6
nice -n 10 openrlhf-rlev termination --model benchmarks/train_cpu/stage_a/model --predictions benchmarks/train_cpu/runs/stage_a/content/base/heldout_preds.jsonl --data benchmarks/train_cpu/stage_a/data/content_heldout.jsonl -o benchmarks/train_cpu/runs/stage_a/content/base/termination.json --quiet 
