"""Reading Gemini batch *output* files: one streaming pass, per-request usage as columns.

Line shapes accepted (https://ai.google.dev/gemini-api/docs/batch-api, and Vertex AI batch output):

* Gemini Developer API: ``{"key": ..., "response": GenerateContentResponse}`` or
  ``{"key": ..., "error": Status}``. Some integrations write the error under ``"status"``
  instead of ``"error"``; both are read.
* Vertex AI batch prediction: ``{"request": ..., "response": ...}`` for a success and
  ``{"request": ..., "status": "<message>"}`` for a failure (``status`` is ``""`` on success).
  There is no ``key``; the echoed ``request`` is used for its settings (``maxOutputTokens``,
  thinking) when present.
* gzip-compressed files of either form; camelCase or snake_case field names.

A failed line (error object, or a non-empty ``status``) is counted apart and never billed. A line
that cannot be read is a :class:`ResultProblem` naming ``file:line``, what is wrong and the fix,
like the input scanner's problems; reading never stops at the first one. Files are streamed a block
at a time (gzip included), and a line over the scanner's line limit is reported and skipped without
being held in memory. A file is Developer-API form when any of its lines carries a ``key``; then
each line without one is a problem of its own (``key-missing``), and :attr:`ResultSet.keyless`
lists those rows, so one keyless line never turns the key check off for the others.

Per-modality figures are normalised so that, per row, the modality columns add up to the total they
detail: a gap between ``promptTokenCount`` and the sum of ``promptTokensDetails`` goes to text, and
cached tokens without ``cacheTokensDetails`` are taken from text first (the usual case: a cached
system instruction or document text). Each such repair is reported once per kind.
"""

from __future__ import annotations

import gzip
import os
import zlib
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, ClassVar

from ..errors import InputError
from .lines import is_gzip, open_binary
from .problems import Problem, Severity, escaped
from .request import THINKING_LEVEL_CODES, UNSET, as_int, shown_value

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

MODALITIES: tuple[str, ...] = ("text", "image", "video", "audio", "document")
"""Modalities of the per-modality columns (same order as :data:`batchcost.pricing.MODALITIES`)."""

# Row status values.
OK = 0  # a response with usageMetadata: priced
FAILED = 1  # an error object or a non-empty status: counted apart, not billed
UNREADABLE = 2  # the line could not be used (see the problems)

# Columns of ResultSet.rows: name -> (array typecode while reading, numpy dtype, meaning).
RESULT_COLUMNS: dict[str, tuple[str, str, str]] = {
    "file": ("H", "u2", "index into ResultSet.files"),
    "line": ("Q", "u8", "1-based line number in its file"),
    "status": ("B", "u1", "0 ok (priced), 1 failed (not billed), 2 unreadable"),
    "prompt": ("q", "i8", "promptTokenCount (cached tokens included)"),
    "cached": ("q", "i8", "cachedContentTokenCount"),
    "tool_use": ("q", "i8", "toolUsePromptTokenCount"),
    "candidates": ("q", "i8", "candidatesTokenCount (thoughts excluded)"),
    "thoughts": ("q", "i8", "thoughtsTokenCount"),
    **{f"prompt_{m}": ("i", "i4", f"prompt tokens of modality {m} (cached included)") for m in MODALITIES},
    **{f"cached_{m}": ("i", "i4", f"cached tokens of modality {m}") for m in MODALITIES},
    **{f"tool_{m}": ("i", "i4", f"tool-use prompt tokens of modality {m}") for m in MODALITIES},
    "max_tokens": ("B", "u1", "1 when a candidate stopped at maxOutputTokens (finishReason MAX_TOKENS)"),
    "model": ("H", "u2", "index into ResultSet.models (modelVersion; 0 = not given)"),
    "error": ("H", "u2", "index into ResultSet.error_kinds (0 = none)"),
    "has_request": ("B", "u1", "1 when the line echoes its request (Vertex), settings below are from it"),
    "max_output_tokens": ("i", "i4", "echoed request's maxOutputTokens, or UNSET"),
    "thinking_budget": ("i", "i4", "echoed request's thinkingBudget, or UNSET"),
    "thinking_level": ("b", "i1", "echoed request's thinkingLevel index (schema.THINKING_LEVELS), -1 none"),
    "candidate_count": ("H", "u2", "echoed request's candidateCount (1 when not given)"),
    "search_queries": ("i", "i4", "groundingMetadata.webSearchQueries issued, all candidates"),
    "grounded": ("B", "u1", "bits: 1 grounded with Google Search, 2 grounded with Google Maps (groundingMetadata)"),
    "embedding": ("B", "u1", "1 for an embedding result (no usageMetadata: priced from the input's tokens)"),
    "candidates_image": ("q", "i8", "candidatesTokensDetails IMAGE tokens (generated images; in candidates)"),
    "candidates_audio": ("q", "i8", "candidatesTokensDetails AUDIO tokens (generated speech; in candidates)"),
}

