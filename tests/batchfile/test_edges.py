"""Batch files at the edges: lines that are JSON but not objects, repeated names, deep nesting,
gzip bombs and over-long lines, pipes and FIFOs, and file text that would steer a terminal."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchcost.batchfile import line_check as line_check_mod
from batchcost.batchfile import lines as lines_mod
from batchcost.batchfile import scan
from batchcost.batchfile import scan_partial as partial_mod
from batchcost.batchfile import scan_worker as worker_mod
from batchcost.batchfile import scanner as scanner_mod
from batchcost.batchfile.names import name_colons
from batchcost.batchfile.problems import Problem, escaped, quoted
from batchcost.batchfile.request import MAX_NESTING
from batchcost.batchfile.results import read_input_keys, read_results
from batchcost.cli import main
from batchcost.errors import InputError
from tests.hangs import raised_within

GOOD = '{"key": "%s", "request": {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}}'


def write(tmp_path: Path, lines: list[str], name: str = "in.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return path


def codes(result: Any) -> list[tuple[int, str]]:
    return [(p.line, p.code) for p in result.problems]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# -- lines that are JSON but not objects -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [("null", "null"), ("1", "number"), ('"x"', "string"), ("[]", "array"), ("true", "boolean"), ("-0.5", "number")],
)
def test_a_json_value_that_is_not_an_object_is_an_error(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, [GOOD % "a", text, GOOD % "b"])
    result = scan(path)
    assert codes(result) == [(2, "not-object")]
    assert f"line is a JSON {kind}, not an object" in result.problems[0].message
    assert (result.requests, result.lines, result.errors) == (2, 3, 1)
    assert result.rows["usable"].tolist() == [1, 0, 1]


def test_validate_names_file_and_line_of_a_null_line(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD % "a", "null"])
    code, out, _ = run_cli("validate", str(path))
    assert code == 1
    assert f"  {path}:2: line is a JSON null, not an object; each line must be" in out


# -- names given twice in one object ---------------------------------------------------------------


def _line(request: str, key: str = '"key": "k"') -> str:
    return "{" + key + ', "request": ' + request + "}"


REQ = '{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]%s}'


@pytest.mark.parametrize(
    ("line", "name", "where"),
    [
        ('{"key": "a", "key": "b", "request": ' + REQ % "" + "}", "key", "the line's object"),
        (_line('{"contents": [], "contents": [{"parts": [{"text": "hi"}]}]}'), "contents", "request"),
        (_line(REQ % ', "generationConfig": {"temperature": 1, "temperature": 0}'), "temperature",
         "request.generationConfig"),
        (_line('{"contents": [{"parts": [{"text": "a", "text": "b"}]}]}'), "text", "request.contents[0].parts[0]"),
        (_line('{"contents": [{"parts": [{"text": "a"}]}, {"role": "user", "role": "model", "parts": [{"text": "b"}]}]}'),
         "role", "request.contents[1]"),
        (_line('{"contents": [{"parts": [{"functionCall": {"name": "f", "args": {"x": {"y": 1, "y": 2}}}}]}]}'),
         "y", "request.contents[0].parts[0].functionCall.args.x"),
        (_line(REQ % ', "generationConfig": {"responseSchema": {"type": "OBJECT", "properties": '
                      '{"a": {"type": "STRING"}, "a": {"type": "NUMBER"}}}}'),
         "a", "request.generationConfig.responseSchema.properties"),
        (_line(REQ % ', "generationConfig": {"thinkingConfig": {"thinkingBudget": 1, "thinkingBudget": 2}}'),
         "thinkingBudget", "request.generationConfig.thinkingConfig"),
        (_line(REQ % ', "safetySettings": [{"category": "A", "category": "B", "threshold": "X"}]'), "category",
         "request.safetySettings[0]"),
        # spaces before colons make the byte count doubtful: such a line is parsed in full
        ('{"key" : "a", "key" : "b", "request" : ' + REQ % "" + "}", "key", "the line's object"),
        # a name ending in an escaped backslash looks like an escaped quote to the byte count
        (_line(REQ % ', "labels": {"a\\\\": "1", "a\\\\": "2"}'), "a\\", "request.labels"),
    ],
)  # fmt: skip
def test_a_name_given_twice_is_an_error_naming_it_and_where(tmp_path: Path, line: str, name: str, where: str) -> None:
    path = write(tmp_path, [GOOD % "first", line])
    result = scan(path)
    dup = [p for p in result.problems if p.code == "duplicate-name"]
    assert [(p.line, p.code) for p in dup] == [(2, "duplicate-name")], result.problems
    assert dup[0].message.startswith(f"{quoted(name)} appears more than once in {where}; remove the repeat")
    assert result.rows["usable"].tolist() == [1, 0]


@pytest.mark.parametrize(
    "line",
    [
        # JSON inside text: escaped quotes before colons, and colons everywhere
        _line('{"contents": [{"parts": [{"text": "use {\\"key\\": 1, \\"key\\": 2} and a: b \\" : c"}]}]}'),
        # names with escaped quotes and backslashes, each once
        _line(REQ % ', "labels": {"a\\"": "1", "a": "2", "b\\\\": "3", "b": "4", "\\\\\\"": "5"}'),
        # loose spacing everywhere, no repeats
        '{ "key" :  "a" , "request" : { "contents" : [ { "parts" : [ { "text" : "x" } ] } ] } }',
        '{"key":"a","request":{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"seed":1}}}',
        # the same name in different objects is fine
        _line('{"contents": [{"parts": [{"text": "a"}, {"text": "b"}]}, {"parts": [{"text": "c"}]}]}'),
        # tabs and carriage returns are JSON whitespace too
        '{"key":\t"a",\r"request":{"contents":[{"parts":[{"text":"x"}]}]}}',
    ],
)
def test_no_repeat_no_problem(tmp_path: Path, line: str) -> None:
    path = write(tmp_path, [line])
    result = scan(path)
    assert "duplicate-name" not in result.problem_counts, result.problems
    assert result.requests == 1


def test_only_a_line_with_a_repeat_is_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[bytes] = []
    real = line_check_mod.repeated_names

    def spy(raw: Any) -> list[tuple[str, str]]:
        parsed.append(bytes(raw))
        return real(raw)

    monkeypatch.setattr(line_check_mod, "repeated_names", spy)
    lines = [GOOD % f"k{i}" for i in range(50)]
    # spaces before colons, JSON in a text (escaped quotes), prose with " : " and runs of backslashes
    lines[10] = '{"key" : "k10", "request": {"contents": [{"parts": [{"text": "spaced"}]}]}}'
    lines[11] = '{"key":"k11","request":{"contents":[{"parts":[{"text":"{\\"a\\" : 1, \\"b\\": 2} note : x  : y"}]}]}}'
    lines[12] = '{"key":"k12","request":{"contents":[{"parts":[{"text":"a\\\\\\":1 b\\\\\\" : 2"}]}]}}'
    lines[20] = '{"key": "k20", "key": "again", "request": {"contents": [{"parts": [{"text": "x"}]}]}}'
    result = scan(write(tmp_path, lines))
    assert parsed == [lines[20].encode()]  # the other 49 are settled by the count
    assert codes(result) == [(21, "duplicate-name")]


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ('{"a":1}', 1),
        ('{"":1}', 1),
        ('{"a" :1,"b"\t:2,"c"\r :3}', 3),
        ('{"t":"x\\":1"}', 1),  # an escaped quote before a colon: inside the string
        ('{"t":"x\\" : 1"}', 1),
        ('{"a\\\\":1}', 1),  # a name ending in an escaped backslash
        ('{"a\\\\" :1}', 1),
        ('{"t":"x\\\\\\":1"}', 1),  # an escaped backslash, then an escaped quote
        ('{"t":"x\\\\\\"  :1"}', 1),
        ('{"a\\\\\\\\":1}', 1),  # two escaped backslashes ending a name
        ('{"t":"note : x  : y \\t: z"}', 1),
        ('{"a"  :  {"b"   :[{"c":1}]}}', 3),
    ],
)  # fmt: skip
def test_name_colons_counts_exactly_the_colons_that_end_names(line: str, names: int) -> None:
    data = (line + "\n" + line).encode()
    first = len(line)
    assert name_colons(data, 0, len(data), [first, len(data)]) == [names, names]
    # the same line alone at the start of a block (the bytes before a colon are then few)
    assert name_colons(line.encode(), 0, len(line), [len(line)]) == [names]


# Random objects written with or without repeated names, with random spacing: the scan reports a
# repeat exactly when one was written. ESC_A is the name "a" written as "\\u0061".
names = st.sampled_from(["a", "ESC_A", "b", 'q"', "s\\", ":", ":x", " ", "é", '\\"'])
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(['":', '\\":', "x: y", '{"a": 1}', ":"])
objects = st.recursive(
    st.lists(st.tuples(names, scalars), max_size=4).map(lambda pairs: ("obj", pairs)),
    lambda inner: (
        st.lists(st.tuples(names, inner | scalars), max_size=4).map(lambda pairs: ("obj", pairs))
        | st.lists(inner | scalars, max_size=3).map(lambda items: ("arr", items))
    ),
    max_leaves=12,
)


def _dump(value: Any, colon: str, comma: str) -> str:
    if isinstance(value, tuple) and value[0] == "obj":
        return "{" + comma.join(_name(k) + colon + _dump(v, colon, comma) for k, v in value[1]) + "}"
    if isinstance(value, tuple) and value[0] == "arr":
        return "[" + comma.join(_dump(v, colon, comma) for v in value[1]) + "]"
    return json.dumps(value, ensure_ascii=False)


def _name(name: str) -> str:
    return '"\\u0061"' if name == "ESC_A" else json.dumps(name, ensure_ascii=False)


def _has_repeat(value: Any) -> bool:
    if isinstance(value, tuple) and value[0] == "obj":
        keys = ["a" if k == "ESC_A" else k for k, _ in value[1]]
        return len(set(keys)) != len(keys) or any(_has_repeat(v) for _, v in value[1])
    if isinstance(value, tuple) and value[0] == "arr":
        return any(_has_repeat(v) for v in value[1])
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=objects.filter(lambda v: v[0] == "obj"),
    colon=st.sampled_from([":", ": ", " : ", "\t:", "  :"]),
    comma=st.sampled_from([",", ", "]),
)
def test_a_repeat_is_found_exactly_when_written(tmp_path: Path, value: Any, colon: str, comma: str) -> None:
    request = REQ % (', "generationConfig": {"responseJsonSchema": ' + _dump(value, colon, comma) + "}")
    path = write(tmp_path, [_line(request)])
    result = scan(path)
    assert ("duplicate-name" in result.problem_counts) == _has_repeat(value), result.problems


# -- deep nesting ------------------------------------------------------------------------------------


def _deep_schema(levels: int) -> str:
    inner = '{"type": "STRING"}'
    for _ in range(levels):
        inner = '{"type": "OBJECT", "properties": {"a": ' + inner + "}}"
    return inner


@pytest.mark.parametrize("levels", [500, 1000, 5000])
def test_deep_nesting_is_one_problem_not_a_traceback(tmp_path: Path, levels: int) -> None:
    deep = _line(REQ % (', "generationConfig": {"responseSchema": ' + _deep_schema(levels) + "}"))
    path = write(tmp_path, [GOOD % "a", deep, GOOD % "b"])
    result = scan(path)
    assert codes(result) == [(2, "nesting-too-deep")]
    assert result.problems[0].message.startswith(f"objects and arrays are nested more than {MAX_NESTING} levels deep")
    assert result.requests == 2


def test_deep_arrays_anywhere_and_in_the_line_itself(tmp_path: Path) -> None:
    lines = [
        "[" * 3000 + "]" * 3000,
        _line(REQ % (', "labels": ' + "[" * 400 + "]" * 400)),
        _line(
            '{"contents": [{"parts": [{"functionCall": {"name": "f", "args": {"x": ' + "[" * 300 + "]" * 300 + "}}}]}]}"
        ),
        GOOD % "fine",
    ]
    result = scan(write(tmp_path, lines))
    assert codes(result) == [(1, "nesting-too-deep"), (2, "nesting-too-deep"), (3, "nesting-too-deep")]


def test_nesting_within_the_limit_is_fine(tmp_path: Path) -> None:
    ok = _line(REQ % (', "generationConfig": {"responseSchema": ' + _deep_schema(MAX_NESTING // 2 - 4) + "}"))
    result = scan(write(tmp_path, [ok]))
    assert result.valid() and result.requests == 1


def test_deep_nesting_in_parallel_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner_mod, "PARALLEL_MIN_BYTES", 1)
    deep = _line(REQ % (', "generationConfig": {"responseSchema": ' + _deep_schema(2000) + "}"))
    lines = [GOOD % f"k{i}" for i in range(400)]
    lines[100] = lines[300] = deep
    result = scan(write(tmp_path, lines), workers=2)
    assert codes(result)[:2] == [(101, "nesting-too-deep"), (301, "nesting-too-deep")]


def test_an_error_while_a_line_is_checked_is_not_hidden_by_the_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The frames of the line being checked hold slices of the file mapping; closing the mapping
    # while they live raised BufferError over the real error (Ctrl-C during a scan).
    def interrupted(*args: Any) -> Any:
        raise KeyboardInterrupt

    # a line of the common shapes is read by the typed decode, any other is walked: stop both
    monkeypatch.setattr(line_check_mod.Walker, "walk", interrupted)
    monkeypatch.setattr(line_check_mod.FastLines, "figures", interrupted)
    with pytest.raises(KeyboardInterrupt):
        scan(write(tmp_path, [GOOD % "a", GOOD % "b"]))


# -- over-long lines and gzip bombs ----------------------------------------------------------------


def _reader(chunks: Iterator[bytes], log: list[str]) -> Callable[[int], bytes]:
    """A ``read(n)`` over generated data that logs each read, and what it has handed out."""
    pending = b""

    def read(n: int) -> bytes:
        nonlocal pending
        while len(pending) < n:
            nxt = next(chunks, None)
            if nxt is None:
                break
            pending += nxt
        data, pending = pending[:n], pending[n:]
        log.append(f"read {len(data)}")
        return data

    return read


def test_stream_blocks_holds_one_block_and_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    limit, chunk = 1000, 4096
    line = b'{"a": 1}\n'

    def data() -> Iterator[bytes]:
        yield line * 100
        yield b"z" * 50_000  # a line far over the limit, in pieces
        yield b"z" * 50_000 + b"\n"
        for _ in range(300):
            yield line * 100  # 270 KB of short lines
        yield b"tail without newline"

    log: list[str] = []
    blocks = []
    for offset, buf, n, newline in lines_mod.stream_blocks(_reader(data(), log), limit, chunk):
        log.append("yield")
        blocks.append((offset, None if buf is None else bytes(buf[:n]), n, newline))
        assert buf is None or len(buf) <= chunk + limit  # never more than a block and one line
    long_lines = [(o, n) for o, b, n, _ in blocks if b is None]
    assert long_lines == [(900, 100_000)]
    whole = b"".join(b for _, b, _, _ in blocks if b is not None)
    assert whole == line * 100 + (line * 100) * 300 + b"tail without newline"
    assert blocks[-1][3] is False and all(nl for *_, nl in blocks[:-1])
    # streaming: the first lines come out after the first read, not after the last one
    assert log.index("yield") == 1
    assert log.count("yield") > 50


def line_limit(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """A smaller line limit for the scan: where lines are checked and where gzip lines are streamed."""
    monkeypatch.setattr(line_check_mod, "MAX_LINE_BYTES", limit)
    monkeypatch.setattr(worker_mod, "MAX_LINE_BYTES", limit)


def test_gzip_over_long_line_is_one_error_and_the_rest_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line_limit(monkeypatch, 100_000)
    body = ("\n".join([GOOD % "a", "\0" * 5_000_000, GOOD % "b"]) + "\n").encode()
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(body))
    result = scan(path)
    assert codes(result) == [(2, "line-too-long")]
    assert result.problems[0].message.startswith("line is 5 MiB, over the 0 MiB line limit")
    assert result.requests == 2
    assert result.rows["offset"].tolist() == [0, len(GOOD % "a") + 1, len(GOOD % "a") + 5_000_002]
    assert result.files[0].data_size == len(body)
    assert dict(result.read_lines([2])) == {2: (GOOD % "b").encode()}


def test_gzip_bomb_of_zeros_is_read_in_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line_limit(monkeypatch, 1_000_000)
    monkeypatch.setattr(worker_mod, "_BLOCK", 256 * 1024)
    path = tmp_path / "zeros.gz"
    with gzip.open(path, "wb") as fh:
        for _ in range(64):
            fh.write(b"\0" * (1 << 20))  # 64 MiB of zeros in a 64 KB file, no newline
    largest = []
    real = worker_mod.stream_blocks

    def watch(read: Any, limit: int, chunk: int = worker_mod._BLOCK) -> Any:
        def counted(n: int) -> bytes:
            data = read(n)
            if limit == 1_000_000:  # the scan's reads (the form is guessed from the head first)
                largest.append(len(data))
            return data

        return real(counted, limit, chunk)

    monkeypatch.setattr(worker_mod, "stream_blocks", watch)
    result = scan(path)
    assert codes(result) == [(0, "no-requests"), (1, "line-too-long")]
    assert result.files[0].data_size == 64 << 20
    assert max(largest) <= 256 * 1024 and len(largest) >= 256  # read a block at a time, never whole


def test_plain_over_long_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line_limit(monkeypatch, 10_000)
    path = write(tmp_path, [GOOD % "a", '{"key": "b", "request": "' + "x" * 20_000 + '"}', GOOD % "c"])
    result = scan(path)
    assert codes(result) == [(2, "line-too-long")]
    assert result.requests == 2


def test_results_over_long_line_and_gzip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines_mod, "MAX_LINE_BYTES", 10_000)  # results files read lines through batchfile.lines
    ok = '{"key": "%s", "response": {"usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2}}}'
    body = "\n".join([ok % "a", "\0" * 50_000, ok % "b"]) + "\n"
    path = tmp_path / "results.jsonl.gz"
    path.write_bytes(gzip.compress(body.encode()))
    rs = read_results(path)
    assert [(p.line, p.code) for p in rs.problems] == [(2, "line-too-long")]
    assert rs.succeeded == 2 and rs.keys == ["a", None, "b"]


# -- pipes and FIFOs ---------------------------------------------------------------------------------


def _finishes(func: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Run ``func`` in a thread; fail (instead of hanging the test run) if it does not return in time."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as e:  # handed to the test below
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "hung on a pipe"
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO with a writer thread waiting to send a valid batch file into it."""
    path = tmp_path / "batch.fifo"
    os.mkfifo(path)

    def writer() -> None:
        try:
            with open(path, "wb") as fh:  # waits for a reader
                fh.write(((GOOD % "a") + "\n").encode())
        except OSError:
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    yield path
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # let the writer finish
    t.join(5)
    os.close(fd)


