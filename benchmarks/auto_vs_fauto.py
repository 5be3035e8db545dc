#!/usr/bin/env python3
"""Automatic models against TPOINT's FAUTO on every AuxTel run with a FAUTO reference.

For each run, on the same observations: TPOINT's FAUTO term list refitted by
this project, and the automatic model (prediction mode, harmonics to order 8,
a term budget no larger than FAUTO's).  Printed per model: fitted terms, sky
RMS, leave-one-out RMS and the nested cross-validated RMS (arcsec): for the
automatic model the whole procedure — outlier handling and term selection —
is rerun inside each of the 5 folds, so the figure is not flattered by the
choice; for FAUTO's fixed list it is the plain 5-fold figure on the same
folds (its selection was made by TPOINT on all the stars, which flatters it
if anything).  The machine may be shared: the time column moves with the load::

    python benchmarks/auto_vs_fauto.py [../shared/datasets/pointing]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pointing.model.auto import auto_fit, kfold_rms, nested_cv_rms
from pointing.model.fit import fit
from pointing.model.formats import read_mod, read_tpoint

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else (
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pointing")
RUNS = [("20200125__AT_point_file_20200125.dat", "20200125__at_20200125_fauto.mod"),
        ("20200219__AT_point_file_20200219T031756.dat", "20200219__at_20200219_fauto.mod"),
        ("20200314__AT_point_file_20200315T022713.dat", "20200314__at_20200314_fauto.mod")]


def main() -> None:
    print(f"{'run':10s} {'model':18s} {'terms':>5s} {'RMS″':>8s} {'LOO″':>8s} "
          f"{'nested-CV″':>10s} {'time':>6s}  set aside / terms")
    for dat, mod in RUNS:
        obs = read_tpoint(ROOT / "rubin_auxtel" / dat)
        ref = read_mod(ROOT / "rubin_auxtel" / mod)
        fauto = [n for n in ref.names if not ref.fixed[n]]
        kw = dict(mode="prediction", max_order=8, max_terms=len(fauto), min_gain=0.005)
        t0 = time.perf_counter()
        res = auto_fit(obs, **kw)
        nested = nested_cv_rms(obs, k=5, **kw)
        dt = time.perf_counter() - t0
        work = obs.with_used(res.fit.used)
        ours = res.fit
        aside = ",".join(str(r["index"]) for r in res.rejected) or "-"
        print(f"{dat[:8]:10s} {'ours (auto)':18s} {len(ours.fitted_terms):5d} "
              f"{ours.sky_rms:8.3f} {ours.loo_rms:8.3f} {nested['rms_arcsec']:10.3f} "
              f"{dt:5.1f}s  aside {aside}: {' '.join(res.selected_terms)}")
        theirs = fit(work, fauto)
        print(f"{'':10s} {'FAUTO list':18s} {len(theirs.fitted_terms):5d} "
              f"{theirs.sky_rms:8.3f} {theirs.loo_rms:8.3f} "
              f"{kfold_rms(work, fauto, k=5):10.3f} {'':6s}  {' '.join(fauto)}")


if __name__ == "__main__":
    main()
