"""The memory of long texts: bounded by the memory the texts take, least recently used forgotten first."""

from __future__ import annotations

import sys

from batchcost.text_memo import TextMemo


def test_hits_and_the_least_recently_used_go_first() -> None:
    a, b, c, d, e = (ch * 1000 for ch in "abcde")
    memo: TextMemo[int] = TextMemo(max_bytes=4 * sys.getsizeof(a) + 10)
    for i, text in enumerate((a, b, c, d)):
        memo.put(text, i)
    assert memo.get(a) == 0  # a is now the most recently used
    memo.put(e, 4)  # over the bound: b goes, not a
    assert (memo.get(a), memo.get(b), memo.get(c), memo.get(e)) == (0, None, 2, 4)
    assert len(memo) == 4


def test_the_bound_is_memory_not_characters() -> None:
    wide = "\U0001f600" * 1000  # 4 bytes per character in memory
    narrow = "x" * 1000
    memo: TextMemo[int] = TextMemo(max_bytes=4 * sys.getsizeof(narrow) + 100)
    memo.put(wide, 1)  # about 4 narrow texts' worth: over a quarter of the bound, not kept
    assert memo.get(wide) is None
    for i in range(6):
        memo.put(narrow + str(i), i)
    assert len(memo) == 4


def test_a_count_limit_too() -> None:
    memo: TextMemo[int] = TextMemo(max_bytes=10**9, max_texts=3)
    for i in range(5):
        memo.put(f"text {i}", i)
    assert len(memo) == 3 and memo.get("text 0") is None and memo.get("text 4") == 4


def test_texts_alike_at_both_ends_and_the_middle_are_still_told_apart() -> None:
    base = "a" * 1000
    one = base[:250] + "1" + base[251:]  # the same length, ends and middle: only the comparison tells
    two = base[:250] + "2" + base[251:]
    memo: TextMemo[int] = TextMemo(max_bytes=10**9)
    memo.put(one, 1)
    assert memo.get(one) == 1
    assert memo.get(two) is None  # never the other text's figure
    memo.put(two, 2)
    assert (memo.get(two), memo.get(one)) == (2, None)  # they take turns
    assert memo.get("".join(list(two))) == 2  # an equal text made afresh (as each line's decode makes it)
