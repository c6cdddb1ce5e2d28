"""The price book's two channels: notes (read once) and warnings (act on them), book to plan.

Derivations and disagreements between sources are notes, said once; routing or retirement of the
requested model is a warning that says what to do, once per run however many modes are priced.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from batchcost.cli import main
from batchcost.pricing import MODES
from tests.pricing.helpers import d, packaged_book

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "batch_requests.jsonl"
DAYS = [d("2026-09-01"), d("2026-11-27"), d("2026-12-04"), d("2027-01-02"), d("2027-05-08")]

# Phrases of the book's notes: derivations, disagreements, assumptions. Never a warning.
NOTE_PHRASES = (
    "are assumed to be",
    "per-model price list is used",
    "routed as standard ones are",
    "Google does not say at which rates",
    "agree with the half-of-standard assumption",
    "implicit-cache minimum",
)


def estimate(tmp_path: Path, *argv: str) -> dict[str, Any]:
    src = tmp_path / "requests.jsonl"
    shutil.copy(EXAMPLE, src)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["estimate", str(src), "--offline", "-q", "--output-tokens", "100", "--format", "json", *argv],
        stdout=out,
        stderr=err,
    )
    assert code in (0, 1), err.getvalue()
    return json.loads(out.getvalue())


def test_book_channels_are_disjoint_and_warnings_do_not_depend_on_the_mode() -> None:
    book = packaged_book()
    for model in book.models():
        for day in DAYS:
            warnings = set()
            for mode in book.modes(model, day):
                rates = book.rates(model, mode, day)
                assert not set(rates.notes) & set(rates.warnings)
                assert not set(rates.cache_notes) & (set(rates.notes) | set(rates.warnings))
                for text in rates.warnings:
                    assert not any(p in text for p in NOTE_PHRASES), f"{model} {mode} {day}: {text}"
                    assert ": " in text or "; " in text, f"a warning says what to do: {text}"
                warnings.add(rates.warnings)
            # one routing/retirement warning per model, whatever the mode
            assert len(warnings) <= 1, f"{model} {day}: {warnings}"


def test_routing_warning_is_once_per_run_and_its_assumption_a_note(tmp_path: Path) -> None:
    plan = estimate(tmp_path, "-m", "gemini-2.5-pro", "--run-date", "2026-12-04")
    assert set(plan["cost"]) >= set(MODES)  # every mode priced
    routed = [w for w in plan["warnings"] if "is routed to gemini-3.8-flash" in w]
    assert routed == [
        "gemini-2.5-pro is routed to gemini-3.8-flash from 2026-12-01 and billed at its rates "
        "(Gemini API deprecations page, 2026-11-27): choose gemini-3.8-flash explicitly to silence this"
    ]
    assert sum("routed as standard ones are" in n for n in plan["notes"]) == 1
    assert not any("routed as standard ones are" in w for w in plan["warnings"])


@pytest.mark.parametrize(("model", "day"), [("gemini-3.8-flash", "2026-11-27"), ("gemini-2.5-pro", "2026-12-04")])
def test_derivations_and_disagreements_are_notes_once_not_warnings(tmp_path: Path, model: str, day: str) -> None:
    plan = estimate(tmp_path, "-m", model, "--run-date", day)
    for phrase in NOTE_PHRASES:
        assert not any(phrase in w for w in plan["warnings"]), phrase
    flex = [n for n in plan["notes"] if n.startswith("Flex rates for gemini-3.8-flash are assumed to be half")]
    assert flex == [
        "Flex rates for gemini-3.8-flash are assumed to be half the standard ones (Gemini API optimization guide, "
        "2026-11-27; genai-prices 0.2.3, 2026-11-27); the flex cache-read rate is not published, so cached tokens "
        "are priced at the standard cache-read rate (the higher of the plausible rates; LiteLLM's price dataset "
        "of 2026-11-20 lists flex cache reads at half the standard rate, with no Google page behind it)"
    ]
    assert sum(n.startswith("Priority rates for gemini-3.8-flash") for n in plan["notes"]) == 1
    assert len(plan["notes"]) == len(set(plan["notes"]))
    # the batch cache-read disagreement matters only where a cache is priced: not in this plan's lists
    assert not any("per-model price list" in t for t in (*plan["notes"], *plan["warnings"]))


def test_third_party_prices_warn_once_with_what_to_do(tmp_path: Path) -> None:
    plan = estimate(tmp_path, "-m", "gemini-4-hydrogen", "--run-date", "2026-11-27")
    third = [w for w in plan["warnings"] if "third-party pages only" in w]
    assert len(third) == 1 and "--prices FILE" in third[0]
    assert sum("TokenMeter 0.17.0" in n for n in plan["notes"]) == 1


def test_plan_prices_name_title_url_and_date(tmp_path: Path) -> None:
    plan = estimate(tmp_path, "-m", "gemini-3.8-flash", "--run-date", "2026-11-27")
    batch = next(p for p in plan["prices"] if p["mode"] == "batch" and p["component"] == "input")
    assert batch["source"] == "genai-prices 0.2.3 (https://ai.google.dev/gemini-api/docs/pricing), checked 2026-10-14"
    flex = next(p for p in plan["prices"] if p["mode"] == "flex" and p["component"] == "input")
    assert flex["source"].startswith(
        'Gemini API optimization guide (https://ai.google.dev/gemini-api/docs/optimization), checked 2026-11-27: "Flex = '
        '50%"; genai-prices 0.2.3'
    )
