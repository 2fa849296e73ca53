"""The language server: a thin pygls 2.x shell over the analysis library.

Every open Python document is analysed by ``torch_lsp.analysis.engine`` (the same
code ``torch-lsp check`` runs, so editor and CI agree) on one background thread,
so the message loop keeps answering while an analysis runs. An analysis is for one
document version: a newer version cancels it, and a result is only ever published
for the version it was computed from.

    torch-lsp serve            # stdio (``--stdio`` is accepted and ignored)
    torch-lsp serve --tcp 127.0.0.1:2087
    python -m torch_lsp serve

Client settings (``initializationOptions`` or the ``torch-lsp`` section of
``workspace/configuration``; see ``ClientSettings``) override the project's
``[tool.torch-lsp]`` table, which is reloaded when a pyproject.toml changes.
"""
from __future__ import annotations

import asyncio
import logging
import os
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
from torch_lsp.analysis.context import AnalysisCancelled, FileContext
from torch_lsp.analysis.diagnostics import Applicability, Diagnostic, Position, Range
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
MAX_FIX_ROUNDS = 10
RESULT_WAIT_SECONDS = 5.0  # a hover/pull waits this long for the current version's analysis
RUNTIME_DEBOUNCE_SECONDS = 0.3  # runtime evaluation starts after this long without a newer version
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
    workspace_trusted: bool = True
    trust_stated: bool = False  # did these settings say `workspaceTrusted` at all

    _KEYS = {
        "select": "select", "ignore": "ignore", "extendSelect": "extend_select", "extendIgnore": "extend_ignore",
        "inlayHints": "inlay_hints", "reportSyntaxErrors": "report_syntax_errors", "unsafeFixes": "unsafe_fixes",
        "logLevel": "log_level", "runtime": "runtime", "workspaceTrusted": "workspace_trusted",
    }
    _RUNTIME_KEYS = {"enabled": bool, "timeout": (int, float), "memoryMb": int, "python": str, "reportSkipped": bool}

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
            elif not isinstance(value, type(default)):
                problems.append(f"settings: `{key}` must be a {type(default).__name__}; ignored")
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

    @property
    def query(self):
        if self._query is None and self.ctx is not None:
            from torch_lsp.analysis.query import ShapeQuery

            self._query = ShapeQuery(self.ctx)
        return self._query


