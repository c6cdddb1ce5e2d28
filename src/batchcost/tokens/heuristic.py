"""An offline, approximate token counter: a per-script linear rule fitted to exact Gemma 3 counts.

It is used only when no exact counter is available (no local tokenizer model, no API). Each text is
reduced to a few dozen integer features (Latin letters and words, digits, punctuation runs, CJK,
Cyrillic, Indic... letters, newline and space runs, symbols) and the estimate is their weighted sum,
with weights fitted by ``bench/fit_heuristic.py`` on the golden file
``gemma3-token-counts.jsonl``. Per text it can be far off (short and unusual texts especially);
summed over many texts the errors largely cancel, which is what estimates use. Every figure it
produces must be shown as approximate, with :func:`stated_error_pct`.

How it stays fast in pure Python (20-30 MB/s of English per core, see docs/heuristic.md): every
character is mapped to a one-byte class code with ``bytes.translate`` (non-ASCII characters first
go through a cached ``str.translate`` table), and each feature is then a ``bytes.count`` of a class
code or of a short class pattern, all in C. Runs ("words", "newline runs") are counted as the
number of places where a run starts, after collapsing the class string to ``0``/``1`` with one more
``bytes.translate``.

Every feature can only grow when text is appended and every coefficient is non-negative, so the
count of ``a + b`` is never below the count of ``a``.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from batchcost.errors import TokenizerError

__all__ = [
    "COEFFICIENTS",
    "FEATURE_NAMES",
    "FIT_DATE",
    "FIT_TEXTS",
    "HEURISTIC_ERROR",
    "HeuristicCounter",
    "HeuristicError",
    "features",
    "stated_error_pct",
]

# --- character classes ------------------------------------------------------------------------
# One ASCII byte per class. Letters are split by script because Gemma 3's vocabulary covers the
# scripts very unevenly (an English word is usually one token, a Devanagari word several).
_LOWER, _UPPER, _ACCENTED = "a", "A", "e"  # Latin a-z, A-Z, other Latin letters (é, ß, ｆ...)
_DIGIT, _PUNCT, _SPACE, _NEWLINE, _TAB = "d", "p", " ", "n", "t"
_HAN, _KANA, _HANGUL = "c", "k", "h"
_GREEK, _CYRILLIC, _RTL, _INDIC, _SEA, _OTHER_LETTER = "g", "y", "r", "i", "u", "o"
_MARK, _OTHER_PUNCT, _SYMBOL, _OTHER_SPACE, _CONTROL = "m", "q", "s", "z", "x"

# Script of a letter (Unicode category L*) by code point block: (first, last, class).
_LETTER_BLOCKS: Final = sorted(
    [
        (0x00AA, 0x024F, _ACCENTED),  # Latin-1 Supplement letters, Latin Extended-A/B
        (0x0250, 0x02FF, _ACCENTED),  # IPA, spacing modifier letters
        (0x1D00, 0x1DBF, _ACCENTED),  # phonetic extensions
        (0x1E00, 0x1EFF, _ACCENTED),  # Latin Extended Additional (Vietnamese)
        (0x2C60, 0x2C7F, _ACCENTED),
        (0xA720, 0xA7FF, _ACCENTED),
        (0xAB30, 0xAB6F, _ACCENTED),
        (0xFF21, 0xFF3A, _ACCENTED),  # fullwidth Latin
        (0xFF41, 0xFF5A, _ACCENTED),
        (0x0370, 0x03FF, _GREEK),
        (0x1F00, 0x1FFF, _GREEK),
        (0x0400, 0x052F, _CYRILLIC),
        (0x1C80, 0x1C8F, _CYRILLIC),
        (0xA640, 0xA69F, _CYRILLIC),
        (0x0590, 0x08FF, _RTL),  # Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan, Mandaic
        (0xFB1D, 0xFDFF, _RTL),
        (0xFE70, 0xFEFE, _RTL),
        (0x0900, 0x0DFF, _INDIC),  # Devanagari ... Sinhala
        (0x0E00, 0x0EFF, _SEA),  # Thai, Lao
        (0x1000, 0x109F, _SEA),  # Myanmar
        (0x1780, 0x17FF, _SEA),  # Khmer
        (0x1100, 0x11FF, _HANGUL),
        (0x3130, 0x318F, _HANGUL),
        (0xA960, 0xA97F, _HANGUL),
        (0xAC00, 0xD7FF, _HANGUL),
        (0xFFA0, 0xFFDC, _HANGUL),
        (0x3040, 0x30FF, _KANA),
        (0x31F0, 0x31FF, _KANA),
        (0xFF66, 0xFF9F, _KANA),
        (0x1B000, 0x1B16F, _KANA),
        (0x3005, 0x3007, _HAN),
        (0x3400, 0x4DBF, _HAN),
        (0x4E00, 0x9FFF, _HAN),
        (0xF900, 0xFAFF, _HAN),
        (0x20000, 0x3FFFF, _HAN),
    ]
)
_BLOCK_STARTS: Final = [first for first, _, _ in _LETTER_BLOCKS]


def _classify(code_point: int) -> str:
    """Return the one-character class of a code point."""
    if code_point < 128:
        char = chr(code_point)
        if "a" <= char <= "z":
            return _LOWER
        if "A" <= char <= "Z":
            return _UPPER
        if "0" <= char <= "9":
            return _DIGIT
        if char == " ":
            return _SPACE
        if char == "\n":
            return _NEWLINE
        if char == "\t":
            return _TAB
        return _PUNCT if 33 <= code_point <= 126 else _CONTROL
    category = unicodedata.category(chr(code_point))
    major = category[0]
    if major == "L":
        where = bisect.bisect_right(_BLOCK_STARTS, code_point) - 1
        if where >= 0:
            _, last, script = _LETTER_BLOCKS[where]
            if code_point <= last:
                return script
        return _OTHER_LETTER
    if major == "M":
        return _MARK
    if category == "Nd":
        return _DIGIT  # Gemma 3 splits digits: each is its own token
    if major in "NS":
        return _SYMBOL
    if major == "P":
        return _OTHER_PUNCT
    if category == "Zs":
        return _OTHER_SPACE
    if category in ("Zl", "Zp"):
        return _NEWLINE
    return _CONTROL  # Cc, Cf, Co, Cn, Cs: mostly byte-fallback tokens


_ASCII_LIKE: Final = _LOWER + _UPPER + _ACCENTED + _DIGIT + _PUNCT + _SPACE + _NEWLINE + _TAB
_SCRIPTS: Final = _HAN + _KANA + _HANGUL + _GREEK + _CYRILLIC + _RTL + _INDIC + _SEA + _OTHER_LETTER
_CLASSES: Final = _ASCII_LIKE + _SCRIPTS + _MARK + _OTHER_PUNCT + _SYMBOL + _OTHER_SPACE + _CONTROL
# Non-ASCII characters are first replaced by one Latin-1 stand-in per class (U+0080 + class number),
# so a text of any script becomes a Latin-1 string; one bytes.translate then maps ASCII characters
# and stand-ins alike to class codes.
_STAND_IN: Final = {cls: chr(0x80 + number) for number, cls in enumerate(_CLASSES)}
_BYTE_CLASS: Final = bytes(
    [ord(_classify(b)) for b in range(128)]
    + [ord(_CLASSES[b - 0x80]) if b - 0x80 < len(_CLASSES) else 0 for b in range(128, 256)]
)
# Distinct code points are few in practice; the cap only guards memory against adversarial input.
_CACHE_LIMIT: Final = 1 << 17


class _StandInTable(dict[int, str]):
    """``str.translate`` table: ASCII characters stay, others become their class's stand-in."""

    __slots__ = ()

    def __missing__(self, code_point: int) -> str:
        value = chr(code_point) if code_point < 128 else _STAND_IN[_classify(code_point)]
        if len(self) < _CACHE_LIMIT:
            self[code_point] = value
        return value


