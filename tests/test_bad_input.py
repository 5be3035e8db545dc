"""Every bad input a clean message (issue 13, item 10): a corpus of nasty inputs.

Each input path -- TPOINT and RTS2 run files, model files, FITS frames, station
files, command-line options, observation tables, output paths -- gets
hand-written nasty cases through the command line (``pointing.cli.main``) and
hypothesis-generated mutations through the library loaders.  A case passes when

* the command exits non-zero with ONE error line (argparse's usage lines aside)
  that names the file, line, key or option, and no traceback;
* a library loader either succeeds or raises a :class:`PointingError` (never
  another exception);
* nothing hangs (in-process cases run under an alarm; the cases that could run
  for minutes run in a subprocess with a timeout) and nothing blows up memory
  (an address-space limit turns a runaway allocation into a failure).

Every case passes: none is marked as a known failure.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pointing.camera.measure import load_frame
from pointing.cli.main import main
from pointing.config.station import STATIONS_DIR, load_station
from pointing.errors import PointingError
from pointing.model.formats import read_observations, write_mod
from pointing.model.model import PointingModel
from pointing.photometry.background import BackgroundConfig, night_background
from pointing.photometry.config import DetectorConfig, PhotometryConfig
from pointing.photometry.efficiency import night_efficiency
from pointing.photometry.table import read_observation_table, write_observation_table

REPO = Path(__file__).resolve().parents[1]
TPOINT_TEXT = (REPO / "examples" / "simulated_run.dat").read_text(encoding="utf-8")
GPOINT_TEXT = ("# Observation JD ...\n# altaz-manual 20.8 -32.53 1850.0\n"
               + "".join(f"{i}\t2457652.{45867 + i}\t329.1\t21.2\t0.004\t0.012\t"
                         f"{20 + 3 * i:.2f}\t{(37 * i) % 360:.2f}\n" for i in range(1, 25)))
STATION_TEXT = (STATIONS_DIR / "shanghai.toml").read_text(encoding="utf-8")
#: seconds an in-process case may take before it counts as a hang
ALARM_S = 90
#: seconds a subprocess case may take
SUBPROCESS_S = 40
#: extra address space a case may take (bytes): a runaway allocation fails
MEMORY_HEADROOM = 3 * 2**30


# --- running a case ------------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int | None
    out: str
    err: str
    crash: str = ""  # an exception that escaped main(), or "hang"/"memory"


class _Alarm(Exception):
    pass


@contextlib.contextmanager
def guarded(seconds: int = ALARM_S):
    """An alarm against hangs and an address-space limit against memory blow-ups."""
    def ring(signum, frame):
        raise _Alarm(f"no answer within {seconds} s")

    old_handler = signal.signal(signal.SIGALRM, ring)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    vm = _vm_bytes()
    if vm:
        limit = vm + MEMORY_HEADROOM
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_handler)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _vm_bytes() -> int:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    m = re.search(r"VmSize:\s+(\d+) kB", text)
    return int(m.group(1)) * 1024 if m else 0


def run_cli(argv: list[str]) -> Outcome:
    """``pointing ARGV`` in this process; SystemExit and escaped exceptions recorded."""
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    crash = ""
    caught: list = []
    try:
        with guarded(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as record:
            caught = record
            warnings.simplefilter("always")  # as a user sees them: lines on stderr
            code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except _Alarm as exc:
        crash = f"hang: {exc}"
    except MemoryError:
        crash = "memory: MemoryError"
    except Exception as exc:  # the failure this corpus looks for
        crash = f"traceback: {type(exc).__name__}: {exc}"
    text = err.getvalue() + "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
    return Outcome(code, out.getvalue(), text, crash)


def run_cli_subprocess(argv: list[str], home: Path) -> Outcome:
    """``python -m pointing ARGV`` with a timeout and a memory limit (cases that may hang)."""
    def limit() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, resource.RLIM_INFINITY))

    env = dict(os.environ, HOME=str(home), MPLBACKEND="Agg", PYTHONPATH=str(REPO))
    try:
        proc = subprocess.run([sys.executable, "-m", "pointing", *argv], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=SUBPROCESS_S,
                              preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return Outcome(None, "", "", f"hang: no answer within {SUBPROCESS_S} s")
    crash = ""
    if "Traceback (most recent call last)" in proc.stderr:
        crash = "traceback: " + proc.stderr.strip().splitlines()[-1]
    elif "MemoryError" in proc.stderr:
        crash = "memory: " + proc.stderr.strip().splitlines()[-1]
    return Outcome(proc.returncode, proc.stdout, proc.stderr, crash)


def error_lines(err: str) -> list[str]:
    """stderr without argparse's usage block and the night's log lines."""
    lines = []
    in_usage = False
    for line in err.splitlines():
        if line.startswith("usage:"):
            in_usage = True
            continue
        if in_usage and line.startswith(" "):
            continue
        in_usage = False
        if re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING|DEBUG) ", line):
            continue  # the night's progress log
        if line.strip():
            lines.append(line)
    return lines


def assert_clean(outcome: Outcome, names: tuple[str, ...]) -> None:
    assert not outcome.crash, outcome.crash
    assert outcome.code not in (0, None), f"exit status {outcome.code}; stderr {outcome.err!r}"
    lines = error_lines(outcome.err)
    assert len(lines) == 1, f"expected one error line, got {lines!r}"
    line = lines[0]
    assert line.startswith("pointing") and "error" in line, line
    for name in names:
        assert name in line, f"{name!r} not named in {line!r}"


# --- the corpus ----------------------------------------------------------------------------------


@dataclass
class Case:
    """One bad input through the command line.

    *argv* may hold ``{d}`` for the corpus directory; *names* must appear in
    the error line (``{d}`` expanded too); *subprocess* runs it in a child with a
    timeout.
    """

    id: str
    argv: list[str]
    names: tuple[str, ...] = ()
    subprocess: bool = False
    files: dict[str, bytes | str] = field(default_factory=dict)


def _tpoint_with(replace_line: int | None = None, text: str | None = None,
                 drop: int | None = None) -> str:
    lines = TPOINT_TEXT.splitlines()
    if drop is not None:
        del lines[drop]
    if replace_line is not None:
        lines[replace_line] = text
    return "\n".join(lines) + "\n"


def _station_with(old: str, new: str) -> str:
    assert old in STATION_TEXT, old
    return STATION_TEXT.replace(old, new, 1)


FIT = ["fit"]
SELECT_T = ["--time", "2026-12-01T14:00"]  # 22:00 in Shanghai: a night


def _cases() -> list[Case]:
    c: list[Case] = []
    # TPOINT run files
    tp = {
        "truncated": TPOINT_TEXT[: len(TPOINT_TEXT) // 3] + "64.41 27.6",
        "binary": bytes(range(256)) * 40,
        "empty": "",
        "inf_value": _tpoint_with(5, "1e400 27.6283945 69.4731454 27.7350135"),
        "nan_value": _tpoint_with(6, "nan 25.1957093 235.4033308 25.1581720"),
        "no_latitude": _tpoint_with(drop=2),
        "header_only": "\n".join(TPOINT_TEXT.splitlines()[:3]) + "\n",
        "letters": _tpoint_with(7, "abc def ghi jkl"),
        "huge_line": _tpoint_with(8, "1" * 200000),
        "elevation_95": _tpoint_with(9, "10.0 95.0 11.0 95.1"),
    }
    for key, content in tp.items():
        c.append(Case(f"tpoint-{key}", [*FIT, f"{{d}}/tp_{key}.dat"], (f"tp_{key}.dat",),
                      files={f"tp_{key}.dat": content}))
    c.append(Case("tpoint-missing", [*FIT, "{d}/nope.dat"], ("nope.dat",)))
    c.append(Case("tpoint-directory", [*FIT, "{d}"], ("{d}",)))
    # RTS2 gpoint files
    gp = {
        "altitude_95": GPOINT_TEXT.replace("\t20.00\t", "\t95.00\t", 1),
        "latitude_95": GPOINT_TEXT.replace("-32.53", "95.0"),
        "inf": GPOINT_TEXT.replace("329.1", "1e400", 1),
        "nan": GPOINT_TEXT.replace("0.004", "nan", 1),
        "short_row": GPOINT_TEXT + "99\t2457652.5\t329.1\n",
        "header_garbage": GPOINT_TEXT.replace("# altaz-manual 20.8", "# altaz-manual x"),
    }
    for key, content in gp.items():
        c.append(Case(f"gpoint-{key}", [*FIT, f"{{d}}/gp_{key}"], (f"gp_{key}",),
                      files={f"gp_{key}": content}))
    # fit options
    run = "{d}/run.dat"
    files = {"run.dat": TPOINT_TEXT}
    for key, extra, names, sub in [
        ("terms-empty", ["--terms", ""], ("--terms",), False),
        ("terms-unknown", ["--terms", "IA,XX"], ("XX",), False),
        ("terms-huge-harmonic", ["--terms", "IA,IE,HSCA99999999"], ("HSCA99999999",), True),
        ("max-order-1000", ["--auto", "--max-order", "1000"], ("--max-order",), True),
        ("max-order-negative", ["--auto", "--max-order", "-1"], ("--max-order",), True),
        ("max-terms-0", ["--auto", "--max-terms", "0"], ("--max-terms",), True),
        ("fix-twice", ["--fix", "IA=1,IA=2"], ("IA",), False),
        ("fix-nan", ["--fix", "IA=nan"], ("IA",), False),
        ("fix-inf", ["--fix", "IA=1e400"], ("IA",), False),
        ("fix-garbage", ["--fix", "IA"], ("--fix",), False),
        ("mask-zero", ["--mask", "0"], ("mask",), False),
        ("mask-huge", ["--mask", "99999999999999999999"], ("mask",), False),
        ("mask-letters", ["--mask", "a,b"], ("--mask",), False),
        ("model-out-missing-dir", ["--model-out", "{d}/no/such/dir/m.json"], ("m.json",), False),
        ("model-out-directory", ["--model-out", "{d}"], ("{d}",), False),
        ("model-out-readonly", ["--model-out", "/sys/m.json"], ("/sys/m.json",), False),
        ("mod-out-missing-dir", ["--mod-out", "{d}/no/such/dir/m.mod"], ("m.mod",), False),
        ("plot-missing-dir", ["--plot", "{d}/no/such/dir/p.png"], ("p.png",), False),
        ("plot-directory", ["--plot", "{d}"], ("{d}",), False),
    ]:
        c.append(Case(f"fit-{key}", [*FIT, run, *extra], names, subprocess=sub, files=files))
    # station files (through `pointing select`, which reads [site] and [mount])
    st_cases = {
        "wrong_type": (_station_with("el_max_deg = 93.0", "el_max_deg = 'high'"),
                       "mount.el_max_deg"),
        "unknown_key": (_station_with("settle_s = 2.0", "settle_s = 2.0\nsettle = 1"),
                        "mount.settle"),
        "inf": (_station_with("latitude_deg = 31.1263", "latitude_deg = inf"),
                "site.latitude_deg"),
        "huge_int": (_station_with("height_m = 25.0", "height_m = 99999999999999999999"),
                     None),  # TOML: integers over 64 bits are a syntax error (line)
        "no_site": (STATION_TEXT.replace("[site]", "[sight]"), "sight"),
        "binary": (bytes(range(256)) * 8, None),
        "top_typo": (_station_with('name = "Shanghai"', 'name = "Shanghai"\ncolour = 1'),
                     "colour"),
        "section_not_table": (_station_with('name = "Shanghai"',
                                            'name = "Shanghai"\ncamera = 3'), None),
    }
    for key, (content, name) in st_cases.items():
        fname = f"st_{key}.toml"
        c.append(Case(f"station-{key}", ["select", "--station", "{d}/" + fname, *SELECT_T],
                      (fname,) + ((name,) if name else ()), files={fname: content}))
    c.append(Case("station-missing", ["select", "--station", "{d}/none.toml", *SELECT_T],
                  ("none.toml",)))
    c.append(Case("station-unknown-name", ["select", "--station", "atlantis", *SELECT_T],
                  ("atlantis",)))
    # sections read by other commands: a bad [photometry] / [background] / [thresholds]
    for key, old, new, name, cmd in [
        ("photometry", "band_width_nm = 1.0", "band_width_nm = 'wide'",
         "photometry.band_width_nm", "efficiency"),
        ("detectors", "channels = 4", "channels = 4.5", "detectors.channels", "efficiency"),
        ("thresholds", "min_eta0 = 0.20", "min_eta0 = -1", "thresholds.min_eta0",
         "noise-map"),
        ("background", "[thresholds]", "[background]\nrural_tolerance = 'x'\n[thresholds]",
         "background.rural_tolerance", "noise-map"),
    ]:
        fname = f"st_{key}.toml"
        c.append(Case(f"station-{key}", [cmd, "{d}/obs.ecsv", "--station", "{d}/" + fname],
                      (name,), files={fname: _station_with(old, new)}))
    # select options
    for key, extra, names in [
        ("n-huge", ["--n", "1000000000"], ("--n",),),
        ("n-negative", ["--n", "-3"], ("--n",),),
        ("n-zero", ["--n", "0"], ("--n",),),
        ("n-float", ["--n", "1.5"], ("--n",),),
        ("el-min-nan", ["--el-min", "nan"], ("--el-min",),),
        ("el-max-inf", ["--el-max", "1e400"], ("--el-max",),),
        ("el-min-above-max", ["--el-min", "80", "--el-max", "30"], ("--el-min",),),
        ("imag-nan", ["--imag-max", "nan"], ("--imag-max",),),
        ("moon-sep-negative", ["--moon-sep", "-5"], ("--moon-sep",),),
        ("dwell-negative", ["--dwell", "-1"], ("--dwell",),),
        ("dwell-inf", ["--dwell", "inf"], ("--dwell",),),
        ("plot-missing-dir", ["--plot", "{d}/no/dir/s.png"], ("s.png",),),
        ("plot-directory", ["--plot", "{d}"], ("{d}",),),
        ("plot-readonly", ["--plot", "/sys/s.png"], ("/sys/s.png",),),
    ]:
        c.append(Case(f"select-{key}", ["select", *SELECT_T, *extra], names))
    for key, value in [("garbage", "yesterday"), ("year-1e400", "1e400-01-01T00:00"),
                       ("year-99999", "99999-01-01T00:00"), ("month-13", "2026-13-01T00:00"),
                       ("empty", ""), ("nan", "nan")]:
        c.append(Case(f"select-time-{key}", ["select", "--time", value], ("--time",)))
    # FITS frames (pointing centroid)
    fits_cases = {
        "garbage": bytes(range(256)) * 20,
        "empty": b"",
        "huge_naxis": _fits_header([_card("SIMPLE", "T"), _card("BITPIX", "-64"),
                                    _card("NAXIS", "2"),
                                    _card("NAXIS1", "1000000"),
                                    _card("NAXIS2", "1000000"), "END"]),
        "truncated": _fits_header([_card("SIMPLE", "T"), _card("BITPIX", "16"),
                                   _card("NAXIS", "2"), _card("NAXIS1", "100"),
                                   _card("NAXIS2", "100"), "END"]) + b"\0" * 100,
        "no_image": _fits_header([_card("SIMPLE", "T"),
                                  _card("BITPIX", "8"),
                                  _card("NAXIS", "0"), "END"]),
        "header_only_text": b"SIMPLE  = T\n" * 10,
    }
    for key, content in fits_cases.items():
        fname = f"frame_{key}.fits"
        c.append(Case(f"fits-{key}", ["centroid", "{d}/" + fname], (fname,),
                      files={fname: content}))
    frame = "{d}/star.fits"
    for key, extra, names in [
        ("search-radius-negative", ["--search-radius", "-1"], ("--search-radius",)),
        ("search-radius-inf", ["--search-radius", "1e400"], ("--search-radius",)),
        ("search-radius-nan", ["--search-radius", "nan"], ("--search-radius",)),
        ("expect-nan", ["--expect", "nan,nan"], ("--expect",)),
        ("expect-outside", ["--expect", "1e9,1e9"], ("--expect",)),
        ("plot-missing-dir", ["--plot", "{d}/no/dir/c.png"], ("c.png",)),
        ("station-bad", ["--station", "{d}/st_wrong_type.toml"], ("mount.el_max_deg",)),
    ]:
        c.append(Case(f"centroid-{key}", ["centroid", frame, *extra], names))
    # observation tables (pointing efficiency / noise-map)
    obs_cases = {
        "garbage": bytes(range(256)) * 20,
        "empty": "",
        "missing_columns": "time,kind,hip\n2026-12-01T14:00:00,model,1\n",
        "nan_elevation": "nan_el",
        "inf_counts": "inf_counts",
        "text_in_number": "text_counts",
        "negative_time": "neg_time",
        "bad_kind": "bad_kind",
        "bad_time": "bad_time",
        "hip_float": "hip_float",
    }
    for key, content in obs_cases.items():
        fname = f"obs_{key}.csv"
        for cmd in ("efficiency", "noise-map"):
            c.append(Case(f"{cmd}-{key}", [cmd, "{d}/" + fname], (fname,),
                          files={fname: content}))
    for cmd in ("efficiency", "noise-map"):
        c.append(Case(f"{cmd}-missing", [cmd, "{d}/none.ecsv"], ("none.ecsv",)))
        c.append(Case(f"{cmd}-directory", [cmd, "{d}"], ("{d}",)))
        c.append(Case(f"{cmd}-plot-missing-dir", [cmd, "{d}/obs.ecsv", "--plot",
                                                  "{d}/no/dir/e.png"], ("e.png",)))
        c.append(Case(f"{cmd}-plot-directory", [cmd, "{d}/obs.ecsv", "--plot", "{d}"],
                      ("{d}",)))
        c.append(Case(f"{cmd}-plot-readonly", [cmd, "{d}/obs.ecsv", "--plot", "/sys/e.png"],
                      ("/sys/e.png",)))
    for key, value in [("nan", "nan"), ("inf", "1e400"), ("negative", "-1")]:
        c.append(Case(f"efficiency-k-fixed-{key}", ["efficiency", "{d}/obs.ecsv",
                                                    "--k-fixed", value], ("--k-fixed",)))
    # the night and the history (run in a child: a night that is not refused runs long)
    foot = _station_with('name = "A", azimuth_deg = 0.0', 'name = "A", azimuth_deg = "north"')
    for key, extra, names in [
        ("seed-negative", ["--simulate", "--seed", "-1"], ("--seed",)),
        ("start-garbage", ["--simulate", "--start", "tomorrow"], ("--start",)),
        ("start-year-1e400", ["--simulate", "--start", "1e400-01-01T00:00"], ("--start",)),
        ("out-readonly", ["--simulate", "--out", "/sys/night"], ("/sys/night",)),
        ("out-is-file", ["--simulate", "--out", "{d}/run.dat"], ("run.dat",)),
        ("station-foot-letters", ["--simulate", "--station", "{d}/st_foot.toml"],
         ("base.feet",)),
        ("indi-port-huge", ["--backend", "indi", "--indi-port", "70000"], ("--indi-port",)),
        ("backend-bad-factory", ["--backend", "json:loads"], ("--backend",)),
        ("backend-missing-module", ["--backend", "no_such_module:f"], ("no_such_module",)),
    ]:
        argv = ["nightly", "--log", f"{{d}}/night_{key}.sqlite"]
        if "--out" not in extra:
            argv += ["--out", f"{{d}}/night_{key}"]
        c.append(Case(f"nightly-{key}", argv + extra, names, subprocess=True,
                      files={"st_foot.toml": foot} if "foot" in key else {}))
    c.append(Case("history-log-typo-dir", ["history", "--log", "{d}/typo_dir/x.sqlite"],
                  ("x.sqlite",)))
    c.append(Case("history-log-garbage", ["history", "--log", "{d}/tp_binary.dat"],
                  ("tp_binary.dat",)))
    return c


def _card(key: str, value: str) -> str:
    """One FITS header card, value right-aligned in columns 11-30."""
    return f"{key:<8}= {value:>20}"


def _fits_header(cards: list[str]) -> bytes:
    text = "".join(card.ljust(80) for card in cards)
    return text.ljust(2880).encode("ascii")


CASES = _cases()

def _obs_variant(kind: str, good: str) -> str:
    """A bad observation table made from the good one (CSV)."""
    lines = good.splitlines()
    header = lines[0].split(",")

    def set_cell(col: str, value: str) -> str:
        j = header.index(col)
        row = lines[2].split(",")
        row[j] = value
        return "\n".join([*lines[:2], ",".join(row), *lines[3:]]) + "\n"

    return {
        "nan_el": lambda: set_cell("el_deg", "nan"),
        "inf_counts": lambda: set_cell("counts_star", "1e400"),
        "text_counts": lambda: set_cell("counts_off", "lots"),
        "neg_time": lambda: set_cell("count_time_s", "-5"),
        "bad_kind": lambda: set_cell("kind", "star"),
        "bad_time": lambda: set_cell("time", "2026-13-45T99:00:00"),
        "hip_float": lambda: set_cell("hip", "12.5"),
    }[kind]()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The corpus directory: good base files plus every case's bad file."""
    from _synth_night import synth_night

    d = tmp_path_factory.mktemp("corpus")
    night = synth_night(0)
    write_observation_table(night.table, d / "obs.ecsv")
    night.table.write(d / "obs.csv", format="ascii.csv", overwrite=True)
    good_csv = (d / "obs.csv").read_text(encoding="utf-8")
    (d / "run.dat").write_text(TPOINT_TEXT, encoding="utf-8")
    _write_star_frame(d / "star.fits")
    (d / "st_wrong_type.toml").write_text(
        _station_with("el_max_deg = 93.0", "el_max_deg = 'high'"), encoding="utf-8")
    for case in CASES:
        for name, content in case.files.items():
            if isinstance(content, str) and content in ("nan_el", "inf_counts", "text_counts",
                                                        "neg_time", "bad_kind", "bad_time",
                                                        "hip_float"):
                content = _obs_variant(content, good_csv)
            path = d / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
    return d


