"""Equatorial mounts (issue 18): terms, exact application, pier sides, fit, files, bad input."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.errors import FileFormatError, FitError, PointingError, TermError
from pointing.model.equatorial import pier_side, to_far_side, to_sky
from pointing.model.fit import fit
from pointing.model.formats import read_gpoint, read_mod, read_tpoint, write_mod, write_tpoint
from pointing.model.model import PointingModel
from pointing.model.run import PointingRun
from pointing.model.synthetic import simulate_equatorial_run
from pointing.model.terms import parse_term
from pointing.units import ARCSEC, DEG, wrap_pi

LAT = 40.0
ALL = ["IH", "ID", "CH", "NP", "MA", "ME", "TF", "TX", "FO", "DAF", "HDSD", "HHSH2", "HXCH"]


def _unit(h, d):
    return np.stack([np.cos(d) * np.cos(h), -np.cos(d) * np.sin(h), np.sin(d)])


def _sep(h1, d1, h2, d2):
    """Angle between two positions (radians), accurate for tiny angles."""
    u, v = _unit(h1, d1), _unit(h2, d2)
    return np.arctan2(np.linalg.norm(np.cross(u, v, axis=0), axis=0), np.sum(u * v, axis=0))


# ---- terms ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["IH", "ID", "CH", "NP", "MA", "ME", "FO", "DAF", "HDSD",
                                  "HHSH2", "HXCH2SD"])
def test_equatorial_terms_are_refused_by_name_on_altaz(name):
    with pytest.raises(TermError, match=name):
        parse_term(name)
    assert parse_term(name, "gem").mount == "equatorial"


@pytest.mark.parametrize("name, words", [("IA", "IA is an alt-az term"),
                                         ("NPAE", "NPAE is an alt-az term"),
                                         ("HESE", "result 'E'"), ("HDSA", "coordinate 'A'"),
                                         ("HQSD", "unknown result")])
def test_altaz_terms_are_refused_by_name_on_equatorial(name, words):
    with pytest.raises(TermError, match=words):
        parse_term(name, "fork")


def test_shared_names_take_each_mounts_formula():
    assert parse_term("TF").mount == "altaz" and parse_term("TF", "gem").mount == "equatorial"
    assert "sin z" in parse_term("TF", "fork").description


# ---- the documented formulas are what the kernel applies (first order) --------------

def _first_order(name, h, d, lat=LAT):
    """The module docstring's table: (Δh, Δδ) per unit coefficient."""
    p = math.radians(lat)
    sh, ch, sd, cd, td = np.sin(h), np.cos(h), np.sin(d), np.cos(d), np.tan(d)
    return {
        "IH": (-1.0 + 0 * h, 0 * h), "ID": (0 * h, -1.0 + 0 * h),
        "CH": (-1 / cd, 0 * h), "NP": (-td, 0 * h),
        "MA": (ch * td, -sh), "ME": (-sh * td, -ch),
        "TF": (-math.cos(p) * sh / cd, -(math.cos(p) * ch * sd - math.sin(p) * cd)),
        "FO": (0 * h, -ch), "DAF": (-(math.cos(p) * ch + math.sin(p) * td), 0 * h),
        "HDSD": (0 * h, sd), "HHSH2": (np.sin(2 * h), 0 * h), "HXCH": (ch / cd, 0 * h),
    }[name]


@pytest.mark.parametrize("name", ["IH", "ID", "CH", "NP", "MA", "ME", "TF", "FO", "DAF",
                                  "HDSD", "HHSH2", "HXCH"])
def test_kernel_first_order_matches_the_documented_sign_table(name):
    rng = np.random.default_rng(1)
    h = rng.uniform(-3, 3, 200)
    d = rng.uniform(-1.2, 1.2, 200)
    c = 0.01  # arcsec: far into the linear regime
    th, td = PointingModel([name], [c], mount="fork", latitude_deg=LAT).true_from_raw(h, d)
    want_h, want_d = _first_order(name, h, d)
    np.testing.assert_allclose((th - h) / (c * ARCSEC), want_h, atol=1e-4)
    np.testing.assert_allclose((td - d) / (c * ARCSEC), want_d, atol=1e-4)


def test_polar_axis_misalignment_of_degrees_is_an_exact_rotation():
    m = PointingModel(["MA", "ME"], [2.5 * 3600, -1.7 * 3600], mount="gem")
    rng = np.random.default_rng(2)
    h, d = rng.uniform(-3, 3, 300), rng.uniform(-1.5, 1.5 + math.pi, 300)
    th, td = m.true_from_raw(h, d)
    raw, true = _unit(h, d), _unit(th, td)
    np.testing.assert_allclose(raw.T @ raw, true.T @ true, atol=1e-13)  # angles kept