_STAND_IN_OF: Final = _StandInTable()
_NON_ASCII_RUN: Final = re.compile(r"[^\x00-\x7f]+")


def _stand_in_run(match: re.Match[str]) -> str:
    return match.group().translate(_STAND_IN_OF)


def _class_bytes(text: str) -> bytes:
    """Return the class code of every character of ``text``, one byte each."""
    if text.isascii():
        return text.encode("ascii").translate(_BYTE_CLASS)
    # str.translate calls the table once per character, ASCII included; when non-ASCII characters
    # are rare (English with curly quotes), translating only their runs is several times faster.
    # Extra UTF-8 bytes over-count them, so the cheap test errs towards the always-correct path.
    if 16 * (len(text.encode("utf-8", "surrogatepass")) - len(text)) < len(text):
        marked = _NON_ASCII_RUN.sub(_stand_in_run, text)
    else:
        marked = text.translate(_STAND_IN_OF)
    return marked.encode("latin-1").translate(_BYTE_CLASS)


def _group_table(members: str) -> bytes:
    """bytes.translate table mapping the member classes to ``1`` and every other byte to ``0``."""
    return bytes(0x31 if chr(b) in members else 0x30 for b in range(256))


# --- features ---------------------------------------------------------------------------------
# (name, class pattern): occurrences of the pattern in the class string (patterns never overlap
# themselves, so bytes.count counts every occurrence).
_COUNTS: Final[tuple[tuple[str, str], ...]] = (
    ("latin_lower", _LOWER),
    ("latin_accented", _ACCENTED),
    ("digits", _DIGIT),
    ("space_digit", _SPACE + _DIGIT),  # " 7" is two tokens: "▁" then "7"
    ("ascii_punct", _PUNCT),
    ("han", _HAN),
    ("kana", _KANA),
    ("hangul", _HANGUL),
    ("greek", _GREEK),
    ("cyrillic", _CYRILLIC),
    ("rtl", _RTL),
    ("indic", _INDIC),
    ("southeast_asian", _SEA),
    ("other_letters", _OTHER_LETTER),
    ("marks", _MARK),
    ("other_punct", _OTHER_PUNCT),
    ("symbols", _SYMBOL),
    ("other_spaces", _OTHER_SPACE),
    ("controls", _CONTROL),
)
# (name, member classes, minimum length): number of maximal runs of member classes at least that long.
_RUNS: Final[tuple[tuple[str, str, int], ...]] = (
    ("latin_words", _LOWER + _UPPER + _ACCENTED, 1),
    ("latin_words_4plus", _LOWER + _UPPER + _ACCENTED, 4),
    ("latin_words_12plus", _LOWER + _UPPER + _ACCENTED, 12),
    ("upper_runs", _UPPER, 1),
    ("ascii_punct_runs", _PUNCT, 1),
    ("space_runs_2plus", _SPACE, 2),
    ("newline_runs", _NEWLINE, 1),  # newline runs are single user-defined pieces in Gemma 3
    ("tab_runs", _TAB, 1),
    ("cjk_runs", _HAN + _KANA + _HANGUL, 1),
    ("greek_words", _GREEK, 1),
    ("cyrillic_words", _CYRILLIC, 1),
    ("rtl_words", _RTL, 1),
    ("indic_words", _INDIC, 1),
    ("southeast_asian_words", _SEA, 1),
    ("other_words", _OTHER_LETTER, 1),
)

