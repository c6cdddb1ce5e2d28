"""`batchcost validate` as a user runs it: output lines, exit codes, no tracebacks."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchcost.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_valid_file_exits_0_with_summary() -> None:
    code, out, err = run("validate", str(EXAMPLES / "batch_requests.jsonl"))
    assert code == 0, err
    assert out.strip().endswith("valid: 3 requests in 3 lines, 358 bytes; 0 errors, 0 warnings")


def test_no_usable_request_comes_after_the_problems_it_points_to(tmp_path: Path) -> None:
    # "see the problems above" was printed above them: kinds of one problem each were ordered by code
    p = tmp_path / "other.jsonl"
    p.write_text('{"custom_id": "r1", "params": {"max_tokens": 5, "messages": []}}\n{"a": 1}\n')
    code, out, _ = run("validate", str(p))
    assert code == 1
    titles = [line for line in out.splitlines() if line.startswith("error: ")]
    assert titles == [
        "error: Anthropic batch format (anthropic-format): 1",
        "error: missing key (key-missing): 1",
        "error: missing request (request-missing): 1",
        "error: no requests (no-requests): 1",
    ]
    assert out.splitlines()[-2] == f"  {p}: no line holds a usable request; see the problems above"


def test_problems_exit_1_one_line_each_grouped(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    good = '{"key": "a", "request": {"contents": [{"parts": [{"text": "x"}]}]}}'
    p.write_text("\n".join([good, "{oops", "{oops", "{oops", good]) + "\n")
    code, out, _ = run("validate", str(p), "--max-problems", "2")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "error: not JSON (not-json): 3"
    assert lines[1].startswith(f"  {p}:2: not valid JSON")
    assert lines[2].startswith(f"  {p}:3: ")
    assert lines[3] == "  ... and 1 more"
    assert any("duplicate key 'a' (first on line 1)" in line for line in lines)
    assert lines[-1] == f"{p}: INVALID: 2 requests in 5 lines, 154 bytes; 4 errors, 0 warnings"


def test_json_format_and_atomic_output_file(tmp_path: Path) -> None:
    target = tmp_path / "v.json"
    code, out, _ = run("validate", str(EXAMPLES / "vertex_requests.jsonl"), "--format", "json", "-o", str(target))
    assert code == 0 and out == ""
    doc = json.loads(target.read_text())
    assert doc["schema"] == "batchcost.validation/1"
    assert doc["valid"] is True and doc["requests"] == 2
    assert doc["files"][0]["form"] == "vertex"
    assert [p.name for p in tmp_path.iterdir()] == ["v.json"]  # no temporary file left behind


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    p = tmp_path / "w.jsonl"
    p.write_text('{"key": "a", "request": {"contents": [{"parts": [{"text": "x"}]}], "temprature": 1}}\n')
    assert run("validate", str(p))[0] == 0
    code, out, _ = run("validate", str(p), "--strict")
    assert code == 1
    assert "warning: unknown field (unknown-field): 1" in out


@pytest.mark.parametrize("argv", [["validate"], ["validate", "x", "--max-problems", "0"], ["frobnicate"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    code, _, err = run(*argv)
    assert code == 2 and "see `batchcost" in err and err.count("\n") == 1


def test_missing_file_and_directory_exit_2_without_traceback(tmp_path: Path) -> None:
    code, _, err = run("validate", str(tmp_path / "missing.jsonl"))
    assert code == 2
    assert err == f"batchcost: error: {tmp_path / 'missing.jsonl'}: no such file; check the path\n"
    code, _, err = run("validate", str(tmp_path))
    assert code == 2 and "is a directory" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path: Path) -> None:
    p = tmp_path / "secret.jsonl"
    p.write_text("{}\n")
    p.chmod(0)
    code, _, err = run("validate", str(p))
    assert code == 2 and "permission denied" in err


def test_help_explains_every_option_with_examples() -> None:
    out = subprocess.run([sys.executable, "-m", "batchcost", "validate", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for option in ("--max-problems", "--strict", "--format", "--output", "--quiet", "examples:", "exit codes:"):
        assert option in out.stdout


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from batchcost.cli import main; main(['--help']);"
        "heavy = [m for m in ('numpy', 'google.genai', 'genai_prices', 'jinja2', 'sentencepiece', 'msgspec')"
        " if m in sys.modules]; print('HEAVY', heavy, file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY []" in out.stderr


def test_validate_does_not_import_tokenizers_or_pricing(tmp_path: Path) -> None:
    code = (
        "import sys; from batchcost.cli import main; main(['validate', sys.argv[1]]);"
        "heavy = [m for m in ('google.genai', 'genai_prices', 'jinja2', 'sentencepiece', 'yaml')"
        " if m in sys.modules]; print('HEAVY', heavy, file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(EXAMPLES / "batch_requests.jsonl")], capture_output=True, text=True
    )
    assert "HEAVY []" in out.stderr, out.stderr


def _validating(tmp_path: Path, lines: int) -> subprocess.Popen[str]:
    """``batchcost validate`` started on a file of ``lines`` short requests (long enough to be stopped)."""
    p = tmp_path / "big.jsonl"
    line = json.dumps({"key": "k", "request": {"contents": [{"parts": [{"text": "word " * 40}]}]}})
    with p.open("w") as fh:
        for i in range(lines):
            fh.write(line.replace('"k"', f'"k{i}"') + "\n")
    return subprocess.Popen(
        [sys.executable, "-m", "batchcost", "validate", str(p), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _spills_once_scanning(proc: subprocess.Popen[str]) -> str:
    """Wait until the scan of ``proc`` is under way (its workers' spill files exist); their glob pattern."""
    import glob
    import tempfile

    spills = os.path.join(tempfile.gettempdir(), f"batchcost-scan-{proc.pid}-*.columns")
    deadline = time.monotonic() + 60
    while not glob.glob(spills) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the workers are scanning once their spill files exist
    assert proc.poll() is None, "the scan ended before it could be stopped"
    return spills


def test_ctrl_c_exits_130_with_a_short_message(tmp_path: Path) -> None:
    proc = _validating(tmp_path, 800_000)
    _spills_once_scanning(proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err


def test_sigterm_exits_143_and_leaves_no_spill_files(tmp_path: Path) -> None:
    import glob

    proc = _validating(tmp_path, 800_000)
    spills = _spills_once_scanning(proc)
    proc.send_signal(signal.SIGTERM)  # as `kill`, a CI timeout or a stopping container sends it
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (out, err)
    assert "terminated" in err and "Traceback" not in err
    assert glob.glob(spills) == []  # the workers' temporary files are removed as on Ctrl-C


def test_ctrl_c_during_an_import_still_exits_130_under_python_m(tmp_path: Path) -> None:
    """A Ctrl-C can land while a module is imported lazily, inside the ``exec`` of a string that
    ``dataclasses`` or ``namedtuple`` runs. CPython then marks the KeyboardInterrupt unhandled, even
    though the command catches it, and ``python -m`` kills itself with SIGINT at exit (returncode -2)
    instead of exiting 130, as the Dask Ctrl-C test once saw on CI."""
    probe = tmp_path / "interrupt_probe.py"
    probe.write_text(
        "import runpy\n"
        "import batchcost.cli\n"
        "def interrupted(words):\n"
        "    exec('raise KeyboardInterrupt')  # as an import that creates a dataclass when Ctrl-C lands\n"
        "batchcost.cli._calibrate_from_values = interrupted\n"
        "runpy.run_module('batchcost', run_name='__main__')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "interrupt_probe", "validate", str(EXAMPLES / "batch_requests.jsonl")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "src")])},
    )  # fmt: skip
    assert (proc.returncode, proc.stdout, proc.stderr) == (130, "", "\nbatchcost: interrupted\n")
