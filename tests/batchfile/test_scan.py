"""The full-file check: every problem kind with its line and message, forms, gzip, the sample."""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batchcost.batchfile import ROW_COLUMNS, SCAN_ONLY_COLUMNS, FileLimits, scan
from batchcost.batchfile import file_checks as file_checks_mod
from batchcost.batchfile import scanner as scanner_mod
from batchcost.errors import InputError


def req(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


def line(key: str | None = "k", request: Any = None, **top: Any) -> str:
    obj: dict[str, Any] = {}
    if key is not None:
        obj["key"] = key
    obj["request"] = req() if request is None else request
    obj.update(top)
    return json.dumps(obj, ensure_ascii=False)


def write(tmp_path: Path, lines: list[str | bytes], name: str = "in.jsonl", end: bytes = b"\n") -> Path:
    p = tmp_path / name
    data = b"".join((x if isinstance(x, bytes) else x.encode()) + end for x in lines)
    p.write_bytes(data)
    return p


def problems(result: Any) -> list[tuple[int, str]]:
    return [(p.line, p.code) for p in result.problems]


def one_problem(tmp_path: Path, bad: str | bytes, code: str, *, line_no: int = 2) -> str:
    """A valid line, then the bad line: exactly one problem of ``code`` on line 2."""
    path = write(tmp_path, [line("ok"), bad])
    result = scan(path)
    assert problems(result) == [(line_no, code)], result.problems
    return result.problems[0].message


def test_valid_developer_file(tmp_path: Path) -> None:
    path = write(tmp_path, [line(f"k{i}", req(f"text {i}")) for i in range(5)])
    result = scan(path)
    assert result.valid()
    assert (result.requests, result.lines, result.errors, result.warnings) == (5, 5, 0, 0)
    assert result.files[0].form == "developer"
    assert result.rows["contents_chars"].tolist() == [6] * 5


def test_examples_shipped_with_the_repo_are_valid() -> None:
    root = Path(__file__).resolve().parents[2] / "examples"
    result = scan([root / "batch_requests.jsonl", root / "vertex_requests.jsonl"])
    assert result.valid(strict=True)
    assert [f.form for f in result.files] == ["developer", "vertex"]
    assert result.requests == 5
    # vertex example: maxOutputTokens in camelCase and max_output_tokens in snake_case
    assert result.rows["max_output_tokens"][3:].tolist() == [16, 16]
    assert result.rows["system_chars"][4] == len("Answer with one word: positive, negative or neutral.")


def test_vertex_form_allows_extra_fields_and_needs_no_key(tmp_path: Path) -> None:
    path = write(tmp_path, [json.dumps({"request": req(), "id": 1}), json.dumps({"request": req(), "meta": "x"})])
    result = scan(path)
    assert result.files[0].form == "vertex"
    assert result.valid(strict=True)


@pytest.mark.parametrize(
    ("bad", "code", "words"),
    [
        ("", "blank-line", "blank line"),
        ("   ", "blank-line", "blank line"),
        ("{not json}", "not-json", "not valid JSON"),
        (
            '{"key": "x", "request": {"contents": [{"parts": [{"text": "a"}]}]},}',
            "not-json",
            "trailing comma",
        ),
        ("[1, 2]", "not-object", "JSON array, not an object"),
        ('"text"', "not-object", "string"),
        (line(None), "key-missing", 'no "key"'),
        ('{"key": 7, "request": {"contents": [{"parts": [{"text": "a"}]}]}}', "key-not-string", "number"),
        (line(""), "key-empty", '"key" is empty'),
        ('{"key": "x"}', "request-missing", 'no "request"'),
        ('{"key": "x", "contents": []}', "request-missing", "wrap it"),
        ('{"key": "x", "request": "hi"}', "request-not-object", "must be an object"),
        (line("x", {}), "contents-missing", 'no "contents"'),
        (line("x", {"contents": []}), "contents-missing", "empty"),
        (line("x", {"contents": [{"role": "user"}]}), "parts-missing", 'no "parts"'),
        (line("x", {"contents": [{"parts": []}]}), "parts-missing", 'empty "parts"'),
        (line("x", {"contents": [{"parts": [{}]}]}), "part-no-data", "no data field"),
        (line("x", {"contents": [{"parts": [{"thought": True}]}]}), "part-no-data", "exactly one of"),
        (
            line("x", {"contents": [{"parts": [{"text": "a", "fileData": {"fileUri": "files/a"}}]}]}),
            "part-multiple-data",
            "text and fileData",
        ),
        (
            line("x", {"contents": [{"role": "system", "parts": [{"text": "a"}]}]}),
            "role-unknown",
            "systemInstruction",
        ),
        (
            line("x", {"contents": [{"role": "assistant", "parts": [{"text": "a"}]}]}),
            "role-unknown",
            '"model"',
        ),
        (
            line("x", {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "###"}}]}]}),
            "inline-bad-base64",
            "not valid base64",
        ),
        (
            line("x", {"contents": [{"parts": [{"inlineData": {"data": "AAAA"}}]}]}),
            "inline-no-mime",
            "mimeType",
        ),
        (
            line("x", {"contents": [{"parts": [{"fileData": {"mimeType": "application/pdf"}}]}]}),
            "filedata-no-uri",
            "fileUri",
        ),
        (line("x", req(thinkingConfig={"thinkingBudget": 0})), "misplaced-field", 'under "generationConfig"'),
        (
            line("x", req(thinking_config={"thinking_budget": 0})),
            "misplaced-field",
            'under "generationConfig"',
        ),
        (line("x", req(maxOutputTokens=5)), "misplaced-field", "generationConfig field"),
        (
            line("x", req(generationConfig={"cachedContent": "cachedContents/a"})),
            "misplaced-field",
            "request level",
        ),
        (
            line("x", req(generation_config={"cached_content": "cachedContents/a"})),
            "misplaced-field",
            "request level",
        ),
        (
            line("x", req(generationConfig={"temperature": 1}, generation_config={"topK": 2})),
            "duplicate-field",
            "one spelling",
        ),
        (line("x", req(generationConfig={"maxOutputTokens": "lots"})), "bad-value", "positive 32-bit integer"),
        (line("x", req(generationConfig={"maxOutputTokens": 2**31})), "bad-value", "positive 32-bit integer"),
        (
            line("x", req(generationConfig={"thinkingConfig": {"thinkingLevel": "EXTREME"}})),
            "bad-value",
            "thinkingLevel",
        ),
        (line("x", req(systemInstruction="be brief")), "bad-value", '{"parts"'),
        (line("x", req(cachedContent="my-cache")), "bad-value", "cachedContents/"),
        (
            '{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": []}}',
            "openai-format",
            "OpenAI batch line",
        ),
        (
            '{"key": "r1", "response": {"candidates": [], "usageMetadata": {"promptTokenCount": 3}}}',
            "request-missing",
            "this looks like a job's results file; give the batch input file (`batchcost reconcile` prices results)",
        ),
        (
            '{"custom_id": "r1", "params": {"model": "m", "max_tokens": 64, "messages": [{"role": "user", '
            '"content": "Hi"}]}}',
            "anthropic-format",
            "Anthropic Message Batches line (custom_id/params)",
        ),
    ],
)
def test_each_error_kind_names_line_and_fix(tmp_path: Path, bad: str, code: str, words: str) -> None:
    message = one_problem(tmp_path, bad, code)
    assert words in message


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (line("x", req(sytemInstruction={"parts": [{"text": "a"}]})), "did you mean 'systemInstruction'"),
        (line("x", req(generationConfig={"temprature": 1})), "did you mean 'temperature'"),
        (line("x", req(config={"temperature": 1})), '"generationConfig"'),
        (line("x", extra_field=1), 'only "key" and "request"'),
        (line("x", {"contents": [{"parts": [{"text": "a", "txet": "b"}]}]}), 'unknown field "txet"'),
    ],
)
def test_unknown_fields_are_warnings_that_fail_only_when_strict(tmp_path: Path, bad: str, words: str) -> None:
    path = write(tmp_path, [line("ok"), bad])
    result = scan(path)
    assert problems(result) == [(2, "unknown-field")]
    assert words in result.problems[0].message
    assert result.valid() and not result.valid(strict=True)
    assert result.requests == 2  # a warning does not make the request unusable


