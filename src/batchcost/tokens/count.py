"""From a sample to the whole file: exact counts where they matter, a ratio estimate elsewhere.

How the total is built:

1. **Certainty rows** are counted exactly: when the model has a prompt-size price tier, every request
   whose text could reach it (a token covers at least one UTF-8 byte, so only requests with at least
   ``tier_threshold`` bytes of text can), plus the largest requests by characters (they dominate the
   variance).
2. The other requests are split into strata by script (UTF-8 bytes per character: ASCII, accented
   Latin, two-byte scripts such as Cyrillic, three-byte scripts such as CJK) and size (characters).
   In each stratum, tokens per character is measured on a uniform random sample (the scan's, topped
   up where a stratum has too few) and multiplied by the stratum's exact character total from the scan
   (a ratio estimator). Its variance gives the 95% interval (normal approximation).
3. While the interval is wider than ``target_halfwidth`` (relative), more requests are counted,
   allocated to the strata where they cut the variance most (Neyman allocation), up to a budget.
4. Media parts are priced in tokens by Google's documented rules (:mod:`.media_tokens`).

A file with no more usable requests than the sample size is counted whole, with no interval.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..batchfile.request import PLACES, request_texts
from .base import RequestCounter, TextCounter
from .media_tokens import MODALITIES, MediaDefaults, MediaTokens, media_tokens

if TYPE_CHECKING:
    from ..batchfile import ScanResult

TIER_THRESHOLD = 200_000
Z95 = 1.959964
DEFAULT_SAMPLE_SIZE = 2_000
_SCRIPT_EDGES = (1.05, 1.5, 2.5)  # UTF-8 bytes per character between script classes
_SIZE_EDGES = (400, 4_000, 40_000, 160_000)  # characters between size classes
_BATCH_TEXT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Interval:
    """An estimate with its 95% interval; ``low == expected == high`` when exact."""

    expected: int
    low: int
    high: int

    @classmethod
    def exact(cls, value: int) -> Interval:
        return cls(value, value, value)

    def __add__(self, other: Interval) -> Interval:
        return Interval(self.expected + other.expected, self.low + other.low, self.high + other.high)

    def to_dict(self) -> dict[str, int]:
        return {"expected": self.expected, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class TokenEstimate:
    """Input tokens of a batch file, whole and per request.

    Attributes:
        method: ``"exact"`` (every request counted exactly), ``"sampled"`` (exact counts on a sample,
            ratio estimate with a 95% interval) or ``"approximate"`` (heuristic counter).
        tokenizer: the counter's short name (``local``, ``api``, ``heuristic``).
        tokenizer_description: which tokenizer, from where.
        model: the model the media rules and tokenizer assumptions were applied for.
        requests: usable requests.
        total: input tokens (text and media) of all requests.
        by_modality: ``text``, ``image``, ``audio``, ``video``, ``document``.
        by_place: text tokens in ``system``, ``contents``, ``tools`` (None with the API counter).
        per_request: expected input tokens per row (0 for unusable rows), int64.
        per_request_by_modality: the same split by modality.
        counted_rows: rows whose text was counted exactly (sample and certainty rows).
        above_threshold: requests whose prompt exceeds the model's price tier (exact: every request that
            could is counted exactly); None for flat-rate models, where the tier does not apply.
        approx_error_pct: the heuristic's stated error (None for exact counters); already in the interval.
        notes: assumptions and rules used, to show beside the figures.
    """

    method: str
    tokenizer: str
    tokenizer_description: str
    model: str
    requests: int
    total: Interval
    by_modality: Mapping[str, Interval]
    by_place: Mapping[str, Interval] | None
    per_request: np.ndarray
    per_request_by_modality: Mapping[str, np.ndarray]
    counted_rows: np.ndarray
    above_threshold: Interval | None
    sample_size: int
    approx_error_pct: float | None = None
    unknown_media_parts: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


Progress = Callable[[int, int], None]


class _Counts:
    """Exact text-token counts per row and place, filled on demand."""

    def __init__(self, scan: ScanResult, counter: TextCounter | RequestCounter, progress: Progress | None):
        self.scan = scan
        self.counter = counter
        self.progress = progress
        self.by_place: dict[int, tuple[int, int, int]] = {}
        self.modality: dict[int, dict[str, int]] = {}  # API only: server's per-modality counts

    def ensure(self, rows: Iterable[int], total_hint: int | None = None) -> None:
        todo = sorted(set(int(r) for r in rows) - self.by_place.keys())
        if not todo:
            return
        if _parallel_ok(self.counter) and int(self.scan.rows["nbytes"][todo].sum()) >= _PARALLEL_BYTES:
            self._ensure_parallel(todo)
            return
        self.ensure_serial(todo, total_hint)

    def ensure_serial(self, todo: list[int], total_hint: int | None = None) -> None:
        total = total_hint or len(todo)
        done = 0
        batch: list[tuple[int, dict[str, Any]]] = []
        size = 0
        for row, req in self.scan.read_requests(todo):
            batch.append((row, req))
            size += int(self.scan.rows["nbytes"][row])
            if size >= _BATCH_TEXT_BYTES or len(batch) >= 5_000:
                self._count(batch)
                done += len(batch)
                batch, size = [], 0
                if self.progress:
                    self.progress(done, total)
        if batch:
            self._count(batch)
            done += len(batch)
            if self.progress:
                self.progress(done, total)

    def _ensure_parallel(self, todo: list[int]) -> None:
        """Count on every core: each process parses, walks and tokenizes its share of the rows."""
        import multiprocessing as mp

        global _FORK_STATE
        n = min(os.cpu_count() or 1, 4)
        chunks = [todo[i :: n * 16] for i in range(n * 16)]  # interleaved; small, so progress is reported often
        _FORK_STATE = (self.scan, self.counter)
        done = 0
        try:
            with mp.get_context("fork").Pool(n) as pool:
                for part in pool.imap_unordered(_count_rows_in_child, chunks):
                    self.by_place.update(part)
                    done += len(part)
                    if self.progress:
                        self.progress(done, len(todo))
        finally:
            _FORK_STATE = None

    def _count(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        if isinstance(self.counter, TextCounter):
            flat: list[str] = []
            spans: list[tuple[int, int, int, int]] = []
            for _, req in batch:
                texts = request_texts(req)
                start = len(flat)
                ends = []
                for place in PLACES:
                    flat.extend(texts[place])
                    ends.append(len(flat))
                spans.append((start, ends[0], ends[1], ends[2]))
            counts = self.counter.count_texts(flat)
            for (row, _), (a, b, c, d) in zip(batch, spans, strict=True):
                self.by_place[row] = (sum(counts[a:b]), sum(counts[b:c]), sum(counts[c:d]))
        else:
            results = self.counter.count_requests([req for _, req in batch])
            for (row, _), rc in zip(batch, results, strict=True):
                details = {k.lower(): int(v) for k, v in rc.by_modality.items()}
                text = details.get("text", rc.total - sum(v for k, v in details.items() if k != "text"))
                self.by_place[row] = (0, int(text), 0)
                self.modality[row] = details

    def text(self, rows: np.ndarray) -> np.ndarray:
        return np.array([sum(self.by_place[int(r)]) for r in rows], dtype=np.int64)

    def place(self, rows: np.ndarray, i: int) -> np.ndarray:
        return np.array([self.by_place[int(r)][i] for r in rows], dtype=np.int64)


# Counting this many bytes of request lines or more uses one process per core (fork only).
_PARALLEL_BYTES = 16 * 1024 * 1024
_FORK_STATE: tuple[Any, Any] | None = None


def _parallel_ok(counter: Any) -> bool:
    import multiprocessing as mp

    return (
        isinstance(counter, TextCounter)
        and (os.cpu_count() or 1) > 1
        and "fork" in mp.get_all_start_methods()
        and getattr(counter, "parallel_safe", False)
    )


def _count_rows_in_child(rows: list[int]) -> dict[int, tuple[int, int, int]]:
    assert _FORK_STATE is not None
    scan, counter = _FORK_STATE
    if hasattr(counter, "num_threads"):
        counter.num_threads = 1  # one process per core already
    counts = _Counts(scan, counter, None)
    counts.ensure_serial(rows)
    return counts.by_place


def _strata(scan: ScanResult, x: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Stratum id per row: script class * 4 + size class; -1 for unusable rows or rows without text."""
    rows = scan.rows
    with np.errstate(divide="ignore", invalid="ignore"):
        bpc = np.where(x > 0, rows["text_bytes"] / np.maximum(x, 1), 1.0)
    script = np.searchsorted(np.array(_SCRIPT_EDGES), bpc, side="right")
    size = np.searchsorted(np.array(_SIZE_EDGES), x, side="right")
    strata = (script * len(_SIZE_EDGES) + script + size).astype(np.int64)
    strata[~usable | (x == 0)] = -1
    return strata


