"""Runtime evaluation without a call site (issue 14): entry points (Module classes
built with their defaults, builders, registrations), inputs inferred from the first
layer reading them, and TL901 only when the failure does not depend on the guess.

Every model below was also run for real under torch on CPU with a realistic input
(REAL_RUNS): the ones reported really break, the quiet ones really run."""
from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile
from torch_lsp.runtime.jobs import entry_points
from torch_lsp.runtime.report import Options, evaluate_source

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="the runtime worker needs torch (pip install -e '.[torch]')")

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"


# ============================================================================ which entry points
def _entries(text: str, already: set[str] = frozenset()) -> list[tuple[str, str]]:
    return [(e.kind, e.name) for e in entry_points(ast.parse(textwrap.dedent(text)), already)]


def test_builders_registrations_and_default_constructible_classes_are_entry_points():
    text = """
        import torch.nn as nn
        from somewhere import register_model, build_model_with_cfg

        class Block(nn.Module):
            def __init__(self, c):
                super().__init__()

        class ResNet(nn.Module):
            def __init__(self, block, layers, num_classes=1000):
                super().__init__()
            def forward(self, x):
                return x

        class Tiny(nn.Module):
            def __init__(self, d=3, *, act=None):
                super().__init__()
            def forward(self, x):
                return x

        class Config:
            def __init__(self, d=3):
                self.d = d

        class ViT(nn.Module):
            def __init__(self, img_size=224):
                super().__init__()
            def forward(self, x):
                return x

        def _resnet(block, layers, weights, progress, **kwargs):
            model = ResNet(block, layers, **kwargs)
            return model

        def resnet18(*, weights=None, progress=True, **kwargs):
            return _resnet(Block, [2, 2, 2, 2], weights, progress, **kwargs)

        def _create_vit(variant, pretrained=False, **kwargs):
            return build_model_with_cfg(ViT, variant, pretrained, **kwargs)

        @register_model
        def vit_tiny(pretrained=False, **kwargs):
            return _create_vit("vit_tiny", pretrained, **dict(kwargs))

        def head(n=3):
            return nn.Sequential(nn.Linear(n, n))

        def needs_arguments(d):
            return Tiny(d)

        def main():
            model = Tiny()
            train(model)

        def loss(x=None):
            return x * 2
    """
    # (Config has no base and no forward: not a candidate; ResNet, Block, ViT are built by the builders)
    assert _entries(text) == [("builder", "resnet18"), ("builder", "vit_tiny"), ("builder", "head"), ("class", "Tiny")]
    # a class evaluated from a call site of its own is not an entry point again
    assert ("class", "Tiny") not in _entries(text, {"Tiny"})


# ============================================================================ the cases
LINEAR_CHAIN = HEADER + '''class Net(nn.Module):
    def __init__(self, num_classes=10, width=32):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc1 = nn.Linear(16, width)
        self.fc2 = nn.Linear(width + 1, num_classes)

    def forward(self, x):
        x = self.features(x).flatten(1)
        x = self.fc1(x)
        return self.fc2(x)
'''

BUILDER = HEADER + '''class Encoder(nn.Module):
    def __init__(self, vocab, dim, heads):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.proj = nn.Linear(dim, dim * 3)
        self.out = nn.Linear(dim * 2, dim)
        self.heads = heads

    def forward(self, input_ids=None, attention_mask=None):
        h = self.embed(input_ids)
        q = self.proj(h)
        return self.out(q)


def _encoder(vocab, dim, heads):
    model = Encoder(vocab, dim, heads)
    return model


def encoder_small(**kwargs):
    return _encoder(100, 16, 2)
'''

LENET = HEADER + '''class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))
'''

LENET_BROKEN = LENET.replace("nn.Linear(16 * 5 * 5, 120)", "nn.Linear(16 * 5 * 5, 120)").replace(
    "self.fc2 = nn.Linear(120, 10)", "self.fc2 = nn.Linear(128, 10)")

