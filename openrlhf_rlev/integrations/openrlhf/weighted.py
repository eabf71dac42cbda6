"""RLEV on someone else's reward: r = s(x) * (their reward), their `extra_logs` kept and `rlev/*` added.

`openrlhf-rlev train --reward_func rlev --reward.remote_url their_reward.py` (or `pkg.module:func`), or
`--train.agent_func_path their_agent.py`, runs their reward or agent unchanged through OpenRLHF's own executors and
multiplies what it returns by s(x) = the label's scale, or 1 + min(alpha * v(x), 1) from the label's value (the
settings are the same `--rlev.*` as for RLEV's own reward). Their function receives the label column as it is in
the data (for a prepared dataset a dict with "answer" and "value"). `scores` stay theirs (OpenRLHF's dynamic
filtering reads them; without their own, OpenRLHF uses their unscaled reward), so nothing but the reward changes.

The thin files OpenRLHF loads by path are `weighted_reward.py` (a reward file) and `weighted_agent.py` (an agent
file); the launcher points OpenRLHF at them and names the user's file in the workers' environment.
"""

import importlib
import math
import os

from openrlhf_rlev.integrations.openrlhf import registry
from openrlhf_rlev.reward.core import scale_for
from openrlhf_rlev.reward.labels import LabelError, parse_label
from openrlhf_rlev.reward.logs import PREFIX
from openrlhf_rlev.reward.settings import Settings

INNER_REWARD_ENV = "OPENRLHF_RLEV_INNER_REWARD"  # their reward file (absolute path) or "module:function"
INNER_AGENT_ENV = "OPENRLHF_RLEV_INNER_AGENT"  # their agent file (absolute path)
BASE_REWARD = f"{PREFIX}base_reward"  # their reward before s(x), logged so a run shows what they paid
LOG_KEYS = (f"{PREFIX}scale", f"{PREFIX}value", BASE_REWARD, f"{PREFIX}label_error", f"{PREFIX}inner_error")


class WeightedError(ValueError):
    pass


def load_reward(spec: str):
    """Their reward function: a .py file loaded exactly as OpenRLHF loads one (by path, attribute `reward_func`), or
    `module:function` imported by name."""
    if spec.endswith(".py"):
        try:
            return registry.load_like_openrlhf(spec, "the reward file")
        except registry.RegistryError as e:
            raise WeightedError(str(e)) from None
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise WeightedError(f"{spec!r} is neither a .py reward file nor 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:
        raise WeightedError(f"could not import {module_name}: {type(e).__name__}: {e}") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise WeightedError(f"{module_name} has no callable {attr!r}")
    return func


def check_spec(spec: str) -> str:
    """What the launcher forwards: an absolute path for a file (workers start elsewhere), else the name unchanged."""
    if spec.endswith(".py"):
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise WeightedError(f"{spec} does not exist")
        return path
    load_reward(spec)
    return spec


def number(x) -> float:
    """A float from what OpenRLHF accepts as a reward: a number or a one-element tensor."""
    if hasattr(x, "item"):
        x = x.item()
    return float(x)


def label_logs(label, settings: Settings) -> tuple[float, dict]:
    """(s(x), the rlev/* logs that come from the label alone)."""
    try:
        parsed = parse_label(label)  # once per sample: value and s(x) both come from it
        value, label_error, scale = parsed.value, 0.0, scale_for(parsed, settings)
    except LabelError:
        value, label_error, scale = None, 1.0, 1.0  # their labels need not be RLEV's: s = 1, their reward unchanged
    return scale, {
        f"{PREFIX}scale": float(scale),
        f"{PREFIX}value": float(value or 0.0),
        f"{PREFIX}label_error": label_error,
        f"{PREFIX}inner_error": 0.0,
    }


def weigh(reward, label, their_logs: dict | None, settings: Settings) -> tuple[float, dict]:
    """(s(x) * their reward, their logs + rlev/*); a non-finite reward of theirs stays what it was, unscaled."""
    base = number(reward)
    scale, logs = label_logs(label, settings)
    weighted = base * scale if math.isfinite(base) else base
    merged = {k: v for k, v in (their_logs or {}).items() if k not in LOG_KEYS}
    merged.update(logs)
    merged[BASE_REWARD] = base
    return weighted, merged
