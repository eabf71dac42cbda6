"""RLEV outside OpenRLHF: the same labels, reward and `rlev/*` logs, and value-keeping GRPO, for other trainers.

- `openrlhf_rlev.integrations.trl`: `rlev_reward` for TRL's `GRPOTrainer`, and `RLEVGRPOTrainer`.
- `openrlhf_rlev.integrations.verl`: `compute_score` for verl's `custom_reward_function`, and the `rlev_grpo`
  advantage estimator (registered by `verl_plugin` in every process that imports verl).

Submodules are not imported here: each pulls in its framework only where it must.
"""

__all__ = ["trl", "verl", "verl_plugin"]
