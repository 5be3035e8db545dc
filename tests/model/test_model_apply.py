"""Rigorous application of the model: exactness, inverses, wraps, threads."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from pointing.model.model import ARCSEC, PointingModel

DEG = math.pi / 180.0
TERMS = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX", "HESE", "HACA2", "HSSA", "NRX",
         "NRY", "ECES"]


def separation(a1, e1, a2, e2):
    """Angle between two directions (radians), stable for tiny angles."""
    v1 = np.stack([np.cos(e1) * np.cos(a1), np.cos(e1) * np.sin(a1), np.sin(e1)])
    v2 = np.stack([np.cos(e2) * np.cos(a2), np.cos(e2) * np.sin(a2), np.sin(e2)])
    return np.arctan2(np.linalg.norm(np.cross(v1, v2, axis=0), axis=0), np.sum(v1 * v2, axis=0))


def compass_setup(rng):
    """Errors of a phone-compass, hand-levelled mount: degrees in IA, tenths in tilts."""
    return [rng.uniform(-8, 8) * 3600, rng.uniform(-600, 600), rng.uniform(-120, 120),
            rng.uniform(-120, 120), rng.uniform(-1800, 1800), rng.uniform(-1800, 1800),
            rng.uniform(-60, 60), rng.uniform(-20, 20), rng.uniform(-30, 30),
            rng.uniform(-30, 30), rng.uniform(-30, 30), rng.uniform(-20, 20),
            rng.uniform(-20, 20), rng.uniform(-20, 20)]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_round_trips_are_exact_for_compass_setups(seed):
    rng = np.random.default_rng(seed)
    model = PointingModel(TERMS, compass_setup(rng))
    a = rng.uniform(-270, 270, 400) * DEG
    e = rng.uniform(-3, 93, 400) * DEG
    # Every demand reaches its target (the property the daemon needs), except at the
    # zenith itself (azimuth undefined).  The demand is also the encoder reading it
    # came from, to 1e-9 rad, away from the zenith; within 0.5° of the mount's
    # zenith or of the chain's own (where the index-corrected elevation E + IE
    # reaches 90°) the map is so sheared that raw positions 1e-9 rad apart reach the
    # same target to 1e-11 (found by hypothesis), so there they agree to 1e-7.
    tilt = np.hypot(model["AN"], model["AW"]) * ARCSEC
    ta, te = model.true_from_raw(a, e)
    ra, re = model.raw_from_true(ta, te)
    reached = separation(*model.true_from_raw(ra, re), ta, te)
    sky = np.abs(te - np.pi / 2) > 0.01 * DEG
    assert np.max(reached[sky]) < 1e-10  # the solver accepts a forward miss of 1e-11
    near = ((np.abs(e - np.pi / 2) < 0.5 * DEG)
            | (np.abs(e + model["IE"] * ARCSEC - np.pi / 2) < 0.5 * DEG))
    keep = sky & (np.abs(e - np.pi / 2) > 0.05 * DEG)
    assert np.max(separation(ra, re, a, e)[keep & ~near]) < 1e-9
    assert np.max(separation(ra, re, a, e)[keep & near], initial=0.0) < 1e-7
    assert np.max(np.abs(ra - a)[keep & ~near]) < 1e-6  # the same cable-wrap turn
    assert np.max(np.abs(ra - a)[keep & near], initial=0.0) < 1e-3
    ra, re = model.raw_from_true(a, e)
    ta, te = model.true_from_raw(ra, re)
    keep = np.abs(e - np.pi / 2) > tilt + 0.05 * DEG
    assert np.max(separation(ta, te, a, e)[keep]) < 1e-9


def test_tilt_is_an_exact_rotation():
    """Large AN/AW act as one rotation of the sky, checked with scipy's Rotation."""
    an, aw = 0.4 * 3600, -0.3 * 3600  # arcsec
    model = PointingModel(["AN", "AW"], [an, aw])
    rng = np.random.default_rng(1)
    a = rng.uniform(-np.pi, np.pi, 200)
    e = rng.uniform(0.0, 1.5, 200)
    # axis tilted AN toward north and AW toward west; frame x=N, y=E, z=up
    rotvec = np.array([aw, an, 0.0]) * ARCSEC
    rot = Rotation.from_rotvec(np.array([rotvec[0], rotvec[1], 0.0]))
    v = np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], axis=1)
    # the generator K of the model: K v = (AN v_z, −AW v_z, −AN v_x + AW v_y)
    k = np.array([[0, 0, an], [0, 0, -aw], [-an, aw, 0]]) * ARCSEC
    w = np.array([k[2, 1], k[0, 2], k[1, 0]])  # axial vector of the antisymmetric K
    rot = Rotation.from_rotvec(w)
    expected = rot.apply(v)
    ta, te = model.true_from_raw(a, e)
    exp_a = np.arctan2(expected[:, 1], expected[:, 0])
    exp_e = np.arcsin(expected[:, 2])
    assert np.max(separation(ta, te, exp_a, exp_e)) < 1e-12
    # and to first order it is TPOINT's AN/AW
    m_small = PointingModel(["AN", "AW"], [1.0, 1.0])
    ta, te = m_small.true_from_raw(a, e)
    np.testing.assert_allclose((te - e) / ARCSEC, -np.cos(a) + np.sin(a), atol=1e-4)


