"""Byte classes of a request's text: the cheap figures that predict Gemma tokens far better than characters.

Characters alone say little about tokens: Gemma 3 gives every digit its own token, takes a common
English word with its leading space as one, and spends about 0.6 tokens on a CJK character but 0.3 on a
Cyrillic letter. How many bytes of each class a text has (ASCII lower- and upper-case letters, digits,
punctuation, spaces, newlines, and UTF-8 lead bytes by the script block they start) explains most of
what characters do not: on long mixed documents a least-squares fit on these classes leaves a residual
about 15 times smaller (in standard deviation) than tokens-per-character does. The sampled token
estimate (:mod:`batchcost.tokens.sampled`) uses them as auxiliary variables.

They are counted over the UTF-8 bytes of every text of the request with one ``numpy.bincount`` (about
2 ms per MB), so the scan records them only when asked (``scan(..., text_classes=True)``) and only for
requests with at least :data:`CLASS_MIN_CHARS` characters of text: short requests are cheaper to
tokenize than to describe, and the estimate samples them by characters instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..text_memo import TextMemo

# Requests with at least this many characters of countable text get class counts (see the module doc).
CLASS_MIN_CHARS = 4000

# (name, the bytes it counts): every byte value is in at most one class. UTF-8 continuation bytes
# (0x80-0xBF) are in none: a lead byte stands for its whole character. NUL is in none either, so that
# texts can be counted joined by it.
BYTE_CLASSES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("lower", tuple(range(0x61, 0x7B))),
    ("upper", tuple(range(0x41, 0x5B))),
    ("digit", tuple(range(0x30, 0x3A))),
    ("punct", (*range(0x21, 0x30), *range(0x3A, 0x41), *range(0x5B, 0x61), *range(0x7B, 0x7F))),
    ("space", (0x20,)),
    ("newline", (0x0A,)),
    ("control", (*range(0x01, 0x0A), *range(0x0B, 0x20), 0x7F)),  # tabs, carriage returns... (not NUL)
    ("latin1", (0xC2, 0xC3)),  # U+0080-00FF: accented Latin letters, symbols
    ("latin_ext_greek", tuple(range(0xC4, 0xD0))),  # U+0100-03FF: Latin extended, IPA, combining, Greek
    ("cyrillic", tuple(range(0xD0, 0xD5))),  # U+0400-053F
    ("rtl", tuple(range(0xD5, 0xE0))),  # U+0540-07FF: Armenian, Hebrew, Arabic, Syriac...
    ("indic_thai", (0xE0,)),  # U+0800-0FFF: Devanagari, Bengali, Tamil..., Thai, Lao, Tibetan
    ("u1000", (0xE1,)),  # U+1000-1FFF: Myanmar, Georgian, Jamo, Ethiopic, Khmer, Vietnamese letters
    ("symbols", (0xE2,)),  # U+2000-2FFF: general punctuation, arrows, maths, box drawing
    ("cjk", tuple(range(0xE3, 0xEA))),  # U+3000-9FFF: CJK punctuation, kana, ideographs
    ("hangul", tuple(range(0xEA, 0xEE))),  # U+A000-DFFF: Hangul syllables, Yi (and surrogates)
    ("u_e000", (0xEE, 0xEF)),  # U+E000-FFFF: private use, compatibility and full-width forms
    ("four_byte", tuple(range(0xF0, 0xF5))),  # U+10000 and up: emoji, rare ideographs
)
CLASS_NAMES: tuple[str, ...] = tuple(name for name, _ in BYTE_CLASSES)
N_CLASSES = len(BYTE_CLASSES)

# Texts over this many characters are encoded a slice at a time (a long text is not copied whole).
_SLICE_CHARS = 1 << 20
# Texts with at least this many characters are remembered; shorter ones are counted together.
_REMEMBER_CHARS = 1024
# Memory the remembered texts may hold in each scan worker (the least recently used go first).
_REMEMBER_BYTES = 8 * 1024 * 1024


def _class_of_byte() -> Any:
    import numpy as np

    table = np.full(256, N_CLASSES, np.intp)  # N_CLASSES: a byte of no class (dropped)
    for i, (_, values) in enumerate(BYTE_CLASSES):
        assert (table[list(values)] == N_CLASSES).all(), "byte classes overlap"
        table[list(values)] = i
    return table


_TABLE: Any = None


def byte_histogram(data: bytes) -> Any:
    """How often each of the 256 byte values occurs in ``data`` (int64 array)."""
    import numpy as np

    n = len(data)
    if n >= 1 << 20:
        # pairs of bytes as one uint16: half the elements for bincount, which is per element
        pairs = np.bincount(np.frombuffer(data, np.uint16, n // 2), minlength=65536).reshape(256, 256)
        hist = pairs.sum(axis=0) + pairs.sum(axis=1)  # either byte order: both bytes of each pair counted
        if n % 2:
            hist[data[-1]] += 1
        return hist
    return np.bincount(np.frombuffer(data, np.uint8), minlength=256)


class ClassCounter:
    """Counts byte classes, remembering the counts of the long texts it saw last.

    Batch files repeat long texts: a few shared system instructions, one document asked many
    questions. Looking a text up costs its hash and one comparison, a few times less than counting it.
    """

    def __init__(self, remember: int = 64) -> None:
        import numpy as np

        global _TABLE
        if _TABLE is None:
            _TABLE = _class_of_byte()
        self._np = np
        self._remember = remember
        self._seen: TextMemo[Any] = TextMemo(_REMEMBER_BYTES, remember)

    def _one(self, text: str) -> Any:
        np = self._np
        if len(text) <= _SLICE_CHARS:
            data = text.encode("utf-8", "surrogatepass")
            hist = byte_histogram(data)
            nbytes = len(data)
        else:
            hist = np.zeros(256, np.int64)
            nbytes = 0
            for lo in range(0, len(text), _SLICE_CHARS):
                data = text[lo : lo + _SLICE_CHARS].encode("utf-8", "surrogatepass")
                nbytes += len(data)
                hist += byte_histogram(data)
        out = np.bincount(_TABLE, weights=hist, minlength=N_CLASSES + 2).astype(np.int64)
        out[N_CLASSES] = nbytes  # the slot of the bytes of no class (continuation bytes): not a feature
        return out[: N_CLASSES + 1]

    def counts(self, texts: Iterable[str]) -> tuple[list[int], int]:
        """The byte-class counts (:data:`CLASS_NAMES` order) of all ``texts`` together, and their UTF-8 bytes.

        A lone surrogate (from a JSON ``\\ud800`` escape) is encoded as its three surrogate bytes, as
        the scan's byte count does.
        """
        total = None
        seen = self._seen
        short: list[str] = []
        for text in texts:
            if len(text) < _REMEMBER_CHARS or len(text) > _SLICE_CHARS or not self._remember:
                if text:
                    short.append(text)
                continue
            got = seen.get(text)
            if got is None:
                got = self._one(text)
                seen.put(text, got)
            total = got if total is None else total + got
        if short:
            # one count for the rest: a byte of no class (NUL) between texts changes no count
            got = self._one(short[0] if len(short) == 1 else "\x00".join(short))
            got[N_CLASSES] -= len(short) - 1  # the separators' bytes
            total = got if total is None else total + got
        if total is None:
            return [0] * N_CLASSES, 0
        values = total.tolist()
        return values[:N_CLASSES], values[N_CLASSES]


def class_counts(texts: Iterable[str]) -> tuple[list[int], int]:
    """The byte-class counts of all ``texts`` together, and their UTF-8 bytes (see :class:`ClassCounter`)."""
    return ClassCounter(0).counts(texts)


def add_text_classes(scan: Any) -> dict[str, Any]:
    """Count the byte classes of a scan made without them (``ScanResult.text_classes``), and keep them there.

    Reads every usable request with at least :data:`CLASS_MIN_CHARS` characters of text again; a scan
    asked for them (``scan(..., text_classes=True)``) gets them for little more than the encoding.
    """
    import numpy as np

    from .request import PLACES, request_texts

    if scan.text_classes is not None:
        return scan.text_classes  # type: ignore[no-any-return]
    rows = scan.rows
    chars = sum(rows[p + "_chars"].astype(np.int64) for p in PLACES)
    wanted = np.flatnonzero(rows["usable"].astype(bool) & (chars >= CLASS_MIN_CHARS))
    table = np.zeros((len(wanted), N_CLASSES), np.uint32)
    counter = ClassCounter()
    for i, (_row, request) in enumerate(scan.read_requests(wanted)):
        texts = request_texts(request)
        table[i] = counter.counts(t for p in PLACES for t in texts[p])[0]
    scan.text_classes = {"row": wanted.astype(np.int64), "counts": table}
    return scan.text_classes  # type: ignore[no-any-return]
