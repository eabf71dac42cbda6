"""`--reward_func NAME` and `--rlev.*` on an OpenRLHF train_ppo_ray command line.

The user's command is OpenRLHF's, plus our flags. This module takes ours out, checks them, and rewrites the rest
into the argument list OpenRLHF 0.10.2-0.11.x accepts (`--reward.remote_url <the reward func's file>`); everything
else passes through untouched. Checks that need only our flags run here, before anything starts; OpenRLHF's own
checks run in its real parser (`train_entry`).
"""

import contextlib
import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from typing import Mapping

from openrlhf_rlev.integrations.openrlhf import registry, weighted
from openrlhf_rlev.integrations.openrlhf.cpu import numerics
from openrlhf_rlev.integrations.openrlhf.cpu.install import CPU_ENV
from openrlhf_rlev.integrations.openrlhf.ray_setup import CHAIN_ENV, REWARD_FUNC_ENV
from openrlhf_rlev.reward import settings as settings_module
from openrlhf_rlev.reward.settings import PARSERS, Settings, env_name

REWARD_FUNC_FLAG = "--reward_func"
RLEV_PREFIX = "--rlev."
SWITCHES = {
    "dry_run": "parse with OpenRLHF's real parser, print the resolved arguments and RLEV settings as JSON, exit",
    "print_runtime_env": "print the `ray job submit --runtime-env-json` equivalent of this launch, exit",
    "cpu": "train on this machine's CPU: OpenRLHF's own loop on a local Ray, CUDA-only parts replaced (see docs/cpu.md)",
}
# Launch options with a value that are not reward settings; each reaches the workers as an env var.
OPTIONS = {
    "log_jsonl": "write one JSON object per training step (and per evaluation) with everything OpenRLHF logs",
    "cpu_dtype": "with --rlev.cpu: fp32 (default) or bf16 (a GPU run's numerics; fast only with CPU bf16 support)",
}
OPTION_METAVARS = {"log_jsonl": "PATH", "cpu_dtype": "{fp32,bf16}"}
LOG_JSONL_ENV = "OPENRLHF_RLEV_LOG_JSONL"
OMP_WAIT_ENV = "OMP_WAIT_POLICY"  # --rlev.cpu's workers: PASSIVE unless the launching shell sets it
# OpenRLHF flags that choose a reward another way. With --reward_func rlev, a reward file / module:func or an agent
# is weighted by s(x) (weighted.py); a reward model is refused (REWARD_MODEL_REFUSAL); other names take none of them.
REMOTE_URL_FLAG, AGENT_FLAG, REWARD_MODEL_FLAG = (
    "--reward.remote_url",
    "--train.agent_func_path",
    "--reward.model_name_or_path",
)
CONFLICTING_FLAGS = (REMOTE_URL_FLAG, REWARD_MODEL_FLAG, AGENT_FLAG)
REWARD_MODEL_REFUSAL = (
    "RLEV does not weight a reward model: its score has an arbitrary offset and sign, and s(x) * score is not "
    "invariant to that offset (s(x) * (score + b) moves each prompt's baseline by s(x) * b), so the weighting would "
    "depend on how the model happens to be calibrated, and OpenRLHF computes it in a separate actor without the "
    "label. Weight a bounded reward instead: a reward file (--reward.remote_url your_reward.py or module:func) "
    "or an agent (--train.agent_func_path)"
)
LABEL_KEY_FLAG = "--data.label_key"
# Secrets the workers need but no output may show: forwarded from the driver's env, printed masked.
SECRET_ENV = ("RLEV_JUDGE_API_KEY",)
MASK = "***"


class LaunchError(ValueError):
    pass


