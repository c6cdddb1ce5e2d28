"""``batchcost.plan/1``: the estimate's document, as ``estimate --format json`` writes it.

Written by ``Plan.to_json`` (``planner/plan.py``); :class:`PlanDocument` is its exact shape (the
``caching`` section is :class:`~batchcost.documents.caching.CachingAdvice`, the ``shards`` section
``batchcost.shards/1``). Reports and ``reconcile --plan`` read it back through :func:`read_plan`:
a document that was edited or cut short is refused here with one line naming the field, rather
than failing half way through a rendering. :func:`check_plan` checks what renderings rely on and
lets other fields be (a report re-rendered by ``reconcile --report`` carries a ``reconciliation``
section); ``documents.load`` checks every field.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, UnsetType

from ..errors import InputError, PlanError
from .caching import CachingAdvice
from .common import Count, ExactDecimal, FileEntry, Interval, ModeCost, PriceUsed, Problem, Strict
from .shards import OtherTier, ShardsDocument
from .tools import ToolsSection

PLAN_SCHEMA = "batchcost.plan/1"
REQUIRED_KEYS = ("model", "billed_model", "run_date", "files", "requests", "validation", "tokens", "cost", "prices")
_MONEY_KEYS = ("floor", "expected", "low", "high", "ceiling")
_TOKEN_KEYS = ("expected", "low", "high", "ceiling")

__all__ = [
    "PLAN_SCHEMA",
    "REQUIRED_KEYS",
    "AudioSeconds",
    "ComparedModel",
    "Distribution",
    "InputTokens",
    "OutputTokens",
    "PlanDocument",
    "PlanFile",
    "PlanTokens",
    "PlanValidation",
    "Savings",
    "SavingsFigure",
    "check_plan",
    "read_plan",
]


class PlanFile(FileEntry):
    """An input file of the plan, and how many of its lines are usable requests."""

    requests: Count


class PlanValidation(Strict):
    """The input's verdict; ``problems`` keeps the first five of each kind."""

    valid: bool
    errors: Count
    warnings: Count
    problem_counts: dict[str, Count]
    problems: list[Problem]


class Distribution(Strict):
    """Input tokens per request as a histogram: ``counts[i]`` requests in ``[edges[i], edges[i+1])``."""

    edges: list[Count]
    counts: list[Count]


class InputTokens(Interval):
    """Input tokens of all requests, split by modality and by place (``by_place`` null: not split)."""

    by_modality: dict[str, Interval]
    by_place: dict[str, Interval] | None


class AudioSeconds(Strict):
    """A speech-output model's output tokens as seconds of speech, at the assumed audio tokens per
    second (``--audio-tokens-per-second``; each figure null where its token figure is)."""

    tokens_per_second: Annotated[float, Meta(gt=0)]
    expected: Annotated[float, Meta(ge=0)] | None
    low: Annotated[float, Meta(ge=0)] | None
    high: Annotated[float, Meta(ge=0)] | None
    ceiling: Annotated[float, Meta(ge=0)] | None


class OutputTokens(Strict):
    """Output tokens of all requests: the ceiling (null when unknown, never 0), the expectation when
    given (null otherwise) and where it came from."""

    ceiling: Count | None
    expected: Count | None
    low: Count | None
    high: Count | None
    source: str | None
    images: Count | None = None
    """Image-output models: images the requests ask for (null for other models and in older documents)."""
    image_tokens: Count | None = None
    """Image-output models: the image output tokens those images are billed as, beside the text tokens above."""
    audio_seconds: AudioSeconds | None = None
    """Speech-output models: the figures above as seconds of speech (null for other models and in older documents)."""


class PlanTokens(Strict):
    """How the tokens were counted, and the totals (``above_200k`` null for a model without a tier)."""

    distribution: Distribution
    method: Literal["exact", "sampled", "approximate"]
    tokenizer: str
    tokenizer_description: str
    counted_exactly: Count
    approx_error_pct: float | None
    input: InputTokens
    output: OutputTokens
    above_200k: Interval | None
    tokenizer_assumed: bool = False
    """The model's own tokenizer is not known: the counts are Gemma 3's, which stand in for it (the notes say so).
    False in older documents, which did not say."""


class SavingsFigure(Strict):
    """What batch saves against standard, on ``basis`` (``percent`` has one decimal)."""

    usd: ExactDecimal
    percent: ExactDecimal
    basis: Literal["expected", "floor"]


class Savings(Strict):
    """Empty when either mode is not priced."""

    batch_vs_standard: SavingsFigure | UnsetType = UNSET


class ComparedModel(Strict):
    """The same file priced on another model (``--compare``)."""

    model: str
    billed_model: str
    cost: dict[str, ModeCost]
    output: OutputTokens
    warnings: list[str]


class ComparedOption(Strict):
    """One model and mode in ``comparison``, cheapest first; ``vs_chosen`` is the difference from
    the chosen model's batch expectation (null when either is unknown)."""

    model: str
    mode: str
    expected: ExactDecimal | None
    vs_chosen: ExactDecimal | None


class Comparison(Strict):
    """``--compare`` as one ranking: every model x mode (batch, batch + cache where advised,
    standard), the cheapest, and a note for every mode a compared model lacks."""

    options: list[ComparedOption]
    cheapest: ComparedOption | None
    notes: list[str]


