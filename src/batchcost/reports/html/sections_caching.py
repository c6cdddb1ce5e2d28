"""The caching section: what to cache and what it saves, the shared prefixes priced, or why caching does not pay."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ...money import money
from ..plan_text import duration
from .context import CachingSection, CandidateRow, ChosenCacheRow, Money
from .display import num, sentence

MAX_CANDIDATES = 8
_CHOSEN_COLUMNS = ("no_cache", "cost", "creation", "storage", "saving")


def _available_column(values: list[tuple[Any, Any]]) -> list[Money]:
    """A money column where an option that is not available reads "n/a" (the others share one precision)."""
    column = iter(Money.column([v for v, ok in values if ok]))
    return [next(column) if ok else Money("n/a") for _, ok in values]


def _hours(value: Any) -> str:
    """Hours as the plan gives them ("99.72"), in days beyond 48 h."""
    h = Decimal(str(value))
    return f"{h:f} h" if h <= 48 else duration(h)


def caching_section(c: Any, batch_cached: Any) -> CachingSection | None:
    """The ``caching`` key (``CachingAdvice.to_json()``), or None when absent."""
    if not isinstance(c, Mapping):
        return None
    rec = c.get("recommendation") if isinstance(c.get("recommendation"), Mapping) else None
    candidates_in = [x for x in c.get("candidates") or [] if isinstance(x, Mapping)]
    described = {str(x.get("id")): str(x.get("description") or x.get("id")) for x in candidates_in}
    caches = [ch for ch in (rec or {}).get("caches") or [] if isinstance(ch, Mapping)]
    chosen_money = {k: Money.column([ch.get(k) for ch in caches]) for k in _CHOSEN_COLUMNS}
    chosen = [
        ChosenCacheRow(
            candidate=described.get(str(ch.get("candidate")), str(ch.get("candidate"))),
            requests=num(ch.get("requests")),
            **{k: chosen_money[k][i] for k in _CHOSEN_COLUMNS},
        )
        for i, ch in enumerate(caches)
    ]
    shown = candidates_in[:MAX_CANDIDATES]
    options = [x.get("options") or {} for x in shown]
    explicit = [o.get("explicit") or {} for o in options]
    implicit = [o.get("implicit_best_case") or {} for o in options]
    no_cache_col = Money.column([(o.get("no_cache") or {}).get("cost") for o in options])
    cost_col = _available_column([(ex.get("cost"), ex.get("available")) for ex in explicit])
    saving_col = _available_column([(ex.get("saving"), ex.get("available")) for ex in explicit])
    implicit_col = _available_column([(im.get("best_case_saving"), im.get("available")) for im in implicit])
    candidates = []
    for k, x in enumerate(shown):
        ex = explicit[k]
        requests = num(x.get("requests")) + (" (est.)" if x.get("estimated") else "")
        hours = ex.get("break_even_hours")
        candidates.append(
            CandidateRow(
                id=str(x.get("id", "")), description=_excerpt(x.get("description")), requests=requests,
                prefix_tokens=num(x.get("prefix_tokens")), no_cache=no_cache_col[k],
                explicit_cost=cost_col[k], explicit_saving=saving_col[k],
                break_even_requests=num(ex.get("break_even_requests")),
                break_even_hours="-" if hours is None else _hours(hours),
                implicit_saving=implicit_col[k],
                pays=bool(ex.get("pays")),
                why="; ".join(str(r.get("text", "")) for r in ex.get("reasons") or [] if isinstance(r, Mapping)),
            )
        )  # fmt: skip
    more = ""
    if len(candidates_in) > MAX_CANDIDATES:
        more = f"Showing the {MAX_CANDIDATES} best of {len(candidates_in):,} shared prefixes."
    bc = batch_cached if isinstance(batch_cached, Mapping) else c.get("batch_cached")
    bc_value = None
    if isinstance(bc, Mapping) and "not_priced" not in bc:
        bc_value = bc.get("expected") if bc.get("expected") is not None else bc.get("floor")
    saving = ""
    if rec and rec.get("saving") is not None:
        saving = money(rec["saving"])
        if rec.get("saving_percent") is not None:
            saving += f" ({rec['saving_percent']}% of the batch {rec.get('basis') or 'expected'} cost)"
    implicit = ""
    if c.get("implicit_best_case_saving") is not None:
        implicit = (
            f"Implicit caching could save up to {money(c['implicit_best_case_saving'])} if every eligible request "
            "hit the cache; there is no guarantee, so it is in no expected figure."
        )
    hours = c.get("hours")
    return CachingSection(
        pays=bool(c.get("pays")),
        summary=sentence(str(c.get("summary") or c.get("reason") or "")),
        recommendation="explicit cache"
        if rec and len(chosen) == 1
        else (f"{len(chosen)} explicit caches" if rec else "no cache"),
        batch_cached=None if bc_value is None else Money.of(bc_value),
        saving=saving,
        hours="" if hours is None else _hours(hours),
        chosen=chosen,
        candidates=candidates,
        more=more,
        implicit=implicit,
        notes=[str(n) for n in c.get("notes") or []],
    )


def _excerpt(text: Any, limit: int = 160) -> str:
    s = "" if text is None else " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
