"""Next steps: the commands and snippets that carry this plan out, in the order they are run.

Everything here is read from the plan: the file's name, the model, the options that shaped the
shard plan (a tier or limit the user gave, the platform, the output expectation), the waves, the
recommended caches and their ``how``, the output ceiling against the expectation. Nothing is priced
here; where a step would need a figure the plan does not carry, the step says what to decide.

A command names the input by its file name and is run from the folder that holds it: the page
never shows where the user keeps files.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from ...money import money
from ...text import agree, shell_word
from ..plan_text import duration
from .context import Step
from .display import count, file_name, sentence
from .sections_shards import about, better_tiers

OUT_DIR = "shards"
# A ceiling this many times the expectation is worth capping: the worst case is what a budget must cover.
CEILING_FACTOR = 4
# Limits the user tightened show their flag as the limit's source (planner.shards): flag per limit.
_LIMIT_FLAGS = {
    "max_bytes": "--max-bytes",
    "max_requests": "--max-requests",
    "max_tokens": "--max-tokens-per-shard",
    "enqueued_tokens": "--enqueued-token-limit",
    "concurrent_jobs": "--concurrent-jobs",
}
_OUTPUT_FLAG = re.compile(r"^(--output-tokens \d+|--output-ratio [0-9.eE+-]+)\b")
_DONE_STATES = (
    '{"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", '
    '"JOB_STATE_EXPIRED"}'
)


def next_steps(plan: Mapping[str, Any]) -> list[Step]:
    """What to do with this plan, step by step: fix, cap, cache, shard, submit, check the bill."""
    steps: list[Step] = []
    if not plan["validation"]["valid"]:
        steps.append(_fix_step(plan))
    cap = _cap_step(plan)
    if cap is not None:
        steps.append(cap)
    steps.extend(_cache_steps(plan))
    steps.append(_shard_step(plan))
    steps.append(_submit_step(plan))
    steps.append(_reconcile_step(plan))
    return steps


def _name(plan: Mapping[str, Any]) -> str:
    files = plan["files"]
    return file_name(files[0]["path"]) if files else "requests.jsonl"


def _arg(value: Any) -> str:
    return shell_word(str(value))


def _fix_step(plan: Mapping[str, Any]) -> Step:
    n = int(plan["validation"]["errors"])
    # errors are not lines: one line can hold several, and a file's own problem (empty) holds none
    bad = max(0, sum(int(f.get("lines") or 0) for f in plan["files"]) - int(plan["requests"]))
    what = (
        f"{count(bad, 'line')} {agree(bad, 'fails', 'fail')} validation ({count(n, 'error')}): the API rejects "
        f"{agree(bad, 'it', 'them')}"
        if bad
        else f"The input has {count(n, 'validation error')}: the API rejects it"
    )
    return Step(
        "Fix the invalid lines",
        f"{what} and `batchcost shard` refuses a file with errors. This lists each with its line number and what to "
        "change:",
        f"batchcost validate {_arg(_name(plan))}",
        "shell",
    )


def _cap_step(plan: Mapping[str, Any]) -> Step | None:
    """Bound the output when the ceiling is far above the expectation: the ceiling is what a budget must cover."""
    out = plan["tokens"]["output"]
    expected, ceiling = out.get("expected"), out.get("ceiling")
    if not expected or ceiling is None or ceiling <= CEILING_FACTOR * expected:
        return None
    requests = int(plan["requests"])
    thinks = any("thinkingBudget" in str(w) for w in plan.get("warnings") or [])
    ceiling_cost = (plan["cost"].get("batch") or {}).get("ceiling")
    which = f"batch ceiling, {money(ceiling_cost)}," if ceiling_cost is not None else "ceiling"
    text = (
        f"The {which} counts every request writing its full output allowance: {ceiling:,} output tokens, far above "
        f"the {expected:,} expected. A budget has to cover the ceiling unless the requests cap their output. Set in "
        "each request's `generationConfig`:"
    )
    per = _per_request(plan)
    if per:
        config: dict[str, Any] = {"maxOutputTokens": 2 * per}
        if thinks:
            config["thinkingConfig"] = {"thinkingBudget": per}
        code = '"generationConfig": ' + json.dumps(config, separators=(", ", ": "))
        after = [
            # Twice the expectation, not the expectation itself: it is an average, and an answer longer
            # than the cap is cut off and still billed (a rerun costs more than the headroom).
            f"{2 * per:,} is twice the {count(per, 'output token')} per request this plan expects (thinking included)"
            + (f"; the thinking budget is the {per:,} expected" if thinks else "")
            + ". An answer that reaches the cap is cut off (finishReason MAX_TOKENS) and still billed: pick a cap "
            "above your longest expected answer, and try it on a few requests first.",
        ]
    else:
        code = '"generationConfig": {"maxOutputTokens": LONGEST_EXPECTED_ANSWER' + (
            ', "thinkingConfig": {"thinkingBudget": THINKING_THE_TASK_NEEDS}}' if thinks else "}"
        )
        after = [
            f"The plan expects {count(expected, 'output token')} in all for {count(requests, 'request')}; the cap "
            "applies to each request, so set it a little above the longest answer you expect. An answer that "
            "reaches the cap is cut off (finishReason MAX_TOKENS) and still billed.",
        ]
    if thinks:
        after.append("Requests that think without a `thinkingBudget` can bill thinking up to the model's limit.")
    after.append("Then plan again: the ceiling follows the caps in the file.")
    return Step("Cap the output", text, code, "json", after)


def _per_request(plan: Mapping[str, Any]) -> int | None:
    """The output tokens per request the user gave (``--output-tokens N``), or None for any other source."""
    m = _OUTPUT_FLAG.match(str(plan["tokens"]["output"].get("source") or ""))
    if m and m.group(1).startswith("--output-tokens "):
        return int(m.group(1).split(" ")[1]) or None
    return None


def _chosen_caches(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The candidates (with their ``how``) of the recommended caches; [] when caching does not pay."""
    c = plan.get("caching")
    if not isinstance(c, Mapping) or not c.get("pays") or not isinstance(c.get("recommendation"), Mapping):
        return []
    candidates = {str(x.get("id")): x for x in c.get("candidates") or [] if isinstance(x, Mapping)}
    return [candidates[str(ch.get("candidate"))] for ch in c["recommendation"].get("caches") or []
            if str(ch.get("candidate")) in candidates]  # fmt: skip