def test_fifo_is_refused_at_once_with_the_fix(fifo: Path) -> None:
    with pytest.raises(InputError, match=r"is a pipe or FIFO; .*write the data to a file first"):
        _finishes(lambda: scan(fifo))
    with pytest.raises(InputError, match="is a pipe or FIFO"):
        _finishes(lambda: read_results(fifo))
    with pytest.raises(InputError, match="is a pipe or FIFO"):
        _finishes(lambda: read_input_keys(fifo))


@pytest.mark.parametrize("command", [["validate"], ["estimate", "--model", "gemini-2.5-flash"]])
def test_cli_on_a_fifo_exits_2_with_one_line(fifo: Path, command: list[str]) -> None:
    code, _out, err = _finishes(lambda: run_cli(command[0], str(fifo), *command[1:]))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"batchcost: error: {fifo}: is a pipe or FIFO;")


def test_a_pipe_path_is_refused_not_read_as_empty() -> None:
    # what `estimate <(cat file)` and `validate /dev/stdin` of a pipe pass as the file name
    r, w = os.pipe()
    try:
        os.write(w, ((GOOD % "a") + "\n").encode())
        with pytest.raises(InputError, match="is a pipe or FIFO"):
            _finishes(lambda: scan(f"/dev/fd/{r}"))
    finally:
        os.close(r)
        os.close(w)


