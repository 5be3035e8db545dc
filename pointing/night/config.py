"""Settings of the calibration night: the station file's ``[night]`` and ``[base]`` sections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pointing.config.schema import REQUIRED, Field, Section
from pointing.model.fit import DEFAULT_TERMS
from pointing.model.terms import parse_terms

__all__ = ["BaseGeometry", "NightConfig"]


@dataclass(frozen=True)
class NightConfig:
    """How the night observes (every key of ``[night]``; units in the names).

    ``terms`` is the list of TPOINT terms fitted (or ``"auto"`` for automatic
    model building); ``log_path`` the station log (default per station; never
    used by a simulated backend, whose nights go to their own log);
    ``sun_max_el_deg`` the highest Sun elevation the night starts at (−6°, civil
    twilight: the night refuses daytime unless ``daylight`` is true).
    """

    terms: tuple[str, ...] | str = DEFAULT_TERMS
    n_model: int = 18
    n_verify: int = 20
    el_min_deg: float = 20.0
    el_max_deg: float = 85.0
    imag_min: float = 1.0
    imag_max: float = 5.0
    moon_min_sep_deg: float = 30.0
    count_time_s: float = 2.0
    background_count_time_s: float = 5.0
    n_exposures: int = 6
    off_star_urad: float = 1000.0
    peak_fraction: float = 0.35
    min_exposure_s: float = 1e-4
    max_exposure_s: float = 2.0
    wide_exposure_s: float = 0.3
    search_max_deg: float = 12.0
    model_search_deg: float = 1.0
    search_overlap: float = 0.7
    centre_tolerance_px: float = 3.0
    zero_imag_max: float = 2.0
    provisional_terms: tuple[str, ...] = ("IA", "IE", "AN", "AW")
    background_grid: bool = True
    log_path: str | None = None
    sun_max_el_deg: float = -6.0
    daylight: bool = False

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> NightConfig:
        """Validate a ``[night]`` section; errors name the key (``night.n_model``)."""
        values = NIGHT.read(section)
        cfg = cls(**values)
        if cfg.min_exposure_s >= cfg.max_exposure_s:
            raise NIGHT.error("min_exposure_s", f"below night.max_exposure_s "
                              f"({cfg.max_exposure_s:g})", cfg.min_exposure_s)
        if not 0 < cfg.peak_fraction < 1:
            raise NIGHT.error("peak_fraction", "> 0 and < 1", cfg.peak_fraction)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class BaseGeometry:
    """Where the feet of the mount's base are (``[base]``), for levelling advice.

    ``feet`` are ``(name, azimuth_deg, radius_m)`` with the azimuth measured in
    the mount's own frame (from its encoder zero, through east);
    ``screw_pitch_mm`` turns height changes into turns of the levelling screws.
    """

    feet: tuple[tuple[str, float, float], ...] = (("A", 0.0, 0.45), ("B", 120.0, 0.45),
                                                  ("C", 240.0, 0.45))
    screw_pitch_mm: float | None = 1.5

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> BaseGeometry:
        values = BASE.read(section)
        feet = tuple((f["name"], f["azimuth_deg"], f["radius_m"])
                     for f in values.get("feet", ())) or cls.feet
        pitch = values.get("screw_pitch_mm", cls.screw_pitch_mm)
        return cls(feet=feet, screw_pitch_mm=pitch)


def _terms_check(auto: bool):
    def check(value: Any) -> Any:
        if auto and value == "auto":
            return "auto"
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("expected a list of term names" + (" or 'auto'" if auto else ""))
        try:
            return tuple(t.name for t in parse_terms(value))
        except (ValueError, TypeError) as exc:
            raise ValueError(str(exc)) from None
    return check


def _night_field(f: Any) -> Field:
    if f.name in ("terms", "provisional_terms"):
        return Field(object, check=_terms_check(f.name == "terms"))
    if f.name == "log_path":
        return Field(str)
    if f.name == "sun_max_el_deg":
        return Field(float, min=-90, max=90)
    if isinstance(f.default, bool):
        return Field(bool)
    if isinstance(f.default, int):
        return Field(int, min=1, max=10000)
    return Field(float, min=0, max=1e9)


#: the ``[night]`` section: every NightConfig attribute (absent keys: the defaults)
NIGHT = Section("night", {f.name: _night_field(f) for f in fields(NightConfig)})
#: the ``[base]`` section (:class:`BaseGeometry`)
BASE = Section("base", {
    "feet": Field(list, min_length=3, item=Field(Section("base.feet", {
        "name": Field(object, REQUIRED, check=str),
        "azimuth_deg": Field(float, REQUIRED),
        "radius_m": Field(float, REQUIRED, min=0),
    }))),
    "screw_pitch_mm": Field(float, above=0),
})
