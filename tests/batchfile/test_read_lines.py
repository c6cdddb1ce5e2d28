"""Reading lines back by the scan's offsets: sampled counting, key read-back and shard copies rely on it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from batchcost.batchfile import result as result_mod
from batchcost.batchfile import scan


def _line(i: int) -> str:
    # lines of very different lengths, so runs end on both the gap and the span rule
    return json.dumps({"key": f"k{i}", "request": {"contents": [{"parts": [{"text": "w" * (i * 37 % 900)}]}]}})


@pytest.mark.parametrize("gap, span", [(64 * 1024, 4 * 1024 * 1024), (0, 1), (100, 2000), (5000, 3000)])
def test_any_rows_read_back_exactly_whatever_the_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      gap: int, span: int) -> None:  # fmt: skip
    lines = [_line(i) for i in range(400)]
    path = tmp_path / "in.jsonl"
    # CRLF on every third line: the carriage return is not part of the line read back
    path.write_bytes(b"".join((s + ("\r\n" if i % 3 == 0 else "\n")).encode() for i, s in enumerate(lines)))
    result = scan(path)
    monkeypatch.setattr(result_mod, "_GAP_BYTES", gap)
    monkeypatch.setattr(result_mod, "_SPAN_BYTES", span)
    rng = np.random.default_rng(7)
    for rows in (np.arange(400), np.sort(rng.choice(400, 37, replace=False)), np.array([0]), np.array([399])):
        got = list(result.read_lines(rows))
        assert [r for r, _ in got] == rows.tolist()
        assert [raw.decode() for _, raw in got] == [lines[r] for r in rows.tolist()]


def test_rows_given_unsorted_and_repeated_come_back_once_in_order(tmp_path: Path) -> None:
    lines = [_line(i) for i in range(50)]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = scan(path)
    got = list(result.read_lines([30, 2, 30, 49, 0]))
    assert [r for r, _ in got] == [0, 2, 30, 49]
    assert got[2][1].decode() == lines[30]
