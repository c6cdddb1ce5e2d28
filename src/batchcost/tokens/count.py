"""From a sample to the whole file: exact counts where they matter, a model-assisted estimate elsewhere.

A file with no more usable requests than the sample size, or ``exact=True``, is counted whole, with no
interval. Otherwise :mod:`.sampled` estimates the text tokens from a stratified sample (exact counts on
the sample and on every request that could reach the price tier; a ratio estimator on tokens predicted
from byte classes or on characters elsewhere; a 95% interval from its variance). Media parts are priced
in tokens by Google's documented rules (:mod:`.media_tokens`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..batchfile.lines import check_unchanged
from ..batchfile.request import PLACES, request_texts
from ..batchfile.text_classes import add_text_classes
from ..errors import EngineError
from ..heap import is_zeros_view, reuse_large_blocks, trim_heap, zeros_view
from ..workers import WorkerLost, check_workers, live_children, started_workers
from .base import RequestCounter, TextCounter
from .interval import Interval
from .media_tokens import MODALITIES, MediaDefaults, MediaTokens, media_tokens
from .sampled import sampled_text
from .totals import total_input

__all__ = [
    "DEFAULT_SAMPLE_BYTES", "TIER_THRESHOLD", "Interval", "RowCounter", "TokenEstimate", "count_rows", "count_tokens",
    "retarget",
]  # fmt: skip

if TYPE_CHECKING:
    from ..batchfile import ScanResult

TIER_THRESHOLD = 200_000
DEFAULT_SAMPLE_SIZE = 2_000
# By default at most this many bytes of text are tokenized for a sampled estimate (requests that could
# reach the price tier aside: they are always counted whole).
DEFAULT_SAMPLE_BYTES = 20_000_000
_BATCH_TEXT_BYTES = 1024 * 1024


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
        tokenizer_assumed: the counts are Gemma 3's, standing in for a model whose tokenizer is not known.
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
    tokenizer_assumed: bool = False


Progress = Callable[[int, int], None]
# Counts the text tokens of rows of a scan elsewhere (a cluster's workers): called with the scan, the
# counter, the rows (sorted, distinct) and a progress callback; returns their counts by place, shape
# (len(rows), 3).
RowCounter = Callable[["ScanResult", TextCounter, list[int], "Progress | None"], np.ndarray]


class _Counts:
    """Exact text-token counts per row and place, filled on demand."""

    def __init__(self, scan: ScanResult, counter: TextCounter | RequestCounter, progress: Progress | None,
                 row_counter: RowCounter | None = None) -> None:  # fmt: skip
        self.scan = scan
        self.counter = counter
        self.progress = progress
        self.row_counter = row_counter if isinstance(counter, TextCounter) else None
        self.by_place: dict[int, tuple[int, int, int]] = {}
        self.modality: dict[int, dict[str, int]] = {}  # API only: server's per-modality counts
        # Counts of a whole-file job, one row per line (a dict of millions of tuples would hold
        # ~150 bytes a row and take seconds to turn into arrays); rows in it are not in by_place.
        self.dense: np.ndarray | None = None
        self.dense_done: np.ndarray | None = None

    def ensure(self, rows: Iterable[int], total_hint: int | None = None, *, parallel: bool = False) -> None:
        """Count ``rows`` not counted yet; ``parallel`` lets a large job use one process per core.

        A sample is counted in this process (the counter's own threads share the work): forked workers
        would each show the parent's memory as theirs, for a job of seconds.
        """
        todo = sorted(set(int(r) for r in rows) - self.by_place.keys())
        if self.dense_done is not None:
            todo = [r for r in todo if not self.dense_done[r]]
        if not todo:
            return
        if self.row_counter is not None:
            assert isinstance(self.counter, TextCounter)
            self._store_dense(todo, self.row_counter(self.scan, self.counter, todo, self.progress))
            return
        if parallel and _parallel_ok(self.counter) and int(self.scan.rows["nbytes"][todo].sum()) >= _PARALLEL_BYTES:
            self._ensure_parallel(todo)
            return
        self.ensure_serial(todo, total_hint)
        trim_heap()

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
        n_rows = len(self.scan.rows["offset"])
        if self.dense is None or self.dense_done is None:
            self.dense = np.zeros((n_rows, len(PLACES)), np.int64)
            self.dense_done = np.zeros(n_rows, bool)
        done = 0
        # the workers reuse their large blocks (see batchcost.heap.reuse_large_blocks): with the
        # command line's threshold, each tokenized batch's buffers were faulted in afresh
        ctx = mp.get_context("fork")
        others = live_children(ctx)
        pool = ctx.Pool(n, initializer=reuse_large_blocks)
        workers = started_workers(ctx, others)  # watched: a Pool waits for a dead worker's task for ever
        try:
            results = pool.imap_unordered(_count_rows_in_child, chunks)
            while True:
                try:
                    rows, part = results.next(timeout=0.2)
                except StopIteration:
                    break
                except mp.TimeoutError:
                    try:
                        check_workers(ctx, workers)
                    except WorkerLost:
                        # the rows are read from the files again: a file that shrank kills its reader
                        for f in self.scan.files:
                            check_unchanged(f.path, f.source or f.path, f.stamp)
                        raise EngineError(
                            "a process counting tokens was killed before it finished (out of memory?); run again, "
                            "or without --exact"
                        ) from None
                    continue
                self.dense[rows] = part
                self.dense_done[rows] = True
                done += len(rows)
                if self.progress:
                    self.progress(done, len(todo))
            # Workers that are done leave on their own. `with Pool` would terminate them, and about one
            # run in five then hung for good: a worker idle in the task queue's lock outlived the SIGTERM
            # and the pool waited for it (seen on --exact of 500 MB of short prompts).
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
            _FORK_STATE = None

    def _store_dense(self, rows: list[int], counts: np.ndarray) -> None:
        """Keep counts made elsewhere in the dense table (one row per line of the scan)."""
        n_rows = len(self.scan.rows["offset"])
        if self.dense is None or self.dense_done is None:
            self.dense = np.zeros((n_rows, len(PLACES)), np.int64)
            self.dense_done = np.zeros(n_rows, bool)
        self.dense[rows] = counts
        self.dense_done[rows] = True

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
        return self._per_place(rows).sum(axis=1)

    def place(self, rows: np.ndarray, i: int) -> np.ndarray:
        return self._per_place(rows)[:, i].copy()

    def _per_place(self, rows: np.ndarray) -> np.ndarray:
        """Counts of ``rows`` by place, shape (len(rows), 3): from the dense table or the dict."""
        rows = np.asarray(rows, np.int64)
        out = np.zeros((len(rows), len(PLACES)), np.int64)
        in_dense = np.zeros(len(rows), bool)
        if self.dense is not None and self.dense_done is not None and len(rows):
            in_dense = self.dense_done[rows]
            out[in_dense] = self.dense[rows[in_dense]]
        for j in np.flatnonzero(~in_dense).tolist():
            out[j] = self.by_place[int(rows[j])]
        return out


# Counting this many bytes of request lines or more uses one process per core (fork only).
_PARALLEL_BYTES = 16 * 1024 * 1024
_FORK_STATE: tuple[Any, Any] | None = None


def release_counter(counter: object) -> None:
    """Let ``counter`` free its tokenizer and tables (about 45 MB for Gemma 3), and give the pages back.

    Counts stay the same: a counter that counts again loads them again (see
    :meth:`~batchcost.tokens.gemma3.LocalCounter.release_memory`). A counter without
    ``release_memory`` (the API, the heuristic) holds nothing worth freeing.
    """
    release_memory = getattr(counter, "release_memory", None)
    if callable(release_memory):
        release_memory()
        trim_heap()  # what they held stays in the heap's holes until it is given back


def _parallel_ok(counter: Any) -> bool:
    import multiprocessing as mp

    return (
        isinstance(counter, TextCounter)
        and (os.cpu_count() or 1) > 1
        and "fork" in mp.get_all_start_methods()
        and getattr(counter, "parallel_safe", False)
    )


def _count_rows_in_child(rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Count ``rows`` in a forked worker; returns them and their counts by place as arrays (cheap to send back)."""
    assert _FORK_STATE is not None
    scan, counter = _FORK_STATE
    if hasattr(counter, "num_threads"):
        counter.num_threads = 1  # one process per core already
    counts = _Counts(scan, counter, None)
    counts.ensure_serial(rows)
    done = np.fromiter(counts.by_place.keys(), np.int64, len(counts.by_place))
    return done, np.array(list(counts.by_place.values()), np.int64).reshape(len(done), len(PLACES))


def count_rows(scan: ScanResult, counter: TextCounter, rows: list[int]) -> np.ndarray:
    """Text tokens of ``rows`` of ``scan`` by place (system, contents, tools), shape (len(rows), 3).

    The same reading, text extraction and counting as :func:`count_tokens`, for a part of the rows
    (a cluster worker counts its share with it).
    """
    counts = _Counts(scan, counter, None)
    counts.ensure_serial(rows)
    return np.array([counts.by_place[r] for r in rows], np.int64).reshape(len(rows), len(PLACES))


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
    max_sample_bytes: int = DEFAULT_SAMPLE_BYTES,
    largest: int = 0,
    min_per_stratum: int = 30,
    tier_threshold: int | None = TIER_THRESHOLD,
    media_defaults: MediaDefaults | None = None,
    assumptions: Sequence[str] = (),
    approx_error_pct: float | None = None,
    progress: Progress | None = None,
    row_counter: RowCounter | None = None,
    release: bool = False,
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
        max_sample_bytes: most bytes of text tokenized for the estimate (certainty rows excluded; each
            request also counts a few hundred bytes for reading it).
        largest: this many of the largest requests are always counted exactly (none by default: the
            byte-class model predicts long requests well, and counting them whole is what costs).
        tier_threshold: the model's prompt-size price tier (tokens), or None for flat-rate models;
            every request whose text could exceed it is counted exactly, so the tier of every request
            is known. Flat-rate models skip that (long documents then cost no extra counting).
        min_per_stratum: each stratum gets at least this many sampled requests (or all of them).
        media_defaults: figures for media the file cannot tell (durations, pages).
        assumptions: notes to carry (e.g. the tokenizer family assumption), shown with the figures.
        approx_error_pct: the counter's stated systematic error in percent (heuristic), added to
            the interval.
        progress: called with ``(requests counted, requests to count)``.
        row_counter: counts the rows' text elsewhere (a Dask cluster, see :mod:`batchcost.engine`)
            instead of in this process; used with a :class:`TextCounter`, the same counts either way.
        release: free the counter's tokenizer as soon as the last request is counted, before the
            per-request figures are made (:func:`release_counter`); for a caller that counts no more
            for a while, it lowers the peak memory by the tokenizer's size.
    """
    rows = scan.rows
    n_rows = len(rows["offset"])
    usable = rows["usable"].view(bool)  # 0 or 1: a view, not a copy of millions of rows
    n_usable = int(usable.sum())
    # characters of text per request: int32 holds them (a line is at most 128 MB) in half the memory
    x = rows["system_chars"].astype(np.int32)
    x += rows["contents_chars"]
    x += rows["tools_chars"]
    x_place = [rows[p + "_chars"] for p in PLACES]
    counts = _Counts(scan, counter, progress, row_counter)
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
        counts.ensure(usable_rows, parallel=True)
        if release:
            release_counter(counter)
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
        add_text_classes(scan)  # a scan made without them: read the long requests once more
        del usable_rows  # 8 bytes a request, not wanted while the sample is counted
        est = sampled_text(
            scan, counts, x=x, x_place=x_place, usable=usable, sample=sample, rng=rng,
            largest=largest, tier_threshold=tier_threshold, min_per_stratum=min_per_stratum,
            target_halfwidth=target_halfwidth, max_sample_requests=max_sample_requests,
            max_sample_bytes=max_sample_bytes, is_api=is_api, counted=(lambda: release_counter(counter)) if release else None,
        )  # fmt: skip
        text_total, per_text, by_place, counted, sampled_n = (
            est.total,
            est.per_text,
            est.by_place,
            est.counted,
            est.sampled_n,
        )
        notes.append(est.note)

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
    per_request = total_input(per_mod, n_rows, media=bool(len(scan.media["row"])))

    # Requests above the tier: certainty rows are exact in text; media is by rule.
    above = None if tier_threshold is None else Interval.exact(int((per_request > tier_threshold).sum()))
    if is_api and method != "exact":
        notes.append("media tokens outside the counted requests are estimated by Google's documented rules")
    trim_heap()  # the per-row working arrays of millions of rows are gone: give their pages back
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


def _with_media(
    scan: ScanResult, model: str, per_text: np.ndarray, text_total: Interval, defaults: MediaDefaults
) -> tuple[MediaTokens, dict[str, np.ndarray], dict[str, Interval], Interval]:
    """Text figures plus media tokens by Google's rules for ``model``: per request and in total."""
    rows = scan.rows
    n_rows = len(rows["offset"])
    usable = rows["usable"].view(bool)
    md = media_tokens(scan.media, n_rows, model=model, request_resolution=rows["media_resolution"], defaults=defaults)
    per_mod: dict[str, np.ndarray] = {"text": per_text}
    by_modality: dict[str, Interval] = {"text": text_total}
    total = text_total
    has_media = len(scan.media["row"]) > 0
    for mod in MODALITIES:
        if mod == "text":
            continue
        arr = md.per_request.get(mod)
        arr = zeros_view(n_rows) if arr is None else np.asarray(arr, dtype=np.int64)
        if has_media and not is_zeros_view(arr):  # a modality without parts stays a view of one zero
            arr = arr.copy()
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

    text = estimate.per_request_by_modality["text"]
    md, per_mod, by_modality, total = _with_media(scan, model, text, estimate.by_modality["text"], defaults)
    per_request = total_input(per_mod, len(text), media=bool(len(scan.media["row"])))
    return dataclasses.replace(
        estimate, model=model, total=total, by_modality=by_modality, per_request=per_request,
        per_request_by_modality=per_mod,
        above_threshold=None
        if estimate.above_threshold is None
        else Interval.exact(int((per_request > TIER_THRESHOLD).sum())),
        unknown_media_parts=md.unknown_parts, notes=tuple(dict.fromkeys((*estimate.notes, *md.notes))),
    )  # fmt: skip
