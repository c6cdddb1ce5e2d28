"""What the task modules need of an engine: submitting tasks and taking their results (``cluster.DaskEngine``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol


class TaskRunner(Protocol):
    """Runs tasks on a cluster; :class:`~.cluster.DaskEngine` is the one implementation."""

    client: Any  # distributed.Client
    range_bytes: int
    registered: dict[int, str]  # id(counter) -> the name of the worker plugin holding it

    @property
    def n_workers(self) -> int: ...

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def results(self, futures: Sequence[Any], describe: Callable[[int], str]) -> Iterator[tuple[int, Any]]: ...
