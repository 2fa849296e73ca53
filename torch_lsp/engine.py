"""The one entry point every shell calls: check a file's text, get diagnostics.

    result = check_source(data, "models/net.py", enabled=settings.enabled_for(path))

``data`` is the file's bytes (decoded as Python would) or already-decoded text
(an editor buffer). The result's diagnostics are selected (``enabled``), not
suppressed by comments, and sorted by position.
"""
from __future__ import annotations

from typing import Callable, Iterable

from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.diagnostics import Diagnostic, FileResult, Fix, RelatedInformation, TextEdit
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile, clamp_range, inside
from torch_lsp.analysis import context
from torch_lsp.analysis.suppression import is_suppressed, statement_lines, suppressions

# The shape rules turn what the interpreter finds into findings (imported when the
# interpreter first runs).
context.FINDINGS_MODULE = "torch_lsp.rules.shape_findings"


def _checkers() -> list[tuple[tuple[str, ...], Callable[[FileContext], Iterable[Diagnostic]]]]:
    """Each checker with the code prefixes it can produce (skipped when none is selected)."""
    from torch_lsp.rules import registration, shapes

    return [(("TL1",), registration.check), (("TL2", "TL3"), shapes.check)]


def preload() -> None:
    """Import every checker now (a process about to fork workers saves each of
    them the import)."""
    _checkers()
    from torch_lsp.analysis import interpreter  # noqa: F401  (imported by the shape rules' first use)
    from torch_lsp.rules import RULES  # noqa: F401


def _wanted(prefixes: tuple[str, ...], enabled: Callable[[str], bool] | None) -> bool:
    if enabled is None:
        return True
    from torch_lsp.rules import RULES

    return any(enabled(code) for code in RULES if code.startswith(prefixes))


def analyse(src: SourceFile, project: Project | None = None, enabled: Callable[[str], bool] | None = None,
            record_shapes: bool = False, cancel: Callable[[], bool] | None = None,
            unit_cache=None, partial: Callable[[list[Diagnostic]], None] | None = None,
            ) -> tuple[FileContext | None, list[Diagnostic]]:
    """All diagnostics of a parsed file, before selection and suppression (checkers
    none of whose rules ``enabled`` allows are not run). ``cancel`` is asked now and
    then; when it returns True the analysis raises ``AnalysisCancelled``.

    ``partial`` (the server, on a document's first analysis) is given the diagnostics
    found so far after each checker but the last (a copy: the registration rules',
    which are cheap, before the shape interpreter runs), and first, before any checker,
    what the registration rules find in the classes that need no other file not read
    yet (``registration.check_ready``: the bases of the others may be in files that
    take longer to read than the document itself). Each checker's findings do not
    depend on the next one's, so what ``partial`` gets is a subset of the final list
    (and ``finish`` keeps or drops each diagnostic on its own: a subset after it too)."""
    from torch_lsp.rules import parse_error

    if src.problem is not None or src.tree is None:
        return None, [parse_error.diagnostic(src.problem)] if src.problem else []
    project = project or Project.default()
    checkers = [checker for prefixes, checker in _checkers() if _wanted(prefixes, enabled)]
    if partial is not None and len(checkers) > 1 and _wanted(("TL1",), enabled):
        # Before the registration rules read the other files they need (bases of
        # classes imported from them), what they find in the classes needing none.
        from torch_lsp.rules import registration
        from torch_lsp.strict import swallowed

        try:
            ready = registration.check_ready(src, project)
        except Exception:  # an early publish is a nicety: a bug in it must not cost the analysis
            swallowed()
            ready = None
        if ready is not None:
            partial(ready)
    ctx = FileContext(src, project, record_shapes=record_shapes)
    ctx.cancel = cancel
    ctx.unit_cache = unit_cache
    diags: list[Diagnostic] = []
    for i, checker in enumerate(checkers):
        diags.extend(checker(ctx))
        if partial is not None and i < len(checkers) - 1:
            partial(list(diags))
    if unit_cache is not None:
        model = ctx.__dict__.get("model")  # (if the checkers built it)
        if model is not None and model.reuse is not None:
            model.reuse.settle()
        unit_cache.finish_infos()
    return ctx, diags


def finish(src: SourceFile, diags: list[Diagnostic], enabled: Callable[[str], bool] | None) -> list[Diagnostic]:
    """Apply selection and suppression comments, sort; every range inside the document."""
    if not diags:
        return []
    table = suppressions(src.text)
    statements = statement_lines(src.tree) if table else None
    out = [d for d in diags if (enabled is None or enabled(d.code)) and not (table and is_suppressed(d, table, statements))]
    lengths = src.line_lengths
    out = [d if _inside(d, lengths) else _clamped(d, lengths) for d in out]
    out.sort(key=Diagnostic.sort_key)
    return out


def _inside(d: Diagnostic, lengths: list[int]) -> bool:
    return (inside(d.range, lengths) and all(r.path is not None or inside(r.range, lengths) for r in d.related)
            and all(inside(e.range, lengths) for f in d.fixes for e in f.edits))


def _clamped(d: Diagnostic, lengths: list[int]) -> Diagnostic:
    """``d`` with every range of this document moved inside it, as an LSP client
    reads a position past a line's end (its end) or past the last line (the end of
    the document): the meaning of the edits does not change (``fixes.apply_edits``
    applies them by the same rule). A rule that produces such a range has a bug;
    the tests look for them before this."""
    from dataclasses import replace

    related = tuple(r if r.path is not None else RelatedInformation(clamp_range(r.range, lengths), r.message, r.path)
                    for r in d.related)
    fixes = tuple(Fix(f.title, tuple(TextEdit(clamp_range(e.range, lengths), e.new_text) for e in f.edits), f.applicability)
                  for f in d.fixes)
    return replace(d, range=clamp_range(d.range, lengths), related=related, fixes=fixes)


def check_source(
    data: str | bytes,
    path: str | None = None,
    *,
    enabled: Callable[[str], bool] | None = None,
    project: Project | None = None,
    extra: Callable[[SourceFile, list[Diagnostic], Project], list[Diagnostic]] | None = None,
    want_imports: bool = False,
) -> FileResult:
    """Check one file. ``extra`` adds diagnostics found another way (the runtime
    evaluation) given the static ones; selection and suppression apply to all. With
    ``want_imports``, the result holds the file's import statements."""
    project = project or Project.default()
    if isinstance(data, bytes):
        src = project.parsed(data, path) if path else SourceFile.from_bytes(data, path)
    else:
        src = SourceFile.parse(data, path)
    ctx, diags = analyse(src, project, enabled)
    if extra is not None and src.tree is not None and src.problem is None:
        diags = diags + extra(src, diags, project)
    result = FileResult(path=path or "<unknown>", diagnostics=finish(src, diags, enabled), source=src.text)
    if want_imports and src.tree is not None:
        from torch_lsp.analysis.import_graph import import_statements

        result.imports = import_statements(src.tree)
    if ctx is not None:
        ctx.release()
    return result
