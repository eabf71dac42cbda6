"""Value-preserving GRPO: group_norm that keeps s(x).

OpenRLHF's group_norm advantage is (r - mean r) / (std r + eps) inside each prompt's group. With RLEV every
reward of a group is s(x) * c, so s(x) divides out exactly and "RLEV with GRPO" trains the accuracy-only
baseline. Here each sample's group_norm advantage is multiplied by its own s(x):

    A = s(x) * (r - mean r) / (std r + eps)   (r = s(x) * c, after OpenRLHF's length penalties)
      = s(x) * (c - mean c) / (std c + eps / s(x))   when no penalty is configured,

so the group still normalises for difficulty and a prompt worth twice as much pushes twice as hard.

This is exactly what the upstream change in patches/ (`--algo.advantage.weight_key rlev/scale`) computes: the
weight multiplies each sample's reward after OpenRLHF's length penalties (DAPO overlong, ProRL stop-properly,
which act on the RLEV reward as returned, in reward units) and the group_norm baseline, and before the KL penalty,
reward clipping and per-token returns. tests/integrations/openrlhf/test_grpo.py runs both and compares them bit for
bit. An OpenRLHF that has that flag needs no wrapper: the launcher passes the flag there and this module steps aside.

How, without copying OpenRLHF's code: `RemoteExperienceMaker.compute_advantages_and_returns` is wrapped in the
process that runs it (the PPO trainer actor; `ray_setup` installs the wrapper there through an import hook). For
group_norm the wrapper runs OpenRLHF's own function unchanged, with the one function it calls per micro-batch
after the baseline, `compute_reward(reward, kl_coef, kl, action_mask=...)`, given `reward * s`. Every other
estimator goes straight to the original function, so its output is bit-identical.

That one function is reached through the experience maker's module globals, so `wrap` replaces the module's
`compute_reward` once, when it wraps, by a router that multiplies by the s(x) of the call in progress, held in a
ContextVar (its own value in each thread and each asyncio task), and otherwise calls OpenRLHF's function as is. No
global changes per call: two make_experience calls at once (another thread, an async trainer) each weight their
own batch, and a call that is not value-keeping GRPO goes through unweighted. (OpenRLHF 0.11.2 itself calls it
from one Ray actor method at a time, PPOTrainer.fit or the async TrainingActor.fit; the wrapper does not rely on it.)

s(x) comes from the reward's own log (`info["rlev/scale"]`, exactly what the reward used, and what the upstream
flag reads) or else from the label (`Experience.labels` + settings); it must be finite and >= 0 for every sample.

The wrapper refuses to install on OpenRLHF code it was not tested on (a fingerprint of the two functions it
relies on): it raises with a clear message rather than doing something else silently.
"""

import contextvars
import functools
import inspect
import logging
from pathlib import Path

from openrlhf_rlev.integrations.openrlhf import import_hooks, version_guard
from openrlhf_rlev.integrations.openrlhf.version_guard import IncompatibleOpenRLHF, installed_openrlhf_root  # noqa: F401 (public API)
from openrlhf_rlev.reward.core import label_scale
from openrlhf_rlev.reward.settings import Settings

logger = logging.getLogger("openrlhf_rlev.integrations.openrlhf.grpo")

TARGET_MODULE = "openrlhf.trainer.ppo_utils.experience_maker"
TARGET_CLASS = "RemoteExperienceMaker"
TARGET_METHOD = "compute_advantages_and_returns"
PATCHED_MARK = "__rlev_value_preserving__"
# Fingerprints (see `fingerprint`) of the OpenRLHF code this wrapper was tested against.
TESTED = {
    "dd547041d0e087398461a10f491231c915ba179c2ea3fa68f6529a6d4bf54016": "openrlhf 0.10.2/0.10.3/0.10.4/0.11.0/0.11.1",
    "4e00413beb88290496224ca3952b62322b9579aca083fcdeafff65d46879c978": "openrlhf 0.11.2",
}
_FINGERPRINTED = (
    ("trainer/ppo_utils/experience_maker.py", f"{TARGET_CLASS}.{TARGET_METHOD}"),
    ("trainer/ppo_utils/length_penalty.py", "apply_length_penalties"),
)


