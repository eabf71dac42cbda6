"""A stable public path: `openrlhf_rlev.ray_setup.setup`, the Ray `worker_process_setup_hook` that users who start
Ray themselves name in their runtime env. The hook itself is integrations/openrlhf/ray_setup.py."""

from openrlhf_rlev.integrations.openrlhf.ray_setup import setup

__all__ = ["setup"]
