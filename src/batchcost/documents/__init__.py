"""The JSON documents batchcost writes and reads back: every ``batchcost.*/1`` contract, once.

Each contract is a typed structure (:mod:`msgspec` structs, one module per contract) with its schema
id; :func:`load` reads any of them and checks every field, and ``schemas/<name>.schema.json``
(generated from the structures, see :mod:`batchcost.documents.schemafiles`) describes them for other
tools. ``docs/contracts.md`` says who writes and who reads each one. :func:`read_plan` is the
lighter check the report renderers rely on.

The writers (``Plan.to_json`` and the others) build plain dicts; the tests decode what they write
with these structures, so a writer that drifts from its contract fails them.
"""

from __future__ import annotations

from .common import ExactDecimal, ModeCost, to_builtins
from .jobs import JOBS_SCHEMA, JobsDocument
from .loader import KINDS, MADE_BY, Document, load
from .manifest import MANIFEST_SCHEMA, SHARD_VERIFY_SCHEMA, ShardManifest, ShardVerify
from .plan import PLAN_SCHEMA, PlanDocument, check_plan, read_plan
from .prices import PRICES_SCHEMA, PricesDocument
from .reconcile import RECONCILE_SCHEMA, ReconcileDocument
from .shards import SHARD_PLAN_SCHEMA, SHARDS_SCHEMA, ShardPlanDocument, ShardsDocument
from .validation import VALIDATION_SCHEMA, ValidationDocument

__all__ = [
    "JOBS_SCHEMA",
    "KINDS",
    "MADE_BY",
    "MANIFEST_SCHEMA",
    "PLAN_SCHEMA",
    "PRICES_SCHEMA",
    "RECONCILE_SCHEMA",
    "SHARDS_SCHEMA",
    "SHARD_PLAN_SCHEMA",
    "SHARD_VERIFY_SCHEMA",
    "VALIDATION_SCHEMA",
    "Document",
    "ExactDecimal",
    "JobsDocument",
    "ModeCost",
    "PlanDocument",
    "PricesDocument",
    "ReconcileDocument",
    "ShardManifest",
    "ShardPlanDocument",
    "ShardVerify",
    "ShardsDocument",
    "ValidationDocument",
    "check_plan",
    "load",
    "read_plan",
    "to_builtins",
]
