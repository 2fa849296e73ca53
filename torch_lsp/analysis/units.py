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
        self.code_words: dict[int, frozenset[str]] = {}  # text hash -> its words outside docstrings
        self.used_code_words: set[int] = set()
        # the module model's class infos (see ClassInfoReuse): class node -> (its text's
        # hash, its info, the names of the definitions it reaches); the baseline they
        # hold for (the last completed analysis), and whether an analysis is under way
        self.infos: dict[ast.AST, tuple[int, Any, frozenset[str]]] = {}
        self.used_infos: set[ast.AST] = set()
        self.info_base: tuple | None = None
        self.info_defs: dict[str, list[tuple[ast.AST, int]]] = {}
        self.info_pending: tuple | None = None
        self.info_busy = False
        # unit_keys' keys of the last analysis: (kind, id(node)) -> (node, text hash,
        # names reached, key, extra), valid with keys_common
        self.keys: dict[tuple, tuple] = {}
        self.keys_common: tuple | None = None
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
        self.code_words = _kept(self.code_words, self.used_code_words)
        self.used_words, self.used_calls, self.used_refs, self.used_code_words = set(), set(), set(), set()
        if len(self.words) > MAX_WORD_ENTRIES:
            self.words.clear()
        if len(self.calls) > MAX_WORD_ENTRIES:
            self.calls.clear()
        if len(self.refs) > MAX_WORD_ENTRIES:
            self.refs.clear()
        if len(self.code_words) > MAX_WORD_ENTRIES:
            self.code_words.clear()

    def finish_infos(self) -> None:
        """Forget the class infos this analysis did not ask for (called once the
        analysis is done, by whoever runs it: the engine)."""
        self.infos = _kept(self.infos, self.used_infos)
        self.used_infos = set()
        if self.info_pending is not None:
            self.info_base, self.info_defs = self.info_pending
            self.info_pending = None
        self.info_busy = False

    def words_of(self, text: str) -> frozenset[str]:
        h = hash(text)
        self.used_words.add(h)
        hit = self.words.get(h)
        if hit is None:
            hit = self.words[h] = frozenset(_WORD.findall(text))
        return hit


def _bare_string(stmt: ast.AST) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _strings(node: ast.AST) -> tuple[list[ast.Expr], list[ast.Constant]]:
    """The statements of ``node`` (at any depth of its statement lists) that are only a
    string (docstrings, strings documenting attributes), and the string arguments of
    its definitions' decorator calls (transformers' ``@auto_docstring(custom_intro='''...''')``)."""
    out: list[ast.Expr] = []
    decorated: list[ast.Constant] = []
    stack = [node]
    while stack:
        n = stack.pop()
        for d in getattr(n, "decorator_list", ()):
            if isinstance(d, ast.Call):
                for a in d.args + [k.value for k in d.keywords]:
                    if isinstance(a, ast.Constant) and isinstance(a.value, str):
                        decorated.append(a)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(n, field, None)
            if not isinstance(block, list):
                continue
            for s in block:
                if _bare_string(s):
                    out.append(s)
                else:
                    stack.append(s)
    return out, decorated


def _kept(table: dict, used: set) -> dict:
    return {k: v for k, v in table.items() if k in used} if len(table) > len(used) else table


def _start(node: ast.AST) -> int:
    start = node.lineno  # type: ignore[attr-defined]
    for d in getattr(node, "decorator_list", ()):
        start = min(start, d.lineno)
    return start


