"""Users see a source's title, URL and checked date, never the maintainers' shorthand for it.

Every command renders every format it offers for the files in ``examples/`` and the bundled price
book, and no output (nor the package's data files) may hold an internal reference code: document
ids such as D-BATCH, P-AE, GP-OR, V-BATCH, 3P-38, "FACTS 5.2", "facts sheet", "section 3.2", "§".
"""

from __future__ import annotations

import functools
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from batchcost.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PACKAGE = ROOT / "src" / "batchcost"

INTERNAL_ID = re.compile(
    r"(?<![\w-])(?:D-[A-Z]{2,}|P-[A-Z]{2,}|GP-[A-Z]+|V-[A-Z]{2,}|3P|FACTS)(?:-[\w.]+)*(?!\w)"
    r"|[Ff]acts sheet|\b[Ss]ection \d+(?:\.\d+)+|§|\bGP:\d|\bSDK:\w"
)

# (model, run date): routing, a straddled price change, derived flex/priority rates, billing at the
# requested model's rates, third-party prices, a batch rate derived before genai-prices lists it.
CASES = [
    ("gemini-2.5-pro", "2026-12-04"),
    ("gemini-2.5-pro", "2026-11-30"),
    ("gemini-3.8-flash", "2026-11-27"),
    ("gemini-3.5-flash", "2026-11-27"),
    ("gemini-4-hydrogen", "2026-11-27"),
    ("gemini-3.7-flash", "2026-09-01"),
]


def found(text: str) -> list[str]:
    return sorted(set(INTERNAL_ID.findall(text)))


def run(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    assert code in (0, 1), f"{argv}: exit {code}: {err.getvalue()}"
    return out.getvalue() + err.getvalue()


@functools.cache
def formats(command: str) -> tuple[str, ...]:
    """The ``--format`` values ``command`` offers, read from its help."""
    text = run(command, "--help")
    match = re.search(r"--format\s+\[([\w|]+)\]", text)
    assert match, f"{command} --help names no --format choices"
    return tuple(match.group(1).split("|"))


@functools.cache
def has_option(command: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", run(command, "--help")) is not None


def test_the_pattern_catches_the_shorthand() -> None:
    for text in ("D-BATCH", "(D-OPT 'Flex = 50%')", "P-AE (2026-10-07)", "GP-OR: OpenRouter rows", "3P-38", "[3P]",
                 "FACTS 5.2", "Facts sheet 3.2 verdict", "section 3.2", "§3", "V-BATCH", "D-RL-old", "GP:7437"):  # fmt: skip
        assert found(text), text
    for text in ("gemini-2.5-pro", "Gemini API pricing page, 2026-11-27", "USD/1M tokens", "sha256 3fa9-D", "MP-3"):
        assert not found(text), text


@pytest.mark.parametrize(("model", "run_date"), CASES)
def test_every_format_of_estimate_plan_report_and_reconcile_names_no_internal_id(
    tmp_path: Path, model: str, run_date: str
) -> None:
    src = tmp_path / "requests.jsonl"
    shutil.copy(EXAMPLES / "batch_requests.jsonl", src)
    common = [str(src), "-m", model, "--offline", "-q", "--run-date", run_date, "--output-tokens", "100"]
    texts: dict[str, str] = {}
    for command in ("estimate", "plan"):
        for fmt in formats(command):
            texts[f"{command} {fmt}"] = run(command, *common, "--format", fmt)
        if has_option(command, "--verbose"):
            texts[f"{command} verbose"] = run(command, *common, "--verbose")
    plan = tmp_path / "plan.json"
    plan.write_text(texts["estimate json"], encoding="utf-8")
    run("estimate", *common, "--report", str(tmp_path / "estimate.html"))
    texts["estimate --report html"] = (tmp_path / "estimate.html").read_text(encoding="utf-8")
    for fmt in formats("report"):
        out = tmp_path / f"report.{ {'markdown': 'md', 'text': 'txt'}.get(fmt, fmt) }"
        run("report", str(plan), "--format", fmt, "-o", str(out))
        texts[f"report {fmt}"] = out.read_text(encoding="utf-8")
    results = EXAMPLES / "batch_results.jsonl"
    for fmt in formats("reconcile"):
        texts[f"reconcile {fmt}"] = run("reconcile", str(results), "--plan", str(plan), "--format", fmt)
    run("reconcile", str(results), "--plan", str(plan), "--report", str(tmp_path / "reconciled.html"))
    texts["reconcile --report html"] = (tmp_path / "reconciled.html").read_text(encoding="utf-8")
    assert json.loads(texts["estimate json"])["prices"], "the plan lists the prices it used"
    assert {name: found(text) for name, text in texts.items()} == {name: [] for name in texts}


def test_shard_manifest_names_no_internal_id(tmp_path: Path) -> None:
    src = tmp_path / "requests.jsonl"
    shutil.copy(EXAMPLES / "batch_requests.jsonl", src)
    out = run("shard", str(src), "--out", str(tmp_path / "shards"), "-m", "gemini-2.5-pro", "--offline", "-q",
              "--run-date", "2026-12-04", "--output-tokens", "100")  # fmt: skip
    manifest = (tmp_path / "shards" / "manifest.json").read_text(encoding="utf-8")
    assert found(out) == [] and found(manifest) == []


@pytest.mark.parametrize("run_date", ["2026-08-01", "2026-11-27", "2026-12-04", "2027-01-02"])
def test_the_whole_price_book_names_no_internal_id(run_date: str) -> None:
    texts = {fmt: run("prices", "--run-date", run_date, "--format", fmt) for fmt in formats("prices")}
    assert {fmt: found(text) for fmt, text in texts.items()} == {fmt: [] for fmt in texts}


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*requests.jsonl")))
def test_validate_names_no_internal_id(tmp_path: Path, example: str) -> None:
    src = tmp_path / example
    shutil.copy(EXAMPLES / example, src)
    texts = {fmt: run("validate", str(src), "--format", fmt) for fmt in formats("validate")}
    assert {fmt: found(text) for fmt, text in texts.items()} == {fmt: [] for fmt in texts}


def test_package_data_names_no_internal_id() -> None:
    data = [p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc", ".typed")]
    assert any(p.name == "overlay.yaml" for p in data)
    hits = {str(p.relative_to(PACKAGE)): found(p.read_text(encoding="utf-8")) for p in data}
    assert {name: ids for name, ids in hits.items() if ids} == {}
