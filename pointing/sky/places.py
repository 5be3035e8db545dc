"""Observed (apparent topocentric) azimuth and elevation of catalog stars.

The chain is ERFA's, vectorised over stars × times: catalog astrometry is
carried from its epoch (J1991.25) to J2000 with ``eraPmsafe``; then for each
time ``eraApco13`` (Earth orientation, precession-nutation, aberration,
light deflection, diurnal aberration, refraction constants) and for each star
and time ``eraAtciq`` (proper motion and parallax to date, to CIRS) and
``eraAtioq`` (to observed azimuth/elevation, refraction included).  This is
exactly ``eraAtco13`` with the star-independent part computed once per time.
Time scales and Earth orientation come from astropy.

Conventions: angles in radians; azimuth from north (0) through east
(π/2), in [0, 2π); elevation above the horizon, refracted for the station's
weather and the wavelength (default: the tracking camera's band).

Offline accuracy.  Earth orientation (UT1−UTC, polar motion) comes from the
IERS table shipped with astropy (``astropy-iers-data``): measured values plus
about one year of predictions.  Beyond the table the edge values are held,
so for future dates UT1−UTC may be wrong by up to ~0.9 s, i.e. up to ~13″
of Earth rotation (a position error on the sky of at most that times the
cosine of the star's declination); polar motion errors (< 0.5″) are
negligible.  Leap seconds
announced after the installed astropy also shift UTC by 1 s (15″ in hour
angle).  Update astropy-iers-data to remove both.  Refraction follows
ERFA's two-term ``eraRefco`` model for the given weather and wavelength: well
under 1″ of model error above 15° elevation, degrading toward the horizon;
the difference between the station file's default weather and the real
weather is usually the larger error.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping
from typing import Any

import erfa
import numpy as np
from astropy import units as u
from astropy.coordinates import AltAz, get_body
from astropy.time import Time
from astropy.utils import iers
from astropy.utils.exceptions import AstropyWarning

from pointing.errors import PointingError
from pointing.offline import configure_astropy
from pointing.units import DEG

__all__ = [
    "VALID_TIME_RANGE",
    "body_altaz",
    "check_times",
    "earth_orientation",
    "moon_altaz",
    "moon_phase",
    "observed_altaz",
    "star_astrometry",
    "sun_altaz",
    "weather",
]

#: UTC range accepted for apparent places (ISO strings): ERFA's UTC is
#: defined from 1960, and proper motions from J1991.25 are kept to this century
VALID_TIME_RANGE = ("1960-01-01T00:00:00", "2100-01-01T00:00:00")

_MAS = np.pi / (180.0 * 3600.0 * 1000.0)
_EPOCH_1991_25_JD = 2448349.0625  # J1991.25 (TT), the Hipparcos epoch
_J2000_JD = 2451545.0
_MJD_ZERO = 2400000.5  # JD of MJD 0


def check_times(times: Any):
    """Convert to :class:`astropy.time.Time` and check it is in the valid range.

    Raises
    ------
    PointingError
        Unparseable time, or outside :data:`VALID_TIME_RANGE`.
    """
    configure_astropy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)  # "dubious year" for far dates
        try:
            t = times if isinstance(times, Time) else Time(times, scale="utc")
            jd1, jd2 = _utc_jd(t)
        except (ValueError, TypeError) as exc:
            raise PointingError(f"cannot read time {times!r}: {exc}") from None
    (lo1, lo2), (hi1, hi2) = _valid_bounds()
    # as astropy compares times: the two-part difference, summed
    bad = ((jd1 - lo1) + (jd2 - lo2) < 0) | ((jd1 - hi1) + (jd2 - hi2) >= 0)
    if np.any(bad):
        first = t.reshape(-1)[np.flatnonzero(bad)[0]] if t.ndim else t
        raise PointingError(
            f"time {first.utc.isot} is outside the range this catalog and ERFA's UTC "
            f"support ({VALID_TIME_RANGE[0][:10]} .. {VALID_TIME_RANGE[1][:10]})"
        )
    return t


@functools.cache
def _valid_bounds() -> tuple[tuple[float, float], tuple[float, float]]:
    """Two-part UTC Julian dates of :data:`VALID_TIME_RANGE`, computed once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)  # 2100 is past the leap table
        lo, hi = (Time(s, scale="utc") for s in VALID_TIME_RANGE)
        return (float(lo.jd1), float(lo.jd2)), (float(hi.jd1), float(hi.jd2))


