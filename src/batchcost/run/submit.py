"""``submit``: upload each shard and create its batch job, wave by wave, within the quota and the budget.

A shard is submitted only while the jobs in flight stay within the plan's enqueued-token quota and
concurrent-job limit (the manifest's ``limits``); the next one goes as earlier jobs end. The run
starts only when the shards' estimate fits ``budget`` (or the caller confirmed the figure), and stops
submitting (jobs in flight go on) when the actual cost of the jobs collected so far plus the estimate
for the rest would pass it. Every step is written to ``jobs.json`` first (see :mod:`.journal`), and
uploads and jobs carry the shard's SHA-256 prefix in their display name, so a run stopped at any
point and started again never uploads or creates a shard's job twice.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..errors import BatchcostError, InputError
from ..money import usd
from ..text import agree, plural
from .journal import Clock, Journal, folder_lock, utc_now
from .remote import TERMINAL, Remote, parse_time
from .status import record_job

__all__ = ["BASES", "NeedsConfirmation", "OverBudget", "Preflight", "Submitted", "preflight", "submit"]


BASES = ("expected", "ceiling")

#: Uploaded files are deleted after 48 hours; one older than this is uploaded again before its job is made.
UPLOAD_KEPT = datetime.timedelta(hours=46)


class OverBudget(BatchcostError):
    """The shards' estimate (or what was spent plus the estimate for the rest) is over the budget."""


class NeedsConfirmation(BatchcostError):
    """Neither a budget nor a confirmation was given: nothing is submitted before the figure is confirmed."""


@dataclass(frozen=True)
class Preflight:
    """What a submit of a manifest would do, before anything is sent.

    Attributes:
        model: the shards' model.
        shards, requests, waves: as planned.
        high: the figure held against a budget (see ``basis``); None when the shards are not priced so.
        basis: ``expected`` (the shards' expected cost, output included: the default when the shards
            were priced with an output expectation) or ``ceiling`` (every request at its output limit:
            the default otherwise, since a floor leaves the output out).
        expected: the manifest's expected (or floor) cost, None when not priced.
        ceiling: the shards' ceilings summed, None when one is unknown.
        quota: enqueued tokens the jobs in flight may hold (None: no limit known).
        concurrent: jobs in flight at most (None: no limit known).
    """

    model: str
    shards: int
    requests: int
    waves: int
    high: Decimal | None
    basis: str | None
    expected: Decimal | None
    ceiling: Decimal | None
    quota: int | None
    concurrent: int | None


def _limit(plan: Mapping[str, Any], name: str) -> int | None:
    entry = (plan.get("limits") or {}).get(name) or {}
    value = entry.get("value")
    return int(value) if isinstance(value, int) and value > 0 else None


def _sum(values: Sequence[str | None]) -> Decimal | None:
    return None if any(v is None for v in values) else sum((Decimal(str(v)) for v in values), Decimal(0))


def preflight(manifest: str | os.PathLike[str], basis: str | None = None) -> Preflight:
    """Read a manifest and say what submitting it involves and costs (no call is made).

    Args:
        basis: ``expected`` or ``ceiling`` (default: see :attr:`Preflight.basis`).

    Raises:
        InputError: the manifest cannot be read.
        ValueError: an unknown basis.
    """
    from ..planner.shard_manifest import Manifest

    m = Manifest.read(manifest)
    ceilings = _sum([s.cost_ceiling for s in m.shards])
    expected = _sum([s.cost for s in m.shards])
    if basis is None:
        basis = "expected" if m.plan.get("cost_basis") == "expected" and expected is not None else "ceiling"
    if basis not in BASES:
        raise ValueError(f"unknown budget basis {basis!r}; use one of {', '.join(BASES)}")
    high = expected if basis == "expected" else ceilings
    return Preflight(
        model=str(m.plan.get("model") or ""), shards=len(m.shards), requests=sum(s.requests for s in m.shards),
        waves=len(m.plan.get("waves") or []) or 1, high=high, basis=basis, expected=expected, ceiling=ceilings,
        quota=_limit(m.plan, "enqueued_tokens"), concurrent=_limit(m.plan, "concurrent_jobs"),
    )  # fmt: skip


