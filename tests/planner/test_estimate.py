"""`estimate` end to end, against hand-computed costs (exact Gemma 3 counts, rates from the book)."""

from __future__ import annotations

import base64
import datetime
import io
import json
import wave
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from batchcost.cli import main
from batchcost.errors import UnknownModelError
from batchcost.planner.estimate import estimate
from tests.planner.estimating import NOV27, cost, mtok, run_estimate, text_req, write


def test_plain_batch_on_2_5_flash_lite(tmp_path: Path) -> None:
    # "Hello, world!" is 4 Gemma 3 tokens; 1,000 requests of it, 100 output tokens each.
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 1 + [text_req("Hello, world!")] * 999)
    plan = run_estimate(path, "gemini-2.5-flash-lite", output_tokens=100)
    assert plan["schema"] == "batchcost.plan/1"
    assert plan["requests"] == 1000
    assert plan["tokens"]["method"] == "exact"
    assert plan["tokens"]["input"]["expected"] == 4000
    assert plan["tokens"]["output"]["expected"] == 100_000
    # 2.5 Flash-Lite: standard 0.10 in / 0.40 out; batch 0.05 / 0.20 per 1M tokens
    assert cost(plan, "batch") == mtok("0.05", 4000) + mtok("0.20", 100_000) == Decimal("0.0202")
    assert cost(plan, "standard") == mtok("0.10", 4000) + mtok("0.40", 100_000) == Decimal("0.0404")
    assert cost(plan, "batch", "floor") == Decimal("0.0002")
    assert plan["cost"]["batch"]["low"] == plan["cost"]["batch"]["high"] == plan["cost"]["batch"]["expected"]
    assert plan["savings"]["batch_vs_standard"] == {"usd": "0.0202", "percent": "50.0", "basis": "expected"}
    sources = {(p["mode"], p["component"]): p for p in plan["prices"]}
    assert sources[("batch", "input")]["usd_per_mtok"] == "0.05"
    assert sources[("batch", "input")]["source"].startswith("genai-prices 0.2.3")
    assert sources[("batch", "input")]["checked"]


def test_2_5_pro_whole_request_switches_tier_above_200k(tmp_path: Path) -> None:
    # Gemma gives every digit its own token: 200,000 digits = 200,000 tokens.
    at = "7" * 200_000
    over = "7" * 200_001
    path = write(tmp_path / "t.jsonl", [text_req(at), text_req(over)])
    plan = run_estimate(path, "gemini-2.5-pro", output_tokens=1000)
    assert plan["tokens"]["input"]["expected"] == 400_001
    assert plan["tokens"]["above_200k"]["expected"] == 1
    # batch: <=200k 0.625 in / 5.00 out; >200k 1.25 in / 7.50 out - for the whole request
    expected = mtok("0.625", 200_000) + mtok("5.00", 1000) + mtok("1.25", 200_001) + mtok("7.50", 1000)
    assert cost(plan, "batch") == expected == Decimal("0.38750125")
    std = mtok("1.25", 200_000) + mtok("10.00", 1000) + mtok("2.50", 200_001) + mtok("15.00", 1000)
    assert cost(plan, "standard") == std


def _wav(seconds: float, rate: int = 8000) -> str:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(b"\x80" * int(seconds * rate))
    return base64.b64encode(buf.getvalue()).decode()


def _audio_request() -> dict[str, Any]:
    return {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "Hello, world!"}, {"inlineData": {"mimeType": "audio/wav", "data": _wav(10)}}],
            }
        ]
    }


def test_audio_part_on_2_5_flash_is_priced_at_the_audio_rate(tmp_path: Path) -> None:
    path = write(tmp_path / "au.jsonl", [_audio_request()])
    plan = run_estimate(path, "gemini-2.5-flash", output_tokens=0)
    mods = plan["tokens"]["input"]["by_modality"]
    assert mods["audio"]["expected"] == 320  # 10 s x 32 tokens/s
    assert mods["text"]["expected"] == 4
    # 2.5 Flash batch: text 0.15, audio 0.50 per 1M
    assert cost(plan, "batch") == mtok("0.15", 4) + mtok("0.50", 320) == Decimal("0.0001606")
    assert cost(plan, "standard") == mtok("0.30", 4) + mtok("1.00", 320)


