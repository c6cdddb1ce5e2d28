"""The output model learnt from real results (:class:`OutputModel`): per settings group, answers and
thinking fitted (:mod:`.output_fits`), each request's billed output predicted and capped, and the
file total's 95% interval (:class:`Prediction`). :mod:`.calibrate` describes the model and builds it
from a results file; ``pilot`` from a pilot run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..batchfile.request import UNSET
from ..text import agree, plural
from .output_fits import (
    MIN_GROUP,
    SETTINGS_UNKNOWN,
    ComponentFit,
    GroupFit,
    Observations,
    fit_group,
    settings_keys,
    t975,
)

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from .tool_use import ToolUse


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
                    f"{plural(n, 'request')} {agree(n, 'uses', 'use')} {key}, which the {self.kind} results do not "
                    f"include with at least {MIN_GROUP} results (settings fitted: {known}); "
                    f"{agree(n, 'it is', 'they are')} predicted from all {fit.n:,} results "
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
