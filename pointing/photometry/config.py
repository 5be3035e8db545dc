"""The receiver's configuration: the station file's ``[photometry]`` and ``[detectors]``.

* :class:`PhotometryConfig` -- receive band, efficiency chain, magnitude
  uncertainties, receiving field, camera band and the extinction-fit settings,
  plus the telescope's aperture;
* :class:`DetectorConfig` -- quantum channels, dark rates, dead time;
* :func:`collecting_area`, :func:`design_efficiency`, :func:`dead_time_factor`.

Both sections are read through :mod:`pointing.config.schema` (:data:`PHOTOMETRY`,
:data:`DETECTORS`), so a bad value is named ``photometry.<key>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pointing.config.schema import Field, Section, section_of
from pointing.config.station import Station
from pointing.errors import ConfigError
from pointing.photometry.bands import DEFAULT_BAND, DEFAULT_CAMERA_BAND, Band

__all__ = [
    "DEFAULT_EFFICIENCY_CHAIN",
    "DETECTORS",
    "PHOTOMETRY",
    "DetectorConfig",
    "PhotometryConfig",
    "StationSource",
    "collecting_area",
    "dead_time_factor",
    "design_efficiency",
]

#: what a section reader accepts: a Station, a mapping of section names to
#: tables (tests, notebooks), or None (every key at its default)
StationSource = Station | Mapping[str, Any] | None


def collecting_area(aperture_m: float, obstruction_m: float = 0.0) -> float:
    """Clear collecting area (m²) of an aperture with a central obstruction (diameters, m)."""
    if not (aperture_m > 0 and math.isfinite(aperture_m)):
        raise ConfigError(f"telescope.aperture_m: must be > 0, got {aperture_m!r}")
    if not (0 <= obstruction_m < aperture_m):
        raise ConfigError(f"telescope.obstruction_m: must be >= 0 and smaller than the "
                          f"aperture ({aperture_m} m), got {obstruction_m!r}")
    return math.pi / 4.0 * (aperture_m**2 - obstruction_m**2)


def design_efficiency(chain: Mapping[str, float]) -> float:
    """Product of the efficiency-chain entries (telescope, optics, filter, …)."""
    return float(np.prod([float(v) for v in chain.values()])) if chain else 1.0


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

_NM = {"min": 200.0, "max": 3000.0}
#: the ``[photometry]`` section (``camera_band_center_nm`` None: the station's camera_um)
PHOTOMETRY = Section("photometry", {
    "band_center_nm": Field(float, 850.0, **_NM),
    "band_width_nm": Field(float, 1.0, above=0, max=1000),
    "band_curve_nm": Field(list, None, item=Field(float, **_NM), min_length=2),
    "band_curve_transmission": Field(list, None, item=Field(float, min=0), min_length=2),
    "efficiency": Field(Section("photometry.efficiency", {
        k: Field(float, v, above=0, max=1) for k, v in DEFAULT_EFFICIENCY_CHAIN.items()})),
    "magnitude_sigma": Field(float, 0.03, min=0, max=1),
    "unknown_colour_sigma": Field(float, 0.10, min=0, max=1),
    "field_of_view_urad": Field(float, 100.0, above=0, max=1e5),
    "camera_band_center_nm": Field(float, None, **_NM),
    "camera_band_width_nm": Field(float, 200.0, above=0, max=1000),
    "clip_sigma": Field(float, 4.0, min=2, max=100),
    "min_stars": Field(int, 3, min=3, max=1000),
    "min_airmass_span": Field(float, 0.3, above=0, max=30),
})
#: the ``[detectors]`` section
DETECTORS = Section("detectors", {
    "channels": Field(int, 4, min=1, max=64),
    "dark_cps": Field(list, (10.0,), item=Field(float, min=0, max=1e7), scalar=True,
                      min_length=1),
    "dead_time_ns": Field(float, 0.0, min=0, max=1e6),
})


def _station_telescope(station: StationSource) -> tuple[float, float]:
    tel = getattr(station, "telescope", None)
    if tel is None:
        return 0.28, 0.095  # the reference 280 mm Schmidt–Cassegrain
    return float(tel.aperture_m), float(getattr(tel, "obstruction_m", 0.0) or 0.0)


def _band(sec: Mapping[str, Any]) -> Band:
    """The receive band of a read ``[photometry]`` section: a curve or a top-hat."""
    lam, tr = sec["band_curve_nm"], sec["band_curve_transmission"]
    if lam is None and tr is None:
        return Band.top_hat(sec["band_center_nm"], sec["band_width_nm"])
    if lam is None or tr is None or len(lam) != len(tr):
        raise PHOTOMETRY.error("band_curve_transmission", "given with photometry."
                               "band_curve_nm, one value per wavelength", tr)
    try:
        return Band.curve(lam, tr)
    except ConfigError as exc:
        raise PHOTOMETRY.error("band_curve_nm", f"a usable band curve ({exc})", lam) from None


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
    def from_station(cls, station: StationSource = None) -> PhotometryConfig:
        """Validate ``station.section("photometry")`` (ConfigError names the key).

        *station* is a :class:`~pointing.config.station.Station`, a mapping of
        sections, or None for the defaults.
        """
        sec = PHOTOMETRY.read(section_of(station, "photometry"))
        band = _band(sec)
        cam_c = sec["camera_band_center_nm"]
        if cam_c is None:
            wl = getattr(station, "wavelengths", None)
            camera_um = getattr(wl, "camera_um", None) if wl is not None else None
            cam_c = 1000.0 * float(camera_um) if camera_um else 650.0
        cam_w = sec["camera_band_width_nm"]
        if cam_w >= cam_c:
            raise PHOTOMETRY.error("camera_band_width_nm", "smaller than "
                                   f"photometry.camera_band_center_nm ({cam_c:g})", cam_w)
        aperture, obstruction = _station_telescope(station)
        collecting_area(aperture, obstruction)
        return cls(
            band=band,
            efficiency_chain=dict(sec["efficiency"]),
            magnitude_sigma=sec["magnitude_sigma"],
            unknown_colour_sigma=sec["unknown_colour_sigma"],
            field_of_view_urad=sec["field_of_view_urad"],
            camera_band=Band.top_hat(cam_c, cam_w),
            clip_sigma=sec["clip_sigma"],
            min_stars=sec["min_stars"],
            min_airmass_span=sec["min_airmass_span"],
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
    def from_station(cls, station: StationSource = None) -> DetectorConfig:
        """Validate ``station.section("detectors")`` (ConfigError names the key)."""
        sec = DETECTORS.read(section_of(station, "detectors"))
        channels, dark = sec["channels"], tuple(sec["dark_cps"])
        if len(dark) == 1:
            dark = dark * channels
        elif len(dark) != channels:
            raise DETECTORS.error("dark_cps", f"one number or {channels} values (one per "
                                  "channel)", list(dark))
        return cls(channels=channels, dark_cps=dark, dead_time_s=sec["dead_time_ns"] * 1e-9)


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
