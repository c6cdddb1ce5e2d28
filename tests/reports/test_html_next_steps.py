"""What a manager acts on: the next steps for the plan, and how the page shows paths, lines, money and charts.

The plans of 1, 26 and 300 waves (``data/plan_waves_*.json``) are real plans made with the library
on files from ``bench/make_batch_file.py``, the path of each file then replaced by one under
``/home/ana/batches`` (the tokenizer's cache path is left as it was, absolute):

* ``waves_1``: a 5 MB mixed file (seed 3), gemini-2.5-pro, ``--output-tokens 400``, compared with
  gemini-2.5-flash and gemini-3.8-flash; tier 1 assumed, one shard.
* ``waves_26``: a 395 MB mixed file (seed 7), gemini-2.5-flash, ``--output-tokens 500``, compared
  with gemini-2.5-pro and gemini-3.8-flash; tier 1 assumed: 26 waves, tier 2 would need one.
* ``waves_300``: the first 900 lines of a short-prompts file (seed 5), gemini-2.5-flash,
  ``--output-ratio 1.5 --max-requests 3 --concurrent-jobs 1``, compared with gemini-2.5-flash-lite.

All with ``run_date=2026-11-27`` and ``offline=True``.
"""

from __future__ import annotations

import copy
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from batchcost.cli import main
from batchcost.reports import charts
from batchcost.reports.html import render_html
from batchcost.reports.html.display import line_ranges, sentence

from .conftest import load


@pytest.fixture(scope="module")
def full_soup() -> BeautifulSoup:
    return soup_of(load("full"))


def soup_of(plan: dict[str, Any]) -> BeautifulSoup:
    return BeautifulSoup(render_html(plan), "html.parser")


def text(el: Any) -> str:
    return " ".join(el.get_text(" ").split())


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# -- next steps: the commands that carry the plan out ---------------------------------------------


def steps_of(soup: BeautifulSoup) -> dict[str, dict[str, Any]]:
    """Each next step by title: its text, its code block and the remarks under it."""
    out = {}
    for li in soup.select("#next-steps li.step"):
        code = li.select_one("pre.code code")
        out[text(li.h3)] = {
            "text": text(li.p),
            "code": None if code is None else code.get_text(),
            "language": None if code is None else li.select_one("pre.code")["data-language"],
            "after": [text(p) for p in li.select("p.note")],
        }
    return out


def test_next_steps_of_the_full_plan(full_soup: BeautifulSoup) -> None:
    steps = steps_of(full_soup)
    assert list(steps) == [
        "Fix the invalid lines", "Cap the output", "Create the cache", "Write the shards", "Submit the jobs",
        "Check the bill against this estimate",
    ]  # fmt: skip
    assert steps["Fix the invalid lines"]["code"] == "batchcost validate contracts.jsonl"
    # the shard command carries what shaped these shards: the tier given, --max-requests 350, the output
    assert steps["Write the shards"]["code"] == (
        "batchcost shard contracts.jsonl -m gemini-2.5-pro --out shards/ --tier 1 \\\n"
        "    --max-requests 350 --output-tokens 300 --run-date 2026-11-27\n"
        "batchcost shard --verify shards/manifest.json"
    )
    assert "4 shard files (one batch job each) in 2 waves" in steps["Write the shards"]["text"]
    # the output ceiling (152,508,544) is far above the expectation (369,492): cap it near 300 per request
    cap = steps["Cap the output"]
    assert cap["code"] == '"generationConfig": {"maxOutputTokens": 600, "thinkingConfig": {"thinkingBudget": 300}}'
    assert cap["text"].startswith(
        "The batch ceiling, $768.21, counts every request writing its full output allowance: 152,508,544 output "
        "tokens, far above the 369,492 expected."
    )
    assert cap["after"][0].startswith("600 is twice the 300 output tokens per request this plan expects")
    # the cache: its model, what it holds, a TTL to the jobs' outer bound (96 h), and how requests use it
    cache = steps["Create the cache"]
    assert cache["language"] == "python"
    assert 'model="gemini-2.5-pro"' in cache["code"] and "contents=[SHARED_PARTS]" in cache["code"]
    assert 'ttl="345600s",  # about 4 days: until the last job can end' in cache["code"]
    how = load("full")["caching"]["candidates"][0]["how"]
    assert sentence(how) == cache["after"][0]
    assert "client.caches.delete(name=cache.name)" in cache["after"][1]
    submit = steps["Submit the jobs"]
    assert 'client.batches.create(model="gemini-2.5-pro", src=uploaded.name,' in submit["code"]
    assert "Expect the results in about 48 h (2 waves)" in submit["text"]
    assert steps["Check the bill against this estimate"]["code"] == (
        "batchcost reconcile results/*.jsonl --plan plan.json"
    )


@pytest.mark.parametrize("name", ["full", "small", "waves_1", "waves_26", "waves_300"])
def test_next_steps_python_snippets_compile(name: str) -> None:
    for step in steps_of(soup_of(load(name))).values():
        if step["language"] == "python":
            compile(step["code"], f"{name}: {step['code'][:30]}", "exec")
        elif step["language"] == "json":
            json.loads("{" + re.sub(r"\b[A-Z_]{6,}\b", "1", step["code"]) + "}")


