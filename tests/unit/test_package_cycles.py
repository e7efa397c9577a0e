"""No import cycle among the packages of app/, imports inside functions included (grimp reads them all)."""

from __future__ import annotations

from collections import defaultdict

import grimp


def package_imports() -> dict[str, dict[str, list[str]]]:
    """For each package (or top-level module) of app/: the packages it imports, with one importing line each."""
    graph = grimp.build_graph("app")
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for module in graph.modules:
        if module == "app":
            continue
        source = module.split(".")[1]
        for imported in graph.find_modules_directly_imported_by(module):
            if imported == "app" or imported.split(".")[1] == source:
                continue
            edges[source][imported.split(".")[1]].append(f"{module} -> {imported}")
    return edges


def cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b": ["a.x -> b.y"]}, "b": {"c": ["b.y -> c.z"]}, "c": {"a": ["c.z -> a.x"]}, "d": {"a": []}}
    assert cycles(edges) == [["a", "b", "c"]]


def test_no_import_cycle_among_the_packages_of_app() -> None:
    edges = package_imports()
    assert "cases" in edges and "tracking" in edges["reminders"]  # the graph was read
    found = cycles(edges)
    lines = [
        f"{' <-> '.join(group)}: " + "; ".join(
            edges[source][target][0] for source in group for target in group if target in edges[source]
        )
        for group in found
    ]
    assert not found, "\n".join(lines)
