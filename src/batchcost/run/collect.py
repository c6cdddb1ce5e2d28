"""``collect``: download every finished job's results, check them against the shards, price and reconcile.

For each shard whose job has ended, the results file is downloaded beside the shard
(``NAME.shard-001.results.jsonl``; a SUCCEEDED job's file is sometimes not there at once, so it is
asked for again with backoff for up to ``wait_s``). Then every shard's keys are checked: each must
have exactly one result. Requests that failed, and those with no result (an expired or failed job,
a missing line, shards a stopped run never submitted), are copied byte for byte from the shards into
``retry.jsonl``, ready for another round. The results are priced line by line and reconciled
(``afterjob.reconcile``: ``reconcile.json``, ``batchcost.reconcile/1``) and each shard's actual cost
is set beside its estimate.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PricingError
from ..gemini import CallFailed
from ..money import usd
from ..text import plural
from .journal import RETRY_NAME, Clock, Journal, folder_lock, utc_now
from .remote import TERMINAL, Remote, parse_time
from .status import record_job

if TYPE_CHECKING:
    from ..afterjob.reconcile import Reconciliation
    from ..batchfile.results import ResultSet
    from ..pricing import PriceBook
    from .caches import CacheCost

__all__ = ["RECONCILE_NAME", "Collected", "Pricer", "ShardOutcome", "collect", "download_results", "results_path"]

RECONCILE_NAME = "reconcile.json"

Pricer = Callable[["ResultSet"], "Decimal | None"]


def results_path(journal: Journal, shard: Mapping[str, Any]) -> Path:
    """Where a shard's results go: beside it, ``NAME.shard-001.results.jsonl``."""
    name = str(shard["path"])
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    return journal.folder / f"{stem}.results.jsonl"


def download_results(
    journal: Journal,
    shard: dict[str, Any],
    remote: Remote,
    *,
    wait_s: float,
    sleep: Callable[[float], object] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> str | None:
    """Download an ended job's results file beside its shard; returns why not, or None once it is there.

    A job that ended without a results file (expired, failed before any result) has nothing to
    download. A SUCCEEDED job whose file is not yet listed, or not yet downloadable (404), is asked
    about again with the retry policy's backoff until ``wait_s`` has passed.
    """
    target = results_path(journal, shard)
    if target.is_file() and shard["results"] is not None and shard["results"]["path"]:
        return None
    if shard["state"] != "succeeded" and not shard["results_file"]:
        return None  # nothing to download: collect reports the shard's requests as missing
    pause = sleep or remote.caller.pause
    deadline = monotonic() + wait_s
    rng = random.Random()
    attempt = 0
    while True:
        name = shard["results_file"]
        if name:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=journal.folder)
            os.close(fd)
            try:
                remote.download(str(name), tmp)
                os.replace(tmp, target)
                journal.event(shard["index"], "results downloaded", f"{name} -> {target.name}")
                journal.save()
                return None
            except CallFailed as exc:
                if exc.failure.code != 404:
                    raise remote.fail(f"downloading {name}", exc) from None
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        if monotonic() >= deadline:
            what = "is not listed yet" if not name else "cannot be downloaded yet (404)"
            return f"the job succeeded but its results file {what}; run `batchcost collect` again in a few minutes"
        pause(remote.caller.policy.delay(attempt, None, rng))
        attempt += 1
        record_job(shard, remote.get_job(str(shard["job"])), journal.now())


@dataclass(frozen=True)
class ShardOutcome:
    """What ``collect`` found for one shard.

    ``retry`` counts the shard's requests written to ``retry.jsonl`` (failed or without a result);
    ``actual`` is null when nothing could be priced (no results, or the price book cannot).
    """

    index: int
    state: str
    results: str | None
    requests: int
    succeeded: int
    failed: int
    missing: int
    duplicated: int
    retry: int
    estimate: Decimal | None
    actual: Decimal | None
    note: str | None


