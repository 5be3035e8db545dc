"""Synthetic pointing runs from a known model, for tests, benchmarks and examples."""

from __future__ import annotations

import math

import numpy as np

from pointing.model.model import ARCSEC, PointingModel
from pointing.model.run import Observations

__all__ = ["simulate_equatorial_run", "simulate_run"]


def simulate_run(model: PointingModel, n: int, *, seed: int = 0, noise_arcsec: float = 1.0,
                 el_range_deg: tuple[float, float] = (15.0, 85.0),
                 latitude_deg: float = 31.1263, caption: str = "synthetic run") -> Observations:
    """Stars spread evenly over the sky, observed through ``model`` with noise.

    Parameters
    ----------
    model : PointingModel
        The true pointing errors of the mount.
    n : int
        Number of stars.
    seed : int
        Random seed (the run is deterministic for a seed).
    noise_arcsec : float
        1-sigma measurement noise per axis, arcsec on the sky.
    el_range_deg : tuple of float
        Elevation range of the stars, degrees; positions are uniform in
        solid angle within it.
    latitude_deg, caption
        Stored in the run's header.

    Returns
    -------
    Observations
        True positions and the raw encoder readings that centred each star.
    """
    rng = np.random.default_rng(seed)
    lo, hi = np.radians(el_range_deg)
    az = rng.uniform(0.0, 2 * math.pi, n)
    el = np.arcsin(rng.uniform(math.sin(lo), math.sin(hi), n))
    raw_a, raw_e = model.raw_from_true(az, el)
    noise = rng.normal(0.0, noise_arcsec * ARCSEC, (2, n))
    raw_a = raw_a + noise[0] / np.cos(el)
    raw_e = raw_e + noise[1]
    sigma = np.full(n, noise_arcsec) if noise_arcsec > 0 else None
    return Observations(az, el, raw_a, raw_e, sigma_arcsec=sigma, caption=caption,
                        options=("ALTAZ",), site={"latitude_deg": latitude_deg})


def simulate_equatorial_run(model: PointingModel, n: int, *, seed: int = 0,
                            noise_arcsec: float = 1.0, min_elevation_deg: float = 15.0,
                            caption: str = "synthetic equatorial run") -> Observations:
    """An equatorial run through ``model`` (mount ``fork`` or ``gem``, with a latitude).

    Stars uniform in solid angle above ``min_elevation_deg``.  On a German
    equatorial the stars east of the meridian are observed from the far side
    of the pier (raw and true declination beyond the pole), so both sides are
    in every run.  Noise is added to the raw position (arcsec on the sky).
    """
    lat_deg = model.latitude_deg
    if model.mount == "altaz" or lat_deg is None:
        raise ValueError("simulate_equatorial_run needs an equatorial model with a latitude")
    rng = np.random.default_rng(seed)
    lat = math.radians(lat_deg)
    az = rng.uniform(0.0, 2 * math.pi, 4 * n + 64)
    el = np.arcsin(rng.uniform(math.sin(math.radians(min_elevation_deg)), 0.999, az.size))
    # horizon (north = 0, east = 90°) to hour angle (west positive) and declination
    dec = np.arcsin(np.sin(lat) * np.sin(el) + np.cos(lat) * np.cos(el) * np.cos(az))
    ha = np.arctan2(-np.sin(az) * np.cos(el),
                    np.cos(lat) * np.sin(el) - np.sin(lat) * np.cos(el) * np.cos(az))
    keep = np.abs(np.cos(dec)) > 0.05  # not within 3° of the pole: CH/NP bases blow up
    ha, dec = ha[keep][:n], dec[keep][:n]
    if model.mount == "gem":
        far = ha < 0.0
        ha = np.where(far, ha + math.pi, ha)
        dec = np.where(far, math.pi - dec, dec)
    raw_h, raw_d = model.raw_from_true(ha, dec)
    noise = rng.normal(0.0, noise_arcsec * ARCSEC, (2, ha.size))
    raw_h = raw_h + noise[0] / np.cos(dec)
    raw_d = raw_d + noise[1]
    sigma = np.full(ha.size, noise_arcsec) if noise_arcsec > 0 else None
    return Observations(ha, dec, raw_h, raw_d, sigma_arcsec=sigma, caption=caption,
                        options=("EQUAT",), site={"latitude_deg": lat_deg}, mount=model.mount)
