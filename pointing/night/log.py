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
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pointing.errors import FileFormatError

__all__ = ["NightRecord", "StationLog", "default_log_path"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nights (
    id INTEGER PRIMARY KEY, station TEXT NOT NULL, backend TEXT NOT NULL,
    started_utc TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL,
    config TEXT NOT NULL, plan TEXT, checkpoint TEXT, summary TEXT,
    finished_utc TEXT, reason TEXT);
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


def default_log_path(station_name: str) -> Path:
    """``~/.local/share/ogs-pointing/<station>.sqlite`` (created on first use)."""
    slug = "".join(c if c.isalnum() else "_" for c in station_name.lower()).strip("_")
    return Path.home() / ".local" / "share" / "ogs-pointing" / f"{slug or 'station'}.sqlite"


def _json(value: Any) -> str:
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
        The database file; created (with its folder) if absent.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)  # idempotent; executescript commits itself
            with self._tx():
                row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO meta VALUES ('schema', ?)",
                                     (str(SCHEMA_VERSION),))
                elif int(row[0]) != SCHEMA_VERSION:
                    raise FileFormatError(self.path, None, f"station log schema {row[0]}, "
                                          f"this toolkit reads {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise FileFormatError(self.path, None, f"not a station log: {exc}") from None

    def close(self) -> None:
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
                (station, backend, started_utc, _json(dict(config))))
        return int(cur.lastrowid)

    def set_stage(self, night_id: int, stage: str, *, plan: Mapping[str, Any] | None = None,
                  checkpoint: Mapping[str, Any] | None = None) -> None:
        sets, args = ["stage = ?"], [stage]
        if plan is not None:
            sets.append("plan = ?")
            args.append(_json(dict(plan)))
        if checkpoint is not None:
            sets.append("checkpoint = ?")
            args.append(_json(dict(checkpoint)))
        with self._tx():
            self._db.execute(f"UPDATE nights SET {', '.join(sets)} WHERE id = ?",
                             (*args, night_id))

    def finish_night(self, night_id: int, status: str, *, summary: Mapping[str, Any] | None,
                     reason: str | None = None) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE nights SET status = ?, summary = ?, finished_utc = ?, reason = ? "
                "WHERE id = ?", (status, None if summary is None else _json(dict(summary)),
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
        """Every night (newest last): id, station, start, status and summary."""
        q = "SELECT id, station, started_utc, status, summary FROM nights"
        args: tuple[Any, ...] = ()
        if station is not None:
            q += " WHERE station = ?"
            args = (station,)
        return [{"id": r[0], "station": r[1], "started_utc": r[2], "status": r[3],
                 "summary": None if r[4] is None else json.loads(r[4])}
                for r in self._db.execute(q + " ORDER BY id", args)]

    # -- observations and results --------------------------------------------
    def add_observation(self, night_id: int, seq: int, kind: str, target: str, status: str,
                        record: Mapping[str, Any], *, reason: str | None = None,
                        time_utc: str | None = None,
                        checkpoint: Mapping[str, Any] | None = None) -> None:
        """Commit one observation (and the backend state right after it)."""
        with self._tx():
            self._db.execute(
                "INSERT INTO observations (night_id, seq, kind, target, status, reason, "
                "time_utc, record, checkpoint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (night_id, seq, kind, target, status, reason, time_utc, _json(dict(record)),
                 None if checkpoint is None else _json(dict(checkpoint))))

    def add_model(self, night_id: int, kind: str, model: Mapping[str, Any]) -> None:
        with self._tx():
            self._db.execute("INSERT INTO models (night_id, created_utc, kind, model) "
                             "VALUES (?, ?, ?, ?)", (night_id, _now(), kind, _json(model)))

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
                             "VALUES (?, ?, ?, ?)", (night_id, kind, _now(), _json(result)))

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
