"""Charts for the HTML report, drawn with matplotlib and returned as inline SVG text.

Each chart is a real chart (axes, labels, units) drawn without pyplot, so the caller's matplotlib
backend and global state are untouched. Output is deterministic for the same inputs and the same
matplotlib version: a fixed ``svg.hashsalt`` per chart, no ``Date`` metadata, text kept as text
(``svg.fonttype: none``) and measured with the DejaVu Sans font that ships inside matplotlib, so
the layout does not depend on the fonts of the machine that renders.

Several SVGs share one HTML page, so every ``id`` is prefixed with the chart's name (matplotlib
numbers its groups ``figure_1``, ``axes_1``... in every figure). The XML prolog, DOCTYPE and RDF
metadata are dropped: they are not allowed or not useful inside HTML.

matplotlib is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import BatchcostError
from ..money import money, money_column

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TIER_THRESHOLD = 200_000

# A restrained palette that survives greyscale printing: the highlighted series is dark.
ACCENT = "#1d4ed8"
MUTED = "#94a3b8"
GRID = "#e2e8f0"
INK = "#1e293b"
WARN = "#b45309"
WAVE_FILLS = ("#eff6ff", "#f8fafc")


@dataclass(frozen=True)
class Bar:
    """One bar of the cost-by-mode chart (USD; ``low``/``high`` give the whisker when they differ)."""

    label: str
    value: Decimal
    low: Decimal | None = None
    high: Decimal | None = None
    highlight: bool = False


def _rc() -> dict[str, Any]:
    return {
        "svg.fonttype": "none",
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans"],
        "font.size": 9,
        "text.parse_math": False,  # a "$" in a label is a dollar, never mathtext
        "text.color": INK,
        "axes.edgecolor": MUTED,
        "axes.labelcolor": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "xtick.color": INK,
        "ytick.color": INK,
        "figure.facecolor": "none",
        "axes.facecolor": "none",
        "savefig.facecolor": "none",
        "savefig.transparent": True,
    }


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Figure, name: str, label: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return _inline(buf.getvalue(), name, label)


_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_URL_REF = re.compile(r"url\(#([^)]+)\)")
_HREF_REF = re.compile(r'((?:xlink:)?href)="#([^"]+)"')
_SIZE = re.compile(r'<svg\b([^>]*?)\swidth="[^"]*"\sheight="[^"]*"')


def _inline(svg: str, name: str, label: str) -> str:
    """matplotlib's SVG document -> an ``<svg>`` element safe and unique inside one HTML page."""
    from markupsafe import escape

    svg = _PROLOG.sub("", svg, count=1)
    svg = _METADATA.sub("", svg, count=1)
    svg = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"', svg)
    svg = _URL_REF.sub(lambda m: f"url(#{name}-{m.group(1)})", svg)
    svg = _HREF_REF.sub(lambda m: f'{m.group(1)}="#{name}-{m.group(2)}"', svg)
    # The viewBox keeps the aspect ratio; CSS sizes the chart to its column (and to the printed page).
    svg = _SIZE.sub(r"<svg\1", svg, count=1)
    svg = svg.replace("<svg ", f'<svg class="chart" role="img" aria-label="{escape(label)}" ', 1)
    # The page promises no script; matplotlib never writes one, and this keeps it that way.
    if re.search(r"<\s*script|\son\w+\s*=|javascript:", svg, re.I):
        raise BatchcostError(f"chart {name!r}: matplotlib produced active SVG content; report this as a bug")
    return svg.strip() + "\n"


def _compact(n: float) -> str:
    """1500 -> '1.5k', 200000 -> '200k', 2000000 -> '2M'."""
    for div, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if abs(n) >= div:
            v = n / div
            return f"{v:.0f}{suffix}" if v == int(v) else f"{v:.1f}{suffix}"
    return f"{n:g}"


def _usd_ticks(values: Sequence[float]) -> list[str]:
    """Tick labels of a USD axis, one precision for all: "$0", "$0.20", "$1.40"; "$0", "$20", "$40"."""
    steps = [abs(b - a) for a, b in itertools.pairwise(sorted(values)) if b != a]
    step = min(steps) if steps else max((abs(v) for v in values), default=1.0)
    places = 0 if step >= 1 and all(float(v).is_integer() for v in values) else 2
    while places < 4 and step < 10.0 ** (-places) * 0.999:
        places += 1
    return ["$0" if v == 0 else ("-" if v < 0 else "") + f"${abs(v):,.{places}f}" for v in values]


def money_label(value: Decimal) -> str:
    """A label of one amount: the same rounding as the tables (``batchcost.money``)."""
    return money(value)


