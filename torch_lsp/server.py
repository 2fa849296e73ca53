"""The language server: a thin pygls 2.x shell over the analysis library.

Every open Python document is analysed by ``torch_lsp.analysis.engine`` (the same
code ``torch-lsp check`` runs, so editor and CI agree) on one background thread,
so the message loop keeps answering while an analysis runs. An analysis is for one
document version: a newer version cancels it, and a result is only ever published
for the version it was computed from.

Memory stays bounded with the number of open documents: only the most recently used
keep their whole analysis (``FULL_DOCUMENTS``); the others keep what hovers, hints,
code actions and diagnostics read (``Result.compacted``). A closed document's
analysis is released at once, and a document over ``maxFileSize``/``maxFileLines``
is not analysed (one information diagnostic says why).

    torch-lsp serve            # stdio (``--stdio`` is accepted and ignored)
    torch-lsp serve --tcp 127.0.0.1:2087
    python -m torch_lsp serve

Client settings (``initializationOptions`` or the ``torch-lsp`` section of
``workspace/configuration``; see ``ClientSettings``) override the project's
``[tool.torch-lsp]`` table, which is reloaded when a pyproject.toml changes.
"""
from __future__ import annotations

import ast
import asyncio
import bisect
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from torch_lsp import __version__
from torch_lsp.analysis import engine
from torch_lsp.strict import swallowed
from torch_lsp.analysis.context import AnalysisCancelled, FileContext
from torch_lsp.analysis.diagnostics import Applicability, Diagnostic, Position, Range, Severity
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.incremental import IncrementalParser
from torch_lsp.analysis.units import UnitCache
from torch_lsp.analysis.source import SourceFile, decode_source, split_lines
from torch_lsp.config import ConfigError, ConfigResolver, Overrides
from torch_lsp.lsp.convert import Lines
from torch_lsp.lsp.data import DiagnosticData, FixData
from torch_lsp.lsp.documents import Document, minimal_edit
from torch_lsp.lsp.protocol import TorchLspProtocol, run_stdio

log = logging.getLogger("torch_lsp.server")

FIX_ALL_KIND = "source.fixAll.torch-lsp"
DOCUMENT_TEXT = "torch-lsp/documentText"
SETTINGS_SECTION = "torch-lsp"
RESULT_WAIT_SECONDS = 5.0  # a hover/pull waits this long for the current version's analysis
RUNTIME_DEBOUNCE_SECONDS = 0.3  # runtime evaluation starts after this long without a newer version
# A document is analysed only up to these sizes (settings `maxFileSize`, `maxFileLines`;
# 0: no limit). What an analysis costs follows the amount of code (~80 bytes of memory
# per byte of source at its peak, ~1 s per MB of the analysis thread, which every other
# document waits for): 2 MB cost ~160 MB and ~2 s. The largest hand-written model files
# of the benchmark corpora (transformers, timm, torchvision, twelve other libraries)
# have ~4,300 lines and ~200 KB; files ten times that are generated (tables, bundles,
# exported notebooks), where shapes have nothing to find. The line limit only catches
# files of very many short lines (a data table) below the size limit.
MAX_FILE_BYTES = 2_000_000
MAX_FILE_LINES = 100_000
# The most recently used documents keep their whole analysis (syntax tree, interpreter
# state, the incremental parser and the unit cache, which make their next edit cheap),
# at most FULL_DOCUMENTS of them and FULL_SOURCE_BYTES of their text (the most recent
# one always). The others keep only what hovers, inlay hints, code actions and
# diagnostics read (``Result.compacted``): a sixth of the memory (300 transformers
# files: 46 MB instead of 281 MB); their next edit is parsed and analysed whole.
FULL_DOCUMENTS = 16
FULL_SOURCE_BYTES = 1_000_000
# Freed memory is handed back to the system (malloc_trim) when the analysis queue is
# empty and analyses of at least this many lines were released since the last time.
TRIM_AFTER_LINES = 20_000
SWITCH_INTERVAL = 0.001  # seconds (sys.setswitchinterval; see serve)
# While documents keep arriving (a client opening a whole workspace at once), the
# analysis thread waits for a pause of QUEUE_SETTLE_SECONDS between them, at most
# MAX_SETTLE_SECONDS in all: an analysis holds the GIL through every parse, so reading
# the messages in between took as long as analysing them (~4 s for 300 files), and
# the most recently opened document, read last, was analysed last.
QUEUE_SETTLE_SECONDS = 0.02
MAX_SETTLE_SECONDS = 0.5
_LEVELS = {"error": lsp.MessageType.Error, "warning": lsp.MessageType.Warning, "info": lsp.MessageType.Info,
           "debug": lsp.MessageType.Log}


