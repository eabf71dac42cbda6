"""The per-sample time budget: one deadline for everything a sample's verification does, queueing excluded.

A sample may run many steps (a label of 40 parts, a set of thousands of items, several worker calls); each step
is cheap, but their number is the input's to choose. `registry.verify` opens a budget of `sample_timeout` seconds
around the whole verification, long loops call `check()`, and each worker call gets at most `remaining()`. Time
spent waiting for a free verifier worker is not the sample's fault: the pool reports it with `queued()`, which
moves the deadline back by that much; that wait is bounded by the pool's health instead (`queue_timeout`, pool.py).
Stdlib only, and a no-op outside `sample()`, so verifiers stay usable on their own.
"""

import contextvars
import math
import time
from contextlib import contextmanager


class SampleTimeout(Exception):
    """The sample's whole verification passed `sample_timeout` (RLEV_SAMPLE_TIMEOUT)."""


class _Budget:
    __slots__ = ("deadline", "queue_timeout")

    def __init__(self, seconds: float, queue_timeout: float):
        self.deadline = time.monotonic() + seconds
        self.queue_timeout = queue_timeout


_current: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("rlev_sample_budget", default=None)


@contextmanager
def sample(seconds: float, queue_timeout: float):
    token = open_sample(seconds, queue_timeout)
    try:
        yield
    finally:
        close_sample(token)


def open_sample(seconds: float, queue_timeout: float):
    """`sample` without the context manager's generator (the reward's hot path): pair with close_sample."""
    return _current.set(_Budget(seconds, queue_timeout))


def close_sample(token) -> None:
    _current.reset(token)


def remaining() -> float:
    """Seconds left for this sample's verification (inf outside a budget); raises SampleTimeout at 0."""
    b = _current.get()
    if b is None:
        return math.inf
    left = b.deadline - time.monotonic()
    if left <= 0:
        raise SampleTimeout()
    return left


def remaining_or_zero() -> float:
    """Like remaining(), but 0 instead of raising once the budget is spent."""
    b = _current.get()
    return math.inf if b is None else max(0.0, b.deadline - time.monotonic())


def check() -> None:
    """For loops whose length the input chooses: raise SampleTimeout once the budget is spent."""
    b = _current.get()
    if b is not None and time.monotonic() >= b.deadline:
        raise SampleTimeout()


def queue_allowance(default: float) -> float:
    """How long this sample waits for a worker while the pool makes no progress (RLEV_QUEUE_TIMEOUT)."""
    b = _current.get()
    return default if b is None else b.queue_timeout


def queued(seconds: float) -> None:
    """`seconds` were spent waiting for a worker: not the sample's fault, so not charged to its deadline."""
    b = _current.get()
    if b is not None and seconds > 0:
        b.deadline += seconds
