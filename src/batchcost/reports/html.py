"""The HTML pre-flight report: one self-contained page rendered from a ``batchcost.plan/1`` document.

The page is what a user forwards to whoever approves the budget, so it is correct (every figure is
the plan's, rounded only for display and carried exactly in ``data-usd`` attributes), safe (jinja2
autoescaping on every string, ``StrictUndefined``, no script at all) and self-contained (CSS and
SVG charts inline; nothing is fetched, so it reads the same as an email attachment, offline or
printed to PDF). The output is deterministic: the only dates are the ones the plan carries.

Rendering happens in two steps, both pure:

1. :func:`build_context` turns the plan JSON into a typed :class:`ReportContext` (display strings,
   exact figures, chart SVGs). Optional sections (``shards``, ``caching``, ``compare``) become None
   or empty when the plan lacks them.
2. The ``report.html.j2`` template (package data, loaded with ``PackageLoader``) lays it out.

Usage::

    from batchcost.reports.html import render_html, write_report
    html = render_html(plan.to_json())
    write_report(plan.to_json(), "plan.html")      # atomic; .md / .txt give Markdown / text
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..documents.plan import check_plan
from ..errors import OutputError, PlanError
from . import charts
from .terminal import MODE_NAMES, cost_rows, headline, money, price_rows

if TYPE_CHECKING:
    from jinja2 import Environment
    from markupsafe import Markup

REPORT_FORMATS = ("html", "markdown", "text")
_URL = re.compile(r"https?://[^\s<>\"')]+")
FIRST_PROBLEMS = 20


# -- the typed template context -------------------------------------------------------------------


@dataclass(frozen=True)
class Money:
    """An amount as shown (``text``) and exactly as in the plan (``usd``, a decimal string or None)."""

    text: str
    usd: str | None = None

    @classmethod
    def of(cls, value: str | Decimal | None) -> Money:
        return cls(money(value), None if value is None else str(value))


@dataclass(frozen=True)
class KeyFigure:
    """One tile under the headline. ``tone`` is "", "good", "warn" or "bad"."""

    label: str
    value: str
    detail: str = ""
    tone: str = ""
    usd: str | None = None


@dataclass(frozen=True)
class CostRow:
    """One mode of the cost table; ``not_priced`` holds the reason when the mode has no price."""

    mode: str
    label: str
    floor: Money
    expected: Money
    low: Money
    high: Money
    ceiling: Money
    not_priced: str | None = None
    highlight: bool = False


@dataclass(frozen=True)
class CompareRow:
    """One model of the comparison (the plan's own model first)."""

    model: str
    billed_model: str
    standard: Money
    batch: Money
    batch_range: str
    batch_ceiling: Money
    versus: str
    is_main: bool
    notes: list[str]


@dataclass(frozen=True)
class TokenRow:
    """A line of token figures: expected, its 95% interval (or "exact"), share of the input."""

    label: str
    expected: str
    interval: str
    share: str


@dataclass(frozen=True)
class TokenSection:
    """Input and output token figures and how they were obtained."""

    method: str
    approximate: bool
    interval_label: str
    description: str
    total: TokenRow
    by_modality: list[TokenRow]
    by_place: list[TokenRow]
    output_expected: str
    output_source: str
    output_ceiling: str
    above_tier: str


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart with its heading and a caption that says how to read it."""

    name: str
    title: str
    caption: str
    svg: Markup


@dataclass(frozen=True)
class ShardRow:
    """One shard (one batch job)."""

    index: str
    wave: str
    requests: str
    bytes: str
    tokens: str
    lines: str
    cost: Money
    cumulative: Money
    ceiling: Money


@dataclass(frozen=True)
class WaveRow:
    """Shards in flight together (their tokens fit the enqueued-token quota at once)."""

    index: str
    shards: str
    requests: str
    tokens: str
    cost: Money


@dataclass(frozen=True)
class LimitRow:
    """A per-job or per-model limit the shard plan respects, and where it comes from."""

    label: str
    value: str
    source: str


@dataclass(frozen=True)
class OversizedRow:
    """A request that alone exceeds a per-job limit: it is in no shard."""

    line: str
    limit: str
    figure: str
    allowed: str


@dataclass(frozen=True)
class ShardSection:
    """The shard plan (``batchcost.shards/1``): jobs the API accepts, in waves, and how long they take."""

    summary: str
    tier: str
    time_bound: str
    hours: str
    token_basis: str
    cost_basis: str
    limits: list[LimitRow]
    rows: list[ShardRow]
    more: str
    waves: list[WaveRow]
    oversized: list[OversizedRow]
    warnings: list[str]
    notes: list[str]
    chart: Chart | None


@dataclass(frozen=True)
class ChosenCacheRow:
    """One explicit cache of the recommendation, with what it saves."""

    candidate: str
    requests: str
    no_cache: Money
    cost: Money
    creation: Money
    storage: Money
    saving: Money


@dataclass(frozen=True)
class CandidateRow:
    """A prefix shared by many requests, priced: no cache, explicit cache (break-even), implicit best case."""

    id: str
    description: str
    requests: str
    prefix_tokens: str
    no_cache: Money
    explicit_cost: Money
    explicit_saving: Money
    break_even_requests: str
    break_even_hours: str
    implicit_saving: Money
    pays: bool
    why: str


@dataclass(frozen=True)
class CachingSection:
    """Caching advice: what to cache, what it saves, the break-even figures, or why it does not pay."""

    pays: bool
    summary: str
    recommendation: str
    batch_cached: Money | None
    saving: str
    hours: str
    chosen: list[ChosenCacheRow]
    candidates: list[CandidateRow]
    more: str
    implicit: str
    notes: list[str]


@dataclass(frozen=True)
class ProblemRow:
    """One validation problem (the plan keeps the first few of each kind)."""

    path: str
    line: str
    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class ValidationSection:
    """Whether the file is valid, problem counts by kind, and the first problems."""

    valid: bool
    summary: str
    counts: list[tuple[str, str]]
    problems: list[ProblemRow]
    more: str


@dataclass(frozen=True)
class PriceRow:
    """A rate used, with its source (text and, when it carries one, an http(s) link) and checked date."""

    mode: str
    component: str
    modality: str
    tier: str
    rate: str
    checked: str
    source: str
    url: str | None


@dataclass(frozen=True)
class FileRow:
    """An input file and its fingerprint."""

    path: str
    size: str
    lines: str
    requests: str
    form: str
    sha256: str


@dataclass(frozen=True)
class ReportContext:
    """Everything the template shows. Every string is plain text: the template escapes it."""

    title: str
    headline: str
    tone: str
    model: str
    billed_model: str
    run_date: str
    version: str
    key_costs: list[KeyFigure]
    key_facts: list[KeyFigure]
    cost_rows: list[CostRow]
    cost_note: str
    savings: str
    modes_chart: Chart | None
    compare: list[CompareRow]
    tokens: TokenSection
    tokens_chart: Chart | None
    shards: ShardSection | None
    caching: CachingSection | None
    validation: ValidationSection
    assumptions: list[str]
    notes: list[str]
    prices: list[PriceRow]
    files: list[FileRow]
    variance: Mapping[str, Any] | None = None  # reconcile's variance_section(): plain strings


# -- public API -----------------------------------------------------------------------------------


def render_html(plan_json: Mapping[str, Any]) -> str:
    """Render a plan (``batchcost.plan/1`` JSON) as one self-contained HTML page.

    Pure and deterministic: the same plan gives the same bytes (with the same matplotlib).

    Args:
        plan_json: the document from ``Plan.to_json()`` or a saved ``--format json`` file.

    Returns:
        The HTML page.

    Raises:
        PlanError: the document is not a ``batchcost.plan/1`` plan.
    """
    check_plan(plan_json)
    ctx = build_context(plan_json)
    return _environment().get_template("report.html.j2").render(r=ctx)


def render_report(plan_json: Mapping[str, Any], format: str = "html") -> str:
    """Render a plan in one of :data:`REPORT_FORMATS` ("html", "markdown", "text")."""
    from .terminal import render_plan_markdown, render_plan_text

    if format == "html":
        return render_html(plan_json)
    check_plan(plan_json)
    if format == "markdown":
        return render_plan_markdown(plan_json)
    if format == "text":
        return render_plan_text(plan_json)
    raise PlanError(f"unknown report format {format!r}; use one of {', '.join(REPORT_FORMATS)}")


REPORT_SUFFIXES = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".txt": "text"}


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The report format a file name asks for: .html/.htm, .md/.markdown or .txt.

    Raises:
        OutputError: any other extension (``plan.pdf`` must not silently receive HTML).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise OutputError(
            os.fspath(path),
            f"cannot write a report as {suffix or 'a file without an extension'}: name it .html, .md or .txt "
            "(HTML, Markdown or text)",
        )
    return REPORT_SUFFIXES[suffix]


def write_report(plan_json: Mapping[str, Any], path: str | os.PathLike[str], *, format: str | None = None) -> None:
    """Write the report atomically (a temporary file in the same folder, then a rename).

    Args:
        plan_json: the plan document.
        path: where to write; the folder must exist.
        format: "html", "markdown" or "text"; by default chosen from the file name (see
            :func:`format_for_path`).

    Raises:
        PlanError: the document is not a plan.
        OutputError: the file cannot be written (missing or read-only folder, full disk, unknown extension).
    """
    from ..outputs import write_atomic

    write_atomic(path, render_report(plan_json, format or format_for_path(path)))


# -- building the context -------------------------------------------------------------------------


def build_context(plan: Mapping[str, Any]) -> ReportContext:
    """The typed context of the report template, from a plan document (pure)."""
    cost = plan["cost"]
    batch = cost.get("batch") or {}
    valid = bool(plan["validation"]["valid"])
    priced = bool(batch) and "not_priced" not in batch
    tone = "bad" if not valid else ("good" if priced else "warn")
    tiered = any(p.get("tier") for p in plan["prices"])
    t = plan["tokens"]
    dist = t.get("distribution") or {"edges": [], "counts": []}
    shards = _shard_section(plan.get("shards"))
    caching = _caching_section(plan.get("caching"), cost.get("batch_cached"))
    modes_svg = charts.cost_by_mode(_mode_bars(cost), axis_label=_mode_axis_label(cost, t["method"]))
    hist_svg = charts.token_histogram(dist["edges"], dist["counts"], tier=tiered)
    return ReportContext(
        title=f"Batch pre-flight report: {plan['model']}",
        headline=headline(plan),
        tone=tone,
        model=plan["model"],
        billed_model=plan["billed_model"],
        run_date=plan["run_date"],
        version=str(plan.get("batchcost_version", "unknown")),
        key_costs=_key_costs(plan, caching),
        key_facts=_key_facts(plan, shards),
        cost_rows=_cost_rows(cost),
        cost_note=_cost_note(plan),
        savings=_savings(plan),
        modes_chart=None
        if modes_svg is None
        else Chart(
            "modes",
            "Cost by mode",
            "Whole-file cost in each mode"
            + (
                "; bars are the expected cost"
                + ("." if plan["tokens"]["method"] == "exact" else ", whiskers the 95% interval.")
                if _has_expectation(cost)
                else "; no output expectation was given, so bars show the input-only floor."
            ),
            _markup(modes_svg),
        ),
        compare=_compare(plan),
        tokens=_token_section(plan),
        tokens_chart=None
        if hist_svg is None
        else Chart(
            "histogram",
            "Input tokens per request",
            "How many requests fall in each size band"
            + (
                "; bars right of the dashed line are billed at the higher >200k prompt rates."
                if tiered and dist["edges"] and dist["edges"][-1] > charts.TIER_THRESHOLD
                else "."
            )
            + (" Sizes are estimated from the sample." if t["method"] != "exact" else ""),
            _markup(hist_svg),
        ),
        shards=shards,
        caching=caching,
        validation=_validation(plan),
        assumptions=_assumptions(plan),
        notes=[str(n) for n in plan.get("notes") or []],
        prices=_prices(plan["prices"]),
        files=[_file_row(f) for f in plan["files"]],
        variance=plan.get("reconciliation"),
    )


def _markup(svg: str) -> Markup:
    from markupsafe import Markup

    # Trusted: produced by charts.py from numbers and our own labels, with ids prefixed and any
    # active content refused there (charts._inline).
    return Markup(svg)


@functools.cache
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    # autoescape=True rather than select_autoescape(): our templates end in ".j2", which the
    # extension-based selector would leave unescaped.
    env = Environment(
        loader=PackageLoader("batchcost.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["code_spans"] = code_spans
    return env


def code_spans(text: str) -> Markup:
    """Escape ``text`` and show its `backticked` parts (commands, field names) as ``<code>``."""
    from markupsafe import Markup, escape

    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show it as it is
        return escape(text)
    return Markup("").join(escape(p) if i % 2 == 0 else Markup("<code>%s</code>") % p for i, p in enumerate(parts))


def _has_expectation(cost: Mapping[str, Any]) -> bool:
    return any(c.get("expected") is not None for c in cost.values() if "not_priced" not in c)


def _mode_label(mode: str) -> str:
    return MODE_NAMES.get(mode, mode.replace("_", " "))


def _cost_rows(cost: Mapping[str, Any]) -> list[CostRow]:
    shown = cost_rows(cost)[1:]  # the text renderer's labels, so every format names modes alike
    rows = []
    for (mode, c), text in zip(cost.items(), shown, strict=True):
        if "not_priced" in c:
            dash = Money("-")
            rows.append(CostRow(mode, text[0], dash, dash, dash, dash, dash, not_priced=str(c["not_priced"])))
            continue
        rows.append(
            CostRow(
                mode, text[0], Money(text[1], c["floor"]), Money(text[2], c["expected"]), Money(text[3], c["low"]),
                Money(text[4], c["high"]), Money(text[5], c["ceiling"]), highlight=mode == "batch",
            )
        )  # fmt: skip
    return rows


def _mode_bars(cost: Mapping[str, Any]) -> list[charts.Bar]:
    bars = []
    for mode, c in cost.items():
        if "not_priced" in c:
            continue
        if c.get("expected") is not None:
            value, low, high = Decimal(c["expected"]), _dec(c.get("low")), _dec(c.get("high"))
        elif c.get("floor") is not None:
            value, low, high = Decimal(c["floor"]), None, None
        else:
            continue
        bars.append(charts.Bar(_mode_label(mode), value, low, high, highlight=mode == "batch"))
    return bars


def _mode_axis_label(cost: Mapping[str, Any], method: str) -> str:
    if _has_expectation(cost):
        return "expected cost of the whole file, USD" + ("" if method == "exact" else " (whiskers: 95% interval)")
    return "input-only floor of the whole file, USD (output expectation unknown)"


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _pct(part: Decimal, whole: Decimal) -> str:
    return "-" if not whole else f"{part / whole * 100:.1f}%"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, div in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= div:
            return f"{n / div:,.2f} {unit} ({n:,} bytes)"
    return _count(n, "byte")


def _interval(d: Mapping[str, Any]) -> str:
    if d.get("low") is None or d.get("high") is None:
        return "-"
    return "exact" if d["low"] == d["high"] else f"{d['low']:,} - {d['high']:,}"


def _method_label(t: Mapping[str, Any]) -> str:
    m = t["method"]
    if m == "exact":
        return f"Exact: every request counted with the {t['tokenizer']} tokenizer"
    if m == "sampled":
        return (
            f"Sampled: {t['counted_exactly']:,} requests counted exactly with the {t['tokenizer']} tokenizer, "
            "the rest extrapolated; ranges are 95% intervals"
        )
    err = t.get("approx_error_pct")
    return f"APPROXIMATE: {t['tokenizer']} heuristic" + (f" (typical error ±{err:g}%)" if err is not None else "")


def _batch_basis(c: Mapping[str, Any]) -> tuple[str | None, str]:
    """The batch figure that headlines a cost block: expected when known, else the floor."""
    if not c or "not_priced" in c:
        return None, "not priced"
    if c.get("expected") is not None:
        return c["expected"], "expected"
    return c.get("floor"), "floor"


def _key_costs(plan: Mapping[str, Any], caching: CachingSection | None) -> list[KeyFigure]:
    cost = plan["cost"]
    batch, std = cost.get("batch") or {}, cost.get("standard") or {}
    out: list[KeyFigure] = []
    value, basis = _batch_basis(batch)
    if value is None:
        reason = batch.get("not_priced", "the price book has no batch rate for this model")
        out.append(KeyFigure("Batch cost", "not priced", str(reason), "warn"))
    elif basis == "expected":
        rng = _range_text(batch)
        out.append(KeyFigure("Batch cost, expected", money(value), rng, "key", value))
    else:
        out.append(
            KeyFigure(
                "Batch cost, input only", money(value), "output expectation unknown: output comes on top", "warn", value
            )
        )
    sv, sb = _batch_basis(std)
    if sv is not None:
        saving = plan.get("savings", {}).get("batch_vs_standard")
        detail = f"batch saves {money(saving['usd'])} ({saving['percent']}%)" if saving else ""
        label = "Standard (sync) cost" + (", expected" if sb == "expected" else ", input only")
        out.append(KeyFigure(label, money(sv), detail, "", sv))
    if caching is not None and caching.batch_cached is not None:
        detail = f"{caching.recommendation} saves {caching.saving}" if caching.saving else caching.recommendation
        out.append(KeyFigure("Batch + cache", caching.batch_cached.text, detail, "good", caching.batch_cached.usd))
    if value is not None and batch.get("ceiling") is not None:
        out.append(
            KeyFigure(
                "Batch ceiling", money(batch["ceiling"]),
                "worst case: every request writes its full output allowance", "", batch["ceiling"],
            )
        )  # fmt: skip
    return out


def _range_text(c: Mapping[str, Any], *, short: bool = False) -> str:
    """How sure the expected figure is: "exact token count", "95% range $L - $H" or "95% interval ±$x"."""
    low, high = Decimal(c["low"]), Decimal(c["high"])
    if low == high:
        return "exact" if short else "exact token count"
    if money(low) == money(high):  # narrower than the displayed rounding
        return ("" if short else "95% interval ") + f"±{money((high - low) / 2)}"
    return ("" if short else "95% range ") + f"{money(low)} - {money(high)}"


def _key_facts(plan: Mapping[str, Any], shards: ShardSection | None) -> list[KeyFigure]:
    t = plan["tokens"]
    files = plan["files"]
    total_bytes = sum(int(f.get("bytes") or 0) for f in files)
    out = [
        KeyFigure(
            "Requests", f"{plan['requests']:,}", f"{_count(len(files), 'file')}, {_size(total_bytes).split(' (')[0]}"
        )
    ]
    tin = t["input"]
    detail = {"exact": "counted exactly", "sampled": "sampled, 95% interval"}.get(t["method"], "APPROXIMATE")
    if t["method"] == "sampled" and tin["low"] != tin["high"]:
        detail = f"95%: {tin['low']:,} - {tin['high']:,}"
    elif t["method"] == "approximate" and tin["low"] != tin["high"]:
        detail = f"APPROXIMATE: {tin['low']:,} - {tin['high']:,}"
    out.append(
        KeyFigure("Input tokens", f"{tin['expected']:,}", detail, "warn" if t["method"] == "approximate" else "")
    )
    o = t["output"]
    if o.get("expected") is not None:
        out.append(
            KeyFigure("Output tokens, expected", f"{o['expected']:,}", f"ceiling {_tokens_or_unknown(o['ceiling'])}")
        )
    else:
        out.append(
            KeyFigure(
                "Output tokens", "unknown", f"ceiling {_tokens_or_unknown(o['ceiling'])}; give --output-tokens", "warn"
            )
        )
    v = plan["validation"]
    if v["valid"]:
        extra = _count(v["warnings"], "warning") if v.get("warnings") else "no problems found"
        out.append(KeyFigure("Validation", "valid", extra, "good"))
    else:
        out.append(KeyFigure("Validation", "INVALID", f"{_count(v['errors'], 'error')}: fix before submitting", "bad"))
    if shards is not None:
        tone = "bad" if shards.oversized else ""
        detail = (
            f"{_count(len(shards.oversized), 'request')} too large for any job" if shards.oversized else shards.hours
        )
        out.append(KeyFigure("Shard plan", shards.summary, detail, tone))
    return out


def _cost_note(plan: Mapping[str, Any]) -> str:
    o = plan["tokens"]["output"]
    base = (
        "Floor: input tokens only. Expected, low and high add the expected output; low and high use the "
        "95% interval of the input. Ceiling: the input's high end plus every request's full output "
        "allowance (maxOutputTokens or the model's limit, plus thinking)."
    )
    if o.get("expected") is None:
        base += " No output expectation was given, so only the floor and the ceiling are known."
    return base


def _savings(plan: Mapping[str, Any]) -> str:
    s = plan.get("savings", {}).get("batch_vs_standard")
    if not s:
        return ""
    basis = "expected cost" if s.get("basis") == "expected" else "input-only floor"
    return f"Batch saves {money(s['usd'])} ({s['percent']}%) over standard synchronous calls ({basis})."


def _compare(plan: Mapping[str, Any]) -> list[CompareRow]:
    others = plan.get("compare") or []
    if not others:
        return []
    entries = [
        {
            "model": plan["model"],
            "billed_model": plan["billed_model"],
            "cost": plan["cost"],
            "warnings": [],
            "main": True,
        }
    ] + [{**c, "main": False} for c in others]
    main_value, main_basis = _batch_basis(plan["cost"].get("batch") or {})
    rows = []
    for e in entries:
        batch, std = e["cost"].get("batch") or {}, e["cost"].get("standard") or {}
        value, basis = _batch_basis(batch)
        sv, _ = _batch_basis(std)
        versus = ""
        if (
            not e["main"]
            and value is not None
            and main_value is not None
            and basis == main_basis
            and Decimal(main_value)
        ):
            diff = (Decimal(value) - Decimal(main_value)) / Decimal(main_value) * 100
            versus = f"{diff:+.0f}%"
        elif e["main"]:
            versus = "chosen"
        rng = "-"
        if value is not None and basis == "expected":
            rng = _range_text(batch, short=True)
        rows.append(
            CompareRow(
                model=str(e["model"]), billed_model=str(e["billed_model"]), standard=Money.of(sv),
                batch=Money.of(value), batch_range=rng,
                batch_ceiling=Money.of(batch.get("ceiling")) if value is not None else Money("-"),
                versus=versus, is_main=e["main"], notes=[str(w) for w in e.get("warnings") or []],
            )
        )  # fmt: skip
    return rows


def _token_section(plan: Mapping[str, Any]) -> TokenSection:
    t = plan["tokens"]
    tin = t["input"]
    whole = Decimal(tin["expected"] or 0)

    def row(label: str, d: Mapping[str, Any]) -> TokenRow:
        return TokenRow(label, f"{d['expected']:,}", _interval(d), _pct(Decimal(d["expected"]), whole))

    mods = [row(k, v) for k, v in tin.get("by_modality", {}).items() if v["expected"] or k == "text"]
    place_names = {"system": "system instruction", "contents": "contents", "tools": "tools"}
    places = [row(place_names.get(k, k), v) for k, v in (tin.get("by_place") or {}).items()]
    o = t["output"]
    above = t.get("above_200k") or {}
    above_text = ""
    if above.get("expected"):
        above_text = _count(above["expected"], "request") + " above 200k input tokens"
        if above.get("low") != above.get("high"):
            above_text += f" (95%: {above['low']:,} - {above['high']:,})"
        above_text += ": all their tokens are billed at the >200k rates"
    return TokenSection(
        method=_method_label(t),
        approximate=t["method"] == "approximate",
        interval_label="range (heuristic error)" if t["method"] == "approximate" else "95% interval",
        description=str(t.get("tokenizer_description") or ""),
        total=row("all input", tin),
        by_modality=mods,
        by_place=places,
        output_expected="unknown" if o.get("expected") is None else f"{o['expected']:,}",
        output_source=str(o.get("source") or "no expectation given (use --output-tokens or --output-ratio)"),
        output_ceiling=_tokens_or_unknown(o["ceiling"]),
        above_tier=above_text,
    )


def _validation(plan: Mapping[str, Any]) -> ValidationSection:
    v = plan["validation"]
    counts = sorted(
        ((str(k), int(n)) for k, n in (v.get("problem_counts") or {}).items()), key=lambda kv: (-kv[1], kv[0])
    )
    problems = [
        ProblemRow(
            str(p.get("path", "")), "-" if p.get("line") is None else f"{p['line']:,}", str(p.get("code", "")),
            str(p.get("severity", "")), str(p.get("message", "")),
        )
        for p in (v.get("problems") or [])[:FIRST_PROBLEMS]
    ]  # fmt: skip
    total = sum(n for _, n in counts)
    if v["valid"] and not total:
        summary = f"Every line is a valid batch request ({plan['requests']:,} requests)."
    elif v["valid"]:
        summary = f"Valid, with {_count(v.get('warnings', 0), 'warning')}."
    else:
        summary = (
            f"INVALID: {_count(v.get('errors', 0), 'error')} and {_count(v.get('warnings', 0), 'warning')}. "
            "The API rejects the job (or the lines) until they are fixed; costs cover the usable requests only."
        )
    more = ""
    if total > len(problems):
        more = f"Showing the first {len(problems):,} of {total:,} problems; `batchcost validate` lists them all."
    return ValidationSection(bool(v["valid"]), summary, [(k, f"{n:,}") for k, n in counts], problems, more)


def _assumptions(plan: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    t = plan["tokens"]
    o = t["output"]
    if o.get("expected") is None:
        out.append(
            "Output expectation unknown: the report shows the input-only floor and the ceiling. "
            "Give --output-tokens N or --output-ratio R for an expected cost."
        )
    elif o.get("source"):
        out.append(f"Output expectation: {o['source']}.")
    if t["method"] == "approximate":
        out.append(f"Token counts are APPROXIMATE ({_method_label(t)}); use the local tokenizer for exact counts.")
    if plan["billed_model"] != plan["model"]:
        out.append(f"{plan['model']} is billed as {plan['billed_model']} on {plan['run_date']} (model routing).")
    derived = sorted({f"{p['model']} {p['mode']} {p['component']}" for p in plan["prices"] if p.get("derived")})
    if derived:
        out.append("Derived rates (not read on Google's price page; see warnings): " + ", ".join(derived) + ".")
    overridden = sorted({f"{p['model']} {p['mode']} {p['component']}" for p in plan["prices"] if p.get("overridden")})
    if overridden:
        out.append("Rates overridden by a --prices file: " + ", ".join(overridden) + ".")
    out.extend(str(w) for w in plan.get("warnings") or [])
    return out


def _prices(prices: Sequence[Mapping[str, Any]]) -> list[PriceRow]:
    rows = []
    for mode, component, modality, tier, rate_text, checked, source in price_rows(prices)[1:]:
        m = _URL.search(source)
        url = m.group(0).rstrip(".,;") if m else None
        text = source if url is None else source.replace(url, "").rstrip(" :")
        rows.append(PriceRow(mode, component, modality or "-", tier or "all", rate_text, checked, text, url))
    return rows


def _file_row(f: Mapping[str, Any]) -> FileRow:
    form = str(f.get("form") or "")
    if f.get("compressed"):
        form += ", gzip"
    lines = f.get("lines")
    requests = f.get("requests")
    return FileRow(
        path=str(f.get("path", "")),
        size=_size(f.get("bytes")),
        lines="-" if lines is None else f"{lines:,}",
        requests="-" if requests is None else f"{requests:,}",
        form=form,
        sha256=str(f.get("sha256") or "not computed"),
    )


# -- optional sections: shards and caching (skipped when the plan lacks them) ----------------------


MAX_SHARD_ROWS = 100
MAX_CANDIDATES = 8
_LIMIT_LABELS = {
    "max_bytes": "input file size per job",
    "max_requests": "requests per job",
    "max_tokens": "tokens per job",
    "enqueued_tokens": "enqueued tokens per model (all active jobs)",
    "concurrent_jobs": "concurrent jobs",
}


def _shard_section(s: Any) -> ShardSection | None:
    """The ``shards`` key (``batchcost.shards/1``, from ``ShardPlan.to_json()``), or None when absent."""
    if not isinstance(s, Mapping) or not isinstance(s.get("shards"), list):
        return None
    shards = s["shards"]
    totals = s.get("totals") or {}
    n_shards = int(totals.get("shards", len(shards)))
    n_waves = int(totals.get("waves", len(s.get("waves") or [])))
    rows: list[ShardRow] = []
    costs: list[Decimal] = []
    running = Decimal(0)
    for k, sh in enumerate(shards):
        cost = sh.get("cost")
        if cost is not None:
            costs.append(Decimal(cost))
            running += Decimal(cost)
        if k < MAX_SHARD_ROWS:
            rows.append(
                ShardRow(
                    index=_num(sh.get("index", k + 1)), wave=_num(sh.get("wave")), requests=_num(sh.get("requests")),
                    bytes=_size(sh.get("bytes")).split(" (")[0], tokens=_num(sh.get("tokens")),
                    lines=_line_ranges(sh.get("lines") or []), cost=Money.of(cost),
                    cumulative=Money.of(running) if cost is not None else Money("-"),
                    ceiling=Money.of(sh.get("cost_ceiling")),
                )
            )  # fmt: skip
    more = ""
    if len(shards) > MAX_SHARD_ROWS:
        more = (
            f"Showing the first {MAX_SHARD_ROWS} of {len(shards):,} shards; `batchcost plan --format json` lists all."
        )
    waves = [
        WaveRow(
            index=_num(w.get("index")), shards=_span([int(i) for i in w.get("shards") or []]),
            requests=_num(w.get("requests")), tokens=_num(w.get("tokens")), cost=Money.of(w.get("cost")),
        )
        for w in s.get("waves") or []
    ]  # fmt: skip
    tier = s.get("tier")
    tier_text = "" if tier is None else f"tier {tier}" + (" (assumed: give --tier)" if s.get("tier_assumed") else "")
    platform = {"developer": "Gemini Developer API", "vertex": "Vertex AI"}.get(str(s.get("platform")), "")
    limits = [
        LimitRow(
            label,
            _size(v["value"]).split(" (")[0] if key == "max_bytes" else _num(v["value"]),
            str(v.get("source") or ""),
        )
        for key, label in _LIMIT_LABELS.items()
        if isinstance(v := (s.get("limits") or {}).get(key), Mapping) and v.get("value") is not None
    ]
    hours = s.get("hours") or {}
    hours_text = ""
    if hours.get("expected") is not None:
        hours_text = f"about {hours['expected']} h" + (f", at most {hours['worst']} h" if hours.get("worst") else "")
    oversized = [
        OversizedRow(_num(o.get("line")), str(o.get("limit", "")), _num(o.get("figure")), _num(o.get("allowed")))
        for o in s.get("oversized") or []
    ]
    chart = None
    if costs and len(costs) == len(shards):
        svg = charts.cumulative_cost(costs, [int(sh.get("wave") or 1) for sh in shards])
        if svg is not None:
            chart = Chart(
                "cumulative",
                "Cumulative cost by shard",
                "Batch cost added by each shard in submission order; shaded bands are waves "
                "(shards in flight together within the enqueued-token quota).",
                _markup(svg),
            )
    basis = {"expected": "expected batch cost", "floor": "input-only batch cost (output expectation unknown)"}
    return ShardSection(
        summary=f"{_count(n_shards, 'shard')} in {_count(n_waves, 'wave')}",
        tier=", ".join(t for t in (platform, tier_text) if t),
        time_bound=str(s.get("time_bound") or ""),
        hours=hours_text,
        token_basis=str(s.get("token_basis") or ""),
        cost_basis=basis.get(str(s.get("cost_basis")), "not priced"),
        limits=limits,
        rows=rows,
        more=more,
        waves=waves,
        oversized=oversized,
        warnings=[str(w) for w in s.get("warnings") or []],
        notes=[str(n) for n in s.get("notes") or []],
        chart=chart,
    )


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)


def _span(members: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    return _line_ranges(_runs(members), limit=len(members)) if members else "-"


def _runs(numbers: Sequence[int]) -> list[list[int]]:
    """Sorted numbers -> ``[first, last]`` runs of consecutive numbers."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


def _line_ranges(ranges: Sequence[Sequence[int]], limit: int = 3) -> str:
    """[[1, 120], [200, 210]] -> "1-120, 200-210" (at most ``limit`` runs, then "+N more")."""
    parts = [f"{a:,}" if a == b else f"{a:,}-{b:,}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        parts.append(f"+{len(ranges) - limit:,} more ranges")
    return ", ".join(parts) or "-"


def _caching_section(c: Any, batch_cached: Any) -> CachingSection | None:
    """The ``caching`` key (``CachingAdvice.to_json()``), or None when absent."""
    if not isinstance(c, Mapping):
        return None
    rec = c.get("recommendation") if isinstance(c.get("recommendation"), Mapping) else None
    candidates_in = [x for x in c.get("candidates") or [] if isinstance(x, Mapping)]
    described = {str(x.get("id")): str(x.get("description") or x.get("id")) for x in candidates_in}
    chosen = [
        ChosenCacheRow(
            candidate=described.get(str(ch.get("candidate")), str(ch.get("candidate"))),
            requests=_num(ch.get("requests")), no_cache=Money.of(ch.get("no_cache")), cost=Money.of(ch.get("cost")),
            creation=Money.of(ch.get("creation")), storage=Money.of(ch.get("storage")),
            saving=Money.of(ch.get("saving")),
        )
        for ch in (rec or {}).get("caches") or []
    ]  # fmt: skip
    candidates = []
    for x in candidates_in[:MAX_CANDIDATES]:
        options = x.get("options") or {}
        ex = options.get("explicit") or {}
        im = options.get("implicit_best_case") or {}
        requests = _num(x.get("requests")) + (" (est.)" if x.get("estimated") else "")
        hours = ex.get("break_even_hours")
        candidates.append(
            CandidateRow(
                id=str(x.get("id", "")), description=_excerpt(x.get("description")), requests=requests,
                prefix_tokens=_num(x.get("prefix_tokens")), no_cache=Money.of((options.get("no_cache") or {}).get("cost")),
                explicit_cost=Money.of(ex.get("cost")) if ex.get("available") else Money("n/a"),
                explicit_saving=Money.of(ex.get("saving")) if ex.get("available") else Money("n/a"),
                break_even_requests=_num(ex.get("break_even_requests")),
                break_even_hours="-" if hours is None else f"{Decimal(str(hours)):f} h",
                implicit_saving=Money.of(im.get("best_case_saving")) if im.get("available") else Money("n/a"),
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
        summary=_sentence(str(c.get("summary") or c.get("reason") or "")),
        recommendation="explicit cache"
        if rec and len(chosen) == 1
        else (f"{len(chosen)} explicit caches" if rec else "no cache"),
        batch_cached=None if bc_value is None else Money.of(bc_value),
        saving=saving,
        hours="" if hours is None else f"{Decimal(str(hours)):f} h",
        chosen=chosen,
        candidates=candidates,
        more=more,
        implicit=implicit,
        notes=[str(n) for n in c.get("notes") or []],
    )


def _sentence(text: str) -> str:
    """Capitalised and ending with a full stop, for a line shown as a sentence."""
    text = text.strip()
    if not text:
        return ""
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")


def _excerpt(text: Any, limit: int = 160) -> str:
    s = "" if text is None else " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _tokens_or_unknown(value: int | None) -> str:
    """A token ceiling for display: None (a request without a known ceiling) reads "unknown", never 0."""
    return "unknown" if value is None else f"{value:,}"