# =============================================================================== settings
@dataclass
class ClientSettings:
    """What an editor can set (camelCase keys in JSON)."""

    select: list[str] | None = None
    ignore: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    extend_ignore: list[str] = field(default_factory=list)
    inlay_hints: bool = True
    report_syntax_errors: bool = False
    unsafe_fixes: bool = False
    log_level: str = "info"
    # Runtime evaluation executes the workspace's code: it runs only when the client
    # enables it (a pyproject cannot: it is part of the code) and, for clients that
    # know workspace trust (VS Code), in a trusted workspace.
    runtime: dict = field(default_factory=dict)  # enabled, timeout, memoryMb, python, reportSkipped
    max_file_size: int = MAX_FILE_BYTES  # bytes (UTF-8); larger documents are not analysed; 0: no limit
    max_file_lines: int = MAX_FILE_LINES  # lines; 0: no limit
    workspace_trusted: bool = True
    trust_stated: bool = False  # did these settings say `workspaceTrusted` at all

    _KEYS = {
        "select": "select", "ignore": "ignore", "extendSelect": "extend_select", "extendIgnore": "extend_ignore",
        "inlayHints": "inlay_hints", "reportSyntaxErrors": "report_syntax_errors", "unsafeFixes": "unsafe_fixes",
        "logLevel": "log_level", "runtime": "runtime", "workspaceTrusted": "workspace_trusted",
        "maxFileSize": "max_file_size", "maxFileLines": "max_file_lines",
    }
    _RUNTIME_KEYS = {"enabled": bool, "timeout": (int, float), "memoryMb": int, "python": str, "reportSkipped": bool,
                     "maxEntryPoints": int}

    @property
    def runtime_enabled(self) -> bool:
        return self.runtime.get("enabled") is True and self.workspace_trusted

    @classmethod
    def from_json(cls, data: Any, problems: list[str]) -> "ClientSettings":
        out = cls()
        if data is None:
            return out
        if not isinstance(data, dict):
            problems.append(f"settings: expected an object, got {type(data).__name__}; using the defaults")
            return out
        if isinstance(data.get(SETTINGS_SECTION), dict):  # {"torch-lsp": {...}}
            data = data[SETTINGS_SECTION]
        if isinstance(data.get("settings"), dict):  # initializationOptions: {"settings": {...}}
            data = data["settings"]
        for key, value in data.items():
            attr = cls._KEYS.get(key)
            if attr is None:
                continue
            default = getattr(out, attr)
            if attr in ("select", "ignore", "extend_select", "extend_ignore"):
                if value is None and attr in ("select", "ignore"):
                    continue
                if isinstance(value, str):
                    value = [value]
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    problems.append(f"settings: `{key}` must be a list of rule codes; ignored")
                    continue
            elif attr == "runtime":
                if not isinstance(value, dict):
                    problems.append("settings: `runtime` must be an object; ignored")
                    continue
                kept = {}
                for k, v in value.items():
                    want = cls._RUNTIME_KEYS.get(k)
                    if want is None or isinstance(v, bool) and want is not bool or not isinstance(v, want):
                        problems.append(f"settings: `runtime.{k}` is unknown or of the wrong type; ignored")
                        continue
                    kept[k] = v
                value = kept
            elif attr == "log_level":
                if not isinstance(value, str) or value.lower() not in _LEVELS:
                    problems.append(f"settings: `logLevel` must be one of {', '.join(_LEVELS)}; ignored")
                    continue
                value = value.lower()
            elif not isinstance(value, type(default)) or isinstance(value, bool) and not isinstance(default, bool):
                problems.append(f"settings: `{key}` must be a {type(default).__name__}; ignored")
                continue
            elif attr in ("max_file_size", "max_file_lines") and value < 0:
                problems.append(f"settings: `{key}` must be 0 (no limit) or more; ignored")
                continue
            setattr(out, attr, value)
            if attr == "workspace_trusted":
                out.trust_stated = True
        return out

    def overrides(self) -> Overrides:
        return Overrides(
            select=tuple(self.select) if self.select is not None else None,
            ignore=tuple(self.ignore) if self.ignore is not None else None,
            extend_select=tuple(self.extend_select),
            extend_ignore=tuple(self.extend_ignore),
            unsafe_fixes=self.unsafe_fixes or None,
        )


# =============================================================================== documents
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
            info = one.layer_at(*entry[0])
            if info is not None:
                self._layers.append((entry[0], entry[1], info))
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
    uri: str
    path: str | None
    version: int
    text: str
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
    used: int = 0  # when the user last opened, edited or asked something of it (same counter)
    skipped: str | None = None  # why it is not analysed (too large), as last said to the user


def imported_words(tree: ast.Module) -> frozenset[str]:
    """Every word of the module's import statements (`from .layers import Block as B`
    gives layers, Block, B), at any depth: an open document whose words hold a file's
    module name may import it. A set per version, instead of searching every open
    document's text for each changed file."""
    words: set[str] = set()
    stack: list[ast.AST] = list(tree.body)
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
    return frozenset(words)


def _is_python(uri: str, language_id: str | None) -> bool:
    if language_id:
        return language_id.lower() == "python"
    return uri.endswith((".py", ".pyi"))


