"""The batch check's cache: a file's result is reused when nothing it depends on changed.

``torch-lsp check`` keeps one entry per checked ``.py`` file in ``.torch_lsp_cache/``
(``--cache-dir``; ``--no-cache`` turns it off). An entry is reused only when all of
these are as they were when it was written:

* the file's bytes (a SHA-256 of its content, not its modification time);
* the rules enabled for it (selection, per-file ignores);
* the tool (its version and the size and modification time of every module of the
  ``torch_lsp`` package, so an edited checkout never reads stale results) and the
  Python version;
* the installed packages (the names of the ``*.dist-info``/``*.egg-info``/``*.pth``
  entries of the interpreter's site-packages: installing, upgrading or removing one
  changes it; an edit to the source of a package installed in editable mode outside
  the checked project is not seen: run with ``--no-cache`` after one);
* every project file reachable from the file through its import statements, anywhere
  in it (``analysis/import_graph.py``), transitively: where each import resolves (a new
  file can shadow another), and each reachable file's size and modification time.
  That is every other file the analysis can follow (base classes, imported layers
  and functions, star imports); imports of installed packages are covered by the line
  above.

So a second run on an unchanged tree reads every result from the cache, and a run
after an edit re-checks the edited file and the files that import it, directly or
not. (A dependency edited during a run, after the file that reads it was checked, is
seen by the next run only if its size or modification time moved.)

The nodes are JSON (never pickle: a cache folder is input too) in one SQLite table,
written in one transaction at the end of a run; one that cannot be read is a miss.
A second table keeps the rule codes of the current key, so that a run whose results
all come from the cache imports neither the rules nor the analysis (issue 18).
The folder holds a ``.gitignore`` of ``*`` and a ``CACHEDIR.TAG``, as ruff's does.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable

from torch_lsp.analysis.diagnostics import (Applicability, Diagnostic, Fix, Position, Range, RelatedInformation,
                                            Severity, TextEdit)

if TYPE_CHECKING:  # (the dependencies are found where files are checked: imported there)
    from torch_lsp.analysis.project import Project
    from torch_lsp.output import FileOutcome

DEFAULT_DIR = ".torch_lsp_cache"
FORMAT = 1  # of an entry; a new one ignores the old entries
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This directory is torch-lsp's cache (https://bford.info/cachedir/).\n"


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text).hexdigest()


def tool_fingerprint() -> str:
    """The version, and every module of the package as it is on disk, and Python's version."""
    import torch_lsp

    root = os.path.dirname(os.path.abspath(torch_lsp.__file__))
    parts = [torch_lsp.__version__, sys.version]
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(d, name))
                parts.append(f"{os.path.relpath(os.path.join(d, name), root)}:{st.st_size}:{st.st_mtime_ns}")
    return _sha("\n".join(parts))


