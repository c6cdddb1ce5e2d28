"""The HTML report and the Markdown rendering, from fixed plans: figures, sections, safety, determinism."""

from __future__ import annotations

import copy
import io
import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from batchcost.cli import main
from batchcost.documents.plan import check_plan, read_plan
from batchcost.errors import BatchcostError, InputError, OutputError, PlanError
from batchcost.reports import charts
from batchcost.reports.html import (
    ReportContext,
    _environment,
    build_context,
    render_html,
    write_report,
)
from batchcost.reports.html.display import sentence
from batchcost.reports.markdown import md_code, md_text, render_plan_markdown
from batchcost.reports.plan_text import cheapest, compare_rows, missing_modes
from batchcost.reports.terminal import headline, money, rate

from .conftest import XSS, load, xss_plan

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("BATCHCOST_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def full_html() -> str:
    return render_html(load("full"))


@pytest.fixture(scope="module")
def full_soup(full_html: str) -> BeautifulSoup:
    return BeautifulSoup(full_html, "html.parser")


def soup_of(plan: dict[str, Any]) -> BeautifulSoup:
    return BeautifulSoup(render_html(plan), "html.parser")


def text(el: Any) -> str:
    return " ".join(el.get_text(" ").split())


# -- the figures are the plan's ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["full", "small"])
def test_cost_table_carries_the_plans_exact_figures(name: str) -> None:
    plan = load(name)
    soup = soup_of(plan)
    rows = soup.select("#cost table.cost tbody tr")
    assert [r["data-mode"] for r in rows] == list(plan["cost"])
    for row in rows:
        cost = plan["cost"][row["data-mode"]]
        cells = row.find_all("td")
        columns = ["expected", "low", "high", "ceiling", "floor"]
        assert [c["data-usd"] for c in cells] == [cost[k] for k in columns]
        assert [c.get_text() for c in cells] == [money(cost[k]) for k in columns]


def test_full_plan_figures_by_hand(full_soup: BeautifulSoup) -> None:
    batch = full_soup.select_one('#cost tr[data-mode="batch"]')
    assert batch is not None and "highlight" in batch["class"]
    assert [c.get_text() for c in batch.find_all("td")] == ["$7.18", "$7.18", "$7.18", "$768.21", "$5.33"]
    assert text(full_soup.select_one('#cost tr[data-mode="batch_cached"] th')) == "batch + cache"
    assert text(full_soup.select_one("#cost .savings")) == (
        "Batch saves $7.18 (50.0%) over standard synchronous calls (expected cost)."
    )
    tiles = {text(t.select_one(".label")): t for t in full_soup.select(".figure")}
    assert tiles["Batch cost, expected"]["data-usd"] == "7.18214125"
    assert text(tiles["Batch cost, expected"].select_one(".value")) == "$7.18"
    # the sampled interval (7.1813675 - 7.182915) is narrower than a cent: given as a half-width
    assert text(tiles["Batch cost, expected"].select_one(".detail")) == "95% interval ±$0.0008"
    assert tiles["Standard (sync) cost, expected"]["data-usd"] == "14.3642825"
    assert tiles["Batch + cache"]["data-usd"] == "5.20888675"
    assert text(tiles["Batch + cache"].select_one(".detail")) == (
        "explicit cache saves $1.97 (27.5% of the batch expected cost)"
    )
    assert tiles["Batch ceiling"]["data-usd"] == "768.205105"
    assert text(tiles["Requests"]) == "Requests 1,232 1 file, 48.19 MB"
    assert text(tiles["Input tokens"]) == "Input tokens 8,274,290 95%: 8,273,052 - 8,275,528"
    assert text(tiles["Validation"].select_one(".value")) == "INVALID"
    assert "tone-bad" in tiles["Validation"]["class"]
    assert text(tiles["Shard plan"]) == "Shard plan 4 shards in 2 waves about 48 h, at most about 4 days"


@pytest.mark.parametrize("name", ["full", "small"])
def test_headline_is_the_one_line_answer(name: str) -> None:
    plan = load(name)
    soup = soup_of(plan)
    assert text(soup.select_one("#headline")) == headline(plan)


def test_headline_of_the_full_plan() -> None:
    assert headline(load("full")) == (
        "Batch on gemini-2.5-pro: $7.18, 50.0% less than standard; INVALID (3 errors); 4 shards in 2 waves"
    )


def test_tokens_section(full_soup: BeautifulSoup) -> None:
    plan = load("full")
    tin = plan["tokens"]["input"]
    total = full_soup.select_one("#input-total")
    assert [c.get_text() for c in total.find_all("td")] == [
        f"{tin['expected']:,}",
        f"{tin['low']:,} - {tin['high']:,}",
        "100.0%",
    ]
    rows = {text(r.th): [c.get_text() for c in r.find_all("td")] for r in full_soup.select("#tokens tbody tr")}
    assert rows["text"] == ["8,272,484", "8,271,246 - 8,273,722", "100.0%"]
    assert rows["image"] == ["1,806", "exact", "0.0%"]
    assert "audio" not in rows  # modalities without tokens are left out
    assert rows["system instruction"] == ["83,239", "82,833 - 83,645", "1.0%"]
    assert text(full_soup.select_one("#output-expected")) == "369,492"
    assert text(full_soup.select_one("#output-ceiling")) == "152,508,544"
    assert "Sampled: 326 requests counted exactly" in text(full_soup.select_one("#tokens .method"))
    assert "1 request above 200k input tokens" in text(full_soup.select_one("#tokens .callout"))


def test_compare_is_one_table_ranked_by_cost(full_soup: BeautifulSoup) -> None:
    """Model x mode, cheapest first, as the text report ranks them; the difference from the chosen option."""
    plan = load("full")
    rows = full_soup.select("#compare tbody tr")
    ranked = compare_rows(plan)
    assert [(r["data-model"], r["data-mode"]) for r in rows] == [(x["model"], x["mode"]) for x in ranked]
    assert [(r["data-model"], r["data-mode"]) for r in rows] == [
        ("gemini-2.5-flash", "batch"), ("gemini-2.5-flash", "standard"), ("gemini-3.8-flash", "batch"),
        ("gemini-2.5-pro", "batch_cached"), ("gemini-2.5-pro", "batch"), ("gemini-3.8-flash", "standard"),
        ("gemini-2.5-pro", "standard"),
    ]  # fmt: skip
    expected = [Decimal(r.select_one("td.key")["data-usd"]) for r in rows]
    assert expected == sorted(expected)
    costs = {(plan["model"], m): c for m, c in plan["cost"].items()}
    costs.update({(c["model"], m): v for c in plan["compare"] for m, v in c["cost"].items()})
    assert [r.select_one("td.key")["data-usd"] for r in rows] == [
        costs[(r["data-model"], r["data-mode"])]["expected"] for r in rows
    ]
    assert [text(r.select_one("td.key")) for r in rows] == [
        "$1.70",
        "$3.41",
        "$3.80",
        "$5.21",
        "$7.18",
        "$7.59",
        "$14.36",
    ]
    # the difference from gemini-2.5-pro batch: 1.6973... - 7.1821... = -5.48
    assert [text(r.select_one("td.diff")) for r in rows] == [
        "-$5.48", "-$3.78", "-$3.39", "-$1.97", "chosen", "+$0.41", "+$7.18",
    ]  # fmt: skip
    assert "highlight" in rows[4]["class"] and rows[0].select_one(".badge").get_text() == "cheapest"
    assert (
        text(full_soup.select_one("#cheapest"))
        == "Cheapest: gemini-2.5-flash batch at $1.70, $5.48 less than gemini-2.5-pro batch."
    )
    assert text(full_soup.select_one("#cheapest")) == sentence(cheapest(plan))
    assert [text(li) for li in full_soup.select("#compare ul.missing-modes li")] == [
        sentence(n) for n in missing_modes(plan)
    ]
    # the compared models' own notes are with the other assumptions, not between the table and the next steps
    assert len(full_soup.select("#assumptions ul.model-notes")) == 2


def test_compare_names_every_mode_a_model_lacks(full_plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(full_plan)
    plan["compare"][1]["cost"].pop("standard")
    plan["compare"][0]["cost"]["batch"] = {"not_priced": "no batch rate"}
    soup = soup_of(plan)
    notes = [text(li) for li in soup.select("#compare ul.missing-modes li")]
    assert notes[:2] == [
        "Gemini-3.8-flash has no batch rates in the price book: not compared in that mode.",
        "Gemini-2.5-flash has no standard (sync) rates in the price book: not compared in that mode.",
    ]
    shown = [(r["data-model"], r["data-mode"]) for r in soup.select("#compare tbody tr")]
    assert ("gemini-2.5-flash", "standard") not in shown
    unpriced = soup.select_one('#compare tr[data-model="gemini-3.8-flash"][data-mode="batch"]')
    assert shown[-1] == ("gemini-3.8-flash", "batch") and text(unpriced.select_one("td.key")) == "unknown"


def test_shard_section(full_soup: BeautifulSoup) -> None:
    plan = load("full")
    rows = full_soup.select("#shards table.shards tbody tr")
    assert [[c.get_text() for c in r.find_all(["th", "td"])][:6] for r in rows] == [
        ["1", "1", "1–350", "350", "5.56 MB", "865,736"],
        ["2", "1", "351–644", "294", "14.21 MB", "2,469,902"],
        ["3", "2", "645–938", "294", "14.21 MB", "2,469,957"],
        ["4", "2", "939–1,232", "294", "14.21 MB", "2,469,933"],
    ]
    costs = [r.find_all("td")[5]["data-usd"] for r in rows]
    assert costs == [s["cost"] for s in plan["shards"]["shards"]]
    cumulative = rows[-1].find_all("td")[6]
    assert (
        Decimal(cumulative["data-usd"]) == sum(Decimal(c) for c in costs) == Decimal(plan["cost"]["batch"]["expected"])
    )
    waves = full_soup.select("#shards table.waves tbody tr")
    assert [[c.get_text() for c in w.find_all(["th", "td"])] for w in waves] == [
        ["1", "1–2", "644", "3,335,638", "$3.21"],
        ["2", "3–4", "588", "4,939,890", "$3.97"],
    ]
    limits = {text(r.th): r.td.get_text() for r in full_soup.select("#shards table.limits tbody tr")}
    assert limits == {
        "input file size per job": "2.00 GB",
        "requests per job": "350",
        "enqueued tokens per model (all active jobs)": "5,000,000",
        "concurrent jobs": "100",
    }
    assert text(full_soup.select_one("#shards h2 .unit")) == "4 shards in 2 waves · Gemini Developer API, tier 1"
    assert text(full_soup.select_one("#time-bound")) == (
        "2 waves: expect results in about 48 h (2 waves of 24 h). A job still pending or running after 48 h "
        "expires without results, so the outer bound is about 4 days."
    )
    assert full_soup.select_one("#other-tiers") is None  # tier 1 was given, not assumed
    assert "monthly spend cap" in text(full_soup.select_one("#shards .callout.warn"))


def test_oversized_requests_are_shown(full_plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(full_plan)
    plan["shards"]["oversized"] = [
        {"line": 77, "limit": "enqueued_tokens", "figure": 6_000_000, "allowed": 5_000_000, "source": "tier 1"}
    ]
    plan["shards"]["submittable"] = False
    soup = soup_of(plan)
    bad = soup.select_one("#shards .callout.bad")
    assert text(bad).startswith("1 request cannot be submitted as it is")
    assert [c.get_text() for c in bad.select("tbody td")] == ["77", "enqueued_tokens", "6,000,000", "5,000,000"]
    tile = next(t for t in soup.select(".figure") if text(t.select_one(".label")) == "Shard plan")
    assert "tone-bad" in tile["class"] and text(tile.select_one(".detail")) == "1 request too large for any job"


def test_caching_section(full_soup: BeautifulSoup) -> None:
    section = full_soup.select_one("#caching")
    assert " ".join(section.select_one(".callout").get_text().split()) == (
        "Recommendation: explicit cache. Use 1 explicit cache for 900 requests: saves $1.97 (27.5% of the batch "
        "expected cost). Batch with the cache: $5.21."
    )
    assert section.select_one(".callout .money")["data-usd"] == "5.20888675"
    chosen = section.select("table.chosen-caches tbody tr")
    assert len(chosen) == 1
    assert text(chosen[0].th).startswith('first content part "hours, rights audit')
    assert [c["data-usd"] for c in chosen[0].find_all("td")[1:]] == [
        "4.768875", "2.7956205", "0.0105975", "1.831248", "1.9732545",
    ]  # fmt: skip
    rows = section.select("table.cache-candidates tbody tr[data-candidate]")
    assert [r["data-candidate"] for r in rows] == [
        "leading_parts-1", "system-1", "system-2", "system-3", "leading_parts-2",
    ]  # fmt: skip
    first = [c.get_text() for c in rows[0].find_all("td")]
    # one precision per column: the no-cache column also holds $0.0058, so it shows four decimals
    assert first == ["900", "8,478", "$4.7689", "$2.80", "$1.97", "435 requests", "about 4.2 days", "$3.815"]
    assert "pays" in rows[0]["class"] and "pays" not in rows[1].get("class", [])
    assert [c.get_text() for c in rows[1].find_all("td")][3:5] == ["n/a", "n/a"]  # below the minimum size
    assert [c.get_text() for c in rows[4].find_all("td")][3:5] == ["$0.78", "-$0.71"]  # costs more than it saves
    assert "below the 2,048-token minimum" in text(rows[1].find_next_sibling("tr"))
    assert "Implicit caching could save up to $3.87" in text(section)


def test_caching_that_does_not_pay(full_plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(full_plan)
    plan["caching"].update(pays=False, recommendation=None, batch_cached=None, summary="caching does not pay here: x")
    del plan["cost"]["batch_cached"]
    soup = soup_of(plan)
    assert text(soup.select_one("#caching .callout")) == "No cache recommended. Caching does not pay here: x."
    assert soup.select_one("#caching table.chosen-caches") is None
    assert "Batch + cache" not in [text(t.select_one(".label")) for t in soup.select(".figure")]


def test_validation_section(full_soup: BeautifulSoup) -> None:
    counts = {text(r.th): text(r.td) for r in full_soup.select("#validation table.problem-counts tbody tr")}
    assert counts == {"contents-missing": "1", "not-json": "1", "request-missing": "1"}
    lines = [r.find_all("td")[1].get_text() for r in full_soup.select("#validation table.problems tbody tr")]
    assert lines == ["1,233", "1,234", "1,235"]
    assert "callout bad" in str(full_soup.select_one("#validation .callout"))


def test_prices_link_their_source_with_checked_date(full_soup: BeautifulSoup) -> None:
    plan = load("full")
    rows = full_soup.select("#prices tbody tr")
    # text and image input share a rate, so they share a row; every rate used is on the page
    shown = {
        (c[0], c[1], m, c[3], c[4])
        for c in ([td.get_text() for td in r.find_all("td")] for r in rows)
        for m in c[2].replace("-", "").split(", ")
    }
    assert shown == {
        (p["mode"], p["component"], p["modality"], p["tier"], rate(p["usd_per_mtok"])) for p in plan["prices"]
    }
    assert len(rows) == 8
    for row in rows:
        link = row.select_one("td.source a")
        assert link["href"] == "https://ai.google.dev/gemini-api/docs/pricing#gemini-2.5-pro"
        assert row.select_one("td.date").get_text() == "2026-10-14"
    assert [r.find_all("td")[4].get_text() for r in rows[:4]] == ["$1.25", "$10.00", "$2.50", "$15.00"]


def test_assumptions_name_the_output_source_and_warnings(full_soup: BeautifulSoup) -> None:
    plan = load("full")
    items = [text(li) for li in full_soup.select("#assumptions ul.warnings li")]
    assert items[0] == "Output expectation: --output-tokens 300 per request: billed output, thinking included."
    assert items[1:] == [" ".join(w.replace("`", "").split()) for w in plan["warnings"]]
    # a backticked command in a warning is shown as code
    assert full_soup.select_one("#assumptions ul.warnings code").get_text() == "batchcost validate"


def test_provenance(full_soup: BeautifulSoup) -> None:
    plan = load("full")
    cells = [c.get_text() for c in full_soup.select("#provenance tbody td")]
    assert cells == [
        "contracts.jsonl",
        "48.19 MB (48,189,666 bytes)",
        "1,235",
        "1,232",
        "developer",
        plan["files"][0]["sha256"],
    ]
    assert "batchcost 0.1.0" in text(full_soup.select_one(".colophon"))
    assert full_soup.select_one('meta[name="generator"]')["content"] == "batchcost 0.1.0"


# -- charts ---------------------------------------------------------------------------------------


def test_charts_are_inline_svg_with_unique_ids(full_soup: BeautifulSoup) -> None:
    svgs = full_soup.select("svg.chart")
    assert [s.find_parent("figure")["id"] for s in svgs] == ["chart-modes", "chart-histogram", "chart-cumulative"]
    ids = [el["id"] for el in full_soup.find_all(id=True)]
    assert len(ids) == len(set(ids)), "duplicate ids across the page"
    for svg in svgs:
        assert svg["role"] == "img" and svg.get("aria-label")
        assert svg.get("viewbox") or svg.get("viewBox")
        assert len(svg.find_all("path")) > 10 and len(svg.find_all("text")) > 5
        for ref in re.findall(r"url\(#([^)]+)\)", str(svg)):
            assert svg.find(id=ref) is not None, f"dangling reference #{ref}"


def test_chart_labels_show_the_figures(full_soup: BeautifulSoup) -> None:
    labels = {
        name: [t.get_text() for t in full_soup.select(f"#chart-{name} svg text")]
        for name in ("modes", "histogram", "cumulative")
    }
    assert {"$14.36", "$7.18", "$5.21"} <= set(labels["modes"])
    assert {"standard (sync)", "batch", "batch + cache"} <= set(labels["modes"])
    assert "200k prompt tier: higher rates to the right " in labels["histogram"]
    bar_labels = [int(t.replace(",", "")) for t in labels["histogram"] if re.fullmatch(r"[\d,]+", t)]
    counts = [c for c in load("full")["tokens"]["distribution"]["counts"] if c]
    assert sum(counts) == 1232 and set(counts) <= set(bar_labels)
    assert "$7.18" in labels["cumulative"] and {"wave 1", "wave 2"} <= set(labels["cumulative"])


def test_no_tier_line_when_no_request_reaches_it(small_plan: dict[str, Any]) -> None:
    soup = soup_of(small_plan)
    labels = [t.get_text() for t in soup.select("#chart-histogram svg text")]
    assert labels and not any("200k" in t for t in labels)
    assert soup.select_one("#chart-cumulative") is None  # no shard plan, no cumulative chart


def test_chart_functions_on_edge_inputs() -> None:
    assert charts.token_histogram([], [], tier=True) is None
    assert charts.token_histogram([0, 1, 2], [0, 0], tier=True) is None
    assert charts.cost_by_mode([], axis_label="x") is None
    assert charts.cumulative_cost([], []) is None
    svg = charts.cumulative_cost([Decimal("0.5")] * 80, [1] * 40 + [2] * 40)
    assert svg is not None and svg.count("<circle") == 0 and "$40.00" in svg  # no markers past 60 shards


def test_inline_svg_refuses_active_content() -> None:
    bad = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><script>alert(1)</script></svg>'
    with pytest.raises(BatchcostError, match="active SVG content"):
        charts._inline(bad, "x", "label")


# -- safety, self-containment, determinism --------------------------------------------------------


def test_xss_probe_stays_text_everywhere() -> None:
    plan = xss_plan()
    html = render_html(plan)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find_all("script") == []
    assert soup.find_all("img") == []
    assert "<script>" not in html and "<img" not in html
    for el in soup.find_all(True):
        assert not any(a.lower().startswith("on") for a in el.attrs), el.name
    page = soup.get_text()
    assert page.count(XSS) >= 12
    assert "javascript:alert(4)" in page
    assert not soup.select('a[href^="javascript"]')
    assert soup.select_one("#headline").get_text().startswith(f"Batch on gemini-2.5-pro{XSS}:")
    assert f'" onmouseover="alert(3){XSS}' in [r["data-model"] for r in soup.select("#compare tbody tr")]
    # a backticked span in a message is escaped too
    message = soup.select("#validation table.problems tbody tr")[0].find_all("td")[4]
    assert message.code.get_text() == XSS


def test_page_is_self_contained(full_html: str, full_soup: BeautifulSoup) -> None:
    assert full_soup.find_all(["script", "link", "img", "iframe", "object", "embed"]) == []
    assert not re.search(r"@import|url\((?!#)", full_html), "CSS or SVG that would fetch something"
    assert not full_soup.find_all(src=True)
    for a in full_soup.find_all("a"):
        assert a["href"].startswith(("#", "https://")), a["href"]
    csp = full_soup.select_one('meta[http-equiv="Content-Security-Policy"]')["content"]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_render_is_deterministic_and_dated_only_by_the_plan(full_html: str) -> None:
    plan = load("full")
    assert render_html(plan) == full_html
    dates = set(re.findall(r"\b20\d\d-\d\d-\d\d\b", full_html))
    assert dates <= set(re.findall(r"\b20\d\d-\d\d-\d\d\b", json.dumps(plan)))
    assert not re.search(r"\d\d:\d\d:\d\d", full_html)


def test_template_environment_is_strict_and_escapes() -> None:
    from jinja2 import UndefinedError

    env = _environment()
    assert env.from_string("{{ x }}").render(x="<b>&") == "&lt;b&gt;&amp;"
    ctx = build_context(load("small"))
    with pytest.raises(UndefinedError):
        env.from_string("{{ r.no_such_field }}").render(r=ctx)


def test_context_is_typed(small_plan: dict[str, Any]) -> None:
    ctx = build_context(small_plan)
    assert isinstance(ctx, ReportContext)
    assert ctx.shards is None and ctx.caching is None
    assert [row.mode for row in ctx.cost_rows] == ["standard", "batch"]
    assert ctx.compare is not None
    assert [(c.model, c.mode) for c in ctx.compare.rows] == [
        ("gemini-2.5-flash", "batch"), ("gemini-3.8-flash", "batch"), ("gemini-2.5-flash", "standard"),
        ("gemini-3.8-flash", "standard"),
    ]  # fmt: skip


def test_optional_sections_are_skipped_when_absent(small_plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(small_plan)
    plan["compare"] = []
    soup = soup_of(plan)
    for section in ("compare", "shards", "caching"):
        assert soup.select_one(f"#{section}") is None
        assert soup.select_one(f'nav a[href="#{section}"]') is None
    assert soup.select_one("#cost") is not None and soup.select_one("#prices") is not None


def test_unpriced_batch_and_unknown_output(small_plan: dict[str, Any]) -> None:
    plan = copy.deepcopy(small_plan)
    plan["cost"]["batch"] = {"not_priced": "no batch rate for this model in the price book"}
    plan["savings"] = {}
    plan["tokens"]["output"].update(expected=None, low=None, high=None, source=None)
    for c in plan["cost"].values():
        if "not_priced" not in c:
            c.update(expected=None, low=None, high=None)
    soup = soup_of(plan)
    assert text(soup.select_one("#headline")) == "Batch on gemini-2.5-flash: not priced; valid"
    assert "tone-warn" in soup.select_one("header.top")["class"]
    row = soup.select_one('#cost tr[data-mode="batch"] td.not-priced')
    assert text(row) == "not priced: no batch rate for this model in the price book"
    assert text(soup.select_one("#output-expected")) == "unknown"
    assert "Output expectation unknown" in text(soup.select_one("#assumptions"))
    # the chart falls back to the input-only floor
    assert "no output expectation was given" in text(soup.select_one("#chart-modes figcaption"))
    assert "$0.0000087" not in str(soup) and "<$0.0001" in [t.get_text() for t in soup.select("#chart-modes text")]


def test_not_a_plan_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="schema 'x'"):
        check_plan({"schema": "x"})
    with pytest.raises(PlanError, match="lacks tokens"):
        check_plan({**{k: v for k, v in load("small").items() if k != "tokens"}})
    (tmp_path / "bad.json").write_text('{"schema": "batchcost.plan/1",\n oops}')
    with pytest.raises(InputError, match=r"bad\.json: line 2, column 2: not valid JSON"):
        read_plan(tmp_path / "bad.json")
    with pytest.raises(InputError, match="no such file"):
        read_plan(tmp_path / "missing.json")


# -- writing, and the `report` command ------------------------------------------------------------


def test_write_report_is_atomic_and_picks_the_format(tmp_path: Path, small_plan: dict[str, Any]) -> None:
    write_report(small_plan, tmp_path / "plan.html")
    write_report(small_plan, tmp_path / "plan.md")
    write_report(small_plan, tmp_path / "plan.txt")
    assert (tmp_path / "plan.html").read_text(encoding="utf-8") == render_html(small_plan)
    assert (tmp_path / "plan.md").read_text(encoding="utf-8") == render_plan_markdown(small_plan)
    assert (tmp_path / "plan.txt").read_text(encoding="utf-8").startswith(headline(small_plan) + "\n")
    assert (tmp_path / "plan.html").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.html", "plan.md", "plan.txt"]
    with pytest.raises(OutputError, match="does not exist"):
        write_report(small_plan, tmp_path / "no" / "plan.html")


def test_write_report_leaves_the_old_file_when_rendering_fails(tmp_path: Path) -> None:
    target = tmp_path / "plan.html"
    target.write_text("old")
    with pytest.raises(PlanError):
        write_report({"schema": "batchcost.plan/1"}, target)
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_report_command(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(load("full")), encoding="utf-8")
    code, out, err = cli("report", str(plan_path), "-o", str(tmp_path / "plan.html"))
    assert (code, out) == (0, "") and err.startswith(f"wrote {tmp_path / 'plan.html'} (") and err.count("\n") == 1
    assert (tmp_path / "plan.html").read_text(encoding="utf-8") == render_html(load("full"))
    code, out, _ = cli("report", str(plan_path), "--format", "markdown")
    assert code == 0 and out == render_plan_markdown(load("full"))
    code, out, _ = cli("report", str(plan_path), "-o", str(tmp_path / "plan.md"))
    assert code == 0 and (tmp_path / "plan.md").read_text(encoding="utf-8") == render_plan_markdown(load("full"))
    code, out, err = cli("report", str(tmp_path / "missing.json"))
    assert code == 2 and out == "" and "no such file" in err and err.count("\n") == 1
    code, _, err = cli("report", "--help")
    assert code == 0


def test_real_estimate_renders(tmp_path: Path) -> None:
    """The live Plan.to_json() (not only the fixtures) renders: guards the contract between the two."""
    import datetime

    from batchcost.planner.estimate import estimate

    path = tmp_path / "a.jsonl"
    lines = [{"key": f"k{i}", "request": {"contents": [{"parts": [{"text": "Hello " * (i + 1)}]}]}} for i in range(20)]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{broken\n")
    doc = estimate(path, model="gemini-2.5-flash", run_date=datetime.date(2026, 11, 27), offline=True, output_tokens=50)
    doc = doc.to_json()
    soup = soup_of(doc)
    assert text(soup.select_one("#headline")) == headline(doc)
    assert soup.select_one('#cost tr[data-mode="batch"] td.key')["data-usd"] == doc["cost"]["batch"]["expected"]
    assert [text(r.th) for r in soup.select("#validation table.problem-counts tbody tr")] == ["not-json"]


# -- Markdown -------------------------------------------------------------------------------------


def test_markdown_escapes_user_strings() -> None:
    md = render_plan_markdown(xss_plan())
    # outside code spans (which every Markdown renderer shows literally) no "<" is left unescaped
    outside = re.sub(r"(`+).+?\1", "", md)
    tags = set(re.findall(r"(?<!\\)<(/?[A-Za-z]+)", outside))
    assert tags == {"details", "summary", "/summary", "/details", "https"}  # ours, and price-source autolinks
    assert outside.count(r"\<script\>") >= 5
    assert md_text(XSS) == r"\<script\>alert(1)\</script\>"
    assert md_code("a`b") == "``a`b``" and md_code("`x") == "`` `x ``"
    assert "| 1 | 1 | 1-350 | 350 | 5,564,674 | 865,736 | $1.23 |" in md  # the table was not broken by any cell


def test_markdown_golden() -> None:
    for name in ("full", "small"):
        md = render_plan_markdown(load(name))
        golden = GOLDEN / f"plan_{name}.md"
        if UPDATE:
            golden.write_text(md, encoding="utf-8")
        assert md == golden.read_text(encoding="utf-8"), f"{golden} differs; BATCHCOST_UPDATE_GOLDEN=1 rewrites it"


def test_html_golden_without_chart_bodies(full_html: str) -> None:
    """The page's markup is pinned; chart SVGs (matplotlib's own output) are checked by the chart tests."""
    page = re.sub(r"<svg class=\"chart\".*?</svg>", "<svg/>", full_html, flags=re.S)
    golden = GOLDEN / "plan_full.html"
    if UPDATE:
        golden.write_text(page, encoding="utf-8")
    assert page == golden.read_text(encoding="utf-8"), f"{golden} differs; BATCHCOST_UPDATE_GOLDEN=1 rewrites it"


def test_the_fix_step_counts_lines_and_errors_apart() -> None:
    from batchcost.planner.estimate import EstimateOptions, estimate

    examples = Path(__file__).resolve().parents[2] / "examples"
    plan = estimate([examples / "broken_requests.jsonl"], model="gemini-2.5-flash",
                    options=EstimateOptions(offline=True)).to_json()  # fmt: skip
    assert (plan["validation"]["errors"], plan["files"][0]["lines"] - plan["requests"]) == (5, 4)
    text = " ".join(BeautifulSoup(render_html(plan), "html.parser").get_text().split())
    assert "4 lines fail validation (5 errors): the API rejects them" in text
