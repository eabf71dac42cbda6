"""`--rlev.cpu_dtype bf16`: the CPU backend with a GPU run's numerics (DeepSpeed's bf16 mode, vLLM's bf16 weights).

The fast tests run the backend's own pieces in this process on a tiny Llama: `ds_engine.initialize` with the DeepSpeed
config OpenRLHF's real `get_train_ds_config` builds, and the rollout engine's `Sampler`. Each asserts on the dtype
the computation actually used (a forward pre-hook on the LM head sees its input), not on a setting. The slow tests
run the real launcher end to end (`--rlev.cpu`, OpenRLHF's own loop on a local Ray, as tests/.../test_train_cpu.py,
whose docstring says what is stubbed there and why: vLLM, DeepSpeed's engine, torch.cuda and the NCCL sync need CUDA).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import ray_logs
import tiny_policy  # tests/conftest.py puts tests/ on sys.path
import torch

from openrlhf_rlev.integrations.openrlhf import launcher
from openrlhf_rlev.integrations.openrlhf.cpu import ds_engine, numerics


def tiny_llama(seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(config).to(torch.bfloat16)  # as OpenRLHF loads it with --ds.param_dtype bf16


def deepspeed_utils():
    """OpenRLHF's `deepspeed_utils` module, loaded from its file: the package's __init__ would import the whole
    trainer (flash-attn, which the backend shims only in its own processes)."""
    import importlib.util

    import openrlhf

    path = os.path.join(os.path.dirname(openrlhf.__file__), "utils", "deepspeed", "deepspeed_utils.py")
    spec = importlib.util.spec_from_file_location("openrlhf_deepspeed_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ds_config(lr: float, grad_accum_dtype=None) -> dict:
    """The train config OpenRLHF's DeepspeedStrategy builds (its own function), with its AdamW section."""
    config = deepspeed_utils().get_train_ds_config(
        offload=False, adam_offload=False, max_norm=1.0, grad_accum_dtype=grad_accum_dtype
    )
    config["optimizer"] = {
        "type": "AdamW",
        "params": {"lr": lr, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.01},
    }
    config.update(train_micro_batch_size_per_gpu=2, train_batch_size=4, gradient_accumulation_steps=2)
    return config


def train_two_micro_batches(monkeypatch, lr: float, grad_accum_dtype=None):
    """One optimizer step (two micro-batches of 2) through the CPU engine in bf16 mode; returns what it used."""
    monkeypatch.setenv(numerics.DTYPE_ENV, "bf16")
    model = tiny_llama()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []
    model.lm_head.register_forward_pre_hook(lambda _m, inputs: seen.append(inputs[0].dtype))
    groups = [{"params": [p for p in model.parameters()], "weight_decay": 0.01}]
    engine, optim, _, _ = ds_engine.initialize(
        model=model, model_parameters=groups, config=ds_config(lr, grad_accum_dtype)
    )
    data = torch.randint(0, 64, (4, 12), generator=torch.Generator().manual_seed(1))
    grads = []
    for batch in (data[:2], data[2:]):
        loss = engine(batch, labels=batch).loss
        engine.backward(loss)
        grads.append({p.grad.dtype for p in model.parameters() if p.grad is not None})
        engine.step()
    return {"model": model, "before": before, "engine": engine, "optim": optim, "seen": seen, "grads": grads}


@pytest.mark.slow  # imports DeepSpeed (30-60 s on 2 busy cores)
def test_bf16_trains_bf16_weights_in_bf16_with_fp32_master_weights_and_adam_state(monkeypatch):
    run = train_two_micro_batches(monkeypatch, lr=1e-2)
    model, engine, optim = run["model"], run["engine"], run["optim"]
    assert run["seen"] and set(run["seen"]) == {torch.bfloat16}  # the forward computed in bf16
    assert run["grads"] == [{torch.bfloat16}, {torch.bfloat16}]  # bf16 gradients (accumulated in the weights' dtype)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    masters = [m for _, m in engine.masters]
    assert len(masters) == len(list(model.parameters())) and {m.dtype for m in masters} == {torch.float32}
    assert all(m is p for m, p in zip(masters, (p for g in optim.param_groups for p in g["params"])))
    state = {t.dtype for s in optim.state.values() for t in s.values() if torch.is_tensor(t)}
    assert state == {torch.float32} and len(optim.state) == len(masters)  # AdamW stepped the masters, in fp32
    moved = [name for name, p in model.state_dict().items() if not torch.equal(p, run["before"][name])]
    assert len(moved) == len(run["before"])  # every weight moved from the bf16 weights it started with
    for p, master in engine.masters:  # the model holds its master rounded to bf16
        assert torch.equal(p, master.to(torch.bfloat16))
    assert all(p.grad is None for p in model.parameters()) and all(m.grad is None for m in masters)


