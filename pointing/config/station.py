"""Station files: where the station stands and what its mount can do.

A station is one TOML file.  Example (every key but ``name`` and the three
``site`` coordinates has the default shown)::

    name = "Shanghai"

    [site]
    latitude_deg = 31.1263      # geodetic, north positive
    longitude_deg = 121.5424    # east positive
    height_m = 25.0             # above the WGS84 ellipsoid
    utc_offset_h = 8.0          # local civil time minus UTC (for --time and plots)

    [weather]                   # defaults for refraction when nothing is measured
    pressure_hpa = 1010.3       # default: standard atmosphere at height_m
    temperature_c = 10.0
    humidity = 0.5              # relative, 0..1

    [wavelengths]
    quantum_um = 0.85           # quantum channel (SPADs behind the 1 nm filter)
    camera_um = 0.65            # tracking camera band: the wavelength for refraction

    [mount]                     # azimuth from north (0) through east (90 deg)
    el_min_deg = -3.0
    el_max_deg = 93.0
    az_min_deg = -270.0         # cable wrap: one sky azimuth may be reached twice
    az_max_deg = 270.0
    az_speed_deg_s = 10.0
    el_speed_deg_s = 10.0
    az_accel_deg_s2 = 5.0
    el_accel_deg_s2 = 5.0
    settle_s = 2.0              # after each slew, before the star is usable

    [telescope]
    aperture_m = 0.28
    obstruction_m = 0.095       # diameter of the central obstruction

Sections owned by other modules (``camera``, ``detectors``, ``photometry``,
``thresholds``, ``background``, ``night``, ``base``, ``simulator``, ``indi``,
``model``) are kept as plain dicts and returned by :meth:`Station.section`;
their owners validate them.  Any other top-level key, or an unknown key in a
section defined here, is an error naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pointing.config.schema import OMIT, REQUIRED, Field, Section
from pointing.config.toml import read_toml
from pointing.errors import ConfigError

__all__ = [
    "EXTRA_SECTIONS",
    "Mount",
    "Station",
    "Telescope",
    "Wavelengths",
    "Weather",
    "load_station",
    "station_names",
]

#: directory of the shipped example stations
STATIONS_DIR = Path(__file__).resolve().parent / "stations"

#: the station used when none is named
DEFAULT_STATION = "shanghai"

#: sections kept as dicts for the modules that own them
EXTRA_SECTIONS = (
    "camera",
    "wide_camera",
    "detectors",
    "photometry",
    "thresholds",
    "background",
    "night",
    "base",
    "simulator",
    "indi",
    "model",
    "passes",
)


@dataclass(frozen=True)
class Weather:
    """Default weather for refraction.

    Attributes: ``pressure_hpa`` (hPa; 0 turns refraction off),
    ``temperature_c`` (°C), ``humidity`` (relative, 0..1).
    """

    pressure_hpa: float
    temperature_c: float = 10.0
    humidity: float = 0.5


@dataclass(frozen=True)
class Wavelengths:
    """Wavelengths in µm: the quantum channel and the tracking camera's band."""

    quantum_um: float = 0.85
    camera_um: float = 0.65


@dataclass(frozen=True)
class Mount:
    """Mount limits (degrees), axis speeds (deg/s) and accelerations (deg/s²).

    Azimuth is reckoned from north (0) through east (90°); the azimuth range
    may exceed 360° (cable wrap), so one sky azimuth can have two mount
    azimuths.
    """

    el_min_deg: float = -3.0
    el_max_deg: float = 93.0
    az_min_deg: float = -270.0
    az_max_deg: float = 270.0
    az_speed_deg_s: float = 10.0
    el_speed_deg_s: float = 10.0
    az_accel_deg_s2: float = 5.0
    el_accel_deg_s2: float = 5.0
    settle_s: float = 2.0


@dataclass(frozen=True)
class Telescope:
    """Telescope aperture and central-obstruction diameters in metres."""

    aperture_m: float = 0.28
    obstruction_m: float = 0.095


