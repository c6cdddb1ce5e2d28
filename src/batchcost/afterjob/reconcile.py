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
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..batchfile.results import MODALITIES, OK, UNREADABLE, ResultSet
from ..errors import PricingError
from ..money import usd
from ..pricing.book import same_model
from ..pricing.used import PriceUsed
from ..storage.locations import is_url
from ..text import agree, one_line, plural

if TYPE_CHECKING:
    import pandas as pd

    from ..pricing import PriceBook

from ..documents.reconcile import RECONCILE_SCHEMA  # the id is defined once, with the contract
from .actual import ActualCost, price_results
from .embed_actual import fill_embedding_usage
from .keys import KeyCheck, check_keys, keyless_results
from .variance import variance_of

__all__ = [
    "RECONCILE_SCHEMA",
    "ActualCost",
    "KeyCheck",
    "Reconciliation",
    "check_keys",
    "keyless_results",
    "load_plan",
    "price_results",
    "reconcile",
]


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
        tokens["tool_units"] = dict(a.tool_units)
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

    if is_url(os.fspath(path)):
        from ..storage import read_bytes

        return read_plan(path, data=read_bytes(os.fspath(path)))
    return read_plan(path)


def _plan_inputs(plan: Mapping[str, Any], plan_path: str | None) -> tuple[dict[str, str | None], list[str]]:
    """Input files of the plan found here (relative to the cwd, then to the plan) -> their recorded
    SHA-256, and the paths not found."""
    found: dict[str, str | None] = {}
    missing: list[str] = []
    for f in plan.get("files") or ():
        path = str(f.get("path", ""))
        if is_url(path):  # read where it is; a missing object is an InputError when read
            found[path] = f.get("sha256")
            continue
        candidates = [Path(path)]
        if plan_path is not None and not Path(path).is_absolute():
            candidates.append(Path(plan_path).resolve().parent / path)
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            missing.append(path)
        else:
            found[str(hit)] = f.get("sha256")
    return found, missing


def _job_inputs(
    requests: Sequence[str | os.PathLike[str]], plan_doc: Mapping[str, Any] | None, plan_path: str | None
) -> tuple[list[str], dict[str, str | None], list[str]]:
    """The job's input files (given, else the plan's), their recorded digests, and the plan's missing ones."""
    inputs = [os.fspath(p) for p in requests]
    if inputs or plan_doc is None:
        return inputs, {}, []
    sha, missing = _plan_inputs(plan_doc, plan_path)
    return ([] if missing else list(sha)), sha, missing


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
    inputs, sha, missing = _job_inputs(requests, plan_doc, plan_path)
    embed_notes: list[str] = []
    if rs.embeddings:
        rs, embed_notes = fill_embedding_usage(rs, inputs, model=model, book=book, run_date=day)
    rates = book.rates(model, mode, day)
    # the book's warnings (routing, retirement) say what to do about the model the results are priced as
    warnings = [*rates.warnings, *_model_warnings(book, model, rates.model, plan_doc, rs)]
    actual = price_results(rs, rates)
    notes = list(dict.fromkeys([*embed_notes, *rates.notes, *actual.notes]))
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

    if missing:
        warnings.append(
            f"the plan's input {agree(len(missing), 'file', 'files')} {', '.join(map(one_line, missing))} "
            f"{agree(len(missing), 'is', 'are')} not found here, so result keys are not checked against "
            f"{agree(len(missing), 'it', 'them')}; pass --requests FILE"
        )
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
        variance = variance_of(book, plan_doc, plan_path, rs, actual, mode, day, model)
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
    if component == "output_image":
        return "image_output" in actual.detail
    return True


def _model_warnings(
    book: PriceBook, model: str, billed: str, plan: Mapping[str, Any] | None, rs: ResultSet
) -> list[str]:
    out: list[str] = []
    for version, n in rs.model_versions().items():
        if version and not (same_model(book, version, billed) or same_model(book, version, book.resolve(model)[0])):
            out.append(
                f"{plural(n, 'result')} {agree(n, 'was', 'were')} produced by {version!r} but "
                f"{agree(n, 'is', 'are')} priced as {model!r}; pass --model {version} "
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
