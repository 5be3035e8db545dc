"""Star selection, slew plan, the ``pointing select`` command and the sky chart."""

from __future__ import annotations

import itertools
import json
import math

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time
from hypothesis import given, settings
from hypothesis import strategies as st_h

from pointing.cli import main
from pointing.config.station import Mount, load_station
from pointing.errors import ConfigError, PointingError
from pointing.sky.catalog import load_catalog
from pointing.sky.places import moon_altaz, observed_altaz
from pointing.sky.select import (
    DEFAULT_TERMS,
    condition_number,
    design_matrix,
    qualifying_stars,
    select_stars,
)
from pointing.sky.slews import plan_slews, slew_time

STATIONS = ("shanghai", "beijing", "jinan", "weihai", "mohe", "lijiang")
NIGHT = "2026-12-01T14:00:00"  # 1 Dec 2026, 22:00 China Standard Time (UTC+8)


@pytest.fixture(scope="module")
def selections():
    return {name: select_stars(name, NIGHT, 18) for name in STATIONS}


@pytest.mark.parametrize("name", STATIONS)
def test_acceptance_each_reference_station(selections, name):
    sel = selections[name]
    st = sel.station
    stars = sel.stars
    assert len(stars) == 18 and list(stars["order"]) == list(range(1, 19))
    assert len(set(stars["hip"])) == 18
    # every constraint, checked independently at each star's planned time
    cat = load_catalog()
    rows = cat[np.searchsorted(cat["hip"], stars["hip"])]
    assert np.all((rows["imag"] >= 1.0) & (rows["imag"] <= 5.0))
    for flag in ("nonsingle", "variable", "colour_missing", "colour_suspect"):
        assert not np.any(rows[flag]), flag
    times = Time(list(stars["time"]))
    assert times[0] == sel.start
    assert np.all(np.diff(times.mjd) * 86400 >= sel.dwell_s - 1e-6)
    az, el = observed_altaz(rows, st, times)
    az, el = np.degrees(np.diag(az)), np.degrees(np.diag(el))
    np.testing.assert_allclose(el, stars["el"], atol=1e-6)
    assert np.all((el >= 20.0) & (el <= 85.0))
    maz, mel = moon_altaz(st, times)
    d = np.degrees(np.arccos(np.clip(
        np.sin(np.radians(el)) * np.sin(mel)
        + np.cos(np.radians(el)) * np.cos(mel) * np.cos(np.radians(az) - maz), -1, 1)))
    assert np.all(d >= 30.0)
    # all four azimuth quadrants and both halves of the elevation band
    assert set(np.floor(np.mod(az, 360) / 90).astype(int)) == {0, 1, 2, 3}
    assert np.any(el < 52.5) and np.any(el >= 52.5)
    # mount azimuth within the cable wrap and pointing at the same sky azimuth
    maz_deg = np.asarray(stars["mount_az"])
    assert np.all((maz_deg >= -270) & (maz_deg <= 270))
    np.testing.assert_allclose(np.mod(maz_deg, 360), np.mod(az, 360), atol=1e-6)
    assert sel.min_separation_deg >= 10.0 - 1e-6
    assert math.isfinite(sel.condition_number) and sel.condition_number < 100
    assert 0 < sel.slew_time_s <= sel.naive_slew_time_s
    assert sel.slew_time_s == pytest.approx(float(np.sum(stars["slew_s"])))


def test_beats_brightest_and_random_on_condition_number(selections):
    """Compared on the same qualifying stars at the same (mid-run) instant."""
    for name in ("shanghai", "mohe"):
        sel = selections[name]
        cands = qualifying_stars(name, NIGHT, duration_s=sel.criteria["duration_s"])
        mid = cands.az.shape[1] // 2
        az, el = cands.az[:, mid], cands.el[:, mid]
        pos = np.searchsorted(cands.stars["hip"], sel.stars["hip"])
        ours = condition_number(az[pos], el[pos])
        bright = np.argsort(np.asarray(cands.stars["imag"]), kind="stable")[:18]
        assert ours < condition_number(az[bright], el[bright])
        rng = np.random.default_rng(1)
        rand = [condition_number(az[p], el[p]) for p in
                (rng.choice(az.size, 18, replace=False) for _ in range(50))]
        assert ours < min(rand), (name, ours, min(rand))
    # and through the public strategies
    sel = selections["lijiang"]
    for strategy, seed in (("brightest", 0), ("random", 7)):
        other = select_stars("lijiang", NIGHT, 18, strategy=strategy, seed=seed)
        assert sel.condition_number < other.condition_number