UPSTREAM = "upstream"  # check_compatible: this OpenRLHF weights advantages itself (--algo.advantage.weight_key)
WEIGHT_KEY = "rlev/scale"  # the RLEV reward's extra_logs entry holding s(x): the upstream flag's value


class MissingSignal(RuntimeError):
    """A sample lacks a usable s(x) (none logged and no label, or not finite and >= 0)."""


# ── version guard ──


def fingerprint(openrlhf_root: Path) -> str:
    """sha256 of the source of the OpenRLHF functions the wrapper relies on."""
    return version_guard.fingerprint(openrlhf_root, _FINGERPRINTED)


def upstream_weights_advantages(openrlhf_root: Path | None = None) -> bool:
    """Whether this OpenRLHF has `--algo.advantage.weight_key` (patches/advantage-weight, upstream)."""
    root = version_guard.installed_openrlhf_root() if openrlhf_root is None else Path(openrlhf_root)
    try:
        source = version_guard.function_source(root / _FINGERPRINTED[0][0], _FINGERPRINTED[0][1])
    except (OSError, SyntaxError, IncompatibleOpenRLHF):
        return False
    return "weight_key" in source


def upstream_argv(args) -> list[str]:
    """On an OpenRLHF that weights advantages itself: the flag that makes group_norm keep s(x), set on `args` too.

    [] when the flag is already `rlev/scale`; another key would weight by something other than s(x): refused."""
    key = getattr(args.algo.advantage, "weight_key", None)
    if key not in (None, WEIGHT_KEY):
        raise IncompatibleOpenRLHF(
            f"--algo.advantage.weight_key {key}: value-preserving GRPO weights group_norm by {WEIGHT_KEY}. "
            "Use --rlev.grpo stock to weight by your own key instead"
        )
    args.algo.advantage.weight_key = WEIGHT_KEY
    return [] if key else ["--algo.advantage.weight_key", WEIGHT_KEY]


def check_compatible(openrlhf_root: Path | None = None) -> str:
    """The tested OpenRLHF's name; "upstream" where OpenRLHF weights advantages itself; else IncompatibleOpenRLHF."""
    if upstream_weights_advantages(openrlhf_root):
        return UPSTREAM
    return version_guard.check(
        _FINGERPRINTED,
        TESTED,
        "value-preserving GRPO refuses to patch",
        "Use --rlev.grpo stock (s(x) then cancels under group_norm), or an estimator that keeps the value "
        "(reinforce, rloo, reinforce_baseline, dr_grpo), or an openrlhf-rlev release that supports this OpenRLHF",
        openrlhf_root,
    )


# ── the computation ──


def sample_scales(experience, settings: Settings):
    """Each sample's s(x) as float32 (the dtype OpenRLHF gives the logged value), checked finite and >= 0."""
    import torch

    n = len(experience.index)
    scale = experience.info.get(WEIGHT_KEY)
    if scale is not None:
        values = torch.as_tensor(scale).reshape(-1)
    elif experience.labels and len(experience.labels) == n:
        values = torch.tensor([label_scale(label, settings) for label in experience.labels])
    else:
        raise MissingSignal(
            f"value-preserving GRPO needs each sample's s(x): the experience has no info['{WEIGHT_KEY}'] (the RLEV "
            "reward's extra_logs) and no labels. Is the reward func rlev? Otherwise use --rlev.grpo stock"
        )
    if values.numel() != n:
        raise MissingSignal(f"info['{WEIGHT_KEY}'] has {values.numel()} entries for {n} samples")
    values = values.to(torch.float32)
    if not (values.isfinite() & (values >= 0)).all():
        raise MissingSignal(f"s(x) must be finite and >= 0 for every sample, got {values.tolist()}")
    return values


_warned = set()


