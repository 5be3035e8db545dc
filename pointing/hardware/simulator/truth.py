"""What the simulated station knows and the night must find: its true parameters and floor."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pointing.hardware.simulator.world import World
from pointing.model.model import PointingModel
from pointing.photometry.sky_model import truth_background
from pointing.units import ARCSEC, URAD

__all__ = ["noise_floor", "truth_of"]


def truth_of(world: World) -> dict[str, Any]:
    """The simulator's true parameters, for reports and tests."""
    c = world.config
    return {
        "terms": dict(c.terms),
        "unmodelled_terms": dict(c.unmodelled),
        "efficiency": {"eta0": c.eta0, "k_mag_per_airmass": c.k_quantum},
        "sky": c.sky,
        "repeatability_arcsec": c.repeatability_arcsec,
        "jitter_arcsec": c.jitter_arcsec,
        "seed": c.seed,
        "preset": c.preset,
        "field_errors": {"hysteresis_arcsec": c.hysteresis_arcsec,
                         "drift_arcsec_per_h": list(c.drift_arcsec_per_h),
                         "settle_arcsec": c.settle_arcsec, "settle_tau_s": c.settle_tau_s,
                         "timing_jitter_s": c.timing_jitter_s,
                         "repeatability_scale_deg": c.repeatability_scale_deg},
    }


def noise_floor(world: World, samples: int = 4000) -> float:
    """Radial pointing RMS (µrad) that the true values of the fitted terms would leave.

    What one pointing measured with one exposure keeps even with a perfect
    model of the fitted terms: repeatability and image motion per axis,
    encoder quantisation, and the unmodelled terms averaged over the sky
    (20°–85° elevation).  A fit may absorb part of the unmodelled terms into
    its coefficients and then point a little better than this.  Of a field
    mount's errors the flexure hysteresis is counted (as ± its amplitude ×
    cos E); the thermal drift, which the zero points partly follow, and the
    ringing, which has mostly decayed when the camera looks, are not.
    """
    c = world.config
    per_axis2 = ((c.repeatability_arcsec * ARCSEC) ** 2 + (c.jitter_arcsec * ARCSEC) ** 2
                 + (2 * math.pi / 2**c.encoder_bits) ** 2 / 12)
    harmonic2 = 0.0
    if c.unmodelled:
        rng = np.random.default_rng(12345)
        az = rng.uniform(0, 2 * math.pi, samples)
        el = np.arcsin(rng.uniform(math.sin(math.radians(20)), math.sin(math.radians(85)),
                                   samples))
        dx, de = PointingModel(list(c.unmodelled), list(c.unmodelled.values())).offsets(az, el)
        harmonic2 = float(np.mean(dx**2 + de**2))
        if c.hysteresis_arcsec > 0:
            harmonic2 += float(np.mean((c.hysteresis_arcsec * ARCSEC * np.cos(el)) ** 2))
    return math.sqrt(2 * per_axis2 + harmonic2) / URAD


def truth_sky(world: World, moon_az: float, moon_el: float, moon_phase: float
              ) -> dict[str, float]:
    """The true background figures of the simulated sky for the Moon there (report)."""
    return truth_background(world.sky, world.receiver, moon_az=moon_az, moon_el=moon_el,
                            moon_phase=moon_phase)
