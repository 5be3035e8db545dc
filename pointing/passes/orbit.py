"""Satellite orbits: TLE / OMM files, SGP4, and the topocentric track of a station.

Reading.  :func:`read_elements` reads two- or three-line element files (many
satellites per file, ``#`` comments allowed) and CCSDS OMM files as published
(JSON list of objects, or NDM/XML).  Every element set is checked before it
is used: line numbers, lengths, checksums, matching catalogue numbers, epoch,
and element ranges; errors are :class:`~pointing.errors.FileFormatError`
naming the file and line (TLE) or object (OMM).

Propagation.  SGP4 (Vallado's code, the ``sgp4`` package, WGS72 constants as
the element sets assume) gives positions and velocities in TEME; times fed to
SGP4 are UTC Julian dates (the elements' epoch is UTC: mixing in TT shifts
the track by 69 s).

TEME → ITRS → topocentric.  ``ITRS = W · R3(GMST82(UT1)) · TEME`` (Vallado
2006; the same chain as astropy's ``TEME`` frame), with UT1−UTC and the polar
motion from the same installed IERS table as the star places
(:func:`pointing.sky.places.earth_orientation`), interpolated in UT1−TAI so a
leap second does not smear.  The apparent direction includes light time
(the satellite where it was when the light left it, the station where it is
when the light arrives, in the quasi-inertial frame) and diurnal aberration
(the station's velocity from Earth rotation): about 5″ and 0.3″.  Refraction
uses ERFA's ``eraRefco`` constants for the station's weather at the quantum
wavelength (850 nm) applied as ``eraAtioq`` does.

Angles in radians, azimuth from north (0) through east (π/2); distances km.
"""

from __future__ import annotations

import json
import math
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import erfa
import numpy as np
from sgp4.api import WGS72, Satrec
from sgp4.omm import initialize as omm_initialize

from pointing.errors import FileFormatError, PointingError
from pointing.sky.places import check_times, earth_orientation

__all__ = [
    "C_KM_S",
    "OMEGA_EARTH",
    "Satellite",
    "StaleElementsWarning",
    "Track",
    "TrackComputer",
    "load_satellite",
    "read_elements",
]

#: speed of light, km/s
C_KM_S = 299792.458
#: Earth rotation rate, rad/s (IERS conventional)
OMEGA_EARTH = 7.292115146706979e-5
#: Earth equatorial radius (km, WGS84) for the shadow test
R_EARTH_KM = 6378.137
_AU_KM = 149597870.700
_DAY_S = 86400.0


class StaleElementsWarning(UserWarning):
    """The element set is older (or newer) than the allowed age at the time used."""


@dataclass(frozen=True)
class Satellite:
    """One validated element set.

    Attributes
    ----------
    name : str
        Object name from the file ("" when a two-line file gives none).
    catalog_number : int
        NORAD catalogue number.
    satrec : sgp4.api.Satrec
        Initialised SGP4 record.
    epoch_jd : float
        Epoch of the elements, Julian date (UTC).
    source : str
        ``file:line`` (TLE) or ``file[#index]`` (OMM) where it was read.
    lines : tuple of str
        The two TLE lines (empty for OMM).
    """

    name: str
    catalog_number: int
    satrec: Satrec = field(repr=False)
    epoch_jd: float
    source: str
    lines: tuple[str, ...] = ()

    @property
    def epoch_iso(self) -> str:
        """Epoch as ISO 8601 UTC text."""
        return _jd_iso(self.epoch_jd)

    def age_days(self, jd_utc: float) -> float:
        """Days from the epoch to ``jd_utc`` (negative: before the epoch)."""
        return float(jd_utc - self.epoch_jd)

    def check_age(self, jd_utc: float, max_age_days: float = 3.0) -> None:
        """Warn (:class:`StaleElementsWarning`) when the elements are too old for ``jd_utc``."""
        age = self.age_days(jd_utc)
        if abs(age) > max_age_days:
            what = "old" if age > 0 else "in the future"
            warnings.warn(
                f"{self.source}: elements of {self.label} (epoch {self.epoch_iso[:19]} UTC) are "
                f"{abs(age):.1f} days {what} at {_jd_iso(jd_utc)[:19]} UTC "
                f"(allowed {max_age_days:g} days); predictions degrade by ~km per day",
                StaleElementsWarning, stacklevel=2,
            )

    @property
    def label(self) -> str:
        """``NAME (number)`` for messages."""
        return f"{self.name} ({self.catalog_number})" if self.name else str(self.catalog_number)


