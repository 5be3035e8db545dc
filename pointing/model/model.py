"""The pointing model the station daemon applies: raw (encoder) ↔ true positions.

How a model is applied is TPOINT's: the terms one after the other **in the
model's listed order**, each evaluated at the position reached so far (a
term flagged with TPOINT's ``&``, ``"&HESE"``, at its head's input instead), every
one an exact map of the sphere (the rotations of the mount's geometry are
rigorous, so IA of degrees and tilts of tenths of a degree stay exact).  The
full convention, term by term, is in :mod:`pointing.model.kernels`.  A model
keeps its term order; so do its files (JSON and TPOINT ``.mod``).

``raw_from_true`` is the exact inverse: wherever an encoder position inside
the mount's range (elevation −90°..93°, beyond the zenith on the far side)
reaches the target it returns one (round trip < 1e-9 rad), choosing the side
of the zenith the request names (``el`` above 90° asks for the far side) and
the other side only when the requested one cannot reach.  Where none reaches
(a mount with collimation error cannot point closer than about |CA − NPAE| to
its own azimuth axis: the zenith hole) it returns NaN, and
:meth:`PointingModel.raw_from_true_status` says why.

Input: non-finite positions and elevations outside −90°..95° (the range
plus 2° for the model's own corrections) give NaN, for
scalars and arrays alike (status 1 and 2); ``None``, strings and other
non-numbers raise ``TypeError``.  Azimuths are returned on the same
cable-wrap turn as the input (the result differs from the input by less
than 180°).

Equatorial mounts (``mount="fork"`` or ``"gem"``, issue 18) use the same
class interface in hour angle and declination: :class:`EquatorialModel`,
with TPOINT's equatorial terms applied by the same kernels in the polar
frame (:mod:`pointing.model.equatorial`); the alt-az path is untouched.

All angles are radians; coefficients are arcseconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pointing.errors import FileFormatError, TermError
from pointing.model import compiled, equatorial, kernels, numba_equatorial
from pointing.model.terms import MATH, Term, parse_term, parse_terms
from pointing.units import ARCSEC
from pointing.units import wrap_pi as _wrap

__all__ = ["MODEL_FILE_VERSION", "EquatorialModel", "PointingModel", "coefficient_limit",
           "forward_and_jacobian"]

#: version of the project's JSON model file; loading refuses any other
MODEL_FILE_VERSION = 1
_FORMAT_NAME = "ogs-pointing-model"


_CHUNK = 8192  # elements per block in the vectorised path
#: largest coefficient accepted (arcsec): IA up to half a turn, the rest 10°
_COEF_LIMIT = {"IA": 648000.0, "IH": 648000.0}
_COEF_LIMIT_DEFAULT = 36000.0
#: observations from which the fit's Jacobian runs row by row on the compiled kernel
_COMPILED_ROWS = 200


def coefficient_limit(name: str) -> float:
    """Largest coefficient a model accepts for a term (arcsec): IA half a turn, else 10°."""
    return _COEF_LIMIT.get(name, _COEF_LIMIT_DEFAULT)


def forward_and_jacobian(terms: Sequence[Term], values_arcsec: np.ndarray,
                         free: Sequence[int], az: np.ndarray, el: np.ndarray, *,
                         mount: str = "altaz", latitude_deg: float | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positions at raw ones and their Jacobian with respect to coefficients.

    Parameters
    ----------
    terms, values_arcsec
        The model.
    free : sequence of int
        Indices of the terms to differentiate.
    az, el : ndarray
        Raw positions (radians, 1-D): hour angle and declination for an
        equatorial ``mount`` (``latitude_deg`` its site).

    Returns
    -------
    az_true, el_true : ndarray
        The model's true positions.
    jac : ndarray, shape (2N, len(free))
        d(A·cos E) per radian of coefficient in the first N rows, dE in the
        last N: central differences of the sequential model, all coefficient
        vectors evaluated in one vectorised pass (relative error ~1e-9).
    """
    terms = tuple(terms)
    family = equatorial.mount_family(mount)
    base = np.asarray(values_arcsec, dtype=float) * ARCSEC
    rows = [base]
    steps = []
    for i in free:
        h = kernels.coefficient_step(float(base[i]))
        steps.append(h)
        up, down = base.copy(), base.copy()
        up[i] += h
        down[i] -= h
        rows += [up, down]
    if family == "equatorial":
        lat = None if latitude_deg is None else math.radians(latitude_deg)
        fa, fe = equatorial.forward_batch(terms, np.array(rows), az, el, lat)
    elif az.size >= _COMPILED_ROWS and _use_compiled():
        # one compiled pass per coefficient vector beats numpy's (rows × N) arrays here
        plans = [kernels.compile_plan(terms, tuple(r)) for r in rows]
        out = [compiled.forward(compiled.encode(p.ops, p.par), az, el) for p in plans]
        fa = np.array([o[0] for o in out])
        fe = np.array([o[1] for o in out])
    else:
        fa, fe = kernels.forward_batch(terms, np.array(rows), az, el)
    n = az.size
    jac = np.empty((2 * n, len(free)))
    cos_e = np.cos(fe[0])
    for k, h in enumerate(steps):
        up, down = 1 + 2 * k, 2 + 2 * k
        jac[:n, k] = _wrap(fa[up] - fa[down]) / (2 * h) * cos_e
        jac[n:, k] = (fe[up] - fe[down]) / (2 * h)
    return fa[0], fe[0], jac