def _cache_steps(plan: Mapping[str, Any]) -> list[Step]:
    """Create each recommended cache and point its requests at it; delete it after the last job."""
    chosen = _chosen_caches(plan)
    if not chosen:
        return []
    c = plan["caching"]
    shards = plan.get("shards") if isinstance(plan.get("shards"), Mapping) else {}
    hours = (shards.get("hours") or {}).get("worst") or c.get("hours")
    priced = c.get("hours")
    model = str(c.get("model") or plan["model"])
    vertex = c.get("platform") == "vertex"
    lines = [*_client_lines(vertex, "from google.genai import types"), ""]
    for k, cand in enumerate(chosen, 1):
        var = "cache" if len(chosen) == 1 else f"cache_{k}"
        display_name = json.dumps(f"{_name(plan)} {cand.get('id')}")
        described = (
            f"{cand.get('description', cand.get('id'))}: shared by {count(int(cand.get('requests') or 0), 'request')}"
        )
        lines += [
            f"# {described}",
            f"{var} = client.caches.create(",
            f"    model={json.dumps(model)},",
            "    config=types.CreateCachedContentConfig(",
            f"        display_name={display_name},",
            *_cache_contents(cand),
            f'        ttl="{math.ceil(float(hours)) * 3600}s",  # {duration(hours)}: until the last job can end',
            "    ),",
            ")",
            f'print({var}.name)  # the value of "cachedContent" in each of its requests',
            "",
        ]
    text = (
        f"{count(len(chosen), 'explicit cache')} {'saves' if len(chosen) == 1 else 'save'} money here (see Caching "
        "advice). Create "
        + ("it" if len(chosen) == 1 else "them")
        + " just before submitting, then rewrite the requests that use "
        + ("it" if len(chosen) == 1 else "them")
        + ", as the plan says:"
    )
    after = [sentence(str(cand.get("how"))) for cand in chosen if cand.get("how")]
    after.append(
        f"The TTL runs to the jobs' outer bound, so a cache never expires under a slow job (its requests would fail); "
        f"storage is priced for {duration(priced)} and billed until the cache is deleted, so delete it when the "
        "last job ends: `client.caches.delete(name=cache.name)`."
    )
    return [Step("Create the cache" if len(chosen) == 1 else "Create the caches", text, "\n".join(lines).rstrip(),
                 "python", after)]  # fmt: skip


