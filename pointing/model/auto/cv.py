"""Mode "cv": forward selection judged by inner K-fold cross-validation.

A linear view around the current rigorous fit scores candidates (``k_inner``
folds of stars, ``repeats`` shuffles), and each addition is refitted
rigorously:

* the physical terms (AN AW NPAE TF TX CA ECES after IA IE) are offered in that
  fixed order, in passes until none joins; one joins unless it raises the
  inner-CV error by more than ``-se_physical`` standard errors (``se_physical``
  −2: the strong prior toward physical terms; the term budget still binds).
  No search among them, so the choice does not flip between CA and NPAE
  from one resample to the next.  CA and NPAE left out singly are offered
  once more as a pair (strongly anti-correlated on many coverages, each alone
  may harm while the pair helps);
* harmonics (``search="path"``, the default; see :mod:`.path`): one-factor
  harmonics, then products, along a greedy forward path whose length is the
  one the inner CV prefers (``se_size`` 1: the one-standard-error rule on
  the per-star paired differences), the path rebuilt inside every inner
  fold; at most ``max_path`` (40) harmonics;
* ``search="greedy"`` (the earlier search): harmonics join one at a time
  only when they lower the inner-CV error by more than ``se_harmonic``
  standard errors (2), the simplest within one standard error of the best
  winning, with stability selection (``stability`` 0.6, ``resamples`` 10:
  kept only if chosen in at least 60 % of resampled searches; skipped above
  ``STABILITY_MAX_STARS`` stars);
* when the term budget binds, a physical term kept by the prior alone (the
  CV did not ask for it) yields its place to a harmonic the CV does ask for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pointing.errors import FitError
from pointing.model.auto.path import grow_along_path, prefix_errors
from pointing.model.auto.pool import complexity
from pointing.model.auto.screening import (
    EQUATORIAL_ORDER,
    customary,
    design,
    screen,
    try_add,
)
from pointing.model.auto.screening import screening_fit as fit
from pointing.model.fit import FitResult
from pointing.model.run import Observations
from pointing.model.terms import Term
from pointing.units import ARCSEC

#: above this many stars the CV criterion is already stable: no resampling (mode "cv")
STABILITY_MAX_STARS = 1000

#: the physical terms the "cv" mode prefers (a harmonic must beat them clearly)
PHYSICAL = ("IA", "IE", "AN", "AW", "NPAE", "TF", "TX", "CA", "ECES")
#: the same for equatorial mounts, in TPOINT's customary order (also the order of
#: application: with degree-size IH, MA, ME the order matters at the arcsecond level)
EQUATORIAL_PHYSICAL = EQUATORIAL_ORDER
#: per family: the physical order, and the anti-correlated pair offered together
_PHYSICAL = {"altaz": (PHYSICAL, ("CA", "NPAE")),
             "equatorial": (EQUATORIAL_PHYSICAL, ("CH", "NP"))}
#: the options of mode "cv" and their bounds: (default, low, high) or the choices
CV_OPTIONS: dict[str, tuple[Any, ...]] = {
    "k_inner": (5, 2, 20), "repeats": (5, 1, 20), "seed": (0, 0, 2**32 - 1),
    "se_physical": (-2.0, -10.0, 10.0), "se_harmonic": (2.0, 0.0, 10.0),
    "stability": (0.6, 0.0, 1.0), "resamples": (10, 1, 100), "se_size": (1.0, 0.0, 10.0),
    "max_path": (40, 0, 200), "search": ("path", "greedy")}


def check_cv_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``options`` checked against :data:`CV_OPTIONS`; one-line :class:`FitError` if not."""
    out = dict(options or {})
    for key, value in out.items():
        if key not in CV_OPTIONS:
            raise FitError(f"unknown cv option {key!r}: expected one of "
                           f"{', '.join(CV_OPTIONS)}")
        spec = CV_OPTIONS[key]
        if key == "search":
            if value not in spec:
                raise FitError(f"cv option search must be one of {', '.join(spec)}, "
                               f"got {value!r}")
            continue
        default, lo, hi = spec
        kind = int if isinstance(default, int) else float
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                kind is int and not isinstance(value, int)) or not lo <= value <= hi:
            what = "a whole number" if kind is int else "a number"
            raise FitError(f"cv option {key} must be {what} within {lo}..{hi}, got {value!r}")
    return out


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


