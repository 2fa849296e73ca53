"""Request handlers work on an immutable ``RequestSnapshot``: the answer depends on
the snapshot alone, not on what the event loop does to the document afterwards."""
from __future__ import annotations

from lsprotocol import types as lsp

from torch_lsp import engine
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile
from torch_lsp.lsp.features.code_actions import _quick_fixes
from torch_lsp.lsp.features.hover import hover_at
from torch_lsp.lsp.features.inlay_hints import hints_in
from torch_lsp.lsp.data import DiagnosticData
from torch_lsp.lsp.settings import ClientSettings
from torch_lsp.lsp.state import DocState, RequestSnapshot, Result

CODE = """import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(30, 5)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(h)


y = Net()(torch.randn(4, 10))
z = torch.zeros(2, 3)
"""


def _snapshot(doc: DocState, text: str, *, versioned: bool = True) -> RequestSnapshot:
    src = SourceFile.parse(text, None)
    ctx, diags = engine.analyse(src, Project(use_jedi=False), record_shapes=True)
    result = Result(doc.version, 1, src, ctx, diags, src.lines)
    return RequestSnapshot(doc.uri, None, doc.version, doc.text, result, None, ClientSettings(), "utf-16", versioned)


def _hover_text(h: lsp.Hover | None) -> str:
    assert h is not None and isinstance(h.contents, lsp.MarkupContent)
    return h.contents.value


def test_a_snapshot_answers_from_its_own_version_after_the_document_changes():
    doc = DocState.open("file:///m.py", None, 1, CODE)
    snap = _snapshot(doc, CODE)
    line = CODE.splitlines().index("        h = self.fc1(x)")
    before = _hover_text(hover_at(snap, lsp.Position(line=line, character=9)))
    assert "20" in before
    doc.update(CODE.replace("h = self.fc1(x)", "h = self.fc1(x) + 1  # edited"), 2)
    # The snapshot still holds version 1: the same answer, and edits for version 1.
    assert snap.version == 1 and _hover_text(hover_at(snap, lsp.Position(line=line, character=9))) == before
    diag = next(d for d in snap.diagnostics if d.code == "TL201")
    wire = lsp.Diagnostic(range=lsp.Range(start=lsp.Position(line=diag.range.start.line, character=0),
                                          end=lsp.Position(line=diag.range.start.line, character=1)),
                          message=diag.message, code=diag.code, source="torch-lsp")
    actions = _quick_fixes(snap, wire, DiagnosticData(1, diag.range.start.line, ()))
    edit = actions[-1].edit
    assert edit is not None and edit.document_changes is not None
    change = edit.document_changes[0]
    assert isinstance(change, lsp.TextDocumentEdit) and change.text_document.version == 1


def test_a_result_a_version_behind_answers_only_about_unchanged_lines():
    doc = DocState.open("file:///m.py", None, 2, CODE.replace("h = self.fc1(x)", "h = self.fc1(x)  # edited"))
    snap = _snapshot(doc, CODE)  # the result is of the text before the edit
    line = CODE.splitlines().index("        h = self.fc1(x)")
    assert not snap.current
    assert hover_at(snap, lsp.Position(line=line, character=9)) is None  # that line changed
    other = CODE.splitlines().index("        return self.fc2(h)")
    assert hover_at(snap, lsp.Position(line=other, character=25)) is not None
    hinted = {h.position.line for h in hints_in(snap, 0, 100)}
    assert CODE.splitlines().index("z = torch.zeros(2, 3)") in hinted and line not in hinted
    assert line in {h.position.line for h in hints_in(_snapshot(doc, doc.text), 0, 100)}


def test_edits_are_unversioned_when_the_client_cannot_check_versions():
    doc = DocState.open("file:///m.py", None, 3, CODE)
    snap = _snapshot(doc, CODE, versioned=False)
    edit = snap.workspace_edit([])
    assert edit.document_changes is None and edit.changes == {"file:///m.py": []}
