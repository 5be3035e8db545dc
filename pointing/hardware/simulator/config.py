"""What a simulated station is made of: its truth and noise, from the ``[simulator]`` section.

Every key of ``[simulator]`` is an attribute of :class:`SimulatorConfig` and
is type- and range-checked through :mod:`pointing.config.schema`, so a bad
value is a :class:`~pointing.errors.ConfigError` naming ``simulator.key``.
Angles are arcseconds unless the name says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from pointing.config.schema import check_keys, get_number, get_numbers
from pointing.errors import ConfigError
from pointing.model.terms import parse_term

__all__ = ["COMPASS_SETUP", "FIELD", "PRESETS", "UNMODELLED", "Faults", "SimulatorConfig"]

#: true pointing errors of a phone-compass, hand-levelled setup (arcsec)
COMPASS_SETUP = {"IA": 5 * 3600.0 + 37.0, "IE": -95.0, "CA": 28.0, "NPAE": -21.0,
                 "AN": 240.0, "AW": -180.0, "TF": 34.0, "TX": 5.0}
#: terms the basic model does not contain, arcsec: gear harmonics of the azimuth drive
#: that no basic term can imitate (so they stay in the floor, and bias no coefficient)
UNMODELLED = {"HASA2": 0.5, "HESA3": 0.3}

#: sky presets of :mod:`pointing.photometry.sky_model`
SKIES = ("rural", "city")


@dataclass(frozen=True)
class Faults:
    """Faults to inject, by event number (1-based) or star.

    Attributes
    ----------
    camera_timeouts : tracking-camera exposures that time out
    limit_slews : slews the mount refuses with a limit error
    limit_zones : (az_min, az_max, el_min, el_max) raw degrees the mount cannot enter
                  (an obstruction behind a limit switch)
    hidden_stars : HIP numbers behind a thick cloud (no light at all)
    lost_stars : HIP numbers not where the catalog says (never found)
    """

    camera_timeouts: frozenset[int] = frozenset()
    limit_slews: frozenset[int] = frozenset()
    limit_zones: tuple[tuple[float, float, float, float], ...] = ()
    hidden_stars: frozenset[int] = frozenset()
    lost_stars: frozenset[int] = frozenset()


@dataclass(frozen=True)
class SimulatorConfig:
    """Truth and noise of a simulated station (angles arcsec unless named)."""

    seed: int = 0
    terms: Mapping[str, float] = field(default_factory=lambda: dict(COMPASS_SETUP))
    unmodelled: Mapping[str, float] = field(default_factory=lambda: dict(UNMODELLED))
    repeatability_arcsec: float = 0.2  #: per axis, drawn at every slew (direct drive)
    jitter_arcsec: float = 0.6  #: image motion (seeing) per short exposure, per axis
    encoder_bits: int = 26
    seeing_fwhm_arcsec: float = 2.0
    tracking_optics_fwhm_px: float = 1.0  #: optics PSF, added in quadrature to the seeing
    wide_optics_fwhm_px: float = 2.2  #: a small lens: the seeing is far below a pixel
    moffat_beta: float = 3.0
    eta0: float = 0.36  #: quantum channel, telescope entrance to detection
    k_quantum: float = 0.07  #: extinction at 850 nm, mag/airmass
    k_camera: float = 0.16  #: extinction in the tracking-camera band
    camera_efficiency: float = 0.45  #: telescope × QE in the camera band
    sky: str = "rural"  #: "rural" or "city" (pointing.photometry.sky_model presets)
    clouds: tuple[tuple[float, float, float, float], ...] = ()  #: (az°, el°, radius°, mag)
    hot_pixels: int = 40
    dark_e_per_s: float = 2.0
    settle_s: float | None = None  #: default: the station's mount.settle_s
    faults: Faults = Faults()
    start_az_deg: float = 180.0
    start_el_deg: float = 45.0
    # -- errors of a real small mount that no pointing model contains (0: the ideal station)
    hysteresis_arcsec: float = 0.0  #: elevation flexure hysteresis: ± this × cos E by the
    #: direction of the recent elevation motion
    hysteresis_width_deg: float = 0.5  #: elevation motion that turns the hysteresis over
    repeatability_scale_deg: float = 0.0  #: > 0: slews shorter than this re-seat the gears
    #: only in part (see SimulatedMount); 0: every slew draws a fresh error
    drift_arcsec_per_h: tuple[float, float] = (0.0, 0.0)  #: thermal drift of the (A·cosE, E)
    #: zero points, from the start of the night
    settle_arcsec: float = 0.0  #: amplitude of the damped ringing after a slew stops, per axis
    settle_tau_s: float = 1.5  #: its decay time
    settle_period_s: float = 0.9  #: its period
    timing_jitter_s: float = 0.0  #: σ of the frame time stamps: tracking error rate × δt
    preset: str = "ideal"  #: the preset the values started from (see PRESETS)

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, **changes: Any
                     ) -> SimulatorConfig:
        """From a station's ``[simulator]`` section (keys as the attributes).

        Raises
        ------
        ConfigError
            Unknown key, wrong type or out-of-range value, naming ``simulator.key``.
        """
        section = dict(section or {})
        check_keys(section, "simulator", _SECTION_KEYS)
        values = {key: _READERS[key](section, key) for key in section}
        preset = changes.pop("preset", values.pop("preset", "ideal"))
        if preset not in PRESETS:
            raise ConfigError(f"simulator.preset: expected one of {', '.join(PRESETS)}, "
                              f"got {preset!r}")
        return cls(**{**PRESETS[preset], **values, **changes, "preset": preset})


# -- readers of the [simulator] keys ------------------------------------------------------

def _number(minimum: float | None = None, maximum: float | None = None, *,
            exclusive_min: bool = False):
    def read(section: Mapping[str, Any], key: str) -> float:
        return get_number(section, "simulator", key, None, minimum=minimum, maximum=maximum,
                          exclusive_min=exclusive_min)
    return read


def _integer(minimum: int, maximum: int | None = None):
    def read(section: Mapping[str, Any], key: str) -> int:
        value = section[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"simulator.{key}: expected an integer, got {value!r}")
        get_number(section, "simulator", key, None, minimum=minimum, maximum=maximum)
        return int(value)
    return read


def _choice(options: Sequence[str]):
    def read(section: Mapping[str, Any], key: str) -> str:
        value = section[key]
        if value not in options:
            raise ConfigError(f"simulator.{key}: expected one of {', '.join(options)}, "
                              f"got {value!r}")
        return str(value)
    return read


def _terms(section: Mapping[str, Any], key: str) -> dict[str, float]:
    """A table of TPOINT term names to arcseconds."""
    table = section[key]
    if not isinstance(table, Mapping):
        raise ConfigError(f"simulator.{key}: expected a table of term = arcsec, got {table!r}")
    out = {}
    for name in table:
        try:
            parse_term(str(name))
        except ValueError as exc:
            raise ConfigError(f"simulator.{key}.{name}: not a pointing-model term ({exc})"
                              ) from None
        out[str(name)] = get_number(table, f"simulator.{key}", name, None)
    return out


def _clouds(section: Mapping[str, Any], key: str) -> tuple[tuple[float, ...], ...]:
    """A list of ``[az°, el°, radius°, mag]`` patches."""
    raw = section[key]
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise ConfigError(f"simulator.{key}: expected a list of [az_deg, el_deg, radius_deg, "
                          f"mag], got {raw!r}")
    out = []
    for i, cloud in enumerate(raw):
        if isinstance(cloud, (str, bytes)) or not isinstance(cloud, Sequence) or len(cloud) != 4:
            raise ConfigError(f"simulator.{key}[{i}]: expected [az_deg, el_deg, radius_deg, "
                              f"mag], got {cloud!r}")
        values = []
        for j, v in enumerate(cloud):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"simulator.{key}[{i}][{j}]: expected a number, got {v!r}")
            values.append(float(v))
        out.append(tuple(values))
    return tuple(out)


def _pair(section: Mapping[str, Any], key: str) -> tuple[float, float]:
    """Two numbers, ``[cross-elevation, elevation]``."""
    values = get_numbers(section, "simulator", key, None, min_length=2)
    if len(values) != 2:
        raise ConfigError(f"simulator.{key}: expected [cross_elevation, elevation], "
                          f"got {section[key]!r}")
    return values


#: a real small mount after a compass-and-level setup, as the published station found it:
#: a quick calibration on a few stars points to ~50-60 µrad, the full model to ~30 µrad
FIELD = {
    "terms": {"IA": 5 * 3600.0 + 37.0, "IE": -95.0, "CA": 25.0, "NPAE": -16.0,
              "AN": 240.0, "AW": -180.0, "TF": 22.0, "TX": 4.0},
    # encoder and gear periodic errors no basic term can imitate
    "unmodelled": {"HASA2": 7.0, "HACA3": 5.0, "HESE2": 4.5, "HECA2": 4.0, "HESA3": 2.5},
    "repeatability_arcsec": 1.5,  # a geared small mount, not a direct drive
    "jitter_arcsec": 0.8,  # image motion of a short exposure; more and the night's 3 px
    # centring (night.centre_tolerance_px) chases the seeing
    "seeing_fwhm_arcsec": 2.5,
    "encoder_bits": 22,
    "hysteresis_arcsec": 3.0,
    "drift_arcsec_per_h": (4.0, 6.0),
    "repeatability_scale_deg": 2.0,
    "settle_arcsec": 8.0,
    "settle_tau_s": 1.0,
    "timing_jitter_s": 0.02,
}
#: named starting points of the [simulator] section: ``preset = "field"``
PRESETS: dict[str, dict[str, Any]] = {"ideal": {}, "field": FIELD}


_READERS = {
    "seed": _integer(0),
    "terms": _terms,
    "unmodelled": _terms,
    "repeatability_arcsec": _number(0.0),
    "jitter_arcsec": _number(0.0),
    "encoder_bits": _integer(8, 40),
    "seeing_fwhm_arcsec": _number(0.0, exclusive_min=True),
    "tracking_optics_fwhm_px": _number(0.0),
    "wide_optics_fwhm_px": _number(0.0),
    "moffat_beta": _number(1.0, exclusive_min=True),
    "eta0": _number(0.0, 1.0, exclusive_min=True),
    "k_quantum": _number(0.0),
    "k_camera": _number(0.0),
    "camera_efficiency": _number(0.0, 1.0, exclusive_min=True),
    "sky": _choice(SKIES),
    "clouds": _clouds,
    "hot_pixels": _integer(0),
    "dark_e_per_s": _number(0.0),
    "settle_s": _number(0.0),
    "start_az_deg": _number(),
    "start_el_deg": _number(-90.0, 90.0),
    "hysteresis_arcsec": _number(0.0),
    "drift_arcsec_per_h": lambda section, key: _pair(section, key),
    "settle_arcsec": _number(0.0),
    "hysteresis_width_deg": _number(0.0, exclusive_min=True),
    "repeatability_scale_deg": _number(0.0),
    "settle_tau_s": _number(0.0, exclusive_min=True),
    "settle_period_s": _number(0.0, exclusive_min=True),
    "timing_jitter_s": _number(0.0),
    "preset": lambda section, key: _choice(tuple(PRESETS))(section, key),
}
#: every attribute but the faults (a test hook, not a station setting) is a section key
_SECTION_KEYS = tuple(f.name for f in fields(SimulatorConfig) if f.name != "faults")
assert set(_READERS) == set(_SECTION_KEYS), "a [simulator] key without a reader"
