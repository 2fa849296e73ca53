"""Runtime evaluation results as diagnostics (TL901, TL902), for the CLI and the server.

``evaluate_source`` finds the call sites of a document (``jobs.call_sites``), sends
one job for all of them to the worker, and turns each evaluation's result into:

- TL901 at the line of the document where torch raised (the deepest frame of the
  document in the traceback; the call site when there is none), with torch's own
  message and, as related information, the call that was evaluated and the
  constructor call. It is dropped when a static rule (a TL1xx-TL3xx warning or
  error) already reports in the evaluated class or at those lines: one problem,
  one report.
- TL902 (information) at the call, with the reason, only when ``report_skipped``.

The evaluated shapes (each submodule's input and output, the tensors after each line
of the document) are returned too, for hovers.
"""
from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from torch_lsp.analysis.diagnostics import Diagnostic, Position, Range, RelatedInformation, Severity
from torch_lsp.analysis.source import SourceFile
from torch_lsp.rules.runtime import RUNTIME_SHAPE_ERROR, RUNTIME_SKIPPED
from torch_lsp.runtime.jobs import (DEFAULT_MAX_ENTRY_POINTS, EntryPoint, Evaluation, annotated, call_sites, configured,
                                    entry_points)


@dataclass
class Options:
    timeout: float = 10.0
    memory_mb: int = 2048
    report_skipped: bool = False
    python: str | None = None
    inputs: dict = field(default_factory=dict)  # [tool.torch-lsp.runtime.inputs] (see jobs.configured)
    max_entry_points: int = DEFAULT_MAX_ENTRY_POINTS  # models run per file with inferred inputs (0: none)

    @classmethod
    def from_settings(cls, table: Any, **overrides: Any) -> "Options":
        """From ``[tool.torch-lsp.runtime]`` (timeout, memory-mb, report-skipped, python)."""
        opts = cls()
        if isinstance(table, dict):
            if isinstance(table.get("timeout"), (int, float)) and not isinstance(table.get("timeout"), bool) and table["timeout"] > 0:
                opts.timeout = float(table["timeout"])
            if isinstance(table.get("memory-mb"), int) and not isinstance(table.get("memory-mb"), bool) and table["memory-mb"] > 0:
                opts.memory_mb = table["memory-mb"]
            if isinstance(table.get("report-skipped"), bool):
                opts.report_skipped = table["report-skipped"]
            if isinstance(table.get("python"), str) and table["python"]:
                opts.python = table["python"]
            if isinstance(table.get("inputs"), dict):
                opts.inputs = table["inputs"]
            value = table.get("max-entry-points")
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                opts.max_entry_points = value
        for k, v in overrides.items():
            if v is not None:
                setattr(opts, k, v)
        return opts


@dataclass
class Evaluated:
    """What the evaluation of one document gave."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    results: list[tuple[Evaluation, dict]] = field(default_factory=list)
    entries: list[tuple[EntryPoint, dict]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # reasons, for logs


def job_for(src: SourceFile, path: str, evaluations: list[Evaluation], project: Any = None,
            entries: Sequence[EntryPoint] = (), options: Options | None = None) -> dict:
    """The worker's job: the document's text, where its imports resolve from, and what to evaluate."""
    abspath = os.path.abspath(path)
    sys_path: list[str] = []
    package = None
    if project is not None:
        name, is_pkg, root = project.module_name_for(abspath)
        if root:
            sys_path.append(root)
        if name and "." in name:
            package = name if is_pkg else name.rsplit(".", 1)[0]
        elif name and is_pkg:
            package = name
        pr = project.project_root(abspath)
        if pr and pr not in sys_path:
            sys_path.append(pr)
    directory = os.path.dirname(abspath)
    if directory not in sys_path:
        sys_path.append(directory)
    return {"path": abspath, "source": src.text, "sys_path": sys_path, "package": package,
            "evaluations": [e.to_json() for e in evaluations], "record_lines": True,
            "entries": [e.to_json() for e in entries],
            "max_entry_points": options.max_entry_points if options is not None else DEFAULT_MAX_ENTRY_POINTS,
            "budget_seconds": 0.8 * (options.timeout if options is not None else 10.0)}


def _concrete(value: Any) -> list[int] | None:
    shape = getattr(value, "shape", None)
    if shape is None or getattr(shape, "prefix", True) or getattr(value, "failed", False):
        return None
    dims = list(shape.dims)
    return dims if all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims) else None


def _inputs_from_static(src: SourceFile, project: Any, evaluations: list[Evaluation]) -> None:
    """Inputs of call sites that the code computes (``grid = torch.linspace(0, 1, n).view(1, n, 1)``):
    made with the shape the static analysis inferred for the argument, or the
    evaluation is skipped saying which argument's shape is not known. The dtype is
    the one the model's first layer reading it wants (decided in the worker)."""
    pending = [e for e in evaluations if e.from_static and not e.skip]
    if not pending:
        return
    from torch_lsp import engine

    ctx = None
    try:
        ctx, _ = engine.analyse(src, project, None, record_shapes=True)
        index = ctx.shapes.shape_index().by_node if ctx is not None and ctx.shapes is not None else {}
    except Exception as exc:  # the static analysis has its own error reporting; here: why no evaluation
        for e in pending:
            e.skip = f"the shapes of its inputs could not be inferred ({type(exc).__name__})"
        return
    try:
        for e in pending:
            for key, node in e.from_static.items():
                shape = _concrete(index.get(id(node), (None, None))[1])
                if shape is None:
                    text = ast.unparse(node)
                    e.skip = (f"the shape of the input `{text if len(text) <= 40 else text[:37] + '...'}` is not known "
                              "without running the code")
                    break
                spec = {"factory": "randn", "args": [repr(tuple(shape))], "kwargs": {}, "dtype_from_model": True}
                if isinstance(key, int):
                    e.inputs[key] = spec
                else:
                    e.input_kwargs[key] = spec
    finally:
        if ctx is not None:
            ctx.release()