def test_dev_stdin_redirected_from_a_file_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD % "a", GOOD % "b"])
    with path.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "batchcost", "validate", "/dev/stdin"],
            stdin=stdin, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "valid: 2 requests in 2 lines" in done.stdout


# -- file text in messages ---------------------------------------------------------------------------

NASTY = "\x1b[31mred\nfake: line\r\x85\x9b\u202ex\u200b\t\\"


def test_escaped_writes_controls_and_invisibles_as_escapes() -> None:
    assert escaped(NASTY) == "\\x1b[31mred\\nfake: line\\r\\x85\\x9b\\u202ex\\u200b\\t\\\\"
    assert quoted('a"b') == '"a\\"b"'
    assert escaped("plain é 文字") == "plain é 文字"
    assert escaped("x" * 100, 10) == "x" * 10 + "..."
    # the safety net: a message that quoted file text raw still comes out on one line
    assert Problem("f", 1, "not-json", "a\x1bb\nc").message == "a\\x1bb\\nc"


def test_file_text_never_reaches_the_terminal_raw(tmp_path: Path) -> None:
    n = json.dumps(NASTY)
    lines = [
        '{"key": "a", ' + n + ': 1, "request": ' + REQ % "" + "}",
        '{"key": "b", "request": {' + n + ': 1, "contents": [{"parts": [{"text": "x"}]}]}}',
        _line(REQ % (', "generationConfig": {' + n + ": 1}"), '"key": "c"'),
        _line('{"contents": [{' + n + ': 1, "parts": [{"text": "x", ' + n + ": 2}]}]}", '"key": "d"'),
        _line(REQ % (', "tools": [{' + n + ": {}}]"), '"key": "e"'),
        _line(REQ % (', "generationConfig": {"thinkingConfig": {' + n + ": 1}}"), '"key": "f"'),
        _line(REQ % (', "model": ' + n), '"key": "g"'),
        _line('{"contents": [{"role": ' + n + ', "parts": [{"text": "x"}]}]}', '"key": "h"'),
        _line(REQ % (', "generationConfig": {"maxOutputTokens": ' + n + "}"), '"key": "i"'),
        _line(REQ % (', "cachedContent": "cachedContents/' + NASTY.replace("\\", "").encode("unicode_escape").decode() + '"'),
              '"key": "j"'),
        '{"key": ' + n + ', "key": "k", "request": ' + REQ % "" + "}",
    ]  # fmt: skip
    path = write(tmp_path, lines)
    result = scan(path)
    assert len(result.problems) >= 11
    for p in result.problems:
        assert p.message.isprintable(), p
    assert any("\\x1b[31mred\\nfake: line" in p.message for p in result.problems)
    code, out, _ = run_cli("validate", str(path), "--max-problems", "100")
    assert code == 1
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out and "\x85" not in out
    problem_lines = [x for x in out.splitlines() if x.startswith(f"  {path}:")]
    assert len(problem_lines) == len(result.problems)  # one problem, one line
    code, out, _ = run_cli("validate", str(path), "--format", "json", "--max-problems", "100")
    doc = json.loads(out)
    messages = list(_messages(doc))
    assert len(messages) == len(result.problems) and all(m.isprintable() for m in messages)


