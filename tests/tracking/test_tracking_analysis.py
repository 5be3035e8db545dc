"""The analysis is exact on logs with known statistics; the coupling model on known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import lfilter

from pointing.errors import PointingError
from pointing.link.coupling import field_coupling, field_coupling_for_jitter, pointing_key_cost
from pointing.tracking import TrackingLog, analyse_tracking


def sinusoid_log(fs=50.0, periods=40, f=0.5, ax=6.0, ay=4.0, t_acq=10.0, lock_after=3.0):
    """No target until t_acq, target seen, locked lock_after s later; whole periods locked."""
    t_lock = t_acq + lock_after
    t = np.arange(0.0, t_lock + periods / f, 1.0 / fs)
    x = ax * np.sin(2 * np.pi * f * (t - t_lock))
    y = ay * np.cos(2 * np.pi * f * (t - t_lock))
    x[t < t_lock] = 500.0  # large pull-in offsets: must not count
    x[t < t_acq] = y[t < t_acq] = np.nan
    el = np.where(t < t_lock + 5, 10.0, 50.0)  # the first 5 s of lock are below min-el
    return TrackingLog.from_arrays(t, x, y, el, t >= t_lock - 1e-9)


def test_sinusoids_give_their_rms_exactly():
    log = sinusoid_log()
    r = analyse_tracking(log, min_el_deg=20.0)
    sel = log.t_s >= 18.0 - 1e-9
    assert r.n_samples == sel.sum()
    # the selection starts 5 s (2.5 periods) into lock: RMS over whole half-periods is exact
    assert r.rms_x_urad == pytest.approx(6.0 / math.sqrt(2), rel=1e-3)
    assert r.rms_y_urad == pytest.approx(4.0 / math.sqrt(2), rel=1e-3)
    assert r.rms_urad == pytest.approx(math.sqrt(26.0), rel=1e-3)
    assert r.max_urad == pytest.approx(6.0, rel=1e-6)
    assert r.fraction_in_fov == 1.0
    assert r.acquisition_time_s == pytest.approx(10.0, abs=1e-9)
    assert r.lock_time_s == pytest.approx(3.0, abs=1e-9)
    assert r.n_lock_losses == 0
    # a field of 10 µrad (radius 5): outside where 36 sin² + 16 cos² >= 25, i.e. sin² >= 0.45
    r10 = analyse_tracking(log, fov_urad=10.0)
    phase = 2 * np.pi * 0.5 * (log.t_s[r10.selected] - 13.0)
    assert r10.fraction_in_fov == pytest.approx(np.mean(np.sin(phase) ** 2 < 0.45), abs=1e-12)
    # uniform phase: P(|sin| < s) = 2 asin(s) / π (sampled: ±1 sample at each crossing)
    assert r10.fraction_in_fov == pytest.approx(2 * math.asin(math.sqrt(0.45)) / math.pi,
                                                abs=0.02)


def test_bias_counts_and_min_el_selects():
    t = np.arange(1000) * 0.1
    el = np.linspace(5, 60, 1000)
    log = TrackingLog.from_arrays(t, np.full(1000, 3.0), np.full(1000, -4.0), el,
                                  np.ones(1000, bool))
    r = analyse_tracking(log, min_el_deg=30.0)
    assert r.n_samples == int((el >= 30).sum())
    assert (r.rms_x_urad, r.rms_y_urad, r.rms_urad) == pytest.approx((3.0, 4.0, 5.0))
    assert (r.mean_x_urad, r.mean_y_urad) == pytest.approx((3.0, -4.0))
    assert r.lock_time_s == 0.0 and r.acquisition_time_s == 0.0
    assert r.duration_s == pytest.approx(r.n_samples * 0.1)


def test_known_fraction_and_excursion_and_lock_losses():
    n = 200
    t = np.arange(n) * 0.05
    x = np.zeros(n)
    x[[20, 50, 51, 120]] = [49.9, 50.0, 60.0, -80.0]  # 3 of 200 at radius >= 50
    locked = np.ones(n, bool)
    locked[[100, 101, 150]] = False  # two losses; row 120 stays locked
    log = TrackingLog.from_arrays(t, x, np.zeros(n), np.full(n, 45.0), locked)
    r = analyse_tracking(log)
    assert r.n_samples == 197
    assert r.fraction_in_fov == pytest.approx(194 / 197, abs=1e-15)
    assert r.max_urad == 80.0 and r.max_time_s == pytest.approx(6.0)
    assert r.n_lock_losses == 2


def test_never_locked_and_no_target():
    t = np.arange(100) * 0.1
    nan = np.full(100, np.nan)
    none = analyse_tracking(TrackingLog.from_arrays(t, nan, nan, np.full(100, 30.0),
                                                    np.zeros(100, bool)))
    assert none.n_samples == 0 and none.acquisition_time_s is None and none.lock_time_s is None
    d = none.to_dict()
    assert d["rms_urad"] is None and d["fraction_in_fov"] is None and d["psd_corner_hz"] is None
    seen = np.where(t >= 2.0, 1.0, np.nan)
    r = analyse_tracking(TrackingLog.from_arrays(t, seen, seen, np.full(100, 30.0),
                                                 np.zeros(100, bool)))
    assert r.acquisition_time_s == pytest.approx(2.0) and r.lock_time_s is None


@pytest.mark.parametrize("fc", [1.0, 2.0, 5.0])
def test_ar1_corner_frequency(fc):
    """AR(1) x_n = a x_(n-1) + w: PSD ∝ 1/(1 − 2a cos ω + a²), −3 dB at a known frequency."""
    fs, n = 100.0, 60000
    a = math.exp(-2 * math.pi * fc / fs)
    true = fs / (2 * math.pi) * math.acos((4 * a - a * a - 1) / (2 * a))
    rng = np.random.default_rng(int(fc * 10))
    x = lfilter([1.0], [1.0, -a], rng.normal(size=n))
    y = lfilter([1.0], [1.0, -a], rng.normal(size=n))
    log = TrackingLog.from_arrays(np.arange(n) / fs, x, y, np.full(n, 45.0), np.ones(n, bool))
    sp = analyse_tracking(log).spectrum
    assert sp.sample_rate_hz == pytest.approx(fs)
    assert sp.corner_hz == pytest.approx(true, rel=0.12)
    # the PSD integrates to the variance
    df = sp.freq_hz[1] - sp.freq_hz[0]
    assert np.sum(sp.psd_x) * df == pytest.approx(np.var(x), rel=0.05)


def test_white_error_has_no_corner():
    rng = np.random.default_rng(5)
    n = 20000
    x, y = rng.normal(size=(2, n))
    log = TrackingLog.from_arrays(np.arange(n) / 50.0, x, y, np.full(n, 45.0), np.ones(n, bool))
    sp = analyse_tracking(log).spectrum
    assert sp.corner_x_hz is None and sp.corner_y_hz is None and sp.corner_hz is None


def test_spectrum_uses_the_longest_gap_free_run():
    n = 3000
    t = np.arange(n) / 10.0
    t[2000:] += 30.0  # a 30 s gap
    log = TrackingLog.from_arrays(t, np.zeros(n), np.zeros(n), np.full(n, 45.0),
                                  np.ones(n, bool))
    assert analyse_tracking(log).spectrum.n_samples == 2000


def test_options_are_checked():
    log = sinusoid_log()
    for kw in ({"min_el_deg": 95.0}, {"fov_urad": 0.0}, {"spot_fwhm_urad": math.nan}):
        with pytest.raises(PointingError):
            analyse_tracking(log, **kw)


def test_coupling_model():
    # on axis: 1 − exp(−R²/2σ²); σ = FWHM / 2.3548
    sigma = 20.0 / (2 * math.sqrt(2 * math.log(2)))
    assert field_coupling(0.0, 60.0, 20.0) == pytest.approx(1 - math.exp(-900 / (2 * sigma**2)))
    # a point-like spot: inside fully below the radius, outside beyond
    assert field_coupling([49.0, 51.0], 100.0, 0.01) == pytest.approx([1.0, 0.0], abs=1e-9)
    # at the edge of the field half of a small spot is in
    assert field_coupling(50.0, 100.0, 1.0) == pytest.approx(0.5, abs=0.01)
    # Monte Carlo of Gaussian jitter against the closed form
    rng = np.random.default_rng(2)
    off = np.hypot(*rng.normal(0, 12.0, size=(2, 200000)))
    mc = np.mean(field_coupling(off, 60.0, 20.0))
    assert mc == pytest.approx(field_coupling_for_jitter(12.0, 60.0, 20.0), rel=2e-3)
    cost = pointing_key_cost(off, 60.0, 20.0)
    assert cost["key_cost_fraction"] == pytest.approx(1 - mc / field_coupling(0.0, 60.0, 20.0))
    loss_db = -10 * math.log10(1 - cost["key_cost_fraction"])
    assert cost["pointing_loss_db"] == pytest.approx(loss_db)
    assert pointing_key_cost(np.zeros(5))["key_cost_fraction"] == 0.0
