"""Errors raised by the batchcost library.

The library never prints or exits; it raises one of these, and ``cli.py`` turns them into a
one-line message per problem and an exit code. Every message names what is wrong and how to fix it.

Hierarchy::

    BatchcostError                 base of everything the CLI reports without a traceback
    ├── InputError                 a file cannot be read at all (missing, directory, permission, empty)
    ├── OutputError                an output cannot be written, or would replace an input
    ├── TokenizerError             no usable tokenizer (model file missing, fingerprint mismatch, API)
    ├── PricingError               the price book cannot answer
    │   ├── UnknownModelError      model id not in the book (carries "did you mean" suggestions)
    │   └── UnpricedError          a rate the estimate needs is unknown (never priced as $0)
    ├── PlanError                  a plan cannot be made or verified
    ├── CredentialsError           an API key is needed and none was given
    ├── EngineError                the compute engine (a Dask cluster) cannot be used or failed
    └── ApiError                   the Gemini API (or a stand-in) refused or failed after retries
"""

from __future__ import annotations

from collections.abc import Sequence

from .text import one_line


class BatchcostError(Exception):
    """Base class: a user-facing problem with a clear message (no traceback needed)."""


class InputError(BatchcostError):
    """An input file cannot be read (missing, a directory, unreadable, empty).

    Attributes:
        path: the file the problem is about.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{one_line(path)}: {message}")
        self.path = path
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # raised in a scan worker, it reaches the command pickled: rebuilt from both arguments
        return type(self), (self.path, self.message)


class OutputError(BatchcostError):
    """An output file cannot be written: it would replace an input, its folder is missing or
    read-only, the disk is full...

    Attributes:
        path: the output the problem is about.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{one_line(path)}: {message}")
        self.path = path
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # raised in a scan worker, it reaches the command pickled: rebuilt from both arguments
        return type(self), (self.path, self.message)


class TokenizerError(BatchcostError):
    """No tokenizer can be used as asked (model file missing or wrong, API key missing...)."""


class PricingError(BatchcostError):
    """The price book cannot answer a question the caller asked."""


class EngineError(BatchcostError):
    """The compute engine cannot be used: Dask missing, the scheduler unreachable, a worker failed."""


class UnknownModelError(PricingError, LookupError):
    """A model id the price book does not know.

    Attributes:
        model: the id asked for.
        suggestions: close known ids, best first (may be empty).
    """

    def __init__(self, model: str, suggestions: Sequence[str] = ()) -> None:
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(
            f"unknown model {model!r}{hint} (`batchcost prices` lists known models; `--prices FILE` can add one)"
        )
        self.model = model
        self.suggestions = list(suggestions)

    def __reduce__(self) -> tuple[type, tuple[str, list[str]]]:
        return type(self), (self.model, self.suggestions)


class UnpricedError(PricingError):
    """A rate needed for an estimate is unknown. It is never silently priced at $0."""


class PlanError(BatchcostError):
    """A shard or caching plan cannot be made, written or verified."""


class CredentialsError(BatchcostError):
    """A command needs a Gemini API key (``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``) and none was given."""


class ApiError(BatchcostError):
    """The Gemini API (or the configured endpoint) refused a call or kept failing after retries."""