def _messages(doc: Any) -> Iterator[str]:
    if isinstance(doc, dict):
        if isinstance(doc.get("message"), str):
            yield doc["message"]
        for v in doc.values():
            yield from _messages(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _messages(v)


def test_results_file_text_is_escaped(tmp_path: Path) -> None:
    n = json.dumps(NASTY)
    lines = [
        '{"key": "a", "error": {"code": 400, "status": ' + n + "}}",
        '{"key": "b", "error": ' + n + "}",
        '{"key": "c", "response": {"modelVersion": ' + n + ', "usageMetadata": {"promptTokenCount": 1}}}',
        '{"key": "d", "response": {"usageMetadata": {"promptTokenCount": ' + n + "}}}",
        "{not json " + NASTY.replace("\n", "") + "}",
    ]
    rs = read_results(write(tmp_path, lines, "results.jsonl"))
    for text in [*rs.error_kinds, *rs.models, *(p.message for p in rs.problems)]:
        assert text.isprintable(), text
    assert "400 \\x1b[31mred\\nfake: line\\r\\x85\\x9b\\u202ex\\u200b\\t\\\\" in rs.error_kinds


# -- results: a line without a key ------------------------------------------------------------------

RESULT = '{%s"response": {"usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2}}}'


@pytest.mark.parametrize("missing", [0, 1, 2])
def test_a_result_without_key_is_its_own_problem_and_the_others_keep_theirs(tmp_path: Path, missing: int) -> None:
    lines = [RESULT % f'"key": "k{i}", ' for i in range(3)]
    lines[missing] = RESULT % ""
    rs = read_results(write(tmp_path, lines, "results.jsonl"))
    assert rs.form == "developer" and rs.files[0].form == "developer"
    assert rs.keys == [None if i == missing else f"k{i}" for i in range(3)]
    assert rs.keyless.tolist() == [missing]
    assert [(p.line, p.code) for p in rs.problems] == [(missing + 1, "key-missing")]
    assert rs.succeeded == 3  # still counted


def test_vertex_results_have_no_keys_and_no_key_problems(tmp_path: Path) -> None:
    line = '{"request": {"contents": []}, "status": "", "response": {"usageMetadata": {"promptTokenCount": 1}}}'
    rs = read_results(write(tmp_path, [line, line], "results.jsonl"))
    assert rs.form == "vertex" and rs.problems == [] and rs.keyless.tolist() == []


def test_input_keys_with_a_keyless_first_line_are_developer_form(tmp_path: Path) -> None:
    path = write(tmp_path, ['{"request": ' + REQ % "" + "}", GOOD % "b", GOOD % "c"])
    found = read_input_keys(path)
    assert found.form == "developer" and found.keys == [None, "b", "c"]
    result = scan(path)  # the scan reads it as a Developer file too, and names the keyless line
    assert result.files[0].form == "developer"
    assert codes(result) == [(1, "key-missing")]


def test_many_line_gzip_is_scanned_block_by_block_with_rows_spilled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [GOOD % f"k{i}" for i in range(20_000)]
    lines[12_345] = "null"
    plain = write(tmp_path, lines)
    packed = tmp_path / "in.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    expected = scan(plain, sample_size=50, seed=3)

    monkeypatch.setattr(worker_mod, "_BLOCK", 64 * 1024)
    monkeypatch.setattr(partial_mod, "SPILL_BYTES", 100 * 1024)  # rows go to a temporary file as they come
    spill_dir = tmp_path / "tmp"
    spill_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_dir))
    blocks: list[int] = []
    real = worker_mod.scan_lines

    def watch(sc: Any, buf: Any, mv: Any, lo: int, hi: int, base: int, at_end: bool) -> None:
        blocks.append(hi - lo)
        real(sc, buf, mv, lo, hi, base, at_end)

    monkeypatch.setattr(worker_mod, "scan_lines", watch)
    got = scan(packed, sample_size=50, seed=3)
    # a block of whole lines: at most the 64 KiB read and the rest of the line it cut
    assert len(blocks) >= plain.stat().st_size // (64 * 1024) and max(blocks) <= 64 * 1024 + len(lines[0])
    assert list(spill_dir.iterdir()) == []  # read back into the columns and removed
    for name in expected.rows:
        assert got.rows[name].tolist() == expected.rows[name].tolist(), name
    assert codes(got) == codes(expected) == [(12_346, "not-object")]
    assert got.sample.tolist() == expected.sample.tolist()