@dataclass
class Collected:
    """The outcome of :func:`collect`.

    Attributes:
        journal: the journal as saved.
        shards: one outcome per shard that has ended (or was never submitted by a stopped run).
        waiting: shards whose jobs have not ended (or whose results file is not ready), with why.
        reconciliation: the reconciliation of every results file collected (None when there is none).
        reconcile_path: where its ``batchcost.reconcile/1`` document was written.
        retry_path: ``retry.jsonl`` (None when every request of the ended shards has a result).
        retry_lines: requests in it.
        notes: what to do about expired, failed and cancelled jobs.
        caches: what each advised cache the run created really cost, against the advice
            (``shard --apply-cache``; empty otherwise).
    """

    journal: Journal
    shards: list[ShardOutcome]
    waiting: list[tuple[int, str]]
    reconciliation: Reconciliation | None
    reconcile_path: Path | None
    retry_path: Path | None
    retry_lines: int
    notes: list[str] = field(default_factory=list)
    caches: list[CacheCost] = field(default_factory=list)

    @property
    def estimate(self) -> Decimal | None:
        """The manifest's estimate for the shards collected (None when one is not priced)."""
        values = [s.estimate for s in self.shards]
        return None if not values or any(v is None for v in values) else sum(values, Decimal(0))  # type: ignore[misc]

    @property
    def actual(self) -> Decimal | None:
        """What the collected results cost (None when one shard could not be priced)."""
        values = [s.actual for s in self.shards if s.results is not None]
        return None if any(v is None for v in values) else sum(values, Decimal(0))  # type: ignore[misc]

    @property
    def complete(self) -> bool:
        """Every shard ended and was collected, and every request succeeded."""
        return not self.waiting and self.retry_lines == 0


def make_pricer(journal: Journal, book: PriceBook) -> tuple[Pricer, datetime.date, str | None]:
    """(a function pricing a shard's results at batch rates, the run date used, why prices are missing)."""
    from ..afterjob.actual import price_results

    created = [parse_time(s["job_created_at"]) for s in journal.shards]
    days = [c.date() for c in created if c is not None]
    day = min(days) if days else journal.clock().date()
    try:
        rates = book.rates(str(journal.doc["model"]), "batch", day)
    except PricingError as e:
        return (lambda _rs: None), day, str(e)

    def price(rs: ResultSet) -> Decimal | None:
        try:
            return price_results(rs, rates).total
        except PricingError:
            return None

    return price, day, None


def check_shard(journal: Journal, shard: dict[str, Any], price: Pricer) -> tuple[ShardOutcome, set[str] | None]:
    """Check a shard's results against its keys and price them; returns the outcome and the keys to retry
    (None: every line of the shard)."""
    import msgspec

    from ..batchfile.results import FAILED, OK, read_results

    target = results_path(journal, shard)
    shard_keys = _keys(journal.shard_file(shard), msgspec)
    requests = len(shard_keys)
    estimate = Decimal(shard["estimate"]) if shard["estimate"] is not None else None
    if not target.is_file():
        outcome = ShardOutcome(
            int(shard["index"]), str(shard["state"]), None, requests, 0, 0, requests, 0, requests, estimate, None, None
        )
        return outcome, None
    rs = read_results(target)
    ok = Counter(k for k, s in zip(rs.keys, rs.rows["status"], strict=True) if k is not None and s == OK)
    failed = Counter(k for k, s in zip(rs.keys, rs.rows["status"], strict=True) if k is not None and s == FAILED)
    wanted = set(shard_keys)
    missing = sum(1 for k in wanted if k not in ok and k not in failed)
    duplicated = sum(1 for k in wanted if ok[k] + failed[k] > 1)
    retry = {k for k in wanted if k not in ok}
    cost = price(rs)
    outcome = ShardOutcome(
        index=int(shard["index"]), state=str(shard["state"]), results=target.name, requests=requests,
        succeeded=rs.succeeded, failed=rs.failed, missing=missing, duplicated=duplicated,
        retry=sum(1 for k in shard_keys if k in retry), estimate=estimate, actual=cost, note=None,
    )  # fmt: skip
    return outcome, retry


