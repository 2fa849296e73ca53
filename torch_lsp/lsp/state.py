"""What the server holds per open document: ``DocState`` (mutable, on the event
loop), the immutable ``DocumentSnapshot`` an analysis works on, and ``Result``, one
analysis of one version (with ``ShapeSnapshot``, the shape answers a compacted result
keeps)."""
from __future__ import annotations

import ast
import asyncio
import bisect
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.diagnostics import Diagnostic
from torch_lsp.analysis.incremental import IncrementalParser
from torch_lsp.analysis.source import SourceFile
from torch_lsp.analysis.units import UnitCache
from torch_lsp.lsp.settings import ClientSettings

if TYPE_CHECKING:
    from torch_lsp.lsp.convert import Lines


@dataclass(frozen=True)
class DocumentSnapshot:
    """One version of a document with what its analysis depends on, taken at once
    (as ruff's ``DocumentSnapshot``): the analysis thread reads this, never the
    ``DocState`` the event loop goes on changing."""

    uri: str
    path: str | None
    version: int
    text: str
    settings: ClientSettings
    encoding: str


@dataclass(frozen=True)
class RequestSnapshot:
    """What one request (a hover, inlay hints, code actions, a diagnostic pull) reads,
    taken at once on the event loop: the document's text and version now, the result
    it is answered from (which may be a version behind), the runtime outcome of that
    result's version, and the settings and encoding then. Handlers work on this alone,
    never on the ``DocState`` the event loop goes on changing."""

    uri: str
    path: str | None
    version: int  # of the document now
    text: str  # the document now
    result: Result
    runtime: Any  # runtime.session.Outcome of the result's version, or None
    settings: ClientSettings
    encoding: str
    versioned_edits: bool  # the client checks an edit's version (documentChanges)

    @property
    def lines(self) -> "Lines":
        """The result's lines, for column conversion."""
        from torch_lsp.lsp.convert import Lines

        return Lines(self.result.lines, self.encoding)

    @property
    def current(self) -> bool:
        """The result is of the text the document has now."""
        return self.result.src.text == self.text

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """The result's static diagnostics, plus the runtime ones of the same version."""
        rt = self.runtime
        return self.result.diagnostics + rt.diagnostics if rt is not None and rt.diagnostics else self.result.diagnostics

    def unchanged_lines(self, lo: int, hi: int) -> set[int] | range:
        """The lines in [lo, hi] whose text is the same in the result and in the document
        now (a result a version behind answers only about those)."""
        if self.current:
            return range(lo, hi + 1)
        from torch_lsp.analysis.source import split_lines

        now = split_lines(self.text)
        then = self.result.lines
        return {i for i in range(max(lo, 0), min(hi, len(now) - 1, len(then) - 1) + 1)
                if now[i] == then[i].rstrip("\r\n")}

    def workspace_edit(self, edits: list) -> Any:
        """Edits of this document, for the version they were computed for when the
        client can check it (``documentChanges``): a client that has moved on rejects
        them instead of applying them to other text."""
        from lsprotocol import types as lsp

        if self.versioned_edits:
            return lsp.WorkspaceEdit(document_changes=[lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                edits=edits)])
        return lsp.WorkspaceEdit(changes={self.uri: edits})


@dataclass(frozen=True)
class _Text:
    version: int
    text: str
    starts: list[int] | None = None  # line_starts(text), when an edit kept it up to date