def _cache_contents(cand: Mapping[str, Any]) -> list[str]:
    """The config lines that put the candidate's shared prefix into the cache (placeholders in capitals)."""
    cached = " ".join(str(x) for x in cand.get("cached") or [])
    lines = []
    if "system instruction" in cached:
        lines.append("        system_instruction=SYSTEM_INSTRUCTION,  # as in the requests")
    if "tools" in cached:
        lines.append("        tools=TOOLS, tool_config=TOOL_CONFIG,  # as in the requests")
    if cand.get("kind") in ("leading_parts", "first_part"):
        lines.append("        contents=[SHARED_PARTS],  # the shared content parts, as in the requests")
    elif cand.get("kind") == "template":
        lines.append("        contents=[SHARED_START],  # the shared start of the first text part, as its own part")
    return lines


def shard_command(plan: Mapping[str, Any], *, tier: int | None = None) -> str:
    """``batchcost shard FILE -m MODEL --out shards/`` with the options that shaped this plan's shards."""
    args = ["batchcost", "shard", _arg(_name(plan)), "-m", _arg(plan["model"]), "--out", f"{OUT_DIR}/"]
    s = plan.get("shards") if isinstance(plan.get("shards"), Mapping) else {}
    if s.get("platform") == "vertex":
        args += ["--platform", "vertex"]
    if tier is not None:
        args += ["--tier", str(tier)]
    elif s.get("tier") is not None and not s.get("tier_assumed"):
        args += ["--tier", str(s["tier"])]
    for key, flag in _LIMIT_FLAGS.items():
        limit = (s.get("limits") or {}).get(key)
        source = str(limit.get("source") or "") if isinstance(limit, Mapping) else ""
        if limit and limit.get("value") is not None and (source == flag or source.startswith(flag + " ")):
            args += [flag, str(limit["value"])]
    if "output ceiling" in str(s.get("token_basis") or ""):
        args += ["--quota-counts", "input+output-ceiling"]
    flag = _OUTPUT_FLAG.match(str(plan["tokens"]["output"].get("source") or ""))
    if flag:
        args += flag.group(1).split(" ")
    args += ["--run-date", str(plan["run_date"])]
    return _command(args)


def _command(args: list[str], width: int = 78) -> str:
    """A shell command on as few lines as fit ``width``, continued with backslashes between options."""
    lines = [args[0]]
    for k, arg in enumerate(args[1:], 1):
        starts_option = arg.startswith("-") and not args[k - 1].startswith("--")
        if starts_option and len(lines[-1]) + 1 + len(arg) + _value_length(args, k) > width:
            lines[-1] += " \\"
            lines.append("    " + arg)
        else:
            lines[-1] += " " + arg
    return "\n".join(lines)


def _value_length(args: list[str], k: int) -> int:
    """Length of the value after option ``args[k]`` (0 when none), so an option stays with its value."""
    return 1 + len(args[k + 1]) if k + 1 < len(args) and not args[k + 1].startswith("-") else 0


def _shard_step(plan: Mapping[str, Any]) -> Step:
    s = plan.get("shards") if isinstance(plan.get("shards"), Mapping) else {}
    totals = s.get("totals") or {}
    name = _name(plan)
    what = (
        f"{count(int(totals['shards']), 'shard file')} (one batch job each) in {count(int(totals['waves']), 'wave')}"
        if totals.get("shards")
        else "the shard files"
    )
    text = (
        f"In the folder that holds `{name}`"
        + (" (with the requests rewritten to use the cache)" if _chosen_caches(plan) else "")
        + f", write {what} and `{OUT_DIR}/manifest.json`, then prove every line is in exactly one shard:"
    )
    code = [shard_command(plan)]
    better = better_tiers(s, plan.get("other_tiers"))
    if better:
        n = int(totals.get("waves") or 0)
        code = [f"# tier {s.get('tier')} (assumed): {count(n, 'wave')}", *code]
        for o in better:
            code += [
                f"# if your project is on tier {o['tier']}: {count(int(o['waves']), 'wave')}",
                shard_command(plan, tier=int(o["tier"])),
            ]
    code.append(f"batchcost shard --verify {OUT_DIR}/manifest.json")
    after = []
    if better:
        after.append(
            f"Tier {s.get('tier')} was assumed because no --tier was given; the tier sets the enqueued-token quota and "
            "so the number of waves. Use the command for your project's tier."
        )
    if len(plan["files"]) > 1:
        after.append(
            f"This plan covers {count(len(plan['files']), 'file')}; `batchcost shard` takes one: join them "
            "(in the same order) or shard each, which plans each on its own."
        )
    if any(p.get("overridden") for p in plan.get("prices") or []):
        after.append(
            "Give the shard command the same --prices as the estimate, so the manifest's costs match this report."
        )
    if s.get("oversized"):
        n_over = len(s["oversized"])
        after.append(
            f"{count(n_over, 'request')} alone {agree(n_over, 'exceeds', 'exceed')} a per-job limit (see Shard plan) "
            f"and {agree(n_over, 'stops', 'stop')} the shard command: shorten or split {agree(n_over, 'it', 'them')} "
            "first."
        )
    return Step("Write the shards", text, "\n".join(code), "shell", after)


