"""Shared tools of the selection stages: the screening refit, projected gains, BIC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pointing.model.auto.pool import EQUATORIAL_BASE, EQUATORIAL_GEOMETRIC
from pointing.model.fit import FitResult, Geometry
from pointing.model.fit import fit as exact_fit
from pointing.model.run import Observations
from pointing.model.terms import Term, parse_term


def screening_fit(observations: Observations, terms: Sequence[str], **kwargs: Any) -> FitResult:
    """The screening refit: rigorous residuals, first-order Jacobian (see ``exact_jacobian``)."""
    return exact_fit(observations, terms, exact_jacobian=False, **kwargs)


#: the order equatorial physical terms are listed, and so applied, in (TPOINT's customary one)
EQUATORIAL_ORDER = EQUATORIAL_BASE + EQUATORIAL_GEOMETRIC


def with_term(obs: Observations, chosen: Sequence[str], *names: str) -> list[str]:
    """``chosen`` with ``names`` added: appended, or on an equatorial run, physical terms
    in their customary place (terms are applied in the listed order, and an equatorial
    mount set up by eye has index and polar-axis errors of degrees, where it matters)."""
    out = [*chosen, *names]
    if not obs.is_equatorial:
        return out
    rank = {n: i for i, n in enumerate(EQUATORIAL_ORDER)}
    return sorted(out, key=lambda n: rank.get(n, len(rank)))  # stable: harmonics keep order


def terms_of(obs: Observations, names: Sequence[str | Term]) -> list[Term]:
    """Parsed terms of the run's mount family (alt-az or equatorial)."""
    return [t if isinstance(t, Term) else parse_term(t, obs.mount) for t in names]


def design(obs: Observations, terms: Sequence[str | Term], a: np.ndarray, e: np.ndarray
           ) -> np.ndarray:
    """2N×M first-order design of ``terms`` at positions ``a``, ``e`` of the run's mount.

    Alt-az: azimuth, elevation; equatorial: hour angle, declination (as the
    run's ``az_*``/``el_*`` columns hold them).
    """
    return Geometry.of(obs).design(terms_of(obs, terms), a, e)


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
