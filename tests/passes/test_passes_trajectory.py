"""The mount's trajectory: model applied, cable wrap, keyhole, rates, files, interpolation."""

from __future__ import annotations

import json
import math

import erfa
import numpy as np
import pytest
from astropy.time import Time
from hypothesis import given, settings
from hypothesis import strategies as st_

from pointing.config.station import load_station
from pointing.errors import PointingError
from pointing.model import PointingModel
from pointing.passes import (
    TrackComputer,
    load_satellite,
    load_trajectory,
    pass_trajectory,
    predict_passes,
)
from tests._passes_data import MICIUS_TLE, START, station_at

ARCSEC = math.pi / 648000.0
URAD = 1e-6
MODEL = PointingModel(["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX"],
                      [3600.0, -120.0, 45.0, 20.0, 300.0, -150.0, 12.0, 3.0])


@pytest.fixture(scope="module")
def micius():
    return load_satellite(MICIUS_TLE)


@pytest.fixture(scope="module")
def jinan_pass(micius):
    st = load_station("jinan")
    lst = predict_passes(st, micius, START, 24, 10.0)
    p = max(lst.passes, key=lambda q: q.max_el_deg)  # 84.5 deg: fast azimuth near the top
    return st, p


def _zenith_station(sat, when="2021-04-28T03:07:00", dlat=0.0):
    """A station right under the satellite at ``when``: the pass goes through the zenith."""
    st = load_station("shanghai")
    t0 = Time(when, scale="utc")
    tr = TrackComputer(st, sat, t0.jd, 60.0).track([0.0])
    lon, lat, _ = erfa.gc2gd(1, tr.r_itrs[0] * 1000.0)
    return station_at(st, math.degrees(lat) + dlat, math.degrees(lon), 50.0, name="Under")


def _limits_ok(traj, mount, h):
    deg = np.degrees
    assert np.max(np.abs(np.diff(deg(traj.raw_az_rad)))) <= mount.az_speed_deg_s * h
    assert np.max(np.abs(np.diff(deg(traj.raw_el_rad)))) <= mount.el_speed_deg_s * h
    assert np.max(np.abs(deg(traj.az_rate_rad_s))) <= mount.az_speed_deg_s
    assert np.max(np.abs(deg(traj.el_rate_rad_s))) <= mount.el_speed_deg_s
    assert np.max(np.abs(deg(traj.az_accel_rad_s2))) <= mount.az_accel_deg_s2
    assert np.max(np.abs(deg(traj.el_accel_rad_s2))) <= mount.el_accel_deg_s2
    assert mount.az_min_deg <= deg(traj.raw_az_rad).min()
    assert deg(traj.raw_az_rad).max() <= mount.az_max_deg
    assert mount.el_min_deg <= deg(traj.raw_el_rad).min()
    assert deg(traj.raw_el_rad).max() <= mount.el_max_deg


def _sep(az1, el1, az2, el2):
    c = np.sin(el1) * np.sin(el2) + np.cos(el1) * np.cos(el2) * np.cos(az1 - az2)
    s1 = np.cos(el2) * np.sin(az1 - az2)
    s2 = np.cos(el1) * np.sin(el2) - np.sin(el1) * np.cos(el2) * np.cos(az1 - az2)
    return np.arctan2(np.hypot(s1, s2), c)


def test_raw_demands_point_at_the_observed_track(micius, jinan_pass):
    st, p = jinan_pass
    traj = pass_trajectory(st, micius, p, MODEL, 0.1)
    assert traj.plan.gaps == [] and traj.on_track.all()
    ta, te = MODEL.true_from_raw(traj.raw_az_rad, traj.raw_el_rad)
    # over the top (true elevation > 90) is the direction (A + 180, 180 - E)
    sep = _sep(ta, te, traj.az_rad, traj.el_rad)
    assert np.max(sep) < 0.01 * ARCSEC
    # the model moved the demands by its index terms (IA = 1 deg)
    assert np.median(np.degrees(traj.raw_az_rad - traj.az_rad) % 360) == pytest.approx(1.0,
                                                                                         abs=0.1)
    _limits_ok(traj, st.mount, 0.1)
    assert traj.t_s[1] - traj.t_s[0] == pytest.approx(0.1)
    assert traj.utc[0] == p.rise.astype("datetime64[us]")