# ---- round trips, both pier sides --------------------------------------------------

BIG = [7200.0, -3600.0, 180.0, -90.0, 3000.0, -2000.0, 25.0, 4.0, 12.0, -8.0, 5.0, 3.0, 2.0]


@pytest.mark.parametrize("mount", ["fork", "gem"])
def test_round_trip_below_1e_9_rad_on_both_sides(mount):
    m = PointingModel(ALL, BIG, mount=mount, latitude_deg=-35.0)
    rng = np.random.default_rng(3)
    h = rng.uniform(-math.pi, math.pi, 5000)
    d = rng.uniform(-math.pi / 2, 1.5 * math.pi, 5000)  # near and far side, across the poles
    th, td = m.true_from_raw(h, d)
    rh, rd, status = m.raw_from_true_status(th, td)
    assert np.all(status == 0)
    ok = ~np.isnan(rh)
    assert np.all(ok)
    # the demand reaches the target everywhere, the poles included ...
    fh, fd = m.true_from_raw(rh, rd)
    assert np.max(_sep(fh, fd, th, td)) < 1e-9
    # ... and is the raw position we started from away from the poles (within a degree or
    # two of a pole several encoder positions reach the same direction, as at an alt-az
    # mount's zenith: any of them is a correct demand)
    away = np.abs(np.cos(d)) > math.sin(3 * DEG)
    assert np.max(np.abs(rd - d)[away]) < 1e-9 and np.max(_sep(rh, rd, h, d)[away]) < 1e-9
    assert np.all(pier_side(rd) == pier_side(d))  # the side asked for is kept
    # scalars agree with arrays
    assert m.raw_from_true(float(th[7]), float(td[7])) == pytest.approx((h[7], d[7]), abs=1e-9)


def test_southern_far_side_written_below_minus_90_is_the_same_position():
    m = PointingModel(["IH", "ID", "CH"], [100, 200, 50], mount="gem")
    a = m.true_from_raw(0.3, math.radians(-225.0))
    b = m.true_from_raw(0.3, math.radians(135.0))
    assert a == pytest.approx(b, abs=1e-15)


def test_collimation_and_index_flip_on_the_sky_between_pier_sides():
    m = PointingModel(["CH", "ID"], [60.0, 30.0], mount="gem")
    h, d = 0.4, 0.3
    near = to_sky(*m.true_from_raw(h, d))
    far = to_sky(*m.true_from_raw(*to_far_side(h, d)))
    dh_near = wrap_pi(near[0] - h) * math.cos(d)
    dh_far = wrap_pi(far[0] - h) * math.cos(d)
    assert dh_near == pytest.approx(-60 * ARCSEC, rel=1e-4)
    assert dh_far == pytest.approx(60 * ARCSEC, rel=1e-4)
    assert near[1] - d == pytest.approx(-30 * ARCSEC, rel=1e-4)
    assert far[1] - d == pytest.approx(30 * ARCSEC, rel=1e-4)


# ---- the same fit ----------------------------------------------------------------------

@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), lat=st.floats(-60, 60))
def test_known_coefficients_recovered_within_sigmas(seed, lat):
    rng = np.random.default_rng(seed)
    names = ["IH", "ID", "CH", "NP", "MA", "ME", "TF", "FO", "HDSD"]
    vals = [rng.uniform(-3, 3) * 3600, rng.uniform(-2, 2) * 3600, *rng.uniform(-200, 200, 2),
            *rng.uniform(-1, 1, 2) * 3600, *rng.uniform(-30, 30, 3)]
    truth = PointingModel(names, vals, mount="gem", latitude_deg=lat)
    run = simulate_equatorial_run(truth, 250, seed=seed, noise_arcsec=1.0)
    assert run.far_side.any() and (~run.far_side).any()
    res = fit(run, names)
    for n, v in zip(names, vals, strict=True):
        assert abs(res.model.values[n] - v) < 5 * res.model.sigmas[n], n
    assert res.sky_rms == pytest.approx(math.sqrt(2), rel=0.2)
    assert res.model.mount == "gem" and res.loo_rms > res.sky_rms


def test_default_terms_of_an_equatorial_run_are_the_equatorial_ones():
    truth = PointingModel(["IH", "ID", "CH", "NP", "MA", "ME"], [300, -200, 40, 20, 100, -50],
                          mount="fork", latitude_deg=LAT)
    res = fit(simulate_equatorial_run(truth, 80, seed=1))
    assert res.model.names == ("IH", "ID", "CH", "NP", "MA", "ME")
    assert res.model["IH"] == pytest.approx(300, abs=1.0)


