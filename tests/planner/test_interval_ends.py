"""Interval ends follow the ends they depend on: every cost end is the price of the same token end.

Over several sampled files, seeds, models, output sources and every priced mode (batch with an
explicit cache included): low <= expected <= high everywhere, and each cost end equals, to the
last decimal, input tokens at that end x the model's input rate + output tokens at that end x its
output rate.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batchcost.pricing import PriceBook
from tests.afterjob.calibration_data import draw, write_pair
from tests.planner.estimating import NOV27, mtok, run_estimate, sampled_file

ENDS = ("low", "expected", "high")
# thinking 512 or off, with the maxOutputTokens the calibration data uses: every request has a known ceiling
SETTINGS = tuple(
    {"maxOutputTokens": m, "thinkingConfig": {"thinkingBudget": b}} for m in (256, 512, 1024, 2048) for b in (0, 512)
)
SYSTEM = " ".join(["answer briefly and cite the passage you rely on"] * 600)  # 5,400 shared tokens


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook.load()


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    tmp = tmp_path_factory.mktemp("calib")
    req, res = write_pair(tmp, draw(np.random.default_rng(3), 300))
    return str(res), str(req)


def _rates(book: PriceBook, model: str, mode: str) -> tuple[Decimal, Decimal]:
    r = book.rates(model, mode, NOV27)
    assert r.output is not None
    return r.input["text"].usd_per_mtok, r.output.usd_per_mtok


def _check_mode(c: dict[str, Any], tin: dict[str, int], tout: dict[str, int], rates: tuple[Decimal, Decimal]) -> None:
    rate_in, rate_out = (str(r) for r in rates)
    v = {k: Decimal(c[k]) for k in ("floor", *ENDS, "ceiling")}
    assert v["floor"] <= v["low"] <= v["expected"] <= v["high"] <= v["ceiling"]
    assert v["floor"] == mtok(rate_in, tin["expected"])
    for end in ENDS:
        # the input part of each end is the input tokens of the same end at the model's rate, exactly
        assert v[end] - mtok(rate_out, tout[end]) == mtok(rate_in, tin[end]), end
    assert v["ceiling"] == mtok(rate_in, tin["high"]) + mtok(rate_out, tout["ceiling"])


CASES = [
    # (seed, model, compare, output source, shared system instruction)
    (0, "gemini-2.5-flash", [], {"output_tokens": 100}, False),
    (1, "gemini-3.8-flash", ["gemini-2.5-pro"], {"output_ratio": 0.4}, False),
    (2, "gemini-2.5-pro", ["gemini-3.5-flash-lite"], {"calibrate": True}, False),
    (3, "gemini-3.8-flash", [], {"output_ratio": 0.25}, True),
    (4, "gemini-2.5-flash", [], {"calibrate": True}, True),
]


@pytest.mark.parametrize(("seed", "model", "compare", "source", "shared"), CASES)
def test_every_end_is_priced_on_the_same_token_end(
    tmp_path: Path,
    book: PriceBook,
    calibration: tuple[str, str],
    seed: int,
    model: str,
    compare: list[str],
    source: dict[str, Any],
    shared: bool,
) -> None:
    path = sampled_file(
        tmp_path / "big.jsonl", 5000, seed, lengths=(3, 12, 40, 150, 700), settings=SETTINGS,
        system=SYSTEM if shared else None,
    )  # fmt: skip
    kw: dict[str, Any] = dict(source)
    if kw.pop("calibrate", False):
        kw["calibrate_from"] = calibration
    plan = run_estimate(path, model, sample_size=150, seed=seed, compare=compare, **kw)

    tin = plan["tokens"]["input"]
    assert plan["tokens"]["method"] == "sampled"  # a real interval, not exact counts
    assert tin["low"] < tin["expected"] < tin["high"]
    assert tin["by_modality"]["text"] == {k: tin[k] for k in ENDS}
    checked = 0
    for name, costs, out in [
        (model, plan["cost"], plan["tokens"]["output"]),
        *[(c["model"], c["cost"], c["output"]) for c in plan["compare"]],
    ]:
        assert out["low"] <= out["expected"] <= out["high"] <= out["ceiling"], name
        if "ratio" in source or "calibrate" in source:
            assert out["low"] < out["high"], name  # the output interval is not a point here
        for mode, c in costs.items():
            if mode == "batch_cached":
                continue  # the batch cost less the cache's saving: checked below
            _check_mode(c, tin, out, _rates(book, name, mode))
            checked += 1
    assert checked >= 2 + 2 * len(compare)

    caching = plan["caching"]
    if shared:
        # batch with the recommended explicit cache: the cache saves the same amount at every end
        assert caching["pays"] is True
        saving = Decimal(caching["recommendation"]["saving"])
        cached, batch = caching["batch_cached"], plan["cost"]["batch"]
        assert plan["cost"]["batch_cached"] == cached
        assert Decimal(cached["low"]) <= Decimal(cached["expected"]) <= Decimal(cached["high"])
        assert Decimal(cached["floor"]) >= 0
        for end in (*ENDS, "floor", "ceiling"):
            assert Decimal(batch[end]) - Decimal(cached[end]) == saving, end
    else:
        assert caching["batch_cached"] is None and "batch_cached" not in plan["cost"]


def test_the_issue_example_low_end_follows_the_token_low_end(tmp_path: Path, book: PriceBook) -> None:
    # The report: tokens 19,013,902 [18,988,029-19,039,775] but batch low = expected minus ~179 tokens' worth.
    # Here the gap between the batch cost ends is the token gap at the batch input rate, to the last digit.
    path = sampled_file(tmp_path / "big.jsonl", 6000, 11, lengths=(20, 200, 1000))
    plan = run_estimate(path, "gemini-2.5-flash", sample_size=200, seed=11, output_tokens=50)
    tin, batch = plan["tokens"]["input"], plan["cost"]["batch"]
    rate_in, _ = _rates(book, "gemini-2.5-flash", "batch")
    assert Decimal(batch["expected"]) - Decimal(batch["low"]) == mtok(str(rate_in), tin["expected"] - tin["low"])
    assert Decimal(batch["high"]) - Decimal(batch["expected"]) == mtok(str(rate_in), tin["high"] - tin["expected"])
    assert tin["expected"] - tin["low"] > 1000  # a real gap, far above the ~179 tokens of the report


def test_a_learnt_output_takes_each_end_from_the_same_input_end(tmp_path: Path, calibration: tuple[str, str]) -> None:
    from batchcost.afterjob.calibrate import calibrate_from
    from batchcost.planner.estimate import estimate
    from batchcost.planner.inputs import scaled_inputs
    from batchcost.pricing.ceiling import output_ceiling

    # thinking on: the learnt answer length grows with the prompt (0.25 x prompt tokens)
    settings = ({"maxOutputTokens": 2048, "thinkingConfig": {"thinkingBudget": 512}},)
    path = sampled_file(tmp_path / "big.jsonl", 5000, 5, lengths=(40, 150, 700, 1500), settings=settings)
    plan = estimate(
        path, model="gemini-2.5-flash", run_date=NOV27, offline=True, sample_size=150, seed=5,
        calibrate_from=calibration,
    )  # fmt: skip
    learnt = calibrate_from(*calibration, model="gemini-2.5-flash")
    ceiling, unknown = output_ceiling(plan.scan, PriceBook.load().model_info("gemini-2.5-flash", NOV27), [])
    assert not unknown.any()
    prompt = {w: sum(scaled_inputs(plan.tokens, w).values(), np.zeros(len(ceiling), np.int64)) for w in ENDS}
    at = {w: learnt.predict(plan.scan, prompt[w], ceiling) for w in ENDS}
    out = plan.cost.output
    assert out.expected == int(at["expected"][0].sum())
    assert out.low == int(at["low"][1].sum()) < int(at["expected"][1].sum())
    assert out.high == int(at["high"][2].sum()) > int(at["expected"][2].sum())
