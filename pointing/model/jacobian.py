"""The fit's exact Jacobian: compiled forward-mode derivatives of the rigorous alt-az model.

:func:`forward_and_jacobian` has the signature and the meaning of
:func:`pointing.model.model.forward_and_jacobian` (true positions at raw ones
and ``d(A·cos E, E)/dc`` of the sequential model), computed in one compiled
pass per observation (:mod:`pointing.model.numba_jacobian`) where numba is
installed, the model is alt-az (TPOINT's parallel ``&`` terms included) and the
compiled kernels are enabled (``pointing.model.model.USE_COMPILED``); elsewhere
it is that function (central differences on the numpy kernels).  Both agree to
~1e-9 relative.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from pointing.jit import lazy_module
from pointing.model import compiled, kernels
from pointing.model import model as model_module
from pointing.model.terms import Term
from pointing.units import ARCSEC

__all__ = ["available", "forward", "forward_and_jacobian"]

_TILT_STEP = 1e-5  # radians: central differences of the tilt matrix (error ~1e-11)
_LAST_KIND = 9  # operation kinds 0..9 of compiled.encode are differentiated
#: lazy: numba's import is paid by the first exact fit only
_kernels = lazy_module("pointing.model.numba_jacobian")


def available() -> bool:
    """Whether the compiled Jacobian is used (numba present, compiled kernels enabled)."""
    return model_module.USE_COMPILED and compiled.available()


def _compiled() -> Any:
    return _kernels().forward_jacobian_many


@functools.lru_cache(maxsize=512)
def _layout(terms: tuple[Term, ...], free: tuple[int, ...]
            ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Per operation of the full plan: the Jacobian column (−1: a fixed term) its
    coefficient is, and the sign.

    Found by compiling the plan with unit-vector coefficients: an operation's
    coefficient is ``sign · e_k`` for term ``k``; a tilt carries two (AN, AW).
    """
    eye = np.eye(len(terms))
    ops = kernels.compile_plan(terms, tuple(eye[k] for k in range(len(terms)))).ops
    col = np.full((len(ops), 2), -1, np.int64)
    sgn = np.ones(len(ops))
    for i, op in enumerate(ops):
        slots = (1, 2) if op[0] == "tilt" else (1,)
        for t, s in enumerate(slots):
            x = op[s]
            if isinstance(x, np.ndarray):
                k = int(np.argmax(np.abs(x)))
                col[i, t] = k
                if op[0] != "tilt":
                    sgn[i] = float(x[k])
    tilts = tuple(i for i, op in enumerate(ops) if op[0] == "tilt")
    where = np.full(len(terms) + 1, -1, np.int64)  # term index → free column (−1: fixed)
    where[np.asarray(free, dtype=np.int64)] = np.arange(len(free))
    return where[col], sgn, tilts  # col −1 reads where[−1] = −1


def _tilt_derivatives(ops: tuple[tuple[Any, ...], ...], tilts: tuple[int, ...]) -> np.ndarray:
    """d(tilt matrix)/d(AN) and /d(AW) for each tilt operation (central differences)."""
    dtilt = np.zeros((len(ops), 2, 9))
    h = _TILT_STEP
    for i in tilts:
        an, aw = float(ops[i][1]), float(ops[i][2])
        dtilt[i, 0] = np.subtract(kernels.tilt_matrix(an + h, aw),
                                  kernels.tilt_matrix(an - h, aw)) / (2 * h)
        dtilt[i, 1] = np.subtract(kernels.tilt_matrix(an, aw + h),
                                  kernels.tilt_matrix(an, aw - h)) / (2 * h)
    return dtilt


def forward_and_jacobian(terms: Sequence[Term], values_arcsec: np.ndarray,
                         free: Sequence[int], az: np.ndarray, el: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positions at raw ``az``, ``el`` (radians, 1-D) and the 2N×len(free) Jacobian.

    Rows ``0..N−1``: d(A)·cos E per radian of each free coefficient, rows
    ``N..2N−1``: dE; alt-az models (see the module docstring for the fallback).
    """
    terms = tuple(terms)
    # the compiled kernels do not know equatorial terms
    if not available() or any(t.mount != "altaz" for t in terms):
        return model_module.forward_and_jacobian(terms, values_arcsec, free, az, el)
    col, sgn, tilts = _layout(terms, tuple(free))
    # 0-d arrays, not floats: the plan keeps the terms whose value is zero
    coefs = tuple(np.asarray(v * ARCSEC) for v in np.asarray(values_arcsec, dtype=float))
    plan = kernels.compile_plan(terms, coefs)
    ops = plan.ops
    arrays = compiled.encode_arrays(ops)
    ev = np.asarray(plan.par or (-1,) * len(ops), dtype=np.int64)
    hd = np.zeros(len(ops), np.int64)
    hd[ev[ev >= 0]] = 1
    # an encoding this kernel was not written for (more or fewer rows, a new kind of
    # operation): the central differences stay right
    if (arrays[0].size != len(ops) or len(ops) != col.shape[0]
            or (arrays[0].size and int(arrays[0].max()) > _LAST_KIND)):  # pragma: no cover
        return model_module.forward_and_jacobian(terms, values_arcsec, free, az, el)
    a = np.ascontiguousarray(az, dtype=float)
    e = np.ascontiguousarray(el, dtype=float)
    out_a, out_e = np.empty_like(a), np.empty_like(e)
    jac = np.empty((2 * a.size, len(free)))
    _compiled()(*arrays, col, sgn, _tilt_derivatives(ops, tilts), ev, hd, a, e, out_a, out_e,
                jac)
    return out_a, out_e, jac


def forward(terms: Sequence[Term], values_arcsec: np.ndarray, az: np.ndarray, el: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """True positions of an alt-az model at raw ones (what ``PointingModel.true_from_raw``
    gives for finite in-range input, on the same kernels), without building the model."""
    plan = kernels.compile_plan(tuple(terms),
                                tuple(float(v) * ARCSEC for v in values_arcsec))
    if available():
        return compiled.forward(compiled.encode(plan.ops, plan.par),
                                np.ascontiguousarray(az, float), np.ascontiguousarray(el, float))
    return kernels.forward(plan, az, el, np)
