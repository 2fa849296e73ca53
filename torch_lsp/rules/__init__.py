"""The rule catalogue.

Each rule family lives in its own module and declares its rules with ``rule()``;
the rule's documentation is its docstring-like ``doc`` text, written in the style of
ruff's rule pages (What it does / Why is this bad? / Example / Fix). The codes are a
public contract (``shared/rules.md``): never reuse one.

A family module also provides ``check(ctx) -> Iterable[Diagnostic]``; the engine
runs every family's checker and filters by selection and suppression afterwards.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

from torch_lsp.analysis.diagnostics import Severity


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str  # one line, for tables and SARIF shortDescription
    severity: Severity  # default severity
    doc: str  # markdown: What it does / Why is this bad? / Example / Fix
    fixable: bool = False

    @property
    def family(self) -> str:
        return self.code[:3]

    def render(self) -> str:
        fix = "Fix is available." if self.fixable else "No automatic fix."
        head = f"# {self.name} ({self.code})\n\nDefault severity: {self.severity.label}. {fix}\n\n"
        return head + self.doc.strip() + "\n"


RULES: dict[str, Rule] = {}


def rule(code: str, name: str, summary: str, severity: Severity, doc: str, fixable: bool = False) -> Rule:
    if code in RULES:
        raise ValueError(f"rule code {code} declared twice")
    r = Rule(code, name, summary, severity, textwrap.dedent(doc).strip(), fixable)
    RULES[code] = r
    return r


def rule_name(code: str) -> str:
    """A code's rule name (``unregistered-tensor``); the code itself when no rule has it."""
    r = RULES.get(code)
    return r.name if r else code


def lookup(code_or_name: str) -> Rule | None:
    key = code_or_name.strip()
    if key.upper() in RULES:
        return RULES[key.upper()]
    for r in RULES.values():
        if r.name == key:
            return r
    return None


def _load() -> None:
    # Import the families so that they register their rules.
    from torch_lsp.rules import parse_error, registration, runtime, shapes  # noqa: F401


_load()