def test_a_scan_for_the_checks_alone_finds_the_same_problems_and_says_what_it_left_out(tmp_path: Path) -> None:
    lines = [GOOD % f"k{i}" for i in range(20)]
    lines[3] = (
        '{"key": "k1", "request": {"contents": [{"parts": [{"text": "caf\u00e9"}, {"text": "x"}]}]}}'  # repeated key
    )
    lines[7] = '{"key": "k7", "request": {"contents": []}}'
    lines[9] = "not json"
    path = write(tmp_path, lines)
    full, checks = scan(path), scan(path, text_figures=False)
    assert [(p.line, p.code) for p in checks.problems] == [(p.line, p.code) for p in full.problems] != []
    assert checks.problem_counts == full.problem_counts and checks.requests == full.requests == 18
    assert (full.text_figures, checks.text_figures) == (True, False)
    for name in ("usable", "flags", "model", "offset", "nbytes"):
        assert checks.rows[name].tolist() == full.rows[name].tolist(), name
    assert checks.rows["text_bytes"][3] == 0 < full.rows["text_bytes"][3]  # not counted for the checks
    with pytest.raises(ValueError):
        scan(path, text_classes=True, text_figures=False)


# -- files of junk lines: a file of newlines, or a gzip that inflates to gigabytes of them ---------------


