# 2026-12-07T08:52:33Z commit e1af4873340d31bc8aa071d267780df3ca04b942
nice -n 10 openrlhf-rlev generate --model benchmarks/train_cpu/stage_a/model --data benchmarks/train_cpu/stage_a/data/shown_heldout.jsonl -o benchmarks/train_cpu/runs/stage_a/shown/base/heldout_preds.jsonl --max-new-tokens 32 --temperature 1.0 --n-samples 4 --seed 0 --quiet 
# 2026-12-07T08:53:47Z commit be5a1ba2ee1601603cf2764336db3e332273e28b
openrlhf-rlev eval benchmarks/train_cpu/runs/stage_a/shown/base/heldout_preds.jsonl --data benchmarks/train_cpu/stage_a/data/shown_heldout.jsonl --tokenizer benchmarks/train_cpu/stage_a/model -o benchmarks/train_cpu/runs/stage_a/shown/base/heldout_eval.json --quiet 
# 2026-12-07T08:53:54Z commit be5a1ba2ee1601603cf2764336db3e332273e28b
nice -n 10 openrlhf-rlev termination --model benchmarks/train_cpu/stage_a/model --predictions benchmarks/train_cpu/runs/stage_a/shown/base/heldout_preds.jsonl --data benchmarks/train_cpu/stage_a/data/shown_heldout.jsonl -o benchmarks/train_cpu/runs/stage_a/shown/base/termination.json --quiet 