def test_zenith_pass_is_followed_or_the_lost_seconds_are_named(micius):
    st = _zenith_station(micius)
    p = max(predict_passes(st, micius, "2021-04-28T02:30:00", 2).passes,
            key=lambda q: q.max_el_deg)
    assert p.max_el_deg > 89.9
    traj = pass_trajectory(st, micius, p, MODEL, 0.1)
    _limits_ok(traj, st.mount, 0.1)  # no jump, within speeds and accelerations
    plan = traj.plan
    assert plan.gaps, "a 10 deg/s mount cannot turn 180 deg at the zenith"
    assert plan.keyhole in ("flip", "over_the_top")
    assert {c["keyhole"] for c in plan.candidates} >= {"flip", "over_the_top"}
    culm = (p.culmination - traj.utc[0]) / np.timedelta64(1, "s")
    for g in plan.gaps:
        assert g.start_s < culm < g.end_s
        assert "azimuth rate" in g.reason and "limit 10" in g.reason
        inside = (traj.t_s >= g.start_s) & (traj.t_s <= g.end_s)
        assert not traj.on_track[inside].any()
    assert 5.0 < plan.lost_s < 40.0
    # outside the gaps the demands are on the track
    ta, te = MODEL.true_from_raw(traj.raw_az_rad, traj.raw_el_rad)
    sep = _sep(ta, te, traj.az_rad, traj.el_rad)[traj.on_track]
    assert np.max(sep) < 0.01 * ARCSEC


def test_faster_mount_follows_a_near_zenith_pass(micius):
    import dataclasses

    st = _zenith_station(micius, dlat=0.5)  # culminates near 88.6 deg
    fast = dataclasses.replace(st, mount=dataclasses.replace(st.mount, az_speed_deg_s=60.0,
                                                             az_accel_deg_s2=60.0))
    p = max(predict_passes(fast, micius, "2021-04-28T02:30:00", 2).passes,
            key=lambda q: q.max_el_deg)
    slow = pass_trajectory(st, micius, p, None, 0.1)
    quick = pass_trajectory(fast, micius, p, None, 0.1)
    assert slow.plan.gaps and not quick.plan.gaps
    assert quick.on_track.all()
    _limits_ok(quick, fast.mount, 0.1)


def test_over_the_top_wins_on_a_mount_that_reaches_past_the_zenith(micius):
    import dataclasses

    st = _zenith_station(micius)
    wide = dataclasses.replace(st, mount=dataclasses.replace(st.mount, el_max_deg=180.0))
    p = max(predict_passes(wide, micius, "2021-04-28T02:30:00", 2).passes,
            key=lambda q: q.max_el_deg)
    traj = pass_trajectory(wide, micius, p, None, 0.1)
    assert traj.plan.keyhole == "over_the_top"
    assert traj.plan.lost_s < 2.0
    assert np.degrees(traj.raw_el_rad).max() > 90.0


