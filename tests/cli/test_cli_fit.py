"""The ``pointing fit`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pointing.cli import main
from pointing.model.model import PointingModel

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "simulated_run.dat"
TRUTH = json.loads((EXAMPLE.parent / "simulated_run_truth.json").read_text())["terms_arcsec"]


def test_fit_json_output_and_files(tmp_path, capsys):
    model_out = tmp_path / "m.json"
    mod_out = tmp_path / "m.mod"
    plot = tmp_path / "fit.png"
    status = main(["fit", str(EXAMPLE), "--json", "--model-out", str(model_out),
                   "--mod-out", str(mod_out), "--plot", str(plot)])
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_obs"] == out["n_used"] == 18
    for name, value in TRUTH.items():
        t = out["terms"][name]
        assert abs(t["value_arcsec"] - value) < 4 * t["sigma_arcsec"], name
    assert out["sky_rms_urad"] == pytest.approx(out["sky_rms_arcsec"] * 4.8481368, rel=1e-6)
    assert len(out["residuals"]) == 18 and out["residuals"][0]["index"] == 1
    assert plot.stat().st_size > 20_000 and plot.read_bytes()[:4] == b"\x89PNG"
    loaded = PointingModel.load(model_out)
    assert loaded.info["created_utc"] and loaded.info["fit"]["n_used"] == 18
    assert PointingModel.load(mod_out).names == loaded.names


def test_fit_text_output_terms_fix_mask(capsys):
    assert main(["fit", str(EXAMPLE), "--terms", "IA,IE,AN,AW,NPAE,TF", "--fix", "CA=31",
                 "--mask", "2,5"]) == 0
    text = capsys.readouterr().out
    assert "16 used" in text and "sky RMS" in text and "leave-1-out" in text
    assert "=CA" in text


@pytest.mark.parametrize("args, message", [
    (["--terms", "IA,BOGUS"], "unknown pointing term"),
    (["--mask", "99"], "observations 1..18"),
    (["--terms", "IA,IE,CA,NPAE,AN,AW,TF,TX,HESE,HECE,HASA,HACA,HSSA,HSCA,HESA2,HECA2,HSCE,"
                 "HESE2,HECE2"], "cannot"),
])
def test_fit_errors_are_one_line_with_status_2(capsys, args, message):
    assert main(["fit", str(EXAMPLE), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_unreadable_file_names_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.dat"
    bad.write_text("caption\n: ALTAZ\n+31 07 34\n1 2 3\n")
    assert main(["fit", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4" in err


def test_bad_option_values_are_argparse_errors(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["fit", str(EXAMPLE), "--fix", "IA"])
    assert ei.value.code == 2
    assert "NAME=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--fix", "IA=1,IA=2"], "given twice"),
    (["--fix", "IA=nan"], "not a finite number"),
    (["--auto", "--max-terms", "0"], "must be within 1..60"),
    (["--auto", "--max-order", "1000"], "must be within 1..8"),
    (["--auto", "--max-order", "x"], "expected an integer"),
    (["--auto", "--product-order", "9"], "must be within 0..8"),
])
def test_absurd_option_values_are_refused(capsys, args, message):
    with pytest.raises(SystemExit) as ei:
        main(["fit", str(EXAMPLE), *args])
    assert ei.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--auto", "--max-order", "2", "--product-order", "3"],
     "--product-order 3 exceeds --max-order 2"),
    (["--product-order", "2"], "--product-order applies to --auto only"),
    # every --auto-only option given without --auto is refused, not silently ignored
    (["--max-order", "4"], "--max-order applies to --auto only"),
    (["--auto-mode", "cv"], "--auto-mode applies to --auto only"),
    (["--max-terms", "5"], "--max-terms applies to --auto only"),
    (["--auto", "--fix", "IA=3"], "--fix does not apply to --auto"),
])
def test_product_order_that_cannot_apply_is_one_line(capsys, args, message):
    assert main(["fit", str(EXAMPLE), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_empty_terms_option_is_an_error_not_the_default(capsys):
    assert main(["fit", str(EXAMPLE), "--terms", ""]) == 2
    err = capsys.readouterr().err
    assert "--terms is empty" in err and err.count("\n") == 1


def test_json_output_is_strict_json(capsys):
    # one star, one term: leave-one-out is undefined (NaN) and must print as null
    assert main(["fit", str(EXAMPLE), "--terms", "IA", "--mask",
                 ",".join(str(i) for i in range(2, 19)), "--json"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text
    out = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert out["loo_rms_arcsec"] is None


def test_fit_equatorial_run_default_terms_files_and_plot(tmp_path, capsys):
    """Issue 18: a German-equatorial TPOINT ': EQUAT' run through the same command."""
    from pointing.model.formats import write_tpoint
    from pointing.model.synthetic import simulate_equatorial_run

    truth = PointingModel(["IH", "ID", "CH", "NP", "MA", "ME"], [900, -400, 60, -30, 300, 500],
                          mount="gem", latitude_deg=48.0)
    run = write_tpoint(tmp_path / "gem.dat", simulate_equatorial_run(truth, 60, seed=4))
    model_out, plot = tmp_path / "m.json", tmp_path / "fit.png"
    assert main(["fit", str(run), "--json", "--model-out", str(model_out),
                 "--plot", str(plot)]) == 0
    out = json.loads(capsys.readouterr().out)
    for name, value in truth.values.items():
        t = out["terms"][name]
        assert abs(t["value_arcsec"] - value) < 5 * t["sigma_arcsec"], name
    assert PointingModel.load(model_out).mount == "gem"
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert main(["fit", str(run), "--terms", "IH,IA"]) == 2
    assert "IA is an alt-az term" in capsys.readouterr().err
    assert main(["fit", str(run), "--auto", "--json"]) == 0  # the same automatic model
    auto = json.loads(capsys.readouterr().out)
    assert {"IH", "ID", "MA", "ME"} <= set(auto["selected_terms"])


def test_pier_side_term_on_a_fork_run_says_the_mount(tmp_path, capsys):
    from pointing.model.formats import write_tpoint
    from pointing.model.synthetic import simulate_equatorial_run

    truth = PointingModel(["IH", "ID"], [900, -400], mount="fork", latitude_deg=48.0)
    run = write_tpoint(tmp_path / "fork.dat", simulate_equatorial_run(truth, 30, seed=1))
    assert main(["fit", str(run), "--terms", "IH,ID@FAR"]) == 2
    err = capsys.readouterr().err
    assert "needs a German equatorial (mount 'gem')" in err and err.count("\n") == 1


def test_fit_print_shows_parallel_terms_with_their_ampersand(tmp_path, capsys):
    assert main(["fit", str(EXAMPLE), "--terms", "IA,IE,&HESE,CA,&HSCA"]) == 0
    text = capsys.readouterr().out
    assert " &HESE " in text and " &HSCA " in text


def test_mod_plain_amp_reads_an_old_mod_file_as_written(tmp_path):
    """pass/track --model old.mod --mod-plain-amp: '&' as a plain flag (files this toolkit
    wrote before it read TPOINT's parallel terms)."""
    import argparse

    from pointing.cli.options import load_model
    from pointing.errors import ConfigError

    old = tmp_path / "old.mod"
    old.write_text("old\n  IA      10.0\n  IE      -5.0\n& HESE    30.0\n& HECE    -4.0\nEND\n")
    plain = load_model(argparse.Namespace(model=str(old), mod_plain_amp=True))
    assert plain.spellings == ("IA", "IE", "HESE", "HECE")
    tpoint = load_model(argparse.Namespace(model=str(old), mod_plain_amp=False))
    assert tpoint.spellings == ("IA", "IE", "&HESE", "&HECE")
    with pytest.raises(ConfigError, match="--mod-plain-amp applies"):
        load_model(argparse.Namespace(model=None, mod_plain_amp=True))
