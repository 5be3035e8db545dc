"""``pointing forecast``: secure key of a satellite pass from the station's own calibration."""

from __future__ import annotations

import argparse
import json
import math

from pointing.cli.pass_ import add_pass_options, load_passes
from pointing.cli.registry import arguments, command
from pointing.errors import PointingError


def _add(p: argparse.ArgumentParser) -> None:
    add_pass_options(p)
    p.add_argument("--pass", dest="pass_number", type=int, required=True, metavar="N",
                   help="the pass to forecast (1-based, in time order, as `pointing pass` lists)")
    p.add_argument("--night", default=None, metavar="DIR",
                   help="a calibration night's folder (default: the station log's last night)")
    p.add_argument("--log", default=None, metavar="PATH",
                   help="the station log to take the last night from")
    p.add_argument("--source", default="micius", metavar="FILE|NAME",
                   help="source description: a TOML file or a shipped name (micius, "
                        "tiangong2; default micius)")
    p.add_argument("--min-key", type=float, default=1000.0, metavar="BITS",
                   help="secure key the pass must give to be a GO (default 1000 bits)")
    p.add_argument("--step", type=float, default=1.0,
                   help="forecast sample interval, s (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON (with the samples)")
    p.add_argument("--plot", default=None, metavar="PATH.png", help="write the forecast figure")


def _print(f, station, sat, p) -> None:
    d = p.to_dict()
    print(f"pass {p.number} of {sat.label} over {station.name}: rise {d['rise'][:19]}, max "
          f"{p.max_el_deg:.1f}° at {d['culmination'][11:19]}, set {d['set'][11:19]} UTC")
    cal = f.calibration
    print(f"calibration ({cal.source}): η₀ {cal.eta0:.3f}, k {cal.k_mag_per_airmass:.3f} "
          f"mag/airmass, pointing RMS "
          + (f"{cal.verification_rms_urad:.1f} µrad" if cal.verification_rms_urad else "n/a"))
    eff = f.efficiency_db[f.usable] if f.usable.any() else f.efficiency_db
    print(f"source {f.source.name}: usable {f.usable_s:.0f} s above {f.min_el_deg:g}°, link "
          f"{eff.max():.1f} … {eff.min():.1f} dB")
    qber = f.mean_qber
    print(f"sifted key {f.sifted_bits / 1e3:.1f} kbit "
          f"({f.sifted_bits / f.usable_s if f.usable_s else 0.0:.0f} bit/s), QBER "
          + (f"{100 * qber:.2f} %" if math.isfinite(qber) else "n/a"))
    for note in f.notes:
        print(f"note: {note}")
    print(f.verdict())


@command("forecast", "forecast the secure key of a satellite pass from the station's own "
         "calibration night (link budget, counts, QBER, finite-key analysis)")
@arguments(_add)
def _cmd_forecast(args: argparse.Namespace) -> int:
    # lazy, as every command's library: building the parser for any command would
    # otherwise import astropy and scipy (measured ~0.9 s of `pointing --help`)
    from pointing.link.budget import load_calibration
    from pointing.link.forecast import forecast_trajectory
    from pointing.link.source import load_source
    from pointing.passes import NoPassError, pass_trajectory

    station, sat, passes = load_passes(args, "forecast")
    if not passes.passes:
        raise NoPassError(passes.no_pass_message())
    if not (math.isfinite(args.min_key) and args.min_key >= 0):
        raise PointingError(f"--min-key {args.min_key:g}: must be a number of bits >= 0")
    p = passes.get(args.pass_number)
    traj = pass_trajectory(station, sat, p, None, args.step)
    forecast = forecast_trajectory(traj, load_source(args.source),
                                   load_calibration(station, args.night, args.log),
                                   min_key_bits=args.min_key)
    if args.plot:
        from pointing.plots.link import plot_forecast  # matplotlib only when a figure is asked

        plot_forecast(forecast, args.plot)
    if args.json:
        out = {"station": station.name, "satellite": sat.label, "pass": p.to_dict(),
               **forecast.to_dict()}
        print(json.dumps(out, indent=1, allow_nan=False))
    else:
        _print(forecast, station, sat, p)
        if args.plot:
            print(f"wrote {args.plot}")
    return 0 if forecast.go else 1
