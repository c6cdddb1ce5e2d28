"""A quiet progress bar on stderr, for the CLI only.

It appears only when stderr is a terminal and the work has already taken a second, so short runs
and pipelines stay clean.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Callable as ``bar(done, total)``; call :meth:`close` when the work ends."""

    def __init__(self, label: str, *, enabled: bool = True, stream: TextIO | None = None, delay_s: float = 1.0):
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.label = label
        self.start = time.monotonic()
        self.delay_s = delay_s
        self.shown = False
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.delay_s or now - self._last < 0.1:
            return
        self._last = now
        frac = done / total if total else 1.0
        width = 30
        filled = int(width * min(frac, 1.0))
        rate = done / (now - self.start) / 1e6
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {frac:6.1%} {rate:7.1f} MB/s")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()
