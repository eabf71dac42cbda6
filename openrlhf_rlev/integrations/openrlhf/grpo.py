"""Value-preserving GRPO: group_norm that keeps s(x).

OpenRLHF's group_norm advantage is (r - mean r) / (std r + eps) inside each prompt's group. With RLEV every
reward of a group is s(x) * c, so s(x) divides out exactly and "RLEV with GRPO" trains the accuracy-only
baseline. Here the advantage becomes

    A = s(x) * (c - mean c) / (std c + eps)        (c = 0/1 correctness, per prompt group)

so the group still normalises for difficulty and a prompt worth twice as much pushes twice as hard.

How, without copying OpenRLHF's code: `RemoteExperienceMaker.compute_advantages_and_returns` is wrapped in the
process that runs it (the PPO trainer actor; `ray_setup` installs the wrapper there through an import hook).
For group_norm the wrapper computes the per-sample target A above, then calls OpenRLHF's own function with the
estimator presented as dr_grpo, whose only group step is "minus the group mean" (A already has group mean 0),
followed by OpenRLHF's KL penalty, reward clipping and per-token returns, unchanged. Every other estimator goes
straight to the original function, so its output is bit-identical.

s(x) comes from the reward's own log (`info["rlev/scale"]`, exactly what the reward used) or else from the
label (`Experience.labels` + settings), never from the reward. c comes from `Experience.scores`, else
`info["score"]`, else `info["rlev/correct"]`. OpenRLHF's length penalties (DAPO overlong, ProRL stop-properly),
when configured, are applied by OpenRLHF's own `apply_length_penalties` to c, i.e. in accuracy units, before
the group normalisation, and are then scaled with the value like the correctness they modify.

The wrapper refuses to install on OpenRLHF code it was not tested on (a fingerprint of the two functions it
relies on): it raises with a clear message rather than doing something else silently. An OpenRLHF that keeps a
reward's `scales` in group_norm itself (the upstream change in patches/) needs no wrapper: it steps aside there.
"""

import copy
import functools
import inspect
import itertools
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
EPS = 1e-9  # OpenRLHF's group_norm epsilon (0.8.11-0.11.2)
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


UPSTREAM = "upstream"  # check_compatible's answer where OpenRLHF's own group_norm keeps the reward's scales


class MissingSignal(RuntimeError):
    """A sample lacks what value-preserving GRPO needs (its scale or its correctness)."""


# ── version guard ──


def fingerprint(openrlhf_root: Path) -> str:
    """sha256 of the source of the OpenRLHF functions the wrapper relies on."""
    return version_guard.fingerprint(openrlhf_root, _FINGERPRINTED)


def upstream_keeps_scale(openrlhf_root: Path | None = None) -> bool:
    """Whether this OpenRLHF's group_norm keeps the `scales` a reward returns (patches/0002, upstream)."""
    root = version_guard.installed_openrlhf_root() if openrlhf_root is None else Path(openrlhf_root)
    try:
        source = version_guard.function_source(root / _FINGERPRINTED[0][0], _FINGERPRINTED[0][1])
    except (OSError, SyntaxError, IncompatibleOpenRLHF):
        return False
    return "scales" in source


def check_compatible(openrlhf_root: Path | None = None) -> str:
    """The tested OpenRLHF's name; "upstream" where OpenRLHF keeps the scale itself; else IncompatibleOpenRLHF."""
    if upstream_keeps_scale(openrlhf_root):
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
    import torch

    n = len(experience.index)
    scale = experience.info.get("rlev/scale")
    if scale is not None:
        values = torch.as_tensor(scale).reshape(-1)
    elif experience.labels and len(experience.labels) == n:
        values = torch.tensor([label_scale(label, settings) for label in experience.labels], dtype=torch.float64)
    else:
        raise MissingSignal(
            "value-preserving GRPO needs each sample's s(x): the experience has no info['rlev/scale'] (the RLEV "
            "reward's extra_logs) and no labels. Is the reward func rlev? Otherwise use --rlev.grpo stock"
        )
    if values.numel() != n:
        raise MissingSignal(f"info['rlev/scale'] has {values.numel()} entries for {n} samples")
    return values


