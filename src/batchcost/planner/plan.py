"""The Plan: what ``estimate`` found, and its JSON contract ``batchcost.plan/1``.

JSON contract (all USD figures are decimal strings; token figures are integers)::

    {
      "schema": "batchcost.plan/1",
      "batchcost_version": "0.1.0",
      "run_date": "2026-11-27",
      "model": "gemini-2.5-flash",          # as asked
      "billed_model": "gemini-2.5-flash",   # after aliases and routing on run_date
      "files": [{"path", "form", "compressed", "bytes", "lines", "requests", "sha256" | null}],
      "requests": 1234,
      "validation": {"valid", "errors", "warnings", "problem_counts": {code: n},
                     "problems": [{"path", "line", "code", "severity", "message"}]},   # first 5 per kind
      "tokens": {
        "distribution": {"edges": [...], "counts": [...]},   # input tokens per request, log-spaced bins
        "method": "exact" | "sampled" | "approximate",
        "tokenizer": "local" | "api" | "heuristic",
        "tokenizer_description": "...",
        "counted_exactly": n, "approx_error_pct": null | x,
        "input": {"expected", "low", "high",
                  "by_modality": {"text": {...}, "image": {...}, ...},
                  "by_place": {"system": {...}, "contents": {...}, "tools": {...}} | null},
        "output": {"ceiling" | null, "expected" | null, "low" | null, "high" | null, "source" | null},
        "above_200k": {"expected", "low", "high"} | null   # null for flat-rate models (no tier)
      },
      "cost": {"<mode>": {"floor", "expected" | null, "low" | null, "high" | null, "ceiling" | null}
               or {"not_priced": "reason"}},     # modes: standard, batch, flex, priority, and
                                                 # batch_cached when an explicit cache pays
      "caching": {...} | null,      # CachingAdvice.to_json() (planner/caching.py)
      "shards": {...} | null,       # ShardPlan.to_json() (planner/shards.py)
      "reconciliation": {...},      # only in a plan re-rendered by `reconcile --report`:
                                    # afterjob.reconcile.variance_section()
      "savings": {"batch_vs_standard": {"usd", "percent", "basis"}} | {},
      "compare": [{"model", "billed_model", "cost": {...}, "output": {...}, "warnings": [...]}],
      "comparison": null | {"options": [{"model", "mode", "expected", "vs_chosen"}],  # cheapest first
                            "cheapest": {...} | null, "notes": [str]},         # a note per missing mode
      "prices": [{"model", "mode", "component", "modality", "tier", "usd_per_mtok",
                  "source", "checked", "derived", "overridden"}],
      "warnings": ["..."],
      "notes": ["..."]
    }

``floor`` is the input-only cost at the expected input; ``expected``/``low``/``high`` add the
expected output (null when no expectation was given); ``ceiling`` prices the input's high end and
every request's output ceiling; it is null when some request's ceiling is unknown (no maxOutputTokens
on a model whose output limit is unknown), never 0.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from ..documents.plan import PLAN_SCHEMA
from ..money import usd
from ..pricing.used import PriceUsed

if TYPE_CHECKING:
    import pandas as pd

    from ..batchfile import ScanResult
    from ..tokens import TokenEstimate


@dataclass
class ModeCost:
    """Cost of the whole file in one mode (USD, exact)."""

    mode: str
    floor: Decimal | None = None
    ceiling: Decimal | None = None
    expected: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    not_priced_reason: str | None = None
    # component -> {"expected", "low", "high"} (None where the figure is unknown); they sum to the
    # mode's figures: input (tool results fed back included), output, cache_reads, cache_storage, tool_fees
    by_component: dict[str, dict[str, Decimal | None]] | None = None
    tools: Any = field(repr=False, default=None)  # planner.tool_fees.ModeTools

    @classmethod
    def not_priced(cls, mode: str, reason: str) -> ModeCost:
        return cls(mode, not_priced_reason=reason)

    def to_json(self) -> dict[str, Any]:
        if self.not_priced_reason is not None:
            return {"not_priced": self.not_priced_reason}
        out: dict[str, Any] = {
            "floor": usd(self.floor),
            "expected": usd(self.expected),
            "low": usd(self.low),
            "high": usd(self.high),
            "ceiling": usd(self.ceiling),
        }
        if self.by_component is not None:
            out["by_component"] = {
                name: {end: usd(v) for end, v in figures.items()} for name, figures in self.by_component.items()
            }
        return out


@dataclass
class OutputTokens:
    """Output tokens of all requests: the ceiling (None when unknown), the expectation when given."""

    ceiling: int | None
    expected: int | None
    low: int | None
    high: int | None
    source: str | None
    # image-output models: images asked for and the image tokens they are billed as (in addition to
    # the text tokens above); None for other models
    images: int | None = None
    image_tokens: int | None = None
    # speech-output models: the audio tokens per second of speech assumed (None for other models);
    # the figures above are audio tokens, and the document gives them in seconds too
    audio_tokens_per_second: float | None = None

    def seconds(self, tokens: int | None) -> float | None:
        """Seconds of speech ``tokens`` audio tokens are (None for a model without speech output)."""
        if tokens is None or self.audio_tokens_per_second is None:
            return None
        return round(tokens / self.audio_tokens_per_second, 1)

    def to_json(self) -> dict[str, Any]:
        audio = None
        if self.audio_tokens_per_second is not None:
            audio = {
                "tokens_per_second": self.audio_tokens_per_second,
                **{end: self.seconds(getattr(self, end)) for end in ("expected", "low", "high", "ceiling")},
            }
        return {
            "ceiling": self.ceiling,
            "expected": self.expected,
            "low": self.low,
            "high": self.high,
            "source": self.source,
            "images": self.images,
            "image_tokens": self.image_tokens,
            "audio_seconds": audio,
        }


@dataclass
class ModelCost:
    """One model's costs for the file."""

    model: str
    billed_model: str
    modes: dict[str, ModeCost]
    output: OutputTokens
    prices: list[PriceUsed]
    notes: list[str]
    # per request; -1 where the ceiling is unknown
    per_request_ceiling: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    # per request: the expected output priced (None without an output expectation)
    per_request_output: np.ndarray | None = field(repr=False, default=None)
    # mode -> the ModeRates that priced it (per-request costs in plan.requests() use them)
    rates: dict[str, Any] = field(repr=False, default_factory=dict)

    def cost_json(self) -> dict[str, Any]:
        return {mode: mc.to_json() for mode, mc in self.modes.items()}

    def savings(self) -> dict[str, Any]:
        std, batch = self.modes.get("standard"), self.modes.get("batch")
        if std is None or batch is None or std.not_priced_reason or batch.not_priced_reason:
            return {}
        basis = "expected" if std.expected is not None and batch.expected is not None else "floor"
        a, b = getattr(std, basis), getattr(batch, basis)
        if a is None or b is None:
            return {}
        pct = (a - b) / a * 100 if a else Decimal(0)
        return {"batch_vs_standard": {"usd": usd(a - b), "percent": f"{pct:.1f}", "basis": basis}}


