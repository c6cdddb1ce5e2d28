"""Reading a batch or results file line by line, with bounded memory, and checking it can be read.

Shared by the scan (``scanner``), reading rows back (``result``) and results files (``results``).
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import InputError
from ..storage.locations import is_url
from ..text import one_line

BLOCK = 8 * 1024 * 1024  # bytes read at a time from a stream

# The line limit. A longer line is reported ("line-too-long") and skipped without being held in
# memory, plain or gzip. Checking a line takes up to ~3x its size (the bytes, the decoded text, and
# the decoded inline data), so 128 MiB keeps one process under 500 MB on any input; no plausible
# request is that big (no per-request size limit is documented; inline batch
# requests are limited to 20 MB in total, https://ai.google.dev/gemini-api/docs/batch-api).
MAX_LINE_BYTES = 128 * 1024 * 1024


def _head(path: str, n: int) -> bytes:
    if is_url(path):
        from ..storage import read_range

        return read_range(path, 0, n)
    with open(path, "rb") as fh:
        return fh.read(n)


# Other containers a batch file may arrive in, by their first bytes, and how to get the JSONL out.
OTHER_FORMATS = (
    (b"\xfd7zXZ\x00", "an xz-compressed file", "xz -dk FILE"),
    (b"BZh", "a bzip2-compressed file", "bunzip2 -k FILE"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "zstd -d FILE"),
    (b"\x04\x22\x4d\x18", "an LZ4-compressed file", "lz4 -d FILE"),
    (b"PK\x03\x04", "a zip archive", "unzip FILE"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "7z x FILE"),
    (b"PAR1", "a Parquet file", "convert it to JSONL"),
)


# Text in another Unicode encoding, by its first bytes: (start, the encoding's name, iconv's name
# for it). With a byte order mark, iconv's "UTF-16" reads either order and drops the mark; without
# one the order is named. A JSONL line starts with "{", which tells the order.
_WIDE_TEXT = (
    (b"\xff\xfe\x00\x00", "UTF-32", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32", "UTF-32"),
    (b"{\x00\x00\x00", "UTF-32", "UTF-32LE"),
    (b"\xff\xfe", "UTF-16", "UTF-16"),
    (b"\xfe\xff", "UTF-16", "UTF-16"),
    (b"{\x00", "UTF-16", "UTF-16LE"),
    (b"\x00{", "UTF-16", "UTF-16BE"),
)


def _beside(path: str, tag: str, ext: str | None = None) -> str:
    """Where a command suggested in a message writes its fixed copy of ``path``: beside it, named
    ``STEM-TAG.EXT`` (``ext`` default: the file's own, or ``jsonl`` when it has none)."""
    folder, name = os.path.split(path)
    stem, dot, own = name.rpartition(".")
    if not (dot and stem):
        stem, own = name, "jsonl"
    return os.path.join(folder, f"{stem}-{tag}.{ext or own}")


def _check_utf8_family(path: str, head: bytes) -> None:
    """InputError when the file is UTF-16 or UTF-32 text (Windows PowerShell's ``>`` writes UTF-16).

    Read as UTF-8, every line of it was reported as not JSON and the first as not UTF-8: one line
    saying what the file is and how to re-encode it sends the user the right way.
    """
    for start, encoding, iconv_name in _WIDE_TEXT:
        if head.startswith(start):
            if is_url(path):
                fix = "re-encode it as UTF-8"
            else:
                from ..text import shell_word

                out = _beside(path, "utf8")
                fix = f"re-encode it (`iconv -f {iconv_name} -t UTF-8 {shell_word(path)} > {shell_word(out)}`)"
            raise InputError(path, f"is {encoding} text; batchcost reads UTF-8 JSONL: {fix} and give that")


def is_gzip_input(path: str, source: str, size: int) -> bool:
    """Whether the input at ``source`` is gzip-compressed (else plain JSONL), from its first bytes, read once.

    Raises:
        InputError: it starts like another compressed file or archive, which batchcost does not read.
            Read as text, its bytes were reported line by line as "not valid UTF-8; re-encode the
            file", which sends the user the wrong way.
    """
    if size < 2:
        return False
    head = _head(source, 6)
    if head[:2] == b"\x1f\x8b":
        return True
    _check_utf8_family(path, head)
    for magic, what, how in OTHER_FORMATS:
        if head.startswith(magic):
            if how.startswith("convert") or is_url(path):
                fix = how if how.startswith("convert") else "extract it"
            else:
                from ..text import shell_word

                fix = f"extract it (`{how.replace('FILE', shell_word(path))}`)"
            raise InputError(
                path, f"is {what}; batchcost reads JSONL, plain or gzip-compressed (.jsonl.gz): {fix} and give that"
            )
    return False


def check_each_once(names: Sequence[str]) -> None:
    """InputError when one file is given twice: its requests (or results) would be counted, priced
    and sharded twice. Caught however it is spelled: a shell pattern and a name, two spellings of one
    path, a link and its target (local files are compared by device and inode, after ``open_check``)."""
    seen: dict[tuple[object, ...], str] = {}
    for name in names:
        if is_url(name):
            key: tuple[object, ...] = ("url", name)
        else:
            st = os.stat(name)
            key = ("file", st.st_dev, st.st_ino)
        if key not in seen:
            seen[key] = name
            continue
        first = seen[key]
        also = "" if first == name else f"the same file as {one_line(first)}, "
        raise InputError(name, f"{also}given twice; give each file once (it would be counted twice)")


def readable(path: str) -> str:
    """Where to read ``path``: its local copy when it is a URL and a ``--cache-dir`` folder is in use
    (``batchcost.storage.cache_dir``), else ``path`` itself (messages keep naming ``path``)."""
    if not is_url(path):
        return path
    from ..storage import cached

    return cached(path) or path


def open_binary(path: str, *, block: int | None = None) -> Any:
    """A file read front to back: a local file, or a URL's object read in parallel ranges (``batchcost.storage``)."""
    if not is_url(path):
        return open(path, "rb")
    from ..storage import BLOCK, open_sequential

    return open_sequential(path, block=block or BLOCK)


def open_check(path: str) -> int:
    """Size of a readable regular file, or InputError with a fix.

    Pipes, FIFOs (``/dev/stdin`` of a pipe, ``<(...)``) and devices are refused before they are
    opened: opening a FIFO waits for a writer, and every command reads its input more than once
    (the scan, then the token count, the shard copy or the key check), which a pipe cannot give.
    A URL is asked for its size (``batchcost.storage``: missing objects, refused credentials and
    missing extras are InputErrors too).
    """
    if is_url(path):
        from ..storage import size

        return size(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, "no such file; check the path") from None
    except PermissionError:
        raise InputError(path, "permission denied; check the file's permissions") from None
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(path, "is a directory; give the JSONL file inside it")
    if not stat.S_ISREG(st.st_mode):
        what = "a pipe or FIFO" if stat.S_ISFIFO(st.st_mode) else "not a regular file (a device or socket)"
        raise InputError(
            path,
            f"is {what}; batchcost reads its input files more than once, so write the data to a file first "
            "(e.g. `cat ... > batch.jsonl`) and give that file",
        )
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise InputError(path, "permission denied; check the file's permissions") from None
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror}") from None
    return st.st_size


