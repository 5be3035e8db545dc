"""The compiled kernels with TPOINT's parallel (``&``) terms against the numpy kernels.

The numpy kernels (:mod:`pointing.model.kernels`) are the reference: forward
within 1e-12 rad, the inverse reaching its target within 1e-9 rad, scalars and
arrays, near the zenith too, on the shipped 2020-03-14 FAUTO model and on
random models with parallel terms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _model_paths import numpy_kernels, numpy_path
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.model import compiled, jacobian
from pointing.model import model as model_module
from pointing.model.formats import read_mod
from pointing.model.model import PointingModel

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba not installed")

DEG = math.pi / 180.0
MOD_0314 = ("rubin_auxtel", "20200314__at_20200314_fauto.mod")
HEADS = ["IA", "IE", "CA", "NPAE", "AN", "TF", "TX", "HESE2", "HASA"]
PARALLEL = ["&HESE", "&HECE3", "&HACA2", "&HASA7", "&HSCA5CE8", "&HSSA6CE6", "&HSSE8",
            "&HZCZ2", "&HESACE", "&HVSA"]


def assert_jacobian_matches_numpy(terms, values, free, a, e):
    """The compiled Jacobian against the numpy path's central differences."""
    fa, fe, jac = jacobian.forward_and_jacobian(terms, values, free, a, e)
    with numpy_kernels():
        ga, ge, ref = model_module.forward_and_jacobian(terms, values, free, a, e)
    np.testing.assert_allclose(fa, ga, atol=1e-12)
    np.testing.assert_allclose(fe, ge, atol=1e-12)
    np.testing.assert_allclose(jac, ref, atol=2e-8 * np.abs(ref).max(), rtol=1e-7)


def sky_miss(a1, e1, a2, e2):
    """Angle between two directions (radians), also across the zenith."""
    def unit(a, e):
        return np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    d = unit(a1, e1) - unit(a2, e2)
    return np.sqrt(np.sum(d * d, axis=0))


def sky(rng, n, top=93.0):
    """Directions over the sky (uniform in solid angle) and, densely, the zenith's 0.5°."""
    a = rng.uniform(-7, 7, n)
    e = np.arcsin(rng.uniform(math.sin(-5 * DEG), 1.0, n))
    za = rng.uniform(-math.pi, math.pi, n // 4)
    ze = rng.uniform(89.5 * DEG, min(top, 90.5) * DEG, n // 4)
    return np.concatenate([a, za]), np.concatenate([e, ze])


@pytest.fixture(scope="module")
def model_0314(datasets):
    return read_mod(datasets.joinpath(*MOD_0314))


def check_both_ways(model, a, e):
    ta, te = model.true_from_raw(a, e)
    na, ne = numpy_path(model, "true_from_raw", a, e)
    miss = sky_miss(ta, te, na, ne)
    near = np.abs(e - math.pi / 2) < 1 * DEG
    assert np.max(miss[~near]) < 1e-12
    # the numpy kernels' arcsin near 1 loses digits close to the zenith (~ε / cos E; the
    # same models without '&' differ as much there: 2.8e-12 on the 0314 model)
    assert np.all(miss[near] < 1e-12 + 3e-15 / np.abs(np.cos(ne[near])))
    ra, re, status = model.raw_from_true_status(a, e)
    qa, qe, qs = numpy_path(model, "raw_from_true_status", a, e)
    assert np.array_equal(status, qs)
    ok = status == 0
    # everywhere but the zenith's hole (as wide as the model's sideways terms), reached
    assert np.mean(ok[np.abs(e - math.pi / 2) > 2 * DEG]) > 0.95
    fa, fe = model.true_from_raw(ra[ok], re[ok])
    assert np.max(sky_miss(fa, fe, a[ok], e[ok])) < 1e-9
    assert np.max(sky_miss(ra[ok], re[ok], qa[ok], qe[ok])) < 1e-9
    assert np.all((re[ok] >= -90.0 * DEG) & (re[ok] <= 93.0 * DEG + 1e-12))
    return ra, re, status


def test_the_0314_fauto_model_agrees_with_the_numpy_kernels(model_0314):
    assert any(t.parallel for t in model_0314.terms)
    a, e = sky(np.random.default_rng(0), 20000)
    check_both_ways(model_0314, a, e)


def test_the_0314_fauto_model_scalars_agree_with_arrays(model_0314):
    a, e = sky(np.random.default_rng(1), 200)
    ra, re, status = model_0314.raw_from_true_status(a, e)
    ta, te = model_0314.true_from_raw(a, e)
    for j in range(a.size):
        x, y = float(a[j]), float(e[j])
        assert model_0314.true_from_raw(x, y) == pytest.approx((ta[j], te[j]), abs=1e-15)
        sa, se, code = model_0314.raw_from_true_status(x, y)
        assert code == status[j]
        if code == 0:
            assert sky_miss(sa, se, ra[j], re[j]) < 1e-12
            fa, fe = model_0314.true_from_raw(sa, se)
            assert sky_miss(fa, fe, x, y) < 1e-9


def test_the_0314_fauto_model_is_solved_in_the_kernel_away_from_the_zenith(model_0314):
    # the groups' fixed point settles: only the zenith region goes to the checked path
    rng = np.random.default_rng(2)
    a, e = rng.uniform(-7, 7, 5000), rng.uniform(0.0, 85.0 * DEG, 5000)
    _, _, status, left = compiled.inverse(model_0314._arrays, a, e, -math.pi / 2,
                                          95 * DEG, 93 * DEG)
    assert left == 0 and np.all(status == 0)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1.0, 30.0, 300.0, 3000.0]))
