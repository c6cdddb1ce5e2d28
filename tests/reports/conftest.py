"""Fixed plans for the report tests.

``data/plan_full.json`` is a real plan: ``estimate`` of a generated 48 MB file (the bench
generator's mix, 900 requests sharing one long contract, one request over 200k tokens and three
broken lines; sampled, gemini-2.5-pro compared with two models, 300 output tokens), with the
``shards`` key from ``shard_plan_for(plan, book, tier=1, max_requests=350)``, the ``caching`` key
from ``advise_caching(plan, book, None, hours=48)`` and ``cost.batch_cached`` from the advice.
Only the file path and the tokenizer's cache path were replaced. ``data/plan_small.json`` is the
exact-count plan of the three-line example file.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
XSS = "<script>alert(1)</script>"


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"plan_{name}.json").read_text(encoding="utf-8"))


def xss_plan() -> dict[str, Any]:
    """The full plan with the probe in every string that can come from the user's file or options."""
    plan = copy.deepcopy(load("full"))
    plan["model"] = f"gemini-2.5-pro{XSS}"
    plan["files"][0]["path"] = f"requests/{XSS}.jsonl"
    plan["warnings"].append(f"request key {XSS} has a problem")
    plan["notes"].append(f'note "><img src=x onerror=alert(2)> {XSS}')
    plan["tokens"]["tokenizer_description"] = XSS
    plan["validation"]["problems"][0]["path"] = XSS
    plan["validation"]["problems"][0]["message"] = f"key {XSS} is not a string; use `{XSS}`"
    plan["validation"]["problem_counts"][XSS] = 1
    plan["compare"][0]["model"] = f'" onmouseover="alert(3){XSS}'
    plan["compare"][0]["warnings"].append(XSS)
    plan["prices"][0]["source"] = f"{XSS} javascript:alert(4) https://example.com/?q=<script>"
    plan["shards"]["notes"].append(XSS)
    plan["shards"]["warnings"].append(XSS)
    plan["shards"]["limits"]["max_requests"]["source"] = XSS
    plan["caching"]["candidates"][0]["description"] = f'first content part "You are {XSS} a helpful assistant"'
    plan["caching"]["candidates"][1]["options"]["explicit"]["reasons"][0]["text"] = XSS
    plan["caching"]["summary"] = XSS
    return plan


@pytest.fixture
def full_plan() -> dict[str, Any]:
    return load("full")


@pytest.fixture
def small_plan() -> dict[str, Any]:
    return load("small")
