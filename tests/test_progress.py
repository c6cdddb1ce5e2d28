"""The progress line: only on a terminal, in each stage's own unit with a rate and an ETA, never blank."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchcost._progress import Display, amount, clock, display, rate
from batchcost.cli.common import AFTER, STAGES, human_size, stage_progress

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "batch_requests.jsonl"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # colour and text style
ANY_ESCAPE = re.compile(r"\x1b")


class Tty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frames(text: str) -> list[str]:
    """What the line showed, frame by frame, without cursor movement and colour."""
    plain = SGR.sub("", text)
    return [f.strip() for f in re.split(r"\r|\n|\x1b\[[0-9;?]*[A-Za-z]", plain) if f.strip()]


def drawn(clock: Clock, *, color: bool = True) -> tuple[Tty, Display]:
    stream = Tty()
    return stream, Display(stream, enabled=True, color=color, delay_s=0, width=100, get_time=clock)


def test_each_stage_shows_its_own_unit_rate_and_eta() -> None:
    clock = Clock()
    stream, shown = drawn(clock)
    for label, unit, total, step in [("scanning", "bytes", 200_000_000, 20_000_000), ("counting tokens", "requests", 3000, 300),
                                     ("writing 12 shards", "shards", 12, 1)]:  # fmt: skip
        shown.stage(label, unit)
        for i in range(11):
            clock.now += 0.5
            shown.update(min(i * step, total), total)
            shown._rich.refresh()
    shown.close()
    seen = frames(stream.getvalue())
    scanning = [f for f in seen if f.startswith("⠋ scanning") or "scanning" in f]
    assert any("/200.0 MB" in f and "40.0 MB/s" in f and "ETA 0:00:0" in f for f in scanning), scanning
    counting = [f for f in seen if "counting tokens" in f]
    assert any("/3,000 requests" in f and "600 requests/s" in f and "ETA" in f for f in counting), counting
    assert not any("MB/s" in f for f in counting)  # requests are not megabytes
    writing = [f for f in seen if "writing 12 shards" in f]
    assert any("/12 shards" in f and "2.0 shards/s" in f for f in writing), writing
    assert max(len(f) for f in seen) <= 100


def test_a_step_without_measurable_progress_is_a_named_spinner_with_its_time() -> None:
    clock = Clock()
    stream, shown = drawn(clock)
    shown.stage("loading the tokenizer, drawing the sample", None)
    clock.now += 12
    shown._rich.refresh()
    shown.close()
    assert any(f.endswith("0:00:12") and "drawing the sample" in f for f in frames(stream.getvalue()))


def test_rounds_of_the_same_stage_add_up_instead_of_starting_again() -> None:
    clock = Clock()
    stream, shown = drawn(clock)
    shown.stage("counting tokens", "requests")
    for done, total in [(20, 20), (20, 20), (1000, 2458), (2458, 2458), (100, 2085), (2085, 2085)]:
        shown.update(done, total)
        shown._rich.refresh()
    shown.close()
    seen = [f for f in frames(stream.getvalue()) if "/" in f]
    counts = [re.search(r"([\d,]+)/([\d,]+) requests", f).groups() for f in seen]  # type: ignore[union-attr]
    assert counts[-1] == ("4,563", "4,563")
    done = [int(d.replace(",", "")) for d, _ in counts]
    assert done == sorted(done)  # never back to zero


def test_nothing_is_drawn_when_piped_quiet_or_on_a_dumb_terminal() -> None:
    for stream, quiet, env in [(io.StringIO(), False, {}), (Tty(), True, {}), (Tty(), False, {"TERM": "dumb"})]:
        shown = display(stream, quiet=quiet, env=env)
        assert not shown.enabled
        shown.stage("scanning", "bytes")
        shown.update(1, 2)
        with shown.suspend():
            pass
        shown.close()
        assert stream.getvalue() == ""


def test_no_color_draws_without_any_colour_or_style() -> None:
    clock = Clock()
    stream, shown = drawn(clock, color=False)
    shown.stage("scanning", "bytes")
    shown.update(50, 100)
    shown._rich.refresh()
    shown.close()
    text = stream.getvalue()
    assert "scanning" in text and not SGR.search(text)
    assert display(Tty(), env={"NO_COLOR": "1"}).color is False
    assert display(Tty(), env={"NO_COLOR": ""}).color is True  # set but empty: colour stays (no-color.org)
    colored = Tty()
    shown = Display(colored, enabled=True, delay_s=0, width=100, get_time=clock)
    shown.stage("scanning", "bytes")
    shown.close()
    assert SGR.search(colored.getvalue())  # the control: with colour, there are styles to strip


def test_the_line_waits_a_second_so_short_runs_stay_clean() -> None:
    stream = Tty()
    shown = Display(stream, enabled=True, delay_s=0.3, width=100)
    shown.stage("scanning", "bytes")
    shown.update(1, 2)
    assert stream.getvalue() == ""
    deadline = time.monotonic() + 10  # the timer draws even a stage that reports nothing more
    while "scanning" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)  # polled, not a fixed sleep: a loaded CI machine may run the timer late
    assert "scanning" in stream.getvalue()
    shown.close()
    assert "\x1b[?25h" in stream.getvalue().rpartition("scanning")[2]  # the cursor is given back


def test_suspend_erases_the_line_while_the_command_asks() -> None:
    stream = Tty()
    shown = Display(stream, enabled=True, delay_s=0, width=100, refresh_per_second=50)
    shown.stage("counting tokens", "requests")
    with shown.suspend():
        before = stream.getvalue()
        stream.write("Send them? [y/N] ")
        time.sleep(0.2)
        assert stream.getvalue() == before + "Send them? [y/N] "  # nothing drawn over the question
    shown.close()


def test_stage_progress_names_every_stage_and_the_step_after_the_scan() -> None:
    clock = Clock()
    stream, shown = drawn(clock)
    progress = stage_progress(shown)
    progress("scan", 0, 1000)
    progress("scan", 1000, 1000)
    progress("scan", 1000, 1000)  # a repeated final report changes nothing
    progress("tokens", 20, 20)
    progress("tokens", 100, 200)
    shown._rich.refresh()
    progress("pricing", 0, 0)
    shown.close()
    seen = frames(stream.getvalue())
    labels = [label for label, _ in STAGES.values()]
    order = [next(i for i, f in enumerate(seen) if text in f) for text in
             ["scanning", AFTER["scan"], "counting tokens", labels[3]]]  # fmt: skip
    assert order == sorted(order)
    assert sum(1 for f in seen if f.startswith("⠋ scanning") or " scanning " in f) >= 1
    assert any("120/220 requests" in f for f in seen)


def test_the_estimate_reports_its_stages(tmp_path: Path) -> None:
    from batchcost.planner.estimate import estimate

    calls: list[tuple[str, int, int]] = []
    estimate(EXAMPLE, model="gemini-2.5-flash", output_tokens=10, offline=True,
             progress=lambda s, d, t: calls.append((s, d, t)))  # fmt: skip
    stages = list(dict.fromkeys(s for s, _, _ in calls))
    assert stages[0] == "scan" and stages[-1] == "pricing" and set(stages) <= STAGES.keys()
    assert ("pricing", 0, 0) in calls


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 bytes"), (1, "1 byte"), (999, "999 bytes"), (1000, "1.0 kB"), (7_499, "7.5 kB"), (70_312, "70 kB"),
     (999_400, "999 kB"), (999_600, "1.0 MB"), (1_234_567_890, "1.2 GB")],
)  # fmt: skip
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text


def test_figures() -> None:
    assert amount(12_300_000, 200_000_000, "bytes") == "12.3/200.0 MB"
    assert amount(1_230, 2_942, "requests") == "1,230/2,942 requests"
    assert amount(3, None, "shards") == "3 shards"
    assert rate(45_600_000, "bytes") == "45.6 MB/s" and rate(310.2, "requests") == "310 requests/s"
    assert rate(0.42, "shards") == "0.4 shards/s" and rate(None, "requests") == ""
    assert clock(83) == "0:01:23" and clock(None) == "-:--:--"


def test_piped_stderr_never_imports_rich() -> None:
    code = (
        "import sys; from batchcost.cli import main; main(sys.argv[1:]);print('rich' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "validate", str(EXAMPLE)], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert done.stderr.strip().splitlines()[-1] == "False"
    assert not ANY_ESCAPE.search(done.stdout + done.stderr)