@dataclass
class Submitted:
    """The outcome of :func:`submit`.

    Attributes:
        journal: the journal as saved.
        submitted: shards whose job this run created.
        adopted: shards whose upload or job an earlier, interrupted run had created (found, not made again).
        waiting: shards not yet submitted (``wait=False``, or the run stopped).
        stopped: why submitting stopped before every shard went (over the budget), else None.
    """

    journal: Journal
    submitted: list[int] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    stopped: str | None = None


def _money(value: Decimal | None) -> str:
    return "unknown" if value is None else f"${value:,.4f}"


class _Run:
    """One submit: the journal, the remote, the limits and the budget."""

    def __init__(
        self,
        journal: Journal,
        remote: Remote,
        pre: Preflight,
        budget: Decimal | None,
        prices: Sequence[str],
        say: Callable[[str], None],
    ) -> None:
        self.journal = journal
        self.remote = remote
        self.pre = pre
        self.budget = budget
        self.prices = prices
        self.say = say
        self.outcome = Submitted(journal)
        self._pricer: Any = None

    # -- figures ---------------------------------------------------------------------------------

    def in_flight(self) -> list[dict[str, Any]]:
        return [s for s in self.journal.shards if s["job"] and s["state"] not in TERMINAL]

    def spent_and_left(self) -> tuple[Decimal, Decimal | None]:
        """(actual cost of the shards collected, estimate for every other shard)."""
        spent = Decimal(0)
        left: list[str | None] = []
        for s in self.journal.shards:
            cost = (s["results"] or {}).get("cost")
            if cost is not None:
                spent += Decimal(cost)
            else:
                left.append(s["estimate"] if self.pre.basis == "expected" else s["ceiling"])
        return spent, _sum(left)

    def fits(self, shard: Mapping[str, Any]) -> bool:
        flying = self.in_flight()
        if self.pre.concurrent is not None and len(flying) >= self.pre.concurrent:
            return False
        tokens = sum(int(s["tokens"]) for s in flying)
        return self.pre.quota is None or not flying or tokens + int(shard["tokens"]) <= self.pre.quota

    def over_budget(self) -> str | None:
        if self.budget is None:
            return None
        spent, left = self.spent_and_left()
        if left is not None and spent + left <= self.budget:
            return None
        return (
            f"over budget: {_money(spent)} spent on the jobs collected plus {_money(left)} estimated "
            f"({self.pre.basis}) for the rest would pass the budget of ${self.budget:,.2f}"
        )

    # -- steps -------------------------------------------------------------------------------------

    def send(self, shard: dict[str, Any]) -> None:
        """Upload the shard and create its job, journalling before and after each call."""
        j, index = self.journal, int(shard["index"])
        uploaded = parse_time(shard["uploaded_at"])
        if shard["file"] is not None and uploaded is not None and j.clock() - uploaded > UPLOAD_KEPT:
            # Google deletes uploaded files after 48 hours: a job cannot be made from this one any more
            j.event(index, "upload too old", f"{shard['file']} was uploaded at {shard['uploaded_at']}; uploading again")
            shard["file"] = shard["upload_started_at"] = shard["uploaded_at"] = None
        if shard["file"] is None:
            look = shard["upload_started_at"] is not None
            shard["upload_started_at"] = j.now()
            j.save()
            from .caches import upload_copy

            # a shard whose lines reference a cache goes up with the cache's name in place of the placeholder
            copy = upload_copy(j, shard)
            try:
                source = copy if copy is not None else j.shard_file(shard)
                info, adopted = self.remote.upload(source, str(shard["display_name"]), look_first=look)
            finally:
                if copy is not None:
                    copy.unlink(missing_ok=True)
            shard["file"], shard["uploaded_at"] = info.name, j.now()
            j.event(index, "upload found" if adopted else "uploaded", info.name)
            j.save()
            if adopted:
                self.outcome.adopted.append(index)
            self.say(
                f"shard {index}: {'found the earlier upload' if adopted else 'uploaded'} {shard['path']} as {info.name}"
            )
        if j.doc.get("caches"):
            from .caches import keep_alive

            keep_alive(j, self.remote, self.say, shard)  # a later wave than planned: its caches must outlive its job
        look = shard["create_started_at"] is not None
        shard["create_started_at"] = j.now()
        j.save()
        job, adopted = self.remote.create_job(
            str(j.doc["model"]), str(shard["file"]), str(shard["display_name"]), look_first=look
        )
        shard["job"], shard["submitted_at"] = job.name, j.now()
        record_job(shard, job, j.now())
        j.event(index, "job found" if adopted else "job created", job.name)
        j.save()
        if adopted and index not in self.outcome.adopted:
            self.outcome.adopted.append(index)
        if not adopted:
            self.outcome.submitted.append(index)
        what = "found the job an earlier run created:" if adopted else "created"
        self.say(f"shard {index}: {what} {job.name} ({shard['state']})")

    def collect_ended(self) -> bool:
        """Fetch and price the results of jobs that ended since; True when one did."""
        from .collect import check_shard, download_results, record_outcome

        done = False
        for shard in self.journal.shards:
            if not shard["job"] or shard["state"] not in TERMINAL or shard["results"] is not None:
                continue
            if download_results(self.journal, shard, self.remote, wait_s=0) is not None:
                continue  # its results file is late: its estimate stands in for it meanwhile
            outcome, _ = check_shard(self.journal, shard, self.pricer())
            record_outcome(self.journal, shard, outcome)
            self.journal.save()
            done = True
            self.say(
                f"shard {shard['index']}: {shard['state']}; {plural(outcome.succeeded, 'result')} "
                f"{agree(outcome.succeeded, 'costs', 'cost')} {_money(outcome.actual)} "
                f"(estimate {_money(outcome.estimate)})"
            )
        return done

    def pricer(self) -> Any:
        if self._pricer is None:
            from ..pricing import PriceBook
            from .collect import make_pricer

            self._pricer = make_pricer(self.journal, PriceBook.load(list(self.prices) or None))[0]
        return self._pricer


