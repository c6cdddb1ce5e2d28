"""The sampled estimate of a file's text tokens: a stratified, model-assisted ratio estimator.

How the total is built (``count.count_tokens`` calls :func:`sampled_text` when it does not count
every request):

1. **Certainty rows** are counted exactly: when the model has a prompt-size price tier, every request
   whose text could reach it (a token covers at least one UTF-8 byte, so only requests with at least
   ``tier_threshold`` bytes of text can), and the ``largest`` requests by characters if asked.
2. The other requests are split into strata by script (UTF-8 bytes per character) and size
   (characters). Each request has an **auxiliary figure** ``a``: for requests of at least
   ``CLASS_MIN_CHARS`` characters, the tokens a linear model predicts from its byte-class counts
   (``batchfile.text_classes``: letters, digits, punctuation, spaces, newlines, UTF-8 lead bytes by
   script block); for shorter requests, its characters. The model is fitted per script class on the
   sampled long requests (:class:`~.class_model.ClassModel`: non-negative weights, pulled towards rough prior weights).
   In each stratum the ratio ``R = sum(y) / sum(a)`` over the sampled requests times the stratum's
   exact total of ``a`` estimates the stratum's tokens: a ratio estimator, model-assisted where ``a``
   is the model's.
3. Its variance is the ratio estimator's, ``N^2 (1 - n/N) s^2 / n`` per stratum (times Wu's
   ``(mean a / sampled mean a)^2``), ``s^2`` from the residuals ``y - R a``. Where ``a`` is the model's,
   each sampled request's residual comes from a model fitted without it (cross-fitting: in-sample
   residuals of a fitted model are too small), and their standard deviation is taken as at least
   ``_MIN_RESIDUAL_CV`` of the mean request (a sample cannot show what it missed); where ``a`` is
   characters, at least ``_MIN_CHARS_RESIDUAL_CV`` of it. The 95% interval
   uses Student's t with Satterthwaite's degrees of freedom.
4. The sample starts as the scan's uniform sample (cut down where requests are long) and at least
   ``min_per_stratum`` requests per stratum. While the interval is wider than ``target_halfwidth``,
   more requests are counted where they cut the variance most per byte tokenized (Neyman allocation
   with costs: ``n_h`` proportional to ``N_h S_h / sqrt(bytes per request)``), and a stratum that
   carries a tenth of the variance gets at least ``_MIN_HEAVY`` requests, all within
   ``max_sample_bytes`` of text (20 MB by default: the byte classes do the work that counting
   thousands of long requests used to do).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..batchfile.request import PLACES
from ..batchfile.text_classes import CLASS_MIN_CHARS
from ..text import plural
from .class_model import ClassModel
from .interval import Interval, t975

if TYPE_CHECKING:
    from ..batchfile import ScanResult

_SCRIPT_EDGES = (1.05, 1.5, 2.5)  # UTF-8 bytes per character between script classes
_SIZE_EDGES = (400, 4_000, 40_000, 160_000)  # characters between size classes
_SCRIPT_STRIDE = len(_SIZE_EDGES) + 1
# Tokenizing a request costs about this many bytes of text on top of its own (reading, parsing).
_REQUEST_COST_BYTES = 400
_ROUNDS = 8
_MIN_HEAVY = 100  # requests sampled at least in a stratum that carries a tenth of the variance
# Byte classes cannot see a text's language or vocabulary: on the golden documents, their predictions
# miss by 6-11% (standard deviation per document) even for kinds of text in the fit, and by far more
# for kinds outside it. Residuals measured on a sample cannot show content the sample happened to miss
# (say the one language in ten among long documents that the classes mispredict), so a modelled
# stratum's residual standard deviation is never taken below this share of its mean request.
_MIN_RESIDUAL_CV = 0.02
# Characters alone cannot see digits (a token each), code or markup: per short request they miss tokens
# by 10-50% depending on the kind of text. In a stratum of short requests a few kinds (digit-heavy JSON,
# code) can carry most of the residual variance (on the realistic 2 GB file, 2.8% of the requests of
# 400-4,000 ASCII characters carry half of it); a sample of a few hundred often holds few of them and
# shows a residual spread, and an estimate, that are both too low. So a stratum estimated on characters
# never takes its residual standard deviation below this share of its mean request; short requests are
# cheap to count, so the rounds then sample more of them.
_MIN_CHARS_RESIDUAL_CV = 0.15
_FOLDS = 5  # cross-fitting folds for the residuals (see _estimate)


class ExactCounts(Protocol):
    """Exact counts of rows, filled on demand (``count._Counts``)."""

    def ensure(self, rows: Iterable[int], total_hint: int | None = None) -> None: ...
    def text(self, rows: np.ndarray) -> np.ndarray: ...
    def place(self, rows: np.ndarray, i: int) -> np.ndarray: ...


@dataclass
class SampledText:
    """What :func:`sampled_text` returns to ``count_tokens``."""

    total: Interval
    per_text: np.ndarray
    by_place: dict[str, Interval] | None
    counted: np.ndarray
    sampled_n: int
    note: str


# Rows whose per-request figure is made at a time (float working arrays of 2 MB each).
_ROWS_AT_ONCE = 1 << 18


def _sum_at(values: np.ndarray, rows: np.ndarray) -> float:
    """``float(values[rows].sum())`` a chunk of rows at a time: a stratum can be millions of rows.

    Equal to the one-array sum where it matters: for integers (exact either way) and for up to
    :data:`_ROWS_AT_ONCE` rows (one chunk).
    """
    if len(rows) <= _ROWS_AT_ONCE:
        return float(values[rows].sum())
    if values.dtype.kind in "iub":
        return float(sum(int(values[rows[lo : lo + _ROWS_AT_ONCE]].sum()) for lo in range(0, len(rows), _ROWS_AT_ONCE)))
    return float(sum(float(values[rows[lo : lo + _ROWS_AT_ONCE]].sum()) for lo in range(0, len(rows), _ROWS_AT_ONCE)))


@dataclass
class _Stratum:
    rows: np.ndarray  # all non-certainty rows of the stratum (sorted; int32 below 2**31 rows: see _rows_of)
    sampled: np.ndarray  # rows of it counted exactly
    modelled: bool  # every row has byte-class counts: the auxiliary figure is the model's prediction
    cost: float  # bytes of text per request, plus the per-request overhead


def _rows_of(strata_id: np.ndarray, h: int) -> np.ndarray:
    """The rows of stratum ``h``, sorted: int32 when every row number fits (4 bytes a row instead of 8;
    the strata of 1.7 M short prompts held 13.5 MB), found a bounded chunk of rows at a time so that
    no int64 index of a whole stratum is made on the way."""
    n = len(strata_id)
    if n >= 2**31:
        return np.flatnonzero(strata_id == h)
    parts = [np.flatnonzero(strata_id[lo : lo + _ROWS_AT_ONCE] == h).astype(np.int32) + np.int32(lo)
             for lo in range(0, n, _ROWS_AT_ONCE)]  # fmt: skip
    return np.concatenate(parts) if parts else np.zeros(0, np.int32)


def strata_of(scan: ScanResult, x: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Stratum id per row (int16): script class * _SCRIPT_STRIDE + size class; -1 for unusable rows or rows without text."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bpc = scan.rows["text_bytes"].astype(np.float32) / np.maximum(x, 1).astype(np.float32)
    strata = np.zeros(len(x), np.int16)
    for edge in _SCRIPT_EDGES:  # one byte-per-row comparison at a time: millions of rows stay small
        strata += (bpc >= edge).astype(np.int16) * _SCRIPT_STRIDE
    del bpc
    for edge in _SIZE_EDGES:
        strata += x >= edge
    strata[~usable | (x == 0)] = -1
    return strata


@dataclass
class _Fit:
    """One round's estimate: per stratum (estimate, variance, ratio, residual variance, sample size)."""

    parts: dict[int, tuple[float, float, float, float, int]]
    aux: np.ndarray  # the auxiliary figure per row (float64; characters where not modelled; x itself when none is)
    held_out: dict[int, float]  # the same for sampled rows, as predicted by a model fitted without them
    note: str
    predicted: set[int]  # strata whose auxiliary figure is the model's prediction

    @property
    def model_used(self) -> bool:
        return bool(self.predicted)

    @property
    def estimate(self) -> float:
        return sum(p[0] for p in self.parts.values())

    @property
    def variance(self) -> float:
        return sum(p[1] for p in self.parts.values())

    def dof(self) -> float:
        """Satterthwaite's degrees of freedom of the variance estimate."""
        num = self.variance**2
        den = sum(p[1] ** 2 / (p[4] - 1) for p in self.parts.values() if p[1] > 0 and p[4] > 1)
        return num / den if den > 0 else math.inf


