"""Observed places: agreement with ERFA's atco13 and astropy, conventions, offline."""

from __future__ import annotations

import socket
import warnings

import astropy.units as u
import erfa
import numpy as np
import pytest
from astropy.coordinates import AltAz, Distance, SkyCoord
from astropy.time import Time
from astropy.utils import iers

from pointing.config.station import load_station
from pointing.errors import PointingError
from pointing.sky.catalog import load_catalog
from pointing.sky.places import (
    catalog_j2000_deg,
    check_times,
    moon_altaz,
    observed_altaz,
)

ARCSEC = np.pi / (180 * 3600)
T0 = Time("2026-12-01T14:00:00", scale="utc")  # 22:00 China Standard Time


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


@pytest.fixture(scope="module")
def stars(cat):
    """A few dozen stars of all kinds: fast movers, zero parallaxes, both hemispheres."""
    pick = np.argsort(-np.hypot(cat["pmra"], cat["pmdec"]))[:10]
    pick = np.concatenate([pick, np.flatnonzero(cat["parallax"] <= 0)[:5],
                           np.arange(0, len(cat), len(cat) // 25)])
    return cat[np.unique(pick)]


def sky_distance(az1, el1, az2, el2):
    daz = (az1 - az2 + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(daz * np.cos(el1), el1 - el2)


def test_agrees_with_erfa_atco13(stars):
    """Independent inputs: own epoch propagation, astropy's UT1 and polar motion."""
    st = load_station("beijing")
    times = T0 + np.array([0.0, 1.5, 7.0]) * u.hour
    az, el = observed_altaz(stars, st, times)
    assert az.shape == el.shape == (len(stars), 3)

    ra = np.radians(np.asarray(stars["ra"]))
    dec = np.radians(np.asarray(stars["dec"]))
    mas = ARCSEC / 1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        # Hipparcos J1991.25 -> J2000 (TDB Julian dates), rv = 0
        r0, d0, pr, pd, px, rv = erfa.pmsafe(
            ra, dec, np.asarray(stars["pmra"]) * mas / np.cos(dec),
            np.asarray(stars["pmdec"]) * mas,
            np.maximum(np.asarray(stars["parallax"]), 0) / 1000, 0.0,
            2448349.0625, 0.0, 2451545.0, 0.0)
    px = np.where(np.asarray(stars["parallax"]) > 0, px, 0.0)
    w, wl = st.weather, st.wavelengths.camera_um
    for k, t in enumerate(times):
        xp, yp = (q.to_value(u.rad) for q in iers.earth_orientation_table.get().pm_xy(t))
        dut1 = t.delta_ut1_utc
        for i in range(len(stars)):
            aob, zob, *_ = erfa.atco13(
                r0[i], d0[i], pr[i], pd[i], px[i], rv[i], t.jd1, t.jd2, dut1,
                np.radians(st.longitude_deg), np.radians(st.latitude_deg), st.height_m,
                xp, yp, w.pressure_hpa, w.temperature_c, w.humidity, wl)
            d = sky_distance(az[i, k], el[i, k], aob, np.pi / 2 - zob)
            assert d < 0.01 * ARCSEC, (stars["hip"][i], d / ARCSEC)


def test_agrees_with_astropy_altaz(stars):
    st = load_station("mohe")
    t = T0 + 3 * u.hour
    az, el = observed_altaz(stars, st, t)
    assert az.shape == (len(stars),)
    coords = SkyCoord(
        ra=np.asarray(stars["ra"]) * u.deg, dec=np.asarray(stars["dec"]) * u.deg,
        pm_ra_cosdec=np.asarray(stars["pmra"]) * u.mas / u.yr,
        pm_dec=np.asarray(stars["pmdec"]) * u.mas / u.yr,
        distance=Distance(parallax=np.maximum(np.asarray(stars["parallax"]), 1e-3) * u.mas),
        radial_velocity=0 * u.km / u.s,
        obstime=Time(1991.25, format="jyear", scale="tt"))
    w = st.weather
    frame = AltAz(obstime=t, location=st.location, pressure=w.pressure_hpa * u.hPa,
                  temperature=w.temperature_c * u.deg_C, relative_humidity=w.humidity,
                  obswl=st.wavelengths.camera_um * u.micron)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        aa = coords.apply_space_motion(new_obstime=t).transform_to(frame)
    up = el > np.radians(10)
    d = sky_distance(az, el, aa.az.rad, aa.alt.rad)[up]
    assert up.sum() > 5 and d.max() < 0.01 * ARCSEC


def test_azimuth_convention_polaris(cat):
    """Polaris: azimuth near 0 (north), elevation near the latitude, at every station."""
    polaris = cat[cat["hip"] == 11767]
    for name in ("shanghai", "mohe", "lijiang"):
        st = load_station(name)
        az, el = observed_altaz(polaris, st, T0 + np.arange(0, 24, 6) * u.hour)
        az_signed = (np.degrees(az) + 180) % 360 - 180
        assert np.all(np.abs(az_signed) < 1.5)
        assert np.all(np.abs(np.degrees(el) - st.latitude_deg) < 1.0)


def test_east_is_90_degrees(cat):
    """A star on the equator rises due east: azimuth increases from north through east."""
    st = load_station("shanghai")
    eq = cat[np.abs(cat["dec"]) < 1]
    az, el = observed_altaz(eq, st, T0, refraction=False)
    rising = np.abs(np.degrees(el)) < 5
    east = np.degrees(az[rising])
    assert rising.sum() > 3
    # near the horizon the equator is close to due east (rising) or due west (setting)
    assert np.all((np.abs(east - 90) < 8) | (np.abs(east - 270) < 8))
    later = observed_altaz(eq[rising], st, T0 + 10 * u.min, refraction=False)[1]
    assert np.all((later > el[rising]) == (np.abs(east - 90) < 8))  # eastern ones rise


def test_refraction_weather_and_wavelength(cat):
    st = load_station("shanghai")
    star = cat[:200]
    _, el0 = observed_altaz(star, st, T0, refraction=False)
    _, el1 = observed_altaz(star, st, T0)
    near20 = np.abs(np.degrees(el0) - 20) < 3
    assert near20.any()
    r = (el1 - el0)[near20] / ARCSEC  # ~ 2.6 arcmin at 20 deg near sea level
    assert np.all((r > 120) & (r < 190))
    _, el_low_p = observed_altaz(star, st, T0, pressure_hpa=680.0)
    assert np.all((el_low_p - el0)[near20] < 0.75 * (el1 - el0)[near20])
    _, el_blue = observed_altaz(star, st, T0, wavelength_um=0.45)
    _, el_nir = observed_altaz(star, st, T0, wavelength_um=0.85)
    assert np.all(el_blue[near20] > el_nir[near20])  # bluer light is bent more


def test_time_shapes(cat):
    st = load_station()
    grid = T0 + np.arange(6).reshape(2, 3) * u.min
    az, el = observed_altaz(cat[:4], st, grid)
    assert az.shape == (4, 2, 3)
    az1, el1 = observed_altaz(cat[:4], st, grid[1, 2])
    np.testing.assert_allclose(az1, az[:, 1, 2], atol=1e-12)
    np.testing.assert_allclose(el1, el[:, 1, 2], atol=1e-12)
    assert np.all((az >= 0) & (az < 2 * np.pi))


def test_j2000_positions(cat):
    vega = cat[cat["hip"] == 91262]
    ra, dec = catalog_j2000_deg(vega)
    # SIMBAD J2000 ICRS: 18 36 56.336 +38 47 01.28
    assert ra[0] == pytest.approx(279.234733, abs=2e-5)
    assert dec[0] == pytest.approx(38.783689, abs=2e-5)


def test_moon(cat):
    st = load_station("shanghai")
    times = T0 + np.arange(0, 25, 1) * u.hour
    az, el = moon_altaz(st, times)
    assert az.shape == el.shape == (25,)
    assert np.all((az >= 0) & (az < 2 * np.pi))
    assert el.max() > 0 > el.min()  # rises and sets within a day
    _, el_raw = moon_altaz(st, times, refraction=False)
    assert np.all(el[el_raw > 0.2] > el_raw[el_raw > 0.2])


@pytest.mark.parametrize("bad", ["1900-01-01", "2150-06-01T00:00:00", "not a time"])
def test_times_outside_range_are_errors(cat, bad):
    with pytest.raises(PointingError, match="time"):
        observed_altaz(cat[:2], load_station(), bad)
    with pytest.raises(PointingError):
        check_times([T0.isot, bad]) if bad != "not a time" else check_times(bad)


def test_far_future_works_offline(cat, monkeypatch):
    """2060 is beyond the IERS table: still computed, with no network access at all."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    st = load_station("lijiang")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warnings leak out either
        az, el = observed_altaz(cat[:5], st, "2060-06-01T12:00:00")
        moon_altaz(st, "2060-06-01T12:00:00")
    assert np.all(np.isfinite(az)) and np.all(np.isfinite(el))


def test_earth_orientation_matches_astropy_iers():
    """The numpy interpolation of the IERS table repeats astropy's, leap seconds included."""
    from pointing.offline import configure_astropy
    from pointing.sky.places import earth_orientation

    configure_astropy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        times = Time("1970-01-01", scale="utc") + np.linspace(0.0, 33000.0, 40001) * u.day
        dut1, xp, yp, ok = earth_orientation(times)
        table = iers.earth_orientation_table.get()
        ref, status = table.ut1_utc(times, return_status=True)
        ref_x, ref_y = table.pm_xy(times)
    assert np.max(np.abs(dut1 - ref.to_value("s"))) < 1e-14
    assert np.max(np.abs(xp - ref_x.to_value("rad"))) < 1e-18
    assert np.max(np.abs(yp - ref_y.to_value("rad"))) < 1e-18
    np.testing.assert_array_equal(ok, np.asarray(status) >= 0)
    assert ok.any() and not ok.all()  # the range covers both cases


def test_single_time_moon_is_interpolated_closely(cat):
    """A scalar time is interpolated between cached minutes: within 1″ of the exact transform."""
    st = load_station("shanghai")
    times = T0 + np.array([0.0, 17.3, 59.99, 600.5, 3599.9, 7000.0]) * u.s
    az, el = moon_altaz(st, times)
    for i, t in enumerate(times):
        a1, e1 = moon_altaz(st, t)
        assert np.shape(a1) == np.shape(e1) == ()
        assert sky_distance(float(a1), float(e1), az[i], el[i]) < 1.0 * ARCSEC
