"""Generated requests and results with outputs by a known rule, for the calibration tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

MAX_OUTS = (256, 512, 1024, 2048)


def draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Requests: prompt tokens, thinking budget (512 or off) and maxOutputTokens, and their outputs by a known rule.

    Thinking budget 512: answers = 0.25 x prompt + noise (scatter grows with the prompt), thinking ~ 300.
    Thinking off: answers fill about half of maxOutputTokens, no thinking.
    """
    prompt = rng.lognormal(6.5, 0.8, n).astype(np.int64) + 20
    budget = np.where(rng.random(n) < 0.5, 512, 0)
    max_out = rng.choice(MAX_OUTS, n)
    think = budget > 0
    answers = np.where(
        think,
        np.rint(0.25 * prompt + rng.normal(0, 1, n) * np.sqrt(prompt) * 1.5),
        np.rint(max_out * rng.beta(4, 4, n)),
    )
    thoughts = np.where(think, np.minimum(rng.gamma(6, 50, n), 512), 0)
    return {
        "prompt": prompt,
        "budget": budget,
        "max_out": max_out,
        "candidates": np.maximum(answers, 0).astype(np.int64),
        "thoughts": np.rint(thoughts).astype(np.int64),
    }


def request(budget: int, max_out: int, i: int) -> dict[str, Any]:
    return {
        "contents": [{"role": "user", "parts": [{"text": f"question {i}"}]}],
        "generationConfig": {"maxOutputTokens": int(max_out), "thinkingConfig": {"thinkingBudget": int(budget)}},
    }


def write_pair(
    tmp: Path, data: dict[str, np.ndarray], *, model: str = "gemini-2.5-flash", seed: int = 0
) -> tuple[Path, Path]:
    """A requests file and its results file (results in another order, as a job may return them)."""
    n = len(data["prompt"])
    req_path, res_path = tmp / "requests.jsonl", tmp / "results.jsonl"
    with req_path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"key": f"k{i}", "request": request(data["budget"][i], data["max_out"][i], i)}) + "\n")
    order = np.random.default_rng(seed).permutation(n)
    with res_path.open("w") as fh:
        for i in order:
            u = {
                "promptTokenCount": int(data["prompt"][i]),
                "candidatesTokenCount": int(data["candidates"][i]),
                "thoughtsTokenCount": int(data["thoughts"][i]),
            }
            stop = "MAX_TOKENS" if data["candidates"][i] >= data["max_out"][i] else "STOP"
            response = {"candidates": [{"finishReason": stop}], "usageMetadata": u, "modelVersion": model}
            fh.write(json.dumps({"key": f"k{i}", "response": response}) + "\n")
        fh.write(json.dumps({"key": "failed", "error": {"code": 500, "status": "INTERNAL"}}) + "\n")
    return req_path, res_path


def write_requests(path: Path, data: dict[str, np.ndarray]) -> Path:
    with path.open("w") as fh:
        for i in range(len(data["prompt"])):
            fh.write(json.dumps({"key": f"n{i}", "request": request(data["budget"][i], data["max_out"][i], i)}) + "\n")
    return path