def submit(
    manifest: str | os.PathLike[str],
    *,
    budget: Decimal | str | None = None,
    budget_basis: str | None = None,
    yes: bool = False,
    wait: bool = True,
    poll_s: float = 60.0,
    max_poll_s: float = 900.0,
    prices: Sequence[str] = (),
    api_key: str | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    remote: Remote | None = None,
    clock: Clock = utc_now,
    sleep: Callable[[float], object] = time.sleep,
    notify: Callable[[str], None] | None = None,
) -> Submitted:
    """Submit the shards of ``DIR/manifest.json`` wave by wave (see the module docstring).

    Args:
        manifest: the ``manifest.json`` that ``batchcost shard`` wrote; ``jobs.json`` goes beside it.
        budget: USD; the run starts only when the shards' estimate fits, and stops submitting when the
            actual cost collected plus the estimate for the rest would pass it.
        budget_basis: ``expected`` or ``ceiling``: the estimate held against the budget (default:
            see :attr:`Preflight.basis`).
        yes: submit without a budget (the caller confirmed the figure).
        wait: wait for jobs to end to submit the next wave; False submits what fits now and returns
            (run again later to go on).
        poll_s, max_poll_s: first and longest wait between checks (the wait grows while nothing changes).
        prices: user price files (to price collected results).
        api_key: default ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``; base_url: default the SDK's (or
            ``GOOGLE_GEMINI_BASE_URL``).
        notify: called with one line per step (the CLI shows them).

    Raises:
        NeedsConfirmation: no budget and not ``yes``.
        OverBudget: the estimate is over the budget at the start (nothing was sent).
        InputError: the manifest or a shard cannot be used, or the folder's run was cancelled.
        OutputError: another run holds the folder.
        CredentialsError, ApiError: no API key; a call failed after its retries.
    """
    say = notify or (lambda _text: None)
    limit = Decimal(str(budget)) if budget is not None else None
    pre = preflight(manifest, budget_basis)
    if limit is None and not yes:
        raise NeedsConfirmation(
            f"submitting {plural(pre.shards, 'job')} costs up to {_money(pre.high)} ({pre.basis or 'not priced'}); "
            "pass --budget USD, or --yes to confirm"
        )
    if limit is not None and pre.high is None:
        raise OverBudget(
            f"the shards' {pre.basis} cost is not known, so --budget cannot be checked"
            + ("; pass --budget-basis expected" if pre.expected is not None else "")
            + ", or --yes to submit without a budget"
        )
    folder = os.path.dirname(os.path.abspath(os.fspath(manifest)))
    with folder_lock(folder):
        journal, _ = Journal.begin(
            manifest, budget=limit, budget_basis=pre.basis if limit is not None else None, clock=clock
        )
        stopped = journal.doc.get("stopped") or ""
        if stopped.startswith("cancelled"):
            raise InputError(
                str(journal.path),
                f"this run was {stopped}; `batchcost collect` gathers what finished and writes retry.jsonl to shard "
                "and submit as a new run",
            )
        if limit is not None:
            journal.doc["budget"], journal.doc["budget_basis"] = usd(limit), pre.basis
        if remote is None:
            from .remote import connect

            remote = connect(api_key=api_key, base_url=base_url, environ=environ, what="submit")
        run = _Run(journal, remote, pre, limit, prices, say)
        # the start check: for a new run it is the whole estimate; a run started again counts what it spent
        why = run.over_budget()
        if why is not None and not any(s["job"] for s in journal.shards):
            raise OverBudget(
                f"the shards' batch {pre.basis} estimate {_money(pre.high)} is over --budget ${limit:,.2f}"
            )
        journal.doc["stopped"] = None
        journal.event(None, "submit", f"budget {_money(limit)}" if limit is not None else "confirmed without a budget")
        journal.save()
        if journal.doc.get("caches"):
            from .caches import ensure_caches

            ensure_caches(journal, remote, say)  # before the first wave: the shards reference them
        return _loop(run, wait, poll_s, max_poll_s, sleep)


