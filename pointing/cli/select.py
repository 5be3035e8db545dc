"""``pointing select``: choose calibration stars and plan the slews."""

from __future__ import annotations

import argparse
import json
import warnings
from datetime import UTC, datetime, timedelta, timezone

import erfa

from pointing.cli.options import add_station_option, count, number
from pointing.cli.registry import arguments, command
from pointing.config.paths import writable_file
from pointing.errors import ConfigError, PointingError


def _add(p: argparse.ArgumentParser) -> None:
    add_station_option(p)
    p.add_argument("--time", default=None,
                   help="start of the run, ISO 8601; UTC unless it has an offset "
                        "(2026-12-01T22:00+08:00) or --local is given (default: now)")
    p.add_argument("--local", action="store_true",
                   help="read a --time without offset as the station's local time")
    p.add_argument("--n", type=count(1, 1000), default=18, help="number of stars (default 18)")
    p.add_argument("--el-min", type=number(-90, 90), default=20.0,
                   help="minimum elevation, deg")
    p.add_argument("--el-max", type=number(-90, 90), default=85.0,
                   help="maximum elevation, deg")
    p.add_argument("--imag-min", type=number(-30, 30), default=1.0,
                   help="brightest I magnitude")
    p.add_argument("--imag-max", type=number(-30, 30), default=5.0,
                   help="faintest I magnitude")
    p.add_argument("--moon-sep", type=number(0, 180), default=30.0,
                   help="minimum Moon distance, deg")
    p.add_argument("--dwell", type=number(above=0, high=86400), default=120.0,
                   help="time on each star, s")
    p.add_argument("--json", action="store_true", help="print the selection as JSON")
    p.add_argument("--plot", default=None, metavar="PATH", help="write a polar sky chart (PNG)")


def parse_time(text: str | None, utc_offset_h: float, local: bool):
    """ISO 8601 text to astropy Time (UTC); naive times are UTC unless ``local``."""
    from astropy.time import Time  # lazy for the CLI's start-up, as in _cmd_select

    if text is None:
        return Time.now()
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PointingError(f"--time: cannot read {text!r} as ISO 8601 "
                            "(e.g. 2026-12-01T14:00 or 2026-12-01T22:00+08:00)") from None
    if dt.tzinfo is None:
        zone = timezone(timedelta(hours=utc_offset_h)) if local else UTC
        dt = dt.replace(tzinfo=zone)
    dt = dt.astimezone(UTC).replace(tzinfo=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)  # far dates: checked later
        return Time(dt, scale="utc")


@command("select", "choose calibration stars for a station and time, and plan the slews")
@arguments(_add)
def _cmd_select(args: argparse.Namespace) -> int:
    # imported here, not at the top: every command module is imported when the CLI starts,
    # and the sky stack (astropy, the catalog) is not needed for --help
    from pointing.config.station import load_station
    from pointing.sky.select import select_stars

    plot = writable_file(args.plot, "--plot")
    for low, high, names in ((args.el_min, args.el_max, "--el-min/--el-max"),
                             (args.imag_min, args.imag_max, "--imag-min/--imag-max")):
        if not low < high:
            raise ConfigError(f"{names}: the minimum must be below the maximum, "
                              f"got {low:g} and {high:g}")
    station = load_station(args.station)
    start = parse_time(args.time, station.utc_offset_h, args.local)
    sel = select_stars(
        station, start, args.n, el_min_deg=args.el_min, el_max_deg=args.el_max,
        imag_min=args.imag_min, imag_max=args.imag_max, moon_min_sep_deg=args.moon_sep,
        dwell_s=args.dwell,
    )
    if args.plot:
        from pointing.plots.sky import plot_sky_selection

        plot_sky_selection(sel, plot)
    if args.json:
        print(json.dumps(sel.to_dict(), indent=1))
        return 0
    off = station.utc_offset_h
    print(f"{station.name}: {len(sel.stars)} stars from {sel.start.utc.iso[:19]} UTC "
          f"({sel.n_candidates} qualify); azimuth from north through east")
    print(f"{'#':>2} {'UTC':>8} {'HIP':>6} {'name':<12} {'I':>5} {'V':>5} "
          f"{'az':>6} {'el':>5} {'mount az':>8} {'slew s':>6}")
    for row in sel.stars:
        print(f"{int(row['order']):>2} {row['time'].utc.iso[11:19]:>8} {int(row['hip']):>6} "
              f"{str(row['name'])[:12]:<12} {row['imag']:5.2f} {row['vmag']:5.2f} "
              f"{row['az']:6.1f} {row['el']:5.1f} {row['mount_az']:8.1f} {row['slew_s']:6.1f}")
    print(f"condition number ({' '.join(sel.terms)}, unit-norm columns): "
          f"{sel.condition_number:.1f}")
    print(f"closest pair: {sel.min_separation_deg:.1f} deg")
    print(f"slew time: {sel.slew_time_s:.0f} s (azimuth-sorted order: "
          f"{sel.naive_slew_time_s:.0f} s); local time = UTC {off:+g} h")
    print(f"Moon: az {sel.moon_az_deg:.1f} deg, el {sel.moon_el_deg:.1f} deg")
    if args.plot:
        print(f"sky chart: {args.plot}")
    return 0
