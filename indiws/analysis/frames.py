"""Frame bytes to pixels: FITS through astropy, other image formats through Pillow.

A plain FITS image (an unscaled or unsigned-offset image in the primary
HDU, as INDI's drivers send) is read here directly: the analysis worker
process then never imports astropy, about 20 MB RSS (16 MB PSS) less
(bench/soak.py).  Anything else goes through astropy."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FrameData", "FrameReadError", "finite_number", "pixel_scale", "read_frame"]


class FrameReadError(ValueError):
    """The bytes are not an image this module can read."""


@dataclass(slots=True)
class FrameData:
    """A frame's pixels (2-D, colour frames averaged to one plane) and header facts."""

    pixels: np.ndarray
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def pixel_scale(self) -> float | None:
        """Arcseconds per (binned) pixel from the header, None when unknown."""
        return pixel_scale(self.header)

    @property
    def saturation(self) -> float | None:
        """The ADU at which pixels clip: DATAMAX / SATURATE, else the type's maximum."""
        for key in ("SATURATE", "DATAMAX"):
            value = finite_number(self.header.get(key))
            if value:
                return value
        if np.issubdtype(self.pixels.dtype, np.integer):
            return float(np.iinfo(self.pixels.dtype).max)
        bitpix = self.header.get("BITPIX")
        if bitpix == 16:
            return 65535.0
        return None


def finite_number(value: Any) -> float | None:
    """``value`` as a finite float (a FITS card's value), else None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def pixel_scale(header: dict[str, Any]) -> float | None:
    """Arcsec per pixel: SCALE or PIXSCALE, else from pixel size, binning and focal length."""
    for key in ("SCALE", "PIXSCALE"):
        value = finite_number(header.get(key))
        if value and value > 0:
            return value
    pixel = finite_number(header.get("XPIXSZ")) or finite_number(header.get("PIXSIZE1"))
    focal = finite_number(header.get("FOCALLEN"))
    if not pixel or not focal or pixel <= 0 or focal <= 0:
        return None
    # XPIXSZ includes binning (the FITS convention); PIXSIZE1 is INDI's unbinned size.
    binning = 1.0
    if header.get("XPIXSZ") is None:
        binning = finite_number(header.get("XBINNING")) or 1.0
    return 206.264806 * pixel * binning / focal


def read_frame(data: bytes | memoryview, fmt: str = ".fits") -> FrameData:
    """Decode a frame; FrameReadError when it cannot be read as an image.
    The pixels never share memory with ``data``."""
    if fmt.lower().lstrip(".").split(".")[0] in ("fits", "fit", "fts") or data[:6] == b"SIMPLE":
        plain = _read_plain_fits(data)
        return plain if plain is not None else _read_fits_astropy(bytes(data))
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            grey = img if img.mode in ("L", "I", "I;16", "F") else img.convert("L")
            pixels = np.asarray(grey)
    except Exception as exc:
        raise FrameReadError(f"cannot read the {fmt or 'unknown'} frame: {exc}") from None
    return FrameData(pixels)


#: BITPIX → big-endian type; with BZERO the unsigned type astropy gives too.
_BITPIX = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
_UNSIGNED = {16: (32768, np.uint16), 32: (2**31, np.uint32), 64: (2**63, np.uint64)}
_BLOCK = 2880


def _card_value(text: str) -> Any:
    """A fixed-format card's value (text after ``= ``); ValueError when not plain."""
    text = text.strip()
    if text.startswith("'"):
        out, i = [], 1
        while True:
            end = text.index("'", i)  # ValueError: no closing quote
            out.append(text[i:end])
            if text[end + 1 : end + 2] != "'":
                return "".join(out).rstrip()
            out.append("'")
            i = end + 2
    token = text.split("/", 1)[0].strip()
    if token in ("T", "F"):
        return token == "T"
    try:
        return int(token)
    except ValueError:
        return float(token.replace("D", "E"))  # ValueError: not a number (complex, blank)


def _read_plain_fits(data: bytes | memoryview) -> FrameData | None:
    """The primary HDU's image without astropy, or None when the file is not
    plain (no image there, scaled data, long or HIERARCH cards, truncated).
    One pass turns big-endian, BZERO-offset pixels into native unsigned ones;
    the pixels are a copy (``data`` may be shared memory)."""
    header: dict[str, Any] = {}
    pos = 0
    try:
        while True:
            if pos + 80 > len(data):
                return None
            card = bytes(data[pos : pos + 80]).decode("ascii")
            pos += 80
            key = card[:8].strip()
            if key == "END":
                break
            if key in ("CONTINUE", "HIERARCH"):
                return None
            if card[8:10] == "= " and key not in ("COMMENT", "HISTORY", ""):
                header[key] = _card_value(card[10:])
    except (UnicodeDecodeError, ValueError):
        return None
    pos = -(-pos // _BLOCK) * _BLOCK
    bitpix, naxis = header.get("BITPIX"), header.get("NAXIS")
    if header.get("SIMPLE") is not True or bitpix not in _BITPIX or naxis not in (2, 3):
        return None
    if header.get("BSCALE", 1) != 1:
        return None
    shape = tuple(header.get(f"NAXIS{n}") for n in range(naxis, 0, -1))
    if not all(isinstance(n, int) and n > 0 for n in shape):
        return None
    count = math.prod(shape)
    dtype = np.dtype(_BITPIX[bitpix])
    if pos + count * dtype.itemsize > len(data):
        return None
    raw = np.frombuffer(data, dtype=dtype, count=count, offset=pos).reshape(shape)
    bzero = header.get("BZERO", 0)
    if bzero == 0:
        pixels = raw.astype(dtype.newbyteorder("="))
    elif bitpix in _UNSIGNED and bzero == _UNSIGNED[bitpix][0]:
        # Signed storage of unsigned values: flipping the sign bit adds BZERO.
        unsigned = _UNSIGNED[bitpix][1]
        pixels = raw.view(dtype.str.replace("i", "u")).astype(unsigned) ^ unsigned(bzero)
    else:
        return None
    if pixels.ndim == 3:  # colour planes (NAXIS3): one luminance plane
        pixels = pixels.mean(axis=0)
    return FrameData(pixels, header)


def _read_fits_astropy(data: bytes) -> FrameData:
    from astropy.io import fits

    try:
        with fits.open(io.BytesIO(data), memmap=False, lazy_load_hdus=True) as hdus:
            for hdu in hdus:
                if hdu.data is not None and getattr(hdu, "is_image", False) and hdu.data.ndim >= 2:
                    pixels = np.asarray(hdu.data)
                    skip = ("COMMENT", "HISTORY")
                    header = {k: v for k, v in hdu.header.items() if k not in skip}
                    break
            else:
                raise FrameReadError("the FITS file holds no image")
    except FrameReadError:
        raise
    except Exception as exc:
        raise FrameReadError(f"cannot read the FITS frame: {exc}") from None
    if pixels.ndim == 3:  # colour planes (NAXIS3): one luminance plane
        pixels = pixels.mean(axis=0)
    elif pixels.ndim > 3:
        raise FrameReadError(f"a FITS image of {pixels.ndim} axes is not a frame")
    return FrameData(pixels, header)
