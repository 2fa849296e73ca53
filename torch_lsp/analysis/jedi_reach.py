"""When a jedi look-up of a bare name cannot find anything, decided without jedi.

``Project.jedi_resolve`` asks jedi where a base class name is defined when our own
resolution fails. A look-up costs a parse of the whole file with parso (pure Python,
many times ``ast.parse``) and, in each process, jedi's import and its helper
subprocess. Most look-ups of a batch are bare names that a file gets from a chain of
star imports that ends in a package that is not installed (fastai's ``from
fastcore.all import *``): jedi finds nothing there either.

What jedi can answer for a bare name ``X`` used in a class header of file ``F``
(``jedi.inference``: a module's filters) is a definition found

1. in ``F`` itself: a binding of ``X`` in its module scope, in a class body (the
   header of a nested class sees it) or by a ``global`` statement, or a submodule or
   module attribute (never a class);
2. in the builtins: ``dir(builtins)`` or a name of jedi's ``builtins.pyi``;
3. in the modules of ``F``'s star imports, each read whole (its module-level names and
   ``global`` statements: ``next(module.get_filters())``), and theirs, recursively.

So jedi cannot find ``X`` when ``F`` binds no ``X``, ``X`` is no builtin, and for every
module of the star-import closure either jedi cannot import it or ``X`` is not bound in
it. Jedi imports a module ``T.a.b`` from its search path (the project folder, the
folders above the file, the environment's ``sys.path`` through a subprocess of the
same interpreter, buildout paths), typeshed's stubs and ``T-stubs`` packages. We do not
compute that path; we look at a superset of it (every folder above the file, our
``sys.path``, PYTHONPATH, the site folders, jedi's subprocess folder, our project
roots, typeshed) and only conclude when it is unambiguous:

- no location of ``T`` at all: jedi cannot import the module;
- exactly one regular location of ``T`` (a package with ``__init__``, a module file), no
  stub for it, the module's file is the one ``Project.find_module`` found under that
  location (with no ``.pyi`` beside it and no package of the same name), and no
  namespace folder of the same name holds the submodule: jedi reads that same file.

Everything else (a relative import of a file whose package is unknown, a virtualenv
jedi would use instead of this interpreter, a ``buildout.cfg`` above the file, an open
document's unsaved text, Python started without ``site``, a zip archive on the path)
answers "jedi might find it" and jedi is asked, as before. The names a star-import
closure binds do not depend on the name looked for: they are computed once per module
and folder of the file asking.
"""
from __future__ import annotations

import ast
import os
import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch_lsp.analysis.project import FileSummary, Project

_STUBS = "-stubs"
_PACKAGE_INITS = ("__init__.py", "__init__.pyi")


def bound_names_here(node: ast.AST) -> set[str]:
    """The names ``node`` itself binds (not its children)."""
    if isinstance(node, ast.Name):
        return set() if isinstance(node.ctx, ast.Load) else {node.id}
    if isinstance(node, ast.arg):
        return {node.arg}
    if isinstance(node, ast.alias):
        return {node.asname or node.name.split(".")[0]}
    out: set[str] = set()
    name = getattr(node, "name", None)
    if isinstance(name, str):
        out.add(name)
    names = getattr(node, "names", None)
    if isinstance(names, list):
        out.update(n for n in names if isinstance(n, str))
    rest = getattr(node, "rest", None)
    if isinstance(rest, str):
        out.add(rest)
    return out


def module_bound_names(tree: ast.Module, class_bodies: bool = False) -> frozenset[str]:
    """The names bound in the scope of a module (what jedi's filter of a star-imported
    module lists, ``global`` statements aside): ``bound_names_here`` of the nodes of
    ``scope_nodes``."""
    out: set[str] = set()
    for node in scope_nodes(tree, class_bodies):
        out |= bound_names_here(node)
    return frozenset(out)


