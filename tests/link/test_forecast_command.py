"""``pointing forecast``: a real Micius pass over Shanghai with a night's calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _link_data import night_summary

from pointing.cli import main

REPO = Path(__file__).resolve().parents[2]
TLE = REPO / "examples" / "micius.tle"
SUMMARY = night_summary(4.8)
#: the night of 2021-04-29: an 84.6° pass in Earth's shadow, station dark
WINDOW = ["--station", "shanghai", "--tle", str(TLE), "--start", "2021-04-29T12:00",
          "--hours", "6", "--max-age", "30"]


@pytest.fixture
def night(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(SUMMARY))
    return tmp_path


def test_high_micius_pass_forecasts_a_key_of_the_published_order(night, tmp_path, capsys):
    """Published portable-station passes: sifted hundreds of kbit, final key tens to a
    hundred kbit (Jinan 2020-09-06: 81°, 661.5 kbit sifted, 124351 bits)."""
    plot = tmp_path / "forecast.png"
    status = main(["forecast", *WINDOW, "--pass", "1", "--night", str(night), "--json",
                   "--plot", str(plot), "--min-key", "10000"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["go"]
    assert out["max_el_deg"] == pytest.approx(84.6, abs=0.2)
    assert 2e5 < out["sifted_bits"] < 1.5e6
    assert 2e4 < out["key_bits"] < 3e5
    assert 0.005 < out["mean_qber"] < 0.03
    assert out["pass"]["qkd_possible"] and out["samples"]
    assert plot.stat().st_size > 10000


def test_text_output_ends_with_the_verdict(night, capsys):
    assert main(["forecast", *WINDOW, "--pass", "1", "--night", str(night)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("GO: secure key")
    assert any("sifted key" in line and "kbit" in line for line in lines)


def test_a_pass_below_the_key_threshold_is_no_go(night, capsys):
    assert main(["forecast", *WINDOW, "--pass", "1", "--night", str(night),
                 "--min-key", "1e9"]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("NO-GO")


@pytest.mark.parametrize("extra, words", [
    (["--pass", "9"], "pass 9"),
    (["--pass", "1", "--source", "nosuch"], "unknown source"),
    (["--pass", "1", "--min-key", "nan"], "--min-key"),
])
def test_bad_options_are_one_line_errors(night, capsys, extra, words):
    assert main(["forecast", *WINDOW, "--night", str(night), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err


def test_no_pass_in_the_window(night, capsys):
    args = ["forecast", "--station", "shanghai", "--tle", str(TLE), "--start",
            "2021-04-29T16:00", "--hours", "0.5", "--max-age", "30", "--pass", "1",
            "--night", str(night)]
    assert main(args) == 2
    assert "no pass" in capsys.readouterr().err.lower()
