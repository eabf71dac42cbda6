"""One folder per trainer; each adapts the same reward core, labels and `rlev/*` logs to its host.

- `openrlhf`: the reward file, launcher, value-keeping GRPO, CPU backend (the main target).
- `trl`: `rlev_reward` for TRL's `GRPOTrainer`, and `RLEVGRPOTrainer`.
- `verl`: `compute_score` for verl's `custom_reward_function`, and the `rlev_grpo` advantage estimator.

Submodules are not imported here: each pulls in its framework only where it must.
"""

__all__ = ["openrlhf", "trl", "verl"]
