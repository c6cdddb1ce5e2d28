"""Outputs never replace inputs, appear whole, and fail in one line; options out of range are exit 2."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchcost.cli import main
from batchcost.errors import OutputError
from batchcost.redact import host_of, redact

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "batch_requests.jsonl"
MODEL = ["-m", "gemini-2.5-flash", "--offline", "-q", "--run-date", "2026-11-27"]
RESULTS = '{"key": "%s", "response": {"usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2}}}\n'


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLE, tmp_path / "same.jsonl")
    (tmp_path / "my.yaml").write_text(TUNED)
    (tmp_path / "res.jsonl").write_text("".join(RESULTS % f"k{i}" for i in range(3)))
    code, _, err = run("estimate", "same.jsonl", *MODEL, "--output-tokens", "10", "--format", "json", "-o", "plan.json")
    assert code == 0, err
    return tmp_path


# Every command that writes, with where its output path goes; "IN" is an input of the same run.
WRITERS = {
    "validate -o": ["validate", "same.jsonl", "-o", "OUT"],
    "estimate -o": ["estimate", "same.jsonl", *MODEL, "-o", "OUT"],
    "estimate --report": ["estimate", "same.jsonl", *MODEL, "--report", "OUT"],
    "plan -o": ["plan", "same.jsonl", *MODEL, "-o", "OUT"],
    "prices -o": ["prices", "--model", "my-tuned-model", "--prices", "my.yaml", "-o", "OUT"],
    "report -o": ["report", "plan.json", "-o", "OUT"],
    "reconcile -o": ["reconcile", "res.jsonl", "-m", "gemini-2.5-flash", "-o", "OUT"],
    "reconcile --report": [
        "reconcile",
        "res.jsonl",
        "-m",
        "gemini-2.5-flash",
        "--plan",
        "plan.json",
        "--report",
        "OUT",
    ],
}
INPUT_OF = {name: ("plan.json" if name.startswith("report") else "res.jsonl" if "reconcile" in name else
                   "my.yaml" if name.startswith("prices") else "same.jsonl")
            for name in WRITERS}  # fmt: skip
TUNED = 'models:\n  my-tuned-model:\n    prices:\n      - input: {all: "0.20"}\n        output: "1.00"\n'


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.is_symlink()}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(work: Path, name: str) -> None:
    before = snapshot(work)
    target = INPUT_OF[name]
    code, _, err = run(*[target if a == "OUT" else a for a in WRITERS[name]])
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"batchcost: error: {target}: ")
    assert "Traceback" not in err
    assert snapshot(work) == before  # nothing replaced, nothing left behind


def test_a_link_to_an_input_is_the_input(work: Path) -> None:
    os.symlink("same.jsonl", work / "link.jsonl")
    code, _, err = run("validate", "same.jsonl", "-o", "link.jsonl")
    assert code == 2 and "is also an input of this run (same.jsonl)" in err
    os.link(work / "same.jsonl", work / "hard.jsonl")
    code, _, err = run("estimate", "same.jsonl", *MODEL, "-o", "hard.jsonl")
    assert code == 2 and "is also an input of this run" in err
    assert (work / "same.jsonl").read_bytes() == EXAMPLE.read_bytes()


def test_price_files_and_plans_are_inputs_too(work: Path) -> None:
    code, _, err = run("estimate", "same.jsonl", *MODEL, "--prices", "my.yaml", "-o", "my.yaml")
    assert code == 2 and "my.yaml: is also an input of this run (my.yaml)" in err
    assert (work / "my.yaml").read_text() == TUNED
    code, _, err = run("reconcile", "res.jsonl", "-m", "gemini-2.5-flash", "--plan", "plan.json", "-o", "plan.json")
    assert code == 2 and "is also an input of this run (plan.json)" in err


@pytest.mark.parametrize("suffix", [".pdf", ".json", ""])
def test_a_report_extension_that_cannot_be_written_is_refused(work: Path, suffix: str) -> None:
    code, _, err = run("estimate", "same.jsonl", *MODEL, "--report", f"plan{suffix}")
    assert code == 2 and err == (
        f"batchcost estimate: error: --report plan{suffix}: batchcost writes .html, .md or .txt reports "
        "(see `batchcost estimate --help`)\n"
    )
    assert not (work / f"plan{suffix}").exists() or suffix == ".json"
    code, _, err = run("report", "plan.json", "-o", f"r{suffix}")
    assert code == 2 and err.count("\n") == 1 and f"-o r{suffix}: " in err and ".html, .md or .txt" in err
    assert not (work / f"r{suffix}").exists()


def test_missing_folder_existing_folder_and_full_disk_are_one_line(work: Path) -> None:
    for argv, needle in [
        (["validate", "same.jsonl", "-o", "nodir/x.txt"], "folder 'nodir' does not exist; create it first"),
        (["estimate", "same.jsonl", *MODEL, "--report", "nodir/r.html"], "folder 'nodir' does not exist"),
        (["prices", "-o", str(work)], "is a folder; give a file name inside it"),
        (["plan", "same.jsonl", *MODEL, "-o", "."], "is a folder"),
    ]:
        code, _, err = run(*argv)
        assert code == 2 and needle in err and err.count("\n") == 1, (argv, err)
    if Path("/dev/full").exists():
        code, _, err = run("validate", "same.jsonl", "-o", "/dev/full")
        assert code == 2 and "the disk is full" in err
        assert Path("/dev/full").is_char_device()  # written in place, never replaced by a file


def test_full_disk_while_writing_leaves_nothing(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    real_fdopen = os.fdopen

    class Full(io.RawIOBase):
        def __init__(self, fd: int) -> None:
            self.inner = real_fdopen(fd, "wb")

        def write(self, data: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            self.inner.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: Full(fd))
    before = set(os.listdir(work))
    code, _, err = run("estimate", "same.jsonl", *MODEL, "-o", "est.txt")
    assert code == 2 and "est.txt: cannot be written: the disk is full" in err
    assert set(os.listdir(work)) == before  # no output, no temporary file


def test_writing_through_a_link_keeps_the_link(work: Path) -> None:
    (work / "target.txt").write_text("old")
    os.symlink("target.txt", work / "via.txt")
    assert run("validate", "same.jsonl", "-o", "via.txt")[0] == 0
    assert (work / "via.txt").is_symlink() and "valid" in (work / "target.txt").read_text()


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--output-tokens", "9223372036854775808", "is too large (at most 2,147,483,647)"),
        ("--run-date", "9999-12-31", "is out of range (2000-01-01 to 2100-12-31)"),
        ("--seed", "-1", "must not be negative"),
        ("--seed", str(2**32), "is too large"),
        ("--sample-size", "0", "must be at least 1"),
        ("--output-ratio", "1e308", "is too large"),
        ("--budget", "nan", "must be a finite number"),
        ("--image-size", "999999999x2", "is too large"),
    ],
)
def test_option_values_out_of_range_are_usage_errors(work: Path, option: str, value: str, needle: str) -> None:
    code, out, err = run("estimate", "same.jsonl", *MODEL, option, value)
    assert err.count("\n") == 1 and err.startswith("batchcost estimate: error: ")
    assert code == 2 and needle in err and "Traceback" not in err and out == ""


def test_plan_limits_out_of_range(work: Path) -> None:
    code, _, err = run("plan", "same.jsonl", *MODEL, "--max-requests", "99999999999999999999999")
    assert code == 2 and "is too large" in err
    code, _, err = run("plan", "same.jsonl", *MODEL, "--max-bytes", "2000TB")
    assert code == 2 and "is too large (at most 1PB)" in err


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (
            lambda d: d["cost"]["batch"].__setitem__("expected", "abc"),
            "$.cost.batch.expected: expected a decimal amount",
        ),
        (lambda d: d["cost"].__setitem__("batch", 5), "$.cost.batch: expected an object, got 5"),
        (
            lambda d: d["tokens"]["input"].__setitem__("expected", -3),
            "$.tokens.input.expected: expected a whole number",
        ),
        (lambda d: d.__setitem__("validation", "zz"), "holds a field batchcost cannot read"),
        (lambda d: d.pop("prices"), "the plan lacks prices"),
    ],
)
def test_an_edited_plan_is_one_line_naming_the_field(work: Path, edit: object, needle: str) -> None:
    doc = json.loads((work / "plan.json").read_text())
    edit(doc)  # type: ignore[operator]
    (work / "bad.json").write_text(json.dumps(doc))
    for argv in (["report", "bad.json", "-o", "r.html"], ["report", "bad.json", "--format", "markdown"],
                 ["reconcile", "res.jsonl", "-m", "gemini-2.5-flash", "--plan", "bad.json", "--report", "v.html"]):  # fmt: skip
        code, _, err = run(*argv)
        assert code == 2 and needle in err and err.startswith("batchcost: error: bad.json: "), (argv, err)
        assert not (work / "r.html").exists() and not (work / "v.html").exists()


def test_reconcile_exits_1_on_failed_results_and_2_on_report_without_plan(work: Path) -> None:
    (work / "fail.jsonl").write_text(RESULTS % "k0" + '{"key": "k1", "status": {"code": 8, "message": "quota"}}\n')
    code, out, _ = run("reconcile", "fail.jsonl", "-m", "gemini-2.5-flash")
    assert code == 1 and "1 failed" in out
    assert run("reconcile", "res.jsonl", "-m", "gemini-2.5-flash")[0] == 0
    code, _, err = run("reconcile", "res.jsonl", "-m", "gemini-2.5-flash", "--report", "r.html")
    assert code == 2 and "--report needs --plan" in err


def test_credentials_in_urls_are_redacted() -> None:
    text = "POST http://user:s3cret@proxy:3128/v1beta/models/x:countTokens?key=AIzaKEY&alt=json failed"
    shown = redact(text, ["AIzaKEY"])
    assert "s3cret" not in shown and "AIzaKEY" not in shown
    assert shown == "POST http://user:[redacted]@proxy:3128/v1beta/models/x:countTokens?key=[redacted]&alt=json failed"
    assert host_of("http://user:s3cret@127.0.0.1:9/") == "127.0.0.1:9"


def test_unreachable_api_is_exit_2_and_never_shows_the_proxy_password(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://user:s3cretpw@127.0.0.1:9/")
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaFAKEKEY123")
    code, _, err = run("estimate", "same.jsonl", "-m", "gemini-2.5-flash", "--tokenizer", "api", "-q")
    assert code == 2 and "could not reach countTokens at 127.0.0.1:9" in err
    assert "s3cretpw" not in err and "AIzaFAKEKEY123" not in err


# -- every writer against every kind of output path -------------------------------------------------

KINDS = ("new", "existing", "input", "link-to-input", "folder", "missing-folder")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(WRITERS)), kind=st.sampled_from(KINDS))
def test_output_paths_never_lose_an_input(work: Path, name: str, kind: str) -> None:
    suffix = ".html" if "report" in name else ".txt"
    target = {
        "new": f"new{suffix}",
        "existing": f"existing{suffix}",
        "input": INPUT_OF[name],
        "link-to-input": f"link{suffix}",
        "folder": "afolder",
        "missing-folder": f"nowhere/out{suffix}",
    }[kind]
    (work / f"existing{suffix}").write_text("old")
    (work / "afolder").mkdir(exist_ok=True)
    link = work / f"link{suffix}"
    link.unlink(missing_ok=True)  # examples share the folder: point the link at this command's input
    os.symlink(INPUT_OF[name], link)
    inputs = {p: (work / p).read_bytes() for p in ("same.jsonl", "res.jsonl", "plan.json", "my.yaml")}
    for leftover in (work / f"new{suffix}",):
        leftover.unlink(missing_ok=True)
    code, _, err = run(*[target if a == "OUT" else a for a in WRITERS[name]])
    assert "Traceback" not in err
    assert {p: (work / p).read_bytes() for p in inputs} == inputs
    assert not [p for p in os.listdir(work) if p.endswith(".tmp")]
    if kind in ("input", "link-to-input", "folder", "missing-folder"):
        assert code == 2 and err.count("\n") == 1, err
        assert not (work / "nowhere").exists()
    else:
        assert code in (0, 1), err  # 1: reconcile of results with problems; the output is written either way
        assert (work / target).is_file() and (work / target).read_bytes() != b"old"


@pytest.mark.parametrize(
    ("content", "first"),
    [
        ("", "empty.jsonl: error: file is empty; a batch file holds one JSON request per line"),
        (
            "\n{oops\n",
            "empty.jsonl:1: error: blank line; remove it (every line must be one request) (and 2 more errors)",
        ),
    ],
)
@pytest.mark.parametrize("command", ["estimate", "plan"])
def test_nothing_to_price_names_the_first_error_and_how_to_see_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, first: str, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("empty.jsonl").write_text(content)
    code, out, err = run(command, "empty.jsonl", *MODEL)
    assert (code, out) == (1, "")
    assert err == (
        f"batchcost: error: no usable request to price: {first}; `batchcost validate empty.jsonl` lists every problem\n"
    )


@pytest.mark.parametrize("failure", [OutputError("t.csv", "cannot be written: the disk is full"), KeyboardInterrupt()])
@pytest.mark.parametrize("command", ["estimate", "reconcile"])
def test_a_run_whose_last_output_fails_leaves_none_of_its_outputs(
    work: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException, command: str
) -> None:
    from batchcost import table_files

    def fail(*_: object) -> None:
        raise failure

    monkeypatch.setattr(table_files, "write_table", fail)
    before = sorted(p.name for p in work.iterdir())
    if command == "estimate":
        args = ["same.jsonl", *MODEL]
    else:
        args = ["res.jsonl", "--plan", "plan.json", "-m", "gemini-2.5-flash", "-q", "--run-date", "2026-11-27"]
    code, _, err = run(command, *args, "-o", "out.json", "--report", "r.html", "--per-request", "t.csv")
    if isinstance(failure, KeyboardInterrupt):
        assert (code, err) == (130, "\nbatchcost: interrupted\n")
    else:
        assert (code, err) == (2, "batchcost: error: t.csv: cannot be written: the disk is full\n")
    assert sorted(p.name for p in work.iterdir()) == before  # no output, no temporary file
    code, _, err = run(command, *args, "-o", "out.json", "--report", "r.html")  # the others still work
    assert code in (0, 1), err
    assert {"out.json", "r.html"} <= {p.name for p in work.iterdir()}