@dataclass
class _Stratum:
    rows: np.ndarray  # all non-certainty rows of the stratum
    sampled: np.ndarray  # rows of it counted exactly
    x_total: int


def _ratio(st: _Stratum, x: np.ndarray, y_of: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float, float]:
    """(estimate, variance, ratio) of a stratum's total by the ratio estimator."""
    n = len(st.sampled)
    big_n = len(st.rows)
    if n == 0:
        return float("nan"), float("inf"), float("nan")
    xs = x[st.sampled].astype(np.float64)
    ys = y_of(st.sampled).astype(np.float64)
    sx = xs.sum()
    r = ys.sum() / sx if sx else 0.0
    est = r * st.x_total
    if n >= big_n:
        return est, 0.0, r
    if n < 2:
        return est, float("inf"), r
    e = ys - r * xs
    s2 = float((e**2).sum() / (n - 1))
    var = big_n**2 * (1 - n / big_n) * s2 / n
    return est, var, r


def count_tokens(
    scan: ScanResult,
    *,
    model: str,
    counter: TextCounter | RequestCounter,
    exact: bool = False,
    sample_size: int | None = None,
    seed: int | None = None,
    target_halfwidth: float = 0.004,
    max_sample_requests: int = 50_000,
    max_sample_bytes: int = 200_000_000,
    largest: int = 20,
    min_per_stratum: int = 30,
    tier_threshold: int | None = TIER_THRESHOLD,
    media_defaults: MediaDefaults | None = None,
    assumptions: Sequence[str] = (),
    approx_error_pct: float | None = None,
    progress: Progress | None = None,
) -> TokenEstimate:
    """Count or estimate the input tokens of every usable request in a scan.

    Args:
        scan: the scan of the batch file(s); its ``sample`` is used first.
        model: the model the requests will run on (media token rules depend on it).
        counter: a :class:`TextCounter` (local, heuristic) or :class:`RequestCounter` (api).
        exact: count every request exactly (no sampling, no interval).
        sample_size: the initial sample; default the scan's sample, or 2,000 when it has none.
        seed: seed for any requests drawn beyond the scan's sample (default: the scan's seed).
        target_halfwidth: keep counting more sampled requests while the 95% interval of the text
            total is wider than this fraction of it (0.004 = ±0.4%), within the budgets below.
        max_sample_requests: most requests counted for the estimate (certainty rows excluded).
        max_sample_bytes: most bytes of request lines counted for the estimate.
        largest: this many of the largest requests are always counted exactly.
        tier_threshold: the model's prompt-size price tier (tokens), or None for flat-rate models;
            every request whose text could exceed it is counted exactly, so the tier of every request
            is known. Flat-rate models skip that (long documents then cost no extra counting).
        min_per_stratum: each stratum gets at least this many sampled requests (or all of them).
        media_defaults: figures for media the file cannot tell (durations, pages).
        assumptions: notes to carry (e.g. the tokenizer family assumption), shown with the figures.
        approx_error_pct: the counter's stated systematic error in percent (heuristic), added to
            the interval.
        progress: called with ``(requests counted, requests to count)``.
    """
    rows = scan.rows
    n_rows = len(rows["offset"])
    usable = rows["usable"].astype(bool)
    n_usable = int(usable.sum())
    x = (rows["system_chars"].astype(np.int64) + rows["contents_chars"] + rows["tools_chars"]).astype(np.int64)
    x_place = [rows[p + "_chars"].astype(np.int64) for p in PLACES]
    counts = _Counts(scan, counter, progress)
    notes: list[str] = list(assumptions)
    is_api = not isinstance(counter, TextCounter)
    rng = np.random.default_rng(scan.seed if seed is None else seed)

    usable_rows = np.flatnonzero(usable & (x > 0))
    sample = scan.sample if len(scan.sample) else np.zeros(0, np.int64)
    want = sample_size if sample_size is not None else max(len(sample), DEFAULT_SAMPLE_SIZE if not len(sample) else 0)
    if len(sample) < want:
        extra = np.setdiff1d(usable_rows, sample)
        take = min(len(extra), want - len(sample))
        sample = np.union1d(sample, rng.choice(extra, size=take, replace=False)) if take else sample
    elif len(sample) > want:
        sample = np.sort(rng.choice(sample, size=want, replace=False))
    sample = sample[x[sample] > 0] if len(sample) else sample

    whole = exact or len(usable_rows) <= max(want, 0) or len(usable_rows) <= len(sample)
    if whole:
        counts.ensure(usable_rows)
        method = "exact"
        text_total = Interval.exact(int(counts.text(usable_rows).sum()))
        per_text = np.zeros(n_rows, np.int64)
        per_text[usable_rows] = counts.text(usable_rows)
        by_place = None
        if not is_api:
            by_place = {p: Interval.exact(int(counts.place(usable_rows, i).sum())) for i, p in enumerate(PLACES)}
        counted = usable_rows
        sampled_n = len(usable_rows)
    else:
        method = "sampled"
        text_total, per_text, by_place, counted, sampled_n, note = _sampled(
            scan, counts, x, x_place, usable, usable_rows, sample, rng, largest=largest, tier_threshold=tier_threshold,
            min_per_stratum=min_per_stratum, target_halfwidth=target_halfwidth,
            max_sample_requests=max_sample_requests, max_sample_bytes=max_sample_bytes, is_api=is_api,
        )  # fmt: skip
        notes.append(note)

    if approx_error_pct is not None:
        method = "approximate"
        widen = approx_error_pct / 100
        text_total = Interval(
            text_total.expected,
            max(0, math.floor(text_total.low - widen * text_total.expected)),
            math.ceil(text_total.high + widen * text_total.expected),
        )
        if by_place is not None:
            by_place = {
                k: Interval(v.expected, max(0, math.floor(v.low - widen * v.expected)),
                            math.ceil(v.high + widen * v.expected))
                for k, v in by_place.items()
            }  # fmt: skip

    md, per_mod, by_modality, total = _with_media(scan, model, per_text, text_total, media_defaults or MediaDefaults())
    if len(scan.media["row"]):
        notes.extend(md.notes)
    per_request = sum(per_mod.values(), np.zeros(n_rows, np.int64))

    # Requests above the tier: certainty rows are exact in text; media is by rule.
    above = None if tier_threshold is None else Interval.exact(int((per_request > tier_threshold).sum()))
    if is_api and method != "exact":
        notes.append("media tokens outside the counted requests are estimated by Google's documented rules")
    return TokenEstimate(
        method=method,
        tokenizer=counter.name,
        tokenizer_description=counter.description,
        model=model,
        requests=n_usable,
        total=total,
        by_modality=by_modality,
        by_place=by_place,
        per_request=per_request,
        per_request_by_modality=per_mod,
        counted_rows=counted,
        above_threshold=above,
        sample_size=sampled_n,
        approx_error_pct=approx_error_pct,
        unknown_media_parts=md.unknown_parts,
        notes=tuple(notes),
    )


