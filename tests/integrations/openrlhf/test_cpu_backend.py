"""The CPU backend's parts, one at a time: engine optimizer step, shims, device redirection, version guard, launcher
defaults and refusals (the sampler and rollout engine: test_cpu_sampling.py). The end-to-end runs through
OpenRLHF's loop are in test_train_cpu.py."""

import json
import shutil
import subprocess
import sys

import pytest
import torch

from openrlhf_rlev.integrations.openrlhf import launcher, version_guard
from openrlhf_rlev.integrations.openrlhf.cpu import install
from openrlhf_rlev.integrations.openrlhf.cpu.ds_engine import CPUEngine

# OpenRLHF's importance-sampling correction flag: a level from 0.11 on, a switch before (0.10.x)
_PARSER = version_guard.installed_openrlhf_root() / "cli" / "train_ppo_ray.py"
IS_CORRECTION = (
    ["--algo.advantage.is_correction_level", "token"]
    if "--algo.advantage.is_correction_level" in _PARSER.read_text()
    else ["--algo.advantage.is_correction_enable"]
)


def _grads(model, batches, scale=1.0):
    model.zero_grad()
    for x in batches:
        (model(x).sum() * scale).backward()


def test_cpu_engine_accumulates_like_deepspeed_and_clips_after_reporting_the_norm():
    torch.manual_seed(0)
    net, twin = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    twin.load_state_dict(net.state_dict())
    batches = [torch.randn(2, 4), torch.randn(2, 4)]
    engine = CPUEngine(net, torch.optim.SGD(net.parameters(), lr=0.1), gas=2, max_norm=0.5)
    for x in batches:
        engine.backward(engine(x).sum())
        engine.step()
    # By hand: the mean of the two micro-batch gradients, clipped to norm 0.5, one SGD step.
    _grads(twin, batches, scale=0.5)
    grads = [p.grad.clone() for p in twin.parameters()]
    norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
    assert engine.get_global_grad_norm() == pytest.approx(norm, rel=1e-5) and norm > 0.5
    with torch.no_grad():
        for p, g in zip(twin.parameters(), grads):
            p -= 0.1 * g * (0.5 / (norm + 1e-6))
    for a, b in zip(net.parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert engine.micro_steps == 2 and all(p.grad is None for p in net.parameters())


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # 10-30 s: keeps the fast suite under 2 minutes
def test_shims_let_openrlhf_import_and_refuse_to_run():
    done = _run(
        "import importlib.util\n"
        "from openrlhf_rlev.integrations.openrlhf.cpu import shims\n"
        "print(shims.install())\n"
        "import openrlhf.trainer.ppo_utils.samples_generator as sg\n"
        "import openrlhf.trainer.ray.vllm_engine\n"
        "import openrlhf.models.ring_attn_utils\n"
        "p = sg.SamplingParams(temperature=0.5, max_tokens=3)\n"
        "assert (p.temperature, p.max_tokens, p.top_k) == (0.5, 3, -1)\n"
        "assert importlib.util.find_spec('flash_attn') is not None\n"
        "from transformers.utils import import_utils\n"  # transformers < 5.15 raised KeyError on a shim flash_attn
        "assert import_utils.is_flash_attn_2_available() is False\n"
        "import peft\n"
        "from vllm.inputs import TokensPrompt\n"
        "try:\n    TokensPrompt(prompt_token_ids=[1])\nexcept RuntimeError as e:\n    print('refused:', e)\n"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'vllm'" in done.stdout and "'flash_attn.bert_padding'" in done.stdout
    assert "refused: vllm.inputs.TokensPrompt is an import-only shim" in done.stdout


def test_cuda_device_calls_land_on_the_cpu():
    done = _run(
        "import torch\n"
        "from openrlhf_rlev.integrations.openrlhf.cpu import device\n"
        "try:\n    torch.cuda.synchronize()\nexcept Exception:\n    print('raised before')\n"
        "device.redirect_cuda_to_cpu()\n"
        "torch.cuda.synchronize(); torch.cuda.set_device(0); torch.cuda.empty_cache()\n"
        "d = torch.cuda.current_device()\n"
        "print(torch.zeros(2).to(d).device, torch.zeros(2, device=d).device, torch.device(f'cuda:{d}'))\n"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "raised before" in done.stdout and "cpu cpu cuda:0" in done.stdout


def test_version_guard_accepts_the_tested_openrlhf_and_refuses_another(tmp_path):
    from importlib.metadata import version

    assert version("openrlhf") in install.check_compatible().split(" ", 1)[1].split("/")
    root = tmp_path / "openrlhf"
    shutil.copytree(version_guard.installed_openrlhf_root(), root)
    path = root / "trainer/ray/ppo_actor.py"
    path.write_text(path.read_text().replace("def broadcast_to_vllm(self):", "def broadcast_to_vllm(self, x=0):"))
    with pytest.raises(version_guard.IncompatibleOpenRLHF, match=r"--rlev.cpu\) refuses to run on this OpenRLHF"):
        install.check_compatible(root)


BASE = ["--reward_func", "rlev", "--data.label_key", "label", "--actor.model_name_or_path", "m", "--rlev.dry_run"]
BASE += ["--algo.advantage.estimator", "rloo", "--rollout.n_samples_per_prompt", "2"]


def _dry_run(argv, environ=None):
    lines = []
    assert launcher.run(argv, environ=environ or {}, out=lines.append, log=lambda m: None) == 0
    return json.loads(lines[0])


@pytest.mark.slow  # 10-30 s: keeps the fast suite under 2 minutes
def test_cpu_dry_run_prints_only_json_on_stdout():
    """Importing OpenRLHF's stack prints DeepSpeed's accelerator notice; it must not land in the JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "openrlhf_rlev.cli.train_ppo_ray", *BASE, "--rlev.cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["openrlhf_args"]["vllm"]["num_engines"] == 1


def test_cpu_launch_fills_gpu_defaults_keeps_given_flags_and_reaches_the_workers(tmp_path):
    shown = _dry_run([*BASE, "--rlev.cpu", "--vllm.num_engines", "2", "--rlev.log_jsonl", "logs/x.jsonl"])
    args = shown["openrlhf_args"]
    assert args["vllm"]["num_engines"] == 2  # given: kept
    assert args["actor"]["num_gpus_per_node"] == 1 and args["ds"]["attn_implementation"] == "sdpa"  # defaults
    assert args["ckpt"]["best_metric_key"] == "none"  # an eval must not write a DeepSpeed "best" checkpoint
    env = shown["ray_init"]["runtime_env"]["env_vars"]
    assert env[launcher.CPU_ENV] == "1"
    assert env[launcher.LOG_JSONL_ENV].endswith("/logs/x.jsonl") and env[launcher.LOG_JSONL_ENV].startswith("/")
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"  # no spinning at libgomp's barriers on shared cores
    without = _dry_run(BASE)
    assert launcher.CPU_ENV not in without["ray_init"]["runtime_env"]["env_vars"]
    assert "OMP_WAIT_POLICY" not in without["ray_init"]["runtime_env"]["env_vars"]  # GPU runs untouched
    assert without["openrlhf_args"]["ds"]["attn_implementation"] == "flash_attention_2"  # GPU runs untouched


def test_the_launching_shells_openmp_wait_policy_wins():
    shown = _dry_run([*BASE, "--rlev.cpu"], environ={"OMP_WAIT_POLICY": "ACTIVE"})
    assert shown["ray_init"]["runtime_env"]["env_vars"]["OMP_WAIT_POLICY"] == "ACTIVE"
    empty = _dry_run([*BASE, "--rlev.cpu"], environ={"OMP_WAIT_POLICY": ""})  # empty is libgomp's default, spinning
    assert empty["ray_init"]["runtime_env"]["env_vars"]["OMP_WAIT_POLICY"] == "PASSIVE"


@pytest.mark.parametrize(
    "flags, reason",
    [
        (["--ds.packing_samples"], "packing_samples needs flash-attn"),
        (["--ds.attn_implementation", "flash_attention_2"], "needs CUDA; use sdpa or eager"),
        (["--ds.lora.rank", "8"], "LoRA"),
        (["--algo.advantage.estimator", "gae"], "gae (OpenRLHF's default) needs a critic model"),
        (["--ckpt.save_steps", "5"], "--ckpt.save_steps"),
        (["--ckpt.best_metric_key", "eval_x/h_acc"], "--ckpt.best_metric_key saves DeepSpeed states"),
        (["--train.async_enable", "--train.partial_rollout_enable"], "partial_rollout_enable pauses vLLM mid-request"),
        (["--ds.deepcompile"], "--ds.deepcompile compiles DeepSpeed's engine"),
        (IS_CORRECTION, "importance-sampling correction"),
        (["--train.batch_size", "10", "--train.micro_batch_size", "4"], "DeepSpeed refuses this batch"),
        (["--train.batch_size", "12", "--train.micro_batch_size", "4", "--actor.num_gpus_per_node", "2"], "x 2 actor"),
    ],
)
def test_cpu_launch_refuses_what_cannot_run_on_a_cpu_and_says_why(flags, reason):
    with pytest.raises(launcher.LaunchError, match="--rlev.cpu cannot run this configuration") as e:
        launcher.run([*BASE, "--rlev.cpu", *flags], environ={}, out=lambda m: None, log=lambda m: None)
    assert reason in str(e.value)
    if flags == ["--ds.packing_samples"]:  # OpenRLHF's parser then sets flash_attention_2 itself: not the user's fault
        assert "attn_implementation" not in str(e.value)
