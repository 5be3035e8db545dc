"""The compiled (numba) kernels of the star measurement agree with the numpy path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from star_frames import frame

from pointing.camera import Sensor, compiled, gaussian_crlb, measure_star
from pointing.camera.detect import bin_sum, detect, spike_ratios, spikes
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
    # a whole frame (binned detection) with a gradient (a background map, not a level)
    ramp = np.linspace(0, 300, 640)[None, :] * np.ones((512, 1))
    yield "640x512, gradient", frame((512, 640), [(237.3, 313.6, 20000.0),
                                                   (500.2, 100.7, 9000.0)], rng, extra=ramp), None


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


def _detection_frames():
    rng = np.random.default_rng(11)
    yield "stars", frame((512, 640), [(237.3, 313.6, 20000.0), (90.5, 60.2, 3000.0),
                                      (600.1, 480.9, 8000.0)], rng)
    hot = frame((256, 320), [(100.3, 120.6, 15000.0)], rng)
    hot[50, 60] = hot[200, 33] = 65535
    hot[101:104, 150] = 60000  # a short cosmic-ray track
    yield "hot pixels", hot
    ramp = np.linspace(0, 400, 320)[None, :] * np.ones((256, 1))
    yield "gradient", frame((256, 320), [(100.3, 120.6, 15000.0)], rng, extra=ramp)
    # a bright disc (more than 4000 detection pixels above threshold), and equal
    # noise-free stars on a constant sky: ties in the detection image
    disc = np.round(rng.normal(200.0, 3.0, (512, 640))).astype(np.uint16)
    yy, xx = np.mgrid[:512, :640]
    disc[(xx - 400) ** 2 + (yy - 250) ** 2 < 90 ** 2] = 5000
    yield "bright disc", disc
    ties = np.full((512, 640), 200, np.uint16)
    for x, y in ((52, 52), (152, 52), (52, 452), (152, 452), (300, 300)):
        ties[y - 1:y + 2, x - 1:x + 2] = 3200  # the same star at the same phase
    yield "tied stars", ties
    yield "float frame", frame((200, 300), [(150.2, 99.7, 12000.0)], rng, dtype=None)
    flat = np.full((128, 160), 1000, np.uint16)
    yield "constant", flat


@pytest.mark.parametrize("fast", [False, True])
def test_detection_agrees_with_the_numpy_path(fast, numpy_path):
    """The compiled mesh filter, peaks and candidate confirmation find the same stars
    in the same order with the same scores (ties included)."""
    for name, img in _detection_frames():
        for region in ({}, dict(expected_xy=(237.0, 313.0), search_radius=20)):
            a = detect(img, fwhm=3.0, fast=fast, detect_sigma=5.0, **region)
            b = numpy_path(detect, img, fwhm=3.0, fast=fast, detect_sigma=5.0, **region)
            assert [(c.x, c.y) for c in a.candidates] == [(c.x, c.y) for c in b.candidates], name
            assert [c.score for c in a.candidates] == pytest.approx(
                [c.score for c in b.candidates], rel=1e-6), name
            assert a.hot_pixels == b.hot_pixels, name
            for va, vb in ((a.background, b.background), (a.noise, b.noise)):
                assert va == pytest.approx(vb, rel=1e-9, nan_ok=True), name


def test_quickselect_medians():
    numba_kernels = compiled.kernels()
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 4, 5, 8, 31, 160, 341, 1000):
        for ties in (False, True):
            z = rng.normal(200, 23, n)
            z = np.round(z / 10) if ties else z
            assert numba_kernels.median(z) == np.median(z)
            assert numba_kernels.upper_median(z) == np.partition(z, n // 2)[n // 2]
            k = int(rng.integers(0, n))
            assert numba_kernels.select(z.copy(), k) == np.sort(z)[k]
