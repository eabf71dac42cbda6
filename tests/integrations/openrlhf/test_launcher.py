"""The launcher: our flags out, OpenRLHF's through, checked by OpenRLHF's REAL train_ppo_ray parser.

Nothing here is stubbed except, in dry runs, the module-level imports of OpenRLHF's training stack that cannot be
imported without a GPU (vllm, deepspeed); `train_entry` turns those into placeholders that raise if called. The
parser, OpenRLHF's argument validation, and the ray.init arguments read from OpenRLHF's own train() are real.
"""

import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from openrlhf_rlev import REWARD_FUNC_PATH
from openrlhf_rlev.cli.main import main as cli_main
from openrlhf_rlev.integrations.openrlhf import launcher, registry, runtime_env
from openrlhf_rlev.integrations.openrlhf.launcher import LaunchError
from openrlhf_rlev.reward import settings

pytest.importorskip("openrlhf")

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "configs" / "train_rlev.sh"
PRESETS = ["7b-reinforce", "7b-rloo", "7b-grpo", "32b-reinforce", "32b-rloo", "32b-grpo"]
BASE = ["--actor.model_name_or_path", "Qwen/Qwen2.5-7B", "--data.prompt_dataset", "d.jsonl"]
BASE += ["--data.input_key", "prompt", "--data.label_key", "label"]


@pytest.fixture(autouse=True)
def no_rlev_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("RLEV_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def in_data_dir(monkeypatch, tmp_path):
    """BASE's d.jsonl exists (the dry run checks the data): three prepared rows, values 0.02, 0.2 and 0.5."""
    monkeypatch.chdir(tmp_path)
    rows = [{"prompt": f"q{i}", "label": {"answer": str(i), "value": v}} for i, v in enumerate([0.02, 0.2, 0.5])]
    write_jsonl(tmp_path / "d.jsonl", rows)
    return tmp_path


def write_jsonl(path, rows):
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in rows))


def dry_run(argv, environ=None):
    out = []
    assert launcher.run([*argv, "--rlev.dry_run"], environ=environ or {}, out=out.append) == 0
    return json.loads(out[0])


# ── splitting and checking our flags ──


def test_split_keeps_openrlhf_flags_in_order():
    argv = ["--a.b", "1", "--reward_func=rlev", "--x", "--rlev.alpha", "3", "--y.z", "1", "2", "--rlev.dry_run"]
    name, flags, switches, rest = launcher.split_argv(argv)
    assert (name, flags, switches) == ("rlev", {"alpha": "3"}, {"dry_run"})
    assert rest == ["--a.b", "1", "--x", "--y.z", "1", "2"]


def test_setting_flags_follow_settings_parsers(monkeypatch):
    assert launcher.setting_flags() == [f"--rlev.{name}" for name in settings.PARSERS]
    for name in settings.PARSERS:  # every field is a known flag (no "unknown RLEV flag")
        assert launcher.split_argv([f"--rlev.{name}=x"])[1] == {name: "x"}
    monkeypatch.setitem(settings.PARSERS, "brand_new", str)  # a field another module adds later
    assert launcher.split_argv(["--rlev.brand_new", "v"])[1] == {"brand_new": "v"}


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--rlev.alhpa", "3"], r"unknown RLEV flag '--rlev.alhpa'; known: --rlev.alpha, --rlev.scaling"),
        (["--rlev.alpha"], "--rlev.alpha needs a value"),
        (["--rlev.alpha", "--data.label_key"], "--rlev.alpha needs a value"),
        (["--rlev.dry_run=1"], "is a switch"),
        (["--rlev.alpha", "1", "--rlev.alpha=2"], "given twice"),
        (["--reward_func", "rlev", "--reward_func", "x"], "--reward_func given twice"),
    ],
)
def test_split_errors(argv, message):
    with pytest.raises(LaunchError, match=message):
        launcher.split_argv(argv)


@pytest.mark.parametrize("flag", launcher.CONFLICTING_FLAGS)
@pytest.mark.parametrize("form", ["separate", "equals"])
def test_only_rlev_weights_another_reward_source(flag, form):
    extra = [flag, "x"] if form == "separate" else [f"{flag}=x"]
    with pytest.raises(LaunchError, match=f"drop {flag} .*only --reward_func rlev weights another reward"):
        launcher.plan([*BASE, *extra, "--reward_func", "other"], environ={})


# ── RLEV on the user's own reward: their file, module:func or agent, weighted by s(x) ──

