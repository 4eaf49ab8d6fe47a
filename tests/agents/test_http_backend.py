"""OpenAI-compatible backend end to end against a local stub server on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from latentlab.agents import bernoulli_bandit, run_bandit
from latentlab.agents.backends import BackendError, OpenAICompatibleBackend
from latentlab.agents.text import ContextBuilder, TextBanditPolicy, scenario

KEY = "sk-test-secret-123"
MAX_REQUESTS = 200


class _Stub(BaseHTTPRequestHandler):
    """Chat completions that always answer the first action name in the prompt; the first
    request of every fresh server fails with 503 (exercises retries); ``/slow`` never answers in time."""

    def do_POST(self):  # noqa: N802 (http.server API)
        server = self.server
        server.seen.append((self.path, self.headers.get("Authorization")))
        if len(server.seen) > MAX_REQUESTS:
            self.send_error(429)
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.startswith("/slow"):
            time.sleep(0.5)
        if len(server.seen) == 1:
            self.send_error(503)
            return
        prompt = body["messages"][-1]["content"]
        choices = prompt.split("choices : ")[1].split()
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": f" {choices[0]} ."}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.seen = []
    server.handle_error = lambda request, address: None  # the slow path writes to a closed socket
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_bandit_episode_through_http(stub, monkeypatch, caplog):
    monkeypatch.setenv("LATENTLAB_TEST_KEY", KEY)
    url = f"http://127.0.0.1:{stub.server_address[1]}/v1"
    backend = OpenAICompatibleBackend(url, "stub-model", api_key_env="LATENTLAB_TEST_KEY", timeout=5,
                                      max_retries=2, backoff=0.01)
    sc = scenario("VideoWatching", 3)
    policy = TextBanditPolicy(ContextBuilder(sc, "summary"), backend)
    inst = bernoulli_bandit(3, 0.5, 2, np.random.default_rng(0))
    with caplog.at_level(logging.DEBUG):
        run = run_bandit(inst, policy, 5, np.random.default_rng(1))
    assert np.all(run.actions == 0) and policy.invalid == 0
    assert len(stub.seen) == 11  # 10 answers + one retried 503
    assert all(path == "/v1/chat/completions" and auth == f"Bearer {KEY}" for path, auth in stub.seen)
    assert KEY not in caplog.text and KEY not in repr(backend)
    assert "503" in caplog.text  # the retry was logged (without the key)


def test_timeout_then_error(stub):
    url = f"http://127.0.0.1:{stub.server_address[1]}/slow"
    backend = OpenAICompatibleBackend(url, "stub-model", api_key_env="LATENTLAB_UNSET_KEY", timeout=0.1,
                                      max_retries=1, backoff=0.01)
    start = time.perf_counter()
    with pytest.raises(BackendError):
        backend.generate(["choices : a b"])
    assert time.perf_counter() - start < 3
    assert backend.requests == 2 and stub.seen[0][1] is None  # no key in the environment -> no header


def test_bad_input_raises():
    with pytest.raises(ValueError):
        OpenAICompatibleBackend("ftp://x", "m")
    with pytest.raises(ValueError):
        OpenAICompatibleBackend("http://127.0.0.1:1", "m", timeout=0)
