"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

The page is opened from disk with every non-file request aborted and counted. It must render
without console errors, show its three charts with real content, make no request, run no
script (the XSS probe stays text), and print to PDF.

Plans of 1, 26 and 300 waves are laid out at a laptop's width (1280 px) and a phone's (400 px):
the page never scrolls sideways, the wave labels of the cumulative chart never overlap, its axis
has whole-shard ticks, the next steps show this plan's commands, the comparison is ranked by cost
and no absolute local path appears. Screenshots are saved in the test's temporary folder (or in
``$BATCHCOST_SCREENSHOTS`` when set) for a person to look at.
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchcost.reports.html import write_report
from batchcost.reports.html.sections_next import shard_command

from .conftest import XSS, load, xss_plan

CHROMIUM = "/usr/bin/chromium"
PROBE = "<img src=x onerror=alert(5)>"
# This machine's closed network makes Chromium hang on Google hosts unless its background
# services are off; QUIC and the GPU are not needed for a static page.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason=f"Chromium is not installed at {CHROMIUM} (Debian package `chromium`; .ci/run installs it)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Visit:
    """One page load with the network blocked; records what the page tried to do."""

    def __init__(self, browser: Any, path: Path, width: int = 1280) -> None:
        self.blocked: list[str] = []
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []
        self.context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=True)
        page = self.context.new_page()
        page.route("**/*", self._route)
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("dialog", self._dialog)
        page.goto(path.as_uri(), wait_until="load")
        self.page = page

    def _route(self, route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        self.context.close()


def test_report_renders_offline_without_errors_or_scripts(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    plan = xss_plan()
    # a file name cannot hold "/", so the probe in the shown name is one without it
    plan["files"][0]["path"] = f"/home/ana/{PROBE}.jsonl"
    plan["validation"]["problems"][0]["path"] = f"/home/ana/{PROBE}.jsonl"
    write_report(plan, path)
    visit = Visit(browser, path)
    try:
        page = visit.page
        assert visit.console_errors == [] and visit.page_errors == []
        assert visit.dialogs == [], "a script ran"
        assert visit.blocked == [], "the page tried to fetch something"
        assert visit.requests == [path.as_uri()]
        assert page.locator("script").count() == 0
        assert page.evaluate("document.scripts.length") == 0

        # the probe is on screen as text, in the headline and in tables
        headline = page.locator("#headline").inner_text()
        assert headline.startswith(f"Batch on gemini-2.5-pro{XSS}: $7.18")
        assert page.locator("td.path", has_text=PROBE).count() >= 2
        assert "/home/ana" not in page.content()

        # three charts, laid out at a readable size, with drawn marks and labels
        charts = page.evaluate(
            """() => [...document.querySelectorAll('svg.chart')].map(svg => {
                const box = svg.getBoundingClientRect();
                const marks = [...svg.querySelectorAll('path')].filter(p => {
                    const b = p.getBBox(); return b.width > 0 && b.height > 0;
                }).length;
                return {name: svg.closest('figure').id, width: box.width, height: box.height, marks,
                        labels: svg.querySelectorAll('text').length};
            })"""
        )
        assert [c["name"] for c in charts] == ["chart-modes", "chart-histogram", "chart-cumulative"]
        for c in charts:
            assert c["width"] >= 600 and c["height"] >= 120, c
            assert c["marks"] >= 5 and c["labels"] >= 5, c
        # the histogram draws one bar per non-empty size band, plus the tier line
        bars = page.evaluate(
            """() => [...document.querySelectorAll('#chart-histogram svg g[id^="histogram-patch_"] path')]
                  .filter(p => p.getBBox().height > 0.5).length"""
        )
        assert bars >= 10

        # the figures the page shows are the plan's
        plan = load("full")
        batch = page.locator('#cost tr[data-mode="batch"] td.key')
        assert batch.get_attribute("data-usd") == plan["cost"]["batch"]["expected"]
        assert batch.inner_text() == "$7.18"

        screenshot = tmp_path / "report.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 50_000
        assert page.evaluate("document.documentElement.scrollHeight") > 2000

        page.emulate_media(media="print")
        assert page.locator("nav.toc").is_hidden()  # print styles apply
        pdf = tmp_path / "report.pdf"
        page.pdf(path=str(pdf), format="A4")
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.read_bytes().count(b"/Type /Page") >= 3
    finally:
        visit.close()
    assert visit.blocked == [] and visit.console_errors == []


def test_the_network_check_catches_a_fetch(browser: Any, tmp_path: Path) -> None:
    """Control: the same harness does see a page that fetches (so the check above can fail)."""
    path = tmp_path / "fetches.html"
    path.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    visit = Visit(browser, path)
    try:
        assert visit.blocked == ["http://127.0.0.1:9/x.png"]
    finally:
        visit.close()


def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: ``$BATCHCOST_SCREENSHOTS`` to keep them, else the test's temporary folder."""
    folder = Path(os.environ.get("BATCHCOST_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


_BOXES = """(selector) => [...document.querySelectorAll(selector)].map(e => {
    const b = e.getBoundingClientRect();
    return {text: e.textContent.trim(), left: b.left, right: b.right, top: b.top, bottom: b.bottom};
})"""


def overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of boxes that overlap (touching edges do not count)."""
    out = []
    for k, a in enumerate(boxes):
        for b in boxes[k + 1 :]:
            if a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]:
                out.append((a["text"], b["text"]))
    return out


@pytest.mark.parametrize("width", [1280, 400])
@pytest.mark.parametrize("name", ["waves_1", "waves_26", "waves_300"])
def test_plans_of_1_26_and_300_waves_read_well(browser: Any, tmp_path: Path, name: str, width: int) -> None:
    plan = copy.deepcopy(load(name))
    path = tmp_path / f"{name}.html"
    write_report(plan, path)
    visit = Visit(browser, path, width)
    try:
        page = visit.page
        assert visit.console_errors == [] and visit.blocked == []
        # the page never scrolls sideways: wide tables, code and charts scroll inside themselves
        assert page.evaluate("document.documentElement.scrollWidth") <= width

        # wave labels: thinned, never on top of each other or of the total; the shard axis in whole shards
        labels = page.evaluate(_BOXES, "#chart-cumulative svg text")
        waves = [b for b in labels if b["text"].startswith("wave ")]
        n_waves = plan["shards"]["totals"]["waves"]
        assert overlapping(labels) == []
        assert waves and waves[0]["text"] == "wave 1" and len(waves) <= 12
        ticks = [t["text"] for t in page.evaluate(_BOXES, '#chart-cumulative g[id^="cumulative-xtick_"] text')]
        assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks), ticks
        assert all(1 <= int(t) <= plan["shards"]["totals"]["shards"] for t in ticks)
        numbers = [int(w["text"].split()[1]) for w in waves]  # wave 1, then every step-th wave
        assert all(k <= n_waves for k in numbers)
        rest = numbers[1:]
        if len(rest) >= 2:
            step = rest[1] - rest[0]
            assert rest[0] % step == 0 and all(b - a == step for a, b in itertools.pairwise(rest)), numbers

        # the next steps carry this plan's shard command
        command = page.locator("#next-steps li.step", has_text="Write the shards").locator("pre.code code")
        shown = command.inner_text()
        assert shard_command(plan) in shown
        assert shown.startswith(("batchcost shard ", "# tier"))

        # the comparison is ranked by cost
        costs = page.eval_on_selector_all(
            "#compare tbody td.key[data-usd]", "cells => cells.map(c => Number(c.dataset.usd))"
        )
        assert costs == sorted(costs) and len(costs) >= 3

        # no absolute local path anywhere in the page
        html = page.content()
        assert "/home/" not in html and "/root/" not in html

        shot = screenshots(tmp_path) / f"{name}_{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 30_000
    finally:
        visit.close()
