"""estimate -> shard -> submit -> status -> collect -> reconcile through the CLI, against the fake Batch API."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from batchcost.documents import JOBS_SCHEMA, load
from tests.fakebatch import FakeBatch

from .conftest import KEY, cli, make_shards

T0 = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=datetime.UTC)

# 5 requests of 3 prompt tokens, 16 output tokens each, at gemini-2.5-flash batch rates on 2026-11-27
# ($0.15 and $1.25 per million): 15 x 0.15 + 80 x 1.25 = 102.25 millionths of a dollar.
ACTUAL = Decimal("0.00010225")


def test_the_whole_run_through_the_cli(tmp_path: Path, fake: FakeBatch, env: dict[str, str]) -> None:
    fake.clock = lambda: T0
    manifest, _ = make_shards(tmp_path)
    folder = manifest.parent
    code, out, err = cli("submit", str(manifest), "--yes", "--poll", "0.01")
    assert code == 0, err
    assert "submitted 3 jobs\n" in out and "shard 3: created batches/" in err
    assert len(fake.jobs) == 3 and len(fake.files) == 3
    assert sorted(j.display_name for j in fake.jobs) == [
        f"batchcost-shard-00{i}-{s['sha256'][:16]}" for i, s in enumerate(json.loads(manifest.read_text())["shards"], 1)
    ]
    doc = load(folder / "jobs.json", JOBS_SCHEMA)  # the journal keeps its contract
    assert [s.state for s in doc.shards] == ["pending"] * 3 and doc.budget is None
    assert KEY not in (folder / "jobs.json").read_text()

    code, out, _ = cli("status", str(folder))
    assert code == 4  # still running
    assert out.count(" running ") == 3 and "total: 3 shards: 3 running; 5 requests" in out
    code, out, _ = cli("status", str(folder), "--watch", "--interval", "0.01")
    assert code == 0 and "3 succeeded; 5 requests: 5 succeeded, 0 failed, 0 pending" in out

    code, out, err = cli("collect", str(folder))
    assert code == 0, err
    assert f"actual ${ACTUAL:,.6f}" in out and "Reconciliation of every result collected" in out
    for k in (1, 2, 3):
        assert (folder / f"requests.shard-00{k}.results.jsonl").is_file()
    rec = json.loads((folder / "reconcile.json").read_text())
    assert Decimal(rec["cost"]["total"]) == ACTUAL and rec["succeeded"] == 5
    by = {k: Decimal(v) for k, v in rec["cost"]["by_component"].items()}
    assert by == {"input": Decimal("0.00000225"), "cached_input": 0, "output": Decimal("0.0001")}
    assert rec["keys"]["without_result_count"] == 0
    assert not (folder / "retry.jsonl").exists()
    doc = load(folder / "jobs.json", JOBS_SCHEMA)
    assert sum(s.results.cost for s in doc.shards if s.results) == ACTUAL
    assert all(s.results and s.results.missing == 0 and s.results.duplicated == 0 for s in doc.shards)
    code, out, _ = cli("collect", str(folder), "--format", "json")  # again: nothing new, same figures
    assert code == 0 and json.loads(out)["schema"] == JOBS_SCHEMA and len(fake.calls("files.download")) == 3


def test_submit_refuses_without_budget_or_confirmation_and_over_budget(
    tmp_path: Path, fake: FakeBatch, env: dict[str, str]
) -> None:
    manifest, _ = make_shards(tmp_path)
    code, _, err = cli("submit", str(manifest))
    assert code == 2 and "pass --budget USD, or --yes to confirm" in err and err.count("\n") == 1
    code, _, err = cli("submit", str(manifest), "--budget", "0.000001")
    assert code == 3 and "is over --budget $0.00" in err and "nothing submitted" in err
    code, _, err = cli("submit", str(manifest), "--budget", "0.000001", "--budget-on", "ceiling")
    assert code == 3 and "ceiling estimate" in err
    assert fake.calls() == [] and not (manifest.parent / "jobs.json").exists()


def test_no_key_sends_nothing(tmp_path: Path, fake: FakeBatch, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    manifest, _ = make_shards(tmp_path)
    code, _, err = cli("submit", str(manifest), "--yes")
    assert code == 2 and "needs an API key: set GEMINI_API_KEY" in err and "nothing was sent" in err
    assert fake.calls() == []


def test_cancel_then_collect_writes_retry(tmp_path: Path, fake: FakeBatch, env: dict[str, str]) -> None:
    manifest, lines = make_shards(tmp_path, "--concurrent-jobs", "1")
    folder = manifest.parent
    code, out, err = cli("submit", str(manifest), "--yes", "--no-wait")
    assert code == 0, err
    assert "submitted 1 job\n" in out and "\n2 shards wait for the next wave" in out
    code, out, _ = cli("cancel", str(folder), "-q")
    assert code == 0 and "cancelled 1 job: shard 1\n" in out and "\n2 shards not submitted will not be" in out
    code, _, err = cli("submit", str(manifest), "--yes")
    assert code == 2 and "this run was cancelled at" in err
    code, out, _ = cli("collect", str(folder))
    assert code == 1  # requests without a result
    # the fake's cancelled job finished every other request: k1 has a result, k2 and shards 2-3 do not
    assert (folder / "retry.jsonl").read_bytes() == b"".join(lines[1:])
    assert "\n4 requests to run again" in out
    code, _, _ = cli("status", str(folder))
    assert code == 1  # a cancelled job
