"""Receive bands and the photon flux of a star in them.

* :class:`Band` -- a receive band as integration nodes and weights
  (:meth:`Band.top_hat`, :meth:`Band.curve`);
* :func:`star_photon_flux` -- photons s⁻¹ m⁻² a star of Cousins I magnitude and
  V−I colour delivers above the atmosphere in a band (default 850 nm centre,
  1 nm top-hat);
* :func:`photon_flux_density` and :func:`colour_temperature` -- the colour
  transfer from the I band to any wavelength (V−I colour temperature).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pointing.errors import ConfigError

__all__ = [
    "DEFAULT_BAND",
    "DEFAULT_CAMERA_BAND",
    "I_EFF_NM",
    "LN10_04",
    "VI_RANGE",
    "V_EFF_NM",
    "Band",
    "colour_temperature",
    "photon_flux_density",
    "star_photon_flux",
]

# --- physical constants (SI, exact since 2019) and photometric zero points -----------------

_H = 6.62607015e-34  # J s
_C = 2.99792458e8  # m s⁻¹
_KB = 1.380649e-23  # J K⁻¹
_C2_NM_K = _H * _C / _KB * 1e9  # second radiation constant hc/k in nm K (1.4388e7)
#: d ln(flux) / d mag
LN10_04 = 0.4 * math.log(10.0)

#: Cousins I zero point, Bessell, Castelli & Plez (1998), Table A2: λ_eff = 798 nm and
#: f_λ(I = 0) = 1.126e-9 erg s⁻¹ cm⁻² Å⁻¹ = 1.126e-11 W m⁻² nm⁻¹
I_EFF_NM = 798.0
I_ZERO_FLAM_W_M2_NM = 1.126e-11
#: Johnson V zero point from the same table: λ_eff = 545 nm, 3.631e-9 erg s⁻¹ cm⁻² Å⁻¹
V_EFF_NM = 545.0
V_ZERO_FLAM_W_M2_NM = 3.631e-11

#: photons s⁻¹ m⁻² nm⁻¹ of an I = 0 star at λ_eff(I) (4.52e7)
_I_ZERO_PHOTONS = I_ZERO_FLAM_W_M2_NM * (I_EFF_NM * 1e-9) / (_H * _C)


# --- the receive band ----------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A receive band, stored as integration nodes and weights over wavelength.

    ``∫ F(λ) T(λ) dλ ≈ Σ weights_nm · F(nodes_nm)``, with T the relative spectral
    response normalised to a peak of 1 (a filter's peak transmission belongs in
    the efficiency chain, not here).  Build one with :meth:`top_hat` or
    :meth:`curve`; :meth:`from_spec` accepts any of the usual spellings.
    """

    nodes_nm: tuple[float, ...]
    weights_nm: tuple[float, ...]
    center_nm: float
    description: str

    @property
    def width_nm(self) -> float:
        """Equivalent width ∫T dλ in nm (the width of a top-hat)."""
        return float(sum(self.weights_nm))

    @classmethod
    def top_hat(cls, center_nm: float = 850.0, width_nm: float = 1.0) -> Band:
        """Top-hat band of full width *width_nm* around *center_nm* (nm)."""
        if not (np.isfinite(center_nm) and 200.0 <= center_nm <= 3000.0):
            raise ConfigError(f"band centre must be 200..3000 nm, got {center_nm!r}")
        if not (np.isfinite(width_nm) and 0.0 < width_nm < center_nm):
            raise ConfigError(f"band width must be > 0 and < the centre, got {width_nm!r}")
        x, w = np.polynomial.legendre.leggauss(8)  # exact for the smooth stellar SED
        nodes = center_nm + 0.5 * width_nm * x
        weights = 0.5 * width_nm * w
        return cls(tuple(nodes), tuple(weights), float(center_nm),
                   f"{center_nm:g} nm, {width_nm:g} nm top-hat")

    @classmethod
    def curve(cls, wavelength_nm: Sequence[float], transmission: Sequence[float]) -> Band:
        """Band from a sampled transmission curve (wavelengths in nm, increasing).

        The curve is interpolated linearly, normalised to a peak of 1 and
        integrated with the trapezoid rule on a fine grid.
        """
        lam = np.asarray(wavelength_nm, dtype=float)
        t = np.asarray(transmission, dtype=float)
        if lam.ndim != 1 or lam.shape != t.shape or lam.size < 2:
            raise ConfigError("band curve: wavelength and transmission must be two "
                              "1-D sequences of the same length (>= 2)")
        if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(t))):
            raise ConfigError("band curve: values must be finite")
        if np.any(np.diff(lam) <= 0):
            raise ConfigError("band curve: wavelengths must increase strictly")
        if np.any(t < 0) or t.max() <= 0:
            raise ConfigError("band curve: transmission must be >= 0 with a positive peak")
        if lam[0] < 200.0 or lam[-1] > 3000.0:
            raise ConfigError("band curve: wavelengths must lie within 200..3000 nm")
        grid = np.linspace(lam[0], lam[-1], 1025)
        tg = np.interp(grid, lam, t / t.max())
        w = np.full(grid.size, grid[1] - grid[0])
        w[0] *= 0.5
        w[-1] *= 0.5
        w = w * tg
        keep = w > 0
        center = float(np.sum(grid * w) / np.sum(w))
        return cls(tuple(grid[keep]), tuple(w[keep]), center,
                   f"curve {lam[0]:g}-{lam[-1]:g} nm (mean {center:.1f} nm)")

    @classmethod
    def from_spec(cls, spec: Any) -> Band:
        """A :class:`Band` from None (the 850 nm / 1 nm default), a Band, a
        ``(center_nm, width_nm)`` pair, or a mapping with ``center_nm`` and
        ``width_nm`` or ``wavelength_nm`` and ``transmission``."""
        if spec is None:
            return DEFAULT_BAND
        if isinstance(spec, Band):
            return spec
        if isinstance(spec, Mapping):
            if "wavelength_nm" in spec or "transmission" in spec:
                return cls.curve(spec["wavelength_nm"], spec["transmission"])
            return cls.top_hat(float(spec.get("center_nm", 850.0)),
                               float(spec.get("width_nm", 1.0)))
        if isinstance(spec, Sequence) and len(spec) == 2:
            return cls.top_hat(float(spec[0]), float(spec[1]))
        raise ConfigError(f"cannot make a band from {spec!r}: give (center_nm, width_nm), "
                          "a mapping, or Band.curve(wavelength_nm, transmission)")


