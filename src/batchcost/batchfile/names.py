"""Names given twice in one JSON object of a line, which the decoder would lose without a word.

A name repeated inside one JSON object (``{"key": "a", "key": "b"}``) is lost by msgspec, which
keeps the last value. Finding it costs next to nothing: the number of ``":`` that end a name in the
line's bytes (counted for a whole block at once with numpy, :func:`name_colons`) must equal the
number of names the check decoded; only a line where the two differ, or whose bytes defeat the
count (a space before a colon, an escaped backslash before a quote), is parsed again with a parser
that sees every name (:func:`repeated_names`).
"""

from __future__ import annotations

import json
from typing import Any

_CONTAINERS = (dict, list)


def repeated_names(raw: Any) -> list[tuple[str, str]]:
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


def name_colons(buf: Any, lo: int, hi: int, stops: list[int]) -> tuple[list[int], set[int]]:
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
