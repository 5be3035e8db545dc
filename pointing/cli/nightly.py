"""``pointing nightly``: a full calibration night on a station (or the simulator)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from pointing.cli.main import arguments, command
from pointing.cli.options import add_station_option


def _add(p: argparse.ArgumentParser) -> None:
    add_station_option(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--simulate", action="store_true",
                       help="run on the built-in physically modelled station")
    which.add_argument("--backend", metavar="MODULE:FACTORY",
                       help="hardware backend: 'indi' for an INDI server (see --indi-host, "
                            "--indi-port and the station's [indi] section), or "
                            "MODULE:FACTORY where FACTORY(station) returns a "
                            "pointing.hardware.Backend")
    p.add_argument("--indi-host", metavar="HOST",
                   help="with --backend indi: the INDI server (default: [indi] host, "
                        "else 127.0.0.1)")
    p.add_argument("--indi-port", metavar="PORT", type=int,
                   help="with --backend indi: its port (default: [indi] port, else 7624)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    p.add_argument("--sky", choices=("rural", "city"), default=None,
                   help="simulated sky (default: the station's [simulator] sky, else rural)")
    p.add_argument("--start", metavar="ISO",
                   help="simulated start time, UTC (default 21:00 local on 2026-12-01)")
    p.add_argument("--out", default="night-report", metavar="DIR",
                   help="report folder (default ./night-report)")
    p.add_argument("--log", metavar="PATH", help="station log (SQLite); default per station")
    p.add_argument("--resume", action="store_true",
                   help="continue the station's last unfinished night")
    p.add_argument("--json", action="store_true", help="print summary.json on stdout")


@command("nightly", "run a calibration night: zero offsets, model stars, fit, verification, "
                    "efficiency and noise, report")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    from pointing.config.station import load_station
    from pointing.hardware.base import load_backend
    from pointing.night.run import run_night

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    station = load_station(args.station)
    if args.simulate:
        from pointing.hardware.simulator.station import simulated_station

        changes = {"sky": args.sky} if args.sky else {}
        backend = simulated_station(station, seed=args.seed, start=args.start, **changes)
    elif args.backend == "indi":
        from pointing.hardware.indi.devices import indi_station

        backend = indi_station(station, host=args.indi_host, port=args.indi_port)
    else:
        if args.indi_host or args.indi_port:
            from pointing.errors import ConfigError

            raise ConfigError("--indi-host/--indi-port: only with --backend indi")
        backend = load_backend(args.backend, station)
    counter_missing = backend.counter is None
    summary = run_night(station, backend, args.out, log_path=args.log, resume=args.resume)
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "events"}, indent=2))
    else:
        v = summary.get("verification") or {}
        gng = (summary.get("go_no_go") or {}).get("verdict", "n/a")
        if counter_missing:
            gng = "not measured (no photon counter)"
        print(f"{summary['station']}: night {summary['night_id']} {summary['status']}; "
              f"{summary['n_model_stars']} model stars, verification "
              + (f"{v['rms_urad']:.1f} µrad RMS on {v['n']} stars" if v.get("n") else "none")
              + f"; go/no-go {gng}; report in {summary['files'].get('html')}")
    if summary["status"] != "complete":
        return 1
    if counter_missing:  # nothing to judge a pass by: the night itself succeeded
        return 0
    return 0 if (summary.get("go_no_go") or {}).get("verdict", "PASS") == "PASS" else 1
