"""Automatic models of equatorial runs (issue 18): the same selection, the mount's own pool."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pointing.errors import FitError
from pointing.model.auto import auto_fit, equatorial_pool, nested_cv_rms
from pointing.model.fit import fit
from pointing.model.model import PointingModel
from pointing.model.synthetic import simulate_equatorial_run

TRUE_TERMS = ["IH", "ID", "CH", "NP", "MA", "ME", "TF", "FO", "HDSH2"]


def _gem_run(seed: int, n: int = 150):
    """Random known terms: degree-size index and polar-axis errors, arcminute collimation."""
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1, 1], 5)
    vals = [rng.uniform(-3, 3) * 3600, rng.uniform(-2, 2) * 3600,
            *(sign[:2] * rng.uniform(40, 200, 2)), *rng.uniform(-1, 1, 2) * 3600,
            *(sign[2:] * rng.uniform(15, 30, 3))]
    truth = PointingModel(TRUE_TERMS, vals, mount="gem", latitude_deg=rng.uniform(-60, 60))
    return truth, simulate_equatorial_run(truth, n, seed=seed, noise_arcsec=1.0)


@pytest.mark.parametrize("mode", ["cv", "parsimony"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_recovers_known_terms_on_a_gem_run(seed, mode):
    truth, run = _gem_run(seed)
    assert run.far_side.any() and (~run.far_side).any()
    res = auto_fit(run, mode=mode, max_order=3)
    chosen = set(res.selected_terms)
    assert set(TRUE_TERMS) <= chosen
    # mode cv keeps a physical term unless the CV finds it harmful: a zero DAF may join
    assert chosen <= set(TRUE_TERMS) | ({"DAF"} if mode == "cv" else set())
    model = res.fit.model
    assert model.mount == "gem"
    for name, value in truth.values.items():
        assert abs(model.values[name] - value) < 5 * model.sigmas[name], name
    assert res.fit.sky_rms == pytest.approx(math.sqrt(2), rel=0.2)
    # physical terms are listed (and so applied) in TPOINT's customary order
    order = [n for n in res.selected_terms if not n.startswith("H")]
    assert order == [n for n in ("IH", "ID", "CH", "NP", "MA", "ME", "TF", "FO", "DAF")
                     if n in chosen]


@pytest.mark.parametrize("mode", ["cv", "parsimony"])
def test_far_side_index_error_is_a_term_not_a_reason_to_reject_stars(mode):
    """A GEM whose declination index shifts when the tube swings over (ID@FAR): the
    far-side stars are kept and the pier-side term is chosen."""
    names = ["IH", "ID", "CH", "NP", "MA", "ME", "ID@FAR"]
    truth = PointingModel(names, [300.0, -200.0, 40.0, 20.0, 60.0, -30.0, 90.0], mount="gem",
                          latitude_deg=48.0)
    run = simulate_equatorial_run(truth, 120, seed=4, noise_arcsec=1.0)
    res = auto_fit(run, mode=mode)
    assert not res.rejected
    assert "ID@FAR" in res.selected_terms
    assert res.fit.model.values["ID@FAR"] == pytest.approx(90.0, abs=5 * res.fit.model.sigmas[
        "ID@FAR"])
    assert res.fit.loo_rms < 1.3 * math.sqrt(2)


def test_pier_side_candidates_only_for_a_gem_seen_on_both_sides():
    assert "ID@FAR" in {t.name for t in equatorial_pool(2, pier_sides=True)}
    assert not any(t.side for t in equatorial_pool(2))
    truth = PointingModel(["IH", "ID"], [30.0, 20.0], mount="gem", latitude_deg=40.0)
    run = simulate_equatorial_run(truth, 60, seed=2)
    res = auto_fit(run.select(~run.far_side), mode="parsimony")
    assert not any("@" in n for n in res.selected_terms)


def test_order_of_application_matters_for_a_mount_set_up_by_eye():
    """Why the order is kept: the same terms listed otherwise fit a GEM run worse."""
    _, run = _gem_run(0)
    listed = fit(run, TRUE_TERMS).sky_rms
    shuffled = fit(run, ["IH", "ID", "MA", "ME", "NP", "CH", "TF", "FO", "HDSH2"]).sky_rms
    assert listed < 1.5 < 2 * listed < shuffled


def test_equatorial_pool_is_as_rich_as_faut0s_grammar():
    pool = {t.name for t in equatorial_pool(8, product_order=8)}
    assert {"CH", "NP", "MA", "ME", "TF", "FO", "DAF"} <= pool
    assert {"HDSD", "HHSH2", "HXCH8", "HDCD8", "HDSH8CD8", "HXCH2SD", "HHCH3SD5"} <= pool
    assert not {"HXCD", "HXSD", "HDCH"} & pool  # ≡ −IH, −NP, −FO exactly
    assert "TF" not in {t.name for t in equatorial_pool(2, latitude=False)}
    with pytest.raises(FitError, match=r"max_order must be a whole number 1\.\.12"):
        equatorial_pool(13)
    with pytest.raises(FitError, match=r"product_order must be a whole number 0\.\.max_order"):
        equatorial_pool(3, product_order=-1)


def test_nested_cv_of_a_gem_run_is_near_the_noise():
    _, run = _gem_run(3, n=80)
    out = nested_cv_rms(run, k=4, mode="cv", max_order=2)
    assert out["rms_arcsec"] < 1.3 * math.sqrt(2)
    assert all({"IH", "ID", "MA", "ME"} <= set(t) for t in out["terms_per_fold"])
