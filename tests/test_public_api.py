"""What a notebook user finds in `import batchcost`, and that it stays cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import batchcost

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_dir_lists_the_public_api_and_every_error() -> None:
    names = set(dir(batchcost))
    assert {"scan", "estimate", "shard", "reconcile", "PriceBook", "Plan", "Manifest", "__version__"} <= names
    for error in ("BatchcostError", "InputError", "OutputError", "PlanError", "PricingError", "UnknownModelError",
                  "UnpricedError", "TokenizerError", "CredentialsError", "ApiError"):  # fmt: skip
        assert error in names and issubclass(getattr(batchcost, error), batchcost.BatchcostError)
    assert set(batchcost.__all__) <= names
    assert sorted(batchcost.__all__) == sorted(batchcost._LAZY)  # one list, no name forgotten


def test_import_batchcost_loads_no_heavy_package() -> None:
    code = "import sys, batchcost; print(sorted(m for m in ('numpy', 'google.genai', 'pandas', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_shard_and_reconcile_from_python(tmp_path: Path) -> None:
    manifest = batchcost.shard(
        EXAMPLES / "batch_requests.jsonl", tmp_path / "out", model="gemini-2.5-flash", offline=True,
        output_tokens=100, max_requests=2,
    )  # fmt: skip
    assert [s.requests for s in manifest.shards] == [2, 1]
    saved = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert saved == manifest.to_json()
    with pytest.raises(batchcost.OutputError, match="is not empty"):
        batchcost.shard(EXAMPLES / "batch_requests.jsonl", tmp_path / "out", model="gemini-2.5-flash", offline=True)
    rec = batchcost.reconcile(EXAMPLES / "batch_results.jsonl", model="gemini-2.5-flash", run_date=None)
    doc = rec.to_json()
    assert doc["schema"] == "batchcost.reconcile/1" and Decimal(doc["cost"]["total"]) > 0
