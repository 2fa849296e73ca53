"""Parse recovery while a statement is being typed (analysis/recovery.py, issue 17):
only the smallest broken statement is taken out, its targets become unknown, and
nothing is reported because of what was taken out."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from torch_lsp import engine
from torch_lsp.analysis.recovery import UNKNOWN, analysed_source, parse_recovering

ROOT = Path(__file__).resolve().parent.parent

TWO_CLASSES = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class A(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(10, 20)

        def forward(self, x):
            return self.fc(x) @ torch.randn(3, 5)


    class B(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(10, 20)
            self.fc2 = nn.Linear(30, 5)

        def forward(self, x):
            return self.fc2(self.fc1(x))
""")


def server_diagnostics(text: str) -> set[tuple[str, int, int]]:
    """(code, line, column) of what the server shows for ``text`` (TL000 aside):
    the statements that parse, analysed."""
    recovered = parse_recovering(text, "m.py")
    assert recovered.tree is not None
    src = analysed_source(recovered) if recovered.problem is not None else recovered
    ctx, diags = engine.analyse(src, None, None)
    out = engine.finish(recovered, diags, None)
    if ctx is not None:
        ctx.release()
    return {(d.code, d.range.start.line, d.range.start.character) for d in out}


def insert_after(text: str, line: str, new: str) -> str:
    assert line in text
    return text.replace(line, line + new, 1)


def test_an_unclosed_call_blanks_only_its_own_statement():
    text = insert_after(TWO_CLASSES, "        self.fc = nn.Linear(10, 20)\n", "        self.layers = nn.ModuleList(\n")
    src = parse_recovering(text, "m.py")
    assert src.problem is not None and src.problem.range.start.line == 8
    a = src.tree.body[2]
    assert isinstance(a, ast.ClassDef) and a.name == "A"
    init, forward = a.body
    assert [ast.unparse(s) for s in init.body] == [
        "super().__init__()", "self.fc = nn.Linear(10, 20)", f"self.layers = {UNKNOWN}"]
    assert [s.lineno for s in init.body] == [7, 8, 9]  # line numbers kept
    assert forward.name == "forward" and forward.lineno == 11
    assert server_diagnostics(TWO_CLASSES) == {("TL205", 10, 15), ("TL201", 17, 29)}
    assert server_diagnostics(text) == {("TL205", 11, 15), ("TL201", 18, 29)}  # one line further down


def test_the_lines_an_open_bracket_swallows_are_kept():
    """The error is reported on the line after the open bracket (`=` where an
    argument was expected); the statement still starts at the bracket's line."""
    text = TWO_CLASSES.replace("        self.fc1 = nn.Linear(10, 20)\n",
                               "        self.extra = nn.Sequential(\n        self.fc1 = nn.Linear(10, 20)\n")
    src = parse_recovering(text, "m.py")
    assert src.problem.range.start.line == 16
    init = src.tree.body[3].body[0]
    assert [ast.unparse(s) for s in init.body] == [
        "super().__init__()", f"self.extra = {UNKNOWN}", "self.fc1 = nn.Linear(10, 20)", "self.fc2 = nn.Linear(30, 5)"]
    assert {d for d in server_diagnostics(text) if d[0] == "TL201"} == {("TL201", 18, 29)}


def test_a_header_typed_without_its_body_is_blanked():
    text = insert_after(TWO_CLASSES, "    def forward(self, x):\n        return self.fc(x) @ torch.randn(3, 5)\n",
                        "\n    def extra(self, x):\n        if x:\n")
    src = parse_recovering(text, "m.py")
    assert src.problem is not None
    assert [f.name for f in src.tree.body[2].body] == ["__init__", "forward", "extra"]
    assert {c for c, *_ in server_diagnostics(text)} == {"TL205", "TL201"}


def test_a_broken_def_header_takes_only_its_method():
    text = TWO_CLASSES.replace("    def forward(self, x):\n        return self.fc2", "    def forward(self, x)\n        return self.fc2")
    src = parse_recovering(text, "m.py")
    b = src.tree.body[3]
    # a method of that name is still there (else nn.Module's would be taken for it)
    assert [ast.unparse(s) for s in b.body[1:]] == [f"def forward(self, *args, **kwargs):\n    return {UNKNOWN}"]
    assert ("TL205", 10, 15) in server_diagnostics(text)