@dataclass(repr=False)
class Plan:
    """What ``estimate`` found. ``to_json()`` gives the ``batchcost.plan/1`` document.

    Tables for notebooks and pipelines (pandas DataFrames, money as float64 dollars; the JSON
    document keeps it exact): :meth:`requests` (one row per line), :meth:`shards`, :meth:`prices`,
    :meth:`caching_candidates` and :meth:`compare`. ``warnings`` and ``notes`` are the document's.
    The request count is ``plan.scan.requests``; the shard plan object is ``plan.shard_plan``.
    """

    run_date: datetime.date
    model: str
    scan: ScanResult
    tokens: TokenEstimate
    cost: ModelCost
    compared: list[ModelCost]
    warnings: list[str]
    tokenizer_notes: list[str]
    caching: Any = None  # CachingAdvice
    shard_plan: Any = None  # ShardPlan
    # When the billing tier was assumed and the jobs need several waves: what a higher tier would
    # need, e.g. [{"tier": 2, "shards": 3, "waves": 1}]
    other_tiers: list[dict[str, int]] = field(default_factory=list)
    # (requests per tool, ToolExpectation, free units) when some request carries a priced tool
    tools: Any = None

    def __post_init__(self) -> None:
        # The pricing notes are warnings in the document and on screen: plan.warnings says the same.
        for note in self.cost.notes:
            if note not in self.warnings:
                self.warnings.append(note)

    @property
    def notes(self) -> list[str]:
        """Assumptions and rules used (the document's ``notes``)."""
        return self.tokenizer_notes

    # -- tables (planner/tables.py, planner/summary_tables.py) and notebook display -----------

    def requests(self) -> pd.DataFrame:
        """One row per line of the input: key, file, line, tokens, output, cost per mode, shard, cache.

        See :func:`batchcost.planner.tables.request_table` for the columns. Money is float64
        dollars (``cost_batch_usd``); the exact Decimal figures are in :meth:`to_json`.
        """
        from .tables import request_table

        return request_table(self)

    def shards(self) -> pd.DataFrame:
        """One row per planned shard (job): wave, requests, bytes, tokens, cost (float64 USD), lines."""
        from .summary_tables import shard_table

        return shard_table(self)

    def prices(self) -> pd.DataFrame:
        """One row per rate that priced the plan (and each compared model), with its source and date."""
        from .summary_tables import price_table

        return price_table(self)

    def caching_candidates(self) -> pd.DataFrame:
        """One row per shared prefix found, with its priced cache options and whether it was chosen."""
        from .summary_tables import caching_table

        return caching_table(self)

    def compare(self) -> pd.DataFrame:
        """One row per model and mode: floor, expected, low, high and ceiling cost (float64 USD)."""
        from .summary_tables import compare_table

        return compare_table(self)

    def __repr__(self) -> str:
        """At most ten lines: model, requests, batch cost and range, tokens, shards, caching, warnings."""
        from ..reports.notebook import plan_text

        try:
            return plan_text(self.to_json())
        except Exception as e:  # a repr that raises hides the object in a debugger or a log
            return f"<batchcost.Plan {self.model} (no summary: {type(e).__name__}: {e})>"

    def _repr_html_(self) -> str:
        """The summary cards a notebook shows (a small self-contained HTML fragment)."""
        from ..reports.notebook import plan_cards

        return plan_cards(self.to_json())

    def to_json(self) -> dict[str, Any]:
        from ..version import __version__

        t = self.tokens
        input_json: dict[str, Any] = t.total.to_dict()
        input_json["by_modality"] = {k: v.to_dict() for k, v in t.by_modality.items()}
        input_json["by_place"] = None if t.by_place is None else {k: v.to_dict() for k, v in t.by_place.items()}
        warnings = list(self.warnings)
        for note in self.cost.notes:  # already there since __post_init__, unless added later
            if note not in warnings:
                warnings.append(note)
        return {
            "schema": PLAN_SCHEMA,
            "batchcost_version": __version__,
            "run_date": self.run_date.isoformat(),
            "model": self.model,
            "billed_model": self.cost.billed_model,
            "files": [
                {
                    **f.to_json(),
                    "requests": int(self.scan.rows["usable"][f.first_row : f.first_row + f.lines].sum()),
                }
                for f in self.scan.files
            ],
            "requests": self.scan.requests,
            "validation": {
                "valid": self.scan.valid(),
                "errors": self.scan.errors,
                "warnings": self.scan.warnings,
                "problem_counts": dict(self.scan.problem_counts),
                "problems": _problems_json(self.scan),
            },
            "tokens": {
                "distribution": _distribution(t.per_request[self.scan.rows["usable"].astype(bool)]),
                "method": t.method,
                "tokenizer": t.tokenizer,
                "tokenizer_description": t.tokenizer_description,
                "tokenizer_assumed": t.tokenizer_assumed,
                "counted_exactly": len(t.counted_rows),
                "approx_error_pct": t.approx_error_pct,
                "input": input_json,
                "output": self.cost.output.to_json(),
                "above_200k": None if t.above_threshold is None else t.above_threshold.to_dict(),
            },
            "cost": self._cost_json(),
            "savings": self.cost.savings(),
            "compare": [
                {
                    "model": mc.model,
                    "billed_model": mc.billed_model,
                    "cost": mc.cost_json(),
                    "output": mc.output.to_json(),
                    "warnings": mc.notes,
                }
                for mc in self.compared
            ],
            "caching": None if self.caching is None else self.caching.to_json(),
            "shards": None if self.shard_plan is None else self.shard_plan.to_json(),
            "other_tiers": list(self.other_tiers),
            "comparison": self._comparison(),
            "prices": [p.to_json() for p in self.cost.prices],
            "warnings": warnings,
            "notes": self.tokenizer_notes,
            "tools": None if self.tools is None else self._tools_json(),
        }

    def _tools_json(self) -> dict[str, Any] | None:
        from .tool_fees import tools_json

        requests, exp, free = self.tools
        per_mode = {m: mc.tools for m, mc in self.cost.modes.items() if mc.tools is not None}
        return tools_json(requests, exp, per_mode, free)

    def _comparison(self) -> dict[str, Any] | None:
        """``--compare`` ranked: every model x mode by expected cost, against the chosen model's batch."""
        if not self.compared:
            return None
        entries = [(self.model, self._cost_json())] + [(mc.model, mc.cost_json()) for mc in self.compared]
        chosen = entries[0][1].get("batch") or {}
        base = None if chosen.get("expected") is None else Decimal(chosen["expected"])
        options = []
        for model, cost in entries:
            for mode in ("batch", "batch_cached", "standard"):
                c = cost.get(mode)
                if c is None:
                    continue
                value = None if "not_priced" in c or c.get("expected") is None else Decimal(c["expected"])
                diff = None if value is None or base is None else value - base
                options.append({"model": model, "mode": mode, "expected": usd(value), "vs_chosen": usd(diff)})
        options.sort(key=lambda o: (o["expected"] is None, Decimal(o["expected"] or 0)))
        priced = [o for o in options if o["expected"] is not None]
        notes = []
        modes = [m for m in entries[0][1] if m != "batch_cached"]
        for model, cost in entries[1:]:
            lacking = [m for m in modes if m not in cost or "not_priced" in cost[m]]
            if lacking:
                notes.append(f"{model} has no {', '.join(lacking)} rates in the price book: not compared in that mode")
        if "batch_cached" in entries[0][1]:
            notes.append("batch + cache is priced for the chosen model only")
        return {"options": options, "cheapest": priced[0] if priced else None, "notes": notes}

    def _cost_json(self) -> dict[str, Any]:
        cost = self.cost.cost_json()
        if self.caching is not None and self.caching.batch_cached is not None:
            cost["batch_cached"] = self.caching.batch_cached.to_json()
        return cost


def _problems_json(scan: ScanResult, per_kind: int = 5) -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    out = []
    for p in scan.problems:
        if seen.get(p.code, 0) < per_kind:
            seen[p.code] = seen.get(p.code, 0) + 1
            out.append(p.to_json())
    return out


def _distribution(per_request: np.ndarray) -> dict[str, list[int]]:
    """Histogram of input tokens per request on log-spaced bin edges (1, 2, 5, 10, 20, 50, ...)."""
    if not len(per_request):
        return {"edges": [], "counts": []}
    top = max(int(per_request.max()), 1)
    edges = [0]
    k = 1
    while edges[-1] <= top:
        for m in (1, 2, 5):
            edges.append(m * k)
        k *= 10
    while len(edges) > 2 and edges[-2] > top:
        edges.pop()
    counts, _ = np.histogram(per_request, bins=np.array(edges, dtype=np.float64))
    return {"edges": edges, "counts": [int(c) for c in counts]}
