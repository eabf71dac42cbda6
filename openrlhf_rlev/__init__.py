"""RLEV for OpenRLHF: value-scaled verifiable rewards r = s(x) * 1[correct], s = 1 + min(alpha * v, 1)."""

import os

__version__ = "0.1.0"

# Pass this to OpenRLHF as --reward.remote_url.
REWARD_FUNC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reward_func.py")


def __getattr__(name):
    # Lazy, so `import openrlhf_rlev` stays cheap in every Ray worker.
    if name in ("score", "Verdict"):
        from openrlhf_rlev import core

        return getattr(core, name)
    raise AttributeError(name)