@dataclass(frozen=True)
class Plan:
    reward_func: str
    reward_path: str
    settings: Settings
    worker_env: dict  # env vars every Ray worker needs: the RLEV settings and the reward func's name
    openrlhf_argv: list
    dry_run: bool = False
    print_runtime_env: bool = False
    cpu: bool = False
    cpu_dtype: str = numerics.DEFAULT
    wraps: tuple | None = None  # ("reward", their file or module:func) or ("agent", their file): weighted by s(x)
    secret_env: dict = dataclasses.field(default_factory=dict, repr=False)

    def shown_env(self) -> dict:
        """worker_env plus the secrets, masked: what dry runs and printed commands show."""
        return {**self.worker_env, **{k: MASK for k in self.secret_env}}


def in_site_packages(path: str) -> bool:
    """Whether a file lies in an installed package (a wheel), not in a checkout: only then do other nodes that
    installed the same wheel have it at the same path."""
    parts = os.path.realpath(path).split(os.sep)
    return "site-packages" in parts or "dist-packages" in parts


def setting_flags() -> list[str]:
    """Every `--rlev.<field>` setting, derived from `settings.PARSERS` so new fields appear without edits here."""
    return [RLEV_PREFIX + name for name in PARSERS]


def _flag_matches(token: str, flag: str) -> bool:
    return token == flag or token.startswith(flag + "=")


def split_argv(argv: list[str]) -> tuple[str | None, dict[str, str], set[str], list[str]]:
    """(reward func name, {setting: text}, {switch}, OpenRLHF's own arguments in their original order)."""
    reward_func, settings, switches, rest = None, {}, set(), []
    i = 0
    while i < len(argv):
        token = argv[i]
        if _flag_matches(token, REWARD_FUNC_FLAG) or token.startswith(RLEV_PREFIX):
            flag, has_value, value = token.partition("=")
            name = flag[len(RLEV_PREFIX) :] if flag.startswith(RLEV_PREFIX) else None
            if name in SWITCHES:
                if has_value:
                    raise LaunchError(f"{flag} is a switch and takes no value (got {token!r})")
                switches.add(name)
                i += 1
                continue
            if name is not None and name not in PARSERS and name not in OPTIONS:
                known = ", ".join(setting_flags() + [RLEV_PREFIX + s for s in [*OPTIONS, *SWITCHES]])
                raise LaunchError(f"unknown RLEV flag {flag!r}; known: {known}")
            if not has_value:
                if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                    raise LaunchError(f"{flag} needs a value")
                value = argv[i + 1]
                i += 1
            if name is None:
                if reward_func is not None:
                    raise LaunchError(f"{REWARD_FUNC_FLAG} given twice ({reward_func!r} and {value!r})")
                reward_func = value
            else:
                if name in settings:
                    raise LaunchError(f"{flag} given twice ({settings[name]!r} and {value!r})")
                settings[name] = value
        else:
            rest.append(token)
        i += 1
    return reward_func, settings, switches, rest


def resolve_settings(flags: Mapping[str, str], environ: Mapping[str, str]) -> tuple[Settings, set[str]]:
    """Flags over the driver's RLEV_* env over the defaults; returns the settings and the fields given explicitly.

    Ray does not forward the driver's environment to workers, so an RLEV_ALPHA exported in the launching shell
    only takes effect because it is collected here and passed on in the runtime env.
    """
    try:
        return settings_module.resolve(flags, environ, RLEV_PREFIX)
    except ValueError as e:
        raise LaunchError(str(e)) from None


def worker_env(settings: Settings, explicit: set[str], reward_func: str) -> dict[str, str]:
    """The env vars for every Ray worker: non-default settings, plus anything given explicitly (even a default,
    so that a node's own RLEV_* environment cannot override what this launch asked for)."""
    env = settings.to_env()
    for name in explicit:
        value = getattr(settings, name)
        env[env_name(name)] = "" if value is None else str(value)
    env[REWARD_FUNC_ENV] = reward_func
    return dict(sorted(env.items()))


