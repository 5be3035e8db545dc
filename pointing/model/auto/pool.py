"""The candidate pool of the automatic search and the ordering that says "simpler"."""

from __future__ import annotations

from collections.abc import Iterable

from pointing.errors import FitError
from pointing.model.terms import Term, parse_term

#: always in the model (zero points) unless the caller says otherwise
BASE_TERMS = ("IA", "IE")
GEOMETRIC_CANDIDATES = ("CA", "NPAE", "AN", "AW", "TF", "TX", "ECES")
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
    if isinstance(max_order, bool) or not isinstance(max_order, int) or not (
            1 <= max_order <= MAX_ORDER):
        raise FitError(f"max_order must be a whole number 1..{MAX_ORDER} (FAUTO searches to 8), "
                       f"got {max_order!r}")
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
    names += [n.upper() for n in extra]
    seen: dict[str, Term] = {}
    for n in names:
        t = parse_term(n)
        seen.setdefault(t.name, t)
    return tuple(seen.values())



def complexity(term: Term) -> tuple[int, int]:
    """Ordering for "simpler": geometric terms, then harmonics by factors and multiples."""
    if not term.is_harmonic:
        return (0, 0)
    return (len(term.factors), sum(k for _, _, k in term.factors))

