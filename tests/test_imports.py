"""The reward path runs in every vLLM engine's threads and on CPU-only reward servers: it must not need torch,
ray or openrlhf. Checked in a fresh interpreter where importing any of them fails."""

import json
import subprocess
import sys

BLOCKED = ("torch", "ray", "openrlhf", "transformers", "vllm", "deepspeed")

PROGRAM = f"""
import importlib.abc, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError("blocked for this test: " + name)

sys.meta_path.insert(0, Block())
import openrlhf_rlev.integrations.openrlhf.reward_func as rf
import openrlhf_rlev.integrations.openrlhf.server  # the reward server too: it is what runs on CPU nodes
out = rf.reward_func(["答案是 B"], [""], [{{"answer": "B", "value": 0.05}}])
math = rf.reward_func(["\\\\boxed{{\\\\binom{{5}}{{2}} x}}"], [""], [{{"answer": "10x", "value": 0.2}}])
from openrlhf_rlev.verifiers import pool
calls = pool._pool.calls if pool._pool else 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})
print(json.dumps([out["rewards"], math["rewards"], calls, loaded]))
"""


def test_reward_path_and_server_import_and_score_without_torch_ray_openrlhf():
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    choice_reward, math_reward, pool_calls, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert choice_reward == 1.5 and math_reward == 2.0
    assert pool_calls >= 1  # \binom needs sympy: the worker pool (its own interpreter: math-verify only) ran it
    assert loaded == []


def test_public_paths_survive_the_layout():
    """Users and configs name these; the code behind them moved to integrations/openrlhf/."""
    import importlib.util
    import pkgutil
    from importlib.metadata import entry_points

    import openrlhf_rlev
    from openrlhf_rlev.integrations.openrlhf import ray_setup, reward_func

    assert pkgutil.resolve_name("openrlhf_rlev.reward_func:reward_func") is reward_func.reward_func
    assert pkgutil.resolve_name("openrlhf_rlev.ray_setup.setup") is ray_setup.setup
    (ep,) = [ep for ep in entry_points(group="openrlhf.reward_funcs") if ep.name == "rlev"]
    assert ep.load() is reward_func.reward_func
    # OpenRLHF loads the reward file by path, as module "reward_func": absolute imports only
    spec = importlib.util.spec_from_file_location("reward_func", openrlhf_rlev.REWARD_FUNC_PATH)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    assert loaded.reward_func(["Answer: B"], [""], [{"answer": "B", "value": 0.0}])["rewards"] == 1.0
