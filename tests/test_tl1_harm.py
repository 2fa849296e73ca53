"""TL101's model of harm (and the TL102/TL104 cases that share its notion of a model).

A plain tensor attribute is reported only where something goes wrong at run time:
(a) it was meant to be learned, (b) it meets the input or a parameter/submodule output in
code reachable from `forward` without being moved there (and is not 0-d), (c) `forward`
updates it in place. Each case below is a small snippet, with the diagnostics asserted as
(code, line, severity) and, where it matters, the fixes' text; lines count from the
snippet's first line (the conftest header `import torch` / `import torch.nn as nn` is
prepended). The fix tests apply the first fix, check again, and for a few run the fixed
code under torch.
"""
import textwrap

import pytest

from conftest import fix_and_recheck, run
from torch_lsp.analysis.attribute_use import name_says_parameter
from torch_lsp.analysis.diagnostics import Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFORMATION


def found(code: str, rule: str = "TL101") -> list[tuple[str, int, Severity]]:
    _, diags = run(code)
    return [(d.code, d.range.start.line + 1 - 3, d.severity) for d in diags if d.code.startswith(rule)]


def only(code: str, rule: str = "TL101"):
    _, diags = run(code)
    diags = [d for d in diags if d.code == rule]
    assert len(diags) == 1, [d.message for d in diags]
    return diags[0]


# ============================================================================ reported

# ---------------------------------------------------------------- (a) meant to be learned


@pytest.mark.parametrize(
    "snippet, line",
    [
        ("""
        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.log_temp = torch.zeros(1, requires_grad=True)

            def forward(self, a, b):
                return a @ b.t() * self.log_temp.exp()
        """, 4),
        ("""
        class Head(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.w = torch.empty(dim, dim)
                nn.init.xavier_uniform_(self.w)

            def forward(self, x):
                return x @ self.w.to(x.device)
        """, 4),
        ("""
        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.shift = torch.zeros(4)

            def forward(self, x):
                return x + self.shift

        model = Head()
        opt = torch.optim.SGD([model.shift], lr=0.1)
        """, 4),
        ("""
        class Head(nn.Module):  # read outside forward still trains nothing
            def __init__(self):
                super().__init__()
                self.margin = torch.ones(1).requires_grad_()

            def loss(self, pos, neg):
                return (self.margin - pos + neg).clamp(min=0).mean()
        """, 4),
    ],
)
def test_learned_intent_shown_by_the_code_is_an_error(snippet, line):
    assert found(snippet) == [("TL101", line, E)]
    d = only(snippet)
    assert "never updates it" in d.message and "nn.Parameter" in d.message
    assert d.fixes[0].title.startswith("Wrap in `nn.Parameter")


def test_learned_intent_says_where_it_shows():
    d = only("""
    class Head(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.w = torch.empty(dim, dim)
            nn.init.xavier_uniform_(self.w)

        def forward(self, x):
            return x @ self.w
    """)
    assert "initialised with `nn.init.xavier_uniform_`" in d.message
    assert [r.range.start.line + 1 - 3 for r in d.related] == [5, 8]


def test_learned_intent_shown_by_the_name_is_a_warning_even_for_0d():
    snippet = """
    class Scaled(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.linear = nn.Linear(n, n)
            self.scalar_param = torch.tensor(2.0)

        def forward(self, x):
            return self.linear(x) * self.scalar_param
    """
    assert found(snippet) == [("TL101", 5, W)]
    d = only(snippet)
    assert "like a learned parameter (its name says so)" in d.message and "line 11" in d.message  # a file line
    assert [f.edits[0].new_text for f in d.fixes] == [
        "nn.Parameter(torch.tensor(2.0))",
        'self.register_buffer("scalar_param", torch.tensor(2.0), persistent=False)',
    ]


@pytest.mark.parametrize(
    "name, says",
    [("scalar_param", True), ("gamma_1", True), ("out_bias", True), ("attnWeight", True), ("logit_scale", True),
     ("beta", True), ("learnable_pos", True), ("scale", False), ("scaling", False), ("alpha", False),
     ("temperature", False), ("kernel", False), ("threshold", False), ("betas_idx", False), ("weighted", False)],
)
def test_parameter_names(name, says):
    assert name_says_parameter(name) is says