def _once(key: str, level: int, message: str):
    if key not in _warned:
        _warned.add(key)
        logger.log(level, message)


# s(x) per micro-batch (keyed by id(action_mask)) of the value-keeping call running in this thread / task, else None
_CALL_SCALES: contextvars.ContextVar = contextvars.ContextVar("rlev_grpo_scales", default=None)


def route_compute_reward(module_globals: dict) -> None:
    """Once per module: its `compute_reward` becomes a router that weights `reward` by the current call's s(x).

    Outside a value-keeping call (no scales in this context) it calls OpenRLHF's function with the same arguments."""
    openrlhf_compute_reward = module_globals.get("compute_reward")
    if openrlhf_compute_reward is None:  # the fingerprinted OpenRLHF code has it: this is some other function
        raise IncompatibleOpenRLHF(
            f"value-preserving GRPO weights the compute_reward that {TARGET_METHOD} calls; its module has none"
        )
    if getattr(openrlhf_compute_reward, PATCHED_MARK, False):
        return

    @functools.wraps(openrlhf_compute_reward)
    def compute_reward(reward, *args, **kwargs):
        scales = _CALL_SCALES.get()
        if scales is None:
            return openrlhf_compute_reward(reward, *args, **kwargs)
        # called once per micro-batch, after the length penalties and the group_norm baseline; weighted once even if
        # another router sits below this one (re-routed after someone else replaced the function)
        token = _CALL_SCALES.set(None)
        try:
            return openrlhf_compute_reward(reward * scales[id(kwargs["action_mask"])], *args, **kwargs)
        finally:
            _CALL_SCALES.reset(token)

    setattr(compute_reward, PATCHED_MARK, True)
    module_globals["compute_reward"] = compute_reward


def value_preserving_group_norm(original, maker, experiences):
    """OpenRLHF's compute_advantages_and_returns, each sample's group_norm advantage multiplied by its s(x)."""
    settings = Settings.from_env()
    route_compute_reward(inspect.unwrap(original).__globals__)  # done by `wrap`; again if something replaced it since
    token = _CALL_SCALES.set({id(e.action_mask): sample_scales(e, settings) for e in experiences})
    try:
        experiences = original(maker, experiences)
    finally:
        _CALL_SCALES.reset(token)
    _once("on", logging.INFO, "RLEV: value-preserving GRPO active: group_norm advantages = s(x) * group_norm(r)")
    return experiences


def wrap(original):
    module_globals = inspect.unwrap(original).__globals__
    if "compute_reward" in module_globals:  # OpenRLHF's module; anything else is routed, or refused, when it weights
        route_compute_reward(module_globals)

    @functools.wraps(original)
    def compute_advantages_and_returns(self, experiences, *args, **kwargs):
        estimator = self.strategy.args.algo.advantage.estimator
        if estimator != "group_norm" or Settings.from_env().grpo != "value":
            return original(self, experiences, *args, **kwargs)
        return value_preserving_group_norm(original, self, experiences)

    setattr(compute_advantages_and_returns, PATCHED_MARK, True)
    return compute_advantages_and_returns


# ── installation ──


def patch(module) -> None:
    """Wrap `module.RemoteExperienceMaker.compute_advantages_and_returns` after checking the code's shape."""
    cls = getattr(module, TARGET_CLASS)
    current = getattr(cls, TARGET_METHOD)
    if getattr(current, PATCHED_MARK, False):
        return
    if check_compatible(Path(module.__file__).resolve().parents[2]) == UPSTREAM:
        return
    setattr(cls, TARGET_METHOD, wrap(current))


def install() -> str:
    """Patch now if the experience maker is loaded, else when it is imported: 'patched' or 'deferred'. `patch`
    leaves an OpenRLHF that weights advantages itself unpatched (check_compatible)."""
    return "patched" if import_hooks.after_import(TARGET_MODULE, patch) == "now" else "deferred"


def uninstall() -> None:
    """Remove the import hook (tests); a class already patched stays patched."""
    import_hooks.forget(TARGET_MODULE)