@dataclass
class Result:
    """One analysis of one document version."""

    version: int
    serial: int
    src: SourceFile
    ctx: FileContext | None
    diagnostics: list[Diagnostic]
    lines: list[str]
    _query: Any = None
    # Compact (see ``compacted``): the syntax tree and the analysis are gone; ``src``
    # holds the text only, ``_query`` a ``ShapeSnapshot``.
    compact: bool = False
    runnable: bool = False  # the text parsed without a syntax error (runtime evaluation can run it)
    skipped: str | None = None  # not analysed, and why (the document is too large)
    _lock: Any = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        if not self.compact:
            self.runnable = self.src.tree is not None and self.src.problem is None

    @property
    def query(self):
        """The shape queries of hovers and inlay hints (built on first use; the analysis
        thread may build it too, to compact the result, hence the lock)."""
        if self._query is None and self.ctx is not None:
            with self._lock:
                if self._query is None and self.ctx is not None:
                    from torch_lsp.analysis.query import ShapeQuery

                    query = ShapeQuery(self.ctx)
                    query._entries, query._layer_entries  # noqa: B018  (computed here, under the lock)
                    self._query = query
        return self._query

    def source(self) -> SourceFile:
        """The parsed source of this version (parsed again when the result is compact)."""
        if not self.compact:
            return self.src
        return SourceFile.parse(self.src.text, self.src.path)

    def compacted(self) -> "Result | None":
        """This result with only what hovers, inlay hints, code actions and diagnostics
        read: the text, its lines, the diagnostics and the answers of the shape queries
        (``ShapeSnapshot``); the syntax tree and the analysis are released. Shapes that
        were never computed (no TL2/TL3 rule selected) are not computed for it."""
        with self._lock:  # (the event loop may release this result meanwhile: then None)
            if self.compact or self.ctx is not None and not self.ctx.__dict__:
                return None
            snapshot = None
            if self.ctx is not None and "shapes" in self.ctx.__dict__:
                snapshot = ShapeSnapshot(self.query)
        src = SourceFile(text=self.src.text, path=self.src.path, problem=self.src.problem, _lines=self.src._lines)
        return Result(self.version, self.serial, src, None, self.diagnostics, self.lines, snapshot,
                      compact=True, runnable=self.runnable, skipped=self.skipped)

    def release(self) -> None:
        """Break the analysis' reference cycles (reference counting frees it now). The
        result answers no shape query afterwards."""
        if self.ctx is not None:
            with self._lock:
                if self.ctx is not None:
                    self.ctx.release()
                    self.ctx = None
                    self._query = None


class ShapeSnapshot:
    """The answers of ``ShapeQuery`` (``at``, ``layer_at``, ``assignment_hints``) for
    every position, kept without the analysis they came from: per recorded expression
    its range and what ``at`` says of it, per layer what ``layer_at`` says; a position
    picks among them exactly as ``ShapeQuery`` does."""

    __slots__ = ("_entries", "_starts", "_layers", "_hints")

    def __init__(self, query: Any) -> None:
        from torch_lsp.analysis.query import ShapeQuery

        entries, layers = query._entries, query._layer_entries
        one = ShapeQuery.__new__(ShapeQuery)  # asks the real code about one entry at a time
        one.ctx, one.interp = query.ctx, query.interp
        texts: dict[str, str] = {}
        self._entries: list[tuple] = []
        for entry in entries:
            one.__dict__["_entries"] = [entry]
            info = one.at(*entry[0])
            if info is None:  # an end before its start: never picked (kept: it still ends the search)
                self._entries.append((entry[0], entry[1], None, None, None))
                continue
            text = texts.setdefault(info.text, info.text)
            origin = texts.setdefault(info.origin, info.origin)
            self._entries.append((entry[0], entry[1], text, info.shape, origin))
        self._starts = [e[0] for e in self._entries]
        self._layers: list[tuple] = []
        for entry in layers:
            one.__dict__["_layer_entries"] = [entry]
            layer_info = one.layer_at(*entry[0])
            if layer_info is not None:
                self._layers.append((entry[0], entry[1], layer_info))
        self._hints = query.assignment_hints()

    def at(self, line: int, col: int):
        """``ShapeQuery.at``."""
        from torch_lsp.analysis.query import ShapeInfo

        pos = (line, col)
        best = None
        for k in range(bisect.bisect_right(self._starts, pos) - 1, -1, -1):
            entry = self._entries[k]
            start, end = entry[0], entry[1]
            if start <= pos <= end:
                if best is None or (start >= best[0] and end <= best[1]):
                    best = entry
            if start[0] < line - 200:
                break
        if best is None:
            return None
        (line0, col0), (line1, col1), text, shape, origin = best
        return ShapeInfo(text, shape, origin, line0, col0, line1, col1)

    def layer_at(self, line: int, col: int):
        """``ShapeQuery.layer_at``."""
        pos = (line, col)
        best = None
        for start, end, info in self._layers:
            if start <= pos <= end and (best is None or (start >= best[0] and end <= best[1])):
                best = (start, end, info)
        return best[2] if best is not None else None

    def assignment_hints(self) -> list[tuple[int, int, str]]:
        return self._hints


