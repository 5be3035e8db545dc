"""Cramér–Rao lower bound on the position and flux of a star on a pixel detector.

For a star of total flux ``F`` with a pixel-integrated Gaussian profile on a
background of per-pixel variance ``σ_b²`` (read noise, sky and dark shot
noise) and shot noise ``S/g`` from the star's own signal ``S`` (``g`` the gain
in e⁻/ADU), the Fisher information of the parameters
``θ = (x0, y0, F, σx, σy, b)`` is ``I = Σ_pixels ∂μ/∂θ ∂μ/∂θᵀ / v`` with
``μ`` the expected pixel value and ``v = σ_b² + F·P/g`` its variance
(the Poisson-plus-read-noise model, shot noise on the star only because the
background level is a free parameter whose noise is in ``σ_b²``).  No
unbiased estimator of ``x0`` can do better than ``sqrt((I⁻¹)₀₀)``; all
parameters are estimated jointly, as a fit does.

Limits worth knowing (σ the Gaussian width in pixels, well sampled):
photon-limited, ``σ_x ≥ σ/√N`` (N detected photons); background-limited,
``σ_x ≥ sqrt(8π)·σ²·σ_b / F``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pointing.camera import compiled
from pointing.camera.psf import model_and_jacobian

__all__ = ["CramerRaoBound", "flux_for_snr", "gaussian_crlb"]


@dataclass(frozen=True)
class CramerRaoBound:
    """Lower bounds (1 sigma) on a star's fitted parameters.

    ``x, y`` in pixels, ``flux`` in the flux unit given (ADU or e⁻),
    ``snr`` = flux / bound on its error (the best signal-to-noise ratio any
    unbiased photometry of this star can reach).
    """

    x: float
    y: float
    flux: float
    snr: float


def gaussian_crlb(
    flux: float,
    sigma_x: float,
    sigma_y: float | None = None,
    *,
    background_var: float,
    gain: float | None = None,
    x0: float = 0.0,
    y0: float = 0.0,
    half_size: int | None = None,
    circular: bool = False,
) -> CramerRaoBound:
    """Cramér–Rao bound for a pixel-integrated Gaussian star.

    Parameters
    ----------
    flux : total star signal (ADU, or e⁻ with ``gain=1``)
    sigma_x, sigma_y : Gaussian widths in pixels (``sigma_y`` defaults to
        ``sigma_x``); FWHM = 2.3548·sigma
    background_var : variance of one background pixel, read noise included
        (ADU², or e⁻² with ``gain=1``)
    gain : e⁻ per ADU, for the star's shot noise; ``None`` leaves the star's
        shot noise out (background-limited bound)
    x0, y0 : position of the star; only the sub-pixel phase matters
    half_size : half-width of the square window summed over (pixels);
        default covers ±5 sigma, i.e. the whole star
    circular : one width for both axes is estimated (5 parameters, not 6)

    Returns
    -------
    CramerRaoBound
    """
    sigma_y = sigma_x if sigma_y is None else sigma_y
    if not (flux > 0 and sigma_x > 0 and sigma_y > 0 and background_var >= 0):
        nan = math.nan
        return CramerRaoBound(nan, nan, nan, 0.0 if flux <= 0 else nan)
    if half_size is None:
        half_size = math.ceil(5.0 * max(sigma_x, sigma_y)) + 1
    cx, cy = round(x0), round(y0)
    params = np.array([x0, y0, flux, sigma_x, sigma_y, 0.0], dtype=float)
    jit = compiled.kernels()
    if jit is not None:  # the same Fisher matrix and bounds in one compiled call
        bx, by, bf, snr = jit.crlb_sigmas(cx, cy, half_size, params, bool(circular),
                                          float(background_var), 1.0 / gain if gain else 0.0,
                                          1e-12 * max(flux, 1.0))
        return CramerRaoBound(bx, by, bf, snr)
    xs = np.arange(cx - half_size, cx + half_size + 1, dtype=float)
    ys = np.arange(cy - half_size, cy + half_size + 1, dtype=float)
    star, jac, _ = model_and_jacobian(xs, ys, params, circular=circular)
    var = np.full(star.size, float(background_var))
    if gain:
        var += np.maximum(star.ravel(), 0.0) / gain
    var = np.maximum(var, 1e-12 * max(flux, 1.0))
    jw = jac / np.sqrt(var)[:, None]
    fisher = jw.T @ jw
    try:
        cov = np.linalg.inv(fisher)
    except np.linalg.LinAlgError:
        nan = math.nan
        return CramerRaoBound(nan, nan, nan, nan)
    d = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return CramerRaoBound(float(d[0]), float(d[1]), float(d[2]), float(flux / d[2]))


def flux_for_snr(
    snr: float,
    sigma: float,
    *,
    background_var: float,
    gain: float | None = None,
    x0: float = 0.0,
    y0: float = 0.0,
) -> float:
    """Total flux a Gaussian star needs for a given Cramér–Rao ``snr``.

    Inverse of :func:`gaussian_crlb` in its ``snr`` (same units and noise
    model); useful to make test frames and benchmarks at a stated SNR.
    """
    lo, hi = 1e-6, 1.0
    while gaussian_crlb(hi, sigma, background_var=background_var, gain=gain,
                        x0=x0, y0=y0).snr < snr:
        lo, hi = hi, hi * 4.0
        if hi > 1e15:
            raise ValueError(f"snr={snr} is not reachable with this noise model")
    for _ in range(80):
        mid = math.sqrt(lo * hi)
        if gaussian_crlb(mid, sigma, background_var=background_var, gain=gain,
                         x0=x0, y0=y0).snr < snr:
            lo = mid
        else:
            hi = mid
        if hi / lo < 1 + 1e-9:
            break
    return hi
