"""Other files of the same project: where base classes imported from them live.

``Project`` maps dotted module names to files, parses those files once (cached by
path, size and mtime) into a ``FileSummary`` (top-level classes and the import
table), and resolves a qualified name such as ``pkg.layers.Block`` or a relative
``..modeling_utils.PreTrainedModel`` to the class definition, following re-exports
and star imports. When that fails for a name that is imported, it asks jedi, which
also knows installed packages.

An editor can register open buffers with ``set_overlay`` so that unsaved text wins
over the file on disk.
"""
from __future__ import annotations

import ast
import os
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from torch_lsp.analysis.names import ImportTable, _top_level_statements
from torch_lsp.analysis.source import SourceFile, decode_source

if TYPE_CHECKING:
    from torch_lsp.analysis.modules import ModuleModel

PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")

# Modules that never hold an nn.Module base class: not worth a jedi look-up.
NOT_PROJECT_MODULES = frozenset(
    """
    abc builtins collections contextlib dataclasses enum functools typing typing_extensions numpy math
    os sys re itertools warnings copy logging pathlib json torch
    """.split()
)


def _outside(qualified: str) -> bool:
    """A name of a module that never holds a project's class (not torch's, whose
    layers the rules know by name)."""
    top = qualified.split(".")[0]
    return top in NOT_PROJECT_MODULES and top != "torch"


def _factory_call(v: ast.expr) -> bool:
    """``_ntuple(2)``: a call of a name with literal arguments only (what a module-level
    ``to_2tuple = _ntuple(2)`` makes is a function, followed as one)."""
    return (isinstance(v, ast.Call) and isinstance(v.func, ast.Name)
            and all(isinstance(a, ast.Constant) for a in v.args)
            and all(k.arg is not None and isinstance(k.value, ast.Constant) for k in v.keywords))


@dataclass
class FileSummary:
    """What other files need to know of one file: its classes and imports."""

    path: str | None
    module_name: str | None
    imports: ImportTable
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)  # top-level function names
    aliases: dict[str, ast.expr] = field(default_factory=dict)  # `Alias = some.Name` at top level
    import_root: str | None = None  # the directory absolute imports resolve against
    source: SourceFile | None = None
    model: ModuleModel | None = field(default=None, repr=False)  # its ModuleModel, made on first use
    bindings_key: int | None = field(default=None, repr=False)  # see _bindings_key
    followed_env: Any = field(default=None, repr=False)  # the interpreter's env of this file, when followed
    jedi_names: Any = field(default=None, repr=False)  # see jedi_reach.file_names_of
    # (name, depth) -> Project.lookup_in's answer, for a dependency (see lookup_in)
    lookups: dict[tuple[str, int], Any] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, src: SourceFile, module_name: str | None, is_package: bool, import_root: str | None) -> "FileSummary":
        tree = src.tree or ast.Module(body=[], type_ignores=[])
        imports = ImportTable.build(tree, module_name, is_package)
        classes: dict[str, ast.ClassDef] = {}
        functions: set[str] = set()
        aliases: dict[str, ast.expr] = {}
        for stmt in _top_level_statements(tree.body):
            if isinstance(stmt, ast.ClassDef):
                classes[stmt.name] = stmt
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.add(stmt.name)
            elif (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                  and (isinstance(stmt.value, (ast.Name, ast.Attribute)) or _factory_call(stmt.value))):
                aliases[stmt.targets[0].id] = stmt.value  # `Alias = some.Name`, `to_2tuple = _ntuple(2)`
        return cls(src.path, module_name, imports, classes, functions, aliases, import_root, src)


@dataclass(frozen=True)
class ClassRef:
    """A class definition somewhere in the project."""

    summary: FileSummary
    node: ast.ClassDef

    @property
    def key(self) -> tuple[str | None, str, int]:
        return (self.summary.path, self.node.name, self.node.lineno)

    @property
    def qualname(self) -> str:
        mod = self.summary.module_name
        return f"{mod}.{self.node.name}" if mod else self.node.name


