"""The RLEV reward over HTTP, speaking OpenRLHF's remote reward-model protocol, so verification can run on
CPU nodes: `--reward.remote_url http://a:5000/get_reward,http://b:5000/get_reward`.

    POST /get_reward {"query": [str], "prompts": [str | null], "labels": [label]}
      -> {"rewards": ..., "scores": ..., "extra_logs": {"rlev/...": ...}}

A one-sample request gets plain floats, a batch gets lists. OpenRLHF (0.10.2-0.11.x) sends one sample per request
and wraps each returned value as `torch.tensor([value])`, so a 1-element list would become a (1, 1)
tensor; floats give the (1,) shape its reward file path produces.

No authentication and no TLS: bind it to loopback (the default) or to an interface only the cluster
network reaches.

Guards, so that one client cannot stall the others (docs/server.md): a cap on samples per request (413 names it);
the body parsed and the samples verified off the event loop, in chunks of `threads` samples, so `/health` and
other clients are served while a large request runs; connections idle (or sending their request slowly) for
`idle_timeout` seconds closed; at most `max_connections` open connections, past which new ones get a 503 and are
closed; a client that goes away is a debug line, not an internal error.
"""

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from openrlhf_rlev import __version__
from openrlhf_rlev.integrations.openrlhf.query import payload, score_query
from openrlhf_rlev.reward.ratelimit import RateLimitedWarner
from openrlhf_rlev.reward.settings import Settings

logger = logging.getLogger("openrlhf_rlev.integrations.openrlhf.server")

REWARD_PATH = "/get_reward"
DEFAULT_MAX_BODY_MB = 16.0
DEFAULT_THREADS = 32
DEFAULT_MAX_SAMPLES = 4096  # OpenRLHF sends one sample per request; a batch client rarely needs more
DEFAULT_IDLE_TIMEOUT = 30.0  # seconds a connection may sit idle, or take to send its request
DEFAULT_MAX_CONNECTIONS = 1024
FD_RESERVE = 64  # file descriptors kept for the verifier pool, logs and the listening socket


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Gone(Exception):
    """The client closed the connection before its reply: nothing to answer, nothing wrong on our side."""


