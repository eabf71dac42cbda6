"""A chat-completions client that cannot hang the reward: stdlib only, bounded in time, load and failure.

The reward runs inside every vLLM engine process, from many threads at once, for every sample. If the judge
is slow or down, each call must still return within its deadline, the judge must not be flooded (bounded
concurrency per process, and optionally per run: judge_slots), and a dead judge must cost nothing after the
first few failures (circuit breaker). Connections are kept alive and reused (one pool per endpoint per process).
A judge that keeps failing stops the run (judge_max_failure_rate) instead of training on zeros.
`http.client` rather than httpx or requests keeps the reward path free of extra dependencies.
"""

import http.client
import json
import logging
import os
import random
import select
import sys
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass

from openrlhf_rlev.reward.ratelimit import RateLimitedWarner

API_KEY_ENV = "RLEV_JUDGE_API_KEY"  # read per request, never stored in Settings, never logged
FAIL_FAST_EXIT = 86  # the exit code of a process the failure-rate guard stopped
MAX_REPLY_BYTES = 1 << 20
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})

logger = logging.getLogger("openrlhf_rlev")
_warner = RateLimitedWarner(logger)


class JudgeUnavailable(Exception):
    """The judge gave no usable answer in time: the reward is 0 with reason judge_unavailable."""


class FailureRateExceeded(Exception):
    """Too many judge calls failed: training on their zeros would teach the policy nothing (or worse)."""


class FailureRate:
    """The failed fraction of the last `window` calls; trips once it exceeds `limit` over a full window."""

    def __init__(self, limit: float | None, window: int):
        self.limit = limit
        self._outcomes = deque(maxlen=window)
        self._lock = threading.Lock()

    def record(self, failed: bool) -> str | None:
        """A message when the limit is exceeded, else None."""
        if self.limit is None:
            return None
        with self._lock:
            self._outcomes.append(failed)
            n, bad = len(self._outcomes), sum(self._outcomes)
            if n < self._outcomes.maxlen or bad / n <= self.limit:
                return None
        return (
            f"RLEV judge: {bad} of the last {n} judge calls failed ({bad / n:.0%}, above "
            f"--rlev.judge_max_failure_rate {self.limit:g}); stopping instead of training on zero rewards. "
            "Check the judge (RLEV_JUDGE_URL), or raise the limit."
        )


def stop_run(message: str) -> None:
    """Stop this process loudly. OpenRLHF swallows the reward's exceptions, so raising would change nothing; an
    engine (or reward server) that exits makes Ray, and so the run, fail with this message in its log."""
    logger.critical(message)
    print(message, file=sys.stderr, flush=True)
    os._exit(FAIL_FAST_EXIT)


