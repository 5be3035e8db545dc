"""Compiled (numba) equatorial kernels against the numpy kernels, the reference."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.errors import TermError
from pointing.model import equatorial, numba_equatorial
from pointing.model import model as model_module
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
    fh, fd = _numpy(m, "true_from_raw", rh, rd)
    assert np.max(_hdiff(fh, th) * np.abs(np.cos(td))) < 1e-9
    assert np.max(np.abs(fd - td)) < 1e-9


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


def test_compiled_kernels_are_in_use_and_agree_at_the_poles(monkeypatch):
    m = _model(np.random.default_rng(1), 30.0)
    calls = _spy(monkeypatch)
    h = np.linspace(-3, 3, 400)
    d = np.concatenate([np.full(100, 0.5 * math.pi - 1e-3), np.full(100, 0.5 * math.pi + 2e-3),
                        np.full(100, 1.5 * math.pi - 1e-3), np.full(100, -0.5 * math.pi + 1e-4)])
    ch, cd = m.true_from_raw(h, d)
    assert calls  # the fast path was taken
    nh, nd = _numpy(m, "true_from_raw", h, d)
    np.testing.assert_allclose(cd, nd, rtol=0, atol=1e-12)
    assert np.max(_hdiff(ch, nh) * np.abs(np.cos(nd))) < 1e-12


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
