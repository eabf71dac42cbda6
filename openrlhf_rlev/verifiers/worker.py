"""A verification worker process: JSON lines in on stdin, JSON lines out on stdout.

Run as `python -m openrlhf_rlev.verifiers.worker`. It lives in its own process so a hung sympy call
can be killed, and it runs with math-verify's signal timeouts off (the parent enforces the deadline).
"""

import ctypes
import json
import os
import signal
import sys


def _die_with_parent() -> None:
    # Linux only: if the parent is SIGKILLed, so are we (no orphans). Stdin EOF covers the rest.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        sys.exit(0)


def math_equal(gold: str, pred: str) -> bool:
    from math_verify import parse, verify

    g = parse(gold, parsing_timeout=None)
    p = parse(pred, parsing_timeout=None)
    return bool(g and p and verify(g, p, timeout_seconds=None))


def sleep(seconds: float) -> bool:
    """For tests of the hard timeout: a task that hangs."""
    import time

    time.sleep(seconds)
    return True


OPS = {"math_equal": math_equal, "sleep": sleep}


def main() -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    import math_verify  # noqa: F401  (warm the import before the first task's deadline starts)

    out = sys.stdout
    for line in sys.stdin:
        try:
            task = json.loads(line)
            result = {"ok": True, "result": OPS[task["op"]](*task["args"])}
        except Exception as e:  # a verifier bug must come back as an answer, not kill the worker
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"[:500]}
        out.write(json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
