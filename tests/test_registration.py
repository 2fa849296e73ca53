"""TL101-TL105: positives, negatives, and fixes applied and re-checked."""
import pytest

from conftest import codes, fix_and_recheck, run
from torch_lsp.analysis.diagnostics import Applicability, Severity

# ----------------------------------------------------------------------------- TL101
# A plain tensor attribute is reported where it goes wrong at run time (TL101's model of
# harm, see tests/test_tl1_harm.py): these snippets therefore use it in `forward` of a
# class with a layer. The old snippets stored tensors that nothing ever read: quiet now.


@pytest.mark.parametrize(
    "snippet, expected",
    [
        (  # factory on self, added to a layer's output
            """
            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.proj = nn.Linear(32, 32)
                    self.pos = torch.zeros(1, 16, 32)

                def forward(self, x):
                    return self.proj(x) + self.pos
            """,
            [("TL101", 5)],
        ),
        (  # through a local name in __init__ and an alias in forward
            """
            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(3, 3)
                    w = torch.randn(3, 3) * 0.02
                    self.w = w

                def forward(self, x):
                    w = self.w
                    return self.fc(x) @ w
            """,
            [("TL101", 6)],
        ),
        (  # setattr with a constant name
            """
            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(3, 3)
                    setattr(self, "w", torch.ones(3))

                def forward(self, x):
                    return self.fc(x) * self.w
            """,
            [("TL101", 5)],
        ),
        (  # in a branch and a loop
            """
            class M(nn.Module):
                def __init__(self, flag):
                    super().__init__()
                    self.fc = nn.Linear(2, 2)
                    if flag:
                        self.a = torch.zeros(2)
                    for _ in range(2):
                        self.b = torch.tensor([1.0, 2.0]).cuda()

                def forward(self, x):
                    return self.fc(x) + self.a - self.b
            """,
            [("TL101", 6), ("TL101", 8)],
        ),
        (  # in a helper that __init__ calls, used in a helper that forward calls
            """
            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.emb = nn.Embedding(10, 4)
                    self._build()

                def _build(self):
                    self.table = torch.arange(10).to("cpu")

                def forward(self, x):
                    return self._lookup(x)

                def _lookup(self, x):
                    return self.emb(self.table) + x
            """,
            [("TL101", 8)],
        ),
        (  # legacy constructor: TL101 and TL105 on the same line
            """
            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(2, 2)
                    self.gamma = torch.cuda.FloatTensor([1.0])

                def forward(self, x):
                    return self.fc(x) * self.gamma
            """,
            [("TL101", 5), ("TL105", 5)],
        ),
    ],
)
def test_tl101_positive(snippet, expected):
    assert codes(snippet) == expected


@pytest.mark.parametrize(
    "snippet",
    [
        """
        class M(nn.Module):  # wrapped later
            def __init__(self):
                super().__init__()
                self.w = torch.zeros(3)
                self.w = nn.Parameter(self.w)

            def forward(self, x):
                return x * self.w
        """,
        """
        class M(nn.Module):  # local wrapped
            def __init__(self):
                super().__init__()
                w = torch.zeros(3)
                self.w = nn.Parameter(w)
                self.register_buffer("m", torch.ones(3))
                self.b = nn.Buffer(torch.ones(2))

            def forward(self, x):
                return x * self.w * self.m
        """,
        """
        class M(nn.Module):  # registered buffer reassigned stays a buffer
            def __init__(self):
                super().__init__()
                self.register_buffer("steps", torch.tensor(0))
                self.steps = torch.tensor(1)

            def reset(self):
                self.steps = torch.tensor(0)

            def forward(self, x):
                self.steps += 1
                return x
        """,
        """
        class M(nn.Module):  # tensors made in forward are fine
            def __init__(self):
                super().__init__()
                self.eps = 1e-6

            def forward(self, x):
                noise = torch.randn_like(x)
                self.last = torch.zeros(3)
                return x + noise
        """,
        """
        class M(nn.Module):  # plain values, before super too
            def __init__(self, dim):
                self.dim = dim
                self.name = "m"
                self.sizes = [1, 2, 3]
                super().__init__()
                self.dtype = torch.float32
                self.device = torch.device("cpu")
                self.shape = (dim,)
                self.size = torch.Size([dim])
                self.scale = dim ** -0.5
        """,
        """
        class Stats:  # not a Module
            def __init__(self, dim):
                self.mean = torch.zeros(dim)

            def forward(self, x):
                return x - self.mean
        """,
        """
        class Norm(nn.BatchNorm1d):  # names a torch layer owns
            def __init__(self, n):
                super().__init__(n)
                self.running_mean = torch.zeros(n)
        """,
        """
        class M(nn.Module):  # unknown values never warn
            def __init__(self, make):
                super().__init__()
                self.a = make()
                self.b = torch.load("x.pt")

            def forward(self, x):
                return x * self.a * self.b
        """,
        """
        class M(nn.Module):  # parameter in one branch, plain in the other: leave it
            def __init__(self, learn):
                super().__init__()
                if learn:
                    self.s = nn.Parameter(torch.ones(1))
                else:
                    self.register_buffer("s", torch.ones(1))

            def forward(self, x):
                return x * self.s
        """,
    ],
)
def test_tl101_negative(snippet):
    assert [c for c in codes(snippet) if c[0] == "TL101"] == []


