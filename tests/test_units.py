"""The server's analysis reuses the results of units (top-level code, functions,
classes) whose source and dependencies did not change. Its diagnostics must be
exactly those of a fresh, whole-file analysis (what `torch-lsp check` reports), on
open and after any edit."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from torch_lsp import engine
from torch_lsp.analysis.incremental import IncrementalParser
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile
from torch_lsp.analysis.units import UnitCache

HERE = Path(__file__).parent
FILES = sorted((HERE / "e2e").glob("*.py")) + sorted((HERE.parent / "examples").glob("*.py"))


def fresh(text: str, path: str) -> list:
    return engine.check_source(text, path, project=Project(use_jedi=False)).diagnostics


def cached(parser: IncrementalParser, cache: UnitCache, text: str, path: str, project: Project) -> list:
    src = parser.parse(text)
    if src.tree is None or src.problem is not None:
        return []
    ctx, diags = engine.analyse(SourceFile(text=text, path=path, tree=src.tree), project, None, record_shapes=True, unit_cache=cache)
    return engine.finish(src, diags, None)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_reused_units_give_the_diagnostics_of_a_fresh_analysis(path):
    text = path.read_text(encoding="utf-8")
    p = str(path)
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    assert cached(parser, cache, text, p, project) == fresh(text, p)
    hits = cache.hits
    assert cached(parser, cache, text, p, project) == fresh(text, p)
    assert cache.hits > hits  # the second analysis reused units

    rng = random.Random(path.name)
    lines = text.splitlines(keepends=True)
    numbers = [i for i, ln in enumerate(lines) if any(ch.isdigit() for ch in ln) and not ln.lstrip().startswith("#")]
    for _ in range(25):
        # Change a number somewhere (sizes are what the rules are about), keep it valid.
        i = rng.choice(numbers)
        digits = [k for k, ch in enumerate(lines[i]) if ch.isdigit()]
        k = rng.choice(digits)
        new_line = lines[i][:k] + rng.choice("123456789") + lines[i][k + 1:]
        candidate = "".join(lines[:i] + [new_line] + lines[i + 1:])
        try:
            compile(candidate, p, "exec")
        except SyntaxError:
            continue
        lines[i] = new_line
        text = candidate
        assert cached(parser, cache, text, p, project) == fresh(text, p), f"after changing line {i + 1}"
    assert cache.hits > 0 and cache.misses > 0


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_moved_code_reuses_its_units_and_reports_the_new_lines(path):
    # Enter and Backspace move every statement below them: their units are reused
    # (the same nodes, shifted), and the diagnostics (ranges, related ranges and the
    # lines the messages quote) are those of a fresh analysis of the new text.
    text = path.read_text(encoding="utf-8")
    p = str(path)
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    cached(parser, cache, text, p, project)
    rng = random.Random("moves" + path.name)
    lines = text.splitlines(keepends=True)
    reused = 0
    for _ in range(20):
        k = rng.randrange(len(lines))
        if rng.random() < 0.6:
            indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())].rstrip("\n")
            candidate_lines = lines[:k + 1] + [indent + "\n"] + lines[k + 1:]
        elif lines[k].strip() == "" and k + 1 < len(lines):
            candidate_lines = lines[:k] + lines[k + 1:]  # delete a blank line
        else:
            continue
        candidate = "".join(candidate_lines)
        try:
            compile(candidate, p, "exec")
        except SyntaxError:
            continue
        lines, text = candidate_lines, candidate
        hits = cache.hits
        assert cached(parser, cache, text, p, project) == fresh(text, p), f"after a move at line {k + 1}"
        reused += cache.hits > hits
    assert reused > 0


def test_a_message_quotes_the_line_its_origin_moved_to():
    text = (
        "import torch\nimport torch.nn as nn\n\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.a = nn.Linear(10, 20)\n"
        "        self.b = nn.Linear(30, 5)\n\n"
        "    def forward(self, x):\n"
        "        return self.b(self.a(x))\n"
    )
    p = "net.py"
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    (before,) = cached(parser, cache, text, p, project)
    moved = text.replace("import torch\n", "import torch\n\n\n", 1)
    hits = cache.hits
    (after,) = cached(parser, cache, moved, p, project)
    assert cache.hits > hits  # the class was not analysed again
    assert after.range.start.line == before.range.start.line + 2
    assert after.message == fresh(moved, p)[0].message and after.message != before.message


# A real file of several Module classes that build and call each other (torch's own
# nn.Transformer), and the test files whose classes have findings.
TORCH_TRANSFORMER = Path(__import__("torch").__file__).parent / "nn" / "modules" / "transformer.py"
KEYSTROKES = ["x", "1", "2", " ", "(", ")", ":", "\n", "    ", "#", ",", "self.", "nn.Linear(4, 8)", "64"]


def _keystroke(rng: random.Random, text: str) -> str:
    """One editor keystroke (or a paste, a deletion) at a random place of a class body."""
    lines = text.splitlines(keepends=True)
    inside = [i for i, ln in enumerate(lines) if ln.startswith("    ") and ln.strip()] or list(range(len(lines)))
    line = rng.choice(inside)
    col = rng.randrange(len(lines[line].rstrip("\n")) + 1)
    offset = sum(len(x) for x in lines[:line]) + col
    kind = rng.random()
    if kind < 0.3 and any(ch.isdigit() for ch in lines[line]):  # change a size
        k = rng.choice([k for k, ch in enumerate(lines[line]) if ch.isdigit()])
        start = offset - col + k
        return text[:start] + rng.choice("123456789") + text[start + 1:]
    if kind < 0.8:
        return text[:offset] + rng.choice(KEYSTROKES) + text[offset:]
    return text[:offset] + text[offset + rng.randint(1, 5):]


# Classes whose registration findings depend on each other (a list of Blocks is a
# TL102 only while Block is a Module; a subclass inherits what its base registers), and
# edits that change that: what the module model keeps per class must follow them.
LINKED = """import torch
import torch.nn as nn
from torch.nn import Module


