"""A real two-node Ray cluster on loopback: the plugin installed from its built wheel, the job sent with `ray job
submit ... -- openrlhf-rlev train --rlev.cpu ...`, the policy on one node and the rollout engine on the other.

Everything a GPU cluster does is real here except the CUDA parts the CPU backend replaces (vLLM, DeepSpeed's
optimizer, NCCL; see openrlhf_rlev/integrations/openrlhf/cpu): two `ray start` processes (head and worker, each
with its own temp dir, ports and resources: one 'GPU' slot and a custom resource per node, so that OpenRLHF's
placement puts the policy and the engine on different nodes), the plugin built with `pip wheel` and installed
into its own venv (not editable; the checkout is not on any worker's path), `ray job submit` with the job's own
runtime env (a working_dir carrying the job's own setup hook, and an env var), OpenRLHF's real train().

Evidence comes from the job's own setup hook (tests/.../two_node_job/rlev_job_hook.py), which Ray runs in every
worker process of the job on both nodes: it records the node id, the process title, where openrlhf_rlev was
imported from, what the plugin's setup hook did there (settings, GRPO, step log) and whether the GRPO wrapper
and the step log actually patched OpenRLHF in that process. The test asserts on those records, the step log and the PPO trainer actor's own log files (tests/ray_logs.py; Ray
forwards worker output to the job's log only asynchronously and best-effort).

Slow (a few minutes on 2 cores); `docs/cluster.md` records a run of the same commands.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest
import ray_logs
import tiny_policy  # tests/conftest.py puts tests/ on sys.path

pytestmark = pytest.mark.slow
pytest.importorskip("openrlhf")
ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[3]
JOB_DIR = Path(__file__).with_name("two_node_job")
ALPHA = "7"


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def run(argv, **kwargs):
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{argv}\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return done


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """The plugin's wheel, installed into a venv that sees this venv's packages (torch, ray, OpenRLHF) but not the
    editable checkout: a path line in a .pth file adds the site-packages without running its .pth files, and the
    editable install is one of those."""
    root = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", root / "dist", REPO])
    (wheel,) = (root / "dist").glob("openrlhf_rlev-*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "zz_base_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # pip --python: the console script `openrlhf-rlev` lands in the venv's bin, with the venv's python
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel])
    assert (venv / "bin" / "openrlhf-rlev").read_text().startswith(f"#!{python}")
    found = run([python, "-c", "import openrlhf_rlev; print(openrlhf_rlev.__file__)"], cwd=root).stdout.strip()
    assert found.startswith(str(site)), found  # the wheel's copy, not the checkout
    return venv, site, wheel


@pytest.fixture(scope="module")
def cluster(wheel_venv, tmp_path_factory):
    venv, _, _ = wheel_venv
    python = venv / "bin" / "python"
    short = Path(tempfile.mkdtemp(prefix="r2n", dir="/tmp"))  # Ray's socket paths must stay short
    gcs, dashboard, agent_a, agent_b, client_a, client_b = free_ports(6)
    # this test's own venv (the editable checkout) must not be on the PATH the job's entrypoint is resolved from
    path = [
        p for p in os.environ["PATH"].split(os.pathsep) if Path(p).resolve() != Path(sys.executable).parent.resolve()
    ]
    env = {**os.environ, "PATH": os.pathsep.join([str(venv / "bin"), *path]), "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("VIRTUAL_ENV", None)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env["RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT"] = "300"  # Ray's 30 s is too short on 2 busy cores
    env.pop("RAY_ADDRESS", None)
    ray_cli = [python, "-m", "ray.scripts.scripts"]
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "3", "--num-gpus", "1", "--disable-usage-stats"]
    head = [*ray_cli, "start", "--head", "--port", gcs, "--dashboard-host", "127.0.0.1", "--dashboard-port", dashboard]
    head += [*common, "--resources", '{"node_a": 1}', "--temp-dir", short / "a", "--include-dashboard", "true"]
    head += ["--dashboard-agent-listen-port", agent_a, "--ray-client-server-port", client_a]
    worker = [*ray_cli, "start", "--address", f"127.0.0.1:{gcs}", *common, "--resources", '{"node_b": 1}']
    worker += ["--temp-dir", short / "b", "--dashboard-agent-listen-port", agent_b]
    try:
        # From a neutral folder: Ray puts the starting directory on its workers' path, and the checkout must not be
        run(head, env=env, timeout=300, cwd=short)
        run(worker, env=env, timeout=300, cwd=short)
        yield {"env": env, "python": python, "address": f"http://127.0.0.1:{dashboard}", "temp": short}
    finally:
        stop_own(short)
        shutil.rmtree(short, ignore_errors=True)


def own_pids(marker: Path) -> list[int]:
    """Processes of this cluster only: every Ray process here names its node's temp dir on its command line; the
    job's driver is a child of one of them."""
    import psutil

    found = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.info["pid"] != os.getpid() and str(marker) in " ".join(proc.info["cmdline"] or []):
            found.add(proc.info["pid"])
            try:
                found.update(child.pid for child in proc.children(recursive=True))
            except psutil.Error:
                pass
    return sorted(found)


