"""``reconcile``: what a finished batch job actually cost, and how that compares with its estimate.

The actual cost is computed line by line from each result's ``usageMetadata`` with the same price
book and rules as ``estimate``:

* non-cached prompt tokens (``promptTokenCount`` minus ``cachedContentTokenCount``) at the input
  rate of their modality (``promptTokensDetails``; audio may cost more than text);
* cached tokens at the cache-read rate of their modality (``cacheTokensDetails``; without it,
  cached tokens are taken from text first);
* tool-use prompt tokens (``toolUsePromptTokenCount``) as input (genai-prices' mapping);
* candidates plus thoughts at the output rate (thinking is billed as output);
* each request in its own prompt-size tier (> 200,000 prompt tokens pays the higher rates for all
  its tokens), keyed on prompt + tool-use tokens, cached included (genai-prices' rule; whether Google
  counts cached or tool-use tokens toward the tier is not documented);
* batch rates by default (results come from a batch job); other modes are priced for comparison;
* failed requests (an ``error``, or a non-empty ``status``) are counted apart and not billed.

JSON contract ``batchcost.reconcile/1`` (USD figures are exact decimal strings, tokens integers)::

    {
      "schema": "batchcost.reconcile/1",
      "batchcost_version": "0.1.0",
      "run_date": "2026-11-27",
      "run_date_source": "option" | "plan" | "today",
      "model": "gemini-2.5-flash",             # as asked (or from the plan / the results)
      "billed_model": "gemini-2.5-flash",      # after aliases and routing on run_date
      "mode": "batch",                         # the mode "cost" is in
      "files": [{"path", "form": "developer" | "vertex", "compressed", "bytes", "lines"}],
      "requests": 1204,                        # lines with a result: succeeded + failed
      "succeeded": 1200,
      "failed": 4,                             # not billed
      "failed_by_kind": {"400 INVALID_ARGUMENT": 3, "500 INTERNAL": 1},
      "unreadable": 0,                         # lines that could not be used (see problems)
      "model_versions": {"gemini-2.5-flash": 1200},
      "tokens": {"prompt", "cached", "tool_use", "candidates", "thoughts", "output",
                 "prompt_by_modality": {"text", "image", "video", "audio", "document"},
                 "cached_by_modality": {...}, "tool_use_by_modality": {...},
                 "stopped_at_max_tokens": n},
      "requests_above_threshold": 0,           # requests priced in the >200k tier
      "cost": {"total": "1.2345",
               "by_component": {"input", "cached_input", "output"},          # sums to total
               "detail": {"prompt_input", "tool_use_input", "cached_input",
                          "candidates_output", "thoughts_output"},           # sums to total
               "input_by_modality": {...}, "cached_by_modality": {...}},
      "modes": {"standard": {"total"} | {"not_priced": "reason"}, "batch": {...}, ...},
      "keys": null | {"checked": true, "inputs": [path], "input_lines": n, "input_keys": n,
                      "not_in_input": [key, ...], "not_in_input_count": n,
                      "without_result": [key, ...], "without_result_count": n, "note": str | null,
                      "without_key_count": n, "first_without_key": "results.jsonl:3" | null},
      "variance": null | {
        "plan": "plan.json", "plan_model", "plan_run_date", "mode",
        "components": [{"component": "input" | "cached" | "tool_use" | "output" | "thinking" | "cost",
                        "unit": "tokens" | "USD",
                        "estimated": null | {"expected", "low", "high"[, "floor", "ceiling"]},
                        "actual", "difference", "ratio": float | null,
                        "inside_interval": bool | null, "basis": str}],
        "requests": {"estimated", "results", "succeeded", "failed"},
        "difference": "0.1234" | null, "difference_basis": "expected" | "floor" | null,
        "contributors": [{"name", "usd", "explanation"}],    # largest |usd| first; sums to difference
        "notes": [str]},
      "problems": [{"path", "line", "code", "severity", "message"}], "problem_counts": {code: n},
      "prices": [{"model", "mode", "component", "modality", "tier", "usd_per_mtok", "source",
                  "checked", "derived", "overridden"}],
      "warnings": [str], "notes": [str]
    }

``variance.components[*].ratio`` is actual / estimated expected. ``inside_interval`` tests the
estimate's 95% interval (``basis`` "95% interval"), or, when the plan had no output expectation,
the floor-to-ceiling range (``basis`` "floor-ceiling" / "ceiling"); it is null when the component
was not estimated. Contributors split ``difference`` (actual minus the plan's expected cost, or
minus its floor when it had no expectation) exactly into: input token volume, tool-use tokens,
context-cache hits, output tokens and, when the run date or billed model differs from the plan's,
price changes.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..batchfile.results import MODALITIES, OK, UNREADABLE, ResultSet
from ..errors import PricingError, UnpricedError
from ..money import usd
from ..pricing.book import same_model
from ..pricing.used import PriceUsed
from ..text import plural

if TYPE_CHECKING:
    import pandas as pd

    from ..pricing import ModeRates, PriceBook

RECONCILE_SCHEMA = "batchcost.reconcile/1"


# -- actual cost ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActualCost:
    """The exact cost of the successful results in one mode.

    Attributes:
        rates: the rates used.
        total: USD.
        by_component: ``input`` (non-cached prompt and tool-use), ``cached_input``, ``output``.
        detail: ``prompt_input``, ``tool_use_input``, ``cached_input``, ``candidates_output``,
            ``thoughts_output`` (sums to ``total``).
        input_by_modality: the ``input`` component by modality.
        cached_by_modality: the ``cached_input`` component by modality.
        uncached_input: what all prompt and tool-use tokens would cost at the input rates (no
            cache hits); used to measure what caching saved.
        requests_above_threshold: requests in the >200k tier.
        notes: notes from pricing.
    """

    rates: ModeRates
    total: Decimal
    by_component: Mapping[str, Decimal]
    detail: Mapping[str, Decimal]
    input_by_modality: Mapping[str, Decimal]
    cached_by_modality: Mapping[str, Decimal]
    uncached_input: Decimal
    requests_above_threshold: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Usage:
    """Successful results' usage as arrays, ready for :func:`price_tokens`."""

    prompt: np.ndarray  # prompt + tool-use: decides the tier
    noncached: dict[str, np.ndarray]
    cached: dict[str, np.ndarray]
    tool: dict[str, np.ndarray]
    uncached: dict[str, np.ndarray]
    candidates: np.ndarray
    thoughts: np.ndarray

    @classmethod
    def of(cls, rs: ResultSet) -> _Usage:
        r = rs.rows
        ok = r["status"] == OK
        i8 = np.int64
        prompt_m = {m: r[f"prompt_{m}"][ok].astype(i8) for m in MODALITIES}
        cached_m = {m: r[f"cached_{m}"][ok].astype(i8) for m in MODALITIES}
        tool_m = {m: r[f"tool_{m}"][ok].astype(i8) for m in MODALITIES}
        return cls(
            prompt=r["prompt"][ok].astype(i8) + r["tool_use"][ok].astype(i8),
            noncached={m: prompt_m[m] - cached_m[m] + tool_m[m] for m in MODALITIES},
            cached=cached_m,
            tool=tool_m,
            uncached={m: prompt_m[m] + tool_m[m] for m in MODALITIES},
            candidates=r["candidates"][ok].astype(i8),
            thoughts=r["thoughts"][ok].astype(i8),
        )


