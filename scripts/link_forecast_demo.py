#!/usr/bin/env python3
"""Forecast the published Shanghai passes of the portable station on synthetic geometry.

Until the passes room gives real TLE tracks, each published pass is stood in
for by a circular 500 km orbit culminating at the published highest elevation
(:func:`pointing.link.forecast.circular_pass`).  The calibration is a night
folder (``pointing nightly --simulate --out DIR``) or the station log's last
night; the source is Micius.  Prints the forecast beside the published row
and writes the figure of the first pass::

    python scripts/link_forecast_demo.py --night /tmp/link-night --plot /tmp/forecast.png
"""

from __future__ import annotations

import argparse
import sys

from pointing.config.station import load_station
from pointing.errors import PointingError
from pointing.link.budget import load_calibration
from pointing.link.forecast import circular_pass, forecast_trajectory
from pointing.link.source import load_source
from pointing.plots.link import plot_forecast

#: the brief's per-pass results of the portable station at Shanghai:
#: (date, highest elevation °, efficient time s, sifted kbit, QBER %, final key bits)
PUBLISHED = [("2018-10-03", 72, 78, 345.9, 1.36, 63791),
             ("2018-10-23", 78, 106, 301.1, 2.90, 25163),
             ("2019-04-26", 50, 114, 172.5, 2.00, 15488),
             ("2019-05-04", 38, 168, 296.9, 1.37, 51829)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--station", default="shanghai")
    p.add_argument("--night", help="calibration night folder (default: the station log)")
    p.add_argument("--source", default="micius")
    p.add_argument("--altitude-km", type=float, default=500.0)
    p.add_argument("--margin-db", type=float, default=0.0,
                   help="unitemised loss taken off the link (turbulence, haze, ...), dB")
    p.add_argument("--plot", help="figure of the first pass (PNG)")
    args = p.parse_args(argv)
    try:
        station = load_station(args.station)
        cal = load_calibration(station, args.night)
        source = load_source(args.source)
    except PointingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{station.name}: eta0 {cal.eta0:.3f}, k {cal.k_mag_per_airmass:.3f} mag/airmass, "
          f"verification {cal.verification_rms_urad:.1f} µrad ({cal.source}); {source.name}; "
          f"margin {args.margin_db:g} dB")
    print(f"{'date':11s}{'A°':>4s} | {'window':>12s}{'T s':>6s}{'S kbit':>9s}{'QBER%':>7s}"
          f"{'K bits':>9s} | published {'T s':>5s}{'S kbit':>8s}{'QBER%':>7s}{'K bits':>8s}")
    first = None
    for date, a, t_pub, s_pub, q_pub, k_pub in PUBLISHED:
        geom = circular_pass(args.altitude_km, a)
        for label, opts in (("el >= 20°", {}),
                            ("35° ↑ 25° ↓", {"min_el_deg": 25.0, "rising_min_el_deg": 35.0})):
            f = forecast_trajectory(geom, source, cal, margin_db=args.margin_db, **opts)
            first = first or f
            print(f"{date:11s}{a:4d} | {label:>12s}{f.usable_s:6.0f}{f.sifted_bits / 1e3:9.1f}"
                  f"{f.mean_qber * 100:7.2f}{f.key_bits:9d} | {'':9s} {t_pub:5d}{s_pub:8.1f}"
                  f"{q_pub:7.2f}{k_pub:8d}")
    if args.plot:
        plot_forecast(first, args.plot)
        print(f"figure: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
