"""Acceptance: this engine reproduces published solutions of real pointing runs.

* Rubin AuxTel 2020: TPOINT's own ``.mod`` files, each refitted with its own
  term list and fixed terms; where the ``T`` line used fewer observations than
  the file holds, the rejected one is identified as the single observation
  whose exclusion reproduces TPOINT's sky RMS.
* MMT 2021-08-21: the 8-term reference of pytelpoint's notebook.
* RTS2 ``gpoint_in_altaz``: RTS2's published fit, after mapping its terms.

Target: every coefficient within 0.05″ or 0.1 sigma, sky RMS within 0.1 %.
The one reference not met, AuxTel 2020-03-14 FAUTO, is documented below: the
model is TPOINT's (its own coefficients give its sky RMS to 0.01 %), but its
solution is not the least-squares minimum of that model.
"""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
from conftest import DATASETS
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.model.fit import fit, sky_residuals
from pointing.model.formats import read_gpoint, read_mod, read_tpoint, write_mod
from pointing.model.model import PointingModel
from pointing.model.terms import parse_term
from pointing.units import ARCSEC

AUXTEL = [
    ("20200125__AT_point_file_20200125.dat", "20200125__at_20200125_fauto.mod"),
    ("20200125__AT_point_file_20200125.dat", "20200125__at_20200125_manual_try1.mod"),
    ("20200125__AT_point_file_20200125.dat",
     "20200125__at_20200125_manual_same_coeff_as_before.mod"),
    ("20200219__AT_point_file_20200219T031756.dat", "20200219__at_20200219_fauto.mod"),
    ("20200219__AT_point_file_20200219T031756.dat", "20200219__at_20200219_manual.mod"),
]
# The 22-term FAUTO model of 2020-03-14: TF and TX10 against six elevation-only
# harmonics with IE held at zero (sigmas 18″–131″, correlations above 0.99).
#
# Its harmonics carry TPOINT's '&' (parallel) flag: each is evaluated where the
# term before the run of '&' terms is evaluated (=IE's input, after IA; =CA's input,
# after NPAE), not at the position reached so far.  With that, TPOINT's own
# coefficients give sky RMS 5.45698″ on this run, the T line's 5.4571″ (applied one
# after the other instead: 5.6512″; '&' terms at the raw position: 5.4691″).
#
# TPOINT's coefficients are not the least-squares minimum of that model: the
# minimum has sky RMS 5.4458″ (0.21 % lower).  The two differ only along the two
# weakest directions of the elevation cluster (components 617.4″ vs 527.1″ and
# 75.3″ vs 70.8″ in the Jacobian's right-singular basis; the other 20 agree
# within 0.08″): HESE −0.38, HESE5 +0.42, HESE7 +0.44, HECE7 +0.39, HESE8 −0.40, TF −0.45,
# TX10 +0.45 sigma, HESA2 (correlated 0.25 with the cluster) +0.10, all else ≤0.09.
# Measured and excluded as the reason: a fixed number (1, 2, ...) of Gauss-Newton
# steps from zero, the fixed point of a linearised fit with first-order partials at
# the raw, true, model or each term's own position (0.38–0.47 sigma away), ridge or
# truncated-SVD solutions (they shrink that component, TPOINT's is larger), single
# precision, one omitted harmonic or a changed observation set.  TPOINT's sigmas
# agree to 0.3 % except in elevation: HESA2 ours/TPOINT 0.905, AN 0.937, the
# cluster 1.03–1.06 — also unexplained.
AUXTEL_0314 = ("20200314__AT_point_file_20200315T022713.dat",
               "20200314__at_20200314_fauto.mod")
E_CLUSTER = {"HESE", "HESE5", "HESE7", "HECE7", "HESE8", "HECE8", "TF", "TX10"}


