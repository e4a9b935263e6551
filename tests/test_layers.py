"""The layers and packages hold: no import circles, Streamlit only in the web layer, dependencies pointing one way.

The graph is read from the source (every `import` and `from ... import`, function-local ones included, since a
lazy import is still a dependency), so a new circle fails here before it confuses a reader."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("oversight", "storage", "views", "web", "app.py", "serve.py")


def module_names(root: Path, parts: tuple[str, ...]) -> dict[str, Path]:
    names = {}
    for part in parts:
        base = root / part
        for f in ([base] if base.suffix == ".py" else sorted(base.rglob("*.py"))):
            dotted = list(f.relative_to(root).with_suffix("").parts)
            if dotted[-1] == "__init__":
                dotted.pop()
            names[".".join(dotted)] = f
    return names


def imports_of(name: str, path: Path, names: dict[str, Path]) -> tuple[set[str], set[str]]:
    """(modules of the tree this module imports, top-level names of everything it imports)."""
    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in names:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    inside, anything = set(), set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names]  # a name that is no module resolves to `base`
        else:
            continue
        for target in targets:
            anything.add(target.split(".")[0])
            if (hit := resolve(target)) and hit != name:
                inside.add(hit)
    return inside, anything


def import_graph(root: Path, parts: tuple[str, ...]) -> dict[str, set[str]]:
    names = module_names(root, parts)
    return {name: imports_of(name, path, names)[0] for name, path in names.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_check_finds_a_planted_circle(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import x\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import c\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    (pkg / "d.py").write_text("from . import a\n")
    graph = import_graph(tmp_path, ("pkg",))
    assert circles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert graph["pkg.d"] == {"pkg.a"}


def test_no_import_circles() -> None:
    assert circles(import_graph(ROOT, LAYERS)) == []


def test_dependencies_point_one_way() -> None:
    names = module_names(ROOT, LAYERS)
    breaches = []
    for name, path in names.items():
        layer = name.split(".")[0]
        _, imported = imports_of(name, path, names)
        if layer in ("oversight", "storage") and "streamlit" in imported:
            breaches.append(f"{name} imports streamlit (pages and web/ only)")
        if layer == "storage" and "oversight" in imported:
            breaches.append(f"{name} imports oversight (storage is the bottom layer)")
        if layer in ("oversight", "storage") and imported & {"views", "web", "app", "serve"}:
            breaches.append(f"{name} imports the web layer")
        if layer == "web" and imported & {"views", "app"}:
            breaches.append(f"{name} imports a page")
    assert breaches == []


def test_only_the_entry_points_sit_at_the_top() -> None:
    assert sorted(p.name for p in ROOT.glob("*.py")) == ["app.py", "serve.py"]