def token_histogram(edges: Sequence[int], counts: Sequence[int], *, tier: bool) -> str | None:
    """Bar chart of requests per input-token bin (bins are log-spaced: 1, 2, 5, 10, 20, 50...).

    Args:
        edges: bin edges from the plan's ``tokens.distribution`` (``len(counts) + 1`` of them).
        counts: requests per bin.
        tier: draw the 200k prompt-tier line when a bin lies beyond it (the model prices a tier).

    Returns:
        An ``<svg>`` element, or None when there is nothing to draw.
    """
    if not counts or sum(counts) == 0 or len(edges) != len(counts) + 1:
        return None
    import matplotlib

    first = next(i for i, c in enumerate(counts) if c)
    edges, counts = list(edges[first:]), list(counts[first:])
    n = len(counts)
    with matplotlib.rc_context({**_rc(), "svg.hashsalt": "batchcost-histogram"}):
        fig = _figure(7.2, 2.9)
        ax = fig.add_subplot()
        xs = list(range(n))
        above = [edges[i] >= TIER_THRESHOLD for i in range(n)]
        colors = [WARN if a else ACCENT for a in above]
        bars = ax.bar(xs, counts, width=0.86, color=colors, zorder=2)
        ax.bar_label(bars, labels=[f"{c:,}" if c else "" for c in counts], padding=2, fontsize=7.5, color=INK)
        ax.set_xticks([i - 0.5 for i in range(n + 1)], [_compact(e) for e in edges], fontsize=8)
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_xlabel("input tokens per request (bin edges; each bar counts requests from its left edge)")
        ax.set_ylabel("requests")
        ax.yaxis.set_major_locator(_int_locator())
        ax.yaxis.set_major_formatter(_thousands())
        ax.grid(axis="y", color=GRID, zorder=0)
        ax.margins(y=0.15)
        if tier and TIER_THRESHOLD in edges and edges[-1] > TIER_THRESHOLD:
            x = edges.index(TIER_THRESHOLD) - 0.5
            ax.axvline(x, color=WARN, linestyle="--", linewidth=1.2, zorder=3)
            note = ax.annotate(
                "200k prompt tier: higher rates to the right ", (x, 1), xycoords=("data", "axes fraction"),
                va="top", ha="right", fontsize=8, color=WARN,
            )  # fmt: skip
            note.set_in_layout(False)
        return _svg(fig, "histogram", "Histogram of input tokens per request")


def cost_by_mode(bars: Sequence[Bar], *, axis_label: str) -> str | None:
    """Horizontal bars of the whole-file cost per mode, with the interval as whiskers.

    Args:
        bars: one per priced mode, in display order (top first).
        axis_label: what the bars measure, e.g. "expected cost, USD (whiskers: 95% interval)".

    Returns:
        An ``<svg>`` element, or None when no mode is priced.
    """
    if not bars:
        return None
    import matplotlib

    with matplotlib.rc_context({**_rc(), "svg.hashsalt": "batchcost-modes"}):
        fig = _figure(7.2, 0.55 + 0.42 * len(bars))
        ax = fig.add_subplot()
        ys = list(range(len(bars)))[::-1]
        values = [float(b.value) for b in bars]
        colors = [ACCENT if b.highlight else MUTED for b in bars]
        ax.barh(ys, values, height=0.62, color=colors, zorder=2)
        top = max(values + [float(b.high) for b in bars if b.high is not None]) or 1.0
        # The bar labels are read as one column: one precision for all of them.
        for y, b, shown in zip(ys, bars, money_column([b.value for b in bars]), strict=True):
            end = float(b.value)
            if b.low is not None and b.high is not None and b.low != b.high:
                ax.errorbar(
                    float(b.value), y, xerr=[[float(b.value - b.low)], [float(b.high - b.value)]],
                    fmt="none", ecolor=INK, elinewidth=1, capsize=3, zorder=3,
                )  # fmt: skip
                end = float(b.high)
            ax.text(end + top * 0.012, y, shown, va="center", ha="left", fontsize=8.5, color=INK)
        ax.set_yticks(ys, [b.label for b in bars])
        ax.set_xlim(0, top * 1.18)
        ax.xaxis.set_major_formatter(_usd_formatter())
        ax.set_xlabel(axis_label)
        ax.grid(axis="x", color=GRID, zorder=0)
        ax.tick_params(axis="y", length=0)
        return _svg(fig, "modes", "Cost of the whole file by mode")


