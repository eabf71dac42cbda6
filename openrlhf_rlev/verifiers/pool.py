"""A lazily started pool of verification processes with a hard per-call deadline.

OpenRLHF calls the reward from a thread pool inside each vLLM engine process. Threads cannot be
killed and signal-based timeouts do not work off the main thread, so anything that can hang (sympy)
runs here: a call past its deadline kills its worker, a fresh one takes its place, and the caller
gets `VerifierTimeout`. Calls from many threads run in parallel across the workers, not on the GIL.

Lifecycle guarantees:
- no orphans: every worker is started from one long-lived spawner thread and asks the kernel for
  SIGKILL when that thread dies (PR_SET_PDEATHSIG is per *thread*, so starting workers from a
  short-lived reward thread would kill them early); a watchdog in the worker also exits when its
  parent changes, and idle workers exit on stdin EOF;
- no zombies: every killed worker is waited for;
- bounded memory: a worker is recycled after `max_tasks` calls or once its RSS passes `max_rss`,
  and runs under an address-space limit so one runaway expression raises MemoryError instead of
  taking the machine down.
Two separate bounds per call (docs/limits.md): `timeout` covers the task in a worker only, from the moment a
worker takes it, so no correct answer loses its reward because others hold the workers. The wait for a free worker
is bounded by the pool's health, not by the load: a caller gives up (`VerifierBusy`, a different reason than a hung
task) only after `queue_timeout` seconds in which no worker of the pool finished, timed out or was replaced. A
healthy pool always moves (every task ends within `timeout`), so a queue of any length is served; waiters are
served first come, first served, so under a storm of hanging tasks no call starves behind later arrivals.
When every worker has been busy for over a second (likely hung), a waiting call starts one extra
worker (at most `size` extras, exiting when no call waits) so fast tasks are not lost behind hangs.
"""

import atexit
import collections
import contextlib
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time

import openrlhf_rlev
from openrlhf_rlev.verifiers import budget


class VerifierTimeout(Exception):
    """The task ran past its own deadline in a worker (which was killed)."""


class VerifierBusy(Exception):
    """No worker became free within the queue allowance: the pool is overloaded or unhealthy, not the task slow."""


class VerifierFailed(Exception):
    pass


class _WorkerBroken(VerifierFailed):
    """The worker died, or answered but must not be reused (e.g. it ran out of memory)."""


