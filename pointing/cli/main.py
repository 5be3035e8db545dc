"""The ``pointing`` command: one thin subcommand per job.

Each subcommand lives in a small ``_cmd_*`` function that parses arguments,
calls the library and prints; no logic of its own.  Errors a user can fix
(bad files, bad options) are printed as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pointing.errors import PointingError

# (name, help, add_arguments, run) for every subcommand; filled below
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None],
                      Callable[[argparse.Namespace], int]]] = []


def command(name: str, help: str):
    """Register ``run(args) -> exit status`` as subcommand *name*.

    The decorated function carries an ``arguments`` attribute set by
    :func:`arguments` that adds its options to the subparser.
    """

    def register(run):
        _COMMANDS.append((name, help, getattr(run, "arguments", lambda p: None), run))
        return run

    return register


def arguments(add: Callable[[argparse.ArgumentParser], None]):
    def attach(run):
        run.arguments = add
        return run

    return attach


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pointing",
        description="Calibrate a portable optical ground station: pointing model, "
        "star selection, centroiding, efficiency and background.",
    )
    from pointing import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _load_commands()
    for name, help_, add, run in _COMMANDS:
        p = sub.add_parser(name, help=help_, description=help_)
        add(p)
        p.set_defaults(_run=run)
    return parser


def _load_commands() -> None:
    if _COMMANDS:
        return
    import pointing.cli.commands  # noqa: F401  (registers every subcommand)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except PointingError as exc:
        print(f"pointing {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pointing {args.command}: interrupted", file=sys.stderr)
        return 130
