"""Automatic choice of pointing-model terms, judged by how well it predicts unseen stars.

Satellite tracking is prediction: a term earns its place only if the model
then points better at stars it was not fitted to.  :func:`auto_fit` builds the
model in four guarded stages:

1. **Robust start.**  A soft-L1 fit (scipy ``least_squares``) of the basic
   geometric model finds gross outliers without letting them drag the fit;
   observations beyond ``reject_sigma`` robust standard deviations are set
   aside, each with its reason.
2. **Forward selection** from a candidate pool (the geometric terms, harmonic
   families in A and E up to ``max_order`` and their products, Nasmyth terms
   when the run has a rotator column, user terms).  At each step every
   candidate's gain is computed at once by projecting it on the part of the
   sky coverage the model does not yet span.  A candidate must pass every
   guard: it lowers BIC; its coefficient is significant (``|t| ≥ min_t``);
   the coverage separates it from the terms already chosen (its component
   outside their span is at least ``min_independence`` of its length, i.e.
   correlation below ~0.998 with their combination); and the leave-one-out
   RMS of the rigorous refit improves by at least ``min_gain`` (relative).
   Among the candidates that predict about as well as the best one, the
   simplest joins (geometric terms before harmonics, fewer and lower
   factors first); geometric terms are always tried before harmonics, and
   the harmonics are regrown once the geometry is complete, so an alias never
   stands in for a physical term.  Terms that only help together (an
   elevation flexure curve) may join as a pair under an F test.
3. **Backward pass.**  A term whose removal does not worsen the leave-one-out
   RMS by ``min_gain`` is dropped (simpler wins when prediction is no better).
4. **Studentized rejection.**  The chosen model is refitted; the worst star
   whose externally studentized residual fails the Bonferroni test is set
   aside, with its reason, and the selection runs again (at most
   ``max_reject_fraction`` of the run is ever set aside).

Nothing is silently dropped: every set-aside observation is listed with the
stage and the numbers that decided it.

Mode cv
-------
``mode="cv"`` replaces stages 2–3 by a search judged only by inner K-fold
cross-validation (``k_inner`` folds of stars, ``repeats`` shuffles; a
linear view around the current rigorous fit scores every candidate at once,
and each addition is refitted rigorously):

* the physical terms (AN AW NPAE TF TX CA ECES after IA IE) are offered in that
  fixed order, in passes until none joins; one joins unless it raises the
  inner-CV error by more than ``-se_physical`` standard errors (``se_physical``
  −2: the strong prior toward physical terms; the term budget still binds).
  No search among them, so the choice does not flip between CA and NPAE
  from one resample to the next;
* harmonics join greedily only when they lower the inner-CV error by more
  than ``se_harmonic`` standard errors (2; the one-standard-error rule made
  stricter for a pool of hundreds), the simplest within one standard error
  of the best winning;
* stability selection (``stability`` 0.6, ``resamples`` 10): the harmonic
  search is rerun on the training sets of repeated 5-fold splits and a
  harmonic is kept only if chosen in at least 60 % of them (skipped above
  ``STABILITY_MAX_STARS`` stars, where the criterion is already stable);
* when the term budget binds, a physical term kept by the prior alone (the
  CV did not ask for it) yields its place to a harmonic the CV does ask for.

Outliers are handled by stages 1 and 4 as in the other modes.  Known
weakness: CA and NPAE that only help together (strongly anti-correlated on
the coverage) may both be left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.optimize
import scipy.stats
from threadpoolctl import threadpool_limits

from pointing.errors import FitError
from pointing.model.design import term_design
from pointing.model.fit import FitResult
from pointing.model.fit import fit as exact_fit
from pointing.model.model import ARCSEC, PointingModel
from pointing.model.run import Observations
from pointing.model.terms import Term, parse_term

__all__ = ["AutoResult", "auto_fit", "candidate_pool", "kfold_rms", "nested_cv_rms"]

#: always in the model (zero points) unless the caller says otherwise
BASE_TERMS = ("IA", "IE")
GEOMETRIC_CANDIDATES = ("CA", "NPAE", "AN", "AW", "TF", "TX", "ECES")
ROBUST_START = ("IA", "IE", "CA", "NPAE", "AN", "AW", "TF")
#: highest harmonic order the automatic search accepts (the pool grows as its square)
MAX_ORDER = 12
#: above this many stars the CV criterion is already stable: no resampling (mode "cv")
STABILITY_MAX_STARS = 1000
#: selection modes of :func:`auto_fit`
MODES = ("parsimony", "prediction", "cv")


def fit(observations: Observations, terms: Sequence[str], **kwargs: Any) -> FitResult:
    """The screening refit: rigorous residuals, first-order Jacobian (see ``exact_jacobian``)."""
    return exact_fit(observations, terms, exact_jacobian=False, **kwargs)


@dataclass(frozen=True)
class AutoResult:
    """The outcome of :func:`auto_fit`.

    Attributes
    ----------
    fit : FitResult
        The final fit of the selected terms, rejected observations masked.
    selected_terms : tuple of str
    cv_rms : float
        Leave-one-out RMS of the final model (arcsec).
    kfold_rms : float
        k-fold cross-validated RMS (arcsec), refitting the rigorous model.
    rejected : tuple of dict
        ``{"index", "stage", "reason"}`` per set-aside observation (1-based).
    steps : tuple of dict
        The selection log: ``{"action", "term", "loo_rms_arcsec", "bic", ...}``.
    refused : dict of str to str
        Candidates the coverage could not separate, with the reason.
    comparison : tuple of dict
        Rows comparing the automatic model with user term lists on the same
        observations: ``{"label", "terms", "n_terms", "sky_rms_arcsec",
        "loo_rms_arcsec", "kfold_rms_arcsec"}``.
    """

    fit: FitResult
    selected_terms: tuple[str, ...]
    cv_rms: float
    kfold_rms: float
    rejected: tuple[dict[str, Any], ...]
    steps: tuple[dict[str, Any], ...]
    refused: dict[str, str] = field(default_factory=dict)
    comparison: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The fit's JSON plus ``selected_terms``, ``cv_rms_arcsec``, ``rejected``."""
        out = self.fit.to_dict()
        out.update({
            "selected_terms": list(self.selected_terms),
            "cv_rms_arcsec": self.cv_rms,
            "kfold_rms_arcsec": self.kfold_rms,
            "rejected": list(self.rejected),
            "selection_steps": list(self.steps),
            "refused_terms": dict(self.refused),
            "comparison": list(self.comparison),
        })
        return out

    def summary(self) -> str:
        lines = [self.fit.summary(), "",
                 f"automatic model: {len(self.selected_terms)} terms, leave-one-out "
                 f"{self.cv_rms:.3f}″, k-fold {self.kfold_rms:.3f}″"]
        for r in self.rejected:
            lines.append(f"set aside observation {r['index']} ({r['stage']}): {r['reason']}")
        if self.comparison:
            lines.append("")
            lines.append(f"  {'model':<22s}{'terms':>6s}{'RMS″':>9s}{'LOO″':>9s}{'k-fold″':>9s}")
            for row in self.comparison:
                lines.append(f"  {row['label']:<22s}{row['n_terms']:6d}"
                             f"{row['sky_rms_arcsec']:9.3f}{row['loo_rms_arcsec']:9.3f}"
                             f"{row['kfold_rms_arcsec']:9.3f}")
        return "\n".join(lines)


