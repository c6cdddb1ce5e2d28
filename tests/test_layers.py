"""The layout's rules hold by test: layers (import-linter), no private names across modules, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = Path(__file__).resolve().parents[1]


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "batchcost").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names imported from it, line) for every import, at any depth, in ``name``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, [alias.name for alias in node.names], node.lineno))
    return out


def test_import_linter_contracts_are_kept() -> None:
    from importlinter.application.use_cases import lint_imports
    from importlinter.configuration import configure

    configure()  # what the lint-imports command does first: its readers and the import graph builder
    # the contracts live in pyproject.toml ([tool.importlinter])
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True) is True


def test_no_module_imports_another_modules_private_name() -> None:
    mods = modules()
    offences = []
    for name, path in mods.items():
        for target, names, line in imports(name, path):
            if not target.startswith("batchcost") or target == name:
                continue
            for imported in names:
                # a submodule named with an underscore (batchcost._progress) is a module, not a name
                if imported.startswith("_") and not imported.startswith("__") and f"{target}.{imported}" not in mods:
                    offences.append(f"{path.relative_to(SRC)}:{line}: {imported} from {target}")
    assert offences == []


def test_no_import_cycles_between_modules() -> None:
    mods = modules()
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        for target, names, _ in imports(name, path):
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                if candidate in mods and candidate != name and not name.startswith(candidate + "."):
                    graph[name].add(candidate)
                    break
    # Tarjan's strongly connected components: any with two or more modules is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    # A package's __init__ re-exporting its modules is not a cycle worth the name
    cycles = [c for c in cycles if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert cycles == []


@pytest.mark.parametrize("name", sorted(m for m in modules() if not m.endswith("__main__")))
def test_every_module_imports(name: str) -> None:
    import importlib

    importlib.import_module(name)
