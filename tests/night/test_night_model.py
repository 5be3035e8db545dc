"""The night's provisional models keep the initial model's terms as they are: order,
TPOINT's '&' flags, mount (a model rebuilt from bare names points differently)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from pointing.model.model import PointingModel
from pointing.model.run import Observations
from pointing.night.state import Night, zero_offsets
from pointing.units import angular_separation

INITIAL = PointingModel(["NPAE", "IE", "&HESE", "&HECE2", "CA", "IA", "TF"],
                        [15.0, -30.0, -200.0, 40.0, 12.0, 90.0, 50.0])
TRUTH = PointingModel([*INITIAL.spellings, "AN", "AW"], [*INITIAL.values.values(), 25.0, -15.0]
                      ).with_values({"IA": 300.0, "IE": -80.0})


def _obs(n, seed=0):
    rng = np.random.default_rng(seed)
    a, e = rng.uniform(-math.pi, math.pi, n), np.radians(rng.uniform(15, 85, n))
    ta, te = TRUTH.true_from_raw(a, e)
    return Observations(ta, te, a, e)


def _night(obs):
    """What provisional_model reads of a night: its observations, initial model, config."""
    return SimpleNamespace(observations=lambda: obs, initial_model=INITIAL,
                           cfg=SimpleNamespace(provisional_terms=("IA", "IE", "AN", "AW")))


def test_zero_offsets_keep_the_model_and_map_the_star():
    obs = _obs(1)
    model = zero_offsets(INITIAL, obs)
    assert model.spellings == INITIAL.spellings
    ta, te = model.true_from_raw(obs.az_raw[0], obs.el_raw[0])
    assert angular_separation(ta, te, obs.az_true[0], obs.el_true[0]) < 1e-9
    # a model without IA/IE gets them in front
    bare = zero_offsets(PointingModel(["CA", "&HSCA2"], [5.0, 3.0]), obs)
    assert bare.spellings == ("IA", "IE", "CA", "&HSCA2")


def test_provisional_models_keep_order_and_flags():
    for n, free in ((3, ("IA", "IE")), (12, ("IA", "IE", "AN", "AW"))):
        model = Night.provisional_model(_night(_obs(n)))
        missing = tuple(t for t in free if t not in INITIAL.names)
        assert model.spellings == INITIAL.spellings + missing
        assert [t for t, f in model.fixed.items() if not f] == [
            t for t in model.names if t in free]
    # with the tilt free on 12 stars the provisional model is the truth
    model = Night.provisional_model(_night(_obs(12)))
    a, e = _obs(50, 1).az_raw, _obs(50, 1).el_raw
    miss = angular_separation(*model.true_from_raw(a, e), *TRUTH.true_from_raw(a, e))
    assert np.max(miss) < 1e-9