WEIGHTED_REWARD_MODULE = "openrlhf_rlev.integrations.openrlhf.weighted_reward"
WEIGHTED_AGENT_MODULE = "openrlhf_rlev.integrations.openrlhf.weighted_agent"


def pop_flag(argv: list[str], flag: str) -> tuple[str | None, list[str]]:
    """(the flag's value, argv without it); argparse's last-one-wins if given twice. The one reader of an OpenRLHF
    flag's value (plain_route reads the driver's command line with it too)."""
    value, rest, i = None, [], 0
    while i < len(argv):
        token = argv[i]
        if token == flag:
            if i + 1 >= len(argv):
                raise LaunchError(f"{flag} needs a value")
            value, i = argv[i + 1], i + 2
            continue
        if token.startswith(flag + "="):
            value = token.split("=", 1)[1]
        else:
            rest.append(token)
        i += 1
    return value, rest


def _wrapped_source(reward_func: str, rest: list[str]) -> tuple[tuple | None, list[str]]:
    """The user's own reward (file or module:func) or agent that RLEV weights, and OpenRLHF's argv without it."""
    given = [flag for flag in CONFLICTING_FLAGS if any(_flag_matches(t, flag) for t in rest)]
    if not given:
        return None, rest
    if reward_func != "rlev":
        raise LaunchError(
            f"{REWARD_FUNC_FLAG} {reward_func} chooses the reward; drop {given[0]} (one reward source per run; "
            f"only {REWARD_FUNC_FLAG} rlev weights another reward)"
        )
    if REWARD_MODEL_FLAG in given:
        raise LaunchError(f"{REWARD_MODEL_FLAG}: {REWARD_MODEL_REFUSAL}")
    if len(given) > 1:
        raise LaunchError(f"{' and '.join(given)}: give one reward source for RLEV to weight, not both")
    flag = given[0]
    spec, rest = pop_flag(rest, flag)
    if flag == REMOTE_URL_FLAG:
        if "," in spec or spec.startswith(("http://", "https://")):
            raise LaunchError(
                f"{flag} {spec}: RLEV weights a reward function (a .py file or module:func), not an HTTP reward "
                "server; to weight a server's reward, call it from a reward file"
            )
        try:
            return ("reward", weighted.check_spec(spec)), rest
        except weighted.WeightedError as e:
            raise LaunchError(f"{flag}: {e}") from None
    if not spec.endswith(".py") or not os.path.isfile(spec):
        raise LaunchError(f"{flag} {spec}: not an existing .py agent file")
    try:
        agent_path = registry.load_path(WEIGHTED_AGENT_MODULE, check=False)
    except registry.RegistryError as e:
        raise LaunchError(str(e)) from None
    return ("agent", os.path.abspath(spec)), [*rest, flag, agent_path]


