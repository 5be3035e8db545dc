"""Finite-key decoy analysis: bounds against hand arithmetic, zero-key cases, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.cli import main
from pointing.errors import ConfigError
from pointing.link.decoy import analyse_key, binary_entropy, solve_theta
from pointing.link.keyfile import key_input_from_dict, load_key_input

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "link" / "tiangong2_pass.toml"


def _pass(**measured) -> dict:
    """The issue's example pass (Tiangong-2-like), with measured values replaced."""
    m = {"q_mu": 3.1e-5, "q_nu": 1.9e-5, "y0": 8.0e-7, "e_mu": 0.018, "e_nu": 0.021,
         "ec_bits": 16000.0}
    m.update(measured)
    m = {k: v for k, v in m.items() if v is not None}
    return {"duration_s": 143, "rep_rate_hz": 50e6,
            "intensities": {"mu": 0.6, "nu": 0.35, "p_mu": 0.5, "p_nu": 0.25, "p_vac": 0.25},
            "measured": m, "security": {"epsilon": 1e-5}}


def h(x: float) -> float:
    return -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def test_example_bounds_by_hand():
    r = analyse_key(load_key_input(EXAMPLE))
    # pulses: 143 s × 50 MHz = 7.15e9; per basis (bases 50/50) and intensity
    n = 143 * 50e6
    m_mu, m_nu, m_0 = n * 0.5 * 0.5, n * 0.25 * 0.5, n * 0.25 * 0.5  # 1.7875e9, 8.9375e8, …
    assert m_mu == pytest.approx(1.7875e9)
    # detections behind each quantity (per basis)
    n_mu = m_mu * 3.1e-5  # 55412.5
    n_nu = m_nu * 1.9e-5  # 16981.25
    n_0y0 = m_0 * 8.0e-7  # 715
    n_e = n_nu * 0.021  # 356.6
    assert (n_mu, n_0y0) == (pytest.approx(55412.5), pytest.approx(715.0))
    # 5 sigma fluctuations at epsilon = 1e-5
    q_mu_u = 3.1e-5 * (1 + 5 / math.sqrt(n_mu))  # 3.16585e-5
    q_nu_l = 1.9e-5 * (1 - 5 / math.sqrt(n_nu))  # 1.82710e-5
    y0_u = 8.0e-7 * (1 + 5 / math.sqrt(n_0y0))  # 9.4959e-7
    y0_l = 8.0e-7 * (1 - 5 / math.sqrt(n_0y0))  # 6.5041e-7
    eq_u = 0.021 * 1.9e-5 * (1 + 5 / math.sqrt(n_e))  # 5.0464e-7
    mu, nu = 0.6, 0.35
    y1 = mu / (mu * nu - nu**2) * (q_nu_l * math.exp(nu) - nu**2 / mu**2 * q_mu_u
                                   * math.exp(mu) - (mu**2 - nu**2) / mu**2 * y0_u)
    q1 = y1 * mu * math.exp(-mu)
    e1 = (eq_u * math.exp(nu) - y0_l / 2) / (nu * y1)
    assert y1 == pytest.approx(3.8895e-5, rel=1e-4)  # the figures written out
    assert e1 == pytest.approx(0.028716, rel=1e-4)
    b = r.z.bounds
    assert b.q_mu_upper == pytest.approx(q_mu_u, rel=1e-12)
    assert b.q_nu_lower == pytest.approx(q_nu_l, rel=1e-12)
    assert (b.y0_lower, b.y0_upper) == (pytest.approx(y0_l, rel=1e-12),
                                        pytest.approx(y0_u, rel=1e-12))
    assert r.to_dict()["y1_lower"] == pytest.approx(y1, rel=1e-12)
    assert r.to_dict()["q1_lower"] == pytest.approx(q1, rel=1e-12)
    assert r.to_dict()["e1_upper"] == pytest.approx(e1, rel=1e-12)
    # θ: single-photon counts of both bases are equal (q = 1/2), e = e1 of X
    n1 = m_mu * q1
    theta = r.z.theta
    assert 0 < theta < 0.05
    q = 0.5
    xi_x = h(e1 + theta - q * theta) - q * h(e1) - (1 - q) * h(e1 + theta)
    xi = math.sqrt(2 * n1) / math.sqrt(e1 * (1 - e1) * n1 * n1) * 2 ** (-(2 * n1) * xi_x)
    assert xi == pytest.approx(1e-5, rel=1e-6)
    # key: R = Q1 [1 − h(e1 + θ)] − I_ec per signal pulse; I_ec = 8000 bits per basis
    privacy = 1 - h(e1 + theta)
    assert r.to_dict()["privacy_factor"] == pytest.approx(privacy, rel=1e-12)
    per_basis = m_mu * q1 * privacy - 8000.0
    assert r.key_bits == math.floor(2 * per_basis)
    assert r.key_bits == pytest.approx(19643, abs=2)
    assert r.key_rate_bps == pytest.approx(r.key_bits / 143)
    assert r.r_pulse == pytest.approx(r.key_bits / n)
    assert r.ec_bits == 16000


