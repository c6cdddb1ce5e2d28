"""`batchcost plan` and `batchcost shard` as a user runs them: output, files, exit codes, no tracebacks."""

from __future__ import annotations

import errno
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from batchcost.cli import main
from batchcost.planner import shard_sinks, shard_writer
from batchcost.planner.shard_writer import is_shard_set_file


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def limit_rows(out: str) -> dict[str, tuple[str, str]]:
    """The -v Limits table: each limit's value and its source, read from the numbered note the row points to."""
    block = out.split("\nLimits\n", 1)[1].split("\n\n", 1)[0].splitlines()
    notes: dict[str, str] = {}
    rows: dict[str, tuple[str, str]] = {}
    last = ""
    for line in block[1:]:  # the header first
        if row := re.fullmatch(r"  (\S.*?) {2,}(\S.*?) {2,}\[(\d+)\]", line):
            rows[row[1]] = (row[2], row[3])
        elif note := re.fullmatch(r"  \[(\d+)\] (.*)", line):
            last = note[1]
            notes[last] = note[2]
        else:
            notes[last] += " " + line.strip()
    return {label: (value, notes[number]) for label, (value, number) in rows.items()}


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
    assert out.splitlines()[0] == "Plan for gemini-2.5-flash: 4 shards in 1 wave; results in about 24 h, at most 48 h"
    assert "  Gemini Developer API, tier 1 assumed; up to 4 jobs in flight at once" in out
    assert f"Next: batchcost shard {src} -m gemini-2.5-flash --out DIR" in out
    assert len(out.splitlines()) <= 15
    code, out, err = run("plan", str(src), *COMMON, "--max-requests", "8", "--output-tokens", "100", "-v")
    assert code == 0, err
    limits = limit_rows(out)
    assert limits["requests per shard"] == ("8", "--max-requests")
    assert limits["enqueued tokens (all jobs in flight)"][0] == "3,000,000"
    assert "batch enqueued-token quota, tier 1" in limits["enqueued tokens (all jobs in flight)"][1]
    assert "billing tier 1 assumed" in out  # the notes


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
    code, out, _ = run("plan", str(src), *common, "-v")
    assert code == 0
    value, source = limit_rows(out)["enqueued tokens (all jobs in flight)"]
    assert value == "no limit" and source.startswith("UNKNOWN")
    assert "give --enqueued-token-limit T" in out  # the warning says what to do
    code, out, _ = run("plan", str(src), *common, "--enqueued-token-limit", "1000", "--format", "json")
    assert json.loads(out)["shards"]["limits"]["enqueued_tokens"]["value"] == 1000


def test_plan_with_an_oversized_request_exits_1(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 5)
    code, out, _ = run("plan", str(src), *COMMON, "--max-bytes", "100")
    assert code == 1
    assert "Cannot be submitted as is (a request alone exceeds a per-job limit):" in out
    assert out.startswith("Plan for gemini-2.5-flash: no shard can be made")
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
    assert code == 2 and out == ""
    assert err == (
        f"batchcost: error: {out_dir}: is not empty (1 entry, e.g. 'old.txt'); choose an empty or new folder, or pass "
        "--force if it holds an earlier shard set (--force replaces that set and nothing else)\n"
    )
    code, _, err = run("shard", str(src), "--out", str(out_dir), *COMMON, "--force", "--format", "json")
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["manifest.json", "old.txt", "req.shard-001.jsonl"]
    assert (out_dir / "old.txt").read_text() == "x"


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
    code, _, err = run("plan", str(tmp_path / "x.jsonl"), "--max-bytes", "lots")
    assert code == 2 and "'lots' is not a size like 500000000, 500MB or 1GiB" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["plan", "shard"])
