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

So the REST body is sent with :func:`batchcost.gemini.post_json`, the very call
``models.count_tokens`` makes once it has built its body. On the Developer API the body is
``{"generateContentRequest": {"model": "models/<m>", ...request}}`` (the REST form that counts
"system instructions and/or function declarations"); on Vertex it is the ``CountTokensRequest``
fields ``contents``, ``systemInstruction``, ``tools`` and ``generationConfig`` (Vertex's
countTokens has no ``cachedContent`` field, so there a cached prefix is not counted).

Retries, backoff and the rate limit are the one policy of :mod:`batchcost.gemini`.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

from batchcost.errors import ApiError, TokenizerError
from batchcost.gemini import (
    DEVELOPER,
    KEY_HELP,
    PLATFORMS,
    VERTEX,
    Caller,
    CallFailed,
    Failure,
    RetryPolicy,
    TokenBucket,
    build_client,
    call_options,
    clean,
    env_value,
)
from batchcost.redact import host_of
from batchcost.text import plural
from batchcost.tokens.base import RequestCount

__all__ = ["DEVELOPER", "VERTEX", "ApiCounter", "TokenBucket"]

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
_PRIVACY = "note that --tokenizer api sends the sampled prompts to Google's countTokens API"


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
        if platform not in PLATFORMS:
            raise TokenizerError(f"unknown platform {platform!r}: use 'developer' or 'vertex'")
        _check_positive(max_rps=max_rps, timeout_s=timeout_s, concurrency=concurrency)
        try:
            self._policy = RetryPolicy(int(max_retries), float(initial_backoff_s), float(max_backoff_s))
        except ValueError as exc:
            raise TokenizerError(str(exc)) from None
        api_key = api_key.strip() if api_key else None
        self._secret = api_key or ""
        self._owns_client = client is None
        if client is None:
            if platform == DEVELOPER and not api_key:
                raise TokenizerError(f"--tokenizer api needs a Gemini API key: {KEY_HELP}; {_PRIVACY}")
            if platform == VERTEX and not (project or api_key):
                raise TokenizerError(
                    "--tokenizer api on Vertex AI needs GOOGLE_CLOUD_PROJECT (with application default "
                    f"credentials; GOOGLE_CLOUD_LOCATION defaults to global) or GOOGLE_API_KEY; {_PRIVACY}"
                )
            if platform == VERTEX and project and not location:
                location = "global"
            try:
                client = build_client(
                    platform, api_key=api_key, project=project, location=location, base_url=base_url,
                    timeout_s=timeout_s,
                )  # fmt: skip
            except ValueError as exc:
                raise TokenizerError(f"cannot set up the Gemini client for --tokenizer api: {exc}") from None
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
        self._call_options = call_options(platform, timeout_s)
        self._max_rps = float(max_rps)
        self._progress = progress
        self._concurrency = int(concurrency)
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self._host = host_of(base_url)

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
            raise TokenizerError(f"--tokenizer api needs a Gemini API key: {KEY_HELP}; {_PRIVACY}")
        return cls(model, api_key=key, platform=platform, base_url=base_url, **kw)

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
        caller = Caller(
            self._client, self._call_options, self._policy, max_rps=self._max_rps, secret=self._secret,
            clock=self._clock, sleep=self._sleep, rng=self._random,
        )  # fmt: skip
        if self._concurrency == 1 or total <= 1:
            counts = []
            for i, request in enumerate(requests):
                counts.append(self._count_one(i, total, request, caller))
                if self._progress is not None:
                    self._progress(i + 1, total)
            return counts

        results: list[RequestCount | None] = [None] * total
        done = 0
        workers = min(self._concurrency, total)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="counttokens") as pool:
            pending: dict[Future[RequestCount], int] = {
                pool.submit(self._count_one, i, total, request, caller): i for i, request in enumerate(requests)
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
                caller.stop()
                for future in pending:
                    future.cancel()
                raise
        return [r for r in results if r is not None]

    def _count_one(self, index: int, total: int, request: Mapping[str, Any], caller: Caller) -> RequestCount:
        try:
            payload, _ = caller.post(self._path, self._body(request))
        except CallFailed as failed:
            failure = failed.failure
            if failure.no_credentials:
                raise TokenizerError(
                    "--tokenizer api on Vertex AI needs application default credentials: run "
                    "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS "
                    f"({failure.summary})"
                ) from None
            if not failure.retryable:
                raise self._refused(index, total, failure) from None
            raise self._exhausted(index, total, failure, failed.attempts) from None
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

    def _refused(self, index: int, total: int, failure: Failure) -> ApiError:
        code = failure.code
        if code == 400 and "api key" in failure.summary.lower():
            hint = f"check the API key ({KEY_HELP})"
        elif code in (401, 403):
            hint = "check the API key or credentials and that they may use the Gemini API"
        elif code == 404:
            hint = f"model {self.model!r} was not found: check the model id"
        elif code is None:
            hint = "check the Vertex AI credentials"
        else:
            hint = "fix this request in the batch file (the batch job would reject it too) or check the model id"
        return ApiError(f"countTokens refused request {index} of {total} ({failure.summary}); {hint}")

    def _exhausted(self, index: int, total: int, failure: Failure, attempts: int) -> ApiError:
        where = f"request {index} of {total}, {plural(attempts, 'attempt')}"
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

    def _clean(self, text: str) -> str:
        return clean(text, self._secret)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise TokenizerError(f"{name} must be greater than 0 (got {value!r})")
