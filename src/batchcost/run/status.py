"""``status`` and ``cancel``: where every job of a folder is, and stopping the unfinished ones.

Both read the journal, ask the API about each job that has not ended, record what they learn, and
return the journal. :func:`summary` reduces it to what a person or a script needs: one row per
shard (state, ``batchStats`` counts, age, time left before the 48-hour expiry) and a total.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..text import plural
from .journal import Clock, FolderLock, Journal, folder_lock, iso, utc_now
from .remote import EXPIRY, TERMINAL, JobInfo, Remote, parse_time

__all__ = ["JobRow", "Summary", "cancel", "record_job", "refresh", "status", "summary"]


def record_job(shard: dict[str, Any], job: JobInfo, at: str) -> bool:
    """Write what the API says about a shard's job into its journal entry; True when the state changed."""
    changed = shard["state"] != job.state
    shard["state"] = job.state
    shard["checked_at"] = at
    if job.created is not None:
        shard["job_created_at"] = iso(job.created)
        shard["expires_at"] = iso(job.created + EXPIRY)
    if job.ended is not None:
        shard["ended_at"] = iso(job.ended)
    elif job.state in TERMINAL and shard["ended_at"] is None:
        shard["ended_at"] = at  # the API gave no end time: when we first saw it ended
    if job.stats is not None:
        requests, ok, failed, pending = job.stats
        shard["stats"] = {"requests": requests, "succeeded": ok, "failed": failed, "pending": pending}
    if job.error:
        shard["error"] = job.error
    if job.responses_file:
        shard["results_file"] = job.responses_file
    return changed


def refresh(journal: Journal, remote: Remote, *, save: bool = True) -> list[dict[str, Any]]:
    """Ask about every job that has not ended; record (and save). Returns the shards whose state changed."""
    changed = []
    for shard in journal.shards:
        if shard["job"] is None or shard["state"] in TERMINAL:
            continue
        job = remote.get_job(str(shard["job"]))
        if record_job(shard, job, journal.now()):
            journal.event(shard["index"], job.state, str(shard["job"]))
            changed.append(shard)
        if save:
            journal.save()
    return changed


@dataclass(frozen=True)
class JobRow:
    """One shard's line of ``status``.

    ``age`` is since the job was created; ``left`` is the time before the 48-hour expiry (None once
    the job has ended or when it was never submitted).
    """

    index: int
    job: str | None
    state: str
    requests: int
    succeeded: int | None
    failed: int | None
    pending: int | None
    age: datetime.timedelta | None
    left: datetime.timedelta | None


@dataclass(frozen=True)
class Summary:
    """Every shard's row and the totals.

    Attributes:
        rows: one per shard, in order.
        states: shards per state.
        requests: requests in all shards.
        succeeded, failed, pending: summed ``batchStats`` of the jobs that reported them.
        all_succeeded: every shard's job ended in ``succeeded`` with no failed request.
        unfinished: shards not yet ended (including those never submitted, unless the run stopped).
        stopped: why submitting stopped early, or None.
    """

    rows: list[JobRow]
    states: dict[str, int]
    requests: int
    succeeded: int
    failed: int
    pending: int
    all_succeeded: bool
    unfinished: int
    stopped: str | None


def summary(journal: Journal, now: datetime.datetime | None = None) -> Summary:
    """The rows and totals of a journal as it stands (no call is made)."""
    now = now or journal.clock()
    rows = []
    states: dict[str, int] = {}
    for shard in journal.shards:
        stats: Mapping[str, int] | None = shard["stats"]
        created = parse_time(shard["job_created_at"])
        ended = parse_time(shard["ended_at"])
        state = str(shard["state"])
        age = ((ended or now) - created) if created else None
        left = (created + EXPIRY - now) if created and state not in TERMINAL else None
        rows.append(
            JobRow(
                index=int(shard["index"]), job=shard["job"], state=state, requests=int(shard["requests"]),
                succeeded=stats["succeeded"] if stats else None, failed=stats["failed"] if stats else None,
                pending=stats["pending"] if stats else None, age=age,
                left=max(left, datetime.timedelta(0)) if left is not None else None,
            )
        )  # fmt: skip
        states[state] = states.get(state, 0) + 1
    stopped = journal.doc.get("stopped")
    unfinished = sum(n for s, n in states.items() if s not in TERMINAL and not (stopped and s == "not_submitted"))
    ok = sum(r.succeeded or 0 for r in rows)
    failed = sum(r.failed or 0 for r in rows)
    return Summary(
        rows=rows, states=states, requests=sum(r.requests for r in rows), succeeded=ok, failed=failed,
        pending=sum(r.pending or 0 for r in rows),
        all_succeeded=bool(rows) and all(r.state == "succeeded" for r in rows) and failed == 0,
        unfinished=unfinished, stopped=stopped,
    )  # fmt: skip


