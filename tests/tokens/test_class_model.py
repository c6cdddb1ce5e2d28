"""ClassModel's look-up of the rows that have byte-class counts (binary search in the scan's sorted rows)."""

from types import SimpleNamespace

import numpy as np

from batchcost.batchfile.text_classes import N_CLASSES
from batchcost.tokens.class_model import ClassModel


def _model(rows: list[int]) -> ClassModel:
    counts = np.arange(len(rows) * N_CLASSES, dtype=np.uint32).reshape(len(rows), N_CLASSES)
    scan = SimpleNamespace(text_classes={"row": np.array(rows, np.int64), "counts": counts})
    return ClassModel(scan)  # type: ignore[arg-type]


def test_has_is_true_only_when_every_row_has_class_counts() -> None:
    model = _model([2, 5, 9])
    assert model.has(np.array([2, 5], np.int32))
    assert model.has(np.array([2, 5, 9], np.int64))
    assert not model.has(np.array([2, 3], np.int32))  # 3 falls between known rows
    assert not model.has(np.array([9, 10], np.int32))  # 10 is past the last
    assert not model.has(np.array([0], np.int32))  # before the first
    assert not model.has(np.array([2, 5, 9, 9], np.int32))  # more rows than have counts
    assert not model.has(np.zeros(0, np.int32))
    assert not _model([]).has(np.array([1], np.int32))


def test_predict_takes_each_rows_own_counts() -> None:
    model = _model([2, 5, 9])
    beta = np.zeros(N_CLASSES)
    beta[0] = 1.0  # the first class's count
    assert model.predict(model.full, np.array([9, 2], np.int32), beta).tolist() == [2 * N_CLASSES, 0.0]
    broad = model.predict(model.broad, np.array([5], np.int32), np.ones(model.broad.shape[1]))
    assert broad.tolist() == [float(sum(range(N_CLASSES, 2 * N_CLASSES)))]  # every class once in the broad groups
