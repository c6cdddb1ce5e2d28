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

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..batchfile.request import UNSET
from ..batchfile.schema import THINKING_LEVELS
from ..errors import InputError, PricingError

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from ..batchfile.results import ResultSet
    from ..pricing import PriceBook
    from .tool_use import ToolUse

DESIGNS: tuple[str, ...] = ("mean", "input", "max_output", "affine_input")
"""Estimators, in order of preference when they fit equally well."""

DESIGN_NAMES = {
    "mean": "mean",
    "input": "ratio to input tokens",
    "max_output": "ratio to maxOutputTokens",
    "affine_input": "constant + slope x input tokens",
}

SETTINGS_UNKNOWN = "settings unknown"
MIN_GROUP = 3  # results a settings group needs for its own fit; smaller groups use the pooled fit
AFFINE_GAIN = 0.02  # relative cut in leave-one-out error that justifies a second parameter
MIN_RESULTS = 2  # results any fit needs (one degree of freedom for the interval)

# Student's t 97.5% quantiles for 1..30 degrees of freedom (two-sided 95%); beyond, an expansion.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_Z975 = 1.959964


def t975(df: int) -> float:
    """Two-sided 95% quantile of Student's t with ``df`` degrees of freedom (normal when df is large)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    # Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5); error < 1e-4 from 31 df on.
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def settings_name(budget: int, level: int, candidates: int) -> str:
    """Human name of a settings group, e.g. ``"thinking budget 1024"`` or ``"thinking level HIGH, 2 candidates"``."""
    parts = []
    if budget != UNSET:
        parts.append(
            "thinking off" if budget == 0 else "thinking automatic" if budget == -1 else f"thinking budget {budget}"
        )
    if level >= 0:
        parts.append(f"thinking level {THINKING_LEVELS[level]}")
    if not parts:
        parts.append("default thinking")
    if candidates > 1:
        parts.append(f"{candidates} candidates")
    return ", ".join(parts)


def settings_keys(budget: np.ndarray, level: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Settings group name per row (object array), from the scanner's (or results') columns."""
    out = np.empty(len(budget), dtype=object)
    if not len(budget):
        return out
    combo = np.stack([budget.astype(np.int64), level.astype(np.int64), candidates.astype(np.int64)], axis=1)
    uniq, inverse = np.unique(combo, axis=0, return_inverse=True)
    names = np.array([settings_name(int(b), int(lv), int(c)) for b, lv, c in uniq], dtype=object)
    out[:] = names[inverse.reshape(-1)]
    return out


# -- observations and fits ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Observations:
    """Calibration data: one entry per successful result.

    Attributes:
        group: settings group name per result (object array of str).
        input_tokens: ``promptTokenCount`` per result.
        max_output: ``maxOutputTokens`` of the request, -1 when unknown.
        candidates: ``candidatesTokenCount``.
        thoughts: ``thoughtsTokenCount``.
        truncated: the answer stopped at ``maxOutputTokens``.
    """

    group: np.ndarray
    input_tokens: np.ndarray
    max_output: np.ndarray
    candidates: np.ndarray
    thoughts: np.ndarray
    truncated: np.ndarray

    def __len__(self) -> int:
        return len(self.input_tokens)

    def subset(self, mask: np.ndarray) -> Observations:
        return Observations(
            self.group[mask], self.input_tokens[mask], self.max_output[mask], self.candidates[mask],
            self.thoughts[mask], self.truncated[mask],
        )  # fmt: skip


