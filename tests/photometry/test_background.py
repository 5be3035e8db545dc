"""Sky-background truth model, background fit, rural-like elevation, go/no-go, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _synth_night import synth_night

from pointing.errors import ConfigError, FitError
from pointing.photometry.background import (
    BackgroundConfig,
    background_grid,
    background_samples,
    fit_background,
    night_background,
    noise_profile,
    rural_like_above,
)
from pointing.photometry.efficiency import night_efficiency
from pointing.photometry.gonogo import Thresholds, go_no_go
from pointing.photometry.sky_model import Receiver, SkyBackgroundModel, nanolambert_to_vmag
from pointing.photometry.skyglow import moon_scattering_nl, van_rhijn_airmass
from pointing.photometry.table import make_observation_table, write_observation_table
from pointing.plots.photometry import plot_background, plot_efficiency
from pointing.units import angular_separation

NO_MOON = (math.nan, math.nan, 0.0)
FULL_MOON = (math.radians(150.0), math.radians(35.0), 0.95)


# --- the grid --------------------------------------------------------------------------------


def test_default_grid_is_8_azimuths_by_5_elevations_in_serpentine_order():
    az, el = background_grid()
    assert az.shape == el.shape == (40,)
    assert sorted(set(np.round(np.degrees(az), 6))) == [45.0 * i for i in range(8)]
    assert sorted(set(np.round(np.degrees(el), 6))) == [10.0, 20.0, 30.0, 45.0, 65.0]
    assert np.all(np.diff(el) >= 0)  # ring by ring, from the lowest
    step = np.degrees(np.abs(np.diff(az)))[np.diff(el) == 0]
    assert np.all(step == 45.0)  # neighbours within a ring, no jump across it
    az2, el2 = background_grid({"background": {"grid_azimuths_deg": [0, 120, 240],
                                               "grid_elevations_deg": [15, 40]}})
    assert az2.size == 6
    np.testing.assert_allclose(np.degrees(el2), [15.0] * 3 + [40.0] * 3)


@pytest.mark.parametrize("section, key", [
    ({"grid_elevations_deg": [10, 95]}, "background.grid_elevations_deg"),
    ({"rural_tolerance": 0}, "background.rural_tolerance"),
    ({"grid_count_time": 10}, "background.grid_count_time"),
])
def test_bad_background_keys_are_named(section, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        BackgroundConfig.from_station({"background": section})


# --- the truth model -------------------------------------------------------------------------


def test_van_rhijn_and_separation():
    assert float(van_rhijn_airmass(math.pi / 2)) == pytest.approx(1.0)
    assert float(van_rhijn_airmass(0.0)) == pytest.approx(5.0)
    assert float(angular_separation(0.0, 0.0, math.pi / 2, 0.0)) == pytest.approx(math.pi / 2)
    assert float(angular_separation(1.0, math.pi / 2, 2.0, math.pi / 2)) == pytest.approx(0.0)


def test_krisciunas_schaefer_moonlight_against_hand_calculation():
    # full Moon at 45° elevation, sky 45° away at 45° elevation, k = 0.172 (their V band):
    # f(45°) = 10^5.36·(1.06 + 0.5) + 10^(6.15 − 1.125) = 4.65e5, I* = 10^−1.536,
    # X = 1/√(1 − 0.96·0.5) = 1.387 → B = f·I*·10^(−0.4·k·X)·(1 − 10^(−0.4·k·X))
    f = 10**5.36 * 1.56 + 10 ** (6.15 - 45 / 40)
    x = 1 / math.sqrt(1 - 0.96 * 0.5)
    t = 10 ** (-0.4 * 0.172 * x)
    hand = f * 10**-1.536 * t * (1 - t)
    el = math.radians(45.0)
    # a point 45° from the Moon along the almucantar at 45° elevation
    daz = math.acos((math.cos(math.radians(45)) - math.sin(el) ** 2) / math.cos(el) ** 2)
    b = float(moon_scattering_nl(daz, el, 0.0, el, 1.0, 0.172))
    assert b == pytest.approx(hand, rel=1e-3)
    assert float(nanolambert_to_vmag(b)) == pytest.approx(18.0, abs=0.1)  # a moonlit sky
    assert float(moon_scattering_nl(0.0, el, 1.0, -0.1, 1.0)) == 0.0  # Moon set
    assert float(moon_scattering_nl(0.0, el, 1.0, 0.5, 0.0)) == 0.0  # new Moon


def test_truth_model_matches_the_reference_stations():
    r = Receiver()
    rural, city = SkyBackgroundModel.rural(), SkyBackgroundModel.city()
    az = np.radians(np.arange(0.0, 360.0, 15.0))[:, None]
    el = np.radians(np.arange(10.0, 90.1, 5.0))[None, :]
    # rural, no Moon, clear: total background < 100 counts/s (above 10°)
    assert np.all(rural.rate_cps(az, el, receiver=r) < 100.0)
    # city centre: ~2000 counts/s low toward the city, falling fast above 15°
    dome = math.radians(city.dome_az_deg)
    low = float(city.rate_cps(dome, math.radians(10.0), receiver=r))
    assert 1000.0 < low < 4000.0
    assert float(city.rate_cps(dome, math.radians(20.0), receiver=r)) < low / 3
    # the Moon adds light, most near the Moon
    near = float(city.rate_cps(FULL_MOON[0] + 0.2, FULL_MOON[1], *FULL_MOON, receiver=r))
    far = float(city.rate_cps(FULL_MOON[0] + math.pi, FULL_MOON[1], *FULL_MOON, receiver=r))
    plain = float(city.rate_cps(FULL_MOON[0] + 0.2, FULL_MOON[1], receiver=r))
    assert near > far > plain


# --- profile helpers -------------------------------------------------------------------------


def test_rural_like_above_interpolates_the_crossing():
    el = np.array([0.0, 10.0, 20.0, 30.0, 90.0])
    prof = np.array([500.0, 200.0, 130.0, 110.0, 100.0])
    # limit 120 crossed between 20° (130) and 30° (110)
    assert rural_like_above(el, prof, 100.0, 0.2) == pytest.approx(25.0)
    assert rural_like_above(el, np.full(5, 100.0), 100.0) == 0.0
    assert rural_like_above(el, prof, 10.0) == 90.0


def test_noise_profile_leaves_out_the_moon():
    moon_az, moon_el = math.radians(90.0), math.radians(40.0)

    def rate(az, el):
        near = angular_separation(az, el, moon_az, moon_el) < math.radians(20.0)
        return np.where(near, 1000.0, 10.0)

    el, mean, worst = noise_profile(rate, moon_az=moon_az, moon_el=moon_el,
                                    moon_exclusion_deg=25.0)
    assert np.all(worst == 10.0) and np.all(mean == 10.0)
    el, mean, worst = noise_profile(rate)
    assert worst[el == 40.0][0] == 1000.0


# --- recovery on synthetic nights ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("config", ["rural", "city_moon"])
def test_background_recovered_on_synthetic_nights(seed, config):
    if config == "rural":
        night = synth_night(seed, sky=SkyBackgroundModel.rural(), moon=NO_MOON)
    else:
        night = synth_night(seed, sky=SkyBackgroundModel.city(), moon=FULL_MOON, k=0.15)
    fit = night_background(night.table)
    truth = night.truth_background()
    assert fit.zenith_cps == pytest.approx(truth["zenith_cps"], rel=0.05)
    assert abs(fit.rural_like_above_deg - truth["rural_like_above_deg"]) < 5.0
    assert abs(fit.rural_like_above_deg - truth["rural_like_above_deg"]) < \
        4 * fit.rural_like_above_sigma_deg + 1.0
    if config == "city_moon":
        assert abs(fit.rural_like_above_worst_deg - truth["rural_like_above_worst_deg"]) < 5
        assert abs((fit.model.dome_az_deg - night.sky.dome_az_deg + 180) % 360 - 180) < 15
        assert fit.model.moon_cps_per_knl > 0
        # and the same night's efficiency is unaffected by the bright sky
        eff = night_efficiency(night.table)
        assert eff.eta0 == pytest.approx(night.eta0, rel=0.05)
        assert abs(eff.k_mag_per_airmass - 0.15) < 0.02
    d = fit.to_dict()
    for key in ("zenith_cps", "profile", "rural_like_above_deg", "grid"):
        assert key in d
    assert len(d["grid"]) == 40 and all(g["measured_cps"] is not None for g in d["grid"])
    json.dumps(d)


def test_no_background_samples_is_a_clear_error():
    night = synth_night(1, n_stars=6, grid=False)
    t = night.table
    t["counts_off"] = np.nan
    with pytest.raises(FitError, match="no background samples"):
        night_background(t)


def test_few_samples_give_a_flagged_partial_fit():
    night = synth_night(1, n_stars=6, grid=False, n_cloud=0)
    fit = night_background(night.table)
    assert any("not fitted" in f for f in fit.flags)
    assert fit.model.dome_cps == 0.0
    assert fit.zenith_cps == pytest.approx(night.truth_background()["zenith_cps"], rel=0.15)


def test_blank_sky_rows_use_both_counts_and_dead_time():
    rows = [{"time": "2025-03-01T14:00:00", "kind": "background", "hip": -1,
             "imag": math.nan, "az_deg": 0.0, "el_deg": 45.0, "count_time_s": 2.0,
             "counts_star": 300.0, "counts_off": 100.0}]
    s = background_samples(make_observation_table(rows))
    assert s.rate_cps[0] == pytest.approx(100.0)  # 400 counts in 4 s
    assert s.sigma_cps[0] == pytest.approx(math.sqrt(400.0) / 4.0)
    with pytest.raises(FitError, match="only 1"):
        fit_background(s)


# --- go / no-go ------------------------------------------------------------------------------


def test_go_no_go_pass_and_fail_with_the_deciding_numbers():
    night = synth_night(2, sky=SkyBackgroundModel.city(), moon=FULL_MOON, eta0=0.3)
    eff = night_efficiency(night.table)
    bg = night_background(night.table)
    ok = go_no_go(eff, bg)
    assert ok.passed and [c["name"] for c in ok.checks] == ["eta0", "noise_at_20deg_cps"]
    noise20 = bg.noise_at(math.radians(20.0))
    assert ok.checks[1]["value"] == pytest.approx(noise20)
    strict = {"thresholds": {"min_eta0": 0.5, "max_noise_cps": 100.0,
                             "min_total_efficiency": 0.2, "efficiency_elevation_deg": 30}}
    bad = go_no_go(eff, bg, strict)
    assert bad.verdict == "FAIL"
    assert [c["passed"] for c in bad.checks] == [False, True, False]
    assert f"eta0 {eff.eta0:.3f} < 0.5" in bad.summary()
    total30 = eff.eta0 * 10 ** (-0.4 * eff.k_mag_per_airmass * 1.99429)
    assert bad.checks[1]["value"] == pytest.approx(total30, rel=1e-4)
    missing = go_no_go(eff, None, required=("efficiency", "background"))
    assert missing.verdict == "FAIL" and "not measured" in missing.summary()
    assert go_no_go().verdict == "FAIL"  # nothing checked is not a pass
    with pytest.raises(ConfigError, match=r"thresholds\.max_noise"):
        Thresholds.from_station({"thresholds": {"max_noise": 5}})


# --- plots and the command line --------------------------------------------------------------


def test_plots_are_written(tmp_path):
    night = synth_night(3, sky=SkyBackgroundModel.city(), moon=FULL_MOON)
    plot_background(night_background(night.table), tmp_path / "bg.png")
    plot_efficiency(night_efficiency(night.table), tmp_path / "eff.png")
    assert (tmp_path / "bg.png").stat().st_size > 20_000
    assert (tmp_path / "eff.png").stat().st_size > 10_000


@pytest.fixture
def cli_main():
    from pointing.cli import main

    return main


def test_noise_map_command(cli_main, tmp_path, capsys):
    night = synth_night(4, sky=SkyBackgroundModel.city(), moon=FULL_MOON)
    path = write_observation_table(night.table, tmp_path / "night.ecsv")
    assert cli_main(["noise-map", str(path), "--json", "--plot",
                     str(tmp_path / "map.png")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rural_like_above_deg"] == pytest.approx(
        night.truth_background()["rural_like_above_deg"], abs=5.0)
    assert out["go_no_go"]["verdict"] == "PASS"
    assert (tmp_path / "map.png").stat().st_size > 20_000
    assert cli_main(["noise-map", str(path)]) == 0
    text = capsys.readouterr().out
    assert "within 20% of the zenith above" in text and "go/no-go PASS" in text
