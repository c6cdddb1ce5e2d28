"""Keys read back by the scan's line offsets: the fast numpy cut and msgspec agree with json.loads."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from batchcost.batchfile import scan
from batchcost.batchfile.keys import WIDE_WINDOW, WINDOW, read_keys

REQ = {"contents": [{"parts": [{"text": "hi"}]}]}


def expected_keys(raw: bytes) -> list[str | None]:
    out: list[str | None] = []
    for line in raw.split(b"\n")[: raw.count(b"\n")]:
        try:
            key = json.loads(line.removeprefix(b"\xef\xbb\xbf").decode("utf-8")).get("key")
        except (ValueError, AttributeError):
            key = None
        out.append(key if isinstance(key, str) else None)
    return out


LINES = [
    b'\xef\xbb\xbf{"key":"after-a-bom","request":' + json.dumps(REQ).encode() + b"}\r",  # BOM, CRLF
    b'{"key":"tight","request":' + json.dumps(REQ).encode() + b"}",  # orjson's compact form
    json.dumps({"key": "spaced", "request": REQ}).encode(),  # json.dumps' form
    json.dumps({"key": 'quote " inside', "request": REQ}).encode(),
    json.dumps({"key": "back\\slash", "request": REQ}).encode(),
    json.dumps({"key": "ключ-1 ✓", "request": REQ}, ensure_ascii=False).encode(),  # raw UTF-8
    json.dumps({"key": "ключ-2", "request": REQ}).encode(),  # \\u escapes
    json.dumps({"request": REQ, "key": "last field"}).encode(),
    json.dumps({"key": "", "request": REQ}).encode(),  # empty: a problem line, still read as ""
    json.dumps({"key": 17, "request": REQ}).encode(),  # not a string: None
    json.dumps({"request": REQ}).encode(),  # no key (Vertex form would be all like this)
    b'{"key":"broken',  # not JSON: None
    b'{"key":"x"}',  # shortest key line
    b"",  # blank line
    *(json.dumps({"key": "k" * n, "request": REQ}).encode() for n in range(WINDOW - 12, WINDOW + 2)),
    *(json.dumps({"key": "w" * n, "request": REQ}).encode() for n in (WIDE_WINDOW - 10, WIDE_WINDOW + 5, 3000)),
    b'{ "key" : "spaces around", "request": {}}',
    b'{"key": "tail-no-request"',
]


@pytest.mark.parametrize("compressed", [False, True])
def test_keys_match_json_loads(tmp_path: Path, compressed: bool) -> None:
    raw = b"\n".join(LINES) + b"\n"
    path = tmp_path / ("k.jsonl.gz" if compressed else "k.jsonl")
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    result = scan(path)
    keys = read_keys(result)
    want = expected_keys(raw)
    assert len(keys) == result.lines == len(want)
    for i, (got, exp) in enumerate(zip(keys.tolist(), want, strict=True)):
        if exp == "" and got is None:
            continue
        assert got == exp, (i, LINES[i][:80])


def test_last_line_without_newline_and_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import batchcost.batchfile.keys as keys_module

    # small blocks and spans: every block boundary and the end-of-file window are crossed
    monkeypatch.setattr(keys_module, "BLOCK_ROWS", 7)
    monkeypatch.setattr(keys_module, "SPAN_BYTES", 300)
    lines = [json.dumps({"key": f"req-{i:05d}" + "x" * (i % 50), "request": REQ}).encode() for i in range(100)]
    path = tmp_path / "k.jsonl"
    path.write_bytes(b"\n".join(lines))  # no final newline
    keys = read_keys(scan(path))
    assert keys.tolist() == [json.loads(line)["key"] for line in lines]


def test_several_files_keep_their_rows(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl.gz"
    a.write_text("".join(json.dumps({"key": f"a{i}", "request": REQ}) + "\n" for i in range(5)))
    b.write_bytes(
        gzip.compress("".join(json.dumps({"key": f"b{i}", "request": REQ}) + "\n" for i in range(3)).encode())
    )
    assert read_keys(scan([a, b])).tolist() == [*(f"a{i}" for i in range(5)), *(f"b{i}" for i in range(3))]