def test_f_ec_leakage_by_hand():
    r = analyse_key(key_input_from_dict(_pass(ec_bits=None, f_ec=1.2)))
    n_mu = 143 * 50e6 * 0.25 * 3.1e-5  # sifted signal detections per basis
    assert r.z.ec_bits == pytest.approx(1.2 * n_mu * h(0.018), rel=1e-12)
    assert r.ec_bits == pytest.approx(2 * 1.2 * n_mu * h(0.018), rel=1e-12)
    default = analyse_key(key_input_from_dict(_pass(ec_bits=None)))
    assert "default" in default.ec_source
    assert default.z.ec_bits == pytest.approx(1.16 * n_mu * h(0.018), rel=1e-12)


def test_micius_levels_form_by_hand():
    d = _pass(q_mu=4.0e-5, q_nu=5.5e-6, y0=6.0e-7, e_mu=0.012, e_nu=0.03, ec_bits=None)
    d["intensities"] = {"levels": [0.8, 0.1, 0.0], "probabilities": [0.5, 0.25, 0.25]}
    d["rep_rate_hz"] = 100e6
    d["duration_s"] = 100
    r = analyse_key(key_input_from_dict(d))
    m = 100 * 100e6 * 0.5  # pulses per basis (all intensities)
    n_mu, n_nu, n0 = m * 0.5 * 4.0e-5, m * 0.25 * 5.5e-6, m * 0.25 * 6.0e-7
    mu, nu = 0.8, 0.1
    y1 = mu / (mu * nu - nu**2) * (
        5.5e-6 * (1 - 5 / math.sqrt(n_nu)) * math.exp(nu)
        - nu**2 / mu**2 * 4.0e-5 * (1 + 5 / math.sqrt(n_mu)) * math.exp(mu)
        - (mu**2 - nu**2) / mu**2 * 6.0e-7 * (1 + 5 / math.sqrt(n0)))
    e1 = ((0.03 * 5.5e-6 * (1 + 5 / math.sqrt(n_nu * 0.03))) * math.exp(nu)
          - 6.0e-7 * (1 - 5 / math.sqrt(n0)) / 2) / (nu * y1)
    assert r.z.bounds.y1_lower == pytest.approx(y1, rel=1e-12)
    assert r.z.e1_upper == pytest.approx(e1, rel=1e-12)
    assert r.key_bits > 0


def test_no_key_when_errors_too_high_is_zero_not_negative():
    r = analyse_key(key_input_from_dict(_pass(e_mu=0.09, e_nu=0.11, ec_bits=None)))
    assert r.z.bounds.y1_lower > 0
    assert r.z.r_signal_pulse < 0  # R itself is negative ...
    assert r.key_bits == 0 and r.key_rate_bps == 0 and r.r_pulse == 0  # ... the key is zero
    assert r.z.key_bits == 0 and r.x.key_bits == 0
    assert any("consume" in n for n in r.notes)


