"""``python -m batchcost``."""

from batchcost.cli import main

code = main()
# A Ctrl-C that lands inside the exec of a string (an import creating a dataclass or a namedtuple)
# leaves CPython's "unhandled KeyboardInterrupt" mark set even though main() caught it and printed
# its message; under ``python -m`` the interpreter would then kill itself with SIGINT at exit
# instead of exiting with main's code (130). Every exec of a string clears that mark first.
exec("")
raise SystemExit(code)
