"""The planting and oracle machinery of benchmarks/mutation.py, on a tiny synthetic model
(no download, no transformers; the oracle runs this interpreter's torch)."""

from __future__ import annotations

import ast
import difflib
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("mutation_bench", ROOT / "benchmarks" / "mutation.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["mutation_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


M = _load()

MODEL = '''import torch
from torch import nn


class Block(nn.Module):
    """A small block."""

    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim * 2)
        self.fc2 = nn.Linear(dim * 2, dim)
        self.layers = nn.ModuleList([nn.Linear(dim, dim) for _ in range(2)])
        self.scale = nn.Parameter(torch.ones(dim))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 5)

    def forward(self, x):
        b, t, d = x.shape
        h = self.fc2(torch.relu(self.fc1(x)))
        for layer in self.layers:
            h = layer(h)
        h = h.view(b, t, 2, d // 2).transpose(1, 2).reshape(b, t, d)
        h = torch.cat([h, h], dim=-1).chunk(2, dim=-1)[0]
        return torch.softmax(self.head(self.norm(h * self.scale)), dim=-1)
'''
BUILDER = "def build_block():\n    return Block(8)\n"
INPUT = "(torch.randn(2, 3, 8),)"


@pytest.fixture(scope="module")
def original() -> str:
    return M.make_standalone(MODEL, "pkg", BUILDER)


def test_standalone_rewrites_relative_imports_only():
    text = "from . import a\nfrom ..x.y import (b,\n    c)\nfrom ... import initialization as init\nimport os\n"
    out = M.make_standalone(text, "transformers.models.bert", "def build():\n    return None\n")
    assert out.startswith("from transformers.models.bert import a\nfrom transformers.models.x.y import (b,\n    c)\n"
                          "from transformers import initialization as init\nimport os\n")
    assert out.endswith("\n\ndef build():\n    return None\n")


def test_every_kind_gives_valid_python_changed_only_at_the_plant(original):
    limit = len(original.splitlines()) - len(BUILDER.splitlines()) + 1
    plants = M.find_plants(original, limit)
    for kind in M.KINDS:
        assert plants[kind], f"no {kind} plant in the synthetic model"
    descriptions = {p.description for ps in plants.values() for p in ps}
    assert "nn.Linear in_features: `dim * 2` -> `(dim * 2) * 2`" in descriptions or \
        "nn.Linear in_features: `dim * 2` -> `(dim * 2) + 1`" in descriptions
    assert any(d.startswith("super().__init__(...) moved") for d in descriptions)
    assert any(d == "nn.ModuleList(...) -> plain list" for d in descriptions)
    orig_lines = original.splitlines()
    for kind, ps in plants.items():
        for p in ps:
            mutant = M.apply_edits(original, p.edits)
            assert mutant != original
            ast.parse(mutant)  # valid Python
            assert p.line < limit  # never in the appended builder
            # the changed lines are the planted ones: everything else is identical
            allowed = set()
            for a, b, _ in p.edits:
                first, last = original.count("\n", 0, a) + 1, original.count("\n", 0, b) + 1
                allowed.update(range(first, last + 1))
            sm = difflib.SequenceMatcher(None, orig_lines, mutant.splitlines(), autojunk=False)
            for tag, i1, i2, j1, j2 in sm.get_opcodes():
                if tag != "equal":
                    touched = set(range(i1 + 1, i2 + 1)) or {i1 + 1, i1}
                    assert touched & allowed, (kind, p.description, tag, i1, i2)
                    assert set(range(i1 + 1, i2 + 1)) <= allowed, (kind, p.description)
            # the line map sends every unchanged mutant line back to its original line
            lm = M.line_map(original, mutant)
            for j, i in lm.items():
                assert mutant.splitlines()[j - 1] == orig_lines[i - 1]
            assert M.planted_lines(original, p)


def test_super_init_move_and_delete(original):
    plants = M.find_plants(original)["super-init"]
    moved = next(p for p in plants if "moved" in p.description)
    mutant = M.apply_edits(original, moved.edits)
    init = next(n for n in ast.walk(ast.parse(mutant)) if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    assert ast.unparse(init.body[-1]) == "super().__init__()"
    deleted = next(p for p in plants if p.description.endswith("deleted"))
    assert "super().__init__()" not in M.apply_edits(original, deleted.edits)


def test_oracle_confirms_a_breaking_plant_and_rejects_a_harmless_one(tmp_path, original):
    plants = M.find_plants(original)
    breaking = next(p for p in plants["layer-size"] if p.description.startswith("nn.Linear in_features: `dim * 2`"))
    harmless = next(p for p in plants["layer-size"] if p.description.startswith("nn.Linear out_features: `5`"))
    unregistered = next(p for p in plants["modulelist"])
    files = {"orig": original, "breaking": M.apply_edits(original, breaking.edits),
             "harmless": M.apply_edits(original, harmless.edits),
             "unregistered": M.apply_edits(original, unregistered.edits)}
    jobs = []
    for name, text in files.items():
        path = tmp_path / f"block_{name}.py"
        path.write_text(text)
        jobs.append(dict(path=str(path), module=f"mutbench_test_{name}", builder="build_block", input=INPUT,
                         coverage=name == "orig"))
    base, broke, fine, unreg = M.run_oracle(jobs, Path(sys.executable), tmp_path, 1, 60.0, use_cache=False)
    assert base["status"] == "ok", base
    assert base["out_eval"] == [[2, 3, 5]]
    assert {18, 19, 20, 21} <= set(base["covered"])  # lines of forward that ran
    verdict, said = M.verdict("layer-size", base, broke)
    assert verdict == "confirmed" and "mat1 and mat2" in said, said
    assert broke["line"] == 19  # the call of self.fc2 in the file
    verdict, said = M.verdict("layer-size", base, fine)
    assert verdict == "unbroken" and "output shapes" in said, said
    verdict, said = M.verdict("modulelist", base, unreg)
    assert verdict == "confirmed" and said.startswith("registration: 4 parameters missing"), said


def test_sampling_is_seeded_and_keeps_to_executed_statements(original):
    cands = M.find_plants(original)
    covered = set(range(1, 17))  # __init__ ran, forward did not
    a = M.sample_plants(cands, covered, 2, 0, "block", M.KINDS)
    b = M.sample_plants(cands, covered, 2, 0, "block", M.KINDS)
    assert [p.key() for p in a] == [p.key() for p in b]
    assert all(p.stmt_lines[0] < 17 for p in a)
    assert not any(p.kind == "dim" for p in a)  # every dim plant is in forward
    assert sum(p.kind == "layer-size" for p in a) == 2


def test_tl902_reason_strips_names_paths_and_numbers():
    msg = ("`build_x()` was not evaluated on meta tensors: its definitions raised ImportError: cannot import "
           "name 'DeviceMesh' from partially initialized module 'torch.distributed.tensor' (/a/b/c/__init__.py)")
    assert M.tl902_reason(msg) == ("its definitions raised ImportError: cannot import name 'DeviceMesh' from "
                                   "partially initialized module 'torch.distributed.tensor'")
    assert M.tl902_reason("`f()` was not evaluated on meta tensors: timed out after 60 s") == "timed out after N s"


def test_code_after_the_imports_and_the_vision_table():
    text = "import torch\nfrom ._api import register_model\n\n\n@register_model()\ndef resnet18():\n    return None\n"
    shim = "register_model = lambda name=None: (lambda fn: fn)"
    out = M.make_standalone(text, "torchvision.models", "def build():\n    return None\n", shim)
    lines = out.splitlines()
    assert lines[1] == "from torchvision.models._api import register_model" and lines[2] == shim
    ns: dict = {}
    exec(compile(out.replace("from torchvision.models._api import register_model\n", ""), "copy", "exec"), ns)
    assert ns["resnet18"]() is None  # the decorator registers nothing
    models = M.load_models(M.DATA_DIR / "vision.toml")
    assert {m.source for m in models} == {"torchvision", "timm"}
    assert all(m.builder_name.startswith("build_") for m in models)
    assert all(m.after_imports for m in models if m.source == "torchvision")
