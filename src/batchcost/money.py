"""Money as batchcost writes it: exact decimal strings in documents.

Amounts are :class:`decimal.Decimal` everywhere. Three ways to write one, and only these:
:func:`usd` in documents (exact), :func:`money` and :func:`money_column` in tables and headlines
(rounded for reading, one precision per column),
:func:`exact` in messages that quote a rate or a figure the user may check by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal


def usd(value: Decimal | None) -> str | None:
    """Exact decimal string of a USD amount (``"0.0030"`` stays exact; None stays None)."""
    return None if value is None else format(value.normalize(), "f") if value else "0"


DUST = Decimal("0.0001")  # below this an amount is shown as "<$0.0001": nothing anyone pays separately
_MAX_DECIMALS = 4


def _decimals(values: Sequence[Decimal]) -> int:
    """Decimals that show every amount below $1 with two significant digits and tell rows apart."""
    small = [abs(v) for v in values if DUST <= abs(v) < 1]
    if not small:
        return 2
    # two significant digits of the smallest amount: 0.7373 -> 2 decimals, 0.0045 -> 4
    places = max(2, min(_MAX_DECIMALS, 1 - min(small).adjusted()))
    distinct = sorted(set(values))
    while places < _MAX_DECIMALS and any(
        # two amounts more than 0.1% apart would print alike (nearly equal ones may)
        _fixed(a, places) == _fixed(b, places) and b - a > abs(b) / 1000
        for a, b in itertools.pairwise(distinct)
    ):
        places += 1
    return places


def _fixed(value: Decimal, places: int) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):,}"


def money(value: str | Decimal | None) -> str:
    """A USD amount for display: cents from $1, two significant digits below (exact figures stay in JSON).

    ``None`` (unknown) is ``"-"``, never ``"$0"``; amounts under $0.0001 are ``"<$0.0001"``.
    """
    return money_column([value])[0]


def money_column(values: Sequence[str | Decimal | None]) -> list[str]:
    """Amounts that share a column (or a sentence): one precision for all, enough to tell them apart.

    Cents when every amount is $1 or more; otherwise enough decimals (at most four) for the smallest
    amount under $1 to show two significant digits and for different amounts to print differently.
    """
    amounts = [None if v is None else Decimal(v) for v in values]
    places = _decimals([a for a in amounts if a is not None])
    out = []
    for a in amounts:
        if a is None:
            out.append("-")
        elif a == 0:
            out.append("$0")
        elif abs(a) < DUST:
            out.append("<$0.0001" if a > 0 else "-<$0.0001")
        else:
            out.append(("-" if a < 0 else "") + "$" + _fixed(abs(a), places))
    return out


def exact(value: Decimal) -> str:
    """A rate or amount for messages: exact, at least two decimals (``$0.075``, ``$1.50``, ``$12``→``$12.00``)."""
    if value < 0:
        return "-" + exact(-value)
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"${int(whole):,}.{frac.ljust(2, '0')}"
