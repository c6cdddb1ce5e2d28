"""Texts counted word by word: each distinct word is tokenized once, and the count stays exact.

Gemma 3's tokenizer never makes a token that spans the place before a space that ends a word: no piece
of its vocabulary holds a character followed by "▁" (its escaped space) except the few that
:meth:`WordCounts.from_rules` reads from the model's cut rules (``>`` and ``▁`` itself), so that place is a
*free cut* (see the notes in :mod:`.cuts`): a text's count is the sum of the
counts of its *words*, a word being a run of spaces and what follows it up to the next free place.
The places around a run of newlines are free cuts too (only the newline runs hold a newline).

A batch file says the same words millions of times, so looking a word's count up in a dictionary
(a few hundred nanoseconds with splitting the text) replaces most of SentencePiece's encoding (about
200 ns a character). The words seen are kept up to :data:`MAX_WORDS`; then they are forgotten and
the frequent ones come back within a few requests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence

# Words kept at most (both tables); about 100 bytes each. Forgotten all at once when full.
MAX_WORDS = 200_000
# Longer words are counted but not kept: they seldom repeat (a long word is a URL, base64, CJK text).
MAX_WORD_CHARS = 64
# Longer texts are counted whole, in bounded pieces (gemma3's exact cuts): split into words at once,
# a 50 MB text would hold millions of strings.
MAX_TEXT_CHARS = 1 << 18
# Characters of text counted at a time (see WordCounts.count): a chunk's words are held together.
CHUNK_CHARS = 1 << 18


class WordCounts:
    """Counts of the words seen, and the counting of a list of texts that reuses them (exact)."""

    def __init__(self, held_before_space: Iterable[str] = (), *, newline_cuts: bool = True,
                 max_words: int = MAX_WORDS) -> None:  # fmt: skip
        """Count by words, with the model's rules of where a word may end.

        Args:
            held_before_space: characters after which the place before a space is not a free cut
                (a piece holds them followed by "▁"); texts holding one are cut only elsewhere.
                A space itself is always held: a run of spaces stays in one word.
            newline_cuts: the places before and after a run of newlines are free cuts.
            max_words: words kept at most.
        """
        held = sorted(set(held_before_space) - {" "})
        # Texts that hold none of these are cut before every space (str.split, the fast path).
        self._avoid = ("  ", *held)
        # Any other text: a word is a run of spaces, then runs of other characters and held
        # characters with the spaces after them, up to a space that follows neither; or a run of
        # newlines where those are free cuts. Possessive quantifiers: nothing is tried twice.
        stop = " \n" if newline_cuts else " "
        held_class = re.escape("".join(held))
        body = f"(?:[^{stop}{held_class}]++|[{held_class}][ ]*+)*+" if held else f"[^{stop}]*+"
        self._words = re.compile(("\\n+|" if newline_cuts else "") + f"[ ]*{body}")
        self._max = max_words
        self._bare: dict[str, int] = {"": 0}  # a word as it stands (findall ends with an empty one)
        self._spaced: dict[str, int] = {}  # a word after one space: the key leaves the space out
        self._lock = threading.Lock()

    @classmethod
    def from_rules(cls, pairs: Iterable[str], user_pairs: Iterable[str], *,
                   max_words: int = MAX_WORDS) -> WordCounts | None:  # fmt: skip
        """Word counting for a model whose pieces hold ``pairs`` (normalized: "▁" for a space).

        ``user_pairs`` are the pairs that only user-defined pieces hold. Returns None when the
        rules leave no word to cut (a character that a lone surrogate becomes is held).
        """
        pairs, user_pairs = set(pairs), set(user_pairs)
        every = pairs | user_pairs
        held = {pair[0] for pair in every if pair[1] == "\u2581"}
        if "\ufffd" in held:
            return None  # a lone surrogate counts as U+FFFD: the split below would not see it as held
        text_held = {" " if char == "\u2581" else char for char in held}
        if "\u2581" in held:
            text_held.add("\u2581")  # a literal "▁" in a text is the encoder's space too
        newline_cuts = not any(len(pair) == 2 and pair.count("\n") == 1 for pair in every)
        return cls(text_held, newline_cuts=newline_cuts, max_words=max_words)

    def count(self, texts: Sequence[str], count_all: Callable[[list[str]], list[int]]) -> list[int]:
        """Each text's count: the sum of its words' counts; words not seen yet are counted by ``count_all``.

        The texts go a chunk of about :data:`CHUNK_CHARS` characters at a time: a chunk's words are
        held together while its new ones are counted, and the words kept for later are allocated
        among them. Thousands of texts at once held millions of small strings, and the few kept
        pinned Python's memory arenas after the rest were freed (7,000 short prompts in one call
        left 98 MB of arenas holding 12 MB; a chunk at a time, 5 MB more than before counting).
        """
        with self._lock:
            if len(texts) < 2:
                return self._count(texts, count_all)
            out: list[int] = []
            start, chars = 0, 0
            for i, text in enumerate(texts):
                chars += len(text)
                if chars >= CHUNK_CHARS:
                    out += self._count(texts[start : i + 1], count_all)
                    start, chars = i + 1, 0
            if start < len(texts):
                out += self._count(texts[start:], count_all)
            return out

    def _count(self, texts: Sequence[str], count_all: Callable[[list[str]], list[int]]) -> list[int]:
        bare, spaced, avoid = self._bare, self._spaced, self._avoid
        out = [0] * len(texts)
        slow: list[int] = []
        for i, text in enumerate(texts):
            if len(text) > MAX_TEXT_CHARS or any(map(text.__contains__, avoid)):
                slow.append(i)
                continue
            words = text.split(" ")
            try:
                out[i] = bare[words[0]] + sum(map(spaced.__getitem__, words[1:]))
            except KeyError:
                slow.append(i)
        if slow:
            self._count_new(texts, slow, out, count_all)
        return out

    def _count_new(self, texts: Sequence[str], slow: list[int], out: list[int],
                   count_all: Callable[[list[str]], list[int]]) -> None:  # fmt: skip
        """Count the texts at ``slow``: their unseen words in one call of ``count_all``, then the sums."""
        bare, spaced, avoid = self._bare, self._spaced, self._avoid
        if len(bare) + len(spaced) >= self._max:
            # Forgotten before the new words are listed, so every word of these texts is among them.
            bare.clear()
            spaced.clear()
            bare[""] = 0
        split: list[tuple[int, list[str], bool]] = []  # (index, words, cut before every space)
        whole: list[int] = []
        new_bare: set[str] = set()
        new_spaced: set[str] = set()
        for i in slow:
            text = texts[i]
            if len(text) > MAX_TEXT_CHARS:
                whole.append(i)
            elif any(map(text.__contains__, avoid)):
                words = self._words.findall(text)
                new_bare.update(set(words).difference(bare))
                split.append((i, words, False))
            else:
                words = text.split(" ")
                if words[0] not in bare:
                    new_bare.add(words[0])
                new_spaced.update(set(words[1:]).difference(spaced))
                split.append((i, words, True))
        ordered_bare, ordered_spaced = list(new_bare), list(new_spaced)
        n_bare, n_words = len(ordered_bare), len(ordered_bare) + len(ordered_spaced)
        counts = count_all(ordered_bare + [" " + word for word in ordered_spaced] + [texts[i] for i in whole])
        bare.update(zip(ordered_bare, counts[:n_bare], strict=True))
        spaced.update(zip(ordered_spaced, counts[n_bare:n_words], strict=True))
        for i, n in zip(whole, counts[n_words:], strict=True):
            out[i] = n
        for i, words, spaced_after_first in split:
            if spaced_after_first:
                out[i] = bare[words[0]] + sum(map(spaced.__getitem__, words[1:]))
            else:
                out[i] = sum(map(bare.__getitem__, words))
        # Long words are not kept: the next text that holds one counts it again.
        for word in ordered_bare:
            if len(word) > MAX_WORD_CHARS:
                del bare[word]
        for word in ordered_spaced:
            if len(word) >= MAX_WORD_CHARS:
                del spaced[word]