def test_tl101_severity_error_when_meant_to_be_learned():
    for expr in ("torch.zeros(1, requires_grad=True)", "torch.ones(3).requires_grad_()", "torch.ones(3).requires_grad_(True)"):
        _, diags = run(f"""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.t = {expr}

            def forward(self, x):
                return x * self.t
        """)
        assert [(d.code, d.severity) for d in diags] == [("TL101", Severity.ERROR)], expr
    # requires_grad_(False) is not learned intent: harm (b) at warning, in a class with a layer
    _, diags = run("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.t = torch.ones(3).requires_grad_(False)

        def forward(self, x):
            return self.fc(x) * self.t
    """)
    assert [(d.code, d.severity) for d in diags] == [("TL101", Severity.WARNING)]


def test_tl101_message_says_what_breaks():
    _, diags = run("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.t = torch.zeros(3)

        def forward(self, x):
            return self.fc(x) - self.t
    """)
    msg = diags[0].message
    assert "`self.t`" in msg and "state_dict()" in msg and "model.to('cuda')" in msg and "line 11" in msg
    assert "Expected all tensors to be on the same device" in msg


_EMB = """
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.emb = torch.zeros(1, 4)

    def forward(self, x):
        return self.fc(x) + self.emb
"""


@pytest.mark.parametrize("index, expected_text", [
    (0, 'self.register_buffer("emb", torch.zeros(1, 4), persistent=False)'),
    (1, "nn.Parameter(torch.zeros(1, 4))"),
])
def test_tl101_fixes(index, expected_text):
    _, diags = run(_EMB)
    assert all(f.applicability is Applicability.UNSAFE for f in diags[0].fixes)
    fixed, after = fix_and_recheck(_EMB, "TL101", index)
    assert expected_text in fixed
    assert after == []


def test_tl101_buffer_fix_first_for_a_constant():
    _, diags = run("""
    class M(nn.Module):
        def __init__(self, mean):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.mean = torch.tensor(mean)

        def forward(self, x):
            return self.fc(x - self.mean)
    """)
    assert "register_buffer" in diags[0].fixes[0].title


def test_tl101_setattr_buffer_fix():
    fixed, after = fix_and_recheck("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            setattr(self, "mask", torch.ones(3))

        def forward(self, x):
            return self.fc(x) * self.mask
    """, "TL101", 0)
    assert 'self.register_buffer("mask", torch.ones(3), persistent=False)' in fixed and after == []


def test_tl101_learned_has_only_parameter_fix():
    _, diags = run("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.t = torch.zeros(1, requires_grad=True)

        def forward(self, x):
            return x * self.t
    """)
    assert [f.title.split("(")[0] for f in diags[0].fixes] == ["Wrap in `nn.Parameter"]


# ----------------------------------------------------------------------------- TL102 / TL103


