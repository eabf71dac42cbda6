"""RLEV for TRL's GRPOTrainer: `GRPOTrainer(reward_funcs=[rlev_reward], ...)`, or `RLEVGRPOTrainer` to keep s(x)
under `scale_rewards="group"`. Importing this package for the reward needs neither trl nor torch."""

from openrlhf_rlev.integrations.trl.adapter import batch_metrics, message_text, rlev_reward, value_keeping_advantages

# RLEVGRPOTrainer is public too, but left out of __all__: a star-import must not need trl and torch.
__all__ = ["batch_metrics", "message_text", "rlev_reward", "value_keeping_advantages"]


def __getattr__(name):
    if name == "RLEVGRPOTrainer":  # built on first access (PEP 562): it subclasses trl's GRPOTrainer
        from openrlhf_rlev.integrations.trl import adapter

        return adapter.RLEVGRPOTrainer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
