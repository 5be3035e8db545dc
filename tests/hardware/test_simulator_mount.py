"""The field preset's mount errors: drift, ringing after a slew, flexure hysteresis."""

from __future__ import annotations

import math

import pytest

from pointing.config.station import load_station
from pointing.hardware.simulator import simulated_station
from pointing.units import ARCSEC, DEG


@pytest.fixture(scope="module")
def station():
    return load_station("shanghai")


def _mount(station, **changes):
    return simulated_station(station, seed=1, preset="field", **changes)


def _offset(a, b):
    """(ΔA·cosE, ΔE) of true pointings a − b, arcsec."""
    return ((a[0] - b[0]) * math.cos(a[1]) / ARCSEC, (a[1] - b[1]) / ARCSEC)


def test_ideal_station_holds_still(station):
    hw = simulated_station(station, seed=1)
    hw.mount.slew(100 * DEG, 40 * DEG)
    p0 = hw.mount.true_pointing()
    hw.clock.sleep(3600.0)
    assert hw.mount.true_pointing() == p0


def test_field_mount_drifts_with_the_night(station):
    hw = _mount(station, settle_arcsec=0.0)
    hw.mount.slew(100 * DEG, 40 * DEG)
    p0 = hw.mount.true_pointing()
    hw.clock.sleep(1800.0)
    dx, de = _offset(hw.mount.true_pointing(), p0)
    rate_x, rate_e = hw.truth["field_errors"]["drift_arcsec_per_h"]
    assert dx == pytest.approx(rate_x / 2, rel=1e-4)  # cos E of the moved pointing
    assert de == pytest.approx(rate_e / 2, rel=1e-6)


def test_ringing_decays_after_a_slew(station):
    hw = _mount(station, drift_arcsec_per_h=(0.0, 0.0), settle_s=0.0)
    hw.mount.slew(200 * DEG, 60 * DEG)
    ringing = hw.mount.true_pointing()
    hw.clock.sleep(30.0)
    still = hw.mount.true_pointing()
    hw.clock.sleep(30.0)
    assert _offset(hw.mount.true_pointing(), still) == pytest.approx((0.0, 0.0), abs=1e-6)
    assert math.hypot(*_offset(ringing, still)) > 1.0  # 8″ amplitude, random phase


def test_elevation_hysteresis_by_the_direction_of_approach(station):
    hw = _mount(station, drift_arcsec_per_h=(0.0, 0.0), settle_arcsec=0.0,
                repeatability_arcsec=0.0)
    hw.mount.slew(150 * DEG, 30 * DEG)
    hw.mount.slew(150 * DEG, 50 * DEG)  # from below
    up = hw.mount.true_pointing()
    hw.mount.slew(150 * DEG, 70 * DEG)
    hw.mount.slew(150 * DEG, 50 * DEG)  # from above
    down = hw.mount.true_pointing()
    h = hw.truth["field_errors"]["hysteresis_arcsec"]
    dx, de = _offset(up, down)
    assert de == pytest.approx(2 * h * math.cos(50 * DEG), rel=1e-3)
    assert dx == pytest.approx(0.0, abs=1e-6)
