"""Calling something that used to hang, with a bound: a regression fails the test instead of stalling the suite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def raised_within(seconds: float, call: Callable[[], Any], what: str) -> BaseException | None:
    """Run ``call`` in a daemon thread; the exception it raised (None if it returned).

    Fails the test when it has not ended after ``seconds`` (``what`` names it in the message); the
    stuck thread is a daemon, so it does not keep the test run alive.
    """
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as e:
            raised.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{what} hung waiting for a dead worker"
    return raised[0] if raised else None
