"""Frame bytes to pixels: FITS through astropy, other image formats through Pillow."""

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


def read_frame(data: bytes, fmt: str = ".fits") -> FrameData:
    """Decode a frame; FrameReadError when it cannot be read as an image."""
    if fmt.lower().lstrip(".").split(".")[0] in ("fits", "fit", "fts") or data[:6] == b"SIMPLE":
        return _read_fits(data)
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            grey = img if img.mode in ("L", "I", "I;16", "F") else img.convert("L")
            pixels = np.asarray(grey)
    except Exception as exc:
        raise FrameReadError(f"cannot read the {fmt or 'unknown'} frame: {exc}") from None
    return FrameData(pixels)


def _read_fits(data: bytes) -> FrameData:
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
