"""The fit of one star on its cut-out, as a typed :class:`StarFit`.

On a cut-out about a detected star (:mod:`pointing.camera.detect`):

1. **Background**: a robust (sigma-clipped) plane fitted to an annulus around
   the star, so gradients and glow (Moon, city light) are removed locally; its
   scatter is the per-pixel background noise.
2. **Masking**: pixels at or above the saturation level (configured, else the
   integer type's largest value or a flat top found in the data,
   :func:`saturation_level`), non-finite pixels, isolated spikes (brighter
   than any star of the expected width allows relative to their brightest
   neighbour, so a sharp 3 px FWHM core is never masked) and discs around
   neighbouring stars.
3. **Fit**: a pixel-integrated Gaussian (elliptical, axis-aligned, 6
   parameters in precise mode; circular, 5 parameters in fast mode) by
   iteratively reweighted Levenberg–Marquardt with the per-pixel variance
   ``σ_b² + star/gain`` (the Poisson maximum-likelihood estimate).  Then the
   clean-up: isolated residual outliers (hot pixels the spike test let
   through, cosmic rays of several pixels) are masked, in precise mode also
   faint neighbours found in the residuals, and neighbour discs that hold only
   the star's own wing are given back; each change is refitted.

The fit is our own Levenberg–Marquardt on the pixel-integrated model of
:mod:`pointing.camera.psf` (compiled by numba where installed, see
:mod:`pointing.camera.compiled`; the numpy code here is the reference and
the fallback), not photutils' ``centroid_2dg`` (astropy
modelling): that one neither weights pixels by their Poisson variance nor
masks hot pixels (section 3 of ``benchmarks/bench_centroid.py`` shows what one
hot pixel beside the core does to it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pointing.camera import compiled
from pointing.camera.detect import (
    Candidate,
    Detection,
    median,
    robust_sigma,
    spike_ratios,
    spikes,
)
from pointing.camera.psf import FWHM_PER_SIGMA, model_and_jacobian, star_model

__all__ = ["MeasureOptions", "StarFit", "background_plane", "fit_star", "lm_fit",
           "mirrored", "mismatch", "moments", "residual_neighbour", "residual_outliers",
           "saturation_level", "shot_from_residuals", "windowed_centroid"]


@dataclass(frozen=True)
class MeasureOptions:
    """What a measurement needs to know, resolved from the camera and the caller.

    ``fwhm`` expected star FWHM (pixels); ``gain`` e⁻/ADU or None (unknown:
    the star's shot noise from its own residuals); ``read_noise_adu`` a floor
    for the background noise; ``bias`` the camera pedestal (ADU);
    ``saturation`` the configured level (ADU) or None (found from the data:
    a flat top); ``dtype_max`` the integer type's largest value (a hard
    saturation level, None for floats); the thresholds as in
    :func:`~pointing.camera.measure.measure_star`.
    """

    fast: bool
    fwhm: float
    gain: float | None
    read_noise_adu: float | None
    bias: float
    saturation: float | None
    detect_sigma: float
    min_snr: float
    max_elongation: float
    dtype_max: float | None = None


@dataclass(frozen=True)
class StarFit:
    """The fit of one star on its cut-out: parameters, noise, masks, windows.

    Arrays shaped like the cut-out are in frame ADU; ``xs, ys`` are the
    cut-out's column and row coordinates (frame pixels) and ``(x0, y0)`` its
    first pixel.

    Attributes
    ----------
    params : ``[x, y, flux, sigma_x, sigma_y, b]`` (pixels, ADU; ``b`` a constant
        left over above the background plane)
    cov : 6×6 covariance of *params* (NaN when the fit failed)
    chi2, dof : χ² of the fit and its degrees of freedom
    failed : the Gaussian fit failed; *params* hold a windowed centroid
    raw : the frame's pixels (their own type); ``data`` the same as floats
        with non-finite pixels zeroed; ``signal`` data minus the background plane
    plane : the background plane; ``plane_coef`` its ``(b0, b1, b2)`` about
        ``(cx, cy)``, the target's brightest pixel
    var_b : background variance per pixel, ADU²; ``shot`` the star's shot-noise
        coefficient (1/gain, or measured)
    masked : every pixel left out of the fit; ``hot`` spikes, ``bad`` non-finite,
        ``saturated`` saturated pixels
    crowded : a neighbour was close enough to bias the centroid (it was masked)
    window : the fit window ``(xmin, xmax, ymin, ymax)``, inclusive frame pixels
    annulus : background annulus radii, pixels
    g : the FWHM the windows were sized for, pixels
    elongation, elongation_significant : axis ratio on the fit window, and whether
        it stands out of the noise
    """

    params: np.ndarray
    cov: np.ndarray
    chi2: float
    dof: int
    failed: bool
    raw: np.ndarray
    data: np.ndarray
    signal: np.ndarray
    plane: np.ndarray
    plane_coef: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    x0: int
    y0: int
    cx: int
    cy: int
    var_b: float
    shot: float
    masked: np.ndarray
    hot: np.ndarray
    bad: np.ndarray
    saturated: np.ndarray
    crowded: bool
    window: tuple[int, int, int, int]
    annulus: tuple[float, float]
    g: float
    elongation: float
    elongation_significant: bool

    @property
    def fwhm(self) -> float:
        """FWHM of the fitted Gaussian (geometric mean of the axes), pixels."""
        return float(FWHM_PER_SIGMA * math.sqrt(abs(self.params[3] * self.params[4])))


@dataclass
class _Prepared:
    """A cut-out with its background removed and its masks, ready to fit."""

    raw: np.ndarray
    data: np.ndarray
    r: np.ndarray
    plane: np.ndarray
    coef: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    x0: int
    y0: int
    var_b: float
    bad: np.ndarray
    at_limit: np.ndarray
    neighbour: np.ndarray
    hot: np.ndarray
    discs: list[tuple[float, np.ndarray]]  # (distance², disc) of each masked neighbour
    close: bool  # a candidate too close to mask (inside 2 FWHM)
    crowd_r2: float  # neighbours nearer than this (px²) bias the centroid
    r_fit: float
    annulus: tuple[float, float]


def saturation_level(data: np.ndarray, bad: np.ndarray, core: np.ndarray,
                     opts: MeasureOptions, background: float, noise: float) -> float | None:
    """The level at which the star's pixels are saturated, ADU, or None.

    The lowest of: the configured level, the integer type's largest value,
    and a level found from the data (as PHD2 does): a flat top of at least 3
    equal maximal pixels in the core, well above the background, is a
    clipped star whatever the camera says it should do.
    """
    levels = [v for v in (opts.saturation, opts.dtype_max) if v is not None]
    use = core & ~bad
    if np.any(use):
        top = float(data[use].max())
        if (np.count_nonzero((data == top) & use) >= 3
                and top > background + 20 * max(noise, 1e-12)):
            levels.append(top)
    return min(levels) if levels else None


def _prepare(img: np.ndarray, target: Candidate, others: list[Candidate], det: Detection,
             opts: MeasureOptions, g: float) -> _Prepared:
    """Cut out the star, find its saturated, bad and neighbour pixels, fit the background."""
    fast = opts.fast
    h, w = img.shape
    if fast:
        r_fit = max(2.0 * g, 3.0)
        r_in, r_out = r_fit + 1.0, r_fit + 4.0
    else:
        r_fit = max(2.5 * g, 4.0)
        r_in = max(3.0 * g, r_fit + 1.0)
        r_out = r_in + max(4.0, 2.0 * g)
    half = math.ceil(r_out)
    cx, cy = target.x, target.y
    x0, x1 = max(0, cx - half), min(w, cx + half + 1)
    y0, y1 = max(0, cy - half), min(h, cy + half + 1)
    raw = img[y0:y1, x0:x1]
    xs = np.arange(x0, x1, dtype=float)
    ys = np.arange(y0, y1, dtype=float)
    neighbour = np.zeros(raw.shape, bool)
    discs = []
    close = False
    crowd_r2 = (r_fit + 2.0 * g) ** 2
    for c in others:
        d2 = (c.x - cx) ** 2 + (c.y - cy) ** 2
        if (d2 > (2.0 * g) ** 2 and x0 - 2 * g <= c.x < x1 + 2 * g
                and y0 - 2 * g <= c.y < y1 + 2 * g):
            disc = ((xs[None, :] - c.x) ** 2 + (ys[:, None] - c.y) ** 2) <= (1.5 * g) ** 2
            discs.append((float(d2), disc))
            neighbour |= disc
        elif d2 <= crowd_r2:
            close = True
    jit = compiled.kernels()
    shot = 1.0 / opts.gain if opts.gain else 0.0
    if jit is not None:  # the rest below in one compiled call
        levels = np.array([math.nan if v is None else float(v)
                           for v in (opts.saturation, opts.dtype_max)])
        data, bad, at_limit, coef, var_b, plane, r, hot = jit.prepare_cutout(
            raw, xs - cx, ys - cy, float(g), levels, float(det.background), float(det.noise),
            neighbour, r_in, r_out, 1 if fast else 4, float(opts.read_noise_adu or 0.0),
            shot, *spike_ratios(g))
        return _Prepared(raw, data, r, plane, coef, xs, ys, x0, y0, float(var_b), bad,
                         at_limit, neighbour, hot, discs, close, crowd_r2, r_fit, (r_in, r_out))
    dx = xs[None, :] - cx
    dy = ys[:, None] - cy
    data = raw.astype(float)
    rad2 = dx * dx + dy * dy
    bad = ~np.isfinite(data)
    data = np.where(bad, 0.0, data)
    sat_level = saturation_level(data, bad, rad2 <= (1.5 * g) ** 2, opts, det.background,
                                 det.noise)
    at_limit = (data >= sat_level) & ~bad if sat_level is not None else np.zeros_like(bad)
    # background: sigma-clipped plane through the annulus
    ann = (rad2 >= r_in * r_in) & (rad2 <= r_out * r_out) & ~(bad | at_limit | neighbour)
    if np.count_nonzero(ann) < 12:
        ann = (rad2 >= (1.5 * g) ** 2) & ~(bad | at_limit | neighbour)
    if np.count_nonzero(ann) >= 8:
        coef, sig_b, _ = background_plane(data, np.broadcast_to(dx, data.shape),
                                          np.broadcast_to(dy, data.shape), ann,
                                          iterations=1 if fast else 4)
    else:
        coef, sig_b = np.array([det.background, 0.0, 0.0]), det.noise
    if not (sig_b > 0):
        sig_b = det.noise if det.noise > 0 else 1.0
    if opts.read_noise_adu:
        sig_b = max(sig_b, 0.5 * opts.read_noise_adu)
    var_b = sig_b * sig_b
    # lone spikes (hot pixels, cosmic-ray hits), including hot pixels stuck at
    # full scale; what is left at the saturation level is a saturated star
    plane = coef[0] + coef[1] * dx + coef[2] * dy
    r = data - plane
    noise = np.sqrt(var_b + shot * np.maximum(r, 0.0))
    hot = spikes(np.where(bad | neighbour, np.nan, r), noise, spike_ratios(g))
    return _Prepared(raw, data, r, plane, coef, xs, ys, x0, y0, var_b, bad, at_limit,
                     neighbour, hot, discs, close, crowd_r2, r_fit, (r_in, r_out))


def _first_guess(rw: np.ndarray, fx: np.ndarray, fy: np.ndarray, ok: np.ndarray,
                 cx: int, cy: int, g: float, fast: bool) -> np.ndarray:
    """Starting parameters: a centre of mass (fast) or windowed centroid, aperture flux."""
    sigma0 = g / FWHM_PER_SIGMA
    jit = compiled.kernels()
    if fast and jit is not None:  # the same, in one compiled call
        return jit.first_guess_fast(rw, fx, fy, ok, int(cx), int(cy), float(g), sigma0)
    if fast:  # centre of mass of the 3×3 core: LM takes it from there
        core3 = (np.abs(fx[None, :] - cx) <= 1) & (np.abs(fy[:, None] - cy) <= 1) & ok
        wgt = np.where(core3, np.maximum(rw, 0.0), 0.0)
        tot = float(wgt.sum())
        xc, yc = ((float((wgt.sum(axis=0) * fx).sum() / tot),
                   float((wgt.sum(axis=1) * fy).sum() / tot)) if tot > 0
                  else (float(cx), float(cy)))
    else:
        xc, yc = windowed_centroid(rw, fx, fy, ok, float(cx), float(cy), sigma0)
    ap0 = ((fx[None, :] - xc) ** 2 + (fy[:, None] - yc) ** 2) <= (2.0 * g) ** 2
    f0 = float(np.sum(np.where(ok & ap0, rw, 0.0)))
    if not f0 > 0:
        f0 = max(float(np.max(np.where(ok, rw, 0.0))) * 2 * math.pi * sigma0**2, 1e-6)
    return np.array([xc, yc, f0, sigma0, sigma0, 0.0])


def fit_star(img: np.ndarray, target: Candidate, others: list[Candidate], det: Detection,
             opts: MeasureOptions, g: float) -> StarFit | None:
    """Background, masks and Gaussian fit on a cut-out about *target*; None if no star.

    *g* is the FWHM (pixels) the windows are sized for; *others* are the
    frame's other candidates (masked as neighbours when near).
    """
    prep = _prepare(img, target, others, det, opts, g)
    xs, ys = prep.xs, prep.ys
    cx, cy = target.x, target.y
    saturated = prep.at_limit & ~prep.hot
    # fit window (square, about the brightest pixel)
    # (pixel coordinates are whole numbers: the columns within r_fit of cx are a range)
    win = (slice(max(0, math.ceil(cy - prep.r_fit) - prep.y0),
                 max(0, math.floor(cy + prep.r_fit) - prep.y0 + 1)),
           slice(max(0, math.ceil(cx - prep.r_fit) - prep.x0),
                 max(0, math.floor(cx + prep.r_fit) - prep.x0 + 1)))
    fx, fy = xs[win[1]], ys[win[0]]
    masked = prep.bad | saturated | prep.neighbour | prep.hot
    ok = ~masked[win]
    if np.count_nonzero(ok) < 8:
        return None
    p0 = _first_guess(prep.r[win], fx, fy, ok, cx, cy, g, opts.fast)
    fit = _CleanFit(prep.r[win], fx, fy, ok, prep.var_b,
                    1.0 / opts.gain if opts.gain else 0.0, opts, g)
    own_wing = None
    try:
        fit.run(p0)
        own_wing = fit.unmask_own_wing(prep, win)
        failed = not fit.usable()
    except (np.linalg.LinAlgError, ArithmeticError, ValueError):  # overflow: absurd pixels
        failed = True
    # the masks after the clean-up (the usual case, nothing changed, costs no copies)
    neighbour = prep.neighbour if own_wing is None else prep.neighbour & ~own_wing
    changed = own_wing is not None
    if fit.hot.any():
        prep.hot[win] |= fit.hot
        changed = True
    if fit.neighbour.any():
        neighbour = neighbour.copy() if neighbour is prep.neighbour else neighbour
        neighbour[win] |= fit.neighbour
        changed = True
    if changed:
        masked = prep.bad | saturated | neighbour | prep.hot
    crowded = prep.close or fit.crowded or any(
        d2 <= prep.crowd_r2 and (own_wing is None or not np.any(disc & own_wing))
        for d2, disc in prep.discs)
    p, cov, chi2, dof = fit.p, fit.cov, fit.chi2, fit.dof
    if failed:
        p = np.array([p0[0], p0[1], p0[2], p0[3], p0[3], 0.0])
        cov = np.full((6, 6), np.nan)
        chi2, dof = math.nan, 1
    return StarFit(
        params=p, cov=cov, chi2=chi2, dof=dof, failed=failed, raw=prep.raw, data=prep.data,
        signal=prep.r, plane=prep.plane, plane_coef=prep.coef, xs=xs, ys=ys, x0=prep.x0,
        y0=prep.y0, cx=cx, cy=cy, var_b=prep.var_b, shot=fit.shot,
        masked=masked, hot=prep.hot, bad=prep.bad,
        saturated=saturated, crowded=crowded,
        window=(int(fx[0]), int(fx[-1]), int(fy[0]), int(fy[-1])), annulus=prep.annulus,
        g=g, elongation=fit.elongation, elongation_significant=fit.significant,
    )


class _CleanFit:
    """The Gaussian fit of a window and its clean-up: outliers, faint neighbours, own wing.

    State of one fit (the window's signal *rw* on columns *fx* and rows *fy*,
    the usable pixels *ok*); :meth:`run` fits, re-fits without residual
    outliers and faint neighbours, and keeps what it masked in ``hot`` and
    ``neighbour``.
    """

    def __init__(self, rw: np.ndarray, fx: np.ndarray, fy: np.ndarray, ok: np.ndarray,
                 var_b: float, shot: float, opts: MeasureOptions, g: float):
        self.rw, self.fx, self.fy, self.ok = rw, fx, fy, ok.copy()
        self.var_b, self.shot, self.opts, self.g = var_b, shot, opts, g
        self.hot = np.zeros(ok.shape, bool)
        self.neighbour = np.zeros(ok.shape, bool)
        self.crowded = False
        self.elongation, self.significant = math.nan, False
        self.p = np.full(6, np.nan)
        self.cov = np.full((6, 6), np.nan)
        self.chi2, self.dof, self.converged = math.nan, 1, False

    def fit(self, use: np.ndarray, start: np.ndarray) -> tuple:
        fast = self.opts.fast
        return lm_fit(self.rw, self.fx, self.fy, use, start, self.var_b, self.shot,
                      circular=fast, max_iter=30, tol=0.05 if fast else 0.01)

    def _keep(self, result: tuple) -> None:
        self.p, self.cov, self.chi2, self.dof, self.converged = result

    def run(self, p0: np.ndarray) -> None:
        fast = self.opts.fast
        rw, fx, fy = self.rw, self.fx, self.fy
        self._keep(self.fit(self.ok, p0))
        if not self.opts.gain:
            # unknown gain: the star's shot noise from its own residuals, then refit
            self.shot = shot_from_residuals(rw, fx, fy, self.ok, self.p, self.var_b, fast)
            if self.shot > 0:
                self._keep(self.fit(self.ok, self.p))
        # elongated (trail, wind shake): the Gaussian cannot fit it, so its
        # residuals say nothing about hot pixels or neighbours
        p = self.p
        jit = compiled.kernels()
        if jit is not None:  # the same three lines in one compiled call
            el, sg = jit.window_moments(rw, self.ok, fx, fy, np.asarray(p, dtype=float),
                                        2 * math.sqrt(p[3] * p[4]), float(self.var_b),
                                        float(self.shot))
            self.elongation, self.significant = float(el), bool(sg)
        else:
            model = star_model(fx, fy, p)  # fills the masked pixels
            self.elongation, self.significant = moments(
                np.where(self.ok, rw - p[5], model), fx, fy, p[0], p[1],
                2 * math.sqrt(p[3] * p[4]), self.var_b + self.shot * np.maximum(model, 0.0))
        if self.significant and self.elongation > self.opts.max_elongation:
            return
        self._drop_outliers()
        if not fast:
            # a faint neighbour in the residuals
            nb = residual_neighbour(rw, fx, fy, self.ok, self.p, self.var_b, self.shot,
                                    self.opts.detect_sigma, self.g)
            if nb.any():
                self.crowded = True
                self.ok &= ~nb
                self.neighbour |= nb
                self._keep(self.fit(self.ok, self.p))

    def _drop_outliers(self) -> None:
        """Mask residual outliers the spike test let through, refit; keep the mask only
        for pixels the refit cannot explain either (fast mode looks only when the fit
        is visibly poor)."""
        fast = self.opts.fast
        rw, fx, fy = self.rw, self.fx, self.fy
        for _ in range(0 if fast and self.chi2 < 1.5 * self.dof else 1 if fast else 3):
            cand = residual_outliers(rw, fx, fy, self.ok, self.p, self.var_b, self.shot)
            if not cand.any():
                break
            q = self.fit(self.ok & ~cand, self.p)
            confirmed = cand & residual_outliers(rw, fx, fy, self.ok, q[0], self.var_b,
                                                 self.shot, local=False)
            if not confirmed.any():
                break
            self.ok &= ~confirmed
            self.hot |= confirmed
            self._keep(q if np.array_equal(cand, confirmed) else self.fit(self.ok, self.p))

    def unmask_own_wing(self, prep: _Prepared, win: tuple) -> np.ndarray | None:
        """Give back neighbour discs that hold nothing but this star's own wing.

        A detection in the wing of a bright or wide star (a wide-camera frame,
        a saturated plateau) is no neighbour.  A real neighbour makes the
        residual of its disc stand out from the residual at the point mirrored
        through the star's centre (a profile mismatch, Moffat wings, is
        symmetric): when it does not, by more than ``detect_sigma`` times the
        noise, the disc is unmasked and the star refitted.  Returns the
        cut-out's pixels given back, None if none.
        """
        if not prep.discs or not np.all(np.isfinite(self.p)):
            return None
        back = np.zeros_like(prep.bad)
        star = star_model(prep.xs, prep.ys, self.p)
        res = prep.r - star - self.p[5]
        var = self.var_b + self.shot * np.maximum(star, 0.0)
        usable = ~(prep.bad | prep.at_limit | prep.hot)
        mirror = mirrored(np.where(usable & ~prep.neighbour, res, np.nan), prep.xs, prep.ys,
                          self.p[0], self.p[1])
        for _, disc in prep.discs:
            part = disc & usable
            if not part.any():
                continue
            twin = np.isfinite(mirror) & part
            excess = float(np.sum(res[part]) - np.sum(mirror[twin]))
            noise = math.sqrt(float(np.sum(var[part]) + np.sum(var[twin])))
            if excess < self.opts.detect_sigma * noise:
                back |= disc
        if not back.any():
            return None
        self.ok |= back[win] & ~self.hot & usable[win]
        self._keep(self.fit(self.ok, self.p))
        return back

    def usable(self) -> bool:
        """A converged fit with a positive flux and a covariance positive on the position
        (a fit run into a spike or off the window is a failed fit, not a measurement)."""
        p, cov = self.p, self.cov
        return bool(self.converged and all(map(math.isfinite, p.tolist())) and p[2] > 0
                    and not (cov[0, 0] < 0 or cov[1, 1] < 0))


def background_plane(r: np.ndarray, dx: np.ndarray, dy: np.ndarray, sel: np.ndarray,
                      iterations: int = 4) -> tuple[np.ndarray, float, int]:
    """Sigma-clipped (3 sigma) plane ``b0 + b1·dx + b2·dy`` through the selected pixels.

    Returns the coefficients, the RMS of the kept pixels about the plane and
    their number.
    """
    z, x, y = r[sel], dx[sel], dy[sel]
    jit = compiled.kernels()
    if jit is not None:
        coef, std, n = jit.background_plane(z.astype(float), x.astype(float),
                                            y.astype(float), int(iterations))
        return coef, float(std), int(n)
    design = np.stack([np.ones_like(x), x, y], axis=1)
    coef = np.array([median(z), 0.0, 0.0])
    keep = np.ones(z.size, bool)
    sigma = math.nan
    fit_plane = z.size >= 30
    for _ in range(iterations):
        res = z - design @ coef
        med, sigma = robust_sigma(res[keep]) if np.count_nonzero(keep) >= 5 else (0.0, math.nan)
        if not sigma > 0:
            sigma = float(np.std(res[keep])) if keep.any() else math.nan
        new_keep = np.abs(res - med) <= 3.0 * max(sigma, 1e-12)
        if fit_plane and new_keep.sum() >= 10:
            ak = design[new_keep]
            try:
                coef = np.linalg.solve(ak.T @ ak, ak.T @ z[new_keep])
            except np.linalg.LinAlgError:
                coef = np.array([median(z[new_keep]), 0.0, 0.0])
        elif new_keep.any():
            coef = np.array([median(z[new_keep]), 0.0, 0.0])
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    res = z[keep] - (coef[0] + coef[1] * x[keep] + coef[2] * y[keep])
    # std of the kept residuals, corrected for the 3-sigma clip (factor 1.0135)
    std = float(np.std(res)) * 1.0135 if res.size > 3 else sigma
    return coef, std, int(keep.sum())


def windowed_centroid(r: np.ndarray, xs: np.ndarray, ys: np.ndarray, ok: np.ndarray,
                       x: float, y: float, sigma: float) -> tuple[float, float]:
    rr = np.where(ok, r, 0.0)
    for _ in range(5):
        wx = np.exp(-0.5 * ((xs - x) / sigma) ** 2)
        wy = np.exp(-0.5 * ((ys - y) / sigma) ** 2)
        wgt = np.outer(wy, wx) * rr
        s = wgt.sum()
        if not s > 0:
            break
        nx, ny = float((wgt.sum(axis=0) * xs).sum() / s), float((wgt.sum(axis=1) * ys).sum() / s)
        if not (abs(nx - x) < 2 * sigma and abs(ny - y) < 2 * sigma):
            break
        done = abs(nx - x) < 1e-3 and abs(ny - y) < 1e-3
        x, y = nx, ny
        if done:
            break
    return x, y


def lm_fit(r: np.ndarray, xs: np.ndarray, ys: np.ndarray, use: np.ndarray,
            p: np.ndarray, var_b: float, shot: float, circular: bool,
            max_iter: int, tol: float = 1e-2) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """Levenberg–Marquardt with iteratively reweighted variance ``var_b + shot·star``.

    Converged when a step moves the centre by less than *tol* times its
    uncertainty.  Returns parameters, covariance, chi², degrees of freedom,
    convergence.
    """
    free = _FREE[bool(circular)]
    # the centre may sit a little beyond the window (a star cut by the frame edge)
    margin = 2.0 * p[3] * FWHM_PER_SIGMA
    wide = 0.5 * (xs.size + ys.size)
    lo = np.array([xs[0] - 0.5 - margin, ys[0] - 0.5 - margin, 1e-12, 0.25, 0.25, -np.inf])
    hi = np.array([xs[-1] + 0.5 + margin, ys[-1] + 0.5 + margin, np.inf, wide, wide, np.inf])
    jit = compiled.kernels()
    if jit is not None:
        p, cov, chi2, n, converged = jit.lm_fit(
            np.ascontiguousarray(r, dtype=float), np.ascontiguousarray(xs, dtype=float),
            np.ascontiguousarray(ys, dtype=float), np.ascontiguousarray(use, dtype=np.bool_),
            np.asarray(p, dtype=float), float(var_b), float(shot), bool(circular),
            int(max_iter), float(tol), lo, hi)
        return p, cov, float(chi2), max(int(n) - free.size, 1), bool(converged)
    return _lm_numpy(r[use], xs, ys, use, p, var_b, shot, circular, max_iter, tol, free, lo, hi)


#: the free parameters (circular, elliptical)
_FREE = {True: np.array([0, 1, 2, 3, 5]), False: np.arange(6)}
#: where the free parameters' covariance goes in the 6×6 one (circular, elliptical)
_FREE_IX = {True: np.ix_([0, 1, 2, 3, 5], [0, 1, 2, 3, 5]), False: np.ix_(range(6), range(6))}


def _full_cov(cov: np.ndarray, free: np.ndarray, circular: bool) -> np.ndarray:
    """The 6×6 covariance from the free parameters' (NaN for the fixed ones)."""
    full = np.full((6, 6), np.nan)
    full[_FREE_IX[bool(circular)]] = cov
    if circular:
        full[4, 4] = full[3, 3]
    return full


