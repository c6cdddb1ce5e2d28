"""Long texts that repeat are tokenized once: a shared system instruction, one document asked many questions.

Batch files repeat long texts on purpose (that is what context caching is for): in a file where a quarter
of the requests carry one of three system instructions, tokenizing each copy again is most of the work of
an exact count. Looking a text up costs its hash and one comparison (about 1 GB/s), hundreds of times less
than tokenizing it (a few MB/s), and gives the same count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..text_memo import TextMemo

# Texts with at least this many characters are looked up; shorter ones are cheaper to count than to remember.
MIN_CHARS = 2048
# Memory the remembered texts may hold (the least recently used go first): a few shared texts, not the file.
_MAX_BYTES = 8 * 1024 * 1024


class RepeatedTexts:
    """Counts of the long texts seen last, and the counting of a list that reuses them."""

    def __init__(self) -> None:
        self._known: TextMemo[int] = TextMemo(_MAX_BYTES)

    def count(self, texts: Sequence[str], count_all: Callable[[list[str]], list[int]]) -> list[int]:
        """Each text's count: known ones looked up, repeats within ``texts`` counted once, the rest by ``count_all``."""
        known = self._known
        out = [0] * len(texts)
        todo: list[str] = []
        where: list[int] = []
        first: dict[str, int] = {}  # a long text's position in todo
        copies: list[tuple[int, int]] = []  # (index in texts, position in todo)
        for i, text in enumerate(texts):
            if len(text) >= MIN_CHARS:
                n = known.get(text)
                if n is not None:
                    out[i] = n
                    continue
                j = first.get(text)
                if j is not None:
                    copies.append((i, j))
                    continue
                first[text] = len(todo)
            todo.append(text)
            where.append(i)
        counts = count_all(todo) if todo else []
        for i, n in zip(where, counts, strict=True):
            out[i] = n
        for i, j in copies:
            out[i] = counts[j]
        for text, j in first.items():
            known.put(text, counts[j])
        return out