def candidate_pool(max_order: int = 3, *, product_order: int | None = None,
                   rotator: bool = False, extra: Iterable[str] = ()) -> tuple[Term, ...]:
    """Candidate terms: geometric, harmonics in A and E up to ``max_order``, products.

    ``product_order`` (default ``min(max_order, 3)``) bounds the multiples in
    products of an A and an E harmonic, which grow as its square.

    Harmonics that duplicate a geometric term exactly (HSCE ≡ −IA, HECE ≡ −TF,
    HSSE ≡ NPAE, ...) are left out, as are their Z spellings.
    """
    if isinstance(max_order, bool) or not isinstance(max_order, int) or not (
            1 <= max_order <= MAX_ORDER):
        raise FitError(f"max_order must be a whole number 1..{MAX_ORDER} (FAUTO searches to 8), "
                       f"got {max_order!r}")
    names: list[str] = list(GEOMETRIC_CANDIDATES)
    if rotator:
        names += ["NRX", "NRY"]
    funcs = ("S", "C")
    ks = [("" if k == 1 else str(k)) for k in range(1, max_order + 1)]
    for result in ("A", "E", "S"):
        for f in funcs:
            for k in ks:
                names.append(f"H{result}{f}A{k}")
    for result in ("E", "S"):
        for f in funcs:
            for k in ks:
                if k == "":
                    continue  # sin E / cos E forms duplicate NPAE, IA, TF, ECES
                names.append(f"H{result}{f}E{k}")
    pks = ks[:min(max_order, 3) if product_order is None else product_order]
    for result in ("A", "E", "S"):
        for fa in funcs:
            for ka in pks:
                for fe in funcs:
                    for ke in pks:
                        if result == "S" and fe == "C" and ke == "":
                            continue  # HS…CE ≡ HA… (ΔA·cosE with a cos E factor)
                        names.append(f"H{result}{fa}A{ka}{fe}E{ke}")
    names += [n.upper() for n in extra]
    seen: dict[str, Term] = {}
    for n in names:
        t = parse_term(n)
        seen.setdefault(t.name, t)
    return tuple(seen.values())


