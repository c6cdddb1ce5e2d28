"""Writing a table (a pandas DataFrame) to a file: CSV, or Parquet when the name ends in ``.parquet``.

Used by ``--per-request FILE`` (``estimate``, ``reconcile``), and read back by ``reconcile --estimated FILE``; callers check the path with
:func:`check_table_path` before any work, so a missing Parquet engine is said in one line before a
long estimate, not after it. The file is written whole or not at all (:func:`batchcost.outputs.write_atomic`).

CSV: UTF-8, a header row, no index; floats at full precision (they read back to the same value);
missing values empty; categories as their text. Parquet keeps the column types (categories,
nullable integers) and needs ``pyarrow``: ``pip install 'batchcost[parquet]'``.
"""

from __future__ import annotations

import io
import os
from typing import Any

from .errors import InputError, OutputError
from .outputs import write_atomic
from .storage.locations import is_url

PARQUET_EXTRA = "batchcost[parquet]"


def is_parquet(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).lower().endswith(".parquet")


def check_table_path(path: str | os.PathLike[str]) -> None:
    """Refuse now a Parquet file that could not be written later (no ``pyarrow``).

    Raises:
        OutputError: the name ends in ``.parquet`` and pyarrow is not installed.
    """
    if not is_parquet(path):
        return
    try:
        import pyarrow  # noqa: F401  (only whether it imports)
    except ImportError:
        raise OutputError(
            os.fspath(path), f"Parquet needs pyarrow: pip install '{PARQUET_EXTRA}' (or write a .csv file)"
        ) from None


def write_table(df: Any, path: str | os.PathLike[str]) -> None:
    """Write ``df`` (a pandas DataFrame) to ``path``: Parquet for ``.parquet``, else CSV.

    Raises:
        OutputError: the file cannot be written, or Parquet without pyarrow.
    """
    check_table_path(path)
    if is_parquet(path):
        buffer = io.BytesIO()
        df.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    else:
        data = df.to_csv(index=False, lineterminator="\n").encode("utf-8")
    write_atomic(path, data)


def read_table(path: str | os.PathLike[str]) -> Any:
    """Read a table :func:`write_table` wrote (CSV, or Parquet for ``.parquet``) as a pandas DataFrame.

    CSV keys stay text (``"007"`` is not the number 7, ``"NA"`` is not missing): only an empty cell
    is missing.

    Raises:
        InputError: the file is missing, unreadable, or not such a table.
    """
    import pandas as pd

    name = os.fspath(path)
    if is_parquet(name):
        try:
            import pyarrow  # noqa: F401  (only whether it imports)
        except ImportError:
            raise InputError(name, f"reading Parquet needs pyarrow: pip install '{PARQUET_EXTRA}'") from None
    source: Any = name
    if is_url(name):  # fetched whole through batchcost.storage (its failures are InputErrors)
        import io

        from .storage import read_bytes

        source = io.BytesIO(read_bytes(name))
    try:
        if is_parquet(name):
            return pd.read_parquet(source)
        return pd.read_csv(source, dtype={"key": str}, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except IsADirectoryError:
        raise InputError(name, "is a folder, not a table file") from None
    except PermissionError:
        raise InputError(name, "cannot be read (permission denied)") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:  # pandas' parser errors are ValueErrors
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(name, f"is not a CSV or Parquet table ({first[:200]})") from None