def _linear(rates: ModeRates, tokens: Mapping[str, np.ndarray], above: np.ndarray | None) -> Decimal:
    """Input-rate cost of ``tokens`` (by modality), each request in its tier (exact)."""
    total = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        for m, arr in tokens.items():
            high = int(arr[above].sum()) if above is not None and rates.input_above is not None else 0
            low = int(arr.sum()) - high
            total += Decimal(low) * rates.input[m].usd_per_mtok
            if high:
                assert rates.input_above is not None
                total += Decimal(high) * rates.input_above[m].usd_per_mtok
        return total.scaleb(-6)


def price_results(rs: ResultSet, rates: ModeRates) -> ActualCost:
    """Price the successful lines of ``rs`` with ``rates`` (see the module docstring for the rules).

    Raises:
        UnpricedError: cached tokens but no cache-read rate, or output but no output rate.
    """
    from ..pricing import price_tokens

    u = _Usage.of(rs)
    output = u.candidates + u.thoughts
    full = price_tokens(
        rates, prompt_tokens=u.prompt, input_by_modality=u.noncached, output_tokens=output, cached_tokens=u.cached
    )
    answers = price_tokens(
        rates,
        prompt_tokens=u.prompt,
        input_by_modality=u.noncached,
        output_tokens=u.candidates,
        cached_tokens=u.cached,
    )
    uncached = price_tokens(
        rates, prompt_tokens=u.prompt, input_by_modality=u.uncached, output_tokens=np.zeros_like(output)
    )
    above = u.prompt > rates.tier_threshold if rates.tier_threshold is not None else None
    tool_cost = _linear(rates, u.tool, above)
    thoughts_cost = full.by_component["output"] - answers.by_component["output"]
    detail = {
        "prompt_input": full.by_component["input"] - tool_cost,
        "tool_use_input": tool_cost,
        "cached_input": full.by_component["cached_input"],
        "candidates_output": answers.by_component["output"],
        "thoughts_output": thoughts_cost,
    }
    return ActualCost(
        rates=rates,
        total=full.total,
        by_component=dict(full.by_component),
        detail=detail,
        input_by_modality=dict(full.input_by_modality),
        cached_by_modality=dict(full.cached_by_modality),
        uncached_input=uncached.total,
        requests_above_threshold=full.requests_above_threshold,
        notes=full.notes,
    )