def _utc_jd(t: Time) -> tuple[np.ndarray, np.ndarray]:
    """Two-part UTC Julian date of a time, flattened to 1-D arrays."""
    u = t if t.scale == "utc" else t.utc
    return np.ravel(u.jd1), np.ravel(u.jd2)


class _EopTable:
    """The installed IERS table as plain numpy arrays, interpolated as astropy does.

    :meth:`astropy.utils.iers.IERS.ut1_utc` and ``pm_xy`` build Quantities and
    Time objects on every call (~0.3 ms); this reads the columns once and
    repeats astropy's arithmetic operation for operation (linear in MJD,
    leap-second steps removed from the UT1−UTC difference, edge values held
    beyond the table), so the results agree to rounding.
    """

    def __init__(self, table: Any):
        self.source = table
        self.mjd = np.asarray(table["MJD"].to_value("d"), dtype=float)
        self.ut1_utc = np.asarray(table["UT1_UTC"].to_value("s"), dtype=float)
        self.pm_x = np.asarray(table["PM_x"].to_value("rad"), dtype=float)
        self.pm_y = np.asarray(table["PM_y"].to_value("rad"), dtype=float)

    def interpolate(self, jd1: np.ndarray, jd2: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(dut1 s, xp rad, yp rad, in_table)`` at two-part UTC Julian dates."""
        mjd = np.floor(jd1 - _MJD_ZERO + jd2)
        utc = jd1 - (_MJD_ZERO + mjd) + jd2
        i = np.searchsorted(self.mjd, mjd, side="right")
        i1 = np.clip(i, 1, len(self.mjd) - 1)
        i0 = i1 - 1
        mjd_0, mjd_1 = self.mjd[i0], self.mjd[i1]
        before, beyond = i == 0, i == len(self.mjd)
        out = []
        for column, leap in ((self.ut1_utc, True), (self.pm_x, False), (self.pm_y, False)):
            val_0, val_1 = column[i0], column[i1]
            d_val = val_1 - val_0
            if leap:  # a leap second is a 1 s step at the second point, not a rate
                d_val -= d_val.round()
            val = val_0 + (mjd - mjd_0 + utc) / (mjd_1 - mjd_0) * d_val
            val[before] = column[0]
            val[beyond] = column[-1]
            out.append(val)
        return out[0], out[1], out[2], ~(before | beyond)


_EOP: list[_EopTable] = []


def _eop_table() -> _EopTable:
    """The numpy copy of astropy's current Earth-orientation table (rebuilt if it changes)."""
    configure_astropy()
    table = iers.earth_orientation_table.get()
    if not _EOP or _EOP[0].source is not table:
        _EOP[:] = [_EopTable(table)]
    return _EOP[0]


def earth_orientation(times) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """UT1−UTC (s) and polar motion x, y (radians) from the installed IERS table.

    Returns ``(dut1, xp, yp, in_table)``; ``in_table`` is False where the
    time is outside the table and the edge values were held.  Same shape as
    ``times``.
    """
    t = times if isinstance(times, Time) else Time(times, scale="utc")
    jd1, jd2 = _utc_jd(t)
    return tuple(np.reshape(v, t.shape) for v in _eop_table().interpolate(jd1, jd2))


def star_astrometry(stars: Any) -> dict[str, np.ndarray]:
    """Catalog astrometry carried to epoch J2000 in ERFA's units.

    Parameters
    ----------
    stars : Table or mapping
        Columns ``ra, dec`` (deg, ICRS at J1991.25), ``pmra`` (mas/yr, times
        cos dec), ``pmdec`` (mas/yr), ``parallax`` (mas), as in
        :func:`pointing.load_catalog`.

    Returns
    -------
    dict
        ``rc, dc`` (radians, ICRS at J2000), ``pr`` (dRA/dt, rad/yr), ``pd``
        (rad/yr), ``px`` (arcsec, ≥ 0), ``rv`` (km/s, 0: Hipparcos has none).
    """
    try:
        ra = np.radians(np.asarray(stars["ra"], dtype=float))
        dec = np.radians(np.asarray(stars["dec"], dtype=float))
        pmra = np.asarray(stars["pmra"], dtype=float) * _MAS
        pmdec = np.asarray(stars["pmdec"], dtype=float) * _MAS
        px = np.clip(np.asarray(stars["parallax"], dtype=float), 0.0, None) / 1000.0
    except (KeyError, ValueError) as exc:
        raise PointingError(
            f"star table needs numeric columns ra, dec, pmra, pmdec, parallax: {exc}"
        ) from None
    if not (np.all(np.isfinite(ra)) and np.all(np.isfinite(dec))):
        raise PointingError("star table has non-finite ra/dec")
    pr = pmra / np.cos(dec)
    with warnings.catch_warnings():
        # zero parallax: ERFA substitutes a minimum parallax and says so
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        rc, dc, pr2, pd2, px2, _rv2 = erfa.pmsafe(
            ra, dec, pr, pmdec, px, np.zeros_like(ra),
            _EPOCH_1991_25_JD, 0.0, _J2000_JD, 0.0,
        )
    # keep the catalog parallax (pmsafe raises zero parallaxes to its minimum)
    px2 = np.where(px > 0, px2, 0.0)
    return {"rc": rc, "dc": dc, "pr": pr2, "pd": pd2, "px": px2, "rv": np.zeros_like(rc)}


def weather(station, pressure_hpa=None, temperature_c=None, humidity=None, wavelength_um=None,
            refraction=True) -> tuple[float, float, float, float]:
    """Pressure (hPa), temperature (°C), humidity (0..1), wavelength (µm) for refraction.

    Each argument left None takes the station's value; ``refraction=False`` sets
    the pressure to zero (no refraction).
    """
    w = station.weather
    p = w.pressure_hpa if pressure_hpa is None else float(pressure_hpa)
    t = w.temperature_c if temperature_c is None else float(temperature_c)
    h = w.humidity if humidity is None else float(humidity)
    wl = station.wavelengths.camera_um if wavelength_um is None else float(wavelength_um)
    if not refraction:
        p = 0.0
    return p, t, h, wl


def observed_altaz(
    stars: Any,
    station,
    times: Any,
    *,
    wavelength_um: float | None = None,
    pressure_hpa: float | None = None,
    temperature_c: float | None = None,
    humidity: float | None = None,
    refraction: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed azimuth and elevation of stars at one or many times.

    Parameters
    ----------
    stars : Table, mapping or dict from :func:`star_astrometry`
        Catalog rows (see :func:`star_astrometry`), ``n`` stars.
    station : pointing.station.Station
        Site and default weather.
    times : astropy.time.Time or anything it accepts (UTC)
        Scalar or array of ``m`` times.
    wavelength_um : float, optional
        Wavelength for refraction, µm (default: the station's tracking
        camera band ``station.wavelengths.camera_um``).
    pressure_hpa, temperature_c, humidity : float, optional
        Override the station's default weather (hPa, °C, relative 0..1).
    refraction : bool
        False gives unrefracted (topocentric apparent) positions.

    Returns
    -------
    az, el : ndarray
        Radians; azimuth from north (0) through east (π/2) in [0, 2π).
        Shape ``(n,)`` for a scalar time, else ``(n,) + times.shape``.

    Raises
    ------
    PointingError
        Times outside :data:`VALID_TIME_RANGE` or unusable star columns.
    """
    t = check_times(times)
    astro = stars if isinstance(stars, Mapping) and "rc" in stars else star_astrometry(stars)
    p, tc, rh, wl = weather(station, pressure_hpa, temperature_c, humidity, wavelength_um,
                             refraction)
    scalar = t.ndim == 0
    jd1, jd2 = _utc_jd(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)  # "dubious year" after the leap table
        dut1, xp, yp, _ = _eop_table().interpolate(jd1, jd2)
        astrom, _eo = erfa.apco13(
            jd1, jd2, dut1,
            np.radians(station.longitude_deg), np.radians(station.latitude_deg),
            station.height_m, xp, yp, p, tc, rh, wl,
        )
        ri, di = erfa.atciq(
            astro["rc"][:, None], astro["dc"][:, None], astro["pr"][:, None],
            astro["pd"][:, None], astro["px"][:, None], astro["rv"][:, None],
            astrom[None, :],
        )
        aob, zob, _hob, _dob, _rob = erfa.atioq(ri, di, astrom[None, :])
    az = np.mod(aob, 2.0 * np.pi)
    el = 0.5 * np.pi - zob
    n = astro["rc"].shape[0]
    shape = (n,) if scalar else (n, *t.shape)
    return az.reshape(shape), el.reshape(shape)


def moon_altaz(
    station,
    times: Any,
    *,
    wavelength_um: float | None = None,
    refraction: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed azimuth and elevation of the Moon's centre (radians).

    Uses astropy's built-in ephemeris (no download) and the station's
    weather for refraction.  Azimuth from north (0) through east (π/2).
    Shape of ``times``.

    A single time is interpolated between whole UTC minutes, which are
    computed an hour at a time and kept (a night asks for the Moon at
    every pointing; one astropy transform costs ~10 ms): linear
    interpolation of the direction over one minute is good to ~0.5″
    (the Moon's apparent motion is ~15″/s), far below what the sky
    background it feeds can tell.  Arrays of times are computed exactly.
    """
    return body_altaz("moon", station, times, wavelength_um=wavelength_um,
                      refraction=refraction)


def sun_altaz(station, times: Any, *, refraction: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Observed azimuth and elevation of the Sun's centre (radians), as :func:`moon_altaz`."""
    return body_altaz("sun", station, times, refraction=refraction)


def body_altaz(
    body: str,
    station,
    times: Any,
    *,
    wavelength_um: float | None = None,
    refraction: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed azimuth and elevation of a solar-system body ("moon", "sun"), radians.

    The Moon at a single time comes from the cached whole-minute directions
    (see :func:`moon_altaz`); everything else through astropy's AltAz.
    """
    t = check_times(times)
    w = weather(station, None, None, None, wavelength_um, refraction)
    if body == "moon" and t.ndim == 0:
        return _moon_interpolated(station, w, t)
    return _body_exact(body, station, w, t)


def _body_exact(body: str, station, weather: tuple[float, float, float, float], t: Time
                ) -> tuple[np.ndarray, np.ndarray]:
    """Observed az/el of a body through astropy's AltAz transform (radians)."""
    p, tc, rh, wl = weather
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        # beyond the IERS table astropy falls back to mean polar motion (< 0.5")
        warnings.filterwarnings("ignore", "Tried to get polar motions", AstropyWarning)
        where = get_body(body, t, location=station.location)
        frame = AltAz(obstime=t, location=station.location, pressure=p * u.hPa,
                      temperature=tc * u.deg_C, relative_humidity=rh, obswl=wl * u.micron)
        aa = where.transform_to(frame)
    return (np.asarray(aa.az.to_value(u.rad)) % (2.0 * np.pi),
            np.asarray(aa.alt.to_value(u.rad)))


#: Moon directions at whole UTC minutes, one hour per entry, per site and weather
_MOON_HOURS: dict[tuple, np.ndarray] = {}


def _moon_interpolated(station, weather: tuple[float, float, float, float], t: Time
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The Moon at one time from the cached whole-minute directions (see :func:`moon_altaz`)."""
    jd1, jd2 = _utc_jd(t)
    minutes = float(((jd1[0] - _MJD_ZERO) + jd2[0]) * 1440.0)
    hour = math.floor(minutes / 60.0)
    site = (station.longitude_deg, station.latitude_deg, station.height_m)
    key = (site, weather, hour)
    if key not in _MOON_HOURS:
        if len(_MOON_HOURS) > 256:  # a long-lived process keeps a few nights at most
            _MOON_HOURS.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", erfa.ErfaWarning)
            nodes = Time((hour * 60 + np.arange(61)) / 1440.0, format="mjd", scale="utc")
        az, el = _body_exact("moon", station, weather, nodes)
        _MOON_HOURS[key] = np.stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az),
                                     np.sin(el)])
    vec = _MOON_HOURS[key]
    k = min(int(minutes - hour * 60), 59)
    f = minutes - hour * 60 - k
    x, y, z = (1.0 - f) * vec[:, k] + f * vec[:, k + 1]
    return (np.asarray(math.atan2(x, y) % (2.0 * np.pi)),
            np.asarray(math.atan2(z, math.hypot(x, y))))


def moon_phase(time: Any) -> float:
    """Illuminated fraction of the Moon (0..1) at a UTC time (astropy ephemeris).

    Interpolated linearly between whole UTC hours, which are computed once
    and kept: the fraction changes by at most ~0.01 an hour and bends so
    slowly that the interpolation is good to ~1e-5 (one exact value costs
    ~20 ms of astropy, and a night asks at every star).
    """
    t = time if isinstance(time, Time) else Time(time, scale="utc")
    hours = float(t.utc.mjd) * 24.0
    hour = math.floor(hours)
    if hour not in _PHASE_HOURS:
        if len(_PHASE_HOURS) > 1024:
            _PHASE_HOURS.clear()
        _PHASE_HOURS[hour] = _moon_phase_exact(
            Time(np.array([hour, hour + 1]) / 24.0, format="mjd", scale="utc"))
    f0, f1 = _PHASE_HOURS[hour]
    return float(f0 + (hours - hour) * (f1 - f0))


#: illuminated fraction at the start and end of each UTC hour (MJD hours)
_PHASE_HOURS: dict[int, np.ndarray] = {}


def _moon_phase_exact(times: Time) -> np.ndarray:
    """Illuminated fraction of the Moon at astropy times (exact, elongation from the Sun)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)  # "dubious year" far in the future
        moon = get_body("moon", times)
        sun = get_body("sun", times)
        elongation = np.asarray(sun.separation(moon).rad)
    return 0.5 * (1.0 - np.cos(elongation))


def catalog_j2000_deg(stars: Any) -> tuple[np.ndarray, np.ndarray]:
    """ICRS right ascension and declination at epoch J2000 (degrees)."""
    astro = stars if isinstance(stars, Mapping) and "rc" in stars else star_astrometry(stars)
    return np.degrees(astro["rc"]) % 360.0, np.degrees(astro["dc"])


# ---------------------------------------------------------------------------------------------
# observed alt-az <-> JNow and ICRS (for mounts that move in right ascension and declination)


def _astrom(station: Any, time: Any, refraction: bool = True) -> tuple[Any, float]:
    """ERFA's star-independent astrometry for the station at one UTC time, and eo."""
    from astropy.time import Time


    configure_astropy()
    t = Time(time, scale="utc")
    p, tc, rh, wl = weather(station, None, None, None, None, refraction)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        dut1, xp, yp, _ = earth_orientation(t.reshape(1))
        astrom, eo = erfa.apco13(t.jd1, t.jd2, float(dut1[0]), station.longitude_deg * DEG,
                                 station.latitude_deg * DEG, station.height_m, float(xp[0]),
                                 float(yp[0]), p, tc, rh, wl)
    return astrom, float(eo)


def altaz_to_jnow(az: Any, el: Any, station: Any, time: Any, *, refraction: bool = True
                  ) -> tuple[Any, Any]:
    """Observed azimuth/elevation → JNow (apparent, true equinox of date) RA/Dec.

    Parameters
    ----------
    az, el : float or array
        Radians; azimuth from north (0) through east (π/2); elevation
        refracted for the station's weather at ``station.wavelengths.camera_um``
        (as :func:`pointing.sky.places.observed_altaz` gives star places).
    station : pointing.station.Station
    time : astropy Time or str, UTC (scalar)
    refraction : bool
        False for unrefracted (topocentric apparent) elevations.

    Returns
    -------
    ra, dec : radians; ra in [0, 2π)
    """
    astrom, eo = _astrom(station, time, refraction)
    ri, di = erfa.atoiq("A", np.asarray(az, dtype=float), 0.5 * np.pi - np.asarray(el, float),
                        astrom)
    return np.mod(ri - eo, 2 * np.pi), di


def jnow_to_altaz(ra: Any, dec: Any, station: Any, time: Any, *, refraction: bool = True
                  ) -> tuple[Any, Any]:
    """JNow RA/Dec (radians) → observed azimuth/elevation (radians), inverse of
    :func:`altaz_to_jnow`; azimuth from north through east in [0, 2π)."""
    astrom, eo = _astrom(station, time, refraction)
    aob, zob, _h, _d, _r = erfa.atioq(np.asarray(ra, dtype=float) + eo,
                                      np.asarray(dec, dtype=float), astrom)
    return np.mod(aob, 2 * np.pi), 0.5 * np.pi - zob


def altaz_to_icrs(az: Any, el: Any, station: Any, time: Any) -> tuple[Any, Any]:
    """Observed azimuth/elevation (radians) → ICRS astrometric RA/Dec (radians).

    The astrometric place is the catalog direction with proper motion and
    parallax applied for the date, without aberration and light deflection:
    what :func:`pointing.hardware.indi.gsc.write_star_list` writes, and the
    frame INDI's CCD simulator calls J2000.
    """
    astrom, _eo = _astrom(station, time)
    ri, di = erfa.atoiq("A", np.asarray(az, dtype=float), 0.5 * np.pi - np.asarray(el, float),
                        astrom)
    rc, dc = erfa.aticq(ri, di, astrom)
    return np.mod(rc, 2 * np.pi), dc
