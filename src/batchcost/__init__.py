"""batchcost: know what a Gemini Batch Mode job will cost, and whether its file is valid, before you submit it.

The public API (imports are lazy so that ``batchcost --help`` starts fast)::

    import batchcost
    result = batchcost.scan("requests.jsonl")          # validate every line, gather figures
    result.valid(), result.problems, result.requests
    plan = batchcost.estimate("requests.jsonl", model="gemini-2.5-flash", output_tokens=300)
    plan.to_json()                                     # the documented batchcost.plan/1 document
    plan.requests()                                    # one row per request: a pandas DataFrame
    manifest = batchcost.shard("requests.jsonl", "shards/", model="gemini-2.5-flash", output_tokens=300)
    actual = batchcost.reconcile("results.jsonl", plan="plan.json")   # what the job really cost
    actual.to_json()                                   # the batchcost.reconcile/1 document
    actual.requests()                                  # one row per result line, with its cost
    batchcost.submit("shards/manifest.json", budget="25")   # upload, create the jobs wave by wave
    journal, summary = batchcost.status("shards/")          # where every job stands
    collected = batchcost.collect("shards/")                # results, key check, reconcile, retry.jsonl
    batchcost.cancel("shards/")                             # stop every unfinished job

Every error is a :class:`batchcost.BatchcostError` subclass with a one-line message; the library
never prints or exits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .afterjob.reconcile import Reconciliation, reconcile
    from .batchfile import Problem, ScanResult, scan
    from .errors import (
        ApiError,
        BatchcostError,
        CredentialsError,
        InputError,
        OutputError,
        PlanError,
        PricingError,
        TokenizerError,
        UnknownModelError,
        UnpricedError,
    )
    from .planner.estimate import EstimateOptions, estimate
    from .planner.plan import Plan
    from .planner.shard_manifest import Manifest
    from .planner.sharding import shard
    from .pricing import PriceBook
    from .run import Collected, Submitted, Summary, cancel, collect, status, submit
    from .tokens import count_tokens
    from .version import __version__

_ERRORS = (
    "ApiError",
    "BatchcostError",
    "CredentialsError",
    "InputError",
    "OutputError",
    "PlanError",
    "PricingError",
    "TokenizerError",
    "UnknownModelError",
    "UnpricedError",
)

# name -> (module, attribute); imported on first use so that `import batchcost` stays instant
_LAZY = {
    "scan": ("batchcost.batchfile", "scan"),
    "ScanResult": ("batchcost.batchfile", "ScanResult"),
    "Problem": ("batchcost.batchfile", "Problem"),
    "estimate": ("batchcost.planner.estimate", "estimate"),
    "EstimateOptions": ("batchcost.planner.estimate", "EstimateOptions"),
    "Plan": ("batchcost.planner.plan", "Plan"),
    "shard": ("batchcost.planner.sharding", "shard"),
    "Manifest": ("batchcost.planner.shard_manifest", "Manifest"),
    "reconcile": ("batchcost.afterjob.reconcile", "reconcile"),
    "Reconciliation": ("batchcost.afterjob.reconcile", "Reconciliation"),
    "PriceBook": ("batchcost.pricing", "PriceBook"),
    "count_tokens": ("batchcost.tokens", "count_tokens"),
    "submit": ("batchcost.run", "submit"),
    "status": ("batchcost.run", "status"),
    "collect": ("batchcost.run", "collect"),
    "cancel": ("batchcost.run", "cancel"),
    "Submitted": ("batchcost.run", "Submitted"),
    "Summary": ("batchcost.run", "Summary"),
    "Collected": ("batchcost.run", "Collected"),
    "__version__": ("batchcost.version", "__version__"),
    **{name: ("batchcost.errors", name) for name in _ERRORS},
}

__all__ = [
    "ApiError",
    "BatchcostError",
    "Collected",
    "CredentialsError",
    "EstimateOptions",
    "InputError",
    "Manifest",
    "OutputError",
    "Plan",
    "PlanError",
    "PriceBook",
    "PricingError",
    "Problem",
    "Reconciliation",
    "ScanResult",
    "Submitted",
    "Summary",
    "TokenizerError",
    "UnknownModelError",
    "UnpricedError",
    "__version__",
    "cancel",
    "collect",
    "count_tokens",
    "estimate",
    "reconcile",
    "scan",
    "shard",
    "status",
    "submit",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    raise AttributeError(f"module 'batchcost' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
