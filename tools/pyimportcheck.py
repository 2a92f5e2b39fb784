#!/usr/bin/env python3
"""Import-cycle check of a Python package (``make lint``: pyprof/).

Every import of one of the package's own modules counts, wherever it stands:
at the top of a file or inside a function (a function-level import hides a
cycle from Python's start-up, not from the design).  The modules must form a
graph without cycles; each cycle found is printed as ``a -> b -> a`` and the
exit status is 1.  ``--graph`` prints who imports whom (docs/architecture.md).

    python3 tools/pyimportcheck.py pyprof [--graph]
"""

import ast
import os
import sys


def module_names(package_dir):
    """The package's modules (file names without .py; ``__init__`` for the package itself)."""
    return sorted(name[:-3] for name in os.listdir(package_dir) if name.endswith(".py"))


def imports_of(path, package, modules):
    """The package modules that the file *path* imports (a set of names)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package:
                    found.add(parts[1] if len(parts) > 1 and parts[1] in modules else "__init__")
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != package:
                    continue
                base = parts[1:]
            elif node.level == 1:
                base = (node.module or "").split(".") if node.module else []
            else:
                continue  # above the package: not ours
            if base:
                found.add(base[0] if base[0] in modules else "__init__")
            else:  # from . import a, b: modules, or names of __init__
                for alias in node.names:
                    found.add(alias.name if alias.name in modules else "__init__")
    return found


def graph(package_dir):
    """``{module: set of imported package modules}`` (self-imports left out)."""
    package = os.path.basename(os.path.normpath(package_dir))
    modules = module_names(package_dir)
    edges = {}
    for name in modules:
        edges[name] = imports_of(os.path.join(package_dir, name + ".py"), package, modules) - {name}
    return edges


def cycles(edges):
    """Every elementary cycle's first sighting by depth-first search: lists of modules, first == last."""
    found, seen_keys = [], set()
    state = {}  # module -> 1 on the current path, 2 done

    def visit(node, path):
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in seen_keys:
                    seen_keys.add(key)
                    found.append(cycle)
            elif state.get(nxt) is None:
                visit(nxt, path)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if state.get(node) is None:
            visit(node, [])
    return found


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 1 or not os.path.isdir(args[0]):
        print("usage: pyimportcheck.py PACKAGE_DIR [--graph]", file=sys.stderr)
        return 2
    edges = graph(args[0])
    if "--graph" in argv:
        for name in sorted(edges):
            print("%s: %s" % (name, " ".join(sorted(edges[name])) or "-"))
    found = cycles(edges)
    for cycle in found:
        print("pyimportcheck: import cycle in %s: %s" % (args[0], " -> ".join(cycle)), file=sys.stderr)
    if found:
        return 1
    print("pyimportcheck: ok (%d modules of %s, no import cycle)" % (len(edges), args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