USER_REWARD = "def reward_func(queries, prompts, labels):\n    return {'rewards': 1.0, 'extra_logs': {'fmt': 1.0}}\n"


@pytest.mark.parametrize("form", ["separate", "equals"])
def test_rlev_weights_a_users_reward_file(in_data_dir, form):
    (in_data_dir / "mine.py").write_text(USER_REWARD)
    extra = ["--reward.remote_url", "mine.py"] if form == "separate" else ["--reward.remote_url=mine.py"]
    launch = launcher.plan([*BASE, *extra, "--reward_func", "rlev"], environ={})
    weighted_file = str(Path(launcher.weighted.__file__).with_name("weighted_reward.py"))
    assert launch.openrlhf_argv == [*BASE, "--reward.remote_url", weighted_file]  # theirs is not passed on twice
    assert launch.worker_env["OPENRLHF_RLEV_INNER_REWARD"] == str(in_data_dir / "mine.py")  # absolute: workers
    assert launch.wraps == ("reward", str(in_data_dir / "mine.py"))


def test_rlev_weights_a_reward_named_module_colon_function(in_data_dir, monkeypatch):
    (in_data_dir / "mypkg_rewards.py").write_text(USER_REWARD.replace("reward_func", "shaped"))
    monkeypatch.syspath_prepend(str(in_data_dir))
    launch = launcher.plan([*BASE, "--reward.remote_url", "mypkg_rewards:shaped", "--reward_func", "rlev"], {})
    assert launch.worker_env["OPENRLHF_RLEV_INNER_REWARD"] == "mypkg_rewards:shaped"
    with pytest.raises(LaunchError, match="mypkg_rewards has no callable 'missing'"):
        launcher.plan([*BASE, "--reward.remote_url", "mypkg_rewards:missing", "--reward_func", "rlev"], {})


def test_rlev_weights_a_users_agent(in_data_dir):
    (in_data_dir / "agent.py").write_text("# their agent\n")
    launch = launcher.plan([*BASE, "--train.agent_func_path", "agent.py", "--reward_func", "rlev"], environ={})
    weighted_agent = str(Path(launcher.weighted.__file__).with_name("weighted_agent.py"))
    assert launch.openrlhf_argv == [*BASE, "--train.agent_func_path", weighted_agent]
    assert launch.worker_env["OPENRLHF_RLEV_INNER_AGENT"] == str(in_data_dir / "agent.py")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reward.model_name_or_path", "rm"], "RLEV does not weight a reward model: its score has an arbitrary"),
        (["--reward.remote_url", "http://rm:5000/get_reward"], "not an HTTP reward server"),
        (["--reward.remote_url", "a.py,b.py"], "not an HTTP reward server"),
        (["--reward.remote_url", "missing.py"], "missing.py does not exist"),
        (["--train.agent_func_path", "missing.py"], "not an existing .py agent file"),
        (["--reward.remote_url", "x.py", "--train.agent_func_path", "x.py"], "give one reward source"),
    ],
)
def test_rlev_refuses_what_it_cannot_weight(in_data_dir, extra, message):
    (in_data_dir / "x.py").write_text(USER_REWARD)
    with pytest.raises(LaunchError, match=message):
        launcher.plan([*BASE, *extra, "--reward_func", "rlev"], environ={})


@pytest.mark.parametrize(
    "argv,message",
    [
        (BASE, "missing --reward_func NAME.*known: rlev"),
        ([*BASE, "--reward_func", "nope"], r"unknown reward func 'nope'; known: rlev"),
        ([a for a in BASE if a not in ("--data.label_key", "label")] + ["--reward_func", "rlev"], "--data.label_key"),
        ([*BASE, "--reward_func", "rlev", "--rlev.alpha", "-1"], r"--rlev.alpha: invalid alpha '-1'"),
        ([*BASE, "--reward_func", "rlev", "--rlev.scaling", "linear"], r"--rlev.scaling: invalid scaling 'linear'"),
        ([*BASE, "--reward_func", "rlev", "--rlev.grpo", "sometimes"], r"--rlev.grpo: invalid grpo"),
        ([*BASE, "--reward_func", "rlev", "--rlev.timeout", "0"], r"--rlev.timeout: invalid timeout"),
        ([*BASE, "--reward_func", "rlev", "--rlev.scaling", "uniform"], "'uniform' needs uniform_scale"),
    ],
)
def test_plan_errors(argv, message):
    with pytest.raises(LaunchError, match=message):
        launcher.plan(argv, environ={})