# =============================================================================== server
class TorchLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("torch-lsp", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
                         protocol_cls=TorchLspProtocol)
        self.docs: dict[str, DocState] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="torch-lsp-analysis")
        self.project = Project()
        self.settings = ClientSettings()
        self.resolver = ConfigResolver(Overrides())
        self.pull = False  # the client pulls diagnostics (textDocument/diagnostic)
        self.refresh_pending = False  # ask a pulling client to pull again when results are in
        self.root: str | None = None
        self._overlay_lock = threading.Lock()
        # the analysis queue: uri -> (class, -order); see schedule()
        self._queue: dict[str, tuple[int, int]] = {}
        self._queue_lock = threading.Lock()
        self._draining = False
        self._counter = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.shutting_down = False  # after `shutdown`: nothing new goes to the executors
        self.full_documents = FULL_DOCUMENTS
        self.full_source_bytes = FULL_SOURCE_BYTES
        self._compacting = False  # a _compact_idle job is queued or running
        self._last_added = 0.0  # when a document the user opened or edited last joined the queue
        self._released_lines = 0  # lines of analyses released since the heap was last trimmed
        from torch_lsp.runtime.session import RuntimeSession

        self.runtime = RuntimeSession(self.log)
        self.runtime_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="torch-lsp-runtime")
        self.runtime_running: tuple[str, int] | None = None  # (uri, serial) of the evaluation in progress

    # ------------------------------------------------------------------ logging
    def log(self, level: str, message: str) -> None:
        """To the client's log (window/logMessage) at the configured level, and to
        stderr when TORCH_LSP_LOG asks for it (``TORCH_LSP_LOG=debug``)."""
        log.log({"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}.get(level, logging.DEBUG), message)
        order = list(_LEVELS)
        if order.index(level) > order.index(self.settings.log_level):
            return
        try:
            self.window_log_message(lsp.LogMessageParams(type=_LEVELS[level], message=f"torch-lsp: {message}"))
        except Exception:  # no client connected (tests), or the stream is gone
            pass

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Server errors go to the log, never to a pop-up. A method the server does not
        have is the client's business (it gets MethodNotFound), not an error here."""
        from pygls.exceptions import JsonRpcMethodNotFound

        if isinstance(error, JsonRpcMethodNotFound):
            self.log("debug", str(error))
            return
        self.log("error", f"internal error: {type(error).__name__}: {error}")

    # ------------------------------------------------------------------ configuration
    def apply_settings(self, data: Any) -> None:
        problems: list[str] = []
        settings = ClientSettings.from_json(data, problems)
        # Trust is sticky: settings that do not mention it keep what was said before
        # (an untrusted workspace gets no runtime evaluation until it is trusted).
        if not settings.trust_stated:
            settings.workspace_trusted = self.settings.workspace_trusted
        self.settings = settings
        for p in problems:
            self.log("warning", p)
        self.reload_config()

    def configure_runtime(self) -> None:
        from torch_lsp.runtime.report import Options

        try:
            table = self.resolver.settings_for(self.root or os.getcwd()).runtime
        except ConfigError:
            table = {}
        r = self.settings.runtime
        client = {"timeout": r.get("timeout"), "memory-mb": r.get("memoryMb"), "python": r.get("python"),
                  "report-skipped": r.get("reportSkipped"), "max-entry-points": r.get("maxEntryPoints")}
        merged = dict(table) if isinstance(table, dict) else {}
        merged.update({k: v for k, v in client.items() if v is not None})
        self.runtime.configure(Options.from_settings(merged))

    def reload_config(self) -> None:
        try:
            self.resolver = ConfigResolver(self.settings.overrides(), cwd=self.root)
        except ConfigError as exc:
            self.log("error", f"configuration: {exc}")
            self.resolver = ConfigResolver(Overrides())
        self.configure_runtime()

    def enabled_for(self, path: str | None):
        try:
            settings = self.resolver.settings_for(path) if path else self.resolver.settings_for(self.root or os.getcwd())
        except ConfigError as exc:
            self.log("error", f"configuration: {exc}")
            return None
        for w in self.resolver.warnings:
            self.log("warning", f"configuration: {w}")
        self.resolver.warnings.clear()
        return settings.enabled_for(path)

    # ------------------------------------------------------------------ analysis
    def submit(self, fn, *args) -> bool:
        """Run ``fn`` on the analysis thread; False (it does not run) once the server
        is shutting down."""
        if self.shutting_down:
            return False
        try:
            self.executor.submit(fn, *args)
        except RuntimeError:  # "cannot schedule new futures after shutdown"
            return False
        return True

    def _to_loop(self, fn, *args) -> None:
        """From another thread: call ``fn`` on the event loop (unless it has closed)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # closed meanwhile
            pass

    def mark_used(self, state: DocState) -> None:
        """The user asked something of the document (a hover, hints, code actions): it
        is among the most recently used (see FULL_DOCUMENTS)."""
        if state.used != self._counter:
            self._counter += 1
            state.used = self._counter

    def _full_uris(self) -> set[str]:
        """The documents that keep their whole analysis: the most recently used, at
        most ``full_documents`` and ``full_source_bytes`` of text (the most recent one
        always). Called on both threads (reads only)."""
        keep: set[str] = set()
        total = 0
        for d in sorted(list(self.docs.values()), key=lambda d: d.used, reverse=True):
            size = len(d.text)
            if keep and (len(keep) >= self.full_documents or total + size > self.full_source_bytes):
                break
            keep.add(d.uri)
            total += size
        return keep

    def _trim(self) -> None:
        """On the event loop: documents no longer among the most recently used give
        back their syntax tree and analysis (kept: what hovers and code actions read),
        their incremental parser and unit cache, on the analysis thread between two
        analyses."""
        if self._compacting:
            return
        keep = self._full_uris()
        if any(d.uri not in keep and (d.parser is not None or d.units is not None
                                      or d.result is not None and not d.result.compact) for d in self.docs.values()):
            self._compacting = self.submit(self._compact_idle)

    def _compact_idle(self) -> None:
        """On the analysis thread: see ``_trim``."""
        try:
            keep = self._full_uris()
            for state in list(self.docs.values()):
                if state.uri in keep:
                    continue
                state.parser = None  # only this thread uses them
                state.units = None
                result = state.result
                if result is not None and not result.compact:
                    compact = result.compacted()
                    if compact is not None:
                        self._to_loop(self._compacted, state, result, compact)
        finally:
            self._compacting = False

    def _compacted(self, state: DocState, old: Result, compact: Result) -> None:
        """On the event loop: a document's result replaced by its compact form."""
        if self.docs.get(state.uri) is state and state.result is old:
            state.result = compact
            self._release(old)

    def _release(self, result: Result | None) -> None:
        """On the event loop: drop a result's analysis; once analyses of more than
        TRIM_AFTER_LINES lines are gone and no analysis is waiting, the freed memory
        is given back to the system (on the analysis thread)."""
        if result is not None and result.ctx is not None:
            self._released_lines += len(result.lines)
            result.release()
        self._maybe_trim()

    def _maybe_trim(self) -> None:
        if self._released_lines > TRIM_AFTER_LINES and not self._queue:
            self._released_lines = 0
            self.submit(_trim_heap)

    def _too_large(self, text: str) -> str | None:
        """Why a document is not analysed (its size), or None."""
        max_bytes, max_lines = self.settings.max_file_size, self.settings.max_file_lines
        if max_bytes and len(text) * 4 > max_bytes:  # (a code point is at most 4 bytes)
            size = len(text) if len(text) > max_bytes else len(text.encode("utf-8", "surrogatepass"))
            if size > max_bytes:
                return (f"it has {size / 1e6:.1f} MB, more than the limit of {max_bytes / 1e6:g} MB "
                        f"(setting `maxFileSize`, in bytes; 0: no limit)")
        if max_lines and text.count("\n") + 1 > max_lines:
            lines = len(split_lines(text)) if "\r" in text else text.count("\n") + 1
            if lines > max_lines:
                return (f"it has {lines:,} lines, more than the limit of {max_lines:,} "
                        f"(setting `maxFileLines`; 0: no limit)")
        return None

    def schedule(self, uri: str, background: bool = False) -> None:
        """Analyse the document's current version. Documents the user edits or opens
        go first, the most recent first; re-analyses because a dependency or the
        settings changed (``background``) come after them. A document queued again
        keeps one place (the more urgent): an older version never runs."""
        state = self.docs.get(uri)
        if state is None:
            return
        state.serial += 1
        if self.runtime_running is not None and self.runtime_running[0] == uri:
            self.runtime.cancel()  # its version is superseded
        self._loop = asyncio.get_event_loop()
        if not background:  # the user touched it (opened, edited): the most recent goes first
            self._counter += 1
            state.touched = state.used = self._counter
        urgency = (1 if background else 0, -state.touched)
        with self._queue_lock:
            old = self._queue.get(uri)
            self._queue[uri] = min(old, urgency) if old is not None else urgency
            if old is None and not background:
                self._last_added = time.monotonic()
            if not self._draining:
                self._draining = self.submit(self._analyse_next)

    def _analyse_next(self) -> None:
        """On the analysis thread: the most urgent queued document, then this again
        (other work on the thread, a fix-all, takes its turn in between)."""
        self._settle_queue()
        with self._queue_lock:
            if not self._queue or self.shutting_down:
                self._draining = False
                uri = None
            else:
                uri = min(self._queue, key=self._queue.__getitem__)
                del self._queue[uri]
        if uri is None:
            return
        try:
            state = self.docs.get(uri)
            if state is not None:
                serial = state.serial
                try:
                    result = self._job(state, serial)
                except Exception as exc:  # a bug in torch-lsp: log it, keep serving
                    self._to_loop(self.log, "error", f"analysis of {uri} failed: {type(exc).__name__}: {exc}")
                    swallowed()
                else:
                    if result is not None:
                        self._to_loop(self._analysed, uri, state, result)
        finally:
            if not self.submit(self._analyse_next):
                with self._queue_lock:
                    self._draining = False

    def _settle_queue(self) -> None:
        """On the analysis thread: while documents keep joining the queue (more than one
        waiting, the last joined less than QUEUE_SETTLE_SECONDS ago), wait for them (at
        most MAX_SETTLE_SECONDS), so that the most recent is known before one is picked."""
        deadline = time.monotonic() + MAX_SETTLE_SECONDS
        while not self.shutting_down:
            now = time.monotonic()
            quiet = now - self._last_added
            if len(self._queue) <= 1 or quiet >= QUEUE_SETTLE_SECONDS or now >= deadline:
                return
            time.sleep(min(QUEUE_SETTLE_SECONDS - quiet, deadline - now))

    def _analysed(self, uri: str, state: DocState, result: Result) -> None:
        """On the event loop: a document's new result (unless superseded)."""
        if self.docs.get(uri) is not state or state.serial != result.serial:
            self._release(result)  # superseded: a newer version is (or will be) analysed
            return
        previous, state.result = state.result, result
        if previous is not None and previous.ctx is not result.ctx:
            # Break the old analysis' reference cycles so that reference counting
            # frees it now (the unit cache keeps what later analyses reuse).
            self._release(previous)
        _settle_memory()
        self._maybe_trim()  # (also for what the analysis thread compacted)
        if result.skipped != state.skipped:
            state.skipped = result.skipped
            if result.skipped is not None:
                self.log("info", f"{os.path.basename(state.path or uri)} is not analysed: {result.skipped}")
        self._trim()
        state.changed.set()
        state.changed = asyncio.Event()
        self._refresh_inlay_hints()
        if self.settings.runtime_enabled and result.runnable and state.path:
            asyncio.ensure_future(self._evaluate_runtime(uri, result.serial))
        if not self.pull:
            self.publish(state)
        else:
            if state.pulled is not None and state.pulled[0] == result.version and state.pulled[1] != self.result_key(state, result):
                # New settings (or a dependency) changed what the client pulled for this
                # very text: it will not pull again by itself.
                self.refresh_pending = True
            if self.refresh_pending and all(d.result is not None and d.result.serial == d.serial for d in self.docs.values()):
                self.refresh_pending = False  # once every open document is analysed
                self._request_refresh()
        if state.propagated != result.src.text:
            # Its text changed: the open documents that import it are analysed again (a
            # re-analysis because of a dependency changes nothing they see: no ping-pong
            # between two files that import each other).
            state.propagated = result.src.text
            for other in self._dependents(state):
                self.schedule(other.uri, background=True)

    async def _evaluate_runtime(self, uri: str, serial: int) -> None:
        """Evaluate the document on meta tensors (TL901) on the runtime thread, after
        a short pause without edits; publish when it is still the current version."""
        await asyncio.sleep(RUNTIME_DEBOUNCE_SECONDS)
        state = self.docs.get(uri)
        if state is None or state.serial != serial or state.result is None or state.result.serial != serial:
            return
        result = state.result
        enabled = self.enabled_for(state.path)
        loop = asyncio.get_running_loop()

        def job():
            self.runtime_running = (uri, serial)
            try:
                if self.docs.get(uri) is not state or state.serial != serial:
                    return None
                return self.runtime.evaluate(result.source(), state.path, result.diagnostics, serial, self.project, enabled)
            finally:
                self.runtime_running = None

        try:
            outcome = await loop.run_in_executor(self.runtime_executor, job)
        except Exception as exc:  # a bug in torch-lsp: log it, keep serving
            self.log("error", f"runtime evaluation of {uri} failed: {type(exc).__name__}: {exc}")
            return
        if outcome is None or self.docs.get(uri) is not state or state.serial != serial:
            return
        state.runtime = outcome
        self.log("debug", f"runtime: {uri} v{state.version}: {outcome.evaluated} evaluated, {len(outcome.skipped)} skipped, "
                          f"{len(outcome.diagnostics)} diagnostics, {outcome.seconds * 1000:.0f} ms in the worker")
        if not self.pull:
            self.publish(state)
        elif state.pulled is not None and state.pulled[0] == state.version \
                and state.pulled[1] != self.result_key(state, state.result):
            self._request_refresh()

    def diagnostics_of(self, state: DocState, result: Result) -> list[Diagnostic]:
        """The static diagnostics of a result, plus the runtime ones of the same version."""
        rt = state.runtime
        if rt is not None and rt.serial == result.serial and rt.diagnostics:
            return result.diagnostics + rt.diagnostics
        return result.diagnostics

    def _refresh_inlay_hints(self) -> None:
        """Hints are answered from the last result: ask the client for them again when
        a new one is in (if it can be asked)."""
        ws = self.client_capabilities.workspace
        if self.settings.inlay_hints and ws and ws.inlay_hint and ws.inlay_hint.refresh_support:
            try:
                self.workspace_inlay_hint_refresh(None)
            except Exception as exc:
                self.log("debug", f"workspace/inlayHint/refresh failed: {exc}")

    def _request_refresh(self) -> None:
        ws = self.client_capabilities.workspace
        if ws and ws.diagnostics and ws.diagnostics.refresh_support:
            try:
                self.workspace_diagnostic_refresh(None)
            except Exception as exc:
                self.log("debug", f"workspace/diagnostic/refresh failed: {exc}")

    def _job(self, state: DocState, serial: int) -> Result | None:
        """Runs on the analysis thread."""
        if self.docs.get(state.uri) is not state or state.serial != serial:
            return None
        text, version = state.text, state.version
        t0 = time.perf_counter()
        too_large = self._too_large(text)
        if too_large is not None:
            return self._skipped(state, serial, version, text, too_large)
        if state.path:
            self.project.set_overlay(state.path, text)
        if state.parser is None:
            state.parser = IncrementalParser(state.path)
        if state.units is None:
            state.units = UnitCache()
        src = state.parser.parse(text)
        if src.tree is not None:
            state.imported = imported_words(src.tree)
        t_parse = time.perf_counter()
        enabled = self.enabled_for(state.path)
        cancel = lambda: self.docs.get(state.uri) is not state or state.serial != serial  # noqa: E731
        diags: list[Diagnostic] = []
        ctx = None
        if src.tree is not None:
            analysed = src if src.problem is None else SourceFile(text=text, path=state.path, tree=src.tree, _lines=src.lines)
            try:
                ctx, diags = engine.analyse(analysed, self.project, enabled, record_shapes=True, cancel=cancel,
                                            unit_cache=state.units)
            except AnalysisCancelled:
                return None
        if src.problem is not None and self.settings.report_syntax_errors:
            from torch_lsp.rules import parse_error

            diags.append(parse_error.diagnostic(src.problem))
        diags = engine.finish(src, diags, enabled)
        self.log("debug", f"analysed {state.uri} v{version} in {(time.perf_counter() - t0) * 1000:.1f} ms "
                          f"(parse {(t_parse - t0) * 1000:.1f} ms): {len(diags)} diagnostics "
                          f"({'incremental' if state.parser.last_was_incremental else 'full'} parse; "
                          f"{state.units.hits} units reused, {state.units.misses} analysed so far)")
        result = Result(version, serial, src, ctx, diags, src.lines)
        if cancel():
            result.release()
            return None
        if state.uri not in self._full_uris():  # not among the most recently used (see FULL_DOCUMENTS)
            compact = result.compacted()
            if compact is not None:
                self._released_lines += len(result.lines)
                result.release()
                result = compact
            state.parser = None
            state.units = None
        return result

    def _skipped(self, state: DocState, serial: int, version: int, text: str, why: str) -> Result:
        """The result of a document too large to analyse: one information diagnostic
        that says so (other files read it from the disk, as if it were not open)."""
        if state.path:
            self.project.set_overlay(state.path, None)
        state.parser = None
        state.units = None
        src = SourceFile(text=text, path=state.path)
        message = f"torch-lsp does not analyse this file: {why}."
        diag = Diagnostic("", Severity.INFORMATION, Range.point(0, 0), message)
        return Result(version, serial, src, None, [diag], src.lines, compact=True, skipped=why)

    def _dependents(self, state: DocState) -> list[DocState]:
        """Other open documents that may import this one (they name its module)."""
        if not state.path:
            return []
        return self._importers(state.path, exclude=state)

    def _importers(self, path: str, exclude: DocState | None = None) -> list[DocState]:
        """Open documents that may import the file at ``path`` (they name its module)."""
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem == "__init__":
            stem = os.path.basename(os.path.dirname(path))
        return [d for d in self.docs.values()
                if d is not exclude and (stem in d.imported if d.imported is not None else stem in d.text)]

    def files_changed_on_disk(self, paths: list[str]) -> None:
        """Python files that are not open changed, appeared or vanished: forget what
        the project knew of them and re-analyse the open documents that import them."""
        self.submit(self.project.file_system_changed, paths)
        affected: dict[str, DocState] = {}
        for path in paths:
            for d in self._importers(path):
                affected[d.uri] = d
        for uri in affected:
            self.schedule(uri, background=True)

    async def latest_result(self, uri: str) -> Result | None:
        """The document's last analysis, at once: hovers and hints never wait for the
        analysis of a newer version (its positions are a version behind, briefly). Only
        a document not analysed yet (just opened: it is analysed first) is waited for."""
        state = self.docs.get(uri)
        if state is not None and state.result is None:
            return await self.current_result(uri)
        return state.result if state is not None else None

    @staticmethod
    def unchanged_lines(state: DocState, result: Result, lo: int, hi: int) -> set[int] | range:
        """The lines in [lo, hi] whose text is the same in the result and in the document
        now (a result a version behind answers only about those)."""
        if result.src.text == state.text:
            return range(lo, hi + 1)
        now = split_lines(state.text)
        then = result.lines
        return {i for i in range(max(lo, 0), min(hi, len(now) - 1, len(then) - 1) + 1)
                if now[i] == then[i].rstrip("\r\n")}

    async def current_result(self, uri: str) -> Result | None:
        """The analysis of the document's current version (waiting for it a little)."""
        state = self.docs.get(uri)
        deadline = time.monotonic() + RESULT_WAIT_SECONDS
        while state is not None:
            if state.result is not None and state.result.serial == state.serial:
                return state.result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return state.result  # the last one there is (positions may be a little off)
            try:
                await asyncio.wait_for(state.changed.wait(), timeout=min(remaining, 0.25))
            except asyncio.TimeoutError:
                pass
            if self.docs.get(uri) is not state:
                return None
        return None

    # ------------------------------------------------------------------ conversion
    @property
    def encoding(self) -> str:
        enc = self.workspace.position_encoding
        return str(getattr(enc, "value", enc) or "utf-16").lower()

    def lines_of(self, result: Result) -> Lines:
        return Lines(result.lines, self.encoding)

    def _lines_of_path(self, path: str) -> list[str]:
        """The lines of another file (its open text if it is open, else the disk's), for
        converting a related location's columns; [] when it cannot be read (columns
        then pass as they are)."""
        for state in self.docs.values():
            if state.path and os.path.realpath(state.path) == os.path.realpath(path):
                return split_lines(state.text, keepends=True)
        try:
            with open(path, "rb") as f:
                text, _ = decode_source(f.read())
        except OSError:
            return []
        return split_lines(text, keepends=True) if text is not None else []

    def to_lsp(self, d: Diagnostic, result: Result, uri: str) -> lsp.Diagnostic:
        lines = self.lines_of(result)
        related = []
        for r in d.related:
            if r.path is None:
                related.append(lsp.DiagnosticRelatedInformation(location=lsp.Location(uri=uri, range=lines.range_to_client(r.range)), message=r.message))
            else:  # another file: converted with that file's own lines
                related.append(lsp.DiagnosticRelatedInformation(
                    location=lsp.Location(uri=from_fs_path(r.path) or r.path,
                                          range=Lines(self._lines_of_path(r.path), self.encoding).range_to_client(r.range)),
                    message=r.message))
        data = DiagnosticData(result.version, d.range.start.line, tuple(
            FixData(f.title, f.applicability is Applicability.SAFE,
                    tuple(lsp.TextEdit(range=lines.range_to_client(e.range), new_text=e.new_text) for e in f.edits))
            for f in d.fixes))
        return lsp.Diagnostic(
            range=lines.range_to_client(d.range),
            severity=lsp.DiagnosticSeverity(int(d.severity)),
            code=d.code or None,  # (none: the server's note that a file is not analysed)
            source="torch-lsp",
            message=d.message,
            related_information=related or None,
            data=data.to_json(),
        )

    def workspace_edit(self, state: DocState, edits: list[lsp.TextEdit]) -> lsp.WorkspaceEdit:
        """Edits of one document, for the version they were computed for when the
        client can check it (``documentChanges``): a client that has moved on rejects
        them instead of applying them to other text."""
        ws = self.client_capabilities.workspace
        if ws and ws.workspace_edit and ws.workspace_edit.document_changes:
            return lsp.WorkspaceEdit(document_changes=[lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=state.uri, version=state.version),
                edits=edits)])
        return lsp.WorkspaceEdit(changes={state.uri: edits})

    def result_key(self, state: DocState, result: Result) -> tuple:
        """What the client sees of a result's diagnostics (to tell when it changed)."""
        return tuple((d.code, int(d.severity), d.range, d.message, d.related, d.fixes) for d in self.diagnostics_of(state, result))

    def publish(self, state: DocState) -> None:
        """Push the document's diagnostics, unless the client already has them for
        this version."""
        result = state.result
        key = (state.version, self.result_key(state, result) if result else ())
        if key == state.published:
            return
        state.published = key
        items = [self.to_lsp(d, result, state.uri) for d in self.diagnostics_of(state, result)] if result else []
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=state.uri, diagnostics=items, version=state.version))


