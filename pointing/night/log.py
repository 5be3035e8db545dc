"""The station log: every night, every observation, every model, in SQLite.

One database per station (path from the station file's ``[night]`` section,
``log_path``; default ``~/.local/share/ogs-pointing/<station>.sqlite``).
Each observation is committed the moment it is taken, so a night killed at
any point loses nothing and ``--resume`` continues from the last one.

Tables::

    nights        id, station, backend, started_utc, status, stage, config, plan,
                  checkpoint, summary, finished_utc, reason
    observations  id, night_id, seq, kind, target, status, reason, time_utc, record,
                  checkpoint                       (one row per pointing, in order)
    models        id, night_id, created_utc, kind, model       (JSON model files)
    results       id, night_id, kind, created_utc, result      (verification, photometry)
    events        id, night_id, time_utc, level, message       (the night's log lines)

JSON columns hold the records; ``checkpoint`` is the backend's state right
after the row was written (a simulator restores it on resume).
``nights.n_observations`` counts the observations committed with them (same
transaction), so rows deleted later are found.

The log checks itself on open (:meth:`StationLog.check`: SQLite's own
``quick_check``, every table present, the write-ahead log's frames intact,
each night's observations numbered 1…n with none missing) and a night's
records parse on resume (:meth:`StationLog.check_night`); damage is a
:class:`~pointing.errors.FileFormatError` that says what is damaged, never a
silent re-initialisation.  :class:`NightLock` keeps one night per log and per
output folder.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import sqlite3
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pointing.errors import FileFormatError, PointingError

__all__ = ["NightLock", "NightRecord", "StationLog", "default_log_path", "to_json"]

SCHEMA_VERSION = 2
_TABLES = ("meta", "nights", "observations", "models", "results", "events")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nights (
    id INTEGER PRIMARY KEY, station TEXT NOT NULL, backend TEXT NOT NULL,
    started_utc TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL,
    config TEXT NOT NULL, plan TEXT, checkpoint TEXT, summary TEXT,
    finished_utc TEXT, reason TEXT, n_observations INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS observations (
    id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id),
    seq INTEGER NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT, time_utc TEXT, record TEXT NOT NULL,
    checkpoint TEXT, UNIQUE (night_id, seq));
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id),
    created_utc TEXT NOT NULL, kind TEXT NOT NULL, model TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id),
    kind TEXT NOT NULL, created_utc TEXT NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id),
    time_utc TEXT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);
"""


def default_log_path(station_name: str, *, simulated: bool = False) -> Path:
    """``~/.local/share/ogs-pointing/<station>.sqlite`` (created on first use).

    Simulated nights go to ``<station>-simulated.sqlite`` beside it: a demo
    never shows up in the real station's history.
    """
    slug = "".join(c if c.isalnum() else "_" for c in station_name.lower()).strip("_")
    name = f"{slug or 'station'}{'-simulated' if simulated else ''}.sqlite"
    return Path.home() / ".local" / "share" / "ogs-pointing" / name


class NightLock:
    """An exclusive lock on a file (``fcntl.flock``): one night at a time.

    ``NightLock(path, what)`` takes it or raises :class:`PointingError` saying
    which night holds it; the lock goes with the process (a killed night
    leaves none behind).  Use as a context manager or call :meth:`release`.
    """

    def __init__(self, path: str | Path, what: str):
        self.path = Path(path)
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise PointingError(f"{what}: cannot create the lock {self.path}: "
                                f"{exc.strerror}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self._fd, 200, 0).decode("utf-8", "replace").strip()
            os.close(self._fd)
            raise PointingError(f"{what} is in use by another night ({holder or 'unknown'}): "
                                "wait for it to finish, or use another --out / --log"
                                ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"pid {os.getpid()} since {_now()}".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing releases the flock
            self._fd = -1

    def __enter__(self) -> NightLock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def check_wal(path: Path) -> str | None:
    """What is wrong with a write-ahead log file, or None when its frames are sound.

    Walks the frames of the current WAL generation (header salts), checking the
    running checksum as SQLite does; frames after a bad one that still carry the
    current salts are committed data SQLite would silently drop.
    """
    data = path.read_bytes()
    if not data:
        return None
    if len(data) < 32:
        return f"{path.name}: {len(data)} bytes, shorter than a WAL header (32)"
    magic, version, page_size, _ckpt, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:32])
    if magic not in (0x377F0682, 0x377F0683) or version != 3007000:
        return f"{path.name}: not a write-ahead log header (garbage written over it?)"
    order = ">" if magic & 1 else "<"
    if (c1, c2) != _wal_checksum(data[:24], 0, 0, order):
        return f"{path.name}: the WAL header's checksum is wrong (garbage written over it?)"
    frame = 24 + page_size
    s1, s2 = c1, c2
    good = 0
    n_frames = (len(data) - 32) // frame
    for i in range(n_frames):
        off = 32 + i * frame
        _pg, _commit, f1, f2, k1, k2 = struct.unpack(">6I", data[off:off + 24])
        if (f1, f2) != (salt1, salt2):
            break  # an older generation's frame: SQLite ignores it, rightly
        s1, s2 = _wal_checksum(data[off:off + 8], s1, s2, order)
        s1, s2 = _wal_checksum(data[off + 24:off + frame], s1, s2, order)
        if (s1, s2) != (k1, k2):
            later = sum(1 for j in range(i + 1, n_frames)
                        if data[32 + j * frame + 8:32 + j * frame + 16]
                        == data[16:24])
            return (f"{path.name}: frame {i + 1} of the write-ahead log is damaged "
                    f"(checksum), {later} committed frame(s) after it would be lost")
        good += 1
    return None