def make_block(width):
    return Block(width)


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.scale = torch.ones(width)

    def forward(self, x):
        y = self.fc(x)
        return y * self.scale


class Wide(Block):
    def __init__(self):
        super().__init__(16)
        self.extra = [nn.Linear(16, 16)]

    def forward(self, x):
        return self.extra[0](super().forward(x))


class Stack(Module):
    def __init__(self, depth):
        super().__init__()
        self.blocks = [Block(8) for _ in range(depth)]
        self.made = [make_block(8), make_block(8)]
        self.head = Wide()

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


model = Stack(2)
out = model(torch.randn(4, 8))
"""
MUTATIONS = [("nn.Module", "object"), ("object", "nn.Module"), ("(Block)", "(object)"), ("(object)", "(Block)"),
             ("nn.Linear(", "torch.ones("), ("torch.ones(", "nn.Linear("), ("return Block(", "return list("),
             ("return list(", "return Block("), ("super().__init__()", "pass"), ("pass", "super().__init__()"),
             ("[Block(8)", "nn.ModuleList([Block(8)"), ("= [", "= ("), ("= (", "= ["), ("Module)", "Mod)"),
             ("Mod)", "Module)"), ("8", "16"), ("16", "8"),
             ("from torch.nn import Module", "from typing import Any as Module"),
             ("from typing import Any as Module", "from torch.nn import Module")]


def test_random_edits_of_linked_classes_give_the_diagnostics_of_a_fresh_analysis():
    text, p = LINKED, "linked.py"
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    assert {d.code for d in fresh(text, p)} >= {"TL101", "TL102"}
    assert cached(parser, cache, text, p, project) == fresh(text, p)
    rng = random.Random("linked")
    compared = 0
    for step in range(150):
        old, new = rng.choice(MUTATIONS)
        places = [i for i in range(len(text)) if text.startswith(old, i)]
        if not places:
            continue
        i = rng.choice(places)
        candidate = text[:i] + new + text[i + len(old):]
        try:
            compile(candidate, p, "exec")
        except (SyntaxError, ValueError):
            continue
        text = candidate
        if rng.random() < 0.1:
            _cancelled_analysis(parser, cache, project, text, p)
            continue
        assert cached(parser, cache, text, p, project) == fresh(text, p), f"after edit {step}: {old!r} -> {new!r}"
        compared += 1
    assert compared >= 50


def _cancelled_analysis(parser, cache, project, text: str, p: str) -> None:
    """An analysis of ``text`` with the document's caches that a newer version cancels
    at its first question (as the server drops a superseded version)."""
    from torch_lsp.analysis.context import AnalysisCancelled

    src = parser.parse(text)
    try:
        engine.analyse(SourceFile(text=text, path=p, tree=src.tree), project, None, record_shapes=True,
                       unit_cache=cache, cancel=lambda: True)
    except AnalysisCancelled:
        pass


@pytest.mark.parametrize("path", [TORCH_TRANSFORMER] + [p for p in FILES if p.name.endswith("_bug.py")][:6],
                         ids=lambda p: p.name)
def test_random_keystrokes_give_the_diagnostics_of_a_fresh_analysis(path):
    # Every version that parses is analysed with the document's caches (unit results
    # and the module model's class infos) and compared with a fresh analysis; some
    # analyses are cancelled midway (a newer version arrived), as the server does.
    text = path.read_text(encoding="utf-8")
    p = str(path)
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    assert cached(parser, cache, text, p, project) == fresh(text, p)
    rng = random.Random("keys" + path.name)
    compared = 0
    for step in range(60 if path is TORCH_TRANSFORMER else 30):
        candidate = _keystroke(rng, text)
        try:
            compile(candidate, p, "exec")
        except (SyntaxError, ValueError):
            parser.parse(candidate)  # the parser sees every version, as the server's does; then undo
            continue
        text = candidate
        if rng.random() < 0.15:
            _cancelled_analysis(parser, cache, project, text, p)
            continue
        assert cached(parser, cache, text, p, project) == fresh(text, p), f"after keystroke {step}"
        compared += 1
    assert compared >= 5


def test_an_edit_inside_a_forward_walks_only_the_classes_that_reach_it(monkeypatch):
    # The module model (what each __init__ registers) is kept per class: an edit in
    # Block.forward analyses again Block and Net (which names it), not Head.
    from torch_lsp.analysis import init_walker

    walked: list[str] = []
    run = init_walker._InitWalker.run

    def counting(self):
        walked.append(self.info.name)
        return run(self)

    monkeypatch.setattr(init_walker._InitWalker, "run", counting)
    text = (
        "import torch\nimport torch.nn as nn\n\n\n"
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(8, 8)\n"
        "        self.scale = torch.ones(8)\n\n"
        "    def forward(self, x):\n"
        "        y = self.fc(x)\n"
        "        return y * self.scale\n\n\n"
        "class Head(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.out = nn.Linear(8, 2)\n"
        "        self.bias = torch.zeros(2)\n\n"
        "    def forward(self, x):\n"
        "        return self.out(x) + self.bias\n\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.block = Block()\n"
        "        self.head = nn.Linear(8, 3)\n\n"
        "    def forward(self, x):\n"
        "        return self.head(self.block(x))\n"
    )
    p = "net.py"
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    before = cached(parser, cache, text, p, project)
    assert sorted(walked) == ["Block", "Head", "Net"]
    assert before == fresh(text, p) and {d.code for d in before} == {"TL101"}  # the plain tensors
    edited = text.replace("        y = self.fc(x)\n", "        y = self.fc(x)\n        tmp_probe\n")
    walked.clear()
    assert cached(parser, cache, edited, p, project) == fresh(edited, p)
    walked.clear()
    typed = edited.replace("tmp_probe", "tmp_probe_a")
    after = cached(parser, cache, typed, p, project)
    assert sorted(walked) == ["Block", "Net"]
    walked.clear()
    assert after == fresh(typed, p)
    assert sorted(walked) == ["Block", "Head", "Net"]  # a fresh analysis walks every class


def test_a_class_named_only_in_docstrings_is_no_dependency():
    # transformers' docstrings (and @auto_docstring's string arguments) name sibling
    # classes; the code never reads them, so an edit of Other re-analyses Other only.
    text = (
        "import torch\nimport torch.nn as nn\n\n\n"
        "def doc(**kwargs):\n    return lambda cls: cls\n\n\n"
        "class Other(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(4, 4)\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(x)\n\n\n"
        "@doc(intro=\"\"\"\n    Works like [`Other`], with a head.\n    \"\"\")\n"
        "class Net(nn.Module):\n"
        "    \"\"\"Not an `Other`.\"\"\"\n\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(8, 3)\n"
        "        self.w = torch.ones(3)\n\n"
        "    def forward(self, x):\n"
        "        \"\"\"Unlike Other.forward.\"\"\"\n"
        "        return self.fc(x) * self.w\n\n\n"
        "net = Net()\nout = net(torch.randn(2, 8))\n"
    )
    p = "net.py"
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    assert cached(parser, cache, text, p, project) == fresh(text, p)
    edited = text.replace("return self.fc(x)\n", "return self.fc(x)[:, :2]\n", 1)
    misses = cache.misses
    assert cached(parser, cache, edited, p, project) == fresh(edited, p)
    assert cache.misses - misses == 1  # Other's unit; Net's (and the top level's) reused
    # A name in code (not in a string) still is one: Net then depends on Other.
    linked = edited.replace("        self.w = torch.ones(3)\n", "        self.w = torch.ones(3)\n        self.o = Other\n")
    cached(parser, cache, linked, p, project)
    again = linked.replace("[:, :2]", "[:, :3]")
    misses = cache.misses
    assert cached(parser, cache, again, p, project) == fresh(again, p)
    assert cache.misses - misses == 3  # Other, Net, and the top level that builds a Net


def test_the_keys_of_units_an_edit_cannot_reach_are_kept_not_rebuilt(monkeypatch):
    # A unit's key holds what it reaches (a walk over the names of the file); while
    # none of that changed, unit_keys hands back the key of the last analysis, the
    # same object (its hash already computed), instead of building it again.
    from torch_lsp.analysis import units

    made: list[dict] = []
    unit_keys = units.unit_keys

    def recording(*args):
        keys = unit_keys(*args)
        made.append({k[1]: k for k in keys if k[0] in ("class", "function")})
        return keys

    monkeypatch.setattr(units, "unit_keys", recording)
    text = LINKED.replace("model = Stack(2)\nout = model(torch.randn(4, 8))\n", "")
    p = "linked.py"
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    cached(parser, cache, text, p, project)
    edited = text.replace("        return self.extra[0](super().forward(x))\n",
                          "        return self.extra[0](super().forward(x)) * 2\n")
    assert cached(parser, cache, edited, p, project) == fresh(edited, p)
    before, after = made[0], made[-1]
    assert set(before) == set(after) >= {"Block", "Wide", "Stack"}
    assert after["Block"] is before["Block"]  # Block does not name Wide
    assert after["Wide"] is not before["Wide"] and after["Stack"] is not before["Stack"]  # Stack names Wide
    assert after["Wide"] != before["Wide"] and after["Stack"] != before["Stack"]


def test_a_first_analysis_publishes_its_registration_findings_before_working_out_what_to_keep(monkeypatch):
    # On a document's first analysis nothing can be reused: the file's definitions and
    # what each class reaches (for the next version) are worked out after the cheap
    # checkers' findings are handed to `partial` (the server's first publish), not
    # before; the next version still reuses the classes an edit does not reach.
    from torch_lsp.analysis import units

    made: list[str] = []
    real = units._Definitions.__init__

    def counting(self, *args, **kwargs):
        made.append("definitions")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(units._Definitions, "__init__", counting)
    text = (
        "import torch\nimport torch.nn as nn\n\n\n"
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.scale = torch.ones(8)\n\n"
        "    def forward(self, x):\n"
        "        return x * self.scale\n\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.block = Block()\n\n"
        "    def forward(self, x):\n"
        "        return self.block(x)\n"
    )
    p = "first.py"
    parser, cache, project = IncrementalParser(p), UnitCache(), Project(use_jedi=False)
    at_partial: list[list[str]] = []
    src = parser.parse(text)
    ctx, diags = engine.analyse(src, project, None, record_shapes=True, unit_cache=cache,
                                partial=lambda found: at_partial.append(list(made)))
    assert at_partial and all(m == [] for m in at_partial)  # nothing worked out before a first publish
    assert made == ["definitions"]  # ... but once the analysis is done
    assert {d.code for d in engine.finish(src, diags, None)} == {"TL101"}
    assert {getattr(n, "name", None) for n in cache.infos} == {"Block", "Net"}  # kept for the next version
    ctx.release()
    edited = text.replace("        return x * self.scale\n", "        y = x\n        return y * self.scale\n")
    assert cached(parser, cache, edited, p, project) == fresh(edited, p)