_last_full_collection = [0.0]


def _trim_heap() -> None:
    """Give the memory freed by released analyses back to the system: the C
    allocator keeps freed pages of its heap otherwise (glibc's ``malloc_trim``;
    elsewhere nothing)."""
    trim = _malloc_trim()
    if trim is not None:
        try:
            trim(0)
        except Exception:  # pragma: no cover - best effort
            pass


_TRIM: list = []


def _malloc_trim():
    if not _TRIM:
        fn = None
        if os.name == "posix":
            try:
                import ctypes
                import ctypes.util

                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                fn = getattr(libc, "malloc_trim", None)
                if fn is not None:
                    fn.argtypes = [ctypes.c_size_t]
                    fn.restype = ctypes.c_int
            except (OSError, AttributeError):
                fn = None
        _TRIM.append(fn)
    return _TRIM[0]


def _settle_memory() -> None:
    """Garbage collection for an editor session. Each analysis leaves a large heap
    (trees, shapes) alive until the next one; CPython's collector would scan it again
    and again, pausing an edit for 100+ ms now and then. So what is alive after an
    analysis is frozen (never scanned; still freed by reference counting, and old
    analyses are released without cycles), and a full collection runs at most once a
    minute, after an analysis, to catch what still leaks."""
    import gc

    now = time.monotonic()
    if now - _last_full_collection[0] > 60.0:
        _last_full_collection[0] = now
        gc.unfreeze()
        gc.collect()
        _trim_heap()
    gc.freeze()


