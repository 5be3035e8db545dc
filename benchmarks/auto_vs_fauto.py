#!/usr/bin/env python3
"""Automatic models against TPOINT's FAUTO term lists on every real run in ../shared.

Per run and model: fitted terms, sky RMS, leave-one-out RMS and the
cross-validated RMS (arcsec) on the same 5 folds of ALL the run's stars
(outliers included as test stars, since a new star may be one):

* ours (cv / prediction): NESTED cross-validation — outlier handling and the
  whole term selection are rerun inside each fold on the other folds only,
  so the figure is what the procedure does on stars it never saw.
* ours (cv), column "same″": our chosen list refitted in plain k-fold on the
  same folds, i.e. flattered exactly as the FAUTO list's figure is.
* FAUTO list (AuxTel 2020 runs): TPOINT's FAUTO term list refitted; its CV is
  NOT nested: TPOINT chose those terms on all the stars, test folds included,
  which flatters it.
* MMT, RTS2 and the 2021-2022 AuxTel runs have no FAUTO model: the peer is
  the basic 8-term physical model
  (IA IE CA NPAE AN AW TF TX; plain k-fold, the list being fixed in advance),
  and our term budget is 8.

The machine may be shared with other jobs: the time column moves with the load::

    python benchmarks/auto_vs_fauto.py [../shared/datasets/pointing]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threadpoolctl import threadpool_limits

from pointing.model.auto import auto_fit, kfold_rms, nested_cv_rms
from pointing.model.fit import fit
from pointing.model.formats import read_mod, read_observations

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else (
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pointing")
AUX = "rubin_auxtel/"
RUNS = [(AUX + "20200125__AT_point_file_20200125.dat", AUX + "20200125__at_20200125_fauto.mod"),
        (AUX + "20200219__AT_point_file_20200219T031756.dat",
         AUX + "20200219__at_20200219_fauto.mod"),
        (AUX + "20200314__AT_point_file_20200315T022713.dat",
         AUX + "20200314__at_20200314_fauto.mod"),
        ("mmt/k_and_e.dat", None), ("rts2/gpoint_in_altaz", None),
        # AuxTel runs without a published model (2021-2022): the peer is the basic model
        (AUX + "20210219__AT_point_file_202102.dat", None),
        (AUX + "20210219__AT_point_file_202102_rev001.dat", None),
        (AUX + "20210219__AT_point_file_all.dat", None),
        (AUX + "20210323__AT_point_file_20230323.dat", None),
        (AUX + "20210609__AT_point_data_20210609_tw003.dat", None),
        (AUX + "20210609__AT_point_data_20210609_tw003_corr.dat", None),
        (AUX + "20220406__AT_point_data_20220406_tw004_corr.dat", None)]
BASIC = ["IA", "IE", "CA", "NPAE", "AN", "AW", "TF", "TX"]
#: cv: FAUTO's pool (harmonics to order 8 in A and E, their products to 8, physical terms)
MODES = {"ours (cv)": dict(mode="cv", product_order=8),
         "ours (prediction)": dict(mode="prediction", min_gain=0.005)}


def main() -> None:
    print(f"{'run':14s} {'model':18s} {'terms':>5s} {'RMS″':>8s} {'LOO″':>8s} "
          f"{'CV″':>8s} {'nested':>6s} {'same″':>8s} {'time':>6s}  set aside / terms")
    for dat, mod in RUNS:
        obs = read_observations(ROOT / dat)
        if mod:
            ref = read_mod(ROOT / mod)
            peer, label = [n for n in ref.names if not ref.fixed[n]], "FAUTO list"
        else:
            peer, label = BASIC, "basic 8 terms"
        name = Path(dat).stem[-14:]
        for model, opts in MODES.items():
            kw = dict(max_order=8, max_terms=len(peer), **opts)
            t0 = time.perf_counter()
            res = auto_fit(obs, **kw)
            nested = nested_cv_rms(obs, k=5, **kw)
            dt = time.perf_counter() - t0
            aside = ",".join(str(r["index"]) for r in res.rejected) or "-"
            same = kfold_rms(obs, list(res.selected_terms), k=5)
            print(f"{name:14s} {model:18s} {len(res.fit.fitted_terms):5d} "
                  f"{res.fit.sky_rms:8.3f} {res.fit.loo_rms:8.3f} {nested['rms_arcsec']:8.3f} "
                  f"{'yes':>6s} {same:8.3f} {dt:5.1f}s  aside {aside}: "
                  f"{' '.join(res.selected_terms)}")
            name = ""
        theirs = fit(obs, peer)
        print(f"{'':14s} {label:18s} {len(theirs.fitted_terms):5d} "
              f"{theirs.sky_rms:8.3f} {theirs.loo_rms:8.3f} {kfold_rms(obs, peer, k=5):8.3f} "
              f"{'NO':>6s} {'':8s} {'':6s}  {' '.join(peer)}")


if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):
        main()
