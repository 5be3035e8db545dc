"""The station file's ``[indi]`` section: server, device names, timeouts, simulators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pointing.config.schema import Field, Section
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
        items = dict(section or {})
        items.update({k: v for k, v in overrides.items() if v is not None})
        cfg = cls(**INDI.read(items))
        if cfg.simulated_terms and not cfg.simulators:
            raise INDI.error("simulated_terms", "empty unless indi.simulators = true (only "
                             "INDI's simulators can be given a pointing error)",
                             dict(cfg.simulated_terms))
        if cfg.simulators and cfg.mount_coordinates != "equatorial":
            raise INDI.error("mount_coordinates", "'equatorial' with indi.simulators = true "
                             "(INDI's telescope simulator is equatorial only)",
                             cfg.mount_coordinates)
        return cfg


def _terms(value: dict[str, float]) -> dict[str, float]:
    """Refuse term names the model does not know (the schema checked the values)."""
    try:
        parse_terms(list(value))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
    return value


def _name(**kw: Any) -> Field:
    return Field(str, nonempty=True, **kw)


def _seconds() -> Field:
    return Field(float, above=0, max=86400)


#: the station file's ``[indi]`` section (absent keys: IndiConfig's defaults)
INDI = Section("indi", {
    "host": _name(),
    "port": Field(int, min=1, max=65535),
    "mount_device": _name(),
    "camera_device": _name(),
    "wide_camera_device": Field(str),
    "camera_blob": _name(),
    "mount_coordinates": Field(str, choices=("equatorial", "horizontal")),
    "set_site": Field(bool),
    "connect_timeout_s": _seconds(),
    "reply_timeout_s": _seconds(),
    "exposure_overhead_s": _seconds(),
    "reconnect_s": _seconds(),
    "simulators": Field(bool),
    "simulated_terms": Field(dict, item=Field(float), check=_terms),
})