def stop_own(marker: Path) -> None:
    """Not `ray stop`, which stops every Ray cluster of this user on the machine (other runs' too)."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in own_pids(marker):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + 20
        while own_pids(marker) and time.time() < deadline:
            time.sleep(0.5)


@pytest.fixture(scope="module")
def job(cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    model = tiny_policy.build(root / "tiny")
    data = tiny_policy.write_dataset(root / "train.jsonl", 2)
    evidence = root / "evidence"
    evidence.mkdir()
    runtime_env = {
        "working_dir": str(JOB_DIR),
        "worker_process_setup_hook": "rlev_job_hook.setup",
        "env_vars": {"RLEV_TEST_EVIDENCE": str(evidence), "RLEV_TEST_JOB_ENV": "kept"},
    }
    train = [
        "openrlhf-rlev", "train", "--rlev.cpu", "--reward_func", "rlev", "--rlev.alpha", ALPHA,
        "--rlev.log_jsonl", str(root / "log.jsonl"),
        "--actor.model_name_or_path", str(model), "--ckpt.output_dir", str(root / "model"),
        "--data.prompt_dataset", str(data), "--data.input_key", "prompt", "--data.label_key", "label",
        "--data.apply_chat_template", "--rollout.n_samples_per_prompt", "2", "--rollout.batch_size", "2",
        "--train.batch_size", "4", "--train.micro_batch_size", "2", "--rollout.max_new_tokens", "4",
        "--data.max_len", "160", "--actor.lr_scheduler", "constant", "--actor.lr_warmup_ratio", "0",
        "--algo.kl.init_coef", "0", "--algo.advantage.estimator", "group_norm", "--train.seed", "3",
    ]  # fmt: skip
    submit = [cluster["python"], "-m", "ray.scripts.scripts", "job", "submit", "--address", cluster["address"]]
    submit += ["--runtime-env-json", json.dumps(runtime_env), "--", *train]
    started = time.time()
    done = subprocess.run(
        [str(a) for a in submit], capture_output=True, text=True, env=cluster["env"], timeout=1500, cwd=cluster["temp"]
    )
    output = done.stdout + done.stderr
    (root / "job_output.txt").write_text(output)
    assert done.returncode == 0, output[-8000:]
    time.sleep(2)  # the evidence threads write once a second
    records = [json.loads(p.read_text()) for p in evidence.glob("*.json")]
    errors = {p.name: p.read_text() for p in evidence.glob("*.error")}
    log = [json.loads(line) for line in (root / "log.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    return {
        "output": output,
        "records": records,
        "errors": errors,
        "log": log,
        "seconds": time.time() - started,
        "ray_temp": cluster["temp"],  # both nodes' Ray temp dirs, with every worker's log files
        "values": [row["label"]["value"] for row in rows],
    }


def by_title(records, name):
    return [r for r in records if name in r["title"]]


def test_policy_and_engine_run_on_different_nodes(job):
    records = job["records"]
    assert not job["errors"], job["errors"]
    # OpenRLHF's PolicyModelActor; the CPU backend's engine in place of vLLM's LLMRayActor (same placement)
    policy, engine = by_title(records, "PolicyModelActor"), by_title(records, "CPURolloutEngine")
    assert policy and engine, [r["title"] for r in records]
    assert {r["node_id"] for r in policy}.isdisjoint({r["node_id"] for r in engine})
    assert len({r["node_id"] for r in records}) == 2


def test_the_wheel_not_the_checkout_runs_in_every_worker(job, wheel_venv):
    _, site, _ = wheel_venv
    assert all(r["plugin_file"].startswith(str(site)) for r in job["records"]), [
        r["plugin_file"] for r in job["records"]
    ]
    # the driver (the job's entrypoint) resolved the reward file inside the wheel's install, a path every node has
    assert f"remote_url=['{site}/openrlhf_rlev/integrations/openrlhf/reward_func.py']" in job["output"]
    assert str(REPO / "openrlhf_rlev") not in job["output"]


def test_settings_and_hooks_are_active_on_both_nodes(job):
    workers = [r for r in job["records"] if r["plugin_hook"]["ran"]]
    nodes = {r["node_id"] for r in workers}
    assert len(nodes) == 2, workers
    for r in workers:
        hook = r["plugin_hook"]
        assert hook["node_id"] == r["node_id"]
        assert hook["settings"]["alpha"] == float(ALPHA) and hook["settings"]["grpo"] == "value"
        assert hook["grpo"] in ("deferred", "now") and hook["cpu"] != "off"
        # the job's own hook ran too, first (documented order), and the job's env var and working_dir arrived
        assert hook["chained"] == ["rlev_job_hook.setup"] and r["order"] == ["job"] and r["job_env"] == "kept"


def test_value_keeping_grpo_and_the_step_log_patched_the_trainer(job):
    """In the one process that runs OpenRLHF's PPOTrainer (its experience maker computes the advantages): the GRPO
    wrapper and the step log are installed, both ran (their lines in that actor's own log files), and the step it
    logged carries s(x) with the job's alpha, so a run where the value never reached the trainer fails here."""
    titles = [r["title"] for r in job["records"]]
    # Ray titles an actor's process ray::<class>[.<method>]; PPOTrainerAsync would be the async trainer
    trainers = [r for r in job["records"] if re.match(r"ray::PPOTrainer(\.|\s|$)", r["title"])]
    assert len(trainers) == 1, titles
    (trainer,) = trainers
    assert trainer["grpo_patched"] and trainer["steplog_patched"], trainer
    assert trainer["plugin_hook"]["settings"]["alpha"] == float(ALPHA)
    for text in ("value-preserving GRPO active", "RLEV step 1"):
        ray_logs.wait_for_actor_line(job["ray_temp"], "PPOTrainer", text)
    logs = ray_logs.actor_logs(job["ray_temp"], "PPOTrainer")
    assert {int(path.stem.rsplit("-", 1)[1]) for path in logs} == {trainer["pid"]}  # that record's process
    (step,) = [e for e in job["log"] if e["kind"] == "train"]
    assert step["global_step"] == 1 and "rollout/reward_mean" in step
    # one step covers every prompt of the dataset, each as often: the mean s(x) = 1 + min(alpha v, 1) over them
    expected = sum(1 + min(float(ALPHA) * v, 1.0) for v in job["values"]) / len(job["values"])
    assert expected > 1.0 and step["rlev/scale"] == pytest.approx(expected, rel=1e-5), (step["rlev/scale"], expected)
