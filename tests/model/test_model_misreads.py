"""Silent misreads of issue 13 and the new readers: each is now a clear one-line error."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pointing.errors import FileFormatError, FitError, PointingError, TermError
from pointing.model.fit import fit
from pointing.model.formats import (
    MMT_LATITUDE_DEG,
    read_gpoint,
    read_mmt,
    read_mod,
    read_observations,
    read_tpoint,
)
from pointing.model.model import PointingModel
from pointing.model.synthetic import simulate_run


def _write(tmp_path, name, text, mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_tpoint_file_without_latitude_line_is_refused(tmp_path):
    p = _write(tmp_path, "nolat.dat", "cap\n: ALTAZ\n010.5802950 37.4249887 010.5461739 "
               "37.4892647\n20.1 30.2 20.3 30.1\nEND\n")
    with pytest.raises(FileFormatError, match=r"nolat.dat:3: .*latitude line missing"):
        read_tpoint(p)


def test_overflowing_number_names_file_and_line(tmp_path):
    p = _write(tmp_path, "big.dat", "cap\n: ALTAZ\n-30 14 40\n10 20 10 20\n1e400 30 10 30\n")
    with pytest.raises(FileFormatError, match=r"big.dat:5: number 1e400 is too large"):
        read_tpoint(p)


GPOINT = "# altaz-manual 20.8 {lat} 1850.0\n1 2459000.5 10 20 0.01 0.02 {alt} 141.72\n"


@pytest.mark.parametrize("lat, alt, words", [(95, 40, "latitude 95"), (-32.5, 95, "altitude 95"),
                                             (-32.5, -91, "altitude -91")])
def test_gpoint_values_out_of_range(tmp_path, lat, alt, words):
    p = _write(tmp_path, "g.txt", GPOINT.format(lat=lat, alt=alt))
    with pytest.raises(FileFormatError, match=words):
        read_gpoint(p)


def test_gpoint_equatorial_run_with_short_rows_names_the_line(tmp_path):
    # issue 18: equatorial gpoint runs are read now; a malformed row still names its line
    p = _write(tmp_path, "eq.txt", "# observatory 20.8 -32.53 1850.0\n"
               "1 2459000.5 10 20 0.01 0.02\n")
    with pytest.raises(FileFormatError, match="9 columns for the equatorial") as ei:
        read_observations(p)
    assert ei.value.line == 2


def _model_file(tmp_path, **row):
    base = {"name": "IA", "value_arcsec": 10.0, "sigma_arcsec": 1.0, "fixed": False}
    base.update(row)
    data = PointingModel(["IE"], [1.0]).to_dict()
    data["terms"] = [base]
    return _write(tmp_path, "m.json", json.dumps(data))


@pytest.mark.parametrize("row, words", [
    ({"fixed": "false"}, "fixed must be true or false"),
    ({"sigma_arcsec": -1.0}, "sigma of IA"),
    ({"value_arcsec": 1e300}, "more than"),
    ({"value_arcsec": "12"}, "finite number"),
    ({"name": 3}, "string"),
])
def test_model_file_misreads(tmp_path, row, words):
    with pytest.raises(FileFormatError, match=words):
        PointingModel.load(_model_file(tmp_path, **row))


def test_model_file_with_undecodable_bytes(tmp_path):
    p = _write(tmp_path, "m.json", b'{"format": "\xff\xfe"}', mode="wb")
    with pytest.raises(FileFormatError, match="UTF-8"):
        PointingModel.load(p)


def test_model_file_wrong_field_types(tmp_path):
    data = PointingModel(["IE"], [1.0]).to_dict()
    data["site"] = "La Silla"
    p = _write(tmp_path, "m.json", json.dumps(data))
    with pytest.raises(FileFormatError, match="'site' must be a object"):
        PointingModel.load(p)


def test_mod_file_huge_value_and_negative_sigma_name_the_line(tmp_path):
    p = _write(tmp_path, "m.mod", "cap\nT 10 1.0\n  IA  1e300  1.0\nEND\n")
    with pytest.raises(FileFormatError, match=r"m.mod:3: .*IA"):
        read_mod(p)
    p = _write(tmp_path, "m.mod", "cap\nT 10 1.0\n  IA  10.0  -1.0\nEND\n")
    with pytest.raises(FileFormatError, match=r"m.mod:3: sigma of IA"):
        read_mod(p)


def test_empty_term_list_is_refused():
    obs = simulate_run(PointingModel(["IA"], [10.0]), n=20, seed=1)
    with pytest.raises(FitError, match="no terms"):
        fit(obs, "")


def test_constructor_refuses_huge_coefficients():
    with pytest.raises(TermError, match="IA"):
        PointingModel(["IA"], [1e300])
    assert PointingModel(["IA"], [-179 * 3600.0])["IA"] == -179 * 3600.0


# ---- MMT raw mount log ----------------------------------------------------

def _mmt_block(cat, raw_el, raw_az, true_el, true_az):
    return (f"CAT: {cat}        18:55:20.111 +43:56:45.99 +00.214 +008.25  3.9  M3  J2000.0\n"
            f"RAA:   {raw_el:.7f}  {raw_az:.7f}\nAA:   {raw_el:.7f}  {raw_az:.7f}\n"
            f"TAA:   {true_el:.7f}  {true_az:.7f}\nLST: 19:11:22.950\nSVEL: -0.0008 -0.0133\n")


def test_mmt_log_is_read_and_converted(tmp_path):
    text = (_mmt_block("FK5-0711", 77.3475476, 347.2778909, 77.3484799, -12.3860283)
            + _mmt_block("FK5-0310", 17.9064925, 355.8717035, 17.9046978, -3.7938765))
    p = _write(tmp_path, "point_20210821.dat", text)
    obs = read_observations(p)
    assert len(obs) == 2 and obs.comments == ("FK5-0711", "FK5-0310")
    # azimuth from south through west → from north through east: A = 180° − A_mount
    assert np.degrees(obs.az_true[0]) == pytest.approx(192.3860283)
    assert np.degrees(obs.az_raw[0]) == pytest.approx((180 - 347.2778909) % 360)
    assert np.degrees(obs.el_raw[1]) == pytest.approx(17.9064925)
    assert obs.latitude_deg == pytest.approx(MMT_LATITUDE_DEG)
    assert obs.lines == (2, 8)


@pytest.mark.parametrize("text, words", [
    ("CAT: X\nRAA: 10 20\nCAT: Y\nRAA: 10 20\nTAA: 10 20\n", r":3: star X: no TAA"),
    ("CAT: X\nRAA: 10\nTAA: 10 20\n", r":2: expected 'RAA: elevation azimuth'"),
    ("CAT: X\nRAA: 10 1e999\nTAA: 10 20\n", r":2: number 1e999 is too large"),
    ("CAT: X\nRAA: 10 20\nTAA: 95 20\n", r":3: TAA elevation 95"),
    ("CAT: X\nRAA: 10 20\ngarbage here\n", r":3: expected a 'KEY: values' line"),
    ("", "no RAA:/TAA: observations"),
])
def test_malformed_mmt_logs(tmp_path, text, words):
    p = _write(tmp_path, "point_x.dat", text)
    with pytest.raises(PointingError, match=words):
        read_mmt(p)


def test_mmt_log_fits(tmp_path):
    truth = PointingModel(["IA", "IE", "AN"], [100.0, -30.0, 20.0])
    rng = np.random.default_rng(3)
    blocks = []
    for i in range(30):
        a, e = rng.uniform(0, 2 * math.pi), rng.uniform(0.3, 1.4)
        ra, re = truth.raw_from_true(a, e)
        blocks.append(_mmt_block(f"S{i}", math.degrees(re), 180 - math.degrees(ra),
                                 math.degrees(e), 180 - math.degrees(a)))
    res = fit(read_observations(_write(tmp_path, "point_y.dat", "".join(blocks))),
              ["IA", "IE", "AN"])
    assert res.model["IA"] == pytest.approx(100.0, abs=1e-3)
    assert res.sky_rms < 1e-3
