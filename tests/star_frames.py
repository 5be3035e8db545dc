"""Synthetic tracking-camera frames with known truth, for the camera tests.

Stars are rendered by brute-force sub-pixel sampling (8×8 per pixel), not with
the package's erf model, so the tests do not check the code against itself.
Noise: Poisson on sky + star electrons, Gaussian read noise, then gain and
rounding to the integer type.
"""

from __future__ import annotations

import numpy as np

GAIN = 0.5  # e-/ADU, the [camera] default
READ_NOISE = 6.0  # e-
SKY = 100.0  # e- per pixel
#: background variance per pixel in ADU², as the Cramér–Rao bound wants it
BACKGROUND_VAR = (SKY + READ_NOISE**2) / GAIN**2


def render(shape, x0, y0, flux, fwhm=3.0, psf="gauss", beta=3.0, oversample=8,
           axis_ratio=1.0, theta=0.0, trail=0.0):
    """Star of total *flux* (any unit) centred at 0-based pixel (x0, y0)."""
    ny, nx = shape
    reach = int(8 * fwhm + trail)
    xa, xb = max(0, int(x0) - reach), min(nx, int(x0) + reach + 1)
    ya, yb = max(0, int(y0) - reach), min(ny, int(y0) + reach + 1)
    img = np.zeros(shape)
    if xa >= xb or ya >= yb:
        return img
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    xs = (np.arange(xa, xb)[:, None] + sub[None, :]).ravel()
    ys = (np.arange(ya, yb)[:, None] + sub[None, :]).ravel()
    steps = 1 if trail == 0 else int(4 * trail) + 1
    acc = np.zeros((ys.size, xs.size))
    c, s = np.cos(theta), np.sin(theta)
    for t in np.linspace(-trail / 2, trail / 2, steps):
        dx = xs[None, :] - (x0 + t * c)
        dy = ys[:, None] - (y0 + t * s)
        u = (dx * c + dy * s) / axis_ratio
        v = -dx * s + dy * c
        r2 = u * u + v * v
        if psf == "gauss":
            sig = fwhm / 2.3548200450309493
            prof = np.exp(-0.5 * r2 / sig**2) / (2 * np.pi * sig**2 * axis_ratio)
        else:
            alpha = fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))
            prof = (beta - 1) / (np.pi * alpha**2 * axis_ratio) * (1 + r2 / alpha**2) ** -beta
        acc += prof / steps
    img[ya:yb, xa:xb] = acc.reshape(yb - ya, oversample, xb - xa, oversample).mean(axis=(1, 3))
    return img * flux


def frame(shape, stars, rng, *, fwhm=3.0, psf="gauss", dtype=np.uint16, extra=None,
          sky=SKY, full_well=None, **kw):
    """A noisy frame in ADU holding *stars* = [(x, y, flux in ADU), ...].

    *extra* is an array of additional sky in ADU (gradients, glow); *dtype*
    None keeps floats (no rounding, no clipping); *full_well* (e-) clips.
    """
    e = np.full(shape, float(sky))
    for x, y, f in stars:
        e += render(shape, x, y, f * GAIN, fwhm=fwhm, psf=psf, **kw)
    if extra is not None:
        e += np.asarray(extra) * GAIN
    e = rng.poisson(np.clip(e, 0, None)).astype(float) + rng.normal(0, READ_NOISE, shape)
    if full_well is not None:
        e = np.minimum(e, full_well)
    adu = e / GAIN
    if dtype is None:
        return adu
    return np.clip(np.round(adu), 0, np.iinfo(dtype).max).astype(dtype)
