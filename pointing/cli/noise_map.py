"""``pointing noise-map OBS``: background map, elevation profile and rural-like elevation."""

from __future__ import annotations

import argparse
import json

from pointing.cli.options import add_station_option
from pointing.cli.registry import arguments, command
from pointing.config.paths import writable_file
from pointing.config.station import load_station


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("obs", metavar="OBS", help="the night's observation table (ECSV or CSV)")
    add_station_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--plot", metavar="PATH",
                   help="write the polar noise map and the profile vs elevation (PNG)")


@command("noise-map", "background count rate against azimuth and elevation, its model and "
         "the elevation above which it is near the zenith value; exit status 1 when the "
         "go/no-go verdict is FAIL")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    # imported here, not at the top: every command module is imported when the CLI starts,
    # and the photometry stack costs ~1.4 s (python -X importtime) that --help need not pay
    from pointing.photometry.background import night_background
    from pointing.photometry.gonogo import go_no_go
    from pointing.photometry.table import read_observation_table

    plot = writable_file(args.plot, "--plot")
    station = load_station(args.station)
    table = read_observation_table(args.obs)
    fit = night_background(table, station)
    verdict = go_no_go(None, fit, station)
    if args.plot:
        from pointing.plots.photometry import plot_background

        plot_background(fit, plot)
    if args.json:
        out = fit.to_dict()
        out["go_no_go"] = verdict.to_dict()
        print(json.dumps(out, indent=2))
    else:
        m = fit.model
        print(f"background: zenith {fit.zenith_cps:.1f} +- {fit.zenith_sigma_cps:.1f} "
              f"counts/s from {len(fit.samples)} samples (dark {m.dark_cps:.1f}, sky "
              f"{m.sky_cps:.1f} at the zenith)")
        print(f"within {fit.config.rural_tolerance:.0%} of the zenith above "
              f"{fit.rural_like_above_deg:.1f} +- {fit.rural_like_above_sigma_deg:.1f} deg "
              f"(azimuth mean); worst azimuth {fit.rural_like_above_worst_deg:.1f} deg")
        if m.dome_cps > 0:
            print(f"light dome toward azimuth {m.dome_az_deg:.0f} deg: {m.dome_cps:.0f} "
                  f"counts/s at the horizon, fading over {m.dome_scale_deg:.1f} deg")
        if fit.moon.get("el_deg") is not None:
            print(f"Moon: azimuth {fit.moon['az_deg']:.0f} deg, elevation "
                  f"{fit.moon['el_deg']:.0f} deg, {fit.moon['phase']:.0%} illuminated")
        print("elevation  mean    worst  measured (counts/s)")
        for row in fit.profile(10.0):
            meas = row["measured_median_cps"]
            print(f"  {row['el_deg']:5.0f}  {row['model_mean_cps']:7.1f} "
                  f"{row['model_max_cps']:7.1f}  {'-' if meas is None else f'{meas:.1f}'}")
        for line in fit.flags:
            print(f"note: {line}")
        print(f"go/no-go {verdict.summary()}")
    return 0 if verdict.passed else 1