@dataclass
class DocState:
    uri: str
    path: str | None
    version: int
    text: str
    result: Result | None = None
    serial: int = 0  # bumped for every new analysis (a change, new settings)
    # Used on the analysis thread only: re-parse what an edit touched, reuse the
    # analysis of unchanged classes and functions.
    parser: IncrementalParser | None = None
    units: UnitCache = field(default_factory=UnitCache)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set when a result is stored
    runtime: Any = None  # runtime.session.Outcome of the last evaluation (for result.serial when current)
    published: tuple | None = None  # (version, result_key) last published (push)
    pulled: tuple | None = None  # (version, result_key) last answered to a pull
    propagated: str | None = None  # the text whose change the importers were last re-analysed for
    touched: int = 0  # when the user last opened or edited it (the server's counter)


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
                  "report-skipped": r.get("reportSkipped")}
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
            state.touched = self._counter
        urgency = (1 if background else 0, -state.touched)
        with self._queue_lock:
            old = self._queue.get(uri)
            self._queue[uri] = min(old, urgency) if old is not None else urgency
            if not self._draining:
                self._draining = True
                self.executor.submit(self._analyse_next)

    def _analyse_next(self) -> None:
        """On the analysis thread: the most urgent queued document, then this again
        (other work on the thread, a fix-all, takes its turn in between)."""
        with self._queue_lock:
            if not self._queue:
                self._draining = False
                return
            uri = min(self._queue, key=self._queue.__getitem__)
            del self._queue[uri]
        try:
            state = self.docs.get(uri)
            if state is not None:
                serial = state.serial
                try:
                    result = self._job(state, serial)
                except Exception as exc:  # a bug in torch-lsp: log it, keep serving
                    self._loop.call_soon_threadsafe(
                        self.log, "error", f"analysis of {uri} failed: {type(exc).__name__}: {exc}")
                else:
                    if result is not None:
                        self._loop.call_soon_threadsafe(self._analysed, uri, state, result)
        finally:
            self.executor.submit(self._analyse_next)

    def _analysed(self, uri: str, state: DocState, result: Result) -> None:
        """On the event loop: a document's new result (unless superseded)."""
        if self.docs.get(uri) is not state or state.serial != result.serial:
            return  # superseded: a newer version is (or will be) analysed
        previous, state.result = state.result, result
        if previous is not None and previous.ctx is not None and previous.ctx is not result.ctx:
            # Break the old analysis' reference cycles so that reference counting
            # frees it now (the unit cache keeps what later analyses reuse).
            previous.ctx.release()
            previous._query = None
        _settle_memory()
        state.changed.set()
        state.changed = asyncio.Event()
        self._refresh_inlay_hints()
        if self.settings.runtime_enabled and result.src.tree is not None and result.src.problem is None and state.path:
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
                return self.runtime.evaluate(result.src, state.path, result.diagnostics, serial, self.project, enabled)
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
        if state.path:
            self.project.set_overlay(state.path, text)
        if state.parser is None:
            state.parser = IncrementalParser(state.path)
        src = state.parser.parse(text)
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
        if cancel():
            return None
        return Result(version, serial, src, ctx, diags, src.lines)

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
        return [d for d in self.docs.values() if d is not exclude and stem in d.text]

    def files_changed_on_disk(self, paths: list[str]) -> None:
        """Python files that are not open changed, appeared or vanished: forget what
        the project knew of them and re-analyse the open documents that import them."""
        self.executor.submit(self.project.file_system_changed, paths)
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
            code=d.code,
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
        if state.path:
            ls.executor.submit(ls.project.set_overlay, state.path, None)
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
        rt = state.runtime if state is not None and state.runtime is not None and state.runtime.serial == result.serial else None
        from torch_lsp.lsp.hover import shape_list_text

        evaluated = {line: shape_list_text(shape) for line, shape in rt.assignment_shapes(result.src.tree).items()} if rt is not None else {}
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
            result = await ls.current_result(uri)
            # Only for the text the editor has now (a result of another version would
            # rewrite text the user has changed since).
            if result is not None and result.src.text == state.text and any(d.fixes for d in result.diagnostics):
                version, text = state.version, state.text
                fixed = await asyncio.get_running_loop().run_in_executor(ls.executor, _fix_all_text, ls, state, result)
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
    out = []
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
    """Apply every (safe) fix, round after round, as ``check --fix`` does."""
    from torch_lsp.analysis import fixes

    text = result.src.text
    diags = result.diagnostics
    enabled = ls.enabled_for(state.path)
    for _ in range(MAX_FIX_ROUNDS):
        chosen = fixes.select_fixes(diags, unsafe=ls.settings.unsafe_fixes)
        if not chosen:
            break
        new = fixes.apply_fixes(text, chosen)
        if new == text:
            break
        check = engine.check_source(new, state.path, enabled=enabled, project=ls.project)
        if any(d.code == "TL000" for d in check.diagnostics) or SourceFile.parse(new).tree is None:
            break
        text, diags = new, check.diagnostics
    return text


# =============================================================================== entry point
def serve(tcp: str | None = None) -> int:
    import gc

    level = os.environ.get("TORCH_LSP_LOG", "").upper()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if level in ("DEBUG", "INFO", "WARNING", "ERROR"):
        log.setLevel(level)
    gc.set_threshold(50_000, 20, 100)  # young objects less often (see _settle_memory)
    server = create_server()
    if tcp:
        host, _, port = tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    return run_stdio(server)
