"""RLEV for verl: `reward.custom_reward_function.path=pkg://openrlhf_rlev.integrations.verl`,
`name=compute_score`, and `algorithm.adv_estimator=rlev_grpo` (registered by `plugin` wherever verl is imported)."""

from openrlhf_rlev.integrations.verl.adapter import (
    ESTIMATOR,
    compute_score,
    label_from_verl,
    register_advantage_estimator,
    rlev_grpo_advantage,
)

__all__ = ["ESTIMATOR", "compute_score", "label_from_verl", "register_advantage_estimator", "rlev_grpo_advantage"]
