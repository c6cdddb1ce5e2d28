"""One streaming pass over batch input files: check every line, keep per-request figures.

Plain files are read through ``mmap`` and, when large, split at newlines into one range per core,
each scanned in its own process; gzip files are streamed in one process, a block of lines at a time,
so memory never holds more than one block and one line (see :data:`MAX_LINE_BYTES`). Each range
produces a :class:`_Partial` (array columns, at most ``keep`` problems per kind with exact counts, a
bottom-k sample); partials are merged in file order, which fixes up line numbers and row indices.
Checks that need the whole file (duplicate keys, mixed models, size limits) run on the merged columns.

Sampling is bottom-k on a keyed hash of each line's position: every usable request gets a
pseudo-random priority from ``(seed, file, byte offset)`` and the ``k`` smallest are kept. That is a
uniform sample without replacement, and it is the same whichever way the file was split.

A name repeated inside one JSON object (``{"key": "a", "key": "b"}``) is lost by the decoder, which
keeps the last value. Finding it costs next to nothing: the number of ``":`` that end a name in the
line's bytes (counted for a whole block at once with numpy) must equal the number of names the walk
decoded; only a line where the two differ, or whose bytes defeat the count (a space before a colon,
an escaped backslash before a quote), is parsed again with a parser that sees every name.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import gzip
import heapq
import itertools
import json
import mmap
import os
import re
import signal
import struct
import tempfile
import threading
import traceback
import zlib
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .lines import MAX_LINE_BYTES, LineFiller, detect_form, is_gzip, open_check, stream_blocks
from .media import MEDIA_KINDS
from .problems import KINDS, Problem, escaped, quoted
from .request import MAX_NESTING, PLACES, UNSET, NestingTooDeep, Walker, count_names
from .result import MEDIA_COLUMNS, ROW_COLUMNS, FileInfo, ScanResult, file_sha256

# Lines this large are checked one at a time across worker processes, so that two workers never
# hold two of them at once.
_BIG_LINE_BYTES = 16 * 1024 * 1024
# Files at least this large are split across processes.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
_PROGRESS_STEP = 8 * 1024 * 1024
# Lines are scanned in blocks of about this many bytes (the repeated-name count and gzip reads).
_BLOCK = 8 * 1024 * 1024
# A range's packed row records move to a temporary file whenever they reach this size.
_SPILL_BYTES = 32 * 1024 * 1024
_MASK = (1 << 64) - 1
_I32 = 2**31 - 1
_U32 = 2**32 - 1
_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
_CONTAINERS = (dict, list)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class FileLimits:
    """Per-job input limits checked on each file.

    Defaults: Developer API input file "maximum allowed file size ... is 2GB" (the batch doc, read as
    2,000,000,000 bytes, the stricter reading); no documented request-count limit. Vertex batch:
    1 GB file and 200,000 requests per job (the Vertex batch doc). Sources: the Gemini API and Vertex AI batch pages.
    """

    developer_max_bytes: int = 2_000_000_000
    vertex_max_bytes: int = 1_000_000_000
    vertex_max_requests: int = 200_000


# One line's row columns packed in ROW_COLUMNS order (little-endian, no padding).
_STRUCT_CODES = {"u1": "B", "i1": "b", "u2": "H", "i2": "h", "u4": "I", "i4": "i", "u8": "Q", "i8": "q"}
ROW_RECORD = struct.Struct("<" + "".join(_STRUCT_CODES[spec[1]] for spec in ROW_COLUMNS.values()))


@functools.cache
def _record_dtype() -> Any:
    import numpy as np

    return np.dtype([(name, "<" + spec[1]) for name, spec in ROW_COLUMNS.items()])


def _splitmix(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


class _Partial:
    """Results of scanning one range of one file (picklable).

    Row records go to a temporary file (``spill``) in chunks once they grow large, so a range of
    millions of short lines never holds them all in memory; the file holds the records in row order,
    then (written by :func:`_spill` at the end) the media columns one after another.
    """

    def __init__(self, keep: int, owner: int | None = None) -> None:
        self.keep = keep
        self.records = bytearray()  # one packed ROW_RECORD per line (one call per line, not 22 appends)
        self.media = {name: array(spec[0]) for name, spec in MEDIA_COLUMNS.items()}
        self.problems: list[tuple[int, str, str]] = []  # (local line, code, message)
        self.counts: dict[str, int] = {}
        self.sample: list[tuple[int, int]] = []  # heap of (-priority, local row)
        self.models: list[str] = [""]
        self.mimes: list[str] = [""]
        self.caches: list[str] = [""]
        self.lines = 0
        self.last_line_no_newline = False
        self.spill: str | None = None  # records (and at the end media columns) moved to this file
        self.spilled_rows = 0  # rows already in the spill file
        self.media_spilled = False
        self.n_rows = 0
        self.n_media = 0
        # the scanning process: leftovers of an interrupted scan are found by this id in the name
        self.owner = os.getpid() if owner is None else owner

    def flush_records(self) -> None:
        """Append the records held in memory to the spill file (created on first use)."""
        if not self.records:
            return
        if self.spill is None:
            fd, self.spill = tempfile.mkstemp(prefix=f"batchcost-scan-{self.owner}-", suffix=".columns")
            os.close(fd)
        with open(self.spill, "ab") as fh:
            fh.write(self.records)
        self.spilled_rows += len(self.records) // ROW_RECORD.size
        self.records = bytearray()

    def remove_spill(self) -> None:
        if self.spill is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.spill)
            self.spill = None


# The value of _RangeScanner._parse for a line that is not JSON (``None`` is the JSON value null).
_BAD: Any = object()


class _RangeScanner:
    """Checks lines one by one and fills a :class:`_Partial`."""

    def __init__(self, form: str, file_index: int, seed: int, sample_size: int, keep: int,
                 owner: int | None = None) -> None:  # fmt: skip
        import msgspec

        self.decode = msgspec.json.Decoder().decode
        self.decode_error = (msgspec.DecodeError, msgspec.ValidationError)
        self.form = form
        self.file_index = file_index
        self.seed_mix = _splitmix(seed ^ (file_index << 48))
        self.k = sample_size
        self.p = _Partial(keep, owner)
        self._line = 0
        self._model_ids: dict[str, int] = {"": 0}
        self._mime_ids: dict[str, int] = {"": 0}
        self._cache_ids: dict[str, int] = {"": 0}
        self.walker = Walker(self._report)
        self._pack = ROW_RECORD.pack

    def _report(self, code: str, message: str) -> None:
        p = self.p
        n = p.counts.get(code, 0)
        p.counts[code] = n + 1
        if n < p.keep:
            p.problems.append((self._line, code, message))
        if KINDS[code][0].value == "error":
            self._line_error = True

    def _empty_row(self, offset: int, nbytes: int) -> None:
        # a line over 4 GiB is unusable anyway (line-too-long): clamp it into the u4 column
        self.p.records += self._pack(
            self.file_index, offset, min(nbytes, _U32), 0, 0, 0, 0, 0, 0, UNSET, UNSET, -1, 1, -1, 0, 0, 0, 0, 0, 0,
            0, 0,
        )  # fmt: skip
        self.p.n_rows += 1
        if len(self.p.records) >= _SPILL_BYTES:
            self.p.flush_records()

    def long_line(self, offset: int, nbytes: int) -> None:
        """A line over :data:`MAX_LINE_BYTES` that was skipped without being read into memory."""
        self.p.lines += 1
        self._line = self.p.lines
        self._line_error = False
        self._too_long(nbytes)
        self._empty_row(offset, nbytes)

    def _too_long(self, nbytes: int) -> None:
        self._report(
            "line-too-long",
            f"line is {nbytes / 2**20:,.0f} MiB, over the {MAX_LINE_BYTES // 2**20} MiB line limit, so it is "
            "not checked; is this really a JSONL batch file? Large media belongs in fileData references",
        )

    def line(self, raw: Any, offset: int, last: bool, colons: int = -1, irregular: bool = True) -> None:
        """Check one line (``raw`` is a bytes-like without its newline).

        ``colons`` is the number of ``":`` in the line that end a name, ``irregular`` whether the
        line has a colon that count cannot judge (see :func:`_name_colons`); ``-1`` means not counted,
        and the line is then parsed again to look for repeated names.
        """
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
        if irregular or names + info.nkeys != colons:
            self._repeated_names(raw)
        usable = not self._line_error
        texts = info.texts
        system, contents, tools = texts["system"], texts["contents"], texts["tools"]
        tb = 0
        known = info.utf8_len
        for group in (system, contents, tools):
            for t in group:
                # UTF-8 bytes tell the script (1 ASCII, 2 Cyrillic..., 3 CJK) and bound the tokens
                if t.isascii():
                    tb += len(t)
                else:
                    n = known.get(id(t))
                    if n is None:
                        n = len(t.encode("utf-8", "surrogatepass")) if len(t) <= 1 << 20 else _utf8_len(t)
                    tb += n
        self.p.records += self._pack(
            self.file_index,
            offset,
            nbytes,
            1 if usable else 0,
            sum(map(len, system)) if system else 0,
            sum(map(len, contents)),
            sum(map(len, tools)) if tools else 0,
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
        self.p.n_rows += 1  # records are moved to the spill file once a block (see _scan_lines)
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
            prio = _splitmix(self.seed_mix ^ offset)
            heap = self.p.sample
            if len(heap) < self.k:
                heapq.heappush(heap, (-prio, row_index))
            elif prio < -heap[0][0]:
                heapq.heapreplace(heap, (-prio, row_index))

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
        for where, name in _repeated_names(raw)[:3]:
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
        request = obj.get("request")
        if request is None:
            hint = (
                ' (found "contents" at line level: wrap it as {"request": {"contents": ...}})'
                if ("contents" in obj)
                else ""
            )
            self._report("request-missing", f'no "request" object{hint}')
            return None
        if not isinstance(request, dict):
            self._report("request-not-object", f'"request" is {_a(_json_type(request))}; it must be an object')
            return None
        return request


def _utf8_len(text: str, chunk: int = 1 << 20) -> int:
    """UTF-8 length of ``text``; a long text is encoded a slice at a time, not copied whole."""
    if len(text) <= chunk:
        return len(text.encode("utf-8", "surrogatepass"))
    return sum(len(text[i : i + chunk].encode("utf-8", "surrogatepass")) for i in range(0, len(text), chunk))


def _repeated_names(raw: Any) -> list[tuple[str, str]]:
    """``(where, name)`` for each name given twice in one object of the line (``where`` "" = the line).

    The standard library parser hands every object's pairs to a hook before they become a dict,
    so, unlike msgspec, it sees a repeated name. It is slower, so only doubtful lines come here.
    """
    marks: dict[int, list[str]] = {}
    alive: list[dict[str, Any]] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) != len(pairs):
            seen: set[str] = set()
            twice: list[str] = []
            for k, _ in pairs:
                if k in seen and k not in twice:
                    twice.append(k)
                seen.add(k)
            marks[id(d)] = twice
            alive.append(d)  # its id must stay unique until the walk below
        return d

    try:
        top = json.loads(bytes(raw), object_pairs_hook=hook)
    except (ValueError, RecursionError):
        return []
    if not marks:
        return []
    found: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(top, "")]
    while stack:
        value, where = stack.pop()
        if type(value) is dict:
            found.extend((where, name) for name in marks.pop(id(value), ()))
            for k, v in value.items():
                if type(v) in _CONTAINERS:
                    stack.append((v, f"{where}.{k}" if where else k))
        else:
            for i, v in enumerate(value):
                if type(v) in _CONTAINERS:
                    stack.append((v, f"{where}[{i}]"))
    for names in marks.values():  # inside a value that was itself given twice and dropped
        found.extend(("a repeated value", name) for name in names)
    return sorted(found)


def _name_colons(buf: Any, lo: int, hi: int, stops: list[int]) -> tuple[list[int], set[int]]:
    """For each line of ``buf[lo:hi]`` (ending at ``stops``), how many colons end a name; and the
    indices of lines with a colon that count cannot judge.

    In JSON a ``"`` inside a string is escaped, so a ``":`` with no backslash before the quote ends a
    name, and every name ends so unless whitespace sits before its colon or the name ends in an
    escaped backslash (``\\":``, which looks like an escaped quote): those colons are doubtful, and a
    line with one is checked in full. One numpy pass per block: about 2 ms per 8 MB.
    """
    import numpy as np

    if hi <= lo:
        return [], set()
    arr = np.frombuffer(buf, np.uint8, hi - lo, lo)
    try:
        # 1 MiB at a time: the flags then stay in the cache between the compare and the search
        parts = [np.flatnonzero(arr[s : s + (1 << 20)] == 58) + s for s in range(0, len(arr), 1 << 20)]
        c = parts[0] if len(parts) == 1 else np.concatenate(parts)
        c = c[c >= 3]  # no name of a JSON line ends before its fourth byte
        p1, p2 = arr[c - 1], arr[c - 2]
        quote = p1 == 34
        backslash = p2 == 92
        ends = np.asarray(stops, dtype=np.int64) - lo
        counts = np.diff(np.searchsorted(c[quote & ~backslash], ends), prepend=0).tolist()
        odd = quote & backslash
        if odd.any():
            odd[odd] = arr[c[odd] - 3] == 92  # \\": a name ending in an escaped backslash (or prose)
        space1 = (p1 == 32) | (p1 == 9) | (p1 == 13)
        if space1.any():
            odd |= space1 & ((p2 == 32) | (p2 == 9) | (p2 == 13) | (p2 == 34))
        doubtful = set(np.searchsorted(ends, c[odd]).tolist()) if odd.any() else set()
        return counts, doubtful
    finally:
        del arr  # a view of the caller's buffer (an mmap must not be closed while it lives)


def _scan_lines(sc: _RangeScanner, buf: Any, mv: memoryview, lo: int, hi: int, base: int, at_end: bool) -> None:
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
    stops = []
    pos = lo
    while pos < hi:
        nl = find(b"\n", pos, hi)
        if nl < 0:
            stops.append(hi)
            break
        stops.append(nl)
        pos = nl + 1
    counts, doubtful = _name_colons(buf, lo, hi, stops)
    pos = lo
    for i, stop in enumerate(stops):
        check(mv[pos:stop], base + pos, stop == hi and at_end, counts[i], i in doubtful)
        pos = stop + 1
    if stops and stops[-1] == hi:
        sc.p.last_line_no_newline = True
    if len(sc.p.records) >= _SPILL_BYTES:  # a block adds at most ~20 bytes of records per byte of lines
        sc.p.flush_records()


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _json_type(v: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(v), "null")


def _short_json_error(msg: str) -> str:
    return msg.removeprefix("JSON is malformed: ")


# -- reading ------------------------------------------------------------------------------------


def _ranges(mm: mmap.mmap, size: int, parts: int) -> list[tuple[int, int]]:
    bounds = [0]
    for k in range(1, parts):
        guess = max(size * k // parts, bounds[-1])
        nl = mm.find(b"\n", guess)
        if nl == -1:
            break
        if nl + 1 > bounds[-1]:
            bounds.append(nl + 1)
    bounds.append(size)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


# Shared progress counters and the big-line lock of worker processes (set by the pool initializer).
_counters: Any = None
_big_lock: Any = None


def _init_worker(counters: Any, lock: Any = None) -> None:
    global _counters, _big_lock
    _counters = counters
    _big_lock = lock
    # Ctrl-C goes to the parent, which terminates the pool: workers must not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _release(mm: mmap.mmap, released: int, pos: int) -> int:
    """Drop pages already scanned from this process's mapping.

    Touched pages of a file mapping count in the process's resident memory until unmapped; on a
    2 GB file that would be 2 GB of RSS. MADV_DONTNEED unmaps them (the page cache keeps the data),
    so memory stays proportional to the request count, not the file size.
    """
    upto = pos - pos % mmap.PAGESIZE
    if upto - released >= _PROGRESS_STEP and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):
            mm.madvise(mmap.MADV_DONTNEED, released, upto - released)
        return upto
    return released


def _drop(mm: mmap.mmap, lo: int, hi: int) -> None:
    """Drop the pages of ``mm[lo:hi]`` from this process's memory (see :func:`_release`)."""
    start = lo - lo % mmap.PAGESIZE
    if hi > start and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):
            mm.madvise(mmap.MADV_DONTNEED, start, hi - start)


