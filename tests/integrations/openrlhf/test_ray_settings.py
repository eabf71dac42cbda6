"""RLEV settings reach Ray worker processes, and the setup hook runs there.

The slow test is end to end on a REAL local Ray (1 CPU, no dashboard): `launcher.run` with a config's flags goes
through OpenRLHF's real parser and reads OpenRLHF's ray.init arguments from its real train(), then starts Ray with
the merged runtime env. Only two things differ from a GPU run, both for the CPU machine: the training stack's
imports are allowed to be missing (vllm, deepspeed; as in a dry run), and where OpenRLHF's train(args) would run
we start an actor instead and ask it what it sees.
"""

import dataclasses
import os
import sys

import pytest

from openrlhf_rlev import REWARD_FUNC_PATH
from openrlhf_rlev.integrations.openrlhf import grpo, import_hooks, launcher, ray_setup, runtime_env, train_entry
from openrlhf_rlev.reward.settings import Settings

ARGV = [
    "--actor.model_name_or_path", "Qwen/Qwen2.5-7B", "--data.prompt_dataset", "d.jsonl",
    "--data.input_key", "prompt", "--data.label_key", "label",
    "--algo.advantage.estimator", "group_norm", "--rollout.n_samples_per_prompt", "4",
    "--reward_func", "rlev", "--rlev.alpha", "3", "--rlev.scaling", "multiplicative",
]  # fmt: skip


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("RLEV_", "OPENRLHF_RLEV_")):
            monkeypatch.delenv(name)
    monkeypatch.setattr(ray_setup, "_state", {})
    yield
    grpo.uninstall()


def test_setup_hook_validates_and_installs(monkeypatch):
    monkeypatch.delitem(sys.modules, grpo.TARGET_MODULE, raising=False)  # never patch another test's copy
    monkeypatch.setenv("RLEV_ALPHA", "3")
    ray_setup.setup()
    state = ray_setup.state()
    assert state["settings"].alpha == 3.0 and state["reward_func"] == "rlev" and state["pid"] == os.getpid()
    assert state["grpo"] == "deferred"  # patched when the trainer imports the experience maker
    assert import_hooks.pending(grpo.TARGET_MODULE)


@pytest.mark.parametrize("env", [{"RLEV_GRPO": "stock"}, {"OPENRLHF_RLEV_REWARD_FUNC": "other"}])
def test_setup_hook_leaves_group_norm_alone_when_not_asked(monkeypatch, env):
    grpo.uninstall()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ray_setup.setup()
    assert ray_setup.state()["grpo"] == "off"
    assert not import_hooks.pending(grpo.TARGET_MODULE)


def test_setup_hook_fails_loudly_on_bad_settings(monkeypatch):
    monkeypatch.setenv("RLEV_SCALING", "linear")
    with pytest.raises(ValueError, match="RLEV_.*invalid scaling 'linear'"):
        ray_setup.setup()
    assert ray_setup.state() == {}


