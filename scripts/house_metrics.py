#!/usr/bin/env python3
"""Read the package's structure from its source: long modules, long functions, import cycles.

    python scripts/house_metrics.py [PACKAGE_DIR]

Prints modules over 500 lines, functions over 80 lines of code (docstrings
not counted; and whether a comment
in their first lines says why), and the cycles of the module import graph
(imports anywhere in a module, lazy ones included).  Standard library only.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LONG_MODULE = 500
LONG_FUNCTION = 80


def module_name(path: Path, root: Path) -> str:
    """Dotted module name of *path* inside package directory *root*."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, name: str, known: set[str]) -> set[str]:
    """Package modules that the module *name* imports (resolving relative imports)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".")[: -node.level] if node.level else []
                base = ".".join([*pkg, base]) if base else ".".join(pkg)
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in known}
    out.discard(name)
    return out


def long_functions(tree: ast.AST, source: list[str]) -> list[tuple[str, int, int, bool]]:
    """(name, first line, length, explained) of every function over LONG_FUNCTION lines."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.lineno
            doc = node.body[0] if node.body else None
            if (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                    and isinstance(doc.value.value, str)):
                first = doc.end_lineno  # the docstring does not count
            length = node.end_lineno - first + 1
            if length > LONG_FUNCTION:
                head = source[first: first + 4]  # a comment right after the docstring
                explained = any(line.strip().startswith("#") and ("long" in line.lower()
                                or "80 lines" in line) for line in head)
                found.append((node.name, node.lineno, length, explained))
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def analyse(root: Path) -> dict:
    """Long modules, long functions and import cycles of the package at *root*."""
    files = sorted(root.rglob("*.py"))
    names = {module_name(p, root): p for p in files}
    known = set(names)
    graph, long_mods, long_funcs = {}, [], []
    for name, path in names.items():
        text = path.read_text()
        tree = ast.parse(text)
        graph[name] = {m for m in imported_modules(tree, name, known)
                       if not name.startswith(m + ".")}  # a package's own __init__
        n = text.count("\n")
        if n > LONG_MODULE:
            long_mods.append((name, n))
        long_funcs += [(name, *f) for f in long_functions(tree, text.splitlines())]
    return {"modules": len(names), "long_modules": long_mods, "long_functions": long_funcs,
            "cycles": cycles(graph)}


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[1] / "pointing")
    r = analyse(root)
    print(f"{r['modules']} modules in {root}")
    print(f"modules over {LONG_MODULE} lines: {len(r['long_modules'])}")
    for name, n in sorted(r["long_modules"], key=lambda x: -x[1]):
        print(f"  {n:5d}  {name}")
    unexplained = [f for f in r["long_functions"] if not f[4]]
    print(f"functions over {LONG_FUNCTION} lines: {len(r['long_functions'])} "
          f"({len(unexplained)} without a comment saying why)")
    for mod, fn, line, n, why in sorted(r["long_functions"], key=lambda x: -x[3]):
        print(f"  {n:5d}  {mod}.{fn} (line {line}){'' if why else '  no reason given'}")
    print(f"import cycles: {len(r['cycles'])}")
    for c in r["cycles"]:
        print("  " + " <-> ".join(c))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
