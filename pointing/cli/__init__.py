"""The ``pointing`` command line: :func:`main` and one thin module per command."""

from pointing.cli.main import main

__all__ = ["main"]