OWN_CHECK = HEADER + '''class Audio(nn.Module):
    def __init__(self, n_mels=8, n_ctx=30):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, 16, 3, padding=1)
        self.conv2 = nn.Conv1d(16, 16, 3, stride=2, padding=1)
        self.register_buffer("positional_embedding", torch.zeros(n_ctx, 16))

    def forward(self, x):
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x))
        x = x.permute(0, 2, 1)
        assert x.shape[1:] == self.positional_embedding.shape, "incorrect audio shape"
        return x + self.positional_embedding
'''

FIRST_LAYER_REJECTS = HEADER + '''class Channels(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        x = x.permute(0, 3, 1, 2)
        x = self.stem(x)
        return self.head(x.mean((2, 3)))
'''

TRAIN_ONLY = HEADER + '''class WithAux(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(8, classes)
        self.aux = nn.Linear(16, classes)

    def forward(self, x):
        h = self.body(x)
        out = self.head(h)
        if self.training:
            out = out + self.aux(h)
        return out
'''

PINNED = HEADER + '''class ViT(nn.Module):
    def __init__(self, img_size=32, patch=8, dim=16):
        super().__init__()
        self.img_size = img_size
        self.proj = nn.Conv2d(3, dim, patch, patch)
        self.pos = nn.Parameter(torch.zeros(1, (img_size // patch) ** 2, dim))
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = x + self.pos
        return self.head(x.mean(1))
'''

PINNED_BROKEN = PINNED.replace("self.head = nn.Linear(dim, 10)", "self.head = nn.Linear(dim * 2, 10)")

TWO_INPUTS = HEADER + '''class Speech(nn.Module):
    def __init__(self, n_mels=8, vocab=50, dim=16):
        super().__init__()
        self.conv = nn.Conv1d(n_mels, dim, 3, padding=1)
        self.embed = nn.Embedding(vocab, dim)
        self.mix = nn.Linear(dim, dim)

    def forward(self, mel, tokens):
        audio = self.conv(mel).mean(-1)
        text = self.embed(tokens)
        return self.mix(text + audio[:, None, :])
'''

NOT_A_MODULE = HEADER + '''class Writer:
    def __init__(self, path="SIDE_EFFECT"):
        open(path, "w").write("built")


class Dataset(torch.utils.data.Dataset):
    def __init__(self, root="SIDE_EFFECT2"):
        open(root, "w").write("built")
'''

SEQUENTIAL_BUILDER = HEADER + '''def make_head(width=64):
    return nn.Sequential(nn.Linear(10, width), nn.ReLU(), nn.Linear(width + 1, 2))
'''

COMPUTED_INPUTS = HEADER + """class FNO(nn.Module):
    def __init__(self, modes, width):
        super().__init__()
        self.lift = nn.Linear(2, width)
        self.mix = nn.Sequential(nn.Linear(width, width), nn.GELU())
        self.proj = nn.Linear(width, 1)

    def forward(self, u, grid):
        x = torch.cat([u, grid], dim=-1)
        x = self.mix(self.lift(x)).mean(1)
        return self.proj(x.reshape(-1, 16))


def main():
    n = 16
    n_points = n
    n_points += 0
    grid = torch.linspace(0, 1, n).view(1, n, 1).repeat(4, 1, 1)
    u0 = torch.randn(4, n_points, 1)
    model = FNO(8, 32)
    out = model(u0, grid)
    other = FNO(8, width=get_width())
    other(u0, grid)
    model(u0, load_grid())
"""

DUPLICATES = HEADER + '''class MLP(nn.Module):
    def __init__(self, d_in, hidden, d_out):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, d_out)

    def forward(self, x):
        return self.fc2(self.fc1(x))


def mlp_base():
    return MLP(8, 64, 2)


def mlp_same():
    return MLP(8, 64, 2)


def mlp_small():
    return MLP(8, 4, 2)
'''


