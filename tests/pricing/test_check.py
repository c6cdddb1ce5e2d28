"""``prices --check``: the book against LiteLLM's and genai-prices' JSON datasets (planted disagreements)."""

from __future__ import annotations

import datetime
import io
import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from batchcost.errors import InputError, PricingError
from batchcost.pricing import PriceBook
from batchcost.pricing.check import check_prices

DATA = Path(__file__).parent / "data"
DAY = datetime.date(2026, 12, 4)
BUILT = datetime.datetime(2026, 11, 20, 12, tzinfo=datetime.UTC).timestamp()


@pytest.fixture
def litellm(tmp_path: Path) -> Path:
    path = tmp_path / "model_prices_and_context_window.json"
    shutil.copy(DATA / "litellm_prices.json", path)
    os.utime(path, (BUILT, BUILT))
    return path


def test_litellm_dataset_disagreements_are_listed_with_both_sources(litellm: Path) -> None:
    found = check_prices(PriceBook.load(), litellm, DAY)
    assert found.dataset_format == "litellm"
    # 2.5 Flash-Lite: 6 rates (input text/audio, output, cache read; batch input, output); 3.8 Flash: 5;
    # embedding-001: 1 (its output 0 is not compared: the book has no output for an embedding model)
    assert (found.models_compared, found.compared) == (3, 12)
    [planted, unknown] = found.disagreements
    assert (planted.model, planted.mode, planted.component) == ("gemini-3.8-flash", "batch", "output")
    assert (planted.ours, planted.theirs) == (Decimal("1.875"), Decimal("2"))
    assert planted.describe() == (
        "gemini-3.8-flash batch output: batchcost 1.875 (genai-prices 0.2.3, 2026-10-14) vs 2 "
        "(LiteLLM dataset model_prices_and_context_window.json, 2026-11-20) per 1M tokens"
    )
    assert unknown.model == "gemini-9-imaginary" and unknown.ours is None


def test_genai_prices_dataset_uses_the_dated_prices_and_the_batch_variant(tmp_path: Path) -> None:
    found = check_prices(PriceBook.load(), DATA / "genai_prices.json", DAY, built="2026-11-20")
    assert found.dataset_format == "genai-prices"
    [planted] = found.disagreements  # the 2026-01-01 text price 0.25 is superseded on 2026-06-01
    assert (planted.model, planted.mode, planted.component, planted.modality) == (
        "gemini-embedding-2",
        "batch",
        "input",
        "image",
    )
    assert (planted.ours, planted.theirs) == (Decimal("0.225"), Decimal("0.3"))


def test_cli_check_exits_1_on_a_disagreement_and_writes_json(litellm: Path, tmp_path: Path) -> None:
    from batchcost.cli.prices import run

    class Args:
        model = ()
        run_date = DAY
        prices = ()
        check = str(litellm)
        format = "json"
        output = None
        quiet = True

    out, err = io.StringIO(), io.StringIO()
    assert run(Args(), out, err) == 1
    doc = json.loads(out.getvalue())
    assert doc["rates_compared"] == 12
    assert doc["disagreements"][0]["batchcost_usd_per_mtok"] == "1.875"
    assert doc["disagreements"][0]["other_usd_per_mtok"] == "2"


def test_a_file_in_neither_format_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("[1, 2")
    with pytest.raises(InputError, match="is not JSON"):
        check_prices(PriceBook.load(), bad, DAY)


def test_models_of_every_output_kind_are_in_the_book(tmp_path: Path) -> None:
    """A LiteLLM-format fixture naming image, speech, Live, video, robotics, deep-research and
    computer-use models (its rates are those of the book's own sources, so nothing disagrees): the
    book knows all but the computer-use preview, for which no source gives a price, and compares the
    image-output rates of an image model (LiteLLM's output_cost_per_image_token) in both modes."""
    found = check_prices(PriceBook.load(), DATA / "litellm_output_models.json", DAY, built="2026-11-20")
    [missing] = found.disagreements
    assert missing.model == "gemini-2.5-computer-use-preview-10-2025" and missing.ours is None
    # robotics ER 2: input and output; 3 Pro Image: input, output and image output, standard and batch;
    # 2.5 Flash TTS: input and output (the Live, video, image and deep-research models are known but not
    # priced: batch mode cannot run them, or a figure their price needs is not published)
    assert (found.models_compared, found.compared) == (9, 10)
    book = PriceBook.load()
    for unpriced, why in [
        ("deep-research-preview-04-2026", "only available through the Interactions API"),
        ("gemini-3.8-live", "Live API model"),
        ("gemini-2.5-flash-native-audio-latest", "Live API model"),
        ("gemini-omni-flash-preview", "how many tokens a second of video is"),
        ("gemini-nano-banana-2.1", "how many tokens one image is"),
    ]:
        with pytest.raises(PricingError, match=why):
            book.rates(unpriced, "batch", DAY)
    robotics = book.rates("gemini-robotics-er-2-preview", "batch", DAY)
    assert (robotics.input["text"].usd_per_mtok, robotics.output.usd_per_mtok) == (Decimal("0.5"), Decimal("2.5"))
    assert any("Whether batch mode runs gemini-robotics-er-2-preview is not documented" in w for w in robotics.warnings)
