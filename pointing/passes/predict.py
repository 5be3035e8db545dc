"""Pass prediction: every pass of a satellite above a minimum elevation in a window.

The observed (refracted) elevation is sampled on a coarse grid (20 s), its
local maxima are refined by a vectorised golden-section search and the
crossings of the minimum elevation (and of the quantum threshold, 20°) by a
vectorised Illinois root search, all passes at once: a few dozen vectorised
track evaluations for a whole day.  A pass whose maximum lies between grid
points but whose grid samples all stay below the minimum is still found
(maxima up to 3° below the minimum on the grid are refined).

Each pass is then sampled every second for the conditions of a quantum
link: the station in night (the Sun below −12°), the satellite in Earth's
shadow, the elevation above the quantum threshold; the first and last
usable seconds are where all three hold, and ``qkd_possible`` needs at
least ``min_usable_s`` (60 s) of them.

Times are numpy ``datetime64[us]`` in UTC (no leap seconds inside a pass).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import erfa
import numpy as np

from pointing.errors import PointingError
from pointing.passes.orbit import Satellite, TrackComputer
from pointing.sky.places import check_times

__all__ = ["MAX_WINDOW_H", "NoPassError", "Pass", "PassList", "predict_passes"]

#: longest prediction window, hours: element sets go stale within days
MAX_WINDOW_H = 240.0
#: farthest from the element epoch a prediction may start, days
MAX_PROPAGATION_DAYS = 30.0
_DAY_S = 86400.0
_UNIX_JD = 2440587.5
_GOLDEN = 0.5 * (math.sqrt(5.0) - 1.0)


class NoPassError(PointingError):
    """No pass above the minimum elevation in the window."""


def jd_to_datetime64(jd: Any) -> np.ndarray:
    """Julian date (UTC) to ``datetime64[us]`` (no leap seconds)."""
    us = np.round((np.asarray(jd, dtype=float) - _UNIX_JD) * _DAY_S * 1e6)
    return us.astype("int64").astype("datetime64[us]")


def datetime64_to_jd(t: Any) -> np.ndarray:
    """``datetime64`` (UTC) to Julian date."""
    us = np.asarray(t, dtype="datetime64[us]").astype("int64")
    return _UNIX_JD + us / (_DAY_S * 1e6)


def iso(t: Any) -> str | None:
    """ISO 8601 UTC text (milliseconds, ``Z``) of a ``datetime64``; None stays None."""
    if t is None:
        return None
    return str(np.datetime_as_string(np.datetime64(t, "ms"), unit="ms")) + "Z"


@dataclass(frozen=True)
class Pass:
    """One pass above the minimum elevation (observed, refracted elevations).

    Times are ``numpy.datetime64[us]`` UTC; angles degrees (azimuth from
    north through east); ``duration_s`` is the time above ``min_el_deg``,
    ``duration_above_20_s`` above the quantum threshold ``qkd_min_el_deg``.
    ``station_dark``: the Sun below −12° at the station during the whole pass;
    ``satellite_sunlit``: the satellite is in sunlight for part of the pass;
    ``shadow_fraction``: the fraction of the pass spent in Earth's shadow.
    ``usable_start`` / ``usable_end``: first and last second with the
    satellite above the threshold, in shadow, and the station dark (None when
    there is none); ``usable_s`` the number of such seconds; ``qkd_possible``
    when that is at least the required mutual visibility (60 s).
    """

    number: int
    rise: np.datetime64
    culmination: np.datetime64
    set: np.datetime64
    max_el_deg: float
    rise_az_deg: float
    culmination_az_deg: float
    set_az_deg: float
    min_el_deg: float
    duration_s: float
    qkd_min_el_deg: float
    above_20_start: np.datetime64 | None
    above_20_end: np.datetime64 | None
    duration_above_20_s: float
    station_dark: bool
    satellite_sunlit: bool
    shadow_fraction: float
    usable_start: np.datetime64 | None
    usable_end: np.datetime64 | None
    usable_s: float
    qkd_possible: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times ISO UTC)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, np.datetime64) or (value is None and key.endswith(
                    ("_start", "_end"))):
                out[key] = iso(value)
            elif isinstance(value, float):
                out[key] = round(value, 4)
            else:
                out[key] = value
        return out


@dataclass
class PassList:
    """The passes of one satellite over one station in a window."""

    station: Any
    satellite: Satellite
    start: np.datetime64
    hours: float
    min_el_deg: float
    passes: list[Pass] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``pointing pass --json`` document."""
        keys = ("number", "rise", "culmination", "set", "max_el_deg", "duration_s",
                "duration_above_20_s", "station_dark", "satellite_sunlit", "qkd_possible",
                "rise_az_deg", "culmination_az_deg", "set_az_deg", "shadow_fraction",
                "usable_start", "usable_end", "usable_s")
        return {
            "station": self.station.name,
            "satellite": self.satellite.label,
            "catalog_number": self.satellite.catalog_number,
            "elements_epoch": self.satellite.epoch_iso[:23] + "Z",
            "start": iso(self.start),
            "hours": self.hours,
            "min_el_deg": self.min_el_deg,
            "passes": [{k: p.to_dict()[k] for k in keys} for p in self.passes],
        }

    def get(self, number: int) -> Pass:
        """Pass ``number`` (1-based, in time order)."""
        if not self.passes:
            raise NoPassError(self.no_pass_message())
        if not 1 <= number <= len(self.passes):
            raise PointingError(f"--pass {number}: there are {len(self.passes)} passes "
                                f"(1 .. {len(self.passes)})")
        return self.passes[number - 1]

    def no_pass_message(self) -> str:
        return (f"no pass of {self.satellite.label} above {self.min_el_deg:g} deg over "
                f"{self.station.name} in the {self.hours:g} h from {iso(self.start)}")