def plan(argv: list[str], environ: Mapping[str, str] | None = None, check_reward_func: bool = True) -> Plan:
    environ = os.environ if environ is None else environ
    reward_func, flags, switches, rest = split_argv(argv)
    if reward_func is None:
        raise LaunchError(
            f"missing {REWARD_FUNC_FLAG} NAME (known: {', '.join(registry.known_names()) or 'none'}); "
            f"without it, run OpenRLHF directly: python -m openrlhf.cli.train_ppo_ray"
        )
    wraps, rest = _wrapped_source(reward_func, rest)
    if not any(_flag_matches(token, LABEL_KEY_FLAG) for token in rest):
        raise LaunchError(
            f"missing {LABEL_KEY_FLAG}: the reward func needs each prompt's label "
            f"(for RLEV: {LABEL_KEY_FLAG} label, the column `openrlhf-rlev prepare` writes)"
        )
    try:
        if wraps and wraps[0] == "reward":
            reward_path = registry.load_path(WEIGHTED_REWARD_MODULE, check=check_reward_func)
        else:
            reward_path = registry.resolve(reward_func, check=check_reward_func)
    except registry.RegistryError as e:
        raise LaunchError(f"{REWARD_FUNC_FLAG}: {e}") from None
    options = {name: flags.pop(name) for name in OPTIONS if name in flags}
    settings, explicit = resolve_settings(flags, environ)
    env = worker_env(settings, explicit, reward_func)
    if "log_jsonl" in options:
        env[LOG_JSONL_ENV] = os.path.abspath(options["log_jsonl"])
    if wraps:
        env[weighted.INNER_REWARD_ENV if wraps[0] == "reward" else weighted.INNER_AGENT_ENV] = wraps[1]
    if environ.get(CHAIN_ENV):  # the user's own setup hooks, run before ours in every worker (ray_setup)
        env[CHAIN_ENV] = environ[CHAIN_ENV]
    cpu = "cpu" in switches
    if cpu:
        from openrlhf_rlev.integrations.openrlhf.cpu import launch as cpu_launch

        env[CPU_ENV] = "1"
        # libgomp spins at every barrier by default: on shared or oversubscribed cores a descheduled thread makes its
        # partner burn the slice (one update 59 s -> 19 s wall, benchmarks/RESULTS.md). The launching shell's wins.
        env[OMP_WAIT_ENV] = environ.get(OMP_WAIT_ENV) or "PASSIVE"  # (an empty value is libgomp's default: spin)
        rest = cpu_launch.with_defaults(rest)
    cpu_dtype = options.get("cpu_dtype", numerics.DEFAULT)
    if "cpu_dtype" in options:
        if not cpu:
            raise LaunchError(
                "--rlev.cpu_dtype chooses the CPU backend's numerics and needs --rlev.cpu; a GPU run computes in "
                "--ds.param_dtype (DeepSpeed's bf16 mode by default) and vLLM samples in bf16"
            )
        try:
            env[numerics.DTYPE_ENV] = numerics.check(cpu_dtype)
        except ValueError as e:
            raise LaunchError(str(e)) from None
    return Plan(
        reward_func=reward_func,
        reward_path=reward_path,
        settings=settings,
        worker_env=dict(sorted(env.items())),
        # An agent run's engines use the agent (OpenRLHF then sets remote_url to "agent" itself).
        openrlhf_argv=rest if wraps and wraps[0] == "agent" else [*rest, REMOTE_URL_FLAG, reward_path],
        wraps=wraps,
        dry_run="dry_run" in switches,
        print_runtime_env="print_runtime_env" in switches,
        cpu=cpu,
        cpu_dtype=cpu_dtype,
        secret_env=secrets_to_forward(settings, environ),
    )


def secrets_to_forward(settings: Settings, environ: Mapping[str, str]) -> dict:
    """The secrets the workers need from the driver's env: none when the nodes hold the judge's key themselves
    (judge_api_key_file / judge_api_key_env); then only the file's path or the variable's name travels."""
    if settings.judge_api_key_file or settings.judge_api_key_env:
        return {}
    return {k: environ[k] for k in SECRET_ENV if environ.get(k)}


KEY_IN_RUNTIME_ENV = (
    "WARNING RLEV: RLEV_JUDGE_API_KEY travels in plain text in the job's runtime env (Ray's dashboard and job "
    "records show it); where the nodes can hold it, use --rlev.judge_api_key_file PATH or "
    "--rlev.judge_api_key_env NAME instead (docs/judge.md)"
)


