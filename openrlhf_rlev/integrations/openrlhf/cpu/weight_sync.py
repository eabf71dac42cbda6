"""Policy -> rollout engine weights on CPU: a state-dict copy through Ray instead of an NCCL broadcast.

`ActorPPOTrainer.__init__` opens an NCCL group to the vLLM engines and `broadcast_to_vllm` streams each
parameter over it. The state dict goes in the dtype the trainer holds: float32, or bf16 with `--rlev.cpu_dtype bf16`
(as OpenRLHF broadcasts the bf16 weights of its DeepSpeed engine). In the CPU backend's processes both methods are replaced (`patch`): no group, and rank 0
puts its model's state dict in Ray's object store once and every engine loads it (`CPURolloutEngine.load_weights`).

With several actor processes (data parallel), every rank also hashes its weights at each sync and the ranks compare
hashes: DeepSpeed keeps data-parallel replicas identical by averaging gradients, and a replica that drifted would
train on without an error, so here a mismatch stops the run, naming the ranks.
"""

import hashlib

import ray
import torch

PATCHED_MARK = "__rlev_cpu_weight_sync__"


def init_vllm_sync_group(self, backend: str) -> None:
    self._model_update_group = None


def weights_digest(state: dict) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in the state dict's order."""
    digest = hashlib.sha256()
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def check_replicas_agree(state: dict) -> str | None:
    """All data-parallel ranks' weight digests; raises if they differ (None with one rank)."""
    world = torch.distributed.get_world_size()
    if world == 1:
        return None
    digests = [None] * world
    torch.distributed.all_gather_object(digests, weights_digest(state))
    if len(set(digests)) > 1:
        raise RuntimeError(f"RLEV CPU backend: data-parallel ranks hold different weights: {digests}")
    return digests[0]


def broadcast_to_vllm(self) -> None:
    model = self.strategy._unwrap_model(self.actor)
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    agreed = check_replicas_agree(state)
    if torch.distributed.get_rank() == 0 and self.vllm_engines:
        ref = ray.put(state)
        versions = ray.get([engine.load_weights.remote(ref) for engine in self.vllm_engines])
        sha = agreed or weights_digest(state)
        print(
            f"RLEV CPU backend: policy weights synced to {len(versions)} rollout engine(s), version {versions} "
            f"sha256 {sha[:16]} ({', '.join(sorted({str(t.dtype) for t in state.values()}))})"
        )
        if agreed:
            world = torch.distributed.get_world_size()
            print(f"RLEV CPU backend: all {world} data-parallel ranks hold identical weights (sha256 {agreed[:16]})")
    torch.distributed.barrier()


def patch(ppo_actor_module) -> None:
    """Install the two methods on `openrlhf.trainer.ray.ppo_actor.ActorPPOTrainer` (idempotent)."""
    cls = ppo_actor_module.ActorPPOTrainer
    if getattr(cls, PATCHED_MARK, False):
        return
    cls._init_vllm_sync_group = init_vllm_sync_group
    cls.broadcast_to_vllm = broadcast_to_vllm
    setattr(cls, PATCHED_MARK, True)
