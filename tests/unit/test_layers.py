"""The package's layers read top to bottom, and imports only ever go down.

``cli`` -> faces (``api/``) -> logic (``orders``, ``market``, ``account``, ``streaming``,
``diagnostics``)
-> ``mapping``, ``database`` -> ``transport`` -> foundation (``config``, ``redact``,
``errors``, ``clock``, ``records``, ``host``, ``local``). Every import counts, including
those inside functions and under ``TYPE_CHECKING``: a lazy import upward is still a
dependency upward. Within one layer any import is allowed as long as it forms no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "broker.mstock"
ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "broker" / "mstock"

# Top-level name inside broker/mstock -> layer rank (higher may import lower, never upward).
LAYERS: dict[str, int] = {
    "__main__": 6,
    "cli": 6,
    "api": 5,
    "orders": 4,
    "market": 4,
    "account": 4,
    "streaming": 4,
    "diagnostics": 4,
    "mapping": 3,
    "database": 3,
    "transport": 2,
    "__init__": 1,
    "config": 1,
    "redact": 1,
    "errors": 1,
    "clock": 1,
    "records": 1,
    "host": 1,
    "local": 1,
}
LAYER_NAMES = {6: "cli", 5: "faces (api)", 4: "logic", 3: "mapping/database", 2: "transport", 1: "foundation"}

# What OpenAlgo imports by name from api/ (contract 0), plus the boundary.
FACES = {"__init__", "auth_api", "order_api", "data", "funds", "margin_api", "baseurl", "boundary"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 2:
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PLUGIN.rglob("*.py"))}


def _resolve(node: ast.ImportFrom, module: str, path: Path, known: dict[str, Path]) -> list[str]:
    if node.level:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith(PACKAGE):
        return []
    found = []
    for alias in node.names:
        submodule = f"{target}.{alias.name}"
        found.append(submodule if submodule in known else target)
    return found


def _edges() -> dict[str, set[str]]:
    known = _modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                targets = _resolve(node, name, path, known)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith(PACKAGE) and a.name in known]
            else:
                continue
            graph[name].update(t for t in targets if t != name)
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    head = parts[2] if len(parts) > 2 else "__init__"
    if head not in LAYERS:
        raise AssertionError(f"{module}: its folder {head!r} has no layer; add it to LAYERS and docs/ARCHITECTURE.md")
    return LAYERS[head]


def test_every_module_belongs_to_a_layer():
    unassigned = [m for m in _modules() if (m.split(".")[2] if m.count(".") > 1 else "__init__") not in LAYERS]
    assert unassigned == []


def test_imports_only_go_down():
    upward = sorted(
        f"{src} ({LAYER_NAMES[_layer(src)]}) imports {dst} ({LAYER_NAMES[_layer(dst)]})"
        for src, targets in _edges().items()
        for dst in targets
        if _layer(dst) > _layer(src)
    )
    assert upward == []


def test_no_import_cycle():
    graph = _edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


def test_api_holds_only_the_faces_openalgo_imports():
    assert sorted(p.stem for p in (PLUGIN / "api").glob("*.py")) == sorted(FACES)


@pytest.mark.parametrize(
    ("src", "dst"),
    [("broker.mstock.transport.client", "broker.mstock.api.order_api"), ("broker.mstock.host", "broker.mstock.database.normalize")],
)
def test_the_rule_is_real(src, dst):
    """The check itself: an upward edge like these would be reported."""
    assert _layer(dst) > _layer(src)
