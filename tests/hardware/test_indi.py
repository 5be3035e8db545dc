"""The INDI backend: conversions, configuration and errors, and whole nights on INDI's simulators.

The end-to-end tests start ``indiserver`` with ``indi_simulator_telescope``
and ``indi_simulator_ccd`` (Debian's ``indi-bin``; ``.ci/run`` installs it)
on a free port of 127.0.0.1 and stop it by its process id; they skip, saying
why, where the server or the ``indipyclient`` package is missing.  The
error-handling tests use a scripted fake server (:mod:`indi_fake`).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pointing.config.station import load_station
from pointing.errors import ConfigError
from pointing.hardware.base import ConnectionLost, HardwareError, HardwareTimeout
from pointing.hardware.indi.bench import simulator_magnitudes
from pointing.hardware.indi.config import IndiConfig
from pointing.hardware.indi.gsc import install, query, read_star_list
from pointing.hardware.indi.link import IndiAlert, IndiConnectionLost
from pointing.model.model import ARCSEC
from pointing.sky.places import altaz_to_icrs, altaz_to_jnow, jnow_to_altaz

HAVE_CLIENT = importlib.util.find_spec("indipyclient") is not None
HAVE_SERVER = all(shutil.which(p) for p in ("indiserver", "indi_simulator_telescope",
                                              "indi_simulator_ccd"))
needs_client = pytest.mark.skipif(not HAVE_CLIENT, reason="indipyclient is not installed "
                                  "(pip install '.[indi]')")
needs_server = pytest.mark.skipif(not (HAVE_CLIENT and HAVE_SERVER), reason=(
    "INDI's server and simulators are not installed (apt-get install --no-install-recommends "
    "indi-bin; .ci/run does it)" if HAVE_CLIENT else "indipyclient is not installed"))

#: the pointing error put on the simulated bench, arcsec (a hand-levelled, roughly aligned
#: base; small enough that the first star lands in the tracking camera, which has no wide
#: camera beside it on this bench)
INJECTED = {"IA": 120.0, "IE": -45.0, "CA": 20.0, "NPAE": -15.0, "AN": 30.0, "AW": -25.0,
            "TF": 12.0}

BENCH_STATION = """
name = "INDI bench"

[site]
latitude_deg = 31.1263
longitude_deg = 121.5424
height_m = 25.0
utc_offset_h = 8.0

[weather]
pressure_hpa = 1010.3
temperature_c = 7.0
humidity = 0.75

[mount]           # the telescope simulator's slews: 6°/s, settled at once
az_speed_deg_s = 6.0
el_speed_deg_s = 6.0
az_accel_deg_s2 = 100.0
el_accel_deg_s2 = 100.0
settle_s = 0.3

[camera]          # the CCD simulator as the tracking camera: 5.2 um pixels at 1.733 m
pixel_scale_urad = 3.0
width = 1024
height = 1024
calibration_pixel = [511.5, 511.5]
gain_e_per_adu = 200.0      # the simulator's ADU are this camera's 200-electron units
read_noise_e = 1200.0
full_well_e = 13000000.0
saturation_adu = 65000
bias_adu = 10.0
fwhm_px = 5.3

[night]
terms = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF"]
n_model = 8
n_verify = 4
n_exposures = 2
max_exposure_s = 0.5
background_grid = false

