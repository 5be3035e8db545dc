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

import pytest

from pointing.model.fit import fit
from pointing.model.formats import read_gpoint, read_mod, read_tpoint

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
