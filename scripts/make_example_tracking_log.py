#!/usr/bin/env python3
"""Write examples/tracking_pass.ecsv: the tracking log of a synthetic pass with a known servo.

The pass (a circular 500 km orbit, highest elevation 52°) is logged at 20 Hz
for 240 s from 18° elevation.
Per axis, the mount sees a disturbance d = open-loop track drift (tens of µrad,
slow) + atmospheric image motion (second-order low-pass noise, corner 1 Hz,
4 µrad × √airmass) + wind shake of the mount (first-order noise, corner
0.3 Hz, 10 µrad in X, 6 in Y).  The tracking loop is an ideal second-order
closed loop (type 2, natural frequency 1.5 Hz, damping 0.7: error sensitivity
S(s) = s² / (s² + 2ζωs + ω²), no latency) fed by a centroid with 0.5 µrad
white noise n; the log records the measured offset S·(d + n).

The sequence: no target for 20 s (open loop, ``detected`` false, offsets
empty), acquisition at 20.0 s with an initial offset of (+300, −200) µrad
pulled in with a 2 s time constant, lock declared 8.0 s later.  ``counts``
are the photons of each 50 ms sample (3000 counts/s signal × the field
coupling of :mod:`pointing.link.coupling`, 300 counts/s background,
Poisson).  The generating parameters are written beside the log as
examples/tracking_pass_truth.json.  Re-running the script reproduces the
files exactly.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy.signal import bilinear, lfilter

from pointing.tracking import TrackingLog, field_coupling, write_tracking_log

FS = 20.0  # Hz
DURATION = 240.0  # s
T0 = "2026-10-03T13:42:10.000"  # UTC, a night pass over Shanghai
T_ACQ, LOCK_DELAY, PULL_IN_TAU = 20.0, 8.0, 2.0  # s
INITIAL_OFFSET = (300.0, -200.0)  # µrad at acquisition
SERVO_FN, SERVO_ZETA = 1.5, 0.7  # Hz, -
CENTROID_NOISE = 0.5  # µrad per axis
SEEING_TILT = 4.0  # µrad per axis at zenith, × sqrt(airmass)
WIND = (10.0, 6.0)  # µrad, X and Y
SIGNAL_RATE, BACKGROUND_RATE = 3000.0, 300.0  # counts/s
SEED = 17


def pass_geometry(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(az_deg, el_deg) of a 500 km circular-orbit pass, ground track 3.2° east of the station."""
    re, h = 6371.0, 500.0
    omega = 2 * math.pi / (2 * math.pi * math.sqrt((re + h) ** 3 / 398600.4418))
    beta = math.radians(3.2)
    phi = omega * (t - 150.0)  # along-track central angle; culmination at 150 s
    px, py, pz = np.sin(phi) * math.cos(beta), np.full_like(phi, math.sin(beta)), \
        np.cos(phi) * math.cos(beta)
    gamma = np.arccos(pz)
    el = np.degrees(np.arctan2(np.cos(gamma) - re / (re + h), np.sin(gamma)))
    az = np.degrees(np.arctan2(py, px)) % 360.0
    return az, el


def _filtered(rng, n: int, b_s, a_s, rms: np.ndarray | float) -> np.ndarray:
    """White noise through the analogue filter b_s/a_s (bilinear at FS), scaled to *rms*."""
    b, a = bilinear(b_s, a_s, FS)
    w = lfilter(b, a, rng.normal(size=n + 2000))[2000:]  # drop the start-up transient
    return w / np.std(w) * rms


def disturbance(rng, t: np.ndarray, el: np.ndarray, axis: int) -> np.ndarray:
    """What the loop has to follow on one axis (µrad): drift + image motion + wind."""
    n = t.size
    airmass = 1.0 / np.sin(np.radians(np.maximum(el, 5.0)))
    w_atm = 2 * math.pi * 1.0
    atm = _filtered(rng, n, [w_atm**2], [1, math.sqrt(2) * w_atm, w_atm**2],
                    SEEING_TILT * np.sqrt(airmass))
    w_wind = 2 * math.pi * 0.3
    wind = _filtered(rng, n, [w_wind], [1, w_wind], WIND[axis])
    drift = 40.0 * np.sin(2 * math.pi * t / 170.0 + axis) + 0.1 * t
    return drift + atm + wind


def servo_error(d: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Measured offset S·(d + n) of the ideal type-2 second-order loop."""
    w = 2 * math.pi * SERVO_FN
    b, a = bilinear([1, 0, 0], [1, 2 * SERVO_ZETA * w, w**2], FS)
    return lfilter(b, a, d + noise)


def main() -> None:
    rng = np.random.default_rng(SEED)
    t = np.arange(0.0, DURATION, 1.0 / FS)
    az, el = pass_geometry(t)
    seen = t >= T_ACQ
    locked = t >= T_ACQ + LOCK_DELAY
    xy = []
    for axis in (0, 1):
        e = servo_error(disturbance(rng, t, el, axis), rng.normal(0, CENTROID_NOISE, t.size))
        e += INITIAL_OFFSET[axis] * np.exp(-(t - T_ACQ) / PULL_IN_TAU) * seen
        xy.append(np.where(seen, e, np.nan))
    r = np.hypot(*xy)
    eta = np.where(seen, field_coupling(np.nan_to_num(r, nan=1e6)), 0.0) / field_coupling(0.0)
    counts = rng.poisson((SIGNAL_RATE * eta + BACKGROUND_RATE) / FS)
    meta = {"generator": "scripts/make_example_tracking_log.py", "station": "shanghai",
            "sample_rate_hz": FS, "note": "synthetic pass with a known second-order servo"}
    log = TrackingLog.from_arrays(t, xy[0], xy[1], el, locked, t0=T0, detected=seen,
                                  az_deg=az, extra={"counts": counts}, meta=meta)
    out = Path(__file__).resolve().parents[1] / "examples"
    out.mkdir(exist_ok=True)
    write_tracking_log(log, out / "tracking_pass.ecsv")
    truth = {"sample_rate_hz": FS, "acquisition_time_s": T_ACQ, "lock_time_s": LOCK_DELAY,
             "servo_natural_frequency_hz": SERVO_FN, "servo_damping": SERVO_ZETA,
             "centroid_noise_urad": CENTROID_NOISE, "seeing_tilt_zenith_urad": SEEING_TILT,
             "wind_shake_urad": list(WIND), "initial_offset_urad": list(INITIAL_OFFSET),
             "seed": SEED, "generator": meta["generator"]}
    (out / "tracking_pass_truth.json").write_text(json.dumps(truth, indent=2) + "\n")


if __name__ == "__main__":
    main()