def test_both_thinking_settings_warn(tmp_path: Path) -> None:
    bad = line("x", req(generationConfig={"thinkingConfig": {"thinkingBudget": 128, "thinkingLevel": "LOW"}}))
    message = one_problem(tmp_path, bad, "thinking-both")
    assert "keep one" in message


def test_snake_case_and_int64_strings_are_accepted(tmp_path: Path) -> None:
    request = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}, {"inline_data": {"mime_type": "image/png",
                                                                                 "data": "iVBORw0KGgo="}}]}],
        "system_instruction": {"parts": [{"text": "sys"}]},
        "generation_config": {"max_output_tokens": "512", "thinking_config": {"thinking_budget": "1024"},
                              "candidate_count": 2},
        "tools": [{"google_search": {}}],
        "cached_content": "cachedContents/abc",
    }  # fmt: skip
    result = scan(write(tmp_path, [line("a", request)]))
    assert result.valid(strict=True), result.problems
    rows = result.rows
    assert rows["max_output_tokens"][0] == 512
    assert rows["thinking_budget"][0] == 1024
    assert rows["candidate_count"][0] == 2
    assert result.cached_contents[rows["cached_content"][0]] == "cachedContents/abc"
    from batchcost.batchfile.request import FLAG_CACHED_CONTENT, FLAG_GOOGLE_SEARCH, FLAG_SYSTEM

    assert rows["flags"][0] & FLAG_GOOGLE_SEARCH and rows["flags"][0] & FLAG_CACHED_CONTENT
    assert rows["flags"][0] & FLAG_SYSTEM