def scope_nodes(tree: ast.Module, class_bodies: bool = False):
    """The nodes of a module's scope: not the bodies and parameters of functions,
    lambdas and classes (their headers' decorators, defaults, annotations and bases
    are evaluated in the module); with ``class_bodies``, classes' bodies too (a nested
    class's header sees them)."""
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node  # (it binds its name)
            todo += node.decorator_list
            if isinstance(node, ast.ClassDef):
                todo += node.bases
                todo += node.keywords
                if class_bodies:
                    todo += node.body
            else:
                todo += _signature_parts(node.args)
                if node.returns is not None:
                    todo.append(node.returns)
            continue
        if isinstance(node, ast.Lambda):
            todo += [d for d in node.args.defaults + node.args.kw_defaults if d is not None]
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _signature_parts(args: ast.arguments) -> list[ast.AST]:
    """What of a signature runs in the enclosing scope: defaults and annotations."""
    parts: list[ast.AST] = [d for d in args.defaults + args.kw_defaults if d is not None]
    for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
        if a is not None and a.annotation is not None:
            parts.append(a.annotation)
    return parts


def star_imports(tree: ast.Module) -> list[tuple[str | None, int]]:
    """(module, level) of every ``from module import *`` of a module (only allowed in
    its scope, but jedi follows those under ``with`` and loops too)."""
    out: list[tuple[str | None, int]] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.ImportFrom):
            if any(a.name == "*" for a in node.names):
                out.append((node.module, node.level))
        elif isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, ()):
                    todo += child.body if isinstance(child, (ast.ExceptHandler, ast.match_case)) else [child]
    out.reverse()
    return out


