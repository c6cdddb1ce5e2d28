"""The price book: hand-computed cases for rates, routing, dates, overrides and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from batchcost.errors import PricingError, UnknownModelError, UnpricedError
from batchcost.pricing import MODALITIES, PriceBook, gp, price_tokens
from tests.pricing.helpers import d, mtok, packaged_book, write

NOV27 = d("2026-11-27")


@pytest.fixture
def book() -> PriceBook:
    return packaged_book()


def text_only(prompt: list[int]) -> dict[str, list[int]]:
    return {"text": prompt}


# ---------------------------------------------------------------- plain cases


def test_plain_batch_on_25_flash_lite(book: PriceBook) -> None:
    rates = book.rates("gemini-2.5-flash-lite", "batch", NOV27)
    assert rates.model == "gemini-2.5-flash-lite"
    assert rates.tier_threshold is None and rates.input_above is None
    assert rates.input["text"].usd_per_mtok == Decimal("0.05")
    assert rates.input["audio"].usd_per_mtok == Decimal("0.15")
    assert rates.output is not None and rates.output.usd_per_mtok == Decimal("0.2")
    # batch context caching is "same as standard" for 2.5 models
    assert rates.cache_read is not None and rates.cache_read["text"].usd_per_mtok == Decimal("0.01")
    prov = rates.input["text"].provenance
    assert prov.source == "genai-prices 0.2.3 (https://ai.google.dev/gemini-api/docs/pricing), checked 2026-10-14"
    assert [(s.title, s.url, s.checked) for s in prov.sources] == [
        ("genai-prices 0.2.3", "https://ai.google.dev/gemini-api/docs/pricing", d("2026-10-14"))
    ]
    assert prov.cite() == "genai-prices 0.2.3, 2026-10-14"
    assert prov.checked == d("2026-10-14") and not prov.derived and not prov.overridden

    cost = price_tokens(
        rates, prompt_tokens=[1_000, 2_500], input_by_modality=text_only([1_000, 2_500]), output_tokens=[200, 800]
    )
    assert cost.by_component["input"] == mtok("0.05", 3_500)
    assert cost.by_component["output"] == mtok("0.20", 1_000)
    assert cost.total == Decimal("0.000375")
    assert cost.requests == 2 and cost.requests_above_threshold == 0


def test_25_pro_whole_request_switches_tier_at_200001(book: PriceBook) -> None:
    rates = book.rates("gemini-2.5-pro", "batch", NOV27)
    assert rates.tier_threshold == 200_000
    assert any("cached tokens included" in n and "not documented" in n for n in rates.notes)
    # request 0: exactly 200,000 prompt tokens (50,000 cached) -> base tier
    # request 1: 200,001 prompt tokens -> all its input, cached input and output at >200k rates
    cost = price_tokens(
        rates,
        prompt_tokens=[200_000, 200_001],
        input_by_modality={"text": [150_000, 150_001]},
        cached_tokens=[50_000, 50_000],
        output_tokens=[1_000, 1_000],
    )
    low = mtok("0.625", 150_000) + mtok("0.125", 50_000) + mtok("5", 1_000)
    high = mtok("1.25", 150_001) + mtok("0.25", 50_000) + mtok("7.5", 1_000)
    assert cost.total == low + high
    assert cost.by_component["input"] == mtok("0.625", 150_000) + mtok("1.25", 150_001)
    assert cost.by_component["cached_input"] == mtok("0.125", 50_000) + mtok("0.25", 50_000)
    assert cost.by_component["output"] == mtok("5", 1_000) + mtok("7.5", 1_000)
    assert cost.requests_above_threshold == 1


def test_standard_25_pro_tier(book: PriceBook) -> None:
    rates = book.rates("gemini-2.5-pro", "standard", NOV27)
    cost = price_tokens(rates, prompt_tokens=[300_000], input_by_modality=text_only([300_000]), output_tokens=[2_000])
    assert cost.total == mtok("2.5", 300_000) + mtok("15", 2_000)


def test_audio_part_on_25_flash_uses_audio_rate(book: PriceBook) -> None:
    rates = book.rates("gemini-2.5-flash", "batch", NOV27)
    cost = price_tokens(
        rates,
        prompt_tokens=[4_200],
        input_by_modality={"text": [1_000], "audio": [3_200]},  # 100 s of audio at 32 tokens/s
        output_tokens=[500],
    )
    assert cost.input_by_modality["audio"] == mtok("0.5", 3_200)
    assert cost.input_by_modality["text"] == mtok("0.15", 1_000)
    assert cost.total == mtok("0.15", 1_000) + mtok("0.5", 3_200) + mtok("1.25", 500)
    standard = book.rates("gemini-2.5-flash", "standard", NOV27)
    assert standard.input["audio"].usd_per_mtok == Decimal("1")
    assert standard.cache_read is not None and standard.cache_read["audio"].usd_per_mtok == Decimal("0.1")


# ---------------------------------------------------------------- routing and dates


def test_25_flash_after_dec_1_is_billed_as_35_flash_lite(book: PriceBook) -> None:
    before = book.rates("gemini-2.5-flash", "batch", d("2026-11-30"))
    after = book.rates("gemini-2.5-flash", "batch", d("2026-12-01"))
    assert before.model == "gemini-2.5-flash"
    assert after.model == "gemini-3.5-flash-lite" and after.requested_model == "gemini-2.5-flash"
    assert after.warnings == (
        "gemini-2.5-flash is routed to gemini-3.5-flash-lite from 2026-12-01 and billed at its rates "
        "(Gemini API deprecations page, 2026-11-27): choose gemini-3.5-flash-lite explicitly to silence this",
    )
    assert not any("routed" in n for n in (*before.notes, *before.warnings))
    # 3.5 Flash-Lite has one input rate for every modality; batch cache reads are $0.02 (Batch tab)
    assert {after.input[m].usd_per_mtok for m in MODALITIES} == {Decimal("0.15")}
    assert after.cache_read is not None and after.cache_read["text"].usd_per_mtok == Decimal("0.02")
    cost = price_tokens(
        after, prompt_tokens=[4_200], input_by_modality={"text": [1_000], "audio": [3_200]}, output_tokens=[500]
    )
    assert cost.total == mtok("0.15", 4_200) + mtok("1.25", 500)


def test_25_pro_after_dec_1_is_billed_as_38_flash(book: PriceBook) -> None:
    rates = book.rates("gemini-2.5-pro", "batch", d("2026-12-05"))
    assert rates.model == "gemini-3.8-flash"
    assert rates.tier_threshold is None
    assert rates.input["text"].usd_per_mtok == Decimal("0.375")
    assert any("routed to gemini-3.8-flash" in w and "choose gemini-3.8-flash" in w for w in rates.warnings)
    assert not any("routed to" in n for n in rates.notes)
    # whether routing applies to batch is an assumption: a note, the same for every mode
    assert any("routed as standard ones are" in n for n in rates.notes)
    routing = {
        (m, book.rates("gemini-2.5-pro", m, d("2026-12-05")).warnings)
        for m in book.modes("gemini-2.5-pro", d("2026-12-05"))
    }
    assert len({w for _, w in routing}) == 1 and len(routing) == 4


def test_38_flash_before_and_after_new_year(book: PriceBook) -> None:
    intro = book.rates("gemini-3.8-flash", "batch", d("2026-12-31"))
    full = book.rates("gemini-3.8-flash", "batch", d("2027-01-01"))
    assert (intro.input["text"].usd_per_mtok, intro.output.usd_per_mtok) == (Decimal("0.375"), Decimal("1.875"))
    assert (full.input["text"].usd_per_mtok, full.output.usd_per_mtok) == (Decimal("0.75"), Decimal("3.75"))
    assert intro.cache_read["text"].usd_per_mtok == Decimal("0.0375")
    assert full.cache_read["text"].usd_per_mtok == Decimal("0.075")
    assert intro.cache_storage.usd_per_mtok == Decimal("0.50")
    assert full.cache_storage.usd_per_mtok == Decimal("1.00")
    for rates in (intro, full):
        # sources disagree on batch cache reads: said where a cache is priced, not as a warning
        assert any("The newer per-model price list is used" in n for n in rates.cache_notes)
        assert not any("per-model price list" in n for n in (*rates.notes, *rates.warnings))
    tokens = {"prompt_tokens": [10_000], "input_by_modality": text_only([10_000]), "output_tokens": [2_000]}
    assert price_tokens(intro, **tokens).total == mtok("0.375", 10_000) + mtok("1.875", 2_000)
    assert price_tokens(full, **tokens).total == mtok("0.75", 10_000) + mtok("3.75", 2_000)


def test_argon_before_and_after_dec_1(book: PriceBook) -> None:
    launch = book.rates("gemini-4-argon", "standard", d("2026-11-30"))
    doubled = book.rates("gemini-4-argon", "standard", d("2026-12-01"))
    assert (launch.input["text"].usd_per_mtok, launch.output.usd_per_mtok) == (Decimal("2"), Decimal("10"))
    assert (doubled.input["text"].usd_per_mtok, doubled.output.usd_per_mtok) == (Decimal("4"), Decimal("20"))
    batch_launch = book.rates("gemini-4-argon", "batch", d("2026-11-30"))
    batch_doubled = book.rates("gemini-4-argon", "batch", d("2026-12-01"))
    assert batch_launch.cache_read["text"].usd_per_mtok == Decimal("0.05")
    assert batch_doubled.cache_read["text"].usd_per_mtok == Decimal("0.1")
    assert batch_doubled.output.usd_per_mtok == Decimal("10")
    assert doubled.cache_storage is None  # explicit caching unsupported
    info = book.model_info("gemini-4-argon", d("2026-12-01"))
    assert info.explicit_cache is False and info.cache_storage_per_mtok_hour is None
    assert info.output_limit == 32_768


def test_events_between_warns_about_straddling_a_change(book: PriceBook) -> None:
    events = book.events_between("gemini-2.5-pro", d("2026-11-30"), d("2026-12-02"), mode="batch")
    assert "2026-12-01: billed as gemini-3.8-flash instead of gemini-2.5-pro" in events
    every_mode = book.events_between("gemini-2.5-pro", d("2026-11-30"), d("2026-12-02"))
    assert sum("billed as gemini-3.8-flash instead" in e for e in every_mode) == 1
    assert any("$0.625 -> $0.375" in e for e in events)
    assert "UNKNOWN" in events[-1] and "48 h" in events[-1] and "submit after" in events[-1]
    argon = book.events_between("gemini-4-argon", d("2026-11-29"), d("2026-12-01"), mode="batch")
    assert argon[0] == (
        "2026-12-01: gemini-4-argon batch rates change per 1M tokens: input $1.00 -> $2.00; "
        "cached input $0.05 -> $0.10; output $5.00 -> $10.00"
    )
    assert book.events_between("gemini-3.8-flash", NOV27, d("2026-11-29")) == []
    # a change on the run date itself is already in its prices
    assert book.events_between("gemini-4-argon", d("2026-12-01"), d("2026-12-03"), mode="batch") == []


def test_35_flash_routing_unknown_billing_is_priced_high_with_assumption(book: PriceBook) -> None:
    rates = book.rates("gemini-3.5-flash", "standard", NOV27)
    target = book.rates("gemini-3.6-flash", "standard", NOV27)
    assert rates.model == "gemini-3.5-flash"
    assert any("served by gemini-3.6-flash" in w and "choose gemini-3.6-flash" in w for w in rates.warnings)
    assert any("Google does not say at which rates" in n and "errs high" in n for n in rates.notes)
    for component in ("input", "output"):
        mine = rates.input["text"] if component == "input" else rates.output
        theirs = target.input["text"] if component == "input" else target.output
        assert mine.usd_per_mtok >= theirs.usd_per_mtok
    later = book.rates("gemini-3.6-flash", "standard", d("2027-01-01"))
    assert book.rates("gemini-3.5-flash", "standard", d("2027-01-01")).output.usd_per_mtok >= later.output.usd_per_mtok


def test_37_flash_routed_to_38_and_derived_before(book: PriceBook) -> None:
    before = book.rates("gemini-3.7-flash", "batch", d("2026-09-01"))
    assert before.model == "gemini-3.7-flash"
    assert before.input["text"].usd_per_mtok == Decimal("0.375") and before.input["text"].provenance.derived
    assert before.cache_read["text"].usd_per_mtok == Decimal("0.075")  # not published -> standard rate
    routed = book.rates("gemini-3.7-flash", "batch", d("2026-10-08"))
    # routed on 2026-10-08, but genai-prices' 3.8 Flash batch rows start on 2026-10-14
    assert routed.model == "gemini-3.8-flash" and routed.input["text"].provenance.derived
    after = book.rates("gemini-3.7-flash", "batch", d("2026-10-14"))
    assert after.model == "gemini-3.8-flash" and not after.input["text"].provenance.derived
    assert after.cache_read["text"].usd_per_mtok == Decimal("0.0375")


def test_36_flash_launch_price_from_overlay(book: PriceBook) -> None:
    launch = book.rates("gemini-3.6-flash", "standard", d("2026-08-12"))
    cut = book.rates("gemini-3.6-flash", "standard", d("2026-08-13"))
    assert launch.output.usd_per_mtok == Decimal("7.50") and "simstudio" in launch.output.provenance.source
    assert cut.output.usd_per_mtok == Decimal("3.75")


def test_alias_and_prefix_resolution(book: PriceBook) -> None:
    rates = book.rates("gemini-flash-latest", "batch", NOV27)
    assert rates.model == "gemini-3.8-flash" and rates.requested_model == "gemini-flash-latest"
    assert any("alias of gemini-3.8-flash (as of 2026-11-27" in n for n in rates.notes)
    assert book.resolve("models/Gemini-2.5-Flash")[0] == "gemini-2.5-flash"
    assert book.aliases() == {
        "gemini-2.5-flash-native-audio-latest": "gemini-live-2.5-flash",
        "gemini-3.1-flash-lite-preview": "gemini-3.1-flash-lite",
        "gemini-embedding-2-preview": "gemini-embedding-2",
        "gemini-flash-latest": "gemini-3.8-flash",
        "gemini-flash-lite-latest": "gemini-3.5-flash-lite",
        "gemini-pro-latest": "gemini-3.1-pro-preview",
    }
    assert book.model_info("gemini-pro-latest").tokenizer == "gemma4"
    preview = book.rates("gemini-3.1-flash-lite-preview", "batch", NOV27)
    assert preview.model == "gemini-3.1-flash-lite" and preview.input["text"].usd_per_mtok == Decimal("0.125")
    assert any("it is priced at gemini-3.1-flash-lite rates" in n for n in preview.notes)


# ---------------------------------------------------------------- derived, unknown, errors


def test_derived_batch_rate_is_flagged_and_explained(book: PriceBook) -> None:
    rates = book.rates("gemini-embedding-001", "batch", NOV27)
    rate = rates.input["text"]
    assert rate.usd_per_mtok == Decimal("0.075")
    assert rate.provenance.derived and rate.provenance.note.startswith("0.5 x the standard rate (genai-prices")
    assert rate.provenance.source.startswith(
        "Gemini batch mode documentation (https://ai.google.dev/gemini-api/docs/batch-api), checked 2026-11-27"
    )
    assert rates.output is None and rates.cache_read is None
    assert rates.notes[0].startswith(
        "Batch input rates for gemini-embedding-001 are assumed to be half the standard ones "
        "(Gemini batch mode documentation, 2026-11-27); cache hits are priced the same as outside batch"
    )
    assert rates.warnings == ()
    standard = book.rates("gemini-embedding-001", "standard", NOV27)
    assert not standard.input["text"].provenance.derived
    flash = book.rates("gemini-3.5-flash", "batch", NOV27)
    assert flash.input["text"].usd_per_mtok == Decimal("0.75") and flash.input["text"].provenance.derived
    assert flash.output.usd_per_mtok == Decimal("4.5")


def test_genai_prices_batch_history_gap_is_derived_with_note(book: PriceBook) -> None:
    rates = book.rates("gemini-2.5-pro", "batch", d("2026-09-01"))
    assert rates.input["text"].usd_per_mtok == Decimal("0.625") and rates.input["text"].provenance.derived
    assert any("only from 2026-10-14" in n for n in rates.notes)


def test_shut_down_model_raises_and_names_successor(book: PriceBook) -> None:
    with pytest.raises(PricingError, match=r"shut down on 2026-06-01.*gemini-3\.1-flash-lite") as info:
        book.rates("gemini-2.0-flash-lite", "batch", d("2026-07-01"))
    assert not isinstance(info.value, UnpricedError)
    with pytest.raises(PricingError, match=r"gemini-3-pro-preview was shut down on 2026-03-09.*3\.1-pro-preview"):
        book.rates("gemini-3-pro-preview", "standard", NOV27)
    before = book.rates("gemini-2.0-flash", "batch", d("2026-05-31"))
    assert before.input["text"].usd_per_mtok == Decimal("0.05") and before.input["audio"].provenance.derived
    assert before.input["audio"].usd_per_mtok == Decimal("0.35")
    assert book.modes("gemini-2.0-flash", d("2026-06-01")) == []


def test_carbon_is_known_but_unpriced(book: PriceBook) -> None:
    with pytest.raises(UnpricedError, match="gemini-4-carbon is not priced"):
        book.rates("gemini-4-carbon", "batch", NOV27)
    info = book.model_info("gemini-4-carbon")
    assert info.priced is False and info.enqueued_token_limits == {1: None, 2: None, 3: None}
    rows = book.rows(NOV27, ["gemini-4-carbon"])
    assert len(rows) == 1 and rows[0].usd is None and "not priced" in rows[0].note


def test_unknown_model_suggests(book: PriceBook) -> None:
    with pytest.raises(UnknownModelError) as info:
        book.rates("gemini-2.5-flsh", "batch", NOV27)
    assert info.value.suggestions[0] == "gemini-2.5-flash"
    assert "did you mean" in str(info.value)
    with pytest.raises(UnknownModelError) as dated:
        book.model_info("gemini-3.8-flash-preview-09-2026")
    assert "gemini-3.8-flash" in dated.value.suggestions


def test_model_kind_is_model_info_kind_without_reading_prices(book: PriceBook) -> None:
    """The check an estimate makes before its scan (are the models all embedding or all generating?)
    reads no price, so genai-prices' 16 MB is not in the scan's forked workers."""
    import subprocess
    import sys

    for model in book.models():
        assert book.model_kind(model) == book.model_info(model).kind, model
    assert book.model_kind("models/gemini-2.5-flash") == "generate"
    with pytest.raises(UnknownModelError) as info:
        book.model_kind("gemini-2.5-flsh")
    assert info.value.suggestions[0] == "gemini-2.5-flash"
    probe = (
        "import sys; from batchcost.pricing.book import PriceBook; "
        "PriceBook.load(None).model_kind('gemini-2.5-flash'); print('genai_prices' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_earliest_shutdown_date_is_a_warning_not_an_error(book: PriceBook) -> None:
    assert not any("may be shut down" in n for n in book.rates("gemini-3.1-flash-lite", "batch", NOV27).warnings)
    late = book.rates("gemini-3.1-flash-lite", "batch", d("2027-05-07"))
    assert any("may be shut down on 2027-05-07" in w and "choose another model" in w for w in late.warnings)
    events = book.events_between("gemini-3.1-flash-lite", d("2027-05-06"), d("2027-05-08"), mode="batch")
    assert events[0].startswith("2027-05-07: earliest possible shutdown date of gemini-3.1-flash-lite")


def test_unknown_mode(book: PriceBook) -> None:
    with pytest.raises(PricingError, match="unknown pricing mode 'overnight'"):
        book.rates("gemini-3.8-flash", "overnight", NOV27)


def test_modes(book: PriceBook) -> None:
    assert book.modes("gemini-3.8-flash", NOV27) == ["standard", "batch", "flex", "priority"]
    assert book.modes("gemini-2.5-flash-lite", NOV27) == ["standard", "batch"]
    assert book.modes("gemini-4-carbon", NOV27) == []
    flex = book.rates("gemini-3.8-flash", "flex", NOV27)
    priority = book.rates("gemini-3.8-flash", "priority", NOV27)
    assert flex.input["text"].usd_per_mtok == Decimal("0.375") and flex.input["text"].provenance.derived
    assert flex.cache_read["text"].usd_per_mtok == Decimal("0.075")  # flex cache rate not published -> standard
    assert priority.output.usd_per_mtok == Decimal("6.75")
    with pytest.raises(UnpricedError, match="no priority price"):
        book.rates("gemini-2.5-flash-lite", "priority", NOV27)


def test_gemini4_third_party_models(book: PriceBook) -> None:
    for model, std_in in (("gemini-4-hydrogen", "1.50"), ("gemini-4-neon", "3.00")):
        info = book.model_info(model)
        assert not info.in_genai_prices and info.explicit_cache is False
        rates = book.rates(model, "batch", NOV27)
        assert rates.input["text"].usd_per_mtok == Decimal(std_in) / 2
        assert any("third-party pages only" in w and "--prices FILE" in w for w in rates.warnings)
        assert any("TokenMeter" in n for n in rates.notes)
        std = book.rates(model, "standard", NOV27)
        assert "lower confidence" in std.input["text"].provenance.source


def test_model_info_facts(book: PriceBook) -> None:
    info = book.model_info("gemini-2.5-pro", NOV27)
    assert (info.input_limit, info.output_limit) == (1_048_576, 65_536)
    assert info.enqueued_token_limits == {1: 5_000_000, 2: 500_000_000, 3: 1_000_000_000}
    assert info.cache_storage_per_mtok_hour is not None
    assert info.cache_storage_per_mtok_hour.usd_per_mtok == Decimal("4.50")
    assert info.cache_storage_per_mtok_hour.provenance.derived
    assert info.tokenizer == "gemma3" and info.status == "deprecated"
    assert info.grounding is not None and info.grounding.usd_per_1k == Decimal("35")
    assert info.grounding.unit == "grounded prompt"
    assert [(e.date, e.kind) for e in info.events] == [(d("2026-12-01"), "access"), (d("2026-12-01"), "routing")]
    assert book.model_info("gemini-3.7-flash").enqueued_token_limits[2] is None
    thinking = book.model_info("gemini-4-argon").thinking
    assert thinking is not None and thinking.default_level == "MEDIUM" and thinking.budget_supported is False
    assert book.model_info("gemini-3.1-pro-preview").cache_storage_per_mtok_hour.provenance.derived is False


def test_limits(book: PriceBook) -> None:
    limits = book.limits()
    assert limits.batch_file_bytes == 2_000_000_000 and limits.concurrent_jobs == 100
    assert limits.file_storage_bytes == 20_000_000_000
    assert limits.spend_cap_10min_usd == {1: Decimal("10"), 2: Decimal("50"), 3: Decimal("200")}
    assert limits.spend_cap_monthly_usd[3] == Decimal("20000")
    assert (limits.vertex_file_bytes, limits.vertex_requests_per_job, limits.vertex_queue_hours) == (
        1_000_000_000,
        200_000,
        72,
    )
    assert limits.provenance["concurrent_jobs"].source == (
        "Gemini API rate limits page (https://ai.google.dev/gemini-api/docs/rate-limits), checked 2026-11-27"
    )
    assert str(limits.provenance["expiry_hours"].sources[0]) == (
        "Gemini batch mode documentation (https://ai.google.dev/gemini-api/docs/batch-api), checked 2026-11-27: "
        '"running or pending for more than 48 hours"'
    )
    assert book.sources()["rate-limits"].url == "https://ai.google.dev/gemini-api/docs/rate-limits"
    assert "lower bound" in limits.notes["spend_cap_monthly_usd"]


def test_rows_flags_and_json(book: PriceBook) -> None:
    rows = book.rows(NOV27, ["gemini-embedding-001", "gemini-2.5-flash", "gemini-2.5-pro"])
    emb = [r for r in rows if r.model == "gemini-embedding-001"]
    assert [(r.mode, r.component, r.modality, r.usd, r.derived) for r in emb] == [
        ("standard", "input", "all", Decimal("0.15"), False),
        ("batch", "input", "all", Decimal("0.075"), True),
    ]
    flash_batch_in = [r for r in rows if r.model == "gemini-2.5-flash" and r.mode == "batch" and r.component == "input"]
    assert {(r.modality, r.usd) for r in flash_batch_in} == {
        ("text+image+video+document", Decimal("0.15")),
        ("audio", Decimal("0.5")),
    }
    pro_tiers = {r.tier for r in rows if r.model == "gemini-2.5-pro" and r.mode == "batch"}
    assert pro_tiers == {"<=200k", ">200k"}
    storage = [r for r in rows if r.component == "cache_storage" and r.model == "gemini-2.5-pro"]
    assert storage[0].usd == Decimal("4.50") and storage[0].unit == "USD/1M tokens/hour" and storage[0].derived
    assert json.loads(json.dumps([r.as_dict() for r in rows]))[0]["usd"] == "0.15"
    routed = book.rows(d("2026-12-02"), ["gemini-2.5-pro"])
    assert {r.billed_model for r in routed} == {"gemini-3.8-flash"}
    assert all(r.note.startswith("billed as gemini-3.8-flash") for r in routed if r.component == "input")


def test_every_book_model_has_all_modalities_when_priced(book: PriceBook) -> None:
    for model in book.models():
        for mode in book.modes(model, NOV27):
            rates = book.rates(model, mode, NOV27)
            assert set(rates.input) == set(MODALITIES)


# ---------------------------------------------------------------- overrides


def test_override_file_negotiated_rate_and_new_model(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "negotiated.yaml",
        """\
        models:
          gemini-2.5-flash-lite:
            prices:
              - mode: batch
                input: {all: "0.04"}
                source: "contract 2026-11 with Google Cloud"
                checked: 2026-11-20
          acme-tuned-flash:
            name: ACME tuned Flash
            input_limit: 1048576
            derive: {batch: batch-50}
            prices:
              - input: {all: "0.20", audio: "0.60"}
                cache_read: {all: "0.02"}
                output: "1.00"
        """,
    )
    book = PriceBook.load(path)
    rates = book.rates("gemini-2.5-flash-lite", "batch", NOV27)
    assert rates.input["text"].usd_per_mtok == Decimal("0.04")
    assert rates.input["text"].provenance.overridden
    assert rates.input["text"].provenance.source == "contract 2026-11 with Google Cloud, checked 2026-11-20"
    assert rates.output.usd_per_mtok == Decimal("0.2") and not rates.output.provenance.overridden
    # the packaged book is untouched
    assert packaged_book().rates("gemini-2.5-flash-lite", "batch", NOV27).input["text"].usd_per_mtok == Decimal("0.05")

    assert "acme-tuned-flash" in book.models()
    new = book.rates("acme-tuned-flash", "batch", NOV27)
    assert new.input["audio"].usd_per_mtok == Decimal("0.30")
    assert new.input["audio"].provenance.derived and new.input["audio"].provenance.overridden
    std = book.rates("acme-tuned-flash", "standard", NOV27)
    assert std.output.provenance.sources[0].title == f"--prices {path}"
    assert std.output.provenance.checked.year >= 2026
    cost = price_tokens(new, prompt_tokens=[1_000], input_by_modality=text_only([1_000]), output_tokens=[100])
    assert cost.total == mtok("0.10", 1_000) + mtok("0.50", 100)
    assert book.model_info("acme-tuned-flash").in_genai_prices is False
    rows = book.rows(NOV27, ["acme-tuned-flash"])
    assert all(r.overridden for r in rows if r.component in ("input", "output", "cache_read"))


def test_override_can_price_carbon_and_change_limits(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "carbon.yaml",
        """\
        limits:
          concurrent_jobs: {value: 200, source: "support ticket 123"}
        models:
          gemini-4-carbon:
            prices:
              - {mode: batch, input: "5.00", output: "25.00", source: "private preview agreement"}
        """,
    )
    book = PriceBook.load(path)
    rates = book.rates("gemini-4-carbon", "batch", NOV27)
    assert rates.output.usd_per_mtok == Decimal("25.00") and rates.cache_read is None
    with pytest.raises(UnpricedError, match="no standard price"):
        book.rates("gemini-4-carbon", "standard", NOV27)
    assert book.limits().concurrent_jobs == 200
    assert book.limits().provenance["concurrent_jobs"].overridden


def test_override_can_remove_routing(tmp_path: Path) -> None:
    path = write(tmp_path, "keep.yaml", "models:\n  gemini-2.5-pro:\n    routing: []\n")
    rates = PriceBook.load(path).rates("gemini-2.5-pro", "batch", d("2026-12-05"))
    assert rates.model == "gemini-2.5-pro" and rates.tier_threshold == 200_000


def test_genai_prices_version_mismatch_is_noted(monkeypatch: pytest.MonkeyPatch, book: PriceBook) -> None:
    monkeypatch.setattr(gp, "version", lambda: "9.9.9")
    rates = book.rates("gemini-3.8-flash", "batch", NOV27)
    assert any("genai-prices 9.9.9 is installed" in w and "genai-prices==0.2.3" in w for w in rates.warnings)


def test_genai_prices_is_imported_lazily() -> None:
    code = (
        "import sys, datetime\n"
        "from batchcost.pricing import PriceBook\n"
        "b = PriceBook.load()\n"
        "assert 'genai_prices' not in sys.modules, 'imported at load'\n"
        "b.rates('gemini-4-hydrogen', 'batch', datetime.date(2026, 11, 27))\n"
        "assert 'genai_prices' not in sys.modules, 'imported for a non-GP model'\n"
        "b.rates('gemini-3.8-flash', 'batch', datetime.date(2026, 11, 27))\n"
        "assert 'genai_prices' in sys.modules\n"
    )
    src = Path(__file__).resolve().parents[2] / "src"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env={"PYTHONPATH": str(src)}
    )
    assert result.returncode == 0, result.stderr


def test_unused_modalities_as_views_of_one_zero_price_as_zeros(book: PriceBook) -> None:
    import numpy as np

    from batchcost.heap import zeros_view

    rates = book.rates("gemini-2.5-pro", "batch", NOV27)
    prompt = np.array([1_000, 250_000], np.int64)
    views = {m: zeros_view(2) for m in MODALITIES if m != "text"}
    zeros = {m: np.zeros(2, np.int64) for m in MODALITIES if m != "text"}
    got = price_tokens(
        rates, prompt_tokens=prompt, input_by_modality={"text": prompt, **views}, output_tokens=zeros_view(2)
    )
    want = price_tokens(rates, prompt_tokens=prompt, input_by_modality={"text": prompt, **zeros}, output_tokens=[0, 0])
    assert got == want and got.total > 0
    with pytest.raises(ValueError, match="disagree"):  # the inputs are still checked against the prompt
        price_tokens(rates, prompt_tokens=prompt + 1, input_by_modality={"text": prompt, **views}, output_tokens=[0, 0])
