"""Outliers: set aside with their reasons (robust start, studentized rejection)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.optimize

from pointing.model.auto.screening import design, terms_of
from pointing.model.fit import FitResult, Geometry, sky_residuals
from pointing.model.run import Observations
from pointing.units import ARCSEC

#: the basic geometric model of the robust start
ROBUST_START = ("IA", "IE", "CA", "NPAE", "AN", "AW", "TF")
#: the same for equatorial runs
EQUATORIAL_ROBUST_START = ("IH", "ID", "CH", "NP", "MA", "ME")
#: a German equatorial observed on both sides: the far side's zero points too, or a
#: far-side index error makes every far-side star look like an outlier
GEM_ROBUST_START = (*EQUATORIAL_ROBUST_START, "IH@FAR", "ID@FAR")


def robust_outliers(obs: Observations, terms: Sequence[str], reject_sigma: float,
                     max_reject: int) -> list[dict[str, Any]]:
    """Observations a soft-L1 fit of the basic model puts beyond ``reject_sigma``."""
    used = np.nonzero(obs.used)[0]
    sub = obs.select(obs.used)
    term_list = terms_of(obs, terms)
    geometry = Geometry.of(obs)
    values = np.zeros(len(term_list))

    def resid(c: np.ndarray) -> np.ndarray:
        a, e = geometry.model(term_list, c).true_from_raw(sub.az_raw, sub.el_raw)
        return np.concatenate(sky_residuals(sub, a, e)) / ARCSEC

    def jac(c: np.ndarray) -> np.ndarray:
        # first order at the model's positions: a screening fit needs no more
        a, e = geometry.model(term_list, c).true_from_raw(sub.az_raw, sub.el_raw)
        return -geometry.design(term_list, a, e)

    r0 = resid(values)
    scale0 = 1.4826 * np.median(np.abs(r0 - np.median(r0))) + 1e-3
    sol = scipy.optimize.least_squares(resid, values, jac=jac, loss="soft_l1",
                                       f_scale=max(scale0, 0.1), x_scale="jac")
    r = sol.fun
    n = sub.az_true.size
    radial = np.hypot(r[:n], r[n:])
    # robust per-axis sigma from the median absolute residual
    sigma = 1.4826 * np.median(np.abs(np.concatenate([r[:n], r[n:]])))
    if sigma <= 0:
        return []
    out = []
    order = np.argsort(-radial)
    for j in order[:max_reject]:
        ratio = radial[j] / sigma
        if ratio < reject_sigma:
            break
        out.append({"index": int(used[j] + 1), "stage": "robust start",
                    "reason": f"residual {radial[j]:.1f}″ is {ratio:.1f} robust sigma "
                              f"(σ={sigma:.2f}″ per axis) from a soft-L1 fit of "
                              f"{' '.join(terms)}"})
    return out



def worst_studentized(res: FitResult, alpha: float = 0.05) -> dict[str, Any] | None:
    if not res.outlier_candidates:
        return None
    stud = np.where(np.isfinite(res.studentized), res.studentized, -np.inf)
    j = int(np.argmax(stud))
    return {"index": j + 1, "stage": "studentized",
            "reason": f"externally studentized residual {stud[j]:.2f} fails the "
                      f"Bonferroni test at {alpha:g}/{res.n_used} "
                      f"(residual {math.hypot(res.dx[j], res.de[j]):.1f}″)"}




def harms_others(obs: Observations, res: FitResult, index: int, *, k: int = 5,
                 repeats: int = 2, seed: int = 0, se_factor: float = 1.0
                 ) -> tuple[bool, float]:
    """Does observation ``index`` (1-based) make the model predict the other stars worse?

    Linear view around ``res`` (its terms, its residuals): the other stars
    are cross-validated (``k`` folds, ``repeats`` shuffles) with the star in
    every training set and without it.  Harmful when the others' squared
    prediction errors are larger with the star in, by more than ``se_factor``
    standard errors of the per-star differences.  Returns ``(harmful,
    change)``, ``change`` the relative change of their mean squared error.
    A star the studentized test flags but that does not clearly harm the
    others (it may alone sample a corner of the sky) is kept.
    """
    used = np.nonzero(res.used)[0]
    sub = obs.select(res.used)
    x = design(obs, list(res.model.names), sub.az_true, sub.el_true)
    r = np.concatenate([res.dx[res.used], res.de[res.used]]) * ARCSEC
    n = used.size
    j = int(np.nonzero(used == index - 1)[0][0])
    others = np.delete(np.arange(n), j)
    rng = np.random.default_rng(seed)
    err = np.zeros((2, n))  # per star: squared error with the star in, without it
    for _ in range(repeats):
        for test in np.array_split(rng.permutation(others), min(k, others.size)):
            train = np.setdiff1d(others, test)
            te = np.concatenate([test, test + n])
            for row, t in enumerate((np.append(train, j), train)):
                rows = np.concatenate([t, t + n])
                coef = np.linalg.lstsq(x[rows], r[rows], rcond=None)[0]
                e = r[te] - x[te] @ coef
                err[row, test] += e[:test.size] ** 2 + e[test.size:] ** 2
    d = (err[0] - err[1])[others]
    se = float(d.std(ddof=1)) / math.sqrt(d.size) if d.size > 1 else 0.0
    base = float(err[1, others].mean())
    change = float(d.mean()) / base if base > 0 else 0.0
    return bool(d.mean() > se_factor * se), change
