"""A paid pilot: send N sampled requests synchronously, measure their output, learn like calibration.

Steps: :func:`sample_pilot` draws N distinct requests stratified by size (input-token quartiles,
within each thinking setting, so every setting is represented when N allows) and prices an upper
bound of what they can cost at the synchronous (standard) rates; :func:`run_pilot` refuses without
an API key, asks the caller's ``confirm`` callback with that bound, sends the requests through the
real ``google-genai`` client, and fits an :class:`~batchcost.afterjob.calibrate.OutputModel` on the
measured ``usageMetadata``.

Why ``client._api_client.request`` and not ``client.models.generate_content``: the pilot must send
exactly the body the batch job will send, so that its output is representative. ``generate_content``
takes SDK types, not the REST JSON of a batch line: converting means validating the body against the
installed SDK's pydantic models (which forbid fields newer than the SDK), re-encoding inline media and
re-mapping ``generationConfig`` fields into ``GenerateContentConfig`` (where snake/camel spellings and
nesting differ). ``BaseApiClient.request`` is the call ``generate_content`` itself ends in (SDK 3.6.1),
so auth, base URL, API version and headers are still the SDK's. The call, its retries (408, 429,
5xx and connection failures, with exponential backoff, jitter and the server's ``Retry-After`` or
``RetryInfo`` hint), the rate limit and the total time limit are the one policy of
:mod:`batchcost.gemini`, shared with ``--tokenizer api``. A retry re-sends the same request; no more
than N distinct requests are ever sent.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from ..batchfile.request import UNSET
from ..errors import ApiError, BatchcostError, CredentialsError, PricingError
from ..gemini import (
    DEVELOPER,
    KEY_HELP,
    Caller,
    CallFailed,
    RetryPolicy,
    Stopped,
    build_client,
    call_options,
    env_value,
)
from ..text import agree, plural
from .calibrate import MIN_RESULTS, Observations, OutputModel, fit_output_model, settings_keys

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from ..pricing import PriceBook
    from ..tokens import TokenEstimate

SIZE_CLASSES = 4  # input-size quartiles per thinking setting
# Upper bound on input tokens from the scan: a token covers at least one UTF-8 byte of text; the
# server adds a few tokens per turn (roles, template) that local counts do not see.
TURN_OVERHEAD_TOKENS = 16
MEDIA_MARGIN = 1.1  # media tokens follow Google's rules; 10% covers rounding and resolution details


@dataclass(frozen=True, eq=False)
class PilotSample:
    """The requests a pilot would send and the most they can cost.

    Attributes:
        rows: scan rows to send (distinct request bodies), sorted.
        bodies: the request bodies, in ``rows`` order.
        max_cost: upper bound in USD at ``mode`` rates (input bound + output ceiling).
        max_input_tokens: the input-token bound used.
        max_output_tokens: the output ceiling used (thinking included).
        mode: the mode the bound is priced in (``standard``: the pilot is synchronous).
        notes: caveats about the bound or the sample.
        unbounded: sampled requests whose output ceiling is unknown (no maxOutputTokens and an
            unknown model limit); while there are any, ``max_cost`` is not a bound and
            :func:`run_pilot` refuses to send.
    """

    rows: np.ndarray
    bodies: list[dict[str, Any]]
    max_cost: Decimal
    max_input_tokens: int
    max_output_tokens: int
    mode: str
    notes: tuple[str, ...] = ()
    unbounded: int = 0


def _strata(scan: ScanResult, rows: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Stratum label per row: thinking setting x input-size quartile (within that setting)."""
    r = scan.rows
    keys = settings_keys(r["thinking_budget"][rows], r["thinking_level"][rows], r["candidate_count"][rows])
    labels = np.empty(len(rows), dtype=object)
    for key in sorted({str(k) for k in keys}):
        sel = keys == key
        s = sizes[sel].astype(np.float64)
        edges = np.unique(np.quantile(s, np.linspace(0, 1, SIZE_CLASSES + 1)[1:-1])) if len(s) > 1 else np.zeros(0)
        cls = np.searchsorted(edges, s, side="right")
        labels[sel] = np.array([f"{key}|{int(c)}" for c in cls], dtype=object)
    return labels


