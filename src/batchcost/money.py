"""Money as batchcost writes it: exact decimal strings in documents.

Amounts are :class:`decimal.Decimal` everywhere. Three ways to write one, and only these:
:func:`usd` in documents (exact), :func:`money` in tables and headlines (rounded for reading),
:func:`exact` in messages that quote a rate or a figure the user may check by hand.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def usd(value: Decimal | None) -> str | None:
    """Exact decimal string of a USD amount (``"0.0030"`` stays exact; None stays None)."""
    return None if value is None else format(value.normalize(), "f") if value else "0"


def money(value: str | Decimal | None) -> str:
    """A USD amount for display: cents from $1, four decimals below (exact figures stay in JSON)."""
    if value is None:
        return "-"
    d = Decimal(value)
    if d == 0:
        return "$0"
    if d < 0:  # e.g. a cache that costs more than it saves
        return "-" + money(-d)
    if abs(d) >= 1:
        return f"${d.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    q = d.quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return f"${q}" if q else "<$0.0001"


def exact(value: Decimal) -> str:
    """A rate or amount for messages: exact, at least two decimals (``$0.075``, ``$1.50``, ``$12``→``$12.00``)."""
    if value < 0:
        return "-" + exact(-value)
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"${int(whole):,}.{frac.ljust(2, '0')}"
