"""The layers depend one way (README, Development): the analysis library imports
neither the rules nor any shell, and knows no rule code; the rules do not import the
shells. A new import that breaks this fails here, not in a review a year later."""
import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "torch_lsp"
CODE = re.compile(r"^TL\d{3}$")


def _imports(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _modules(folder: str) -> list[Path]:
    return sorted((PKG / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("analysis"), ids=lambda p: p.name)
def test_the_analysis_imports_no_rule_and_no_shell(path):
    tree = ast.parse(path.read_text())
    banned = ("torch_lsp.rules", "torch_lsp.engine", "torch_lsp.lsp", "torch_lsp.server", "torch_lsp.cli",
              "torch_lsp.output", "torch_lsp.runtime", "lsprotocol", "pygls")
    bad = sorted(m for m in _imports(tree) if m.startswith(banned) or m in ("torch_lsp.rules",))
    assert bad == []


@pytest.mark.parametrize("path", _modules("analysis"), ids=lambda p: p.name)
def test_the_analysis_knows_no_rule_code(path):
    tree = ast.parse(path.read_text())
    docs = _docstrings(tree)
    codes = [(n.lineno, n.value) for n in ast.walk(tree)
             if isinstance(n, ast.Constant) and isinstance(n.value, str) and CODE.match(n.value) and id(n) not in docs]
    assert codes == []


@pytest.mark.parametrize("path", _modules("rules"), ids=lambda p: p.name)
def test_the_rules_import_no_shell(path):
    banned = ("torch_lsp.lsp", "torch_lsp.server", "torch_lsp.cli", "torch_lsp.output", "lsprotocol", "pygls")
    assert sorted(m for m in _imports(ast.parse(path.read_text())) if m.startswith(banned)) == []


def test_the_finding_builder_sees_problems_not_the_interpreter():
    """The rules' FindingBuilder gets a neutral ShapeProblem and asks the analysis only
    what ShapeSite declares: it does not import the interpreter."""
    from torch_lsp.analysis import context

    assert context.FINDINGS_MODULE is None or context.FINDINGS_MODULE == "torch_lsp.rules.shape_findings"
    tree = ast.parse((PKG / "rules" / "shape_findings.py").read_text())
    assert sorted(m for m in _imports(tree) if m.startswith("torch_lsp.analysis.interpreter")) == []
    site_members = {"seg", "in_loop", "concrete", "outermost_init", "ctx", "src"}
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "interp"}
    assert used <= site_members
