"""The package-level import graph of snoopipe has no cycle and follows the layers.

A node is a top-level package or module of snoopipe (`lake`, `state`, `transform`,
`cli`, ...). An edge A -> B is any `import snoopipe.B...` / `from snoopipe.B... import`
/ `from snoopipe import B` in any module of A, at module level or inside a function or
method.

Imports under `if TYPE_CHECKING:` never run, so they cannot make an import cycle; they
are still held to the layers (`test_type_checking_imports_keep_to_the_layers`): the
stages name the backends they are handed through `stage_resources.StageResources`, a
Protocol below them, not `resources.Resources` above them.

Run as a script (`python tests/unit/test_package_graph.py`) to print the graph and its
cycles.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import snoopipe

ROOT = Path(snoopipe.__file__).parent

# Lowest layer first. A package may import its own layer's packages (no cycle allowed,
# the test below checks that) and any lower layer, never a higher one.
LAYERS: tuple[frozenset[str], ...] = (
    # plain values, errors, formatting and process helpers: no snoopipe package below
    # (engines names each engine's runner as "module:function", imported only when it runs)
    frozenset({"errors", "tables", "sqltext", "stage_outputs", "redact", "interrupts",
               "crash_points", "engines", "private", "output", "table_layout",
               "progress_bars"}),
    frozenset({"settings"}),
    frozenset({"lake"}),
    frozenset({"state"}),
    # the Protocol of what a stage is handed (settings, lake, state)
    frozenset({"stage_resources"}),
    # the stages and what they read; sources never reads the stages' data
    frozenset({"sources", "transform", "quality", "warehouse", "simulator"}),
    # every backend opened from Settings; alerts, the quarantine viewer, doctor
    frozenset({"resources", "alerts", "quarantine", "doctor"}),
    frozenset({"orchestration"}),
    # the HTML report reads run statuses as orchestration words them
    frozenset({"report"}),
    frozenset({"cli"}),
)


def nodes() -> set[str]:
    """Top-level packages and modules of snoopipe (`__init__` and `__main__` excluded)."""
    out = set()
    for path in ROOT.iterdir():
        if path.is_dir() and (path / "__init__.py").exists():
            out.add(path.name)
        elif path.suffix == ".py" and not path.name.startswith("__"):
            out.add(path.stem)
    return out


def _node_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _statements(tree: ast.AST, type_checking: bool):
    """Every node of the tree; the bodies of `if TYPE_CHECKING:` only if type_checking."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if _is_type_checking(node) and not type_checking:
            stack.extend(node.orelse)  # type: ignore[attr-defined]
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imported(tree: ast.AST, known: set[str], *, type_checking: bool = True) -> set[str]:
    """The snoopipe nodes a module's imports name (every import statement in the tree;
    those under `if TYPE_CHECKING:` only with type_checking)."""
    out = set()
    for node in _statements(tree, type_checking):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "snoopipe" and len(parts) > 1:
                    out.add(parts[1])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "snoopipe":
                continue
            if len(parts) > 1:
                out.add(parts[1])
            else:  # from snoopipe import lake, __version__
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError("relative imports are not used in snoopipe")
    return out & known


def package_graph(*, type_checking: bool = False) -> dict[str, set[str]]:
    """{node: nodes it imports} over every module of snoopipe, self-edges left out;
    with type_checking, imports under `if TYPE_CHECKING:` too."""
    known = nodes()
    graph: dict[str, set[str]] = {n: set() for n in known}
    for path in sorted(ROOT.rglob("*.py")):
        if path.name == "__init__.py" and path.parent == ROOT:
            continue
        source = _node_of(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        graph[source] |= _imported(tree, known, type_checking=type_checking) - {source}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def upward_edges(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Edges from a layer to a higher one."""
    layer = {n: i for i, names in enumerate(LAYERS) for n in names}
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if layer[b] > layer[a])


def describe(graph: dict[str, set[str]]) -> str:
    typed = package_graph(type_checking=True)
    lines = [f"{n:14} -> {', '.join(sorted(graph[n])) or '-'}"
             + (f"  (TYPE_CHECKING only: {', '.join(sorted(typed[n] - graph[n]))})"
                if typed.get(n, set()) - graph[n] else "")
             for n in sorted(graph)]
    found = cycles(graph)
    lines.append("")
    lines.append(f"cycles (strongly connected components): {len(found)}")
    lines += ["  " + " <-> ".join(c) for c in found]
    if all(n in {m for layer in LAYERS for m in layer} for n in graph):
        lines.append("")
        lines.append("edges to a higher layer:")
        lines += [f"  {a} -> {b}" for a, b in upward_edges(graph)] or ["  -"]
    return "\n".join(lines)


def test_every_package_has_a_layer():
    layered = {n for layer in LAYERS for n in layer}
    assert nodes() - layered == set()


def test_no_package_level_import_cycle():
    graph = package_graph()
    assert cycles(graph) == [], describe(graph)


def test_packages_import_only_their_layer_and_below():
    graph = package_graph()
    assert upward_edges(graph) == [], describe(graph)


def test_type_checking_imports_keep_to_the_layers():
    typed = package_graph(type_checking=True)
    assert cycles(typed) == [], describe(typed)
    assert upward_edges(typed) == [], describe(typed)


def test_graph_sees_function_level_and_type_checking_imports():
    # The walker reads every statement: an import inside a function is an edge like a
    # module-level one; one under TYPE_CHECKING only when asked for.
    tree = ast.parse("def f():\n    from snoopipe.state import StateStore\n"
                     "if TYPE_CHECKING:\n    import snoopipe.lake.base\n"
                     "else:\n    import snoopipe.tables\n"
                     "from snoopipe import settings, __version__\n")
    known = {"state", "lake", "settings", "tables"}
    assert _imported(tree, known) == known
    assert _imported(tree, known, type_checking=False) == known - {"lake"}


if __name__ == "__main__":
    sys.stdout.write(describe(package_graph()) + "\n")