def test_help_has_examples_and_exit_codes(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    assert "examples:" in out and "exit codes:" in out and f"batchcost {command} " in out
    assert "--max-tokens-per-shard" in out and "--enqueued-token-limit" in out and "--tier" in out


# -- issue 10: shard owns its folder; nothing lost or doubled; no traceback --------------------------


def shard_like(folder: Path) -> list[str]:
    """The files in ``folder`` named like shards or like a shard run's temporary files."""
    return sorted(p.name for p in folder.iterdir() if is_shard_set_file(p.name))


def shard_set_lines(folder: Path) -> list[bytes]:
    """Every line of every shard-like file in ``folder`` (what uploading the folder would submit)."""
    return [x for name in shard_like(folder) for x in (folder / name).read_bytes().splitlines(keepends=True)]


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for folders): a snapshot to compare."""
    return {
        str(p.relative_to(root)): (None if p.is_dir() and not p.is_symlink() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def test_stale_shards_without_their_manifest_are_replaced_by_force(tmp_path: Path) -> None:
    # issue 10: 12 shard files and 1,800 lines for a 1,000-line input, and --verify said "ok"
    src = write(tmp_path / "g1k.jsonl", 1000)
    d = tmp_path / "d"
    assert run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "100")[0] == 0
    assert len(shard_like(d)) == 10
    (d / "manifest.json").unlink()
    (d / "notes.txt").write_text("mine")
    code, out, err = run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "500", "--force")
    assert code == 0, err
    assert out.startswith(f"wrote 2 shards (1,000 requests, {src.stat().st_size:,} bytes)")
    assert sorted(p.name for p in d.iterdir()) == [
        "g1k.shard-001.jsonl",
        "g1k.shard-002.jsonl",
        "manifest.json",
        "notes.txt",
    ]
    lines = shard_set_lines(d)
    assert len(lines) == 1000
    assert sorted(lines) == sorted(src.read_bytes().splitlines(keepends=True))  # every input line exactly once
    assert (d / "notes.txt").read_text() == "mine"
    code, out, _ = run("shard", "--verify", str(d / "manifest.json"))
    assert (code, out) == (0, "ok: all 1,000 input lines are in exactly one of 2 shards, once, byte for byte; every "
                              "SHA-256 matches and every shard is within its limits\n")  # fmt: skip


def test_ctrl_c_mid_shard_exits_130_and_leaves_no_shard_then_force_writes_each_line_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write(tmp_path / "g1k.jsonl", 1000)
    d = tmp_path / "d"
    assert run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "250")[0] == 0
    (d / "notes.txt").write_text("mine")
    closed: list[str] = []
    real_close = shard_sinks.FileSink.close

    def close(self: shard_sinks.FileSink) -> None:
        if len(closed) == 3:  # three shards done, the fourth being written
            raise KeyboardInterrupt
        real_close(self)
        closed.append(self.name)

    monkeypatch.setattr(shard_sinks.FileSink, "close", close)
    code, out, err = run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "100", "--force")
    assert (code, out, err) == (130, "", "\nbatchcost: interrupted\n")
    assert closed == [f"g1k.shard-{i:03d}.jsonl" for i in (1, 2, 3)]
    # the earlier set was removed before writing; nothing of this run is left, temporary or finished
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt"]
    monkeypatch.undo()
    code, _, err = run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "100", "--force")
    assert code == 0, err
    assert len(shard_like(d)) == 10
    lines = shard_set_lines(d)
    assert len(lines) == 1000 and sorted(lines) == sorted(src.read_bytes().splitlines(keepends=True))
    assert run("shard", "--verify", str(d / "manifest.json"))[0] == 0


def test_force_clears_what_a_killed_run_left(tmp_path: Path) -> None:
    # what a killed run of an earlier version left: finished shards, a partial temporary file, no manifest
    # (issue 10: 328,661 lines for 198,992 requests after --force, and --verify "ok")
    src = write(tmp_path / "g1k.jsonl", 1000)
    d = tmp_path / "d"
    assert run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "100")[0] == 0
    (d / "manifest.json").unlink()
    (d / "g1k.shard-004.jsonl").rename(d / ".g1k.shard-004.jsonl.q8w7e6r5.tmp")
    (d / ".manifest.json.a1s2d3f4.tmp").write_text("{")
    code, _, err = run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "300", "--force")
    assert code == 0, err
    assert shard_like(d) == [f"g1k.shard-{i:03d}.jsonl" for i in (1, 2, 3, 4)]
    assert not [p.name for p in d.iterdir() if p.name.endswith(".tmp")]
    lines = shard_set_lines(d)
    assert len(lines) == 1000 and sorted(lines) == sorted(src.read_bytes().splitlines(keepends=True))
    assert run("shard", "--verify", str(d / "manifest.json"))[0] == 0


def test_ctrl_c_while_a_chunk_is_written_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 10: 2 of 29 Ctrl-Cs gave BufferError and exit 1 (the map was closed while the traceback
    # still held the chunk being written)
    src = write(tmp_path / "req.jsonl", 40)
    monkeypatch.setattr(shard_writer, "_CHUNK", 100)
    real_write = shard_sinks.FileSink.write
    calls: list[int] = []

    def write_(self: shard_sinks.FileSink, data: bytes | memoryview, lines: int) -> None:
        calls.append(len(data))
        if len(calls) == 25:
            raise KeyboardInterrupt
        real_write(self, data, lines)

    monkeypatch.setattr(shard_sinks.FileSink, "write", write_)
    d = tmp_path / "d"
    code, out, err = run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "10")
    assert (code, out, err, len(calls)) == (130, "", "\nbatchcost: interrupted\n", 25)
    assert not d.exists()  # the folder this run created is gone again


def test_verify_fails_on_every_shard_like_file_the_manifest_does_not_list(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 30)
    d = tmp_path / "d"
    assert run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "10")[0] == 0
    (d / "req.shard-004.jsonl").write_bytes((d / "req.shard-001.jsonl").read_bytes())
    (d / ".req.shard-002.jsonl.x1y2z3w4.tmp").write_bytes(b"{")
    (d / "README.txt").write_text("not shard-like")
    code, out, err = run("shard", "--verify", str(d / "manifest.json"))
    assert code == 1 and err == ""
    assert out.splitlines() == [
        f"FAILED: .req.shard-002.jsonl.x1y2z3w4.tmp in {d} is a temporary file of a batchcost shard run that did not "
        "finish: remove it, or write the shards again with --force",
        f"FAILED: req.shard-004.jsonl in {d} is named like a shard but the manifest does not list it (left from "
        "another run?); uploading the folder would submit its requests too: remove it, or write the shards again "
        "with --force",
    ]
    code, out, _ = run("shard", "--verify", str(d / "manifest.json"), "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and len(doc["problems"]) == 2 and doc["message"] == doc["problems"][0]


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda doc: doc["shards"][0].update(sha256=None), "field shards[0].sha256 is null, expected a string"),
        (lambda doc: doc["input"].pop("lines"), "field input.lines is missing"),
        (lambda doc: doc.update(shards="all"), "field shards is a string, expected a list"),
        (
            lambda doc: doc["input"].update(size="big"),
            "field input.size is a string, expected a whole number, 0 or more",
        ),
    ],
)
def test_verify_with_a_malformed_manifest_is_one_line_exit_2(tmp_path: Path, edit: Any, said: str) -> None:
    src = write(tmp_path / "req.jsonl", 12)
    d = tmp_path / "d"
    assert run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "6")[0] == 0
    path = d / "manifest.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    code, out, err = run("shard", "--verify", str(path))
    assert (code, out) == (2, "")
    assert err == (
        f"batchcost: error: {path}: {said}; give the manifest.json that `batchcost shard` wrote, or write the "
        "shards again\n"
    )


@pytest.mark.parametrize("content", [b"not json", b"[]", b'"text"', b""])
def test_verify_with_something_that_is_not_a_manifest_is_one_line_exit_2(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(content)
    code, out, err = run("shard", "--verify", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"batchcost: error: {path}: not ") and err.count("\n") == 1


class FullDisk:
    """A file whose writes fail with ENOSPC once the disk's remaining ``budget`` bytes are used."""

    def __init__(self, fh: Any, budget: list[int]) -> None:
        self.fh = fh
        self.budget = budget

    def write(self, data: bytes | memoryview) -> int:
        if len(data) > self.budget[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget[0] -= len(data)
        return int(self.fh.write(data))

    def flush(self) -> None:
        self.fh.flush()

    def fileno(self) -> int:
        return int(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _inside(fd_or_path: int | str | os.PathLike[str], folder: Path) -> bool:
    where = os.readlink(f"/proc/self/fd/{fd_or_path}") if isinstance(fd_or_path, int) else os.fspath(fd_or_path)
    return os.path.abspath(where).startswith(str(folder) + os.sep)


def full_disk(monkeypatch: pytest.MonkeyPatch, folder: Path, budget: int) -> None:
    """Files opened in ``folder`` share ``budget`` bytes of free space; then writes fail with ENOSPC."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to tell which files are in the folder")
    real = os.fdopen
    left = [budget]

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        fh = real(fd, *args, **kwargs)
        return FullDisk(fh, left) if _inside(fd, folder) else fh

    monkeypatch.setattr(os, "fdopen", fdopen)


def read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Creating files or folders in ``folder`` (or creating it) fails with EACCES, as for a read-only folder."""
    real_open, real_mkdir = os.open, os.mkdir

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and _inside(path, folder):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.path.abspath(path) == str(folder) or _inside(path, folder):
            raise PermissionError(errno.EACCES, "Permission denied")
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "mkdir", mkdir)


@pytest.mark.parametrize("budget", [0, 1500, 3340])
def test_full_disk_is_one_line_exit_2_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    # 3,340 bytes: every shard fits, the manifest does not
    src = write(tmp_path / "req.jsonl", 20)
    assert src.stat().st_size == 3340
    d = tmp_path / "d"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    full_disk(monkeypatch, d, budget)
    code, out, err = run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "7", "--force")
    assert (code, out) == (2, "")
    which = {0: "req.shard-001.jsonl", 1500: "req.shard-002.jsonl", 3340: "manifest.json"}[budget]
    assert (
        err
        == f"batchcost: error: {d / which}: cannot be written: the disk is full; free some space or write elsewhere\n"
    )
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt"]


