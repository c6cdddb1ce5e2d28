"""One --format vocabulary, CSV tables equal to the JSON, written files confirmed, unwritable names refused."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from batchcost.cli import main
from batchcost.cli.options import FORMAT_SUFFIXES

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MODEL = ["-m", "gemini-2.5-flash", "--offline", "--run-date", "2026-11-27"]
DEPRECATED = "batchcost: --format table is deprecated: use --format text; it will be removed in the next release\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("batch_requests.jsonl", "broken_requests.jsonl", "batch_results.jsonl"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    code, _, err = run("estimate", "batch_requests.jsonl", *MODEL, "--output-tokens", "300", "-q", "-o", "plan.json")
    assert code == 0, err
    return tmp_path


# Each command with what it reads, the formats it writes (text, or its first, is the default), and
# whether it had `table` before.
COMMANDS: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "validate": (["validate", "batch_requests.jsonl"], ("text", "json", "csv")),
    "estimate": (["estimate", "batch_requests.jsonl", *MODEL, "--output-tokens", "300"], ("text", "json", "markdown", "csv")),
    "prices": (["prices", "-m", "gemini-2.5-flash", "--run-date", "2026-11-27"], ("text", "json", "csv")),
    "plan": (["plan", "batch_requests.jsonl", *MODEL], ("text", "json", "csv")),
    "reconcile": (["reconcile", "batch_results.jsonl", "--plan", "plan.json"], ("text", "json")),
    "report": (["report", "plan.json"], ("html", "markdown", "text")),
}  # fmt: skip


def _code_ok(command: str, code: int) -> bool:
    return code == (1 if command == "reconcile" else 0)  # the example results hold a failed request


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_format_of_every_command_and_the_old_name(work: Path, command: str) -> None:
    argv, formats = COMMANDS[command]
    outputs = {}
    for fmt in formats:
        code, out, err = run(*argv, "--format", fmt)
        assert _code_ok(command, code) and out and "deprecated" not in err, (fmt, err)
        outputs[fmt] = out
    if "json" in formats:
        json.loads(outputs["json"])
    if "csv" in formats:
        header, *rows = list(csv.reader(io.StringIO(outputs["csv"])))
        assert header and all(len(row) == len(header) for row in rows) and (rows or command == "validate")
    # the old name: the same output, and one line on stderr saying what to use instead
    code, out, err = run(*argv, "--format", "table")
    assert _code_ok(command, code) and out == outputs["text"]
    assert err.count(DEPRECATED) == 1 and err.count("deprecated") == 1


def test_shard_formats_and_the_old_name(work: Path) -> None:
    for n, fmt in enumerate(["text", "json", "table"]):
        code, out, err = run("shard", "batch_requests.jsonl", "--out", f"s{n}", *MODEL, "--format", fmt)
        assert code == 0, err
        assert (DEPRECATED in err) == (fmt == "table") and err.count("deprecated") == (fmt == "table")
        if fmt == "json":
            json.loads(out)
        code, out, err = run("shard", "--verify", f"s{n}/manifest.json", "--format", fmt)
        assert code == 0 and (err == DEPRECATED if fmt == "table" else err == "")


def test_help_and_errors_list_the_new_names_only() -> None:
    code, out, _ = run("plan", "--help")
    assert "--format [text|json|csv]" in out and "table|" not in out and "|table" not in out
    code, _, err = run("validate", "x.jsonl", "--format", "yaml")
    assert code == 2 and "'yaml' is not one of 'text', 'json', 'csv'." in err and "'table'" not in err


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _cell(value: object) -> str:
    return "" if value is None else ("true" if value else "false") if isinstance(value, bool) else str(value)


def test_prices_csv_is_the_json_rates(work: Path) -> None:
    argv = ["prices", "-m", "gemini-2.5-flash,gemini-2.5-pro", "--run-date", "2026-11-27"]
    rates = json.loads(run(*argv, "--format", "json")[1])["rates"]
    rows = _csv(run(*argv, "--format", "csv")[1])
    assert len(rows) == len(rates) > 10
    for row, rate in zip(rows, rates, strict=True):
        assert row == {k: _cell(v) for k, v in rate.items()}


def test_validate_csv_lists_every_problem_with_the_json_figures(work: Path) -> None:
    doc = json.loads(run("validate", "broken_requests.jsonl", "--format", "json")[1])
    rows = _csv(run("validate", "broken_requests.jsonl", "--format", "csv")[1])
    expected = [
        {"severity": k["severity"], "code": k["code"], "title": k["title"], "kind_count": str(k["count"]),
         "path": p["path"], "line": _cell(p["line"]), "message": p["message"]}
        for k in doc["problems"] for p in k["shown"]
    ]  # fmt: skip
    assert rows == expected and len(rows) == doc["errors"] + doc["warnings"]


def test_estimate_csv_is_the_cost_of_every_model_and_mode(work: Path) -> None:
    argv = ["estimate", "batch_requests.jsonl", *MODEL, "--output-tokens", "300", "--compare", "gemini-2.5-pro", "-q"]
    doc = json.loads(run(*argv, "--format", "json")[1])
    rows = _csv(run(*argv, "--format", "csv")[1])
    expected = [
        (entry["model"], mode, cost.get("floor"), cost.get("expected"), cost.get("low"), cost.get("high"),
         cost.get("ceiling"))
        for entry in [doc, *doc["compare"]] for mode, cost in entry["cost"].items()
    ]  # fmt: skip
    got = [(r["model"], r["mode"], r["floor"], r["expected"], r["low"], r["high"], r["ceiling"]) for r in rows]
    assert got == [tuple(_cell(v) for v in e) for e in expected]
    assert {r["model"] for r in rows} == {"gemini-2.5-flash", "gemini-2.5-pro"}


def test_plan_csv_is_every_shard_of_the_json(work: Path) -> None:
    argv = ["plan", "batch_requests.jsonl", *MODEL, "--max-requests", "1", "-q"]
    shards = json.loads(run(*argv, "--format", "json")[1])["shards"]["shards"]
    rows = _csv(run(*argv, "--format", "csv")[1])
    assert len(rows) == len(shards) == 3
    for row, sh in zip(rows, shards, strict=True):
        assert row["shard"] == str(sh["index"]) and row["cost"] == sh["cost"]
        assert [row[k] for k in ("wave", "requests", "bytes", "tokens", "cost_ceiling")] == [
            str(sh[k]) for k in ("wave", "requests", "bytes", "tokens", "cost_ceiling")
        ]
        assert row["lines"] == " ".join(str(a) if a == b else f"{a}-{b}" for a, b in sh["lines"])


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"report"}))
def test_the_output_name_gives_the_format(work: Path, command: str) -> None:
    argv, formats = COMMANDS[command]
    _, text, _ = run(*argv, "-q")
    for fmt in formats:
        name = f"out{FORMAT_SUFFIXES[fmt][0]}"
        code, out, err = run(*argv, "-o", name)
        assert _code_ok(command, code) and out == "", err
        assert err == f"wrote {name} ({_size(work / name)})\n"
        _, expected, _ = run(*argv, "--format", fmt, "-q")
        assert (work / name).read_text() == expected
    code, _, err = run(*argv, "-o", "results", "-q")  # no extension: the default
    assert _code_ok(command, code) and err == "" and (work / "results").read_text() == text


def _size(path: Path) -> str:
    from batchcost.cli.common import human_size

    return human_size(path.stat().st_size)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_name_the_command_cannot_write_is_refused_before_any_work(work: Path, command: str) -> None:
    argv, formats = COMMANDS[command]
    before = sorted(p.name for p in work.iterdir())
    suffixes = ", ".join(FORMAT_SUFFIXES[f][0] for f in formats[:-1]) + f" or {FORMAT_SUFFIXES[formats[-1]][0]}"
    for name in ("out.pdf", "out.xlsx"):
        code, out, err = run(*argv, "-o", name)
        assert code == 2 and out == ""
        assert (
            err
            == f"batchcost {command}: error: -o {name}: {command} writes {suffixes} files (see `batchcost {command} --help`)\n"
        )
    other = next(f for f in FORMAT_SUFFIXES if f in formats and f != formats[0])
    name = f"out{FORMAT_SUFFIXES[other][0]}"
    code, out, err = run(*argv, "--format", formats[0], "-o", name)  # the name contradicts --format
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"-o {name} names " in err and f"--format {formats[0]} was given: drop --format, or name the file" in err
    assert sorted(p.name for p in work.iterdir()) == before  # nothing written


def test_reports_are_confirmed_and_a_report_name_must_say_html_md_or_txt(work: Path) -> None:
    code, _, err = run("estimate", "batch_requests.jsonl", *MODEL, "--report", "plan.html", "-o", "est.md")
    assert (
        code == 0 and err == f"wrote est.md ({_size(work / 'est.md')})\nwrote plan.html ({_size(work / 'plan.html')})\n"
    )
    assert (work / "est.md").read_text().startswith("#") and (work / "plan.html").read_text().startswith("<!")
    code, _, err = run("reconcile", "batch_results.jsonl", "--plan", "plan.json", "--report", "after.md", "-q")
    assert code == 1 and err == "" and (work / "after.md").exists()
    code, _, err = run("report", "plan.json", "-o", "plan.txt")
    assert code == 0 and err == f"wrote plan.txt ({_size(work / 'plan.txt')})\n"
    for argv in (
        ["estimate", "batch_requests.jsonl", *MODEL],
        ["reconcile", "batch_results.jsonl", "--plan", "plan.json"],
    ):
        code, out, err = run(*argv, "--report", "plan.pdf")
        assert code == 2 and out == "" and "--report plan.pdf: batchcost writes .html, .md or .txt reports" in err
        assert not (work / "plan.pdf").exists()


def test_no_confirmation_for_a_device_or_with_quiet(work: Path) -> None:
    code, _, err = run("validate", "batch_requests.jsonl", "-o", "/dev/null")
    assert code == 0 and err == ""
    code, _, err = run("prices", "-m", "gemini-2.5-flash", "-o", "p.csv", "-q")
    assert code == 0 and err == "" and (work / "p.csv").stat().st_size > 0


def test_shard_confirms_what_it_wrote(work: Path) -> None:
    code, _, err = run("shard", "batch_requests.jsonl", "--out", "shards", *MODEL, "--max-requests", "2")
    assert code == 0 and err == "wrote 2 shards (358 bytes) and shards/manifest.json\n"
    code, _, err = run("shard", "batch_requests.jsonl", "--out", "s2", *MODEL, "-q")
    assert code == 0 and err == ""


def test_piped_output_has_no_escape_codes(work: Path) -> None:
    for argv in (["estimate", "batch_requests.jsonl", *MODEL, "--output-tokens", "300"], ["prices", "-o", "p.txt"]):
        code, out, err = run(*argv)
        assert code == 0 and "\x1b" not in out + err