def test_plan_rewrites_to_openrlhf_flags():
    launch = launcher.plan([*BASE, "--reward_func", "rlev", "--rlev.alpha", "5"], environ={})
    assert launch.reward_path == REWARD_FUNC_PATH
    assert launch.openrlhf_argv == [*BASE, "--reward.remote_url", REWARD_FUNC_PATH]
    assert launch.settings.alpha == 5.0
    assert launch.worker_env == {"OPENRLHF_RLEV_REWARD_FUNC": "rlev", "RLEV_ALPHA": "5.0"}


def test_settings_precedence_flag_over_driver_env():
    env = {"RLEV_ALPHA": "3", "RLEV_SCALING": "multiplicative"}
    launch = launcher.plan([*BASE, "--reward_func", "rlev", "--rlev.alpha", "10"], environ=env)
    assert (launch.settings.alpha, launch.settings.scaling) == (10.0, "multiplicative")
    # 10 is the default, but it was asked for explicitly: a node's own RLEV_ALPHA must not override it
    assert launch.worker_env["RLEV_ALPHA"] == "10.0"
    assert launch.worker_env["RLEV_SCALING"] == "multiplicative"
    with pytest.raises(LaunchError, match="environment variable RLEV_ALPHA: invalid alpha 'x'"):
        launcher.plan([*BASE, "--reward_func", "rlev"], environ={"RLEV_ALPHA": "x"})


def test_grpo_note():
    value = launcher.plan([*BASE, "--reward_func", "rlev"], environ={})
    stock = launcher.plan([*BASE, "--reward_func", "rlev", "--rlev.grpo", "stock"], environ={})
    assert launcher.grpo_note("rloo", value) is None
    level, message = launcher.grpo_note("group_norm", value)
    assert level == "info" and "value-preserving GRPO is on" in message
    level, message = launcher.grpo_note("group_norm", stock)
    assert level == "warning" and "divides s(x) out" in message
    none = launcher.plan([*BASE, "--reward_func", "rlev", "--rlev.scaling", "none"], environ={})
    level, message = launcher.grpo_note("group_norm", none)
    assert level == "info" and "accuracy-only baseline" in message and "value-preserving GRPO is on" not in message


# ── the real OpenRLHF parser ──


def test_dry_run_resolves_with_openrlhf_parser():
    argv = [*BASE, "--algo.advantage.estimator", "rloo", "--rollout.n_samples_per_prompt", "4"]
    result = dry_run([*argv, "--reward_func", "rlev", "--rlev.alpha", "5", "--rlev.scaling", "multiplicative"])
    args = result["openrlhf_args"]
    assert args["reward"]["remote_url"] == [REWARD_FUNC_PATH]  # OpenRLHF splits it on commas
    assert args["algo"]["advantage"]["estimator"] == "rloo"
    assert args["critic"]["model_name_or_path"] is None  # OpenRLHF's own post-parse logic ran
    assert args["ckpt"]["max_mem"] == "inf"  # strict JSON
    assert result["rlev_settings"]["alpha"] == 5.0 and result["rlev_settings"]["scaling"] == "multiplicative"
    assert result["grpo"] is None
    env = result["ray_init"]["runtime_env"]
    assert env["worker_process_setup_hook"] == "openrlhf_rlev.integrations.openrlhf.ray_setup.setup"
    # OpenRLHF's own defaults, read from its train(), merged with ours
    assert {"TOKENIZERS_PARALLELISM", "NCCL_DEBUG", "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS"} <= set(env["env_vars"])
    assert env["env_vars"]["RLEV_ALPHA"] == "5.0" and env["env_vars"]["RLEV_SCALING"] == "multiplicative"


def test_dry_run_reports_openrlhf_argparse_error(capsys):
    with pytest.raises(SystemExit) as e:
        dry_run([*BASE, "--reward_func", "rlev", "--algo.advantage.estimator", "ppo2"])
    assert e.value.code == 2
    assert "argument --algo.advantage.estimator: invalid choice: 'ppo2'" in capsys.readouterr().err


def test_dry_run_reports_openrlhf_validation_error():
    with pytest.raises(LaunchError, match="OpenRLHF rejected the arguments: AssertionError: group_norm requires"):
        dry_run([*BASE, "--reward_func", "rlev", "--algo.advantage.estimator", "group_norm"])