# -- keys -------------------------------------------------------------------------------------------


@dataclass
class KeyCheck:
    """Keys of the results against the keys of the input file(s).

    Attributes:
        inputs: input files read.
        input_lines: lines in them.
        input_keys: distinct keys in them.
        not_in_input: result keys that no input line has, in results order.
        without_result: input keys with no result line, in input order.
        note: why a full check was not possible (Vertex lines have no key), or None.
        warnings: e.g. the input changed since the plan was made.
        without_key: result lines of Developer-API files that carry no ``key``. They are priced but
            cannot be matched: the check runs on the other lines, and an input key that only such a
            line could answer stays in ``without_result``.
        first_without_key: ``path:line`` of the first of them, or None.
    """

    inputs: list[str]
    input_lines: int
    input_keys: int
    not_in_input: list[str]
    without_result: list[str]
    note: str | None = None
    warnings: list[str] = field(default_factory=list)
    without_key: int = 0
    first_without_key: str | None = None

    def to_json(self, max_keys: int = 20) -> dict[str, Any]:
        return {
            "checked": self.note is None,
            "inputs": self.inputs,
            "input_lines": self.input_lines,
            "input_keys": self.input_keys,
            "not_in_input": self.not_in_input[:max_keys],
            "not_in_input_count": len(self.not_in_input),
            "without_result": self.without_result[:max_keys],
            "without_result_count": len(self.without_result),
            "note": self.note,
            "without_key_count": self.without_key,
            "first_without_key": self.first_without_key,
        }


def check_keys(
    rs: ResultSet, inputs: Sequence[str], expected_sha256: Mapping[str, str | None] | None = None
) -> KeyCheck:
    """Compare the keys of the results with the keys of the batch input files.

    Args:
        rs: the results read.
        inputs: the input file(s) of the job.
        expected_sha256: path -> digest recorded in the plan (a mismatch is a warning).

    Raises:
        InputError: an input file cannot be read.
    """
    from ..batchfile.results import read_input_keys

    keys: list[str | None] = []
    warnings: list[str] = []
    forms = set()
    for path in inputs:
        found = read_input_keys(path)
        forms.add(found.form)
        keys.extend(found.keys)
        want = (expected_sha256 or {}).get(path)
        if want and want != found.sha256:
            warnings.append(
                f"{path} has changed since the plan was made (SHA-256 differs): the estimate may describe another file"
            )
    result_keys = [k for k in rs.keys if k is not None]
    if rs.form != "developer" or forms != {"developer"}:
        results_n = int((rs.rows["status"] != UNREADABLE).sum())
        n_in = len(keys)
        note = (
            f"Vertex AI lines carry no key, so results cannot be matched to requests; the input has {n_in:,} lines "
            f"and the results {results_n:,}"
        )
        if results_n != n_in:
            warnings.append(f"{n_in - results_n:+,} lines differ between the input ({n_in:,}) and the results")
        return KeyCheck(list(inputs), n_in, 0, [], [], note, warnings)
    # Lines without a key are left out of the comparison, not a reason to skip it.
    without_key, first = keyless_results(rs)
    input_set = {k for k in keys if k is not None}
    result_set = set(result_keys)
    not_in_input = list(dict.fromkeys(k for k in result_keys if k not in input_set))
    without = list(dict.fromkeys(k for k in keys if k is not None and k not in result_set))
    return KeyCheck(list(inputs), len(keys), len(input_set), not_in_input, without, None, warnings, without_key, first)


