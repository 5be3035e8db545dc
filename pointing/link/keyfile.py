"""Key-analysis input files (TOML) for :func:`pointing.link.decoy.analyse_key`.

Example::

    duration_s = 143
    rep_rate_hz = 50e6
    [intensities]          # mean photon numbers, sending probabilities
    mu = 0.6
    nu = 0.35
    p_mu = 0.5
    p_nu = 0.25
    p_vac = 0.25
    [measured]             # sifted gains per pulse of that intensity, vacuum yield, QBERs
    q_mu = 3.1e-5
    q_nu = 1.9e-5
    y0 = 8.0e-7
    e_mu = 0.018
    e_nu = 0.021
    ec_bits = 16000        # leakage of error correction; or f_ec = 1.16 (the default)
    [security]
    epsilon = 1e-5         # failure probability
    # n_sigma = 5          # default 5·√(ln(1/ε)/ln 1e5): 5 at 1e-5

The intensities may also be given as ``levels = [0.8, 0.1, 0.0]`` and
``probabilities = [0.5, 0.25, 0.25]`` (signal, decoy, vacuum).  Data split by
basis go in ``[measured.z]`` and ``[measured.x]`` (both or neither), each with
any of ``q_mu q_nu y0 e_mu e_nu`` (overriding ``[measured]``), ``p_basis``
(default 0.5) and ``ec_bits``.  Unknown keys are errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pointing.config.toml import read_toml
from pointing.errors import ConfigError
from pointing.link.decoy import BasisData, Intensities, KeyInput

__all__ = ["key_input_from_dict", "load_key_input"]

_TOP = ("duration_s", "rep_rate_hz", "intensities", "measured", "security")
_INTENS = ("mu", "nu", "p_mu", "p_nu", "p_vac", "levels", "probabilities")
_DATA = ("q_mu", "q_nu", "y0", "e_mu", "e_nu")
_MEASURED = (*_DATA, "ec_bits", "f_ec", "z", "x")
_BASIS = (*_DATA, "p_basis", "ec_bits")
_SECURITY = ("epsilon", "n_sigma")


def load_key_input(path: str | Path) -> KeyInput:
    """Read and validate a key file; errors name the file and the key."""
    path = Path(path)
    data = read_toml(path, "key file")
    try:
        return key_input_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _table(d: Mapping, key: str, where: str, known: tuple[str, ...], required: bool = True
           ) -> dict:
    value = d.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{where}: missing section")
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table, got {value!r}")
    for k in value:
        if k not in known:
            raise ConfigError(f"{where}.{k}: unknown key (known: {', '.join(known)})")
    return dict(value)


def _num(d: Mapping, key: str, where: str, default: Any = ...) -> Any:
    if key not in d:
        if default is ...:
            raise ConfigError(f"{where}: missing")
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v or abs(v) == float("inf"):
        raise ConfigError(f"{where}: expected a finite number, got {v!r}")
    return float(v)


def _intensities(sec: dict) -> Intensities:
    w = "intensities"
    if "levels" in sec or "probabilities" in sec:
        if any(k in sec for k in ("mu", "nu", "p_mu", "p_nu", "p_vac")):
            raise ConfigError(f"{w}.levels: give levels/probabilities or mu/nu/p_*, not both")
        lv, pr = sec.get("levels"), sec.get("probabilities")
        for name, v in (("levels", lv), ("probabilities", pr)):
            if not isinstance(v, list) or len(v) != 3:
                raise ConfigError(f"{w}.{name}: expected 3 numbers (signal, decoy, vacuum), "
                                  f"got {v!r}")
        lv = [_num({"v": x}, "v", f"{w}.levels[{i}]") for i, x in enumerate(lv)]
        pr = [_num({"v": x}, "v", f"{w}.probabilities[{i}]") for i, x in enumerate(pr)]
        if lv[2] != 0.0:
            raise ConfigError(f"{w}.levels[2]: the third level is the vacuum and must be 0, "
                              f"got {lv[2]:g}")
        return Intensities(lv[0], lv[1], *pr)
    return Intensities(*(_num(sec, k, f"{w}.{k}") for k in ("mu", "nu", "p_mu", "p_nu",
                                                             "p_vac")))


def _bases(meas: dict) -> tuple[BasisData, BasisData]:
    z = _table(meas, "z", "measured.z", _BASIS, required=False)
    x = _table(meas, "x", "measured.x", _BASIS, required=False)
    if bool(z) != bool(x):
        raise ConfigError("measured.z: give both [measured.z] and [measured.x] or neither")
    if not z:
        common = {k: _num(meas, k, f"measured.{k}") for k in _DATA}
        return (BasisData(**common, where="measured"), BasisData(**common, where="measured"))
    out = []
    for name, sec in (("z", z), ("x", x)):
        w = f"measured.{name}"
        vals = {k: _num(sec, k, f"{w}.{k}") if k in sec else _num(meas, k, f"{w}.{k}")
                for k in _DATA}
        out.append(BasisData(**vals, p_basis=_num(sec, "p_basis", f"{w}.p_basis", 0.5),
                             ec_bits=_num(sec, "ec_bits", f"{w}.ec_bits", None), where=w))
    return out[0], out[1]


def key_input_from_dict(data: Mapping[str, Any]) -> KeyInput:
    """:class:`KeyInput` from a parsed key file (ConfigError names the key)."""
    for k in data:
        if k not in _TOP:
            raise ConfigError(f"{k}: unknown key (known: {', '.join(_TOP)})")
    intens = _intensities(_table(data, "intensities", "intensities", _INTENS))
    meas = _table(data, "measured", "measured", _MEASURED)
    sec = _table(data, "security", "security", _SECURITY, required=False)
    z, x = _bases(meas)
    return KeyInput(
        duration_s=_num(data, "duration_s", "duration_s"),
        rep_rate_hz=_num(data, "rep_rate_hz", "rep_rate_hz"),
        intensities=intens, z=z, x=x,
        epsilon=_num(sec, "epsilon", "security.epsilon", 1e-5),
        n_sigma=_num(sec, "n_sigma", "security.n_sigma", None),
        ec_bits=_num(meas, "ec_bits", "measured.ec_bits", None),
        f_ec=_num(meas, "f_ec", "measured.f_ec", None),
    )
