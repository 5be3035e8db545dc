"""Guarded forward selection (modes "parsimony" and "prediction").

At each step every candidate's gain is computed at once by projecting it on
the part of the sky coverage the model does not yet span.  A candidate must
pass every guard: it lowers BIC; its coefficient is significant
(``|t| ≥ min_t``); the coverage separates it from the terms already chosen
(its component outside their span is at least ``min_independence`` of its
length, i.e. correlation below ~0.998 with their combination); and the
leave-one-out RMS of the rigorous refit improves by at least ``min_gain``
(relative).  Among the candidates that predict about as well as the best one,
the simplest joins (geometric terms before harmonics, fewer and lower factors
first); geometric terms are always tried before harmonics, and the harmonics
are regrown once the geometry is complete, so an alias never stands in for a
physical term.  Terms that only help together (an elevation flexure curve)
may join as a pair under an F test.  A backward pass then drops a term whose
removal does not worsen the leave-one-out RMS by ``min_gain``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.stats

from pointing.errors import FitError
from pointing.model.auto.pool import complexity
from pointing.model.auto.screening import design, screen, with_term
from pointing.model.auto.screening import screening_fit as fit
from pointing.model.fit import FitResult
from pointing.model.run import Observations
from pointing.model.terms import Term, parse_term
from pointing.units import ARCSEC


def _bic(rss: float, n_res: int, k: int) -> float:
    return n_res * math.log(max(rss, 1e-300) / n_res) + k * math.log(n_res)


def _forward_step(obs: Observations, current: FitResult, chosen: list[str],
                  remaining: list[Term], steps: list[dict[str, Any]], refused: dict[str, str],
                  az: np.ndarray, el: np.ndarray, n_res: int, el_lo: float, el_hi: float, *,
                  min_t: float, min_gain: float, min_independence: float, shortlist: int,
                  bonferroni: bool, allow_pair: bool = True) -> FitResult | None:
    """One forward step from ``remaining`` into ``chosen`` (both updated in place).

    Returns the new fit, or None when no candidate (or pair) passes every guard.
    """
    if remaining:
        u = current.used
        r = np.concatenate([current.dx[u], current.de[u]]) * ARCSEC
        rss = float(r @ r)
        x_design = design(obs, chosen, az, el)
        cand = design(obs, remaining, az, el)
        gain, indep = screen(x_design, cand, r)
        k = len(chosen) + 1
        dof = n_res - k
        # significance corrected for trying every candidate (Bonferroni, two-sided 5 %)
        t_min = max(min_t, float(scipy.stats.norm.isf(0.025 / max(len(remaining), 1)))
                    if bonferroni else min_t)
        ok = []
        for j, term in enumerate(remaining):
            if indep[j] < min_independence:
                if term.name not in refused:
                    refused[term.name] = (
                        f"the coverage cannot separate it from {' '.join(chosen)} "
                        f"(independent part {indep[j]:.3f}; stars at elevations "
                        f"{el_lo:.1f}°–{el_hi:.1f}°)")
                continue
            new_rss = rss - gain[j]
            if dof <= 0 or new_rss <= 0:
                continue
            t2 = gain[j] / (new_rss / dof)
            if t2 < t_min**2 or _bic(new_rss, n_res, k) >= _bic(rss, n_res, k - 1):
                continue
            ok.append((gain[j], j))
        ok.sort(reverse=True)
        trials = []
        for _, j in ok[:shortlist]:
            try:
                trials.append((fit(obs, with_term(obs, chosen, remaining[j].name)), j))
            except FitError:
                continue
        best: tuple[float, tuple[int, ...], FitResult] | None = None
        if trials:
            # among candidates that predict about as well (within 2·min_gain), the
            # simplest; in prediction mode simply the best
            top = min(t.loo_rms for t, _ in trials)
            near = [(complexity(remaining[j]), t.loo_rms, j, t) for t, j in trials
                    if t.loo_rms <= top * (1.0 + (2 * min_gain if bonferroni else 0.0))]
            _, loo, j, t = min(near, key=lambda x: (x[0], x[1]))
            best = (loo, (j,), t)
        if (best is None or best[0] > current.loo_rms * (1.0 - min_gain)) and allow_pair:
            # No single term helps: terms that only work together (an elevation
            # flexure curve, say) get one chance as a pair, with the F test of
            # the pair corrected for the number of pairs tried.
            best = _best_pair(obs, chosen, remaining, gain, indep, cand, x_design, r, rss,
                              n_res, min_independence, current.loo_rms * (1 - 2 * min_gain),
                              shortlist, bonferroni)
        if best is None or best[0] > current.loo_rms * (1.0 - min_gain):
            return None
        for j in sorted(best[1], reverse=True):
            term = remaining.pop(j)
            chosen[:] = with_term(obs, chosen, term.name)
            steps.append({"action": "add", "term": term.name,
                          "loo_rms_arcsec": best[2].loo_rms,
                          "sky_rms_arcsec": best[2].sky_rms})
        return best[2]
    return None


def _grow(obs: Observations, current: FitResult, chosen: list[str],
          tiers: list[list[Term]], steps: list[dict[str, Any]], refused: dict[str, str],
          az: np.ndarray, el: np.ndarray, n_res: int, el_lo: float, el_hi: float,
          max_terms: int, opts: dict[str, Any]) -> FitResult:
    """Forward steps, the first tier always tried first, until nothing passes."""
    while len(chosen) < max_terms:
        for remaining in tiers:
            step = _forward_step(obs, current, chosen, remaining, steps, refused, az, el,
                                 n_res, el_lo, el_hi, allow_pair=len(chosen) + 2 <= max_terms,
                                 **opts)
            if step is not None:
                current = step
                break
        else:
            break
    return current


def select_guarded(obs: Observations, pool: Sequence[Term], base: Sequence[str], *,
            min_t: float, min_gain: float, min_independence: float, max_terms: int,
            shortlist: int, bonferroni: bool = True
            ) -> tuple[list[str], list[dict[str, Any]], dict[str, str]]:
    chosen = list(base)
    steps: list[dict[str, Any]] = []
    refused: dict[str, str] = {}
    current = fit(obs, chosen)
    steps.append({"action": "start", "term": " ".join(chosen),
                  "loo_rms_arcsec": current.loo_rms, "sky_rms_arcsec": current.sky_rms})
    sub = obs.select(current.used)
    az, el = sub.az_true, sub.el_true
    n_res = 2 * az.size
    el_lo, el_hi = np.degrees(el.min()), np.degrees(el.max())
    # Physical terms first; harmonics only for what geometry leaves unexplained,
    # so an alias (a harmonic that mimics collimation, say) never displaces them.
    geometric = [t for t in pool if not t.is_harmonic and t.name not in chosen]
    harmonic = [t for t in pool if t.is_harmonic and t.name not in chosen]
    opts = dict(min_t=min_t, min_gain=min_gain, min_independence=min_independence,
                shortlist=shortlist, bonferroni=bonferroni)
    current = _grow(obs, current, chosen, [geometric, harmonic], steps, refused, az, el,
                    n_res, el_lo, el_hi, max_terms, opts)
    # Harmonics chosen before the geometry was complete may stand in for it:
    # regrow them from the final geometric set.
    geo_only = [n for n in chosen if not parse_term(n, obs.mount).is_harmonic]
    if bonferroni and len(geo_only) < len(chosen):
        chosen = geo_only
        current = fit(obs, chosen)
        steps.append({"action": "restart harmonics", "term": " ".join(chosen),
                      "loo_rms_arcsec": current.loo_rms, "sky_rms_arcsec": current.sky_rms})
        harmonic = [t for t in pool if t.is_harmonic]
        current = _grow(obs, current, chosen, [harmonic], steps, refused, az, el, n_res,
                        el_lo, el_hi, max_terms, opts)
    current = _swap(obs, current, chosen, base, pool, steps, az, el, min_gain, shortlist,
                    simpler_only=bonferroni)
    # backward pass: drop what prediction does not need and, when guarding against
    # spurious terms, whatever lost its significance among the final terms
    changed = True
    while changed and len(chosen) > len(base):
        changed = False
        weak = _weakest(current, base) if bonferroni else None
        force = weak if weak and _t_formal(current, weak) < min_t else None
        for name in ([force] if force else []) + [n for n in chosen if n not in base]:
            trial_terms = [n for n in chosen if n != name]
            trial = fit(obs, trial_terms)
            if name == force or trial.loo_rms <= current.loo_rms * (1.0 + min_gain):
                chosen, current, changed = trial_terms, trial, True
                steps.append({"action": "drop", "term": name,
                              "loo_rms_arcsec": trial.loo_rms,
                              "sky_rms_arcsec": trial.sky_rms})
                break
    return chosen, steps, refused


def _swap(obs: Observations, current: FitResult, chosen: list[str], base: Sequence[str],
          pool: Sequence[Term], steps: list[dict[str, Any]], az: np.ndarray, el: np.ndarray,
          min_gain: float, shortlist: int, simpler_only: bool) -> FitResult:
    """Replace a chosen term by a candidate that predicts better in its place.

    Greedy selection can lock in an early choice (NRY where NPAE was needed);
    each non-base term is offered the candidates that best explain what its
    removal leaves (with ``simpler_only``, none more complex than itself), and
    the swap that lowers the leave-one-out RMS most, by at least ``min_gain``,
    is made, repeatedly.
    """
    improved = True
    while improved:
        improved = False
        best: tuple[float, str, str, FitResult] | None = None
        for name in [n for n in chosen if n not in base]:
            rest = [n for n in chosen if n != name]
            try:
                without = fit(obs, rest)
            except FitError:  # the others alone do not hold together: keep this one
                continue
            u = without.used
            r = np.concatenate([without.dx[u], without.de[u]]) * ARCSEC
            limit = complexity(parse_term(name, obs.mount))
            others = [t for t in pool if t.name not in chosen
                      and (not simpler_only or complexity(t) <= limit)]
            if not others:
                continue
            gain, indep = screen(design(obs, rest, az, el),
                                  design(obs, others, az, el), r)
            order = [j for j in np.argsort(-gain) if indep[j] > 0.01][:shortlist]
            for j in order:
                try:
                    trial = fit(obs, with_term(obs, rest, others[j].name))
                except FitError:
                    continue
                if trial.loo_rms < current.loo_rms * (1.0 - min_gain) and (
                        best is None or trial.loo_rms < best[0]):
                    best = (trial.loo_rms, name, others[j].name, trial)
        if best is not None:
            _, out, into, current = best
            if obs.is_equatorial:
                chosen[:] = with_term(obs, [n for n in chosen if n != out], into)
            else:
                chosen[chosen.index(out)] = into
            steps.append({"action": "swap", "term": f"{out}->{into}",
                          "loo_rms_arcsec": current.loo_rms, "sky_rms_arcsec": current.sky_rms})
            improved = True
    return current


def _t_formal(res: FitResult, name: str) -> float:
    """|value| / formal sigma (TPOINT's sigma rescaled from RMS to the dof-correct PSD/√2)."""
    sigma = res.model.sigmas[name]
    if not sigma:
        return math.inf
    return abs(res.model.values[name]) / (sigma * res.psd / math.sqrt(2) / res.sky_rms)


def _weakest(res: FitResult, base: Sequence[str]) -> str | None:
    names = [n for n in res.fitted_terms if n not in base]
    return min(names, key=lambda n: _t_formal(res, n)) if names else None


def _best_pair(obs: Observations, chosen: list[str], remaining: list[Term], gain: np.ndarray,
               indep: np.ndarray, cand: np.ndarray, x_design: np.ndarray, r: np.ndarray,
               rss: float, n_res: int, min_independence: float, loo_target: float,
               shortlist: int, bonferroni: bool, top: int = 30
               ) -> tuple[float, tuple[int, ...], FitResult] | None:
    idx = [j for j in np.argsort(-gain)[:top] if indep[j] >= min_independence]
    if len(idx) < 2:
        return None
    q, _ = np.linalg.qr(x_design)
    zp = cand[:, idx] - q @ (q.T @ cand[:, idx])
    gram = zp.T @ zp
    zr = zp.T @ r
    k = len(chosen) + 2
    dof = n_res - k
    n_pairs = len(idx) * (len(idx) - 1) // 2
    # pairs: family-wise 1 % when guarding against spurious terms, else 5 % uncorrected
    f_min = float(scipy.stats.f.isf(0.01 / n_pairs if bonferroni else 0.05, 2, max(dof, 1)))
    scored = []
    for a in range(len(idx)):
        for b in range(a + 1, len(idx)):
            g = gram[np.ix_([a, b], [a, b])]
            det = g[0, 0] * g[1, 1] - g[0, 1] ** 2
            if det <= (min_independence**2) * g[0, 0] * g[1, 1] or dof <= 0:
                continue  # the two are not separable from each other
            v = zr[[a, b]]
            pair_gain = float(v @ np.linalg.solve(g, v))
            new_rss = rss - pair_gain
            if new_rss <= 0 or (pair_gain / 2) / (new_rss / dof) < f_min:
                continue
            if _bic(new_rss, n_res, k) >= _bic(rss, n_res, k - 2):
                continue
            scored.append((pair_gain, idx[a], idx[b]))
    scored.sort(reverse=True)
    best = None
    for _, i, j in scored[:shortlist]:
        try:
            trial = fit(obs, with_term(obs, chosen, remaining[i].name, remaining[j].name))
        except FitError:
            continue
        if trial.loo_rms < loo_target and (best is None or trial.loo_rms < best[0]):
            best = (trial.loo_rms, (i, j), trial)
    return best

