"""A run stopped anywhere and started again creates nothing twice; faults are retried; waves and budget hold."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from batchcost.errors import ApiError
from batchcost.run import collect, status, submit
from tests.fakebatch import FakeBatch, Fault

from .conftest import KEY, make_shards, quick_remote

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=datetime.UTC)


def test_killed_between_job_created_and_journal_written_then_rerun_creates_no_second_job(
    tmp_path: Path, fake: FakeBatch
) -> None:
    manifest, _ = make_shards(tmp_path)
    env = {**os.environ, "GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": fake.base_url,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}  # fmt: skip
    env.pop("GOOGLE_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchcost", "submit", str(manifest), "--yes", "--poll", "0.01", "-q"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # the job of shard 2 exists on Google's side; the process dies before it hears of it
    fake.on_create = lambda job: os.kill(proc.pid, signal.SIGKILL) if "shard-002" in job.display_name else None
    assert proc.wait(timeout=120) == -signal.SIGKILL
    journal = json.loads((manifest.parent / "jobs.json").read_text())
    second = journal["shards"][1]
    assert second["create_started_at"] is not None and second["job"] is None and second["file"] is not None
    assert len(fake.jobs) == 2

    fake.on_create = None
    done = submit(manifest, yes=True, remote=quick_remote(fake), poll_s=0.001, sleep=lambda _s: None)
    assert len(fake.jobs) == 3  # shard 2's job was adopted, not made again
    assert sorted(j.display_name for j in fake.jobs) == sorted({j.display_name for j in fake.jobs})
    assert done.adopted == [2] and done.submitted == [3]
    assert len(fake.files) == 3  # no second upload either
    events = [e["event"] for e in done.journal.doc["events"] if e["shard"] == 2]
    assert events == ["uploaded", "job found"]


def test_killed_after_upload_before_journal_finds_the_upload(tmp_path: Path, fake: FakeBatch) -> None:
    manifest, _ = make_shards(tmp_path, n=2)
    # the upload is finished on the server, but the answer is lost (the client dies or times out)
    fake.set_faults(Fault("upload.chunk", status=0, reset=True, after=True, nth=1))
    done = submit(manifest, yes=True, remote=quick_remote(fake), poll_s=0.001, sleep=lambda _s: None)
    assert len(fake.files) == 1 and len(fake.jobs) == 1 and done.adopted == [1]


def test_faults_are_retried_and_a_lost_create_answer_never_doubles_the_job(tmp_path: Path, fake: FakeBatch) -> None:
    manifest, _ = make_shards(tmp_path)
    fake.set_faults(
        Fault("batches.create", status=503, nth=1, after=True),  # made, but the client sees a 503
        Fault("batches.create", status=0, reset=True, nth=2, after=True),  # made, connection reset
        Fault("batches.get", status=429, nth=1, retry_after="2"),
        Fault("files.list", status=500, nth=1),
        Fault("upload.start", status=503, nth=2),
        Fault("files.download", status=502, nth=1),
    )
    remote = quick_remote(fake)
    done = submit(manifest, yes=True, remote=remote, poll_s=0.001, sleep=lambda _s: None)
    assert len(fake.jobs) == 3 and len(fake.files) == 3
    assert done.adopted == [1, 2] and done.submitted == [3]
    status(manifest.parent, remote=remote)  # running; the next read ends them
    got = collect(manifest.parent, remote=remote, sleep=lambda _s: None)
    assert got.complete and sum(s.succeeded for s in got.shards) == 5
    assert fake.calls("files.download").count(fake.calls("files.download")[0]) >= 2  # the 502 was retried


def test_a_timeout_is_retried(tmp_path: Path, fake: FakeBatch) -> None:
    manifest, _ = make_shards(tmp_path, n=2)
    fake.set_faults(Fault("batches.get", status=0, delay=1.5, nth=1))
    remote = quick_remote(fake, timeout_s=0.5)
    submit(manifest, yes=True, remote=remote, poll_s=0.001, sleep=lambda _s: None, wait=False)
    _, summary = status(manifest.parent, remote=remote)
    assert summary.states == {"running": 1}


def test_waves_keep_within_the_concurrent_job_limit(tmp_path: Path, fake: FakeBatch) -> None:
    manifest, _ = make_shards(tmp_path, "--concurrent-jobs", "1")
    in_flight: list[int] = []
    fake.on_create = lambda job: in_flight.append(
        sum(1 for j in fake.jobs if j.state in ("PENDING", "RUNNING") and j.name != job.name)
    )
    done = submit(manifest, yes=True, remote=quick_remote(fake), poll_s=0.001, sleep=lambda _s: None)
    assert done.submitted == [1, 2, 3] and in_flight == [0, 0, 0]
    # the finished jobs' results were fetched and priced on the way, for the budget
    assert [s["results"] is not None for s in done.journal.shards] == [True, True, False]


def test_waves_keep_within_the_enqueued_token_quota(tmp_path: Path, fake: FakeBatch) -> None:
    manifest, _ = make_shards(tmp_path, n=4)
    doc = json.loads(manifest.read_text())
    tokens = [s["tokens"] for s in doc["shards"]]
    doc["limits"]["enqueued_tokens"]["value"] = max(tokens)  # one shard at a time fits
    manifest.write_text(json.dumps(doc))
    in_flight: list[int] = []
    fake.on_create = lambda job: in_flight.append(
        sum(1 for j in fake.jobs if j.state in ("PENDING", "RUNNING") and j.name != job.name)
    )
    submit(manifest, yes=True, remote=quick_remote(fake), poll_s=0.001, sleep=lambda _s: None)
    assert in_flight == [0, 0]


def test_submitting_stops_when_spent_plus_the_rest_would_pass_the_budget(tmp_path: Path, fake: FakeBatch) -> None:
    # estimated with 1 output token per request; the fake answers 16: the first wave costs more than planned
    manifest, _ = make_shards(tmp_path, "--concurrent-jobs", "1", "--output-tokens", "1")
    doc = json.loads(manifest.read_text())
    estimate = sum(Decimal(s["cost"]) for s in doc["shards"])
    budget = estimate * 2
    fake.clock = lambda: T0
    done = submit(manifest, budget=budget, remote=quick_remote(fake), poll_s=0.001, sleep=lambda _s: None)
    assert done.stopped is not None and done.stopped.startswith("over budget")
    assert done.submitted == [1] and done.waiting == [2, 3] and len(fake.jobs) == 1
    spent = Decimal(done.journal.shards[0]["results"]["cost"])
    assert spent == Decimal("0.0000409")  # 2 requests: 6 x 0.15 + 32 x 1.25 = 40.9 millionths
    assert spent + sum(Decimal(s["cost"]) for s in doc["shards"][1:]) > budget
    assert done.journal.doc["stopped"] == done.stopped


def test_collect_reports_failed_missing_expired_and_waits_for_a_late_file(tmp_path: Path, fake: FakeBatch) -> None:
    manifest, lines = make_shards(tmp_path, n=6)
    fake.failed_keys = {"k1"}
    fake.dropped_keys = {"k4"}
    fake.outcomes = {"shard-003": "EXPIRED"}
    fake.late_downloads = 2
    remote = quick_remote(fake)
    submit(manifest, yes=True, remote=remote, poll_s=0.001, sleep=lambda _s: None)
    status(manifest.parent, remote=remote)
    waits: list[float] = []
    got = collect(manifest.parent, remote=remote, sleep=waits.append)
    assert not got.complete and not got.waiting
    by = {s.index: s for s in got.shards}
    assert (by[1].succeeded, by[1].failed, by[1].missing) == (1, 1, 0)
    assert (by[2].succeeded, by[2].failed, by[2].missing) == (1, 0, 1)
    assert by[3].state == "expired" and by[3].results is None and by[3].actual is None and by[3].missing == 2
    assert got.retry_lines == 4
    assert (manifest.parent / "retry.jsonl").read_bytes() == lines[0] + lines[3] + lines[4] + lines[5]
    assert any("expired" in n and "retry.jsonl" in n for n in got.notes)
    assert len(waits) >= 2  # the late file was asked for again
    assert got.reconciliation is not None and got.reconciliation.results.failed == 1


def test_status_rows_age_and_time_left_and_a_running_submit_keeps_the_journal(tmp_path: Path, fake: FakeBatch) -> None:
    from batchcost.cli.status import duration, render_status
    from batchcost.run.journal import FolderLock

    manifest, _ = make_shards(tmp_path, n=2)
    fake.clock = lambda: T0
    remote = quick_remote(fake)
    submit(manifest, yes=True, remote=remote, wait=False)
    later = T0 + datetime.timedelta(hours=1, minutes=5)
    lock = FolderLock(manifest.parent)
    assert lock.acquire()  # as if a submit were running: status shows, and leaves the journal to it
    try:
        before = (manifest.parent / "jobs.json").read_bytes()
        journal, summary = status(manifest.parent, remote=remote, clock=lambda: later)
        assert (manifest.parent / "jobs.json").read_bytes() == before
    finally:
        lock.release()
    (row,) = summary.rows
    assert row.state == "running" and (row.requests, row.succeeded, row.failed, row.pending) == (2, 0, 0, 2)
    assert duration(row.age) == "1h 05m" and duration(row.left) == "1d 22h"  # 48 h - 1 h 05 m = 46 h 55 m
    text = render_status(journal, summary)
    assert (
        text.splitlines()[1].split()[-4:] == ["1h", "05m", "1d", "22h"]
        and "total: 1 shard: 1 running; 2 requests: 0 succeeded, 0 failed, 2 pending" in text
    )


def test_a_shard_uploaded_more_than_46_hours_ago_is_uploaded_again_before_its_job(
    tmp_path: Path, fake: FakeBatch
) -> None:
    manifest, _ = make_shards(tmp_path, n=2)
    fake.set_faults(Fault("batches.create", status=400, nth=1))  # the first run stops after the upload
    remote = quick_remote(fake)
    with pytest.raises(ApiError, match=r"creating the batch job .* HTTP 400"):
        submit(manifest, yes=True, remote=remote, wait=False, clock=lambda: T0)
    later = T0 + datetime.timedelta(hours=47)
    done = submit(manifest, yes=True, remote=remote, wait=False, clock=lambda: later)
    assert len(fake.files) == 2 and len(fake.jobs) == 1
    events = [e["event"] for e in done.journal.doc["events"] if e["shard"] == 1]
    assert events == ["uploaded", "upload too old", "uploaded", "job created"]
