"""``batchcost.jobs/1``: the journal of a shard folder's batch jobs (``DIR/jobs.json``, ``run/journal.py``).

``submit``, ``status``, ``collect`` and ``cancel`` write it atomically after every step, so that a
run stopped at any point (a crash, Ctrl-C) and started again knows what was uploaded and created.
Times are ISO 8601 in UTC; shard paths are relative to the folder; money is exact decimal strings.
"""

from __future__ import annotations

from typing import Literal

from .common import Count, ExactDecimal, Strict

JOBS_SCHEMA = "batchcost.jobs/1"

__all__ = ["JOBS_SCHEMA", "JobCache", "JobEvent", "JobStats", "JobsDocument", "ShardJob", "ShardResults"]

JobState = Literal["not_submitted", "pending", "running", "succeeded", "failed", "cancelled", "expired", "unknown"]


class JobStats(Strict):
    """The job's ``batchStats`` as the API last reported them (requests in the job and where they are)."""

    requests: Count
    succeeded: Count
    failed: Count
    pending: Count


class ShardResults(Strict):
    """What ``collect`` found in one shard's results.

    ``path`` is the results file beside the shard (null when the job left none: expired, failed
    before any result); ``succeeded`` and ``failed`` count result lines, ``missing`` the shard's keys
    with no result, ``duplicated`` keys with more than one; ``cost`` is what the successful lines
    cost (failed requests are not billed), null when they could not be priced.
    """

    path: str | None
    succeeded: Count
    failed: Count
    missing: Count
    duplicated: Count
    cost: ExactDecimal | None
    collected_at: str


class ShardJob(Strict):
    """One shard and its batch job.

    ``display_name`` (carrying the shard's SHA-256 prefix) names both the uploaded file and the job,
    so that a run started again finds what an interrupted one created but did not record.
    ``upload_started_at`` and ``create_started_at`` are written before the call: a shard with one
    of them set and no ``file`` / ``job`` may have been created remotely, and is looked up first.
    ``estimate`` and ``ceiling`` are the manifest's cost (expected, or the input-only floor) and
    ceiling (every request at its output limit) for the shard;
    ``expires_at`` is 48 hours after the job was created (a job still pending or running then expires).
    """

    index: Count
    path: str
    sha256: str
    requests: Count
    tokens: Count
    wave: Count
    estimate: ExactDecimal | None
    ceiling: ExactDecimal | None
    display_name: str
    upload_started_at: str | None
    file: str | None
    uploaded_at: str | None
    create_started_at: str | None
    job: str | None
    submitted_at: str | None
    state: JobState
    job_created_at: str | None
    expires_at: str | None
    ended_at: str | None
    checked_at: str | None
    stats: JobStats | None
    error: str | None
    results_file: str | None
    results: ShardResults | None
    cancelled_at: str | None


class JobEvent(Strict):
    """One step, in the order they happened (``shard`` null: about the whole folder)."""

    at: str
    shard: Count | None
    event: str
    detail: str


class JobCache(Strict):
    """An advised cache the shards reference (``shard --apply-cache``) and its life on Google's side.

    ``display_name`` carries the cache id and the manifest's SHA-256 prefix, so that a run started
    again finds a cache an interrupted one created but did not record (``create_started_at`` is
    written before the call). ``ttl_hours`` is the TTL it is created with; ``shards`` the shard
    indexes whose lines reference it. ``name``, ``created_at``, ``expires_at`` and ``tokens``
    (``usageMetadata.totalTokenCount``, null when not reported) are as the API answered;
    ``deleted_at`` is when ``collect`` (every job ended) or ``cancel`` deleted it, or found it gone.
    """

    id: str
    display_name: str
    placeholder: str
    ttl_hours: ExactDecimal
    shards: list[Count]
    create_started_at: str | None
    name: str | None
    created_at: str | None
    expires_at: str | None
    tokens: Count | None
    deleted_at: str | None


class JobsDocument(Strict, tag_field="schema", tag=JOBS_SCHEMA, omit_defaults=True):
    """``batchcost.jobs/1``: every shard of a folder, its upload, its job and its results.

    ``budget`` is ``--budget`` (null when the run was confirmed without one); ``budget_basis`` says
    which estimate was held against it (``expected``: the shards' expected cost, output included;
    ``ceiling``: every request at its output limit, the most the shards can cost at the plan's prices). ``stopped`` says
    why submitting stopped before every shard was submitted (over the budget, cancelled), else null.
    ``retry_file`` is the ``retry.jsonl`` the last ``collect`` wrote (failed and missing requests),
    null when every request has a result. ``caches`` (absent, read as null, when the shards reference no cache)
    are the advised caches ``submit`` creates before the first wave.
    """

    batchcost_version: str
    manifest: str
    manifest_sha256: str
    model: str
    platform: Literal["developer"]
    budget: ExactDecimal | None
    budget_basis: Literal["ceiling", "expected"] | None
    created_at: str
    updated_at: str
    stopped: str | None
    retry_file: str | None
    shards: list[ShardJob]
    events: list[JobEvent]
    caches: list[JobCache] | None = None
