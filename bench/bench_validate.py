#!/usr/bin/env python
"""Time ``batchcost validate`` against the floor of a bare JSON parse of the same file.

Usage::

    python bench/bench_validate.py FILE [--repeat 3]
    python bench/bench_validate.py FILE --cmd "{python} my_validator.py {file}"   # a stand-in command
    python bench/bench_validate.py FILE --repeat 1 --cpu   # and CPU seconds of one scan process

What it measures (page cache warm: the whole file is read once before any timing):

(a) the floor: one process, the file mapped with ``mmap``, every line found with ``mmap.find``
    and decoded with untyped ``msgspec.json.decode`` on a zero-copy ``memoryview`` slice;
(b) ``python -m batchcost validate FILE --quiet --format json`` as a subprocess (start-up
    included), with the working tree's ``src/`` put first on ``PYTHONPATH``.

Each is run ``--repeat`` times and the median reported, with requests/s, MB/s (10**6 bytes) and
the ratio validate/floor (target <= 1.5, issue 14; it was 2.0).

Memory of the subprocess, two ways (target <= 500 MB):

* ``ru_maxrss`` from ``os.wait4`` on that child: the kernel's exact high-water mark of the
  largest single process (the child or any worker it waited for). Not a sum over workers, and it
  starts from this script's RSS at fork time (~30 MB; see ``_force_fork``), so it never reads
  lower than that.
* sampling ``/proc/<pid>/statm`` of the child and all its descendants every ``--sample-ms``:
  the peak of the summed RSS of the whole process tree, and of its anonymous part (heap;
  RSS minus file-backed and shared pages). Sampling can miss a peak shorter than the interval.

RSS counts the file pages a process has touched through ``mmap`` (they are page cache, not
heap), so an mmap-based scan shows a large RSS with a small anonymous part; both are printed.

The script prints figures and always exits 0; it asserts nothing.
"""

from __future__ import annotations

import argparse
import mmap
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

REPO = Path(__file__).resolve().parent.parent
RATIO_TARGET = 1.5
RSS_TARGET_MB = 500.0
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# --------------------------------------------------------------------------------------------------
# (a) the floor
# --------------------------------------------------------------------------------------------------


def warm_page_cache(path: Path) -> float:
    """Reads the whole file once (16 MiB at a time) and returns the seconds it took."""
    start = time.perf_counter()
    buffer = bytearray(16 * 1024 * 1024)
    with path.open("rb", buffering=0) as handle:
        while handle.readinto(buffer):
            pass
    return time.perf_counter() - start


def bare_parse(path: Path) -> tuple[int, int]:
    """Decodes every non-empty line with untyped msgspec on mmap slices.

    Returns:
        (lines decoded, lines that failed to decode).
    """
    decode = msgspec.json.decode
    decode_error = msgspec.DecodeError
    lines = bad = 0
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return 0, 0
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            find = mapped.find
            pos = 0
            try:
                while pos < size:
                    end = find(b"\n", pos)
                    if end < 0:
                        end = size
                    if end > pos:
                        lines += 1
                        try:
                            decode(view[pos:end])
                        except decode_error:
                            bad += 1
                    pos = end + 1
            finally:
                view.release()
    return lines, bad


# --------------------------------------------------------------------------------------------------
# (b) the subprocess
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunResult:
    """One timed run of the command."""

    seconds: float
    exit_code: int
    maxrss_mb: float  # kernel high-water mark of the largest single process (wait4)
    tree_rss_mb: float | None  # sampled peak of the summed RSS of the process tree
    tree_anon_mb: float | None  # sampled peak of the summed anonymous RSS
    samples: int
    stdout: bytes
    stderr: bytes


def _children_of(pid: int) -> list[int]:
    """All descendants of ``pid`` (by scanning /proc; Linux only)."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # Fields after the ")" that closes the command name: state, ppid, ...
        ppid = int(stat[stat.rindex(b")") + 2 :].split(None, 2)[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _statm(pid: int) -> tuple[int, int] | None:
    """(resident bytes, anonymous resident bytes) of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            fields = handle.read().split()
    except OSError:
        return None
    resident, shared = int(fields[1]), int(fields[2])
    return resident * PAGE_SIZE, (resident - shared) * PAGE_SIZE


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and its descendants until stopped."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.stop_event = threading.Event()
        self.peak_rss = 0
        self.peak_anon = 0
        self.samples = 0

    def run(self) -> None:
        pids = [self.pid]
        next_scan = 0.0
        while not self.stop_event.is_set():
            now = time.monotonic()
            # Finding descendants means reading every /proc/*/stat: do it at most every 100 ms.
            if now >= next_scan:
                pids = [self.pid, *_children_of(self.pid)]
                next_scan = now + 0.1
            rss = anon = 0
            for pid in pids:
                figures = _statm(pid)
                if figures is not None:
                    rss += figures[0]
                    anon += figures[1]
            if rss:
                self.samples += 1
                self.peak_rss = max(self.peak_rss, rss)
                self.peak_anon = max(self.peak_anon, anon)
            self.stop_event.wait(self.interval)


