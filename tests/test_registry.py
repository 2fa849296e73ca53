"""The registry of torch ops (torch_lsp.analysis.registry): every entry is a real torch
name, is reached by the interpreter from an ordinary call, and gives the shape torch gives.

Each entry has an example below (an entry without one fails ``test_every_op_has_an_example``):
the example runs under torch and through the interpreter; the interpreter must call the
entry's handler, and where the result is a tensor, its shape must be torch's, exactly.
"""
from __future__ import annotations

import textwrap
import warnings

import pytest

from torch_lsp.analysis import registry as R
from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.query import ShapeQuery
from torch_lsp.analysis.source import SourceFile

torch = pytest.importorskip("torch", reason="the registry's examples are checked against real torch")

# The input of an example, by short name (default: x = torch.randn(2, 3, 4)).
X3 = "torch.randn(2, 3, 4)"
INPUTS = {
    **{n: "torch.randn(2, 3, 8, 8)" for n in (
        "conv2d max_pool2d avg_pool2d adaptive_avg_pool2d adaptive_max_pool2d pixel_unshuffle interpolate upsample "
        "dropout2d").split()},
    **{n: "torch.randn(2, 3, 4, 8, 8)" for n in "conv3d max_pool3d avg_pool3d adaptive_avg_pool3d adaptive_max_pool3d dropout3d".split()},
    "pixel_shuffle": "torch.randn(2, 12, 4, 4)",
    "t": "torch.randn(3, 4)", "mm": "torch.randn(3, 4)", "linear": "torch.randn(2, 4)",
    "embedding": "torch.randint(0, 10, (2, 5))",
    "backward": "torch.randn(2, 3, 4, requires_grad=True)",
    "item": "torch.randn(())",
    "bitwise_and": "torch.randint(0, 5, (2, 3, 4))", "bitwise_or": "torch.randint(0, 5, (2, 3, 4))",
    "logical_and": "torch.randn(2, 3, 4) > 0", "logical_or": "torch.randn(2, 3, 4) > 0",
    "logical_xor": "torch.randn(2, 3, 4) > 0",
    **{n: "torch.rand(2, 3)" for n in ("binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "l1_loss",
                                        "smooth_l1_loss", "huber_loss", "kl_div", "cross_entropy", "nll_loss")},
}

# What follows the tensor in the call, by short name (default: nothing).
ARGS = {
    "view": "(6, 4)", "reshape": "(6, 4)", "flatten": "1", "unflatten": "1, (3, 1)", "permute": "(2, 0, 1)",
    "transpose": "0, 1", "swapaxes": "0, 1", "swapdims": "0, 1", "unsqueeze": "0", "squeeze": "",
    "expand": "5, 2, 3, 4", "repeat": "2, 1, 1", "chunk": "2, 2", "split": "2, 2",
    "size": "1", "clamp": "min=0.0", "clamp_": "min=0.0", "clip": "min=0.0", "roll": "1, 0", "flip": "(0,)",
    "masked_fill": "torch.randn(2, 3, 4) > 0, 0.0", "to": "torch.float64", "type_as": "torch.randn(1)",
    "fill_": "1.0", "add_": "1.0", "div_": "2.0", "mul_": "2.0", "sub_": "1.0", "prelu": "torch.ones(3)",
    "threshold": "0.1, 0.0", "dropout": "0.5, True", "dropout_": "0.5, True", "alpha_dropout": "0.5, True",
    "feature_alpha_dropout": "0.5, True", "layer_norm": "(4,)", "group_norm": "1",
    "local_response_norm": "2",
    "softmax": "-1", "log_softmax": "-1", "softmin": "-1", "cumsum": "1", "cumprod": "1", "normalize": "dim=1",
    "argmax": "1", "argmin": "1", "logsumexp": "1",
    **{n: "torch.randn(2, 3, 4)" for n in R._BINARY.split()},
    "bitwise_and": "torch.randint(0, 5, (2, 3, 4))", "bitwise_or": "torch.randint(0, 5, (2, 3, 4))",
    "logical_and": "torch.randn(3, 4) > 0", "logical_or": "torch.randn(3, 4) > 0", "logical_xor": "torch.randn(3, 4) > 0",
    "matmul": "torch.randn(4, 5)", "mm": "torch.randn(4, 5)", "bmm": "torch.randn(2, 4, 5)",
    "linear": "torch.randn(5, 4)",
    "new_zeros": "(5, 2)", "new_ones": "(5, 2)", "new_empty": "(5, 2)", "new_full": "(5, 2), 1.0",
    "interpolate": "scale_factor=2", "upsample": "scale_factor=2", "pad": "(1, 2)",
    "conv1d": "torch.randn(6, 3, 3)", "conv2d": "torch.randn(6, 3, 3, 3)", "conv3d": "torch.randn(6, 3, 3, 3, 3)",
    **{f"{k}_pool{n}d": "2" for k in ("max", "avg") for n in (1, 2, 3)},
    **{f"adaptive_{k}_pool{n}d": "1" for k in ("avg", "max") for n in (1, 2, 3)},
    "pixel_shuffle": "2", "pixel_unshuffle": "2", "embedding": "torch.randn(10, 6)",
    "instance_norm": "", "batch_norm": "torch.zeros(3), torch.ones(3)",
    "gather": "1, torch.zeros(2, 2, 4, dtype=torch.long)", "type": "torch.float16",
    "take_along_dim": "torch.zeros(2, 2, 4, dtype=torch.long), 1",
}
# Whole calls, for entries whose arguments do not start with one tensor.
CALLS = {
    "torch.cat": "torch.cat([x, x], 1)", "torch.concat": "torch.concat([x, x], 1)",
    "torch.concatenate": "torch.concatenate([x, x], 1)", "torch.stack": "torch.stack([x, x], 1)",
    "torch.einsum": 'torch.einsum("bij,bjk->bik", x, torch.randn(2, 4, 5))',
    "torch.where": "torch.where(x > 0, x, torch.zeros(3, 4))",
    "torch.batch_norm": "torch.batch_norm(x, None, None, torch.zeros(3), torch.ones(3), False, 0.1, 1e-5, False)",
    "torch.instance_norm": "torch.instance_norm(x, None, None, None, None, True, 0.1, 1e-5, False)",
    "torch.group_norm": "torch.group_norm(x, 1)",
    **{f"torch.nn.functional.{n}": f"F.{n}(x, torch.rand(2, 3))" for n in
       ("binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "l1_loss", "smooth_l1_loss",
        "huber_loss", "kl_div")},
    "torch.nn.functional.cross_entropy": "F.cross_entropy(x, torch.tensor([0, 2]))",
    "torch.nn.functional.nll_loss": "F.nll_loss(x, torch.tensor([0, 2]))",
    "torch.nn.functional.scaled_dot_product_attention":
        "F.scaled_dot_product_attention(x, torch.randn(2, 5, 4), torch.randn(2, 5, 6))",
}
# What the example yields when the op gives a tuple or a Python value: a tensor built from it.
WRAP = {
    "chunk": "{call}[0]", "split": "{call}[0]", "size": "torch.zeros({call})", "numel": "torch.zeros({call})",
    "dim": "torch.zeros({call})", "ndimension": "torch.zeros({call})",
    "max": "{call}", "min": "{call}", "median": "{call}",
}
# Entries the interpreter reaches but whose result is not a shape to compare, or that torch
# cannot run here.
NO_SHAPE = {"item": "a Python number", "tolist": "a Python list", "backward": "returns None",
            "cuda": "no GPU on the test machines: reached, not run"}


