"""Instructions of every role on the role device's INDI properties: ``get_parameter``,
``set_any_one_parameter`` (the later front end's property pages).

``get_parameter`` lists every property of the role's device as cobalt-web
types it (``src/interfaces/DeviceControl.d.ts``)::

    {"property_name": "TELESCOPE_SLEW_RATE",
     "property_info": {"type": "SWITCH", "permission": "ReadWrite",
                       "data": [{"name": "1x", "label": "1x", "switch": false}, ...],
                       "label": ..., "group": ..., "state": "Idle", "rule": "OneOfMany"}}

``set_any_one_parameter [property_name, property_info]`` takes such a
``property_info`` back with values edited, and sets the property through the
device's checked `apply` (read-only properties, lights, BLOBs and bad values
are refused before anything is sent).
"""

from __future__ import annotations

from typing import Any

from .base import Context, LightAptError, instruction

#: Every role: the property pages exist for each of them.
ROLES = ("telescope", "camera", "guider", "focuser", "filter_wheel")
PERMISSIONS = {"ro": "ReadOnly", "wo": "WriteOnly", "rw": "ReadWrite"}
#: The key of an element's value in property_info.data, by property type.
#: (Lights and BLOBs too, so that the device refuses them in its own words.)
VALUE_KEYS = {
    "NUMBER": "value",
    "TEXT": "text",
    "SWITCH": "switch",
    "LIGHT": "status",
    "BLOB": "size",
}


def _element(kind: str, el: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": el["name"], "label": el["label"]}
    if kind == "NUMBER":
        out.update(value=el.get("value"), max=el.get("max"), min=el.get("min"))
    elif kind == "TEXT":
        out["text"] = el.get("value")
    elif kind == "SWITCH":
        out["switch"] = el.get("value") == "On"
    elif kind == "LIGHT":
        out["status"] = el.get("value")
    else:  # BLOB: its size, never its bytes
        out["size"] = el.get("size")
    return out


def shape_property(prop: dict[str, Any]) -> dict[str, Any]:
    """A property (`indiws.client.Property.to_dict`) as cobalt-web reads it."""
    kind = prop["kind"].upper()
    return {
        "property_name": prop["name"],
        "property_info": {
            "type": kind,
            "permission": PERMISSIONS.get(prop["perm"], prop["perm"]),
            "data": [_element(kind, el) for el in prop["elements"]],
            "label": prop["label"],
            "group": prop["group"],
            "state": prop["state"],
            "rule": prop["rule"],
        },
    }


@instruction(ROLES)
async def get_parameter(ctx: Context) -> list[dict[str, Any]]:
    """Every property of the role's device, in the driver's order."""
    return [shape_property(p.to_dict()) for p in ctx.device().properties()]


def _values(property_info: dict[str, Any]) -> dict[str, Any]:
    """The element values of an edited ``property_info``: ``{name: value}``."""
    data = property_info.get("data")
    if not isinstance(data, list) or not data:
        raise LightAptError(
            "property_info.data must be the list of elements, e.g."
            ' [{"name": "TELESCOPE_APERTURE", "value": 120}]'
        )
    kind = property_info.get("type")
    keys = [VALUE_KEYS[kind]] if kind in VALUE_KEYS else ["value", "text", "switch"]
    values: dict[str, Any] = {}
    for el in data:
        if not isinstance(el, dict) or not isinstance(el.get("name"), str):
            raise LightAptError(f"each element of property_info.data needs a name, got {el!r}")
        key = next((k for k in keys if k in el), None)
        if key is None:
            raise LightAptError(
                f"element {el['name']!r} of property_info.data has no {' or '.join(keys)}"
            )
        values[el["name"]] = el[key]
    return values


@instruction(ROLES)
async def set_any_one_parameter(
    ctx: Context, property_name: str, property_info: dict[str, Any]
) -> bool:
    """Set a property from an edited ``property_info``; answers ``true`` once
    the driver has taken it (errors name what was refused)."""
    await ctx.device().apply(property_name, _values(property_info), who=ctx.endpoint.who)
    return True
