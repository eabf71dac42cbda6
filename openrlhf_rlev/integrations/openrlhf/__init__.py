"""Everything that knows OpenRLHF: the reward file and its HTTP twin, the launcher (`--reward_func`, `--rlev.*`) and
its dry run's data check, the Ray runtime env and setup hook, RLEV on a user's reward or agent (weighted*), the
plain route's warning, value-keeping GRPO, the step log, eval labels, version guards, the CPU backend.

Supported: OpenRLHF 0.10.2-0.11.x (dotted flags). Submodules are not imported here: the reward file is loaded by
path in every rollout engine and must not pull in the launcher or torch.
"""

__all__ = [
    "cpu",
    "data_check",
    "eval_labels",
    "grpo",
    "import_hooks",
    "launcher",
    "plain_route",
    "query",
    "ray_setup",
    "registry",
    "replay",
    "response",
    "reward_func",
    "runtime_env",
    "server",
    "steplog",
    "train_entry",
    "version_guard",
    "weighted",
    "weighted_agent",
    "weighted_reward",
]
