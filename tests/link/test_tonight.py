"""Tonight's passes: a station with a [passes] section gets its usable passes forecast
with the night's own calibration, in summary.json and at the top of the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from pointing.config.station import STATIONS_DIR, load_station
from pointing.errors import ConfigError
from pointing.hardware.simulator.station import simulated_station
from pointing.link.tonight import tonight_passes
from pointing.night.config import NightConfig
from pointing.night.run import run_night

TLE = Path(__file__).resolve().parents[2] / "examples" / "micius.tle"
SMALL = NightConfig(n_model=10, n_verify=5, background_grid=False)


def _station(tmp_path: Path, passes: str) -> Path:
    path = tmp_path / "shanghai-passes.toml"
    path.write_text((STATIONS_DIR / "shanghai.toml").read_text() + "\n" + passes)
    return path


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tonight")
    station = load_station(_station(tmp, f'[passes]\ntle = "{TLE}"\nmax_age_days = 30\n'
                                         'min_key_bits = 10000\n'))
    backend = simulated_station(station, seed=0, start="2021-04-29T12:30:00")
    summary = run_night(station, backend, tmp / "report", log_path=tmp / "log.sqlite",
                        config=SMALL, progress=False)
    return summary, tmp / "report"


def test_the_night_forecasts_tonights_passes(night):
    summary, _out = night
    tp = summary["passes"]
    assert tp["satellite"].startswith("MICIUS") and tp["source"] == "Micius"
    high = [p for p in tp["passes"] if p["max_el_deg"] > 80]
    assert high, tp
    p = high[0]
    assert p["go"] and 2e4 < p["key_bits"] < 3e5 and 200 < p["sifted_kbit"] < 1500


def test_the_report_shows_them_before_the_checks(night):
    _summary, out = night
    html = (out / "report.html").read_text()
    assert "Tonight&#x27;s passes" in html or "Tonight's passes" in html
    assert html.index('id="crew"') < html.index('id="passes"') < html.index('id="checks"')


def test_no_section_no_passes():
    assert tonight_passes(load_station("shanghai"), {}, "2021-04-29T13:00:00") is None


def test_a_bad_section_names_the_key(tmp_path):
    station = load_station(_station(tmp_path, '[passes]\ntle = "x.tle"\nhours = -1\n'))
    with pytest.raises(ConfigError, match=r"passes\.hours"):
        tonight_passes(station, {}, "2021-04-29T13:00:00")
