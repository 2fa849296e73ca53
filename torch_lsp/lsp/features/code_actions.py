"""``textDocument/codeAction``: each diagnostic's fixes and its suppression comment
(quick fixes), and Fix all (the loop ``check --fix`` runs)."""
from __future__ import annotations

import asyncio

from lsprotocol import types as lsp

from torch_lsp import engine
from torch_lsp.analysis.diagnostics import Position, Range
from torch_lsp.analysis.source import split_lines
from torch_lsp.lsp.convert import Lines
from torch_lsp.lsp.data import DiagnosticData
from torch_lsp.lsp.documents import minimal_edit
from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.language_server import TorchLanguageServer
from torch_lsp.lsp.state import RequestSnapshot

FIX_ALL_KIND = "source.fixAll.torch-lsp"


async def code_action(ls: TorchLanguageServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
    # From the last result, at once (one not analysed yet is waited for).
    snap = await ls.request_snapshot(params.text_document.uri)
    if snap is None:
        return None
    only = params.context.only
    actions: list[lsp.CodeAction] = []
    wants_quickfix = not only or any(str(k).startswith("quickfix") for k in only)
    wants_fix_all = not only or any(FIX_ALL_KIND.startswith(str(k)) for k in only)
    if wants_quickfix:
        for d in params.context.diagnostics:
            data = DiagnosticData.read(d.data) if d.source == "torch-lsp" else None
            if data is None or (data.version is not None and data.version != snap.version):
                continue  # not ours, or computed for another version of the text (stale positions)
            actions.extend(_quick_fixes(snap, d, data))
    # Fix all only for the text the editor has now (a result of another version would
    # rewrite text the user has changed since).
    if wants_fix_all and snap.current and any(d.fixes for d in snap.result.diagnostics):
        try:
            fixed = await asyncio.get_running_loop().run_in_executor(
                ls.executor, _fix_all_text, ls, snap, ls.enabled_for(snap.path))
        except RuntimeError:  # shutting down
            return actions
        if fixed is not None and fixed != snap.text and ls.is_current(snap):
            edit = minimal_edit(snap.text, fixed, snap.encoding)
            if edit is not None:
                actions.append(lsp.CodeAction(title="Fix all torch-lsp problems", kind=FIX_ALL_KIND,
                                              edit=snap.workspace_edit([edit])))
    return actions


def _quick_fixes(snap: RequestSnapshot, d: lsp.Diagnostic, data: DiagnosticData) -> list[lsp.CodeAction]:
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
            edit=snap.workspace_edit(list(fix.edits)),
        ))
        preferred_given = preferred_given or fix.safe
    code = str(d.code)
    line = data.line if data.line is not None else d.range.start.line
    edit = _suppression_edit(Lines(split_lines(snap.text), snap.encoding), line, code)
    if edit is not None:
        out.append(lsp.CodeAction(title=f"Ignore {code} on this line", kind=lsp.CodeActionKind.QuickFix,
                                  diagnostics=[d], edit=snap.workspace_edit([edit])))
    return out


def _suppression_edit(lines: Lines, line: int, code: str) -> lsp.TextEdit | None:
    """`# torch-lsp: ignore[CODE]` at the end of the line, or CODE added to one there."""
    import re

    if not 0 <= line < len(lines.lines):
        return None
    current = lines.line(line)
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


def _fix_all_text(ls: TorchLanguageServer, snap: RequestSnapshot, enabled) -> str | None:
    """Apply every (safe) fix, round after round: the loop ``check --fix`` runs."""
    from torch_lsp.analysis import fixes

    run = fixes.fix_all(snap.result.src.text, snap.result.diagnostics,
                        lambda text: engine.check_source(text, snap.path, enabled=enabled, project=ls.project).diagnostics,
                        unsafe=snap.settings.unsafe_fixes)
    if run.problem is not None and snap.result.src.problem is not None:
        # the document does not parse yet (a statement being typed): not the fixes' doing
        ls.log("debug", f"Fix all: the document has a syntax error ({snap.result.src.problem.message}); "
                        f"not applied: {'; '.join(run.refused)}")
    elif run.problem is not None:
        ls.log("error", f"a fix would leave invalid Python ({run.problem}); not applied: {'; '.join(run.refused)}")
    return run.text


FEATURES = [
    Feature(lsp.TEXT_DOCUMENT_CODE_ACTION, code_action, lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.SourceFixAll, FIX_ALL_KIND], resolve_provider=False)),
]
