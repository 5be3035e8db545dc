"""The embedded bright-star catalog: Hipparcos stars with Cousins I magnitudes.

The shipped file ``catalogs/hipparcos_bright.ecsv`` holds every Hipparcos
star with I ≤ 5 or V ≤ 6 (a few thousand rows).  It is made by
``scripts/build_catalog.py`` (its provenance is in the file header) and
:func:`load_catalog` reads it offline in a fraction of a second.
:func:`refresh_catalog` rebuilds the same format online from VizieR
(``I/239/hip_main``) through astroquery, an optional dependency.

Columns (one row per HIP number, sorted by HIP):

========== ======== =====================================================
hip        –        Hipparcos number
name       –        proper name of the bright named stars, else ``""``
ra, dec    deg      ICRS position at the catalog epoch J1991.25 (TT)
pmra       mas/yr   proper motion in RA times cos(dec) (µα*)
pmdec      mas/yr   proper motion in Dec
parallax   mas      trigonometric parallax (may be ≤ 0 for distant stars)
vmag       mag      Johnson V (Hipparcos field H5)
bv         mag      B−V
vi         mag      Cousins V−I (NaN when unknown)
imag       mag      Cousins I = V − (V−I) (NaN when V−I is unknown)
hpmag      mag      Hipparcos Hp magnitude
vi_source  –        Hipparcos source code of V−I (I/239 H42, ``A``..``T``),
                    ``""`` when the source does not say
nonsingle  bool     double/multiple or non-single astrometric solution
variable   bool     variable star (Hipparcos variability annex or > 0.2 mag)
colour_missing bool no V−I
colour_suspect bool V−I not measured (I/239 codes Q–T) or V, Hp and V−I
                    inconsistent (see :data:`HP_V_POLY`): I is unreliable
astrometry –        ``I/311`` (new reduction) or ``I/239`` (original)
========== ======== =====================================================

The four flag columns let :func:`pointing.select_stars` avoid poor
calibrators.
"""

from __future__ import annotations

import functools
import time as _time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pointing.errors import FileFormatError, PointingError

__all__ = [
    "CATALOG_FILE",
    "FLAG_COLUMNS",
    "HP_V_POLY",
    "assemble_catalog",
    "catalog_path",
    "clear_catalog_cache",
    "from_vizier_hip_main",
    "load_catalog",
    "refresh_catalog",
    "write_catalog",
]

#: name of the shipped catalog file
CATALOG_FILE = "hipparcos_bright.ecsv"

#: the catalog epoch (Julian epoch, TT)
EPOCH_JYEAR = 1991.25

#: boolean columns that mark poor calibrators
FLAG_COLUMNS = ("nonsingle", "variable", "colour_missing", "colour_suspect")

#: Hp − V as a polynomial in V − I (ascending powers), valid for
#: −0.5 ≤ V−I ≤ 3.2.  Fitted by scripts/build_catalog.py's sources (single,
#: non-variable Hipparcos stars with V ≤ 8, 4σ-clipped; rms 0.006 mag).  A star
#: whose Hp − V misses it by more than :data:`HP_V_TOLERANCE` has a V−I
#: (or V) that does not describe it: its I magnitude is flagged suspect.
HP_V_POLY = (0.00445, 0.31154, -0.46256, 0.66980, -0.46634, 0.10558)
HP_V_RANGE = (-0.5, 3.2)
HP_V_TOLERANCE = 0.1

#: I/239 ``r_V-I`` codes for V−I that were not measured (Q: long-period
#: variables; R–T: colours unknown)
UNMEASURED_VI_CODES = "QRST"

_COLUMNS: tuple[tuple[str, str, str | None, str], ...] = (
    # name, dtype, unit, description
    ("hip", "i4", None, "Hipparcos number"),
    ("name", "U", None, "proper name (empty if none)"),
    ("ra", "f8", "deg", "ICRS right ascension at epoch J1991.25"),
    ("dec", "f8", "deg", "ICRS declination at epoch J1991.25"),
    ("pmra", "f8", "mas / yr", "proper motion in RA times cos(dec)"),
    ("pmdec", "f8", "mas / yr", "proper motion in declination"),
    ("parallax", "f8", "mas", "trigonometric parallax"),
    ("vmag", "f8", "mag", "Johnson V"),
    ("bv", "f8", "mag", "Johnson B-V"),
    ("vi", "f8", "mag", "Cousins V-I"),
    ("imag", "f8", "mag", "Cousins I = V - (V-I)"),
    ("hpmag", "f8", "mag", "Hipparcos Hp magnitude"),
    ("vi_source", "U", None, "source code of V-I (I/239 H42), empty if not given"),
    ("nonsingle", "?", None, "double/multiple or non-single astrometric solution"),
    ("variable", "?", None, "variable star"),
    ("colour_missing", "?", None, "no V-I colour"),
    ("colour_suspect", "?", None, "V-I not measured or inconsistent with V and Hp"),
    ("astrometry", "U", None, "source of the astrometry: I/311 or I/239"),
)
COLUMN_NAMES = tuple(c[0] for c in _COLUMNS)

