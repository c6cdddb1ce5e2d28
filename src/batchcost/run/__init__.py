"""Running the plan: submit the shards wave by wave, watch the jobs, collect and reconcile, or cancel.

``submit`` (:mod:`.submit`) uploads each shard and creates its batch job within the plan's quota and
the budget; ``status`` and ``cancel`` (:mod:`.status`) watch and stop jobs; ``collect``
(:mod:`.collect`) downloads, checks, prices and reconciles the results and writes ``retry.jsonl``.
Every step is recorded in ``DIR/jobs.json`` (:mod:`.journal`, ``batchcost.jobs/1``) so that a run
can stop at any point and start again. :mod:`.remote` holds the API calls, through
``batchcost.gemini``'s one client route.
"""

from __future__ import annotations

from .collect import Collected, ShardOutcome, collect
from .journal import JOURNAL_NAME, RETRY_NAME, Journal
from .status import JobRow, Summary, cancel, status, summary
from .submit import NeedsConfirmation, OverBudget, Preflight, Submitted, preflight, submit

__all__ = [
    "JOURNAL_NAME",
    "RETRY_NAME",
    "Collected",
    "JobRow",
    "Journal",
    "NeedsConfirmation",
    "OverBudget",
    "Preflight",
    "ShardOutcome",
    "Submitted",
    "Summary",
    "cancel",
    "collect",
    "preflight",
    "status",
    "submit",
    "summary",
]
