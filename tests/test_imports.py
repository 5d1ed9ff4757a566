"""No import circle in the package: layers import only the layers below them.

Every import counts: at module level, inside functions (lazy ones), and
under ``if TYPE_CHECKING:``.  A circle is a strongly connected group of
modules in that graph; the test names its modules and their edges.  The
implicit import of a module's parent package is not an edge (a package's
``__init__`` that re-exports its modules is no circle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import indiws

PACKAGE = Path(indiws.__file__).resolve().parent


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module → the package's modules it imports (anywhere in its code)."""
    modules = {module_name(root, p): p for p in root.rglob("*.py")}
    top = root.name
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:  # `from . import x`: x may be a module
                    sub = f"{source}.{alias.name}"
                    targets.add(sub if sub in modules else source)
        graph[name] = {t for t in targets if t in modules and t != name and t.split(".")[0] == top}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_no_import_circle_in_the_package() -> None:
    graph = import_graph(PACKAGE)
    assert "indiws.web.app" in graph and len(graph) > 50  # the walk found the modules
    report = [
        "\n".join(f"{m} -> {', '.join(sorted(graph[m] & set(group)))}" for m in group)
        for group in circles(graph)
    ]
    assert not report, "import circles:\n\n" + "\n\n".join(report)


def test_the_walk_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "web").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "web" / "__init__.py").write_text("from . import app, openapi\n")
    (root / "web" / "app.py").write_text("from . import openapi\nfrom .. import low\n")
    (root / "web" / "openapi.py").write_text(
        "def build():\n    from .app import ROUTES\n    return ROUTES\n"
    )
    (root / "low.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.high import X\n"
    )
    (root / "high.py").write_text("import pkg.low\n")
    assert circles(import_graph(root)) == [
        ["pkg.high", "pkg.low"],
        ["pkg.web.app", "pkg.web.openapi"],
    ]


#: The web layer's floors, bottom up: the core every front uses, the fronts,
#: and the application on top (indiws/web/app.py says so).
WEB_CORE = {
    "base",
    "errors",
    "limits",
    "outbox",
    "jsonrpc",
    "openapi",
    "state",
    "ws_close",
    "server",
    "gate",
}
WEB_TOP = {"app", "aliases"}


def test_the_web_layer_is_in_floors() -> None:
    """The core imports no front and the fronts import nothing of the top,
    lazily or not: a front is added or removed without touching the core."""
    graph = import_graph(PACKAGE)
    web = "indiws.web."
    floor_of = {}
    for module in graph:
        if module.startswith(web):
            first = module[len(web) :].split(".")[0]
            floor_of[module] = 0 if first in WEB_CORE else 2 if first in WEB_TOP else 1
    assert {f"{web}{m}" for m in WEB_CORE | WEB_TOP} <= set(floor_of)
    upward = [
        f"{module} -> {target}"
        for module, floor in floor_of.items()
        for target in sorted(graph[module])
        if target in floor_of and floor_of[target] > floor
    ]
    assert not upward, "imports from a lower floor of indiws.web to a higher one:\n" + "\n".join(
        upward
    )
