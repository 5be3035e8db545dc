"""Harmonics along a forward path whose length the inner cross-validation chooses.

Mode "cv" (``search="path"``).  Around the current rigorous fit (the
physical core), the model is linear in the harmonic coefficients: the
residual ``r`` is explained by columns of the candidates' design.  A
greedy forward path orders the candidates (orthogonal matching pursuit: at
each step the column that removes most of what is still unexplained,
provided the coverage separates it from those already in).  The number of
harmonics kept is the path length with the smallest inner K-fold error,
the path itself being rebuilt inside every inner fold, so neither the
order nor the length has seen the stars it is judged on; ``se_size``
standard errors of tolerance (the one-standard-error rule at 1) then
prefer a shorter path.

The pool comes in tiers: harmonics of one coordinate first (one factor:
``HESE5``, ``HASA2``), then products (``HSCA5CE8``), each tier a path of
its own after the one before: a product never stands in for a one-factor
harmonic that explains as much.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pointing.model.auto.screening import design, try_add
from pointing.model.fit import FitResult
from pointing.model.run import Observations
from pointing.model.terms import Term
from pointing.units import ARCSEC


def greedy_path(x: np.ndarray, z: np.ndarray, r: np.ndarray, length: int,
                min_independence: float) -> list[int]:
    """Columns of ``z`` in the order a forward path (least squares on ``x`` + path) takes them.

    Each step removes the most residual sum of squares; a column whose part
    outside the span of ``x`` and the path is below ``min_independence`` of
    its length is not eligible.  Stops early when nothing is left to explain.
    """
    q, _ = np.linalg.qr(x)
    zp = z - q @ (q.T @ z)
    rp = r - q @ (q.T @ r)
    norm_full = np.einsum("ij,ij->j", z, z)
    floor = (min_independence ** 2) * norm_full
    path: list[int] = []
    for _ in range(min(length, z.shape[1])):
        norm = np.einsum("ij,ij->j", zp, zp)
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = (zp.T @ rp) ** 2 / norm
        gain[~np.isfinite(gain) | (norm <= floor) | (norm_full <= 0)] = 0.0
        gain[path] = 0.0
        j = int(np.argmax(gain))
        if gain[j] <= 0.0:
            break
        path.append(j)
        u = zp[:, j] / math.sqrt(norm[j])
        zp -= np.outer(u, u @ zp)
        rp -= u * (u @ rp)
    return path


def prefix_errors(x: np.ndarray, z: np.ndarray, r: np.ndarray, train: np.ndarray,
                  test: np.ndarray, length: int, min_independence: float
                  ) -> tuple[np.ndarray, list[int]]:
    """Squared prediction errors of the test stars for path lengths 0..``length``.

    ``train``/``test`` are star indices; a star's ΔA·cosE row ``i`` and ΔE
    row ``i + N`` go together.  The path is built on the training stars
    only.  Returns a (length + 1, test.size) array (radians²; a path that
    stops early repeats its last row) and the path.
    """
    n = r.size // 2
    tr = np.concatenate([train, train + n])
    te = np.concatenate([test, test + n])
    path = greedy_path(x[tr], z[tr], r[tr], length, min_independence)
    out = np.empty((length + 1, test.size))
    m = test.size
    design = np.hstack([x, z[:, path]])
    # one QR of the whole path: the leading block of R is the QR of every prefix
    q, rr = np.linalg.qr(design[tr])
    qr_ = q.T @ r[tr]
    p = x.shape[1]
    for ell in range(length + 1):
        if ell > len(path):
            out[ell] = out[ell - 1]
            continue
        k = p + ell
        coef = np.linalg.lstsq(rr[:k, :k], qr_[:k], rcond=None)[0]
        e = r[te] - design[te, :k] @ coef
        out[ell] = e[:m] ** 2 + e[m:] ** 2
    return out, path


def path_length(x: np.ndarray, z: np.ndarray, r: np.ndarray, folds: list[np.ndarray],
                length: int, min_independence: float, se_size: float
                ) -> tuple[int, np.ndarray]:
    """The path length the inner CV chooses and the inner-CV RMS (arcsec) per length."""
    n = r.size // 2
    total = np.zeros((length + 1, n))
    counts = np.zeros(n)
    for test in folds:
        train = np.setdiff1d(np.arange(n), test)
        total[:, test] += prefix_errors(x, z, r, train, test, length, min_independence)[0]
        counts[test] += 1
    per_star = total / np.maximum(counts, 1)
    mean = per_star.mean(axis=1)
    best = int(np.argmin(mean))
    # the shortest path not worse than the best by se_size standard errors of the
    # per-star (paired) difference
    diff = per_star - per_star[best]
    se = diff.std(axis=1, ddof=1) / math.sqrt(n) if n > 1 else np.zeros(length + 1)
    chosen = int(np.nonzero(mean - mean[best] <= se_size * se)[0][0])
    return chosen, np.sqrt(mean) / ARCSEC


def grow_along_path(obs: Observations, current: FitResult, chosen: list[str],
                    harmonics: Sequence[Term], steps: list[dict[str, Any]],
                    refused: dict[str, str], folds: list[np.ndarray], *, max_terms: int,
                    min_independence: float, se_size: float) -> FitResult:
    """One-factor harmonics, then products, each tier along its CV-sized path (in place)."""
    sub = obs.select(current.used)
    az, el = sub.az_true, sub.el_true
    tiers = [[t for t in harmonics if len(t.factors) <= 1],
             [t for t in harmonics if len(t.factors) > 1]]
    for tier in tiers:
        room = max_terms - len(chosen)
        if room <= 0 or not tier:
            continue
        u = current.used
        r = np.concatenate([current.dx[u], current.de[u]]) * ARCSEC
        x = design(obs, chosen, az, el)
        z = design(obs, tier, az, el)
        ell, cv_rms = path_length(x, z, r, folds, room, min_independence, se_size)
        path = greedy_path(x, z, r, ell, min_independence)
        steps.append({"action": "path", "term": " ".join(tier[j].name for j in path),
                      "inner_cv_rms_by_length_arcsec": [round(float(v), 4) for v in cv_rms],
                      "length": ell})
        for j in path:
            current = try_add(obs, chosen, [tier[j].name], steps, refused) or current
    return current
