"""Money as batchcost writes it: exact decimal strings in documents.

Amounts are :class:`decimal.Decimal` everywhere; rounding happens only when a renderer displays one
(``batchcost.reports.terminal.money``).
"""

from __future__ import annotations

from decimal import Decimal


def usd(value: Decimal | None) -> str | None:
    """Exact decimal string of a USD amount (``"0.0030"`` stays exact; None stays None)."""
    return None if value is None else format(value.normalize(), "f") if value else "0"
