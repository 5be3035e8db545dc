#!/usr/bin/env python3
"""Write examples/simulated_run.dat and examples/simulated_gem_run.dat.

The first is a pointing run of a compass-and-level alt-az setup: a 5° azimuth
zero point, tilts of a few arcminutes, flexure and non-perpendicularity of tens
of arcseconds.  The second is a German equatorial set up by eye (hour-angle
index 1°, polar axis 0.5° off, a far-side declination offset), observed on
both sides of the pier.  Each truth is written beside its run
(``*_truth.json``), so a fit of the file can be checked.  Re-running the script
reproduces the files exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

from pointing.model.formats import write_tpoint
from pointing.model.model import PointingModel
from pointing.model.synthetic import simulate_equatorial_run, simulate_run

TRUTH = {"IA": 5 * 3600.0 + 123.4, "IE": -87.0, "CA": 31.0, "NPAE": -24.0, "AN": 212.0,
         "AW": -178.0, "TF": 38.0, "TX": 6.5}
GEM_TRUTH = {"IH": 3600.0 + 212.0, "ID": -140.0, "CH": 45.0, "NP": -22.0, "MA": 1500.0,
             "ME": -1100.0, "TF": 25.0, "ID@FAR": 60.0}


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
    gem = PointingModel(list(GEM_TRUTH), list(GEM_TRUTH.values()), mount="gem",
                        latitude_deg=31.1263)
    obs = simulate_equatorial_run(gem, 40, seed=2026, noise_arcsec=2.0,
                                  caption="Simulated German equatorial, Shanghai, set up by eye")
    write_tpoint(out / "simulated_gem_run.dat", obs)
    (out / "simulated_gem_run_truth.json").write_text(
        json.dumps({"terms_arcsec": GEM_TRUTH, "mount": "gem", "noise_arcsec_per_axis": 2.0,
                    "n_stars": 40, "generator": "scripts/make_example_run.py"}, indent=2) + "\n")


if __name__ == "__main__":
    main()
