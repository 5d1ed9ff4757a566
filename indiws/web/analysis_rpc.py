"""JSON-RPC methods of ``/ws/indi_client/`` that use the frames' content:
``focuser.autofocus``, ``camera.solve``, ``camera.analyse`` and
``telescope.center``.

A mixin of `IndiClientSocket` (its ``_device``/``_run``/``_progress``
helpers); each method only translates to a verb of `indiws.devices`
(`autofocus`, `centering`) or `indiws.analysis`.  Documented in
docs/analysis.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ..analysis import analyse_frame
from ..analysis.solve import SolveError, SolveFailed
from ..blobs import BlobNotFound
from ..devices.autofocus import AutofocusError, AutofocusResult, autofocus
from ..devices.camera import FrameAnalysis
from ..devices.centering import CenteringError, CenterResult, Solution, center, solve_stored_frame
from .errors import register
from .jsonrpc import rpc

__all__ = ["AnalysisVerbs"]

register(SolveError, 503, -32051, "solver_unavailable")
register(SolveFailed, 422, -32050, "solve_failed")
register(AutofocusError, 422, -32052, "autofocus_failed")
register(CenteringError, 422, -32053, "centering_failed")


class AnalysedFrame(FrameAnalysis, kw_only=True):
    """A stored frame measured again: its blob id and the analysis fields."""

    blob_id: str


#: Progress of the request, and the moves and exposures it is made of.
_EVENTS = ("progress", "action.started", "action.progress", "action.finished")


class AnalysisVerbs:
    """Autofocus, plate solving and centering (mixed into `IndiClientSocket`)."""

    service: Any
    _device: Any
    _run: Any
    _progress: Any

    def _index_dir(self) -> Path:
        return Path(self.service.config.data_dir) / "sky" / "index"

    @rpc("focuser.autofocus", events=_EVENTS, result=AutofocusResult)
    async def focuser_autofocus(
        self,
        exposure: float = 2.0,
        step: int | None = None,
        steps: int = 9,
        center: int | None = None,
        backlash: int | None = None,
        fit: Literal["auto", "hyperbolic", "parabolic"] = "auto",
        min_stars: int = 8,
        extend: int | None = None,
        binning: int | None = None,
    ) -> dict:
        """Sweep the focuser, measure HFR per frame, fit the V-curve, move to best focus.

        steps positions step apart centred on center (default: the focuser's
        position; step defaults to a fiftieth of its travel); the sweep goes on
        up to extend steps past an end holding the smallest HFR. Each point is
        an exposure of exposure seconds with the camera role; points with fewer
        than min_stars stars do not count. fit: hyperbolic, parabolic or auto
        (the closer of the two). Every position is approached outward; inward
        moves overshoot by backlash steps (default: one step). Progress per
        frame: {state: start|measuring|extending|final, step, position, hfr,
        stars, blob_id}. Result: {position, hfr, stars (at the end), start:
        {position, hfr, stars}, points: [{position, hfr, stars}], fit: {kind,
        position, hfr, r2, rms, used, rejected, ...}, backlash, elapsed}.
        Errors: autofocus_failed (too few stars, no minimum in the range; data.points;
        the focuser goes back to where it was), invalid_value, and those of
        focuser.move_to and camera.expose."""
        return await self._run(
            autofocus(
                self._device("focuser"),
                self._device("camera"),
                exposure=exposure,
                step=step,
                steps=steps,
                center=center,
                backlash=backlash,
                fit=fit,
                min_stars=min_stars,
                extend=extend,
                binning=binning,
                progress=self._progress(),
            )
        )

    @rpc("camera.solve", result=Solution)
    async def camera_solve(
        self, blob_id: str | None = None, radius: float = 2.0, time_limit: float = 30.0
    ) -> dict:
        """Plate-solve a stored frame (blob_id, else the camera's newest).

        The hint is where the mount pointed (the frame's FITS header, else the
        mount now) within radius degrees; time_limit bounds the solver (s).
        Result: {ra (hours), dec (degrees), ra_deg: J2000 centre of the frame,
        epoch, rotation (degrees), pixel_scale (arcsec/px), parity,
        field_width, field_height (arcmin), stars, seconds, blob_id, hint:
        {ra, dec, radius, source}, pointing_error (arcsec from the hint)}.
        Errors: unknown_frame, solve_failed (no solution, too few stars),
        solver_unavailable (solve-field missing, unreadable frame)."""
        telescope = None
        if self.service.roles.device_for("telescope") is not None:
            telescope = self._device("telescope")
        camera = None
        if self.service.roles.device_for("camera") is not None:
            camera = self._device("camera")
        return await solve_stored_frame(
            self.service.blobs,
            blob_id=blob_id,
            camera=camera,
            telescope=telescope,
            index_dir=self._index_dir(),
            radius=radius,
            time_limit=time_limit,
        )

    @rpc("camera.analyse", result=AnalysedFrame)
    async def camera_analyse(self, blob_id: str | None = None) -> dict:
        """Measure a stored frame again (blob_id, else the newest): the analysis
        fields of camera.expose's result (stars, hfr, fwhm, background, ...)."""
        store = self.service.blobs
        if blob_id is None:
            latest = store.latest()
            if latest is None:
                raise BlobNotFound("latest")
            blob_id = latest.id
        blob = store.get(blob_id)
        return {"blob_id": blob_id, **await analyse_frame(blob.data, blob.info.format)}

    @rpc("telescope.center", events=_EVENTS, result=CenterResult)
    async def telescope_center(
        self,
        ra: float,
        dec: float,
        epoch: Literal["J2000", "JNow"] = "J2000",
        tolerance: float = 30.0,
        attempts: int = 5,
        exposure: float = 2.0,
        binning: int | None = None,
        radius: float = 2.0,
        time_limit: float = 30.0,
        method: Literal["auto", "sync", "offset"] = "auto",
    ) -> dict:
        """Put RA (hours)/Dec (degrees) in the middle of the frame: goto, then
        expose, solve, sync and goto again until within tolerance arcsec.

        At most attempts solves; exposure/binning for the frames; radius and
        time_limit as for camera.solve. method: sync (sync to the solution,
        goto again), offset (goto the target shifted by the error), auto (sync,
        then offset once a sync did not halve the error). Progress: {state: slewing|exposing|
        solving|solved|syncing, attempt, ...; solved adds ra, dec, error
        (arcsec), blob_id}. Result: {target: {ra, dec, epoch: J2000},
        solution (the last camera.solve result), error (arcsec), method (the
        last correction), attempts: [{attempt, ra, dec, error, correction,
        blob_id}], elapsed}. Errors:
        centering_failed (data.attempts), solve_failed, and those of
        telescope.goto/sync and camera.expose."""
        return await self._run(
            center(
                self._device("telescope"),
                self._device("camera"),
                self.service.blobs,
                ra,
                dec,
                epoch=epoch,
                tolerance=tolerance,
                attempts=attempts,
                exposure=exposure,
                binning=binning,
                radius=radius,
                time_limit=time_limit,
                method=method,
                index_dir=self._index_dir(),
                progress=self._progress(),
            )
        )
