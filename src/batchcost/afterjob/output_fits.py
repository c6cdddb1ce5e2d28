"""Fitting output tokens on observations: the settings groups, the competing estimators (mean, ratio
to input, ratio to maxOutputTokens, affine in input) chosen by leave-one-out error, and their robust
covariances. :mod:`.calibrate` describes the model and the interval; :mod:`.output_model` builds
the :class:`~.output_model.OutputModel` from these fits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..batchfile.request import UNSET
from ..batchfile.schema import THINKING_LEVELS

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
