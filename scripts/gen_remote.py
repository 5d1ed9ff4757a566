"""Write ``indiws/remote/_methods.py``, the typed calls of the remote client,
from a service's ``rpc.discover`` on ``/ws/indi_client/``.

    .venv/bin/python scripts/gen_remote.py              # an embedded service of its own
    .venv/bin/python scripts/gen_remote.py --url http://127.0.0.1:7999 [--token T]
    .venv/bin/python scripts/gen_remote.py --check      # exit 1 if the file is stale

With no ``--url`` it starts the service in embedded mode (its own indiserver
with the simulators, on free ports, in a temporary folder), so the output
depends only on the code.  The output is deterministic (methods sorted by
name) and formatted to pass ruff; tests/test_remote_client.py fails when it
no longer matches the service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import keyword
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "indiws" / "remote" / "_methods.py"
WIDTH = 100

HEADER = '''"""Typed calls of every ``/ws/indi_client/`` method (generated: do not edit).

Made by ``scripts/gen_remote.py`` from the service's ``rpc.discover``; run it
again after adding or changing a method (docs/client.md).
"""

# ruff: noqa: E501

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from .connection import ProgressCallback

__all__ = ["METHODS", "Methods"]


class _Namespace:
    """The methods of one role (``obs.telescope``), calling through the connection."""

    def __init__(self, owner: Any) -> None:
        self._rpc = owner._rpc
'''


def py_type(schema: dict[str, Any], shapes: dict[str, dict[str, Any]] | None = None) -> str:
    """A type annotation for a JSON Schema of ``rpc.discover``.

    An object schema with a title and properties (a declared verb's result,
    docs/verbs.md) is a TypedDict of that name, collected in ``shapes``."""
    if shapes is not None and schema.get("type") == "object" and "properties" in schema:
        title = schema.get("title")
        if title:
            known = shapes.setdefault(title, schema)
            if known != schema:
                raise SystemExit(f"two result shapes are both named {title!r}")
            return title
    if "enum" in schema:
        return "Literal[" + ", ".join(json.dumps(v) for v in schema["enum"]) + "]"
    if "anyOf" in schema:
        arms: list[str] = []
        for arm in schema["anyOf"]:
            t = py_type(arm, shapes)
            if t not in arms:
                arms.append(t)
        if "Any" in arms:
            return "Any"
        return " | ".join(arms)
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        return f"list[{py_type(items, shapes)}]" if items else "list[Any]"
    return {
        "string": "str",
        "number": "float",
        "integer": "int",
        "boolean": "bool",
        "null": "None",
        "object": "dict[str, Any]",
    }.get(kind, "Any")


def _literal(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def py_name(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) or name in ("self", "on_progress") else name


def docstring(method: dict[str, Any], indent: str) -> str:
    text = method.get("summary", "").strip() or method["name"]
    rest = [method["description"].strip()] if method.get("description") else []
    if method.get("x-events"):
        rest.append("Events: " + ", ".join(method["x-events"]) + ".")
    lines = [text]
    for para in rest:
        lines.append("")
        for raw in para.split("\n"):
            lines += textwrap.wrap(raw, WIDTH - len(indent)) or [""]
    text = "\n".join(indent + line if n and line else line for n, line in enumerate(lines))
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'{indent}"""{text}' + (f'\n{indent}"""' if len(lines) > 1 else '"""')


def shape_code(name: str, schema: dict[str, Any], shapes: dict[str, dict[str, Any]]) -> str:
    """A TypedDict for a result's object schema (NotRequired: not always there)."""
    doc = (schema.get("description") or f"The fields of a {name}.").strip()
    lines = [f"\n\nclass {name}(TypedDict):", f'    """{doc}"""', ""]
    required = set(schema.get("required", []))
    for field, sub in schema["properties"].items():
        t = py_type(sub, shapes)
        lines.append(f"    {field}: {t if field in required else f'NotRequired[{t}]'}")
    return "\n".join(lines) + "\n"


def method_code(
    method: dict[str, Any], py: str, indent: str, shapes: dict[str, dict[str, Any]]
) -> str:
    params = method.get("params", [])
    args = ["self"]
    optional: list[str] = []
    for p in params:
        schema = dict(p.get("schema", {}))
        default = schema.pop("default", None) if "default" in p.get("schema", {}) else ...
        t = py_type(schema)
        if p.get("required"):
            args.append(f"{py_name(p['name'])}: {t}")
        elif default is ... or default is None or isinstance(default, list | dict):
            if "None" not in t.split(" | ") and t != "Any":
                t += " | None"
            optional.append(f"{py_name(p['name'])}: {t} = None")
        else:
            optional.append(f"{py_name(p['name'])}: {t} = {_literal(default)}")
    args += optional
    progress = "progress" in method.get("x-events", [])
    if progress:
        args += ["*", "on_progress: ProgressCallback | None = None"]
    result = py_type(method.get("result", {}).get("schema", {}), shapes)
    values = "{" + ", ".join(f'"{p["name"]}": {py_name(p["name"])}' for p in params) + "}"
    call = f'self._rpc("{method["name"]}", {values}' + (", on_progress)" if progress else ")")
    head = f"{indent}async def {py}(" + ", ".join(args) + f") -> {result}:"
    if len(head) > WIDTH:
        inner = indent + "    "
        head = (
            f"{indent}async def {py}(\n"
            + "".join(f"{inner}{a},\n" for a in args)
            + f"{indent}) -> {result}:"
        )
    body = f"{indent}    return await {call}"
    return f"{head}\n{docstring(method, indent + '    ')}\n{body}\n"


