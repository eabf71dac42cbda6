"""Policy -> rollout engine weights on CPU: a state-dict copy through Ray instead of an NCCL broadcast.

`ActorPPOTrainer.__init__` opens an NCCL group to the vLLM engines and `broadcast_to_vllm` streams each
parameter over it. In the CPU backend's processes both methods are replaced (`patch`): no group, and rank 0
puts its model's state dict in Ray's object store once and every engine loads it (`CPURolloutEngine.load_weights`).
"""

import ray
import torch

PATCHED_MARK = "__rlev_cpu_weight_sync__"


def init_vllm_sync_group(self, backend: str) -> None:
    self._model_update_group = None


def broadcast_to_vllm(self) -> None:
    if torch.distributed.get_rank() == 0 and self.vllm_engines:
        model = self.strategy._unwrap_model(self.actor)
        state = ray.put({name: tensor.detach().cpu() for name, tensor in model.state_dict().items()})
        versions = ray.get([engine.load_weights.remote(state) for engine in self.vllm_engines])
        print(f"RLEV CPU backend: policy weights synced to {len(versions)} rollout engine(s), version {versions}")
    torch.distributed.barrier()


def patch(ppo_actor_module) -> None:
    """Install the two methods on `openrlhf.trainer.ray.ppo_actor.ActorPPOTrainer` (idempotent)."""
    cls = ppo_actor_module.ActorPPOTrainer
    if getattr(cls, PATCHED_MARK, False):
        return
    cls._init_vllm_sync_group = init_vllm_sync_group
    cls.broadcast_to_vllm = broadcast_to_vllm
    setattr(cls, PATCHED_MARK, True)
