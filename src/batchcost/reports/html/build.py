"""Building the report's context from a plan: each section from its own module, put together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..terminal import floor_what, headline
from .context import ReportContext
from .sections_caching import caching_section
from .sections_compare import compare_section
from .sections_costs import cost_note, cost_table, modes_chart, savings, tool_fees
from .sections_headline import key_costs, key_facts
from .sections_next import next_steps
from .sections_provenance import assumptions, cache_rates, file_row, prices_shown
from .sections_shards import shard_section
from .sections_tokens import token_section, tokens_chart
from .sections_validation import validation_section


def build_context(plan: Mapping[str, Any]) -> ReportContext:
    """The typed context of the report template, from a plan document (pure)."""
    cost = plan["cost"]
    batch = cost.get("batch") or {}
    valid = bool(plan["validation"]["valid"])
    priced = bool(batch) and "not_priced" not in batch
    tone = "bad" if not valid else ("good" if priced else "warn")
    shards = shard_section(plan.get("shards"), plan.get("other_tiers"))
    caching = caching_section(plan.get("caching"), cost.get("batch_cached"))
    modes = modes_chart(plan)
    histogram = tokens_chart(plan)
    return ReportContext(
        title=f"Batch pre-flight report: {plan['model']}",
        headline=headline(plan),
        tone=tone,
        model=plan["model"],
        billed_model=plan["billed_model"],
        run_date=plan["run_date"],
        version=str(plan.get("batchcost_version", "unknown")),
        key_costs=key_costs(plan, caching),
        key_facts=key_facts(plan, shards),
        cost_rows=cost_table(cost),
        cost_note=cost_note(plan),
        tool_fees=tool_fees(plan),
        floor_label=floor_what(plan),
        savings=savings(plan),
        modes_chart=modes,
        compare=compare_section(plan),
        next_steps=next_steps(plan),
        tokens=token_section(plan),
        tokens_chart=histogram,
        shards=shards,
        caching=caching,
        validation=validation_section(plan),
        assumptions=assumptions(plan),
        notes=[str(n) for n in plan.get("notes") or []],
        prices=prices_shown(plan["prices"]),
        cache_rates=cache_rates(plan),
        files=[file_row(f) for f in plan["files"]],
        variance=plan.get("reconciliation"),
    )
