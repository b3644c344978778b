"""Fails when files of a Rust source tree import each other in a circle.

A file imports another when it names an item through `crate::`, `super::` or `self::` paths
(in `use` or inline) that resolves to that file, or when a parent module names one of its
child modules' items (`child::Item`). Declaring a child (`mod child;`) is not an import. Test
modules (`#[cfg(test)] mod tests` at the end of a file) are left out.

Usage: check_import_cycles.py SRC_DIR...   (exit status 1 when a circle is found)
"""

import os
import re
import sys
from pathlib import Path

PATH = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)(::\{([^}]*)\})?")
CHILD = re.compile(r"(?<![:\w])([a-z_][a-z0-9_]*)::(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")


def module_path(root: Path, file: Path) -> tuple:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def resolve(modules: dict, here: tuple, segments: list):
    base, i = list(here), 0
    if segments[0] == "crate":
        base, i = [], 1
    else:
        while i < len(segments) and segments[i] in ("super", "self"):
            if segments[i] == "super":
                base = base[:-1]
            i += 1
    rest = segments[i:]
    for k in range(len(rest), -1, -1):
        candidate = tuple(base + rest[:k])
        if candidate in modules:
            return candidate
    return None


def imports(root: Path) -> dict:
    modules = {module_path(root, f): f for f in root.rglob("*.rs")}
    edges = {m: set() for m in modules}
    for here, file in modules.items():
        text = re.sub(r"//[^\n]*", "", file.read_text())
        tests = text.find("#[cfg(test)]\nmod tests")
        if tests >= 0:
            text = text[:tests]
        for match in CHILD.finditer(text):
            child = here + (match.group(1),)
            if child in modules:
                edges[here].add(child)
        for match in PATH.finditer(text):
            segments = match.group(1).split("::")
            targets = [segments]
            for part in (match.group(3) or "").split(","):
                part = part.strip().split(" ")[0]
                if part:
                    targets.append(segments + part.split("::"))
            for target in targets:
                found = resolve(modules, here, target)
                if found is not None and found != here:
                    edges[here].add(found)
    return edges


def circles(edges: dict) -> list:
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(100_000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
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
                found.append(component)

    for v in edges:
        if v not in index:
            visit(v)
    return found


def main() -> int:
    failed = False
    for root in map(Path, sys.argv[1:]):
        for component in circles(imports(root)):
            names = sorted("/".join(m) or "lib" for m in component)
            print(f"{root}: files import each other in a circle: {', '.join(names)}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