FEATURE_NAMES: Final[tuple[str, ...]] = (
    "text",  # 1 for any non-empty text: its first word has no "▁" prefix to merge with
    *(name for name, _ in _COUNTS),
    *(name for name, _, _ in _RUNS),
    # Latin words not right after a space (after punctuation, a newline, a digit, at the start): they
    # cannot use the common "▁word" pieces, so they cost more (`{"name":` and `foo.bar` are typical).
    "latin_words_glued",
)

_ASCII_CLASSES: Final = frozenset(_classify(cp) for cp in range(128))
_ASCII_CLASS_CODES: Final = "".join(sorted(_ASCII_CLASSES)).encode("ascii")
_RUN_BASE: Final = 1 + len(_COUNTS)
_LATIN_WORDS: Final = FEATURE_NAMES.index("latin_words")
_LATIN_WORDS_GLUED: Final = FEATURE_NAMES.index("latin_words_glued")
_SPACED_LATIN: Final = tuple((_SPACE + letter).encode("ascii") for letter in (_LOWER, _UPPER, _ACCENTED))


def _run_spec(index: int, members: str, min_length: int) -> tuple[int, bytes, bytes, bytes]:
    return index, _group_table(members), b"0" + b"1" * min_length, b"1" * min_length


# Features that can be non-zero for ASCII text: always computed.
_ASCII_COUNT_SPECS: Final = tuple(
    (1 + i, pattern.encode("ascii")) for i, (_, pattern) in enumerate(_COUNTS) if set(pattern) <= _ASCII_CLASSES
)
_ASCII_RUN_SPECS: Final = tuple(
    _run_spec(_RUN_BASE + i, members, k) for i, (_, members, k) in enumerate(_RUNS) if set(members) & _ASCII_CLASSES
)
# The others, each with the class codes it needs: computed only when one of them occurs, so that
# mostly-ASCII text (English with curly quotes) costs little more than pure ASCII.
_OTHER_COUNT_SPECS: Final = tuple(
    (frozenset(pattern.encode("ascii")), 1 + i, pattern.encode("ascii"))
    for i, (_, pattern) in enumerate(_COUNTS)
    if not set(pattern) <= _ASCII_CLASSES
)
_OTHER_RUN_SPECS: Final = tuple(
    (frozenset(members.encode("ascii")), *_run_spec(_RUN_BASE + i, members, k))
    for i, (_, members, k) in enumerate(_RUNS)
    if not set(members) & _ASCII_CLASSES
)


