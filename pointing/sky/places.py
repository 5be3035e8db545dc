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

import math
import warnings
from collections.abc import Mapping
from typing import Any

import erfa
import numpy as np

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


def check_times(times: Any):
    """Convert to :class:`astropy.time.Time` and check it is in the valid range.

    Raises
    ------
    PointingError
        Unparseable time, or outside :data:`VALID_TIME_RANGE`.
    """
    configure_astropy()
    from astropy.time import Time

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)  # "dubious year" for far dates
        try:
            t = times if isinstance(times, Time) else Time(times, scale="utc")
        except (ValueError, TypeError) as exc:
            raise PointingError(f"cannot read time {times!r}: {exc}") from None
        lo, hi = (Time(s, scale="utc") for s in VALID_TIME_RANGE)
        bad = (t < lo) | (t >= hi)
        if np.any(bad):
            first = t[bad][0] if t.ndim else t
            raise PointingError(
                f"time {first.utc.isot} is outside the range this catalog and ERFA's UTC "
                f"support ({VALID_TIME_RANGE[0][:10]} .. {VALID_TIME_RANGE[1][:10]})"
            )
    return t


def earth_orientation(times) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """UT1−UTC (s) and polar motion x, y (radians) from the installed IERS table.

    Returns ``(dut1, xp, yp, in_table)``; ``in_table`` is False where the
    time is outside the table and the edge values were held.
    """
    configure_astropy()
    from astropy.utils import iers

    table = iers.earth_orientation_table.get()
    dut1, status = table.ut1_utc(times, return_status=True)
    xp, yp, _ = table.pm_xy(times, return_status=True)
    return (
        np.asarray(dut1.to_value("s"), dtype=float),
        np.asarray(xp.to_value("rad"), dtype=float),
        np.asarray(yp.to_value("rad"), dtype=float),
        np.asarray(status) >= 0,
    )


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
    t_flat = t.reshape(-1) if not scalar else t.reshape(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)  # "dubious year" after the leap table
        utc = t_flat.utc
        dut1, xp, yp, _ = earth_orientation(utc)
        astrom, _eo = erfa.apco13(
            utc.jd1, utc.jd2, dut1,
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
    """Observed azimuth and elevation of a solar-system body ("moon", "sun"), radians."""
    t = check_times(times)
    from astropy import units as u
    from astropy.coordinates import AltAz, get_body

    p, tc, rh, wl = weather(station, None, None, None, wavelength_um, refraction)
    from astropy.utils.exceptions import AstropyWarning

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


def moon_phase(time: Any) -> float:
    """Illuminated fraction of the Moon (0..1) at a UTC time (astropy ephemeris)."""
    from astropy.coordinates import get_body

    moon = get_body("moon", time)
    sun = get_body("sun", time)
    elongation = float(sun.separation(moon).rad)
    return 0.5 * (1.0 - math.cos(elongation))


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