def test_cable_wrap_on_passes_that_cross_north(micius):
    # a polar orbit seen from Svalbard: many passes cross the northern sky
    st = station_at(load_station("mohe"), 78.23, 15.4, 450.0, name="Svalbard")
    lst = predict_passes(st, micius, START, 24, 10.0)
    crossing = []
    for p in lst.passes:
        traj = pass_trajectory(st, micius, p, None, 0.5)
        if np.any(np.abs(np.diff(traj.az_rad)) > math.pi):  # sky azimuth wraps 360 -> 0
            crossing.append((p, traj))
    assert len(crossing) >= 3, "expected passes crossing north"
    for p, traj in crossing:
        _limits_ok(traj, st.mount, 0.5)
        raw = np.degrees(traj.raw_az_rad)
        assert np.all(np.abs(np.diff(raw)) < 5.0)  # continuous: no unwrap during the pass
        # the demand is the track, shifted by whole turns
        d = (raw - np.degrees(traj.az_rad))[traj.on_track] / 360.0
        assert np.allclose(d, np.round(d), atol=1e-9)
        # the wrap turn nearest the park azimuth is chosen when two fit
        for park in (-200.0, 200.0):
            other = pass_trajectory(st, micius, p, None, 0.5, park_az_deg=park)
            start = math.degrees(other.raw_az_rad[0])
            alternatives = [start + 360 * k for k in (-1, 1)
                            if st.mount.az_min_deg <= np.degrees(other.raw_az_rad).min()
                            + 360 * k and np.degrees(other.raw_az_rad).max() + 360 * k
                            <= st.mount.az_max_deg]
            assert all(abs(start - park) <= abs(a - park) for a in alternatives)


def test_interpolation_between_samples_is_far_below_a_microradian(micius, jinan_pass):
    st, p = jinan_pass
    traj = pass_trajectory(st, micius, p, MODEL, 0.1)
    mid = traj.t_s[:-1] + 0.05
    az_i, el_i = traj.demand_at(mid)
    rise = traj.utc[0]
    tc = TrackComputer(st, micius, float(Time(str(rise), scale="utc").jd), traj.t_s[-1])
    tr = tc.track(mid)
    ra, re = MODEL.raw_from_true(tr.az, tr.el)
    ra = ra + 2 * math.pi * np.round((az_i - ra) / (2 * math.pi))
    assert np.max(np.abs(az_i - ra) * np.cos(el_i)) < 0.05 * URAD
    assert np.max(np.abs(el_i - re)) < 0.05 * URAD
    # datetime64 and ISO text give the same demand
    a1, _e1 = traj.demand_at(traj.utc[10] + np.timedelta64(50, "ms"))
    a2, _e2 = traj.demand_at(str(traj.utc[10] + np.timedelta64(50, "ms")))
    assert a1 == pytest.approx(az_i[10], abs=1e-12) and a2 == pytest.approx(a1, abs=1e-12)
    with pytest.raises(PointingError, match="outside the trajectory"):
        traj.demand_at(traj.t_s[-1] + 1.0)


def test_files_round_trip(tmp_path, micius, jinan_pass):
    st, p = jinan_pass
    traj = pass_trajectory(st, micius, p, MODEL, 0.2)
    path = traj.write_ecsv(tmp_path / "pass.ecsv")
    back = load_trajectory(path)
    for name in ("t_s", "raw_az_rad", "raw_el_rad", "az_rad", "el_rad", "range_km", "hwp_deg"):
        assert np.allclose(getattr(back, name), getattr(traj, name), rtol=0, atol=1e-12), name
    assert np.array_equal(back.sunlit, traj.sunlit)
    assert np.array_equal(back.utc.astype("datetime64[ms]"), traj.utc.astype("datetime64[ms]"))
    assert back.meta["pass"]["number"] == p.number
    cols = path.read_text().splitlines()
    header = next(line for line in cols if line.startswith("time "))
    for c in ("time", "az_deg", "el_deg", "el_unrefracted_deg", "range_km", "raw_az_deg",
              "raw_el_deg", "az_rate_deg_s", "el_rate_deg_s", "sunlit", "hwp_deg"):
        assert c in header.split()
    text = traj.write_text(tmp_path / "pass.txt").read_text().splitlines()
    rows = [r for r in text if not r.startswith("#")]
    assert len(rows) == len(traj)
    t0, az0, _el0 = rows[0].split()
    assert t0.endswith("Z") and float(az0) == pytest.approx(math.degrees(traj.raw_az_rad[0]),
                                                            abs=1e-7)
    summary = json.loads(traj.write_summary(tmp_path / "pass.json").read_text())
    assert summary["plan"]["followed_whole_pass"] is True
    assert summary["peak_az_rate_deg_s"] <= st.mount.az_speed_deg_s


