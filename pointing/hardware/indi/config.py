"""The station file's ``[indi]`` section: server, device names, timeouts, simulators."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pointing.errors import ConfigError
from pointing.model.terms import parse_terms

__all__ = ["IndiConfig"]


@dataclass(frozen=True)
class IndiConfig:
    """The station file's ``[indi]`` section (every key optional).

    Attributes
    ----------
    host, port : where ``indiserver`` listens (default 127.0.0.1:7624);
        the command line's ``--indi-host``/``--indi-port`` override them
    mount_device, camera_device : INDI device names (default: the simulators')
    wide_camera_device : the wide acquisition camera, if the station has one
        on INDI ("" = none: the night cannot search for a missed star)
    camera_blob : the BLOB vector carrying the camera's image (``CCD1``)
    mount_coordinates : ``"equatorial"`` (``EQUATORIAL_EOD_COORD``, JNow) or
        ``"horizontal"`` (``HORIZONTAL_COORD``)
    set_site : send the station's latitude, longitude and height to the mount
        (``GEOGRAPHIC_COORD``) on connecting
    connect_timeout_s : to reach the server and see the devices
    reply_timeout_s : for a driver to answer a request that is not a motion
    exposure_overhead_s : readout and transfer allowed beyond the exposure
    reconnect_s : how long a lost connection may take to come back before the
        night stops (:class:`IndiConnectionLost`)
    simulators : the devices are INDI's simulators (see the module notes)
    simulated_terms : pointing error shown by the simulators, TPOINT terms
        in arcsec (``simulators`` only)
    """

    host: str = "127.0.0.1"
    port: int = 7624
    mount_device: str = "Telescope Simulator"
    camera_device: str = "CCD Simulator"
    wide_camera_device: str = ""
    camera_blob: str = "CCD1"
    mount_coordinates: str = "equatorial"
    set_site: bool = True
    connect_timeout_s: float = 10.0
    reply_timeout_s: float = 10.0
    exposure_overhead_s: float = 20.0
    reconnect_s: float = 20.0
    simulators: bool = False
    simulated_terms: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, **overrides: Any) -> IndiConfig:
        """Validate ``[indi]``; errors name the key (``indi.mount_device``).

        ``overrides`` that are None are ignored (unset command-line options).
        """
        known = cls.__dataclass_fields__
        values: dict[str, Any] = {}
        items = dict(section or {})
        items.update({k: v for k, v in overrides.items() if v is not None})
        for key, value in items.items():
            if key not in known:
                raise ConfigError(f"indi.{key}: unknown key (known: {', '.join(known)})")
            default = known[key].default
            if key == "simulated_terms":
                values[key] = _terms(value)
            elif key == "port":
                if isinstance(value, bool) or not isinstance(value, int) \
                        or not 0 < value < 65536:
                    raise ConfigError(f"indi.port: expected a TCP port 1..65535, got {value!r}")
                values[key] = value
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"indi.{key}: expected true or false, got {value!r}")
                values[key] = value
            elif isinstance(default, str):
                if not isinstance(value, str):
                    raise ConfigError(f"indi.{key}: expected a string, got {value!r}")
                values[key] = value.strip()
            else:
                if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                    raise ConfigError(f"indi.{key}: expected a positive number, got {value!r}")
                values[key] = float(value)
        cfg = cls(**values)
        for key in ("host", "mount_device", "camera_device", "camera_blob"):
            if not getattr(cfg, key):
                raise ConfigError(f"indi.{key}: must not be empty")
        if cfg.mount_coordinates not in ("equatorial", "horizontal"):
            raise ConfigError(f"indi.mount_coordinates: expected 'equatorial' or 'horizontal', "
                              f"got {cfg.mount_coordinates!r}")
        if cfg.simulated_terms and not cfg.simulators:
            raise ConfigError("indi.simulated_terms: only INDI's simulators can be given a "
                              "pointing error (set indi.simulators = true)")
        if cfg.simulators and cfg.mount_coordinates != "equatorial":
            raise ConfigError("indi.mount_coordinates: INDI's telescope simulator is "
                              "equatorial only")
        return cfg


def _terms(value: Any) -> dict[str, float]:

    if not isinstance(value, Mapping):
        raise ConfigError("indi.simulated_terms: expected a table NAME = value_arcsec")
    out = {}
    for name, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"indi.simulated_terms.{name}: expected a number (arcsec), "
                              f"got {v!r}")
        out[str(name)] = float(v)
    try:
        parse_terms(list(out))
    except Exception as exc:
        raise ConfigError(f"indi.simulated_terms: {exc}") from None
    return out