@dataclass(frozen=True, eq=False)
class ComponentFit:
    """One output component (answers or thinking) of a settings group, fitted by (weighted) least squares.

    Attributes:
        design: ``mean``, ``input``, ``max_output`` or ``affine_input`` (see :data:`DESIGNS`).
        beta: coefficients (one, or intercept and slope for ``affine_input``).
        cov: robust (sandwich) covariance of ``beta``.
        sigma2: scatter of one request around the rule, per unit of ``v`` (``v = z`` for a ratio, else 1).
        loo_rmse: leave-one-out RMSE (tokens) of every design tried.
    """

    design: str
    beta: np.ndarray
    cov: np.ndarray
    sigma2: float
    loo_rmse: Mapping[str, float]

    @property
    def params(self) -> int:
        return len(self.beta)

    def rule(self, what: str) -> str:
        b = self.beta
        if self.design == "mean":
            return f"{what} {b[0]:,.0f} tokens per request"
        if self.design == "affine_input":
            sign = "-" if b[0] < 0 else "+"
            return f"{what} {b[1]:.3g} x input tokens {sign} {abs(b[0]):,.0f}"
        return f"{what} {b[0]:.3g} x {'input tokens' if self.design == 'input' else 'maxOutputTokens'}"

    def tried(self) -> str:
        """Which estimators were compared (by leave-one-out error)."""
        return ", ".join(DESIGN_NAMES[d] for d in self.loo_rmse)


def _design(name: str, x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix and variance weight ``v`` (scatter proportional to v) of an estimator."""
    one = np.ones(len(x))
    if name == "mean":
        return one[:, None], one
    if name == "input":
        return x[:, None], x
    if name == "max_output":
        return m[:, None], m
    return np.stack([one, x], axis=1), one


@dataclass(frozen=True, eq=False)
class _Wls:
    beta: np.ndarray
    resid: np.ndarray
    weights: np.ndarray
    ainv: np.ndarray
    design: np.ndarray
    v: np.ndarray
    loo_rmse: float


def _wls(X: np.ndarray, v: np.ndarray, y: np.ndarray) -> _Wls | None:
    """Weighted least squares with weights 1/v; None when the design cannot be estimated."""
    w = 1.0 / v
    xtw = X.T * w
    a = xtw @ X
    if not np.isfinite(a).all() or np.linalg.cond(a) > 1e12:
        return None
    ainv = np.linalg.inv(a)
    beta = ainv @ (xtw @ y)
    e = y - X @ beta
    h = w * np.einsum("ij,jk,ik->i", X, ainv, X)
    if bool((h >= 1 - 1e-9).any()):
        return None  # a point the fit cannot be checked without
    loo = e / (1 - h)
    return _Wls(beta, e, w, ainv, X, v, float(math.sqrt(float(np.mean(loo * loo)))))


def _candidates(x: np.ndarray, m: np.ndarray) -> list[str]:
    n = len(x)
    out = ["mean"]
    if bool((x > 0).all()):
        out.append("input")
    if bool((m > 0).all()) and len(np.unique(m)) >= 2:
        out.append("max_output")
    if n >= 4 and len(np.unique(x)) >= 3:
        out.append("affine_input")
    return out


def _choose(y: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[str, _Wls, dict[str, float]]:
    fits: dict[str, _Wls] = {}
    for name in _candidates(x, m):
        X, v = _design(name, x, m)
        fit = _wls(X, v, y)
        if fit is not None:
            fits[name] = fit
    scores = {name: f.loo_rmse for name, f in fits.items()}
    best = "mean"
    for name in DESIGNS[1:]:
        # Leave a simpler estimator only for a clear improvement: 1e-9 guards float ties between
        # one-parameter rules; a second parameter must cut the leave-one-out error by AFFINE_GAIN,
        # or noise alone picks it for a good share of samples whose rule has no slope.
        margin = AFFINE_GAIN if len(fits.get(name, fits[best]).beta) > len(fits[best].beta) else 1e-9
        if name in fits and fits[name].loo_rmse < fits[best].loo_rmse * (1 - margin):
            best = name
    return best, fits[best], scores


@dataclass(frozen=True, eq=False)
class GroupFit:
    """The output rules fitted on one settings group (or on all results pooled).

    Answers (candidates) and thinking (thoughts) are fitted separately, each with its best design;
    their sum is the billed output. ``cross_cov`` and ``rho`` carry how their errors move together.

    Attributes:
        key: the settings group name (``"all results"`` for the pooled fit).
        n: results fitted.
        candidates: the answer-token fit.
        thoughts: the thinking-token fit.
        cross_cov: robust covariance between the two fits' coefficients.
        rho: correlation of the two components' residuals (for one request's scatter).
        mean_candidates, mean_thoughts: average answer and thinking tokens per result.
        mean_max_output: mean maxOutputTokens (stands in for a request that does not set it).
        max_output_seen: largest maxOutputTokens in the results (0 when unknown).
        truncated: answers that stopped at maxOutputTokens.
    """

    key: str
    n: int
    candidates: ComponentFit
    thoughts: ComponentFit
    cross_cov: np.ndarray
    rho: float
    mean_candidates: float
    mean_thoughts: float
    mean_max_output: float
    max_output_seen: int
    truncated: int

    @property
    def df(self) -> int:
        return self.n - max(self.candidates.params, self.thoughts.params)

    def uses_max_output(self) -> bool:
        return "max_output" in (self.candidates.design, self.thoughts.design)

    def rule(self) -> str:
        """The fitted rules in words, e.g. ``"answers 0.42 x input tokens + thinking 310 tokens per request"``."""
        return f"{self.candidates.rule('answers')} + {self.thoughts.rule('thinking')}"

    def describe(self) -> str:
        """One line: rules, sample size and which estimators were chosen over which."""
        return (
            f"{self.key}: {self.rule()} ({self.n:,} results; chosen by leave-one-out error among "
            f"{self.candidates.tried()}: answers {DESIGN_NAMES[self.candidates.design]}, thinking "
            f"{DESIGN_NAMES[self.thoughts.design]})"
        )

    def designs(self, x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(X answers, v answers, X thinking, v thinking) for new rows (m <= 0: not set)."""
        m = np.where(m > 0, m, self.mean_max_output)
        xc, vc = _design(self.candidates.design, x, m)
        xt, vt = _design(self.thoughts.design, x, m)
        return xc, vc, xt, vt


