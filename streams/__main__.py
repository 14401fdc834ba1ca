"""`python -m streams ...` is the `reviewstream` command (streams/commands/cli.py)."""

import sys

from streams.commands.cli import main

sys.exit(main())
