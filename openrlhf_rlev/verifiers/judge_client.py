"""A chat-completions client that cannot hang the reward: stdlib only, bounded in time, load and failure.

The reward runs inside every vLLM engine process, from many threads at once, for every sample. If the judge
is slow or down, each call must still return within its deadline, the judge must not be flooded (bounded
concurrency per process), and a dead judge must cost nothing after the first few failures (circuit breaker).
`http.client` rather than httpx or requests keeps the reward path free of extra dependencies.
"""

import http.client
import json
import logging
import os
import random
import threading
import time
import urllib.parse
from dataclasses import dataclass

from openrlhf_rlev.reward.ratelimit import RateLimitedWarner

API_KEY_ENV = "RLEV_JUDGE_API_KEY"  # read per request, never stored in Settings, never logged
MAX_REPLY_BYTES = 1 << 20
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})

logger = logging.getLogger("openrlhf_rlev")
_warner = RateLimitedWarner(logger)


class JudgeUnavailable(Exception):
    """The judge gave no usable answer in time: the reward is 0 with reason judge_unavailable."""


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
        self._model = config.model
        self._model_lock = threading.Lock()

    def complete(self, prompt: str) -> str:
        """The judge's reply text. Raises JudgeUnavailable; returns or raises within `deadline` seconds."""
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
        try:
            if not self.breaker.allow():
                raise _AttemptFailed("circuit open", retryable=False)
            ok = False
            try:
                status, data = _request(method, url, body, min(deadline, time.monotonic() + self.config.timeout))
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
            self._slots.release()


def _chat_content(reply) -> str:
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise JudgeUnavailable(f"reply is not a chat completion: {str(reply)[:200]!r}") from None
    return content if isinstance(content, str) else ""


def _headers(has_body: bool) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if has_body:
        headers["Content-Type"] = "application/json"
    key = os.environ.get(API_KEY_ENV)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _request(method: str, url: urllib.parse.SplitResult, body: bytes | None, until: float) -> tuple[int, bytes]:
    """(status, body), every step bounded by `until`.

    Socket timeouts bound each operation; a watchdog that shuts the socket at `until` bounds their sum
    (a server trickling bytes). Name resolution in connect() is the one step no timeout reaches.
    """

    def left() -> float:
        remaining = until - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("judge request deadline passed")
        return remaining

    cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn = cls(url.hostname, url.port, timeout=left())
    watchdog = None
    try:
        conn.connect()
        sock = conn.sock
        watchdog = threading.Timer(left(), _shutdown, args=(sock,))
        watchdog.daemon = True
        watchdog.start()
        path = url.path + (f"?{url.query}" if url.query else "")
        conn.request(method, path, body=body, headers=_headers(body is not None))
        sock.settimeout(left())
        resp = conn.getresponse()
        chunks, size = [], 0
        while True:
            sock.settimeout(left())
            chunk = resp.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise http.client.HTTPException(f"reply larger than {MAX_REPLY_BYTES} bytes")
            chunks.append(chunk)
        left()  # a shutdown by the watchdog reads as EOF: report it as the timeout it is
        return resp.status, b"".join(chunks)
    finally:
        if watchdog is not None:
            watchdog.cancel()
        conn.close()


def _shutdown(sock) -> None:
    try:
        sock.shutdown(2)  # SHUT_RDWR: wakes a blocked recv at once
    except OSError:
        pass


_clients: dict = {}
_clients_pid = None
_clients_lock = threading.Lock()


def get_client(config: ClientConfig) -> JudgeClient:
    """One client (so one breaker and one concurrency bound) per config per process; a forked child starts fresh."""
    global _clients_pid
    with _clients_lock:
        if _clients_pid != os.getpid():
            _clients.clear()
            _clients_pid = os.getpid()
        client = _clients.get(config)
        if client is None:
            if len(_clients) > 64:
                _clients.clear()
            client = _clients[config] = JudgeClient(config)
        return client
