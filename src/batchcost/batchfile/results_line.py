"""One results line read into the columns of a :class:`~.results_types.ResultSet` (:class:`LineReader`):
the usage, its per-modality details made to add up, failures, grounding and the echoed request's
settings. :mod:`.results` streams files through it.
"""

from __future__ import annotations

from array import array
from typing import Any

from .problems import escaped
from .request import THINKING_LEVEL_CODES, UNSET, as_int, shown_value
from .results_types import (
    FAILED,
    GROUNDED_MAPS,
    GROUNDED_SEARCH,
    MODALITIES,
    OK,
    RESULT_COLUMNS,
    UNREADABLE,
    ResultProblem,
)

_MODALITY_NAMES = {"TEXT": "text", "IMAGE": "image", "VIDEO": "video", "AUDIO": "audio", "DOCUMENT": "document"}
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


class LineReader:
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

    def add_row(self, status: int, key: str | None, usage: dict[str, Any] | None = None, **extra: int) -> None:
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
            self.add_row(UNREADABLE, None)
            return
        raw = raw.removesuffix(b"\r")
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            self.report("blank-line", "blank line; ignored")
            self.add_row(UNREADABLE, None)
            return
        try:
            obj = self.decode(raw)
        except RecursionError:
            self._too_deep()
            self.add_row(UNREADABLE, None)
            return
        except self.decode_errors as e:
            self._bad_json(raw, str(e), last)
            self.add_row(UNREADABLE, None)
            return
        if not isinstance(obj, dict):
            self.report(
                "not-object",
                f"line is a JSON {_json_type(obj)}, not an object; each results line is "
                '{"key": ..., "response": {...}} or {"key": ..., "error": {...}}',
            )
            self.add_row(UNREADABLE, None)
            return
        rows = len(self.keys)
        try:
            self.read_object(obj)
        except RecursionError:
            if len(self.keys) == rows:  # the row is added last; it was not
                self._too_deep()
                self.add_row(UNREADABLE, None)

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

    def read_object(self, obj: dict[str, Any]) -> None:
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
            self.add_row(FAILED, key, error=kind, **settings)
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
            self.add_row(UNREADABLE, key, **settings)
            return
        if not isinstance(response, dict):
            self.report("no-outcome", f'"response" is a {type(response).__name__}, not an object; not counted')
            self.add_row(UNREADABLE, key, **settings)
            return
        usage_raw = _field(response, "usageMetadata", "usage_metadata")
        if usage_raw is None and is_embedding_response(response):
            # embedding results carry no usage: priced from the input file's tokens (afterjob.embed_actual)
            self.add_row(OK, key, embedding=1, **settings)
            return
        if not isinstance(usage_raw, dict):
            self.report(
                "no-usage",
                "response has no usageMetadata, so its cost is unknown; it is not counted (the output file may "
                "have been post-processed: use the file as downloaded from the job)",
            )
            self.add_row(UNREADABLE, key, **settings)
            return
        usage = self._usage(usage_raw)
        if usage is None:
            self.add_row(UNREADABLE, key, **settings)
            return
        model = _field(response, "modelVersion", "model_version")
        if isinstance(model, str) and not model.isprintable():
            model = escaped(model, 100)  # shown in reports as is: no terminal controls
        model_id = self._intern(self.model_ids, self.models, model) if isinstance(model, str) and model else 0
        queries, grounded = _grounding(response)
        self.add_row(
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


def _json_type(v: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(v), "null")
