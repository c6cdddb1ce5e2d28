"""`estimate --calibrate-from` and `estimate --pilot` as a user runs them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from batchcost.cli import main
from tests.afterjob.calibration_data import draw, write_pair, write_requests
from tests.fakegemini import FakeGemini, Fault


def run(monkeypatch: pytest.MonkeyPatch, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(7)
    requests, results = write_pair(tmp_path, draw(rng, 300))
    new = write_requests(tmp_path / "new.jsonl", draw(rng, 200))
    return requests, results, new


BASE = ["-m", "gemini-2.5-flash", "--run-date", "2026-11-27", "--offline", "--format", "json"]


def test_calibrated_estimate_has_an_expected_cost_and_names_its_source(
    monkeypatch: pytest.MonkeyPatch, files: tuple[Path, Path, Path]
) -> None:
    requests, results, new = files
    code, out, err = run(monkeypatch, "estimate", str(new), *BASE, "--calibrate-from", str(results), str(requests))
    assert code == 0, err
    doc = json.loads(out)
    output = doc["tokens"]["output"]
    assert output["expected"] is not None and output["low"] <= output["expected"] <= output["high"]
    assert "calibrated on" in output["source"] and str(results.name) in output["source"]
    batch = doc["cost"]["batch"]
    assert batch["low"] is not None and float(batch["low"]) <= float(batch["expected"]) <= float(batch["high"])


def test_calibrate_from_takes_at_most_two_files(
    monkeypatch: pytest.MonkeyPatch, files: tuple[Path, Path, Path]
) -> None:
    requests, results, new = files
    code, _, _ = run(
        monkeypatch, "estimate", str(new), *BASE, "--calibrate-from", str(results), str(requests), str(new)
    )
    assert code == 2


def test_pilot_without_a_key_refuses_and_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, files: tuple[Path, Path, Path]
) -> None:
    *_, new = files
    with FakeGemini() as fake:
        code, _, err = run(
            monkeypatch, "estimate", str(new), *BASE, "--pilot", "5", "--yes",
            env={"GOOGLE_GEMINI_BASE_URL": fake.base_url},
        )  # fmt: skip
        assert code == 2
        assert "GEMINI_API_KEY" in err and "nothing was sent" in err
        assert fake.received == []


def test_pilot_without_a_terminal_and_without_yes_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, files: tuple[Path, Path, Path]
) -> None:
    *_, new = files
    with FakeGemini() as fake:
        code, _, err = run(
            monkeypatch, "estimate", str(new), *BASE, "--pilot", "5",
            env={"GEMINI_API_KEY": "k-test-123", "GOOGLE_GEMINI_BASE_URL": fake.base_url},
        )  # fmt: skip
        assert code == 1 and "pass --yes" in err
        assert fake.received == []


def test_pilot_sends_exactly_n_requests_and_uses_their_output(
    monkeypatch: pytest.MonkeyPatch, files: tuple[Path, Path, Path]
) -> None:
    *_, new = files
    with FakeGemini(output_rule=lambda request, prompt: (40, 60)) as fake:
        fake.set_faults(Fault(429, method="generateContent", nth=2, retry_after="0"))
        code, out, err = run(
            monkeypatch, "estimate", str(new), *BASE, "--pilot", "12", "--yes",
            env={"GEMINI_API_KEY": "k-test-123", "GOOGLE_GEMINI_BASE_URL": fake.base_url},
        )  # fmt: skip
        assert code == 0, err
        calls = [r for r in fake.received if r.path.endswith(":generateContent")]
        assert len(calls) == 13  # 12 requests + the one retried after the 429
        assert len({json.dumps(r.body, sort_keys=True) for r in calls}) == 12
    doc = json.loads(out)
    assert "pilot" in doc["tokens"]["output"]["source"]
    # every pilot answer billed 40 + 60 output tokens: the expectation is 100 per request
    assert doc["tokens"]["output"]["expected"] == 100 * doc["requests"]
    assert "k-test-123" not in out + err
