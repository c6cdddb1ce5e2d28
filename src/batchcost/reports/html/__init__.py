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
2. The ``report.html.j2`` template (package data of ``batchcost.reports``, under ``templates/``,
   loaded with ``PackageLoader``) lays it out.

This package: the entry points here; ``context`` (the typed context), ``build`` (putting it
together), one ``sections_*`` module per part of the page, ``display`` (shared small formatters).

Usage::

    from batchcost.reports.html import render_html, write_report
    html = render_html(plan.to_json())
    write_report(plan.to_json(), "plan.html")      # atomic; .md / .txt give Markdown / text
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...documents.plan import check_plan
from ...errors import OutputError, PlanError
from .build import build_context
from .context import (
    CachingSection,
    CandidateRow,
    Chart,
    ChosenCacheRow,
    CompareRow,
    CompareSection,
    CostRow,
    FileRow,
    KeyFigure,
    LimitRow,
    Money,
    OversizedRow,
    PriceRow,
    ProblemRow,
    ReportContext,
    ShardRow,
    ShardSection,
    Step,
    TokenRow,
    TokenSection,
    ValidationSection,
    WaveRow,
)
from .display import hide_local_paths
from .sections_caching import MAX_CANDIDATES
from .sections_shards import MAX_SHARD_ROWS
from .sections_validation import FIRST_PROBLEMS

if TYPE_CHECKING:
    from jinja2 import Environment
    from markupsafe import Markup

__all__ = [
    "FIRST_PROBLEMS",
    "MAX_CANDIDATES",
    "MAX_SHARD_ROWS",
    "REPORT_FORMATS",
    "REPORT_SUFFIXES",
    "CachingSection",
    "CandidateRow",
    "Chart",
    "ChosenCacheRow",
    "CompareRow",
    "CompareSection",
    "CostRow",
    "FileRow",
    "KeyFigure",
    "LimitRow",
    "Money",
    "OversizedRow",
    "PriceRow",
    "ProblemRow",
    "ReportContext",
    "ShardRow",
    "ShardSection",
    "Step",
    "TokenRow",
    "TokenSection",
    "ValidationSection",
    "WaveRow",
    "build_context",
    "code_spans",
    "format_for_path",
    "render_html",
    "render_report",
    "write_report",
]

REPORT_FORMATS = ("html", "markdown", "text")


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
    from ..markdown import render_plan_markdown
    from ..terminal import render_plan_text

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
    from ...outputs import write_atomic

    write_atomic(path, render_report(plan_json, format or format_for_path(path)))


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
        # Every string the page shows passes here: an absolute local path is shown by its file name
        # (input files, a tokenizer's cache in notes), wherever in the plan it came from.
        finalize=_shown,
    )
    env.filters["code_spans"] = code_spans
    return env


def _shown(value: Any) -> Any:
    from markupsafe import Markup

    return hide_local_paths(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def code_spans(text: str) -> Markup:
    """Escape ``text`` and show its `backticked` parts (commands, field names) as ``<code>``."""
    from markupsafe import Markup, escape

    text = hide_local_paths(str(text))
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show it as it is
        return escape(text)
    return Markup("").join(escape(p) if i % 2 == 0 else Markup("<code>%s</code>") % p for i, p in enumerate(parts))
