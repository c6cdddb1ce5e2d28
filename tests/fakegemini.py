"""A small local stand-in for the Gemini REST API, for tests.

The real Gemini API is not reachable from test machines, so tests point the real ``google-genai``
client at this server (``HttpOptions(base_url=server.base_url)``). It speaks the same JSON shapes as
``generativelanguage`` ``v1beta`` (and the Vertex ``v1beta1`` publisher-model paths) for the calls
batchcost makes:

* ``POST /v1beta/models/{model}:countTokens`` with either ``{"contents": [...]}`` or
  ``{"generateContentRequest": {...}}`` (mutually exclusive, as on the real API);
* ``POST /v1beta/models/{model}:generateContent``;
* the same two methods under ``/v1beta1/[projects/{p}/locations/{l}/]publishers/google/models/{m}``.

Token figures are deterministic so tests can compute them by hand (see :func:`count_prompt`): one
token per whitespace-separated word of every text, a fixed figure per media part
(:data:`MEDIA_TOKENS`), and for tools one token per function name and per parameter name plus the
words of the description. Every request is recorded (:class:`Received`) without the API key or
bearer token value: only whether one was present. Faults (:class:`Fault`) script error answers, for
example "429 to the 1st call whose body mentions X" or "500 to the 3rd call overall".

The server binds to a loopback address on an ephemeral port only.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

#: Tokens the fake charges for one media part, by modality (fixed, whatever the media size).
MEDIA_TOKENS: Mapping[str, int] = {"IMAGE": 258, "AUDIO": 320, "VIDEO": 700, "DOCUMENT": 560}

#: Output of the default output rule when nothing limits it (see :func:`default_output_rule`).
DEFAULT_CANDIDATE_TOKENS = 16

#: (candidate tokens, thought tokens) the fake generateContent reports for a request.
OutputRule = Callable[[Mapping[str, Any], int], tuple[int, int]]

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# Fields of a GenerateContentRequest (REST), camelCase; snake_case spellings are accepted too.
_GENERATE_FIELDS = frozenset(
    {
        "model",
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "safetySettings",
        "generationConfig",
        "cachedContent",
        "labels",
        "serviceTier",
        "store",
    }
)
_DEVELOPER_COUNT_FIELDS = frozenset({"contents", "generateContentRequest"})
_VERTEX_COUNT_FIELDS = frozenset(
    {"model", "endpoint", "instances", "contents", "systemInstruction", "tools", "generationConfig"}
)

_DEVELOPER_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):(?P<method>countTokens|generateContent)$")
_VERTEX_PATH = re.compile(
    r"^/v1beta1/(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/)?"
    r"publishers/google/models/(?P<model>[^/:]+):(?P<method>countTokens|generateContent)$"
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _field(obj: Mapping[str, Any], camel: str) -> Any:
    """Value of a protobuf-JSON field given in camelCase or snake_case (both are accepted)."""
    if camel in obj:
        return obj[camel]
    return obj.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel))


def _words(text: str) -> int:
    return len(text.split())


def modality_of(mime_type: str) -> str:
    """Modality the fake reports for a media part of this MIME type."""
    if mime_type.startswith("image/"):
        return "IMAGE"
    if mime_type.startswith("audio/"):
        return "AUDIO"
    if mime_type.startswith("video/"):
        return "VIDEO"
    return "DOCUMENT"


def _count_content(content: Any, into: dict[str, int]) -> None:
    if isinstance(content, str):  # the API also takes a bare string as a one-part content
        into["TEXT"] = into.get("TEXT", 0) + _words(content)
        return
    if not isinstance(content, Mapping):
        return
    for part in _field(content, "parts") or []:
        if not isinstance(part, Mapping):
            continue
        media = _field(part, "inlineData") or _field(part, "fileData")
        if isinstance(media, Mapping):
            modality = modality_of(str(_field(media, "mimeType") or ""))
            into[modality] = into.get(modality, 0) + MEDIA_TOKENS[modality]
        elif isinstance(_field(part, "text"), str):
            into["TEXT"] = into.get("TEXT", 0) + _words(_field(part, "text"))
        else:  # functionCall, functionResponse, executableCode...: words of its JSON
            into["TEXT"] = into.get("TEXT", 0) + _words(json.dumps(dict(part), sort_keys=True))


def _count_tools(tools: Any) -> int:
    total = 0
    for tool in tools or []:
        if not isinstance(tool, Mapping):
            continue
        declarations = _field(tool, "functionDeclarations")
        if not declarations:
            total += 1  # googleSearch, codeExecution, ...: one token per tool
            continue
        for decl in declarations:
            schema = _field(decl, "parameters") or _field(decl, "parametersJsonSchema") or {}
            properties = _field(schema, "properties") if isinstance(schema, Mapping) else None
            total += 1 + _words(str(_field(decl, "description") or "")) + len(properties or {})
    return total


def count_prompt(request: Mapping[str, Any], cached_tokens: int = 0) -> dict[str, int]:
    """Tokens per modality the fake charges for a GenerateContentRequest-shaped mapping.

    Args:
        request: a mapping with ``contents`` and optionally ``systemInstruction`` and ``tools``
            (camelCase or snake_case).
        cached_tokens: tokens of a referenced cached content, charged as TEXT.

    Returns:
        ``{modality: tokens}``; ``TEXT`` is always present.
    """
    counts: dict[str, int] = {"TEXT": cached_tokens}
    contents = _field(request, "contents")
    for content in contents if isinstance(contents, list) else [contents]:
        _count_content(content, counts)
    system = _field(request, "systemInstruction")
    if system is not None:
        _count_content(system, counts)
    counts["TEXT"] += _count_tools(_field(request, "tools"))
    return counts


def default_output_rule(request: Mapping[str, Any], prompt_tokens: int) -> tuple[int, int]:
    """Output figures when a test sets no rule.

    Candidates: :data:`DEFAULT_CANDIDATE_TOKENS`, capped by ``generationConfig.maxOutputTokens``.
    Thoughts: ``thinkingConfig.thinkingBudget`` when it is positive, else 0.
    """
    del prompt_tokens
    config = _field(request, "generationConfig") or {}
    limit = _field(config, "maxOutputTokens")
    candidates = DEFAULT_CANDIDATE_TOKENS if limit is None else min(DEFAULT_CANDIDATE_TOKENS, int(limit))
    thinking = _field(config, "thinkingConfig") or {}
    budget = int(_field(thinking, "thinkingBudget") or 0)
    return candidates, max(budget, 0)


@dataclass(frozen=True)
class Fault:
    """One scripted error answer.

    Conditions are ANDed. With neither ``call`` nor ``nth``, every matching call gets the fault.

    Attributes:
        status: HTTP status to answer (e.g. 429, 500, 400).
        call: answer only the call with this overall number (1-based, counting every call).
        match: only calls whose raw body contains this substring.
        nth: only the nth call (1-based) that meets the other conditions.
        method: only this method (``"countTokens"`` or ``"generateContent"``).
        retry_after: value of a ``Retry-After`` header to send.
        retry_delay: ``RetryInfo.retryDelay`` to put in the error details (e.g. ``"2s"``).
        message: error message (a default one per status otherwise).
    """

    status: int
    call: int | None = None
    match: str | None = None
    nth: int | None = None
    method: str | None = None
    retry_after: str | None = None
    retry_delay: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it (secrets reduced to presence flags).

    Attributes:
        call: overall call number, 1-based, in arrival order.
        method: ``countTokens`` or ``generateContent`` (empty for an unknown path).
        path: the URL path (no query string).
        platform: ``"developer"`` or ``"vertex"`` (empty for an unknown path).
        model: the model id from the path.
        headers: request headers, lower-case names, without ``x-goog-api-key`` and ``authorization``.
        api_key_present: an ``x-goog-api-key`` header was sent.
        authorization_present: an ``Authorization`` header was sent.
        body: the parsed JSON body (None when it was not JSON).
        status: the HTTP status the fake answered.
    """

    call: int
    method: str
    path: str
    platform: str
    model: str
    headers: Mapping[str, str]
    api_key_present: bool
    authorization_present: bool
    body: Any
    status: int