@pytest.mark.slow
def test_actor_after_launcher_ray_init_sees_settings_and_ran_hook(monkeypatch):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("another test left Ray running")
    seen = {}
    real_parse, real_read, real_init = train_entry.parse, train_entry.ray_init_kwargs, runtime_env.init_ray

    def parse_on_cpu(argv, allow_missing_imports=False):
        return real_parse(argv, allow_missing_imports=True)  # no vllm/deepspeed on this machine

    def read_then_swap_train(parsed):
        kwargs = real_read(parsed)  # from OpenRLHF's real train()
        parsed.train = probe  # what run() calls after its ray.init
        return kwargs

    def init_small(kwargs):
        seen["init_kwargs"] = kwargs
        # the settings must travel in the runtime env, not through the driver's environment
        seen["driver_rlev_env"] = {k for k in os.environ if k.startswith("RLEV_")}
        return real_init(kwargs, num_cpus=1, include_dashboard=False)

    def probe(args):
        """Runs where OpenRLHF's train(args) would: after the launcher's ray.init."""

        @ray.remote(num_cpus=0)
        class Probe:
            def report(self):
                from openrlhf_rlev.integrations.openrlhf import ray_setup as hook
                from openrlhf_rlev.reward.settings import Settings as WorkerSettings

                env = {k: v for k, v in os.environ.items() if k.startswith(("RLEV_", "OPENRLHF_RLEV_"))}
                state = hook.state()
                state["settings"] = dataclasses.asdict(state["settings"]) if state else None
                return {"env": env, "hook": state, "pid": os.getpid(), "from_env": WorkerSettings.from_env().alpha}

        seen["args"] = args
        seen["report"] = ray.get(Probe.remote().report.remote(), timeout=120)

    monkeypatch.setattr(train_entry, "parse", parse_on_cpu)
    monkeypatch.setattr(train_entry, "ray_init_kwargs", read_then_swap_train)
    monkeypatch.setattr(runtime_env, "init_ray", init_small)
    for key in ("RLEV_ALPHA", "RLEV_SCALING", "OPENRLHF_RLEV_REWARD_FUNC"):
        monkeypatch.setenv(key, "")  # so that teardown removes what run() exports to the driver afterwards
        monkeypatch.delenv(key)
    logs = []
    try:
        assert launcher.run(ARGV, environ={}, log=logs.append) == 0
    finally:
        ray.shutdown()

    assert seen["driver_rlev_env"] == set()
    assert seen["args"].reward.remote_url == [REWARD_FUNC_PATH]
    env = seen["init_kwargs"]["runtime_env"]
    assert env["env_vars"]["TOKENIZERS_PARALLELISM"] == "true"  # OpenRLHF's own default, kept
    report = seen["report"]
    assert report["pid"] != os.getpid()
    assert report["env"] == {
        "RLEV_ALPHA": "3.0",
        "RLEV_SCALING": "multiplicative",
        "OPENRLHF_RLEV_REWARD_FUNC": "rlev",
    }
    assert report["from_env"] == 3.0
    hook = report["hook"]
    assert hook["pid"] == report["pid"]  # the hook ran in the actor's own process
    assert hook["settings"]["alpha"] == 3.0 and hook["settings"]["scaling"] == "multiplicative"
    assert hook["grpo"] == "deferred"  # the GRPO wrapper waits for the experience maker's import
    assert any("value-preserving GRPO is on" in line for line in logs)
    assert Settings.from_env().alpha == 3.0  # the driver reads the same settings (exported after ray.init)


# ── a job's own setup hook runs too: chained, the job's first ──


def test_setup_hook_runs_the_jobs_hooks_first_in_order(monkeypatch, tmp_path):
    (tmp_path / "rlev_job_hooks.py").write_text(
        "import os\n"
        "calls = []\n"
        "def first():\n"
        "    from openrlhf_rlev.integrations.openrlhf import ray_setup\n"
        "    calls.append(('first', bool(ray_setup.state())))\n"
        "    os.environ['RLEV_ALPHA'] = '4'  # what the plugin then reads\n"
        "def second():\n"
        "    calls.append(('second', os.environ['RLEV_ALPHA']))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "rlev_job_hooks", raising=False)
    monkeypatch.setenv(ray_setup.CHAIN_ENV, "rlev_job_hooks.first, rlev_job_hooks.second")
    monkeypatch.setenv("RLEV_ALPHA", "10")  # so that teardown removes what the job's hook sets
    ray_setup.setup()
    import rlev_job_hooks

    assert rlev_job_hooks.calls == [("first", False), ("second", "4")]  # before the plugin's own steps
    assert ray_setup.state()["settings"].alpha == 4.0
    assert ray_setup.state()["chained"] == ["rlev_job_hooks.first", "rlev_job_hooks.second"]
    ray_setup.setup()  # Ray calls the hook once per process; a second call must not rerun the job's hooks
    assert len(rlev_job_hooks.calls) == 2


@pytest.mark.parametrize(
    ("value", "message"), [("nodots", "is not 'module.function'"), ("os.no_such_function", "no callable")]
)
def test_a_bad_chained_hook_stops_the_worker(monkeypatch, value, message):
    monkeypatch.setenv(ray_setup.CHAIN_ENV, value)
    with pytest.raises(ValueError, match=message):
        ray_setup.setup()
    assert ray_setup.state() == {}
