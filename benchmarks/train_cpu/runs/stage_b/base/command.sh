# 2026-12-07T11:13:56Z commit 6b919f4b726f86c0e24df13f147a27c10045e79b
nice -n 10 openrlhf-rlev generate --model smollm2 --data benchmarks/train_cpu/stage_b/data/heldout.jsonl -o benchmarks/train_cpu/runs/stage_b/base/heldout_preds.jsonl --max-new-tokens 48 --temperature 0 --n-samples 1 --seed 0 --quiet 
# 2026-12-07T11:18:29Z commit 456602495e3af75b5917fe1d4a356cee93025210
openrlhf-rlev eval benchmarks/train_cpu/runs/stage_b/base/heldout_preds.jsonl --data benchmarks/train_cpu/stage_b/data/heldout.jsonl --tokenizer smollm2 -o benchmarks/train_cpu/runs/stage_b/base/heldout_eval.json --quiet 
# 2026-12-07T11:18:40Z commit 456602495e3af75b5917fe1d4a356cee93025210
nice -n 10 openrlhf-rlev termination --model smollm2 --predictions benchmarks/train_cpu/runs/stage_b/base/heldout_preds.jsonl --data benchmarks/train_cpu/stage_b/data/heldout.jsonl -o benchmarks/train_cpu/runs/stage_b/base/termination.json --quiet 
