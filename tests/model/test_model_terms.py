"""Term names, parsing and the documented first-order convention."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pointing.errors import TermError
from pointing.model.model import ARCSEC, PointingModel
from pointing.model.terms import parse_term, parse_terms

ALL_NAMED = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX", "TX10", "ECES", "ECEC",
             "NRX", "NRY"]
HARMONICS = ["HESE", "HACA2", "HSCA5CE8", "HESACE", "HZSZ2", "HSSE3", "HECA", "HASZ"]


@pytest.mark.parametrize("name", ALL_NAMED + HARMONICS)
def test_names_parse_and_round_trip(name):
    t = parse_term(name.lower())
    assert t.name == name
    assert t.description


def test_harmonic_parse_structure():
    t = parse_term("HSCA5CE8")
    assert t.result == "S" and t.factors == (("C", "A", 5), ("C", "E", 8))
    assert parse_term("HESACE").factors == (("S", "A", 1), ("C", "E", 1))


@pytest.mark.parametrize("bad", ["", "XX", "HQSA", "HESQ", "HESA0", "HE", "IA2", "H", "HESAX"])
def test_unknown_names_are_clear_errors(bad):
    with pytest.raises(TermError, match="term"):
        parse_term(bad)


@pytest.mark.parametrize("bad", ["&", "& ", "&&HESE", "& &HESE"])
def test_parallel_flag_needs_exactly_one_term_name(bad):
    with pytest.raises(TermError, match="must be followed by one term name"):
        parse_term(bad)


def test_parallel_flag_spellings():
    assert parse_term("& hese").spelling == "&HESE"
    assert parse_term("&HESE").name == "HESE"


def test_duplicates_rejected_including_tx_spellings():
    with pytest.raises(TermError, match="twice"):
        parse_terms("IA,IE,IA")
    with pytest.raises(TermError, match="twice"):
        parse_terms(["TX", "TX10"])


# The convention of the module docstring, term by term: (ΔA·cosE, ΔE) per radian.
def expected_basis(name, a, e):
    sa, ca, se, ce = math.sin(a), math.cos(a), math.sin(e), math.cos(e)
    ah = math.pi - a  # TPOINT's harmonic azimuth
    return {
        "IA": (-ce, 0.0), "IE": (0.0, 1.0), "CA": (-1.0, 0.0), "NPAE": (-se, 0.0),
        "AN": (-sa * se, -ca), "AW": (-ca * se, sa), "TF": (0.0, -ce), "TX": (0.0, -ce / se),
        "ECES": (0.0, se), "ECEC": (0.0, ce), "NRX": (-ce, -se), "NRY": (-se, ce),
        "HESE": (0.0, se), "HACA2": (-math.cos(2 * ah) * ce, 0.0),
        "HSCA5CE8": (-math.cos(5 * ah) * math.cos(8 * e), 0.0),
        "HESACE": (0.0, math.sin(ah) * ce), "HZSZ2": (0.0, -math.sin(2 * (math.pi / 2 - e))),
    }[name]


CHECKED = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX", "ECES", "ECEC", "NRX", "NRY",
           "HESE", "HACA2", "HSCA5CE8", "HESACE", "HZSZ2"]


@pytest.mark.parametrize("name", CHECKED)
def test_basis_matches_documented_convention(name):
    rng = np.random.default_rng(3)
    for a, e in zip(rng.uniform(-np.pi, np.pi, 20), rng.uniform(0.2, 1.4, 20), strict=True):
        bx, be = parse_term(name).basis(a, e)
        ex, ee = expected_basis(name, a, e)
        assert bx == pytest.approx(ex, abs=1e-12)
        assert be == pytest.approx(ee, abs=1e-12)


@pytest.mark.parametrize("name", CHECKED)
def test_model_application_agrees_with_basis_to_first_order(name):
    """A small coefficient moves a raw position by coefficient × basis."""
    rng = np.random.default_rng(5)
    a = rng.uniform(-np.pi, np.pi, 50)
    e = rng.uniform(0.2, 1.4, 50)
    c = 0.05  # arcsec
    model = PointingModel([name], [c])
    ta, te = model.true_from_raw(a, e)
    dx = ((ta - a + np.pi) % (2 * np.pi) - np.pi) * np.cos(e) / (c * ARCSEC)
    de = (te - e) / (c * ARCSEC)
    bx, be = parse_term(name).basis(a, e)
    np.testing.assert_allclose(dx, np.broadcast_to(bx, a.shape), atol=2e-4)
    np.testing.assert_allclose(de, np.broadcast_to(be, a.shape), atol=2e-4)


def test_tpoint_signs_spot_checks():
    m = PointingModel(["IA"], [10.0])
    a, _e = m.true_from_raw(1.0, 0.5)
    assert (a - 1.0) / ARCSEC == pytest.approx(-10.0)  # ΔA = −IA
    m = PointingModel(["IE"], [10.0])
    assert (m.true_from_raw(1.0, 0.5)[1] - 0.5) / ARCSEC == pytest.approx(10.0)  # ΔE = +IE
    m = PointingModel(["TF"], [10.0])
    assert (m.true_from_raw(1.0, 0.0)[1]) / ARCSEC == pytest.approx(-10.0)  # −TF·cos E
    # AN: axis tilted north lowers stars seen to the north
    m = PointingModel(["AN"], [10.0])
    assert (m.true_from_raw(0.0, 0.5)[1] - 0.5) / ARCSEC == pytest.approx(-10.0, rel=1e-6)


def test_tx_is_held_finite_at_the_horizon():
    m = PointingModel(["TX"], [10.0])
    for el in (-0.05, 0.0, 0.05, 0.1):
        _, e = m.true_from_raw(0.3, el)
        assert abs(e - el) / ARCSEC <= 100.0 + 1e-9  # at most 10 × TX