def _lm_numpy(d: np.ndarray, xs: np.ndarray, ys: np.ndarray, use: np.ndarray, p: np.ndarray,
              var_b: float, shot: float, circular: bool, max_iter: int, tol: float,
              free: np.ndarray, lo: np.ndarray,
              hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """:func:`lm_fit` in numpy (the reference of the compiled kernel)."""
    lam = 1e-3
    converged = False

    def evaluate(par: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        star, jac, _ = model_and_jacobian(xs, ys, par, circular)
        return star[use], jac[use.ravel()]

    star, jac = evaluate(p)
    for _ in range(max_iter):
        w = 1.0 / np.sqrt(var_b + shot * np.maximum(star, 0.0))
        res = (d - star - p[5]) * w
        chi2 = float(res @ res)
        jw = jac * w[:, None]
        a = jw.T @ jw
        grad = jw.T @ res
        diag = np.diag(a).copy()
        improved = False
        for _ in range(8):
            try:
                step = np.linalg.solve(a + lam * np.diag(diag), grad)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            q = p.copy()
            q[free] += step
            if circular:
                q[4] = q[3]
            q = np.minimum(np.maximum(q, lo), hi)
            s_new, j_new = evaluate(q)
            r_new = (d - s_new - q[5]) * w
            if float(r_new @ r_new) <= chi2:
                p, star, jac = q, s_new, j_new
                lam = max(lam * 0.1, 1e-9)
                improved = True
                break
            lam *= 10.0
        if not improved:
            converged = True  # no step lowers chi²: at the minimum
            break
        # converged when the step is far below the position's own uncertainty
        # (a zero curvature gives an infinite limit: converged, as 1/0 would)
        limit = tol / np.sqrt(np.maximum(np.abs(np.diag(a)[:2]), 1e-300)) + 1e-6
        if abs(step[0]) < limit[0] and abs(step[1]) < limit[1]:
            converged = True
            break
    w = 1.0 / np.sqrt(var_b + shot * np.maximum(star, 0.0))
    res = (d - star - p[5]) * w
    jw = jac * w[:, None]
    try:
        cov = np.linalg.inv(jw.T @ jw)
    except np.linalg.LinAlgError:
        cov = np.full((free.size, free.size), np.nan)
    return p, _full_cov(cov, free, circular), float(res @ res), max(int(d.size) - free.size, 1), \
        converged




def shot_from_residuals(rw: np.ndarray, fx: np.ndarray, fy: np.ndarray, ok: np.ndarray,
                         p: np.ndarray, var_b: float, circular: bool) -> float:
    """Star shot-noise coefficient (1/gain) from the excess residual variance.

    Fits ``E[res²] = (1 − h)·(var_b + k·star)`` for ``k`` over the fitted
    pixels, ``h`` the leverage of each pixel in a fit weighted by the
    background alone (the core pixels fix flux and width, so their residuals
    are shrunk).
    """
    star, jac, _ = model_and_jacobian(fx, fy, p, circular)
    use = ok.ravel()
    m = star.ravel()[use]
    j = jac[use]
    try:
        hat = np.einsum("ij,jk,ik->i", j, np.linalg.inv(j.T @ j), j)
    except np.linalg.LinAlgError:
        return 0.0
    keep = hat < 0.9
    res2 = (rw.ravel()[use] - m - p[5]) ** 2
    excess = res2[keep] / (1.0 - hat[keep]) - var_b
    mk = m[keep]
    den = float(mk @ mk)
    if not den > 0:
        return 0.0
    return max(float(mk @ excess) / den, 0.0)


def mismatch(res: np.ndarray, sig: np.ndarray, ok: np.ndarray) -> float:
    """Residual scatter beyond the noise (ADU): how badly the profile fits.

    Near zero when the Gaussian describes the star; large for a bright star
    of another shape (Moffat wings at SNR 1000), where the outlier and
    neighbour tests must not mistake the mismatch for hot pixels or stars.
    """
    if np.count_nonzero(ok) < 8:
        return 0.0
    _, scale = robust_sigma(res[ok])
    noise2 = median(sig[ok] ** 2)
    return math.sqrt(max(scale * scale - noise2, 0.0))


def residual_outliers(rw: np.ndarray, fx: np.ndarray, fy: np.ndarray, ok: np.ndarray,
                       p: np.ndarray, var_b: float, shot: float,
                       local: bool = True) -> np.ndarray:
    """Pixels more than 5 sigma off the fitted star.

    Sigma is the pixel's noise combined with the fit's profile mismatch
    (:func:`mismatch`).  With *local* (finding candidates), the residual must
    also stand out from the median residual of its neighbours, by 5 times their
    own spread (a smooth mismatch is not an outlier), or be the worst pixel of
    the window; without (confirming after a refit that left the candidates
    out), it must stay off the refitted star.  In the star's core only what
    the model cannot be counts: a residual of more than half the model there.
    """
    star = star_model(fx, fy, p)
    res = rw - star - p[5]
    sig = np.sqrt(var_b + shot * np.maximum(star, 0.0))
    extra = mismatch(res, sig, ok)
    sig = np.sqrt(sig * sig + extra * extra)
    dev = res
    worst = np.zeros_like(ok)
    if local:
        # the single worst pixel, whatever its neighbours: a hot pixel that pulled
        # the fit blurs its own local contrast (the refit will tell)
        z = np.where(ok, np.abs(res) / sig, 0.0)
        k = int(np.argmax(z))
        if z.flat[k] > 5.0:
            worst.flat[k] = True
        # masked and outside neighbours count as zero residual
        ny, nx = res.shape
        pad = np.zeros((ny + 2, nx + 2))
        pad[1:-1, 1:-1] = np.where(ok, res, 0.0)
        stack = np.stack([pad[a:a + ny, b:b + nx] for a in (0, 1, 2) for b in (0, 1, 2)
                          if a != 1 or b != 1])
        stack.sort(axis=0)
        nb_med = 0.5 * (stack[3] + stack[4])
        spread = np.abs(stack - nb_med)
        spread.sort(axis=0)
        nb_mad = 1.4826 * 0.5 * (spread[3] + spread[4])
        dev = res - nb_med
        sig = np.sqrt(sig * sig + nb_mad * nb_mad)
    d2 = (fx[None, :] - p[0]) ** 2 + (fy[:, None] - p[1]) ** 2
    core = d2 <= (FWHM_PER_SIGMA * max(p[3], p[4])) ** 2
    # in the core: more than half the model, or a third of it and lopsided (a
    # profile mismatch is symmetric about the centre, a hot pixel is not)
    core_ok = (np.abs(res) > 0.5 * star) | (
        (np.abs(res) > 0.3 * star)
        & (np.abs(res - mirrored(np.where(ok, res, np.nan), fx, fy, p[0], p[1])) > 0.3 * star))
    return ok & ((np.abs(dev) > 5.0 * sig) | worst) & (~core | core_ok)


def mirrored(a: np.ndarray, xs: np.ndarray, ys: np.ndarray, x0: float,
              y0: float) -> np.ndarray:
    """*a* at the point mirrored through (x0, y0), bilinear; NaN where unknown."""
    mx = 2.0 * x0 - xs - xs[0]
    my = 2.0 * y0 - ys - ys[0]
    ix = np.floor(mx).astype(int)
    iy = np.floor(my).astype(int)
    fx_, fy_ = mx - ix, my - iy
    ny, nx = a.shape
    okx = (ix >= 0) & (ix + 1 < nx)
    oky = (iy >= 0) & (iy + 1 < ny)
    ix, iy = np.clip(ix, 0, nx - 2), np.clip(iy, 0, ny - 2)
    out = ((a[np.ix_(iy, ix)] * (1 - fx_)[None, :] + a[np.ix_(iy, ix + 1)] * fx_[None, :])
           * (1 - fy_)[:, None]
           + (a[np.ix_(iy + 1, ix)] * (1 - fx_)[None, :] + a[np.ix_(iy + 1, ix + 1)]
              * fx_[None, :]) * fy_[:, None])
    return np.where(oky[:, None] & okx[None, :], out, np.nan)


def residual_neighbour(rw: np.ndarray, fx: np.ndarray, fy: np.ndarray, ok: np.ndarray,
                        p: np.ndarray, var_b: float, shot: float, detect_sigma: float,
                        g: float) -> np.ndarray:
    """A disc around a faint neighbour: a significant 3×3 residual sum off the core."""
    star = star_model(fx, fy, p)
    res = rw - star - p[5]
    sig = np.sqrt(var_b + shot * np.maximum(star, 0.0))
    noise = 3.0 * math.sqrt(var_b + mismatch(res, sig, ok) ** 2)
    zz = np.where(ok, res, 0.0)
    padded = np.zeros((zz.shape[0] + 3, zz.shape[1] + 3))
    padded[2:-1, 2:-1] = zz
    c = np.cumsum(np.cumsum(padded, axis=0), axis=1)
    s3 = c[3:, 3:] - c[:-3, 3:] - c[3:, :-3] + c[:-3, :-3]
    d2 = (fx[None, :] - p[0]) ** 2 + (fy[:, None] - p[1]) ** 2
    far = d2 > (2.0 * FWHM_PER_SIGMA * max(p[3], p[4])) ** 2
    cand = np.where(far & ok, s3, -np.inf)
    j, i = np.unravel_index(int(np.argmax(cand)), cand.shape)
    if not cand[j, i] > detect_sigma * noise:
        return np.zeros_like(ok)
    return ((fx[None, :] - fx[i]) ** 2 + (fy[:, None] - fy[j]) ** 2) <= (1.5 * g) ** 2


def moments(f: np.ndarray, xs: np.ndarray, ys: np.ndarray, x: float, y: float,
             sigma_w: float, var: np.ndarray) -> tuple[float, bool]:
    """Elongation (axis ratio) from Gaussian-weighted moments, and its significance.

    *f* is the background-subtracted star, *var* its per-pixel variance.
    """
    jit = compiled.kernels()
    if jit is not None:
        el, sig = jit.moments(np.ascontiguousarray(f, dtype=float), xs.astype(float),
                              ys.astype(float), float(x), float(y), float(sigma_w),
                              np.full(f.shape, float(var)) if np.ndim(var) == 0
                              else np.ascontiguousarray(var, dtype=float))
        return float(el), bool(sig)
    dx = xs[None, :] - x
    dy = ys[:, None] - y
    wgt = np.exp(-0.5 * (dx * dx + dy * dy) / sigma_w**2)
    s = float(np.sum(wgt * f))
    if not s > 0:
        return math.nan, False
    a = float(np.sum(wgt * f * dx * dx))
    b = float(np.sum(wgt * f * dy * dy))
    c = float(np.sum(wgt * f * dx * dy))
    t = a + b
    if not t > 0:
        return math.nan, False
    e1, e2 = (a - b) / t, 2 * c / t
    # delta-method noise of (e1, e2)
    de1 = wgt * ((dx * dx - dy * dy) * t - (a - b) * (dx * dx + dy * dy)) / t**2
    de2 = wgt * (2 * dx * dy * t - 2 * c * (dx * dx + dy * dy)) / t**2
    var_e = 0.5 * float(np.sum((de1 * de1 + de2 * de2) * var))
    e = math.hypot(e1, e2)
    significant = e > 3.0 * math.sqrt(var_e)
    return window_axis_ratio(a, b, c, s, sigma_w), significant


def window_axis_ratio(a: float, b: float, c: float, s: float, sigma_w: float) -> float:
    """Axis ratio (≥ 1) of a star from its Gaussian-weighted second moments.

    ``a``, ``b``, ``c`` are Σ w·f·dx², Σ w·f·dy², Σ w·f·dx·dy and ``s`` is
    Σ w·f (px², px; window σ ``sigma_w`` px).  The window is undone (exact for a
    Gaussian star: Σ⁻¹ = M⁻¹ − W⁻¹), then the pixel width (1/12 px²); a star
    larger than the window gives the weighted ratio, a lower bound.  Scalar
    arithmetic only, no calls: the compiled kernels compile this same function.
    """
    mxx, myy, mxy = a / s, b / s, c / s
    mean, rad = 0.5 * (mxx + myy), math.hypot(0.5 * (mxx - myy), mxy)  # eigenvalues mean ± rad
    lower = math.sqrt((mean + rad) / (mean - rad)) if mean - rad > 0 else math.inf
    det = mxx * myy - mxy * mxy
    if not det > 0:
        return lower
    w2 = 1.0 / sigma_w**2
    ixx, iyy, ixy = myy / det - w2, mxx / det - w2, -mxy / det
    det_i = ixx * iyy - ixy * ixy
    if not det_i > 0 or ixx <= 0:
        return lower  # star larger than the window: the weighted ratio
    pxx, pyy, pxy = iyy / det_i - 1 / 12, ixx / det_i - 1 / 12, -ixy / det_i
    mean, rad = 0.5 * (pxx + pyy), math.hypot(0.5 * (pxx - pyy), pxy)
    if mean - rad <= 0:
        return lower
    return max(math.sqrt((mean + rad) / (mean - rad)), 1.0)