def features(text: str) -> list[int]:
    """Return the feature vector of one text, in :data:`FEATURE_NAMES` order.

    Args:
        text: any string (lone surrogates and control characters included).

    Returns:
        Non-negative integers; all zero for the empty string.
    """
    values = [0] * len(FEATURE_NAMES)
    if not text:
        return values
    values[0] = 1
    classes = _class_bytes(text)
    count = classes.count
    for index, pattern in _ASCII_COUNT_SPECS:
        values[index] = count(pattern)
    for index, table, run_start, run_prefix in _ASCII_RUN_SPECS:
        # A run of >= k members starts wherever a non-member is followed by k members, or at the start.
        flags = classes.translate(table)
        values[index] = flags.count(run_start) + flags.startswith(run_prefix)
    values[_LATIN_WORDS_GLUED] = values[_LATIN_WORDS] - sum(count(pair) for pair in _SPACED_LATIN)
    if not text.isascii():
        present = set(classes.translate(None, _ASCII_CLASS_CODES))
        for needs, index, pattern in _OTHER_COUNT_SPECS:
            if not needs.isdisjoint(present):
                values[index] = count(pattern)
        for needs, index, table, run_start, run_prefix in _OTHER_RUN_SPECS:
            if not needs.isdisjoint(present):
                flags = classes.translate(table)
                values[index] = flags.count(run_start) + flags.startswith(run_prefix)
    return values


@dataclass(frozen=True, slots=True)
class HeuristicError:
    """Measured error of the heuristic on held-out texts with exact Gemma 3 counts.

    Attributes:
        per_text_mean_pct: mean of |estimate - exact| / exact over the texts, in %.
        per_text_p95_pct: 95th percentile of that per-text error, in %.
        total_bias_pct: (sum of estimates - sum of exact counts) / sum of exact counts, in %.
        total_abs_bound_pct: the bound claimed for |error of a total| of this kind of text, in %:
            the worst |total bias| over both halves of the split, rounded up, plus one point.
    """

    per_text_mean_pct: float
    per_text_p95_pct: float
    total_bias_pct: float
    total_abs_bound_pct: float


# --- fitted coefficients and measured error ------------------------------------------------------
# GENERATED by bench/fit_heuristic.py; re-run it and paste its output rather than editing by hand.
# Fitted 2026-11-27 on gemma3-token-counts.jsonl (exact Gemma 3 counts), seeded (20261127) fitting half of
# each category except "edge"; non-negative least squares on per-text relative error, categories
# weighted equally, plus one row per category for its total, ridge towards prior values;
# "digits" fixed at 1.
FIT_DATE: Final = "2026-11-27"
FIT_TEXTS: Final = 1149
COEFFICIENTS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "text": 0.4963,
        "latin_lower": 0.0737,
        "latin_accented": 0.9087,
        "digits": 1.0000,
        "space_digit": 1.1861,
        "ascii_punct": 0.0233,
        "han": 0.5907,
        "kana": 0.2723,
        "hangul": 0.4530,
        "greek": 0.3965,
        "cyrillic": 0.2744,
        "rtl": 0.3711,
        "indic": 0.2111,
        "southeast_asian": 0.1742,
        "other_letters": 0.4051,
        "marks": 0.5226,
        "other_punct": 1.0926,
        "symbols": 1.5706,
        "other_spaces": 1.1250,
        "controls": 1.5244,
        "latin_words": 0.5345,
        "latin_words_4plus": 0.1826,
        "latin_words_12plus": 0.4241,
        "upper_runs": 0.3323,
        "ascii_punct_runs": 0.4941,
        "space_runs_2plus": 0.7653,
        "newline_runs": 1.6979,
        "tab_runs": 1.0091,
        "cjk_runs": 0.4468,
        "greek_words": 0.3007,
        "cyrillic_words": 0.4310,
        "rtl_words": 0.2854,
        "indic_words": 0.1708,
        "southeast_asian_words": 0.2916,
        "other_words": 0.6047,
        "latin_words_glued": 0.7334,
    }
)

