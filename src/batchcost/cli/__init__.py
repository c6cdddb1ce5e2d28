"""The ``batchcost`` command: parse options (click), make one library call, render, return an exit code.

One module per command; the option sets several commands share are defined once in ``options``.
Nothing here does domain work. Heavy modules are imported inside the command that needs them, so
``batchcost --help`` and ``batchcost validate`` start without numpy, google-genai or matplotlib.

Exit codes (also in ``batchcost --help``): 0 success; 1 problems found in the input; 2 usage error,
or a file, option value, output or network that cannot be used; 3 over ``--budget``; 130 Ctrl-C;
143 SIGTERM (the same clean-up as Ctrl-C).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

import click

from .common import (
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Streams,
    verbatim,
)

__all__ = ["app", "main"]

MAIN_HELP = """\
Know what a Gemini API Batch Mode job will cost, and whether its file is valid, before you submit it.

examples:
  batchcost validate requests.jsonl
  batchcost estimate requests.jsonl --model gemini-2.5-flash --output-tokens 300
  batchcost prices --model gemini-3.8-flash
  batchcost shard requests.jsonl --out shards/ --model gemini-2.5-flash --output-tokens 300
  batchcost submit shards/manifest.json --budget 25
  batchcost completion bash >> ~/.bashrc
  batchcost COMMAND --help
"""

SETTINGS = {"max_content_width": 100, "terminal_width": 100, "help_option_names": ["--help", "-h"]}


@functools.cache
def app() -> click.Group:
    """The click group with every command, in help order."""
    from . import (
        cancel,
        collect,
        completion,
        estimate,
        plan,
        prices,
        reconcile,
        report,
        shard,
        status,
        submit,
        validate,
    )

    def show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value and not ctx.resilient_parsing:
            from ..version import __version__  # read from the installed metadata only when asked

            click.echo(f"batchcost {__version__}")
            ctx.exit(0)

    version = click.Option(
        ["--version"], is_flag=True, expose_value=False, is_eager=True, callback=show_version,
        help="show the version and exit",
    )  # fmt: skip
    group = click.Group(
        "batchcost", help=verbatim(MAIN_HELP), epilog=verbatim(EXIT_CODES_HELP), context_settings=SETTINGS,
        params=[version],
    )  # fmt: skip
    for module in (
        validate,
        estimate,
        prices,
        plan,
        shard,
        submit,
        status,
        collect,
        cancel,
        report,
        reconcile,
        completion,
    ):
        module.command.context_settings.update(SETTINGS)
        group.add_command(module.command)
    return group


def _calibrate_from_values(argv: list[str]) -> list[str]:
    """``--calibrate-from RESULTS [REQUESTS]`` as click reads it: one repeated option per value.

    Like every option before it, it takes the words that follow up to the next option, at most two
    (the results file and the requests file that produced it).
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return out + argv[i:]
        if word == "--calibrate-from" or word.startswith("--calibrate-from="):
            values = [word.partition("=")[2]] if "=" in word else []
            i += 1
            while i < len(argv) and not argv[i].startswith("-"):
                values.append(argv[i])
                i += 1
            if len(values) > 2:
                raise click.UsageError(
                    "--calibrate-from takes RESULTS and at most one REQUESTS file (put the batch FILE first)"
                )
            if not values:
                raise click.UsageError("--calibrate-from needs a results file")
            for value in values:
                out += ["--calibrate-from", value]
            continue
        out.append(word)
        i += 1
    return out


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a CI timeout, a container stopping), raised where Ctrl-C would be, so the same
    clean-up runs: workers stopped, temporary and partial outputs removed."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Terminated` in this process while the command runs.

    Only from the main thread, and only when nobody else handles SIGTERM (a host program keeps its own).
    A process forked meanwhile (a scan worker) is stopped by SIGTERM as usual: ``Pool.terminate`` relies on it.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    me = os.getpid()

    def stop(signum: int, frame: Any) -> None:
        if os.getpid() != me:  # a forked worker: die as SIGTERM says
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise _Terminated

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    from ..errors import (
        ApiError,
        BatchcostError,
        CredentialsError,
        EngineError,
        InputError,
        OutputError,
        PricingError,
        TokenizerError,
    )
    from ..heap import no_huge_pages, return_large_blocks
    from ..redact import redact

    return_large_blocks()  # per-request arrays go back to the system when freed (see batchcost.heap)
    no_huge_pages()  # no stalls while the kernel compacts memory for numpy's huge pages (see batchcost.heap)
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    words = list(sys.argv[1:] if argv is None else argv)
    group = app()
    try:
        with _sigterm_as_interrupt(), contextlib.redirect_stdout(stdout):  # --help/--version go where output goes
            result = group.main(
                _calibrate_from_values(words), prog_name="batchcost", standalone_mode=False, obj=Streams(stdout, stderr)
            )
        return EXIT_OK if result is None else int(result)
    except click.exceptions.NoArgsIsHelpError as e:
        stdout.write(e.ctx.get_help() + "\n" if e.ctx else "")
        return EXIT_USAGE
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx else "batchcost"
        stderr.write(f"{where}: error: {e.format_message()} (see `{where} --help`)\n")
        return EXIT_USAGE
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.exceptions.Abort as e:
        if isinstance(e.__cause__, _Terminated):
            stderr.write("\nbatchcost: terminated (SIGTERM)\n")
            return EXIT_TERMINATED
        stderr.write("\nbatchcost: interrupted\n")
        return EXIT_INTERRUPTED
    except _Terminated:
        stderr.write("\nbatchcost: terminated (SIGTERM)\n")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        stderr.write("\nbatchcost: interrupted\n")
        return EXIT_INTERRUPTED
    except BatchcostError as e:
        # last line of defence: no message carries a URL password or a key query parameter
        stderr.write(f"batchcost: error: {redact(str(e))}\n")
        usage = (InputError, OutputError, PricingError, TokenizerError, CredentialsError, ApiError, EngineError)
        # Exit 2: the run could not use a file, an option, an output or the network. Everything
        # else (PlanError, problems found in the input) is exit 1.
        return EXIT_USAGE if isinstance(e, usage) else EXIT_PROBLEMS
    except BrokenPipeError:
        # Output piped into something that stopped reading (e.g. `| head`): not an error.
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        return EXIT_OK
    except OSError as e:
        # Last line of defence for a path the system refuses where no check expected it (a name
        # too long, an I/O error): one line naming the file, not a traceback.
        from ..text import one_line

        name = e.filename if isinstance(e.filename, str) else os.fsdecode(e.filename) if e.filename else None
        where = f"{one_line(name)}: cannot be used" if name else "the system refused an operation"
        stderr.write(f"batchcost: error: {where}: {e.strerror or e}\n")
        return EXIT_USAGE