def test_grpo_dry_run_says_value_preserving():
    argv = [*BASE, "--algo.advantage.estimator", "group_norm", "--rollout.n_samples_per_prompt", "4"]
    assert "value-preserving GRPO is on" in dry_run([*argv, "--reward_func", "rlev"])["grpo"]
    assert "divides s(x) out" in dry_run([*argv, "--reward_func", "rlev", "--rlev.grpo", "stock"])["grpo"]


def test_untested_openrlhf_is_refused_before_anything_starts(monkeypatch):
    from openrlhf_rlev.integrations.openrlhf import grpo

    monkeypatch.setattr(grpo, "TESTED", {})
    argv = [*BASE, "--algo.advantage.estimator", "group_norm", "--rollout.n_samples_per_prompt", "4"]
    with pytest.raises(LaunchError, match="refuses to patch this OpenRLHF"):
        dry_run([*argv, "--reward_func", "rlev"])
    assert dry_run([*argv, "--reward_func", "rlev", "--rlev.grpo", "stock"])["grpo"]  # stock needs no patch


def test_an_openrlhf_that_weights_advantages_itself_gets_the_flag_and_no_wrapper(monkeypatch):
    """With the upstream change (--algo.advantage.weight_key), the launcher passes `rlev/scale` and steps aside.

    The flag itself is stubbed here (the installed parser lacks it); test_patches.py runs the launcher against a
    really patched OpenRLHF."""
    from openrlhf_rlev.integrations.openrlhf import grpo

    monkeypatch.setattr(grpo, "TESTED", {})  # its fingerprint is unknown to this release...
    monkeypatch.setattr(grpo, "upstream_weights_advantages", lambda root=None: True)  # ...but it weights itself
    argv = [*BASE, "--algo.advantage.estimator", "group_norm", "--rollout.n_samples_per_prompt", "4"]
    out = dry_run([*argv, "--reward_func", "rlev"])
    assert out["grpo"] == launcher.UPSTREAM_GRPO_NOTE
    assert out["openrlhf_argv"][-2:] == ["--algo.advantage.weight_key", "rlev/scale"]
    assert "--algo.advantage.weight_key rlev/scale" in out["ray_job_submit"]
    stock = dry_run([*argv, "--reward_func", "rlev", "--rlev.grpo", "stock"])  # the baseline: no weight
    assert "--algo.advantage.weight_key" not in stock["openrlhf_argv"]
    rloo = [*BASE, "--algo.advantage.estimator", "rloo", "--rollout.n_samples_per_prompt", "4"]
    assert "--algo.advantage.weight_key" not in dry_run([*rloo, "--reward_func", "rlev"])["openrlhf_argv"]

    # ...and in the trainer process the import hook's patch leaves OpenRLHF's own method in place
    import types

    def compute_advantages_and_returns(self, experiences):
        return experiences

    maker = type(grpo.TARGET_CLASS, (), {grpo.TARGET_METHOD: compute_advantages_and_returns})
    module = types.SimpleNamespace(__file__=str(grpo.installed_openrlhf_root() / "trainer/ppo_utils/x.py"))
    setattr(module, grpo.TARGET_CLASS, maker)
    grpo.patch(module)
    assert getattr(maker, grpo.TARGET_METHOD) is compute_advantages_and_returns
    monkeypatch.setattr(grpo, "upstream_weights_advantages", lambda root=None: False)
    monkeypatch.setattr(grpo, "TESTED", {grpo.fingerprint(grpo.installed_openrlhf_root()): "this one"})
    grpo.patch(module)  # the same code without the upstream change is wrapped
    assert getattr(getattr(maker, grpo.TARGET_METHOD), grpo.PATCHED_MARK)


def test_print_runtime_env():
    out = []
    argv = [*BASE, "--reward_func", "rlev", "--rlev.alpha", "4", "--rlev.print_runtime_env"]
    assert launcher.run(argv, environ={}, out=out.append) == 0
    env = json.loads(out[0])
    assert env == {
        "env_vars": {"OPENRLHF_RLEV_REWARD_FUNC": "rlev", "RLEV_ALPHA": "4.0"},
        "worker_process_setup_hook": "openrlhf_rlev.integrations.openrlhf.ray_setup.setup",
    }
    assert out[1].startswith('ray job submit --address "${RAY_ADDRESS:-http://127.0.0.1:8265}" --runtime-env-json ')
    assert (
        f"-- python3 -m openrlhf.cli.train_ppo_ray {' '.join(BASE)} --reward.remote_url {REWARD_FUNC_PATH}" in out[1]
    )