def _jd_iso(jd: float) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        y, m, d, f = erfa.jd2cal(jd, 0.0)
    s = f * _DAY_S
    hh, rem = divmod(s, 3600.0)
    mm, ss = divmod(rem, 60.0)
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}T{int(hh):02d}:{int(mm):02d}:{ss:09.6f}"


# -- reading ------------------------------------------------------------------
def _checksum(line: str) -> int:
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68]) % 10


def _check_tle_line(path: Path, lineno: int, line: str, number: str) -> None:
    if len(line) != 69:
        raise FileFormatError(path, lineno, f"TLE line {number} must have 69 characters, "
                              f"has {len(line)}")
    if not line[68].isdigit():
        raise FileFormatError(path, lineno, f"TLE line {number}: checksum column 69 is "
                              f"{line[68]!r}, not a digit")
    want = _checksum(line)
    if int(line[68]) != want:
        raise FileFormatError(path, lineno, f"TLE line {number}: wrong checksum {line[68]} "
                              f"(the line sums to {want}): corrupt or edited line")


def _check_ranges(where: tuple[Path, int | None], sat: Satrec) -> None:
    path, lineno = where
    checks = (
        ("inclination", math.degrees(sat.inclo), 0.0, 180.0, "deg"),
        ("eccentricity", sat.ecco, 0.0, 0.999999, ""),
        ("mean motion", sat.no_kozai * 1440.0 / (2 * math.pi), 0.05, 20.0, "rev/day"),
        ("right ascension of the node", math.degrees(sat.nodeo), 0.0, 360.0, "deg"),
        ("argument of perigee", math.degrees(sat.argpo), 0.0, 360.0, "deg"),
        ("mean anomaly", math.degrees(sat.mo), 0.0, 360.0, "deg"),
    )
    for name, value, lo, hi, unit in checks:
        if not (math.isfinite(value) and lo <= value <= hi):
            raise FileFormatError(path, lineno, f"{name} {value:g} {unit} is outside "
                                  f"{lo:g} .. {hi:g}".replace("  ", " "))
    if not math.isfinite(sat.bstar) or abs(sat.bstar) > 1.0:
        raise FileFormatError(path, lineno, f"B* drag term {sat.bstar:g} is not plausible")
    if sat.error:
        raise FileFormatError(path, lineno, f"SGP4 cannot initialise these elements "
                              f"(error {sat.error})")


def _parse_tle_pair(path: Path, n1: int, l1: str, l2: str, name: str) -> Satellite:
    _check_tle_line(path, n1, l1, "1")
    _check_tle_line(path, n1 + 1, l2, "2")
    if l1[2:7] != l2[2:7]:
        raise FileFormatError(path, n1 + 1, f"catalogue number {l2[2:7].strip()!r} on line 2 "
                              f"differs from {l1[2:7].strip()!r} on line 1")
    try:
        year = int(l1[18:20])
        day = float(l1[20:32])
    except ValueError:
        raise FileFormatError(path, n1, f"epoch {l1[18:32]!r} is not YYDDD.DDDDDDDD") from None
    full_year = 2000 + year if year < 57 else 1900 + year
    days_in_year = 366 if (full_year % 4 == 0 and full_year % 100 != 0) or full_year % 400 == 0 \
        else 365
    if not 1.0 <= day < days_in_year + 1:
        raise FileFormatError(path, n1, f"epoch day {day:g} is outside 1 .. {days_in_year}")
    try:
        sat = Satrec.twoline2rv(l1, l2, WGS72)
    except (ValueError, IndexError) as exc:
        raise FileFormatError(path, n1, f"cannot read the elements: {exc}") from None
    _check_ranges((path, n1 + 1), sat)
    return Satellite(name=name, catalog_number=int(sat.satnum), satrec=sat,
                     epoch_jd=sat.jdsatepoch + sat.jdsatepochF, source=f"{path}:{n1}",
                     lines=(l1, l2))


