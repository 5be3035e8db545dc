"""Shared tools of the selection stages: the screening refit, projected gains, BIC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pointing.model.fit import FitResult
from pointing.model.fit import fit as exact_fit
from pointing.model.run import Observations


def screening_fit(observations: Observations, terms: Sequence[str], **kwargs: Any) -> FitResult:
    """The screening refit: rigorous residuals, first-order Jacobian (see ``exact_jacobian``)."""
    return exact_fit(observations, terms, exact_jacobian=False, **kwargs)


def screen(x_design: np.ndarray, candidates: np.ndarray, r: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """RSS reduction and independence of each candidate column given the design."""
    q, _ = np.linalg.qr(x_design)
    z_perp = candidates - q @ (q.T @ candidates)
    norm_perp = np.einsum("ij,ij->j", z_perp, z_perp)
    norm_full = np.einsum("ij,ij->j", candidates, candidates)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = (z_perp.T @ r) ** 2 / norm_perp
        indep = np.sqrt(norm_perp / norm_full)
    gain[~np.isfinite(gain)] = 0.0
    indep[~np.isfinite(indep)] = 0.0
    return gain, indep
