"""Caching advisor against hand-computed figures (exact Gemma 3 prefix counts, rates from the book).

Rates used (price book on 2026-11-27, per 1M tokens):
* gemini-2.5-flash: batch input 0.15, batch cache read 0.03, standard input 0.30, storage 1.00 per hour;
  implicit minimum 2,048 (assumed as the explicit minimum).
* gemini-3.8-flash: batch input 0.375, batch cache read 0.0375, standard input 0.75, standard cache read 0.075.
* gemini-4-argon: batch input 1.00, batch cache read 0.05, no explicit caching.

Explicit saving for N requests sharing T tokens, stored H hours (2.5 Flash):
    N*T*(0.15 - 0.03)/1e6 - T*0.30/1e6 - T*H*1.00/1e6 = T*(0.12*N - 0.30 - H)/1e6
so it pays from N > (0.30 + H)/0.12 requests (203 at 24 h) whatever T is, and with N requests it
pays while H < 0.12*N - 0.30 hours (119.7 h for 1,000 requests).
"""

from __future__ import annotations

import base64
import datetime
import functools
import io
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from batchcost.errors import PlanError
from batchcost.planner.caching import CachingAdvice, advise_caching
from batchcost.planner.estimate import estimate
from batchcost.planner.plan import Plan
from batchcost.pricing import PriceBook
from batchcost.tokens.gemma3 import LocalCounter

NOV27 = datetime.date(2026, 11, 27)
MILLION = Decimal(1_000_000)

_VOCABULARY = (
    "the report shows that revenue grew in every region while costs fell slightly over the year and the board "
    "approved a new plan for growth in markets where demand for services remains strong despite higher rates "
    "customers asked for faster delivery better support and clearer prices so the team built tools to help"
)


def mtok(rate: str, tokens: int) -> Decimal:
    return Decimal(rate) * tokens / MILLION


def prose(n_words: int, seed: int) -> str:
    rng = random.Random(seed)
    words = _VOCABULARY.split()
    return " ".join(rng.choice(words) for _ in range(n_words))


def write(path: Path, requests: list[dict[str, Any]]) -> Path:
    with path.open("w") as fh:
        for i, r in enumerate(requests):
            fh.write(json.dumps({"key": f"k{i}", "request": r}) + "\n")
    return path


def doc_request(doc: str, question: str, **extra: Any) -> dict[str, Any]:
    req: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": doc}, {"text": question}]}]}
    req.update(extra)
    return req


@functools.cache
def packaged_book() -> PriceBook:
    return PriceBook.load()


def plan_for(path: Path, model: str, **kw: Any) -> Plan:
    kw.setdefault("output_tokens", 100)
    kw.setdefault("sample_size", 20)
    return estimate(path, model=model, run_date=NOV27, offline=True, book=packaged_book(), **kw)


@pytest.fixture(scope="module")
def counter() -> LocalCounter:
    return LocalCounter.load(offline=True, env={})


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return packaged_book()


@pytest.fixture(scope="module")
def document() -> str:
    return prose(10_000, seed=1)  # these common words are one Gemma 3 token each


@pytest.fixture(scope="module")
def short_doc() -> str:
    """A document above 2.5 Flash's 2,048-token minimum, small enough to keep files small."""
    return prose(2_500, seed=11)


def advise(plan: Plan, book: PriceBook, counter: LocalCounter | None, **kw: Any) -> CachingAdvice:
    return advise_caching(plan, book, counter, **kw)


# ------------------------------------------------------------------------------------------- it pays


