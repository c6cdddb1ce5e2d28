"""Embedding batches end to end: validate, estimate (input only, per modality), caching, reconcile."""

from __future__ import annotations

import base64
import datetime
import io
import json
import wave
from decimal import Decimal
from pathlib import Path

import pytest

from batchcost import estimate
from batchcost.afterjob.reconcile import reconcile
from batchcost.batchfile import scan
from batchcost.errors import InputError, PricingError

DAY = datetime.date(2026, 12, 4)


def _png(width: int, height: int) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _wav(seconds: float, rate: int = 8000) -> str:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(rate * seconds))
    return base64.b64encode(buf.getvalue()).decode()


def _write(path: Path, requests: list[dict]) -> Path:
    path.write_text("".join(json.dumps({"key": f"k{i}", "request": r}) + "\n" for i, r in enumerate(requests)))
    return path


def _embed(parts: list[dict], model: str = "models/gemini-embedding-2", **extra: object) -> dict:
    return {"model": model, "content": {"parts": parts}, **extra}


@pytest.fixture
def media_file(tmp_path: Path) -> Path:
    """One image (1,120 tokens by the Gemini 3 rules) and 2 s of audio (32 tokens/s = 64): no text."""
    return _write(
        tmp_path / "embed.jsonl",
        [
            _embed([{"inlineData": {"mimeType": "image/png", "data": _png(300, 200)}}]),
            _embed([{"inlineData": {"mimeType": "audio/wav", "data": _wav(2.0)}}]),
        ],
    )


def test_an_embedding_batch_is_priced_per_input_modality_with_no_output(media_file: Path) -> None:
    plan = estimate(media_file, run_date=DAY, tokenizer="heuristic")
    assert plan.tokens.by_modality["image"].expected == 1120
    assert plan.tokens.by_modality["audio"].expected == 64
    batch = plan.cost.modes["batch"]
    # batch: 1,120 x $0.225 + 64 x $3.25 per 1M tokens = $0.000252 + $0.000208
    assert batch.floor == batch.expected == batch.ceiling == Decimal("0.00046")
    # standard: 1,120 x $0.45 + 64 x $6.50 per 1M tokens
    assert plan.cost.modes["standard"].expected == Decimal("0.00092")
    assert plan.cost.output.expected == plan.cost.output.ceiling == 0
    assert any("no output cost" in n for n in plan.tokenizer_notes)
    assert not any("expected output is unknown" in w for w in plan.warnings)
    assert plan.caching is not None and plan.caching.reason_codes == ("embedding",)
    assert "no cachedContent field" in (plan.caching.reason or "")
    assert plan.shard_plan is not None and len(plan.shard_plan.shards) == 1


def test_reconcile_counts_embedding_results_from_the_input_file(media_file: Path, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    results.write_text(
        "".join(
            json.dumps({"key": f"k{i}", "response": {"embedding": {"values": [0.1, 0.2]}}}) + "\n" for i in range(2)
        )
    )
    with pytest.raises(InputError, match="--requests FILE"):
        reconcile(results, model="gemini-embedding-2", run_date=DAY)
    rec = reconcile(results, model="gemini-embedding-2", run_date=DAY, requests=[media_file])
    assert rec.actual.total == Decimal("0.00046")  # the same tokens as the estimate: 1,120 image + 64 audio
    assert rec.actual.by_component["output"] == 0
    assert any("carry no usageMetadata" in n for n in rec.notes)


def test_embedding_requests_are_checked_by_their_own_rules(tmp_path: Path) -> None:
    text = [{"text": "a product description"}]
    path = _write(
        tmp_path / "bad.jsonl",
        [
            _embed(text, model="models/gemini-embedding-001", taskType="SUMMARIZE"),
            _embed(text, model="models/gemini-embedding-001", title="Doc", taskType="RETRIEVAL_QUERY"),
            _embed(text, model="models/gemini-embedding-001", outputDimensionality=4096),
            _embed(
                [{"inlineData": {"mimeType": "image/png", "data": _png(10, 10)}}], model="models/gemini-embedding-001"
            ),
            _embed([{"inlineData": {"mimeType": "image/png", "data": _png(10, 10)}}] * 7, model="gemini-embedding-2"),
            _embed(text, model="models/gemini-embedding-001", title="Doc", taskType="RETRIEVAL_DOCUMENT"),
        ],
    )
    result = scan(path)
    found = {(p.line, p.code) for p in result.problems}
    assert (1, "bad-value") in found  # unknown task type
    assert (2, "bad-value") in found  # title without RETRIEVAL_DOCUMENT
    assert (3, "bad-value") in found  # 4,096 dimensions: embedding-001 takes 128 to 3,072
    assert (4, "embed-media") in found  # embedding-001 is text only
    assert (5, "embed-limit") in found  # 7 images: embedding-2 takes 6 (a warning)
    assert not any(line == 6 for line, _ in found)
    messages = " ".join(p.message for p in result.problems)
    assert "from 128 to 3,072 for gemini-embedding-001" in messages


def test_output_dimensionality_is_read_as_proto3_json_reads_an_integer(tmp_path: Path) -> None:
    text = [{"text": "a product description"}]
    given = [768, "768", " 768 ", 768.0, "4096", True, "768.5", 768.5, "many"]
    path = _write(
        tmp_path / "dims.jsonl",
        [_embed(text, model="models/gemini-embedding-001", outputDimensionality=d) for d in given],
    )
    bad = {p.line for p in scan(path).problems if p.code == "bad-value"}
    assert bad == {5, 6, 7, 8, 9}  # quoted and whole-float values are integers; 4,096 is over 3,072


def test_a_file_mixing_embedding_and_generation_requests_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "mixed.jsonl",
        [_embed([{"text": "a"}]), _embed([{"text": "b"}]), {"contents": [{"parts": [{"text": "c"}]}]}],
    )
    result = scan(path)
    assert [(p.line, p.code) for p in result.problems if p.code == "mixed-kinds"] == [(3, "mixed-kinds")]


def test_the_model_must_match_the_kind_of_request(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [_embed([{"text": "hello"}], model="gemini-embedding-001")])
    with pytest.raises(PricingError, match=r"the file holds 1 embedding request \(content"):
        estimate(path, model="gemini-2.5-flash-lite", run_date=DAY, tokenizer="heuristic")
    with pytest.raises(PricingError, match="only be compared with embedding models"):
        estimate(path, run_date=DAY, tokenizer="heuristic", compare=["gemini-2.5-flash-lite"])
    with pytest.raises(
        PricingError,
        match=r"^gemini-embedding-001 embeds and the other model generates: an embedding batch can only be compared "
        r"with embedding models$",
    ):  # refused before the scan when the model is given
        estimate(path, model="gemini-embedding-001", run_date=DAY, compare=["gemini-2.5-flash-lite"])
    plan = estimate(path, run_date=DAY, tokenizer="heuristic", compare=["gemini-embedding-2"])
    assert [c.model for c in plan.compared] == ["gemini-embedding-2"]


def test_requests_over_the_models_input_limit_are_warned(tmp_path: Path) -> None:
    long_text = "word " * 4000  # well over embedding-001's 2,048 input tokens
    path = _write(tmp_path / "long.jsonl", [_embed([{"text": long_text}], model="gemini-embedding-001")])
    plan = estimate(path, run_date=DAY, tokenizer="heuristic")
    assert any("input limit of 2,048 tokens per request" in w for w in plan.warnings)