def refit(datasets, dat, mod):
    obs = read_tpoint(datasets / "rubin_auxtel" / dat)
    ref = read_mod(datasets / "rubin_auxtel" / mod)
    fixed = {k: v for k, v in ref.values.items() if ref.fixed[k]}
    n_ref = ref.info["fit"]["n_used"]
    rms_ref = ref.info["fit"]["sky_rms_arcsec"]
    masks = [()] if n_ref == len(obs) else itertools.combinations(
        range(1, len(obs) + 1), len(obs) - n_ref)
    spelled = [t.spelling for t in ref.terms]  # with TPOINT's '&' flags
    results = [fit(obs, spelled, fix=fixed, mask=list(m)) for m in masks]
    best = min(results, key=lambda r: abs(r.sky_rms - rms_ref))
    return best, ref, rms_ref


@pytest.mark.parametrize("dat, mod", AUXTEL, ids=[m for _, m in AUXTEL])
def test_auxtel_tpoint_solutions_are_reproduced(datasets, dat, mod):
    res, ref, rms_ref = refit(datasets, dat, mod)
    assert res.n_used == ref.info["fit"]["n_used"]
    assert res.sky_rms == pytest.approx(rms_ref, rel=0.005)
    assert res.sky_rms == pytest.approx(rms_ref, rel=0.001)  # issue 12's target
    for name, value in ref.values.items():
        if ref.fixed[name]:
            assert res.model.values[name] == value
            continue
        err = abs(res.model.values[name] - value)
        assert err < 0.05 or err < 0.1 * ref.sigmas[name], (name, value, res.model.values[name])
        # sigmas as TPOINT computes them
        assert res.model.sigmas[name] == pytest.approx(ref.sigmas[name], rel=0.01)


def test_auxtel_fauto_rejected_observation_is_identified(datasets):
    res, _, _ = refit(datasets, *AUXTEL[0])
    assert res.used.tolist().count(False) == 1 and not res.used[0]  # observation 1


def _rms_at(model, obs):
    a, e = model.true_from_raw(obs.az_raw, obs.el_raw)
    dx, de = sky_residuals(obs, a, e)
    return float(np.sqrt((dx @ dx + de @ de) / len(obs)) / ARCSEC)


def test_auxtel_20200314_tpoint_coefficients_give_its_rms(datasets):
    obs = read_tpoint(datasets / "rubin_auxtel" / AUXTEL_0314[0])
    ref = read_mod(datasets / "rubin_auxtel" / AUXTEL_0314[1])
    assert [t.name for t in ref.terms if t.parallel] == [
        n for n in ref.names if n.startswith("H")]
    assert _rms_at(ref, obs) == pytest.approx(ref.info["fit"]["sky_rms_arcsec"], rel=1e-4)
    # without the '&' flags (every term at the position reached so far) it is 3.6 % worse
    plain = PointingModel(list(ref.names), list(ref.values.values()))
    assert _rms_at(plain, obs) > 1.03 * ref.info["fit"]["sky_rms_arcsec"]


def test_auxtel_20200314_fauto_documented_disagreement(datasets):
    res, ref, rms_ref = refit(datasets, *AUXTEL_0314)
    assert res.sky_rms < rms_ref  # the least-squares minimum of TPOINT's own model ...
    assert res.sky_rms == pytest.approx(rms_ref, rel=0.0025)  # ... 0.21 % below its point
    free = [n for n in ref.names if not ref.fixed[n]]
    z = {n: (res.model.values[n] - ref.values[n]) / ref.sigmas[n] for n in free}
    assert max(abs(v) for v in z.values()) < 0.5
    assert all(abs(z[n]) < 0.11 for n in free if n not in E_CLUSTER)
    assert abs(z["IA"]) < 0.01 and abs(z["NPAE"]) < 0.01
    # the whole difference lies along the two weakest directions of the fit
    idx = [list(ref.names).index(n) for n in free]
    cov = res.model.covariance[np.ix_(idx, idx)]
    _, vec = np.linalg.eigh(cov)  # ascending: the last two are the weakest directions
    diff = np.array([ref.values[n] - res.model.values[n] for n in free])
    rest = diff - vec[:, -2:] @ (vec[:, -2:].T @ diff)
    sig = np.array([ref.sigmas[n] for n in free])
    assert np.max(np.abs(rest) / sig) < 0.02


