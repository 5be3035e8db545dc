"""Compiled (numba) kernels of the sequential model: the daemon's fast path.

The same convention as :mod:`pointing.model.kernels`, written per position on
the sines and cosines of its azimuth and elevation: every term moves them by
angle addition (exact rotations: the sideways and non-perpendicularity maps
written without cancellation near the zenith, the tilt through the unit
vector), so no trigonometric call is needed between terms; harmonics use the
multiple-angle recurrence, small angles a short series exact to machine
precision.  The outputs are taken as small angles from the input (a series
again), so a call costs four sines/cosines in all.

The inverse undoes the terms in reverse order in closed form (rotations, the
sideways and non-perpendicularity maps solved algebraically), with a
fixed point for terms evaluated at the position they move (a few passes:
their contraction is ~1e-4 per pass).  Positions where this is not safe — a
state within 1° of the zenith, a fixed point that does not settle, the
zenith hole, a demand outside the range — are flagged, and the caller
solves them on the checked (numpy) path.

numba is imported lazily (its import costs ~0.3 s; ``import pointing`` must
stay numpy-only) and is optional: :func:`available` says whether it is
installed; without it the numpy kernels are used.  Positions beyond the
zenith keep the side they were given through the whole chain (the numpy path
may switch side where a term itself moves a position across the zenith, a
band as wide as that term's correction: there the two differ in how the
later terms see the azimuth; the checked path is the reference).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["available", "encode", "forward", "inverse"]

_KIND = {"az": 0, "el": 1, "ca": 2, "npae": 3, "tilt": 4, "nrx": 5, "nry": 6}
_FCODE = {"TF": 1, "TX": 2, "ECES": 3, "ECEC": 4}

_jit: Any = None
_tried = False


def available() -> bool:
    """Whether the compiled kernels can be used (numba importable)."""
    return _kernels() is not None


def _kernels() -> Any:
    global _jit, _tried
    if not _tried:
        _tried = True
        try:  # lazy: numba's import cost is paid by the first model application only
            from pointing.model import numba_kernels
        except ImportError:  # pragma: no cover - numba is a declared dependency
            _jit = None
        else:
            _jit = numba_kernels
    return _jit


def encode(ops: tuple[tuple[Any, ...], ...]) -> tuple[np.ndarray, ...]:
    """Flatten a plan's operations into arrays for the compiled kernels.

    ``ops`` are :class:`pointing.model.kernels.Plan` operations with float
    coefficients (radians).
    """
    n = len(ops)
    kind = np.zeros(n, np.int64)
    coef = np.zeros(n, np.float64)
    fcode = np.zeros(n, np.int64)
    nfac = np.zeros(n, np.int64)
    fac = np.zeros((n, 3, 3), np.int64)
    par = np.zeros((n, 9), np.float64)
    off = np.zeros(1, np.float64)  # the constant azimuth shift (−ΣIA): the wrap reference
    for i, op in enumerate(ops):
        k = op[0]
        if k in ("az", "el") and op[2] is None:
            kind[i] = _KIND[k]
            if k == "az":
                off[0] -= op[1]
            coef[i] = op[1]
            par[i, 0], par[i, 1] = math.cos(op[1]), math.sin(op[1])
        elif k in ("az", "el", "sky"):
            kind[i] = {"el": 7, "az": 8, "sky": 9}[k]
            coef[i] = op[1]
            if isinstance(op[2], str):
                fcode[i] = _FCODE[op[2]]
            else:
                nfac[i] = len(op[2])
                for j, (func, coord, mult) in enumerate(op[2]):
                    fac[i, j] = (0 if func == "S" else 1, "AEZ".index(coord), mult)
        elif k == "tilt":
            from pointing.model.kernels import tilt_matrix

            kind[i] = 4
            par[i] = tilt_matrix(float(op[1]), float(op[2]))
        else:
            kind[i] = _KIND[k]
            coef[i] = op[1]
            par[i, 0], par[i, 1] = math.cos(op[1]), math.sin(op[1])
    return kind, coef, fcode, nfac, fac, par, off


def forward(arrays: tuple[np.ndarray, ...], a: np.ndarray, e: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    k = _kernels()
    out_a, out_e = np.empty_like(a), np.empty_like(e)
    k.forward_many(*arrays, a, e, out_a, out_e)
    return out_a, out_e


def inverse(arrays: tuple[np.ndarray, ...], a: np.ndarray, e: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chain inverse; the third array flags positions the caller must check."""
    k = _kernels()
    out_a, out_e = np.empty_like(a), np.empty_like(e)
    flag = np.zeros(a.shape, np.bool_)
    k.inverse_many(*arrays, a, e, out_a, out_e, flag)
    return out_a, out_e, flag


def forward_scalar(arrays: tuple[np.ndarray, ...], a: float, e: float) -> tuple[float, float]:
    return _kernels().fwd(*arrays, a, e)


def inverse_scalar(arrays: tuple[np.ndarray, ...], a: float, e: float
                   ) -> tuple[float, float, bool]:
    return _kernels().inv(*arrays, a, e)
