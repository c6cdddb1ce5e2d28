"""The advised cache, applied: shard --apply-cache rewrites and verifies, submit creates the cache once,
collect and cancel delete it, and the collected cost sets it against the advice."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from batchcost.run import cancel, collect, submit
from tests.fakebatch import FakeBatch, Fault

from .conftest import KEY, MODEL, cli, quick_remote

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=datetime.UTC)
# 450 x 4 words: 1,800 tokens in the fake (one a word); the local tokenizer makes it over the
# 2,048-token minimum the advice assumes for gemini-2.5-flash
SYSTEM = {"parts": [{"text": " ".join(f"rule{i} says be helpful" for i in range(450))}]}
DOCUMENT = " ".join(f"fact{i} is true" for i in range(450))


def cheap_storage(tmp: Path) -> Path:
    """Storage at $0.01 per 1M tokens an hour, so that a small test file's cache pays."""
    path = tmp / "cheap.yaml"
    path.write_text(
        'models:\n  gemini-2.5-flash:\n    cache_storage:\n      - usd_per_mtok_hour: "0.01"\n'
        "        source: test storage rate\n        checked: 2026-11-20\n"
    )
    return path


def system_requests(path: Path, n: int = 12) -> list[bytes]:
    """``n`` requests sharing a system instruction, then one without; returns the lines."""
    lines = [
        json.dumps(
            {"key": f"k{i}", "request": {"systemInstruction": SYSTEM, "contents": [
                {"role": "user", "parts": [{"text": f"question number {i} about things"}]}],
                "generationConfig": {"temperature": 0.5}}}
        ).encode() + b"\n"
        for i in range(n)
    ]  # fmt: skip
    lines.append(json.dumps({"key": "other", "request": {"contents": [{"parts": [{"text": "no system"}]}]}}).encode())
    path.write_bytes(b"".join(lines) + b"\n")
    return [*lines[:-1], lines[-1] + b"\n"]


def shard_with_cache(tmp: Path, requests: Path, *extra: str) -> tuple[Path, dict]:
    out = tmp / "shards"
    code, text, err = cli(
        "shard", str(requests), "--out", str(out), "-m", MODEL, "--offline", "--run-date", "2026-11-27",
        "-q", "--max-requests", "5", "--output-tokens", "16", "--prices", str(cheap_storage(tmp)), "--apply-cache",
        *extra,
    )  # fmt: skip
    assert code == 0, err
    return out / "manifest.json", {"text": text}


def shard_lines(manifest: Path) -> list[bytes]:
    doc = json.loads(manifest.read_text())
    return [line for s in doc["shards"] for line in (manifest.parent / s["path"]).read_bytes().splitlines(True)]


def test_apply_cache_rewrites_members_keeps_other_lines_and_verifies(tmp_path: Path) -> None:
    original = system_requests(tmp_path / "req.jsonl")
    manifest, out = shard_with_cache(tmp_path, tmp_path / "req.jsonl")
    doc = json.loads(manifest.read_text())
    [cache] = doc["caches"]
    assert cache["id"] == "cache-1" and cache["kind"] == "system" and cache["candidate"] == "system-1"
    assert cache["content"] == {"systemInstruction": SYSTEM} and cache["joined"] is False
    assert cache["model"] == MODEL and cache["ttl_hours"] == "24" and cache["requests"] == 12
    assert [s["index"] for s in cache["shards"]] == [1, 2, 3]
    assert [r for s in cache["shards"] for r in s["lines"]] == [[1, 4], [5, 8], [9, 12]]
    assert doc["caches_not_applied"] == []
    assert "cache-1 (advice system-1): applied to 12 requests in shards 1, 2, 3" in out["text"]

    lines = shard_lines(manifest)
    assert lines[-1] == original[-1]  # not served by the cache: byte for byte
    for i, line in enumerate(lines[:-1]):
        assert json.loads(line) == {
            "key": f"k{i}",
            "request": {
                "contents": [{"role": "user", "parts": [{"text": f"question number {i} about things"}]}],
                "generationConfig": {"temperature": 0.5}, "cachedContent": "batchcost-cache:cache-1",
            },
        }  # fmt: skip
    code, text, _ = cli("shard", "--verify", str(manifest))
    assert code == 0, text
    assert "12 of them rewritten to use 1 cache" in text


