"""lightAPT's ``focus`` instructions, over `indiws.devices.Focuser`."""

from __future__ import annotations
