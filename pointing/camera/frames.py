"""Frames in: arrays and FITS files as 2-D native-endian images, checked before use.

A frame is an array-like (integers or floats, ADU) or the path of a FITS file,
of which the first HDU holding a 2-D image is used (a leading axis of length 1
is dropped).  A FITS header is checked *before* its data are read: a header
declaring more than :data:`MAX_PIXELS` pixels, or more data than the file
holds (truncated or lying), is refused with a one-line
:class:`~pointing.errors.FileFormatError` naming the file, so a hostile or
damaged file never allocates gigabytes.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from pointing.errors import FileFormatError

__all__ = ["MAX_PIXELS", "load_frame", "load_frame_and_origin"]

#: the largest image accepted (pixels): 8192 × 8192, far beyond any guide camera
MAX_PIXELS = 8192 * 8192


def load_frame(frame: Any) -> np.ndarray:
    """A frame as a 2-D native-endian array: an array-like or a FITS file path.

    Raises :class:`~pointing.errors.FileFormatError` naming the file when it
    cannot be read, holds no image or declares an absurd one, ``ValueError``
    for arrays that are not 2-D integer or float images.
    """
    return load_frame_and_origin(frame)[0]


def load_frame_and_origin(frame: Any) -> tuple[np.ndarray, tuple[int, int]]:
    """The frame (as :func:`load_frame`) and the sensor pixel of its pixel (0, 0).

    A FITS frame read out of a region of the sensor says where in its header
    (``XORGSUBF``, ``YORGSUBF``: the subframe-origin keywords of MaxIm DL and
    SBIG); anything else starts at (0, 0).
    """
    if isinstance(frame, str | os.PathLike):
        return _read_fits(Path(frame))
    return _as_image(frame), (0, 0)


def _as_image(frame: Any) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"frame must be a 2-D image, got an array of shape {arr.shape}")
    if arr.dtype.kind not in "uif":
        raise ValueError(f"frame must hold integers or floats, got dtype {arr.dtype}")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 4:
        arr = arr.astype(np.float32)  # half floats: exact in float32, which every step handles
    return arr


def _check_header(path: Path, hdu: Any, index: int,
                  compressed: bool) -> tuple[int, ...] | None:
    """The image shape a HDU declares, or None if it holds no image; refuses absurd ones."""
    try:
        shape = tuple(int(n) for n in hdu.shape)
        bitpix = int(hdu.header.get("BITPIX", 8))
    except (TypeError, ValueError, KeyError) as exc:
        raise FileFormatError(path, None, f"HDU {index}: unreadable image header ({exc})") from None
    if not shape or 0 in shape or any(n < 0 for n in shape):
        return None
    pixels = math.prod(shape)
    if pixels > MAX_PIXELS:
        raise FileFormatError(
            path, None, f"HDU {index} declares a {'x'.join(map(str, shape[::-1]))} image "
                        f"({pixels:.3g} pixels, more than the {MAX_PIXELS} accepted)")
    if not compressed:
        need = pixels * abs(bitpix) // 8
        if need > path.stat().st_size:
            raise FileFormatError(path, None, f"HDU {index} declares {need} bytes of image data "
                                              f"but the file holds {path.stat().st_size}: "
                                              f"truncated or damaged")
    return shape


def _origin(header: Any) -> tuple[int, int]:
    """The subframe origin a header declares, (0, 0) when it declares none usably."""
    out = []
    for key in ("XORGSUBF", "YORGSUBF"):
        v = header.get(key, 0)
        out.append(int(v) if isinstance(v, int | float) and not isinstance(v, bool)
                   and math.isfinite(v) and 0 <= v < 1 << 20 else 0)
    return out[0], out[1]


def _read_fits(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    # lazy: astropy.io.fits takes 0.22 s to import (measured); array frames, as the
    # tracking loop passes them, never need it
    from astropy.io import fits

    if not path.is_file():
        raise FileFormatError(path, None, "no such file")
    try:
        # astropy warns (truncation, non-ASCII cards): the checks below say it in one line
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                for index, hdu in enumerate(hdul):
                    if not isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU):
                        continue
                    shape = _check_header(path, hdu, index, isinstance(hdu, fits.CompImageHDU))
                    if shape is None or not (len(shape) == 2
                                             or (len(shape) == 3 and shape[0] == 1)):
                        continue
                    data = hdu.data
                    if (isinstance(data, np.ndarray) and data.dtype.fields is None
                            and data.size):
                        return _as_image(np.array(data)), _origin(hdu.header)
    except FileFormatError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, MemoryError,
            UnicodeDecodeError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FileFormatError(path, None, f"cannot read as FITS: {text}") from None
    raise FileFormatError(path, None, "no 2-D image in any HDU")
