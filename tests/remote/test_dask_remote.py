"""``--engine dask`` reads URLs too: an object cut into line-aligned ranges, each read by a worker through ``batchcost.storage``.

The servers are the loopback ones of tests/remote/conftest.py; the command line starts its own
local cluster, whose workers inherit the environment that points the backends at them.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import pytest

from batchcost.cli import main
from batchcost.engine import cluster, scan_tasks
from tests.remote.test_cli_remote import CONTENT


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_urls_on_dask_give_the_local_figures(
    tmp_path: Path, s3: Any, http: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "RANGE_BYTES", 5_000)  # the object in several ranges
    base, objects = http
    local = [tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"]
    local[0].write_bytes(CONTENT)
    local[1].write_bytes(gzip.compress(CONTENT, mtime=0))
    s3.pipe("test-bucket/run/a.jsonl", CONTENT)
    objects.files["/run/b.jsonl.gz"] = local[1].read_bytes()
    urls = ["s3://test-bucket/run/a.jsonl", f"{base}/run/b.jsonl.gz"]
    ranges = scan_tasks.file_ranges(urls[0], len(CONTENT), 5_000)
    assert len(ranges) >= 5 and all(CONTENT[b - 1 : b] == b"\n" for _, b in ranges)
    assert ranges == scan_tasks.file_ranges(str(local[0]), len(CONTENT), 5_000)  # cut as a local file is
    for argv in (
        ["validate", "--format", "json"],
        ["estimate", "-m", "gemini-2.5-flash", "--output-tokens", "300", "--sample-size", "100", "--seed", "7",
         "--run-date", "2026-11-27", "--format", "json", "-q"],
    ):  # fmt: skip
        want = run(argv[0], *map(str, local), *argv[1:])
        got = run(argv[0], *urls, *argv[1:], "--engine", "dask")
        assert got[0] == want[0] == 1, got[2]
        text = got[1]
        for url, path in zip(urls, local, strict=True):
            text = text.replace(url, str(path))
        assert text == want[1]
    code, out, _ = run("validate", urls[0], "--engine", "dask")
    assert code == 1 and f"{urls[0]}:18: " in out  # problems located as URL:LINE


def test_a_missing_object_on_dask_is_one_line_exit_2(s3: Any) -> None:
    code, out, err = run("validate", "s3://test-bucket/run/missing.jsonl", "--engine", "dask")
    assert (code, out) == (2, "") and err.count("\n") == 1 and "s3://test-bucket/run/missing.jsonl" in err