def _remote(api_key: str | None, base_url: str | None, environ: Mapping[str, str] | None, what: str) -> Remote:
    from .remote import connect

    return connect(api_key=api_key, base_url=base_url, environ=environ, what=what)


def status(
    folder: str | os.PathLike[str],
    *,
    refresh_jobs: bool = True,
    api_key: str | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    remote: Remote | None = None,
    clock: Clock = utc_now,
) -> tuple[Journal, Summary]:
    """Where every job of ``folder`` stands: asks the API about unfinished jobs (unless ``refresh_jobs`` is False).

    Raises:
        InputError: no journal in the folder.
        CredentialsError, ApiError: as :func:`batchcost.run.remote.connect` and the calls.
    """
    journal = Journal.load(folder, clock=clock)
    if refresh_jobs and any(s["job"] and s["state"] not in TERMINAL for s in journal.shards):
        api = remote or _remote(api_key, base_url, environ, "status")
        lock = FolderLock(journal.folder)
        if lock.acquire():
            try:
                journal = Journal.load(folder, clock=clock)  # as the last holder of the lock wrote it
                refresh(journal, api)
            finally:
                lock.release()
        else:
            # A submit is running and owns the journal: show the live states without writing them
            # (writing would undo what it records meanwhile).
            refresh(journal, api, save=False)
    return journal, summary(journal)


def cancel(
    folder: str | os.PathLike[str],
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    remote: Remote | None = None,
    clock: Clock = utc_now,
    notify: Callable[[str], None] | None = None,
) -> tuple[Journal, list[int]]:
    """Cancel every job of ``folder`` that has not ended, and stop submitting the shards not yet submitted.

    Returns the journal and the indexes of the shards whose job was cancelled. A later ``submit``
    of the folder refuses to start the remaining shards; ``collect`` gathers what finished.

    Raises:
        InputError: no journal in the folder.
        OutputError: another run holds the folder.
        CredentialsError, ApiError: as :func:`batchcost.run.remote.connect` and the calls.
    """
    say = notify or (lambda _text: None)
    journal = Journal.load(folder, clock=clock)
    cancelled: list[int] = []
    with folder_lock(journal.folder):
        journal = Journal.load(folder, clock=clock)
        running = [s for s in journal.shards if s["job"] and s["state"] not in TERMINAL]
        api = remote or (_remote(api_key, base_url, environ, "cancel") if running else None)
        for shard in running:
            assert api is not None
            api.cancel_job(str(shard["job"]))
            shard["cancelled_at"] = journal.now()
            record_job(shard, api.get_job(str(shard["job"])), journal.now())
            journal.event(shard["index"], "cancel requested", str(shard["job"]))
            journal.save()
            cancelled.append(int(shard["index"]))
            say(f"shard {shard['index']}: cancelled {shard['job']} (now {shard['state']})")
        waiting = [s for s in journal.shards if s["state"] == "not_submitted"]
        if waiting and not journal.doc.get("stopped"):
            journal.doc["stopped"] = f"cancelled at {journal.now()}"
            journal.event(None, "cancelled", f"{plural(len(waiting), 'shard')} not submitted will not be")
        journal.save()
        live = [c for c in journal.doc.get("caches") or [] if c["name"] and c["deleted_at"] is None]
        if live:
            from .caches import delete_caches

            # a cancelled job stops at once: the caches its requests read are not needed any more
            api = api or _remote(api_key, base_url, environ, "cancel")
            delete_caches(journal, api, say, "the run was cancelled")
    return journal, cancelled
