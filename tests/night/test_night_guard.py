"""Guards of the night: one night per folder and log, a log that checks itself, and every
bad station section, option or output path refused before the first slew."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointing.cli import main
from pointing.config.station import load_station
from pointing.errors import ConfigError, FileFormatError, PointingError
from pointing.hardware.simulator.station import simulated_station
from pointing.night.config import BaseGeometry, NightConfig
from pointing.night.log import NightLock, StationLog
from pointing.night.run import run_night
from pointing.sky.select import select_stars

SMALL = NightConfig(n_model=10, n_verify=5, background_grid=False)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def station():
    return load_station("shanghai")


def _log_with(path: Path, n: int = 4) -> int:
    with StationLog(path) as db:
        nid = db.start_night("Shanghai", "simulator", {"a": 1}, "2026-12-01T13:00:00")
        for k in range(1, n + 1):
            db.add_observation(nid, k, "model", f"HIP {k}", "ok", {"x": k})
    return nid


# --- the log checks itself ----------------------------------------------------------------

def test_deleted_rows_are_found_and_named(tmp_path):
    for where, missing in (("seq = 2", "2"), ("seq >= 3", "3, 4")):
        path = tmp_path / f"{missing[0]}.sqlite"
        _log_with(path)
        with sqlite3.connect(path) as raw:
            raw.execute(f"DELETE FROM observations WHERE {where}")
        with pytest.raises(FileFormatError, match=f"observation\\(s\\) {missing} missing"):
            StationLog(path)


def test_a_dropped_table_is_not_recreated(tmp_path):
    path = tmp_path / "log.sqlite"
    _log_with(path)
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE observations")
    with pytest.raises(FileFormatError, match="observations missing"):
        StationLog(path)
    with sqlite3.connect(path) as raw:  # still dropped: nothing was re-initialised
        names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    assert "observations" not in names


def test_truncated_and_empty_logs_are_errors_not_new_logs(tmp_path):
    path = tmp_path / "log.sqlite"
    _log_with(path, 40)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError):
        StationLog(path)
    assert path.stat().st_size == len(data) // 2
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(FileFormatError, match="truncated"):
        StationLog(empty)
    assert empty.stat().st_size == 0


def test_garbage_in_the_wal_is_found(tmp_path):
    path = tmp_path / "live.sqlite"
    db = StationLog(path)  # kept open: the commits are still in the write-ahead log
    nid = db.start_night("Shanghai", "simulator", {}, "2026-12-01T13:00:00")
    for k in range(1, 5):
        db.add_observation(nid, k, "model", f"HIP {k}", "ok", {"x": k})
    copy = tmp_path / "copy.sqlite"
    shutil.copy(path, copy)
    wal = Path(str(path) + "-wal").read_bytes()
    db.close()
    assert len(wal) > 32 + 3 * 4120
    bad = bytearray(wal)
    bad[32 + 24 + 100: 32 + 24 + 140] = os.urandom(40)  # inside the first frame's page
    Path(str(copy) + "-wal").write_bytes(bytes(bad))
    with pytest.raises(FileFormatError, match="write-ahead log is damaged"):
        StationLog(copy)
    Path(str(copy) + "-wal").write_bytes(os.urandom(64) + wal[64:])  # over its header
    with pytest.raises(FileFormatError, match=r"WAL|write-ahead"):
        StationLog(copy)
    Path(str(copy) + "-wal").write_bytes(wal)  # intact: opens, everything there
    with StationLog(copy) as ok:
        assert len(ok.night(nid).observations) == 4


def test_a_record_that_does_not_parse_stops_the_resume(station, tmp_path):
    log = tmp_path / "log.sqlite"
    with StationLog(log) as db:
        nid = db.start_night(station.name, "simulator", {}, "2026-12-01T13:00:00")
        db.add_observation(nid, 1, "zero", "HIP 1", "ok", {"x": 1})
    with sqlite3.connect(log) as raw:
        raw.execute("UPDATE observations SET record = '{\"x\": ' WHERE seq = 1")
    with pytest.raises(FileFormatError, match="observation 1: its record does not parse"):
        run_night(station, simulated_station(station), tmp_path / "out", config=SMALL,
                  log_path=log, resume=True, progress=False)


def test_a_version_1_log_is_upgraded(tmp_path):
    path = tmp_path / "v1.sqlite"
    _log_with(path, 3)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
        raw.execute("ALTER TABLE nights DROP COLUMN n_observations")
    with StationLog(path) as db:
        assert len(db.night(1).observations) == 3
    with StationLog(path):
        pass


# --- one night at a time ----------------------------------------------------------------

def test_a_second_night_on_the_same_folder_or_log_is_refused(station, tmp_path):
    out, log = tmp_path / "out", tmp_path / "log.sqlite"
    out.mkdir()
    with NightLock(out / ".night.lock", "x"):
        with pytest.raises(PointingError, match=r"report folder .* in use by another night"):
            run_night(station, simulated_station(station), out, config=SMALL, log_path=log,
                      progress=False)
    assert not log.exists()  # refused before anything was written
    with NightLock(tmp_path / "log.sqlite.lock", "x"):
        with pytest.raises(PointingError, match=r"station log .* in use by another night"):
            run_night(station, simulated_station(station), tmp_path / "other", config=SMALL,
                      log_path=log, resume=True, progress=False)


def test_concurrent_nights_and_a_resume_while_running_are_refused(tmp_path, capsys):
    """A real second process: the running night holds the locks; kill -9 releases them."""
    out, log = tmp_path / "out", tmp_path / "log.sqlite"
    args = ["nightly", "--simulate", "--out", str(out), "--log", str(log)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([sys.executable, "-m", "pointing", *args], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # until the first observation is committed
            time.sleep(0.2)
            if log.exists() and _count(log) >= 1:
                break
        assert main(args) == 2
        assert "in use by another night" in capsys.readouterr().err
        assert main([*args, "--resume"]) == 2  # never sqlite3.IntegrityError
        assert "in use by another night" in capsys.readouterr().err
        assert main([*args[:-2], "--log", str(tmp_path / "b.sqlite")]) == 2  # same folder
        assert "report folder" in capsys.readouterr().err
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    n = _count(log)
    from pointing.night.run import NightInterrupted

    with pytest.raises(NightInterrupted):  # the lock died with the process: resume adopts
        run_night(load_station("shanghai"), simulated_station(load_station("shanghai")), out,
                  config=None, log_path=log, resume=True, interrupt_after=n + 1,
                  progress=False)
    assert _count(log) == n + 1


def _count(log: Path) -> int:
    with sqlite3.connect(f"file:{log}?mode=ro", uri=True) as raw:
        try:
            return raw.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


# --- checked before the first slew ----------------------------------------------------------

def _station_with(tmp_path: Path, old: str, new: str) -> Path:
    src = Path(load_station("shanghai").path).read_text()
    assert old in src
    path = tmp_path / "station.toml"
    path.write_text(src.replace(old, new))
    return path


def test_bad_base_section_fails_before_the_mount_moves(tmp_path, capsys):
    bad = _station_with(tmp_path, 'name = "A", azimuth_deg = 0.0', 'name = "A", azimuth_deg = "N"')
    log = tmp_path / "log.sqlite"
    assert main(["nightly", "--station", str(bad), "--simulate", "--out", str(tmp_path / "o"),
                 "--log", str(log)]) == 2
    assert "base.feet[0].azimuth_deg" in capsys.readouterr().err
    assert not log.exists()
    with pytest.raises(ConfigError, match=r"base\.feet\[1\]\.radius_m"):
        BaseGeometry.from_section({"feet": [{"name": "A", "azimuth_deg": 0, "radius_m": 1},
                                            {"name": "B", "azimuth_deg": 1, "radius_m": -1},
                                            {"name": "C", "azimuth_deg": 2, "radius_m": 1}]})


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_fails_at_the_start(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["nightly", "--simulate", "--out", str(ro / "x"), "--log",
                     str(tmp_path / "l.sqlite")]) == 2
        assert "--out" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


def test_unwritable_or_clashing_outputs_fail_at_the_start(tmp_path, capsys, monkeypatch):
    log = tmp_path / "l.sqlite"
    clash = tmp_path / "file"
    clash.write_text("x")
    for out in (clash, clash / "below"):
        assert main(["nightly", "--simulate", "--out", str(out), "--log", str(log)]) == 2
        assert "--out" in capsys.readouterr().err
    # a folder that cannot be written to (as root too: the write test itself fails)
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    assert main(["nightly", "--simulate", "--out", str(tmp_path / "ok"), "--log",
                 str(log)]) == 2
    assert "cannot write the report there (Permission denied)" in capsys.readouterr().err
    assert not log.exists()
    monkeypatch.undo()
    (tmp_path / "dir.sqlite").mkdir()
    assert main(["nightly", "--simulate", "--out", str(tmp_path / "o2"), "--log",
                 str(tmp_path / "dir.sqlite")]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.parametrize(("options", "named"), [
    (["--start", "yesterday"], "--start"), (["--start", "2026-13-45T99:00"], "--start"),
    (["--start", "3026-01-01T00:00"], "--start"), (["--seed", "-1"], "--seed"),
    (["--seed", "1e400"], "--seed"), (["--indi-port", "0"], "--indi-port"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, options, named):
    try:  # argparse's own checks exit 2; the later ones return 2
        status = main(["nightly", "--simulate", "--out", str(tmp_path / "o"), "--log",
                       str(tmp_path / "l.sqlite"), *options])
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert named in err.strip().splitlines()[-1] and "Traceback" not in err
    assert not (tmp_path / "l.sqlite").exists()


@pytest.mark.parametrize(("old", "new", "named"), [
    ("[thresholds]", "[thresholds]\nmax_verification_rms_urad = \"small\"",
     "thresholds.max_verification_rms_urad"),
    ("[night]", "[night]\nsun_max_el_deg = 200", "night.sun_max_el_deg"),
    ("[base]", "[background]\nbogus_key = 1\n\n[base]", "background.bogus_key"),
])
def test_every_section_is_checked_before_the_first_slew(tmp_path, capsys, old, new, named):
    bad = _station_with(tmp_path, old, new)
    log = tmp_path / "log.sqlite"
    assert main(["nightly", "--station", str(bad), "--simulate", "--out", str(tmp_path / "o"),
                 "--log", str(log)]) == 2
    assert named in capsys.readouterr().err
    assert not log.exists()


def test_a_camera_that_sees_stars_by_day_is_not_refused(station, tmp_path):
    import dataclasses

    from pointing.night.run import preflight

    noon = simulated_station(station, start="2026-12-01T04:00:00")
    with pytest.raises(PointingError, match="Sun"):
        preflight(station, noon, SMALL)
    preflight(station, dataclasses.replace(noon, sees_stars_in_daylight=True), SMALL)
    preflight(station, noon, dataclasses.replace(SMALL, daylight=True))


def test_daylight_is_refused_unless_allowed(station, tmp_path, capsys):
    noon = "2026-12-01T04:00:00"  # local noon in Shanghai, the Sun ~36° up
    assert main(["nightly", "--simulate", "--start", noon, "--out", str(tmp_path / "o"),
                 "--log", str(tmp_path / "l.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "the Sun is 3" in err and "--daylight" in err
    assert not (tmp_path / "l.sqlite").exists()
    with pytest.raises(PointingError, match=r"Sun is .* up"):
        select_stars(station, noon)
    sel = select_stars(station, noon, sun_max_el_deg=None)  # told otherwise
    assert len(sel.stars) == 18


def test_backend_factory_with_the_wrong_signature(tmp_path, capsys, monkeypatch):
    mod = tmp_path / "mybackend.py"
    mod.write_text("def two(a, b):\n    return None\n\ndef none():\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for spec in ("mybackend:two", "mybackend:none"):
        assert main(["nightly", "--backend", spec, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert "FACTORY(station)" in err and "Traceback" not in err


def test_history_never_creates_a_log(tmp_path, capsys):
    typo = tmp_path / "typo_dir" / "x.sqlite"
    assert main(["history", "--log", str(typo)]) == 2
    assert "no station log" in capsys.readouterr().err
    assert not typo.parent.exists()


def test_the_night_config_takes_the_sun_limit():
    assert NightConfig.from_section({"sun_max_el_deg": -12}).sun_max_el_deg == -12.0
    with pytest.raises(ConfigError, match=r"night\.sun_max_el_deg"):
        NightConfig.from_section({"sun_max_el_deg": 120})
    assert json.dumps(NightConfig().to_dict())


# --- any value on these paths: a valid result or a one-line ConfigError ---------------------

_values = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.lists(st.integers(-5, 5), max_size=3),
                    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_any_start_text_is_a_time_or_a_clear_error(text):
    from pointing.cli.nightly import _start_time

    try:
        t = _start_time(text)
    except ConfigError as exc:
        assert str(exc).startswith("--start") and "\n" not in str(exc)
    else:
        assert t is not None and 1960 <= t.datetime.year < 2100


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*sorted(NightConfig().to_dict()), "bogus"]), _values)
def test_any_night_value_is_valid_or_named(key, value):
    try:
        cfg = NightConfig.from_section({key: value})
    except ConfigError as exc:
        assert str(exc).startswith("night.") and "\n" not in str(exc)
    else:
        for v in cfg.to_dict().values():
            assert not isinstance(v, float) or math.isfinite(v), (key, value)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["name", "azimuth_deg", "radius_m"]), _values, _values)
def test_any_base_value_is_valid_or_named(key, value, pitch):
    feet = [{"name": n, "azimuth_deg": a, "radius_m": 0.4} for n, a in (("A", 0), ("B", 120),
                                                                         ("C", 240))]
    feet[1] = {**feet[1], key: value}
    try:
        BaseGeometry.from_section({"feet": feet, "screw_pitch_mm": pitch})
    except ConfigError as exc:
        assert str(exc).startswith("base.") and "\n" not in str(exc)