def test_shared_document_pays_with_hand_computed_saving(
    tmp_path: Path, counter: LocalCounter, book: PriceBook, document: str
) -> None:
    path = write(tmp_path / "doc.jsonl", [doc_request(document, f"Question {i}: what changed?") for i in range(1000)])
    plan = plan_for(path, "gemini-2.5-flash")
    t = counter.count_texts([document])[0]
    assert 9_000 < t < 11_000  # "about 10,000 tokens"

    advice = advise(plan, book, counter)
    best = advice.candidates[0]
    assert best.kind == "leading_parts"
    assert best.requests == 1000 and not best.estimated
    assert best.prefix_tokens == t and best.tokens_exact
    assert best.description == f'first content part "{document[:60].rstrip()}..."'
    e = best.explicit
    assert best.no_cache == mtok("0.15", 1000 * t)
    assert e.cached_reads == mtok("0.03", 1000 * t)
    assert e.creation == mtok("0.30", t)
    assert e.storage == mtok("1.00", t) * 24
    expected_saving = Decimal(1000 * t) * Decimal("0.12") / MILLION - mtok("0.30", t) - mtok("24", t)
    assert e.saving == expected_saving
    assert e.saving == Decimal(t) * Decimal("95.7") / MILLION  # T * (120 - 0.30 - 24) / 1e6
    # break-even: floor(24.3 / 0.12) + 1 = 203 requests; 0.12 * 1000 - 0.30 = 119.7 hours
    assert e.break_even_requests == 203
    assert e.break_even_hours == Decimal("119.7")
    assert e.pays and e.minimum_tokens == 2048
    # implicit best case: same reads, no creation or storage, never in the expected figure
    assert best.implicit.available and best.implicit.saving == mtok("0.12", 1000 * t)
    assert advice.implicit_best_case == mtok("0.12", 1000 * t)

    assert advice.pays
    assert [c.candidate for c in advice.chosen] == [best.id]
    assert advice.saving == expected_saving
    batch = plan.cost.modes["batch"]
    assert batch.expected is not None and advice.batch_cached is not None
    assert advice.batch_cached.expected == batch.expected - expected_saving
    assert advice.batch_cached.floor == batch.floor - expected_saving  # type: ignore[operator]
    assert advice.batch_cached.ceiling == batch.ceiling - expected_saving  # type: ignore[operator]
    assert advice.basis == "expected"
    assert advice.saving_percent == (expected_saving / batch.expected * 100).quantize(Decimal("0.1"))
    assert advice.reason is None and "saves $" in advice.summary


def test_json_shape_and_decimal_strings(tmp_path: Path, counter: LocalCounter, book: PriceBook, short_doc: str) -> None:
    path = write(tmp_path / "doc.jsonl", [doc_request(short_doc, f"Q{i}?") for i in range(50)])
    plan = plan_for(path, "gemini-2.5-flash")
    t = counter.count_texts([short_doc])[0]
    data = advise(plan, book, counter, hours=1.0).to_json()
    json.dumps(data)  # plain JSON types only
    # every figure of the batch mode; its split by component is the plain batch job's only
    assert set(data["batch_cached"]) == set(plan.cost.modes["batch"].to_json()) - {"by_component"}
    # 50 requests, 1 h: T * (0.12 * 50 - 0.30 - 1) / 1e6 = T * 4.7 / 1e6
    assert data["recommendation"]["saving"] == format((Decimal(t) * Decimal("4.7") / MILLION).normalize(), "f")
    cand = data["candidates"][0]
    assert cand["options"]["explicit"]["break_even_requests"] == 11  # floor(1.30 / 0.12) + 1
    assert cand["options"]["explicit"]["break_even_hours"] == "5.7"  # 0.12 * 50 - 0.30
    assert cand["options"]["no_cache"]["cost"] == format(mtok("0.15", 50 * t).normalize(), "f")
    assert data["hours"] == "1" and data["pays"] is True
    assert any("standard input" in n for n in data["notes"])


@pytest.mark.parametrize(("n", "pays"), [(202, False), (203, True)])
def test_break_even_requests_at_24_hours(
    tmp_path: Path, counter: LocalCounter, book: PriceBook, short_doc: str, n: int, pays: bool
) -> None:
    path = write(tmp_path / "be.jsonl", [doc_request(short_doc, f"Question {i}?") for i in range(n)])
    plan = plan_for(path, "gemini-2.5-flash")
    t = counter.count_texts([short_doc])[0]
    advice = advise(plan, book, counter)
    e = advice.candidates[0].explicit
    assert e.saving == Decimal(t) * (Decimal("0.12") * n - Decimal("24.3")) / MILLION
    assert e.break_even_requests == 203
    assert advice.pays is pays
    if not pays:
        # 202 * 0.12 = 24.24 < 24.30: short by T * 0.06 / 1e6
        assert e.saving == -Decimal(t) * Decimal("0.06") / MILLION
        assert advice.batch_cached is None
        assert "too-few-requests" in advice.reason_codes
        assert "pays from 203 requests" in (advice.reason or "")
        # it would pay with storage under 0.12 * 202 - 0.30 = 23.94 hours
        assert e.break_even_hours == Decimal("23.94")
        assert "storage-too-long" in advice.reason_codes


