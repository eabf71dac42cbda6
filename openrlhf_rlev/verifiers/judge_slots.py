"""A run-wide cap on judge requests in flight, shared by every engine process on every node of a Ray job.

OpenRLHF runs the reward in each vLLM engine process, so a per-process bound (judge_concurrency) multiplies by the
number of engines. `judge_run_concurrency` is held by one Ray named actor per job: a process asks it for a lease
before each request and hands the lease back after. A lease expires on its own (after the request's deadline and
a margin), so an engine that dies holding slots does not shrink the cap for the rest of the run.

Ray is imported only when the setting is used, and only in a process where Ray is already initialised (an engine
actor): elsewhere (the reward server, a script) the cap falls back to this process alone, with one warning.
"""

import asyncio
import itertools
import threading
import time

ACTOR_NAME = "openrlhf-rlev-judge-slots"
LEASE_MARGIN = 10.0  # seconds past a request's deadline before its lease is taken back


class SlotTable:
    """Up to `limit` leases, each with an expiry time; pure bookkeeping, no waiting (the actor waits)."""

    def __init__(self, limit: int, clock=time.monotonic):
        self.limit = limit
        self._clock = clock
        self._leases: dict[int, float] = {}
        self._ids = itertools.count(1)
        self.peak = 0
        self.expired = 0

    def _expire(self) -> None:
        now = self._clock()
        for lease in [k for k, until in self._leases.items() if until <= now]:
            del self._leases[lease]
            self.expired += 1

    def try_acquire(self, hold: float) -> int | None:
        self._expire()
        if len(self._leases) >= self.limit:
            return None
        lease = next(self._ids)
        self._leases[lease] = self._clock() + hold
        self.peak = max(self.peak, len(self._leases))
        return lease

    def release(self, lease: int) -> None:
        self._leases.pop(lease, None)

    def next_expiry(self) -> float | None:
        return min(self._leases.values(), default=None)

    def in_use(self) -> int:
        self._expire()
        return len(self._leases)


class SlotActor:
    """The Ray actor's body (async: many engines wait on it at once)."""

    def __init__(self, limit: int):
        self.table = SlotTable(limit)
        self.changed = asyncio.Condition()

    async def acquire(self, hold: float, wait: float) -> int | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        async with self.changed:
            while True:
                lease = self.table.try_acquire(hold)
                if lease is not None:
                    return lease
                left = deadline - loop.time()
                if left <= 0:
                    return None
                expiry = self.table.next_expiry()
                if expiry is not None:
                    left = min(left, max(0.01, expiry - time.monotonic()))
                try:
                    await asyncio.wait_for(self.changed.wait(), left)
                except asyncio.TimeoutError:
                    pass

    async def release(self, lease: int) -> None:
        async with self.changed:
            self.table.release(lease)
            self.changed.notify()

    async def stats(self) -> dict:
        return {"limit": self.table.limit, "in_use": self.table.in_use(), "peak": self.table.peak}


class RunSlots:
    """The client side: `acquire(hold, wait)` -> a lease or None; `release(lease)`. Thread-safe."""

    def __init__(self, limit: int):
        import ray

        self._ray = ray
        self.limit = limit
        self._actor = (
            ray.remote(SlotActor)
            .options(name=ACTOR_NAME, get_if_exists=True, num_cpus=0, max_concurrency=10_000)
            .remote(limit)
        )

    def acquire(self, hold: float, wait: float) -> int | None:
        try:
            return self._ray.get(self._actor.acquire.remote(hold + LEASE_MARGIN, wait), timeout=wait + 5)
        except Exception:  # the actor unreachable: count it as no slot, the judge call fails, the breaker sees it
            return None

    def release(self, lease: int) -> None:
        try:
            self._actor.release.remote(lease)  # fire and forget; an unreturned lease expires anyway
        except Exception:
            pass

    def stats(self) -> dict:
        return self._ray.get(self._actor.stats.remote(), timeout=30)


_run_slots: dict = {}
_run_slots_lock = threading.Lock()


def run_slots(limit: int):
    """The job's shared slots, or None where Ray is not initialised in this process."""
    try:
        import ray
    except ImportError:
        return None
    if not ray.is_initialized():
        return None
    with _run_slots_lock:
        slots = _run_slots.get(limit)
        if slots is None:
            slots = _run_slots[limit] = RunSlots(limit)
        return slots
