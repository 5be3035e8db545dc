"""The automatic model's driver: outliers, selection, rejection, comparison, in order.

:func:`auto_fit` builds the model in four guarded stages:

1. **Robust start** (:mod:`.outliers`).  A soft-L1 fit of the basic geometric
   model finds gross outliers without letting them drag the fit; observations
   beyond ``reject_sigma`` robust standard deviations are set aside, each with
   its reason.
2. **Forward selection** from the candidate pool (:mod:`.pool`): guarded by
   BIC, significance, independence and leave-one-out gain (:mod:`.guarded`,
   modes "parsimony" and "prediction"), or judged by inner cross-validation
   only (:mod:`.cv`, mode "cv").
3. **Backward pass** (modes "parsimony" and "prediction"): a term whose removal
   does not worsen the leave-one-out RMS by ``min_gain`` is dropped.
4. **Studentized rejection** (:mod:`.outliers`).  The chosen model is refitted;
   the worst star whose externally studentized residual fails the Bonferroni
   test is set aside, with its reason, and the selection runs again (at most
   ``max_reject_fraction`` of the run is ever set aside).  In mode "cv" such a
   star is set aside only if it makes the other stars' cross-validated
   prediction worse (:func:`.outliers.harms_others`); otherwise it is kept and
   the step says why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from threadpoolctl import threadpool_limits

from pointing.errors import FitError
from pointing.model.auto.cv import check_cv_options, select_cv
from pointing.model.auto.guarded import select_guarded
from pointing.model.auto.outliers import (
    EQUATORIAL_ROBUST_START,
    GEM_ROBUST_START,
    ROBUST_START,
    harms_others,
    robust_outliers,
    worst_studentized,
)
from pointing.model.auto.pool import BASE_TERMS, EQUATORIAL_BASE, candidate_pool, equatorial_pool
from pointing.model.auto.result import AutoResult
from pointing.model.auto.screening import screening_fit as fit
from pointing.model.auto.screening import terms_of
from pointing.model.auto.validation import kfold_rms
from pointing.model.fit import fit as exact_fit
from pointing.model.run import Observations

#: selection modes of :func:`auto_fit`
MODES = ("parsimony", "prediction", "cv")


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
        Highest harmonic multiple in A and in E (in H and D on an equatorial run).
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
        :mod:`pointing.model.auto.cv`): the most stable choice on short
        runs, the one to use when predicting unseen stars matters most.
    min_t, min_gain, min_independence
        Guards, see :mod:`pointing.model.auto.guarded`.
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
        ``se_physical`` (−2.0), ``search`` ("path" or "greedy"), ``se_size``
        (1.0), ``max_path`` (40), and for the greedy search ``se_harmonic``
        (2.0), ``stability`` (0.6), ``resamples`` (10); bounds in
        ``cv.CV_OPTIONS``, see :mod:`pointing.model.auto.cv`.

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
    cv_opts = check_cv_options(cv_options)
    obs = observations
    n_used = int(obs.used.sum())
    if obs.is_equatorial and tuple(base) == BASE_TERMS:
        base = EQUATORIAL_BASE  # the default zero points, in the mount's axes
    base = [t.name for t in terms_of(obs, base)]
    if n_used < max(3, len(base) + 1):
        raise FitError(f"{n_used} usable observations are too few for an automatic model "
                       f"(the base terms {' '.join(base)} alone need {len(base) + 1})",
                       tuple(base))
    if obs.is_equatorial:
        sides = _both_pier_sides(obs)
        pool = equatorial_pool(max_order, product_order=product_order,
                               latitude=obs.latitude_deg is not None, pier_sides=sides,
                               extra=extra_candidates)
        robust = GEM_ROBUST_START if sides else EQUATORIAL_ROBUST_START
    else:
        pool = candidate_pool(max_order, product_order=product_order,
                              rotator="rotator" in obs.extra, extra=extra_candidates)
        robust = ROBUST_START
    pool = tuple(t for t in pool if t.name not in base)
    max_terms = max_terms or max(len(base), (2 * n_used) // 3)
    max_reject = int(max_reject_fraction * n_used)

    # the basic geometric model needs a few stars per term to be a fair judge
    start_terms = robust if n_used >= 3 * len(robust) else robust[:2]
    rejected = robust_outliers(obs, start_terms, reject_sigma, max_reject)
    while True:
        used = obs.used.copy()
        for r in rejected:
            used[r["index"] - 1] = False
        work = obs.with_used(used)
        if mode == "cv":
            chosen, steps, refused = select_cv(work, pool, base, max_terms=max_terms,
                                                min_independence=min_independence,
                                                **cv_opts)
        else:
            chosen, steps, refused = select_guarded(work, pool, base, min_t=min_t,
                                             min_gain=min_gain,
                                             min_independence=min_independence,
                                             max_terms=max_terms, shortlist=shortlist,
                                             bonferroni=mode == "parsimony")
        final = exact_fit(work, chosen)
        if len(rejected) >= max_reject:
            break
        worst = worst_studentized(final)
        if worst is None:
            break
        if mode == "cv":  # prediction decides: an informative star is kept
            harmful, change = harms_others(work, final, worst["index"])
            if not harmful:
                effect = (f"{-change:.1%} better with it in the fit" if change < 0 else
                          f"only {change:.1%} worse with it in the fit, within one standard "
                          "error")
                steps.append({"action": "keep", "term": "", "index": worst["index"],
                              "reason": f"{worst['reason']}, but the other stars are "
                                        f"predicted {effect}"})
                break
            worst["reason"] += (f"; the other stars are predicted {change:.1%} worse with "
                                "it in the fit")
        rejected.append(worst)
    comparison = _comparison(work, {"automatic": chosen, **(compare or {})}, kfold)
    return AutoResult(fit=final, selected_terms=tuple(chosen), cv_rms=final.loo_rms,
                      kfold_rms=comparison[0]["kfold_rms_arcsec"], rejected=tuple(rejected),
                      steps=tuple(steps), refused=refused, comparison=tuple(comparison))


#: stars needed on each pier side before pier-side terms are candidates
PIER_SIDE_MIN_STARS = 5


def _both_pier_sides(obs: Observations) -> bool:
    """A German equatorial run with enough used stars on each side of the pier."""
    if obs.mount != "gem":
        return False
    far = obs.far_side[obs.used]
    return min(int(far.sum()), int((~far).sum())) >= PIER_SIDE_MIN_STARS


def _comparison(work: Observations, rows: Mapping[str, Sequence[str]], kfold: int
                ) -> list[dict[str, Any]]:
    """The comparison table: each term list refitted on the same stars (RMS, LOO, k-fold)."""
    table = []
    for label, terms in rows.items():
        try:
            r = fit(work, list(terms))
            kf = kfold_rms(work, list(terms), k=kfold)
        except FitError as exc:
            table.append({"label": label, "terms": list(terms), "n_terms": len(terms),
                          "sky_rms_arcsec": math.nan, "loo_rms_arcsec": math.nan,
                          "kfold_rms_arcsec": math.nan, "error": str(exc)})
            continue
        table.append({"label": label, "terms": [t.spelling for t in r.model.terms],
                      "n_terms": len(r.fitted_terms), "sky_rms_arcsec": r.sky_rms,
                      "loo_rms_arcsec": r.loo_rms, "kfold_rms_arcsec": kf})
    return table

