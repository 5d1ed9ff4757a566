"""Instructions of every role on the role device's INDI properties: ``get_parameter``,
``set_any_one_parameter`` (the later front end's property pages)."""

from __future__ import annotations