def _read_tle(path: Path, text: str) -> list[Satellite]:
    sats: list[Satellite] = []
    lines = text.splitlines()
    name, name_line = "", None
    i = 0
    while i < len(lines):
        raw = lines[i].rstrip()
        lineno = i + 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            i += 1
            continue
        if raw.startswith("1 "):
            nxt = lines[i + 1].rstrip() if i + 1 < len(lines) else ""
            if not nxt.startswith("2 "):
                raise FileFormatError(path, lineno + 1, "expected TLE line 2 (starting '2 ') "
                                      f"after line 1 on line {lineno}")
            sats.append(_parse_tle_pair(path, lineno, raw, nxt, name))
            name, name_line = "", None
            i += 2
            continue
        if raw.startswith("2 "):
            raise FileFormatError(path, lineno, "TLE line 2 without a line 1 before it")
        if name_line is not None:
            raise FileFormatError(path, name_line, f"name line {name!r} is not followed by "
                                  "TLE line 1 (starting '1 ')")
        name = raw[2:].strip() if raw.startswith("0 ") else raw.strip()
        name_line = lineno
        i += 1
    if name_line is not None:
        raise FileFormatError(path, name_line, f"name line {name!r} at the end of the file "
                              "has no element lines")
    return sats


_OMM_KEYS = ("EPOCH", "MEAN_MOTION", "ECCENTRICITY", "INCLINATION", "RA_OF_ASC_NODE",
             "ARG_OF_PERICENTER", "MEAN_ANOMALY", "NORAD_CAT_ID", "BSTAR")
_OMM_DEFAULTS = {"CLASSIFICATION_TYPE": "U", "OBJECT_ID": "", "EPHEMERIS_TYPE": "0",
                 "ELEMENT_SET_NO": "999", "REV_AT_EPOCH": "0", "MEAN_MOTION_DOT": "0",
                 "MEAN_MOTION_DDOT": "0"}


def _omm_satellite(path: Path, index: int, fields: dict[str, Any]) -> Satellite:
    where = f"{path}[object {index + 1}]"
    f = {str(k).upper(): ("" if v is None else str(v).strip()) for k, v in fields.items()}
    for key in _OMM_KEYS:
        if not f.get(key):
            raise FileFormatError(where, None, f"OMM field {key} is missing")
    for key, value in _OMM_DEFAULTS.items():
        if not f.get(key):
            f[key] = value
    epoch = f["EPOCH"].rstrip("Z")
    if "." not in epoch:
        epoch += ".0"
    f["EPOCH"] = epoch
    sat = Satrec()
    try:
        omm_initialize(sat, f, WGS72)
    except (ValueError, KeyError) as exc:
        raise FileFormatError(where, None, f"cannot read the OMM elements: {exc}") from None
    _check_ranges((Path(where), None), sat)
    return Satellite(name=f.get("OBJECT_NAME", ""), catalog_number=int(sat.satnum),
                     satrec=sat, epoch_jd=sat.jdsatepoch + sat.jdsatepochF, source=where)


def _read_omm_json(path: Path, text: str) -> list[Satellite]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise FileFormatError(path, None, "an OMM JSON file must be a list of objects")
    return [_omm_satellite(path, i, d) for i, d in enumerate(data)]


