import os
import sys
import time

sys.path.insert(0, "benchmarks/train_cpu")
import bench_step as b
import torch
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained(b.model_folder(), dtype=torch.float32)
ids = torch.randint(100, 40000, (8, 96))
torch.set_num_threads(int(sys.argv[1]))
model(ids[:1, :8])
w, c = time.perf_counter(), time.process_time()
model(ids).logits[:, -33:].float().sum().backward()
print(
    sys.argv[1:],
    os.environ.get("OMP_NUM_THREADS"),
    os.environ.get("OMP_WAIT_POLICY"),
    "wall %.2f cpu %.2f load %.1f" % (time.perf_counter() - w, time.process_time() - c, os.getloadavg()[0]),
    flush=True,
)
