"""``pointing pass`` on the command line."""

from __future__ import annotations

import json

import pytest

from pointing.cli import main
from tests._passes_data import MICIUS_TLE, START, TEST_SATS, write_tle


def _run(capsys, *args):
    code = main(["pass", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_as_json(capsys):
    code, out, _ = _run(capsys, "--station", "shanghai", "--tle", MICIUS_TLE, "--start", START,
                        "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["station"] == "Shanghai" and doc["hours"] == 24 and doc["min_el_deg"] == 10
    assert [p["number"] for p in doc["passes"]] == [1, 2]
    assert doc["passes"][1]["qkd_possible"] is True
    assert doc["passes"][0]["rise"].startswith("2021-04-28T03:03")


def test_list_as_text_and_stale_warning(capsys):
    code, out, err = _run(capsys, "--tle", MICIUS_TLE, "--start", "2021-05-02T00:00",
                          "--satellite", "41731", "--hours", "12", "--min-el", "5")
    assert code == 0
    assert "MICIUS (QUESS) (41731) over Shanghai" in out
    assert "warning:" in err and "days old" in err


def test_write_a_pass(tmp_path, capsys):
    traj = tmp_path / "p.ecsv"
    plot = tmp_path / "p.png"
    code, out, _ = _run(capsys, "--station", "jinan", "--tle", MICIUS_TLE, "--start", START,
                        "--pass", 2, "--step", 0.5, "--trajectory", traj, "--plot", plot)
    assert code == 0, out
    assert "wait at raw az" in out and "whole pass is followed" in out
    for path in (traj, traj.with_suffix(".txt"), traj.with_suffix(".json"), plot):
        assert path.is_file() and path.stat().st_size > 1000
    summary = json.loads(traj.with_suffix(".json").read_text())
    assert summary["pass"]["number"] == 2 and summary["step_s"] == 0.5


@pytest.mark.parametrize("args, message", [
    (["--hours", "26280"], "at most 240 h"),
    (["--satellite", "ISS"], "no satellite 'ISS'"),
    (["--pass", "9"], "--pass 9: there are 2 passes"),
    (["--start", "2030-01-01T00:00"], "days from the window"),
    (["--trajectory", "x.ecsv"], "need --pass N"),
])
def test_errors_are_one_line(capsys, args, message):
    code, _out, err = _run(capsys, "--tle", MICIUS_TLE, "--start", START, *args)
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_corrupt_file_and_no_pass(tmp_path, capsys):
    text = MICIUS_TLE.read_text().replace("15.25507799261429", "15.25507799261428")
    code, _, err = _run(capsys, "--tle", write_tle(tmp_path, text), "--start", START)
    assert code == 2 and "sat.tle:11: TLE line 2: wrong checksum" in err
    eq = write_tle(tmp_path, TEST_SATS["equatorial"], "eq.tle")
    code, _, err = _run(capsys, "--station", "mohe", "--tle", eq, "--start", START)
    assert code == 2 and "no pass of TEST-90005" in err