def test_mod_file_keeps_tpoint_parallel_flags(datasets, tmp_path):
    ref = read_mod(datasets / "rubin_auxtel" / AUXTEL_0314[1])
    text = (datasets / "rubin_auxtel" / AUXTEL_0314[1]).read_text().splitlines()
    back = read_mod(write_mod(tmp_path / "m.mod", ref))
    assert [t.spelling for t in back.terms] == [t.spelling for t in ref.terms]
    out = (tmp_path / "m.mod").read_text().splitlines()
    assert [ln[:2] for ln in out[2:-1]] == [ln[:2] for ln in text[2:-1]]
    a, e = np.radians([10.0, 135.0, 250.0]), np.radians([20.0, 45.0, 80.0])
    np.testing.assert_allclose(back.true_from_raw(a, e), ref.true_from_raw(a, e), atol=1e-9)
    js = PointingModel.load(ref.save(tmp_path / "m.json"))  # the JSON model file too
    assert [t.spelling for t in js.terms] == [t.spelling for t in ref.terms]
    np.testing.assert_array_equal(js.true_from_raw(a, e), ref.true_from_raw(a, e))


def test_parallel_model_scalar_calls_agree_with_arrays(datasets):
    """The daemon's scalar path (a separate route through the kernels) keeps the '&'
    rule too: TPOINT's 2020-03-14 model, scalar against array, both directions."""
    ref = read_mod(datasets / "rubin_auxtel" / AUXTEL_0314[1])
    plain = PointingModel(list(ref.names), list(ref.values.values()))
    a, e = np.radians([10.0, 135.0, 250.0]), np.radians([20.0, 45.0, 80.0])
    ta, te = ref.true_from_raw(a, e)
    assert np.max(np.abs(np.array(plain.true_from_raw(a, e)) - [ta, te])) > 1e-6  # '&' matters
    for i in range(a.size):
        assert ref.true_from_raw(float(a[i]), float(e[i])) == pytest.approx(
            (ta[i], te[i]), abs=1e-12)
        assert ref.raw_from_true(float(ta[i]), float(te[i])) == pytest.approx(
            (a[i], e[i]), abs=1e-10)


def test_parallel_terms_are_evaluated_at_their_heads_input():
    """'&' terms: evaluated where the nearest term before them without '&' is
    (its input, also when it moves nothing), applied in order; exact inverse."""
    c = np.array([300.0, 0.0, 200.0, -150.0, 40.0, 500.0]) * ARCSEC
    m = PointingModel(["IA", "IE", "&HESE", "&HECE2", "&HACA", "TF"], c / ARCSEC)
    a, e = np.radians([30.0, 200.0]), np.radians([25.0, 70.0])
    a1 = a - c[0]  # IA; IE moves nothing: the '&' terms are evaluated here
    e2 = e + c[2] * np.sin(e) + c[3] * np.cos(2 * e)
    a2 = a1 + -c[4] * np.cos(np.pi - a1)
    e3 = e2 - c[5] * np.cos(e2)  # TF at the position reached so far
    ta, te = m.true_from_raw(a, e)
    np.testing.assert_allclose(ta, a2, atol=1e-13)
    np.testing.assert_allclose(te, e3, atol=1e-13)
    ra, re = m.raw_from_true(ta, te)
    np.testing.assert_allclose(ra, a, atol=1e-12)
    np.testing.assert_allclose(re, e, atol=1e-12)
    # and the flag matters: the same terms one after the other point elsewhere
    seq = PointingModel(["IA", "IE", "HESE", "HECE2", "HACA", "TF"], c / ARCSEC)
    assert np.max(np.abs(np.array(seq.true_from_raw(a, e)) - [ta, te])) > 1e-7


MMT_REFERENCE = {"IA": 1209.2612, "IE": -2.9933, "NPAE": -3.4724, "CA": -5.9455,
                 "AN": 2.4950, "AW": -10.3347, "TF": 21.4118, "TX": -2.7165}


