"""Merging the scan's partial results in file order: line numbers, row indices and tables made whole.

Each range numbers its lines and rows from 1 and 0 and keeps its own tables of model names, MIME
types and caches; :class:`Merger` shifts them to their place in the scan and maps every table index
to the merged table's. Problems stay at most ``keep`` per kind, counted exactly.
"""

from __future__ import annotations

from typing import Any

from .problems import Problem
from .result import MEDIA_COLUMNS, ROW_COLUMNS
from .sampling import shifted
from .scan_partial import CLASS_RECORD, Partial


class Merger:
    """Collects partial results in file order; columns are assembled once, at the end."""

    def __init__(self, keep: int, k: int) -> None:
        self.keep = keep
        self.k = k
        self.n_rows = 0
        self.n_media = 0
        self.n_classes = 0
        # (partial, row_base, media_base, class_base, model_map, mime_map, cache_map)
        self.chunks: list[tuple[Partial, int, int, int, list[int], list[int], list[int]]] = []
        self.problems: list[Problem] = []
        self.counts: dict[str, int] = {}
        self.sample: list[tuple[int, int]] = []
        self.models: list[str] = [""]
        self.mimes: list[str] = [""]
        self.caches: list[str] = [""]
        self._ids: dict[str, dict[str, int]] = {"m": {"": 0}, "t": {"": 0}, "c": {"": 0}}

    def _remap(self, kind: str, table: list[str], local: list[str]) -> list[int]:
        ids = self._ids[kind]
        out = []
        for name in local:
            if name not in ids:
                ids[name] = len(table)
                table.append(name)
            out.append(ids[name])
        return out

    def add(self, part: Partial, path: str, line_base: int) -> None:
        """Take the next range of the scan; ``line_base`` is the lines of ``path`` before it."""
        row_base, media_base, class_base = self.n_rows, self.n_media, self.n_classes
        for code, n in part.counts.items():
            self.counts[code] = self.counts.get(code, 0) + n
        kept: dict[str, int] = {}
        for p in self.problems:
            kept[p.code] = kept.get(p.code, 0) + 1
        for line, code, msg in part.problems:
            if kept.get(code, 0) < self.keep:
                kept[code] = kept.get(code, 0) + 1
                self.problems.append(Problem(path, line_base + line, code, msg))
        maps = (
            self._remap("m", self.models, part.models),
            self._remap("t", self.mimes, part.mimes),
            self._remap("c", self.caches, part.caches),
        )
        n_rows = part.n_rows
        n_media = part.media_rows()
        self.chunks.append((part, row_base, media_base, class_base, *maps))
        self.n_rows += n_rows
        self.n_media += n_media
        self.n_classes += part.class_rows()
        self.sample.extend(shifted(part.sample, row_base))

    def columns(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The merged row and media columns and byte-class table, each allocated once and filled chunk by chunk."""
        import numpy as np

        rows = {name: np.empty(self.n_rows, spec[1]) for name, spec in ROW_COLUMNS.items()}
        media = {name: np.empty(self.n_media, spec[1]) for name, spec in MEDIA_COLUMNS.items()}
        table = np.empty((self.n_classes, CLASS_RECORD), np.uint32)
        while self.chunks:
            part, row_base, media_base, class_base, model_map, mime_map, cache_map = self.chunks.pop(0)
            n_rows = part.n_rows
            n_media = part.media_rows()
            n_classes = part.class_rows()
            part.fill(rows, media, row_base, media_base, table, class_base)
            table[class_base : class_base + n_classes, 0] += row_base
            # local table indices -> merged ones; media rows -> merged row numbers
            for view, table_map in (
                (rows["model"][row_base : row_base + n_rows], model_map),
                (rows["cached_content"][row_base : row_base + n_rows], cache_map),
                (media["mime"][media_base : media_base + n_media], mime_map),
            ):
                if len(table_map) > 1 and len(view):
                    view[:] = np.asarray(table_map, dtype=view.dtype)[view]
            media["row"][media_base : media_base + n_media] += row_base
        classes = {"row": table[:, 0].astype(np.int64), "counts": table[:, 1:]}
        return rows, media, classes

    def discard(self) -> None:
        """Remove spill files of chunks never assembled (after an error or Ctrl-C)."""
        for part, *_ in self.chunks:
            part.remove_spill()
        self.chunks.clear()

    def report(self, path: str, line: int, code: str, msg: str) -> None:
        """A problem found on the merged scan (a whole-file check), kept like the ranges' own."""
        n = self.counts.get(code, 0)
        self.counts[code] = n + 1
        if n < self.keep:
            self.problems.append(Problem(path, line, code, msg))
