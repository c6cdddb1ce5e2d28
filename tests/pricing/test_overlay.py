"""The packaged overlay file and the price-file format (validation on load)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from batchcost.errors import InputError, PricingError
from batchcost.pricing import PriceBook
from batchcost.pricing.overlay import (
    load_packaged_overlay,
    load_yaml_text,
    packaged_overlay_text,
    parse_overlay,
)
from tests.pricing.helpers import write

RATE_KEYS = {"input", "cache_read", "output", "usd_per_mtok_hour", "fee_per_1k", "factor"}


def _plain() -> Any:
    """The packaged file as plain PyYAML reads it (floats would show up as floats here)."""
    return yaml.safe_load(packaged_overlay_text())


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def _entries(raw: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every entry that must carry source + checked."""
    for name, rule in raw["rules"].items():
        yield f"rules.{name}", rule
    for name, alias in raw["aliases"].items():
        yield f"aliases.{name}", alias
    for name, limit in raw["limits"].items():
        yield f"limits.{name}", limit
    for model_id, model in raw["models"].items():
        yield f"models.{model_id}", model
        for key in ("prices", "cache_storage", "routing", "events"):
            for i, item in enumerate(model.get(key) or []):
                yield f"models.{model_id}.{key}[{i}]", item
        for key in ("shutdown", "grounding", "thinking"):
            if model.get(key):
                yield f"models.{model_id}.{key}", model[key]


def test_packaged_overlay_validates() -> None:
    overlay = load_packaged_overlay()
    assert overlay.genai_prices.version == "0.2.3"
    assert "gemini-3.8-flash" in overlay.models
    assert {"batch-50", "flex-50", "priority-180"} <= set(overlay.rules)


def test_every_entry_has_source_and_parseable_checked_date() -> None:
    raw = _plain()
    entries = list(_entries(raw))
    assert len(entries) > 80
    for where, entry in entries:
        source = entry.get("source")
        assert isinstance(source, (str, dict)) or (isinstance(source, list) and source), f"{where}: no source"
        checked = entry.get("checked")
        assert isinstance(checked, datetime.date) and not isinstance(checked, datetime.datetime), where
        assert datetime.date(2025, 1, 1) <= checked <= datetime.date(2026, 12, 4), where


def test_no_float_anywhere_and_rates_are_decimal_strings() -> None:
    raw = _plain()
    for where, node in _walk(raw):
        assert not isinstance(node, float), f"{where} is a YAML float; quote it"
    rates = 0
    for where, node in _walk(raw):
        key = where.rsplit(".", 1)[-1]
        if where.startswith(".rules.") and key == "cache_read":
            continue  # a rule's cache_read is a word (standard / factor / none), not a rate
        if key in RATE_KEYS and not isinstance(node, (dict, list)):
            assert isinstance(node, str), f"{where}: {node!r} is not a quoted decimal string"
            assert Decimal(node) >= 0
            rates += 1
        if key in {"input", "cache_read"} and isinstance(node, dict):
            for sub in node.values():
                assert isinstance(sub, str), f"{where}: {sub!r} is not a quoted decimal string"
                rates += 1
    assert rates > 20


def test_dates_parse() -> None:
    for where, node in _walk(_plain()):
        key = where.rsplit(".", 1)[-1]
        if key in {"from", "until", "date", "released", "as_of", "checked"}:
            assert isinstance(node, datetime.date), f"{where}: {node!r} is not a date"


def test_overlay_price_blocks_on_genai_prices_models_say_why() -> None:
    """The overlay must not silently copy genai-prices figures: a block on a GP model needs a note."""
    overlay = load_packaged_overlay()
    for model in overlay.models.values():
        for block in model.prices:
            if model.genai_prices is not None:
                assert block.provenance.note, f"{model.id}: overlay block without a note on why"
            assert block.provenance.source and block.provenance.checked > datetime.date(2025, 1, 1)


def test_loader_keeps_float_looking_scalars_as_strings() -> None:
    """Unquoted 0.15 in a user file stays the exact text "0.15" (never a binary float)."""
    assert load_yaml_text("a: 0.15\nb: 2\nc: 2026-12-01\n") == {"a": "0.15", "b": 2, "c": "2026-12-01"}


def _minimal(models: str) -> str:
    limits = "\n".join(
        f"  {name}: {{value: 1, source: X, checked: 2026-11-27}}"
        for name in (
            "batch_file_bytes",
            "inline_request_bytes",
            "concurrent_jobs",
            "file_storage_bytes",
            "target_turnaround_hours",
            "expiry_hours",
            "uploaded_file_ttl_hours",
            "vertex_file_bytes",
            "vertex_requests_per_job",
            "vertex_queue_hours",
            "vertex_run_hours",
        )
    )
    return (
        "format: batchcost-prices/1\n"
        "genai_prices: {version: '0.2.3', checked: 2026-11-27}\n"
        "limits:\n" + limits + "\n"
        "  spend_cap_10min_usd: {value: {1: '10'}, source: X, checked: 2026-11-27}\n"
        "  spend_cap_monthly_usd: {value: {1: '250'}, source: X, checked: 2026-11-27}\n"
        "rules:\n  half: {factor: '0.5', source: X, checked: 2026-11-27}\n"
        "models:\n" + models
    )


