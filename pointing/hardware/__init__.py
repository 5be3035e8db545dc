"""Hardware interfaces the calibration night talks to, and their backends.

:mod:`pointing.hardware.base` defines the small protocols (mount, camera,
photon counter, clock); :mod:`pointing.hardware.simulator.station` is the embedded
physically modelled station.  Real stations plug in through
``--backend MODULE:FACTORY``.
"""

from pointing.hardware import base as _base
from pointing.hardware.base import (  # noqa: F401 - re-exported
    Backend,
    Camera,
    Clock,
    ConnectionLost,
    Counts,
    Frame,
    HardwareError,
    HardwareTimeout,
    Mount,
    MountLimitError,
    MountLimits,
    PhotonCounter,
    load_backend,
)

__all__ = _base.__all__
