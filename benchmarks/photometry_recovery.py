"""Efficiency, extinction and background recovered from simulated nights, and how fast.

Draws seeded nights (Poisson counts from a known η₀ and k, two cloud-dimmed stars,
the 8 × 5 blank-sky grid) from the sky-background truth model
(:mod:`pointing.photometry.sky_model`) for a clear rural site and a city with a nearly full
Moon (and the rural site again with catalogue I magnitudes wrong by 0.03 mag rms),
fits them with :func:`pointing.night_efficiency` and
:func:`pointing.night_background`, and prints the errors against the truth and the
time per night.  No peer computes these figures.

    python benchmarks/photometry_recovery.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from _synth_night import synth_night  # noqa: E402

from pointing.photometry.background import night_background  # noqa: E402
from pointing.photometry.efficiency import night_efficiency  # noqa: E402
from pointing.photometry.sky_model import SkyBackgroundModel  # noqa: E402

CONFIGS = {
    "rural, no Moon": dict(sky=SkyBackgroundModel.rural(), moon=(math.nan, math.nan, 0.0),
                           k=0.06),
    "city, Moon 95%": dict(sky=SkyBackgroundModel.city(),
                           moon=(math.radians(150.0), math.radians(35.0), 0.95), k=0.15),
    "rural, 0.03 mag": dict(sky=SkyBackgroundModel.rural(), moon=(math.nan, math.nan, 0.0),
                            k=0.06, mag_scatter=0.03),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    print(f"{'configuration':16s} {'eta0 err %':>22s} {'k err mag/X':>22s} "
          f"{'rural-like err deg':>22s} {'zenith err %':>14s} {'ms/night':>9s}")
    print(f"{'':16s} {'mean / max |.|':>22s} {'mean / max |.|':>22s} "
          f"{'mean / max |.| (truth)':>22s} {'max |.|':>14s}")
    for name, cfg in CONFIGS.items():
        de, dk, dr, dz, times, truths = [], [], [], [], [], []
        for seed in range(args.seeds):
            night = synth_night(seed, **cfg)
            t0 = time.perf_counter()
            eff = night_efficiency(night.table)
            bg = night_background(night.table)
            times.append(time.perf_counter() - t0)
            truth = night.truth_background()
            de.append(100.0 * (eff.eta0 / night.eta0 - 1.0))
            dk.append(eff.k_mag_per_airmass - night.k)
            dr.append(bg.rural_like_above_deg - truth["rural_like_above_deg"])
            dz.append(100.0 * (bg.zenith_cps / truth["zenith_cps"] - 1.0))
            truths.append(truth["rural_like_above_deg"])
        de, dk, dr, dz = map(np.asarray, (de, dk, dr, dz))
        print(f"{name:16s} {de.mean():+10.2f} / {np.abs(de).max():8.2f}  "
              f"{dk.mean():+10.4f} / {np.abs(dk).max():8.4f}  "
              f"{dr.mean():+6.2f} / {np.abs(dr).max():5.2f} ({np.mean(truths):4.1f})  "
              f"{np.abs(dz).max():12.2f}  {1000 * np.median(times):8.0f}")


if __name__ == "__main__":
    main()
