"""The ``--station`` option shared by the photometry subcommands."""

from __future__ import annotations

import argparse
from typing import Any

from pointing.errors import ConfigError


def add_station_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--station", metavar="NAME|TOML",
                        help="station name (e.g. shanghai) or station file; default shanghai")


def load_station_arg(value: str | None) -> Any:
    """The station named on the command line (default "shanghai").

    Returns None (built-in defaults) only when station files are unavailable in
    this build and no station was asked for.
    """
    try:
        from pointing.station import load_station
    except ImportError:
        if value is None:
            return None
        raise ConfigError(f"--station {value}: station files are not available "
                          "(pointing.station is missing)") from None
    return load_station(value if value is not None else "shanghai")
