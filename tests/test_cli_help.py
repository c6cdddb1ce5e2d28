"""Every command's --help, shell completion, and a CLI that starts without the heavy packages."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from batchcost.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [
    "validate", "estimate", "prices", "plan", "shard", "submit", "status", "collect", "cancel", "report", "reconcile",
    "completion",
]  # fmt: skip


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_main_help_lists_every_command_and_the_exit_codes() -> None:
    code, out, err = run("--help")
    assert code == 0 and err == ""
    for command in COMMANDS:
        assert f"\n  {command} " in out
    assert "exit codes:" in out and "130  interrupted (Ctrl-C)" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command: str) -> None:
    code, out, err = run(command, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"Usage: batchcost {command} ")
    assert "examples:" in out and f"batchcost {command} " in out.split("examples:")[1]
    if command != "completion":
        assert "exit codes:" in out
    assert max(len(line) for line in out.splitlines()) <= 100  # readable in a 100-column terminal


def test_usage_errors_are_one_line_with_a_pointer_to_help() -> None:
    for argv, needle in [
        (["frobnicate"], "No such command 'frobnicate'"),
        (["estimate"], "Missing argument 'FILE...'"),
        (["estimate", "x.jsonl", "--format", "pdf"], "'pdf' is not one of 'text', 'json', 'markdown', 'csv'"),
        (["estimate", "x.jsonl", "--calibrate-from", "a", "b", "c"], "at most one REQUESTS file"),
    ]:
        code, out, err = run(*argv)
        assert code == 2 and out == "" and needle in err and err.count("\n") == 1, (argv, err)
        assert err.rstrip().endswith("--help`)")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    code, out, err = run("completion", shell)
    assert code == 0 and err == ""
    assert "_BATCHCOST_COMPLETE" in out and "batchcost" in out


def test_completion_completes_commands_and_options() -> None:
    env = {"_BATCHCOST_COMPLETE": "bash_complete", "COMP_WORDS": "batchcost est", "COMP_CWORD": "1"}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from batchcost.cli import app; app().main(prog_name='batchcost')"],
        env={**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")}, capture_output=True, text=True,
    )  # fmt: skip
    assert "plain,estimate" in done.stdout
    env.update(COMP_WORDS="batchcost estimate x.jsonl --output-t", COMP_CWORD="3")
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from batchcost.cli import app; app().main(prog_name='batchcost')"],
        env={**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")}, capture_output=True, text=True,
    )  # fmt: skip
    assert "plain,--output-tokens" in done.stdout


@pytest.mark.parametrize(
    ("argv", "heavy"),
    [
        (
            ["--help"],
            ("numpy", "google.genai", "pandas", "matplotlib", "jinja2", "rich", "fsspec", "dask", "distributed"),
        ),
        # validate keeps its per-line figures in numpy arrays; it needs nothing else (rich draws
        # progress only on a terminal, after a second)
        (
            ["validate", str(ROOT / "examples" / "batch_requests.jsonl")],
            # fsspec and the storage backends only when a URL is given (batchcost.storage), Dask only with --engine dask
            (
                "google.genai",
                "pandas",
                "matplotlib",
                "jinja2",
                "rich",
                "fsspec",
                "aiohttp",
                "botocore",
                "dask",
                "distributed",
            ),
        ),
    ],
)
def test_help_and_validate_start_without_heavy_packages(argv: list[str], heavy: tuple[str, ...]) -> None:
    code = (
        "import sys; from batchcost.cli import main; main(sys.argv[2:]);"
        "print(sorted(m for m in sys.argv[1].split(',') if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, ",".join(heavy), *argv], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert done.stderr.strip().splitlines()[-1] == "[]"
