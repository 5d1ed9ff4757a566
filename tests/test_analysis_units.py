"""The analysis functions, the synthetic sky and its ``gsc`` on frames and
catalogues made here (no simulator): what a star finder, a V-curve fit and the
CCD simulator's parser must see."""

from __future__ import annotations

import io
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits

from indiws.analysis import analyse, frames, hfr_info, read_frame
from indiws.analysis.focus import FocusFitError, FocusPoint, fit_vcurve
from indiws.analysis.frames import FrameReadError
from indiws.fits_header import enrich
from indiws.sky.catalog import cone, cumulative_density
from indiws.sky.gsc import install_gsc, parse_args, sky_env


def star_field(
    sigma: float, n: int = 60, size: int = 512, seed: int = 3, noise: float = 3.0
) -> np.ndarray:
    """uint16 frame with ``n`` Gaussian stars of width ``sigma`` px on a 100 ADU sky."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    image = 100.0 + rng.normal(0.0, noise, (size, size))
    for _ in range(n):
        x, y = rng.uniform(20, size - 20, 2)
        peak = rng.uniform(200, 3000)
        image += peak * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.clip(image, 0, 65535).astype(np.uint16)


def test_stars_and_sharpness_of_a_frame() -> None:
    sharp = analyse(star_field(1.5), pixel_scale=2.0, saturation=65535)
    soft = analyse(star_field(3.0), pixel_scale=2.0, saturation=65535)
    assert 50 <= sharp["stars"] <= 60
    # A Gaussian's FWHM is 2.355 sigma; its half-flux radius 1.177 sigma.
    assert sharp["fwhm"] == pytest.approx(2.355 * 1.5, rel=0.15)
    assert sharp["hfr"] == pytest.approx(1.177 * 1.5, rel=0.2)
    assert sharp["fwhm_arcsec"] == pytest.approx(sharp["fwhm"] * 2.0, rel=1e-3)
    assert soft["hfr"] > 1.7 * sharp["hfr"]
    assert sharp["background"] == pytest.approx(100, abs=3)
    assert sharp["noise"] == pytest.approx(3.0, rel=0.2)
    assert sharp["min"] <= sharp["median"] <= sharp["max"]
    assert sharp["saturated_pixels"] == 0
    info = hfr_info(sharp)
    assert info == {
        "star_count": sharp["stars"],
        "average_hfr": sharp["hfr"],
        "max_star": sharp["hfr_max"],
        "min_star": sharp["hfr_min"],
        "average_star": sharp["hfr_mean"],
    }


def test_an_empty_frame_has_no_stars_and_no_hfr() -> None:
    dark = analyse(np.full((256, 256), 500, dtype=np.uint16))
    assert dark["stars"] == 0 and dark["hfr"] is None and dark["fwhm"] is None
    assert dark["median"] == 500 and dark["hfr_arcsec"] is None


def test_saturated_stars_are_counted_not_measured() -> None:
    image = star_field(1.5, n=20)
    image[100:106, 100:106] = 65535  # a clipped star core
    result = analyse(image, saturation=65535)
    assert result["saturated_pixels"] >= 36 and result["saturated_stars"] >= 1


def test_fits_cards_go_into_the_header_and_the_pixels_stay() -> None:
    pixels = star_field(1.5, size=128, n=10)
    buf = io.BytesIO()
    hdu = fits.PrimaryHDU(pixels)
    hdu.header["HFR"] = (99.0, "stale value")
    hdu.writeto(buf)
    analysis = analyse(pixels)
    out = enrich(buf.getvalue(), ".fits", {"analysis": analysis})
    with fits.open(io.BytesIO(out)) as hdus:
        assert hdus[0].header["STARCNT"] == analysis["stars"]
        assert hdus[0].header["HFR"] == pytest.approx(analysis["hfr"])
        assert list(hdus[0].header.keys()).count("HFR") == 1
        assert np.array_equal(hdus[0].data, pixels)
    assert len(out) % 2880 == 0
    assert enrich(b"\x89PNG....", ".png", {"analysis": analysis}) == b"\x89PNG...."
    frame = read_frame(out)
    assert frame.pixels.shape == (128, 128)


def test_unreadable_frames_give_an_error_not_an_exception() -> None:
    import asyncio

    from indiws.analysis import analyse_frame

    result = asyncio.run(analyse_frame(b"SIMPLE  = garbage", ".fits"))
    assert "error" in result and "FITS" in result["error"]


def vee(best: float, positions: range, outlier: int | None = None) -> list[FocusPoint]:
    points = [FocusPoint(p, 1.5 + ((p - best) / 4000) ** 2, 40) for p in positions]
    if outlier is not None:
        points[outlier].hfr = 9.0
    return points


def test_vcurve_fit_finds_the_minimum_and_rejects_an_outlier() -> None:
    fit = fit_vcurve(vee(36700, range(30000, 66001, 4000), outlier=3))
    assert fit["position"] == pytest.approx(36700, abs=50)
    assert fit["rejected"] == [42000.0] and fit["hfr"] == pytest.approx(1.5, abs=0.05)
    hyper = [FocusPoint(p, math.hypot(1.2, (p - 5000) / 800), 30) for p in range(2000, 8001, 750)]
    fit = fit_vcurve(hyper)
    assert fit["kind"] == "hyperbolic" and fit["position"] == pytest.approx(5000, abs=5)


def test_vcurve_fit_fails_clearly() -> None:
    with pytest.raises(FocusFitError, match="outside the measured range"):
        fit_vcurve(vee(36700, range(50000, 66001, 4000)))
    few = [FocusPoint(p, 2.0, 3) for p in range(0, 9000, 1000)]
    with pytest.raises(FocusFitError, match="too few measured points"):
        fit_vcurve(few, min_stars=10)


def test_catalogue_is_deterministic_and_has_the_sky_s_density() -> None:
    a, dist = cone(83.8, -5.4, 0.5)
    b, _ = cone(83.8, -5.4, 0.5)
    assert a.ra == b.ra and a.mag == b.mag
    assert max(dist) <= 0.5 and np.all(np.diff(a.mag) >= 0)
    expected = cumulative_density(17) * math.pi * 0.25
    assert len(a) == pytest.approx(expected, rel=0.1)
    # Across RA 0/360 and at the pole.
    wrap, _ = cone(359.9, 10, 0.3, mag_max=14)
    assert max(wrap.ra) > 359 and min(wrap.ra) < 1
    pole, dist = cone(0, 89.9, 0.3, mag_max=14)
    assert len(pole) and max(dist) <= 0.3


# The CCD simulator's own parse of a gsc line (ccd_simulator.cpp, sscanf).
SIM_LINE = re.compile(
    r"^(\S{1,10}) (\S+) (\S+) (\S+) (\S+) (\S+) (-?\d+) (-?\d+) (\S{1,4}) (\S{1,2}) (\S+) (-?\d+)$"
)


def test_gsc_answers_the_simulator_s_command(tmp_path) -> None:
    wrapper = install_gsc(tmp_path / "bin")
    env = sky_env(tmp_path / "bin", {"PATH": "/usr/bin:/bin"})
    assert env["PATH"].split(":")[0] == str(tmp_path / "bin")
    # Exactly as the simulator runs it: through the shell, by name.
    done = subprocess.run(
        "gsc -c 83.822083 -05.391111 -r 16.3 -m 0 17.00 -n 3000",
        shell=True, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert 300 < len(lines) <= 3000
    for line in lines:
        fields = SIM_LINE.match(" ".join(line.split()))
        assert fields, line
        assert float(fields[11]) <= 16.3 and 0 <= float(fields[5]) <= 17
    bright = subprocess.run(
        [str(wrapper), "-c", "83.8", "-5.4", "-r", "90", "-m", "0", "11", "-n", "50"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert len(bright.stdout.splitlines()) == 50
    bad = subprocess.run(
        [sys.executable, "-m", "indiws.sky.gsc", "-c", "x", "1", "-r", "3"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "'x' is not a number" in bad.stderr
    with pytest.raises(ValueError, match="unknown option"):
        parse_args(["-q"])


def slow_analysis(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "done"


def test_a_stuck_analysis_is_killed_and_the_next_one_runs() -> None:
    import asyncio

    from indiws.analysis import worker

    async def run() -> None:
        with pytest.raises(TimeoutError):
            await worker.run_off_loop(slow_analysis, 30.0, timeout=0.5)
        assert await worker.run_off_loop(slow_analysis, 0.0, timeout=30) == "done"

    asyncio.run(run())


def test_the_worker_reads_the_frame_from_shared_memory_and_frees_it(monkeypatch) -> None:
    import asyncio
    from multiprocessing import shared_memory
    from pathlib import Path

    from indiws.analysis import analyse_frame, worker

    pixels = star_field(1.5)
    buf = io.BytesIO()
    fits.PrimaryHDU(pixels).writeto(buf)  # 16-bit big-endian with BZERO, as INDI writes
    # The blocks this process creates (other test workers analyse frames at the same time,
    # so the whole of /dev/shm says nothing about this call).
    created: list[str] = []

    class Recorded(shared_memory.SharedMemory):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            if kwargs.get("create"):
                created.append(self.name)

    monkeypatch.setattr(worker.shared_memory, "SharedMemory", Recorded)

    async def run() -> dict:
        await worker.warm_up()
        return await analyse_frame(buf.getvalue(), ".fits")

    result = asyncio.run(run())
    expected = analyse(pixels)
    for key in ("stars", "hfr", "fwhm", "background", "noise", "median", "measured_stars"):
        assert result[key] == expected[key], key
    assert len(created) == 1, "the frame went to the worker through one shared memory block"
    shm = Path("/dev/shm")
    if shm.is_dir():
        assert not (shm / created[0].lstrip("/")).exists(), "the block was freed"
    with pytest.raises(FileNotFoundError):
        shared_memory.SharedMemory(name=created[0])


def test_sizes_come_from_the_brightest_stars_and_agree_with_all(monkeypatch) -> None:
    from indiws.analysis import stars

    image = star_field(2.0)
    every = analyse(image)
    monkeypatch.setattr(stars, "MEASURE_AT_MOST", 20)
    brightest = analyse(image)
    assert brightest["measured_stars"] == 20 < every["measured_stars"]
    assert brightest["stars"] == every["stars"]
    assert brightest["hfr"] == pytest.approx(every["hfr"], rel=0.05)
    assert brightest["fwhm"] == pytest.approx(every["fwhm"], rel=0.1)


@pytest.mark.filterwarnings("ignore:File may have been truncated")
@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.uint8, np.int32, np.float32])
def test_fits_frames_decode_to_astropy_s_pixels_in_native_order(dtype) -> None:
    pixels = (np.arange(12 * 7).reshape(12, 7) * 97 % 250).astype(dtype)
    buf = io.BytesIO()
    hdu = fits.PrimaryHDU(pixels)
    hdu.header["FOCALLEN"] = 500.0
    hdu.writeto(buf)
    frame = read_frame(memoryview(buf.getvalue()))
    reference = frames._read_fits_astropy(buf.getvalue())
    assert np.array_equal(frame.pixels, reference.pixels) and np.array_equal(frame.pixels, pixels)
    assert frame.pixels.dtype == np.dtype(dtype) and frame.pixels.dtype.isnative
    assert frame.header == reference.header and frame.saturation == reference.saturation
    cube = io.BytesIO()
    fits.PrimaryHDU(np.stack([pixels, pixels])).writeto(cube)  # colour planes: one plane
    assert read_frame(cube.getvalue()).pixels.shape == (12, 7)
    with pytest.raises(FrameReadError):
        read_frame(buf.getvalue()[:-2880])  # cut short


@pytest.mark.parametrize(
    "dtype, planes",
    [(np.uint16, 1), (np.int16, 1), (np.uint8, 1), (np.int32, 1), (np.float32, 1), (np.uint16, 3)],
)
def test_plain_fits_is_read_without_astropy_as_astropy_reads_it(dtype: type, planes: int) -> None:
    rng = np.random.default_rng(7)
    shape = (planes, 30, 40) if planes > 1 else (30, 40)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    lo, hi = (info.min, info.max) if info else (-1e4, 1e4)
    pixels = rng.uniform(lo, hi, shape).astype(dtype)
    hdu = fits.PrimaryHDU(pixels)
    hdu.header["OBJECT"] = "M31 'core'  "
    hdu.header["FOCALLEN"] = (800.0, "mm")
    hdu.header["XBINNING"] = 2
    hdu.header["COOLER"] = True
    hdu.header["COMMENT"] = "a comment"
    buf = io.BytesIO()
    hdu.writeto(buf)
    data = buf.getvalue()
    plain = frames._read_plain_fits(data)
    assert plain is not None  # read here, not through astropy
    reference = frames._read_fits_astropy(data)
    # The same type, in the machine's byte order (astropy keeps FITS's big-endian).
    assert plain.pixels.dtype == reference.pixels.dtype.newbyteorder("=")
    np.testing.assert_array_equal(plain.pixels, reference.pixels)
    assert plain.header == reference.header
    assert plain.saturation == reference.saturation


def test_fits_beyond_plain_goes_through_astropy() -> None:
    scaled = fits.PrimaryHDU(np.arange(12, dtype=np.int16).reshape(3, 4))
    scaled.header["BSCALE"] = 2.0
    buf = io.BytesIO()
    scaled.writeto(buf)
    assert frames._read_plain_fits(buf.getvalue()) is None
    assert frames._read_plain_fits(buf.getvalue()[:3000]) is None  # truncated
    assert read_frame(buf.getvalue()).pixels.shape == (3, 4)


def large_star_field(height: int, width: int, sigma: float, n: int, seed: int = 7) -> np.ndarray:
    """uint16 frame over 6 megapixels: ``n`` Gaussian stars on a sky rising
    from 100 to 160 ADU across the frame (3 ADU noise); stars drawn in
    small boxes so that it is quick to make."""
    rng = np.random.default_rng(seed)
    image = 100.0 + np.linspace(0.0, 60.0, width)[None, :] + rng.normal(0, 3.0, (height, width))
    yy, xx = np.mgrid[-15:16, -15:16]
    for _ in range(n):
        x, y = rng.uniform(20, width - 20), rng.uniform(20, height - 20)
        xi, yi = int(x), int(y)
        peak = rng.uniform(300, 3000)
        star = peak * np.exp(-((xx + xi - x) ** 2 + (yy + yi - y) ** 2) / (2 * sigma**2))
        image[yi - 15 : yi + 16, xi - 15 : xi + 16] += star
    return np.clip(image, 0, 65535).astype(np.uint16)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_a_large_frame_searched_on_bins_measures_as_the_full_frame(monkeypatch, dtype) -> None:
    """Over 6 megapixels the sky and the stars are searched on 2x2 bins and
    the stars measured on cutouts of the integer pixels: the same stars and
    sizes as the whole frame at full resolution (odd sizes, a sky gradient)."""
    from indiws.analysis import stars

    image = large_star_field(2501, 2603, sigma=2.0, n=150).astype(dtype)
    assert image.size > stars.BIN_ABOVE
    binned = analyse(image, pixel_scale=1.5, saturation=65535)
    monkeypatch.setattr(stars, "BIN_ABOVE", image.size + 1)
    full = analyse(image, pixel_scale=1.5, saturation=65535)
    assert 140 <= full["stars"] <= 150
    assert binned["stars"] == pytest.approx(full["stars"], rel=0.03)
    assert binned["hfr"] == pytest.approx(full["hfr"], rel=0.02)
    assert binned["fwhm"] == pytest.approx(full["fwhm"], rel=0.03)
    assert binned["hfr"] == pytest.approx(1.177 * 2.0, rel=0.1)
    assert binned["noise"] == pytest.approx(3.0, rel=0.1)
    assert binned["background"] == pytest.approx(full["background"], abs=1.0)
    assert binned["median"] == pytest.approx(full["median"], abs=1.0)
