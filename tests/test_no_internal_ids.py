"""Users see a source's title or URL and its checked date, never the maintainers' shorthand for it."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from batchcost.cli import main
from batchcost.pricing import PriceBook

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "batch_requests.jsonl"


def internal_ids() -> re.Pattern[str]:
    ids = sorted(PriceBook.load().sources(), key=len, reverse=True)
    assert "D-BATCH" in ids and "P-AE" in ids  # the shorthand the data files use
    return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, ids)) + r")(?![\w-])|[Ff]acts sheet")


def run(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    assert code in (0, 1), err.getvalue()
    return out.getvalue() + err.getvalue()


@pytest.mark.parametrize("model", ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-3.8-flash", "gemini-2.5-flash-lite"])
def test_estimate_outputs_name_no_internal_id(tmp_path: Path, model: str) -> None:
    pattern = internal_ids()
    src = tmp_path / "r.jsonl"
    shutil.copy(EXAMPLE, src)
    common = ["estimate", str(src), "-m", model, "--offline", "-q", "--output-tokens", "100"]
    texts = {
        "text": run(*common),
        "json": run(*common, "--format", "json"),
        "markdown": run(*common, "--format", "markdown"),
        "plan": run("plan", str(src), "-m", model, "--offline", "-q", "--output-tokens", "100"),
        "prices": run("prices", "--model", model),
    }
    run(*common, "--report", str(tmp_path / "r.html"))
    texts["html"] = (tmp_path / "r.html").read_text()
    found = {name: sorted(set(pattern.findall(text))) for name, text in texts.items()}
    assert found == {name: [] for name in texts}
