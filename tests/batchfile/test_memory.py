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
