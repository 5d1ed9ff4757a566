"""`Observatory`: a service's high-level API as typed Python calls.

    async with Observatory("http://127.0.0.1:7999") as obs:
        await obs.telescope.goto(ra=5.58, dec=-5.39)
        frame = await obs.camera.expose(2.0, binning=2, on_progress=print)
        await obs.download(frame, "m42.fits")

Every method of ``rpc.discover`` is a method here (``obs.<role>.<verb>``, or
``obs.<name>`` for the service-wide ones), generated into `._methods` by
``scripts/gen_remote.py``; `Observatory.call` reaches any method by name.
"""

from __future__ import annotations

from typing import Any

from ._methods import METHODS, Methods
from .connection import ActionCall, Connection, ProgressCallback

__all__ = ["Observatory"]


class Observatory(Connection, Methods):
    """A connection to a service with a typed method for each of its calls."""

    def __init__(self, url: str = "http://127.0.0.1:7999", token: str | None = None, **kw: Any):
        super().__init__(url, token, **kw)
        self._bind_methods()

    async def __aenter__(self) -> Observatory:
        await self.connect()
        return self

    def _rpc(
        self, method: str, params: dict[str, Any], on_progress: ProgressCallback | None = None
    ) -> ActionCall:
        # Arguments left at their default are not sent: the service's own
        # default applies, the same as for a caller that leaves them out.
        defaults = METHODS.get(method, {}).get("defaults", {})
        sent = {
            k: v
            for k, v in params.items()
            if v is not None and not (k in defaults and _same(defaults[k], v))
        }
        return self.start(method, sent, on_progress=on_progress)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b
