"""Open-loop polarisation compensation: the half-wave-plate angle along a pass.

The satellite sends its polarisation states relative to a body axis (its
reference).  Seen from the station, that axis projected on the plane
across the line of sight makes an angle with the receiver's horizontal
reference, and the angle changes along the pass: the half-wave plate (HWP)
in front of the analyser follows it open loop.

Conventions.  Angles in the plane across the line of sight are measured
counter-clockwise as seen by the station looking at the satellite, from the
direction of increasing azimuth (the horizontal, along the elevation axis)
toward increasing elevation.  The source reference is a body axis of the
satellite's orbital frame (inertial position and velocity from SGP4):

* ``along_track``: the velocity direction in the orbit plane (normal × r̂);
* ``orbit_normal``: r × v;
* ``nadir``: −r̂ (nadir-referenced; undefined straight below the satellite);

projected across the line of sight and turned by ``offset_deg``.  The
station's reference is the receiver's horizontal: along the elevation axis
for a receiver riding on the tube (``receiver = "tube"``), turned by the
elevation for one on a Nasmyth port (``"nasmyth"``, ``+E``; ``"nasmyth-"``
for ``−E``).  The rotation ``ρ = θ_source − θ_station`` (mod 180°) is undone
by a HWP whose fast axis is at ``ρ / 2`` from the station's reference (a HWP
at φ maps an angle θ to 2φ − θ: the basis comes out mirrored, a fixed
relabelling of D/A).  ``hwp_deg`` is made continuous along the pass (no 90°
steps), starting in [0°, 90°), plus ``hwp_zero_deg`` (the plate's index).
The station reference is taken from the line of sight, i.e. the mount on
the track (the pointing model's tilts change it by well under 0.05°); where
the plan leaves the track (a keyhole gap) the angle is the track's, not the
mount's: no photons arrive there anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pointing.errors import PointingError

__all__ = ["RECEIVERS", "REFERENCE_AXES", "SourcePolarisation", "hwp_angles",
           "polarisation_rotation"]

REFERENCE_AXES = ("along_track", "orbit_normal", "nadir")
RECEIVERS = {"tube": 0.0, "nasmyth": 1.0, "nasmyth-": -1.0}


@dataclass(frozen=True)
class SourcePolarisation:
    """The satellite's polarisation reference and the receiver's optics (angles in deg)."""

    axis: str = "along_track"
    offset_deg: float = 0.0
    receiver: str = "tube"
    hwp_zero_deg: float = 0.0

    def __post_init__(self):
        if self.axis not in REFERENCE_AXES:
            raise PointingError(f"polarisation axis {self.axis!r}: expected one of "
                                + ", ".join(REFERENCE_AXES))
        if self.receiver not in RECEIVERS:
            raise PointingError(f"receiver {self.receiver!r}: expected one of "
                                + ", ".join(RECEIVERS))
        for name in ("offset_deg", "hwp_zero_deg"):
            if not math.isfinite(getattr(self, name)):
                raise PointingError(f"polarisation {name} must be finite")

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def source_axis_teme(r: np.ndarray, v: np.ndarray, axis: str) -> np.ndarray:
    """The reference body axis in TEME (unit vectors, (n, 3))."""
    rh = _unit(r)
    normal = _unit(np.cross(r, v))
    if axis == "along_track":
        return np.cross(normal, rh)
    if axis == "orbit_normal":
        return normal
    return -rh


def polarisation_rotation(los_itrs: np.ndarray, axis_itrs: np.ndarray, enu: np.ndarray,
                          offset_deg: float = 0.0) -> np.ndarray:
    """Angle (deg) of a vector projected across the line of sight, from the horizontal.

    ``los_itrs`` (n, 3): unit vectors station → satellite; ``axis_itrs`` (n, 3)
    the vector; ``enu`` (3, 3) rows east, north, up of the station in ITRS.
    Counter-clockwise as seen looking along the line of sight; NaN where the
    vector lies along the line of sight.
    """
    u = los_itrs @ enu.T
    e = axis_itrs @ enu.T
    up = np.array([0.0, 0.0, 1.0])
    h = np.cross(u, up)  # direction of increasing azimuth
    h_norm = np.linalg.norm(h, axis=1, keepdims=True)
    h = h / np.where(h_norm > 0, h_norm, np.nan)
    eps = np.cross(h, u)  # direction of increasing elevation
    p = e - u * np.einsum("ni,ni->n", e, u)[:, None]
    small = np.linalg.norm(p, axis=1) < 1e-9
    theta = np.degrees(np.arctan2(np.einsum("ni,ni->n", p, eps),
                                  np.einsum("ni,ni->n", p, h))) + offset_deg
    return np.where(small, np.nan, theta)


def hwp_angles(track, computer, pol: SourcePolarisation) -> np.ndarray:
    """Half-wave-plate angle (deg, continuous) along a :class:`~pointing.passes.orbit.Track`."""
    axis_teme = source_axis_teme(track.r_teme, track.v_teme, pol.axis)
    axis_itrs = np.einsum("nij,nj->ni", track.teme_to_itrs, axis_teme)
    theta_src = polarisation_rotation(track.los_itrs, axis_itrs, computer.enu, pol.offset_deg)
    theta_sta = RECEIVERS[pol.receiver] * np.degrees(track.el)
    rho = theta_src - theta_sta
    phi = np.full(rho.shape, np.nan)
    ok = np.isfinite(rho)
    if np.any(ok):
        # unwrap with period 180 deg (the rotation is defined mod 180)
        r = np.radians(np.mod(rho[ok], 180.0)) * 2.0
        cont = np.degrees(np.unwrap(r)) / 2.0
        cont -= 180.0 * math.floor(cont[0] / 180.0)
        phi[ok] = cont / 2.0
    return phi + pol.hwp_zero_deg
