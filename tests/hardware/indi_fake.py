"""A scripted stand-in for an INDI server, for tests of the INDI backend's error handling.

It speaks just enough of the INDI protocol (1.7) on 127.0.0.1 for the
client: it defines a mount ("Fake Mount") and a camera ("Fake CCD") on
``getProperties`` and answers ``new*Vector`` messages the way a test sets
in :attr:`FakeIndiServer.behaviour`:

* ``"ok"``: echo the values with state Ok;
* ``"alert"``: state Alert with a message;
* ``"busy"``: state Busy, and never anything more;
* ``"silent"``: no answer at all;
* ``"drop"``: close the connection.

A camera exposure answered ``"ok"`` sends a small FITS image as a BLOB.
"""

from __future__ import annotations

import base64
import io
import socket
import threading
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np

MOUNT = "Fake Mount"
CCD = "Fake CCD"


def _defs() -> list[str]:
    ts = 'timestamp="2026-01-01T00:00:00"'
    out = []
    for dev in (MOUNT, CCD):
        out.append(f'<defSwitchVector device="{dev}" name="CONNECTION" state="Ok" perm="rw" '
                   f'rule="OneOfMany" {ts}><defSwitch name="CONNECT">Off</defSwitch>'
                   '<defSwitch name="DISCONNECT">On</defSwitch></defSwitchVector>')
    out.append(f'<defNumberVector device="{MOUNT}" name="HORIZONTAL_COORD" state="Idle" '
               f'perm="rw" {ts}><defNumber name="AZ" format="%g" min="0" max="360" step="0">'
               '180</defNumber><defNumber name="ALT" format="%g" min="-90" max="90" step="0">'
               '45</defNumber></defNumberVector>')
    out.append(f'<defNumberVector device="{MOUNT}" name="EQUATORIAL_EOD_COORD" state="Idle" '
               f'perm="rw" {ts}><defNumber name="RA" format="%010.6m" min="0" max="24" '
               'step="0">12:30:00</defNumber><defNumber name="DEC" format="%010.6m" min="-90" '
               'max="90" step="0">-5 30 0</defNumber></defNumberVector>')
    out.append(f'<defSwitchVector device="{MOUNT}" name="TELESCOPE_TRACK_STATE" state="Idle" '
               f'perm="rw" rule="OneOfMany" {ts}><defSwitch name="TRACK_ON">Off</defSwitch>'
               '<defSwitch name="TRACK_OFF">On</defSwitch></defSwitchVector>')
    out.append(f'<defNumberVector device="{CCD}" name="CCD_EXPOSURE" state="Idle" perm="rw" '
               f'{ts}><defNumber name="CCD_EXPOSURE_VALUE" format="%g" min="0" max="3600" '
               'step="0">1</defNumber></defNumberVector>')
    out.append(f'<defBLOBVector device="{CCD}" name="CCD1" state="Idle" perm="ro" {ts}>'
               '<defBLOB name="CCD1"/></defBLOBVector>')
    return out


def fits_bytes(shape: tuple[int, int] = (32, 48)) -> bytes:
    from astropy.io import fits

    data = np.full(shape, 100, dtype=np.uint16)
    hdu = fits.PrimaryHDU(data)
    hdu.header["DATE-OBS"] = "2026-11-23T15:00:00.000"
    hdu.header["EXPTIME"] = 0.5
    buf = io.BytesIO()
    hdu.writeto(buf)
    return buf.getvalue()


class FakeIndiServer:
    """Listen on 127.0.0.1 (a free port) and serve one client at a time."""

    def __init__(self) -> None:
        self.behaviour: dict[str, str] = {}
        self.received: list[tuple[str, str, dict[str, str]]] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.port = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # -- control ---------------------------------------------------------------------------
    def drop_clients(self) -> None:
        """Close every client connection (the server stays up: clients may come back)."""
        for c in list(self._conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self._conns.clear()

    def close(self) -> None:
        """Stop listening and drop the clients: connections are refused from now on."""
        self._stop = True
        self.drop_clients()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
        except OSError:
            pass
        self._sock.close()

    # -- serving -----------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _send(self, conn: socket.socket, text: str) -> None:
        try:
            conn.sendall(text.encode())
        except OSError:
            pass

    def _client(self, conn: socket.socket) -> None:
        parser = ET.XMLPullParser(events=("start", "end"))
        parser.feed(b"<root>")
        depth = 0
        for _ev, _el in parser.read_events():
            depth += 1
        while not self._stop:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            parser.feed(data)
            for ev, el in parser.read_events():
                if ev == "start":
                    depth += 1
                    continue
                depth -= 1
                if depth == 1:
                    self._handle(conn, el)

    def _handle(self, conn: socket.socket, el: Any) -> None:
        tag = el.tag
        if tag == "getProperties":
            for d in _defs():
                self._send(conn, d)
            return
        if not tag.startswith("new"):
            return
        dev, name = el.get("device"), el.get("name")
        values = {c.get("name"): (c.text or "").strip() for c in el}
        self.received.append((dev, name, values))
        what = self.behaviour.get(name, "ok")
        kind = tag[3:].replace("Vector", "")  # Number, Switch, Text
        if what == "silent":
            return
        if what == "drop":
            self.drop_clients()
            return
        state = {"ok": "Ok", "alert": "Alert", "busy": "Busy"}[what]
        if name == "TELESCOPE_TRACK_STATE" and what == "ok" and values.get("TRACK_ON") == "On":
            state = "Busy"  # tracking is Busy while on, as in INDI's drivers
        message = ' message="[ERROR] Slew failed: target below the horizon"' \
            if what == "alert" else ""
        members = "".join(f'<one{kind} name="{k}">{v}</one{kind}>' for k, v in values.items())
        self._send(conn, f'<set{kind}Vector device="{dev}" name="{name}" state="{state}"'
                         f'{message}>{members}</set{kind}Vector>')
        if name == "CCD_EXPOSURE" and what == "ok":
            blob = base64.b64encode(fits_bytes()).decode()
            self._send(conn, f'<setBLOBVector device="{dev}" name="CCD1" state="Ok">'
                             f'<oneBLOB name="CCD1" size="{len(blob)}" format=".fits">{blob}'
                             '</oneBLOB></setBLOBVector>')