def test_advice_for_other_hours_reuses_the_groups_and_equals_a_fresh_one(
    tmp_path: Path, counter: LocalCounter, book: PriceBook, short_doc: str
) -> None:
    path = write(tmp_path / "doc.jsonl", [doc_request(short_doc, f"Q{i}?") for i in range(100)])
    plan = plan_for(path, "gemini-2.5-flash")
    calls: list[int] = []

    class Counting:  # the local counter, noting how many texts each call tokenizes
        name, exact = counter.name, True

        def count_texts(self, texts: list[str]) -> list[int]:
            calls.append(len(texts))
            return counter.count_texts(texts)

    counting = Counting()
    first = advise(plan, book, counting, hours=11)
    assert calls and first.pays
    calls.clear()
    reused = advise(plan, book, counting, hours=12, reuse=first)
    assert not calls  # priced again for 12 h, nothing found or counted again
    fresh = advise(plan, book, counter, hours=12)
    assert reused.to_json() == fresh.to_json() and not reused.pays
    advise(plan, book, Counting(), hours=12, reuse=first)
    assert calls  # another counter: found and counted again, never mixed


def test_storage_too_long(tmp_path: Path, counter: LocalCounter, book: PriceBook, short_doc: str) -> None:
    path = write(tmp_path / "doc.jsonl", [doc_request(short_doc, f"Q{i}?") for i in range(100)])
    plan = plan_for(path, "gemini-2.5-flash")
    t = counter.count_texts([short_doc])[0]
    assert advise(plan, book, counter, hours=11).pays  # 100 * 0.12 - 0.30 = 11.7 h break-even
    advice = advise(plan, book, counter, hours=12)
    e = advice.candidates[0].explicit
    assert e.storage == mtok("12", t)
    assert e.saving == Decimal(t) * (Decimal("12") - Decimal("0.30") - Decimal("12")) / MILLION
    assert e.break_even_hours == Decimal("11.7")
    assert not advice.pays and advice.batch_cached is None
    assert "storage-too-long" in advice.reason_codes
    assert "stored under 11.7 h; the jobs need 12 h" in (advice.reason or "")


# ------------------------------------------------------------------------------------------- it does not pay


def test_small_system_instruction_clearly_does_not_pay(tmp_path: Path, counter: LocalCounter, book: PriceBook) -> None:
    system = prose(500, seed=2)
    t = counter.count_texts([system])[0]
    assert 450 <= t <= 550  # "a 500-token system instruction"
    reqs = [
        {"systemInstruction": {"parts": [{"text": system}]}, "contents": [{"parts": [{"text": f"Task {i}"}]}]}
        for i in range(3)
    ]
    plan = plan_for(write(tmp_path / "sys.jsonl", reqs), "gemini-2.5-flash")
    advice = advise(plan, book, counter)
    assert len(advice.candidates) == 1
    c = advice.candidates[0]
    assert c.kind == "system" and c.requests == 3 and c.prefix_tokens == t
    assert c.description == f'system instruction "{system[:60].rstrip()}..."'
    e = c.explicit
    assert not e.available and not e.pays
    # 3 * T * 0.12 - T * 0.30 - T * 24 = -23.94 T per 1e6
    assert e.saving == -Decimal(t) * Decimal("23.94") / MILLION
    assert e.break_even_requests == 203
    assert e.break_even_hours == Decimal("0.06")  # 3 * 0.12 - 0.30
    codes = [code for code, _ in e.reasons]
    assert codes[0] == "prefix-too-small" and "too-few-requests" in codes
    assert not c.implicit.available  # below the 2,048-token implicit minimum
    assert not advice.pays and advice.batch_cached is None and advice.saving is None
    assert advice.reason is not None and "below the 2,048-token minimum" in advice.reason
    assert advice.reason_codes[0] == "prefix-too-small"
    assert "caching does not pay here" in advice.summary
    assert advice.to_json()["recommendation"] is None


