#!/usr/bin/env python3
"""Benchmark the pass path beside skyfield doing the same work.

Prints, for the shipped Micius TLE over Shanghai (28 April 2021):

* a day's passes above 10 deg: ``predict_passes`` (refracted, light time,
  aberration, Sun and shadow conditions per pass) and the same prediction in
  geometric mode, beside skyfield's ``EarthSatellite.find_events`` (geometric,
  rise/culmination/set only), with the largest time differences;
* a whole pass at 0.1 s: the topocentric track (``TrackComputer.track``),
  the full ``pass_trajectory`` (track, Sun, shadow, model, wrap/keyhole plan,
  rates, HWP angle), and skyfield's ``(sat - topos).at(t).altaz()`` on the
  same times, with the largest angular difference (geometric mode).

Timings are medians of 5 runs; on a shared machine they are noisy.

    python benchmarks/bench_passes.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from _timing import timed
from astropy.time import Time
from skyfield.api import EarthSatellite, load, wgs84

from pointing.config.station import load_station
from pointing.model import PointingModel
from pointing.passes import TrackComputer, load_satellite, pass_trajectory, predict_passes
from pointing.passes.predict import datetime64_to_jd
from pointing.units import ARCSEC

REPO = Path(__file__).resolve().parents[1]
START = "2021-04-28T00:00:00"




def main() -> None:
    sat = load_satellite(REPO / "examples" / "micius.tle")
    st = load_station("shanghai")
    ts = load.timescale(builtin=True)
    es = EarthSatellite(*sat.lines, ts=ts)
    top = wgs84.latlon(st.latitude_deg, st.longitude_deg, elevation_m=st.height_m)
    predict_passes(st, sat, START, 24)  # warm up (IERS table, imports)

    full, t_full = timed(lambda: predict_passes(st, sat, START, 24, 10.0))
    geo, t_geo = timed(lambda: predict_passes(st, sat, START, 24, 10.0, refraction=False,
                                              apparent=False, polar_motion=False))
    (tt, ev), t_sf = timed(lambda: es.find_events(top, ts.utc(2021, 4, 28),
                                                  ts.utc(2021, 4, 29), altitude_degrees=10.0))
    sf = np.array([t.ut1 - t.dut1 / 86400.0 for t in tt])
    ours = np.array([datetime64_to_jd(x) for p in geo.passes
                     for x in (p.rise, p.culmination, p.set)])
    dt = np.abs(ours - sf).max() * 86400.0 if ours.size == sf.size else float("nan")
    print("a day's passes above 10 deg (Micius over Shanghai, 2021-04-28)")
    print(f"  ogs-pointing predict_passes (observed, with conditions): {t_full * 1e3:8.1f} ms "
          f"({len(full.passes)} passes)")
    print(f"  ogs-pointing predict_passes (geometric):                 {t_geo * 1e3:8.1f} ms "
          f"({len(geo.passes)} passes)")
    print(f"  skyfield find_events (geometric):                        {t_sf * 1e3:8.1f} ms "
          f"({int((ev == 1).sum())} passes)")
    print(f"  largest rise/culmination/set difference (geometric): {dt:.3f} s")

    p = max(full.passes, key=lambda q: q.max_el_deg)
    rise = float(datetime64_to_jd(p.rise))
    span = p.duration_s
    t = np.arange(0.0, span, 0.1)
    tc = TrackComputer(st, sat, rise, span, refraction=False, apparent=False, polar_motion=False)
    tr, t_track = timed(lambda: tc.track(t, with_sun=False))
    model = PointingModel(["IA", "IE", "CA", "NPAE", "AN", "AW", "TF"],
                          [120.0, -30.0, 20.0, 10.0, 15.0, -8.0, 5.0])
    traj, t_traj = timed(lambda: pass_trajectory(st, sat, p, model, 0.1))
    t0 = Time(rise, format="jd", scale="utc").datetime
    times = ts.utc(t0.year, t0.month, t0.day, t0.hour, t0.minute, t0.second
                   + t0.microsecond * 1e-6 + t)
    (alt, az, _), t_sky = timed(lambda: (es - top).at(times).altaz())
    c = (np.sin(tr.el) * np.sin(alt.radians) + np.cos(tr.el) * np.cos(alt.radians)
         * np.cos(tr.az - az.radians))
    sep = np.arccos(np.clip(c, -1, 1)).max() / ARCSEC
    print(f"a whole pass at 0.1 s ({t.size} samples, max elevation {p.max_el_deg:.1f} deg)")
    print(f"  ogs-pointing TrackComputer.track (geometric az/el/range): {t_track * 1e3:7.1f} ms")
    print(f"  ogs-pointing pass_trajectory (everything):                {t_traj * 1e3:7.1f} ms "
          f"({len(traj)} samples)")
    print(f"  skyfield (sat - topos).at(t).altaz():                     {t_sky * 1e3:7.1f} ms")
    print(f"  largest angular difference (geometric): {sep:.4f} arcsec")


if __name__ == "__main__":
    main()