def test_urlsafe_unpadded_base64_is_accepted(tmp_path: Path) -> None:
    data = base64.urlsafe_b64encode(bytes(range(250, 256)) * 3).decode().rstrip("=")
    request = {"contents": [{"parts": [{"inlineData": {"mimeType": "application/octet-stream", "data": data}}]}]}
    result = scan(write(tmp_path, [line("a", request)]))
    assert result.valid(), result.problems
    assert result.media["nbytes"].tolist() == [18]


def test_byte_order_mark_not_utf8_and_truncated_last_line(tmp_path: Path) -> None:
    good = line("a").encode()
    path = write(tmp_path, [b"\xef\xbb\xbf" + good, line("b").encode()[:-3] + b'\xff"}}'])
    with path.open("ab") as fh:
        fh.write(line("c").encode()[:30])  # cut off, no newline
    result = scan(path)
    assert problems(result) == [(1, "bom"), (2, "not-utf8"), (3, "truncated")]
    assert "without BOM" in result.problems[0].message
    assert "re-encode" in result.problems[1].message
    assert "cut off" in result.problems[2].message


def test_last_line_without_newline_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(line("a") + "\n" + line("b"))
    result = scan(path)
    assert result.valid() and result.requests == 2


def test_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, [line("a"), line("b")], end=b"\r\n")
    result = scan(path)
    assert result.valid() and result.requests == 2
    assert result.rows["nbytes"].tolist() == [len(line("a")) + 1, len(line("b")) + 1]


def test_lone_surrogate_escape_is_reported(tmp_path: Path) -> None:
    bad = '{"key": "x", "request": {"contents": [{"parts": [{"text": "\\ud800"}]}]}}'
    message = one_problem(tmp_path, bad, "not-json")
    assert "surrogate" in message


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, [line("a"), line("b"), line("a"), line("c"), line("a")])
    result = scan(path)
    assert problems(result) == [(3, "key-duplicate"), (5, "key-duplicate")]
    assert "first on line 1" in result.problems[0].message
    # the key hashes served that check and are not kept (13.5 MB on 1.7 million requests)
    assert "key_hash" not in result.rows and set(result.rows) == set(ROW_COLUMNS) - set(SCAN_ONLY_COLUMNS)


def test_mixed_models_are_errors_naming_the_majority(tmp_path: Path) -> None:
    lines = [line(f"k{i}", req(model="gemini-2.5-flash")) for i in range(3)]
    lines.append(line("odd", req(model="models/gemini-2.5-pro")))
    lines.append(line("none"))
    result = scan(write(tmp_path, lines))
    assert problems(result) == [(4, "mixed-models")]
    assert "'gemini-2.5-pro' differs from 'gemini-2.5-flash'" in result.problems[0].message
    assert result.model is None


def test_single_model_from_file(tmp_path: Path) -> None:
    result = scan(write(tmp_path, [line("a", req(model="models/gemini-3.8-flash")), line("b")]))
    assert result.model == "gemini-3.8-flash"


