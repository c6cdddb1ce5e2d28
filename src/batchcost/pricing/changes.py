"""What a model's prices and life do over time: its dated events, and what changes in a window of days.

``PriceBook.model_info`` lists a model's events; ``PriceBook.events_between`` (the estimate's warning
that a job may straddle a change) compares the resolved rates on each side of every day where a price
block, a routing, an event or a shutdown begins. These functions read the book through its
resolution helpers, as its own methods do.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

from batchcost.errors import PricingError
from batchcost.money import exact
from batchcost.pricing.book_view import BookView
from batchcost.pricing.overlay import ModelSpec
from batchcost.pricing.records import MODES, LifecycleEvent, ModeRates

_DAY = datetime.timedelta(days=1)


def lifecycle_events(spec: ModelSpec) -> tuple[LifecycleEvent, ...]:
    """A model's dated events (release, routing, shutdown and the overlay's own), oldest first, each citing its source."""
    events = [LifecycleEvent(e.date, e.kind, e.text, e.provenance.cite()) for e in spec.events]
    if spec.released is not None:
        events.append(LifecycleEvent(spec.released, "release", f"{spec.id} released", spec.provenance.cite()))
    for route in spec.routing:
        billed = route.to if route.billing == "target" else spec.id
        events.append(
            LifecycleEvent(
                route.start,
                "routing",
                f"{spec.id} routed to {route.to} (billed at {billed} rates)",
                route.provenance.cite(),
            )
        )
    if spec.shutdown is not None:
        events.append(
            LifecycleEvent(
                spec.shutdown.date,
                "shutdown",
                f"{spec.id} shut down (successors: {', '.join(spec.shutdown.successors) or 'none named'})",
                spec.shutdown.provenance.cite(),
            )
        )
    return tuple(sorted(events, key=lambda e: (e.date, e.kind)))


def _chain(book: BookView, model_id: str) -> list[ModelSpec]:
    """The model and every model it may be routed to."""
    chain: list[ModelSpec] = []
    todo = [model_id]
    while todo:
        current = todo.pop()
        if any(s.id == current for s in chain):
            continue
        spec = book._spec(current)
        chain.append(spec)
        todo.extend(r.to for r in spec.routing)
    return chain


def _breakpoints(book: BookView, chain: Iterable[ModelSpec]) -> set[datetime.date]:
    days: set[datetime.date] = set()
    for spec in chain:
        gp_model = book._gp(spec)
        if gp_model is not None:
            days |= gp_model.breakpoints()
        for block in (*spec.prices, *spec.cache_storage):
            if block.start is not None:
                days.add(block.start)
            if block.end is not None:
                days.add(block.end + _DAY)
        days.update(r.start for r in spec.routing)
        days.update(e.date for e in spec.events)
        if spec.shutdown is not None:
            days.add(spec.shutdown.date)
    return days


def _state(book: BookView, model: str, mode: str, day: datetime.date) -> ModeRates | str:
    try:
        return book.rates(model, mode, day)
    except PricingError as exc:
        return str(exc)


def events_between(
    book: BookView, model: str, start: datetime.date, end: datetime.date, mode: str | None = None
) -> list[str]:
    """:meth:`PriceBook.events_between`: the changes of ``model``'s rates and life on days in ``(start, end]``."""
    model_id, _ = book.resolve(model)
    modes = [mode] if mode else list(MODES)
    chain = _chain(book, model_id)
    messages: list[str] = []
    for day in sorted(_breakpoints(book, chain)):
        if not start < day <= end:
            continue
        for m in modes:
            before, after = _state(book, model, m, day - _DAY), _state(book, model, m, day)
            messages.extend(_describe_change(day, m, before, after))
    for spec in chain:
        for event in spec.events:
            # price and intro-end events show up above as computed rate changes
            if start < event.date <= end and event.kind not in ("price", "intro-end"):
                messages.append(f"{event.date}: {event.text} ({event.provenance.cite()})")
    messages = list(dict.fromkeys(messages))
    if messages:
        lim = book.limits()
        messages.append(
            f"a batch job targets completion within {lim.target_turnaround_hours} h and expires after "
            f"{lim.expiry_hours} h, so it may run across these changes; whether it is billed at submit-time or "
            "completion-time rates is UNKNOWN: budget for the higher, or submit after the change"
        )
    return messages


def _describe_change(day: datetime.date, mode: str, before: ModeRates | str, after: ModeRates | str) -> list[str]:
    """Human lines for what changes in ``mode`` between the day before ``day`` and ``day``."""
    if isinstance(after, str):
        return [] if after == before else [f"{day}: {mode}: {after}"]
    if isinstance(before, str):
        return [f"{day}: {mode} becomes priced ({after.model})"]
    lines: list[str] = []
    if before.model != after.model:  # the same for every mode: said once
        lines.append(f"{day}: billed as {after.model} instead of {before.model}")
    old = {(c, m, a): r.usd_per_mtok for c, m, a, r in before.rates()}
    new = {(c, m, a): r.usd_per_mtok for c, m, a, r in after.rates()}
    tiers = [False] + ([True] if before.tier_threshold is not None and after.tier_threshold is not None else [])
    changes: list[str] = []
    labels = {"input": "input", "cache_read": "cached input", "output": "output"}
    for above in tiers:
        for component in ("input", "cache_read", "output"):
            keys = sorted(k for k in set(old) | set(new) if k[0] == component and k[2] == above)
            pairs: dict[tuple[Decimal | None, Decimal | None], list[str]] = {}
            for key in keys:
                if old.get(key) != new.get(key):
                    pairs.setdefault((old.get(key), new.get(key)), []).append(key[1])
            for (a, b), where in pairs.items():
                scope = [] if len(where) == len(keys) or component == "output" else where
                if above:
                    scope.append(f">{before.tier_threshold:,} prompt tokens")
                label = f"{labels[component]} ({', '.join(scope)})" if scope else labels[component]
                a_text = exact(a) if a is not None else "unknown"
                b_text = exact(b) if b is not None else "unknown"
                changes.append(f"{label} {a_text} -> {b_text}")
    if before.tier_threshold != after.tier_threshold:
        if after.tier_threshold is None:
            changes.append(f"the >{before.tier_threshold:,}-prompt-token tier no longer applies (flat rates)")
        else:
            changes.append(f"requests above {after.tier_threshold:,} prompt tokens pay higher rates")
    if changes:
        lines.append(f"{day}: {after.model} {mode} rates change per 1M tokens: {'; '.join(changes)}")
    s_old = before.cache_storage.usd_per_mtok if before.cache_storage else None
    s_new = after.cache_storage.usd_per_mtok if after.cache_storage else None
    if s_old != s_new and mode == "standard":
        lines.append(
            f"{day}: {after.model} explicit-cache storage "
            f"{exact(s_old) if s_old is not None else 'unknown'} -> {exact(s_new) if s_new is not None else 'unknown'}"
            " per 1M tokens per hour"
        )
    return lines