DEFAULT_BAND = Band.top_hat(850.0, 1.0)
#: default camera band when the station gives no camera wavelength
DEFAULT_CAMERA_BAND = Band.top_hat(650.0, 200.0)


# --- stellar flux in the band ----------------------------------------------------------------


def _planck_ratio(lam_nm: np.ndarray, ref_nm: float, u: np.ndarray) -> np.ndarray:
    """B_λ(λ, T) / B_λ(ref, T) for inverse temperature u = 1/T (K⁻¹), u > 0."""
    return (ref_nm / lam_nm) ** 5 * np.expm1(_C2_NM_K * u / ref_nm) / np.expm1(
        _C2_NM_K * u / lam_nm)


# Colour-temperature table: V−I of a blackbody (on the Bessell et al. zero points) against
# u = 1/T, from T = 1e9 K (the Rayleigh–Jeans limit, V−I = −0.385) down to T = 1200 K.
_U_TABLE = np.concatenate([[1e-9], np.linspace(1e-6, 1.0 / 1200.0, 6000)])
_VI_TABLE = -2.5 * np.log10(
    _planck_ratio(np.array(V_EFF_NM), I_EFF_NM, _U_TABLE)
    / (V_ZERO_FLAM_W_M2_NM / I_ZERO_FLAM_W_M2_NM))
#: V−I range the colour term covers; bluer or redder colours are clipped to it
VI_RANGE = (float(_VI_TABLE[0]), float(_VI_TABLE[-1]))


def _colour_u(v_minus_i: Any) -> np.ndarray:
    vi = np.asarray(v_minus_i, dtype=float)
    vi = np.where(np.isfinite(vi), vi, 0.0)
    return np.interp(np.clip(vi, *VI_RANGE), _VI_TABLE, _U_TABLE)


def colour_temperature(v_minus_i: Any) -> np.ndarray:
    """Blackbody colour temperature (K) that reproduces a Cousins V−I colour.

    The blackbody's V−I is computed monochromatically at the V and I effective
    wavelengths (545 nm, 798 nm) on the Bessell, Castelli & Plez (1998) zero
    points; V−I = 0 gives 14 700 K (the slope of Vega's Paschen continuum, not
    its effective temperature).  NaN colours are taken as 0.
    """
    return 1.0 / _colour_u(v_minus_i)