def parse_body(raw: bytes, max_samples: int = DEFAULT_MAX_SAMPLES) -> tuple[list, list, list]:
    """(queries, prompts, labels) from a request body, or BadRequest saying what is wrong and where.

    Labels are not checked here: a bad label is one sample's reward 0 with a reason, as in the reward file.
    """
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise BadRequest(400, f"body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest(422, f"body must be a JSON object, got {type(body).__name__}")
    missing = [k for k in ("query", "labels") if k not in body]
    if missing:
        raise BadRequest(422, f"body is missing {', '.join(repr(k) for k in missing)} (needs query, prompts, labels)")
    queries, labels = body["query"], body["labels"]
    prompts = body.get("prompts")
    if not isinstance(queries, list):
        raise BadRequest(422, f"'query' must be a list of strings, got {type(queries).__name__}")
    if len(queries) > max_samples:
        raise BadRequest(
            413,
            f"request has {len(queries)} samples; the cap is {max_samples} per request (--max-samples): "
            "split the batch",
        )
    bad = next((i for i, q in enumerate(queries) if not isinstance(q, str)), None)
    if bad is not None:
        raise BadRequest(422, f"'query'[{bad}] must be a string, got {type(queries[bad]).__name__}")
    if not isinstance(labels, list):
        raise BadRequest(422, f"'labels' must be a list, got {type(labels).__name__}")
    if prompts is None:
        prompts = [None] * len(queries)
    if not isinstance(prompts, list):
        raise BadRequest(422, f"'prompts' must be a list of strings or null, got {type(prompts).__name__}")
    bad = next((i for i, p in enumerate(prompts) if p is not None and not isinstance(p, str)), None)
    if bad is not None:
        raise BadRequest(422, f"'prompts'[{bad}] must be a string or null, got {type(prompts[bad]).__name__}")
    if not len(queries) == len(prompts) == len(labels):
        raise BadRequest(
            422,
            f"list lengths differ: query has {len(queries)}, prompts {len(prompts)}, labels {len(labels)}",
        )
    return queries, prompts, labels


async def read_body(request: Request, limit: int, timeout: float = DEFAULT_IDLE_TIMEOUT) -> bytes:
    """The body, refusing (413) past `limit` bytes without buffering more than that, and (408) one that takes
    longer than `timeout` seconds to arrive (a client trickling bytes holds a connection, not the server)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise BadRequest(400, f"bad Content-Length {declared!r}") from None
        if declared_size > limit:
            raise BadRequest(413, f"body of {declared_size} bytes exceeds the limit of {limit} bytes (--max-body-mb)")
    chunks = []

    async def collect():
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest(413, f"body exceeds the limit of {limit} bytes (--max-body-mb)")
            chunks.append(chunk)

    try:
        await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        raise BadRequest(408, f"body not received within {timeout:g} s (--idle-timeout)") from None
    except ClientDisconnect:
        raise _Gone() from None
    return b"".join(chunks)


_warner = RateLimitedWarner(logger)


def quiet_accept_errors(loop, context: dict) -> None:
    """Out of file descriptors, asyncio pauses accepting for a second and logs a traceback per attempt (16 MB
    under a flood of idle sockets). One warning a minute says the same; other loop errors are logged as usual."""
    error = context.get("exception")
    if isinstance(error, OSError) and context.get("message", "").startswith("socket.accept() out of system"):
        _warner.warn(
            "accept",
            f"RLEV reward server: cannot accept connections ({error.strerror}); new clients wait until idle ones "
            "are closed (--idle-timeout). Raise `ulimit -n` or lower --max-connections",
        )
        return
    loop.default_exception_handler(context)


def render(results: list) -> bytes:
    """The reply body, as JSONResponse would render it."""
    return json.dumps(payload(results), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def create_app(
    settings: Settings | None = None,
    *,
    max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * 2**20),
    threads: int = DEFAULT_THREADS,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    body_timeout: float = DEFAULT_IDLE_TIMEOUT,
) -> FastAPI:
    """Verification blocks (worker pool, judge HTTP), so it runs on a bounded thread pool, off the event loop.

    A request is verified `threads` samples at a time: the executor's queue never holds more than one chunk per
    request, so a huge request shares the threads with the others instead of queueing ahead of them, and a
    request whose client left (or a server shutting down) stops after the chunk in hand.
    """
    settings = settings or Settings.from_env()
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rlev-verify")
    stats = {"requests": 0, "samples": 0, "rejected": 0, "in_flight": 0, "disconnected": 0}

    @asynccontextmanager
    async def lifespan(app):
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(quiet_accept_errors)
        yield
        # Uvicorn has drained in-flight requests (or cancelled them at --graceful-timeout): drop what is queued
        # and stop the verifier workers, which also ends any verification still running in a thread.
        executor.shutdown(wait=False, cancel_futures=True)
        from openrlhf_rlev.verifiers import pool

        pool.shutdown()

    app = FastAPI(title="openrlhf-rlev reward", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.stats = stats
    app.state.executor = executor

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest):
        stats["rejected"] += 1
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        logger.exception("RLEV reward server: internal error on %s", request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)

    @app.get("/health")
    async def health():
        return {
            "status": "ok",
            "version": __version__,
            "verifier": settings.verifier,
            "scaling": settings.scaling,
            "alpha": settings.alpha,
            "judge": bool(settings.judge_url),
            **stats,
        }

    @app.post(REWARD_PATH)
    async def get_reward(request: Request):
        loop = asyncio.get_running_loop()
        try:
            raw = await read_body(request, max_body_bytes, body_timeout)
            # json.loads of a 16 MB body takes a while: in a thread, so the event loop keeps serving
            queries, prompts, labels = await loop.run_in_executor(None, parse_body, raw, max_samples)
            del raw
            stats["in_flight"] += 1
            try:
                results = []
                for start in range(0, len(queries), threads):
                    if start and await request.is_disconnected():
                        raise _Gone()
                    results += await asyncio.gather(
                        *(
                            loop.run_in_executor(executor, score_query, q, p, lab, settings)
                            for q, p, lab in zip(
                                queries[start : start + threads],
                                prompts[start : start + threads],
                                labels[start : start + threads],
                            )
                        )
                    )
            finally:
                stats["in_flight"] -= 1
        except asyncio.CancelledError:
            # uvicorn cancels what is still running at --graceful-timeout: tell the client, without a traceback
            logger.warning("RLEV reward server: a request was cancelled at --graceful-timeout")
            return JSONResponse(
                {"detail": "server shutting down: request cancelled at --graceful-timeout; retry elsewhere"},
                status_code=503,
            )
        except _Gone:
            stats["disconnected"] += 1
            logger.debug("RLEV reward server: client went away before its reply")
            return JSONResponse({"detail": "client disconnected"}, status_code=499)
        stats["requests"] += 1
        stats["samples"] += len(results)
        # rendering 100k results takes seconds: in a thread too
        content = await loop.run_in_executor(None, render, results)
        return Response(content, media_type="application/json")

    return app


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced: a busy port or a bad host is an OSError here,
    which the CLI reports in one line, instead of a traceback after the "remote_url" line."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def connection_limit(requested: int) -> int:
    """`requested`, lowered to what the open-file limit allows (with FD_RESERVE to spare): past the limit accept()
    fails with EMFILE, every client is locked out and asyncio logs a traceback per attempt."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return requested
    if soft == resource.RLIM_INFINITY or requested <= soft - FD_RESERVE:
        return requested
    allowed = max(1, soft - FD_RESERVE)
    logger.warning(
        "RLEV reward server: --max-connections %d is above what the open-file limit (ulimit -n %d) allows; using %d",
        requested,
        soft,
        allowed,
    )
    return allowed


_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s"
)