def _read_omm_xml(path: Path, text: str) -> list[Satellite]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise FileFormatError(path, exc.position[0], f"invalid XML: {exc}") from None
    out = []
    segments = [e for e in root.iter() if _tag(e) == "segment"]
    if not segments:
        raise FileFormatError(path, None, "no OMM <segment> in the XML file")
    for i, seg in enumerate(segments):
        fields = {}
        for part in seg.iter():
            if _tag(part) in ("metadata", "meanElements", "tleParameters"):
                fields.update((_tag(c), c.text) for c in part)
        out.append(_omm_satellite(path, i, fields))
    return out


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def read_elements(path: str | Path) -> list[Satellite]:
    """Every element set in a TLE (2/3-line) or OMM (JSON / XML) file.

    Raises
    ------
    FileFormatError
        Unreadable file, bad line, checksum, catalogue number, epoch or
        element out of range (names the file and line or object); a file
        with no element set.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileFormatError(path, None, f"cannot read element file: "
                              f"{exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise FileFormatError(path, None, f"not UTF-8 text: {exc.reason}") from None
    head = text.lstrip()[:1]
    if head in "[{" and head:
        sats = _read_omm_json(path, text)
    elif head == "<":
        sats = _read_omm_xml(path, text)
    else:
        sats = _read_tle(path, text)
    if not sats:
        raise FileFormatError(path, None, "no element set in the file (TLE or OMM)")
    return sats


def load_satellite(path: str | Path, which: str | int | None = None) -> Satellite:
    """One satellite from an element file, by name (case-insensitive) or catalogue number.

    With ``which`` None the file must hold exactly one satellite.  When the
    file holds several element sets of the chosen satellite the newest is used.

    Raises
    ------
    PointingError
        Unknown satellite (the message lists what the file holds), or several
        satellites and none chosen.
    """
    sats = read_elements(path)
    if which is None:
        chosen = sats
        if len({s.catalog_number for s in sats}) > 1:
            raise PointingError(f"{path}: holds {len(sats)} satellites; choose one with "
                                f"--satellite NAME|NUMBER ({_listing(sats)})")
    else:
        key = str(which).strip()
        if re.fullmatch(r"\d+", key):
            chosen = [s for s in sats if s.catalog_number == int(key)]
        else:
            chosen = [s for s in sats if s.name.casefold() == key.casefold()]
            if not chosen:
                chosen = [s for s in sats if key.casefold() in s.name.casefold()]
                if len({s.catalog_number for s in chosen}) > 1:
                    raise PointingError(f"{path}: satellite {key!r} is ambiguous: "
                                        f"{_listing(chosen)}")
        if not chosen:
            raise PointingError(f"{path}: no satellite {key!r} in the file; it holds "
                                f"{_listing(sats)}")
    return max(chosen, key=lambda s: s.epoch_jd)


def _listing(sats: list[Satellite], limit: int = 8) -> str:
    names = [s.label for s in sats[:limit]]
    more = f", ... ({len(sats)} in all)" if len(sats) > limit else ""
    return ", ".join(names) + more


# -- the track ----------------------------------------------------------------
@dataclass
class Track:
    """Topocentric track of a satellite at ``n`` times (arrays of shape ``(n,)``).

    ``az``, ``el``: observed (apparent, refracted) azimuth and elevation, rad;
    ``el_unrefracted``: apparent elevation without refraction, rad;
    ``range_km``: geometric distance station–satellite at the time, km;
    ``range_rate_km_s``: its rate, km/s; ``sunlit``: satellite outside Earth's
    shadow (bool); ``sun_el``: elevation of the Sun at the station, rad.
    ``r_teme``, ``v_teme`` (n, 3): SGP4 state (km, km/s); ``los_itrs`` (n, 3):
    unit vector station → satellite (apparent, unrefracted) in ITRS;
    ``r_itrs`` (n, 3) satellite position (km).
    """

    az: np.ndarray
    el: np.ndarray
    el_unrefracted: np.ndarray
    range_km: np.ndarray
    range_rate_km_s: np.ndarray
    sunlit: np.ndarray
    sun_el: np.ndarray
    r_teme: np.ndarray
    v_teme: np.ndarray
    los_itrs: np.ndarray
    r_itrs: np.ndarray
    teme_to_itrs: np.ndarray


def _rot3_stack(angle: np.ndarray) -> np.ndarray:
    """Passive rotations about z (frame rotation), shape (n, 3, 3)."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros((angle.size, 3, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1], m[:, 2, 2] = c, s, -s, c, 1.0
    return m


