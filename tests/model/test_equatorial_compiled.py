"""Compiled (numba) equatorial kernels against the numpy kernels, the reference."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.errors import TermError
from pointing.model import equatorial, numba_equatorial
from pointing.model import model as model_module
from pointing.model.equatorial import to_sky
from pointing.model.model import PointingModel
from pointing.model.terms import MATH
from pointing.units import ARCSEC

pytestmark = pytest.mark.skipif(not numba_equatorial.available(), reason="numba not installed")

TERMS = ["IH", "ID", "CH", "NP", "MA", "ME", "TF", "TX", "FO", "DAF", "HDSD", "HHSH2", "HXCH",
         "HDCH2SD", "ID@FAR", "CH@FAR", "NP@NEAR", "TF@FAR", "HHCD@NEAR"]


def _model(rng, lat, scale=1.0):
    vals = [rng.uniform(-2, 2) * 3600 * scale, rng.uniform(-1, 1) * 3600 * scale,
            *rng.uniform(-300, 300, 2), *(rng.uniform(-1, 1, 2) * 3600 * scale),
            *rng.uniform(-30, 30, len(TERMS) - 6)]
    return PointingModel(TERMS, vals, mount="gem", latitude_deg=lat)


def _positions(rng, n):
    return rng.uniform(-math.pi, math.pi, n), rng.uniform(-0.5 * math.pi, 1.5 * math.pi, n)


def _hdiff(x, y):
    return np.abs((x - y + math.pi) % (2 * math.pi) - math.pi)


def _numpy(m, fn, *args):
    """A model method on the numpy kernels (the reference)."""
    old = model_module.USE_COMPILED
    model_module.USE_COMPILED = False
    try:
        return getattr(m, fn)(*args)
    finally:
        model_module.USE_COMPILED = old


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), lat=st.floats(-70, 70))
def test_compiled_forward_matches_numpy_on_both_sides(seed, lat):
    rng = np.random.default_rng(seed)
    m = _model(rng, lat)
    h, d = _positions(rng, 3000)
    ch, cd = m.true_from_raw(h, d)
    nh, nd = _numpy(m, "true_from_raw", h, d)
    assert np.max(_hdiff(ch, nh) * np.abs(np.cos(nd))) < 1e-12
    assert np.max(np.abs(cd - nd)) < 1e-12
    assert np.all(equatorial.pier_side(cd) == equatorial.pier_side(nd))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), lat=st.floats(-70, 70))
def test_compiled_inverse_matches_numpy_and_round_trips(seed, lat):
    rng = np.random.default_rng(seed)
    m = _model(rng, lat)
    h, d = _positions(rng, 3000)
    th, td = _numpy(m, "true_from_raw", h, d)
    rh, rd, st_c = m.raw_from_true_status(th, td)
    qh, qd, st_n = _numpy(m, "raw_from_true_status", th, td)
    assert np.array_equal(st_c, st_n) and np.all(st_c == 0)
    away = np.abs(np.cos(d)) > math.sin(3 * math.pi / 180)  # several demands near a pole
    assert np.max(_hdiff(rh, qh)[away]) < 1e-9 and np.max(np.abs(rd - qd)[away]) < 1e-9
    fh, fd = to_sky(*_numpy(m, "true_from_raw", rh, rd))  # the sky position: either writing
    sh, sd = to_sky(th, td)
    assert np.max(_hdiff(fh, sh) * np.abs(np.cos(sd))) < 1e-9
    assert np.max(np.abs(fd - sd)) < 1e-9


def _plan(m):
    lat = None if m.latitude_deg is None else math.radians(m.latitude_deg)
    return equatorial.compile_plan(m.terms, [v * ARCSEC for v in m.values.values()], lat)


def _spy(monkeypatch):
    """Count the calls of the compiled forward kernel."""
    calls = []
    real = numba_equatorial.forward

    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(numba_equatorial, "forward", counted)
    return calls


def _fallbacks(monkeypatch):
    """Record how many positions the compiled path hands to the numpy kernels (its
    fallback), per call of ``equatorial.forward`` / ``equatorial.solve_inverse`` from it."""
    got = {"forward": [], "solve_inverse": []}
    for name, sink in got.items():
        real = getattr(equatorial, name)

        def counted(plan, ha, dec, *rest, _real=real, _sink=sink):
            _sink.append(np.size(ha))
            return _real(plan, ha, dec, *rest)

        monkeypatch.setattr(numba_equatorial.equatorial, name, counted)
    return got


def _around_poles(rng, n, lo_deg, hi_deg):
    """Raw positions between lo and hi degrees from either pole, on both pier sides
    (the south pole's far side written below −90°)."""
    off = rng.uniform(lo_deg, hi_deg, n) * math.pi / 180 * rng.choice([-1.0, 1.0], n)
    pole = rng.choice([0.5 * math.pi, -0.5 * math.pi], n)
    return rng.uniform(-math.pi, math.pi, n), pole + off


def test_compiled_kernels_answer_next_to_the_poles(monkeypatch):
    """1.5°–4° from a pole (the model moves positions by ≤ 0.2°) the compiled kernels
    answer both ways, no position falls back, and they agree with the numpy kernels."""
    m = _model(np.random.default_rng(1), 30.0, scale=0.05)
    h, d = _around_poles(np.random.default_rng(2), 4000, 1.5, 4.0)
    nh, nd = _numpy(m, "true_from_raw", h, d)
    qh, qd, st_n = _numpy(m, "raw_from_true_status", nh, nd)
    got = _fallbacks(monkeypatch)
    ch, cd = m.true_from_raw(h, d)
    rh, rd, st_c = m.raw_from_true_status(nh, nd)
    assert sum(got["forward"]) == 0 and sum(got["solve_inverse"]) == 0, got
    assert np.max(np.abs(cd - nd)) < 1e-12
    assert np.max(_hdiff(ch, nh) * np.abs(np.cos(nd))) < 1e-12
    assert np.all(st_c == 0) and np.all(st_n == 0)
    assert np.max(np.abs(rd - qd)) < 1e-11 and np.max(_hdiff(rh, qh)) < 1e-10
    assert np.max(_hdiff(rd, d)) < 1e-9 and np.max(_hdiff(rh, h) * np.abs(np.cos(d))) < 1e-9


def test_within_a_degree_of_a_pole_the_numpy_kernels_answer(monkeypatch):
    m = _model(np.random.default_rng(1), 30.0, scale=0.05)
    h, d = _around_poles(np.random.default_rng(3), 400, 0.0, 0.5)
    nh, nd = _numpy(m, "true_from_raw", h, d)
    got = _fallbacks(monkeypatch)
    ch, cd = m.true_from_raw(h, d)
    rh, rd, status = m.raw_from_true_status(nh, nd)
    assert sum(got["forward"]) == 400 and sum(got["solve_inverse"]) == 400
    np.testing.assert_array_equal(cd, nd)
    np.testing.assert_array_equal(ch, nh)
    assert np.all(status == 0)
    fh, fd = _numpy(m, "true_from_raw", rh, rd)
    assert np.max(np.abs(fd - nd)) < 1e-9 and np.max(_hdiff(fh, nh) * np.abs(np.cos(nd))) < 1e-9


def test_compiled_inverse_finds_the_raw_side_across_the_pole(monkeypatch):
    """ID = −4° carries raw 87.2°–88.5° past the pole (true 91.2°–92.5°, written on the
    far side); ID@FAR acts by the raw side (raw 91.2°–92.8°).  The compiled inverse
    assumes the target's side, sees its solution on the other, and solves there: no
    fallback, exact round trips, the raw side kept."""
    m = PointingModel(["IH", "ID", "ID@FAR", "CH"], [300.0, -4 * 3600.0, 900.0, 60.0],
                      mount="gem", latitude_deg=40.0)
    rng = np.random.default_rng(4)
    h = rng.uniform(-math.pi, math.pi, 2000)
    d = np.radians(np.concatenate([rng.uniform(87.2, 88.5, 1000), rng.uniform(91.2, 92.8, 1000)]))
    nh, nd = _numpy(m, "true_from_raw", h, d)
    assert np.all(equatorial.pier_side(nd[:1000]) == "far")  # written on the other side
    got = _fallbacks(monkeypatch)
    ch, cd = m.true_from_raw(h, d)
    rh, rd, status = m.raw_from_true_status(nh, nd)
    assert sum(got["forward"]) == 0 and sum(got["solve_inverse"]) == 0, got
    np.testing.assert_allclose(cd, nd, rtol=0, atol=1e-12)
    assert np.max(_hdiff(ch, nh)) < 1e-12
    assert np.all(status == 0)
    assert np.all(equatorial.pier_side(rd) == equatorial.pier_side(d))
    assert np.max(np.abs(rd - d)) < 1e-9 and np.max(_hdiff(rh, h)) < 1e-9
    scalar = m.raw_from_true_status(float(nh[3]), float(nd[3]))
    assert scalar[2] == 0 and scalar[:2] == pytest.approx((rh[3], rd[3]), abs=1e-12)


def test_scalars_match_arrays_both_ways():
    m = _model(np.random.default_rng(2), -20.0)
    h, d = 0.7, 2.2  # far side
    th, td = m.true_from_raw(h, d)
    assert isinstance(th, float)
    ah, ad = m.true_from_raw(np.array([h]), np.array([d]))
    assert (th, td) == pytest.approx((ah[0], ad[0]), abs=1e-15)
    assert equatorial.forward(_plan(m), h, d, MATH) == pytest.approx((th, td), abs=1e-13)
    rh, rd, status = m.raw_from_true_status(th, td)
    assert status == 0 and (rh, rd) == pytest.approx((h, d), abs=1e-11)
    assert m.raw_from_true_status(math.nan, 0.2)[2] == 1
    assert m.raw_from_true_status(0.1, -5.0)[2] == 2
    assert math.isnan(m.true_from_raw(0.1, 5.0)[0])


def test_model_without_its_latitude_keeps_the_numpy_path_and_its_error(monkeypatch):
    m = PointingModel(["IH", "TF"], [10.0, 5.0], mount="gem")
    calls = _spy(monkeypatch)
    with pytest.raises(TermError, match="needs the site latitude"):
        m.true_from_raw(np.array([0.1]), np.array([0.2]))
    assert not calls and numba_equatorial.encode(_plan(m)) is None


def test_degree_size_polar_axis_and_index_errors_agree():
    m = PointingModel(["IH", "ID", "MA", "ME", "CH", "NP", "ID@FAR"],
                      [3 * 3600.0, -2 * 3600.0, 1.5 * 3600, -2.5 * 3600, 600.0, -300.0, 1800.0],
                      mount="gem", latitude_deg=48.0)
    h, d = _positions(np.random.default_rng(5), 5000)
    ch, cd = m.true_from_raw(h, d)
    nh, nd = _numpy(m, "true_from_raw", h, d)
    assert np.max(np.abs(cd - nd)) < 1e-12
    assert np.max(_hdiff(ch, nh) * np.abs(np.cos(nd))) < 1e-12
