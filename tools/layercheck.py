"""Checks the layering of csrc/: a module may include only headers of its
own layer or below (docs/architecture.md), and the includes between modules
(X.c and X.h are one module) form no cycle, inside a layer too.  Exit 1 on
a violation."""
import os
import re
import sys

LAYERS = {
    "err": 0, "log": 0, "util": 0, "dl": 0,
    "mem": 1, "mem_live": 1, "mem_snap": 1, "maps": 1, "elf": 1, "proc": 1, "perf": 1, "pstop": 1, "event": 1,
    "bpf": 1, "bpf/capture": 1, "bpf/capture.bpf": 1,
    "py/layout": 2, "py/offsets": 2, "py/offsets_table": 2, "py/runtime": 2,
    "dw": 2, "unwind": 2, "unwind_dw": 2, "unwind_lu": 2, "sym": 2,
    "linetable": 3, "pycode": 3, "pyframe": 3, "pythreadname": 3, "pylocals": 3,
    "agg": 4, "out": 4, "merge": 4, "pystack": 4,
    "loop": 5, "sample": 5, "mode_python": 5, "native": 5, "mode_perf": 5, "mode_ptrace": 5,
    "mode": 5, "mode_bpf": 5, "system": 5, "multi": 5, "main": 5,
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def module_of(path, root):
    rel = os.path.relpath(path, root)
    name = os.path.splitext(rel)[0]
    if name.startswith("py/offsets_3_"):
        return "py/offsets"
    return name


def find_cycle(graph):
    """One include cycle of graph (module -> set of modules), or None."""
    state = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep, path)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def main(root):
    bad = 0
    graph = {}
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, f)
            mod = module_of(path, root)
            if mod not in LAYERS:
                print("layercheck: %s: module not in the layer table" % path)
                bad += 1
                continue
            with open(path, encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = os.path.normpath(os.path.join(os.path.dirname(path), m.group(1)))
                    dep = module_of(target, root)
                    if dep not in LAYERS:
                        continue
                    if dep != mod:
                        graph.setdefault(mod, set()).add(dep)
                    if LAYERS[dep] > LAYERS[mod]:
                        print("layercheck: %s:%d: L%d module includes L%d %s"
                              % (path, lineno, LAYERS[mod], LAYERS[dep], dep))
                        bad += 1
    cycle = find_cycle(graph)
    if cycle:
        print("layercheck: include cycle: %s" % " -> ".join(cycle))
        bad += 1
    print("layercheck: %s" % ("ok" if not bad else "%d violation(s)" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "csrc"))
