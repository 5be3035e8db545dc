"""The night's verdict, its report and its log: what the operator reads.

One small good night (seed 0) and one bad-model night (only IA IE fitted).
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest

from pointing.cli import main
from pointing.config.station import load_station
from pointing.hardware.simulator.station import simulated_station
from pointing.night.config import NightConfig
from pointing.night.log import StationLog, default_log_path
from pointing.night.run import run_night
from pointing.photometry.gonogo import PointingEvidence, Thresholds, night_verdict
from pointing.plots.night import plot_history

SMALL = NightConfig(n_model=10, n_verify=5, background_grid=False)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A simulated night with no log given, HOME in a temporary folder."""
    tmp = tmp_path_factory.mktemp("good")
    station = load_station("shanghai")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(tmp / "home"))
        handler = _Capture()
        logging.getLogger("pointing.night").addHandler(handler)
        logging.getLogger("pointing.night").setLevel(logging.INFO)
        try:
            s = run_night(station, simulated_station(station, seed=0), tmp / "out",
                          config=SMALL, progress=False)
        finally:
            logging.getLogger("pointing.night").removeHandler(handler)
        yield s, tmp, handler.lines


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def bad_model(tmp_path_factory):
    """The same sky, but the night fits only IA IE: verification far outside the field."""
    tmp = tmp_path_factory.mktemp("bad")
    src = Path(load_station("shanghai").path).read_text()
    old = 'terms = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX"]\nn_model = 18\nn_verify = 20'
    assert old in src
    path = tmp / "station.toml"
    path.write_text(src.replace(old, 'terms = ["IA", "IE"]\nn_model = 10\nn_verify = 5\n'
                                     "background_grid = false"))
    return path, tmp


