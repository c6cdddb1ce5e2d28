"""Checking a batch file's lines: each line's problems and its figures, packed as a row.

A :class:`RangeScanner` checks the lines of one range of one file and fills a
:class:`~.scan_partial.Partial`; :func:`scan_lines` hands it a block of whole lines at a time.
Lines of the common shapes are decoded typed and read straight into their rows
(:mod:`.fast_request`); every other line is decoded as plain JSON and walked
(:class:`~.request.Walker`), which reports what is wrong. A name given twice in one object is
found by counting colons (:mod:`.names`).
"""

from __future__ import annotations

import itertools
import re
import zlib
from typing import Any

from ..errors import InputError
from .fast_request import FastLines
from .lines import MAX_LINE_BYTES
from .media import MEDIA_KINDS
from .names import name_colons, repeated_names
from .problems import KINDS, escaped, quoted
from .request import MAX_NESTING, PLACES, UNSET, NestingTooDeep, Walker, count_names
from .sampling import file_key, offer, offer_many, priority
from .scan_partial import ROW_RECORD, Partial
from .text_classes import CLASS_MIN_CHARS, ClassCounter

# A line shorter than this with an error (a blank line, "{}", "0") cannot be a near-miss request, and
# each still costs a row of figures (about 90 bytes) kept until the scan ends. Past this many of them
# the scan stops: a file of them, or a gzip that inflates to gigabytes of newlines, would otherwise
# take memory and disk by the gigabyte and minutes of work before saying the obvious.
JUNK_LINE_BYTES = 16
MAX_JUNK_LINES = 1_000_000
# Lines checked as one block at most (see scan_lines).
_BLOCK_LINES = 65_536
_I32 = 2**31 - 1
_U32 = 2**32 - 1
_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
_CONTAINERS = (dict, list)

# What a scan gathers besides the problems (RangeScanner's ``gather``): "checks", only what the
# checks need (the rows' UTF-8 bytes and text hashes are left 0); "rows", every row figure;
# "classes", the rows and the byte classes of long requests (text_classes).
GATHER = ("checks", "rows", "classes")

# The value of RangeScanner._parse for a line that is not JSON (``None`` is the JSON value null).
_BAD: Any = object()


def junk_error(path: str) -> InputError:
    """What the user is told when a file's scan stopped on :data:`MAX_JUNK_LINES` junk lines."""
    return InputError(
        path,
        f"more than {MAX_JUNK_LINES:,} lines are blank or too short to be requests (under {JUNK_LINE_BYTES} "
        "bytes); this does not look like a batch file, so the check stopped: remove those lines "
        "(e.g. `grep -v '^[[:space:]]*$'`) or give the right file",
    )