def test_openrlhf_rlev_train_dispatches(capsys):
    argv = ["train", *BASE, "--reward_func", "rlev", "--rlev.dry_run"]
    assert cli_main(argv) == 0
    assert json.loads(capsys.readouterr().out)["openrlhf_args"]["reward"]["remote_url"] == [REWARD_FUNC_PATH]
    assert cli_main(["train", *BASE, "--reward_func", "nope"]) == 2
    assert capsys.readouterr().err.startswith(
        "openrlhf-rlev train: error: --reward_func: unknown reward func 'nope'; known: rlev"
    )
    assert cli_main(["train", "--help"]) == 0
    help_ = capsys.readouterr().out
    assert help_.startswith("usage: openrlhf-rlev train [OpenRLHF train_ppo_ray flags] --reward_func NAME")
    assert "--actor.model_name_or_path" in help_  # OpenRLHF's own flags follow ours


def test_readmes_dry_run_example_runs(tmp_path, capsys):
    """README's "check it first" example, both commands as printed (its /tmp path moved into tmp_path)."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("Check it first, on any machine", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(c.replace("/tmp/", f"{tmp_path}/")) for c in block.replace("\\\n", " ").splitlines()]
    assert [c[:2] for c in commands] == [["openrlhf-rlev", "prepare"], ["openrlhf-rlev", "train"]]
    assert cli_main(commands[0][1:]) == 0
    capsys.readouterr()
    assert cli_main(commands[1][1:]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["data"][0]["rows"] == 20 and resolved["data"][0]["with_value"] == 20
    assert resolved["openrlhf_args"]["reward"]["remote_url"] == [REWARD_FUNC_PATH]


@pytest.mark.slow
def test_module_entry_point_dry_run_subprocess(tmp_path, in_data_dir):
    """The bar: `python -m openrlhf_rlev.cli.train_ppo_ray <a config's flags> --reward_func rlev --rlev.dry_run`."""
    argv = config_argv("7b-grpo", {"DATA": str(tmp_path / "d.jsonl")}, tmp_path)  # in_data_dir wrote it
    assert "--reward_func" in argv
    proc = subprocess.run(
        [sys.executable, "-m", "openrlhf_rlev.cli.train_ppo_ray", *argv, "--rlev.dry_run"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["openrlhf_args"]["reward"]["remote_url"] == [REWARD_FUNC_PATH]
    with pytest.raises(SystemExit) as e:  # the same entry point in-process: OpenRLHF's argparse exit code
        cli_main(["train", *argv, "--rlev.dry_run", "--train.bogus"])
    assert e.value.code == 2


# ── configs ──


def config_argv(preset, env, tmp_path):
    """The exact argument list configs/train_rlev.sh launches, recorded by a stand-in launch command."""
    recorder = Path(tmp_path) / "record-argv.sh"
    recorder.write_text("#!/bin/sh\nprintf '%s\\0' \"$@\"\n")
    recorder.chmod(0o755)
    proc = subprocess.run(
        ["bash", str(CONFIG), preset],
        env={**os.environ, **env, "RLEV_LAUNCH": str(recorder)},
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode().split("\0")[:-1]


@pytest.mark.parametrize("baseline", [False, True], ids=["rlev", "baseline"])
@pytest.mark.parametrize("preset", PRESETS)
def test_config_passes_openrlhf_parser(tmp_path, preset, baseline):
    (tmp_path / "data" / "rlev").mkdir(parents=True)
    (tmp_path / "d.jsonl").rename(tmp_path / "data" / "rlev" / "train.jsonl")  # the preset's default DATA
    argv = config_argv(preset, {"BASELINE": "1"} if baseline else {}, tmp_path)
    result = dry_run(argv)
    args = result["openrlhf_args"]
    assert args["reward"]["remote_url"] == [REWARD_FUNC_PATH]
    # the paper's settings
    assert args["actor"]["adam"]["lr"] == 5e-7
    assert (args["rollout"]["batch_size"], args["train"]["batch_size"]) == (128, 128)
    assert args["rollout"]["n_samples_per_prompt"] == 4
    assert (args["data"]["max_len"], args["rollout"]["max_new_tokens"]) == (2048, 1024)
    assert (args["train"]["num_episodes"], args["train"]["max_epochs"]) == (1, 1)
    assert args["algo"]["kl"]["init_coef"] == 0.01
    assert (args["data"]["input_key"], args["data"]["label_key"]) == ("prompt", "label")
    assert args["data"]["apply_chat_template"]
    size, algo = preset.split("-")
    assert args["actor"]["model_name_or_path"] == {"7b": "Qwen/Qwen2.5-7B", "32b": "Qwen/Qwen2.5-32B"}[size]
    estimator = {"reinforce": "reinforce", "rloo": "rloo", "grpo": "group_norm"}[algo]
    assert args["algo"]["advantage"]["estimator"] == estimator
    gpus = args["actor"]["num_nodes"] * args["actor"]["num_gpus_per_node"]
    assert gpus == args["vllm"]["num_engines"] * args["vllm"]["tensor_parallel_size"] == {"7b": 8, "32b": 16}[size]
    assert result["rlev_settings"]["scaling"] == ("none" if baseline else "rlev")
    assert (result["grpo"] is not None) == (algo == "grpo")
    if algo == "grpo":  # the baseline's note must not claim that the value is kept
        assert ("accuracy-only baseline" if baseline else "value-preserving GRPO is on") in result["grpo"]


def test_config_rejects_unknown_preset(tmp_path):
    proc = subprocess.run(["bash", str(CONFIG), "70b-ppo"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown preset '70b-ppo'" in proc.stderr


# ── the entry-point registry ──


def make_distribution(monkeypatch, tmp_path, name, value, module_source):
    """An installed-looking distribution on sys.path: a package plus a .dist-info with entry_points.txt."""
    for module in [m for m in sys.modules if m.startswith("rlevplugin_demo")]:
        monkeypatch.delitem(sys.modules, module)  # another test's copy of the package
    pkg = tmp_path / "rlevplugin_demo"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "rewards.py").write_text(textwrap.dedent(module_source))
    info = tmp_path / "rlevplugin_demo-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rlevplugin-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[openrlhf.reward_funcs]\n{name} = {value}\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_third_party_reward_func_is_found_by_name(tmp_path, monkeypatch):
    source = "def reward_func(queries, prompts, labels, **kw):\n    return {'rewards': 1.0, 'scores': 1.0}\n"
    make_distribution(monkeypatch, tmp_path, "demo", "rlevplugin_demo.rewards:reward_func", source)
    assert registry.known_names() == ["demo", "rlev"]
    path = registry.resolve("demo")
    assert path == str(tmp_path / "rlevplugin_demo" / "rewards.py")
    launch = launcher.plan([*BASE, "--reward_func", "demo"], environ={})
    assert launch.openrlhf_argv[-2:] == ["--reward.remote_url", path]
    assert launch.worker_env["OPENRLHF_RLEV_REWARD_FUNC"] == "demo"
    assert launcher.grpo_note("group_norm", launch) is None  # not RLEV's reward: no value-preserving GRPO


def test_reward_func_must_be_named_reward_func(tmp_path, monkeypatch):
    make_distribution(monkeypatch, tmp_path, "demo", "rlevplugin_demo.rewards:score", "def score(*a):\n    return 0\n")
    with pytest.raises(registry.RegistryError, match="loads the attribute 'reward_func'"):
        registry.resolve("demo")


def test_reward_file_must_load_by_path(tmp_path, monkeypatch):
    source = "from . import helpers\n\ndef reward_func(*a):\n    return {}\n"  # relative import: fails by path
    make_distribution(monkeypatch, tmp_path, "demo", "rlevplugin_demo.rewards:reward_func", source)
    with pytest.raises(registry.RegistryError, match="OpenRLHF could not load .*rewards.py: ImportError"):
        registry.resolve("demo")


# ── runtime env reconciliation inside `ray job submit` ──


def test_runtime_env_inside_a_submitted_job():
    ours = runtime_env.ray_init_kwargs(
        {"runtime_env": {"env_vars": {"NCCL_DEBUG": "WARN"}}},
        {"RLEV_ALPHA": "5.0", "OPENRLHF_RLEV_REWARD_FUNC": "rlev"},
    )
    assert runtime_env.reconcile_with_job(ours, environ={}) == ours
    job = {"runtime_env": {"env_vars": {"NCCL_DEBUG": "INFO", "RLEV_ALPHA": "5.0"}, "working_dir": "."}}
    merged = runtime_env.reconcile_with_job(ours, environ={runtime_env.JOB_CONFIG_ENV: json.dumps(job)})
    assert merged["runtime_env"] == {
        "env_vars": {"OPENRLHF_RLEV_REWARD_FUNC": "rlev"},
        "worker_process_setup_hook": runtime_env.SETUP_HOOK,
    }
    job["runtime_env"]["env_vars"]["RLEV_ALPHA"] = "3"
    with pytest.raises(runtime_env.RuntimeEnvError, match="sets RLEV_ALPHA='3' but this launch asks for '5.0'"):
        runtime_env.reconcile_with_job(ours, environ={runtime_env.JOB_CONFIG_ENV: json.dumps(job)})


def test_a_jobs_own_setup_hook_is_chained_and_its_runtime_env_kept():
    """`ray job submit --runtime-env-json` with the user's own hook, pip, working_dir and env vars: Ray keeps one
    hook per job, so ours takes the slot and names theirs to run first; the rest is left to Ray's merge."""
    ours = runtime_env.ray_init_kwargs({"runtime_env": {"env_vars": {"NCCL_DEBUG": "WARN"}}}, {"RLEV_ALPHA": "5.0"})
    job = {
        "runtime_env": {
            "worker_process_setup_hook": "mypkg.setup",
            "pip": ["mypkg==1.0"],
            "working_dir": ".",
            "env_vars": {"NCCL_DEBUG": "INFO", "OPENRLHF_RLEV_SETUP_HOOKS": "mypkg.more"},
        }
    }
    environ = {runtime_env.JOB_CONFIG_ENV: json.dumps(job)}
    merged = runtime_env.reconcile_with_job(ours, environ=environ)
    assert merged["runtime_env"] == {
        "env_vars": {"RLEV_ALPHA": "5.0", "OPENRLHF_RLEV_SETUP_HOOKS": "mypkg.setup,mypkg.more"},
        "worker_process_setup_hook": runtime_env.SETUP_HOOK,
    }
    assert runtime_env.overrides_job_hook(merged, environ)
    assert not runtime_env.overrides_job_hook(merged, {})  # no job: nothing to override

    # What Ray itself then builds (its own merge, with the override init_ray sets): one hook, theirs chained.
    from ray.runtime_env.runtime_env import _merge_runtime_env

    final = _merge_runtime_env(job["runtime_env"], merged["runtime_env"], override=True)
    assert final["worker_process_setup_hook"] == runtime_env.SETUP_HOOK
    assert final["pip"] == ["mypkg==1.0"] and final["working_dir"] == "."
    assert final["env_vars"] == {
        "NCCL_DEBUG": "INFO",  # the job's value wins over OpenRLHF's default, as before
        "RLEV_ALPHA": "5.0",
        "OPENRLHF_RLEV_SETUP_HOOKS": "mypkg.setup,mypkg.more",
    }
    # A job that names the plugin's hook itself keeps it; nothing to chain or override.
    job["runtime_env"]["worker_process_setup_hook"] = runtime_env.SETUP_HOOK
    del job["runtime_env"]["env_vars"]["OPENRLHF_RLEV_SETUP_HOOKS"]
    environ = {runtime_env.JOB_CONFIG_ENV: json.dumps(job)}
    merged = runtime_env.reconcile_with_job(ours, environ=environ)
    assert "worker_process_setup_hook" not in merged["runtime_env"] and not runtime_env.overrides_job_hook(
        merged, environ
    )


