"""Writing shards and proving them: round trips on awkward files, tampering caught, atomic writes."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchcost.batchfile import FileLimits, ScanResult, scan
from batchcost.errors import InputError, OutputError, PlanError
from batchcost.planner import shard_sinks, shard_writer
from batchcost.planner.shard_writer import MANIFEST_NAME, Manifest, verify_manifest, write_shards
from batchcost.planner.shards import ShardLimits, ShardPlan, plan_shards


def line(i: int, text: str = "hello", vertex: bool = False) -> bytes:
    request = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    obj = {"request": request} if vertex else {"key": f"k{i}", "request": request}
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def make_file(path: Path, lines: list[bytes], ends: list[bytes], *, gz: bool = False) -> Path:
    data = b"".join(x + e for x, e in zip(lines, ends, strict=True))
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


def plan_for(result: ScanResult, **limits: Any) -> ShardPlan:
    """A plan from the scan alone (tokens ~ bytes / 4): no tokenizer needed."""
    nb = result.rows["nbytes"].astype(np.int64) + 1
    groups = limits.pop("groups", None)
    limits.setdefault("max_bytes", 2_000_000_000)
    return plan_shards(nbytes=nb, tokens=nb // 4, groups=groups, limits=ShardLimits(**limits))


def normalised_lines(path: Path) -> list[bytes]:
    """The input's lines as shards must hold them: own line end kept, a missing last newline added."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        data = fh.read()
    out = data.splitlines(keepends=True)
    if out and not out[-1].endswith(b"\n"):
        out[-1] += b"\n"
    return out


def shard_lines(manifest: Manifest, out: Path) -> dict[int, bytes]:
    """Input line number -> the bytes of its copy, from the shard files and the manifest's line lists."""
    found: dict[int, bytes] = {}
    for s in manifest.shards:
        copies = (out / s.path).read_bytes().splitlines(keepends=True)
        numbers = [n for a, b in s.lines for n in range(a, b + 1)]
        assert len(copies) == len(numbers)
        for n, c in zip(numbers, copies, strict=True):
            assert n not in found
            found[n] = c
    return found


# -- round trips ---------------------------------------------------------------------------------------

texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x85\u2028\u2029"),
    min_size=0,
    max_size=40,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(texts, st.sampled_from([b"\n", b"\r\n"])), min_size=1, max_size=25),
    st.booleans(),
    st.booleans(),
    st.integers(1, 6),
    st.booleans(),
)
def test_round_trip_any_text_line_ends_and_compression(
    rows: list[tuple[str, bytes]], last_newline: bool, gz: bool, max_requests: int, grouped: bool
) -> None:
    lines = [line(i, t) for i, (t, _) in enumerate(rows)]
    ends = [e for _, e in rows]
    if not last_newline:
        ends[-1] = b""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        src = make_file(d / ("in.jsonl.gz" if gz else "in.jsonl"), lines, ends, gz=gz)
        result = scan(src)
        assert result.valid(), result.problems
        groups = [i % 3 - 1 for i in range(len(lines))] if grouped else None
        sp = plan_for(result, max_requests=max_requests, groups=groups)
        manifest = write_shards(result, sp, d / "out")
        assert manifest.input.last_line_newline_added == (not last_newline)
        assert manifest.input.compressed == gz
        copies = shard_lines(manifest, d / "out")
        assert [copies[n] for n in range(1, len(lines) + 1)] == normalised_lines(src)
        check = verify_manifest(d / "out" / MANIFEST_NAME)
        assert check.ok, check.message
        assert (check.lines, check.shards) == (len(lines), len(sp.shards))