def test_simulated_nights_never_touch_the_real_station_log(good, capsys, monkeypatch):
    s, tmp, _ = good
    home = tmp / "home"
    monkeypatch.setenv("HOME", str(home))
    sim = default_log_path("Shanghai", simulated=True)
    assert sim.is_file() and sim.name == "shanghai-simulated.sqlite"
    assert not default_log_path("Shanghai").exists()
    assert s["simulated"] is True
    # history of the real station: there is none, and none is created
    assert main(["history"]) == 2
    assert "no station log" in capsys.readouterr().err
    assert not default_log_path("Shanghai").exists()
    assert main(["history", "--simulated", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[-1]["simulated"] is True
    assert main(["history", "--simulated"]) == 0
    assert "simulated" in capsys.readouterr().out.splitlines()[-1]


def test_a_log_line_for_every_observation(good):
    s, _tmp, lines = good
    obs = [ln for ln in lines if re.match(r"#\d+ ", ln)]
    assert len(obs) == s["n_observations"]
    for ln in obs:  # what, where, result
        assert re.match(r"#\d+ +(zero|model|verify|background) +\S+.* at az +[\d.]+° el +"
                        r"[\d.]+°: (ok|skipped)", ln), ln
    assert lines[-1].startswith("report: ")
    assert any(ln.startswith("go/no-go PASS") for ln in lines)


def test_good_night_passes_with_every_check_shown(good):
    s, _tmp, _ = good
    g = s["go_no_go"]
    assert g["verdict"] == "PASS"
    names = [c["name"] for c in g["checks"]]
    assert names[:5] == ["zero_offset_star", "model_condition_number", "verification_stars",
                         "verification_rms_urad", "worst_verification_urad"]
    assert "eta0" in names and any(n.startswith("noise_at_20") for n in names)
    for c in g["checks"]:
        assert {"value", "limit", "passed", "unit", "text"} <= set(c)


def test_report_reads_at_a_glance(good):
    s, tmp, _ = good
    page = (tmp / "out" / "report.html").read_text()
    body = page.split("<body>", 1)[1]
    assert body.startswith('<header class="banner pass" id="verdict">')  # the banner first
    order = [body.index(f'id="{k}"') for k in ("verdict", "headline", "crew", "checks",
                                               "figures", "details", "log")]
    assert order == sorted(order)
    assert 'name="viewport"' in page and "grid-template-columns:repeat(auto-fit" in page
    text = re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]+"', "", body))
    assert not re.search(r"\d\.\d{5,}", text)  # no raw floats
    assert "True" not in text and "False" not in text
    v = s["verification"]
    assert f"{v['rms_urad']:.1f} µrad" in text and "″" in text
    assert "Noise floor" in text and "mount repeatability" in text
    # the whole log, to the end of the night
    log = page.split('id="log"', 1)[1]
    assert log.count("\n") >= len(s["events"]) - 1
    assert s["events"][-1]["message"] in log and "report:" in s["events"][-1]["message"]
    sim_log = tmp / "home" / ".local" / "share" / "ogs-pointing" / "shanghai-simulated.sqlite"
    with StationLog(sim_log, create=False) as db:
        assert len(db.events(s["night_id"])) == len(s["events"])


def test_bad_model_night_fails_and_says_why(bad_model, capsys):
    station_file, tmp = bad_model
    status = main(["nightly", "--station", str(station_file), "--simulate", "--out",
                   str(tmp / "out"), "--log", str(tmp / "log.sqlite")])
    out = capsys.readouterr().out.strip().splitlines()
    assert status == 1
    assert out[-1].startswith("go/no-go FAIL")  # the verdict is the last line
    s = json.loads((tmp / "out" / "summary.json").read_text())
    assert s["status"] == "complete" and s["go_no_go"]["verdict"] == "FAIL"
    failed = {c["name"] for c in s["go_no_go"]["checks"] if not c["passed"]}
    assert "verification_rms_urad" in failed
    assert s["verification"]["rms_urad"] > 100
    page = (tmp / "out" / "report.html").read_text()
    assert page.split("<body>", 1)[1].startswith('<header class="banner fail"')
    assert "verification RMS" in page.split("</header>")[0]


def test_verdict_logic():
    th = Thresholds()
    good = PointingEvidence(zero_found=True, n_verify=20, rms_urad=4.0, max_urad=9.0,
                            condition_number=30.0, counter=False)
    assert night_verdict(good, thresholds=th).verdict == "PASS"
    assert "pointing alone" in night_verdict(good, thresholds=th).notes[0]
    for change, name in ((dict(rms_urad=60.0), "verification_rms_urad"),
                         (dict(max_urad=120.0), "worst_verification_urad"),
                         (dict(zero_found=False), "zero_offset_star"),
                         (dict(condition_number=1e6), "model_condition_number"),
                         (dict(fit_note="too few stars; fell back to IA IE"),
                          "model_condition_number"),
                         (dict(n_verify=2), "verification_stars"),
                         (dict(condition_number=None), "model_condition_number")):
        v = night_verdict(PointingEvidence(**{**good.__dict__, **change}), thresholds=th)
        assert v.verdict == "FAIL" and [c["name"] for c in v.checks if not c["passed"]] == \
            [name], change
    with_counter = PointingEvidence(**{**good.__dict__, "counter": True})
    v = night_verdict(with_counter, thresholds=th)  # a counter but no counts: FAIL
    assert v.verdict == "FAIL" and "not measured" in v.summary()
    strict = Thresholds.from_station({"thresholds": {"max_verification_rms_urad": 3.0}})
    assert night_verdict(good, thresholds=strict).verdict == "FAIL"


@pytest.mark.parametrize("n", [1, 100])
def test_history_plot_reads_with_one_night_and_a_hundred(n, tmp_path):
    rng = np.random.default_rng(1)
    rows = [{"night_id": i + 1, "started_utc": f"2026-12-{1 + i % 28:02d}T13:00:00",
             "status": "complete", "simulated": i % 2 == 0,
             "terms": {"IA": 18000.0, "CA": 28 + rng.normal(), "AN": 240 + rng.normal()},
             "verification_rms_urad": 4.0 + rng.normal(0, 0.3)} for i in range(n)]
    fig = plot_history(rows, tmp_path / "h.png", station="Shanghai")
    ax_rms, ax_terms = fig.axes[:2]
    _lo, hi = ax_rms.get_ylim()
    assert hi < 10  # a 4 µrad RMS is not squashed flat by the 100 µrad line
    x0, x1 = ax_terms.get_xlim()
    assert x1 - x0 >= 1.5 and x0 < 0 < n - 1 < x1 if n > 1 else x0 < 0 < x1
    assert len(ax_terms.get_xticks()) <= 11
    assert "off scale" in " ".join(t.get_text() for t in ax_rms.texts)
    assert (tmp_path / "h.png").stat().st_size > 10_000
    assert math.isfinite(hi)
