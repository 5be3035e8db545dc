"""One INDI server seen synchronously: indipyclient in a background thread.

See :mod:`pointing.hardware.indi` for how requests, Alerts, timeouts and lost
connections become the night's hardware errors.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time as _time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pointing.errors import ConfigError
from pointing.hardware.base import ConnectionLost, HardwareError, HardwareTimeout

__all__ = ["IndiAlert", "IndiConnectionLost", "IndiLink"]

log = logging.getLogger("pointing.hardware.indi")


class IndiAlert(HardwareError):
    """A driver refused or failed a request (its property turned Alert)."""


class IndiConnectionLost(ConnectionLost):
    """The INDI server cannot be reached (refused, or lost and not back in time)."""


def _number(text: Any) -> float:
    """An INDI number: decimal or sexagesimal ("12:30:00", "-5 30 0")."""
    s = str(text).strip()
    try:
        return float(s)
    except ValueError:
        pass
    parts = s.replace(":", " ").replace(";", " ").split()
    if not parts or len(parts) > 3:
        raise ValueError(f"not an INDI number: {text!r}")
    sign = -1.0 if parts[0].startswith("-") else 1.0
    value = 0.0
    for i, p in enumerate(parts):
        value += abs(float(p)) / 60.0**i
    return sign * value


@dataclass
class _Vector:
    kind: str  # Number, Switch, Text, Light, BLOB
    state: str = "Idle"
    values: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    received: float = 0.0  # local monotonic time of the last update
    message: str = ""


class IndiLink:
    """A synchronous view of one INDI server (indipyclient in a background thread).

    Every method that waits raises :class:`IndiConnectionLost` when the
    connection is down and does not come back within ``reconnect_s``.
    ``on_connect(link)`` runs after every (re)connection once the devices
    are seen, to connect and configure them again.
    """

    def __init__(self, host: str, port: int, *, connect_timeout_s: float = 10.0,
                 reply_timeout_s: float = 10.0, reconnect_s: float = 20.0,
                 devices: tuple[str, ...] = (),
                 on_connect: Callable[[IndiLink], None] | None = None):
        try:
            import indipyclient
        except ImportError:
            raise ConfigError("the INDI backend needs the indipyclient package: "
                              "pip install 'ogs-pointing[indi]'") from None
        self.host, self.port = host, int(port)
        self.where = f"INDI server {host}:{port}"
        self.connect_timeout_s = connect_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.reconnect_s = reconnect_s
        self.devices = devices
        self.on_connect = on_connect
        self._cond = threading.Condition()
        self._vectors: dict[tuple[str, str], _Vector] = {}
        self._messages: dict[str, deque[str]] = {}
        self._connected = False
        self._generation = 0
        self._ready_generation = 0
        self._lost_since: float | None = None
        self._refused = False
        self._closed = False
        self._in_setup = False
        self._closing = False
        self._last_problem = ""
        link = self

        class _Client(indipyclient.IPyClient):
            async def rxevent(self, event: Any) -> None:
                link._on_event(event)

            async def warning(self, message: str) -> None:
                if "refused" in message.lower():
                    link._on_refused()
                elif "timed out" in message.lower() or "error" in message.lower():
                    link._last_problem = message  # why the client drops a connection

        # its own logger prints a traceback for every failed write to a dead server
        logging.getLogger("indipyclient").setLevel(logging.CRITICAL)
        self._client = _Client(host, int(port))
        self._client.enableBLOBdefault = "Also"
        # idle 4 s → getProperties; no answer in 8 s → reconnect: a dead server is noticed fast
        self._client.set_vector_timeouts(timeout_enable=True, timeout_min=1, timeout_max=2)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"indi {host}:{port}",
                                        daemon=True)

    # -- life cycle ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._client.asyncrun())
        except Exception:
            log.exception("INDI client stopped")
        finally:
            with self._cond:
                self._connected = False
                self._closed = True
                self._cond.notify_all()

    def open(self) -> None:
        """Connect and wait for the devices; raises IndiConnectionLost naming the server."""
        self._thread.start()
        deadline = _time.monotonic() + self.connect_timeout_s
        with self._cond:
            while not self._connected:
                left = deadline - _time.monotonic()
                if left <= 0 or self._refused:
                    why = "connection refused" if self._refused else \
                        f"no answer in {self.connect_timeout_s:g} s"
                    self.close()
                    raise IndiConnectionLost(f"cannot connect to the {self.where}: {why}")
                self._cond.wait(min(left, 0.2))
        try:
            self.ensure()
        except BaseException:
            self.close()  # no client thread left behind, reconnecting to a server nobody uses
            raise

    def close(self) -> None:
        """Stop the client thread (idempotent)."""
        self._closing = True
        if self._thread.is_alive():
            self._client.shutdown()
            self._thread.join(timeout=5.0)

    # -- events (client thread) ----------------------------------------------------------------
    def _on_refused(self) -> None:
        with self._cond:
            self._refused = True
            self._cond.notify_all()

    def _on_event(self, event: Any) -> None:
        kind = getattr(event, "eventtype", "")
        with self._cond:
            if kind == "ConnectionMade":
                self._connected = True
                self._refused = False
                self._generation += 1
                self._lost_since = None
                self._vectors.clear()
            elif kind == "ConnectionLost":
                if self._connected and not self._closing:
                    log.warning("lost the connection to the %s%s", self.where,
                                f" ({self._last_problem})" if self._last_problem else "")
                self._last_problem = ""
                self._connected = False
                self._lost_since = _time.monotonic()
            elif kind == "Message":
                dev = event.devicename or ""
                self._messages.setdefault(dev, deque(maxlen=20)).append(event.message)
            elif kind in ("Define", "DefineBLOB", "Set", "SetBLOB"):
                key = (event.devicename, event.vectorname)
                vec = self._vectors.get(key)
                vtype = type(event).__name__.replace("def", "").replace("set", "")
                if vec is None:
                    vec = self._vectors[key] = _Vector(kind=vtype.replace("Vector", ""))
                if kind != "DefineBLOB":
                    vec.values.update(dict(event))
                if getattr(event, "state", None):
                    vec.state = event.state
                msg = getattr(event, "message", "") or ""
                if msg:
                    vec.message = msg
                    self._messages.setdefault(event.devicename, deque(maxlen=20)).append(msg)
                if kind in ("Set", "SetBLOB"):  # a re-sent definition is no news
                    vec.seq += 1
                vec.received = _time.monotonic()
            elif kind == "Delete":
                dev, name = event.devicename, event.vectorname
                for key in [k for k in self._vectors if k[0] == dev and name in (None, k[1])]:
                    del self._vectors[key]
            self._cond.notify_all()

    # -- waiting -----------------------------------------------------------------------------
    def _wait_connected(self) -> None:
        """Return when connected; IndiConnectionLost after ``reconnect_s`` without."""
        if self._connected:
            return
        if self._closed:
            raise IndiConnectionLost(f"the connection to the {self.where} is closed")
        since = self._lost_since or _time.monotonic()
        deadline = since + self.reconnect_s
        while not self._connected:
            left = deadline - _time.monotonic()
            if left <= 0:
                raise IndiConnectionLost(
                    f"lost the connection to the {self.where} and it did not come back "
                    f"within {self.reconnect_s:g} s")
            self._cond.wait(min(left, 0.5))

    def ensure(self) -> None:
        """Be connected, with the devices seen and set up since the last (re)connection."""
        with self._cond:
            self._wait_connected()
            generation = self._generation
            if self._ready_generation == generation:
                return
            deadline = _time.monotonic() + self.connect_timeout_s
            for dev in self.devices:
                while (dev, "CONNECTION") not in self._vectors:
                    self._wait_connected()
                    left = deadline - _time.monotonic()
                    if left <= 0:
                        seen = sorted({d for d, _ in self._vectors})
                        raise HardwareError(
                            f"{self.where} has no device {dev!r} (it has: "
                            f"{', '.join(seen) or 'none'}); check the [indi] device names")
                    self._cond.wait(min(left, 0.2))
        if self.on_connect is not None and not self._in_setup:
            self._in_setup = True
            try:
                self.on_connect(self)
            finally:
                self._in_setup = False
        with self._cond:
            if self._generation == generation and not self._in_setup:
                self._ready_generation = generation

    def _lost_during(self, what: str, generation: int) -> None:
        """Raise if the connection dropped since ``generation`` (the request is void)."""
        if self._generation != generation or not self._connected:
            self._wait_connected()
            raise HardwareError(f"{what}: the connection to the {self.where} dropped "
                                "during the request (it is back; the request was not done)")

    def vector(self, device: str, name: str, timeout_s: float | None = None) -> _Vector:
        """The latest state of a property; waits for it to be defined."""
        timeout = self.reply_timeout_s if timeout_s is None else timeout_s
        deadline = _time.monotonic() + timeout
        with self._cond:
            while True:
                self._wait_connected()
                vec = self._vectors.get((device, name))
                if vec is not None:
                    return vec
                left = deadline - _time.monotonic()
                if left <= 0:
                    raise HardwareError(f"{device}: no property {name} on the {self.where} "
                                        f"after {timeout:g} s (is the device connected?)")
                self._cond.wait(min(left, 0.2))

    def has(self, device: str, name: str) -> bool:
        with self._cond:
            return (device, name) in self._vectors

    def numbers(self, device: str, name: str) -> dict[str, float]:
        """A number vector's values (floats)."""
        vec = self.vector(device, name)
        with self._cond:
            return {k: _number(v) for k, v in vec.values.items()}

    def last_message(self, device: str) -> str:
        with self._cond:
            msgs = self._messages.get(device)
            return msgs[-1] if msgs else ""

    def send(self, device: str, name: str, members: Mapping[str, Any], *,
             wait: bool = True, timeout_s: float | None = None,
             what: str | None = None, busy_ok: bool = False) -> _Vector:
        """Send new values and, with ``wait``, return once the driver says Ok.

        Numbers are sent as decimal text, switches as ``"On"``/``"Off"``.
        ``busy_ok``: a Busy answer is success too (tracking is Busy while on).
        Raises :class:`IndiAlert` (with the driver's message) when the property
        turns Alert, :class:`~pointing.hardware.base.HardwareTimeout` when it
        is still Busy (or silent) after ``timeout_s``.
        """
        what = what or f"{device}.{name}"
        timeout = self.reply_timeout_s if timeout_s is None else timeout_s
        self.ensure()
        vec = self.vector(device, name)
        text = {k: (f"{v:.10f}" if isinstance(v, float) else str(v)) for k, v in members.items()}
        with self._cond:
            seq0, generation = vec.seq, self._generation
        future = asyncio.run_coroutine_threadsafe(
            self._client.send_newVector(device, name, members=text), self._loop)
        try:
            future.result(timeout)
        except Exception as exc:
            raise HardwareError(f"{what}: could not send to the {self.where}: {exc}") from None
        if not wait:
            return vec
        deadline = _time.monotonic() + timeout
        with self._cond:
            while True:
                self._lost_during(what, generation)
                cur = self._vectors.get((device, name))
                if cur is not None and cur.seq > seq0 and (
                        cur.state in ("Ok", "Idle") or (busy_ok and cur.state == "Busy")):
                    return cur
                if cur is not None and cur.seq > seq0 and cur.state == "Alert":
                    why = cur.message or self.last_message(device) or "no reason given"
                    raise IndiAlert(f"{what}: the driver refused or failed the request "
                                    f"(Alert): {why}")
                left = deadline - _time.monotonic()
                if left <= 0:
                    state = cur.state if cur is not None else "undefined"
                    raise HardwareTimeout(f"{what}: no answer from {device} within "
                                          f"{timeout:g} s (state {state})")
                self._cond.wait(min(left, 0.2))

    def wait_update(self, device: str, name: str, after_seq: int, timeout_s: float,
                    what: str) -> _Vector:
        """Wait for a property's next update after ``after_seq`` (any state but Busy).

        Alert raises :class:`IndiAlert`; no update raises HardwareTimeout.
        """
        deadline = _time.monotonic() + timeout_s
        with self._cond:
            generation = self._generation
            while True:
                self._lost_during(what, generation)
                cur = self._vectors.get((device, name))
                if cur is not None and cur.seq > after_seq:
                    if cur.state == "Alert":
                        why = cur.message or self.last_message(device) or "no reason given"
                        raise IndiAlert(f"{what}: {device} failed (Alert): {why}")
                    if cur.state != "Busy":
                        return cur
                left = deadline - _time.monotonic()
                if left <= 0:
                    raise HardwareTimeout(f"{what}: nothing from {device} within "
                                          f"{timeout_s:g} s")
                self._cond.wait(min(left, 0.2))

    def seq(self, device: str, name: str) -> int:
        with self._cond:
            vec = self._vectors.get((device, name))
            return vec.seq if vec is not None else 0

    def generation(self) -> int:
        with self._cond:
            return self._generation

    def enable_blobs(self, device: str) -> None:
        """Ask the server for the device's BLOBs (images) on this connection."""
        future = asyncio.run_coroutine_threadsafe(
            self._client.send_enableBLOB("Also", device), self._loop)
        future.result(self.reply_timeout_s)