def _wal_checksum(b: bytes, s1: int, s2: int, order: str) -> tuple[int, int]:
    words = np.frombuffer(b, dtype=np.dtype(order + "u4")).astype(np.uint64)
    for k in range(0, len(words), 2):  # sequential by definition (SQLite's WAL checksum)
        s1 = (s1 + int(words[k]) + s2) & 0xFFFFFFFF
        s2 = (s2 + int(words[k + 1]) + s1) & 0xFFFFFFFF
    return s1, s2


def to_json(value: Any) -> str:
    """Strict JSON of a record: numpy values as Python ones, NaN and inf as null."""
    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")

    def clean(o: Any) -> Any:  # NaN and inf become null: the files stay strict JSON
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(json.loads(json.dumps(value, default=default))))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class NightRecord:
    """A night as stored: its row plus its observations in order."""

    id: int
    station: str
    backend: str
    started_utc: str
    status: str
    stage: str
    config: dict[str, Any]
    plan: dict[str, Any] | None
    checkpoint: dict[str, Any] | None
    summary: dict[str, Any] | None
    reason: str | None
    observations: list[dict[str, Any]]


class StationLog:
    """An SQLite station log (one connection, used from one thread).

    Parameters
    ----------
    path : str or Path
        The database file; created (with its folder) if absent and *create*.
    create : bool
        False: a missing file is an error (reading a history never creates a log).

    Raises
    ------
    FileFormatError
        Not a station log, or a damaged one (:meth:`check` says what).
    """

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        existed = self.path.exists()
        if not existed and not create:
            raise FileFormatError(self.path, None, "no station log here (check the path)")
        if self.path.is_dir():
            raise FileFormatError(self.path, None, "is a folder, not a station log")
        if existed and self.path.stat().st_size == 0:
            raise FileFormatError(self.path, None, "empty file: a truncated station log? "
                                  "(move it away to start a new log)")
        wal = self.path.with_name(self.path.name + "-wal")
        if existed and wal.is_file() and (problem := check_wal(wal)):
            raise FileFormatError(self.path, None, f"damaged: {problem}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            if existed:
                self.check()
            self._db.executescript(_SCHEMA)  # idempotent; executescript commits itself
            with self._tx():
                row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO meta VALUES ('schema', ?)",
                                     (str(SCHEMA_VERSION),))
                elif int(row[0]) == 1:  # version 1 had no observation count: add it
                    self._db.execute("ALTER TABLE nights ADD COLUMN n_observations INTEGER "
                                     "NOT NULL DEFAULT 0")
                    self._db.execute("UPDATE nights SET n_observations = (SELECT COUNT(*) "
                                     "FROM observations o WHERE o.night_id = nights.id)")
                    self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema'",
                                     (str(SCHEMA_VERSION),))
                elif int(row[0]) != SCHEMA_VERSION:
                    raise FileFormatError(self.path, None, f"station log schema {row[0]}, "
                                          f"this toolkit reads {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise FileFormatError(self.path, None, f"not a station log: {exc}") from None

    def check(self) -> None:
        """SQLite's own check, every table present, observations numbered 1…n per night.

        Raises :class:`FileFormatError` saying exactly what is damaged.
        """
        bad = [r[0] for r in self._db.execute("PRAGMA quick_check")]
        if bad != ["ok"]:
            raise FileFormatError(self.path, None, "damaged (SQLite integrity check): "
                                  + "; ".join(bad[:3]))
        have = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master "
                                               "WHERE type = 'table'")}
        if not have:
            raise FileFormatError(self.path, None, "not a station log: no tables")
        if missing := [t for t in _TABLES if t not in have]:
            raise FileFormatError(self.path, None, f"damaged: table(s) {', '.join(missing)} "
                                  "missing; nothing was re-created")
        cols = {r[1] for r in self._db.execute("PRAGMA table_info(nights)")}
        count = "n.n_observations" if "n_observations" in cols else "NULL"
        rows = self._db.execute(
            f"SELECT n.id, {count}, COUNT(o.id), MIN(o.seq), MAX(o.seq) FROM nights n "
            "LEFT JOIN observations o ON o.night_id = n.id GROUP BY n.id")
        for nid, recorded, held, lo, hi in rows:
            held_seq = {r[0] for r in self._db.execute(
                "SELECT seq FROM observations WHERE night_id = ?", (nid,))} if held else set()
            top = max(hi or 0, recorded or 0)
            missing_seq = sorted(set(range(1, top + 1)) - held_seq)
            if missing_seq or (lo is not None and lo < 1):
                shown = ", ".join(map(str, missing_seq[:10])) + (
                    " …" if len(missing_seq) > 10 else "")
                raise FileFormatError(self.path, None, f"damaged: night {nid} recorded "
                                      f"{top} observations, observation(s) {shown} missing")

    def check_night(self, night_id: int) -> None:
        """Every record and checkpoint of a night parses (before a resume uses them)."""
        for seq, rec, ckpt in self._db.execute(
                "SELECT seq, record, checkpoint FROM observations WHERE night_id = ? "
                "ORDER BY seq", (night_id,)):
            for what, text in (("record", rec), ("checkpoint", ckpt)):
                try:
                    value = None if text is None else json.loads(text)
                except (TypeError, ValueError) as exc:
                    raise FileFormatError(self.path, None, f"damaged: night {night_id} "
                                          f"observation {seq}: its {what} does not parse "
                                          f"({exc})") from None
                if what == "record" and not isinstance(value, dict):
                    raise FileFormatError(self.path, None, f"damaged: night {night_id} "
                                          f"observation {seq}: its record is not an object")

    def close(self) -> None:
        try:  # a cleanly closed log leaves no write-ahead file behind
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.DatabaseError:
            pass
        self._db.close()

    def __enter__(self) -> StationLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- nights -------------------------------------------------------------
    def start_night(self, station: str, backend: str, config: Mapping[str, Any],
                    started_utc: str) -> int:
        with self._tx():
            cur = self._db.execute(
                "INSERT INTO nights (station, backend, started_utc, status, stage, config) "
                "VALUES (?, ?, ?, 'running', 'start', ?)",
                (station, backend, started_utc, to_json(dict(config))))
        return int(cur.lastrowid)

    def set_stage(self, night_id: int, stage: str, *, plan: Mapping[str, Any] | None = None,
                  checkpoint: Mapping[str, Any] | None = None) -> None:
        sets, args = ["stage = ?"], [stage]
        if plan is not None:
            sets.append("plan = ?")
            args.append(to_json(dict(plan)))
        if checkpoint is not None:
            sets.append("checkpoint = ?")
            args.append(to_json(dict(checkpoint)))
        with self._tx():
            self._db.execute(f"UPDATE nights SET {', '.join(sets)} WHERE id = ?",
                             (*args, night_id))

    def finish_night(self, night_id: int, status: str, *, summary: Mapping[str, Any] | None,
                     reason: str | None = None) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE nights SET status = ?, summary = ?, finished_utc = ?, reason = ? "
                "WHERE id = ?", (status, None if summary is None else to_json(dict(summary)),
                                 _now(), reason, night_id))

    def unfinished_night(self, station: str) -> int | None:
        """The latest night of *station* that did not complete, or None."""
        row = self._db.execute(
            "SELECT id, status FROM nights WHERE station = ? ORDER BY id DESC LIMIT 1",
            (station,)).fetchone()
        if row is None or row[1] == "complete":
            return None
        return int(row[0])

    def reopen(self, night_id: int) -> None:
        with self._tx():
            self._db.execute("UPDATE nights SET status = 'running', reason = NULL "
                             "WHERE id = ?", (night_id,))

    def night(self, night_id: int) -> NightRecord:
        row = self._db.execute(
            "SELECT id, station, backend, started_utc, status, stage, config, plan, "
            "checkpoint, summary, reason FROM nights WHERE id = ?", (night_id,)).fetchone()
        if row is None:
            raise KeyError(night_id)
        obs = [
            {"seq": r[0], "kind": r[1], "target": r[2], "status": r[3], "reason": r[4],
             "time_utc": r[5], "record": json.loads(r[6]),
             "checkpoint": None if r[7] is None else json.loads(r[7])}
            for r in self._db.execute(
                "SELECT seq, kind, target, status, reason, time_utc, record, checkpoint "
                "FROM observations WHERE night_id = ? ORDER BY seq", (night_id,))
        ]
        load = lambda v: None if v is None else json.loads(v)  # noqa: E731
        return NightRecord(id=row[0], station=row[1], backend=row[2], started_utc=row[3],
                           status=row[4], stage=row[5], config=json.loads(row[6]),
                           plan=load(row[7]), checkpoint=load(row[8]), summary=load(row[9]),
                           reason=row[10], observations=obs)

    def nights(self, station: str | None = None) -> list[dict[str, Any]]:
        """Every night (newest last): id, station, backend, start, status, simulated, summary."""
        q = "SELECT id, station, started_utc, status, summary, backend, config FROM nights"
        args: tuple[Any, ...] = ()
        if station is not None:
            q += " WHERE station = ?"
            args = (station,)
        return [{"id": r[0], "station": r[1], "started_utc": r[2], "status": r[3],
                 "summary": None if r[4] is None else json.loads(r[4]), "backend": r[5],
                 "simulated": bool(json.loads(r[6]).get("simulated",
                                                        r[5].startswith("simulator")))}
                for r in self._db.execute(q + " ORDER BY id", args)]

    # -- observations and results --------------------------------------------
    def add_observation(self, night_id: int, seq: int, kind: str, target: str, status: str,
                        record: Mapping[str, Any], *, reason: str | None = None,
                        time_utc: str | None = None,
                        checkpoint: Mapping[str, Any] | None = None) -> None:
        """Commit one observation (and the backend state right after it)."""
        with self._tx():
            self._db.execute("UPDATE nights SET n_observations = MAX(n_observations, ?) "
                             "WHERE id = ?", (seq, night_id))
            self._db.execute(
                "INSERT INTO observations (night_id, seq, kind, target, status, reason, "
                "time_utc, record, checkpoint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (night_id, seq, kind, target, status, reason, time_utc, to_json(dict(record)),
                 None if checkpoint is None else to_json(dict(checkpoint))))

    def add_model(self, night_id: int, kind: str, model: Mapping[str, Any]) -> None:
        with self._tx():
            self._db.execute("INSERT INTO models (night_id, created_utc, kind, model) "
                             "VALUES (?, ?, ?, ?)", (night_id, _now(), kind, to_json(model)))

    def latest_model(self, night_id: int) -> tuple[str, dict[str, Any]] | None:
        row = self._db.execute("SELECT kind, model FROM models WHERE night_id = ? "
                               "ORDER BY id DESC LIMIT 1", (night_id,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def models(self, station: str) -> list[dict[str, Any]]:
        """Every fitted model of a station with its night (oldest first)."""
        rows = self._db.execute(
            "SELECT n.id, n.started_utc, m.created_utc, m.model FROM models m "
            "JOIN nights n ON n.id = m.night_id WHERE n.station = ? AND m.kind = 'fit' "
            "ORDER BY m.id", (station,))
        return [{"night_id": r[0], "started_utc": r[1], "created_utc": r[2],
                 "model": json.loads(r[3])} for r in rows]

    def add_result(self, night_id: int, kind: str, result: Mapping[str, Any]) -> None:
        with self._tx():
            self._db.execute("INSERT INTO results (night_id, kind, created_utc, result) "
                             "VALUES (?, ?, ?, ?)", (night_id, kind, _now(), to_json(result)))

    def results(self, station: str, kind: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT n.id, n.started_utc, r.result FROM results r JOIN nights n "
            "ON n.id = r.night_id WHERE n.station = ? AND r.kind = ? ORDER BY r.id",
            (station, kind))
        return [{"night_id": r[0], "started_utc": r[1], "result": json.loads(r[2])}
                for r in rows]

    def event(self, night_id: int, level: str, message: str, time_utc: str | None = None
              ) -> None:
        with self._tx():
            self._db.execute("INSERT INTO events (night_id, time_utc, level, message) "
                             "VALUES (?, ?, ?, ?)", (night_id, time_utc or _now(), level,
                                                     message))

    def events(self, night_id: int) -> list[dict[str, str]]:
        return [{"time_utc": r[0], "level": r[1], "message": r[2]}
                for r in self._db.execute("SELECT time_utc, level, message FROM events "
                                          "WHERE night_id = ? ORDER BY id", (night_id,))]