def test_read_only_folder_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write(tmp_path / "req.jsonl", 20)
    d = tmp_path / "d"
    d.mkdir()
    read_only(monkeypatch, d)
    code, out, err = run("shard", str(src), "--out", str(d), *COMMON)
    assert (code, out) == (2, "")
    assert err == (
        f"batchcost: error: {d / 'req.shard-001.jsonl'}: cannot be written: Permission denied; choose a folder you "
        "can write to\n"
    )
    assert list(d.iterdir()) == []
    code, out, err = run("shard", str(src), "--out", str(d / "new"), *COMMON)
    assert (code, out) == (2, "")
    assert err == (
        f"batchcost: error: {d / 'new'}: cannot create the folder: Permission denied; choose a folder you can write to\n"
    )
    # a read-only folder holding an earlier set: the set cannot be removed, and is left whole
    monkeypatch.undo()
    assert run("shard", str(src), "--out", str(d), *COMMON, "--max-requests", "7")[0] == 0
    before = tree(d)
    monkeypatch.setattr(
        os, "unlink", lambda *a, **k: (_ for _ in ()).throw(PermissionError(errno.EACCES, "Permission denied"))
    )
    code, _, err = run("shard", str(src), "--out", str(d), *COMMON, "--force")
    assert code == 2
    assert err == (
        f"batchcost: error: {d / 'manifest.json'}: cannot be removed: Permission denied; choose a folder you can "
        "write to\n"
    )
    assert tree(d) == before


