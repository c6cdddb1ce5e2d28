"""The one retry policy for Google's API (batchcost.gemini), through the real google-genai client
against the local stand-in: what both --tokenizer api and --pilot rely on."""

from __future__ import annotations

import http.server
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from batchcost.gemini import DEVELOPER, Caller, CallFailed, RetryPolicy, Stopped, build_client, call_options
from tests.fakegemini import FakeGemini, Fault, serve

KEY = "test-key-gemini-policy"
PATH = "models/gemini-2.5-flash:countTokens"
BODY = {"generateContentRequest": {"model": "models/gemini-2.5-flash", "contents": [{"parts": [{"text": "hi"}]}]}}


@pytest.fixture
def server() -> Iterator[FakeGemini]:
    yield from serve(api_key=KEY)


def caller_for(base_url: str, **kw: Any) -> Caller:
    client = build_client(DEVELOPER, api_key=KEY, base_url=base_url, timeout_s=5)
    settings: dict[str, Any] = {"max_rps": 1e9, "secret": KEY}
    settings.update(kw)
    policy = settings.pop("policy", RetryPolicy(max_retries=3, initial_backoff_s=1.0, max_backoff_s=8.0))
    return Caller(client, call_options(DEVELOPER, 5), policy, **settings)


def test_delay_is_equal_jitter_capped_and_never_below_the_server_hint() -> None:
    policy = RetryPolicy(max_retries=5, initial_backoff_s=1.0, max_backoff_s=6.0)
    rng = random.Random(7)
    for retry, base in enumerate([1.0, 2.0, 4.0, 6.0, 6.0]):
        for _ in range(50):
            assert base / 2 <= policy.delay(retry, None, rng) <= base
    assert policy.delay(0, 5.0, rng) == 5.0  # the hint wins over a shorter backoff
    assert policy.delay(0, 600.0, rng) == 6.0  # but never past the cap
    with pytest.raises(ValueError, match="must not be negative"):
        RetryPolicy(max_retries=-1)


def test_retries_transient_failures_and_reports_attempts(server: FakeGemini) -> None:
    server.set_faults(Fault(503, call=1), Fault(429, call=2, retry_after="3"))
    sleeps: list[float] = []
    answer, attempts = caller_for(server.base_url, sleep=sleeps.append).post(PATH, BODY)
    assert answer["totalTokens"] > 0 and attempts == 3
    backoffs = [s for s in sleeps if s > 0.001]
    assert len(backoffs) == 2 and 0.5 <= backoffs[0] <= 1.0 and backoffs[1] == 3.0


def test_out_of_retries_says_why_and_how_many_attempts(server: FakeGemini) -> None:
    server.set_faults(Fault(500))
    with pytest.raises(CallFailed) as failed:
        caller_for(server.base_url, sleep=lambda s: None).post(PATH, BODY)
    assert failed.value.attempts == 4 and failed.value.failure.code == 500
    assert failed.value.failure.retryable and not failed.value.failure.fatal
    assert len(server.received) == 4


def test_a_refusal_is_not_retried_and_a_bad_key_is_fatal(server: FakeGemini) -> None:
    client = build_client(DEVELOPER, api_key="wrong-key", base_url=server.base_url, timeout_s=5)
    caller = Caller(client, call_options(DEVELOPER, 5), RetryPolicy(), max_rps=1e9, secret="wrong-key")
    with pytest.raises(CallFailed) as failed:
        caller.post(PATH, BODY)
    assert failed.value.attempts == 1 and failed.value.failure.fatal
    assert "wrong-key" not in failed.value.failure.summary
    assert len(server.received) == 1


def test_the_deadline_stops_before_a_wait_that_would_pass_it(server: FakeGemini) -> None:
    server.set_faults(Fault(503))
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    caller = caller_for(server.base_url, deadline=2.5, clock=lambda: now[0], sleep=sleep)
    with pytest.raises(Stopped):
        caller.post(PATH, BODY)
    assert caller.timed_out and caller.stopped.is_set()
    assert now[0] < 2.5  # it gave up instead of sleeping past the deadline
    with pytest.raises(Stopped):  # and nothing more is sent by anyone
        caller.post(PATH, BODY)


def test_stop_wakes_a_waiting_call_at_once(server: FakeGemini) -> None:
    server.set_faults(Fault(503))
    caller = caller_for(server.base_url, policy=RetryPolicy(max_retries=3, initial_backoff_s=30, max_backoff_s=30))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            caller.post(PATH, BODY)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    while not server.received:
        threading.Event().wait(0.01)
    caller.stop()
    thread.join(timeout=5)
    assert not thread.is_alive() and isinstance(errors[0], Stopped)


class _NotJson(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "9")
        self.end_headers()
        self.wfile.write(b"<html>oops")

    def log_message(self, *args: object) -> None:
        pass


def test_an_answer_that_is_not_json_comes_back_as_none_without_retrying() -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotJson)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    caller = caller_for(f"http://127.0.0.1:{httpd.server_address[1]}")
    try:
        answer, attempts = caller.post(PATH, BODY)
    finally:
        caller.client.close()
        httpd.shutdown()
        httpd.server_close()
    assert answer is None and attempts == 1