GROUNDED_SEARCH = 1
GROUNDED_MAPS = 2

# code -> (severity, short title)
RESULT_KINDS: dict[str, tuple[Severity, str]] = {
    "not-utf8": (Severity.ERROR, "not UTF-8"),
    "not-json": (Severity.ERROR, "not JSON"),
    "truncated": (Severity.ERROR, "truncated last line"),
    "not-object": (Severity.ERROR, "line is not a JSON object"),
    "gzip-corrupt": (Severity.ERROR, "gzip data corrupt"),
    "line-too-long": (Severity.ERROR, "line too long to read"),
    "nesting-too-deep": (Severity.ERROR, "nested too deeply to read"),
    "not-a-result": (Severity.ERROR, "request line without a result"),
    "no-outcome": (Severity.ERROR, "neither response nor error"),
    "no-usage": (Severity.ERROR, "response without usageMetadata"),
    "bad-usage": (Severity.ERROR, "invalid usageMetadata"),
    "blank-line": (Severity.WARNING, "blank line"),
    "usage-inconsistent": (Severity.WARNING, "usage details do not add up"),
    "key-missing": (Severity.WARNING, "missing key"),
    "key-duplicate": (Severity.WARNING, "duplicate key"),
    "both-outcomes": (Severity.WARNING, "response and error together"),
}

_MODALITY_NAMES = {"TEXT": "text", "IMAGE": "image", "VIDEO": "video", "AUDIO": "audio", "DOCUMENT": "document"}
_PROGRESS_STEP = 4 * 1024 * 1024
_EXTRA_DEFAULTS = (
    ("max_tokens", 0),
    ("model", 0),
    ("error", 0),
    ("has_request", 0),
    ("max_output_tokens", UNSET),
    ("thinking_budget", UNSET),
    ("thinking_level", -1),
    ("candidate_count", 1),
    ("search_queries", 0),
    ("grounded", 0),
    ("embedding", 0),
    ("candidates_image", 0),
    ("candidates_audio", 0),
)
_USAGE_FIELDS = {
    "prompt": ("promptTokenCount", "prompt_token_count"),
    "cached": ("cachedContentTokenCount", "cached_content_token_count"),
    "tool_use": ("toolUsePromptTokenCount", "tool_use_prompt_token_count"),
    "candidates": ("candidatesTokenCount", "candidates_token_count"),
    "thoughts": ("thoughtsTokenCount", "thoughts_token_count"),
}


@dataclass(frozen=True, slots=True)
class ResultProblem(Problem):
    """One problem in a results file.

    Attributes:
        path: the file, as given by the caller.
        line: 1-based line number; 0 when about the whole file.
        code: a stable id from :data:`RESULT_KINDS`.
        message: what is wrong and how to fix it, one line.
    """

    kinds: ClassVar[Mapping[str, tuple[Severity, str]]] = RESULT_KINDS


@dataclass(frozen=True, slots=True)
class ResultsFileInfo:
    """One results file.

    Attributes:
        path: as given.
        size: bytes on disk.
        compressed: gzip.
        form: ``"developer"`` (lines carry a ``key``) or ``"vertex"`` (no key).
        lines: lines read.
        first_row: index of the file's first line in the row columns.
    """

    path: str
    size: int
    compressed: bool
    form: str
    lines: int
    first_row: int


