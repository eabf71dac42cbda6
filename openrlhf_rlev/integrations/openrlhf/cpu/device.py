"""`torch.cuda` device calls, redirected to the CPU in the CPU backend's own processes.

OpenRLHF's trainer code moves tensors with `x.to(torch.cuda.current_device())`, builds
`torch.device(f"cuda:{torch.cuda.current_device()}")` (the replay buffer, never used for a move there) and calls
`torch.cuda.synchronize()` / `set_device()` around steps. On a CPU-only torch each of these raises. Here
`current_device()` returns the string "cpu" (so `.to(...)` and `device=` land on the CPU) that formats as "0"
(so the f-string still builds a valid, unused device), and synchronize / set_device / empty_cache do nothing.
Only `install.worker` calls this, and only when the launcher asked for the CPU backend.
"""

import os

THREADS_ENV = "RLEV_CPU_THREADS"


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


def configure_threads() -> int:
    """Ray sets OMP_NUM_THREADS=1 in its workers; the CPU backend's phases run one after another, so each may use
    every core (or RLEV_CPU_THREADS)."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = int(os.environ.get(THREADS_ENV) or cores)
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()
