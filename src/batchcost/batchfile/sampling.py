"""The scan's sample: a uniform sample of usable requests, the same however the file was split.

Sampling is bottom-k on a keyed hash of each line's position: every usable request gets a
pseudo-random priority from ``(seed, file, byte offset)`` and the ``k`` smallest are kept. That is a
uniform sample without replacement, and it is the same whichever way the file was split: each range
keeps its own ``k`` smallest, and the ``k`` smallest of those are the file's.

A sample is held as a heap of ``(-priority, row)``: its top is the largest priority kept, the one
a smaller priority replaces.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_MASK = (1 << 64) - 1


def splitmix(x: int) -> int:
    """SplitMix64's finaliser: a well-mixed 64-bit hash of ``x``."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def file_key(seed: int, file_index: int) -> int:
    """The key of one file's priorities: :func:`priority` mixes it with each line's offset."""
    return splitmix(seed ^ (file_index << 48))


def priority(key: int, offset: int) -> int:
    """The priority of the line at byte ``offset`` of the file whose key is ``key``."""
    return splitmix(key ^ offset)


def offer(heap: list[tuple[int, int]], k: int, prio: int, row: int) -> None:
    """Keep ``row`` in the sample ``heap`` (at most ``k`` rows) if its priority is among the ``k`` smallest."""
    if len(heap) < k:
        heapq.heappush(heap, (-prio, row))
    elif prio < -heap[0][0]:
        heapq.heapreplace(heap, (-prio, row))


def offer_many(heap: list[tuple[int, int]], k: int, key: int, offsets: list[int], rows: list[int]) -> None:
    """:func:`offer` each of many lines (their byte ``offsets`` and ``rows``), hashed together with numpy.

    The same sample as offering them one by one: priorities are distinct (SplitMix64 is a bijection and
    offsets in one file are distinct), so the ``k`` smallest are the same set in any order.
    """
    import numpy as np

    z = np.array(offsets, np.uint64) ^ np.uint64(key)
    # SplitMix64's finaliser on every element; uint64 arithmetic wraps modulo 2**64 as the masks do above
    z += np.uint64(0x9E3779B97F4A7C15)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    if len(heap) == k and k:
        z_top = np.uint64(-heap[0][0])
        keep = np.flatnonzero(z < z_top)  # only a priority under the largest kept can enter
    else:
        keep = np.arange(len(z))
    if len(keep) > k:
        keep = keep[np.argpartition(z[keep], k - 1)[:k]] if k else keep[:0]
    prios = z[keep].tolist()
    for j, prio in zip(keep.tolist(), prios, strict=True):
        offer(heap, k, prio, rows[j])


def shifted(heap: list[tuple[int, int]], row_base: int) -> list[tuple[int, int]]:
    """A range's sample with its rows numbered from ``row_base`` (the range's first row in the scan)."""
    return [(neg, row_base + r) for neg, r in heap]


def chosen_rows(candidates: list[tuple[int, int]], k: int) -> npt.NDArray[np.int64]:
    """The rows of the ``k`` smallest priorities among every range's sample, in row order."""
    import numpy as np

    chosen = heapq.nlargest(k, candidates) if k else []  # largest -priority == smallest priority
    return np.array(sorted(r for _, r in chosen), dtype=np.int64)