@pytest.mark.parametrize(
    "snippet, expected",
    [
        ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = [nn.Linear(4, 4) for _ in range(3)]
        """, [("TL102", 4)]),
        ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.heads = {"a": nn.Linear(4, 1), "b": nn.Linear(4, 2)}
        """, [("TL102", 4)]),
        ("""
        class M(nn.Module):
            def __init__(self, chans):
                super().__init__()
                self.layers = []
                for a, b in zip(chans, chans[1:]):
                    self.layers.append(nn.Conv2d(a, b, 3))
                    self.layers += [nn.ReLU()]
        """, [("TL102", 4)]),
        ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                layers = []
                layers.append(nn.Linear(2, 2))
                self.layers = layers
        """, [("TL102", 6)]),
        ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.pair = (nn.Linear(2, 2), nn.Linear(2, 2))
        """, [("TL102", 4)]),
        ("""
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = [Block() for _ in range(2)]
        """, [("TL102", 9)]),
        ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.scales = [nn.Parameter(torch.ones(3)) for _ in range(2)]
        """, [("TL103", 4)]),
        ("""
        class M(nn.Module):
            def __init__(self, names):
                super().__init__()
                self.bias = {}
                for n in names:
                    self.bias[n] = nn.Parameter(torch.zeros(3))
        """, [("TL103", 4)]),
    ],
)
def test_tl102_tl103_positive(snippet, expected):
    assert codes(snippet) == expected


@pytest.mark.parametrize(
    "snippet",
    [
        """
        class M(nn.Module):  # registered containers
            def __init__(self):
                super().__init__()
                self.a = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
                self.b = nn.ModuleDict({"x": nn.Linear(2, 2)})
                self.c = nn.ParameterList([nn.Parameter(torch.ones(1))])
                self.d = nn.ModuleList()
                self.d.append(nn.ReLU())
        """,
        """
        class M(nn.Module):  # local list wrapped in Sequential
            def __init__(self):
                super().__init__()
                layers = [nn.Linear(2, 2)]
                layers.append(nn.ReLU())
                self.net = nn.Sequential(*layers)
        """,
        """
        class M(nn.Module):  # self list later registered
            def __init__(self):
                super().__init__()
                self.layers = [nn.Linear(2, 2)]
                self.net = nn.Sequential(*self.layers)
                self.more = [nn.Linear(2, 2)]
                self.more = nn.ModuleList(self.more)
        """,
        """
        class M(nn.Module):  # references to registered modules
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 1, 1)
                self.conv2 = nn.Conv2d(1, 1, 1)
                self.convs = [self.conv1, self.conv2]
        """,
        """
        class M(nn.Module):  # registered through add_module in a loop
            def __init__(self):
                super().__init__()
                self.blocks = [nn.Linear(2, 2) for _ in range(2)]
                for i, b in enumerate(self.blocks):
                    self.add_module(f"block{i}", b)
        """,
        """
        class M(nn.Module):  # handed to an unknown function that may register them
            def __init__(self):
                super().__init__()
                self.blocks = [nn.Linear(2, 2)]
                register_all(self, self.blocks)
        """,
        """
        class M(nn.Module):  # lists of ints and strings
            def __init__(self):
                super().__init__()
                self.channels = [3, 16, 32]
                self.names = {"a": 1}
        """,
        """
        class Plain:
            def __init__(self):
                self.layers = [nn.Linear(2, 2)]
        """,
    ],
)
def test_tl102_tl103_negative(snippet):
    assert codes(snippet) == []


def test_tl102_fix_empty_list_then_append_runs_clean():
    fixed, after = fix_and_recheck("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = []
            self.layers.append(nn.Linear(2, 2))
    """, "TL102")
    assert "self.layers = nn.ModuleList()" in fixed and after == []


def test_tl102_fix_wraps_comprehension_and_is_safe():
    snippet = """
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = [nn.Linear(4, 4) for _ in range(3)]

        def forward(self, x):
            for b in self.blocks:
                x = b(x)
            return x
    """
    _, diags = run(snippet)
    assert diags[0].fixes[0].applicability is Applicability.SAFE
    fixed, after = fix_and_recheck(snippet, "TL102")
    assert "nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])" in fixed and after == []


