"""RLEV for OpenRLHF: value-scaled verifiable rewards r = s(x) * 1[correct], s = 1 + min(alpha * v, 1).

Layers: `reward` (the framework-free core) and `verifiers`; `integrations` (openrlhf, trl, verl); `prepare`
(datasets with value labels) and `evaluation` (metrics, plots, generation); `cli` (thin front ends).
"""

import os

from openrlhf_rlev._lazy import exports

__version__ = "0.1.0"

# Pass this to OpenRLHF as --reward.remote_url (`openrlhf-rlev reward-path` prints it).
REWARD_FUNC_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "integrations", "openrlhf", "reward_func.py"
)

__all__ = ["REWARD_FUNC_PATH", "Verdict", "__version__", "score"]
__getattr__ = exports("openrlhf_rlev.reward", {"score": "core", "Verdict": "core"})
