"""Satellite passes: from a TLE to the mount's trajectory, with the pointing model applied.

``orbit`` reads element files and computes the topocentric track (SGP4,
TEME → ITRS → observed az/el); ``predict`` finds the passes; ``trajectory``
samples one pass for the mount (model, cable wrap, keyhole, rates, files);
``polarisation`` gives the half-wave-plate angle.
"""

from pointing.passes.orbit import (
    Satellite,
    StaleElementsWarning,
    Track,
    TrackComputer,
    load_satellite,
    read_elements,
)
from pointing.passes.polarisation import SourcePolarisation, hwp_angles
from pointing.passes.predict import NoPassError, Pass, PassList, predict_passes
from pointing.passes.trajectory import (
    Gap,
    Plan,
    Trajectory,
    load_trajectory,
    pass_trajectory,
    plan_pass,
)

__all__ = [
    "Gap",
    "NoPassError",
    "Pass",
    "PassList",
    "Plan",
    "Satellite",
    "SourcePolarisation",
    "StaleElementsWarning",
    "Track",
    "TrackComputer",
    "Trajectory",
    "hwp_angles",
    "load_satellite",
    "load_trajectory",
    "pass_trajectory",
    "plan_pass",
    "predict_passes",
    "read_elements",
]