def test_the_drivers_chained_hooks_reach_the_workers():
    launch = launcher.plan(BASE + ["--reward_func", "rlev"], environ={"OPENRLHF_RLEV_SETUP_HOOKS": "mypkg.setup"})
    assert launch.worker_env["OPENRLHF_RLEV_SETUP_HOOKS"] == "mypkg.setup"


def test_judge_api_key_reaches_workers_but_is_never_printed(monkeypatch):
    from openrlhf_rlev.integrations.openrlhf import runtime_env, train_entry

    secret = {"RLEV_JUDGE_API_KEY": "sk-do-not-print"}
    shown = []
    assert launcher.run([*BASE, "--reward_func", "rlev", "--rlev.dry_run"], environ=secret, out=shown.append) == 0
    assert (
        launcher.run([*BASE, "--reward_func", "rlev", "--rlev.print_runtime_env"], environ=secret, out=shown.append)
        == 0
    )
    assert "sk-do-not-print" not in "".join(shown) and launcher.MASK in shown[1]

    # The real launch path, with only ray.init and train() intercepted (no cluster here).
    real_parse, real_read = train_entry.parse, train_entry.ray_init_kwargs
    seen = {}

    def read_then_swap_train(parsed):
        kwargs = real_read(parsed)  # read from OpenRLHF's real train()
        parsed.train = lambda args: seen.setdefault("trained", True)
        return kwargs

    monkeypatch.setattr(train_entry, "parse", lambda argv, allow_missing_imports=False: real_parse(argv, True))
    monkeypatch.setattr(train_entry, "ray_init_kwargs", read_then_swap_train)
    monkeypatch.setattr(runtime_env, "init_ray", lambda kwargs: seen.setdefault("init", kwargs))
    monkeypatch.setenv("OPENRLHF_RLEV_REWARD_FUNC", "")  # run() exports the worker env to the driver; undo it after
    assert launcher.run([*BASE, "--reward_func", "rlev"], environ=secret, log=lambda m: None) == 0
    assert seen["trained"] and seen["init"]["runtime_env"]["env_vars"]["RLEV_JUDGE_API_KEY"] == "sk-do-not-print"


