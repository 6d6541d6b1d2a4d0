#!/usr/bin/env python3
"""Prints the import circles between the module files of a Rust crate.

Usage: tools/import_cycles.py [--with-parents] [--with-tests] [SRC_DIR]
(SRC_DIR defaults to pipeline-core/src)

Every `.rs` file under SRC_DIR is one module (`lib.rs` the crate root,
`a/mod.rs` and `a.rs` the module `a`, `a/b.rs` the module `a::b`; a
`#[path = ...]` file is its own module too). An edge `a -> b` is a path in
`a`'s code (comments and string literals left out) that names an item of `b`:
a `use` tree, or a path in the code starting with `crate::`, `super::`,
`self::`, a submodule declared in the file, or a module a `use` brought into
scope. A path ends at the longest prefix that is a module file; an item that
module only re-exports (`pub use`, `pub(crate) use`) is followed to where it
is defined, and a re-export is no edge of its own unless the module's code
uses the name too, so a facade (`lib.rs`, a `mod.rs`) is not a hub of every
circle.

A circle is a strongly connected component of more than one module. Edges
from a module to one of its own ancestors (a submodule using what its parent
declares, while the parent uses the submodule) are Rust's module tree, not a
circle between two jobs: they are left out unless `--with-parents` is given.
Code under `#[cfg(test)]` (inline test modules, test module files) is left
out unless `--with-tests` is given: a test uses whatever it tests through.

Prints each circle with one source location per edge inside it; exits 1 if
there is any circle, else prints "no import circles" and exits 0.
"""

from __future__ import annotations

import re
import signal
import sys
from collections import defaultdict
from pathlib import Path

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PATH_ROOTS = {"crate", "super", "self"}


