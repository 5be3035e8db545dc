"""The table of subcommands: each command module registers itself here when imported.

Kept apart from :mod:`pointing.cli.main` so that the command modules and the
parser that loads them do not import each other.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["COMMANDS", "arguments", "command"]

Run = Callable[[argparse.Namespace], int]
AddArguments = Callable[[argparse.ArgumentParser], None]

#: (name, help, add_arguments, run) for every subcommand, in registration order
COMMANDS: list[tuple[str, str, AddArguments, Run]] = []


def command(name: str, help: str) -> Callable[[Run], Run]:
    """Register ``run(args) -> exit status`` as subcommand *name*.

    The decorated function carries an ``arguments`` attribute set by
    :func:`arguments` that adds its options to the subparser.
    """

    def register(run: Run) -> Run:
        COMMANDS.append((name, help, getattr(run, "arguments", lambda p: None), run))
        return run

    return register


def arguments(add: AddArguments) -> Callable[[Run], Run]:
    """Attach *add* (which adds the subcommand's options to its parser) to a command."""

    def attach(run: Run) -> Run:
        run.arguments = add  # type: ignore[attr-defined]
        return run

    return attach
