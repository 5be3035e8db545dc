"""The simulated cameras' frames follow the sensor model (statistical tests that can fail).

A background pixel reads ``clip(round((Poisson(λ) + N(0, σ)) / gain + bias), 0, top)``;
the simulator draws uniform-sky pixels from that exact distribution by table
look-up (:class:`UniformPixels`) and the rest directly.  Thresholds are wide
(p ≈ 1e-6 for a correct simulator) so the tests do not flake, yet a wrong read
noise, gain, bias, Poisson mean or a lost hot pixel fails them by many sigmas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pointing.camera.sensor import Sensor
from pointing.config.station import load_station
from pointing.hardware.simulator import Faults, simulated_station
from pointing.hardware.simulator.devices import UniformPixels, read_out
from pointing.sky.catalog import load_catalog

SENSORS = [
    Sensor(gain_e_per_adu=0.5, read_noise_e=6.0, bias_adu=100.0),  # the tracking camera
    Sensor(gain_e_per_adu=1.0, read_noise_e=8.0, bias_adu=100.0, full_well_e=20000.0),
    Sensor(gain_e_per_adu=2.0, read_noise_e=1.5, bias_adu=10.0),  # steps wider than σ
    Sensor(gain_e_per_adu=0.5, read_noise_e=6.0, bias_adu=0.0),  # clipped at 0
    Sensor(gain_e_per_adu=1.0, read_noise_e=5.0, bias_adu=100.0, adc_bits=8),  # clipped at top
]
MEANS = [0.0, 0.03, 3.7, 180.0]


def direct_probabilities(mean_e: float, sensor: Sensor, values: np.ndarray) -> np.ndarray:
    """P(ADU = k) by the plain double sum over Poisson counts and ADU steps."""
    gain = sensor.gain_e_per_adu
    sigma = sensor.read_noise_e
    top = min(2.0**sensor.adc_bits - 1, sensor.saturation_adu)
    n = np.arange(0, int(mean_e + 20 * math.sqrt(mean_e) + 40))
    p_n = stats.poisson.pmf(n, mean_e)
    lo = np.where(values <= 0, -np.inf, (values - 0.5 - sensor.bias_adu) * gain)
    hi = np.where(values >= top, np.inf, (values + 0.5 - sensor.bias_adu) * gain)
    step = (stats.norm.cdf((hi[:, None] - n[None, :]) / sigma)
            - stats.norm.cdf((lo[:, None] - n[None, :]) / sigma))
    return step @ p_n


@pytest.mark.parametrize("sensor", SENSORS)
@pytest.mark.parametrize("mean_e", MEANS)
def test_uniform_pixel_table_is_the_sensor_model(mean_e, sensor):
    table = UniformPixels(mean_e, sensor)
    assert table.probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    ref = direct_probabilities(mean_e, sensor, table.values)
    np.testing.assert_allclose(table.probabilities, ref, atol=1e-12)
    assert ref.sum() == pytest.approx(1.0, abs=1e-9)  # the table misses no value


@pytest.mark.parametrize("sensor", SENSORS[:3])
@pytest.mark.parametrize("mean_e", [0.03, 180.0])
def test_sampled_pixels_follow_the_table(mean_e, sensor):
    """Chi-square of 2 million draws against the tabulated probabilities."""
    table = UniformPixels(mean_e, sensor)
    draws = table.sample(np.random.default_rng(7), (2000, 1000)).ravel()
    counts = np.bincount(draws, minlength=int(table.values[-1]) + 1)[table.values]
    assert counts.sum() == draws.size  # nothing outside the table
    expected = table.probabilities * draws.size
    big = expected > 20
    chi2 = float(np.sum((counts[big] - expected[big]) ** 2 / expected[big]))
    assert stats.chi2.sf(chi2, big.sum() - 1) > 1e-6
    # and the moments of the sensor model: bias + λ/g and (λ + σ²)/g² + 1/12 of rounding
    g, s = sensor.gain_e_per_adu, sensor.read_noise_e
    var = (mean_e + s**2) / g**2 + 1 / 12
    assert abs(draws.mean() - (sensor.bias_adu + mean_e / g)) < 5 * math.sqrt(var / draws.size)
    assert abs(draws.var() / var - 1) < 5 * math.sqrt(2 / draws.size) + 1e-3


def test_table_draws_match_direct_draws():
    """Two-sample check against Poisson + normal drawn and rounded pixel by pixel."""
    sensor = SENSORS[0]
    rng = np.random.default_rng(3)
    direct = read_out(rng, np.full(400_000, 2.5), sensor)
    table = UniformPixels(2.5, sensor).sample(rng, (400_000,))
    values = np.arange(min(direct.min(), table.min()), max(direct.max(), table.max()) + 1)
    a = np.array([np.count_nonzero(direct == v) for v in values])
    b = np.array([np.count_nonzero(table == v) for v in values])
    keep = (a + b) > 40
    res = stats.chi2_contingency(np.vstack([a[keep], b[keep]]))
    assert res.pvalue > 1e-6


@pytest.fixture(scope="module")
def dark_frames():
    """Long and zero exposures of the tracking camera with every star taken away."""
    station = load_station("shanghai")
    everything = frozenset(int(h) for h in load_catalog()["hip"])
    backend = simulated_station(station, seed=5, faults=Faults(lost_stars=everything))
    cam = backend.tracking_camera
    long = cam.expose(20.0).data.astype(float)
    b_az, b_el = backend.mount.true_pointing()
    sky_e = cam.sky_electrons(b_az, b_el, 20.0)
    zero = cam.expose(0.0).data.astype(float)
    return cam, long, sky_e, zero


def test_frame_background_mean_and_variance(dark_frames):
    cam, long, sky_e, _ = dark_frames
    s = cam.sensor
    rows, cols, _ = cam.hot_pixels
    mask = np.ones(long.shape, bool)
    mask[rows, cols] = False
    pixels = long[mask]
    g = s.gain_e_per_adu
    assert sky_e > 1.0  # a background the Poisson part shows in
    mean = s.bias_adu + sky_e / g
    var = (sky_e + s.read_noise_e**2) / g**2 + 1 / 12
    assert abs(pixels.mean() - mean) < 5 * math.sqrt(var / pixels.size)
    assert abs(pixels.var() / var - 1) < 5 * math.sqrt(2 / pixels.size) + 2e-3
    # independent pixels: no correlation between neighbours
    r = np.corrcoef(long[:, :-1][mask[:, :-1] & mask[:, 1:]],
                    long[:, 1:][mask[:, :-1] & mask[:, 1:]])[0, 1]
    assert abs(r) < 5 / math.sqrt(pixels.size)


def test_read_noise_of_a_zero_exposure(dark_frames):
    cam, _, _, zero = dark_frames
    s = cam.sensor
    read = math.sqrt(max(zero.var() - 1 / 12, 0.0)) * s.gain_e_per_adu
    assert read == pytest.approx(s.read_noise_e, rel=5 * math.sqrt(0.5 / zero.size) + 2e-3)
    assert zero.mean() == pytest.approx(s.bias_adu, abs=5 * s.read_noise_e / s.gain_e_per_adu
                                        / math.sqrt(zero.size))


def test_hot_pixels_carry_their_dark_rate(dark_frames):
    cam, long, sky_e, _ = dark_frames
    s = cam.sensor
    rows, cols, rate = cam.hot_pixels
    assert rows.size == 40
    g = s.gain_e_per_adu
    top = min(2.0**s.adc_bits - 1, s.saturation_adu)
    expect = np.minimum(s.bias_adu + (sky_e + rate * 20.0) / g, top)
    sd = np.sqrt(sky_e + rate * 20.0 + s.read_noise_e**2) / g
    z = (long[rows, cols] - expect) / sd
    unsaturated = expect < top - 6 * sd
    assert unsaturated.sum() > 10
    assert np.max(np.abs(z[unsaturated])) < 5.5
    assert np.all(long[rows, cols][~unsaturated] >= top - 6 * sd[~unsaturated])
