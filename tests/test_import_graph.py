"""The package's import graph, read from the source with ``ast``: one-way layers and no cycles.

Every ``import`` counts, also those inside functions (an import moved into a function to dodge a
cycle is still a cycle in the design); only ``if TYPE_CHECKING:`` blocks are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "coursekit"

# The course layer (setup, lesson artefacts, comparison tables, plots) sits on top of the library.
COURSE_LAYER = ("coursekit.course", "coursekit.lessons", "coursekit.compare", "coursekit.plots")
# The package root re-exports the course's setup() for `import coursekit; coursekit.setup()`.
ROOT = "coursekit"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The coursekit modules ``path`` imports (``from coursekit import x`` counts as ``coursekit.x`` when x is a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from package import submodule` imports the submodule; any other name comes from `base`.
            # (A parent package's __init__ always runs first; those implicit edges are not counted.)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def in_course_layer(module: str) -> bool:
    return any(module == c or module.startswith(c + ".") for c in COURSE_LAYER)


def test_the_graph_is_read():
    graph = import_graph()
    assert "coursekit.model.matrix_factorization" in graph["coursekit.model"]
    assert "coursekit._ranking_engine" in graph["coursekit.metrics"]


def test_no_library_module_imports_the_course_layer():
    offenders = {
        module: sorted(filter(in_course_layer, imported))
        for module, imported in import_graph().items()
        if module != ROOT and not in_course_layer(module) and any(map(in_course_layer, imported))
    }
    assert not offenders, f"library modules importing the course layer: {offenders}"


def test_no_import_cycles():
    graph = import_graph()
    # Tarjan's strongly connected components; any component with more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    assert not cycles, f"import cycles: {cycles}"
