"""Synthetic pointing runs from a known model, for tests, benchmarks and examples."""

from __future__ import annotations

import math

import numpy as np

from pointing.model.model import ARCSEC, PointingModel
from pointing.model.run import Observations

__all__ = ["simulate_run"]


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
