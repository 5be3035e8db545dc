"""The pixel-integrated elliptical Gaussian used to fit and to bound star centroids.

A star image is modelled as ``flux · Px(i) · Py(j) + background`` where
``Px(i)`` is the fraction of a 1-D Gaussian (centre ``x0``, width ``sigma_x``)
falling on pixel column ``i`` (the pixel covers ``i − 0.5 … i + 0.5``: pixel
centres at integers, the photutils convention).  Integrating over the pixel
keeps the model exact for any sampling, so the fit has no pixel-phase bias,
and the model is separable in x and y, so a whole cutout costs a few 1-D erf
evaluations.  Units: pixels for positions and widths, the frame's unit
(ADU) for flux and background.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from pointing.camera import compiled

__all__ = ["FWHM_PER_SIGMA", "gaussian_image", "integrated_gaussian_1d", "model_and_jacobian",
           "star_model"]

#: FWHM of a Gaussian in units of its standard deviation, 2·sqrt(2·ln 2)
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def integrated_gaussian_1d(
    coords: np.ndarray, centre: float, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fraction of a unit 1-D Gaussian on each pixel, and its derivatives.

    Parameters
    ----------
    coords : array of pixel-centre coordinates (pixels)
    centre, sigma : Gaussian centre and standard deviation (pixels)

    Returns
    -------
    p, dp_dcentre, dp_dsigma : arrays shaped like *coords* (1/pixel for the
        derivatives)
    """
    u_hi = (coords + 0.5 - centre) / sigma
    u_lo = (coords - 0.5 - centre) / sigma
    phi_hi = _INV_SQRT_2PI * np.exp(-0.5 * u_hi * u_hi)
    phi_lo = _INV_SQRT_2PI * np.exp(-0.5 * u_lo * u_lo)
    p = ndtr(u_hi) - ndtr(u_lo)
    dp_dc = -(phi_hi - phi_lo) / sigma
    dp_ds = -(u_hi * phi_hi - u_lo * phi_lo) / sigma
    return p, dp_dc, dp_ds


def gaussian_image(
    shape: tuple[int, int],
    x0: float,
    y0: float,
    flux: float,
    sigma_x: float,
    sigma_y: float | None = None,
) -> np.ndarray:
    """Pixel-integrated Gaussian star of total *flux* on an array of *shape* (ny, nx).

    ``x0, y0`` are 0-based pixel coordinates of the centre, widths in pixels.
    """
    sigma_y = sigma_x if sigma_y is None else sigma_y
    px = integrated_gaussian_1d(np.arange(shape[1], dtype=float), x0, sigma_x)[0]
    py = integrated_gaussian_1d(np.arange(shape[0], dtype=float), y0, sigma_y)[0]
    return flux * np.outer(py, px)


def star_model(xs: np.ndarray, ys: np.ndarray, params: np.ndarray) -> np.ndarray:
    """The model star alone (no background, no Jacobian) on a rectangular cutout.

    *xs, ys* and *params* as :func:`model_and_jacobian` (elliptical); returns
    the (ny, nx) array ``flux · Py ⊗ Px``.
    """
    x0, y0, flux, sx, sy, _ = params
    jit = compiled.kernels()
    if jit is not None:
        return jit.star_model(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float),
                              float(x0), float(y0), float(flux), float(sx), float(sy))
    px = _fractions(xs, x0, sx)
    py = _fractions(ys, y0, sy)
    return np.multiply.outer(flux * py, px)


def _fractions(coords: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    """Fraction of a unit 1-D Gaussian on each pixel (no derivatives)."""
    return ndtr((coords + 0.5 - centre) / sigma) - ndtr((coords - 0.5 - centre) / sigma)


def model_and_jacobian(
    xs: np.ndarray,
    ys: np.ndarray,
    params: np.ndarray,
    circular: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model star (without background) and Jacobian on a rectangular cutout.

    Parameters
    ----------
    xs, ys : 1-D pixel-centre coordinates of the cutout's columns and rows
    params : ``[x0, y0, flux, sigma_x, sigma_y, background]``; with
        *circular* ``sigma_y`` is ignored and ``sigma_x`` is the common width
    circular : fit one width for both axes (5 free parameters)

    Returns
    -------
    star : (ny, nx) model of the star alone (flux units per pixel)
    jac : (ny·nx, n_par) derivatives of star + background with respect to
        ``x0, y0, flux, sigma_x, [sigma_y,] background`` in that order
    fractions : (ny, nx) the unit-flux profile ``Py ⊗ Px``
    """
    x0, y0, flux, sx, sy, _ = params
    if circular:
        sy = sx
    px, dpx, spx = integrated_gaussian_1d(xs, x0, sx)
    py, dpy, spy = integrated_gaussian_1d(ys, y0, sy)
    ny, nx = py.size, px.size
    # the columns written in place into one (ny, nx, k) block: no copies
    k = 6 if circular else 7
    jac = np.empty((ny, nx, k - 1))
    fpy, fdpy = flux * py, flux * dpy
    np.multiply(fpy[:, None], dpx, out=jac[:, :, 0])
    np.multiply(fdpy[:, None], px, out=jac[:, :, 1])
    np.multiply(py[:, None], px, out=jac[:, :, 2])
    if circular:
        np.multiply(fpy[:, None], spx, out=jac[:, :, 3])
        jac[:, :, 3] += np.multiply.outer(flux * spy, px)
    else:
        np.multiply(fpy[:, None], spx, out=jac[:, :, 3])
        np.multiply((flux * spy)[:, None], px, out=jac[:, :, 4])
    jac[:, :, -1] = 1.0
    frac = jac[:, :, 2]
    return flux * frac, jac.reshape(ny * nx, k - 1), frac
