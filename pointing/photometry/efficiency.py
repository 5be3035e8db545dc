"""Photon budget of a star, per-star efficiency, and the night's extinction fit.

The calibration night points at stars of known Cousins I magnitude and counts
their photons with the quantum detectors.  This module turns those counts into
the station's efficiency:

* :func:`star_photon_flux` -- photons s⁻¹ m⁻² a star delivers above the
  atmosphere in the receive band (default 850 nm centre, 1 nm top-hat);
* :func:`airmass` -- Kasten & Young (1989) relative air mass;
* :func:`star_efficiency` -- detected / expected photons for each star, with
  its uncertainty (Poisson counts, background, magnitude);
* :func:`fit_extinction` -- robust fit of ln η = ln η₀ − 0.4 ln10 · k · X that
  separates the station's own efficiency above the atmosphere (η₀) from the
  extinction coefficient k (mag/airmass), rejecting cloud-dimmed stars;
* :func:`night_efficiency` -- all of the above on a night's observation table
  (:mod:`pointing.photometry.table`);
* :func:`camera_aperture_photometry` and :func:`camera_efficiency` -- the same
  from the tracking camera (photutils aperture photometry), in camera units, as
  a relative transparency measure when detector counts are not available.

Angles are radians in every function argument (elevation is the apparent,
refracted elevation); azimuth is reckoned from north (0) through east (π/2).
Tables and JSON use degrees, in columns and keys ending in ``_deg``.

The station file's ``photometry`` and ``detectors`` sections are read and
validated here (:class:`PhotometryConfig`, :class:`DetectorConfig`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pointing.config.schema import (
    check_keys,
    get_number,
    get_numbers,
    get_section,
    get_subsection,
)
from pointing.errors import ConfigError, FitError, PointingError

__all__ = [
    "DEFAULT_BAND",
    "Band",
    "CameraPhotometry",
    "DetectorConfig",
    "EfficiencyResult",
    "PhotometryConfig",
    "StarEfficiency",
    "airmass",
    "camera_aperture_photometry",
    "camera_efficiency",
    "collecting_area",
    "colour_temperature",
    "design_efficiency",
    "expected_star_counts",
    "fit_extinction",
    "night_efficiency",
    "photon_flux_density",
    "star_efficiency",
    "star_photon_flux",
]

# --- physical constants (SI, exact since 2019) and photometric zero points -----------------

_H = 6.62607015e-34  # J s
_C = 2.99792458e8  # m s⁻¹
_KB = 1.380649e-23  # J K⁻¹
_C2_NM_K = _H * _C / _KB * 1e9  # second radiation constant hc/k in nm K (1.4388e7)
_LN10_04 = 0.4 * math.log(10.0)  # d ln(flux) / d mag

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


# --- geometry and the atmosphere -------------------------------------------------------------


def airmass(el: Any) -> Any:
    """Relative optical air mass of Kasten & Young (1989).

    ``X = 1 / [sin h + 0.50572 (h + 6.07995°)^−1.6364]`` with h the apparent
    (refracted) elevation; *el* is in radians.  X(90°) = 0.9997, X(30°) = 1.994,
    X(0°) = 37.92; elevations at or below −6.07995° give NaN.
    """
    el = np.asarray(el, dtype=float)
    h = np.degrees(el)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = 1.0 / (np.sin(el) + 0.50572 * np.where(h > -6.07995, h + 6.07995, np.nan)
                   ** -1.6364)
    return float(x) if x.ndim == 0 else x


def collecting_area(aperture_m: float, obstruction_m: float = 0.0) -> float:
    """Clear collecting area (m²) of an aperture with a central obstruction (diameters, m)."""
    if not (aperture_m > 0 and math.isfinite(aperture_m)):
        raise ConfigError(f"telescope.aperture_m must be > 0, got {aperture_m!r}")
    if not (0 <= obstruction_m < aperture_m):
        raise ConfigError(f"telescope.obstruction_m must be >= 0 and smaller than the "
                          f"aperture ({aperture_m} m), got {obstruction_m!r}")
    return math.pi / 4.0 * (aperture_m**2 - obstruction_m**2)


def design_efficiency(chain: Mapping[str, float]) -> float:
    """Product of the efficiency-chain entries (telescope, optics, filter, …)."""
    return float(np.prod([float(v) for v in chain.values()])) if chain else 1.0


# --- station configuration -------------------------------------------------------------------

#: efficiency chain of the design (photometry.efficiency.*): telescope > 90 % at 850 nm,
#: interference filter > 92 %, coupling optics and fibre, SPAD detection efficiency.
#: telescope→fibre 0.62 (> 60 % measured in the lab), whole chain 0.40 (design ~40 %).
DEFAULT_EFFICIENCY_CHAIN = {
    "telescope": 0.90,
    "optics": 0.85,
    "filter": 0.92,
    "coupling": 0.88,
    "detector": 0.65,
}
_PHOTOMETRY_KEYS = (
    "band_center_nm", "band_width_nm", "band_curve_nm", "band_curve_transmission",
    "efficiency", "magnitude_sigma", "unknown_colour_sigma", "field_of_view_urad",
    "camera_band_center_nm", "camera_band_width_nm", "clip_sigma", "min_stars",
    "min_airmass_span",
)
_DETECTOR_KEYS = ("channels", "dark_cps", "dead_time_ns")


def _station_telescope(station: Any) -> tuple[float, float]:
    tel = getattr(station, "telescope", None)
    if tel is None:
        return 0.28, 0.095  # the reference 280 mm Schmidt–Cassegrain
    return float(tel.aperture_m), float(getattr(tel, "obstruction_m", 0.0) or 0.0)


@dataclass(frozen=True)
class PhotometryConfig:
    """The station's ``photometry`` section plus its telescope aperture.

    Keys (all optional; defaults in brackets): ``band_center_nm`` [850],
    ``band_width_nm`` [1], or ``band_curve_nm`` + ``band_curve_transmission``;
    ``efficiency.{telescope,optics,filter,coupling,detector}`` [0.90, 0.85, 0.92,
    0.88, 0.65 → 0.40]; ``magnitude_sigma`` [0.03 mag, catalogue I];
    ``unknown_colour_sigma`` [0.10 mag, added when V−I is unknown];
    ``field_of_view_urad`` [100, full angle of the receiving fibre];
    ``camera_band_center_nm`` [station camera wavelength, else 650] and
    ``camera_band_width_nm`` [200]; fit settings ``clip_sigma`` [4],
    ``min_stars`` [3], ``min_airmass_span`` [0.3].
    """

    band: Band = DEFAULT_BAND
    efficiency_chain: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_EFFICIENCY_CHAIN))
    magnitude_sigma: float = 0.03
    unknown_colour_sigma: float = 0.10
    field_of_view_urad: float = 100.0
    camera_band: Band = DEFAULT_CAMERA_BAND
    clip_sigma: float = 4.0
    min_stars: int = 3
    min_airmass_span: float = 0.3
    aperture_m: float = 0.28
    obstruction_m: float = 0.095

    @property
    def area_m2(self) -> float:
        """Clear collecting area (m²)."""
        return collecting_area(self.aperture_m, self.obstruction_m)

    @property
    def design_efficiency(self) -> float:
        """Product of the efficiency chain (telescope entrance to detected photon)."""
        return design_efficiency(self.efficiency_chain)

    @property
    def field_of_view_arcsec2(self) -> float:
        """Solid angle of the receiving field (circular, full angle), arcsec²."""
        radius = 0.5 * self.field_of_view_urad * 1e-6 * 648000.0 / math.pi
        return math.pi * radius**2

    @classmethod
    def from_station(cls, station: Any = None) -> PhotometryConfig:
        """Validate ``station.section("photometry")`` (ConfigError names the key).

        *station* is a :class:`pointing.station.Station`, a mapping of sections,
        or None for the defaults.
        """
        sec = get_section(station, "photometry")
        n = "photometry"
        check_keys(sec, n, _PHOTOMETRY_KEYS)
        if "band_curve_nm" in sec or "band_curve_transmission" in sec:
            lam = get_numbers(sec, n, "band_curve_nm", None, minimum=200, maximum=3000,
                              min_length=2)
            tr = get_numbers(sec, n, "band_curve_transmission", None, minimum=0,
                             min_length=2)
            if lam is None or tr is None or len(lam) != len(tr):
                raise ConfigError("photometry.band_curve_transmission: needs "
                                  "photometry.band_curve_nm of the same length")
            try:
                band = Band.curve(lam, tr)
            except ConfigError as exc:
                raise ConfigError(f"photometry.band_curve_nm: {exc}") from None
        else:
            c = get_number(sec, n, "band_center_nm", 850.0, minimum=200, maximum=3000)
            w = get_number(sec, n, "band_width_nm", 1.0, minimum=0, maximum=1000,
                           exclusive_min=True)
            band = Band.top_hat(c, w)
        eff_sec = get_subsection(sec, n, "efficiency")
        check_keys(eff_sec, f"{n}.efficiency", DEFAULT_EFFICIENCY_CHAIN)
        chain = {k: get_number(eff_sec, f"{n}.efficiency", k, v, minimum=0, maximum=1,
                               exclusive_min=True)
                 for k, v in DEFAULT_EFFICIENCY_CHAIN.items()}
        wl = getattr(station, "wavelengths", None)
        cam_default = 650.0
        if wl is not None and getattr(wl, "camera_um", None):
            cam_default = 1000.0 * float(wl.camera_um)
        cam_c = get_number(sec, n, "camera_band_center_nm", cam_default, minimum=200,
                           maximum=3000)
        cam_w = get_number(sec, n, "camera_band_width_nm", 200.0, minimum=0,
                           maximum=1000, exclusive_min=True)
        if cam_w >= cam_c:
            raise ConfigError("photometry.camera_band_width_nm: must be smaller than "
                              "photometry.camera_band_center_nm")
        aperture, obstruction = _station_telescope(station)
        try:
            collecting_area(aperture, obstruction)
        except ConfigError as exc:
            raise ConfigError(f"telescope: {exc}") from None
        min_stars = get_number(sec, n, "min_stars", 3, minimum=3, maximum=1000)
        if min_stars != int(min_stars):
            raise ConfigError(f"photometry.min_stars: must be an integer, got {min_stars}")
        return cls(
            band=band,
            efficiency_chain=chain,
            magnitude_sigma=get_number(sec, n, "magnitude_sigma", 0.03, minimum=0,
                                       maximum=1),
            unknown_colour_sigma=get_number(sec, n, "unknown_colour_sigma", 0.10,
                                            minimum=0, maximum=1),
            field_of_view_urad=get_number(sec, n, "field_of_view_urad", 100.0, minimum=0,
                                          maximum=1e5, exclusive_min=True),
            camera_band=Band.top_hat(cam_c, cam_w),
            clip_sigma=get_number(sec, n, "clip_sigma", 4.0, minimum=2, maximum=100),
            min_stars=int(min_stars),
            min_airmass_span=get_number(sec, n, "min_airmass_span", 0.3, minimum=0,
                                        maximum=30, exclusive_min=True),
            aperture_m=aperture,
            obstruction_m=obstruction,
        )


@dataclass(frozen=True)
class DetectorConfig:
    """The station's ``detectors`` section.

    Keys: ``channels`` [4 quantum channels], ``dark_cps`` [10 counts/s per
    channel, so that a rural site stays below 100 counts/s in total; one number
    or one per channel], ``dead_time_ns`` [0 = no
    correction; non-paralysable dead time of each SPAD].
    """

    channels: int = 4
    dark_cps: tuple[float, ...] = (10.0, 10.0, 10.0, 10.0)
    dead_time_s: float = 0.0

    @property
    def total_dark_cps(self) -> float:
        """Dark count rate summed over the channels (counts/s)."""
        return float(sum(self.dark_cps))

    @classmethod
    def from_station(cls, station: Any = None) -> DetectorConfig:
        """Validate ``station.section("detectors")`` (ConfigError names the key)."""
        sec = get_section(station, "detectors")
        n = "detectors"
        check_keys(sec, n, _DETECTOR_KEYS)
        channels = get_number(sec, n, "channels", 4, minimum=1, maximum=64)
        if channels != int(channels):
            raise ConfigError(f"detectors.channels: must be an integer, got {channels}")
        channels = int(channels)
        dark = get_numbers(sec, n, "dark_cps", (10.0,), minimum=0, maximum=1e7)
        if len(dark) == 1:
            dark = dark * channels
        elif len(dark) != channels:
            raise ConfigError(f"detectors.dark_cps: {len(dark)} values for "
                              f"{channels} channels (give one number or one per channel)")
        dead = get_number(sec, n, "dead_time_ns", 0.0, minimum=0, maximum=1e6)
        return cls(channels=channels, dark_cps=tuple(dark), dead_time_s=dead * 1e-9)


def dead_time_factor(counts: Any, count_time_s: Any, channels: int, dead_time_s: float
                     ) -> np.ndarray:
    """Factor that corrects total counts for non-paralysable dead time.

    The counts are assumed shared evenly between *channels* detectors; each
    detector's true rate is r / (1 − r τ).  NaN where a detector saturates
    (r τ ≥ 0.9).
    """
    counts = np.asarray(counts, dtype=float)
    if dead_time_s <= 0:
        return np.ones_like(counts)
    rate = counts / (np.asarray(count_time_s, dtype=float) * channels)
    loss = rate * dead_time_s
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(loss < 0.9, 1.0 / (1.0 - loss), np.nan)


# --- per-star efficiency ---------------------------------------------------------------------


@dataclass(frozen=True)
class StarEfficiency:
    """Per-star efficiency arrays (see :func:`star_efficiency`)."""

    eta: np.ndarray  #: detected / expected photons (includes the atmosphere)
    eta_sigma: np.ndarray  #: 1-σ uncertainty of eta
    expected_photons: np.ndarray  #: photons at the telescope entrance above the atmosphere
    net_counts: np.ndarray  #: star counts − background (dead-time corrected)
    net_sigma: np.ndarray  #: Poisson uncertainty of net_counts
    mag_sigma: np.ndarray  #: magnitude uncertainty used for each star


def expected_star_counts(imag: Any, v_minus_i: Any, el: Any, count_time_s: Any, *,
                         eta0: float, k_mag_per_airmass: float, area_m2: float,
                         band: Any = None) -> np.ndarray:
    """Mean detected counts of a star: flux · area · time · η₀ · 10^(−0.4 k X(el)).

    The forward model the efficiency fit inverts (and that a simulator draws
    Poisson counts from).  *el* is the apparent elevation in radians.
    """
    flux = np.asarray(star_photon_flux(imag, v_minus_i, band))
    x = np.asarray(airmass(el))
    return (flux * area_m2 * np.asarray(count_time_s, dtype=float) * eta0
            * 10.0 ** (-0.4 * k_mag_per_airmass * x))


def star_efficiency(counts_star: Any, counts_off: Any, count_time_s: Any, imag: Any,
                    v_minus_i: Any = None, *, area_m2: float, band: Any = None,
                    magnitude_sigma: float = 0.03, unknown_colour_sigma: float = 0.10,
                    dark_cps: Any = None, channels: int = 4, dead_time_s: float = 0.0
                    ) -> StarEfficiency:
    """Efficiency of each star measurement: η = net counts / expected photons.

    Parameters
    ----------
    counts_star : array
        Total counts over the quantum channels with the star on the fibre.
    counts_off : array
        Total counts with the telescope offset beside the star (sky + dark),
        in the same count time.  NaN: no off-star measurement; then only
        ``dark_cps · count_time_s`` is subtracted (the sky is not).
    count_time_s : array
        Counting time (s) of each of the two measurements.
    imag, v_minus_i : array
        Cousins I magnitude and V−I colour (NaN or None: unknown colour, taken
        as 0 with *unknown_colour_sigma* added to the magnitude uncertainty).
    area_m2 : float
        Clear collecting area (m²).
    band : Band or spec
        Receive band (:meth:`Band.from_spec`).
    magnitude_sigma : float
        Uncertainty of the catalogue I magnitude (mag).
    dark_cps : array, optional
        Total dark rate (counts/s), used only where counts_off is NaN.
    channels, dead_time_s :
        Detector count and non-paralysable dead time (s) for the dead-time
        correction (0: none).

    Returns
    -------
    StarEfficiency
        η has the atmosphere in it (η = η₀ · 10^(−0.4 k X)).  Its uncertainty
        combines the Poisson noise of both counts and the magnitude
        uncertainty: σ_η/η = √(σ_N²/N² + (0.4 ln10 σ_m)²).
    """
    cs = np.asarray(counts_star, dtype=float)
    co = np.asarray(counts_off, dtype=float)
    t = np.asarray(count_time_s, dtype=float)
    imag = np.asarray(imag, dtype=float)
    vi = (np.full(imag.shape, np.nan) if v_minus_i is None
          else np.asarray(v_minus_i, dtype=float))
    cs, co, t, imag, vi = np.broadcast_arrays(cs, co, t, imag, vi)
    fs = dead_time_factor(cs, t, channels, dead_time_s)
    fo = dead_time_factor(np.where(np.isfinite(co), co, 0.0), t, channels, dead_time_s)
    dark = (np.zeros(cs.shape) if dark_cps is None
            else np.broadcast_to(np.asarray(dark_cps, dtype=float), cs.shape))
    have_off = np.isfinite(co)
    background = np.where(have_off, co * fo, dark * t)
    net = cs * fs - background
    var = cs * fs**2 + np.where(have_off, co * fo**2, 0.0)
    expected = np.asarray(star_photon_flux(imag, vi, band)) * area_m2 * t
    mag_sigma = np.hypot(magnitude_sigma,
                         np.where(np.isfinite(vi), 0.0, unknown_colour_sigma))
    with np.errstate(invalid="ignore", divide="ignore"):
        eta = net / expected
        rel = np.sqrt(var / net**2 + (_LN10_04 * mag_sigma) ** 2)
    return StarEfficiency(eta=eta, eta_sigma=np.abs(eta) * rel, expected_photons=expected,
                          net_counts=net, net_sigma=np.sqrt(var), mag_sigma=mag_sigma)


# --- the night's extinction fit --------------------------------------------------------------


@dataclass
class EfficiencyResult:
    """Station efficiency above the atmosphere and extinction from one night.

    ``eta0`` is dimensionless (detected counts per photon at the telescope
    entrance) for the detectors, or ADU per photon for the camera variant
    (``source == "camera"``).  ``k_mag_per_airmass`` is the extinction
    coefficient in the receive band.  ``per_star`` has one dict per star
    measurement; ``rejected`` lists the ones left out and why.
    """

    eta0: float
    eta0_sigma: float
    k_mag_per_airmass: float
    k_sigma: float
    k_fitted: bool
    n_used: int
    chi2_reduced: float
    scatter_mag: float
    expected_scatter_mag: float
    photometric: bool
    photometric_reason: str
    airmass_range: tuple[float, float]
    per_star: list[dict]
    rejected: list[dict]
    flags: list[str] = field(default_factory=list)
    source: str = "detectors"
    units: str = "counts per photon"
    band: str = ""
    design_efficiency: float | None = None
    covariance: np.ndarray | None = None

    def total_efficiency(self, el: Any) -> Any:
        """η₀ · 10^(−0.4 k X(el)): efficiency including the atmosphere at
        apparent elevation *el* (radians)."""
        out = self.eta0 * 10.0 ** (-0.4 * self.k_mag_per_airmass * np.asarray(airmass(el)))
        return float(out) if np.ndim(out) == 0 else out

    def to_dict(self) -> dict:
        """JSON-ready summary (the night's ``summary.json["efficiency"]``)."""
        return {
            "source": self.source,
            "units": self.units,
            "band": self.band,
            "eta0": self.eta0,
            "eta0_sigma": self.eta0_sigma,
            "k_mag_per_airmass": self.k_mag_per_airmass,
            "k_sigma": self.k_sigma,
            "k_fitted": self.k_fitted,
            "design_efficiency": self.design_efficiency,
            "n_used": self.n_used,
            "chi2_reduced": self.chi2_reduced,
            "scatter_mag": self.scatter_mag,
            "expected_scatter_mag": self.expected_scatter_mag,
            "photometric": self.photometric,
            "photometric_reason": self.photometric_reason,
            "airmass_range": list(self.airmass_range),
            "flags": list(self.flags),
            "per_star": [_jsonable(r) for r in self.per_star],
            "rejected": [_jsonable(r) for r in self.rejected],
        }


def _jsonable(row: Mapping) -> dict:
    out = {}
    for key, value in row.items():
        if isinstance(value, (np.floating, float)):
            value = float(value)
            out[key] = value if math.isfinite(value) else None
        elif isinstance(value, np.integer):
            out[key] = int(value)
        elif isinstance(value, np.bool_):
            out[key] = bool(value)
        else:
            out[key] = value
    return out


def _weighted_line(x: np.ndarray, y: np.ndarray, sigma: np.ndarray, k_slope: float | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares y = a + b x (b fixed when k_slope given); (params, cov)."""
    w = 1.0 / sigma**2
    if k_slope is not None:
        a = np.sum(w * (y - k_slope * x)) / np.sum(w)
        return np.array([a, k_slope]), np.array([[1.0 / np.sum(w), 0.0], [0.0, 0.0]])
    design = np.column_stack([np.ones_like(x), x])
    normal = design.T @ (design * w[:, None])
    cov = np.linalg.inv(normal)
    return cov @ (design.T @ (w * y)), cov


def fit_extinction(x_airmass: Any, eta: Any, eta_sigma: Any, *, clip_sigma: float = 4.0,
                   min_points: int = 3, min_airmass_span: float = 0.3,
                   k_fixed: float | None = None, labels: Sequence[dict] | None = None,
                   excluded: Mapping[int, str] | None = None) -> EfficiencyResult:
    """Robust fit of ln η = ln η₀ − 0.4 ln10 · k · X over one night.

    Parameters
    ----------
    x_airmass : array
        Air mass of each star measurement (:func:`airmass`).
    eta, eta_sigma : array
        Per-star efficiency and its 1-σ uncertainty (:func:`star_efficiency`).
        Stars with η ≤ 0 or non-finite values are rejected with a reason.
    clip_sigma : float
        Stars further than ``clip_sigma`` × max(1, robust scatter) standard
        errors from the fit are rejected (iterated to convergence; a rejected
        star comes back if a later fit explains it).  Cloud-dimmed stars fall
        below the line; the reason says by how many magnitudes.
    min_points : int
        Fewest usable stars; fewer raise :class:`FitError` listing the reasons.
    min_airmass_span : float
        Smallest airmass range that separates η₀ from k; a narrower night
        raises :class:`FitError` unless *k_fixed* is given (then η₀ is fitted
        with k held, and the result is flagged).
    k_fixed : float, optional
        Hold k (mag/airmass) at this value.
    labels : sequence of dict, optional
        One dict per star (e.g. hip, time) copied into ``per_star`` and
        ``rejected``.
    excluded : mapping of index to reason, optional
        Stars to leave out from the start, with the reason to report.

    Returns
    -------
    EfficiencyResult
        Uncertainties are from the weighted fit, scaled by √χ²_red when the
        scatter exceeds the errors (Birge ratio).  ``photometric`` is False when
        the kept stars scatter more than their errors explain (χ² test,
        p < 0.001) or more than 10 % of the stars were rejected.
    """
    from scipy import stats

    xa = np.asarray(x_airmass, dtype=float)
    eta = np.asarray(eta, dtype=float)
    sig = np.asarray(eta_sigma, dtype=float)
    n = xa.size
    if not (xa.shape == eta.shape == sig.shape) or xa.ndim != 1:
        raise ValueError("x_airmass, eta and eta_sigma must be 1-D arrays of one length")
    labels = list(labels) if labels is not None else [{} for _ in range(n)]
    if len(labels) != n:
        raise ValueError("labels must have one entry per star")

    reasons: list[str | None] = [None] * n
    excluded = dict(excluded or {})
    for i in range(n):
        if i in excluded:
            reasons[i] = excluded[i]
        elif not np.isfinite(xa[i]):
            reasons[i] = "no airmass (elevation below the horizon?)"
        elif not np.isfinite(eta[i]):
            reasons[i] = "no efficiency (missing counts or magnitude)"
        elif eta[i] <= 0:
            reasons[i] = "no net signal (star counts <= background)"
        elif not (np.isfinite(sig[i]) and sig[i] > 0):
            reasons[i] = "no uncertainty"
    valid = np.array([r is None for r in reasons])
    n_valid = int(valid.sum())
    if n_valid < min_points:
        why = "; ".join(f"{_label_text(labels[i])}: {reasons[i]}" for i in range(n)
                        if reasons[i]) or "none measured"
        raise FitError(f"only {n_valid} usable star measurement(s), need at least "
                       f"{min_points} (rejected: {why})")

    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.log(eta)
        s = sig / eta
    flags: list[str] = []
    span = float(np.ptp(xa[valid]))
    k_slope = None
    if k_fixed is not None:
        k_slope = -_LN10_04 * float(k_fixed)
        flags.append(f"k held at {float(k_fixed):.3f} mag/airmass")
    elif span < min_airmass_span:
        raise FitError(f"all usable stars are at nearly one airmass (range "
                       f"{xa[valid].min():.2f}..{xa[valid].max():.2f}, span {span:.2f} < "
                       f"{min_airmass_span}): cannot separate eta0 from k; observe stars "
                       "at low elevation too, or hold k fixed")

    # start from a robust (soft-L1) fit so that cloud-dimmed stars do not pull it
    params = _robust_start(xa[valid], y[valid], s[valid], k_slope)
    keep = valid.copy()
    for _ in range(20):
        z = np.where(valid, (y - params[0] - params[1] * xa) / s, np.nan)
        scale = max(1.0, 1.4826 * float(np.nanmedian(np.abs(z[keep]))))
        new_keep = valid & (np.abs(z) <= clip_sigma * scale)
        if new_keep.sum() < min_points:
            new_keep = keep
        params, cov = _weighted_line(xa[new_keep], y[new_keep], s[new_keep], k_slope)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    n_used = int(keep.sum())
    n_par = 1 if k_slope is not None else 2
    if n_used < min_points:
        raise FitError(f"only {n_used} star measurement(s) left after rejecting outliers")
    if k_slope is None and float(np.ptp(xa[keep])) < min_airmass_span:
        raise FitError(f"stars kept after rejecting outliers span only "
                       f"{float(np.ptp(xa[keep])):.2f} in airmass: cannot separate eta0 "
                       "from k")
    resid = y - params[0] - params[1] * xa
    dof = n_used - n_par
    chi2 = float(np.sum((resid[keep] / s[keep]) ** 2))
    chi2_red = chi2 / dof if dof > 0 else float("nan")
    birge = math.sqrt(max(1.0, chi2_red)) if dof > 0 else 1.0
    cov = cov * birge**2
    a, b = params
    eta0 = math.exp(a)
    k = -b / _LN10_04
    eta0_sigma = eta0 * math.sqrt(cov[0, 0])
    k_sigma = math.sqrt(cov[1, 1]) / _LN10_04

    for i in range(n):
        if valid[i] and not keep[i]:
            dm = -resid[i] / _LN10_04  # > 0: fainter than the fit
            what = ("dimmed (cloud or haze?)" if dm > 0
                    else "brighter than expected (wrong star or stray light?)")
            reasons[i] = (f"{what}: {abs(dm):.2f} mag from the fit, "
                          f"{abs(resid[i] / s[i]):.1f} sigma")
    to_mag = 1.0 / _LN10_04
    scatter = float(np.sqrt(np.mean(resid[keep] ** 2))) * to_mag
    expected = float(np.sqrt(np.mean(s[keep] ** 2))) * to_mag
    frac_rejected = 1.0 - n_used / max(n_valid, 1)
    photometric = True
    why = (f"scatter {scatter:.3f} mag rms, {expected:.3f} mag expected from counts and "
           f"magnitudes (chi2/dof {chi2_red:.2f})")
    if dof > 0 and stats.chi2.sf(chi2, dof) < 1e-3:
        photometric = False
        why = "not photometric: " + why
    if frac_rejected > 0.10:
        photometric = False
        why = (f"not photometric: {n_valid - n_used} of {n_valid} stars rejected; " + why)
    if dof <= 0:
        flags.append("no degrees of freedom left to judge the scatter")
    if k_slope is None and k < 0:
        flags.append(f"negative extinction k = {k:.3f} mag/airmass: check the data")

    per_star = []
    rejected = []
    for i in range(n):
        row = dict(labels[i])
        row.update(airmass=float(xa[i]), eta=float(eta[i]), eta_sigma=float(sig[i]),
                   residual_mag=float(-resid[i] * to_mag) if valid[i] else float("nan"),
                   used=bool(keep[i]), reason=reasons[i] or "")
        per_star.append(row)
        if not keep[i]:
            rejected.append({**labels[i], "reason": reasons[i]})
    return EfficiencyResult(
        eta0=eta0, eta0_sigma=eta0_sigma, k_mag_per_airmass=k, k_sigma=k_sigma,
        k_fitted=k_slope is None, n_used=n_used, chi2_reduced=chi2_red,
        scatter_mag=scatter, expected_scatter_mag=expected, photometric=photometric,
        photometric_reason=why,
        airmass_range=(float(xa[keep].min()), float(xa[keep].max())),
        per_star=per_star, rejected=rejected, flags=flags, covariance=cov)


def _label_text(label: Mapping) -> str:
    if "hip" in label and "time" in label:
        return f"HIP {label['hip']} at {label['time']}"
    if label:
        return ", ".join(f"{k}={v}" for k, v in label.items())
    return "star"


def _robust_start(x: np.ndarray, y: np.ndarray, s: np.ndarray, k_slope: float | None
                  ) -> np.ndarray:
    from scipy.optimize import least_squares

    p0, _ = _weighted_line(x, y, s, k_slope)
    # residual scale: at least the errors, at least 0.02 in ln (2 %), so that a fit whose
    # stars all sit many sigma off (tiny Poisson errors) is still robust
    f_scale = 1.0
    s_eff = np.maximum(s, 0.02)
    if k_slope is not None:
        res = least_squares(lambda p: (y - p[0] - k_slope * x) / s_eff, p0[:1],
                            loss="soft_l1", f_scale=f_scale)
        return np.array([res.x[0], k_slope])
    res = least_squares(lambda p: (y - p[0] - p[1] * x) / s_eff, p0, loss="soft_l1",
                        f_scale=f_scale)
    return res.x


# --- on a night's observation table ----------------------------------------------------------

_SKIP_FLAGS = {"bad", "lost", "no_star", "saturated", "cloud", "skip"}


def _flag_tokens(text: Any) -> set[str]:
    return {t.strip().lower() for t in str(text or "").replace(";", ",").replace(" ", ",")
            .split(",") if t.strip()}


def _flagged(table: Any, rows: Iterable[int]) -> dict[int, str]:
    """Rows whose flags exclude them, as {position in rows: reason}."""
    out = {}
    for j, i in enumerate(rows):
        bad = _flag_tokens(table["flags"][i]) & _SKIP_FLAGS
        if bad:
            out[j] = f"flagged: {', '.join(sorted(bad))}"
    return out


def _star_rows(table: Any) -> np.ndarray:
    kind = np.asarray(table["kind"]).astype(str)
    hip = np.asarray(table["hip"], dtype=int)
    return np.flatnonzero(np.isin(kind, ("model", "verify")) & (hip >= 0))


def _labels(table: Any, rows: Iterable[int]) -> list[dict]:
    out = []
    for i in rows:
        el = float(table["el_deg"][i])
        out.append({"hip": int(table["hip"][i]), "time": str(table["time"][i]),
                    "kind": str(table["kind"][i]), "az_deg": float(table["az_deg"][i]),
                    "el_deg": el, "imag": float(table["imag"][i]),
                    "v_minus_i": float(table["v_minus_i"][i])})
    return out


def night_efficiency(table: Any, station: Any = None, *,
                     photometry: PhotometryConfig | None = None,
                     detectors: DetectorConfig | None = None,
                     k_fixed: float | None = None) -> EfficiencyResult:
    """Station efficiency η₀ and extinction k from a night's observation table.

    Parameters
    ----------
    table : astropy.table.Table
        Observation table (:func:`pointing.photometry.table.read_observation_table`
        or ``make_observation_table``); rows of kind "model" or "verify" with
        ``hip >= 0`` are stars.  Rows whose ``flags`` contain one of
        ``bad, lost, no_star, saturated, cloud, skip`` are rejected with that reason.
    station : Station, mapping of sections, or None
        Supplies the ``photometry`` and ``detectors`` sections and the aperture
        (defaults when None).
    photometry, detectors : optional
        Already-validated configurations (override *station*).
    k_fixed : float, optional
        Hold the extinction at this value (mag/airmass), e.g. for a night whose
        stars are all at one airmass.

    Returns
    -------
    EfficiencyResult
        with ``per_star`` rows carrying hip, time, az_deg, el_deg, imag,
        v_minus_i, airmass, expected_photons, net_counts, eta, eta_sigma,
        residual_mag, used, reason.

    Raises
    ------
    FitError
        Too few usable stars, or stars at one airmass (message says which and why).
    """
    from pointing.photometry.table import validate_observation_table

    table = validate_observation_table(table)
    pcfg = photometry or PhotometryConfig.from_station(station)
    dcfg = detectors or DetectorConfig.from_station(station)
    rows = _star_rows(table)
    if rows.size == 0:
        raise FitError("no star measurements in the observation table (rows of kind "
                       "'model' or 'verify' with hip >= 0)")
    dark = np.asarray(table["dark_cps"], dtype=float)[rows]
    dark = np.where(np.isfinite(dark), dark, dcfg.total_dark_cps)
    se = star_efficiency(
        np.asarray(table["counts_star"], dtype=float)[rows],
        np.asarray(table["counts_off"], dtype=float)[rows],
        np.asarray(table["count_time_s"], dtype=float)[rows],
        np.asarray(table["imag"], dtype=float)[rows],
        np.asarray(table["v_minus_i"], dtype=float)[rows],
        area_m2=pcfg.area_m2, band=pcfg.band, magnitude_sigma=pcfg.magnitude_sigma,
        unknown_colour_sigma=pcfg.unknown_colour_sigma, dark_cps=dark,
        channels=dcfg.channels, dead_time_s=dcfg.dead_time_s)
    el = np.radians(np.asarray(table["el_deg"], dtype=float)[rows])
    x = np.asarray(airmass(el), dtype=float)
    labels = _labels(table, rows)
    result = fit_extinction(x, se.eta, se.eta_sigma, clip_sigma=pcfg.clip_sigma,
                            min_points=pcfg.min_stars,
                            min_airmass_span=pcfg.min_airmass_span, k_fixed=k_fixed,
                            labels=labels, excluded=_flagged(table, rows))
    result.rejected = [{k: r[k] for k in ("hip", "time", "kind", "el_deg")}
                       | {"reason": r["reason"]} for r in result.per_star if not r["used"]]
    for j, row in enumerate(result.per_star):
        row["expected_photons"] = float(se.expected_photons[j])
        row["net_counts"] = float(se.net_counts[j])
        if not np.isfinite(np.asarray(table["counts_off"], dtype=float)[rows[j]]):
            row["reason"] = (row["reason"] + "; " if row["reason"] else "") + \
                "no off-star counts: only the dark rate subtracted"
    if np.any(~np.isfinite(np.asarray(table["counts_off"], dtype=float)[rows])):
        result.flags.append("some stars lack off-star counts: sky not subtracted for them")
    result.band = pcfg.band.description
    result.design_efficiency = pcfg.design_efficiency
    return result


# --- tracking-camera variant -----------------------------------------------------------------


@dataclass(frozen=True)
class CameraPhotometry:
    """Aperture photometry of one star in a camera frame (all in ADU)."""

    flux_adu: float  #: background-subtracted sum inside the aperture
    flux_err_adu: float  #: 1-σ uncertainty of flux_adu
    sky_adu_per_px: float  #: sigma-clipped median of the annulus, per pixel
    sky_sigma_adu: float  #: per-pixel scatter in the annulus
    n_pixels: float  #: pixels in the aperture (fractional at the edge)
    snr: float  #: flux_adu / flux_err_adu


def camera_aperture_photometry(frame: Any, x: float, y: float, *, radius_px: float = 6.0,
                               annulus_px: tuple[float, float] = (10.0, 16.0),
                               gain_e_per_adu: float | None = None) -> CameraPhotometry:
    """Aperture photometry (photutils) of a star at a known pixel position.

    Parameters
    ----------
    frame : 2-D array
        Camera frame in ADU (bias-subtracted or not: the annulus median removes
        any constant level).
    x, y : float
        Star position in pixels (0-based, x along columns), e.g. the
        calibration pixel or a measured centroid.
    radius_px : float
        Aperture radius (pixels).
    annulus_px : (float, float)
        Inner and outer radius of the sky annulus (pixels).
    gain_e_per_adu : float, optional
        Camera gain; with it the star's own Poisson noise enters the error.

    Returns
    -------
    CameraPhotometry
        The night records ``flux_adu``, ``flux_err_adu`` and ``sky_adu_per_px``
        as ``camera_flux_adu``, ``camera_flux_err_adu``, ``camera_sky_adu_per_px``.

    Raises
    ------
    PointingError
        The aperture and annulus do not fit inside the frame.
    """
    from photutils.aperture import (
        ApertureStats,
        CircularAnnulus,
        CircularAperture,
        aperture_photometry,
    )

    data = np.asarray(frame, dtype=float)
    if data.ndim != 2:
        raise PointingError(f"camera frame must be 2-D, got shape {data.shape}")
    r_in, r_out = annulus_px
    if not (0 < radius_px <= r_in < r_out):
        raise PointingError("need 0 < radius_px <= annulus inner < annulus outer radius")
    ny, nx = data.shape
    if not (r_out <= x <= nx - 1 - r_out and r_out <= y <= ny - 1 - r_out):
        raise PointingError(f"star at ({x:.1f}, {y:.1f}) px is too close to the edge of the "
                            f"{nx}x{ny} frame for an annulus of radius {r_out:g} px")
    aperture = CircularAperture((x, y), r=radius_px)
    annulus = CircularAnnulus((x, y), r_in=r_in, r_out=r_out)
    sky_stats = ApertureStats(data, annulus)  # sigma-clipped statistics by default
    sky = float(sky_stats.median)
    sky_sigma = float(sky_stats.std)
    n_sky = float(sky_stats.sum_aper_area.value)
    phot = aperture_photometry(data, aperture)
    n_pix = float(aperture.area)
    flux = float(phot["aperture_sum"][0]) - sky * n_pix
    var = n_pix * sky_sigma**2 + (n_pix * sky_sigma) ** 2 / max(n_sky, 1.0)
    if gain_e_per_adu:
        var += max(flux, 0.0) / gain_e_per_adu
    err = math.sqrt(var) if var > 0 else float("nan")
    return CameraPhotometry(flux_adu=flux, flux_err_adu=err, sky_adu_per_px=sky,
                            sky_sigma_adu=sky_sigma, n_pixels=n_pix,
                            snr=flux / err if err > 0 else float("nan"))


def camera_efficiency(table: Any, station: Any = None, *,
                      photometry: PhotometryConfig | None = None,
                      k_fixed: float | None = None) -> EfficiencyResult:
    """Relative transparency from the tracking camera's aperture photometry.

    Same fit as :func:`night_efficiency`, with the camera's flux
    (``camera_flux_adu`` ± ``camera_flux_err_adu`` in ``camera_exposure_s``)
    against the star's photons in the camera band
    (``photometry.camera_band_center_nm``/``camera_band_width_nm``).  η₀ is in ADU
    per photon at the telescope entrance (camera units: gain and quantum
    efficiency unknown), k is the extinction in the camera band, and each
    ``per_star`` row gains ``transparency`` = η / η₀ (the fraction of light the
    atmosphere let through, 1 above it) and ``cloud_transparency`` = η / fit.
    """
    from pointing.photometry.table import validate_observation_table

    table = validate_observation_table(table)
    pcfg = photometry or PhotometryConfig.from_station(station)
    rows = _star_rows(table)
    flux = np.asarray(table["camera_flux_adu"], dtype=float)[rows]
    if rows.size == 0 or not np.any(np.isfinite(flux)):
        raise FitError("no camera photometry in the observation table "
                       "(column camera_flux_adu is empty for the stars)")
    err = np.asarray(table["camera_flux_err_adu"], dtype=float)[rows]
    texp = np.asarray(table["camera_exposure_s"], dtype=float)[rows]
    imag = np.asarray(table["imag"], dtype=float)[rows]
    vi = np.asarray(table["v_minus_i"], dtype=float)[rows]
    expected = (np.asarray(star_photon_flux(imag, vi, pcfg.camera_band)) * pcfg.area_m2
                * texp)
    mag_sigma = np.hypot(pcfg.magnitude_sigma,
                         np.where(np.isfinite(vi), 0.0, pcfg.unknown_colour_sigma))
    with np.errstate(invalid="ignore", divide="ignore"):
        eta = flux / expected
        sig = np.abs(eta) * np.sqrt((err / flux) ** 2 + (_LN10_04 * mag_sigma) ** 2)
    eta = np.where(texp > 0, eta, np.nan)
    el = np.radians(np.asarray(table["el_deg"], dtype=float)[rows])
    x = np.asarray(airmass(el), dtype=float)
    result = fit_extinction(x, eta, sig, clip_sigma=pcfg.clip_sigma,
                            min_points=pcfg.min_stars,
                            min_airmass_span=pcfg.min_airmass_span, k_fixed=k_fixed,
                            labels=_labels(table, rows), excluded=_flagged(table, rows))
    fit_line = result.eta0 * 10.0 ** (-0.4 * result.k_mag_per_airmass * x)
    for j, row in enumerate(result.per_star):
        row["transparency"] = float(eta[j] / result.eta0)
        row["cloud_transparency"] = float(eta[j] / fit_line[j])
    result.source = "camera"
    result.units = "ADU per photon"
    result.band = pcfg.camera_band.description
    result.design_efficiency = None
    return result
