"""Finite-key secure key of a decoy-state BB84 pass (vacuum + weak decoy).

The analysis of the domain brief ("After calibration"), per basis b (Z or X;
the pass's key is K_Z + K_X), per signal pulse:

    R_b ≥ Q1_b [1 − h(e1_phase,b)] − I_ec,b
    Y1_L = μ / (μν − ν²) · (Q_ν^L e^ν − (ν²/μ²) Q_μ^U e^μ − ((μ² − ν²)/μ²) Y0^U)
    Q1_L = Y1_L μ e^−μ
    e1_bit ≤ ((E_ν Q_ν)^U e^ν − Y0^L / 2) / (ν Y1_L)
    e1_phase,Z ≤ e1_bit,X + θ        (the X data bound the phase errors of the Z key)

with statistical fluctuations of ``n_sigma`` standard deviations (5 at the
brief's failure probability 1e-5): Q_ν^L = Q_ν (1 − n/√N_ν), Q_μ^U = Q_μ (1 +
n/√N_μ), Y0^{L,U} = Y0 (1 ∓ n/√(N_0 Y0)), (E Q_ν)^U = E Q_ν (1 + n/√N_E), N
the detections (or errors) behind each quantity.  θ is the random-sampling
correction: with q = n_s / (n_s + n_k) (n the single-photon counts of the
sampling and key bases) it solves

    ξ = √(n_s + n_k) / √(e (1 − e) n_s n_k) · 2^(−(n_s + n_k) ξ_x(θ)),
    ξ_x(θ) = H(e + θ − qθ) − q H(e) − (1 − q) H(e + θ),

at ξ = ε (:func:`solve_theta`, Brent's method on the base-2 logarithm).

Gains Q are *sifted* detections per pulse of that intensity sent in the basis
(the pulses of intensity i sent in basis b are N p_i p_b, N = rate × duration);
without per-basis data the two bases are equally likely and share the counts
evenly.  The key is distilled from the signal pulses.  A pass that cannot give
a key gives exactly zero, never a negative number.  Pure numpy/scipy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from scipy.optimize import brentq

from pointing.errors import ConfigError

__all__ = [
    "BasisBounds",
    "BasisData",
    "BasisKey",
    "Intensities",
    "KeyInput",
    "KeyResult",
    "analyse_key",
    "binary_entropy",
    "decoy_bounds",
    "default_n_sigma",
    "solve_theta",
]

#: the brief's error-correction efficiency when neither ec_bits nor f_ec is given
DEFAULT_F_EC = 1.16
#: smallest error rate used inside θ's prefactor (e = 0 makes it infinite)
_E_FLOOR = 1e-9


def binary_entropy(x: float) -> float:
    """h(x) = −x log2 x − (1−x) log2(1−x); 0 at x ≤ 0 or x ≥ 1."""
    if x <= 0.0 or x >= 1.0:
        return 0.0
    return -x * math.log2(x) - (1.0 - x) * math.log2(1.0 - x)


def default_n_sigma(epsilon: float) -> float:
    """Standard deviations of the fluctuations at failure probability *epsilon*.

    The brief's 5σ at ε = 1e-5, scaled like a Gaussian tail (∝ √ln(1/ε)).
    """
    return 5.0 * math.sqrt(math.log(1.0 / epsilon) / math.log(1e5))


@dataclass(frozen=True)
class Intensities:
    """Mean photon numbers (signal μ > decoy ν > vacuum 0) and sending probabilities."""

    mu: float
    nu: float
    p_mu: float
    p_nu: float
    p_vac: float

    def __post_init__(self) -> None:
        _check(self.mu > 0, "intensities.mu", f"must be > 0, got {self.mu:g}")
        _check(self.nu > 0, "intensities.nu", f"must be > 0, got {self.nu:g}")
        _check(self.mu > self.nu, "intensities.mu",
               f"the signal must be brighter than the decoy (mu > nu), got mu = {self.mu:g}, "
               f"nu = {self.nu:g}")
        for name in ("p_mu", "p_nu", "p_vac"):
            v = getattr(self, name)
            _check(0.0 < v < 1.0, f"intensities.{name}", f"must lie in (0, 1), got {v:g}")
        total = self.p_mu + self.p_nu + self.p_vac
        _check(abs(total - 1.0) < 1e-6, "intensities.p_mu",
               f"p_mu + p_nu + p_vac must be 1, got {total:.6g}")


@dataclass(frozen=True)
class BasisData:
    """Measured data of one basis: sifted gains, vacuum yield, QBERs.

    ``p_basis`` is the probability of sending (and sifting in) this basis;
    ``ec_bits`` the error-correction leakage of this basis's key (None: from
    the total or from f_ec).
    """

    q_mu: float
    q_nu: float
    y0: float
    e_mu: float
    e_nu: float
    p_basis: float = 0.5
    ec_bits: float | None = None
    where: str = "measured"

    def __post_init__(self) -> None:
        w = self.where
        for name in ("q_mu", "q_nu", "y0"):
            v = getattr(self, name)
            _check(0.0 <= v <= 1.0, f"{w}.{name}",
                   f"a gain is a probability per pulse in [0, 1], got {v:g}")
        for name in ("e_mu", "e_nu"):
            v = getattr(self, name)
            _check(0.0 <= v < 0.5, f"{w}.{name}",
                   f"a QBER must lie in [0, 0.5), got {v:g}")
        _check(0.0 < self.p_basis < 1.0, f"{w}.p_basis",
               f"must lie in (0, 1), got {self.p_basis:g}")
        if self.ec_bits is not None:
            _check(self.ec_bits >= 0, f"{w}.ec_bits", f"must be >= 0, got {self.ec_bits:g}")


@dataclass(frozen=True)
class KeyInput:
    """Everything the key analysis needs (see :func:`pointing.link.keyfile.load_key_input`)."""

    duration_s: float
    rep_rate_hz: float
    intensities: Intensities
    z: BasisData
    x: BasisData
    epsilon: float = 1e-5
    n_sigma: float | None = None
    ec_bits: float | None = None
    f_ec: float | None = None

    def __post_init__(self) -> None:
        _check(self.duration_s > 0, "duration_s", f"must be > 0, got {self.duration_s:g}")
        _check(self.rep_rate_hz > 0, "rep_rate_hz", f"must be > 0, got {self.rep_rate_hz:g}")
        _check(0.0 < self.epsilon < 1.0, "security.epsilon",
               f"must lie in (0, 1), got {self.epsilon:g}")
        if self.n_sigma is not None:
            _check(self.n_sigma >= 0, "security.n_sigma", f"must be >= 0, got {self.n_sigma:g}")
        _check(abs(self.z.p_basis + self.x.p_basis - 1.0) < 1e-6, "measured.z.p_basis",
               f"p_basis of z and x must sum to 1, got {self.z.p_basis:g} + "
               f"{self.x.p_basis:g}")
        if self.ec_bits is not None and self.f_ec is not None:
            raise ConfigError("measured.ec_bits: give ec_bits or f_ec, not both")
        if self.ec_bits is not None:
            _check(self.ec_bits >= 0, "measured.ec_bits", f"must be >= 0, got {self.ec_bits:g}")
        if self.f_ec is not None:
            _check(self.f_ec >= 1.0, "measured.f_ec",
                   f"error correction cannot beat the Shannon limit (f_ec >= 1), got "
                   f"{self.f_ec:g}")

    @property
    def n_pulses(self) -> float:
        """Pulses sent during the pass, all intensities."""
        return self.duration_s * self.rep_rate_hz

    @property
    def sigma(self) -> float:
        """Standard deviations used for the fluctuations."""
        return default_n_sigma(self.epsilon) if self.n_sigma is None else self.n_sigma


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


# --- decoy bounds of one basis ----------------------------------------------------------------


@dataclass(frozen=True)
class BasisBounds:
    """Decoy-state bounds of one basis from its own data.

    Pulse and detection counts are of this basis; ``n1`` the single-photon
    detections among its signal pulses (M_μ Q1_L); ``e1_bit_upper`` the
    single-photon bit-error bound (≤ 0.5; 0.5 when Y1_L ≤ 0).
    """

    basis: str
    pulses_mu: float
    pulses_nu: float
    pulses_vac: float
    detections_mu: float
    detections_nu: float
    detections_vac: float
    errors_nu: float
    q_mu_upper: float
    q_nu_lower: float
    y0_lower: float
    y0_upper: float
    eq_nu_upper: float
    y1_lower: float
    q1_lower: float
    e1_bit_upper: float
    n1: float


def _up(value: float, n: float, s: float) -> float:
    return value * (1.0 + s / math.sqrt(n)) if n > 0 else value


def _low(value: float, n: float, s: float) -> float:
    return max(0.0, value * (1.0 - s / math.sqrt(n))) if n > 0 else value


def decoy_bounds(data: BasisData, intens: Intensities, n_pulses: float, n_sigma: float,
                 basis: str = "z") -> BasisBounds:
    """Y1, Q1 and e1 bounds of one basis with *n_sigma* fluctuations."""
    mu, nu = intens.mu, intens.nu
    m_mu, m_nu, m_0 = (n_pulses * p * data.p_basis for p in (intens.p_mu, intens.p_nu,
                                                              intens.p_vac))
    n_mu, n_nu, n_0 = m_mu * data.q_mu, m_nu * data.q_nu, m_0 * data.y0
    n_err = n_nu * data.e_nu
    q_mu_u = _up(data.q_mu, n_mu, n_sigma)
    q_nu_l = _low(data.q_nu, n_nu, n_sigma)
    y0_l = _low(data.y0, n_0, n_sigma)
    y0_u = _up(data.y0, n_0, n_sigma)
    eq_nu_u = _up(data.e_nu * data.q_nu, n_err, n_sigma)
    y1_l = mu / (mu * nu - nu**2) * (q_nu_l * math.exp(nu)
                                      - nu**2 / mu**2 * q_mu_u * math.exp(mu)
                                      - (mu**2 - nu**2) / mu**2 * y0_u)
    if y1_l > 0:
        q1_l = y1_l * mu * math.exp(-mu)
        e1 = (eq_nu_u * math.exp(nu) - y0_l / 2.0) / (nu * y1_l)
        e1 = min(max(e1, 0.0), 0.5)
    else:
        y1_l, q1_l, e1 = max(y1_l, 0.0), 0.0, 0.5
    return BasisBounds(basis, m_mu, m_nu, m_0, n_mu, n_nu, n_0, n_err, q_mu_u, q_nu_l, y0_l,
                       y0_u, eq_nu_u, y1_l, q1_l, e1, m_mu * q1_l)


# --- random-sampling correction θ -------------------------------------------------------------


def solve_theta(e: float, n_sample: float, n_key: float, xi: float = 1e-5) -> float:
    """θ of the brief's equation: the phase error of the key basis is ≤ e + θ.

    *e* is the single-photon error of the sampling basis, *n_sample* and
    *n_key* the single-photon counts of the sampling and key bases, *xi* the
    failure probability.  Returns 0.5 − e (no bound worth having) when even
    that θ leaves the failure probability above *xi*, and 0 when θ = 0 already
    meets it.
    """
    if n_sample <= 0 or n_key <= 0:
        return max(0.5 - e, 0.0)
    e = min(max(e, _E_FLOOR), 0.5 - _E_FLOOR)
    n = n_sample + n_key
    q = n_sample / n
    log2_pref = 0.5 * math.log2(n) - 0.5 * math.log2(e * (1.0 - e) * n_sample * n_key)
    log2_xi = math.log2(xi)

    def f(theta: float) -> float:
        xi_x = (binary_entropy(e + theta - q * theta) - q * binary_entropy(e)
                - (1.0 - q) * binary_entropy(e + theta))
        return log2_pref - n * xi_x - log2_xi

    top = 0.5 - e
    if f(0.0) <= 0.0:
        return 0.0
    if f(top) > 0.0:
        return top
    return float(brentq(f, 0.0, top, xtol=1e-14, rtol=1e-12))


# --- the key ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasisKey:
    """Key of one basis: its bounds, the phase-error bound from the other basis, R."""

    basis: str
    bounds: BasisBounds
    e1_upper: float  #: single-photon bit-error bound of the *other* basis (its sample)
    theta: float
    e1_phase_upper: float
    privacy_factor: float  #: 1 − h(e1_phase_upper)
    ec_bits: float
    r_signal_pulse: float  #: R_b per signal pulse of this basis (may be < 0)
    key_bits: float  #: max(0, R_b) × signal pulses of this basis

    def to_dict(self) -> dict:
        out = asdict(self)
        out["bounds"] = asdict(self.bounds)
        return out


@dataclass(frozen=True)
class KeyResult:
    """Secure key of a pass and every intermediate bound.

    The headline bounds (``y1_lower`` … ``privacy_factor``) are those of the Z
    key; both bases are in ``z`` and ``x``.
    """

    input: KeyInput
    n_sigma: float
    z: BasisKey
    x: BasisKey
    key_bits: int
    key_rate_bps: float
    r_pulse: float  #: key bits per pulse sent (all intensities)
    ec_bits: float
    ec_source: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        z = self.z
        return {
            "key_bits": self.key_bits,
            "key_rate_bps": self.key_rate_bps,
            "r_pulse": self.r_pulse,
            "y1_lower": z.bounds.y1_lower,
            "q1_lower": z.bounds.q1_lower,
            "e1_upper": z.e1_upper,
            "theta": z.theta,
            "e1_phase_upper": z.e1_phase_upper,
            "privacy_factor": z.privacy_factor,
            "ec_bits": self.ec_bits,
            "ec_source": self.ec_source,
            "n_pulses": self.input.n_pulses,
            "n_sigma": self.n_sigma,
            "epsilon": self.input.epsilon,
            "duration_s": self.input.duration_s,
            "bases": {"z": z.to_dict(), "x": self.x.to_dict()},
            "notes": list(self.notes),
        }


def _ec_bits(inp: KeyInput, data: BasisData, bounds: BasisBounds, total_mu: float
             ) -> tuple[float, str]:
    if data.ec_bits is not None:
        return data.ec_bits, "measured per basis"
    if inp.ec_bits is not None:
        share = bounds.detections_mu / total_mu if total_mu > 0 else data.p_basis
        return inp.ec_bits * share, "measured"
    f = DEFAULT_F_EC if inp.f_ec is None else inp.f_ec
    return (f * bounds.detections_mu * binary_entropy(data.e_mu),
            f"f_ec = {f:g}" + (" (default)" if inp.f_ec is None else ""))


def _basis_key(inp: KeyInput, key: BasisBounds, sample: BasisBounds, data: BasisData,
               total_mu: float) -> tuple[BasisKey, str]:
    e_s = sample.e1_bit_upper
    theta = solve_theta(e_s, sample.n1, key.n1, inp.epsilon) if key.q1_lower > 0 else 0.0
    e_ph = min(e_s + theta, 0.5)
    privacy = 1.0 - binary_entropy(e_ph) if key.q1_lower > 0 else 0.0
    ec, source = _ec_bits(inp, data, key, total_mu)
    m = key.pulses_mu
    r = key.q1_lower * privacy - ec / m
    return BasisKey(key.basis, key, e_s, theta, e_ph, privacy, ec, r,
                    max(0.0, r) * m), source


def analyse_key(inp: KeyInput) -> KeyResult:
    """Finite-key decoy analysis of a pass (see the module docstring)."""
    s = inp.sigma
    bz = decoy_bounds(inp.z, inp.intensities, inp.n_pulses, s, "z")
    bx = decoy_bounds(inp.x, inp.intensities, inp.n_pulses, s, "x")
    total_mu = bz.detections_mu + bx.detections_mu
    kz, source = _basis_key(inp, bz, bx, inp.z, total_mu)
    kx, _ = _basis_key(inp, bx, bz, inp.x, total_mu)
    notes = []
    for k in (kz, kx):
        if k.bounds.y1_lower <= 0:
            notes.append(f"{k.basis} basis: the decoy bound on Y1 is not positive "
                         "(too few counts or too much noise): no key from this basis")
        elif k.r_signal_pulse <= 0:
            notes.append(f"{k.basis} basis: error correction and privacy amplification "
                         "consume every bit: no key from this basis")
    if inp.z.y0 == 0 or inp.x.y0 == 0:
        notes.append("vacuum yield 0: no fluctuation applied to Y0 (no counts to scale)")
    total = math.floor(kz.key_bits + kx.key_bits)
    return KeyResult(inp, s, kz, kx, int(total), total / inp.duration_s,
                     total / inp.n_pulses, kz.ec_bits + kx.ec_bits, source, notes)