def test_verify_catches_a_tampered_rewritten_line(tmp_path: Path) -> None:
    system_requests(tmp_path / "req.jsonl")
    manifest, _ = shard_with_cache(tmp_path, tmp_path / "req.jsonl")
    shard = manifest.parent / json.loads(manifest.read_text())["shards"][0]["path"]
    data = shard.read_bytes()
    shard.write_bytes(data.replace(b"question number 1 about", b"question number 7 about"))
    code, text, _ = cli("shard", "--verify", str(manifest))
    assert code == 1
    assert text.startswith(
        "FAILED: shard req.shard-001.jsonl line 2 (input line 2, rewritten to use a cache): this line plus cache-1's "
        "content is not the input request"
    )
    # a rewritten line that still sends the system instruction would be refused by the API (400)
    line = json.loads(data.splitlines()[0])
    line["request"]["systemInstruction"] = SYSTEM
    shard.write_bytes(json.dumps(line).encode() + b"\n" + b"".join(data.splitlines(True)[1:]))
    code, text, _ = cli("shard", "--verify", str(manifest))
    assert code == 1 and "sends systemInstruction, tools or toolConfig itself" in text.splitlines()[0]


def test_apply_cache_splits_a_content_at_the_shared_leading_part(tmp_path: Path) -> None:
    path = tmp_path / "doc.jsonl"
    path.write_bytes(
        b"".join(
            json.dumps({"key": f"q{i}", "request": {"contents": [
                {"role": "user", "parts": [{"text": DOCUMENT}, {"text": f"what about fact{i}?"}]}]}}).encode() + b"\n"
            for i in range(12)
        )
    )  # fmt: skip
    manifest, _ = shard_with_cache(tmp_path, path)
    [cache] = json.loads(manifest.read_text())["caches"]
    assert cache["kind"] == "leading_parts" and cache["joined"] is True
    assert cache["content"] == {"contents": [{"role": "user", "parts": [{"text": DOCUMENT}]}]}
    first = json.loads(shard_lines(manifest)[0])
    assert first["request"] == {
        "contents": [{"role": "user", "parts": [{"text": "what about fact0?"}]}],
        "cachedContent": "batchcost-cache:cache-1",
    }
    code, text, _ = cli("shard", "--verify", str(manifest))
    assert code == 0, text


def test_no_advised_cache_says_why_and_copies_every_line(tmp_path: Path) -> None:
    path = tmp_path / "req.jsonl"
    path.write_bytes(b'{"key": "a", "request": {"contents": [{"parts": [{"text": "hello"}]}]}}\n')
    manifest, out = shard_with_cache(tmp_path, path)
    doc = json.loads(manifest.read_text())
    assert doc["caches"] == [] and doc["caches_not_applied"][0]["candidate"] == "-"
    assert "not applied (advice): no explicit cache is advised" in out["text"]
    assert shard_lines(manifest) == [path.read_bytes()]


def run_submit(manifest: Path, fake: FakeBatch, **kw: object) -> object:
    return submit(manifest, yes=True, remote=quick_remote(fake), poll_s=0.001, sleep=lambda _s: None, **kw)


def test_submit_creates_one_cache_and_uploads_the_shards_referencing_it(tmp_path: Path, fake: FakeBatch) -> None:
    system_requests(tmp_path / "req.jsonl")
    manifest, _ = shard_with_cache(tmp_path, tmp_path / "req.jsonl")
    on_disk = shard_lines(manifest)
    done = run_submit(manifest, fake)
    [(name, made)] = fake.caches.items()
    assert made["model"] == f"models/{MODEL}" and made["ttl"] == "86400s"
    assert made["systemInstruction"] == SYSTEM and "contents" not in made
    assert made["displayName"].startswith("batchcost-cache-1-")
    uploaded = b"".join(f.data for f in fake.files)
    assert uploaded.count(f'"cachedContent":"{name}"'.encode()) == 12 and b"batchcost-cache:" not in uploaded
    assert shard_lines(manifest) == on_disk  # the shards keep their placeholder (and SHA-256)
    [entry] = done.journal.doc["caches"]  # type: ignore[attr-defined]
    assert entry["name"] == name and entry["tokens"] == 1800 and entry["deleted_at"] is None
    events = [e["event"] for e in done.journal.doc["events"]]  # type: ignore[attr-defined]
    assert events.index("cache created") < events.index("uploaded")


