"""German equatorial pier-side terms (``ID@FAR``, ``CH@NEAR``, ...): issue 18 part 1."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.errors import FileFormatError, FitError, PointingError, TermError
from pointing.model.equatorial import pier_side, to_far_side, to_sky
from pointing.model.fit import fit
from pointing.model.formats import read_mod, write_mod
from pointing.model.model import PointingModel
from pointing.model.synthetic import simulate_equatorial_run
from pointing.model.terms import parse_term, parse_terms
from pointing.units import ARCSEC, DEG, wrap_pi

LAT = 35.0


def _unit(h, d):
    return np.stack([np.cos(d) * np.cos(h), -np.cos(d) * np.sin(h), np.sin(d)])


def _sep(h1, d1, h2, d2):
    u, v = _unit(h1, d1), _unit(h2, d2)
    return np.arctan2(np.linalg.norm(np.cross(u, v, axis=0), axis=0), np.sum(u * v, axis=0))


# ---- the grammar ---------------------------------------------------------------------

def test_pier_side_terms_parse_case_insensitively():
    t = parse_term("id@far", "gem")
    assert (t.name, t.side, t.mount) == ("ID@FAR", "far", "equatorial")
    assert parse_term("HDSD@Near", "fork").side == "near"
    assert "far side of the pier only" in t.description
    assert "declination zero point" in t.description
    names = [x.name for x in parse_terms("ID, ID@FAR, CH@NEAR", "gem")]
    assert names == ["ID", "ID@FAR", "CH@NEAR"]


@pytest.mark.parametrize("name, mount, words", [
    ("ID@FAR", "altaz", "ID@FAR is a pier-side term of German equatorial mounts"),
    ("ID@EAST", "gem", "must be NEAR or FAR"),
    ("MA@FAR", "gem", "MA takes no pier side"),
    ("ME@NEAR", "gem", "ME takes no pier side"),
    ("IA@FAR", "gem", "IA is an alt-az term"),
    ("QQ@FAR", "gem", "unknown equatorial pointing term"),
])
def test_bad_pier_side_terms_are_named(name, mount, words):
    with pytest.raises(TermError, match=words):
        parse_term(name, mount)


def test_pier_side_term_twice_is_refused():
    with pytest.raises(TermError, match="given twice"):
        parse_terms("ID@FAR, id@far", "gem")


def test_pier_side_term_on_a_fork_model_is_named():
    with pytest.raises(TermError, match=r"CH@FAR acts on one side of the pier only.*fork"):
        PointingModel(["IH", "CH@FAR"], [1.0, 2.0], mount="fork")


# ---- what the terms do ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["IH", "ID", "CH", "NP", "TF", "FO", "DAF", "HDSD", "HXCH"])
def test_far_term_is_its_plain_term_on_the_far_side_and_nothing_on_the_near(name):
    rng = np.random.default_rng(4)
    h = rng.uniform(-3, 3, 400)
    d = rng.uniform(-1.4, 1.4, 400)
    hf, df = to_far_side(h, d)
    plain = PointingModel([name], [40.0], mount="gem", latitude_deg=LAT)
    far = PointingModel([f"{name}@FAR"], [40.0], mount="gem", latitude_deg=LAT)
    near = PointingModel([f"{name}@NEAR"], [40.0], mount="gem", latitude_deg=LAT)
    np.testing.assert_array_equal(far.true_from_raw(hf, df)[1], plain.true_from_raw(hf, df)[1])
    # (hour angles agree to rounding: the plain IH also moves the output's reference turn)
    np.testing.assert_allclose(far.true_from_raw(hf, df)[0], plain.true_from_raw(hf, df)[0],
                               rtol=0, atol=1e-14)
    np.testing.assert_array_equal(far.true_from_raw(h, d)[0], h)
    np.testing.assert_array_equal(far.true_from_raw(h, d)[1], d)
    np.testing.assert_array_equal(near.true_from_raw(h, d)[1], plain.true_from_raw(h, d)[1])
    np.testing.assert_array_equal(near.true_from_raw(hf, df)[1], df)


def test_index_of_the_far_side_moves_the_sky_there_only():
    m = PointingModel(["ID", "ID@FAR"], [30.0, 90.0], mount="gem")
    h, d = 0.4, 0.3
    near = to_sky(*m.true_from_raw(h, d))
    far = to_sky(*m.true_from_raw(*to_far_side(h, d)))
    assert near[1] - d == pytest.approx(-30 * ARCSEC, rel=1e-6)
    # on the far side the declination encoder runs the other way on the sky
    assert far[1] - d == pytest.approx(120 * ARCSEC, rel=1e-6)
    assert wrap_pi(far[0] - h) == pytest.approx(0.0, abs=1e-15)


GEM_TERMS = ["IH", "ID", "CH", "NP", "MA", "ME", "TF", "IH@FAR", "ID@FAR", "CH@FAR", "NP@FAR",
             "HDSD@NEAR"]


def test_round_trip_below_1e_9_rad_with_pier_side_terms():
    vals = [7200.0, -5400.0, 150.0, -80.0, 3600.0, -2500.0, 12.0, 300.0, -450.0, 60.0, 40.0,
            20.0]
    m = PointingModel(GEM_TERMS, vals, mount="gem", latitude_deg=-30.0)
    rng = np.random.default_rng(7)
    h = rng.uniform(-math.pi, math.pi, 6000)
    d = rng.uniform(-0.5 * math.pi, 1.5 * math.pi, 6000)
    th, td = m.true_from_raw(h, d)
    rh, rd, status = m.raw_from_true_status(th, td)
    assert np.all(status == 0)
    fh, fd = m.true_from_raw(rh, rd)
    assert np.max(_sep(fh, fd, th, td)) < 1e-9
    away = np.abs(np.cos(d)) > math.sin(3 * DEG)
    assert np.max(_sep(rh, rd, h, d)[away]) < 1e-9
    assert np.all(pier_side(rd)[away] == pier_side(d)[away])
    got = m.raw_from_true(float(th[11]), float(td[11]))
    assert got == pytest.approx((rh[11], rd[11]), abs=1e-9)


# ---- the fit: both pier sides ---------------------------------------------------------------

@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000), lat=st.floats(-55, 55))
def test_known_pier_side_coefficients_recovered_within_sigmas(seed, lat):
    rng = np.random.default_rng(seed)
    names = ["IH", "ID", "CH", "NP", "MA", "ME", "ID@FAR", "CH@FAR", "IH@FAR", "NP@FAR"]
    # degree-size index errors on both sides (IH@FAR, ID@FAR) and polar-axis misalignment
    vals = [rng.uniform(-3, 3) * 3600, rng.uniform(-2, 2) * 3600, *rng.uniform(-200, 200, 2),
            *rng.uniform(-1, 1, 2) * 3600, rng.uniform(-1, 1) * 3600, rng.uniform(-300, 300),
            rng.uniform(-1, 1) * 3600, rng.uniform(-60, 60)]
    truth = PointingModel(names, vals, mount="gem", latitude_deg=lat)
    run = simulate_equatorial_run(truth, 300, seed=seed, noise_arcsec=1.0)
    assert run.far_side.sum() > 30 and (~run.far_side).sum() > 30
    res = fit(run, names)
    for n, v in zip(names, vals, strict=True):
        assert abs(res.model.values[n] - v) < 5 * res.model.sigmas[n], n
    assert res.sky_rms == pytest.approx(math.sqrt(2), rel=0.2)


def test_fit_of_a_far_side_term_without_far_side_observations_is_named():
    truth = PointingModel(["IH", "ID"], [30.0, 20.0], mount="gem", latitude_deg=LAT)
    run = simulate_equatorial_run(truth, 60, seed=2)
    near = run.select(~run.far_side)
    with pytest.raises(FitError, match="ID@FAR acts on the far side of the pier only, and none"):
        fit(near, ["IH", "ID", "ID@FAR"])


def test_fit_of_a_pier_side_term_on_a_fork_run_is_named():
    truth = PointingModel(["IH", "ID"], [30.0, 20.0], mount="fork", latitude_deg=LAT)
    run = simulate_equatorial_run(truth, 60, seed=2)
    with pytest.raises(PointingError, match="ID@NEAR acts on one side of the pier only"):
        fit(run, ["IH", "ID@NEAR"])


# ---- files ----------------------------------------------------------------------------------

def test_mod_and_json_round_trip_pier_side_terms(tmp_path):
    vals = [120.0, -60.0, 30.0, 8.0]
    m = PointingModel(["IH", "ID", "ID@FAR", "CH@FAR"], vals, mount="gem",
                      sigmas=[1.0, 1.0, 2.0, 2.0])
    write_mod(tmp_path / "m.mod", m)
    text = (tmp_path / "m.mod").read_text()
    assert "ID@FAR" in text and "CH@FAR" in text
    back = read_mod(tmp_path / "m.mod")
    assert back.mount == "gem" and back.names == m.names  # a pier-side term says GEM
    assert list(back.values.values()) == pytest.approx(vals)
    again = PointingModel.load(m.save(tmp_path / "m.json"))
    assert again.names == m.names and again.mount == "gem"
    h, d = to_far_side(np.array([0.2, 1.0]), np.array([0.3, -0.4]))
    np.testing.assert_array_equal(again.true_from_raw(h, d)[1], m.true_from_raw(h, d)[1])


def test_mod_file_with_a_pier_side_term_read_as_fork_names_the_line(tmp_path):
    p = tmp_path / "m.mod"
    p.write_text("cap\nT   10   1.0  0.0  0.0\n  IH  +10.0  1.0\n  ID@FAR  +5.0  1.0\nEND\n")
    with pytest.raises(FileFormatError, match="ID@FAR acts on one side of the pier") as ei:
        read_mod(p, mount="fork")
    assert ei.value.line == 4
    p.write_text("cap\n  ID@FAR  +5.0  1.0\nEND\n")
    with pytest.raises(FileFormatError, match="pier-side term of German") as ei:
        read_mod(p, mount="altaz")
    assert ei.value.line == 2


# ---- the pier side is the raw declination's (the mount's state) -------------------------------

PLAIN = ["IH", "ID", "CH", "NP", "MA", "ME", "TF", "HDSD"]


def _near_pole(rng, n, width_deg):
    """Raw positions within ``width_deg`` of the north pole, on both pier sides."""
    d = 0.5 * math.pi + rng.uniform(-1, 1, n) * width_deg * DEG
    return rng.uniform(-math.pi, math.pi, n), d


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), extra=st.sampled_from(["ID", "IH", "CH", "NP", "HDSD", "TF"]),
       side=st.sampled_from(["NEAR", "FAR"]), where=st.integers(0, len(PLAIN)))
def test_a_pier_side_term_follows_the_raw_side_wherever_earlier_terms_moved_it(seed, extra, side,
                                                                              where):
    """Degree-size index errors carry positions across the pole; the pier-side term still
    acts by the raw side: its model equals the plain model without it on the other side and
    with the plain term in its place on its own side."""
    rng = np.random.default_rng(seed)
    vals = [rng.uniform(-2, 2) * 3600, rng.uniform(-2, 2) * 3600, *rng.uniform(-300, 300, 2),
            *rng.uniform(-1, 1, 2) * 3600, *rng.uniform(-30, 30, 2)]
    c = float(rng.uniform(-1, 1) * 1800)
    ins = lambda names, x: [*names[:where], x, *names[where:]]  # noqa: E731
    sided = PointingModel(ins(PLAIN, f"{extra}@{side}"), ins(vals, c), mount="gem",
                          latitude_deg=LAT)
    own = PointingModel(ins(PLAIN, extra), ins(vals, c), mount="gem", latitude_deg=LAT) \
        if extra not in PLAIN else None
    without = PointingModel(PLAIN, vals, mount="gem", latitude_deg=LAT)
    h, d = _near_pole(rng, 4000, 4.0)
    mine = pier_side(d) == side.lower()
    th, td = sided.true_from_raw(h, d)
    wh, wd = without.true_from_raw(h, d)
    assert np.max(_sep(th, td, wh, wd)[~mine]) < 1e-12
    if own is not None:
        oh, od = own.true_from_raw(h, d)
        assert np.max(_sep(th, td, oh, od)[mine]) < 1e-12
    # it acted there (IH's move on the sky shrinks to nothing at the pole: most, not all)
    assert np.mean(_sep(th, td, wh, wd)[mine] > 1e-3 * abs(c) * ARCSEC) > 0.5


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), id_=st.floats(-4 * 3600, 4 * 3600),
       far=st.floats(-3600, 3600))
def test_index_and_its_far_side_form_commute(seed, id_, far):
    """``ID, ID@FAR`` and ``ID@FAR, ID``: the same map (before, a raw δ of 89.5° with
    ID = −3600″ got ID@FAR, listed after ID, as if on the far side)."""
    rng = np.random.default_rng(seed)
    h, d = _near_pole(rng, 3000, 5.0)
    a = PointingModel(["IH", "ID", "ID@FAR", "CH"], [100.0, id_, far, 50.0], mount="gem")
    b = PointingModel(["IH", "ID@FAR", "ID", "CH"], [100.0, far, id_, 50.0], mount="gem")
    ah, ad = a.true_from_raw(h, d)
    bh, bd = b.true_from_raw(h, d)
    assert np.max(_sep(ah, ad, bh, bd)) < 1e-12
    # on the sky: the near side moves by −ID in δ, the far side by −(ID + ID@FAR) on its encoder
    only = PointingModel(["ID", "ID@FAR"], [id_, far], mount="gem")
    td = only.true_from_raw(h, d)[1]
    want = np.where(pier_side(d) == "far", d - (id_ + far) * ARCSEC, d - id_ * ARCSEC)
    np.testing.assert_allclose(td, want, rtol=0, atol=1e-12)


def test_scalar_and_array_calls_take_the_raw_side():
    m = PointingModel(["ID", "ID@FAR"], [-3600.0, 100.0], mount="gem")
    d = 89.5 * DEG  # near side: ID moves it past the pole, ID@FAR must not act
    assert (m.true_from_raw(0.3, d)[1] - d) / ARCSEC == pytest.approx(3600.0, abs=1e-6)
    assert (m.true_from_raw(np.array([0.3]), np.array([d]))[1][0] - d) / ARCSEC == \
        pytest.approx(3600.0, abs=1e-6)
    far = 90.5 * DEG
    assert (m.true_from_raw(0.3, far)[1] - far) / ARCSEC == pytest.approx(3500.0, abs=1e-6)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), lat=st.floats(-60, 60))
def test_targets_next_to_the_pole_are_reached_with_pier_side_terms(seed, lat):
    """Every true position the model gives from raw positions within 4.6° of the pole is
    reached again, exactly (before: ~1.6e-4 of them within 0.03° of the pole had status 3)."""
    rng = np.random.default_rng(seed)
    names = ["IH", "ID", "CH", "NP", "MA", "ME", "TF", "IH@FAR", "ID@FAR", "CH@FAR", "NP@FAR",
             "HDSD@NEAR", "HXCH@FAR"]
    vals = [*rng.uniform(-3, 3, 2) * 3600, *rng.uniform(-300, 300, 2),
            *rng.uniform(-1, 1, 2) * 3600, rng.uniform(-50, 50), rng.uniform(-1, 1) * 3600,
            rng.uniform(-2, 2) * 3600, *rng.uniform(-300, 300, 2), *rng.uniform(-100, 100, 2)]
    m = PointingModel(names, vals, mount="gem", latitude_deg=lat)
    h, d = _near_pole(rng, 20000, 4.6)
    th, td = m.true_from_raw(h, d)
    rh, rd, status = m.raw_from_true_status(th, td)
    assert np.all(status == 0)
    fh, fd = m.true_from_raw(rh, rd)
    assert np.max(_sep(fh, fd, th, td)) < 1e-9
    j = int(np.argmin(np.abs(td - 0.5 * math.pi)))  # the scalar call, at the closest one
    got = m.raw_from_true_status(float(th[j]), float(td[j]))
    assert got[2] == 0 and _sep(*m.true_from_raw(got[0], got[1]), th[j], td[j]) < 1e-9