# What says a file is the one that was scanned: a local file's size, modification time (ns) and inode,
# or an object's size and version tag (ETag, generation...).
Stamp = tuple[int, int | str, int | str]


def file_stamp(path: str) -> Stamp | None:
    """The :data:`Stamp` of a file or object, or None when it cannot be looked at."""
    if is_url(path):
        from ..storage import version

        try:
            size, tag = version(path)
        except InputError:
            return None
        return (size, tag, "")
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def check_unchanged(path: str, source: str, stamp: Stamp | None) -> None:
    """Raise InputError when the file (or object) at ``source`` is no longer the one stamped before it was read.

    A file still being written (a pipeline's output, a download) or replaced while batchcost reads it
    would otherwise give figures for a mix of its old and new contents, with nothing to say so.
    """
    if stamp is None:
        return
    now = file_stamp(source)
    if now is None and is_url(source):
        return  # the store did not answer (after its retries): that is not a sign of change
    if now != stamp:
        raise changed_while_read(path)


def changed_while_read(path: str) -> InputError:
    """The error for a file that changed while it was read (see :func:`check_unchanged`)."""
    return InputError(
        path,
        "changed since it was scanned (still being written, or replaced); run again once the file is complete",
    )


def detect_form(path: str, compressed: bool, limit: int = 50, name: str | None = None) -> str:
    """``developer`` or ``vertex``, by the first ``limit`` object lines that have "key" or "request".

    Developer lines carry a "key", Vertex lines do not; the majority decides (a tie is Developer), so
    one line that lost its key does not turn the whole file into a Vertex file without key checks.

    Raises:
        InputError: no line looked at is a JSON object and the file starts like one JSON document
            (an array, or an object spread over several lines): every line of it would be reported
            as not JSON, when the fix is one command (``name``: the file as messages call it).
    """
    import msgspec

    class _Head(msgspec.Struct):
        key: Any = msgspec.UNSET
        request: Any = msgspec.UNSET

    decode = msgspec.json.Decoder(_Head).decode
    keyed = keyless = objects = 0
    first = b""  # the first line that is not blank, stripped (its first bytes)
    try:
        with open_binary(path, block=1 << 20) as raw, gzip.GzipFile(fileobj=raw) if compressed else raw as fh:
            budget = [64 * 1024 * 1024]  # look no further than this into the (inflated) data

            def read(n: int) -> bytes:
                n = min(n, budget[0])
                budget[0] -= n
                return fh.read(n) if n > 0 else b""

            for _offset, buf, n, _ in stream_blocks(read, 8 * 1024 * 1024, chunk=1 << 20):
                if buf is None:
                    continue
                for raw in buf[:n].splitlines():
                    line = raw.strip()
                    if not line:  # blank: not worth an exception each (a file can be nothing else)
                        continue
                    line = line.removeprefix(b"\xef\xbb\xbf")
                    first = first or line[:2]
                    try:
                        head = decode(line)
                    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
                        continue
                    objects += 1
                    if head.key is not msgspec.UNSET:
                        keyed += 1
                    elif head.request is not msgspec.UNSET:
                        keyless += 1
                    if keyed + keyless >= limit:
                        return "developer" if keyed >= keyless else "vertex"
    except (OSError, EOFError, zlib.error):
        pass
    if not objects and (first.startswith(b"[") or first == b"{"):
        raise _json_document(name or path, first.startswith(b"["), compressed)
    return "developer" if keyed >= keyless else "vertex"


