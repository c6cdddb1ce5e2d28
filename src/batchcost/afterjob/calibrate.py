"""Expected output tokens learnt from real results: a previous job's results file, or a pilot run.

The model. Each result gives one observation: the request's settings
(thinking budget or level, candidate count), its input tokens ``x`` (``promptTokenCount``), its
``maxOutputTokens`` ``m`` when known, and its output split into answer tokens (candidates) and
thinking tokens (thoughts). Observations are grouped by settings, because thinking changes output
more than anything else. In each group, answers and thinking are fitted separately (answers often
scale with the input while thinking does not); for each, these estimators compete:

* **mean**: ``b`` tokens per request (output does not scale with anything the file says);
* **ratio to input**: ``b * x`` (summaries, translations), the classical ratio estimator
  ``b = sum(y) / sum(x)``;
* **ratio to maxOutputTokens**: ``b * m`` (answers that fill the room given), only when the group's
  ``m`` varies (with a single value it cannot be told from the mean);
* **constant + slope x input**: ``a + b * x`` (a fixed preamble plus a part that grows with the
  input), by least squares; chosen only when it cuts the leave-one-out error by
  :data:`AFFINE_GAIN` or more, so that noise does not buy a second parameter.

The estimator with the smallest leave-one-out prediction error on the calibration data is used, and
``source`` says which (:meth:`OutputModel.summary` lists every error). The billed output predicted
is answers + thinking, capped at each request's output ceiling.

The interval. The error of a new file's predicted total is the new requests' own scatter around the
rules plus the error in the fitted coefficients. Coefficients get a robust (sandwich) covariance,
``A^-1 (sum u u') A^-1 * n/(n-p)`` with ``u_i = w_i e_i x_i``, the same for the cross-covariance of
answers and thinking; for the ratio estimator this is the textbook ``sum(e^2) / sum(x)^2 * n/(n-1)``.
A new request's scatter is ``sigma^2 * v`` with ``v = x`` (or ``m``) for a ratio and ``1``
otherwise, and ``sigma^2 = sum(e^2) / sum(v) * n/(n-p)``; measured that way the total scatter is
right whenever the new file resembles the calibration, even if ``v`` is not the true shape of the
variance. Answers and thinking scatter together with their residuals' correlation. The file total's
95% interval uses Student's t with the fits' degrees of freedom. The tests generate results from
known rules and check the interval's coverage over repeated draws (about 94% at 200 results).

Settings the calibration does not include are predicted from all results pooled (with a warning
from :meth:`OutputModel.warnings_for`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..batchfile.request import UNSET
from ..errors import InputError, PricingError
from ..text import agree, plural
from .output_fits import (
    AFFINE_GAIN,
    DESIGN_NAMES,
    DESIGNS,
    MIN_GROUP,
    MIN_RESULTS,
    SETTINGS_UNKNOWN,
    ComponentFit,
    GroupFit,
    Observations,
    fit_group,
    settings_keys,
    settings_name,
    t975,
)
from .output_model import OutputModel, Prediction, fit_output_model

if TYPE_CHECKING:
    from ..batchfile.results import ResultSet
    from ..pricing import PriceBook

__all__ = [
    "AFFINE_GAIN", "DESIGNS", "DESIGN_NAMES", "MIN_GROUP", "MIN_RESULTS", "SETTINGS_UNKNOWN", "ComponentFit", "GroupFit",
    "Observations", "OutputModel", "Prediction", "calibrate_from", "fit_group", "fit_output_model",
    "observations_from_results", "settings_keys", "settings_name", "t975",
]  # fmt: skip


# -- calibration from a results file ------------------------------------------------------------------


def _join(rs: ResultSet, ok: np.ndarray, requests: Sequence[str] | None, warnings: list[str]) -> dict[str, np.ndarray]:
    """Settings columns (budget, level, candidates, max_output) for the successful results."""
    r = rs.rows
    n = int(ok.sum())
    cols = {
        "thinking_budget": np.full(n, UNSET, np.int64),
        "thinking_level": np.full(n, -1, np.int64),
        "candidate_count": np.ones(n, np.int64),
        "max_output_tokens": np.full(n, UNSET, np.int64),
        "known": np.zeros(n, bool),
        "flags": np.full(n, -1, np.int64),  # the request's FLAG_* bits, -1 when unknown
    }
    echoed = r["has_request"][ok].astype(bool)
    if echoed.any():
        for name in ("thinking_budget", "thinking_level", "candidate_count", "max_output_tokens"):
            cols[name][echoed] = r[name][ok][echoed]
        cols["known"] |= echoed
    if not requests:
        return cols
    from ..batchfile import scan
    from ..batchfile.results import read_input_keys

    sc = scan(list(requests), sample_size=0)
    if sc.errors:
        warnings.append(
            f"the requests file has {plural(sc.errors, 'validation error')}; run `batchcost validate` on it"
        )
    usable = sc.rows["usable"].astype(bool)
    forms = {f.form for f in sc.files}
    rows_ok = np.flatnonzero(ok)
    target = np.full(n, -1, np.int64)
    if rs.form == "developer" and forms == {"developer"}:
        # keys in row order (the scan keeps only a hash of each key, whose scheme is the scanner's business)
        index: dict[str, int] = {}
        for info in sc.files:
            for i, key in enumerate(read_input_keys(info.path).keys[: info.lines]):
                row = info.first_row + i
                if key is not None and usable[row]:
                    index.setdefault(key, row)
        for j, row in enumerate(rows_ok):
            key = rs.keys[int(row)]
            if key is not None:
                target[j] = index.get(key, -1)
        missing = int((target < 0).sum())
        if missing:
            warnings.append(
                f"{plural(missing, 'result')} {agree(missing, 'has', 'have')} no request with "
                f"{agree(missing, 'its', 'their')} key in the requests file; {agree(missing, 'its', 'their')} "
                "settings are unknown"
            )
    else:
        need = ~cols["known"]
        if need.any():
            # Vertex output lines carry no key; without an echoed request only the line order links them.
            from ..batchfile.results import UNREADABLE

            input_rows = np.arange(sc.lines)
            order = np.flatnonzero(rs.rows["status"] != UNREADABLE)  # result lines with an outcome, in order
            pos = {int(row): i for i, row in enumerate(order)}
            for j, row in enumerate(rows_ok):
                i = pos[int(row)]
                if need[j] and i < len(input_rows) and usable[i]:
                    target[j] = input_rows[i]
            warnings.append(
                "the results carry no keys: they were joined to the requests file by line order, which is right only "
                "if the output lists requests in input order (not documented for Vertex AI batch)"
                + (
                    ""
                    if len(order) == len(input_rows)
                    else f"; and the counts differ ({plural(len(order), 'result')}, "
                    f"{plural(len(input_rows), 'request line')})"
                )
            )
    hit = target >= 0
    for name in ("thinking_budget", "thinking_level", "candidate_count", "max_output_tokens", "flags"):
        cols[name][hit] = sc.rows[name][target[hit]]
    cols["known"] |= hit
    return cols


def observations_from_results(
    rs: ResultSet,
    requests: Sequence[str] | None = None,
    warnings: list[str] | None = None,
    joined: dict[str, np.ndarray] | None = None,
) -> Observations:
    """Calibration observations from results (settings from echoed requests or the requests file).

    ``joined``, when given, receives the columns joined from the requests (``flags`` among them).
    """
    from ..batchfile.results import OK

    warnings = warnings if warnings is not None else []
    r = rs.rows
    ok = r["status"] == OK
    cols = _join(rs, ok, requests, warnings)
    if joined is not None:
        joined.update(cols)
    group = settings_keys(cols["thinking_budget"], cols["thinking_level"], cols["candidate_count"])
    group[~cols["known"]] = SETTINGS_UNKNOWN
    max_out = np.where(cols["max_output_tokens"] == UNSET, -1, cols["max_output_tokens"])
    return Observations(
        group=group,
        input_tokens=r["prompt"][ok].astype(np.int64),
        max_output=max_out.astype(np.int64),
        candidates=r["candidates"][ok].astype(np.int64),
        thoughts=r["thoughts"][ok].astype(np.int64),
        truncated=r["max_tokens"][ok].astype(bool),
    )


def calibrate_from(
    results: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    requests: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    model: str,
    book: PriceBook | None = None,
    keep_problems: int = 100,
) -> OutputModel:
    """Learn expected output tokens from a previous job's results (and the requests that produced them).

    Args:
        results: the earlier job's results file(s) (Developer API or Vertex form, .jsonl or gzip).
        requests: its input file(s): joined by key (Developer API) to learn each result's settings
            and maxOutputTokens; Vertex lines have no key, so they are joined by line order (with a
            warning) unless they echo their request.
        model: the model the new job will run on (a results file from another model gives a warning).
        book: price book used to resolve aliases when comparing models (default: packaged).
        keep_problems: problems kept per kind while reading.

    Returns:
        An :class:`OutputModel`.

    Raises:
        InputError: a file cannot be read, or it has fewer than two successful results.
    """
    from ..batchfile.results import read_results
    from ..pricing import PriceBook
    from ..pricing.book import same_model

    paths = [os.fspath(results)] if isinstance(results, str | os.PathLike) else [os.fspath(p) for p in results]
    req_paths = (
        None
        if requests is None
        else [os.fspath(requests)] if isinstance(requests, str | os.PathLike) else [os.fspath(p) for p in requests]
    )  # fmt: skip
    rs = read_results(paths, keep_problems=keep_problems)
    warnings: list[str] = []
    if rs.errors:
        first = rs.problems[0] if rs.problems else None
        warnings.append(
            f"{plural(rs.errors, 'line')} of the results could not be used" + (f" (first: {first})" if first else "")
        )
    if rs.succeeded < MIN_RESULTS:
        raise InputError(
            paths[0],
            f"has {plural(rs.succeeded, 'successful result')} with usageMetadata; calibration needs at least "
            f"{MIN_RESULTS}: "
            "give a results file of a job that ran, or use --pilot N",
        )
    book = book or PriceBook.load()
    versions = rs.model_versions()
    try:
        target = book.resolve(model)[0]
    except PricingError:  # an unknown id is reported by the estimate itself
        target = model
    other = {v: n for v, n in versions.items() if v and not same_model(book, v, target)}
    if other:
        listed = ", ".join(f"{v} ({n:,})" for v, n in other.items())
        warnings.append(
            f"the calibration results come from {listed}, not {model}: output length and thinking differ between "
            "models, so the expectation may not carry over"
        )
    if not req_paths and not bool(rs.rows["has_request"][rs.rows["status"] == 0].any()):
        warnings.append(
            "without the requests file the calibration cannot tell thinking settings or maxOutputTokens apart: one "
            "rule (mean or ratio to input) serves all requests; pass REQUESTS.jsonl after RESULTS.jsonl"
        )
    joined: dict[str, np.ndarray] = {}
    obs = observations_from_results(rs, req_paths, warnings, joined)
    if rs.failed:
        warnings.append(
            f"{plural(rs.failed, 'failed result')} {agree(rs.failed, 'is', 'are')} left out of the calibration"
        )
    named = ", ".join(f"{v}" for v in versions if v) or "model not named"
    settings = sorted({str(g) for g in obs.group})
    described = settings[0] if len(settings) == 1 else f"{len(settings)} settings"
    prefix = (
        f"calibrated on {', '.join(os.path.basename(p) for p in paths)} ({plural(len(obs), f'{named} result')}, "
        f"{described})"
    )
    from .tool_use import learn_tool_use

    tool_use = learn_tool_use(rs, joined["flags"] if req_paths else None, ", ".join(os.path.basename(p) for p in paths))
    fitted = fit_output_model(
        obs,
        source_prefix=prefix,
        model=named,
        kind="calibration",
        warnings=[*warnings, *(tool_use.warnings if tool_use is not None else ())],
        extra={"files": paths, "requests_files": req_paths or []},
    )
    return replace(fitted, tool_use=tool_use)