def _run_real(text: str, call: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", text + "\n" + call], capture_output=True, text=True, timeout=300)


# (case, the realistic call made for real, what torch says: None = runs, else a text of the error)
REAL_RUNS = [
    (LINEAR_CHAIN, "m = Net(); m.eval(); m(torch.randn(4, 3, 64, 64))", "mat1 and mat2 shapes cannot be multiplied"),
    (BUILDER, "m = encoder_small(); m(torch.randint(0, 100, (4, 12)))", "mat1 and mat2 shapes cannot be multiplied"),
    (LENET, "m = LeNet(); m(torch.randn(4, 1, 32, 32))", None),
    (LENET_BROKEN, "m = LeNet(); m(torch.randn(4, 1, 32, 32))", "mat1 and mat2 shapes cannot be multiplied"),
    (OWN_CHECK, "m = Audio(); m(torch.randn(2, 8, 60))", None),
    (FIRST_LAYER_REJECTS, "m = Channels(); m(torch.randn(2, 32, 32, 3))", None),
    (TRAIN_ONLY, "m = WithAux(); m.eval(); m(torch.randn(2, 3, 16, 16)); m.train(); m(torch.randn(2, 3, 16, 16))",
     "mat1 and mat2 shapes cannot be multiplied"),
    (PINNED, "m = ViT(); m(torch.randn(2, 3, 32, 32))", None),
    (PINNED_BROKEN, "m = ViT(); m(torch.randn(2, 3, 32, 32))", "mat1 and mat2 shapes cannot be multiplied"),
    (TWO_INPUTS, "m = Speech(); m(torch.randn(2, 8, 40), torch.randint(0, 50, (2, 7)))", None),
    (SEQUENTIAL_BUILDER, "make_head()(torch.randn(4, 10))", "mat1 and mat2 shapes cannot be multiplied"),
    (COMPUTED_INPUTS, "main()", "mat1 and mat2 shapes cannot be multiplied"),
    (DUPLICATES, "[f()(torch.randn(3, 8)) for f in (mlp_base, mlp_same, mlp_small)]", None),
]


@needs_torch
@pytest.mark.parametrize("text,call,raises", REAL_RUNS, ids=[c.split("(", 1)[0].strip("[ ") for _, c, _ in REAL_RUNS])
def test_the_cases_behave_so_under_torch_on_cpu(text, call, raises):
    proc = _run_real(text, call)
    if raises is None:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0 and raises in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def client():
    if not HAS_TORCH:
        pytest.skip("the runtime worker needs torch (pip install -e '.[torch]')")
    from torch_lsp.runtime.client import RuntimeClient

    c = RuntimeClient(timeout=60)
    yield c
    c.close()


def _evaluate(client, tmp_path, text, **options):
    path = tmp_path / "model.py"
    path.write_text(text)
    src = SourceFile.parse(text, str(path))
    options.setdefault("timeout", 60)
    return evaluate_source(src, str(path), [], client, Options(**options), Project())


def _codes(out):
    return [(d.code, d.range.start.line + 1) for d in out.diagnostics]


@needs_torch
def test_a_class_built_with_its_defaults_is_run_with_an_inferred_image(client, tmp_path):
    out = _evaluate(client, tmp_path, LINEAR_CHAIN)
    line = LINEAR_CHAIN.splitlines().index("        return self.fc2(x)") + 1
    assert _codes(out) == [("TL901", line)]
    message = out.diagnostics[0].message
    assert "`fc2` (Linear, in_features=33) received [2, 32]" in message
    assert "`Net()`" in message and "inferred [2, 3, 224, 224]" in message and "[2, 3, 448, 448]" in message
    assert out.diagnostics[0].related[0].range.start.line + 1 == LINEAR_CHAIN.splitlines().index("class Net(nn.Module):") + 1


@needs_torch
def test_a_builder_is_called_and_its_text_input_is_a_long_tensor(client, tmp_path):
    out = _evaluate(client, tmp_path, BUILDER)
    line = BUILDER.splitlines().index("        return self.out(q)") + 1
    assert _codes(out) == [("TL901", line)]
    assert "`encoder_small()`" in out.diagnostics[0].message and "[2, 16] (long)" in out.diagnostics[0].message
    # the class is evaluated through its builder, not on its own
    (ep, res), = out.entries
    assert ep.name == "encoder_small" and res["status"] == "error"


@needs_torch
def test_a_failure_that_goes_away_with_another_size_is_not_reported(client, tmp_path):
    out = _evaluate(client, tmp_path, LENET, report_skipped=True)
    assert [d.code for d in out.diagnostics] == ["TL902"]
    assert "runs with [2, 1, 32, 32]" in out.diagnostics[0].message


@needs_torch
def test_a_failure_at_every_size_tried_is_reported(client, tmp_path):
    out = _evaluate(client, tmp_path, LENET_BROKEN)
    line = LENET_BROKEN.splitlines().index("        return self.fc2(F.relu(self.fc1(x)))") + 1
    assert _codes(out) == [("TL901", line)]
    assert "other inputs" in out.diagnostics[0].message  # the sizes of a sweep fail too


@needs_torch
def test_the_models_own_check_of_its_input_is_a_skip(client, tmp_path):
    out = _evaluate(client, tmp_path, OWN_CHECK, report_skipped=True)
    assert [d.code for d in out.diagnostics] == ["TL902"]
    assert "own check rejected the inferred input [2, 8, 16]" in out.diagnostics[0].message


@needs_torch
def test_an_input_rejected_before_or_by_the_first_layer_is_a_skip(client, tmp_path):
    out = _evaluate(client, tmp_path, FIRST_LAYER_REJECTS, report_skipped=True)
    assert [d.code for d in out.diagnostics] == ["TL902"]
    assert "rejected by" in out.diagnostics[0].message and "self.stem" in out.diagnostics[0].message


@needs_torch
def test_a_training_only_branch_is_run_in_train_mode(client, tmp_path):
    out = _evaluate(client, tmp_path, TRAIN_ONLY)
    line = TRAIN_ONLY.splitlines().index("            out = out + self.aux(h)") + 1
    assert _codes(out) == [("TL901", line)]
    assert "train() mode" in out.diagnostics[0].message


@needs_torch
def test_the_image_size_the_model_declares_is_used(client, tmp_path):
    out = _evaluate(client, tmp_path, PINNED, report_skipped=True)
    assert out.diagnostics == []
    (ep, res), = out.entries
    assert res["status"] == "ok" and res["input"] == "[2, 3, 32, 32]"
    broken = _evaluate(client, tmp_path, PINNED_BROKEN)
    assert [d.code for d in broken.diagnostics] == ["TL901"]
    assert "[3, 3, 32, 32]" in broken.diagnostics[0].message  # the pinned size stays; the batch changes


@needs_torch
def test_each_argument_is_inferred_from_its_own_first_layer(client, tmp_path):
    out = _evaluate(client, tmp_path, TWO_INPUTS, report_skipped=True)
    assert out.diagnostics == []
    (ep, res), = out.entries
    assert res["status"] == "ok" and res["input"] == "[2, 8, 16], [2, 16] (long)"


@needs_torch
def test_classes_that_are_not_modules_are_never_built(client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = _evaluate(client, tmp_path, NOT_A_MODULE, report_skipped=True)
    assert out.diagnostics == []
    assert not (tmp_path / "SIDE_EFFECT").exists() and not (tmp_path / "SIDE_EFFECT2").exists()


@needs_torch
def test_the_same_module_is_run_once_the_smallest_first_and_the_cap_is_said(client, tmp_path):
    out = _evaluate(client, tmp_path, DUPLICATES, report_skipped=True, max_entry_points=1)
    reasons = {ep.name: (res["status"], res.get("reason", "")) for ep, res in out.entries}
    assert reasons["mlp_small"][0] == "ok"  # 8*4 + 4*2 parameters: the smallest
    assert reasons["mlp_same"][0] == "skipped" and "the same module as `mlp_base()`" in reasons["mlp_same"][1]
    assert reasons["mlp_base"][0] == "skipped" and "runtime.max-entry-points" in reasons["mlp_base"][1]
    assert {d.code for d in out.diagnostics} == {"TL902"}
    none = _evaluate(client, tmp_path, DUPLICATES, max_entry_points=0)
    assert none.entries == []


@needs_torch
def test_check_runtime_reports_an_uncalled_model_and_static_findings_win(tmp_path):
    (tmp_path / "net.py").write_text(LINEAR_CHAIN.replace("width + 1", "33"))
    (tmp_path / "builder.py").write_text(SEQUENTIAL_BUILDER)
    cmd = [sys.executable, "-m", "torch_lsp", "check", "--format", "json", "--exit-zero", "--runtime",
           "--runtime-timeout", "60", str(tmp_path)]
    found = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path).stdout)
    codes = sorted((d["path"].rsplit("/", 1)[-1], d["code"]) for d in found)
    # net.py: the static TL201 names the mismatch, so no TL901 repeats it; builder.py: only the runtime sees it
    # (the builder's argument default goes into a Sequential the static engine does not follow)
    assert ("net.py", "TL201") in codes and ("net.py", "TL901") not in codes
    assert ("builder.py", "TL901") in codes


