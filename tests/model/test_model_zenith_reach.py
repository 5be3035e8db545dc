"""Every target a raw position inside the mount's range reaches is reached, near the zenith
too (issue 12 item 0), for TPOINT's '&' models as for sequential ones.

Targets are made from raw positions (so each has a demand by construction), dense where
the chain passes through the zenith: there a term evaluated where it acts can take
several inputs to the same output and NPAE/CA fold the region round their hole, so the
solve must follow every branch (pointing.model.kernels._inverse_branches).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pointing.model.formats import read_mod
from pointing.model.model import PointingModel
from pointing.units import angular_separation

FAUTO_0314 = "20200314__at_20200314_fauto.mod"
#: raw positions (degrees) whose targets the solve refused before (review of the '&' change)
REFUSED_BEFORE = (
    [-3.909670598, 34.468930975, -32.560556818, -142.306137958, -2.333635565,
     -178.638484592, 38.947045027, -38.084603534],
    [90.08864009, 90.089901341, 90.087331156, 90.087739116, 90.08858641, 90.087658859,
     90.090249754, 90.087470955])


def _assert_reaches(model, a, e):
    """Targets of raw (a, e): every one reached (status 0) to 1e-9 rad, within the range."""
    ta, te = model.true_from_raw(a, e)
    ra, re, status = model.raw_from_true_status(ta, te)
    refused = np.nonzero(status != 0)[0]
    assert refused.size == 0, (
        f"{refused.size} of {a.size} reachable targets refused, e.g. raw "
        f"({math.degrees(a[refused[0]]):.6f}°, {math.degrees(e[refused[0]]):.6f}°)")
    assert np.all(re <= math.radians(93.0))
    miss = angular_separation(*model.true_from_raw(ra, re), ta, te)
    assert np.max(miss) < 1e-9


def _raw(rng, n, lo_deg, hi_deg):
    return rng.uniform(-math.pi, math.pi, n), np.radians(rng.uniform(lo_deg, hi_deg, n))


def test_the_fauto_model_reaches_where_its_parallel_group_brings_the_chain_to_the_zenith(
        datasets):
    """Raw elevations 90.05°–90.13°: the '&' group of IE moves them by about −0.088°, onto
    the zenith, just before NPAE (whose hole folds the region)."""
    model = read_mod(datasets / "rubin_auxtel" / FAUTO_0314)
    rng = np.random.default_rng(12)
    a, e = _raw(rng, 60000, 90.05, 90.13)
    _assert_reaches(model, np.concatenate([a, np.radians(REFUSED_BEFORE[0])]),
                    np.concatenate([e, np.radians(REFUSED_BEFORE[1])]))
    # and the same terms without '&' (its own zenith crossing is elsewhere)
    plain = PointingModel(list(model.names), list(model.values.values()))
    _assert_reaches(plain, *_raw(rng, 20000, 89.9, 90.3))


def test_every_reference_model_reaches_the_zenith_region(datasets):
    rng = np.random.default_rng(13)
    for mod in sorted((datasets / "rubin_auxtel").glob("*.mod")):
        model = read_mod(mod)
        a1, e1 = _raw(rng, 10000, 87.0, 93.0)
        a2, e2 = _raw(rng, 10000, 89.9, 90.3)
        _assert_reaches(model, np.concatenate([a1, a2]), np.concatenate([e1, e2]))


def _random_parallel_model(seed):
    """A FAUTO-shaped model: IA, =IE with '&' harmonics, NPAE, =CA with '&' sky terms,
    the tilt and the tube (IA up to 1°, the others up to 60″)."""
    rng = np.random.default_rng(seed)
    heads = rng.choice(["HESE", "HECE", "HESE2", "HECE3", "HASA", "HACA2", "HESA2", "HESE5",
                        "HECE7"], 4, replace=False)
    sky = rng.choice(["HSCA", "HSSA2", "HSCE3", "HSSE8", "HSCA5CE8"], 3, replace=False)
    names = ["IA", "IE", *(f"&{n}" for n in heads), "NPAE", "CA", *(f"&{n}" for n in sky),
             "AN", "AW", "TF", "TX"]
    size = {"IA": 3600.0, "AN": 300.0, "AW": 300.0, "IE": 120.0}
    return PointingModel(names, [rng.uniform(-1, 1) * size.get(n, 60.0) for n in names]), rng


@pytest.mark.parametrize("seed", range(10))
def test_random_parallel_models_reach_the_zenith_region(seed):
    model, rng = _random_parallel_model(seed)
    _assert_reaches(model, *_raw(rng, 8000, 89.0, 93.0))
