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
    floor = plan.cost.modes["batch"].floor  # input only
    # batch: 4,667 image tokens x $30 per 1M = $0.14001; standard at $60 = $0.28002
    assert plan.cost.modes["batch"].expected - floor == Decimal("0.14001")
    assert plan.cost.modes["standard"].expected - plan.cost.modes["standard"].floor == Decimal("0.28002")
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
