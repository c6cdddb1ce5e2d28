"""Small display helpers shared by the report's sections: counts, sizes, percentages, chart markup."""

from __future__ import annotations

from collections.abc import Mapping
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
