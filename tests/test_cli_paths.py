"""File names as messages show them: one line per problem and no terminal controls, whatever the name holds.

A file may be named with a newline, an ``ESC [`` sequence or bytes that are not UTF-8. Printed as they
stand, the first splits a problem over two lines, the second restyles (or retitles) the user's
terminal, the third writes an invalid byte. Messages show such names escaped, as ``ls -b`` does, and
commands suggested for pasting quote them so that the shell reads the same name back.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from batchcost.cli import main
from batchcost.text import one_line, shell_word

GOOD = '{"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}\n'


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("requests.jsonl", "requests.jsonl"),
        ("two words.jsonl", "two words.jsonl"),
        ("a\\b.jsonl", "a\\b.jsonl"),  # printable: left as it is
        ("bad\nname.jsonl", "bad\\nname.jsonl"),
        ("tab\there\r.jsonl", "tab\\there\\r.jsonl"),
        ("esc\x1b[31mred.jsonl", "esc\\x1b[31mred.jsonl"),
        ("title\x1b]0;pwned\x07.jsonl", "title\\x1b]0;pwned\\x07.jsonl"),
        ("nel\x85.jsonl", "nel\\x85.jsonl"),
        ("rtl\u202etxt.jsonl", "rtl\\u202etxt.jsonl"),
        (os.fsdecode(b"caf\xe9.jsonl"), "caf\\xe9.jsonl"),  # a byte that is not UTF-8, as ls -b shows it
        ("back\\slash\n", "back\\\\slash\\n"),  # escaped: a backslash doubles, so no escape can be faked
    ],
)
def test_one_line_escapes_what_does_not_print(name: str, shown: str) -> None:
    assert one_line(name) == shown
    assert "\n" not in one_line(name) and "\x1b" not in one_line(name)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash to read the words back")
@pytest.mark.parametrize(
    "name",
    ["plain.jsonl", "two words.jsonl", "it's.jsonl", "bad\nname.jsonl", "esc\x1b[31m'q'.jsonl",
     "nel\x85.jsonl", "rtl\u202etxt.jsonl", "back\\slash\t.jsonl", os.fsdecode(b"caf\xe9.jsonl")],
)  # fmt: skip
def test_shell_word_reads_back_as_the_same_name(name: str) -> None:
    word = shell_word(name)
    assert "\n" not in word and "\x1b" not in word
    got = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, check=True).stdout
    assert got == os.fsencode(name)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"bad\nname.jsonl", "bad\\nname.jsonl"),
        (b"esc\x1b[31mred.jsonl", "esc\\x1b[31mred.jsonl"),
        (b"caf\xe9.jsonl", "caf\\xe9.jsonl"),
    ],
)
def test_validate_shows_each_problem_on_one_line_whatever_the_file_name(tmp_path: Path, raw: bytes, shown: str) -> None:
    path = os.path.join(os.fsencode(tmp_path), raw)
    with open(path, "w") as fh:
        fh.write(GOOD + "{oops\n")
    code, out, err = run("validate", os.fsdecode(path))
    assert code == 1, err
    where = one_line(os.fsdecode(os.fsencode(tmp_path))) + "/" + shown
    assert out.splitlines() == [
        "error: not JSON (not-json): 1",
        f"  {where}:2: not valid JSON: object keys must be strings (byte 1); each line must be one JSON object",
        f"{where}: INVALID: 1 request in 2 lines, 75 bytes; 1 error, 0 warnings",
    ]
    assert "\x1b" not in out + err


def test_errors_about_a_file_stay_on_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "no\nsuch\x1b[2J.jsonl")
    code, out, err = run("validate", missing)
    assert code == 2 and out == ""
    assert err == f"batchcost: error: {one_line(missing)}: no such file; check the path\n"


def test_the_estimate_names_the_file_escaped(tmp_path: Path) -> None:
    path = tmp_path / "ok\nname.jsonl"
    path.write_text(GOOD)
    code, out, err = run("estimate", str(path), "-m", "gemini-2.5-flash", "--output-tokens", "10")
    assert code == 0, err
    assert "  1 request in ok\\nname.jsonl, all valid" in out.splitlines()[1]
    code, out, err = run(
        "estimate", str(path), "-m", "gemini-2.5-flash", "--output-tokens", "10", "--format", "markdown"
    )
    assert code == 0, err
    assert f"`{one_line(str(path))}`" in out


@pytest.mark.parametrize("name", ["two words.jsonl", "ok\nname.jsonl"])
def test_the_suggested_shard_command_quotes_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(GOOD)
    code, out, err = run("plan", str(path), "-m", "gemini-2.5-flash")
    assert code == 0, err
    assert f"Next: batchcost shard {shell_word(str(path))} -m gemini-2.5-flash --out DIR" in out.splitlines()
    assert shell_word(str(path)).endswith("/two words.jsonl'" if " " in name else "/ok\\nname.jsonl'")


LONG = "n" * 300  # longer than a file name may be (255 bytes): the system answers ENAMETOOLONG


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", LONG + ".jsonl"],
        ["estimate", "IN", "-m", "gemini-2.5-flash", "-o", LONG + ".json"],
        ["estimate", "IN", "-m", "gemini-2.5-flash", "--report", LONG + ".html"],
        ["estimate", "IN", "-m", "gemini-2.5-flash", "--per-request", LONG + ".csv"],
        ["estimate", "IN", "-m", "gemini-2.5-flash", "--prices", LONG + ".yaml"],
        ["estimate", "IN", "-m", "gemini-2.5-flash", "--tokenizer-model", LONG + ".model"],
        ["prices", "--prices", LONG + ".yaml"],
        ["shard", "IN", "-m", "gemini-2.5-flash", "--out", LONG],
        ["shard", "IN", "-m", "gemini-2.5-flash", "--out", "shards", "--stem", LONG],
        ["status", LONG],
        ["collect", LONG],
        ["cancel", LONG],
        ["reconcile", LONG + ".jsonl", "-m", "gemini-2.5-flash"],
    ],
)
def test_a_name_too_long_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("in.jsonl").write_text(GOOD)
    code, _, err = run(*[a if a != "IN" else "in.jsonl" for a in argv])
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("batchcost: error: ") and "too long" in err.lower(), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # nothing written, nothing half-made


def test_an_unexpected_system_error_on_a_file_is_one_line_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from batchcost import outputs

    def failing(*_: object) -> None:
        raise OSError(errno.EIO, "Input/output error", os.fsdecode(b"disk\n\xe9.json"))

    monkeypatch.setattr(outputs, "check_outputs", failing)
    path = tmp_path / "in.jsonl"
    path.write_text(GOOD)
    code, out, err = run("estimate", str(path), "-m", "gemini-2.5-flash", "-o", str(tmp_path / "x.json"))
    assert (code, out) == (2, "")
    assert err == "batchcost: error: disk\\n\\xe9.json: cannot be used: Input/output error\n"