def _write_star_frame(path: Path) -> None:
    from astropy.io import fits

    y, x = np.mgrid[0:128, 0:128]
    img = 100 + 5000 * np.exp(-((x - 63.2) ** 2 + (y - 64.7) ** 2) / (2 * 1.3**2))
    fits.PrimaryHDU(img.astype(np.float32)).writeto(path, overwrite=True)


def _params():
    out = []
    for case in CASES:
        out.append(pytest.param(case, id=case.id))
    return out


@pytest.mark.parametrize("case", _params())
def test_cli_bad_input_gives_one_clean_line(case: Case, corpus: Path, tmp_path: Path):
    argv = [a.replace("{d}", str(corpus)) for a in case.argv]
    names = tuple(n.replace("{d}", str(corpus)) for n in case.names)
    outcome = (run_cli_subprocess(argv, tmp_path) if case.subprocess else run_cli(argv))
    assert_clean(outcome, names)


def test_corpus_size():
    """The corpus is large enough to mean something (and the report quotes its size)."""
    assert len(CASES) >= 120
    assert len({c.id for c in CASES}) == len(CASES)


# --- hypothesis: mutations through the library loaders --------------------------------------------

NASTY_TEXT = st.sampled_from(["nan", "inf", "-inf", "1e400", "-1e400", "", "x", "1e308",
                              "0", "-0", "99999999999999999999999", "\x00", "é", "1,5",
                              "+-1", "0x10", "1_000", "None", "[]", "{}", "\"", "#"])
