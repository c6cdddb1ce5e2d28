"""No input crashes the scan: random bytes and random JSON give problems, never exceptions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchcost.batchfile import scan
from batchcost.batchfile.lines import OTHER_FORMATS
from batchcost.errors import InputError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
# Request-shaped values reach deeper code than arbitrary JSON.
part = st.dictionaries(
    st.sampled_from(["text", "inlineData", "fileData", "functionCall", "thought", "mediaResolution", "x"]),
    json_values,
    max_size=3,
)
request = st.fixed_dictionaries(
    {},
    optional={
        "contents": st.lists(st.fixed_dictionaries({}, optional={"role": json_values, "parts": st.lists(part)})),
        "systemInstruction": json_values | st.fixed_dictionaries({"parts": st.lists(part)}),
        "generationConfig": st.dictionaries(
            st.sampled_from(
                ["maxOutputTokens", "thinkingConfig", "mediaResolution", "candidateCount", "cachedContent"]
            ),
            json_values,
        ),
        "tools": json_values,
        "model": json_values,
        "cachedContent": json_values,
    },
)
lines = st.fixed_dictionaries({}, optional={"key": json_values, "request": request | json_values})

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_random_bytes_never_crash(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "random.jsonl"
    p.write_bytes(data)
    if data[:2] != b"\x1f\x8b" and any(data.startswith(magic) for magic, _, _ in OTHER_FORMATS):
        with pytest.raises(InputError, match="batchcost reads JSONL, plain or gzip-compressed"):
            scan(p, sample_size=3)  # an xz file, a zip archive...: named for what it is, not read as text
        return
    try:
        result = scan(p, sample_size=3)
    except InputError as e:  # a whole file named for what it is, with the command that fixes it
        assert re.search(r": is (UTF-16|UTF-32) text; |: is (a JSON array|pretty-printed JSON).*, not JSONL", str(e))
        return
    if data[:2] == b"\x1f\x8b":  # read as gzip: corrupt data is one problem, not lines
        assert not result.valid()
    else:
        assert result.lines == data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


@SETTINGS
@given(objs=st.lists(lines | json_values, min_size=1, max_size=8))
def test_random_json_never_crashes(tmp_path: Path, objs: list[object]) -> None:
    p = tmp_path / "random.jsonl"
    p.write_text("\n".join(json.dumps(o) for o in objs) + "\n")
    if not any(isinstance(o, dict) for o in objs) and json.dumps(objs[0]).startswith("["):
        # no line is an object and the first is an array: the file is named as JSON arrays
        with pytest.raises(InputError, match="is a JSON array, not JSONL"):
            scan(p, sample_size=2)
        return
    result = scan(p, sample_size=2)
    assert result.lines == len(objs)
    assert result.requests <= len(objs)