class _AttemptFailed(Exception):
    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class CircuitBreaker:
    """closed -> (K consecutive failures) -> open -> (cool-down) -> half-open: one probe decides.

    While open, callers fail at once instead of each waiting out its own timeouts against a dead judge.
    """

    def __init__(self, failures: int, cooldown: float, clock=time.monotonic):
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state = "closed"
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == "open" and self._clock() - self._opened_at >= self.cooldown:
                return "half_open"
            return self._state

    def allow(self) -> bool:
        """May a request go out now? In half-open, exactly one caller (the probe) gets True until it reports."""
        with self._lock:
            if self._state == "closed":
                return True
            if self._state == "open":
                if self._clock() - self._opened_at < self.cooldown:
                    return False
                self._state = "half_open"
                self._probing = False
            if self._probing:
                return False
            self._probing = True
            return True

    def record(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self._state, self._consecutive, self._probing = "closed", 0, False
                return
            self._consecutive += 1
            if self._state == "half_open" or (self._state == "closed" and self._consecutive >= self.failures):
                self._state, self._opened_at, self._probing = "open", self._clock(), False
                opened = True
            else:
                opened = False
        if opened:
            logger.warning(
                "RLEV judge circuit open after %d consecutive failures: judge rewards are 0 "
                "(judge_unavailable) for %.0f s, then one probe request",
                self._consecutive,
                self.cooldown,
            )


@dataclass(frozen=True)
class ClientConfig:
    """The judge_* settings without their prefix (defaults live in Settings only)."""

    url: str
    model: str | None
    timeout: float
    deadline: float
    retries: int
    backoff: float
    concurrency: int
    breaker_failures: int
    breaker_cooldown: float
    max_tokens: int
    run_concurrency: int | None = None
    max_failure_rate: float | None = None
    failure_window: int = 100
    api_key_file: str | None = None
    api_key_env: str | None = None


def endpoint(url: str, suffix: str) -> urllib.parse.SplitResult:
    """`http://h:8000/v1` -> `.../v1/chat/completions`; a URL that already ends in the suffix is kept."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"judge_url must be an http(s) URL like http://host:8000/v1, got {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith(suffix):
        path = path + suffix
    return parts._replace(path=path)


class JudgeClient:
    """One per (endpoint, settings) per process; thread-safe."""

    def __init__(self, config: ClientConfig):
        self.config = config
        self.chat_url = endpoint(config.url, "/chat/completions")
        self.models_url = endpoint(config.url.rstrip("/").removesuffix("/chat/completions"), "/models")
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown)
        self._slots = threading.BoundedSemaphore(config.concurrency)
        self._run_slots = None
        if config.run_concurrency:
            from openrlhf_rlev.verifiers.judge_slots import run_slots

            self._run_slots = run_slots(config.run_concurrency)
            if self._run_slots is None:
                _warner.warn(
                    "judge:run_slots",
                    "RLEV judge_run_concurrency needs Ray (an engine process of a Ray job); this process caps "
                    f"itself at {config.run_concurrency} requests",
                )
                self._slots = threading.BoundedSemaphore(min(config.concurrency, config.run_concurrency))
        self._failures = FailureRate(config.max_failure_rate, config.failure_window)
        self._pool = connection_pool(self.chat_url)
        self._key = ApiKey(config.api_key_file, config.api_key_env)
        self._model = config.model
        self._model_lock = threading.Lock()

    def complete(self, prompt: str) -> str:
        """The judge's reply text. Raises JudgeUnavailable; returns or raises within `deadline` seconds. With
        judge_max_failure_rate, a call that tips the failed fraction over it stops the process (stop_run)."""
        try:
            reply = self._complete(prompt)
        except JudgeUnavailable:
            message = self._failures.record(True)
            if message:
                stop_run(message)
            raise
        self._failures.record(False)
        return reply

    def _complete(self, prompt: str) -> str:
        deadline = time.monotonic() + self.config.deadline
        model = self._resolve_model(deadline)
        body = json.dumps(
            {
                "model": model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": 0.0,
                "max_tokens": self.config.max_tokens,
            }
        ).encode()
        reply = self._with_retries("POST", self.chat_url, body, deadline)
        return _chat_content(reply)

    def _resolve_model(self, deadline: float) -> str:
        """The configured model, or the first one the server lists (a vLLM server serves one)."""
        if self._model:
            return self._model
        if not self._model_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise JudgeUnavailable("judge model discovery did not finish before the deadline")
        try:
            if not self._model:
                listing = self._with_retries("GET", self.models_url, None, deadline)
                try:
                    self._model = str(listing["data"][0]["id"])
                except (KeyError, IndexError, TypeError) as e:
                    raise JudgeUnavailable(f"judge /models listed no model: {e!r}") from None
            return self._model
        finally:
            self._model_lock.release()

    def _with_retries(self, method: str, url: urllib.parse.SplitResult, body: bytes | None, deadline: float):
        last = "no attempt"
        for attempt in range(self.config.retries + 1):
            if attempt:
                pause = self.config.backoff * (2 ** (attempt - 1)) * (0.5 + random.random() / 2)
                if time.monotonic() + pause >= deadline:
                    break
                time.sleep(pause)
            try:
                return self._attempt(method, url, body, deadline)
            except _AttemptFailed as e:
                last = str(e)
                if not e.retryable:
                    break
        _warner.warn(f"judge:{url.geturl()}", f"RLEV judge at {url.geturl()} unavailable: {last}")
        raise JudgeUnavailable(last)

    def _attempt(self, method: str, url: urllib.parse.SplitResult, body: bytes | None, deadline: float):
        """One request inside a concurrency slot, reported to the breaker."""
        if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise _AttemptFailed("no free judge slot before the deadline", retryable=False)
        lease = None
        try:
            if not self.breaker.allow():
                raise _AttemptFailed("circuit open", retryable=False)
            if self._run_slots is not None:
                lease = self._run_slots.acquire(self.config.timeout, max(0.0, deadline - time.monotonic()))
                if lease is None:
                    raise _AttemptFailed("no free run-wide judge slot before the deadline", retryable=False)
            ok = False
            try:
                until = min(deadline, time.monotonic() + self.config.timeout)
                status, data = _request(method, url, body, until, self._pool, self._key.headers(body is not None))
                if status != 200:
                    retryable = status >= 500 or status in _RETRYABLE_STATUS
                    raise _AttemptFailed(f"HTTP {status}: {data[:200]!r}", retryable=retryable)
                try:
                    reply = json.loads(data)
                except ValueError:
                    raise _AttemptFailed(f"reply is not JSON: {data[:200]!r}") from None
                ok = True
                return reply
            except (OSError, http.client.HTTPException) as e:
                raise _AttemptFailed(f"{type(e).__name__}: {e}") from None
            finally:
                self.breaker.record(ok)
        finally:
            if lease is not None:
                self._run_slots.release(lease)
            self._slots.release()


def _chat_content(reply) -> str:
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise JudgeUnavailable(f"reply is not a chat completion: {str(reply)[:200]!r}") from None
    return content if isinstance(content, str) else ""


class ApiKey:
    """The Authorization header, from (first found) a key file on the node, an environment variable named by
    judge_api_key_env, or RLEV_JUDGE_API_KEY. The file is re-read when it changes (key rotation); the key is
    never logged and never stored in Settings."""

    def __init__(self, path: str | None, env: str | None):
        self.path, self.env = path, env
        self._cached = (None, None)  # (mtime, key)

    def value(self) -> str | None:
        if self.path:
            try:
                mtime = os.stat(self.path).st_mtime_ns
                if self._cached[0] != mtime:
                    with open(self.path, encoding="utf-8") as f:
                        self._cached = (mtime, f.read().strip())
                return self._cached[1] or None
            except OSError as e:
                _warner.warn("judge:key_file", f"RLEV judge_api_key_file {self.path!r} unreadable: {e.strerror}")
                return None
        if self.env:
            return os.environ.get(self.env) or None
        return os.environ.get(API_KEY_ENV) or None

    def headers(self, has_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if has_body:
            headers["Content-Type"] = "application/json"
        key = self.value()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers


class ConnectionPool:
    """Idle keep-alive connections to one endpoint, reused by every client and thread of this process.

    At most `max_idle` idle connections are kept; the rest are closed after their request."""

    def __init__(self, url: urllib.parse.SplitResult, max_idle: int = 64):
        self.url = url
        self.max_idle = max_idle
        self._idle: list = []
        self._lock = threading.Lock()
        self.opened = 0

    def get(self, timeout: float):
        """An idle connection the server has not closed meanwhile (checked before anything is sent, so a POST is
        never silently sent twice), or a new one."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
                if conn is None:
                    self.opened += 1
                    break
            if conn.sock is not None and not _readable(conn.sock):
                conn.timeout = timeout
                return conn
            conn.close()  # closed by the server (EOF waiting) or in an unknown state
        cls = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
        return cls(self.url.hostname, self.url.port, timeout=timeout)

    def put(self, conn) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()


class PerProcess:
    """A cache that empties itself in a forked child: sockets, locks and breakers are not shared across fork."""

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self._items: dict = {}
        self._pid = None
        self._lock = threading.Lock()

    def get(self, key, make):
        with self._lock:
            if self._pid != os.getpid():
                self._items.clear()
                self._pid = os.getpid()
            item = self._items.get(key)
            if item is None:
                if self.limit is not None and len(self._items) > self.limit:
                    self._items.clear()
                item = self._items[key] = make()
            return item


_pools = PerProcess()


def connection_pool(url: urllib.parse.SplitResult) -> ConnectionPool:
    """One pool per (scheme, host, port) per process."""
    return _pools.get((url.scheme, url.hostname, url.port), lambda: ConnectionPool(url))


def _request(
    method: str,
    url: urllib.parse.SplitResult,
    body: bytes | None,
    until: float,
    pool: ConnectionPool | None = None,
    headers: dict | None = None,
) -> tuple[int, bytes]:
    """(status, body), every step bounded by `until`, on a pooled keep-alive connection.

    Socket timeouts bound each operation; a watchdog that shuts the socket at `until` bounds their sum
    (a server trickling bytes). Name resolution in connect() is the one step no timeout reaches.
    """
    pool = pool or connection_pool(url)
    headers = headers if headers is not None else ApiKey(None, None).headers(body is not None)
    conn = pool.get(_left(until))
    try:
        return _exchange(conn, method, url, body, until, headers, pool)
    except BaseException:
        conn.close()
        raise


def _readable(sock) -> bool:
    """An idle keep-alive socket with something to read has been closed by the server (or is out of step)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _left(until: float) -> float:
    remaining = until - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("judge request deadline passed")
    return remaining


def _exchange(conn, method, url, body, until, headers, pool) -> tuple[int, bytes]:
    watchdog = None
    try:
        if conn.sock is None:
            conn.connect()
        sock = conn.sock
        sock.settimeout(_left(until))
        watchdog = threading.Timer(_left(until), _shutdown, args=(sock,))
        watchdog.daemon = True
        watchdog.start()
        path = url.path + (f"?{url.query}" if url.query else "")
        conn.request(method, path, body=body, headers=headers)
        sock.settimeout(_left(until))
        resp = conn.getresponse()
        chunks, size = [], 0
        while True:
            sock.settimeout(_left(until))
            chunk = resp.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise http.client.HTTPException(f"reply larger than {MAX_REPLY_BYTES} bytes")
            chunks.append(chunk)
        _left(until)  # a shutdown by the watchdog reads as EOF: report it as the timeout it is
    finally:
        if watchdog is not None:
            watchdog.cancel()
    resp.close()  # read to its end: marks it done, so the connection can carry the next request
    if resp.will_close:
        conn.close()
    else:
        pool.put(conn)
    return resp.status, b"".join(chunks)


def _shutdown(sock) -> None:
    try:
        sock.shutdown(2)  # SHUT_RDWR: wakes a blocked recv at once
    except OSError:
        pass


_clients = PerProcess(limit=64)


def get_client(config: ClientConfig) -> JudgeClient:
    """One client (so one breaker and one concurrency bound) per config per process."""
    return _clients.get(config, lambda: JudgeClient(config))
