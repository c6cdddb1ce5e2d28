"""The JSON documents batchcost writes and reads back (``batchcost.*/1`` contracts).

Each contract's schema id is defined once here, with the loader that checks a saved document
before anything renders or compares it.
"""

from __future__ import annotations

from .plan import PLAN_SCHEMA, check_plan, read_plan

__all__ = ["PLAN_SCHEMA", "check_plan", "read_plan"]