def test_no_shared_prefix(tmp_path: Path, counter: LocalCounter, book: PriceBook) -> None:
    reqs = [{"contents": [{"parts": [{"text": prose(30, seed=100 + i)}]}]} for i in range(20)]
    plan = plan_for(write(tmp_path / "distinct.jsonl", reqs), "gemini-2.5-flash")
    advice = advise(plan, book, counter)
    assert advice.candidates == ()
    assert advice.reason_codes == ("no-shared-prefix",)
    assert advice.implicit_best_case is None


# ------------------------------------------------------------------------------------------- platforms, models


def test_gemini_4_argon_has_no_explicit_cache_but_shows_implicit_best_case(
    tmp_path: Path, counter: LocalCounter, book: PriceBook, document: str
) -> None:
    path = write(tmp_path / "argon.jsonl", [doc_request(document, f"Q{i}?") for i in range(20)])
    plan = plan_for(path, "gemini-4-argon")
    t = counter.count_texts([document])[0]
    advice = advise(plan, book, counter)
    c = advice.candidates[0]
    assert not c.explicit.available and c.explicit.saving is None
    assert [code for code, _ in c.explicit.reasons] == ["no-explicit-caching"]
    # Argon on 2026-11-27: batch input 1.00, batch cache read 0.05
    assert c.no_cache == mtok("1.00", 20 * t)
    assert c.implicit.available and c.implicit.saving == mtok("0.95", 20 * t)
    assert advice.implicit_best_case == mtok("0.95", 20 * t)
    assert not advice.pays and advice.batch_cached is None
    assert advice.reason_codes == ("no-explicit-caching",)


def test_vertex_has_no_explicit_cache_and_cache_discount_replaces_batch_discount(
    tmp_path: Path, counter: LocalCounter, book: PriceBook, document: str
) -> None:
    path = write(tmp_path / "v.jsonl", [doc_request(document, f"Q{i}?") for i in range(20)])
    plan = plan_for(path, "gemini-3.8-flash")
    t = counter.count_texts([document])[0]
    vertex = advise(plan, book, counter, platform="vertex")
    c = vertex.candidates[0]
    assert [code for code, _ in c.explicit.reasons] == ["vertex-batch"]
    assert not vertex.pays and vertex.reason_codes == ("vertex-batch",)
    # Vertex: a hit costs 10% of the standard input (0.075), not the batch cache rate; batch input 0.375
    assert c.implicit.cost == mtok("0.075", 20 * t)
    assert c.implicit.saving == mtok("0.300", 20 * t)
    developer = advise(plan, book, counter)
    d = developer.candidates[0]
    assert d.implicit.saving == mtok("0.3375", 20 * t)  # 0.375 - 0.0375 (batch cache read)
    # and the developer explicit cache for 20 requests at 24 h: 20*0.3375 - 0.75 - 24*0.50 < 0
    assert d.explicit.available and d.explicit.saving == Decimal(t) * (Decimal("6.75") - Decimal("12.75")) / MILLION
    assert any("Vertex batch" in n for n in vertex.notes)


# ------------------------------------------------------------------------------------------- kinds of prefix


def test_requests_above_the_tier_pay_the_higher_rates(tmp_path: Path, counter: LocalCounter, book: PriceBook) -> None:
    # Gemma gives every digit its own token: a 200,001-digit document puts every request above 200k.
    doc = "7" * 200_001
    path = write(tmp_path / "big.jsonl", [doc_request(doc, f"Q{i}?") for i in range(10)])
    plan = plan_for(path, "gemini-2.5-pro")
    t = 200_001
    advice = advise(plan, book, counter, hours=1)
    c = advice.candidates[0]
    assert c.prefix_tokens == t and c.requests_above_tier == 10
    e = c.explicit
    # 2.5 Pro above 200k: batch input 1.25, batch cache read 0.25, standard input 2.50, storage 4.50/h
    assert c.no_cache == mtok("1.25", 10 * t)
    assert e.cached_reads == mtok("0.25", 10 * t)
    assert e.creation == mtok("2.50", t)
    assert e.storage == mtok("4.50", t)
    assert e.saving == Decimal(t) * (Decimal("10") - Decimal("2.50") - Decimal("4.50")) / MILLION
    assert e.break_even_requests == 8  # floor(7.00 / 1.00) + 1
    assert advice.pays


