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
from torch_lsp.lsp.state import DocState, Result

FIX_ALL_KIND = "source.fixAll.torch-lsp"


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


FEATURES = [
    Feature(lsp.TEXT_DOCUMENT_CODE_ACTION, code_action, lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.SourceFixAll, FIX_ALL_KIND], resolve_provider=False)),
]