# =============================================================================== features
def create_server() -> TorchLanguageServer:
    server = TorchLanguageServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: TorchLanguageServer, params: lsp.InitializeParams) -> None:
        if params.root_uri:
            ls.root = to_fs_path(params.root_uri)
        elif params.root_path:
            ls.root = params.root_path
        if params.workspace_folders:
            ls.root = to_fs_path(params.workspace_folders[0].uri) or ls.root
        if ls.root:
            ls.project = Project([ls.root])
        td = params.capabilities.text_document
        ls.pull = bool(td and td.diagnostic is not None)
        ls.apply_settings(params.initialization_options)

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: TorchLanguageServer, params: lsp.InitializedParams) -> None:
        caps = ls.client_capabilities
        ws = caps.workspace
        if ws and ws.did_change_watched_files and ws.did_change_watched_files.dynamic_registration:
            try:
                await ls.client_register_capability_async(lsp.RegistrationParams(registrations=[lsp.Registration(
                    id="torch-lsp-files", method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    register_options=lsp.DidChangeWatchedFilesRegistrationOptions(
                        watchers=[lsp.FileSystemWatcher(glob_pattern="**/pyproject.toml"),
                                  lsp.FileSystemWatcher(glob_pattern="**/*.py")]))]))
            except Exception as exc:
                ls.log("debug", f"could not watch pyproject.toml and Python files: {exc}")
        await _pull_configuration(ls)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: TorchLanguageServer, params: lsp.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and SETTINGS_SECTION in settings:
            ls.apply_settings(settings[SETTINGS_SECTION])
            _reanalyse_all(ls)
        else:
            await _pull_configuration(ls)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: TorchLanguageServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        if any(c.uri.endswith("pyproject.toml") for c in params.changes):
            ls.reload_config()
            _reanalyse_all(ls)
        # Open documents are read from the editor, not the disk: only the others count.
        paths = [to_fs_path(c.uri) for c in params.changes
                 if c.uri.endswith((".py", ".pyi")) and c.uri.startswith("file:") and c.uri not in ls.docs]
        if paths:
            ls.files_changed_on_disk([p for p in paths if p])

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TorchLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        if not _is_python(doc.uri, doc.language_id):
            return
        path = to_fs_path(doc.uri) if doc.uri.startswith("file:") else None
        ls.docs[doc.uri] = DocState(doc.uri, path, doc.version, doc.text)
        ls.schedule(doc.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TorchLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        state = ls.docs.get(params.text_document.uri)
        if state is None:
            return
        doc = Document(state.uri, state.text, state.version)
        for change in params.content_changes:
            doc.apply(change, ls.encoding)
        state.version = params.text_document.version if params.text_document.version is not None else state.version + 1
        state.text = doc.text
        ls.schedule(state.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: TorchLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
        if params.text_document.uri.endswith("pyproject.toml"):
            ls.reload_config()
            _reanalyse_all(ls)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TorchLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
        state = ls.docs.pop(params.text_document.uri, None)
        if state is None:
            return
        with ls._queue_lock:
            ls._queue.pop(state.uri, None)
        if state.path:
            ls.submit(ls.project.set_overlay, state.path, None)
        # What it held goes now (a job of its own still running drops its result).
        ls._release(state.result)
        state.result = state.runtime = None
        state.changed.set()
        if not ls.pull:
            ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=state.uri, diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_DIAGNOSTIC, lsp.DiagnosticOptions(
        identifier="torch-lsp", inter_file_dependencies=True, workspace_diagnostics=False))
    async def pull_diagnostics(ls: TorchLanguageServer, params: lsp.DocumentDiagnosticParams):
        result = await ls.current_result(params.text_document.uri)
        if result is None:
            return lsp.RelatedFullDocumentDiagnosticReport(items=[])
        state = ls.docs.get(params.text_document.uri)
        diags = ls.diagnostics_of(state, result) if state is not None else result.diagnostics
        if state is not None:
            state.pulled = (result.version, ls.result_key(state, result))
        items = [ls.to_lsp(d, result, params.text_document.uri) for d in diags]
        return lsp.RelatedFullDocumentDiagnosticReport(items=items, result_id=str(result.version))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    async def hover(ls: TorchLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
        from torch_lsp.lsp.hover import hover_markdown, runtime_markdown

        result = await ls.latest_result(params.text_document.uri)
        if result is None:
            return None
        lines = ls.lines_of(result)
        pos = lines.from_client(params.position)
        state = ls.docs.get(params.text_document.uri)
        if state is not None:
            ls.mark_used(state)
        if state is not None and pos.line not in ls.unchanged_lines(state, result, pos.line, pos.line):
            return None  # the line changed since the last result: no answer about other text
        try:
            diags = ls.diagnostics_of(state, result) if state is not None else result.diagnostics
            found = hover_markdown(result.query, diags, pos)
            rt = state.runtime if state is not None and state.runtime is not None and state.runtime.serial == result.serial else None
            evaluated = runtime_markdown(rt, lines._line(pos.line), pos) if rt is not None else None
        except Exception as exc:
            ls.log("error", f"hover failed: {type(exc).__name__}: {exc}")
            return None
        if evaluated is not None:
            found = (found[0] + "\n\n---\n\n" + evaluated[0], found[1]) if found is not None else evaluated
        if found is None:
            return None
        text, span = found
        rng = lines.range_to_client(Range(span[0], span[1])) if span else None
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text), range=rng)

    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT, lsp.InlayHintOptions(resolve_provider=False))
    async def inlay_hints(ls: TorchLanguageServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint] | None:
        if not ls.settings.inlay_hints:
            return []
        result = await ls.latest_result(params.text_document.uri)
        if result is None or result.query is None:
            return []
        lines = ls.lines_of(result)
        lo, hi = params.range.start.line, params.range.end.line
        out = []
        seen = set()
        state = ls.docs.get(params.text_document.uri)
        if state is not None:
            ls.mark_used(state)
        rt = state.runtime if state is not None and state.runtime is not None and state.runtime.serial == result.serial else None
        from torch_lsp.lsp.hover import shape_list_text

        evaluated = {line: shape_list_text(shape) for line, shape in rt.assignment_shapes(result.source().tree).items()} if rt is not None else {}
        same = ls.unchanged_lines(state, result, lo, hi) if state is not None else range(lo, hi + 1)
        for line, _col, text in result.query.assignment_hints():
            if not lo <= line <= hi or line in seen or line not in same:
                continue
            seen.add(line)
            if line in evaluated and evaluated[line] != text:
                text = evaluated[line] + " (evaluated)"  # the static shape was partly unknown
            end = len(result.lines[line].rstrip()) if line < len(result.lines) else 0
            out.append(lsp.InlayHint(position=lines.to_client(Position(line, end)), label=f"⟶ {text}",
                                     kind=lsp.InlayHintKind.Type, padding_left=True))
        for line, text in sorted(evaluated.items()):  # lines only the evaluation saw
            if lo <= line <= hi and line not in seen and line in same:
                seen.add(line)
                end = len(result.lines[line].rstrip()) if line < len(result.lines) else 0
                out.append(lsp.InlayHint(position=lines.to_client(Position(line, end)), label=f"⟶ {text} (evaluated)",
                                         kind=lsp.InlayHintKind.Type, padding_left=True))
        return out

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.SourceFixAll, FIX_ALL_KIND], resolve_provider=False))
    async def code_action(ls: TorchLanguageServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
        uri = params.text_document.uri
        state = ls.docs.get(uri)
        if state is None:
            return None
        ls.mark_used(state)
        only = params.context.only
        actions: list[lsp.CodeAction] = []
        wants_quickfix = not only or any(str(k).startswith("quickfix") for k in only)
        wants_fix_all = not only or any(FIX_ALL_KIND.startswith(str(k)) for k in only)
        if wants_quickfix:
            for d in params.context.diagnostics:
                data = DiagnosticData.read(d.data) if d.source == "torch-lsp" else None
                if data is None or (data.version is not None and data.version != state.version):
                    continue  # not ours, or computed for another version of the text (stale positions)
                actions.extend(_quick_fixes(ls, state, d, data))
        if wants_fix_all:
            # From the last result, at once (one not analysed yet is waited for), and
            # only for the text the editor has now (a result of another version would
            # rewrite text the user has changed since).
            result = await ls.latest_result(uri)
            if result is not None and result.src.text == state.text and any(d.fixes for d in result.diagnostics):
                version, text = state.version, state.text
                try:
                    fixed = await asyncio.get_running_loop().run_in_executor(ls.executor, _fix_all_text, ls, state, result)
                except RuntimeError:  # shutting down
                    return actions
                if fixed is not None and fixed != text and state.text == text and state.version == version:
                    edit = minimal_edit(text, fixed, ls.encoding)
                    if edit is not None:
                        actions.append(lsp.CodeAction(title="Fix all torch-lsp problems", kind=FIX_ALL_KIND,
                                                      edit=ls.workspace_edit(state, [edit])))
        return actions

    @server.feature(DOCUMENT_TEXT)
    def document_text(ls: TorchLanguageServer, params: Any) -> dict | None:
        """The server's copy of a document (for tests and clients that want to check
        their sync): ``{"textDocument": {"uri": ...}}`` -> ``{"version", "text"}``."""
        doc = params.get("textDocument") if isinstance(params, dict) else getattr(params, "textDocument", None)
        uri = doc.get("uri") if isinstance(doc, dict) else getattr(doc, "uri", None)
        state = ls.docs.get(uri) if isinstance(uri, str) else None
        return {"version": state.version, "text": state.text} if state is not None else None

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: TorchLanguageServer, *args) -> None:
        ls.shutting_down = True  # (work that still ends in a submit submits nothing)
        ls.executor.shutdown(wait=False, cancel_futures=True)
        ls.runtime.cancel()
        ls.runtime_executor.shutdown(wait=False, cancel_futures=True)
        ls.runtime.close()

    return server


