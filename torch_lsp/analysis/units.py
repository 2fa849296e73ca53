"""Keys for reusing the shape analysis of unchanged parts of a file (the server).

The interpreter analyses a file in units: its top-level code, each module function
worth analysing, and each ``nn.Module`` class. A unit's result depends on its own
source and on the code it reaches: the classes and functions of the same file it
names (and the ones those name, transitively), the file's top-level statements
that are not definitions (imports, constants, the code that builds and calls
models), and other files (through the project). A unit's key is built from
exactly those texts, with their line numbers (messages quote lines), so a unit is
analysed again only when something it can see changed: typing inside one class
re-analyses that class, and the classes and code that use it.

Texts are hashed once per version; the words of a definition (which names it
mentions) are kept per text hash, so an edit costs work in proportion to what it
changed, not to the file.
"""
from __future__ import annotations

import ast
import re
from typing import Any, Callable

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_WORD_ENTRIES = 20_000


class UnitCache:
    """Unit results of one document, kept from one analysis to the next."""

    def __init__(self) -> None:
        self.results: dict[tuple, Any] = {}
        self.words: dict[int, frozenset[str]] = {}
        self._used: set[tuple] = set()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> Any:
        hit = self.results.get(key)
        self._used.add(key)
        if hit is None:
            self.misses += 1
        else:
            self.hits += 1
        return hit

    def put(self, key: tuple, result: Any) -> None:
        self.results[key] = result

    def finish(self) -> None:
        """Forget the results no unit of this analysis asked for (memory stays bounded
        by one version's worth)."""
        if len(self.results) > len(self._used):
            self.results = {k: v for k, v in self.results.items() if k in self._used}
        self._used = set()
        if len(self.words) > MAX_WORD_ENTRIES:
            self.words.clear()

    def words_of(self, text: str) -> frozenset[str]:
        h = hash(text)
        hit = self.words.get(h)
        if hit is None:
            hit = self.words[h] = frozenset(_WORD.findall(text))
        return hit


def _start(node: ast.AST) -> int:
    start = node.lineno  # type: ignore[attr-defined]
    for d in getattr(node, "decorator_list", ()):
        start = min(start, d.lineno)
    return start


def unit_keys(interp: Any, tree: ast.Module, units: list[tuple[str, Any, Callable]], cache: UnitCache) -> list[tuple]:
    lines = interp.ctx.src.lines

    def text_of(node: ast.AST) -> tuple[int, str]:
        start = _start(node)
        return start, "".join(lines[start - 1: node.end_lineno or node.lineno])  # type: ignore[attr-defined]

    # Definitions of the file by name: top-level functions and classes, and classes
    # nested in classes (the interpreter analyses those too).
    defs: dict[str, tuple[int, int, frozenset[str]]] = {}  # name -> (line, text hash, words)
    context_parts = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start, text = text_of(stmt)
            defs[stmt.name] = (start, hash(text), cache.words_of(text))
        else:
            start, text = text_of(stmt)
            context_parts.append((start, text))
    for info in interp.model.module_classes():
        node = info.ref.node
        if info.ref.summary is interp.ctx.summary and node.name not in defs:
            start, text = text_of(node)
            defs[node.name] = (start, hash(text), cache.words_of(text))
    context_text = "".join(t for _, t in context_parts)
    context = hash((tuple(s for s, _ in context_parts), context_text))
    context_words = cache.words_of(context_text)
    generation = interp.ctx.project.generation_except(interp.ctx.src.path)
    common = (context, generation, interp.record, interp.ctx.src.path)

    def reach(words: frozenset[str]) -> tuple:
        seen: set[str] = set()
        todo = [w for w in words if w in defs]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(w for w in defs[name][2] if w in defs and w not in seen)
        return tuple(sorted((n, defs[n][0], defs[n][1]) for n in seen))

    keys = []
    for kind, obj, _ in units:
        if kind == "top":
            keys.append(("top", reach(context_words), common))
        elif kind == "function":
            start, h, words = defs.get(obj.name, (obj.lineno, 0, frozenset()))
            keys.append(("function", obj.name, start, h, reach(words), common))
        else:
            node = obj.ref.node
            start, text = text_of(node)
            words = cache.words_of(text)
            keys.append(("class", obj.name, start, hash(text), reach(words), obj.name in interp.constructed, common))
    return keys
