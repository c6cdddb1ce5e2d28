"""``--engine dask``: the scan and the token counting as Dask tasks give the local engine's figures exactly.

The cluster is a real ``distributed.LocalCluster`` (two worker processes, one thread each), started
and stopped by the tests; the command line starts its own, sized to this machine.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from batchcost.batchfile import scan
from batchcost.cli import main
from batchcost.engine import DaskEngine, cluster, scan_tasks
from batchcost.errors import EngineError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def make_file(path: Path, mb: float, seed: int) -> Path:
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "make_batch_file.py"), str(path), "--size-mb", str(mb), "--seed", str(seed)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def batch_set(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three generated files (one gzip) and the example with problems: every figure and problem kind merged."""
    d = tmp_path_factory.mktemp("dask-set")
    a = make_file(d / "part-1.jsonl", 1.5, 1)
    b = make_file(d / "part-2.jsonl", 1.0, 2)
    c = make_file(d / "part-3.jsonl", 1.0, 3)
    gz = d / "part-3.jsonl.gz"
    gz.write_bytes(gzip.compress(c.read_bytes()))
    c.unlink()
    broken = d / "broken.jsonl"
    shutil.copy(EXAMPLES / "broken_requests.jsonl", broken)
    return [a, b, gz, broken]


@pytest.fixture(scope="module")
def engine() -> Iterator[DaskEngine]:
    with DaskEngine(workers=2, range_bytes=200_000) as eng:
        yield eng


def test_scan_on_dask_equals_the_local_scan_column_for_column(batch_set: list[Path], engine: DaskEngine) -> None:
    files = [str(p) for p in batch_set]
    local = scan(files, sample_size=300, seed=7, checksum=True, text_classes=True, keep_problems=3)
    ranges = scan_tasks.file_ranges(files[0], os.path.getsize(files[0]), engine.range_bytes)
    data = Path(files[0]).read_bytes()
    assert len(ranges) >= 7 and all(data[b - 1 : b] == b"\n" for _, b in ranges)
    dask = engine.scan(files, sample_size=300, seed=7, checksum=True, text_classes=True, keep_problems=3)
    assert dask.files == local.files and dask.files[0].sha256 is not None
    for name in local.rows:
        assert np.array_equal(dask.rows[name], local.rows[name]), name
    for name in local.media:
        assert np.array_equal(dask.media[name], local.media[name]), name
    assert local.text_classes is not None and dask.text_classes is not None
    for name in local.text_classes:
        assert np.array_equal(dask.text_classes[name], local.text_classes[name]), name
    assert np.array_equal(dask.sample, local.sample) and len(local.sample) == 300
    assert dask.problems == local.problems and dask.problem_counts == local.problem_counts
    assert dask.models == local.models and dask.mime_types == local.mime_types
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"batchcost-scan-{os.getpid()}-*"))


def test_cli_validate_and_estimate_json_identical_on_a_file_set(batch_set: list[Path]) -> None:
    files = [str(p) for p in batch_set]
    for argv in (
        ["validate", *files, "--format", "json", "--max-problems", "2"],
        ["estimate", *files[:3], "--format", "json", "--model", "gemini-2.5-flash", "--sample-size", "200",
         "--seed", "5", "--run-date", "2026-12-01", "--output-tokens", "300"],
    ):  # fmt: skip
        local = run(*argv)
        dask = run(*argv, "--engine", "dask")
        assert local[0] in (0, 1) and dask == local, (argv[0], dask[2])
    assert '"method": "sampled"' in local[1]


def test_cli_on_a_running_scheduler_leaves_nothing_behind(batch_set: list[Path], engine: DaskEngine) -> None:
    address = engine.cluster.scheduler_address
    files = [str(p) for p in batch_set[:3]]
    argv = [
        "estimate",
        *files,
        "--format",
        "json",
        "--model",
        "gemini-2.5-flash",
        "--exact",
        "--run-date",
        "2026-12-01",
    ]
    local = run(*argv)
    environ = dict(os.environ)
    assert run(*argv, "--engine", "dask", "--scheduler", address) == local
    plugins = engine.client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert len(plugins) == 2 and not any(p.startswith("batchcost-counter") for ps in plugins.values() for p in ps)
    assert run(*argv, "--engine", "dask") == local  # a local cluster of its own, started and stopped
    assert dict(os.environ) == environ  # what Dask's nannies set for their workers is undone


def test_cli_one_file_split_into_ranges_identical(batch_set: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "RANGE_BYTES", 150_000)  # ten ranges of the 1.5 MB file
    one = str(batch_set[0])
    common = ["--model", "gemini-2.5-flash", "--seed", "11", "--run-date", "2026-12-01", "--format", "json"]
    for argv in (
        ["validate", one, "--format", "json"],
        ["estimate", one, "--sample-size", "100", *common],
        ["estimate", one, "--exact", *common],
        ["plan", one, "--sample-size", "100", *common],
    ):
        local = run(*argv)
        dask = run(*argv, "--engine", "dask")
        assert local[0] == 0 and dask == local, (argv, dask[2])


