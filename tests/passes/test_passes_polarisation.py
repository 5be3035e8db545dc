"""Half-wave-plate angle against a direct construction on the sky (astropy)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import ITRS, TEME, AltAz, CartesianRepresentation
from astropy.time import Time

from pointing.config.station import load_station
from pointing.errors import PointingError
from pointing.passes import (
    SourcePolarisation,
    load_satellite,
    pass_trajectory,
    predict_passes,
)
from tests._passes_data import MICIUS_TLE, START


@pytest.fixture(scope="module")
def setup():
    sat = load_satellite(MICIUS_TLE)
    st = load_station("jinan")
    p = max(predict_passes(st, sat, START, 24).passes, key=lambda q: q.max_el_deg)
    return sat, st, p


def _altaz(r_teme_km, times, station):
    itrs = TEME(CartesianRepresentation(r_teme_km.T * u.km), obstime=times).transform_to(
        ITRS(obstime=times))
    topo = ITRS(itrs.cartesian - station.location.get_itrs(times).cartesian, obstime=times,
                location=station.location)
    aa = topo.transform_to(AltAz(obstime=times, location=station.location))
    return aa.az.to_value(u.rad), aa.alt.to_value(u.rad)


def _direct_angle(sat, station, traj, axis):
    """Angle on the sky (deg, from +azimuth toward +elevation) of the body axis: the
    direction in which the satellite would appear to move if displaced along it."""
    idx = np.arange(0, len(traj), 50)
    jd = Time(str(traj.utc[0]), scale="utc").jd + traj.t_s[idx] / 86400.0
    _, r, v = sat.satrec.sgp4_array(np.floor(jd), jd - np.floor(jd))
    r, v = np.asarray(r), np.asarray(v)
    rh = r / np.linalg.norm(r, axis=1, keepdims=True)
    if axis == "along_track":
        e = v - rh * np.einsum("ni,ni->n", v, rh)[:, None]
    elif axis == "orbit_normal":
        e = np.cross(r, v)
    else:
        e = -r
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    times = Time(np.floor(jd), jd - np.floor(jd), format="jd", scale="utc")
    _, h0 = _altaz(r, times, station)
    a0, hm = _altaz(r - 0.002 * e, times, station)  # 2 m either way along the axis
    a1, h1 = _altaz(r + 0.002 * e, times, station)
    d_az = (a1 - a0 + np.pi) % (2 * np.pi) - np.pi
    return idx, np.degrees(np.arctan2(h1 - hm, d_az * np.cos(h0))), np.degrees(h0)


def _mod(x, period):
    return (np.asarray(x) + period / 2) % period - period / 2


@pytest.mark.parametrize("axis", ["along_track", "orbit_normal", "nadir"])
def test_hwp_undoes_the_rotation_built_directly(setup, axis):
    sat, st, p = setup
    # geometric line of sight, as in the construction (light time moves the direction by
    # ~5", which near the zenith turns the horizontal reference by up to ~0.015 deg)
    traj = pass_trajectory(st, sat, p, None, 0.2, apparent=False,
                           polarisation=SourcePolarisation(axis=axis))
    idx, theta, _ = _direct_angle(sat, st, traj, axis)
    # a plate at phi maps the source reference (theta) to 2 phi - theta = 0 (mod 180)
    resid = _mod(2.0 * traj.hwp_deg[idx] - theta, 180.0)
    assert np.max(np.abs(resid)) < 0.002
    assert np.all(np.isfinite(traj.hwp_deg))
    assert np.max(np.abs(np.diff(traj.hwp_deg))) < 5.0  # continuous, no 90 deg steps
    assert 0.0 <= traj.hwp_deg[0] < 90.0


def test_offset_receiver_and_zero(setup):
    sat, st, p = setup
    base = pass_trajectory(st, sat, p, None, 0.5).hwp_deg
    off = pass_trajectory(st, sat, p, None, 0.5,
                          polarisation=SourcePolarisation(offset_deg=30.0)).hwp_deg
    assert np.allclose(_mod(off - base - 15.0, 90.0), 0.0, atol=1e-9)
    traj = pass_trajectory(st, sat, p, None, 0.5,
                           polarisation=SourcePolarisation(receiver="nasmyth"))
    el = np.degrees(traj.el_rad)
    assert np.allclose(_mod(traj.hwp_deg - base + el / 2.0, 90.0), 0.0, atol=1e-9)
    zero = pass_trajectory(st, sat, p, None, 0.5,
                           polarisation=SourcePolarisation(hwp_zero_deg=12.5)).hwp_deg
    assert np.allclose(zero - base, 12.5)


def test_bad_polarisation_settings():
    with pytest.raises(PointingError, match="polarisation axis 'sideways'"):
        SourcePolarisation(axis="sideways")
    with pytest.raises(PointingError, match="receiver 'coude'"):
        SourcePolarisation(receiver="coude")
    assert dataclasses.asdict(SourcePolarisation())["axis"] == "along_track"
