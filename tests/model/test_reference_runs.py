"""Acceptance: this engine reproduces published solutions of real pointing runs.

* Rubin AuxTel 2020: TPOINT's own ``.mod`` files, each refitted with its own
  term list and fixed terms; where the ``T`` line used fewer observations than
  the file holds, the rejected one is identified as the single observation
  whose exclusion reproduces TPOINT's sky RMS.
* MMT 2021-08-21: the 8-term reference of pytelpoint's notebook.
* RTS2 ``gpoint_in_altaz``: RTS2's published fit, after mapping its terms.

Target: every coefficient within 0.05″ or 0.1 sigma, sky RMS within 0.1 %.
The one reference not met, AuxTel 2020-03-14 FAUTO, is documented below.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
from conftest import DATASETS

from pointing.model.fit import fit
from pointing.model.formats import read_gpoint, read_mod, read_tpoint
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
# Applied in TPOINT's order (terms one after the other as listed, each at the
# position reached so far), IA and NPAE and every azimuth and sky term agree
# within 0.1 sigma (IA 0.003, NPAE 0.001 sigma; with the terms applied together
# they were 0.13 and 0.17 sigma off).  The elevation-only cluster still differs
# by up to 0.48 sigma (HESE; TF 0.44, TX10 0.42), and our sky RMS is 0.30 %
# *lower* than TPOINT's (5.4407″ vs 5.4571″): the cluster is nearly degenerate,
# and some detail of how TPOINT evaluates these terms remains unknown (applying
# the list in reverse order gives 0.34 sigma, no better).
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
    results = [fit(obs, list(ref.names), fix=fixed, mask=list(m)) for m in masks]
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


def test_auxtel_20200314_fauto_documented_disagreement(datasets):
    res, ref, rms_ref = refit(datasets, *AUXTEL_0314)
    assert res.sky_rms == pytest.approx(rms_ref, rel=0.005)
    assert res.sky_rms < rms_ref  # we find a lower minimum, see the module docstring
    for name, value in ref.values.items():
        if ref.fixed[name]:
            continue
        z = abs(res.model.values[name] - value) / ref.sigmas[name]
        limit = 0.5 if name in E_CLUSTER else 0.1
        assert z < limit, (name, z)


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
