"""How a simulated pass's tracking errors depend on seeing and on the servo bandwidths.

Flies the Micius pass over Shanghai of 2021-04-29 (84.6°, the acceptance pass
of issue 17) on the simulated station, once per setting, and prints the
Fig. 5 figures (locked samples at el >= 20°) beside the published portable
station's (4.41 µrad X, 2.99 µrad Y).  Three sweeps from the default
(image motion 3 µrad per axis, mount position loop 8 Hz, camera loop 2.5 Hz):

* image motion (atmospheric tip-tilt RMS per axis): 1, 3, 6, 10 µrad
* mount position-loop bandwidth (speed loop 5×): 2, 4, 8, 15 Hz
* camera (tracking) loop crossover: 1, 2, 3 Hz (at the sweep's frame rate)
* wind gusts on the mount ×10 (2e-3 rad/s² RMS) with the mount loop at 2, 8, 15 Hz

Usage: ``python benchmarks/sweep_tracking.py [--rate 25] [--seed 0] [--quick]``
(``--quick``: the first 150 s of the pass only).  Wall time is a few minutes
at 25 Hz; it says nothing about speed, only about the errors.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from pointing.camera.config import Camera
from pointing.config.station import load_station
from pointing.hardware.simulator.beacon import PassConfig, pass_station
from pointing.hardware.simulator.servo import ServoConfig
from pointing.hardware.simulator.station import SimulatorConfig
from pointing.model import PointingModel
from pointing.passes import load_satellite, pass_trajectory, predict_passes
from pointing.tracking import analyse_tracking
from pointing.tracking.fly import FlyConfig, fly_pass

TLE = Path(__file__).resolve().parents[1] / "examples" / "micius.tle"
PUBLISHED = (4.41, 2.99)


def _setup():
    station = load_station("shanghai")
    sat = load_satellite(TLE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = predict_passes(station, sat, "2021-04-29T12:00", 6.0, 10.0).get(1)
    sim = SimulatorConfig.from_section(station.section("simulator"))
    traj = pass_trajectory(station, sat, p, PointingModel(list(sim.terms),
                                                          list(sim.terms.values())))
    wide = dict(station.section("wide_camera"))
    wide.pop("aperture_m")
    return station, sat, p, traj, Camera.from_config(station.section("camera")), \
        Camera.from_config(wide)


def run_one(setup, *, seed: int, rate: float, motion: float, servo_hz: float, loop_hz: float,
            duration: float | None, gusts: float = 1.0) -> dict:
    station, sat, p, traj, cam, wide = setup
    servo = ServoConfig(position_bandwidth_hz=servo_hz, speed_bandwidth_hz=5 * servo_hz,
                        rate_hz=max(500.0, 25 * servo_hz),
                        wind_accel_rad_s2=gusts * ServoConfig.wind_accel_rad_s2)
    backend = pass_station(station, sat, p, config=PassConfig(
        seed=seed, image_motion_urad=motion, servo=servo))
    rec = fly_pass(backend, traj, cam, wide, FlyConfig(rate_hz=rate, loop_bandwidth_hz=loop_hz,
                                                       max_duration_s=duration))
    a = analyse_tracking(rec.to_log(str(traj.utc[0])[:26]), min_el_deg=20.0)
    events = {n: t for t, n in reversed(rec.events)}
    lock = events.get("locked", float("nan")) - events.get("acquired", float("nan"))
    true_dt = backend.truth["tle_error"]["timing_error_s"]
    return {"rms_x": a.rms_x_urad, "rms_y": a.rms_y_urad, "in_fov": a.fraction_in_fov,
            "max": a.max_urad, "lock_s": lock, "n": a.n_samples,
            "dt_err": rec.estimates[0].time_offset_s - true_dt if rec.estimates else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=25.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", default="", help="only the settings whose name contains this")
    args = ap.parse_args()
    setup = _setup()
    duration = 150.0 if args.quick else None
    base = {"motion": 3.0, "servo_hz": 8.0, "loop_hz": 2.5 if args.rate >= 20 else 1.0}
    rows = [("default", base)]
    rows += [(f"image motion {m:g} µrad", {**base, "motion": m}) for m in (1.0, 6.0, 10.0)]
    rows += [(f"mount loop {s:g} Hz", {**base, "servo_hz": s}) for s in (2.0, 4.0, 15.0)]
    rows += [(f"camera loop {b:g} Hz", {**base, "loop_hz": b}) for b in (1.0, 2.0, 3.0)
             if b <= args.rate / 8 and b != base["loop_hz"]]
    rows += [(f"gusts x10, mount {s:g} Hz", {**base, "servo_hz": s, "gusts": 10.0})
             for s in (2.0, 8.0, 15.0)]
    rows = [r for r in rows if args.rows in r[0]]
    print(f"Micius over Shanghai 2021-04-29 (84.6°), seed {args.seed}, {args.rate:g} Hz frames; "
          f"published RMS X {PUBLISHED[0]} µrad, Y {PUBLISHED[1]} µrad")
    print(f"{'setting':<24} {'RMS X':>6} {'RMS Y':>6} {'in 100':>7} {'max':>6} {'lock s':>6} "
          f"{'dt err s':>8} {'n':>6} {'wall s':>6}")
    for name, kw in rows:
        t0 = time.perf_counter()
        r = run_one(setup, seed=args.seed, rate=args.rate, duration=duration, **kw)
        dt = "n/a" if r["dt_err"] is None else f"{r['dt_err']:+.3f}"
        print(f"{name:<24} {r['rms_x']:6.2f} {r['rms_y']:6.2f} {100 * r['in_fov']:6.2f}% "
              f"{r['max']:6.1f} {r['lock_s']:6.1f} {dt:>8} {r['n']:6d} "
              f"{time.perf_counter() - t0:6.1f}", flush=True)


if __name__ == "__main__":
    main()
