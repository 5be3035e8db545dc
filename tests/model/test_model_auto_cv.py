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
    """10 simulated runs (60 stars, 2″): the one true harmonic always, CA with NPAE.

    The path search judges harmonics by prediction: a chance harmonic that
    predicts these stars better may join, but in at most one run of ten.  The
    strong prior keeps physical terms unless the CV finds them harmful, so a
    zero TX or ECES may join; CA and NPAE (anti-correlated) are offered as a
    pair when neither joins alone.
    """
    truth = PointingModel(list(TRUTH), list(TRUTH.values()))
    pairs = spurious = 0
    for seed in range(10):
        res = auto_fit(simulate_run(truth, 60, seed=seed, noise_arcsec=2.0), mode="cv",
                       kfold=3)
        chosen = set(res.selected_terms)
        harmonics = {t for t in chosen if t.startswith("H")}
        assert "HASA2" in harmonics
        spurious += harmonics != {"HASA2"}
        assert {"IA", "IE", "AN", "AW", "TF"} <= chosen
        pairs += {"CA", "NPAE"} <= chosen
    assert spurious <= 1
    assert pairs >= 9


def test_cv_greedy_search_recovers_exactly_the_true_harmonic():
    """The stricter greedy search (2 standard errors, stability) on the same runs."""
    truth = PointingModel(list(TRUTH), list(TRUTH.values()))
    for seed in range(10):
        res = auto_fit(simulate_run(truth, 60, seed=seed, noise_arcsec=2.0), mode="cv",
                       kfold=3, cv_options={"search": "greedy"})
        assert {t for t in res.selected_terms if t.startswith("H")} == {"HASA2"}


@pytest.mark.parametrize("options, match", [
    ({"k_iner": 5}, "unknown cv option 'k_iner'"),
    ({"se_size": -1}, "se_size must be a number within 0.0..10.0"),
    ({"k_inner": 1000}, "k_inner must be a whole number within 2..20"),
    ({"repeats": 2.5}, "repeats must be a whole number"),
    ({"search": "lasso"}, "search must be one of path, greedy")])
def test_cv_options_are_bounded(options, match):
    obs = simulate_run(PointingModel(["IA"], [10.0]), 20, seed=1)
    with pytest.raises(FitError, match=match):
        auto_fit(obs, mode="cv", cv_options=options)


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


def test_cv_path_predicts_the_20200314_run_better_than_the_greedy_search(datasets):
    """The 2020-03-14 AuxTel run: an elevation pattern no single harmonic explains.

    Nested 5-fold CV (selection inside the folds), 22-term budget (FAUTO's):
    the path search 14.2″, the greedy search 15.5″ (before this search).  FAUTO's own list refitted
    gives 7.0″ k-fold, but chosen on all 44 stars; with the pool cut down to
    FAUTO's own terms, our nested figure is still 11.6″: the 7.0″ is mostly
    the flattery of a choice made on the test stars.
    """
    obs = read_tpoint(datasets / "rubin_auxtel" / "20200314__AT_point_file_20200315T022713.dat")
    kw = dict(k=5, mode="cv", max_order=8, max_terms=22)
    path = nested_cv_rms(obs, **kw)["rms_arcsec"]
    greedy = nested_cv_rms(obs, cv_options={"search": "greedy"}, **kw)["rms_arcsec"]
    assert path < 15.0 < greedy


def test_cv_mode_sets_aside_a_star_only_if_it_harms_the_others():
    """A 15″ error (beyond the studentized test, below the robust start's 5σ) is set aside
    with the prediction figure in its reason; a clean star is judged harmless."""
    from pointing.model.auto.outliers import harms_others
    from pointing.model.fit import fit
    from pointing.model.model import ARCSEC
    from pointing.model.run import Observations

    truth = PointingModel(list(TRUTH), list(TRUTH.values()))
    obs = simulate_run(truth, 60, seed=2, noise_arcsec=1.0)
    raw_e = obs.el_raw.copy()
    raw_e[11] += 15 * ARCSEC
    bad = Observations(obs.az_true, obs.el_true, obs.az_raw, raw_e)
    res = auto_fit(bad, mode="cv", kfold=3)
    assert [r["index"] for r in res.rejected] == [12]
    assert "predicted" in res.rejected[0]["reason"] and "worse" in res.rejected[0]["reason"]
    clean = fit(obs, list(TRUTH))
    assert not harms_others(obs, clean, 5)[0]
    assert harms_others(bad, fit(bad, list(TRUTH)), 12)[0]
