"""Shard planning: split a batch file's requests into jobs that fit every limit, then into waves.

:func:`shard_plan_for` makes the shard plan for an estimate's :class:`~batchcost.planner.plan.Plan`:
limits from the price book, the packer on its usable requests, every shard priced exactly, and
notes on the tier's quotas and spend caps. The parts it joins are importable from here too:

* :mod:`~batchcost.planner.shard_limits`: :class:`ShardLimits` and :func:`limits_for` (the limits
  and their sources).
* :mod:`~batchcost.planner.shard_pack`: :func:`plan_shards` (the fewest balanced shards, then waves).
* :mod:`~batchcost.planner.shard_types`: :class:`ShardPlan`, :class:`Shard`, :class:`Oversized` and
  the ``batchcost.shards/1`` document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..errors import PlanError
from ..text import agree, plural
from ..tokens.totals import total_input
from .inputs import scaled_inputs
from .shard_limits import LIMIT_NAMES, PLATFORMS, ShardLimits, limits_for
from .shard_pack import plan_shards
from .shard_types import SHARDS_SCHEMA, IntArray, Oversized, Shard, ShardPlan, line_ranges

if TYPE_CHECKING:
    from ..pricing import ModelInfo, PlatformLimits, PriceBook
    from .plan import Plan

__all__ = [
    "LIMIT_NAMES",
    "PLATFORMS",
    "QUOTA_COUNTS",
    "SHARDS_SCHEMA",
    "IntArray",
    "Oversized",
    "Shard",
    "ShardLimits",
    "ShardPlan",
    "limits_for",
    "line_ranges",
    "plan_shards",
    "shard_plan_for",
]

QUOTA_COUNTS: tuple[str, ...] = ("input", "input+output-ceiling")


# -- from an estimate ---------------------------------------------------------------------------------


def shard_plan_for(
    plan: Plan,
    book: PriceBook,
    *,
    tier: int | None = None,
    platform: str = "developer",
    max_bytes: int | None = None,
    max_requests: int | None = None,
    max_tokens_per_shard: int | None = None,
    enqueued_token_limit: int | None = None,
    concurrent_jobs: int | None = None,
    groups: npt.ArrayLike | None = None,
    quota_counts: str = "input",
    output_tokens: int | None = None,
    output_ratio: float | None = None,
    priced: bool = True,
) -> ShardPlan:
    """The shard plan for an estimate: its usable requests, limits from the book, exact shard costs.

    Tokens per request are the estimate's input tokens at the high end of its 95% interval (equal to
    the count when counted exactly), so sampled counts leave headroom under the quotas; with
    ``quota_counts="input+output-ceiling"`` each request's output ceiling is added. Shard costs are
    the batch mode priced per shard with the book's rates (each request in its own prompt tier), so
    they add up to the estimate's batch figures.

    Args:
        plan: from :func:`batchcost.planner.estimate.estimate`.
        book: the price book the estimate used (limits and rates).
        tier, platform, max_bytes, max_requests, max_tokens_per_shard, enqueued_token_limit,
            concurrent_jobs: see :func:`limits_for`.
        groups: cache-group id per scan row (-1 = none), e.g. from the caching advisor.
        quota_counts: ``input`` or ``input+output-ceiling``: what counts against the enqueued quota.
        output_tokens, output_ratio: the output expectation the estimate was made with (to price
            the expected cost per shard exactly; without them, when the estimate has an expected
            cost, it is shared out in proportion to the shards' input tokens).
        priced: False for the shards and waves alone (no costs, and no notes on tiers or spending),
            e.g. to say how many waves another billing tier would need.

    Raises:
        PlanError: bad limits or options. PricingError: the model is unknown to ``book``.
    """
    if quota_counts not in QUOTA_COUNTS:
        raise PlanError(f"--quota-counts must be one of {', '.join(QUOTA_COUNTS)}, got {quota_counts!r}")
    scan = plan.scan
    info = book.model_info(plan.model, plan.run_date)
    platform_limits = book.limits()
    limits = limits_for(
        platform_limits, info, tier=tier, platform=platform, max_bytes=max_bytes, max_requests=max_requests,
        max_tokens_per_shard=max_tokens_per_shard, enqueued_token_limit=enqueued_token_limit,
        concurrent_jobs=concurrent_jobs,
    )  # fmt: skip
    # Arrays of one figure per request are 13.5 MB each on 1.7 M requests: each is made once, added to
    # in place, and not indexed by the usable rows when every row is usable.
    n_usable = int(np.count_nonzero(scan.rows["usable"]))
    everyone = n_usable == scan.lines
    usable = None if everyone else np.flatnonzero(scan.rows["usable"])
    ceiling_raw = plan.cost.per_request_ceiling.astype(np.int64, copy=False)
    unknown_ceilings = (
        int(((ceiling_raw if usable is None else ceiling_raw[usable]) < 0).sum()) if len(ceiling_raw) else 0
    )
    with_ceiling = quota_counts == "input+output-ceiling"
    ceiling_out = None
    if priced or with_ceiling:  # unknown ceilings (-1) count as 0; without any, the estimate's own array
        ceiling_out = np.maximum(ceiling_raw, 0) if len(ceiling_raw) and int(ceiling_raw.min()) < 0 else ceiling_raw
    high_inputs = scaled_inputs(plan.tokens, "high")
    quota_tokens = total_input(high_inputs, scan.lines, media=bool(len(scan.media["row"])))
    if with_ceiling:
        assert ceiling_out is not None
        quota_tokens = quota_tokens + ceiling_out  # a new array: the total may be the estimate's own
    exact = plan.tokens.method == "exact"
    basis = "input tokens" + ("" if exact else " (high end of the 95% interval)")
    if with_ceiling:
        basis += " + each request's output ceiling"
        if unknown_ceilings:
            basis += (
                f" ({plural(unknown_ceilings, 'request')} with an unknown ceiling "
                f"{agree(unknown_ceilings, 'counts its', 'count their')} input only)"
            )
    notes: list[str] = []
    if quota_counts == "input":
        notes.append(
            "whether output tokens count against the enqueued-token quota is UNKNOWN: input tokens "
            "only are counted; --quota-counts input+output-ceiling also counts each request's output ceiling"
        )
    if not exact:
        notes.append(
            f"token counts are estimates ({plan.tokens.method}); shards are planned on the high end of the interval, "
            "so they keep headroom; --exact counts every request"
        )
    if limits.platform == "developer" and limits.enqueued_tokens is not None:
        notes.append(
            "batch creation has been refused with 429 RESOURCE_EXHAUSTED well under the documented enqueued-token "
            "limits (googleapis/python-genai#1901): keep headroom (--max-tokens-per-shard) and retry with back-off"
        )
    forms = {f.form for f in scan.files}
    if limits.platform not in forms:
        notes.append(
            f"the input is in {'/'.join(sorted(forms))} form but the limits are for the {limits.platform} platform; "
            f"pass --platform {'vertex' if 'vertex' in forms else 'developer'} if the job goes there"
        )
    if len(scan.files) > 1:
        notes.append("several input files are planned as if concatenated; lines count through them in order")
    bad = scan.lines - n_usable
    if bad:
        notes.append(
            f"{plural(bad, 'line')} with validation errors {agree(bad, 'is', 'are')} in no shard "
            "(run `batchcost validate`)"
        )
    group_arr = None
    if groups is not None:
        group_arr = np.asarray(groups)
        if group_arr.dtype.kind != "i":  # signed integers are used as they are (the advice's are int32)
            group_arr = group_arr.astype(np.int64)
        if group_arr.shape != (scan.lines,):
            raise PlanError(f"groups must have one id per line of the input ({scan.lines}), got {group_arr.shape}")
        if usable is not None:
            group_arr = group_arr[usable]
    # the line end added: uint32 holds it (a line is at most MAX_LINE_BYTES), half the memory of int64
    nbytes = scan.rows["nbytes"] if usable is None else scan.rows["nbytes"][usable]
    nbytes = np.add(nbytes, 1, dtype=np.uint32)
    if usable is not None:
        quota_tokens = quota_tokens[usable]
    shard_plan = plan_shards(
        nbytes=nbytes,
        tokens=quota_tokens,
        limits=limits,
        groups=group_arr,
        rows=usable,  # None: request i is row i
        token_basis=basis,
    )
    del nbytes, quota_tokens, usable
    if not priced:
        return replace(shard_plan, notes=list(dict.fromkeys([*shard_plan.notes, *notes])))
    assert ceiling_out is not None
    shard_plan = _price_shards(plan, book, shard_plan, high_inputs, ceiling_out, output_tokens, output_ratio, notes)
    warnings = list(shard_plan.warnings)
    if limits.platform == "developer" and enqueued_token_limit is None:
        notes.extend(_other_tiers(shard_plan, info, limits))
    if limits.platform == "developer":
        spend_warnings, spend_notes = _spend_checks(shard_plan, platform_limits, limits)
        warnings.extend(spend_warnings)
        notes.extend(spend_notes)
    return replace(
        shard_plan,
        warnings=list(dict.fromkeys(warnings)),
        notes=list(dict.fromkeys([*shard_plan.notes, *notes])),
    )


# requests priced at a time within a shard
_PRICE_ROWS = 1 << 18


def _price_shards(
    plan: Plan,
    book: PriceBook,
    shard_plan: ShardPlan,
    high_inputs: Mapping[str, IntArray],
    ceiling_out: IntArray,
    output_tokens: int | None,
    output_ratio: float | None,
    notes: list[str],
) -> ShardPlan:
    from ..errors import PricingError
    from ..pricing import price_tokens

    batch = plan.cost.modes.get("batch")
    if batch is None or batch.not_priced_reason is not None:
        why = batch.not_priced_reason if batch is not None else "the book has no batch price for the model"
        notes.append(f"shards are not priced: {why}")
        return shard_plan
    try:
        rates = book.rates(plan.model, "batch", plan.run_date)
    except PricingError as e:
        notes.append(f"shards are not priced: {e}")
        return shard_plan
    exp_inputs = {k: np.asarray(v, np.int64) for k, v in plan.tokens.per_request_by_modality.items()}
    has_media = bool(len(plan.scan.media["row"]))
    raw = plan.cost.per_request_ceiling
    unknown = raw < 0 if len(raw) == plan.scan.lines else np.zeros(plan.scan.lines, bool)
    outs: IntArray | None = None
    if output_tokens is not None or output_ratio is not None:
        # an unknown ceiling caps no expectation (and makes the shard's ceiling unknown)
        cap = np.where(unknown, np.iinfo(np.int64).max, ceiling_out)
        if output_tokens is not None:
            outs = np.minimum(cap, output_tokens)
        else:
            assert output_ratio is not None
            total_in = total_input(exp_inputs, plan.scan.lines, media=has_media)
            outs = np.minimum(np.rint(total_in * output_ratio).astype(np.int64), cap)
            del total_in
        del cap

    def price(rows: IntArray, inputs: Mapping[str, IntArray], out: IntArray | None) -> Decimal:
        # A slice of a shard at a time: a cost is a sum over requests (the tier is each request's own), and the
        # copies a whole shard of 1.7 M requests would need came to 200 MB at once.
        total = Decimal(0)
        for lo in range(0, len(rows), _PRICE_ROWS):
            part = rows[lo : lo + _PRICE_ROWS]
            sub = {k: v[part] for k, v in inputs.items()}
            prompt = sum(sub.values(), np.zeros(len(part), np.int64))
            o = np.zeros(len(part), np.int64) if out is None else out[part]
            total += price_tokens(rates, prompt_tokens=prompt, input_by_modality=sub, output_tokens=o).total
        return total

    from .images import image_cost, planned_images

    # an image-output model's generated images are output known from the requests: in each shard's
    # floor, expected cost and ceiling, as in the estimate's
    images = planned_images(plan.scan, rates.model, None)
    costs: list[Decimal | None] = []
    ceilings: list[Decimal | None] = []
    floors: list[Decimal] = []
    for s in shard_plan.shards:
        pics = image_cost(rates, images, s.rows) if images is not None else Decimal(0)
        floor = price(s.rows, exp_inputs, None) + pics
        floors.append(floor)
        costs.append(price(s.rows, exp_inputs, outs) + pics if outs is not None else floor)
        ceilings.append(None if unknown[s.rows].any() else price(s.rows, high_inputs, ceiling_out) + pics)
    if batch.tools is not None and batch.tools.fees:
        from .tool_fees import shard_tool_fees

        flags = plan.scan.rows["flags"]
        for i, s in enumerate(shard_plan.shards):
            fees, fees_high = shard_tool_fees(batch.tools, flags[s.rows])
            floors[i] += fees
            costs[i] = None if costs[i] is None else costs[i] + fees  # type: ignore[operator]
            ceilings[i] = None if ceilings[i] is None else ceilings[i] + fees_high  # type: ignore[operator]
        notes.append(
            "shard costs include the tool fees of their requests with Google Search or Maps (no free allowance is "
            "taken off per shard)"
        )
    basis = "expected" if outs is not None else "floor"
    if outs is None and batch.expected is not None and batch.floor is not None:
        # The estimate has an expectation but not the option it came from: share its output part
        # out by input tokens (stated, since it is an allocation, not a per-shard price).
        total_in = total_input(exp_inputs, plan.scan.lines, media=has_media)
        weights = [int(total_in[s.rows].sum()) for s in shard_plan.shards]
        del total_in
        total_w = sum(weights) or 1
        extra = batch.expected - batch.floor
        shares = [(extra * wt / total_w).quantize(Decimal("1e-12")) for wt in weights]
        if shares:  # the rounding remainder goes to the heaviest shard, so the shares add up exactly
            heaviest = max(range(len(weights)), key=weights.__getitem__)
            shares[heaviest] += extra - sum(shares, Decimal(0))
        costs = [f + share for f, share in zip(floors, shares, strict=True)]
        basis = "expected"
        notes.append(
            "the expected output cost is shared out among shards in proportion to their input tokens "
            "(pass the output expectation to price each shard exactly)"
        )
    elif outs is None:
        notes.append(
            "shard costs are the floor (the input, and any tool fees and images the requests fix; no output expectation "
            "was given) and the ceiling"
        )
    return shard_plan.with_costs(costs, ceilings, basis)


def _other_tiers(shard_plan: ShardPlan, info: ModelInfo, limits: ShardLimits) -> list[str]:
    """When the enqueued-token quota sets the number of waves, what higher tiers would allow."""
    n_waves = len(shard_plan.waves)
    by_concurrency = math.ceil(len(shard_plan.shards) / limits.concurrent_jobs) if limits.concurrent_jobs else 1
    if limits.tier is None or limits.enqueued_tokens is None or n_waves <= max(1, by_concurrency):
        return []
    options = []
    for tier in range(limits.tier + 1, 4):
        quota = info.enqueued_token_limits.get(tier)
        if quota is not None:
            at_least = max(1, by_concurrency, math.ceil(shard_plan.tokens / quota))
            options.append(f"tier {tier} ({quota:,} tokens): at least {at_least} wave{'s' if at_least != 1 else ''}")
    if not options:
        return []
    return [
        f"the tier-{limits.tier} enqueued-token quota ({limits.enqueued_tokens:,} tokens) sets the number of waves "
        f"({n_waves}); " + "; ".join(options)
    ]


def _spend_checks(shard_plan: ShardPlan, pl: PlatformLimits, limits: ShardLimits) -> tuple[list[str], list[str]]:
    """(warnings, notes) about the tier's monthly and 10-minute spend caps."""
    out: list[str] = []
    notes: list[str] = []
    tier = limits.tier
    if tier is None:
        return out, notes
    cost, ceiling = shard_plan.cost, shard_plan.cost_ceiling
    monthly = pl.spend_cap_monthly_usd.get(tier)
    ten_min = pl.spend_cap_10min_usd.get(tier)
    basis = shard_plan.cost_basis or "estimate"
    if monthly is not None and cost is not None:
        src = pl.provenance.get("spend_cap_monthly_usd")
        where = f" ({src.source})" if src is not None else ""
        if cost > monthly:
            out.append(
                f"the batch cost (${cost:,.2f}, {basis}) exceeds tier {tier}'s monthly spend cap of ${monthly:,.2f}"
                f"{where}: requests will be refused once the cap is reached; spread the waves over billing months, "
                "or move up a tier"
            )
        elif ceiling is not None and ceiling > monthly:
            out.append(
                f"the batch ceiling (${ceiling:,.2f}) exceeds tier {tier}'s monthly spend cap of ${monthly:,.2f}"
                f"{where}; the {basis} estimate (${cost:,.2f}) is within it"
            )
    if ten_min is not None and ten_min > 0 and cost is not None and cost > 0:
        minutes = cost / ten_min * 10
        hours_available = len(shard_plan.waves) * limits.target_hours
        text = (
            f"tier {tier}'s spend-based rate limit is ${ten_min:,.2f} per rolling 10 minutes across all traffic, so "
            f"${cost:,.2f} ({basis}) takes at least {_duration(minutes)} of spending"
        )
        if minutes <= 10:
            pass  # within one 10-minute window: nothing to say
        elif minutes / 60 > hours_available:
            out.append(
                f"{text}: longer than the {hours_available} h "
                f"{agree(len(shard_plan.waves), 'the wave targets', 'the waves target')}; "
                "expect 429 RESOURCE_EXHAUSTED and jobs that may expire: submit fewer shards at once or move up a tier"
            )
        else:
            notes.append(text)
    return out, notes


def _duration(minutes: Decimal) -> str:
    m = float(minutes)
    if m < 90:
        return f"{math.ceil(m)} min"
    return f"{m / 60:,.1f} h"