@pytest.mark.slow  # imports DeepSpeed (30-60 s on 2 busy cores)
def test_bf16_with_lr_0_leaves_the_weights_bit_for_bit(monkeypatch):
    run = train_two_micro_batches(monkeypatch, lr=0.0)
    assert run["seen"] and set(run["seen"]) == {torch.bfloat16}
    for name, p in run["model"].state_dict().items():
        assert torch.equal(p, run["before"][name]), name


@pytest.mark.slow  # imports DeepSpeed (30-60 s on 2 busy cores)
def test_the_fp32_master_keeps_updates_too_small_for_bf16(monkeypatch):
    """What the master copy is for: a step far below bf16's resolution moves the fp32 master and not (yet) the bf16
    weight; stepping the bf16 weights themselves would lose it."""
    run = train_two_micro_batches(monkeypatch, lr=1e-7)
    masters = run["engine"].masters
    assert any(not torch.equal(m, p.detach().float()) for p, m in masters)
    assert all(torch.equal(p, m.to(torch.bfloat16)) for p, m in masters)


@pytest.mark.slow  # imports DeepSpeed (30-60 s on 2 busy cores)
def test_grad_accum_dtype_fp32_sums_the_micro_batches_in_fp32(monkeypatch):
    """--ds.grad_accum_dtype fp32 (DeepSpeed's fp32 accumulation): the engine adds each micro-batch's bf16 gradient
    into an fp32 sum; the step then differs from bf16 accumulation only by that sum's rounding."""
    summed = train_two_micro_batches(monkeypatch, lr=1e-2, grad_accum_dtype="fp32")
    assert summed["engine"].accum_dtype == torch.float32
    assert summed["grads"][0] == set()  # taken off p.grad into the fp32 sum after each backward
    plain = train_two_micro_batches(monkeypatch, lr=1e-2)
    a = [m.detach() for _, m in summed["engine"].masters]
    b = [m.detach() for _, m in plain["engine"].masters]
    assert max(float((x - y).abs().max()) for x, y in zip(a, b)) < 1e-2
    assert any(not torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.slow  # imports DeepSpeed (30-60 s on 2 busy cores)
def test_fp32_default_is_unchanged(monkeypatch):
    monkeypatch.delenv(numerics.DTYPE_ENV, raising=False)
    model = tiny_llama()
    groups = [{"params": list(model.parameters()), "weight_decay": 0.0}]
    engine, optim, _, _ = ds_engine.initialize(model=model, model_parameters=groups, config=ds_config(1e-2))
    assert {p.dtype for p in model.parameters()} == {torch.float32} and engine.masters == []
    assert optim.param_groups[0]["params"][0] is next(model.parameters())


@pytest.mark.slow  # imports DeepSpeed (30-60 s on 2 busy cores)
def test_a_bf16_eval_model_stays_bf16(monkeypatch):
    """The reference model: DeepSpeed's bf16 eval engine runs it in bf16."""
    monkeypatch.setenv(numerics.DTYPE_ENV, "bf16")
    config = {
        **deepspeed_utils().get_eval_ds_config(offload=False),
        "train_micro_batch_size_per_gpu": 2,
        "train_batch_size": 2,
    }
    engine, optim, _, _ = ds_engine.initialize(model=tiny_llama(), config=config)
    assert optim is None and {p.dtype for p in engine.module.parameters()} == {torch.bfloat16}


@pytest.mark.slow  # imports DeepSpeed (30-60 s on 2 busy cores)
def test_bf16_refuses_a_config_without_deepspeeds_bf16_mode(monkeypatch):
    monkeypatch.setenv(numerics.DTYPE_ENV, "bf16")
    config = {**ds_config(1e-2), "bf16": {"enabled": False}, "fp16": {"enabled": True}}
    with pytest.raises(ValueError, match="bf16 mode"):
        ds_engine.initialize(model=tiny_llama(), model_parameters=[], config=config)


@pytest.mark.slow  # imports OpenRLHF's agent executor and builds a model (30-90 s on 2 busy cores)
def test_the_engine_samples_in_bf16_and_loads_bf16_weights(monkeypatch, tmp_path):
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    from openrlhf_rlev.integrations.openrlhf.cpu.engine import Sampler
    from openrlhf_rlev.integrations.openrlhf.cpu.sampling import sample

    folder = tiny_policy.build(tmp_path / "tiny")
    trained = {k: v.to(torch.bfloat16) + 0.0078125 for k, v in tiny_llama_state(folder).items()}
    for dtype, expected in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        monkeypatch.setenv(numerics.DTYPE_ENV, dtype)
        sampler = Sampler(SingleTurnAgentExecutor(None), str(folder), 0, "bfloat16")
        assert {p.dtype for p in sampler.model.parameters()} == {expected}
        sample(sampler.model, [[1, 2, 3]], [0], max_tokens=3, stop_ids=sampler.stop_ids)
        assert sampler.compute_dtypes == {expected}  # what the LM head computed with while sampling
    sampler.load_weights(trained)  # the trainer's bf16 state dict, loaded as sent
    for name, tensor in sampler.model.state_dict().items():
        assert tensor.dtype == torch.bfloat16 and torch.equal(tensor, trained[name]), name


def tiny_llama_state(folder) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


# --- the flag at launch ---------------------------------------------------------------------------------------------

BASE = ["--reward_func", "rlev", "--data.label_key", "label", "--actor.model_name_or_path", "m", "--rlev.dry_run"]
BASE += ["--algo.advantage.estimator", "rloo", "--rollout.n_samples_per_prompt", "2"]


def test_cpu_dtype_needs_the_cpu_backend():
    with pytest.raises(launcher.LaunchError, match="--rlev.cpu_dtype .* needs --rlev.cpu"):
        launcher.plan([*BASE, "--rlev.cpu_dtype", "bf16"], environ={}, check_reward_func=False)


def test_cpu_dtype_takes_fp32_or_bf16_and_reaches_the_workers():
    with pytest.raises(launcher.LaunchError, match="choose one of fp32, bf16"):
        launcher.plan([*BASE, "--rlev.cpu", "--rlev.cpu_dtype", "fp16"], environ={}, check_reward_func=False)
    plan = launcher.plan([*BASE, "--rlev.cpu", "--rlev.cpu_dtype=bf16"], environ={}, check_reward_func=False)
    assert plan.cpu_dtype == "bf16" and plan.worker_env[numerics.DTYPE_ENV] == "bf16"
    assert "--rlev.cpu_dtype" not in " ".join(plan.openrlhf_argv)  # ours, not OpenRLHF's
    default = launcher.plan([*BASE, "--rlev.cpu"], environ={}, check_reward_func=False)
    assert default.cpu_dtype == "fp32" and numerics.DTYPE_ENV not in default.worker_env


def test_bf16_refuses_deepspeeds_fp16_mode():
    """bf16 mirrors DeepSpeed's bf16 mode; fp16 would need its loss scaling, which the backend does not run."""
    with pytest.raises(launcher.LaunchError, match="--ds.param_dtype fp16"):
        launcher.run(
            [*BASE, "--rlev.cpu", "--rlev.cpu_dtype", "bf16", "--ds.param_dtype", "fp16"],
            environ={},
            out=lambda m: None,
            log=lambda m: None,
        )


# --- end to end: the real launcher, OpenRLHF's own loop -------------------------------------------------------------


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpu_dtype")
    return root, tiny_policy.build(root / "tiny"), tiny_policy.write_dataset(root / "train.jsonl", 8)


def train(setup, name: str, scaling: str = "rlev", extra=()):
    root, model, data = setup
    out = root / name
    argv = [
        sys.executable, "-m", "openrlhf_rlev.cli.train_ppo_ray", "--rlev.cpu", "--rlev.cpu_dtype", "bf16",
        "--reward_func", "rlev", "--rlev.scaling", scaling, "--rlev.log_jsonl", str(out / "log.jsonl"),
        "--actor.model_name_or_path", str(model), "--ckpt.output_dir", str(out / "model"),
        "--data.prompt_dataset", str(data), "--data.input_key", "prompt", "--data.label_key", "label",
        "--data.apply_chat_template", "--rollout.n_samples_per_prompt", "4", "--rollout.batch_size", "4",
        "--train.batch_size", "16", "--train.micro_batch_size", "4", "--rollout.max_new_tokens", "8",
        "--data.max_len", "160", "--actor.adam.lr", "1e-3", "--actor.lr_scheduler", "constant",
        "--actor.lr_warmup_ratio", "0", "--train.seed", "7", "--algo.kl.init_coef", "0",
        "--algo.advantage.estimator", "rloo", *extra,
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env["RAY_DEDUP_LOGS"] = "0"
    # the workers' lines read from their own log files (Ray forwards them to the driver only best-effort)
    env["RAY_TMPDIR"] = str(ray_logs.short_temp_dir("rlev-bf16-"))
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, cwd=root)
    output = done.stdout + done.stderr + ray_logs.all_worker_output(Path(env["RAY_TMPDIR"]))
    assert done.returncode == 0, output[-6000:]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {"output": output, "log": log, "weights": tiny_llama_state(out / "model")}


@pytest.fixture(scope="module")
def runs(setup):
    cache = {}

    def get(name, scaling="rlev", extra=()):
        if name not in cache:
            cache[name] = train(setup, name, scaling, extra)
        return cache[name]

    return get


@pytest.fixture(scope="module")
def loaded(setup):
    """The weights as a bf16 run holds them at the start: the fp32 file rounded to bf16 (--ds.param_dtype bf16)."""
    return {k: v.to(torch.bfloat16) for k, v in tiny_llama_state(setup[1]).items()}


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


@pytest.mark.slow
def test_a_bf16_run_trains_in_bf16_and_samples_in_bf16(runs, loaded):
    run = runs("bf16")
    assert [e["global_step"] for e in run["log"] if e["kind"] == "train"] == [1, 2]
    assert {t.dtype for t in run["weights"].values()} == {torch.bfloat16}  # OpenRLHF saved the bf16 weights
    assert max_diff(loaded, run["weights"]) > 0, (
        "the policy did not move"
    )  # lr = 0 gives exactly 0 (test_bf16_with_lr_0_leaves_the_weights_bit_for_bit)
    # what the trainer's forward computed in, and what its optimizer held (ds_engine's line after its first step)
    assert (
        "bf16 step: forward in ['torch.bfloat16'], weights ['torch.bfloat16'], master weights ['torch.float32'], "
        "AdamW state ['torch.float32']" in run["output"]
    ), run["output"][-4000:]
    # the sync sent bf16, and every generation computed in bf16 with the weights the trainer sent
    synced = dict(re.findall(r"synced to \d+ rollout engine\(s\), version \[(\d+)\] sha256 (\w+) \(torch.bfloat16\)",
                             run["output"]))  # fmt: skip
    used = re.findall(r"RLEV CPU engine: .* weights version (\d+) sha256 (\w+), computed in (\[.*?\])", run["output"])
    assert used and all(dtypes == "['torch.bfloat16']" for _, _, dtypes in used), used
    # step 2 sampled with the bf16 weights step 1 trained and the sync sent (same sha256)
    assert "1" in synced and ("1", synced["1"], "['torch.bfloat16']") in used, (used, synced)


@pytest.mark.slow
def test_the_value_reaches_the_bf16_update(runs):
    rlev, none = runs("bf16"), runs("bf16-none", "none")
    assert rlev["log"][0]["rlev/correct"] == none["log"][0]["rlev/correct"]  # identical rollouts
    assert rlev["log"][0]["rlev/scale"] > 1.0 and none["log"][0]["rlev/scale"] == 1.0
    assert max_diff(rlev["weights"], none["weights"]) > 0
