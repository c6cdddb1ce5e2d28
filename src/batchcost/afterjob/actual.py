"""What a batch job's results cost: its ``usageMetadata`` priced with the book's rates, token for token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

import numpy as np

from ..batchfile.results import MODALITIES, OK, ResultSet

if TYPE_CHECKING:
    from ..pricing import ModeRates


# -- actual cost ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActualCost:
    """The exact cost of the successful results in one mode.

    Attributes:
        rates: the rates used.
        total: USD.
        by_component: ``input`` (non-cached prompt and tool-use), ``cached_input``, ``output``.
        detail: ``prompt_input``, ``tool_use_input``, ``cached_input``, ``candidates_output``,
            ``thoughts_output`` (sums to ``total``).
        input_by_modality: the ``input`` component by modality.
        cached_by_modality: the ``cached_input`` component by modality.
        uncached_input: what all prompt and tool-use tokens would cost at the input rates (no
            cache hits); used to measure what caching saved.
        requests_above_threshold: requests in the >200k tier.
        notes: notes from pricing.
    """

    rates: ModeRates
    total: Decimal
    by_component: Mapping[str, Decimal]
    detail: Mapping[str, Decimal]
    input_by_modality: Mapping[str, Decimal]
    cached_by_modality: Mapping[str, Decimal]
    uncached_input: Decimal
    requests_above_threshold: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Usage:
    """Successful results' usage as arrays, ready for :func:`price_tokens`."""

    prompt: np.ndarray  # prompt + tool-use: decides the tier
    noncached: dict[str, np.ndarray]
    cached: dict[str, np.ndarray]
    tool: dict[str, np.ndarray]
    uncached: dict[str, np.ndarray]
    candidates: np.ndarray
    thoughts: np.ndarray

    @classmethod
    def of(cls, rs: ResultSet) -> _Usage:
        r = rs.rows
        ok = r["status"] == OK
        i8 = np.int64
        prompt_m = {m: r[f"prompt_{m}"][ok].astype(i8) for m in MODALITIES}
        cached_m = {m: r[f"cached_{m}"][ok].astype(i8) for m in MODALITIES}
        tool_m = {m: r[f"tool_{m}"][ok].astype(i8) for m in MODALITIES}
        return cls(
            prompt=r["prompt"][ok].astype(i8) + r["tool_use"][ok].astype(i8),
            noncached={m: prompt_m[m] - cached_m[m] + tool_m[m] for m in MODALITIES},
            cached=cached_m,
            tool=tool_m,
            uncached={m: prompt_m[m] + tool_m[m] for m in MODALITIES},
            candidates=r["candidates"][ok].astype(i8),
            thoughts=r["thoughts"][ok].astype(i8),
        )


def _linear(rates: ModeRates, tokens: Mapping[str, np.ndarray], above: np.ndarray | None) -> Decimal:
    """Input-rate cost of ``tokens`` (by modality), each request in its tier (exact)."""
    total = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        for m, arr in tokens.items():
            high = int(arr[above].sum()) if above is not None and rates.input_above is not None else 0
            low = int(arr.sum()) - high
            total += Decimal(low) * rates.input[m].usd_per_mtok
            if high:
                assert rates.input_above is not None
                total += Decimal(high) * rates.input_above[m].usd_per_mtok
        return total.scaleb(-6)


def price_results(rs: ResultSet, rates: ModeRates) -> ActualCost:
    """Price the successful lines of ``rs`` with ``rates`` (see the module docstring for the rules).

    Raises:
        UnpricedError: cached tokens but no cache-read rate, or output but no output rate.
    """
    from ..pricing import price_tokens

    u = _Usage.of(rs)
    output = u.candidates + u.thoughts
    full = price_tokens(
        rates, prompt_tokens=u.prompt, input_by_modality=u.noncached, output_tokens=output, cached_tokens=u.cached
    )
    answers = price_tokens(
        rates,
        prompt_tokens=u.prompt,
        input_by_modality=u.noncached,
        output_tokens=u.candidates,
        cached_tokens=u.cached,
    )
    uncached = price_tokens(
        rates, prompt_tokens=u.prompt, input_by_modality=u.uncached, output_tokens=np.zeros_like(output)
    )
    above = u.prompt > rates.tier_threshold if rates.tier_threshold is not None else None
    tool_cost = _linear(rates, u.tool, above)
    thoughts_cost = full.by_component["output"] - answers.by_component["output"]
    detail = {
        "prompt_input": full.by_component["input"] - tool_cost,
        "tool_use_input": tool_cost,
        "cached_input": full.by_component["cached_input"],
        "candidates_output": answers.by_component["output"],
        "thoughts_output": thoughts_cost,
    }
    return ActualCost(
        rates=rates,
        total=full.total,
        by_component=dict(full.by_component),
        detail=detail,
        input_by_modality=dict(full.input_by_modality),
        cached_by_modality=dict(full.cached_by_modality),
        uncached_input=uncached.total,
        requests_above_threshold=full.requests_above_threshold,
        notes=full.notes,
    )
