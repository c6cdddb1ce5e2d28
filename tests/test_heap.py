"""Freed per-request arrays go back to the system: the command line sets glibc's mmap threshold."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from batchcost import heap

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc's allocator only")
def test_a_freed_large_array_leaves_the_process() -> None:
    # In a fresh process: after a 20 MB block is freed, glibc would carve the next 16 MB blocks from
    # its heap and keep them once freed; with the threshold set they are unmapped when freed.
    code = r"""
import sys
import numpy as np
from batchcost.heap import return_large_blocks
def anon():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("RssAnon")) // 1024
if sys.argv[1] == "set":
    assert return_large_blocks()
a = np.ones(20 * 2**20 // 8); del a
before = anon()
arrays = [np.ones(16 * 2**20 // 8) for _ in range(8)]
del arrays[:-1]  # all but the last (the last keeps the others from being trimmed off the heap's top)
print(anon() - before)
"""
    kept = {}
    for mode in ("set", "default"):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True)
        kept[mode] = int(out.stdout)
    assert kept["set"] <= 24, kept  # the one array still alive (16 MB), nothing freed kept
    assert kept["default"] >= 64, kept  # what the setting is for: glibc's default keeps the freed ones


def test_trim_and_threshold_never_raise() -> None:
    heap.trim_heap()
    assert heap.return_large_blocks() is GLIBC or not GLIBC


def test_a_zeros_view_reads_as_zeros_holds_one_and_cannot_be_written() -> None:
    import numpy as np

    z = heap.zeros_view(1_000_000)
    assert z.shape == (1_000_000,) and z.dtype == np.int64 and z.strides == (0,)
    assert int(z.sum()) == 0 and (z[[0, 999_999]] == 0).all() and heap.is_zeros_view(z)
    with pytest.raises(ValueError):
        z[0] = 1
    assert not heap.is_zeros_view(np.zeros(3, np.int64))  # zeros, but memory of their own
    assert not heap.is_zeros_view(np.broadcast_to(np.int64(7), (3,)))  # one value, not zero
    assert heap.is_zeros_view(heap.zeros_view(0))


@pytest.mark.parametrize(
    ("setup", "want"),
    [
        ("", False),  # numpy not loaded yet: it reads the variable the command line set
        ("import numpy", False),  # already loaded: its own switch is turned off
        ("os.environ['NUMPY_MADVISE_HUGEPAGE'] = '1'", "numpy's own"),  # the user's choice stands
    ],
)
def test_the_command_line_stops_numpys_huge_page_advice(setup: str, want: object) -> None:
    # numpy's _set_madvise_hugepage returns the setting it replaces: how the test reads it.
    code = f"""
import os, sys
os.environ.pop("NUMPY_MADVISE_HUGEPAGE", None)
{setup}
from batchcost.heap import no_huge_pages
no_huge_pages()
import numpy
from numpy._core.multiarray import _set_madvise_hugepage
print(os.environ["NUMPY_MADVISE_HUGEPAGE"], _set_madvise_hugepage(False))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if want == "numpy's own":
        assert out[0] == "1" and out[1] == "True"  # numpy advises huge pages on Linux when told to
    else:
        assert out == ["0", "False"]
