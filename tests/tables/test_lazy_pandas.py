"""pandas is loaded at the library's edges only: never by import, --help, validate, scan or a plain estimate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "batch_requests.jsonl")


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys; print(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    return eval(done.stdout.strip().splitlines()[-1])


def test_scan_estimate_and_the_estimate_command_do_not_load_pandas() -> None:
    code = (
        "import io, batchcost\n"
        f"batchcost.scan({EXAMPLE!r}).valid()\n"
        f"plan = batchcost.estimate({EXAMPLE!r}, model='gemini-2.5-flash', offline=True, output_tokens=10)\n"
        "plan.to_json(); repr(plan); plan._repr_html_()\n"
        "from batchcost.cli import main\n"
        f"main(['estimate', {EXAMPLE!r}, '-m', 'gemini-2.5-flash', '--offline', '--output-tokens', '10', '-q'],"
        " stdout=io.StringIO(), stderr=io.StringIO())"
    )
    assert loaded_after(code) == []


def test_a_table_loads_pandas() -> None:
    code = f"import batchcost\nbatchcost.scan({EXAMPLE!r}).to_pandas()"
    assert "pandas" in loaded_after(code)
