"""Fit the heuristic token counter's coefficients on exact Gemma 3 counts, score them, print code.

Run from the repository root (prints to stdout, writes nothing):

    PYTHONPATH=src /work/venv/bin/python bench/fit_heuristic.py [--data FILE] [--seed N] [--no-speed] [--synthetic]

What it does:

1. Loads the golden file (default: ``tests/data/gemma3-token-counts.jsonl`` if present, else the shared
   reference copy). Every line must hold ``category``, ``text`` and ``tokens``; a malformed line
   stops the script with its line number (nothing is skipped silently).
2. Splits every category in two with a seeded shuffle: the first half (rounded up) fits, the other
   half scores. The "edge" category (synthetic tokenizer edge cases such as ``"xxx...x"``) is scored
   but never fitted: it is not text anyone sends, and would pull the fit towards oddities.
3. Fits non-negative coefficients (Lawson-Hanson NNLS in numpy, so the result does not depend on
   whether scipy is installed) minimising, per category with equal weight, the squared relative
   error of each text, plus one row per category for the relative error of its total, plus a
   small ridge pull towards physically sensible prior values (so that features rare in the data,
   such as emoji or no-break spaces, keep plausible weights). ``digits`` is fixed at 1: Gemma 3
   splits digits, so each one is exactly one token.
4. Scores the rounded coefficients through :class:`HeuristicCounter` itself on the held-out half,
   next to chars/4, and repeats the fit with the halves swapped to see how stable totals are.
5. Prints the constants to paste into ``src/batchcost/tokens/heuristic.py``, then throughput.
6. With ``--synthetic``, also scores seeded texts of kinds the golden file lacks (base64, hex, CSV of
   numbers, minified JSON, URLs, emoji chat) against the exact local tokenizer, if one can be found
   offline (the ``offline`` extra); they show where the stated error stops holding.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import math
import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from batchcost.tokens.heuristic import FEATURE_NAMES, HeuristicCounter, features

GOLDEN_NAME = "gemma3-token-counts.jsonl"
_REPO = Path(__file__).resolve().parents[1]
REPO_COPY = _REPO / "tests" / "data" / GOLDEN_NAME
# The shared reference folder beside the repository (the same place tests/tokens/conftest.py looks).
SHARED_COPY = _REPO.parent / "shared" / "reference" / "data" / GOLDEN_NAME
DEFAULT_SEED = 20261127
EDGE = "edge"  # synthetic tokenizer edge cases: scored, never fitted, left out of the stated bound

# Fitting method (see the module docstring). Chosen by comparing both halves of the split.
RELATIVE_POWER = 1.0  # per-text weight 1/tokens**p: p=1 is squared relative error
TOTAL_WEIGHT = 3.0  # weight of each category's "relative error of the total" row
RIDGE = 0.01  # pull towards PRIORS; small next to the data (per-category loss is normalised to 1)
FIXED = {"digits": 1.0}
# Plausible tokens per unit, from tokenizer.md's per-script rule and how Gemma 3 tokenizes.
PRIORS: dict[str, float] = {
    "text": 0.0,
    "latin_lower": 0.2,
    "latin_accented": 0.4,
    "digits": 1.0,
    "space_digit": 1.0,
    "ascii_punct": 0.18,
    "han": 0.575,
    "kana": 0.575,
    "hangul": 0.575,
    "greek": 0.32,
    "cyrillic": 0.32,
    "rtl": 0.376,
    "indic": 0.376,
    "southeast_asian": 0.376,
    "other_letters": 0.376,
    "marks": 0.2,
    "other_punct": 1.0,
    "symbols": 1.64,
    "other_spaces": 1.0,
    "controls": 1.5,
    "latin_words": 0.3,
    "latin_words_4plus": 0.0,
    "latin_words_12plus": 0.0,
    "upper_runs": 0.0,
    "ascii_punct_runs": 0.0,
    "space_runs_2plus": 1.0,
    "newline_runs": 1.0,
    "tab_runs": 1.0,
    "cjk_runs": 0.0,
    "greek_words": 0.3,
    "cyrillic_words": 0.3,
    "rtl_words": 0.3,
    "indic_words": 0.3,
    "southeast_asian_words": 0.3,
    "other_words": 0.3,
    "latin_words_glued": 0.0,
}
DECIMALS = 4  # coefficients are printed (and scored) at this precision
STATED_MARGIN = 5.0  # points added to the worst measured category total error (see bounds())


@dataclass(frozen=True, slots=True)
class GoldenText:
    """One line of the golden file."""

    line: int
    category: str
    text: str
    tokens: int


@dataclass(frozen=True, slots=True)
class Score:
    """Errors of one estimator on one group of texts (percentages)."""

    texts: int
    exact_tokens: int
    mean_pct: float
    p95_pct: float
    worst_pct: float
    total_pct: float


def default_data_path() -> Path:
    """Return the golden file: the repository's test copy if there is one, else the shared reference."""
    return REPO_COPY if REPO_COPY.exists() else SHARED_COPY