def _cv_pick(terms: list[Term], base: np.ndarray, each: np.ndarray, ok: np.ndarray,
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
    i = min(near, key=lambda i: (complexity(terms[i]), -gain[i]))
    return i, float(gain[i]), float(se[i])


def select_cv(obs: Observations, pool: Sequence[Term], base: Sequence[str], *,
               max_terms: int, min_independence: float, k_inner: int = 5, repeats: int = 5,
               seed: int = 0, se_physical: float = -2.0, se_harmonic: float = 2.0,
               stability: float = 0.6, resamples: int = 10, search: str = "path",
               se_size: float = 1.0, max_path: int = 40
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
    physical = _PHYSICAL["equatorial" if obs.is_equatorial else "altaz"][0]
    harmonics = [t for t in pool if t.name not in physical and t.name not in chosen]
    # physical terms the CV did not ask for (kept by the prior alone) yield their
    # place to a harmonic it does ask for when the budget binds
    provisional = sorted((st["gain_in_se"], st["term"]) for st in steps
                         if st.get("gain_in_se", 1.0) < 0)
    opts = dict(max_terms=max_terms + len(provisional), min_independence=min_independence,
                se_factor=se_harmonic, k_inner=k_inner, repeats=repeats, seed=seed)
    if search == "path":
        room = min(opts["max_terms"], len(chosen) + max_path)
        # above STABILITY_MAX_STARS one shuffle of the folds is already a stable judge
        path_folds = folds[:max(2, min(k_inner, n // 2))] if n >= STABILITY_MAX_STARS else folds
        current = grow_along_path(obs, current, chosen, harmonics, steps, refused, path_folds,
                                  max_terms=room, min_independence=min_independence,
                                  se_size=se_size)
    elif stability <= 0 or n >= STABILITY_MAX_STARS:
        current = _grow_harmonics(obs, current, chosen, harmonics, steps, refused, **opts)
    else:
        for name, freq in _stable_harmonics(obs, current, chosen, harmonics, resamples,
                                            stability, **opts):
            if len(chosen) >= opts["max_terms"]:
                break
            current = try_add(obs, chosen, [name], steps, refused,
                              chosen_in_fraction=freq) or current
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
    cand = {id(tier): design(obs, tier, az, el)}
    while len(chosen) < max_terms and tier:
        u = current.used
        r = np.concatenate([current.dx[u], current.de[u]]) * ARCSEC
        x = design(obs, chosen, az, el)
        _, indep = screen(x, cand[id(tier)], r)
        b, each = _cv_scores(x, cand[id(tier)], r, folds)
        pick = _cv_pick(tier, b, each, indep >= min_independence, se_factor)
        if pick is None:
            break
        j, gain, se = pick
        term = tier[j]
        _drop(tier, cand, j)
        inner = math.sqrt(each[:, j].sum() / repeats / az.size / 2) / ARCSEC
        current = try_add(obs, chosen, [term.name], steps, refused, inner_cv_rms_arcsec=inner,
                          gain_in_se=gain / se if se > 0 else math.inf) or current
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
    order, pair = _PHYSICAL["equatorial" if obs.is_equatorial else "altaz"]
    queue = [n for n in order if n in names and n not in chosen]
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
    if set(pair) <= set(queue) and len(chosen) + 2 <= max_terms:
        # collimation and non-perpendicularity can be strongly anti-correlated on
        # the coverage: each alone may harm while the pair helps
        current = _try_pair(obs, current, chosen, [names[p] for p in pair], steps,
                            refused, folds, az, el, min_independence, se_factor)
    # listed (and so applied) in the customary order, whatever order they joined in
    canonical = customary(obs, chosen)
    if canonical != chosen:
        chosen[:] = canonical
        current = fit(obs, chosen)
    return current


def _try_pair(obs: Observations, current: FitResult, chosen: list[str], pair: list[Term],
              steps: list[dict[str, Any]], refused: dict[str, str],
              folds: list[np.ndarray], az: np.ndarray, el: np.ndarray,
              min_independence: float, se_factor: float) -> FitResult:
    """Add two physical terms together if the inner CV says so (in place)."""
    u = current.used
    r = np.concatenate([current.dx[u], current.de[u]]) * ARCSEC
    x = design(obs, chosen, az, el)
    z = design(obs, pair, az, el)
    n = az.size
    base, both = np.zeros(n), np.zeros(n)
    for test in folds:
        err, path = prefix_errors(x, z, r, np.setdiff1d(np.arange(n), test), test, 2,
                                  min_independence)
        if len(path) < 2:
            return current  # the coverage cannot separate the two
        base[test] += err[0]
        both[test] += err[2]
    label = "+".join(t.name for t in pair)
    pick = _cv_pick(pair[:1], base, both[:, None], np.array([True]), se_factor)
    if pick is None:
        return current
    names = [t.name for t in pair]
    return try_add(obs, chosen, names, steps, refused, **{"with": label},
                   gain_in_se=pick[1] / pick[2] if pick[2] > 0 else math.inf) or current


def _try_physical(obs: Observations, current: FitResult, chosen: list[str], term: Term,
                  steps: list[dict[str, Any]], refused: dict[str, str],
                  folds: list[np.ndarray], az: np.ndarray, el: np.ndarray,
                  min_independence: float, se_factor: float) -> tuple[FitResult, bool]:
    """Add one physical term if the inner CV says so; ``(fit, added)``."""
    name = term.name
    u = current.used
    r = np.concatenate([current.dx[u], current.de[u]]) * ARCSEC
    x = design(obs, chosen, az, el)
    z = design(obs, [term], az, el)
    _, indep = screen(x, z, r)
    b, each = _cv_scores(x, z, r, folds)
    pick = _cv_pick([term], b, each, indep >= min_independence, se_factor)
    if pick is None:
        return current, False
    added = try_add(obs, chosen, [name], steps, refused,
                    gain_in_se=pick[1] / pick[2] if pick[2] > 0 else math.inf)
    if added is None:
        return current, False
    current = added
    return current, True


def _drop(tier: list[Term], cand: dict[int, np.ndarray], j: int) -> None:
    """Remove candidate ``j`` from a tier and its design columns."""
    tier.pop(j)
    cand[id(tier)] = np.delete(cand[id(tier)], j, axis=1)
