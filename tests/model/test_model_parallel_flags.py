"""TPOINT's '&' flag kept wherever a model is copied, printed or read (issue 12 review).

A model rebuilt from its bare names loses its parallel terms and points
differently; a .mod file written by this toolkit before it read '&' needs a
way to be read as it was meant; '&' on an equatorial line is refused the same
way however it is written.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from pointing.errors import FileFormatError, FitError
from pointing.model.fit import fit
from pointing.model.formats import read_mod, write_mod
from pointing.model.model import PointingModel
from pointing.model.run import Observations
from pointing.units import ARCSEC, angular_separation

AMP = PointingModel(["IA", "IE", "&HESE", "&HECE2", "NPAE", "CA", "&HSCA2", "TF"],
                    [120.0, -40.0, -220.0, 35.0, 20.0, 10.0, -8.0, 60.0],
                    sigmas=[1.0] * 8, fixed=[False, True, False, False, False, True, False,
                                             False])


def _sky(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-math.pi, math.pi, n), np.radians(rng.uniform(10, 85, n))


def test_with_values_keeps_order_spelling_flags_and_mount():
    copy = AMP.with_values({"IA": 100.0, "HESE": -200.0})
    assert copy.spellings == AMP.spellings
    assert copy.values["IA"] == 100.0 and copy.values["HESE"] == -200.0
    assert copy.fixed == AMP.fixed and copy.sigmas == AMP.sigmas
    # unchanged values: the same pointing as the original
    a, e = _sky()
    same = AMP.with_values({"IA": 120.0})
    assert np.max(angular_separation(*same.true_from_raw(a, e), *AMP.true_from_raw(a, e))) == 0
    # a new name goes in front, free; the covariance no longer fits and is dropped
    grown = PointingModel(["IE", "&HESE"], [1.0, 2.0], covariance=np.eye(2)).with_values(
        {"IA": 3.0})
    assert grown.spellings == ("IA", "IE", "&HESE") and grown.covariance is None
    gem = PointingModel(["IH", "ID@FAR"], [1.0, 2.0], mount="gem").with_values({"IH": 5.0})
    assert gem.mount == "gem" and gem.spellings == ("IH", "ID@FAR")


def test_rebuilding_from_names_would_change_pointing():
    """Why the spellings matter: the same names without '&' point differently."""
    plain = PointingModel(list(AMP.names), list(AMP.values.values()))
    a, e = _sky()
    moved = angular_separation(*plain.true_from_raw(a, e), *AMP.true_from_raw(a, e))
    assert np.max(moved) > 0.05 * ARCSEC


def test_fit_summary_shows_the_spelling():
    a, e = _sky(200, 1)
    ta, te = AMP.true_from_raw(a, e)
    obs = Observations(ta, te, a, e)
    res = fit(obs, list(AMP.spellings), fix={"IE": -40.0, "CA": 10.0})
    assert res.model.spellings == AMP.spellings
    lines = res.summary().splitlines()
    assert any(re.match(r"^\s+&HESE\s", ln) for ln in lines)
    assert any(re.match(r"^\s+&HSCA2\s", ln) for ln in lines)
    assert not any(re.match(r"^\s+HESE\s", ln) for ln in lines)


def _old_style(tmp_path, model):
    """A .mod file as this toolkit wrote it before it read '&': '& ' before free harmonics."""
    path = write_mod(tmp_path / "new.mod", model)
    old = [("& " + ln[2:]) if re.match(r"^  H", ln) else ln
           for ln in path.read_text().splitlines()]
    out = tmp_path / "old.mod"
    out.write_text("\n".join(old) + "\n")
    return out


def test_old_mod_files_read_as_plain_flags(tmp_path):
    seq = PointingModel(["IA", "IE", "HESE", "HECE2", "NPAE", "CA", "HSCA2", "TF"],
                        [120.0, -40.0, -220.0, 35.0, 20.0, 10.0, -8.0, 60.0],
                        sigmas=[1.0] * 8)
    old = _old_style(tmp_path, seq)
    assert "& HESE" in old.read_text()
    a, e = _sky()
    truth = seq.true_from_raw(a, e)
    plain = read_mod(old, parallel=False)
    assert plain.spellings == seq.spellings
    assert np.max(angular_separation(*plain.true_from_raw(a, e), *truth)) < 1e-12
    loaded = PointingModel.load(old, mod_parallel=False)
    assert loaded.spellings == seq.spellings
    # the default reads TPOINT's meaning: parallel terms, another pointing
    tpoint = read_mod(old)
    assert tpoint.spellings[2] == "&HESE"
    assert np.max(angular_separation(*tpoint.true_from_raw(a, e), *truth)) > 0.05 * ARCSEC


def test_parallel_terms_survive_a_mod_round_trip(tmp_path):
    back = read_mod(write_mod(tmp_path / "amp.mod", AMP))
    assert back.spellings == AMP.spellings


@pytest.mark.parametrize("line", ["& HDSD    5.0", "&HDSD     5.0", "&=HDSD    5.0"])
def test_amp_on_an_equatorial_line_is_one_error_however_written(tmp_path, line):
    path = tmp_path / "eq.mod"
    path.write_text(f"equatorial\n  IH      10.0\n{line}\nEND\n")
    with pytest.raises(FileFormatError, match=r"eq\.mod:3: .*alt-az models only.*"
                                              r"parallel=False"):
        read_mod(path)
    model = read_mod(path, parallel=False)  # '&' as a plain flag: the term as written
    assert model.spellings == ("IH", "HDSD") and model.mount == "fork"


def test_double_amp_stays_an_error_in_both_readings(tmp_path):
    path = tmp_path / "x.mod"
    path.write_text("x\n  IA      10.0\n&&HESE   5.0\nEND\n")
    for parallel in (True, False):
        with pytest.raises(FileFormatError, match=r"x\.mod:3: "):
            read_mod(path, parallel=parallel)


def test_a_pier_side_term_on_a_fork_run_names_the_mount():
    rng = np.random.default_rng(2)
    h, d = rng.uniform(-1, 1, 40), rng.uniform(-0.5, 1.2, 40)
    obs = Observations(h, d, h, d, mount="fork", site={"latitude_deg": 48.0})
    with pytest.raises(FitError, match="German equatorial \\(mount 'gem'\\)"):
        fit(obs, ["IH", "ID@FAR"])
