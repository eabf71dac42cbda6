"""A real `openrlhf-rlev serve` subprocess on loopback and a real chat-completions judge, shared by the server
suites (tests/integrations/openrlhf/test_server.py, tests/test_hostile_server.py) and the judge suites
(tests/verifiers/test_judge.py, test_judge_run.py). tests/conftest.py puts this folder on sys.path."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROMPT = "<|im_start|>user\nWhat is 6 * 7?<|im_end|>\n<|im_start|>assistant\n"


# --- process helpers ---------------------------------------------------------------------------------------------


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (Linux /proc), to check that a stopped server leaves nothing behind."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z":  # a zombie is gone in all but name
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command() -> list[str]:
    script = Path(sys.executable).with_name("openrlhf-rlev")
    return [str(script)] if script.exists() else [sys.executable, "-m", "openrlhf_rlev.cli.main"]


class Server:
    def __init__(self, tmp_path: Path, *args: str, env: dict | None = None, **popen):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + "/get_reward"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("RLEV_")}
        full_env.update(env or {}, PYTHONUNBUFFERED="1")
        self.log_path = tmp_path / f"server-{self.port}.log"
        self.log = open(self.log_path, "wb")
        cmd = serve_command() + ["serve", "--port", str(self.port), "--log-level", "info", *args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=full_env, **popen)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if get_json(self.base + "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not come up:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def health(self) -> dict:
        return get_json(self.base + "/health")[1]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        return self.proc.returncode


def get_json(url: str, timeout: float = 10) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, json.loads(r.read())


def post(url: str, body, timeout: float = 30, headers: dict | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        assert "Traceback" not in text
        return e.code, json.loads(text)


class FakeJudge:
    """Behaviours are taken from `script` in order (the last one repeats): yes, no, garbage, not_json, slow,
    500, 401, drop, no_choices. `slow` waits `slow_seconds` before answering YES."""

    def __init__(self):
        self.script = ["yes"]
        self.slow_seconds = 5.0
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.hold = 0.0  # seconds each answer takes, to observe concurrency
        self.connections = 0  # TCP connections accepted (keep-alive reuse shows here)
        self.idle_timeout = None  # close a keep-alive connection idle this long (None: never)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.received = threading.Event()  # set when a chat request arrives
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                self.timeout = fake.idle_timeout  # StreamRequestHandler: the socket's timeout between requests
                super().setup()
                with fake.lock:
                    fake.connections += 1

            def do_GET(self):
                if self.path.endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "served-judge", "object": "model"}]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    behaviour = fake.script[0] if len(fake.script) == 1 else fake.script.pop(0)
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                fake.received.set()
                try:
                    fake.stop.wait(fake.hold)
                    self._behave(behaviour)
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

            def _behave(self, behaviour):
                if behaviour == "slow":
                    fake.stop.wait(fake.slow_seconds)
                    behaviour = "yes"
                if behaviour == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if behaviour == "500":
                    self._json(500, {"error": "internal"})
                elif behaviour == "401":
                    self._json(401, {"error": "bad key"})
                elif behaviour == "not_json":
                    self._raw(200, b"<html>proxy error</html>")
                elif behaviour == "no_choices":
                    self._json(200, {"object": "chat.completion", "choices": []})
                else:
                    content = {"yes": "YES", "no": "NO", "garbage": "Well, it depends on the units."}[behaviour]
                    self._json(200, _completion(content))

            def _json(self, status, obj):
                self._raw(status, json.dumps(obj).encode())

            def _raw(self, status, data):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def posts(self) -> int:
        with self.lock:
            return len(self.requests)

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _completion(content: str) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "judge",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }


class SlowJudge(FakeJudge):
    """Answers YES only when `release` is set (or after 30 s), to hold a request in flight; `received` is set when
    a request arrives."""

    def __init__(self):
        super().__init__()
        self.hold = 30.0
        self.release = self.stop
