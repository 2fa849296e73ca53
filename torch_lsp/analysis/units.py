"""Keys for reusing the shape analysis of unchanged parts of a file (the server).

The interpreter analyses a file in units: its top-level code, each module function
worth analysing, and each ``nn.Module`` class. A unit's result depends on its own
source and on the code it reaches: the classes and functions of the same file it
names (and the ones those name, transitively), the file's top-level statements
that are not definitions (imports, constants, the code that builds and calls
models), and other files (through the project). A unit's key is built from
exactly those texts and their syntax nodes (the statement objects themselves), so a
unit is analysed again only when something it can see changed: typing inside one
class re-analyses that class, and the classes and code that use it. Keying on the
node objects, not on line numbers, lets a result outlive an edit that only moved
its code (Enter above it): ``incremental.py`` keeps the nodes of unchanged
statements and shifts their line numbers in place, and everything a result holds
reads positions from nodes when it is reported (messages quote lines through
``interpreter.quote_line``).

Texts are hashed once per version; the words of a definition (which names it
mentions) are kept per text hash, so an edit costs work in proportion to what it
changed, not to the file. Everything the cache keeps is what the last analysis
used: memory follows the document's size now, not the largest it ever was (a
pasted block removed again leaves nothing behind).
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
        self.calls: dict[tuple, dict[str, tuple[int, int]]] = {}  # (chunk hash, names) -> counts
        self.refs: dict[tuple, tuple[str, ...]] = {}  # (definition text hash, names) -> names it uses
        self._used: set[tuple] = set()
        # the keys of words, calls and refs this analysis asked for (see finish)
        self.used_words: set[int] = set()
        self.used_calls: set[tuple] = set()
        self.used_refs: set[tuple] = set()
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
        """Forget what this analysis did not ask for: unit results, and the words,
        calls and references of texts the version no longer has (memory stays bounded
        by one version's worth)."""
        if len(self.results) > len(self._used):
            self.results = {k: v for k, v in self.results.items() if k in self._used}
        self._used = set()
        self.words = _kept(self.words, self.used_words)
        self.calls = _kept(self.calls, self.used_calls)
        self.refs = _kept(self.refs, self.used_refs)
        self.used_words, self.used_calls, self.used_refs = set(), set(), set()
        if len(self.words) > MAX_WORD_ENTRIES:
            self.words.clear()
        if len(self.calls) > MAX_WORD_ENTRIES:
            self.calls.clear()
        if len(self.refs) > MAX_WORD_ENTRIES:
            self.refs.clear()

    def words_of(self, text: str) -> frozenset[str]:
        h = hash(text)
        self.used_words.add(h)
        hit = self.words.get(h)
        if hit is None:
            hit = self.words[h] = frozenset(_WORD.findall(text))
        return hit


def _kept(table: dict, used: set) -> dict:
    return {k: v for k, v in table.items() if k in used} if len(table) > len(used) else table


def _start(node: ast.AST) -> int:
    start = node.lineno  # type: ignore[attr-defined]
    for d in getattr(node, "decorator_list", ()):
        start = min(start, d.lineno)
    return start


def unit_keys(interp: Any, tree: ast.Module, units: list[tuple[str, Any, Callable]], cache: UnitCache) -> list[tuple]:
    lines = interp.ctx.src.lines

    def text_of(node: ast.AST) -> str:
        return "".join(lines[_start(node) - 1: node.end_lineno or node.lineno])  # type: ignore[attr-defined]

    # Definitions of the file by name: top-level functions and classes, and classes
    # nested in classes (the interpreter analyses those too).
    defs: dict[str, tuple[ast.AST, int, frozenset[str]]] = {}  # name -> (node, text hash, words)
    context_parts = []
    for stmt in tree.body:
        text = text_of(stmt)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[stmt.name] = (stmt, hash(text), cache.words_of(text))
        else:
            context_parts.append((stmt, text))
    for info in interp.model.module_classes():
        node = info.ref.node
        if info.ref.summary is interp.ctx.summary and node.name not in defs:
            text = text_of(node)
            defs[node.name] = (node, hash(text), cache.words_of(text))
    context_text = "".join(t for _, t in context_parts)
    context = (tuple(s for s, _ in context_parts), hash(context_text))
    context_words = cache.words_of(context_text)
    generation = interp.ctx.project.generation_except(interp.ctx.src.path)
    common = (context, generation, interp.record, interp.ctx.src.path, frozenset(interp.global_names))

    names_key = hash(frozenset(defs))
    refs: dict[str, tuple[str, ...]] = {}  # def -> the defs it names

    def refs_of(name: str) -> tuple[str, ...]:
        hit = refs.get(name)
        if hit is None:
            key = (defs[name][1], names_key)
            cache.used_refs.add(key)
            hit = cache.refs.get(key)
            if hit is None:
                hit = cache.refs[key] = tuple(w for w in defs[name][2] if w in defs)
            refs[name] = hit
        return hit

    def reach(words: frozenset[str]) -> tuple:
        seen: set[str] = set()
        todo = [w for w in words if w in defs]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(refs_of(name))
        return tuple(sorted((n, defs[n][0], defs[n][1]) for n in seen))

    keys: list[tuple] = []
    for kind, obj, _ in units:
        if kind == "top":
            keys.append(("top", reach(context_words), common))
        elif kind == "function":
            # its own definition: a name defined twice (two `def main()`) names the
            # last one in `defs`, but each definition is a unit of its own
            text = text_of(obj)
            keys.append(("function", obj.name, obj, hash(text), reach(cache.words_of(text)), common))
        else:
            node = obj.ref.node
            text = text_of(node)
            words = cache.words_of(text)
            keys.append(("class", obj.name, node, hash(text), reach(words), obj.name in interp.constructed, common))
    return keys


def constructed_names(src: Any, tree: ast.Module, names: set[str], cache: UnitCache) -> set[str]:
    """``Interpreter._constructed_classes`` (a class is constructed when ``Name(``
    occurs more often than ``class Name(``), counted per top-level statement (with
    the lines before it) and kept per text: an edit recounts one statement. The text
    is cut at line ends, which ``Name(`` never spans, so the totals are the file's."""
    order = tuple(sorted(names))
    lines = src.lines
    calls: dict[str, int] = {}
    headers: dict[str, int] = {}
    prev = 0
    bounds = [(stmt.end_lineno or stmt.lineno) for stmt in tree.body] + [len(lines)]
    for end in bounds:
        if end <= prev:
            continue
        chunk = "".join(lines[prev:end])
        prev = end
        key = (hash(chunk), order)
        cache.used_calls.add(key)
        counts = cache.calls.get(key)
        if counts is None:  # only the names that occur (most chunks name few classes)
            counts = {}
            for n in order:
                c = chunk.count(n + "(")
                if c:
                    counts[n] = (c, chunk.count("class " + n + "("))
            cache.calls[key] = counts
        for n, (c, h) in counts.items():
            calls[n] = calls.get(n, 0) + c
            headers[n] = headers.get(n, 0) + h
    return {n for n in order if calls.get(n, 0) > headers.get(n, 0)}
