"""A Dask cluster for the scan and the token counting: one the user runs (``--scheduler``), or one started here.

:class:`DaskEngine` is a context manager: it connects to the scheduler (within
:data:`CONNECT_TIMEOUT_S`) or starts a :class:`distributed.LocalCluster` sized to the machine (one
single-threaded worker process per core), and closes what it started on the way out, Ctrl-C
included. Every failure is an :class:`~batchcost.errors.EngineError` with a one-line message: Dask
missing, the scheduler unreachable, a worker that failed or died.

Workers read local input files by path: on a cluster of several machines every worker must see
them at the same path (a shared file system). A URL is read by the worker through
``batchcost.storage``, with the credentials of the worker's environment.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import BatchcostError, EngineError

if TYPE_CHECKING:
    import numpy as np

    from ..batchfile import ScanResult
    from ..batchfile.scanner import FileLimits, Progress
    from ..tokens.base import TextCounter

# How long to wait for the scheduler of --scheduler before giving up.
CONNECT_TIMEOUT_S = 10.0
# A plain file larger than this is scanned as several tasks, each about this many bytes, cut after a newline.
RANGE_BYTES = 256 * 1024 * 1024

DASK_MISSING = "--engine dask needs Dask: pip install 'batchcost[dask]'"


class DaskEngine:
    """Runs the scan and the token counting as Dask tasks (``--engine dask``).

    Args:
        scheduler: the scheduler's address (``tcp://HOST:8786``); None starts a local cluster.
        workers: workers of the local cluster (default: one per core).
        range_bytes: plain files are cut into ranges of about this many bytes, one task each
            (default :data:`RANGE_BYTES`).
        connect_timeout: seconds to wait for the scheduler (default :data:`CONNECT_TIMEOUT_S`).

    Raises:
        EngineError: Dask is not installed, or the scheduler cannot be reached.
    """

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        workers: int | None = None,
        range_bytes: int | None = None,
        connect_timeout: float | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self.range_bytes = max(1, RANGE_BYTES if range_bytes is None else range_bytes)
        self.connect_timeout = CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout
        self.client: Any = None
        self.cluster: Any = None
        self.registered: dict[int, str] = {}  # id(counter) -> the name of the worker plugin holding it
        self.environ: dict[str, str] | None = None  # this process's environment before the local cluster
        self.sigint: Any = None  # the Ctrl-C handler before this engine's
        self.interrupted = False

    # -- the cluster ------------------------------------------------------------------------------
    def __enter__(self) -> DaskEngine:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close()
        if self.interrupted and kind is None:
            raise KeyboardInterrupt  # a Ctrl-C that landed where Dask swallows exceptions

    def start(self) -> None:
        """Connect to the scheduler, or start the local cluster."""
        try:
            import distributed
        except ImportError:
            raise EngineError(DASK_MISSING) from None
        if threading.current_thread() is threading.main_thread():
            self.interrupted = False
            self.sigint = signal.signal(signal.SIGINT, self._on_interrupt)
        try:
            if self.scheduler:
                self.client = self._connect(distributed)
            else:
                self._start_local(distributed)
        except BaseException:
            self.close()
            raise

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        """Ctrl-C while the engine runs: KeyboardInterrupt, as always, except inside Dask's garbage-collection
        callback (the scheduler of a local cluster runs in this process), which would swallow it; it is
        then raised when the next task ends, or when the engine closes."""
        self.interrupted = True
        if frame is not None and frame.f_code.co_filename.endswith(os.path.join("distributed", "gc.py")):
            return
        raise KeyboardInterrupt

    def _start_local(self, distributed: Any) -> None:
        """Start the local cluster, its workers deaf to Ctrl-C: this process closes them on a Ctrl-C.

        At the terminal a Ctrl-C reaches every process of the group: a worker would print a
        traceback of its own, and a cluster interrupted half-way would be left to Dask's exit
        handler, which fails on workers still starting. So Ctrl-C is ignored while the workers
        start (they inherit that; a plugin keeps it so for workers restarted later), and heard
        again once the cluster is up.
        """
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        self.environ = dict(os.environ)
        try:
            self.cluster = distributed.LocalCluster(
                n_workers=self.workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                dashboard_address="127.0.0.1:0",  # its HTTP server on any free port, loopback only
                silence_logs=logging.CRITICAL,  # its failures reach the user as EngineError, in one line
            )  # fmt: skip
            self.client = distributed.Client(self.cluster, set_as_default=False)
            from .worker_plugins import IgnoreInterrupts

            self.client.register_plugin(IgnoreInterrupts(), name=IgnoreInterrupts.name)
        except (OSError, RuntimeError) as e:
            raise EngineError(f"cannot start a Dask cluster on this machine: {one_line(e)}") from None
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
            self._restore_environ()

    def _restore_environ(self) -> None:
        """Undo what the nannies set in this process's environment for their workers (thread limits,
        ``MALLOC_TRIM_THRESHOLD_``, ``PYTHONHASHSEED``): this process and what it runs next keep their own."""
        if self.environ is None:
            return
        for name in set(os.environ) - set(self.environ):
            del os.environ[name]
        for name, value in self.environ.items():
            if os.environ.get(name) != value:
                os.environ[name] = value

    def _connect(self, distributed: Any) -> Any:
        try:
            return distributed.Client(self.scheduler, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            why = one_line(e) or type(e).__name__
            raise EngineError(
                f"cannot reach the Dask scheduler at {self.scheduler} ({why}); "
                "check the address (tcp://HOST:8786) or leave out --scheduler to start a cluster on this machine"
            ) from None

    def close(self) -> None:
        """Disconnect, and stop the local cluster if this engine started it.

        A Ctrl-C while closing waits until the cluster is closed, then raises KeyboardInterrupt:
        interrupted half-way, the close is left to Dask's exit handler, which waits about ten
        seconds on the half-closed cluster before the command can exit.
        """
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        heard: list[int] = []
        if self.sigint is not None:
            signal.signal(signal.SIGINT, lambda signum, frame: heard.append(signum))
        try:
            if client is not None:
                if self.scheduler:  # the user's cluster: the tokenizer is not left on its workers
                    for name in self.registered.values():
                        with contextlib.suppress(Exception):
                            client.unregister_worker_plugin(name)
                client.close()
        finally:
            try:
                if cluster is not None:
                    cluster.close()
                    self._restore_environ()
                self.registered.clear()
            finally:
                if self.sigint is not None:
                    signal.signal(signal.SIGINT, self.sigint)
                    self.sigint = None
        if heard:
            raise KeyboardInterrupt

    @property
    def n_workers(self) -> int:
        """Workers the scheduler knows now (at least 1)."""
        info = self.client.scheduler_info()
        return max(1, len(info.get("workers", {})))

    # -- the jobs -------------------------------------------------------------------------------------
    def scan(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        sample_size: int = 0,
        seed: int = 0,
        keep_problems: int = 1000,
        limits: FileLimits | None = None,
        progress: Progress | None = None,
        checksum: bool = False,
        text_classes: bool = False,
        text_figures: bool = True,
    ) -> ScanResult:
        """:func:`batchcost.batchfile.scan` on the cluster: the same arguments, the same result."""
        from .scan_tasks import scan_on

        return scan_on(
            self, paths, sample_size=sample_size, seed=seed, keep_problems=keep_problems, limits=limits,
            progress=progress, checksum=checksum, text_classes=text_classes, text_figures=text_figures,
        )  # fmt: skip

    def count_rows(
        self, scan: ScanResult, counter: TextCounter, rows: list[int], progress: Callable[[int, int], None] | None
    ) -> np.ndarray:
        """Text tokens of ``rows`` by place, counted on the cluster (a ``row_counter`` of ``count_tokens``)."""
        from .count_tasks import count_on

        return count_on(self, scan, counter, rows, progress)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """One task (never cached by its arguments: a file may change between two runs)."""
        assert self.client is not None, "use the engine as a context manager (or call start())"
        return self.client.submit(fn, *args, pure=False)

    def results(self, futures: Sequence[Any], describe: Callable[[int], str]) -> Iterator[tuple[int, Any]]:
        """``(index, result)`` of each task as it ends; a failed task is an :class:`EngineError` naming it.

        A task's own :class:`~batchcost.errors.BatchcostError` (a file that cannot be read) passes
        through as it is. Tasks not collected are cancelled when the iteration stops.
        """
        from distributed import as_completed

        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures, loop=self.client.loop):
                i = index[fut.key]
                try:
                    value = fut.result()
                except BatchcostError:
                    raise
                except Exception as e:
                    raise EngineError(
                        f"a Dask worker failed {describe(i)}: {type(e).__name__}: {one_line(e)}"
                    ) from None
                fut.release()
                if self.interrupted:
                    raise KeyboardInterrupt
                yield i, value
        finally:
            if self.client is not None:
                self.client.cancel(list(futures))


def one_line(e: BaseException) -> str:
    """The first line of an exception's message (a worker's error can carry a whole traceback)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else ""
