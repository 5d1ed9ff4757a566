"""lightAPT's ``camera`` and ``guider`` instructions, over `indiws.devices.Camera`."""

from __future__ import annotations