async def _pull_configuration(ls: TorchLanguageServer) -> None:
    ws = ls.client_capabilities.workspace
    if not (ws and ws.configuration):
        _reanalyse_all(ls)
        return
    try:
        items = await ls.workspace_configuration_async(lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section=SETTINGS_SECTION)]))
    except Exception as exc:
        ls.log("debug", f"workspace/configuration failed: {exc}")
        items = None
    if items and items[0] is not None:
        ls.apply_settings(items[0])
    _reanalyse_all(ls)


def _reanalyse_all(ls: TorchLanguageServer) -> None:
    for state in list(ls.docs.values()):
        ls.schedule(state.uri, background=True)


def _quick_fixes(ls: TorchLanguageServer, state: DocState, d: lsp.Diagnostic, data: DiagnosticData) -> list[lsp.CodeAction]:
    out: list[lsp.CodeAction] = []
    if d.code is None or d.code == "":
        return out  # not a rule's (a file not analysed): nothing to fix or ignore
    preferred_given = False
    for fix in data.fixes:
        out.append(lsp.CodeAction(
            title=fix.title + ("" if fix.safe else " (unsafe)"),
            kind=lsp.CodeActionKind.QuickFix,
            diagnostics=[d],
            is_preferred=fix.safe and not preferred_given,
            edit=ls.workspace_edit(state, list(fix.edits)),
        ))
        preferred_given = preferred_given or fix.safe
    code = str(d.code)
    line = data.line if data.line is not None else d.range.start.line
    edit = _suppression_edit(Lines(split_lines(state.text), ls.encoding), line, code)
    if edit is not None:
        out.append(lsp.CodeAction(title=f"Ignore {code} on this line", kind=lsp.CodeActionKind.QuickFix,
                                  diagnostics=[d], edit=ls.workspace_edit(state, [edit])))
    return out