def tokens(text: str) -> list[tuple[str, int]]:
    """Identifiers, `::` and single punctuation characters, with their line,
    skipping comments, string, byte-string, raw-string and char literals."""
    out: list[tuple[str, int]] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += text[i] == "\n"
                    i += 1
        elif (m := re.compile(r'b?r(#*)"').match(text, i)) and (
            i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            end = '"' + m.group(1)
            j = text.find(end, m.end())
            j = n if j < 0 else j + len(end)
            line += text.count("\n", i, j)
            i = j
        elif c == '"' or text.startswith('b"', i) and not _ident_before(text, i):
            i += 1 if c == '"' else 2
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                line += text[i] == "\n"
                i += 1
            i += 1
        elif c == "'" or (text.startswith("b'", i) and not _ident_before(text, i)):
            start = i + (1 if c == "'" else 2)
            m = re.compile(r"(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\\n])'").match(text, start)
            # A char literal; otherwise a lifetime or label (`'a`).
            i = m.end() if m else start
        elif m := IDENT.match(text, i):
            out.append((m.group(), line))
            i = m.end()
        elif text.startswith("::", i):
            out.append(("::", line))
            i += 2
        else:
            out.append((c, line))
            i += 1
    return out


def _ident_before(text: str, i: int) -> bool:
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")


def module_of(src: Path, file: Path) -> tuple[str, ...]:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts == ["lib"] or parts == ["main"]:
        return ()
    if parts[-1] == "mod":
        parts.pop()
    return tuple(parts)


def _is_test_attribute(toks, start: int, end: int) -> bool:
    """Whether the attribute `toks[start:end]` (`# [ ... ]`) is `cfg(...)`
    naming `test` outside a `not(...)`."""
    names = [t for t, _ in toks[start:end]]
    return len(names) > 3 and names[2] == "cfg" and "test" in names and "not" not in names


def without_tests(toks):
    """The tokens of a file without its `#[cfg(test)]` inline modules, and the
    names of the test module files it declares (`#[cfg(test)] mod x;`)."""
    out, test_files, i = [], set(), 0
    while i < len(toks):
        if toks[i][0] == "#" and i + 1 < len(toks) and toks[i + 1][0] == "[":
            # Attributes, then the item they are on.
            j, gated = i, False
            while j + 1 < len(toks) and toks[j][0] == "#" and toks[j + 1][0] == "[":
                depth, k = 0, j + 1
                while k < len(toks):
                    depth += {"[": 1, "]": -1}.get(toks[k][0], 0)
                    k += 1
                    if depth == 0:
                        break
                gated |= _is_test_attribute(toks, j, k)
                j = k
            if gated and j + 1 < len(toks) and toks[j][0] == "mod":
                if toks[j + 2][0] == ";":
                    test_files.add(toks[j + 1][0])
                    i = j + 3
                    continue
                depth, k = 0, j + 2
                while k < len(toks):
                    depth += {"{": 1, "}": -1}.get(toks[k][0], 0)
                    k += 1
                    if depth == 0:
                        break
                i = k
                continue
            out.extend(toks[i:j])
            i = j
            continue
        out.append(toks[i])
        i += 1
    return out, test_files


class Crate:
    def __init__(self, src: Path, with_tests: bool = False):
        self.src = src
        self.files = {module_of(src, f): f for f in sorted(src.rglob("*.rs"))}
        self.toks = {m: tokens(f.read_text()) for m, f in self.files.items()}
        if not with_tests:
            test_modules = set()
            for module in list(self.toks):
                self.toks[module], names = without_tests(self.toks[module])
                test_modules |= {module + (name,) for name in names}
            for module in list(self.files):
                if any(module[: len(t)] == t for t in test_modules):
                    del self.files[module]
                    del self.toks[module]
        # name -> full path (as segments) of what a module re-exports.
        self.reexports: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}
        # Per module: the (leaf name, full path, line, is_pub) of every use.
        self.uses: dict[tuple[str, ...], list[tuple[str, tuple[str, ...], int, bool]]] = {}
        for module in self.files:
            self._read_uses(module)

    # ---- paths -------------------------------------------------------------

    def child_modules(self, module: tuple[str, ...]) -> set[str]:
        return {m[-1] for m in self.files if len(m) == len(module) + 1 and m[:-1] == module}

    def absolute(self, here: tuple[str, ...], segments: list[str]) -> tuple[str, ...] | None:
        """The crate-absolute form of a path written in (logical) module `here`,
        or None for a path into another crate."""
        segs = list(segments)
        if segs and segs[0] == "$":
            segs = segs[1:]
        if not segs:
            return None
        if segs[0] == "crate":
            return tuple(segs[1:])
        base = list(here)
        if segs[0] == "self":
            return tuple(base + segs[1:])
        if segs[0] == "super":
            while segs and segs[0] == "super":
                if not base:
                    return None
                base.pop()
                segs.pop(0)
            if segs and segs[0] == "self":
                segs.pop(0)
            return tuple(base + segs)
        file_module = self.file_module(tuple(here))
        if segs[0] in self.child_modules(file_module) and tuple(here) == file_module:
            return tuple(base + segs)
        return None

    def file_module(self, path: tuple[str, ...]) -> tuple[str, ...]:
        """The longest prefix of `path` that is a module file."""
        for k in range(len(path), -1, -1):
            if path[:k] in self.files:
                return path[:k]
        return ()

    def target(self, path: tuple[str, ...], seen: frozenset = frozenset()) -> tuple[str, ...]:
        """The module file defining what `path` names, through re-exports."""
        module = self.file_module(path)
        rest = path[len(module):]
        if rest and (module, rest[0]) not in seen:
            source = self.reexports.get(module, {}).get(rest[0])
            if source is not None:
                return self.target(source + rest[1:], seen | {(module, rest[0])})
        return module

    # ---- use trees -----------------------------------------------------------

    def _read_uses(self, module: tuple[str, ...]) -> None:
        toks = self.toks[module]
        found: list[tuple[str, tuple[str, ...], int, bool]] = []
        inline: list[tuple[str, int]] = []  # (inline module name, brace depth)
        depth = 0
        i = 0
        while i < len(toks):
            tok, line = toks[i]
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                while inline and inline[-1][1] > depth:
                    inline.pop()
            elif tok == "mod" and i + 2 < len(toks) and toks[i + 2][0] == "{":
                inline.append((toks[i + 1][0], depth + 1))
            elif tok == "use" and (i == 0 or toks[i - 1][0] not in {"::"}):
                is_pub = self._is_pub(toks, i)
                here = module + tuple(name for name, _ in inline)
                j, leaves = self._tree(toks, i + 1, [])
                for leaf, segs in leaves:
                    path = self.absolute(here, segs)
                    if path is not None:
                        found.append((leaf, path, line, is_pub and not inline))
                i = j
                continue
            i += 1
        self.uses[module] = found
        self.reexports[module] = {leaf: path for leaf, path, _, pub in found if pub and leaf != "*"}

    @staticmethod
    def _is_pub(toks: list[tuple[str, int]], i: int) -> bool:
        j = i - 1
        if j >= 0 and toks[j][0] == ")":
            while j >= 0 and toks[j][0] != "(":
                j -= 1
            j -= 1
        return j >= 0 and toks[j][0] == "pub"

    def _tree(self, toks, i, prefix):
        """Parses a use tree from token `i`; returns the index after it and its
        leaves as (name in scope, path segments)."""
        segs = list(prefix)
        leaves = []
        if i < len(toks) and toks[i][0] == "::":
            i += 1
        while i < len(toks):
            tok = toks[i][0]
            if tok == "{":
                i += 1
                while i < len(toks) and toks[i][0] != "}":
                    i, sub = self._tree(toks, i, segs)
                    leaves += sub
                    if i < len(toks) and toks[i][0] == ",":
                        i += 1
                return i + 1 if i < len(toks) else i, leaves
            if tok == "*":
                return i + 1, [("*", segs)]
            if tok == "$":
                segs.append("$")
                i += 1
                continue
            if not IDENT.fullmatch(tok):
                break
            segs.append(tok)
            i += 1
            if i < len(toks) and toks[i][0] == "::":
                i += 1
                continue
            name = tok
            if i + 1 < len(toks) and toks[i][0] == "as":
                name = toks[i + 1][0]
                i += 2
            if name == "self":
                segs.pop()
                name = segs[-1] if segs else name
            return i, [(name, segs)]
        return i, leaves

    # ---- edges ---------------------------------------------------------------

    @staticmethod
    def _names_used(toks) -> set[str]:
        """The identifiers of a module's code outside its `use` declarations."""
        used, i = set(), 0
        while i < len(toks):
            if toks[i][0] == "use":
                while i < len(toks) and toks[i][0] != ";":
                    i += 1
            else:
                used.add(toks[i][0])
            i += 1
        return used

    def edges(self) -> dict[tuple[str, ...], dict[tuple[str, ...], tuple[Path, int]]]:
        """module -> {module it names: (file, line) of the first such path}."""
        graph: dict = defaultdict(dict)

        def add(src, path, line):
            dst = self.target(path)
            if dst != src and dst not in graph[src]:
                graph[src][dst] = (self.files[src], line)

        for module, toks in self.toks.items():
            aliases = {}
            used = self._names_used(toks)
            for leaf, path, line, is_pub in self.uses[module]:
                if leaf != "*" and path in self.files:
                    aliases[leaf] = path  # a module brought into scope: see its paths
                elif is_pub and leaf not in used:
                    continue  # only re-exported: its users are led to `path`
                else:
                    add(module, path if leaf != "*" else path + ("*",), line)
            children = self.child_modules(module)
            inline: list[tuple[str, int]] = []
            depth = 0
            i = 0
            while i < len(toks):
                tok, line = toks[i]
                if tok == "{":
                    depth += 1
                elif tok == "}":
                    depth -= 1
                    while inline and inline[-1][1] > depth:
                        inline.pop()
                elif tok == "mod" and i + 2 < len(toks) and toks[i + 2][0] == "{":
                    inline.append((toks[i + 1][0], depth + 1))
                elif tok == "use":
                    while i < len(toks) and toks[i][0] != ";":
                        i += 1
                    continue
                starts_path = i + 1 < len(toks) and toks[i + 1][0] == "::"
                after_sep = i > 0 and toks[i - 1][0] == "::" and not (
                    i > 1 and toks[i - 2][0] == "$"
                )
                if starts_path and not after_sep and (
                    tok in PATH_ROOTS or tok in children or tok in aliases
                ):
                    segs = [tok]
                    j = i + 1
                    while j + 1 < len(toks) and toks[j][0] == "::" and IDENT.fullmatch(toks[j + 1][0]):
                        segs.append(toks[j + 1][0])
                        j += 2
                    here = module + tuple(name for name, _ in inline)
                    if tok in aliases and tok not in PATH_ROOTS:
                        path = aliases[tok] + tuple(segs[1:])
                    else:
                        path = self.absolute(here, segs)
                    if path is not None:
                        add(module, path, line)
                    i = j
                    continue
                i += 1
        return graph


def strongly_connected(nodes, graph):
    """Tarjan's algorithm, iterative."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
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
                out.append(component)
    return out


def name(module: tuple[str, ...]) -> str:
    return "crate" if not module else "::".join(module)


def main(argv: list[str]) -> int:
    with_parents = "--with-parents" in argv
    args = [a for a in argv if not a.startswith("--")]
    src = Path(args[0] if args else "pipeline-core/src")
    crate = Crate(src, with_tests="--with-tests" in argv)
    graph = crate.edges()
    if not with_parents:
        graph = {
            a: {b: at for b, at in targets.items() if a[: len(b)] != b}
            for a, targets in graph.items()
        }
    components = [
        sorted(c) for c in strongly_connected(sorted(crate.files), graph) if len(c) > 1
    ]
    if not components:
        print("no import circles")
        return 0
    root = src.parent
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    for component in sorted(components):
        members = set(component)
        print(f"circle of {len(component)} modules: {', '.join(map(name, component))}")
        for a in component:
            for b, (file, line) in sorted(graph.get(a, {}).items()):
                if b in members:
                    print(f"  {name(a)} -> {name(b)}  ({file.relative_to(root)}:{line})")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