def spec(method: dict[str, Any]) -> dict[str, Any]:
    """What the client keeps of a method: param names, defaults, events."""
    defaults = {
        p["name"]: p["schema"]["default"]
        for p in method.get("params", [])
        if "default" in p.get("schema", {})
    }
    return {
        "params": [p["name"] for p in method.get("params", [])],
        "required": [p["name"] for p in method.get("params", []) if p.get("required")],
        "defaults": defaults,
        "events": list(method.get("x-events", [])),
    }


def render(discover: dict[str, Any]) -> str:
    methods = sorted(discover["methods"], key=lambda m: m["name"])
    groups: dict[str, list[dict[str, Any]]] = {}
    top: list[dict[str, Any]] = []
    for m in methods:
        ns, dot, _ = m["name"].partition(".")
        (groups.setdefault(ns, []) if dot else top).append(m)
    # A service-wide method named like a namespace (``actions`` beside
    # ``actions.abort``) is the namespace's own call: ``obs.actions(...)``.
    called = {m["name"]: m for m in top if m["name"] in groups}
    top = [m for m in top if m["name"] not in called]
    out = [HEADER]
    shapes: dict[str, dict[str, Any]] = {}
    for ns, items in groups.items():
        cls = "".join(w.capitalize() for w in ns.split("_")) + "Methods"
        out.append(f'\n\nclass {cls}(_Namespace):\n    """``{ns}.*`` methods."""\n')
        if ns in called:
            out.append("\n" + method_code(called[ns], "__call__", "    ", shapes))
        for m in items:
            verb = m["name"].split(".", 1)[1].replace(".", "_")
            out.append("\n" + method_code(m, py_name(verb), "    ", shapes))
    out.append(
        "\n\nclass Methods:\n"
        '    """The typed calls: ``obs.<role>.<verb>(...)`` and the service-wide ones."""\n\n'
        "    def _rpc(self, method: str, params: dict[str, Any], on_progress: Any = None) -> Any:\n"
        "        raise NotImplementedError\n\n"
        "    def _bind_methods(self) -> None:\n"
    )
    for ns in groups:
        cls = "".join(w.capitalize() for w in ns.split("_")) + "Methods"
        out.append(f"        self.{ns} = {cls}(self)\n")
    if not groups:
        out.append("        pass\n")
    from indiws.remote.connection import Connection

    for name in [*groups, *(m["name"] for m in top)]:
        if hasattr(Connection, py_name(name.split(".")[0])):
            raise SystemExit(f"{name!r} clashes with Connection.{name}: rename one of them")
    for m in top:
        out.append("\n" + method_code(m, py_name(m["name"].replace(".", "_")), "    ", shapes))
    # The result shapes (nested ones found while writing them), sorted by name.
    done: set[str] = set()
    while set(shapes) - done:
        for name in sorted(set(shapes) - done):
            out.append(shape_code(name, shapes[name], shapes))
            done.add(name)
    table = json.dumps({m["name"]: spec(m) for m in methods}, indent=4, sort_keys=True)
    table = table.replace(": true", ": True").replace(": false", ": False")
    table = table.replace(": null", ": None")
    out.append(
        "\n\n#: Each method's params, required params, defaults and events.\n"
        f"METHODS: dict[str, dict[str, Any]] = {table}\n"
    )
    return "".join(out)


def formatted(text: str) -> str:
    """``ruff format`` the module when ruff is installed (it is with the test extras)."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    try:
        proc = subprocess.run(
            [ruff, "format", "--stdin-filename", str(OUT), "-"],
            input=text,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    except OSError:
        return text
    return proc.stdout if proc.returncode == 0 else text


async def discover_embedded() -> dict[str, Any]:
    from indiws.remote.connection import Connection
    from indiws.testing import start_embedded_service

    with tempfile.TemporaryDirectory(prefix="gen_remote.") as tmp:
        running = await start_embedded_service(Path(tmp))
        try:
            async with Connection(running.url) as conn:
                return await conn.discover()
        finally:
            await running.stop()


async def discover_url(url: str, token: str | None) -> dict[str, Any]:
    from indiws.remote.connection import Connection

    async with Connection(url, token) as conn:
        return await conn.discover()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running service (default: start an embedded one)")
    parser.add_argument("--token", help="its access token (or $INDIWS_TOKEN)")
    parser.add_argument("--check", action="store_true", help="only say whether the file is stale")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.url:
        discover = asyncio.run(discover_url(args.url, args.token))
    else:
        discover = asyncio.run(discover_embedded())
    text = formatted(render(discover))
    if args.check:
        stale = not args.out.exists() or args.out.read_text() != text
        print(f"{args.out} is {'stale: run scripts/gen_remote.py' if stale else 'up to date'}")
        return 1 if stale else 0
    args.out.write_text(text)
    print(f"{len(discover['methods'])} methods written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
