"""The house rules of docs/architecture.md, checked from the source: no import circles
(function-level imports included), the public face at the root, a clean namespace."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import sftdata
from _paths import ROOT

PACKAGE = ROOT / "sftdata"

#: The root holds the public face only; every other story lives in its own folder.
ROOT_MODULES = {"__init__", "__main__", "api", "check", "detect", "errors", "hf", "lock", "progress", "ray", "record", "tokens"}


def module_names() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports anywhere (module level or inside a
    function), except under ``if TYPE_CHECKING:``. ``from pkg import sub`` counts as an
    import of ``pkg.sub`` when that is a module; a module's own ancestors do not count
    (Python runs a package's ``__init__`` before any of its submodules anyway)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
            found.update(subs or [base])
    return {m for m in found if m in modules and m != name and not name.startswith(m + ".")}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                    out.append(sorted(component))
    return out


def graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_cycle_finder_finds_a_planted_cycle() -> None:
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(planted) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_imports_are_edges(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from .other import x\n\nif TYPE_CHECKING:\n    from .third import y\n")
    modules = {"pkg.m": src, "pkg.other": tmp_path / "other.py", "pkg.third": tmp_path / "third.py"}
    assert imports_of("pkg.m", src, modules) == {"pkg.other"}


def test_no_import_circles() -> None:
    assert cycles(graph()) == []


def test_stats_report_and_plot_do_not_import_the_computing_side() -> None:
    g = graph()
    assert "sftdata.stats.compute" not in g["sftdata.stats.report"]
    assert "sftdata.stats.compute" not in g["sftdata.stats.plot"]
    source = (PACKAGE / "stats" / "report.py").read_text(encoding="utf-8")
    assert "TYPE_CHECKING" not in source


def test_engines_know_no_step() -> None:
    """The local engine maps any step over byte ranges; steps depend on it, not the reverse."""
    g = graph()
    for target in g["sftdata.engines.local"]:
        assert target.startswith(("sftdata.io", "sftdata.errors", "sftdata.record")), target
    for engine in ("sftdata.engines.ray", "sftdata.engines.run"):
        for target in g[engine]:
            assert target.startswith(("sftdata.io", "sftdata.errors", "sftdata.record", "sftdata.engines.base", "sftdata.engines.local", "sftdata.engines.ray")), (engine, target)


def test_root_holds_only_the_public_face() -> None:
    loose = {p.stem for p in PACKAGE.glob("*.py")}
    assert loose == ROOT_MODULES


def test_namespace_is_the_curated_all() -> None:
    assert dir(sftdata) == sorted([*sftdata.__all__, "__version__"])
    # submodules become attributes once imported (Python does that); nothing else may leak
    public = {name for name, value in vars(sftdata).items() if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert public <= set(sftdata.__all__), public - set(sftdata.__all__)
    assert (PACKAGE / "py.typed").is_file()
