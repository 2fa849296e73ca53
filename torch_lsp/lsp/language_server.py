"""``TorchLanguageServer``: the server's state and its work outside the LSP methods
(the analysis queue and thread, results, publishing, memory). Each LSP method is a
module of ``torch_lsp.lsp.features``; ``torch_lsp.server`` puts them together."""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path

from torch_lsp import __version__
from torch_lsp import engine
from torch_lsp.analysis.context import AnalysisCancelled
from torch_lsp.analysis.diagnostics import Applicability, Diagnostic, Range, Severity
from torch_lsp.analysis.incremental import IncrementalParser
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.recovery import analysed_source
from torch_lsp.analysis.source import SourceFile, decode_source, split_lines
from torch_lsp.analysis.units import UnitCache
from torch_lsp.config import ConfigError, ConfigResolver, Overrides
from torch_lsp.lsp import codecache
from torch_lsp.lsp.convert import Lines
from torch_lsp.lsp.data import DiagnosticData, FixData
from torch_lsp.lsp.notebooks import NOTEBOOK_SYNC, NotebookState
from torch_lsp.lsp.protocol import TorchLspProtocol
from torch_lsp.lsp.settings import LEVELS, ClientSettings
from torch_lsp.lsp.state import DocState, RequestSnapshot, Result, imported_words
from torch_lsp.strict import swallowed

log = logging.getLogger("torch_lsp.server")

RESULT_WAIT_SECONDS = 5.0  # a hover/pull waits this long for the current version's analysis
RUNTIME_DEBOUNCE_SECONDS = 0.3  # runtime evaluation starts after this long without a newer version
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
# The first analysis of a document of at least this many lines publishes what the
# registration rules find before the shape interpreter runs (see _job).
PARTIAL_PUBLISH_LINES = 1000
# After `initialized`, the analysis thread imports the shape interpreter unless a
# document arrives within this many seconds (see preload).
PRELOAD_WAIT_SECONDS = 0.1
SWITCH_INTERVAL = 0.001  # seconds (sys.setswitchinterval; see serve)
# While documents keep arriving (a client opening a whole workspace at once), the
# analysis thread waits for a pause of QUEUE_SETTLE_SECONDS between them, at most
# MAX_SETTLE_SECONDS in all: an analysis holds the GIL through every parse, so reading
# the messages in between took as long as analysing them (~4 s for 300 files), and
# the most recently opened document, read last, was analysed last.
QUEUE_SETTLE_SECONDS = 0.02
MAX_SETTLE_SECONDS = 0.5
CODE_CACHE_SAVE_DELAY = 1.0  # seconds after a publish (see _analysed)


class TorchLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("torch-lsp", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
                         notebook_document_sync=NOTEBOOK_SYNC, protocol_cls=TorchLspProtocol)
        self.docs: dict[str, DocState] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="torch-lsp-analysis")
        self.project = Project()
        self.settings = ClientSettings()
        self._settings_problems: list[str] = []  # the last settings' problems, as shown to the user
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
        # The runtime evaluation (TL901): its session and modules are made on first use
        # (most sessions never evaluate; importing them made `initialize` ~35 ms slower).
        self._runtime: Any = None
        self._runtime_settings: dict = {}
        self.runtime_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="torch-lsp-runtime")
        self.runtime_running: tuple[str, int] | None = None  # (uri, serial) of the evaluation in progress

    # ------------------------------------------------------------------ logging
    def log(self, level: str, message: str) -> None:
        """To the client's log (window/logMessage) at the configured level, and to
        stderr when TORCH_LSP_LOG asks for it (``TORCH_LSP_LOG=debug``)."""
        log.log({"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}.get(level, logging.DEBUG), message)
        order = list(LEVELS)
        if order.index(level) > order.index(self.settings.log_level):
            return
        try:
            self.window_log_message(lsp.LogMessageParams(type=LEVELS[level], message=f"torch-lsp: {message}"))
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
        if problems and problems != self._settings_problems:
            # shown to the user (once for the same problems), as ruff and
            # jedi-language-server show bad settings: a silent default hides a typo
            self.show_message("warning", f"torch-lsp: {len(problems)} setting(s) ignored: "
                                         + "; ".join(p.removeprefix("settings: ") for p in problems))
        self._settings_problems = problems
        self.reload_config()

    def show_message(self, level: str, message: str) -> None:
        """A message the user sees (window/showMessage)."""
        try:
            self.window_show_message(lsp.ShowMessageParams(type=LEVELS[level], message=message))
        except Exception:  # no client connected (tests), or the stream is gone
            pass

    @property
    def runtime(self) -> Any:
        """The runtime evaluation's ``RuntimeSession`` (made on first use)."""
        if self._runtime is None:
            from torch_lsp.runtime.report import Options
            from torch_lsp.runtime.session import RuntimeSession

            session = RuntimeSession(self.log)
            session.configure(Options.from_settings(self._runtime_settings))
            self._runtime = session
        return self._runtime

    def configure_runtime(self) -> None:
        try:
            table = self.resolver.settings_for(self.root or os.getcwd()).runtime
        except ConfigError:
            table = {}
        r = self.settings.runtime
        client = {"timeout": r.timeout, "memory-mb": r.memory_mb, "python": r.python,
                  "report-skipped": r.report_skipped, "max-entry-points": r.max_entry_points}
        merged = dict(table) if isinstance(table, dict) else {}
        merged.update({k: v for k, v in client.items() if v is not None})
        self._runtime_settings = merged
        if self._runtime is not None:
            from torch_lsp.runtime.report import Options

            self._runtime.configure(Options.from_settings(merged))

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
    def preload(self) -> None:
        """On the analysis thread, after ``initialized``: import the checkers now rather
        than in the first document's analysis; the shape interpreter only when no
        document is waiting already (it is imported after the first partial publish,
        see ``_job``, when a document came at once)."""
        from torch_lsp import rules  # noqa: F401  (the registration rules, first to run)

        # An editor sends the documents it has open right after `initialized`: their
        # first diagnostics should not wait for the interpreter's import.
        deadline = time.monotonic() + PRELOAD_WAIT_SECONDS
        while not self._queue and not self.shutting_down and time.monotonic() < deadline:
            time.sleep(0.005)
        if not self._queue and not self.shutting_down:
            engine.preload()

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
                state.import_words = None
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

    def _too_large(self, text: str, settings: ClientSettings | None = None) -> str | None:
        """Why a document is not analysed (its size), or None."""
        settings = settings or self.settings
        max_bytes, max_lines = settings.max_file_size, settings.max_file_lines
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
        if self.pushes(state):
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
        # After publishing: the first collection of a session (see _settle_memory) took
        # ~250 ms before the first diagnostics of a 10,000-line file reached the client.
        _settle_memory()
        # What attrs and cattrs compiled on the way to these diagnostics is written
        # once they are out, a moment later (see codecache).
        if codecache.claim_save():
            asyncio.get_running_loop().call_later(CODE_CACHE_SAVE_DELAY, codecache.save)

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
        runtime = self.runtime  # (made here, on the event loop, if this is the first evaluation)

        def job():
            self.runtime_running = (uri, serial)
            try:
                if self.docs.get(uri) is not state or state.serial != serial:
                    return None
                return runtime.evaluate(result.source(), state.path, result.diagnostics, serial, self.project, enabled)
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
        if self.pushes(state):
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
        """Runs on the analysis thread, on a snapshot of the document (its text and
        version, the settings) taken once: the event loop may change ``state`` meanwhile,
        and a newer version then cancels this run."""
        if self.docs.get(state.uri) is not state or state.serial != serial:
            return None
        snap = state.snapshot(self.settings, self.encoding)
        text, version = snap.text, snap.version
        t0 = time.perf_counter()
        too_large = self._too_large(text, snap.settings)
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
            if state.import_words is None:
                state.import_words = {}
            state.imported = imported_words(src.tree, state.import_words)
        t_parse = time.perf_counter()
        enabled = self.enabled_for(state.path)
        cancel = lambda: self.docs.get(state.uri) is not state or state.serial != serial  # noqa: E731
        diags: list[Diagnostic] = []
        ctx = None
        partial = None
        if state.result is None and src.problem is None and not self.pull and len(src.lines) >= PARTIAL_PUBLISH_LINES \
                and not isinstance(state, NotebookState):
            # The first analysis of a large document (just opened): what the cheap
            # checkers find is published at once, the rest when the shape interpreter is
            # done (a smaller one is analysed whole about as fast as it is parsed).
            def partial(found: list[Diagnostic]) -> None:
                self._to_loop(self._publish_partial, state, serial, Result(
                    version, serial, src, None, engine.finish(src, found, enabled), src.lines, compact=True))
        if src.tree is not None:
            analysed = src if src.problem is None else analysed_source(src)
            try:
                ctx, diags = engine.analyse(analysed, self.project, enabled, record_shapes=True, cancel=cancel,
                                            unit_cache=state.units, partial=partial)
            except AnalysisCancelled:
                return None
        if src.problem is not None and snap.settings.report_syntax_errors:
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
            state.import_words = None
        return result

    def _skipped(self, state: DocState, serial: int, version: int, text: str, why: str) -> Result:
        """The result of a document too large to analyse: one information diagnostic
        that says so (other files read it from the disk, as if it were not open)."""
        if state.path:
            self.project.set_overlay(state.path, None)
        state.parser = None
        state.units = None
        state.import_words = None
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

    async def request_snapshot(self, uri: str, *, current: bool = False) -> RequestSnapshot | None:
        """What a request on the document reads, taken at once (``RequestSnapshot``):
        from its last result (``latest_result``) or, with ``current``, the analysis of
        its current version (``current_result``). Marks the document used. None: not
        open, or not analysed."""
        result = await (self.current_result(uri) if current else self.latest_result(uri))
        state = self.docs.get(uri)
        if result is None or state is None:
            return None
        self.mark_used(state)
        rt = state.runtime if state.runtime is not None and state.runtime.serial == result.serial else None
        ws = self.client_capabilities.workspace
        versioned = bool(ws and ws.workspace_edit and ws.workspace_edit.document_changes)
        return RequestSnapshot(uri, state.path, state.version, state.text, result, rt, self.settings,
                               self.encoding, versioned)

    def is_current(self, snap: RequestSnapshot) -> bool:
        """The document is still at the version and text of ``snap``."""
        state = self.docs.get(snap.uri)
        return state is not None and state.version == snap.version and state.text == snap.text

    def pushes(self, state: DocState) -> bool:
        """The server pushes this document's diagnostics (publishDiagnostics): when the client
        does not pull them, and for a notebook until the client pulls one of its cells. VS Code's
        client (vscode-languageclient 9) pulls only for documents shown in text editor tabs, never
        for notebook cells: pulling alone, it showed no diagnostic in a notebook."""
        return not self.pull or (isinstance(state, NotebookState) and state.pulled is None)

    def note_pulled(self, snap: RequestSnapshot) -> None:
        """The client pulled ``snap``'s diagnostics (not published again unless they change)."""
        state = self.docs.get(snap.uri)
        if state is not None:
            first = state.pulled is None
            state.pulled = (snap.result.version, self.result_key(state, snap.result))
            if first and self.pull and isinstance(state, NotebookState):
                # The client pulls this notebook's cells: clear what was pushed (no duplicates).
                for uri in sorted(state.cleared):
                    self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
                state.cleared = set()

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
        """The position encoding agreed at ``initialize`` (UTF-16, the LSP's default,
        before it)."""
        workspace = self.protocol._workspace
        enc = workspace.position_encoding if workspace is not None else None
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

    def _publish_partial(self, state: DocState, serial: int, partial: Result) -> None:
        """On the event loop: the diagnostics a document's first analysis has found so
        far (a subset of what it will publish when done, see ``engine.analyse``), unless
        that analysis is already in, or superseded."""
        if self.docs.get(state.uri) is not state or state.serial != serial or state.result is not None \
                or self.pull or self.shutting_down:
            return
        key = (partial.version, tuple((d.code, int(d.severity), d.range, d.message, d.related, d.fixes)
                                      for d in partial.diagnostics))
        if key == state.published:
            return
        state.published = key
        items = [self.to_lsp(d, partial, state.uri) for d in partial.diagnostics]
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=state.uri, diagnostics=items,
                                                                            version=partial.version))

    def result_key(self, state: DocState, result: Result) -> tuple:
        """What the client sees of a result's diagnostics (to tell when it changed)."""
        return tuple((d.code, int(d.severity), d.range, d.message, d.related, d.fixes) for d in self.diagnostics_of(state, result))

    def publish(self, state: DocState) -> None:
        """Push the document's diagnostics, unless the client already has them for
        this version."""
        if isinstance(state, NotebookState):  # one notification per cell
            from torch_lsp.lsp.features.notebooks import publish_notebook

            return publish_notebook(self, state)
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
