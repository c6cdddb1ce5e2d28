"""A small memory of figures about long texts, bounded by the memory the texts take.

Batch files repeat long texts on purpose (shared system instructions, one document asked many
questions). Looking a text up costs its hash (computed once per string) and one comparison, far less
than counting its bytes or its tokens again. The memory forgets the texts used least recently once it
holds more than ``max_bytes`` of them, so a stream of long texts that never repeat cannot crowd out
memory: at most ``max_bytes`` of text plus the figures stay referenced.
"""

from __future__ import annotations

import sys
from typing import Generic, TypeVar

V = TypeVar("V")


class TextMemo(Generic[V]):
    """Figures of the texts seen last, by the text itself (least recently used forgotten first)."""

    def __init__(self, max_bytes: int, max_texts: int = 256) -> None:
        self._items: dict[str, tuple[V, int]] = {}
        self._bytes = 0
        self._max_bytes = max_bytes
        self._max_texts = max_texts

    def get(self, text: str) -> V | None:
        """The figure remembered for ``text``, or None (a hit makes it the most recently used)."""
        items = self._items
        got = items.pop(text, None)
        if got is None:
            return None
        items[text] = got
        return got[0]

    def put(self, text: str, value: V) -> None:
        """Remember ``value`` for ``text`` (a text over a quarter of the bound is not kept)."""
        size = sys.getsizeof(text)  # what the string holds in memory: 1, 2 or 4 bytes per character
        if size > self._max_bytes // 4 or self._max_texts < 1:
            return
        items = self._items
        old = items.pop(text, None)
        if old is not None:
            self._bytes -= old[1]
        items[text] = (value, size)
        self._bytes += size
        while len(items) > self._max_texts or self._bytes > self._max_bytes:
            oldest = next(iter(items))
            self._bytes -= items.pop(oldest)[1]

    def __len__(self) -> int:
        return len(self._items)
