"""A physically based sky-background model: what the receiver counts off a star.

The simulator's truth (and the tests'); the estimator
(:mod:`pointing.photometry.background`) has its own functional form and does
not import this module.  A truth model with three sources of sky light
plus the detectors' dark counts:

* the natural night sky (airglow, zodiacal and starlight continuum), brightening
  toward the horizon as the path through the emitting layer grows: van Rhijn's
  factor ``X(Z) = (1 − 0.96 sin²Z)^−½`` for a layer at ~130 km, dimmed by
  extinction ``10^(−0.4 k (X − 1))`` (Krisciunas & Schaefer 1991, eq. 2);
* a city light dome toward one azimuth, falling exponentially with elevation
  and concentrated in azimuth as a von Mises profile (empirical form of
  measured light domes);
* scattered moonlight after Krisciunas & Schaefer (1991, PASP 103, 1033): the
  Moon's illuminance ``I* = 10^(−0.4 (3.84 + 0.026|α| + 4e-9 α⁴))`` for phase
  angle α (deg), the scattering function
  ``f(ρ) = 10^5.36 (1.06 + cos²ρ) + 10^(6.15 − ρ/40)`` (Rayleigh + Mie; 6.2e7/ρ²
  within 10° of the Moon) and
  ``B = f(ρ) I* 10^(−0.4 k X_moon) (1 − 10^(−0.4 k X))`` in nanolamberts (V).

Adaptation to the receive band (documented approximations): K&S calibrated
f(ρ) with V-band extinction on Mauna Kea (0.17 mag/airmass, of which Rayleigh
≈ 0.06); at 850 nm with k ≈ 0.05 the Rayleigh share (0.018/0.05) is about the
same, so f(ρ) is used unchanged with the band's own k, which sets how much
light is scattered.  The result is converted to V mag arcsec⁻² (K&S eq. 1) and
to the band with the Moon's colour (V−I ≈ 0.85, reddened sunlight) through
:func:`pointing.photometry.star_photon_flux`.  Expect factor-of-two accuracy,
enough for a realistic simulator.

Units: surface brightness in photons s⁻¹ m⁻² arcsec⁻² in the receive band (above
the receiver, i.e. as seen through the atmosphere); count rates in counts s⁻¹
summed over the quantum channels.  Angles are radians in function arguments
(azimuth from north through east); the model's parameters use degrees
(``*_deg``) and I-band magnitudes per arcsec² (``*_mag``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pointing.photometry.bands import DEFAULT_BAND, Band, star_photon_flux
from pointing.photometry.config import DetectorConfig, PhotometryConfig, StationSource
from pointing.photometry.profile import noise_profile, rural_like_above
from pointing.photometry.skyglow import moon_scattering_nl, van_rhijn_airmass

__all__ = [
    "MOON_V_MINUS_I",
    "Receiver",
    "SkyBackgroundModel",
    "moon_scattering_nl",
    "nanolambert_to_vmag",
    "truth_background",
    "van_rhijn_airmass",
]

#: Cousins V−I of moonlight (sunlight 0.70, the lunar surface reddens it)
MOON_V_MINUS_I = 0.85


def nanolambert_to_vmag(b_nl: Any) -> np.ndarray:
    """V surface brightness (mag arcsec⁻²) of a brightness in nanolamberts (K&S eq. 1)."""
    with np.errstate(divide="ignore"):
        return (20.7233 - np.log(np.asarray(b_nl, dtype=float) / 34.08)) / 0.92104


@dataclass(frozen=True)
class Receiver:
    """What turns sky surface brightness into counts: the station's receive path.

    ``rate = dark_cps + brightness · field_arcsec2 · area_m2 · efficiency``.
    """

    area_m2: float = 0.0545
    field_arcsec2: float = 334.1  #: a 100 µrad (full angle) circular field
    efficiency: float = 0.40  #: telescope entrance to detected photon
    band: Band = DEFAULT_BAND
    dark_cps: float = 40.0  #: total over the channels

    @classmethod
    def from_station(cls, station: StationSource = None, *, efficiency: float | None = None
                     ) -> Receiver:
        """Receiver of a station (photometry and detectors sections, aperture).

        *efficiency* overrides the design efficiency of the chain (e.g. a
        simulator's true η₀).
        """
        p = PhotometryConfig.from_station(station)
        d = DetectorConfig.from_station(station)
        return cls(area_m2=p.area_m2, field_arcsec2=p.field_of_view_arcsec2,
                   efficiency=p.design_efficiency if efficiency is None else efficiency,
                   band=p.band, dark_cps=d.total_dark_cps)

    @property
    def cps_per_brightness(self) -> float:
        """Counts s⁻¹ per photon s⁻¹ m⁻² arcsec⁻²."""
        return self.field_arcsec2 * self.area_m2 * self.efficiency


@dataclass(frozen=True)
class SkyBackgroundModel:
    """Sky background truth: natural sky + city light dome + scattered moonlight.

    Parameters (surface brightnesses are I-band-equivalent mag arcsec⁻², carried
    to the receive band with the given V−I colour):

    zenith_mag : natural sky at the zenith (dark rural site ≈ 19.5–20).
    sky_v_minus_i : colour of the natural sky continuum.
    k_mag_per_airmass : extinction in the receive band.
    dome_mag : light dome at the horizon toward ``dome_az_deg`` (None: no dome).
    dome_az_deg : azimuth of the brightest horizon (north through east).
    dome_scale_deg : elevation over which the dome fades by e.
    dome_kappa : azimuth concentration (von Mises); 0 is the same all round.
    dome_v_minus_i : colour of the artificial light.
    """

    zenith_mag: float = 19.3
    sky_v_minus_i: float = 1.0
    k_mag_per_airmass: float = 0.05
    dome_mag: float | None = None
    dome_az_deg: float = 0.0
    dome_scale_deg: float = 6.0
    dome_kappa: float = 2.0
    dome_v_minus_i: float = 1.2

    @classmethod
    def rural(cls, **changes: Any) -> SkyBackgroundModel:
        """A clear rural site: dark zenith, a faint town glow toward the east-south-east."""
        return replace(cls(zenith_mag=19.3, k_mag_per_airmass=0.04, dome_mag=18.0,
                           dome_az_deg=115.0, dome_scale_deg=8.0, dome_kappa=2.0), **changes)

    @classmethod
    def city(cls, **changes: Any) -> SkyBackgroundModel:
        """A city centre: bright zenith and a strong light dome toward the south-west."""
        return replace(cls(zenith_mag=17.8, k_mag_per_airmass=0.10, dome_mag=11.2,
                           dome_az_deg=215.0, dome_scale_deg=5.0, dome_kappa=1.5), **changes)

    def components(self, az: Any, el: Any, moon_az: Any = np.nan, moon_el: Any = np.nan,
                   moon_phase: Any = 0.0, band: Any = None) -> dict[str, np.ndarray]:
        """Surface brightness of each source, photons s⁻¹ m⁻² arcsec⁻² in *band*.

        Keys ``natural``, ``dome``, ``moon``; angles in radians.
        """
        az = np.asarray(az, dtype=float)
        el = np.asarray(el, dtype=float)
        k = self.k_mag_per_airmass
        x = van_rhijn_airmass(el)
        natural = (star_photon_flux(self.zenith_mag, self.sky_v_minus_i, band)
                   * x * 10.0 ** (-0.4 * k * (x - 1.0)))
        if self.dome_mag is None:
            dome = np.zeros(np.broadcast_shapes(az.shape, el.shape))
        else:
            dome = (star_photon_flux(self.dome_mag, self.dome_v_minus_i, band)
                    * np.exp(-np.degrees(np.clip(el, 0.0, None)) / self.dome_scale_deg)
                    * np.exp(self.dome_kappa
                             * (np.cos(az - math.radians(self.dome_az_deg)) - 1.0)))
        b_nl = moon_scattering_nl(az, el, moon_az, moon_el, moon_phase, k)
        # V-band nanolamberts → photons in the band: linear (B ∝ 10^(−0.4 V))
        moon = b_nl * float(star_photon_flux(nanolambert_to_vmag(1.0) - MOON_V_MINUS_I,
                                             MOON_V_MINUS_I, band))
        return {"natural": np.broadcast_to(natural, dome.shape) + 0.0, "dome": dome,
                "moon": np.broadcast_to(moon, dome.shape) + 0.0}

    def surface_brightness(self, az: Any, el: Any, moon_az: Any = np.nan,
                           moon_el: Any = np.nan, moon_phase: Any = 0.0,
                           band: Any = None) -> np.ndarray:
        """Total sky surface brightness, photons s⁻¹ m⁻² arcsec⁻² (radians in)."""
        c = self.components(az, el, moon_az, moon_el, moon_phase, band)
        return c["natural"] + c["dome"] + c["moon"]

    def rate_cps(self, az: Any, el: Any, moon_az: Any = np.nan, moon_el: Any = np.nan,
                 moon_phase: Any = 0.0, receiver: Receiver | None = None) -> np.ndarray:
        """Background count rate at the receiver, counts s⁻¹ over all channels.

        Dark counts plus the sky in the receiving field; angles in radians; the
        Moon's phase is its illuminated fraction 0..1 (NaN or a Moon below the
        horizon: no moonlight).
        """
        r = receiver or Receiver()
        sb = self.surface_brightness(az, el, moon_az, moon_el, moon_phase, r.band)
        return r.dark_cps + r.cps_per_brightness * sb


def truth_background(model: SkyBackgroundModel, receiver: Receiver | None = None, *,
                     moon_az: float = math.nan, moon_el: float = math.nan,
                     moon_phase: float = 0.0, tolerance: float = 0.2,
                     moon_exclusion_deg: float = 30.0) -> dict[str, float]:
    """True ``zenith_cps`` and ``rural_like_above_deg`` of a background model.

    Uses the same definitions as :func:`pointing.photometry.background.fit_background`
    (:mod:`pointing.photometry.profile`)
    (azimuth-averaged noise, and ``rural_like_above_worst_deg`` for the worst
    azimuth; directions within *moon_exclusion_deg* of the Moon left out), for
    the Moon at (*moon_az*, *moon_el*) radians; pass the
    Moon's mean position over the night's background samples so that the truth
    and the estimate describe the same sky.
    """
    r = receiver or Receiver()

    def rate(az: np.ndarray, el: np.ndarray) -> np.ndarray:
        return model.rate_cps(az, el, moon_az, moon_el, moon_phase, r)

    el_deg, mean, worst = noise_profile(rate, moon_az=moon_az, moon_el=moon_el,
                                        moon_exclusion_deg=moon_exclusion_deg)
    zenith = float(rate(np.array(0.0), np.array(0.5 * math.pi)))
    return {"zenith_cps": zenith,
            "rural_like_above_deg": rural_like_above(el_deg, mean, zenith, tolerance),
            "rural_like_above_worst_deg": rural_like_above(el_deg, worst, zenith, tolerance)}