def cumulative_cost(costs: Sequence[Decimal], waves: Sequence[int], *, unit: str = "shard") -> str | None:
    """Cumulative batch cost over shards, with each wave shaded.

    Args:
        costs: cost of each shard, in submission order.
        waves: the wave of each shard (1-based, non-decreasing).
        unit: what one step is ("shard").

    Returns:
        An ``<svg>`` element, or None when there is nothing to draw.
    """
    if not costs or len(costs) != len(waves):
        return None
    import matplotlib

    total = Decimal(0)
    running: list[float] = []
    for c in costs:
        total += c
        running.append(float(total))
    n = len(costs)
    xs = list(range(1, n + 1))
    with matplotlib.rc_context({**_rc(), "svg.hashsalt": "batchcost-cumulative"}):
        fig = _figure(7.2, 2.7)
        ax = fig.add_subplot()
        start = 0
        wave_labels = []
        for k, w in enumerate(_runs(waves)):
            lo, hi = start + 0.5, start + w[1] + 0.5
            ax.axvspan(lo, hi, color=WAVE_FILLS[k % 2], zorder=0, linewidth=0)
            label = ax.text((lo + hi) / 2, 1, f"wave {w[0]}", transform=ax.get_xaxis_transform(), ha="center",
                            va="top", fontsize=8, color=INK)  # fmt: skip
            wave_labels.append((w[0], label))
            start += w[1]
        ax.step([0.5, *[x + 0.5 for x in xs]], [0.0, *running], where="pre", color=ACCENT, linewidth=1.8, zorder=3)
        if n <= 60:
            ax.plot(xs, running, "o", color=ACCENT, markersize=3.5, zorder=4)
        total_label = ax.annotate(
            money_label(total), (n + 0.5, running[-1]), xytext=(-4, 6), textcoords="offset points",
            ha="right", va="bottom", fontsize=8.5, color=INK,
        )  # fmt: skip
        ax.set_xlim(0.5, n + 0.5)
        ax.set_ylim(0, running[-1] * 1.2 or 1.0)
        ax.xaxis.set_major_locator(_int_locator())
        ax.yaxis.set_major_formatter(_usd_formatter())
        ax.set_xlabel(f"{unit} (in submission order)")
        ax.set_ylabel("cumulative cost, USD")
        ax.grid(axis="y", color=GRID, zorder=1)
        _thin_wave_labels(fig, ax, wave_labels, total_label)
        return _svg(fig, "cumulative", f"Cumulative batch cost by {unit}")


# Label every wave, or every 2nd, 5th, 10th... (and the first): the smallest step whose labels fit.
_LABEL_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000)
_LABEL_GAP = 6.0  # pixels at the figure's dpi: the least room between two labels


def _thin_wave_labels(fig: Figure, ax: Any, labels: list[tuple[int, Any]], keep_clear: Any) -> None:
    """Keep the wave labels that fit side by side at one regular step; remove the others.

    26 or 300 labels would be drawn on top of each other, so after the layout is computed the
    labels are measured and the smallest step (1, 2, 5, 10, ...) whose labels do not overlap is kept
    (the first wave, and every wave numbered a multiple of the step). A label at the chart's edge is
    moved inside the axes; one over the total's label is dropped.
    """
    if not labels:
        return
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # text measured as the SVG lays it out (same layout)
    fig.draw_without_rendering()  # runs the constrained layout, so the axes are where they will be
    axes_box = ax.get_window_extent(renderer)
    boxes = {}
    for number, text in labels:
        box = text.get_window_extent(renderer)
        if box.x0 < axes_box.x0:  # the first wave's label would stick out on the left
            text.set_horizontalalignment("left")
            text.set_x(ax.get_xlim()[0])
            box = text.get_window_extent(renderer)
        elif box.x1 > axes_box.x1:
            text.set_horizontalalignment("right")
            text.set_x(ax.get_xlim()[1])
            box = text.get_window_extent(renderer)
        boxes[number] = box
    clear = keep_clear.get_window_extent(renderer)
    chosen = labels[:1]
    for step in _LABEL_STEPS:
        multiples = [(k, t) for k, t in labels if k % step == 0 and k != 1]
        options = [labels[:1] + multiples, multiples] if step > 1 else [labels]
        fitting = [o for o in options if o and _apart([boxes[k] for k, _ in o])]
        if fitting:
            chosen = fitting[0]
            break
    # The total's label matters more than a wave's: a wave label over it goes.
    kept = {id(t) for k, t in chosen if not boxes[k].overlaps(clear)}
    for _, text in labels:
        if id(text) not in kept:
            text.remove()


def _apart(boxes: Sequence[Any]) -> bool:
    """True when boxes side by side leave at least :data:`_LABEL_GAP` between neighbours."""
    ordered = sorted(boxes, key=lambda b: b.x0)
    return all(b.x0 - a.x1 >= _LABEL_GAP for a, b in itertools.pairwise(ordered))


def _runs(waves: Sequence[int]) -> list[tuple[int, int]]:
    """[1, 1, 2, 2, 2] -> [(1, 2), (2, 3)]: consecutive shards of one wave."""
    out: list[tuple[int, int]] = []
    for w in waves:
        if out and out[-1][0] == w:
            out[-1] = (w, out[-1][1] + 1)
        else:
            out.append((w, 1))
    return out


def _usd_formatter() -> Any:
    from matplotlib.ticker import Formatter

    class UsdTicks(Formatter):  # type: ignore[misc]
        """Labels every tick of the axis with the same number of decimals (set_locs sees them all)."""

        def __init__(self) -> None:
            self.labels: dict[float, str] = {}

        def set_locs(self, locs: Sequence[float]) -> None:
            ticks = list(locs)
            self.labels = dict(zip(ticks, _usd_ticks(ticks), strict=True))

        def __call__(self, x: float, pos: int | None = None) -> str:
            return self.labels.get(x) or _usd_ticks([x])[0]

    return UsdTicks()


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _p: f"{v:,.0f}")


def _int_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    # min_n_ticks=1: a one-shard axis (0.5 to 1.5) gets the tick 1, not 0.5, 0.6... 1.5
    return MaxNLocator(integer=True, nbins=12, steps=[1, 2, 5, 10], min_n_ticks=1)


__all__ = ["Bar", "cost_by_mode", "cumulative_cost", "token_histogram"]