def test_mmt_reference(datasets):
    obs = read_tpoint(datasets / "mmt" / "k_and_e.dat")
    res = fit(obs, list(MMT_REFERENCE))
    assert res.n_used == 80
    for name, value in MMT_REFERENCE.items():
        assert res.model.values[name] == pytest.approx(value, abs=0.05)
    assert res.sky_rms == pytest.approx(0.93, abs=0.005)


def test_rts2_reference_after_mapping_terms(datasets):
    """RTS2's gpoint fit, mapped to TPOINT terms.

    RTS2 fits ``e = raw − true`` as a function of the true position with azimuth
    from south; in TPOINT terms (true − raw, azimuth from north) that is
    IA = −ia, IE = ie, NPAE = −npae, AW = te, TF = tf, and its extra azimuth
    term ``sin(2A)cos(2E)`` is HASA2CE2 = −extra (TPOINT's harmonic azimuth
    runs from south through east).  RTS2 held tn (AN) and npoa (CA) at zero.
    """
    obs = read_gpoint(datasets / "rts2" / "gpoint_in_altaz")
    res = fit(obs, ["IA", "IE", "NPAE", "AW", "TF", "HASA2CE2"], weighted=False)
    rts2 = {"ia": -28.72, "te": 4.63, "npae": -17.18, "ie": -15.86, "tf": 9.86, "extra": 6.84}
    mapped = {"IA": -rts2["ia"], "IE": rts2["ie"], "NPAE": -rts2["npae"], "AW": rts2["te"],
              "TF": rts2["tf"], "HASA2CE2": -rts2["extra"]}
    assert res.n_used == 235
    for name, value in mapped.items():
        assert res.model.values[name] == pytest.approx(value, abs=0.05), name
    assert res.sky_rms == pytest.approx(12.4, abs=0.05)


# ---- RTS2 gpoint_in_gem: German equatorial, both pier sides (issue 18) ---------------
# RTS2's own check (RTS2/rts2 checks/check_python_gpoint_gem) fits its 24 GEM
# observations with me, daf, ma, tf and ih held at zero and publishes
# id −1613.58″, ch −216.39″, np 444.38″, fo 143.16″ (tolerance 0.07″).
#
# Mapping: RTS2's GEM terms carry TPOINT's names with TPOINT's signs (true − raw at
# the raw, mechanical position, far side written with the declination beyond the
# pole): ID = id, CH = ch, NP = np, FO = fo (and IH = ih, ME = me, MA = ma, TF = tf,
# DAF = daf).  RTS2 sums first-order corrections evaluated at the raw position and
# minimises the angular separations; that objective, written out below, gives
# RTS2's numbers to 0.01″ from our reader's run (the reader and the mapping are right).
# Our engine applies the terms exactly, one after the other in the listed order;
# with ID listed last (so CH, NP and FO are evaluated at the raw declination, as in
# RTS2) it agrees to 0.2″, 0.02 sigma (sigmas 9–28″ on this 45″-RMS run): the rest is
# the rigour (exact rotations for CH and NP of hundreds of arcsec at |δ| up to 45°,
# FO evaluated after CH and NP have moved the hour angle).
RTS2_GEM = {"ID": -1613.58, "CH": -216.39, "NP": 444.38, "FO": 143.16}


@pytest.fixture
def gpoint_gem():
    env = os.environ.get("OGS_GPOINT_GEM")
    path = Path(env) if env else DATASETS / "rts2" / "gpoint_in_gem"
    if not path.is_file():
        pytest.skip(f"RTS2's gpoint_in_gem not found ({path}); it belongs to RTS2/rts2 "
                    "(checks/gpoint_in_gem): add it to shared/datasets/pointing/rts2/ or set "
                    "OGS_GPOINT_GEM")
    return read_gpoint(path)