def test_minimal_strict_file_is_accepted() -> None:
    text = _minimal(
        "  m1:\n    source: X\n    checked: 2026-11-27\n    derive: {batch: half}\n"
        "    prices:\n      - {input: '1.00', output: '2.00', source: X, checked: 2026-11-27}\n"
    )
    overlay = parse_overlay(load_yaml_text(text))
    assert overlay.models["m1"].prices[0].values[("input", "audio")].base == Decimal("1.00")


@pytest.mark.parametrize(
    ("models", "expected"),
    [
        (
            "  m1:\n    source: X\n    checked: 2026-11-27\n"
            "    prices:\n      - {input: !!float 1.5, output: '2', source: X, checked: 2026-11-27}\n",
            "models.m1.prices[0].input: rate 1.5 must be a quoted decimal string",
        ),
        (
            "  m1:\n    source: X\n    checked: 2026-11-27\n"
            "    prices:\n      - {input: '1', output: '2', checked: 2026-11-27}\n",
            "models.m1.prices[0]: missing 'source'",
        ),
        (
            "  m1:\n    source: X\n    checked: 2026-11-27\n"
            "    prices:\n      - {input: '1', output: '2', source: X}\n",
            "models.m1.prices[0]: missing 'checked' date",
        ),
        (
            "  m1:\n    source: X\n    checked: 2026-13-01\n"
            "    prices:\n      - {input: '1', output: '2', source: X, checked: 2026-11-27}\n",
            "models.m1.checked: '2026-13-01' is not a date",
        ),
        (
            "  m1:\n    source: X\n    checked: 2026-11-27\n    derive: {batch: third}\n"
            "    prices:\n      - {input: '1', output: '2', source: X, checked: 2026-11-27}\n",
            "models.m1.derive.batch: unknown rule 'third'",
        ),
        (
            "  m1:\n    source: X\n    checked: 2026-11-27\n    colour: blue\n"
            "    prices:\n      - {input: '1', output: '2', source: X, checked: 2026-11-27}\n",
            "models.m1.colour: unknown key",
        ),
        (
            "  m1:\n    source: X\n    checked: 2026-11-27\n"
            "    routing: [{from: 2026-12-01, to: nowhere, source: X, checked: 2026-11-27}]\n"
            "    prices:\n      - {input: '1', output: '2', source: X, checked: 2026-11-27}\n",
            "routes to unknown model 'nowhere'",
        ),
        (
            "  m1:\n    source: X\n    checked: 2026-11-27\n"
            "    prices:\n      - {input: '-1', output: '2', source: X, checked: 2026-11-27}\n",
            "is not a non-negative decimal number",
        ),
        (
            "  m1:\n    source: X\n    checked: 2026-11-27\n",
            "a new model needs 'prices'",
        ),
        (
            "  m1:\n    source: pricing-pgae\n    checked: 2026-11-27\n"
            "    prices:\n      - {input: '1', output: '2', source: X, checked: 2026-11-27}\n",
            "models.m1.source: unknown source id 'pricing-pgae' (add it under 'sources:')",
        ),
        (
            "  m1:\n    source: [{id: X, for: [colour]}]\n    checked: 2026-11-27\n"
            "    prices:\n      - {input: '1', output: '2', source: X, checked: 2026-11-27}\n",
            "models.m1.source[0].for: must name facts among",
        ),
        (
            "  m1:\n    source: X\n    checked: 2026-11-27\n"
            "    notes: [{text: hello, kind: shout}]\n"
            "    prices:\n      - {input: '1', output: '2', source: X, checked: 2026-11-27}\n",
            "models.m1.notes[0].kind: 'shout' is not one of note, warning",
        ),
    ],
)
def test_invalid_files_are_rejected_with_the_place_and_the_fix(models: str, expected: str) -> None:
    with pytest.raises(PricingError) as info:
        parse_overlay(load_yaml_text(_minimal(models)), file="bad.yaml")
    assert "bad.yaml: invalid price file" in str(info.value)
    assert expected in str(info.value)


def test_override_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="price file not found"):
        PriceBook.load(tmp_path / "missing.yaml")
    empty = write(tmp_path, "empty.yaml", "\n")
    with pytest.raises(InputError, match="empty"):
        PriceBook.load(empty)
    broken = write(tmp_path, "broken.yaml", "models: [unclosed\n")
    with pytest.raises(PricingError, match="not valid YAML"):
        PriceBook.load(broken)
    floaty = write(
        tmp_path,
        "floaty.yaml",
        """\
        models:
          gemini-2.5-flash-lite:
            prices:
              - mode: batch
                output: !!float 0.1
        """,
    )
    with pytest.raises(PricingError, match=r"models.gemini-2.5-flash-lite.prices\[0\].output: rate 0.1"):
        PriceBook.load(floaty)
    alias = write(tmp_path, "alias.yaml", "models:\n  gemini-flash-latest:\n    prices: []\n")
    with pytest.raises(PricingError, match=r"is an alias of gemini-3\.8-flash"):
        PriceBook.load(alias)