def test_file_over_the_size_limit_says_how_many_shards(tmp_path: Path) -> None:
    path = write(tmp_path, [line(f"k{i}") for i in range(100)])
    size = path.stat().st_size
    result = scan(path, limits=FileLimits(developer_max_bytes=size // 3))
    assert problems(result) == [(0, "file-too-large")]
    assert "at least 4 files" in result.problems[0].message


def test_vertex_request_count_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_checks_mod, "FileLimits", lambda: FileLimits(vertex_max_requests=2))
    path = write(tmp_path, [json.dumps({"request": req()})] * 3)
    result = scan(path)
    assert problems(result) == [(0, "too-many-requests")]


def test_gzip_is_read_and_reported_with_decompressed_offsets(tmp_path: Path) -> None:
    lines = [line(f"k{i}", req("x" * i)) for i in range(20)] + ["oops"]
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    result = scan(path, sample_size=5, seed=3)
    assert result.files[0].compressed
    assert problems(result) == [(21, "not-json")]
    assert result.requests == 20
    got = dict(result.read_lines([0, 7]))
    assert got[7].decode() == lines[7]


def test_corrupt_gzip_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(line(f"k{i}") for i in range(2000)) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    result = scan(path)
    assert "gzip-corrupt" in result.problem_counts
    assert not result.valid()


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_input_is_an_input_error(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "nope.jsonl" if kind == "missing" else tmp_path
    with pytest.raises(InputError) as e:
        scan(target)
    assert str(target) in str(e.value)


def test_empty_file_and_garbage(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 40)
    result = scan([empty, garbage])
    codes = {(p.path, p.code) for p in result.problems}
    assert (str(empty), "no-requests") in codes
    assert (str(garbage), "no-requests") in codes
    assert result.requests == 0


def test_problems_are_counted_beyond_those_kept(tmp_path: Path) -> None:
    path = write(tmp_path, ["{bad"] * 50 + [line("a")])
    result = scan(path, keep_problems=3)
    assert result.problem_counts == {"not-json": 50}
    assert [p.line for p in result.problems] == [1, 2, 3]


def test_text_characters_by_place_and_hashes(tmp_path: Path) -> None:
    doc = "A shared document. " * 50
    tools = [
        {
            "functionDeclarations": [
                {
                    "name": "lookup",
                    "description": "Find a thing",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"q": {"type": "STRING", "description": "query"}},
                        "required": ["q"],
                    },
                }
            ]
        }
    ]
    r1 = {
        "contents": [{"parts": [{"text": doc}, {"text": "Question one?"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": tools,
    }
    r2 = {"contents": [{"parts": [{"text": doc}, {"text": "Another question?"}]}],
          "systemInstruction": {"parts": [{"text": "Be brief."}]}}  # fmt: skip
    result = scan(write(tmp_path, [line("a", r1), line("b", r2), line("c", req("Привет, мир"))]))
    rows = result.rows
    assert rows["system_chars"].tolist() == [9, 9, 0]
    assert rows["contents_chars"].tolist() == [len(doc) + 13, len(doc) + 17, 11]
    # LocalTokenizer's strings: name, description, property name, its description, required
    assert rows["tools_chars"].tolist() == [len("lookupFind a thingqqueryq"), 0, 0]
    assert rows["text_bytes"][2] == len("Привет, мир".encode())
    assert rows["system_hash"][0] == rows["system_hash"][1] != 0
    assert rows["prefix_hash"][0] == rows["prefix_hash"][1] != 0
    assert rows["prefix_chars"][0] == len(doc)
    assert rows["prefix_hash"][2] == 0


def test_request_texts_match_scan_characters(tmp_path: Path) -> None:
    from batchcost.batchfile import request_texts

    request = {
        "contents": [
            {"role": "user", "parts": [{"text": "Call it"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"city": "Paris", "n": 2}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"temp": "20C"}}}]},
        ],
        "generationConfig": {"responseSchema": {"type": "OBJECT", "properties": {"answer": {"type": "STRING"}}}},
    }
    result = scan(write(tmp_path, [line("a", request)]))
    texts = request_texts(request)
    assert sum(map(len, texts["contents"])) == result.rows["contents_chars"][0]
    assert texts["contents"] == ["Call it", "f", "city", "n", "Paris", "f", "temp", "20C"]
    assert texts["tools"] == ["answer"]


def test_media_parts_are_recorded(tmp_path: Path) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1000, 400)).save(buf, format="PNG")
    png = base64.b64encode(buf.getvalue()).decode()
    request = {
        "contents": [
            {"parts": [{"inlineData": {"mimeType": "image/png", "data": png},
                        "mediaResolution": {"level": "MEDIA_RESOLUTION_LOW"}},
                       {"fileData": {"fileUri": "files/abc", "mimeType": "video/mp4"},
                        "videoMetadata": {"startOffset": "10s", "endOffset": "70s", "fps": 2}},
                       {"text": "Describe both."}]}
        ]
    }  # fmt: skip
    result = scan(write(tmp_path, [line("a", request)]))
    assert result.valid(), result.problems
    m = result.media
    assert m["width"].tolist() == [1000, -1] and m["height"].tolist() == [400, -1]
    assert m["inline"].tolist() == [1, 0]
    assert m["resolution"].tolist() == [0, -1]
    assert m["clip_s"].tolist() == [-1, 60] and m["fps"].tolist() == [-1, 2]
    assert [result.mime_types[i] for i in m["mime"]] == ["image/png", "video/mp4"]
    assert result.rows["media_parts"].tolist() == [2]