HYPO = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def loads_or_refuses(load, *args) -> object:
    """Call a loader: success, or a PointingError; anything else fails the case."""
    try:
        with guarded(60):
            return load(*args)
    except PointingError:
        return None


def _mutate_tokens(text: str, data: st.DataObject) -> str:
    lines = text.splitlines()
    if not lines:
        return text
    i = data.draw(st.integers(0, len(lines) - 1))
    tokens = lines[i].split()
    if tokens and data.draw(st.booleans()):
        j = data.draw(st.integers(0, len(tokens) - 1))
        tokens[j] = data.draw(NASTY_TEXT)
        lines[i] = " ".join(tokens)
    elif data.draw(st.booleans()):
        del lines[i]
    else:
        lines[i] = data.draw(st.text(max_size=40))
    out = "\n".join(lines) + "\n"
    if data.draw(st.booleans()):
        out = out[: data.draw(st.integers(0, len(out)))]
    return out


@HYPO
@given(data=st.data())
def test_tpoint_mutations(tmp_path, data):
    path = tmp_path / "m.dat"
    path.write_text(_mutate_tokens(TPOINT_TEXT, data), encoding="utf-8")
    obs = loads_or_refuses(read_observations, path)
    if obs is not None:  # what was read is finite: no silent infinity or NaN
        assert np.all(np.isfinite(obs.az_raw)) and np.all(np.isfinite(obs.el_raw))


