#!/usr/bin/env python3
"""Simulated calibration nights over many seeds: accuracy and speed of the whole job.

For each seed a full night runs on the built-in simulator (compass-and-level
setup: azimuth 5° off, axis tilt 5′) and the script prints the verification
RMS against the simulator's noise floor, the largest |fitted − true| / sigma
over the fitted terms, the efficiency and extinction errors, the background
figure against its truth, the virtual duration and the wall time::

    python benchmarks/bench_night.py [--seeds 10] [--station shanghai] [--sky rural]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pointing.config.station import load_station
from pointing.hardware.simulator.station import simulated_station
from pointing.night.run import run_night


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--station", default="shanghai")
    ap.add_argument("--sky", choices=("rural", "city"), default="rural")
    args = ap.parse_args()
    station = load_station(args.station)
    print(f"{'seed':>4s} {'verif µrad':>10s} {'floor':>6s} {'ratio':>6s} {'max|z|':>7s} "
          f"{'η₀ err':>7s} {'k err':>7s} {'rural° err':>10s} {'virtual':>8s} {'wall':>6s} "
          f"skipped")
    ok = 0
    for seed in range(args.first, args.first + args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            backend = simulated_station(station, seed=seed, sky=args.sky)
            s = run_night(station, backend, Path(tmp) / "out", log_path=Path(tmp) / "log.db",
                          progress=False)
            wall = time.perf_counter() - t0
        v = s["verification"]
        floor = s["noise_floor_urad"]
        truth = s["truth"]["terms"]
        z = max(abs(t["value_arcsec"] - truth.get(n, 0.0)) / t["sigma_arcsec"]
                for n, t in s["fit"]["terms"].items() if t["sigma_arcsec"])
        eff, te = s.get("efficiency", {}), s["truth"]["efficiency"]
        d_eta = (eff.get("eta0", float("nan")) / te["eta0"] - 1) * 100
        d_k = eff.get("k_mag_per_airmass", float("nan")) - te["k_mag_per_airmass"]
        bg, tb = s.get("background", {}), s["truth"].get("background", {})
        d_r = (bg.get("rural_like_above_deg") or float("nan")) - \
            (tb.get("rural_like_above_deg") or float("nan"))
        ratio = v["rms_urad"] / floor
        good = ratio <= 1.2 and v["rms_urad"] < 100 and z < 3
        ok += good
        print(f"{seed:4d} {v['rms_urad']:10.2f} {floor:6.2f} {ratio:6.2f} {z:7.2f} "
              f"{d_eta:+6.1f}% {d_k:+7.3f} {d_r:+10.1f} {s['virtual_duration_s'] / 60:7.1f}m "
              f"{wall:5.1f}s {len(s['skipped'])}")
    print(f"{ok} of {args.seeds} nights meet verification ≤ 1.2 × floor, < 100 µrad and every "
          "coefficient within 3 sigma")


if __name__ == "__main__":
    main()
