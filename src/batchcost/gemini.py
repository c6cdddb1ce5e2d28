"""The one way batchcost talks to Google's Gemini API: a client, a rate limit and one retry policy.

Calls go through the real ``google-genai`` client (auth, base URL, API version, Vertex project and
location prefix and headers are the SDK's), but through ``BaseApiClient.request``: the call every
``client.models.*`` method ends in once it has built its body. The public methods cannot be used
for what batchcost sends (``count_tokens`` drops system instructions, tools and the per-modality
answer on the Developer API; both validate bodies against the SDK's own types, so a request field
newer than the installed SDK would fail). :func:`post_json` is that single call, kept in one place
so that an SDK change touches one line.

Retries are ours alone: every call passes ``HttpRetryOptions(attempts=1)`` so the SDK never
re-sends, and :class:`Caller` retries 408, 429, 5xx and connection failures with exponential
backoff and equal jitter, never sooner than the server's ``Retry-After`` header or ``RetryInfo``
hint, under a shared token bucket, optionally within a deadline (tenacity drives the loop).
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from batchcost.redact import redact

DEVELOPER = "developer"
VERTEX = "vertex"
PLATFORMS = (DEVELOPER, VERTEX)

# Pinned so that GOOGLE_GENAI_API_VERSION in the user's environment cannot move our paths; Batch
# Mode and countTokens' generateContentRequest are v1beta features (the SDK's default is v1).
API_VERSION = {DEVELOPER: "v1beta", VERTEX: "v1beta1"}

KEY_HELP = "set GEMINI_API_KEY (or GOOGLE_API_KEY)"

T = TypeVar("T")
MAX_MESSAGE = 300


def env_value(env: Mapping[str, str], name: str) -> str | None:
    """``env[name]`` stripped, or None when it is missing or blank."""
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def call_options(platform: str, timeout_s: float) -> Any:
    """Per-call HTTP options: one attempt (we retry), our timeout, our API version.

    Given with every call, they override whatever a client handed to us was built with.
    """
    from google.genai import types  # lazy: `batchcost --help` must not import google.genai

    return types.HttpOptions(
        api_version=API_VERSION[platform],
        timeout=int(timeout_s * 1000),
        retry_options=types.HttpRetryOptions(attempts=1),
    )


def build_client(
    platform: str,
    *,
    api_key: str | None,
    project: str | None = None,
    location: str | None = None,
    base_url: str | None = None,
    timeout_s: float = 60.0,
) -> Any:
    """A ``google.genai.Client`` for the Developer API, Vertex AI with a project, or Vertex express mode.

    Raises:
        ValueError: the SDK refused the settings; the message never holds the key.
    """
    from google import genai
    from google.genai import types

    options = types.HttpOptions(
        base_url=base_url or None,
        api_version=API_VERSION[platform],
        timeout=int(timeout_s * 1000),
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    try:
        if platform == DEVELOPER:
            return genai.Client(vertexai=False, api_key=api_key, http_options=options)
        if project:
            return genai.Client(vertexai=True, project=project, location=location, http_options=options)
        return genai.Client(vertexai=True, api_key=api_key, http_options=options)
    except Exception as exc:  # the SDK raises ValueError or google.auth errors here
        raise ValueError(clean(str(exc), api_key)) from None


def clean(text: str, secret: str | None) -> str:
    """One line, bounded, and never the API key."""
    text = " ".join(redact(text, [secret] if secret else []).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def request_json(client: Any, method: str, path: str, body: Mapping[str, Any], options: Any) -> Any:
    """Send one JSON request (``get``, ``post``, ``delete``) through the google-genai client's HTTP layer.

    Returns the decoded answer (``{}`` for an empty one, None when it is not JSON).

    Raises:
        Exception: whatever the SDK raises (``google.genai.errors.APIError``, transport errors).
    """
    response = client._api_client.request(method, path, dict(body), options)
    if not response.body:
        return {}
    try:
        return json.loads(response.body)
    except ValueError:
        return None


def post_json(client: Any, path: str, body: Mapping[str, Any], options: Any) -> Any:
    """POST one JSON body through the google-genai client's HTTP layer; return the decoded answer.

    An answer that is not JSON comes back as None (callers report it as an unexpected answer).

    Raises:
        Exception: whatever the SDK raises (``google.genai.errors.APIError``, transport errors).
    """
    response = client._api_client.request("post", path, dict(body), options)
    if not response.body:
        return {}  # protobuf JSON leaves an all-default answer empty
    try:
        return json.loads(response.body)
    except ValueError:
        return None


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
class RetryPolicy:
    """When to retry a failed call and how long to wait first.

    Args:
        max_retries: retries of one call after its first attempt.
        initial_backoff_s: first delay before jitter; doubles per retry.
        max_backoff_s: longest wait between attempts, server hints included.
    """

    max_retries: int = 6
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.initial_backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("max_retries, initial_backoff_s and max_backoff_s must not be negative")

    def delay(self, retry: int, hint: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (0-based), given the server's hint."""
        # "Equal jitter": half the exponential delay is fixed, half random, so retries of calls
        # that failed together spread out but never retry at once.
        base = min(self.max_backoff_s, self.initial_backoff_s * (2.0**retry))
        delay = base / 2 + rng.uniform(0, base / 2)
        if hint is not None:
            delay = max(delay, hint)
        return min(delay, self.max_backoff_s)


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, reduced to what callers need (never holds the key).

    ``fatal`` marks refusals that concern every call alike (key, permission, model), so that a
    caller sending many stops at once; ``no_credentials`` marks missing application default
    credentials on Vertex AI.
    """

    retryable: bool
    code: int | None  # HTTP status, None for a connection or authentication failure
    summary: str  # e.g. "HTTP 429 RESOURCE_EXHAUSTED: Resource has been exhausted"
    retry_after: float | None = None
    fatal: bool = False
    no_credentials: bool = False


class CallFailed(Exception):
    """A call was refused, or kept failing until the retries ran out."""

    def __init__(self, failure: Failure, attempts: int) -> None:
        super().__init__(failure.summary)
        self.failure = failure
        self.attempts = attempts


class Stopped(Exception):
    """The caller was stopped (another call failed, Ctrl-C) or its deadline passed: nothing more is sent."""


class Caller:
    """Sends calls with the one retry policy, a shared rate limit, a stop switch and a deadline.

    One caller serves one run (one ``count_requests``, one pilot): its threads share the bucket,
    and :meth:`stop` wakes every waiting thread at once.

    Args:
        client: a ``google.genai.Client``.
        options: per-call HTTP options (:func:`call_options`).
        policy: the retry policy.
        max_rps: most calls per second, retries included.
        secret: the API key, removed from every message.
        deadline: a ``clock()`` time after which nothing more is sent (``timed_out`` is then set).
        clock: monotonic clock, for the rate limit and the deadline.
        sleep: how to wait (for tests); default a wait that :meth:`stop` interrupts.
        rng: jitter source.
    """

    def __init__(
        self,
        client: Any,
        options: Any,
        policy: RetryPolicy,
        *,
        max_rps: float,
        secret: str | None = None,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.policy = policy
        self.secret = secret or ""
        self.deadline = deadline
        self.clock = clock
        self.stopped = threading.Event()
        self.timed_out = False
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._transient = transient_errors()
        self.bucket = TokenBucket(max_rps, clock=clock, sleep=self.pause)

    def stop(self) -> None:
        """Send nothing more; waiting threads wake and raise :class:`Stopped`."""
        self.stopped.set()

    def pause(self, seconds: float) -> None:
        """Wait, unless stopped meanwhile (then raise :class:`Stopped`)."""
        if seconds > 0:
            if self._sleep is not None:
                self._sleep(seconds)
            else:
                self.stopped.wait(seconds)  # wakes at once when another call failed
        if self.stopped.is_set():
            raise Stopped

    def post(self, path: str, body: Mapping[str, Any]) -> tuple[Any, int]:
        """POST ``body`` to ``path`` with retries; return (decoded answer, attempts made).

        Raises:
            CallFailed: a refusal (non-retryable), or a retryable failure after the last retry.
            Stopped: stopped, or the deadline passed (``timed_out`` is set).
            Exception: an error nobody can classify (a bug) propagates as it is.
        """
        return self.call(lambda: post_json(self.client, path, body, self.options))

    def call(self, send: Callable[[], T]) -> tuple[T, int]:
        """Run ``send`` (one call through the client) with the retry policy; return (its result, attempts).

        ``send`` must be safe to repeat: it is called again after a retryable failure. A call that
        creates something (a batch job, an upload) is safe only when the caller first looks for
        what an earlier attempt may have created.

        Raises:
            CallFailed, Stopped: as :meth:`post`.
        """
        import tenacity  # lazy: only runs that call Google need it

        attempts = 0

        def once() -> Any:
            nonlocal attempts
            if self.stopped.is_set():
                raise Stopped
            if self.deadline is not None and self.clock() >= self.deadline:
                self._time_up()
            self.bucket.acquire()
            attempts += 1
            try:
                return send()
            except Exception as exc:
                raise CallFailed(self.classify(exc), attempts) from None

        def wait(state: tenacity.RetryCallState) -> float:
            failure = _failure_of(state)
            return self.policy.delay(state.attempt_number - 1, failure.retry_after if failure else None, self._rng)

        def past_deadline(state: tenacity.RetryCallState) -> bool:
            if self.deadline is not None and self.clock() + (state.upcoming_sleep or 0.0) >= self.deadline:
                self._time_up()
            return False

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, CallFailed) and e.failure.retryable),
            wait=wait,
            # Out of retries is checked first: a call that has used them all reports why it failed,
            # not that time ran out.
            stop=tenacity.stop_after_attempt(self.policy.max_retries + 1) | past_deadline,
            sleep=self.pause,
            reraise=True,
        )
        return retrying(once), attempts

    def _time_up(self) -> None:
        self.timed_out = True
        self.stop()  # nothing more is sent, by any thread
        raise Stopped

    def classify(self, exc: Exception) -> Failure:
        """Reduce an exception from the SDK to a :class:`Failure`; re-raise what is not an API failure."""
        from google.auth import exceptions as auth_errors
        from google.genai import errors as genai_errors

        if isinstance(exc, genai_errors.APIError):
            code = int(exc.code) if exc.code else 0
            status = f" {exc.status}" if exc.status else ""
            message = clean(str(exc.message or ""), self.secret)
            summary = f"HTTP {code}{status}" + (f": {message}" if message else "")
            retryable = code in (408, 429) or 500 <= code <= 599
            fatal = code in (401, 403, 404) or (code == 400 and "api key" in message.lower())
            return Failure(retryable, code, summary, retry_hint(exc) if retryable else None, fatal=fatal)
        if isinstance(exc, auth_errors.DefaultCredentialsError):
            return Failure(False, None, clean(str(exc), self.secret), fatal=True, no_credentials=True)
        if isinstance(exc, (*self._transient, auth_errors.TransportError)):
            return Failure(True, None, f"{type(exc).__name__}: {clean(str(exc), self.secret) or 'no detail'}")
        if isinstance(exc, auth_errors.GoogleAuthError):
            return Failure(False, None, f"authentication failed: {clean(str(exc), self.secret)}", fatal=True)
        raise exc


def _failure_of(state: Any) -> Failure | None:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None and outcome.failed else None
    return exc.failure if isinstance(exc, CallFailed) else None


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
    error = exc.details if isinstance(getattr(exc, "details", None), Mapping) else {}
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