def test_out_that_is_a_file_or_goes_through_one_is_exit_2(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 5)
    for out_path, said in (
        (src, "is a file, not a folder; give a folder for the shards (a missing one is created)"),
        (src / "sub", f"is a path through the file {src}; give a folder for the shards"),
    ):
        code, out, err = run("shard", str(src), "--out", str(out_path), *COMMON)
        assert (code, out, err) == (2, "", f"batchcost: error: {out_path}: {said}\n")
    assert src.read_bytes() == write(tmp_path / "again.jsonl", 5).read_bytes()


@pytest.mark.parametrize("name", ["manifest.json", "req.shard-001.jsonl", "req.jsonl"])
def test_an_input_inside_out_is_never_touched(tmp_path: Path, name: str) -> None:
    # issue 10: an input named manifest.json inside --out was overwritten by shard --force
    d = tmp_path / "d"
    d.mkdir()
    src = write(d / name, 8)
    before = tree(d)
    for force in ((), ("--force",)):
        code, out, err = run("shard", str(src), "--out", str(d), *COMMON, *force)
        assert (code, out) == (2, "")
        assert err == (
            f"batchcost: error: {d}: holds the input {src}; shards beside the input would submit its requests twice "
            "if the folder is uploaded, and batchcost never replaces or removes an input: choose a folder without it\n"
        )
    assert tree(d) == before


# -- a property: every kind of --out either gives the right set or is refused with nothing changed ----

OUT_KINDS = (
    "empty", "missing", "missing-deep", "unrelated-file", "old-set", "old-set-no-manifest", "killed-run",
    "foreign-manifest", "a-file", "through-a-file", "holds-input", "holds-input-as-manifest", "read-only",
    "full-disk",
)  # fmt: skip