def _allocate(counts: Mapping[str, int], n: int) -> dict[str, int]:
    """Proportional allocation by largest remainder, then at least one per thinking setting when n allows."""
    total = sum(counts.values())
    exact = {s: n * c / total for s, c in counts.items()}
    alloc = {s: min(counts[s], math.floor(v)) for s, v in exact.items()}
    for s in sorted(exact, key=lambda s: (-(exact[s] - math.floor(exact[s])), s)):
        if sum(alloc.values()) >= n:
            break
        if alloc[s] < counts[s]:
            alloc[s] += 1
    while sum(alloc.values()) < n:  # capacity limits left some over
        s = max((s for s in counts if alloc[s] < counts[s]), key=lambda s: counts[s] - alloc[s])
        alloc[s] += 1
    settings: dict[str, list[str]] = {}
    for s in counts:
        settings.setdefault(s.rsplit("|", 1)[0], []).append(s)
    missing = [k for k, ss in settings.items() if not any(alloc[s] for s in ss)]
    if len(settings) <= n:
        for key in missing:
            donor = max(alloc, key=lambda s: alloc[s])
            if alloc[donor] <= 1:
                break
            alloc[donor] -= 1
            alloc[max(settings[key], key=lambda s: counts[s])] += 1
    return alloc


def sample_pilot(
    scan: ScanResult,
    *,
    model: str,
    n: int,
    tokens: TokenEstimate,
    book: PriceBook,
    run_date: datetime.date,
    ceiling: np.ndarray | None = None,
    seed: int = 0,
) -> PilotSample:
    """Draw ``n`` distinct requests stratified by size and bound what sending them can cost.

    Args:
        scan: the batch file's scan.
        model: the model the pilot (and the job) runs on.
        n: requests to send (fewer when the file has fewer distinct usable requests).
        tokens: the file's token estimate (per-request input tokens: the size used for strata, and
            the media part of the input bound).
        book: price book.
        run_date: date of the prices.
        ceiling: per-row output ceiling (thinking included), as ``estimate`` computes it; computed
            from the model's limits when None.
        seed: sampling seed.

    Raises:
        BatchcostError: the file has no usable request.
        PricingError / UnpricedError: the model's standard rates are unknown.
    """
    import msgspec

    from ..pricing import price_tokens

    if n < 1:
        raise ValueError("n must be at least 1")
    usable = np.flatnonzero(scan.rows["usable"].astype(bool))
    if not len(usable):
        raise BatchcostError("no usable requests to pilot; run `batchcost validate` to see the problems")
    notes: list[str] = []
    if ceiling is None:
        from ..pricing.ceiling import output_ceiling

        per_row, unknown_rows = output_ceiling(scan, book.model_info(model, run_date), notes)
        ceiling = np.where(unknown_rows, -1, per_row)
    sizes = tokens.per_request[usable]
    labels = _strata(scan, usable, sizes)
    counts = {str(s): int((labels == s).sum()) for s in sorted({str(x) for x in labels})}
    alloc = _allocate(counts, min(n, len(usable)))
    rng = np.random.default_rng(seed)
    queues = {s: list(rng.permutation(usable[labels == s])) for s in counts}
    chosen: list[int] = []
    bodies: dict[int, dict[str, Any]] = {}
    seen: set[bytes] = set()
    duplicates = 0

    def take(queue: list[int], want: int) -> int:
        """Move up to ``want`` requests with new bodies from ``queue`` into the sample."""
        nonlocal duplicates
        got = 0
        while got < want and queue:
            batch = [int(queue.pop(0)) for _ in range(min(want - got, len(queue)))]
            for row, request in scan.read_requests(batch):
                digest = hashlib.sha256(msgspec.json.encode(request, order="sorted")).digest()
                if digest in seen:
                    duplicates += 1
                    continue
                seen.add(digest)
                bodies[row] = {k: v for k, v in request.items() if k != "model"}
                chosen.append(row)
                got += 1
        return got

    for stratum, want in alloc.items():
        take(queues[stratum], want)
    # strata short of distinct bodies: top up from the others, largest remaining first
    for stratum in sorted(queues, key=lambda s: -len(queues[s])):
        if len(chosen) >= min(n, len(usable)):
            break
        take(queues[stratum], min(n, len(usable)) - len(chosen))
    if duplicates:
        notes.append(
            f"{plural(duplicates, 'sampled request')} repeated another's body and {agree(duplicates, 'was', 'were')} "
            "replaced (or dropped)"
        )
    if len(chosen) < n:
        notes.append(
            f"the file has {plural(len(chosen), 'distinct usable request')} to pilot, fewer than the {n:,} asked"
        )
    rows = np.array(sorted(chosen), dtype=np.int64)
    r = scan.rows
    text_bound = r["text_bytes"][rows].astype(np.int64) + TURN_OVERHEAD_TOKENS
    by_mod: dict[str, np.ndarray] = {"text": text_bound}
    for modality, arr in tokens.per_request_by_modality.items():
        if modality != "text":
            by_mod[modality] = np.ceil(arr[rows] * MEDIA_MARGIN).astype(np.int64)
    prompt = sum(by_mod.values(), np.zeros(len(rows), np.int64))
    out = np.asarray(ceiling, dtype=np.int64)[rows]
    unknown = out < 0  # -1 marks a ceiling nobody can bound (as in the plan's per-request ceilings)
    if bool(unknown.any()):
        out = np.maximum(out, 0)
        n_unknown = int(unknown.sum())
        notes.append(
            f"{plural(n_unknown, 'pilot request')} {agree(n_unknown, 'has', 'have')} no known output ceiling (no "
            f"maxOutputTokens and an unknown model limit): {agree(n_unknown, 'its', 'their')} output is not in the "
            "maximum"
        )
    rates = book.rates(model, "standard", run_date)
    cost = price_tokens(rates, prompt_tokens=prompt, input_by_modality=by_mod, output_tokens=out)
    return PilotSample(
        rows=rows,
        bodies=[bodies[int(i)] for i in rows],
        max_cost=cost.total,
        max_input_tokens=int(prompt.sum()),
        max_output_tokens=int(out.sum()),
        mode="standard",
        notes=tuple(notes),
        unbounded=int(unknown.sum()),
    )


