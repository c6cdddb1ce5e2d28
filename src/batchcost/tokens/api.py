"""The ``api`` token counter: whole requests counted by Google's ``countTokens`` endpoint.

It is exact for everything the server sees (system instruction, tools, contents, media, cached
content) but sends the sampled prompts to Google, so it runs only when the user asks for it.

Calls go through the real ``google-genai`` client (auth, base URL, API version, Vertex
project/location prefix and headers are the SDK's), but not through ``client.models.count_tokens``.
In google-genai 3.6.1 that method:

* on the Developer API sends only ``contents`` and raises ``ValueError`` for a system instruction,
  tools or generation config (``models.py`` ``_CountTokensConfig_to_mldev``);
* cannot send ``cachedContent`` on either platform;
* first validates the request against the SDK's own pydantic types, which forbid unknown fields
  (a request field newer than the installed SDK would fail) and decode/re-encode inline media;
* keeps only ``totalTokens`` (and, on the Developer API, ``cachedContentTokenCount``) of the answer,
  dropping ``promptTokensDetails``, the per-modality split that audio pricing needs.

So :func:`_post_count_tokens` sends the REST body itself with ``BaseApiClient.request``, the very
call ``models.count_tokens`` makes once it has built its body. On the Developer API the body is
``{"generateContentRequest": {"model": "models/<m>", ...request}}`` (the REST form that counts
"system instructions and/or function declarations"); on Vertex it is the ``CountTokensRequest``
fields ``contents``, ``systemInstruction``, ``tools`` and ``generationConfig`` (Vertex's
countTokens has no ``cachedContent`` field, so there a cached prefix is not counted).

Retries are ours alone: every call passes ``HttpRetryOptions(attempts=1)`` so the SDK never
re-sends, and :class:`ApiCounter` retries 429, 408, 5xx and connection failures with exponential
backoff, jitter and the server's ``Retry-After``/``RetryInfo`` hint, under a shared token bucket.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from batchcost.errors import ApiError, TokenizerError
from batchcost.redact import host_of, redact
from batchcost.tokens.base import RequestCount

DEVELOPER = "developer"
VERTEX = "vertex"
_PLATFORMS = (DEVELOPER, VERTEX)

# Pinned so that GOOGLE_GENAI_API_VERSION in the user's environment cannot move our paths; Batch
# Mode and countTokens' generateContentRequest are v1beta features (the SDK's default is v1).
_API_VERSION = {DEVELOPER: "v1beta", VERTEX: "v1beta1"}

# The fields of a GenerateContentRequest that Vertex's CountTokensRequest accepts (others, like
# safetySettings or cachedContent, are refused there as unknown fields).
_VERTEX_FIELDS = {
    "contents": "contents",
    "systemInstruction": "systemInstruction",
    "system_instruction": "systemInstruction",
    "tools": "tools",
    "generationConfig": "generationConfig",
    "generation_config": "generationConfig",
}

_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/@-]*$")
_KEY_HELP = "set GEMINI_API_KEY (or GOOGLE_API_KEY)"
_PRIVACY = "note that --tokenizer api sends the sampled prompts to Google's countTokens API"
_MAX_MESSAGE = 300


class TokenBucket:
    """A thread-safe token bucket: on average at most ``rate`` acquisitions per second.

    Capacity is one token, so calls are spaced at least ``1 / rate`` seconds apart; a caller that
    finds the bucket empty reserves the next token and sleeps outside the lock until it is due.

    Args:
        rate: tokens per second (> 0).
        clock: monotonic time source in seconds.
        sleep: how to wait (seconds).
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate!r}")
        self._rate = float(rate)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = 1.0
        self._last = clock()

    def acquire(self) -> float:
        """Take one token, waiting if needed. Returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(1.0, self._tokens + (now - self._last) * self._rate)
            self._last = now
            self._tokens -= 1.0
            delay = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if delay > 0:
            self._sleep(delay)
        return delay


@dataclass(frozen=True, slots=True)
class _Failure:
    """One failed attempt, reduced to what the retry loop needs (never holds the key)."""

    retryable: bool
    code: int | None  # HTTP status, None for a connection failure
    summary: str  # e.g. "HTTP 429 RESOURCE_EXHAUSTED: Resource has been exhausted"
    retry_after: float | None = None


class _Cancelled(Exception):
    """Another request already failed; this worker stops without sending more."""


class ApiCounter:
    """Counts whole ``GenerateContentRequest`` bodies with the Gemini ``countTokens`` API.

    Implements :class:`batchcost.tokens.base.RequestCounter`. The library never reads
    ``os.environ``: pass the key (or use :meth:`from_env` with the mapping the CLI gives).
    On Vertex only ``contents``, ``systemInstruction``, ``tools`` and ``generationConfig`` are
    sent (what its countTokens accepts): a ``cachedContent`` prefix is not counted there.

    Args:
        model: model id, e.g. ``"gemini-3.8-flash"`` (a ``models/`` prefix is accepted).
        api_key: Gemini API key (required on the Developer API; on Vertex it selects express mode).
        platform: ``"developer"`` (Gemini Developer API) or ``"vertex"``.
        project: Vertex project (with application default credentials).
        location: Vertex location; ``"global"`` when a project is given without one.
        base_url: endpoint override, e.g. a proxy or a local stand-in.
        max_rps: most countTokens calls per second, retries included.
        max_retries: retries of one request after its first attempt (429, 408, 5xx, network).
        timeout_s: timeout of one HTTP call.
        progress: called as ``progress(done, total)`` after each request is counted.
        client: a ready ``google.genai.Client`` to use instead of building one (its platform wins
            over ``platform``; it is not closed by :meth:`close`).
        concurrency: requests in flight at once (all share the ``max_rps`` bucket).
        initial_backoff_s: first retry delay before jitter; doubles per retry.
        max_backoff_s: longest wait between retries, server hints included.
        sleep: how to wait (seconds); for tests. Default: an interruptible wait.
        clock: monotonic clock for the rate limiter; for tests.

    Raises:
        TokenizerError: no key (Developer API), no project or key (Vertex), a bad setting, or the
            client cannot be built.
    """

    name = "api"
    exact = True

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        platform: str = DEVELOPER,
        project: str | None = None,
        location: str | None = None,
        base_url: str | None = None,
        max_rps: float = 10.0,
        max_retries: int = 6,
        timeout_s: float = 60.0,
        progress: Callable[[int, int], None] | None = None,
        client: Any = None,
        concurrency: int = 4,
        initial_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        model_id = model.removeprefix("models/")
        if not _MODEL_ID.match(model_id):
            raise TokenizerError(f"invalid model id {model!r} for --tokenizer api (e.g. 'gemini-3.8-flash')")
        if platform not in _PLATFORMS:
            raise TokenizerError(f"unknown platform {platform!r}: use 'developer' or 'vertex'")
        _check_positive(max_rps=max_rps, timeout_s=timeout_s, concurrency=concurrency)
        if max_retries < 0 or initial_backoff_s < 0 or max_backoff_s < 0:
            raise TokenizerError("max_retries, initial_backoff_s and max_backoff_s must not be negative")
        api_key = api_key.strip() if api_key else None

        from google.genai import types  # lazy: `batchcost --help` must not import google.genai

        self._types = types
        self._secret = api_key or ""
        self._owns_client = client is None
        if client is None:
            if platform == DEVELOPER and not api_key:
                raise TokenizerError(f"--tokenizer api needs a Gemini API key: {_KEY_HELP}; {_PRIVACY}")
            if platform == VERTEX and not (project or api_key):
                raise TokenizerError(
                    "--tokenizer api on Vertex AI needs GOOGLE_CLOUD_PROJECT (with application default "
                    f"credentials; GOOGLE_CLOUD_LOCATION defaults to global) or GOOGLE_API_KEY; {_PRIVACY}"
                )
            if platform == VERTEX and project and not location:
                location = "global"
            client = self._build_client(platform, api_key, project, location, base_url, timeout_s)
        else:
            platform = VERTEX if getattr(client, "vertexai", False) else DEVELOPER
            inner = getattr(client, "_api_client", None)
            project = getattr(inner, "project", None) if platform == VERTEX else None
            location = getattr(inner, "location", None) if platform == VERTEX else None
        self._client = client
        self.platform = platform
        self.model = model_id
        if platform == DEVELOPER:
            resource = model_id if model_id.startswith("tunedModels/") else f"models/{model_id}"
            where = "Developer API"
        else:
            resource = model_id if "/" in model_id else f"publishers/google/models/{model_id}"
            where = "Vertex AI" + (f", project {project}, {location}" if project else ", express mode")
        self._resource = resource
        self._path = f"{resource}:countTokens"
        self.description = f"Gemini countTokens API ({resource}, {where})"
        # Per-call options override whatever the client was built with: one attempt (we retry),
        # our timeout, our API version.
        self._call_options = types.HttpOptions(
            api_version=_API_VERSION[platform],
            timeout=int(timeout_s * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        self._max_rps = float(max_rps)
        self._max_retries = int(max_retries)
        self._progress = progress
        self._concurrency = int(concurrency)
        self._initial_backoff = float(initial_backoff_s)
        self._max_backoff = float(max_backoff_s)
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self._host = host_of(base_url)
        self._transient = transient_errors()

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_env(cls, model: str, env: Mapping[str, str], **kw: Any) -> ApiCounter:
        """Build a counter from an environment mapping (the CLI passes ``os.environ``).

        Reads ``GEMINI_API_KEY`` then ``GOOGLE_API_KEY``; on Vertex (``platform="vertex"``) also
        ``GOOGLE_CLOUD_PROJECT`` and ``GOOGLE_CLOUD_LOCATION`` (a project means application default
        credentials; without one the key selects Vertex express mode). ``GOOGLE_GEMINI_BASE_URL``
        (Developer API) or ``GOOGLE_VERTEX_BASE_URL`` (Vertex), the SDK's own override variables,
        set ``base_url``. Keyword arguments win over the mapping.

        Raises:
            TokenizerError: the variables needed are not set.
        """
        platform = kw.pop("platform", DEVELOPER)
        explicit_key = kw.pop("api_key", None)
        key = explicit_key or env_value(env, "GEMINI_API_KEY") or env_value(env, "GOOGLE_API_KEY")
        if platform == VERTEX:
            project = kw.pop("project", None) or env_value(env, "GOOGLE_CLOUD_PROJECT")
            location = kw.pop("location", None) or env_value(env, "GOOGLE_CLOUD_LOCATION")
            base_url = kw.pop("base_url", None) or env_value(env, "GOOGLE_VERTEX_BASE_URL")
            if project and not explicit_key:
                # As in the SDK: a project from the environment outranks a key from it.
                key = None
            return cls(
                model,
                api_key=key,
                platform=platform,
                project=project,
                location=location,
                base_url=base_url,
                **kw,
            )
        base_url = kw.pop("base_url", None) or env_value(env, "GOOGLE_GEMINI_BASE_URL")
        if not key and kw.get("client") is None:
            raise TokenizerError(f"--tokenizer api needs a Gemini API key: {_KEY_HELP}; {_PRIVACY}")
        return cls(model, api_key=key, platform=platform, base_url=base_url, **kw)

    def _build_client(
        self,
        platform: str,
        api_key: str | None,
        project: str | None,
        location: str | None,
        base_url: str | None,
        timeout_s: float,
    ) -> Any:
        from google import genai

        options = self._types.HttpOptions(
            base_url=base_url or None,
            api_version=_API_VERSION[platform],
            timeout=int(timeout_s * 1000),
            retry_options=self._types.HttpRetryOptions(attempts=1),
        )
        try:
            if platform == DEVELOPER:
                return genai.Client(vertexai=False, api_key=api_key, http_options=options)
            if project:
                return genai.Client(vertexai=True, project=project, location=location, http_options=options)
            return genai.Client(vertexai=True, api_key=api_key, http_options=options)
        except Exception as exc:  # the SDK raises ValueError or google.auth errors here
            raise TokenizerError(
                f"cannot set up the Gemini client for --tokenizer api: {self._clean(str(exc))}"
            ) from None

    def close(self) -> None:
        """Close the HTTP client if this counter built it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> ApiCounter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ApiCounter(model={self.model!r}, platform={self.platform!r}, max_rps={self._max_rps})"

    # -- counting -------------------------------------------------------------------------------

    def count_requests(self, requests: Sequence[Mapping[str, Any]]) -> list[RequestCount]:
        """Count each request with one countTokens call (plus retries), in order.

        Args:
            requests: ``GenerateContentRequest`` bodies as they appear in the batch file's
                ``"request"`` (camelCase or snake_case keys).

        Returns:
            One :class:`RequestCount` per request, in the order given.

        Raises:
            ApiError: a request was refused (non-retryable 4xx), or kept failing after
                ``max_retries`` retries; the message names the request's index (0-based).
            TokenizerError: Vertex application default credentials are missing.
        """
        total = len(requests)
        cancel = threading.Event()
        bucket = TokenBucket(self._max_rps, clock=self._clock, sleep=lambda s: self._pause(s, cancel))
        if self._concurrency == 1 or total <= 1:
            counts = []
            for i, request in enumerate(requests):
                counts.append(self._count_one(i, total, request, bucket, cancel))
                if self._progress is not None:
                    self._progress(i + 1, total)
            return counts

        results: list[RequestCount | None] = [None] * total
        done = 0
        workers = min(self._concurrency, total)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="counttokens") as pool:
            pending: dict[Future[RequestCount], int] = {
                pool.submit(self._count_one, i, total, request, bucket, cancel): i for i, request in enumerate(requests)
            }
            try:
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in finished:
                        index = pending.pop(future)
                        results[index] = future.result()  # re-raises the worker's error
                        done += 1
                        if self._progress is not None:
                            self._progress(done, total)
            except BaseException:
                cancel.set()
                for future in pending:
                    future.cancel()
                raise
        return [r for r in results if r is not None]

    def _count_one(
        self,
        index: int,
        total: int,
        request: Mapping[str, Any],
        bucket: TokenBucket,
        cancel: threading.Event,
    ) -> RequestCount:
        body = self._body(request)
        attempt = 0
        while True:
            if cancel.is_set():
                raise _Cancelled
            bucket.acquire()  # may raise _Cancelled while waiting
            try:
                payload = _post_count_tokens(self._client, self._path, body, self._call_options)
            except Exception as exc:
                failure = self._classify(exc)
                if not failure.retryable:
                    raise self._refused(index, total, failure) from None
                if attempt >= self._max_retries:
                    raise self._exhausted(index, total, failure, attempt + 1) from None
                self._pause(self._backoff(attempt, failure.retry_after), cancel)
                attempt += 1
                continue
            return self._parse(index, payload)

    def _body(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if self.platform == DEVELOPER:
            inner = {k: v for k, v in request.items() if k != "model"}
            return {"generateContentRequest": {"model": self._resource, **inner}}
        return {_VERTEX_FIELDS[k]: v for k, v in request.items() if k in _VERTEX_FIELDS}

    def _parse(self, index: int, payload: Any) -> RequestCount:
        if not isinstance(payload, Mapping):
            raise ApiError(f"countTokens returned an unexpected answer for request {index}: not a JSON object")
        try:
            by_modality: dict[str, int] = {}
            for detail in payload.get("promptTokensDetails") or ():
                modality = str(detail.get("modality") or "MODALITY_UNSPECIFIED")
                by_modality[modality] = by_modality.get(modality, 0) + int(detail.get("tokenCount") or 0)
            # Protobuf JSON leaves zero-valued fields out, so a missing figure means 0.
            return RequestCount(
                total=int(payload.get("totalTokens") or 0),
                by_modality=by_modality,
                cached=int(payload.get("cachedContentTokenCount") or 0),
            )
        except (AttributeError, TypeError, ValueError):
            raise ApiError(
                f"countTokens returned an unexpected answer for request {index}: "
                f"{self._clean(json.dumps(payload)[:200])}"
            ) from None

    # -- failures -------------------------------------------------------------------------------

    def _classify(self, exc: Exception) -> _Failure:
        from google.auth import exceptions as auth_errors
        from google.genai import errors as genai_errors

        if isinstance(exc, genai_errors.APIError):
            code = int(exc.code) if exc.code else 0
            status = f" {exc.status}" if exc.status else ""
            message = self._clean(str(exc.message or ""))
            summary = f"HTTP {code}{status}" + (f": {message}" if message else "")
            retryable = code in (408, 429) or 500 <= code <= 599
            hint = retry_hint(exc) if retryable else None
            return _Failure(retryable, code, summary, hint)
        if isinstance(exc, auth_errors.DefaultCredentialsError):
            raise TokenizerError(
                "--tokenizer api on Vertex AI needs application default credentials: run "
                "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS "
                f"({self._clean(str(exc))})"
            ) from None
        if isinstance(exc, (*self._transient, auth_errors.TransportError)):
            return _Failure(True, None, f"{type(exc).__name__}: {self._clean(str(exc)) or 'no detail'}")
        if isinstance(exc, auth_errors.GoogleAuthError):
            return _Failure(False, None, f"authentication failed: {self._clean(str(exc))}")
        raise exc

    def _refused(self, index: int, total: int, failure: _Failure) -> ApiError:
        code = failure.code
        if code == 400 and "api key" in failure.summary.lower():
            hint = f"check the API key ({_KEY_HELP})"
        elif code in (401, 403):
            hint = "check the API key or credentials and that they may use the Gemini API"
        elif code == 404:
            hint = f"model {self.model!r} was not found: check the model id"
        elif code is None:
            hint = "check the Vertex AI credentials"
        else:
            hint = "fix this request in the batch file (the batch job would reject it too) or check the model id"
        return ApiError(f"countTokens refused request {index} of {total} ({failure.summary}); {hint}")

    def _exhausted(self, index: int, total: int, failure: _Failure, attempts: int) -> ApiError:
        where = f"request {index} of {total}, {attempts} attempts"
        if failure.code == 429:
            return ApiError(
                f"countTokens kept answering {failure.summary} ({where}): rate limit or quota reached; "
                f"lower max_rps (now {self._max_rps:g}/s), wait and retry, or use --tokenizer local"
            )
        if failure.code is None:
            target = f" at {self._host}" if self._host else ""
            return ApiError(
                f"could not reach countTokens{target} ({where}): {failure.summary}; "
                "check the network, proxy or base URL, or use --tokenizer local"
            )
        return ApiError(
            f"countTokens kept failing with {failure.summary} ({where}); "
            "the service may be unavailable: retry later or use --tokenizer local"
        )

    def _backoff(self, attempt: int, hint: float | None) -> float:
        # "Equal jitter": half the exponential delay is fixed, half random, so retries of
        # requests that failed together spread out but never retry at once.
        base = min(self._max_backoff, self._initial_backoff * (2.0**attempt))
        delay = base / 2 + self._random.uniform(0, base / 2)
        if hint is not None:
            delay = max(delay, hint)
        return min(delay, self._max_backoff)

    def _pause(self, seconds: float, cancel: threading.Event) -> None:
        if seconds <= 0:
            return
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            cancel.wait(seconds)  # wakes at once when another request failed
        if cancel.is_set():
            raise _Cancelled

    def _clean(self, text: str) -> str:
        """One line, bounded, and never the API key."""
        text = " ".join(redact(text, [self._secret]).split())
        return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _post_count_tokens(client: Any, path: str, body: dict[str, Any], options: Any) -> Any:
    """POST one countTokens body through the google-genai client's HTTP layer; return the JSON.

    ``client._api_client.request`` is the call ``Models.count_tokens`` itself ends in (SDK 3.6.1);
    the public method cannot be used because it drops system instructions, tools and the
    per-modality answer on the Developer API (see the module docstring). Kept in this one function
    so that an SDK change touches one place.
    """
    response = client._api_client.request("post", path, dict(body), options)
    return json.loads(response.body) if response.body else {}


def retry_hint(exc: Any) -> float | None:
    """Seconds the server asked us to wait: ``Retry-After`` header or ``RetryInfo.retryDelay``."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = (headers.get("retry-after") or "").strip() if headers is not None else ""
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)  # the HTTP-date form
        except (TypeError, ValueError):
            when = None
        if when is not None:
            when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    error = exc.details if isinstance(exc.details, Mapping) else {}
    error = error.get("error", error)
    details = error.get("details") if isinstance(error, Mapping) else None
    for detail in details if isinstance(details, list) else ():
        delay = detail.get("retryDelay") if isinstance(detail, Mapping) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(0.0, float(delay[:-1]))
            except ValueError:
                continue
    return None


def transient_errors() -> tuple[type[BaseException], ...]:
    """Connection-level errors of whichever httpx flavour the SDK uses (it may use either)."""
    found: list[type[BaseException]] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        found.append(module.TransportError)
    return tuple(found)


def env_value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise TokenizerError(f"{name} must be greater than 0 (got {value!r})")