def _with_module(res: dict) -> str:
    """torch's message, after the module that was running when it raised, what that
    module wants and what it received ("`fc2` (Linear, in_features=33) received [2, 32]: ...")."""
    message = str(res.get("message", "error"))
    mod = res.get("module")
    if isinstance(mod, dict) and mod.get("name"):
        where = f"`{mod['name']}` ({mod.get('type', '?')}"
        where += f", {mod['expects']})" if mod.get("expects") else ")"
        shapes = mod.get("input")
        if isinstance(shapes, list) and len(shapes) == 1 and isinstance(shapes[0], list):
            where += f" received [{', '.join(map(str, shapes[0]))}]"
        message = f"{where}: {message}"
    return message


def _line_range(src: SourceFile, line: int) -> Range:
    """The code on a 1-based line (indentation and trailing comment-free end)."""
    n = max(line - 1, 0)
    text = src.line_text(n)
    start = len(text) - len(text.lstrip())
    return Range(Position(n, start), Position(n, len(text.rstrip())))


def _class_span(tree: ast.Module | None, name: str) -> tuple[int, int]:
    for stmt in tree.body if tree is not None else []:
        if isinstance(stmt, ast.ClassDef) and stmt.name == name:
            return stmt.lineno, stmt.end_lineno or stmt.lineno
    return 0, -1


def evaluate_source(src: SourceFile, path: str, static: list[Diagnostic], client: Any, options: Options,
                    project: Any = None) -> Evaluated:
    out = Evaluated()
    if src.tree is None:
        return out
    evaluations = call_sites(src.tree)
    _inputs_from_static(src, project, evaluations)
    for ev in [e for e in evaluations if e.skip]:
        out.results.append((ev, {"status": "skipped", "reason": ev.skip}))
        _skip(out, src, ev, ev.skip, options)
    evaluations = [e for e in evaluations if not e.skip]
    if options.inputs:
        extra, problems = configured(src.tree, options.inputs, {e.cls for e in evaluations})
        evaluations += extra
        out.skipped += problems
    evaluations += annotated(src.tree, {e.cls for e in evaluations})
    entries = entry_points(src.tree, {e.cls for e in evaluations}) if options.max_entry_points > 0 else []
    if not evaluations and not entries:
        return out
    result = client.evaluate(job_for(src, path, evaluations, project, entries, options), timeout=options.timeout)
    status = result.get("status")
    if status != "done":
        reason = result.get("reason") or f"evaluation {status}"
        for ev in evaluations:
            out.results.append((ev, result))
            _skip(out, src, ev, reason, options)
        for ep in entries:
            out.entries.append((ep, result))
            _skip_entry(out, src, ep, reason, options)
        return out
    # the lines of the static problems (warnings and errors of TL1xx-TL3xx)
    shape_lines = {d.range.start.line + 1 for d in static
                   if d.code.startswith(("TL1", "TL2", "TL3")) and d.severity <= Severity.WARNING}
    for ep, res in zip(entries, result.get("entries", [])):
        out.entries.append((ep, res))
        _entry_result(out, src, ep, res, shape_lines, options)
    for ev, res in zip(evaluations, result.get("evaluations", [])):
        out.results.append((ev, res))
        if res.get("status") == "skipped":
            _skip(out, src, ev, str(res.get("reason", "")), options)
            continue
        if res.get("status") != "error":
            continue
        line = int(res.get("line") or 0) or ev.call_line
        first, last = _class_span(src.tree, ev.cls)
        if any(first <= s <= last for s in shape_lines) or shape_lines & {line, ev.call_line, ev.construct_line}:
            continue  # a static rule already reports it
        call = ev.call_text or src.line_text(ev.call_line - 1).strip()
        phase = res.get("phase", "running forward")
        message = _with_module(res)
        called = ev.origin == "call"
        message += f" ({phase} of `{ev.cls}` on meta tensors, as `{call}` does)" if called else \
            f" ({phase} of `{call}` on meta tensors)"
        related = [RelatedInformation(_line_range(src, ev.call_line),
                                      "the call that was evaluated" if called else "where the input shapes come from")]
        if ev.construct_line and ev.construct_line != ev.call_line:
            related.append(RelatedInformation(_line_range(src, ev.construct_line), f"`{ev.cls}` built here"))
        diag = Diagnostic(RUNTIME_SHAPE_ERROR.code, RUNTIME_SHAPE_ERROR.severity, _line_range(src, line), message, tuple(related))
        if all((d.range, d.message) != (diag.range, diag.message) for d in out.diagnostics):
            out.diagnostics.append(diag)
    return out


