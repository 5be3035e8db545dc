"""Cross-validated figures of fixed term lists (k-fold, rigorous refits)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from pointing.errors import FitError
from pointing.model.fit import fit as exact_fit
from pointing.model.run import Observations


def kfold_rms(obs: Observations, terms: Sequence[str], *, k: int = 5, seed: int = 0,
              fix: Mapping[str, float] | None = None) -> float:
    """k-fold cross-validated sky RMS (arcsec) of a term list, rigorous refits."""
    sq = []
    for fold in folds(obs, k, seed):
        mask = [int(i) + 1 for i in fold]
        try:
            res = exact_fit(obs, list(terms), fix=fix, mask=mask)
        except FitError:
            return math.inf
        sq.extend((res.dx[fold] ** 2 + res.de[fold] ** 2).tolist())
    return math.sqrt(float(np.mean(sq)))


def folds(obs: Observations, k: int, seed: int) -> list[np.ndarray]:
    """The k folds (0-based indices of used observations) both CV figures share."""
    idx = np.nonzero(obs.used)[0]
    if idx.size < 2 * k:
        k = max(2, idx.size // 2)
    rng = np.random.default_rng(seed)
    return np.array_split(rng.permutation(idx), k)

