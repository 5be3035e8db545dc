"""Go / no-go: can the station keep the target in its receiving field, with light to spare?

Thresholds come from the station file's ``thresholds`` section
(:class:`Thresholds`).  :func:`go_no_go` compares the night's efficiency fit
(:class:`pointing.photometry.EfficiencyResult`) and background fit
(:class:`pointing.photometry.background.BackgroundFit`) with them;
:func:`night_verdict` adds the pointing checks of a calibration night (the
verification stars against the 100 µrad receiving field, the zero-offset star,
a well-determined model) and is the night's verdict.  Each check carries its
value, limit, unit and pass/fail; the verdict is PASS only when every check
passed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pointing.config.schema import check_keys, get_number, get_section
from pointing.errors import ConfigError

__all__ = ["GoNoGo", "PointingEvidence", "Thresholds", "go_no_go", "night_verdict"]

_KEYS = ("min_eta0", "min_total_efficiency", "efficiency_elevation_deg", "max_noise_cps",
         "pass_min_elevation_deg", "require_photometric", "max_verification_rms_urad",
         "max_verification_error_urad", "min_verification_stars", "max_condition_number")


@dataclass(frozen=True)
class Thresholds:
    """The station's ``thresholds`` section (None disables a check).

    Keys: ``min_eta0`` [0.20: half the design efficiency of ~0.40];
    ``min_total_efficiency`` [none] at ``efficiency_elevation_deg`` [20]
    (η₀ with the night's extinction at that elevation); ``max_noise_cps``
    [1000 counts/s, worst azimuth] at ``pass_min_elevation_deg`` [20, the
    lowest elevation a pass is used at]; ``require_photometric`` [false].

    Pointing (the domain brief: a 100 µrad receiving field of view):
    ``max_verification_rms_urad`` [50: the field's radius]; ``max_verification_error_urad``
    [100: the brief's "errors stay below 100 µrad", no star outside the field];
    ``min_verification_stars`` [3: fewer give no RMS worth the name];
    ``max_condition_number`` [1e4: above it the fit itself calls the model weakly
    determined].
    """

    min_eta0: float | None = 0.20
    min_total_efficiency: float | None = None
    efficiency_elevation_deg: float = 20.0
    max_noise_cps: float | None = 1000.0
    pass_min_elevation_deg: float = 20.0
    require_photometric: bool = False
    max_verification_rms_urad: float | None = 50.0
    max_verification_error_urad: float | None = 100.0
    min_verification_stars: float | None = 3
    max_condition_number: float | None = 1e4

    @classmethod
    def from_station(cls, station: Any = None) -> Thresholds:
        """Validate ``station.section("thresholds")`` (ConfigError names the key)."""
        sec = get_section(station, "thresholds")
        n = "thresholds"
        check_keys(sec, n, _KEYS)
        d = cls()
        req = sec.get("require_photometric", d.require_photometric)
        if not isinstance(req, bool):
            raise ConfigError(f"thresholds.require_photometric: expected true or false, "
                              f"got {req!r}")
        return cls(
            min_eta0=get_number(sec, n, "min_eta0", d.min_eta0, minimum=0, maximum=1e6),
            min_total_efficiency=get_number(sec, n, "min_total_efficiency",
                                            d.min_total_efficiency, minimum=0, maximum=1e6),
            efficiency_elevation_deg=get_number(sec, n, "efficiency_elevation_deg",
                                                d.efficiency_elevation_deg, minimum=0,
                                                maximum=90, exclusive_min=True),
            max_noise_cps=get_number(sec, n, "max_noise_cps", d.max_noise_cps, minimum=0,
                                     maximum=1e12),
            pass_min_elevation_deg=get_number(sec, n, "pass_min_elevation_deg",
                                              d.pass_min_elevation_deg, minimum=0,
                                              maximum=90),
            require_photometric=req,
            max_verification_rms_urad=get_number(sec, n, "max_verification_rms_urad",
                                                 d.max_verification_rms_urad, minimum=0,
                                                 maximum=1e9, exclusive_min=True),
            max_verification_error_urad=get_number(sec, n, "max_verification_error_urad",
                                                   d.max_verification_error_urad, minimum=0,
                                                   maximum=1e9, exclusive_min=True),
            min_verification_stars=get_number(sec, n, "min_verification_stars",
                                              d.min_verification_stars, minimum=1,
                                              maximum=10000),
            max_condition_number=get_number(sec, n, "max_condition_number",
                                            d.max_condition_number, minimum=1, maximum=1e300),
        )


@dataclass
class GoNoGo:
    """The verdict and every check behind it."""

    verdict: str  #: "PASS" or "FAIL"
    checks: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    def summary(self) -> str:
        """One line: the verdict and the deciding numbers."""
        parts = [c["text"] for c in self.checks]
        return f"{self.verdict}: " + ("; ".join(parts) if parts else "nothing was checked")

    def to_dict(self) -> dict:
        """JSON-ready (``summary.json["go_no_go"]``)."""
        return {"verdict": self.verdict, "checks": self.checks, "notes": self.notes,
                "summary": self.summary()}


def _check(name: str, value: float | None, limit: float, at_least: bool, text: str,
           unit: str = "", why: str = "not measured") -> dict:
    if value is None or not math.isfinite(value):
        return {"name": name, "value": None, "limit": limit, "unit": unit, "passed": False,
                "text": f"{name} {why} (limit {limit:g})"}
    ok = value >= limit if at_least else value <= limit
    op = (">=" if ok else "<") if at_least else ("<=" if ok else ">")
    return {"name": name, "value": value, "limit": limit, "unit": unit, "passed": ok,
            "text": f"{text} {op} {limit:g}"}


def go_no_go(efficiency: Any = None, background: Any = None, station: Any = None, *,
             thresholds: Thresholds | None = None,
             required: Iterable[str] = ()) -> GoNoGo:
    """PASS or FAIL against the station's thresholds, with the deciding numbers.

    Parameters
    ----------
    efficiency : EfficiencyResult, optional
        The night's efficiency fit (detectors).  None skips the efficiency checks
        unless "efficiency" is in *required* (then they fail as not measured).
    background : BackgroundFit, optional
        The night's background fit; the noise check uses its worst azimuth at
        ``pass_min_elevation_deg``.  None: as above, with "background".
    station : Station, mapping, or None
        Source of the ``thresholds`` section (unless *thresholds* is given).
    required : iterable of str
        "efficiency" and/or "background": inputs that must be present.

    Returns
    -------
    GoNoGo
        FAIL if any check fails or nothing could be checked.
    """
    th = thresholds or Thresholds.from_station(station)
    required = set(required)
    unknown = required - {"efficiency", "background"}
    if unknown:
        raise ValueError(f"unknown required input(s): {', '.join(sorted(unknown))}")
    checks: list[dict] = []
    notes: list[str] = []
    if efficiency is not None or "efficiency" in required:
        if th.min_eta0 is not None:
            v = None if efficiency is None else efficiency.eta0
            checks.append(_check("eta0", v, th.min_eta0, True,
                                 f"eta0 {v:.3f}" if v is not None else "", ""))
        if th.min_total_efficiency is not None:
            el = math.radians(th.efficiency_elevation_deg)
            v = None if efficiency is None else efficiency.total_efficiency(el)
            checks.append(_check(
                f"total_efficiency_at_{th.efficiency_elevation_deg:g}deg", v,
                th.min_total_efficiency, True,
                f"efficiency at {th.efficiency_elevation_deg:g} deg {v:.3f}"
                if v is not None else ""))
        if efficiency is not None and not efficiency.photometric:
            if th.require_photometric:
                checks.append({"name": "photometric", "value": False, "limit": True,
                               "passed": False, "text": efficiency.photometric_reason})
            else:
                notes.append(efficiency.photometric_reason)
    if background is not None or "background" in required:
        if th.max_noise_cps is not None:
            el = math.radians(th.pass_min_elevation_deg)
            v = None if background is None else background.noise_at(el)
            checks.append(_check(
                f"noise_at_{th.pass_min_elevation_deg:g}deg_cps", v, th.max_noise_cps, False,
                f"noise at {th.pass_min_elevation_deg:g} deg {v:.0f} counts/s (worst azimuth)"
                if v is not None else "", "counts/s"))
    verdict = "PASS" if checks and all(c["passed"] for c in checks) else "FAIL"
    return GoNoGo(verdict=verdict, checks=checks, notes=notes)


@dataclass(frozen=True)
class PointingEvidence:
    """What a calibration night measured of its pointing, for :func:`night_verdict`.

    Attributes
    ----------
    zero_found : bool
        The zero-offset star was found and centred.
    n_verify : int
        Verification stars measured.
    rms_urad, max_urad : float or None
        Radial RMS and largest pointing error of the verification stars (µrad).
    condition_number : float or None
        Of the fitted model's design matrix (None: no model was fitted).
    fit_note : str or None
        Why the fit fell back to fewer terms than the station asked for, if it did.
    counter : bool
        The station has a photon counter (otherwise efficiency and noise are
        not measured and the verdict is on pointing alone, said so).
    """

    zero_found: bool
    n_verify: int = 0
    rms_urad: float | None = None
    max_urad: float | None = None
    condition_number: float | None = None
    fit_note: str | None = None
    counter: bool = True


def _pointing_checks(p: PointingEvidence, th: Thresholds) -> list[dict]:
    checks = [{"name": "zero_offset_star", "value": p.zero_found, "limit": True, "unit": "",
               "passed": bool(p.zero_found),
               "text": "zero-offset star found and centred" if p.zero_found
               else "zero-offset star not found"}]
    cond = p.condition_number
    if th.max_condition_number is not None:
        c = _check("model_condition_number", cond, th.max_condition_number, False,
                   f"model condition number {cond:.3g}" if cond is not None else "", "",
                   why="no model fitted")
        if p.fit_note and c["passed"]:
            c = {**c, "passed": False, "text": f"model: {p.fit_note}"}
        checks.append(c)
    if th.min_verification_stars is not None:
        checks.append(_check("verification_stars", float(p.n_verify),
                             th.min_verification_stars, True,
                             f"{p.n_verify} verification stars", "stars"))
    if th.max_verification_rms_urad is not None:
        v = p.rms_urad if p.n_verify else None
        checks.append(_check("verification_rms_urad", v, th.max_verification_rms_urad, False,
                             f"verification RMS {v:.1f} µrad" if v is not None else "",
                             "µrad"))
    if th.max_verification_error_urad is not None:
        v = p.max_urad if p.n_verify else None
        checks.append(_check("worst_verification_urad", v, th.max_verification_error_urad,
                             False, f"worst verification star {v:.1f} µrad"
                             if v is not None else "", "µrad"))
    return checks


def night_verdict(pointing: PointingEvidence, efficiency: Any = None, background: Any = None,
                  station: Any = None, *, thresholds: Thresholds | None = None) -> GoNoGo:
    """The calibration night's verdict: pointing, then efficiency and noise.

    With a photon counter, efficiency and noise are required (missing = FAIL);
    without one they cannot be measured: the verdict is on pointing alone and a
    note says so.  PASS only when every check passed.
    """
    th = thresholds or Thresholds.from_station(station)
    checks = _pointing_checks(pointing, th)
    notes: list[str] = []
    if pointing.counter:
        light = go_no_go(efficiency, background, thresholds=th,
                         required=("efficiency", "background"))
        checks += light.checks
        notes += light.notes
    else:
        notes.append("no photon counter: efficiency and noise not measured, "
                     "the verdict is on pointing alone")
    verdict = "PASS" if checks and all(c["passed"] for c in checks) else "FAIL"
    return GoNoGo(verdict=verdict, checks=checks, notes=notes)