def _rts2_objective_fit(run):
    """RTS2's GEM fit (ch, np, id, fo free): first-order sums at the raw position,
    least squares on the angular separations (written from its documented model)."""
    h, d, ht, dt = run.ha_raw, run.dec_raw, run.ha_true, run.dec_true

    def separations(p):
        ch, np_, id_, fo = p * ARCSEC
        a = h - ch / np.cos(d) - np_ * np.tan(d)
        b = d - id_ - fo * np.cos(h)
        x = np.cos(dt) * np.sin(a - ht)
        y = np.cos(b) * np.sin(dt) - np.sin(b) * np.cos(dt) * np.cos(a - ht)
        c = np.sin(b) * np.sin(dt) + np.cos(b) * np.cos(dt) * np.cos(a - ht)
        return np.arctan2(np.hypot(x, y), c) / ARCSEC

    sol = scipy.optimize.least_squares(separations, np.zeros(4), xtol=1e-14, ftol=1e-14)
    return dict(zip(("CH", "NP", "ID", "FO"), sol.x, strict=True))


def test_rts2_gem_reference_reader_and_mapping(gpoint_gem):
    assert gpoint_gem.mount == "gem" and len(gpoint_gem) == 24
    assert gpoint_gem.far_side.sum() == 13
    ours = _rts2_objective_fit(gpoint_gem)
    for name, value in RTS2_GEM.items():
        assert ours[name] == pytest.approx(value, abs=0.07), name


def test_rts2_gem_reference_rigorous_fit(gpoint_gem):
    res = fit(gpoint_gem, ["CH", "NP", "FO", "ID"], weighted=False)
    assert res.model.mount == "gem" and res.n_used == 24
    for name, value in RTS2_GEM.items():
        err = abs(res.model.values[name] - value)
        assert err < 0.25 and err < 0.1 * res.model.sigmas[name], (name, err)


# ---- TPOINT's parallel ('&') terms: an independent implementation ------------------

_PAR_POOL = ["IA", "IE", "TF", "HESE", "HECE2", "HACA2", "HASA", "HESA3CE"]


def _reference_with_heads(spelled, values, a, e):
    """Raw → true for IA/IE/TF and E/A harmonics: '&' terms evaluated at the input of
    the nearest term before them without '&' (or the raw position)."""
    head = (a, e)
    for name, c in zip(spelled, np.asarray(values) * ARCSEC, strict=True):
        t = parse_term(name)
        if not t.parallel:
            head = (a, e)
        pa, pe = head if t.parallel else (a, e)
        if t.name == "IA":
            a = a - c
        elif t.name == "IE":
            e = e + c
        elif t.name == "TF":
            e = e - c * np.cos(pe)
        else:
            f = 1.0
            for func, coord, k in t.factors:
                x = np.pi - pa if coord == "A" else pe
                f = f * (np.sin(k * x) if func == "S" else np.cos(k * x))
            if t.result == "E":
                e = e + c * f
            else:
                a = a - c * f
    return a, e


@settings(max_examples=40, deadline=None)
@given(st.permutations(_PAR_POOL), st.lists(st.booleans(), min_size=8, max_size=8),
       st.lists(st.booleans(), min_size=8, max_size=8), st.integers(0, 2**32 - 1))
def test_parallel_terms_follow_their_heads_in_any_order(order, flags, zeros, seed):
    rng = np.random.default_rng(seed)
    spelled = ["&" + n if f and n.startswith("H") else n for n, f in zip(order, flags,
                                                                        strict=True)]
    values = [0.0 if z else rng.uniform(-1, 1) * (3600.0 if n == "IA" else 400.0)
              for n, z in zip(order, zeros, strict=True)]
    m = PointingModel(spelled, values)
    assert [t.spelling for t in m.terms] == spelled  # the model keeps order and flags
    a = rng.uniform(-math.pi, math.pi, 40)
    e = rng.uniform(5.0, 85.0, 40) * math.pi / 180.0
    ta, te = m.true_from_raw(a, e)
    ra, re = _reference_with_heads(spelled, values, a, e)
    np.testing.assert_allclose(ta, ra, atol=1e-12)
    np.testing.assert_allclose(te, re, atol=1e-12)
    ba, be = m.raw_from_true(ta, te)  # the exact inverse
    assert np.max(np.hypot((ba - a) * np.cos(e), be - e)) < 1e-9