_ROUND = {"ra": 9, "dec": 9, "pmra": 2, "pmdec": 2, "parallax": 2,
          "vmag": 3, "bv": 3, "vi": 3, "imag": 3, "hpmag": 4}


def catalog_path() -> Path:
    """Path of the shipped catalog.

    Looks inside the installed package (``pointing/catalogs/``) first, then
    in the source checkout (``<repo>/catalogs/``).
    """
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "catalogs", package.parent / "catalogs"):
        path = folder / CATALOG_FILE
        if path.is_file():
            return path
    raise PointingError(
        f"star catalog {CATALOG_FILE} not found in {package / 'catalogs'} or "
        f"{package.parent / 'catalogs'}; rebuild it with scripts/build_catalog.py"
    )


def load_catalog(path: str | Path | None = None):
    """Load the bright-star catalog as an :class:`astropy.table.Table`.

    Parameters
    ----------
    path : str or Path, optional
        A catalog file in this format (default: the shipped one, see
        :func:`catalog_path`).

    Returns
    -------
    astropy.table.Table
        One row per star, columns as in the module docstring (positions in
        degrees, ICRS at epoch J1991.25; proper motions in mas/yr; parallax in
        mas; magnitudes in mag).  ``meta`` holds the provenance.  The table is
        a fresh copy: changing it does not change later loads.

    Raises
    ------
    FileFormatError
        The file is missing, unreadable or lacks a column.
    """
    resolved = Path(path).expanduser().resolve() if path is not None else catalog_path()
    try:
        mtime = resolved.stat().st_mtime_ns
    except OSError as exc:
        raise FileFormatError(resolved, None, f"cannot read star catalog: {exc.strerror}") from None
    return _load_cached(str(resolved), mtime).copy(copy_data=True)


def clear_catalog_cache() -> None:
    """Forget the parsed catalogs, so the next :func:`load_catalog` reads the file again."""
    _load_cached.cache_clear()


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int):
    from astropy.table import Table

    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as exc:  # astropy raises many kinds for a broken file
        raise FileFormatError(path, None, f"not a valid ECSV star catalog: {exc}") from None
    missing = [c for c in COLUMN_NAMES if c not in table.colnames]
    if missing:
        raise FileFormatError(path, None, f"star catalog lacks column(s) {', '.join(missing)}")
    if len(table) == 0:
        raise FileFormatError(path, None, "star catalog has no rows")
    for name in table.colnames:  # ECSV reads empty strings back as masked
        if getattr(table[name], "mask", None) is not None and table[name].dtype.kind in "US":
            table[name] = table[name].filled("")
    return table


