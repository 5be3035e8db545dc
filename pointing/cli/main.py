"""The ``pointing`` command: one thin subcommand per job.

Each subcommand lives in a small ``_cmd_*`` function that parses arguments,
calls the library and prints; no logic of its own.  Errors a user can fix
(bad files, bad options) are printed as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pointing import __version__
from pointing.cli.registry import COMMANDS
from pointing.errors import PointingError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pointing",
        description="Calibrate a portable optical ground station (pointing model, star "
        "selection, centroiding, efficiency and background) and plan, forecast and judge "
        "its satellite passes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _load_commands()
    for name, help_, add, run in COMMANDS:
        p = sub.add_parser(name, help=help_, description=help_)
        add(p)
        p.set_defaults(_run=run)
    return parser


def _load_commands() -> None:
    if COMMANDS:
        return
    # lazy: the command modules load only when the parser is built (each keeps its
    # heavy imports inside its run function: `pointing --help` takes ~0.15 s)
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
    except BrokenPipeError:  # the reader went away (`pointing fit ... --json | head`)
        _silence_stdout()
        return 141  # as a shell reports a command killed by SIGPIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so Python's flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
