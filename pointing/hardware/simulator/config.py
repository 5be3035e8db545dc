"""What a simulated station is made of: its truth and noise, from the ``[simulator]`` section.

Every key of ``[simulator]`` is an attribute of :class:`SimulatorConfig` and
is type- and range-checked through :mod:`pointing.config.schema`, so a bad
value is a :class:`~pointing.errors.ConfigError` naming ``simulator.key``.
Angles are arcseconds unless the name says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pointing.config.schema import Field, Section
from pointing.errors import ConfigError
from pointing.model.terms import parse_term

__all__ = ["COMPASS_SETUP", "FIELD", "PRESETS", "SIMULATOR", "UNMODELLED", "Faults",
           "SimulatedCrash", "SimulatorConfig"]

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
    crash_at_call : the backend dies (:class:`SimulatedCrash`, as if killed) at this
                    device call (slews, exposures and counts together, 1-based,
                    counted from the backend's creation)
    """

    camera_timeouts: frozenset[int] = frozenset()
    limit_slews: frozenset[int] = frozenset()
    limit_zones: tuple[tuple[float, float, float, float], ...] = ()
    hidden_stars: frozenset[int] = frozenset()
    lost_stars: frozenset[int] = frozenset()
    crash_at_call: int | None = None


class SimulatedCrash(BaseException):
    """The simulated station died (a kill): nothing in the night catches this."""


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
        values = SIMULATOR.read(section)
        preset = changes.pop("preset", values.pop("preset", "ideal"))
        if preset not in PRESETS:
            raise SIMULATOR.error("preset", f"one of {', '.join(PRESETS)}", preset)
        return cls(**{**PRESETS[preset], **values, **changes, "preset": preset})


# -- the [simulator] section -----------------------------------------------------------

def _term_table(key: str):
    """A check refusing names that are not pointing-model terms, naming
    ``simulator.<key>.<name>`` (the schema checked the numbers)."""
    def check(table: dict[str, float]) -> dict[str, float]:
        for name in table:
            try:
                parse_term(str(name))
            except ValueError as exc:
                raise ConfigError(f"simulator.{key}.{name}: not a pointing-model term "
                                  f"({exc}), got {name!r}") from None
        return {str(k): v for k, v in table.items()}
    return check


def _nonneg(**limits: Any) -> Field:
    return Field(float, min=0, **limits)


def _positive(**limits: Any) -> Field:
    return Field(float, above=0, **limits)


def _terms(key: str) -> Field:
    return Field(dict, item=Field(float, min=-1e6, max=1e6), check=_term_table(key))


#: the station file's ``[simulator]`` section (absent keys: the preset's, then
#: SimulatorConfig's defaults); every attribute but the faults (a test hook) is a key
SIMULATOR = Section("simulator", {
    "seed": Field(int, min=0, max=2**32 - 1),
    "terms": _terms("terms"),
    "unmodelled": _terms("unmodelled"),
    "repeatability_arcsec": _nonneg(max=3600),
    "jitter_arcsec": _nonneg(max=3600),
    "encoder_bits": Field(int, min=8, max=40),
    "seeing_fwhm_arcsec": _positive(max=60),
    "tracking_optics_fwhm_px": _nonneg(max=100),
    "wide_optics_fwhm_px": _nonneg(max=100),
    "moffat_beta": Field(float, above=1, max=100),
    "eta0": _positive(max=1),
    "k_quantum": _nonneg(max=10),
    "k_camera": _nonneg(max=10),
    "camera_efficiency": _positive(max=1),
    "sky": Field(str, choices=SKIES),
    "clouds": Field(list, item=Field(list, length=4, item=Field(float))),
    "hot_pixels": Field(int, min=0, max=10**6),
    "dark_e_per_s": _nonneg(max=1e6),
    "settle_s": _nonneg(max=600),
    "start_az_deg": Field(float, min=-720, max=720),
    "start_el_deg": Field(float, min=-90, max=90),
    "hysteresis_arcsec": _nonneg(max=3600),
    "hysteresis_width_deg": _positive(max=90),
    "repeatability_scale_deg": _nonneg(max=360),
    "drift_arcsec_per_h": Field(list, length=2, item=Field(float, min=-3600, max=3600)),
    "settle_arcsec": _nonneg(max=3600),
    "settle_tau_s": _positive(max=600),
    "settle_period_s": _positive(max=600),
    "timing_jitter_s": _nonneg(max=10),
    "preset": Field(str),
})


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


assert set(SIMULATOR.fields) == {f.name for f in fields(SimulatorConfig)} - {"faults"}, \
    "a [simulator] key without a schema field"
