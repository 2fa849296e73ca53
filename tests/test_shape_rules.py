"""TL201-TL209 and TL301 on whole snippets: positives, negatives, fixes re-checked."""
import pytest

from conftest import codes, fix_and_recheck, run


def only(found, family=("TL2", "TL3")):
    return [c for c in found if c[0].startswith(family)]


# ----------------------------------------------------------------------------- TL201


def test_linear_chain_in_forward():
    snippet = """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(10, 20)
            self.fc2 = nn.Linear(30, 5)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))
    """
    assert only(codes(snippet)) == [("TL201", 5)]
    _, diags = run(snippet)
    d = next(d for d in diags if d.code == "TL201")
    assert "30" in d.message and "20" in d.message
    assert any("fc1" in r.message for r in d.related)
    fixed, after = fix_and_recheck(snippet, "TL201")
    assert "nn.Linear(20, 5)" in fixed and only([(x.code, 0) for x in after]) == []


# Two problems in one model: a run stops at the first (it raises), so the first is
# reported; the second once the first is fixed (each is still found on its own).
def first_then_next(snippet: str, first: list, fix: tuple[str, str], then: list) -> None:
    assert only(codes(snippet)) == first
    assert only(codes(snippet.replace(*fix))) == then


def test_sequential_gap_and_layernorm():
    first_then_next("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))
            self.proj = nn.Linear(64, 128)
            self.norm = nn.LayerNorm(64)

        def forward(self, x, y):
            return self.net(x), self.norm(torch.nn.functional.gelu(self.proj(y)))
    """, [("TL201", 4)], ("nn.Linear(128, 10)", "nn.Linear(256, 10)"), [("TL201", 6)])


def test_symbolic_sizes_bound_at_the_call_site_fix_names_the_parameter():
    snippet = """
    class Encoder(nn.Module):
        def __init__(self, in_dim, hidden_dim, latent_dim):
            super().__init__()
            self.fc1 = nn.Linear(in_dim, hidden_dim)
            self.fc2 = nn.Linear(in_dim, latent_dim)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    enc = Encoder(in_dim=32, hidden_dim=64, latent_dim=8)
    z = enc(torch.randn(4, 32))
    """
    assert only(codes(snippet)) == [("TL201", 5)]
    fixed, after = fix_and_recheck(snippet, "TL201")
    assert "self.fc2 = nn.Linear(hidden_dim, latent_dim)" in fixed
    assert only([(d.code, 0) for d in after]) == []


def test_symbolic_sizes_without_a_call_site_stay_silent():
    assert only(codes("""
    class Encoder(nn.Module):
        def __init__(self, in_dim, hidden_dim, latent_dim):
            super().__init__()
            self.fc1 = nn.Linear(in_dim, hidden_dim)
            self.fc2 = nn.Linear(in_dim, latent_dim)

        def forward(self, x):
            return self.fc2(self.fc1(x))
    """)) == []


def test_symbolic_sizes_that_provably_differ():
    assert only(codes("""
    class Block(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.up = nn.Linear(dim, dim * 2)
            self.down = nn.Linear(dim, dim)

        def forward(self, x):
            return self.down(self.up(x))
    """)) == [("TL201", 5)]


# ----------------------------------------------------------------------------- TL202 / TL203 / TL204


def test_conv_and_norm_channels():
    first_then_next("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(16, 64, 3))
            self.conv = nn.Conv2d(3, 64, 3)
            self.bn = nn.BatchNorm2d(32)

        def forward(self, x, y):
            return self.features(x), self.bn(self.conv(y))
    """, [("TL202", 4)], ("nn.Conv2d(16, 64, 3)", "nn.Conv2d(32, 64, 3)"), [("TL202", 6)])


def test_lenet_flatten_size_from_the_call_site():
    snippet = """
    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 4 * 4, 120)

        def forward(self, x):
            x = self.pool(torch.relu(self.conv1(x)))
            x = self.pool(torch.relu(self.conv2(x)))
            x = torch.flatten(x, 1)
            return self.fc1(x)

    out = LeNet()(torch.randn(1, 3, 32, 32))
    """
    assert only(codes(snippet)) == [("TL203", 7)]
    _, diags = run(snippet)
    d = next(d for d in diags if d.code == "TL203")
    assert "400" in d.message and "16 × 5 × 5" in d.message
    fixed, after = fix_and_recheck(snippet, "TL203")
    assert "nn.Linear(400, 120)" in fixed and only([(x.code, 0) for x in after]) == []


FLATTEN_LAYER = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(4)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(3000, 10)

    def forward(self, x):
        x = self.pool(self.conv(x))
        x = self.flat(x)
        return self.fc(x)


class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 64, 3, padding=1),
            nn.MaxPool2d(4),
            nn.Flatten(),
            nn.Linear(3000, 10),
        )

    def forward(self, x):
        return self.body(x)


def run_net():
    return Net()(torch.randn(2, 1, 28, 28))


def run_seq():
    return Seq()(torch.randn(2, 1, 28, 28))
