"""A document that is not what batchcost writes is refused with one line naming the file and the field."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchcost import reconcile
from batchcost.documents import MADE_BY, PLAN_SCHEMA, RECONCILE_SCHEMA, load
from batchcost.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
PLAN = json.loads((ROOT / "tests/reports/data/plan_full.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reconciled() -> dict[str, Any]:
    rec = reconcile(
        ROOT / "examples/batch_results.jsonl", model="gemini-2.5-flash", run_date=datetime.date(2026, 11, 27),
        requests=[ROOT / "examples/batch_requests.jsonl"],
    )  # fmt: skip
    return rec.to_json()


def refused(doc: Any, tmp_path: Path, kind: str | None = None) -> str:
    """The message for ``doc`` saved as ``doc.json``; checks it is one line naming the file."""
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load(path, kind)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert info.value.path == str(path)
    return message.removeprefix(f"{path}: ")


def edited(doc: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    copied = copy.deepcopy(doc)
    change(copied)
    return copied


HINT = f"; not the {PLAN_SCHEMA} document {MADE_BY[PLAN_SCHEMA]} writes"

PLAN_CASES: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    (
        "money as a float",
        lambda d: d["cost"]["batch"].update(floor=1.25),
        '$.cost.batch.floor: expected an exact decimal string such as "1.25", got 1.25',
    ),
    (
        "money with an exponent",
        lambda d: d["compare"][0]["cost"]["flex"].update(high="3E-7"),
        '$.compare[0].cost.flex.high: expected an exact decimal string such as "1.25", got "3E-7"',
    ),
    (
        "a token total as a string",
        lambda d: d["tokens"]["input"].update(expected="29"),
        "$.tokens.input.expected: expected `int`, got `str`",
    ),
    (
        "a negative count under an open map",
        lambda d: d["tokens"]["input"]["by_modality"]["text"].update(low=-1),
        "$.tokens.input.by_modality.text.low: expected `int` >= 0",
    ),
    (
        "a map key that is not a name",
        lambda d: d["validation"]["problem_counts"].update({"bad key!": "3"}),
        '$.validation.problem_counts["bad key!"]: expected `int`, got `str`',
    ),
    ("a missing section", lambda d: d.pop("tokens"), "$.tokens: missing"),
    (
        "a missing nested field",
        lambda d: d["shards"]["totals"].pop("cost_ceiling"),
        "$.shards.totals.cost_ceiling: missing",
    ),
    ("an unknown field", lambda d: d["caching"].update(colour="red"), "$.caching.colour: unknown field"),
    (
        "a mode with some figures",
        lambda d: d["cost"]["standard"].pop("ceiling"),
        "$.cost.standard: expected every figure (or not_priced), missing ceiling",
    ),
    (
        "a not-priced mode with figures",
        lambda d: d["cost"]["standard"].update(not_priced="why"),
        "$.cost.standard: a mode that is not priced has no figures, got floor, expected, low, high, ceiling",
    ),
    (
        "a value outside its set",
        lambda d: d["tokens"].update(method="guessed"),
        "$.tokens.method: invalid enum value 'guessed'",
    ),
    ("a date that is not one", lambda d: d.update(run_date="2026-02-30"), "$.run_date: invalid RFC3339 encoded date"),
    (
        "the inner schema",
        lambda d: d["shards"].update(schema="batchcost.shards/2"),
        "$.shards.schema: invalid value 'batchcost.shards/2'",
    ),
    (
        "a line range of one",
        lambda d: d["shards"]["shards"][1].update(lines=[[5]]),
        "$.shards.shards[1].lines[0]: expected `array` of length >= 2",
    ),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in PLAN_CASES], ids=[c[0] for c in PLAN_CASES])
def test_a_bad_field_is_named_by_its_path(
    change: Callable[[dict[str, Any]], Any], expected: str, tmp_path: Path
) -> None:
    assert refused(edited(PLAN, change), tmp_path) == expected + HINT


def test_reconcile_fields_are_named_too(reconciled: dict[str, Any], tmp_path: Path) -> None:
    hint = f"; not the {RECONCILE_SCHEMA} document {MADE_BY[RECONCILE_SCHEMA]} writes"
    assert load(reconciled).failed == 1  # the untouched document loads
    bad = edited(reconciled, lambda d: d["failed_by_kind"].update({"400 INVALID_ARGUMENT": 1.5}))
    assert refused(bad, tmp_path) == '$.failed_by_kind["400 INVALID_ARGUMENT"]: expected `int`, got `float`' + hint
    bad = edited(reconciled, lambda d: d["modes"]["standard"].clear())
    assert refused(bad, tmp_path) == "$.modes.standard: expected either total or not_priced" + hint
    bad = edited(reconciled, lambda d: d["keys"].pop("checked"))
    assert refused(bad, tmp_path) == "$.keys.checked: missing" + hint
    bad = edited(reconciled, lambda d: d["cost"]["by_component"].update(output=None))
    assert (
        refused(bad, tmp_path)
        == '$.cost.by_component.output: expected an exact decimal string such as "1.25", got null' + hint
    )


def test_not_a_document(tmp_path: Path) -> None:
    assert refused([1, 2], tmp_path).startswith("not a batchcost document (the JSON is not an object)")
    assert refused({"valid": True}, tmp_path).startswith("not a batchcost document (no schema key; batchcost writes ")
    message = refused({**PLAN, "schema": "batchcost.plan/2"}, tmp_path)
    assert message.startswith(
        'not a batchcost document (schema "batchcost.plan/2"; batchcost writes batchcost.validation/1, '
    )
    assert refused(PLAN, tmp_path, RECONCILE_SCHEMA) == (
        f"schema 'batchcost.plan/1', expected 'batchcost.reconcile/1'; give the JSON {MADE_BY[RECONCILE_SCHEMA]} writes"
    )
    with pytest.raises(ValueError, match="unknown document kind 'plan'"):
        load(PLAN, "plan")


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    def message(path: Path, kind: str | None = PLAN_SCHEMA) -> str:
        with pytest.raises(InputError) as info:
            load(path, kind)
        text = str(info.value)
        assert "\n" not in text and text.startswith(f"{path}: ")
        return text.removeprefix(f"{path}: ")

    assert message(tmp_path / "missing.json") == f"no such file; give the JSON {MADE_BY[PLAN_SCHEMA]} writes"
    assert message(tmp_path) == "is a folder; give the document's JSON file"
    (tmp_path / "bad.json").write_text('{"schema": "batchcost.plan/1",\n oops}')
    assert message(tmp_path / "bad.json").startswith("line 2, column 2: not valid JSON (Expecting property name")
    (tmp_path / "nan.json").write_text('{"schema": "batchcost.plan/1", "x": NaN}')
    assert (
        message(tmp_path / "nan.json", None)
        == "not valid JSON (NaN is not a JSON number); give the JSON a batchcost command writes"
    )
    (tmp_path / "latin1.json").write_bytes(b'{"path": "caf\xe9"}')
    assert message(tmp_path / "latin1.json").startswith("not UTF-8 text")


def test_the_sources_load_accepts(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(PLAN), encoding="utf-8")
    from_path, from_text, from_bytes, from_dict = load(path), load(str(path)), load(path.read_bytes()), load(PLAN)
    assert from_path == from_text == from_bytes == from_dict
    with pytest.raises(InputError, match=r"^saved plan: \$\.tokens: missing"):
        load({k: v for k, v in PLAN.items() if k != "tokens"}, name="saved plan")
    with pytest.raises(InputError, match=r"^the document: \$\.tokens: missing"):
        load({k: v for k, v in PLAN.items() if k != "tokens"})