class PlanDocument(Strict, tag_field="schema", tag=PLAN_SCHEMA, kw_only=True):
    """``batchcost.plan/1``: what ``estimate`` found.

    ``model`` is as asked, ``billed_model`` after aliases and routing on ``run_date``. ``cost``
    has one entry per mode (``standard``, ``batch``, ``flex``, ``priority``, and ``batch_cached``
    when an explicit cache pays). ``caching`` and ``shards`` are null when not planned.
    ``other_tiers`` is filled when tier 1 was assumed and the jobs need several waves: what tiers
    2 and 3 would need (added within /1: a plan saved without it reads as ``[]``). ``tools`` is
    there when some request uses Grounding with Google Search or Maps (their fees, per mode).
    """

    batchcost_version: str
    run_date: datetime.date
    model: str
    billed_model: str
    files: list[PlanFile]
    requests: Count
    validation: PlanValidation
    tokens: PlanTokens
    cost: dict[str, ModeCost]
    savings: Savings
    compare: list[ComparedModel]
    caching: CachingAdvice | None
    shards: ShardsDocument | None
    other_tiers: list[OtherTier] = []  # noqa: RUF012 - msgspec copies a default list per instance
    # added within /1: plans saved without it (or without --compare) read as None
    comparison: Comparison | None = None
    prices: list[PriceUsed]
    warnings: list[str]
    notes: list[str]
    # added within /1: only when some request carries a tool with a fee (Search, Maps grounding)
    tools: ToolsSection | None = None


# -- the lighter check renderings rely on ----------------------------------------------------------


def _money(value: Any, where: str) -> None:
    if value is None:
        return
    ok = isinstance(value, str)
    if ok:
        try:
            ok = Decimal(value).is_finite()
        except InvalidOperation:
            ok = False
    if not ok:
        raise PlanError(f'{where}: expected a decimal amount such as "1.25" or null, got {json.dumps(value)[:40]}')


def _tokens(value: Any, where: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise PlanError(f"{where}: expected a whole number of tokens or null, got {json.dumps(value)[:40]}")


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanError(f"{where}: expected an object, got {json.dumps(value)[:40]}")
    return value


def check_plan(doc: Any) -> None:
    """Raise :class:`PlanError` unless ``doc`` is a well-formed ``batchcost.plan/1`` document.

    Checked: the schema id, the required sections, every cost figure (a decimal string or null)
    and every token total (a whole number or null). The message names the field, as a JSON path.
    """
    if not isinstance(doc, Mapping):
        raise PlanError(
            "not a batchcost plan (the JSON is not an object); make one with `batchcost estimate --format json`"
        )
    schema = doc.get("schema")
    if schema != PLAN_SCHEMA:
        raise PlanError(
            f"not a batchcost plan (schema {schema!r}, expected {PLAN_SCHEMA!r}); "
            "make one with `batchcost estimate FILE --format json -o plan.json`"
        )
    missing = [k for k in REQUIRED_KEYS if k not in doc]
    if missing:
        raise PlanError(
            f"the plan lacks {', '.join(missing)}; it was not written by batchcost or was edited - estimate again"
        )
    for mode, figures in _object(doc["cost"], "$.cost").items():
        figures = _object(figures, f"$.cost.{mode}")
        if "not_priced" in figures:
            continue
        for key in _MONEY_KEYS:
            _money(figures.get(key), f"$.cost.{mode}.{key}")
    tokens = _object(doc["tokens"], "$.tokens")
    for part in ("input", "output"):
        if part in tokens:
            section = _object(tokens[part], f"$.tokens.{part}")
            for key in _TOKEN_KEYS:
                _tokens(section.get(key), f"$.tokens.{part}.{key}")
    shards = doc.get("shards")
    if isinstance(shards, Mapping) and isinstance(shards.get("totals"), Mapping):
        for key in ("cost", "cost_ceiling"):
            _money(shards["totals"].get(key), f"$.shards.totals.{key}")


def read_plan(path: str | os.PathLike[str], *, data: bytes | None = None) -> dict[str, Any]:
    """Read a saved plan (``batchcost estimate ... --format json -o plan.json``) and check it.

    Raises:
        InputError: the file is missing, unreadable, not JSON, or not a well-formed plan (the message
            names the file and the field).
    """
    name = os.fspath(path)
    try:
        # ``data``: the plan's bytes, fetched by the caller (a URL's object), ``path`` then only names it
        text = Path(path).read_text(encoding="utf-8") if data is None else data.decode("utf-8")
    except FileNotFoundError:
        raise InputError(
            name, "no such file; save a plan with `batchcost estimate FILE --format json -o plan.json`"
        ) from None
    except IsADirectoryError:
        raise InputError(name, "is a folder; give the plan's JSON file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(name, f"cannot read the plan ({e}); give a UTF-8 JSON file") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            name,
            f"line {e.lineno}, column {e.colno}: not valid JSON ({e.msg}); "
            "give the file written by `batchcost estimate --format json`",
        ) from None
    except RecursionError:
        raise InputError(
            name, "nested too deeply to be a plan; give the file written by `batchcost estimate`"
        ) from None
    try:
        check_plan(doc)
    except PlanError as e:
        raise InputError(name, str(e)) from None
    return doc