"""


def test_flatten_layer_gives_the_flattened_size_as_torch_flatten_does():
    """`nn.Flatten()` (a module, alone or in an `nn.Sequential`) before a wrong Linear is
    TL203 with the product, as `torch.flatten(x, 1)` is (it was TL201 with a bare number,
    and its related information named the conv as producing the flattened shape)."""
    torch = pytest.importorskip("torch", reason="torch confirms that both models fail")
    env: dict = {}
    exec("import torch\nimport torch.nn as nn\n" + FLATTEN_LAYER, env)
    for run_it in ("run_net", "run_seq"):
        with pytest.raises(RuntimeError, match=r"2x3136 and 3000x10"):
            with torch.no_grad():
                env[run_it]()
    text, diags = run(FLATTEN_LAYER)
    found = [d for d in diags if d.code.startswith("TL2")]
    assert [d.code for d in found] == ["TL203", "TL203"], [(d.code, d.message) for d in found]
    net, seq = found
    for d, label in ((net, "`self.flat`"), (seq, "`self.body[2]`")):
        assert f"receives 3136 = 64 × 7 × 7 from {label}" in d.message, d.message
        assert d.fixes[0].title == "Set in_features to 3136 (= 64 × 7 × 7)"
        assert any(r.message == f"{label} gives [2, 3136]" for r in d.related), [r.message for r in d.related]
    lines = text.splitlines()
    # the flattening is shown where it happens: the call in forward, or the nn.Flatten() of the Sequential
    assert lines[next(r for r in net.related if "gives" in r.message).range.start.line].strip() == "x = self.flat(x)"
    assert lines[next(r for r in seq.related if "gives" in r.message).range.start.line].strip() == "nn.Flatten(),"
    fixed, after = fix_and_recheck(FLATTEN_LAYER, "TL203")
    assert "self.fc = nn.Linear(3136, 10)" in fixed
    assert [d.code for d in after if d.code.startswith("TL2")] == ["TL203"]  # the Sequential's, still to fix


def test_flatten_layer_with_its_own_dims():
    # nn.Flatten(2, 3) of [2, 64, 7, 7] gives [2, 64, 49]: the Linear reads 49 = 7 × 7
    snippet = FLATTEN_LAYER.replace("self.flat = nn.Flatten()", "self.flat = nn.Flatten(2, 3)")
    torch = pytest.importorskip("torch", reason="torch confirms the model fails")
    env: dict = {}
    exec("import torch\nimport torch.nn as nn\n" + snippet, env)
    with pytest.raises(RuntimeError, match=r"128x49 and 3000x10"), torch.no_grad():
        env["run_net"]()
    _, diags = run(snippet)
    d = next(d for d in diags if d.code.startswith("TL2"))
    assert d.code == "TL203" and "receives 49 = 7 × 7 from `self.flat`" in d.message, d.message


def test_a_reshape_names_the_dims_its_minus_one_takes():
    # Run for real: M()(torch.randn(2, 5, 4, 8)) raises "mat1 and mat2 shapes cannot be
    # multiplied (10x32 and 16x4)": the -1 of reshape(b, n, -1) takes h and d, 4 × 8 (not
    # the 5 × 4 × 8 after the first dim, which is not 32).
    snippet = """
    import torch
    import torch.nn as nn

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.o = nn.Linear(16, 4)

        def forward(self, x):
            b, n, h, d = x.shape
            return self.o(x.reshape(b, n, -1))

    out = M()(torch.randn(2, 5, 4, 8))
    """
    _, diags = run(snippet)
    d = next(d for d in diags if d.code == "TL203")
    assert "32 = 4 × 8" in d.message, d.message
    # A view whose -1 does not follow dims kept as they were names no factors.
    _, diags = run(snippet.replace("x.reshape(b, n, -1)", "x.reshape(b * n, -1)"))
    assert all("×" not in d.message for d in diags if d.code in ("TL201", "TL203")), [d.message for d in diags]


def test_view_flatten_correct_and_unknown_input_are_quiet():
    assert only(codes("""
    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 16, 5)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(16 * 14 * 14, 10)

        def forward(self, x):
            x = self.pool(self.conv(x))
            return self.fc(x.view(x.size(0), -1))

    def train(loader, model):
        for images, labels in loader:
            model(images)

    LeNet()(torch.randn(2, 3, 32, 32))
    """)) == []


def test_call_with_wrong_channels_and_rank():
    snippet = """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 16, 3)

        def forward(self, x):
            return self.conv(x)

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(8, 16, 3)

        def forward(self, x):
            return self.conv(x)

    a = Net()(torch.randn(1, 1, 28, 28))
    b = Enc()(torch.randn(4, 8, 32, 32))
    """
    first_then_next(snippet, [("TL204", 17)], ("torch.randn(1, 1, 28, 28)", "torch.randn(1, 3, 28, 28)"), [("TL204", 18)])


# ----------------------------------------------------------------------------- ops


@pytest.mark.parametrize(
    "body, code",
    [
        ("q = torch.randn(2, 8, 16)\nk = torch.randn(2, 8, 16)\ns = torch.bmm(q, k)\n", "TL205"),
        ("x = torch.randn(4, 32)\nw = torch.randn(16, 32)\ny = x @ w\n", "TL205"),
        ("a = torch.randn(16, 10)\nt = torch.rand(16)\ny = a / t\n", "TL206"),
        ("x = torch.randn(4, 3, 16, 16)\ny = x.view(4, 3, 128)\n", "TL207"),
        ("x = torch.randn(4, 3, 16, 16)\ny = x.reshape(-1, -1, 64)\n", "TL207"),
        ("a = torch.randn(8, 256)\nb = torch.randn(8, 512)\nc = torch.stack([a, b])\n", "TL208"),
        ("a = torch.randn(8, 32)\nb = torch.randn(8, 48)\nc = torch.cat([a, b], dim=0)\n", "TL208"),
    ],
)
def test_op_errors(body, code):
    found = only(codes(body))
    assert found == [(code, body.count("\n"))]


@pytest.mark.parametrize(
    "body",
    [
        "x = torch.randn(8, 3, 4, 4)\ny = x * torch.randn(3, 1, 1)\n",
        "x = torch.randn(8, 1, 5)\ny = x + torch.randn(3, 1)\n",
        "a = torch.randn(5, 2, 3, 4)\nb = torch.randn(2, 4, 6)\nc = a @ b\n",
        "x = torch.randn(4, 3, 16, 16)\ny = x.view(4, 3, 256)\nz = x.reshape(4, -1)\n",
        "a = torch.randn(8, 32)\nb = torch.randn(8, 48)\nc = torch.cat([a, b], dim=1)\n",
        "def f(a, b):\n    return a @ b\n",
    ],
)
def test_valid_ops_are_quiet(body):
    assert only(codes(body)) == []


# ----------------------------------------------------------------------------- TL209


def test_invalid_configs():
    first_then_next("""
    class M(nn.Module):
        def __init__(self, dim=100, heads=8):
            super().__init__()
            self.attn = nn.MultiheadAttention(dim, heads)
            self.conv = nn.Conv2d(30, 64, 3, groups=4)
    """, [("TL209", 4)], ("dim=100", "dim=96"), [("TL209", 5)])


def test_config_from_defaults_is_not_used_when_the_class_is_constructed():
    assert only(codes("""
    class M(nn.Module):
        def __init__(self, dim=100, heads=8):
            super().__init__()
            self.attn = nn.MultiheadAttention(dim, heads)

    m = M(dim=96)
    """)) == []


def test_input_too_small():
    assert only(codes("""
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 5)
            self.conv2 = nn.Conv2d(16, 32, 5)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            x = self.pool(self.conv1(x))
            return self.pool(self.conv2(x))

    Tiny()(torch.randn(2, 1, 12, 12))
    """)) == [("TL209", 5)]


# ----------------------------------------------------------------------------- TL301


def test_non_scalar_backward_and_fixes():
    snippet = """
    pred = torch.randn(64, 1, requires_grad=True)
    target = torch.randn(64, 1)
    loss = nn.MSELoss(reduction="none")(pred, target)
    loss.backward()
    """
    assert only(codes(snippet)) == [("TL301", 4)]
    for i, expected in enumerate(["loss.mean().backward()", "loss.sum().backward()", "loss.backward(gradient=torch.ones_like(loss))"]):
        fixed, after = fix_and_recheck(snippet, "TL301", i)
        assert expected in fixed and only([(d.code, 0) for d in after]) == []


def test_scalar_backward_is_quiet():
    assert only(codes("""
    x = torch.randn(2, requires_grad=True)
    (x * x).sum().backward()
    loss = nn.MSELoss()(x, torch.randn(2))
    loss.backward()
    y = x * 2
    y.backward(gradient=torch.ones_like(y))
    y.backward(torch.ones(2))
    """)) == []


def test_fix_does_not_name_a_parameter_that_init_rebinds():
    snippet = """
    class Encoder(nn.Module):
        def __init__(self, in_dim, hidden_dim):
            super().__init__()
            self.fc1 = nn.Linear(in_dim, hidden_dim)
            hidden_dim = hidden_dim * 2
            self.fc2 = nn.Linear(hidden_dim, 3)

        def forward(self, x):
            return self.fc2(self.fc1(x))

    enc = Encoder(in_dim=32, hidden_dim=64)
    z = enc(torch.randn(4, 32))
    """
    assert only(codes(snippet)) == [("TL201", 6)]
    fixed, after = fix_and_recheck(snippet, "TL201")
    assert "self.fc2 = nn.Linear(64, 3)" in fixed
    assert only([(d.code, 0) for d in after]) == []


def test_unflatten_sizes_that_do_not_multiply_to_the_dimension():
    assert only(codes("""
    net = nn.Sequential(nn.Linear(10, 24), nn.Unflatten(1, (5, 5)))
    out = net(torch.randn(2, 10))
    ok = nn.Sequential(nn.Linear(10, 24), nn.Unflatten(1, (4, -1)))(torch.randn(2, 10))
    """)) == [("TL207", 1)]


def test_layernorm_written_as_a_list_is_checked_and_fixed_as_a_list():
    snippet = """
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(32, 64)
            self.norm = nn.LayerNorm([32])

        def forward(self, x):
            return self.norm(self.proj(x))

    Block()(torch.randn(2, 5, 32))
    """
    assert only(codes(snippet)) == [("TL201", 5)]
    fixed, after = fix_and_recheck(snippet, "TL201")
    assert "nn.LayerNorm([64])" in fixed or "nn.LayerNorm((64,))" in fixed
    assert only([(d.code, 0) for d in after]) == []


# Sizes read from a configuration object (transformers' `config.hidden_size`): each
# attribute of a constructor parameter is a size symbol of its own, shared by every
# block built with the same object. Run for real with a SimpleNamespace config:
# CONFIG_CHAIN raises "mat1 and mat2 shapes cannot be multiplied (2x13 and 12x8)";
# the quiet ones run (intermediate_size=None falls back; a rebound attribute).
CONFIG_CHAIN = """
class Inter(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size + 1)

    def forward(self, h):
        return torch.relu(self.dense(h))


