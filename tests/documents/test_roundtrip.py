"""Every document the commands write decodes with its strict structure and encodes back unchanged.

The writers build plain dicts (``Plan.to_json`` and the others); these tests hold them to the
contracts in ``batchcost.documents``: a field added, dropped, renamed or retyped by a writer fails
here. Documents come from the real command line on ``examples/`` (and two generated files), in
every shape the writers have: priced and not priced modes, unknown output, caching that pays,
several shards and waves, oversized requests, a failed verification, a plan to reconcile against.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from batchcost.cli import main
from batchcost.documents import KINDS, SHARDS_SCHEMA, load, to_builtins
from batchcost.documents.common import dec_hook, enc_hook

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
REQUESTS = str(EXAMPLES / "batch_requests.jsonl")
VERTEX = str(EXAMPLES / "vertex_requests.jsonl")
RESULTS = str(EXAMPLES / "batch_results.jsonl")
ESTIMATE = ("--offline", "--run-date", "2026-11-27", "-q", "--format", "json")


def cli(*argv: str, codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    assert code in codes, (argv, code, err.getvalue())
    doc: dict[str, Any] = json.loads(out.getvalue()) if out.getvalue() else {}  # {} when written with -o
    return doc


def shared_prefix_file(path: Path) -> str:
    """260 requests that share one long document: an explicit cache pays (about 3 MB)."""
    rng = random.Random(1)
    words = [
        "the",
        "report",
        "shows",
        "that",
        "revenue",
        "grew",
        "in",
        "every",
        "region",
        "while",
        "costs",
        "fell",
        "over",
        "the",
        "year",
    ]
    shared = " ".join(rng.choice(words) for _ in range(2600))
    with path.open("w", encoding="utf-8") as fh:
        for i in range(260):
            parts = [{"text": shared}, {"text": f"Question {i}: what grew?"}]
            fh.write(json.dumps({"key": f"k{i}", "request": {"contents": [{"role": "user", "parts": parts}]}}) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every case's document, made once (estimates take a second or two each)."""
    tmp = tmp_path_factory.mktemp("documents")
    docs: dict[str, dict[str, Any]] = {}
    docs["validate broken"] = cli("validate", str(EXAMPLES / "broken_requests.jsonl"), "--format", "json", codes=(1,))
    docs["validate vertex strict"] = cli("validate", VERTEX, "--strict", "--format", "json", codes=(0, 1))

    flash = ("-m", "gemini-2.5-flash")
    floor_plan, full_plan, carbon_plan = tmp / "floor.json", tmp / "full.json", tmp / "carbon.json"
    cli("estimate", REQUESTS, *flash, *ESTIMATE, "-o", str(floor_plan))
    docs["estimate without output"] = json.loads(floor_plan.read_text())
    cli("estimate", REQUESTS, *flash, *ESTIMATE, "--output-tokens", "300",
        "--compare", "gemini-2.5-pro,gemini-2.5-flash-lite", "-o", str(full_plan))  # fmt: skip
    docs["estimate with output and compare"] = json.loads(full_plan.read_text())
    cli("estimate", REQUESTS, "-m", "gemini-4-carbon", "--allow-unpriced", *ESTIMATE, "-o", str(carbon_plan))
    docs["estimate not priced"] = json.loads(carbon_plan.read_text())
    docs["estimate vertex"] = cli(
        "estimate", VERTEX, *flash, "--platform", "vertex", "--output-ratio", "0.5", *ESTIMATE
    )
    docs["estimate heuristic"] = cli("estimate", REQUESTS, *flash, *ESTIMATE, "--tokenizer", "heuristic")
    shared = shared_prefix_file(tmp / "shared.jsonl")
    docs["estimate caching pays"] = cli("estimate", shared, *flash, *ESTIMATE, "--output-tokens", "50")
    docs["estimate other tiers"] = cli(
        "estimate",
        REQUESTS,
        *flash,
        *ESTIMATE,
        "--output-tokens",
        "10",
        "--max-requests",
        "1",
        "--concurrent-jobs",
        "2",
    )

    docs["plan"] = cli("plan", REQUESTS, *flash, *ESTIMATE)
    docs["plan waves"] = cli("plan", REQUESTS, *flash, *ESTIMATE, "--max-requests", "1", "--concurrent-jobs", "2")
    docs["plan vertex"] = cli("plan", VERTEX, *flash, *ESTIMATE, "--platform", "vertex")
    docs["plan oversized"] = cli("plan", REQUESTS, *flash, *ESTIMATE, "--max-bytes", "100", codes=(1,))

    out = tmp / "shards"
    docs["shard"] = cli("shard", REQUESTS, "--out", str(out), *flash, *ESTIMATE, "--max-requests", "2")
    docs["shard manifest.json"] = json.loads((out / "manifest.json").read_text())
    docs["shard --verify"] = cli("shard", "--verify", str(out / "manifest.json"), "--format", "json", "-q")
    first = out / docs["shard"]["shards"][0]["path"]
    first.write_bytes(first.read_bytes()[:-2] + b"\n")
    docs["shard --verify failed"] = cli(
        "shard", "--verify", str(out / "manifest.json"), "--format", "json", "-q", codes=(1,)
    )

    docs.update(jobs_documents(tmp, flash))

    docs["prices"] = cli("prices", "--format", "json", "--run-date", "2026-11-27")
    docs["prices tiered"] = cli("prices", "-m", "gemini-2.5-pro", "--format", "json", "--run-date", "2026-06-01")

    reconcile = ("reconcile", RESULTS, "--format", "json", "-q")
    docs["reconcile"] = cli(*reconcile, *flash, codes=(1,))
    docs["reconcile with plan"] = cli(*reconcile, "--plan", str(full_plan), codes=(1,))
    docs["reconcile with plan without output"] = cli(*reconcile, "--plan", str(floor_plan), codes=(1,))
    docs["reconcile with a plan not priced"] = cli(*reconcile, "--plan", str(carbon_plan), *flash, codes=(1,))
    docs["reconcile with requests"] = cli(*reconcile, *flash, "--requests", REQUESTS, "--mode", "standard", codes=(1,))
    return docs


