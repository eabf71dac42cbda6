"""The RLEV reward over HTTP, speaking OpenRLHF's remote reward-model protocol, so verification can run on
CPU nodes: `--reward.remote_url http://a:5000/get_reward,http://b:5000/get_reward`.

    POST /get_reward {"query": [str], "prompts": [str | null], "labels": [label]}
      -> {"rewards": ..., "scores": ..., "extra_logs": {"rlev/...": ...}}

A one-sample request gets plain floats, a batch gets lists. OpenRLHF (0.10.2-0.11.x) sends one sample per request
and wraps each returned value as `torch.tensor([value])`, so a 1-element list would become a (1, 1)
tensor; floats give the (1,) shape its reward file path produces.

No authentication and no TLS: bind it to loopback (the default) or to an interface only the cluster
network reaches.
"""

import asyncio
import contextlib
import json
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from openrlhf_rlev import __version__
from openrlhf_rlev.integrations.openrlhf.query import payload, score_query
from openrlhf_rlev.reward.settings import Settings

logger = logging.getLogger("openrlhf_rlev.integrations.openrlhf.server")

REWARD_PATH = "/get_reward"
DEFAULT_MAX_BODY_MB = 16.0
DEFAULT_THREADS = 32


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_body(raw: bytes) -> tuple[list, list, list]:
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


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) past `limit` bytes without buffering more than that."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise BadRequest(400, f"bad Content-Length {declared!r}") from None
        if declared_size > limit:
            raise BadRequest(413, f"body of {declared_size} bytes exceeds the limit of {limit} bytes (--max-body-mb)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"body exceeds the limit of {limit} bytes (--max-body-mb)")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    settings: Settings | None = None,
    *,
    max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * 2**20),
    threads: int = DEFAULT_THREADS,
) -> FastAPI:
    """Verification blocks (worker pool, judge HTTP), so it runs on a bounded thread pool, off the event loop."""
    settings = settings or Settings.from_env()
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rlev-verify")
    stats = {"requests": 0, "samples": 0, "rejected": 0, "in_flight": 0}

    @asynccontextmanager
    async def lifespan(app):
        yield
        # Uvicorn has already drained in-flight requests (graceful shutdown); now free threads and workers.
        executor.shutdown(wait=True)
        from openrlhf_rlev.verifiers import pool

        pool.shutdown()

    app = FastAPI(title="openrlhf-rlev reward", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.stats = stats

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
        queries, prompts, labels = parse_body(await read_body(request, max_body_bytes))
        loop = asyncio.get_running_loop()
        stats["in_flight"] += 1
        try:
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(executor, score_query, q, p, lab, settings)
                    for q, p, lab in zip(queries, prompts, labels)
                )
            )
        finally:
            stats["in_flight"] -= 1
        stats["requests"] += 1
        stats["samples"] += len(results)
        return JSONResponse(payload(list(results)))

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


def serve(
    sock: socket.socket,
    *,
    settings: Settings | None = None,
    max_body_mb: float = DEFAULT_MAX_BODY_MB,
    threads: int = DEFAULT_THREADS,
    graceful_timeout: float = 60.0,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Run on `sock` until SIGINT/SIGTERM; then stop accepting, finish in-flight requests (up to graceful_timeout)
    and return normally, so the process exits 0 after a clean drain."""
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
    app = create_app(settings, max_body_bytes=int(max_body_mb * 2**20), threads=threads)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=access_log, timeout_graceful_shutdown=graceful_timeout
    )
    Server(config).run(sockets=[sock])