@dataclass
class DocState:
    """An open document as the event loop keeps it. Its text and version change
    together (``update``), as one immutable value: a thread that reads ``snapshot()``
    gets one version's text, never one version's number with another's text."""

    uri: str
    path: str | None
    _doc: _Text
    result: Result | None = None
    serial: int = 0  # bumped for every new analysis (a change, new settings)
    # Used on the analysis thread only: re-parse what an edit touched, reuse the
    # analysis of unchanged classes and functions (dropped while the document is
    # not among the most recently used, see FULL_DOCUMENTS).
    parser: IncrementalParser | None = None
    units: UnitCache | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set when a result is stored
    runtime: Any = None  # runtime.session.Outcome of the last evaluation (for result.serial when current)
    published: tuple | None = None  # (version, result_key) last published (push)
    pulled: tuple | None = None  # (version, result_key) last answered to a pull
    propagated: str | None = None  # the text whose change the importers were last re-analysed for
    touched: int = 0  # when the user last opened or edited it (the server's counter)
    imported: frozenset | None = None  # the words of its import statements (see imported_words)
    # imported_words' words per top-level statement of the last version (analysis
    # thread; dropped with the parser, whose nodes it holds)
    import_words: dict | None = None
    used: int = 0  # when the user last opened, edited or asked something of it (same counter)
    skipped: str | None = None  # why it is not analysed (too large), as last said to the user

    @classmethod
    def open(cls, uri: str, path: str | None, version: int, text: str) -> "DocState":
        return cls(uri, path, _Text(version, text))

    @property
    def text(self) -> str:
        return self._doc.text

    @property
    def version(self) -> int:
        return self._doc.version

    def update(self, text: str, version: int, starts: list[int] | None = None) -> None:
        """The document's new text and version (one assignment), and its line starts
        when known (``Document.starts``)."""
        self._doc = _Text(version, text, starts)

    @property
    def line_starts(self) -> list[int] | None:
        return self._doc.starts

    def snapshot(self, settings: ClientSettings, encoding: str) -> DocumentSnapshot:
        doc = self._doc
        return DocumentSnapshot(self.uri, self.path, doc.version, doc.text, settings, encoding)


def imported_words(tree: ast.Module, memo: dict | None = None) -> frozenset[str]:
    """Every word of the module's import statements (`from .layers import Block as B`
    gives layers, Block, B), at any depth: an open document whose words hold a file's
    module name may import it. A set per version, instead of searching every open
    document's text for each changed file. With ``memo`` (kept from the last version:
    id of a top-level statement -> the statement and its words), a statement the
    incremental parser kept (the same node) is not walked again."""
    if memo is None:
        return frozenset(_import_words(tree.body))
    words: set[str] = set()
    kept: dict[int, tuple[ast.stmt, frozenset[str]]] = {}
    for stmt in tree.body:
        hit = memo.get(id(stmt))
        if hit is None or hit[0] is not stmt:
            hit = (stmt, frozenset(_import_words([stmt])))
        kept[id(stmt)] = hit
        words |= hit[1]
    memo.clear()
    memo.update(kept)
    return frozenset(words)


def _import_words(body: list[ast.stmt]) -> set[str]:
    words: set[str] = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            for a in node.names:
                words.update(a.name.split("."))
                if a.asname:
                    words.add(a.asname)
        elif isinstance(node, ast.ImportFrom):
            if node.module:
                words.update(node.module.split("."))
            for a in node.names:
                words.add(a.name)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or \
                type(node).__name__ == "TryStar":
            for field in ("body", "orelse", "finalbody", "handlers"):
                stack.extend(getattr(node, field, ()) or ())
        elif isinstance(node, ast.ExceptHandler):
            stack.extend(node.body)
    return words


def is_python(uri: str, language_id: str | None) -> bool:
    if language_id:
        return language_id.lower() == "python"
    return uri.endswith((".py", ".pyi"))