def _sampled(
    scan: ScanResult, counts: _Counts, x: np.ndarray, x_place: list[np.ndarray], usable: np.ndarray,
    usable_rows: np.ndarray, sample: np.ndarray, rng: np.random.Generator, *, largest: int, tier_threshold: int | None,
    min_per_stratum: int,
    target_halfwidth: float, max_sample_requests: int, max_sample_bytes: int, is_api: bool,
) -> tuple[Interval, np.ndarray, dict[str, Interval] | None, np.ndarray, int, str]:  # fmt: skip
    """The sampled estimate of the text tokens (see the module docstring)."""
    rows = scan.rows
    n_rows = len(rows["offset"])
    # Certainty rows: could cross the price tier, or among the largest.
    if tier_threshold is None:
        tier_risk = np.zeros(0, np.int64)
    else:
        tier_risk = usable_rows[rows["text_bytes"][usable_rows] >= tier_threshold]
    top = usable_rows[np.argsort(x[usable_rows], kind="stable")[::-1][:largest]]
    certain = np.union1d(tier_risk, top)
    counts.ensure(certain)
    strata_id = _strata(scan, x, usable)
    strata_id[certain] = -1
    rest_sample = np.setdiff1d(sample, certain)
    strata: dict[int, _Stratum] = {}
    for h in np.unique(strata_id[strata_id >= 0]):
        members = np.flatnonzero(strata_id == h)
        strata[int(h)] = _Stratum(members, np.intersect1d(rest_sample, members), int(x[members].sum()))
    # Top up each stratum with uniform draws from it: at least min_per_stratum, and at least its
    # share of the characters times the initial sample size. A uniform sample gives big-request
    # strata (few requests, much of the text) too few draws for an honest variance estimate, and
    # the Neyman rounds below cannot correct a stratum whose small sample looked homogeneous.
    x_total = sum(st.x_total for st in strata.values()) or 1
    n0 = max(len(sample), min_per_stratum)
    for st in strata.values():
        share = math.ceil(n0 * st.x_total / x_total)
        need = min(len(st.rows), max(min_per_stratum, share)) - len(st.sampled)
        if need > 0:
            pool = np.setdiff1d(st.rows, st.sampled)
            st.sampled = np.union1d(st.sampled, rng.choice(pool, size=need, replace=False))
    all_sampled = np.concatenate([st.sampled for st in strata.values()]) if strata else np.zeros(0, np.int64)
    counts.ensure(all_sampled, total_hint=len(all_sampled))

    def totals() -> tuple[float, float, dict[int, tuple[float, float, float]]]:
        parts = {h: _ratio(st, x, counts.text) for h, st in strata.items()}
        return sum(p[0] for p in parts.values()), sum(p[1] for p in parts.values()), parts

    est, var, parts = totals()
    certain_total = int(counts.text(certain).sum())
    budget_n = max_sample_requests - len(all_sampled)
    budget_b = max_sample_bytes - int(rows["nbytes"][all_sampled].sum())
    for _round in range(8):
        grand = est + certain_total
        half = Z95 * math.sqrt(var) if math.isfinite(var) else float("inf")
        if grand <= 0 or half <= target_halfwidth * grand or budget_n <= 0 or budget_b <= 0:
            break
        # Neyman allocation: extra sample where N_h * S_h is largest.
        # Sample size the target needs by the current variance; at most doubling per round, since early
        # variance estimates from small strata are noisy.
        wanted = len(all_sampled) * ((half / (target_halfwidth * grand)) ** 2 - 1)
        needed = int(min(budget_n, max(200, min(wanted, len(all_sampled)))))
        weights = {}
        for h, st in strata.items():
            n = len(st.sampled)
            if n >= len(st.rows):
                continue
            _, v, _ = parts[h]
            s_h = math.sqrt(v * n / (len(st.rows) ** 2 * max(1e-9, 1 - n / len(st.rows)))) if v else 0.0
            weights[h] = len(st.rows) * s_h
        total_w = sum(weights.values())
        if total_w <= 0:
            break
        added = []
        for h, w in weights.items():
            st = strata[h]
            k = min(len(st.rows) - len(st.sampled), math.ceil(needed * w / total_w))
            if k <= 0:
                continue
            pool = np.setdiff1d(st.rows, st.sampled)
            pick = rng.choice(pool, size=k, replace=False)
            st.sampled = np.union1d(st.sampled, pick)
            added.append(pick)
        if not added:
            break
        new = np.concatenate(added)
        budget_n -= len(new)
        budget_b -= int(rows["nbytes"][new].sum())
        counts.ensure(new)
        all_sampled = np.concatenate([all_sampled, new])
        est, var, parts = totals()

    # Per-request: exact where counted, stratum ratio times characters elsewhere.
    per_text = np.zeros(n_rows, np.int64)
    for h, st in strata.items():
        r = parts[h][2]
        per_text[st.rows] = np.rint(x[st.rows] * r).astype(np.int64)
        per_text[st.sampled] = counts.text(st.sampled)
    per_text[certain] = counts.text(certain)
    # The expected total is the sum of the per-request figures (it differs from the ratio
    # estimate only by their rounding), so every view of the file adds up.
    grand = float(per_text.sum())
    half = Z95 * math.sqrt(var) if math.isfinite(var) else grand
    text_total = Interval(int(grand), max(certain_total, math.floor(grand - half)), math.ceil(grand + half))
    counted = np.union1d(certain, all_sampled)
    sampled_n = len(all_sampled)
    by_place = None
    if not is_api:
        by_place = {}
        for i, p in enumerate(PLACES):
            pe, pv = float(counts.place(certain, i).sum()), 0.0
            for st in strata.values():
                e, v, _ = _ratio(
                    _Stratum(st.rows, st.sampled, int(x_place[i][st.rows].sum())), x_place[i],
                    lambda r, i=i: counts.place(r, i),
                )  # fmt: skip
                pe += e
                pv += v
            ph = Z95 * math.sqrt(pv)
            by_place[p] = Interval(round(pe), max(0, math.floor(pe - ph)), math.ceil(pe + ph))
    note = (
        f"{sampled_n:,} sampled requests and {len(certain):,} certainty requests (the largest"
        + ("" if tier_threshold is None else f", and every request with at least {tier_threshold:,} bytes of text")
        + ") counted exactly; the rest estimated by "
        f"tokens per character in {len(strata)} strata (script x size), 95% interval from the ratio "
        "estimator's variance"
    )
    return text_total, per_text, by_place, counted, sampled_n, note


