"""Walk one ``GenerateContentRequest``: check it, and collect what later stages need.

One walker serves both the full-file scan (check every field, count characters, note media) and
the token counter (the texts of a sampled request). Because both use the same code, the characters
the scan measures are exactly the characters of the texts that get tokenized, which is what makes
the ratio estimator in :mod:`batchcost.tokens` sound.

Which strings count as text follows google-genai's ``LocalTokenizer`` (``local_tokenizer.py``):
text parts; function call and response names, plus the keys and string values of their arguments
and responses; function declarations' name, description and schema strings (format, description,
enum, required, property names, examples); the response schema. We also count ``executableCode``
and ``codeExecutionResult`` text, which the server certainly reads but ``LocalTokenizer`` skips.
"""

from __future__ import annotations

import difflib
import hashlib
from typing import Any

from ..text import plural
from . import schema
from .embed_request import (
    FLAG_EMBED,  # re-exported with the other flag bits
    is_embed_request,
    walk_embed,
)
from .media import media_kind, probe
from .output_request import output_flags
from .problems import escaped, quoted
from .request_info import (
    FLAG_CACHED_CONTENT,
    FLAG_CODE_EXECUTION,
    FLAG_FILE_DATA,
    FLAG_GOOGLE_MAPS,
    FLAG_GOOGLE_SEARCH,
    FLAG_INCLUDE_THOUGHTS,
    FLAG_OTHER_TOOL,
    FLAG_RESPONSE_SCHEMA,
    FLAG_SYSTEM,
    FLAG_TOOLS,
    FLAG_URL_CONTEXT,
    INT32_MAX,
    MAX_NESTING,
    MEDIA_RESOLUTION_CODES,
    PLACES,
    THINKING_LEVEL_CODES,
    UNSET,
    MediaPart,
    NestingTooDeep,
    Report,
    RequestInfo,
    as_int,
    count_names,
    decode_base64,
    enum_name,
    shown_value,
)
from .request_texts import declaration_texts, dict_texts, schema_texts

# the walk, and the names it reads from request_info and request_texts: importable from here as before
__all__ = [
    "FLAG_CACHED_CONTENT",
    "FLAG_CODE_EXECUTION",
    "FLAG_EMBED",
    "FLAG_FILE_DATA",
    "FLAG_GOOGLE_MAPS",
    "FLAG_GOOGLE_SEARCH",
    "FLAG_INCLUDE_THOUGHTS",
    "FLAG_OTHER_TOOL",
    "FLAG_RESPONSE_SCHEMA",
    "FLAG_SYSTEM",
    "FLAG_TOOLS",
    "FLAG_URL_CONTEXT",
    "INT32_MAX",
    "MAX_NESTING",
    "MEDIA_RESOLUTION_CODES",
    "PLACES",
    "THINKING_LEVEL_CODES",
    "UNSET",
    "MediaPart",
    "NestingTooDeep",
    "Report",
    "RequestInfo",
    "Walker",
    "as_int",
    "count_names",
    "decode_base64",
    "dict_texts",
    "enum_name",
    "request_texts",
    "schema_texts",
    "shown_value",
]


def _parts_hash(parts: list[dict[str, Any]], seed: int = 0, utf8_len: dict[int, int] | None = None) -> int:
    """Hash of a run of parts; ``seed`` chains on an earlier hash so no part is hashed twice.

    ``utf8_len`` collects the UTF-8 length of each text encoded here (keyed by ``id``), so the
    scan's byte count does not encode the same text again.
    """
    h = hashlib.sha1(seed.to_bytes(8, "little"))
    for part in parts:
        text = part.get("text")
        if isinstance(text, str):
            data = text.encode("utf-8", "surrogatepass")
            if utf8_len is not None:
                utf8_len[id(text)] = len(data)
            h.update(b"t" + len(data).to_bytes(8, "little"))
            h.update(data)
        else:
            import msgspec

            data = msgspec.json.encode(part, order="sorted")
            h.update(b"o" + len(data).to_bytes(8, "little"))
            h.update(data)
    return int.from_bytes(h.digest()[:8], "little") or 1


