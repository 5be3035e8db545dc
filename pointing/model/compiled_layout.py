"""Layout shared by :mod:`pointing.model.compiled` and its numba kernels (numpy-free,
numba-free, so both can import it without importing each other)."""

from __future__ import annotations

#: columns of the compiled model's table (see :func:`pointing.model.compiled.encode`)
KIND, COEF, FCODE, NFAC, FAC, PAR, WIDE = 0, 1, 2, 3, 4, 13, 22
#: TPOINT's parallel (``&``) terms: EVAL holds the index of the operation before which
#: this one's evaluation point is reached (its head's input; −1: evaluated where it
#: acts, :attr:`pointing.model.kernels.Plan.par`), HEAD is 1 on the operations whose
#: input a later one is evaluated at
EVAL, HEAD = 23, 24
COLS = 25
#: status the compiled inverse writes where the caller must solve on the checked path
CHECK = 9
#: largest angle (radians) the kernels' short series take: sin/cos to the 9th and 8th
#: power (first term left out < 2e-22 at 0.03), atan to the 9th (< 2e-18)
SERIES_MAX = 0.03
