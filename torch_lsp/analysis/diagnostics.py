"""Result types shared by every shell (CLI, language server, tests).

Positions are 0-based lines and 0-based columns counted in Unicode code points
(Python ``str`` indices), end exclusive. Each shell converts at its edge: the CLI
prints 1-based lines and columns, the server converts columns to the negotiated
LSP position encoding (UTF-16 or UTF-8).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """LSP's DiagnosticSeverity values, so the server can pass them through."""

    ERROR = 1
    WARNING = 2
    INFORMATION = 3
    HINT = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Severity":
        return cls[text.upper()]


class Applicability(enum.Enum):
    """Whether ``--fix`` may apply a fix without asking (ruff's vocabulary).

    SAFE: keeps what the code was evidently meant to do (inserting a missing
    ``super().__init__()``, wrapping a plain list of layers in ``nn.ModuleList``).
    UNSAFE: a judgement call the user should make (turning a tensor into a trained
    ``nn.Parameter`` changes training); applied only with ``--unsafe-fixes``.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Position:
    line: int  # 0-based
    character: int  # 0-based, Unicode code points


@dataclass(frozen=True, order=True)
class Range:
    start: Position
    end: Position

    @classmethod
    def of(cls, line: int, col: int, end_line: int, end_col: int) -> "Range":
        return cls(Position(line, col), Position(end_line, end_col))

    @classmethod
    def point(cls, line: int, col: int) -> "Range":
        return cls(Position(line, col), Position(line, col))


@dataclass(frozen=True)
class TextEdit:
    range: Range
    new_text: str


@dataclass(frozen=True)
class Fix:
    title: str
    edits: tuple[TextEdit, ...]
    applicability: Applicability = Applicability.SAFE


@dataclass(frozen=True)
class RelatedInformation:
    """Another place that explains the diagnostic. ``path`` None: the same file."""

    range: Range
    message: str
    path: str | None = None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    range: Range
    message: str
    related: tuple[RelatedInformation, ...] = ()
    fixes: tuple[Fix, ...] = ()  # the first one is the preferred fix

    def sort_key(self) -> tuple:
        return (self.range.start.line, self.range.start.character, self.code)


@dataclass
class FileResult:
    """Everything a shell needs to know about one checked file."""

    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    source: str | None = None  # the decoded text (None if it could not be read)
    fatal: str | None = None  # an I/O problem that stopped the check of this file
    imports: list | None = None  # its import statements (when asked for: the batch check's cache)