def _client_lines(vertex: bool, *imports: str) -> list[str]:
    """The imports and the client of a snippet: the Developer API by its key, or a Vertex AI project."""
    head = ["from google import genai", *imports, ""]
    if vertex:
        return [*head, 'client = genai.Client(vertexai=True, project="YOUR_PROJECT", location="us-central1")']
    return [*head, "client = genai.Client()  # reads GEMINI_API_KEY"]


def _submit_step(plan: Mapping[str, Any]) -> Step:
    s = plan.get("shards") if isinstance(plan.get("shards"), Mapping) else {}
    waves = int((s.get("totals") or {}).get("waves") or 1)
    vertex = s.get("platform") == "vertex"
    model = json.dumps(plan["model"])
    code = [
        "import json, time",
        "from pathlib import Path",
        *_client_lines(vertex),
        f'out = Path("{OUT_DIR}")',
        'manifest = json.loads((out / "manifest.json").read_text())',
        f"DONE = {_DONE_STATES}",
        "waves = {}",
        'for shard in manifest["shards"]:',
        '    waves.setdefault(shard["wave"], []).append(shard)',
        "for wave, shards in sorted(waves.items()):",
        "    jobs = []",
        "    for shard in shards:",
    ]
    if vertex:
        code += [
            "        src = f\"gs://YOUR_BUCKET/shards/{shard['path']}\"  # copied there first (gcloud storage cp)",
            f"        job = client.batches.create(model={model}, src=src,",
            '                                    config={"dest": "gs://YOUR_BUCKET/results/"})',
        ]
    else:
        code += [
            '        uploaded = client.files.upload(file=out / shard["path"], config={"mime_type": "jsonl"})',
            f"        job = client.batches.create(model={model}, src=uploaded.name,",
            '                                    config={"display_name": shard["path"]})',
        ]
    code += [
        "        jobs.append(job.name)",
        "        print(f\"wave {wave}: {shard['path']} -> {job.name}\")",
        "    # wait until the wave is done: only then does the next one fit the quotas",
        "    while any(client.batches.get(name=name).state.name not in DONE for name in jobs):",
        "        time.sleep(600)",
    ]
    if not vertex:
        code += [
            "    for name in jobs:",
            "        job = client.batches.get(name=name)",
            "        if job.dest and job.dest.file_name:",
            '            Path("results").mkdir(exist_ok=True)',
            "            data = client.files.download(file=job.dest.file_name)",
            '            Path("results", name.split("/")[-1] + ".jsonl").write_bytes(data)',
        ]
    hours = s.get("hours") or {}
    timing = ""
    if hours.get("expected") is not None:
        timing = f" Expect the results in {about(hours['expected'])} ({count(waves, 'wave')})."
    text = (
        "Upload each shard and create its batch job, wave by wave: a wave's jobs run together, and the next wave "
        f"starts when they are done.{timing}"
    )
    after = []
    if vertex:
        after.append("On Vertex AI the shards are read from Cloud Storage: copy them there first.")
    return Step("Submit the jobs", text, "\n".join(code), "python", after)


def _reconcile_step(plan: Mapping[str, Any]) -> Step:
    return Step(
        "Check the bill against this estimate",
        "When the jobs are done, price what they actually used and compare it with this plan (its JSON, from "
        "`batchcost plan … --format json -o plan.json`):",
        "batchcost reconcile results/*.jsonl --plan plan.json",
        "shell",
    )