class _ApiProblem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error_body(status: int, message: str, details: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = list(details)
    return {"error": error}


def _check_fields(obj: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in obj:
        if _camel(key) not in allowed:
            raise _ApiProblem(
                400, f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field."
            )


def _check_generate_request(request: Any, where: str) -> None:
    if not isinstance(request, Mapping):
        raise _ApiProblem(400, f"Invalid JSON payload received. '{where}' must be an object.")
    _check_fields(request, _GENERATE_FIELDS, where)
    if not _field(request, "contents"):
        raise _ApiProblem(400, "* GenerateContentRequest.contents: contents is not specified")


@dataclass
class _State:
    api_key: str | None
    output_rule: OutputRule
    cached_contents: dict[str, int]
    faults: list[Fault] = field(default_factory=list)
    fault_hits: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeGemini:
    """A threaded local HTTP server speaking Gemini REST shapes. Use it as a context manager.

    Args:
        host: loopback address to bind (anything else is refused).
        api_key: when set, calls with a different ``x-goog-api-key`` get Google's "API key not
            valid" 400 answer; when None any key is accepted.
        output_rule: ``(request, prompt_tokens) -> (candidate_tokens, thought_tokens)`` used by
            generateContent; :func:`default_output_rule` when None.
        cached_contents: ``{"cachedContents/name": tokens}`` known to the server.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        api_key: str | None = None,
        output_rule: OutputRule | None = None,
        cached_contents: Mapping[str, int] | None = None,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the fake Gemini server binds to loopback addresses only, not {host!r}")
        self._host = host
        self._state = _State(api_key, output_rule or default_output_rule, dict(cached_contents or {}))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeGemini:
        """Bind an ephemeral loopback port and serve in a background thread."""
        if self._server is not None:
            return self
        state = self._state
        handler = type("_BoundHandler", (_Handler,), {"state": state})
        server = ThreadingHTTPServer((self._host, 0), handler)
        server.daemon_threads = True
        bound_host = server.server_address[0]
        assert ipaddress.ip_address(bound_host).is_loopback, bound_host
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-gemini", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what tests use -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/``, for ``HttpOptions(base_url=...)``."""
        if self._server is None:
            raise RuntimeError("the fake Gemini server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def received(self) -> list[Received]:
        """Every request so far, in arrival order (a copy)."""
        with self._state.lock:
            return sorted(self._state.received, key=lambda r: r.call)

    def calls(self, method: str | None = None) -> list[Received]:
        """Received requests, optionally only those of one method."""
        return [r for r in self.received if method is None or r.method == method]

    def set_faults(self, *faults: Fault) -> None:
        """Replace the fault script (and restart its nth-match counters)."""
        with self._state.lock:
            self._state.faults = list(faults)
            self._state.fault_hits = [0] * len(faults)

    def set_output_rule(self, rule: OutputRule | None) -> None:
        """Set the generateContent output rule (None: :func:`default_output_rule`)."""
        with self._state.lock:
            self._state.output_rule = rule or default_output_rule

    def add_cached_content(self, name: str, tokens: int) -> None:
        """Make ``cachedContents/...`` known, holding ``tokens`` tokens."""
        with self._state.lock:
            self._state.cached_contents[name] = tokens

    def reset(self) -> None:
        """Forget received requests, faults and the call counter."""
        with self._state.lock:
            self._state.received.clear()
            self._state.faults = []
            self._state.fault_hits = []
            self._state.calls = 0


class _Handler(BaseHTTPRequestHandler):
    state: _State
    server_version = "FakeGemini/1"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self._answer_plain(404, _error_body(404, "Method not found."))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        state = self.state
        with state.lock:
            state.calls += 1
            call = state.calls
        route = _DEVELOPER_PATH.match(path)
        platform = "developer" if route else ""
        if route is None:
            route = _VERTEX_PATH.match(path)
            platform = "vertex" if route else ""
        method = route.group("method") if route else ""
        model = route.group("model") if route else ""
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = None

        status, payload, extra_headers = self._respond(call, platform, method, model, raw, body)
        secret_headers = ("x-goog-api-key", "authorization")
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() not in secret_headers}
        record = Received(
            call=call,
            method=method,
            path=path,
            platform=platform,
            model=model,
            headers=headers,
            api_key_present=self.headers.get("x-goog-api-key") is not None,
            authorization_present=self.headers.get("authorization") is not None,
            body=body,
            status=status,
        )
        with state.lock:
            state.received.append(record)
        self._answer_plain(status, payload, extra_headers)

    def _respond(
        self, call: int, platform: str, method: str, model: str, raw: bytes, body: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        fault = self._pick_fault(call, method, raw.decode("utf-8", "replace"))
        if fault is not None:
            return self._fault_answer(fault)
        if not platform:
            return 404, _error_body(404, f"The requested URL {self.path} was not found on this server."), {}
        auth = self._check_auth(platform)
        if auth is not None:
            return auth, _error_body(auth, self._auth_message(auth)), {}
        if body is None or not isinstance(body, Mapping):
            return 400, _error_body(400, "Invalid JSON payload received."), {}
        try:
            if method == "countTokens":
                return 200, self._count_tokens(platform, body), {}
            return 200, self._generate(model, body), {}
        except _ApiProblem as problem:
            return problem.status, _error_body(problem.status, problem.message), {}

    def _pick_fault(self, call: int, method: str, text: str) -> Fault | None:
        state = self.state
        with state.lock:
            for i, fault in enumerate(state.faults):
                if fault.method is not None and fault.method != method:
                    continue
                if fault.match is not None and fault.match not in text:
                    continue
                if fault.call is not None and fault.call != call:
                    continue
                state.fault_hits[i] += 1
                if fault.nth is not None and state.fault_hits[i] != fault.nth:
                    continue
                return fault
        return None

    @staticmethod
    def _fault_answer(fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
        defaults = {
            429: "Resource has been exhausted (e.g. check quota).",
            500: "An internal error has occurred. Please retry or report in the troubleshooting guide.",
            503: "The model is overloaded. Please try again later.",
        }
        message = fault.message or defaults.get(fault.status, f"Injected fault {fault.status}.")
        details = []
        if fault.retry_delay is not None:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": fault.retry_delay})
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return fault.status, _error_body(fault.status, message, details), headers

    def _check_auth(self, platform: str) -> int | None:
        key = self.headers.get("x-goog-api-key")
        if platform == "vertex":
            return None if key is not None or self.headers.get("authorization") else 401
        if key is None:
            return 403
        if self.state.api_key is not None and key != self.state.api_key:
            return 400
        return None

    @staticmethod
    def _auth_message(status: int) -> str:
        if status == 400:
            return "API key not valid. Please pass a valid API key."
        if status == 401:
            return "Request is missing required authentication credential."
        return "Method doesn't allow unregistered callers (callers without established identity)."

    def _cached_tokens(self, request: Mapping[str, Any]) -> int:
        name = _field(request, "cachedContent")
        if name is None:
            return 0
        with self.state.lock:
            tokens = self.state.cached_contents.get(str(name))
        if tokens is None:
            raise _ApiProblem(403, f"CachedContent not found (or permission denied): {name}")
        return tokens

    def _count_tokens(self, platform: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if platform == "vertex":
            _check_fields(body, _VERTEX_COUNT_FIELDS, "CountTokensRequest")
            if not _field(body, "contents"):
                raise _ApiProblem(400, "contents is not specified")
            request: Mapping[str, Any] = body
        else:
            _check_fields(body, _DEVELOPER_COUNT_FIELDS, "CountTokensRequest")
            wrapped = _field(body, "generateContentRequest")
            if wrapped is not None and _field(body, "contents") is not None:
                raise _ApiProblem(400, "Models/Contents and generate_content_requests are mutually exclusive.")
            if wrapped is not None:
                _check_generate_request(wrapped, "count_tokens_request.generate_content_request")
                model_name = _field(wrapped, "model")
                if not isinstance(model_name, str) or not model_name.startswith("models/"):
                    raise _ApiProblem(
                        400, "* GenerateContentRequest.model: unexpected model name format (want models/...)"
                    )
                request = wrapped
            elif _field(body, "contents"):
                request = body
            else:
                raise _ApiProblem(400, "* CountTokensRequest.contents: contents is not specified")
        cached = self._cached_tokens(request)
        counts = count_prompt(request, cached)
        answer: dict[str, Any] = {
            "totalTokens": sum(counts.values()),
            "promptTokensDetails": [{"modality": m, "tokenCount": n} for m, n in counts.items()],
        }
        if cached:
            answer["cachedContentTokenCount"] = cached
            answer["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
        return answer

    def _generate(self, model: str, body: Mapping[str, Any]) -> dict[str, Any]:
        _check_generate_request(body, "GenerateContentRequest")
        cached = self._cached_tokens(body)
        counts = count_prompt(body, cached)
        prompt = sum(counts.values())
        with self.state.lock:
            rule = self.state.output_rule
            response_id = f"fake-{self.state.calls}"
        candidates, thoughts = rule(body, prompt)
        config = _field(body, "generationConfig") or {}
        limit = _field(config, "maxOutputTokens")
        finish = "MAX_TOKENS" if limit is not None and candidates >= int(limit) else "STOP"
        parts: list[dict[str, Any]] = []
        thinking = _field(config, "thinkingConfig") or {}
        if thoughts and _field(thinking, "includeThoughts"):
            parts.append({"text": " ".join(["thought"] * thoughts), "thought": True})
        parts.append({"text": " ".join(["word"] * candidates)})
        usage: dict[str, Any] = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": candidates,
            "totalTokenCount": prompt + candidates + thoughts,
            "promptTokensDetails": [{"modality": m, "tokenCount": n} for m, n in counts.items()],
        }
        if thoughts:  # like the real API, zero figures are left out
            usage["thoughtsTokenCount"] = thoughts
        if cached:
            usage["cachedContentTokenCount"] = cached
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": response_id,
        }

    def _answer_plain(self, status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True


def serve(**kwargs: Any) -> Iterator[FakeGemini]:
    """Generator form for pytest fixtures: ``yield from serve(api_key=...)`` starts, yields, stops."""
    with FakeGemini(**kwargs) as server:
        yield server


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    """A running :class:`FakeGemini` that accepts any API key; stopped after the test.

    Use it from any test module with ``fake_gemini = fakegemini.fake_gemini`` or register this
    module as a plugin in the root conftest (``pytest_plugins = ["tests.fakegemini"]``).
    """
    yield from serve()