def _keys(path: Path, msgspec: Any) -> list[str]:
    class KeyLine(msgspec.Struct):
        key: Any = None

    decode = msgspec.json.Decoder(KeyLine).decode
    keys = []
    with path.open("rb") as fh:
        for raw in fh:
            try:
                key = decode(raw).key
            except (msgspec.DecodeError, msgspec.ValidationError):
                key = None
            keys.append(str(key) if key is not None else "")
    return keys


def record_outcome(journal: Journal, shard: dict[str, Any], outcome: ShardOutcome) -> None:
    shard["results"] = {
        "path": outcome.results, "succeeded": outcome.succeeded, "failed": outcome.failed,
        "missing": outcome.missing, "duplicated": outcome.duplicated, "cost": usd(outcome.actual),
        "collected_at": journal.now(),
    }  # fmt: skip


def _write_retry(journal: Journal, retry: Sequence[tuple[dict[str, Any], set[str] | None]]) -> tuple[Path | None, int]:
    """Copy the requests to retry, byte for byte, into ``retry.jsonl`` (atomically); remove a stale one."""
    import msgspec

    target = journal.folder / RETRY_NAME
    total = 0
    if not any(keys is None or keys for _, keys in retry):
        if journal.doc.get("retry_file") and target.is_file():
            target.unlink()  # written by an earlier collect: its requests have results now
        journal.doc["retry_file"] = None
        return None, 0

    class KeyLine(msgspec.Struct):
        key: Any = None

    decode = msgspec.json.Decoder(KeyLine).decode
    fd, tmp = tempfile.mkstemp(prefix=f".{RETRY_NAME}.", suffix=".tmp", dir=journal.folder)
    try:
        with os.fdopen(fd, "wb") as out:
            for shard, keys in retry:
                with journal.shard_file(shard).open("rb") as fh:
                    for raw in fh:
                        if keys is not None:
                            try:
                                key = decode(raw).key
                            except (msgspec.DecodeError, msgspec.ValidationError):
                                key = None
                            if key is None or str(key) not in keys:
                                continue
                        out.write(raw if raw.endswith(b"\n") else raw + b"\n")
                        total += 1
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    journal.doc["retry_file"] = RETRY_NAME
    return target, total


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _note(shard: Mapping[str, Any], outcome: ShardOutcome) -> str | None:
    index, state, n = outcome.index, outcome.state, plural(outcome.retry, "request")
    error = f" ({shard['error']})" if shard.get("error") else ""
    if state == "expired":
        return (
            f"shard {index}: the job expired (pending or running for more than 48 hours) and left no results; "
            f"{n} to run again are in retry.jsonl: shard it again, fewer or smaller jobs at once finish sooner"
        )
    if state == "failed":
        return (
            f"shard {index}: the job failed{error}; failed requests are not billed; {n} to run again are in "
            "retry.jsonl once the cause is fixed"
        )
    if state == "cancelled":
        return f"shard {index}: the job was cancelled; results of what it finished are priced, {n} in retry.jsonl"
    if state == "not_submitted":
        return f"shard {index}: never submitted ({shard.get('stopped') or 'the run stopped'}); {n} in retry.jsonl"
    if outcome.failed or outcome.missing:
        return f"shard {index}: {plural(outcome.failed, 'request')} failed (not billed), {outcome.missing:,} without a result; in retry.jsonl"
    return None