def test_tl102_fix_unsafe_when_code_uses_list_only_methods():
    _, diags = run("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = [nn.Linear(4, 4) for _ in range(3)]
            self.blocks.sort(key=id)
    """)
    assert diags[0].fixes[0].applicability is Applicability.UNSAFE


def test_tl103_dict_fix_with_unknown_keys_is_unsafe_but_works():
    snippet = """
    class M(nn.Module):
        def __init__(self, names):
            super().__init__()
            self.bias = {}
            for n in names:
                self.bias[n] = nn.Parameter(torch.zeros(3))
    """
    _, diags = run(snippet)
    assert diags[0].fixes[0].applicability is Applicability.UNSAFE
    fixed, after = fix_and_recheck(snippet, "TL103")
    assert "self.bias = nn.ParameterDict()" in fixed and after == []


def test_tl102_related_information_points_at_appends():
    _, diags = run("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = []
            self.layers.append(nn.Linear(2, 2))
    """)
    assert [r.range.start.line + 1 - 3 for r in diags[0].related] == [5]


# ----------------------------------------------------------------------------- TL104


def test_tl104_assignment_before_super():
    snippet = """
    class M(nn.Module):
        def __init__(self, n):
            self.n = n
            self.fc = nn.Linear(n, 2)
            self.out = nn.Linear(2, 1)
            super().__init__()
    """
    assert codes(snippet) == [("TL104", 4)]
    _, diags = run(snippet)
    assert "cannot assign module before Module.__init__() call" in diags[0].message
    assert len(diags[0].related) == 2  # the late super() call and the other early assignment
    fixed, after = fix_and_recheck(snippet, "TL104")
    assert fixed.count("super().__init__()") == 1
    body = fixed.split("def __init__(self, n):\n")[1].splitlines()
    assert body[0].strip() == "super().__init__()"
    assert after == []


def test_tl104_parameter_before_super_message():
    _, diags = run("""
    class M(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(torch.zeros(2))
            super().__init__()
    """)
    assert "cannot assign parameters before Module.__init__() call" in diags[0].message


def test_tl104_never_calls_super():
    snippet = """
    class M(nn.Module):
        def __init__(self, dim):
            self.w = nn.Parameter(torch.randn(dim, dim))
            self.dim = dim
    """
    assert codes(snippet) == [("TL104", 3)]
    fixed, after = fix_and_recheck(snippet, "TL104")
    assert after == []


def test_tl104_never_calls_super_with_only_plain_values_points_at_def():
    assert codes("""
    class M(nn.Module):
        def __init__(self, dim):
            self.dim = dim

        def forward(self, x):
            return x
    """) == [("TL104", 2)]


def test_tl104_super_variants_are_fine():
    assert codes("""
    class Base(nn.Module):
        def __init__(self, dim):
            super(Base, self).__init__()
            self.norm = nn.LayerNorm(dim)

    class Block(Base):
        def __init__(self, dim, expansion=4):
            self.expansion = expansion
            super().__init__(dim)
            self.up = nn.Linear(dim, dim * expansion)

    class Wrapper(nn.Module):
        def __init__(self, dim):
            nn.Module.__init__(self)
            self.block = Block(dim)

    class Via(nn.Module):
        def __init__(self):
            self._setup()
            self.fc = nn.Linear(2, 2)

        def _setup(self):
            super().__init__()

    class NoInit(nn.Module):
        def forward(self, x):
            return x
    """) == []


def test_tl104_no_move_fix_when_super_uses_locals():
    _, diags = run("""
    class Base(nn.Module):
        def __init__(self, dim):
            super().__init__()

    class M(Base):
        def __init__(self, n):
            d = n * 2
            self.fc = nn.Linear(d, d)
            super().__init__(d)
    """)
    assert [d.code for d in diags] == ["TL104"] and diags[0].fixes == ()


def test_tl104_no_insert_fix_when_base_needs_arguments():
    _, diags = run("""
    class M(nn.Linear):
        def __init__(self):
            self.extra = nn.Parameter(torch.zeros(1))
    """)
    assert [d.code for d in diags] == ["TL104"] and diags[0].fixes == ()


# ----------------------------------------------------------------------------- TL105


