"""`torch.cuda` device calls, redirected to the CPU in the CPU backend's own processes.

OpenRLHF's trainer code moves tensors with `x.to(torch.cuda.current_device())`, builds
`torch.device(f"cuda:{torch.cuda.current_device()}")` (the replay buffer, never used for a move there) and calls
`torch.cuda.synchronize()` / `set_device()` around steps. On a CPU-only torch each of these raises. Here
`current_device()` returns the string "cpu" (so `.to(...)` and `device=` land on the CPU) that formats as "0"
(so the f-string still builds a valid, unused device), and synchronize / set_device / empty_cache do nothing.
Only `install.worker` calls this, and only when the launcher asked for the CPU backend.
"""

import functools
import json
import os

THREADS_ENV = "RLEV_CPU_THREADS"
# Set by the launcher: how many processes of each role compute at the same time ({"engine", "actor", "ref"}).
CONCURRENCY_ENV = "OPENRLHF_RLEV_CPU_CONCURRENCY"


class _CPUDevice(str):
    """'cpu' for `.to()` and `device=`; '0' inside f-strings such as f"cuda:{torch.cuda.current_device()}"."""

    def __format__(self, spec):
        return format(0, spec)


CPU = _CPUDevice("cpu")
_state = {"redirected": False}


def _noop(name: str):
    # One function per replaced name: torch._dynamo keys rules by function object and rejects a shared one.
    def noop(*args, **kwargs):
        return None

    noop.__name__ = noop.__qualname__ = name
    return noop


def _current_device():
    return CPU


def redirect_cuda_to_cpu() -> None:
    import torch

    if torch.cuda.is_available():
        raise RuntimeError("the CPU backend refuses to redirect torch.cuda on a machine where CUDA is available")
    if _state["redirected"]:
        return
    torch.cuda.current_device = _current_device
    for name in ("set_device", "synchronize", "empty_cache"):
        setattr(torch.cuda, name, _noop(name))
    _state["redirected"] = True


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def configure_threads() -> int:
    """Ray sets OMP_NUM_THREADS=1 in its workers; a worker starts with every core (or RLEV_CPU_THREADS), and each
    phase that runs beside others narrows it (`share`)."""
    import torch

    threads = int(os.environ.get(THREADS_ENV) or cores())
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()


def share(phase: str) -> int:
    """Threads for one process in `phase`, so that the processes computing at the same time fill the cores once.

    OpenRLHF's phases run one after another: generation (every engine at once), experience (every actor and
    reference rank's no-grad forward at once), training (every actor rank). RLEV_CPU_THREADS fixes the number."""
    if os.environ.get(THREADS_ENV):
        return max(1, int(os.environ[THREADS_ENV]))
    counts = json.loads(os.environ.get(CONCURRENCY_ENV) or "{}")
    engines, actors, refs = counts.get("engine", 1), counts.get("actor", 1), counts.get("ref", 0)
    concurrent = {"generation": engines, "experience": actors + refs, "training": actors}[phase]
    return max(1, cores() // max(1, concurrent))


def split_actor_threads(actor_module) -> None:
    """Wrap `openrlhf.models.actor.Actor.forward` (policy and reference models alike): a no-grad forward is the
    experience phase, beside the other ranks' and the reference's; a forward with grad is training (idempotent)."""
    import torch

    cls = actor_module.Actor
    if getattr(cls.forward, "__rlev_threads__", False):
        return
    forward = cls.forward

    @functools.wraps(forward)
    def forward_with_share(self, *args, **kwargs):
        threads = share("training" if torch.is_grad_enabled() else "experience")
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        return forward(self, *args, **kwargs)

    forward_with_share.__rlev_threads__ = True
    cls.forward = forward_with_share