def _ratio(a_pop: float, big_n: int, a: np.ndarray, y: np.ndarray, h: np.ndarray,
           modelled: bool = False) -> tuple[float, float, float, float, int]:  # fmt: skip
    """(estimate, variance, ratio, residual variance, n) of a stratum's total by the ratio estimator.

    ``a_pop`` is the sum of the auxiliary figure over the stratum's ``big_n`` rows (the estimator
    needs no more of them), ``a`` and ``y`` the figures of its sampled rows and their exact tokens. The residuals come from ``h``: the sampled rows' auxiliary
    figures as predicted by models that did not see them (``a`` itself where there is no model).
    Their standard deviation is taken as at least ``_MIN_RESIDUAL_CV`` of the mean request where the
    auxiliary figure is the model's (``modelled``), ``_MIN_CHARS_RESIDUAL_CV`` where it is characters
    (see there).
    """
    n = len(a)
    if n == 0:
        return float("nan"), float("inf"), float("nan"), float("inf"), 0
    sa = float(a.sum())
    r = float(y.sum()) / sa if sa > 0 else 0.0
    est = r * a_pop if sa > 0 else float(y.sum()) * big_n / n
    if n >= big_n:
        return est, 0.0, r, 0.0, n
    if n < 2:
        return est, float("inf"), r, float("inf"), n
    sh = float(h.sum())
    e = y - (float(y.sum()) / sh) * h if sh > 0 else y - y.mean()
    s2 = float((e**2).sum() / (n - 1))
    s2 = max(s2, ((_MIN_RESIDUAL_CV if modelled else _MIN_CHARS_RESIDUAL_CV) * float(y.mean())) ** 2)
    # Wu's (1982) v2: scaled by (mean aux of the stratum / mean aux of its sample)^2, which follows
    # the ratio estimate's error better when the sample happens to hold small or large requests.
    g = (a_pop / big_n / (sa / n)) ** 2 if sa > 0 else 1.0
    return est, big_n**2 * (1 - n / big_n) * s2 * g / n, r, s2, n


