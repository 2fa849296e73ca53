"""TL000: the file itself cannot be read or parsed."""
from __future__ import annotations

from torch_lsp.analysis.diagnostics import Diagnostic, Severity
from torch_lsp.analysis.source import ParseProblem
from torch_lsp.rules import rule

PARSE_ERROR = rule(
    "TL000",
    "parse-error",
    "The file cannot be read or parsed",
    Severity.ERROR,
    """
    ## What it does
    Reports a file that cannot be decoded or parsed as Python: a syntax error,
    bytes that are not valid in the file's encoding, or an expression nested so
    deeply that Python's parser gives up. It is reported once, at the position of
    the problem. `torch-lsp check` reports nothing else in that file (as ruff
    does); in an editor, while you type, the statements that parse are still
    checked (the broken one is left out and the names it assigns are unknown), and
    the setting `reportSyntaxErrors` (on by default) shows or hides TL000.

    ## Why is this bad?
    Python cannot import the file, so every model in it fails before it runs, and
    torch-lsp cannot check it either.

    ## Example
    ```python
    class Net(nn.Module):
        def __init__(self)
            super().__init__()
    ```

    ## Fix
    Correct the syntax (here: the missing `:`), or re-save the file as UTF-8.
    """,
)


def diagnostic(problem: ParseProblem) -> Diagnostic:
    return Diagnostic(PARSE_ERROR.code, PARSE_ERROR.severity, problem.range, problem.message)
