"""Byte classes of long requests: counted right, the same however the scan is split, and on demand."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from batchcost.batchfile import scan
from batchcost.batchfile import scanner as scanner_mod
from batchcost.batchfile.text_classes import (
    CLASS_MIN_CHARS,
    CLASS_NAMES,
    ClassCounter,
    add_text_classes,
    class_counts,
)


def test_each_byte_lands_in_its_class() -> None:
    counts, nbytes = class_counts(["Hello, World 42!\n\tПривет 東京 😀 é"])
    got = dict(zip(CLASS_NAMES, counts, strict=True))
    assert got["lower"] == 8 and got["upper"] == 2 and got["digit"] == 2
    assert got["punct"] == 2 and got["space"] == 5 and got["newline"] == 1 and got["control"] == 1
    assert got["cyrillic"] == 6 and got["cjk"] == 2 and got["four_byte"] == 1 and got["latin1"] == 1
    assert sum(v for k, v in got.items() if k not in ("lower", "upper", "digit", "punct", "space")) == 12
    assert nbytes == len("Hello, World 42!\n\tПривет 東京 😀 é".encode())


def test_counts_add_up_over_texts_and_do_not_depend_on_memory() -> None:
    texts = ["x" * 3000 + "\n\n", "Ünïcödé " * 300, "", "short", "\ud800 lone surrogate", "y" * 2000]
    whole = class_counts(texts)
    assert whole == ClassCounter().counts(texts) == ClassCounter().counts(texts[::-1])
    counter = ClassCounter(remember=2)
    assert counter.counts(texts) == counter.counts(texts) == whole  # remembered texts count the same
    assert sum(class_counts([t])[1] for t in texts) == whole[1]
    assert whole[1] == sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)


def test_long_text_is_counted_in_slices_exactly() -> None:
    text = ("abc DEF 123\n" * 100_000) + "é" * 10
    counts, nbytes = class_counts([text])
    got = dict(zip(CLASS_NAMES, counts, strict=True))
    assert got["lower"] == 300_000 and got["newline"] == 100_000 and got["latin1"] == 10
    assert nbytes == len(text.encode())


def _file(tmp_path: Path, n: int, name: str = "c.jsonl") -> Path:
    rng = np.random.default_rng(3)
    words = ["alpha", "Beta", "γάμμα", "дельта", "東京", "42", "e=mc²", "😀", "x\ty"]
    lines = []
    for i in range(n):
        size = int(rng.choice([5, 50, 900, 2000]))
        text = " ".join(rng.choice(words, size=size))
        request = {"contents": [{"role": "user", "parts": [{"text": text}, {"text": "and?"}]}]}
        if i % 3 == 0:
            request["systemInstruction"] = {"parts": [{"text": "Be brief. " * 500}]}
        lines.append(json.dumps({"key": f"k{i}", "request": request}, ensure_ascii=False))
    lines[7] = "{broken"
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_scan_records_classes_of_long_requests_only_when_asked(tmp_path: Path) -> None:
    path = _file(tmp_path, 400)
    plain = scan(path)
    assert plain.text_classes is None
    result = scan(path, text_classes=True)
    for name in plain.rows:  # nothing else changes
        assert np.array_equal(plain.rows[name], result.rows[name]), name
    classes = result.text_classes
    assert classes is not None
    rows = result.rows
    chars = rows["system_chars"].astype(np.int64) + rows["contents_chars"] + rows["tools_chars"]
    wanted = np.flatnonzero(rows["usable"].astype(bool) & (chars >= CLASS_MIN_CHARS))
    assert len(wanted) > 50 and classes["row"].tolist() == wanted.tolist()
    assert classes["counts"].shape == (len(wanted), len(CLASS_NAMES))
    for i, (row, request) in enumerate(result.read_requests(wanted[:20])):
        texts = [p["text"] for p in request.get("systemInstruction", {}).get("parts", [])]
        texts += [p["text"] for c in request["contents"] for p in c["parts"]]
        assert classes["counts"][i].tolist() == class_counts(texts)[0], row
    # the same as counting them after a scan made without them
    assert add_text_classes(plain)["row"].tolist() == wanted.tolist()
    assert np.array_equal(plain.text_classes["counts"], classes["counts"])  # type: ignore[index]


def test_classes_do_not_depend_on_how_the_file_is_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(tmp_path, 600)
    one = scan(path, workers=1, text_classes=True)
    monkeypatch.setattr(scanner_mod, "PARALLEL_MIN_BYTES", 1)
    spill_dir = tmp_path / "tmp"
    spill_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_dir))
    two = scan(path, workers=2, text_classes=True)
    assert list(spill_dir.iterdir()) == []
    gz = tmp_path / "c.jsonl.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    three = scan(gz, text_classes=True)
    for other in (two, three):
        assert one.text_classes is not None and other.text_classes is not None
        assert np.array_equal(one.text_classes["row"], other.text_classes["row"])
        assert np.array_equal(one.text_classes["counts"], other.text_classes["counts"])
        assert np.array_equal(one.rows["text_bytes"], other.rows["text_bytes"])
