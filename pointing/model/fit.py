"""Least-squares fit of a pointing model, with the statistics TPOINT reports and more.

The fit minimises the sum over stars of ``w·(dx² + de²)`` where
``dx = (A_true − A_model)·cos E_true`` and ``de = E_true − E_model`` are the
sky residuals after applying the model to the raw positions
(:meth:`PointingModel.true_from_raw`, rigorous), and ``w`` the optional
per-observation weight ``1/σ²`` (normalised to mean 1).  It is solved by
Gauss–Newton with the exact Jacobian of the rigorous model (alt-az: compiled
forward-mode derivatives, :mod:`pointing.model.jacobian`; equatorial, or
without numba: central differences, :func:`pointing.model.model.forward_and_jacobian`),
started by one linear step on the first-order design and iterated until the
next step would move the coefficients by less than 1e-5″, so the solution is
the exact least-squares minimum even for azimuth offsets of degrees.  Every
linearisation is factorised once (QR): steps, covariance, condition number and
the hat matrix of the leave-one-out residuals all come from it.

Statistics, with ``N`` stars used and ``M`` fitted terms:

* sky RMS ``= sqrt(Σ(dx² + de²)/N)`` (TPOINT's "RMS");
* population SD ``PSD = sqrt(Σ(dx² + de²)/(N − M/2))``;
* coefficient sigma as TPOINT computes it, ``sqrt(C_kk)·RMS`` with
  ``C = (JᵀWJ)⁻¹`` (checked against the AuxTel ``.mod`` files to 4 digits);
* leave-one-out residuals from the hat matrix, star by star (a 2×2 block
  per star), their RMS being how well the model predicts a star it was not
  fitted to;
* externally studentized residuals per star; a star is an outlier candidate
  when its statistic exceeds the Bonferroni-corrected 5 % level of
  F(2, 2N − M − 2);
* the correlation matrix, pairs above ``|ρ| ≥ 0.95`` as warnings, and the
  condition number of the column-normalised design matrix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.special

from pointing.errors import FitError, TermError
from pointing.model import equatorial, jacobian
from pointing.model.design import DEFAULT_TERMS, term_design
from pointing.model.model import ARCSEC, PointingModel, coefficient_limit
from pointing.model.model import forward_and_jacobian as model_forward_and_jacobian
from pointing.model.run import Observations
from pointing.model.terms import Term, parse_term, parse_terms
from pointing.units import URAD_PER_ARCSEC

__all__ = ["DEFAULT_TERMS", "FitResult", "Geometry", "fit", "sky_residuals"]
CORRELATION_WARNING = 0.95
#: condition number above which the coverage is taken not to separate the terms
DEGENERATE_CONDITION = 1e8
_COEF_LIMIT_MIN = min(coefficient_limit(name) for name in ("IA", "IE", "CA"))


@dataclass(frozen=True)
class Geometry:
    """What the fit needs to know of the mount: its type and site latitude.

    The fitter is the same for every mount; only these three maps differ
    (alt-az: azimuth/elevation; equatorial: hour angle/declination).
    """

    mount: str = "altaz"
    latitude_deg: float | None = None

    @classmethod
    def of(cls, obs: Observations) -> Geometry:
        return cls(obs.mount, obs.latitude_deg if obs.mount != "altaz" else None)

    @property
    def family(self) -> str:
        return equatorial.mount_family(self.mount)

    def model(self, terms: Sequence[Term], values: Any, **kwargs: Any) -> PointingModel:
        if self.mount == "altaz":
            return PointingModel(terms, values, **kwargs)
        return PointingModel(terms, values, mount=self.mount, latitude_deg=self.latitude_deg,
                             **kwargs)

    def design(self, terms: Sequence[Term], a: np.ndarray, e: np.ndarray) -> np.ndarray:
        if self.mount == "altaz":
            return term_design(terms, a, e)
        lat = None if self.latitude_deg is None else math.radians(self.latitude_deg)
        try:
            return equatorial.term_design(terms, a, e, lat)
        except TermError as exc:
            raise FitError(str(exc)) from None

    def forward(self, terms: Sequence[Term], values: np.ndarray, a: np.ndarray, e: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """The rigorous model's true positions at raw ones (finite, in range)."""
        if self.mount == "altaz":
            return jacobian.forward(terms, values, a, e)
        return self.model(terms, values).true_from_raw(a, e)

    def jacobian(self, terms: Sequence[Term], values: np.ndarray, free: Sequence[int],
                 a: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.mount == "altaz":
            return jacobian.forward_and_jacobian(terms, values, free, a, e)
        return model_forward_and_jacobian(terms, values, free, a, e, mount=self.mount,
                                          latitude_deg=self.latitude_deg)


@dataclass(frozen=True)
class FitResult:
    """The outcome of :func:`fit`.

    Attributes
    ----------
    model : PointingModel
        The fitted model (sigmas, covariance and statistics in ``model.info``).
    observations : Observations
        The input, unchanged.
    used : ndarray of bool
        Observations that entered the fit (not rejected in the file, not masked).
    dx, de : ndarray
        Residuals after the fit for *every* observation (used or not),
        true − model, arcsec; ``dx`` is ΔA·cosE (Δh·cosδ on an equatorial run, in the
        mount's axes: on a German equatorial's far side both point the other way on the sky).
    loo_dx, loo_de : ndarray
        Leave-one-out residuals (arcsec) of used observations, NaN elsewhere.
    studentized : ndarray
        Externally studentized residual statistic per observation (NaN when not used).
    sky_rms, psd, loo_rms : float
        Arcseconds.
    condition_number : float
        Of the column-normalised weighted design matrix.
    correlation : ndarray
        Correlation matrix of the fitted terms (in ``fitted_terms`` order).
    fitted_terms : tuple of str
        The terms that were free in the fit.
    outlier_candidates : tuple of int
        1-based observation numbers (file order).
    warnings : tuple of str
    iterations : int
    """

    model: PointingModel
    observations: Observations
    used: np.ndarray
    dx: np.ndarray
    de: np.ndarray
    loo_dx: np.ndarray
    loo_de: np.ndarray
    studentized: np.ndarray
    sky_rms: float
    psd: float
    loo_rms: float
    condition_number: float
    correlation: np.ndarray
    fitted_terms: tuple[str, ...]
    outlier_candidates: tuple[int, ...]
    warnings: tuple[str, ...] = field(default=())
    iterations: int = 0

    @property
    def n_obs(self) -> int:
        return len(self.observations)

    @property
    def n_used(self) -> int:
        return int(self.used.sum())

    @property
    def sky_rms_urad(self) -> float:
        return self.sky_rms * URAD_PER_ARCSEC

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``pointing fit --json`` prints."""
        obs = self.observations
        az = np.degrees(obs.az_true)
        el = np.degrees(obs.el_true)
        sig = self.model.sigmas
        fixed = self.model.fixed
        # equatorial runs name their columns for what they hold (hour angle, declination)
        xk, yk = ("ha_deg", "dec_deg") if obs.is_equatorial else ("az_deg", "el_deg")
        return {
            "mount": obs.mount,
            "n_obs": self.n_obs,
            "n_used": self.n_used,
            "terms": {
                name: {"value_arcsec": value, "sigma_arcsec": sig[name], "fixed": fixed[name]}
                for name, value in self.model.values.items()
            },
            "sky_rms_arcsec": self.sky_rms,
            "sky_rms_urad": self.sky_rms_urad,
            "psd_arcsec": self.psd,
            "loo_rms_arcsec": self.loo_rms,
            "condition_number": self.condition_number,
            "iterations": self.iterations,
            "correlations": {
                f"{a}-{b}": float(self.correlation[i, j])
                for i, a in enumerate(self.fitted_terms)
                for j, b in enumerate(self.fitted_terms)
                if j > i and abs(self.correlation[i, j]) >= CORRELATION_WARNING
            },
            "residuals": [
                {
                    "index": i + 1,
                    xk: float(az[i]),
                    yk: float(el[i]),
                    "dx_arcsec": float(self.dx[i]),
                    "de_arcsec": float(self.de[i]),
                    "used": bool(self.used[i]),
                    "studentized": None if not np.isfinite(self.studentized[i])
                    else float(self.studentized[i]),
                }
                for i in range(self.n_obs)
            ],
            "outlier_candidates": list(self.outlier_candidates),
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        """A TPOINT-like table of the fit, for people."""
        m = self.model
        lines = [
            f"{self.observations.caption or 'pointing run'}",
            f"observations: {self.n_obs} in file, {self.n_used} used",
            "",
            f"  {'term':<10s}{'value″':>12s}{'sigma″':>11s}   description",
        ]
        for term in m.terms:
            value = m.values[term.name]
            sigma = m.sigmas[term.name]
            mark = "=" if m.fixed[term.name] else " "
            s = "   (fixed)" if sigma is None else f"{sigma:11.3f}"
            lines.append(f" {mark}{term.spelling:<10s}{value:+12.3f}{s}   {term.description}")
        lines += [
            "",
            f"sky RMS      {self.sky_rms:9.3f}″  ({self.sky_rms_urad:.2f} µrad)",
            f"popn SD      {self.psd:9.3f}″",
            f"leave-1-out  {self.loo_rms:9.3f}″  (RMS error on a star not in the fit)",
            f"condition    {self.condition_number:9.3g}",
        ]
        if self.outlier_candidates:
            lines.append("outlier candidates (observation numbers): "
                         + ", ".join(str(i) for i in self.outlier_candidates))
        for w in self.warnings:
            lines.append(f"warning: {w}")
        return "\n".join(lines)


def sky_residuals(obs: Observations, az: np.ndarray, el: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Sky residuals true − model (radians): ΔA·cos E_true and ΔE."""
    dx = ((obs.az_true - az + math.pi) % (2 * math.pi) - math.pi) * np.cos(obs.el_true)
    return dx, obs.el_true - el


def _residuals(model: PointingModel, obs: Observations) -> tuple[np.ndarray, np.ndarray]:
    """Sky residuals of every observation (rigorous); equatorial: Δh·cosδ and Δδ."""
    return sky_residuals(obs, *model.true_from_raw(obs.az_raw, obs.el_raw))


def _parse_mask(mask: Iterable[int] | None, n: int) -> np.ndarray:
    keep = np.ones(n, bool)
    for k in mask or ():
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise FitError(f"mask entries are 1-based observation numbers, got {k!r}")
        if not 1 <= k <= n:
            raise FitError(f"cannot mask observation {k}: the run has observations 1..{n}")
        keep[k - 1] = False
    return keep


def _degeneracy_message(free: Sequence[Term], null: np.ndarray, obs: Observations,
                        used: np.ndarray) -> tuple[str, tuple[str, ...]]:
    """Name the terms in the (near) null space of the scaled design matrix."""
    weight = np.sqrt(np.sum(np.atleast_2d(null) ** 2, axis=0))
    involved = tuple(t.name for t, v in zip(free, weight, strict=True) if v > 0.15)
    el = np.degrees(obs.el_true[used])
    az = np.degrees(obs.az_true[used]) % 360.0
    names = ("declinations", "hour angles") if obs.is_equatorial else ("elevations",
                                                                        "azimuths")
    msg = (f"the sky coverage cannot separate terms {', '.join(involved)}: "
           f"{used.sum()} stars at {names[0]} {el.min():.1f}°–{el.max():.1f}°, "
           f"{names[1]} {az.min():.1f}°–{az.max():.1f}°; drop one of these terms, hold it "
           "fixed, or observe over a wider range")
    return msg, involved


def _prepare_terms(terms: str | Sequence[str], fix: Mapping[str, float] | None,
                   family: str = "altaz") -> tuple[list[Term], dict[str, float]]:
    """Parsed model terms (fixed ones appended when not listed) and the fixed values."""
    try:
        term_list = list(parse_terms(terms, family))
    except TermError as exc:
        raise FitError(str(exc)) from None
    if not term_list and not fix:
        raise FitError("no terms to fit: give at least one term")
    try:
        fix = {parse_term(k, family).name: float(v) for k, v in (fix or {}).items()}
    except TermError as exc:
        raise FitError(str(exc)) from None
    bad = [k for k, v in fix.items() if not math.isfinite(v)]
    if bad:
        raise FitError(f"fixed value of {', '.join(bad)} is not finite")
    names = [t.name for t in term_list]
    for name in fix:
        if name not in names:
            term_list.append(parse_term(name, family))
            names.append(name)
    try:
        parse_terms(names, family)
    except TermError as exc:
        raise FitError(str(exc)) from None
    return term_list, fix


@dataclass
class _Solution:
    values: np.ndarray
    jac: np.ndarray  # weighted, at the last Jacobian evaluation (≲ 0.05″ from the end)
    iterations: int
    warnings: list[str]
    factors: _Step  # of jac
    residuals: tuple[np.ndarray, np.ndarray]  # dx, de (radians) of the used stars at values


def _check_divergence(term_list: list[Term], values: np.ndarray, free_idx: list[int]) -> None:
    if np.max(np.abs(values[free_idx])) <= _COEF_LIMIT_MIN:  # the usual case: far inside
        return
    for i in free_idx:
        if not abs(values[i]) <= coefficient_limit(term_list[i].name):
            name = term_list[i].name
            raise FitError(f"the fit diverges: {name} reached {values[i]:.3g}″; the "
                           "coverage cannot determine this model", (name,))


class _Step:
    """One linearisation of the weighted problem, factorised, and steps from residuals.

    The column-scaled weighted Jacobian ``J/scale = Q R`` (economic QR, LAPACK):
    steps are ``R⁻¹ Qᵀ r``, the covariance ``R⁻¹R⁻ᵀ``, the hat matrix ``Q Qᵀ``,
    the singular values those of ``R``.  (``R⁻¹`` is the SVD pseudo-inverse where
    ``R`` is singular.)  Several times cheaper than the SVD of the tall matrix.
    """

    def __init__(self, jac: np.ndarray, sw: np.ndarray | None):
        self.jac = jac if sw is None else jac * sw[:, None]
        self.sw = sw
        self.scale = np.sqrt(np.einsum("ij,ij->j", self.jac, self.jac))
        scaled = np.empty(self.jac.shape[::-1]).T  # column-major: LAPACK works in place
        np.divide(self.jac, self.scale, out=scaled)
        qr, tau, _, _ = scipy.linalg.lapack.dgeqrf(scaled, overwrite_a=True)
        self.r = np.triu(qr[: jac.shape[1]])
        self.q = scipy.linalg.lapack.dorgqr(qr, tau, overwrite_a=True)[0]
        rinv, info = scipy.linalg.lapack.dtrtri(self.r)
        self.invertible = info == 0 and bool(np.all(np.isfinite(rinv)))
        if not self.invertible:
            u, s, vt = np.linalg.svd(self.r)
            with np.errstate(divide="ignore"):
                inv = np.where(s > s[0] * 1e-15, 1.0 / s, 0.0)
            rinv = (vt.T * inv) @ u.T
        self.rinv = rinv

    def __call__(self, dx: np.ndarray, de: np.ndarray) -> np.ndarray:
        """Least-squares step (arcsec) for residuals dx, de (radians)."""
        rw = np.concatenate([dx, de])
        if self.sw is not None:
            rw *= self.sw
        return (self.rinv @ (self.q.T @ rw)) / self.scale / ARCSEC

    def surely_conditioned(self, limit: float) -> bool:
        """Whether the condition number is certainly below ``limit`` (no SVD needed):
        κ₂(R) ≤ sqrt(κ₁(R)·κ∞(R))."""
        if not self.invertible:  # R⁻¹ is a pseudo-inverse: its norms prove nothing
            return False
        r, ri = np.abs(self.r), np.abs(self.rinv)
        bound = math.sqrt(r.sum(0).max() * ri.sum(0).max() * r.sum(1).max() * ri.sum(1).max())
        return bound < limit

    def condition(self) -> float:
        """Condition number of ``J/scale`` (2-norm)."""
        s = np.linalg.svd(self.r, compute_uv=False)
        return float(s[0] / s[-1]) if s[-1] > 0 else math.inf


def _check_coverage(free: Sequence[Term], sub: Observations, obs: Observations,
                    used: np.ndarray, geo: Geometry) -> _Step:
    """Refuse a sky coverage that cannot separate the free terms, naming them.

    First-order bases at the observed positions: exactly the coverage, so exact
    degeneracies show as exact.  Returns that design, factorised (unweighted): the
    fit's first step uses it.
    """
    coverage = geo.design(free, sub.az_true, sub.el_true)
    norms = np.linalg.norm(coverage, axis=0)
    if np.any(norms == 0):
        dead = [t.name for t, v in zip(free, norms, strict=True) if v == 0]
        raise FitError(f"terms {', '.join(dead)} have no effect at these positions", tuple(dead))
    step = _Step(coverage, None)
    if step.surely_conditioned(DEGENERATE_CONDITION):
        return step
    s0, vt0 = np.linalg.svd(step.r)[1:]
    if s0[-1] <= s0[0] / DEGENERATE_CONDITION:
        msg, involved = _degeneracy_message(free, vt0[s0 <= s0[0] / DEGENERATE_CONDITION],
                                            obs, used)
        raise FitError(msg, involved)
    return step


def _solve(term_list: list[Term], values: np.ndarray, free_idx: list[int], sub: Observations,
           sw: np.ndarray, max_iterations: int, exact: bool = True,
           geo: Geometry = Geometry(), coverage: _Step | None = None) -> _Solution:
    """Gauss–Newton with the Jacobian of the rigorous model (quadratic convergence).

    The first step is linear, on the first-order design at the true positions
    (``coverage``).  Then each exact Jacobian is used twice: for a step at its own
    point and, reusing its factorisation, for one at the rigorous residuals after
    that step (near the minimum the Jacobian barely moves: ~1e-7 relative per
    0.05″).  The fit has converged when the next step would be below 1e-5″: that
    step is not taken, so the coefficients and residuals belong to one rigorous
    evaluation (usually one exact Jacobian in all).  With ``exact`` False the
    Jacobian is the first-order one at the model's positions (differs by ~1e-4
    relative): the residuals stay rigorous, the minimum moves by up to a few
    hundredths of a sigma; the automatic model's screening refits use it.
    """
    tolerance = 1e-5  # arcsec, 10 µas: below this a step is noise
    a_raw, e_raw = sub.az_raw, sub.el_raw
    free = [term_list[i] for i in free_idx]
    if np.any(values) or coverage is None:
        a_mod, e_mod = geo.forward(term_list, values, a_raw, e_raw)
    else:
        a_mod, e_mod = a_raw, e_raw
    sw_or_none = None if np.all(sw == 1.0) else sw
    if coverage is None:
        step_fn = _Step(geo.design(free, a_mod, e_mod), sw_or_none)
    elif sw_or_none is None:  # unweighted: the coverage check's factorisation serves
        step_fn = coverage
    else:
        step_fn = _Step(coverage.jac, sw)
    residuals = sky_residuals(sub, a_mod, e_mod)
    step = step_fn(*residuals)
    iterations, own, fresh = 1, False, False
    while True:
        biggest = float(np.max(np.abs(step)))
        if (biggest < tolerance and own) or iterations >= max_iterations:
            break
        values[free_idx] += step
        _check_divergence(term_list, values, free_idx)
        if fresh:  # the Jacobian of the step before, at the new residuals
            a_mod, e_mod = geo.forward(term_list, values, a_raw, e_raw)
            fresh = False
        else:
            if exact:
                a_mod, e_mod, jac = geo.jacobian(term_list, values, free_idx, a_raw, e_raw)
            else:
                a_mod, e_mod = geo.forward(term_list, values, a_raw, e_raw)
                jac = geo.design(free, a_mod, e_mod)
            step_fn = _Step(jac, sw_or_none)
            own = fresh = True
        residuals = sky_residuals(sub, a_mod, e_mod)
        step = step_fn(*residuals)
        iterations += 1
    warnings = [] if biggest < tolerance else [
        f"fit did not converge in {iterations} iterations (last step {biggest:.2g}″)"]
    return _Solution(values, step_fn.jac, iterations, warnings, step_fn, residuals)


@dataclass
class _LeaveOneOut:
    loo_x: np.ndarray
    loo_e: np.ndarray
    stud: np.ndarray
    loo_rms: float
    outliers: tuple[int, ...]


def _leave_one_out(u: np.ndarray, rw: np.ndarray, w: np.ndarray, used: np.ndarray, m: int,
                   sum_sq: float, outlier_alpha: float, warnings: list[str]) -> _LeaveOneOut:
    """Leave-one-out and studentized residuals from the 2×2 hat-matrix blocks per star.

    ``u``: an orthonormal basis of the weighted design's columns (hat matrix ``u uᵀ``).
    """
    idx_used = np.flatnonzero(used)
    n = idx_used.size
    hh = np.einsum("ij,ij->i", u, u)  # the hat matrix's diagonal: h11 then h22
    h11, h22 = hh[:n], hh[n:]
    h12 = np.einsum("ij,ij->i", u[:n], u[n:])
    a11, a22 = 1.0 - h11, 1.0 - h22  # I − Hᵢᵢ, off-diagonal −h12
    det = a11 * a22 - h12 * h12
    rx, re = rw[:n], rw[n:]
    dof = 2 * n - m
    stud = np.full(n, np.nan)
    p_values = stud
    with np.errstate(divide="ignore", invalid="ignore"):
        lx = (a22 * rx + h12 * re) / det
        le = (a11 * re + h12 * rx) / det
        if dof > 2:
            q = rx * lx + re * le  # rᵢᵀ(I − Hᵢᵢ)⁻¹rᵢ
            stat = q / ((sum_sq - q) / (dof - 2))
            stud = np.sqrt(np.maximum(stat, 0.0))
            p_values = scipy.special.fdtrc(2, dof - 2, stat / 2.0)  # F(2, dof − 2) survival
        wi = np.sqrt(w) * ARCSEC
        lx /= wi
        le /= wi
        bad_leverage = ~np.isfinite(det) | (det <= 1e-12)
        if np.any(bad_leverage):
            nums = ", ".join(str(i + 1) for i in idx_used[bad_leverage])
            warnings.append(f"observations {nums} alone determine a term: their leave-one-out "
                            "residual is undefined")
            lx[bad_leverage] = np.nan
            le[bad_leverage] = np.nan
        sum_loo = float(lx @ lx + le @ le)
        if math.isfinite(sum_loo):
            loo_rms = math.sqrt(sum_loo / n)
        else:
            good = np.isfinite(lx)
            loo_rms = (math.sqrt(float(np.mean(lx[good] ** 2 + le[good] ** 2)))
                       if np.any(good) else math.nan)
        outliers = tuple((idx_used[p_values < outlier_alpha / n] + 1).tolist())
    if n == used.size:
        return _LeaveOneOut(lx, le, stud, loo_rms, outliers)
    loo_x, loo_e, stud_all = (np.full(used.size, np.nan) for _ in range(3))
    loo_x[idx_used], loo_e[idx_used], stud_all[idx_used] = lx, le, stud
    return _LeaveOneOut(loo_x, loo_e, stud_all, loo_rms, outliers)


def _diagnostics(free: Sequence[Term], corr: np.ndarray, cond: float) -> list[str]:
    """Warnings about correlated terms and a weakly determined model."""
    warnings = []
    for i, j in zip(*np.nonzero(np.abs(corr) >= CORRELATION_WARNING), strict=True):
        if j > i:
            warnings.append(f"terms {free[i].name} and {free[j].name} are correlated "
                            f"({corr[i, j]:+.3f}): the coverage barely separates them")
    if cond > 1e4:
        warnings.append(f"design matrix condition number {cond:.3g}: weakly determined model")
    return warnings


def _weights(sub: Observations, weighted: bool, n: int) -> np.ndarray:
    if weighted and sub.sigma_arcsec is not None:
        w = 1.0 / sub.sigma_arcsec ** 2
        return w / w.mean()
    return np.ones(n)


def fit(
    observations: Observations,
    terms: str | Sequence[str] = DEFAULT_TERMS,
    *,
    fix: Mapping[str, float] | None = None,
    mask: Iterable[int] | None = None,
    weighted: bool = True,
    start: Mapping[str, float] | None = None,
    max_iterations: int = 50,
    outlier_alpha: float = 0.05,
    info: Mapping[str, Any] | None = None,
    exact_jacobian: bool = True,
) -> FitResult:
    """Fit a pointing model to a run by least squares in sky units.

    Parameters
    ----------
    observations : Observations
        True and raw positions (radians).
    terms : str or sequence of str
        Term names (TPOINT); a comma-separated string works.  Additive terms
        are applied in this order.
    fix : mapping of str to float, optional
        Terms held fixed at these values (arcsec); a name not in ``terms`` is
        added to the model as a fixed term.
    mask : iterable of int, optional
        1-based observation numbers (file order) to leave out of the fit.
    weighted : bool
        Weight by ``observations.sigma_arcsec`` when it is present.
    start : mapping of str to float, optional
        Starting values (arcsec); zero by default (the fit converges from
        zero even for azimuth offsets of many degrees).
    max_iterations : int
        Gauss–Newton iterations at most.
    outlier_alpha : float
        Family-wise significance for outlier candidates.
    info : mapping, optional
        Extra metadata stored in the model (site, provenance, ...).
    exact_jacobian : bool
        True (default): Gauss–Newton with the exact Jacobian of the sequential
        model, so the solution is the exact least-squares minimum.  False: the
        first-order Jacobian at the model's positions (the automatic model's
        screening; coefficients move by up to a few hundredths of a sigma, and
        since the exact Jacobian is compiled it is no longer the faster one).

    Returns
    -------
    FitResult

    Raises
    ------
    FitError
        Too few usable observations for the terms, or sky coverage that cannot
        separate them; the message names the terms involved.
    """
    # Over 80 lines with its docstring: the body (~75 lines) only assembles the steps
    # above (prepare, coverage, solve, leave-one-out, diagnostics) into the result.
    geo = Geometry.of(observations)
    if observations.is_equatorial and terms is DEFAULT_TERMS:
        terms = equatorial.DEFAULT_TERMS
    term_list, fix = _prepare_terms(terms, fix, geo.family)
    if geo.family == "equatorial":  # ID@FAR on a fork: the mount, not the data, is wrong
        try:
            equatorial.check_mount_terms(term_list, geo.mount)
        except TermError as exc:
            raise FitError(str(exc)) from None
    free = [t for t in term_list if t.name not in fix]
    free_idx = [i for i, t in enumerate(term_list) if t.name not in fix]
    obs = observations
    n_obs = len(obs)
    finite = (np.isfinite(obs.az_true) & np.isfinite(obs.el_true)
              & np.isfinite(obs.az_raw) & np.isfinite(obs.el_raw))
    used = obs.used & _parse_mask(mask, n_obs) & finite
    n = int(used.sum())
    m = len(free)
    if m == 0:
        raise FitError("no term is free to fit: every term is held fixed")
    if n < m or 2 * n <= m:
        raise FitError(
            f"{n} usable observations cannot determine {m} terms "
            f"({', '.join(t.name for t in free)}): need at least {max(m, m // 2 + 1)}",
            tuple(t.name for t in free))
    sub = obs if n == n_obs else obs.select(used)
    w = _weights(sub, weighted, n)
    sw = np.sqrt(np.concatenate([w, w]))
    values = np.array([fix.get(t.name, (start or {}).get(t.name, 0.0)) for t in term_list],
                      dtype=float)
    coverage = _check_coverage(free, sub, obs, used, geo)
    sol = _solve(term_list, values, free_idx, sub, sw, max_iterations, exact_jacobian, geo,
                 coverage)
    warnings = sol.warnings
    # The last Jacobian's factorisation gives the statistics; the residuals are the
    # rigorous ones at the solution, those of stars not used (masked, rejected) too.
    dx, de = sol.residuals
    all_dx, all_de = np.full(n_obs, np.nan), np.full(n_obs, np.nan)
    all_dx[used], all_de[used] = dx, de
    if n < n_obs:
        rest = obs.select(~used)
        all_dx[~used], all_de[~used] = _residuals(geo.model(term_list, values), rest)
    fac = sol.factors
    cond = fac.condition()

    r = np.concatenate([dx, de])  # radians, unweighted
    rw = r * sw
    sum_sq = float(rw @ rw)
    sky_rms = math.sqrt(float(r @ r) / n) / ARCSEC
    rms_w = math.sqrt(sum_sq / n) / ARCSEC
    psd = math.sqrt(float(r @ r) / (n - m / 2.0)) / ARCSEC
    # covariance C = (JᵀWJ)⁻¹ in (coefficient radians)² per (residual radian)²
    cov = (fac.rinv @ fac.rinv.T) / np.outer(fac.scale, fac.scale)
    sig_free = np.sqrt(np.diag(cov)) * rms_w  # arcsec: C is per rad², residual RMS in arcsec
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    loo = _leave_one_out(fac.q, rw, w, used, m, sum_sq, outlier_alpha, warnings)
    warnings += _diagnostics(free, corr, cond)

    sigmas: list[float | None] = [None] * len(term_list)
    for k, i in enumerate(free_idx):
        sigmas[i] = float(sig_free[k])
    full_cov = cov * rms_w**2  # arcsec², TPOINT scaling
    if m < len(term_list):
        full_cov = np.zeros((len(term_list), len(term_list)))
        full_cov[np.ix_(free_idx, free_idx)] = cov * rms_w**2
    stats = {
        "n_obs": n_obs,
        "n_used": n,
        "sky_rms_arcsec": sky_rms,
        "psd_arcsec": psd,
        "loo_rms_arcsec": loo.loo_rms,
        "condition_number": cond,
        "weighted": bool(weighted and sub.sigma_arcsec is not None),
    }
    model_info = dict(info or {})
    model_info.setdefault("caption", obs.caption)
    model_info["fit"] = stats
    if "site" not in model_info and obs.site:
        model_info["site"] = dict(obs.site)
    model_info.setdefault("provenance", {"source": obs.source} if obs.source else {})
    final = geo.model(term_list, sol.values, sigmas=sigmas,
                      fixed=[t.name in fix for t in term_list],
                      covariance=full_cov, info=model_info)
    return FitResult(
        model=final, observations=obs, used=used,
        dx=all_dx / ARCSEC, de=all_de / ARCSEC,
        loo_dx=loo.loo_x, loo_de=loo.loo_e, studentized=loo.stud,
        sky_rms=sky_rms, psd=psd, loo_rms=loo.loo_rms, condition_number=cond,
        correlation=corr, fitted_terms=tuple(t.name for t in free),
        outlier_candidates=loo.outliers, warnings=tuple(warnings),
        iterations=sol.iterations,
    )