def _maxrss_mb(usage: resource.struct_rusage) -> float:
    # Linux reports kilobytes, macOS bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return usage.ru_maxrss * scale / 1e6


def _force_fork() -> None:
    """Passed as ``preexec_fn`` only so that subprocess forks instead of using vfork.

    After vfork the child runs in the parent's memory until exec, and exec records that memory's
    high-water mark as the child's ``ru_maxrss``: the child would inherit this script's own peak
    (about the file size, after the mmap floor). fork starts the child's mark at the parent's
    current RSS (a few tens of MB), which is the small error left in ``ru_maxrss``.
    """


def run_command(argv: Sequence[str], env: dict[str, str], sample_interval: float) -> RunResult:
    """Runs ``argv`` once, timing it and measuring its memory (see the module docstring)."""
    can_sample = Path("/proc/self/statm").exists()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=_force_fork if os.name == "posix" else None,
        )
        sampler = TreeSampler(proc.pid, sample_interval) if can_sample else None
        if sampler is not None:
            sampler.start()
        # wait4 instead of proc.wait(): it returns this child's own rusage (exact ru_maxrss).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sampler is not None:
            sampler.stop_event.set()
            sampler.join()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return RunResult(
        seconds=seconds,
        exit_code=proc.returncode,
        maxrss_mb=_maxrss_mb(usage),
        tree_rss_mb=sampler.peak_rss / 1e6 if sampler else None,
        tree_anon_mb=sampler.peak_anon / 1e6 if sampler else None,
        samples=sampler.samples if sampler else 0,
        stdout=stdout,
        stderr=stderr,
    )


def validate_command(path: Path, template: str | None) -> list[str]:
    """The command to time: ``batchcost validate`` or a ``--cmd`` template."""
    if template is None:
        return [sys.executable, "-m", "batchcost", "validate", str(path), "--quiet", "--format", "json"]
    return [part.replace("{python}", sys.executable).replace("{file}", str(path)) for part in shlex.split(template)]


def child_env() -> dict[str, str]:
    """The environment with the working tree's ``src/`` first on PYTHONPATH."""
    env = dict(os.environ)
    src = REPO / "src"
    if src.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
    return env


def summarize_output(stdout: bytes, limit: int = 400) -> str:
    """The command's JSON output, key figures first, cut to ``limit`` characters."""
    text = stdout.decode("utf-8", "replace").strip()
    try:
        data = msgspec.json.decode(stdout)
    except msgspec.DecodeError:
        return text[:limit] + (" ..." if len(text) > limit else "")
    if isinstance(data, dict):
        scalars = {k: v for k, v in data.items() if isinstance(v, int | float | str | bool) or v is None}
        others = [k for k in data if k not in scalars]
        text = msgspec.json.encode(scalars).decode() + (f"  (+ keys {', '.join(others)})" if others else "")
    return text[:limit] + (" ..." if len(text) > limit else "")


# --------------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------------


def median_of(runs: Sequence[float]) -> float:
    return statistics.median(runs)


def fmt_rate(count: float, seconds: float, unit: str) -> str:
    return f"{count / seconds:,.0f} {unit}" if seconds > 0 else "n/a"


