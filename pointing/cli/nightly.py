"""``pointing nightly``: a full calibration night on a station (or the simulator).

Exit status: 0 when the night completed and its go/no-go verdict is PASS;
1 when the verdict is FAIL or the night failed (its report says why);
2 for a bad option, station file or output folder, daylight, another night
running on the same folder or log, or a damaged log (one line on stderr,
nothing moved).  The verdict is the last line printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings

from pointing.cli.options import add_station_option
from pointing.cli.registry import arguments, command
from pointing.errors import ConfigError


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected 0 … 2^63−1, got {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected 1 … 65535, got {value}")
    return value


def _add(p: argparse.ArgumentParser) -> None:
    add_station_option(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--simulate", action="store_true",
                       help="run on the built-in physically modelled station (its nights go "
                            "to their own <station>-simulated.sqlite log)")
    which.add_argument("--backend", metavar="MODULE:FACTORY",
                       help="hardware backend: 'indi' for an INDI server (see --indi-host, "
                            "--indi-port and the station's [indi] section), or "
                            "MODULE:FACTORY where FACTORY(station) returns a "
                            "pointing.hardware.Backend")
    p.add_argument("--indi-host", metavar="HOST",
                   help="with --backend indi: the INDI server (default: [indi] host, "
                        "else 127.0.0.1)")
    p.add_argument("--indi-port", metavar="PORT", type=_port,
                   help="with --backend indi: its port (default: [indi] port, else 7624)")
    p.add_argument("--seed", type=_seed, default=0, help="simulator seed (default 0)")
    p.add_argument("--sky", choices=("rural", "city"), default=None,
                   help="simulated sky (default: the station's [simulator] sky, else rural)")
    p.add_argument("--start", metavar="ISO",
                   help="simulated start time, UTC (default 21:00 local on 2026-12-01)")
    p.add_argument("--out", default="night-report", metavar="DIR",
                   help="report folder (default ./night-report); one night at a time")
    p.add_argument("--log", metavar="PATH", help="station log (SQLite); default per station")
    p.add_argument("--resume", action="store_true",
                   help="continue the station's last unfinished night")
    p.add_argument("--daylight", action="store_true",
                   help="allow a night with the Sun up (refused by default)")
    p.add_argument("--json", action="store_true", help="print summary.json on stdout")


def _start_time(text: str | None) -> object:
    """``--start`` as an astropy Time inside the supported range (ConfigError otherwise)."""
    if text is None:
        return None
    from astropy.time import Time

    from pointing.errors import PointingError
    from pointing.sky.places import check_times

    try:
        t = Time(text, scale="utc", format="isot" if "T" in text else "iso")
    except (ValueError, TypeError):
        raise ConfigError(f"--start {text!r}: not a UTC time in ISO form "
                          "(e.g. 2026-12-01T13:00)") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ERFA's "dubious year": said below
            check_times(t)
    except PointingError as exc:
        raise ConfigError(f"--start {text!r}: {exc}") from None
    if t.ndim:
        raise ConfigError(f"--start {text!r}: one time, please")
    return t


@command("nightly", "run a calibration night: zero offsets, model stars, fit, verification, "
                    "efficiency and noise, report")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    # lazy, as every command (the night modules take 3.4 s to import, `pointing --help` 0.01 s);
    # the simulator and INDI are loaded only for the backend asked for
    from pointing.config.station import load_station
    from pointing.hardware.base import load_backend
    from pointing.night.run import run_night

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    station = load_station(args.station)
    if not args.simulate and (args.seed or args.sky or args.start):
        raise ConfigError("--seed/--sky/--start: only with --simulate")
    if args.simulate:
        from pointing.hardware.simulator.station import simulated_station

        changes = {"sky": args.sky} if args.sky else {}
        backend = simulated_station(station, seed=args.seed, start=_start_time(args.start),
                                    **changes)
    elif args.backend == "indi":
        from pointing.hardware.indi.devices import indi_station

        backend = indi_station(station, host=args.indi_host, port=args.indi_port)
    else:
        if args.indi_host or args.indi_port:
            raise ConfigError("--indi-host/--indi-port: only with --backend indi")
        backend = load_backend(args.backend, station)
    config = None
    if args.daylight:
        import dataclasses

        from pointing.night.config import NightConfig

        config = dataclasses.replace(NightConfig.from_section(station.section("night")),
                                     daylight=True)
    summary = run_night(station, backend, args.out, config=config, log_path=args.log,
                        resume=args.resume)
    gng = summary.get("go_no_go") or {}
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "events"}, indent=2))
    else:
        v = summary.get("verification") or {}
        print(f"{summary['station']}: night {summary['night_id']} {summary['status']}; "
              f"{summary['n_model_stars']} model stars, verification "
              + (f"{v['rms_urad']:.1f} µrad RMS on {v['n']} stars" if v.get("n") else "none")
              + f"; report in {summary['files'].get('html')}")
        print(f"go/no-go {gng.get('summary', 'FAIL: no verdict')}")
    return 0 if summary["status"] == "complete" and gng.get("verdict") == "PASS" else 1