def test_a_million_junk_lines_stop_the_scan_with_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(line_check_mod, "MAX_JUNK_LINES", 1_000)
    good = [GOOD % f"k{i}" for i in range(50)]
    # at the limit: every line is still checked and counted (short junk of other kinds counts too)
    at_limit = write(tmp_path, good + [""] * 990 + ["{}"] * 5 + ["0"] * 5)
    result = scan(at_limit)
    assert result.problem_counts == {"blank-line": 990, "key-missing": 5, "request-missing": 5, "not-object": 5}
    assert result.requests == 50
    # one more, in a plain file, a gzip, and a plain file scanned by two forked workers
    over = write(tmp_path, good + [""] * 1_001 + good, name="over.jsonl")
    packed = tmp_path / "over.jsonl.gz"
    packed.write_bytes(gzip.compress(over.read_bytes()))
    for path in (over, packed):
        with pytest.raises(InputError) as e:
            scan(path)
        assert str(e.value) == (
            f"{path}: more than 1,000 lines are blank or too short to be requests (under 16 bytes); this does not "
            "look like a batch file, so the check stopped: remove those lines (e.g. `grep -v '^[[:space:]]*$'`) "
            "or give the right file"
        )
    monkeypatch.setattr(scanner_mod, "PARALLEL_MIN_BYTES", 1)
    big = write(tmp_path, good * 40 + [""] * 1_001, name="big.jsonl")  # the junk in the second worker's range
    with pytest.raises(InputError, match="more than 1,000 lines are blank"):  # raised there, pickled here
        scan(big, workers=2)
    code, out, err = run_cli("validate", str(packed))
    assert (code, out) == (2, "") and err.count("\n") == 1 and "Traceback" not in err


def test_lines_checked_in_blocks_of_at_most_so_many_give_the_same_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [GOOD % f"k{i}" for i in range(3_000)]
    lines[5], lines[99], lines[100], lines[2_500] = "", "null", "", '{"key": "k1", "request": {}}'
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + '\n{"key": "cut", "request": {"conte', encoding="utf-8")  # no last newline
    expected = scan(path, sample_size=40, seed=2)
    monkeypatch.setattr(line_check_mod, "_BLOCK_LINES", 100)  # the last line alone in a block of its own too
    got = scan(path, sample_size=40, seed=2)
    for name in expected.rows:
        assert got.rows[name].tolist() == expected.rows[name].tolist(), name
    assert codes(got) == codes(expected)
    assert (3_001, "truncated") in codes(got) and (6, "blank-line") in codes(got)
    assert got.sample.tolist() == expected.sample.tolist()


_SCAN_RANGE = scanner_mod.scan_range


def _scan_then_append(task: Any) -> Any:
    """A range scanned while a pipeline still writes the file (module level: scan workers get it pickled)."""
    part = _SCAN_RANGE(task)
    with open(task[0], "a") as fh:
        fh.write(GOOD % "late" + "\n")
    return part


def _killed_in_the_second_range(task: Any) -> Any:
    """The second range's worker dies as the OOM killer, or a SIGBUS on a shrunk mapped file, would end it."""
    import signal

    if task[8] == 1:  # the range's index
        os.kill(os.getpid(), signal.SIGKILL)
    return _SCAN_RANGE(task)


def _killed_at_once(task: Any) -> Any:
    """A worker that dies on its first range."""
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_that_changes_while_it_is_scanned_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    path = write(tmp_path, [GOOD % f"k{i}" for i in range(200)])
    monkeypatch.setattr(scanner_mod, "scan_range", _scan_then_append)
    real_stream = scanner_mod.scan_stream

    def read_then_append(*args: Any, **kwargs: Any) -> Any:  # one small file: read in this process
        part = real_stream(*args, **kwargs)
        with open(path, "a") as fh:
            fh.write(GOOD % "late" + "\n")
        return part

    monkeypatch.setattr(scanner_mod, "scan_stream", read_then_append)
    monkeypatch.setattr(scanner_mod, "PARALLEL_MIN_BYTES", 1)
    with pytest.raises(InputError) as e:
        scan(path, workers=workers)
    assert str(e.value) == (
        f"{path}: changed since it was scanned (still being written, or replaced); run again once the file is complete"
    )


def test_a_file_that_changes_while_it_is_estimated_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchcost.planner import estimate as estimate_mod

    path = write(tmp_path, [GOOD % f"k{i}" for i in range(20)])
    real = estimate_mod._priced

    def priced_then_rewrite(*args: Any, **kwargs: Any) -> Any:
        plan = real(*args, **kwargs)
        path.write_text(GOOD % "other" + "\n")  # replaced after the scan, while the sample was counted
        return plan

    monkeypatch.setattr(estimate_mod, "_priced", priced_then_rewrite)
    code, out, err = run_cli("estimate", str(path), "-m", "gemini-2.5-flash", "--offline")
    assert (code, out) == (2, "")
    assert err == f"batchcost: error: {path}: changed since it was scanned (still being written, or replaced); run " \
        "again once the file is complete\n"  # fmt: skip


