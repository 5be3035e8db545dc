"""Angle units, wrapping and angular separation: the one copy the package uses.

Angles are radians inside the package; these constants convert at the edges.
This module imports numpy only, so the pointing-model engine may use it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "ARCSEC",
    "DEG",
    "TWO_PI",
    "URAD",
    "URAD_PER_ARCSEC",
    "angular_separation",
    "wrap_near",
    "wrap_pi",
]

#: one degree in radians
DEG = math.pi / 180.0
#: one arcsecond in radians
ARCSEC = math.pi / 648000.0
#: one microradian in radians
URAD = 1e-6
#: microradians in one arcsecond (4.848...)
URAD_PER_ARCSEC = ARCSEC / URAD
TWO_PI = 2.0 * math.pi


def wrap_pi(x: Any) -> Any:
    """Angle (float or array, radians) wrapped into [−π, π)."""
    return (x + math.pi) % TWO_PI - math.pi


def wrap_near(x: Any, reference: Any) -> Any:
    """Angle *x* (radians) moved by whole turns to within ±π of *reference* (radians)."""
    return reference + wrap_pi(x - reference)


def angular_separation(az1: Any, el1: Any, az2: Any, el2: Any) -> Any:
    """Great-circle angle (radians) between directions (azimuth, elevation in radians).

    Vincenty's formula: accurate from 0 to π, unlike the arccos of the dot
    product, which loses half its digits below an arcsecond.  Broadcasts over
    arrays; returns a float for scalar input.
    """
    dlon = np.subtract(az2, az1)
    s1, c1 = np.sin(el1), np.cos(el1)
    s2, c2 = np.sin(el2), np.cos(el2)
    cd, sd = np.cos(dlon), np.sin(dlon)
    num = np.hypot(c2 * sd, c1 * s2 - s1 * c2 * cd)
    den = s1 * s2 + c1 * c2 * cd
    out = np.arctan2(num, den)
    return float(out) if np.ndim(out) == 0 else out