def guarded_protocol(idle_timeout: float, max_connections: int):
    """uvicorn's h11 protocol with the two guards it lacks: a connection that has no request in progress for
    `idle_timeout` seconds (never sent one, or is trickling its headers) is closed, and a connection past
    `max_connections` gets a 503 and is closed at once. (uvicorn's own keep-alive timer starts only after a
    first response, and any byte resets it; its limit_concurrency still accepts and keeps the socket.)"""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    detail = json.dumps({"detail": f"server busy: {max_connections} connections open (--max-connections)"}).encode()
    busy = _BUSY % (len(detail), detail)

    class GuardedH11Protocol(H11Protocol):
        _idle_timer = None

        def connection_made(self, transport):
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.write(busy)
                transport.close()
                return
            self._arm()

        def _arm(self):
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            self._idle_timer = self.loop.call_later(idle_timeout, self._idle)

        def _idle(self):
            self._idle_timer = None
            if self.cycle is None or self.cycle.response_complete:  # no request in progress
                if not self.transport.is_closing():
                    self.transport.close()

        def on_response_complete(self):
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's headers get the same time

        def connection_lost(self, exc):
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            super().connection_lost(exc)

    return GuardedH11Protocol


def serve(
    sock: socket.socket,
    *,
    settings: Settings | None = None,
    max_body_mb: float = DEFAULT_MAX_BODY_MB,
    threads: int = DEFAULT_THREADS,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    graceful_timeout: float = 60.0,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Run on `sock` until SIGINT/SIGTERM; then stop accepting, finish in-flight requests (up to graceful_timeout)
    and return normally, so the process exits 0 after a clean drain. Requests still running at graceful_timeout
    are cancelled; verification still running in a thread then is not waited for (the process exits)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            with super().capture_signals():
                yield
                # uvicorn re-raises a caught SIGTERM/SIGINT after shutting down, so a clean drain would exit
                # 143/130; a drained stop the operator asked for is a normal exit.
                self._captured_signals.clear()

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(asctime)s %(name)s] %(message)s")
    host = sock.getsockname()[0]
    if host not in ("127.0.0.1", "::1"):
        logger.warning("RLEV reward server on %s: it has no authentication; keep it on the cluster network", host)
    app = create_app(
        settings,
        max_body_bytes=int(max_body_mb * 2**20),
        threads=threads,
        max_samples=max_samples,
        body_timeout=idle_timeout,
    )
    config = uvicorn.Config(
        app,
        http=guarded_protocol(idle_timeout, connection_limit(max_connections)),
        log_level=log_level,
        access_log=access_log,
        timeout_keep_alive=idle_timeout,
        timeout_graceful_shutdown=graceful_timeout,
    )
    Server(config).run(sockets=[sock])
    if any(t.is_alive() for t in app.state.executor._threads):
        # A verification thread still running (a judge call waits up to judge_deadline): the interpreter would
        # join it at exit, long past --graceful-timeout. Its request is already cancelled; leave now.
        logger.warning("RLEV reward server: exiting with verification still running in a thread")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