@dataclass(frozen=True)
class Station:
    """A validated station file.

    Attributes
    ----------
    name : str
    latitude_deg, longitude_deg : float
        Geodetic latitude (north +) and longitude (east +), degrees.
    height_m : float
        Height above the WGS84 ellipsoid, metres.
    utc_offset_h : float
        Local civil time minus UTC, hours.
    weather, wavelengths, mount, telescope
        See :class:`Weather`, :class:`Wavelengths`, :class:`Mount`,
        :class:`Telescope`.
    path : Path or None
        The file it was read from.
    """

    name: str
    latitude_deg: float
    longitude_deg: float
    height_m: float
    utc_offset_h: float = 0.0
    weather: Weather = field(default_factory=lambda: Weather(1013.25))
    wavelengths: Wavelengths = field(default_factory=Wavelengths)
    mount: Mount = field(default_factory=Mount)
    telescope: Telescope = field(default_factory=Telescope)
    path: Path | None = None
    sections: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def location(self):
        """The site as an :class:`astropy.coordinates.EarthLocation` (WGS84)."""
        # lazy: loading a station must not cost astropy.coordinates (~0.4 s, measured with
        # python -X importtime); the daemon reads stations and never needs this
        from astropy import units as u
        from astropy.coordinates import EarthLocation

        return EarthLocation.from_geodetic(
            self.longitude_deg * u.deg, self.latitude_deg * u.deg, self.height_m * u.m
        )

    def section(self, name: str) -> dict[str, Any]:
        """A copy of an extra section (``camera``, ``detectors``, ...); ``{}`` if absent."""
        if name not in EXTRA_SECTIONS:
            raise ConfigError(
                f"{name!r} is not a free-form station section; expected one of "
                + ", ".join(EXTRA_SECTIONS)
            )
        return _deepcopy(self.sections.get(name, {}))


def _deepcopy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value


def standard_pressure_hpa(height_m: float) -> float:
    """Pressure of the ICAO standard atmosphere at ``height_m`` metres, hPa."""
    return 1013.25 * (1.0 - 2.25577e-5 * height_m) ** 5.25588


def _num(default: Any, lo: float, hi: float) -> Field:
    return Field(float, default, min=lo, max=hi)


SITE = Section("site", {
    "latitude_deg": _num(REQUIRED, -90.0, 90.0),
    "longitude_deg": _num(REQUIRED, -180.0, 360.0),
    "height_m": _num(REQUIRED, -500.0, 9000.0),
    "utc_offset_h": _num(0.0, -14.0, 14.0),
})
WEATHER = Section("weather", {
    "pressure_hpa": _num(OMIT, 0.0, 1100.0),  # default computed from the height
    "temperature_c": _num(10.0, -80.0, 60.0),
    "humidity": _num(0.5, 0.0, 1.0),
})
WAVELENGTHS = Section("wavelengths", {
    "quantum_um": _num(0.85, 0.3, 2.5),
    "camera_um": _num(0.65, 0.3, 2.5),
})
MOUNT = Section("mount", {
    "el_min_deg": _num(-3.0, -90.0, 90.0),
    "el_max_deg": _num(93.0, 0.0, 180.0),
    "az_min_deg": _num(-270.0, -720.0, 360.0),
    "az_max_deg": _num(270.0, 0.0, 720.0),
    "az_speed_deg_s": _num(10.0, 1e-3, 1000.0),
    "el_speed_deg_s": _num(10.0, 1e-3, 1000.0),
    "az_accel_deg_s2": _num(5.0, 1e-3, 1e4),
    "el_accel_deg_s2": _num(5.0, 1e-3, 1e4),
    "settle_s": _num(2.0, 0.0, 600.0),
})
TELESCOPE = Section("telescope", {
    "aperture_m": _num(0.28, 1e-3, 50.0),
    "obstruction_m": _num(0.095, 0.0, 50.0),
})
#: the sections this module defines (the others belong to their rooms)
STATION_SECTIONS = {s.name: s for s in (SITE, WEATHER, WAVELENGTHS, MOUNT, TELESCOPE)}
_TOP = ("name", "description", *STATION_SECTIONS, *EXTRA_SECTIONS)


def station_names() -> list[str]:
    """Names of the shipped example stations (``shanghai``, ``beijing``, ...)."""
    return sorted(p.stem for p in STATIONS_DIR.glob("*.toml"))


