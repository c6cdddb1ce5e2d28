"""Tokens predicted from a request's byte classes: the auxiliary figure of the sampled estimate.

See :class:`ClassModel`; :mod:`.sampled` fits one per script class on the sampled long requests.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..batchfile.text_classes import CLASS_NAMES

if TYPE_CHECKING:
    from ..batchfile import ScanResult

# The model is fitted only on at least this many requests per weight (then with the broad classes, then
# not at all: characters alone).
_ROWS_PER_WEIGHT = 3
# Rough tokens per byte of each class (per lead byte for non-ASCII characters), the prior the model's
# weights are pulled towards: Gemma 3 gives every digit its own token; a common word with its space
# is one token; CJK and Hangul characters are about 0.6 tokens each, Cyrillic letters about 0.35.
PRIOR = {
    "lower": 0.2, "upper": 0.35, "digit": 1.0, "punct": 0.6, "space": 0.3, "newline": 0.8, "control": 1.0,
    "latin1": 0.6, "latin_ext_greek": 0.5, "cyrillic": 0.35, "rtl": 0.45, "indic_thai": 0.4, "u1000": 0.5,
    "symbols": 1.0, "cjk": 0.6, "hangul": 0.6, "u_e000": 1.0, "four_byte": 1.5,
}  # fmt: skip
_PRIOR_SD = 0.5  # tokens per byte: how far a weight may plausibly be from its prior
# The byte classes merged into broad groups, for a model fitted on few requests.
_BROAD = (
    ("lower", "upper"),
    ("digit",),
    ("punct",),
    ("space", "newline", "control"),
    ("latin1", "latin_ext_greek", "cyrillic", "rtl"),
    ("indic_thai", "u1000", "symbols", "cjk", "hangul", "u_e000"),
    ("four_byte",),
)


def nnls(matrix: np.ndarray, target: np.ndarray, tolerance: float = 1e-10) -> np.ndarray:
    """Non-negative least squares (Lawson-Hanson active set): argmin ||Ax - b|| subject to x >= 0."""
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


class ClassModel:
    """Tokens predicted from byte classes: ``a = Z beta``, ``Z`` the class counts of each request.

    The weights are fitted by least squares, non-negative (every prediction is then >= 0), each
    request weighted by 1/characters (a long request's tokens vary more), and pulled towards rough
    prior weights (:data:`PRIOR`) as a Bayesian prior with a standard deviation of 0.5 tokens per
    byte would (ridge regression): a class the sample holds little of (emoji, private-use characters)
    keeps a plausible weight instead of one fitted to a few requests, or none, which would mispredict
    every request of the file that has more of it. With few sampled long requests the classes are
    merged into broad groups; with fewer still there is no model (the auxiliary figure is then
    characters).
    """

    def __init__(self, scan: ScanResult) -> None:
        classes = scan.text_classes
        # The rows with class counts (sorted, as the scan gives them), looked up by binary search: a
        # map from every row would take 4 bytes a request (6.7 MB on 1.7 M short prompts) for the
        # few thousand long ones. None without a class table.
        self._rows: np.ndarray | None = None
        if classes is None or not len(classes["row"]):
            self.full = self.broad = np.zeros((0, len(PRIOR)))
            return
        self._rows = np.asarray(classes["row"])
        # The counts as the scan keeps them (uint32): the rows fitted or predicted are made float as
        # they are taken, with the same values a float64 copy of the whole table would give.
        self.full = classes["counts"]
        groups = [[CLASS_NAMES.index(n) for n in group] for group in _BROAD]
        self.broad = np.column_stack([self.full[:, g].sum(axis=1, dtype=np.int64) for g in groups])
        self.prior = {id(self.full): np.array([PRIOR[n] for n in CLASS_NAMES]),
                      id(self.broad): np.array([np.mean([PRIOR[n] for n in g]) for g in _BROAD])}  # fmt: skip

    def _index(self, rows: np.ndarray) -> np.ndarray:
        """Each row's place in the class table (every row must have class counts: :meth:`has`)."""
        assert self._rows is not None
        return np.searchsorted(self._rows, rows)

    def has(self, rows: np.ndarray) -> bool:
        """True when every one of ``rows`` has class counts."""
        known = self._rows
        if known is None or not len(rows) or len(rows) > len(known):
            return False
        at = np.minimum(np.searchsorted(known, rows), len(known) - 1)
        return bool((known[at] == rows).all())

    def fit(self, rows: np.ndarray, y: np.ndarray, x: np.ndarray,
            design: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int] | None:  # fmt: skip
        """(the design matrix, its weights fitted on ``rows``, how many are non-zero); None if too few rows.

        ``design`` forces the full or the broad classes.
        """
        for z_all in (self.full, self.broad) if design is None else (design,):
            if design is not None or len(rows) >= _ROWS_PER_WEIGHT * z_all.shape[1]:
                break
        else:
            return None
        prior = self.prior[id(z_all)]
        w = 1.0 / np.sqrt(np.maximum(x, 1).astype(np.float64))
        a = z_all[self._index(rows)].astype(np.float64) * w[:, None]
        b = y.astype(np.float64) * w
        # the residual variance per character, from a fit without the prior, sets the prior's strength
        first = nnls(a, b)
        dof = max(1, len(rows) - int((first > 0).sum()))
        sigma2 = max(float(((b - a @ first) ** 2).sum()) / dof, 1e-6)
        pull = math.sqrt(sigma2) / _PRIOR_SD
        beta = nnls(np.vstack([a, pull * np.eye(len(prior))]), np.concatenate([b, pull * prior]))
        p = int((beta > 0).sum())
        if p == 0 or p >= len(rows) - 1:
            return None
        return z_all, beta, p

    def predict(self, z_all: np.ndarray, rows: np.ndarray, beta: np.ndarray) -> np.ndarray:
        return z_all[self._index(rows)].astype(np.float64) @ beta
