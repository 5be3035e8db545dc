"""Pass forecast: synthetic geometry, the channel by hand, the key of a high pass, sources."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from pointing.config.station import load_station
from pointing.errors import ConfigError
from pointing.link.budget import Calibration, link_budget
from pointing.link.decoy import BasisData, KeyInput, analyse_key
from pointing.link.forecast import circular_pass, forecast_pass, forecast_trajectory
from pointing.link.source import load_source, source_from_dict, source_names
from pointing.photometry.background import BackgroundModel
from pointing.plots.link import plot_forecast

RE_KM = 6371.0

#: a Shanghai calibration like the simulated city night's (pointing nightly --simulate):
#: eta0 0.36, k 0.07 mag/airmass, verification 3.8 µrad, light dome toward 216°
NIGHT = BackgroundModel(dark_cps=43.6, sky_cps=19.3, dome_cps=9739.0, dome_az_deg=215.8,
                        dome_scale_deg=5.0, dome_kappa=1.52)


def shanghai(**changes) -> Calibration:
    c = Calibration(station="Shanghai", eta0=0.36, k_mag_per_airmass=0.07, dark_cps=43.6,
                    aperture_m=0.28, obstruction_m=0.095, verification_rms_urad=3.8,
                    background=NIGHT, source="simulated night")
    return replace(c, **changes)


@pytest.fixture(scope="module")
def micius():
    return load_source("micius")


def test_circular_pass_geometry():
    g = circular_pass(500.0, 72.0, min_el_deg=0.0)
    assert np.degrees(g.el_rad.max()) == pytest.approx(72.0, abs=1e-6)
    assert np.all(np.diff(g.t_s) == 1.0) and g.t_s[np.argmax(g.el_rad)] == 0.0
    # range and elevation obey the circular-orbit triangle at every sample
    r = RE_KM + 500.0
    assert np.allclose(g.range_km**2 + 2 * RE_KM * g.range_km * np.sin(g.el_rad),
                       r**2 - RE_KM**2, rtol=1e-9)
    assert np.degrees(g.az_rad[np.argmax(g.el_rad)]) == pytest.approx(90.0, abs=1e-6)
    assert np.allclose(g.el_rad, g.el_rad[::-1])  # symmetric about culmination
    zenith = circular_pass(500.0, 90.0)
    assert zenith.range_km.min() == pytest.approx(500.0, abs=0.01)
    # horizon to horizon at 500 km over the zenith: 2 acos(Re/r) / ω ≈ 11.3 min
    omega = math.sqrt(398600.4418 / r**3)
    assert zenith.t_s[-1] - zenith.t_s[0] == pytest.approx(2 * math.acos(RE_KM / r) / omega,
                                                           abs=2.0)


def test_channel_by_hand(micius):
    g = circular_pass(500.0, 60.0, min_el_deg=10.0)
    cal = shanghai()
    f = forecast_trajectory(g, micius, cal)
    i = int(np.argmax(g.el_rad))
    b = link_budget(g.range_km[i], g.el_rad[i], g.az_rad[i], cal, divergence_urad=10.0,
                    jitter_urad=1.2, tx_efficiency=0.26)
    eta, bg = b.total[0], b.background_cps[0]
    y0 = 1 - math.exp(-bg * 2e-9)  # background inside the 2 ns gate
    q_mu = 0.5 * (1 - (1 - y0) * math.exp(-eta * 0.8))
    e_q = 0.5 * (y0 / 2 + 0.01 * (1 - math.exp(-eta * 0.8)))
    assert f.sifted_bps[i] == pytest.approx(100e6 * 0.5 * q_mu, rel=1e-12)
    assert f.qber[i] == pytest.approx(e_q / q_mu, rel=1e-12)
    assert f.signal_cps[i] == pytest.approx(100e6 * (0.5 * (1 - math.exp(-0.8 * eta))
                                                     + 0.25 * (1 - math.exp(-0.1 * eta))))
    assert f.noise_in_gate_cps[i] == pytest.approx(bg * 2e-9 * 100e6)
    # the pass key: the finite-key analysis of the time-averaged (1 s samples) gains
    u = f.usable
    assert u.sum() == np.sum(g.el_rad >= math.radians(20.0))
    y0s = -np.expm1(-f.background_cps[u] * 2e-9)
    eta_u = f.budget.total[u]
    qm = 0.5 * (1 - (1 - y0s) * np.exp(-eta_u * 0.8))
    qn = 0.5 * (1 - (1 - y0s) * np.exp(-eta_u * 0.1))
    em = np.sum(0.5 * (y0s / 2 + 0.01 * -np.expm1(-eta_u * 0.8))) / np.sum(qm)
    en = np.sum(0.5 * (y0s / 2 + 0.01 * -np.expm1(-eta_u * 0.1))) / np.sum(qn)
    data = BasisData(q_mu=qm.mean(), q_nu=qn.mean(), y0=0.5 * y0s.mean(), e_mu=em, e_nu=en)
    expect = analyse_key(KeyInput(duration_s=float(u.sum()), rep_rate_hz=100e6,
                                  intensities=micius.intensities, z=data, x=data,
                                  f_ec=1.16))
    assert f.key_bits == expect.key_bits


def test_high_pass_over_shanghai_gives_a_key_of_the_published_order(micius, tmp_path):
    """Published portable-station passes: sifted hundreds of kbit, final key tens of kbit
    (Shanghai 2018-10-03: 72°, 78 s, 345.9 kbit, 1.36 %, 63791 bits)."""
    f = forecast_trajectory(circular_pass(500.0, 72.0), micius, shanghai(),
                            min_key_bits=10000)
    assert 1e5 < f.sifted_bits < 1e7
    assert 1e4 < f.key_bits < 1e6
    assert 0.005 < f.mean_qber < 0.03
    assert f.go and "GO" in f.verdict()
    # the brief's typical QKD window (35° rising to 25° setting) gives less
    short = forecast_trajectory(circular_pass(500.0, 72.0), micius, shanghai(),
                                min_el_deg=25.0, rising_min_el_deg=35.0)
    assert short.usable_s < f.usable_s and short.key_bits < f.key_bits
    fig = plot_forecast(f, tmp_path / "forecast.png")
    assert (tmp_path / "forecast.png").stat().st_size > 10000
    assert "secure key" in fig.axes[0].get_title()
    d = f.to_dict()
    assert d["key_bits"] == f.key_bits and len(d["samples"]) == f.t_s.size
    assert d["key"]["privacy_factor"] > 0


def test_sources_reproduce_the_published_rates_they_were_calibrated_on(micius):
    """The shipped transmitter efficiencies (calibrated, see the source files) give the
    brief's Tiangong-2 counts at Nanshan and the portable station's Micius sifted rate,
    and the Tiangong-2 sifted rate it was not fitted to."""
    nanshan = Calibration(station="Nanshan", eta0=10 ** -0.7, k_mag_per_airmass=0.1,
                          dark_cps=100.0, aperture_m=1.2, obstruction_m=0.0,
                          eta0_includes_detector=False, detector_efficiency=0.5)
    near, far = 388.0, 719.0
    el_far = math.asin((near**2 + 2 * 6371.0 * near - far**2) / (2 * 6371.0 * far))
    tg2 = forecast_pass(np.array([0.0, 1.0]), np.array([near, far]),
                        np.array([math.pi / 2, el_far]), np.zeros(2), load_source("tiangong2"),
                        nanshan)
    assert 1000 < tg2.signal_cps[1] < tg2.signal_cps[0] < 5000  # brief: 1000-5000 counts/s
    assert tg2.sifted_bps[1] < 783 < tg2.sifted_bps[0]  # brief: mean 783 bit/s over 143 s
    design = Calibration.design(load_station("shanghai"))
    rates = forecast_pass(np.array([0.0, 1.0]), np.array([500.0, 1000.0]),
                          np.radians([60.0, 25.0]), np.zeros(2), micius, design).sifted_bps
    assert math.sqrt(rates[0] * rates[1]) == pytest.approx(2000.0, rel=0.05)  # "~2 kbit/s"


def test_low_pass_and_daylight_are_no_go(micius):
    low = forecast_trajectory(circular_pass(500.0, 15.0), micius, shanghai())
    assert low.key is None and low.key_bits == 0 and not low.go
    assert any("no usable time" in n for n in low.notes)
    bright = shanghai(background=BackgroundModel(dark_cps=43.6, sky_cps=3e7))
    day = forecast_trajectory(circular_pass(500.0, 72.0), micius, bright)
    assert day.mean_qber > 0.1 and day.key_bits == 0 and "NO-GO" in day.verdict()


def test_min_key_sets_the_verdict(micius):
    f = forecast_trajectory(circular_pass(500.0, 40.0), micius, shanghai(),
                            min_key_bits=1e9)
    assert f.key_bits > 0 and not f.go


def test_trajectory_adapter_and_sunlit_samples(micius):
    g = circular_pass(500.0, 72.0)
    sunlit = g.t_s > 0  # the satellite leaves Earth's shadow at culmination
    traj = SimpleNamespace(t_s=g.t_s, range_km=g.range_km, el_rad=g.el_rad, az_rad=g.az_rad,
                           sunlit=sunlit, utc=None)
    f = forecast_trajectory(traj, micius, shanghai())
    assert not np.any(f.usable & sunlit)
    assert any("sunlit" in n for n in f.notes)
    full = forecast_trajectory(traj, micius, shanghai(), require_shadow=False)
    assert full.usable_s > f.usable_s
    with pytest.raises(ConfigError, match="az_rad"):
        forecast_trajectory(SimpleNamespace(t_s=g.t_s, range_km=g.range_km, el_rad=g.el_rad),
                            micius, shanghai())
    with pytest.raises(ConfigError, match="t_s must increase"):
        forecast_pass(g.t_s[::-1], g.range_km, g.el_rad, g.az_rad, micius, shanghai())
    with pytest.raises(ConfigError, match="range_km"):
        forecast_pass(g.t_s, g.range_km[:-1], g.el_rad, g.az_rad, micius, shanghai())


def test_shipped_sources_and_bad_source():
    assert {"micius", "tiangong2"} <= set(source_names())
    m, t = load_source("micius"), load_source("tiangong2")
    assert (m.rep_rate_hz, m.intensities.mu, m.intensities.nu) == (100e6, 0.8, 0.1)
    assert (t.rep_rate_hz, t.intensities.mu, t.intensities.nu) == (50e6, 0.6, 0.35)
    assert t.wavelength_nm == 850.15 and t.divergence_urad == 35.0
    assert "brief" in m.provenance and "brief" in t.provenance
    good = {"source": {"wavelength_nm": 850, "rep_rate_hz": 1e8, "divergence_urad": 10,
                       "intensities": {"mu": 0.8, "nu": 0.1, "p_mu": 0.5, "p_nu": 0.25,
                                       "p_vac": 0.25}}}
    assert source_from_dict(good).misalignment == 0.01
    bad = {"source": {**good["source"], "divergence_urad": -1}}
    with pytest.raises(ConfigError, match=r"source\.divergence_urad"):
        source_from_dict(bad)
    bad = {"source": {**good["source"], "intensities": {"mu": 0.8, "nu": 0.1, "p_mu": 0.5,
                                                        "p_nu": 0.25, "p_vac": 0.5}}}
    with pytest.raises(ConfigError, match="p_mu"):
        source_from_dict(bad)
    with pytest.raises(ConfigError, match=r"source\.colour"):
        source_from_dict({"source": {**good["source"], "colour": "red"}})
    with pytest.raises(ConfigError, match="unknown source"):
        load_source("voyager")


def test_margin_takes_loss_off_the_link(micius):
    g = circular_pass(500.0, 72.0)
    base = forecast_trajectory(g, micius, shanghai())
    lossy = forecast_trajectory(g, micius, shanghai(), margin_db=3.0)
    assert np.allclose(lossy.efficiency_db, base.efficiency_db - 3.0)
    # sifted rate ∝ 1 − e^(−ημ) ≈ ημ: halved by 3 dB (background is negligible here)
    assert lossy.sifted_bits == pytest.approx(base.sifted_bits * 10 ** -0.3, rel=0.01)
    assert lossy.key_bits < base.key_bits
    with pytest.raises(ConfigError, match="margin_db"):
        forecast_trajectory(g, micius, shanghai(), margin_db=-1.0)
