"""Small display helpers shared by the report's sections: counts, sizes, percentages, line ranges, file names."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markupsafe import Markup


def markup(svg: str) -> Markup:
    """A chart's SVG as markup the template inserts unescaped."""
    from markupsafe import Markup

    # Trusted: produced by charts.py from numbers and our own labels, with ids prefixed and any
    # active content refused there (charts._inline).
    return Markup(svg)


def dec(value: Any) -> Decimal | None:
    """``value`` as a Decimal, or None when it is None or not a number."""
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def pct(part: Decimal, whole: Decimal) -> str:
    """``part`` as a percentage of ``whole`` to one decimal ("12.5%"), "-" when ``whole`` is 0."""
    return "-" if not whole else f"{part / whole * 100:.1f}%"


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` with the noun in the number it takes: "1 file", "3 files"."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def size(n: int | None) -> str:
    """A byte count in GB, MB or kB with the exact bytes after it ("1.50 MB (1,500,000 bytes)")."""
    if n is None:
        return "-"
    for unit, div in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= div:
            return f"{n / div:,.2f} {unit} ({n:,} bytes)"
    return count(n, "byte")


def interval(d: Mapping[str, Any]) -> str:
    """A token interval: "low - high", "exact" when they meet, "-" when unknown."""
    if d.get("low") is None or d.get("high") is None:
        return "-"
    return "exact" if d["low"] == d["high"] else f"{d['low']:,} - {d['high']:,}"


def num(v: Any) -> str:
    """A figure of the plan for display: whole numbers with thousands separators, None as "-"."""
    return "-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)


def tokens_or_unknown(value: int | None) -> str:
    """A token ceiling for display: None (a request without a known ceiling) reads "unknown", never 0."""
    return "unknown" if value is None else f"{value:,}"


def file_name(path: Any) -> str:
    """The last part of a path ("/home/ana/data/reviews.jsonl" -> "reviews.jsonl"), for either separator."""
    text = str(path or "")
    return re.split(r"[\\/]", text.rstrip("\\/"))[-1] or text


# An absolute local path: "/x/y" not inside a URL or a relative path, "~/x", or "C:\x".
_LOCAL_PATH = re.compile(r"(?<![\w.:/\\~-])(?:/|~/|[A-Za-z]:\\)(?:[\w.~+@-]+[\\/])+[\w.~+@-]*")


def hide_local_paths(text: str) -> str:
    """``text`` with every absolute local path reduced to its file name.

    The page is forwarded to people outside the machine that made it: where the user keeps files
    (and their user name, inside home paths) is none of their business. The JSON plan keeps the
    full paths for the user's own tools.
    """
    return _LOCAL_PATH.sub(lambda m: file_name(m.group(0)), text)


def line_ranges(ranges: Sequence[Sequence[int]], *, listed: int = 3) -> str:
    """Input line ranges for reading: "1–350", "1–176, 208 and 348", "1–176 and 147 other ranges, 1,204 lines in all"."""
    parts = [f"{a:,}" if a == b else f"{a:,}–{b:,}" for a, b in ranges]
    if not parts:
        return "-"
    if len(parts) <= listed:
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    lines = sum(b - a + 1 for a, b in ranges)
    return f"{parts[0]} and {len(parts) - 1:,} other ranges, {lines:,} lines in all"


def numbers_span(numbers: Sequence[int]) -> str:
    """Shard numbers of a wave: [1, 2, 3, 5] -> "1–3 and 5"."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return line_ranges(runs, listed=len(runs)) if runs else "-"


def sentence(text: str) -> str:
    """Capitalised and ending with a full stop, for a line shown as a sentence."""
    text = text.strip()
    if not text:
        return ""
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")
