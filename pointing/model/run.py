"""A pointing run: true and raw positions of each star, in file order."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pointing.errors import PointingError

__all__ = ["Observations", "PointingRun"]

#: mount types (as pointing.model.equatorial.MOUNTS; this module imports no model code)
_MOUNTS = ("altaz", "fork", "gem")


def _angles(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise PointingError(f"observations: {name} must be one-dimensional, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class PointingRun:
    """Observations of a pointing run (true and raw positions of each star).

    Also available as ``Observations`` (its earlier name); not to be confused
    with the photometric observation table of :mod:`pointing.photometry.table`.

    Attributes
    ----------
    az_true, el_true : ndarray
        Observed (true, refracted) azimuth and elevation of each star,
        radians, azimuth from north through east.
    az_raw, el_raw : ndarray
        Raw encoder azimuth and elevation when the star was centred, radians.
    used : ndarray of bool
        False for observations the user rejected (``;``-prefixed lines in a
        TPOINT file); they are kept but never fitted.
    sigma_arcsec : ndarray or None
        Per-observation 1-sigma position uncertainty (arcsec) for weighting.
    time_mjd : ndarray or None
        UTC time of each observation as a Modified Julian Date.
    extra : dict of str to ndarray
        Further per-observation columns (e.g. ``"rotator"``, degrees).
    comments : tuple of str
        Per-observation comment ("" when none).
    lines : tuple of int
        1-based line number of each observation in its source file (0 when
        not read from a file).
    caption, options, site, source
        File caption, option lines (without the colon), site record
        (``latitude_deg`` and whatever else the file gave) and the source path.
    mount : str
        ``"altaz"`` (default), ``"fork"`` or ``"gem"``.  For the equatorial
        mounts the ``az_*`` columns hold the hour angle (west positive) and the
        ``el_*`` columns the declination (also as ``ha_true``, ``dec_true``,
        ``ha_raw``, ``dec_raw``); observations on the far side of a German
        equatorial's pier have both raw and true declination beyond the pole
        (``h + 180°, 180° − δ``, see :mod:`pointing.model.equatorial`).
    """

    az_true: np.ndarray
    el_true: np.ndarray
    az_raw: np.ndarray
    el_raw: np.ndarray
    used: np.ndarray = None  # type: ignore[assignment]
    sigma_arcsec: np.ndarray | None = None
    time_mjd: np.ndarray | None = None
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)
    comments: tuple[str, ...] = ()
    lines: tuple[int, ...] = ()
    caption: str = ""
    options: tuple[str, ...] = ()
    site: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    mount: str = "altaz"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.mount not in _MOUNTS:
            raise PointingError(f"observations: mount must be one of {', '.join(_MOUNTS)}, "
                                f"found {self.mount!r}")
        for name in ("az_true", "el_true", "az_raw", "el_raw"):
            set_(self, name, _angles(getattr(self, name), name))
        n = self.az_true.size
        for name in ("el_true", "az_raw", "el_raw"):
            if getattr(self, name).size != n:
                raise PointingError(f"observations: {name} has {getattr(self, name).size} "
                                    f"values, az_true has {n}")
        used = np.ones(n, bool) if self.used is None else np.asarray(self.used, bool)
        set_(self, "used", used)
        for name in ("sigma_arcsec", "time_mjd"):
            v = getattr(self, name)
            if v is not None:
                v = np.asarray(v, dtype=float)
                if v.shape != (n,):
                    raise PointingError(f"observations: {name} must have {n} values")
                set_(self, name, v)
        if self.sigma_arcsec is not None and not np.all(self.sigma_arcsec[used] > 0):
            raise PointingError("observations: sigma_arcsec must be positive for used rows")
        set_(self, "extra", {k: np.asarray(v) for k, v in self.extra.items()})
        set_(self, "comments", tuple(self.comments) or ("",) * n)
        set_(self, "lines", tuple(self.lines) or (0,) * n)
        set_(self, "options", tuple(self.options))
        set_(self, "site", dict(self.site))
        for arr in (self.az_true, self.el_true, self.az_raw, self.el_raw, self.used):
            arr.setflags(write=False)
        if self.is_equatorial:
            self._check_pier_sides()

    def _check_pier_sides(self) -> None:
        """Raw and true positions of an observation are written on the same pier side."""
        def far(d: np.ndarray) -> np.ndarray:
            d = np.where(d < -0.5 * math.pi, d + 2 * math.pi, d)
            return d > 0.5 * math.pi

        raw_far, true_far = far(self.el_raw), far(self.el_true)
        if self.mount == "fork" and np.any(raw_far):
            i = int(np.argmax(raw_far))
            raise PointingError(f"observation {i + 1}{self._where(i)}: raw declination beyond "
                                "the pole on a fork mount: a far-side (pier-flipped) "
                                "observation needs mount 'gem'")
        near_pole = np.abs(np.cos(self.el_true)) < math.sin(math.radians(1.0))
        bad = (raw_far != true_far) & ~near_pole & np.isfinite(self.el_true)
        if np.any(bad):
            i = int(np.argmax(bad))
            side = "far" if raw_far[i] else "near"
            raise PointingError(
                f"observation {i + 1}{self._where(i)}: the raw position is on the {side} side "
                "of the pier but the true position is not: write the true position on the "
                "raw's side (far side: h + 180°, 180° − δ)")

    def _where(self, i: int) -> str:
        return f" (line {self.lines[i]})" if self.lines and self.lines[i] else ""

    def __len__(self) -> int:
        return int(self.az_true.size)

    @property
    def is_equatorial(self) -> bool:
        return self.mount != "altaz"

    @property
    def ha_true(self) -> np.ndarray:
        """True hour angle (radians) of an equatorial run (the ``az_true`` column)."""
        return self.az_true

    @property
    def dec_true(self) -> np.ndarray:
        return self.el_true

    @property
    def ha_raw(self) -> np.ndarray:
        return self.az_raw

    @property
    def dec_raw(self) -> np.ndarray:
        return self.el_raw

    @property
    def far_side(self) -> np.ndarray:
        """True for observations on the far side of the pier (raw δ beyond the pole)."""
        if not self.is_equatorial:
            return np.zeros(len(self), bool)
        d = np.where(self.el_raw < -0.5 * math.pi, self.el_raw + 2 * math.pi, self.el_raw)
        return d > 0.5 * math.pi

    @property
    def latitude_deg(self) -> float | None:
        lat = self.site.get("latitude_deg")
        return None if lat is None else float(lat)

    def residuals(self) -> tuple[np.ndarray, np.ndarray]:
        """Raw pointing error before any model: (ΔA·cosE, ΔE) true − raw, radians."""
        dx = ((self.az_true - self.az_raw + math.pi) % (2 * math.pi) - math.pi)
        return dx * np.cos(self.el_true), self.el_true - self.el_raw

    def with_used(self, used: Sequence[bool] | np.ndarray) -> PointingRun:
        """A copy with a different ``used`` mask."""
        return replace(self, used=np.asarray(used, bool))

    def select(self, index: Any) -> PointingRun:
        """A subset (boolean mask or integer index array), keeping every column."""
        idx = np.arange(len(self))[index]
        pick = lambda a: None if a is None else np.asarray(a)[idx]  # noqa: E731
        return replace(
            self,
            az_true=self.az_true[idx], el_true=self.el_true[idx],
            az_raw=self.az_raw[idx], el_raw=self.el_raw[idx], used=self.used[idx],
            sigma_arcsec=pick(self.sigma_arcsec), time_mjd=pick(self.time_mjd),
            extra={k: v[idx] for k, v in self.extra.items()},
            comments=tuple(self.comments[i] for i in idx),
            lines=tuple(self.lines[i] for i in idx),
        )

    @classmethod
    def from_degrees(cls, az_true: Any, el_true: Any, az_raw: Any, el_raw: Any,
                     **kwargs: Any) -> PointingRun:
        """Build from arrays in degrees (other keyword arguments as the constructor)."""
        return cls(np.radians(az_true), np.radians(el_true), np.radians(az_raw),
                   np.radians(el_raw), **kwargs)


#: the earlier name of :class:`PointingRun`, kept for existing code
Observations = PointingRun
