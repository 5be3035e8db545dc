"""The numba-compiled kernels behind :mod:`pointing.camera.compiled` (see there).

Module-level functions, so numba's on-disk cache serves every later process.
Imported only by :mod:`pointing.camera.compiled`, lazily.  The detection's
kernels and the selection helpers live in :mod:`pointing.camera.numba_detect`
and are re-exported here: this module is the kernels' one namespace.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pointing.camera import starfit
from pointing.camera.numba_detect import (
    bin_sum_int,
    box_sums,
    confirm_box,
    median,
    mesh_level,
    peaks,
    pymax,
    select,
    spikes,
    upper_median,
)

__all__ = [
    "annulus_plane",
    "aperture_figures",
    "background_plane",
    "bin_sum_int",
    "box_sums",
    "confirm_box",
    "crlb_sigmas",
    "first_guess_fast",
    "fisher_cov",
    "lm_fit",
    "median",
    "mesh_level",
    "moments",
    "peaks",
    "prepare_cutout",
    "robust_sigma",
    "select",
    "signal_and_spikes",
    "spikes",
    "star_model",
    "upper_median",
    "window_moments",
]

njit = numba.njit(cache=True, nogil=True)
helper = numba.njit(cache=True, nogil=True, inline="always")
inv_sqrt_2pi = 1.0 / math.sqrt(2.0 * math.pi)
inv_sqrt2 = 1.0 / math.sqrt(2.0)


@helper
def ndtr(u):
    """The standard normal CDF (as scipy's ``ndtr``: erfc in the tails, erf inside)."""
    z = u * inv_sqrt2
    if abs(z) < inv_sqrt2:
        return 0.5 + 0.5 * math.erf(z)
    if z > 0:
        return 1.0 - 0.5 * math.erfc(z)
    return 0.5 * math.erfc(-z)


@njit
def fractions(coords, centre, sigma, p, dp, sp):
    """Fill *p, dp, sp* as :func:`pointing.camera.psf.integrated_gaussian_1d`.

    A pixel's lower edge is its left neighbour's upper edge (whole-pixel
    coordinates): the edge's CDF and density are then computed once, the
    same numbers as computing them twice.
    """
    u_prev, n_prev, phi_prev = math.nan, 0.0, 0.0
    for i in range(coords.size):
        u_hi = (coords[i] + 0.5 - centre) / sigma
        u_lo = (coords[i] - 0.5 - centre) / sigma
        if u_lo == u_prev:
            n_lo, phi_lo = n_prev, phi_prev
        else:
            n_lo, phi_lo = ndtr(u_lo), inv_sqrt_2pi * math.exp(-0.5 * u_lo * u_lo)
        n_hi, phi_hi = ndtr(u_hi), inv_sqrt_2pi * math.exp(-0.5 * u_hi * u_hi)
        p[i] = n_hi - n_lo
        dp[i] = -(phi_hi - phi_lo) / sigma
        sp[i] = -(u_hi * phi_hi - u_lo * phi_lo) / sigma
        u_prev, n_prev, phi_prev = u_hi, n_hi, phi_hi


@njit
def evaluate(xs, ys, iy, ix, par, circular, star, jac, bufs):
    """Model and Jacobian (columns of the free parameters) on the used pixels."""
    px, dpx, spx, py, dpy, spy = bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[5]
    sy = par[3] if circular else par[4]
    fractions(xs, par[0], par[3], px[:xs.size], dpx[:xs.size], spx[:xs.size])
    fractions(ys, par[1], sy, py[:ys.size], dpy[:ys.size], spy[:ys.size])
    flux = par[2]
    nf = jac.shape[1]
    for k in range(iy.size):
        j, i = iy[k], ix[k]
        star[k] = flux * py[j] * px[i]
        jac[k, 0] = flux * py[j] * dpx[i]
        jac[k, 1] = flux * dpy[j] * px[i]
        jac[k, 2] = py[j] * px[i]
        if circular:
            jac[k, 3] = flux * py[j] * spx[i] + flux * spy[j] * px[i]
        else:
            jac[k, 3] = flux * py[j] * spx[i]
            jac[k, 4] = flux * spy[j] * px[i]
        jac[k, nf - 1] = 1.0


@njit
def solve(a, b):
    """x with a·x = b by Gaussian elimination with partial pivoting; ok=False if singular."""
    n = b.size
    m = a.copy()
    x = b.copy()
    for c in range(n):
        piv = c
        for r in range(c + 1, n):
            if abs(m[r, c]) > abs(m[piv, c]):
                piv = r
        if m[piv, c] == 0.0:
            return x, False
        if piv != c:
            for k in range(n):
                m[c, k], m[piv, k] = m[piv, k], m[c, k]
            x[c], x[piv] = x[piv], x[c]
        for r in range(c + 1, n):
            f = m[r, c] / m[c, c]
            if f != 0.0:
                for k in range(c, n):
                    m[r, k] -= f * m[c, k]
                x[r] -= f * x[c]
    for c in range(n - 1, -1, -1):
        s = x[c]
        for k in range(c + 1, n):
            s -= m[c, k] * x[k]
        x[c] = s / m[c, c]
    return x, True


@njit
def normal(d, star, jac, p5, var_b, shot, w, a, grad):
    """Weights, χ², normal matrix and gradient of the weighted residuals."""
    nf = jac.shape[1]
    a[:, :] = 0.0
    grad[:] = 0.0
    chi2 = 0.0
    for k in range(d.size):
        wk = 1.0 / math.sqrt(var_b + shot * max(star[k], 0.0))
        w[k] = wk
        res = (d[k] - star[k] - p5) * wk
        chi2 += res * res
        for u in range(nf):
            ju = jac[k, u] * wk
            grad[u] += ju * res
            for v in range(u + 1):
                a[u, v] += ju * jac[k, v] * wk
    for u in range(nf):
        for v in range(u):
            a[v, u] = a[u, v]
    return chi2


@njit
def lm_fit(r, xs, ys, use, p0, var_b, shot, circular, max_iter, tol, lo, hi):
    """:func:`pointing.camera.starfit.lm_fit` compiled: the same steps, the same tests.

    Returns parameters, the 6×6 covariance (NaN if singular, and for the fixed parameters),
    χ², the number of pixels fitted and convergence.  (Longer than 80 lines:
    it follows the numpy reference step by step, which keeps the two easy to
    compare; the compiled sub-steps are :func:`evaluate`, :func:`normal`, :func:`solve`.)
    """
    # Long: the numpy reference's steps one for one (see the docstring).
    ny, nx = r.shape
    n = 0
    for j in range(ny):
        for i in range(nx):
            if use[j, i]:
                n += 1
    iy = np.empty(n, np.int64)
    ix = np.empty(n, np.int64)
    d = np.empty(n)
    n = 0
    for j in range(ny):
        for i in range(nx):
            if use[j, i]:
                iy[n], ix[n], d[n] = j, i, r[j, i]
                n += 1
    nf = 5 if circular else 6
    free = np.array([0, 1, 2, 3, 5]) if circular else np.arange(6)
    bufs = np.empty((6, max(nx, ny)))
    star, jac = np.empty(n), np.empty((n, nf))
    s_new, j_new = np.empty(n), np.empty((n, nf))
    w = np.empty(n)
    a, grad = np.empty((nf, nf)), np.empty(nf)
    p = p0.copy()
    lam = 1e-3
    converged = False
    evaluate(xs, ys, iy, ix, p, circular, star, jac, bufs)
    for _ in range(max_iter):
        chi2 = normal(d, star, jac, p[5], var_b, shot, w, a, grad)
        improved = False
        step = np.zeros(nf)
        for _ in range(8):
            damped = a.copy()
            for u in range(nf):
                damped[u, u] += lam * a[u, u]
            step, ok = solve(damped, grad)
            if not ok:
                lam *= 10.0
                continue
            q = p.copy()
            for u in range(nf):
                q[free[u]] += step[u]
            if circular:
                q[4] = q[3]
            for u in range(6):
                q[u] = min(max(q[u], lo[u]), hi[u])
            evaluate(xs, ys, iy, ix, q, circular, s_new, j_new, bufs)
            chi2_new = 0.0
            for k in range(n):
                rk = (d[k] - s_new[k] - q[5]) * w[k]
                chi2_new += rk * rk
            if chi2_new <= chi2:
                p = q
                star, s_new = s_new, star
                jac, j_new = j_new, jac
                lam = max(lam * 0.1, 1e-9)
                improved = True
                break
            lam *= 10.0
        if not improved:
            converged = True  # no step lowers chi²: at the minimum
            break
        lim0 = tol / math.sqrt(max(abs(a[0, 0]), 1e-300)) + 1e-6
        lim1 = tol / math.sqrt(max(abs(a[1, 1]), 1e-300)) + 1e-6
        if abs(step[0]) < lim0 and abs(step[1]) < lim1:
            converged = True
            break
    chi2 = normal(d, star, jac, p[5], var_b, shot, w, a, grad)
    cov = np.full((nf, nf), np.nan)
    singular = False
    for c in range(nf):
        e = np.zeros(nf)
        e[c] = 1.0
        col, ok = solve(a, e)
        if not ok:
            singular = True
            break
        cov[:, c] = col
    if singular:
        cov[:, :] = np.nan
    full = np.full((6, 6), np.nan)  # as starfit._full_cov: NaN for the fixed parameters
    for u in range(nf):
        for v in range(nf):
            full[free[u], free[v]] = cov[u, v]
    if circular:
        full[4, 4] = full[3, 3]
    return p, full, chi2, n, converged


@njit
def fisher_cov(xs, ys, par, circular, var_b, shot, floor):
    """Inverse Fisher matrix of the free parameters (NaN if singular) for the bound."""
    ny, nx = ys.size, xs.size
    n = nx * ny
    iy = np.empty(n, np.int64)
    ix = np.empty(n, np.int64)
    for j in range(ny):
        for i in range(nx):
            iy[j * nx + i], ix[j * nx + i] = j, i
    nf = 5 if circular else 6
    star, jac = np.empty(n), np.empty((n, nf))
    evaluate(xs, ys, iy, ix, par, circular, star, jac, np.empty((6, max(nx, ny))))
    a = np.zeros((nf, nf))
    for k in range(n):
        wk2 = 1.0 / max(var_b + shot * max(star[k], 0.0), floor)
        for u in range(nf):
            for v in range(u + 1):
                a[u, v] += jac[k, u] * jac[k, v] * wk2
    for u in range(nf):
        for v in range(u):
            a[v, u] = a[u, v]
    cov = np.full((nf, nf), np.nan)
    for c in range(nf):
        e = np.zeros(nf)
        e[c] = 1.0
        col, ok = solve(a, e)
        if not ok:
            cov[:, :] = np.nan
            break
        cov[:, c] = col
    return cov


@njit
def robust_sigma(a):
    """:func:`pointing.camera.detect.robust_sigma`."""
    if a.size > 20000:
        a = a[:: a.size // 10000]
    med = upper_median(a)
    mad = upper_median(np.abs(a - med))
    return med, 1.4826 * mad


@njit
def plane_coef(z, x, y, keep):
    """Least-squares plane through the kept pixels; ok=False if singular."""
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for k in range(z.size):
        if keep[k]:
            row = (1.0, x[k], y[k])
            for u in range(3):
                b[u] += row[u] * z[k]
                for v in range(3):
                    a[u, v] += row[u] * row[v]
    return solve(a, b)


@njit
def background_plane(z, x, y, iterations):
    """:func:`pointing.camera.starfit.background_plane` on the selected pixels' values."""
    n = z.size
    coef = np.array([median(z), 0.0, 0.0])
    keep = np.ones(n, np.bool_)
    sigma = math.nan
    fit_plane = n >= 30
    for _ in range(iterations):
        res = z - (coef[0] + coef[1] * x + coef[2] * y)
        kept = res[keep]
        med = 0.0
        if kept.size >= 5:
            med, sigma = robust_sigma(kept)
        else:
            sigma = math.nan
        if not sigma > 0:
            sigma = np.std(kept) if kept.size else math.nan
        new_keep = np.abs(res - med) <= 3.0 * pymax(sigma, 1e-12)
        nk = np.count_nonzero(new_keep)
        if fit_plane and nk >= 10:
            c, ok = plane_coef(z, x, y, new_keep)
            coef = c if ok else np.array([median(z[new_keep]), 0.0, 0.0])
        elif nk:
            coef = np.array([median(z[new_keep]), 0.0, 0.0])
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    res = z[keep] - (coef[0] + coef[1] * x[keep] + coef[2] * y[keep])
    std = np.std(res) * 1.0135 if res.size > 3 else sigma
    return coef, std, np.count_nonzero(keep)


#: the moments' window and pixel corrections: the numpy reference's own scalar function
window_axis_ratio = helper(starfit.window_axis_ratio)


@njit
def moments(f, xs, ys, x, y, sigma_w, var):
    """:func:`pointing.camera.starfit.moments` (the same sums and corrections)."""
    ny, nx = f.shape
    s = a = b = c = 0.0
    for j in range(ny):
        dy = ys[j] - y
        for i in range(nx):
            dx = xs[i] - x
            wf = math.exp(-0.5 * (dx * dx + dy * dy) / sigma_w**2) * f[j, i]
            s += wf
            a += wf * dx * dx
            b += wf * dy * dy
            c += wf * dx * dy
    if not s > 0:
        return math.nan, False
    t = a + b
    if not t > 0:
        return math.nan, False
    e1, e2 = (a - b) / t, 2 * c / t
    var_e = 0.0
    for j in range(ny):
        dy = ys[j] - y
        for i in range(nx):
            dx = xs[i] - x
            wgt = math.exp(-0.5 * (dx * dx + dy * dy) / sigma_w**2)
            de1 = wgt * ((dx * dx - dy * dy) * t - (a - b) * (dx * dx + dy * dy)) / t**2
            de2 = wgt * (2 * dx * dy * t - 2 * c * (dx * dx + dy * dy)) / t**2
            var_e += (de1 * de1 + de2 * de2) * var[j, i]
    var_e *= 0.5
    e = math.hypot(e1, e2)
    significant = e > 3.0 * math.sqrt(var_e)
    return window_axis_ratio(a, b, c, s, sigma_w), significant


@njit
def star_model(xs, ys, x0, y0, flux, sx, sy):
    """:func:`pointing.camera.psf.star_model`: ``flux · Py ⊗ Px``."""
    px = np.empty(xs.size)
    py = np.empty(ys.size)
    for i in range(xs.size):
        px[i] = ndtr((xs[i] + 0.5 - x0) / sx) - ndtr((xs[i] - 0.5 - x0) / sx)
    for j in range(ys.size):
        py[j] = flux * (ndtr((ys[j] + 0.5 - y0) / sy) - ndtr((ys[j] - 0.5 - y0) / sy))
    out = np.empty((ys.size, xs.size))
    for j in range(ys.size):
        for i in range(xs.size):
            out[j, i] = py[j] * px[i]
    return out


@njit
def signal_and_spikes(data, coef, dx, dy, unusable, var_b, shot, axis_ratio, diag_ratio):
    """The cut-out's background plane, the signal above it and its spikes (the end of
    :func:`pointing.camera.starfit._prepare`, the same expressions)."""
    ny, nx = data.shape
    plane = np.empty((ny, nx))
    r = np.empty((ny, nx))
    v = np.empty((ny, nx))
    floor = np.empty((ny, nx))
    for j in range(ny):
        for i in range(nx):
            p = coef[0] + coef[1] * dx[i] + coef[2] * dy[j]
            plane[j, i] = p
            rr = data[j, i] - p
            r[j, i] = rr
            floor[j, i] = 5.0 * math.sqrt(var_b + shot * max(rr, 0.0))
            v[j, i] = math.nan if unusable[j, i] else rr
    return plane, r, spikes(v, floor, axis_ratio, diag_ratio)


@njit
def annulus_plane(data, dx, dy, sel, iterations):
    """:func:`background_plane` of the pixels *sel* of *data* at offsets (dx[i], dy[j])."""
    n = np.count_nonzero(sel)
    z, x, y = np.empty(n), np.empty(n), np.empty(n)
    k = 0
    for j in range(data.shape[0]):
        for i in range(data.shape[1]):
            if sel[j, i]:
                z[k], x[k], y[k] = data[j, i], dx[i], dy[j]
                k += 1
    return background_plane(z, x, y, iterations)


@njit
def first_guess_fast(rw, fx, fy, ok, cx, cy, g, sigma0):
    """Fast mode's start of :func:`pointing.camera.starfit._first_guess`: the centre
    of mass of the 3×3 core, the flux within 2 FWHM."""
    ny, nx = rw.shape
    tot = sx = sy = 0.0
    for j in range(ny):
        for i in range(nx):
            if ok[j, i] and abs(fx[i] - cx) <= 1 and abs(fy[j] - cy) <= 1:
                v = max(rw[j, i], 0.0)
                tot += v
                sx += v * fx[i]
                sy += v * fy[j]
    xc, yc = (sx / tot, sy / tot) if tot > 0 else (float(cx), float(cy))
    f0 = 0.0
    top = 0.0
    for j in range(ny):
        for i in range(nx):
            if ok[j, i]:
                top = max(top, rw[j, i])
                if (fx[i] - xc) ** 2 + (fy[j] - yc) ** 2 <= (2.0 * g) ** 2:
                    f0 += rw[j, i]
    if not f0 > 0:
        f0 = max(top * 2 * math.pi * sigma0**2, 1e-6)
    return np.array([xc, yc, f0, sigma0, sigma0, 0.0])


@njit
def prepare_cutout(raw, dx, dy, g, levels, background, noise, neighbour, r_in, r_out,
                   iterations, read_noise, shot, axis_ratio, diag_ratio):
    """:func:`pointing.camera.starfit._prepare` after the neighbour discs, in one call.

    *dx, dy* are the columns' and rows' offsets from the target's pixel,
    *levels* the configured and the type's saturation levels (NaN: none),
    *background, noise* the detection's.  Returns data (non-finite zeroed),
    the non-finite and the saturated masks, the background plane's
    coefficients, the background variance, the plane, the signal above it
    and its spikes.
    """
    # Long: the numpy steps one for one, to keep the two easy to compare.
    ny, nx = raw.shape
    data = np.empty((ny, nx))
    bad = np.zeros((ny, nx), np.bool_)
    for j in range(ny):
        for i in range(nx):
            v = float(raw[j, i])
            if math.isfinite(v):
                data[j, i] = v
            else:
                data[j, i], bad[j, i] = 0.0, True
    # saturation_level: the lowest of the given levels and a flat top in the core
    sat = math.inf
    for v in levels:
        if not math.isnan(v):
            sat = min(sat, v)
    core2 = (1.5 * g) ** 2
    top, count, any_core = -math.inf, 0, False
    for j in range(ny):
        for i in range(nx):
            if dx[i] * dx[i] + dy[j] * dy[j] <= core2 and not bad[j, i]:
                any_core = True
                top = max(top, data[j, i])
    if any_core:
        for j in range(ny):
            for i in range(nx):
                if (dx[i] * dx[i] + dy[j] * dy[j] <= core2 and not bad[j, i]
                        and data[j, i] == top):
                    count += 1
        if count >= 3 and top > background + 20 * pymax(noise, 1e-12):
            sat = min(sat, top)
    at_limit = np.zeros((ny, nx), np.bool_)
    if sat < math.inf:
        for j in range(ny):
            for i in range(nx):
                at_limit[j, i] = data[j, i] >= sat and not bad[j, i]
    # background: sigma-clipped plane through the annulus
    free = ~(bad | at_limit | neighbour)
    ann = np.zeros((ny, nx), np.bool_)
    n_ann = 0
    for j in range(ny):
        for i in range(nx):
            rad2 = dx[i] * dx[i] + dy[j] * dy[j]
            ann[j, i] = rad2 >= r_in * r_in and rad2 <= r_out * r_out and free[j, i]
            n_ann += ann[j, i]
    if n_ann < 12:
        n_ann = 0
        for j in range(ny):
            for i in range(nx):
                ann[j, i] = dx[i] * dx[i] + dy[j] * dy[j] >= core2 and free[j, i]
                n_ann += ann[j, i]
    if n_ann >= 8:
        coef, sig_b, _ = annulus_plane(data, dx, dy, ann, iterations)
    else:
        coef, sig_b = np.array([background, 0.0, 0.0]), noise
    if not sig_b > 0:
        sig_b = noise if noise > 0 else 1.0
    if read_noise > 0:
        sig_b = pymax(sig_b, 0.5 * read_noise)
    var_b = sig_b * sig_b
    plane, r, hot = signal_and_spikes(data, coef, dx, dy, bad | neighbour, var_b, shot,
                                      axis_ratio, diag_ratio)
    return data, bad, at_limit, coef, var_b, plane, r, hot


@njit
def crlb_sigmas(cx, cy, half, par, circular, var_b, shot, floor):
    """:func:`pointing.camera.crlb.gaussian_crlb` on the window ±*half* about (cx, cy):
    the bounds on x, y and the flux, and the SNR (flux over its bound)."""
    xs = np.arange(cx - half, cx + half + 1).astype(np.float64)
    ys = np.arange(cy - half, cy + half + 1).astype(np.float64)
    cov = fisher_cov(xs, ys, par, circular, var_b, shot, floor)
    bx, by, bf = (math.sqrt(pymax(cov[0, 0], 0.0)), math.sqrt(pymax(cov[1, 1], 0.0)),
                  math.sqrt(pymax(cov[2, 2], 0.0)))
    return bx, by, bf, (math.inf if bf == 0.0 else par[2] / bf)


@njit
def window_moments(rw, ok, fx, fy, p, sigma_w, var_b, shot):
    """The fit window's elongation (:func:`moments`): the masked pixels filled with
    the fitted star, every pixel's variance ``var_b + shot·star``."""
    model = star_model(fx, fy, p[0], p[1], p[2], p[3], p[4])
    ny, nx = model.shape
    f = np.empty((ny, nx))
    var = np.empty((ny, nx))
    for j in range(ny):
        for i in range(nx):
            f[j, i] = rw[j, i] - p[5] if ok[j, i] else model[j, i]
            var[j, i] = var_b + shot * max(model[j, i], 0.0)
    return moments(f, fx, fy, p[0], p[1], sigma_w, var)


@njit
def aperture_figures(xs, ys, par, r_ap, r_core, masked, signal, hot, bad, data, saturated):
    """The figures of :func:`pointing.camera.measure._finish` on the cut-out.

    Returns the fitted star (:func:`star_model` of *par*), the aperture flux
    (masked pixels filled with the star), the highest data value within
    *r_core* that is no spike and finite (NaN if none), whether a saturated
    pixel lies in the aperture, and the filled signal.
    """
    x, y, b_const = par[0], par[1], par[5]
    star = star_model(xs, ys, x, y, par[2], par[3], par[4])
    ny, nx = star.shape
    fill = np.empty((ny, nx))
    flux, peak, sat, any_valid = 0.0, -math.inf, False, False
    for j in range(ny):
        for i in range(nx):
            fill[j, i] = star[j, i] + b_const if masked[j, i] else signal[j, i]
            d2 = (xs[i] - x) ** 2 + (ys[j] - y) ** 2
            if d2 <= r_ap * r_ap:
                flux += fill[j, i] - b_const
                sat = sat or saturated[j, i]
            if d2 <= max(1.0, r_core) ** 2 and not hot[j, i] and not bad[j, i]:
                any_valid = True
                peak = max(peak, data[j, i])
    return star, flux, (peak if any_valid else math.nan), sat, fill