def fit_group(key: str, obs: Observations) -> GroupFit:
    """Fit one settings group (see the module docstring).

    Raises:
        ValueError: fewer than :data:`MIN_RESULTS` observations.
    """
    n = len(obs)
    if n < MIN_RESULTS:
        raise ValueError(f"a fit needs at least {MIN_RESULTS} results, got {n}")
    x = obs.input_tokens.astype(np.float64)
    m = obs.max_output.astype(np.float64)
    parts: dict[str, tuple[str, _Wls, dict[str, float]]] = {
        "c": _choose(obs.candidates.astype(np.float64), x, m),
        "t": _choose(obs.thoughts.astype(np.float64), x, m),
    }
    comps: dict[str, ComponentFit] = {}
    for name, (design, fit, scores) in parts.items():
        p = len(fit.beta)
        dof = max(n - p, 1)
        # scores u_i = w_i e_i x_i; the sandwich A^-1 (sum u u') A^-1 is robust to any scatter pattern
        u = fit.design * (fit.weights * fit.resid)[:, None]
        cov = fit.ainv @ (u.T @ u) @ fit.ainv * (n / dof)
        # scatter per unit of v estimated as sum(e^2)/sum(v): the new file's total scatter is then
        # right whenever it resembles the calibration, even if v is not the true variance shape
        sigma2 = float((fit.resid**2).sum()) / float(fit.v.sum()) * (n / dof)
        comps[name] = ComponentFit(design, fit.beta, cov, sigma2, scores)
    fc, ft = parts["c"][1], parts["t"][1]
    uc = fc.design * (fc.weights * fc.resid)[:, None]
    ut = ft.design * (ft.weights * ft.resid)[:, None]
    dof = max(n - max(len(fc.beta), len(ft.beta)), 1)
    cross = fc.ainv @ (uc.T @ ut) @ ft.ainv * (n / dof)
    denom = math.sqrt(float((fc.resid**2).sum()) * float((ft.resid**2).sum()))
    rho = float((fc.resid * ft.resid).sum()) / denom if denom > 0 else 0.0
    known_m = obs.max_output[obs.max_output > 0]
    return GroupFit(
        key=key,
        n=n,
        candidates=comps["c"],
        thoughts=comps["t"],
        cross_cov=cross,
        rho=rho,
        mean_candidates=float(obs.candidates.mean()),
        mean_thoughts=float(obs.thoughts.mean()),
        mean_max_output=float(known_m.mean()) if len(known_m) else 0.0,
        max_output_seen=int(known_m.max()) if len(known_m) else 0,
        truncated=int(obs.truncated.sum()),
    )


