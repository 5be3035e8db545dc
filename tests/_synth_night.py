"""Synthetic calibration nights for the photometry and background tests.

Poisson counts drawn from a known η₀ and k (and a known sky model), a few
stars dimmed by cloud, and a grid of blank-sky positions.  Seeded, fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pointing.photometry.background import background_grid
from pointing.photometry.config import PhotometryConfig
from pointing.photometry.efficiency import expected_star_counts
from pointing.photometry.sky_model import Receiver, SkyBackgroundModel, truth_background
from pointing.photometry.table import make_observation_table


@dataclass
class Night:
    table: object
    eta0: float
    k: float
    clouded: list[int]  # hip numbers of cloud-dimmed stars
    sky: SkyBackgroundModel
    receiver: Receiver
    moon: tuple[float, float, float]  # az, el (rad), phase

    def truth_background(self) -> dict:
        return truth_background(self.sky, self.receiver, moon_az=self.moon[0],
                                moon_el=self.moon[1], moon_phase=self.moon[2])


def synth_night(seed: int = 0, *, n_stars: int = 30, eta0: float = 0.35, k: float = 0.08,
                n_cloud: int = 2, cloud_mag: tuple[float, float] = (0.3, 1.0),
                sky: SkyBackgroundModel | None = None,
                moon: tuple[float, float, float] = (math.nan, math.nan, 0.0),
                count_time_s: float = 5.0, grid: bool = True, el_range=(15.0, 85.0),
                dark_total: float = 40.0, mag_scatter: float = 0.0) -> Night:
    """A night of star pointings (and optionally the blank-sky grid).

    *mag_scatter* (mag): the stars' true brightness differs from the catalogue
    magnitude written to the table by this much (rms).
    """
    rng = np.random.default_rng(seed)
    cfg = PhotometryConfig()
    sky = sky or SkyBackgroundModel.rural()
    receiver = Receiver(area_m2=cfg.area_m2, field_arcsec2=cfg.field_of_view_arcsec2,
                        efficiency=eta0, band=cfg.band, dark_cps=dark_total)
    # stars spread over the sky, uniform in sin(el) (as a star selection tends to be)
    az = rng.uniform(0.0, 2 * math.pi, n_stars)
    lo, hi = np.sin(np.radians(el_range))
    el = np.arcsin(rng.uniform(lo, hi, n_stars))
    imag = rng.uniform(1.0, 5.0, n_stars)
    vi = rng.uniform(-0.1, 1.8, n_stars)
    hip = 1000 + np.arange(n_stars)
    true_imag = imag + rng.normal(0.0, mag_scatter, n_stars) if mag_scatter else imag
    mean = expected_star_counts(true_imag, vi, el, count_time_s, eta0=eta0, k_mag_per_airmass=k,
                                area_m2=cfg.area_m2, band=cfg.band)
    clouded = rng.choice(n_stars, size=n_cloud, replace=False) if n_cloud else []
    mean = mean.copy()
    for i in clouded:
        mean[i] *= 10 ** (-0.4 * rng.uniform(*cloud_mag))
    maz, mel, mph = moon
    bg = sky.rate_cps(az, el, maz, mel, mph, receiver) * count_time_s
    counts_star = rng.poisson(mean + bg).astype(float)
    counts_off = rng.poisson(bg).astype(float)
    t0 = np.datetime64("2025-03-01T14:00:00")
    rows = []
    for i in range(n_stars):
        rows.append({
            "time": str(t0 + np.timedelta64(60 * i, "s")), "kind": "model" if i < 18
            else "verify", "hip": int(hip[i]), "imag": imag[i], "vmag": imag[i] + vi[i],
            "v_minus_i": vi[i], "az_deg": math.degrees(az[i]), "el_deg": math.degrees(el[i]),
            "count_time_s": count_time_s, "counts_star": counts_star[i],
            "counts_off": counts_off[i], "dark_cps": dark_total,
            "moon_az_deg": math.degrees(maz), "moon_el_deg": math.degrees(mel),
            "moon_phase": mph, "flags": ""})
    if grid:
        gaz, gel = background_grid()
        rate = sky.rate_cps(gaz, gel, maz, mel, mph, receiver)
        for j, (a, e, r) in enumerate(zip(gaz, gel, rate, strict=True)):
            rows.append({
                "time": str(t0 + np.timedelta64(60 * n_stars + 20 * j, "s")),
                "kind": "background", "hip": -1, "imag": math.nan, "az_deg": math.degrees(a),
                "el_deg": math.degrees(e), "count_time_s": 10.0,
                "counts_star": math.nan, "counts_off": float(rng.poisson(r * 10.0)),
                "dark_cps": dark_total, "moon_az_deg": math.degrees(maz),
                "moon_el_deg": math.degrees(mel), "moon_phase": mph, "flags": ""})
    table = make_observation_table(rows)
    return Night(table=table, eta0=eta0, k=k, clouded=[int(hip[i]) for i in clouded],
                 sky=sky, receiver=receiver, moon=moon)
