"""Published forms of the night sky's glow that both the estimator and the truth use.

* :func:`van_rhijn_airmass` -- the path through a thin emitting layer ~130 km up,
  relative to the zenith (van Rhijn 1921, as used by Krisciunas & Schaefer 1991);
* :func:`moon_scattering_nl` -- scattered moonlight, Krisciunas & Schaefer (1991,
  PASP 103, 1033), eqs. 15-21, in V-band nanolamberts.

The background estimator (:mod:`pointing.photometry.background`) fits these
shapes' amplitudes to a night's counts; the simulator's truth sky
(:mod:`pointing.photometry.sky_model`) draws counts from them with its own
amplitudes.  Neither imports the other: they share only the published physics.
Angles in radians; azimuth from north through east.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pointing.units import angular_separation

__all__ = ["moon_scattering_nl", "van_rhijn_airmass"]


def van_rhijn_airmass(el: Any) -> np.ndarray:
    """Path through a thin emitting layer ~130 km up, relative to the zenith.

    ``(1 − 0.96 sin²Z)^−½`` with Z = 90° − el (K&S 1991); *el* in radians,
    clipped at the horizon (X(0) = 5).
    """
    z = 0.5 * math.pi - np.clip(np.asarray(el, dtype=float), 0.0, 0.5 * math.pi)
    return 1.0 / np.sqrt(1.0 - 0.96 * np.sin(z) ** 2)


def moon_scattering_nl(az: Any, el: Any, moon_az: Any, moon_el: Any, moon_phase: Any,
                       k_mag_per_airmass: float = 0.05) -> np.ndarray:
    """Scattered moonlight, Krisciunas & Schaefer (1991), in V-band nanolamberts.

    Parameters
    ----------
    az, el : array
        Sky direction (radians, azimuth from north through east).
    moon_az, moon_el : array
        The Moon's direction (radians); NaN or below the horizon gives 0.
    moon_phase : array
        Illuminated fraction 0..1 (phase angle α = arccos(2·phase − 1)).
    k_mag_per_airmass : float
        Extinction in the band; it sets how much light is scattered.
    """
    az, el, maz, mel, ph = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (
        az, el, moon_az, moon_el, moon_phase)))
    up = np.isfinite(mel) & (mel > 0) & np.isfinite(ph) & (ph > 0)
    mel_ = np.where(up, mel, 0.5)
    maz_ = np.where(up, maz, 0.0)
    alpha = np.degrees(np.arccos(np.clip(2.0 * np.where(up, ph, 1.0) - 1.0, -1.0, 1.0)))
    illum = 10.0 ** (-0.4 * (3.84 + 0.026 * alpha + 4e-9 * alpha**4))
    rho = np.degrees(angular_separation(az, el, maz_, mel_))
    rho_c = np.maximum(rho, 1e-3)
    f_rho = np.where(rho_c >= 10.0,
                     10.0**5.36 * (1.06 + np.cos(np.radians(rho_c)) ** 2)
                     + 10.0 ** (6.15 - rho_c / 40.0),
                     6.2e7 / rho_c**2)
    x_moon = van_rhijn_airmass(mel_)
    x_sky = van_rhijn_airmass(el)
    b = (f_rho * illum * 10.0 ** (-0.4 * k_mag_per_airmass * x_moon)
         * (1.0 - 10.0 ** (-0.4 * k_mag_per_airmass * x_sky)))
    return np.where(up, b, 0.0)