def _skip(out: Evaluated, src: SourceFile, ev: Evaluation, reason: str, options: Options) -> None:
    out.skipped.append(f"{ev.cls} (line {ev.call_line}): {reason}")
    if options.report_skipped:
        out.diagnostics.append(Diagnostic(RUNTIME_SKIPPED.code, RUNTIME_SKIPPED.severity, _line_range(src, ev.call_line),
                                          f"`{ev.cls}` was not evaluated on meta tensors: {reason}"))


def _enclosing_class(tree: ast.Module | None, line: int) -> tuple[int, int]:
    for stmt in tree.body if tree is not None else []:
        if isinstance(stmt, ast.ClassDef) and stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
            return stmt.lineno, stmt.end_lineno or stmt.lineno
    return 0, -1


def _entry_result(out: Evaluated, src: SourceFile, ep: EntryPoint, res: dict, shape_lines: set[int], options: Options) -> None:
    """TL901 for a failure the worker found to be the model's (see ``runtime.entry``), TL902 for a skip."""
    status = res.get("status")
    if status == "skipped":
        _skip_entry(out, src, ep, str(res.get("reason", "")), options)
        return
    if status != "error":
        return
    line = int(res.get("line") or 0) or ep.line
    first, last = _enclosing_class(src.tree, line)
    if line in shape_lines or any(first <= s <= last for s in shape_lines):
        return  # a static rule already reports it
    message = _with_module(res)
    mode = res.get("mode", "eval")
    phase = res.get("phase", "running forward")
    also = [a for a in res.get("also") or [] if isinstance(a, str)]
    how = (f"the same error with {also[0]}" + (f" and {len(also) - 1} other inputs" if len(also) > 1 else "")) if also else ""
    if not mode:  # the builder's own configuration failed to build
        message += f" ({phase} with `{ep.label}` on the meta device)"
    else:
        message += (f" ({phase} of `{ep.label}` in {mode}() mode on meta tensors, called with an inferred "
                    f"{res.get('input', '?')}" + (f"; {how}" if how else "") + ")")
    related = (RelatedInformation(_line_range(src, ep.line), f"`{ep.label}` built and called here with an inferred input"),)
    diag = Diagnostic(RUNTIME_SHAPE_ERROR.code, RUNTIME_SHAPE_ERROR.severity, _line_range(src, line), message, related)
    if all((d.range, d.message) != (diag.range, diag.message) for d in out.diagnostics):
        out.diagnostics.append(diag)


def _skip_entry(out: Evaluated, src: SourceFile, ep: EntryPoint, reason: str, options: Options) -> None:
    out.skipped.append(f"{ep.label} (line {ep.line}): {reason}")
    if options.report_skipped:
        out.diagnostics.append(Diagnostic(RUNTIME_SKIPPED.code, RUNTIME_SKIPPED.severity, _line_range(src, ep.line),
                                          f"`{ep.label}` was not evaluated on meta tensors: {reason}"))