def _fit_group(model: ClassModel, group: list[_Stratum], rows: np.ndarray, y: np.ndarray, x: np.ndarray, aux: np.ndarray,
               held_out: dict[int, float], design: np.ndarray | None = None) -> int | None:  # fmt: skip
    """Fit the model on ``rows`` (tokens ``y``) and set the auxiliary figures of the ``group``'s strata.

    Returns how many weights are non-zero, or None when the rows are too few to fit.
    """
    fitted = model.fit(rows, y, x[rows], design) if len(rows) else None
    if fitted is None:
        return None
    z_all, beta, p = fitted
    for st in group:
        aux[st.rows] = model.predict(z_all, st.rows, beta)
    # Residuals of a model fitted on the same requests are too small (it bent towards them), and the
    # interval would be too narrow: each sampled request's residual is taken from a model fitted
    # without its fold (cross-fitting), as a new request's would be.
    mine = np.concatenate([st.sampled for st in group])
    fold = (rows * 2654435761 >> 11) % _FOLDS
    mine_fold = (mine * 2654435761 >> 11) % _FOLDS
    for k in range(_FOLDS):
        test = mine[mine_fold == k]
        if not len(test):
            continue
        train = fold != k
        part = model.fit(rows[train], y[train], x[rows[train]], z_all)
        predicted = model.predict(z_all, test, part[1]) if part is not None else aux[test]
        held_out.update(zip(test.tolist(), predicted.tolist(), strict=True))
    return p


