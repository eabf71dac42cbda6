"""Evidence for PR.md: the upstream flag through OpenRLHF's real PPO loop on CPU, against the plugin's wrapper.

Four runs of `python -m openrlhf_rlev.cli.train_ppo_ray --rlev.cpu` (OpenRLHF's own train(), PPOTrainer,
SamplesGenerator, RemoteExperienceMaker, PolicyLoss; see tests/integrations/openrlhf/test_train_cpu.py for what the
CPU backend stubs), GRPO (group_norm), same seed, tiny policy and data as the CPU training tests, 2 steps:

  wrapper   installed OpenRLHF 0.11.2, value-preserving GRPO by the plugin's wrapper;
  upstream  a copy of it patched with patches/advantage-weight/openrlhf-0.11.2 (PYTHONPATH): the launcher passes
            --algo.advantage.weight_key rlev/scale and installs no wrapper;
  stock     the patched copy, --rlev.grpo stock: no weight, OpenRLHF's group_norm divides s(x) out;
  none      the patched copy, --rlev.scaling none: s(x) = 1, the accuracy-only baseline.

It writes results.json (claims and measurements) and each run's log.jsonl and output tail next to this file.
Usage (from the repository root, in the project's venv): python patches/advantage-weight/evidence/cpu_run.py
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "tests"))

import tiny_policy  # noqa: E402

from openrlhf_rlev.integrations.openrlhf.version_guard import installed_openrlhf_root, openrlhf_version  # noqa: E402

WRAPPER_ON = "value-preserving GRPO active"
UPSTREAM_ON = "this OpenRLHF weights advantages itself"


def patched_copy(root: Path) -> Path:
    """openrlhf/ of the installed wheel, copied and patched with the 0.11.2 variant (no fuzz)."""
    (patch,) = (REPO / "patches/advantage-weight/openrlhf-0.11.2").glob("*.patch")
    shutil.copytree(installed_openrlhf_root(), root / "openrlhf", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["git", "apply", "--include=openrlhf/*", str(patch)], cwd=root, check=True)
    return root


def train(work: Path, name: str, pythonpath: Path | None, extra: list[str], model: Path, data: Path) -> dict:
    out = work / name
    argv = [
        sys.executable, "-m", "openrlhf_rlev.cli.train_ppo_ray", "--rlev.cpu", "--reward_func", "rlev",
        "--rlev.log_jsonl", str(out / "log.jsonl"),
        "--actor.model_name_or_path", str(model), "--ckpt.output_dir", str(out / "model"),
        "--data.prompt_dataset", str(data), "--data.input_key", "prompt", "--data.label_key", "label",
        "--data.apply_chat_template", "--rollout.n_samples_per_prompt", "4", "--rollout.batch_size", "4",
        "--train.batch_size", "16", "--train.micro_batch_size", "4", "--rollout.max_new_tokens", "8",
        "--data.max_len", "160", "--actor.adam.lr", "1e-4", "--actor.lr_scheduler", "constant",
        "--actor.lr_warmup_ratio", "0", "--actor.adam.eps", "1e-15", "--actor.max_norm", "0", "--train.seed", "7",
        "--algo.kl.init_coef", "0", "--algo.advantage.estimator", "group_norm", *extra,
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1200, cwd=work)
    output = done.stdout + done.stderr
    (HERE / f"{name}.out.txt").write_text(output[-6000:])
    assert done.returncode == 0, output[-6000:]
    shutil.copy(out / "log.jsonl", HERE / f"{name}.log.jsonl")
    from safetensors.torch import load_file

    return {"output": output, "weights": load_file(str(out / "model" / "model.safetensors")), "argv": argv[2:]}


def max_diff(a: dict, b: dict) -> float:
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def main() -> None:
    assert openrlhf_version() == "0.11.2", "the 0.11.2 variant of the patch needs the 0.11.2 wheel"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = tiny_policy.build(work / "tiny")
        data = tiny_policy.write_dataset(work / "train.jsonl", 8)
        upstream_root = patched_copy(work / "patched")
        runs = {
            "wrapper": train(work, "wrapper", None, [], model, data),
            "upstream": train(work, "upstream", upstream_root, [], model, data),
            "stock": train(work, "stock", upstream_root, ["--rlev.grpo", "stock"], model, data),
            "none": train(work, "none", upstream_root, ["--rlev.scaling", "none"], model, data),
        }
        from safetensors.torch import load_file

        initial = load_file(str(model / "model.safetensors"))
    moved = max_diff(initial, runs["none"]["weights"])
    results = {
        "openrlhf": openrlhf_version(),
        "wrapper_active": {name: WRAPPER_ON in run["output"] for name, run in runs.items()},
        "upstream_flag_passed": {name: UPSTREAM_ON in run["output"] for name, run in runs.items()},
        "max_abs_diff": {
            "upstream_vs_wrapper": max_diff(runs["upstream"]["weights"], runs["wrapper"]["weights"]),
            "upstream_vs_none": max_diff(runs["upstream"]["weights"], runs["none"]["weights"]),
            "stock_vs_none": max_diff(runs["stock"]["weights"], runs["none"]["weights"]),
            "none_vs_initial": moved,
        },
        "argv": {name: run["argv"] for name, run in runs.items()},
    }
    claims = {
        "the upstream run used the flag and no wrapper": results["upstream_flag_passed"]["upstream"]
        and not results["wrapper_active"]["upstream"],
        "the wrapper run used the wrapper": results["wrapper_active"]["wrapper"],
        "upstream and wrapper train bit-identical weights": results["max_abs_diff"]["upstream_vs_wrapper"] == 0.0,
        "the weight reaches the update": results["max_abs_diff"]["upstream_vs_none"] > 1e-5,
        "without the weight group_norm cancels s(x)": results["max_abs_diff"]["stock_vs_none"] < 1e-3 * moved,
    }
    results["claims"] = claims
    (HERE / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps({"claims": claims, "max_abs_diff": results["max_abs_diff"]}, indent=2))
    assert all(claims.values()), claims


if __name__ == "__main__":
    main()