_CONTAINERS = (dict, list)  # ``type(v) in _CONTAINERS``: decoded JSON holds no subclasses
# the tables' lookups as bound methods: the walk calls them for every field of every request
_request_field = schema.REQUEST_FIELDS.get
_content_field = schema.CONTENT_FIELDS.get
_part_data_field = schema.PART_DATA_FIELDS.get
_part_meta_field = schema.PART_META_FIELDS.get
_generation_config_field = schema.GENERATION_CONFIG_FIELDS.get
# request fields whose values the walker goes through (and counts) itself
_WALKED = frozenset({"contents", "systemInstruction", "tools", "generationConfig"})


def _safe_name(text: str) -> str:
    """A name from the file kept as data (media types...): escaped when it holds control characters."""
    return text if text.isprintable() else escaped(text, 100)


def _nearest(name: str, known: dict[str, str]) -> str:
    if len(name) > 200:  # no field name is this long; difflib would only spend time on it
        return ""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


class Walker:
    """Checks a request and fills a :class:`RequestInfo`.

    ``report(code, message)`` receives problems; pass a no-op to only collect texts.
    """

    def __init__(self, report: Report, *, probe_media: bool = True, hashes: bool = True) -> None:
        self.report = report
        self.probe_media = probe_media
        self.hashes = hashes  # prefix hashes are for the scan; texts alone do not need them

    # -- request ------------------------------------------------------------------------------
    def walk(self, req: dict[str, Any]) -> RequestInfo:
        """Check ``req`` and collect its figures.

        Raises:
            NestingTooDeep: a value nests more than :data:`MAX_NESTING` levels (nothing else is raised).
        """
        info = RequestInfo()
        if is_embed_request(req):  # an embedding batch line: its own fields and rules
            walk_embed(self, req, info)
            return info
        report = self.report
        seen: dict[str, str] = {}
        fields: dict[str, Any] = {}
        info.nkeys = len(req)
        for name, value in req.items():
            canon = _request_field(name)
            if canon is None:
                if type(value) in _CONTAINERS:
                    info.nkeys += count_names(value)
                self._unknown_top_level(name)
                continue
            if canon in seen:
                report(
                    "duplicate-field",
                    f"request has both {quoted(seen[canon])} and {quoted(name)}; keep one spelling",
                )
                if canon in _WALKED and type(fields[canon]) in _CONTAINERS:  # the first one is not walked
                    info.nkeys += count_names(fields[canon])
            if canon not in _WALKED and type(value) in _CONTAINERS:
                info.nkeys += count_names(value)  # safety settings, labels...: not walked below
            seen[canon] = name
            fields[canon] = value

        contents = fields.get("contents")
        if contents is None:
            report("contents-missing", 'request has no "contents"; add "contents": [{"parts": [{"text": ...}]}]')
        elif not isinstance(contents, list) or not contents:
            what = "empty" if isinstance(contents, list) else f"a {type(contents).__name__}, not a list"
            report("contents-missing", f'"contents" is {what}; give a list with at least one content')
            if type(contents) is dict:
                info.nkeys += count_names(contents)
        else:
            self._contents(contents, info)

        if "systemInstruction" in fields:
            self._system(fields["systemInstruction"], info)
        if "tools" in fields:
            self._tools(fields["tools"], info)
        if "generationConfig" in fields:
            self._generation_config(fields["generationConfig"], info)
        if "cachedContent" in fields:
            cc = fields["cachedContent"]
            if not isinstance(cc, str) or not cc.startswith("cachedContents/") or not cc.isprintable():
                report(
                    "bad-value",
                    f'"cachedContent" must be a cache name like "cachedContents/abc123", got {shown_value(cc, 60)}',
                )
            else:
                info.cached_content = cc
                info.flags |= FLAG_CACHED_CONTENT
        if "model" in fields:
            model = fields["model"]
            if isinstance(model, str) and model.strip() and model.isprintable():
                info.model = model.strip().removeprefix("models/")
            else:
                report(
                    "bad-value", f'"model" must be a model name like "gemini-2.5-flash", got {shown_value(model, 60)}'
                )
        return info

    def _unknown_top_level(self, name: str) -> None:
        gen = schema.GENERATION_CONFIG_FIELDS.get(name)
        if gen is not None:
            self.report(
                "misplaced-field",
                f'{quoted(name)} is a generationConfig field; move it under "generationConfig" '
                f"(the API rejects it at request level)",
            )
        elif name in ("config", "system", "messages"):
            hint = {
                "config": 'the SDK\'s "config" is not part of the REST request; use "generationConfig", '
                '"systemInstruction" and "tools" at request level',
                "system": 'use "systemInstruction": {"parts": [{"text": ...}]}',
                "messages": 'Gemini uses "contents": [{"role": "user", "parts": [{"text": ...}]}]',
            }[name]
            self.report("unknown-field", f"unknown request field {quoted(name)}: {hint}")
        else:
            self.report(
                "unknown-field",
                f"unknown request field {quoted(name)}{_nearest(name, schema.REQUEST_FIELDS)} "
                "(the API may reject it: remove or rename it)",
            )

    # -- contents -----------------------------------------------------------------------------
    def _contents(self, contents: list[Any], info: RequestInfo) -> None:
        report = self.report
        all_parts: list[dict[str, Any]] = []
        for i, content in enumerate(contents):
            if not isinstance(content, dict):
                if type(content) is list:
                    info.nkeys += count_names(content)
                report("content-invalid", f"contents[{i}] is a {type(content).__name__}, not an object")
                continue
            info.nkeys += len(content)
            role = None
            parts = None
            for name, value in content.items():
                canon = _content_field(name)
                if canon == "parts" and type(value) is list:
                    parts = value  # its parts are counted one by one below
                    continue
                if type(value) in _CONTAINERS:
                    info.nkeys += count_names(value)
                if canon == "role":
                    role = value
                elif canon == "parts":
                    parts = value
                else:
                    report(
                        "unknown-field",
                        f"unknown field {quoted(name)} in contents[{i}]{_nearest(name, schema.CONTENT_FIELDS)}",
                    )
            if role is not None and (not isinstance(role, str) or role not in schema.ROLES):
                fix = {
                    "system": 'put system text in "systemInstruction" instead',
                    "assistant": 'use "model"',
                    "function": 'function responses go in a "user" content',
                    "tool": 'function responses go in a "user" content',
                }.get(role if isinstance(role, str) else "", 'use "user" or "model"')
                report("role-unknown", f"contents[{i}] has role {shown_value(role)}; {fix}")
            if not isinstance(parts, list) or not parts:
                what = "no" if parts is None else ("empty" if isinstance(parts, list) else "non-list")
                report(
                    "parts-missing",
                    f'contents[{i}] has {what} "parts"; give at least one part like {{"text": ...}}',
                )
                continue
            for j, part in enumerate(parts):
                if self._part(part, f"contents[{i}].parts[{j}]", "contents", info):
                    all_parts.append(part)
        if len(all_parts) > 1 and self.hashes:
            # prefix = first part, then the rest but the last; chained so the first is hashed once
            info.first_hash = _parts_hash(all_parts[:1], 0, info.utf8_len)
            info.prefix_hash = _parts_hash(all_parts[1:-1], info.first_hash, info.utf8_len)
            info.prefix_chars = sum(len(p["text"]) for p in all_parts[:-1] if isinstance(p.get("text"), str))

    def part(self, part: Any, where: str, place: str, info: RequestInfo) -> bool:
        """Check one part at ``where`` and collect its text or media under ``place``; False when unusable."""
        return self._part(part, where, place, info)

    def _part(self, part: Any, where: str, place: str, info: RequestInfo) -> bool:
        report = self.report
        if not isinstance(part, dict):
            if type(part) is list:
                info.nkeys += count_names(part)
            report("part-invalid", f"{where} is a {type(part).__name__}, not an object")
            return False
        data: list[tuple[str, Any]] = []
        meta: dict[str, Any] = {}
        info.nkeys += len(part)
        for name, value in part.items():
            if type(value) in _CONTAINERS:
                info.nkeys += count_names(value)  # inline data, file data, calls: counted whole here
            canon = _part_data_field(name)
            if canon is not None:
                data.append((canon, value))
            elif (m := _part_meta_field(name)) is not None:
                meta[m] = value
            else:
                report(
                    "unknown-field",
                    f"unknown field {quoted(name)} in {where}{_nearest(name, schema.PART_DATA_FIELDS)}",
                )
        if not data:
            report(
                "part-no-data",
                f"{where} has no data field; give exactly one of text, inlineData, fileData, "
                "functionCall, functionResponse",
            )
            return False
        if len(data) > 1:
            names = " and ".join(n for n, _ in data)
            report("part-multiple-data", f"{where} has {names}; a part holds exactly one, so split it into parts")
            return False
        kind, value = data[0]
        texts = info.texts[place]
        if kind == "text":
            if isinstance(value, str):
                texts.append(value)
            else:
                report("part-invalid", f"{where}.text must be a string, got {type(value).__name__}")
                return False
        elif kind == "inlineData":
            self._inline(value, where, place, meta, info)
        elif kind == "fileData":
            self._file_data(value, where, place, meta, info)
        elif kind in ("functionCall", "functionResponse"):
            if not isinstance(value, dict):
                report("part-invalid", f"{where}.{kind} must be an object")
                return False
            name = value.get("name")
            if isinstance(name, str) and name:
                texts.append(name)
            payload = value.get("args" if kind == "functionCall" else "response")
            if isinstance(payload, dict):
                dict_texts(payload, texts)
        elif kind in ("executableCode", "codeExecutionResult") and isinstance(value, dict):
            text = value.get("code" if kind == "executableCode" else "output")
            if isinstance(text, str):
                texts.append(text)
        return True

    def _media_meta(self, media: MediaPart, meta: dict[str, Any], where: str, info: RequestInfo) -> None:
        res = meta.get("mediaResolution")
        if res is not None:
            level = res.get("level") if isinstance(res, dict) else res
            code = MEDIA_RESOLUTION_CODES.get(enum_name(level, "MEDIA_RESOLUTION_") or "")
            if code is None and level not in (None, "MEDIA_RESOLUTION_UNSPECIFIED"):
                self.report(
                    "bad-value",
                    f"{where}.mediaResolution {shown_value(level)} is not one of "
                    + ", ".join("MEDIA_RESOLUTION_" + r for r in schema.MEDIA_RESOLUTIONS),
                )
            media.resolution = -1 if code is None else code
        vm = meta.get("videoMetadata")
        if isinstance(vm, dict):
            fps = vm.get("fps")
            if isinstance(fps, int | float) and not isinstance(fps, bool) and fps > 0:
                media.fps = float(fps)
            start = _duration_s(vm.get("startOffset", vm.get("start_offset")))
            end = _duration_s(vm.get("endOffset", vm.get("end_offset")))
            if end is not None:
                media.clip_s = end - (start or 0.0)
        info.media.append(media)

    def _inline(self, blob: Any, where: str, place: str, meta: dict[str, Any], info: RequestInfo) -> None:
        report = self.report
        if not isinstance(blob, dict):
            report("part-invalid", f"{where}.inlineData must be an object with mimeType and data")
            return
        mime = blob.get("mimeType", blob.get("mime_type"))
        data = blob.get("data")
        if not isinstance(mime, str) or not mime:
            report(
                "inline-no-mime",
                f'{where}.inlineData has no "mimeType"; add the media type, e.g. "image/png"',
            )
            mime = ""
        if not isinstance(data, str) or not data:
            report("inline-bad-base64", f'{where}.inlineData has no "data"; give the bytes as base64')
            return
        raw = decode_base64(data)
        if raw is None:
            report(
                "inline-bad-base64",
                f"{where}.inlineData.data is not valid base64 ({plural(len(data), 'character')}); "
                "encode the file bytes with standard base64",
            )
            return
        media = MediaPart(media_kind(mime) if mime else "other", _safe_name(mime), "inline", place)
        media.nbytes = len(raw)
        if self.probe_media:
            facts = probe(mime, raw)
            media.width = facts.width if facts.width is not None else -1
            media.height = facts.height if facts.height is not None else -1
            media.pages = facts.pages if facts.pages is not None else -1
            media.duration_s = facts.duration_s if facts.duration_s is not None else -1.0
        self._media_meta(media, meta, where, info)

    def _file_data(self, fd: Any, where: str, place: str, meta: dict[str, Any], info: RequestInfo) -> None:
        if not isinstance(fd, dict):
            self.report("part-invalid", f"{where}.fileData must be an object with fileUri and mimeType")
            return
        uri = fd.get("fileUri", fd.get("file_uri"))
        if not isinstance(uri, str) or not uri:
            self.report(
                "filedata-no-uri",
                f'{where}.fileData has no "fileUri"; give the uploaded file\'s URI (files/... or gs://...)',
            )
            return
        mime = fd.get("mimeType", fd.get("mime_type"))
        if not isinstance(mime, str) or not mime:
            import mimetypes

            mime = mimetypes.guess_type(uri)[0] or ""
        media = MediaPart(media_kind(mime) if mime else "other", _safe_name(mime), "file", place)
        info.flags |= FLAG_FILE_DATA
        self._media_meta(media, meta, where, info)

    # -- system instruction -------------------------------------------------------------------
    def _system(self, si: Any, info: RequestInfo) -> None:
        report = self.report
        if isinstance(si, str):
            report(
                "bad-value",
                '"systemInstruction" is a string; the REST form is {"parts": [{"text": "..."}]}',
            )
            return
        if not isinstance(si, dict):
            if type(si) is list:
                info.nkeys += count_names(si)
            report("bad-value", f'"systemInstruction" must be a content object, got {type(si).__name__}')
            return
        parts = si.get("parts")
        info.nkeys += len(si)
        for value in si.values():
            if type(value) in _CONTAINERS and (value is not parts or type(parts) is not list):
                info.nkeys += count_names(value)  # the parts of a parts list are counted one by one below
        if not isinstance(parts, list) or not parts:
            report("parts-missing", '"systemInstruction" has no "parts"; give {"parts": [{"text": "..."}]}')
            return
        good = [p for j, p in enumerate(parts) if self._part(p, f"systemInstruction.parts[{j}]", "system", info)]
        if good:
            info.flags |= FLAG_SYSTEM
            info.system_hash = _parts_hash(good, 0, info.utf8_len) if self.hashes else 0

    # -- tools ----------------------------------------------------------------------------------
    def _tools(self, tools: Any, info: RequestInfo) -> None:
        report = self.report
        if type(tools) in _CONTAINERS:
            info.nkeys += count_names(tools)  # counted whole: the texts below are gathered without counting
        if not isinstance(tools, list):
            report("bad-value", f'"tools" must be a list of tool objects, got {type(tools).__name__}')
            return
        texts = info.texts["tools"]
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                report("bad-value", f"tools[{i}] must be an object")
                continue
            for name, value in tool.items():
                canon = schema.TOOL_FIELDS.get(name)
                if canon is None:
                    report(
                        "unknown-field",
                        f"unknown tool {quoted(name)} in tools[{i}]{_nearest(name, schema.TOOL_FIELDS)}",
                    )
                elif canon == "functionDeclarations":
                    if isinstance(value, list):
                        info.flags |= FLAG_TOOLS
                        for fd in value:
                            if isinstance(fd, dict):
                                declaration_texts(fd, texts)
                    else:
                        report("bad-value", f"tools[{i}].{name} must be a list of function declarations")
                elif canon in ("googleSearch", "googleSearchRetrieval"):
                    info.flags |= FLAG_GOOGLE_SEARCH
                elif canon == "codeExecution":
                    info.flags |= FLAG_CODE_EXECUTION
                elif canon == "urlContext":
                    info.flags |= FLAG_URL_CONTEXT
                elif canon == "googleMaps":
                    info.flags |= FLAG_OTHER_TOOL | FLAG_GOOGLE_MAPS
                else:
                    info.flags |= FLAG_OTHER_TOOL

    # -- generation config ----------------------------------------------------------------------
    def _generation_config(self, gc: Any, info: RequestInfo) -> None:
        report = self.report
        if not isinstance(gc, dict):
            if type(gc) is list:
                info.nkeys += count_names(gc)
            report("bad-value", f'"generationConfig" must be an object, got {type(gc).__name__}')
            return
        info.nkeys += len(gc)
        for name, value in gc.items():
            canon = _generation_config_field(name)
            if canon != "thinkingConfig" and type(value) in _CONTAINERS:
                info.nkeys += count_names(value)  # before the schema walks below: this checks the nesting
            if canon is None:
                if schema.REQUEST_FIELDS.get(name) == "cachedContent":
                    report(
                        "misplaced-field",
                        f'{quoted(name)} is inside "generationConfig"; move it to the request level '
                        '(the API rejects it there: "Unknown name cached_content")',
                    )
                elif schema.REQUEST_FIELDS.get(name) is not None:
                    report("misplaced-field", f'{quoted(name)} is a request field; move it out of "generationConfig"')
                else:
                    report(
                        "unknown-field",
                        f"unknown generationConfig field {quoted(name)}"
                        f"{_nearest(name, schema.GENERATION_CONFIG_FIELDS)}",
                    )
            elif canon == "maxOutputTokens":
                n = as_int(value)
                if n is None or n < 1 or n > INT32_MAX:
                    report("bad-value", f"maxOutputTokens must be a positive 32-bit integer, got {shown_value(value)}")
                else:
                    info.max_output_tokens = n
            elif canon == "candidateCount":
                n = as_int(value)
                if n is None or n < 1 or n > INT32_MAX:
                    report("bad-value", f"candidateCount must be a positive integer, got {shown_value(value)}")
                else:
                    info.candidate_count = n
            elif canon == "thinkingConfig":
                self._thinking(value, info)
            elif canon in ("responseSchema", "responseJsonSchema"):
                info.flags |= FLAG_RESPONSE_SCHEMA
                if isinstance(value, dict):
                    if canon == "responseSchema":
                        schema_texts(value, info.texts["tools"])
                    else:
                        dict_texts(value, info.texts["tools"])
            elif canon in ("responseModalities", "imageConfig"):  # what the model is asked to produce
                info.flags |= output_flags(canon, value, report)
            elif canon == "mediaResolution":
                code = MEDIA_RESOLUTION_CODES.get(enum_name(value, "MEDIA_RESOLUTION_") or "")
                if code is None and value != "MEDIA_RESOLUTION_UNSPECIFIED":
                    report("bad-value", f"generationConfig.mediaResolution {shown_value(value)} is not a known level")
                else:
                    info.media_resolution = -1 if code is None else code

    def _thinking(self, tc: Any, info: RequestInfo) -> None:
        report = self.report
        if not isinstance(tc, dict):
            if type(tc) is list:
                info.nkeys += count_names(tc)
            report("bad-value", f'"thinkingConfig" must be an object, got {type(tc).__name__}')
            return
        info.nkeys += len(tc)
        given = set()
        for name, value in tc.items():
            if type(value) in _CONTAINERS:
                info.nkeys += count_names(value)
            canon = schema.THINKING_CONFIG_FIELDS.get(name)
            if canon == "thinkingBudget":
                n = as_int(value)
                if n is None or n < -1 or n > INT32_MAX:
                    report(
                        "bad-value",
                        f"thinkingBudget must be a 32-bit integer (-1 automatic, 0 off), got {shown_value(value)}",
                    )
                else:
                    info.thinking_budget = n
                    given.add(canon)
            elif canon == "thinkingLevel":
                level = enum_name(value, "THINKING_LEVEL_")
                code = THINKING_LEVEL_CODES.get(level or "")
                if code is None and level != "UNSPECIFIED":
                    report(
                        "bad-value",
                        f"thinkingLevel {shown_value(value)} is not one of {', '.join(schema.THINKING_LEVELS)}",
                    )
                elif code is not None:
                    info.thinking_level = code
                    given.add(canon)
            elif canon == "includeThoughts":
                if value is True:
                    info.flags |= FLAG_INCLUDE_THOUGHTS
            else:
                report(
                    "unknown-field",
                    f"unknown thinkingConfig field {quoted(name)}{_nearest(name, schema.THINKING_CONFIG_FIELDS)}",
                )
        if len(given) == 2:
            report(
                "thinking-both",
                "thinkingConfig has both thinkingBudget and thinkingLevel; Gemini 3 and later models "
                "reject that (400): keep one",
            )


def _duration_s(value: Any) -> float | None:
    """proto3 JSON Duration ("1.5s") or a bare number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return None
    return None


def request_texts(req: dict[str, Any]) -> dict[str, list[str]]:
    """The countable texts of a request by place (``system``, ``contents``, ``tools``).

    These are exactly the texts whose characters the scan counts, so tokens per character
    measured on them apply to the scan's character totals.
    """
    return Walker(lambda code, msg: None, probe_media=False, hashes=False).walk(req).texts