def test_design_matrix_matches_the_docstring_forms():
    az, el = np.radians([30.0, 200.0]), np.radians([40.0, 70.0])
    a = design_matrix(az, el)
    assert a.shape == (4, len(DEFAULT_TERMS))
    col = {t: a[:, i] for i, t in enumerate(DEFAULT_TERMS)}
    ce, se = np.cos(el), np.sin(el)
    np.testing.assert_allclose(col["IA"], np.r_[-ce, 0, 0])   # dA = -IA, times cos E
    np.testing.assert_allclose(col["IE"], np.r_[0, 0, 1, 1])
    np.testing.assert_allclose(col["CA"], np.r_[-1, -1, 0, 0])
    np.testing.assert_allclose(col["NPAE"], np.r_[-se, 0, 0])
    np.testing.assert_allclose(col["AN"], np.r_[-np.sin(az) * se, -np.cos(az)])
    np.testing.assert_allclose(col["AW"], np.r_[-np.cos(az) * se, np.sin(az)])
    np.testing.assert_allclose(col["TF"], np.r_[0, 0, -ce])
    np.testing.assert_allclose(col["TX"], np.r_[0, 0, -ce / se])
    # one elevation only: IE, TF, TX cannot be told apart
    assert condition_number(np.radians(np.arange(0, 360, 30)), np.full(12, 0.7)) > 1e6
    assert condition_number(az, el) == math.inf  # 4 rows, 8 terms


def test_slew_time_profile():
    np.testing.assert_allclose(slew_time([0.0, 5.0, 20.0, 100.0], 10.0, 5.0),
                               [0.0, 2.0, 4.0, 12.0])  # triangle below v^2/a = 20 deg


def test_plan_slews_uses_the_cable_wrap():
    mount = Mount(az_speed_deg_s=5.0, el_speed_deg_s=5.0, az_accel_deg_s2=5.0,
                  el_accel_deg_s2=5.0, settle_s=1.0)
    # stars around the south: going through south (180) is short on the -wrap
    az = np.array([170.0, 190.0, 200.0, 160.0])
    el = np.full(4, 45.0)
    order, mount_az, slews = plan_slews(az, el, mount)
    assert sorted(order) == [0, 1, 2, 3]
    assert slews[0] == 0.0
    visited = np.asarray(az)[order]
    np.testing.assert_allclose(np.mod(mount_az, 360), visited)
    assert all(-270 <= a <= 270 for a in mount_az)
    # visits them as one sweep: 40 deg in total
    assert np.ptp(mount_az) == pytest.approx(40.0)
    assert sum(slews) == pytest.approx(
        sum(float(slew_time(abs(b - a), 5.0, 5.0)) + 1.0
            for a, b in itertools.pairwise(mount_az)))
    # a star at 350 must use -10; one at 100 has two choices, 100 or -260
    order, mount_az, _ = plan_slews([350.0, 100.0], [30.0, 30.0], mount, start=(0.0, 30.0))
    assert dict(zip(order, mount_az, strict=True)) == {0: -10.0, 1: 100.0}