def _short(name: str) -> str:
    return name.rsplit(".", 1)[1]


def example(name: str) -> str:
    short = _short(name)
    op = R.OPS[name]
    if name in CALLS:
        call = CALLS[name]
    else:
        args = ARGS.get(short, "")
        if op.binds == R.METHOD:
            call = f"x.{short}({args})"
        else:
            mod = "F" if name.startswith("torch.nn.functional.") else "torch"
            call = f"{mod}.{short}(x{', ' + args if args else ''})"
    call = WRAP.get(short, "{call}").format(call=call)
    return f"import torch\nimport torch.nn.functional as F\n\nx = {INPUTS.get(short, X3)}\nout = {call}\n"


def test_every_op_is_a_torch_name():
    import torch.nn.functional as F  # noqa: F401  (reached through getattr below)

    for name in R.OPS:
        obj = torch
        for part in name.split(".")[1:]:
            obj = getattr(obj, part, None)
            assert obj is not None, f"{name} is not a torch name"
        assert callable(obj) and not isinstance(obj, torch.dtype), f"{name} is not a function of torch"


def test_every_op_has_an_example():
    for name in R.OPS:
        assert "x" in example(name)


@pytest.fixture
def reached(monkeypatch):
    calls: list[str] = []
    for name, op in list(R.OPS.items()):
        def wrapped(*a, _op=op, **k):
            calls.append(_op.name)
            return _op.handler(*a, **k)
        monkeypatch.setitem(R.OPS, name, R.Op(op.name, op.binds, wrapped, op.needs_shape))
    return calls


def _engine_shape(code: str):
    src = SourceFile.parse(code, "example.py")
    info = ShapeQuery(FileContext(src, Project(use_jedi=False))).at(4, 0)  # `out` (0-based line 4)
    return info.shape if info is not None else None


@pytest.mark.parametrize("name", sorted(R.OPS))
def test_op_example_matches_torch(name, reached):
    code = example(name)
    shape = _engine_shape(code)
    assert name in reached, f"the interpreter did not reach {name} in:\n{code}"
    short = _short(name)
    if short in NO_SHAPE:
        return
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(textwrap.dedent(code), name, "exec"), ns)
    out = ns["out"]
    if isinstance(out, tuple):  # max/min/median with a dim: (values, indices)
        out = out[0]
    want = tuple(out.shape)
    assert shape is not None and not shape.prefix and tuple(shape.dims) == want, \
        f"{name}: the interpreter gives {shape}, torch {list(want)}, for:\n{code}"
