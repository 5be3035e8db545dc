"""The candidate pool of the automatic search and the ordering that says "simpler"."""

from __future__ import annotations

from collections.abc import Iterable

from pointing.errors import FitError
from pointing.model.terms import Term, parse_term

#: always in the model (zero points) unless the caller says otherwise
BASE_TERMS = ("IA", "IE")
GEOMETRIC_CANDIDATES = ("CA", "NPAE", "AN", "AW", "TF", "TX", "ECES")
#: the equatorial zero points and physical candidates (TF, TX, DAF need the site latitude)
EQUATORIAL_BASE = ("IH", "ID")
EQUATORIAL_GEOMETRIC = ("CH", "NP", "MA", "ME", "TF", "FO", "DAF")
#: pier-side candidates of a German equatorial observed on both sides: what differs
#: between the sides beyond the sign flips (index, collimation, axis perpendicularity)
PIER_SIDE_CANDIDATES = ("IH@FAR", "ID@FAR", "CH@FAR", "NP@FAR")
#: equatorial harmonics that are exactly a physical term: HXCD ≡ −IH, HXSD ≡ −NP, HDCH ≡ −FO
EQUATORIAL_DUPLICATES = ("HXCD", "HXSD", "HDCH")
#: highest harmonic order the automatic search accepts (the pool grows as its square)
MAX_ORDER = 12


def candidate_pool(max_order: int = 3, *, product_order: int | None = None,
                   rotator: bool = False, extra: Iterable[str] = ()) -> tuple[Term, ...]:
    """Candidate terms: geometric, harmonics in A and E up to ``max_order``, products.

    ``product_order`` (default ``min(max_order, 3)``) bounds the multiples in
    products of an A and an E harmonic, which grow as its square.

    Harmonics that duplicate a geometric term exactly (HSCE ≡ −IA, HECE ≡ −TF,
    HSSE ≡ NPAE, ...) are left out, as are their Z spellings.
    """
    _check_orders(max_order, product_order)
    names: list[str] = list(GEOMETRIC_CANDIDATES)
    if rotator:
        names += ["NRX", "NRY"]
    funcs = ("S", "C")
    ks = [("" if k == 1 else str(k)) for k in range(1, max_order + 1)]
    for result in ("A", "E", "S"):
        for f in funcs:
            for k in ks:
                names.append(f"H{result}{f}A{k}")
    for result in ("E", "S"):
        for f in funcs:
            for k in ks:
                if k == "":
                    continue  # sin E / cos E forms duplicate NPAE, IA, TF, ECES
                names.append(f"H{result}{f}E{k}")
    pks = ks[:min(max_order, 3) if product_order is None else product_order]
    for result in ("A", "E", "S"):
        for fa in funcs:
            for ka in pks:
                for fe in funcs:
                    for ke in pks:
                        if result == "S" and fe == "C" and ke == "":
                            continue  # HS…CE ≡ HA… (ΔA·cosE with a cos E factor)
                        names.append(f"H{result}{fa}A{ka}{fe}E{ke}")
    return _unique(names, extra, "altaz")


def equatorial_pool(max_order: int = 3, *, product_order: int | None = None,
                    latitude: bool = True, pier_sides: bool = False,
                    extra: Iterable[str] = ()) -> tuple[Term, ...]:
    """Equatorial candidates: physical terms, harmonics in H and D up to ``max_order``, products.

    Results Δh (``HH…``), Δδ (``HD…``) and Δh·cosδ (``HX…``), each of sines
    and cosines of multiples of the hour angle and of the declination;
    products of one H and one D factor up to ``product_order`` (default
    ``min(max_order, 3)``).  Without the site latitude TF and DAF are left
    out (their formulas need it).  Exact duplicates of physical terms
    (:data:`EQUATORIAL_DUPLICATES`) are left out.  ``pier_sides`` (a German
    equatorial observed on both sides) adds :data:`PIER_SIDE_CANDIDATES`.
    """
    _check_orders(max_order, product_order)
    names = [n for n in EQUATORIAL_GEOMETRIC if latitude or n not in ("TF", "DAF")]
    if pier_sides:
        names += PIER_SIDE_CANDIDATES
    ks = [("" if k == 1 else str(k)) for k in range(1, max_order + 1)]
    for result in ("H", "D", "X"):
        for arg in ("H", "D"):
            names += [f"H{result}{f}{arg}{k}" for f in ("S", "C") for k in ks]
    pks = ks[:min(max_order, 3) if product_order is None else product_order]
    for result in ("H", "D", "X"):
        names += [f"H{result}{fh}H{kh}{fd}D{kd}" for fh in ("S", "C") for kh in pks
                  for fd in ("S", "C") for kd in pks]
    names = [n for n in names if n not in EQUATORIAL_DUPLICATES]
    return _unique(names, extra, "equatorial")


def _check_orders(max_order: int, product_order: int | None) -> None:
    if isinstance(max_order, bool) or not isinstance(max_order, int) or not (
            1 <= max_order <= MAX_ORDER):
        raise FitError(f"max_order must be a whole number 1..{MAX_ORDER} (FAUTO searches to 8), "
                       f"got {max_order!r}")
    if product_order is not None and (
            isinstance(product_order, bool) or not isinstance(product_order, int)
            or not 0 <= product_order <= max_order):
        raise FitError(f"product_order must be a whole number 0..max_order ({max_order}), "
                       f"got {product_order!r}")


def _unique(names: list[str], extra: Iterable[str], mount: str) -> tuple[Term, ...]:
    """Parsed terms, user extras last, each name once."""
    names = names + [n.upper() for n in extra]
    seen: dict[str, Term] = {}
    for n in names:
        t = parse_term(n, mount)
        seen.setdefault(t.name, t)
    return tuple(seen.values())



def complexity(term: Term) -> tuple[int, int]:
    """Ordering for "simpler": geometric terms, then harmonics by factors and multiples."""
    if not term.is_harmonic:
        return (0, 0)
    return (len(term.factors), sum(k for _, _, k in term.factors))

