"""The compiled (numba) model kernels: blocks, threads, series, fallbacks, input checks.

The numpy kernels are the reference: every test here compares with them or with
the exact round trip.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from _model_paths import numpy_path
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.model import compiled
from pointing.model.model import PointingModel

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba not installed")

DEG = math.pi / 180.0
ALL_KINDS = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX", "HESE", "HACA2", "HSSA", "NRX",
             "NRY", "ECES", "HSCA5CE8", "HASA3", "HZCZ2"]


def sky_miss(a1, e1, a2, e2):
    return np.hypot((a1 - a2) * np.cos(e2), e1 - e2)


def test_polynomial_sine_and_cosine_match_the_library():
    import numba

    from pointing.model import numba_kernels as nk

    @numba.njit
    def both(x, s, c):
        for j in range(x.size):
            s[j], c[j] = nk.sin_cos(x[j])

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-7, 7, 20000), rng.uniform(-nk.REDUCE_MAX, nk.REDUCE_MAX,
                                                                20000),
                        np.arange(-8, 9) * (math.pi / 2), [0.0, -0.0, 1e-300, 5e-324]])
    s, c = np.empty_like(x), np.empty_like(x)
    both(x, s, c)
    assert np.max(np.abs(s - np.sin(x))) < 3e-16
    assert np.max(np.abs(c - np.cos(x))) < 3e-16


@pytest.mark.parametrize("n", [0, 1, 3, 1023, 1024, 1025, 5000])
def test_block_edges_agree_with_the_numpy_kernels(n):
    rng = np.random.default_rng(n)
    model = PointingModel(ALL_KINDS, rng.uniform(-60, 60, len(ALL_KINDS)))
    a, e = rng.uniform(-7, 7, n), rng.uniform(-5 * DEG, 88 * DEG, n)
    ta, te = model.true_from_raw(a, e)
    na, ne = numpy_path(model, "true_from_raw", a, e)
    assert ta.shape == (n,)
    assert np.all(sky_miss(ta, te, na, ne) < 1e-11)
    ra, re = model.raw_from_true(a, e)
    qa, qe = numpy_path(model, "raw_from_true", a, e)
    assert np.array_equal(np.isnan(ra), np.isnan(qa))
    ok = ~np.isnan(ra)
    assert np.all(sky_miss(ra[ok], re[ok], qa[ok], qe[ok]) < 1e-10)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(ALL_KINDS), min_size=1, max_size=8, unique=True),
       st.integers(0, 2**32 - 1), st.sampled_from([1.0, 30.0, 3000.0]))
def test_round_trips_for_small_and_large_terms(terms, seed, size):
    # size 3000″ makes every term "wide" (library sine and cosine) and pushes the
    # inverse of the additive terms from the chord step to Newton
    rng = np.random.default_rng(seed)
    model = PointingModel(terms, rng.uniform(-1, 1, len(terms)) * size)
    a, e = rng.uniform(-7, 7, 3000), rng.uniform(1 * DEG, 80 * DEG, 3000)
    ra, re, status = model.raw_from_true_status(a, e)
    ok = status == 0
    assert np.mean(ok) > 0.9
    fa, fe = model.true_from_raw(ra[ok], re[ok])
    assert np.max(sky_miss(fa, fe, a[ok], e[ok])) < 1e-9
    qa, qe, qs = numpy_path(model, "raw_from_true_status", a, e)
    assert np.array_equal(status, qs)
    assert np.max(sky_miss(ra[ok], re[ok], qa[ok], qe[ok])) < 1e-10


def test_tx_at_its_limit_round_trips():
    # TX's slope jumps where cot E meets its limit: the chord step must not cross it
    limit = math.atan(0.1)
    rng = np.random.default_rng(2)
    for c in (3.6, -20.0, 300.0):
        model = PointingModel(["TX", "HESE", "TF"], [c, 15.0, -30.0])
        e = limit + rng.uniform(-1, 1, 50000) * abs(c) * 1.5e-4
        a = rng.uniform(0, 2 * math.pi, e.size)
        ra, re = model.raw_from_true(a, e)
        fa, fe = model.true_from_raw(ra, re)
        assert np.max(sky_miss(fa, fe, a, e)) < 1e-12


def test_input_checks_in_the_kernel_match_scalars_and_numpy():
    model = PointingModel(["IA", "IE", "TX", "HESA2"], [300.0, -50.0, 5.0, 10.0])
    a = np.array([0.3, np.nan, np.inf, 0.3, 0.3, 0.3, -np.inf, 0.3])
    e = np.array([0.5, 0.5, 0.5, np.nan, 96 * DEG, -91 * DEG, 0.5, 94.9 * DEG])
    ra, re, status = model.raw_from_true_status(a, e)
    assert list(status[:7]) == [0, 1, 1, 1, 2, 2, 1]
    assert np.all(np.isnan(ra[1:7])) and np.all(np.isnan(re[1:7]))
    np.testing.assert_array_equal(status, numpy_path(model, "raw_from_true_status", a, e)[2])
    for x, y, code in zip(a, e, status, strict=True):
        assert model.raw_from_true_status(float(x), float(y))[2] == code
    ta, te = model.true_from_raw(a, e)
    na, ne = numpy_path(model, "true_from_raw", a, e)
    np.testing.assert_array_equal(np.isnan(ta), np.isnan(na))
    np.testing.assert_array_equal(np.isnan(te), np.isnan(ne))
    assert np.all(np.isnan(ta[1:7]))


def test_many_cable_wrap_turns_use_the_library_reduction():
    model = PointingModel(["IA", "CA", "HASA2"], [200.0, 30.0, 10.0])
    a = np.array([2e5, -3e5 + 0.1, 1e9, 0.4])
    e = np.full(4, 0.6)
    grain = 1e-9 + 4 * np.spacing(np.abs(a))  # azimuths of 1e9 rad hold 1e-7 rad steps
    ta, te = model.true_from_raw(a, e)
    na, ne = numpy_path(model, "true_from_raw", a, e)
    assert np.all(np.abs(ta - na) < grain) and np.max(np.abs(te - ne)) < 1e-12
    ra, re = model.raw_from_true(a, e)
    fa, fe = model.true_from_raw(ra, re)
    assert np.all(np.abs(fa - a) < 2 * grain) and np.max(np.abs(fe - e)) < 1e-12


def test_threads_give_the_same_answer_as_one_thread():
    import numba

    rng = np.random.default_rng(3)
    model = PointingModel(ALL_KINDS, rng.uniform(-60, 60, len(ALL_KINDS)))
    n = compiled.PARALLEL_MIN + 4321
    a, e = rng.uniform(-7, 7, n), rng.uniform(-5 * DEG, 92 * DEG, n)
    threaded = model.raw_from_true_status(a, e) + model.true_from_raw(a, e)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        assert compiled.threads() == 1
        serial = model.raw_from_true_status(a, e) + model.true_from_raw(a, e)
    finally:
        numba.set_num_threads(before)
    for x, y in zip(threaded, serial, strict=True):
        np.testing.assert_array_equal(x, y)


def test_concurrent_large_calls_from_python_threads():
    # one call holds the threaded kernel, the others run serially: same answers
    rng = np.random.default_rng(4)
    model = PointingModel(["IA", "IE", "CA", "AN", "AW", "TF", "TX"], rng.uniform(-60, 60, 7))
    n = compiled.PARALLEL_MIN + 100
    a, e = rng.uniform(0, 6, n), rng.uniform(0.1, 1.4, n)
    expected = model.raw_from_true(a, e)
    errors = []

    def worker():
        for _ in range(3):
            got = model.raw_from_true(a, e)
            if not (np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])):
                errors.append(1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
