"""Tests for the local Gemini stand-in (tests.fakegemini) that other tests rely on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.fakegemini import DEFAULT_CANDIDATE_TOKENS, FakeGemini, Fault, count_prompt, serve

KEY = "fake-key-for-the-stand-in-5d1c"


@pytest.fixture
def server() -> Iterator[FakeGemini]:
    yield from serve(api_key=KEY)


def post(server: FakeGemini, path: str, body: Any, key: str | None = KEY) -> tuple[int, dict[str, Any], Any]:
    """POST JSON with the standard library; returns (status, body, headers)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["x-goog-api-key"] = key
    request = urllib.request.Request(server.base_url + path.lstrip("/"), data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read()), error.headers


def genai_client(server: FakeGemini) -> Any:
    from google import genai
    from google.genai import types

    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.base_url, api_version="v1beta"))


def test_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeGemini(host="0.0.0.0")
    with FakeGemini(host="127.0.0.1") as fake:
        assert fake.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.base_url


def test_count_tokens_contents_form_and_recording(server: FakeGemini) -> None:
    status, body, _ = post(server, "v1beta/models/m1:countTokens", {"contents": [{"parts": [{"text": "a b c"}]}]})
    assert status == 200
    assert body == {"totalTokens": 3, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]}
    [call] = server.received
    assert (call.call, call.method, call.platform, call.model, call.status) == (
        1,
        "countTokens",
        "developer",
        "m1",
        200,
    )
    assert call.api_key_present and not call.authorization_present
    assert "x-goog-api-key" not in call.headers and KEY not in json.dumps(dict(call.headers))


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {"contents": [{"parts": [{"text": "x"}]}], "generateContentRequest": {"model": "models/m"}},
            "mutually exclusive",
        ),
        # what SDK 3.6.1 cannot do on the Developer API, and what a naive body would send
        (
            {"contents": [{"parts": [{"text": "x"}]}], "systemInstruction": {"parts": [{"text": "y"}]}},
            'Unknown name "systemInstruction"',
        ),
        ({"generateContentRequest": {"contents": [{"parts": [{"text": "x"}]}]}}, "model"),
        ({"generateContentRequest": {"model": "models/m", "thinking_config": {}}}, "thinking_config"),
        ({}, "contents is not specified"),
    ],
)
def test_count_tokens_refuses_what_the_real_api_refuses(
    server: FakeGemini, body: Mapping[str, Any], fragment: str
) -> None:
    status, answer, _ = post(server, "v1beta/models/m:countTokens", body)
    assert status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT"
    assert fragment in answer["error"]["message"]


def test_auth_problems(server: FakeGemini) -> None:
    body = {"contents": [{"parts": [{"text": "x"}]}]}
    assert post(server, "v1beta/models/m:countTokens", body, key=None)[0] == 403
    status, answer, _ = post(server, "v1beta/models/m:countTokens", body, key="wrong")
    assert (status, answer["error"]["message"]) == (400, "API key not valid. Please pass a valid API key.")
    assert post(server, "v1beta/models/m:unknownMethod", body)[0] == 404
    assert post(server, "v1beta/models/m:countTokens", b"{not json")[0] == 400


def test_faults_by_call_number_match_nth_and_method(server: FakeGemini) -> None:
    server.set_faults(
        Fault(500, call=2),
        Fault(429, match="target", nth=2, retry_after="3", retry_delay="4s"),
        Fault(503, method="generateContent"),
    )
    plain = {"contents": [{"parts": [{"text": "plain"}]}]}
    target = {"contents": [{"parts": [{"text": "target"}]}]}
    results = [
        post(server, "v1beta/models/m:countTokens", plain),  # call 1: ok
        post(server, "v1beta/models/m:countTokens", plain),  # call 2: 500
        post(server, "v1beta/models/m:countTokens", target),  # 1st target: ok
        post(server, "v1beta/models/m:countTokens", target),  # 2nd target: 429
        post(server, "v1beta/models/m:countTokens", target),  # 3rd target: ok
        post(server, "v1beta/models/m:generateContent", plain),  # 503
    ]
    assert [r[0] for r in results] == [200, 500, 200, 429, 200, 503]
    _, answer, headers = results[3]
    assert headers["Retry-After"] == "3"
    assert answer["error"]["details"] == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "4s"}]
    assert [r.status for r in server.received] == [200, 500, 200, 429, 200, 503]
    server.set_faults()
    assert post(server, "v1beta/models/m:generateContent", plain)[0] == 200


