"""Issue 13's camera findings: saturation from the data, a saturated star's honest
uncertainty, the star's own wing never masked as a neighbour, two equally bright
stars flagged, the camera chosen, and bad frames answered in one line.

Each test was checked to fail on the code before the fix (the synthetic frames
reproduce what the issue saw on a simulated wide-camera frame)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from star_frames import frame

from pointing.camera import Camera, Sensor, StarFlag, load_frame, measure_star
from pointing.camera.config import DEFAULT_WIDE_CAMERA, camera_section
from pointing.camera.detect import clipped_medians
from pointing.camera.frames import MAX_PIXELS, load_frame_and_origin
from pointing.cli import main
from pointing.errors import ConfigError, FileFormatError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CAMERA = Sensor()  # saturates at 64000 ADU (32000 e- at 0.5 e-/ADU)
STAR = (64.3, 63.6)


@pytest.fixture
def rng():
    return np.random.default_rng(2026)


def neighbour_pixels(m) -> np.ndarray:
    """Pixels masked as a neighbour (neither hot nor saturated)."""
    c = m.cutout
    return c.masked & ~c.hot & ~c.saturated


def bright_wide_star(seed: int, flux: float = 3e6) -> tuple[np.ndarray, float, float]:
    """A bright Moffat star of a wide-camera frame, clipped at a 32000 e- full well
    (64000 ADU: below the uint16 limit, so only the flat top tells)."""
    rng = np.random.default_rng(seed)
    x, y = STAR[0] + rng.uniform(-0.5, 0.5), STAR[1] + rng.uniform(-0.5, 0.5)
    img = frame((128, 128), [(x, y, flux)], rng, fwhm=2.5, psf="moffat", beta=3.0,
                full_well=32000)
    return img, x, y


# -- saturation ---------------------------------------------------------------------


def test_a_flat_top_is_saturation_without_a_configured_level():
    for seed in range(4):
        img, x, y = bright_wide_star(seed)
        assert img.max() == 64000 < np.iinfo(img.dtype).max
        m = measure_star(img)  # no camera: no level known
        assert StarFlag.SATURATED in m.flags, m.flags_text()
        assert m.cutout.saturated.sum() >= 3
        assert math.hypot(m.x - x, m.y - y) < 3 * m.sigma_x


def test_a_flat_top_below_the_configured_level_is_saturation_too(rng):
    # a camera whose full well is set too high: the data still say where it clips
    img = frame((128, 128), [(*STAR, 3e6)], rng, full_well=30000)
    assert img.max() == 60000
    m = measure_star(img, camera=Sensor(full_well_e=1e9))
    assert StarFlag.SATURATED in m.flags


@pytest.mark.parametrize("fast", [False, True])
def test_a_saturated_star_does_not_quote_a_millipixel_uncertainty(fast):
    errs, sig = [], []
    for seed in range(8):
        img, x, y = bright_wide_star(seed, flux=1e7)
        m = measure_star(img, camera=CAMERA, fast=fast)
        assert StarFlag.SATURATED in m.flags
        assert m.sigma_x >= 0.05 and m.sigma_y >= 0.05  # the fit alone says ~0.01
        assert m.crlb_x < m.sigma_x
        errs.append(math.hypot(m.x - x, m.y - y))
        sig.append(m.sigma_x)
    # and the quoted uncertainty covers the real error
    assert np.sqrt(np.mean(np.square(errs))) < 2.0 * np.mean(sig)


def test_an_unsaturated_star_keeps_its_fit_uncertainty(rng):
    img = frame((128, 128), [(*STAR, 200000)], rng)
    m = measure_star(img, camera=CAMERA)
    assert m.flags == StarFlag.NONE and m.sigma_x < 0.01


# -- neighbour masking never eats the star's own wing ----------------------------------


def test_the_wing_of_a_bright_star_is_not_masked_as_a_neighbour():
    for seed in range(6):
        img = bright_wide_star(seed)[0]
        for fast in (False, True):
            m = measure_star(img, fast=fast)
            assert StarFlag.CROWDED not in m.flags, (seed, fast, m.flags_text())
            assert not neighbour_pixels(m).any(), (seed, fast)


def test_a_real_neighbour_in_the_wing_is_still_masked():
    img, x, y = bright_wide_star(4)
    rng = np.random.default_rng(5)
    extra = frame((128, 128), [(x + 11.0, y + 1.0, 60000)], rng, sky=0.0, dtype=None)
    both = np.clip(img + extra, 0, 64000).astype(np.uint16)
    m = measure_star(both)
    assert StarFlag.CROWDED in m.flags
    ys, xs = np.nonzero(neighbour_pixels(m))
    xs, ys = xs + m.cutout.x0, ys + m.cutout.y0
    # a disc about the neighbour, none of it on the star's core
    assert xs.size and math.hypot(xs.mean() - (x + 11), ys.mean() - (y + 1)) < 1.5
    assert np.min(np.hypot(xs - x, ys - y)) > 4.0


def test_the_example_wide_frame_keeps_its_star_whole():
    m = measure_star(EXAMPLES / "wide_frame.fits")
    assert m.found and StarFlag.SATURATED in m.flags and StarFlag.CROWDED not in m.flags
    assert not neighbour_pixels(m).any()
    assert m.sigma_x >= 0.05


# -- which star -------------------------------------------------------------------


def test_two_equally_bright_stars_are_ambiguous(rng):
    img = frame((128, 128), [(30.3, 40.6, 30000), (90.7, 80.2, 30000)], rng)
    m = measure_star(img, camera=CAMERA)
    assert StarFlag.AMBIGUOUS in m.flags and m.found
    assert "AMBIGUOUS" in m.to_dict()["flags"]
    # told where to look, the nearer one is not ambiguous ...
    assert StarFlag.AMBIGUOUS not in measure_star(img, camera=CAMERA,
                                                  expected_xy=(31, 40)).flags
    # ... unless both are as near
    mid = measure_star(img, camera=CAMERA, expected_xy=(60.5, 60.4))
    assert StarFlag.AMBIGUOUS in mid.flags


def test_a_clearly_brighter_star_is_not_ambiguous(rng):
    img = frame((128, 128), [(30.3, 40.6, 15000), (90.7, 80.2, 45000)], rng)
    m = measure_star(img, camera=CAMERA)
    assert m.flags == StarFlag.NONE and abs(m.x - 90.7) < 0.1


# -- which camera -------------------------------------------------------------------


def test_the_station_names_its_two_cameras():
    wide = Camera.from_station("shanghai", "wide")
    tracking = Camera.from_station("shanghai")
    assert wide.geometry.pixel_scale_urad == 40.0 and wide.sensor.gain_e_per_adu == 1.0
    assert tracking.geometry.pixel_scale_urad == 3.0
    assert wide.sensor.saturation_adu == 20100.0  # bias + full well / gain
    section, aperture = camera_section("shanghai", "wide")
    assert "aperture_m" not in section and aperture == 0.05
    with pytest.raises(ConfigError, match="tracking, wide"):
        Camera.from_station("shanghai", "guide")


def test_a_station_without_a_wide_camera_gets_the_default(tmp_path):
    text = (Path(__file__).resolve().parents[2] / "pointing/config/stations/shanghai.toml"
            ).read_text()
    start = text.index("[wide_camera]")
    end = text.index("\n[", start + 1)
    path = tmp_path / "nowide.toml"
    path.write_text(text[:start] + text[end + 1:])
    section, aperture = camera_section(str(path), "wide")
    assert aperture == DEFAULT_WIDE_CAMERA["aperture_m"]
    assert section["pixel_scale_urad"] == DEFAULT_WIDE_CAMERA["pixel_scale_urad"]


def test_centroid_camera_choice(capsys):
    wide = EXAMPLES / "wide_frame.fits"
    out = {}
    for which in ("tracking", "wide"):
        assert main(["centroid", str(wide), "--station", "shanghai", "--camera", which,
                     "--json"]) == 0
        out[which] = json.loads(capsys.readouterr().out)
    # the wide camera: 1 e-/ADU, the tracking camera 0.5
    assert out["wide"]["flux_e"] == pytest.approx(out["wide"]["flux"], rel=1e-9)
    assert out["tracking"]["flux_e"] == pytest.approx(0.5 * out["tracking"]["flux"], rel=1e-9)
    assert "SATURATED" in out["wide"]["flags"] and out["wide"]["sigma_x"] >= 0.05
    # the frame is a cut of the sensor (XORGSUBF/YORGSUBF): the offset is the sensor's
    ox, oy = (fits.getheader(wide, 1)[k] for k in ("XORGSUBF", "YORGSUBF"))
    geometry = Camera.from_station("shanghai", "wide").geometry
    expect = geometry.offset_urad(out["wide"]["x"] + ox, out["wide"]["y"] + oy)
    assert out["wide"]["offset_urad"] == pytest.approx([float(v) for v in expect])
    assert np.hypot(*out["wide"]["offset_urad"]) < 500  # the star was aimed at


def test_centroid_camera_option_errors(capsys):
    wide = str(EXAMPLES / "wide_frame.fits")
    assert main(["centroid", wide, "--camera", "wide"]) == 2
    assert "--camera needs --station" in capsys.readouterr().err
    assert main(["centroid", wide, "--camera", "guide", "--station", "shanghai"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--camera" in err and "tracking, wide" in err


def test_the_example_tracking_frame_is_clean(capsys):
    assert main(["centroid", str(EXAMPLES / "tracking_frame.fits"), "--station", "shanghai",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["flags"] == [] and out["snr"] > 100
    assert out["sigma_x"] < 2 * out["crlb_x"]
    for name in ("tracking_frame.fits", "wide_frame.fits"):
        assert (EXAMPLES / name).stat().st_size < 200_000


# -- bad frames ----------------------------------------------------------------------


def write_header_only(path: Path, naxis: tuple[int, ...], bitpix: int = 16) -> None:
    hdr = fits.Header()
    hdr["SIMPLE"] = True
    hdr["BITPIX"] = bitpix
    hdr["NAXIS"] = len(naxis)
    for i, n in enumerate(naxis, 1):
        hdr[f"NAXIS{i}"] = n
    path.write_bytes(hdr.tostring().encode() + b"\0" * 2880)


@pytest.mark.parametrize("naxis", [(100000, 100000), (2**31, 2), (9000, 9000)])
def test_a_header_declaring_an_enormous_image_is_refused_before_reading(tmp_path, naxis):
    path = tmp_path / "huge.fits"
    write_header_only(path, naxis)
    with pytest.raises(FileFormatError, match="declares") as exc:
        load_frame(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_a_truncated_frame_is_refused(tmp_path, rng):
    path = tmp_path / "cut.fits"
    fits.PrimaryHDU(frame((64, 64), [], rng)).writeto(path)
    path.write_bytes(path.read_bytes()[:2880 + 1000])
    with pytest.raises(FileFormatError, match="truncated"):
        load_frame(path)


@pytest.mark.parametrize("content", [
    b"SIMPLE  =                    T" + b"\xff\xfe" * 2000,  # undecodable header
    b"\x00" * 5760,
    b"hello world\n" * 100,
    b"",
])
def test_garbage_files_are_one_line_errors(tmp_path, content, capsys):
    path = tmp_path / "garbage.fits"
    path.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing leaks out as a warning either
        with pytest.raises(FileFormatError) as exc:
            load_frame(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    assert main(["centroid", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pointing centroid: error:") and err.count("\n") == 1


def test_the_cli_refuses_an_enormous_header_in_one_line(tmp_path, capsys):
    path = tmp_path / "huge.fits"
    write_header_only(path, (100000, 100000))
    assert main(["centroid", str(path), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "declares" in err


@pytest.mark.parametrize("fast", [False, True])
def test_empty_nan_and_flat_frames_are_no_star(fast):
    frames = [np.full((64, 64), np.nan), np.full((64, 64), np.inf), np.zeros((0, 0)),
              np.zeros((64, 0)), np.full((512, 640), np.nan, np.float32),
              np.full((300, 300), 7, np.uint8)]
    half = np.full((128, 128), 100.0)
    half[:, :64] = np.nan
    frames.append(half)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for img in frames:
            m = measure_star(img, fast=fast)
            assert m.flags == StarFlag.NO_STAR
            json.dumps(m.to_dict(), allow_nan=False)


def test_a_star_beside_nan_pixels_is_measured(rng):
    img = frame((128, 128), [(*STAR, 40000)], rng, dtype=None)
    img[:, :40] = np.nan
    img[int(STAR[1]) + 3, int(STAR[0])] = np.nan
    m = measure_star(img, camera=CAMERA)
    assert m.found and math.hypot(m.x - STAR[0], m.y - STAR[1]) < 0.05


def test_a_region_of_interest_keeps_its_place_on_the_sensor(tmp_path, rng):
    img = frame((64, 64), [(30.3, 31.6, 20000)], rng)
    path = tmp_path / "roi.fits"
    hdu = fits.PrimaryHDU(img)
    hdu.header["XORGSUBF"] = 480
    hdu.header["YORGSUBF"] = 470
    hdu.writeto(path)
    assert load_frame_and_origin(path)[1] == (480, 470)
    cam = Camera.from_station("shanghai")
    m = measure_star(path, camera=cam)
    assert m.x == pytest.approx(30.3, abs=0.05)  # frame pixels, as always
    a, e = cam.geometry.offset_urad(m.x + 480, m.y + 470)
    assert m.offset_urad == pytest.approx((float(a), float(e)))


def test_max_pixels_is_far_above_any_camera():
    assert MAX_PIXELS >= 8192 * 8192


def test_clipped_medians_match_astropy_sigma_clipping():
    from astropy.stats import SigmaClip

    rng = np.random.default_rng(0)
    b = rng.normal(800.0, 30.0, (40, 256))
    b[::3, :20] += rng.uniform(100, 3000, (14, 20))  # stars in every third mesh
    clip = SigmaClip(sigma=3, maxiters=2, cenfunc="median", stdfunc="mad_std")
    ref = np.array([np.ma.median(clip(row)) for row in b])
    got = clipped_medians(b)
    assert np.max(np.abs(got - ref)) < 1.5  # a mesh median's own noise is ~2.4
    assert np.max(np.abs(got - 800)) < np.max(np.abs(np.median(b, axis=1) - 800))


# -- fuzzing: damaged files and hostile arrays never end in a traceback ------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _valid_fits_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    img = frame((32, 32), [(15.2, 16.7, 8000)], np.random.default_rng(0))
    fits.PrimaryHDU(img).writeto(buf)
    return buf.getvalue()


VALID_FITS = _valid_fits_bytes()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(VALID_FITS)), junk=st.binary(max_size=400),
       at=st.integers(0, len(VALID_FITS)))
def test_damaged_fits_files_give_a_result_or_a_one_line_error(tmp_path, cut, junk, at):
    data = VALID_FITS[:at] + junk + VALID_FITS[at + len(junk):cut] if cut > at else \
        VALID_FITS[:cut] + junk
    path = tmp_path / "damaged.fits"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            m = measure_star(path)
        except FileFormatError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
        else:
            json.dumps(m.to_dict(), allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(shape=st.tuples(st.integers(0, 48), st.integers(0, 48)),
       fill=st.sampled_from([0.0, 1.0, 65535.0, np.nan, np.inf, -np.inf, -1e300, 1e300]),
       frac=st.floats(0, 1), fast=st.booleans(), seed=st.integers(0, 2**16))
def test_hostile_arrays_give_a_flagged_result(shape, fill, frac, fast, seed):
    rng = np.random.default_rng(seed)
    img = rng.normal(100.0, 5.0, shape)
    img[rng.random(shape) < frac] = fill
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning either
        m = measure_star(img, fast=fast)
    json.dumps(m.to_dict(), allow_nan=False)