def test_random_parallel_models_agree_with_the_numpy_kernels(seed, size):
    rng = np.random.default_rng(seed)
    names: list[str] = []
    pool = [str(p) for p in rng.permutation(PARALLEL)]
    for head in rng.permutation(HEADS)[: rng.integers(1, 5)]:
        names.append(str(head))
        names += [pool.pop() for _ in range(rng.integers(0, 4)) if pool]
    values = rng.uniform(-1, 1, len(names)) * size
    values[rng.uniform(size=len(names)) < 0.2] = 0.0  # heads that move nothing, too
    model = PointingModel(names, values)
    a, e = sky(rng, 2000)
    check_both_ways(model, a, e)


@pytest.mark.skipif(not jacobian.available(), reason="numba not installed")
def test_the_0314_fauto_jacobian_matches_central_differences(model_0314):
    rng = np.random.default_rng(3)
    a, e = rng.uniform(-7, 7, 60), rng.uniform(-0.1, 1.5, 60)
    terms, values = model_0314.terms, np.array(list(model_0314.values.values()))
    free = list(range(len(terms)))
    assert_jacobian_matches_numpy(terms, values, free, a, e)


@pytest.mark.skipif(not jacobian.available(), reason="numba not installed")
@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1))
def test_random_parallel_jacobians_match_central_differences(seed):
    rng = np.random.default_rng(seed)
    pool = [str(p) for p in rng.permutation(PARALLEL)]
    names: list[str] = []
    for head in rng.permutation(HEADS)[: rng.integers(1, 5)]:
        names += [str(head)] + [pool.pop() for _ in range(rng.integers(0, 4)) if pool]
    model = PointingModel(names, rng.uniform(-100, 100, len(names)))
    terms, values = model.terms, np.array(list(model.values.values()))
    values[rng.uniform(size=len(names)) < 0.2] = 0.0
    free = sorted(rng.choice(len(names), size=rng.integers(1, len(names) + 1), replace=False))
    a, e = rng.uniform(-7, 7, 40), rng.uniform(-0.2, 1.45, 40)
    assert_jacobian_matches_numpy(terms, values, free, a, e)
