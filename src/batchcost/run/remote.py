"""The Gemini Developer API calls a run makes: files, batch jobs, results, each through the one client route.

Every call goes through :class:`batchcost.gemini.Caller` (one retry policy: 408, 429 with
``Retry-After``, 5xx, timeouts and connection resets retried with backoff). Uploads and downloads use
``google-genai``'s own ``files.upload`` (the resumable protocol) and ``files.download``; batch jobs go
through the client's HTTP layer as raw JSON, because the SDK's ``BatchJob`` drops ``batchStats``
and the job-level ``error``.

Creating is not idempotent on Google's side ("If you send the same creation request twice, two
separate batch jobs will be created"), so :meth:`Remote.upload` and :meth:`Remote.create_job` look
for what an earlier attempt may have created, by display name, before sending again.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError, CredentialsError
from ..gemini import (
    DEVELOPER,
    KEY_HELP,
    Caller,
    CallFailed,
    RetryPolicy,
    Stopped,
    build_client,
    call_options,
    env_value,
    request_json,
)

__all__ = [
    "EXPIRY",
    "TERMINAL",
    "CacheInfo",
    "FileInfo",
    "JobInfo",
    "Remote",
    "Stopped",
    "connect",
    "parse_time",
    "state_of",
]

#: A job still pending or running this long after it was created expires with no results.
EXPIRY = datetime.timedelta(hours=48)

#: Job states after which nothing changes.
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "expired"})

JSONL = "application/jsonl"


def state_of(raw: object) -> str:
    """``BATCH_STATE_RUNNING`` / ``JOB_STATE_RUNNING`` -> ``running`` (``unknown`` for anything else)."""
    text = str(raw or "").upper()
    for prefix in ("BATCH_STATE_", "JOB_STATE_"):
        text = text.removeprefix(prefix)
    known = {"PENDING", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "CANCELLING", "EXPIRED"}
    if text not in known:
        return "unknown"
    return {"QUEUED": "pending", "CANCELLING": "running"}.get(text, text.lower())


def parse_time(text: object) -> datetime.datetime | None:
    """An RFC 3339 time as the API writes it (nanoseconds allowed), in UTC; None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    head, dot, rest = value.partition(".")
    if dot:  # Python reads at most 6 fraction digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        when = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


@dataclass(frozen=True)
class FileInfo:
    """An uploaded file: ``files/ID``, its display name, size and state (``ACTIVE`` once usable)."""

    name: str
    display_name: str
    size: int | None
    state: str


@dataclass(frozen=True)
class JobInfo:
    """A batch job as the API reports it (the raw long-running operation, read).

    Attributes:
        name: ``batches/ID``.
        display_name: as created.
        state: ``pending``, ``running``, ``succeeded``, ``failed``, ``cancelled``, ``expired`` or ``unknown``.
        created: when the job was created.
        ended: when it ended (None while it runs).
        stats: ``batchStats`` as (requests, succeeded, failed, pending), None when not reported.
        responses_file: ``files/batch-...`` once the results file exists.
        error: the job-level error message (failed or cancelled jobs), if any.
    """

    name: str
    display_name: str
    state: str
    created: datetime.datetime | None
    ended: datetime.datetime | None
    stats: tuple[int, int, int, int] | None
    responses_file: str | None
    error: str | None

    @classmethod
    def of(cls, op: Mapping[str, Any]) -> JobInfo:
        """Read a batch operation (``{"name", "metadata": {...}, "done", "response", "error"}``)."""
        meta = op.get("metadata") if isinstance(op.get("metadata"), Mapping) else op
        assert isinstance(meta, Mapping)
        stats = meta.get("batchStats")
        figures = None
        if isinstance(stats, Mapping):
            keys = ("requestCount", "successfulRequestCount", "failedRequestCount", "pendingRequestCount")
            figures = tuple(_count(stats.get(k)) for k in keys)
        output = meta.get("output") if isinstance(meta.get("output"), Mapping) else {}
        response = op.get("response") if isinstance(op.get("response"), Mapping) else {}
        responses = output.get("responsesFile") or response.get("responsesFile")
        error = op.get("error") if isinstance(op.get("error"), Mapping) else None
        return cls(
            name=str(op.get("name") or meta.get("name") or ""),
            display_name=str(meta.get("displayName") or ""),
            state=state_of(meta.get("state")),
            created=parse_time(meta.get("createTime")),
            ended=parse_time(meta.get("endTime")),
            stats=figures,  # type: ignore[arg-type]
            responses_file=str(responses) if responses else None,
            error=str(error.get("message") or error.get("status") or "") or None if error else None,
        )