def timed(repeat: int, func: Callable[[], object]) -> tuple[list[float], object]:
    times = []
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return times, result


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="a batch input .jsonl file")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median reported)")
    parser.add_argument(
        "--cmd",
        help='command to time instead of batchcost validate; "{file}" and "{python}" are substituted',
    )
    parser.add_argument("--sample-ms", type=float, default=20.0, help="RSS sampling interval")
    parser.add_argument("--skip-bare", action="store_true", help="do not run the floor")
    parser.add_argument("--skip-validate", action="store_true", help="do not run the subprocess")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="also the CPU seconds of scan(FILE, workers=1) in this process against the floor's: a figure "
        "the load of a shared machine skews far less than wall times (run last: it grows this process)",
    )
    args = parser.parse_args(argv)

    path: Path = args.file
    if not path.is_file():
        print(f"{path}: not a file; make one with bench/make_batch_file.py", file=sys.stderr)
        return 0
    repeat = max(1, args.repeat)
    size = path.stat().st_size
    mb = size / 1e6
    print(f"file     {path}  {size:,} bytes ({mb:,.1f} MB)")
    print(
        f"machine  {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"msgspec {msgspec.__version__}"
    )
    print(f"warm     first read {warm_page_cache(path):.2f} s, then {warm_page_cache(path):.2f} s (page cache warm)")

    bare_median = None
    lines = None
    if not args.skip_bare:
        times, result = timed(repeat, lambda: bare_parse(path))
        lines, bad = result  # type: ignore[misc]
        bare_median = median_of(times)
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(
            f"bare     {bare_median:.2f} s median of [{runs}]  {lines:,} lines ({bad:,} undecodable)  "
            f"{fmt_rate(lines, bare_median, 'requests/s')}  {fmt_rate(mb, bare_median, 'MB/s')}"
        )

    if not args.skip_validate:
        command = validate_command(path, args.cmd)
        print(f"command  {shlex.join(command)}")
        results = [run_command(command, child_env(), args.sample_ms / 1000) for _ in range(repeat)]
        validate_median = median_of([r.seconds for r in results])
        runs = ", ".join(f"{r.seconds:.2f}" for r in results)
        codes = sorted({r.exit_code for r in results})
        rate_lines = f"  {fmt_rate(lines, validate_median, 'requests/s')}" if lines else ""
        print(
            f"validate {validate_median:.2f} s median of [{runs}]  exit code {', '.join(map(str, codes))}"
            f"{rate_lines}  {fmt_rate(mb, validate_median, 'MB/s')}"
        )
        last = results[-1]
        if last.stdout:
            print(f"  output  {summarize_output(last.stdout)}")
        if last.exit_code != 0 and last.stderr:
            tail = last.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
            print("  stderr  " + "\n          ".join(tail))

        maxrss = max(r.maxrss_mb for r in results)
        print(f"memory   peak RSS of the largest single process (wait4 ru_maxrss): {maxrss:,.0f} MB")
        tree = [r for r in results if r.tree_rss_mb is not None]
        if tree:
            tree_rss = max(r.tree_rss_mb or 0.0 for r in tree)
            tree_anon = max(r.tree_anon_mb or 0.0 for r in tree)
            print(
                f"         peak RSS summed over the process tree (sampled every {args.sample_ms:g} ms, "
                f"{min(r.samples for r in tree)}+ samples/run): {tree_rss:,.0f} MB, "
                f"anonymous {tree_anon:,.0f} MB, file-backed/shared {tree_rss - tree_anon:,.0f} MB"
            )
        else:
            tree_rss = tree_anon = None
            print("         (no /proc here: process-tree sampling skipped)")

        print("targets")
        if bare_median:
            ratio = validate_median / bare_median
            print(f"  validate/bare      {ratio:.2f}  (target <= {RATIO_TARGET}: {verdict(ratio, RATIO_TARGET)})")
        print(f"  peak RSS, one proc {maxrss:,.0f} MB  (target <= {RSS_TARGET_MB:g}: {verdict(maxrss, RSS_TARGET_MB)})")
        if tree_rss is not None and tree_anon is not None:
            print(
                f"  peak RSS, tree     {tree_rss:,.0f} MB  "
                f"(target <= {RSS_TARGET_MB:g}: {verdict(tree_rss, RSS_TARGET_MB)}; "
                f"anonymous only {tree_anon:,.0f} MB: {verdict(tree_anon, RSS_TARGET_MB)})"
            )
    if args.cpu:
        cpu_ratio(path, repeat)
    return 0


def cpu_ratio(path: Path, repeat: int) -> None:
    """CPU seconds (best of ``repeat``) of the floor and of one scan process over the whole file.

    ``validate`` runs two scan processes, so its wall time is about half this ratio of the floor's,
    plus start-up; on a machine other work shares, the CPU figure stays put where wall times wander.
    """
    sys.path.insert(0, str(REPO / "src"))
    from batchcost.batchfile import scan

    def cpu(func: Callable[[], object]) -> float:
        start = time.process_time()
        func()
        return time.process_time() - start

    with tempfile.TemporaryDirectory() as tmp:  # the scan's lazy imports, before the clock
        warm = Path(tmp) / "one.jsonl"
        warm.write_text('{"key": "k", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}\n')
        scan(warm, workers=1)
    bare = min(cpu(lambda: bare_parse(path)) for _ in range(repeat))
    one = min(cpu(lambda: scan(path, workers=1)) for _ in range(repeat))
    lines = max(1, bare_parse(path)[0])
    print(
        f"cpu      floor {bare:.2f} s, scan in one process {one:.2f} s ({one / lines * 1e6:.2f} us/line): "
        f"scan/floor {one / bare:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