def test_the_targets_of_a_broken_statement_become_unknown():
    """`x = x.flatten(` half typed: dropping it would leave x with the conv's output
    shape, and `self.fc` (right for the flattened size) would be reported."""
    text = textwrap.dedent("""\
        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3)
                self.fc = nn.Linear(8 * 30 * 30, 10)
                self.scale = torch.ones(10, requires_grad=True)

            def forward(self, x):
                x = self.conv(x)
                x = x.flatten(1)
                return self.fc(x) * self.scale


        out = Net()(torch.randn(2, 3, 32, 32))
    """)
    intact = server_diagnostics(text)
    assert {c for c, *_ in intact} == {"TL101"}
    for cut in ("x = x.flatten(", "x = x.flatten(1", "x = ", "x = x."):
        broken = text.replace("        x = x.flatten(1)\n", f"        {cut}\n")
        assert parse_recovering(broken).problem is not None
        assert server_diagnostics(broken) == intact, cut


def test_a_half_typed_super_init_call_is_not_a_missing_one():
    text = TWO_CLASSES.replace("class B(nn.Module):\n    def __init__(self):\n        super().__init__()\n",
                               "class B(nn.Module):\n    def __init__(self):\n        super().__init__(\n")
    src = parse_recovering(text, "m.py")
    assert src.problem is not None
    assert server_diagnostics(text) == {("TL205", 10, 15), ("TL201", 17, 29)}  # no TL104


def test_a_return_being_typed_keeps_returning():
    text = TWO_CLASSES.replace("        return self.fc2(self.fc1(x))\n", "        return self.fc2(self.fc1(x)\n")
    src = parse_recovering(text, "m.py")
    forward = src.tree.body[3].body[1]
    assert [ast.unparse(s) for s in forward.body] == [f"return {UNKNOWN}"]


# ----------------------------------------------------------------------------- the fuzzer
def _cuts(line: str) -> list[int]:
    """Columns to cut a line at: a quarter, half and three quarters into its code,
    and just after its first `(` (a call being typed)."""
    body = line.rstrip("\n")
    indent = len(body) - len(body.lstrip())
    cols = {indent + (len(body) - indent) * k // 4 for k in (1, 2, 3)}
    if "(" in body:
        cols.add(body.index("(") + 1)
    return sorted(cols)


def _top_level_span(tree: ast.Module, line: int) -> tuple[int, int]:
    """0-based [lo, hi) of the top-level statement holding 0-based ``line``."""
    for stmt in tree.body:
        lo = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])]) - 1
        if lo <= line < stmt.end_lineno:
            return lo, stmt.end_lineno
    return line, line + 1


EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
# (file, 1-based lines to cut): the examples whole, and torchvision's DenseNet block
# (an nn.ModuleDict filled with self.add_module in a loop, read by self.items() in
# forward: cutting the add_module, the loop or a def header once made a downstream
# BatchNorm look wrong)
FUZZED = [(path, None) for path in EXAMPLES] + [(ROOT / "tests" / "data" / "densenet_conv1_doubled.py", range(76, 105))]


def test_cutting_any_line_never_adds_a_diagnostic():
    """Every line of the examples (and a DenseNet block) cut at several columns, one at
    a time, as if being typed (a few hundred cases): what the server shows for the broken file is a
    subset of what it shows for the intact one (TL000 aside), and it keeps at least
    what blanking the whole top-level statement keeps, and more in all. TL104 is
    reported once per `__init__`, at the first assignment before
    `super().__init__()`: when that one is half typed, the next one (as wrong in the
    intact file) is the first."""
    cases = kept_fine = kept_coarse = 0
    for path, only in FUZZED:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        intact = server_diagnostics(text)
        lines = text.splitlines(keepends=True)
        for i, line in enumerate(lines):
            if not line.strip() or line.lstrip().startswith("#") or (only is not None and i + 1 not in only):
                continue
            for col in _cuts(line):
                broken = "".join(lines[:i]) + line[:col] + "\n" + "".join(lines[i + 1:])
                if parse_recovering(broken, "m.py").problem is None:
                    continue  # still valid Python
                cases += 1
                got = server_diagnostics(broken)
                new = {d for d in got - intact
                       if not (d[0] == "TL104" and any(c == "TL104" and ln < d[1] for c, ln, _ in intact))}
                assert not new, (path.name, i + 1, col, line[:col], new)
                # what blanking the whole top-level statement keeps
                lo, hi = _top_level_span(tree, i)
                coarse_text = "".join(ln if not lo <= k < hi else "\n" for k, ln in enumerate(lines))
                coarse = server_diagnostics(coarse_text) & intact
                kept_fine += len(got & intact)
                kept_coarse += len(coarse)
    assert cases >= 200
    assert kept_fine > kept_coarse