def test_a_small_file_cut_short_while_it_is_read_is_an_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small file is scanned in the command's own process. Mapped, a cut while it was read ended
    # that process with SIGBUS ("Bus error", exit 135); read, the scan sees fewer lines and the
    # stamp taken before it names the file.
    path = write(tmp_path, [GOOD % f"k{i}" for i in range(200)])
    real = scanner_mod.scan_stream

    def cut_then_read(*args: Any, **kwargs: Any) -> Any:
        os.truncate(path, path.stat().st_size // 2)
        return real(*args, **kwargs)

    monkeypatch.setattr(scanner_mod, "scan_stream", cut_then_read)
    code, out, err = run_cli("validate", str(path))
    assert (code, out) == (2, ""), err
    assert err == f"batchcost: error: {path}: changed since it was scanned (still being written, or replaced); run " \
        "again once the file is complete\n"  # fmt: skip


@pytest.mark.parametrize("workers", [1, 2])
def test_a_scan_worker_that_is_killed_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    from batchcost.errors import EngineError

    path = write(tmp_path, [GOOD % f"k{i}" for i in range(200)])
    monkeypatch.setattr(scanner_mod, "scan_range", _killed_in_the_second_range if workers == 2 else _killed_at_once)
    monkeypatch.setattr(scanner_mod, "PARALLEL_MIN_BYTES", 1)
    # one range above this size is scanned by a worker too: a SIGBUS there is reported, not this process's end
    monkeypatch.setattr(scanner_mod, "IN_PROCESS_MAX_BYTES", 1)
    raised = raised_within(60, lambda: scan(path, workers=workers), "the scan")
    assert isinstance(raised, EngineError), raised
    assert str(raised) == f"a process scanning {path} was killed before it finished (out of memory?); run again"


@pytest.mark.parametrize("packed", [False, True])
def test_a_file_cut_short_between_the_scan_and_the_count_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packed: bool
) -> None:
    from batchcost.planner import estimate as estimate_mod

    plain = write(tmp_path, [GOOD % f"k{i}" for i in range(300)])
    path = plain
    if packed:
        path = tmp_path / "in.jsonl.gz"
        path.write_bytes(gzip.compress(plain.read_bytes()))
    real = estimate_mod._priced

    def cut_then_price(*args: Any, **kwargs: Any) -> Any:
        os.truncate(path, path.stat().st_size // 3)  # the sample is read again from a shorter file
        return real(*args, **kwargs)

    monkeypatch.setattr(estimate_mod, "_priced", cut_then_price)
    code, out, err = run_cli("estimate", str(path), "-m", "gemini-2.5-flash", "--offline", "--sample-size", "300")
    assert (code, out) == (2, ""), err
    assert err == f"batchcost: error: {path}: changed since it was scanned (still being written, or replaced); run " \
        "again once the file is complete\n"  # fmt: skip


def _no_room(*_: Any, **__: Any) -> Any:
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_temporary_folder_is_one_line_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile
    import types

    path = write(tmp_path, [GOOD % f"k{i}" for i in range(200)])
    # the scan's own temporary files only (multiprocessing makes its shared memory with mkstemp too);
    # the workers are forked, so they see the stand-in
    room = types.SimpleNamespace(mkstemp=_no_room, gettempdir=tempfile.gettempdir)
    monkeypatch.setattr(partial_mod, "tempfile", room)
    monkeypatch.setattr(scanner_mod, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(scanner_mod, "IN_PROCESS_MAX_BYTES", 1)
    code, out, err = run_cli("validate", str(path))
    assert (code, out) == (2, "")
    assert err == (
        f"batchcost: error: {tempfile.gettempdir()}: the scan's temporary files cannot be written here: the disk is "
        "full; free some space or write elsewhere (or set TMPDIR to another folder)\n"
    )


def _packed(kind: str, data: bytes) -> bytes:
    import bz2
    import lzma
    import zipfile

    if kind == "xz":
        return lzma.compress(data)
    if kind == "bzip2":
        return bz2.compress(data)
    if kind == "zip":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("in.jsonl", data)
        return out.getvalue()
    return {"zstd": b"\x28\xb5\x2f\xfd", "LZ4": b"\x04\x22\x4d\x18", "7-Zip": b"7z\xbc\xaf\x27\x1c"}[kind] + data


@pytest.mark.parametrize(
    ("kind", "what", "fix"),
    [
        ("xz", "an xz-compressed file", "`xz -dk in.x`"),
        ("bzip2", "a bzip2-compressed file", "`bunzip2 -k in.x`"),
        ("zstd", "a zstd-compressed file", "`zstd -d in.x`"),
        ("LZ4", "an LZ4-compressed file", "`lz4 -d in.x`"),
        ("zip", "a zip archive", "`unzip in.x`"),
        ("7-Zip", "a 7-Zip archive", "`7z x in.x`"),
    ],
)
def test_other_compressed_files_are_named_not_read_as_bad_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, what: str, fix: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("in.x").write_bytes(_packed(kind, "".join(GOOD % f"k{i}" + "\n" for i in range(20)).encode()))
    code, out, err = run_cli("validate", "in.x")
    assert (code, out) == (2, "")
    assert err == (
        f"batchcost: error: in.x: is {what}; batchcost reads JSONL, plain or gzip-compressed (.jsonl.gz): extract it "
        f"({fix}) and give that\n"
    )


@pytest.mark.parametrize(
    ("codec", "name", "iconv_name"),
    [
        ("utf-16", "UTF-16", "UTF-16"),  # with a byte order mark: what Windows PowerShell's > writes
        ("utf-16-le", "UTF-16", "UTF-16LE"),
        ("utf-16-be", "UTF-16", "UTF-16BE"),
        ("utf-32", "UTF-32", "UTF-32"),
        ("utf-32-le", "UTF-32", "UTF-32LE"),
    ],
)
def test_utf16_and_utf32_files_are_named_with_the_command_that_re_encodes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codec: str, name: str, iconv_name: str
) -> None:
    import shutil
    import subprocess

    monkeypatch.chdir(tmp_path)
    Path("data").mkdir()
    text = "".join(GOOD % f"k{i}" + "\n" for i in range(20))
    Path("data/in.jsonl").write_bytes(text.encode(codec))
    code, out, err = run_cli("validate", "data/in.jsonl")
    assert (code, out) == (2, "")
    command = f"iconv -f {iconv_name} -t UTF-8 data/in.jsonl > data/in-utf8.jsonl"
    assert err == (
        f"batchcost: error: data/in.jsonl: is {name} text; batchcost reads UTF-8 JSONL: re-encode it (`{command}`) "
        "and give that\n"
    )
    if shutil.which("iconv") is None:
        return
    subprocess.run(["bash", "-c", command], check=True)
    assert Path("data/in-utf8.jsonl").read_text(encoding="utf-8") == text
    assert run_cli("validate", "data/in-utf8.jsonl")[0] == 0


def test_a_results_file_in_another_format_is_named_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    results = Path(__file__).resolve().parents[2] / "examples" / "batch_results.jsonl"
    Path("res.xz").write_bytes(_packed("xz", results.read_bytes()))
    code, out, err = run_cli("reconcile", "res.xz", "-m", "gemini-2.5-flash")
    assert (code, out) == (2, "")
    assert err == (
        "batchcost: error: res.xz: is an xz-compressed file; batchcost reads JSONL, plain or gzip-compressed "
        "(.jsonl.gz): extract it (`xz -dk res.xz`) and give that\n"
    )


def test_a_file_given_twice_is_refused_however_it_is_spelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its requests would be counted, priced and sharded twice: `estimate data/*.jsonl data/a.jsonl`
    # doubled the cost without a word.
    monkeypatch.chdir(tmp_path)
    write(tmp_path, [GOOD % f"k{i}" for i in range(5)], "a.jsonl")
    write(tmp_path, [GOOD % f"k{i}" for i in range(5)], "b.jsonl")  # the same lines in another file: fine
    os.symlink("a.jsonl", "link.jsonl")
    code, out, err = run_cli("validate", "a.jsonl", "b.jsonl", "a.jsonl")
    assert (code, out) == (2, "")
    assert err == "batchcost: error: a.jsonl: given twice; give each file once (it would be counted twice)\n"
    code, out, err = run_cli("estimate", "a.jsonl", "link.jsonl", "-m", "gemini-2.5-flash", "--offline")
    assert (code, out) == (2, "")
    assert err == (
        "batchcost: error: link.jsonl: the same file as a.jsonl, given twice; give each file once (it would be "
        "counted twice)\n"
    )
    with pytest.raises(InputError, match=r"the same file as a\.jsonl, given twice"):
        scan(["a.jsonl", "./a.jsonl"])
    assert scan(["a.jsonl", "b.jsonl"]).requests == 10


def test_a_results_file_given_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # reconcile added its cost twice: $0.0011 for the example's $0.0005
    results = Path(__file__).resolve().parents[2] / "examples" / "batch_results.jsonl"
    code, out, err = run_cli("reconcile", str(results), str(results), "-m", "gemini-2.5-flash")
    assert (code, out) == (2, "")
    assert err == f"batchcost: error: {results}: given twice; give each file once (it would be counted twice)\n"


@pytest.mark.parametrize(
    ("shape", "what", "jq"),
    [
        ("array", "a JSON array", "jq -c '.[]'"),
        ("pretty array", "a JSON array", "jq -c '.[]'"),
        ("pretty objects", "pretty-printed JSON (objects spread over several lines)", "jq -c ."),
    ],
)
def test_a_json_document_is_named_with_the_command_that_makes_it_jsonl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: str, what: str, jq: str
) -> None:
    # Every line of it was "not valid JSON: Input data was truncated", dozens of them, and the
    # summary said the file held no request.
    import shutil

    monkeypatch.chdir(tmp_path)
    objects = [json.loads(GOOD % f"k{i}") for i in range(3)]
    text = {
        "array": json.dumps(objects),
        "pretty array": json.dumps(objects, indent=2),
        "pretty objects": "\n".join(json.dumps(o, indent=2) for o in objects),
    }[shape]
    Path("in.json").write_text(text + "\n")
    code, out, err = run_cli("validate", "in.json")
    assert (code, out) == (2, "")
    command = f"{jq} in.json > in-lines.jsonl"
    assert err == (
        f"batchcost: error: in.json: is {what}, not JSONL (one JSON object per line): put each object on a line of "
        f"its own (`{command}`) and give that\n"
    )
    Path("in.json.gz").write_bytes(gzip.compress(Path("in.json").read_bytes()))
    assert run_cli("validate", "in.json.gz")[2] == (
        f"batchcost: error: in.json.gz: is {what}, not JSONL (one JSON object per line): put each object on a line "
        "of its own and give that\n"
    )
    if shutil.which("jq") is not None:
        subprocess.run(["bash", "-c", command], check=True)
        assert run_cli("validate", "in-lines.jsonl")[:2] == (0, "in-lines.jsonl: valid: 3 requests in 3 lines, 243 "
                                                               "bytes; 0 errors, 0 warnings\n")  # fmt: skip


