"""Nested cross-validation: the honest predictive figure of the whole procedure."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pointing.model.auto.driver import auto_fit
from pointing.model.auto.validation import folds
from pointing.model.fit import sky_residuals
from pointing.model.run import Observations
from pointing.units import ARCSEC


def nested_cv_rms(obs: Observations, *, k: int = 5, seed: int = 0,
                  **auto_kwargs: Any) -> dict[str, Any]:
    """Honest predictive RMS of the *procedure*: selection inside the cross-validation.

    For each of ``k`` folds the whole automatic model (outlier handling,
    selection, fit) is built on the other folds only and predicts the held-out
    stars; the RMS over every held-out star (arcsec) is what the model would
    do on stars it never saw, not flattered by the choice of terms.  The folds
    are those of :func:`kfold_rms` (same ``seed``), so a fixed term list's
    k-fold RMS is directly comparable.

    Returns ``{"rms_arcsec", "terms_per_fold", "n_terms_median"}``.
    """
    sq: list[float] = []
    chosen: list[list[str]] = []
    for fold in folds(obs, k, seed):
        keep = obs.used.copy()
        keep[fold] = False
        res = auto_fit(obs.with_used(keep), **auto_kwargs)
        test = obs.select(fold)
        dx, de = sky_residuals(test, *res.fit.model.true_from_raw(test.az_raw, test.el_raw))
        sq.extend(((dx ** 2 + de ** 2) / ARCSEC ** 2).tolist())
        chosen.append(list(res.selected_terms))
    return {"rms_arcsec": math.sqrt(float(np.mean(sq))), "terms_per_fold": chosen,
            "n_terms_median": float(np.median([len(c) for c in chosen]))}

