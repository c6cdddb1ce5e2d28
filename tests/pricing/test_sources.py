"""Every price, limit and rule names a source a user can check: a title, its URL where it has one, a date."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from batchcost.pricing import PriceBook, Source
from batchcost.pricing.overlay import load_packaged_overlay
from tests.pricing.helpers import d, packaged_book, write

# The documents Google publishes, as the reference facts list them: a title a user recognises -> URL.
GOOGLE_PAGES = {
    "Gemini API pricing page": "https://ai.google.dev/gemini-api/docs/pricing",
    "Gemini batch mode documentation": "https://ai.google.dev/gemini-api/docs/batch-api",
    "Gemini API rate limits page": "https://ai.google.dev/gemini-api/docs/rate-limits",
    "Gemini API context caching documentation": "https://ai.google.dev/gemini-api/docs/generate-content/caching",
    "Gemini 3 developer guide": "https://ai.google.dev/gemini-api/docs/gemini-3",
    "Gemini API optimization guide": "https://ai.google.dev/gemini-api/docs/optimization",
    "Gemini API deprecations page": "https://ai.google.dev/gemini-api/docs/deprecations",
    "Gemini API models page": "https://ai.google.dev/gemini-api/docs/models",
    "Vertex AI batch inference documentation": (
        "https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/capabilities/batch-inference"
    ),
}
# Documents the facts give no URL for: third-party pages and copies, and Vertex pages cited by name.
WITHOUT_URL = (
    "Vertex AI Gemini",
    "OpenRouter rates listed in genai-prices",
    "Gemini API release notes, as quoted by third parties",
    "Gemini Files API documentation, as quoted by third parties",
    "LiteLLM discussion",
    "Go test fixture quoting the Gemini API pricing page",
    "vtcode-llm and muapi",
)
DATES = [d("2026-08-01"), d("2026-11-27"), d("2026-12-04"), d("2027-01-02")]


def _check(source: Source, where: str) -> None:
    assert source.title.strip(), f"{where}: no title"
    assert isinstance(source.checked, datetime.date) and source.checked > d("2025-01-01"), f"{where}: no date"
    for title, url in GOOGLE_PAGES.items():
        if source.title == title:
            assert source.url == url, f"{where}: {source.title} without its URL {url}"
        elif source.title.startswith(f"{title} ("):  # an older version or a copy of the page
            assert source.url is not None and source.url.startswith("https://"), f"{where}: {source.title} no URL"
    if source.title.startswith("genai-prices"):
        assert source.url is not None and source.url.startswith(GOOGLE_PAGES["Gemini API pricing page"]), where
    if source.url is None:
        third_party = re.search(r"third[- ]part", source.title) is not None
        assert third_party or source.title.startswith(WITHOUT_URL), f"{where}: {source.title!r} has no URL"


def test_every_rate_row_of_the_bundled_book_names_title_date_and_url() -> None:
    book = packaged_book()
    seen = 0
    for day in DATES:
        for row in book.rows(day):
            if row.usd is None:
                continue  # a shut-down or unpriced model: the row says why, it prices nothing
            where = f"{day} {row.model} {row.mode} {row.component} {row.modality}"
            assert row.sources, f"{where}: no source"
            assert row.checked is not None and row.source == "; ".join(str(s) for s in row.sources)
            assert row.as_dict()["source"] == row.source and row.sources_json()[0]["title"] == row.sources[0].title
            for source in row.sources:
                _check(source, where)
                seen += 1
    assert seen > 500


def test_every_limit_rule_and_model_fact_names_its_source() -> None:
    book = packaged_book()
    limits = book.limits()
    for name, prov in limits.provenance.items():
        assert prov.sources, name
        for source in prov.sources:
            _check(source, f"limits.{name}")
    overlay = load_packaged_overlay()
    for rule in overlay.rules.values():
        for source in rule.provenance.sources:
            _check(source, f"rules.{rule.id}")
    for model in book.models():
        info = book.model_info(model, d("2026-11-27"))
        for source in info.provenance.sources:
            _check(source, f"models.{model}")
    # a model's enqueued-token quota cites the rate limits page alone, not every source of the model
    quota = book.model_info("gemini-2.5-pro").provenance_of("enqueued_tokens")
    assert quota.cite() == "Gemini API rate limits page, 2026-11-27"
    assert len(book.model_info("gemini-2.5-pro").provenance.sources) == 4


def test_source_forms() -> None:
    doc = Source("Gemini API optimization guide", "https://ai.google.dev/gemini-api/docs/optimization", d("2026-11-27"))
    assert str(doc) == (
        "Gemini API optimization guide (https://ai.google.dev/gemini-api/docs/optimization), checked 2026-11-27"
    )
    assert doc.short() == "Gemini API optimization guide, 2026-11-27"
    quoted = Source("Gemini batch mode documentation", None, d("2026-11-27"), "target turnaround time is 24 hours")
    assert str(quoted) == 'Gemini batch mode documentation, checked 2026-11-27: "target turnaround time is 24 hours"'
    assert quoted.to_json() == {
        "title": "Gemini batch mode documentation",
        "url": None,
        "checked": "2026-11-27",
        "quote": "target turnaround time is 24 hours",
    }


def test_registry_titles_and_urls() -> None:
    registry = packaged_book().sources()
    for source in registry.values():
        for title, url in GOOGLE_PAGES.items():
            if source.title == title:
                assert source.url == url
    assert {s.title for s in registry.values()} >= set(GOOGLE_PAGES)


def test_user_file_sources(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mine.yaml",
        """\
        models:
          gemini-2.5-flash-lite:
            prices:
              - mode: batch
                input: {all: "0.04"}
                source: "negotiated rate card https://example.com/rates.pdf"
                checked: 2026-11-20
              - mode: standard
                output: "0.30"
                source: [pricing-page, {title: "email from our account manager", quote: "0.30 from December"}]
                checked: 2026-11-21
        """,
    )
    book = PriceBook.load(path)
    batch = book.rates("gemini-2.5-flash-lite", "batch", d("2026-11-27")).input["text"].provenance
    assert batch.sources == (Source("negotiated rate card", "https://example.com/rates.pdf", d("2026-11-20")),)
    standard = book.rates("gemini-2.5-flash-lite", "standard", d("2026-11-27")).output
    assert standard is not None
    assert (
        standard.provenance.cite() == "Gemini API pricing page, 2026-11-21; email from our account manager, 2026-11-21"
    )


@pytest.mark.parametrize("mode", ["batch", "flex", "priority"])
def test_derived_rates_cite_the_rule_and_the_standard_rate(mode: str) -> None:
    rates = packaged_book().rates("gemini-3.8-flash", mode, d("2026-11-27"))
    if mode == "batch":
        assert not rates.input["text"].provenance.derived  # genai-prices lists batch rates for 3.8 Flash
        return
    prov = rates.input["text"].provenance
    assert prov.derived and "Gemini API optimization guide" in prov.cite()
    assert prov.note.endswith("the standard rate (genai-prices 0.2.3, 2026-10-14)")