def _big_file(tmp_path: Path, n: int, name: str = "big.jsonl") -> Path:
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "δέλτα", "読む", "1234"]
    lines = []
    for i in range(n):
        text = " ".join(rng.choice(words, size=int(rng.integers(1, 60))))
        lines.append(line(f"k{i}", req(text)))
    lines[n // 3] = "{broken"
    return write(tmp_path, lines, name)


def test_parallel_scan_equals_single_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _big_file(tmp_path, 3000)
    one = scan(path, sample_size=100, seed=7, workers=1)
    monkeypatch.setattr(scanner_mod, "PARALLEL_MIN_BYTES", 1)
    spill_dir = tmp_path / "tmp"
    spill_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_dir))
    two = scan(path, sample_size=100, seed=7, workers=2)
    assert list(spill_dir.iterdir()) == []  # the workers' column files are read and removed
    for name in one.rows:
        assert np.array_equal(one.rows[name], two.rows[name]), name
    assert problems(one) == problems(two) == [(1001, "not-json")]
    assert one.sample.tolist() == two.sample.tolist()


def test_sample_is_reproducible_and_of_usable_requests(tmp_path: Path) -> None:
    path = _big_file(tmp_path, 500)
    a = scan(path, sample_size=50, seed=1)
    b = scan(path, sample_size=50, seed=1)
    c = scan(path, sample_size=50, seed=2)
    assert a.sample.tolist() == b.sample.tolist() != c.sample.tolist()
    assert len(a.sample) == 50 and len(set(a.sample.tolist())) == 50
    assert a.rows["usable"][a.sample].all()
    assert len(scan(path, sample_size=10_000).sample) == 499  # smaller file: every usable request


def test_sample_is_uniform(tmp_path: Path) -> None:
    """Over many seeds each request is drawn k/N of the time (chi-square, fixed seeds)."""
    n, k, trials = 200, 20, 400
    path = write(tmp_path, [line(f"k{i}", req("x" * (1 + (i % 7) * 300))) for i in range(n)])
    counts = np.zeros(n)
    for seed in range(trials):
        counts[scan(path, sample_size=k, seed=seed).sample] += 1
    expected = trials * k / n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    # chi-square with 199 degrees of freedom: the 99.9th percentile is about 268.
    assert chi2 < 268, chi2
    # no position bias: first and second half drawn equally often (within 4 sigma)
    half = counts[: n // 2].sum() - counts[n // 2 :].sum()
    assert abs(half) < 4 * math.sqrt(trials * k)


def test_input_file_is_not_modified(tmp_path: Path) -> None:
    path = _big_file(tmp_path, 200)
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    scan(path, sample_size=10)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("window", [3, 1 << 20])
def test_a_file_is_cut_across_processes_just_after_newlines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    # lines of 1 to 40 bytes, then one of 5,000: some guesses fall inside it, and a small window
    # reads past several windows to find its end
    lines = [b"x" * (i % 40) for i in range(300)] + [b"y" * 5000, b"z"]
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    monkeypatch.setattr(scanner_mod, "_NEWLINE_WINDOW", window)
    for parts in (1, 2, 3, 7, 50):
        ranges = scanner_mod.line_ranges(str(path), len(data), parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert all(data[end - 1 : end] == b"\n" for _, end in ranges)
        # each cut is the first newline at or after its guess
        for k, (_, end) in enumerate(ranges[:-1], start=1):
            guess = max(len(data) * k // parts, ranges[k - 1][0])
            assert end == data.index(b"\n", guess) + 1
    # a file cut short after its size was taken: the ranges still end, and the stamp check names it
    assert scanner_mod.line_ranges(str(path), len(data) + 10_000, 4)[-1][1] == len(data) + 10_000