def test_altaz_terms_on_an_equatorial_run_are_named():
    truth = PointingModel(["IH"], [10.0], mount="gem", latitude_deg=LAT)
    run = simulate_equatorial_run(truth, 30)
    with pytest.raises(FitError, match="IA is an alt-az term"):
        fit(run, ["IH", "IA"])


def test_equatorial_terms_on_an_altaz_run_are_named():
    from pointing.model.synthetic import simulate_run
    run = simulate_run(PointingModel(["IA"], [10.0]), 30)
    with pytest.raises(FitError, match="IH is an equatorial term"):
        fit(run, ["IA", "IH"])


def test_latitude_dependent_term_without_a_latitude_is_named():
    truth = PointingModel(["IH"], [10.0], mount="gem", latitude_deg=LAT)
    run = simulate_equatorial_run(truth, 30)
    bare = PointingRun(run.az_true, run.el_true, run.az_raw, run.el_raw, mount="gem")
    with pytest.raises(FitError, match="TF on an equatorial mount needs the site latitude"):
        fit(bare, ["IH", "TF"])


def test_unknown_mount_is_refused():
    with pytest.raises(PointingError, match="mount"):
        PointingRun([0.0], [0.0], [0.0], [0.0], mount="dobson")
    with pytest.raises(TermError, match="unknown mount type"):
        PointingModel(["IH"], [1.0], mount="dobson")


# ---- files ------------------------------------------------------------------------------

@pytest.mark.parametrize("mount", ["fork", "gem"])
def test_tpoint_equat_file_round_trips(tmp_path, mount):
    truth = PointingModel(["IH", "ID", "CH", "ME"], [500, -300, 60, 900], mount=mount,
                          latitude_deg=-30.5)
    run = simulate_equatorial_run(truth, 40, seed=2)
    st_h = np.random.default_rng(5).uniform(0, 24, len(run))  # hour angles come from ST − RA
    run = dataclasses.replace(run, extra={"sidereal_time_h": st_h})
    run = run.with_used([i != 3 for i in range(len(run))])
    p = write_tpoint(tmp_path / "eq.dat", run)
    text = p.read_text()
    assert ": EQUAT" in text and ": ALTAZ" not in text
    back = read_tpoint(p)
    assert back.mount == mount and back.is_equatorial
    for a, b in ((back.ha_true, run.ha_true), (back.ha_raw, run.ha_raw)):
        assert np.max(np.abs((a - b + math.pi) % (2 * math.pi) - math.pi)) < 1e-9
    assert np.max(np.abs(back.dec_true - run.dec_true)) < 1e-9
    assert np.max(np.abs(back.dec_raw - run.dec_raw)) < 1e-9
    assert back.used.tolist() == run.used.tolist()
    assert back.latitude_deg == pytest.approx(-30.5, abs=1e-4)


def test_tpoint_equat_sexagesimal_record_is_read(tmp_path):
    p = tmp_path / "eq.dat"
    p.write_text("Fork run\n: EQUAT\n+40 00 00\n"
                 "01 00 00.0 -00 30 00.0 01 00 06.0 -00 29 30.0 02 00.0\n"
                 "05 30 00.0 +45 00 00.0 05 30 00.0 +45 00 10.0 04 30.0\n")
    run = read_tpoint(p)
    assert run.mount == "fork"
    assert np.degrees(run.ha_true[0]) == pytest.approx(15.0)
    assert np.degrees(run.dec_true[0]) == pytest.approx(-0.5)
    assert np.degrees(run.ha_raw[0]) == pytest.approx(15.0 - 6 * 15 / 3600)
    assert np.degrees(run.ha_true[1]) == pytest.approx(-15.0)


def test_json_and_mod_files_carry_the_mount(tmp_path):
    m = PointingModel(ALL, BIG, mount="gem", latitude_deg=52.0, sigmas=[1.0] * len(ALL))
    back = PointingModel.load(m.save(tmp_path / "m.json"))
    assert back.mount == "gem" and back.values == m.values and back.latitude_deg == 52.0
    h, d = np.array([0.3, 2.0]), np.array([0.2, 2.5])
    np.testing.assert_array_equal(back.true_from_raw(h, d)[0], m.true_from_raw(h, d)[0])
    write_mod(tmp_path / "m.mod", m)
    mod = read_mod(tmp_path / "m.mod", latitude_deg=52.0)
    assert mod.mount == "fork" and mod.names == m.names  # .mod does not say fork or GEM
    assert read_mod(tmp_path / "m.mod", mount="gem", latitude_deg=52.0).mount == "gem"
    np.testing.assert_allclose(mod.true_from_raw(h, d)[1], m.true_from_raw(h, d)[1],
                               atol=1e-8)
    with pytest.raises(TermError, match="TF on an equatorial mount needs the site latitude"):
        read_mod(tmp_path / "m.mod").true_from_raw(h, d)
    assert PointingModel(["IA"], [1.0]).to_dict()["mount"] == "altaz"