def test_json_output_keys(capsys):
    assert main(["select", "--station", "weihai", "--time", "2026-12-01T22:00+08:00",
                 "--n", "16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("stars", "condition_number", "min_separation_deg", "slew_time_s",
                "naive_slew_time_s", "moon_az_deg", "moon_el_deg"):
        assert key in out
    assert len(out["stars"]) == 16
    for key in ("hip", "name", "ra_deg", "dec_deg", "imag", "vmag", "az_deg", "el_deg",
                "order", "time"):
        assert key in out["stars"][0]
    assert out["stars"][0]["time"] == "2026-12-01T14:00:00.000Z"
    assert [s["order"] for s in out["stars"]] == list(range(1, 17))


def test_local_time_and_text_output(capsys, tmp_path):
    png = tmp_path / "sky.png"
    assert main(["select", "--station", "lijiang", "--time", "2026-12-01T22:00", "--local",
                 "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "Lijiang" in text and "2026-12-01 14:00:00 UTC" in text
    assert "condition number" in text and "azimuth-sorted" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20000


def test_station_file_path_and_bad_station_file(tmp_path, capsys):
    good = tmp_path / "site.toml"
    good.write_text('name = "Nanshan"\n[site]\nlatitude_deg = 43.4755\n'
                    'longitude_deg = 87.1767\nheight_m = 2080.0\n', encoding="utf-8")
    sel = select_stars(good, NIGHT, 15)
    assert sel.station.name == "Nanshan" and len(sel.stars) == 15
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[site]\nlatitude_deg = 95\nlongitude_deg = 0\nheight_m = 0\n')
    with pytest.raises(ConfigError, match=r"site\.latitude_deg"):
        select_stars(bad, NIGHT)
    assert main(["select", "--station", str(bad), "--time", NIGHT]) == 2
    assert "site.latitude_deg" in capsys.readouterr().err


@pytest.mark.parametrize("when", ["1950-06-01T00:00:00", "2101-01-01T00:00:00"])
def test_times_outside_the_catalog_range(when, capsys):
    with pytest.raises(PointingError, match="outside the range"):
        select_stars("shanghai", when)
    assert main(["select", "--time", when]) == 2
    assert "outside the range" in capsys.readouterr().err


def test_unreadable_time_on_command_line(capsys):
    assert main(["select", "--time", "yesterday evening"]) == 2
    assert "--time" in capsys.readouterr().err


def test_too_few_stars_is_a_clear_error():
    with pytest.raises(PointingError, match=r"only \d+ stars qualify.*18 needed.*Moon"):
        select_stars("mohe", NIGHT, 18, imag_min=1.0, imag_max=1.6)
    # a narrow elevation band leaves too few stars or empties part of the sky
    with pytest.raises(PointingError, match=r"no qualifying star|only"):
        select_stars("shanghai", NIGHT, 6, el_min_deg=80.0, el_max_deg=85.0)


def test_bad_arguments():
    with pytest.raises(PointingError, match="at least 4"):
        select_stars("shanghai", NIGHT, 3)
    with pytest.raises(PointingError, match="mount's limits"):
        select_stars("shanghai", NIGHT, el_max_deg=95.0)
    with pytest.raises(PointingError, match="imag_min"):
        select_stars("shanghai", NIGHT, imag_min=5.0, imag_max=2.0)
    with pytest.raises(PointingError, match="flag"):
        select_stars("shanghai", NIGHT, exclude=("cloudy",))
    with pytest.raises(PointingError, match="longer duration_s"):
        select_stars("shanghai", NIGHT, 18, duration_s=600.0)


def test_moon_is_avoided_when_up():
    """20 Dec 2026 22:00 in Shanghai: the Moon is high; no star within 30 deg of it."""
    sel = select_stars("shanghai", "2026-12-20T14:00:00", 18)
    assert sel.moon_el_deg > 30
    st = sel.station
    times = Time(list(sel.stars["time"]))
    maz, mel = moon_altaz(st, times)
    az, el = np.radians(sel.stars["az"]), np.radians(sel.stars["el"])
    cosd = np.sin(el) * np.sin(mel) + np.cos(el) * np.cos(mel) * np.cos(az - maz)
    assert np.degrees(np.arccos(cosd)).min() >= 30.0
    later = select_stars("shanghai", Time("2026-12-20T14:00:00") + 1 * u.hour, 18,
                         moon_min_sep_deg=60.0)
    assert later.n_candidates < sel.n_candidates


@settings(max_examples=30, deadline=None)
@given(st_h.lists(st_h.tuples(st_h.floats(0, 359.9), st_h.floats(20, 85)),
                  min_size=2, max_size=9))
def test_plan_never_worse_than_azimuth_sorted(points):
    """Any star set: a valid wrap per star, and no slower than the sorted sweep."""
    from pointing.sky.slews import SlewPlanner, naive_order

    mount = load_station().mount
    az = np.array([p[0] for p in points])
    el = np.array([p[1] for p in points])
    order, mount_az, slews = plan_slews(az, el, mount)
    assert sorted(order) == list(range(len(points)))
    assert all(mount.az_min_deg <= a <= mount.az_max_deg for a in mount_az)
    np.testing.assert_allclose(np.mod(mount_az, 360), az[order] % 360, atol=1e-9)
    naive = SlewPlanner(az, el, mount).total(naive_order(az))
    assert sum(slews) <= naive + 1e-9


def test_public_api():
    import pointing

    assert pointing.select_stars is select_stars
    assert pointing.load_station("jinan").name == "Jinan"
    assert len(pointing.load_catalog()) > 3000
