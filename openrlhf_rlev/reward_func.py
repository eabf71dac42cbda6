"""A stable public path: `openrlhf_rlev.reward_func:reward_func` (the `openrlhf.reward_funcs` entry point and
upstream's `--reward.remote_url module:func`). The reward file itself is integrations/openrlhf/reward_func.py."""

from openrlhf_rlev.integrations.openrlhf.reward_func import reward_func

__all__ = ["reward_func"]