def _spill(p: _Partial) -> None:
    """Move a range's rows and media into its temporary file; the parent reads them straight into place.

    Sent back through the pool they would be pickled, copied and merged: the parent would hold
    each column two or three times. From a file (page cache, not process memory) it holds them once.
    """
    p.flush_records()
    if p.spill is None:  # no rows at all: an empty file still marks the partial as spilled
        fd, p.spill = tempfile.mkstemp(prefix=f"batchcost-scan-{p.owner}-", suffix=".columns")
        os.close(fd)
    with open(p.spill, "ab") as fh:
        for arr in p.media.values():
            arr.tofile(fh)
    p.n_media = len(p.media["row"])
    p.media = {}
    p.media_spilled = True


def _forget_views(e: BaseException) -> None:
    """Clear the locals of the frames an exception passed through (and of the exceptions it chains).

    Those frames hold slices of a file mapping (the line being checked); while they live, closing
    the mapping fails with ``BufferError: cannot close exported pointers exist``, which would replace
    the real error (a Ctrl-C, a bug) with a confusing one.
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [e]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if x.__traceback__ is not None:
            traceback.clear_frames(x.__traceback__)
        stack += [x.__cause__, x.__context__]


def _scan_range(task: tuple[str, int, str, int, int, int, int, int, int, bool]) -> _Partial:
    path, file_index, form, seed, k, keep, start, end, slot, worker = task
    sc = _RangeScanner(form, file_index, seed, k, keep, os.getppid() if worker else None)
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            size = len(mm)
            mv = memoryview(mm)
            try:
                pos = start
                released = start - start % mmap.PAGESIZE
                while pos < end:
                    # a block of whole lines of about _BLOCK bytes (one line if that one is longer)
                    stop = min(pos + _BLOCK, end)
                    if stop < end:
                        nl = mm.rfind(b"\n", pos, stop)
                        if nl < 0:
                            nl = mm.find(b"\n", stop, end)
                        stop = end if nl < 0 else nl + 1
                    # A line this big is checked (and its pages dropped) while holding the workers' lock,
                    # so two workers never hold two of them: memory stays that of one big line.
                    if _big_lock is not None and stop - pos > _BIG_LINE_BYTES:
                        _drop(mm, pos, stop)  # finding its end touched its pages: not while waiting
                        with _big_lock:
                            _scan_lines(sc, mm, mv, pos, stop, 0, end == size)
                            _drop(mm, pos, stop)
                        released = max(released, stop - stop % mmap.PAGESIZE)
                    else:
                        _scan_lines(sc, mm, mv, pos, stop, 0, end == size)
                        released = _release(mm, released, stop)
                    pos = stop
                    if _counters is not None:
                        _counters[slot] = pos - start
            except BaseException as e:
                _forget_views(e)
                raise
            finally:
                mv.release()
        if sc.p.spill is not None or worker:
            _spill(sc.p)
    except BaseException:
        sc.p.remove_spill()
        raise
    return sc.p


def _scan_gzip(path: str, file_index: int, form: str, seed: int, k: int, keep: int,
               progress: Callable[[int], None]) -> tuple[_Partial, int]:  # fmt: skip
    """Stream a gzip file a block at a time: memory holds one block and one line, whatever it inflates to."""
    sc = _RangeScanner(form, file_index, seed, k, keep)
    pos = 0
    next_report = _PROGRESS_STEP
    try:
        with open(path, "rb") as raw_fh, gzip.GzipFile(fileobj=raw_fh) as fh:
            try:
                for offset, buf, n, newline in stream_blocks(LineFiller(fh).read, MAX_LINE_BYTES, _BLOCK):
                    if buf is None:
                        sc.long_line(offset, n)
                        if not newline:
                            sc.p.last_line_no_newline = True
                        pos = offset + n + (1 if newline else 0)
                    else:
                        _scan_lines(sc, buf, memoryview(buf), 0, n, offset, True)
                        pos = offset + n
                    if raw_fh.tell() >= next_report:
                        next_report = raw_fh.tell() + _PROGRESS_STEP
                        progress(raw_fh.tell())
            except (OSError, EOFError, zlib.error) as e:
                sc.p.lines += 1
                sc._line = sc.p.lines
                sc._report(
                    "gzip-corrupt",
                    f"gzip data is corrupt or cut off after {pos:,} bytes ({escaped(str(e))}); re-compress or "
                    "re-download the file",
                )
        if sc.p.spill is not None:
            _spill(sc.p)
    except BaseException:
        sc.p.remove_spill()
        raise
    return sc.p, pos


# -- merging ------------------------------------------------------------------------------------


class _Merger:
    """Collects partial results in file order; columns are assembled once, at the end."""

    def __init__(self, keep: int, k: int) -> None:
        self.keep = keep
        self.k = k
        self.n_rows = 0
        self.n_media = 0
        # (partial, row_base, media_base, model_map, mime_map, cache_map)
        self.chunks: list[tuple[_Partial, int, int, list[int], list[int], list[int]]] = []
        self.problems: list[Problem] = []
        self.counts: dict[str, int] = {}
        self.sample: list[tuple[int, int]] = []
        self.models: list[str] = [""]
        self.mimes: list[str] = [""]
        self.caches: list[str] = [""]
        self._ids: dict[str, dict[str, int]] = {"m": {"": 0}, "t": {"": 0}, "c": {"": 0}}

    def _remap(self, kind: str, table: list[str], local: list[str]) -> list[int]:
        ids = self._ids[kind]
        out = []
        for name in local:
            if name not in ids:
                ids[name] = len(table)
                table.append(name)
            out.append(ids[name])
        return out

    def add(self, part: _Partial, path: str, line_base: int) -> None:
        row_base, media_base = self.n_rows, self.n_media
        for code, n in part.counts.items():
            self.counts[code] = self.counts.get(code, 0) + n
        kept: dict[str, int] = {}
        for p in self.problems:
            kept[p.code] = kept.get(p.code, 0) + 1
        for line, code, msg in part.problems:
            if kept.get(code, 0) < self.keep:
                kept[code] = kept.get(code, 0) + 1
                self.problems.append(Problem(path, line_base + line, code, msg))
        maps = (
            self._remap("m", self.models, part.models),
            self._remap("t", self.mimes, part.mimes),
            self._remap("c", self.caches, part.caches),
        )
        n_rows = part.n_rows
        n_media = part.n_media if part.media_spilled else len(part.media["row"])
        self.chunks.append((part, row_base, media_base, *maps))
        self.n_rows += n_rows
        self.n_media += n_media
        for neg, r in part.sample:
            self.sample.append((neg, row_base + r))

    def columns(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The merged row and media columns, each allocated once and filled chunk by chunk."""
        import numpy as np

        rows = {name: np.empty(self.n_rows, spec[1]) for name, spec in ROW_COLUMNS.items()}
        media = {name: np.empty(self.n_media, spec[1]) for name, spec in MEDIA_COLUMNS.items()}
        dtype = _record_dtype()
        while self.chunks:
            part, row_base, media_base, model_map, mime_map, cache_map = self.chunks.pop(0)
            n_rows = part.n_rows
            n_media = part.n_media if part.media_spilled else len(part.media["row"])
            media_views = [(media[name][media_base : media_base + n_media], name) for name in MEDIA_COLUMNS]
            if part.media_spilled:
                assert part.spill is not None
                try:
                    with open(part.spill, "rb") as fh:
                        # the records in row order, a few MB at a time, straight into the columns
                        step = max(1, _SPILL_BYTES // dtype.itemsize)
                        for done in range(0, n_rows, step):
                            k = min(step, n_rows - done)
                            buf = np.empty(k * dtype.itemsize, np.uint8)
                            if fh.readinto(buf) != buf.nbytes:
                                raise OSError(f"scan spill file {part.spill} is short at row {done}")
                            table = buf.view(dtype)
                            for name in ROW_COLUMNS:
                                rows[name][row_base + done : row_base + done + k] = table[name]
                            del table, buf
                        for view, name in media_views:
                            if view.nbytes and fh.readinto(memoryview(view).cast("B")) != view.nbytes:
                                raise OSError(f"scan spill file {part.spill} is short at column {name}")
                finally:
                    part.remove_spill()
            else:
                if part.records:
                    table = np.frombuffer(part.records, dtype=dtype)
                    for name in ROW_COLUMNS:
                        rows[name][row_base : row_base + n_rows] = table[name]  # one column at a time
                    del table
                part.records = bytearray()
                for (view, _name), arr in zip(media_views, part.media.values(), strict=True):
                    if len(arr):
                        view[:] = np.frombuffer(arr, dtype=view.dtype)
            # local table indices -> merged ones; media rows -> merged row numbers
            for view, table_map in (
                (rows["model"][row_base : row_base + n_rows], model_map),
                (rows["cached_content"][row_base : row_base + n_rows], cache_map),
                (media["mime"][media_base : media_base + n_media], mime_map),
            ):
                if len(table_map) > 1 and len(view):
                    view[:] = np.asarray(table_map, dtype=view.dtype)[view]
            media["row"][media_base : media_base + n_media] += row_base
        return rows, media

    def discard(self) -> None:
        """Remove spill files of chunks never assembled (after an error or Ctrl-C)."""
        for part, *_ in self.chunks:
            part.remove_spill()
        self.chunks.clear()

    def report(self, path: str, line: int, code: str, msg: str) -> None:
        n = self.counts.get(code, 0)
        self.counts[code] = n + 1
        if n < self.keep:
            self.problems.append(Problem(path, line, code, msg))


def scan(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    sample_size: int = 0,
    seed: int = 0,
    keep_problems: int = 1000,
    workers: int | None = None,
    limits: FileLimits | None = None,
    progress: Progress | None = None,
    checksum: bool = False,
) -> ScanResult:
    """Check every line of Gemini batch input files and gather per-request figures in one pass.

    Args:
        paths: one path or several. Each file may be Developer-API form
            (``{"key", "request"}`` lines), Vertex form (``{"request"}`` lines), and gzip-compressed.
        sample_size: how many usable requests to draw uniformly at random (0 for none).
        seed: seed of the sample; the same seed gives the same sample for the same file.
        keep_problems: problems kept per kind (all are counted in ``problem_counts``).
        workers: processes for large plain files (default: CPU count, at most 2 per file range set).
        limits: per-job input limits (default :class:`FileLimits`).
        progress: called with ``(bytes done, bytes total)`` from the calling thread.
        checksum: also compute each file's SHA-256 (``FileInfo.sha256``); for large files the
            calling process hashes while the worker processes scan.

    Returns:
        A :class:`ScanResult`. Problems in the files are data in it, never exceptions.

    Lines over :data:`MAX_LINE_BYTES` (128 MiB) are ``line-too-long`` problems, read past without
    being held in memory; memory stays proportional to the number of lines (about 100 bytes each),
    whatever a gzip file inflates to.

    Raises:
        InputError: a file cannot be read at all (missing, a directory, permission denied), or is a
            pipe, FIFO or device (it would be read more than once).
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    names = [os.fspath(p) for p in paths]
    limits = limits or FileLimits()
    sizes = [open_check(p) for p in names]
    total = sum(sizes)
    workers = max(1, workers if workers is not None else min(2, os.cpu_count() or 1))
    merger = _Merger(keep_problems, sample_size)
    files: list[FileInfo] = []

    try:
        return _scan_files(names, sizes, merger, files, limits, seed, sample_size, keep_problems, workers, total,
                           progress, checksum)  # fmt: skip
    except BaseException:
        merger.discard()
        raise


def _scan_files(names: list[str], sizes: list[int], merger: _Merger, files: list[FileInfo], limits: FileLimits,
                seed: int, sample_size: int, keep_problems: int, workers: int, total: int,
                progress: Progress | None, checksum: bool) -> ScanResult:  # fmt: skip
    done_before = 0
    for fi, (path, size) in enumerate(zip(names, sizes, strict=True)):
        compressed = size >= 2 and is_gzip(path)
        form = detect_form(path, compressed) if size else "developer"
        first_row = merger.n_rows
        base = done_before

        def report(done: int, base: int = base) -> None:
            if progress is not None:
                progress(base + done, total)

        digest: list[str] = []
        if size == 0:
            data_size, parts = 0, []
        elif compressed:
            part, data_size = _scan_gzip(path, fi, form, seed, sample_size, keep_problems, report)
            parts = [part]
        else:
            data_size = size
            parts = _scan_plain(
                path, fi, form, seed, sample_size, keep_problems, size, workers, report, digest if checksum else None
            )
        if checksum and not digest:
            digest.append(file_sha256(path))
        line_base = 0
        while parts:
            part = parts.pop(0)  # dropped once merged: peak memory is one copy of the columns plus one part
            merger.add(part, path, line_base)
            line_base += part.lines
            del part
        info = FileInfo(path, size, data_size, compressed, form, line_base, first_row, digest[0] if digest else None)
        files.append(info)
        done_before += size
        report(size)
        _file_checks(merger, info, limits)
    return _finish(merger, files, seed)


def _scan_plain(path: str, fi: int, form: str, seed: int, k: int, keep: int, size: int, workers: int,
                report: Callable[[int], None], digest: list[str] | None) -> list[_Partial]:  # fmt: skip
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        nparts = workers if size >= PARALLEL_MIN_BYTES else 1
        ranges = _ranges(mm, size, nparts)
    if len(ranges) == 1:
        global _counters
        counters = [0]
        _counters = counters
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(0.2):
                report(counters[0])

        t = threading.Thread(target=poll, daemon=True)
        t.start()
        try:
            return [_scan_range((path, fi, form, seed, k, keep, 0, size, 0, False))]
        finally:
            stop.set()
            t.join()
            _counters = None
    return _scan_parallel(path, fi, form, seed, k, keep, ranges, report, digest)


def _scan_parallel(path: str, fi: int, form: str, seed: int, k: int, keep: int, ranges: list[tuple[int, int]],
                   report: Callable[[int], None], digest: list[str] | None) -> list[_Partial]:  # fmt: skip
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")
    counters = ctx.Array("q", len(ranges), lock=False)
    tasks = [(path, fi, form, seed, k, keep, a, b, i, True) for i, (a, b) in enumerate(ranges)]
    pool = ctx.Pool(len(ranges), initializer=_init_worker, initargs=(counters, ctx.Lock()))
    hasher = None
    if digest is not None:
        # This process only waits for the workers: hash the file meanwhile (started after the fork).
        hasher = threading.Thread(target=lambda: digest.append(file_sha256(path)), daemon=True)
        hasher.start()
    try:
        result = pool.map_async(_scan_range, tasks, chunksize=1)
        while not result.ready():
            result.wait(0.2)
            report(sum(counters))
        parts = result.get()
        pool.close()
    except BaseException:
        pool.terminate()
        pool.join()
        for leftover in glob.glob(os.path.join(tempfile.gettempdir(), f"batchcost-scan-{os.getpid()}-*.columns")):
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        raise
    finally:
        pool.join()
        if hasher is not None:
            hasher.join()
    return parts


def _file_checks(m: _Merger, info: FileInfo, limits: FileLimits) -> None:
    path = info.path
    if info.lines == 0:
        m.report(path, 0, "no-requests", "file is empty; a batch file holds one JSON request per line")
        return
    max_bytes = limits.developer_max_bytes if info.form == "developer" else limits.vertex_max_bytes
    if info.data_size > max_bytes:
        shards = -(-info.data_size // max_bytes)
        platform = "Developer API" if info.form == "developer" else "Vertex AI batch"
        m.report(
            path, 0, "file-too-large",
            f"{info.data_size / 1e9:,.2f} GB of JSONL is over the {max_bytes / 1e9:g} GB input-file limit "
            f"({platform}); split it into at least {shards} files with `batchcost shard`",
        )  # fmt: skip


def _finish(m: _Merger, files: list[FileInfo], seed: int) -> ScanResult:
    import numpy as np

    rows, media = m.columns()
    for info in files:
        lo, hi = info.first_row, info.first_row + info.lines
        _duplicate_keys(m, info, rows, lo, hi, files)
        _mixed_models(m, info, rows, lo, hi)
        if info.form == "vertex":
            n = int(rows["usable"][lo:hi].sum())
            limit = FileLimits().vertex_max_requests
            if n > limit:
                m.report(
                    info.path, 0, "too-many-requests",
                    f"{n:,} requests; a Vertex AI batch job takes at most {limit:,}: split it with `batchcost shard`",
                )  # fmt: skip
        if info.lines and not rows["usable"][lo:hi].any():
            m.report(info.path, 0, "no-requests", "no line holds a usable request; see the problems above")
    k = m.k
    chosen = heapq.nlargest(k, m.sample) if k else []  # largest -priority == smallest priority
    sample = np.array(sorted(r for _, r in chosen), dtype=np.int64)
    order = {f.path: i for i, f in enumerate(files)}
    problems = sorted(m.problems, key=lambda p: (order.get(p.path, 0), p.line))
    return ScanResult(
        files=files, rows=rows, media=media, problems=problems, problem_counts=dict(m.counts),
        sample=sample, seed=seed, models=m.models, mime_types=m.mimes, cached_contents=m.caches,
    )  # fmt: skip


def _duplicate_keys(m: _Merger, info: FileInfo, rows: dict[str, Any], lo: int, hi: int,
                    files: list[FileInfo]) -> None:  # fmt: skip
    import numpy as np

    kh = rows["key_hash"][lo:hi]
    sv = np.sort(kh[kh != 0])
    if len(sv) < 2:
        return
    same = sv[1:] == sv[:-1]
    if not same.any():
        return
    repeated = np.unique(sv[1:][same])  # hash values given to two rows or more
    del sv, same
    # Rows in groups of equal hashes; confirm with the real keys (a 64-bit collision is possible).
    # Kept as numpy rows and read back in row order, so a file of millions of copies of one line
    # costs a few bytes per row here, not a Python object per row.
    involved = np.flatnonzero(np.isin(kh, repeated)) + lo
    import msgspec

    class _Key(msgspec.Struct):
        key: Any = None

    decode = msgspec.json.Decoder(_Key).decode
    result_view = ScanResult(files, rows, {}, [], {}, np.zeros(0, np.int64), 0)
    first_line: dict[str, int] = {}
    for r, raw in result_view.read_lines(involved):
        try:
            key = decode(raw.removeprefix(b"\xef\xbb\xbf")).key
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            continue
        if not isinstance(key, str):
            continue
        line = r - info.first_row + 1
        first = first_line.setdefault(key, line)
        if first != line:
            m.report(
                info.path, line, "key-duplicate",
                f"duplicate key {key!r:.80} (first on line {first}); keys must be unique in a job "
                "because results are matched by key",
            )  # fmt: skip


def _mixed_models(m: _Merger, info: FileInfo, rows: dict[str, Any], lo: int, hi: int) -> None:
    import numpy as np

    ids = rows["model"][lo:hi]
    named = ids[ids > 0]
    if not len(named):
        return
    counts = np.bincount(named)
    distinct = np.flatnonzero(counts)
    if len(distinct) < 2:
        return
    major = int(counts.argmax())
    for r in np.flatnonzero((ids > 0) & (ids != major)):
        m.report(
            info.path, int(r) + 1, "mixed-models",
            f"request.model {m.models[int(ids[r])]!r} differs from {m.models[major]!r} "
            f"(used by {int(counts[major]):,} line{'s' if counts[major] != 1 else ''}); a batch job runs one model: split the file by model",
        )  # fmt: skip