def keyless_results(rs: ResultSet) -> tuple[int, str | None]:
    """How many read result lines of Developer-API files have no ``key``, and ``path:line`` of the first."""
    rows = rs.keyless
    if not len(rows):
        return 0, None
    info, line = rs.locate(int(rows[0]))  # rows are in reading order: file by file, line by line
    return len(rows), f"{info.path}:{line}"


# -- the whole reconciliation -------------------------------------------------------------------------


@dataclass
class Reconciliation:
    """What :func:`reconcile` found. ``to_json()`` gives the ``batchcost.reconcile/1`` document."""

    results: ResultSet
    model: str
    billed_model: str
    mode: str
    run_date: datetime.date
    run_date_source: str
    actual: ActualCost
    modes: dict[str, Decimal | str]
    keys: KeyCheck | None
    variance: dict[str, Any] | None
    prices: list[PriceUsed]
    warnings: list[str]
    notes: list[str]
    plan_object: Any = field(default=None, repr=False)  # the Plan given to reconcile(), if one was

    def requests(self, estimate: Any = None) -> pd.DataFrame:
        """One row per result line as a pandas DataFrame: key, status, error, tokens, actual cost.

        Money is float64 dollars (``cost_batch_usd``); the exact figures are in :meth:`to_json`.
        With an estimate (a :class:`batchcost.Plan` or its ``plan.requests()`` table; default: the
        Plan given to :func:`reconcile`) each row also has its request's estimate and the difference.
        See :data:`batchcost.afterjob.tables.RESULT_COLUMNS`.
        """
        from .tables import result_table

        return result_table(self, estimate)

    def __repr__(self) -> str:
        from ..reports.notebook import reconcile_text

        try:
            return reconcile_text(self.to_json())
        except Exception as e:  # a repr that raises hides the object in a debugger or a log
            return f"<batchcost.Reconciliation {self.model} (no summary: {type(e).__name__}: {e})>"

    def _repr_html_(self) -> str:
        from ..reports.notebook import reconcile_cards

        return reconcile_cards(self.to_json())

    def to_json(self, *, max_keys: int = 20, max_problems: int = 10) -> dict[str, Any]:
        """The documented ``batchcost.reconcile/1`` document (see the module docstring)."""
        from ..version import __version__

        rs = self.results
        r = rs.rows
        ok = r["status"] == OK
        a = self.actual
        tokens = {
            "prompt": int(r["prompt"][ok].sum()),
            "cached": int(r["cached"][ok].sum()),
            "tool_use": int(r["tool_use"][ok].sum()),
            "candidates": int(r["candidates"][ok].sum()),
            "thoughts": int(r["thoughts"][ok].sum()),
        }
        tokens["output"] = tokens["candidates"] + tokens["thoughts"]
        for prefix, name in (("prompt", "prompt_by_modality"), ("cached", "cached_by_modality")):
            tokens[name] = {m: int(r[f"{prefix}_{m}"][ok].sum()) for m in MODALITIES}
        tokens["tool_use_by_modality"] = {m: int(r[f"tool_{m}"][ok].sum()) for m in MODALITIES}
        tokens["stopped_at_max_tokens"] = int(r["max_tokens"][ok].sum())
        seen: dict[str, int] = {}
        problems = []
        for p in rs.problems:
            if seen.get(p.code, 0) < max_problems:
                seen[p.code] = seen.get(p.code, 0) + 1
                problems.append(p.to_json())
        return {
            "schema": RECONCILE_SCHEMA,
            "batchcost_version": __version__,
            "run_date": self.run_date.isoformat(),
            "run_date_source": self.run_date_source,
            "model": self.model,
            "billed_model": self.billed_model,
            "mode": self.mode,
            "files": [
                {"path": f.path, "form": f.form, "compressed": f.compressed, "bytes": f.size, "lines": f.lines}
                for f in rs.files
            ],
            "requests": rs.succeeded + rs.failed,
            "succeeded": rs.succeeded,
            "failed": rs.failed,
            "failed_by_kind": rs.failures_by_kind(),
            "unreadable": int((r["status"] == UNREADABLE).sum()),
            "model_versions": rs.model_versions(),
            "tokens": tokens,
            "requests_above_threshold": a.requests_above_threshold,
            "cost": {
                "total": usd(a.total),
                "by_component": {k: usd(v) for k, v in a.by_component.items()},
                "detail": {k: usd(v) for k, v in a.detail.items()},
                "input_by_modality": {k: usd(v) for k, v in a.input_by_modality.items()},
                "cached_by_modality": {k: usd(v) for k, v in a.cached_by_modality.items()},
            },
            "modes": {
                m: ({"total": usd(v)} if isinstance(v, Decimal) else {"not_priced": v}) for m, v in self.modes.items()
            },
            "keys": None if self.keys is None else self.keys.to_json(max_keys),
            "variance": self.variance,
            "problems": problems,
            "problem_counts": dict(rs.problem_counts),
            "prices": [p.to_json() for p in self.prices],
            "warnings": self.warnings,
            "notes": self.notes,
        }