# Held-out half of the golden file (fields: per-text mean %, per-text p95 %, total bias %,
# bound on |total error| %), from bench/fit_heuristic.py.
HEURISTIC_ERROR: Final[Mapping[str, HeuristicError]] = MappingProxyType(
    {
        "edge": HeuristicError(70.9, 250.0, 7.0, 9.0),
        "en_paragraphs": HeuristicError(8.2, 28.6, -0.9, 2.0),
        "json_small": HeuristicError(3.1, 5.7, 0.5, 4.0),
        "mo_cjk_msgs": HeuristicError(12.2, 31.2, -2.4, 4.0),
        "mo_cyrillic_msgs": HeuristicError(13.0, 36.7, -0.8, 5.0),
        "mo_latin_eu_msgs": HeuristicError(20.9, 56.3, -1.8, 6.0),
        "mo_other_script_msgs": HeuristicError(22.2, 53.1, -3.6, 5.0),
        "py_blocks": HeuristicError(4.6, 14.4, -1.6, 3.0),
        "doc_en_prose": HeuristicError(3.6, 9.0, -1.2, 4.0),
        "doc_json": HeuristicError(3.1, 7.2, -1.6, 3.0),
        "doc_markdown": HeuristicError(3.7, 6.8, 3.1, 5.0),
        "doc_mo_cjk": HeuristicError(6.2, 11.3, -1.4, 4.0),
        "doc_mo_cyrillic": HeuristicError(7.5, 12.1, -6.8, 8.0),
        "doc_mo_latin_eu": HeuristicError(12.5, 31.6, 1.8, 9.0),
        "doc_mo_other_script": HeuristicError(8.6, 11.8, 1.6, 3.0),
        "doc_python": HeuristicError(3.8, 8.3, -3.2, 5.0),
        "overall": HeuristicError(12.3, 40.0, -0.6, 2.0),
    }
)
_STATED_ERROR_PCT: Final = 15.0


def stated_error_pct() -> float:
    """Return the ``±X%`` shown next to every heuristic total.

    It bounds the error of a total over many texts (what estimates use), not of one text: the
    largest |total bias| of any text category in the held-out measurements (both halves of the
    split, synthetic edge cases excluded) plus 5 points, rounded up to a multiple of 5. It holds for
    text like the golden file's (prose, code, JSON, Markdown, UI messages in many scripts); text
    unlike it, such as base64 or random identifiers, can be further off (docs/heuristic.md).
    Per-text errors are much larger (see :data:`HEURISTIC_ERROR`).
    """
    return _STATED_ERROR_PCT


class HeuristicCounter:
    """Approximate :class:`~batchcost.tokens.base.TextCounter`: no model file, no network.

    Example:
        >>> HeuristicCounter().count_texts(["", "1234567890"])  # exact Gemma 3 counts: 0 and 10
        [0, 10]

    Attributes:
        name: ``"heuristic"``.
        exact: always False; show its totals with :func:`stated_error_pct`.
        description: one line saying what the rule is and what it was fitted on.
    """

    name = "heuristic"
    parallel_safe = True  # pure functions: a forked child can count with it
    exact = False

    def __init__(self, coefficients: Mapping[str, float] | None = None) -> None:
        """Create a counter.

        Args:
            coefficients: weight per feature name (all of :data:`FEATURE_NAMES`, finite and >= 0);
                the fitted :data:`COEFFICIENTS` when None. Used to score candidate fits.

        Raises:
            TokenizerError: when ``coefficients`` misses or adds a feature, or has a negative or
                non-finite weight.
        """
        if coefficients is None:
            coefficients = COEFFICIENTS
            self.description = (
                f"approximate per-script rule, fitted {FIT_DATE} on {FIT_TEXTS:,} texts "
                f"with exact Gemma 3 counts (±{stated_error_pct():g}% on totals)"
            )
        else:
            self.description = "approximate per-script rule with caller-supplied coefficients"
        missing = [name for name in FEATURE_NAMES if name not in coefficients]
        extra = sorted(set(coefficients) - set(FEATURE_NAMES))
        bad = [name for name, value in coefficients.items() if not (math.isfinite(value) and value >= 0)]
        if missing or extra or bad:
            raise TokenizerError(
                "heuristic coefficients do not fit the feature set "
                f"(missing: {missing or 'none'}; unknown: {extra or 'none'}; negative or not finite: "
                f"{bad or 'none'}); regenerate them with bench/fit_heuristic.py"
            )
        self._weights = tuple(float(coefficients[name]) for name in FEATURE_NAMES)

    def count_text(self, text: str) -> int:
        """Return the estimated token count of one text (0 for the empty string, else >= 1)."""
        if not text:
            return 0
        estimate = sum(w * v for w, v in zip(self._weights, features(text), strict=True))
        # Round half up; a non-empty text is always at least one token.
        return max(1, math.floor(estimate + 0.5))

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        """Return the estimated token count of each text, in order."""
        return [self.count_text(text) for text in texts]