def kfold_rms(obs: Observations, terms: Sequence[str], *, k: int = 5, seed: int = 0,
              fix: Mapping[str, float] | None = None) -> float:
    """k-fold cross-validated sky RMS (arcsec) of a term list, rigorous refits."""
    sq = []
    for fold in _folds(obs, k, seed):
        mask = [int(i) + 1 for i in fold]
        try:
            res = exact_fit(obs, list(terms), fix=fix, mask=mask)
        except FitError:
            return math.inf
        sq.extend((res.dx[fold] ** 2 + res.de[fold] ** 2).tolist())
    return math.sqrt(float(np.mean(sq)))


def _folds(obs: Observations, k: int, seed: int) -> list[np.ndarray]:
    """The k folds (0-based indices of used observations) both CV figures share."""
    idx = np.nonzero(obs.used)[0]
    if idx.size < 2 * k:
        k = max(2, idx.size // 2)
    rng = np.random.default_rng(seed)
    return np.array_split(rng.permutation(idx), k)


def nested_cv_rms(obs: Observations, *, k: int = 5, seed: int = 0,
                  **auto_kwargs: Any) -> dict[str, Any]:
    """Honest predictive RMS of the *procedure*: selection inside the cross-validation.

    For each of ``k`` folds the whole automatic model (outlier handling,
    selection, fit) is built on the other folds only and predicts the held-out
    stars; the RMS over every held-out star (arcsec) is what the model would
    do on stars it never saw, not flattered by the choice of terms.  The folds
    are those of :func:`kfold_rms` (same ``seed``), so a fixed term list's
    k-fold RMS is directly comparable.

    Returns ``{"rms_arcsec", "terms_per_fold", "n_terms_median"}``.
    """
    sq: list[float] = []
    chosen: list[list[str]] = []
    for fold in _folds(obs, k, seed):
        keep = obs.used.copy()
        keep[fold] = False
        res = auto_fit(obs.with_used(keep), **auto_kwargs)
        ta, te = res.fit.model.true_from_raw(obs.az_raw[fold], obs.el_raw[fold])
        dx = ((obs.az_true[fold] - ta + math.pi) % (2 * math.pi) - math.pi) * np.cos(
            obs.el_true[fold])
        de = obs.el_true[fold] - te
        sq.extend(((dx ** 2 + de ** 2) / ARCSEC ** 2).tolist())
        chosen.append(list(res.selected_terms))
    return {"rms_arcsec": math.sqrt(float(np.mean(sq))), "terms_per_fold": chosen,
            "n_terms_median": float(np.median([len(c) for c in chosen]))}


def _robust_outliers(obs: Observations, terms: Sequence[str], reject_sigma: float,
                     max_reject: int) -> list[dict[str, Any]]:
    """Observations a soft-L1 fit of the basic model puts beyond ``reject_sigma``."""
    used = np.nonzero(obs.used)[0]
    sub = obs.select(obs.used)
    term_list = [parse_term(t) for t in terms]
    values = np.zeros(len(term_list))
    free = list(range(len(term_list)))

    def resid(c: np.ndarray) -> np.ndarray:
        a, e = PointingModel(term_list, c).true_from_raw(sub.az_raw, sub.el_raw)
        dx = ((sub.az_true - a + math.pi) % (2 * math.pi) - math.pi) * np.cos(sub.el_true)
        return np.concatenate([dx, sub.el_true - e]) / ARCSEC

    def jac(c: np.ndarray) -> np.ndarray:
        # first order at the model's positions: a screening fit needs no more
        a, e = PointingModel(term_list, c).true_from_raw(sub.az_raw, sub.el_raw)
        return -term_design([term_list[i] for i in free], a, e)

    r0 = resid(values)
    scale0 = 1.4826 * np.median(np.abs(r0 - np.median(r0))) + 1e-3
    sol = scipy.optimize.least_squares(resid, values, jac=jac, loss="soft_l1",
                                       f_scale=max(scale0, 0.1), x_scale="jac")
    r = sol.fun
    n = sub.az_true.size
    radial = np.hypot(r[:n], r[n:])
    # robust per-axis sigma from the median absolute residual
    sigma = 1.4826 * np.median(np.abs(np.concatenate([r[:n], r[n:]])))
    if sigma <= 0:
        return []
    out = []
    order = np.argsort(-radial)
    for j in order[:max_reject]:
        ratio = radial[j] / sigma
        if ratio < reject_sigma:
            break
        out.append({"index": int(used[j] + 1), "stage": "robust start",
                    "reason": f"residual {radial[j]:.1f}″ is {ratio:.1f} robust sigma "
                              f"(σ={sigma:.2f}″ per axis) from a soft-L1 fit of "
                              f"{' '.join(terms)}"})
    return out


def complexity(term: Term) -> tuple[int, int]:
    """Ordering for "simpler": geometric terms, then harmonics by factors and multiples."""
    if not term.is_harmonic:
        return (0, 0)
    return (len(term.factors), sum(k for _, _, k in term.factors))


def _screen(x_design: np.ndarray, candidates: np.ndarray, r: np.ndarray
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
        x_design = term_design([parse_term(n) for n in chosen], az, el)
        cand = term_design(remaining, az, el)
        gain, indep = _screen(x_design, cand, r)
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
                trials.append((fit(obs, [*chosen, remaining[j].name]), j))
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
            chosen.append(term.name)
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


def _select(obs: Observations, pool: Sequence[Term], base: Sequence[str], *,
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
    geo_only = [n for n in chosen if not parse_term(n).is_harmonic]
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
            limit = complexity(parse_term(name))
            others = [t for t in pool if t.name not in chosen
                      and (not simpler_only or complexity(t) <= limit)]
            if not others:
                continue
            gain, indep = _screen(term_design([parse_term(n) for n in rest], az, el),
                                  term_design(others, az, el), r)
            order = [j for j in np.argsort(-gain) if indep[j] > 0.01][:shortlist]
            for j in order:
                try:
                    trial = fit(obs, [*rest, others[j].name])
                except FitError:
                    continue
                if trial.loo_rms < current.loo_rms * (1.0 - min_gain) and (
                        best is None or trial.loo_rms < best[0]):
                    best = (trial.loo_rms, name, others[j].name, trial)
        if best is not None:
            _, out, into, current = best
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
            trial = fit(obs, [*chosen, remaining[i].name, remaining[j].name])
        except FitError:
            continue
        if trial.loo_rms < loo_target and (best is None or trial.loo_rms < best[0]):
            best = (trial.loo_rms, (i, j), trial)
    return best


def auto_fit(
    observations: Observations,
    *,
    max_order: int = 3,
    base: Sequence[str] = BASE_TERMS,
    extra_candidates: Iterable[str] = (),
    compare: Mapping[str, Sequence[str]] | None = None,
    mode: str = "parsimony",
    min_t: float = 3.0,
    min_gain: float = 0.01,
    min_independence: float = 0.01,
    reject_sigma: float = 5.0,
    max_reject_fraction: float = 0.1,
    max_terms: int | None = None,
    shortlist: int = 6,
    kfold: int = 5,
    product_order: int | None = None,
    cv_options: Mapping[str, Any] | None = None,
) -> AutoResult:
    """Choose terms automatically and fit them, guarding against overfitting.

    Parameters
    ----------
    observations : Observations
    max_order : int
        Highest harmonic multiple in A and in E.
    base : sequence of str
        Terms always kept (default the zero points IA, IE).
    extra_candidates : iterable of str
        User-supplied candidate terms.
    compare : mapping of label to term list, optional
        Term lists (e.g. a TPOINT FAUTO model) refitted on the same
        observations for the comparison table.
    mode : {"parsimony", "prediction", "cv"}
        ``"parsimony"`` (default) corrects every significance test for the
        number of candidates tried (Bonferroni, 5 % family-wise; pairs 1 %)
        and drops final terms below ``min_t``: few spurious terms.
        ``"prediction"`` tests each candidate at ``min_t`` uncorrected and
        pairs at 5 %: it takes more terms whenever leave-one-out prediction
        improves, like TPOINT's FAUTO.
        ``"cv"`` judges every term by inner K-fold cross-validation (see
        "Mode cv" in the module docstring): the most stable choice on short
        runs, the one to use when predicting unseen stars matters most.
    min_t, min_gain, min_independence
        Guards, see the module docstring.
    reject_sigma : float
        Robust-start rejection threshold (robust sigmas).
    max_reject_fraction : float
        Never set aside more than this fraction of the run.
    max_terms : int, optional
        Upper bound on the model size (default: a third of the residual count).
    shortlist : int
        Candidates refitted rigorously per step (the best by projected gain).
    kfold : int
        Folds of the cross-validated RMS reported beside leave-one-out.
    product_order : int, optional
        Highest multiple in products of an A and an E harmonic (default
        ``min(max_order, 3)``; FAUTO's products reach 8).
    cv_options : mapping, optional
        Mode ``"cv"`` only: ``k_inner`` (5), ``repeats`` (5), ``seed`` (0),
        ``se_physical`` (−2.0), ``se_harmonic`` (2.0), ``stability`` (0.6),
        ``resamples`` (10); see "Mode cv" in the module docstring.

    Returns
    -------
    AutoResult

    Raises
    ------
    FitError
        Too few observations for even the base terms, or coverage that cannot
        determine them; the message names the terms.
    """
    # The search's matrices are tall and narrow (2N × a few dozen): a threaded BLAS
    # spends more on its threads than on the work (10⁴ observations on the shared
    # 2-core machine: 23 s threaded, 4.8 s on one thread), so the search uses one.
    with threadpool_limits(limits=1, user_api="blas"):
        return _auto_fit(observations, max_order=max_order, base=base,
                         extra_candidates=extra_candidates, compare=compare, mode=mode,
                         min_t=min_t, min_gain=min_gain, min_independence=min_independence,
                         reject_sigma=reject_sigma, max_reject_fraction=max_reject_fraction,
                         max_terms=max_terms, shortlist=shortlist, kfold=kfold,
                         product_order=product_order, cv_options=cv_options)


def _auto_fit(observations: Observations, *, max_order: int, base: Sequence[str],
              extra_candidates: Iterable[str], compare: Mapping[str, Sequence[str]] | None,
              mode: str, min_t: float, min_gain: float, min_independence: float,
              reject_sigma: float, max_reject_fraction: float, max_terms: int | None,
              shortlist: int, kfold: int, product_order: int | None,
              cv_options: Mapping[str, Any] | None) -> AutoResult:
    """:func:`auto_fit`'s body: the four stages of the module docstring in order."""
    if mode not in MODES:
        raise FitError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    obs = observations
    if obs.is_equatorial:  # issue 18: the candidate pool and screening are alt-az only
        raise FitError(f"automatic modelling (--auto) of {obs.mount} (equatorial) runs is "
                       "not supported yet: give the terms (e.g. IH,ID,CH,NP,MA,ME,TF)")
    n_used = int(obs.used.sum())
    base = [parse_term(t).name for t in base]
    if n_used < max(3, len(base) + 1):
        raise FitError(f"{n_used} usable observations are too few for an automatic model "
                       f"(the base terms {' '.join(base)} alone need {len(base) + 1})",
                       tuple(base))
    pool = candidate_pool(max_order, product_order=product_order,
                          rotator="rotator" in obs.extra, extra=extra_candidates)
    pool = tuple(t for t in pool if t.name not in base)
    max_terms = max_terms or max(len(base), (2 * n_used) // 3)
    max_reject = int(max_reject_fraction * n_used)

    # the basic geometric model needs a few stars per term to be a fair judge
    start_terms = ROBUST_START if n_used >= 3 * len(ROBUST_START) else ("IA", "IE")
    rejected = _robust_outliers(obs, start_terms, reject_sigma, max_reject)
    while True:
        used = obs.used.copy()
        for r in rejected:
            used[r["index"] - 1] = False
        work = obs.with_used(used)
        if mode == "cv":
            chosen, steps, refused = _select_cv(work, pool, base, max_terms=max_terms,
                                                min_independence=min_independence,
                                                **dict(cv_options or {}))
        else:
            chosen, steps, refused = _select(work, pool, base, min_t=min_t,
                                             min_gain=min_gain,
                                             min_independence=min_independence,
                                             max_terms=max_terms, shortlist=shortlist,
                                             bonferroni=mode == "parsimony")
        final = exact_fit(work, chosen)
        if len(rejected) >= max_reject:
            break
        worst = _worst_studentized(final)
        if worst is None:
            break
        rejected.append(worst)
    result_fit = final
    comparison = []
    rows = {"automatic": chosen, **{k: list(v) for k, v in (compare or {}).items()}}
    for label, terms in rows.items():
        try:
            r = fit(work, list(terms))
            kf = kfold_rms(work, list(terms), k=kfold)
        except FitError as exc:
            comparison.append({"label": label, "terms": list(terms), "n_terms": len(terms),
                               "sky_rms_arcsec": math.nan, "loo_rms_arcsec": math.nan,
                               "kfold_rms_arcsec": math.nan, "error": str(exc)})
            continue
        comparison.append({"label": label, "terms": list(r.model.names),
                           "n_terms": len(r.fitted_terms), "sky_rms_arcsec": r.sky_rms,
                           "loo_rms_arcsec": r.loo_rms, "kfold_rms_arcsec": kf})
    kf_auto = comparison[0]["kfold_rms_arcsec"]
    return AutoResult(fit=result_fit, selected_terms=tuple(chosen), cv_rms=result_fit.loo_rms,
                      kfold_rms=kf_auto, rejected=tuple(rejected), steps=tuple(steps),
                      refused=refused, comparison=tuple(comparison))


def _worst_studentized(res: FitResult, alpha: float = 0.05) -> dict[str, Any] | None:
    if not res.outlier_candidates:
        return None
    stud = np.where(np.isfinite(res.studentized), res.studentized, -np.inf)
    j = int(np.argmax(stud))
    return {"index": j + 1, "stage": "studentized",
            "reason": f"externally studentized residual {stud[j]:.2f} fails the "
                      f"Bonferroni test at {alpha:g}/{res.n_used} "
                      f"(residual {math.hypot(res.dx[j], res.de[j]):.1f}″)"}



# --------------------------------------------------------------------------------------
# mode="cv": forward selection scored by inner K-fold cross-validation, one-SE rule
# --------------------------------------------------------------------------------------

#: the physical terms the "cv" mode prefers (a harmonic must beat them clearly)
PHYSICAL = ("IA", "IE", "AN", "AW", "NPAE", "TF", "TX", "CA", "ECES")


def _star_folds(n: int, k: int, repeats: int, seed: int) -> list[np.ndarray]:
    """Test-star index sets: ``repeats`` shuffles of ``n`` stars into ``k`` folds each."""
    k = max(2, min(k, n // 2))
    rng = np.random.default_rng(seed)
    return [f for _ in range(repeats) for f in np.array_split(rng.permutation(n), k)]


def _cv_scores(x: np.ndarray, z: np.ndarray, r: np.ndarray, folds: list[np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per-star inner-CV squared errors of the design ``x`` and of ``x`` plus each ``z`` column.

    Linear view around the current rigorous fit: ``r`` (2N, radians) is its
    residual, so fitting ``r`` on ``[x, z_j]`` is refitting the model with
    term j added.  Rows are ΔA·cosE of every star then ΔE; a star's two rows
    are always in the same fold.  Returns ``(base, with_each)``: (N,) and
    (N, M) summed squared prediction errors over the repeats (radians²).
    """
    n = r.size // 2
    base = np.zeros(n)
    each = np.zeros((n, z.shape[1]))
    for test in folds:
        train = np.ones(n, bool)
        train[test] = False
        tr = np.concatenate([train, train])
        te = np.concatenate([test, test + n])
        xt, zt, rt = x[tr], z[tr], r[tr]
        q, rr = np.linalg.qr(xt)
        br = np.linalg.lstsq(rr, q.T @ rt, rcond=None)[0]
        bz = np.linalg.lstsq(rr, q.T @ zt, rcond=None)[0]
        zp = zt - xt @ bz
        rp = rt - xt @ br
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = (zp.T @ rp) / np.einsum("ij,ij->j", zp, zp)
        gamma[~np.isfinite(gamma)] = 0.0
        e0 = r[te] - x[te] @ br
        e = e0[:, None] - (z[te] - x[te] @ bz) * gamma
        m = test.size
        base[test] += e0[:m] ** 2 + e0[m:] ** 2
        each[test] += e[:m] ** 2 + e[m:] ** 2
    return base, each


def _cv_pick(names: list[str], base: np.ndarray, each: np.ndarray, ok: np.ndarray,
             se_factor: float) -> tuple[int, float, float] | None:
    """The candidate that lowers the inner-CV error most, if by ``se_factor`` standard errors.

    Among those within one standard error of the best, the simplest wins
    (one-standard-error rule).  Returns ``(index, gain, se)`` (per star, radians²).
    """
    if not ok.any():
        return None
    d = base[:, None] - each  # per-star improvement
    gain = d.mean(axis=0)
    se = d.std(axis=0, ddof=1) / math.sqrt(d.shape[0])
    gain = np.where(ok, gain, -np.inf)
    j = int(np.argmax(gain))
    if not gain[j] > se_factor * se[j]:
        return None
    near = [i for i in np.nonzero(gain >= gain[j] - se[j])[0]]
    i = min(near, key=lambda i: (complexity(parse_term(names[i])), -gain[i]))
    return i, float(gain[i]), float(se[i])


def _select_cv(obs: Observations, pool: Sequence[Term], base: Sequence[str], *,
               max_terms: int, min_independence: float, k_inner: int = 5, repeats: int = 5,
               seed: int = 0, se_physical: float = -2.0, se_harmonic: float = 2.0,
               stability: float = 0.6, resamples: int = 10
               ) -> tuple[list[str], list[dict[str, Any]], dict[str, str]]:
    """Physical terms in a fixed order, then harmonics, all judged by inner K-fold CV.

    A physical term joins when it lowers the inner-CV error by more than
    ``se_physical`` standard errors (negative: unless it raises it by more);
    a harmonic only by more than ``se_harmonic`` (the one-standard-error
    rule).  With ``stability`` > 0 the harmonic search is rerun on
    ``resamples`` subsets (the training sets of repeated 5-fold splits) and
    a harmonic is kept only if chosen in at least that fraction of them.
    Each addition is refitted rigorously.
    """
    chosen = list(base)
    steps: list[dict[str, Any]] = []
    refused: dict[str, str] = {}
    current = fit(obs, chosen)
    n = int(current.used.sum())
    folds = _star_folds(n, k_inner, repeats, seed)
    sub = obs.select(current.used)
    current = _physical_core(obs, current, chosen, pool, steps, refused, folds,
                             sub.az_true, sub.el_true, max_terms, min_independence, se_physical)
    harmonics = [t for t in pool if t.name not in PHYSICAL and t.name not in chosen]
    # physical terms the CV did not ask for (kept by the prior alone) yield their
    # place to a harmonic it does ask for when the budget binds
    provisional = sorted((st["gain_in_se"], st["term"]) for st in steps
                         if st.get("gain_in_se", 1.0) < 0)
    opts = dict(max_terms=max_terms + len(provisional), min_independence=min_independence,
                se_factor=se_harmonic, k_inner=k_inner, repeats=repeats, seed=seed)
    if stability <= 0 or n >= STABILITY_MAX_STARS:
        current = _grow_harmonics(obs, current, chosen, harmonics, steps, refused, **opts)
    else:
        for name, freq in _stable_harmonics(obs, current, chosen, harmonics, resamples,
                                            stability, **opts):
            if len(chosen) >= opts["max_terms"]:
                break
            try:
                current = fit(obs, [*chosen, name])
            except FitError as exc:
                refused[name] = str(exc)
                continue
            chosen.append(name)
            steps.append({"action": "add", "term": name, "chosen_in_fraction": freq,
                          "sky_rms_arcsec": current.sky_rms, "loo_rms_arcsec": current.loo_rms})
    for _, name in provisional:
        if len(chosen) <= max_terms:
            break
        chosen.remove(name)
        steps.append({"action": "drop", "term": name,
                      "reason": "kept by the prior only; a harmonic the CV asks for needs "
                                "its place in the term budget"})
    return chosen, steps, refused


def _stable_harmonics(obs: Observations, current: FitResult, chosen: list[str],
                      harmonics: list[Term], resamples: int, threshold: float,
                      **opts: Any) -> list[tuple[str, float]]:
    """Harmonics the CV search picks in at least ``threshold`` of the resampled runs."""
    used = np.nonzero(current.used)[0]
    k = opts["k_inner"]
    splits = _star_folds(used.size, k, max(1, -(-resamples // k)), opts["seed"] + 1)
    counts: dict[str, int] = {}
    done = 0
    for test in splits[:resamples]:
        keep = current.used.copy()
        keep[used[test]] = False
        sub = obs.with_used(keep)
        try:
            start = fit(sub, chosen)
        except FitError:
            continue
        names = list(chosen)
        _grow_harmonics(sub, start, names, list(harmonics), [], {}, **opts)
        for name in names[len(chosen):]:
            counts[name] = counts.get(name, 0) + 1
        done += 1
    freq = sorted(((c / max(done, 1), name) for name, c in counts.items()), reverse=True)
    return [(name, f) for f, name in freq if f >= threshold]


def _grow_harmonics(obs: Observations, current: FitResult, chosen: list[str],
                    harmonics: list[Term], steps: list[dict[str, Any]],
                    refused: dict[str, str], *, max_terms: int, min_independence: float,
                    se_factor: float, k_inner: int, repeats: int, seed: int) -> FitResult:
    """Greedy forward harmonics by inner-CV gain (``chosen`` grows in place)."""
    sub = obs.select(current.used)
    az, el = sub.az_true, sub.el_true
    folds = _star_folds(az.size, k_inner, repeats, seed)
    tier = list(harmonics)
    cand = {id(tier): term_design(tier, az, el)}
    while len(chosen) < max_terms and tier:
        u = current.used
        r = np.concatenate([current.dx[u], current.de[u]]) * ARCSEC
        x = term_design([parse_term(n) for n in chosen], az, el)
        _, indep = _screen(x, cand[id(tier)], r)
        b, each = _cv_scores(x, cand[id(tier)], r, folds)
        pick = _cv_pick([t.name for t in tier], b, each, indep >= min_independence, se_factor)
        if pick is None:
            break
        j, gain, se = pick
        term = tier[j]
        _drop(tier, cand, j)
        try:
            current = fit(obs, [*chosen, term.name])
        except FitError as exc:
            refused[term.name] = str(exc)
            continue
        chosen.append(term.name)
        steps.append({"action": "add", "term": term.name,
                      "inner_cv_rms_arcsec": math.sqrt(each[:, j].sum() / repeats / az.size
                                                       / 2) / ARCSEC,
                      "gain_in_se": gain / se if se > 0 else math.inf,
                      "sky_rms_arcsec": current.sky_rms, "loo_rms_arcsec": current.loo_rms})
    return current


def _physical_core(obs: Observations, current: FitResult, chosen: list[str],
                   pool: Sequence[Term], steps: list[dict[str, Any]], refused: dict[str, str],
                   folds: list[np.ndarray], az: np.ndarray, el: np.ndarray, max_terms: int,
                   min_independence: float, se_factor: float) -> FitResult:
    """The physical terms in TPOINT's customary order, each kept if the inner CV says so.

    A fixed order (no search among them) is the strong prior: the choice does
    not flip between CA and NPAE from one resample to the next.
    """
    names = {t.name: t for t in pool}
    # passes until nothing joins: a term may help only once another is in (CA beside NPAE)
    queue = [n for n in PHYSICAL if n in names and n not in chosen]
    added = True
    while added and queue and len(chosen) < max_terms:
        added = False
        for name in list(queue):
            if len(chosen) >= max_terms:
                break
            current, ok = _try_physical(obs, current, chosen, names[name], steps, refused,
                                        folds, az, el, min_independence, se_factor)
            if ok:
                queue.remove(name)
                added = True
    return current


def _try_physical(obs: Observations, current: FitResult, chosen: list[str], term: Term,
                  steps: list[dict[str, Any]], refused: dict[str, str],
                  folds: list[np.ndarray], az: np.ndarray, el: np.ndarray,
                  min_independence: float, se_factor: float) -> tuple[FitResult, bool]:
    """Add one physical term if the inner CV says so; ``(fit, added)``."""
    name = term.name
    u = current.used
    r = np.concatenate([current.dx[u], current.de[u]]) * ARCSEC
    x = term_design([parse_term(n) for n in chosen], az, el)
    z = term_design([term], az, el)
    _, indep = _screen(x, z, r)
    b, each = _cv_scores(x, z, r, folds)
    pick = _cv_pick([name], b, each, indep >= min_independence, se_factor)
    if pick is None:
        return current, False
    try:
        current = fit(obs, [*chosen, name])
    except FitError as exc:
        refused[name] = str(exc)
        return current, False
    chosen.append(name)
    steps.append({"action": "add", "term": name,
                  "gain_in_se": pick[1] / pick[2] if pick[2] > 0 else math.inf,
                  "sky_rms_arcsec": current.sky_rms, "loo_rms_arcsec": current.loo_rms})
    return current, True


def _drop(tier: list[Term], cand: dict[int, np.ndarray], j: int) -> None:
    """Remove candidate ``j`` from a tier and its design columns."""
    tier.pop(j)
    cand[id(tier)] = np.delete(cand[id(tier)], j, axis=1)