@pytest.mark.parametrize(
    "call, replacement",
    [
        ("torch.FloatTensor([1.0, 2.0])", "torch.tensor([1.0, 2.0], dtype=torch.float32)"),
        ("torch.LongTensor([[1, 0], [0, 1]])", "torch.tensor([[1, 0], [0, 1]], dtype=torch.int64)"),
        ("torch.cuda.FloatTensor([1.0])", 'torch.tensor([1.0], dtype=torch.float32, device="cuda")'),
        ("torch.FloatTensor(3, 4)", "torch.empty(3, 4, dtype=torch.float32)"),
        ("torch.ByteTensor()", "torch.tensor([], dtype=torch.uint8)"),
    ],
)
def test_tl105_fix(call, replacement):
    snippet = f"x = {call}\n"
    text, diags = run(snippet)
    assert [(d.code, d.severity) for d in diags] == [("TL105", Severity.INFORMATION)]
    fixed, after = fix_and_recheck(snippet, "TL105")
    assert f"x = {replacement}" in fixed and after == []


def test_tl105_ambiguous_argument_has_no_fix():
    _, diags = run("x = torch.FloatTensor(values)\n")
    assert [d.code for d in diags] == ["TL105"] and diags[0].fixes == ()


def test_tl105_imported_name_and_not_torch():
    assert codes("from torch import LongTensor\nx = LongTensor([1])\n") == [("TL105", 2)]
    assert codes("class FloatTensor: pass\nx = FloatTensor([1])\n") == []


# ----------------------------------------------------------------------------- suppression


@pytest.mark.parametrize(
    "comment, suppressed",
    [
        ("# torch-lsp: ignore[TL101]", True),
        ("# torch-lsp: ignore[TL102, TL101]", True),
        ("# torch-lsp: ignore", True),
        ("# noqa: TL101", True),
        ("# noqa", True),
        ("# noqa: E501", False),
        ("# torch-lsp: ignore[TL102]", False),
    ],
)
def test_suppression_comments(comment, suppressed):
    found = codes(f"""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.t = torch.zeros(3)  {comment}

        def forward(self, x):
            return self.fc(x) + self.t
    """)
    assert (found == []) is suppressed


def test_tl102_stateless_layers_in_a_plain_container_are_harmless():
    assert codes("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.acts = [nn.ReLU(), nn.GELU(), nn.MaxPool2d(2), nn.Sequential()]
            self.losses = {"ce": nn.CrossEntropyLoss(), "l1": nn.SmoothL1Loss(reduction="none")}
    """) == []
    # ... but not losses with a weight, dropout (train/eval) or anything with parameters
    assert codes("""
    class M(nn.Module):
        def __init__(self, w):
            super().__init__()
            self.losses = {"ce": nn.CrossEntropyLoss(weight=w)}
            self.drops = [nn.Dropout(0.1)]
            self.mixed = [nn.ReLU(), nn.Conv2d(1, 1, 1)]
    """) == [("TL102", 4), ("TL102", 5), ("TL102", 6)]


def test_tl101_fix_also_modernises_a_legacy_constructor():
    fixed, after = fix_and_recheck("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)
            self.gamma = torch.cuda.FloatTensor([1.0])

        def forward(self, x):
            return self.fc(x) * self.gamma
    """, "TL101")
    assert 'self.gamma = nn.Parameter(torch.tensor([1.0], dtype=torch.float32, device="cuda"))' in fixed
    assert after == []


def test_tl104_on_a_conditional_parameter_says_when_torch_raises():
    from torch_lsp.engine import check_source

    text = (
        "import torch\nimport torch.nn as nn\n\n\nclass Block(nn.Module):\n"
        "    def __init__(self, dim, scale_residual=False):\n"
        "        self.residual_scale = nn.Parameter(torch.ones(dim)) if scale_residual else None\n"
        "        super().__init__()\n\n    def forward(self, x):\n        return x\n")
    (d,) = [d for d in check_source(text, "m.py").diagnostics if d.code == "TL104"]
    assert "(when `scale_residual` is true)" in d.message and d.message.endswith("then")


