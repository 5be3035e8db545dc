"""mode="cv": selection by inner cross-validation with the one-standard-error rule."""

from __future__ import annotations

import pytest

from pointing.errors import FitError
from pointing.model.auto import auto_fit, kfold_rms, nested_cv_rms
from pointing.model.formats import read_mod, read_observations, read_tpoint
from pointing.model.model import PointingModel
from pointing.model.synthetic import simulate_run

TRUTH = {"IA": 300.0, "IE": -120.0, "CA": 40.0, "NPAE": -30.0, "AN": 60.0, "AW": -45.0,
         "TF": 25.0, "HASA2": 12.0}


def test_cv_mode_recovers_the_harmonic_and_the_physical_terms():
    """10 simulated runs (60 stars, 2″): the one true harmonic, no spurious one.

    The strong prior keeps physical terms unless the CV finds them harmful, so
    a zero TX or ECES may join; CA and NPAE (anti-correlated) are both found in most.
    """
    truth = PointingModel(list(TRUTH), list(TRUTH.values()))
    pairs = 0
    for seed in range(10):
        res = auto_fit(simulate_run(truth, 60, seed=seed, noise_arcsec=2.0), mode="cv",
                       kfold=3)
        chosen = set(res.selected_terms)
        assert {t for t in chosen if t.startswith("H")} == {"HASA2"}
        assert {"IA", "IE", "AN", "AW", "TF"} <= chosen <= set(TRUTH) | {"TX", "ECES"}
        pairs += {"CA", "NPAE"} <= chosen
    assert pairs >= 7


def test_cv_mode_takes_no_harmonic_from_pure_noise():
    truth = PointingModel(["IA", "IE", "AN", "AW"], [100.0, -50.0, 30.0, -20.0])
    res = auto_fit(simulate_run(truth, 40, seed=4, noise_arcsec=2.0), mode="cv",
                   max_order=8, kfold=3)
    assert not [t for t in res.selected_terms if t.startswith("H")]
    assert any(s["action"] == "add" and "gain_in_se" in s for s in res.steps)


def test_unknown_mode_is_a_clear_error():
    obs = simulate_run(PointingModel(["IA"], [10.0]), 20, seed=1)
    with pytest.raises(FitError, match="mode must be one of"):
        auto_fit(obs, mode="bic")


@pytest.mark.parametrize("dat, mod", [
    ("20200125__AT_point_file_20200125.dat", "20200125__at_20200125_fauto.mod"),
    ("20200219__AT_point_file_20200219T031756.dat", "20200219__at_20200219_fauto.mod")],
    ids=["20200125", "20200219"])
def test_cv_mode_nested_no_worse_than_fauto_list_on_short_runs(datasets, dat, mod):
    """Nested CV of the whole procedure against FAUTO's list (chosen on all stars)."""
    aux = datasets / "rubin_auxtel"
    obs = read_tpoint(aux / dat)
    ref = read_mod(aux / mod)
    fauto = [n for n in ref.names if not ref.fixed[n]]
    nested = nested_cv_rms(obs, k=5, mode="cv", max_order=8, max_terms=len(fauto))
    assert max(len(t) for t in nested["terms_per_fold"]) <= len(fauto)
    assert nested["rms_arcsec"] <= kfold_rms(obs, fauto, k=5) * 1.005


def test_cv_mode_nested_no_worse_than_the_basic_model_on_mmt(datasets):
    obs = read_observations(datasets / "mmt" / "k_and_e.dat")
    basic = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX"]
    nested = nested_cv_rms(obs, k=5, mode="cv", max_order=8, max_terms=8)
    assert nested["rms_arcsec"] <= kfold_rms(obs, basic, k=5) * 1.005