def grpo_note(estimator: str, plan: Plan) -> tuple[str, str] | None:
    """(level, message) about what group_norm does to s(x) in this run; None for the other estimators."""
    if estimator != "group_norm" or plan.reward_func != "rlev":
        return None
    if plan.settings.grpo == "value" and plan.settings.scaling == "none":
        return (
            "info",
            "RLEV: --rlev.scaling none: s(x) = 1 (unless a label carries its own scale), so group_norm trains the "
            "accuracy-only baseline with or without the value-preserving wrapper",
        )
    if plan.settings.grpo == "value":
        return (
            "info",
            "RLEV: value-preserving GRPO is on: group_norm advantages are s(x) * (r - mean r) / (std r + 1e-9) "
            "per prompt group (r = s(x) * c), so the group still normalises difficulty and keeps the human value "
            "(--rlev.grpo stock for OpenRLHF's own group_norm)",
        )
    return (
        "warning",
        "RLEV: --rlev.grpo stock: OpenRLHF's group_norm computes (r - mean r) / std r per prompt group, which "
        "divides s(x) out exactly; this run trains the accuracy-only baseline. Use --rlev.grpo value "
        "(the default) or an estimator that keeps the value: reinforce, rloo, reinforce_baseline, dr_grpo",
    )


UPSTREAM_GRPO_NOTE = (
    "RLEV: this OpenRLHF weights advantages itself: with --algo.advantage.weight_key rlev/scale its group_norm "
    "keeps s(x) (s(x) * group_norm(r)), and openrlhf-rlev installs no GRPO wrapper"
)