def sample_correctness(experience):
    import torch

    n = len(experience.index)
    for name, value in (
        # RLEV on a user's reward (weighted.py): their unscaled reward is what the group normalises, not their scores
        ("info['rlev/base_reward']", experience.info.get("rlev/base_reward")),
        ("scores", experience.scores),
        ("info['score']", experience.info.get("score")),
        ("info['rlev/correct']", experience.info.get("rlev/correct")),
    ):
        if value is not None:
            value = torch.as_tensor(value).reshape(-1)
            if value.numel() != n:
                raise MissingSignal(f"{name} has {value.numel()} entries for {n} samples")
            return value
    raise MissingSignal(
        "value-preserving GRPO needs each sample's 0/1 correctness: the experience has no scores, "
        "info['score'] or info['rlev/correct']. Is the reward func rlev? Otherwise use --rlev.grpo stock"
    )


class _Override:
    """`target` with a few attributes replaced; everything else is read from `target`."""

    def __init__(self, target, **overrides):
        self.__dict__.update(overrides)
        self.__dict__["_target"] = target

    def __getattr__(self, name):
        return getattr(self._target, name)


def _as_dr_grpo(args):
    """A copy of the args in which the estimator is dr_grpo and no length penalty is configured (already applied)."""
    args = copy.copy(args)
    args.algo = copy.copy(args.algo)
    args.algo.advantage = copy.copy(args.algo.advantage)
    args.algo.advantage.estimator = "dr_grpo"
    args.reward = copy.copy(args.reward)
    args.reward.overlong_buffer_len = None
    args.reward.stop_properly_penalty_coef = None
    return args


_warned = set()


def _once(key: str, level: int, message: str):
    if key not in _warned:
        _warned.add(key)
        logger.log(level, message)


def value_preserving_group_norm(original, maker, experiences):
    """OpenRLHF's compute_advantages_and_returns with group_norm's advantage replaced by s * group_norm(c)."""
    import torch

    args = maker.strategy.args
    n = args.rollout.n_samples_per_prompt
    settings = Settings.from_env()
    scales = [sample_scales(e, settings) for e in experiences]
    correct = [sample_correctness(e) for e in experiences]

    # Length penalties in accuracy units, by OpenRLHF's own function (the one compute_advantages_and_returns uses).
    for experience, c in zip(experiences, correct):
        experience.rewards = c.to(torch.promote_types(experience.rewards.dtype, torch.float32))
    inspect.unwrap(original).__globals__["apply_length_penalties"](experiences, args)

    # Group exactly as OpenRLHF does: sample `index` gives the position in prompt order, n per prompt.
    exp_len = [len(e.index) for e in experiences]
    indices = torch.tensor(list(itertools.chain.from_iterable(e.index for e in experiences)))
    flat_c = torch.cat([e.rewards for e in experiences])
    c_groups = torch.empty_like(flat_c)
    c_groups[indices] = flat_c
    c_groups = c_groups.reshape(-1, n)
    s_groups = torch.empty_like(flat_c)
    s_groups[indices] = torch.cat(scales).to(flat_c.dtype)
    s_groups = s_groups.reshape(-1, n)
    if not torch.equal(s_groups, s_groups[:, :1].expand_as(s_groups)):
        _once("varying", logging.WARNING, "RLEV: s(x) differs inside a prompt group; each sample keeps its own s")

    target = s_groups * (c_groups - c_groups.mean(-1, keepdim=True)) / (c_groups.std(-1, keepdim=True) + EPS)
    rewards = s_groups * c_groups  # the value-scaled reward, for logging as OpenRLHF logs the reward
    for experience, t in zip(experiences, target.reshape(-1)[indices].split(exp_len)):
        experience.rewards = t

    proxy = _Override(
        maker,
        advantage_estimator="dr_grpo",
        strategy=_Override(maker.strategy, args=_as_dr_grpo(args)),
    )
    experiences = original(proxy, experiences)

    group_std = rewards.std(-1, keepdim=True).expand(-1, n).reshape(-1)[indices].split(exp_len)
    for experience, reward, std in zip(experiences, rewards.reshape(-1)[indices].split(exp_len), group_std):
        experience.rewards = reward
        if "reward" in experience.info:
            experience.info["reward"] = reward.clone()
        experience.info["group_reward_std"] = std
    _once(
        "on",
        logging.INFO,
        "RLEV: value-preserving GRPO active: group_norm advantages = s(x) * (c - mean c) / (std c + 1e-9)",
    )
    return experiences


def wrap(original):
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
    leaves an OpenRLHF that keeps the reward's scales in group_norm itself unpatched (check_compatible)."""
    return "patched" if import_hooks.after_import(TARGET_MODULE, patch) == "now" else "deferred"


def uninstall() -> None:
    """Remove the import hook (tests); a class already patched stays patched."""
    import_hooks.forget(TARGET_MODULE)
