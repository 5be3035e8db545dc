#!/usr/bin/env python3
"""Automatic model building against TPOINT's FAUTO on every AuxTel run with a reference.

For each run: TPOINT's FAUTO term list refitted by this project, and the
automatic model in both modes (parsimony: the default; prediction: every
term that improves leave-one-out RMS, harmonics to order 8 and no more terms
than FAUTO, as FAUTO works), all on the same observations.  Prints terms,
sky RMS, leave-one-out RMS and 5-fold cross-validated RMS (arcsec)::

    python benchmarks/auto_vs_fauto.py [../shared/datasets/pointing]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pointing.model.auto import auto_fit
from pointing.model.formats import read_mod, read_tpoint

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else (
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pointing")
RUNS = [("20200125__AT_point_file_20200125.dat", "20200125__at_20200125_fauto.mod"),
        ("20200219__AT_point_file_20200219T031756.dat", "20200219__at_20200219_fauto.mod"),
        ("20200314__AT_point_file_20200315T022713.dat", "20200314__at_20200314_fauto.mod")]


def main() -> None:
    print(f"{'run':10s} {'model':24s} {'terms':>5s} {'RMS″':>8s} {'LOO″':>8s} {'5-fold″':>8s}"
          f" {'time':>6s}  set aside")
    for dat, mod in RUNS:
        obs = read_tpoint(ROOT / "rubin_auxtel" / dat)
        ref = read_mod(ROOT / "rubin_auxtel" / mod)
        fauto = [n for n in ref.names if not ref.fixed[n]]
        for label, kw in (("auto, parsimony", {}),
                          ("auto, prediction", dict(mode="prediction", max_order=8,
                                                    max_terms=len(fauto), min_gain=0.005))):
            t0 = time.perf_counter()
            res = auto_fit(obs, compare={"TPOINT FAUTO, refitted": fauto}, **kw)
            dt = time.perf_counter() - t0
            rows = res.comparison if label.endswith("prediction") else res.comparison[:1]
            for row in rows:
                name = label if row["label"] == "automatic" else row["label"]
                aside = ",".join(str(r["index"]) for r in res.rejected) or "-"
                print(f"{dat[:8]:10s} {name:24s} {row['n_terms']:5d} "
                      f"{row['sky_rms_arcsec']:8.3f} {row['loo_rms_arcsec']:8.3f} "
                      f"{row['kfold_rms_arcsec']:8.3f} {dt:5.1f}s  {aside}")
            if label.endswith("parsimony"):
                print(f"{'':10s}   terms: {' '.join(res.selected_terms)}")


if __name__ == "__main__":
    main()