class Out(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, h, inp):
        return self.dense(h) + inp


class Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.intermediate = Inter(config)
        self.output = Out(config)

    def forward(self, x):
        return self.output(self.intermediate(x), x)
"""

CONFIG_QUIET = """
class Fallback(nn.Module):
    def __init__(self, config):
        super().__init__()
        inter = config.intermediate_size or 4 * config.hidden_size
        self.fc1 = nn.Linear(config.hidden_size, inter)
        self.fc2 = nn.Linear(4 * config.hidden_size, config.hidden_size)

    def forward(self, x):
        return self.fc2(self.fc1(x))


class Rebound(nn.Module):
    def __init__(self, config):
        super().__init__()
        config.hidden_size = config.hidden_size * 2
        self.fc1 = nn.Linear(16, config.hidden_size)
        self.fc2 = nn.Linear(config.hidden_size, 16)

    def forward(self, x):
        return self.fc2(self.fc1(x))


class Nested(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.text = nn.Linear(config.text_config.hidden_size, config.projection_dim)
        self.vision = nn.Linear(config.vision_config.hidden_size, config.projection_dim)

    def forward(self, t, v):
        return self.text(t) @ self.vision(v).t()
"""


def test_sizes_from_a_config_object_are_symbols_shared_by_the_blocks():
    got = codes(CONFIG_CHAIN)
    line = CONFIG_CHAIN.lstrip("\n").splitlines().index("        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)") + 1
    assert got == [("TL201", line)]
    assert codes(CONFIG_QUIET) == []


# The output of something the engine does not follow (a module built by a factory of
# another package, a helper it cannot see) is, if the next layer runs, a tensor: the
# layer after it is checked with what the layer before it returns. Run for real with
# `make = lambda cfg: nn.Identity()`, `some_fn = torch.relu`, c = 4: both raise
# "mat1 and mat2 shapes cannot be multiplied".
AFTER_AN_UNKNOWN_CALL = """
from somewhere import make, some_fn


class Net(nn.Module):
    def __init__(self, cfg, c):
        super().__init__()
        self.features = make(cfg)
        self.fc1 = nn.Linear(576, c)
        self.fc2 = nn.Linear(c * 2, 10)

    def forward(self, x):
        x = self.features(x)
        x = self.fc1(x)
        return self.fc2(x)


class Helper(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(c, c + 1)
        self.fc2 = nn.Linear(c, 10)

    def forward(self, x):
        x = some_fn(x)
        x = self.fc1(x)
        return self.fc2(x)
"""


def test_the_layers_after_an_unknown_call_are_checked():
    lines = AFTER_AN_UNKNOWN_CALL.lstrip("\n").splitlines()
    got = codes(AFTER_AN_UNKNOWN_CALL)
    assert got == [("TL201", lines.index("        self.fc2 = nn.Linear(c * 2, 10)") + 1),
                   ("TL201", lines.index("        self.fc2 = nn.Linear(c, 10)") + 1)]
    # the right chain after an unknown call stays quiet
    assert codes(AFTER_AN_UNKNOWN_CALL.replace("nn.Linear(c * 2, 10)", "nn.Linear(c, 10)")
                 .replace("nn.Linear(c, c + 1)", "nn.Linear(c, c)")) == []


# Run for real (e = 8): HALF raises "mat1 and mat2 shapes cannot be multiplied (2x4 and
# 8x10)"; ORDERED raises "(2x16 and 32x4)"; HALF_QUIET runs for every e.
HALF = """
class Half(nn.Module):
    def __init__(self, e):
        super().__init__()
        self.fc1 = nn.Linear(e, e // 2)
        self.fc2 = nn.Linear(e, 10)

    def forward(self, x):
        return self.fc2(self.fc1(x))
"""

HALF_QUIET = """
class Half(nn.Module):
    def __init__(self, e):
        super().__init__()
        self.fc1 = nn.Linear(e, (e + 1) // 2)
        self.fc2 = nn.Linear(e // 2 + e % 2, 10)

    def forward(self, x):
        return self.fc2(self.fc1(x))
"""

ORDERED = """
from collections import OrderedDict


class Ordered(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(OrderedDict([("fc1", nn.Linear(8, 16)), ("fc2", nn.Linear(32, 4))]))

    def forward(self, x):
        return self.body(x)
"""


def test_a_floor_division_of_a_size_is_below_it():
    assert [c for c, _ in codes(HALF)] == ["TL201"]
    assert codes(HALF_QUIET) == []


def test_a_sequential_of_an_ordered_dict_is_followed():
    assert [c for c, _ in codes(ORDERED)] == ["TL201"]


# A ModuleList filled in exclusive branches (transformers' Sam3 FPN layer): the appends
# of one branch must not add up with the other's. Runs for real with scale_factor 4.0,
# 2.0 and 1.0 (and in_channels 16); a floor division made its sizes provably different,
# which showed the appends adding up.
BRANCH_APPENDS = """
class Scale(nn.Module):
    def __init__(self, in_channels, fpn_dim, scale_factor):
        super().__init__()
        self.scale_layers = nn.ModuleList()
        if scale_factor == 4.0:
            self.scale_layers.append(nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2))
            self.scale_layers.append(nn.GELU())
            self.scale_layers.append(nn.ConvTranspose2d(in_channels // 2, in_channels // 4, kernel_size=2, stride=2))
            intermediate_channels = in_channels // 4
        elif scale_factor == 2.0:
            self.scale_layers.append(nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2))
            intermediate_channels = in_channels // 2
        else:
            intermediate_channels = in_channels
        self.proj1 = nn.Conv2d(intermediate_channels, fpn_dim, kernel_size=1)

    def forward(self, hidden_states):
        for layer in self.scale_layers:
            hidden_states = layer(hidden_states)
        return self.proj1(hidden_states)
"""


def test_a_module_list_filled_in_exclusive_branches_is_quiet():
    assert codes(BRANCH_APPENDS) == []


# A layer class handed over through functools.partial (timm's `norm_layer=partial(
# nn.BatchNorm2d, eps=1e-3)`). Run for real (c = 4): "running_mean should contain 8
# elements not 4".
PARTIAL_NORM = """
from functools import partial


class Block(nn.Module):
    def __init__(self, c, norm_layer=partial(nn.BatchNorm2d, eps=1e-3)):
        super().__init__()
        self.conv = nn.Conv2d(c, c * 2, 3, padding=1)
        self.norm = norm_layer(c)

    def forward(self, x):
        return self.norm(self.conv(x))
"""


def test_a_layer_class_given_through_partial_is_built():
    assert [c for c, _ in codes(PARTIAL_NORM)] == ["TL202"]
    assert codes(PARTIAL_NORM.replace("nn.Conv2d(c, c * 2,", "nn.Conv2d(c, c,")) == []


# Tensor.unflatten (ops.unflatten was modelled and tested, never called). Run for real:
# UNFLATTEN_BAD raises "unflatten: Provided sizes [5, 4] don't multiply up to the size of
# dim 1 (12)"; the right one runs and feeds the Linear 4 features.
UNFLATTEN = """
class Unflat(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = x.unflatten(-1, (3, 4))
        return self.fc(x)


if __name__ == "__main__":
    Unflat()(torch.randn(2, 12))
"""


def test_unflatten_is_checked():
    assert codes(UNFLATTEN) == []
    assert [c for c, _ in codes(UNFLATTEN.replace("(3, 4)", "(5, 4)"))] == ["TL207"]
    assert [c for c, _ in codes(UNFLATTEN.replace("nn.Linear(4, 2)", "nn.Linear(12, 2)"))] == ["TL201"]


# A method handed to a function the engine does not know (transformers'
# `apply_chunking_to_forward(self.ff, chunk, dim, x)`, a hook) is checked with unknown
# arguments: the chain inside it needs no input shape. Run for real with
# `apply_chunking_to_forward` = `lambda fn, c, d, *xs: fn(*xs)`: the bad one raises
# "mat1 and mat2 shapes cannot be multiplied (2x9 and 8x4)".
CALLBACK = """
from somewhere import apply_chunking_to_forward


class FF(nn.Module):
    def __init__(self, d, inner):
        super().__init__()
        self.up = nn.Linear(d, inner + 1)
        self.down = nn.Linear(inner, d)

    def forward(self, x):
        return apply_chunking_to_forward(self.chunk, 4, 1, x)

    def chunk(self, x):
        return self.down(torch.relu(self.up(x)))
"""


def test_a_method_passed_to_an_unknown_function_is_checked():
    assert [c for c, _ in codes(CALLBACK)] == ["TL201"]
    assert codes(CALLBACK.replace("inner + 1)", "inner)")) == []


def test_checkpoint_calls_its_function_with_the_arguments():
    snippet = """
    from torch.utils.checkpoint import checkpoint


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)
            self.head = nn.Linear(5, 2)

        def forward(self, x):
            return self.head(checkpoint(self.fc, x, use_reentrant=False))
    """
    assert [c for c, _ in codes(snippet)] == ["TL201"]
    assert codes(snippet.replace("nn.Linear(5, 2)", "nn.Linear(4, 2)")) == []


# `ACT2FN[config.hidden_act]` (transformers) is an activation: it keeps the shape, so the
# next layer is checked against the one before it. Every activation of transformers 5.23's
# table keeps the shape of its input (checked in the mutation venv).
ACT2FN_MLP = """
from transformers.activations import ACT2FN


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size * 2)
        self.act = ACT2FN[config.hidden_act]
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
"""


def test_an_activation_looked_up_by_name_keeps_the_shape():
    found = [c for c, _ in codes(ACT2FN_MLP)]
    assert found == ["TL201"]
    assert codes(ACT2FN_MLP.replace("config.intermediate_size * 2)", "config.intermediate_size)")) == []


# A tensor of unknown shape that a layer accepts has the shape that layer takes, for what
# follows and in the caller too (the same tensor): `x` reaches `self.attn.q` as
# `[*, hidden]`, so `torch.cat([x, h], -1)` is `[*, 2 * hidden]`, not the 3 * hidden `fc`
# takes. Run for real with hidden=8: "mat1 and mat2 shapes cannot be multiplied (2x16 and 24x8)".
PINNED = """
class Attn(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.q = nn.Linear(hidden, hidden)

    def forward(self, h):
        return self.q(h)


class Block(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.attn = Attn(hidden)
        self.fc = nn.Linear(hidden * 3, hidden)

    def forward(self, x, flag: bool):
        h = self.attn(x)
        z = torch.cat([x, h], -1)
        return self.fc(z)
"""


def test_a_layer_pins_the_shape_of_an_unknown_input():
    assert [c for c, _ in codes(PINNED)] == ["TL201"]
    assert codes(PINNED.replace("hidden * 3", "hidden * 2")) == []


def test_a_pin_holds_on_its_own_path_only():
    # `x` is pinned to [*, hidden] in one branch only; on the other it is unknown, so
    # after the join nothing is known of `z` (with flag=False, an `x` of 1.5 * hidden
    # features makes `z` 3 * hidden wide: it runs)
    snippet = PINNED.replace("""        h = self.attn(x)
        z = torch.cat([x, h], -1)""", """        if flag:
            h = self.attn(x)
        else:
            h = x
        z = torch.cat([x, h], -1)""")
    assert codes(snippet) == []


def test_two_layers_reading_one_tensor_disagree():
    snippet = """
    class Attn(nn.Module):
        def __init__(self, hidden):
            super().__init__()
            self.q = nn.Linear(hidden + 1, hidden)
            self.k = nn.Linear(hidden, hidden)

        def forward(self, h):
            return self.q(h) + self.k(h)
    """
    _, diags = run(snippet)
    d = next(d for d in diags if d.code == "TL201")
    assert "self.q" in d.message and "one of them is wrong" in d.message
    assert not d.fixes  # which one to change is not known
    assert codes(snippet.replace("hidden + 1", "hidden")) == []


# `super()` in a Module class: the base's method runs with the same instance, and a class
# that extends a torch layer is that layer (transformers' ConvNextLayerNorm). Run for
# real: Child(4) on [2, 4] raises "mat1 and mat2 shapes cannot be multiplied (2x8 and
# 4x3)"; Emb(8) on [2, 3, 16, 16] raises "Given normalized_shape=[8], expected input with
# shape [*, 8], but got input of size[2, 4, 4, 16]".
SUPER_CALLS = """
class ChanNorm(nn.LayerNorm):
    def __init__(self, normalized_shape, *, eps=1e-6, data_format="channels_last", **kwargs):
        super().__init__(normalized_shape, eps=eps, **kwargs)
        self.data_format = data_format

    def forward(self, features):
        if self.data_format == "channels_first":
            features = features.permute(0, 2, 3, 1)
            features = super().forward(features)
            features = features.permute(0, 3, 1, 2)
        else:
            features = super().forward(features)
        return features


class Base(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d * 2)

    def forward(self, x):
        return self.fc(x)


class Child(Base):
    def __init__(self, d):
        super().__init__(d)
        self.out = nn.Linear(d * 2, 3)

    def forward(self, x):
        return self.out(super().forward(x))


class Emb(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(3, c, 4, 4)
        self.norm = ChanNorm(c, data_format="channels_first")

    def forward(self, x):
        return self.norm(self.conv(x))
"""


def test_super_runs_the_base_method_and_the_torch_layer():
    assert codes(SUPER_CALLS) == []
    child = SUPER_CALLS.replace("nn.Linear(d * 2, 3)", "nn.Linear(d, 3)")
    assert [c for c, _ in codes(child)] == ["TL201"]
    emb = SUPER_CALLS.replace("nn.Conv2d(3, c, 4, 4)", "nn.Conv2d(3, c * 2, 4, 4)")
    _, diags = run(emb)
    assert [d.code for d in diags] == ["TL201"] and "`self.norm` (LayerNorm)" in diags[0].message
    # channels_last: the LayerNorm reads the last dimension, the width (unknown): quiet
    assert codes(emb.replace('data_format="channels_first"', 'data_format="channels_last"')) == []


def test_a_subclass_of_a_torch_layer_without_methods_is_the_layer():
    snippet = """
    class Dense(nn.Linear):
        pass


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = Dense(8, 16)
            self.b = nn.Linear(12, 2)

        def forward(self, x):
            return self.b(self.a(x))
    """
    assert [c for c, _ in codes(snippet)] == ["TL201"]
    assert codes(snippet.replace("nn.Linear(12, 2)", "nn.Linear(16, 2)")) == []


def test_an_item_of_a_config_list_is_one_size():
    # `config.hidden_sizes[0]` read twice is the same size (as `config.hidden_size` is)
    snippet = """
    class Stem(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.conv = nn.Conv2d(3, config.hidden_sizes[0] * 2, 4, 4)
            self.norm = nn.BatchNorm2d(config.hidden_sizes[0])

        def forward(self, x):
            return self.norm(self.conv(x))
    """
    assert [c for c, _ in codes(snippet)] == ["TL202"]
    assert codes(snippet.replace("config.hidden_sizes[0] * 2", "config.hidden_sizes[0]")) == []
    assert codes(snippet.replace("config.hidden_sizes[0] * 2", "config.hidden_sizes[1]")) == []


# A submodule chosen by a condition the engine cannot decide is each of its choices: the
# call gives the join of their outputs. Run for real: Block(8, True) and Block(8, False) on
# [2, 8] both raise "mat1 and mat2 shapes cannot be multiplied (2x16 and 8x8)".
UNION = """
class Block(nn.Module):
    def __init__(self, dim, use_norm):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim * 2)
        self.norm = nn.LayerNorm(dim * 2) if use_norm else nn.Identity()
        self.fc2 = nn.Linear(dim, dim)

    def forward(self, x):
        x = self.norm(self.fc1(x))
        return self.fc2(x)
"""


def test_a_module_chosen_by_a_condition_is_each_choice():
    assert [c for c, _ in codes(UNION)] == ["TL201"]
    assert codes(UNION.replace("nn.Linear(dim, dim)", "nn.Linear(dim * 2, dim)")) == []


def test_a_choice_that_fails_is_not_reported():
    # with use_norm=False the model runs; only the LayerNorm choice fails (a configuration
    # that may never be used): the union's paths are not certain
    snippet = UNION.replace("nn.LayerNorm(dim * 2)", "nn.LayerNorm(dim * 3)").replace(
        "nn.Linear(dim, dim)", "nn.Linear(dim * 2, dim)")
    assert codes(snippet) == []


# A parameter left to its default of None, in a class analysed on its own with its
# defaults, is None to `is None` and truth tests (torchvision's `norm_layer=None` then
# `norm_layer = nn.BatchNorm2d`), and a size symbol elsewhere (no error from None as a
# size). Run for real: Block(8, 16) on [2, 8, 4, 4] raises "Given groups=1, weight of
# size [16, 17, 3, 3], expected input[2, 16, 4, 4] to have 17 channels, but got 16".
NOT_GIVEN = """
class Block(nn.Module):
    def __init__(self, inplanes, planes, norm_layer=None, hidden=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        hidden = hidden or planes
        self.conv1 = nn.Conv2d(inplanes, hidden, 3, padding=1)
        self.bn1 = norm_layer(hidden)
        self.conv2 = nn.Conv2d(planes + 1, planes, 3, padding=1)

    def forward(self, x):
        return self.conv2(self.bn1(self.conv1(x)))
"""


def test_a_none_default_is_none_to_tests_and_a_size_elsewhere():
    assert [c for c, _ in codes(NOT_GIVEN)] == ["TL202"]
    assert codes(NOT_GIVEN.replace("planes + 1, planes", "planes, planes")) == []
    # used as a size, the None default is a symbol: no TL209 for nn.Linear(None, ...)
    assert codes("""
    class Head(nn.Module):
        def __init__(self, num_features=None):
            super().__init__()
            self.fc = nn.Linear(num_features, 10)
    """) == []


# A module function that needs no argument and returns a model of the file (a builder)
# runs that model on unknown inputs: the blocks are checked with the values the builder
# gives them (here `block.expansion`, a class attribute, and the norm layer the model
# hands down). Run for real: build()(torch.randn(2, 3, 8, 8)) raises "mat1 and mat2
# shapes cannot be multiplied (2x8 and 16x5)".
BUILDER = """
class Block(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self.conv1 = nn.Conv2d(inplanes, planes, 3, padding=1)
        self.bn1 = norm_layer(planes)

    def forward(self, x):
        return self.bn1(self.conv1(x))


class Net(nn.Module):
    def __init__(self, block, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.layer = nn.Sequential(block(3, 8, self._norm_layer))
        self.fc = nn.Linear(8 * block.expansion * 2, 5)

    def forward(self, x):
        x = self.layer(x)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def build():
    return Net(Block)
"""


def test_a_builder_runs_the_model_it_returns():
    assert [c for c, _ in codes(BUILDER)] == ["TL203"]
    assert codes(BUILDER.replace("8 * block.expansion * 2", "8 * block.expansion")) == []
    # a function that needs an argument is not a builder: Net(block) alone knows nothing
    assert codes(BUILDER.replace("def build():", "def build(block=None):")) != []
    assert codes(BUILDER.replace("def build():\n    return Net(Block)", "def build(block):\n    return Net(block)")) == []


def test_add_module_extends_a_sequential():
    # torchvision's DenseNet: `self.features.add_module("denseblock1", block)` (torch puts
    # the module at the end). Run for real: Net()(torch.randn(2, 3, 8, 8)) works.
    snippet = """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 8, 3))
            self.features.add_module("more", nn.Conv2d(8, 16, 3))
            self.features.add_module("norm", nn.BatchNorm2d(16))
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            x = self.features(x)
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
    """
    assert codes(snippet) == []
    assert [c for c, _ in codes(snippet.replace("nn.Linear(16, 5)", "nn.Linear(8, 5)"))] == ["TL203"]


def test_a_list_built_with_helpers_that_return_keeps_its_items():
    # torchvision's _make_layer: `layers.append(block(...))` where building `block` calls a
    # helper with a `return` (conv3x3): the helper's return ends its own path, not the
    # builder's; the Sequential of the list is known. Run for real: build()(torch.randn(2, 4))
    # raises "mat1 and mat2 shapes cannot be multiplied (2x8 and 9x2)".
    snippet = """
    def dense(a, b):
        return nn.Linear(a, b)


    class Block(nn.Module):
        def __init__(self, a, b):
            super().__init__()
            self.fc = dense(a, b)

        def forward(self, x):
            return self.fc(x)


    class Net(nn.Module):
        def __init__(self, n):
            super().__init__()
            layers = []
            layers.append(Block(4, 8))
            for _ in range(1, n):
                layers.append(Block(8, 8))
            self.body = nn.Sequential(*layers)
            self.head = nn.Linear(9, 2)

        def forward(self, x):
            return self.head(self.body(x))


    def build():
        return Net(2)
    """
    assert [c for c, _ in codes(snippet)] == ["TL201"]
    assert codes(snippet.replace("nn.Linear(9, 2)", "nn.Linear(8, 2)")) == []


# timm passes device and dtype as `**dd` with `dd = {"device": device, "dtype": dtype}`
# built just above: a dict whose keys are known passes only those keywords, so the
# layer's sizes stay known. Run for real: Net()(torch.randn(1, 3, 16, 16)) raises
# "running_mean should contain 16 elements not 8".
SPLAT = """
class Net(nn.Module):
    def __init__(self, device=None, dtype=None):
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.conv = nn.Conv2d(3, 16, 7, **dd)
        self.bn = nn.BatchNorm2d(8, **dd)

    def forward(self, x):
        return self.bn(self.conv(x))
"""


def test_a_splat_of_a_known_dict_keeps_the_sizes():
    assert [c for c, _ in codes(SPLAT)] == ["TL202"]
    assert codes(SPLAT.replace("BatchNorm2d(8,", "BatchNorm2d(16,")) == []
    # changed in place before the call: its keys are not known any more
    assert codes(SPLAT.replace("        self.conv =", "        dd.update(extra())\n        self.conv =")) == []
    # a key that is a size overrides it: not known
    assert codes(SPLAT.replace('dd = {"device": device, "dtype": dtype}', 'dd = {"num_features": n()}')) == []


def test_timm_activation_classes_keep_the_shape():
    snippet = """
    from timm.layers import get_act_layer


    class Block(nn.Module):
        def __init__(self, act_layer="relu"):
            super().__init__()
            act_layer = get_act_layer(act_layer)
            self.fc1 = nn.Linear(8, 16)
            self.act = act_layer(inplace=True)
            self.fc2 = nn.Linear(8, 4)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))
    """
    assert [c for c, _ in codes(snippet)] == ["TL201"]
    assert codes(snippet.replace("nn.Linear(8, 4)", "nn.Linear(16, 4)")) == []


def test_an_ordered_dict_filled_by_key_builds_a_sequential():
    # torchvision's ViT encoder: layers = OrderedDict(); layers[f"encoder_layer_{i}"] = ...;
    # nn.Sequential(layers). Run for real: Net()(torch.randn(2, 8)) raises "mat1 and mat2
    # shapes cannot be multiplied (2x8 and 9x2)".
    snippet = """
    from collections import OrderedDict


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layers = OrderedDict()
            for i in range(2):
                layers[f"layer_{i}"] = nn.Linear(8, 8)
            self.layers = nn.Sequential(layers)
            self.head = nn.Linear(9, 2)

        def forward(self, x):
            return self.head(self.layers(x))
    """
    assert [c for c, _ in codes(snippet)] == ["TL201"]
    assert codes(snippet.replace("nn.Linear(9, 2)", "nn.Linear(8, 2)")) == []


def test_a_size_scaled_by_a_whole_float_is_a_size():
    # timm: hidden = int(dim * mlp_ratio) with mlp_ratio=4.0. Run for real: Block(8) on
    # [2, 8] raises "mat1 and mat2 shapes cannot be multiplied (2x32 and 33x8)".
    snippet = """
    class Block(nn.Module):
        def __init__(self, dim, mlp_ratio=4.0):
            super().__init__()
            hidden = int(dim * mlp_ratio)
            self.fc1 = nn.Linear(dim, hidden)
            self.fc2 = nn.Linear(hidden + 1, dim)

        def forward(self, x):
            return self.fc2(self.fc1(x))
    """
    assert [c for c, _ in codes(snippet)] == ["TL201"]
    assert codes(snippet.replace("hidden + 1", "hidden")) == []
    # a ratio that is not whole: int(dim * 2.5) is no polynomial of dim, so unknown
    assert codes(snippet.replace("mlp_ratio=4.0", "mlp_ratio=2.5")) == []


# `self.register_buffer("mask", torch.ones(n, 1))` stores the buffer (it was dropped: an
# nn.Module method called on self resolved to nothing). Run for real: M(4)(torch.randn(8,
# 16)) raises "The size of tensor a (8) must match the size of tensor b (4) at
# non-singleton dimension 0".
BUFFER = """
class M(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("mask", torch.ones(n, 1))

    def forward(self, x):
        return x * self.mask


model = M(4)
out = model(torch.randn(8, 16))
"""


def test_a_registered_buffer_meets_a_batch_of_another_size():
    assert [c for c, _ in codes(BUFFER)] == ["TL206"]
    assert codes(BUFFER.replace("torch.randn(8, 16)", "torch.randn(4, 16)")) == []


def test_a_view_to_a_shape_not_known_is_of_unknown_rank():
    # `x.view(shape)` with `shape` unknown may have any rank: it is not a 1-D view (the
    # registry once read the lone unknown as one size and reported a false TL203 here)
    snippet = """
    from somewhere import make_shape


    class Attn(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.q = nn.Linear(d, d)
            self.o = nn.Linear(d * 4, d)

        def forward(self, x):
            q = self.q(x).view(make_shape(x))
            return self.o(q)


    model = Attn(8)
    out = model(torch.randn(2, 16, 8))
    """
    assert codes(snippet) == []


def test_a_union_choice_does_not_pin_the_input_for_the_others():
    # `proj` is Linear(10, d) or Linear(20, d): what one choice takes says nothing of `x`
    # on the other path. Run for real: Net(4, False)(torch.randn(2, 20)) works.
    snippet = """
    class Net(nn.Module):
        def __init__(self, d, wide):
            super().__init__()
            self.proj = nn.Linear(10, d) if wide else nn.Linear(20, d)
            self.skip = nn.Linear(20, d)

        def forward(self, x):
            h = self.proj(x)
            return h + self.skip(x)
    """
    assert codes(snippet) == []
    # the same with the choice written in forward (the arms of `a if c else b`)
    assert codes(snippet.replace("h = self.proj(x)", "h = self.a(x) if self.wide else self.skip(x)").replace(
        "self.proj = nn.Linear(10, d) if wide else nn.Linear(20, d)",
        "self.a = nn.Linear(10, d)\n            self.wide = wide")) == []


SEQUENTIAL_SUBCLASS = """
class ConvBN(nn.Sequential):
    def __init__(self, cin, cout):
        layers = [nn.Conv2d(cin, cout, 3), nn.BatchNorm2d(cout)]
        super().__init__(*layers)
        self.out_channels = cout


class Transition(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(cin, cout, kernel_size=1, bias=False)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = ConvBN(3, 8)
        self.b = Transition(8, 8)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        x = self.b(self.a(x))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)
"""


def test_a_sequential_subclass_runs_its_items_in_order():
    # torchvision's Conv2dNormActivation (`super().__init__(*layers)`) and DenseNet's
    # _Transition (modules assigned after `super().__init__()`): no forward of their own,
    # nn.Sequential's runs what was given, then what was assigned. Run for real:
    # Net()(torch.randn(2, 3, 16, 16)) raises "mat1 and mat2 shapes cannot be multiplied
    # (2x8 and 16x4)"; with nn.Linear(8, 4) it runs.
    assert [c for c, _ in codes(SEQUENTIAL_SUBCLASS)] == ["TL203"]
    assert codes(SEQUENTIAL_SUBCLASS.replace("nn.Linear(16, 4)", "nn.Linear(8, 4)")) == []
    # Run for real: a module assigned after `super().__init__(*layers)` runs after them:
    # Conv2d(16, 4, 1) then gets the 8 channels of the BatchNorm2d and raises "expected
    # input[2, 8, 14, 14] to have 16 channels, but got 8 channels instead".
    after = SEQUENTIAL_SUBCLASS.replace("        self.out_channels = cout\n",
                                        "        self.extra = nn.Conv2d(16, 4, 1)\n")
    assert "TL202" in [c for c, _ in codes(after)]
    # layers not known here (`make` is not defined in this file): nothing is known after
    unknown = SEQUENTIAL_SUBCLASS.replace("        super().__init__()\n        self.norm",
                                          "        super().__init__(*make(cin))\n        self.norm")
    assert unknown != SEQUENTIAL_SUBCLASS and codes(unknown) == []


STAGES = """
class Block(nn.Module):
    def __init__(self, inp, oup):
        super().__init__()
        self.conv = self.depthwise(inp, oup, 3)
        self.bn = nn.BatchNorm2d(oup)

    @staticmethod
    def depthwise(i, o, k):
        return nn.Conv2d(i, o, k, padding=1)

    def forward(self, x):
        return self.bn(self.conv(x))


class Net(nn.Module):
    def __init__(self, widths=(8, 16, 32)):
        super().__init__()
        self.stem = nn.Conv2d(3, widths[0], 3)
        names = [f"stage{i}" for i in (2, 3)]
        for name, cin, cout in zip(names, widths[:-1], widths[1:]):
            setattr(self, name, nn.Sequential(Block(cin, cout), Block(cout, cout)))
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.stage3(self.stage2(self.stem(x)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
"""


def test_stages_set_with_setattr_and_a_static_method_called_on_self():
    # torchvision's ShuffleNetV2: stages named in a loop and set with setattr; its blocks
    # build convolutions with a static method called on self. Run for real:
    # Net()(torch.randn(2, 3, 16, 16)) raises "mat1 and mat2 shapes cannot be multiplied
    # (2x32 and 16x5)"; with nn.Linear(32, 5) it runs.
    assert [c for c, _ in codes(STAGES)] == ["TL203"]
    assert codes(STAGES.replace("nn.Linear(16, 5)", "nn.Linear(32, 5)")) == []
    # an attribute set under a name not known may be any attribute: nothing is known
    assert codes(STAGES.replace("setattr(self, name,", "setattr(self, name.upper(),")) == []


SIZES_REUSED = """
class Attn(nn.Module):
    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.head_dim = dim // heads
        self.q = nn.Linear(dim, dim)

    def forward(self, x):
        x = self.q(x.reshape(-1, 7, 32))
        input_shape = x.shape[:-1]
        return x.view(*input_shape, -1, self.head_dim + 1)
"""


def test_sizes_read_from_a_shape_are_the_same_when_reused():
    # transformers' `hidden_states.view(*hidden_states.shape[:-1], -1, head_dim)`: the
    # batch size is not known, but it is the same on both sides, so -1 must be 32 / 9.
    # Run for real: Attn()(torch.randn(2, 7, 32)) raises "shape '[2, 7, -1, 9]' is
    # invalid for input of size 448"; with head_dim it runs.
    assert [c for c, _ in codes(SIZES_REUSED)] == ["TL207"]
    assert codes(SIZES_REUSED.replace("self.head_dim + 1", "self.head_dim")) == []


SUBCLASSED_LAYERS = """
import torch.nn.functional as F


class Linear(nn.Linear):
    def forward(self, x):
        return F.linear(x, self.weight.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))


class LayerNorm(nn.LayerNorm):
    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = LayerNorm(32)
        self.a = Linear(32, 64)
        self.b = Linear(32, 8)

    def forward(self, x):
        return self.b(self.a(self.ln(x)))
"""


def test_torch_layer_subclasses_read_their_own_weight():
    # openai/whisper's Linear and LayerNorm (fp16-friendly forwards). Run for real:
    # Net()(torch.randn(2, 32)) raises "mat1 and mat2 shapes cannot be multiplied (2x64
    # and 32x8)"; with Linear(64, 8) it runs.
    assert [c for c, _ in codes(SUBCLASSED_LAYERS)] == ["TL205"]
    assert codes(SUBCLASSED_LAYERS.replace("Linear(32, 8)", "Linear(64, 8)")) == []


TIED_IN_INIT = """
class LM(nn.Module):
    def __init__(self, vocab=99, dim=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.lm_head = nn.Linear(dim, vocab + 1, bias=False)
        self.lm_head.weight = self.embed.weight
        self.register_buffer("bias", torch.zeros(1, vocab))

    def forward(self, ids):
        return self.lm_head(self.embed(ids)) + self.bias
"""


def test_a_tied_weight_gives_the_linear_its_shape():
    # Weight tying: the Linear declared with 100 outputs takes the embedding's [99, 32]
    # weight. Run for real: LM()(torch.randint(0, 99, (2, 5))) gives [2, 5, 99]; without
    # the tying line it raises "The size of tensor a (100) must match the size of tensor b
    # (99) at non-singleton dimension 2".
    assert codes(TIED_IN_INIT) == []
    assert [c for c, _ in codes(TIED_IN_INIT.replace("        self.lm_head.weight = self.embed.weight\n", ""))] == ["TL206"]


def test_a_call_over_several_lines_is_quoted_on_one():
    _, diags = run("""
    x = torch.randn(4, 10)
    y = torch.matmul(
        x,
        torch.randn(3, 5),
    )
    """)
    # Run for real: "mat1 and mat2 shapes cannot be multiplied (4x10 and 3x5)".
    assert [d.code for d in diags] == ["TL205"]
    assert "\n" not in diags[0].message and "torch.matmul( x, torch.randn(3, 5), )" in diags[0].message