def _chunked(fn: Any, a: np.ndarray, e: np.ndarray, n_out: int = 2) -> tuple[np.ndarray, ...]:
    """Run a kernel over flat arrays in cache-sized blocks (~1.6× faster at 10⁶)."""
    if a.size <= _CHUNK:
        return tuple(np.asarray(x) for x in fn(a, e))
    outs = [np.empty(a.shape, dtype=np.int8 if k == 2 else float) for k in range(n_out)]
    for i in range(0, a.size, _CHUNK):
        s = slice(i, i + _CHUNK)
        for out, x in zip(outs, fn(a[s], e[s]), strict=True):
            out[s] = x
    return tuple(outs)


#: (lowest, highest input, highest raw) elevation of the alt-az mount (radians)
_LIMITS = (kernels.ELEVATION_MIN, kernels.INPUT_MAX, kernels.ELEVATION_MAX)

#: set to False to run the numpy kernels even where numba is installed (tests, debugging)
USE_COMPILED = True


def _use_compiled() -> bool:
    return USE_COMPILED and compiled.available()


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (float, int, np.floating, np.integer)) and not isinstance(x, bool)


def _as_arrays(az: Any, el: Any) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Broadcast positions to flat float arrays; refuse what is not a number."""
    for name, x in (("az", az), ("el", el)):
        if x is None or isinstance(x, (str, bytes)):
            raise TypeError(f"{name} must be a number or an array of numbers, not {x!r}")
    raw = [np.asarray(az), np.asarray(el)]
    for name, x in zip(("az", "el"), raw, strict=True):
        if x.dtype.kind not in "fiu":
            raise TypeError(f"{name} must be a number or an array of numbers, "
                            f"not an array of {x.dtype}")
    try:
        a, e = np.broadcast_arrays(raw[0].astype(float, copy=False),
                                   raw[1].astype(float, copy=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"positions must be numbers or arrays of numbers: {exc}") from None
    return a.ravel(), e.ravel(), a.shape


class PointingModel:
    """A TPOINT-style pointing model: alt-az, or equatorial (``mount="fork"``/``"gem"``).

    Parameters
    ----------
    terms : sequence of str or Term
        Term names (TPOINT spelling, see :mod:`pointing.model.terms`), in the
        order additive terms are applied.
    values : sequence of float
        Coefficients in arcseconds, one per term.
    sigmas : sequence of float, optional
        1-sigma uncertainties of the coefficients (arcsec), TPOINT style.
    fixed : sequence of bool, optional
        Which terms were held fixed in the fit that produced the model.
    covariance : array_like, optional
        Covariance of the fitted coefficients (arcsec²), in term order.
    info : mapping, optional
        Free-form metadata written to the model file: ``site``, ``fit``
        statistics, ``provenance``, ``created_utc``, ``caption``.
    mount : str
        ``"altaz"`` (default), ``"fork"`` or ``"gem"`` (German equatorial).
        Equatorial models are :class:`EquatorialModel` instances: positions
        are hour angle and declination (see :mod:`pointing.model.equatorial`).
    latitude_deg : float, optional
        Site latitude for an equatorial model (TF, TX and DAF need it); taken
        from ``info["site"]["latitude_deg"]`` when not given.

    Notes
    -----
    Instances are immutable and keep no global state: ``raw_from_true`` and
    ``true_from_raw`` may be called from several threads at once.
    """

    __slots__ = ("_arrays", "_covariance", "_fixed", "_info", "_plan", "_sigmas", "_terms",
                 "_values")

    #: the mount type (class attribute here; equatorial models carry their own)
    mount = "altaz"

    def __new__(cls, *args: Any, mount: str = "altaz", **kwargs: Any) -> PointingModel:
        if cls is PointingModel and equatorial.mount_family(mount) == "equatorial":
            cls = EquatorialModel
        return object.__new__(cls)

    def __init__(
        self,
        terms: Iterable[str | Term],
        values: Iterable[float] | None = None,
        *,
        sigmas: Iterable[float | None] | None = None,
        fixed: Iterable[bool] | None = None,
        covariance: Any = None,
        info: Mapping[str, Any] | None = None,
        mount: str = "altaz",
        latitude_deg: float | None = None,
    ):
        self._setup(mount, latitude_deg, info)
        family = equatorial.mount_family(self.mount)
        term_list = [t if isinstance(t, Term) else parse_term(t, family) for t in terms]
        self._terms = parse_terms([t.spelling for t in term_list], family)
        n = len(self._terms)
        vals = [0.0] * n if values is None else [float(v) for v in values]
        if len(vals) != n:
            raise TermError(f"{n} terms but {len(vals)} coefficient values")
        if not all(math.isfinite(v) for v in vals):
            bad = [t.name for t, v in zip(self._terms, vals, strict=True) if not math.isfinite(v)]
            raise TermError(f"coefficients of {', '.join(bad)} are not finite")
        for t, v in zip(self._terms, vals, strict=True):
            limit = _COEF_LIMIT.get(t.name, _COEF_LIMIT_DEFAULT)
            if abs(v) > limit:
                raise TermError(f"coefficient of {t.name} is {v:g}″: more than the "
                                f"{limit:g}″ a pointing model can hold")
        self._values = tuple(vals)
        sig = [None] * n if sigmas is None else [None if s is None else float(s) for s in sigmas]
        if len(sig) != n:
            raise TermError(f"{n} terms but {len(sig)} sigmas")
        for t, s in zip(self._terms, sig, strict=True):
            if s is not None and not (math.isfinite(s) and s >= 0.0):
                raise TermError(f"sigma of {t.name} must be a finite number ≥ 0, found {s!r}")
        self._sigmas = tuple(sig)
        fx = [False] * n if fixed is None else list(fixed)
        for t, f in zip(self._terms, fx, strict=False):
            if not isinstance(f, (bool, np.bool_)):
                raise TermError(f"fixed flag of {t.name} must be true or false, found {f!r}")
        fx = [bool(f) for f in fx]
        if len(fx) != n:
            raise TermError(f"{n} terms but {len(fx)} fixed flags")
        self._fixed = tuple(fx)
        if covariance is not None:
            covariance = np.array(covariance, dtype=float)
            covariance.setflags(write=False)
        self._covariance = covariance
        self._info = dict(info or {})
        self._compile()

    def _setup(self, mount: str, latitude_deg: float | None, info: Any) -> None:
        """Mount-specific state before the terms are parsed (nothing for alt-az)."""

    def _compile(self) -> None:
        self._plan = kernels.compile_plan(
            self._terms, tuple(v * ARCSEC for v in self._values))
        self._arrays = compiled.encode(self._plan.ops, self._plan.par)

    def _compiled(self) -> bool:
        return _use_compiled()

    # -- description --------------------------------------------------------
    @property
    def terms(self) -> tuple[Term, ...]:
        return self._terms

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self._terms)

    @property
    def spellings(self) -> tuple[str, ...]:
        """Term names as written in a model file: ``"&HESE"`` for a parallel term.

        Rebuild a model from these (not from :attr:`names`) to keep its ``&`` flags.
        """
        return tuple(t.spelling for t in self._terms)

    @property
    def values(self) -> dict[str, float]:
        """Coefficients in arcseconds, by term name, in model order."""
        return dict(zip(self.names, self._values, strict=True))

    @property
    def sigmas(self) -> dict[str, float | None]:
        return dict(zip(self.names, self._sigmas, strict=True))

    @property
    def fixed(self) -> dict[str, bool]:
        return dict(zip(self.names, self._fixed, strict=True))

    @property
    def covariance(self) -> np.ndarray | None:
        return self._covariance

    @property
    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def __getitem__(self, name: str) -> float:
        key = parse_term(name, equatorial.mount_family(self.mount)).name
        for t, v in zip(self._terms, self._values, strict=True):
            if t.name == key or {t.name, key} == {"TX", "TX10"}:
                return v
        raise KeyError(name)

    def __len__(self) -> int:
        return len(self._terms)

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={v:+.2f}" for n, v in zip(self.names, self._values, strict=True))
        return f"PointingModel({body})"

    def replace(self, **changes: Any) -> PointingModel:
        """A copy with some constructor arguments replaced."""
        args = dict(terms=self._terms, values=self._values, sigmas=self._sigmas,
                    fixed=self._fixed, covariance=self._covariance, info=self._info,
                    mount=self.mount, latitude_deg=self.latitude_deg)
        args.update(changes)
        return PointingModel(args.pop("terms"), args.pop("values"), **args)

    def with_values(self, changes: Mapping[str, float]) -> PointingModel:
        """A copy with some coefficients (arcsec, by term name) changed.

        The copy keeps the terms' order, spelling (``&`` flags), mount, fixed
        flags and info.  A name the model lacks is added in front, free (index
        terms such as IA, IE come first in TPOINT's lists); the covariance is
        then dropped, the sigmas of changed terms are kept.
        """
        family = equatorial.mount_family(self.mount)
        keys = {parse_term(k, family).name: float(v) for k, v in changes.items()}
        new = [k for k in keys if k not in self.names]
        return self.replace(
            terms=[*new, *self._terms],
            values=[*(keys[k] for k in new),
                    *(keys.get(t.name, v) for t, v in zip(self._terms, self._values,
                                                          strict=True))],
            sigmas=[None] * len(new) + list(self._sigmas),
            fixed=[False] * len(new) + list(self._fixed),
            covariance=None if new else self._covariance)

    @property
    def latitude_deg(self) -> float | None:
        """Site latitude (degrees) the model carries, if any."""
        lat = (self._info.get("site") or {}).get("latitude_deg")
        return None if lat is None else float(lat)

    # -- application --------------------------------------------------------
    def true_from_raw(self, az: Any, el: Any) -> tuple[Any, Any]:
        """True (observed) position seen at raw encoder readings.

        Parameters
        ----------
        az, el : float or array_like
            Raw azimuth and elevation (radians, azimuth from north through
            east, any cable-wrap turn; elevation −90°..95°); arrays broadcast.

        Returns
        -------
        az, el : float or ndarray
            True azimuth (same wrap turn as the input) and elevation, radians;
            NaN where the input is not finite or outside the range.
        """
        if _is_scalar(az) and _is_scalar(el):
            a, e = float(az), float(el)
            if not (math.isfinite(a) and kernels.ELEVATION_MIN <= e <= kernels.INPUT_MAX):
                return math.nan, math.nan
            if self._compiled():
                return compiled.forward_scalar(self._arrays, a, e)
            return kernels.forward(self._plan, a, e, MATH)
        a, e, shape = _as_arrays(az, el)
        if self._compiled():  # validates the input itself (NaN where not valid)
            ta, te = compiled.forward(self._arrays, a, e, kernels.ELEVATION_MIN,
                                      kernels.INPUT_MAX)
            return ta.reshape(shape), te.reshape(shape)
        ok = np.isfinite(a) & (e >= kernels.ELEVATION_MIN) & (e <= kernels.INPUT_MAX)
        a, e = np.where(ok, a, 0.0), np.where(ok, e, 0.0)
        plan = self._plan
        ta, te = _chunked(lambda x, y: kernels.forward(plan, x, y, np), a, e)
        return np.where(ok, ta, np.nan).reshape(shape), np.where(ok, te, np.nan).reshape(shape)

    def raw_from_true_status(self, az: Any, el: Any) -> tuple[Any, Any, Any]:
        """Like :meth:`raw_from_true`, with a status code per position.

        Status (``pointing.model.kernels.STATUS``): 0 reached; 1 input not
        finite; 2 input elevation outside −90°..95°; 3 no encoder position
        inside the mount's range reaches the direction (the zenith hole).
        Where the status is not 0 the demand is NaN.
        """
        scalar = _is_scalar(az) and _is_scalar(el)
        limits = _LIMITS
        if scalar and self._compiled():
            ra, re, code = compiled.inverse_scalar(self._arrays, float(az), float(el), *limits)
            if code != compiled.CHECK:
                return ra, re, int(code)
        a, e, shape = _as_arrays(az, el)
        plan = self._plan
        if self._compiled():  # validates the input itself (status 1, 2)
            ra, re, st, left = compiled.inverse(self._arrays, a, e, *limits)
            if left:  # the zenith region, the hole: the checked path
                idx = np.flatnonzero(st == compiled.CHECK)
                ra[idx], re[idx], st[idx] = kernels.solve_inverse(plan, a[idx], e[idx])
        else:
            ra, re, st = _chunked(lambda x, y: kernels.solve_inverse(plan, x, y), a, e,
                                  n_out=3)
        if scalar:
            return float(ra[0]), float(re[0]), int(st[0])
        return ra.reshape(shape), re.reshape(shape), st.reshape(shape)

    def raw_from_true(self, az: Any, el: Any) -> tuple[Any, Any]:
        """Encoder demand that points the telescope at a true position.

        Parameters
        ----------
        az, el : float or array_like
            True (observed, refracted) azimuth and elevation, radians; pass
            the azimuth on the cable-wrap turn you want the mount to use.
            ``el`` above π/2 asks for the over-the-zenith side.

        Returns
        -------
        az, el : float or ndarray
            Raw encoder azimuth (same wrap turn as the input) and elevation,
            radians.  ``true_from_raw`` of the result gives back the input to
            better than 1e-9 rad.  NaN where no demand inside the mount's
            range reaches the target, or the input is not finite or out of
            range: :meth:`raw_from_true_status` says which.
        """
        ra, re, _ = self.raw_from_true_status(az, el)
        return ra, re

    def offsets(self, az: Any, el: Any) -> tuple[Any, Any]:
        """Pointing correction at raw positions: (ΔA·cosE, ΔE) true − raw, radians."""
        a = np.asarray(az, dtype=float)
        e = np.asarray(el, dtype=float)
        ta, te = self.true_from_raw(a, e)
        return _wrap(ta - a) * np.cos(te), te - e

    # -- files --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The project's JSON model file as a dict (see :meth:`save`)."""
        info = dict(self._info)
        return {
            "format": _FORMAT_NAME,
            "version": MODEL_FILE_VERSION,
            "mount": self.mount,
            "created_utc": info.pop("created_utc", None),
            "caption": info.pop("caption", ""),
            "site": info.pop("site", None),
            "terms": [
                {"name": t.spelling, "value_arcsec": v, "sigma_arcsec": s, "fixed": f}
                for t, v, s, f in zip(self._terms, self._values, self._sigmas, self._fixed,
                                      strict=True)
            ],
            "covariance_arcsec2": None if self._covariance is None
            else self._covariance.tolist(),
            "fit": info.pop("fit", None),
            "provenance": info.pop("provenance", None),
            "extra": info or None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> PointingModel:
        """Build a model from :meth:`to_dict` output; validates every field."""
        def fail(msg: str) -> FileFormatError:
            return FileFormatError(source, None, msg)

        if not isinstance(data, Mapping):
            raise fail("model file must hold a JSON object")
        if data.get("format") != _FORMAT_NAME:
            raise fail(f"field 'format' must be {_FORMAT_NAME!r}, found {data.get('format')!r}")
        version = data.get("version")
        if version != MODEL_FILE_VERSION:
            raise fail(f"unsupported model file version {version!r} "
                       f"(this toolkit reads version {MODEL_FILE_VERSION})")
        mount = data.get("mount", "altaz")
        if mount not in equatorial.MOUNTS:
            raise fail(f"field 'mount' must be one of {', '.join(equatorial.MOUNTS)}, "
                       f"found {mount!r}")
        family = equatorial.mount_family(mount)
        rows = data.get("terms")
        if not isinstance(rows, list):
            raise fail("field 'terms' must be a list")
        names, values, sigmas, fixed = [], [], [], []
        for i, row in enumerate(rows):
            where = f"terms[{i}]"
            if not isinstance(row, Mapping) or "name" not in row or "value_arcsec" not in row:
                raise fail(f"{where} needs 'name' and 'value_arcsec'")
            try:
                names.append(parse_term(row["name"], family).spelling)
            except TermError as exc:
                raise fail(f"{where}.name: {exc}") from None
            for key in ("value_arcsec", "sigma_arcsec"):
                v = row.get(key)
                if v is None and key == "sigma_arcsec":
                    continue
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                    raise fail(f"{where}.{key} must be a finite number, found {v!r}")
            flag = row.get("fixed", False)
            if not isinstance(flag, bool):
                raise fail(f"{where}.fixed must be true or false, found {flag!r}")
            values.append(float(row["value_arcsec"]))
            sigmas.append(row.get("sigma_arcsec"))
            fixed.append(flag)
        cov = data.get("covariance_arcsec2")
        if cov is not None:
            try:
                cov = np.asarray(cov, dtype=float)
            except (TypeError, ValueError):
                raise fail("covariance_arcsec2 must be a matrix of numbers") from None
            if not np.all(np.isfinite(cov)):
                raise fail("covariance_arcsec2 holds values that are not finite numbers")
            if cov.shape != (len(names), len(names)):
                raise fail(f"covariance_arcsec2 must be {len(names)}×{len(names)}, "
                           f"found shape {cov.shape}")
        for key, kinds in (("created_utc", str), ("caption", str), ("site", Mapping),
                           ("fit", Mapping), ("provenance", Mapping), ("extra", Mapping)):
            if data.get(key) is not None and not isinstance(data[key], kinds):
                raise fail(f"field {key!r} must be a {'string' if kinds is str else 'object'}, "
                           f"found {type(data[key]).__name__}")
        info = {k: data[k] for k in ("created_utc", "caption", "site", "fit", "provenance")
                if data.get(k) is not None}
        if isinstance(data.get("extra"), Mapping):
            info.update(data["extra"])
        try:
            return PointingModel(names, values, sigmas=sigmas, fixed=fixed, covariance=cov,
                                 info=info, mount=mount)
        except TermError as exc:
            raise fail(str(exc)) from None

    def save(self, path: str | Path) -> Path:
        """Write the project's JSON model file (``.json``) or a TPOINT ``.mod``."""
        path = Path(path)
        if path.suffix.lower() == ".mod":
            from pointing.model.formats import write_mod

            write_mod(path, self)
            return path
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(path)  # atomic: the daemon never sees half a file
        return path

    @classmethod
    def load(cls, path: str | Path, *, mod_parallel: bool = True) -> PointingModel:
        """Load a model file: the project's JSON, or a TPOINT ``.mod`` by suffix.

        ``mod_parallel=False``: a ``.mod`` file's ``&`` is a plain flag, not
        TPOINT's parallel term (files this toolkit wrote before it read ``&``;
        see :func:`pointing.model.formats.read_mod`).
        """
        path = Path(path)
        if path.suffix.lower() == ".mod":
            from pointing.model.formats import read_mod

            return read_mod(path, parallel=mod_parallel)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FileFormatError(path, None, f"cannot read model file: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise FileFormatError(path, None, f"not a text (UTF-8) file: undecodable byte at "
                                  f"offset {exc.start}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FileFormatError(path, exc.lineno, f"not valid JSON: {exc.msg}") from None
        return cls.from_dict(data, source=str(path))



class EquatorialModel(PointingModel):
    """A pointing model of an equatorial mount (fork or German equatorial).

    Built through ``PointingModel(..., mount="fork"|"gem")``.  Positions are
    hour angle (west positive) and declination, radians; the far side of a
    German equatorial's pier is written with the declination beyond the pole,
    ``(h + 180°, 180° − δ)`` (declinations below −90° are read as +360°, and
    declinations come back in −90°..270°).  ``raw_from_true`` keeps the side
    it is asked for and takes the other only where the asked one cannot
    reach.  Terms and conventions: :mod:`pointing.model.equatorial`.  The
    compiled kernels (:mod:`pointing.model.numba_equatorial`) apply them where
    numba is installed, the numpy kernels elsewhere and near the poles (the
    reference both are tested against).  Pier-side terms act by the raw
    declination's side.
    """

    __slots__ = ("_latitude", "_mount")

    def _setup(self, mount: str, latitude_deg: float | None, info: Any) -> None:
        if equatorial.mount_family(mount) != "equatorial":
            raise TermError(f"an equatorial model needs mount 'fork' or 'gem', not {mount!r}")
        self._mount = mount
        if latitude_deg is None:
            latitude_deg = ((info or {}).get("site") or {}).get("latitude_deg")
        if latitude_deg is not None and not (isinstance(latitude_deg, (int, float))
                                             and -90.0 <= latitude_deg <= 90.0):
            raise TermError(f"latitude must be a number within ±90°, found {latitude_deg!r}")
        self._latitude = None if latitude_deg is None else float(latitude_deg)

    def _compile(self) -> None:
        if self._latitude is not None:
            site = dict(self._info.get("site") or {})
            site.setdefault("latitude_deg", self._latitude)
            self._info["site"] = site
        equatorial.check_mount_terms(self._terms, self._mount)
        lat = None if self._latitude is None else math.radians(self._latitude)
        self._plan = equatorial.compile_plan(
            self._terms, tuple(v * ARCSEC for v in self._values), lat)
        self._arrays = numba_equatorial.encode(self._plan)  # None: numpy kernels only

    def _compiled(self) -> bool:
        return self._arrays is not None and _use_compiled() and numba_equatorial.available()

    @property
    def mount(self) -> str:  # type: ignore[override]
        return self._mount

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={v:+.2f}" for n, v in zip(self.names, self._values, strict=True))
        return f"PointingModel({body}, mount={self._mount!r})"

    def true_from_raw(self, ha: Any, dec: Any) -> tuple[Any, Any]:
        """True (h, δ) seen at raw encoder (h, δ), radians; NaN for non-finite input or
        |δ| beyond 270°."""
        lo, hi = -1.5 * math.pi, equatorial.DEC_LIMITS[1]
        if _is_scalar(ha) and _is_scalar(dec):
            h, d = float(ha), float(dec)
            if not (math.isfinite(h) and lo <= d <= hi):
                return math.nan, math.nan
            if self._compiled():
                return numba_equatorial.forward_scalar(self._plan, self._arrays, h, d)
            return equatorial.forward(self._plan, h, d, MATH)
        h, d, shape = _as_arrays(ha, dec)
        ok = np.isfinite(h) & (d >= lo) & (d <= hi)
        h0, d0 = np.where(ok, h, 0.0), np.where(ok, d, 0.0)
        if self._compiled():
            th, td = numba_equatorial.forward(self._plan, self._arrays, h0, d0)
        else:
            th, td = equatorial.forward(self._plan, h0, d0)
        return np.where(ok, th, np.nan).reshape(shape), np.where(ok, td, np.nan).reshape(shape)

    def raw_from_true_status(self, ha: Any, dec: Any) -> tuple[Any, Any, Any]:
        """Encoder (h, δ) reaching a true (h, δ), with a status (kernels.STATUS; 2 here
        means a declination beyond ±270°)."""
        scalar = _is_scalar(ha) and _is_scalar(dec)
        if scalar and self._compiled() and float(dec) >= -1.5 * math.pi:
            return numba_equatorial.solve_inverse_scalar(self._plan, self._arrays, float(ha),
                                                         float(dec))
        h, d, shape = _as_arrays(ha, dec)
        d = np.where(d >= -1.5 * math.pi, d, -10.0)  # below −270°: out of range
        if self._compiled():
            rh, rd, st = numba_equatorial.solve_inverse(self._plan, self._arrays, h, d)
        else:
            rh, rd, st = _chunked(lambda x, y: equatorial.solve_inverse(self._plan, x, y), h,
                                  d, n_out=3)
        if scalar:
            return float(rh[0]), float(rd[0]), int(st[0])
        return rh.reshape(shape), rd.reshape(shape), st.reshape(shape)
