"""Tests for the ``api`` counter (batchcost.tokens.api) against a local stand-in of the Gemini API.

The real google-genai client is used throughout; only its base URL points at tests.fakegemini.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from batchcost.errors import ApiError, TokenizerError
from batchcost.tokens.api import ApiCounter, TokenBucket
from batchcost.tokens.base import RequestCount, RequestCounter
from tests import fakegemini
from tests.fakegemini import MEDIA_TOKENS, FakeGemini, Fault, Received, count_prompt, serve

# Distinctive, so that a leak shows up in any message it reaches.
KEY = "AIzaSy-FAKE-k3y-must-never-leak-7f3a9c"
OTHER_KEY = "AIzaSy-OTHER-fake-key-2b8e41"
MODEL = "gemini-test-flash"
SRC = Path(__file__).resolve().parents[2] / "src"

fake_gemini = fakegemini.fake_gemini  # the reusable fixture (any key accepted)


@pytest.fixture
def server() -> Iterator[FakeGemini]:
    """A fake that only accepts KEY."""
    yield from serve(api_key=KEY)


def make_counter(server: FakeGemini, **kw: Any) -> ApiCounter:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "base_url": server.base_url,
        "max_rps": 1000.0,
        "concurrency": 1,
        "initial_backoff_s": 0.001,
        "max_backoff_s": 0.01,
    }
    settings.update(kw)
    return ApiCounter(MODEL, **settings)


def text_request(text: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def bodies_for(server: FakeGemini, marker: str) -> list[Received]:
    return [r for r in server.calls("countTokens") if marker in str(r.body)]


# -- counting -------------------------------------------------------------------------------------


def test_counts_whole_request_including_system_instruction_and_tools(server: FakeGemini) -> None:
    request = {
        "contents": [{"role": "user", "parts": [{"text": "What is the weather in Paris"}]}],
        "systemInstruction": {"parts": [{"text": "Answer in one word please"}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Look up the weather",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                        },
                    }
                ]
            }
        ],
        "generationConfig": {"maxOutputTokens": 64, "thinkingConfig": {"thinkingBudget": 0}},
    }
    with make_counter(server) as counter:
        assert isinstance(counter, RequestCounter)
        [count] = counter.count_requests([request])

    # 6 words of contents + 5 of the system instruction + tool: 1 name + 4 description words + 2 params
    assert count == RequestCount(total=18, by_modality={"TEXT": 18}, cached=0)
    [call] = server.received
    assert call.path == f"/v1beta/models/{MODEL}:countTokens"
    assert call.status == 200
    # The whole request travelled, wrapped as the REST generateContentRequest form.
    assert call.body == {"generateContentRequest": {"model": f"models/{MODEL}", **request}}
    assert call.api_key_present
    assert "x-goog-api-key" not in call.headers


def test_snake_case_keys_media_and_modalities(server: FakeGemini) -> None:
    request = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Describe the picture and the recording"},
                    {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"file_data": {"mime_type": "audio/mp3", "file_uri": "files/abc123"}},
                ],
            }
        ],
        "system_instruction": {"parts": [{"text": "Be brief"}]},
        "generation_config": {"max_output_tokens": 16},
    }
    with make_counter(server) as counter:
        [count] = counter.count_requests([request])

    assert count.by_modality == {
        "TEXT": 6 + 2,
        "IMAGE": MEDIA_TOKENS["IMAGE"],
        "AUDIO": MEDIA_TOKENS["AUDIO"],
    }
    assert count.total == 8 + 258 + 320
    assert server.received[0].body["generateContentRequest"]["system_instruction"] == {"parts": [{"text": "Be brief"}]}


def test_cached_content_tokens_are_reported(server: FakeGemini) -> None:
    server.add_cached_content("cachedContents/manual-v2", 1200)
    request = {**text_request("Summarise chapter three"), "cachedContent": "cachedContents/manual-v2"}
    with make_counter(server) as counter:
        [count] = counter.count_requests([request])
    assert count == RequestCount(total=1203, by_modality={"TEXT": 1203}, cached=1200)


def test_counts_follow_input_order_and_progress_is_called_per_request(server: FakeGemini) -> None:
    texts = ["one", "one two", "one two three", "a b c d", "a b c d e"]
    seen: list[tuple[int, int]] = []
    with make_counter(server, progress=lambda done, total: seen.append((done, total))) as counter:
        counts = counter.count_requests([text_request(t) for t in texts])
    assert [c.total for c in counts] == [1, 2, 3, 4, 5]
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert len(server.received) == 5


def test_empty_input_sends_nothing(server: FakeGemini) -> None:
    with make_counter(server) as counter:
        assert counter.count_requests([]) == []
    assert server.received == []


def test_reusable_fixture_accepts_any_key(fake_gemini: FakeGemini) -> None:
    with make_counter(fake_gemini, api_key=OTHER_KEY) as counter:
        [count] = counter.count_requests([text_request("hello there world")])
    assert count.total == 3
    fake_gemini.stop()
    fake_gemini.stop()  # idempotent


# -- retries --------------------------------------------------------------------------------------


def test_429_then_success_resends_only_the_failed_request(server: FakeGemini) -> None:
    server.set_faults(Fault(429, match="request-B", nth=1))
    requests = [text_request(f"request-{name} here") for name in "ABC"]
    with make_counter(server) as counter:
        counts = counter.count_requests(requests)

    assert [c.total for c in counts] == [2, 2, 2]
    assert [r.status for r in server.received] == [200, 429, 200, 200]
    assert len(server.received) == len(requests) + 1
    assert [len(bodies_for(server, f"request-{n}")) for n in "ABC"] == [1, 2, 1]


def test_500_then_success_counts_every_call_once(server: FakeGemini) -> None:
    server.set_faults(Fault(500, call=3))
    requests = [text_request(f"request-{name}") for name in "ABCD"]
    with make_counter(server) as counter:
        counts = counter.count_requests(requests)

    assert [c.total for c in counts] == [1, 1, 1, 1]
    assert len(server.received) == len(requests) + 1
    assert [len(bodies_for(server, f"request-{n}")) for n in "ABCD"] == [1, 1, 2, 1]


def test_retry_after_header_and_retry_info_are_honoured(server: FakeGemini) -> None:
    server.set_faults(
        Fault(429, match="first", nth=1, retry_after="7"),
        Fault(503, match="second", nth=1, retry_delay="2.5s"),
    )
    sleeps: list[float] = []
    with make_counter(server, sleep=sleeps.append, max_rps=1e9, max_backoff_s=60.0) as counter:
        counts = counter.count_requests([text_request("first"), text_request("second")])

    assert [c.total for c in counts] == [1, 1]
    backoffs = [s for s in sleeps if s > 0.01]  # rate-limiter waits at 1e9 rps are nanoseconds
    assert backoffs == [7.0, 2.5]


def test_backoff_grows_exponentially_with_jitter_and_is_capped(server: FakeGemini) -> None:
    server.set_faults(Fault(500))
    sleeps: list[float] = []
    counter = make_counter(
        server, sleep=sleeps.append, max_rps=1e9, max_retries=4, initial_backoff_s=1.0, max_backoff_s=3.0
    )
    with counter, pytest.raises(ApiError):
        counter.count_requests([text_request("always failing")])

    backoffs = [s for s in sleeps if s > 0.01]
    assert len(backoffs) == 4
    # equal jitter: delay in [base/2, base], base = min(3, 1 * 2**attempt)
    for delay, base in zip(backoffs, [1.0, 2.0, 3.0, 3.0], strict=True):
        assert base / 2 <= delay <= base


def test_persistent_500_raises_after_max_retries_without_the_key(server: FakeGemini) -> None:
    server.set_faults(Fault(500))
    with make_counter(server, max_retries=3) as counter, pytest.raises(ApiError) as info:
        counter.count_requests([text_request("doomed")])

    message = str(info.value)
    assert len(server.received) == 4  # first attempt + 3 retries, none doubled by the SDK
    assert "HTTP 500 INTERNAL" in message
    assert "request 0 of 1" in message and "4 attempts" in message
    assert "retry later" in message
    assert "\n" not in message
    assert KEY not in message and KEY not in repr(info.value)


def test_persistent_429_message_says_what_to_do(server: FakeGemini) -> None:
    server.set_faults(Fault(429))
    with make_counter(server, max_retries=2, max_rps=500.0) as counter, pytest.raises(ApiError) as info:
        counter.count_requests([text_request("throttled")])
    assert len(server.received) == 3
    assert "RESOURCE_EXHAUSTED" in str(info.value)
    assert "lower max_rps (now 500/s)" in str(info.value)


def test_client_error_is_not_retried_and_names_the_request(server: FakeGemini) -> None:
    server.set_faults(Fault(400, match="broken", message="Invalid value at 'contents[0].parts[0]'"))
    requests = [text_request("fine"), text_request("broken one"), text_request("never sent")]
    with make_counter(server) as counter, pytest.raises(ApiError) as info:
        counter.count_requests(requests)

    message = str(info.value)
    assert "request 1 of 3" in message
    assert "HTTP 400 INVALID_ARGUMENT: Invalid value at 'contents[0].parts[0]'" in message
    assert "fix this request in the batch file" in message
    assert [r.status for r in server.received] == [200, 400]  # no retry, nothing after it


def test_not_found_names_the_model(server: FakeGemini) -> None:
    server.set_faults(Fault(404, message="models/gemini-test-flash is not found for API version v1beta"))
    with (
        make_counter(server) as counter,
        pytest.raises(ApiError, match="model 'gemini-test-flash' was not found"),
    ):
        counter.count_requests([text_request("hello")])
    assert len(server.received) == 1


def test_invalid_key_is_reported_without_the_key(server: FakeGemini) -> None:
    with make_counter(server, api_key=OTHER_KEY) as counter, pytest.raises(ApiError) as info:
        counter.count_requests([text_request("hello")])
    message = str(info.value)
    assert "API key not valid" in message and "GEMINI_API_KEY" in message
    assert OTHER_KEY not in message and KEY not in message
    assert len(server.received) == 1


def test_key_echoed_by_the_server_is_redacted(server: FakeGemini) -> None:
    server.set_faults(Fault(400, message=f"key {KEY} is not allowed to call this model"))
    with make_counter(server) as counter, pytest.raises(ApiError) as info:
        counter.count_requests([text_request("hello")])
    assert KEY not in str(info.value)
    assert "key [redacted] is not allowed" in str(info.value)


def test_sdk_retry_options_of_a_given_client_cannot_double_send(server: FakeGemini) -> None:
    from google import genai
    from google.genai import types

    eager = types.HttpRetryOptions(attempts=5, initial_delay=0.001, max_delay=0.001)
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.base_url, retry_options=eager))
    server.set_faults(Fault(500, nth=1))
    counter = ApiCounter(MODEL, client=client, max_retries=0)
    with pytest.raises(ApiError, match=r"\(request 0 of 1, 1 attempt\)"):
        counter.count_requests([text_request("once only")])
    assert len(server.received) == 1  # the SDK's own 5 attempts were overridden per call
    client.close()


def test_unreachable_endpoint_is_retried_then_reported() -> None:
    with FakeGemini() as gone:
        url = gone.base_url
    with (
        ApiCounter(
            MODEL, api_key=KEY, base_url=url, max_retries=2, initial_backoff_s=0.001, max_backoff_s=0.01
        ) as counter,
        pytest.raises(ApiError) as info,
    ):
        counter.count_requests([text_request("hello")])
    message = str(info.value)
    assert message.startswith("could not reach countTokens at 127.0.0.1:")
    assert "3 attempts" in message and KEY not in message


# -- concurrency ----------------------------------------------------------------------------------


def test_concurrent_counting_keeps_order_and_sends_each_request_once_plus_faults(server: FakeGemini) -> None:
    server.set_faults(Fault(500, call=2), Fault(429, call=5, retry_after="0"))
    texts = [" ".join(["w"] * (i + 1)) + f" req{i:02d}" for i in range(12)]
    progress: list[tuple[int, int]] = []
    with make_counter(server, concurrency=4, progress=lambda d, t: progress.append((d, t))) as counter:
        counts = counter.count_requests([text_request(t) for t in texts])

    assert [c.total for c in counts] == [i + 2 for i in range(12)]
    assert len(server.received) == 12 + 2
    # Each request succeeded exactly once, on its last call; the two faults cost one extra call each
    # (both may land on the same request: call 2 fails, its retry is call 5 and fails again).
    for i in range(12):
        statuses = [r.status for r in bodies_for(server, f"req{i:02d}")]
        assert statuses[-1] == 200 and statuses.count(200) == 1, (i, statuses)
    assert sorted(r.status for r in server.received if r.status != 200) == [429, 500]
    assert progress == [(d, 12) for d in range(1, 13)]


def test_concurrent_failure_stops_the_remaining_requests(server: FakeGemini) -> None:
    server.set_faults(Fault(400, match="req05"))
    requests = [text_request(f"req{i:02d}") for i in range(40)]
    with make_counter(server, concurrency=3, max_rps=50.0) as counter, pytest.raises(ApiError) as info:
        counter.count_requests(requests)
    assert "request 5 of 40" in str(info.value)
    assert len(server.received) < 40


# -- configuration ----------------------------------------------------------------------------------


def test_missing_key_is_a_tokenizer_error() -> None:
    with pytest.raises(TokenizerError) as info:
        ApiCounter(MODEL)
    message = str(info.value)
    assert "GEMINI_API_KEY" in message and "GOOGLE_API_KEY" in message
    assert "sends the sampled prompts to Google" in message
    with pytest.raises(TokenizerError):
        ApiCounter(MODEL, api_key="   ")


def test_from_env_prefers_gemini_api_key_then_google_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # The library must read only the mapping it is given.
    monkeypatch.setenv("GEMINI_API_KEY", "from-os-environ")
    monkeypatch.setenv("GOOGLE_API_KEY", "from-os-environ")
    with pytest.raises(TokenizerError, match="GEMINI_API_KEY"):
        ApiCounter.from_env(MODEL, {})

    for env, accepted in (
        ({"GEMINI_API_KEY": KEY, "GOOGLE_API_KEY": OTHER_KEY}, KEY),
        ({"GOOGLE_API_KEY": OTHER_KEY}, OTHER_KEY),
        ({"GEMINI_API_KEY": "", "GOOGLE_API_KEY": OTHER_KEY}, OTHER_KEY),
    ):
        with FakeGemini(api_key=accepted) as fake:
            env = {**env, "GOOGLE_GEMINI_BASE_URL": fake.base_url}
            with ApiCounter.from_env(MODEL, env, max_rps=1000.0) as counter:
                assert counter.count_requests([text_request("two words")])[0].total == 2
            assert len(fake.received) == 1


def test_from_env_keyword_arguments_win(server: FakeGemini) -> None:
    env = {"GEMINI_API_KEY": OTHER_KEY, "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9/"}
    with ApiCounter.from_env(MODEL, env, api_key=KEY, base_url=server.base_url) as counter:
        assert counter.count_requests([text_request("x")])[0].total == 1


def test_description_and_repr_never_show_the_key(server: FakeGemini) -> None:
    with make_counter(server) as counter:
        assert counter.name == "api" and counter.exact is True
        assert counter.description == f"Gemini countTokens API (models/{MODEL}, Developer API)"
        assert KEY not in repr(counter) and KEY not in counter.description


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"platform": "azure"}, "unknown platform"),
        ({"max_rps": 0}, "max_rps must be greater than 0"),
        ({"concurrency": 0}, "concurrency must be greater than 0"),
        ({"max_retries": -1}, "must not be negative"),
    ],
)
def test_bad_settings_are_tokenizer_errors(kwargs: Mapping[str, Any], match: str) -> None:
    with pytest.raises(TokenizerError, match=match):
        ApiCounter(MODEL, api_key=KEY, **kwargs)


def test_bad_model_id_is_refused() -> None:
    with pytest.raises(TokenizerError, match="invalid model id"):
        ApiCounter("gemini flash?", api_key=KEY)


# -- Vertex AI ------------------------------------------------------------------------------------


def test_vertex_with_project_sends_count_tokens_fields_to_the_publisher_model(server: FakeGemini) -> None:
    from google import genai
    from google.genai import types
    from google.oauth2.credentials import Credentials

    client = genai.Client(
        vertexai=True,
        project="proj-1",
        location="us-central1",
        credentials=Credentials(token="fake-bearer-token"),
        http_options=types.HttpOptions(base_url=server.base_url),
    )
    request = {
        "contents": [{"role": "user", "parts": [{"text": "Classify: great support team"}]}],
        "system_instruction": {"parts": [{"text": "One word answer"}]},
        "tools": [{"functionDeclarations": [{"name": "noop", "description": "Does nothing"}]}],
        "generation_config": {"max_output_tokens": 16},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    counter = ApiCounter(MODEL, client=client, max_rps=1000.0)
    assert counter.platform == "vertex"
    assert counter.description == (
        f"Gemini countTokens API (publishers/google/models/{MODEL}, Vertex AI, project proj-1, us-central1)"
    )
    [count] = counter.count_requests([request])
    client.close()

    assert count.total == 4 + 3 + (1 + 2)
    [call] = server.received
    assert call.path == (f"/v1beta1/projects/proj-1/locations/us-central1/publishers/google/models/{MODEL}:countTokens")
    assert call.authorization_present and not call.api_key_present
    assert call.body == {
        "contents": request["contents"],
        "systemInstruction": request["system_instruction"],
        "tools": request["tools"],
        "generationConfig": request["generation_config"],
    }
    assert count.by_modality == count_prompt(request)


def test_vertex_express_mode_uses_the_key(server: FakeGemini) -> None:
    with ApiCounter(MODEL, platform="vertex", api_key=KEY, base_url=server.base_url, max_rps=1000.0) as counter:
        assert "Vertex AI, express mode" in counter.description
        [count] = counter.count_requests([text_request("three small words")])
    assert count.total == 3
    [call] = server.received
    assert call.path == f"/v1beta1/publishers/google/models/{MODEL}:countTokens"
    assert call.api_key_present


def test_vertex_needs_a_project_or_a_key() -> None:
    with pytest.raises(TokenizerError, match="GOOGLE_CLOUD_PROJECT"):
        ApiCounter.from_env(MODEL, {}, platform="vertex")


# -- rate limiting and import cost ----------------------------------------------------------------


def test_token_bucket_spaces_calls_at_the_rate() -> None:
    now = [100.0]
    slept: list[float] = []
    bucket = TokenBucket(10.0, clock=lambda: now[0], sleep=slept.append)
    waits = [bucket.acquire() for _ in range(4)]  # the clock does not move: each reserves the next slot
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert slept == pytest.approx([0.1, 0.2, 0.3])
    now[0] += 10.0  # long idle: the bucket refills to one token only (no burst)
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.1)


def test_rate_limit_applies_to_requests_sent(server: FakeGemini) -> None:
    now = [0.0]

    def fake_sleep(seconds: float) -> None:
        now[0] += seconds

    with make_counter(server, max_rps=4.0, sleep=fake_sleep, clock=lambda: now[0]) as counter:
        counter.count_requests([text_request(f"r{i}") for i in range(9)])
    # 9 calls at 4 per second: the first goes at once, the other 8 a quarter second apart.
    assert now[0] == pytest.approx(2.0)


def test_importing_the_module_does_not_import_google_genai() -> None:
    code = "import sys, batchcost.tokens.api; print('google.genai' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


def test_vertex_from_env_reads_project_location_and_base_url(server: FakeGemini) -> None:
    env = {"GOOGLE_CLOUD_PROJECT": "proj-9", "GOOGLE_CLOUD_LOCATION": "europe-west4", "GEMINI_API_KEY": KEY}
    with ApiCounter.from_env(MODEL, {**env, "GOOGLE_VERTEX_BASE_URL": server.base_url}, platform="vertex") as c:
        assert c.description.endswith("Vertex AI, project proj-9, europe-west4)")
    express = {"GOOGLE_API_KEY": KEY, "GOOGLE_VERTEX_BASE_URL": server.base_url}
    with ApiCounter.from_env(MODEL, express, platform="vertex", max_rps=1000.0) as counter:
        assert counter.count_requests([text_request("via express mode")])[0].total == 3
    assert [r.path for r in server.received] == [f"/v1beta1/publishers/google/models/{MODEL}:countTokens"]


def test_vertex_without_application_default_credentials(server: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    def no_adc(**kwargs: Any) -> Any:
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_adc)
    counter = ApiCounter(MODEL, platform="vertex", project="proj-1", location="us-central1", base_url=server.base_url)
    with counter, pytest.raises(TokenizerError, match="application-default login"):
        counter.count_requests([text_request("hello")])
    assert server.received == []
