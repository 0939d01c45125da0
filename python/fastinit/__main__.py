"""``python -m fastinit``: the command line (fastinit.tools.cli)."""

from .tools.cli import main

raise SystemExit(main())
