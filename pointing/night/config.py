"""Settings of the calibration night: the station file's ``[night]`` and ``[base]`` sections."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pointing.errors import ConfigError
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
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in (section or {}).items():
            if key not in known:
                raise ConfigError(f"night.{key}: unknown key (known: {', '.join(known)})")
            default = known[key].default
            if key in ("terms", "provisional_terms"):
                if value == "auto" and key == "terms":
                    values[key] = "auto"
                    continue
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"night.{key}: expected a list of term names or 'auto'")
                try:
                    values[key] = tuple(t.name for t in parse_terms(value))
                except Exception as exc:
                    raise ConfigError(f"night.{key}: {exc}") from None
            elif key == "log_path":
                if not isinstance(value, str):
                    raise ConfigError("night.log_path: expected a path string")
                values[key] = value
            elif key == "sun_max_el_deg":
                if isinstance(value, bool) or not isinstance(value, int | float) \
                        or not -90 <= value <= 90:
                    raise ConfigError(f"night.sun_max_el_deg: expected degrees -90…90, "
                                      f"got {value!r}")
                values[key] = float(value)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"night.{key}: expected true or false")
                values[key] = value
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10000:
                    raise ConfigError(f"night.{key}: expected an integer 1…10000, got {value!r}")
                values[key] = value
            else:
                if isinstance(value, bool) or not isinstance(value, int | float) \
                        or not math.isfinite(value) or value < 0 or value > 1e9:
                    raise ConfigError(f"night.{key}: expected a non-negative number, "
                                      f"got {value!r}")
                values[key] = float(value)
        cfg = cls(**values)
        if cfg.min_exposure_s >= cfg.max_exposure_s:
            raise ConfigError("night.min_exposure_s must be below night.max_exposure_s")
        if not 0 < cfg.peak_fraction < 1:
            raise ConfigError("night.peak_fraction must lie between 0 and 1")
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
        section = dict(section or {})
        unknown = set(section) - {"feet", "screw_pitch_mm"}
        if unknown:
            raise ConfigError(f"base.{sorted(unknown)[0]}: unknown key (known: feet, "
                              "screw_pitch_mm)")
        feet = cls.feet
        if "feet" in section:
            rows = section["feet"]
            if not isinstance(rows, list) or len(rows) < 3:
                raise ConfigError("base.feet: expected a list of at least three feet")
            out = []
            for i, row in enumerate(rows):
                if not isinstance(row, Mapping) or {"name", "azimuth_deg", "radius_m"} - set(row):
                    raise ConfigError(f"base.feet[{i}]: needs name, azimuth_deg, radius_m")
                for key in ("azimuth_deg", "radius_m"):
                    v = row[key]
                    if isinstance(v, bool) or not isinstance(v, int | float) \
                            or not math.isfinite(v) or (key == "radius_m" and v <= 0):
                        raise ConfigError(f"base.feet[{i}].{key}: expected a "
                                          f"{'positive ' if key == 'radius_m' else ''}"
                                          f"number, got {v!r}")
                out.append((str(row["name"]), float(row["azimuth_deg"]), float(row["radius_m"])))
            feet = tuple(out)
        pitch = section.get("screw_pitch_mm", cls.screw_pitch_mm)
        if pitch is not None and (isinstance(pitch, bool) or not isinstance(pitch, int | float)
                                  or not pitch > 0):
            raise ConfigError("base.screw_pitch_mm: expected a positive number")
        return cls(feet=feet, screw_pitch_mm=pitch)
