"""Image analysis of camera frames: pure functions over a frame, called by the
devices off the event loop.

- `stars`: star detection (``sep``), HFR/FWHM, background, noise and pixel
  statistics of one frame; the FITS cards and lightAPT ``hfr_info`` made
  from them.
- `frames`: frame bytes (FITS or an image format) to a pixel array and the
  facts of its header (pixel scale, pointing).
- `focus`: the V-curve fit of autofocus.
- `solve`: plate solving with astrometry.net's ``solve-field``.

See docs/analysis.md.
"""

from .frames import FrameData, read_frame
from .stars import analyse, analyse_frame, fits_cards, hfr_info

__all__ = [
    "FrameData",
    "analyse",
    "analyse_frame",
    "fits_cards",
    "hfr_info",
    "read_frame",
]
