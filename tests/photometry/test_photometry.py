"""Photon budget, airmass, per-star efficiency, the extinction fit, camera photometry, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _synth_night import synth_night
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.errors import ConfigError, FileFormatError, FitError, PointingError
from pointing.photometry.aperture import camera_aperture_photometry
from pointing.photometry.bands import (
    Band,
    colour_temperature,
    photon_flux_density,
    star_photon_flux,
)
from pointing.photometry.config import DetectorConfig, PhotometryConfig, collecting_area
from pointing.photometry.efficiency import (
    camera_efficiency,
    expected_star_counts,
    night_efficiency,
    star_efficiency,
)
from pointing.photometry.extinction import airmass, fit_extinction
from pointing.photometry.table import (
    make_observation_table,
    read_observation_table,
    write_observation_table,
)

H = 6.62607015e-34
C = 2.99792458e8
KB = 1.380649e-23


# --- photon budget ---------------------------------------------------------------------------


def test_vega_like_star_gives_about_3_9e7_photons_per_nm_at_850():
    # domain brief: Vega at 850 nm ≈ 9.07e-10 erg s⁻¹ cm⁻² Å⁻¹ (CALSPEC), by hand in photons
    flam_w_m2_nm = 9.07e-10 * 1e-7 * 1e4 * 10.0
    calspec_photons = flam_w_m2_nm / (H * C / 850e-9)
    assert calspec_photons == pytest.approx(3.88e7, rel=2e-3)
    flux = star_photon_flux(0.0, 0.0)  # default band: 850 nm, 1 nm top-hat
    assert flux == pytest.approx(calspec_photons, rel=0.015)
    assert star_photon_flux(0.0) == flux  # unknown colour is taken as V−I = 0


def test_flux_at_the_i_band_effective_wavelength_is_the_zero_point_for_any_colour():
    # 1.126e-9 erg s⁻¹ cm⁻² Å⁻¹ = 1.126e-11 W m⁻² nm⁻¹ at 798 nm, in photons
    zero = 1.126e-11 * 798e-9 / (H * C)
    dens = photon_flux_density(np.zeros(4), np.array([-0.3, 0.0, 1.0, 3.0]), 798.0)
    np.testing.assert_allclose(dens, zero, rtol=1e-9)
    assert photon_flux_density(2.5, 1.0, 798.0) == pytest.approx(zero * 10 ** -1.0)


def test_colour_temperature_inverts_a_blackbody_v_minus_i():
    def planck(lam_nm, t):
        lam = lam_nm * 1e-9
        return 1.0 / lam**5 / np.expm1(H * C / (lam * KB * t))

    for t in (3500.0, 5800.0, 9000.0):
        # V−I of a blackbody on the Bessell et al. (1998) zero points (545 / 798 nm)
        vi = -2.5 * math.log10(planck(545.0, t) / planck(798.0, t) / (3.631 / 1.126))
        assert float(colour_temperature(vi)) == pytest.approx(t, rel=2e-3)


def test_colour_term_is_small_and_favours_red_stars_at_850():
    base = star_photon_flux(0.0, 0.0)
    dm = -2.5 * np.log10(star_photon_flux(np.zeros(3), [0.5, 1.0, 2.0]) / base)
    # documented: −0.06, −0.12, −0.25 mag
    np.testing.assert_allclose(dm, [-0.062, -0.124, -0.253], atol=0.01)
    assert np.all(np.diff(dm) < 0)


@settings(max_examples=30, deadline=None)
@given(st.floats(-1.0, 12.0), st.floats(-0.3, 3.5), st.floats(-3.0, 3.0))
def test_flux_scales_as_magnitudes(imag, vi, dm):
    ratio = star_photon_flux(imag + dm, vi) / star_photon_flux(imag, vi)
    assert ratio == pytest.approx(10 ** (-0.4 * dm), rel=1e-9)


def test_bands_top_hat_width_and_transmission_curve():
    one = star_photon_flux(0.0, 1.0)
    assert star_photon_flux(0.0, 1.0, (850.0, 10.0)) == pytest.approx(10 * one, rel=2e-3)
    assert star_photon_flux(0.0, 1.0, {"center_nm": 850.0, "width_nm": 1.0}) == one
    # trapezoid 845–855 nm with a 1 nm flat top: equivalent width 5.5 nm; a peak of 0.5
    # is normalised away (the filter's transmission belongs in the efficiency chain)
    curve = Band.curve([845.0, 849.5, 850.5, 855.0], [0.0, 0.5, 0.5, 0.0])
    assert curve.width_nm == pytest.approx(5.5, rel=1e-3)
    assert star_photon_flux(0.0, 1.0, curve) == pytest.approx(5.5 * one, rel=5e-3)
    with pytest.raises(ConfigError):
        Band.top_hat(850.0, -1.0)
    with pytest.raises(ConfigError):
        Band.curve([850.0, 849.0], [1.0, 1.0])
    with pytest.raises(ConfigError):
        Band.from_spec("850nm")


def test_vectorised_flux_keeps_shapes():
    out = star_photon_flux(np.full((3, 2), 4.0), np.zeros((3, 2)))
    assert out.shape == (3, 2)
    assert isinstance(star_photon_flux(4.0, 0.5), float)


# --- airmass and photon budget by hand -------------------------------------------------------


def test_kasten_young_airmass_against_hand_calculation():
    # X = 1 / [sin h + 0.50572 (h + 6.07995)^−1.6364], worked by hand
    assert airmass(math.radians(90.0)) == pytest.approx(0.99971, abs=2e-5)
    assert airmass(math.radians(30.0)) == pytest.approx(1.99429, abs=2e-5)
    assert airmass(math.radians(10.0)) == pytest.approx(5.5861, abs=5e-4)
    assert airmass(0.0) == pytest.approx(37.92, abs=0.01)
    assert airmass(math.radians(60.0)) == pytest.approx(1 / math.sin(math.radians(60)),
                                                        rel=3e-3)
    x = airmass(np.radians([[45.0, 20.0], [-7.0, 5.0]]))
    assert x.shape == (2, 2) and np.isnan(x[1, 0]) and np.all(np.isfinite(x[0]))


def test_photon_budget_by_hand():
    area = collecting_area(0.28, 0.095)
    assert area == pytest.approx(math.pi / 4 * (0.28**2 - 0.095**2), rel=1e-12)
    assert area == pytest.approx(0.054487, rel=1e-4)
    # an I = 3, V−I = 0 star at the zenith, 2 s, η₀ = 0.4, k = 0.1 mag/airmass:
    # 3.9e7 · 10^−1.2 photons s⁻¹ m⁻² nm⁻¹ · 1 nm · area · 2 s · 0.4 · 10^(−0.04·X)
    hand = 3.9e7 * 10**-1.2 * 0.054487 * 2.0 * 0.4 * 10 ** (-0.4 * 0.1 * 0.99971)
    got = expected_star_counts(3.0, 0.0, math.radians(90.0), 2.0, eta0=0.4,
                               k_mag_per_airmass=0.1, area_m2=area)
    assert float(got) == pytest.approx(hand, rel=0.01)
    assert float(got) == pytest.approx(97_600, rel=0.01)
    with pytest.raises(ConfigError):
        collecting_area(0.28, 0.3)


def test_star_efficiency_and_its_uncertainty_by_hand():
    expected = float(star_photon_flux(2.0, 0.5)) * 0.05 * 1.0
    eta = 0.3
    off = 200.0
    star = eta * expected + off
    se = star_efficiency([star], [off], [1.0], [2.0], [0.5], area_m2=0.05,
                         magnitude_sigma=0.03)
    assert se.eta[0] == pytest.approx(eta, rel=1e-12)
    rel = math.sqrt((star + off) / (star - off) ** 2 + (0.4 * math.log(10) * 0.03) ** 2)
    assert se.eta_sigma[0] == pytest.approx(eta * rel, rel=1e-9)
    # unknown colour: 0.1 mag more uncertainty in quadrature
    se2 = star_efficiency([star], [off], [1.0], [2.0], [np.nan], area_m2=0.05,
                          magnitude_sigma=0.03)
    assert se2.mag_sigma[0] == pytest.approx(math.hypot(0.03, 0.10))
    # no off-star counts: only the dark rate is subtracted
    se3 = star_efficiency([star], [np.nan], [1.0], [2.0], [0.5], area_m2=0.05,
                          dark_cps=[off])
    assert se3.net_counts[0] == pytest.approx(star - off)


def test_dead_time_correction():
    # 4e6 counts in 1 s over 4 channels: 1e6 per channel, τ = 22 ns loses 2.2 %
    se = star_efficiency([4e6], [0.0], [1.0], [0.0], [0.0], area_m2=1.0, channels=4,
                         dead_time_s=22e-9)
    assert se.net_counts[0] == pytest.approx(4e6 / (1 - 0.022), rel=1e-9)
    assert DetectorConfig.from_station({"detectors": {"dead_time_ns": 22}}).dead_time_s == \
        pytest.approx(22e-9)


# --- station sections ------------------------------------------------------------------------


def test_defaults_match_the_design():
    p = PhotometryConfig.from_station(None)
    assert p.design_efficiency == pytest.approx(0.40, abs=0.02)  # "designed ~40 %"
    chain = p.efficiency_chain
    assert chain["telescope"] * chain["optics"] * chain["filter"] * chain["coupling"] > 0.6
    assert chain["filter"] > 0.92 - 1e-9 and chain["telescope"] >= 0.90
    assert p.band.center_nm == 850.0 and p.band.width_nm == pytest.approx(1.0)
    assert p.field_of_view_arcsec2 == pytest.approx(math.pi * (50e-6 * 206264.806) ** 2)
    d = DetectorConfig.from_station(None)
    assert d.channels == 4 and d.total_dark_cps < 100


class _Telescope:
    aperture_m = 0.5
    obstruction_m = 0.1


class _Station:
    telescope = _Telescope()

    def __init__(self, sections):
        self._sections = sections

    def section(self, name):
        return dict(self._sections.get(name, {}))


def test_sections_are_read_from_a_station_object():
    st_ = _Station({"photometry": {"band_center_nm": 810, "band_width_nm": 3,
                                   "efficiency": {"detector": 0.5}},
                    "detectors": {"dark_cps": [5, 6, 7, 8]}})
    p = PhotometryConfig.from_station(st_)
    assert p.band.center_nm == 810 and p.band.width_nm == pytest.approx(3.0)
    assert p.area_m2 == pytest.approx(math.pi / 4 * (0.25 - 0.01))
    assert p.efficiency_chain["detector"] == 0.5
    assert DetectorConfig.from_station(st_).total_dark_cps == 26


@pytest.mark.parametrize("sections, key", [
    ({"photometry": {"band_width_nm": -1}}, "photometry.band_width_nm"),
    ({"photometry": {"band_center_nm": "850"}}, "photometry.band_center_nm"),
    ({"photometry": {"efficiency": {"telescope": 1.2}}}, "photometry.efficiency.telescope"),
    ({"photometry": {"efficiency": {"mirror": 0.9}}}, "photometry.efficiency.mirror"),
    ({"photometry": {"bandwidth_nm": 1}}, "photometry.bandwidth_nm"),
    ({"photometry": {"band_curve_nm": [840, 860]}}, "photometry.band_curve_transmission"),
    ({"detectors": {"dark_cps": [1, 2, 3]}}, "detectors.dark_cps"),
    ({"detectors": {"channels": 2.5}}, "detectors.channels"),
])
def test_bad_station_keys_are_named(sections, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        PhotometryConfig.from_station(sections)
        DetectorConfig.from_station(sections)


# --- the night's fit -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_eta0_and_k_recovered_and_clouds_rejected(seed):
    k = 0.05 + 0.03 * seed
    night = synth_night(seed, k=k, eta0=0.3 + 0.02 * seed, grid=False)
    res = night_efficiency(night.table)
    assert res.eta0 == pytest.approx(night.eta0, rel=0.05)
    assert abs(res.k_mag_per_airmass - k) < 0.02
    assert {r["hip"] for r in res.rejected} == set(night.clouded)
    assert all("dimmed" in r["reason"] for r in res.rejected)
    assert res.photometric
    # the uncertainties are honest: truth within 4 sigma
    assert abs(res.eta0 - night.eta0) < 4 * res.eta0_sigma
    assert abs(res.k_mag_per_airmass - k) < 4 * res.k_sigma
    assert res.design_efficiency == pytest.approx(0.40, abs=0.02)
    d = res.to_dict()
    for key in ("eta0", "eta0_sigma", "k_mag_per_airmass", "k_sigma", "per_star",
                "rejected", "photometric"):
        assert key in d
    json.dumps(d)  # JSON-ready


def test_scatter_beyond_the_counts_is_not_photometric():
    night = synth_night(11, n_cloud=0, grid=False)
    t = night.table
    rng = np.random.default_rng(5)
    # thin cirrus: 0.15 mag of extra scatter on every star
    t["counts_star"] = np.round((t["counts_star"] - t["counts_off"])
                                * 10 ** (-0.4 * np.abs(rng.normal(0, 0.15, len(t))))
                                + t["counts_off"])
    res = night_efficiency(t)
    assert not res.photometric
    assert "not photometric" in res.photometric_reason
    clear = night_efficiency(synth_night(11, n_cloud=0, grid=False).table)
    assert clear.photometric and clear.rejected == []


def test_too_few_usable_stars_is_a_clear_error():
    night = synth_night(2, n_stars=5, n_cloud=0, grid=False)
    t = night.table
    t["counts_star"][:3] = 0.0  # below the off-star counts: no net signal
    with pytest.raises(FitError, match=r"only 2 usable .*no net signal"):
        night_efficiency(t)


def test_all_stars_at_one_airmass_is_an_error_unless_k_is_held():
    night = synth_night(4, n_cloud=0, grid=False, el_range=(60.0, 62.0), k=0.1)
    with pytest.raises(FitError, match="one airmass"):
        night_efficiency(night.table)
    res = night_efficiency(night.table, k_fixed=0.1)
    assert not res.k_fitted and res.k_mag_per_airmass == 0.1
    assert res.eta0 == pytest.approx(night.eta0, rel=0.02)
    assert any("held" in f for f in res.flags)


def test_flagged_rows_and_blank_sky_are_left_out():
    night = synth_night(6, n_cloud=0)
    t = night.table
    t["flags"][3] = "saturated"
    res = night_efficiency(t)
    assert len(res.per_star) == 30  # the grid's blank-sky rows are not stars
    assert res.per_star[3]["reason"] == "flagged: saturated" and not res.per_star[3]["used"]
    assert res.rejected == [{"hip": int(t["hip"][3]), "time": str(t["time"][3]),
                             "kind": "model", "el_deg": float(t["el_deg"][3]),
                             "reason": "flagged: saturated"}]


def test_fit_extinction_rejects_bright_outliers_too():
    x = np.linspace(1.0, 3.0, 12)
    eta = 0.4 * 10 ** (-0.4 * 0.1 * x)
    eta[5] *= 1.5
    res = fit_extinction(x, eta, 0.01 * eta, labels=[{"hip": i} for i in range(12)])
    assert res.eta0 == pytest.approx(0.4, rel=1e-6)
    assert res.rejected[0]["hip"] == 5 and "brighter" in res.rejected[0]["reason"]


# --- observation table -----------------------------------------------------------------------


def test_observation_table_round_trip_and_errors(tmp_path):
    night = synth_night(1, n_stars=6, n_cloud=0, grid=False)
    t = night.table
    t["operator_note"] = "x"  # extra columns are kept
    path = write_observation_table(t, tmp_path / "night.ecsv")
    back = read_observation_table(path)
    assert "operator_note" in back.colnames and len(back) == 6
    np.testing.assert_allclose(back["counts_star"], t["counts_star"])

    text = path.read_text().splitlines()
    first = next(i for i, line in enumerate(text) if not line.startswith("#")) + 1
    bad = list(text)
    bad[first + 2] = bad[first + 2].replace(" model ", " modle ", 1)
    (tmp_path / "bad.ecsv").write_text("\n".join(bad) + "\n")
    with pytest.raises(FileFormatError, match=rf"bad\.ecsv:{first + 3}: column 'kind'"):
        read_observation_table(tmp_path / "bad.ecsv")

    t2 = t.copy()
    t2.remove_column("counts_off")
    t2.meta.pop("source", None)
    t2.write(tmp_path / "missing.ecsv")
    with pytest.raises(FileFormatError, match=r"missing\.ecsv: missing column\(s\) counts_off"):
        read_observation_table(tmp_path / "missing.ecsv")

    t3 = t.copy()
    t3["time"][1] = "yesterday"
    with pytest.raises(FileFormatError, match="row 1: column 'time'"):
        make_observation_table({c: list(t3[c]) for c in t3.colnames})

    t4 = t.copy()
    t4["el_deg"][2] = 120.0
    with pytest.raises(FileFormatError, match="row 2: column 'el_deg'"):
        make_observation_table({c: list(t4[c]) for c in t4.colnames})
    with pytest.raises(FileFormatError, match="no such file"):
        read_observation_table(tmp_path / "absent.ecsv")


def test_csv_with_only_the_required_columns(tmp_path):
    path = tmp_path / "min.csv"
    path.write_text("time,kind,hip,imag,az_deg,el_deg,count_time_s,counts_star,counts_off\n"
                    "2025-03-01T14:00:00,model,32349,-1.4,120,40,1,1e6,50\n")
    t = read_observation_table(path)
    assert np.isnan(t["v_minus_i"][0]) and t["flags"][0] == "" and t["hip"][0] == 32349


# --- the camera ------------------------------------------------------------------------------


def _gaussian_frame(rng, flux, sky, x0=40.3, y0=37.8, sigma=2.0, noise=3.0):
    yy, xx = np.mgrid[0:80, 0:90]
    star = flux / (2 * math.pi * sigma**2) * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2)
                                                     / (2 * sigma**2))
    return star + sky + rng.normal(0.0, noise, star.shape)


def test_camera_aperture_photometry_recovers_flux_and_sky():
    rng = np.random.default_rng(3)
    frame = _gaussian_frame(rng, 5000.0, 120.0)
    cp = camera_aperture_photometry(frame, 40.3, 37.8, radius_px=8.0, annulus_px=(12.0, 20.0))
    assert cp.sky_adu_per_px == pytest.approx(120.0, abs=0.5)
    assert abs(cp.flux_adu - 5000.0) < 4 * cp.flux_err_adu
    assert 20 < cp.snr < 1000
    with pytest.raises(PointingError, match="edge"):
        camera_aperture_photometry(frame, 5.0, 37.8)


def test_camera_transparency_recovers_the_camera_band_extinction():
    night = synth_night(8, n_cloud=0, grid=False, k=0.08)
    t = night.table
    cfg = PhotometryConfig()
    rng = np.random.default_rng(9)
    el = np.radians(np.asarray(t["el_deg"], float))
    k_cam = 0.2
    photons = expected_star_counts(t["imag"], t["v_minus_i"], el, 0.5, eta0=1.0,
                                   k_mag_per_airmass=k_cam, area_m2=cfg.area_m2,
                                   band=cfg.camera_band)
    adu = 0.05 * photons  # 0.05 ADU per photon (gain and QE unknown to the fit)
    t["camera_flux_adu"] = adu + rng.normal(0, 0.003 * adu)
    t["camera_flux_err_adu"] = 0.003 * adu
    t["camera_exposure_s"] = 0.5
    res = camera_efficiency(t)
    assert res.source == "camera" and res.units == "ADU per photon"
    assert res.eta0 == pytest.approx(0.05, rel=0.03)
    assert abs(res.k_mag_per_airmass - k_cam) < 0.02
    tr = np.array([r["transparency"] for r in res.per_star])
    x = np.array([r["airmass"] for r in res.per_star])
    np.testing.assert_allclose(tr, 10 ** (-0.4 * k_cam * x), rtol=0.03)
    with pytest.raises(FitError, match="camera"):
        camera_efficiency(synth_night(8, n_stars=5, grid=False).table)


# --- command line ----------------------------------------------------------------------------


@pytest.fixture
def cli_main():
    from pointing.cli import main

    return main


def test_efficiency_command(cli_main, tmp_path, capsys):
    night = synth_night(5, grid=False)
    path = write_observation_table(night.table, tmp_path / "night.ecsv")
    assert cli_main(["efficiency", str(path), "--json", "--plot",
                     str(tmp_path / "eff.png")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["eta0"] == pytest.approx(night.eta0, rel=0.05)
    assert out["go_no_go"]["verdict"] == "PASS"
    assert {r["hip"] for r in out["rejected"]} == set(night.clouded)
    assert (tmp_path / "eff.png").stat().st_size > 10_000

    poor = synth_night(5, grid=False, eta0=0.1)  # below the default minimum of 0.2
    path = write_observation_table(poor.table, tmp_path / "poor.ecsv")
    assert cli_main(["efficiency", str(path)]) == 1
    assert "FAIL: eta0 0.100 < 0.2" in capsys.readouterr().out

    assert cli_main(["efficiency", str(tmp_path / "absent.ecsv")]) == 2
    assert "absent.ecsv: no such file" in capsys.readouterr().err