@HYPO
@given(data=st.data())
def test_gpoint_mutations(tmp_path, data):
    path = tmp_path / "g"
    path.write_text(_mutate_tokens(GPOINT_TEXT, data), encoding="utf-8")
    obs = loads_or_refuses(read_observations, path)
    if obs is not None:
        assert np.all(np.isfinite(obs.el_true)) and np.all(np.abs(obs.el_true) <= math.pi / 2)
        assert abs(obs.site.get("latitude_deg", 0.0)) <= 90


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers()
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=6)


def _replace_somewhere(obj: object, data: st.DataObject) -> object:
    if isinstance(obj, dict) and obj:
        key = data.draw(st.sampled_from(sorted(obj)))
        if data.draw(st.booleans()):
            return {**obj, key: _replace_somewhere(obj[key], data)}
        return {**obj, key: data.draw(JSON_VALUES)}
    if isinstance(obj, list) and obj:
        i = data.draw(st.integers(0, len(obj) - 1))
        new = list(obj)
        new[i] = _replace_somewhere(obj[i], data) if data.draw(st.booleans()) \
            else data.draw(JSON_VALUES)
        return new
    return data.draw(JSON_VALUES)


@HYPO
@given(data=st.data())
def test_model_file_mutations(tmp_path, data):
    good = PointingModel(["IA", "IE", "CA"], [10.0, -5.0, 2.0]).to_dict()
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_replace_somewhere(good, data)), encoding="utf-8")
    model = loads_or_refuses(PointingModel.load, path)
    if model is not None:  # a model that loads round-trips
        again = PointingModel.from_dict(json.loads(json.dumps(model.to_dict())))
        assert again.values.keys() == model.values.keys()
        assert np.allclose(list(again.values.values()), list(model.values.values()))


