"""Choosing non-overlapping groups to cache (a request can reference only one cache)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import numpy as np

from .groups import Context, Group, high_share

MAX_FORCED_FIRST = 8  # extra greedy selections, each starting from one of the best candidates


def _effective(ctx: Context, g: Group, taken: np.ndarray, by_template: np.ndarray) -> tuple[int, int, np.ndarray]:
    """(requests, of them above the tier, rows now free) of a group, after chosen caches took theirs."""
    if g.rows is not None:
        free = g.rows[~taken[g.rows]]
        free_sample = np.intersect1d(free, ctx.sample, assume_unique=True)
        share = 1.0 - (float(by_template[free_sample].mean()) if len(free_sample) else 0.0)
        n = round(len(free) * share)
        return n, round(n * high_share(ctx, free)), free
    s = g.sample_rows
    free = s[~(taken[s] | by_template[s])]
    n = round(g.n * len(free) / len(s)) if len(s) else 0
    return n, round(n * g.high_share), free


Score = Callable[[Group, int, int], Decimal | None]
Selection = list[tuple[Group, int, int, Decimal]]


def _greedy(
    ctx: Context, groups: Sequence[Group], score: Score, *, per_request: bool, first: Group | None
) -> Selection:
    """Non-overlapping groups picked one by one (by saving, or saving per request), each priced on
    the requests still free; ``first`` is forced as the first pick."""
    n_rows = len(ctx.eligible)
    taken = np.zeros(n_rows, bool)
    by_template = np.zeros(n_rows, bool)
    left = list(groups)
    chosen: Selection = []
    while left:
        best: tuple[Decimal, Decimal, Group, int, int, np.ndarray] | None = None
        for g in [first] if first is not None and not chosen else left:
            n, n_high, free = _effective(ctx, g, taken, by_template)
            if n < ctx.min_requests:
                continue
            s = score(g, n, n_high)
            if s is None or s <= 0:
                continue
            key = s / n if per_request else s
            if best is None or key > best[0]:
                best = (key, s, g, n, n_high, free)
        if best is None:
            break
        _, s, g, n, n_high, free = best
        (taken if g.rows is not None else by_template)[free] = True
        chosen.append((g, n, n_high, s))
        left.remove(g)
    return chosen


def select_groups(ctx: Context, groups: Sequence[Group], score: Score) -> Selection:
    """The best of a few greedy selections of non-overlapping groups (a request uses one cache).

    Greedy by saving alone can take a large group that blocks two better smaller ones (a shared system
    instruction over every request vs a shared document plus that instruction over some), so greedy
    by saving per request and greedy runs forced to start from each of the best candidates are tried
    too, and the selection saving the most wins. A group's saving only falls as it loses requests, so
    groups that do not pay whole are left out.
    """
    useful = [g for g in groups if (s := score(g, g.n, round(g.n * g.high_share))) is not None and s > 0]
    if not useful:
        return []
    runs = [_greedy(ctx, useful, score, per_request=p, first=None) for p in (False, True)]
    runs += [_greedy(ctx, useful, score, per_request=False, first=g) for g in useful[:MAX_FORCED_FIRST]]
    return max(runs, key=lambda run: sum((s for *_, s in run), Decimal(0)))
