"""`openrlhf-rlev serve`: the RLEV reward over HTTP in OpenRLHF's remote reward protocol.

Point OpenRLHF at it with `--reward.remote_url http://HOST:5000/get_reward` to verify on CPU nodes. Several servers,
`--reward.remote_url http://a:5000/get_reward,http://b:5000/get_reward`, share the load only from OpenRLHF 0.11.2
(round-robin); 0.11.0 and earlier send every query to the first. GET /health reports liveness and counters.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT: in-flight requests are finished first); 2 bad arguments, a busy
port or an unknown host (one line on stderr).

The server has NO authentication and no TLS. It binds to 127.0.0.1 unless --host says otherwise; only ever
expose it on a network that only the cluster can reach.
"""

import argparse
import os
import socket
import sys

from openrlhf_rlev.integrations.openrlhf.server import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_MB,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_SAMPLES,
    DEFAULT_THREADS,
    listen,
    serve,
)
from openrlhf_rlev.reward.settings import PARSERS, Settings, env_name, resolve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openrlhf-rlev serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; no auth!)")
    parser.add_argument("--port", type=int, default=5000, help="port (default 5000; 0 picks a free one)")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="verification threads (bounds concurrency)"
    )
    parser.add_argument(
        "--max-body-mb", type=float, default=DEFAULT_MAX_BODY_MB, help="larger request bodies get HTTP 413"
    )
    parser.add_argument(
        "--max-samples",
        type=int,
        default=DEFAULT_MAX_SAMPLES,
        help=f"requests with more samples get HTTP 413 (default {DEFAULT_MAX_SAMPLES})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT,
        help=f"close connections idle, or sending their request, this many seconds (default {DEFAULT_IDLE_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        help=f"open connections past this get HTTP 503 and are closed (default {DEFAULT_MAX_CONNECTIONS})",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        default=60.0,
        help="seconds to finish in-flight requests on SIGTERM; then they are cancelled and the server exits",
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--access-log", action="store_true", help="log every request (off: one per sample is a lot)")
    group = parser.add_argument_group("RLEV settings (override the RLEV_* environment variables)")
    for name in PARSERS:
        group.add_argument(f"--rlev.{name}", dest=f"rlev_{name}", metavar=name.upper(), help=f"env {env_name(name)}")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    flags = {name: getattr(args, f"rlev_{name}") for name in PARSERS if getattr(args, f"rlev_{name}") is not None}
    return resolve(flags, os.environ)[0]


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads < 1 or args.max_body_mb <= 0 or args.graceful_timeout < 0:
        parser.error("--threads must be >= 1, --max-body-mb > 0 and --graceful-timeout >= 0")
    if args.max_samples < 1 or args.max_connections < 1 or not args.idle_timeout > 0:
        parser.error("--max-samples and --max-connections must be >= 1, --idle-timeout > 0")
    if not 0 <= args.port <= 65535:
        print(f"openrlhf-rlev serve: error: --port must be in 0..65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        settings = settings_from(args)
    except ValueError as e:
        print(f"openrlhf-rlev serve: {e}", file=sys.stderr)
        return 2
    try:
        sock = listen(args.host, args.port)
    except OSError as e:  # busy port, no such interface, unresolvable host
        print(
            f"openrlhf-rlev serve: error: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr
        )
        return 2
    host, port = sock.getsockname()[:2]
    print(announcement(host, port), file=sys.stderr)
    serve(
        sock,
        settings=settings,
        max_body_mb=args.max_body_mb,
        threads=args.threads,
        max_samples=args.max_samples,
        idle_timeout=args.idle_timeout,
        max_connections=args.max_connections,
        graceful_timeout=args.graceful_timeout,
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return 0


WILDCARDS = ("0.0.0.0", "::", "")


def announcement(host: str, port: int, hostname: str | None = None) -> str:
    """The line that tells the user what to pass to OpenRLHF. A wildcard bind (0.0.0.0, ::) is not an address
    another node can connect to: name this machine instead, and say that it must be reachable from the cluster."""
    if host in WILDCARDS:
        name = hostname or socket.gethostname()
        return (
            f"RLEV reward server: listening on all interfaces, port {port}; from the cluster's nodes: "
            f"--reward.remote_url http://{name}:{port}/get_reward (this machine's hostname: use an address "
            f"of it the nodes can reach)"
        )
    url_host = f"[{host}]" if ":" in host else host
    return f"RLEV reward server: --reward.remote_url http://{url_host}:{port}/get_reward"