@dataclass(slots=True)
class ResultSet:
    """Everything one pass over results files found: one row per line (blank lines included).

    Row columns are numpy arrays (see :data:`RESULT_COLUMNS`); ``keys[row]`` is the line's key, or None
    for a line without one (and for blank or unreadable lines: see :attr:`keyless` for the lines that
    were read but carry no key).
    """

    files: list[ResultsFileInfo]
    rows: dict[str, npt.NDArray[Any]]
    keys: list[str | None]
    problems: list[ResultProblem]
    problem_counts: dict[str, int]
    models: list[str] = field(default_factory=lambda: [""])
    error_kinds: list[str] = field(default_factory=lambda: [""])

    @property
    def lines(self) -> int:
        return len(self.rows["status"])

    @property
    def succeeded(self) -> int:
        """Lines with a response and usage figures, or an embedding (priced)."""
        return int((self.rows["status"] == OK).sum())

    @property
    def embeddings(self) -> int:
        """Successful embedding results (no usageMetadata: their input is counted from the input file)."""
        return int(((self.rows["status"] == OK) & (self.rows["embedding"] == 1)).sum())

    @property
    def failed(self) -> int:
        """Lines with an error (not billed)."""
        return int((self.rows["status"] == FAILED).sum())

    @property
    def errors(self) -> int:
        """Problems of error severity (lines that could not be used)."""
        return sum(n for code, n in self.problem_counts.items() if RESULT_KINDS[code][0] is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(n for code, n in self.problem_counts.items() if RESULT_KINDS[code][0] is Severity.WARNING)

    @property
    def form(self) -> str:
        """``developer`` or ``vertex`` when all files agree, else ``mixed``."""
        forms = {f.form for f in self.files}
        return forms.pop() if len(forms) == 1 else "mixed"

    def failures_by_kind(self) -> dict[str, int]:
        """Failed lines per error kind (e.g. ``"400 INVALID_ARGUMENT"``), most frequent first."""
        import numpy as np

        err = self.rows["error"][self.rows["status"] == FAILED]
        counts = np.bincount(err, minlength=len(self.error_kinds)) if len(err) else np.zeros(0, np.int64)
        pairs = [(self.error_kinds[i], int(n)) for i, n in enumerate(counts) if n]
        return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))

    def model_versions(self) -> dict[str, int]:
        """Successful lines per ``modelVersion`` (``""`` when not given), most frequent first."""
        import numpy as np

        ids = self.rows["model"][self.rows["status"] == OK]
        counts = np.bincount(ids, minlength=len(self.models)) if len(ids) else np.zeros(0, np.int64)
        pairs = [(self.models[i], int(n)) for i, n in enumerate(counts) if n]
        return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))

    def locate(self, row: int) -> tuple[ResultsFileInfo, int]:
        """(file, 1-based line number) of a row."""
        return self.files[int(self.rows["file"][row])], int(self.rows["line"][row])

    @property
    def keyless(self) -> npt.NDArray[np.int64]:
        """Rows of Developer-API files that were read (succeeded or failed) but carry no ``key``.

        Each is also a ``key-missing`` problem. These results cannot be matched to a request; every
        other row's key still can (``keys[row]``), so a key check counts these apart, it does not stop.
        """
        import numpy as np

        developer = np.array([f.form == "developer" for f in self.files], dtype=bool)
        status = self.rows["status"]
        no_key = np.fromiter((k is None for k in self.keys), dtype=bool, count=len(self.keys))
        if not len(no_key):
            return np.zeros(0, np.int64)
        return np.flatnonzero(no_key & (status != UNREADABLE) & developer[self.rows["file"]]).astype(np.int64)


