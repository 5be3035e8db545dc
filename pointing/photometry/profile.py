"""The figures of a background map: noise against elevation, and the rural-like elevation.

One definition of each, used by the estimator
(:func:`pointing.photometry.background.fit_background`) on its fitted model and
by the simulator's truth (:func:`pointing.photometry.sky_model.truth_background`)
on the true sky, so that estimate and truth describe the same figure:

* :func:`noise_profile` -- mean and worst azimuth of a rate map at each
  elevation, directions near the Moon left out;
* :func:`rural_like_above` -- the lowest elevation above which the noise stays
  within a tolerance of its zenith value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from pointing.units import angular_separation

__all__ = ["noise_profile", "rural_like_above"]


def noise_profile(rate: Callable[[np.ndarray, np.ndarray], np.ndarray], *,
                  el_deg: Any = None, az_step_deg: float = 2.0, moon_az: float = math.nan,
                  moon_el: float = math.nan, moon_exclusion_deg: float = 30.0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise against elevation: mean and worst azimuth of ``rate(az, el)`` (radians in).

    Directions within *moon_exclusion_deg* of the Moon (when above the horizon)
    are left out of both.  Returns ``(el_deg, mean_cps, max_cps)``; the default
    elevations are 0..90° every 0.5°.
    """
    el_deg = np.arange(0.0, 90.001, 0.5) if el_deg is None else np.asarray(el_deg, float)
    az = np.radians(np.arange(0.0, 360.0, az_step_deg))
    el_g, az_g = np.meshgrid(np.radians(el_deg), az, indexing="ij")
    values = np.asarray(rate(az_g, el_g), dtype=float)
    if np.isfinite(moon_el) and moon_el > 0 and moon_exclusion_deg > 0:

        far = angular_separation(az_g, el_g, moon_az, moon_el) >= math.radians(
            moon_exclusion_deg)
        far[far.sum(axis=1) == 0] = True  # a ring entirely near the Moon: keep it all
    else:
        far = np.ones(values.shape, dtype=bool)
    mean = np.sum(np.where(far, values, 0.0), axis=1) / far.sum(axis=1)
    worst = np.where(far, values, -np.inf).max(axis=1)
    return el_deg, mean, worst


def rural_like_above(el_deg: Any, profile_cps: Any, zenith_cps: float, tolerance: float = 0.2
                     ) -> float:
    """Lowest elevation (deg) above which *profile_cps* stays within
    ``(1 + tolerance) · zenith_cps``, interpolated linearly at the crossing.

    *el_deg* increasing; returns ``el_deg[0]`` when the noise never exceeds the
    limit and 90 when even the elevations just below the zenith do.
    """
    el = np.asarray(el_deg, dtype=float)
    w = np.asarray(profile_cps, dtype=float)
    limit = (1.0 + tolerance) * zenith_cps
    above = w > limit
    if not above.any():
        return float(el[0])
    i = int(np.flatnonzero(above)[-1])
    if i == el.size - 1:
        return float(el[-1])
    # between el[i] (above the limit) and el[i + 1] (within it)
    f = (w[i] - limit) / (w[i] - w[i + 1])
    return float(el[i] + f * (el[i + 1] - el[i]))