def _hp_v_residual(vmag: np.ndarray, hpmag: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """(Hp − V) minus the colour relation; NaN where it cannot be evaluated."""
    model = np.polynomial.polynomial.polyval(vi, HP_V_POLY)
    out = (hpmag - vmag) - model
    lo, hi = HP_V_RANGE
    with np.errstate(invalid="ignore"):
        out[~((vi >= lo) & (vi <= hi))] = np.nan
    return out


def assemble_catalog(
    columns: Mapping[str, Any],
    *,
    vmag_max: float = 6.0,
    imag_max: float = 5.0,
    meta: Mapping[str, Any] | None = None,
):
    """Turn per-star source columns into the catalog format.

    Parameters
    ----------
    columns : mapping of str to array
        At least ``hip, ra, dec, pmra, pmdec, parallax, vmag, vi`` (units as
        in the module docstring; NaN for unknown values); optionally ``name,
        bv, hpmag, vi_source, nonsingle, variable, colour_suspect,
        astrometry``.  ``colour_suspect`` given here is OR-ed with the
        photometric consistency test.
    vmag_max, imag_max : float
        Keep stars with V ≤ ``vmag_max`` or I ≤ ``imag_max`` (mag).
    meta : mapping, optional
        Provenance for the file header.

    Returns
    -------
    astropy.table.Table
        Rows with a position and passing the magnitude cut, sorted by HIP.
    """
    from astropy.table import Column, Table

    required = ("hip", "ra", "dec", "pmra", "pmdec", "parallax", "vmag", "vi")
    missing = [k for k in required if k not in columns]
    if missing:
        raise PointingError(f"catalog source lacks column(s): {', '.join(missing)}")
    hip = np.asarray(columns["hip"], dtype=np.int64)
    n = hip.size

    def floats(key: str) -> np.ndarray:
        if key not in columns:
            return np.full(n, np.nan)
        return np.ma.filled(np.ma.asarray(columns[key], dtype=float), np.nan).reshape(n)

    def strings(key: str, default: str) -> np.ndarray:
        if key not in columns:
            return np.full(n, default, dtype=object)
        raw = np.ma.filled(np.ma.asarray(columns[key]).astype(str), "")
        return np.array([s.strip() for s in raw.reshape(n)], dtype=object)

    def flags(key: str) -> np.ndarray:
        if key not in columns:
            return np.zeros(n, dtype=bool)
        return np.ma.filled(np.ma.asarray(columns[key], dtype=bool), False).reshape(n)

    data = {k: floats(k) for k in ("ra", "dec", "pmra", "pmdec", "parallax",
                                    "vmag", "bv", "vi", "hpmag")}
    data["hip"] = hip
    data["name"] = strings("name", "")
    data["vi_source"] = strings("vi_source", "")
    data["astrometry"] = strings("astrometry", "")
    data["nonsingle"] = flags("nonsingle")
    data["variable"] = flags("variable")

    vi = data["vi"]
    data["imag"] = data["vmag"] - vi
    data["colour_missing"] = ~np.isfinite(vi)
    resid = _hp_v_residual(data["vmag"], data["hpmag"], vi)
    with np.errstate(invalid="ignore"):
        inconsistent = np.abs(resid) > HP_V_TOLERANCE
    outside = np.isfinite(vi) & ~((vi >= HP_V_RANGE[0]) & (vi <= HP_V_RANGE[1]))
    unmeasured = np.isin(data["vi_source"].astype(str), list(UNMEASURED_VI_CODES))
    data["colour_suspect"] = (
        flags("colour_suspect") | inconsistent | outside | unmeasured
    ) & ~data["colour_missing"]

    with np.errstate(invalid="ignore"):
        keep = ((data["vmag"] <= vmag_max) | (data["imag"] <= imag_max))
    keep &= np.isfinite(data["ra"]) & np.isfinite(data["dec"])
    keep &= np.isfinite(data["pmra"]) & np.isfinite(data["pmdec"])
    order = np.argsort(hip[keep], kind="stable")
    if np.unique(hip[keep]).size != int(keep.sum()):
        raise PointingError("catalog source has duplicate HIP numbers")

    table = Table(meta=dict(meta or {}))
    for name, dtype, unit, description in _COLUMNS:
        values = np.asarray(data[name])[keep][order]
        if name in _ROUND:
            values = np.round(values.astype(float), _ROUND[name])
        if dtype == "U":
            values = values.astype(str)
        else:
            values = values.astype(dtype)
        table[name] = Column(values, unit=unit, description=description)
    table.meta.setdefault("epoch", "J1991.25")
    table.meta.setdefault("frame", "ICRS")
    table.meta["selection"] = f"V <= {vmag_max:g} or I <= {imag_max:g}"
    table.meta["rows"] = len(table)
    table.meta["flags"] = {
        "nonsingle": "double/multiple or non-single astrometric solution",
        "variable": "variable star",
        "colour_missing": "no V-I",
        "colour_suspect": (
            f"V-I source code in {UNMEASURED_VI_CODES} (not measured), V-I outside "
            f"{HP_V_RANGE[0]}..{HP_V_RANGE[1]}, or |Hp - V - P(V-I)| > {HP_V_TOLERANCE} mag "
            f"with P = {list(HP_V_POLY)} (ascending powers)"
        ),
    }
    return table


def write_catalog(table, path: str | Path) -> Path:
    """Write a catalog table as ECSV (provenance in the header); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write(path, format="ascii.ecsv", overwrite=True)
    clear_catalog_cache()
    return path


#: I/239/hip_main columns fetched by :func:`refresh_catalog`
VIZIER_COLUMNS = ("HIP", "Vmag", "VarFlag", "RAICRS", "DEICRS", "Plx", "pmRA", "pmDE",
                  "B-V", "V-I", "r_V-I", "Hpmag", "HvarType", "moreVar", "MultFlag", "Ncomp")


def from_vizier_hip_main(table, names: Mapping[int, str] | None = None) -> dict[str, np.ndarray]:
    """Convert a VizieR ``I/239/hip_main`` table (VizieR column names) to source columns.

    Flags follow the Hipparcos Catalogue fields: ``nonsingle`` when the
    double/multiple flag (H59) is C, O or V or the entry has more than one
    component (H58); ``variable`` when the entry has a variability-annex
    record (H53) or an amplitude above 0.6 mag (H6 = 3); ``vi_source`` is
    H42.  ``names`` maps HIP numbers to proper names.

    Returns
    -------
    dict of str to ndarray
        Input for :func:`assemble_catalog`.
    """
    cols = set(table.colnames)
    need = ("HIP", "RAICRS", "DEICRS", "Plx", "pmRA", "pmDE", "Vmag", "V-I")
    missing = [c for c in need if c not in cols]
    if missing:
        raise PointingError(f"VizieR table lacks column(s): {', '.join(missing)}")

    def col(name: str, fill: Any) -> np.ndarray:
        if name not in cols:
            return np.full(len(table), fill)
        return np.ma.filled(np.ma.asarray(table[name]), fill)

    def text(name: str) -> np.ndarray:
        if name not in cols:
            return np.full(len(table), "", dtype=object)
        values = np.ma.asarray(table[name])
        mask = np.ma.getmaskarray(values)
        return np.array(
            ["" if m else (v.decode() if isinstance(v, bytes) else str(v))
             for v, m in zip(values.data, mask, strict=True)],
            dtype=object,
        )

    hip = col("HIP", -1).astype(np.int64)
    mult = np.array([s.strip() for s in text("MultFlag")], dtype=object)
    ncomp = col("Ncomp", 1).astype(float)
    more_var = np.array([s.strip() not in ("", "0", "--") for s in text("moreVar")])
    var_flag = col("VarFlag", 0).astype(float)
    names = names or {}
    return {
        "hip": hip,
        "name": np.array([names.get(int(h), "") for h in hip], dtype=object),
        "ra": col("RAICRS", np.nan).astype(float),
        "dec": col("DEICRS", np.nan).astype(float),
        "pmra": col("pmRA", np.nan).astype(float),
        "pmdec": col("pmDE", np.nan).astype(float),
        "parallax": col("Plx", np.nan).astype(float),
        "vmag": col("Vmag", np.nan).astype(float),
        "bv": col("B-V", np.nan).astype(float),
        "vi": col("V-I", np.nan).astype(float),
        "hpmag": col("Hpmag", np.nan).astype(float),
        "vi_source": np.array([s.strip() for s in text("r_V-I")], dtype=object),
        "nonsingle": np.isin(mult, ["C", "O", "V"]) | (ncomp > 1),
        "variable": more_var | (var_flag >= 3),
        "astrometry": np.full(hip.size, "I/239", dtype=object),
    }


def refresh_catalog(
    path: str | Path | None = None,
    *,
    vmag_max: float = 6.0,
    imag_max: float = 5.0,
    row_limit: int = -1,
):
    """Rebuild the catalog online from VizieR ``I/239/hip_main`` (needs astroquery).

    The only function of the package that uses the network.  Proper names
    are carried over from the shipped catalog.

    Parameters
    ----------
    path : str or Path, optional
        Where to write the ECSV file; ``None`` returns the table only.
    vmag_max, imag_max : float
        Magnitude cut, as in :func:`assemble_catalog`.
    row_limit : int
        VizieR row limit (``-1``: all rows).

    Returns
    -------
    astropy.table.Table
    """
    try:
        from astroquery.vizier import Vizier
    except ImportError:
        raise PointingError(
            "refreshing the catalog needs astroquery: pip install 'ogs-pointing[online]'"
        ) from None
    from pointing.offline import configure_astropy

    configure_astropy(allow_internet=True)
    try:
        vizier = Vizier(columns=list(VIZIER_COLUMNS), row_limit=row_limit)
        result = vizier.get_catalogs("I/239/hip_main")
    finally:
        configure_astropy(allow_internet=False)
    if len(result) == 0:
        raise PointingError("VizieR returned no table for I/239/hip_main")
    try:
        names = {int(h): str(n) for h, n in zip(load_catalog()["hip"], load_catalog()["name"],
                                                 strict=True) if n}
    except PointingError:
        names = {}
    meta = {
        "title": "Hipparcos bright stars with Cousins I (refreshed from VizieR)",
        "source": "VizieR I/239/hip_main (ESA 1997), queried with astroquery",
        "built": _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime()),
        "builder": "pointing.sky.catalog.refresh_catalog",
        "names": "carried over from the shipped catalog",
    }
    table = assemble_catalog(from_vizier_hip_main(result[0], names),
                             vmag_max=vmag_max, imag_max=imag_max, meta=meta)
    if path is not None:
        write_catalog(table, path)
    return table