class _Reader:
    """Fills the columns line by line."""

    def __init__(self, keep: int) -> None:
        import msgspec

        self.decode = msgspec.json.Decoder().decode
        self.decode_errors = (msgspec.DecodeError, msgspec.ValidationError)
        self.keep = keep
        self.cols = {name: array(spec[0]) for name, spec in RESULT_COLUMNS.items()}
        # bound append methods: this runs once per line, and attribute lookups dominate it
        self._append = {name: arr.append for name, arr in self.cols.items()}
        self._usage_apps = [(name, self._append[name]) for name in _USAGE_FIELDS]
        self._split_apps = [
            (f"{prefix}_by", [(m, self._append[f"{prefix}_{m}"]) for m in MODALITIES])
            for prefix in ("prompt", "cached", "tool")
        ]
        self._zero_apps = [app for _, app in self._usage_apps] + [
            app for _, apps in self._split_apps for _, app in apps
        ]
        self.keys: list[str | None] = []
        self.problems: list[ResultProblem] = []
        self.counts: dict[str, int] = {}
        self.models: list[str] = [""]
        self.model_ids: dict[str, int] = {"": 0}
        self.error_kinds: list[str] = [""]
        self.error_ids: dict[str, int] = {"": 0}
        self.seen_keys: dict[str, tuple[str, int]] = {}
        self.path = ""
        self.form = "developer"  # what the file's first lines suggest (see end_file for the final word)
        self.line_no = 0
        self.file_index = 0
        self.keyed = 0  # lines of the current file that carry a key
        self.keyless_lines: list[int] = []  # lines of the current file read without a key

    # -- problems ---------------------------------------------------------------------------------

    def report(self, code: str, message: str, line: int | None = None) -> None:
        n = self.counts.get(code, 0)
        self.counts[code] = n + 1
        if n < self.keep:
            self.problems.append(ResultProblem(self.path, self.line_no if line is None else line, code, message))

    # -- rows -------------------------------------------------------------------------------------

    def _row(self, status: int, key: str | None, usage: dict[str, Any] | None = None, **extra: int) -> None:
        a = self._append
        a["file"](self.file_index)
        a["line"](self.line_no)
        a["status"](status)
        if usage:
            for name, app in self._usage_apps:
                app(usage[name])
            for split_name, apps in self._split_apps:
                split = usage[split_name]
                for m, app in apps:
                    app(split.get(m, 0))
        else:
            for app in self._zero_apps:
                app(0)
        for name, default in _EXTRA_DEFAULTS:
            a[name](extra.get(name, default))
        self.keys.append(key)
        if key is not None:
            self.keyed += 1
        elif status != UNREADABLE:
            self.keyless_lines.append(self.line_no)

    def start_file(self, path: str, index: int, form: str) -> None:
        self.path, self.file_index, self.line_no, self.form = path, index, 0, form
        self.keyed = 0
        self.keyless_lines = []

    def end_file(self) -> str:
        """The file's form, decided on all its lines; each keyless line of a keyed file is reported."""
        form = "developer" if self.keyed else self.form
        if form == "developer":
            for line in self.keyless_lines:
                self.report(
                    "key-missing",
                    'no "key": this result cannot be matched to its request (Developer API results carry the '
                    "input line's key); it is counted, and the key check skips it",
                    line=line,
                )
        self.keyless_lines = []
        return form

    @staticmethod
    def _intern(ids: dict[str, int], table: list[str], value: str) -> int:
        i = ids.get(value)
        if i is None:
            if len(table) >= 65535:  # the column is u2; lump the rest together
                return ids.setdefault("other", len(table) - 1)
            i = ids[value] = len(table)
            table.append(value)
        return i

    # -- one line ---------------------------------------------------------------------------------

    def line(self, raw: bytes | None, last: bool, nbytes: int = 0) -> None:
        """Read one line (without its newline); ``raw`` is None for a line over the line limit."""
        self.line_no += 1
        from .lines import MAX_LINE_BYTES

        if raw is None or len(raw) > MAX_LINE_BYTES:
            nbytes = nbytes if raw is None else len(raw)
            self.report(
                "line-too-long",
                f"line is {nbytes / 2**20:,.0f} MiB, over the {MAX_LINE_BYTES // 2**20} MiB line limit, so it is "
                "not read; is this really a batch results file?",
            )
            self._row(UNREADABLE, None)
            return
        raw = raw.removesuffix(b"\r")
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            self.report("blank-line", "blank line; ignored")
            self._row(UNREADABLE, None)
            return
        try:
            obj = self.decode(raw)
        except RecursionError:
            self._too_deep()
            self._row(UNREADABLE, None)
            return
        except self.decode_errors as e:
            self._bad_json(raw, str(e), last)
            self._row(UNREADABLE, None)
            return
        if not isinstance(obj, dict):
            self.report(
                "not-object",
                f"line is a JSON {_json_type(obj)}, not an object; each results line is "
                '{"key": ..., "response": {...}} or {"key": ..., "error": {...}}',
            )
            self._row(UNREADABLE, None)
            return
        rows = len(self.keys)
        try:
            self._object(obj)
        except RecursionError:
            if len(self.keys) == rows:  # the row is added last; it was not
                self._too_deep()
                self._row(UNREADABLE, None)

    def _too_deep(self) -> None:
        self.report(
            "nesting-too-deep",
            "objects and arrays are nested too deeply to read; is this really a batch results file?",
        )

    def _bad_json(self, raw: bytes, msg: str, last: bool) -> None:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            self.report("not-utf8", f"not valid UTF-8 (byte {e.start + 1} of the line); the file may be damaged")
            return
        if last and "truncated" in msg:
            self.report(
                "truncated",
                "last line ends in the middle of a JSON value: the file looks cut off; download the results again",
            )
        else:
            self.report(
                "not-json",
                f"not valid JSON: {escaped(msg.removeprefix('JSON is malformed: '), 200)}; each line must be one object",
            )

    def _key(self, obj: dict[str, Any]) -> str | None:
        # a line without a key is reported when its file is done (end_file): only then is the form known
        key = obj.get("key")
        if key is None or isinstance(key, dict | list):
            return None
        if not isinstance(key, str):
            key = str(key)  # a number: input keys are strings, so it matches the same digits
        first = self.seen_keys.get(key)
        if first is not None:
            where = f"line {first[1]}" if first[0] == self.path else f"{first[0]}:{first[1]}"
            self.report(
                "key-duplicate",
                f"key {key!r:.80} already on {where}; both results are counted (was the same results file "
                "given twice?)",
            )
        else:
            self.seen_keys[key] = (self.path, self.line_no)
        return key

    def _object(self, obj: dict[str, Any]) -> None:
        key = self._key(obj)
        response = obj.get("response")
        error = _error_of(obj)
        request = obj.get("request")
        settings = _settings(request) if isinstance(request, dict) else {}
        if error is not None:
            if isinstance(response, dict) and response:
                self.report(
                    "both-outcomes",
                    "line has a response and an error; it is counted as failed (not billed)",
                )
            kind = self._intern(self.error_ids, self.error_kinds, error)
            self._row(FAILED, key, error=kind, **settings)
            return
        if response is None:
            if isinstance(request, dict) and self.form == "developer":
                self.report(
                    "not-a-result",
                    "line holds a request but no response or error: this looks like the batch INPUT file; "
                    "give the job's output (results) file",
                )
            else:
                self.report(
                    "no-outcome",
                    'line has neither "response" nor "error"/"status"; it is not counted (is the file complete?)',
                )
            self._row(UNREADABLE, key, **settings)
            return
        if not isinstance(response, dict):
            self.report("no-outcome", f'"response" is a {type(response).__name__}, not an object; not counted')
            self._row(UNREADABLE, key, **settings)
            return
        usage_raw = _field(response, "usageMetadata", "usage_metadata")
        if usage_raw is None and is_embedding_response(response):
            # embedding results carry no usage: priced from the input file's tokens (afterjob.embed_actual)
            self._row(OK, key, embedding=1, **settings)
            return
        if not isinstance(usage_raw, dict):
            self.report(
                "no-usage",
                "response has no usageMetadata, so its cost is unknown; it is not counted (the output file may "
                "have been post-processed: use the file as downloaded from the job)",
            )
            self._row(UNREADABLE, key, **settings)
            return
        usage = self._usage(usage_raw)
        if usage is None:
            self._row(UNREADABLE, key, **settings)
            return
        model = _field(response, "modelVersion", "model_version")
        if isinstance(model, str) and not model.isprintable():
            model = escaped(model, 100)  # shown in reports as is: no terminal controls
        model_id = self._intern(self.model_ids, self.models, model) if isinstance(model, str) and model else 0
        queries, grounded = _grounding(response)
        self._row(
            OK, key, usage, max_tokens=_hit_max_tokens(response), model=model_id, search_queries=queries,
            grounded=grounded, candidates_image=usage["candidates_image"],
            candidates_audio=usage["candidates_audio"], **settings,
        )  # fmt: skip

    def _usage(self, u: dict[str, Any]) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        for name, spellings in _USAGE_FIELDS.items():
            value = _field(u, *spellings)
            n = 0 if value is None else as_int(value)
            if n is None or n < 0 or n >= 2**31:
                self.report(
                    "bad-usage",
                    f"usageMetadata.{spellings[0]} is {value!r:.40}, not a token count; the line is not counted",
                )
                return None
            out[name] = n
        prompt, cached, tool = out["prompt"], out["cached"], out["tool_use"]
        if cached > prompt:
            self._repair(
                "cachedContentTokenCount exceeds promptTokenCount (which includes cached tokens); cached tokens "
                "are capped at the prompt count"
            )
            cached = out["cached"] = prompt
        prompt_by = self._details(u, ("promptTokensDetails", "prompt_tokens_details"), prompt, "promptTokensDetails")
        tool_by = self._details(
            u, ("toolUsePromptTokensDetails", "tool_use_prompt_tokens_details"), tool, "toolUsePromptTokensDetails"
        )
        cached_by = self._cached_split(u, cached, prompt_by)
        if prompt_by is None or tool_by is None or cached_by is None:
            return None
        out["prompt_by"], out["cached_by"], out["tool_by"] = prompt_by, cached_by, tool_by
        # generated images (image-output models bill them at their own rate) and speech (shown apart);
        # other modalities stay answers
        cand_raw = _field(u, "candidatesTokensDetails", "candidates_tokens_details")
        out["candidates_image"] = out["candidates_audio"] = 0
        if isinstance(cand_raw, list):
            by = {"IMAGE": 0, "AUDIO": 0}
            for item in cand_raw:
                name = str(item.get("modality") or "").upper() if isinstance(item, dict) else ""
                if name in by:
                    by[name] += as_int(_field(item, "tokenCount", "token_count") or 0) or 0
            out["candidates_image"] = max(0, min(by["IMAGE"], out["candidates"]))
            out["candidates_audio"] = max(0, min(by["AUDIO"], out["candidates"] - out["candidates_image"]))
        return out

    def _details(self, u: dict[str, Any], names: tuple[str, str], total: int, label: str) -> dict[str, int] | None:
        """Tokens per modality adding up to ``total`` (None after reporting a bad value)."""
        raw = _field(u, *names)
        split: dict[str, int] = {}
        if raw is None:
            return {"text": total} if total else {}
        if not isinstance(raw, list):
            self.report("bad-usage", f"usageMetadata.{label} is not a list; the line is not counted")
            return None
        for item in raw:
            if not isinstance(item, dict):
                self.report("bad-usage", f"usageMetadata.{label} holds a non-object; the line is not counted")
                return None
            n = as_int(_field(item, "tokenCount", "token_count") or 0)
            if n is None or n < 0:
                self.report("bad-usage", f"usageMetadata.{label} has tokenCount {item!r:.60}; the line is not counted")
                return None
            modality = _MODALITY_NAMES.get(str(item.get("modality") or "").upper(), "text")
            split[modality] = split.get(modality, 0) + n
        got = sum(split.values())
        if got != total:
            if got > total:
                self._repair(f"{label} add up to more than their total; the total is kept and split as text")
                return {"text": total} if total else {}
            self._repair(f"{label} add up to less than their total; the rest is counted as text")
            split["text"] = split.get("text", 0) + total - got
        return split

    def _cached_split(self, u: dict[str, Any], cached: int, prompt_by: dict[str, int] | None) -> dict[str, int] | None:
        if prompt_by is None:
            return None
        if not cached:
            return {}
        given = _field(u, "cacheTokensDetails", "cache_tokens_details")
        if given is not None:
            split = self._details(u, ("cacheTokensDetails", "cache_tokens_details"), cached, "cacheTokensDetails")
            if split is None:
                return None
            if all(split.get(m, 0) <= prompt_by.get(m, 0) for m in split):
                return split
            self._repair("cacheTokensDetails exceed promptTokensDetails for a modality; cached tokens are re-split")
        # Without a usable split, cached tokens come from text first (cached system instructions and
        # documents are text), then from the other modalities in order.
        out: dict[str, int] = {}
        left = cached
        for m in MODALITIES:
            take = min(left, prompt_by.get(m, 0))
            if take:
                out[m] = take
                left -= take
        return out

    def _repair(self, what: str) -> None:
        self.report("usage-inconsistent", what)