# ---------------------------------------------------------------- (b) meets the model's device


@pytest.mark.parametrize(
    "snippet, line",
    [
        ("""
        class PatchEmbed(nn.Module):  # with a submodule's output
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(48, 32)
                self.pos = torch.zeros(1, 16, 32)

            def forward(self, p):
                return self.proj(p) + self.pos
        """, 5),
        ("""
        class Tokens(nn.Module):  # cat with the input
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(4, 4)
                self.cls = torch.zeros(1, 1, 4)

            def forward(self, x):
                return torch.cat([self.cls.expand(x.size(0), -1, -1), self.proj(x)], dim=1)
        """, 5),
        ("""
        class Lookup(nn.Module):  # handed to a submodule
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(10, 4)
                self.ids = torch.arange(10)

            def forward(self, x):
                return x + self.emb(self.ids)
        """, 5),
        ("""
        def rotate(x, freqs):
            return x * freqs

        class Rotary(nn.Module):  # in a file function forward calls
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(4, 4)
                self.freqs = torch.randn(8, 4)

            def forward(self, x):
                return rotate(self.proj(x), self.freqs)
        """, 8),
        ("""
        class Norm(nn.Module):  # through an alias, in a helper method, with a parameter
            def __init__(self, dim):
                super().__init__()
                self.weight = nn.Parameter(torch.ones(dim))
                self.offset = torch.full((dim,), 0.5)

            def forward(self, x):
                return self._apply_offset(x)

            def _apply_offset(self, x):
                off = self.offset
                return x * self.weight + off
        """, 5),
        ("""
        class Pick(nn.Module):  # index_select needs the index on the same device
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(4, 4)
                self.idx = torch.tensor([0, 2])

            def forward(self, x):
                return self.proj(x).index_select(1, self.idx)
        """, 5),
    ],
)
def test_meets_the_model_device_is_a_warning(snippet, line):
    assert found(snippet) == [("TL101", line, W)]
    d = only(snippet)
    assert "Expected all tensors to be on the same device" in d.message and "state_dict()" in d.message
    assert len(d.related) == 1


def test_device_message_names_the_partner_and_the_use_line():
    d = only("""
    class Normalize(nn.Module):
        def __init__(self, mean):
            super().__init__()
            self.proj = nn.Linear(3, 3)
            self.mean = torch.tensor(mean)

        def forward(self, x):
            return self.proj(x - self.mean)
    """)
    assert d.message.startswith(
        "`self.mean` is used with the input `x` in `forward` (line 11) but is a plain tensor: after "
        "`model.to('cuda')` it stays on the CPU, so line 11 raises 'Expected all tensors to be on the same device'"
    )
    assert d.related[0].range.start.line + 1 == 11 and d.related[0].message == "`self.mean` meets the input `x` here"


def test_model_without_parameters_registered_in_a_sequential():
    # `.to(device)` in __init__ is not "moved to the input's device": model.to() leaves it there.
    snippet = """
    class Normalize(nn.Module):
        def __init__(self, mean, device="cpu"):
            super().__init__()
            self.mean = torch.tensor(mean).to(device)

        def forward(self, x):
            return x - self.mean[:, None, None]

    def build():
        return nn.Sequential(Normalize([0.5, 0.5, 0.5]), nn.Conv2d(3, 8, 3))
    """
    assert found(snippet) == [("TL101", 4, W)]
    d = only(snippet)
    assert "stays on the device given to the constructor" in d.message
    # related: the use, then the place that makes it part of a model
    assert [(r.range.start.line + 1 - 3, r.message) for r in d.related] == [
        (7, "`self.mean` meets the input `x` here"), (10, "`Normalize` is used as a model here")]


def test_model_without_parameters_called_in_the_file():
    assert found("""
    class AddPos(nn.Module):
        def __init__(self):
            super().__init__()
            self.pe = torch.randn(10, 4)

        def forward(self, x):
            return x + self.pe

    out = AddPos()(torch.randn(10, 4))
    """) == [("TL101", 4, W)]