@pytest.mark.parametrize("content", [
    b"\xff\xfe\x00garbage", b"", b"{", b"[1, 2]", b'{"terms": 3}', b"\x80" * 100])
def test_model_file_nasty_bytes(tmp_path, content):
    path = tmp_path / "m.json"
    path.write_bytes(content)
    loads_or_refuses(PointingModel.load, path)


@HYPO
@given(data=st.data())
def test_mod_file_mutations(tmp_path, data):
    good = tmp_path / "good.mod"
    write_mod(good, PointingModel(["IA", "IE", "CA"], [10.0, -5.0, 2.0]))
    path = tmp_path / "m.mod"
    path.write_text(_mutate_tokens(good.read_text(encoding="utf-8"), data), encoding="utf-8")
    loads_or_refuses(PointingModel.load, path)


TOML_VALUES = st.sampled_from(["'x'", "true", "nan", "inf", "-inf", "1e400", "-1",
                               "99999999999999999999", "[]", "[1, 'a']", "{}", "{a = 1}",
                               "1e-300", "0", "''", "[[1]]", "1979-05-27T07:32:00Z"])


@HYPO
@given(data=st.data())
def test_station_file_mutations(tmp_path, data):
    """Any value of any key: load_station and every photometry reader refuse it cleanly."""
    lines = STATION_TEXT.splitlines()
    assignments = [i for i, line in enumerate(lines)
                   if re.match(r"^[a-z_]+ = ", line) and not line.startswith("feet")]
    i = data.draw(st.sampled_from(assignments))
    key = lines[i].split(" = ")[0]
    lines[i] = f"{key} = {data.draw(TOML_VALUES)}"
    path = tmp_path / "s.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    station = loads_or_refuses(load_station, path)
    if station is not None:
        for reader in (PhotometryConfig.from_station, DetectorConfig.from_station,
                       BackgroundConfig.from_station):
            loads_or_refuses(reader, station)


