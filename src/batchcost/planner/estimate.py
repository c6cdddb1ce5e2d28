"""``estimate``: scan -> token counts -> output model -> cost per mode, as one :class:`Plan`.

Output tokens:

* **ceiling** per request: ``maxOutputTokens`` (else the model's output limit) plus the thinking
  bound (the request's ``thinkingBudget``; 0 when thinking is off; else, when the model thinks by
  default and nothing bounds it, the model's output limit, stated as an assumption), times
  ``candidateCount``.
* **expected**: only from the user (``output_tokens`` per request or ``output_ratio`` x input
  tokens), capped at each request's ceiling. Both mean *billed* output, thinking included. Without
  one, the expectation is unknown: the plan shows the input-only floor and the ceiling, never a
  silent default.

Costs per mode are ``floor`` (input only, expected input), ``expected``/``low``/``high`` (input
interval plus expected output; None when the expectation is unknown) and ``ceiling`` (input high
plus output ceiling). Each request is priced in its own prompt tier.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import BatchcostError, PricingError
from ..text import agree, plural
from .embed import NO_OUTPUT_NOTE, check_kind, input_limit_warnings
from .expectation import output_expectation
from .model_cost import model_cost
from .plan import Plan
from .speech import check_speech_options, speech_note, speech_tokens_per_second

if TYPE_CHECKING:
    from ..afterjob.calibrate import OutputModel
    from ..batchfile import ScanResult
    from ..pricing import PriceBook
    from ..tokens import TokenEstimate

STRADDLE_DAYS = 2  # batch jobs target 24 h and expire at 48 h


@dataclass(frozen=True)
class EstimateOptions:
    """Everything ``estimate`` can be told besides the files and the model (CLI flags map 1:1).

    Attributes:
        run_date: the day the job will run (prices and routing of that day). Default: today.
        tokenizer: ``auto``, ``local``, ``api`` or ``heuristic``.
        tokenizer_model: path of a Gemma 3 SentencePiece model (``local``).
        offline: never download a tokenizer model.
        platform: ``developer`` or ``vertex`` (API counter).
        sample_size: initial sample of requests counted exactly.
        seed: sample seed.
        exact: count every request exactly.
        output_tokens: expected billed output per request (thinking included).
        output_ratio: expected billed output as a multiple of each request's input tokens.
        output_audio_seconds: a text-to-speech model's expected seconds of speech per request
            (turned into audio tokens at ``audio_tokens_per_second``).
        audio_tokens_per_second: audio tokens per second of speech (default: the assumption in
            ``pricing/data/audio_output.yaml``, stated in the plan's notes).
        prices: user price files (override or add rates).
        allow_unpriced: show "not priced" modes instead of failing.
        compare: other models to price the same file on.
        media_defaults: figures for media the file cannot tell.
        caching: look for shared prefixes and price an explicit cache (``cost.batch_cached``).
        calibrate_from: ``(RESULTS,)`` or ``(RESULTS, REQUESTS)``: learn the expected output from a
            previous job's results (:func:`batchcost.afterjob.calibrate.calibrate_from`).
        pilot: send this many sampled requests now (paid, synchronous) and learn from them.
        pilot_confirm: asked with the pilot's maximum cost (USD) before anything is sent; the pilot
            is cancelled when it returns False (default: always False, so a pilot needs a confirm).
        shards: plan the shards and waves (``shards``; also needed to price the cache's storage time).
        tier, max_bytes, max_requests, max_tokens_per_shard, enqueued_token_limit, concurrent_jobs,
            quota_counts: shard limits, as in :func:`batchcost.planner.shards.shard_plan_for`.
        env: environment mapping (tokenizer path, API keys); the CLI passes ``os.environ``.
        search_queries: expected search queries per request with Google Search (``--search-queries``).
        search_free_queries: how much of the free Search allowance is left for this job, in the
            model's units (queries or grounded prompts); subtracted from the Search units. Without
            it the allowance is only mentioned.
        engine: where the scan and the token counting run: None for this machine's processes, or a
            started :class:`batchcost.engine.DaskEngine` (``--engine dask``; the same figures).
    """

    run_date: datetime.date | None = None
    tokenizer: str = "auto"
    tokenizer_model: str | None = None
    offline: bool = False
    platform: str = "developer"
    sample_size: int = 2000
    seed: int = 0
    exact: bool = False
    output_tokens: int | None = None
    output_ratio: float | None = None
    output_audio_seconds: float | None = None
    audio_tokens_per_second: float | None = None
    prices: Sequence[str] = ()
    allow_unpriced: bool = False
    compare: Sequence[str] = ()
    media_defaults: Any = None
    caching: bool = True
    calibrate_from: Sequence[str] = ()
    pilot: int | None = None
    pilot_confirm: Callable[[Decimal], bool] | None = None
    shards: bool = True
    tier: int | None = None
    max_bytes: int | None = None
    max_requests: int | None = None
    max_tokens_per_shard: int | None = None
    enqueued_token_limit: int | None = None
    concurrent_jobs: int | None = None
    quota_counts: str = "input"
    env: Mapping[str, str] = field(default_factory=dict)
    search_queries: float | None = None
    search_free_queries: int | None = None
    engine: Any = None


def estimate(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    model: str | None = None,
    options: EstimateOptions | None = None,
    book: PriceBook | None = None,
    scan_result: ScanResult | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    **kwargs: Any,
) -> Plan:
    """Price a batch file: scan it, count its tokens, and cost it in every mode the book prices.

    Args:
        paths: batch input file(s).
        model: the model the job will run on; default the one the file names in ``request.model``.
        options: :class:`EstimateOptions`; keyword arguments of the same names may be given instead.
        book: a loaded price book (default: the packaged one plus ``options.prices``).
        scan_result: a scan already made of ``paths`` (skips the scan).
        progress: called with ``(stage, done, total)``; stages ``scan``, ``tokens``, ``pilot``, and
            ``pricing`` (``0, 0``: pricing, shards and caching, no measurable progress).

    Returns:
        The :class:`Plan` (``plan.to_json()`` gives the documented ``batchcost.plan/1`` document).

    Raises:
        InputError: a file cannot be read. PricingError / UnknownModelError / UnpricedError: the model
        or a needed rate is unknown. TokenizerError: the asked tokenizer is not available.
    """
    from ..batchfile import scan as scan_files
    from ..batchfile.lines import check_unchanged
    from ..batchfile.result import checksums_later
    from ..pricing import PriceBook
    from ..storage.locations import is_url

    opts = options or EstimateOptions(**kwargs)
    if options is not None and kwargs:
        raise TypeError("give either options= or keyword options, not both")
    run_date = opts.run_date or datetime.date.today()
    book = book or PriceBook.load(list(opts.prices) or None)

    def stage(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda d, t: progress(name, d, t))

    # Options that cannot work are refused before the scan, which can take minutes on a big file.
    given = [opts.output_tokens is not None, opts.output_ratio is not None, bool(opts.calibrate_from), bool(opts.pilot)]
    if sum(given) > 1:
        raise PricingError("give one of --output-tokens, --output-ratio, --calibrate-from and --pilot")
    if opts.output_audio_seconds is not None and any(given):
        raise PricingError("give --output-audio-seconds (seconds of speech) or the output in tokens, not both")
    kinds = {name: book.model_kind(name) for name in [model, *opts.compare] if name}
    if len(set(kinds.values())) > 1:  # UnknownModelError above for a name the book lacks
        embed = [n for n, k in kinds.items() if k == "embed"]
        others = len(kinds) - len(embed)
        raise PricingError(
            f"{', '.join(embed)} {agree(len(embed), 'embeds', 'embed')} and the other "
            f"{agree(others, 'model generates', 'models generate')}: an embedding batch can only be compared with "
            "embedding models"
        )

    # Local files are hashed after the scan, on the core the pricing and planning leave idle. The
    # paths are listed once: an iterator of them would be used up by the look for URLs.
    given_paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    hash_later = scan_result is None and opts.engine is None and not any(is_url(os.fspath(p)) for p in given_paths)
    result = scan_result or (scan_files if opts.engine is None else opts.engine.scan)(
        given_paths, sample_size=opts.sample_size, seed=opts.seed, progress=stage("scan"), checksum=not hash_later,
        text_classes=not opts.exact,  # the sampled estimate's auxiliary figures
    )  # fmt: skip
    finish_checksums = checksums_later(result) if hash_later else None
    try:
        plan = _priced(result, model, opts, book, run_date, stage, progress)
    except BaseException:
        if finish_checksums is not None:
            finish_checksums(False)
        raise
    if finish_checksums is not None:
        finish_checksums(True)
    # The sample was read again to count it and the files were hashed after the scan: all of it
    # must be of the files the scan saw.
    for f in result.files:
        check_unchanged(f.path, f.source or f.path, f.stamp)
    return plan


def _priced(result: ScanResult, model: str | None, opts: EstimateOptions, book: PriceBook, run_date: datetime.date,
            stage: Callable[[str], Any], progress: Callable[[str, int, int], None] | None) -> Plan:  # fmt: skip
    """The rest of :func:`estimate` once the files are scanned: tokens, prices, the plan."""
    from ..tokens import choose_counter, count_tokens
    from ..tokens.media_tokens import MediaDefaults

    warnings: list[str] = []
    if model is None:
        model = result.model
        if model is None:
            raise PricingError(
                "no model given and the file does not name one consistently in request.model; pass --model"
            )
    elif result.model and book.resolve(result.model)[0] != book.resolve(model)[0]:
        warnings.append(
            f"the file's request.model is {result.model!r} but the estimate is for {model!r}; a batch job runs the "
            "model in its URL"
        )
    info = book.model_info(model, run_date)
    check_speech_options(info.id, opts.output_audio_seconds, opts.audio_tokens_per_second)
    audio_tps = speech_tokens_per_second(info.id, opts.audio_tokens_per_second)
    embed = check_kind(result, model, info.kind)
    if any(book.model_info(other, run_date).kind != info.kind for other in opts.compare):
        raise PricingError(
            f"{model} {'embeds' if embed else 'generates'} and so must every --compare model: an embedding batch can "
            "only be compared with embedding models"
        )
    if embed and (opts.calibrate_from or opts.pilot):
        raise PricingError("an embedding job has no output to learn: --calibrate-from and --pilot do not apply to it")
    choice = choose_counter(
        opts.tokenizer, model=model, family=info.tokenizer, tokenizer_model=opts.tokenizer_model,
        offline=opts.offline, env=opts.env, platform=opts.platform, api_progress=stage("tokens"),
    )  # fmt: skip
    if result.requests == 0:
        raise BatchcostError(_nothing_to_price(result))
    tokens = count_tokens(
        result, model=_served_model(book, model, run_date), counter=choice.counter, exact=opts.exact,
        sample_size=opts.sample_size, tier_threshold=price_tier_threshold(book, model, run_date),
        seed=opts.seed, assumptions=choice.assumptions, approx_error_pct=choice.approx_error_pct,
        media_defaults=opts.media_defaults or MediaDefaults(), progress=stage("tokens"),
        row_counter=None if opts.engine is None else opts.engine.count_rows, release=True,
    )  # fmt: skip
    if choice.tokenizer_assumed:
        import dataclasses

        tokens = dataclasses.replace(tokens, tokenizer_assumed=True)

    output_model: OutputModel | None = None
    if opts.calibrate_from:
        from ..afterjob.calibrate import calibrate_from

        results, *requests = opts.calibrate_from
        output_model = calibrate_from(results, requests or None, model=model, book=book)
    elif opts.pilot:
        from ..afterjob.pilot import run_pilot

        output_model = run_pilot(
            result, model=model, n=opts.pilot, tokens=tokens, confirm=opts.pilot_confirm or (lambda usd: False),
            book=book, run_date=run_date, env=opts.env, seed=opts.seed, progress=stage("pilot"),
        )  # fmt: skip
    expected_out, source = output_expectation(
        result, embed=embed, output_model=output_model, output_tokens=opts.output_tokens,
        output_ratio=opts.output_ratio, output_audio_seconds=opts.output_audio_seconds, audio_tps=audio_tps,
        warnings=warnings,
    )  # fmt: skip

    if progress is not None:  # a step without measurable progress: the CLI names it instead of a blank screen
        progress("pricing", 0, 0)
    price_notes: list[str] = [] if audio_tps is None else [speech_note(opts.audio_tokens_per_second)]
    from .tool_fees import allowance_notes, tool_expectation, tool_requests, tool_warnings

    requests_with_tools = tool_requests(result)
    tools = None
    if any(requests_with_tools.values()):
        tool_exp = tool_expectation(opts.search_queries, output_model.tool_use if output_model is not None else None)
        tools = (requests_with_tools, tool_exp, opts.search_free_queries)
        warnings.extend(tool_warnings(requests_with_tools, tool_exp))
    primary = model_cost(
        book, model, run_date, result, tokens, expected_out, opts.output_ratio, opts.allow_unpriced, output_model,
        price_notes, tools, opts.audio_tokens_per_second,
    )  # fmt: skip
    primary.output.source = source
    if tools is not None:
        price_notes.extend(
            n for n in allowance_notes(primary.modes.values(), opts.search_free_queries) if n not in price_notes
        )
    compared = []
    for other in opts.compare:
        if book.resolve(other)[0] == book.resolve(model)[0]:
            continue
        from ..tokens.count import retarget

        other_tokens = retarget(tokens, result, other, opts.media_defaults or MediaDefaults())
        mc = model_cost(
            book, other, run_date, result, other_tokens, expected_out, opts.output_ratio, opts.allow_unpriced,
            output_model, price_notes, tools, opts.audio_tokens_per_second,
        )  # fmt: skip
        mc.output.source = source
        compared.append(mc)

    warnings.extend(_input_warnings(result, tokens))
    if embed:
        warnings.extend(input_limit_warnings(result, tokens, model, info.input_limit))
        price_notes.insert(0, NO_OUTPUT_NOTE)
    straddle = book.events_between(model, run_date, run_date + datetime.timedelta(days=STRADDLE_DAYS))
    warnings.extend(straddle)
    plan = Plan(
        run_date=run_date,
        model=model,
        scan=result,
        tokens=tokens,
        cost=primary,
        compared=compared,
        warnings=list(dict.fromkeys(warnings)),
        tokenizer_notes=[*tokens.notes, *price_notes],  # the plan's "notes"
        tools=None if tools is None else (requests_with_tools, tools[1], opts.search_free_queries),
    )
    if opts.shards:
        _plan_caching_and_shards(plan, book, choice.counter, opts)
    return plan


def _plan_caching_and_shards(plan: Plan, book: PriceBook, counter: Any, opts: EstimateOptions) -> None:
    """The shard plan, and caching advice priced for the hours the jobs need.

    Caching is advised first for one wave (24 h), so that requests sharing a chosen cache can be
    kept in one shard; when the shards need more waves, the advice is priced again for the longer
    storage time the jobs then need.
    """
    from ..tokens.base import TextCounter
    from ..tokens.count import release_counter
    from .caching import advise_caching
    from .shards import shard_plan_for

    text_counter = counter if isinstance(counter, TextCounter) else None
    advice = None
    if opts.caching:
        advice = advise_caching(plan, book, text_counter, platform=opts.platform, hours=24)
        release_counter(counter)  # the advice may have counted shared prefixes; nothing counts after it
    groups = None if advice is None else advice.row_groups  # one per line: the shard plan takes the usable ones
    out_tokens = opts.output_tokens  # seconds of speech are priced per shard as the same tokens
    tps = plan.cost.output.audio_tokens_per_second
    if opts.output_audio_seconds is not None and tps is not None:
        out_tokens = round(opts.output_audio_seconds * tps)

    def plan_for(tier: int | None, priced: bool = True) -> Any:
        return shard_plan_for(
            plan, book, tier=tier, platform=opts.platform, max_bytes=opts.max_bytes,
            max_requests=opts.max_requests, max_tokens_per_shard=opts.max_tokens_per_shard,
            enqueued_token_limit=opts.enqueued_token_limit, concurrent_jobs=opts.concurrent_jobs, groups=groups,
            quota_counts=opts.quota_counts, output_tokens=out_tokens, output_ratio=opts.output_ratio, priced=priced,
        )  # fmt: skip

    shards = plan_for(opts.tier)
    if shards.limits.tier_assumed and len(shards.waves) > 1:
        # The tier was a guess and it decides how long the jobs take: say what the higher tiers
        # would need, so the user can tell whether giving --tier matters.
        for tier in (2, 3):
            other = plan_for(tier, priced=False)  # only its shards and waves are reported
            n_shards, n_waves = len(other.shards), len(other.waves)
            del other  # its shards' rows (8 bytes a request) are not kept while the next tier is planned
            plan.other_tiers.append({"tier": tier, "shards": n_shards, "waves": n_waves})
            if n_waves == 1:
                break
    hours = 24 * max(1, len(shards.waves))
    if advice is not None and hours > 24:
        advice = advise_caching(plan, book, text_counter, platform=opts.platform, hours=hours, reuse=advice)
    plan.caching = advice
    plan.shard_plan = shards


def _served_model(book: PriceBook, model: str, run_date: datetime.date) -> str:
    """The model that serves (and bills) the job on ``run_date``: its media token rules apply."""
    for mode in ("batch", "standard"):
        try:
            return book.rates(model, mode, run_date).model
        except PricingError:
            continue
    return model


def price_tier_threshold(book: PriceBook, model: str, run_date: datetime.date) -> int | None:
    """The prompt-size tier of the model's rates (None when flat in every mode)."""
    tiers = []
    for mode in book.modes(model, run_date):
        try:
            tiers.append(book.rates(model, mode, run_date).tier_threshold)
        except PricingError:
            continue
    found = [t for t in tiers if t is not None]
    return min(found) if found else None


def _input_warnings(result: ScanResult, tokens: TokenEstimate) -> list[str]:
    from ..batchfile.request import FLAG_CACHED_CONTENT

    out = []
    if result.errors:
        bad = result.lines - result.requests
        out.append(
            f"the input has {plural(result.errors, 'validation error')} ({plural(bad, 'line')} not priced); the API "
            f"would reject {agree(bad, 'it', 'them')}: run `batchcost validate`"
        )
    if n_results := result.problem_counts.get("results-line", 0):
        out.append(
            f"{plural(n_results, 'line')} {agree(n_results, 'holds', 'hold')} a response beside the request: the "
            "file looks like a Vertex job's results, whose requests have already run; `batchcost reconcile` prices "
            "results"
        )
    flags = result.rows["flags"][result.rows["usable"].astype(bool)]
    n_cached = int(((flags & FLAG_CACHED_CONTENT) > 0).sum())
    if n_cached:
        out.append(
            f"{plural(n_cached, 'request')} {agree(n_cached, 'references', 'reference')} a cachedContent; the cached "
            "tokens are not in the file and are not counted or priced"
        )
    if n_media := tokens.unknown_media_parts:
        out.append(
            f"{plural(n_media, 'media part')} {agree(n_media, 'has', 'have')} no known size and "
            f"{agree(n_media, 'is', 'are')} not counted (see the notes for the options that supply one)"
        )
    return out


def _nothing_to_price(result: ScanResult) -> str:
    """Why no request can be priced, in one line: the first error and how to list the rest."""
    from ..batchfile.problems import Severity
    from ..text import plural, shell_word

    errors = [p for p in result.problems if p.severity is Severity.ERROR]
    # a line's error says more than the file's summary ("no line holds a usable request")
    errors.sort(key=lambda p: (p.code == "no-requests", p.line == 0, p.path, p.line))
    first = f": {errors[0]}" if errors else ""
    more = f" (and {plural(result.errors - 1, 'more error')})" if result.errors > 1 else ""
    names = " ".join(shell_word(f.path) for f in result.files)
    return f"no usable request to price{first}{more}; `batchcost validate {names}` lists every problem"
