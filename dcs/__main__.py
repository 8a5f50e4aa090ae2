"""`python -m dcs` is the same as the `dcs` command."""

from dcs.cli import main

raise SystemExit(main())