def held_out_of(held_out: dict[int, float], rows: np.ndarray, aux: np.ndarray) -> np.ndarray:
    """The held-out auxiliary figures of sampled ``rows`` (``aux`` for rows without a model)."""
    return np.array([held_out.get(r, a) for r, a in zip(rows.tolist(), aux[rows].tolist(), strict=True)], np.float64)


def _estimate(strata: dict[int, _Stratum], model: ClassModel, counts: ExactCounts, x: np.ndarray,
              aux: np.ndarray) -> _Fit:  # fmt: skip
    """The ratio estimate of every stratum, with the model refitted on the current sample.

    One model per script class (the weights of a byte class differ between, say, Chinese and Japanese
    text, and a pooled fit leans on whichever script the sample holds most of), fitted on that
    script's sampled long requests of every size; a script with too few of them uses the model
    fitted on every script. ``aux`` (characters, float64) receives the predictions in place: one array
    of millions of rows, not one per round.
    """
    held_out: dict[int, float] = {}
    modelled = {h: st for h, st in strata.items() if st.modelled}
    for st in modelled.values():
        for lo in range(0, len(st.rows), _ROWS_AT_ONCE):  # characters until a model says otherwise
            part = st.rows[lo : lo + _ROWS_AT_ONCE]
            aux[part] = x[part]
    used: list[str] = []
    predicted: set[int] = set()  # strata whose auxiliary figure is the model's
    if modelled:
        rows_all = np.concatenate([st.sampled for st in modelled.values()])
        y_all = counts.text(rows_all)
        pooled = None
        for script in sorted({h // _SCRIPT_STRIDE for h in modelled}):
            ids = [h for h in modelled if h // _SCRIPT_STRIDE == script]
            group = [modelled[h] for h in ids]
            rows = np.concatenate([st.sampled for st in group])
            p = _fit_group(model, group, rows, counts.text(rows), x, aux, held_out)
            if p is None:
                # too few of this script: the model fitted on every script (its cross-fit too)
                pooled = pooled or model.fit(rows_all, y_all, x[rows_all])
                if pooled is not None:
                    p = _fit_group(model, group, rows_all, y_all, x, aux, held_out, pooled[0])
            if p is not None:
                predicted.update(ids)
                used.append(f"{p} weights on {len(rows):,}")
    note = f"byte classes (per script: {'; '.join(used)} requests)" if used else ""
    parts = {h: _ratio(_sum_at(aux, st.rows), len(st.rows), aux[st.sampled], counts.text(st.sampled),
                       held_out_of(held_out, st.sampled, aux), h in predicted)
             for h, st in strata.items()}  # fmt: skip
    return _Fit(parts, aux, held_out, note, predicted)


def _draw(st: _Stratum, k: int, rng: np.random.Generator) -> np.ndarray:
    k = min(k, len(st.rows) - len(st.sampled))
    if k <= 0:
        return np.zeros(0, np.int64)
    # The draw of rng.choice(np.setdiff1d(st.rows, st.sampled), k, replace=False) (the same random
    # numbers, the same rows), without making that pool of millions of rows: positions are drawn in
    # it and mapped to the rows'. The j-th free position is j plus the taken positions at or before it.
    taken = np.searchsorted(st.rows, st.sampled)  # both sorted, the sampled rows among the stratum's
    free_before = taken - np.arange(len(taken))  # free positions before each taken one (non-decreasing)
    at = rng.choice(len(st.rows) - len(taken), size=k, replace=False)
    pick = np.sort(st.rows[at + np.searchsorted(free_before, at, side="right")])
    st.sampled = np.union1d(st.sampled, pick)
    return pick


def _more(strata: dict[int, _Stratum], fit: _Fit, target_var: float, budget_bytes: float,
          budget_n: int) -> dict[int, int]:  # fmt: skip
    """How many more requests to count per stratum (Neyman allocation with costs), within the budgets."""
    s = {h: math.sqrt(fit.parts[h][3]) for h, st in strata.items() if len(st.sampled) < len(st.rows)}
    s = {h: v for h, v in s.items() if math.isfinite(v) and v > 0}
    if not s:
        return {}
    big_n = {h: len(strata[h].rows) for h in s}
    fixed = sum(big_n[h] * s[h] ** 2 for h in s)
    k = sum(big_n[h] * s[h] * math.sqrt(strata[h].cost) for h in s) / (target_var + fixed)
    want = {h: max(0, min(big_n[h], math.ceil(k * big_n[h] * s[h] / math.sqrt(strata[h].cost))) - len(strata[h].sampled))
            for h in s}  # fmt: skip
    spent = sum(len(st.sampled) * st.cost for st in strata.values())
    cost = sum(n * strata[h].cost for h, n in want.items())
    # at most doubling the bytes counted per round: early variance estimates from small strata are noisy
    room = min(budget_bytes, max(spent, 1e6))
    scale = min(1.0, room / cost if cost else 1.0, budget_n / max(1, sum(want.values())))
    return {h: int(n * scale) for h, n in want.items() if int(n * scale) > 0}


def sampled_text(
    scan: ScanResult, counts: ExactCounts, *, x: np.ndarray, x_place: list[np.ndarray], usable: np.ndarray,
    sample: np.ndarray, rng: np.random.Generator, largest: int, tier_threshold: int | None,
    min_per_stratum: int, target_halfwidth: float, max_sample_requests: int, max_sample_bytes: int, is_api: bool,
    counted: Callable[[], None] | None = None,
) -> SampledText:  # fmt: skip
    """The sampled estimate of the text tokens (see the module docstring).

    The requests estimated are the usable ones with text (``usable`` and ``x > 0``). ``counted`` is
    called once the last sampled request is counted, before the per-request figures are made.
    """
    rows = scan.rows
    n_rows = len(rows["offset"])
    text_bytes = rows["text_bytes"]  # uint32: sums below are taken as int64
    # (the rows' indices are made only where needed: 8 bytes a request, 13.5 MB on 1.7 M requests)
    if tier_threshold is None:
        tier_risk = np.zeros(0, np.int64)
    else:
        tier_risk = np.flatnonzero(usable & (x > 0) & (text_bytes >= tier_threshold))
    if largest > 0:
        usable_rows = np.flatnonzero(usable & (x > 0))
        top = usable_rows[np.argsort(x[usable_rows], kind="stable")[::-1][:largest]]
        del usable_rows
    else:
        top = tier_risk[:0]
    certain = np.union1d(tier_risk, top).astype(np.int64)
    counts.ensure(certain)
    model = ClassModel(scan)
    strata_id = strata_of(scan, x, usable)
    strata_id[certain] = -1
    rest_sample = np.setdiff1d(sample, certain)
    strata: dict[int, _Stratum] = {}
    for h in np.unique(strata_id[strata_id >= 0]).tolist():
        members = _rows_of(strata_id, h)
        cost = _sum_at(text_bytes, members) / len(members) + _REQUEST_COST_BYTES
        # the sample's rows in this stratum (rest_sample is sorted and unique, so these are too): a
        # lookup per sampled row, not a sort of the stratum's rows, which can be millions
        strata[h] = _Stratum(members, rest_sample[strata_id[rest_sample] == h], model.has(members), cost)
    # Start: the scan's uniform sample, and at least min_per_stratum requests in every stratum (its
    # variance is estimated from its own sample, which must not be a handful). The scan's sample uses
    # at most a quarter of the byte budget (a stratum's share of it is cut down where its requests are
    # long), the minimums at most half: the rounds below spend the rest where the variance is.
    budget = float(max_sample_bytes)
    start_bytes = sum(len(st.sampled) * st.cost for st in strata.values())
    if start_bytes > budget / 4:
        keep = budget / 4 / start_bytes
        for st in strata.values():
            k = max(min(len(st.sampled), max(2, min_per_stratum)), int(len(st.sampled) * keep))
            if k < len(st.sampled):
                st.sampled = np.sort(rng.choice(st.sampled, size=k, replace=False))
    need = {h: max(0, min(len(st.rows), max(2, min_per_stratum)) - len(st.sampled)) for h, st in strata.items()}
    need_bytes = sum(need[h] * strata[h].cost for h in strata)
    if need_bytes > budget / 2:  # huge requests: fewer each, never under 10
        shrink = budget / 2 / need_bytes
        need = {h: max(min(10, len(strata[h].rows)) - len(strata[h].sampled), int(n * shrink)) for h, n in need.items()}
    for h, st in strata.items():
        _draw(st, need[h], rng)
    all_sampled = np.concatenate([st.sampled for st in strata.values()]) if strata else np.zeros(0, np.int64)
    counts.ensure(all_sampled, total_hint=len(all_sampled))
    # The auxiliary figure: the characters themselves unless a stratum's are the model's predictions
    # (a float copy of millions of rows is made only then).
    aux = x.astype(np.float64) if any(st.modelled for st in strata.values()) else x
    fit = _estimate(strata, model, counts, x, aux)
    certain_total = int(counts.text(certain).sum())
    budget_n = max_sample_requests - len(all_sampled)
    budget_b = budget - float(text_bytes[all_sampled].sum() + _REQUEST_COST_BYTES * len(all_sampled))
    for _round in range(_ROUNDS):
        grand = fit.estimate + certain_total
        var = fit.variance
        half = t975(fit.dof()) * math.sqrt(var) if math.isfinite(var) else float("inf")
        if grand <= 0 or budget_n <= 0 or budget_b <= 0:
            break
        more: dict[int, int] = {}
        if half > target_halfwidth * grand:
            target_var = (target_halfwidth * grand / t975(fit.dof())) ** 2
            more = _more(strata, fit, target_var, budget_b, budget_n)
        # A variance estimated from a few requests misses what is rare among them (one language in ten
        # among long documents): a stratum that carries a tenth of the variance or more is sampled to
        # at least _MIN_HEAVY requests, so that its own estimate of its variance can be trusted.
        heavy = {h: min(len(st.rows), _MIN_HEAVY) - len(st.sampled) for h, st in strata.items()
                 if math.isfinite(var) and var > 0 and fit.parts[h][1] >= 0.1 * var}  # fmt: skip
        for h, k in heavy.items():
            more[h] = max(more.get(h, 0), k)
        cost = sum(k * strata[h].cost for h, k in more.items() if k > 0)
        if cost > budget_b:
            more = {h: int(k * budget_b / cost) for h, k in more.items()}
        added = [_draw(strata[h], k, rng) for h, k in more.items() if k > 0]
        new = np.concatenate(added) if added else np.zeros(0, np.int64)
        if not len(new):
            break
        budget_n -= len(new)
        budget_b -= float(text_bytes[new].sum() + _REQUEST_COST_BYTES * len(new))
        counts.ensure(new)
        all_sampled = np.concatenate([all_sampled, new])
        fit = _estimate(strata, model, counts, x, aux)

    if counted is not None:
        counted()
    # Per request: exact where counted, the stratum's ratio times the auxiliary figure elsewhere.
    per_text = np.zeros(n_rows, np.int64)
    for h, st in strata.items():
        for lo in range(0, len(st.rows), _ROWS_AT_ONCE):  # a stratum can be millions of rows: bounded temporaries
            rows_part = st.rows[lo : lo + _ROWS_AT_ONCE]
            per_text[rows_part] = np.rint(fit.aux[rows_part] * fit.parts[h][2])  # whole: the cast is exact
        per_text[st.sampled] = counts.text(st.sampled)
    per_text[certain] = counts.text(certain)
    # The expected total is the sum of the per-request figures (it differs from the ratio estimate
    # only by their rounding), so every view of the file adds up.
    grand = float(per_text.sum())
    dof = fit.dof()
    q = t975(dof)
    var = fit.variance
    half = q * math.sqrt(var) if math.isfinite(var) else grand
    total = Interval(int(grand), max(certain_total, math.floor(grand - half)), math.ceil(grand + half))
    by_place = None if is_api else _by_place(strata, fit, counts, x, x_place, certain, q)
    sampled_n = len(all_sampled)
    certainty = f" and {plural(len(certain), 'certainty request')}" if len(certain) else ""
    if len(tier_risk):
        certainty += f" (every request with at least {tier_threshold:,} bytes of text)"
    modelled = fit.model_used
    degrees = f"{dof:,.0f} degree{'' if f'{dof:,.0f}' == '1' else 's'}" if math.isfinite(dof) else ""
    note = (
        f"{sampled_n:,} sampled requests{certainty} counted exactly; the rest estimated in "
        f"{plural(len(strata), 'stratum', 'strata')} "
        "(script x size) by the ratio of tokens to "
        + (f"tokens predicted from {fit.note} for requests of {CLASS_MIN_CHARS:,}+ characters and to " if modelled
           else "")
        + "characters"
        + (" for shorter ones" if modelled else "")
        + "; 95% interval from that estimator's variance"
        + (f" (t, {degrees} of freedom)" if degrees else "")
    )  # fmt: skip
    return SampledText(total, per_text, by_place, np.union1d(certain, all_sampled), sampled_n, note)


def _by_place(strata: dict[int, _Stratum], fit: _Fit, counts: ExactCounts, x: np.ndarray,
              x_place: list[np.ndarray], certain: np.ndarray, q: float) -> dict[str, Interval]:  # fmt: skip
    """Text tokens by place: the same estimator, each request's auxiliary figure split by its characters."""
    out: dict[str, Interval] = {}
    for i, p in enumerate(PLACES):
        pe, pv = float(counts.place(certain, i).sum()), 0.0
        for h, st in strata.items():
            # the stratum's auxiliary figures split by this place's share of each request's characters
            # (every row of a stratum has text), summed a chunk of rows at a time: millions of rows
            # would take five arrays of them at once
            a_pop = 0.0
            for lo in range(0, len(st.rows), _ROWS_AT_ONCE):
                part = st.rows[lo : lo + _ROWS_AT_ONCE]
                a_pop += float((fit.aux[part] * (x_place[i][part] / np.maximum(x[part], 1))).sum())
            share_s = x_place[i][st.sampled] / np.maximum(x[st.sampled], 1)
            e, v, *_ = _ratio(a_pop, len(st.rows), fit.aux[st.sampled] * share_s, counts.place(st.sampled, i),
                              held_out_of(fit.held_out, st.sampled, fit.aux) * share_s, h in fit.predicted)  # fmt: skip
            pe += e
            pv += v
        ph = q * math.sqrt(pv)
        out[p] = Interval(round(pe), max(0, math.floor(pe - ph)), math.ceil(pe + ph))
    return out
