"""The typed decode of the common request shapes (fast_request) against the walk it stands in for.

For every line, the fast path either declines (the line is then walked as before) or gives exactly
the row the walk gives: every column, the problems, the byte classes, the sample. And it never takes
a line on which the walk reports anything. Checked over the JSONL fixture, a file from the bench
generator, hand-picked edge lines and random requests written with repeated names, both spellings,
escapes and wrong values.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchcost.batchfile import fast_request, schema
from batchcost.batchfile.fast_request import FastLines, line_types
from batchcost.batchfile.line_check import RangeScanner, scan_lines
from batchcost.batchfile.result import ROW_COLUMNS
from batchcost.batchfile.scan_partial import record_dtype

REPO = Path(__file__).resolve().parents[2]


def _scan(data: bytes, form: str, fast: bool, classes: bool, gather: str = "") -> tuple[RangeScanner, set[int]]:
    """Scan ``data`` (one block) in one scanner; the offsets of the lines that were walked."""
    sc = RangeScanner(form, 0, 7, 5, 10**6, gather=gather or ("classes" if classes else "rows"), fast=fast)
    walked: set[int] = set()
    real = sc.walk_line

    def spy(raw: Any, offset: int, *rest: Any) -> None:
        walked.add(offset)
        real(raw, offset, *rest)

    sc.walk_line = spy  # type: ignore[method-assign]
    scan_lines(sc, data, memoryview(data), 0, len(data), 0, True)
    return sc, walked


def check_same(lines: list[bytes], form: str = "developer", classes: bool = False) -> set[int]:
    """Assert the fast and the walk-only scans of ``lines`` agree; return the indices the fast path took."""
    data = b"".join(line + b"\n" for line in lines)
    fast, walked = _scan(data, form, True, classes)
    slow, _ = _scan(data, form, False, classes)
    f, s = fast.p, slow.p
    assert bytes(f.records) == bytes(s.records)
    assert f.problems == s.problems
    assert f.counts == s.counts
    assert (f.lines, f.n_rows, f.models, f.mimes, f.caches) == (s.lines, s.n_rows, s.models, s.mimes, s.caches)
    assert {k: v.tolist() for k, v in f.media.items()} == {k: v.tolist() for k, v in s.media.items()}
    assert f.classes.tolist() == s.classes.tolist()
    assert sorted(f.sample) == sorted(s.sample)
    # gathering only what the checks need: the same problems and the same rows, but for the text
    # figures only estimates use
    checks, _ = _scan(data, form, True, False, "checks")
    c = checks.p
    assert (c.problems, c.counts, c.lines, c.n_rows, c.models) == (s.problems, s.counts, s.lines, s.n_rows, s.models)
    skipped = ("text_bytes", "first_hash", "prefix_hash", "prefix_chars")
    got, want = np.frombuffer(bytes(c.records), record_dtype()), np.frombuffer(bytes(s.records), record_dtype())
    for name in ROW_COLUMNS:
        if name not in skipped:
            assert got[name].tolist() == want[name].tolist(), name
    offsets = [0]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    taken = {i for i, offset in enumerate(offsets) if offset not in walked}
    flagged = {line - 1 for line, _, _ in s.problems}
    assert not taken & flagged, [lines[i] for i in taken & flagged]  # never a line the walk questions
    return taken


def test_the_structures_take_only_names_the_walk_knows() -> None:
    known = {
        "KeyedLine": {"key", "request"},
        "Line": {"request"},
        "Request": set(schema.REQUEST_FIELDS),
        "Content": set(schema.CONTENT_FIELDS),
        "System": set(schema.CONTENT_FIELDS),
        "Part": set(schema.PART_DATA_FIELDS),
        "Safety": {"category", "threshold"},
    }
    seen: dict[str, Any] = {}

    def visit(kind: Any) -> None:
        for arg in getattr(kind, "__args__", ()) or ():
            visit(arg)
        for arg in getattr(kind, "__metadata__", ()) or ():
            visit(arg)
        origin = getattr(kind, "__origin__", None)
        if origin is not None:
            visit(origin)
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct) and kind.__name__ not in seen:
            seen[kind.__name__] = kind
            for field in msgspec.structs.fields(kind):
                visit(field.type)

    for kind in line_types().values():
        visit(kind)
    assert set(seen) == set(known)
    for name, kind in seen.items():
        names = {f.encode_name for f in msgspec.structs.fields(kind)}
        assert names <= known[name], (name, names - known[name])


GOOD = b'{"key": "k%d", "request": {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}}'

EDGES = [
    GOOD % 1,
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}]}}\r',  # CRLF
    b'\xef\xbb\xbf{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}]}}',  # BOM
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"caf\\u00e9 \xe2\x82\xac \xf0\x9f\x98\x80"}]}]}}',
    b'{"key":"\\u00e9","request":{"contents":[{"parts":[{"text":"x"}]}]}}',
    b'{"key":"a","key":"b","request":{"contents":[{"parts":[{"text":"x"}]}]}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x","text":"y"}]}]}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"topK":1,"topK":2}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"maxOutputTokens":"512"}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"maxOutputTokens":512.0}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"maxOutputTokens":0}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"maxOutputTokens":true}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generation_config":{"maxOutputTokens":9,'
    b'"max_output_tokens":10,"thinking_config":{"thinkingLevel":"low","include_thoughts":true}}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":'
    b'{"thinkingBudget":-1,"thinkingLevel":"HIGH"}}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":'
    b'{"thinkingLevel":"THINKING_LEVEL_UNSPECIFIED"}}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"mediaResolution":'
    b'"MEDIA_RESOLUTION_UNSPECIFIED","responseSchema":{"type":"OBJECT","properties":{"a":{"type":"STRING",'
    b'"description":"d\xc3\xa9"}}}}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseJsonSchema":'
    b'{"type":"object","enum":["\xc3\xa9"]},"speechConfig":{"voice":{"name":"v"}}}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"cachedContent":"c"}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"temperatur":1}}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"systemInstruction":{"parts":[{"text":"s"}]},'
    b'"system_instruction":{"parts":[{"text":"s"}]}}}',
    b'{"key":"a","request":{"contents":[{"role":"user","parts":[{"text":"a"},{"text":"b"}]},{"role":"model",'
    b'"parts":[{"text":"c"}]}],"systemInstruction":{"role":"system","parts":[{"text":"s\xc3\xa9"}]},'
    b'"safetySettings":[{"category":"HARM_CATEGORY_HATE_SPEECH","threshold":"BLOCK_NONE"}],"model":"models/m"}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"model":" "}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"safetySettings":[{"category":"c"}]}}',
    b'{"key":"a","request":{"contents":[{"role":"system","parts":[{"text":"x"}]}]}}',
    b'{"key":"a","request":{"contents":[{"role":"user","parts":[]}]}}',
    b'{"key":"a","request":{"contents":[]}}',
    b'{"key":"","request":{"contents":[{"parts":[{"text":"x"}]}]}}',
    b'{"key":1,"request":{"contents":[{"parts":[{"text":"x"}]}]}}',
    b'{"key":"a","extra":1,"request":{"contents":[{"parts":[{"text":"x"}]}]}}',
    b'{"key" : "a", "request" : {"contents" : [{"parts" : [{"text" : "x"}]}]}}',  # spaces before colons
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x\\\\":1"}]}]}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"\\ud800"}]}]}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"\xff"}]}]}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}]}',
    b"",
    b"[1, 2]",
    b'{"custom_id":"a","method":"POST","url":"/v1","body":{}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}]}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"googleSearch":{}}]}}',
    # long requests whose UTF-8 bytes come from the byte-class count: with a system instruction and a
    # response schema, and in several parts
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"' + "\u00e9t\u00e9 ".encode() * 1200 + b'"}]}],'
    b'"systemInstruction":{"parts":[{"text":"sois br\\u00e8ve"}]},"generationConfig":{"responseSchema":'
    b'{"type":"OBJECT","description":"r\\u00e9ponse","properties":{"a":{"type":"STRING"}}}}}}',
    b'{"key":"a","request":{"contents":[{"role":"user","parts":[{"text":"'
    + "\u4e2d\u6587".encode() * 1500
    + b'"},{"text":"q\\u00e9"}]},{"role":"model","parts":[{"text":"\\u00e9"}]},{"role":"user","parts":[{"text":"x"}]}]}}',
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"' + "ab\u00e9\u4e2d".encode() * 1500 + b'"}]}]}}',
]


@pytest.mark.parametrize("classes", [False, True])
def test_edge_lines(classes: bool) -> None:
    taken = check_same(EDGES, classes=classes)
    assert 0 in taken and 1 in taken and 3 in taken and {len(EDGES) - 3, len(EDGES) - 2, len(EDGES) - 1} <= taken
    assert 5 not in taken and 6 not in taken and 7 not in taken  # repeated names: walked, reported


IMAGE_LINES = [
    b'{"key":"a","request":{"contents":[{"parts":[{"text":"a red mug"}]}],"generationConfig":'
    b'{"responseModalities":["IMAGE"],"imageConfig":{"imageSize":"2K","aspectRatio":"1:1"}}}}',
    b'{"key":"b","request":{"contents":[{"parts":[{"text":"a mug"}]}],"generationConfig":'
    b'{"responseModalities":["TEXT","image"],"candidateCount":2}}}',
    b'{"key":"c","request":{"contents":[{"parts":[{"text":"a mug"}]}],"generationConfig":'
    b'{"response_modalities":["TEXT"],"image_config":{"image_size":"512"}}}}',
    b'{"key":"d","request":{"contents":[{"parts":[{"text":"a mug"}]}],"generationConfig":'
    b'{"imageConfig":{"imageSize":"4k"}}}}',
    b'{"key":"e","request":{"contents":[{"parts":[{"text":"say hi"}]}],"generationConfig":'
    b'{"responseModalities":["AUDIO"],"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"Kore"}}}}}}',
    b'{"key":"f","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"imageConfig":{"imageSize":"8K"}}}}',
    b'{"key":"g","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseModalities":["PICTURE"]}}}',
    b'{"key":"h","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseModalities":"IMAGE"}}}',
    b'{"key":"i","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"imageConfig":[1]}}}',
]


@pytest.mark.parametrize("classes", [False, True])
def test_image_and_speech_requests_give_the_walks_flags(classes: bool) -> None:
    # the fast path takes the well-formed output settings and leaves a bad value to the walk
    assert check_same(IMAGE_LINES, classes=classes) == {0, 1, 2, 3, 4}


def test_every_flag_bit_is_its_own_and_fits_the_flags_column() -> None:
    import numpy as np

    from batchcost.batchfile import embed_request, output_request, request
    from batchcost.batchfile.result import ROW_COLUMNS

    named = {
        k: v for m in (request, embed_request, output_request) for k, v in vars(m).items() if k.startswith("FLAG_")
    }
    bits = [*named.values(), output_request.IMAGE_SIZE_MASK]  # (request re-exports FLAG_EMBED: one name, one bit)
    seen = 0
    for b in bits:
        assert seen & b == 0, b  # no two flags share a bit
        seen |= b
    assert seen <= np.iinfo(np.dtype(ROW_COLUMNS["flags"][1])).max


def test_remembered_parts_are_forgotten_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_request, "_REMEMBER", 4)
    lines = [
        b'{"key":"k%d","request":{"contents":[{"parts":[{"text":"x"}]}],"systemInstruction":{"parts":[{"text":"s%d"}]},'
        b'"generationConfig":{"maxOutputTokens":%d,"topK":%d}}}' % (i, i % 7, 1 + i % 5, i % 3)
        for i in range(60)
    ]
    assert check_same(lines) == set(range(60))
    fast = FastLines("developer")
    for i in range(40):
        fast.figures(fast.decode(lines[i]).request, 0)
        assert len(fast._configs) <= 4 and len(fast._systems) <= 4


def test_vertex_lines() -> None:
    lines = [
        b'{"request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"topP":0.5}}}',
        b'{"request":{"contents":[{"parts":[{"text":"hi"}]}]},"key":"k"}',
        b'{"request":{"contents":[{"parts":[{"text":"hi"}]}]},"id":7}',
    ]
    assert check_same(lines, form="vertex") == {0}


def test_the_fixture_lines_and_requests_made_of_its_texts() -> None:
    fixture = (REPO / "tests" / "data" / "gemma3-token-counts.jsonl").read_bytes().splitlines()
    check_same(fixture)
    texts = [json.loads(line)["text"] for line in fixture]
    requests = [
        json.dumps(
            {"key": f"k{i}", "request": {"contents": [{"role": "user", "parts": [{"text": t}]}]}},
            ensure_ascii=i % 2 == 0,
        ).encode()
        for i, t in enumerate(texts)
    ]
    taken = check_same(requests, classes=True)
    assert len(taken) >= len(requests) * 0.9


@pytest.mark.slow
def test_a_file_from_the_bench_generator(tmp_path: Path) -> None:
    path = tmp_path / "bench.jsonl"
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "make_batch_file.py"), str(path), "--size-mb", "2", "--seed", "3"],
        check=True,
        capture_output=True,
    )
    lines = path.read_bytes().splitlines()
    for classes in (False, True):
        taken = check_same(lines, classes=classes)
    assert len(taken) >= 0.9 * len(lines)  # the common shapes are the fast path's


# -- random requests, written by hand so that a name may be repeated ------------------------------


@dataclass(frozen=True)
class Obj:
    """A JSON object as its pairs, in order: a name may come twice."""

    pairs: tuple[tuple[str, Any], ...]


def render(value: Any, ascii_only: bool, spaced: bool) -> str:
    sep, colon = (", ", ": ") if spaced else (",", ":")
    if isinstance(value, Obj):
        inner = sep.join(
            f"{json.dumps(k, ensure_ascii=ascii_only)}{colon}{render(v, ascii_only, spaced)}" for k, v in value.pairs
        )
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + sep.join(render(v, ascii_only, spaced) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def both(*names: str) -> list[str]:
    return sorted({spelled for name in names for spelled in (name, schema.snake_case(name))})


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["", "a", "é", "中文", "😀", 'q"uote', "back\\slash", "new\nline", '":', "\\u00e9"]
)
scalars = (
    st.none()
    | st.booleans()
    | st.sampled_from([0, 1, -1, -2, 7, 512, 2**31 - 1, 2**31, 1.5, 512.0, -0.0])
    | st.sampled_from(["512", " 7 ", "-1", "x", "HIGH", "low", "thinking_level_medium", "UNSPECIFIED", "hıgh"])
    | st.sampled_from(["MEDIA_RESOLUTION_LOW", "medium", "MEDIA_RESOLUTION_UNSPECIFIED", "models/m", " ", "a\tb"])
)
values = st.recursive(
    scalars | texts,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(st.tuples(st.sampled_from(["a", "type", "description", "x"]), inner), max_size=3).map(
            lambda pairs: Obj(tuple(pairs))
        )
    ),
    max_leaves=6,
)


def pairs_of(names: list[str], value_for: Any, max_size: int = 4) -> Any:
    """Objects of names drawn from ``names`` (a name may repeat) with values from ``value_for(name)``."""
    return st.lists(
        st.sampled_from(names).flatmap(lambda n: value_for(n).map(lambda v: (n, v))), max_size=max_size
    ).map(lambda pairs: Obj(tuple(pairs)))


part_names = ["text", "text", "text", "thought", "inlineData", "x"]
part = pairs_of(part_names, lambda n: texts if n == "text" else values, 2) | st.builds(
    lambda t: Obj((("text", t),)), texts
)
parts = st.lists(part, min_size=0, max_size=3)
content = st.tuples(st.sampled_from([None, "user", "model", "system", 1]), parts).map(
    lambda rp: Obj(((("role", rp[0]),) if rp[0] is not None else ()) + (("parts", rp[1]),))
)
thinking_names = [*both("thinkingBudget", "thinkingLevel", "includeThoughts"), "budget"]
thinking = pairs_of(thinking_names, lambda n: scalars, 3)
config_names = [
    *both(
        "maxOutputTokens", "candidateCount", "temperature", "topP", "stopSequences", "thinkingConfig",
        "mediaResolution", "responseSchema", "responseJsonSchema", "responseMimeType", "speechConfig",
    ),
    "cachedContent",
    "model",
    "temperatur",
]  # fmt: skip
config = pairs_of(
    config_names,
    lambda n: thinking | scalars if "thinking" in n else (values | st.just(Obj((("type", "STRING"),)))),
    4,
)
safety = st.lists(pairs_of(["category", "threshold", "method"], lambda n: scalars | texts, 3), max_size=2)
request_names = [*both("contents", "systemInstruction", "generationConfig", "safetySettings", "model"), "tools"]


def request_value(name: str) -> Any:
    if name == "contents":
        return st.lists(content, max_size=3)
    if name in ("systemInstruction", "system_instruction"):
        return (
            st.tuples(parts, st.sampled_from([None, "system"])).map(
                lambda pr: Obj((("parts", pr[0]),) + ((("role", pr[1]),) if pr[1] else ()))
            )
            | values
        )
    if name in ("generationConfig", "generation_config"):
        return config | values
    if name in ("safetySettings", "safety_settings"):
        return safety | values
    return values | texts


request = st.lists(st.sampled_from(request_names).flatmap(lambda n: request_value(n).map(lambda v: (n, v))), max_size=5)
request = st.tuples(st.lists(content, min_size=1, max_size=2), request).map(
    lambda cr: Obj((("contents", cr[0]), *cr[1]))
)
line = st.tuples(
    st.sampled_from(["k", "", "é", "k2", None]), request, st.sampled_from([(), (("key", "again"),), (("x", 1),)])
).map(lambda kre: Obj(((("key", kre[0]),) if kre[0] is not None else ()) + (("request", kre[1]),) + kre[2]))


# Mostly what the fast path takes, each field in either spelling, now and then a wrong value, a
# repeated or unknown name: the walk and the fast path must agree on every one.
def spelled(name: str, value: Any) -> Any:
    return st.tuples(st.sampled_from(both(name)), value)


def obj_of(fields: dict[str, Any], required: tuple[str, ...] = ()) -> Any:
    """Objects with the ``required`` fields and some of the others; now and then a name repeated or unknown."""
    optional = {k: v for k, v in fields.items() if k not in required}
    return st.tuples(
        st.fixed_dictionaries({k: fields[k] for k in required}, optional=optional),
        st.sampled_from(["keep"] * 40 + ["repeat", "unknown"]),
    ).map(lambda dm: _mutated(list(dm[0].values()), dm[1]))


def _mutated(pairs: list[tuple[str, Any]], how: str) -> Obj:
    if how == "repeat" and pairs:
        pairs = [*pairs, pairs[0]]
    elif how == "unknown":
        pairs = [*pairs, ("x", 1)]
    return Obj(tuple(pairs))


def rarely(good: Any, bad: Any) -> Any:
    """``good`` nine times in ten, else ``bad``."""
    return st.integers(0, 9).flatmap(lambda n: bad if n == 9 else good)


def mostly(good: list[Any], bad: list[Any]) -> Any:
    return st.sampled_from(good * (12 // len(good) + 1) + bad)


text_part = st.builds(lambda t: Obj((("text", t),)), texts)
good_parts = st.lists(
    st.sampled_from([0] * 12 + [1]).flatmap(lambda bad: part if bad else text_part), min_size=1, max_size=3
)
good_content = obj_of(
    {"role": st.tuples(st.just("role"), mostly(["user", "model"], ["system", None, 1])),
     "parts": st.tuples(st.just("parts"), rarely(good_parts, st.just([])))},
    required=("parts",),
)  # fmt: skip
good_thinking = obj_of(
    {
        "thinkingBudget": spelled("thinkingBudget", mostly([-1, 0, 1024, "2048"], [-2, 2**31, True, "x"])),
        "thinkingLevel": spelled(
            "thinkingLevel", mostly(["LOW", "high", "THINKING_LEVEL_MEDIUM"], ["x", "UNSPECIFIED"])
        ),
        "includeThoughts": spelled("includeThoughts", mostly([True, False], [1, "yes", None])),
    }
)
good_config = obj_of(
    {
        "maxOutputTokens": spelled("maxOutputTokens", mostly([512, 1, 2**31 - 1, "512", " 7 "], [0, 512.0, True, "x"])),
        "candidateCount": spelled("candidateCount", mostly([1, 2], [0, "two"])),
        "temperature": spelled("temperature", mostly([0.2, 1, 0], ["hot", None, [1]])),
        "topP": spelled("topP", mostly([0.9], [{"a": 1}])),
        "stopSequences": spelled("stopSequences", mostly([["END", "é"], []], [[1], "END"])),
        "responseMimeType": spelled("responseMimeType", mostly(["application/json"], [None])),
        "thinkingConfig": spelled("thinkingConfig", rarely(good_thinking, scalars)),
        "mediaResolution": spelled(
            "mediaResolution", mostly(["MEDIA_RESOLUTION_LOW", "high"], ["MEDIA_RESOLUTION_UNSPECIFIED", "x", 1])
        ),
        "responseSchema": spelled(
            "responseSchema", values | st.just(Obj((("type", "OBJECT"), ("description", "d\u00e9 é"))))
        ),
        "responseJsonSchema": spelled("responseJsonSchema", values),
        "responseModalities": spelled(
            "responseModalities",
            mostly([["IMAGE"], ["TEXT", "IMAGE"], ["text"], ["AUDIO"]], [["PICTURE"], "IMAGE", [1]]),
        ),
        "imageConfig": spelled(
            "imageConfig",
            mostly(
                [Obj((("imageSize", "1K"),)), Obj((("image_size", "2k"), ("aspectRatio", "16:9"))), Obj(())],
                [Obj((("imageSize", "8K"),)), Obj((("imageSize", 1),)), "1K"],
            ),
        ),
    }
)
good_system = obj_of(
    {"parts": st.tuples(st.just("parts"), good_parts), "role": st.tuples(st.just("role"), mostly(["system"], [1]))},
    required=("parts",),
)
good_safety = st.lists(
    obj_of({"category": st.tuples(st.just("category"), texts), "threshold": st.tuples(st.just("threshold"), texts)},
           required=("category", "threshold")),
    max_size=2,
)  # fmt: skip
good_request = obj_of(
    {
        "contents": st.tuples(st.just("contents"), st.lists(good_content, min_size=1, max_size=3)),
        "systemInstruction": spelled("systemInstruction", rarely(good_system, values)),
        "generationConfig": spelled("generationConfig", rarely(good_config, values)),
        "safetySettings": spelled("safetySettings", rarely(good_safety, values)),
        "model": st.tuples(st.just("model"), mostly(["gemini-2.5-flash", "models/gemini-2.5-pro"], [" ", "a\tb", 1])),
    },
    required=("contents",),
)
good_line = obj_of(
    {"key": st.tuples(st.just("key"), mostly(["k", "é", "k-2"], ["", 1])),
     "request": st.tuples(st.just("request"), good_request)},
    required=("key", "request"),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(good_line, st.booleans(), st.booleans()), min_size=1, max_size=6), st.booleans())
def test_random_requests_of_the_common_shapes(drawn: list[tuple[Obj, bool, bool]], classes: bool) -> None:
    lines = [render(obj, ascii_only, spaced).encode() for obj, ascii_only, spaced in drawn]
    check_same(lines, classes=classes)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(line, st.booleans(), st.booleans()), min_size=1, max_size=6), st.booleans())
def test_random_requests_of_any_shape(drawn: list[tuple[Obj, bool, bool]], classes: bool) -> None:
    lines = [render(obj, ascii_only, spaced).encode() for obj, ascii_only, spaced in drawn]
    check_same(lines, classes=classes)
