"""What scanning one range of one file produces: packed row records, media columns, problems, a sample.

A :class:`Partial` is filled line by line (``line_check``), sent back from a worker process
through its temporary spill file (``scan_worker``), and copied into the merged columns
(``scan_merge``). This module owns the record layout and the spill file's format: written here,
read back here.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import struct
import tempfile
from array import array
from collections.abc import Iterator
from typing import Any

from .result import MEDIA_COLUMNS, ROW_COLUMNS
from .text_classes import N_CLASSES

# One record of Partial.classes: the local row, then its byte-class counts (all uint32).
CLASS_RECORD = 1 + N_CLASSES

# A range's packed row records move to a temporary file whenever they reach this size.
SPILL_BYTES = 8 * 1024 * 1024

# One line's row columns packed in ROW_COLUMNS order (little-endian, no padding).
_STRUCT_CODES = {"u1": "B", "i1": "b", "u2": "H", "i2": "h", "u4": "I", "i4": "i", "u8": "Q", "i8": "q"}
ROW_RECORD = struct.Struct("<" + "".join(_STRUCT_CODES[spec[1]] for spec in ROW_COLUMNS.values()))


@functools.cache
def record_dtype() -> Any:
    """The numpy dtype of one :data:`ROW_RECORD`: a block of records reads as a table of the row columns."""
    import numpy as np

    return np.dtype([(name, "<" + spec[1]) for name, spec in ROW_COLUMNS.items()])


def _spill_file(owner: int) -> str:
    with spill_errors():
        fd, path = tempfile.mkstemp(prefix=f"batchcost-scan-{owner}-", suffix=".columns")
    os.close(fd)
    return path


@contextlib.contextmanager
def spill_errors() -> Iterator[None]:
    """Turn a failure to write the scan's temporary files (a full or read-only temporary folder) into one line."""
    try:
        yield
    except OSError as e:
        from ..errors import OutputError
        from ..outputs import describe_oserror

        raise OutputError(
            tempfile.gettempdir(),
            f"the scan's temporary files cannot be written here: {describe_oserror(e)} (or set TMPDIR to "
            "another folder)",
        ) from None


def remove_leftovers(owner: int) -> None:
    """Remove the spill files of scanning process ``owner`` (its workers were stopped mid-scan)."""
    for leftover in glob.glob(os.path.join(tempfile.gettempdir(), f"batchcost-scan-{owner}-*.columns")):
        with contextlib.suppress(OSError):
            os.unlink(leftover)