def load_plan(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a saved ``batchcost.plan/1`` JSON document (see :func:`batchcost.documents.read_plan`).

    Raises:
        InputError: the file is missing, not JSON, or not a well-formed batchcost plan.
    """
    from ..documents.plan import read_plan

    return read_plan(path)


def _plan_inputs(plan: Mapping[str, Any], plan_path: str | None) -> tuple[dict[str, str | None], list[str]]:
    """Input files of the plan found here (relative to the cwd, then to the plan) -> their recorded
    SHA-256, and the paths not found."""
    found: dict[str, str | None] = {}
    missing: list[str] = []
    for f in plan.get("files") or ():
        path = str(f.get("path", ""))
        candidates = [Path(path)]
        if plan_path is not None and not Path(path).is_absolute():
            candidates.append(Path(plan_path).resolve().parent / path)
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            missing.append(path)
        else:
            found[str(hit)] = f.get("sha256")
    return found, missing


def _resolve_model(model: str | None, plan: Mapping[str, Any] | None, rs: ResultSet) -> str:
    versions = rs.model_versions()
    named = [v for v in versions if v]
    if model is None and plan is not None:
        model = str(plan.get("model") or "") or None
    if model is None:
        if len(named) == 1:
            model = named[0]
        else:
            found = ", ".join(named) or "none"
            raise PricingError(f"no model given and the results name {found}; pass --model")
    return model


def reconcile(
    results: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | ResultSet,
    *,
    model: str | None = None,
    plan: str | os.PathLike[str] | Mapping[str, Any] | Any | None = None,
    requests: Sequence[str | os.PathLike[str]] = (),
    mode: str = "batch",
    run_date: datetime.date | None = None,
    book: PriceBook | None = None,
    prices: Sequence[str] = (),
    keep_problems: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> Reconciliation:
    """Price a batch job's results exactly and, with a plan, compare them with the estimate.

    Args:
        results: results file(s) (Developer API or Vertex form, .jsonl or gzip), or a
            :class:`~batchcost.batchfile.results.ResultSet` already read.
        model: the model the job ran on (default: the plan's model, else the results' single
            ``modelVersion``).
        plan: a saved ``batchcost.plan/1`` document (path or parsed dict) for the variance report,
            or the :class:`batchcost.Plan` itself (then ``.requests()`` also shows each request's
            estimate beside its result).
        requests: the job's input file(s), for the key check (default: the plan's input files).
        mode: pricing mode of ``cost`` (default ``batch``); the other modes are priced for comparison.
        run_date: date of the prices (default: the plan's run date, else today).
        book: a loaded price book (default: the packaged one plus ``prices``).
        prices: user price files.
        keep_problems: problems kept per kind.
        progress: called with ``(bytes read, total bytes)`` while reading the results.

    Returns:
        A :class:`Reconciliation`; ``.to_json()`` is the ``batchcost.reconcile/1`` document.

    Raises:
        InputError: a file cannot be read, or ``plan`` is not a batchcost plan.
        PricingError / UnknownModelError / UnpricedError: the model or a needed rate is unknown.
    """
    from ..batchfile.results import read_results
    from ..pricing import MODES, PriceBook

    book = book or PriceBook.load(list(prices) or None)
    if mode not in MODES:
        raise PricingError(f"unknown pricing mode {mode!r}; use one of {', '.join(MODES)}")
    plan_path: str | None = None
    plan_doc: dict[str, Any] | None = None
    plan_object = None
    if callable(getattr(plan, "to_json", None)):  # a Plan (afterjob sits below the planner: duck-typed)
        plan_object = plan
        plan_doc = plan.to_json()
    elif isinstance(plan, Mapping):
        plan_doc = dict(plan)
    elif plan is not None:
        plan_path = os.fspath(plan)
        plan_doc = load_plan(plan_path)
    rs = (
        results
        if isinstance(results, ResultSet)
        else read_results(results, keep_problems=keep_problems, progress=progress)
    )

    if run_date is not None:
        day, day_source = run_date, "option"
    elif plan_doc is not None and plan_doc.get("run_date"):
        day, day_source = datetime.date.fromisoformat(str(plan_doc["run_date"])), "plan"
    else:
        day, day_source = datetime.date.today(), "today"

    model = _resolve_model(model, plan_doc, rs)
    rates = book.rates(model, mode, day)
    # the book's warnings (routing, retirement) say what to do about the model the results are priced as
    warnings = [*rates.warnings, *_model_warnings(book, model, rates.model, plan_doc, rs)]
    actual = price_results(rs, rates)
    notes = list(dict.fromkeys([*rates.notes, *actual.notes]))
    if int(rs.rows["cached"].sum()):
        notes = list(dict.fromkeys([*notes, *rates.cache_notes]))
    if day_source == "today":
        notes.append(f"priced at the rates of {day} (today); pass --run-date for the day the job ran")
    elif day_source == "plan":
        notes.append(f"priced at the rates of {day}, the plan's run date; pass --run-date if the job ran later")
    if rs.form == "vertex" and int(rs.rows["cached"].sum()):
        notes.append(
            "Vertex AI batch bills cache hits at the cache discount instead of the batch discount (they do not "
            "stack); the price book's batch cache-read rate is used"
        )

    modes: dict[str, Decimal | str] = {}
    offered = book.modes(model, day)
    for m in MODES:
        if m == mode:
            modes[m] = actual.total
        elif m in offered:
            try:
                modes[m] = price_results(rs, book.rates(model, m, day)).total
            except PricingError as e:
                modes[m] = str(e)

    inputs = [os.fspath(p) for p in requests]
    sha: dict[str, str | None] = {}
    if not inputs and plan_doc is not None:
        sha, missing = _plan_inputs(plan_doc, plan_path)
        inputs = list(sha)
        if missing:
            warnings.append(
                f"the plan's input file(s) {', '.join(missing)} are not found here, so result keys are not checked "
                "against them; pass --requests FILE"
            )
            inputs = []
    keys = check_keys(rs, inputs, sha) if inputs else None
    if keys is not None:
        warnings.extend(keys.warnings)
        if keys.not_in_input:
            warnings.append(
                f"{plural(len(keys.not_in_input), 'result key')} not in the input (are these the results of "
                "another job?)"
            )
        if keys.without_result:
            maybe = (
                f"; {plural(keys.without_key, 'result line')} without a key may answer some of them"
                if keys.without_key
                else ""
            )
            warnings.append(
                f"{plural(len(keys.without_result), 'input key')} without a result line (job incomplete?){maybe}"
            )
    without_key, first_without_key = keyless_results(rs)
    if without_key:
        checked = (
            f"; the key check runs on the other {plural(rs.succeeded + rs.failed - without_key, 'line')}"
            if keys is not None and keys.note is None
            else ""
        )
        warnings.append(
            f"{plural(without_key, 'result line')} without a key (first: {first_without_key}): priced, but not "
            f"matched to a request{checked}"
        )

    if rs.failed:
        kinds = ", ".join(f"{k} x{n:,}" for k, n in rs.failures_by_kind().items())
        warnings.append(f"{plural(rs.failed, 'request')} failed and not billed ({kinds})")
    if rs.errors:
        warnings.append(f"{plural(rs.errors, 'line')} could not be used and not counted; see the problems")
    if not rs.succeeded:
        warnings.append("no successful result to price")

    variance = None
    if plan_doc is not None:
        variance = _variance(book, plan_doc, plan_path, rs, actual, mode, day, model)
    price_list = [
        PriceUsed.of(rates, c, mo, above, rate) for c, mo, above, rate in rates.rates() if _used(c, mo, above, actual)
    ]
    return Reconciliation(
        results=rs,
        model=model,
        billed_model=rates.model,
        mode=mode,
        run_date=day,
        run_date_source=day_source,
        actual=actual,
        modes=modes,
        keys=keys,
        variance=variance,
        prices=price_list,
        warnings=list(dict.fromkeys(warnings)),
        notes=notes,
        plan_object=plan_object,
    )


def _used(component: str, modality: str, above: bool, actual: ActualCost) -> bool:
    """Whether a rate priced something (so the 'prices used' list stays short)."""
    if above and not actual.requests_above_threshold:
        return False
    if component == "input":
        return modality == "text" or bool(actual.input_by_modality.get(modality))
    if component == "cache_read":
        return bool(actual.cached_by_modality.get(modality))
    return True


def _model_warnings(
    book: PriceBook, model: str, billed: str, plan: Mapping[str, Any] | None, rs: ResultSet
) -> list[str]:
    out: list[str] = []
    for version, n in rs.model_versions().items():
        if version and not (same_model(book, version, billed) or same_model(book, version, book.resolve(model)[0])):
            out.append(
                f"{n:,} results were produced by {version!r} but are priced as {model!r}; pass --model {version} "
                "if that is the model that ran"
            )
    if plan is not None and plan.get("model"):
        pm = str(plan["model"])
        try:
            same = book.resolve(pm)[0] == book.resolve(model)[0]
        except PricingError:
            same = pm == model
        if not same:
            out.append(f"the plan estimated {pm!r} but the results are priced as {model!r}")
    return out


# -- variance ---------------------------------------------------------------------------------------


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _ratio(actual: int | Decimal, expected: int | Decimal | None) -> float | None:
    if expected is None or not expected:
        return None
    return round(float(Decimal(actual) / Decimal(expected)), 4)


def _token_component(name: str, est: Mapping[str, Any] | None, actual: int, note: str = "") -> dict[str, Any]:
    if est is None or est.get("expected") is None:
        ceiling = None if est is None else est.get("ceiling")
        return {
            "component": name,
            "unit": "tokens",
            "estimated": None if ceiling is None else {"expected": None, "low": None, "high": None, "ceiling": ceiling},
            "actual": actual,
            "difference": None,
            "ratio": None,
            "inside_interval": None if ceiling is None else actual <= int(ceiling),
            "basis": "ceiling" if ceiling is not None else ("not estimated" + (f": {note}" if note else "")),
        }
    expected, low, high = int(est["expected"]), est.get("low"), est.get("high")
    estimated: dict[str, Any] = {
        "expected": expected,
        "low": None if low is None else int(low),
        "high": None if high is None else int(high),
    }
    if est.get("ceiling") is not None:
        estimated["ceiling"] = int(est["ceiling"])
    if low is None or high is None:
        inside, basis = None, "point estimate (no interval in the plan)"
    else:
        inside, basis = int(low) <= actual <= int(high), "exact" if low == high else "95% interval"
    return {
        "component": name,
        "unit": "tokens",
        "estimated": estimated,
        "actual": actual,
        "difference": actual - expected,
        "ratio": _ratio(actual, expected),
        "inside_interval": inside,
        "basis": basis,
    }


def _variance(
    book: PriceBook,
    plan: Mapping[str, Any],
    plan_path: str | None,
    rs: ResultSet,
    actual: ActualCost,
    mode: str,
    day: datetime.date,
    model: str,
) -> dict[str, Any]:
    r = rs.rows
    ok = r["status"] == OK
    t = plan.get("tokens") or {}
    t_in = t.get("input") or {}
    t_out = t.get("output") or {}
    prompt = int(r["prompt"][ok].sum())
    cached = int(r["cached"][ok].sum())
    tool = int(r["tool_use"][ok].sum())
    thoughts = int(r["thoughts"][ok].sum())
    output = int(r["candidates"][ok].sum()) + thoughts
    notes: list[str] = []
    components = [
        _token_component("input", t_in, prompt),
        _token_component("cached", t_in.get("cached"), cached, "the estimate prices no cache hits"),
        _token_component("tool_use", None, tool, "tool results fed back are unknown before the job runs"),
        _token_component("output", t_out, output),
        _token_component("thinking", t_out.get("thoughts"), thoughts, "the plan does not split thinking from output"),
    ]
    plan_cost = (plan.get("cost") or {}).get(mode) or {}
    expected = _dec(plan_cost.get("expected"))
    floor = _dec(plan_cost.get("floor"))
    cost_entry: dict[str, Any] = {"component": "cost", "unit": "USD", "actual": usd(actual.total)}
    if not plan_cost or "not_priced" in plan_cost:
        cost_entry.update(
            estimated=None, difference=None, ratio=None, inside_interval=None, basis="not priced in the plan"
        )
        notes.append(f"the plan has no {mode} cost to compare with")
    else:
        estimated = {k: plan_cost.get(k) for k in ("expected", "low", "high", "floor", "ceiling")}
        cost_entry["estimated"] = estimated
        if expected is not None:
            low, high = _dec(plan_cost.get("low")) or expected, _dec(plan_cost.get("high")) or expected
            cost_entry.update(
                difference=usd(actual.total - expected),
                ratio=_ratio(actual.total, expected),
                inside_interval=low <= actual.total <= high,
                basis="95% interval" if low != high else "exact",
            )
        else:
            ceiling = _dec(plan_cost.get("ceiling"))
            inside = None if floor is None or ceiling is None else floor <= actual.total <= ceiling
            cost_entry.update(difference=None, ratio=None, inside_interval=inside, basis="floor-ceiling")
            notes.append("the plan had no output expectation: the actual cost is checked against its floor and ceiling")
    components.append(cost_entry)

    contributors: list[dict[str, Any]] = []
    difference = None
    basis = None
    if floor is not None:
        base = expected if expected is not None else floor
        basis = "expected" if expected is not None else "floor"
        difference = actual.total - base
        contributors = _contributors(
            book, rs, plan, actual, mode, day, model, floor, expected,
            prompt, tool, cached, thoughts, output, t_in, t_out, notes,
        )  # fmt: skip
        assert sum((Decimal(c["usd"]) for c in contributors), Decimal(0)) == difference
    plan_requests = plan.get("requests")
    if rs.failed and plan_requests:
        notes.append(
            f"{rs.failed:,} of the plan's {int(plan_requests):,} requests failed and "
            f"{'was' if rs.failed == 1 else 'were'} not billed; the estimate priced every request"
        )
    return {
        "plan": plan_path,
        "plan_model": plan.get("model"),
        "plan_run_date": plan.get("run_date"),
        "mode": mode,
        "components": components,
        "requests": {
            "estimated": plan_requests,
            "results": rs.succeeded + rs.failed,
            "succeeded": rs.succeeded,
            "failed": rs.failed,
        },
        "difference": usd(difference),
        "difference_basis": basis,
        "contributors": contributors,
        "notes": notes,
    }


def _contributors(
    book: PriceBook,
    rs: ResultSet,
    plan: Mapping[str, Any],
    actual: ActualCost,
    mode: str,
    day: datetime.date,
    model: str,
    floor: Decimal,
    expected: Decimal | None,
    prompt: int,
    tool: int,
    cached: int,
    thoughts: int,
    output: int,
    t_in: Mapping[str, Any],
    t_out: Mapping[str, Any],
    notes: list[str],
) -> list[dict[str, Any]]:
    """Split actual - estimate exactly into named parts, largest first (see the module docstring)."""
    at_plan = actual
    plan_day = plan.get("run_date")
    plan_model = str(plan.get("model") or model)
    changed = (plan_day and plan_day != day.isoformat()) or plan_model != model
    if changed:
        try:
            rates = book.rates(plan_model, mode, datetime.date.fromisoformat(str(plan_day)) if plan_day else day)
            at_plan = price_results(rs, rates)
        except (PricingError, UnpricedError) as e:
            notes.append(
                f"cannot price the results at the plan's model and date ({e}); price changes are not separated"
            )
            at_plan = actual
    e_out = (expected - floor) if expected is not None else Decimal(0)
    a_in = at_plan.by_component["input"]
    a_tool = at_plan.detail["tool_use_input"]
    a_cached = at_plan.by_component["cached_input"]
    a_out = at_plan.by_component["output"]
    x1 = at_plan.uncached_input
    est_in = t_in.get("expected")
    est_out = t_out.get("expected")
    parts = [
        (
            "input tokens",
            x1 - a_tool - floor,
            f"{prompt:,} prompt tokens" + (f" vs {int(est_in):,} estimated" if est_in is not None else ""),
        ),
        ("tool-use tokens", a_tool, f"{tool:,} tool-use prompt tokens (tool results fed back), not in the estimate"),
        (
            "context cache hits",
            a_in + a_cached - x1,
            f"{cached:,} prompt tokens served from the context cache at the cache-read rate",
        ),
        (
            "output tokens",
            a_out - e_out,
            f"{output:,} output tokens ({thoughts:,} thinking)"
            + (f" vs {int(est_out):,} expected" if est_out is not None else "; the plan had no output expectation"),
        ),
    ]
    if at_plan is not actual:
        parts.append(
            (
                "prices",
                actual.total - at_plan.total,
                f"rates of {actual.rates.model} on {day} instead of {plan_model} on {plan_day}",
            )
        )
    out = [{"name": n, "usd": usd(v), "explanation": text} for n, v, text in parts if v]
    out.sort(key=lambda c: -abs(Decimal(c["usd"])))
    return out
