"""``batchcost.validation/1``: what ``validate --format json`` writes (see ``docs/architecture.md``)."""

from __future__ import annotations

VALIDATION_SCHEMA = "batchcost.validation/1"
