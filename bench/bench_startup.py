"""How fast the command starts: `batchcost --help` and `batchcost validate` on the small example.

Both must start without importing what they do not use (numpy for --help; google-genai, pandas and
matplotlib for either); tests/test_cli_help.py checks the imports, this prints the wall time.

    python bench/bench_startup.py            # best of 10
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def best(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "batchcost", *argv], capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    best(["--version"], 1)  # warm the file cache
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=False)
        times.append(time.perf_counter() - started)
    python = min(times)
    example = str(ROOT / "examples" / "batch_requests.jsonl")
    print(f"python -c pass              {python:.3f} s")
    print(f"batchcost --help            {best(['--help'], args.runs):.3f} s")
    print(f"batchcost validate example  {best(['validate', example], args.runs):.3f} s")


if __name__ == "__main__":
    main()