@dataclass(frozen=True, eq=False)
class Prediction:
    """Per-row output prediction and its file-total interval.

    Attributes:
        expected, low, high: billed output tokens per row (int64), each capped at the row's ceiling;
            ``low.sum()``..``high.sum()`` is the 95% interval of the file total.
        candidates, thoughts: the expected answer and thinking parts (they add up to ``expected``).
        half_width: half-width of the total's interval before capping, in tokens.
        fits: settings group of the new file -> name of the fit used for it.
        rows_by_group: settings group of the new file -> usable rows in it.
    """

    expected: np.ndarray
    low: np.ndarray
    high: np.ndarray
    candidates: np.ndarray
    thoughts: np.ndarray
    half_width: float
    fits: Mapping[str, str]
    rows_by_group: Mapping[str, int]


@dataclass(frozen=True, eq=False)
class OutputModel:
    """Expected billed output per request, learnt from results (calibration) or a pilot.

    Attributes:
        source: where the expectation comes from, in words (shown beside every figure).
        warnings: caveats found while learning (model or settings differences, joins, truncation).
        model: the model the results came from (``modelVersion``) or the pilot used.
        kind: ``calibration`` or ``pilot``.
        groups: settings group -> its own fit (groups with at least :data:`MIN_GROUP` results).
        pooled: the fit on all results (used for settings the calibration lacks).
        results: observations used.
        extra: JSON-ready facts (files, pilot cost...) for reports.
    """

    source: str
    warnings: tuple[str, ...]
    model: str = ""
    kind: str = "calibration"
    groups: Mapping[str, GroupFit] = field(default_factory=dict)
    pooled: GroupFit | None = None
    results: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)
    tool_use: ToolUse | None = None  # Search queries and tool-result tokens per request with the tool

    # -- prediction -----------------------------------------------------------------------------

    def _fit_for(self, key: str) -> GroupFit:
        fit = self.groups.get(key)
        if fit is not None:
            return fit
        if len(self.groups) == 1 and SETTINGS_UNKNOWN in self.groups:
            return self.groups[SETTINGS_UNKNOWN]
        assert self.pooled is not None
        return self.pooled

    def predict(
        self, scan: ScanResult, input_tokens: np.ndarray, ceiling: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row of the scan (0 for unusable rows): (expected, low, high) billed output tokens
        (candidates + thoughts), each capped at the row's ceiling; low/high such that the TOTAL over
        the file is a 95% interval."""
        p = self.predict_detail(scan, input_tokens, ceiling)
        return p.expected, p.low, p.high

    def predict_detail(self, scan: ScanResult, input_tokens: np.ndarray, ceiling: np.ndarray) -> Prediction:
        """:meth:`predict` with the answer/thinking split and which fit served which settings."""
        rows = scan.rows
        keys = settings_keys(rows["thinking_budget"], rows["thinking_level"], rows["candidate_count"])
        max_out = rows["max_output_tokens"].astype(np.int64)
        max_out = np.where(max_out == UNSET, -1, max_out)
        return self.predict_rows(keys, input_tokens, max_out, ceiling, rows["usable"].astype(bool))

    def predict_rows(
        self,
        keys: np.ndarray,
        input_tokens: np.ndarray,
        max_output: np.ndarray,
        ceiling: np.ndarray,
        usable: np.ndarray | None = None,
    ) -> Prediction:
        """Predict from plain per-row arrays (settings group name, input tokens, maxOutputTokens or -1, ceiling)."""
        n = len(input_tokens)
        usable = np.ones(n, bool) if usable is None else usable.astype(bool)
        x = np.asarray(input_tokens, dtype=np.float64)
        m = np.asarray(max_output, dtype=np.float64)
        cap = np.asarray(ceiling, dtype=np.int64)
        c_hat = np.zeros(n)
        t_hat = np.zeros(n)
        # per fit: design sums of both components and the scatter sums (they share parameter errors)
        acc: dict[str, dict[str, Any]] = {}
        fits_used: dict[str, GroupFit] = {}
        fit_of: dict[str, str] = {}
        counts: dict[str, int] = {}
        for key in sorted({str(k) for k in keys[usable]}):
            sel = usable & (keys == key)
            fit = self._fit_for(key)
            fit_of[key] = fit.key
            counts[key] = int(sel.sum())
            xc, vc, xt, vt = fit.designs(x[sel], m[sel])
            c_hat[sel] = np.maximum(xc @ fit.candidates.beta, 0.0)
            t_hat[sel] = np.maximum(xt @ fit.thoughts.beta, 0.0)
            a = acc.setdefault(fit.key, {"ac": 0.0, "at": 0.0, "vc": 0.0, "vt": 0.0, "vct": 0.0})
            a["ac"] = a["ac"] + xc.sum(axis=0)
            a["at"] = a["at"] + xt.sum(axis=0)
            a["vc"] += float(vc.sum())
            a["vt"] += float(vt.sum())
            a["vct"] += float(np.sqrt(vc * vt).sum())
            fits_used[fit.key] = fit
        variance = 0.0
        for name, a in acc.items():
            f = fits_used[name]
            ac, at = np.atleast_1d(a["ac"]), np.atleast_1d(a["at"])
            variance += float(ac @ f.candidates.cov @ ac + at @ f.thoughts.cov @ at + 2 * ac @ f.cross_cov @ at)
            sc, st = f.candidates.sigma2, f.thoughts.sigma2
            variance += sc * a["vc"] + st * a["vt"] + 2 * f.rho * math.sqrt(sc * st) * a["vct"]
        variance = max(variance, 0.0)
        df = sum(max(f.df, 1) for f in fits_used.values())
        half = t975(df) * math.sqrt(variance) if fits_used else 0.0
        y_hat = c_hat + t_hat
        expected = np.where(usable, np.minimum(np.rint(y_hat).astype(np.int64), cap), 0)
        expected = np.maximum(expected, 0)
        total = float(expected.sum())
        if total > 0:
            low = np.floor(expected * max(0.0, 1 - half / total)).astype(np.int64)
            high = np.maximum(np.minimum(np.ceil(expected * (1 + half / total)).astype(np.int64), cap), expected)
        else:
            low, high = expected.copy(), expected.copy()
        with np.errstate(divide="ignore", invalid="ignore"):
            share_t = np.where(y_hat > 0, t_hat / np.where(y_hat > 0, y_hat, 1.0), 0.0)
        thoughts = np.rint(expected * share_t).astype(np.int64)
        return Prediction(
            expected=expected,
            low=np.where(usable, low, 0),
            high=np.where(usable, high, 0),
            candidates=expected - thoughts,
            thoughts=thoughts,
            half_width=half,
            fits=fit_of,
            rows_by_group=counts,
        )

    # -- reporting ------------------------------------------------------------------------------

    def warnings_for(self, scan: ScanResult) -> tuple[str, ...]:
        """Caveats about applying this model to ``scan`` (settings the calibration lacks, larger limits).

        Add these to the plan's warnings next to :attr:`warnings`.
        """
        rows = scan.rows
        usable = rows["usable"].astype(bool)
        keys = settings_keys(rows["thinking_budget"], rows["thinking_level"], rows["candidate_count"])
        max_out = rows["max_output_tokens"].astype(np.int64)
        out: list[str] = []
        seen = sorted({str(k) for k in keys[usable]})
        unknown_only = len(self.groups) == 1 and SETTINGS_UNKNOWN in self.groups
        if unknown_only and seen != ["default thinking"]:
            out.append(
                f"the {self.kind} results carry no request settings, but this file uses {', '.join(seen)}; one "
                "rule is applied to all requests (give the requests file that produced the results to tell "
                "settings apart)"
            )
        for key in seen:
            fit = self._fit_for(key)
            n = int((usable & (keys == key)).sum())
            if not unknown_only and key not in self.groups:
                known = ", ".join(self.groups) or "none"
                out.append(
                    f"{n:,} requests use {key}, which the {self.kind} results do not include with at least "
                    f"{MIN_GROUP} results (settings fitted: {known}); they are predicted from all {fit.n:,} results "
                    f"pooled ({fit.rule()})"
                )
            sel = usable & (keys == key) & (max_out != UNSET)
            biggest = int(max_out[sel].max()) if sel.any() else None
            if fit.uses_max_output() and biggest is not None and biggest > 1.5 * fit.max_output_seen:
                out.append(
                    f"{key}: maxOutputTokens up to {biggest:,} here but at most {fit.max_output_seen:,} in the "
                    f"{self.kind} results; the ratio to maxOutputTokens is extrapolated"
                )
            if fit.truncated and fit.truncated >= 0.1 * fit.n:
                out.append(
                    f"{key}: {fit.truncated / fit.n:.0%} of the {self.kind} answers stopped at maxOutputTokens, so "
                    "their true length is unknown; requests allowed more output may produce more than predicted"
                )
        return tuple(dict.fromkeys(out))

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (for the plan's ``tokens.output`` or a report section)."""

        def comp(c: ComponentFit) -> dict[str, Any]:
            return {
                "estimator": c.design,
                "coefficients": [float(b) for b in c.beta],
                "loo_rmse": {k: round(v, 3) for k, v in c.loo_rmse.items()},
            }

        return {
            "kind": self.kind,
            "source": self.source,
            "model": self.model,
            "results": self.results,
            "fits": [
                {
                    "settings": f.key,
                    "results": f.n,
                    "rule": f.rule(),
                    "candidates": comp(f.candidates),
                    "thoughts": comp(f.thoughts),
                    "mean_candidates": round(f.mean_candidates, 3),
                    "mean_thoughts": round(f.mean_thoughts, 3),
                    "truncated": f.truncated,
                }
                for f in [*self.groups.values(), *([self.pooled] if self.pooled is not None else [])]
            ],
            "warnings": list(self.warnings),
            **dict(self.extra),
        }


def fit_output_model(
    obs: Observations,
    *,
    source_prefix: str,
    model: str,
    kind: str,
    warnings: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> OutputModel:
    """Fit every settings group with enough results, plus the pooled fit, and describe them.

    Raises:
        ValueError: fewer than :data:`MIN_RESULTS` observations.
    """
    warn = list(warnings)
    groups: dict[str, GroupFit] = {}
    small: list[str] = []
    for key in sorted({str(k) for k in obs.group}):
        sel = obs.group == key
        if int(sel.sum()) >= MIN_GROUP:
            groups[key] = fit_group(key, obs.subset(sel))
        else:
            small.append(f"{key} ({int(sel.sum())})")
    pooled = fit_group("all results", obs)
    if small:
        warn.append(
            f"settings with fewer than {MIN_GROUP} results are predicted from all results pooled: {', '.join(small)}"
        )
    fits = list(groups.values()) or [pooled]
    source = f"{source_prefix}: " + "; ".join(f.describe() for f in fits)
    return OutputModel(
        source=source,
        warnings=tuple(dict.fromkeys(warn)),
        model=model,
        kind=kind,
        groups=groups,
        pooled=pooled,
        results=len(obs),
        extra=dict(extra or {}),
    )


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
        warnings.append(f"the requests file has {sc.errors:,} validation errors; run `batchcost validate` on it")
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
                f"{missing:,} results have no request with their key in the requests file; their settings are unknown"
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
                    else f"; and the counts differ ({len(order):,} results, {len(input_rows):,} request lines)"
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
            f"{rs.errors:,} lines of the results could not be used" + (f" (first: {first})" if first else "")
        )
    if rs.succeeded < MIN_RESULTS:
        raise InputError(
            paths[0],
            f"has {rs.succeeded} successful result(s) with usageMetadata; calibration needs at least {MIN_RESULTS}: "
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
        warnings.append(f"{rs.failed:,} failed results are left out of the calibration")
    named = ", ".join(f"{v}" for v in versions if v) or "model not named"
    settings = sorted({str(g) for g in obs.group})
    described = settings[0] if len(settings) == 1 else f"{len(settings)} settings"
    prefix = (
        f"calibrated on {', '.join(os.path.basename(p) for p in paths)} ({len(obs):,} {named} results, {described})"
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