def test_tl102_a_plain_list_in_one_arm_is_not_registered_by_a_module_in_the_other():
    # Stage(4, 8) has 0 parameters (the list's LayerNorm and Conv2d are not registered);
    # the `else` arm's Identity registers `down` only on the runs that take it
    # (transformers' ConvNeXt stage, the plant of the mutation benchmark).
    from torch_lsp.engine import check_source

    text = ("import torch.nn as nn\n\n\nclass Stage(nn.Module):\n"
            "    def __init__(self, cin, cout, stride=2):\n        super().__init__()\n"
            "        if cin != cout or stride > 1:\n"
            "            self.down = [nn.LayerNorm(cin), nn.Conv2d(cin, cout, 2, stride)]\n"
            "        else:\n            self.down = nn.Identity()\n\n"
            "    def forward(self, x):\n        for m in self.down:\n            x = m(x)\n        return x\n")
    assert [(d.code, d.range.start.line + 1) for d in check_source(text, "m.py").diagnostics] == [("TL102", 8)]
    # a list that a later statement turns into a ModuleList on the same path stays quiet
    later = text.replace("        else:\n            self.down = nn.Identity()\n",
                         "            self.down = nn.ModuleList(self.down)\n        else:\n            self.down = nn.Identity()\n")
    assert [d.code for d in check_source(later, "m.py").diagnostics] == []


def test_tl102_a_plain_list_of_layers_built_on_every_branch_is_reported():
    # transformers' Wav2Vec2FeatureEncoder: `conv_layers` is a list of layers on each
    # branch (the last raises), then `self.conv_layers = list(conv_layers)`. For real,
    # Enc() has 0 parameters.
    from torch_lsp.engine import check_source

    text = ("import torch.nn as nn\n\n\nclass Enc(nn.Module):\n"
            "    def __init__(self, norm='group', n=3):\n        super().__init__()\n"
            "        if norm == 'group':\n"
            "            conv_layers = [nn.Conv1d(1, 8, 3)] + [nn.Conv1d(8, 8, 3) for _ in range(n - 1)]\n"
            "        elif norm == 'layer':\n            conv_layers = [nn.Conv1d(1, 8, 3) for _ in range(n)]\n"
            "        else:\n            raise ValueError(norm)\n"
            "        self.conv_layers = list(conv_layers)\n\n"
            "    def forward(self, x):\n        for c in self.conv_layers:\n            x = c(x)\n        return x\n")
    assert [(d.code, d.range.start.line + 1) for d in check_source(text, "m.py").diagnostics] == [("TL102", 13)]
    # a list of layers on one branch only, of something else on the other: not on every path
    mixed = text.replace("conv_layers = [nn.Conv1d(1, 8, 3) for _ in range(n)]", "conv_layers = [1, 2]")
    assert [d.code for d in check_source(mixed, "m.py").diagnostics] == []


# What __init__'s signature and the file's helpers say a value is (issue 15). Each class
# below raises under torch 2.13 when built with its defaults (or, for `Given`, with a
# module): "cannot assign module before Module.__init__() call".
SIGNATURE_SAYS_MODULE = """
from functools import partial


def make_proj(d):
    return nn.Linear(d, d)


def make_stack(d):
    layers = nn.Sequential(make_proj(d), nn.ReLU())
    return layers


class FromDefault(nn.Module):
    def __init__(self, dim, norm_layer=nn.LayerNorm):
        self.norm = norm_layer(dim)
        super().__init__()


class FromPartial(nn.Module):
    def __init__(self, dim, norm_layer=partial(nn.BatchNorm2d, eps=1e-3)):
        self.norm = norm_layer(dim)
        super().__init__()


class FromHelper(nn.Module):
    def __init__(self, dim):
        self.proj = make_stack(dim)
        super().__init__()


class Given(nn.Module):
    def __init__(self, body: nn.Module):
        self.body = body
        super().__init__()
"""


def test_modules_from_signatures_and_helpers_before_super_init():
    found = codes(SIGNATURE_SAYS_MODULE)
    assert [c for c, _ in found] == ["TL104"] * 4
    _, diags = run(SIGNATURE_SAYS_MODULE)
    messages = " ".join(d.message for d in diags)
    assert "built by the parameter `norm_layer` (an `nn.LayerNorm` by default)" in messages
    assert "the module `make_stack(...)` returns" in messages