class _Definitions:
    """One version's definitions by name (top-level functions and classes, and the
    given nested classes), the text of its other top-level statements (the context:
    imports, constants, code), and what a text reaches through the names it mentions."""

    def __init__(self, lines: list[str], tree: ast.Module, nested: list[ast.ClassDef], cache: UnitCache):
        self.lines = lines
        self.cache = cache
        self.nested = nested
        self.changes_known = False  # see changes()
        self.changed: set[str] | None = None
        self._hashes: dict[int, int] = {}  # id(node) -> hash of its text (the nodes live as long as this)
        defs: dict[str, tuple[ast.AST, int, frozenset[str]]] = {}  # name -> (node, text hash, words)
        context_parts = []
        for stmt in tree.body:
            text = self.text_of(stmt)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                h = self._hashes.setdefault(id(stmt), hash(text))
                defs[stmt.name] = (stmt, h, self.words(stmt, text, h))
            else:
                context_parts.append((stmt, text))
        for node in nested:
            if node.name not in defs:
                text = self.text_of(node)
                h = self._hashes.setdefault(id(node), hash(text))
                defs[node.name] = (node, h, self.words(node, text, h))
        self.defs = defs
        context_text = "".join(t for _, t in context_parts)
        self.context = (tuple(s for s, _ in context_parts), hash(context_text))
        # (a module docstring names no definition the code uses)
        self.context_words = cache.words_of("".join(t for s, t in context_parts if not _bare_string(s)))
        self.names_key = hash(frozenset(defs))
        self._refs: dict[str, tuple[str, ...]] = {}  # def -> the defs it names

    def text_of(self, node: ast.AST) -> str:
        return "".join(self.lines[_start(node) - 1: node.end_lineno or node.lineno])  # type: ignore[attr-defined]

    def words(self, node: ast.AST, text: str | None = None, h: int | None = None) -> frozenset[str]:
        """The words of a definition's text outside its docstrings (and other string
        statements, and decorators' string arguments), kept per text: what its code
        can name. Those strings are never read as code, so the classes they mention
        (transformers' docstrings name their siblings) are no dependency."""
        if text is None:
            text = self.text_of(node)
        if h is None:
            h = self.hash_of(node)
        cache = self.cache
        cache.used_code_words.add(h)
        hit = cache.code_words.get(h)
        if hit is None:
            hit = cache.code_words[h] = frozenset(_WORD.findall(self._code_text(node, text)))
        return hit

    def _code_text(self, node: ast.AST, text: str) -> str:
        """``text`` (the lines of ``node``) without the lines that only hold a string
        statement (a docstring; a string sharing a line with code is kept) and the lines
        inside a decorator's string argument (its first and last lines are kept)."""
        lines = self.lines
        drop: set[int] = set()
        statements, decorated = _strings(node)
        for c in decorated:
            drop.update(range(c.lineno + 1, c.end_lineno or c.lineno))
        for s in statements:
            first = lines[s.lineno - 1]
            if len(first) - len(first.lstrip()) != s.col_offset:
                continue
            end = s.end_lineno or s.lineno
            rest = lines[end - 1].rstrip("\r\n").encode("utf-8")[s.end_col_offset or 0:].strip()
            if rest and not rest.startswith(b"#"):
                continue
            drop.update(range(s.lineno, end + 1))
        if not drop:
            return text
        start = _start(node)
        return "".join(line for i, line in enumerate(lines[start - 1: node.end_lineno or node.lineno], start)  # type: ignore[attr-defined]
                       if i not in drop)

    def hash_of(self, node: ast.AST) -> int:
        """hash(text_of(node)), once per node and version."""
        h = self._hashes.get(id(node))
        if h is None:
            h = self._hashes[id(node)] = hash(self.text_of(node))
        return h

    def refs_of(self, name: str) -> tuple[str, ...]:
        hit = self._refs.get(name)
        if hit is None:
            defs, cache = self.defs, self.cache
            key = (defs[name][1], self.names_key)
            cache.used_refs.add(key)
            hit = cache.refs.get(key)
            if hit is None:
                hit = cache.refs[key] = tuple(w for w in defs[name][2] if w in defs)
            self._refs[name] = hit
        return hit

    def reached(self, words: frozenset[str]) -> set[str]:
        """The names of the definitions ``words`` name, and of the ones those name,
        transitively."""
        defs = self.defs
        seen: set[str] = set()
        todo = [w for w in words if w in defs]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(self.refs_of(name))
        return seen



def definitions(ctx: Any, cache: UnitCache) -> _Definitions:
    """The definitions of the version ``ctx`` analyses (its classes nested in classes,
    ``if`` and ``try`` included), made once per analysis."""
    defs = ctx.definitions
    if defs is None:
        from torch_lsp.analysis.modules import class_definitions

        tree = ctx.src.tree
        defs = ctx.definitions = _Definitions(ctx.src.lines, tree, list(class_definitions(tree.body)), cache)
    return defs


def changes(ctx: Any, cache: UnitCache) -> set[str] | None:
    """The names of the definitions (shadowed ones included) whose node or text is not
    that of the last completed analysis (``finish_infos``); None when more changed
    than definitions: the set of names, the context (the other top-level
    statements), the project's generation, the path, or the last analysis was
    cancelled midway. Once per analysis; it marks the analysis under way."""
    defs = definitions(ctx, cache)
    if defs.changes_known:
        return defs.changed
    defs.changes_known = True
    every: dict[str, list[tuple[ast.AST, int]]] = {}  # name -> each definition (shadowed ones too)
    for node in list(ctx.src.tree.body) + defs.nested:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            every.setdefault(node.name, []).append((node, defs.hash_of(node)))
    base = (frozenset(every), defs.context, ctx.project.generation_except(ctx.src.path), ctx.src.path)
    if not cache.info_busy and cache.info_base == base:
        last = cache.info_defs
        defs.changed = {n for n, entries in every.items() if last.get(n) != entries}
    # the baseline of the next version, once this analysis completes (finish_infos)
    cache.info_busy = True
    cache.info_pending = (base, every)
    return defs.changed


