"""``pointing efficiency OBS``: station efficiency and extinction from a night's star counts."""

from __future__ import annotations

import argparse
import json

from pointing.cli.options import add_station_option, number
from pointing.cli.registry import arguments, command
from pointing.config.paths import writable_file
from pointing.config.station import load_station


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("obs", metavar="OBS", help="the night's observation table (ECSV or CSV)")
    add_station_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--plot", metavar="PATH", help="write efficiency vs airmass (PNG)")
    p.add_argument("--k-fixed", type=number(0.0, 5.0), metavar="MAG",
                   help="hold the extinction at MAG per airmass (stars at one airmass)")
    p.add_argument("--camera", action="store_true",
                   help="use the tracking camera's aperture photometry, not the detectors")


@command("efficiency", "station efficiency above the atmosphere (eta0) and extinction k "
         "from star counts; exit status 1 when the go/no-go verdict is FAIL")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    # imported here, not at the top: every command module is imported when the CLI starts,
    # and the photometry stack costs ~1.4 s (python -X importtime) that --help need not pay
    from pointing.photometry.efficiency import station_efficiency
    from pointing.photometry.gonogo import go_no_go
    from pointing.photometry.table import read_observation_table

    plot = writable_file(args.plot, "--plot")
    station = load_station(args.station)
    table = read_observation_table(args.obs)
    found = station_efficiency(table, station, camera=args.camera, k_fixed=args.k_fixed)
    result, camera, notes = found.result, found.camera, found.notes
    verdict = go_no_go(result if result.source == "detectors" else None, None, station)
    if args.plot:
        from pointing.plots.photometry import plot_efficiency

        plot_efficiency(result, plot)
    if args.json:
        out = result.to_dict()
        out["camera"] = camera.to_dict() if camera is not None else None
        out["go_no_go"] = verdict.to_dict()
        out["notes"] = notes
        print(json.dumps(out, indent=2))
    else:
        unit = "" if result.source == "detectors" else f" {result.units}"
        print(f"efficiency ({result.source}, {result.band}): eta0 = {result.eta0:.4g} "
              f"+- {result.eta0_sigma:.2g}{unit}"
              + (f" (design {result.design_efficiency:.3f})"
                 if result.design_efficiency else ""))
        print(f"extinction k = {result.k_mag_per_airmass:.3f} +- {result.k_sigma:.3f} "
              f"mag/airmass{'' if result.k_fitted else ' (held)'}; airmass "
              f"{result.airmass_range[0]:.2f}..{result.airmass_range[1]:.2f}; "
              f"{result.n_used} stars used")
        print(result.photometric_reason if not result.photometric
              else f"photometric: {result.photometric_reason}")
        for r in result.rejected:
            print(f"  rejected HIP {r.get('hip')} at {r.get('time')}: {r['reason']}")
        if camera is not None:
            print(f"camera: eta0 = {camera.eta0:.4g} ADU/photon, k = "
                  f"{camera.k_mag_per_airmass:.3f} +- {camera.k_sigma:.3f} mag/airmass "
                  f"({camera.band})")
        for line in notes + result.flags:
            print(f"note: {line}")
        print(f"go/no-go {verdict.summary()}")
    return 0 if verdict.passed else 1
