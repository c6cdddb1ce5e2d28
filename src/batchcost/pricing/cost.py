"""Pricing token counts with a :class:`~batchcost.pricing.records.ModeRates`, per request, exactly.

Each request is put in its prompt-size tier on its own (a request above the threshold pays the
higher rates for *all* of its input, cached input and output - never a per-file average). Token
counts are summed per tier and component with numpy int64, and each sum is multiplied by its
Decimal rate and scaled by 10^-6: exact, because rate x sum equals the sum of rate x tokens.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import numpy.typing as npt

from batchcost.errors import UnpricedError
from batchcost.heap import is_zeros_view
from batchcost.pricing.records import MODALITIES, ModeRates, Rate, frozen_map
from batchcost.text import agree, plural

ArrayLike = Sequence[int] | npt.NDArray[np.integer[Any]]
COMPONENTS: tuple[str, ...] = ("input", "cached_input", "output")


@dataclass(frozen=True, slots=True)
class Cost:
    """The price of a set of requests in one mode.

    Attributes:
        model: billed model.
        mode: pricing mode.
        run_date: date of the prices.
        total: USD, exact (round only when displaying).
        by_component: ``input`` (non-cached), ``cached_input`` and ``output`` (thinking included);
            they sum to ``total``.
        input_by_modality: the ``input`` component split by modality (sums to ``by_component['input']``).
        cached_by_modality: the ``cached_input`` component split by modality.
        tokens: token totals per component.
        requests: number of requests priced.
        requests_above_threshold: requests in the higher prompt-size tier.
        notes: assumptions made while pricing (in addition to ``ModeRates.notes``).
    """

    model: str
    mode: str
    run_date: datetime.date
    total: Decimal
    by_component: Mapping[str, Decimal]
    input_by_modality: Mapping[str, Decimal]
    cached_by_modality: Mapping[str, Decimal]
    tokens: Mapping[str, int]
    requests: int
    requests_above_threshold: int
    notes: tuple[str, ...] = ()


def _array(name: str, values: ArrayLike, n: int | None) -> npt.NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one count per request), got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold whole token counts (int), got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {plural(arr.shape[0], 'entry', 'entries')} but prompt_tokens has {n}")
    if arr.size and int(arr.min()) < 0:
        raise ValueError(f"{name} has negative token counts")
    return arr


def _split_sum(arr: npt.NDArray[np.int64], above: npt.NDArray[np.bool_] | None) -> tuple[int, int]:
    """(sum over requests at or below the threshold, sum over requests above it)."""
    total = int(arr.sum())
    if above is None:
        return total, 0
    high = int(arr[above].sum())
    return total - high, high


def _money(tokens: int, rate: Rate) -> Decimal:
    if tokens == 0:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60  # far above any tokens x rate product: the result is exact
        return (Decimal(tokens) * rate.usd_per_mtok).scaleb(-6)


def price_tokens(
    rates: ModeRates,
    *,
    prompt_tokens: ArrayLike,
    input_by_modality: Mapping[str, ArrayLike],
    output_tokens: ArrayLike,
    cached_tokens: ArrayLike | Mapping[str, ArrayLike] | None = None,
) -> Cost:
    """Price requests (one entry per request in every array) with ``rates``.

    Args:
        rates: from :meth:`PriceBook.rates`.
        prompt_tokens: prompt tokens per request, cached tokens included (``promptTokenCount``);
            decides the tier.
        input_by_modality: modality -> non-cached input tokens per request (keys from
            ``MODALITIES``; missing modalities count as zero).
        output_tokens: billed output per request, thinking tokens included.
        cached_tokens: cached tokens per request, as one array (priced at the text cache-read rate)
            or as modality -> array.

    Returns:
        The exact cost, by component and modality.

    Raises:
        ValueError: arrays of different lengths, negative or non-integer counts, an unknown
            modality, or non-cached + cached input not adding up to ``prompt_tokens``.
        UnpricedError: cached or output tokens are present but their rate is unknown.
    """
    prompt = _array("prompt_tokens", prompt_tokens, None)
    n = prompt.shape[0]
    unknown = set(input_by_modality) - set(MODALITIES)
    if unknown:
        raise ValueError(f"unknown modality {sorted(unknown)}; use {', '.join(MODALITIES)}")
    inputs = {m: _array(f"input_by_modality[{m!r}]", a, n) for m, a in input_by_modality.items()}
    output = _array("output_tokens", output_tokens, n)
    notes: list[str] = []
    cached: dict[str, npt.NDArray[np.int64]] = {}
    if isinstance(cached_tokens, Mapping):
        bad = set(cached_tokens) - set(MODALITIES)
        if bad:
            raise ValueError(f"unknown cached modality {sorted(bad)}; use {', '.join(MODALITIES)}")
        cached = {m: _array(f"cached_tokens[{m!r}]", a, n) for m, a in cached_tokens.items()}
    elif cached_tokens is not None:
        cached = {"text": _array("cached_tokens", cached_tokens, n)}
        if rates.cache_read is not None and len({r.usd_per_mtok for r in rates.cache_read.values()}) > 1:
            notes.append("cached tokens were given without a modality split and are priced at the text cache-read rate")

    # (a modality no request uses is a view of one zero: with one array left, it is the sum itself)
    held = [arr for arr in (*inputs.values(), *cached.values()) if not is_zeros_view(arr)]
    if len(held) == 1:
        counted = held[0]
    else:
        counted = np.zeros(n, dtype=np.int64)
        for arr in held:
            counted += arr
    mismatch = np.flatnonzero(counted != prompt)
    if mismatch.size:
        i = int(mismatch[0])
        raise ValueError(
            f"request {i}: non-cached input ({int(counted[i]) - sum(int(a[i]) for a in cached.values())}) + "
            f"cached ({sum(int(a[i]) for a in cached.values())}) != prompt_tokens ({int(prompt[i])}); "
            f"{plural(mismatch.size, 'request')} {agree(mismatch.size, 'disagrees', 'disagree')}"
        )

    above = prompt > rates.tier_threshold if rates.tier_threshold is not None else None
    n_above = int(above.sum()) if above is not None else 0

    def pick(low: Rate | Mapping[str, Rate] | None, high: Rate | Mapping[str, Rate] | None) -> Any:
        return low, (high if rates.tier_threshold is not None else low)

    input_cost: dict[str, Decimal] = dict.fromkeys(MODALITIES, Decimal(0))
    low_in, high_in = pick(rates.input, rates.input_above)
    for modality, arr in inputs.items():
        below, high = _split_sum(arr, above)
        input_cost[modality] = _money(below, low_in[modality]) + _money(high, high_in[modality])

    cached_cost: dict[str, Decimal] = dict.fromkeys(MODALITIES, Decimal(0))
    cached_total = sum(int(a.sum()) for a in cached.values())
    if cached_total:
        if rates.cache_read is None:
            raise UnpricedError(
                f"{rates.model} {rates.mode}: {cached_total:,} cached tokens but no known cache-read rate on "
                f"{rates.run_date}; add one with --prices FILE or price without caching"
            )
        low_c, high_c = pick(rates.cache_read, rates.cache_read_above)
        for modality, arr in cached.items():
            below, high = _split_sum(arr, above)
            cached_cost[modality] = _money(below, low_c[modality]) + _money(high, high_c[modality])

    output_cost = Decimal(0)
    out_below, out_high = _split_sum(output, above)
    if out_below + out_high:
        if rates.output is None:
            raise UnpricedError(
                f"{rates.model} {rates.mode}: {plural(out_below + out_high, 'output token')} but the model has no "
                "output rate"
            )
        low_o, high_o = pick(rates.output, rates.output_above)
        output_cost = _money(out_below, low_o) + _money(out_high, high_o)

    by_component = {
        "input": sum(input_cost.values(), Decimal(0)),
        "cached_input": sum(cached_cost.values(), Decimal(0)),
        "output": output_cost,
    }
    tokens = {
        "input": sum(int(a.sum()) for a in inputs.values()),
        "cached_input": cached_total,
        "output": out_below + out_high,
    }
    return Cost(
        model=rates.model,
        mode=rates.mode,
        run_date=rates.run_date,
        total=sum(by_component.values(), Decimal(0)),
        by_component=frozen_map(by_component),
        input_by_modality=frozen_map(input_cost),
        cached_by_modality=frozen_map(cached_cost),
        tokens=frozen_map(tokens),
        requests=n,
        requests_above_threshold=n_above,
        notes=tuple(notes),
    )


def storage_cost(rates: ModeRates, tokens: int, hours: Decimal | int) -> Decimal:
    """Explicit-cache storage cost of ``tokens`` cached for ``hours``, in USD (exact).

    Raises:
        UnpricedError: the storage price is unknown or explicit caching is unsupported.
    """
    if rates.cache_storage is None:
        raise UnpricedError(
            f"{rates.model}: explicit-cache storage price unknown on {rates.run_date} (or explicit caching "
            "is not supported); add 'cache_storage' with --prices FILE"
        )
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(tokens) * Decimal(hours) * rates.cache_storage.usd_per_mtok).scaleb(-6)


def grounding_cost(rates: ModeRates, units: int) -> Decimal:
    """Search-grounding fee for ``units`` (queries or grounded prompts, see ``rates.grounding.unit``).

    Free allowances are not subtracted (their scope is UNKNOWN); the caller may show them.

    Raises:
        UnpricedError: the model has no known grounding fee.
    """
    if units == 0:
        return Decimal(0)
    if rates.grounding is None or rates.grounding.usd_per_1k is None:
        raise UnpricedError(f"{rates.model}: Search grounding fee unknown on {rates.run_date}")
    return Decimal(units) * rates.grounding.usd_per_1k / 1000
