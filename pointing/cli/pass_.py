"""``pointing pass``: list a satellite's passes, or write one pass's trajectory."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from pointing.cli.options import add_model_option, add_station_option, load_model
from pointing.cli.registry import arguments, command
from pointing.cli.select import parse_time
from pointing.errors import PointingError


def add_pass_options(p: argparse.ArgumentParser) -> None:
    """The options that find a pass: station, element file, satellite, window."""
    add_station_option(p)
    p.add_argument("--tle", required=True, metavar="FILE",
                   help="element file: two- or three-line TLE, or OMM (JSON / XML)")
    p.add_argument("--satellite", default=None, metavar="NAME|NUMBER",
                   help="satellite name or catalogue number (needed if the file holds several)")
    p.add_argument("--start", default=None,
                   help="start of the window, ISO 8601, UTC unless it has an offset "
                        "(default: now)")
    p.add_argument("--hours", type=float, default=24.0, help="window length, h (default 24)")
    p.add_argument("--min-el", type=float, default=10.0,
                   help="minimum observed elevation, deg (default 10)")
    p.add_argument("--max-age", type=float, default=3.0,
                   help="warn when the elements are older than this, days (default 3)")


def _add(p: argparse.ArgumentParser) -> None:
    add_pass_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--pass", dest="pass_number", type=int, default=None, metavar="N",
                   help="write the trajectory of pass N (1-based, in time order)")
    add_model_option(p, "the night's pointing model (default: none, raw = true)")
    p.add_argument("--step", type=float, default=0.1, help="sample interval, s (default 0.1)")
    p.add_argument("--trajectory", default=None, metavar="PATH.ecsv",
                   help="write the trajectory (ECSV), with PATH.txt (mount stream) and "
                        "PATH.json (summary) beside it")
    p.add_argument("--plot", default=None, metavar="PATH.png", help="write the pass figures")
    p.add_argument("--park-az", type=float, default=0.0,
                   help="mount azimuth before the pass, deg: the nearest cable-wrap turn wins")
    p.add_argument("--pol-axis", default="along_track",
                   choices=("along_track", "orbit_normal", "nadir"),
                   help="the satellite's polarisation reference axis (default along_track)")
    p.add_argument("--pol-offset", type=float, default=0.0,
                   help="offset of the source reference from that axis, deg")
    p.add_argument("--receiver", default="tube", choices=("tube", "nasmyth", "nasmyth-"),
                   help="where the receiver sits (its horizontal reference)")


def load_passes(args: argparse.Namespace, prog: str = "pass"):
    """Station, satellite and the passes in the window of *args*; element warnings
    (stale elements) are printed as one line each on standard error."""
    from pointing.config.station import load_station
    from pointing.passes import load_satellite, predict_passes

    station = load_station(args.station)
    sat = load_satellite(args.tle, args.satellite)
    start = parse_time(args.start, station.utc_offset_h, False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        passes = predict_passes(station, sat, start, args.hours, args.min_el,
                                max_age_days=args.max_age)
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"pointing {prog}: warning: {w.message}", file=sys.stderr)
    return station, sat, passes


def _print_list(passes) -> None:
    sat, st = passes.satellite, passes.station
    print(f"{sat.label} over {st.name}: {len(passes.passes)} passes above "
          f"{passes.min_el_deg:g} deg in {passes.hours:g} h (elements {sat.epoch_iso[:16]} UTC)")
    print(f"{'#':>2} {'rise UTC':>19} {'culm.':>8} {'set':>8} {'max el':>6} {'dur s':>5} "
          f"{'>20 s':>5} {'dark':>4} {'sunlit':>6} {'QKD':>3}")
    for p in passes.passes:
        d = p.to_dict()
        print(f"{p.number:>2} {d['rise'][:19]:>19} {d['culmination'][11:19]:>8} "
              f"{d['set'][11:19]:>8} {p.max_el_deg:6.1f} {p.duration_s:5.0f} "
              f"{p.duration_above_20_s:5.0f} {'yes' if p.station_dark else 'no':>4} "
              f"{'yes' if p.satellite_sunlit else 'no':>6} {'yes' if p.qkd_possible else 'no':>3}")


def _write_pass(args, station, sat, passes) -> int:
    from pointing.passes import SourcePolarisation, pass_trajectory

    p = passes.get(args.pass_number)
    model = load_model(args)
    pol = SourcePolarisation(axis=args.pol_axis, offset_deg=args.pol_offset,
                             receiver=args.receiver)
    traj = pass_trajectory(station, sat, p, model, args.step, polarisation=pol,
                           park_az_deg=args.park_az)
    written = []
    if args.trajectory:
        path = Path(args.trajectory)
        written += [traj.write_ecsv(path), traj.write_text(path.with_suffix(".txt")),
                    traj.write_summary(path.with_suffix(".json"))]
    if args.plot:
        from pointing.plots.passes import plot_pass_overview

        plot_pass_overview(traj, args.plot)
        written.append(Path(args.plot))
    if args.json:
        print(json.dumps(traj.summary(), indent=1))
        return 0
    plan = traj.plan
    d = p.to_dict()
    print(f"pass {p.number} of {sat.label} over {station.name}: rise {d['rise']}, "
          f"max {p.max_el_deg:.2f} deg at {d['culmination']}, set {d['set']}")
    print(f"{len(traj)} samples every {args.step:g} s; model: "
          f"{'none' if model is None else ' '.join(model.spellings)}")
    print(f"wait at raw az {plan.start_raw_az_deg:.4f} deg, el {plan.start_raw_el_deg:.4f} deg "
          f"before {plan.start_utc} (cable-wrap turn {plan.wrap_turns:+d}, raw azimuth "
          f"{plan.az_range_deg[0]:.1f} .. {plan.az_range_deg[1]:.1f} deg)")
    if plan.gaps:
        print(f"keyhole plan: {plan.keyhole}; {plan.lost_s:.1f} s cannot be followed:")
        for g in plan.gaps:
            print(f"  {g.start_utc} .. {g.end_utc} ({g.duration_s:.1f} s): {g.reason}")
    else:
        print(f"keyhole plan: {plan.keyhole}; the whole pass is followed within the limits")
    for path in written:
        print(f"wrote {path}")
    return 0


@command("pass", "list a satellite's passes over a station, or write one pass's trajectory")
@arguments(_add)
def _cmd_pass(args: argparse.Namespace) -> int:
    from pointing.passes import NoPassError

    station, sat, passes = load_passes(args)
    if not passes.passes:
        raise NoPassError(passes.no_pass_message())
    if args.pass_number is not None:
        return _write_pass(args, station, sat, passes)
    if args.trajectory or args.plot:
        raise PointingError("--trajectory and --plot need --pass N")
    if args.json:
        print(json.dumps(passes.to_dict(), indent=1))
    else:
        _print_list(passes)
    return 0
