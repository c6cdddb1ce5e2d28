"""Input tokens per request over the modalities: unused modalities add nothing and make no array."""

from __future__ import annotations

import numpy as np

from batchcost.heap import zeros_view
from batchcost.tokens.totals import total_input


def test_the_total_input_of_text_and_unused_modalities_is_the_text_array_itself() -> None:
    text = np.array([3, 0, 7], np.int64)
    image = np.array([0, 258, 0], np.int64)
    unused = {"text": text, "audio": zeros_view(3), "video": zeros_view(3)}
    assert total_input(unused, 3) is text  # nothing to add: no new array of 8 bytes a request
    assert total_input({**unused, "image": image}, 3).tolist() == [3, 258, 7]
    assert total_input({"audio": zeros_view(3)}, 3).tolist() == [0, 0, 0]
