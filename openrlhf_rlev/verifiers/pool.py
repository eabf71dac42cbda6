"""A lazily started pool of verification processes with a hard per-call deadline.

OpenRLHF calls the reward from a thread pool inside each vLLM engine process. Threads cannot be
killed and signal-based timeouts do not work off the main thread, so anything that can hang (sympy)
runs here: a call past its deadline kills its worker, a fresh one takes its place, and the caller
gets `VerifierTimeout`. Calls from many threads run in parallel across the workers, not on the GIL.
"""

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time

import openrlhf_rlev


class VerifierTimeout(Exception):
    pass


class VerifierFailed(Exception):
    pass


_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(openrlhf_rlev.__file__)))


class _Worker:
    def __init__(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openrlhf_rlev.verifiers.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self.tasks = 0
        self._buf = b""

    def call(self, op: str, args: list, deadline: float):
        self.proc.stdin.write((json.dumps({"op": op, "args": args}) + "\n").encode())
        self.proc.stdin.flush()
        self.tasks += 1
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise VerifierTimeout()
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise VerifierFailed(f"verifier worker exited with code {self.proc.poll()}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        reply = json.loads(line)
        if not reply["ok"]:
            raise VerifierFailed(reply["error"])
        return reply["result"]

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
            self.proc.wait(timeout=5)  # reap: no zombies
        except subprocess.TimeoutExpired:
            pass


class WorkerPool:
    def __init__(self, size: int, max_tasks_per_worker: int = 2000):
        self.size = size
        self.max_tasks = max_tasks_per_worker  # recycle to bound sympy's caches
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    def warm(self) -> None:
        """Start every worker now, so that no task's deadline pays for interpreter start-up."""
        with self._lock:
            while len(self._all) < self.size and not self._closed:
                w = _Worker()
                self._all.add(w)
                self._idle.append(w)

    def call(self, op: str, args: list, timeout: float):
        deadline = time.monotonic() + timeout
        if not self._slots.acquire(timeout=max(0.0, timeout)):
            raise VerifierTimeout()
        try:
            worker = self._checkout()
            try:
                result = worker.call(op, args, deadline)
            except (VerifierTimeout, VerifierFailed, OSError, ValueError):
                self._discard(worker)
                raise
            self._checkin(worker)
            return result
        finally:
            self._slots.release()

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise VerifierFailed("verifier pool is closed")
            if self._idle:
                return self._idle.pop()
            w = _Worker()
            self._all.add(w)
            return w

    def _checkin(self, worker: _Worker) -> None:
        if worker.tasks >= self.max_tasks:
            self._discard(worker)
            return
        with self._lock:
            if self._closed:
                worker.kill()
            else:
                self._idle.append(worker)

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.kill()

    def pids(self) -> list[int]:
        with self._lock:
            return [w.proc.pid for w in self._all]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all, self._idle = list(self._all), set(), []
        for w in workers:
            w.kill()


_pool: WorkerPool | None = None
_pool_pid = None
_pool_lock = threading.Lock()


def get_pool(size: int) -> WorkerPool:
    """One pool per process (a forked child gets its own), started on first use."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid() or _pool.size != size or _pool._closed:
            if _pool is not None and _pool_pid == os.getpid():
                _pool.close()
            _pool, _pool_pid = WorkerPool(size), os.getpid()
            _pool.warm()
        return _pool


def shutdown() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None and _pool_pid == os.getpid():
            _pool.close()
        _pool = None


atexit.register(shutdown)
