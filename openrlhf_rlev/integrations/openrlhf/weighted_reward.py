"""The reward file for RLEV on a user's reward function (see weighted.py); OpenRLHF loads it by path.

`openrlhf-rlev train --reward_func rlev --reward.remote_url their_reward.py ...` points OpenRLHF here and names their
file (or `module:function`) in OPENRLHF_RLEV_INNER_REWARD. Each call runs theirs with the same arguments and
returns s(x) * their rewards, their scores, and their extra_logs plus rlev/*. Never raises into OpenRLHF: an
exception of theirs is logged (rate-limited) and that sample gets reward 0 with rlev/inner_error 1.
"""

import os
import threading

from openrlhf_rlev.integrations.openrlhf import weighted
from openrlhf_rlev.integrations.openrlhf.query import reply
from openrlhf_rlev.reward.sample import warner as _warner
from openrlhf_rlev.reward.settings import Settings

_lock = threading.Lock()
_loaded: dict = {}


def their_reward_func():
    """Their function, loaded once per process (OpenRLHF calls this file from many threads at once)."""
    spec = os.environ.get(weighted.INNER_REWARD_ENV, "")
    with _lock:
        if _loaded.get("spec") != spec:
            if not spec:
                raise weighted.WeightedError(
                    f"{weighted.INNER_REWARD_ENV} is not set: launch with openrlhf-rlev train"
                )
            _loaded.update(spec=spec, func=weighted.load_reward(spec))
        return _loaded["func"]


def _floats(x, n: int) -> list[float]:
    if hasattr(x, "tolist"):
        x = x.tolist()
    if not isinstance(x, (list, tuple)):
        x = [x]
    if len(x) != n:
        raise ValueError(f"got {len(x)} values for {n} samples")
    return [weighted.number(v) for v in x]


def reward_func(queries, prompts, labels, **kwargs):
    n = len(queries) if isinstance(queries, (list, tuple)) else 1
    labels = list(labels) if isinstance(labels, (list, tuple)) else [labels] * n
    try:
        settings = Settings.from_env()
        result = their_reward_func()(queries, prompts, labels, **kwargs)
        rewards = _floats(result["rewards"], n)
        scores = _floats(result["scores"], n) if result.get("scores") is not None else list(rewards)
        their_logs = [{} for _ in range(n)]
        for key, values in (result.get("extra_logs") or {}).items():
            for i, v in enumerate(_floats(values, n)):
                their_logs[i][key] = v
        weighed = [weighted.weigh(rewards[i], labels[i], their_logs[i], settings) for i in range(n)]
        _loaded["log_keys"] = sorted(weighed[0][1])  # for a failing sample: every sample must log the same keys
    except Exception as e:
        _warner.warn(f"inner:{type(e).__name__}", f"RLEV: the wrapped reward failed: {type(e).__name__}: {e}")
        keys = _loaded.get("log_keys") or sorted(weighted.LOG_KEYS)
        weighed, scores = [(0.0, _failed_logs(keys, label)) for label in labels[:n]], [0.0] * n
    return reply([r for r, _ in weighed], scores, [logs for _, logs in weighed])


def _failed_logs(keys: list, label) -> dict:
    """A failed sample's logs: the same keys as the others, the label's own s(x), inner_error 1."""
    logs = dict.fromkeys(keys, 0.0)
    try:
        logs.update(weighted.label_logs(label, Settings.from_env())[1])
    except Exception:
        logs[f"{weighted.PREFIX}scale"] = 1.0
    logs[f"{weighted.PREFIX}inner_error"] = 1.0
    return logs