def test_next_steps_suggest_the_tier_that_needs_fewer_waves() -> None:
    """26 waves on tier 1, assumed; tier 2 would take one: both commands, and why."""
    soup = soup_of(load("waves_26"))
    steps = steps_of(soup)
    assert "Create the cache" not in steps  # caching does not pay for this file
    assert steps["Write the shards"]["code"] == (
        "# tier 1 (assumed): 26 waves\n"
        "batchcost shard code_review.jsonl -m gemini-2.5-flash --out shards/ \\\n"
        "    --output-tokens 500 --run-date 2026-11-27\n"
        "# if your project is on tier 2: 1 wave\n"
        "batchcost shard code_review.jsonl -m gemini-2.5-flash --out shards/ --tier 2 \\\n"
        "    --output-tokens 500 --run-date 2026-11-27\n"
        "batchcost shard --verify shards/manifest.json"
    )
    assert steps["Write the shards"]["after"][0].startswith("Tier 1 was assumed because no --tier was given")
    assert " ".join(soup.select_one("#other-tiers").get_text().split()) == (
        "Tier 1 was assumed (no --tier given) and it sets the 26 waves: on tier 2, 1 wave (--tier 2). "
        "Give your project's tier if it is higher."
    )
    # in days: 26 waves of 24 h
    assert "Expect the results in about 26 days (26 waves)" in steps["Submit the jobs"]["text"]
    assert text(soup.select_one("#time-bound")) == (
        "26 waves: expect results in about 26 days (26 waves of 24 h). A job still pending or running after 48 h "
        "expires without results, so the outer bound is about 52 days."
    )
    tile = next(t for t in soup.select(".figure") if text(t.select_one(".label")) == "Shard plan")
    assert text(tile.select_one(".detail")) == "about 26 days, at most about 52 days"


def test_next_steps_carry_the_limits_the_user_gave() -> None:
    """300 waves from --max-requests 3 --concurrent-jobs 1 and an --output-ratio expectation."""
    steps = steps_of(soup_of(load("waves_300")))
    assert steps["Write the shards"]["code"].split("\n")[:3] == [
        "batchcost shard reviews.jsonl -m gemini-2.5-flash --out shards/ \\",
        "    --max-requests 3 --concurrent-jobs 1 --output-ratio 1.5 \\",
        "    --run-date 2026-11-27",
    ]
    # no flat per-request figure: the cap is left to the user, with what the plan expects in all
    cap = steps["Cap the output"]
    assert "LONGEST_EXPECTED_ANSWER" in cap["code"]
    assert cap["after"][0].startswith("The plan expects 335,375 output tokens in all for 900 requests")


