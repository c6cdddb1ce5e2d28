"""batchcost: know what a Gemini Batch Mode job will cost, and whether its file is valid, before you submit it.

The public API (imports are lazy so that ``batchcost --help`` starts fast)::

    import batchcost
    result = batchcost.scan("requests.jsonl")          # validate every line, gather figures
    result.valid(), result.problems, result.requests
    plan = batchcost.estimate("requests.jsonl", model="gemini-2.5-flash", output_tokens=300)
    plan.to_json()                                     # the documented batchcost.plan/1 document
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("batchcost")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from .batchfile import Problem, ScanResult, scan
    from .planner.estimate import EstimateOptions, estimate
    from .planner.plan import Plan
    from .pricing import PriceBook
    from .tokens import count_tokens

__all__ = [
    "EstimateOptions",
    "Plan",
    "PriceBook",
    "Problem",
    "ScanResult",
    "__version__",
    "count_tokens",
    "estimate",
    "scan",
]

_LAZY = {
    "scan": ("batchcost.batchfile", "scan"),
    "ScanResult": ("batchcost.batchfile", "ScanResult"),
    "Problem": ("batchcost.batchfile", "Problem"),
    "estimate": ("batchcost.planner.estimate", "estimate"),
    "EstimateOptions": ("batchcost.planner.estimate", "EstimateOptions"),
    "Plan": ("batchcost.planner.plan", "Plan"),
    "PriceBook": ("batchcost.pricing", "PriceBook"),
    "count_tokens": ("batchcost.tokens", "count_tokens"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'batchcost' has no attribute {name!r}")
