"""Pointing-model terms for alt-az mounts, by their TPOINT names.

Every term has a coefficient in arcseconds and a *basis*: the first-order
displacement it causes on the sky per radian of coefficient, as a pair
``(bx, be)`` where ``bx`` is the azimuth displacement times cos E (the
"sky" or cross-elevation component) and ``be`` the elevation displacement.
Displacements are **observed (true) minus raw (encoder)**, so a term with
coefficient ``c`` moves a raw position by ``c * (bx, be)`` to first order.

Convention (matches TPOINT; every sign below was checked by refitting the
2020 Rubin AuxTel runs and reproducing TPOINT's own ``.mod`` solutions)::

    IA    ΔA = −IA                         azimuth zero point
    IE    ΔE = +IE                         elevation zero point
    CA    ΔA·cosE = −CA                    collimation (left-right)
    NPAE  ΔA·cosE = −NPAE·sinE             az/el axis non-perpendicularity
    AN    ΔA·cosE = −AN·sinA·sinE, ΔE = −AN·cosA   az axis tilted toward north
    AW    ΔA·cosE = −AW·cosA·sinE, ΔE = +AW·sinA   az axis tilted toward west
    TF    ΔE = −TF·cosE                    tube flexure, cos law
    TX    ΔE = −TX·cotE                    tube flexure, tan law; cot E is held at 10 below
                                           5.7° elevation (TPOINT's TX10 spelling)
    ECES  ΔE = +ECES·sinE                  elevation centring error, sin component
    ECEC  ΔE = +ECEC·cosE                  elevation centring error, cos component
    NRX   ΔA·cosE = −NRX·cosE, ΔE = −NRX·sinE     Nasmyth rotator displacement, horizontal
    NRY   ΔA·cosE = −NRY·sinE, ΔE = +NRY·cosE     Nasmyth rotator displacement, vertical

Azimuth ``A`` is reckoned from north (0) through east (90°).

Generic harmonic terms are named ``H`` + result + one or more factors:

* result ``A`` (azimuth, ΔA = −c·f), ``S`` (sky, ΔA·cosE = −c·f),
  ``E`` (elevation, ΔE = +c·f) or ``Z`` (zenith distance, ΔE = −c·f), and
  TPOINT's mount-independent spellings ``L`` (left-right, = ``S`` on an
  alt-az mount) and ``V`` (vertical, = ``E`` on an alt-az mount), as in the
  ``HVCA3`` of published AuxTel fit tables; the equatorial results ``H``,
  ``D``, ``X`` and coordinates ``H``, ``D`` are refused by name;
* each factor is ``S`` (sine) or ``C`` (cosine) of a coordinate ``A``, ``E``
  or ``Z`` (= 90° − E) times an optional integer multiplier, e.g. ``HESE``,
  ``HACA2``, ``HSCA5CE8``, ``HESACE``; ``f`` is the product of the factors;
  multipliers at most 99 and at most three factors (a name such as
  ``HSCA99999999`` is refused at once).

TPOINT evaluates the azimuth argument of its harmonics as ``A' = 180° − A``
(azimuth reckoned from south through east), which flips the sign of sine
factors of even multiples and of cosine factors of odd multiples relative to
a north-based azimuth.  The A, S and E families and this azimuth origin are
fixed by the AuxTel 2020-03-14 solution (HACA2, HASA7, HESA2, HESA3, HESACE,
HSCE3, HSCA5CE8, HSSA6CE6, ...); the ``Z`` result family does not occur in
the reference data and follows the ``E`` family with the sign of ΔZ = −ΔE.

Where the terms act (see :mod:`pointing.model.kernels`): IA, IE, CA, NPAE, AN,
AW, NRX and NRY are applied rigorously as the rotations of the mount's
geometry; all other terms are small additive corrections applied in model
order at the position reached so far — except a harmonic spelled with
TPOINT's ``&`` (``"&HESE"``, :attr:`Term.parallel`), evaluated where the
nearest term before it without ``&`` is evaluated.  The basis functions here
are the first-order derivatives used by the fit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from pointing.errors import TermError

__all__ = [
    "ADDITIVE",
    "EQUATORIAL_TERMS",
    "GEOMETRIC",
    "MOUNT_FAMILIES",
    "PIER_SIDES",
    "Term",
    "known_terms",
    "parse_term",
    "parse_terms",
]

#: terms applied rigorously in the mount's geometry (the rest are additive)
GEOMETRIC = ("IA", "IE", "CA", "NPAE", "AN", "AW", "NRX", "NRY")

_SIMPLE_DOC = {
    "IA": "azimuth zero point",
    "IE": "elevation zero point",
    "CA": "collimation error (left-right)",
    "NPAE": "non-perpendicularity of azimuth and elevation axes",
    "AN": "azimuth axis tilt toward north",
    "AW": "azimuth axis tilt toward west",
    "NRX": "Nasmyth rotator displacement, horizontal",
    "NRY": "Nasmyth rotator displacement, vertical",
    "TF": "tube flexure, cos E law",
    "TX": "tube flexure, cot E law",
    "TX10": "tube flexure, cot E law (TPOINT spelling)",
    "ECES": "elevation centring error, sin component",
    "ECEC": "elevation centring error, cos component",
}

#: |cot E| limit of the TX term (TPOINT's TX10), avoiding the singular horizon
TX_COT_LIMIT = 10.0

#: additive (non-geometric) named terms
ADDITIVE = ("TF", "TX", "TX10", "ECES", "ECEC")

#: the two term families: a model's terms all belong to its mount's family
MOUNT_FAMILIES = ("altaz", "equatorial")

#: TPOINT's named equatorial terms (see :mod:`pointing.model.equatorial` for each formula)
_EQUATORIAL_DOC = {
    "IH": "hour-angle zero point",
    "ID": "declination zero point",
    "CH": "east-west collimation error",
    "NP": "non-perpendicularity of polar and declination axes",
    "MA": "polar axis misalignment in azimuth (left-right)",
    "ME": "polar axis misalignment in elevation",
    "TF": "tube flexure, sin z law",
    "TX": "tube flexure, tan z law",
    "TX10": "tube flexure, tan z law (TPOINT spelling)",
    "FO": "fork flexure",
    "DAF": "declination axis flexure",
}
EQUATORIAL_TERMS = tuple(_EQUATORIAL_DOC)
#: terms whose name means something on both mounts (with each mount's formula)
_SHARED = ("TF", "TX", "TX10")

_HARMONIC = re.compile(r"^H([A-Z])((?:[A-Z][A-Z][0-9]*)+)$")
_FACTOR = re.compile(r"([A-Z])([A-Z])([0-9]*)")
_RESULT_NAMES = {"A": "azimuth", "S": "sky (ΔA·cosE)", "E": "elevation", "Z": "zenith distance",
                 "V": "vertical (ΔE)", "L": "left-right (ΔA·cosE)"}
#: result letter → sign of the correction (true − raw = sign·c·f) and what it moves
_RESULT_SIGN = {"A": -1.0, "S": -1.0, "L": -1.0, "E": 1.0, "V": 1.0, "Z": -1.0}
_EQUATORIAL_RESULTS = {"H": "hour angle", "D": "declination", "X": "east-west (Δh·cosδ)",
                       "L": "left-right (Δh·cosδ)", "V": "vertical (Δδ)"}
_EQUATORIAL_COORDS = {"H": "hour angle", "D": "declination"}
_ALTAZ_COORDS = {"A": "azimuth", "E": "elevation", "Z": "zenith distance"}
#: largest harmonic multiplier accepted (FAUTO uses up to 8)
MAX_HARMONIC_ORDER = 99
#: most factors in one harmonic term
MAX_HARMONIC_FACTORS = 3


@dataclass(frozen=True)
class Term:
    """One pointing-model term.

    Attributes
    ----------
    name : str
        The TPOINT name, upper case (``"IA"``, ``"HESE"``, ``"TX10"``).
    kind : str
        ``"geometric"`` for the terms applied as exact rotations,
        ``"additive"`` for the rest.
    result : str
        For harmonics the result letter (A, E, S or Z), else ``""``.
    factors : tuple of (str, str, int)
        For harmonics the ``(function, coordinate, multiplier)`` factors,
        e.g. ``(("S", "A", 2), ("C", "E", 1))``.
    mount : str
        The term family: ``"altaz"`` or ``"equatorial"`` (IH, ID, ..., and
        harmonics in H and D; TF and TX exist in both with each mount's formula).
    parallel : bool
        TPOINT's ``&`` flag (alt-az harmonics): the term is evaluated where the
        nearest term before it without the flag is evaluated, not at the
        position reached so far (see :mod:`pointing.model.kernels`).  Spelled
        ``&`` + name (``"&HESE"``); :attr:`name` stays the bare name.
    """

    name: str
    kind: str
    result: str = ""
    factors: tuple[tuple[str, str, int], ...] = ()
    mount: str = "altaz"
    #: German equatorial pier-side terms (``ID@FAR``): ``"near"`` or ``"far"``, the pier
    #: side the term acts on (raw δ within ±90° or beyond the pole); ``""`` for both
    side: str = ""
    parallel: bool = False

    @property
    def is_harmonic(self) -> bool:
        return bool(self.result)

    @property
    def spelling(self) -> str:
        """The name with TPOINT's ``&`` in front for a parallel term (``"&HESE"``)."""
        return "&" + self.name if self.parallel else self.name

    @property
    def description(self) -> str:
        if self.side:
            base = parse_term(self.name.partition("@")[0], "equatorial").description
            return f"{base}, {self.side} side of the pier only"
        if not self.is_harmonic:
            return (_EQUATORIAL_DOC if self.mount == "equatorial" else _SIMPLE_DOC)[self.name]
        parts = [
            f"{'sin' if f == 'S' else 'cos'}({'' if n == 1 else n}{c})"
            for f, c, n in self.factors
        ]
        names = _EQUATORIAL_RESULTS if self.mount == "equatorial" else _RESULT_NAMES
        return f"harmonic in {names[self.result]}: " + "·".join(parts)

    @property
    def displacement(self) -> str:
        """What an additive term moves: ``"az"`` (ΔA), ``"sky"`` (ΔA·cosE) or ``"el"`` (ΔE)."""
        return {"A": "az", "S": "sky", "L": "sky"}.get(self.result, "el")

    def delta(self, xp: Any = np) -> Any:
        """Compiled correction of an additive term, per radian of coefficient.

        Returns a function ``f(az, el)`` giving the displacement named by
        :attr:`displacement` (radians), observed minus raw.  Compiled once per
        model so the daemon's hot path does no name lookup.
        """
        if self.kind != "additive" or self.mount != "altaz":
            raise TermError(f"{self.name} is a geometric or equatorial term, applied by its "
                            "mount's kernel")
        cos, sin = xp.cos, xp.sin
        n = self.name
        if n == "TF":
            return lambda az, el: -cos(el)
        if n in ("TX", "TX10"):
            limit = TX_COT_LIMIT
            maximum = xp.maximum

            def tx(az: Any, el: Any) -> Any:
                c = cos(el)  # cot E, held at the limit below arctan(1/limit) and under the horizon
                return -c / maximum(sin(el), c / limit)

            return tx
        if n == "ECES":
            return lambda az, el: sin(el)
        if n == "ECEC":
            return lambda az, el: cos(el)
        sign = _RESULT_SIGN[self.result]
        factors = tuple((sin if f == "S" else cos, coord, float(k))
                        for f, coord, k in self.factors)
        half_pi, pi = 0.5 * math.pi, math.pi

        def harmonic(az: Any, el: Any) -> Any:
            v: Any = sign
            for fn, coord, k in factors:
                # TPOINT's harmonic azimuth is reckoned from south through east
                x = pi - az if coord == "A" else el if coord == "E" else half_pi - el
                v = v * fn(k * x if k != 1.0 else x)
            return v

        return harmonic

    def basis(self, az: Any, el: Any, xp: Any = np) -> tuple[Any, Any]:
        """First-order displacement per radian of coefficient.

        Parameters
        ----------
        az, el : float or ndarray
            Position (radians, azimuth from north through east) where the
            term is evaluated.
        xp : module-like
            ``numpy`` for arrays, or :data:`pointing.model.terms.MATH` for
            Python floats.

        Returns
        -------
        bx, be : float or ndarray
            ΔA·cosE and ΔE (radians per radian of coefficient), observed
            minus raw.  A component a term does not have is the float ``0.0``.
        """
        n = self.name
        if self.mount != "altaz":
            raise TermError(f"{n} is an equatorial term: its basis is "
                            "pointing.model.equatorial.term_design")
        if self.kind == "additive":
            v = self.delta(xp)(az, el)
            kind = self.displacement
            if kind == "az":
                return v * xp.cos(el), 0.0
            if kind == "sky":
                return v, 0.0
            return 0.0, v
        if n == "IA":
            return -xp.cos(el), 0.0
        if n == "IE":
            return 0.0, 1.0
        if n == "CA":
            return -1.0, 0.0
        if n == "NPAE":
            return -xp.sin(el), 0.0
        if n == "AN":
            return -xp.sin(az) * xp.sin(el), -xp.cos(az)
        if n == "AW":
            return -xp.cos(az) * xp.sin(el), xp.sin(az)
        if n == "NRX":
            return -xp.cos(el), -xp.sin(el)
        if n == "NRY":
            return -xp.sin(el), xp.cos(el)
        raise AssertionError(n)  # pragma: no cover - parse_term admits no other name


@lru_cache(maxsize=1024)
def parse_term(name: str, mount: str = "altaz") -> Term:
    """Parse a TPOINT term name (case-insensitive) into a :class:`Term`.

    ``mount`` is the family the model belongs to (``"altaz"``, or
    ``"equatorial"`` for forks and German equatorials; ``"fork"`` and
    ``"gem"`` are accepted as that): each mount accepts its own terms and
    refuses the other's by name.

    Raises
    ------
    TermError
        If the name is neither a known term nor a well-formed harmonic, or is
        a term of the other mount type.
    """
    if not isinstance(name, str):
        raise TermError(f"term name must be a string, not {type(name).__name__}")
    family = "equatorial" if mount in ("equatorial", "fork", "gem") else mount
    if family not in MOUNT_FAMILIES:
        raise TermError(f"unknown mount type {mount!r}: expected altaz, fork or gem")
    key = name.strip().upper()
    if key.startswith("&"):
        return _parallel(name, key[1:].strip(), family)
    if len(key) > 32:
        raise TermError(f"pointing term name {name[:20]!r}… is {len(key)} characters long: "
                        "not a term")
    if "@" in key:
        return _pier_side_term(name, key, family)
    m = _HARMONIC.match(key)
    if family == "equatorial":
        if key in EQUATORIAL_TERMS:
            return Term(key, "additive", mount="equatorial")
        if key in GEOMETRIC or key in ADDITIVE:
            raise TermError(f"{key} is an alt-az term: it has no meaning on an equatorial "
                            f"mount (equatorial terms: {', '.join(EQUATORIAL_TERMS)})")
        if m:
            return _parse_harmonic(name, key, m.group(1), m.group(2), "equatorial")
        raise TermError(
            f"unknown equatorial pointing term {name!r}: expected one of "
            f"{', '.join(EQUATORIAL_TERMS)} or a harmonic H<H|D|X><S|C><H|D>[n]... "
            "such as HDSD, HHSH2, HXCH")
    if key in GEOMETRIC:
        return Term(key, "geometric")
    if key in ADDITIVE:
        return Term(key, "additive")
    if key in EQUATORIAL_TERMS:
        raise TermError(f"{key} is an equatorial term ({_EQUATORIAL_DOC[key]}): this is an "
                        "alt-az model (give the run or model mount='fork' or 'gem')")
    if m:
        return _parse_harmonic(name, key, m.group(1), m.group(2), "altaz")
    raise TermError(
        f"unknown pointing term {name!r}: expected one of {', '.join(known_terms())} "
        "or a harmonic H<A|E|S|Z|V|L><S|C><A|E|Z>[n]... such as HESE, HACA2, HSCA5CE8"
    )


#: pier-side suffixes of German equatorial terms (this toolkit's spelling, see equatorial.py)
PIER_SIDES = ("NEAR", "FAR")


def _pier_side_term(name: str, key: str, family: str) -> Term:
    """``TERM@NEAR`` / ``TERM@FAR``: an equatorial term acting on one pier side only."""
    base, _, side = key.partition("@")
    if family != "equatorial":
        raise TermError(f"{key} is a pier-side term of German equatorial mounts: this is an "
                        "alt-az model")
    if side not in PIER_SIDES:
        raise TermError(f"pier-side term {name!r}: the side after '@' must be NEAR or FAR "
                        f"(raw declination within ±90° or beyond the pole), found {side!r}")
    t = parse_term(base, family)
    if t.name in ("MA", "ME"):
        raise TermError(f"{key}: the polar axis is one axis for both pier sides, so {t.name} "
                        "takes no pier side")
    return Term(f"{t.name}@{side}", t.kind, t.result, t.factors, t.mount, side.lower())


def _parallel(name: str, key: str, family: str) -> Term:
    """``&`` + a harmonic: TPOINT's parallel term (evaluated with the term before it)."""
    if not key or key.startswith("&"):
        raise TermError(f"term {name.strip()!r}: '&' (TPOINT's parallel flag) must be "
                        "followed by one term name, e.g. &HESE")
    base = parse_term(key, family)
    if family != "altaz" or not base.is_harmonic:
        where = "alt-az harmonic terms" if family == "altaz" else "alt-az models"
        raise TermError(f"term {name.strip()!r}: the '&' (parallel) flag is accepted on "
                        f"{where} only")
    return replace(base, parallel=True)


def _parse_harmonic(name: str, key: str, result: str, body: str, family: str) -> Term:
    """TPOINT's generic harmonic: H, a result letter, then function+coordinate[+n] factors."""
    own, other = ((_EQUATORIAL_RESULTS, _RESULT_NAMES) if family == "equatorial"
                  else (_RESULT_NAMES, _EQUATORIAL_RESULTS))
    coords, other_coords = ((_EQUATORIAL_COORDS, _ALTAZ_COORDS) if family == "equatorial"
                            else (_ALTAZ_COORDS, _EQUATORIAL_COORDS))
    label = "equatorial" if family == "equatorial" else "alt-az"
    wrong = "alt-az" if family == "equatorial" else "equatorial"
    if result not in own:
        if result in other:
            raise TermError(f"harmonic term {name!r}: result {result!r} ({other[result]}) "
                            f"is for {wrong} mounts, and this is an {label} model")
        raise TermError(f"harmonic term {name!r}: unknown result letter {result!r} "
                        f"({label} results: {', '.join(own)})")
    factors = []
    for func, coord, mult in _FACTOR.findall(body):
        if func not in "SC":
            raise TermError(f"harmonic term {name!r}: unknown function letter {func!r} "
                            "(S for sine, C for cosine)")
        if coord in other_coords:
            raise TermError(f"harmonic term {name!r}: coordinate {coord!r} "
                            f"({other_coords[coord]}) is for {wrong} mounts, and this is "
                            f"an {label} model")
        if coord not in coords:
            raise TermError(f"harmonic term {name!r}: unknown coordinate letter {coord!r} "
                            f"({', '.join(f'{k} {v}' for k, v in coords.items())})")
        if len(mult) > 3 or (mult and int(mult) > MAX_HARMONIC_ORDER):
            raise TermError(f"harmonic term {name!r}: multiplier {mult} is above the "
                            f"limit of {MAX_HARMONIC_ORDER}")
        k = int(mult) if mult else 1
        if k < 1:
            raise TermError(f"harmonic term {name!r}: multiplier must be ≥ 1")
        factors.append((func, coord, k))
    if len(factors) > MAX_HARMONIC_FACTORS:
        raise TermError(f"harmonic term {name!r}: {len(factors)} factors, at most "
                        f"{MAX_HARMONIC_FACTORS} are accepted")
    return Term(key, "additive", result, tuple(factors), family)


def parse_terms(names: str | list[str] | tuple[str, ...], mount: str = "altaz"
                ) -> tuple[Term, ...]:
    """Parse a comma-separated string or a sequence of names; reject duplicates."""
    if isinstance(names, str):
        names = [n for n in names.replace(" ", ",").split(",") if n.strip()]
    terms = tuple(parse_term(n, mount) for n in names)
    seen: dict[str, str] = {}
    for t in terms:
        key = "TX" if t.name == "TX10" else t.name
        if key in seen:
            raise TermError(f"term {t.name} given twice (also as {seen[key]})")
        seen[key] = t.name
    return terms


def known_terms() -> tuple[str, ...]:
    """Names of the non-harmonic terms this module knows."""
    return GEOMETRIC + ADDITIVE


class _MathNamespace:
    """The subset of numpy's names used by the model kernels, for Python floats."""

    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)
    arctan2 = staticmethod(math.atan2)
    arcsin = staticmethod(math.asin)
    sqrt = staticmethod(math.sqrt)
    maximum = staticmethod(max)

    @staticmethod
    def clip(x: float, lo: float, hi: float) -> float:
        return lo if x < lo else hi if x > hi else x

    @staticmethod
    def where(cond: bool, a: float, b: float) -> float:
        return a if cond else b


#: numpy-like namespace over :mod:`math`, for the scalar fast path
MATH = _MathNamespace()
