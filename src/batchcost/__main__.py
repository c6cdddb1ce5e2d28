"""``python -m batchcost``."""

from batchcost.cli import main

raise SystemExit(main())
