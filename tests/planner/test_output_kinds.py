"""Image and audio output batches, priced by hand: generated images at the image-output rate, speech as output."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from batchcost import estimate
from batchcost.afterjob.reconcile import reconcile
from batchcost.batchfile import scan
from batchcost.errors import PricingError, UnpricedError
from batchcost.pricing import PriceBook

DAY = datetime.date(2026, 12, 4)


def _write(path: Path, requests: list[dict]) -> Path:
    path.write_text("".join(json.dumps({"key": f"k{i}", "request": r}) + "\n" for i, r in enumerate(requests)))
    return path


def _ask(text: str, **config: object) -> dict:
    return {"contents": [{"parts": [{"text": text}]}], "generationConfig": {"maxOutputTokens": 100, **config}}


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "images.jsonl",
        [
            _ask("a red mug", responseModalities=["IMAGE"], imageConfig={"imageSize": "2K"}),  # 1 x 1,680
            _ask("a blue mug", responseModalities=["TEXT", "IMAGE"], candidateCount=2),  # 2 x 1,120 (1K default)
            _ask("describe a mug", responseModalities=["TEXT"]),  # no image
            _ask("a green mug", imageConfig={"imageSize": "512"}),  # default output holds an image: 747
        ],
    )


def test_an_image_generation_batch_prices_each_image_by_its_size(image_file: Path) -> None:
    plan = estimate(image_file, model="gemini-3.1-flash-image-preview", run_date=DAY, tokenizer="heuristic",
                    output_tokens=0)  # fmt: skip
    assert (plan.cost.output.images, plan.cost.output.image_tokens) == (4, 1680 + 2 * 1120 + 747)
    # batch: 4,667 image tokens x $30 per 1M = $0.14001; standard at $60 = $0.28002
    batch, standard = plan.cost.modes["batch"], plan.cost.modes["standard"]
    assert batch.expected - batch.by_component["input"]["expected"] == Decimal("0.14001")
    assert standard.expected - standard.by_component["input"]["expected"] == Decimal("0.28002")
    # the images are certain (the requests ask for them): the floor holds them too
    assert batch.floor == batch.expected and standard.floor == standard.expected  # no other output expected
    assert [(p.mode, p.usd_per_mtok) for p in plan.cost.prices if p.component == "output_image"] == [
        ("standard", Decimal("60")),
        ("batch", Decimal("30")),
    ]
    doc = plan.to_json()
    assert doc["tokens"]["output"]["images"] == 4 and doc["tokens"]["output"]["image_tokens"] == 4667
    assert any("747, 1K 1,120, 2K 1,680, 4K 2,520" in n for n in plan.tokenizer_notes)


def test_an_image_size_the_source_does_not_give_is_not_priced(tmp_path: Path) -> None:
    path = _write(tmp_path / "small.jsonl", [_ask("tiny", imageConfig={"imageSize": "512"})])
    with pytest.raises(UnpricedError, match="imageSize 512"):
        estimate(path, model="gemini-3-pro-image-preview", run_date=DAY, tokenizer="heuristic", output_tokens=0)


def test_a_bad_image_size_or_modality_is_a_validation_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bad.jsonl",
        [_ask("x", imageConfig={"imageSize": "8K"}), _ask("y", responseModalities=["PICTURE"])],
    )
    found = {(p.line, p.code) for p in scan(path).problems}
    assert {(1, "bad-value"), (2, "bad-value")} <= found


def test_reconcile_prices_generated_images_at_the_image_rate(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    lines = [
        {"key": "k0", "response": {"usageMetadata": {
            "promptTokenCount": 8, "candidatesTokenCount": 1680, "thoughtsTokenCount": 100,
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1680}]}}},
        {"key": "k1", "response": {"usageMetadata": {
            "promptTokenCount": 4, "candidatesTokenCount": 2250,
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 2240}, {"modality": "TEXT", "tokenCount": 10}]}}},
    ]  # fmt: skip
    results.write_text("".join(json.dumps(x) + "\n" for x in lines))
    rec = reconcile(results, model="gemini-3.1-flash-image-preview", run_date=DAY)
    # batch: input 12 x 0.25 + text 10 x 1.50 + thinking 100 x 1.50 + images 3,920 x 30, per 1M tokens
    assert rec.actual.detail["image_output"] == Decimal("0.1176")
    assert rec.actual.total == Decimal("0.117768")
    # the same results on a model without an image rate keep every answer token at the output rate
    plain = reconcile(results, model="gemini-3-flash-preview", run_date=DAY)
    assert "image_output" not in plain.actual.detail


@pytest.fixture
def speech_file(tmp_path: Path) -> Path:
    config = {
        "maxOutputTokens": 400,
        "responseModalities": ["AUDIO"],
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
    }
    return _write(tmp_path / "speech.jsonl", [_ask("Say: have a wonderful day", **config) for _ in range(3)])


def test_an_audio_output_batch_prices_speech_tokens_at_the_output_rate(speech_file: Path) -> None:
    # 5 s of speech per request at 32 audio tokens per second = 160 output tokens
    plan = estimate(speech_file, model="gemini-2.5-flash-preview-tts", run_date=DAY, tokenizer="heuristic",
                    output_tokens=5 * 32)  # fmt: skip
    batch = plan.cost.modes["batch"]
    # batch output: 3 x 160 tokens x $5.00 per 1M = $0.0024; the ceiling is 3 x 400 (maxOutputTokens)
    assert batch.expected - batch.floor == Decimal("0.0024")
    assert plan.cost.output.ceiling == 1200 and plan.cost.output.images is None
    assert plan.cost.modes["standard"].expected - plan.cost.modes["standard"].floor == Decimal("0.0048")
    assert any("32 tokens per second" in n for n in plan.tokenizer_notes)
    assert not plan.warnings or not any("thinking" in w for w in plan.warnings)


def test_tts_and_image_models_are_in_the_book_with_sources() -> None:
    book = PriceBook.load()
    rates = book.rates("gemini-3-pro-image-preview", "batch", DAY)
    assert rates.output_image is not None and rates.output_image.usd_per_mtok == Decimal("60")
    assert book.rates("gemini-2.5-pro-preview-tts", "batch", DAY).output.usd_per_mtok == Decimal("10")
    with pytest.raises(PricingError, match="tokens per image"):  # not published: never guessed
        book.rates("gemini-3.1-flash-lite-image", "batch", DAY)
    rows = [r for r in book.rows(DAY, ["gemini-3-pro-image-preview"]) if r.component == "output_image"]
    assert {(r.mode, r.usd) for r in rows} == {("standard", Decimal("120")), ("batch", Decimal("60"))}


def test_speech_seconds_are_turned_into_audio_tokens_and_given_back_in_seconds(speech_file: Path) -> None:
    # --output-audio-seconds 5: 5 s x 32 audio tokens per second (the stated assumption) = 160 tokens per
    # request, 3 requests = 480 output tokens; batch output $5.00 per 1M (standard $10.00, halved):
    # 480 x 5 / 1M = $0.0024. The ceiling is 3 x 400 (maxOutputTokens) = 1,200 tokens = 37.5 s.
    plan = estimate(speech_file, model="gemini-2.5-flash-preview-tts", run_date=DAY, tokenizer="heuristic",
                    output_audio_seconds=5)  # fmt: skip
    batch = plan.cost.modes["batch"]
    assert batch.expected - batch.floor == Decimal("0.0024")
    out = plan.to_json()["tokens"]["output"]
    assert (out["expected"], out["ceiling"]) == (480, 1200)
    assert out["audio_seconds"] == {"tokens_per_second": 32.0, "expected": 15.0, "low": 15.0, "high": 15.0,
                                    "ceiling": 37.5}  # fmt: skip
    assert out["source"] == "--output-audio-seconds 5 per request x 32 audio tokens per second = 160 output tokens"
    assert any("32 audio tokens per second, an assumption" in n for n in plan.tokenizer_notes)
    # the shards price the same 480 tokens (one shard: its expected cost is the batch figure)
    assert plan.shard_plan is not None and plan.shard_plan.shards[0].cost == batch.expected


def test_the_audio_tokens_per_second_assumption_can_be_overridden(speech_file: Path) -> None:
    # 5 s x 25 = 125 tokens per request, 375 in all: batch 375 x $5.00 / 1M = $0.001875; the ceiling
    # of 1,200 tokens is 48 s at 25 per second
    plan = estimate(speech_file, model="gemini-2.5-flash-preview-tts", run_date=DAY, tokenizer="heuristic",
                    output_audio_seconds=5, audio_tokens_per_second=25)  # fmt: skip
    batch = plan.cost.modes["batch"]
    assert batch.expected - batch.floor == Decimal("0.001875")
    audio = plan.to_json()["tokens"]["output"]["audio_seconds"]
    assert (audio["tokens_per_second"], audio["expected"], audio["ceiling"]) == (25.0, 15.0, 48.0)
    assert any("25 audio tokens per second (--audio-tokens-per-second" in n for n in plan.tokenizer_notes)


def test_a_speech_model_without_an_expectation_still_states_its_assumption(speech_file: Path) -> None:
    plan = estimate(speech_file, model="gemini-2.5-flash-preview-tts", run_date=DAY, tokenizer="heuristic")
    doc = plan.to_json()
    assert doc["tokens"]["output"]["audio_seconds"]["ceiling"] == 37.5
    assert doc["tokens"]["output"]["audio_seconds"]["expected"] is None
    assert any("--output-audio-seconds S" in w for w in plan.warnings)
    assert any("an assumption" in n for n in doc["notes"])


def test_speech_options_are_refused_for_a_model_that_does_not_speak(speech_file: Path) -> None:
    with pytest.raises(PricingError, match="does not answer with speech: --output-audio-seconds"):
        estimate(speech_file, model="gemini-3-flash-preview", run_date=DAY, tokenizer="heuristic",
                 output_audio_seconds=5)  # fmt: skip
    with pytest.raises(PricingError, match="not both"):
        estimate(speech_file, model="gemini-2.5-flash-preview-tts", run_date=DAY, tokenizer="heuristic",
                 output_audio_seconds=5, output_tokens=10)  # fmt: skip


def test_the_text_and_html_reports_say_seconds_of_speech_and_images(speech_file: Path, image_file: Path) -> None:
    from batchcost.reports.html import render_html
    from batchcost.reports.markdown import render_plan_markdown
    from batchcost.reports.plan_text import render_plan_screen
    from batchcost.reports.terminal import render_plan_text

    speech = estimate(speech_file, model="gemini-2.5-flash-preview-tts", run_date=DAY, tokenizer="heuristic",
                      output_audio_seconds=5).to_json()  # fmt: skip
    said = "speech: 15 s expected, ceiling 37.5 s, at 32 audio tokens per second"
    assert said in render_plan_screen(speech)
    assert said in render_html(speech)
    assert said in render_plan_markdown(speech) and said in render_plan_text(speech)
    images = estimate(image_file, model="gemini-3.1-flash-image-preview", run_date=DAY, tokenizer="heuristic",
                      output_tokens=0).to_json()  # fmt: skip
    assert "plus 4 images = 4,667 image tokens" in render_plan_screen(images)
    assert "plus 4 images = 4,667 image tokens" in render_html(images)


def test_shards_of_an_image_batch_carry_the_images(image_file: Path) -> None:
    plan = estimate(image_file, model="gemini-3.1-flash-image-preview", run_date=DAY, tokenizer="heuristic",
                    output_tokens=0)  # fmt: skip
    assert plan.shard_plan is not None
    # one shard: the images' $0.14001 (batch) is in its cost and ceiling as in the estimate's
    [shard] = plan.shard_plan.shards
    assert shard.cost == plan.cost.modes["batch"].expected
    assert shard.cost_ceiling == plan.cost.modes["batch"].ceiling


def test_reconcile_shows_generated_speech_at_the_output_rate(tmp_path: Path) -> None:
    results = tmp_path / "speech-results.jsonl"
    lines = [
        {"key": "k0", "response": {"usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 160,
            "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 160}]}}},
        {"key": "k1", "response": {"usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 320,
            "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 320}]}}},
    ]  # fmt: skip
    results.write_text("".join(json.dumps(x) + "\n" for x in lines))
    rec = reconcile(results, model="gemini-2.5-flash-preview-tts", run_date=DAY)
    # batch: input 22 x $0.25 per 1M = $0.0000055; speech 480 x $5.00 per 1M = $0.0024 (15 s at 32 per second)
    assert rec.actual.detail["audio_output"] == Decimal("0.0024")
    assert rec.actual.detail["candidates_output"] == 0
    assert rec.actual.total == Decimal("0.0024055")
    assert any("480 generated speech tokens" in n and "about 15 s" in n for n in rec.actual.notes)
    from batchcost.reports.reconcile import render_text

    assert "output (speech)" in render_text(rec.to_json(), verbose=True)


def test_the_command_line_takes_seconds_of_speech(speech_file: Path) -> None:
    import io

    from batchcost.cli import main

    base = ["estimate", str(speech_file), "--run-date", "2026-12-04", "--tokenizer", "heuristic", "--format", "json"]
    out, err = io.StringIO(), io.StringIO()
    argv = [
        *base,
        "-m",
        "gemini-2.5-flash-preview-tts",
        "--output-audio-seconds",
        "5",
        "--audio-tokens-per-second",
        "25",
    ]
    assert main(argv, stdout=out, stderr=err) == 0, err.getvalue()
    doc = json.loads(out.getvalue())
    assert doc["tokens"]["output"]["expected"] == 3 * 125  # 5 s x 25 per second, 3 requests
    assert doc["tokens"]["output"]["audio_seconds"]["expected"] == 15.0
    out, err = io.StringIO(), io.StringIO()
    assert main([*base, "-m", "gemini-3-flash-preview", "--output-audio-seconds", "5"], stdout=out, stderr=err) != 0
    assert "does not answer with speech" in err.getvalue() and "Traceback" not in err.getvalue()


def test_without_an_output_expectation_the_floor_still_holds_the_images(image_file: Path) -> None:
    from batchcost.reports.plan_text import render_plan_screen

    plan = estimate(image_file, model="gemini-3.1-flash-image-preview", run_date=DAY, tokenizer="heuristic")
    batch = plan.cost.modes["batch"]
    assert batch.expected is None
    # the input, plus the 4,667 image tokens the requests ask for at $30 per 1M ($0.14001)
    assert batch.floor - batch.by_component["input"]["expected"] == Decimal("0.14001")
    doc = plan.to_json()
    assert "(input and the 4 images asked for)" in render_plan_screen(doc, width=100)
    from batchcost.reports.html import write_report

    write_report(doc, str(image_file.parent / "plan.html"), format="html")
    html = (image_file.parent / "plan.html").read_text(encoding="utf-8")
    assert "Floor (input and the 4 images asked for)" in html and "Floor: input and the 4 images asked for." in html
    assert "input only" not in html
    assert doc["shards"]["totals"]["cost"] == str(batch.floor)  # the shards' floors hold them too
    table = plan.requests()
    assert abs(table["cost_batch_floor_usd"].sum() - float(batch.floor)) < 1e-9
    # each request asking for images carries them: the 2K one 1,680 tokens x $30/1M
    assert table["cost_batch_floor_usd"].iloc[0] - table["cost_batch_floor_usd"].iloc[2] > 1680 * 30e-6 - 1e-6


def test_the_screen_says_when_gemma_3_counts_stand_in_for_an_unknown_tokenizer(tmp_path: Path) -> None:
    from batchcost.reports.plan_text import render_plan_screen

    path = _write(tmp_path / "text.jsonl", [_ask("hello there")])
    known = estimate(path, model="gemini-2.5-flash", run_date=DAY, offline=True, output_tokens=10).to_json()
    newer = estimate(path, model="gemini-3.8-flash", run_date=DAY, offline=True, output_tokens=10).to_json()
    assert known["tokens"]["tokenizer_assumed"] is False and newer["tokens"]["tokenizer_assumed"] is True
    assert "exact (local tokenizer)" in render_plan_screen(known, width=100)
    assert "exact Gemma 3 count (the model's own tokenizer assumed, -v)" in render_plan_screen(newer, width=100)
    assert any("no public tokenizer is known for gemini-3.8-flash" in n for n in newer["notes"])