def test_no_next_step_caps_an_output_close_to_its_ceiling(small_plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(small_plan)
    o = plan["tokens"]["output"]
    o["ceiling"] = 4 * o["expected"]
    assert "Cap the output" not in steps_of(soup_of(plan))
    o["ceiling"] += 1
    assert "Cap the output" in steps_of(soup_of(plan))


def test_a_plan_on_negotiated_prices_says_to_shard_with_them(full_plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(full_plan)
    said = "Give the shard command the same --prices as the estimate, so the manifest's costs match this report."
    assert said not in steps_of(soup_of(plan))["Write the shards"]["after"]
    plan["prices"][0]["overridden"] = True
    assert said in steps_of(soup_of(plan))["Write the shards"]["after"]


def test_next_steps_on_vertex(full_plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(full_plan)
    plan["shards"]["platform"] = plan["caching"]["platform"] = "vertex"
    steps = steps_of(soup_of(plan))
    assert "--platform vertex" in steps["Write the shards"]["code"]
    assert "genai.Client(vertexai=True" in steps["Submit the jobs"]["code"]
    assert 'config={"dest": "gs://YOUR_BUCKET/results/"}' in steps["Submit the jobs"]["code"]
    assert "genai.Client(vertexai=True" in steps["Create the cache"]["code"]


def test_the_shard_command_writes_the_planned_shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the page's `batchcost shard` command: the manifest holds the plan's shards, line for line."""
    import datetime
    import shlex

    from batchcost.planner.estimate import estimate

    path = tmp_path / "tickets.jsonl"
    lines = [{"key": f"k{i}", "request": {"contents": [{"parts": [{"text": "Hello " * (i + 1)}]}]}} for i in range(40)]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    doc = estimate(
        path, model="gemini-2.5-flash", run_date=datetime.date(2026, 11, 27), offline=True, output_tokens=20,
        max_requests=7, concurrent_jobs=2,
    ).to_json()  # fmt: skip
    assert doc["shards"]["totals"]["waves"] == 3
    html = render_html(doc)
    assert str(tmp_path) not in html
    command = steps_of(BeautifulSoup(html, "html.parser"))["Write the shards"]["code"]
    monkeypatch.chdir(tmp_path)
    for line in command.replace("\\\n", " ").split("\n"):
        args = shlex.split(line)
        assert args[0] == "batchcost"
        code, _, err = cli(*args[1:], "--offline", "-q") if args[2] != "--verify" else cli(*args[1:])
        assert code == 0, err
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    assert [(s["lines"], s["wave"], s["cost"]) for s in manifest["shards"]] == [
        (s["lines"], s["wave"], s["cost"]) for s in doc["shards"]["shards"]
    ]


# -- what the page must not show, and how it shows what it does -----------------------------------

_ABSOLUTE = re.compile(r"(?<![\w.:/])(?:/(?:home|root|tmp|Users|var|work|mnt)/|[A-Za-z]:\\)")


@pytest.mark.parametrize("name", ["full", "small", "waves_1", "waves_26", "waves_300"])
def test_no_absolute_local_path_on_the_page(name: str) -> None:
    plan = copy.deepcopy(load(name))
    plan["files"][0]["path"] = "/home/ana/private/" + plan["files"][0]["path"].split("/")[-1]
    plan["notes"].append("model from the cache /root/.cache/batchcost/gemma3.spiece.model; see C:\\Users\\ana\\x.jsonl")
    html = render_html(plan)
    assert not _ABSOLUTE.search(html), _ABSOLUTE.search(html)
    soup = BeautifulSoup(html, "html.parser")
    name_shown = plan["files"][0]["path"].split("/")[-1]
    assert text(soup.select_one("header .file")) == name_shown
    row = soup.select_one("#provenance tbody tr")
    assert row.select_one("td.path").get_text() == name_shown
    assert row.select_one("td.hash").get_text() == plan["files"][0]["sha256"]
    assert "gemma3.spiece.model" in text(soup.select_one("#assumptions"))


def test_line_ranges_read_as_a_summary() -> None:
    assert line_ranges([[1, 350]]) == "1–350"
    assert line_ranges([[1, 176], [208, 208], [348, 348]]) == "1–176, 208 and 348"
    many = [[1, 176]] + [[300 + 10 * k, 300 + 10 * k + 6] for k in range(147)]
    assert line_ranges(many) == "1–176 and 147 other ranges, 1,205 lines in all"
    soup = soup_of(load("waves_26"))
    first = soup.select_one("#shards table.shards tbody tr td.lines")
    assert text(first) == "1–14 and 580 other ranges, 629 lines in all"
    assert soup.select_one("#shards table.waves") is None  # one shard per wave: the shard table says it all


def test_every_money_column_has_one_precision() -> None:
    """cents from $1 up, and within a column every amount with the same number of decimals."""
    for name in ("full", "waves_1", "waves_26", "waves_300"):
        soup = soup_of(load(name))
        for table in soup.select("table.data:not(.prices)"):  # rates are shown exactly, as published
            columns: dict[int, list[str]] = {}
            for tr in table.select("tbody tr"):
                for k, cell in enumerate(tr.find_all(["th", "td"])):
                    shown = text(cell).split(" ")[0]
                    if re.fullmatch(r"[-+]?\$[\d,]+(\.\d+)?", shown):
                        columns.setdefault(k, []).append(shown)
            for k, cells in columns.items():
                decimals = {len(c.partition(".")[2]) for c in cells}
                assert len(decimals) == 1, (name, table.get("class"), k, cells)


def test_prices_used_include_the_caching_rates(full_soup: BeautifulSoup) -> None:
    rates = [text(li) for li in full_soup.select("#prices ul.cache-rates li")]
    assert len(rates) == 3
    assert rates[0].startswith("gemini-2.5-pro batch cache-read rate $0.125/1M tokens")
    assert rates[1].startswith("cache creation is billed at the standard input rate ($1.25/1M")
    assert rates[2].startswith("storage priced for 48 h at $4.50/1M tokens per hour")


def test_no_caching_rates_without_caching(small_plan: dict[str, Any]) -> None:
    assert soup_of(small_plan).select_one("#prices ul.cache-rates") is None


def test_one_shard_chart_has_integer_ticks() -> None:
    svg = charts.cumulative_cost([Decimal("1.2")], [1])
    assert svg is not None
    soup = BeautifulSoup(svg, "html.parser")
    ticks = [text(g) for g in soup.select('g[id^="cumulative-xtick_"]')]
    assert ticks == ["1"]
    usd = [text(g) for g in soup.select('g[id^="cumulative-ytick_"]')]
    assert usd[0] == "$0" and {len(t.partition(".")[2]) for t in usd[1:]} == {2}  # "$0.20" ... "$1.40"


@pytest.mark.parametrize(("waves", "shown"), [
    (1, ["wave 1"]),
    (26, ["wave 1", "wave 5", "wave 10", "wave 15", "wave 20", "wave 25"]),
    (300, ["wave 1", "wave 50", "wave 100", "wave 150", "wave 200", "wave 250", "wave 300"]),
])  # fmt: skip
def test_wave_labels_are_thinned_to_a_regular_step(waves: int, shown: list[str]) -> None:
    svg = charts.cumulative_cost([Decimal("0.37")] * waves, list(range(1, waves + 1)))
    assert svg is not None
    assert [t for t in re.findall(r">\s*(wave \d+)\s*<", svg)] == shown
