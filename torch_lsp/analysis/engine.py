"""The one entry point every shell calls: check a file's text, get diagnostics.

    result = check_source(data, "models/net.py", enabled=settings.enabled_for(path))

``data`` is the file's bytes (decoded as Python would) or already-decoded text
(an editor buffer). The result's diagnostics are selected (``enabled``), not
suppressed by comments, and sorted by position.
"""
from __future__ import annotations

from typing import Callable, Iterable

from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.diagnostics import Diagnostic, FileResult
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile
from torch_lsp.analysis.suppression import is_suppressed, suppressions


def _checkers() -> list[Callable[[FileContext], Iterable[Diagnostic]]]:
    from torch_lsp.rules import registration, shapes

    return [registration.check, shapes.check]


def analyse(src: SourceFile, project: Project | None = None) -> tuple[FileContext | None, list[Diagnostic]]:
    """All diagnostics of a parsed file, before selection and suppression."""
    from torch_lsp.rules import parse_error

    if src.problem is not None or src.tree is None:
        return None, [parse_error.diagnostic(src.problem)] if src.problem else []
    ctx = FileContext(src, project or Project.default())
    diags: list[Diagnostic] = []
    for checker in _checkers():
        diags.extend(checker(ctx))
    return ctx, diags


def finish(src: SourceFile, diags: list[Diagnostic], enabled: Callable[[str], bool] | None) -> list[Diagnostic]:
    """Apply selection and suppression comments, sort."""
    table = suppressions(src.text)
    out = [d for d in diags if (enabled is None or enabled(d.code)) and not (table and is_suppressed(d, table))]
    out.sort(key=Diagnostic.sort_key)
    return out


def check_source(
    data: str | bytes,
    path: str | None = None,
    *,
    enabled: Callable[[str], bool] | None = None,
    project: Project | None = None,
) -> FileResult:
    project = project or Project.default()
    if isinstance(data, bytes):
        src = project.parsed(data, path) if path else SourceFile.from_bytes(data, path)
    else:
        src = SourceFile.parse(data, path)
    _, diags = analyse(src, project)
    return FileResult(path=path or "<unknown>", diagnostics=finish(src, diags, enabled), source=src.text)