def test_no_key_when_noise_swamps_single_photons():
    r = analyse_key(key_input_from_dict(_pass(y0=2.5e-5)))
    # Y1_L = μ/(μν−ν²)(Q_ν^L e^ν − …) with Y0^U ≈ 2.6e-5: 1.9e-5·e^0.35 = 2.70e-5 is
    # outweighed by (ν/μ)² 3.1e-5 e^0.6 = 1.92e-5 plus 0.66 · 2.6e-5 = 1.72e-5
    assert r.z.bounds.y1_lower == 0 and r.z.bounds.q1_lower == 0
    assert r.z.privacy_factor == 0 and r.key_bits == 0
    assert any("Y1" in n for n in r.notes)


def test_per_basis_data_cross_the_bases():
    d = _pass()
    d["measured"]["z"] = {"p_basis": 0.5}
    d["measured"]["x"] = {"e_nu": 0.04, "p_basis": 0.5}
    r = analyse_key(key_input_from_dict(d))
    sym = analyse_key(key_input_from_dict(_pass()))
    # the X basis's own bit-error bound grows; it bounds the Z key's phase errors
    assert r.x.bounds.e1_bit_upper > sym.x.bounds.e1_bit_upper
    assert r.z.e1_upper == pytest.approx(r.x.bounds.e1_bit_upper)
    assert r.z.bounds.y1_lower == pytest.approx(sym.z.bounds.y1_lower)
    assert r.z.key_bits < sym.z.key_bits
    assert r.x.e1_upper == pytest.approx(sym.x.e1_upper)  # Z data unchanged


def test_shorter_pass_less_key_per_second():
    long = analyse_key(key_input_from_dict(_pass(ec_bits=None)))
    d = _pass(ec_bits=None)
    d["duration_s"] = 14.3
    short = analyse_key(key_input_from_dict(d))
    assert short.z.theta > long.z.theta
    assert short.z.bounds.y1_lower < long.z.bounds.y1_lower
    assert short.key_rate_bps < long.key_rate_bps


def test_theta_edges():
    assert solve_theta(0.02, 0, 1000) == pytest.approx(0.48)  # no sample: no bound
    assert solve_theta(0.02, 10, 10) == pytest.approx(0.48)  # too few counts
    assert solve_theta(0.02, 1e5, 1e5) < solve_theta(0.02, 1e4, 1e4)


@settings(max_examples=40, deadline=None)
@given(e=st.floats(0.005, 0.2), n_s=st.floats(1e3, 1e8), n_k=st.floats(1e3, 1e8))
def test_theta_solves_its_equation(e, n_s, n_k):
    theta = solve_theta(e, n_s, n_k, 1e-5)
    n, q = n_s + n_k, n_s / (n_s + n_k)
    if 0 < theta < 0.5 - e:
        xi_x = (binary_entropy(e + theta - q * theta) - q * binary_entropy(e)
                - (1 - q) * binary_entropy(e + theta))
        log2_xi = (0.5 * math.log2(n) - 0.5 * math.log2(e * (1 - e) * n_s * n_k)
                   - n * xi_x)
        assert log2_xi == pytest.approx(math.log2(1e-5), abs=1e-6)