class Partial:
    """Results of scanning one range of one file (picklable).

    Row records go to a temporary file (``spill``) in chunks once they grow large, so a range of
    millions of short lines never holds them all in memory; the file holds the rows in chunks, each
    chunk its columns one after another (``chunks``: the rows of each), then (written by
    :meth:`spill_all` at the end) the media columns one after another.
    """

    def __init__(self, keep: int, owner: int | None = None) -> None:
        self.keep = keep
        self.records = bytearray()  # one packed ROW_RECORD per line (one call per line, not 22 appends)
        self.media = {name: array(spec[0]) for name, spec in MEDIA_COLUMNS.items()}
        self.classes = array("I")  # CLASS_RECORD words per request with byte-class counts
        self.problems: list[tuple[int, str, str]] = []  # (local line, code, message)
        self.counts: dict[str, int] = {}
        self.sample: list[tuple[int, int]] = []  # heap of (-priority, local row)
        self.models: list[str] = [""]
        self.mimes: list[str] = [""]
        self.caches: list[str] = [""]
        self.lines = 0
        self.last_line_no_newline = False
        self.spill: str | None = None  # records (and at the end media columns) moved to this file
        self.spilled_rows = 0  # rows already in the spill file
        self.chunks: list[int] = []  # rows of each chunk of columns in the spill file, in order
        self.media_spilled = False
        self.n_rows = 0
        self.n_media = 0
        self.n_classes = 0
        # the scanning process: leftovers of an interrupted scan are found by this id in the name
        self.owner = os.getpid() if owner is None else owner

    def flush_records(self) -> None:
        """Append the records held in memory to the spill file (created on first use), as one chunk of
        columns: each column's values of those rows one after another, so the merging process reads
        them straight into its columns (turning rows into columns here, in the worker processes, keeps
        that work off the one process that merges)."""
        if not self.records:
            return
        import numpy as np

        if self.spill is None:
            self.spill = _spill_file(self.owner)
        table = np.frombuffer(self.records, record_dtype())
        with spill_errors(), open(self.spill, "ab") as fh:
            for name in ROW_COLUMNS:
                fh.write(np.ascontiguousarray(table[name]).data)
        self.chunks.append(len(table))
        self.spilled_rows += len(table)
        del table  # a view of the records
        self.records = bytearray()

    def flush_if_full(self) -> None:
        """Move the records to the spill file once they reach :data:`SPILL_BYTES`."""
        if len(self.records) >= SPILL_BYTES:
            self.flush_records()

    def remove_spill(self) -> None:
        """Remove the spill file, if any (its columns are read or no longer wanted)."""
        if self.spill is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.spill)
            self.spill = None

    def spill_all(self) -> None:
        """Move the range's rows and media into its temporary file; the parent reads them straight into place.

        Sent back through the pool they would be pickled, copied and merged: the parent would hold
        each column two or three times. From a file (page cache, not process memory) it holds them once.
        """
        self.flush_records()
        if self.spill is None:  # no rows at all: an empty file still marks the partial as spilled
            self.spill = _spill_file(self.owner)
        with spill_errors(), open(self.spill, "ab") as fh:
            for arr in self.media.values():
                arr.tofile(fh)
            self.classes.tofile(fh)
        self.n_media = len(self.media["row"])
        self.n_classes = len(self.classes) // CLASS_RECORD
        self.media = {}
        self.classes = array("I")
        self.media_spilled = True

    def in_memory(self) -> None:
        """Bring the range's spilled rows, media and byte classes back into memory and remove the spill file.

        A partial made on another machine (a cluster worker) travels back pickled: its spill file
        would stay behind on that machine.
        """
        if self.spill is None:
            return
        if not self.media_spilled:
            self.spill_all()
        assert self.spill is not None
        import numpy as np

        try:
            with open(self.spill, "rb") as fh:
                table = np.empty(self.n_rows, record_dtype())
                self._read_rows(fh, {name: table[name] for name in ROW_COLUMNS}, 0)
                self.records = bytearray(table.tobytes())
                del table
                media = {}
                for name, spec in MEDIA_COLUMNS.items():
                    media[name] = arr = array(spec[0])
                    arr.fromfile(fh, self.n_media)
                self.media = media
                classes = array("I")
                classes.fromfile(fh, self.n_classes * CLASS_RECORD)
                self.classes = classes
        except EOFError as e:
            raise OSError(f"scan spill file {self.spill} is short") from e
        finally:
            self.remove_spill()
        self.spilled_rows = 0
        self.chunks = []
        self.media_spilled = False

    def _read_rows(self, fh: Any, rows: dict[str, Any], row_base: int) -> None:
        """Read the spill file's chunks of columns into ``rows[name][row_base:]``."""
        done = row_base
        for k in self.chunks:
            for name in ROW_COLUMNS:
                view = rows[name][done : done + k]
                if view.nbytes and fh.readinto(memoryview(view).cast("B")) != view.nbytes:
                    raise OSError(f"scan spill file {self.spill} is short at row {done - row_base}")
            done += k

    def media_rows(self) -> int:
        """How many media rows the range holds, spilled or not."""
        return self.n_media if self.media_spilled else len(self.media["row"])

    def class_rows(self) -> int:
        """How many requests with byte-class counts the range holds, spilled or not."""
        return self.n_classes if self.media_spilled else len(self.classes) // CLASS_RECORD

    def fill(self, rows: dict[str, Any], media: dict[str, Any], row_base: int, media_base: int,
             classes: Any = None, class_base: int = 0) -> None:  # fmt: skip
        """Copy the range's rows and media into the merged columns from ``row_base`` and ``media_base``.

        ``classes`` (uint32, ``CLASS_RECORD`` columns) receives the byte-class records from row
        ``class_base``. Table indices (model, MIME type, cache), media rows and class rows stay the
        range's own: the merger maps them. The spill file is removed and the records held in memory
        are released.
        """
        import numpy as np

        dtype = record_dtype()
        n_rows = self.n_rows
        n_media = self.media_rows()
        n_classes = self.class_rows()
        media_views = [(media[name][media_base : media_base + n_media], name) for name in MEDIA_COLUMNS]
        class_view = None if classes is None else classes[class_base : class_base + n_classes]
        if self.media_spilled:
            assert self.spill is not None
            try:
                with open(self.spill, "rb") as fh:
                    # the chunks of columns, straight into the merged columns
                    self._read_rows(fh, rows, row_base)
                    for view, name in media_views:
                        if view.nbytes and fh.readinto(memoryview(view).cast("B")) != view.nbytes:
                            raise OSError(f"scan spill file {self.spill} is short at column {name}")
                    views = [] if class_view is None or not class_view.nbytes else [memoryview(class_view).cast("B")]
                    for view_b in views:
                        if fh.readinto(view_b) != view_b.nbytes:
                            raise OSError(f"scan spill file {self.spill} is short at the byte classes")
            finally:
                self.remove_spill()
        else:
            if self.records:
                table = np.frombuffer(self.records, dtype=dtype)
                for name in ROW_COLUMNS:
                    rows[name][row_base : row_base + n_rows] = table[name]  # one column at a time
                del table
            self.records = bytearray()
            for (view, _name), arr in zip(media_views, self.media.values(), strict=True):
                if len(arr):
                    view[:] = np.frombuffer(arr, dtype=view.dtype)
            if class_view is not None and len(self.classes):
                class_view[:] = np.frombuffer(self.classes, dtype=np.uint32).reshape(-1, CLASS_RECORD)
            self.classes = array("I")
