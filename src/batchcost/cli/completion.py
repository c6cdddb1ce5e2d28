"""``batchcost completion SHELL``: the shell completion script for bash, zsh or fish."""

from __future__ import annotations

from typing import Any

import click

from .common import Streams, verbatim

COMPLETION_HELP = """\
Print the script that completes batchcost's commands, options and file names in your shell.

examples:
  batchcost completion bash >> ~/.bashrc
  batchcost completion zsh > "${fpath[1]}/_batchcost"
  batchcost completion fish > ~/.config/fish/completions/batchcost.fish
"""


@click.command("completion", help=verbatim(COMPLETION_HELP), short_help="print the shell completion script")
@click.argument("shell", type=click.Choice(("bash", "zsh", "fish")))
@click.pass_obj
def command(streams: Streams, shell: str) -> int:
    from click.shell_completion import get_completion_class

    from . import app

    cls: Any = get_completion_class(shell)
    # the variable the script reads the completions from: click's convention for prog "batchcost"
    script = cls(app(), {}, "batchcost", "_BATCHCOST_COMPLETE").source()
    streams.stdout.write(script if script.endswith("\n") else script + "\n")
    return 0