[indi]
simulators = true
reconnect_s = 4.0
connect_timeout_s = 15.0
simulated_terms = {TERMS}
"""


def _terms_toml(terms: dict[str, float]) -> str:
    return "{" + ", ".join(f"{k} = {v}" for k, v in terms.items()) + "}"


def bench_station(tmp_path: Path, terms: dict[str, float] = INJECTED) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(BENCH_STATION.replace("{TERMS}", _terms_toml(terms)), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- conversions ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shanghai():
    return load_station("shanghai")


def _astropy_altaz(station, time):
    from astropy import units as u
    from astropy.coordinates import AltAz

    w = station.weather
    return AltAz(obstime=time, location=station.location, pressure=w.pressure_hpa * u.hPa,
                 temperature=w.temperature_c * u.deg_C, relative_humidity=w.humidity,
                 obswl=station.wavelengths.camera_um * u.micron)


def test_jnow_conversion_round_trip_and_astropy(shanghai):
    """az/el → JNow → az/el returns (to ERFA's refraction inversion, a few mas at 10°),
    and JNow agrees with astropy's TETE frame."""
    from astropy import units as u
    from astropy.coordinates import CIRS, TETE, SkyCoord
    from astropy.time import Time

    from pointing.offline import configure_astropy

    configure_astropy()
    t = Time("2026-12-01T13:00:00", scale="utc")
    rng = np.random.default_rng(1)
    az = rng.uniform(0, 2 * np.pi, 20)
    el = np.radians(rng.uniform(10, 88, 20))
    ra, dec = altaz_to_jnow(az, el, shanghai, t)
    az2, el2 = jnow_to_altaz(ra, dec, shanghai, t)
    dz = (az2 - az + np.pi) % (2 * np.pi) - np.pi
    assert np.max(np.abs(dz * np.cos(el))) < 0.01 * ARCSEC
    assert np.max(np.abs(el2 - el)) < 0.01 * ARCSEC
    # the same JNow place through astropy's own frame graph, by way of CIRS (astropy's
    # direct TETE → ITRS → AltAz path leaves out the diurnal aberration, ≤ 0.3″)
    cirs = SkyCoord(TETE(ra=ra * u.rad, dec=dec * u.rad, obstime=t)).transform_to(
        CIRS(obstime=t))
    aa = cirs.transform_to(_astropy_altaz(shanghai, t))
    d_az = (aa.az.rad - az + np.pi) % (2 * np.pi) - np.pi
    # astropy's Earth orientation differs from the night's ERFA chain's by < 0.3″
    assert np.max(np.abs(d_az * np.cos(el))) < 0.5 * ARCSEC
    assert np.max(np.abs(aa.alt.rad - el)) < 0.5 * ARCSEC
    # a direction due south on the meridian has hour angle 0: RA = local apparent sidereal time
    ra_s, dec_s = altaz_to_jnow(np.pi, np.radians(50.0), shanghai, t, refraction=False)
    last = t.sidereal_time("apparent", longitude=shanghai.longitude_deg * u.deg).rad
    assert abs((ra_s - last + np.pi) % (2 * np.pi) - np.pi) < 0.5 * ARCSEC
    assert abs(np.degrees(dec_s) - (shanghai.latitude_deg - 40.0)) < 1 / 3600


def test_altaz_to_icrs_undoes_the_nights_star_places(shanghai, tmp_path):
    """A star's observed place (the night's truth) maps back to the astrometric place the
    gsc stand-in gives the CCD simulator: the bench and the night share one sky."""
    from astropy.time import Time

    from pointing.sky.catalog import load_catalog
    from pointing.sky.places import observed_altaz

    t = Time("2026-12-01T14:00:00", scale="utc")
    cat = load_catalog()
    rows = np.nonzero(np.isin(np.asarray(cat["hip"]), [27989, 32349, 91262, 11767]))[0]
    az, el = observed_altaz(cat[rows], shanghai, t)
    up = el > np.radians(5)
    rc, dc = altaz_to_icrs(az[up], el[up], shanghai, t)
    install(tmp_path, t)
    listed = {h: (a, d) for a, d, _m, h in read_star_list(tmp_path / "stars.txt")}
    for hip, r, d in zip(np.asarray(cat["hip"])[rows][up], rc, dc, strict=True):
        a0, d0 = np.radians(listed[int(hip)])
        sep = math.hypot(((r - a0 + math.pi) % (2 * math.pi) - math.pi) * math.cos(d0), d - d0)
        assert sep < 0.05 * ARCSEC, (hip, sep / ARCSEC)


def test_altaz_to_icrs_matches_astropy(shanghai):
    from astropy import units as u
    from astropy.coordinates import ICRS, SkyCoord
    from astropy.time import Time

    t = Time("2026-12-01T14:00:00", scale="utc")
    az, el = np.radians([30.0, 200.0, 310.0]), np.radians([25.0, 60.0, 80.0])
    rc, dc = altaz_to_icrs(az, el, shanghai, t)
    frame = _astropy_altaz(shanghai, t)
    icrs = SkyCoord(frame.realize_frame(
        __import__("astropy.coordinates", fromlist=["UnitSphericalRepresentation"])
        .UnitSphericalRepresentation(az * u.rad, el * u.rad))).transform_to(ICRS())
    sep = SkyCoord(rc * u.rad, dc * u.rad).separation(icrs).to_value(u.arcsec)
    assert np.max(sep) < 0.5  # as above: astropy's Earth orientation differs by < 0.3″


# --- configuration -------------------------------------------------------------------------


def test_config_defaults_and_overrides():
    cfg = IndiConfig.from_section({"mount_device": "LX200 GPS", "port": 7625},
                                  host="10.0.0.5", port=None)
    assert (cfg.host, cfg.port, cfg.mount_device) == ("10.0.0.5", 7625, "LX200 GPS")
    assert cfg.camera_device == "CCD Simulator" and not cfg.simulators


@pytest.mark.parametrize(("section", "key"), [
    ({"mount_devic": "x"}, "indi.mount_devic"),
    ({"port": 70000}, "indi.port"),
    ({"port": "7624"}, "indi.port"),
    ({"mount_device": ""}, "indi.mount_device"),
    ({"mount_device": 3}, "indi.mount_device"),
    ({"reply_timeout_s": -1}, "indi.reply_timeout_s"),
    ({"simulators": "yes"}, "indi.simulators"),
    ({"mount_coordinates": "altaz"}, "indi.mount_coordinates"),
    ({"simulated_terms": {"IA": 10.0}}, "indi.simulated_terms"),
    ({"simulators": True, "simulated_terms": {"XYZZY": 1.0}}, "indi.simulated_terms"),
    ({"simulators": True, "simulated_terms": {"IA": "ten"}}, "indi.simulated_terms.IA"),
])
def test_config_errors_name_the_key(section, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        IndiConfig.from_section(section)


def test_simulator_magnitudes_refuse_an_impossible_camera(tmp_path):
    text = BENCH_STATION.replace("{TERMS}", "{}").replace("gain_e_per_adu = 200.0",
                                                          "gain_e_per_adu = 0.5")
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"camera\.gain_e_per_adu"):
        simulator_magnitudes(load_station(path))
    scale, offset = simulator_magnitudes(load_station(bench_station(tmp_path)))
    assert scale == pytest.approx(1.329, abs=0.001) and offset > 0


# --- the gsc stand-in ------------------------------------------------------------------------

_GSC_LINE = re.compile(r"^(\S{1,10}) (\S+) (\S+) (\S+) (\S+) (\S+) (-?\d+) (-?\d+) (\S{1,4}) "
                       r"(\S{1,2}) (\S+) (-?\d+)$")


def test_gsc_stand_in_answers_like_gsc(tmp_path):
    """Twelve fields per star as INDI's sscanf reads them; radius, magnitudes, order."""
    from astropy.time import Time

    script = install(tmp_path / "gscbin", Time("2026-12-01T13:00:00"), mag_offset=5.0)
    stars = read_star_list(tmp_path / "gscbin" / "stars.txt")
    assert len(stars) > 5000 and min(m for _, _, m, _ in stars) > 0
    # Betelgeuse's neighbourhood, as the CCD simulator asks
    out = subprocess.run([str(script), "-c", "88.79", "+7.41", "-r", "120.0", "-m", "0", "17",
                          "-n", "3000"], capture_output=True, text=True, timeout=30,
                         env={k: v for k, v in os.environ.items() if k != "POINTING_GSC_STARS"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines and all(_GSC_LINE.match(line) for line in lines)
    fields = [line.split() for line in lines]
    assert fields[0][0] == "HIP0027989"  # the brightest first
    ra, dec = float(fields[0][1]), float(fields[0][2])
    assert abs(ra - 88.7929) < 0.01 and abs(dec - 7.4071) < 0.01
    mags = [float(f[4]) for f in fields]
    assert mags == sorted(mags)
    assert all(float(f[10]) <= 120.0 for f in fields)
    # magnitude window and count limit
    few = query(stars, 88.79, 7.41, 600.0, 6.0, 8.0, 3)
    assert len(few) == 3 and all(6.0 <= float(x.split()[4]) <= 8.0 for x in few)
    bad = subprocess.run([str(script), "-r", "5"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "-c RA DEC" in bad.stderr


# --- errors, against a scripted fake server ----------------------------------------------------


@pytest.fixture
def fake():
    sys.path.insert(0, str(Path(__file__).parent))
    from indi_fake import FakeIndiServer

    server = FakeIndiServer()
    yield server
    server.close()


def _fake_backend(fake, tmp_path, reconnect_s=2.0, **keys):
    from indi_fake import CCD, MOUNT

    from pointing.hardware.indi.devices import indi_station

    section = {"mount_device": MOUNT, "camera_device": CCD, "set_site": False,
               "reply_timeout_s": 2.0, "reconnect_s": reconnect_s, "connect_timeout_s": 5.0,
               "exposure_overhead_s": 1.0, **keys}
    cfg = IndiConfig.from_section(section, port=fake.port)
    return indi_station(load_station("shanghai"), config=cfg)


@needs_client
def test_connection_refused_is_a_clear_error():
    from pointing.hardware.indi.devices import indi_station

    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(IndiConnectionLost, match=rf"cannot connect to the INDI server "
                                                 rf"127\.0\.0\.1:{port}: connection refused"):
        indi_station(load_station("shanghai"), port=port)
    assert time.monotonic() - t0 < 10


@needs_client
def test_missing_device_is_named(fake, tmp_path):
    with pytest.raises(HardwareError, match=r"no device 'LX200 GPS'.*Fake Mount"):
        _fake_backend(fake, tmp_path, mount_device="LX200 GPS")
    # and no client thread is left behind, reconnecting for ever
    assert not [t for t in threading.enumerate() if t.name == f"indi 127.0.0.1:{fake.port}"]


@needs_client
def test_alert_busy_and_silence_become_clear_errors(fake, tmp_path):
    backend = _fake_backend(fake, tmp_path, mount_coordinates="horizontal")
    try:
        mount = backend.mount
        mount.slew(math.radians(100.0), math.radians(40.0))
        sent = [values for _dev, name, values in fake.received if name == "HORIZONTAL_COORD"]
        assert float(sent[-1]["AZ"]) == pytest.approx(100.0)
        assert float(sent[-1]["ALT"]) == pytest.approx(40.0)
        mount.track(1e-5, 0.0)  # Busy is what a driver says while tracking
        fake.behaviour["HORIZONTAL_COORD"] = "alert"
        with pytest.raises(IndiAlert, match="Slew failed: target below the horizon"):
            mount.slew(math.radians(10.0), math.radians(30.0))
        fake.behaviour["HORIZONTAL_COORD"] = "busy"
        with pytest.raises(HardwareTimeout, match=r"no answer from Fake Mount within 1 s "
                                                  r"\(state Busy\)"):
            mount.slew(math.radians(10.0), math.radians(30.0), timeout_s=1.0)
        fake.behaviour["CCD_EXPOSURE"] = "silent"
        with pytest.raises(HardwareTimeout, match=r"Fake CCD: 0.5 s exposure: no image "
                                                  r"within 1.5 s"):
            backend.tracking_camera.expose(0.5, timeout_s=0.5)
        fake.behaviour["CCD_EXPOSURE"] = "alert"
        with pytest.raises(IndiAlert, match="Fake CCD"):
            backend.tracking_camera.expose(0.5)
        fake.behaviour["CCD_EXPOSURE"] = "ok"
        frame = backend.tracking_camera.expose(0.5)
        assert frame.data.shape == (32, 48) and frame.exposure_s == 0.5
        assert frame.time.isot.startswith("2026-11-23T15:00:00.25")
        # the mount limits come from the station file, checked before anything moves
        from pointing.hardware.base import MountLimitError

        n = len(fake.received)
        with pytest.raises(MountLimitError, match="elevation"):
            mount.slew(0.0, math.radians(-10.0))
        assert len(fake.received) == n
    finally:
        backend.close()


@needs_client
def test_lost_connection_fails_the_request_then_stops_the_night(fake, tmp_path):
    backend = _fake_backend(fake, tmp_path, reconnect_s=8.0)  # the client retries every 5 s
    try:
        # dropped but back in time: the request in flight fails, the next one works
        fake.behaviour["CCD_EXPOSURE"] = "drop"
        with pytest.raises(HardwareError) as info:
            backend.tracking_camera.expose(0.1)
        assert not isinstance(info.value, ConnectionLost)
        fake.behaviour["CCD_EXPOSURE"] = "ok"
        time.sleep(0.5)
        deadline = time.monotonic() + 15
        while True:  # indipyclient reconnects every 5 s
            try:
                frame = backend.tracking_camera.expose(0.1)
                break
            except HardwareError:
                assert time.monotonic() < deadline
        assert frame.data.shape == (32, 48)
        # dropped for good: a ConnectionLost that says so
        fake.close()
        with pytest.raises(IndiConnectionLost, match="did not come back within 8 s"):
            for _ in range(40):
                backend.tracking_camera.expose(0.1)
                time.sleep(0.25)
    finally:
        backend.close()


def test_cli_rejects_indi_options_without_the_indi_backend(capsys):
    from pointing.cli import main

    code = main(["nightly", "--backend", "pointing.hardware.simulator.station:simulated_station",
                 "--indi-port", "7624"])
    assert code == 2
    assert "--indi-host/--indi-port: only with --backend indi" in capsys.readouterr().err


@needs_client
def test_cli_names_the_unreachable_server(capsys, tmp_path):
    from pointing.cli import main

    port = free_port()
    code = main(["nightly", "--backend", "indi", "--indi-host", "127.0.0.1", "--indi-port",
                 str(port), "--out", str(tmp_path / "out"), "--log", str(tmp_path / "l.db")])
    assert code == 2
    assert f"INDI server 127.0.0.1:{port}: connection refused" in capsys.readouterr().err


# --- whole nights on INDI's simulators ----------------------------------------------------------


class IndiServer:
    """indiserver with both simulators on a free port of 127.0.0.1, the gsc stand-in on PATH."""

    def __init__(self, gsc_dir: Path, log_dir: Path, port: int | None = None):
        self.gsc_dir = gsc_dir
        self.log_dir = log_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> IndiServer:
        env = {**os.environ, "PATH": f"{self.gsc_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        log = open(self.log_dir / f"indiserver-{self.port}.log", "ab")
        # -u: a socket of our own, so that another indiserver on this machine does not clash
        self.proc = subprocess.Popen(
            ["indiserver", "-u", f"/tmp/ogs-pointing-indi-{self.port}", "-p", str(self.port),
             "indi_simulator_telescope", "indi_simulator_ccd"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"indiserver did not start on port {self.port}: see "
                                       f"{self.log_dir}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Kill the server and its drivers (its own process group) by id."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture(scope="module")
def gsc_dir(tmp_path_factory):
    from pointing.hardware.indi.bench import install_simulator_catalog

    tmp = tmp_path_factory.mktemp("indi")
    install_simulator_catalog(load_station(bench_station(tmp)), tmp / "gscbin")
    return tmp / "gscbin"


@pytest.fixture
def server(gsc_dir, tmp_path):
    srv = IndiServer(gsc_dir, tmp_path).start()
    yield srv
    srv.stop()


def _observations(db: Path) -> list[tuple[int, str, str, str]]:
    with sqlite3.connect(db) as con:
        return list(con.execute("SELECT seq, kind, target, status FROM observations "
                                "ORDER BY seq"))


@needs_server
def test_night_on_indi_simulators_recovers_the_injected_terms(server, tmp_path, capsys):
    """`pointing nightly --backend indi` on the simulators finds the pointing error put in."""
    from pointing.cli import main

    out = tmp_path / "night"
    code = main(["nightly", "--station", str(bench_station(tmp_path)), "--backend", "indi",
                 "--indi-host", "127.0.0.1", "--indi-port", str(server.port),
                 "--out", str(out), "--log", str(tmp_path / "log.sqlite"), "--json"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete", summary.get("failure")
    assert code == 0
    assert summary["n_model_stars"] >= 8
    assert summary["backend"].startswith(f"INDI 127.0.0.1:{server.port}")
    fit = summary["fit"]["terms"]
    # whole-pixel stars: a uniform ±½ px error per axis, 0.18″ rms on this 0.62″ pixel
    quantum = 0.5 * 3.0e-6 / ARCSEC
    # the simulators run in real time: on a loaded 2-core CI machine the CCD's DATE-OBS
    # lags the field the bench sets by up to ~0.1 s, common to a night's frames, which
    # the fit takes up as up to ~1.5″ of IA (sidereal 15″/s; once seen: IA +1.71″ at σ 0.38″)
    latency = 15.04 * 0.1
    for name, truth in INJECTED.items():
        value, sigma = fit[name]["value_arcsec"], fit[name]["sigma_arcsec"]
        assert abs(value - truth) <= 3 * sigma + quantum + latency, (name, value, sigma, truth)
    assert summary["fit"]["sky_rms_arcsec"] < 1.0
    ver = summary["verification"]
    assert ver["n"] >= 2 and ver["rms_urad"] < 20.0  # 5.6 µrad measured; a slew lag reads ~100
    assert summary["truth"]["terms"] == INJECTED
    assert summary["efficiency"].get("error")  # no photon counter on this bench
    print(json.dumps({"injected": INJECTED, "recovered": {
        k: (round(fit[k]["value_arcsec"], 2), round(fit[k]["sigma_arcsec"], 2))
        for k in INJECTED}, "verification_rms_urad": ver["rms_urad"]}),
        file=sys.__stderr__)


@needs_server
def test_killed_server_stops_the_night_and_resume_continues(server, tmp_path):
    """Kill indiserver mid-night: observations so far stay logged, the report says why;
    once it is back, --resume continues from there."""
    from pointing.hardware.indi.devices import indi_station
    from pointing.night.config import NightConfig
    from pointing.night.run import NightInterrupted, run_night

    station = load_station(bench_station(tmp_path))
    cfg = NightConfig.from_section(station.section("night"))
    db = tmp_path / "log.sqlite"
    out = tmp_path / "night"
    result: dict = {}

    def night() -> None:
        backend = indi_station(station, port=server.port)
        result["summary"] = run_night(station, backend, out, config=cfg, log_path=db,
                                      progress=False)

    thread = threading.Thread(target=night, daemon=True)
    thread.start()
    deadline = time.monotonic() + 240
    while len([o for o in (_observations(db) if db.exists() else []) if o[3] == "ok"]) < 2:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.5)
    server.stop()
    thread.join(timeout=120)
    assert not thread.is_alive()
    summary = result["summary"]
    before = _observations(db)
    assert summary["status"] == "failed"
    assert "the night stopped after observation" in summary["failure"]
    assert f"lost the connection to the INDI server 127.0.0.1:{server.port}" in \
        summary["failure"]
    assert "--resume" in summary["failure"]
    assert summary["n_observations"] == len(before) >= 2
    assert all(status == "ok" for *_, status in before)  # nothing skipped for the loss
    html = (out / "report.html").read_text()
    assert "failed" in html and "lost the connection" in html
    # back up: the night resumes where it stopped (two more observations, then stop)
    server.start()
    with pytest.raises(NightInterrupted):
        run_night(station, indi_station(station, port=server.port), out, config=cfg,
                  log_path=db, resume=True, interrupt_after=len(before) + 2, progress=False)
    after = _observations(db)
    assert after[:len(before)] == before
    assert [o[0] for o in after] == list(range(1, len(before) + 3))
    assert {o[2] for o in after[len(before):]}.isdisjoint({o[2] for o in before})
