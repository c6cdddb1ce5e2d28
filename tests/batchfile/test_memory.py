"""Memory stays proportional to the request count, not the file size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import resource, sys
from batchcost.batchfile import scan
r = scan(sys.argv[1], sample_size=100, workers=int(sys.argv[2]))
assert r.valid(), r.problems[:3]
print(r.requests, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _make(path: Path, n: int, doc_kb: int) -> None:
    doc = ("All work and no play makes a long document. " * (doc_kb * 1024 // 44 + 1))[: doc_kb * 1024]
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"key": f"k{i}", "request": {"contents": [{"parts": [{"text": f"{i} {doc}"}]}]}}))
            fh.write("\n")


def _peak_kb(path: Path, workers: int) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), str(workers)], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), max(int(out[1]), int(out[2]))


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_peak_memory_does_not_grow_with_file_size(tmp_path: Path, workers: int) -> None:
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    _make(small, 2000, 8)  # ~16 MB
    _make(large, 2000, 96)  # ~200 MB, same request count
    n_small, peak_small = _peak_kb(small, workers)
    n_large, peak_large = _peak_kb(large, workers)
    assert n_small == n_large == 2000
    growth_mb = (peak_large - peak_small) / 1024
    # 12x the bytes for the same requests: the peak may grow by the pages in flight and one parsed
    # line, not by the file (~184 MB more).
    assert growth_mb < 40, (peak_small, peak_large)


def test_a_column_with_one_value_on_every_line_is_held_once(tmp_path: Path) -> None:
    from batchcost.batchfile import scan

    path = tmp_path / "short.jsonl"
    _make(path, 3000, 0)  # short prompts: no system instruction, media, model or cached content
    result = scan(path, workers=2)
    rows = result.rows
    folded = {name for name, column in rows.items() if column.strides == (0,)}
    assert {"system_chars", "system_hash", "media_parts", "model", "cached_content", "usable"} <= folded
    assert not folded & {"offset", "contents_chars", "nbytes"}
    assert int(rows["system_chars"].sum()) == 0 and result.requests == 3000
    assert rows["usable"][[0, 1500, 2999]].tolist() == [1, 1, 1]  # reads as the whole column
    with pytest.raises(ValueError, match="read-only"):
        rows["system_hash"][0] = 1  # changed in place by no one: a copy is needed
    # the same figures as unfolded columns: the file with one more line, which has a system instruction
    # and a model, gives the same first 3,000 rows
    system = {"parts": [{"text": "Be brief."}]}
    extra = {"key": "s", "request": {"systemInstruction": system, "contents": [{"parts": [{"text": "hi"}]}],
                                     "model": "models/gemini-2.5-flash"}}  # fmt: skip
    more = tmp_path / "more.jsonl"
    more.write_text(path.read_text() + json.dumps(extra) + "\n")
    other = scan(more, workers=2).rows
    assert not {name for name, column in other.items() if column.strides == (0,)} & {"system_hash", "model"}
    for name, column in rows.items():
        assert (other[name][:3000] == column).all(), name


def test_offsets_are_uint32_while_every_line_starts_under_4_gib(tmp_path: Path) -> None:
    import numpy as np

    from batchcost.batchfile import scan
    from batchcost.batchfile.result import narrow_offsets

    path = tmp_path / "short.jsonl"
    _make(path, 3000, 0)
    result = scan(path, workers=2)
    offsets = result.rows["offset"]
    assert offsets.dtype == np.uint32 and offsets[0] == 0
    # the lines are read back from them as before
    first, last = (raw for _, raw in result.read_lines(np.array([0, 2999])))
    lines = path.read_bytes().splitlines()
    assert (bytes(first), bytes(last)) == (lines[0], lines[2999])
    # a line at 4 GiB or later (a large gzip's decompressed offsets) keeps them 64-bit
    rows = {"offset": np.array([0, 2**32 - 1], np.uint64)}
    narrow_offsets(rows)
    assert rows["offset"].dtype == np.uint32 and rows["offset"].tolist() == [0, 2**32 - 1]
    rows = {"offset": np.array([0, 2**32], np.uint64)}
    narrow_offsets(rows)
    assert rows["offset"].dtype == np.uint64 and rows["offset"].tolist() == [0, 2**32]