def test_generate_content_through_the_real_client_with_default_rule(server: FakeGemini) -> None:
    from google.genai import types

    client = genai_client(server)
    response = client.models.generate_content(model="m2", contents="tell me something short")
    usage = response.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == 4
    assert usage.candidates_token_count == DEFAULT_CANDIDATE_TOKENS
    assert usage.thoughts_token_count is None  # the real API leaves zero figures out
    assert usage.total_token_count == 4 + DEFAULT_CANDIDATE_TOKENS
    assert response.text == " ".join(["word"] * DEFAULT_CANDIDATE_TOKENS)
    assert response.candidates is not None and response.candidates[0].finish_reason == types.FinishReason.STOP

    capped = client.models.generate_content(
        model="m2",
        contents="hi",
        config=types.GenerateContentConfig(
            max_output_tokens=5, thinking_config=types.ThinkingConfig(thinking_budget=40, include_thoughts=True)
        ),
    )
    assert capped.usage_metadata is not None
    assert capped.usage_metadata.candidates_token_count == 5
    assert capped.usage_metadata.thoughts_token_count == 40
    assert capped.candidates is not None and capped.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    client.close()
    assert [r.method for r in server.received] == ["generateContent", "generateContent"]


def test_generate_content_with_a_custom_rule_and_cached_content(server: FakeGemini) -> None:
    seen: list[int] = []

    def rule(request: Mapping[str, Any], prompt_tokens: int) -> tuple[int, int]:
        seen.append(prompt_tokens)
        return 3 * prompt_tokens, 7

    server.set_output_rule(rule)
    server.add_cached_content("cachedContents/c1", 100)
    body = {"contents": [{"parts": [{"text": "one two"}]}], "cachedContent": "cachedContents/c1"}
    status, answer, _ = post(server, "v1beta/models/m:generateContent", body)
    assert status == 200
    assert answer["usageMetadata"] == {
        "promptTokenCount": 102,
        "candidatesTokenCount": 306,
        "totalTokenCount": 102 + 306 + 7,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 102}],
        "thoughtsTokenCount": 7,
        "cachedContentTokenCount": 100,
    }
    assert seen == [102]
    missing = {**body, "cachedContent": "cachedContents/nope"}
    assert post(server, "v1beta/models/m:generateContent", missing)[0] == 403


def test_vertex_paths(server: FakeGemini) -> None:
    body = {"contents": [{"parts": [{"text": "x y"}]}], "systemInstruction": {"parts": [{"text": "z"}]}}
    path = "v1beta1/projects/p/locations/europe-west4/publishers/google/models/m3:countTokens"
    status, answer, _ = post(server, path, body)
    assert (status, answer["totalTokens"]) == (200, 3)
    assert post(server, path, body, key=None)[0] == 401
    status, answer, _ = post(server, "v1beta1/publishers/google/models/m3:generateContent", body)
    assert status == 200 and answer["usageMetadata"]["promptTokenCount"] == 3
    assert {r.platform for r in server.received} == {"vertex"}


def test_count_prompt_rules() -> None:
    request = {
        "contents": [
            {"parts": [{"text": "look at this"}, {"inlineData": {"mimeType": "image/jpeg", "data": ""}}]},
            {"parts": [{"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/f.pdf"}}]},
            {"parts": [{"fileData": {"mimeType": "video/mp4", "fileUri": "gs://b/v.mp4"}}]},
        ],
        "tools": [{"googleSearch": {}}, {"function_declarations": [{"name": "f", "description": "two words"}]}],
    }
    assert count_prompt(request) == {"TEXT": 3 + 1 + 3, "IMAGE": 258, "DOCUMENT": 560, "VIDEO": 700}
