"""The package's shape: no import cycle, subpackages import only lower layers, the edge only public modules.

Every ``import`` in rag/ and ui/ counts, including those inside functions (a lazy import is still a
dependency). The checks are first run on small hand-made graphs, so a checker that finds nothing
cannot pass by accident.
"""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

# Layers, lowest first: a module may import its own subpackage and any lower layer, never a higher one.
LAYERS = [
    {"rag.errors", "rag.config", "rag.version"},
    {"rag.text", "rag.question", "rag.chats", "rag.users", "rag.discovery"},
    {"rag.ingest", "rag.embed"},
    {"rag.storage"},
    {"rag.build"},
    {"rag.retrieve"},
    {"rag.answer"},
    {"rag.llm"},
    {"rag.assemble"},
    {"rag.api"},
    {"rag"},
    {"rag.evaluation"},
    {"ui"},
    {"rag.cli", "rag.__main__"},
]
# The edge (the CLI, the web page, the HTTP API) imports only the library's public surface (see edge_violations).
EDGE = ("rag.cli", "rag.__main__", "ui")


INSTALLED = {"rag_ui": "ui"}   # the installed package name -> its folder (pyproject.toml's package-dir)


def folder_name(module: str) -> str:
    """rag_ui.app -> ui.app: modules are named by their folders here."""
    top, dot, rest = module.partition(".")
    return INSTALLED.get(top, top) + dot + rest


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the project modules it imports (anywhere in its code)."""
    files = {module_name(p): p for top in ("rag", "ui") for p in (root / top).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(folder_name(a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = folder_name(node.module or "")
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                for a in node.names:
                    deps.add(f"{base}.{a.name}" if f"{base}.{a.name}" in files else base)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]; counter[0] += 1
        stack.append(start); on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop(); on.discard(w); comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def layer_of(module: str) -> int:
    best = None
    for i, names in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and (best is None or len(n) > best[1]):
                best = (i, len(n))
    assert best is not None, f"{module} is in no layer: add its subpackage to LAYERS"
    return best[0]


def upward_imports(graph) -> list[str]:
    return sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps if layer_of(b) > layer_of(a))


def edge_violations(graph) -> list[str]:
    """Edge imports of anything but rag's top-level modules and its subpackages' public surfaces
    (their __init__: ``from rag.text import plain``), never a module inside a subpackage."""
    return sorted(f"{a} -> {b}" for a, deps in graph.items() if a.startswith(EDGE)
                  for b in deps if b.startswith("rag") and b.count(".") > 1 and not b.startswith(EDGE))


def test_the_checks_find_what_they_look_for():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert upward_imports({"rag.text.chunk": {"rag.storage.reader"}, "rag.storage.reader": set()}) == [
        "rag.text.chunk -> rag.storage.reader"]
    assert edge_violations({"ui.app": {"rag.storage.writer", "rag.api"}, "rag.api": set(),
                            "rag.storage.writer": set()}) == ["ui.app -> rag.storage.writer"]


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_subpackages_import_only_lower_layers():
    assert upward_imports(import_graph()) == []


def test_the_edge_imports_only_public_modules():
    assert edge_violations(import_graph()) == []


def test_the_ui_folder_imports_itself_only_relatively():
    """ui/ is installed as rag_ui: an absolute `ui.` (or `rag_ui.`) import inside it would break one of the names."""
    found = []
    for path in (ROOT / "ui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("ui", *INSTALLED)]
    assert found == []


def test_the_wheel_lists_every_subpackage_and_no_top_level_ui():
    import tomllib

    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = {module_name(p.parent) if p.parent != ROOT / "rag" else "rag"
               for p in (ROOT / "rag").rglob("__init__.py")}
    assert set(tool["packages"]) == on_disk | set(INSTALLED) and "ui" not in tool["packages"]
    assert tool["package-dir"] == {"rag": "rag", **INSTALLED}