def every_kind(test: Any) -> Any:
    """Run each kind of --out with and without --force first, whatever hypothesis draws after."""
    for kind in OUT_KINDS:
        for force in (False, True):
            test = example(kind=kind, force=force, max_requests=7, budget=1500)(test)
    return test


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@every_kind
@given(
    kind=st.sampled_from(OUT_KINDS), force=st.booleans(), max_requests=st.integers(3, 25), budget=st.integers(0, 3339)
)
def test_every_kind_of_out_folder(
    tmp_path_factory: pytest.TempPathFactory, kind: str, force: bool, max_requests: int, budget: int
) -> None:
    base = tmp_path_factory.mktemp("out-kinds")
    src = write(base / "req.jsonl", 20)
    out = base / "out"
    unrelated = {"notes.txt": b"mine", "data.csv": b"a,b\n"}
    if kind == "missing-deep":
        out = base / "a" / "b" / "out"
    elif kind in ("empty", "read-only", "full-disk"):
        out.mkdir()
    elif kind == "unrelated-file":
        out.mkdir()
        for name, data in unrelated.items():
            (out / name).write_bytes(data)
    elif kind in ("old-set", "old-set-no-manifest", "killed-run"):
        assert run("shard", str(src), "--out", str(out), *COMMON, "--max-requests", "4")[0] == 0
        (out / "notes.txt").write_bytes(unrelated["notes.txt"])
        if kind != "old-set":
            (out / "manifest.json").unlink()
        if kind == "killed-run":
            (out / "req.shard-005.jsonl").rename(out / ".req.shard-005.jsonl.abcd1234.tmp")
    elif kind == "foreign-manifest":
        out.mkdir()
        (out / "manifest.json").write_text('{"project": "mine"}')
    elif kind in ("a-file", "through-a-file"):
        (base / "afile").write_text("keep")
        out = base / "afile" if kind == "a-file" else base / "afile" / "out"
    elif kind in ("holds-input", "holds-input-as-manifest"):
        out.mkdir()
        src = src.rename(out / ("manifest.json" if kind == "holds-input-as-manifest" else "req.jsonl"))
    input_bytes = src.read_bytes()
    before = tree(base)
    with pytest.MonkeyPatch.context() as mp:
        if kind == "read-only":
            read_only(mp, out)
        elif kind == "full-disk":
            full_disk(mp, out, budget)
        argv = ["shard", str(src), "--out", str(out), *COMMON, "--max-requests", str(max_requests)]
        code, stdout, err = run(*argv, *(["--force"] if force else []))

    assert src.read_bytes() == input_bytes
    writable = kind in ("empty", "missing", "missing-deep") or (
        force and kind in ("unrelated-file", "old-set", "old-set-no-manifest", "killed-run")
    )
    if not writable:
        assert (code, stdout) == (2, ""), err
        assert err.startswith("batchcost: error: ") and err.count("\n") == 1
        assert tree(base) == before  # nothing written, nothing removed, no folder created
        return
    assert (code, err) == (0, "")
    manifest = json.loads((out / "manifest.json").read_text())
    listed = [s["path"] for s in manifest["shards"]]
    assert shard_like(out) == listed == [f"req.shard-{i:03d}.jsonl" for i in range(1, len(listed) + 1)]
    assert len(listed) == -(-20 // max_requests)
    lines = shard_set_lines(out)
    assert len(lines) == 20 and sorted(lines) == sorted(input_bytes.splitlines(keepends=True))
    others = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "manifest.json" and p.name not in listed}
    assert others == {"empty": {}, "missing": {}, "missing-deep": {}, "unrelated-file": unrelated}.get(
        kind, {"notes.txt": unrelated["notes.txt"]}
    )
    assert run("shard", "--verify", str(out / "manifest.json"))[0] == 0


def test_plan_verbose_notes_and_limits_read_at_100_columns(tmp_path: Path) -> None:
    src = write(tmp_path / "req.jsonl", 5)
    code, out, err = run("plan", str(src), "-m", "gemini-3.8-flash", "--offline", "-v")
    assert code == 0, err
    assert max(len(line) for line in out.splitlines() if not line.startswith("Next: ")) <= 100, out  # a command
    notes = out.split("\nNotes\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert all(line.startswith(("  - ", "    ")) and not line.startswith("  -   ") for line in notes), notes
    assert limit_rows(out)["bytes per shard"][0] == "2,000,000,000"