def _suppression_edit(lines: Lines, line: int, code: str) -> lsp.TextEdit | None:
    """`# torch-lsp: ignore[CODE]` at the end of the line, or CODE added to one there."""
    import re

    if not 0 <= line < len(lines.lines):
        return None
    current = lines._line(line)
    m = re.search(r"#\s*torch-lsp\s*:\s*ignore\s*\[([^\]]*)\]", current)
    if m:
        codes = [c.strip() for c in m.group(1).split(",") if c.strip()]
        if code in codes:
            return None
        new_line = current[: m.start(1)] + ", ".join(codes + [code]) + current[m.end(1):]
    else:
        new_line = current.rstrip() + f"  # torch-lsp: ignore[{code}]"
    rng = Range(Position(line, 0), Position(line, len(current)))
    return lsp.TextEdit(range=lines.range_to_client(rng), new_text=new_line)


def _fix_all_text(ls: TorchLanguageServer, state: DocState, result: Result) -> str | None:
    """Apply every (safe) fix, round after round: the loop ``check --fix`` runs."""
    from torch_lsp.analysis import fixes

    enabled = ls.enabled_for(state.path)
    run = fixes.fix_all(result.src.text, result.diagnostics,
                        lambda text: engine.check_source(text, state.path, enabled=enabled, project=ls.project).diagnostics,
                        unsafe=ls.settings.unsafe_fixes)
    if run.problem is not None:
        ls.log("error", f"a fix would leave invalid Python ({run.problem}); not applied: {'; '.join(run.refused)}")
    return run.text


# =============================================================================== entry point
def serve(tcp: str | None = None) -> int:
    import gc

    level = os.environ.get("TORCH_LSP_LOG", "").upper()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if level in ("DEBUG", "INFO", "WARNING", "ERROR"):
        log.setLevel(level)
    gc.set_threshold(50_000, 20, 100)  # young objects less often (see _settle_memory)
    # The message loop, the thread that reads stdin for it and the analysis thread
    # share the GIL: a thread that wants it waits up to this long for the one running
    # Python code (5 ms by default). Each message takes several hand-overs between
    # the reader and the loop: during a burst of edits across 50 files hovers took
    # 36 ms at the median and up to 0.2-0.3 s with 5 ms, 15 ms and 70-80 ms with 1 ms
    # (benchmarks/workspace_load.py); a single document's edit latency is the same.
    sys.setswitchinterval(SWITCH_INTERVAL)
    server = create_server()
    if tcp:
        host, _, port = tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    return run_stdio(server)
