"""``python -m pointing`` is the same as the ``pointing`` command."""

from pointing.cli import main

raise SystemExit(main())
