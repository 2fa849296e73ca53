"""What a diagnostic carries to the client and back (``Diagnostic.data``): the
document version it was computed for, the line it is on, and its fixes.

Clients hand ``data`` back unchanged in ``textDocument/codeAction``, but it is still
input: whatever cannot be read is skipped, never an error. A diagnostic of another
version than the document's current one offers nothing (its positions are stale).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsprotocol import types as lsp


@dataclass(frozen=True)
class FixData:
    title: str
    safe: bool
    edits: tuple[lsp.TextEdit, ...]


@dataclass(frozen=True)
class DiagnosticData:
    version: int | None
    line: int | None
    fixes: tuple[FixData, ...]

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "line": self.line,
            "fixes": [{"title": f.title, "safe": f.safe,
                       "edits": [{"range": _range_json(e.range), "newText": e.new_text} for e in f.edits]}
                      for f in self.fixes],
        }

    @classmethod
    def read(cls, data: Any) -> "DiagnosticData | None":
        """``data`` as the client sent it back; None when it is not ours at all."""
        if not isinstance(data, dict):
            return None
        version = data.get("version")
        line = data.get("line")
        fixes = []
        raw = data.get("fixes")
        for f in raw if isinstance(raw, list) else ():
            fix = _read_fix(f)
            if fix is not None:
                fixes.append(fix)
        return cls(version if _is_int(version) else None, line if _is_int(line) else None, tuple(fixes))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _read_fix(f: Any) -> FixData | None:
    if not isinstance(f, dict) or not isinstance(f.get("title"), str) or not isinstance(f.get("edits"), list):
        return None
    edits = []
    for e in f["edits"]:
        rng = _read_range(e.get("range")) if isinstance(e, dict) else None
        if rng is None or not isinstance(e.get("newText"), str):
            return None  # a fix missing one of its edits would do something else
        edits.append(lsp.TextEdit(range=rng, new_text=e["newText"]))
    return FixData(f["title"], f.get("safe") is True, tuple(edits)) if edits else None


def _read_position(p: Any) -> lsp.Position | None:
    if isinstance(p, dict) and _is_int(p.get("line")) and _is_int(p.get("character")) \
            and 0 <= p["line"] < 2 ** 31 and 0 <= p["character"] < 2 ** 31:
        return lsp.Position(line=p["line"], character=p["character"])
    return None


def _read_range(r: Any) -> lsp.Range | None:
    if not isinstance(r, dict):
        return None
    start, end = _read_position(r.get("start")), _read_position(r.get("end"))
    return lsp.Range(start=start, end=end) if start is not None and end is not None else None


def _range_json(r: lsp.Range) -> dict:
    return {"start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character}}