def test_killed_between_cache_created_and_journal_written_then_rerun_adopts_it(tmp_path: Path, fake: FakeBatch) -> None:
    system_requests(tmp_path / "req.jsonl")
    manifest, _ = shard_with_cache(tmp_path, tmp_path / "req.jsonl")
    env = {**os.environ, "GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": fake.base_url,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}  # fmt: skip
    env.pop("GOOGLE_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchcost", "submit", str(manifest), "--yes", "--poll", "0.01", "-q"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    fake.on_cache = lambda _cache: os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=120) == -signal.SIGKILL
    [entry] = json.loads((manifest.parent / "jobs.json").read_text())["caches"]
    assert entry["create_started_at"] is not None and entry["name"] is None and len(fake.caches) == 1

    fake.on_cache = None
    done = run_submit(manifest, fake)
    assert len(fake.caches) == 1 and len(fake.calls("cachedContents.create")) == 1
    [entry] = done.journal.doc["caches"]  # type: ignore[attr-defined]
    assert entry["name"] == next(iter(fake.caches))
    assert [e["event"] for e in done.journal.doc["events"] if e["event"].startswith("cache")] == [
        "cache found",
        "cache extended",  # to outlive the first job (48 h), beyond the one wave (24 h) it was made for
    ]  # type: ignore[attr-defined]


def test_cache_answer_lost_is_retried_without_a_second_cache(tmp_path: Path, fake: FakeBatch) -> None:
    system_requests(tmp_path / "req.jsonl")
    manifest, _ = shard_with_cache(tmp_path, tmp_path / "req.jsonl")
    fake.set_faults(Fault("cachedContents.create", status=0, reset=True, after=True, nth=1))
    run_submit(manifest, fake)
    assert len(fake.caches) == 1 and len(fake.calls("cachedContents.create")) == 1


def test_collect_deletes_the_cache_once_and_prices_it_against_the_advice(
    tmp_path: Path, fake: FakeBatch, env: dict[str, str]
) -> None:
    system_requests(tmp_path / "req.jsonl")
    manifest, _ = shard_with_cache(tmp_path, tmp_path / "req.jsonl")
    fake.clock = lambda: T0
    fake.polls_to_finish = 1  # every job ends at collect's first look
    run_submit(manifest, fake, clock=lambda: T0)
    prices = [str(tmp_path / "cheap.yaml")]
    later = T0 + datetime.timedelta(hours=2)
    got = collect(manifest.parent, remote=quick_remote(fake), prices=prices, clock=lambda: later, wait_s=0)
    assert fake.caches == {} and len(fake.calls("cachedContents.delete")) == 1
    # every result of a rewritten request read the cache: its tokens are in the prompt, as cached
    results = [
        json.loads(line)
        for p in sorted(manifest.parent.glob("*.results.jsonl"))
        for line in p.read_bytes().splitlines()
    ]
    cached = {r["key"]: r["response"]["usageMetadata"].get("cachedContentTokenCount") for r in results}
    assert cached == {**{f"k{i}": 1800 for i in range(12)}, "other": None}
    [cost] = got.caches
    assert cost.deleted and cost.tokens == 1800 and cost.hours == Decimal(2)
    assert cost.creation == Decimal(1800) * Decimal("0.30") / 10**6  # standard input rate of gemini-2.5-flash
    assert cost.storage == Decimal(1800) * 2 * Decimal("0.01") / 10**6  # the test's storage rate
    assert cost.cached_tokens == 12 * 1800
    assert cost.cached_reads == Decimal(12 * 1800) * Decimal("0.03") / 10**6  # batch cache-read rate
    assert cost.total == Decimal("0.00054") + Decimal("0.000036") + Decimal("0.000648")
    advice = json.loads(manifest.read_text())["caches"][0]["advice"]
    assert cost.advised == sum(Decimal(advice[k]) for k in ("creation", "storage", "cached_reads"))
    [entry] = got.journal.doc["caches"]
    assert entry["deleted_at"] == "2026-11-27T11:00:00Z"

    again = collect(manifest.parent, remote=quick_remote(fake), prices=prices, clock=lambda: later, wait_s=0)
    assert len(fake.calls("cachedContents.delete")) == 1 and again.caches[0].deleted  # never deleted twice

    code, text, err = cli("collect", str(manifest.parent), "--prices", prices[0], "-q", "--wait", "0")
    assert code == 0, err
    assert "cache-1 (" in text and "creation 1,800 tokens $0.000540" in text and "the advice priced $" in text