def is_embedding_response(response: dict[str, Any]) -> bool:
    """True for an ``EmbedContentResponse`` (``embedding``, or ``embeddings`` from batchEmbedContents)."""
    value = response.get("embedding", response.get("embeddings"))
    return isinstance(value, dict | list)


def _field(obj: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in obj:
            return obj[name]
    return None


def _error_of(obj: dict[str, Any]) -> str | None:
    """A short error kind (``"400 INVALID_ARGUMENT"``) when the line failed, else None."""
    for name in ("error", "status"):
        value = obj.get(name)
        if value is None or value == "" or value == {}:
            continue
        # the kind is shown in reports as is: file text in it is escaped here
        if isinstance(value, str):
            return escaped(" ".join(value.split()), 80) or None
        if isinstance(value, dict):
            code = as_int(value.get("code"))
            status = value.get("status")
            message = value.get("message")
            if code == 0 and not message:
                continue  # google.rpc.Status OK
            parts = [
                escaped(p, 40) if isinstance(p, str) else shown_value(p) for p in (code, status) if p not in (None, "")
            ]
            if parts:
                return " ".join(parts)
            if isinstance(message, str):
                return escaped(" ".join(message.split()), 80) or "error"
            return shown_value(message, 60) if message else "error"
        return f"{name}: {shown_value(value, 60)}"
    return None


def _hit_max_tokens(response: dict[str, Any]) -> int:
    for cand in response.get("candidates") or ():
        if isinstance(cand, dict) and str(_field(cand, "finishReason", "finish_reason") or "").upper() == "MAX_TOKENS":
            return 1
    return 0


def _grounding(response: dict[str, Any]) -> tuple[int, int]:
    """``(webSearchQueries issued, GROUNDED_* bits)`` of a response's candidates.

    A candidate is grounded with Search when its ``groundingMetadata`` shows a search (queries, web
    sources, supports or the search entry point), with Maps when a source is a ``maps`` chunk or a
    Maps widget token is given: these are what Google bills per grounded prompt.
    """
    queries = 0
    bits = 0
    for cand in response.get("candidates") or ():
        meta = _field(cand, "groundingMetadata", "grounding_metadata") if isinstance(cand, dict) else None
        if not isinstance(meta, dict):
            continue
        asked = _field(meta, "webSearchQueries", "web_search_queries")
        if isinstance(asked, list):
            queries += sum(1 for q in asked if isinstance(q, str) and q.strip())
        chunks = _field(meta, "groundingChunks", "grounding_chunks")
        chunks = chunks if isinstance(chunks, list) else []
        if _field(meta, "googleMapsWidgetContextToken", "google_maps_widget_context_token") or any(
            isinstance(c, dict) and "maps" in c for c in chunks
        ):
            bits |= GROUNDED_MAPS
        if (
            asked
            or _field(meta, "searchEntryPoint", "search_entry_point")
            or any(isinstance(c, dict) and "web" in c for c in chunks)
        ):
            bits |= GROUNDED_SEARCH
    return min(queries, 2**31 - 1), bits


def _settings(request: dict[str, Any]) -> dict[str, int]:
    """Output settings of an echoed request (Vertex lines), as the scanner's row columns hold them."""
    from .schema import GENERATION_CONFIG_FIELDS, THINKING_CONFIG_FIELDS

    out: dict[str, int] = {"has_request": 1}
    config = _field(request, "generationConfig", "generation_config")
    if not isinstance(config, dict):
        return out
    for name, value in config.items():
        canon = GENERATION_CONFIG_FIELDS.get(name)
        if canon == "maxOutputTokens":
            n = as_int(value)
            if n is not None and 0 < n < 2**31:
                out["max_output_tokens"] = n
        elif canon == "candidateCount":
            n = as_int(value)
            if n is not None and 0 < n < 65536:
                out["candidate_count"] = n
        elif canon == "thinkingConfig" and isinstance(value, dict):
            for tname, tvalue in value.items():
                tcanon = THINKING_CONFIG_FIELDS.get(tname)
                if tcanon == "thinkingBudget":
                    n = as_int(tvalue)
                    if n is not None and -1 <= n < 2**31:
                        out["thinking_budget"] = n
                elif tcanon == "thinkingLevel" and isinstance(tvalue, str):
                    level = tvalue.upper().removeprefix("THINKING_LEVEL_")
                    if level in THINKING_LEVEL_CODES:
                        out["thinking_level"] = THINKING_LEVEL_CODES[level]
    return out


# -- files ----------------------------------------------------------------------------------------


def open_check(path: str) -> int:
    from .lines import open_check as check

    return check(path)


def detect_form(path: str, compressed: bool) -> str:
    """``developer`` or ``vertex`` as the first lines suggest (a majority of the first 50)."""
    from .lines import detect_form as detect

    return detect(path, compressed)


def _json_type(v: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(v), "null")


def _read_file(reader: _Reader, fh: IO[bytes], raw_fh: IO[bytes], progress: Callable[[int], None]) -> None:
    """Every line of one file into ``reader`` (streamed; a damaged gzip tail is one problem)."""
    from .lines import MAX_LINE_BYTES, LineFiller, stream_lines

    next_report = _PROGRESS_STEP
    read = LineFiller(fh).read if hasattr(fh, "read1") else fh.read
    try:
        for _offset, line, nbytes, newline in stream_lines(read, MAX_LINE_BYTES):
            reader.line(line, not newline, nbytes)
            pos = raw_fh.tell()
            if pos >= next_report:
                next_report = pos + _PROGRESS_STEP
                progress(pos)
    except (OSError, EOFError, zlib.error) as e:
        reader.line_no += 1
        reader.report(
            "gzip-corrupt",
            f"gzip data is corrupt or cut off after line {reader.line_no - 1} ({escaped(str(e))}); download the "
            "results again",
        )
        reader._row(UNREADABLE, None)


def read_results(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    keep_problems: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> ResultSet:
    """Read batch results files line by line (streaming; memory grows with the line count only).

    Args:
        paths: one or several results files (``.jsonl`` or gzip), Developer API or Vertex form.
        keep_problems: problems kept per kind (all are counted in ``problem_counts``).
        progress: called with ``(bytes read, total bytes)`` (bytes on disk).

    Returns:
        A :class:`ResultSet`. Problems in the files are data in it, never exceptions.

    Raises:
        InputError: a file cannot be read at all (missing, a directory, permission denied, empty, a
            pipe or FIFO).
    """
    import numpy as np

    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    names = [os.fspath(p) for p in paths]
    sizes = [open_check(p) for p in names]
    total = sum(sizes)
    reader = _Reader(keep_problems)
    files: list[ResultsFileInfo] = []
    done = 0
    for fi, (path, size) in enumerate(zip(names, sizes, strict=True)):
        if size == 0:
            raise InputError(path, "file is empty; give the results file the batch job produced")
        compressed = size >= 2 and is_gzip(path)
        reader.start_file(path, fi, detect_form(path, compressed))
        first_row = len(reader.keys)

        def report(pos: int, base: int = done) -> None:
            if progress is not None:
                progress(base + pos, total)

        with open_binary(path) as raw_fh:  # a URL's object read in parallel ranges
            fh: IO[bytes] = gzip.GzipFile(fileobj=raw_fh) if compressed else raw_fh  # type: ignore[assignment]
            _read_file(reader, fh, raw_fh, report)
        form = reader.end_file()
        files.append(ResultsFileInfo(path, size, compressed, form, reader.line_no, first_row))
        done += size
        if progress is not None:
            progress(done, total)
    rows = {
        name: np.frombuffer(reader.cols[name], dtype=spec[1]).copy() if len(reader.cols[name]) else np.zeros(0, spec[1])
        for name, spec in RESULT_COLUMNS.items()
    }
    order = {f.path: i for i, f in enumerate(files)}
    problems = sorted(reader.problems, key=lambda p: (order.get(p.path, 0), p.line))
    return ResultSet(
        files=files,
        rows=rows,
        keys=reader.keys,
        problems=problems,
        problem_counts=dict(reader.counts),
        models=reader.models,
        error_kinds=reader.error_kinds,
    )


def results_from_objects(objects: Sequence[dict[str, Any]], *, name: str = "<responses>") -> ResultSet:
    """A :class:`ResultSet` from result objects already in memory (e.g. responses of a pilot run).

    Each object has the shape of a results line (``{"key", "response"}`` or ``{"key", "error"}``);
    ``name`` stands in for the file path in problems.
    """
    import numpy as np

    reader = _Reader(keep=100)
    reader.start_file(name, 0, "developer")
    for obj in objects:
        reader.line_no += 1
        reader._object(obj)
    reader.end_file()
    rows = {
        n: np.frombuffer(reader.cols[n], dtype=spec[1]).copy() if len(reader.cols[n]) else np.zeros(0, spec[1])
        for n, spec in RESULT_COLUMNS.items()
    }
    info = ResultsFileInfo(name, 0, False, "developer", reader.line_no, 0)
    return ResultSet([info], rows, reader.keys, reader.problems, dict(reader.counts), reader.models, reader.error_kinds)


# -- keys of input files ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputKeys:
    """The keys of one batch input file, in line order, and the file's SHA-256.

    Attributes:
        path: as given.
        form: ``developer`` when any line has a ``key``, else ``vertex`` (``keys`` is then all None).
        keys: one entry per line (None for a line without a readable key).
        sha256: hex digest of the file's bytes as stored (compressed bytes for gzip).
    """

    path: str
    form: str
    keys: list[str | None]
    sha256: str


class _HashingReader:
    """A read-only file wrapper that hashes every byte read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        import hashlib

        self.raw = raw
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        return data

    def finish(self) -> str:
        while block := self.raw.read(1 << 20):
            self.hash.update(block)
        return self.hash.hexdigest()


def read_input_keys(path: str | os.PathLike[str]) -> InputKeys:
    """Read only the ``key`` of each line of a batch input file (streaming), hashing the file on the way.

    Raises:
        InputError: the file cannot be read.
    """
    import msgspec

    class _KeyLine(msgspec.Struct):
        key: Any = None

    from .lines import MAX_LINE_BYTES, LineFiller, stream_lines

    name = os.fspath(path)
    size = open_check(name)
    compressed = size >= 2 and is_gzip(name)
    decode = msgspec.json.Decoder(_KeyLine).decode
    keys: list[str | None] = []
    keyed = 0
    with open_binary(name) as raw_fh:
        hashing = _HashingReader(raw_fh)
        fh: Any = gzip.GzipFile(fileobj=hashing) if compressed else hashing  # type: ignore[arg-type]
        try:
            read = LineFiller(fh).read if compressed else fh.read
            for _offset, line, _n, _newline in stream_lines(read, MAX_LINE_BYTES):
                try:
                    key = None if line is None else decode(line).key
                except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
                    key = None
                if key is not None:
                    keyed += 1
                keys.append(key if isinstance(key, str) else None)
        except (OSError, EOFError, zlib.error):
            pass  # a corrupt tail: the keys read so far still count; `validate` reports the damage
        digest = hashing.finish()
    # Developer form when any line has a key: one line without one must not switch the key check off
    return InputKeys(name, "developer" if keyed or not size else "vertex", keys, digest)
