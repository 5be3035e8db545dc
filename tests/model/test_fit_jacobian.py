"""The fit's compiled Jacobian against central differences of the numpy kernels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.model import jacobian
from pointing.model import model as model_module
from pointing.model.fit import fit
from pointing.model.model import ARCSEC
from pointing.model.synthetic import simulate_run
from pointing.model.terms import parse_terms

pytestmark = pytest.mark.skipif(not jacobian.available(), reason="numba not installed")

#: every kind of operation the compiled kernels encode
POOL = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX", "NRX", "NRY", "ECES", "ECEC",
        "HASA", "HACA2", "HESE", "HECE3", "HSCA", "HSSA2", "HLCE", "HZCE2", "HVSA",
        "HSCA2CE", "HESA3SE2"]


def numpy_jacobian(terms, values, free, a, e):
    model_module.USE_COMPILED = False
    try:
        return model_module.forward_and_jacobian(terms, values, free, a, e)
    finally:
        model_module.USE_COMPILED = True


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1))
def test_compiled_jacobian_matches_central_differences(seed):
    rng = np.random.default_rng(seed)
    names = [POOL[i] for i in rng.permutation(len(POOL))[: rng.integers(3, len(POOL) + 1)]]
    terms = parse_terms(names)
    big = {"IA": 20000.0, "IE": -900.0, "AN": 1000.0, "AW": -700.0}
    values = np.array([big.get(n, rng.uniform(-80, 80)) * rng.integers(0, 2) for n in names])
    free = sorted(rng.choice(len(names), size=rng.integers(1, len(names) + 1), replace=False))
    n = 40
    a = rng.uniform(-7, 7, n)
    # and both sides of the zenith, no closer than central differences can follow
    e = np.concatenate([rng.uniform(-0.2, 1.45, n - 4), np.radians([87.5, 88.0, 92.0, 92.5])])
    fa, fe, jac = jacobian.forward_and_jacobian(terms, values, free, a, e)
    ga, ge, ref = numpy_jacobian(terms, values, free, a, e)
    assert jac.shape == (2 * n, len(free))
    np.testing.assert_allclose(fa, ga, atol=1e-12)
    np.testing.assert_allclose(fe, ge, atol=1e-12)
    # the positions are the compiled forward model's own (to the last bits)
    ta, te = model_module.PointingModel(terms, values).true_from_raw(a, e)
    np.testing.assert_allclose(fa, ta, rtol=0, atol=1e-14)
    np.testing.assert_allclose(fe, te, rtol=0, atol=1e-14)
    # central differences are good to ~1e-9 of the column scale
    np.testing.assert_allclose(jac, ref, atol=2e-8 * np.abs(ref).max(), rtol=1e-7)


def test_fit_is_the_same_without_numba():
    names = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX", "HASA", "HECE3", "HSCA2CE"]
    truth = model_module.PointingModel(names, [300, -120, 30, -20, 60, -45, 25, 8, 5, -4, 3])
    obs = simulate_run(truth, 60, seed=3, noise_arcsec=1.0)
    fast = fit(obs, names, mask=[5, 9])
    model_module.USE_COMPILED = False
    try:
        slow = fit(obs, names, mask=[5, 9])
    finally:
        model_module.USE_COMPILED = True
    for name, value in fast.model.values.items():
        assert value == pytest.approx(slow.model.values[name], abs=1e-6), name
        assert fast.model.sigmas[name] == pytest.approx(slow.model.sigmas[name], rel=1e-6)
    assert fast.loo_rms == pytest.approx(slow.loo_rms, rel=1e-9)
    np.testing.assert_allclose(fast.dx, slow.dx, atol=1e-6)


def test_a_nearly_linear_model_needs_one_exact_jacobian():
    """Linear start, one exact step, one check reusing its factorisation: 3 in all."""
    names = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX", "HASA", "HECE2"]
    truth = model_module.PointingModel(names, [300, -120, 30, -20, 60, -45, 25, 8, 5, -4])
    res = fit(simulate_run(truth, 54, seed=2, noise_arcsec=1.0), names)
    assert res.iterations == 3
    assert not any("converge" in w for w in res.warnings)


def test_degree_offsets_converge_quickly_to_the_exact_minimum():
    names = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF"]
    truth = model_module.PointingModel(names, [-20000.0, 900.0, 40, -30, 1000.0, -800.0, 20])
    obs = simulate_run(truth, 60, seed=4, noise_arcsec=1.0)
    res = fit(obs, names)
    assert res.iterations <= 7 and not any("converge" in w for w in res.warnings)
    # at the minimum the gradient of the rigorous sum of squares vanishes: no
    # coefficient moved by 1 mas lowers it
    base = np.sum(res.dx[res.used] ** 2 + res.de[res.used] ** 2)
    for name in names:
        for h in (-1e-3, 1e-3):
            values = dict(res.model.values)
            values[name] += h
            moved = model_module.PointingModel(names, list(values.values()))
            ta, te = moved.true_from_raw(obs.az_raw, obs.el_raw)
            dx = ((obs.az_true - ta + np.pi) % (2 * np.pi) - np.pi) * np.cos(obs.el_true)
            de = obs.el_true - te
            assert np.sum(dx**2 + de**2) / ARCSEC**2 >= base - 1e-9, name


def test_parallel_terms_are_fitted_with_their_own_kernels():
    """TPOINT's & terms (not in the compiled kernels): residuals are the model's own."""
    names = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "HESE", "&HECE2", "&HASA"]
    truth = model_module.PointingModel(names, [3000, -120, 30, -20, 600, -450, 25, 80, 50,
                                               -40])
    obs = simulate_run(truth, 60, seed=3, noise_arcsec=1.0)
    fa, fe = jacobian.forward(truth.terms, np.array(list(truth.values.values())), obs.az_raw,
                              obs.el_raw)
    ta, te = truth.true_from_raw(obs.az_raw, obs.el_raw)
    np.testing.assert_allclose(fa, ta, rtol=0, atol=1e-14)
    np.testing.assert_allclose(fe, te, rtol=0, atol=1e-14)
    res = fit(obs, names)
    ta, te = res.model.true_from_raw(obs.az_raw, obs.el_raw)
    dx = ((obs.az_true - ta + np.pi) % (2 * np.pi) - np.pi) * np.cos(obs.el_true) / ARCSEC
    np.testing.assert_allclose(res.dx, dx, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.de, (obs.el_true - te) / ARCSEC, rtol=0, atol=1e-9)