def test_json_model_with_unknown_mount_is_refused(tmp_path):
    data = PointingModel(["IH"], [1.0], mount="fork").to_dict()
    data["mount"] = "tripod"
    with pytest.raises(FileFormatError, match="field 'mount'"):
        PointingModel.from_dict(data)
    data["mount"] = "altaz"
    with pytest.raises(FileFormatError, match="IH is an equatorial term"):
        PointingModel.from_dict(data)


GEM_FILE = """#  Observation  MJD  MNT-LST  RA-MNT  DEC-MNT  AXRA  AXDEC  RA-TRUE  DEC-TRUE
# observatory -69.4497 -35.4959 1430.0
13 2457688.57173 352.226949865 352.211157653 27.5041 960723 562821 352.189203863 27.9193058321
4 2457688.6259 11.7832347147 191.767563868 -225.5041 -4803951 -4704281 11.7257928915 45.02321
"""


def test_rts2_equatorial_gpoint_is_read_with_its_far_side(tmp_path):
    p = tmp_path / "gem.txt"
    p.write_text(GEM_FILE)
    run = read_gpoint(p)
    assert run.mount == "gem" and run.far_side.tolist() == [False, True]
    assert np.degrees(run.dec_raw[1]) == pytest.approx(134.4959)
    assert np.degrees(run.dec_true[1]) == pytest.approx(180 - 45.02321)
    assert np.degrees(run.ha_raw[0]) == pytest.approx(352.226949865 - 352.211157653)
    assert run.time_mjd[0] == pytest.approx(57688.07173)
    assert run.latitude_deg == -35.4959


def test_gpoint_file_mixing_mount_types_is_refused_at_the_line(tmp_path):
    p = tmp_path / "mixed.txt"
    p.write_text(GEM_FILE + "# altaz -69.4497 -35.4959 1430.0\n")
    with pytest.raises(FileFormatError, match="mixing mount types") as ei:
        read_gpoint(p)
    assert ei.value.line == 5


def test_tpoint_raw_declination_beyond_270_is_refused(tmp_path):
    p = tmp_path / "eq.dat"
    p.write_text("cap\n: EQUAT\n+40 00 00\n1 10 2 280 3\n")
    with pytest.raises(FileFormatError, match="raw declination") as ei:
        read_tpoint(p)
    assert ei.value.line == 4


def test_units_are_radians_in_and_out():
    m = PointingModel(["IH"], [3600.0], mount="fork")
    assert m.true_from_raw(0.0, 0.0)[0] == pytest.approx(-DEG)


def test_pier_side_missing_on_the_true_position_is_named():
    raw_far = math.radians(130.0)
    with pytest.raises(PointingError, match="observation 2: the raw position is on the far side"):
        PointingRun([0.1, 0.2], [0.5, 0.5], [0.1, 0.2 + math.pi], [0.5, raw_far], mount="gem")
    with pytest.raises(PointingError, match="fork mount: a far-side"):
        PointingRun([0.1], [math.pi - 0.5], [0.1], [math.pi - 0.5], mount="fork")


def test_fit_json_names_the_mount_and_its_columns():
    truth = PointingModel(["IH", "ID"], [30.0, -20.0], mount="gem", latitude_deg=LAT)
    d = fit(simulate_equatorial_run(truth, 20, seed=3), ["IH", "ID"]).to_dict()
    assert d["mount"] == "gem"
    assert {"ha_deg", "dec_deg", "dx_arcsec", "de_arcsec"} <= set(d["residuals"][0])


def test_collimation_of_a_degree_is_exact_at_every_declination():
    """CH moves the direction off the hour circle by exactly CH (its defining angle)."""
    ch = 3600.0
    m = PointingModel(["CH"], [ch], mount="gem")
    rng = np.random.default_rng(9)
    h, d = rng.uniform(-3, 3, 500), rng.uniform(-1.48, 1.48 + math.pi, 500)
    p = _unit(*m.true_from_raw(h, d))
    # the mount's +h direction (the declination axis), at its mechanical hour angle: on the
    # far side it points the other way on the sky, so CH's sky shift flips there
    e_h = np.stack([-np.sin(h), -np.cos(h), np.zeros_like(h)])
    np.testing.assert_allclose(np.sum(p * e_h, axis=0), -math.sin(ch * ARCSEC), atol=1e-15)
