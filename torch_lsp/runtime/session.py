"""Runtime evaluation for a long-lived host (the language server): one warm worker,
options that can change, and what an evaluation found kept for hovers.

No LSP in here: the server calls ``evaluate`` on a thread of its own (never the
message loop), ``cancel`` when a newer version of the document arrives, and reads
``Outcome`` for diagnostics, hovers and inlay hints.
"""
from __future__ import annotations

import ast
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from torch_lsp import engine
from torch_lsp.analysis.diagnostics import Diagnostic
from torch_lsp.analysis.source import SourceFile
from torch_lsp.runtime.report import Options, evaluate_source


@dataclass
class Outcome:
    """One evaluation of one document version."""

    serial: int
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # 1-based line -> {variable: shape} after that line ran (first evaluation that ran it)
    lines: dict[int, dict[str, list]] = field(default_factory=dict)
    # submodule name ("fc1", "stage1.0") -> [(input shapes, output shape)]
    modules: dict[str, list[tuple[Any, Any]]] = field(default_factory=dict)
    # 1-based call line -> why that evaluation did not run
    skipped: dict[int, str] = field(default_factory=dict)
    evaluated: int = 0  # evaluations that ran (ok or error)
    seconds: float = 0.0

    _assignments: dict[int, list] | None = field(default=None, repr=False)

    def shape_after(self, line: int, name: str) -> list | None:
        return self.lines.get(line, {}).get(name)

    def assignment_shapes(self, tree: ast.Module | None) -> dict[int, list]:
        """0-based line -> the evaluated shape of the name that line assigns
        (``x = ...``), for inlay hints; worked out once per evaluation."""
        if self._assignments is None:
            self._assignments = {}
            if tree is not None and self.lines:
                for node in ast.walk(tree):
                    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                        shape = self.shape_after(node.lineno, node.targets[0].id)
                        if shape is not None:
                            self._assignments[node.lineno - 1] = shape
        return self._assignments


class RuntimeSession:
    def __init__(self, log: Callable[[str, str], None] | None = None) -> None:
        self.options = Options()
        self._client: Any = None
        self._lock = threading.Lock()
        self._log = log or (lambda level, message: None)

    def configure(self, options: Options) -> None:
        with self._lock:
            changed = (options.python, options.memory_mb) != (self.options.python, self.options.memory_mb)
            self.options = options
            if changed and self._client is not None:
                self._client.close()
                self._client = None
        if self._client is not None:
            self._client.timeout = options.timeout

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from torch_lsp.runtime.client import RuntimeClient

                self._client = RuntimeClient(python=self.options.python, timeout=self.options.timeout,
                                             memory_mb=self.options.memory_mb)
            return self._client

    def evaluate(self, src: SourceFile, path: str, static: list[Diagnostic], serial: int, project: Any,
                 enabled: Callable[[str], bool] | None) -> Outcome:
        """Evaluate a document version (blocking: call it off the message loop)."""
        out = Outcome(serial)
        client = self._get_client()
        found = evaluate_source(src, path, static, client, self.options, project)
        out.diagnostics = engine.finish(src, found.diagnostics, enabled)
        runs = [(ev.call_line, res) for ev, res in found.results] + [(ep.line, res) for ep, res in found.entries]
        for line_of_call, res in runs:
            out.seconds += float(res.get("seconds", 0) or 0)
            if res.get("status") in ("ok", "error"):
                out.evaluated += 1
                for line, shapes in (res.get("lines") or {}).items():
                    slot = out.lines.setdefault(int(line), {})
                    for name, shape in shapes.items():
                        slot.setdefault(name, shape)
                for call in res.get("calls") or []:
                    out.modules.setdefault(call.get("module", "?"), []).append((call.get("input"), call.get("output")))
            elif res.get("status") != "ignored":
                out.skipped[line_of_call] = str(res.get("reason") or res.get("status"))
        for reason in found.skipped:
            self._log("info", f"runtime evaluation skipped: {reason}")
        return out

    def cancel(self) -> None:
        client = self._client
        if client is not None:
            client.cancel()

    @property
    def state(self) -> str:
        return self._client.state if self._client is not None else "stopped"

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
