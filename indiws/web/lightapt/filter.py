"""lightAPT's ``filter`` instructions, over `indiws.devices.FilterWheel`."""

from __future__ import annotations