CELLS = st.sampled_from(["nan", "inf", "1e400", "-1", "x", "", "model", "background",
                         "2026-99-01", "1e308", "-1e400", "0"])


@HYPO
@given(data=st.data())
def test_observation_table_mutations(tmp_path, data, corpus):
    """Bad cells: the reader names file and line, or the fits refuse cleanly."""
    lines = (corpus / "obs.csv").read_text(encoding="utf-8").splitlines()
    i = data.draw(st.integers(1, len(lines) - 1))
    cells = lines[i].split(",")
    j = data.draw(st.integers(0, len(cells) - 1))
    cells[j] = data.draw(CELLS)
    lines[i] = ",".join(cells)
    path = tmp_path / "o.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = loads_or_refuses(read_observation_table, path)
    if table is not None:
        eff = loads_or_refuses(night_efficiency, table)
        if eff is not None:
            assert math.isfinite(eff.eta0) and math.isfinite(eff.k_mag_per_airmass)
            json.dumps(eff.to_dict(), allow_nan=False)
        bg = loads_or_refuses(night_background, table)
        if bg is not None:
            assert math.isfinite(bg.zenith_cps)


@HYPO
@given(header=st.lists(st.sampled_from([
    _card("BITPIX", "-64"), _card("BITPIX", "16"), _card("BITPIX", "7"),
    _card("NAXIS", "2"), _card("NAXIS", "3"), _card("NAXIS", "-1"),
    _card("NAXIS1", "16"), _card("NAXIS2", "16"),
    _card("NAXIS1", "2000000000"), _card("NAXIS2", "2000000000"), _card("NAXIS3", "1"),
    _card("BZERO", "nan"), _card("BSCALE", "1E400"), _card("EXTEND", "T"),
]), min_size=0, max_size=6), tail=st.binary(max_size=3000))
def test_fits_frame_mutations(tmp_path, header, tail):
    path = tmp_path / "f.fits"
    path.write_bytes(_fits_header([_card("SIMPLE", "T"), *header, "END"]) + tail)
    frame = loads_or_refuses(load_frame, path)
    if frame is not None:
        assert frame.ndim == 2
