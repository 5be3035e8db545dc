#!/usr/bin/env python3
"""Time and peak memory of ``auto_fit`` (the CLI's ``--auto``) as the run grows.

Simulated alt-az runs (8 true terms with one harmonic, 2″ noise), BLAS on
one thread as ``pointing fit`` runs it, the CLI's defaults (``max_order`` 3).
Peak memory is the largest numpy/Python allocation traced during the call
(``tracemalloc``, in a second, traced call), printed per observation: flat means linear in the run.
The peer is the plain fit of the basic 8 terms on the same run.  The machine
may be shared: the time columns move with the load::

    python benchmarks/bench_auto.py [N ...]     (default 1000 10000)
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threadpoolctl import threadpool_limits

from pointing.model.auto import auto_fit
from pointing.model.fit import fit
from pointing.model.model import PointingModel
from pointing.model.synthetic import simulate_run

TRUTH = {"IA": 300.0, "IE": -120.0, "CA": 40.0, "NPAE": -30.0, "AN": 60.0, "AW": -45.0,
         "TF": 25.0, "HASA2": 12.0}
BASIC = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX"]


def measure(call, *args, **kwargs) -> tuple[float, float, object]:
    """(seconds, peak traced MB, result): timed untraced, then run again traced."""
    t0 = time.perf_counter()
    out = call(*args, **kwargs)
    dt = time.perf_counter() - t0
    tracemalloc.start()
    call(*args, **kwargs)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return dt, peak, out


def main(sizes: list[int]) -> None:
    truth = PointingModel(list(TRUTH), list(TRUTH.values()))
    print(f"{'N':>7s} {'model':22s} {'time s':>7s} {'peak MB':>8s} {'kB/obs':>7s}  terms")
    for n in sizes:
        obs = simulate_run(truth, n, seed=1, noise_arcsec=2.0)
        dt, peak, res = measure(fit, obs, BASIC)
        print(f"{n:7d} {'peer: fit of 8 terms':22s} {dt:7.2f} {peak:8.1f} "
              f"{peak * 1024 / n:7.2f}  {' '.join(BASIC)}")
        for mode in ("parsimony", "prediction", "cv"):
            dt, peak, res = measure(auto_fit, obs, mode=mode)
            print(f"{n:7d} {'--auto-mode ' + mode:22s} {dt:7.2f} {peak:8.1f} "
                  f"{peak * 1024 / n:7.2f}  {' '.join(res.selected_terms)}")


if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):
        main([int(a) for a in sys.argv[1:]] or [1000, 10000])