class RangeScanner:
    """Checks lines one by one and fills a :class:`~.scan_partial.Partial`."""

    def __init__(self, form: str, file_index: int, seed: int, sample_size: int, keep: int,
                 owner: int | None = None, gather: str = "rows", fast: bool = True, path: str = "") -> None:  # fmt: skip
        import msgspec

        if gather not in GATHER:
            raise ValueError(f"gather must be one of {GATHER}, not {gather!r}")
        # the typed decode of the common request shapes (fast_request), or None to walk every line
        self.fast = (
            FastLines(form, checks_only=gather == "checks", long_bytes_later=gather == "classes") if fast else None
        )
        self._line_names = 2 if form == "developer" else 1  # "key" and "request", or "request"

        # byte-class counts of long requests (text_classes), or None
        self.classes = ClassCounter() if gather == "classes" else None
        self.decode = msgspec.json.Decoder().decode
        self.decode_error = (msgspec.DecodeError, msgspec.ValidationError)
        self.form = form
        self.file_index = file_index
        self.seed_mix = file_key(seed, file_index)
        self.k = sample_size
        self.p = Partial(keep, owner)
        self._line = 0
        self._model_ids: dict[str, int] = {"": 0}
        self._mime_ids: dict[str, int] = {"": 0}
        self._cache_ids: dict[str, int] = {"": 0}
        self.walker = Walker(self._report)
        self._pack = ROW_RECORD.pack
        self._junk = 0  # lines with errors shorter than JUNK_LINE_BYTES
        self.path = path  # the file, for the one error that stops the scan

    def _report(self, code: str, message: str) -> None:
        p = self.p
        n = p.counts.get(code, 0)
        p.counts[code] = n + 1
        if n < p.keep:
            p.problems.append((self._line, code, message))
        if KINDS[code][0].value == "error":
            self._line_error = True

    def _empty_row(self, offset: int, nbytes: int) -> None:
        if nbytes < JUNK_LINE_BYTES:
            self._junk += 1
            if self._junk > MAX_JUNK_LINES:
                raise junk_error(self.path)
        # a line over 4 GiB is unusable anyway (line-too-long): clamp it into the u4 column
        self.p.records += self._pack(
            self.file_index, offset, min(nbytes, _U32), 0, 0, 0, 0, 0, 0, UNSET, UNSET, -1, 1, -1, 0, 0, 0, 0, 0, 0,
            0, 0,
        )  # fmt: skip
        self.p.n_rows += 1
        self.p.flush_if_full()

    def long_line(self, offset: int, nbytes: int) -> None:
        """A line over :data:`MAX_LINE_BYTES` that was skipped without being read into memory."""
        self.p.lines += 1
        self._line = self.p.lines
        self._line_error = False
        self._too_long(nbytes)
        self._empty_row(offset, nbytes)

    def broken_stream(self, code: str, message: str) -> None:
        """A problem on a line of its own after the last one read: the stream broke off there."""
        self.p.lines += 1
        self._line = self.p.lines
        self._report(code, message)

    def _too_long(self, nbytes: int) -> None:
        self._report(
            "line-too-long",
            f"line is {nbytes / 2**20:,.0f} MiB, over the {MAX_LINE_BYTES // 2**20} MiB line limit, so it is "
            "not checked; is this really a JSONL batch file? Large media belongs in fileData references",
        )

    def line(self, raw: Any, offset: int, last: bool, colons: int = -1) -> None:
        """Check one line (``raw`` is a bytes-like without its newline).

        ``colons`` is the number of colons in the line that end a name (see :func:`name_colons`);
        ``-1`` means not counted, and the line is then parsed again to look for repeated names.
        """
        n = len(raw)
        self.block(raw, 0, [n], [colons], offset, n if last else -1)

    def walk_line(self, raw: Any, offset: int, last: bool, colons: int = -1) -> None:
        """Check one line by decoding it as plain JSON and walking it (:meth:`line` without the typed decode)."""
        self.p.lines += 1
        self._line = self.p.lines
        self._line_error = False
        nbytes = len(raw)
        row_index = self.p.n_rows
        if nbytes and raw[-1] == 13:  # CR of a CRLF line end: JSON whitespace, accepted
            raw = raw[:-1]
        if raw[:3] == b"\xef\xbb\xbf":
            self._report("bom", "line starts with a UTF-8 byte-order mark; save the file as UTF-8 without BOM")
            raw = raw[3:]
            self._line_error = False  # the request itself may still be fine to count
        obj = self._parse(raw, nbytes, last)
        if obj is _BAD:
            self._empty_row(offset, nbytes)
            return
        request = self._line_object(obj)
        if request is None:
            self._empty_row(offset, nbytes)
            return
        try:
            names = len(obj)
            if names > 1 and not (names == 2 and type(obj.get("key")) is str):  # usual: key and request
                for name, value in obj.items():
                    if name != "request" and type(value) in _CONTAINERS:
                        names += count_names(value)
            info = self.walker.walk(request)
        except (NestingTooDeep, RecursionError):
            self._too_deep()
            self._empty_row(offset, nbytes)
            return
        if names + info.nkeys != colons:
            self._repeated_names(raw)
        usable = not self._line_error
        texts = info.texts
        system, contents, tools = texts["system"], texts["contents"], texts["tools"]
        system_chars = sum(map(len, system)) if system else 0
        contents_chars = sum(map(len, contents))
        tools_chars = sum(map(len, tools)) if tools else 0
        if self.classes is not None and usable and system_chars + contents_chars + tools_chars >= CLASS_MIN_CHARS:
            counts, tb = self.classes.counts(itertools.chain(system, contents, tools))
            self.p.classes.append(row_index)
            self.p.classes.extend(counts)
        else:
            tb = 0
            known = info.utf8_len
            for group in (system, contents, tools):
                for t in group:
                    # UTF-8 bytes tell the script (1 ASCII, 2 Cyrillic..., 3 CJK) and bound the tokens
                    if t.isascii():
                        tb += len(t)
                    else:
                        n = known.get(id(t))
                        tb += utf8_len(t) if n is None else n
        self.p.records += self._pack(
            self.file_index,
            offset,
            nbytes,
            1 if usable else 0,
            system_chars,
            contents_chars,
            tools_chars,
            tb,
            len(info.media),
            info.max_output_tokens,
            info.thinking_budget,
            info.thinking_level,
            min(info.candidate_count, 65535),
            info.media_resolution,
            info.flags,
            info.system_hash,
            info.first_hash,
            info.prefix_hash,
            info.prefix_chars,
            self._key_hash,
            self._intern(self._model_ids, self.p.models, info.model) if info.model else 0,
            self._intern(self._cache_ids, self.p.caches, info.cached_content) if info.cached_content else 0,
        )
        self.p.n_rows += 1  # records are moved to the spill file once a block (see scan_lines)
        if info.media:
            m = self.p.media
            for part in info.media:
                m["row"].append(row_index)
                m["kind"].append(MEDIA_KINDS.index(part.kind))
                m["mime"].append(self._intern(self._mime_ids, self.p.mimes, part.mime))
                m["inline"].append(1 if part.source == "inline" else 0)
                m["place"].append(PLACES.index(part.place))
                m["nbytes"].append(part.nbytes)
                # header fields are untrusted 32-bit unsigned values: keep them in the int32 columns
                m["width"].append(min(part.width, _I32))
                m["height"].append(min(part.height, _I32))
                m["pages"].append(min(part.pages, _I32))
                m["duration_s"].append(part.duration_s)
                m["resolution"].append(part.resolution)
                m["fps"].append(part.fps)
                m["clip_s"].append(part.clip_s)
        if usable and self.k:
            offer(self.p.sample, self.k, priority(self.seed_mix, offset), row_index)

    def block(self, mv: Any, pos: int, stops: list[int], colons: list[int], base: int, last_stop: int) -> None:
        """Check a block of lines: line ``i`` ends at ``stops[i]`` (the first starts at ``pos``).

        ``colons`` are :func:`name_colons`'s counts (-1: not counted); ``base`` is added to positions to give
        file offsets; ``last_stop`` is the stop of the file's last line if this block holds it, else -1.
        The loop over the lines of the common shapes is written out here, with its names bound
        once, because it runs for every line of the file; a line the typed decode declines is
        walked (:meth:`walk_line`).
        """
        fast = self.fast
        if fast is None:
            for i, stop in enumerate(stops):
                self.walk_line(mv[pos:stop], base + pos, stop == last_stop, colons[i])
                pos = stop + 1
            return
        p = self.p
        decode, errors, figures_of = fast.decode, fast.errors, fast.figures
        records = p.records  # += on it extends it in place (the slow path's too)
        pack = self._pack
        crc32, adler32 = zlib.crc32, zlib.adler32
        keyed = fast.keyed
        line_names = self._line_names
        fi = self.file_index
        classes = self.classes
        k = self.k
        n_rows = p.n_rows
        lines = p.lines
        # the sample's candidates of this block, hashed together at its end (a call per line costs more)
        sample_offsets: list[int] = []
        sample_rows: list[int] = []
        for i, stop in enumerate(stops):
            raw = mv[pos:stop]
            figures = None
            if colons[i] >= 0 and stop - pos <= MAX_LINE_BYTES:
                try:
                    typed = decode(raw)
                    figures = figures_of(typed.request, colons[i] - line_names)
                except errors:
                    pass
            if figures is None:
                p.lines, p.n_rows = lines, n_rows
                self.walk_line(raw, base + pos, stop == last_stop, colons[i])
                lines, n_rows = p.lines, p.n_rows
                pos = stop + 1
                continue
            lines += 1
            (system_chars, chars, tools_chars, tb, max_out, budget, level, count, mres, flags, sh, fh, ph, pc, model,
             system, texts, tools) = figures  # fmt: skip
            if keyed:
                kb = typed.key.encode("utf-8", "surrogatepass")
                key_hash = (crc32(kb) << 32 | adler32(kb)) or 1
            else:
                key_hash = 0
            if classes is not None and system_chars + chars + tools_chars >= CLASS_MIN_CHARS:
                got, nbytes = classes.counts(itertools.chain(system, texts, tools))
                p.classes.append(n_rows)
                p.classes.extend(got)
                if tb < 0:  # left to the byte-class count (FastLines.long_bytes_later)
                    tb = nbytes
            records += pack(
                fi, base + pos, stop - pos, 1, system_chars, chars, tools_chars, tb, 0, max_out, budget, level,
                count if count < 65535 else 65535, mres, flags, sh, fh, ph, pc, key_hash,
                self._intern(self._model_ids, p.models, model) if model else 0, 0,
            )  # fmt: skip
            if k:
                sample_offsets.append(base + pos)
                sample_rows.append(n_rows)
            n_rows += 1
            pos = stop + 1
        p.lines, p.n_rows = lines, n_rows
        if sample_offsets:
            offer_many(p.sample, k, self.seed_mix, sample_offsets, sample_rows)

    @staticmethod
    def _intern(ids: dict[str, int], table: list[str], value: str) -> int:
        i = ids.get(value)
        if i is None:
            i = ids[value] = len(table)
            table.append(value)
        return i

    def _too_deep(self) -> None:
        self._report(
            "nesting-too-deep",
            f"objects and arrays are nested more than {MAX_NESTING} levels deep, too deep to check; "
            "flatten the structure (no real request needs that many levels)",
        )

    def _repeated_names(self, raw: Any) -> None:
        for where, name in repeated_names(raw)[:3]:
            place = "the line's object" if not where else escaped(where, 120)
            self._report(
                "duplicate-name",
                f"{quoted(name)} appears more than once in {place}; remove the repeat (the API rejects "
                "a repeated name or keeps only one of its values, and which one is not documented)",
            )

    def _parse(self, raw: Any, nbytes: int, last: bool) -> Any:
        if nbytes > MAX_LINE_BYTES:
            self._too_long(nbytes)
            return _BAD
        try:
            return self.decode(raw)
        except RecursionError:
            self._too_deep()
            return _BAD
        except (UnicodeDecodeError, *self.decode_error) as e:
            msg = str(e)  # keep only the text: the exception would pin the mmap slice
        if not raw or (not bytes(raw[:64]).strip() and not bytes(raw).strip()):  # checked only when it failed
            self._report("blank-line", "blank line; remove it (every line must be one request)")
            return _BAD
        # Invalid UTF-8 is the root cause whenever present, whatever the JSON parser tripped on.
        try:
            bytes(raw).decode("utf-8")
        except UnicodeDecodeError as e:
            self._report("not-utf8", f"not valid UTF-8 (byte {e.start + 1} of the line); re-encode the file as UTF-8")
            return _BAD
        if last and "truncated" in msg:
            self._report(
                "truncated",
                "last line ends in the middle of a JSON value and has no newline: the file looks "
                "cut off; re-export or re-download it",
            )
        elif "truncated" in msg and _SURROGATE.search(bytes(raw)):
            self._report(
                "not-json",
                "contains an unpaired UTF-16 surrogate escape (\\ud800-\\udfff); the API rejects "
                "it: fix the text's encoding",
            )
        else:
            self._report(
                "not-json", f"not valid JSON: {escaped(_short_json_error(msg), 200)}; each line must be one JSON object"
            )
        return _BAD

    def _line_object(self, obj: Any) -> dict[str, Any] | None:
        """Check the line's own fields; return its request object or None."""
        self._key_hash = 0
        if not isinstance(obj, dict):
            self._report(
                "not-object",
                f"line is {_a('JSON ' + _json_type(obj))}, not an object; each line must be "
                '{"key": ..., "request": {...}}',
            )
            return None
        if "custom_id" in obj and isinstance(obj.get("params"), dict) and "request" not in obj:
            self._report(
                "anthropic-format",
                "Anthropic Message Batches line (custom_id/params); Gemini wants "
                '{"key": <custom_id>, "request": {"contents": [{"role": "user", "parts": [{"text": ...}]}]}}: '
                "move params.messages into contents (assistant -> model), params.system into systemInstruction "
                "and max_tokens into generationConfig.maxOutputTokens",
            )
            return None
        if "custom_id" in obj or ({"method", "url", "body"} <= obj.keys() and "request" not in obj):
            self._report(
                "openai-format",
                "OpenAI batch line (custom_id/method/url/body); Gemini wants "
                '{"key": <custom_id>, "request": {"contents": [{"role": "user", "parts": [{"text": ...}]}]}}: '
                "move messages into contents (assistant -> model) and system messages into systemInstruction",
            )
            return None
        if self.form == "developer":
            if "key" not in obj:
                self._report(
                    "key-missing",
                    'no "key"; every line needs a unique "key" string (results are matched to requests by key)',
                )
            else:
                key = obj["key"]
                if not isinstance(key, str):
                    example = f', e.g. "{key}"' if type(key) in (int, float) else ""
                    self._report("key-not-string", f'"key" is {_a(_json_type(key))}; make it a string{example}')
                elif not key:
                    self._report("key-empty", '"key" is empty; give every line a unique non-empty key')
                else:
                    # A cheap 64-bit hash: equal hashes are confirmed against the real keys after the scan.
                    kb = key.encode("utf-8", "surrogatepass")
                    self._key_hash = (zlib.crc32(kb) << 32 | zlib.adler32(kb)) or 1
            for name in obj if len(obj) > 2 or "key" not in obj else ():  # usual: only key and request
                if name not in ("key", "request") and "request" in obj:
                    self._report(
                        "unknown-field",
                        f'unknown line field {quoted(name)}; a line holds only "key" and "request" (move '
                        "request settings inside request)",
                    )
        elif "response" in obj and "request" in obj:
            # A Vertex results line echoes its request: estimated, it is a job that already ran.
            self._report(
                "results-line",
                'line holds a "response" beside its request: this looks like a Vertex job\'s results file, whose '
                "requests have run; give the batch input file (`batchcost reconcile` prices results)",
            )
        request = obj.get("request")
        if request is None:
            if "contents" in obj:
                hint = ' (found "contents" at line level: wrap it as {"request": {"contents": ...}})'
            elif "response" in obj or "error" in obj or "status" in obj:
                hint = (
                    " but a response or error: this looks like a job's results file; give the batch input file "
                    "(`batchcost reconcile` prices results)"
                )
            else:
                hint = ""
            self._report("request-missing", f'no "request" object{hint}')
            return None
        if not isinstance(request, dict):
            self._report("request-not-object", f'"request" is {_a(_json_type(request))}; it must be an object')
            return None
        return request