def _json_document(path: str, array: bool, compressed: bool) -> InputError:
    """The error for a file that is one JSON document, with the ``jq`` command that makes it JSONL."""
    what = "a JSON array" if array else "pretty-printed JSON (objects spread over several lines)"
    if compressed or is_url(path):
        fix = "put each object on a line of its own"
    else:
        from ..text import shell_word

        out = _beside(path, "lines", "jsonl")
        jq = "jq -c '.[]'" if array else "jq -c ."
        fix = f"put each object on a line of its own (`{jq} {shell_word(path)} > {shell_word(out)}`)"
    return InputError(path, f"is {what}, not JSONL (one JSON object per line): {fix} and give that")


def stream_blocks(read: Callable[[int], bytes], limit: int, chunk: int = BLOCK) -> Iterator[tuple[int, Any, int, bool]]:
    """Whole lines of a stream, a block at a time, never holding more than a block and one line.

    Yields ``(offset, buf, n, newline)``. Either ``buf[:n]`` holds one or more whole lines, each
    ending in a newline except the stream's last (``newline`` is then False); or ``buf`` is None for
    one line of ``n`` bytes (newline not counted) longer than ``limit``, which was read and dropped
    piece by piece. ``offset`` is the position of ``buf[0]`` (or of that line) in the stream.
    """
    pending: list[bytes] = []  # pieces of a line whose newline has not come yet
    plen = 0
    offset = 0
    skipped = -1  # bytes of an over-long line dropped so far; -1 when not dropping
    while data := read(chunk):
        if skipped >= 0:
            nl = data.find(b"\n")
            if nl < 0:
                skipped += len(data)
                continue
            skipped += nl
            yield offset, None, skipped, True
            offset += skipped + 1
            skipped = -1
            data = data[nl + 1 :]
        last = data.rfind(b"\n")
        if last < 0:
            if data:
                pending.append(data)
                plen += len(data)
            if plen > limit:
                skipped, pending, plen = plen, [], 0
            continue
        if pending:
            first = data.find(b"\n")
            if plen + first > limit:
                yield offset, None, plen + first, True
                offset += plen + first + 1
                pending, plen = [], 0
                data, last = data[first + 1 :], last - first - 1
                if last < 0:
                    if data:
                        pending, plen = [data], len(data)
                    continue
            else:
                pending.append(data[: last + 1])
                block = b"".join(pending)
                rest = data[last + 1 :]
                pending, plen = ([rest], len(rest)) if rest else ([], 0)
                yield offset, block, len(block), True
                offset += len(block)
                continue
        yield offset, data, last + 1, True
        offset += last + 1
        rest = data[last + 1 :]
        pending, plen = ([rest], len(rest)) if rest else ([], 0)
    if skipped >= 0:
        yield offset, None, skipped, False
    elif pending:
        block = b"".join(pending)
        yield offset, block, len(block), False


class LineFiller:
    """``read(n)`` over a decompressing file that returns what was inflated before a damaged spot.

    ``GzipFile.read(n)`` drops everything it inflated in a call that ends in an error, so the
    lines just before a cut-off end would be lost; this reads with ``read1`` and raises the error
    on the call after the one that returns the good data.
    """

    def __init__(self, fh: Any) -> None:
        self.read1 = fh.read1
        self.error: BaseException | None = None

    def read(self, n: int) -> bytes:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        pieces: list[bytes] = []
        got = 0
        while got < n:
            try:
                piece = self.read1(n - got)
            except (OSError, EOFError, zlib.error) as e:
                if not pieces:
                    raise
                self.error = e
                break
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def stream_lines(read: Callable[[int], bytes], limit: int) -> Iterator[tuple[int, bytes | None, int, bool]]:
    """``(offset, line, nbytes, newline)`` for each line of a stream; ``line`` is None when over ``limit``.

    ``line`` has no newline; ``newline`` is False only for a last line that has none.
    """
    for offset, buf, n, newline in stream_blocks(read, limit):
        if buf is None:
            yield offset, None, n, newline
            continue
        pos = 0
        while pos < n:
            nl = buf.find(b"\n", pos, n)
            if nl < 0:
                yield offset + pos, buf[pos:n], n - pos, False
                break
            yield offset + pos, buf[pos:nl], nl - pos, True
            pos = nl + 1