def load_station(name_or_path: str | Path | None = None) -> Station:
    """Load a station by shipped name (case-insensitive) or from a TOML file.

    Parameters
    ----------
    name_or_path : str or Path, optional
        A shipped station name (see :func:`station_names`) or a path to a
        TOML file.  Default: ``"shanghai"``.

    Raises
    ------
    ConfigError
        Unknown station name, unknown or missing key, value of the wrong type
        or out of range; the message names the file and the key
        (``mount.el_max_deg``).
    FileFormatError
        The file is not valid TOML (names the line) or cannot be read.
    """
    if name_or_path is None:
        name_or_path = DEFAULT_STATION
    path = _resolve(name_or_path)
    return station_from_dict(read_toml(path, "station file"), path=path)


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    candidate = Path(text).expanduser()
    looks_like_path = (
        isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or "\\" in text
    )
    if looks_like_path:
        if not candidate.is_file():
            raise ConfigError(f"station file not found: {candidate}")
        return candidate
    shipped = STATIONS_DIR / f"{text.strip().lower()}.toml"
    if shipped.is_file():
        return shipped
    if candidate.is_file():
        return candidate
    raise ConfigError(
        f"unknown station {text!r}: give a path to a TOML file or one of "
        + ", ".join(station_names())
    )


def station_from_dict(data: dict[str, Any], path: Path | str | None = None) -> Station:
    """Validate a parsed station file (a dict as from :mod:`tomllib`).

    Errors are :class:`ConfigError` in the schema's wording
    (``mount.el_max_deg: expected a number, got 'high'``), after the file name.
    """
    try:
        return _station_from_dict(data, path)
    except ConfigError as exc:
        if path is None:
            raise
        raise ConfigError(f"{path}: {exc}") from None


def _station_from_dict(data: dict[str, Any], path: Path | str | None) -> Station:
    if not isinstance(data, dict):
        raise ConfigError("a station file must be a TOML table")
    for key in data:
        if key not in _TOP:
            raise ConfigError(f"{key}: unknown key (known keys: {', '.join(_TOP)})")
    name = data.get("name")
    if name is None:
        raise ConfigError("name: required key missing")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"name: expected a non-empty string, got {name!r}")
    if "description" in data and not isinstance(data["description"], str):
        raise ConfigError(f"description: expected a string, got {data['description']!r}")
    if "site" not in data:
        raise ConfigError("site: required section missing (latitude_deg, longitude_deg, "
                          "height_m)")
    values = {n: sec.read(data.get(n)) for n, sec in STATION_SECTIONS.items()}

    site, mount, tel = values["site"], values["mount"], values["telescope"]
    lon = site["longitude_deg"]
    if lon > 180.0:
        lon -= 360.0
    weather = values["weather"]
    weather.setdefault("pressure_hpa", round(standard_pressure_hpa(site["height_m"]), 1))
    if mount["el_min_deg"] >= mount["el_max_deg"]:
        raise MOUNT.error("el_min_deg", f"below mount.el_max_deg ({mount['el_max_deg']:g})",
                          mount["el_min_deg"])
    if mount["az_max_deg"] - mount["az_min_deg"] < 360.0:
        raise MOUNT.error("az_max_deg", f"at least mount.az_min_deg + 360 deg (a span of "
                          f"at least 360 deg from {mount['az_min_deg']:g})", mount["az_max_deg"])
    if tel["obstruction_m"] >= tel["aperture_m"]:
        raise TELESCOPE.error("obstruction_m", f"smaller than telescope.aperture_m "
                              f"({tel['aperture_m']:g})", tel["obstruction_m"])

    extras: dict[str, dict[str, Any]] = {}
    for section in EXTRA_SECTIONS:
        if section in data:
            if not isinstance(data[section], dict):
                raise ConfigError(f"{section}: expected a table of keys, got "
                                  f"{data[section]!r}")
            extras[section] = _deepcopy(data[section])

    return Station(
        name=name.strip(),
        latitude_deg=site["latitude_deg"],
        longitude_deg=lon,
        height_m=site["height_m"],
        utc_offset_h=site["utc_offset_h"],
        weather=Weather(**weather),
        wavelengths=Wavelengths(**values["wavelengths"]),
        mount=Mount(**mount),
        telescope=Telescope(**tel),
        path=Path(path) if path is not None else None,
        sections=extras,
    )
