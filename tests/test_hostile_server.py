"""Hostile clients against `openrlhf-rlev serve`, a real subprocess on loopback (nothing mocked).

Each case is one way a client (buggy, slow or malicious) could stall the others or the server itself: a huge
valid request, sockets that never send a request or send it a byte at a time, more connections than the server
has file descriptors, a client that hangs up mid-request, and a stop signal while a judge call hangs. The judge is
a real chat-completions server run by the test (`SlowJudge`).
"""

import json
import resource
import signal
import socket
import threading
import time

import pytest
from servers import PROMPT, Server, SlowJudge, get_json, post

pytestmark = pytest.mark.slow  # each test starts a server process (4-7 s on the shared 2-core machine)


def _samples(n: int, label=None) -> dict:
    label = label if label is not None else {"answer": "42", "value": 0.1, "verifier": "exact"}
    return {"query": [PROMPT + "The answer is 42.<|im_end|>"] * n, "prompts": [PROMPT] * n, "labels": [label] * n}


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes `sock` (EOF or reset) within `seconds`; bytes it sends first are read past."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:  # reset
            return True
    return False


def test_a_request_over_the_sample_cap_is_413_naming_the_cap(tmp_path):
    s = Server(tmp_path, "--max-samples", "8")
    try:
        status, body = post(s.url, _samples(9))
        assert status == 413
        assert "9 samples" in body["detail"] and "cap is 8" in body["detail"] and "--max-samples" in body["detail"]
        status, body = post(s.url, _samples(8))  # at the cap: served
        assert status == 200 and body["scores"] == [1.0] * 8
    finally:
        assert s.stop() == 0


def test_health_stays_fast_while_a_huge_valid_request_is_verified(tmp_path):
    """A 50k-sample request (11 MB) must not stall /health: parsing, verification and the reply's rendering run
    off the event loop, verification in chunks. The old server did all but verification on the loop and queued
    every sample at once: /health did not answer within 60 s (100k samples). The bound here is loose (the
    machine is shared); a stalled loop misses it by far."""
    n = 50_000
    s = Server(tmp_path, "--max-samples", str(n), "--max-body-mb", "64", "--threads", "4")
    try:
        # a label with an unknown verifier is rejected by the scorer without a worker: cheap per sample, so the
        # request's cost is the server's own handling of 100k samples
        body = json.dumps(_samples(n, {"answer": "42", "value": 0.1, "verifier": "no-such"})).encode()
        result = {}
        client = threading.Thread(target=lambda: result.update(r=post(s.url, body, timeout=300)))
        client.start()
        worst, probes = 0.0, 0
        while client.is_alive():
            t0 = time.monotonic()
            assert get_json(s.base + "/health", timeout=60)[0] == 200
            worst = max(worst, time.monotonic() - t0)
            probes += 1
            time.sleep(0.05)
        client.join()
        status, reply = result["r"]
        assert status == 200 and len(reply["rewards"]) == n
        assert probes >= 3, "the request finished too fast to probe /health during it"
        assert worst < 5, f"/health took {worst:.2f} s during a large request"
    finally:
        assert s.stop() == 0


def test_idle_and_slow_connections_are_closed_and_a_slow_body_is_408(tmp_path):
    s = Server(tmp_path, "--idle-timeout", "1")
    try:
        idle = socket.create_connection(("127.0.0.1", s.port))  # connects, never sends a byte
        trickle = socket.create_connection(("127.0.0.1", s.port))  # headers a byte at a time, forever
        stop = threading.Event()

        def drip():
            for b in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 1000:
                if stop.wait(0.1):
                    return
                try:
                    trickle.send(bytes([b]))
                except OSError:
                    return

        t = threading.Thread(target=drip, daemon=True)
        t.start()
        assert _closed_within(idle, 5), "an idle connection was never closed"
        assert _closed_within(trickle, 5), "a connection trickling its headers was never closed"
        stop.set()

        # a body that never completes: 408 and the connection closed
        slow = socket.create_connection(("127.0.0.1", s.port))
        slow.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"query\": [")  # fmt: skip
        slow.settimeout(5)
        reply = b""
        while chunk := slow.recv(65536):  # until the server closes the connection
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"--idle-timeout" in reply
        slow.close()
        assert s.health()["status"] == "ok"
    finally:
        assert s.stop() == 0
    assert "Traceback" not in s.output()


