"""Each request's cost as float64 dollars, for tables (the exact totals come from :mod:`.cost`).

The same rules as :func:`~batchcost.pricing.cost.price_tokens`: each request in its own prompt-size
tier (above the threshold it pays the higher rates for all its input, cached input and output),
input by modality, cached input at the cache-read rate, output (thinking included) at the output
rate. Only the arithmetic differs: a float64 per request instead of an exact Decimal per total, so
a column of millions of requests is built in milliseconds. Summed, the column equals the exact
total to within float rounding (far below a cent: the error is about 1e-16 of the total per request).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from ..errors import UnpricedError
from .records import ModeRates, Rate

FloatArray = npt.NDArray[np.float64]


def cost_per_request(
    rates: ModeRates,
    *,
    prompt_tokens: npt.NDArray[np.integer],
    input_by_modality: Mapping[str, npt.NDArray[np.integer]],
    output_tokens: npt.NDArray[np.integer] | None = None,
    cached_by_modality: Mapping[str, npt.NDArray[np.integer]] | None = None,
) -> FloatArray:
    """USD per request (float64), priced like :func:`~batchcost.pricing.price_tokens`.

    Args:
        rates: the mode's rates.
        prompt_tokens: prompt tokens per request, cached included: decides the tier.
        input_by_modality: non-cached input tokens per request, by modality.
        output_tokens: billed output per request (thinking included); None for none.
        cached_by_modality: cached tokens per request, by modality.

    Raises:
        UnpricedError: output or cached tokens are present but their rate is unknown.
    """
    prompt = np.asarray(prompt_tokens)
    above = None if rates.tier_threshold is None else prompt > rates.tier_threshold
    total = np.zeros(len(prompt), np.float64)
    for modality, tokens in input_by_modality.items():
        high = None if rates.input_above is None else rates.input_above[modality]
        _add(total, tokens, rates.input[modality], high, above)
    for modality, tokens in (cached_by_modality or {}).items():
        if not np.any(tokens):
            continue
        if rates.cache_read is None:
            raise UnpricedError(f"{rates.model} {rates.mode}: cached tokens but no known cache-read rate")
        high = None if rates.cache_read_above is None else rates.cache_read_above[modality]
        _add(total, tokens, rates.cache_read[modality], high, above)
    if output_tokens is not None and np.any(output_tokens):
        if rates.output is None:
            raise UnpricedError(f"{rates.model} {rates.mode}: output tokens but the model has no output rate")
        _add(total, output_tokens, rates.output, rates.output_above, above)
    total /= 1_000_000
    return total


def _add(
    total: FloatArray,
    tokens: npt.NDArray[np.integer],
    low: Rate,
    high: Rate | None,
    above: npt.NDArray[np.bool_] | None,
) -> None:
    """``total += tokens x rate``, each request at the rate of its tier (USD per 1M tokens)."""
    rate: float | FloatArray = float(low.usd_per_mtok)
    if above is not None and high is not None and high.usd_per_mtok != low.usd_per_mtok:
        rate = np.where(above, float(high.usd_per_mtok), rate)
    total += np.asarray(tokens, np.float64) * rate