def test_routed_2_5_flash_after_2026_12_01_bills_3_5_flash_lite(tmp_path: Path) -> None:
    path = write(tmp_path / "au.jsonl", [_audio_request()])
    plan = run_estimate(path, "gemini-2.5-flash", output_tokens=0, run_date=datetime.date(2026, 12, 2))
    assert plan["billed_model"] == "gemini-3.5-flash-lite"
    # 3.5 Flash-Lite prices every modality alike: 0.30 standard, 0.15 batch
    assert cost(plan, "batch") == mtok("0.15", 324)
    assert any("gemini-3.5-flash-lite" in w for w in plan["warnings"])


def test_routing_change_within_the_job_window_is_warned(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", [text_req("Hello, world!")])
    plan = run_estimate(path, "gemini-2.5-flash", output_tokens=10, run_date=datetime.date(2026, 11, 30))
    assert plan["billed_model"] == "gemini-2.5-flash"
    assert any(w.startswith("2026-12-01") for w in plan["warnings"])
    assert any("UNKNOWN" in w for w in plan["warnings"])


@pytest.mark.parametrize(
    ("run_date", "batch_in", "batch_out"),
    [(datetime.date(2026, 12, 31), "0.375", "1.875"), (datetime.date(2027, 1, 1), "0.75", "3.75")],
)
def test_3_8_flash_intro_price_ends_2027_01_01(tmp_path: Path, run_date: datetime.date, batch_in: str,
                                               batch_out: str) -> None:  # fmt: skip
    path = write(tmp_path / "f.jsonl", [text_req("Hello, world!")] * 10)
    plan = run_estimate(path, "gemini-3.8-flash", output_tokens=500, run_date=run_date)
    assert cost(plan, "batch") == mtok(batch_in, 40) + mtok(batch_out, 5000)


def test_thinking_ceilings(tmp_path: Path) -> None:
    reqs = [
        text_req("a", maxOutputTokens=100, thinkingConfig={"thinkingBudget": 50}),  # 150
        text_req("b", maxOutputTokens=100, thinkingConfig={"thinkingBudget": 0}),  # 100
        text_req("c", maxOutputTokens="100", candidateCount=2, thinkingConfig={"thinkingBudget": 25}),  # 250
        text_req("d", maxOutputTokens=100),  # 2.5 Flash thinks by default, unbounded: 100 + 65,536
    ]
    plan = run_estimate(write(tmp_path / "c.jsonl", reqs), "gemini-2.5-flash")
    assert plan["tokens"]["output"]["ceiling"] == 150 + 100 + 250 + 100 + 65_536
    assert plan["tokens"]["output"]["expected"] is None
    assert plan["cost"]["batch"]["expected"] is None
    assert any("expected output is unknown" in w for w in plan["warnings"])
    assert (  # one request: the count, its verb and "each" agree
        "1 request thinks without a thinkingBudget bound on gemini-2.5-flash; the output ceiling allows 65,536 "
        "thinking tokens (billed as output); set thinkingBudget to tighten it"
    ) in plan["warnings"]
    # ceiling = input (4 one-token texts) + output ceiling at batch rates
    assert cost(plan, "batch", "ceiling") == mtok("0.15", 4) + mtok("1.25", 66_136)


def test_thinking_off_by_default_on_2_5_flash_lite(tmp_path: Path) -> None:
    plan = run_estimate(write(tmp_path / "c.jsonl", [text_req("a", maxOutputTokens=100)]), "gemini-2.5-flash-lite")
    assert plan["tokens"]["output"]["ceiling"] == 100


def test_output_ratio_and_cap_at_ceiling(tmp_path: Path) -> None:
    reqs = [text_req("Hello, world!"), text_req("Hello, world!", maxOutputTokens=1)]
    plan = run_estimate(write(tmp_path / "o.jsonl", reqs), "gemini-2.5-flash-lite", output_ratio=2.0)
    assert plan["tokens"]["output"]["expected"] == 8 + 1


def test_only_usable_requests_are_said_to_be_capped_below_the_expectation(tmp_path: Path) -> None:
    path = write(tmp_path / "o.jsonl", [text_req("a", maxOutputTokens=5), text_req("b", maxOutputTokens=500)])
    with path.open("a") as fh:
        fh.write("{oops\n" * 3)  # unusable lines: a ceiling of 0, and not priced
    plan = run_estimate(path, "gemini-2.5-flash-lite", output_tokens=10)
    capped = [n for n in plan["warnings"] + plan["notes"] if "fewer output tokens than the expectation" in n]
    assert capped == [
        "1 request can produce fewer output tokens than the expectation (its ceiling is lower); the ceiling is used "
        "for it"
    ]
    assert plan["tokens"]["output"]["expected"] == 5 + 10


def test_override_file_marks_rates_overridden(tmp_path: Path) -> None:
    prices = tmp_path / "negotiated.yaml"
    prices.write_text(
        "models:\n"
        "  gemini-2.5-flash-lite:\n"
        "    prices:\n"
        "      - mode: batch\n"
        '        input: {all: "0.04"}\n'
        '        output: "0.16"\n'
        "        source: contract 2026-11\n"
        "        checked: 2026-11-20\n"
    )
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 10)
    plan = run_estimate(path, "gemini-2.5-flash-lite", output_tokens=100, prices=[str(prices)])
    assert cost(plan, "batch") == mtok("0.04", 40) + mtok("0.16", 1000)
    batch_in = next(p for p in plan["prices"] if p["mode"] == "batch" and p["component"] == "input")
    assert batch_in["overridden"] is True and batch_in["source"] == "contract 2026-11, checked 2026-11-20"


