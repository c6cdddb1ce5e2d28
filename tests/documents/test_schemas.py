"""The shipped JSON Schema files are what the structures generate, and documents/ stands alone."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from batchcost.documents import KINDS
from batchcost.documents.schemafiles import SCHEMA_DIR, file_name, schema_files, write_schema_files

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "batchcost" / "documents"


def test_shipped_schema_files_are_what_the_structures_generate() -> None:
    expected = schema_files()
    shipped = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*")}
    stale = sorted(name for name in expected.keys() | shipped.keys() if expected.get(name) != shipped.get(name))
    assert stale == [], f"run `python -m batchcost.documents.schemafiles` to write {', '.join(stale)} again"


def test_write_schema_files_writes_one_file_per_contract(tmp_path: Path) -> None:
    written = write_schema_files(tmp_path)
    assert sorted(p.name for p in written) == sorted(file_name(s) for s in KINDS)
    assert file_name("batchcost.shard-plan/1") == "shard-plan.schema.json"


def objects(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            found.append(node)
        for value in node.values():
            found += objects(value)
    elif isinstance(node, list):
        for value in node:
            found += objects(value)
    return found


@pytest.mark.parametrize("schema_id", list(KINDS))
def test_each_schema_is_strict_and_names_its_contract(schema_id: str) -> None:
    schema = json.loads((SCHEMA_DIR / file_name(schema_id)).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == schema_id
    root = schema["$defs"][schema["$ref"].rpartition("/")[2]]
    assert root["properties"]["schema"] == {"enum": [schema_id]} and "schema" in root["required"]
    for obj in objects(schema):
        assert obj["additionalProperties"] is False, obj["title"]
    money = schema["$defs"].get("ModeCost")
    if money is not None:  # either every figure or not_priced, which the fields alone cannot say
        assert money["properties"]["floor"]["anyOf"][0]["pattern"] == "^-?[0-9]+(\\.[0-9]+)?$"
        assert [sorted(alt["required"]) for alt in money["oneOf"]] == [
            ["not_priced"],
            ["ceiling", "expected", "floor", "high", "low"],
        ]


def test_documents_import_nothing_of_the_product_but_errors() -> None:
    offences = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                target = "batchcost." + ("documents." if node.level == 1 else "") + (node.module or "")
            elif isinstance(node, ast.ImportFrom):
                target = node.module or ""
            elif isinstance(node, ast.Import):
                target = ",".join(alias.name for alias in node.names)
            else:
                continue
            if "batchcost" in target and not target.startswith(("batchcost.documents", "batchcost.errors")):
                offences.append(f"{path.name}:{node.lineno}: {target}")
    assert offences == []