def _loop(run: _Run, wait: bool, poll_s: float, max_poll_s: float, sleep: Callable[[float], object]) -> Submitted:
    from .status import refresh

    journal, delay = run.journal, poll_s
    while True:
        changed = bool(refresh(journal, run.remote))
        changed = run.collect_ended() or changed
        todo = [s for s in journal.shards if s["job"] is None]
        for shard in todo:
            if not run.fits(shard):
                break
            why = run.over_budget()
            if why is not None:
                journal.doc["stopped"] = why
                journal.event(None, "stopped", why)
                journal.save()
                run.say(f"stopped submitting: {why}; jobs in flight go on")
                run.outcome.stopped = why
                run.outcome.waiting = [int(s["index"]) for s in journal.shards if s["job"] is None]
                return run.outcome
            run.send(shard)
            changed = True
        todo = [s for s in journal.shards if s["job"] is None]
        if not todo:
            return run.outcome
        if not wait:
            run.outcome.waiting = [int(s["index"]) for s in todo]
            return run.outcome
        delay = poll_s if changed else min(max_poll_s, delay * 1.5)
        flying = run.in_flight()
        run.say(
            f"waiting for the next wave: {plural(len(flying), 'job')} in flight holding "
            f"{sum(int(s['tokens']) for s in flying):,} tokens, {plural(len(todo), 'shard')} to go; "
            f"next check in {delay:.0f} s"
        )
        sleep(delay)