def _png(width: int, height: int) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_shared_images_are_sized_by_the_media_rules(tmp_path: Path, counter: LocalCounter, book: PriceBook) -> None:
    images = [{"inlineData": {"mimeType": "image/png", "data": _png(100 + i, 100)}} for i in range(10)]
    reqs = [
        {"contents": [{"role": "user", "parts": [*images, {"text": f"What is in picture {i}?"}]}]} for i in range(30)
    ]
    plan = plan_for(write(tmp_path / "img.jsonl", reqs), "gemini-2.5-flash")
    advice = advise(plan, book, counter, hours=1)
    c = advice.candidates[0]
    # Gemini 2.x: an image with both sides at most 384 px is 258 tokens
    assert c.kind == "leading_parts" and dict(c.prefix_by_modality) == {"image": 2580}
    assert c.description == "first 10 content parts [inline image/png]"
    assert c.explicit.saving == Decimal(2580) * (Decimal("0.12") * 30 - Decimal("1.30")) / MILLION


def test_templated_prompts_found_on_the_sample(tmp_path: Path, counter: LocalCounter, book: PriceBook) -> None:
    header = "Instructions for the grader. " + prose(3_000, seed=3)
    templated = set(range(0, 400, 4)) | set(range(1, 400, 4)) | set(range(2, 400, 4))  # 300 of 400
    reqs = []
    for i in range(400):
        text = f"{header} {prose(40, seed=1000 + i)}" if i in templated else prose(60, seed=5000 + i)
        reqs.append({"contents": [{"role": "user", "parts": [{"text": text}]}]})
    plan = plan_for(write(tmp_path / "tpl.jsonl", reqs), "gemini-2.5-flash", sample_size=100)
    advice = advise(plan, book, counter)
    tpl = [c for c in advice.candidates if c.kind == "template"]
    assert tpl, advice.candidates
    c = max(tpl, key=lambda c: c.requests)
    sampled = [int(r) for r in plan.scan.sample if int(r) in templated]
    assert c.sampled == len(sampled)
    assert c.estimated and c.requests == round(len(sampled) * 400 / len(plan.scan.sample))
    assert c.prefix_tokens == counter.count_texts([header])[0]  # cut before the variable part's first word
    assert c.description.startswith('templated prompt start "Instructions for the grader.')
    assert "whole Content parts" in c.how
    assert any("estimated" in n for n in c.notes)
    t = c.prefix_tokens
    assert c.explicit.saving == Decimal(t) * (Decimal("0.12") * c.requests - Decimal("24.3")) / MILLION
    assert advice.pays


def test_system_and_document_groups_do_not_overlap(
    tmp_path: Path, counter: LocalCounter, book: PriceBook, short_doc: str
) -> None:
    system = prose(2_500, seed=4)
    si = {"parts": [{"text": system}]}
    reqs = [doc_request(short_doc, f"Q{i}?", systemInstruction=si) for i in range(30)]
    reqs += [{"systemInstruction": si, "contents": [{"parts": [{"text": f"Task {i}"}]}]} for i in range(20)]
    plan = plan_for(write(tmp_path / "mix.jsonl", reqs), "gemini-2.5-flash")
    s = counter.count_texts([system])[0]
    d = counter.count_texts([short_doc])[0]
    advice = advise(plan, book, counter, hours=1)
    by_kind = {c.kind: c for c in advice.candidates}
    assert by_kind["system"].requests == 50 and by_kind["system"].prefix_tokens == s
    lead = by_kind["leading_parts"]
    assert lead.requests == 30 and lead.prefix_tokens == s + d
    assert "systemInstruction" in lead.how
    # one cachedContent per request: the document cache takes its 30, the system cache the other 20
    chosen = {c.candidate: c for c in advice.chosen}
    assert set(chosen) == {lead.id, by_kind["system"].id}
    assert chosen[lead.id].requests == 30 and chosen[by_kind["system"].id].requests == 20
    # 1 h storage: T * (0.12 N - 0.30 - 1) per 1e6
    lead_saving = Decimal(s + d) * (Decimal("3.6") - Decimal("1.30")) / MILLION
    sys_saving = Decimal(s) * (Decimal("2.4") - Decimal("1.30")) / MILLION
    assert chosen[lead.id].saving == lead_saving
    assert chosen[by_kind["system"].id].saving == sys_saving
    assert advice.saving == lead_saving + sys_saving


