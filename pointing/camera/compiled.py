"""Compiled (numba) kernels of the star measurement: the tracking loop's fast path.

:func:`lm_fit` is the cut-out's Levenberg–Marquardt fit
(:func:`pointing.camera.starfit.lm_fit`) as one compiled call: the same
estimator (pixel-integrated Gaussian of :mod:`pointing.camera.psf`, the
analytic Jacobian, weights ``var_b + shot·star``), the same damping, bounds
and convergence test, so the figures of precision and bias do not move; the
sums run in another order than numpy's, so results agree to rounding.  A
fast measurement otherwise spends most of its fit in the overhead of some
hundred small numpy calls.  The other kernels (detection, cut-out
preparation, aperture figures, bounds) follow the numpy functions they stand
in for in the same way, each named in its docstring.

numba is imported lazily (its import costs ~0.3 s; ``import pointing`` must
stay numpy-only) and is optional: :func:`available` says whether it is
installed; without it, or with :data:`USE_COMPILED` False, the numpy path runs.
"""

from __future__ import annotations

from typing import Any

from pointing.jit import lazy_module

__all__ = ["USE_COMPILED", "available", "kernels"]

#: set to False to run the numpy path even where numba is installed (tests, debugging)
USE_COMPILED = True

#: lazy: numba's import cost is paid by the first measurement only
_load = lazy_module("pointing.camera.numba_kernels")


def kernels() -> Any:
    """The compiled kernels module, or None (numba missing or :data:`USE_COMPILED` off)."""
    return _load() if USE_COMPILED else None


def available() -> bool:
    """Whether the compiled kernels are used (numba importable and not switched off)."""
    return kernels() is not None