def load_golden(path: Path) -> list[GoldenText]:
    """Read every line of the golden file.

    Raises:
        ValueError: on a blank or malformed line, naming the file and line number.
    """
    rows: list[GoldenText] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                record = json.loads(line)
                category, text, tokens = record["category"], record["text"], record["tokens"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a golden record ({exc})") from exc
            if not (isinstance(category, str) and isinstance(text, str) and isinstance(tokens, int)):
                raise ValueError(f"{path}:{number}: category/text must be strings and tokens an integer")
            if tokens < 0:
                raise ValueError(f"{path}:{number}: negative token count {tokens}")
            rows.append(GoldenText(number, category, text, tokens))
    if not rows:
        raise ValueError(f"{path}: no records")
    return rows


def split_halves(rows: Sequence[GoldenText], seed: int = DEFAULT_SEED) -> tuple[list[int], list[int]]:
    """Split row indices into (fitting half, held-out half), category by category.

    Each category's rows, in file order, are shuffled with ``random.Random(f"{seed}/{category}")``
    (deterministic across runs and platforms); the first ceil(n/2) fit, the rest are held out.
    """
    by_category: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_category.setdefault(row.category, []).append(index)
    fit: list[int] = []
    held_out: list[int] = []
    for category, indices in by_category.items():
        shuffled = list(indices)
        random.Random(f"{seed}/{category}").shuffle(shuffled)
        half = (len(shuffled) + 1) // 2
        fit.extend(shuffled[:half])
        held_out.extend(shuffled[half:])
    return sorted(fit), sorted(held_out)


def nnls(matrix: np.ndarray, target: np.ndarray, tolerance: float = 1e-10) -> np.ndarray:
    """Non-negative least squares, Lawson-Hanson active set: argmin ||Ax - b|| subject to x >= 0."""
    n = matrix.shape[1]
    passive = np.zeros(n, dtype=bool)
    x = np.zeros(n)
    gradient = matrix.T @ (target - matrix @ x)
    for _ in range(10 * n):
        candidates = ~passive & (gradient > tolerance * max(1.0, float(np.abs(gradient).max())))
        if not candidates.any():
            break
        passive[np.argmax(np.where(candidates, gradient, -np.inf))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(matrix[:, passive], target, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            blocking = passive & (z <= 0)
            step = float(np.min(x[blocking] / (x[blocking] - z[blocking])))
            x = x + step * (z - x)
            passive &= x > 1e-12
            x[~passive] = 0.0
        gradient = matrix.T @ (target - matrix @ x)
    return x


def fit(rows: Sequence[GoldenText], matrix: np.ndarray, indices: Sequence[int]) -> dict[str, float]:
    """Fit coefficients on ``indices`` (edge cases excluded); return them rounded to DECIMALS."""
    exact = np.array([row.tokens for row in rows], dtype=float)
    free = np.array([name not in FIXED for name in FEATURE_NAMES])
    fixed = np.array([FIXED.get(name, 0.0) for name in FEATURE_NAMES])
    prior = np.array([PRIORS[name] for name in FEATURE_NAMES])
    residual = exact - matrix @ fixed  # what the free coefficients must explain
    by_category: dict[str, list[int]] = {}
    for index in indices:
        if rows[index].category != EDGE:
            by_category.setdefault(rows[index].category, []).append(index)
    blocks: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for category in sorted(by_category):
        members = np.array(by_category[category])
        tokens = np.maximum(exact[members], 1.0)
        weight = tokens**-RELATIVE_POWER
        weight /= math.sqrt(float((weight**2 * tokens**2).sum()))  # each category's loss on one scale
        blocks.append(matrix[members][:, free] * weight[:, None])
        targets.append(residual[members] * weight)
        total = exact[members].sum()
        blocks.append(TOTAL_WEIGHT * matrix[members][:, free].sum(axis=0, keepdims=True) / total)
        targets.append(np.array([TOTAL_WEIGHT * residual[members].sum() / total]))
    ridge = math.sqrt(RIDGE)
    blocks.append(ridge * np.eye(int(free.sum())))
    targets.append(ridge * prior[free])
    solution = nnls(np.vstack(blocks), np.concatenate(targets))
    coefficients = fixed.copy()
    coefficients[free] = solution
    return {name: round(float(value), DECIMALS) for name, value in zip(FEATURE_NAMES, coefficients, strict=True)}


def score(estimates: Sequence[int], rows: Sequence[GoldenText], indices: Sequence[int]) -> Score:
    """Per-text and total errors of ``estimates`` (aligned with ``rows``) over ``indices``.

    Texts whose exact count is 0 (the empty string) have no relative error; they still count in
    the total.
    """
    exact = np.array([rows[i].tokens for i in indices], dtype=float)
    guess = np.array([estimates[i] for i in indices], dtype=float)
    nonzero = exact > 0
    errors = np.abs(guess[nonzero] - exact[nonzero]) / exact[nonzero] * 100
    total = float(exact.sum())
    return Score(
        texts=len(indices),
        exact_tokens=int(total),
        mean_pct=float(errors.mean()),
        p95_pct=float(np.percentile(errors, 95)),
        worst_pct=float(errors.max()),
        total_pct=(float(guess.sum()) - total) / total * 100,
    )


def score_by_category(estimates: Sequence[int], rows: Sequence[GoldenText], indices: Sequence[int]) -> dict[str, Score]:
    """Scores per category (file order of first appearance), then ``"overall"`` over all of ``indices``."""
    by_category: dict[str, list[int]] = {}
    for index in indices:
        by_category.setdefault(rows[index].category, []).append(index)
    scores = {category: score(estimates, rows, members) for category, members in by_category.items()}
    scores["overall"] = score(estimates, rows, indices)
    return scores


def chars_over_4(texts: Sequence[str]) -> list[int]:
    """The usual rule of thumb, rounded like the heuristic (half up, at least 1 for non-empty text)."""
    return [max(1, math.floor(len(t) / 4 + 0.5)) if t else 0 for t in texts]


def _cell(s: Score) -> str:
    return f"{s.mean_pct:.1f} / {s.p95_pct:.0f} / {s.worst_pct:.0f} / {s.total_pct:+.1f}"


def print_table(heuristic: Mapping[str, Score], swapped: Mapping[str, Score], baseline: Mapping[str, Score]) -> None:
    """Print the held-out comparison as a Markdown table."""
    print("Cells: mean / p95 / worst per-text error % / error of the category total %.")
    print("| category | held-out texts | exact tokens | heuristic | total, halves swapped | chars/4 |")
    print("|---|---:|---:|---|---:|---|")
    for category, s in heuristic.items():
        label = f"**{category}**" if category == "overall" else category
        print(
            f"| {label} | {s.texts:,} | {s.exact_tokens:,} | {_cell(s)} | "
            f"{swapped[category].total_pct:+.1f} | {_cell(baseline[category])} |"
        )


def bounds(heuristic: Mapping[str, Score], swapped: Mapping[str, Score]) -> tuple[dict[str, float], float]:
    """Per-category total bounds and the single stated figure, from both halves of the split.

    A category's bound is the worse |total error| of the two halves, rounded up to a whole percent,
    plus one point. The stated figure takes the worst |total error| of any real category (edge cases
    and the file-specific "overall" mix excluded) in either half, adds STATED_MARGIN points, and
    rounds up to a multiple of 5: the document categories rest on 12-13 texts each, and their two
    halves already disagree by several points, so a new mix of such texts can do worse than either.
    """
    per_category = {
        category: float(math.ceil(max(abs(s.total_pct), abs(swapped[category].total_pct))) + 1)
        for category, s in heuristic.items()
    }
    worst = max(
        max(abs(s.total_pct), abs(swapped[category].total_pct))
        for category, s in heuristic.items()
        if category not in (EDGE, "overall")
    )
    return per_category, float(5 * math.ceil((worst + STATED_MARGIN) / 5))


def print_code(
    coefficients: Mapping[str, float],
    fit_texts: int,
    heuristic: Mapping[str, Score],
    per_category: Mapping[str, float],
    stated: float,
    data: Path,
) -> None:
    """Print the constants block to paste into heuristic.py."""
    today = dt.date.today().isoformat()
    print("# --- paste into src/batchcost/tokens/heuristic.py ---")
    print("# GENERATED by bench/fit_heuristic.py; re-run it and paste its output rather than editing by hand.")
    print(f"# Fitted {today} on {data.name} (exact Gemma 3 counts), seeded ({DEFAULT_SEED}) fitting half of")
    print('# each category except "edge"; non-negative least squares on per-text relative error, categories')
    print("# weighted equally, plus one row per category for its total, ridge towards prior values;")
    print('# "digits" fixed at 1.')
    print(f'FIT_DATE: Final = "{today}"')
    print(f"FIT_TEXTS: Final = {fit_texts}")
    print("COEFFICIENTS: Final[Mapping[str, float]] = MappingProxyType(")
    print("    {")
    for name, value in coefficients.items():
        print(f'        "{name}": {value:.{DECIMALS}f},')
    print("    }")
    print(")")
    print()
    print("# Held-out half of the golden file (fields: per-text mean %, per-text p95 %, total bias %,")
    print("# bound on |total error| %), from bench/fit_heuristic.py.")
    print("HEURISTIC_ERROR: Final[Mapping[str, HeuristicError]] = MappingProxyType(")
    print("    {")
    for category, s in heuristic.items():
        print(
            f'        "{category}": HeuristicError({s.mean_pct:.1f}, {s.p95_pct:.1f}, '
            f"{s.total_pct:.1f}, {per_category[category]:.1f}),"
        )
    print("    }")
    print(")")
    print(f"_STATED_ERROR_PCT: Final = {stated:.1f}")


def throughput(label: str, texts: Sequence[str], run: Callable[[Sequence[str]], object]) -> None:
    """Print MB/s (UTF-8) and texts/s of ``run`` over ``texts``: best of 5 runs, in CPU seconds.

    CPU time rather than wall time, so that other work on a shared machine does not skew the figure.
    """
    size = sum(len(t.encode("utf-8")) for t in texts)
    best = math.inf
    for _ in range(5):
        start = time.process_time()
        run(texts)
        best = min(best, time.process_time() - start)
    megabytes = size / 1e6
    print(f"| {label} | {len(texts):,} | {megabytes:.2f} | {megabytes / best:.1f} | {len(texts) / best:,.0f} |")


def print_speed(rows: Sequence[GoldenText]) -> None:
    """Throughput of the default counter on English, code, CJK and many short texts."""
    counter = HeuristicCounter()

    def join(category: str, size: int) -> str:
        body = "\n\n".join(r.text for r in rows if r.category == category)
        return (body * (size // max(1, len(body)) + 1))[:size]

    print("Throughput of HeuristicCounter.count_texts, one thread, per CPU second.")
    print("| input | texts | MB | MB/s | texts/s |")
    print("|---|---:|---:|---:|---:|")
    english = join("doc_en_prose", 4_000_000)
    throughput("English prose, one 4 MB text", [english], counter.count_texts)
    # The same without its few curly quotes and dashes: the all-ASCII fast path.
    plain = english.encode("ascii", "ignore").decode("ascii")
    throughput("English prose, ASCII only, one text", [plain], counter.count_texts)
    throughput("English prose, 2 KB texts", _chunks(english, 2000), counter.count_texts)
    throughput("Python source, 2 KB texts", _chunks(join("doc_python", 4_000_000), 2000), counter.count_texts)
    throughput(
        "Chinese/Japanese/Korean, 2 KB texts",
        _chunks(join("doc_mo_cjk", 1_500_000), 700),
        counter.count_texts,
    )
    short = [r.text for r in rows if r.category.startswith("mo_")] * 20
    throughput("short messages, all scripts", short, counter.count_texts)


def synthetic_texts(seed: int) -> dict[str, list[str]]:
    """Seeded texts of kinds the golden file lacks, 60 of each."""
    rng = random.Random(seed)
    words = [
        "ok",
        "lol",
        "see",
        "you",
        "soon",
        "love",
        "it",
        "thanks",
        "so",
        "much",
        "haha",
        "yes",
        "no",
        "maybe",
        "tonight",
    ]
    emoji = ["\U0001f600", "\U0001f602", "\U0001f914", "\U0001f44d", "\U0001f525", "\u2764\ufe0f", "\u2728"]
    names = ["alpha", "beta", "gamma", "delta", "user_id", "createdAt"]

    def record() -> dict[str, object]:
        return {
            "id": rng.randint(0, 10**6),
            "name": rng.choice(names) + str(rng.randint(0, 99)),
            "ok": rng.random() < 0.5,
            "score": round(rng.uniform(0, 1), 4),
            "tags": rng.sample(words, rng.randint(0, 3)),
        }

    def url() -> str:
        path = "/".join(rng.choice(words + names) for _ in range(rng.randint(1, 4)))
        return f"https://{rng.choice(names)}.example.org/{path}/{rng.randint(1, 99999)}?q={rng.choice(words)}"

    def chat() -> str:
        return " ".join(
            rng.choice(words) + (rng.choice(emoji) if rng.random() < 0.4 else "") for _ in range(rng.randint(3, 40))
        )

    def row() -> str:
        return ",".join(f"{rng.uniform(-1e4, 1e4):.3f}" for _ in range(8))

    count = range(60)
    return {
        "base64 blobs": [base64.b64encode(rng.randbytes(rng.randint(50, 3000))).decode("ascii") for _ in count],
        "hex digests": [" ".join(rng.randbytes(32).hex() for _ in range(rng.randint(1, 20))) for _ in count],
        "CSV of numbers": ["\n".join(row() for _ in range(rng.randint(5, 60))) for _ in count],
        "minified JSON": [
            json.dumps([record() for _ in range(rng.randint(1, 40))], separators=(",", ":")) for _ in count
        ],
        "URLs, one per line": ["\n".join(url() for _ in range(rng.randint(1, 30))) for _ in count],
        "chat with emoji": [chat() for _ in count],
    }


def print_synthetic(seed: int) -> None:
    """Score the heuristic on :func:`synthetic_texts` against the exact local Gemma 3 tokenizer."""
    # Lazy: the exact tokenizer needs sentencepiece and a model (the offline extra rebuilds one).
    from batchcost.errors import TokenizerError
    from batchcost.tokens.gemma3 import LocalCounter, find_model

    try:
        with tempfile.TemporaryDirectory() as cache:  # a rebuilt model is cached only for this run
            source = find_model(offline=True, cache_dir=Path(cache), env={})
    except TokenizerError as exc:
        print(f"synthetic texts skipped: no exact tokenizer ({exc})")
        return
    exact_counter, heuristic = LocalCounter(source), HeuristicCounter()
    print("Synthetic texts unlike the golden file, against exact counts (whole sets, nothing fitted on them).")
    print("| kind | texts | exact tokens | heuristic | chars/4 |")
    print("|---|---:|---:|---|---|")
    for kind, texts in synthetic_texts(seed).items():
        rows = [GoldenText(0, kind, text, n) for text, n in zip(texts, exact_counter.count_texts(texts), strict=True)]
        every = list(range(len(rows)))
        ours = score(heuristic.count_texts(texts), rows, every)
        theirs = score(chars_over_4(texts), rows, every)
        print(f"| {kind} | {len(rows)} | {ours.exact_tokens:,} | {_cell(ours)} | {_cell(theirs)} |")


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def main(argv: Sequence[str] | None = None) -> int:
    """Fit, score, print the table, the code to paste and the throughput."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_path(), help="golden JSONL file")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the half split")
    parser.add_argument("--no-speed", action="store_true", help="skip the throughput measurements")
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="also score synthetic texts (base64, CSV, minified JSON...) against the exact local tokenizer",
    )
    args = parser.parse_args(argv)

    rows = load_golden(args.data)
    first, second = split_halves(rows, args.seed)
    categories = sorted({r.category for r in rows})
    print(f"{args.data}: {len(rows):,} texts, {len(categories)} categories, seed {args.seed}")
    fitted_on = [i for i in first if rows[i].category != EDGE]
    held_out_edge = sum(rows[i].category == EDGE for i in second)
    print(
        f"fitting half: {len(first):,} texts, {len(fitted_on):,} fitted "
        f"({len(first) - len(fitted_on)} {EDGE!r} texts only scored, in the swapped run); "
        f"held-out half: {len(second):,} texts, all scored ({held_out_edge} {EDGE!r})"
    )
    texts = [r.text for r in rows]
    matrix = np.array([features(t) for t in texts], dtype=float)

    coefficients = fit(rows, matrix, first)
    held_out = score_by_category(HeuristicCounter(coefficients).count_texts(texts), rows, second)
    swapped_coefficients = fit(rows, matrix, second)
    swapped = score_by_category(HeuristicCounter(swapped_coefficients).count_texts(texts), rows, first)
    baseline = score_by_category(chars_over_4(texts), rows, second)
    per_category, stated = bounds(held_out, swapped)

    print()
    print_table(held_out, swapped, baseline)
    print()
    print(
        f"stated error on totals: ±{stated:g}% (worst |category total error| of the two halves "
        f"+ {STATED_MARGIN:g} points, rounded up to a multiple of 5)"
    )
    print()
    print_code(coefficients, len(fitted_on), held_out, per_category, stated, args.data)
    if args.synthetic:
        print()
        print_synthetic(args.seed)
    if not args.no_speed:
        print()
        print_speed(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
