"""Pools of forked processes that notice when one of their workers dies.

``multiprocessing.Pool`` replaces a worker that is killed (by the kernel's out-of-memory killer, or
by SIGBUS when a file it has mapped shrinks) and then waits for that worker's task for ever: the
command hangs with nothing on the screen. The commands that fork note their pool's processes when
they start it (:func:`started_workers`) and check between results that every one is still there
(:func:`check_workers`).
"""

from __future__ import annotations

from typing import Any


class WorkerLost(Exception):
    """A worker process ended without its result (killed by a signal)."""


def live_children(ctx: Any) -> set[int]:
    """The process ids of this process's children that are alive (``ctx``: a multiprocessing context)."""
    return {p.pid for p in ctx.active_children() if p.pid is not None}


def started_workers(ctx: Any, before: set[int]) -> set[int]:
    """The workers a pool started: the live children now, less those alive ``before`` it was made."""
    return live_children(ctx) - before


def check_workers(ctx: Any, workers: set[int]) -> None:
    """Raise :class:`WorkerLost` when one of ``workers`` is no longer alive.

    A pool's workers live until it is closed, so call this only while results are still awaited.
    """
    if not workers <= live_children(ctx):
        raise WorkerLost("a worker process ended without its result")
