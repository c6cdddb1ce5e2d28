#!/usr/bin/env python
"""Figures for hostile batch files: memory on gzip bombs and huge lines, and the cost of the
repeated-name check.

Usage::

    python bench/bench_edges.py memory [--dir /tmp/edges] [--src DIR] [--only NAME ...]
    python bench/bench_edges.py overhead FILE [FILE ...] [--repeat 7] [--before-src DIR]

``memory`` writes the inputs below into ``--dir`` (once; kept for the next run) and runs
``python -m batchcost validate FILE --quiet --format json`` on each, with ``--src`` (default: this
working tree's ``src/``) first on ``PYTHONPATH``; to measure an older version, extract its ``src/``
(``git archive REV src | tar -x -C /tmp/old``) and pass ``--src /tmp/old/src``. For each run it
prints the wall time, the exit code, and the peak memory two ways: ``ru_maxrss`` of the largest
single process (``os.wait4``, exact) and the peak of the summed RSS of the process tree, sampled
every 20 ms with psutil (workers included; can miss a shorter peak).

=============  ===================================================================================
name           input
=============  ===================================================================================
zeros-1g       1 GiB of zero bytes (one line, no newline), gzip: ~1 MB
zeros-3g       3 GiB of zero bytes, gzip: ~3 MB
lines-12m      12 M copies of one valid request line (~750 MB), gzip: ~2 MB
lines-2m       2 M valid lines with distinct keys (~140 MB), gzip: ~5 MB
big-line-gz    one 120 MiB request line of Cyrillic text, gzip
two-big-lines  a plain 480 MiB file of four 120 MiB lines (text and base64 image), checked by 2 workers
=============  ===================================================================================

``overhead`` times the scan of each FILE in this process (``scan(FILE, workers=1)``, CPU time,
best of ``--repeat`` runs, interleaved so that a busy machine hurts both alike) with the
repeated-name check as it is, and with it switched off (the name count stubbed out); with
``--before-src`` it also times the scan of that source tree in a subprocess. Make the files with
``bench/make_batch_file.py`` (e.g. ``--size-mb 200`` and ``--size-mb 100 --lines-only-short``).

The script prints figures and always exits 0; it asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINE = b'{"key":"a","request":{"contents":[{"parts":[{"text":"hi"}]}]}}\n'


def _gzip(path: Path, pieces: Callable[[], object]) -> None:
    with gzip.open(path, "wb", compresslevel=6) as fh:
        for piece in pieces():  # type: ignore[attr-defined]
            fh.write(piece)


def _zeros(gib: int) -> Callable[[], object]:
    return lambda: (b"\0" * (1 << 20) for _ in range(gib * 1024))


def _copies(n: int) -> Callable[[], object]:
    return lambda: (LINE * 100_000 for _ in range(n // 100_000))


def _distinct(n: int) -> Callable[[], object]:
    def gen() -> object:
        for start in range(0, n, 100_000):
            yield b"".join(
                b'{"key":"k%09d","request":{"contents":[{"parts":[{"text":"hi %d"}]}]}}\n' % (i, i)
                for i in range(start, min(n, start + 100_000))
            )

    return gen


def _big_text(mib: int) -> bytes:
    head, tail = b'{"key":"%s","request":{"contents":[{"parts":[{"text":"', b'"}]}]}}\n'
    body = ("жжжж " * (mib * 2**20 // 9)).encode()
    return head + body + tail


def _big_image(mib: int, key: bytes) -> bytes:
    data = base64.b64encode(os.urandom(mib * 2**20 * 3 // 4))
    return (
        b'{"key":"' + key + b'","request":{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"'
        + data + b'"}}]}]}}\n'
    )  # fmt: skip


def make_inputs(folder: Path, only: Sequence[str]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    plan: dict[str, tuple[str, Callable[[Path], None]]] = {
        "zeros-1g": ("zeros-1g.jsonl.gz", lambda p: _gzip(p, _zeros(1))),
        "zeros-3g": ("zeros-3g.jsonl.gz", lambda p: _gzip(p, _zeros(3))),
        "lines-12m": ("lines-12m.jsonl.gz", lambda p: _gzip(p, _copies(12_000_000))),
        "lines-2m": ("lines-2m.jsonl.gz", lambda p: _gzip(p, _distinct(2_000_000))),
        "big-line-gz": ("big-line.jsonl.gz", lambda p: _gzip(p, lambda: [_big_text(120).replace(b"%s", b"a")])),
        "two-big-lines": (
            "two-big-lines.jsonl",
            lambda p: p.write_bytes(
                _big_image(120, b"a") + _big_text(120).replace(b"%s", b"b")
                + _big_text(120).replace(b"%s", b"c") + _big_image(120, b"d")
            ),
        ),
    }  # fmt: skip
    out = {}
    for name, (file_name, make) in plan.items():
        if only and name not in only:
            continue
        path = folder / file_name
        if not path.exists():
            t = time.perf_counter()
            tmp = path.with_suffix(path.suffix + ".part")
            make(tmp)
            tmp.replace(path)
            print(f"made     {path} ({path.stat().st_size:,} bytes) in {time.perf_counter() - t:.1f} s", flush=True)
        out[name] = path
    return out


def _force_fork() -> None:
    """Passed as ``preexec_fn`` only so that subprocess forks instead of using vfork (see
    bench_validate.py): after vfork the child's ``ru_maxrss`` would start at this script's peak."""


def run_validate(path: Path, src: Path) -> str:
    """One ``validate`` subprocess: wall time, exit code, ru_maxrss and the sampled tree peak."""
    import psutil

    env = dict(os.environ, PYTHONPATH=str(src))
    command = [sys.executable, "-m", "batchcost", "validate", str(path), "--quiet", "--format", "json"]
    start = time.perf_counter()
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_force_fork
    )
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        try:
            proc = psutil.Process(child.pid)
        except psutil.Error:
            return
        while not done.is_set():
            try:
                total = sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
                peak[0] = max(peak[0], total)
            except psutil.Error:
                pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    stderr = child.stderr.read().decode("utf-8", "replace").strip() if child.stderr else ""
    child.stderr and child.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    tail = f"  stderr: {stderr.splitlines()[-1][:120]}" if stderr else ""
    return (
        f"{seconds:7.1f} s  exit {code}  ru_maxrss {usage.ru_maxrss / 1024:7,.0f} MiB  "
        f"tree peak {peak[0] / 2**20:7,.0f} MiB{tail}"
    )


def memory(args: argparse.Namespace) -> None:
    src = Path(args.src).resolve() if args.src else REPO / "src"
    print(f"source   {src}")
    # made in a child: this process must stay small, a forked child's ru_maxrss starts at its size
    subprocess.run([sys.executable, __file__, "make", "--dir", args.dir, "--only", *args.only], check=True)
    for name, path in make_inputs(Path(args.dir), args.only).items():
        print(f"{name:14s} {run_validate(path, src)}", flush=True)


def _scan_cpu(path: str, check: bool) -> float:
    """CPU seconds of one single-process scan, with or without the repeated-name check."""
    from batchcost.batchfile import line_check, scan

    saved = line_check.name_colons, line_check.RangeScanner._repeated_names
    if not check:
        # no byte count, and the second parse it would ask for does nothing (the names are still
        # counted during the walk, a fraction of the cost)
        line_check.name_colons = lambda buf, lo, hi, stops: ([-1] * len(stops), set())  # type: ignore[assignment]
        line_check.RangeScanner._repeated_names = lambda self, raw: None  # type: ignore[method-assign]
    try:
        t = time.process_time()
        scan(path, workers=1)
        return time.process_time() - t
    finally:
        line_check.name_colons, line_check.RangeScanner._repeated_names = saved  # type: ignore[method-assign]


def overhead(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO / "src"))
    for path in args.files:
        size = os.path.getsize(path)
        on: list[float] = []
        off: list[float] = []
        before: list[float] = []
        for _ in range(args.repeat):
            on.append(_scan_cpu(path, True))
            off.append(_scan_cpu(path, False))
            if args.before_src:
                timer = "import sys, time\nsys.path.insert(0, sys.argv[1])\nfrom batchcost.batchfile import scan\n"
                timer += "t = time.process_time(); scan(sys.argv[2], workers=1); print(time.process_time() - t)\n"
                done = subprocess.run(
                    [sys.executable, "-c", timer, args.before_src, path], capture_output=True, text=True, check=False
                )
                if done.returncode == 0:
                    before.append(float(done.stdout.split()[-1]))
        a, b = min(on), min(off)
        print(
            f"{Path(path).name}: {size / 1e6:,.0f} MB; scan CPU best of {args.repeat}: with the repeated-name check "
            f"{a:.3f} s, without {b:.3f} s: +{a - b:.3f} s ({(a - b) / b:+.1%}), {(a - b) / size * 1e9:.2f} s per GB"
        )
        if before:
            c = min(before)
            print(f"    the scan of {args.before_src}: {c:.3f} s; this tree {a:.3f} s ({(a - c) / c:+.1%})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    mem = sub.add_parser("memory", help="peak memory and time of validate on hostile inputs")
    mem.add_argument("--dir", default="/tmp/batchcost-edges", help="folder for the generated inputs")
    mem.add_argument("--src", help="source tree to measure (default: this working tree's src/)")
    mem.add_argument("--only", nargs="*", default=[], help="names of the inputs to run (default: all)")
    make = sub.add_parser("make", help="only write the inputs of `memory`")
    make.add_argument("--dir", default="/tmp/batchcost-edges")
    make.add_argument("--only", nargs="*", default=[])
    cost = sub.add_parser("overhead", help="CPU cost of the repeated-name check")
    cost.add_argument("files", nargs="+")
    cost.add_argument("--repeat", type=int, default=7)
    cost.add_argument("--before-src", help="also time the scan of this source tree")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if args.what == "make":
        make_inputs(Path(args.dir), args.only)
    else:
        (memory if args.what == "memory" else overhead)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
