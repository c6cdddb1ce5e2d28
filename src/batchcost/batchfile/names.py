"""Names given twice in one JSON object of a line, which the decoder would lose without a word.

A name repeated inside one JSON object (``{"key": "a", "key": "b"}``) is lost by msgspec, which
keeps the last value. Finding it costs next to nothing: the number of colons that end a name in the
line's bytes (counted for a whole block at once with numpy, :func:`name_colons`) must equal the
number of names the check decoded; only a line where the two differ is parsed again with a parser
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


def name_colons(buf: Any, lo: int, hi: int, stops: list[int]) -> list[int]:
    """For each line of ``buf[lo:hi]`` (ending at ``stops``), how many colons end a name.

    In JSON a colon outside a string follows a name: its closing quote, then perhaps whitespace. A
    quote is a string's end when an even number of backslashes (none, usually) comes before it, and
    an escaped quote (an odd number) is inside a string. So a colon ends a name exactly when,
    skipping back over whitespace, it meets a quote with an even run of backslashes before it.
    The usual case (``":`` with no backslash before the quote) and the next few are settled for a
    whole block at once with numpy, about 2 ms per 8 MB; the rest (whitespace before a colon, a
    run of backslashes) are looked at one by one, and they are few. The count is exact for a line
    that is valid JSON; a line that is not fails to decode and is checked in full anyway.
    """
    import numpy as np

    if hi <= lo:
        return []
    arr = np.frombuffer(buf, np.uint8, hi - lo, lo)
    try:
        # 1 MiB at a time, into one buffer: the flags then stay in the cache between the compare and
        # the search, and no new array is allocated (and page-faulted in) for each
        step = 1 << 20
        flags = np.empty(min(step, len(arr)), bool)
        parts = []
        for s in range(0, len(arr), step):
            chunk = arr[s : s + step]
            hit = flags[: len(chunk)]
            np.equal(chunk, 58, out=hit)
            parts.append(np.flatnonzero(hit) + s)
        del chunk
        c = parts[0] if len(parts) == 1 else np.concatenate(parts)
        c = c[c >= 3]  # no name of a JSON line ends before its fourth byte (``{"":``)
        p1, p2 = arr[c - 1], arr[c - 2]
        quote = p1 == 34
        plain = quote & (p2 != 92)  # "name": the usual case
        ends = np.asarray(stops, dtype=np.int64) - lo
        counts = np.searchsorted(c[plain], ends)
        space = (p1 == 32) | (p1 == 9) | (p1 == 13)
        odd = (quote & ~plain) | space
        if odd.any():
            h, q1, q2 = c[odd], quote[odd], p2[odd]
            far = h >= 4  # the two bytes before those two are in the block
            b3 = np.where(far, arr[np.where(far, h - 3, 0)], 0)
            b4 = np.where(far, arr[np.where(far, h - 4, 0)], 0)
            # \": one escaped quote, inside a string (not a name); " ": a name, then a space
            escaped_quote = q1 & (b3 != 92) & far
            spaced_name = ~q1 & (q2 == 34) & (b3 != 92) & far
            spaced_escaped = ~q1 & (q2 == 34) & (b3 == 92) & (b4 != 92) & far
            # a space after anything but a quote or more whitespace: prose ("note : ...")
            prose = ~q1 & (q2 != 34) & (q2 != 32) & (q2 != 9) & (q2 != 13)
            names = h[spaced_name]
            rest = h[~(escaped_quote | spaced_name | spaced_escaped | prose)]
            if len(rest):
                data = bytes(arr)  # rare: whitespace runs or backslash runs, read byte by byte
                names = np.concatenate([names, np.asarray([x for x in rest.tolist() if _ends_name(data, x)], np.int64)])
            if len(names):
                counts += np.searchsorted(np.sort(names), ends)
        return np.diff(counts, prepend=0).tolist()
    finally:
        del arr  # a view of the caller's buffer (an mmap must not be closed while it lives)


def _ends_name(data: bytes, colon: int) -> bool:
    """Whether the colon at ``data[colon]`` ends a name (see :func:`name_colons`)."""
    j = colon - 1
    while j >= 0 and data[j] in b" \t\r":
        j -= 1
    if j < 0 or data[j] != 34:
        return False
    k = j - 1
    while k >= 0 and data[k] == 92:
        k -= 1
    return (j - 1 - k) % 2 == 0