def environment_fingerprint() -> str:
    """The installed distributions: the metadata entries (``*.dist-info``, ``*.egg-info``,
    ``*.pth``) of the interpreter's site-packages directories. (Not every ``sys.path``
    entry: the current directory is one when Python runs a module, and a checkout's
    own ``*.egg-info`` would make the key depend on where the command runs.)"""
    import site

    dirs = list(getattr(site, "getsitepackages", lambda: [])())
    user = getattr(site, "getusersitepackages", lambda: None)()
    if isinstance(user, str):
        dirs.append(user)
    parts = [sys.prefix]
    for entry in dirs:
        try:
            names = sorted(n for n in os.listdir(entry) if n.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")))
        except OSError:
            continue
        parts.append(entry + ":" + ",".join(names))
    return _sha("\n".join(parts))


def rule_codes() -> list[str]:
    """Every rule's code (what the rules are is part of the tool: ``tool_fingerprint``)."""
    from torch_lsp.rules import RULES

    return sorted(RULES)


def settings_digest(enabled: Callable[[str], bool] | None, codes: list[str] | None = None) -> str:
    """The codes ``enabled`` selects among ``codes`` (default: every rule's)."""
    return ",".join(sorted(code for code in (rule_codes() if codes is None else codes) if enabled is None or enabled(code)))


# ------------------------------------------------------------------ entries (JSON)
def _range(r: Range) -> list[int]:
    return [r.start.line, r.start.character, r.end.line, r.end.character]


def _unrange(v: list[int]) -> Range:
    return Range(Position(v[0], v[1]), Position(v[2], v[3]))


def _diagnostic_json(d: Diagnostic) -> dict:
    return {"code": d.code, "severity": int(d.severity), "range": _range(d.range), "message": d.message,
            "related": [[_range(r.range), r.message, r.path] for r in d.related],
            "fixes": [[f.title, [[_range(e.range), e.new_text] for e in f.edits], f.applicability.value] for f in d.fixes]}


def _diagnostic(v: dict) -> Diagnostic:
    return Diagnostic(
        v["code"], Severity(v["severity"]), _unrange(v["range"]), v["message"],
        tuple(RelatedInformation(_unrange(r), m, p) for r, m, p in v["related"]),
        tuple(Fix(t, tuple(TextEdit(_unrange(r), text) for r, text in edits), Applicability(a)) for t, edits, a in v["fixes"]))


# ------------------------------------------------------------------ dependencies
# The files of this run (absolute paths), set by the process that starts the workers
# (they inherit it): a dependency that is one of them writes its own node when it is
# checked; others are read and written here.
RUN_FILES: set[str] = set()
_EDGES: dict[tuple[str, tuple], tuple[list[str], list[str], list[str]]] = {}  # (path, stamp) -> (deep, shallow, dirs), per process
_WRITTEN: set[str] = set()  # dependency nodes this process made in this run
_WALKED: set[str] = set()  # dependency nodes whose deep edges this process followed
# Dependency nodes stored by an earlier run and unchanged (path -> its edges), set by
# ``plan`` in the process that starts the workers: not made again, only walked through.
FRESH: dict[str, list[str]] = {}
_ANCESTOR: dict[str, str] = {}
_RESOLVED: dict[tuple, tuple[str | None, tuple[str, ...]]] = {}  # (module, import root, project root) -> (file, dirs)


_UNSEEN: Any = object()


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def read_stamped(path: str) -> tuple[bytes, tuple[int, int]]:
    """A file's bytes and its stamp (``_stamp``) from the same open (os-level: a
    buffered file object costs as much again as the read, for 1,600 files 10 ms)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        chunks = []
        while chunk := os.read(fd, max(st.st_size + 1, 1 << 16)):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks), (st.st_size, st.st_mtime_ns)


def _existing(path: str) -> str:
    """``path`` or its nearest existing ancestor directory (whose modification time
    changes when the next component is created)."""
    hit = _ANCESTOR.get(path)
    if hit is None:
        d = path
        while not os.path.isdir(d) and os.path.dirname(d) != d:
            d = os.path.dirname(d)
        hit = _ANCESTOR[path] = d
    return hit


def _resolve(project: Project, module: str, root: str | None, top: str | None, near: str,
             dirs: dict[str, None]) -> str | None:
    """The project file of ``module`` as seen from a file with import root ``root`` and
    project root ``top``; ``dirs`` gets the directories whose entries decide it."""
    key = (module, root, top)  # (what a resolution depends on: the roots it searches)
    hit = _RESOLVED.get(key)
    if hit is None:
        probed: list[str] = []
        found = project.find_in_project(module, root, near, probed)
        hit = _RESOLVED[key] = (os.path.abspath(found) if found is not None else None,
                                tuple(dict.fromkeys(_existing(place) for place in probed)))
    for d in hit[1]:
        dirs.setdefault(d)
    return hit[0]


_HUBS: dict[tuple[str, tuple], tuple[dict[str, str], set[str], bool, str | None, str | None]] = {}


def _hub(project: Project, path: str) -> tuple[dict[str, str], set[str], bool, str | None, str | None]:
    """A package ``__init__.py`` read for the names it re-exports: (local name -> qualified
    name of its imports, the names it defines, whether it has a star import, its import
    root, its project root)."""
    key = (path, _stamp(path) or (-1, -1))
    hit = _HUBS.get(key)
    if hit is None:
        from torch_lsp.analysis.import_graph import scanned_statements, top_level_names
        from torch_lsp.analysis.names import ImportTable

        name, is_package, root = project.module_name_for(path)
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        table = ImportTable.build(ast.Module(body=scanned_statements(text), type_ignores=[]), name, is_package)
        hit = _HUBS[key] = (table.names, top_level_names(text), bool(table.star_imports), root,
                            project.project_root(path))
    return hit


def direct_dependencies(project: Project, path: str, statements: list[ast.stmt]) -> tuple[list[str], list[str], list[str]]:
    """What a result of ``path`` depends on besides its content, from its import
    statements: (deep: the project files it imports, whose own dependencies count too;
    shallow: package ``__init__.py`` files it only reads names through, whose content
    counts but not what else they import; the directories whose entries decide the
    resolution, the file's module name and its project root: its own up to its project
    root and import root, and for each import the nearest existing directory of each
    place looked in, where a new file would be found first).

    ``from pkg import name`` where ``pkg/__init__.py`` re-exports ``name`` from a module
    depends on that module, not on everything the package imports: the analysis looks
    the name up the same way (``Project.lookup_in``)."""
    name, is_package, root = project.module_name_for(path)
    dirs: dict[str, None] = {}
    d = os.path.dirname(os.path.abspath(path))
    top = project.project_root(path)
    while True:
        dirs.setdefault(d)
        if d == top or (root is not None and d == root and top is None) or os.path.dirname(d) == d:
            break
        d = os.path.dirname(d)
    if root is not None:
        dirs.setdefault(root)
    deep: dict[str, None] = {}
    shallow: dict[str, None] = {}

    def follow(hub: str, wanted: str, depth: int) -> None:
        """``wanted`` as found through the package ``hub``."""
        if not hub.endswith("__init__.py") or depth > 8:
            deep.setdefault(hub)
            return
        names, local, star, hub_root, hub_top = _hub(project, hub)
        qualified = names.get(wanted)
        if wanted in local or star or qualified is None:
            deep.setdefault(hub)  # defined there, or not found by name: all of it counts
            return
        shallow.setdefault(hub)
        found = _resolve(project, qualified, hub_root, hub_top, hub, dirs)
        if found is not None:
            deep.setdefault(found)  # a module
            return
        module, _, attr = qualified.rpartition(".")
        owner = _resolve(project, module, hub_root, hub_top, hub, dirs) if module else None
        if owner is not None:
            follow(owner, attr, depth + 1)

    from torch_lsp.analysis.names import ImportTable

    table = ImportTable(module_name=name, is_package=is_package)
    for st in statements:
        if isinstance(st, ast.Import):
            for alias in st.names:
                parts = alias.name.split(".")
                for i in range(1, len(parts) + 1):
                    found = _resolve(project, ".".join(parts[:i]), root, top, path, dirs)
                    if found is not None:
                        deep.setdefault(found)
        elif isinstance(st, ast.ImportFrom):
            base = table.absolute_module(st.module, st.level)
            if not base or base.startswith("."):
                continue  # (a relative import of a file whose package is unknown: resolves nowhere)
            owner = _resolve(project, base, root, top, path, dirs)
            for alias in st.names:
                if alias.name == "*":
                    if owner is not None:
                        deep.setdefault(owner)
                    continue
                found = _resolve(project, f"{base}.{alias.name}", root, top, path, dirs)
                if found is not None:
                    deep.setdefault(found)
                elif owner is not None:
                    follow(owner, alias.name, 0)
    for f in deep:
        shallow.pop(f, None)
    return list(deep), list(shallow), list(dirs)


def _dependency_edges(project: Project, path: str) -> tuple[list[str], list[str], list[str]]:
    """``direct_dependencies`` of a file that is not checked here (its text scanned once
    per process)."""
    key = (path, _stamp(path) or (-1, -1))
    hit = _EDGES.get(key)
    if hit is None:
        from torch_lsp.analysis.import_graph import scanned_statements

        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        hit = _EDGES[key] = direct_dependencies(project, path, scanned_statements(text))
    return hit


# ------------------------------------------------------------------ the cache
class CheckCache:
    """One node per file, checked or depended on: its stamp, the directories its
    imports' resolution depends on (with their modification times) and the files its
    imports resolve to; a checked file's node also holds its outcome. A result is
    reused when no node reachable from its file's changed (``plan``). The nodes live
    in one SQLite table, written once at the end of a run by the process that started
    it (``write``): the workers only make them (``nodes_for``)."""

    def __init__(self, directory: str, key: str) -> None:
        self.directory = directory
        self.key = key
        self.database = os.path.join(directory, f"cache-v{FORMAT}.sqlite")
        self.hits = 0
        self.misses = 0
        # The rule codes, stored with the key they belong to, so that a run whose
        # results all come from the cache need not import the rules to know them.
        self.codes: list[str] | None = None
        self._codes_stored = False

    @classmethod
    def open(cls, directory: str) -> "CheckCache":
        """The cache in ``directory`` (created with its ``.gitignore``); raises OSError
        when it cannot be created."""
        os.makedirs(directory, exist_ok=True)
        for memo in (_WRITTEN, _WALKED, _RESOLVED, _ANCESTOR, _EDGES, FRESH, _HUBS):  # (a new run: the file system may have changed)
            memo.clear()
        for name, text in ((".gitignore", "# Automatically created by torch-lsp.\n*\n"), ("CACHEDIR.TAG", _TAG)):
            target = os.path.join(directory, name)
            if not os.path.exists(target):
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text)
        return cls(directory, _sha(tool_fingerprint() + environment_fingerprint()))

    def _connect(self):
        import sqlite3

        db = sqlite3.connect(self.database, timeout=10)
        db.execute("CREATE TABLE IF NOT EXISTS nodes (path TEXT PRIMARY KEY, node TEXT NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        return db

    @staticmethod
    def wanted(path: str) -> bool:
        return path.endswith(".py")

    # -------------------------------------------------------------- reading
    def _rows(self) -> dict[str, str]:
        import sqlite3

        try:
            db = self._connect()
            try:
                for (value,) in db.execute("SELECT value FROM meta WHERE name = ?", (f"rules {self.key}",)):
                    codes = _json_or_none(value)
                    if isinstance(codes, list) and all(isinstance(c, str) for c in codes):
                        self.codes, self._codes_stored = codes, True
                return dict(db.execute("SELECT path, node FROM nodes"))
            finally:
                db.close()
        except sqlite3.Error:
            return {}  # (a broken database is an empty cache; the end of the run writes it again)

    def plan(self, files: list[tuple[str, bytes, Callable[[str], bool] | None]],
             stamps: dict[str, tuple[int, int]] | None = None) -> dict[int, list]:
        """For each (path, content, selection) whose stored outcome is still valid, by
        index: [diagnostics, lines] (see the module docstring). ``stamps``: those of
        files already known (by absolute path; ``read_stamped``)."""
        rows = self._rows()
        if self.codes is None:
            self.codes = rule_codes()
        nodes: dict[str, dict | None] = {}
        paths = [os.path.abspath(p) for p, _, _ in files]
        queue = list(paths)
        known = stamps or {}
        while queue:
            p = queue.pop()
            if p in nodes:
                continue
            node = None
            text = rows.get(p)
            if text is not None:
                try:
                    node = json.loads(text)
                except ValueError:
                    node = None
            if not isinstance(node, dict) or node.get("key") != self.key:
                node = None
            nodes[p] = node
            for kind in ("deep", "shallow"):
                edges = node.get(kind) if node is not None else None
                if isinstance(edges, list):
                    queue.extend(e for e in edges if isinstance(e, str) and e not in nodes)
        mtimes: dict[str, int | None] = {}

        def mtime(d: str) -> int | None:
            if d not in mtimes:
                try:
                    mtimes[d] = os.stat(d).st_mtime_ns
                except OSError:
                    mtimes[d] = None
            return mtimes[d]

        def moved(dirs: list) -> bool:  # (15,000 entries for 1,600 files: a plain loop)
            for d, m in dirs:
                seen = mtimes.get(d, _UNSEEN)
                if (mtime(d) if seen is _UNSEEN else seen) != m:
                    return True
            return False

        changed = set()
        reverse: dict[str, list[str]] = {}
        for p, node in nodes.items():
            try:
                if node is None or list(known.get(p) or _stamp(p) or ()) != node["stamp"] or moved(node["dirs"]):
                    changed.add(p)
                    continue
                for e in node["deep"]:
                    reverse.setdefault(e, []).append(p)
            except (KeyError, TypeError, ValueError):
                changed.add(p)
        FRESH.clear()
        FRESH.update((p, node["deep"]) for p, node in nodes.items()
                     if node is not None and p not in changed and isinstance(node.get("deep"), list))
        # Stale: what changed, what reads names through a changed package __init__
        # (shallow), and what reaches any of these through deep edges.
        stale = set(changed)
        for p, node in nodes.items():
            if node is not None and p not in stale and isinstance(node.get("shallow"), list) and \
                    any(e in changed for e in node["shallow"]):
                stale.add(p)
        queue = list(stale)
        while queue:
            for q in reverse.get(queue.pop(), ()):
                if q not in stale:
                    stale.add(q)
                    queue.append(q)
        out: dict[int, list] = {}
        digests: dict[int, str] = {}  # (one selection object is shared by the files of one configuration)
        for i, ((p, data, enabled), a) in enumerate(zip(files, paths)):
            node = nodes.get(a)
            digest = digests.get(id(enabled))
            if digest is None:
                digest = digests[id(enabled)] = settings_digest(enabled, self.codes)
            if a in stale or node is None or node.get("content") != _sha(data) or \
                    node.get("settings") != digest or "diagnostics" not in node:
                self.misses += 1
                continue
            try:
                out[i] = [[_diagnostic(d) for d in node["diagnostics"]], {int(k): v for k, v in node["lines"].items()}]
            except (KeyError, TypeError, ValueError, IndexError, AttributeError):
                self.misses += 1
                continue
            self.hits += 1
        return out

    # -------------------------------------------------------------- writing
    def _node(self, path: str, deep: list[str], shallow: list[str], dirs: list[str]) -> dict:
        stamps = {}
        for d in dirs:
            try:
                stamps[d] = os.stat(d).st_mtime_ns
            except OSError:
                pass
        return {"path": path, "key": self.key, "stamp": list(_stamp(path) or (-1, -1)),
                "dirs": [[d, m] for d, m in stamps.items()], "deep": deep, "shallow": shallow}

    def nodes_for(self, path: str, data: bytes, enabled: Callable[[str], bool] | None, outcome: FileOutcome,
                  imports: list[ast.stmt], project: Project) -> list[dict]:
        """The node of ``path`` with ``outcome`` (``imports``: its import statements), and
        the nodes of the files it depends on that are not checked in this run (and not
        made by this process yet)."""
        path = os.path.abspath(path)
        deep, shallow, dirs = direct_dependencies(project, path, imports)
        node = self._node(path, deep, shallow, dirs)
        node.update({"content": _sha(data), "settings": settings_digest(enabled),
                     "diagnostics": [_diagnostic_json(d) for d in outcome.diagnostics],
                     "lines": {str(k): v for k, v in outcome.lines.items()}})
        out = [node]
        queue = [(e, True) for e in deep] + [(e, False) for e in shallow]
        while queue:
            dep, is_deep = queue.pop()
            if dep in RUN_FILES:
                continue  # (checked in this run: its own task makes its node)
            if dep not in _WRITTEN:
                _WRITTEN.add(dep)
                if dep not in FRESH:  # (stored and unchanged: its node stays)
                    dep_deep, dep_shallow, dep_dirs = _dependency_edges(project, dep)
                    out.append(self._node(dep, dep_deep, dep_shallow, dep_dirs))
                    queue.extend((e, False) for e in dep_shallow)
            if is_deep and dep not in _WALKED:  # what it imports counts too
                _WALKED.add(dep)
                queue.extend((e, True) for e in (FRESH[dep] if dep in FRESH else _dependency_edges(project, dep)[0]))
        return out

    def write(self, nodes: list[dict]) -> None:
        """Store the nodes of a run, in one transaction (a failure is not an error: the
        next run checks those files again)."""
        import sqlite3

        codes = None if self._codes_stored or self.codes is None else json.dumps(self.codes)
        if not nodes and codes is None:
            return
        rows = [(n["path"], json.dumps(n, separators=(",", ":"))) for n in nodes]
        for attempt in (1, 2):
            try:
                db = self._connect()
                try:
                    with db:
                        db.executemany("INSERT OR REPLACE INTO nodes (path, node) VALUES (?, ?)", rows)
                        if codes is not None:  # (those of other keys go: one tool writes to a cache at a time)
                            db.execute("DELETE FROM meta WHERE name LIKE 'rules %'")
                            db.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (f"rules {self.key}", codes))
                finally:
                    db.close()
                return
            except sqlite3.DatabaseError:  # not a database (any more): start a new one
                if attempt == 2:
                    return
                try:
                    os.unlink(self.database)
                except OSError:
                    return
            except sqlite3.Error:
                return


def cache_directory(given: str | None) -> str:
    """``--cache-dir``, else ``TORCH_LSP_CACHE_DIR``, else ``.torch_lsp_cache`` in the
    current directory."""
    return given or os.environ.get("TORCH_LSP_CACHE_DIR") or DEFAULT_DIR


def describe(cache: Any) -> str:
    total = cache.hits + cache.misses
    return f"cache: {cache.hits} of {total} files unchanged since the last run ({cache.directory})"
