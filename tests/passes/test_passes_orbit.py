"""Element files and the topocentric track, against skyfield and astropy's TEME frame."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import (
    ITRS,
    TEME,
    AltAz,
    CartesianDifferential,
    CartesianRepresentation,
)
from astropy.time import Time
from skyfield.api import EarthSatellite, load, wgs84

from pointing.config.station import load_station
from pointing.errors import FileFormatError, PointingError
from pointing.passes import (
    StaleElementsWarning,
    TrackComputer,
    load_satellite,
    predict_passes,
    read_elements,
)
from tests._passes_data import MICIUS_TLE, START, TEST_SATS, write_tle

ARCSEC = math.pi / 648000.0
TS = load.timescale(builtin=True)


def _sky(sat, station, t0: Time, t_s):
    es = EarthSatellite(*sat.lines, ts=TS)
    top = wgs84.latlon(station.latitude_deg, station.longitude_deg, elevation_m=station.height_m)
    dt = t0.utc.datetime
    tt = TS.utc(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second + np.asarray(t_s))
    alt, az, dist = (es - top).at(tt).altaz()
    return az.radians, alt.radians, dist.km


def _sep(az1, el1, az2, el2):
    """Angle between directions, rad."""
    c = np.sin(el1) * np.sin(el2) + np.cos(el1) * np.cos(el2) * np.cos(az1 - az2)
    s1 = np.cos(el2) * np.sin(az1 - az2)
    s2 = np.cos(el1) * np.sin(el2) - np.sin(el1) * np.cos(el2) * np.cos(az1 - az2)
    return np.arctan2(np.hypot(s1, s2), c)


# -- reading ---------------------------------------------------------------------
def test_reads_three_and_two_line_files_with_many_satellites(tmp_path):
    text = "# a comment\n" + "".join(TEST_SATS.values())
    l1, l2 = MICIUS_TLE.read_text().splitlines()[-2:]
    text += f"\n{l1}\n{l2}\n"  # a two-line set without a name
    sats = read_elements(write_tle(tmp_path, text))
    assert [s.catalog_number for s in sats] == [90001, 90002, 90003, 90004, 90005, 41731]
    assert sats[0].name == "TEST-90001" and sats[-1].name == ""
    assert sats[0].source.endswith(":3")


def test_choose_by_name_or_number_and_unknown_names_the_choices(tmp_path):
    path = write_tle(tmp_path, "".join(TEST_SATS.values()))
    assert load_satellite(path, "test-90003").catalog_number == 90003
    assert load_satellite(path, 90004).name == "TEST-90004"
    assert load_satellite(path, "90002").catalog_number == 90002
    with pytest.raises(PointingError, match=r"no satellite 'MICIUS'.*TEST-90001"):
        load_satellite(path, "MICIUS")
    with pytest.raises(PointingError, match="choose one with --satellite"):
        load_satellite(path)
    assert load_satellite(MICIUS_TLE).catalog_number == 41731
    assert load_satellite(MICIUS_TLE, "micius").catalog_number == 41731


def _resum(line: str) -> str:
    from tests._passes_data import checksum

    return line[:68] + str(checksum(line))


@pytest.mark.parametrize("edit, message", [
    (lambda l1, l2: (l1[:68] + str((int(l1[68]) + 1) % 10), l2), r":2: TLE line 1: wrong checksum"),
    (lambda l1, l2: (l1, l2[:30] + "9" + l2[31:]), r":3: TLE line 2: wrong checksum"),
    (lambda l1, l2: (l1[:60], l2), r":2: TLE line 1 must have 69 characters"),
    (lambda l1, l2: (l1, _resum("2 41732" + l2[7:])), r":3: catalogue number '41732'"),
    (lambda l1, l2: ("", l2), r":2: TLE line 2 without a line 1"),
    (lambda l1, l2: (l1, ""), r":3: expected TLE line 2"),
])
def test_corrupt_tle_names_file_and_line(tmp_path, edit, message):
    name, l1, l2 = MICIUS_TLE.read_text().splitlines()[-3:]
    a, b = edit(l1, l2)
    path = write_tle(tmp_path, "\n".join(x for x in (name, a, b) if x) + "\n")
    with pytest.raises(FileFormatError, match=str(path).replace(".", r"\.") + message):
        read_elements(path)


def test_elements_out_of_range_are_refused(tmp_path):
    from tests._passes_data import make_tle

    with pytest.raises(FileFormatError, match=r"sat\.tle:3: mean motion 25"):
        read_elements(write_tle(tmp_path, make_tle(90009, 50.0, 0.0, 0.001, 0.0, 0.0, 25.0)))
    with pytest.raises(FileFormatError, match="epoch day 370"):
        read_elements(write_tle(tmp_path, make_tle(90009, 50.0, 0.0, 0.001, 0.0, 0.0, 15.0,
                                                  epoch_doy=370.0)))
    with pytest.raises(FileFormatError, match="no element set"):
        read_elements(write_tle(tmp_path, "# nothing here\n"))
    with pytest.raises(FileFormatError, match="cannot read element file"):
        read_elements(tmp_path / "missing.tle")


def _omm_fields(sat):
    r = sat.satrec
    return {
        "OBJECT_NAME": "MICIUS", "OBJECT_ID": "2016-051A", "EPOCH": sat.epoch_iso,
        "MEAN_MOTION": r.no_kozai * 1440 / (2 * math.pi), "ECCENTRICITY": r.ecco,
        "INCLINATION": math.degrees(r.inclo), "RA_OF_ASC_NODE": math.degrees(r.nodeo),
        "ARG_OF_PERICENTER": math.degrees(r.argpo), "MEAN_ANOMALY": math.degrees(r.mo),
        "EPHEMERIS_TYPE": 0, "CLASSIFICATION_TYPE": "U", "NORAD_CAT_ID": 41731,
        "ELEMENT_SET_NO": 999, "REV_AT_EPOCH": 26142, "BSTAR": r.bstar,
        "MEAN_MOTION_DOT": r.ndot * 1036800.0 / math.pi,
        "MEAN_MOTION_DDOT": r.nddot * 2985984000.0 / 2.0 / math.pi,
    }


def test_omm_json_and_xml_give_the_tle_orbit(tmp_path):
    sat = load_satellite(MICIUS_TLE)
    fields = _omm_fields(sat)
    jpath = tmp_path / "micius.json"
    jpath.write_text(json.dumps([fields]))
    meta = "".join(f"<{k}>{fields[k]}</{k}>" for k in ("OBJECT_NAME", "OBJECT_ID"))
    mean = "".join(f"<{k}>{fields[k]}</{k}>" for k in (
        "EPOCH", "MEAN_MOTION", "ECCENTRICITY", "INCLINATION", "RA_OF_ASC_NODE",
        "ARG_OF_PERICENTER", "MEAN_ANOMALY"))
    tle = "".join(f"<{k}>{fields[k]}</{k}>" for k in (
        "EPHEMERIS_TYPE", "CLASSIFICATION_TYPE", "NORAD_CAT_ID", "ELEMENT_SET_NO",
        "REV_AT_EPOCH", "BSTAR", "MEAN_MOTION_DOT", "MEAN_MOTION_DDOT"))
    xpath = tmp_path / "micius.xml"
    xpath.write_text(f'<?xml version="1.0"?><ndm><omm><body><segment><metadata>{meta}'
                     f"</metadata><data><meanElements>{mean}</meanElements><tleParameters>"
                     f"{tle}</tleParameters></data></segment></body></omm></ndm>")
    jd = sat.epoch_jd + 0.7
    for path in (jpath, xpath):
        other = load_satellite(path, "micius")
        assert other.catalog_number == 41731
        _, r1, _ = sat.satrec.sgp4(jd, 0.0)
        _, r2, _ = other.satrec.sgp4(jd, 0.0)
        assert np.linalg.norm(np.subtract(r1, r2)) < 1e-3  # km


def test_omm_missing_field_and_bad_json(tmp_path):
    fields = _omm_fields(load_satellite(MICIUS_TLE))
    del fields["MEAN_MOTION"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([fields]))
    with pytest.raises(FileFormatError, match=r"bad\.json\[object 1\]: OMM field MEAN_MOTION"):
        read_elements(path)
    path.write_text('[{"OBJECT_NAME": "X",\n oops}]')
    with pytest.raises(FileFormatError, match=r"bad\.json:2: invalid JSON"):
        read_elements(path)


def test_stale_elements_warn_with_their_age():
    sat = load_satellite(MICIUS_TLE)
    station = load_station("shanghai")
    with pytest.warns(StaleElementsWarning, match=r"9\.\d days old"):
        predict_passes(station, sat, "2021-05-07T00:00:00", 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StaleElementsWarning)
        predict_passes(station, sat, "2021-05-07T00:00:00", 6, max_age_days=10)


# -- the track -----------------------------------------------------------------
@pytest.mark.parametrize("key, station_name", [("micius", "shanghai"), ("iss-like", "lijiang"),
                                               ("sso-800", "mohe"), ("eccentric", "beijing"),
                                               ("leo-1200", "weihai")])
def test_geometric_track_matches_skyfield(tmp_path, key, station_name):
    path = MICIUS_TLE if key == "micius" else write_tle(tmp_path, TEST_SATS[key])
    sat = load_satellite(path)
    station = load_station(station_name)
    t0 = Time(START, scale="utc")
    t = np.arange(0.0, 86400.0, 7.0)
    saz, sel, srange = _sky(sat, station, t0, t)
    up = sel > 0
    assert up.sum() > 30
    # skyfield's built-in timescale has no polar motion: compare like with like
    tc = TrackComputer(station, sat, t0.jd, 86400.0, refraction=False, apparent=False,
                       polar_motion=False)
    tr = tc.track(t[up])
    assert np.max(_sep(tr.az, tr.el, saz[up], sel[up])) < 0.05 * ARCSEC
    assert np.max(np.abs(tr.range_km - srange[up])) < 1e-3
    # with polar motion (IERS table): a few arcseconds, as expected from ~0.3" of pole
    full = TrackComputer(station, sat, t0.jd, 86400.0, refraction=False, apparent=False)
    trf = full.track(t[up])
    assert np.max(_sep(trf.az, trf.el, saz[up], sel[up])) < 8 * ARCSEC


def test_track_matches_astropy_teme_frame():
    sat = load_satellite(MICIUS_TLE)
    station = load_station("shanghai")
    t0 = Time("2021-04-28T16:10:00", scale="utc")
    t = np.arange(0.0, 420.0, 15.0)
    tc = TrackComputer(station, sat, t0.jd, 420.0, apparent=False)
    tr = tc.track(t)
    times = t0 + t * u.s
    rep = CartesianRepresentation(tr.r_teme.T * u.km,
                                  differentials=CartesianDifferential(tr.v_teme.T * u.km / u.s))
    itrs = TEME(rep, obstime=times).transform_to(ITRS(obstime=times))
    # astropy's topocentric route: ITRS relative to the observer, then AltAz
    topo = ITRS(itrs.cartesian.without_differentials()
                - station.location.get_itrs(times).cartesian,
                obstime=times, location=station.location)
    w = station.weather
    for pressure, el in ((0.0, tr.el_unrefracted), (w.pressure_hpa, tr.el)):
        frame = AltAz(obstime=times, location=station.location, pressure=pressure * u.hPa,
                      temperature=w.temperature_c * u.deg_C, relative_humidity=w.humidity,
                      obswl=station.wavelengths.quantum_um * u.micron)
        aa = topo.transform_to(frame)
        sep = _sep(tr.az, el, aa.az.to_value(u.rad), aa.alt.to_value(u.rad))
        up = aa.alt.to_value(u.deg) > 5
        assert up.sum() > 10
        assert np.max(sep[up]) < 0.05 * ARCSEC, pressure
        assert np.allclose(tr.range_km, aa.distance.to_value(u.km), atol=1e-4)


def test_light_time_and_aberration_are_small_and_along_the_motion():
    sat = load_satellite(MICIUS_TLE)
    station = load_station("shanghai")
    t0 = Time("2021-04-28T16:10:00", scale="utc")
    t = np.arange(0.0, 420.0, 10.0)
    geo = TrackComputer(station, sat, t0.jd, 420.0, refraction=False, apparent=False).track(t)
    app = TrackComputer(station, sat, t0.jd, 420.0, refraction=False).track(t)
    d = _sep(app.az, app.el_unrefracted, geo.az, geo.el_unrefracted) / ARCSEC
    assert np.all((d > 1.0) & (d < 7.0))  # v/c ~ 5" plus 0.3" diurnal aberration
    # the apparent place lags: it is where the satellite was ~range/c earlier
    lag = TrackComputer(station, sat, t0.jd, 420.0, refraction=False, apparent=False)
    before = lag.track(t - geo.range_km / 299792.458)
    d_lag = _sep(app.az, app.el_unrefracted, before.az, before.el_unrefracted) / ARCSEC
    assert np.max(d_lag) < 0.6  # what is left is the diurnal aberration (< 0.33")


def test_sgp4_failure_and_time_range_are_errors():
    sat = load_satellite(MICIUS_TLE)
    station = load_station("shanghai")
    with pytest.raises(PointingError, match="at most 240 h"):
        predict_passes(station, sat, START, 24 * 365 * 3)
    with pytest.raises(PointingError, match="days from the window"):
        predict_passes(station, sat, "2026-01-01T00:00:00", 24)
    with pytest.raises(PointingError, match="cannot read time"):
        predict_passes(station, sat, "not a time", 24)


def test_decayed_orbit_is_a_clear_error(tmp_path):
    from tests._passes_data import make_tle

    sat = load_satellite(write_tle(tmp_path, make_tle(90010, 51.6, 0.0, 0.0005, 0.0, 0.0, 16.3,
                                                      bstar=0.9)))
    with pytest.raises(PointingError, match=r"SGP4 fails for TEST-90010 .* decayed"):
        predict_passes(load_station("shanghai"), sat, "2021-05-20T00:00:00", 24,
                       max_age_days=100)
