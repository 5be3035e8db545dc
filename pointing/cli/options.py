"""The ``--station`` option shared by the subcommands."""

from __future__ import annotations

import argparse

from pointing.config.station import DEFAULT_STATION


def add_station_option(parser: argparse.ArgumentParser) -> None:
    """``--station NAME|PATH``; ``load_station(args.station)`` reads it (None: default)."""
    parser.add_argument("--station", metavar="NAME|PATH", default=None,
                        help=f"station name (e.g. {DEFAULT_STATION}) or station TOML file; "
                             f"default {DEFAULT_STATION}")
