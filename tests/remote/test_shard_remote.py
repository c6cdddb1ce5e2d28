"""`shard` with object storage: a URL input, a URL --out (each shard one object, the manifest last),
`--verify` there, and what a failure or Ctrl-C leaves (nothing)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

from batchcost.cli import main

DAY = ["--run-date", "2026-11-27"]
ARGS = ["-m", "gemini-2.5-flash", "--output-tokens", "300", "--offline", "--max-requests", "40", "-q", *DAY]


def _line(i: int) -> bytes:
    text = " ".join(f"w{j}" for j in range(i % 23 + 1))
    return json.dumps({"key": f"r{i}", "request": {"contents": [{"parts": [{"text": text}]}]}}).encode()


# CRLF on some lines and no newline at the end: every byte must come through as it is
CONTENT = b"".join(_line(i) + (b"\r\n" if i % 7 == 0 else b"\n") for i in range(199)) + _line(199)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _shards(fs: Any, prefix: str) -> dict[str, bytes]:
    return {p.rpartition("/")[2]: fs.cat(p) for p in sorted(fs.find(prefix))}


@pytest.mark.parametrize("compressed", [False, True])
def test_shards_in_object_storage_are_the_local_shards_byte_for_byte(compressed: bool, s3: Any, tmp_path: Path) -> None:
    data = gzip.compress(CONTENT, mtime=0) if compressed else CONTENT
    name = "in.jsonl.gz" if compressed else "in.jsonl"
    (tmp_path / name).write_bytes(data)
    s3.pipe(f"test-bucket/{name}", data)
    code, _, err = run("shard", str(tmp_path / name), "--out", str(tmp_path / "out"), *ARGS)
    assert code == 0, err
    code, out, err = run("shard", f"s3://test-bucket/{name}", "--out", "s3://test-bucket/shards/", *ARGS)
    assert code == 0, err
    remote = _shards(s3, "test-bucket/shards")
    local = {p.name: p.read_bytes() for p in sorted((tmp_path / "out").iterdir())}
    assert sorted(remote) == sorted(local) and len(local) == 6  # 5 shards of at most 40 lines, the manifest
    for shard in local:
        if shard != "manifest.json":
            assert remote[shard] == local[shard], shard
    manifest = json.loads(remote["manifest.json"])
    assert manifest["input"]["path"] == f"s3://test-bucket/{name}"
    assert manifest["shards"] == json.loads(local["manifest.json"])["shards"]
    assert b"".join(remote[s["path"]] for s in manifest["shards"]) == CONTENT + b"\n"
    code, out, err = run("shard", "--verify", "s3://test-bucket/shards/manifest.json")
    assert code == 0, err
    assert out.startswith("ok: all 200 input lines are in exactly one of 5 shards, once, byte for byte")


def test_verify_in_object_storage_finds_a_changed_shard_and_a_stray_one(s3: Any) -> None:
    s3.pipe("test-bucket/in.jsonl", CONTENT)
    code, _, err = run("shard", "s3://test-bucket/in.jsonl", "--out", "s3://test-bucket/shards", *ARGS)
    assert code == 0, err
    shard = "test-bucket/shards/in.shard-002.jsonl"
    lines = s3.cat(shard).split(b"\n")
    lines[3] = lines[4]
    s3.pipe(shard, b"\n".join(lines))
    s3.pipe("test-bucket/shards/old.shard-009.jsonl", b"{}\n")
    code, out, _ = run("shard", "--verify", "s3://test-bucket/shards/manifest.json")
    assert code == 1
    assert out.splitlines() == [
        "FAILED: shard in.shard-002.jsonl line 4 differs from input line 44; it is a copy of input line 45 "
        "(a line dropped, duplicated or moved?)",
        "FAILED: old.shard-009.jsonl in s3://test-bucket/shards is named like a shard but the manifest does not list "
        "it (left from another run?); uploading the folder would submit its requests too: remove it, or write the "
        "shards again with --force",
    ]


def test_a_non_empty_prefix_needs_force_and_force_replaces_only_the_set(s3: Any) -> None:
    s3.pipe("test-bucket/in.jsonl", CONTENT)
    s3.pipe("test-bucket/shards/notes.txt", b"keep me")
    code, _, err = run("shard", "s3://test-bucket/in.jsonl", "--out", "s3://test-bucket/shards", *ARGS)
    assert code == 2 and "s3://test-bucket/shards: is not empty (1 entry, e.g. 'notes.txt')" in err
    s3.pipe("test-bucket/shards/in.shard-007.jsonl", b"{}\n")
    code, _, err = run("shard", "s3://test-bucket/in.jsonl", "--out", "s3://test-bucket/shards", "--force", *ARGS)
    assert code == 0, err
    names = sorted(_shards(s3, "test-bucket/shards"))
    assert names == [*(f"in.shard-00{i}.jsonl" for i in range(1, 6)), "manifest.json", "notes.txt"]


def test_the_input_is_never_inside_the_output_prefix(s3: Any) -> None:
    s3.pipe("test-bucket/run/in.jsonl", CONTENT)
    code, _, err = run("shard", "s3://test-bucket/run/in.jsonl", "--out", "s3://test-bucket/run", "--force", *ARGS)
    assert code == 2 and "holds the input s3://test-bucket/run/in.jsonl" in err
    assert s3.cat("test-bucket/run/in.jsonl") == CONTENT


def test_a_failure_midway_leaves_no_object(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s3.pipe("test-bucket/in.jsonl", CONTENT)
    from batchcost.planner import shard_sinks

    real = shard_sinks.ObjectSink.close
    closed: list[str] = []

    def close(self: Any) -> None:
        real(self)
        closed.append(self.name)
        if len(closed) == 3:  # three shards complete, then Ctrl-C
            raise KeyboardInterrupt

    monkeypatch.setattr(shard_sinks.ObjectSink, "close", close)
    code, _, err = run("shard", "s3://test-bucket/in.jsonl", "--out", "s3://test-bucket/shards", *ARGS)
    assert code == 130, err
    assert len(closed) == 3
    assert s3.find("test-bucket/shards") == []