class JediReach:
    """The file-system facts the decision reads, cached (a ``Project`` drops this
    object when files change)."""

    def __init__(self, project: "Project"):
        self.project = project
        self._entries: dict[str, dict[str, list[str]]] = {}  # folder -> stem -> entries
        self._file_facts: dict[str, tuple[frozenset[str], list[tuple[str | None, int]]] | None] = {}
        self._jedi_dir: str | None | bool = False  # False: not looked up yet
        self._builtin_stub: frozenset[str] | None | bool = False  # False: not read yet
        self._typeshed_dirs: list[str] | None = None
        self._env_ok: bool | None = None
        self._specs: dict[str, list[str] | None] = {}
        self._dirs: dict[tuple, tuple[str, ...] | None] = {}
        self._closures: dict[tuple, frozenset[str] | None] = {}
        self._located: dict[tuple, tuple[list[str], list[str], bool]] = {}

    # ------------------------------------------------------------------ the decision
    def cannot_find_name(self, near: "FileSummary", name: str) -> bool:
        """True when jedi surely finds no definition of bare ``name`` in ``near``'s file."""
        src = near.source
        if src is None or src.tree is None or not near.path or not self._environment_is_ours():
            return False
        if self._jedi() is None:
            return True  # no jedi: `import jedi` fails and the look-up answers None
        own = file_names_of(near)
        if own is None or name in own[0] or "<any>" in own[0] or self._in_builtin_stub(name):
            return False
        dirs = self._dirs_for(os.path.dirname(os.path.abspath(near.path)), near)
        if dirs is None:
            return False
        for module, level in own[1]:
            names = self._star_names(near, module, level, dirs)
            if names is None or name in names or "<any>" in names:
                return False
        return True

    def cannot_find_imported(self, near: "FileSummary", name: str, qualified: str) -> bool:
        """True when jedi surely finds no class for bare ``name`` in ``near``'s file,
        which binds it once, by ``from M import name`` (``qualified`` is M.name), and
        our resolution found no class: jedi follows the import to M's file and looks
        ``name`` up there as in a star-imported module (its scope, ``global``
        statements, its star-import closure; a submodule of that name is a module)."""
        src = near.source
        if (src is None or src.tree is None or not near.path or not self._environment_is_ours()
                or (name.startswith("__") and name.endswith("__"))):
            return False
        if self._jedi() is None:
            return True
        if name in _global_names(src.text) or "<any>" in _global_names(src.text):
            return False
        binders = [n for n in scope_nodes(src.tree, class_bodies=True) if name in bound_names_here(n)]
        if len(binders) != 1 or not isinstance(binders[0], ast.alias):
            return False
        statement = next((n for n in scope_nodes(src.tree, class_bodies=True)
                          if isinstance(n, ast.ImportFrom) and any(a is binders[0] for a in n.names)), None)
        if statement is None:
            return False  # `import a.b as name`: left to jedi
        module = near.imports.absolute_module(statement.module, statement.level)
        if not module or f"{module}.{binders[0].name}" != qualified:
            return False
        dirs = self._dirs_for(os.path.dirname(os.path.abspath(near.path)), near)
        if dirs is None:
            return False
        names = self._star_names(near, statement.module, statement.level, dirs)
        return names is not None and binders[0].name not in names and "<any>" not in names

    def _star_names(self, near: "FileSummary", module: str | None, level: int,
                    dirs: tuple[str, ...]) -> frozenset[str] | None:
        """Every name the module of ``from <level><module> import *`` in ``near``'s file
        and its own star imports, recursively, bind in their scopes (what jedi's star
        filters can list), or None when we cannot tell what jedi reads."""
        found = self._star_module(near, module, level, dirs)
        if found is None or found == "":
            return None if found is None else frozenset()
        key = (found, dirs)
        if key not in self._closures:
            self._closures[key] = self._closure(found, dirs)
        return self._closures[key]

    def _closure(self, path: str, dirs: tuple[str, ...]) -> frozenset[str] | None:
        out: set[str] = set()
        todo, seen = [path], {path}
        while todo:
            current = todo.pop()
            facts = self._facts(current)
            summary = self.project.summary(current)
            if facts is None or summary is None:
                return None
            bound, stars = facts
            out |= bound
            for module, level in stars:
                found = self._star_module(summary, module, level, dirs)
                if found is None:
                    return None
                if found and found not in seen:
                    seen.add(found)
                    todo.append(found)
        return frozenset(out)

    def _star_module(self, near: "FileSummary", module: str | None, level: int, dirs: tuple[str, ...]) -> str | None:
        """The file jedi reads for ``from <level><module> import *`` in ``near``'s file
        (the key of the one ``Project.find_module`` finds), "" when jedi cannot import
        it, None when we cannot tell."""
        dotted = near.imports.absolute_module(module, level)
        if not dotted or dotted.startswith("."):
            return None  # a relative import of a file whose package we do not know
        top, _, rest = dotted.partition(".")
        regular, namespaces, stubbed = self._locations(top, dirs)
        if stubbed:
            return None
        sub = rest.replace(".", os.sep)
        for ns in namespaces:  # a namespace package's folder holding the submodule
            if not sub or self._module_entry(os.path.join(ns, sub)):
                return None
        if not regular:
            return ""  # jedi cannot import it
        if len(regular) > 1:
            return None
        path = self.project.find_module(dotted, near)
        if path is None:
            return None
        where = regular[0]
        real = os.path.realpath(path)
        if not (real == where or real.startswith(where.rstrip(os.sep) + os.sep)):
            return None
        return self.project._key(path)

    def _dirs_for(self, start: str, near: "FileSummary") -> tuple[str, ...] | None:
        """``_search_dirs`` for a file in folder ``start``, None when a buildout
        configuration or a zip archive makes jedi's path unknowable here."""
        key = (start, near.import_root)
        if key not in self._dirs:
            ancestors = _ancestors(start)
            dirs: tuple[str, ...] | None = tuple(self._search_dirs(near, ancestors, self._jedi() or ""))
            if any(os.path.isfile(os.path.join(d, "buildout.cfg")) for d in ancestors):
                dirs = None
            elif any(os.path.isfile(d) for d in dirs or ()):
                dirs = None  # a zip archive on the path: its modules are not listed here
            self._dirs[key] = dirs
        return self._dirs[key]

    # ------------------------------------------------------------------ files
    def _facts(self, path: str):
        """(the names bound in the module's scope, its star imports) of a module file,
        or None when jedi might not read what we read (an open document, a stub beside
        it, a package of the same name)."""
        key = self.project._key(path)
        if key in self._file_facts:
            return self._file_facts[key]
        out = None
        base = key[:-3] if key.endswith(".py") else None
        if (base is not None and key not in self.project._overlays and not os.path.exists(base + ".pyi")
                and not (not key.endswith(os.sep + "__init__.py") and os.path.isdir(base))):
            summary = self.project.summary(path)
            self.project.check_read()
            try:
                with open(key, "rb") as fh:
                    text = fh.read().decode("utf-8", "replace")
            except OSError:
                text = None
            if summary is not None and summary.source is not None and summary.source.tree is not None and text is not None:
                # The outline keeps every module-level statement; the bodies it blanks
                # bind module names only through `global`, read from the text.
                tree = summary.source.tree
                out = (module_bound_names(tree) | _global_names(text), star_imports(tree))
        self._file_facts[key] = out
        return out

    def _module_entry(self, base: str) -> bool:
        d, stem = os.path.split(base)
        return stem in self._dir_entries(d)

    def _dir_entries(self, d: str) -> dict[str, list[str]]:
        """The entries of folder ``d`` by module stem (``T``, ``T.py``, ``T.pyi``,
        ``T.cpython-311-x86_64-linux-gnu.so``, ``T-stubs`` all under ``T``)."""
        hit = self._entries.get(d)
        if hit is None:
            hit = {}
            try:
                names = os.listdir(d)
            except OSError:
                names = []
            for entry in names:
                stem = entry[: -len(_STUBS)] if entry.endswith(_STUBS) else entry.split(".", 1)[0]
                hit.setdefault(stem, []).append(entry)
            self._entries[d] = hit
        return hit

    def _locations(self, top: str, dirs: tuple[str, ...]) -> tuple[list[str], list[str], bool]:
        """(regular locations, namespace folders, a stub exists) of top-level module
        ``top`` in the folders ``dirs`` and for this interpreter's importers."""
        key = (top, dirs)
        hit = self._located.get(key)
        if hit is None:
            hit = self._located[key] = self._locate(top, dirs)
        return hit

    def _locate(self, top: str, dirs: tuple[str, ...]) -> tuple[list[str], list[str], bool]:
        regular: set[str] = set()
        namespaces: set[str] = set()
        stubbed = False
        if top in sys.builtin_module_names:
            regular.add("<built-in>")
        for d in dirs:
            for entry in self._dir_entries(d).get(top, ()):
                full = os.path.join(d, entry)
                if entry.endswith(_STUBS) or entry.endswith(".pyi"):
                    stubbed = True
                elif os.path.isdir(full):
                    if entry != top:
                        continue  # `T.egg-info`, `T.libs`, ...: no module
                    if any(os.path.isfile(os.path.join(full, i)) for i in _PACKAGE_INITS):
                        regular.add(os.path.realpath(full))
                    else:
                        namespaces.add(os.path.realpath(full))
                elif entry.endswith((".py", ".pyc", ".so", ".pyd", ".pyw")) or entry == top:
                    regular.add(os.path.realpath(full))
        for d in self._typeshed():
            if top in self._dir_entries(d):
                stubbed = True
        if top not in self._specs:
            self._specs[top] = _spec_locations(top)
        spec_locations = self._specs[top]
        if spec_locations is None:
            stubbed = True  # an importer we cannot read: do not conclude
        else:
            regular.update(spec_locations)
        return sorted(regular), sorted(namespaces - regular), stubbed

    def _search_dirs(self, near: "FileSummary", ancestors: list[str], jedi_dir: str) -> list[str]:
        """A superset of the folders jedi searches for a top-level module of ``near``'s
        file (and those ``Project.find_module`` searches)."""
        import site

        dirs = list(ancestors)
        root = self.project.project_root(near.path) if near.path else None
        if root:
            dirs.append(os.path.join(root, "src"))
        if near.import_root:
            dirs.append(near.import_root)
        dirs += self.project.roots
        dirs += [os.path.abspath(p or os.curdir) for p in sys.path if isinstance(p, str)]
        dirs += [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        try:
            dirs += site.getsitepackages() + [site.getusersitepackages()]
        except Exception:  # (site may be a stub in an embedded interpreter)
            pass
        dirs.append(os.path.join(jedi_dir, "inference", "compiled", "subprocess"))  # its sys.path[0]
        out, seen = [], set()
        for d in dirs:
            if d not in seen:
                seen.add(d)
                out.append(d)
        return out

    # ------------------------------------------------------------------ jedi's own files
    def _jedi(self) -> str | None:
        """jedi's package folder (without importing it), None when not installed."""
        if self._jedi_dir is False:
            import importlib.util

            try:
                spec = importlib.util.find_spec("jedi")
            except (ImportError, ValueError):
                spec = None
            locations = list(spec.submodule_search_locations or []) if spec is not None else []
            self._jedi_dir = locations[0] if locations else None
        return self._jedi_dir  # type: ignore[return-value]  # (False replaced above)

    def _typeshed(self) -> list[str]:
        """The folders of jedi's typeshed whose entries are top-level module stubs."""
        if self._typeshed_dirs is None:
            dirs: list[str] = []
            jedi_dir = self._jedi()
            if jedi_dir is not None:
                base = os.path.join(jedi_dir, "third_party", "typeshed")
                dirs.append(os.path.join(base, "stdlib"))
                stubs = os.path.join(base, "stubs")
                try:
                    dirs += [os.path.join(stubs, s) for s in sorted(os.listdir(stubs))]
                except OSError:
                    pass
            self._typeshed_dirs = dirs
        return self._typeshed_dirs

    def _in_builtin_stub(self, name: str) -> bool:
        """Whether jedi's ``builtins.pyi`` binds ``name`` (it defines names
        ``dir(builtins)`` lacks, such as ``function``)."""
        if self._builtin_stub is False:
            names: frozenset[str] | None = frozenset()
            jedi_dir = self._jedi()
            if jedi_dir is not None:
                try:
                    with open(os.path.join(jedi_dir, "third_party", "typeshed", "stdlib", "builtins.pyi"), "rb") as fh:
                        names = module_bound_names(ast.parse(fh.read()))
                except (OSError, SyntaxError, ValueError):
                    names = None  # unreadable: every name might be there
            self._builtin_stub = names
        return self._builtin_stub is None or name in self._builtin_stub  # type: ignore[operator]  # (False replaced above)

    def _environment_is_ours(self) -> bool:
        """jedi reads this interpreter's environment unless VIRTUAL_ENV or CONDA_PREFIX
        names another one (``jedi.api.environment.get_default_environment``)."""
        if self._env_ok is None:
            ok = True
            for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
                value = os.environ.get(var)
                if value and os.path.realpath(value) != os.path.realpath(sys.prefix):
                    ok = False
            # Without site (-S) our sys.path lacks what .pth files add to jedi's.
            self._env_ok = ok and not sys.flags.no_site
        return self._env_ok


def file_names_of(summary: "FileSummary") -> tuple[frozenset[str], list[tuple[str | None, int]]] | None:
    """(the names bound in the scopes a class header of the file can see: the module,
    class bodies, ``global`` statements; its star imports) of a summary's file, kept
    with it; None without a tree."""
    if summary.jedi_names is None:
        src = summary.source
        if src is None or src.tree is None:
            return None
        summary.jedi_names = (module_bound_names(src.tree, class_bodies=True) | _global_names(src.text),
                              star_imports(src.tree))
    return summary.jedi_names


def _global_names(text: str) -> frozenset[str]:
    """Every word after a ``global`` on its line (an over-approximation of the names
    ``global`` statements declare: those in strings and comments count too); a
    ``global`` line that continues with a backslash gives ``"<any>"``."""
    out: set[str] = set()
    for m in re.finditer(r"(?<!\w)global(?!\w)([^\n]*)", text):
        rest = m.group(1)
        if rest.rstrip().endswith("\\"):
            out.add("<any>")
        out.update(re.findall(r"\w+", rest))
    return frozenset(out)


def _ancestors(d: str) -> list[str]:
    out = []
    while True:
        out.append(d)
        parent = os.path.dirname(d)
        if parent == d:
            return out
        d = parent


def _spec_locations(top: str) -> list[str] | None:
    """Where this interpreter's importers (meta path finders included: editable
    installs) find ``top``; None when a finder answers something we cannot place."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None:
        return []
    if spec.submodule_search_locations is not None:
        locations = [os.path.realpath(p) for p in spec.submodule_search_locations]
        if spec.origin is None or not any(os.path.isfile(os.path.join(p, i)) for p in locations for i in _PACKAGE_INITS):
            return None  # a namespace package or something stranger: do not conclude
        return locations
    if spec.origin in ("built-in", "frozen"):
        return ["<built-in>"]
    return [os.path.realpath(spec.origin)] if isinstance(spec.origin, str) and os.path.exists(spec.origin) else None
