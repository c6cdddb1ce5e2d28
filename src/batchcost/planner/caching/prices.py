"""Pricing one group three ways: no cache, an explicit cache, implicit caching (best case)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import TYPE_CHECKING

from ...text import agree, plural
from .groups import Group
from .records import ExplicitOption, ImplicitOption

if TYPE_CHECKING:
    from ...pricing import ModelInfo, ModeRates

_MILLION_EXP = -6


def _money(tokens: int, usd_per_mtok: Decimal) -> Decimal:
    if tokens == 0:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60  # exact for any token count x rate
        return (Decimal(tokens) * usd_per_mtok).scaleb(_MILLION_EXP)


@dataclass(frozen=True)
class Rates:
    """The rates, limits and storage hours every group of one advice is priced with."""

    batch: ModeRates
    standard: ModeRates | None
    info: ModelInfo
    platform: str
    hours: Decimal
    minimum: int | None
    expiry_hours: int | None = None


def _rate(mr: ModeRates | None, component: str, modality: str, above: bool) -> Decimal | None:
    if mr is None:
        return None
    above = above and mr.tier_threshold is not None
    if component == "input":
        table = mr.input_above if above else mr.input
    else:
        table = mr.cache_read_above if above else mr.cache_read
    return None if table is None else table[modality].usd_per_mtok


def _price_tokens(
    mr: ModeRates | None, component: str, tokens: Mapping[str, int], n_low: int, n_high: int
) -> Decimal | None:
    total = Decimal(0)
    for modality, t in tokens.items():
        for n, above in ((n_low, False), (n_high, True)):
            if not n or not t:
                continue
            rate = _rate(mr, component, modality, above)
            if rate is None:
                return None
            total += _money(t * n, rate)
    return total


@dataclass(frozen=True)
class Priced:
    """One group priced three ways for a number of requests."""

    no_cache: Decimal | None
    explicit: ExplicitOption
    implicit: ImplicitOption


def price(r: Rates, g: Group, n: int, n_high: int) -> Priced:
    """The group priced for ``n`` of its requests, ``n_high`` of them above the prompt-size tier."""
    n_low = n - n_high
    t_total = sum(g.tokens.values())
    no_cache = _price_tokens(r.batch, "input", g.tokens, n_low, n_high)
    return Priced(
        no_cache,
        _explicit(r, g, t_total, n, n_low, n_high, no_cache),
        _implicit(r, g, t_total, n_low, n_high, no_cache),
    )


def _explicit(
    r: Rates, g: Group, t_total: int, n: int, n_low: int, n_high: int, no_cache: Decimal | None
) -> ExplicitOption:
    blockers: list[tuple[str, str]] = []
    model = r.batch.model
    if r.platform == "vertex":
        blockers.append(
            (
                "vertex-batch",
                "explicit caching is not supported in Vertex batch prediction (Vertex AI batch inference docs)",
            )
        )
    if r.info.explicit_cache is False:
        blockers.append(("no-explicit-caching", f"{model} has no explicit caching (Gemini 4 Argon and later)"))
    elif r.info.explicit_cache is None:
        blockers.append(("explicit-caching-unknown", f"whether {model} supports explicit caching is unknown"))
    if blockers:
        # not offered here at all: no figures to show
        return ExplicitOption(False, minimum_tokens=r.minimum, reasons=tuple(blockers))
    if g.blocker is not None:
        blockers.append(g.blocker)
    if r.minimum is not None and t_total < r.minimum:
        blockers.append(
            (
                "prefix-too-small",
                f"the prefix is {plural(t_total, 'token')}, below the {r.minimum:,}-token minimum assumed for {model}",
            )
        )
    elif t_total == 0:
        blockers.append(("prefix-too-small", "the prefix has no countable tokens"))
    storage_rate = r.batch.cache_storage or (r.standard.cache_storage if r.standard else None)
    above_create = (
        r.standard is not None and r.standard.tier_threshold is not None and t_total > r.standard.tier_threshold
    )
    reads = _price_tokens(r.batch, "cache", g.tokens, n_low, n_high)
    creation = _price_tokens(r.standard, "input", g.tokens, 0 if above_create else 1, 1 if above_create else 0)
    missing = [
        name
        for name, v in (("batch cache-read", reads), ("standard input", creation), ("cache storage", storage_rate))
        if v is None
    ]
    if missing or no_cache is None or reads is None or creation is None or storage_rate is None:
        what = ", ".join(missing) or "batch input"
        reasons = (*blockers, ("not-priced", f"{model}: the {what} rate is unknown; not priced (never $0)"))
        return ExplicitOption(False, minimum_tokens=r.minimum, reasons=tuple(reasons))
    per_hour = _money(t_total, storage_rate.usd_per_mtok)
    storage = per_hour * r.hours
    cost = reads + creation + storage
    saving = no_cache - cost
    discount = no_cache - reads
    be_n: int | None = None
    be_h: Decimal | None = None
    fixed = creation + storage
    with localcontext() as c:
        c.prec = 60
        if discount > 0 and n:
            per_request = discount / n
            be_n = int((fixed / per_request).to_integral_value(ROUND_FLOOR)) + 1
        if per_hour > 0:
            be_h = max(Decimal(0), ((discount - creation) / per_hour).quantize(Decimal("0.01"), ROUND_FLOOR))
    reasons = list(blockers)
    if saving <= 0:
        if discount <= 0:
            reasons.append(("no-discount", f"{model} batch cache reads cost no less than batch input"))
        else:
            if be_n is not None and n < be_n:
                reasons.append(
                    (
                        "too-few-requests",
                        f"{plural(n, 'request')} {agree(n, 'shares', 'share')} the prefix; with {r.hours} h of storage "
                        f"it pays from {be_n:,} requests",
                    )
                )
            if be_h is not None and be_h > 0:
                reasons.append(
                    (
                        "storage-too-long",
                        f"it pays only if the cache is stored under {be_h.normalize():f} h; the jobs need {r.hours} h",
                    )
                )
    return ExplicitOption(
        available=not blockers,
        cost=cost,
        saving=saving,
        cached_reads=reads,
        creation=creation,
        storage=storage,
        break_even_requests=be_n,
        break_even_hours=be_h,
        minimum_tokens=r.minimum,
        reasons=tuple(reasons),
    )


def _implicit(r: Rates, g: Group, t_total: int, n_low: int, n_high: int, no_cache: Decimal | None) -> ImplicitOption:
    model = r.batch.model
    minimum = r.info.implicit_cache_min_tokens
    reasons: list[tuple[str, str]] = []
    # Vertex: a hit gets the cache discount on the standard price instead of the batch discount.
    source = r.standard if r.platform == "vertex" else r.batch
    reads = _price_tokens(source, "cache", g.tokens, n_low, n_high)
    if reads is None or no_cache is None:
        return ImplicitOption(False, reasons=(("not-priced", f"{model}: cache-read rate unknown; not priced"),))
    available = True
    if minimum is None:
        reasons.append(
            ("prefix-too-small", f"the implicit-cache minimum of {model} is unknown; the prefix may be too small")
        )
    elif t_total < minimum:
        available = False
        reasons.append(
            (
                "prefix-too-small",
                f"the prefix is {plural(t_total, 'token')}, below {model}'s implicit-cache minimum of {minimum:,}",
            )
        )
    return ImplicitOption(available, reads, no_cache - reads, tuple(reasons))
