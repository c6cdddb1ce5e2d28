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
_M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
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
    return _mallopt(_M_MMAP_THRESHOLD, threshold)


def no_huge_pages() -> None:
    """Stop numpy from asking the kernel for transparent huge pages for its large arrays.

    numpy advises huge pages (``madvise``) on every array of 4 MB or more. Where the kernel then
    compacts memory to find them at the first touch (``defrag`` set to ``madvise``, a common
    default), a fault in a fresh array can stall: validating 2 GB of short prompts spent 0.7-1.1 s
    of system time with the advice and 0.33-0.41 s without, and took 5.1-5.5 s instead of 4.7-4.9.
    Process-wide, so the command line sets it (as :func:`return_large_blocks`). numpy reads
    ``NUMPY_MADVISE_HUGEPAGE`` when it is imported, and the command line imports it only when a
    command needs it: the variable is set unless the user set it (worker processes inherit it); if
    numpy is already loaded, its own switch is turned off.
    """
    import os
    import sys

    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return  # the user's choice
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        core = getattr(numpy, "_core", None) or getattr(numpy, "core", None)
        switch = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
        if callable(switch):
            switch(False)


def reuse_large_blocks(largest: int = 4 * 1024 * 1024) -> bool:
    """Serve blocks up to ``largest`` bytes from the heap, and keep up to twice that free in it.

    The opposite of :func:`return_large_blocks`, for a scan or token-counting worker process (which
    inherits that setting from the command line): it allocates and frees the same few buffers of a
    megabyte or so for every 8 MB of lines or batch of texts, and each one mapped on its own is
    page-faulted in afresh: about 850,000 faults (1.6 s of system time) for a scan of 2 GB of short
    prompts, 4 M faults for counting 500 MB of them exactly. Its memory is bounded by its block of
    lines or its batch either way. Returns whether the allocator took the settings.
    """
    return _mallopt(_M_MMAP_THRESHOLD, largest) and _mallopt(_M_TRIM_THRESHOLD, 2 * largest)


def _mallopt(param: int, value: int) -> bool:
    libc = _libc()
    try:
        return bool(libc and libc.mallopt(param, value) == 1)
    except AttributeError:  # a C library without mallopt
        return False


def zeros_view(n: int) -> Any:
    """``n`` int64 zeros that hold no memory: a read-only view of one zero.

    Summed, compared or indexed it reads as ``np.zeros(n, np.int64)``; writing into it raises
    ``ValueError``. A per-request figure that is zero on every request (a media modality a file does
    not use, no output) is one, instead of 8 bytes a request.
    """
    import numpy as np

    return np.broadcast_to(np.zeros(1, np.int64), (n,))


def is_zeros_view(arr: Any) -> bool:
    """True for an array that is a view of one zero (:func:`zeros_view`): adding it changes nothing."""
    return bool(arr.ndim == 1 and arr.strides == (0,) and (arr.size == 0 or arr[0] == 0))
