"""The advice: find, measure, count and price the groups, choose the caches, and say why or why not."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from ...errors import PlanError, PricingError
from ...money import exact
from ...text import agree, plural
from ..plan import ModeCost
from .groups import Context, Group, exact_groups, measure, template_groups
from .prices import Priced, Rates, price
from .records import PLATFORMS, CacheCandidate, CachingAdvice, ChosenCache
from .selection import select_groups

if TYPE_CHECKING:
    from ...pricing import ModeRates, PriceBook
    from ...tokens.base import TextCounter
    from ..plan import Plan

__all__ = ["advise_caching"]

DEFAULT_TTL_HOURS = 1  # the caching doc: an explicit cache without ttl/expire_time lives 1 hour


EMBED_NO_CACHE = (
    "context caching does not apply to embedding requests: an embedding request has no cachedContent field, "
    "embedding models have no cache-read rate and no implicit-cache discount is published for them, so every "
    "input token is billed at the input rate"
)


def advise_caching(
    plan: Plan,
    book: PriceBook,
    counter: TextCounter | None,
    *,
    platform: str = "developer",
    hours: float | Decimal = 24.0,
    min_requests: int = 2,
    reuse: CachingAdvice | None = None,
) -> CachingAdvice:
    """Find shared prefixes in the plan's file and price caching them (see :mod:`batchcost.planner.caching`).

    Args:
        plan: from :func:`batchcost.planner.estimate.estimate`.
        book: the price book the plan was priced with.
        counter: the text counter to size prefixes exactly (the local Gemma 3 tokenizer); None
            sizes them by the plan's tokens per character (an estimate, said in the notes).
        platform: ``developer`` (Gemini API batch) or ``vertex`` (Vertex batch prediction: no
            explicit caching; implicit hits get the cache discount instead of the batch one).
        hours: hours an explicit cache must be stored: the time every job needs (the shard plan's
            waves x 24 h target turnaround; 24 h for one wave).
        min_requests: fewest requests a prefix must be shared by to be a candidate.
        reuse: an advice made earlier for the same plan, counter, platform and ``min_requests``
            (other hours): its groups are priced again instead of being found and counted again.

    Returns:
        A :class:`CachingAdvice`.

    Raises:
        PlanError: ``platform``, ``hours`` or ``min_requests`` is invalid.
    """
    if platform not in PLATFORMS:
        raise PlanError(f"caching: platform must be one of {', '.join(PLATFORMS)}, got {platform!r}")
    if min_requests < 1:
        raise PlanError(f"caching: min_requests must be at least 1, got {min_requests}")
    h = _as_hours(hours)
    model, run_date = plan.model, plan.run_date
    notes: list[str] = []
    try:
        batch = book.rates(model, "batch", run_date)
    except PricingError as exc:
        return _empty(plan, platform, h, "not-priced", f"batch mode is not priced: {exc}", notes)
    try:
        standard: ModeRates | None = book.rates(model, "standard", run_date)
    except PricingError:
        standard = None
    info = book.model_info(batch.model, run_date)
    if info.kind == "embed":
        return _empty(plan, platform, h, "embedding", EMBED_NO_CACHE, notes)
    expiry = book.limits().vertex_queue_hours if platform == "vertex" else book.limits().expiry_hours
    rates = Rates(batch, standard, info, platform, h, info.implicit_cache_min_tokens, expiry)
    key = (id(plan), id(counter), platform, min_requests, batch.tier_threshold)
    if reuse is not None and isinstance(reuse.found, _Found) and reuse.found.key == key:
        found = reuse.found
    else:
        found = _find(plan, counter, min_requests, batch.tier_threshold, key)
    ctx, groups, ratio = found.ctx, found.groups, found.ratio
    if found.excluded:
        notes.append(
            f"{plural(found.excluded, 'request')} already {agree(found.excluded, 'references', 'reference')} a "
            f"cachedContent and {agree(found.excluded, 'is', 'are')} left out (one cache per request)"
        )

    priced = {id(g): price(rates, g, g.n, round(g.n * g.high_share)) for g in groups}
    order = sorted(groups, key=lambda g: _sort_key(priced[id(g)]))
    ids = _ids(order)
    candidates = tuple(_candidate(ids[id(g)], g, priced[id(g)], rates, counter) for g in order)

    def explicit_score(g: Group, n: int, n_high: int) -> Decimal | None:
        e = price(rates, g, n, n_high).explicit
        return e.saving if e.available else None

    def implicit_score(g: Group, n: int, n_high: int) -> Decimal | None:
        i = price(rates, g, n, n_high).implicit
        return i.saving if i.available else None

    chosen = []
    # Requests served by the same chosen cache must go into the same batch job (shard).
    row_groups = np.full(len(ctx.eligible), -1, np.int32)  # int32: 4 bytes a request, not 8
    for gid, (g, n, n_high, _) in enumerate(select_groups(ctx, order, explicit_score)):
        if g.rows is not None:
            members = g.rows[row_groups[g.rows] < 0]
            row_groups[members] = gid
        p = price(rates, g, n, n_high)
        e = p.explicit
        assert p.no_cache is not None and e.cost is not None and e.saving is not None
        assert e.creation is not None and e.storage is not None
        chosen.append(ChosenCache(ids[id(g)], n, p.no_cache, e.cost, e.saving, e.creation, e.storage))
    implicit = select_groups(ctx, order, implicit_score)
    implicit_total = sum((s for *_, s in implicit), Decimal(0)) if implicit else None
    notes.extend(_notes(rates, candidates, counter, ratio))
    advice = _advice(plan, rates, candidates, tuple(chosen), implicit_total, notes)
    return dataclasses.replace(advice, row_groups=row_groups if chosen else None, found=found)


@dataclasses.dataclass(frozen=True)
class _Found:
    """What does not depend on the hours: the groups found, measured and counted (see ``reuse``)."""

    key: tuple[object, ...]
    ctx: Context
    groups: list[Group]
    ratio: float
    excluded: int


def _find(plan: Plan, counter: TextCounter | None, min_requests: int, threshold: int | None,
          key: tuple[object, ...]) -> _Found:  # fmt: skip
    ctx = _context(plan, min_requests, threshold)
    excluded = int((plan.scan.rows["usable"].astype(bool) & ~ctx.eligible).sum())
    sample_reqs = dict(plan.scan.read_requests(ctx.sample.tolist()))
    ratio = _tokens_per_char(plan)
    groups = exact_groups(ctx) + template_groups(ctx, sample_reqs, int(ctx.eligible.sum()))
    reps = dict(plan.scan.read_requests(sorted({g.rep for g in groups} - sample_reqs.keys())))
    reps.update(sample_reqs)
    for g in groups:
        measure(ctx, g, reps[g.rep], reps)
    del reps, sample_reqs  # decoded requests: megabytes of small objects, not needed from here
    _count(groups, counter, ratio)
    return _Found(key, ctx, groups, ratio, excluded)


def _context(plan: Plan, min_requests: int, threshold: int | None) -> Context:
    from ...batchfile.request import FLAG_CACHED_CONTENT

    rows = plan.scan.rows
    eligible = rows["usable"].astype(bool) & ((rows["flags"] & FLAG_CACHED_CONTENT) == 0)
    sample = np.asarray(plan.scan.sample, dtype=np.int64)
    sample = np.sort(sample[eligible[sample]]) if len(sample) else np.zeros(0, np.int64)
    return Context(
        scan=plan.scan,
        eligible=eligible,
        sample=sample,
        per_request=np.asarray(plan.tokens.per_request, dtype=np.int64),
        threshold=threshold,
        min_requests=min_requests,
        media_model=plan.tokens.model,
    )


def _tokens_per_char(plan: Plan) -> float:
    rows = plan.scan.rows
    usable = rows["usable"].astype(bool)
    chars = int(
        (
            rows["system_chars"][usable].astype(np.int64) + rows["contents_chars"][usable] + rows["tools_chars"][usable]
        ).sum()
    )
    text = plan.tokens.by_modality["text"].expected
    return text / chars if chars else 0.25  # the token-counting doc rule of thumb: about 4 characters a token


def _count(groups: Sequence[Group], counter: TextCounter | None, ratio: float) -> None:
    """Prefix tokens of every group: its texts counted in one batch (or by the ratio), plus media."""
    if counter is None:
        for g in groups:
            g.tokens = {"text": round(g.chars * ratio)} if g.chars else {}
    else:
        flat = [t for g in groups for t in g.texts]
        counts = counter.count_texts(flat)
        i = 0
        for g in groups:
            k = len(g.texts)
            text = sum(counts[i : i + k])
            i += k
            g.tokens = {"text": text} if text else {}
    for g in groups:
        for modality, t in g.media.items():
            g.tokens[modality] = g.tokens.get(modality, 0) + t


def _sort_key(p: Priced) -> tuple[int, Decimal]:
    e = p.explicit
    if e.pays and e.saving is not None:
        return (0, -e.saving)
    if e.saving is not None:
        return (1, -e.saving)
    i = p.implicit.saving
    return (2, -(i if i is not None else Decimal(0)))


def _ids(groups: Iterable[Group]) -> dict[int, str]:
    seen: dict[str, int] = {}
    out = {}
    for g in groups:
        seen[g.kind] = seen.get(g.kind, 0) + 1
        out[id(g)] = f"{g.kind}-{seen[g.kind]}"
    return out


def _candidate(cid: str, g: Group, p: Priced, r: Rates, counter: TextCounter | None) -> CacheCandidate:
    removed = ", ".join(g.removed)
    how = (
        f"create one cachedContent for {r.batch.model} holding {' + '.join(g.cached)}, with a TTL covering "
        f"{r.hours} h (the default TTL is {DEFAULT_TTL_HOURS} h); "
        f"in {'the request' if g.n == 1 else f'each of the {g.n:,} requests'} remove {removed} "
        'and add "cachedContent": "cachedContents/<id>" at request level (not inside generationConfig); '
        "delete the cache when the last job ends"
    )
    if g.kind == "template":
        how += (
            ". An explicit cache holds whole Content parts, not a string prefix: rewrite each request's first "
            "text part into the cached prefix part and a part with the rest (the split is at a word boundary, "
            "so the token count of the rest may differ by a token)"
        )
    exact = counter is not None and bool(getattr(counter, "exact", False))
    return CacheCandidate(
        id=cid,
        kind=g.kind,
        requests=g.n,
        estimated=g.rows is None,
        sampled=len(g.sample_rows),
        prefix_tokens=sum(g.tokens.values()),
        prefix_by_modality=MappingProxyType(dict(g.tokens)),
        tokens_exact=exact,
        description=g.description,
        cached=tuple(g.cached),
        how=how,
        requests_above_tier=round(g.n * g.high_share),
        no_cache=p.no_cache,
        explicit=p.explicit,
        implicit=p.implicit,
        notes=tuple(g.notes),
    )


def _notes(r: Rates, candidates: Sequence[CacheCandidate], counter: TextCounter | None, ratio: float) -> list[str]:
    notes: list[str] = []
    model = r.batch.model
    cr = r.batch.cache_read["text"] if r.batch.cache_read is not None else None
    if cr is not None:
        notes.append(
            f"{model} batch cache-read rate {exact(cr.usd_per_mtok)}/1M tokens ({cr.provenance.source}, checked "
            f"{cr.provenance.checked}); Google's batch page (2026-02-19) says cached tokens in batch cost the same as "
            "non-batch, while the per-model Batch tab halves them for some newer models: the book's per-model value "
            "is used"
        )
    if r.platform == "developer" and r.standard is not None:
        notes.append(
            f"cache creation is billed at the standard input rate ({exact(r.standard.input['text'].usd_per_mtok)}/1M; "
            "input tokens used to create a cache are billed at standard input price: Vertex context-cache overview)"
        )
    storage = r.batch.cache_storage
    if r.platform == "developer" and storage is not None:
        notes.append(
            f"storage priced for {r.hours} h at {exact(storage.usd_per_mtok)}/1M tokens per hour ({storage.provenance.source}); "
            f"set the cache's TTL to cover every job (the default TTL is {DEFAULT_TTL_HOURS} h) and delete it after "
            "the last job to stop storage billing"
        )
    if r.platform == "developer" and r.info.explicit_cache:
        if r.minimum is not None:
            notes.append(
                f"the explicit-cache minimum size for {model} is UNKNOWN; its implicit-cache "
                f"minimum of {r.minimum:,} tokens is assumed"
            )
        else:
            notes.append(f"the explicit- and implicit-cache minimum sizes for {model} are unknown; no minimum applied")
    if r.platform == "vertex":
        notes.append(
            "Vertex batch: explicit caching is not supported; an implicit cache hit gets the 90% cache discount on the "
            "standard price instead of the 50% batch discount (the discounts don't stack: Vertex AI batch inference docs); Vertex prices are "
            "assumed equal to the Developer API prices in the book"
        )
        if not re.match(r"gemini-(2\.5|3)[.-]", model):
            notes.append(
                f"The Vertex AI batch inference docs say implicit caching works in batch for Gemini 2.5 and 3 models; whether it does for {model} "
                "is UNKNOWN"
            )
    notes.append(
        "implicit caching has no guarantee (best effort, a short undocumented lifetime): its figures are a best case "
        "where every request hits, never part of an expected cost"
    )
    notes.append(
        "a request that uses an explicit cache cannot send its own systemInstruction, tools or toolConfig (API 400): "
        "they move into the cache, which is why groups are split by system instruction"
    )
    if counter is None:
        notes.append(
            f"prefix sizes are estimated at {ratio:.4f} tokens per character (the plan's ratio; no tokenizer given)"
        )
    elif not getattr(counter, "exact", False):
        notes.append(f"prefix sizes are approximate ({counter.description})")
    else:
        notes.append(
            "prefix tokens are counted exactly for text (without the small per-turn overhead the server adds, so its "
            "cachedContentTokenCount may differ slightly)"
        )
    if any(c.estimated for c in candidates):
        notes.append("template candidates are found on the sample and their request counts are estimates")
    return notes


def _advice(
    plan: Plan,
    r: Rates,
    candidates: tuple[CacheCandidate, ...],
    chosen: tuple[ChosenCache, ...],
    implicit_total: Decimal | None,
    notes: list[str],
) -> CachingAdvice:
    batch_mc = plan.cost.modes.get("batch")
    saving = sum((c.saving for c in chosen), Decimal(0)) if chosen else None
    reason, codes = None, ()
    batch_cached = None
    pct, basis = None, None
    if saving is not None and batch_mc is not None and batch_mc.not_priced_reason is None:
        batch_cached = _lowered(batch_mc, saving)
        per_hour = sum((c.storage for c in chosen), Decimal(0)) / r.hours
        notes.append(
            f"storage of the recommended {agree(len(chosen), 'cache', 'caches')} costs "
            f"{exact(per_hour.quantize(Decimal('0.0001')))} per hour: "
            f"if the jobs run longer than {r.hours} h (a job expires after {r.expiry_hours} h) the saving shrinks by "
            "that much an hour"
        )
        basis = "expected" if batch_mc.expected is not None else "floor"
        base = batch_mc.expected if batch_mc.expected is not None else batch_mc.floor
        if base:
            pct = (saving / base * 100).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
    elif saving is not None:
        saving = None
        reason, codes = "the batch cost itself is not priced, so no saving can be shown", ("not-priced",)
    else:
        reason, codes = _why_not(candidates, r)
    return CachingAdvice(
        model=plan.model,
        billed_model=r.batch.model,
        platform=r.platform,
        run_date=plan.run_date,
        hours=r.hours,
        candidates=candidates,
        chosen=chosen,
        saving=saving,
        saving_percent=pct,
        basis=basis,
        batch_cached=batch_cached,
        implicit_best_case=implicit_total,
        reason=reason,
        reason_codes=tuple(codes),
        notes=tuple(dict.fromkeys(notes)),
    )


def _lowered(mc: ModeCost, saving: Decimal) -> ModeCost:
    def low(v: Decimal | None) -> Decimal | None:
        return None if v is None else v - saving

    return ModeCost(
        "batch_cached", floor=low(mc.floor), ceiling=low(mc.ceiling), expected=low(mc.expected), low=low(mc.low),
        high=low(mc.high),
    )  # fmt: skip


def _why_not(candidates: Sequence[CacheCandidate], r: Rates) -> tuple[str, tuple[str, ...]]:
    if not candidates:
        return (
            "no prefix is shared: no two requests have the same system instruction or leading content parts, and "
            "no templated prompt start was found in the sample",
            ("no-shared-prefix",),
        )
    # Explain with the largest shared prefix (most requests x tokens): that is the one a reader
    # expects caching to help, even when a tiny prefix is numerically "closest to paying".
    best = max(candidates, key=lambda c: (c.requests * c.prefix_tokens, -candidates.index(c)))
    reasons = list(dict.fromkeys(best.explicit.reasons))
    if not reasons:
        reasons = [("not-priced", "explicit caching could not be priced")]
    text = "; ".join(t for _, t in reasons)
    lead = (
        f"the largest shared prefix ({best.description}, {plural(best.requests, 'request')}, "
        f"{plural(best.prefix_tokens, 'token')}): "
    )
    if len(candidates) > 1:
        text += f" ({len(candidates)} shared prefixes checked)"
    return lead + text, tuple(dict.fromkeys(c for c, _ in reasons))


def _empty(plan: Plan, platform: str, hours: Decimal, code: str, reason: str, notes: list[str]) -> CachingAdvice:
    return CachingAdvice(
        model=plan.model, billed_model=plan.cost.billed_model, platform=platform, run_date=plan.run_date,
        hours=hours, candidates=(), chosen=(), saving=None, saving_percent=None, basis=None, batch_cached=None,
        implicit_best_case=None, reason=reason, reason_codes=(code,), notes=tuple(notes),
    )  # fmt: skip


def _as_hours(hours: float | int | Decimal) -> Decimal:
    try:
        value = hours if isinstance(hours, Decimal) else Decimal(str(hours))
    except ArithmeticError:
        value = Decimal("NaN")
    if isinstance(hours, bool) or not value.is_finite() or value <= 0:
        raise PlanError(f"caching: hours must be a positive number of storage hours, got {hours!r}")
    return Decimal(format(value.normalize(), "f"))  # 24.0 -> 24, 100 stays 100 (not 1E+2)