def collect(
    folder: str | os.PathLike[str],
    *,
    plan: str | os.PathLike[str] | None = None,
    prices: Sequence[str] = (),
    wait_s: float = 600.0,
    api_key: str | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    remote: Remote | None = None,
    clock: Clock = utc_now,
    sleep: Callable[[float], object] | None = None,
    notify: Callable[[str], None] | None = None,
) -> Collected:
    """Download, check, price and reconcile every finished job of ``folder`` (see the module docstring).

    Args:
        folder: the shard folder (holding ``manifest.json`` and ``jobs.json``).
        plan: the ``batchcost.plan/1`` the shards came from, for the estimate-vs-actual variance.
        prices: user price files.
        wait_s: how long to keep asking for a SUCCEEDED job's results file that is not there yet.

    Raises:
        InputError: no journal; OutputError: another run holds the folder.
        CredentialsError, ApiError: as :func:`batchcost.run.remote.connect` and the calls.
    """
    from ..pricing import PriceBook
    from .remote import connect
    from .status import refresh

    say = notify or (lambda _text: None)
    journal = Journal.load(folder, clock=clock)
    with folder_lock(journal.folder):
        journal = Journal.load(folder, clock=clock)
        api = remote
        if any(s["job"] for s in journal.shards) and api is None:
            api = connect(api_key=api_key, base_url=base_url, environ=environ, what="collect")
        if api is not None:
            refresh(journal, api)
        waiting: list[tuple[int, str]] = []
        for shard in journal.shards:
            if shard["job"] is None or shard["state"] not in TERMINAL:
                if shard["state"] != "not_submitted" or not journal.doc.get("stopped"):
                    waiting.append((int(shard["index"]), f"job {shard['state'].replace('_', ' ')}"))
                continue
            assert api is not None
            say(f"shard {shard['index']}: {shard['state']}, fetching its results")
            why = download_results(journal, shard, api, wait_s=wait_s, sleep=sleep)
            if why is not None:
                waiting.append((int(shard["index"]), why))
        held = {i for i, _ in waiting}
        book = PriceBook.load(list(prices) or None)
        price, day, unpriced = make_pricer(journal, book)
        outcomes: list[ShardOutcome] = []
        retry: list[tuple[dict[str, Any], set[str] | None]] = []
        notes: list[str] = [f"results not priced: {unpriced}"] if unpriced else []
        for shard in journal.shards:
            if int(shard["index"]) in held:
                continue
            outcome, keys = check_shard(journal, shard, price)
            note = _note({**shard, "stopped": journal.doc.get("stopped")}, outcome)
            outcome = dataclasses.replace(outcome, note=note)
            if outcome.duplicated:
                notes.append(f"shard {outcome.index}: {plural(outcome.duplicated, 'key')} with more than one result")
            if note:
                notes.append(note)
            if shard["state"] != "not_submitted":
                record_outcome(journal, shard, outcome)
            outcomes.append(outcome)
            retry.append((shard, keys))
        retry_path, retry_lines = _write_retry(journal, retry)
        reconciliation = None
        reconcile_path = None
        collected = [(s, results_path(journal, s)) for s in journal.shards if int(s["index"]) not in held]
        with_results = [(s, p) for s, p in collected if p.is_file()]
        if with_results:
            from ..afterjob.reconcile import reconcile
            from ..outputs import write_atomic

            reconciliation = reconcile(
                [str(p) for _, p in with_results], model=str(journal.doc["model"]), plan=plan,
                requests=[str(journal.shard_file(s)) for s, _ in with_results], run_date=day, book=book,
            )  # fmt: skip
            reconcile_path = journal.folder / RECONCILE_NAME
            import json

            write_atomic(reconcile_path, json.dumps(reconciliation.to_json(), indent=2) + "\n")
        journal.event(None, "collected", f"{plural(len(outcomes), 'shard')}; {plural(retry_lines, 'request')} to retry")
        journal.save()
        costs: list[CacheCost] = []
        if journal.doc.get("caches"):
            from .caches import cache_costs, delete_caches, jobs_over

            if api is not None and jobs_over(journal):
                delete_caches(journal, api, say, "every job has ended")
            costs, cache_notes = cache_costs(journal, book, day, {int(s["index"]): p for s, p in with_results})
            notes += cache_notes
    return Collected(journal, outcomes, waiting, reconciliation, reconcile_path, retry_path, retry_lines, notes, costs)