def test_bad_step_is_refused(micius, jinan_pass):
    st, p = jinan_pass
    with pytest.raises(PointingError, match="--step 0"):
        pass_trajectory(st, micius, p, None, 0.0)


@pytest.mark.parametrize("az0, az1, park, start", [
    (300.0, 420.0, 0.0, -60.0),     # crosses north: only the -60 .. +60 turn fits
    (300.0, 420.0, 250.0, -60.0),   # ... whatever the park position
    (100.0, 250.0, 200.0, 100.0),   # two turns fit: the one starting nearest the park
    (100.0, 250.0, -200.0, -260.0),
    (-10.0, -170.0, 0.0, -10.0),    # crosses north going west
])
def test_wrap_choice_on_synthetic_tracks(az0, az1, park, start):
    from pointing.passes import plan_pass

    mount = load_station("shanghai").mount
    t = np.arange(0.0, 600.0, 0.5)
    az = np.radians(np.mod(np.linspace(az0, az1, t.size), 360.0))
    el = np.radians(30.0 + 10.0 * np.sin(np.pi * t / t[-1]))
    plan, raw_az, _raw_el, on_track = plan_pass(t, az, el, mount, None, park)
    assert math.degrees(raw_az[0]) == pytest.approx(start, abs=1e-9)
    assert on_track.all() and not plan.gaps
    assert np.all(np.abs(np.diff(np.degrees(raw_az))) < 1.0)
    assert mount.az_min_deg <= np.degrees(raw_az).min() <= np.degrees(raw_az).max() \
        <= mount.az_max_deg


def test_a_pass_needing_more_than_the_wrap_is_refused():
    from pointing.passes import plan_pass

    mount = load_station("shanghai").mount
    t = np.arange(0.0, 600.0, 0.5)
    az = np.radians(np.mod(np.linspace(0.0, 600.0, t.size), 360.0))
    with pytest.raises(PointingError, match="more than the cable wrap allows"):
        plan_pass(t, az, np.full(t.size, 0.5), mount)


@settings(max_examples=25, deadline=None)
@given(swing=st_.floats(20.0, 179.0), where=st_.floats(0.2, 0.8), width=st_.floats(0.5, 20.0),
       az0=st_.floats(0.0, 359.0), step=st_.sampled_from([0.1, 0.2, 0.5]))
def test_any_fast_swing_is_bridged_within_the_limits(swing, where, width, az0, step):
    """A track with an azimuth swing too fast for the mount: the plan stays within the
    limits, stays jump-free, and marks as lost exactly a stretch around the swing."""
    from pointing.passes import plan_pass

    mount = load_station("shanghai").mount
    t = np.arange(0.0, 300.0, step)
    tc = where * t[-1]
    az = np.radians(np.mod(az0 + 0.5 * swing * (1 + np.tanh((t - tc) / (width / 4))), 360.0))
    el = np.radians(40.0 + 20.0 * np.sin(np.pi * t / t[-1]))
    plan, raw_az, raw_el, on_track = plan_pass(t, az, el, mount)
    deg = np.degrees
    for p, vmax, amax in ((raw_az, mount.az_speed_deg_s, mount.az_accel_deg_s2),
                          (raw_el, mount.el_speed_deg_s, mount.el_accel_deg_s2)):
        v = np.gradient(deg(p), step)
        assert np.max(np.abs(np.diff(deg(p)))) <= vmax * step
        assert np.max(np.abs(v)) <= vmax
        assert np.max(np.abs(np.gradient(v, step))) <= amax
    fast = np.max(np.abs(np.gradient(np.unwrap(az), step))) > np.radians(mount.az_speed_deg_s)
    if fast:
        assert plan.gaps and not on_track.all()
    for g in plan.gaps:
        assert g.start_s <= tc <= g.end_s or not fast
    ok = on_track
    assert np.allclose(np.mod(deg(raw_az[ok]) - deg(az[ok]) + 180, 360) - 180, 0, atol=1e-9)