def test_npae_and_ca_follow_the_yoke_geometry():
    """At the zenith NPAE displaces the beam sideways by exactly NPAE; CA everywhere by CA."""
    n, c = 2000.0, 1500.0  # arcsec: large, to see any approximation
    for name, value in (("NPAE", n), ("CA", c)):
        model = PointingModel([name], [value])
        e = np.linspace(0.0, 1.5, 30)
        ta, te = model.true_from_raw(np.zeros_like(e), e)
        # angular distance from the raw direction
        sep = separation(ta, te, np.zeros_like(e), e)
        # the beam keeps its angle to the (tilted) elevation axis: chord geometry
        if name == "NPAE":
            want = 2 * np.arcsin(np.sin(e) * np.sin(value * ARCSEC / 2))
        else:
            want = np.full_like(e, value * ARCSEC)
        np.testing.assert_allclose(sep, want, rtol=1e-9, atol=1e-13)


def test_scalar_and_array_paths_agree_and_types():
    rng = np.random.default_rng(2)
    model = PointingModel(TERMS, compass_setup(rng))
    a, e = 1.2, 0.7
    sa, se = model.raw_from_true(a, e)
    assert isinstance(sa, float) and isinstance(se, float)
    va, ve = model.raw_from_true(np.array([a, a]), np.array([e, e]))
    assert va.shape == (2,) and va[0] == pytest.approx(sa, abs=1e-14)
    assert ve[1] == pytest.approx(se, abs=1e-14)
    # broadcasting and shapes
    ga, ge = model.true_from_raw(np.zeros((3, 4)), 0.5)
    assert ga.shape == ge.shape == (3, 4)
    big = rng.uniform(0.1, 1.4, 20000)  # crosses the internal block size
    ba, _be = model.raw_from_true(big, big)
    ca, _ce = model.raw_from_true(big[:100], big[:100])
    np.testing.assert_array_equal(ba[:100], ca)


def test_cable_wrap_turn_is_kept():
    model = PointingModel(["IA", "AN"], [5 * 3600.0, 300.0])
    for az_deg in (-260.0, -200.0, -10.0, 10.0, 200.0, 265.0):
        ra, _ = model.raw_from_true(az_deg * DEG, 40 * DEG)
        assert abs(ra / DEG - az_deg) < 6.0
        ta, _ = model.true_from_raw(az_deg * DEG, 40 * DEG)
        assert abs(ta / DEG - az_deg) < 6.0


def test_over_the_top_positions_round_trip():
    model = PointingModel(["IA", "IE", "NPAE", "CA", "AN", "AW"], [100, -50, 20, 30, 60, -40])
    a = np.radians([10.0, 100.0, 250.0])
    e = np.radians([91.0, 92.5, 90.6])
    ta, te = model.true_from_raw(a, e)
    assert np.all(te > np.pi / 2)  # reported on the mount's side, beyond the zenith
    ra, re = model.raw_from_true(ta, te)
    np.testing.assert_allclose(ra, a, atol=1e-10)
    np.testing.assert_allclose(re, e, atol=1e-10)


def test_thread_safety():
    rng = np.random.default_rng(4)
    models = [PointingModel(TERMS, compass_setup(rng)) for _ in range(4)]
    a = rng.uniform(0, 6, 500)
    e = rng.uniform(0.2, 1.4, 500)
    expected = [m.raw_from_true(a, e) for m in models]
    errors = []

    def worker(k):
        for _ in range(20):
            got = models[k % 4].raw_from_true(a, e)
            if not (np.array_equal(got[0], expected[k % 4][0])
                    and np.array_equal(got[1], expected[k % 4][1])):
                errors.append(k)
            s = models[k % 4].raw_from_true(float(a[0]), float(e[0]))
            if abs(s[0] - expected[k % 4][0][0]) > 1e-12:
                errors.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_model_is_immutable_value_lookup():
    m = PointingModel(["IA", "TX10"], [1.0, 2.0])
    assert m["ia"] == 1.0 and m["TX"] == 2.0
    with pytest.raises(KeyError):
        m["IE"]
    with pytest.raises(AttributeError):
        m.foo = 1
