"""Each line's ``key``, read back from the batch file by the scan's line offsets.

The scan keeps a 64-bit hash of each key, not the key (a Python string per line would cost ~70
bytes a line during the scan). Tables that join costs with the user's own data need the real key,
so it is read back here, fast enough for millions of lines:

* the usual line starts ``{"key":"...`` or ``{"key": "...`` with a plain key (no escapes, ASCII).
  For those, the first bytes of every line are gathered with numpy from the memory-mapped file, a
  block of lines at a time, and the keys are cut out of that window without a Python call per line;
* any other line (key not first, escapes, non-ASCII, a long key, a gzip file) is decoded with
  msgspec, which reads the ``key`` and skips the rest of the line.

A line whose ``key`` is missing or not a string (Vertex lines, errors) gets None.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..storage.locations import is_url
from .lines import check_unchanged, readable

WINDOW = 48  # bytes looked at per line first: '{"key": "' and keys of up to 38 bytes
WIDE_WINDOW = 512  # the second look, for the lines whose key did not end in the first
BLOCK_ROWS = 32_768  # most lines per block (a block gathers WINDOW x BLOCK_ROWS bytes)
SPAN_BYTES = 32 * 1024 * 1024  # most bytes of the file read at once (the buffer is reused)

_QUOTE, _BACKSLASH, _SPACE, _NEWLINE = ord('"'), ord("\\"), ord(" "), ord("\n")
_HEAD_TIGHT = int(np.frombuffer(b'{"key":"', np.uint64)[0])  # the first 8 bytes, as numbers
_HEAD_SPACED = int(np.frombuffer(b'{"key": ', np.uint64)[0])


class _File(Protocol):
    path: str
    size: int
    compressed: bool
    first_row: int
    lines: int


class _Scan(Protocol):
    """What is read of a :class:`~batchcost.batchfile.ScanResult` (it imports this module's users)."""

    @property
    def files(self) -> Sequence[_File]: ...

    @property
    def rows(self) -> Mapping[str, npt.NDArray[Any]]: ...

    def read_lines(self, rows: Iterable[int] | npt.NDArray[Any]) -> Iterator[tuple[int, bytes]]: ...


def read_keys(scan: _Scan) -> npt.NDArray[np.object_]:
    """The ``key`` of every row of the scan (object array of str, None where a line has none).

    Raises:
        InputError: a file changed since it was scanned (its keys would be read from other bytes).
        OSError: a file cannot be opened (it was readable when scanned).
    """
    n = len(scan.rows["offset"])
    keys = np.full(n, None, dtype=object)
    slow: list[npt.NDArray[np.int64]] = []
    for info in scan.files:
        lo, hi = info.first_row, info.first_row + info.lines
        if hi == lo:
            continue
        src = readable(info.path)  # a URL's --cache-dir copy, if one is in use
        if info.compressed or info.size == 0 or is_url(src):  # a URL's lines: read back by offset
            slow.append(np.arange(lo, hi, dtype=np.int64))
            continue
        slow.append(_fast_keys(src, scan.rows, lo, hi, keys))
    rest = np.concatenate(slow) if slow else np.zeros(0, np.int64)
    if len(rest):
        _slow_keys(scan, rest, keys)
    for info in scan.files:  # read by the scan's offsets: only right in the bytes the scan saw
        check_unchanged(info.path, info.source or info.path, info.stamp)
    return keys


def _fast_keys(
    path: str, rows: Mapping[str, npt.NDArray[Any]], lo: int, hi: int, keys: npt.NDArray[np.object_]
) -> npt.NDArray[np.int64]:
    """Fill ``keys[lo:hi]`` for the lines of one plain file that start with a plain key; the other rows.

    The file is read a span of lines at a time into one reused buffer (no mapping: its pages would
    count as this process's memory and cost a fault each), and the first bytes of each line are
    gathered from a sliding-window view of the buffer: one copy per line, not an index per byte.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    left: list[npt.NDArray[np.int64]] = []
    all_offsets = rows["offset"]
    buf = np.empty(SPAN_BYTES + WIDE_WINDOW, np.uint8)
    with open(path, "rb", buffering=0) as fh:
        size = os.fstat(fh.fileno()).st_size
        start = lo
        while start < hi:
            first = int(all_offsets[start])
            # the lines starting within the span (at least one); a huge line is read only in part
            stop = int(np.searchsorted(all_offsets[start : min(start + BLOCK_ROWS, hi)], first + SPAN_BYTES, "left"))
            stop = start + max(1, stop)
            offsets = all_offsets[start:stop].astype(np.int64) - first
            nbytes = rows["nbytes"][start:stop].astype(np.int64)
            length = min(int(offsets[-1]) + WIDE_WINDOW, size - first)
            got = _read_at(fh, first, buf[:length])
            block = np.arange(start, stop, dtype=np.int64)
            data = buf[:got]
            long = _cut(_windows(data, WINDOW, sliding_window_view), offsets, nbytes, block, keys, left)
            if len(long):  # keys longer than the first window: one wider look at those lines
                i = long - start
                wide = _windows(data, WIDE_WINDOW, sliding_window_view)
                left.append(_cut(wide, offsets[i], nbytes[i], long, keys, left))
            start = stop
    return np.concatenate(left) if left else np.zeros(0, np.int64)


def _windows(data: npt.NDArray[np.uint8], width: int, view: Any) -> npt.NDArray[np.uint8] | None:
    return view(data, width) if len(data) >= width else None


def _read_at(fh: Any, pos: int, out: npt.NDArray[np.uint8]) -> int:
    """Read ``len(out)`` bytes at ``pos`` into ``out`` (fewer at the end of the file); bytes read."""
    fh.seek(pos)
    view = memoryview(out)
    done = 0
    while done < len(out):
        n = fh.readinto(view[done:])
        if not n:
            break
        done += n
    return done


def _cut(
    windows: npt.NDArray[np.uint8] | None,
    offsets: npt.NDArray[np.int64],
    nbytes: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    keys: npt.NDArray[np.object_],
    left: list[npt.NDArray[np.int64]],
) -> npt.NDArray[np.int64]:
    """Cut the keys out of the first bytes of some lines (``windows``: sliding windows of the data read).

    Lines that do not start with a plain key are added to ``left`` (for msgspec); the rows whose
    key runs past the window are returned.
    """
    if windows is None:
        left.append(rows)
        return np.zeros(0, np.int64)
    width = windows.shape[1]
    near_end = offsets > len(windows) - 1  # the window would run past the end of the file
    if near_end.any():
        left.append(rows[near_end])
        offsets, nbytes, rows = offsets[~near_end], nbytes[~near_end], rows[~near_end]
    win = windows[offsets]  # (lines, width); bytes past a line's end belong to the next line
    n = len(win)
    head = win[:, :8].copy().view(np.uint64)[:, 0]  # the first 8 bytes of each line as one number
    start = np.where(head == _HEAD_TIGHT, 8, np.where((head == _HEAD_SPACED) & (win[:, 8] == _QUOTE), 9, 0))
    start[(nbytes <= 9) | (win[:, 8] == _QUOTE)] = 0  # too short, or an empty key: msgspec decides
    # the closing quote: the first quote from column 9 on (column 8 is the key's first byte or its quote)
    quotes = win[:, 9:] == _QUOTE
    end = 9 + quotes.argmax(axis=1)
    closed = quotes[np.arange(n), end - 9] & (end < nbytes)
    del quotes
    # a backslash before the closing quote is an escape in the key: msgspec decodes it
    escaped = (win[:, 8:] == _BACKSLASH).any(axis=1)
    some = np.flatnonzero(escaped)
    escaped[some] = 8 + (win[some, 8:] == _BACKSLASH).argmax(axis=1) < np.where(closed[some], end[some], width)
    ok = (start > 0) & closed & ~escaped
    long = (start > 0) & ~closed & ~escaped & (nbytes > width)
    left.append(rows[~ok & ~long])
    for s in (8, 9):
        where = np.flatnonzero(ok & (start == s))
        if len(where):
            _decode(win[where, s:], end[where] - s, rows[where], keys)
    return rows[long]


def _decode(
    sub: npt.NDArray[np.uint8],
    length: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    keys: npt.NDArray[np.object_],
) -> None:
    """Keys of ``length[i]`` bytes at the start of each row of ``sub`` into ``keys[rows]``.

    Each key is followed by a newline where its closing quote was, and a whole group is decoded and
    split at once (JSON strings hold no raw newline). Keys of one length, the usual case, are cut
    with a slice; mixed lengths with a mask.
    """
    sub[np.arange(len(sub)), length] = _NEWLINE
    lengths = np.unique(length)
    if len(lengths) <= 8:
        groups = [(np.flatnonzero(length == k) if len(lengths) > 1 else slice(None), int(k)) for k in lengths]
        for where, k in groups:
            _store(sub[where, : k + 1].tobytes(), rows[where], keys)
    else:
        cols = np.arange(sub.shape[1])
        _store(sub[cols <= length[:, None]].tobytes(), rows, keys)


def _store(text: bytes, rows: npt.NDArray[np.int64], keys: npt.NDArray[np.object_]) -> None:
    parts = text.decode("utf-8", "replace").split("\n")
    parts.pop()
    found = np.empty(len(parts), dtype=object)
    found[:] = parts
    keys[rows] = found


def _slow_keys(scan: _Scan, rows: npt.NDArray[np.int64], keys: npt.NDArray[np.object_]) -> None:
    import msgspec

    class _Key(msgspec.Struct):
        key: Any = None

    decode = msgspec.json.Decoder(_Key).decode
    for r, raw in scan.read_lines(np.sort(rows)):
        try:
            key = decode(raw.removeprefix(b"\xef\xbb\xbf")).key
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            continue
        if isinstance(key, str):
            keys[r] = key