MAX_TASKS_PER_WORKER = 5000
MAX_WORKER_RSS = 1 << 30
RSS_CHECK_EVERY = 64
STARTUP_TIMEOUT = 60.0
QUEUE_TIMEOUT = 300.0  # default: a pool with no progress for this long is unhealthy (RLEV_QUEUE_TIMEOUT)
MAX_SELECT_WAIT = 3600.0  # select() overflows on huge timeouts: wait in slices of at most this
MAX_START_FAILURES = 3
BURST_AFTER = 1.0  # s every worker must have been busy before a waiting call starts an extra one
BROKEN_RETRY_AFTER = 30.0  # seconds a pool whose workers cannot start fails fast before it tries again
WORKER_ADDRESS_SPACE = 4 << 30  # RLIMIT_AS in the worker
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(openrlhf_rlev.__file__)))
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Worker:
    def __init__(self, address_space: int, warm_up: bool = True):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        env["RLEV_WORKER_PARENT"] = str(os.getpid())
        env["RLEV_WORKER_ADDRESS_SPACE"] = str(address_space)
        env["RLEV_WORKER_WARM_UP"] = "1" if warm_up else "0"
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openrlhf_rlev.verifiers.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self.tasks = 0
        self._buf = b""

    def read_line(self, deadline: float) -> bytes | None:
        """The next line, or None at the deadline; VerifierFailed if the worker died."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            wait = min(MAX_SELECT_WAIT, max(0.0, deadline - time.monotonic()))
            if not select.select([fd], [], [], wait)[0]:
                if time.monotonic() < deadline:
                    continue
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise _WorkerBroken(f"verifier worker {self.pid} exited with code {self.proc.poll()}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def call(self, op: str, args: list, deadline: float):
        self.proc.stdin.write((json.dumps({"op": op, "args": args}) + "\n").encode())
        self.proc.stdin.flush()
        self.tasks += 1
        line = self.read_line(deadline)
        if line is None:
            raise VerifierTimeout()
        reply = json.loads(line)
        if reply.get("fatal"):
            raise _WorkerBroken(reply["error"])
        if not reply["ok"]:
            raise VerifierFailed(reply["error"])
        return reply["result"]

    def rss(self) -> int:
        try:
            with open(f"/proc/{self.pid}/statm") as f:
                return int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            return 0

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)  # reap: no zombies
        except subprocess.TimeoutExpired:
            pass


class _Spawner:
    """The one thread that starts workers and waits for their 'ready' line, so callers never pay start-up."""

    def __init__(self, pool: "WorkerPool"):
        self._pool = pool
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="rlev-verifier-spawner", daemon=True)
        self._thread.start()

    def request(self, n: int = 1) -> None:
        for _ in range(n):
            self._requests.put(1)

    def stop(self) -> None:
        self._requests.put(None)

    def _run(self) -> None:
        starting: list[_Worker] = []
        while True:
            try:
                item = self._requests.get(timeout=0.05 if starting else None)
            except queue.Empty:
                item = 0
            if item is None:
                for w in starting:
                    w.kill()
                return
            if item == 1:
                started = self._pool._start_one()
                if started is not None:
                    starting.append(started)
            starting = self._poll(starting)

    def _poll(self, starting: list) -> list:
        still = []
        for w in starting:
            try:
                line = w.read_line(time.monotonic())
            except VerifierFailed as e:
                self._pool._start_failed(w, str(e))
                continue
            if line is None:
                if time.monotonic() - w.started > STARTUP_TIMEOUT:
                    self._pool._start_failed(w, f"verifier worker did not start within {STARTUP_TIMEOUT:.0f} s")
                else:
                    still.append(w)
            elif line.strip() == b"ready":
                self._pool._add_ready(w)
            else:
                self._pool._start_failed(w, f"verifier worker said {line[:200]!r} instead of 'ready'")
        return still


class WorkerPool:
    def __init__(
        self,
        size: int,
        max_tasks_per_worker: int = MAX_TASKS_PER_WORKER,
        max_rss: int = MAX_WORKER_RSS,
        address_space: int = WORKER_ADDRESS_SPACE,
        rss_check_every: int = RSS_CHECK_EVERY,
        warm_up: bool = True,
    ):
        if size < 1:
            raise ValueError(f"verifier pool size must be >= 1, got {size}")
        self.size = size
        self.max_tasks = max_tasks_per_worker
        self.max_rss = max_rss
        self.address_space = address_space
        self.rss_check_every = rss_check_every
        self.warm_up = warm_up  # False only for pools that never verify (tests of the pool itself)
        self.recycled = 0  # workers retired for age or memory (visible to tests and benchmarks)
        self.killed = 0  # workers killed at a deadline or after dying
        self.calls = 0  # tasks handed to a worker
        self.bursts = 0  # extra workers started because every worker was stuck
        self._busy: dict[_Worker, float] = {}  # worker -> when its current task started
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # pool state changes (wait_ready)
        self._queue: collections.deque = collections.deque()  # one Condition per waiting caller, oldest first
        self._progress_at = time.monotonic()  # when a worker last finished, timed out, or became ready
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._pending = 0  # spawn requests not yet ready
        self._ever_ready = False
        self._start_failures = 0
        self._broken: str | None = None
        self._broken_at = 0.0
        self._closed = False
        self._spawner = _Spawner(self)
        self._fill()

    # -- spawner side --------------------------------------------------------------------------

    def _fill(self) -> None:
        """Ask for enough workers to bring the pool back to `size`."""
        with self._lock:
            self._fill_locked()

    def _fill_locked(self) -> None:
        missing = self.size - len(self._all) - self._pending
        if missing <= 0 or self._closed or self._broken:
            return
        self._pending += missing
        self._spawner.request(missing)

    def _start_one(self) -> _Worker | None:
        with self._cond:
            if self._closed:
                self._pending -= 1
                return None
        try:
            return _Worker(self.address_space, self.warm_up)
        except OSError as e:
            with self._cond:
                self._pending -= 1
            self._note_failure(f"cannot start a verifier worker: {e}")
            return None

    def _add_ready(self, w: _Worker) -> None:
        with self._cond:
            self._pending -= 1
            if self._closed:
                kill = True
            else:
                kill = False
                self._all.add(w)
                self._idle.append(w)
                self._ever_ready = True
                self._start_failures = 0
                self._progress_at = time.monotonic()
                self._wake()
        if kill:
            w.kill()

    def _start_failed(self, w: _Worker, reason: str) -> None:
        w.kill()
        with self._cond:
            self._pending -= 1
        self._note_failure(reason)
        self._fill()

    def _note_failure(self, reason: str) -> None:
        with self._cond:
            self._start_failures += 1
            if self._start_failures >= MAX_START_FAILURES:
                self._broken = reason  # e.g. math-verify missing: fail fast instead of respawning forever
                self._broken_at = time.monotonic()
                self._wake(everyone=True)

    # -- caller side ---------------------------------------------------------------------------

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> bool:
        """Block until every worker is up (benchmarks and tests; RL callers never need to)."""
        end = time.monotonic() + timeout
        with self._cond:
            while len(self._idle) < self.size and not self._broken and not self._closed:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return len(self._idle) >= self.size

    def _wake(self, everyone: bool = False) -> None:
        """Called with the lock held: the oldest waiter (or all of them) re-checks the pool."""
        self._cond.notify_all()
        if everyone:
            for waiter in self._queue:
                waiter.notify()
        elif self._queue:
            self._queue[0].notify()

    def call(self, op: str, args: list, timeout: float, queue_timeout: float | None = None):
        """Run `op` in a worker: at most `timeout` s once a worker has it. Waiting for one ends with VerifierBusy only
        after `queue_timeout` s (default: the caller's sample budget's, else QUEUE_TIMEOUT) in which the pool made no
        progress at all. Raises VerifierTimeout, VerifierBusy or VerifierFailed; never leaks a worker."""
        if queue_timeout is None:
            queue_timeout = budget.queue_allowance(QUEUE_TIMEOUT)
        queued_at = time.monotonic()
        try:
            worker = self._checkout(queue_timeout)
        finally:
            budget.queued(time.monotonic() - queued_at)
        left = budget.remaining_or_zero()
        if left <= 0:
            self._checkin(worker)
            raise budget.SampleTimeout()
        deadline = time.monotonic() + min(timeout, left)
        try:
            result = worker.call(op, args, deadline)
        except _WorkerBroken:
            self._retire(worker, killed=True)
            raise
        except VerifierFailed:
            self._checkin(worker)  # the task failed, the worker is fine
            raise
        except VerifierTimeout:
            self._retire(worker, killed=True)
            if budget.remaining_or_zero() <= 0:
                raise budget.SampleTimeout() from None
            raise
        except BaseException as e:  # a broken pipe, a bad reply, an interrupt: the worker's state is unknown
            self._retire(worker, killed=True)
            if isinstance(e, Exception):
                raise VerifierFailed(f"verifier worker failed: {type(e).__name__}: {e}") from None
            raise
        self._checkin(worker)
        return result

    def _checkout(self, stall_limit: float) -> _Worker:
        me = threading.Condition(self._lock)
        with self._lock:
            start = time.monotonic()
            if not self._ever_ready:
                stall_limit = max(stall_limit, STARTUP_TIMEOUT)  # cold start is not the task's fault
            self._queue.append(me)
            try:
                while not (self._idle and self._queue[0] is me):
                    if self._closed:
                        raise VerifierFailed("verifier pool is closed")
                    if self._broken:
                        if time.monotonic() - self._broken_at < BROKEN_RETRY_AFTER:
                            raise VerifierFailed(f"verifier pool is broken: {self._broken}")
                        self._broken, self._start_failures = None, 0  # it may have been transient: try again
                        self._fill_locked()
                    remaining = stall_limit - (time.monotonic() - max(start, self._progress_at))
                    if remaining <= 0:
                        raise VerifierBusy()
                    self._maybe_burst()
                    me.wait(min(remaining, 0.25))
                self.calls += 1
                worker = self._idle.pop()
                self._busy[worker] = time.monotonic()
                return worker
            finally:
                self._queue.remove(me)
                if self._idle:
                    self._wake()

    def _maybe_burst(self) -> None:
        """Every worker busy on a task for over BURST_AFTER s (probably a hang): start one extra worker, so
        calls queued behind hangs are not lost to their deadline. Extras (up to `size` of them) exit once
        no caller is waiting. Called with _cond held."""
        now = time.monotonic()
        if (
            len(self._all) + self._pending < 2 * self.size  # replacements of killed workers count towards it
            and self._busy
            and all(now - since > BURST_AFTER for since in self._busy.values())
            and not self._broken
        ):
            self._pending += 1
            self.bursts += 1
            self._spawner.request(1)

    def _checkin(self, worker: _Worker) -> None:
        with self._cond:
            self._busy.pop(worker, None)
            self._progress_at = time.monotonic()
            extra = len(self._all) > self.size and not self._queue
        if extra:
            with self._cond:
                self._all.discard(worker)
            worker.kill()  # a burst worker: the pool shrinks back to `size`
            return
        if worker.tasks >= self.max_tasks or (
            worker.tasks % self.rss_check_every == 0 and self.max_rss and worker.rss() > self.max_rss
        ):
            self._retire(worker, killed=False)
            return
        with self._cond:
            if self._closed:
                self._all.discard(worker)
            else:
                self._idle.append(worker)
                self._wake()
                return
        worker.kill()

    def _retire(self, worker: _Worker, killed: bool) -> None:
        with self._cond:
            self._all.discard(worker)
            self._busy.pop(worker, None)
            self._progress_at = time.monotonic()
            if killed:
                self.killed += 1
            else:
                self.recycled += 1
        self._fill()  # ask for the replacement first, so it starts while we reap
        worker.kill()

    def pids(self) -> list[int]:
        with self._cond:
            return [w.pid for w in self._all]

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers, self._all, self._idle = list(self._all), set(), []
            self._wake(everyone=True)
        self._spawner.stop()
        for w in workers:
            w.kill()
        self._spawner._thread.join(timeout=10)

    @property
    def closed(self) -> bool:
        return self._closed


_pool: WorkerPool | None = None
_pool_pid = None
_pool_lock = threading.Lock()


def get_pool(size: int) -> WorkerPool:
    """One pool per process (a forked child gets its own), started on first use."""
    global _pool, _pool_pid
    pool = _pool
    if pool is not None and _pool_pid == os.getpid() and pool.size == size and not pool.closed:
        return pool  # the hot path takes no lock
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid() or _pool.size != size or _pool.closed:
            old = _pool if _pool_pid == os.getpid() else None
            _pool, _pool_pid = WorkerPool(size), os.getpid()
            if old is not None:
                old.close()
        return _pool


_no_prestart = threading.local()


@contextlib.contextmanager
def no_prestart():
    """Loading the reward file here only checks it (the launcher, in the driver, dry runs included): start nothing."""
    before = getattr(_no_prestart, "on", False)
    _no_prestart.on = True
    try:
        yield
    finally:
        _no_prestart.on = before


def prestart_off() -> bool:
    """True inside `no_prestart()`: the reward file is only being checked."""
    return getattr(_no_prestart, "on", False)


def prestart(size: int) -> None:
    """Start the workers now (non-blocking), e.g. when the reward file is loaded, so the first sympy call finds them up."""
    if not prestart_off():
        get_pool(size)


def tasks_done() -> int:
    """Tasks handed to this process's workers so far (0 before the pool starts): benchmarks check with it that a timing
    loop ran entirely in the calling thread."""
    pool = _pool
    return pool.calls if pool is not None and _pool_pid == os.getpid() else 0


def shutdown() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None and _pool_pid == os.getpid():
            _pool.close()
        _pool = None


atexit.register(shutdown)
