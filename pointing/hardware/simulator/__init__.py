"""The embedded, physically modelled station: a hardware backend like any other."""

from pointing.hardware.simulator.station import (
    COMPASS_SETUP,
    Faults,
    SimulatorConfig,
    VirtualClock,
    simulated_station,
)

__all__ = ["COMPASS_SETUP", "Faults", "SimulatorConfig", "VirtualClock", "simulated_station"]