def test_multibyte_crlf_and_no_final_newline(tmp_path: Path) -> None:
    texts_ = ["naïve café", "日本語のテキスト", "emoji 🚀🚀", "plain", "Ελληνικά"]
    lines = [line(i, t) for i, t in enumerate(texts_)]
    src = make_file(tmp_path / "u.jsonl", lines, [b"\r\n", b"\n", b"\r\n", b"\n", b""])
    result = scan(src)
    sp = plan_for(result, max_requests=2)
    m = write_shards(result, sp, tmp_path / "out")
    assert [s.path for s in m.shards] == ["u.shard-001.jsonl", "u.shard-002.jsonl", "u.shard-003.jsonl"]
    assert (tmp_path / "out" / "u.shard-001.jsonl").read_bytes() == lines[0] + b"\r\n" + lines[1] + b"\n"
    last = m.shards[-1]
    assert last.last_line == 5
    assert (tmp_path / "out" / last.path).read_bytes().endswith(b"\n" + lines[4] + b"\n")
    assert m.input.last_line_newline_added
    doc = json.loads((tmp_path / "out" / MANIFEST_NAME).read_text())
    assert doc["schema"] == "batchcost.shard-manifest/1"
    assert doc["input"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert doc["input"]["size"] == src.stat().st_size and doc["input"]["lines"] == 5
    assert doc["shards"][0]["lines"] == [[1, 2]] and doc["shards"][0]["first_line"] == 1
    assert (
        doc["shards"][0]["sha256"] == hashlib.sha256((tmp_path / "out" / "u.shard-001.jsonl").read_bytes()).hexdigest()
    )
    assert any("input line 5 had no newline" in n for n in doc["notes"])
    res = verify_manifest(tmp_path / "out" / MANIFEST_NAME)
    assert res.ok and "(the last had no newline; its copy has one)" in res.message


def test_vertex_form_stays_vertex_form(tmp_path: Path) -> None:
    lines = [line(i, f"q{i}", vertex=True) for i in range(7)]
    src = make_file(tmp_path / "v.jsonl", lines, [b"\n"] * 7)
    result = scan(src)
    m = write_shards(result, plan_for(result, max_requests=3), tmp_path / "out")
    assert m.input.form == "vertex"
    for s in m.shards:
        for raw in (tmp_path / "out" / s.path).read_bytes().splitlines():
            assert set(json.loads(raw)) == {"request"}
    assert verify_manifest(tmp_path / "out" / MANIFEST_NAME).ok


def test_gzip_with_interleaved_groups_over_several_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # groups make every shard span the file; with at most 2 open files the copy takes several passes
    monkeypatch.setattr(shard_writer, "_MAX_OPEN", 2)
    n = 24
    lines = [line(i, "x" * i) for i in range(n)]
    src = make_file(tmp_path / "g.jsonl.gz", lines, [b"\n"] * n, gz=True)
    result = scan(src)
    sp = plan_for(result, max_requests=4, groups=[i % 6 for i in range(n)])
    assert len(sp.shards) == 6 and all(len(s.line_ranges()) == 4 for s in sp.shards)
    m = write_shards(result, sp, tmp_path / "out")
    copies = shard_lines(m, tmp_path / "out")
    assert [copies[k] for k in range(1, n + 1)] == normalised_lines(src)
    assert verify_manifest(tmp_path / "out" / MANIFEST_NAME).ok


def test_file_too_large_for_one_job_can_be_sharded(tmp_path: Path) -> None:
    lines = [line(i) for i in range(6)]
    src = make_file(tmp_path / "big.jsonl", lines, [b"\n"] * 6)
    result = scan(src, limits=FileLimits(developer_max_bytes=200))
    assert result.problem_counts.get("file-too-large") == 1 and not result.valid()
    sp = plan_for(result, max_bytes=200)
    m = write_shards(result, sp, tmp_path / "out")
    assert all(s.bytes <= 200 for s in m.shards) and len(m.shards) > 1
    assert verify_manifest(tmp_path / "out" / MANIFEST_NAME).ok


# -- refusals -------------------------------------------------------------------------------------------


def test_invalid_input_is_refused(tmp_path: Path) -> None:
    src = make_file(tmp_path / "bad.jsonl", [line(0), b"{oops", line(0)], [b"\n"] * 3)
    result = scan(src)
    with pytest.raises(PlanError, match=r"2 validation errors \(key-duplicate \(1\), not-json \(1\)\); sharding"):
        write_shards(result, plan_for(result), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_stem_must_be_a_plain_name(tmp_path: Path) -> None:
    src = make_file(tmp_path / "s.jsonl", [line(0)], [b"\n"])
    result = scan(src)
    for bad in ("../escape", ".hidden", "two\nlines"):
        with pytest.raises(OutputError, match="must be a plain file name"):
            write_shards(result, plan_for(result), tmp_path / "out", stem=bad)
    assert not (tmp_path / "out").exists()
    m = write_shards(result, plan_for(result), tmp_path / "out2", stem="batch-A")
    assert [s.path for s in m.shards] == ["batch-A.shard-001.jsonl"]


def test_oversized_request_is_refused(tmp_path: Path) -> None:
    src = make_file(tmp_path / "o.jsonl", [line(0), line(1, "y" * 500)], [b"\n"] * 2)
    result = scan(src)
    sp = plan_for(result, max_bytes=300)
    with pytest.raises(PlanError, match=r"1 request alone exceeds a per-job limit .*line 2: 5\d\d bytes > 300"):
        write_shards(result, sp, tmp_path / "out")


def test_non_empty_folder_refused_without_force_and_force_replaces_old_shards(tmp_path: Path) -> None:
    lines = [line(i) for i in range(6)]
    src = make_file(tmp_path / "f.jsonl", lines, [b"\n"] * 6)
    result = scan(src)
    out = tmp_path / "out"
    write_shards(result, plan_for(result, max_requests=2), out)
    assert len(list(out.glob("f.shard-*.jsonl"))) == 3
    with pytest.raises(OutputError, match=r"is not empty \(4 entries.*pass --force if it holds an earlier shard set"):
        write_shards(result, plan_for(result, max_requests=3), out)
    (out / "notes.txt").write_text("mine")
    m = write_shards(result, plan_for(result, max_requests=3), out, force=True)
    # the earlier third shard is gone; a file batchcost did not write is left alone
    assert sorted(p.name for p in out.iterdir()) == [
        "f.shard-001.jsonl",
        "f.shard-002.jsonl",
        MANIFEST_NAME,
        "notes.txt",
    ]
    assert len(m.shards) == 2
    assert verify_manifest(out / MANIFEST_NAME).ok


def test_no_temporary_files_left_after_success_or_failure(tmp_path: Path) -> None:
    lines = [line(i) for i in range(10)]
    src = make_file(tmp_path / "a.jsonl", lines, [b"\n"] * 10)
    result = scan(src)
    out = tmp_path / "ok"
    write_shards(result, plan_for(result, max_requests=3), out)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")]
    # a wrong known digest (as when the input changed after the scan): nothing is left behind
    bad = tmp_path / "bad"
    with pytest.raises(PlanError, match="changed since it was scanned"):
        write_shards(result, plan_for(result, max_requests=3), bad, input_sha256="0" * 64)
    assert not bad.exists()  # the folder this run created is removed again
    bad.mkdir()
    (bad / "notes.txt").write_text("mine")
    with pytest.raises(PlanError, match="changed since it was scanned"):
        write_shards(result, plan_for(result, max_requests=3), bad, input_sha256="0" * 64, force=True)
    assert [p.name for p in bad.iterdir()] == ["notes.txt"]


def test_input_changed_after_scan_is_caught(tmp_path: Path) -> None:
    lines = [line(i) for i in range(4)]
    src = make_file(tmp_path / "c.jsonl", lines, [b"\n"] * 4)
    result = scan(src)
    src.write_bytes(src.read_bytes().replace(b'"k1"', b'"k9"'))  # same size, different bytes
    m = write_shards(result, plan_for(result), tmp_path / "out")  # no known digest: written from the new bytes
    assert m.input.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    src.write_bytes(src.read_bytes() + line(4) + b"\n")
    res = verify_manifest(tmp_path / "out" / MANIFEST_NAME)
    assert not res.ok and res.message.startswith(f"input {src} changed since the shards were written")


def test_input_cut_short_while_shards_are_copied_is_a_plan_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Copied through a map, the bytes past the new end killed the process with SIGBUS; read with
    # pread, the short read says the file changed.
    src = make_file(tmp_path / "c.jsonl", [line(i, "x" * 50) for i in range(30)], [b"\n"] * 30)
    result = scan(src)
    monkeypatch.setattr(shard_writer, "_CHUNK", 64)
    real_write = shard_sinks.FileSink.write

    def write_then_cut(self: Any, data: Any, lines: int) -> None:
        real_write(self, data, lines)
        os.truncate(src, 100)

    monkeypatch.setattr(shard_sinks.FileSink, "write", write_then_cut)
    with pytest.raises(PlanError) as e:
        write_shards(result, plan_for(result, max_requests=10), tmp_path / "out")
    assert str(e.value) == f"{src} changed since it was scanned (size differs); run the command again"
    assert not (tmp_path / "out").exists()  # the folder this run made goes again, with its temporary files


# -- tampering -----------------------------------------------------------------------------------------


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, Manifest]:
    lines = [line(i, f"text {i}") for i in range(12)]
    src = make_file(tmp_path / "t.jsonl", lines, [b"\n"] * 12)
    result = scan(src)
    m = write_shards(result, plan_for(result, max_requests=4), tmp_path / "out")
    return tmp_path / "out", m


def test_one_changed_byte_is_named(written: tuple[Path, Manifest]) -> None:
    out, _ = written
    shard = out / "t.shard-002.jsonl"
    data = bytearray(shard.read_bytes())
    pos = data.index(b"text 6")
    data[pos] = ord("T")
    shard.write_bytes(bytes(data))
    res = verify_manifest(out / MANIFEST_NAME)
    assert not res.ok
    byte = line(6, "text 6").index(b"text 6") + 1  # shard 2 holds input lines 5-8; line 7 is its third
    assert (
        res.message
        == f"shard t.shard-002.jsonl line 3 differs from input line 7; first difference at byte {byte} of the line"
    )


def test_a_dropped_line_is_named(written: tuple[Path, Manifest]) -> None:
    out, _ = written
    shard = out / "t.shard-001.jsonl"
    kept = shard.read_bytes().splitlines(keepends=True)
    shard.write_bytes(b"".join(kept[:1] + kept[2:]))
    res = verify_manifest(out / MANIFEST_NAME)
    assert res.message == (
        "shard t.shard-001.jsonl line 2 differs from input line 2; it is a copy of input line 3 "
        "(a line dropped, duplicated or moved?)"
    )


def test_a_duplicated_line_is_named(written: tuple[Path, Manifest]) -> None:
    out, _ = written
    shard = out / "t.shard-003.jsonl"
    shard.write_bytes(shard.read_bytes() + shard.read_bytes().splitlines(keepends=True)[-1])
    res = verify_manifest(out / MANIFEST_NAME)
    assert res.message == (
        "shard t.shard-003.jsonl line 5: an extra line (the manifest lists 4); it is a copy of input line 12"
    )


def test_a_missing_line_end_and_a_missing_shard_are_named(written: tuple[Path, Manifest]) -> None:
    out, _ = written
    shard = out / "t.shard-003.jsonl"
    shard.write_bytes(shard.read_bytes()[:-1])
    assert verify_manifest(out / MANIFEST_NAME).message == (
        "shard t.shard-003.jsonl line 4 differs from input line 12; it has no line end"
    )
    shard.unlink()
    assert verify_manifest(out / MANIFEST_NAME).message == f"shard t.shard-003.jsonl is missing from {out}"


def test_a_manifest_that_loses_or_doubles_a_line_is_caught(written: tuple[Path, Manifest]) -> None:
    out, _ = written
    path = out / MANIFEST_NAME
    doc = json.loads(path.read_text())
    doc["shards"][1]["lines"] = [[4, 8]]  # line 4 is also in shard 1
    path.write_text(json.dumps(doc))
    assert verify_manifest(path).message == "input line 4 is in two shards: t.shard-001.jsonl and t.shard-002.jsonl"
    doc["shards"][1]["lines"] = [[6, 8]]
    path.write_text(json.dumps(doc))
    assert verify_manifest(path).message == "input line 5 is in no shard"


def test_limits_are_checked(written: tuple[Path, Manifest]) -> None:
    out, _ = written
    path = out / MANIFEST_NAME
    doc = json.loads(path.read_text())
    doc["limits"]["max_requests"] = {"value": 3, "source": "test"}
    path.write_text(json.dumps(doc))
    assert verify_manifest(path).message == "shard t.shard-001.jsonl has 4 requests, over max_requests 3 (test)"
    doc["limits"]["max_requests"] = {"value": None, "source": ""}
    doc["limits"]["concurrent_jobs"] = {"value": 2, "source": "test"}
    path.write_text(json.dumps(doc))
    assert verify_manifest(path).message == "wave 1 submits 3 shards at once, over concurrent_jobs 2 (test)"


def test_not_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        verify_manifest(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text('{"schema": "batchcost.plan/1"}')
    with pytest.raises(InputError, match="not a batchcost shard manifest"):
        verify_manifest(tmp_path / "x.json")


# -- the output folder, interruptions, failed writes -------------------------------------------------


def folder(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def test_ctrl_c_while_a_chunk_is_written_is_a_keyboard_interrupt_not_a_buffer_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The frame of the interrupted write still holds the mmap chunk while the exception unwinds;
    # closing the map then raised BufferError in place of KeyboardInterrupt (exit 1, not 130).
    src = make_file(tmp_path / "c.jsonl", [line(i, "x" * 50) for i in range(30)], [b"\n"] * 30)
    result = scan(src)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    monkeypatch.setattr(shard_writer, "_CHUNK", 64)  # many chunks per shard: interrupted mid-shard
    real_write = shard_sinks.FileSink.write
    calls = []

    def write(self: Any, data: Any, lines: int) -> None:
        calls.append(len(data))
        if len(calls) == 40:
            raise KeyboardInterrupt
        real_write(self, data, lines)

    monkeypatch.setattr(shard_sinks.FileSink, "write", write)
    with pytest.raises(KeyboardInterrupt):
        write_shards(result, plan_for(result, max_requests=10), out, force=True)
    assert len(calls) == 40
    assert folder(out) == ["notes.txt"]  # no shard, no temporary file, no manifest


def test_interrupted_while_renaming_or_writing_the_manifest_leaves_no_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_file(tmp_path / "r.jsonl", [line(i) for i in range(9)], [b"\n"] * 9)
    result = scan(src)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    real_replace = shard_writer.os.replace
    renames: list[str] = []

    def replace(a: str, b: Any) -> None:
        renames.append(Path(b).name)
        if len(renames) == 2:
            raise KeyboardInterrupt
        real_replace(a, b)

    monkeypatch.setattr(shard_writer.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        write_shards(result, plan_for(result, max_requests=3), out, force=True)
    assert renames == ["r.shard-001.jsonl", "r.shard-002.jsonl"]
    assert folder(out) == ["notes.txt"]  # the shard already renamed is removed again
    monkeypatch.setattr(shard_writer.os, "replace", real_replace)

    # interrupted just after the manifest's rename, before write_shards returns: all of it goes
    def write_atomic(path: Path, data: str) -> None:
        Path(path).write_text(data)
        raise KeyboardInterrupt

    monkeypatch.setattr(shard_writer, "write_atomic", write_atomic)
    with pytest.raises(KeyboardInterrupt):
        write_shards(result, plan_for(result, max_requests=3), out, force=True)
    assert folder(out) == ["notes.txt"]


def test_a_manifest_that_cannot_be_written_leaves_no_shard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    src = make_file(tmp_path / "m.jsonl", [line(i) for i in range(9)], [b"\n"] * 9)
    result = scan(src)
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        fh = real_fdopen(fd, *args, **kwargs)
        if "manifest.json" in os.readlink(f"/proc/self/fd/{fd}"):
            fh.close()
            raise OSError(errno.ENOSPC, "No space left on device")
        return fh

    monkeypatch.setattr(os, "fdopen", fdopen)
    with pytest.raises(OutputError, match=r"manifest.json: cannot be written: the disk is full; free some space"):
        write_shards(result, plan_for(result, max_requests=3), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_shards_and_manifest_get_the_mode_of_any_new_file(tmp_path: Path, umask: int) -> None:
    src = make_file(tmp_path / "u.jsonl", [line(i) for i in range(4)], [b"\n"] * 4)
    result = scan(src)
    old = os.umask(umask)
    try:
        write_shards(result, plan_for(result, max_requests=2), tmp_path / "out")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    assert modes == dict.fromkeys(["u.shard-001.jsonl", "u.shard-002.jsonl", MANIFEST_NAME], 0o666 & ~umask)


def test_force_names_exactly_the_earlier_set(tmp_path: Path) -> None:
    src = make_file(tmp_path / "e.jsonl", [line(i) for i in range(6)], [b"\n"] * 6)
    result = scan(src)
    out = tmp_path / "out"
    write_shards(result, plan_for(result, max_requests=2), out)
    leftovers = [".e.shard-004.jsonl.a1b2c3d4.tmp", ".manifest.json.zz_9y8x7.tmp", "old.shard-0001.jsonl"]
    mine = ["notes.txt", "e.shard-01.jsonl", "shard-001.jsonl", "e.shard-001.jsonl.bak", ".e.shard-001.jsonl.tmp"]
    for name in leftovers + mine:
        (out / name).write_text("x")
    assert shard_writer.check_out_dir(out, force=True) == [
        MANIFEST_NAME,
        ".e.shard-004.jsonl.a1b2c3d4.tmp",
        ".manifest.json.zz_9y8x7.tmp",
        "e.shard-001.jsonl",
        "e.shard-002.jsonl",
        "e.shard-003.jsonl",
        "old.shard-0001.jsonl",
    ]
    m = write_shards(result, plan_for(result, max_requests=6), out, force=True)
    assert [s.path for s in m.shards] == ["e.shard-001.jsonl"]
    assert folder(out) == sorted([*mine, "e.shard-001.jsonl", MANIFEST_NAME])
    assert all((out / name).read_text() == "x" for name in mine)


def test_force_never_replaces_a_manifest_it_did_not_write_nor_an_input(tmp_path: Path) -> None:
    src = make_file(tmp_path / "i.jsonl", [line(i) for i in range(4)], [b"\n"] * 4)
    result = scan(src)
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text('{"mine": true}')
    with pytest.raises(OutputError, match=r"manifest.json: is not a batchcost shard manifest, and --force would"):
        write_shards(result, plan_for(result), out, force=True)
    assert folder(out) == [MANIFEST_NAME] and (out / MANIFEST_NAME).read_text() == '{"mine": true}'
    # the input inside the folder, under the manifest's name
    inside = out / MANIFEST_NAME
    inside.write_bytes(src.read_bytes())
    before = inside.read_bytes()
    result = scan(inside)
    with pytest.raises(OutputError, match=rf"^{out}: holds the input {inside}; .*choose a folder without it$"):
        write_shards(result, plan_for(result), out, force=True)
    # the same file through a link, and a price file (another input) inside the folder
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.shard-001.jsonl").symlink_to(inside)
    with pytest.raises(OutputError, match=rf"holds {other}/x.shard-001.jsonl, which is the input {inside}"):
        write_shards(result, plan_for(result), other, force=True)
    prices = tmp_path / "third" / "prices.yaml"
    prices.parent.mkdir()
    prices.write_text("models: {}\n")
    with pytest.raises(OutputError, match=rf"holds the input {prices}"):
        write_shards(scan(src), plan_for(scan(src)), prices.parent, force=True, inputs=[prices])
    assert inside.read_bytes() == before and folder(out) == [MANIFEST_NAME]
    assert folder(other) == ["x.shard-001.jsonl"] and folder(prices.parent) == ["prices.yaml"]


def test_out_that_is_a_file_or_a_path_through_one(tmp_path: Path) -> None:
    src = make_file(tmp_path / "f.jsonl", [line(0)], [b"\n"])
    result = scan(src)
    afile = tmp_path / "afile"
    afile.write_text("keep")
    with pytest.raises(OutputError, match=rf"^{afile}: is a file, not a folder"):
        write_shards(result, plan_for(result), afile)
    with pytest.raises(OutputError, match=rf"^{afile}/sub: is a path through the file {afile}; give a folder"):
        write_shards(result, plan_for(result), afile / "sub")
    assert afile.read_text() == "keep"
    m = write_shards(result, plan_for(result), tmp_path / "new" / "deeper")  # missing folders are created
    assert Path(m.path).parent == tmp_path / "new" / "deeper"


# -- verifying: stray files, malformed manifests ------------------------------------------------------


def test_verify_names_every_shard_like_file_the_manifest_does_not_list(written: tuple[Path, Manifest]) -> None:
    out, _ = written
    (out / "t.shard-004.jsonl").write_bytes((out / "t.shard-001.jsonl").read_bytes())
    (out / "old.shard-001.jsonl").write_text("")
    (out / ".t.shard-002.jsonl.k3j4h5g6.tmp").write_text("partial")
    (out / "notes.txt").write_text("mine")  # not shard-like: not a problem
    res = verify_manifest(out / MANIFEST_NAME)
    assert not res.ok and (res.lines, res.shards) == (12, 3)
    assert [p.split(" in ")[0] for p in res.problems] == [
        ".t.shard-002.jsonl.k3j4h5g6.tmp",
        "old.shard-001.jsonl",
        "t.shard-004.jsonl",
    ]
    assert res.problems[1] == (
        f"old.shard-001.jsonl in {out} is named like a shard but the manifest does not list it (left from another "
        "run?); uploading the folder would submit its requests too: remove it, or write the shards again with --force"
    )
    assert "is a temporary file of a batchcost shard run that did not finish" in res.problems[0]
    assert res.message == res.problems[0]
    # a content difference comes first, the stray files after it
    (out / "t.shard-001.jsonl").write_bytes(b"")
    res = verify_manifest(out / MANIFEST_NAME)
    assert len(res.problems) == 4 and res.problems[0].startswith("shard t.shard-001.jsonl ends after 0 lines")


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *head, last = path.split(".")
    for key in head:
        doc = doc[int(key)] if isinstance(doc, list) else doc[key]
    if value is KeyError:
        del doc[last]
    elif isinstance(doc, list):
        doc[int(last)] = value
    else:
        doc[last] = value


@pytest.mark.parametrize(
    ("where", "value", "field", "said"),
    [
        ("input.sha256", None, "input.sha256", "is null, expected a string"),
        ("input.sha256", KeyError, "input.sha256", "is missing"),
        ("input.lines", "12", "input.lines", "is a string, expected a whole number"),
        ("input.size", -1, "input.size", "is a negative number, expected a whole number, 0 or more"),
        ("input.compressed", 0, "input.compressed", "is a number, expected true or false"),
        ("input", [], "input", "is a list, expected an object"),
        ("shards", {}, "shards", "is an object, expected a list"),
        ("shards.1", "t.shard-002.jsonl", "shards[1]", "is a string, expected an object"),
        ("shards.0.sha256", None, "shards[0].sha256", "is null, expected a string"),
        ("shards.2.bytes", 1.5, "shards[2].bytes", "is a number, expected a whole number"),
        ("shards.0.requests", True, "shards[0].requests", "is true, expected a whole number"),
        ("shards.0.lines", [[1, "4"]], "shards[0].lines[0]", "is a list, expected [first, last] input line numbers"),
        ("shards.0.lines", [[1, 2, 3]], "shards[0].lines[0]", "is a list, expected [first, last]"),
        ("shards.0.path", "", "shards[0].path", "is a string, expected a file name"),
        ("shards.0.cost", 0.01, "shards[0].cost", "is a number, expected a string of US dollars or null"),
        ("limits.max_requests.value", "4", "limits.max_requests.value", "is a string, expected a whole number"),
        ("limits", "none", "limits", "is a string, expected an object"),
        ("waves", [[1, None]], "waves[0]", "is a list, expected a list of shard indexes"),
    ],
)
def test_a_malformed_manifest_is_one_input_error_naming_the_field(
    written: tuple[Path, Manifest], where: str, value: Any, field: str, said: str
) -> None:
    out, _ = written
    path = out / MANIFEST_NAME
    doc = json.loads(path.read_text())
    _set(doc, where, value)
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        verify_manifest(path)
    message = str(info.value)
    assert message.startswith(f"{path}: field {field} {said}")
    assert message.endswith("give the manifest.json that `batchcost shard` wrote, or write the shards again")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"[1, 2]", "not a batchcost shard manifest"),
        (b"null", "not a batchcost shard manifest"),
        (b'{"schema": "batchcost.shard-manifest/1"', "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ],
)
def test_a_manifest_that_is_not_one_is_an_input_error(tmp_path: Path, content: bytes, said: str) -> None:
    path = tmp_path / MANIFEST_NAME
    path.write_bytes(content)
    with pytest.raises(InputError, match=f"^{path}: {said}"):
        verify_manifest(path)
    with pytest.raises(InputError, match=f"^{tmp_path}: is a folder; give the manifest.json inside it"):
        verify_manifest(tmp_path)


def test_verify_messages_escape_what_the_manifest_says(written: tuple[Path, Manifest]) -> None:
    out, _ = written
    path = out / MANIFEST_NAME
    doc = json.loads(path.read_text())
    doc["shards"][2]["path"] = "t.shard-003.jsonl\n\x1b[32mok: all fine"
    path.write_text(json.dumps(doc))
    res = verify_manifest(path)
    assert res.problems[0] == f"shard t.shard-003.jsonl\\n\\x1b[32mok: all fine is missing from {out}"
    assert len(res.problems) == 2 and res.problems[1].startswith("t.shard-003.jsonl in ")  # now not listed
