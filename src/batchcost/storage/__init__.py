"""Files wherever users keep them: local paths and fsspec URLs (``gs://``, ``s3://``, ``az://``, ``https://``).

The one place that reads or writes a file by name when the name may be a URL; a shared piece that
imports nothing of the product but :mod:`batchcost.errors` and :mod:`batchcost.redact`, so any
layer (and a Dask task) can call it. fsspec and the backends are imported only when a URL is
given, so local runs never load them.

Public API:

- :func:`is_url` (cheap, no import): is this name a URL rather than a local path.
- :func:`expand` names (globs of URLs included) into :class:`Location` objects, one per file.
- :func:`size`, :func:`read_bytes` (a small whole object), :func:`read_range`, :func:`read_ranges` (many ranges, fetched in parallel, yielded
  in order), :class:`BlockReader` (a sequential ``read(n)`` over large ranges read ahead in
  parallel threads), :func:`line_blocks` (newline-aligned blocks of a byte range), :func:`sha256`.
- :func:`iter_lines` (lines with their ends, read ahead in parallel).
- :func:`cache_dir` / :func:`cached` (``--cache-dir``: an object copied whole once, then read locally).
- :func:`open_output` (an object appears whole or not at all), :class:`Upload` (the same for a
  writer holding many outputs open), :func:`write_bytes`, :func:`listdir`, :func:`remove`,
  :func:`exists`, :func:`normalise` (to compare names).

Every backend failure reaches callers as :class:`~batchcost.errors.InputError` (reading) or
:class:`~batchcost.errors.OutputError` (writing) with one line naming the URL and the fix: a
missing extra names the ``pip install 'batchcost[...]'`` to run; credentials never appear.
"""

from __future__ import annotations

from .backends import EXTRAS, filesystem
from .cache import cache_dir, cached
from .listing import expand
from .locations import Location, is_url, join, local_path, normalise, parent
from .reading import (
    AHEAD,
    BLOCK,
    BlockReader,
    exists,
    iter_lines,
    line_blocks,
    open_sequential,
    read_bytes,
    read_range,
    read_ranges,
    sha256,
    size,
    version,
)
from .writing import Upload, listdir, open_output, remove, write_bytes

__all__ = [
    "AHEAD",
    "BLOCK",
    "EXTRAS",
    "BlockReader",
    "Location",
    "Upload",
    "cache_dir",
    "cached",
    "exists",
    "expand",
    "filesystem",
    "is_url",
    "iter_lines",
    "join",
    "line_blocks",
    "listdir",
    "local_path",
    "normalise",
    "open_output",
    "open_sequential",
    "parent",
    "read_bytes",
    "read_range",
    "read_ranges",
    "remove",
    "sha256",
    "size",
    "version",
    "write_bytes",
]