def _start_jd(start: Any) -> float:
    if isinstance(start, np.datetime64):
        return float(datetime64_to_jd(start))
    t = check_times(start)
    if t.ndim:
        raise PointingError("start must be a single time")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        return float(t.utc.jd1 + t.utc.jd2)


def check_window(satellite: Satellite, start_jd: float, hours: float,
                 max_age_days: float = 3.0) -> None:
    """Refuse absurd windows; warn when the elements are stale at the start."""
    if not (math.isfinite(hours) and 0 < hours <= MAX_WINDOW_H):
        raise PointingError(f"--hours {hours:g}: the window must be > 0 and at most "
                            f"{MAX_WINDOW_H:g} h (element sets go stale within days)")
    for jd in (start_jd, start_jd + hours / 24.0):
        age = satellite.age_days(jd)
        if abs(age) > MAX_PROPAGATION_DAYS:
            raise PointingError(
                f"{satellite.source}: elements of {satellite.label} have epoch "
                f"{satellite.epoch_iso[:10]}, {abs(age):.0f} days from the window; SGP4 is "
                f"meaningless beyond {MAX_PROPAGATION_DAYS:g} days: use current elements "
                f"or --start near the epoch")
    satellite.check_age(start_jd, max_age_days)


def _golden_max(f, lo: np.ndarray, hi: np.ndarray, tol: float = 1e-3
                ) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised golden-section maximisation of ``f`` on brackets [lo, hi]."""
    a, b = lo.astype(float).copy(), hi.astype(float).copy()
    n = a.size
    while n and np.max(b - a) > tol:
        c = b - _GOLDEN * (b - a)
        d = a + _GOLDEN * (b - a)
        fcd = f(np.concatenate([c, d]))
        left = fcd[:n] > fcd[n:]  # the maximum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
    t = 0.5 * (a + b)
    return t, (f(t) if n else t)


def _roots(f, lo: np.ndarray, hi: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """Vectorised Illinois search for the sign change of ``f`` in each [lo, hi]."""
    a, b = lo.astype(float).copy(), hi.astype(float).copy()
    if a.size == 0:
        return a
    fa, fb = f(a), f(b)
    for _ in range(80):
        if np.all((np.abs(b - a) < tol) | (fb == 0)):
            break
        denom = np.where(fb != fa, fb - fa, 1.0)
        c = np.where(fb != fa, b - fb * (b - a) / denom, 0.5 * (a + b))
        fc = f(c)
        flip = np.sign(fc) != np.sign(fb)
        a, fa = np.where(flip, b, a), np.where(flip, fb, 0.5 * fa)
        b, fb = c, fc
    return b


def _candidates(tc: TrackComputer, span_s: float, min_el: float, grid_s: float):
    """Refined elevation maxima (t, el) of the passes culminating in [0, span_s]."""
    t = np.arange(-1800.0, span_s + 1800.0 + grid_s, grid_s)
    el = tc.elevation(t)
    k = np.flatnonzero((el[1:-1] >= el[:-2]) & (el[1:-1] > el[2:])
                       & (el[1:-1] > min_el - math.radians(3.0))) + 1
    tm, em = _golden_max(tc.elevation, t[k - 1], t[k + 1])
    keep = (em >= min_el) & (tm >= 0.0) & (tm <= span_s)
    return t, el, tm[keep], em[keep]


def _crossings(tc, t, el, tm, level):
    """Rise and set times through ``level`` (rad) around each maximum time ``tm``."""
    below = np.flatnonzero(el < level)
    pos = np.searchsorted(t[below], tm)
    lo_i = below[np.clip(pos - 1, 0, below.size - 1)]
    hi_i = below[np.clip(pos, 0, below.size - 1)]
    if np.any(t[lo_i] >= tm) or np.any(t[hi_i] <= tm):
        raise PointingError("a pass extends beyond the computed margin (30 min) of the "
                            "window: the orbit is not a low Earth orbit")

    def f(x):
        return tc.elevation(x) - level

    rise = _roots(f, t[lo_i], tm)
    set_ = _roots(f, tm, t[hi_i])
    return rise, set_, lo_i


def predict_passes(station, satellite: Satellite, start: Any, hours: float = 24.0,
                   min_el_deg: float = 10.0, *, qkd_min_el_deg: float | None = None,
                   min_usable_s: float = 60.0, max_age_days: float = 3.0,
                   grid_s: float = 20.0, refraction: bool = True, apparent: bool = True,
                   polar_motion: bool = True) -> PassList:
    """Every pass above ``min_el_deg`` (observed elevation) in a window.

    Parameters
    ----------
    station : pointing.station.Station
    satellite : Satellite
    start : astropy Time, ISO text or numpy datetime64 (UTC)
        Start of the window; passes culminating in the window are listed
        (rise may precede ``start``).
    hours : float
        Window length (at most :data:`MAX_WINDOW_H`).
    min_el_deg : float
        Minimum observed elevation, degrees.
    qkd_min_el_deg : float, optional
        Quantum threshold (default: the station's
        ``thresholds.pass_min_elevation_deg``, else 20°).
    min_usable_s : float
        Usable seconds needed for ``qkd_possible`` (mutual visibility).
    max_age_days : float
        Warn when the elements are older than this at the start.
    refraction, apparent, polar_motion : bool
        See :class:`~pointing.passes.orbit.TrackComputer`.

    Raises
    ------
    PointingError
        Window too long, elements too far from their epoch, bad minimum.
    """
    if not (math.isfinite(min_el_deg) and -3.0 <= min_el_deg < 89.0):
        raise PointingError(f"--min-el {min_el_deg:g}: must be between -3 and 89 deg")
    qkd_el = _qkd_threshold(station, qkd_min_el_deg)
    jd0 = _start_jd(start)
    check_window(satellite, jd0, hours, max_age_days)
    span = hours * 3600.0
    tc = TrackComputer(station, satellite, jd0, span, refraction=refraction,
                       apparent=apparent, polar_motion=polar_motion)
    lst = PassList(station=station, satellite=satellite, start=jd_to_datetime64(jd0),
                   hours=float(hours), min_el_deg=float(min_el_deg),
                   options=dict(refraction=refraction, apparent=apparent,
                                qkd_min_el_deg=qkd_el))
    min_el = math.radians(min_el_deg)
    t, el, tm, em = _candidates(tc, span, min_el, grid_s)
    if tm.size == 0:
        return lst
    rise, set_, group = _crossings(tc, t, el, tm, min_el)
    # one pass per rise bracket (a flat top could give two maxima)
    _, first = np.unique(group, return_index=True)
    best = [max(np.flatnonzero(group == group[i]), key=lambda j: em[j]) for i in first]
    order = np.array(sorted(best, key=lambda j: tm[j]), dtype=int)
    tm, em, rise, set_ = tm[order], em[order], rise[order], set_[order]
    hi = _above(tc, t, el, tm, em, math.radians(qkd_el))
    for n in range(tm.size):
        lst.passes.append(_make_pass(tc, n + 1, rise[n], tm[n], set_[n], em[n], hi[0][n],
                                     hi[1][n], min_el_deg, qkd_el, min_usable_s))
    return lst


def _qkd_threshold(station, value: float | None) -> float:
    if value is not None:
        return float(value)
    from pointing.config.schema import get_number, get_section

    th = get_section(station, "thresholds")
    return float(get_number(th, "thresholds", "pass_min_elevation_deg", 20.0,
                            minimum=-3.0, maximum=89.0))


def _above(tc, t, el, tm, em, level):
    """Start and end of each pass above ``level`` (NaN where the pass stays below)."""
    start = np.full(tm.shape, np.nan)
    end = np.full(tm.shape, np.nan)
    ok = em >= level
    if np.any(ok):
        r, s, _ = _crossings(tc, t, el, tm[ok], level)
        start[ok], end[ok] = r, s
    return start, end


def _make_pass(tc, number, rise, tmax, set_, emax, a20, b20, min_el_deg, qkd_el,
               min_usable_s) -> Pass:
    ts = np.append(np.arange(rise, set_, 1.0), set_)
    tr = tc.track(np.concatenate([ts, [tmax]]))
    sun_el, sunlit = tr.sun_el[:-1], tr.sunlit[:-1]
    el = tr.el[:-1]
    dark = sun_el < math.radians(-12.0)
    usable = dark & ~sunlit & (el >= math.radians(qkd_el))
    idx = np.flatnonzero(usable)
    to_dt = lambda x: jd_to_datetime64(tc.jd1 + tc.jd2 + x / _DAY_S)[()]  # noqa: E731
    has20 = bool(np.isfinite(a20))
    return Pass(
        number=number, rise=to_dt(rise), culmination=to_dt(tmax), set=to_dt(set_),
        max_el_deg=math.degrees(emax), rise_az_deg=math.degrees(tr.az[0]),
        culmination_az_deg=math.degrees(tr.az[-1]), set_az_deg=math.degrees(tr.az[-2]),
        min_el_deg=float(min_el_deg), duration_s=float(set_ - rise),
        qkd_min_el_deg=float(qkd_el),
        above_20_start=to_dt(a20) if has20 else None,
        above_20_end=to_dt(b20) if has20 else None,
        duration_above_20_s=float(b20 - a20) if has20 else 0.0,
        station_dark=bool(np.all(dark)), satellite_sunlit=bool(np.any(sunlit)),
        shadow_fraction=float(np.mean(~sunlit)),
        usable_start=to_dt(ts[idx[0]]) if idx.size else None,
        usable_end=to_dt(ts[idx[-1]]) if idx.size else None,
        usable_s=float(idx.size), qkd_possible=bool(idx.size >= min_usable_s),
    )
