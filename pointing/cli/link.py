"""``pointing link``: link budget of a satellite downlink at points of a pass, in dB."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from pointing.cli.options import add_station_option
from pointing.cli.registry import arguments, command
from pointing.config.station import load_station
from pointing.errors import ConfigError


def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{option}: expected comma-separated numbers, got {text!r}"
                          ) from None
    if not values:
        raise ConfigError(f"{option}: expected at least one number")
    return values


def _add(p: argparse.ArgumentParser) -> None:
    add_station_option(p)
    p.add_argument("--night", metavar="DIR",
                   help="calibration night folder (its summary.json); default: the station "
                        "log's last complete night, else the design values")
    p.add_argument("--log", metavar="PATH", help="station log (SQLite); default per station")
    p.add_argument("--source", metavar="NAME|FILE",
                   help="transmitter (micius, tiangong2 or a TOML file): divergence, jitter")
    p.add_argument("--divergence-urad", type=float, metavar="THETA",
                   help="transmitter divergence, full angle, µrad (overrides --source)")
    p.add_argument("--jitter-urad", type=float, metavar="SIGMA",
                   help="transmitter pointing jitter, RMS per axis, µrad (default: the "
                        "source's, else 0)")
    p.add_argument("--aperture-m", type=float, metavar="D",
                   help="receiving aperture, m (default: the station's telescope)")
    p.add_argument("--obstruction-m", type=float, metavar="D",
                   help="central obstruction, m (default: the station's; 0 with --aperture-m)")
    p.add_argument("--pointing-rms-urad", type=float, metavar="SIGMA",
                   help="receive pointing RMS, µrad (default: the night's verification RMS)")
    p.add_argument("--eta0", type=float, metavar="ETA",
                   help="receiver optics efficiency WITHOUT the detectors (replaces the "
                        "night's eta0; e.g. 0.2 for the -7 dB of the Nanshan telescope)")
    p.add_argument("--detector-efficiency", type=float, metavar="Q",
                   help="with --eta0: the detectors' efficiency (default: the station's "
                        "design chain)")
    p.add_argument("--range-km", required=True, metavar="R[,R...]", help="slant ranges, km")
    p.add_argument("--el-deg", required=True, metavar="E[,E...]",
                   help="elevations, degrees (one for all ranges, or one per range)")
    p.add_argument("--az-deg", metavar="A[,A...]",
                   help="azimuths, degrees from north through east (default: the worst "
                        "azimuth for the background)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _pair(ranges: list[float], values: list[float] | None, option: str) -> list[float] | None:
    if values is None:
        return None
    if len(values) == 1:
        return values * len(ranges)
    if len(values) != len(ranges):
        raise ConfigError(f"{option}: give one value or one per range ({len(ranges)}), "
                          f"got {len(values)}")
    return values


@command("link", "link budget at points of a pass: geometric, atmosphere, station, pointing "
         "terms in dB and the background, from the station's calibration night")
@arguments(_add)
def run(args: argparse.Namespace) -> int:
    import numpy as np

    from pointing.link.budget import link_budget, load_calibration
    from pointing.link.source import load_source

    station = load_station(args.station)
    ranges = _floats(args.range_km, "--range-km")
    el = _pair(ranges, _floats(args.el_deg, "--el-deg"), "--el-deg")
    az = _pair(ranges, _floats(args.az_deg, "--az-deg") if args.az_deg else None, "--az-deg")
    if any(not -5.0 <= e <= 90.0 for e in el):
        raise ConfigError("--el-deg: elevations must lie within -5..90 degrees")
    source = load_source(args.source) if args.source else None
    divergence = args.divergence_urad or (source.divergence_urad if source else None)
    if divergence is None:
        raise ConfigError("--divergence-urad: give the transmitter's divergence (or --source)")
    jitter = args.jitter_urad if args.jitter_urad is not None else (
        source.pointing_jitter_urad if source else 0.0)
    cal = load_calibration(station, args.night, args.log)
    if args.eta0 is not None:
        if not 0 < args.eta0 <= 1:
            raise ConfigError(f"--eta0: must lie in (0, 1], got {args.eta0:g}")
        q = cal.detector_efficiency if args.detector_efficiency is None \
            else args.detector_efficiency
        if not 0 < q <= 1:
            raise ConfigError(f"--detector-efficiency: must lie in (0, 1], got {q:g}")
        cal = replace(cal, eta0=args.eta0, eta0_includes_detector=False,
                      detector_efficiency=q, notes=(*cal.notes, f"eta0 {args.eta0:g} given "
                                                    f"(detectors {q:g} apart)"))
    elif args.detector_efficiency is not None:
        raise ConfigError("--detector-efficiency: only with --eta0 (a measured eta0 "
                          "already includes the detectors)")
    budget = link_budget(ranges, np.radians(el), None if az is None else np.radians(az), cal,
                         divergence_urad=divergence, jitter_urad=jitter,
                         tx_efficiency=source.tx_efficiency if source else 1.0,
                         aperture_m=args.aperture_m, obstruction_m=args.obstruction_m,
                         pointing_rms_urad=args.pointing_rms_urad)
    if args.json:
        print(json.dumps({"station": station.name, "calibration": cal.to_dict(),
                          "aperture_m": budget.aperture_m,
                          "obstruction_m": budget.obstruction_m,
                          "divergence_urad": divergence, "jitter_urad": jitter,
                          "pointing_rms_urad": budget.pointing_rms_urad,
                          "points": budget.points(), "notes": budget.notes}, indent=2))
        return 0
    print(f"{station.name}: aperture {budget.aperture_m:g} m (obstruction "
          f"{budget.obstruction_m:g} m), divergence {divergence:g} µrad, jitter {jitter:g} "
          f"µrad; eta0 {cal.eta0:.3f}, k {cal.k_mag_per_airmass:.3f} mag/airmass, pointing RMS "
          + (f"{budget.pointing_rms_urad:.1f} µrad" if budget.pointing_rms_urad else "n/a")
          + f" ({cal.source})")
    print(f"{'range km':>9s}{'el °':>6s}{'geom dB':>9s}{'atm dB':>8s}{'stat dB':>8s}"
          f"{'det dB':>8s}{'point dB':>9s}{'tx dB':>7s}{'total dB':>9s}{'bg c/s':>9s}")
    for p in budget.points():
        print(f"{p['range_km']:9.0f}{p['el_deg']:6.1f}{p['geometric_db']:9.2f}"
              f"{p['atmosphere_db']:8.2f}{p['station_db']:8.2f}{p['detector_db']:8.2f}"
              f"{p['pointing_db']:9.2f}{p['transmitter_db']:7.2f}{p['total_db']:9.2f}"
              f"{p['background_cps']:9.0f}")
    for note in budget.notes:
        print(f"note: {note}")
    return 0
