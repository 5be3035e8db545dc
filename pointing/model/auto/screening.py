"""Shared tools of the selection stages: the screening refit, projected gains, BIC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pointing.errors import FitError
from pointing.model.auto.pool import EQUATORIAL_BASE, EQUATORIAL_GEOMETRIC
from pointing.model.fit import FitResult, Geometry
from pointing.model.fit import fit as exact_fit
from pointing.model.run import Observations
from pointing.model.terms import Term, parse_term


def screening_fit(observations: Observations, terms: Sequence[str], **kwargs: Any) -> FitResult:
    """The screening refit: rigorous residuals, first-order Jacobian (see ``exact_jacobian``)."""
    return exact_fit(observations, terms, exact_jacobian=False, **kwargs)


def try_add(obs: Observations, chosen: list[str], names: Sequence[str],
            steps: list[dict[str, Any]], refused: dict[str, str], **step: Any
            ) -> FitResult | None:
    """Refit with ``names`` appended to ``chosen``: the new fit, ``chosen`` and
    ``steps`` updated (one "add" step per name, with ``step``'s fields), or
    ``None`` with the reason in ``refused`` (under the names joined by "+")."""
    try:
        current = screening_fit(obs, [*chosen, *names])
    except FitError as exc:
        refused["+".join(names)] = str(exc)
        return None
    chosen.extend(names)
    for name in names:
        steps.append({"action": "add", "term": name, **step, "sky_rms_arcsec": current.sky_rms,
                      "loo_rms_arcsec": current.loo_rms})
    return current


#: the order physical terms are listed, and so applied, in (TPOINT's customary one)
EQUATORIAL_ORDER = EQUATORIAL_BASE + EQUATORIAL_GEOMETRIC
ALTAZ_ORDER = ("IA", "IE", "NPAE", "CA", "AN", "AW", "TF", "TX", "ECES", "NRX", "NRY")


def customary(obs: Observations, names: Sequence[str]) -> list[str]:
    """``names`` with the physical terms first, in TPOINT's customary order for the
    run's mount; harmonics after them, in their own order.

    Terms are applied in the listed order: a mount set up by eye (index errors
    or polar-axis errors of degrees) points measurably differently otherwise.
    """
    order = EQUATORIAL_ORDER if obs.is_equatorial else ALTAZ_ORDER
    rank = {n: i for i, n in enumerate(order)}
    return sorted(names, key=lambda n: rank.get(n, len(rank)))  # stable


def with_term(obs: Observations, chosen: Sequence[str], *names: str) -> list[str]:
    """``chosen`` with ``names`` added: appended on an alt-az run, in the customary
    order (:func:`customary`) on an equatorial one."""
    out = [*chosen, *names]
    return customary(obs, out) if obs.is_equatorial else out


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
