"""``batchcost.reconcile/1``: what a finished job cost, as ``reconcile --format json`` writes it.

Written by ``Reconciliation.to_json`` (``afterjob/reconcile.py``); read back by
``reports/reconcile.py``. USD figures are exact decimal strings; the per-modality and per-component
maps are open (their keys are the modalities and components the job had).
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar, Literal

from msgspec import UNSET, UnsetType

from .common import Count, ExactDecimal, PriceUsed, Problem, Strict

RECONCILE_SCHEMA = "batchcost.reconcile/1"

__all__ = [
    "RECONCILE_SCHEMA",
    "ActualCost",
    "Contributor",
    "CostComponent",
    "CostEstimated",
    "KeyCheck",
    "ModeTotal",
    "ReconcileDocument",
    "ReconcileTokens",
    "ResultsFile",
    "TokenComponent",
    "TokenEstimated",
    "Variance",
    "VarianceRequests",
]


class ResultsFile(Strict):
    """One results file read (``bytes`` on disk)."""

    path: str
    form: Literal["developer", "vertex"]
    compressed: bool
    bytes: Count
    lines: Count


class ReconcileTokens(Strict):
    """Tokens of the successful requests, from their ``usageMetadata`` (``output`` = candidates + thoughts)."""

    prompt: Count
    cached: Count
    tool_use: Count
    candidates: Count
    thoughts: Count
    output: Count
    prompt_by_modality: dict[str, Count]
    cached_by_modality: dict[str, Count]
    tool_use_by_modality: dict[str, Count]
    stopped_at_max_tokens: Count
    # added within /1 (older documents read as {}): what the tool fees count, for the tools the
    # results used: search_queries, search_grounded_prompts (per-prompt models), maps_grounded_prompts
    tool_units: dict[str, Count] = {}  # noqa: RUF012 - msgspec copies a default dict per instance


class ActualCost(Strict):
    """The actual cost in the document's mode; ``by_component`` and ``detail`` each sum to ``total``."""

    total: ExactDecimal
    by_component: dict[str, ExactDecimal]
    detail: dict[str, ExactDecimal]
    input_by_modality: dict[str, ExactDecimal]
    cached_by_modality: dict[str, ExactDecimal]


class ModeTotal(Strict):
    """The results priced in one mode: ``total``, or only ``not_priced`` (why)."""

    total: ExactDecimal | UnsetType = UNSET
    not_priced: str | UnsetType = UNSET

    # JSON Schema cannot learn the two shapes from the fields; the schema files add this.
    json_schema_extra: ClassVar[dict[str, Any]] = {"oneOf": [{"required": ["total"]}, {"required": ["not_priced"]}]}

    def __post_init__(self) -> None:
        if (self.total is UNSET) == (self.not_priced is UNSET):
            raise ValueError("expected either total or not_priced")


class KeyCheck(Strict):
    """Result keys against the input's keys (lists cut at ``--max-keys``; the counts are whole).

    ``checked`` is false when no full check was possible (``note`` says why: Vertex lines carry
    no key).
    """

    checked: bool
    inputs: list[str]
    input_lines: Count
    input_keys: Count
    not_in_input: list[str]
    not_in_input_count: Count
    without_result: list[str]
    without_result_count: Count
    note: str | None
    without_key_count: Count
    first_without_key: str | None


class TokenEstimated(Strict):
    """What the plan estimated for a token component; ``ceiling`` only when the plan had one."""

    expected: Count | None
    low: Count | None
    high: Count | None
    ceiling: Count | UnsetType = UNSET


class CostEstimated(Strict):
    """The plan's cost figures in the reconciled mode, as the plan wrote them."""

    expected: ExactDecimal | None
    low: ExactDecimal | None
    high: ExactDecimal | None
    floor: ExactDecimal | None
    ceiling: ExactDecimal | None


class TokenComponent(Strict, tag_field="unit", tag="tokens"):
    """Estimate against actual for tokens (``estimated`` null: not estimated, ``basis`` says why).

    ``ratio`` is actual / expected; ``inside_interval`` tests the 95% interval (or the ceiling).
    """

    component: str
    estimated: TokenEstimated | None
    actual: Count
    difference: int | None
    ratio: float | None
    inside_interval: bool | None
    basis: str


class CostComponent(Strict, tag_field="unit", tag="USD"):
    """Estimate against actual for the cost (``inside_interval``: the interval, or floor to ceiling)."""

    component: str
    actual: ExactDecimal
    estimated: CostEstimated | None
    difference: ExactDecimal | None
    ratio: float | None
    inside_interval: bool | None
    basis: str


class VarianceRequests(Strict):
    """Requests the plan priced (null when the plan did not say) and what the results hold."""

    estimated: Count | None
    results: Count
    succeeded: Count
    failed: Count


class Contributor(Strict):
    """One named part of the difference (they sum to it exactly)."""

    name: str
    usd: ExactDecimal
    explanation: str


class Variance(Strict):
    """Estimate against actual (``reconcile --plan``).

    ``plan`` is the plan's path (null when given as a document); ``difference`` is actual minus the
    plan's expected cost, or minus its floor (``difference_basis``), null when the plan has no cost
    in this mode. Contributors come largest first.
    """

    plan: str | None
    plan_model: str | None
    plan_run_date: datetime.date | None
    mode: str
    components: list[TokenComponent | CostComponent]
    requests: VarianceRequests
    difference: ExactDecimal | None
    difference_basis: Literal["expected", "floor"] | None
    contributors: list[Contributor]
    notes: list[str]


class ReconcileDocument(Strict, tag_field="schema", tag=RECONCILE_SCHEMA):
    """``batchcost.reconcile/1``: the actual cost of a job's results, and the estimate against it.

    ``model`` is as asked (or from the plan, or the results), ``billed_model`` after routing on
    ``run_date``; ``cost`` is in ``mode`` and ``modes`` prices the other modes for comparison.
    ``keys`` is null when no input file was checked, ``variance`` null without a plan.
    """

    batchcost_version: str
    run_date: datetime.date
    run_date_source: Literal["option", "plan", "today"]
    model: str
    billed_model: str
    mode: str
    files: list[ResultsFile]
    requests: Count
    succeeded: Count
    failed: Count
    failed_by_kind: dict[str, Count]
    unreadable: Count
    model_versions: dict[str, Count]
    tokens: ReconcileTokens
    requests_above_threshold: Count
    cost: ActualCost
    modes: dict[str, ModeTotal]
    keys: KeyCheck | None
    variance: Variance | None
    problems: list[Problem]
    problem_counts: dict[str, Count]
    prices: list[PriceUsed]
    warnings: list[str]
    notes: list[str]