def test_unknown_model_suggests_close_names(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("x")])
    with pytest.raises(UnknownModelError) as e:
        run_estimate(path, "gemini-2.5-flsh")
    assert "gemini-2.5-flash" in e.value.suggestions


def test_derived_batch_rate_is_flagged(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")])
    plan = run_estimate(path, "gemini-3.7-flash", output_tokens=10, run_date=datetime.date(2026, 9, 1))
    batch = [p for p in plan["prices"] if p["mode"] == "batch"]
    assert batch and all(p["derived"] for p in batch)
    assert all('"priced at 50% of the standard' in p["source"] for p in batch)
    # a derived rate is an assumption to read once, in the notes, not a warning
    derived = [n for n in plan["notes"] if n.startswith("Batch rates for gemini-3.7-flash are assumed to be half")]
    assert len(derived) == 1 and not any("assumed to be half" in w for w in plan["warnings"])


def test_model_from_the_file(tmp_path: Path) -> None:
    req = text_req("Hello, world!")
    req["model"] = "models/gemini-2.5-flash-lite"
    plan = estimate(write(tmp_path / "m.jsonl", [req]), run_date=NOV27, offline=True, output_tokens=1).to_json()
    assert plan["model"] == "gemini-2.5-flash-lite"


def test_compare_prices_the_same_tokens_on_other_models(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 10)
    plan = run_estimate(path, "gemini-2.5-flash-lite", output_tokens=100, compare=["gemini-2.5-pro"])
    (other,) = plan["compare"]
    assert other["model"] == "gemini-2.5-pro"
    assert Decimal(other["cost"]["batch"]["expected"]) == mtok("0.625", 40) + mtok("5.00", 1000)


# -- CLI ------------------------------------------------------------------------------------------


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_cli_json_budget_and_exit_codes(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 1000)
    args = ["estimate", str(path), "--model", "gemini-2.5-flash-lite", "--run-date", "2026-11-27",
            "--output-tokens", "100", "--offline", "--format", "json"]  # fmt: skip
    code, out, _ = cli(*args)
    assert code == 0
    assert json.loads(out)["cost"]["batch"]["expected"] == "0.0202"
    code, _, err = cli(*args, "--budget", "0.02")
    assert code == 3 and "over budget" in err
    assert cli(*args, "--budget", "0.03")[0] == 0


def test_cli_unknown_model_is_a_one_line_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("x")])
    code, out, err = cli("estimate", str(path), "--model", "gemini-9-ultra", "--offline")
    assert code == 2 and out == ""
    assert err.startswith("batchcost: error: unknown model 'gemini-9-ultra'") and err.count("\n") == 1