def test_cancel_deletes_the_cache(tmp_path: Path, fake: FakeBatch) -> None:
    system_requests(tmp_path / "req.jsonl")
    manifest, _ = shard_with_cache(tmp_path, tmp_path / "req.jsonl")
    fake.polls_to_finish = 100
    run_submit(manifest, fake, wait=False)
    assert len(fake.caches) == 1
    journal, cancelled = cancel(manifest.parent, remote=quick_remote(fake))
    assert cancelled and fake.caches == {}
    assert journal.doc["caches"][0]["deleted_at"] is not None
    assert "cache deleted" in [e["event"] for e in journal.doc["events"]]
    cancel(manifest.parent, remote=quick_remote(fake))
    assert len(fake.calls("cachedContents.delete")) == 1


def test_manifest_and_journal_with_caches_round_trip_through_their_contracts(tmp_path: Path, fake: FakeBatch) -> None:
    from batchcost.documents import load, to_builtins

    system_requests(tmp_path / "req.jsonl")
    manifest, _ = shard_with_cache(tmp_path, tmp_path / "req.jsonl")
    run_submit(manifest, fake, wait=False)
    for path, schema in ((manifest, "batchcost.shard-manifest/1"), (manifest.parent / "jobs.json", "batchcost.jobs/1")):
        doc = json.loads(path.read_text())
        typed = load(path, schema)
        assert typed.caches and json.dumps(to_builtins(typed), sort_keys=True) == json.dumps(doc, sort_keys=True)


def test_status_shows_each_cache_with_its_time_left(tmp_path: Path, fake: FakeBatch, env: dict[str, str]) -> None:
    import re

    from batchcost.cli.status import cache_line

    system_requests(tmp_path / "req.jsonl")
    manifest, _ = shard_with_cache(tmp_path, tmp_path / "req.jsonl")
    fake.polls_to_finish = 100
    run_submit(manifest, fake, wait=False)
    code, text, err = cli("status", str(manifest.parent))
    assert code == 4, err  # jobs still running
    [name] = fake.caches
    # made for the one wave (24 h) a moment ago, then kept for the 48 hours the first job can run
    assert re.search(rf"^cache cache-1 \(shards 1-3\): {name}, 1,800 tokens, expires in 1d 23h$", text, re.M), text
    entry = json.loads((manifest.parent / "jobs.json").read_text())["caches"][0]
    made = datetime.datetime.fromisoformat(entry["expires_at"])
    late = made + datetime.timedelta(hours=2, minutes=5)
    assert cache_line(entry, late).endswith("EXPIRED 2h 05m ago; requests still to run cannot read it")
    assert cache_line({**entry, "name": None}, late).endswith(
        ": not created yet (submit creates it before the first wave)"
    )
    cancel(manifest.parent, remote=quick_remote(fake))
    code, text, err = cli("status", str(manifest.parent))
    assert re.search(r"^cache cache-1 \(shards 1-3\): deleted \d{4}-\d\d-\d\d \d\d:\d\d UTC$", text, re.M), text


def test_a_wave_later_than_planned_extends_the_cache_its_job_reads(tmp_path: Path, fake: FakeBatch) -> None:
    system_requests(tmp_path / "req.jsonl")
    # one job at a time: 3 shards in 3 waves, so the cache is made for 3 x 24 h; no extension on time
    manifest, _ = shard_with_cache(tmp_path, tmp_path / "req.jsonl", "--concurrent-jobs", "1")
    now = [T0]
    fake.clock = lambda: now[0]
    fake.polls_to_finish = 1

    def slow(_s: float) -> None:  # every wait for a job takes 40 hours: the waves run late
        now[0] += datetime.timedelta(hours=40)

    done = submit(manifest, yes=True, remote=quick_remote(fake), poll_s=0.001, sleep=slow, clock=lambda: now[0])
    [entry] = done.journal.doc["caches"]  # type: ignore[attr-defined]
    assert Decimal(entry["ttl_hours"]) == 72
    extended = [e for e in done.journal.doc["events"] if e["event"] == "cache extended"]  # type: ignore[attr-defined]
    # the second wave starts 40 h in: its job may run 48 h, past the planned 72 h; the third, 80 h in, again
    assert [e["shard"] for e in extended] == [2, 3]
    assert entry["expires_at"].startswith("2026-12-02T17:")  # 80 h + 48 h after 2026-11-27 09:00
    assert len(fake.calls("cachedContents.update")) == 2
    prices = [str(tmp_path / "cheap.yaml")]
    collect(manifest.parent, remote=quick_remote(fake), prices=prices, clock=lambda: now[0], wait_s=0)
    results = [json.loads(line) for p in sorted(manifest.parent.glob("*.results.jsonl")) for line in p.read_bytes().splitlines()]  # fmt: skip
    assert not [r for r in results if "error" in r]  # every request read the cache