def jobs_documents(tmp: Path, flash: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``jobs.json`` as submit leaves it (jobs in flight, budget) and as collect leaves it (a failed
    request, an expired job: no results, a null cost, retry.jsonl), against the fake Batch API."""
    from batchcost.run import collect, status, submit
    from tests.fakebatch import FakeBatch
    from tests.run.conftest import quick_remote

    out = tmp / "run"
    cli("shard", REQUESTS, "--out", str(out), *flash, *ESTIMATE, "--max-requests", "2", "--output-tokens", "10")
    docs = {}
    with FakeBatch() as fake:
        fake.failed_keys = {"request_1"}
        fake.outcomes = {"shard-002": "EXPIRED"}
        remote = quick_remote(fake)
        done = submit(out / "manifest.json", budget="5", remote=remote, wait=False)
        docs["jobs.json submitted"] = json.loads(done.journal.path.read_text())
        status(out, remote=remote)
        collect(out, remote=remote, sleep=lambda _s: None)
    docs["jobs.json collected"] = json.loads((out / "jobs.json").read_text())
    return docs


CASES = [
    "validate broken",
    "validate vertex strict",
    "estimate without output",
    "estimate with output and compare",
    "estimate not priced",
    "estimate vertex",
    "estimate heuristic",
    "estimate caching pays",
    "estimate other tiers",
    "plan",
    "plan waves",
    "plan vertex",
    "plan oversized",
    "shard",
    "shard manifest.json",
    "shard --verify",
    "shard --verify failed",
    "jobs.json submitted",
    "jobs.json collected",
    "prices",
    "prices tiered",
    "reconcile",
    "reconcile with plan",
    "reconcile with plan without output",
    "reconcile with a plan not priced",
    "reconcile with requests",
]


def canonical(doc: Any) -> str:
    """JSON text with sorted keys: equal only when keys, values and their JSON types are (1 != 1.0 != true)."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def round_trip(doc: dict[str, Any], kind: str | None = None) -> Any:
    typed = load(doc, kind)
    assert canonical(to_builtins(typed)) == canonical(doc)
    # what another program does with the contract: decode the text with the strict structure, encode
    text = json.dumps(doc).encode()
    direct = msgspec.json.decode(text, type=KINDS[doc["schema"]], dec_hook=dec_hook)
    assert direct == typed
    assert canonical(json.loads(msgspec.json.encode(direct, enc_hook=enc_hook))) == canonical(doc)
    return typed


@pytest.mark.parametrize("case", CASES)
def test_document_round_trips_through_its_contract(case: str, documents: dict[str, dict[str, Any]]) -> None:
    doc = documents[case]
    typed = round_trip(doc)
    assert type(typed) is KINDS[doc["schema"]]


def test_the_cases_cover_every_contract_and_shape(documents: dict[str, dict[str, Any]]) -> None:
    assert sorted(documents) == sorted(CASES)
    seen = {doc["schema"] for doc in documents.values()} | {documents["plan"]["shards"]["schema"]}
    assert seen == set(KINDS)
    d = documents
    # the shapes the cases are there for
    assert d["estimate not priced"]["cost"]["batch"].keys() == {"not_priced"}
    assert d["estimate without output"]["tokens"]["output"]["expected"] is None
    assert d["estimate caching pays"]["caching"]["recommendation"] is not None
    assert "batch_cached" in d["estimate caching pays"]["cost"]
    assert d["estimate heuristic"]["tokens"]["method"] == "approximate"
    assert [t["tier"] for t in d["estimate other tiers"]["other_tiers"]] == [2, 3]
    assert d["plan waves"]["shards"]["totals"]["waves"] == 2 and d["plan waves"]["other_tiers"]
    assert d["plan oversized"]["shards"]["oversized"]
    assert d["shard --verify"]["ok"] and not d["shard --verify failed"]["ok"]
    assert any(r["usd"] is None for r in d["prices"]["rates"])
    assert d["jobs.json submitted"]["budget"] == "5" and d["jobs.json collected"]["retry_file"] == "retry.jsonl"
    collected = d["jobs.json collected"]["shards"]
    assert collected[0]["results"]["failed"] == 1 and collected[1]["state"] == "expired"
    assert collected[1]["results"]["cost"] is None
    assert any(r["tier"] for r in d["prices tiered"]["rates"])
    assert d["reconcile"]["variance"] is None and d["reconcile"]["keys"] is None
    units = {c["unit"] for c in d["reconcile with plan"]["variance"]["components"]}
    assert units == {"tokens", "USD"}
    assert d["reconcile with plan without output"]["variance"]["difference_basis"] == "floor"
    assert d["reconcile with a plan not priced"]["variance"]["difference"] is None
    assert d["reconcile with requests"]["keys"]["checked"] is True


@pytest.mark.parametrize("case", ["estimate with output and compare", "plan", "estimate caching pays"])
def test_the_shard_plan_inside_a_plan_is_a_document_of_its_own(case: str, documents: dict[str, Any]) -> None:
    shards = documents[case]["shards"]
    round_trip(shards, SHARDS_SCHEMA)


def test_exact_figures_come_back_as_decimals_and_keep_every_digit(documents: dict[str, Any]) -> None:
    from decimal import Decimal

    doc = documents["estimate with output and compare"]
    typed = load(doc)
    batch = typed.cost["batch"]
    assert isinstance(batch.floor, Decimal) and str(batch.floor) == doc["cost"]["batch"]["floor"]
    # a figure below a millionth keeps its plain form (str(Decimal) would write an exponent)
    tiny = json.loads(json.dumps(doc))
    tiny["cost"]["batch"]["floor"] = "0.000000075"
    tiny["cost"]["batch"]["low"] = "0.0030"
    again = to_builtins(load(tiny))
    assert (again["cost"]["batch"]["floor"], again["cost"]["batch"]["low"]) == ("0.000000075", "0.0030")


def test_a_plan_saved_before_a_field_was_added_still_loads() -> None:
    """A real plan of a 48 MB file (sampled, a >200k-tier request, shards, caching that pays), saved
    by a batchcost from before ``other_tiers``: it loads, and reads the added field as its default."""
    saved = json.loads((ROOT / "tests/reports/data/plan_full.json").read_text(encoding="utf-8"))
    assert "other_tiers" not in saved and saved["tokens"]["above_200k"] is not None
    typed = load(saved)
    assert typed.other_tiers == [] and typed.comparison is None and typed.tools is None
    assert "by_component" not in saved["cost"]["batch"]  # from before by_component too: left out
    assert typed.tokens.output.images is None and typed.tokens.output.image_tokens is None
    # added later: an image-output model's generated images, a speech model's seconds of speech
    images = {"images": None, "image_tokens": None, "audio_seconds": None}
    expected = {**saved, "other_tiers": [], "comparison": None, "tools": None}
    # added later too: whether the model's tokenizer is assumed (older documents did not say: False)
    assert typed.tokens.tokenizer_assumed is False
    expected["tokens"] = {
        **saved["tokens"],
        "output": {**saved["tokens"]["output"], **images},
        "tokenizer_assumed": False,
    }
    expected["compare"] = [{**c, "output": {**c["output"], **images}} for c in saved.get("compare", [])]
    assert canonical(to_builtins(typed)) == canonical(expected)