def test_a_file_with_object_lines_is_checked_line_by_line_even_if_it_starts_like_a_document(tmp_path: Path) -> None:
    path = write(tmp_path, ["{", *[GOOD % f"k{i}" for i in range(3)]])
    code, out, _ = run_cli("validate", str(path))
    assert code == 1
    assert f"{path}:1: not valid JSON" in out and "3 requests in 4 lines" in out


def test_a_vertex_results_file_given_as_input_is_named_and_warned(tmp_path: Path) -> None:
    # A Vertex results line echoes its request, so it was estimated, "all valid", as a job to run.
    line = {
        "status": "",
        "request": {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]},
        "response": {"candidates": [], "usageMetadata": {"promptTokenCount": 1}},
    }
    path = write(tmp_path, [json.dumps(line)] * 2, "results.jsonl")
    code, out, _ = run_cli("validate", str(path))
    assert code == 0
    assert out.splitlines()[:2] == [
        "warning: a results line (results-line): 2",
        f'  {path}:1: line holds a "response" beside its request: this looks like a Vertex job\'s results file, '
        "whose requests have run; give the batch input file (`batchcost reconcile` prices results)",
    ]
    code, out, err = run_cli("estimate", str(path), "-m", "gemini-2.5-flash", "--offline", "--format", "json")
    assert code == 0, err
    assert (
        "2 lines hold a response beside the request: the file looks like a Vertex job's results, whose requests "
        "have already run; `batchcost reconcile` prices results"
    ) in json.loads(out)["warnings"]