def test_disjoint_documents_each_get_a_cache(tmp_path: Path, counter: LocalCounter, book: PriceBook) -> None:
    docs = [prose(2_200 + 300 * k, seed=20 + k) for k in range(3)]
    reqs = [doc_request(docs[i % 3], f"Q{i}?") for i in range(90)]
    plan = plan_for(write(tmp_path / "three.jsonl", reqs), "gemini-2.5-flash")
    advice = advise(plan, book, counter, hours=1)
    sizes = counter.count_texts(docs)
    assert sorted(c.prefix_tokens for c in advice.candidates) == sorted(sizes)
    assert len(advice.chosen) == 3 and all(c.requests == 30 for c in advice.chosen)
    # each: T * (0.12 * 30 - 0.30 - 1) / 1e6
    assert advice.saving == sum(Decimal(t) * Decimal("2.3") for t in sizes) / MILLION


def test_groups_with_different_tools_cannot_share_a_cache(
    tmp_path: Path, counter: LocalCounter, book: PriceBook, short_doc: str
) -> None:
    def tool(name: str) -> list[dict[str, Any]]:
        return [{"functionDeclarations": [{"name": name, "description": f"look up {name} records"}]}]

    same = [doc_request(short_doc, f"Q{i}?", tools=tool("orders")) for i in range(40)]
    plan = plan_for(write(tmp_path / "same.jsonl", same), "gemini-2.5-flash")
    c = advise(plan, book, counter, hours=1).candidates[0]
    tool_tokens = sum(counter.count_texts(["orders", "look up orders records"]))
    assert c.prefix_tokens == counter.count_texts([short_doc])[0] + tool_tokens
    assert "the tools (and toolConfig)" in c.cached and "tools/toolConfig" in c.how and c.explicit.pays

    mixed = [doc_request(short_doc, f"Q{i}?", tools=tool(f"t{i % 2}")) for i in range(40)]
    plan = plan_for(write(tmp_path / "mixed.jsonl", mixed), "gemini-2.5-flash")
    advice = advise(plan, book, counter, hours=1)
    c = advice.candidates[0]
    assert not c.explicit.available and "mixed-tools" in [code for code, _ in c.explicit.reasons]
    assert not advice.pays


def test_without_a_counter_prefixes_are_sized_by_the_plan_ratio(
    tmp_path: Path, book: PriceBook, counter: LocalCounter, short_doc: str
) -> None:
    path = write(tmp_path / "doc.jsonl", [doc_request(short_doc, f"Q{i}?") for i in range(30)])
    plan = plan_for(path, "gemini-2.5-flash")
    advice = advise(plan, book, None)
    c = advice.candidates[0]
    assert not c.tokens_exact
    exact = counter.count_texts([short_doc])[0]
    assert abs(c.prefix_tokens - exact) / exact < 0.02
    assert any("tokens per character" in n for n in advice.notes)


def test_requests_already_using_a_cache_are_left_out(
    tmp_path: Path, counter: LocalCounter, book: PriceBook, short_doc: str
) -> None:
    reqs = [doc_request(short_doc, f"Q{i}?") for i in range(25)]
    reqs += [doc_request(short_doc, f"R{i}?", cachedContent="cachedContents/abc") for i in range(5)]
    plan = plan_for(write(tmp_path / "cc.jsonl", reqs), "gemini-2.5-flash")
    advice = advise(plan, book, counter)
    assert advice.candidates[0].requests == 25
    assert any("5 requests already reference a cachedContent" in n for n in advice.notes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"platform": "aws"}, "platform must be one of developer, vertex"),
        ({"hours": 0}, "hours must be a positive number"),
        ({"hours": float("nan")}, "hours must be a positive number"),
        ({"min_requests": 0}, "min_requests must be at least 1"),
    ],
)
def test_bad_arguments(tmp_path: Path, book: PriceBook, kwargs: dict[str, Any], message: str) -> None:
    plan = plan_for(write(tmp_path / "one.jsonl", [doc_request("a b c", "d")] * 2), "gemini-2.5-flash")
    with pytest.raises(PlanError, match=message):
        advise_caching(plan, book, None, **kwargs)
