"""The linear (first-order) view of a pointing model: default terms, design matrix, conditioning.

Used by the fit (can the coverage separate the terms?), by the automatic
model's screening, and by star selection (``pointing.sky.select``), which
places stars to make this matrix well conditioned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pointing.model.terms import Term, parse_term

__all__ = ["DEFAULT_TERMS", "condition_number", "design_matrix", "term_design"]

#: the basic alt-az model of the domain brief
DEFAULT_TERMS = ("IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX")


def term_design(terms: Sequence[Term], az: np.ndarray, el: np.ndarray) -> np.ndarray:
    """2N×M first-order Jacobian of parsed terms (rows: ΔA·cosE for all stars, then ΔE).

    Per radian of coefficient, at positions ``az``, ``el`` (radians, 1-D).
    """
    n = az.size
    jac = np.zeros((2 * n, len(terms)))
    for k, term in enumerate(terms):
        bx, be = term.basis(az, el)
        jac[:n, k] = bx
        jac[n:, k] = be
    return jac


def design_matrix(az: Any, el: Any, terms: Sequence[str] = DEFAULT_TERMS) -> np.ndarray:
    """First-order design matrix of a pointing model at the given positions.

    Parameters
    ----------
    az, el : array_like
        Positions in radians (azimuth from north through east), ``n`` stars.
    terms : sequence of str
        TPOINT term names (see :mod:`pointing.model.terms`).

    Returns
    -------
    ndarray, shape (2n, len(terms))
        Rows ``0..n-1``: ΔA·cosE per radian of each coefficient; rows
        ``n..2n-1``: ΔE.
    """
    az = np.atleast_1d(np.asarray(az, dtype=float))
    el = np.atleast_1d(np.asarray(el, dtype=float))
    az, el = np.broadcast_arrays(az, el)
    return term_design([parse_term(t) for t in terms], az.ravel(), el.ravel())


def condition_number(az: Any, el: Any, terms: Sequence[str] = DEFAULT_TERMS) -> float:
    """Condition number of :func:`design_matrix` with columns scaled to unit norm.

    Infinite when the terms cannot be separated (fewer than ``len(terms)``
    independent rows).
    """
    a = design_matrix(az, el, terms)
    norms = np.linalg.norm(a, axis=0)
    if a.shape[0] < a.shape[1] or np.any(norms == 0):
        return math.inf
    s = np.linalg.svd(a / norms, compute_uv=False)
    return math.inf if s[-1] <= s[0] * 1e-14 else float(s[0] / s[-1])