def photon_flux_density(imag: Any, v_minus_i: Any = None, wavelength_nm: Any = 850.0
                        ) -> np.ndarray:
    """Spectral photon flux of a star above the atmosphere, photons s⁻¹ m⁻² nm⁻¹.

    Parameters
    ----------
    imag : float or array
        Cousins I magnitude.
    v_minus_i : float or array or None
        Cousins V−I colour; None or NaN means 0 (a Vega-like, A0 V star).
    wavelength_nm : float or array
        Wavelength(s) in nm; broadcast against the magnitudes.

    Notes
    -----
    The flux at λ_eff(I) = 798 nm follows from the I zero point
    (1.126e-9 erg s⁻¹ cm⁻² Å⁻¹, Bessell, Castelli & Plez 1998).  The transfer to
    another wavelength uses the star's V−I *colour temperature*: the blackbody
    whose V−I (on the same zero points) equals the star's, so that
    ``f_λ(λ) = f_λ(798 nm) · B_λ(λ, T_c) / B_λ(798 nm, T_c)``.  Between 545 nm
    and 1 µm the continuum of normal stars is smooth (no Balmer jump), so this
    two-point interpolation is accurate where it is used:

    * Vega-like star (V−I = 0) at 850 nm: 9.15e-10 erg s⁻¹ cm⁻² Å⁻¹ against
      9.07e-10 from the CALSPEC spectrum (+0.9 %), i.e. 3.91e7 photons s⁻¹ m⁻²
      nm⁻¹;
    * the same interpolation predicts Cousins R−I within ~0.04 mag of the
      empirical dwarf sequence for 0 ≤ V−I ≤ 2 (R is 157 nm from λ_eff(I); 850 nm
      is only 52 nm away, so the error there is ≲ 0.02 mag);
    * the colour term itself is small: m(850 nm) − I = −0.06, −0.12, −0.25 mag
      for V−I = 0.5, 1.0, 2.0 (relative to an I = 0, V−I = 0 star);
    * M stars redder than V−I ≈ 2.5 have TiO/VO bands inside the I band: expect
      errors up to ~0.05 mag.  Colours outside :data:`VI_RANGE`
      (−0.385 ... ≈ 4.6) are clipped; the band-pass shape of the I filter is
      ignored (monochromatic zero points).
    """
    imag = np.asarray(imag, dtype=float)
    u = _colour_u(0.0 if v_minus_i is None else v_minus_i)
    lam = np.asarray(wavelength_nm, dtype=float)
    ratio = _planck_ratio(lam, I_EFF_NM, u) * (lam / I_EFF_NM)  # energy → photons
    return _I_ZERO_PHOTONS * 10.0 ** (-0.4 * imag) * ratio


def star_photon_flux(imag: Any, v_minus_i: Any = None, band: Any = None) -> Any:
    """Photons s⁻¹ m⁻² a star delivers above the atmosphere in a receive band.

    Parameters
    ----------
    imag : float or array
        Cousins I magnitude.
    v_minus_i : float or array or None
        Cousins V−I colour (Hipparcos gives it); None or NaN means 0.
    band : Band, (center_nm, width_nm), mapping, or None
        Receive band; None is the default 850 nm centre, 1 nm top-hat.  See
        :meth:`Band.from_spec`.

    Returns
    -------
    float or ndarray
        photons s⁻¹ m⁻² (a float for scalar input).  An I = 0, V−I = 0 star
        gives 3.91e7 in the default band.  How the I band is transferred to the
        receive band, and how accurate that is: :func:`photon_flux_density`.
    """
    b = Band.from_spec(band)
    imag_a = np.asarray(imag, dtype=float)
    vi = np.zeros_like(imag_a) if v_minus_i is None else np.asarray(v_minus_i, dtype=float)
    imag_b, vi_b = np.broadcast_arrays(imag_a, vi)
    nodes = np.asarray(b.nodes_nm)
    dens = photon_flux_density(imag_b[..., None], vi_b[..., None], nodes)
    flux = dens @ np.asarray(b.weights_nm)
    return float(flux) if np.ndim(flux) == 0 else flux
