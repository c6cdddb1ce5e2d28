"""Where the scan and the token counting run: this machine's processes, or a Dask cluster.

``--engine local`` (the default) is :func:`batchcost.batchfile.scan` and
:func:`batchcost.tokens.count_tokens` as they are. ``--engine dask`` is :class:`DaskEngine`: the same
scan pieces (``batchfile.scan_worker``) run as Dask tasks, one per file or byte range, and their
partial results come back to be merged by the same code (``batchfile.scanner.merge_files``); the
token counting runs as Dask tasks with the tokenizer shipped to each worker once
(:mod:`.count_tasks`). Nothing here imports Dask until a :class:`DaskEngine` is made.

Example::

    with DaskEngine() as engine:               # a local cluster, one worker per core
        result = engine.scan(["a.jsonl", "b.jsonl"], sample_size=2000, seed=0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ENGINES", "DaskEngine"]

ENGINES = ("local", "dask")

if TYPE_CHECKING:
    from .cluster import DaskEngine


def __getattr__(name: str) -> Any:
    if name == "DaskEngine":
        from .cluster import DaskEngine

        return DaskEngine
    raise AttributeError(name)