# -- sending ---------------------------------------------------------------------------------------


def _send(caller: Caller, model: str, body: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None, int]:
    """(response JSON, None, attempts) or (None, failure summary, attempts) for one pilot request.

    Raises:
        ApiError: a refusal that concerns every request (key, permission, model); the others stop.
        Stopped: the time limit passed, or another request failed that way.
    """
    try:
        payload, attempts = caller.post(f"models/{model}:generateContent", body)
    except CallFailed as failed:
        failure = failed.failure
        if failure.fatal:
            caller.stop()  # every other request would be refused the same way
            if failure.code == 404:
                hint = f"model {model!r} was not found: check --model"
            else:
                hint = f"check the API key ({KEY_HELP}) and that it may use the Gemini API"
            raise ApiError(f"the pilot's generateContent call was refused ({failure.summary}); {hint}") from None
        if not failure.retryable:
            return None, failure.summary, failed.attempts
        return None, f"{failure.summary} (after {plural(failed.attempts, 'attempt')})", failed.attempts
    if not isinstance(payload, dict):
        return None, "the answer was not a JSON object", attempts
    return payload, None, attempts


def run_pilot(
    scan: ScanResult,
    *,
    model: str,
    n: int,
    tokens: TokenEstimate,
    confirm: Callable[[Decimal], bool],
    book: PriceBook,
    run_date: datetime.date,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
    base_url: str | None = None,
    ceiling: np.ndarray | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    client: Any = None,
    concurrency: int = 4,
    max_rps: float = 5.0,
    max_retries: int = 6,
    time_limit_s: float = 600.0,
    timeout_s: float = 120.0,
    initial_backoff_s: float = 1.0,
    max_backoff_s: float = 30.0,
    sleep: Callable[[float], object] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> OutputModel:
    """Send ``n`` sampled requests synchronously and learn the expected output from their usage.

    Args:
        scan: the batch file's scan.
        model: the model the job runs on (sent as ``models/<model>:generateContent``).
        n: distinct requests to send; never more (a retry re-sends the same request).
        tokens: the file's token estimate (strata and the cost bound).
        confirm: called with the most the pilot can cost (USD, standard rates) before anything is
            sent; return False to cancel. The CLI asks the user here (or passes ``--yes``).
        book: price book.
        run_date: date of the prices.
        api_key: Gemini API key; default ``GEMINI_API_KEY`` then ``GOOGLE_API_KEY`` from ``env``.
        env: environment mapping (the CLI passes ``os.environ``); ``GOOGLE_GEMINI_BASE_URL`` there
            sets ``base_url``, as in the SDK.
        base_url: endpoint override (a proxy or a local stand-in).
        ceiling: per-row output ceiling as ``estimate`` computes it (default: from the model's limits).
        seed: sampling seed.
        progress: called as ``progress(done, total)`` after each request finishes.
        client: a ready ``google.genai.Client`` (Developer API) to use instead of building one.
        concurrency: requests in flight at once.
        max_rps: most calls per second, retries included.
        max_retries: retries of one request after its first attempt (408, 429, 5xx, network).
        time_limit_s: total time for the pilot; when it passes nothing more is sent and the results
            so far are used (at least two are needed).
        timeout_s: timeout of one HTTP call.
        initial_backoff_s: first retry delay before jitter; doubles per retry.
        max_backoff_s: longest wait between retries, server hints included.
        sleep: how to wait (for tests); default an interruptible wait.
        clock: monotonic clock (for tests).

    Returns:
        An :class:`OutputModel` (``kind="pilot"``); ``extra["pilot"]`` holds what was sent, what
        failed and what the pilot cost at standard rates.

    Raises:
        ApiError: no API key (nothing is sent), the key or model was refused, or fewer than two
            requests succeeded.
        BatchcostError: ``confirm`` returned False (nothing was sent).
        PricingError: some sampled request has no known output ceiling, so the pilot's cost has no
            bound to confirm (nothing was sent).
    """
    from ..batchfile.results import OK, results_from_objects
    from .actual import price_results

    environ = env or {}
    key = (api_key or "").strip() or env_value(environ, "GEMINI_API_KEY") or env_value(environ, "GOOGLE_API_KEY")
    if client is None and not key:
        raise CredentialsError(
            f"--pilot sends {plural(n, 'request')} to the Gemini API and needs an API key: {KEY_HELP}; nothing was sent"
        )
    if concurrency < 1 or not max_rps > 0 or not time_limit_s > 0 or max_retries < 0:
        raise ValueError("concurrency, max_rps and time_limit_s must be positive and max_retries not negative")
    sample = sample_pilot(
        scan, model=model, n=n, tokens=tokens, book=book, run_date=run_date, ceiling=ceiling, seed=seed
    )
    if sample.unbounded:
        # The confirmation names the most the pilot can cost; with no bound there is nothing honest to ask.
        raise PricingError(
            f"--pilot cannot bound what it would spend: {sample.unbounded:,} of the "
            f"{plural(len(sample.rows), 'sampled request')} {'has' if sample.unbounded == 1 else 'have'} no known "
            f"output ceiling (the output limit of {model} is unknown and nothing in the request bounds it); set "
            f"maxOutputTokens and thinkingBudget in the requests or give output_limit for {model} in --prices; "
            "nothing was sent"
        )
    if client is None:
        try:
            client = build_client(
                DEVELOPER, api_key=key, base_url=base_url or env_value(environ, "GOOGLE_GEMINI_BASE_URL"),
                timeout_s=timeout_s,
            )  # fmt: skip
        except ValueError as exc:
            raise ApiError(f"cannot set up the Gemini client for the pilot: {exc}") from None
    if not confirm(sample.max_cost):
        raise BatchcostError("pilot cancelled at the confirmation; nothing was sent")

    model_id = model.strip().removeprefix("models/")
    caller = Caller(
        client, call_options(DEVELOPER, timeout_s), RetryPolicy(max_retries, initial_backoff_s, max_backoff_s),
        max_rps=max_rps, secret=key, deadline=clock() + time_limit_s, clock=clock, sleep=sleep,
    )  # fmt: skip
    total = len(sample.rows)
    outcomes: dict[int, tuple[dict[str, Any] | None, str | None, int]] = {}
    done = 0
    with ThreadPoolExecutor(max_workers=min(concurrency, total), thread_name_prefix="pilot") as pool:
        pending: dict[Future[Any], int] = {
            pool.submit(_send, caller, model_id, body): int(row)
            for row, body in zip(sample.rows, sample.bodies, strict=True)
        }
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for future in finished:
                    row = pending.pop(future)
                    try:
                        outcomes[row] = future.result()
                    except Stopped:
                        continue
                    done += 1
                    if progress is not None:
                        progress(done, total)
        except BaseException:
            caller.stop()
            for future in pending:
                future.cancel()
            raise

    rows = [r for r in map(int, sample.rows) if r in outcomes]
    objects: list[dict[str, Any]] = []
    failures: dict[str, int] = {}
    for row in rows:
        payload, failure, _ = outcomes[row]
        if payload is not None:
            objects.append({"key": str(row), "response": payload})
        else:
            failures[failure or "error"] = failures.get(failure or "error", 0) + 1
            objects.append({"key": str(row), "error": {"message": failure}})
    rs = results_from_objects(objects, name="pilot responses")
    ok = rs.rows["status"] == OK
    attempts = sum(outcomes[r][2] for r in rows)
    if int(ok.sum()) < MIN_RESULTS:
        why = "the time limit passed" if caller.timed_out else "the requests failed"
        detail = "; ".join(f"{k} x{v}" for k, v in failures.items())
        raise ApiError(
            f"the pilot measured {int(ok.sum())} of {total} {agree(total, 'request', 'requests')} "
            f"({why}{': ' + detail if detail else ''}); "
            f"at least {MIN_RESULTS} are needed: retry later, raise the time limit, or use --calibrate-from"
        )
    spent = price_results(rs, book.rates(model, "standard", run_date)).total
    ok_rows = np.array([int(k) for k, good in zip(rs.keys, ok, strict=True) if good and k is not None], np.int64)
    r = scan.rows
    max_out = r["max_output_tokens"][ok_rows].astype(np.int64)
    obs = Observations(
        group=settings_keys(r["thinking_budget"][ok_rows], r["thinking_level"][ok_rows], r["candidate_count"][ok_rows]),
        input_tokens=rs.rows["prompt"][ok].astype(np.int64),
        max_output=np.where(max_out == UNSET, -1, max_out),
        candidates=rs.rows["candidates"][ok].astype(np.int64),
        thoughts=rs.rows["thoughts"][ok].astype(np.int64),
        truncated=rs.rows["max_tokens"][ok].astype(bool),
    )
    warnings = list(sample.notes)
    if caller.timed_out:
        warnings.append(
            f"the pilot's time limit ({time_limit_s:g} s) passed: {len(rows):,} of {plural(total, 'request')} "
            f"{agree(len(rows), 'was', 'were')} measured"
        )
    if failures:
        listed = "; ".join(f"{k} x{v}" for k, v in failures.items())
        n_failed = sum(failures.values())
        warnings.append(
            f"{plural(n_failed, 'pilot request')} failed (the batch job would likely fail "
            f"{agree(n_failed, 'it', 'them')} too): {listed}"
        )
    warnings.append(
        "pilot outputs come from the synchronous API; the batch job is assumed to produce outputs of the same length"
    )
    from ..money import usd

    prefix = (
        f"pilot: {int(ok.sum()):,} of {total:,} sampled requests sent to {model_id} (stratified by size), "
        f"spent ${usd(spent)} at standard rates"
    )
    from .tool_use import learn_tool_use

    # what the sampled requests with Google Search issued: the Search fee of the next estimate
    tool_use = learn_tool_use(rs, r["flags"][ok_rows].astype(np.int64), "the pilot's responses")
    if tool_use is not None:
        warnings.extend(tool_use.warnings)
    fitted = fit_output_model(
        obs,
        source_prefix=prefix,
        model=model_id,
        kind="pilot",
        warnings=warnings,
        extra={
            "pilot": {
                "requests": total,
                "succeeded": int(ok.sum()),
                "failed": sum(failures.values()),
                "attempts": attempts,
                "rows": [int(x) for x in sample.rows],
                "max_cost": usd(sample.max_cost),
                "spent": usd(spent),
                "timed_out": caller.timed_out,
                "tokens": {
                    "prompt": int(rs.rows["prompt"][ok].sum()),
                    "candidates": int(rs.rows["candidates"][ok].sum()),
                    "thoughts": int(rs.rows["thoughts"][ok].sum()),
                },
            }
        },
    )
    return replace(fitted, tool_use=tool_use)