@pytest.mark.parametrize(("change", "key"), [
    ({"intensities": {"mu": 0.6, "nu": 0.35, "p_mu": 0.5, "p_nu": 0.3, "p_vac": 0.25}},
     "p_mu + p_nu + p_vac must be 1"),
    ({"intensities": {"mu": 0.3, "nu": 0.35, "p_mu": 0.5, "p_nu": 0.25, "p_vac": 0.25}},
     "intensities.mu"),
    ({"measured": {"q_mu": 3.1e-5, "q_nu": 1.9e-5, "y0": 8e-7, "e_mu": 0.5, "e_nu": 0.02}},
     "measured.e_mu"),
    ({"measured": {"q_mu": 3.1e-5, "q_nu": -1.9e-5, "y0": 8e-7, "e_mu": 0.02, "e_nu": 0.02}},
     "measured.q_nu"),
    ({"measured": {"q_mu": 3.1e-5, "q_nu": 1.9e-5, "e_mu": 0.02, "e_nu": 0.02}},
     "measured.y0: missing"),
    ({"measured": {"q_mu": 3.1e-5, "q_nu": 1.9e-5, "y0": 8e-7, "e_mu": 0.02, "e_nu": 0.02,
                   "ec_bits": 1.0, "f_ec": 1.2}}, "not both"),
    ({"measured": {"q_mu": 3.1e-5, "q_nu": 1.9e-5, "y0": 8e-7, "e_mu": 0.02, "e_nu": 0.02,
                   "f_ec": 0.9}}, "measured.f_ec"),
    ({"measured": {"q_mu": 3.1e-5, "q_nu": 1.9e-5, "y0": 8e-7, "e_mu": 0.02, "e_nu": 0.02,
                   "z": {"p_basis": 0.5}}}, "measured.z"),
    ({"measured": {"q_mu": 3.1e-5, "q_nu": 1.9e-5, "y0": 8e-7, "e_mu": 0.02, "e_nu": 0.02,
                   "z": {"p_basis": 0.7}, "x": {"p_basis": 0.5}}}, "p_basis"),
    ({"measured": {"q_mu": 3.1e-5, "q_nu": 1.9e-5, "y0": 8e-7, "e_mu": 0.02, "e_nu": 0.02,
                   "qber": 0.1}}, "measured.qber: unknown key"),
    ({"security": {"epsilon": 2.0}}, "security.epsilon"),
    ({"duration_s": -1}, "duration_s"),
    ({"rep_rate_hz": "fast"}, "rep_rate_hz"),
])
def test_bad_input_names_the_key(change, key):
    d = _pass()
    d.update(change)
    with pytest.raises(ConfigError, match=key.replace("+", r"\+").replace(".", r"\.")):
        analyse_key(key_input_from_dict(d))


def test_cli_key(tmp_path, capsys):
    assert main(["key", str(EXAMPLE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for k in ("key_bits", "key_rate_bps", "r_pulse", "y1_lower", "q1_lower", "e1_upper",
              "privacy_factor", "ec_bits"):
        assert k in out
    assert out["key_bits"] == pytest.approx(19643, abs=2)
    assert main(["key", str(EXAMPLE)]) == 0
    assert "secure key:" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace("p_vac = 0.25", "p_vac = 0.3"))
    assert main(["key", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "p_mu + p_nu + p_vac" in err and len(err.splitlines()) == 1
    broken = tmp_path / "broken.toml"
    broken.write_text("duration_s = = 3\n")
    assert main(["key", str(broken)]) == 2
    assert "broken.toml:1" in capsys.readouterr().err
    zero = tmp_path / "zero.toml"
    zero.write_text(EXAMPLE.read_text().replace("e_nu = 0.021", "e_nu = 0.12"))
    assert main(["key", str(zero), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["key_bits"] == 0


@settings(max_examples=60, deadline=None)
@given(q_mu=st.floats(1e-7, 1e-2), ratio=st.floats(0.05, 1.0), y0=st.floats(0, 1e-4),
       e_mu=st.floats(0, 0.49), e_nu=st.floats(0, 0.49), duration=st.floats(1, 1000))
def test_any_valid_pass_gives_a_finite_non_negative_key(q_mu, ratio, y0, e_mu, e_nu,
                                                        duration):
    d = _pass(q_mu=q_mu, q_nu=q_mu * ratio, y0=y0, e_mu=e_mu, e_nu=e_nu, ec_bits=None)
    d["duration_s"] = duration
    r = analyse_key(key_input_from_dict(d))
    assert r.key_bits >= 0 and math.isfinite(r.key_rate_bps)
    for k in (r.z, r.x):
        assert 0 <= k.e1_upper <= 0.5 and 0 <= k.e1_phase_upper <= 0.5
        assert 0 <= k.privacy_factor <= 1 and k.key_bits >= 0
    worse = dict(d, measured={**d["measured"], "e_nu": min(0.49, e_nu + 0.05)})
    assert analyse_key(key_input_from_dict(worse)).key_bits <= r.key_bits
