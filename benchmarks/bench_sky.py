#!/usr/bin/env python3
"""Benchmark the sky path: catalog load, observed places, star selection.

Prints: catalog rows and load time; observed places for the whole catalog at
one time and for 20 stars at 3600 times (with astropy's SkyCoord -> AltAz on
the same work as a reference, and the agreement with per-star erfa.atco13);
star selection time per reference station on 1 Dec 2026, 22:00 local, with
its condition number against brightest-n and random-n choices and its slew
time against the azimuth-sorted order.

    python benchmarks/bench_sky.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import astropy.units as u
import erfa
import numpy as np
from _timing import timed
from astropy.coordinates import AltAz, Distance, SkyCoord
from astropy.time import Time

from pointing.config.station import load_station, station_names
from pointing.sky import catalog as catmod
from pointing.sky.places import earth_orientation, moon_altaz, observed_altaz, star_astrometry
from pointing.sky.select import select_stars
from pointing.units import ARCSEC

T0 = Time("2026-12-01T14:00:00", scale="utc")  # 22:00 China Standard Time




def astropy_altaz(cat, st, times):
    coords = SkyCoord(
        ra=np.asarray(cat["ra"]) * u.deg, dec=np.asarray(cat["dec"]) * u.deg,
        pm_ra_cosdec=np.asarray(cat["pmra"]) * u.mas / u.yr,
        pm_dec=np.asarray(cat["pmdec"]) * u.mas / u.yr,
        distance=Distance(parallax=np.maximum(np.asarray(cat["parallax"]), 1e-3) * u.mas),
        radial_velocity=0 * u.km / u.s, obstime=Time(1991.25, format="jyear", scale="tt"))
    w = st.weather
    frame = AltAz(obstime=times, location=st.location, pressure=w.pressure_hpa * u.hPa,
                  temperature=w.temperature_c * u.deg_C, relative_humidity=w.humidity,
                  obswl=st.wavelengths.camera_um * u.micron)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        moved = coords.apply_space_motion(new_obstime=T0)  # pm to the run (not per time)
        if times.ndim:
            moved = moved[:, None]
        aa = moved.transform_to(frame)
    return aa.az.rad, aa.alt.rad


def main() -> None:
    st = load_station("shanghai")
    print(f"== catalog ({catmod.catalog_path().name})")
    t = time.perf_counter()
    cat = catmod.load_catalog()
    first = time.perf_counter() - t
    catmod.clear_catalog_cache()
    _, cold = timed(lambda: (catmod.clear_catalog_cache(), catmod.load_catalog()), 3)
    _, warm = timed(catmod.load_catalog, 5)
    code = ("import time; t = time.perf_counter(); from pointing import load_catalog; "
            "load_catalog(); print(time.perf_counter() - t)")
    fresh = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True, cwd=Path(__file__).resolve().parents[1]).stdout)
    print(f"rows {len(cat)}; load: fresh process incl. imports {fresh * 1e3:.0f} ms, "
          f"first call {first * 1e3:.0f} ms, parse {cold * 1e3:.0f} ms, "
          f"cached copy {warm * 1e3:.1f} ms")

    print("== observed places (stars x times, refraction on)")
    observed_altaz(cat[:5], st, T0)  # warm-up: IERS table, ERFA leap seconds
    astro = star_astrometry(cat)
    (az, el), dt = timed(lambda: observed_altaz(astro, st, T0))
    (_, _), dt_all = timed(lambda: observed_altaz(cat, st, T0))
    _, dt_peer = timed(lambda: astropy_altaz(cat, st, T0), 3)
    n = len(cat)
    print(f"whole catalog ({n} stars) x 1 time: {dt * 1e3:.1f} ms "
          f"({n / dt / 1e6:.2f} M places/s); from the table incl. epoch propagation "
          f"{dt_all * 1e3:.1f} ms; astropy SkyCoord->AltAz {dt_peer * 1e3:.0f} ms")
    times = T0 + np.arange(3600) * u.s
    twenty = star_astrometry(cat[:20])
    (_, _), dt2 = timed(lambda: observed_altaz(twenty, st, times), 3)
    _, dt2_peer = timed(lambda: astropy_altaz(cat[:20], st, times), 1)
    print(f"20 stars x 3600 times: {dt2 * 1e3:.0f} ms ({72000 / dt2 / 1e6:.2f} M places/s); "
          f"astropy SkyCoord->AltAz {dt2_peer * 1e3:.0f} ms")

    five = star_astrometry(cat[:5])
    (_, _), dt1 = timed(lambda: observed_altaz(five, st, T0), 500)
    _, dt1_peer = timed(lambda: astropy_altaz(cat[:5], st, T0), 5)
    print(f"5 stars x 1 time (one pointing of the night): {dt1 * 1e3:.3f} ms per call "
          f"[goal <= 0.2 ms]; astropy SkyCoord->AltAz {dt1_peer * 1e3:.1f} ms")
    moon_altaz(st, T0)  # warm-up: this hour's whole minutes
    steps = iter(np.arange(1, 100000) * 0.7)
    _, dtm = timed(lambda: moon_altaz(st, T0 + next(steps) * u.s), 500)
    _, dtm_exact = timed(lambda: moon_altaz(st, T0.reshape(1)), 5)
    print(f"Moon at 1 time: {dtm * 1e3:.3f} ms per call (interpolated between cached "
          f"minutes, incl. building the Time); exact astropy transform {dtm_exact * 1e3:.1f} ms")

    dut1, xp, yp, _ = earth_orientation(T0)
    w = st.weather
    t_loop = time.perf_counter()
    worst = 0.0
    for i in range(n):
        aob, zob, *_ = erfa.atco13(
            astro["rc"][i], astro["dc"][i], astro["pr"][i], astro["pd"][i], astro["px"][i],
            0.0, T0.jd1, T0.jd2, dut1, np.radians(st.longitude_deg),
            np.radians(st.latitude_deg), st.height_m, xp, yp, w.pressure_hpa,
            w.temperature_c, w.humidity, st.wavelengths.camera_um)
        daz = (aob - az[i] + np.pi) % (2 * np.pi) - np.pi
        worst = max(worst, float(np.hypot(daz * np.cos(el[i]), (np.pi / 2 - zob) - el[i])))
    t_loop = time.perf_counter() - t_loop
    aaz, ael = astropy_altaz(cat, st, T0)
    up = el > np.radians(10)
    daz = (aaz - az + np.pi) % (2 * np.pi) - np.pi
    d_peer = np.hypot(daz * np.cos(el), ael - el)[up].max()
    print(f"agreement: per-star erfa.atco13 max {worst / ARCSEC * 1e3:.3f} mas over {n} stars "
          f"(loop {t_loop * 1e3:.0f} ms); astropy AltAz max {d_peer / ARCSEC * 1e3:.3f} mas "
          f"(stars above 10 deg)")

    print("== star selection, n = 18, 2026-12-01 22:00 local")
    select_stars("shanghai", T0, 18)  # warm-up
    for name in station_names():
        sel, dts = timed(lambda name=name: select_stars(name, T0, 18), 3)
        b = select_stars(name, T0, 18, strategy="brightest").condition_number
        r = [select_stars(name, T0, 18, strategy="random", seed=k).condition_number
             for k in range(10)]
        print(f"{name:<9} {dts:5.2f} s  {sel.n_candidates:4d} qualify"
              f"  cond {sel.condition_number:5.1f}"
              f" (brightest {b:5.1f}, random median {statistics.median(r):5.1f} best {min(r):5.1f})"
              f"  min sep {sel.min_separation_deg:4.1f} deg  slew {sel.slew_time_s:4.0f} s"
              f" (azimuth-sorted {sel.naive_slew_time_s:4.0f} s)")


if __name__ == "__main__":
    main()
