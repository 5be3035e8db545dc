"""Options shared by the subcommands: ``--station``, and argparse types that refuse
NaN, infinities and out-of-range values at parse time (the error names the option)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from pointing.config.station import DEFAULT_STATION


def add_station_option(parser: argparse.ArgumentParser) -> None:
    """``--station NAME|PATH``; ``load_station(args.station)`` reads it (None: default)."""
    parser.add_argument("--station", metavar="NAME|PATH", default=None,
                        help=f"station name (e.g. {DEFAULT_STATION}) or station TOML file; "
                             f"default {DEFAULT_STATION}")


def add_model_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--model PATH`` (JSON model file or TPOINT ``.mod``) and ``--mod-plain-amp``;
    :func:`load_model` reads them."""
    parser.add_argument("--model", default=None, metavar="model.json", help=help_text)
    parser.add_argument("--mod-plain-amp", action="store_true",
                        help="read '&' in a .mod --model as a plain flag, not TPOINT's "
                             "parallel term (.mod files this toolkit wrote before it read '&')")


def load_model(args: argparse.Namespace) -> Any:
    """The :class:`~pointing.model.PointingModel` of ``--model``, or None."""
    if args.model is None:
        if args.mod_plain_amp:
            from pointing.errors import ConfigError

            raise ConfigError("--mod-plain-amp applies to a .mod file given with --model")
        return None
    from pointing.model import PointingModel  # lazy: the CLI starts without numpy

    return PointingModel.load(args.model, mod_parallel=not args.mod_plain_amp)


def number(low: float | None = None, high: float | None = None, *, above: float | None = None
           ) -> Callable[[str], float]:
    """An argparse ``type``: a finite float within [low, high] (and > *above*).

    NaN, infinities and ``1e400`` are refused at parse time, so the error names
    the option (``argument --dwell: must be > 0, got -1``).
    """
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if ((low is not None and value < low) or (high is not None and value > high)
                or (above is not None and value <= above)):
            rule = " and ".join(r for r in (
                f">= {low:g}" if low is not None else "", f"> {above:g}" if above is not None
                else "", f"<= {high:g}" if high is not None else "") if r)
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value
    return parse


def count(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer within [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be within {low}..{high}, got {value}")
        return value
    return parse
