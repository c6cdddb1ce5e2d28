"""`batchcost plan` and `batchcost shard` as a user runs them: output, files, exit codes, no tracebacks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from batchcost.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def write(path: Path, n: int, *, crlf: bool = False, last_newline: bool = True) -> Path:
    end = b"\r\n" if crlf else b"\n"
    lines = []
    for i in range(n):
        req = {"contents": [{"role": "user", "parts": [{"text": f"Zusammenfassung Nr. {i}: ✓ " * (1 + i % 5)}]}]}
        lines.append(json.dumps({"key": f"r{i}", "request": req}, ensure_ascii=False).encode())
    data = end.join(lines) + (end if last_newline else b"")
    path.write_bytes(data)
    return path


COMMON = ("--model", "gemini-2.5-flash", "--offline", "--run-date", "2026-11-27", "--quiet")


def test_plan_table(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 30)
    code, out, err = run("plan", str(src), *COMMON, "--max-requests", "8", "--output-tokens", "100")
    assert code == 0, err
    assert out.startswith(f"shard plan: {src} on gemini-2.5-flash, Gemini Developer API, tier 1 (assumed)\n")
    assert "4 shards in 1 wave (up to 4 in flight at once)" in out
    limits = {ln.split("  ")[1]: ln.split() for ln in out.splitlines() if ln.startswith("  ") and "  " in ln[2:]}
    assert limits["requests per shard"][-2:] == ["8", "--max-requests"]
    assert "3,000,000" in limits["enqueued tokens (all jobs in flight)"]
    assert "time: 1 wave: expect results within about 24 h" in out
    assert "billing tier 1 assumed" in out


def test_plan_json_is_the_documented_contract(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 30)
    code, out, _ = run("plan", str(src), *COMMON, "--max-requests", "8", "--tier", "2", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "batchcost.shard-plan/1"
    s = doc["shards"]
    assert s["schema"] == "batchcost.shards/1"
    assert (s["tier"], s["tier_assumed"], s["platform"]) == (2, False, "developer")
    assert s["limits"]["enqueued_tokens"]["value"] == 400_000_000
    assert s["totals"]["requests"] == 30 and s["totals"]["shards"] == 4
    assert s["totals"]["bytes"] == src.stat().st_size
    assert [sh["requests"] for sh in s["shards"]] == [sh["lines"][0][1] - sh["lines"][0][0] + 1 for sh in s["shards"]]
    assert s["cost_basis"] == "floor"


def test_plan_on_vertex_and_unknown_quota(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 5)
    code, out, _ = run("plan", str(src), *COMMON, "--platform", "vertex", "--format", "json")
    assert code == 0
    s = json.loads(out)["shards"]
    assert s["limits"]["max_bytes"]["value"] == 1_000_000_000
    assert s["limits"]["max_requests"]["value"] == 200_000
    assert s["tier"] is None
    assert any("input is in developer form but the limits are for the vertex platform" in n for n in s["notes"])
    common = [a if a != "gemini-2.5-flash" else "gemini-3.8-flash" for a in COMMON]
    code, out, _ = run("plan", str(src), *common)
    assert code == 0
    assert "enqueued tokens (all jobs in flight)       no limit  UNKNOWN" in out
    assert "give --enqueued-token-limit T" in out
    code, out, _ = run("plan", str(src), *common, "--enqueued-token-limit", "1000", "--format", "json")
    assert json.loads(out)["shards"]["limits"]["enqueued_tokens"]["value"] == 1000


def test_plan_with_an_oversized_request_exits_1(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 5)
    code, out, _ = run("plan", str(src), *COMMON, "--max-bytes", "100")
    assert code == 1
    assert "cannot be submitted as is (a request alone exceeds a per-job limit):" in out
    assert "line 1: " in out and "bytes > 100 (max_bytes)" in out


def test_shard_then_verify_round_trip_crlf_no_final_newline(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 25, crlf=True, last_newline=False)
    out_dir = tmp_path / "shards"
    code, out, err = run("shard", str(src), "--out", str(out_dir), *COMMON, "--max-requests", "10")
    assert code == 0, err
    assert out.startswith(
        f"wrote 3 shards (25 requests, {src.stat().st_size + 1:,} bytes) and {out_dir / 'manifest.json'}"
    )
    assert f"check them with: batchcost shard --verify {out_dir / 'manifest.json'}" in out
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["manifest.json", "req.shard-001.jsonl", "req.shard-002.jsonl", "req.shard-003.jsonl"]
    joined = b"".join((out_dir / n).read_bytes() for n in names[1:])
    assert joined == src.read_bytes() + b"\n"  # contiguous shards: the file, plus the added last newline
    code, out, _ = run("shard", "--verify", str(out_dir / "manifest.json"))
    assert code == 0
    assert out.startswith("ok: all 25 input lines are in exactly one of 3 shards, once, byte for byte")


def test_verify_names_a_tampered_shard_and_exits_1(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 12)
    out_dir = tmp_path / "shards"
    assert run("shard", str(src), "--out", str(out_dir), *COMMON, "--max-requests", "6")[0] == 0
    shard = out_dir / "req.shard-002.jsonl"
    kept = shard.read_bytes().splitlines(keepends=True)
    shard.write_bytes(b"".join(kept[:-1]))
    code, out, _ = run("shard", "--verify", str(out_dir / "manifest.json"), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False
    assert (
        doc["message"]
        == "shard req.shard-002.jsonl ends after 5 lines; the manifest lists 6: input line 12 is missing from it"
    )


def test_shard_refuses_a_non_empty_folder_unless_force(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 6)
    out_dir = tmp_path / "shards"
    out_dir.mkdir()
    (out_dir / "old.txt").write_text("x")
    code, out, err = run("shard", str(src), "--out", str(out_dir), *COMMON)
    assert code == 1 and out == ""
    assert err.startswith(f"batchcost: error: {out_dir} is not empty (1 entry, e.g. 'old.txt')")
    code, _, err = run("shard", str(src), "--out", str(out_dir), *COMMON, "--force", "--format", "json")
    assert code == 0, err
    assert (out_dir / "req.shard-001.jsonl").exists()


def test_shard_refuses_invalid_input(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"key": "a", "request": {"contents": [{"parts": [{"text": "x"}]}]}}\n{oops\n')
    code, _, err = run("shard", str(src), "--out", str(tmp_path / "o"), *COMMON)
    assert code == 1
    assert "has 1 validation error (not-json (1)); sharding it would spread them over the shards" in err
    assert "Traceback" not in err


def test_shard_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run("shard", "--model", "gemini-2.5-flash")
    assert code == 2 and "give FILE and --out DIR (or --verify MANIFEST)" in err
    code, _, err = run("shard", "x.jsonl", "--verify", "m.json")
    assert code == 2 and "--verify takes only the manifest" in err
    code, _, err = run("shard", "--verify", str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in err
    code, _, _ = run("plan", str(tmp_path / "x.jsonl"), "--max-bytes", "lots")  # argparse writes to sys.stderr
    assert code == 2 and "'lots' is not a size like 500000000, 500MB or 1GiB" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["plan", "shard"])
def test_help_has_examples_and_exit_codes(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(command, "--help")
    out = capsys.readouterr().out
    assert code == 0
    assert "examples:" in out and "exit codes:" in out and f"batchcost {command} " in out
    assert "--max-tokens-per-shard" in out and "--enqueued-token-limit" in out and "--tier" in out
