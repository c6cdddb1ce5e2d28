"""Calibration: an output rule learnt from generated results is recovered, with an honest interval."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from batchcost.afterjob.calibrate import (
    SETTINGS_UNKNOWN,
    Observations,
    calibrate_from,
    fit_output_model,
    settings_name,
    t975,
)
from batchcost.batchfile import scan
from batchcost.errors import InputError
from tests.afterjob.calibration_data import draw, request, write_pair, write_requests


def test_known_rule_is_recovered_within_its_interval(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    calib = draw(rng, 400)
    req, res = write_pair(tmp_path, calib)
    model = calibrate_from(res, req, model="gemini-2.5-flash")
    assert set(model.groups) == {"thinking budget 512", "thinking off"}
    think, off = model.groups["thinking budget 512"], model.groups["thinking off"]
    assert think.candidates.design in ("input", "affine_input")
    assert think.thoughts.design == "mean"
    assert think.candidates.beta[-1] == pytest.approx(0.25, rel=0.1)
    assert think.thoughts.beta[0] == pytest.approx(calib["thoughts"][calib["budget"] > 0].mean())
    assert off.candidates.design == "max_output" and off.candidates.beta[0] == pytest.approx(0.5, rel=0.1)
    assert "calibrated on results.jsonl (400 gemini-2.5-flash results, 2 settings)" in model.source
    assert "ratio to maxOutputTokens" in model.source and "leave-one-out" in model.source
    assert "1 failed result is left out of the calibration" in model.warnings

    new = draw(rng, 1500)
    sc = scan(write_requests(tmp_path / "new.jsonl", new))
    ceiling = new["max_out"] + new["budget"]
    expected, low, high = model.predict(sc, new["prompt"], ceiling)
    assert (expected <= ceiling).all() and (high <= ceiling).all() and (low <= expected).all()
    true_total = int((new["candidates"] + new["thoughts"]).sum())
    assert int(low.sum()) <= true_total <= int(high.sum())
    # the interval is informative: within a few percent of the total
    assert (int(high.sum()) - int(low.sum())) / true_total < 0.1
    detail = model.predict_detail(sc, new["prompt"], ceiling)
    assert (detail.candidates + detail.thoughts == detail.expected).all()
    assert model.warnings_for(sc) == ()


def coverage(rule: Callable[[np.random.Generator, int], dict[str, np.ndarray]], n_cal: int, seeds: int) -> float:
    hits = 0
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        cal, new = rule(rng, n_cal), rule(rng, 1000)
        groups = np.array([settings_name(int(b), -1, 1) for b in cal["budget"]], dtype=object)
        obs = Observations(
            groups, cal["prompt"], cal["max_out"], cal["candidates"], cal["thoughts"], np.zeros(n_cal, bool)
        )
        model = fit_output_model(obs, source_prefix="sim", model="m", kind="calibration")
        keys = np.array([settings_name(int(b), -1, 1) for b in new["budget"]], dtype=object)
        p = model.predict_rows(keys, new["prompt"], new["max_out"], np.full(1000, 10**9))
        hits += int(p.low.sum()) <= int((new["candidates"] + new["thoughts"]).sum()) <= int(p.high.sum())
    return hits / seeds


def test_interval_covers_the_true_total_about_95_percent_of_the_time() -> None:
    # 300 repeated calibrations: a 95% interval should miss about 15 times (binomial sd ~3.8)
    assert 0.91 <= coverage(draw, 200, 300) <= 0.99


def test_student_t_quantiles() -> None:
    assert t975(1) == 12.706 and t975(30) == 2.042
    assert t975(31) == pytest.approx(2.0395, abs=2e-4)
    assert t975(120) == pytest.approx(1.9799, abs=2e-4)
    assert t975(10**6) == pytest.approx(1.96, abs=1e-3)


def test_other_model_and_unseen_settings_give_warnings(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    req, res = write_pair(tmp_path, draw(rng, 60), model="gemini-3.8-flash")
    model = calibrate_from(res, req, model="gemini-2.5-flash")
    assert any("come from gemini-3.8-flash (60), not gemini-2.5-flash" in w for w in model.warnings)
    new = draw(rng, 40)
    new["budget"] = np.full(40, 1024)
    sc = scan(write_requests(tmp_path / "new.jsonl", new))
    warnings = model.warnings_for(sc)
    assert any(
        "40 requests use thinking budget 1024, which the calibration results do not include" in w for w in warnings
    )
    detail = model.predict_detail(sc, new["prompt"], np.full(40, 10**6))
    assert detail.fits == {"thinking budget 1024": "all results"}


def test_without_requests_one_rule_and_a_warning(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    _, res = write_pair(tmp_path, draw(rng, 50))
    model = calibrate_from(res, model="gemini-2.5-flash")
    assert set(model.groups) == {SETTINGS_UNKNOWN}
    assert any("without the requests file" in w for w in model.warnings)
    assert model.groups[SETTINGS_UNKNOWN].candidates.design != "max_output"  # maxOutputTokens is unknown
    sc = scan(write_requests(tmp_path / "new.jsonl", draw(rng, 10)))
    assert any("carry no request settings" in w for w in model.warnings_for(sc))


def test_vertex_results_use_echoed_requests_or_line_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    data = draw(rng, 30)
    echoed, bare, inputs = tmp_path / "echo.jsonl", tmp_path / "bare.jsonl", tmp_path / "vertex_in.jsonl"
    with echoed.open("w") as fe, bare.open("w") as fb, inputs.open("w") as fi:
        for i in range(30):
            req = request(data["budget"][i], data["max_out"][i], i)
            u = {"promptTokenCount": int(data["prompt"][i]), "candidatesTokenCount": int(data["candidates"][i]),
                 "thoughtsTokenCount": int(data["thoughts"][i])}  # fmt: skip
            fe.write(json.dumps({"status": "", "request": req, "response": {"usageMetadata": u}}) + "\n")
            fb.write(json.dumps({"status": "", "response": {"usageMetadata": u}}) + "\n")
            fi.write(json.dumps({"request": req}) + "\n")
    from_echo = calibrate_from(echoed, model="gemini-2.5-flash")
    assert set(from_echo.groups) == {"thinking budget 512", "thinking off"}
    assert not any("line order" in w for w in from_echo.warnings)
    by_order = calibrate_from(bare, inputs, model="gemini-2.5-flash")
    assert set(by_order.groups) == set(from_echo.groups)
    assert any("joined to the requests file by line order" in w for w in by_order.warnings)
    for key, fit in from_echo.groups.items():
        assert by_order.groups[key].candidates.beta == pytest.approx(fit.candidates.beta)


def test_too_few_results_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps({"key": "a", "response": {"usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2}}})
        + "\n"
        + json.dumps({"key": "b", "error": {"code": 400}})
        + "\n"
    )
    with pytest.raises(InputError, match="calibration needs at least 2"):
        calibrate_from(path, model="gemini-2.5-flash")


def test_unusable_rows_predict_zero_and_truncation_is_flagged(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    data = draw(rng, 40)
    data["candidates"] = np.minimum(data["candidates"], 100)  # most answers hit a low limit
    data["max_out"] = np.full(40, 100)
    req, res = write_pair(tmp_path, data)
    model = calibrate_from(res, req, model="gemini-2.5-flash")
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"key": "a", "request": request(0, 100, 1)}) + "\n{broken\n")
    sc = scan(new)
    expected, low, high = model.predict(sc, np.array([500, 0]), np.array([100, 100]))
    assert expected[1] == low[1] == high[1] == 0
    assert expected[0] <= 100
    assert any("stopped at maxOutputTokens" in w for w in model.warnings_for(sc))
