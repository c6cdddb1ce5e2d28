"""CLI subcommands that live outside ``cli.py``: each module has ``register(subparsers)``.

A command module only parses its arguments, makes one library call and renders the result; it
imports heavy modules inside its ``run`` function so ``batchcost --help`` stays fast.
"""

# Modules registered by ``batchcost.cli.build_parser``, in help order.
COMMANDS: tuple[str, ...] = ("plan", "shard", "report", "reconcile")
