"""The C heap: giving freed memory back to the system (glibc; elsewhere these do nothing).

An estimate of millions of requests builds and drops many per-request arrays of megabytes each.
glibc serves a freed block of that size from its heap next time rather than the system: its mmap
threshold rises to the size of the largest block freed (up to 32 MB), after which such arrays are
carved from the heap, and a freed one in the middle of the heap stays in the process. On 2 GB of
short prompts (1.7 M requests) that kept 300 MB more than the estimate was using.
"""

from __future__ import annotations

from typing import Any

_LIBC: Any = None
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
# Blocks at least this large are mapped on their own and unmapped when freed: a per-request array
# of 1.7 M int64 is 13 MB; a Python object is a few hundred bytes and never reaches it.
LARGE_BLOCK_BYTES = 256 * 1024


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        import ctypes

        try:
            # the running program's own symbols: glibc's when Python links it (no ldconfig lookup,
            # which ctypes.util.find_library would spawn on every start)
            _LIBC = ctypes.CDLL(None)
            _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
            _LIBC.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            _LIBC.mallopt.restype = ctypes.c_int
        except (OSError, AttributeError):
            _LIBC = False
    return _LIBC


def trim_heap() -> None:
    """Give the C heap's free memory back to the system.

    Counting a sample reads thousands of requests and SentencePiece encodes them on its own threads;
    glibc keeps what they freed (in the main heap's holes and in per-thread heaps): 100 MB or more of
    a process's memory that nothing uses once the counting is done. ``malloc_trim`` returns it (a
    few milliseconds).
    """
    libc = _libc()
    if libc:
        libc.malloc_trim(0)


def return_large_blocks(threshold: int = LARGE_BLOCK_BYTES) -> bool:
    """Map every block of ``threshold`` bytes or more on its own, so that freeing it returns it at once.

    Setting the threshold also stops glibc from raising it as large blocks are freed (see the module
    doc). Process-wide, so the command line sets it (a library should not change its caller's
    allocator). Returns whether the allocator took the setting (False off glibc).
    """
    libc = _libc()
    try:
        return bool(libc and libc.mallopt(_M_MMAP_THRESHOLD, threshold) == 1)
    except AttributeError:  # a C library without mallopt
        return False