def test_undecided_model_is_information_and_says_why():
    d = only("""
    class AddPos(nn.Module):
        def __init__(self):
            super().__init__()
            self.pe = torch.randn(10, 4)

        def forward(self, x):
            return x + self.pe
    """)
    assert d.severity is I
    assert "whether this matters depends on how `AddPos` is used" in d.message


def test_moved_on_one_path_only_is_still_reported():
    assert found("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.mask = torch.ones(4)

        def forward(self, x, flag: bool):
            m = self.mask
            if flag:
                m = m.to(x.device)
            return self.fc(x) * m
    """) == [("TL101", 5, W)]


def test_overwritten_on_one_path_only_is_still_read_on_the_other():
    snippet = """
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.p = torch.zeros(4)

        def forward(self, x, c: bool):
            if c:
                self.p = x.mean(0)
            {other}
            return self.fc(x) * self.p
    """
    assert found(snippet.format(other="")) == [("TL101", 5, W)]
    # the other path returns early: every path that reaches the read overwrote it first
    assert found(snippet.format(other="else:\n                return x")) == []


# ---------------------------------------------------------------- (c) updated in place by forward


@pytest.mark.parametrize(
    "update",
    ["self.count += 1", "self.count.add_(1)", "self.count[0] = x.sum().item()", "self.count = self.count + 1",
     "self.count.mul_(0.9).add_(0.1)"],
)
def test_forward_updates_it_in_place(update):
    snippet = f"""
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.count = torch.zeros(1)

        def forward(self, x):
            {update}
            return self.fc(x)
    """
    assert found(snippet) == [("TL101", 5, W)]
    d = only(snippet)
    assert "updates `self.count` in place (line 11)" in d.message and "`state_dict()` does not save it" in d.message
    # running state must be saved: a persistent buffer, and no nn.Parameter (an in-place update of a leaf fails)
    assert [f.edits[0].new_text for f in d.fixes] == ['self.register_buffer("count", torch.zeros(1))']


def test_in_place_update_of_a_0d_counter_is_reported():
    assert found("""
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.steps = torch.tensor(0)

        def forward(self, x):
            self.steps += 1
            return self.fc(x)
    """) == [("TL101", 5, W)]


# ---------------------------------------------------------------- ambiguous: information


@pytest.mark.parametrize(
    "body, words",
    [
        ("pos = torch.arange(5) + self.t\n        return self.fc(x), pos", "only with other plain tensors"),
        ("return self.fc(x), self.t", "returned from `forward`"),
        ("return self.fc(x) * self.t.cuda()", "moved to a fixed device"),
    ],
)
def test_ambiguous_uses_are_information(body, words):
    d = only(f"""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 5)
            self.t = torch.arange(5)

        def forward(self, x):
            {body}
    """)
    assert d.severity is I and words in d.message


# ============================================================================ quiet


QUIET = {
    "environment state on the device it is given (no forward)": """
    class Env(nn.Module):
        def __init__(self, num_envs: int, device="cpu"):
            super().__init__()
            self.device = torch.device(device)
            self._step_count = torch.zeros(num_envs, dtype=torch.long, device=self.device)

        def step(self, action):
            self._step_count += 1
            return action.new_zeros(()), self._step_count >= 100
    """,
    "scheduler (no forward) re-creating its state": """
    class Scheduler(nn.Module):
        def __init__(self, n: int = 1000):
            super().__init__()
            self.timesteps = torch.arange(n - 1, -1, -1)

        def set_timesteps(self, n: int, device=None):
            self.timesteps = torch.linspace(999, 0, n, device=device).long()
    """,
    "moved with .to(x.device) where used": """
    class Window(nn.Module):
        def __init__(self, context: int = 3):
            super().__init__()
            self.kernel = torch.eye(context, context)

        def forward(self, x):
            return F.conv1d(x, self.kernel.to(x.device).unsqueeze(-1))
    """,
    "moved with .to(x), .type_as(x), device=x.device, new_tensor": """
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.a = torch.ones(4)
            self.b = torch.ones(4)
            self.c = torch.ones(4)
            self.d = torch.ones(4)

        def forward(self, x):
            y = self.fc(x)
            y = y * self.a.to(y) + self.b.type_as(y)
            y = y + torch.as_tensor(self.c, device=y.device) + y.new_tensor(self.d)
            return y
    """,
    "re-assigned from a moved copy before each use": """
    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.mask_te = torch.tensor([1.0, 0.0])

        def forward(self, x):
            self.mask_te = self.mask_te.to(x.device)
            return x * self.mask_te
    """,
    "read only as Python values": """
    class Stack(nn.Module):
        def __init__(self, shape, hidden: int, depth: int):
            super().__init__()
            self.fea_dim = torch.prod(torch.tensor(shape[2:]))
            self.active = torch.ones(depth)
            self.sizes = torch.tensor([4, 8])
            self.layers = nn.ModuleList(nn.Linear(int(self.fea_dim) if i == 0 else hidden, hidden) for i in range(depth))

        def forward(self, x):
            x = x.flatten(2)
            for i, layer in enumerate(self.layers):
                if self.active[i]:
                    x = layer(x)
            n = len(self.sizes) + self.sizes.shape[0] + self.sizes.size(0) + int(self.sizes[0]) + self.sizes[1].item()
            return x.reshape(x.size(0), -1, *self.sizes.tolist())[:, :n]
    """,
    "0-d constants": """
    class Attention(nn.Module):
        def __init__(self, dim: int, attn_dim: int):
            super().__init__()
            self.key = nn.Linear(dim, attn_dim)
            self.scaling = torch.sqrt(torch.tensor(attn_dim).float())
            self.threshold = torch.tensor(0.5)
            self.eps = torch.zeros(())

        def forward(self, enc):
            scores = self.key(enc) / self.scaling + self.eps
            return scores.masked_fill(scores < self.threshold, 0.0)
    """,
    "0-d after indexing or reduction": """
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.gains = torch.tensor([0.5, 2.0])

        def forward(self, x):
            return self.fc(x) * self.gains[0] + self.gains.sum()
    """,
    "converted by the class's own _apply": """
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.t = torch.ones(4)

        def forward(self, x):
            return self.fc(x) * self.t

        def _apply(self, fn):
            super()._apply(fn)
            self.t = fn(self.t)
            return self
    """,
    "converted by an owner's _apply": """
    class Detect(nn.Module):
        def __init__(self, ch=(64, 128)):
            super().__init__()
            self.stride = torch.zeros(len(ch))
            self.heads = nn.ModuleList(nn.Conv2d(c, 8, 1) for c in ch)

        def forward(self, xs):
            return [h(x) * self.stride[i] for i, (h, x) in enumerate(zip(self.heads, xs))]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(Detect())

        def _apply(self, fn):
            super()._apply(fn)
            self.model[-1].stride = fn(self.model[-1].stride)
            return self
    """,
    "overwritten in forward before it is read, or never read": """
    class Quantizer(nn.Module):
        def __init__(self, quantizer: nn.Module, size: int):
            super().__init__()
            self.quantizer = quantizer
            self.perplexity = torch.rand(1)
            self.usage = torch.zeros(size, dtype=torch.long)

        def forward(self, x):
            q, idx = self.quantizer(x)
            probs = torch.bincount(idx.flatten(), minlength=8).float() / idx.numel()
            self.perplexity = torch.exp(-(probs * torch.log(probs + 1e-10)).sum())
            return q * self.perplexity
    """,
    "kept on the CPU for a collate helper forward never reaches": """
    class Walks(nn.Module):
        def __init__(self, n: int, dim: int, offsets):
            super().__init__()
            self.embedding = nn.Embedding(n, dim)
            self.offset = torch.tensor(offsets)

        def forward(self, nodes):
            return self.embedding(nodes)

        def _sample(self, batch):
            return torch.tensor(batch).view(-1, 1) + self.offset.view(1, -1)
    """,
    "an index into a tensor on the model's device (torch moves a CPU index)": """
    class Select(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.idx = torch.tensor([0, 2])

        def forward(self, x):
            return self.fc(x)[:, self.idx]
    """,
    "guarded by a device check": """
    class Cache(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.cached = torch.empty(1)

        def forward(self, x):
            if x.device == self.cached.device and torch.equal(x, self.cached):
                return x
            self.cached = x
            return self.fc(x)
    """,
    "re-created by the class itself (a reset)": """
    class Decoder(nn.Module):
        def __init__(self, n: int, dim: int):
            super().__init__()
            self.proto = nn.Parameter(torch.randn(n, dim), requires_grad=False)
            self.updates = torch.zeros(n, dim)

        def forward(self, x, mask):
            self.updates[mask] += x[mask]
            return x @ self.proto.t()

        def flush(self):
            self.updates = torch.zeros_like(self.proto)
    """,
    "learned intent but never read": """
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = torch.zeros(3, requires_grad=True)
    """,
    "a parameter-like name, moved to the input's device": """
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.class_weight = torch.tensor([1.0, 2.0, 1.0, 1.0])

        def forward(self, x, y):
            return F.cross_entropy(self.fc(x), y, weight=self.class_weight.to(x.device))
    """,
    "a parameter-like name on an integer tensor": """
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.bias_idx = torch.tensor(3)

        def forward(self, x):
            return self.fc(x) * self.bias_idx
    """,
    "a parameter-like 0-d name in a class with no learned parts (a loss's gamma)": """
    class FocalLoss(nn.Module):
        def __init__(self, gamma: float = 2.0):
            super().__init__()
            self.gamma = torch.tensor(gamma)

        def forward(self, logits, target):
            p = torch.sigmoid(logits)
            return ((1 - p) ** self.gamma * F.binary_cross_entropy(p, target, reduction="none")).mean()

    loss = FocalLoss()(torch.randn(3), torch.rand(3))
    """,
    "a module the file only uses through its own methods": """
    class Sampler(nn.Module):
        def __init__(self):
            super().__init__()
            self.grid = torch.linspace(0, 1, 8)

        def forward(self, t):
            return t * self.grid

        def sample(self, t):
            return t * self.grid

    s = Sampler()
    out = s.sample(torch.ones(8))
    """,
    "not an nn.Module": """
    class Stats:
        def __init__(self, dim):
            self.mean = torch.zeros(dim)

        def forward(self, x):
            return x - self.mean
    """,
}


@pytest.mark.parametrize("snippet", list(QUIET.values()), ids=list(QUIET))
def test_quiet(snippet):
    code = "import torch.nn.functional as F\n" + textwrap.dedent(snippet).lstrip("\n")
    _, diags = run(code)
    assert [(d.code, d.severity.label, d.message) for d in diags if d.code in ("TL101", "TL102", "TL104")] == []


def test_mixin_assignment_is_reported_once():
    snippet = """
    class _Mixin:
        def _post_init(self) -> None:
            self.offset = torch.zeros(4)

        def forward(self, x):
            return self.fc(x) + self.offset

    class A(_Mixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self._post_init()

    class B(_Mixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self._post_init()
    """
    assert found(snippet) == [("TL101", 3, W)]


def test_mixin_0d_unread_assignment_is_quiet():
    assert found("""
    class _CostMixin:
        def _post_init_cost(self) -> None:
            self._last_cost = torch.zeros((), dtype=torch.float64)

    class A(_CostMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self._post_init_cost()

    class B(_CostMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self._post_init_cost()
    """) == []


# ============================================================================ TL104 / TL102


def test_tl104_module_used_as_plain_helper_is_quiet():
    assert found("""
    class RaySampler(nn.Module):
        def __init__(self, mode: str = "linear"):
            self.mode = mode

        def sample(self, t0, t1, n: int):
            ts = torch.linspace(0, 1, n, device=t0.device, dtype=t0.dtype)
            return t0 * (1.0 - ts) + t1 * ts

    def render(rays):
        return RaySampler().sample(rays[..., :1], rays[..., 1:2], 8)
    """, "TL104") == []


@pytest.mark.parametrize(
    "use",
    [
        "out = RaySampler()(torch.ones(2))",  # called: Module.__call__ needs the tables
        "model = nn.Sequential(RaySampler())",  # registered as a submodule
        "m = RaySampler(); m.to('cpu')",  # moved as a module
    ],
)
def test_tl104_module_used_as_a_module_is_reported(use):
    assert found(f"""
    class RaySampler(nn.Module):
        def __init__(self, mode: str = "linear"):
            self.mode = mode

    {use}
    """, "TL104") == [("TL104", 2, E)]


def test_tl104_with_forward_is_reported():
    assert found("""
    class M(nn.Module):
        def __init__(self, dim):
            self.dim = dim

        def forward(self, x):
            return x
    """, "TL104") == [("TL104", 2, E)]


_RESAMPLE = """
class Resample(nn.Module):
    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor
{extra}
    def forward(self, x):
        return x[..., :: self.factor]


class Perturb(nn.Module):
    def __init__(self, factors=(1, 2, 3)):
        super().__init__()
        self.resamplers = [Resample(f) for f in factors]

    def forward(self, x):
        return self.resamplers[0](x)
"""


def test_tl102_list_of_stateless_user_modules_is_quiet():
    assert found(_RESAMPLE.format(extra=""), "TL10") == []


@pytest.mark.parametrize(
    "extra",
    [
        "        self.drop = nn.Dropout(0.1)\n",  # a submodule with train/eval behaviour
        "        self.kernel = torch.ones(3)\n",  # a tensor: not moved by .to()
        "        self.register_buffer('k', torch.ones(3))\n",  # a buffer: lost from state_dict
        "        self.mode = self.training\n",  # reads self.training
    ],
)
def test_tl102_list_of_modules_with_state_is_reported(extra):
    assert ("TL102", 14, W) in found(_RESAMPLE.format(extra=extra), "TL102")


def test_tl102_module_holding_an_unannotated_argument_is_not_stateless():
    # `inner` may be a module: keep reporting.
    assert found("""
    class Wrap(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.items = [Wrap(nn.Linear(2, 2))]
    """, "TL102") == [("TL102", 9, W)]


# ============================================================================ fixes


def test_no_parameter_fix_for_an_integer_tensor():
    for expr in ("torch.arange(4)", "torch.tensor([1, 2, 3, 0])", "torch.randint(0, 4, (4,))", "torch.randperm(4)",
                 "torch.zeros(4, dtype=torch.long)", "torch.LongTensor([1, 2, 3, 4])"):
        d = only(f"""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.sel = {expr}

            def forward(self, x):
                return self.fc(x) * self.sel
        """)
        assert [f.title.split(":")[0] for f in d.fixes] in (["Register as a buffer"], ["Register as a non-persistent buffer"]), expr


def test_torch_refuses_an_integer_parameter():
    import torch

    with pytest.raises(RuntimeError, match="floating point"):
        torch.nn.Parameter(torch.zeros(3, dtype=torch.long))


def test_parameter_fix_keeps_the_none_arm_out():
    snippet = """
    class M(nn.Module):
        def __init__(self, use: bool):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.out_bias = torch.zeros(4) if use else None

        def forward(self, x):
            return self.fc(x) + self.out_bias
    """
    fixed, after = fix_and_recheck(snippet, "TL101", 0)
    assert "self.out_bias = nn.Parameter(torch.zeros(4)) if use else None" in fixed and after == []
    fixed, after = fix_and_recheck(snippet, "TL101", 1)
    assert 'self.register_buffer("out_bias", torch.zeros(4) if use else None, persistent=False)' in fixed and after == []


@pytest.mark.parametrize(
    "expr, persistent",
    [("torch.tensor(mean)", False), ("torch.zeros(1, n, 4)", False), ("torch.randn(1, n, 4)", True),
     ("torch.zeros(4).normal_()", True), ("torch.from_numpy(arr).float()", True)],
)
def test_buffer_is_non_persistent_only_when_recomputable(expr, persistent):
    d = only(f"""
    class M(nn.Module):
        def __init__(self, mean, n: int, arr):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.stats = {expr}

        def forward(self, x):
            return self.fc(x) - self.stats
    """)
    assert ("persistent=False" not in d.fixes[0].edits[0].new_text) is persistent


def test_no_parameter_fix_when_another_method_reassigns_it():
    d = only("""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.shift = torch.zeros(4)

        def forward(self, x):
            return self.fc(x) + self.shift

        def set_shift(self, s):
            self.shift = self.shift * 0 + s
    """)
    assert len(d.fixes) == 1 and "register_buffer" in d.fixes[0].edits[0].new_text


def _exec(text: str) -> dict:
    ns: dict = {}
    exec(compile(text, "<fixed>", "exec"), ns)
    return ns


def test_fixed_constant_runs_and_follows_the_module():
    import torch

    snippet = """
    class Normalize(nn.Module):
        def __init__(self, mean):
            super().__init__()
            self.proj = nn.Linear(3, 3)
            self.mean = torch.tensor(mean)

        def forward(self, x):
            return self.proj(x - self.mean)
    """
    fixed, after = fix_and_recheck(snippet, "TL101", 0)
    assert after == []
    m = _exec(fixed)["Normalize"]([0.1, 0.2, 0.3])
    assert "mean" in dict(m.named_buffers())
    assert "mean" not in m.state_dict()  # persistent=False: old checkpoints still load
    m.load_state_dict({k: v for k, v in m.state_dict().items()})
    m = m.double()
    assert m.mean.dtype == torch.float64  # converted with the module now
    assert m(torch.ones(2, 3, dtype=torch.float64)).shape == (2, 3)


def test_fixed_running_state_is_saved():
    snippet = """
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.count = torch.zeros(1)

        def forward(self, x):
            self.count += 1
            return self.fc(x)
    """
    fixed, after = fix_and_recheck(snippet, "TL101", 0)
    assert after == []
    import torch

    m = _exec(fixed)["Counter"]()
    m(torch.ones(1, 4))
    m(torch.ones(1, 4))
    assert m.state_dict()["count"].item() == 2.0


def test_fixed_learned_scalar_is_trained():
    import torch

    snippet = """
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 2)
            self.scalar_param = torch.tensor(2.0)

        def forward(self, x):
            return self.linear(x) * self.scalar_param
    """
    fixed, after = fix_and_recheck(snippet, "TL101", 0)
    assert after == []
    m = _exec(fixed)["Scaled"]()
    assert "scalar_param" in dict(m.named_parameters())
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    m(torch.ones(1, 2)).sum().backward()
    opt.step()
    assert m.scalar_param.item() != 2.0


def test_fixed_requires_grad_tensor_is_a_parameter():
    snippet = """
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.log_temp = torch.zeros(1, requires_grad=True)

        def forward(self, a):
            return a * self.log_temp.exp()
    """
    fixed, after = fix_and_recheck(snippet, "TL101", 0)
    assert "self.log_temp = nn.Parameter(torch.zeros(1, requires_grad=True))" in fixed and after == []
    assert "log_temp" in dict(_exec(fixed)["Head"]().named_parameters())


@pytest.mark.parametrize("path", ["wild/" + n for n in (
    "env_state_on_given_device.py", "moved_to_input_device.py", "python_values_only.py", "scalar_0d_constants.py",
    "custom_apply_moves_state.py", "overwritten_or_unread.py", "cpu_side_sampling_weights.py",
    "module_used_as_plain_helper.py", "stateless_module_list.py", "mixin_assignment_once.py")])
def test_shared_wild_patterns_are_quiet(path):
    from pathlib import Path

    file = Path("/work/shared/corpus") / path
    if not file.exists():
        pytest.skip("shared corpus not available")
    _, diags = run(file.read_text(), header=False)
    assert [(d.code, d.severity) for d in diags if d.severity <= Severity.WARNING] == []
    assert [d for d in diags if d.code in ("TL101", "TL102", "TL104")] == []


def test_embedding_words_say_learned_only_of_a_placeholder():
    snippet = """
    class PatchEmbed(nn.Module):
        def __init__(self, n: int, dim: int):
            super().__init__()
            self.proj = nn.Linear(dim, dim)
            pe = torch.zeros(1, n, dim)
            {fill}
            self.pos_embed = pe

        def forward(self, x):
            return self.proj(x) + self.pos_embed
    """
    learned = only(snippet.format(fill="pass"))  # zeros of a shape, left as made: a learned embedding
    assert "like a learned parameter" in learned.message
    assert learned.fixes[0].edits[0].new_text == "nn.Parameter(pe)"
    table = only(snippet.format(fill="pe[0, :, 0::2] = torch.sin(torch.arange(n)[:, None] * 0.1)"))  # computed
    assert "like a learned parameter" not in table.message and "Expected all tensors" in table.message
    assert table.fixes[0].edits[0].new_text == 'self.register_buffer("pos_embed", pe, persistent=False)'
