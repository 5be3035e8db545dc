"""``pointing history``: how the model and the pointing moved across nights."""

from __future__ import annotations

import argparse
import json

from pointing.cli.options import add_station_option
from pointing.cli.registry import arguments, command


def _add(p: argparse.ArgumentParser) -> None:
    add_station_option(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--log", metavar="PATH", help="station log (default per station)")
    which.add_argument("--simulated", action="store_true",
                       help="the station's simulated nights (<station>-simulated.sqlite)")
    p.add_argument("--plot", metavar="PATH", help="write the history figure (PNG)")
    p.add_argument("--json", action="store_true", help="print the history as JSON")


@command("history", "model coefficients and verification RMS of a station, night by night")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    # lazy, as every command: `pointing --help` takes 0.01 s, the night modules 3.4 s
    from pointing.config.station import load_station
    from pointing.night.history import station_history
    from pointing.night.log import StationLog, default_log_path
    from pointing.plots.night import plot_history

    station = load_station(args.station)
    if args.log:
        path = args.log
    elif args.simulated:
        path = default_log_path(station.name, simulated=True)
    else:
        path = station.section("night").get("log_path") or default_log_path(station.name)
    with StationLog(path, create=False) as db:  # a typo must not create an empty log
        rows = station_history(db, station.name)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        if not rows:
            print(f"{station.name}: no nights in {path}")
        terms = sorted({t for r in rows for t in r["terms"]})
        head = (f"{'night':>5s} {'start UTC':20s} {'status':9s} {'kind':9s} {'RMS µrad':>9s} "
                + " ".join(f"{t:>9s}" for t in terms))
        print(head)
        for r in rows:
            rms = r["verification_rms_urad"]
            print(f"{r['night_id']:5d} {r['started_utc'][:19]:20s} {r['status']:9s} "
                  f"{'simulated' if r['simulated'] else 'real':9s} "
                  + (f"{rms:9.1f}" if rms is not None else f"{'-':>9s}") + " "
                  + " ".join(f"{r['terms'].get(t, float('nan')):9.1f}" for t in terms))
    if args.plot:
        plot_history(rows, args.plot, station=station.name)
        print(f"wrote plot: {args.plot}")
    return 0