def settings_dict(settings: Settings) -> dict:
    return dataclasses.asdict(settings)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(argv: list[str], environ: Mapping[str, str] | None = None, log=_stderr, out=print) -> int:
    """The whole launch: plan, OpenRLHF's real parser, then a dry run, the job-submit equivalent, or training.

    Errors in our flags raise LaunchError; OpenRLHF's argparse errors raise SystemExit(2) with its own message,
    as `python -m openrlhf.cli.train_ppo_ray` would.
    """
    from openrlhf_rlev.integrations.openrlhf import data_check, grpo, runtime_env, train_entry, version_guard

    environ = os.environ if environ is None else environ
    problem = version_guard.launcher_problem()
    if problem:
        raise LaunchError(problem)
    newer = version_guard.launcher_warning()
    if newer:
        log("WARNING " + newer)
    launch = plan(argv, environ)
    if launch.cpu:
        from openrlhf_rlev.integrations.openrlhf.cpu import install as cpu_install
        from openrlhf_rlev.integrations.openrlhf.cpu import launch as cpu_launch
        from openrlhf_rlev.integrations.openrlhf.version_guard import IncompatibleOpenRLHF

        try:
            cpu_install.check_compatible()
        except IncompatibleOpenRLHF as e:
            raise LaunchError(str(e)) from None
        cpu_install.shims.install()  # OpenRLHF's module imports vllm at the top
    try:
        # Importing OpenRLHF's stack can print to stdout (DeepSpeed's accelerator notice, with handlers bound to the
        # stdout of import time); stdout is for --rlev.dry_run's JSON and --rlev.print_runtime_env's output.
        with contextlib.redirect_stdout(sys.stderr):
            parsed = train_entry.parse(
                launch.openrlhf_argv, allow_missing_imports=launch.dry_run or launch.print_runtime_env
            )
        openrlhf_init = train_entry.ray_init_kwargs(parsed)
    except (AssertionError, AttributeError, TypeError, ValueError, train_entry.EntryError) as e:
        raise LaunchError(f"OpenRLHF rejected the arguments: {type(e).__name__}: {e}") from None
    if launch.cpu:
        refused = cpu_launch.problems(parsed.args, launch.cpu_dtype)
        if refused:
            raise LaunchError("--rlev.cpu cannot run this configuration:\n  - " + "\n  - ".join(refused))
    estimator = parsed.args.algo.advantage.estimator
    note = grpo_note(estimator, launch)
    if note and launch.settings.grpo == "value":
        try:
            if grpo.check_compatible() == grpo.UPSTREAM:
                note = ("info", UPSTREAM_GRPO_NOTE)
                launch.openrlhf_argv.extend(grpo.upstream_argv(parsed.args))
        except grpo.IncompatibleOpenRLHF as e:
            raise LaunchError(str(e)) from None
    init_kwargs = runtime_env.ray_init_kwargs(openrlhf_init, launch.shown_env())
    job_command = runtime_env.job_submit_command(launch.shown_env(), launch.openrlhf_argv)

    if launch.dry_run:
        try:
            data = data_check.check(
                parsed.args.data.prompt_dataset,
                parsed.args.data.input_key,
                parsed.args.data.label_key,
                rlev_labels=launch.reward_func == "rlev",
            )
        except data_check.DataCheckError as e:
            raise LaunchError(str(e)) from None
        for report in data:
            log(data_check.summary_line(report))
        if not in_site_packages(launch.reward_path):
            log(
                f"RLEV: the reward file is {launch.reward_path}, outside any site-packages (an editable install): "
                "other nodes of a cluster do not have that path. Install the wheel on every node "
                "(`pip wheel --no-deps -w dist . && pip install dist/openrlhf_rlev-*.whl`), see docs/cluster.md"
            )
        out(
            json.dumps(
                {
                    "reward_func": launch.reward_func,
                    "weights": dict(zip(("kind", "source"), launch.wraps)) if launch.wraps else None,
                    "openrlhf_argv": launch.openrlhf_argv,
                    "openrlhf_args": train_entry.to_dict(parsed.args),
                    "rlev_settings": settings_dict(launch.settings),
                    "grpo": note[1] if note else None,
                    "ray_init": init_kwargs,
                    "ray_job_submit": job_command,
                    "stubbed_imports": parsed.stubbed_imports,
                    "data": data,
                },
                indent=2,
                sort_keys=True,
            )
        )
        return 0
    if launch.print_runtime_env:
        out(json.dumps(runtime_env.rlev_runtime_env(launch.shown_env()), sort_keys=True))
        out(job_command)
        return 0

    if note:
        log(("WARNING " if note[0] == "warning" else "") + note[1])
    if launch.secret_env:
        log(KEY_IN_RUNTIME_ENV)
    env = {**launch.worker_env, **launch.secret_env}
    if launch.cpu:
        env[cpu_install.SEED_ENV] = str(parsed.args.train.seed)
        env[cpu_install.device.CONCURRENCY_ENV] = cpu_launch.concurrency(parsed.args)
    init_kwargs = runtime_env.ray_init_kwargs(openrlhf_init, env)
    try:
        init_kwargs = runtime_env.reconcile_with_job(init_kwargs, environ)
    except runtime_env.RuntimeEnvError as e:
        raise LaunchError(str(e)) from None
    extra = {}
    if launch.cpu:
        parsed.args.actor.model_name_or_path = cpu_launch.resolve_model(parsed.args.actor.model_name_or_path)
        cpu_install.driver(parsed.namespace)
        extra = cpu_launch.ray_resources(parsed.args)
        if cpu_launch.joins_cluster(environ):
            # `ray job submit` or RAY_ADDRESS: the nodes were started with their own resources (`ray start
            # --num-gpus N` gives N process slots that stand in for GPUs); Ray refuses resources from a driver.
            slots, extra = extra["num_gpus"], {}
            log(f"RLEV: CPU backend on an existing Ray cluster: needs {slots} 'GPU' slots (CPU processes)")
        else:
            # Ray runs workers at nice 15 to favour its own daemons; here the workers are the whole computation.
            os.environ.setdefault("RAY_worker_niceness", "0")
            log(f"RLEV: CPU backend: local Ray with {extra['num_gpus']} CPU processes standing in for GPUs")
    runtime_env.init_ray(init_kwargs, **extra)
    if launch.cpu and not extra:
        problem = cpu_launch.cluster_problem(slots)
        if problem:
            raise LaunchError(problem)
    # After ray.init: a local Ray inherits the driver's environment, which would hide a missing runtime env.
    os.environ.update(launch.worker_env)  # the driver reads the same settings as the workers
    parsed.train(parsed.args)
    return 0