def test_the_tokenizer_travels_once_per_worker(batch_set: list[Path], engine: DaskEngine) -> None:
    from distributed import get_worker

    from batchcost.engine.count_tasks import count_task, plugin_for
    from batchcost.tokens import choose_counter
    from batchcost.tokens.count import count_rows

    counter = choose_counter("local", model="gemini-2.5-flash", env=dict(os.environ)).counter
    result = scan([str(batch_set[0])], sample_size=0)
    rows = np.flatnonzero(result.rows["usable"]).tolist()
    counts = engine.count_rows(result, counter, rows, None)  # type: ignore[arg-type]
    assert np.array_equal(counts, count_rows(result, counter, rows))  # type: ignore[arg-type]
    name = plugin_for(engine, counter)  # type: ignore[arg-type]
    assert plugin_for(engine, counter) == name and len(engine.registered) == 1  # type: ignore[arg-type]

    def probe(plugin: str) -> tuple[int, int]:
        return os.getpid(), id(get_worker().plugins[plugin].counter)

    seen = [engine.submit(probe, name).result() for _ in range(12)]
    by_worker: dict[int, set[int]] = {}
    for pid, ident in seen:
        by_worker.setdefault(pid, set()).add(ident)
    assert all(len(ids) == 1 for ids in by_worker.values())  # one tokenizer per worker, reused by every task
    info = result.files[0]
    task = pickle.dumps((count_task, name, info, result.rows["offset"][:100], result.rows["nbytes"][:100]))
    assert len(task) < 5_000 < len(pickle.dumps(counter))  # a task carries offsets, not the model


def test_scheduler_unreachable_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    code, out, err = run("validate", str(EXAMPLES / "batch_requests.jsonl"), "--engine", "dask",
                         "--scheduler", f"tcp://127.0.0.1:{port}")  # fmt: skip
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"batchcost: error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} (")
    code, _, err = run("validate", str(EXAMPLES / "batch_requests.jsonl"), "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2 and "--scheduler goes with --engine dask" in err


def test_dask_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    code, out, err = run("estimate", str(EXAMPLES / "batch_requests.jsonl"), "--engine", "dask")
    assert (code, out) == (2, "")
    assert err == "batchcost: error: --engine dask needs Dask: pip install 'batchcost[dask]'\n"


def test_a_failed_or_dead_worker_is_one_line(engine: DaskEngine) -> None:
    import dask

    def fails() -> None:
        raise ValueError("disk gone\nTraceback (most recent call last): ...")

    with pytest.raises(EngineError) as e:
        list(engine.results([engine.submit(fails)], lambda i: "scanning x.jsonl bytes 0-10"))
    assert str(e.value) == "a Dask worker failed scanning x.jsonl bytes 0-10: ValueError: disk gone"

    def dies() -> None:
        os._exit(3)

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), pytest.raises(EngineError) as e:
        list(engine.results([engine.submit(dies)], lambda i: "counting tokens in x.jsonl"))
    assert str(e.value).startswith("a Dask worker failed counting tokens in x.jsonl: KilledWorker: ")
    assert "\n" not in str(e.value)


def test_ctrl_c_stops_the_local_cluster_without_a_traceback(tmp_path: Path) -> None:
    import psutil

    big = make_file(tmp_path / "big.jsonl", 12, 4)
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchcost", "estimate", str(big), "--exact", "--model", "gemini-2.5-flash",
         "--engine", "dask", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    me = psutil.Process(proc.pid)

    def hears_ctrl_c(pid: int) -> bool:
        status = Path(f"/proc/{pid}/status").read_text()
        ignored = int(status.split("SigIgn:")[1].split()[0], 16)
        return not ignored & (1 << (signal.SIGINT - 1))

    def cluster_up() -> bool:
        # this process hears Ctrl-C again, and its two workers ignore it
        try:
            workers = [c for c in me.children(recursive=True) if "spawn_main" in " ".join(c.cmdline())]
            return len(workers) >= 2 and hears_ctrl_c(proc.pid) and not any(hears_ctrl_c(w.pid) for w in workers)
        except (psutil.NoSuchProcess, FileNotFoundError):  # a process starting or ending meanwhile
            return False

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if cluster_up():
            children = me.children(recursive=True)
            break
        time.sleep(0.1)
    else:
        pytest.fail("the local cluster never came up")
    time.sleep(0.2)  # into the run; it lasts about 1.3 s more here, so a faster machine is still mid-run
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal sends it: to every process of the group
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().endswith("batchcost: interrupted")
    _gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive


def test_a_ctrl_c_while_closing_waits_for_the_cluster_to_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C as the run ends lands in the cluster's close: it must not stop the close half-way,
    or Dask's exit handler waits about ten seconds on the half-closed cluster before the command exits."""
    before = signal.getsignal(signal.SIGINT)
    eng = DaskEngine(workers=1)
    eng.start()
    cluster, real_close = eng.cluster, eng.cluster.close

    def ctrl_c_then_close(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here, in the middle of the close
        real_close(*args, **kwargs)

    monkeypatch.setattr(cluster, "close", ctrl_c_then_close)
    with pytest.raises(KeyboardInterrupt):
        eng.close()
    assert cluster.status.name == "closed" and not cluster.workers
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C handled as it was before the engine