class TrackComputer:
    """Computes a satellite's track from one station over a time window.

    Parameters
    ----------
    station : pointing.station.Station
    satellite : Satellite
    start_jd : float
        Start of the window, Julian date (UTC); times are then seconds from it.
    span_s : float
        Length of the window, s (Earth orientation is tabulated over it).
    wavelength_um : float, optional
        Refraction wavelength (default: the station's quantum channel, 0.85 µm).
    refraction, apparent, polar_motion : bool
        Switch refraction / light time and diurnal aberration / polar motion
        off (for comparisons with geometric tools that ignore them).
    """

    def __init__(self, station, satellite: Satellite, start_jd: float, span_s: float, *,
                 wavelength_um: float | None = None, refraction: bool = True,
                 apparent: bool = True, polar_motion: bool = True):
        self.station = station
        self.satellite = satellite
        self.jd1 = math.floor(start_jd - 0.5) + 0.5
        self.jd2 = start_jd - self.jd1
        self.apparent = apparent
        w = station.weather
        wl = station.wavelengths.quantum_um if wavelength_um is None else wavelength_um
        p = w.pressure_hpa if refraction else 0.0
        self.refa, self.refb = erfa.refco(p, w.temperature_c, w.humidity, wl)
        lon, lat = math.radians(station.longitude_deg), math.radians(station.latitude_deg)
        self.r_station = erfa.gd2gc(1, lon, lat, station.height_m) / 1000.0  # km, ITRS
        sl, cl, sp, cp = math.sin(lon), math.cos(lon), math.sin(lat), math.cos(lat)
        # rows: east, north, up in ITRS
        self.enu = np.array([[-sl, cl, 0.0], [-sp * cl, -sp * sl, cp], [cp * cl, cp * sl, sp]])
        self._eop_nodes(span_s)
        if not polar_motion:
            self._xp, self._yp = np.zeros_like(self._xp), np.zeros_like(self._yp)

    # Earth orientation tabulated every 30 min over the window (UT1−TAI, xp, yp)
    def _eop_nodes(self, span_s: float) -> None:
        step = 1800.0
        n = max(2, math.ceil(span_s / step) + 5)
        self._node_s = np.arange(n) * step - 2 * step
        times = check_times(self._jd_obj(self._node_s))
        dut1, xp, yp, _ = earth_orientation(times)
        self._ut1_tai = dut1 - self._tai_utc(self._node_s)
        self._xp, self._yp = xp, yp

    def _jd_obj(self, t_s: np.ndarray):
        from astropy.time import Time

        return Time(self.jd1, self.jd2 + np.asarray(t_s) / _DAY_S, format="jd", scale="utc")

    def _tai_utc(self, t_s: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", erfa.ErfaWarning)
            y, m, d, f = erfa.jd2cal(self.jd1, self.jd2 + np.asarray(t_s) / _DAY_S)
            return erfa.dat(y, m, d, f)

    def jd(self, t_s: Any) -> tuple[np.ndarray, np.ndarray]:
        """Two-part UTC Julian date of times ``t_s`` (s from the window start)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        return np.full(t.shape, self.jd1), self.jd2 + t / _DAY_S

    def teme_to_itrs(self, t_s: np.ndarray) -> np.ndarray:
        """Matrices TEME → ITRS at times ``t_s``, shape (n, 3, 3)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        dut1 = np.interp(t, self._node_s, self._ut1_tai) + self._tai_utc(t)
        xp = np.interp(t, self._node_s, self._xp)
        yp = np.interp(t, self._node_s, self._yp)
        j1, j2 = self.jd(t)
        gmst = erfa.gmst82(j1, j2 + dut1 / _DAY_S)
        # TIO locator s' (< 0.1 mas/century) from TT; UTC is close enough for it
        sp = erfa.sp00(j1, j2)
        return np.einsum("nij,njk->nik", erfa.pom00(xp, yp, sp), _rot3_stack(gmst))

    def states(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SGP4 position (km) and velocity (km/s) in TEME, shape (n, 3)."""
        j1, j2 = self.jd(t_s)
        err, r, v = self.satellite.satrec.sgp4_array(j1, j2)
        if np.any(err):
            k = int(np.flatnonzero(err)[0])
            raise PointingError(
                f"SGP4 fails for {self.satellite.label} at {_jd_iso(j1[k] + j2[k])[:19]} UTC "
                f"(error {int(err[k])}: decayed or absurd orbit this far from the epoch "
                f"{self.satellite.epoch_iso[:10]})")
        return r, v

    def sun_itrs(self, t_s: np.ndarray) -> np.ndarray:
        """Unit vector to the Sun (geocentric, ITRS), shape (n, 3); good to ~20″."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        nodes = np.arange(math.floor(t.min() / 300.0), math.ceil(t.max() / 300.0) + 1) * 300.0
        j1, j2 = self.jd(nodes)
        dut1 = np.interp(nodes, self._node_s, self._ut1_tai) + self._tai_utc(nodes)
        tt2 = j2 + (self._tai_utc(nodes) + 32.184) / _DAY_S
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", erfa.ErfaWarning)
            pvh, _pvb = erfa.epv00(j1, tt2)
            c2t = erfa.c2t06a(j1, tt2, j1, j2 + dut1 / _DAY_S,
                              np.interp(nodes, self._node_s, self._xp),
                              np.interp(nodes, self._node_s, self._yp))
        sun = np.einsum("nij,nj->ni", c2t, -pvh["p"])
        sun = np.column_stack([np.interp(t, nodes, sun[:, k]) for k in range(3)])
        return sun / np.linalg.norm(sun, axis=1, keepdims=True)

    def track(self, t_s: Any, *, with_sun: bool = True) -> Track:
        """The track at times ``t_s`` (s from the window start)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        r, v = self.states(t)
        m = self.teme_to_itrs(t)
        r_itrs = np.einsum("nij,nj->ni", m, r)
        v_inert = np.einsum("nij,nj->ni", m, v)  # inertial velocity, ITRS axes
        omega = np.array([0.0, 0.0, OMEGA_EARTH])
        v_rel = v_inert - np.cross(omega, r_itrs)  # Earth-fixed velocity
        rho = r_itrs - self.r_station
        rng = np.linalg.norm(rho, axis=1)
        rate = np.einsum("ni,ni->n", rho, v_rel) / rng
        if self.apparent:
            los = rho.copy()
            for _ in range(2):  # light time: where the satellite was when the light left
                tau = np.linalg.norm(los, axis=1) / C_KM_S
                los = rho - v_inert * tau[:, None]
            u = los / np.linalg.norm(los, axis=1, keepdims=True)
            beta = np.cross(omega, self.r_station) / C_KM_S  # station velocity / c
            u = u + beta - u * (u @ beta)[:, None]
        else:
            u = rho
        u = u / np.linalg.norm(u, axis=1, keepdims=True)
        enu = u @ self.enu.T
        az, el_obs, el_geo = self._observed(enu)
        if with_sun:
            sun = self.sun_itrs(t)
            sun_el = np.arcsin(np.clip(sun @ self.enu[2], -1.0, 1.0))
            sunlit = _sunlit(r_itrs, sun)
        else:
            sun_el = np.full(t.shape, np.nan)
            sunlit = np.zeros(t.shape, dtype=bool)
        return Track(az=az, el=el_obs, el_unrefracted=el_geo, range_km=rng,
                     range_rate_km_s=rate, sunlit=sunlit, sun_el=sun_el, r_teme=r, v_teme=v,
                     los_itrs=u, r_itrs=r_itrs, teme_to_itrs=m)

    def _observed(self, enu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Azimuth, refracted and unrefracted elevation from ENU unit vectors (eraAtioq)."""
        x, y, z = enu[:, 0], enu[:, 1], enu[:, 2]
        r = np.hypot(x, y)
        el_geo = np.arctan2(z, r)
        f = np.maximum(r, 1e-6)
        zc = np.maximum(z, 0.05)
        tz = f / zc
        w = self.refb * tz * tz
        dlt = (self.refa + w) * tz / (1.0 + (self.refa + 3.0 * w) / (zc * zc))
        cosd = 1.0 - 0.5 * dlt * dlt
        fac = cosd - dlt * z / f
        xo, yo, zo = x * fac, y * fac, cosd * z + dlt * f
        az = np.mod(np.arctan2(x, y), 2.0 * np.pi)
        el = np.arctan2(zo, np.hypot(xo, yo))
        return az, el, el_geo

    def elevation(self, t_s: Any) -> np.ndarray:
        """Observed elevation only (rad), for pass finding."""
        return self.track(t_s, with_sun=False).el


def _sunlit(r_itrs: np.ndarray, sun: np.ndarray) -> np.ndarray:
    """Satellite outside Earth's shadow: the Sun's centre above Earth's limb from it.

    Earth is a sphere of the equatorial radius and the Sun a point at
    infinity: the angle between the Earth's centre and the Sun seen from the
    satellite must exceed Earth's angular radius (penumbra counts as sunlit).
    """
    d = np.linalg.norm(r_itrs, axis=1)
    cos_angle = -np.einsum("ni,ni->n", r_itrs, sun) / d
    earth_radius = np.arcsin(np.clip(R_EARTH_KM / d, -1.0, 1.0))
    return np.arccos(np.clip(cos_angle, -1.0, 1.0)) > earth_radius