def test_cli_table_and_markdown(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 1000)
    base = ["estimate", str(path), "--model", "gemini-2.5-flash-lite", "--run-date", "2026-11-27", "--offline",
            "--output-tokens", "100"]  # fmt: skip
    code, out, _ = cli(*base)
    assert code == 0
    assert out.splitlines()[:2] == [
        "Batch on gemini-2.5-flash-lite: $0.020, 50% less than standard ($0.040)",
        "  1,000 requests in a.jsonl, all valid",
    ]
    assert "genai-prices 0.2.3" not in out  # sources are in the verbose view
    code, out, _ = cli(*base, "-v")
    assert code == 0 and "genai-prices 0.2.3" in out and "Prices used" in out
    code, out, _ = cli(*base, "--format", "markdown")
    assert code == 0 and out.startswith("### Batch on gemini-2.5-flash-lite") and "| batch | $0.0002 |" in out


def test_cli_invalid_input_still_estimates_but_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")])
    with path.open("a") as fh:
        fh.write("{broken\n")
    code, out, _ = cli("estimate", str(path), "--model", "gemini-2.5-flash-lite", "--offline", "--format", "json")
    assert code == 1
    assert json.loads(out)["validation"]["errors"] == 1


def test_cli_one_invalid_line_is_counted_in_the_singular(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")])
    with path.open("a") as fh:
        fh.write("{broken\n")
    base = ("estimate", str(path), "--model", "gemini-2.5-flash-lite", "--offline", "--output-tokens", "10", "-q")
    code, out, _ = cli(*base)
    assert code == 1
    text = " ".join(out.split())  # the warnings are wrapped to the terminal's width
    assert "1 usable request in a.jsonl; INVALID: 1 error (" in text
    assert (
        "the input has 1 validation error (1 line not priced); the API would reject it: run `batchcost validate`"
    ) in text
    code, out, _ = cli(*base, "--format", "markdown")
    assert code == 1 and "; INVALID (1 error); 1 shard in 1 wave\n" in out
    assert "- **Validation:** INVALID, 1 error (`not-json` 1)\n" in out


def test_cli_prices_text_is_one_table_per_model_with_numbered_sources() -> None:
    code, out, _ = cli("prices", "--model", "gemini-2.5-flash-lite", "--run-date", "2026-11-27")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "gemini-2.5-flash-lite"
    assert max(len(line) for line in lines) <= 100
    batch_in = next(line.split() for line in lines if line.split()[:2] == ["batch", "input"])
    assert "$0.05" in batch_in and batch_in[-1].startswith("[")
    number = batch_in[-1].split(",")[0]
    assert any(line.strip().startswith(number + " ") and "genai-prices 0.2.3" in line for line in lines)
    assert "querys" not in out and "$0.3 " not in out


def test_cli_prices_lists_sources(tmp_path: Path) -> None:
    code, out, _ = cli("prices", "--model", "gemini-2.5-flash-lite", "--run-date", "2026-11-27", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    batch_in = [r for r in doc["rates"] if r["mode"] == "batch" and r["component"] == "input"]
    assert batch_in and batch_in[0]["usd"] == "0.05" and batch_in[0]["checked"]