class ClassInfoReuse:
    """The module model's analysis of each class (``ModuleModel.info``) kept from one
    version of a document to the next, for a class whose own text and the texts it
    reaches did not change. What ``ModuleModel.info`` reads for a class: its node; the
    file's names it mentions (classes, functions, aliases: the definitions it reaches,
    and the context, which holds the imports and aliases); the classes and functions it
    names, transitively; and other files (the project's generation).

    Checked, not keyed, for speed (a key holds what a class reaches, which costs a
    walk per class and version): the cache keeps, for each class node, its text's hash,
    its info and the names of the definitions it reached; the next version reuses it
    when the context, the generation and the set of definition names are those of the
    last completed analysis and no definition it reached changed (a definition's node
    or text). Anything else (a definition added, removed or renamed, an import edited,
    an analysis cancelled midway) starts afresh."""

    def __init__(self, ctx: Any, cache: UnitCache):
        self.ctx = ctx
        self.cache = cache
        self._defs: _Definitions | None = None
        self._changed: set[str] | None = None  # None: nothing is reused
        # Nothing kept yet (a document's first analysis): nothing can be reused, and
        # what is kept is worked out at the end (``settle``), not before the first
        # diagnostics are published (the file's definitions and what each class
        # reaches: 18 ms of the 25 the registration rules took on a 10k-line file).
        self._deferred: list[tuple[ast.ClassDef, Any]] | None = [] if not cache.infos else None

    def _prepare(self) -> _Definitions:
        defs = self._defs
        if defs is None:
            defs = self._defs = definitions(self.ctx, self.cache)
            self._changed = changes(self.ctx, self.cache)
            if self._changed is None:
                self.cache.infos = {}
        return defs

    def get(self, node: ast.ClassDef) -> Any:
        if self._deferred is not None:
            return None  # nothing kept
        defs = self._prepare()
        entry = self.cache.infos.get(node)
        if entry is None or self._changed is None or not entry[2].isdisjoint(self._changed) \
                or entry[0] != defs.hash_of(node):
            return None
        self.cache.used_infos.add(node)
        return entry[1]

    def put(self, node: ast.ClassDef, info: Any) -> None:
        """Keep ``info`` (the class was analysed, or an earlier info reused: the cache
        keeps the latest version's)."""
        if self._deferred is not None:
            self._deferred.append((node, info))
            return
        defs = self._prepare()
        entry = self.cache.infos.get(node)
        h = defs.hash_of(node)
        if entry is not None and entry[0] == h and self._changed is not None and entry[2].isdisjoint(self._changed):
            reached = entry[2]  # what it reaches did not change
        else:
            reached = frozenset(defs.reached(defs.words(node)))
        self.cache.infos[node] = (h, info, reached)
        self.cache.used_infos.add(node)


    def settle(self) -> None:
        """Keep what ``put`` was given while nothing was kept (called once the
        analysis is done, before ``UnitCache.finish_infos``)."""
        pending, self._deferred = self._deferred, None
        for node, info in pending or ():
            self.put(node, info)


class _Key(tuple):
    """A unit key that computes its hash once (keys hold long tuples: what a unit
    reaches, the context's statements; a reused key is looked up and kept again at
    each version)."""

    def __hash__(self) -> int:
        h = self.__dict__.get("_hash")
        if h is None:
            h = self.__dict__["_hash"] = tuple.__hash__(self)
        return h


def unit_keys(interp: Any, tree: ast.Module, units: list[tuple[str, Any, Callable]], cache: UnitCache) -> list[tuple]:
    # Definitions of the file by name: top-level functions and classes, and classes
    # nested in classes (the interpreter analyses those too).
    d = definitions(interp.ctx, cache)
    context, context_words = d.context, d.context_words
    generation = interp.ctx.project.generation_except(interp.ctx.src.path)
    common = (context, generation, interp.record, interp.ctx.src.path, frozenset(interp.global_names))
    # A unit's key of the last analysis is kept (the same object, its hash computed)
    # while its node, text and what it reaches did not change (see changes()).
    changed = changes(interp.ctx, cache)
    memo = cache.keys if changed is not None and cache.keys_common == common else {}
    kept: dict[tuple, tuple] = {}

    def key_of(kind: str, node: Any, h: int, words: Callable[[], frozenset[str]], make: Callable[[tuple], tuple],
               extra: Any = None) -> tuple:
        slot = (kind, id(node))
        m = memo.get(slot)
        if m is not None and m[0] is node and m[1] == h and m[4] == extra and changed is not None \
                and m[2].isdisjoint(changed):
            kept[slot] = m
            return m[3]
        reached = d.reached(words())
        key = _Key(make(tuple(sorted((n, d.defs[n][0], d.defs[n][1]) for n in reached))))
        kept[slot] = (node, h, frozenset(reached), key, extra)
        return key

    keys: list[tuple] = []
    for kind, obj, _ in units:
        if kind == "top":
            keys.append(key_of("top", None, context[1], lambda: context_words, lambda r: ("top", r, common)))
        elif kind == "function":
            # its own definition: a name defined twice (two `def main()`) names the
            # last one in `defs`, but each definition is a unit of its own
            h = d.hash_of(obj)
            keys.append(key_of("function", obj, h, lambda obj=obj: d.words(obj),  # type: ignore[misc]
                               lambda r, obj=obj, h=h: ("function", obj.name, obj, h, r, common)))  # type: ignore[misc]
        else:
            node = obj.ref.node
            h = d.hash_of(node)
            constructed = obj.name in interp.constructed
            keys.append(key_of("class", node, h, lambda node=node: d.words(node),  # type: ignore[misc]
                               lambda r, obj=obj, node=node, h=h, c=constructed: (  # type: ignore[misc]
                                   "class", obj.name, node, h, r, c, common), extra=(obj.name, constructed)))
    cache.keys, cache.keys_common = kept, common
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
