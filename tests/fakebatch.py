"""A local stand-in for the Gemini Developer API's Files and Batch Mode endpoints, for tests.

Tests point the real ``google-genai`` client at it (``base_url``). It speaks the REST shapes the
client uses (``v1beta``):

* resumable upload: ``POST /upload/v1beta/files`` (``X-Goog-Upload-Command: start``, body
  ``{"file": {...}}``) answers an ``x-goog-upload-url``; chunks are POSTed there with
  ``upload`` / ``upload, finalize`` and the last answer is ``{"file": {...}}``;
* ``GET /v1beta/files`` (pages), ``GET /v1beta/files/{id}:download?alt=media`` (also under
  ``/download/v1beta/...``);
* ``POST /v1beta/models/{m}:batchGenerateContent`` (``{"batch": {"displayName", "inputConfig":
  {"fileName"}}}``), ``GET /v1beta/batches/{id}``, ``GET /v1beta/batches`` (``operations``, pages),
  ``POST /v1beta/batches/{id}:cancel``, ``DELETE /v1beta/batches/{id}``;
* ``POST /v1beta/cachedContents`` (``ttl`` honoured: ``expireTime``; ``usageMetadata.totalTokenCount``
  counted like a prompt), ``GET /v1beta/cachedContents`` (pages), ``DELETE /v1beta/cachedContents/{id}``, ``PATCH
  /v1beta/cachedContents/{id}?updateMask=ttl`` (a new TTL from now).
  A result line of a request that references a cache counts the cache's tokens in its prompt and
  as ``cachedContentTokenCount``; one that references no live cache (deleted, or expired when the job
  ends) gets an error line.

Jobs move on by themselves as they are read: ``PENDING`` at creation, ``RUNNING`` at the first
``get``, and their final state (``SUCCEEDED`` unless :attr:`FakeBatch.outcomes` says ``FAILED`` or
``EXPIRED``) after :attr:`FakeBatch.polls_to_finish` reads. Results are computed from the uploaded
input like the fake ``generateContent`` of :mod:`tests.fakegemini` (one token per word, 16 output
tokens); keys in :attr:`FakeBatch.failed_keys` get an error line and keys in
:attr:`FakeBatch.dropped_keys` no line at all. :attr:`FakeBatch.late_downloads` makes the results
file answer 404 that many times after the job succeeded (the file arriving late).

Faults (:class:`Fault`) script failures by method name (``upload.start``, ``upload.chunk``,
``files.list``, ``files.download``, ``batches.create``, ``batches.get``, ``batches.list``,
``batches.cancel``, ``batches.delete``, ``cachedContents.create``, ``cachedContents.list``,
``cachedContents.delete``, ``cachedContents.update``): an
HTTP status (with ``Retry-After``), a timeout (the answer comes after ``delay`` seconds) or a reset
connection, before the work is done or, with ``after=True``, after it (the job exists but the
client never hears of it). :attr:`FakeBatch.on_create` runs after a job is made and before it is
answered: the crash test kills the client there. Binds to loopback only.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakegemini import count_prompt, default_output_rule

_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip


@dataclass(frozen=True)
class Fault:
    """One scripted failure of the ``nth`` call of a method (1-based; every call when ``nth`` is None).

    ``status``: HTTP status to answer; 0 with ``reset=True`` drops the connection, with ``delay`` the
    answer (a 200) comes that many seconds late. ``after``: do the work first, then fail.
    """

    method: str
    status: int = 503
    nth: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    reset: bool = False
    after: bool = False


@dataclass
class Job:
    name: str
    model: str
    display_name: str
    input_file: str
    created: datetime.datetime
    state: str = "PENDING"
    reads: int = 0
    ended: datetime.datetime | None = None
    results: str | None = None
    deleted: bool = False


@dataclass
class Stored:
    name: str
    display_name: str
    mime_type: str
    data: bytes
    created: datetime.datetime


@dataclass
class _State:
    api_key: str | None
    files: dict[str, Stored] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    caches: dict[str, dict[str, Any]] = field(default_factory=dict)
    downloads: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    counter: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)


def _time(when: datetime.datetime | None) -> str | None:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if when else None


class FakeBatch:
    """The server. Use as a context manager; ``base_url`` for the client.

    Attributes (set by tests):
        polls_to_finish: ``get`` reads of a job until it ends.
        outcomes: display-name substring -> final state (``FAILED``, ``EXPIRED``, ``CANCELLED``).
        failed_keys / dropped_keys: request keys answered with an error / left out of the results.
        late_downloads: 404 answers to a results download before the file is there.
        on_create: called with the new job after it is made, before the answer.
        on_cache: called with a new cachedContent after it is made, before the answer.
        clock: the time jobs are created at.
    """

    def __init__(self, *, api_key: str | None = None, host: str = "127.0.0.1") -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError("the fake binds to loopback addresses only")
        self._state = _State(api_key)
        self._host = host
        self._server: ThreadingHTTPServer | None = None
        self.polls_to_finish = 2
        self.outcomes: dict[str, str] = {}
        self.failed_keys: set[str] = set()
        self.dropped_keys: set[str] = set()
        self.late_downloads = 0
        self.on_create: Callable[[Job], None] | None = None
        self.on_cache: Callable[[dict[str, Any]], None] | None = None
        self.clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)

    def __enter__(self) -> FakeBatch:
        handler = type("_Bound", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer((self._host, 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    # -- what tests look at ----------------------------------------------------------------------

    def set_faults(self, *faults: Fault) -> None:
        with self._state.lock:
            self._state.faults = list(faults)
            self._state.hits = {}

    @property
    def jobs(self) -> list[Job]:
        with self._state.lock:
            return [j for j in self._state.jobs.values() if not j.deleted]

    @property
    def files(self) -> list[Stored]:
        with self._state.lock:
            return [f for f in self._state.files.values() if not f.name.startswith("files/batch-")]

    @property
    def caches(self) -> dict[str, dict[str, Any]]:
        with self._state.lock:
            return dict(self._state.caches)

    def calls(self, method: str | None = None) -> list[tuple[str, str]]:
        """(method, path) of every request, in order."""
        with self._state.lock:
            return [c for c in self._state.calls if method is None or c[0] == method]

    def finish(self, name: str, state: str = "SUCCEEDED") -> None:
        """End a job now."""
        with self._state.lock:
            self._end(self._state.jobs[name], state)

    # -- jobs ------------------------------------------------------------------------------------

    def _next(self, prefix: str) -> str:
        self._state.counter += 1
        return f"{prefix}{self._state.counter:04d}x"

    def _end(self, job: Job, state: str) -> None:
        if job.state in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"):
            return
        job.state, job.ended = state, self.clock()
        if state in ("SUCCEEDED", "CANCELLED"):
            name = f"files/batch-{job.name.split('/')[1]}"
            self._state.files[name] = Stored(name, "", "application/jsonl", self._results(job, state), self.clock())
            job.results = name

    def _results(self, job: Job, state: str) -> bytes:
        lines = []
        stored = self._state.files[job.input_file]
        for k, raw in enumerate(stored.data.splitlines()):
            line = json.loads(raw)
            key = line.get("key")
            if key in self.dropped_keys or (state == "CANCELLED" and k % 2):
                continue
            if key in self.failed_keys:
                lines.append({"key": key, "error": {"code": 400, "message": "Request contains an invalid argument.",
                                                    "status": "INVALID_ARGUMENT"}})  # fmt: skip
                continue
            request = line["request"]
            cache = self._state.caches.get(str(request.get("cachedContent"))) if "cachedContent" in request else None
            if cache is not None and datetime.datetime.fromisoformat(cache["expireTime"]) <= self.clock():
                cache = None  # expired: as good as gone
            if "cachedContent" in request and cache is None:
                lines.append({"key": key, "error": {"code": 400, "message": "CachedContent not found.",
                                                    "status": "INVALID_ARGUMENT"}})  # fmt: skip
                continue
            cached = int(cache["usageMetadata"]["totalTokenCount"]) if cache is not None else 0
            counts = count_prompt(request, cached)
            prompt = sum(counts.values())
            candidates, thoughts = default_output_rule(request, prompt)
            usage = {
                "promptTokenCount": prompt, "candidatesTokenCount": candidates,
                "totalTokenCount": prompt + candidates + thoughts,
                "promptTokensDetails": [{"modality": m, "tokenCount": n} for m, n in counts.items()],
            }  # fmt: skip
            if thoughts:
                usage["thoughtsTokenCount"] = thoughts
            if cached:
                usage["cachedContentTokenCount"] = cached
                usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
            parts = [{"text": " ".join(["word"] * candidates)}]
            response = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
                        "usageMetadata": usage, "modelVersion": job.model}  # fmt: skip
            lines.append({"key": key, "response": response})
        return b"".join(json.dumps(x).encode() + b"\n" for x in lines)

    def _op(self, job: Job) -> dict[str, Any]:
        total = len(self._state.files[job.input_file].data.splitlines())
        done = job.state in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")
        ok = failed = 0
        if job.results is not None:
            for raw in self._state.files[job.results].data.splitlines():
                if b'"error"' in raw:
                    failed += 1
                else:
                    ok += 1
        meta: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch",
            "model": f"models/{job.model}", "displayName": job.display_name, "name": job.name,
            "inputConfig": {"fileName": job.input_file}, "createTime": _time(job.created),
            "updateTime": _time(job.ended or job.created), "state": f"BATCH_STATE_{job.state}",
            "batchStats": {"requestCount": str(total), "successfulRequestCount": str(ok),
                           "failedRequestCount": str(failed), "pendingRequestCount": str(0 if done else total)},
        }  # fmt: skip
        if job.ended:
            meta["endTime"] = _time(job.ended)
        op: dict[str, Any] = {"name": job.name, "metadata": meta}
        if done:
            op["done"] = True
            if job.results:
                meta["output"] = {"responsesFile": job.results}
                op["response"] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatchOutput",
                                  "responsesFile": job.results}  # fmt: skip
            if job.state == "FAILED":
                op["error"] = {"code": 13, "message": "The batch job failed: internal error."}
        return op

    def _advance(self, job: Job) -> None:
        job.reads += 1
        if job.state == "PENDING":
            job.state = "RUNNING"
        if job.reads >= self.polls_to_finish and job.state == "RUNNING":
            final = next((s for part, s in self.outcomes.items() if part in job.display_name), "SUCCEEDED")
            self._end(job, final)


_UPLOAD_START = re.compile(r"^/upload/v1beta/files$")
_CREATE = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):batchGenerateContent$")
_BATCH = re.compile(r"^/v1beta/(?P<name>batches/[^/:]+)(?::(?P<verb>cancel))?$")
_DOWNLOAD = re.compile(r"^/(?:download/)?v1beta/files/(?P<id>[^/:]+):download$")
_CACHE = re.compile(r"^/v1beta/(?P<name>cachedContents/[^/:]+)$")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBatch
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    # -- dispatch --------------------------------------------------------------------------------

    def _route(self, verb: str, path: str, query: dict[str, list[str]]) -> str:
        if verb == "POST" and _UPLOAD_START.match(path):
            return "upload.chunk" if "upload_id" in query else "upload.start"
        if verb == "GET" and path == "/v1beta/files":
            return "files.list"
        if verb == "GET" and _DOWNLOAD.match(path):
            return "files.download"
        if verb == "POST" and _CREATE.match(path):
            return "batches.create"
        if path == "/v1beta/batches" and verb == "GET":
            return "batches.list"
        m = _BATCH.match(path)
        if m:
            return {"GET": "batches.get", "POST": "batches.cancel", "DELETE": "batches.delete"}.get(verb, "")
        if verb == "POST" and path == "/v1beta/cachedContents":
            return "cachedContents.create"
        if verb == "GET" and path == "/v1beta/cachedContents":
            return "cachedContents.list"
        if verb == "DELETE" and _CACHE.match(path):
            return "cachedContents.delete"
        if verb == "PATCH" and _CACHE.match(path) and query.get("updateMask") == ["ttl"]:
            return "cachedContents.update"
        return ""

    def _serve(self, verb: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlparse(self.path)
        query = parse_qs(url.query)
        method = self._route(verb, url.path, query)
        state = self.fake._state
        with state.lock:
            state.calls.append((method, url.path))
            fault = self._fault(method)
        if fault is not None and not fault.after and self._fail(fault):
            return
        if (
            method != "upload.chunk"
            and state.api_key is not None
            and self.headers.get("x-goog-api-key") != state.api_key
        ):
            self._json(400, _error(400, "API key not valid. Please pass a valid API key."))
            return
        try:
            with state.lock:
                status, body, headers = self._work(method, url.path, query, raw)
        except KeyError as e:
            status, body, headers = 404, _error(404, f"Not found: {e}"), {}
        if fault is not None and fault.after and self._fail(fault):
            return
        if isinstance(body, bytes):
            self._send(status, body, "application/octet-stream", headers)
        else:
            self._json(status, body, headers)

    def _fault(self, method: str) -> Fault | None:
        state = self.fake._state
        state.hits[method] = state.hits.get(method, 0) + 1  # the nth call of this method
        for fault in state.faults:
            if fault.method == method and (fault.nth is None or fault.nth == state.hits[method]):
                return fault
        return None

    def _fail(self, fault: Fault) -> bool:
        """Answer the fault; False when it only delays (the answer then goes as usual)."""
        if fault.reset:
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if fault.delay:
            time.sleep(fault.delay)
            if not fault.status:
                return False
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        self._json(fault.status, _error(fault.status, f"Injected fault {fault.status}."), headers)
        return True

    # -- the work ------------------------------------------------------------------------------

    def _work(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        fake, state = self.fake, self.fake._state
        body = json.loads(raw) if raw and method not in ("upload.chunk",) else {}
        if method == "upload.start":
            meta = body.get("file") or {}
            upload_id = fake._next("u")
            state.uploads[upload_id] = {
                "display": meta.get("display_name") or meta.get("displayName") or "",
                "mime": meta.get("mime_type") or meta.get("mimeType") or "",
                "size": int(meta.get("size_bytes") or meta.get("sizeBytes") or 0), "data": b"",
            }  # fmt: skip
            url = f"{fake.base_url}upload/v1beta/files?upload_id={upload_id}&upload_protocol=resumable"
            return 200, {}, {"x-goog-upload-url": url, "x-goog-upload-status": "active"}
        if method == "upload.chunk":
            upload = state.uploads[query["upload_id"][0]]
            upload["data"] += raw
            if "finalize" not in (self.headers.get("X-Goog-Upload-Command") or ""):
                return 200, {}, {"x-goog-upload-status": "active"}
            name = fake._next("files/f")
            state.files[name] = Stored(name, upload["display"], upload["mime"], upload["data"], fake.clock())
            return 200, {"file": _file(state.files[name])}, {"x-goog-upload-status": "final"}
        if method == "files.list":
            files = [_file(f) for f in state.files.values() if not f.name.startswith("files/batch-")]
            return 200, _page(files, "files", query), {}
        if method == "files.download":
            name = "files/" + _DOWNLOAD.match(path)["id"]  # type: ignore[index]
            seen = state.downloads.get(name, 0)
            state.downloads[name] = seen + 1
            if name not in state.files or seen < fake.late_downloads:
                return 404, _error(404, "Requested entity was not found."), {}
            return 200, state.files[name].data, {}
        if method == "batches.create":
            model = _CREATE.match(path)["model"]  # type: ignore[index]
            batch = body.get("batch") or {}
            file_name = (batch.get("inputConfig") or {}).get("fileName")
            if file_name not in state.files:
                return 400, _error(400, f"File {file_name} not found."), {}
            job = Job(fake._next("batches/b"), model, str(batch.get("displayName") or ""), file_name, fake.clock())
            state.jobs[job.name] = job
            if fake.on_create is not None:
                fake.on_create(job)
            return 200, fake._op(job), {}
        if method == "batches.list":
            ops = [fake._op(j) for j in state.jobs.values() if not j.deleted]
            return 200, _page(ops, "operations", query), {}
        if method in ("batches.get", "batches.cancel", "batches.delete"):
            job = state.jobs[_BATCH.match(path)["name"]]  # type: ignore[index]
            if job.deleted:
                raise KeyError(job.name)
            if method == "batches.get":
                fake._advance(job)
                return 200, fake._op(job), {}
            if method == "batches.cancel":
                fake._end(job, "CANCELLED")
            else:
                job.deleted = True
            return 200, {}, {}
        if method == "cachedContents.create":
            name = fake._next("cachedContents/c")
            now = fake.clock()
            ttl = float(str(body.get("ttl") or "3600s").removesuffix("s"))
            tokens = sum(count_prompt({**body, "contents": body.get("contents") or []}).values())
            state.caches[name] = {
                "name": name, **body, "createTime": _time(now),
                "expireTime": _time(now + datetime.timedelta(seconds=ttl)), "usageMetadata": {"totalTokenCount": tokens},
            }  # fmt: skip
            if fake.on_cache is not None:
                fake.on_cache(state.caches[name])
            return 200, state.caches[name], {}
        if method == "cachedContents.list":
            listed = [{k: v for k, v in c.items() if k in ("name", "displayName", "model", "createTime", "expireTime",
                                                            "usageMetadata")} for c in state.caches.values()]  # fmt: skip
            return 200, _page(listed, "cachedContents", query), {}
        if method == "cachedContents.delete":
            state.caches.pop(_CACHE.match(path)["name"])  # type: ignore[index]
            return 200, {}, {}
        if method == "cachedContents.update":
            cache = state.caches.get(_CACHE.match(path)["name"])  # type: ignore[index]
            if cache is None:
                return 404, _error(404, "CachedContent not found"), {}
            ttl = float(str(body.get("ttl") or "3600s").removesuffix("s"))
            cache["expireTime"] = _time(fake.clock() + datetime.timedelta(seconds=ttl))
            return 200, cache, {}
        return 404, _error(404, f"The requested URL {path} was not found on this server."), {}

    # -- answers -----------------------------------------------------------------------------

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=UTF-8", headers or {})

    def _send(self, status: int, data: bytes, kind: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}


def _file(f: Stored) -> dict[str, Any]:
    return {"name": f.name, "displayName": f.display_name, "mimeType": f.mime_type, "sizeBytes": str(len(f.data)),
            "createTime": _time(f.created), "state": "ACTIVE", "source": "UPLOADED"}  # fmt: skip


def _page(items: list[Any], key: str, query: dict[str, list[str]]) -> dict[str, Any]:
    size = int((query.get("pageSize") or ["50"])[0])
    start = int((query.get("pageToken") or ["0"])[0] or 0)
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["nextPageToken"] = str(start + size)
    return page


def serve(**kwargs: Any) -> Iterator[FakeBatch]:
    """``yield from serve()`` in a fixture: a running fake, stopped afterwards."""
    with FakeBatch(**kwargs) as fake:
        yield fake