def utf8_len(text: str, chunk: int = 1 << 20) -> int:
    """UTF-8 length of ``text``; a long text is encoded a slice at a time, not copied whole."""
    if len(text) <= chunk:
        return len(text.encode("utf-8", "surrogatepass"))
    return sum(len(text[i : i + chunk].encode("utf-8", "surrogatepass")) for i in range(0, len(text), chunk))


def scan_lines(sc: RangeScanner, buf: Any, mv: memoryview, lo: int, hi: int, base: int, at_end: bool) -> None:
    """Check the lines of ``buf[lo:hi]``: ``hi`` is just after a newline, or the end of the data.

    ``base`` is added to positions to give file offsets (a gzip block's place in the data);
    ``at_end`` says whether ``hi`` is the end of the file.
    """
    check = sc.line
    find = buf.find
    if hi - lo > MAX_LINE_BYTES and (nl := find(b"\n", lo, hi)) in (-1, hi - 1):
        # one line too long to check: its bytes need not be looked at
        check(mv[lo : hi - 1 if nl >= 0 else hi], base + lo, nl < 0 and at_end)
        if nl < 0:
            sc.p.last_line_no_newline = True
        return
    last_stop = hi if at_end else -1
    pos = lo
    while pos < hi:
        # at most _BLOCK_LINES lines at a time: a block of tiny lines (a file of newlines) would
        # otherwise make lists of a Python int per line for megabytes of them before checking one
        start = pos
        stops = []
        while pos < hi and len(stops) < _BLOCK_LINES:
            nl = find(b"\n", pos, hi)
            if nl < 0:
                stops.append(hi)
                pos = hi
                break
            stops.append(nl)
            pos = nl + 1
        sc.block(mv, start, stops, name_colons(buf, start, pos, stops), base, last_stop)
        if stops[-1] == hi:
            sc.p.last_line_no_newline = True
        sc.p.flush_if_full()  # once a block: a block adds at most ~20 bytes of records per byte of lines


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _json_type(v: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(v), "null")


def _short_json_error(msg: str) -> str:
    return msg.removeprefix("JSON is malformed: ")