def test_values_the_signature_does_not_make_modules_are_quiet():
    snippet = """
    def make_size(d):
        return d * 2


    def sometimes(d):
        if d:
            return nn.Linear(d, d)
        return None


    class A(nn.Module):
        def __init__(self, dim, act=None, body: nn.Module = None, scale=make_size):
            self.act = act
            self.body = body
            self.size = scale(dim)
            self.maybe = sometimes(dim)
            super().__init__()
    """
    assert codes(snippet) == []


def test_a_plain_list_of_modules_built_by_a_layer_class_parameter():
    snippet = """
    class Block(nn.Module):
        def __init__(self, dim, norm_layer=nn.LayerNorm):
            super().__init__()
            self.norms = [norm_layer(dim) for _ in range(2)]

        def forward(self, x):
            return self.norms[1](self.norms[0](x))
    """
    assert codes(snippet) == [("TL102", 4)]
    fixed, after = fix_and_recheck(snippet, "TL102")
    assert "nn.ModuleList(" in fixed and after == []


def test_a_placeholder_named_as_a_parameter_in_a_class_without_other_parameters():
    # Swin's relative position bias, with `nn.Parameter(...)` dropped: a zeros table read by
    # index and returned. Under torch, `list(Bias(3, (2, 2)).parameters()) == []`: never trained.
    snippet = """
    class Bias(nn.Module):
        def __init__(self, num_heads, window):
            super().__init__()
            self.relative_position_bias_table = torch.zeros((2 * window[0] - 1) * (2 * window[1] - 1), num_heads)
            self.register_buffer("index", torch.arange(window[0] * window[1]))

        def forward(self):
            return self.relative_position_bias_table[self.index]
    """
    _, diags = run(snippet)
    assert [(d.code, d.severity) for d in diags] == [("TL101", Severity.WARNING)]
    assert "like a learned parameter" in diags[0].message
    # a table computed in __init__ (not a placeholder) is a constant: at most the
    # information that a returned plain tensor may be on the wrong device
    _, diags = run(snippet.replace("torch.zeros((2 * window[0] - 1) * (2 * window[1] - 1), num_heads)",
                                   "torch.arange(num_heads).float()"))
    assert [(d.code, d.severity) for d in diags] == [("TL101", Severity.INFORMATION)]


def test_a_tensor_scaled_by_a_parameter_is_a_tensor():
    # timm's LayerScale without nn.Parameter: `init_values * torch.ones(dim)` is a plain
    # tensor whatever number the caller passes (under torch: not in parameters())
    snippet = """
    class LayerScale(nn.Module):
        def __init__(self, dim, init_values=1e-5):
            super().__init__()
            self.fc = nn.Linear(dim, dim)
            self.gamma = init_values * torch.ones(dim)

        def forward(self, x):
            return self.fc(x) * self.gamma


    model = LayerScale(8)
    """
    found = codes(snippet)
    assert [c for c, _ in found] == ["TL101"]


def test_the_legacy_constructor_prefilter_finds_what_the_pattern_finds():
    # _calls_legacy (a literal search) decides as _LEGACY_TEXT.search (an alternation
    # tried at every position, ~1 ms per edit of a 10,000-line file) on real files
    # and on random texts made of the pattern's pieces.
    import random as _random
    from pathlib import Path as _Path

    import torch as _torch

    from torch_lsp.rules.registration import _LEGACY_TEXT, _calls_legacy

    texts = [p.read_text(encoding="utf-8") for p in sorted((_Path(_torch.__file__).parent / "nn" / "modules").glob("*.py"))]
    rng = _random.Random(7)
    pieces = ["Float", "Long", "BFloat16", "Bool", "Tensor", "Tensor(", " (", "\n", "(", "x", "torch.", "Int", "  ", "\t",
              "Tens", "or", "\u00a0", "FloatTensor (", "#"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12))) for _ in range(5000)]
    assert any(_calls_legacy(t) for t in texts) and not all(_calls_legacy(t) for t in texts)
    for t in texts:
        assert _calls_legacy(t) == bool(_LEGACY_TEXT.search(t)), t