def _with_media(
    scan: ScanResult, model: str, per_text: np.ndarray, text_total: Interval, defaults: MediaDefaults
) -> tuple[MediaTokens, dict[str, np.ndarray], dict[str, Interval], Interval]:
    """Text figures plus media tokens by Google's rules for ``model``: per request and in total."""
    rows = scan.rows
    n_rows = len(rows["offset"])
    usable = rows["usable"].astype(bool)
    md = media_tokens(scan.media, n_rows, model=model, request_resolution=rows["media_resolution"], defaults=defaults)
    per_mod: dict[str, np.ndarray] = {"text": per_text}
    by_modality: dict[str, Interval] = {"text": text_total}
    total = text_total
    for mod in MODALITIES:
        if mod == "text":
            continue
        arr = np.asarray(md.per_request.get(mod, np.zeros(n_rows, np.int64)), dtype=np.int64).copy()
        arr[~usable] = 0
        per_mod[mod] = arr
        by_modality[mod] = Interval.exact(int(arr.sum()))
        total = total + by_modality[mod]
    return md, per_mod, by_modality, total


def retarget(estimate: TokenEstimate, scan: ScanResult, model: str, defaults: MediaDefaults) -> TokenEstimate:
    """The same text counts with another model's media token rules (for ``--compare``).

    Text counts are reused: batchcost counts every model's text with the Gemma 3 tokenizer (see the
    estimate's notes); media tokens depend on the model family and are recomputed.
    """
    import dataclasses

    n_rows = len(scan.rows["offset"])
    text = estimate.per_request_by_modality["text"]
    md, per_mod, by_modality, total = _with_media(scan, model, text, estimate.by_modality["text"], defaults)
    per_request = sum(per_mod.values(), np.zeros(n_rows, np.int64))
    return dataclasses.replace(
        estimate, model=model, total=total, by_modality=by_modality, per_request=per_request,
        per_request_by_modality=per_mod,
        above_threshold=None
        if estimate.above_threshold is None
        else Interval.exact(int((per_request > TIER_THRESHOLD).sum())),
        unknown_media_parts=md.unknown_parts, notes=tuple(dict.fromkeys((*estimate.notes, *md.notes))),
    )  # fmt: skip
