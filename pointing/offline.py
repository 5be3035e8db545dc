"""Keep astropy offline: nothing is downloaded at run time.

Call :func:`configure_astropy` before any astropy coordinate transform.  It
turns off IERS auto-download and the age check of the Earth-orientation
table, and forbids internet access through :mod:`astropy.utils.data`
unless explicitly allowed.  Earth orientation then comes from the
``astropy-iers-data`` package installed with astropy (measured values plus
about a year of predictions); beyond the table the edge values are held (see
:mod:`pointing.sky.places` for what that costs).
"""

from __future__ import annotations

__all__ = ["configure_astropy"]

_state: dict[str, bool] = {}


def configure_astropy(allow_internet: bool = False) -> None:
    """Configure astropy for offline use; idempotent and cheap to call again.

    Parameters
    ----------
    allow_internet : bool
        Leave :mod:`astropy.utils.data` allowed to download (only for an
        explicit online action such as refreshing the star catalog).
    """
    if _state.get("allow_internet") is allow_internet:
        return
    from astropy.utils import iers
    from astropy.utils.data import conf as data_conf

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    data_conf.allow_internet = bool(allow_internet)
    _state["allow_internet"] = bool(allow_internet)