def test_connection_limit_and_file_descriptor_exhaustion(tmp_path):
    """300 idle sockets against a server limited to 256 file descriptors and 20 connections: the connections past
    the limit get a 503 and are closed at once, the 20 idle ones after the idle timeout, and new clients are
    served again; running out of descriptors on the way is one warning, not a traceback per accept()."""

    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    s = Server(tmp_path, "--idle-timeout", "2", "--max-connections", "20", preexec_fn=low_fd_limit)
    socks = []
    try:
        for _ in range(300):
            socks.append(socket.create_connection(("127.0.0.1", s.port)))
        for x in socks[-5:]:
            x.settimeout(15)
            assert x.recv(4096).startswith(b"HTTP/1.1 503"), "a connection past the limit was not refused"
        deadline = time.monotonic() + 15
        while True:  # the idle ones are closed after 2 s; then a new client gets through
            try:
                if get_json(s.base + "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "new clients stayed locked out"
            time.sleep(0.2)
        assert all(_closed_within(x, 5) for x in socks), "connections stayed open"
    finally:
        for x in socks:
            x.close()
        assert s.stop() == 0
    out = s.output()
    assert "Traceback" not in out and out.count("Too many open files") <= 1, out[-2000:]


def test_connection_limit_is_lowered_to_the_open_file_limit(tmp_path):
    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    s = Server(tmp_path, "--max-connections", "1000", preexec_fn=low_fd_limit)
    try:
        assert "open-file limit (ulimit -n 256)" in s.output() and "using 192" in s.output()  # 256 - 64 spare
    finally:
        assert s.stop() == 0


def test_graceful_timeout_is_honoured_with_a_judge_call_hanging(tmp_path):
    judge = SlowJudge()  # never answers unless released
    s = Server(
        tmp_path,
        "--rlev.judge_url", judge.url, "--rlev.judge_model", "m", "--rlev.judge_timeout", "120",
        "--rlev.judge_deadline", "120", "--graceful-timeout", "1",
    )  # fmt: skip
    try:
        body = _samples(1, {"answer": "forty-two", "value": 0.1, "verifier": "judge"})
        result = {}
        client = threading.Thread(target=lambda: result.update(r=post(s.url, body, 60)), daemon=True)
        client.start()
        assert judge.received.wait(30)
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        code = s.proc.wait(30)
        took = time.monotonic() - t0
        assert code == 0
        assert took < 4, f"--graceful-timeout 1 took {took:.1f} s"
        client.join(10)
        status, reply = result["r"]
        assert status == 503 and "--graceful-timeout" in reply["detail"]  # told, not left hanging
    finally:
        s.stop()
        judge.close()
    assert "Traceback" not in s.output()


def test_a_client_that_hangs_up_is_not_an_internal_error(tmp_path):
    judge = SlowJudge()
    s = Server(tmp_path, "--rlev.judge_url", judge.url, "--rlev.judge_model", "m")
    try:
        # hangs up mid-body
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b'POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{"query"')
        time.sleep(0.3)
        c.close()
        # hangs up while its sample is with the judge
        body = json.dumps(_samples(1, {"answer": "forty-two", "value": 0.1, "verifier": "judge"})).encode()
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
        assert judge.received.wait(30)
        c.close()
        time.sleep(0.3)
        judge.release.set()
        deadline = time.monotonic() + 10
        while s.health()["in_flight"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        health = s.health()
    finally:
        assert s.stop() == 0
        judge.close()
    out = s.output()
    assert "internal error" not in out and "Traceback" not in out and "Exception in ASGI" not in out, out[-3000:]
    assert health["disconnected"] >= 1  # counted, quietly
