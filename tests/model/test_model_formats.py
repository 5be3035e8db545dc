"""TPOINT input and model files, RTS2 gpoint files, the project's JSON model file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.errors import FileFormatError
from pointing.model.fit import fit
from pointing.model.formats import (
    read_gpoint,
    read_mod,
    read_observations,
    read_tpoint,
    write_mod,
    write_tpoint,
)
from pointing.model.model import MODEL_FILE_VERSION, PointingModel
from pointing.model.synthetic import simulate_run

GOOD = """! a comment before the caption
My telescope, 2026 Nov 23
: ALTAZ
: ROTNL
-30 14 40.2
333.0949589 78.6684282 333.0167132 78.7625213 293.6668950
; 240.4719461 44.8995879 240.3726938 44.9816645 306.1848271
! comment between observations
226.7459782 40.0365061 226.6556824 40.1055927 315.6175556 ; star 3, slightly trailed
;  a plain comment line
196.2657687 36.7445377 196.1729864 36.8002718 317.5486844
END
this text after END is ignored
"""


def test_read_tpoint_all_features(tmp_path):
    p = tmp_path / "run.dat"
    p.write_text(GOOD)
    obs = read_tpoint(p)
    assert len(obs) == 4
    assert obs.caption == "My telescope, 2026 Nov 23"
    assert obs.options == ("ALTAZ", "ROTNL")
    assert obs.latitude_deg == pytest.approx(-(30 + 14 / 60 + 40.2 / 3600))
    assert obs.used.tolist() == [True, False, True, True]
    assert obs.comments[2] == "star 3, slightly trailed"
    assert obs.lines == (6, 7, 9, 11)
    assert np.degrees(obs.az_true[0]) == pytest.approx(333.0949589)
    assert obs.extra["rotator"][1] == pytest.approx(306.1848271)


def test_run_record_header(tmp_path):
    p = tmp_path / "mmt.dat"
    p.write_text("MMT\n: ALTAZ\n+31 41 19.6 2021 8 21 13.0 741 2608.0 0.75\n"
                 "192.3860283 77.3468410 -167.2778909 77.3475476\n")
    obs = read_tpoint(p)
    assert obs.site["pressure_mbar"] == 741.0 and obs.site["year"] == 2021
    assert obs.site["humidity"] == 0.75


@pytest.mark.parametrize("text, line, what", [
    ("cap\n: ALTAZ\n-30 14\n1 2 3 4\n", 3, "latitude"),
    ("cap\n: ALTAZ\n-30 14 40\n1 2 3\n", 4, "at least four numbers"),
    ("cap\n: ALTAZ\n-30 14 40\n1 2 x 4\n", 4, "observation"),
    ("cap\n: ALTAZ\n-30 14 40\n1 2 3 4\n1 2 3 4 5\n", 5, "columns"),
    ("cap\n: ALTAZ\n-30 14 40\n1 95 3 4\n", 4, "outside"),
    ("cap\n: ALTAZ\n-30 14 40\n1 2 3 4\n: ROTNL\n", 5, "option line"),
    ("cap\n: EQUAT\n-30 14 40\n1 2 3 4\n", 4, "equatorial observation"),  # issue 18
    ("cap\n: ALTAZ\n-30 14 40\n", None, "no observations"),
    ("cap\n: EQUAT\n: ALTAZ\n-30 14 40\n1 2 3 4\n", 3, "mixing mount types"),
    ("cap\n-30 14 40\n1 2 3 4\n", None, "mount type"),
    ("cap\n: ALTAZ\n-30 14 40\n", None, "no observations"),
    ("", None, "empty"),
    ("cap\n: ALTAZ\n-99 14 40\n1 2 3 4\n", 3, "out of range"),
])
def test_malformed_tpoint_files_name_file_and_line(tmp_path, text, line, what):
    p = tmp_path / "bad.dat"
    p.write_text(text)
    with pytest.raises(FileFormatError, match=what) as ei:
        read_tpoint(p)
    assert ei.value.path == str(p)
    assert ei.value.line == line
    assert str(p) in str(ei.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileFormatError, match="cannot read"):
        read_observations(tmp_path / "nope.dat")


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6))
def test_tpoint_write_read_round_trip(tmp_path_factory, seed):
    truth = PointingModel(["IA", "IE", "AN"], [100.0, -20.0, 30.0])
    obs = simulate_run(truth, 12, seed=seed, noise_arcsec=1.0)
    used = np.random.default_rng(seed).random(12) > 0.2
    obs = obs.with_used(used)
    p = tmp_path_factory.mktemp("rt") / "run.dat"
    write_tpoint(p, obs)
    back = read_tpoint(p)
    assert back.used.tolist() == used.tolist()
    for name in ("az_true", "el_true", "az_raw", "el_raw"):
        a, b = getattr(obs, name), getattr(back, name)
        assert np.max(np.abs(((a - b + np.pi) % (2 * np.pi)) - np.pi)) < 1e-9  # 7 decimals
    assert back.latitude_deg == pytest.approx(obs.latitude_deg, abs=1e-4)


def full_model():
    truth = PointingModel(["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX10", "HESE",
                           "HSCA5CE8"], [-241.4, -324.6, 5.0, -32.0, 57.8, 68.1, -190.3, 55.7,
                                         3.0, -2.0])
    obs = simulate_run(truth, 40, seed=3, noise_arcsec=2.0)
    return fit(obs, list(truth.names), fix={"CA": 5.0}).model


def test_mod_round_trip_keeps_everything_tpoint_keeps(tmp_path):
    m = full_model()
    p = write_mod(tmp_path / "m.mod", m)
    text = p.read_text().splitlines()
    assert text[1].startswith("T   40")
    assert any(line.startswith(" =CA ") for line in text)
    assert any(line.startswith("  HESE") for line in text)  # '&' only on parallel terms
    back = read_mod(p)
    assert back.names == m.names
    for k in m.names:
        assert back.values[k] == pytest.approx(m.values[k], abs=5e-5)
        if m.sigmas[k] is not None:
            assert back.sigmas[k] == pytest.approx(m.sigmas[k], abs=5e-6)
    assert back.fixed == m.fixed
    assert back.info["fit"]["n_used"] == 40


@pytest.mark.parametrize("names, mount", [(["IA", "HSCA5CE8"], "altaz"),
                                           (["IH", "HDSD@FAR"], "gem")])
def test_mod_round_trip_of_an_eight_character_name_with_a_large_value(tmp_path, names, mount):
    """OUTMOD's columns glue an 8-character name to a value of 1000″ or more
    (``HSCA5CE8-1234.5000``): the file reads back, with the value."""
    m = PointingModel(names, [10.0, -1234.5], sigmas=[1.0, 2.0], mount=mount)
    p = write_mod(tmp_path / "m.mod", m)
    assert f"  {names[1]}-1234.5000" in p.read_text()  # TPOINT's layout kept
    back = read_mod(p)
    assert back.names == m.names and back.mount == mount
    assert back.values[names[1]] == pytest.approx(-1234.5)
    assert back.sigmas[names[1]] == pytest.approx(2.0)


def test_json_round_trip_and_validation(tmp_path):
    m = full_model()
    p = m.save(tmp_path / "m.json")
    back = PointingModel.load(p)
    assert back.values == m.values and back.sigmas == m.sigmas and back.fixed == m.fixed
    np.testing.assert_array_equal(back.covariance, m.covariance)
    assert back.info["fit"]["n_used"] == 40
    a = np.linspace(0, 6, 7)
    np.testing.assert_array_equal(back.raw_from_true(a, 0.7)[0], m.raw_from_true(a, 0.7)[0])
    # .mod through save/load too
    pm = m.save(tmp_path / "m.mod")
    assert PointingModel.load(pm).names == m.names

    data = json.loads(p.read_text())
    data["version"] = MODEL_FILE_VERSION + 1
    p.write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match="unsupported model file version"):
        PointingModel.load(p)
    data["version"] = MODEL_FILE_VERSION
    data["terms"][0]["value_arcsec"] = "x"
    p.write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match=r"terms\[0\]\.value_arcsec"):
        PointingModel.load(p)
    data["terms"][0] = {"name": "BOGUS", "value_arcsec": 1.0}
    p.write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match=r"terms\[0\]\.name"):
        PointingModel.load(p)
    p.write_text("{ not json")
    with pytest.raises(FileFormatError, match="not valid JSON"):
        PointingModel.load(p)


@pytest.mark.parametrize("text, line, what", [
    ("cap\nT 10 1.0\n  IA  1.0 0.1\n", 3, "END"),
    ("cap\nT 10 1.0\n  XX  1.0 0.1\nEND\n", 3, "unknown pointing term"),
    ("cap\nT 10 1.0\n  IA  abc 0.1\nEND\n", 3, "must be numbers"),
    ("cap\nT x\n  IA  1 0.1\nEND\n", 2, "T line"),
    ("cap\nT 10 1.0\nEND\n", None, "no terms"),
])
def test_malformed_mod_files(tmp_path, text, line, what):
    p = tmp_path / "bad.mod"
    p.write_text(text)
    with pytest.raises(FileFormatError, match=what) as ei:
        read_mod(p)
    assert ei.value.line == line


def test_gpoint_reader_and_errors(tmp_path):
    p = tmp_path / "g"
    p.write_text("# Observation JD ...\n# altaz-manual 20.8 -32.53 1850.0\n"
                 "1\t2457652.45867\t329.1\t21.2\t0.004\t0.012\t25.84\t141.72\n")
    obs = read_observations(p)
    assert len(obs) == 1 and obs.site["latitude_deg"] == -32.53
    assert np.degrees(obs.az_true[0]) == pytest.approx(141.72 + 180 - 360)  # from south → north
    assert np.degrees(obs.el_raw[0] - obs.el_true[0]) == pytest.approx(0.004)
    assert obs.time_mjd[0] == pytest.approx(2457652.45867 - 2400000.5)
    bad = tmp_path / "b"
    bad.write_text("# altaz-manual 20.8 -32.53 1850.0\n1 2 3 4 5\n")
    with pytest.raises(FileFormatError, match="expected 8 columns") as ei:
        read_gpoint(bad)
    assert ei.value.line == 2
    bad.write_text("1 2 3 4 5 6 7 8\n")
    with pytest.raises(FileFormatError, match="header"):
        read_gpoint(bad)
