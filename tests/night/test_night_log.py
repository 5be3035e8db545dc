"""The station log and the night's configuration sections."""

from __future__ import annotations

import sqlite3

import pytest

from pointing.errors import ConfigError, FileFormatError
from pointing.night.analysis import crew_actions
from pointing.night.config import BaseGeometry, NightConfig
from pointing.night.log import StationLog


def test_log_round_trip(tmp_path):
    path = tmp_path / "s.sqlite"
    with StationLog(path) as db:
        nid = db.start_night("Shanghai", "simulator", {"a": 1}, "2026-12-01T13:00:00")
        db.add_observation(nid, 1, "model", "HIP 1", "ok", {"x": float("nan"), "y": [1, 2]},
                           checkpoint={"t": 1.5})
        db.add_observation(nid, 2, "model", "HIP 2", "skipped", {}, reason="cloud")
        db.add_model(nid, "fit", {"terms": []})
        db.set_stage(nid, "verify", plan={"model": [1, 2]})
        assert db.unfinished_night("Shanghai") == nid
        db.finish_night(nid, "complete", summary={"verification": {"rms_urad": 9.0}})
        assert db.unfinished_night("Shanghai") is None
    with StationLog(path) as db:  # reopened: everything is there
        rec = db.night(nid)
        assert [o["seq"] for o in rec.observations] == [1, 2]
        assert rec.observations[0]["record"]["x"] is None  # NaN stored as null
        assert rec.observations[0]["checkpoint"] == {"t": 1.5}
        assert rec.observations[1]["reason"] == "cloud"
        assert rec.plan == {"model": [1, 2]} and rec.status == "complete"
        assert db.models("Shanghai")[0]["night_id"] == nid
        with pytest.raises(sqlite3.IntegrityError):
            db.add_observation(nid, 2, "model", "HIP 3", "ok", {})  # a seq is never reused


def test_not_a_log_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not sqlite, it is plain text that is long enough " * 20)
    with pytest.raises(FileFormatError, match="not a station log"):
        StationLog(bad)


def test_night_config_validation():
    cfg = NightConfig.from_section({"n_model": 12, "terms": ["IA", "IE", "TF"],
                                    "count_time_s": 1})
    assert cfg.n_model == 12 and cfg.terms == ("IA", "IE", "TF") and cfg.count_time_s == 1.0
    assert NightConfig.from_section({"terms": "auto"}).terms == "auto"
    for section, key in (({"n_modl": 3}, "night.n_modl"), ({"n_model": 0}, "night.n_model"),
                         ({"terms": ["XX"]}, "night.terms"),
                         ({"count_time_s": "2"}, "night.count_time_s")):
        with pytest.raises(ConfigError, match=key):
            NightConfig.from_section(section)
    with pytest.raises(ConfigError, match=r"base\.feet"):
        BaseGeometry.from_section({"feet": [{"name": "A"}]})


def test_crew_actions_turn_and_level():
    base = BaseGeometry(feet=(("N", 0.0, 0.5), ("E", 90.0, 0.5), ("S", 180.0, 0.5),
                              ("W", 270.0, 0.5)), screw_pitch_mm=1.0)
    # axis leaning 60″ toward north: the north foot is low and must come up
    a = crew_actions({"IA": 0.0, "AN": 60.0, "AW": 0.0}, base)
    feet = {f["foot"]: f["raise_mm"] for f in a["feet"]}
    expected = 2 * 0.5 * 60 * 4.8481368e-6 * 1000  # mm between north and south feet
    assert feet["N"] == pytest.approx(expected, abs=0.01) and feet["S"] == 0.0
    assert feet["E"] == pytest.approx(expected / 2, abs=0.01)
    assert a["tilt_toward_deg"] == pytest.approx(0.0)
    # leaning west: the west foot comes up; IA positive: turn clockwise
    a = crew_actions({"IA": 18000.0, "AN": 0.0, "AW": 60.0}, base)
    assert "clockwise" in a["rotate"] and "5.00°" in a["rotate"]
    assert a["tilt_toward_deg"] == pytest.approx(270.0)
    assert "not measured" in crew_actions({"IA": 10.0}, base)["level"]
    assert "no foot needs raising" in crew_actions({"AN": 0.0, "AW": 0.0}, base)["level"]
