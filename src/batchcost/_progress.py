"""Progress on stderr, for the CLI only: one line per stage, in the stage's own unit, with a rate and an ETA.

A stage with a measurable amount of work shows a bar, the amount done in its unit (MB while reading,
requests while counting tokens, shards while writing), the rate in that unit and the time left; a
step whose progress cannot be measured shows a spinner with its name and the time it has taken, so
the screen is never blank while batchcost works.

Nothing is drawn unless stderr is a terminal (not when piped or redirected, not with ``-q``, not on
a ``TERM=dumb`` terminal), and only once the command has run for a second, so short runs and
pipelines stay clean. ``NO_COLOR`` (set and not empty) draws without colour or any other text style.
rich draws the line; it is imported only when a line is first drawn, so ``batchcost --help`` and
short commands never load it.

The line is transient: it is erased when the work ends, before the command prints its result.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

#: The units a stage can count in; None is a step without measurable progress (a spinner).
UNITS = ("bytes", "requests", "shards")


def is_terminal(stream: TextIO, env: Mapping[str, str]) -> bool:
    """True when progress may be drawn on ``stream``: a terminal that understands cursor movement."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
    return bool(tty) and env.get("TERM", "") != "dumb"


def no_color(env: Mapping[str, str]) -> bool:
    """``NO_COLOR`` set to anything but the empty string turns colour off (no-color.org)."""
    return env.get("NO_COLOR", "") != ""


def amount(done: float, total: float | None, unit: str) -> str:
    """The work done (and to do) in its unit: ``12.3/200.0 MB``, ``1,230/2,942 requests``, ``3/12 shards``."""
    if unit == "bytes":
        scale, name = (1e9, "GB") if (total or done) >= 1e9 else (1e6, "MB")
        of = "" if total is None else f"/{total / scale:,.1f}"
        return f"{done / scale:,.1f}{of} {name}"
    of = "" if total is None else f"/{int(total):,}"
    return f"{int(done):,}{of} {unit}"


def rate(per_second: float | None, unit: str) -> str:
    """A rate in the stage's unit: ``45.6 MB/s``, ``310 requests/s``, ``0.4 shards/s``; empty before it is known."""
    if per_second is None:
        return ""
    if unit == "bytes":
        return f"{per_second / 1e6:,.1f} MB/s"
    return f"{per_second:,.0f} {unit}/s" if per_second >= 10 else f"{per_second:,.1f} {unit}/s"