MAX_FULL_PARSES = 16  # whole parses of other files kept for following their classes


class NotRead(BaseException):
    """Raised where a look-up would read (parse) a file not read yet, or ask jedi,
    while ``Project.reading_forbidden()`` is in force on this thread. A
    ``BaseException``: the analysis's best-effort fallbacks (``except Exception``)
    must not take "not read yet" for "not found"."""


class Project:
    _default: "Project | None" = None

    def __init__(self, roots: list[str] | None = None, use_jedi: bool = True):
        self.roots = [str(Path(r).resolve()) for r in roots or []]
        self.use_jedi = use_jedi
        self._summaries: dict[str, tuple[tuple[int, int], FileSummary | None]] = {}
        self._full: dict[str, tuple[tuple[int, int], FileSummary | None]] = {}  # whole parses (see full_summary)
        self.followed_classes: dict[tuple, Any] = {}  # (qualified, importer) -> ClassInfo (interpreter)
        self._packages: dict[tuple[str, str | None], bool] = {}
        # Changes of open documents' texts (overlays) and of files on disk (reported by
        # ``file_system_changed``), in total and per file: what another file's analysis
        # can depend on (see ``generation_except``).
        self._overlay_changes = 0
        self._overlay_changes_of: dict[str, int] = {}
        self._pkg_cache: dict[str, bool] = {}
        self._root_cache: dict[str, str | None] = {}
        self._overlays: dict[str, str] = {}
        self._jedi_cache: dict[tuple, ClassRef | None] = {}
        self._jedi_reach: Any = None  # jedi_reach.JediReach, made on the first look-up of a bare name
        self._dir_cache: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self._is_file: dict[str, bool] = {}
        self._installed_dirs: dict[str, str | None] = {}  # top-level package -> its directory (or .py file)
        self._stores: dict[tuple[str, int], tuple[tuple, Any]] = {}  # (path, line) -> (version, its function parsed)
        self._param_stores: dict[int, tuple[Any, list]] = {}  # id(function) -> (function, parameter_stores)
        self._found: dict[tuple, str | None] = {}  # (dotted, import root, directory of the importer) -> find_module
        # True while the files on disk do not change (a batch check that writes no fix):
        # a dependency already read is not stat'ed again on each look-up (a chain of star
        # imports asks for the same files hundreds of thousands of times).
        self.files_fixed = False
        # The thread on which no file may be read (see ``reading_forbidden``), or None.
        self._forbidden: int | None = None

    @contextmanager
    def reading_forbidden(self):
        """On this thread, until the block ends, a look-up that would read a file not
        read yet (or an open document's new text), or ask jedi, raises ``NotRead``:
        what completes in the block used only what was already read. The server's
        first publish of a large document (what needs no other file first)."""
        self._forbidden = threading.get_ident()
        try:
            yield
        finally:
            self._forbidden = None

    def check_read(self) -> None:
        """Raise ``NotRead`` when reading is forbidden on this thread."""
        if self._forbidden is not None and self._forbidden == threading.get_ident():
            raise NotRead()

    @classmethod
    def default(cls) -> "Project":
        if cls._default is None:
            cls._default = cls()
        return cls._default

    def _key(self, path: str) -> str:
        """The canonical path of a file (symlinks resolved), cached: resolving every
        component of every path is a system call each, and a batch asks for the same
        files and directories thousands of times (see ``file_system_changed``)."""
        hit = self._keys.get(path)
        if hit is not None:
            return hit
        d, base = os.path.split(os.path.abspath(path))
        real = self._dir_cache.get(d)
        if real is None:
            real = self._dir_cache[d] = os.path.realpath(d)
        full = os.path.join(real, base)
        if os.path.islink(full):
            full = os.path.realpath(full)
        self._keys[path] = full
        return full

    def _isfile(self, path: str) -> bool:
        hit = self._is_file.get(path)
        if hit is None:
            hit = self._is_file[path] = os.path.isfile(path)
        return hit

    def file_system_changed(self, paths: Iterable[str] = ()) -> None:
        """Files were created, changed or deleted on disk (an editor's file watcher
        says so): forget what was learned about the file system (which files exist,
        symbolic links, package directories, project roots, jedi's answers), and
        count a change of each file, so that analyses that read them are stale (see
        ``generation_except``). A batch check never calls this: it reads a tree that
        does not change while it runs."""
        for cache in (self._keys, self._is_file, self._dir_cache, self._pkg_cache, self._root_cache,
                      self._packages, self._jedi_cache, self.followed_classes, self._found):
            cache.clear()
        self._jedi_reach = None
        for path in paths:
            key = self._key(path)
            self._summaries.pop(key, None)
            self._full.pop(key, None)
            self._overlay_changes += 1
            self._overlay_changes_of[key] = self._overlay_changes_of.get(key, 0) + 1

    # ------------------------------------------------------------ overlays
    def set_overlay(self, path: str, text: str | None) -> None:
        key = self._key(path)
        if self._overlays.get(key) == text:
            return
        if text is None:
            self._overlays.pop(key, None)
        else:
            self._overlays[key] = text
        self._summaries.pop(key, None)
        self._full.pop(key, None)
        self.followed_classes.clear()
        self._jedi_reach = None
        self._overlay_changes += 1
        self._overlay_changes_of[key] = self._overlay_changes_of.get(key, 0) + 1

    def generation_except(self, path: str | None) -> int:
        """How many times files other than ``path`` changed (open documents' texts, or
        files on disk as ``file_system_changed`` reports them): an analysis of ``path``
        that used other files is stale when this moved."""
        own = self._overlay_changes_of.get(self._key(path), 0) if path else 0
        return self._overlay_changes - own

    # ------------------------------------------------------------ module names
    def _is_package_dir(self, d: str) -> bool:
        hit = self._pkg_cache.get(d)
        if hit is None:
            hit = self._pkg_cache[d] = os.path.isfile(os.path.join(d, "__init__.py"))
        return hit

    def module_name_for(self, path: str | None) -> tuple[str | None, bool, str | None]:
        """(dotted module name, is a package __init__, import root) of a file path."""
        if not path:
            return None, False, None
        p = os.path.abspath(path)
        d, base = os.path.split(p)
        stem = base[:-3] if base.endswith(".py") else base
        is_package = stem == "__init__"
        parts: list[str] = [] if is_package else [stem]
        while self._is_package_dir(d):
            d, name = os.path.split(d)
            parts.append(name)
            if not name:
                break
        parts.reverse()
        return (".".join(parts) or None), is_package, d

    def project_root(self, path: str) -> str | None:
        d = os.path.dirname(os.path.abspath(path))
        chain = []
        found = None
        while True:
            if d in self._root_cache:
                found = self._root_cache[d]
                break
            chain.append(d)
            if any(os.path.exists(os.path.join(d, m)) for m in PROJECT_MARKERS):
                found = d
                break
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        for c in chain:
            self._root_cache[c] = found
        return found

    # ------------------------------------------------------------ summaries
    def summary_for_source(self, src: SourceFile) -> FileSummary:
        name, is_pkg, root = self.module_name_for(src.path)
        # Not cached: most checked files are nobody's dependency, and keeping every
        # tree alive costs memory and makes the garbage collector slow down parsing.
        return FileSummary.of(src, name, is_pkg, root)

    def parsed(self, data: bytes, path: str) -> SourceFile:
        """Parse file bytes read from ``path``, reusing the tree if this file was
        already parsed as another file's dependency (same text)."""
        key = self._key(path)
        cached = self._summaries.get(key)
        if cached and cached[1] is not None and cached[1].source is not None and cached[1].source.from_disk:
            src = cached[1].source
            text, problem = decode_source(data)
            if problem is None and text == src.text:
                return src
        src = SourceFile.from_bytes(data, path)
        src.from_disk = True
        return src

    def summary(self, path: str) -> FileSummary | None:
        """A file read as a dependency: parsed from its outline (function bodies blanked)."""
        return self._read_summary(path, self._summaries, _dependency_source)

    def _read_summary(self, path: str, cache: dict, parse_bytes: Callable[[bytes, str], SourceFile]) -> FileSummary | None:
        """The summary of ``path`` (its open text if it has one), kept in ``cache`` until
        the file changes."""
        key = self._key(path)
        overlay = self._overlays.get(key)
        if overlay is not None:
            stamp: tuple = (-1, hash(overlay))
        elif self.files_fixed and key in cache:
            return cache[key][1]
        else:
            try:
                st = os.stat(key)
            except OSError:
                return None
            stamp = (st.st_size, st.st_mtime_ns)
        cached = cache.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        self.check_read()
        try:
            if overlay is not None:
                src = SourceFile.parse(overlay, key)
            else:
                with open(key, "rb") as fh:
                    src = parse_bytes(fh.read(), key)
        except OSError:
            src = None
        summary = self.summary_for_source(src) if src is not None and src.tree is not None else None
        if summary is not None and cache is self._summaries:
            summary.lookups = {}
        cache[key] = (stamp, summary)
        return summary

    def full_summary(self, path: str) -> FileSummary | None:
        """A file parsed whole (``summary`` parses dependencies from an outline without
        function bodies): for a class of that file whose code is followed."""
        if len(self._full) >= MAX_FULL_PARSES and self._key(path) not in self._full:
            # Bounded memory over a large batch: forget the whole parses (and the
            # classes followed into them), parse again when needed. Their summary <->
            # module model cycles are broken, so that they are freed even when a batch
            # check has frozen them out of the garbage collector's reach.
            for _, old in self._full.values():
                if old is not None:
                    old.model = None
                    old.followed_env = None
            self._full.clear()
            self.followed_classes = {k: v for k, v in self.followed_classes.items() if v is None}  # keep the misses
        return self._read_summary(path, self._full, SourceFile.from_bytes)

    def parameter_stores(self, path: str, lineno: int) -> list[tuple[str, str]]:
        """What the function defined at ``lineno`` of ``path`` surely stores on its first
        parameter from another parameter, unchanged: ``self.config = config`` at the
        top level of the body of a base class's ``__init__`` that is not run (another
        file's, read as an outline). Only stores no ``return`` can skip, of a parameter
        the function never rebinds, to an attribute it stores nowhere else. Only that
        function's lines are parsed (found with the tokenizer, as ``inspect.getblock``),
        once per file version."""
        fn = self.function_at(path, lineno)
        if fn is None:
            return []
        hit = self._param_stores.get(id(fn))
        if hit is None or hit[0] is not fn:
            if len(self._param_stores) > 1024:
                self._param_stores.clear()
            hit = self._param_stores[id(fn)] = (fn, _parameter_stores(fn))  # (the node kept: its id stays its own)
        return hit[1]

    def function_at(self, path: str, lineno: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The function defined at ``lineno`` of ``path``, body included, where a file
        is known only as an outline: only that function's lines are parsed (found with
        the tokenizer, as ``inspect.getblock``), once per file version. None when it
        cannot be read."""
        key = self._key(path)
        hit = self._stores.get((key, lineno))
        if hit is not None and self.files_fixed and key not in self._overlays:
            return hit[1]
        try:
            st = os.stat(key)
        except OSError:
            return None
        stamp = (st.st_size, st.st_mtime_ns, hash(self._overlays.get(key)))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        self.check_read()
        import inspect
        import textwrap
        import tokenize

        out = None
        try:
            text = self._overlays.get(key)
            if text is None:
                with open(key, "rb") as fh:
                    text = fh.read().decode("utf-8", "replace")
            lines = text.splitlines(True)[lineno - 1:]

            block = inspect.getblock(lines)  # the decorators come before lineno: not included
            tree = ast.parse(textwrap.dedent("".join(block)))
            fn = tree.body[0] if tree.body else None
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out = fn
        except (OSError, SyntaxError, ValueError, IndexError, RecursionError, MemoryError, tokenize.TokenError):
            out = None  # (a function the tokenizer cannot delimit)
        if len(self._stores) > 1024:
            self._stores.clear()
        self._stores[(key, lineno)] = (stamp, out)
        return out

    def find_module(self, dotted: str, near: FileSummary) -> str | None:
        """The file that defines module ``dotted``, searched from ``near``'s import root
        and the project roots."""
        if not dotted or dotted.startswith("."):
            return None
        # Cached: what it reads (which files exist, project roots, installed packages) is
        # cached already, and forgotten with this by ``file_system_changed``.
        key = (dotted, near.import_root, os.path.dirname(near.path) if near.path else None)
        try:
            return self._found[key]
        except KeyError:
            pass
        found = self._found[key] = self.find_in_project(dotted, near.import_root, near.path) or self._find_installed(dotted)
        return found

    def find_in_project(self, dotted: str, import_root: str | None, near_path: str | None,
                        probed: list[str] | None = None) -> str | None:
        """The project file that defines module ``dotted`` (not an installed one), searched
        from an import root, the project root of ``near_path`` (and its ``src``) and the
        project's roots. ``probed`` gets the path (without ``.py``) looked for under each
        root tried."""
        rel = dotted.replace(".", os.sep)
        roots: list[str] = []
        if import_root:
            roots.append(import_root)
        if near_path:
            pr = self.project_root(near_path)
            if pr:
                roots += [pr, os.path.join(pr, "src")]
        roots += self.roots
        seen = set()
        for root in roots:
            if root in seen:
                continue
            seen.add(root)
            if probed is not None:
                probed.append(os.path.join(root, rel))
            for cand in (os.path.join(root, rel + ".py"), os.path.join(root, rel, "__init__.py")):
                if self._isfile(cand):
                    return cand
        return None

    def _find_installed(self, dotted: str) -> str | None:
        """The file of module ``dotted`` of an installed package (the environment
        torch-lsp runs in, as the editor's selected interpreter): its top-level package
        is located without importing anything, the rest is a path under it."""
        top, _, rest = dotted.partition(".")
        if top in NOT_PROJECT_MODULES:
            return None
        if top not in self._installed_dirs:
            self._installed_dirs[top] = _installed_location(top)
        where = self._installed_dirs[top]
        if where is None:
            return None
        if not rest:
            return where if where.endswith(".py") else os.path.join(where, "__init__.py")
        if where.endswith(".py"):
            return None  # a single-file module has no submodules
        rel = os.path.join(where, rest.replace(".", os.sep))
        for cand in (rel + ".py", os.path.join(rel, "__init__.py")):
            if self._isfile(cand):
                return cand
        return None

    # ------------------------------------------------------------ resolution
    def resolve_qualified(self, qualified: str, near: FileSummary, depth: int = 0) -> ClassRef | str | None:
        """Follow ``qualified`` to a class definition in the project.

        Returns a ClassRef, or a (canonical) qualified name when the chain ends at a
        name outside the project (e.g. re-exported ``torch.nn.Module``), or None.
        """
        if depth > 8 or not qualified or qualified.startswith(".") or qualified.split(".")[0] in NOT_PROJECT_MODULES:
            return qualified if qualified and qualified.split(".")[0] == "torch" else None
        parts = qualified.split(".")
        for i in range(len(parts) - 1, 0, -1):
            module, attrs = ".".join(parts[:i]), parts[i:]
            path = self.find_module(module, near)
            if path is None:
                continue
            summary = self.summary(path)
            if summary is None:
                return None
            if len(attrs) != 1:
                return None  # nested classes are out of scope
            return self.lookup_in(summary, attrs[0], depth + 1)
        return None

    def lookup_in(self, summary: FileSummary, name: str, depth: int = 0) -> ClassRef | str | None:
        """The class a top-level ``name`` of ``summary``'s file refers to.

        Remembered for a dependency while the files cannot change (``files_fixed``): a
        name a file gets through star imports is looked for along every path of the
        star-import graph, and fastai's files share one graph of dozens of modules (a
        batch walked it 85,000 times for 159 names). The depth is part of the key, as
        the answer depends on it (the chain is cut at 8)."""
        memo = summary.lookups if self.files_fixed else None
        if memo is None:
            return self._lookup_in(summary, name, depth)
        key = (name, depth)
        try:
            return memo[key]
        except KeyError:
            pass
        out = memo[key] = self._lookup_in(summary, name, depth)
        return out

    def _lookup_in(self, summary: FileSummary, name: str, depth: int) -> ClassRef | str | None:
        if name in summary.classes:
            return ClassRef(summary, summary.classes[name])
        target = summary.imports.names.get(name)
        if target is not None:
            if _outside(target):
                # (`from enum import Enum` reached through star imports: a name outside
                # the project, as when the file imports it itself; not "not found",
                # which asks jedi)
                return target
            return self.resolve_qualified(target, summary, depth + 1)
        alias = summary.aliases.get(name)
        if alias is not None and depth < 8:
            if isinstance(alias, ast.Name) and alias.id != name:
                return self.lookup_in(summary, alias.id, depth + 1)
            q = summary.imports.qualify(alias)
            if q is not None:
                return self.resolve_qualified(q, summary, depth + 1)
        outside = None
        for star in summary.imports.star_imports:
            path = self.find_module(star, summary)
            sub = self.summary(path) if path else None
            if sub is not None and depth < 8:
                hit = self.lookup_in(sub, name, depth + 1)
                if isinstance(hit, str) and _outside(hit):
                    outside = outside or hit  # (a project class another star import binds is still looked for)
                elif hit is not None:
                    return hit
        return outside

    def _package_exists(self, top: str, near: FileSummary) -> bool:
        """Whether jedi could find top-level package ``top`` at all: in the project
        (the roots ``find_module`` searches) or installed. Asking jedi about a
        package that is neither (an optional dependency imported in a ``try``)
        costs a parse of the file and finds nothing."""
        key = (top, near.import_root)
        hit = self._packages.get(key)
        if hit is None:
            hit = self._packages[key] = self.find_module(top, near) is not None or _installed(top)
        return hit

    def _cannot_find_name(self, near: FileSummary, name: str, qualified: str | None = None) -> bool:
        """Whether a jedi look-up of bare ``name`` in ``near``'s file (imported as
        ``qualified``, when it is) surely finds no class (see ``jedi_reach``): it
        would cost a parse of the whole file."""
        if self._jedi_reach is None:
            from torch_lsp.analysis.jedi_reach import JediReach

            self._jedi_reach = JediReach(self)
        if qualified is not None:
            return self._jedi_reach.cannot_find_imported(near, name, qualified)
        return self._jedi_reach.cannot_find_name(near, name)

    def jedi_resolve(self, near: FileSummary, node: ast.expr, qualified: str | None = None) -> ClassRef | None:
        """Ask jedi where the name at ``node`` is defined (used when our own
        resolution fails; jedi also follows installed packages). Results are cached
        by the qualified name when there is one: every file importing the same
        unresolvable name costs one look-up, not one each."""
        if not self.use_jedi or near.source is None:
            return None
        if qualified is not None:
            key: tuple = ("qualified", qualified)
        elif isinstance(node, ast.Name):
            # What a bare name means is decided by the file's top-level bindings, not
            # by the bodies of its functions: an editor's keystroke inside a method
            # must not cost a jedi look-up (a parse of the whole file) again.
            key = ("name", near.path, node.id, _bindings_key(near))
        else:
            key = (near.path, node.lineno, node.col_offset, hash(near.source.text))
        if key in self._jedi_cache:
            return self._jedi_cache[key]
        if qualified is not None and not self._package_exists(qualified.split(".")[0], near):
            self._jedi_cache[key] = None  # an optional dependency that is not installed
            return None
        if isinstance(node, ast.Name) and self._cannot_find_name(near, node.id, qualified):
            self._jedi_cache[key] = None  # e.g. from a star import of a package that is not installed
            return None
        self.check_read()
        result = None
        try:
            import jedi

            end = near.source.end_of(node)
            project = None
            if near.path:
                root = self.project_root(near.path) or os.path.dirname(os.path.abspath(near.path))
                project = jedi.Project(root)
            script = jedi.Script(near.source.text, path=near.path, project=project)
            for definition in script.infer(end.line + 1, max(end.character - 1, 0)):
                if definition.type != "class" or not definition.module_path:
                    continue
                summary = self.summary(str(definition.module_path))
                if summary is None:
                    continue
                for cls in summary.classes.values():
                    if cls.lineno == definition.line:
                        result = ClassRef(summary, cls)
                        break
                if result:
                    break
        except Exception:  # jedi is a best-effort fallback; never let it break a check
            result = None
        self._jedi_cache[key] = result
        return result


def _bindings_key(summary: FileSummary) -> int:
    """A hash of what binds top-level names in a file: the text of its top-level
    statements other than function and class bodies (their headers count)."""
    if summary.bindings_key is None:
        src = summary.source
        parts = []
        if src is not None and src.tree is not None:
            for stmt in src.tree.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    parts.append(f"{type(stmt).__name__} {stmt.name} {stmt.lineno}")
                else:
                    parts.append(src.segment(stmt) if stmt.end_lineno == stmt.lineno else
                                 "".join(src.lines[stmt.lineno - 1: stmt.end_lineno]))
        summary.bindings_key = hash("\n".join(parts))
    return summary.bindings_key


def _installed(top: str) -> bool:
    """Whether ``top`` is an importable top-level module, found without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _parameter_stores(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, str]]:
    """(attribute, parameter) of the top-level ``self.attr = param`` statements of
    ``fn`` that always run when it completes (see ``Project.parameter_stores``)."""
    params = [p.arg for p in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
    if not params:
        return []
    me = params[0]
    rebound: set[str] = set()
    stored: dict[str, int] = {}
    first_return = None
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            rebound.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)) and \
                isinstance(node.value, ast.Name) and node.value.id == me:
            stored[node.attr] = stored.get(node.attr, 0) + 1
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)) and node is not fn:
            rebound.add("*")  # nested code may rebind anything (nonlocal): keep it simple
        elif isinstance(node, ast.Return):
            first_return = node.lineno if first_return is None else min(first_return, node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr", "vars"):
            rebound.add("*")
    if "*" in rebound or me in rebound:
        return []
    out = []
    for stmt in fn.body:
        if first_return is not None and stmt.lineno >= first_return:
            break
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Attribute)
                and isinstance(stmt.targets[0].value, ast.Name) and stmt.targets[0].value.id == me
                and isinstance(stmt.value, ast.Name) and stmt.value.id in params[1:] and stmt.value.id not in rebound
                and stored.get(stmt.targets[0].attr) == 1):
            out.append((stmt.targets[0].attr, stmt.value.id))
    return out


def _installed_location(top: str) -> str | None:
    """Where top-level module ``top`` is installed (a package directory, or a .py
    file), found without importing it; None when absent or not plain Python source."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return locations[0] if os.path.isfile(os.path.join(locations[0], "__init__.py")) else None
    origin = spec.origin
    return origin if isinstance(origin, str) and origin.endswith(".py") else None


def _dependency_source(data: bytes, path: str) -> SourceFile:
    """A file read as another file's dependency: parsed from its outline (function
    bodies blanked, see ``outline``) when that parses, else whole."""
    from torch_lsp.analysis.outline import outline
    from torch_lsp.analysis.source import decode_source

    text, problem = decode_source(data)
    if text is not None and problem is None:
        short = outline(text)
        if short is not None:
            src = SourceFile.parse(short, path)
            if src.tree is not None:
                return src  # not from_disk: its text is not the file's
    src = SourceFile.from_bytes(data, path)
    src.from_disk = True
    return src
