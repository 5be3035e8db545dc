#!/usr/bin/env python3
"""Write examples/simulated_run.dat: a pointing run of a compass-and-level setup.

The truth (a 5° azimuth zero point, tilts of a few arcminutes, flexure and
non-perpendicularity of tens of arcseconds) is written beside it as
examples/simulated_run_truth.json, so a fit of the file can be checked.
Re-running the script reproduces the files exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

from pointing.model.formats import write_tpoint
from pointing.model.model import PointingModel
from pointing.model.synthetic import simulate_run

TRUTH = {"IA": 5 * 3600.0 + 123.4, "IE": -87.0, "CA": 31.0, "NPAE": -24.0, "AN": 212.0,
         "AW": -178.0, "TF": 38.0, "TX": 6.5}


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "examples"
    out.mkdir(exist_ok=True)
    truth = PointingModel(list(TRUTH), list(TRUTH.values()))
    obs = simulate_run(truth, 18, seed=2026, noise_arcsec=2.0, latitude_deg=31.1263,
                       caption="Simulated station, Shanghai, compass-and-level setup")
    write_tpoint(out / "simulated_run.dat", obs)
    (out / "simulated_run_truth.json").write_text(
        json.dumps({"terms_arcsec": TRUTH, "noise_arcsec_per_axis": 2.0, "n_stars": 18,
                    "generator": "scripts/make_example_run.py"}, indent=2) + "\n")


if __name__ == "__main__":
    main()
