"""One mode's figures of an estimate: floor, expected, low, high and ceiling, split by component.

The token cost of each end comes from the cost function; the tool fees and tool-result tokens of
requests with Google Search or Maps, and an image-output model's generated images (in the floor too),
are added here.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .plan import ModeCost

if TYPE_CHECKING:
    from ..pricing import Cost


def mode_cost(
    mode: str,
    floor: Decimal,
    ceiling: Decimal | None,
    ends: Mapping[str, Cost],
    output_known: bool,
    mt: Any,
    images: Decimal = Decimal(0),
) -> ModeCost:
    """One mode's figures with their split by component (tool fees and tool-result tokens added).

    ``images`` is the cost of an image-output model's generated images: output, but known from the
    requests (``candidateCount`` images each), so it is in every end, the ceiling (already) and the
    floor too: a floor without them would understate an image batch many times over.
    """
    zero = Decimal(0)

    def fees(end: str) -> Decimal:
        return zero if mt is None else mt.fee_total(end)

    def tool_tokens(end: str) -> Decimal:
        return zero if mt is None else mt.tokens_total(end)

    by_component: dict[str, dict[str, Decimal | None]] = {
        "input": {w: c.by_component["input"] + tool_tokens(w) for w, c in ends.items()},
        "output": {w: c.by_component["output"] + images if output_known else None for w, c in ends.items()},
        "cache_reads": {w: c.by_component["cached_input"] for w, c in ends.items()},
        "cache_storage": dict.fromkeys(ends, zero),
        "tool_fees": {w: fees(w) for w in ends},
    }
    extra = {w: fees(w) + tool_tokens(w) for w in ends}
    return ModeCost(
        mode,
        floor=floor + images + extra["expected"],
        ceiling=None if ceiling is None else ceiling + extra["high"],
        expected=ends["expected"].total + images + extra["expected"] if output_known else None,
        low=ends["low"].total + images + extra["low"] if output_known else None,
        high=ends["high"].total + images + extra["high"] if output_known else None,
        by_component=by_component,
        tools=mt,
    )
