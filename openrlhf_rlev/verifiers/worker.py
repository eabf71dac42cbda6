"""A verification worker process: JSON lines in on stdin, JSON lines out on stdout.

Run as `python -m openrlhf_rlev.verifiers.worker` by `pool.py`. It lives in its own process so a hung
sympy call can be killed, and it runs with math-verify's signal timeouts off (the parent enforces the
deadline). It prints `ready` once its imports are done, so no task's deadline pays for start-up.
"""

import ctypes
import json
import os
import signal
import sys
import threading
import time

from openrlhf_rlev.verifiers.cache import bounded_cache

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """SIGKILL when the parent's spawner thread dies (Linux); a watchdog covers everything else."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError, TypeError):
        pass
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    if parent:
        threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _limit_memory() -> None:
    limit = int(os.environ.get("RLEV_WORKER_ADDRESS_SPACE", "0") or 0)
    if limit <= 0:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


@bounded_cache(4096, 2_000_000)  # sympy trees of long list answers would otherwise pile up to the RSS limit
def _parse_gold(gold: str):
    from math_verify import parse

    text = gold if ("$" in gold or "\\boxed" in gold or "\\(" in gold) else f"${gold}$"
    return parse(text, parsing_timeout=None)


def math_equal(gold: str, target: str) -> bool:
    """math-verify's verdict; `target` is a `\\boxed{}` answer or raw response text to extract from."""
    from math_verify import parse, verify

    g = _parse_gold(gold)
    p = parse(target, parsing_timeout=None)
    return bool(g and p and verify(g, p, timeout_seconds=None))


def sleep(seconds: float) -> bool:
    """For tests of the hard timeout and of parallelism: a task that takes as long as asked."""
    time.sleep(seconds)
    return True


def echo(value):
    """For tests and the pool's round-trip cost: the cheapest possible task."""
    return value


_held: list = []


def hold(n_bytes: int) -> int:
    """For tests of memory-based recycling: keep n_bytes alive in this worker, return its RSS."""
    _held.append(bytearray(n_bytes))
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _warm_up() -> None:
    """Import math-verify and let sympy load its lazy parts (the first comparison costs ~0.5 s) before 'ready'."""
    try:
        for gold, pred in (
            ("$\\frac{1}{2}$", "\\boxed{0.5}"),
            ("$x^2+2x+1$", "\\boxed{(x+1)^2}"),
            ("$y=2x$", "\\boxed{2x-y=0}"),
        ):
            math_equal(gold, pred)
        _parse_gold.cache_clear()
    except Exception:  # a broken install shows up on the first real task, with its error
        pass


OPS = {"math_equal": math_equal, "sleep": sleep, "echo": echo, "hold": hold}


def main() -> None:
    _die_with_parent(int(os.environ.get("RLEV_WORKER_PARENT", "0") or 0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    _limit_memory()
    sys.setrecursionlimit(10_000)
    if os.environ.get("RLEV_WORKER_WARM_UP", "1") != "0":
        _warm_up()

    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        fatal = False
        try:
            task = json.loads(line)
            result = {"ok": True, "result": OPS[task["op"]](*task["args"])}
        except MemoryError:
            _held.clear()
            result, fatal = {"ok": False, "fatal": True, "error": "MemoryError"}, True
        except Exception as e:  # a verifier bug must come back as an answer, not kill the worker
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"[:500]}
        out.write(json.dumps(result) + "\n")
        out.flush()
        if fatal:
            return


if __name__ == "__main__":
    main()
