"""A simulated pass: true orbit off the TLE, image motion, servo, and the pass steps on them.

Short windows at a reduced rate keep this file fast; the whole pass is the
acceptance run of the closing note (``pointing track --simulate ...``).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pointing.camera.config import Camera
from pointing.cli import main
from pointing.config.station import load_station
from pointing.errors import PointingError
from pointing.hardware.base import Backend, TrajectoryMount, WindowedCamera
from pointing.hardware.simulator.beacon import PassConfig, pass_station
from pointing.hardware.simulator.satellite import (
    ImageMotion,
    SatelliteSky,
    TleError,
    TrueOrbit,
)
from pointing.hardware.simulator.servo import ServoConfig, ServoMount
from pointing.hardware.simulator.station import SimulatorConfig, VirtualClock
from pointing.model import PointingModel
from pointing.passes import TrackComputer, load_satellite, pass_trajectory, predict_passes
from pointing.passes.predict import datetime64_to_jd
from pointing.tracking import analyse_tracking, read_tracking_log
from pointing.tracking.fly import FlyConfig, fly_pass

TLE = Path(__file__).resolve().parents[2] / "examples" / "micius.tle"
START = "2021-04-29T12:00"


@pytest.fixture(scope="module")
def setup():
    station = load_station("shanghai")
    sat = load_satellite(TLE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        passes = predict_passes(station, sat, START, 6.0, 10.0)
    p = passes.get(1)
    sim = SimulatorConfig.from_section(station.section("simulator"))
    traj = pass_trajectory(station, sat, p, PointingModel(list(sim.terms),
                                                          list(sim.terms.values())))
    wide = dict(station.section("wide_camera"))
    wide.pop("aperture_m")
    return station, sat, p, traj, Camera.from_config(station.section("camera")), \
        Camera.from_config(wide)


def _fly(setup, seconds: float, rate: float = 25.0, **changes):
    station, sat, p, traj, cam, wide = setup
    config = PassConfig(**{"seed": 3, **changes})
    backend = pass_station(station, sat, p, config=config)
    fly = FlyConfig(rate_hz=rate, loop_bandwidth_hz=2.0, max_duration_s=seconds)
    return backend, fly_pass(backend, traj, cam, wide, fly)


def test_true_orbit_is_the_elements_shifted_in_time(setup):
    """The along-track error is a time shift of the inertial (TEME) states."""
    station, sat, p, *_ = setup
    rise = float(datetime64_to_jd(p.rise))
    tc = TrackComputer(station, sat, rise, 400.0)
    true = TrueOrbit(station, sat, rise, 400.0, TleError(2.5, 0.0, 0.0))
    r, v = true.states(np.array([50.0, 100.0]))
    r0, v0 = tc.states(np.array([52.5, 102.5]))
    assert np.abs(r - r0).max() < 1e-9 and np.abs(v - v0).max() < 1e-12
    shifted = TrueOrbit(station, sat, rise, 400.0, TleError(0.0, 1.0, 0.5))
    r1, _ = shifted.states(np.array([50.0]))
    r2, _ = tc.states(np.array([50.0]))
    assert np.linalg.norm(r1 - r2) == pytest.approx(math.hypot(1.0, 0.5), rel=1e-6)
    # a cross-track kilometre moves the satellite by about 1 km / range
    off = SatelliteSky(station, sat, p, TleError(0.0, 1.0, 0.0))
    base = SatelliteSky(station, sat, p, TleError(0.0, 0.0, 0.0))
    a1, e1 = off.direction(100.0)
    a0, e0 = base.direction(100.0)
    sep = math.hypot((a1 - a0) * math.cos(e0), e1 - e0)
    assert sep == pytest.approx(1.0 / base.range_km(100.0), rel=0.1)


def test_image_motion_rms_knee_and_seed():
    m = ImageMotion(3.0, 15.0, 0.28, 200.0, seed=1, t_start_s=0.0)
    t = np.arange(0, 200, 0.0025)
    xy = np.array([m.at(v) for v in t])
    assert np.std(xy, axis=0) == pytest.approx([3e-6, 3e-6], rel=0.05)
    again = ImageMotion(3.0, 15.0, 0.28, 200.0, seed=1, t_start_s=0.0)
    assert again.at(12.3) == m.at(12.3)
    assert ImageMotion(3.0, 15.0, 0.28, 200.0, seed=2, t_start_s=0.0).at(12.3) != m.at(12.3)
    # the spectrum falls steeply above the knee (0.3 v / D = 16 Hz)
    f = np.fft.rfftfreq(t.size, 0.0025)
    psd = np.abs(np.fft.rfft(xy[:, 0])) ** 2
    low = psd[(f > 2) & (f < 8)].mean()
    high = psd[(f > 60) & (f < 120)].mean()
    assert high < low / 100


def test_servo_settles_a_step_without_overshoot():
    station = load_station("shanghai")
    clock = VirtualClock("2021-04-29T15:00:00")
    m = ServoMount(station, clock, PointingModel([], []),
                   ServoConfig(wind_accel_rad_s2=0.0, cogging_accel_rad_s2=0.0),
                   start_az=1.0, start_el=0.5)
    assert isinstance(m, TrajectoryMount)
    m.offset(0.0, 1e-3)
    peak = 0.0
    for _ in range(60):
        clock.sleep(0.01)
        peak = max(peak, m.axes()[1] - 0.5)
    assert peak < 1.05e-3
    assert m.position()[1] - 0.5 == pytest.approx(1e-3, abs=1e-7)
    with pytest.raises(PointingError, match="position_bandwidth_hz"):
        ServoConfig(position_bandwidth_hz=30.0).check()


def test_a_short_pass_acquires_estimates_the_timing_and_locks(setup, tmp_path):
    backend, rec = _fly(setup, 12.0)
    assert isinstance(backend.tracking_camera, WindowedCamera)
    names = [n for _, n in rec.events]
    assert names[:3] == ["open loop", "acquired", "locked"]
    true_dt = backend.truth["tle_error"]["timing_error_s"]
    assert abs(rec.estimates[0].time_offset_s - true_dt) < 0.25
    log = rec.to_log(str(setup[3].utc[0])[:26])
    a = analyse_tracking(log, min_el_deg=0.0)
    assert a.n_samples > 150
    assert a.rms_x_urad < 10 and a.rms_y_urad < 10
    assert a.fraction_in_fov == 1.0
    assert a.lock_time_s < 5.0
    counts = log.extra["counts"][log.locked]
    assert counts.min() >= 0 and counts.mean() > 5  # signal through the field while locked


def test_no_feed_forward_means_a_big_error_before_the_loop(setup):
    """Without its timing estimate the open loop is off by J·δ: the acquisition offsets show it."""
    _, rec = _fly(setup, 2.0, tle_error=TleError(3.0, 0.0, 0.0))
    wide = [i for i, c in enumerate(rec.camera) if c == "wide" and rec.detected[i]]
    assert wide
    r = math.hypot(rec.x_urad[wide[0]], rec.y_urad[wide[0]])
    assert r > 3000  # µrad: 3 s of a few mrad/s
    assert rec.estimates[0].time_offset_s == pytest.approx(3.0, abs=0.25)


def test_the_beacon_comes_on_at_its_elevation(setup):
    """Acquisition waits for the beacon: the first detection is when the satellite reaches it."""
    _, rec = _fly(setup, 14.0, beacon_on_el_deg=11.0)
    names = [n for _, n in rec.events]
    assert "acquired" in names
    first = rec.t_s[rec.detected.index(True)]
    el = [e for e, c in zip(rec.el_deg, rec.camera, strict=True) if c == "wide"]
    assert 10.9 <= el[rec.detected.index(True)] <= 11.3
    assert first > 3.0
    assert not any(rec.detected[:rec.detected.index(True)])


def test_same_seed_same_pass(setup):
    _, a = _fly(setup, 3.0)
    _, b = _fly(setup, 3.0)
    assert a.x_urad[-20:] == b.x_urad[-20:] and a.counts == b.counts
    _, c = _fly(setup, 3.0, seed=4)
    assert c.x_urad[-20:] != a.x_urad[-20:]


def test_more_image_motion_more_error(setup):
    _, calm = _fly(setup, 8.0, image_motion_urad=1.0)
    _, rough = _fly(setup, 8.0, image_motion_urad=8.0)

    def rms(rec):
        x = np.array(rec.x_urad)[np.array(rec.locked)]
        return float(np.sqrt(np.mean(x**2)))

    assert rms(rough) > 2 * rms(calm)


def test_a_mount_that_cannot_follow_is_named(setup):
    station, sat, p, traj, cam, wide = setup
    backend = pass_station(station, sat, p, config=PassConfig(seed=0))

    class Plain:  # a Mount without follow/offset
        def __init__(self, m):
            self.limits, self.slew, self.track = m.limits, m.slew, m.track
            self.stop, self.position = m.stop, m.position

    plain = replace(backend, mount=Plain(backend.mount))
    assert isinstance(plain, Backend)
    with pytest.raises(PointingError, match="cannot follow a trajectory"):
        fly_pass(plain, traj, cam, wide)
    with pytest.raises(PointingError, match="exposure_s"):
        fly_pass(backend, traj, cam, wide, FlyConfig(rate_hz=100.0, exposure_s=0.02))


def test_command_writes_log_summary_and_figures(tmp_path, capsys):
    out = tmp_path / "pass"
    args = ["track", "--simulate", "--station", "shanghai", "--tle", str(TLE), "--start", START,
            "--hours", "6", "--pass", "1", "--seed", "2", "--rate", "20", "--loop-bandwidth",
            "2", "--duration", "6", "--qkd-min-el", "0", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "timing error: estimated" in text and "true" in text
    doc = json.loads((out / "summary.json").read_text())
    assert {"rms_x_urad", "rms_y_urad", "fraction_in_fov", "lock_time_s"} <= set(doc["analysis"])
    q = doc["acquisition"]
    assert abs(q["timing_error_estimate_minus_true_s"]) < 0.3
    assert q["time_to_acquire_s"] < 2 and q["time_to_lock_s"] < 5
    assert doc["photon_counts"]["selected"] > 0
    log = read_tracking_log(out / "tracking.ecsv")
    assert log.locked.any() and "counts" in log.extra
    for png in ("tracking.png", "tracking_spectrum.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("extra, needle", [
    ([], "exactly one of --simulate and --backend"),
    (["--simulate", "--servo-bandwidth", "0"], "--servo-bandwidth"),
    (["--simulate", "--image-motion", "nan"], "image motion"),
    (["--simulate", "--rate", "10", "--loop-bandwidth", "5"], "loop_bandwidth_hz"),
    (["--simulate", "--timing-error", "1e9"], "timing_error_s"),
    (["--simulate", "--rate", "0"], "rate_hz"),
    (["--simulate", "--beacon-el", "95"], "beacon_on_el_deg"),
    (["--simulate", "--out", __file__], "not a directory"),
])
def test_command_bad_options_one_line(tmp_path, capsys, extra, needle):
    args = ["track", "--station", "shanghai", "--tle", str(TLE), "--start", START, "--hours",
            "6", "--pass", "1", "--out", str(tmp_path / "x"), *extra]
    if "--out" in extra:
        del args[args.index("--out"):args.index("--out") + 2]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