def clock(seconds: float | None) -> str:
    """``0:01:23``; ``-:--:--`` when unknown."""
    if seconds is None:
        return "-:--:--"
    s = max(0, round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class Display:
    """The progress line of one command on one stream.

    ``stage(label, unit)`` starts a stage (ending the one before), ``update(done, total)`` reports
    on it, ``stage(label, None)`` shows a spinner for a step without measurable progress,
    :meth:`clear` erases the line until the next stage, :meth:`suspend` hides it while the command
    writes or asks something, :meth:`close` erases it for good. A stage whose counts start again
    (``done`` going back, or a new series after ``done == total``) is counted as a further round of
    the same work: done and total add up, so the bar never restarts from zero (token counting
    samples in rounds).

    Disabled, every method does nothing and rich is never imported. Thread-safe: the library may
    report from a worker thread, and the line appears from a timer's thread after the delay.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool,
        color: bool = True,
        delay_s: float = 1.0,
        width: int | None = None,
        get_time: Callable[[], float] = time.monotonic,
        refresh_per_second: float = 10,
    ) -> None:
        self.stream = stream
        self.enabled = enabled
        self.color = color
        self.width = width
        self._time = get_time
        self._refresh_per_second = refresh_per_second
        self._lock = threading.RLock()
        self._rich: Any = None  # the rich Progress, made when a line is first drawn
        self._running = False  # the rich Progress is drawing
        self._task: Any = None  # the rich task of the current stage
        self._due = not delay_s > 0  # the delay has passed: draw whenever there is a stage
        self._suspended = False
        self._closed = False
        self._label = ""  # the current stage; "" is none
        self._unit: str | None = None
        self._since = get_time()
        self._last: tuple[int, int] | None = None
        self._base = (0, 0)  # done and total of the stage's earlier rounds
        self._timer: threading.Timer | None = None
        if enabled and not self._due:
            # a timer, not the callbacks: a spinner gets no callback, and must still appear
            self._timer = threading.Timer(delay_s, self._delay_passed)
            self._timer.daemon = True
            self._timer.start()

    # -- what a command calls --------------------------------------------------------------------

    def stage(self, label: str, unit: str | None) -> None:
        """Start a stage counted in ``unit`` (one of :data:`UNITS`), or a spinner when ``unit`` is None."""
        if unit is not None and unit not in UNITS:
            raise ValueError(f"unknown progress unit {unit!r}")
        if not self.enabled:
            return
        with self._lock:
            self._drop_task()
            self._label, self._unit = label, unit
            self._since = self._time()
            self._last, self._base = None, (0, 0)
            self._sync()
            if self._running:
                self._rich.refresh()  # a new stage shows at once, however short

    def update(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` on the current stage (a spinner has no counts: ignored)."""
        if not self.enabled or self._unit is None:
            return
        with self._lock:
            if self._last is not None:
                last_done, last_total = self._last
                if done < last_done or (last_done >= last_total and (done, total) != self._last):
                    self._base = (self._base[0] + last_done, self._base[1] + last_total)  # a further round
            self._last = (done, total)
            if self._task is not None:
                self._rich.update(self._task, completed=self._base[0] + done, total=self._base[1] + total)

    def clear(self) -> None:
        """Erase the line; the next :meth:`stage` draws again."""
        if not self.enabled:
            return
        with self._lock:
            self._drop_task()
            self._label = ""
            self._sync()

    @contextlib.contextmanager
    def suspend(self) -> Iterator[None]:
        """Erase the line and draw nothing inside the block (while the command writes or asks something)."""
        with self._lock:
            self._suspended = True
            self._sync()
        try:
            yield
        finally:
            with self._lock:
                self._suspended = False
                self._sync()

    def close(self) -> None:
        """Erase the line; nothing is drawn after this."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            self._sync()

    # -- drawing -----------------------------------------------------------------------------------

    def _delay_passed(self) -> None:
        with self._lock:
            self._due = True
            self._sync()

    def _drop_task(self) -> None:
        if self._task is not None:
            self._rich.remove_task(self._task)
            self._task = None

    def _sync(self) -> None:
        """Draw or erase, as the state asks (called with the lock held)."""
        show = self.enabled and self._due and bool(self._label) and not (self._suspended or self._closed)
        if show:
            if self._rich is None:
                self._rich = _make_progress(self)
            if self._task is None:
                # no total until the first report: rich draws a pulsing bar, not a full one
                self._task = self._rich.add_task(self._label, total=None, unit=self._unit, since=self._since)
                if self._last is not None:
                    done, total = self._last
                    self._rich.update(self._task, completed=self._base[0] + done, total=self._base[1] + total)
            if not self._running:
                self._rich.start()
                self._running = True
        elif self._running:
            self._rich.stop()
            self._running = False


def _make_progress(display: Display) -> Any:
    """A rich Progress drawing ``display``'s stage: spinner, label, bar, amount, rate, time."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn
    from rich.text import Text

    class Spinner(SpinnerColumn):
        """Spins while the command works, even on a stage at 100% (what follows may take a while)."""

        def render(self, task: Any) -> Any:
            return self.spinner.render(task.get_time())

    class Figures(ProgressColumn):
        """Amount and rate in the stage's unit and the time left; for a spinner, the time taken."""

        def render(self, task: Any) -> Text:
            unit = task.fields.get("unit")
            if unit is None:
                return Text(clock(display._time() - task.fields["since"]), no_wrap=True)
            total = task.total or None
            parts = [f"{task.percentage:3.0f}%" if total else "", amount(task.completed, total, unit)]
            parts.append(rate(task.speed, unit))
            if total:
                parts.append(f"ETA {clock(task.time_remaining)}")
            return Text("  ".join(p for p in parts if p), no_wrap=True, overflow="ellipsis")

    console = Console(
        file=display.stream, force_terminal=True, force_interactive=True, width=display.width,
        no_color=not display.color, color_system="auto" if display.color else None, highlight=False,
        emoji=False, markup=False,
    )  # fmt: skip
    return Progress(
        Spinner(),
        TextColumn("{task.description}", markup=False),
        BarColumn(bar_width=20),
        Figures(),
        console=console, transient=True, refresh_per_second=display._refresh_per_second,
        redirect_stdout=False, redirect_stderr=False, get_time=display._time, expand=False,
    )  # fmt: skip


def display(stream: TextIO | None = None, *, quiet: bool = False, env: Mapping[str, str] | None = None) -> Display:
    """The progress display a command uses on ``stream`` (stderr by default).

    Drawn only when ``stream`` is a terminal and not ``quiet``; ``env`` (default ``os.environ``) is
    read for ``NO_COLOR`` and ``TERM``.
    """
    import os

    stream = stream or sys.stderr
    env = os.environ if env is None else env
    return Display(stream, enabled=not quiet and is_terminal(stream, env), color=not no_color(env))
