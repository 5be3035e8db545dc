"""Resume from a kill at any moment: the resumed night's observations equal an uninterrupted one's.

A fault hook in the simulated backend (``Faults.crash_at_call``) raises
:class:`SimulatedCrash` (a BaseException: nothing in the night catches it, as
with SIGKILL) at the k-th device call of a process.  One chain of crashes and
resumes walks the whole SMALL night: after every resume a crash at the first
device call (a kill exactly at an observation boundary), then one at a sampled
call inside an observation (slews, exposures, counts, searches, counting), plus
crashes in the fit and while writing the report.  No observation may be lost,
repeated or different.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

import pointing.night.run as night_run
import pointing.night.steps as night_steps
from pointing.config.station import load_station
from pointing.hardware.simulator.station import Faults, SimulatedCrash, simulated_station
from pointing.night.config import NightConfig
from pointing.night.log import StationLog
from pointing.night.run import NightInterrupted, run_night

SMALL = NightConfig(n_model=10, n_verify=5, background_grid=False)
#: calls into an observation at which to crash (an observation takes ~10-60 device calls)
SAMPLED = (3, 17, 41, 8, 29, 63, 12, 90, 5, 35)
COLUMNS = ("az_deg", "el_deg", "raw_az_deg", "raw_el_deg", "counts_star", "counts_off",
           "error_dx_urad", "error_de_urad", "x_px", "y_px")


@pytest.fixture(scope="module")
def station():
    return load_station("shanghai")


@pytest.fixture(scope="module")
def reference(station, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    s = run_night(station, simulated_station(station, seed=0), tmp / "out", config=SMALL,
                  log_path=tmp / "log.sqlite", progress=False)
    with StationLog(tmp / "log.sqlite") as db:
        return s, db.night(s["night_id"]).observations


def _n_observations(log):
    with StationLog(log) as db:
        return len(db.night(db.nights()[-1]["id"]).observations)


def _crashing(station, k):
    return simulated_station(station, seed=0, faults=Faults(crash_at_call=k))


def test_killed_at_every_boundary_and_between_resumes_exactly(station, reference, tmp_path,
                                                              monkeypatch):
    ref_summary, ref_obs = reference
    log, out = tmp_path / "log.sqlite", tmp_path / "out"
    crashed_in = []
    # the first start dies at its first slew: nothing observed yet, night created
    with pytest.raises(SimulatedCrash):
        run_night(station, _crashing(station, 1), out, config=SMALL, log_path=log,
                  progress=False)
    crash_fit = {"armed": True}
    real_fit, real_report = night_steps.fit_model, night_run.write_report

    def fit_then_die(night):  # a kill while the model is being fitted (no device call)
        if crash_fit.pop("armed", False):
            raise SimulatedCrash("killed in the fit")
        return real_fit(night)

    crash_report = {"armed": True}

    def report_then_die(o, results):  # a kill while the report is written
        if crash_report.pop("armed", False):
            real_report(o, results)
            raise SimulatedCrash("killed writing the report")
        return real_report(o, results)

    monkeypatch.setattr(night_steps, "fit_model", fit_then_die)
    monkeypatch.setattr(night_run, "write_report", report_then_die)
    ks = itertools.cycle(SAMPLED)
    summary = None
    stuck = 0  # sampled kills in a row that landed before the observation was committed
    killed_at_boundary = set()
    for _ in range(300):
        before = _n_observations(log)
        # at most one observation per segment (interrupt_after), so every boundary is met
        for k in (1, next(ks) + 150 * stuck):  # a long search (the zero star) needs more
            try:
                summary = run_night(station, _crashing(station, k), out, config=SMALL,
                                    log_path=log, resume=True, progress=False,
                                    interrupt_after=before + 1)
            except SimulatedCrash as exc:
                crashed_in.append(str(exc))
                if k == 1 and "device call 1" in str(exc):
                    killed_at_boundary.add(before)
                if k > 1:
                    stuck = stuck + 1 if _n_observations(log) == before else 0
                continue
            except NightInterrupted:
                stuck = 0
            break
        if summary is not None:
            break
    assert summary is not None and summary["status"] == "complete"
    assert "killed in the fit" in crashed_in and "killed writing the report" in crashed_in
    # killed right after every observation (0 = before the first), and in between
    assert killed_at_boundary == set(range(len(ref_obs)))
    assert len(crashed_in) > 2 * len(ref_obs)
    with StationLog(log) as db:
        got = db.night(summary["night_id"]).observations
    assert [o["seq"] for o in got] == list(range(1, len(ref_obs) + 1))  # none lost/repeated
    assert [(o["kind"], o["target"], o["status"]) for o in got] == \
        [(o["kind"], o["target"], o["status"]) for o in ref_obs]
    for a, b in zip(got, ref_obs, strict=True):
        for col in COLUMNS:
            if b["record"].get(col) is not None:
                assert a["record"][col] == pytest.approx(b["record"][col], abs=1e-9), \
                    (b["seq"], col)
    assert summary["verification"]["rms_urad"] == pytest.approx(
        ref_summary["verification"]["rms_urad"])
    assert summary["go_no_go"]["verdict"] == ref_summary["go_no_go"]["verdict"]


def test_interrupt_after_each_kind_of_step(station, reference, tmp_path):
    """``interrupt_after`` at the zero star, a model star and a verification star."""
    _s, ref_obs = reference
    log, out = tmp_path / "log.sqlite", tmp_path / "out"
    kinds = [o["kind"] for o in ref_obs]
    stops = [kinds.index("zero") + 1, kinds.index("model") + 3, kinds.index("verify") + 1]
    first = True
    for stop in stops:
        with pytest.raises(NightInterrupted):
            run_night(station, simulated_station(station, seed=0), out,
                      config=dataclasses.replace(SMALL), log_path=log, resume=not first,
                      interrupt_after=stop, progress=False)
        first = False
    s = run_night(station, simulated_station(station, seed=0), out, config=SMALL,
                  log_path=log, resume=True, progress=False)
    with StationLog(log) as db:
        got = db.night(s["night_id"]).observations
    assert [(o["seq"], o["target"]) for o in got] == [(o["seq"], o["target"]) for o in ref_obs]
