"""What the engine installs on each Dask worker: the token counter, and (on the local cluster) a deaf ear to Ctrl-C."""

from __future__ import annotations

import signal
from typing import Any

from distributed import WorkerPlugin

from ..tokens.base import TextCounter


class CounterPlugin(WorkerPlugin):
    """Carries a token counter to each worker once; tasks use it from there."""

    def __init__(self, counter: TextCounter, name: str) -> None:
        self.counter = counter
        self.name = name

    def setup(self, worker: Any) -> None:
        if hasattr(self.counter, "num_threads"):
            self.counter.num_threads = 1  # one worker thread per core already


class IgnoreInterrupts(WorkerPlugin):
    """Workers of the local cluster ignore SIGINT: a Ctrl-C at the terminal reaches every process of the
    group, and the command closes the cluster itself (a worker would print a traceback of its own)."""

    name = "batchcost-ignore-interrupts"

    def setup(self, worker: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker's event loop runs in its main thread