@dataclass(frozen=True)
class CacheInfo:
    """A cachedContent: ``cachedContents/ID``, its display name, when it was made and expires, its tokens."""

    name: str
    display_name: str
    created: datetime.datetime | None
    expires: datetime.datetime | None
    tokens: int | None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> CacheInfo:
        usage = raw.get("usageMetadata") if isinstance(raw.get("usageMetadata"), Mapping) else {}
        assert isinstance(usage, Mapping)
        tokens = usage.get("totalTokenCount")
        return cls(
            name=str(raw.get("name") or ""), display_name=str(raw.get("displayName") or ""),
            created=parse_time(raw.get("createTime")), expires=parse_time(raw.get("expireTime")),
            tokens=_count(tokens) if tokens is not None else None,
        )  # fmt: skip


def _count(value: object) -> int:
    try:
        return max(0, int(str(value or 0)))  # int64 figures come as strings
    except ValueError:
        return 0


class Remote:
    """The calls a run makes, each retried by one :class:`~batchcost.gemini.Caller`.

    Args:
        caller: the caller (client, per-call options, retry policy, rate limit).
    """

    def __init__(self, caller: Caller) -> None:
        self.caller = caller

    # -- plumbing ------------------------------------------------------------------------------

    def _json(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        answer, _ = self.caller.call(
            lambda: request_json(self.caller.client, method, path, body or {}, self.caller.options)
        )
        return answer if isinstance(answer, Mapping) else {}

    def _pages(self, path: str, key: str) -> Iterator[Mapping[str, Any]]:
        token = ""
        while True:
            page = self._json("get", f"{path}?pageSize=100" + (f"&pageToken={token}" if token else ""))
            for item in page.get(key) or ():
                if isinstance(item, Mapping):
                    yield item
            token = str(page.get("nextPageToken") or "")
            if not token:
                return

    def fail(self, what: str, exc: CallFailed) -> ApiError:
        """An :class:`~batchcost.errors.ApiError` saying which call failed, why, and after how many attempts."""
        tries = f" after {exc.attempts} attempts" if exc.attempts > 1 else ""
        hint = f"; check the API key ({KEY_HELP})" if exc.failure.code in (400, 401, 403) else ""
        return ApiError(f"{what} failed{tries}: {exc.failure.summary}{hint}")

    # -- files ---------------------------------------------------------------------------------

    def find_file(self, display_name: str, size: int) -> FileInfo | None:
        """An active uploaded file with this display name and size (an earlier upload), or None."""
        for raw in self._pages("files", "files"):
            if raw.get("displayName") == display_name and _count(raw.get("sizeBytes")) == size:
                state = str(raw.get("state") or "")
                if state in ("", "ACTIVE", "PROCESSING"):
                    return FileInfo(str(raw.get("name")), display_name, size, state or "ACTIVE")
        return None

    def upload(self, path: str | os.PathLike[str], display_name: str, *, look_first: bool) -> tuple[FileInfo, bool]:
        """Upload a shard (resumable upload, JSONL), unless a file with its display name and size is there.

        ``look_first``: an earlier run may have uploaded it without recording it. A retried attempt
        always looks first. Returns (the file, whether it was found rather than uploaded).
        """
        size = os.path.getsize(path)
        attempt = 0
        adopted = False

        def send() -> FileInfo:
            nonlocal attempt, adopted
            attempt += 1
            if look_first or attempt > 1:
                found = self.find_file(display_name, size)
                if found is not None:
                    adopted = True
                    return found
            options = self.caller.options.model_copy(deep=True)  # the SDK adds its upload headers to it
            config = {"display_name": display_name, "mime_type": JSONL, "http_options": options}
            made = self.caller.client.files.upload(file=os.fspath(path), config=config)
            return FileInfo(str(made.name), display_name, size, str(getattr(made, "state", "") or "ACTIVE"))

        try:
            found, _ = self.caller.call(send)
        except CallFailed as exc:
            raise self.fail(f"uploading {os.fspath(path)}", exc) from None
        except (KeyError, ValueError) as exc:  # the SDK's own checks of the upload protocol
            raise ApiError(f"uploading {os.fspath(path)} failed: {exc}") from None
        return found, adopted

    def download(self, file_name: str, destination: str) -> None:
        """Download a results file (``files/batch-...``) to ``destination``.

        Raises:
            CallFailed: with code 404 while the file is not there yet (the caller waits and asks again).
        """
        options = self.caller.options

        def send() -> None:
            self.caller.client.files.download(file=file_name, destination=destination, config={"http_options": options})

        self.caller.call(send)

    # -- batch jobs ----------------------------------------------------------------------------

    def list_jobs(self) -> list[JobInfo]:
        """Every batch job of the project (all pages)."""
        return [JobInfo.of(op) for op in self._pages("batches", "operations")]

    def find_job(self, display_name: str) -> JobInfo | None:
        """The job created under this display name (the newest if several), or None."""
        found = [job for job in self.list_jobs() if job.display_name == display_name]
        epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)
        return max(found, key=lambda j: j.created or epoch) if found else None

    def create_job(self, model: str, file_name: str, display_name: str, *, look_first: bool) -> tuple[JobInfo, bool]:
        """Create one batch job over an uploaded file, unless a job with its display name exists.

        ``look_first``: an earlier run may have created it without recording it. A retried attempt
        (a timeout or a 5xx may come after the job was made) always looks first. Returns (the job,
        whether it was found rather than created).
        """
        attempt = 0
        adopted = False
        body = {"batch": {"displayName": display_name, "inputConfig": {"fileName": file_name}}}
        path = f"models/{model.removeprefix('models/')}:batchGenerateContent"

        def send() -> JobInfo:
            nonlocal attempt, adopted
            attempt += 1
            if look_first or attempt > 1:
                found = self.find_job(display_name)
                if found is not None:
                    adopted = True
                    return found
            return JobInfo.of(request_json(self.caller.client, "post", path, body, self.caller.options) or {})

        try:
            job, _ = self.caller.call(send)
        except CallFailed as exc:
            raise self.fail(f"creating the batch job {display_name}", exc) from None
        return job, adopted

    def get_job(self, name: str) -> JobInfo:
        """The job's state now."""
        try:
            return JobInfo.of(self._json("get", name))
        except CallFailed as exc:
            raise self.fail(f"reading {name}", exc) from None

    def cancel_job(self, name: str) -> None:
        """Ask Google to stop the job (requests not yet processed are not run)."""
        try:
            self._json("post", f"{name}:cancel")
        except CallFailed as exc:
            raise self.fail(f"cancelling {name}", exc) from None

    # -- caches ---------------------------------------------------------------------------------

    def find_cache(self, display_name: str) -> CacheInfo | None:
        """The live cachedContent made under this display name (an earlier attempt's), or None."""
        for raw in self._pages("cachedContents", "cachedContents"):
            if raw.get("displayName") == display_name:
                return CacheInfo.of(raw)
        return None

    def create_cache(
        self, model: str, display_name: str, content: Mapping[str, Any], ttl_s: int, *, look_first: bool
    ) -> tuple[CacheInfo, bool]:
        """Create a cachedContent holding ``content`` for ``ttl_s`` seconds, unless one with its display name exists.

        Like a batch job, a cache is not made idempotently on Google's side: ``look_first`` (an earlier
        run may have made it without recording it) and every retried attempt look for it first.
        Returns (the cache, whether it was found rather than created).
        """
        attempt = 0
        adopted = False
        body = {"model": f"models/{model.removeprefix('models/')}", "displayName": display_name, "ttl": f"{ttl_s}s"}
        body.update(content)

        def send() -> CacheInfo:
            nonlocal attempt, adopted
            attempt += 1
            if look_first or attempt > 1:
                found = self.find_cache(display_name)
                if found is not None:
                    adopted = True
                    return found
            return CacheInfo.of(
                request_json(self.caller.client, "post", "cachedContents", body, self.caller.options) or {}
            )

        try:
            cache, _ = self.caller.call(send)
        except CallFailed as exc:
            raise self.fail(f"creating the cache {display_name}", exc) from None
        return cache, adopted

    def extend_cache(self, name: str, ttl_s: int) -> CacheInfo:
        """Set a cachedContent's TTL to ``ttl_s`` seconds from now (setting it twice is harmless, so it is retried)."""
        try:
            answer = self._json("patch", f"{name}?updateMask=ttl", {"ttl": f"{ttl_s}s"})
        except CallFailed as exc:
            raise self.fail(f"extending the cache {name}", exc) from None
        return CacheInfo.of(answer)

    def delete_cache(self, name: str) -> bool:
        """Delete a cachedContent (storage billing stops); False when it was already gone (404)."""
        try:
            self._json("delete", name)
        except CallFailed as exc:
            if exc.failure.code == 404:
                return False
            raise self.fail(f"deleting the cache {name}", exc) from None
        return True


def connect(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    timeout_s: float = 120.0,
    policy: RetryPolicy | None = None,
    max_rps: float = 5.0,
    sleep: Callable[[float], object] | None = None,
    what: str = "this command",
) -> Remote:
    """A :class:`Remote` for the Gemini Developer API, with the key from ``api_key`` or the environment.

    Raises:
        CredentialsError: no API key (nothing was sent).
        ApiError: the client cannot be built from these settings.
    """
    env = os.environ if environ is None else environ
    key = (api_key or "").strip() or env_value(env, "GEMINI_API_KEY") or env_value(env, "GOOGLE_API_KEY")
    if not key:
        raise CredentialsError(f"{what} talks to the Gemini API and needs an API key: {KEY_HELP}; nothing was sent")
    try:
        client = build_client(
            DEVELOPER, api_key=key, base_url=base_url or env_value(env, "GOOGLE_GEMINI_BASE_URL"), timeout_s=timeout_s
        )
    except ValueError as exc:
        raise ApiError(f"cannot set up the Gemini client: {exc}") from None
    caller = Caller(
        client, call_options(DEVELOPER, timeout_s), policy or RetryPolicy(), max_rps=max_rps, secret=key, sleep=sleep
    )
    return Remote(caller)
