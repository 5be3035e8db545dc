"""The station's mount and cameras through an INDI server (the protocol behind KStars/Ekos).

:func:`indi_station` connects to an ``indiserver`` and returns a
:class:`~pointing.hardware.base.Backend` whose mount and cameras are INDI
devices; ``pointing nightly --backend indi --indi-host HOST --indi-port PORT``
uses it.  Device names, timeouts and the rest come from the station file's
``[indi]`` section (:class:`IndiConfig`).

Mount
    Commanded in its raw (encoder) frame like every mount of the night:
    observed (refracted) azimuth from north through east and elevation, in
    radians.  Most INDI mount drivers, and the 1.9 telescope simulator, move
    in JNow right ascension and declination only (``EQUATORIAL_EOD_COORD``):
    the adapter converts with ERFA for the station's site and weather
    (:func:`altaz_to_jnow`, :func:`jnow_to_altaz`; "JNow" is the apparent
    place referred to the true equator and equinox of date, which is what
    INDI means by it).  A driver that takes horizontal coordinates
    (``HORIZONTAL_COORD``) is driven directly with
    ``mount_coordinates = "horizontal"``.  :meth:`IndiMount.track` with
    non-zero rates switches the driver's sidereal tracking on: the rates the
    night asks for differ from the sky's by the pointing model's gradient,
    below 0.01″/s.  :meth:`IndiMount.stop` switches tracking off, which holds
    azimuth and elevation.

Cameras
    ``CCD_EXPOSURE`` plus the FITS image the driver sends as a BLOB; the
    frame's time is the driver's ``DATE-OBS`` plus half the exposure.

Errors
    A refused request (the property turns Alert) is an :class:`IndiAlert`
    with the driver's last message; an answer that does not come in time a
    :class:`~pointing.hardware.base.HardwareTimeout`; both let the night skip
    the star.  A connection that drops and does not come back within
    ``reconnect_s`` is an :class:`IndiConnectionLost`
    (:class:`~pointing.hardware.base.ConnectionLost`): the night stops as
    failed, every observation so far stays in the station log and
    ``pointing nightly --resume`` continues once the server is back.  A
    connection that comes back in time fails only the request in flight; the
    devices are connected and configured again automatically.

INDI's simulators (``simulators = true``)
    ``indi_simulator_telescope`` and ``indi_simulator_ccd`` (INDI 1.9) make
    a complete test bench, with three differences from a real station that
    the adapter takes care of:

    * the simulated mount is equatorial and the CCD draws its stars in J2000
      right ascension and declination (north toward −x, east toward +y), so
      each frame is re-projected into the alt-az camera that ``[camera]``
      describes (bilinear resampling; the star's centroid is kept);
    * the CCD turns the mount's JNow position into J2000 with INDI's own
      (libnova) precession, nutation and aberration, which differs from
      ERFA's by about 10″.  The CCD writes the J2000 centre it drew around
      into the FITS header (``RA``, ``DEC``, 0.04″ resolution); the
      re-projection puts that centre where ERFA says the JNow position the
      CCD was given lies, so the sky the night sees is ERFA's, like the
      sky it computes star places in;
    * stars are drawn at whole pixels (the integer part of their position),
      so every centroid is quantised to 1 px: a uniform error of ±½ px per
      axis, σ = 0.29 px, constant for a star while the mount tracks.  The
      re-projection removes the half-pixel bias of the integer part.

    A known pointing error can be put on the bench with ``simulated_terms``
    (TPOINT terms, arcsec): before each exposure the CCD's field is moved,
    through its ``EQUATORIAL_PE`` property, to where a mount with those terms
    would really point, so the night must find and fit them.  The CCD draws
    stars only through a ``gsc`` program on the server's ``PATH``:
    :mod:`pointing.hardware.indi.gsc` is a stand-in answering from the
    project's catalog.

Client library
    `indipyclient <https://pypi.org/project/indipyclient/>`_ (pure Python,
    asyncio, MIT) rather than pyindi-client (SWIG bindings around the C++
    libindiclient, GPL-3+): it installs wherever pip does without compiled
    code, its licence sits with this BSD-licensed package, and it reports
    connection loss and reconnects by itself.  It runs in a background
    thread with its own event loop; the adapters are synchronous.  Its own
    vector timeouts are shortened so that a dead server (which it notices
    only when a write fails) is noticed within seconds.  Install it with
    ``pip install 'ogs-pointing[indi]'``.

Modules: :mod:`~pointing.hardware.indi.config` (``[indi]``),
:mod:`~pointing.hardware.indi.link` (the connection),
:mod:`~pointing.hardware.indi.devices` (mount, cameras, :func:`indi_station`),
:mod:`~pointing.hardware.indi.bench` (INDI's simulators as a bench),
:mod:`~pointing.hardware.indi.gsc` (the ``gsc`` stand-in).  Coordinate
conversions alt-az ↔ JNow/ICRS live in :mod:`pointing.sky.places`.
"""

from __future__ import annotations

from pointing._lazy import lazy_exports

_EXPORTS = {
    "IndiAlert": "pointing.hardware.indi.link",
    "IndiConnectionLost": "pointing.hardware.indi.link",
    "IndiLink": "pointing.hardware.indi.link",
    "IndiConfig": "pointing.hardware.indi.config",
    "IndiMount": "pointing.hardware.indi.devices",
    "IndiCamera": "pointing.hardware.indi.devices",
    "indi_station": "pointing.hardware.indi.devices",
    "install_simulator_catalog": "pointing.hardware.indi.bench",
    "simulator_magnitudes": "pointing.hardware.indi.bench",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("pointing.hardware.indi", _EXPORTS, globals())