@pytest.mark.parametrize("old", ["0.9.10", "0.10.1.post2"])
def test_launcher_sends_pre_dotted_openrlhf_to_the_plain_route(monkeypatch, old):
    from openrlhf_rlev.integrations.openrlhf import version_guard

    monkeypatch.setattr(version_guard, "openrlhf_version", lambda: old)
    with pytest.raises(launcher.LaunchError) as e:
        launcher.run(["--reward_func", "rlev", "--data.label_key", "label"], environ={}, out=print, log=print)
    message = str(e.value)
    assert f"needs OpenRLHF >= 0.10.2 (dotted flags); this is {old}" in message
    assert "--remote_rm_url $(openrlhf-rlev reward-path) --label_key label" in message
    assert version_guard.launcher_problem("0.10.2") is None and version_guard.launcher_warning("0.11.9") is None
    assert "newer than the tested range" in version_guard.launcher_warning("0.12.0")


# ── the dry run checks the data ──


def test_dry_run_prints_the_value_distribution():
    logs, out = [], []
    assert (
        launcher.run([*BASE, "--reward_func", "rlev", "--rlev.dry_run"], environ={}, log=logs.append, out=out.append)
        == 0
    )
    (report,) = json.loads(out[0])["data"]
    assert report["rows"] == 3 and report["with_value"] == 3 and report["bad_labels"] == 0
    assert report["mean_value"] == pytest.approx(0.24) and report["max_value"] == 0.5
    assert report["share_value_above_0_1"] == pytest.approx(2 / 3)
    assert "RLEV data: d.jsonl: 3 rows, 3 with a value: mean v 0.2400, share v > 0.1 66.7%, max v 0.5000" in logs
    # this checkout's editable install: the printed reward path exists on this machine only, and the dry run says so
    assert any("outside any site-packages (an editable install)" in line for line in logs), logs
    assert launcher.in_site_packages("/opt/venv/lib/python3.11/site-packages/openrlhf_rlev/reward_func.py")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (None, "d.jsonl does not exist"),
        ([{"question": "q", "label": {"answer": "1", "value": 0.1}}], "missing or invalid 'prompt'"),
        ([{"prompt": "q", "answer": "1"}], "1 of 1 rows have no 'label'"),
        ([{"prompt": "q", "label": {"answer": "1", "value": 7}}], "row 0's 'label' does not parse as an RLEV label"),
        ([{"prompt": "q", "label": {"value": 0.3}}], "row 0's 'label' does not parse"),
        ([], "no rows"),
    ],
)
def test_dry_run_refuses_data_the_run_could_not_use(in_data_dir, rows, message):
    if rows is None:
        (in_data_dir / "d.jsonl").unlink()
    else:
        write_jsonl(in_data_dir / "d.jsonl", rows)
    with pytest.raises(LaunchError, match=message):
        dry_run([*BASE, "--reward_func", "rlev"])


def test_dry_run_counts_later_bad_labels_and_names_hub_datasets(in_data_dir):
    rows = [{"prompt": f"q{i}", "label": {"answer": "1", "value": 0.0}} for i in range(25)]
    rows.append({"prompt": "late", "label": '{"answer": '})
    write_jsonl(in_data_dir / "d.jsonl", rows)
    argv = [*BASE, "--reward_func", "rlev"]
    argv[argv.index("d.jsonl")] = "d.jsonl,some-org/some-dataset"
    local, hub = dry_run(argv)["data"]
    assert local["bad_labels"] == 1 and local["first_bad_label_row"] == 25 and local["max_value"] == 0.0
    assert hub == {
        "path": "some-org/some-dataset",
        "checked": False,
        "why": "not a local path: OpenRLHF loads it from the hub",
    }
