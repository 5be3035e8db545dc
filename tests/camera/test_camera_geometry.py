"""Camera geometry: [camera] keys, pixel ↔ offset convention, calibration from mount steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from star_frames import frame

from pointing.camera import (
    CAMERA_KEYS,
    Camera,
    CameraGeometry,
    Sensor,
    measure_star,
    read_camera_section,
)
from pointing.errors import ConfigError, FitError

URAD = 1e-6


# -- the [camera] section ------------------------------------------------------------


def test_defaults_describe_the_station_camera():
    cam = Camera.from_config({})
    g = cam.geometry
    assert (g.pixel_scale_urad, g.rotation_deg, g.parity) == (3.0, 0.0, 1)
    assert (g.width, g.height) == (1024, 1024)
    assert g.calibration_pixel == (511.5, 511.5)
    assert g.field_urad == (3072.0, 3072.0)
    assert cam.sensor.gain_e_per_adu == 0.5
    assert cam.sensor.saturation_adu == 64000.0  # 32000 e- / 0.5 e-/ADU < 65535
    assert cam.sensor.read_noise_adu == 12.0
    assert cam.fwhm_px == 3.0 and cam.min_snr == 10.0 and cam.max_elongation == 1.5
    assert set(read_camera_section(None)) == set(CAMERA_KEYS)


def test_section_values_are_used():
    section = {"pixel_scale_urad": 2.5, "rotation_deg": -12.0, "parity": -1,
               "width": 640, "height": 512, "calibration_pixel": [300.0, 250.5],
               "gain_e_per_adu": 2.0, "read_noise_e": 3.0, "full_well_e": 20000,
               "adc_bits": 12, "bias_adu": 100, "fwhm_px": 4.0, "min_snr": 5,
               "max_elongation": 2.0}
    cam = Camera.from_config(section)
    assert cam.geometry == CameraGeometry(2.5, -12.0, -1, (300.0, 250.5), 640, 512)
    assert cam.sensor.saturation_adu == 4095.0  # the 12-bit ADC saturates first
    assert Sensor.from_config({"saturation_adu": 3000}).saturation_adu == 3000.0
    assert cam.fwhm_px == 4.0 and cam.min_snr == 5.0 and cam.max_elongation == 2.0
    assert CameraGeometry.from_config(cam.geometry.to_config()) == cam.geometry


@pytest.mark.parametrize("section, key", [
    ({"pixel_scale_urad": -3}, "camera.pixel_scale_urad"),
    ({"pixel_scale_urad": "3"}, "camera.pixel_scale_urad"),
    ({"pixel_scale_urad": float("nan")}, "camera.pixel_scale_urad"),
    ({"rotation_deg": None}, "camera.rotation_deg"),
    ({"parity": 0}, "camera.parity"),
    ({"parity": True}, "camera.parity"),
    ({"width": 10.5}, "camera.width"),
    ({"height": 0}, "camera.height"),
    ({"calibration_pixel": [1.0]}, "camera.calibration_pixel"),
    ({"calibration_pixel": "centre"}, "camera.calibration_pixel"),
    ({"calibration_pixel": [2000, 10]}, "camera.calibration_pixel"),
    ({"gain_e_per_adu": 0}, "camera.gain_e_per_adu"),
    ({"read_noise_e": -1}, "camera.read_noise_e"),
    ({"adc_bits": 40}, "camera.adc_bits"),
    ({"saturation_adu": -5}, "camera.saturation_adu"),
    ({"fwhm_px": 0.1}, "camera.fwhm_px"),
    ({"max_elongation": 1.0}, "camera.max_elongation"),
    ({"pixel_scale": 3.0}, "camera.pixel_scale"),  # a typo must not pass silently
])
def test_bad_camera_keys_are_named(section, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        Camera.from_config(section)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        CameraGeometry.from_config(section)


def test_camera_of_a_station_file():
    from pointing.config import station
    section = station.load_station("shanghai").section("camera")
    assert Camera.from_station("shanghai") == Camera.from_config(section)


# -- pixel <-> offset -------------------------------------------------------------


def test_offset_convention():
    g = CameraGeometry(pixel_scale_urad=2.0, calibration_pixel=(100.0, 50.0))
    assert g.offset(100.0, 50.0) == (0.0, 0.0)
    # rotation 0, parity +1: +x is +azimuth (·cos E), +y is +elevation
    assert g.offset_urad(103.0, 50.0) == pytest.approx((6.0, 0.0))
    assert g.offset_urad(100.0, 54.0) == pytest.approx((0.0, 8.0))
    # rotation 90°: +azimuth points along image +y
    g90 = CameraGeometry(pixel_scale_urad=2.0, rotation_deg=90.0, calibration_pixel=(100, 50))
    assert g90.offset_urad(100.0, 53.0) == pytest.approx((6.0, 0.0))
    assert g90.offset_urad(97.0, 50.0) == pytest.approx((0.0, 6.0))
    # mirrored: +elevation along image −y
    gm = CameraGeometry(pixel_scale_urad=2.0, parity=-1, calibration_pixel=(100, 50))
    assert gm.offset_urad(100.0, 54.0) == pytest.approx((0.0, -8.0))
    assert gm.offset_urad(103.0, 50.0) == pytest.approx((6.0, 0.0))


@settings(max_examples=50, deadline=None)
@given(scale=st.floats(0.1, 50), rot=st.floats(-360, 360), parity=st.sampled_from([1, -1]),
       x=st.floats(-100, 1100), y=st.floats(-100, 1100))
def test_pixel_and_offset_are_inverse(scale, rot, parity, x, y):
    g = CameraGeometry(pixel_scale_urad=scale, rotation_deg=rot, parity=parity)
    a, e = g.offset(x, y)
    assert math.hypot(a, e) == pytest.approx(
        scale * URAD * math.hypot(x - 511.5, y - 511.5), rel=1e-9, abs=1e-15)
    assert g.pixel(a, e) == pytest.approx((x, y), abs=1e-7)


def test_offset_is_vectorised():
    g = CameraGeometry(rotation_deg=33.0, parity=-1)
    xs, ys = np.array([0.0, 511.5, 1000.0]), np.array([3.0, 511.5, 900.0])
    a, e = g.offset(xs, ys)
    assert a.shape == e.shape == (3,) and a[1] == e[1] == 0.0
    assert g.contains(xs, ys).all() and not g.contains(-1.0, 5.0)


# -- calibration from known mount steps ------------------------------------------------

TRUE = CameraGeometry(pixel_scale_urad=3.1, rotation_deg=37.0, parity=-1,
                      calibration_pixel=(320.0, 256.0), width=640, height=512)
PRIOR = CameraGeometry(calibration_pixel=(320.0, 256.0), width=640, height=512)


def step_grid(size_urad=150.0):
    s = size_urad * URAD
    return np.array([(da, de) for da in (-s, 0.0, s) for de in (-s, 0.0, s)])


def star_positions(geom, steps, start=(300.0, 270.0)):
    a0, e0 = geom.offset(*start)
    return np.stack(geom.pixel(a0 - steps[:, 0], e0 - steps[:, 1]), axis=1)


@pytest.mark.parametrize("parity", [1, -1])
def test_calibration_recovers_scale_rotation_and_parity(parity):
    true = CameraGeometry(3.1, 37.0, parity, (320.0, 256.0), 640, 512)
    steps = step_grid()
    rng = np.random.default_rng(5)
    xy = star_positions(true, steps) + rng.normal(0, 0.05, (len(steps), 2))
    cal = CameraGeometry.calibrate(steps, [tuple(p) for p in xy], prior=PRIOR)
    g = cal.geometry
    assert g.parity == parity
    assert abs(g.pixel_scale_urad - 3.1) < 4 * cal.sigma_pixel_scale_urad
    assert abs(g.rotation_deg - 37.0) < 4 * cal.sigma_rotation_deg
    assert 1e-4 < cal.sigma_pixel_scale_urad < 0.01
    assert 1e-3 < cal.sigma_rotation_deg < 0.2
    assert cal.residual_rms_px == pytest.approx(0.05 * math.sqrt(2), rel=0.5)
    assert cal.chi2[-parity] > 100 * cal.chi2[parity]
    assert g.calibration_pixel == PRIOR.calibration_pixel and g.width == 640
    assert cal.zero_step_xy == pytest.approx((300.0, 270.0), abs=0.1)


def test_calibration_from_frames():
    steps = step_grid(100.0)
    rng = np.random.default_rng(8)
    xy = star_positions(TRUE, steps)
    frames = [frame((512, 640), [(x, y, 30000)], rng) for x, y in xy]
    cal = CameraGeometry.calibrate(steps, frames, prior=PRIOR, camera=Sensor(), fast=True)
    assert cal.geometry.parity == -1
    assert cal.geometry.pixel_scale_urad == pytest.approx(3.1, abs=4 * cal.sigma_pixel_scale_urad)
    assert cal.geometry.rotation_deg == pytest.approx(37.0, abs=4 * cal.sigma_rotation_deg)
    assert cal.residual_rms_px < 0.1
    # measurements work as well as frames
    ms = [measure_star(f, camera=Sensor()) for f in frames]
    again = CameraGeometry.calibrate(steps, ms, prior=PRIOR)
    assert again.geometry.pixel_scale_urad == pytest.approx(
        cal.geometry.pixel_scale_urad, abs=cal.sigma_pixel_scale_urad)


def test_calibration_refuses_steps_that_leave_the_field():
    steps = step_grid(900.0)  # 900 µrad = 290 px: off a 640 × 512 frame
    xy = star_positions(TRUE, steps)
    with pytest.raises(FitError, match="outside the 640x512 field"):
        CameraGeometry.calibrate(steps, [tuple(p) for p in xy], prior=PRIOR)
    rng = np.random.default_rng(2)
    frames = [frame((512, 640), [(x, y, 30000)], rng) for x, y in xy]
    with pytest.raises(FitError, match=r"step \d+ .*NO_STAR.*smaller steps"):
        CameraGeometry.calibrate(steps, frames, prior=PRIOR, camera=Sensor(), fast=True)
    # and before moving: a prior geometry predicts where the star would go
    with pytest.raises(FitError, match="calibration step"):
        PRIOR.check_steps(steps, start_xy=(300.0, 270.0))
    PRIOR.check_steps(step_grid(100.0), start_xy=(300.0, 270.0))


def test_calibration_refuses_a_star_on_the_edge():
    steps = step_grid(100.0)
    xy = star_positions(TRUE, steps)
    xy[:, 0] += 3.0 - xy[:, 0].min()  # the leftmost position 3 px from the edge
    rng = np.random.default_rng(4)
    frames = [frame((512, 640), [(x, y, 30000)], rng) for x, y in xy]
    with pytest.raises(FitError, match="EDGE"):
        CameraGeometry.calibrate(steps, frames, prior=PRIOR, camera=Sensor(), fast=True)


def test_calibration_needs_two_directions_and_three_frames():
    line = np.array([(s, 0.0) for s in (-1e-4, 0.0, 1e-4, 2e-4)])
    with pytest.raises(FitError, match="both azimuth and elevation"):
        CameraGeometry.calibrate(line, [tuple(p) for p in star_positions(TRUE, line)],
                                 prior=PRIOR)
    two = step_grid()[:2]
    with pytest.raises(FitError, match="at least 3"):
        CameraGeometry.calibrate(two, [(1.0, 2.0), (3.0, 4.0)], prior=PRIOR)
    with pytest.raises(FitError, match="9 mount steps but 2 frames"):
        CameraGeometry.calibrate(step_grid(), [(1.0, 2.0), (3.0, 4.0)], prior=PRIOR)


def test_documented_section_is_the_defaults():
    import tomllib

    from pointing.camera import config

    block = config.__doc__.split("::")[1].split("Every key")[0]
    section = tomllib.loads("\n".join(line[4:] for line in block.splitlines()))["camera"]
    assert Camera.from_config(section) == Camera.from_config({})
    assert set(section) | {"saturation_adu"} == set(CAMERA_KEYS)
