"""The compiled (numba) kernels of the star measurement agree with the numpy path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from star_frames import frame

from pointing.camera import Sensor, compiled, gaussian_crlb, measure_star
from pointing.camera.detect import bin_sum, spike_ratios, spikes
from pointing.camera.starfit import background_plane, moments

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba not installed")

CAMERA = Sensor()


@pytest.fixture
def numpy_path(monkeypatch):
    """Call a function on the numpy path (the compiled kernels switched off)."""

    def call(fn, *args, **kw):
        monkeypatch.setattr(compiled, "USE_COMPILED", False)
        try:
            return fn(*args, **kw)
        finally:
            monkeypatch.setattr(compiled, "USE_COMPILED", True)

    return call


def _frames():
    rng = np.random.default_rng(7)
    yield "plain", frame((96, 128), [(60.3, 41.7, 20000.0)], rng), None
    yield "faint", frame((96, 128), [(60.3, 41.7, 1500.0)], rng), None
    hot = frame((96, 128), [(60.3, 41.7, 20000.0), (90.2, 70.6, 8000.0)], rng)
    hot[42, 62] = 60000
    yield "hot pixel, neighbour", hot, None
    sat = frame((96, 128), [(60.3, 41.7, 2e6)], rng, full_well=30000)
    yield "saturated", sat, None
    yield "unknown gain", frame((96, 128), [(60.3, 41.7, 20000.0)], rng), "nogain"


@pytest.mark.parametrize("fast", [False, True])
def test_measurement_agrees_with_the_numpy_path(fast, numpy_path):
    for name, img, how in _frames():
        kw = dict(fast=fast, fwhm=3.0) if how == "nogain" else dict(fast=fast, camera=CAMERA)
        a = measure_star(img, **kw)
        b = numpy_path(measure_star, img, **kw)
        assert a.found, name
        assert a.flags == b.flags, name
        for key in ("x", "y", "sigma_x", "sigma_y", "crlb_x", "crlb_y", "flux", "snr", "fwhm"):
            va, vb = getattr(a, key), getattr(b, key)
            assert va == pytest.approx(vb, rel=1e-9, abs=1e-10, nan_ok=True), (name, key)


def test_kernels_agree_with_numpy(numpy_path):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 65535, (67, 93)).astype(np.uint16)
    for k in (2, 4, 8):
        assert np.array_equal(bin_sum(img, k), numpy_path(bin_sum, img, k))
    ratios = spike_ratios(3.0)
    for _ in range(20):
        r = rng.normal(0, 1, (15, 17))
        r[rng.random(r.shape) < 0.03] = np.nan
        r[rng.integers(0, 15, 4), rng.integers(0, 17, 4)] += 40
        noise = np.abs(rng.normal(1, 0.1, r.shape))
        assert np.array_equal(spikes(r, noise, ratios), numpy_path(spikes, r, noise, ratios))
        assert np.array_equal(spikes(r, 0.8, ratios), numpy_path(spikes, r, 0.8, ratios))
        n = int(rng.integers(8, 200))
        z = rng.normal(100, 5, n)
        z[rng.integers(0, n, 3)] += 300
        x, y = rng.normal(0, 5, (2, n))
        sel = np.ones(n, bool)
        ca, sa, na = background_plane(z, x, y, sel)
        cb, sb, nb = numpy_path(background_plane, z, x, y, sel)
        assert na == nb
        assert ca == pytest.approx(cb, rel=1e-10, abs=1e-10)
        assert sa == pytest.approx(sb, rel=1e-10)
        f = rng.normal(0, 1, (13, 15)) + 50 * np.exp(-0.5 * (
            (np.arange(15)[None, :] - 7.2) ** 2 / 2.0 + (np.arange(13)[:, None] - 6.1) ** 2))
        xs, ys = np.arange(15.0), np.arange(13.0)
        ea, ga = moments(f, xs, ys, 7.2, 6.1, 2.5, 1.0)
        eb, gb = numpy_path(moments, f, xs, ys, 7.2, 6.1, 2.5, 1.0)
        assert ga == gb and ea == pytest.approx(eb, rel=1e-9)
    for flux, sx, sy, gain, circ in ((1000.0, 1.27, 1.27, 0.5, True),
                                     (50.0, 2.0, 1.5, None, False)):
        a = gaussian_crlb(flux, sx, sy, background_var=400.0, gain=gain, x0=0.3, circular=circ)
        b = numpy_path(gaussian_crlb, flux, sx, sy, background_var=400.0, gain=gain, x0=0.3,
                       circular=circ)
        assert a.x == pytest.approx(b.x, rel=1e-12) and a.snr == pytest.approx(b.snr, rel=1e-12)
    assert math.isnan(gaussian_crlb(0.0, 1.0, background_var=1.0).x)
