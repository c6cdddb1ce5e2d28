"""A small memory of figures about long texts, bounded by the memory the texts take.

Batch files repeat long texts on purpose (shared system instructions, one document asked many
questions). A text is looked up by a fingerprint of its length and a few short slices, then compared
with the one remembered: each line decodes its texts afresh, and hashing a new string reads all of it
(a 20 KB document costs about as much to hash as to compare), while the fingerprint reads 96
characters. The comparison makes a hit exact; two texts with the same fingerprint simply take turns.
The memory forgets the texts used least recently once it holds more than ``max_bytes`` of them, so a
stream of long texts that never repeat cannot crowd out memory: at most ``max_bytes`` of text plus the
figures stay referenced.
"""

from __future__ import annotations

import sys
from typing import Generic, TypeVar

V = TypeVar("V")


def _fingerprint(text: str) -> tuple[int, str, str, str]:
    n = len(text)
    return n, text[:32], text[n // 2 : n // 2 + 32], text[-32:]


class TextMemo(Generic[V]):
    """Figures of the texts seen last, by the text itself (least recently used forgotten first)."""

    def __init__(self, max_bytes: int, max_texts: int = 256) -> None:
        # by fingerprint: (the text, its figure, the memory it takes)
        self._items: dict[tuple[int, str, str, str], tuple[str, V, int]] = {}
        self._bytes = 0
        self._max_bytes = max_bytes
        self._max_texts = max_texts

    def get(self, text: str) -> V | None:
        """The figure remembered for ``text``, or None (a hit makes it the most recently used)."""
        items = self._items
        key = _fingerprint(text)
        got = items.get(key)
        if got is None or got[0] != text:
            return None
        del items[key]
        items[key] = got
        return got[1]

    def put(self, text: str, value: V) -> None:
        """Remember ``value`` for ``text`` (a text over a quarter of the bound is not kept)."""
        size = sys.getsizeof(text)  # what the string holds in memory: 1, 2 or 4 bytes per character
        if size > self._max_bytes // 4 or self._max_texts < 1:
            return
        items = self._items
        key = _fingerprint(text)
        old = items.pop(key, None)
        if old is not None:
            self._bytes -= old[2]
        items[key] = (text, value, size)
        self._bytes += size
        while len(items) > self._max_texts or self._bytes > self._max_bytes:
            oldest = next(iter(items))
            self._bytes -= items.pop(oldest)[2]

    def __len__(self) -> int:
        return len(self._items)