@needs_torch
def test_call_sites_with_computed_inputs_use_the_static_shapes_and_every_skip_says_why(client, tmp_path):
    out = _evaluate(client, tmp_path, COMPUTED_INPUTS, report_skipped=True)
    lines = COMPUTED_INPUTS.splitlines()
    got = {(d.code, d.range.start.line + 1): d.message for d in out.diagnostics}
    fail = lines.index("        return self.proj(x.reshape(-1, 16))") + 1
    assert ("TL901", fail) in got and "as `model(u0, grid)` does" in got[("TL901", fail)]
    other = lines.index("    other(u0, grid)") + 1
    assert "the arguments of `FNO(8, width=get_width())` are not known" in got[("TL902", other)]
    loaded = lines.index("    model(u0, load_grid())") + 1
    assert "the shape of the input `load_grid()` is not known" in got[("TL902", loaded)]
    assert len(got) == 3, got


@needs_torch
def test_project_modules_are_imported_once_and_again_when_a_file_changes(client, tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    log = tmp_path / "imports.log"
    (pkg / "__init__.py").write_text("")
    blocks = HEADER + f"open({str(log)!r}, 'a').write('imported\\n')\nWIDTH = 8\n"
    (pkg / "blocks.py").write_text(blocks)
    model = HEADER + (
        "from pkg import blocks\n\n\n"
        "def make():\n"
        "    return nn.Sequential(nn.Linear(4, blocks.WIDTH), nn.Linear(8, 2))\n")
    path = pkg / "model.py"
    path.write_text(model)

    def run():
        src = SourceFile.parse(model, str(path))
        return evaluate_source(src, str(path), [], client, Options(timeout=60, report_skipped=True), Project())

    assert run().diagnostics == [] and run().diagnostics == []
    assert log.read_text().count("imported") == 1  # the second job used the module the first imported
    (pkg / "blocks.py").write_text(blocks.replace("WIDTH = 8", "WIDTH = 16"))
    changed = run()  # the file changed on disk: imported again, with its new text
    assert log.read_text().count("imported") == 2
    assert [d.code for d in changed.diagnostics] == ["TL901"] and "in_features=8" in changed.diagnostics[0].message


BATCH_OF_ONE = HEADER + '''class Stateful(nn.Module):
    def __init__(self, d=8, hidden=16):
        super().__init__()
        self.inp = nn.Linear(d, hidden)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.h0 = nn.Parameter(torch.zeros(1, 1, hidden))
        self.head = nn.Linear(hidden, 2)

    def forward(self, x):
        out, _ = self.rnn(self.inp(x), self.h0)
        return self.head(out[:, -1])
'''


@needs_torch
def test_a_model_written_for_batch_one_is_not_reported(client, tmp_path):
    assert _run_real(BATCH_OF_ONE, "Stateful()(torch.randn(1, 5, 8))").returncode == 0
    assert _run_real(BATCH_OF_ONE, "Stateful()(torch.randn(2, 5, 8))").returncode != 0
    out = _evaluate(client, tmp_path, BATCH_OF_ONE, report_skipped=True)
    assert [d.code for d in out.diagnostics] == ["TL902"] and "depends on the input" in out.diagnostics[0].message


IMPORTS_TORCH_INTERNALS = HEADER + '''import torch.distributed.fsdp  # imports torch.distributed.tensor, which meets torch._dynamo on the way


def make():
    return nn.Sequential(nn.Linear(4, 8), nn.Linear(9, 2))
'''


@needs_torch
def test_a_file_importing_torch_internals_imports_in_the_worker(client, tmp_path):
    # (the worker keeps a stand-in for torch._dynamo; imports of the document meet the real module)
    assert _run_real(IMPORTS_TORCH_INTERNALS, "print(make())").returncode == 0
    out = _evaluate(client, tmp_path, IMPORTS_TORCH_INTERNALS, report_skipped=True)
    assert [d.code for d in out.diagnostics] == ["TL901"], [d.message for d in out.diagnostics]


BUILDER_CONFIG_REJECTED = HEADER + '''class Block(nn.Module):
    def __init__(self, c_in, c_out, groups):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, groups=groups)

    def forward(self, x):
        return self.conv(x)


def block_small():
    return Block(6, 8, groups=4)


class Placeholder(nn.Module):
    def __init__(self, width=None):
        super().__init__()
        self.fc = nn.Linear(4, width)

    def forward(self, x):
        return self.fc(x)
'''


@needs_torch
def test_a_builders_configuration_that_torch_rejects_is_an_error_a_default_is_not(client, tmp_path):
    assert "in_channels must be divisible by groups" in _run_real(BUILDER_CONFIG_REJECTED, "block_small()").stderr
    out = _evaluate(client, tmp_path, BUILDER_CONFIG_REJECTED, report_skipped=True)
    got = sorted((d.code, d.range.start.line + 1) for d in out.diagnostics)
    lines = BUILDER_CONFIG_REJECTED.splitlines()
    assert got == [("TL901", lines.index("        self.conv = nn.Conv2d(c_in, c_out, 3, groups=groups)") + 1),
                   ("TL902", lines.index("class Placeholder(nn.Module):") + 1)]
    tl901 = next(d for d in out.diagnostics if d.code == "TL901")
    assert "in_channels must be divisible by groups" in tl901.message and "`block_small()`" in tl901.message


RAW_AUDIO = HEADER + '''class ConvLayer(nn.Module):
    def __init__(self, c_in, c_out, k, s):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, k, s)

    def forward(self, h):
        return torch.relu(self.conv(h))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_layers = nn.ModuleList([ConvLayer(1, 8, 10, 5), ConvLayer(8, 8, 3, 2), ConvLayer(8, 8, 3, 2)])
        self.proj = nn.Linear(8, 16)

    def forward(self, input_values):
        hidden_states = input_values[:, None]
        for conv_layer in self.conv_layers:
            hidden_states = conv_layer(hidden_states)
        return self.proj(hidden_states.transpose(1, 2))
'''


@needs_torch
def test_an_input_too_small_for_the_model_is_not_its_error(client, tmp_path):
    # The first layer is found through `x[:, None]` and a loop over a ModuleList: the
    # input is [B, T]; at T = 16 and 32 the strided convolutions run out of samples.
    assert _run_real(RAW_AUDIO, "Encoder()(torch.randn(2, 400))").returncode == 0
    assert "Kernel size can't be greater" in _run_real(RAW_AUDIO, "Encoder()(torch.randn(2, 16))").stderr
    out = _evaluate(client, tmp_path, RAW_AUDIO, report_skipped=True)
    assert out.diagnostics == []  # torch said the input was too small: run with a larger one
    assert out.entries[0][1]["status"] == "ok" and out.entries[0][1]["input"] == "[2, 512]"


def test_module_level_values_made_by_pure_calls_are_defined():
    tree = ast.parse("from functools import partial\nimport torch.nn as nn\n"
                     "LinearNoBias = partial(nn.Linear, bias=False)\ndata = load()\nx = partial(open('f'))\n")
    from torch_lsp.runtime.jobs import definitions

    assert [ast.unparse(s) for s in definitions(tree).body][2:] == ["LinearNoBias = partial(nn.Linear, bias=False)"]


OPTIONAL_INPUTS = HEADER + '''class Dual(nn.Module):
    def __init__(self):
        super().__init__()
        self.text = nn.Embedding(50, 16)
        self.vision = nn.Conv2d(3, 16, 8, 8)
        self.proj = nn.Linear(16, 8)

    def forward(self, input_ids=None, pixel_values=None, attention_mask=None):
        img = self.vision(pixel_values).flatten(2).mean(-1)
        txt = self.text(input_ids).mean(1)
        return self.proj(img) @ self.proj(txt).t()
'''

NAMED_SIZE = HEADER + '''class Mel(nn.Module):
    def __init__(self, n_mels=8, n_ctx=30):
        super().__init__()
        self.conv = nn.Conv1d(n_mels, 16, 3, padding=1)
        self.pos = nn.Parameter(torch.zeros(n_ctx * 2, 16))
        self.head = nn.Linear(16, 4)
        self.expected = n_ctx * 2

    def forward(self, x):
        if x.shape[-1] != self.expected:
            raise ValueError(f"expects features of length {self.expected}, but found {x.shape[-1]}")
        h = self.conv(x).transpose(1, 2) + self.pos
        return self.head(h)
'''


@needs_torch
@pytest.mark.parametrize("text,real_call,want", [
    (OPTIONAL_INPUTS, "Dual()(torch.randint(0, 50, (2, 5)), torch.randn(2, 3, 32, 32))", "[2, 16] (long), [2, 3, 224, 224]"),
    (NAMED_SIZE, "Mel()(torch.randn(2, 8, 60))", "[2, 8, 60]"),
], ids=["optional-inputs", "named-size"])
def test_what_the_model_asks_for_is_given(client, tmp_path, text, real_call, want):
    # CLIP-like: forward(input_ids=None, pixel_values=None) needs both; Whisper-like: the
    # model's own message names the length it wants
    assert _run_real(text, real_call).returncode == 0
    out = _evaluate(client, tmp_path, text, report_skipped=True)
    assert out.diagnostics == [] and out.entries[0][1]["status"] == "ok" and out.entries[0][1]["input"] == want
    broken = text.replace("self.proj = nn.Linear(16, 8)", "self.proj = nn.Linear(17, 8)").replace(
        "self.head = nn.Linear(16, 4)", "self.head = nn.Linear(17, 4)")
    assert _run_real(broken, real_call).returncode != 0
    out = _evaluate(client, tmp_path, broken, report_skipped=True)
    assert [d.code for d in out.diagnostics] == ["TL901"] and want in out.diagnostics[0].message


NO_META_KERNEL_IN_INIT = HEADER + '''class Heads(nn.Module):
    def __init__(self, n=4, d=8):
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.out = nn.Linear(d + 1, 2)
        self.register_buffer("mask", torch.eye(n).to_sparse(), persistent=False)

    def forward(self, x):
        return self.out(self.fc(x))
'''


@needs_torch
def test_a_constructor_without_meta_kernels_is_built_on_the_cpu_and_run_on_meta(client, tmp_path):
    assert "mat1 and mat2" in _run_real(NO_META_KERNEL_IN_INIT, "Heads()(torch.randn(2, 8))").stderr
    out = _evaluate(client, tmp_path, NO_META_KERNEL_IN_INIT, report_skipped=True)
    assert [d.code for d in out.diagnostics] == ["TL901"], [d.message for d in out.diagnostics]


@needs_torch
def test_a_bug_past_an_input_too_small_is_found_with_a_larger_one(client, tmp_path):
    broken = RAW_AUDIO.replace("self.proj = nn.Linear(8, 16)", "self.proj = nn.Linear(9, 16)")
    assert "mat1 and mat2" in _run_real(broken, "Encoder()(torch.randn(2, 400))").stderr
    out = _evaluate(client, tmp_path, broken, report_skipped=True)
    assert [d.code for d in out.diagnostics] == ["TL901"] and "inferred [2, 512]" in out.diagnostics[0].message


def test_the_scripts_own_actions_are_not_builders():
    text = """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, d=3):
                super().__init__()
            def forward(self, x):
                return x

        def build():
            return Net(4)

        def main():
            model = Net()
            return model

        def train_and_return():
            model = Net()
            opt = torch.optim.SGD(model.parameters(), 0.1)
            model(torch.randn(2, 3)).sum().backward()
            opt.step()
            return model

        def load():
            model = Net()
            model.load_state_dict(torch.load(open("ckpt.pt", "rb")))
            return model

        if __name__ == "__main__":
            main()
    """
    # main() is what the script runs; the others train or read files: only build() is a builder
    assert _entries(text) == [("builder", "build")]
