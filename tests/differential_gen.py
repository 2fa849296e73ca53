"""Random layer/op stacks for the differential test of the shape engine against torch.

One generator (``generate``) writes a small module per example: a ``Net`` with layers in
``__init__`` (some nested in ``nn.Sequential``, some in small helper block classes),
a ``forward`` that chains them with tensor ops, and a call site
``out = model(torch.randn(...))``. It tracks the shape it believes each step produces
so that it can pick steps that fit; with a controlled chance it injects one mistake
(wrong in_features, wrong channels, wrong flatten size, bad reshape, cat / matmul /
broadcast mismatch, bad layer config, wrong input at the call site). The tracked shape
is only a guide: torch on the meta device is the oracle (``run_torch``).

The generator draws every decision through a ``Chooser``, so the same code serves a
hypothesis strategy (``programs()``) and a plain ``random.Random`` driver
(``RandomChooser``), as the long benchmark run uses.

``check_program`` runs both sides and compares them (``Outcome``):

- every dimension the engine states as an int, in a shape of known rank, must equal
  torch's (the ``out`` of the call site, and each ``x = ...`` line of ``forward`` that
  torch executed); a known rank must equal torch's rank;
- a TL2xx diagnostic means torch must raise; and a diagnostic that names only steps
  torch completed (in the last call, with torch failing later) is a false claim.

When the meta run disagrees with the engine, the program runs again on the CPU and
that verdict counts: some meta kernels skip checks (ConvTranspose2d's input channels
and output_padding are not checked on meta in torch 2.13).
"""
from __future__ import annotations

import math
import random
import re
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

GEN_FILENAME = "<differential>"

HEADER = ["import torch", "import torch.nn as nn", "import torch.nn.functional as F", ""]


# ============================================================================ choosers


class Chooser:
    """Where the generator's decisions come from."""

    def int(self, lo: int, hi: int) -> int:  # inclusive
        raise NotImplementedError

    def choice(self, seq):
        seq = list(seq)
        return seq[self.int(0, len(seq) - 1)]

    def chance(self, p: float) -> bool:
        """True with probability p (False is the 'simple' answer hypothesis shrinks to)."""
        if p <= 0:
            return False
        if p >= 1:
            return True
        return self.int(0, 99) >= 100 - round(p * 100)

    # (decisions use small integer ranges: hypothesis draws those uniformly, while it
    # favours small values in wide ranges)
    def weighted(self, options: list[tuple[float, Any]]):
        total = sum(w for w, _ in options)
        r = (self.int(0, 99) + 0.5) * total / 100
        acc = 0.0
        for w, v in options:
            acc += w
            if r < acc:
                return v
        return options[-1][1]


class RandomChooser(Chooser):
    def __init__(self, rng: random.Random):
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


class DrawChooser(Chooser):
    """Decisions drawn from hypothesis (``st.composite``'s ``draw``)."""

    def __init__(self, draw: Callable):
        from hypothesis import strategies as st

        self.draw = draw
        self.st = st

    def int(self, lo: int, hi: int) -> int:
        return self.draw(self.st.integers(lo, hi))


# ============================================================================ program


@dataclass
class Unit:
    """One step of forward: its statement line and the lines of the layers it uses."""

    fwd_line: int  # 0-based
    lines: set[int]  # all 0-based lines tied to the step (forward line, constructors, block class)
    target_col: int | None  # column of the `x` target (None: no `x =` target)
    desc: str


@dataclass
class Program:
    source: str
    instrumented: str  # same lines; each forward step records x's shape (for torch)
    units: list[Unit]
    outs: list[tuple[str, int]]  # (name, 0-based line) of `out = model(...)` (and `out2 = ...`)
    call_lines: set[int]  # `model = Net(...)` and the `out = ...` lines
    mistake: str | None  # what the generator injected (None: meant to be valid)


@dataclass
class _Layer:
    ctor: str
    groupable: bool = True
    call: str = "plain"  # "plain" | "rnn" | "attn" | "attn_nw"
    block: str | None = None  # helper class used


@dataclass
class _Step:
    layers: list[_Layer] = field(default_factory=list)  # consecutive layers called in order
    op: str | None = None  # a forward statement on x (the whole right-hand side)
    param: str | None = None  # an nn.Parameter constructor used by op via {P}
    loop: str | None = None  # an nn.ModuleList constructor; forward loops over it
    desc: str = ""
    residual_ok: bool = False  # a single layer that keeps the shape: may be called as `x + layer(x)`


BLOCKS = {
    "MLPBlock": [
        "class MLPBlock(nn.Module):",
        "    def __init__(self, dim, hidden):",
        "        super().__init__()",
        "        self.fc1 = nn.Linear(dim, hidden)",
        "        self.act = nn.GELU()",
        "        self.fc2 = nn.Linear(hidden, dim)",
        "        self.norm = nn.LayerNorm(dim)",
        "",
        "    def forward(self, x):",
        "        h = self.fc2(self.act(self.fc1(x)))",
        "        return self.norm(x + h)",
        "",
    ],
    "ConvBlock": [
        "class ConvBlock(nn.Module):",
        "    def __init__(self, c_in, c_out, stride=1):",
        "        super().__init__()",
        "        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)",
        "        self.bn = nn.BatchNorm2d(c_out)",
        "",
        "    def forward(self, x):",
        "        return F.relu(self.bn(self.conv(x)))",
        "",
    ],
}


class Gen:
    MAX_DIM = 64

    def __init__(self, ch: Chooser, p_mistake: float = 0.35):
        self.ch = ch
        self.p_mistake = p_mistake
        self.shape: list[int] = []
        self.steps: list[_Step] = []
        self.bad_pending = False
        self.mistake: str | None = None
        self.width: tuple[int, int] | None = None  # (default, actual) of Net's `width` parameter
        self.width_used = False
        self.blocks: list[str] = []
        self.tokens: int | None = None  # the vocabulary size when the input is token ids

    # ------------------------------------------------------------------ helpers
    @property
    def r(self) -> int:
        return len(self.shape)

    def take_bad(self, what: str) -> bool:
        """Inject a mistake here if one is pending (the caller then makes it)."""
        if self.bad_pending:
            self.bad_pending = False
            self.mistake = what
            return True
        return False

    def perturb(self, n: int) -> int:
        ch = self.ch
        if ch.chance(0.2):
            m = n * 2 if n <= 32 else n // 2
        else:
            m = n + ch.choice([-3, -2, -1, 1, 2, 3, 4, 8])
        if m < 1 or m == n:
            m = n + ch.int(1, 4)
        return m

    def size(self, lo: int = 1, hi: int = 32) -> int:
        return self.ch.int(lo, hi)

    def dimarg(self, d: int, rank: int | None = None) -> str:
        """A dim index, sometimes written negative."""
        rank = self.r if rank is None else rank
        if self.ch.chance(0.3):
            return str(d - rank)
        return str(d)

    def in_text(self, v: int) -> str:
        if self.width and self.width[1] == v and self.width_used and self.ch.chance(0.5):
            return "width"
        return str(v)

    def out_size(self, lo: int = 1, hi: int = 32) -> tuple[int, str]:
        """An output size; sometimes Net's `width` constructor parameter."""
        if self.width and not self.width_used and self.ch.chance(0.5):
            self.width_used = True
            return self.width[1], "width"
        v = self.size(lo, hi)
        return v, str(v)

    def layer(self, ctor: str, desc: str, **kw) -> bool:
        self.steps.append(_Step(layers=[_Layer(ctor, **kw)], desc=desc))
        return True

    def op(self, text: str, desc: str, param: str | None = None) -> bool:
        self.steps.append(_Step(op=text, desc=desc, param=param))
        return True

    def numel(self) -> int:
        return math.prod(self.shape)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def conv_out(L: int, k: int, s: int, p: int, d: int) -> int:
    return (L + 2 * p - d * (k - 1) - 1) // s + 1


def pool_out(L: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    num = L + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= L + p:
        out -= 1
    return out


# ============================================================================ layer steps


def st_linear(g: Gen) -> bool:
    if g.r < 1:
        return False
    ch = g.ch
    n = g.shape[-1]
    out, out_t = g.out_size(1, 48)
    bad = g.take_bad("Linear in_features")
    n_in = g.perturb(n) if bad else n
    in_t = str(n_in) if bad else g.in_text(n)
    style = ch.int(0, 2)
    if style == 0:
        ctor = f"nn.Linear({in_t}, {out_t})"
    elif style == 1:
        ctor = f"nn.Linear(in_features={in_t}, out_features={out_t})"
    else:
        ctor = f"nn.Linear({in_t}, {out_t}, bias=False)"
    g.shape[-1] = out
    return g.layer(ctor, "Linear")


def st_conv(g: Gen) -> bool:
    ch = g.ch
    nd = ch.choice([1, 2, 2, 3])
    batched = g.r == nd + 2
    if not batched and not (g.r == nd + 1 and ch.chance(0.1)):
        return False
    cdim = 1 if batched else 0
    C = g.shape[cdim]
    spatial = g.shape[cdim + 1:]
    groups = 1
    if ch.chance(0.25):
        groups = ch.choice(_divisors(C))
    if g.width and not g.width_used and groups == 1 and ch.chance(0.3):
        g.width_used = True
        out, out_t = g.width[1], "width"
    else:
        out = groups * ch.int(1, max(1, 16 // groups))
        out_t = str(out)
    s = ch.weighted([(3, 1), (2, 2), (1, 3)])
    d = ch.weighted([(4, 1), (1, 2)])
    k = ch.int(1, 5)
    pad: Any = ch.int(0, k // 2 + 1)
    if s == 1 and ch.chance(0.3):
        pad = ch.choice(["same", "valid"])
    if nd > 1 and ch.chance(0.2):  # different sizes per spatial dimension, as tuples
        return _conv_tuples(g, nd, batched, cdim, C, groups, out, out_t)
    bad_kind = None
    if g.take_bad("Conv"):
        bad_kind = ch.weighted([(6, "in"), (1, "groups"), (1, "kernel"), (1, "same_stride")])
        g.mistake = f"Conv {bad_kind}"
    C_in = C
    if bad_kind == "in":
        C_in = g.perturb(C)
    elif bad_kind == "groups":
        groups = ch.int(2, 4)
        if C % groups == 0 and out % groups == 0:
            out += 1
            out_t = str(out)
    elif bad_kind == "kernel":
        pad, d = 0, 1
        k = max(spatial) + ch.int(1, 3)
        if k > 12:
            return False
    elif bad_kind == "same_stride":
        pad, s = "same", ch.int(2, 3)

    def one(L: int) -> int:
        if pad == "same":
            return L
        p = 0 if pad == "valid" else pad
        return conv_out(L, k, s, p, d)

    new_sp = [one(L) for L in spatial]
    if bad_kind is None and any(v < 1 for v in new_sp):
        k, d = 1, 1
        new_sp = [one(L) for L in spatial]
    args = [g.in_text(C_in) if C_in == C else str(C_in), out_t]
    if ch.chance(0.2) and nd > 1:
        args.append("(" + ", ".join([str(k)] * nd) + ")")
    else:
        args.append(str(k) if ch.chance(0.6) else f"kernel_size={k}")
    if s != 1 or ch.chance(0.1):
        args.append(f"stride={s}")
    if pad != 0 or ch.chance(0.1):
        args.append(f"padding={pad!r}" if isinstance(pad, str) else f"padding={pad}")
    if d != 1:
        args.append(f"dilation={d}")
    if groups != 1:
        args.append(f"groups={groups}")
    if args[2].startswith("kernel_size") and not args[1].startswith("out"):
        args[0], args[1] = f"in_channels={args[0]}", f"out_channels={args[1]}"
    g.shape[cdim] = out
    g.shape[cdim + 1:] = new_sp
    return g.layer(f"nn.Conv{nd}d({', '.join(args)})", f"Conv{nd}d")


def _conv_tuples(g: Gen, nd: int, batched: bool, cdim: int, C: int, groups: int, out: int, out_t: str) -> bool:
    ch = g.ch
    spatial = g.shape[cdim + 1:]
    ks = [ch.int(1, 5) for _ in range(nd)]
    ss = [ch.int(1, 3) for _ in range(nd)]
    ps = [ch.int(0, k // 2) for k in ks]
    ds = [ch.weighted([(4, 1), (1, 2)]) for _ in range(nd)]
    bad = g.take_bad("Conv in (tuple args)")
    new_sp = [conv_out(L, k, s_, p, d_) for L, k, s_, p, d_ in zip(spatial, ks, ss, ps, ds)]
    if any(v < 1 for v in new_sp):
        return False
    tup = lambda v: "(" + ", ".join(map(str, v)) + ")"  # noqa: E731
    c_in = g.perturb(C) if bad else C
    args = [str(c_in), out_t, f"kernel_size={tup(ks)}", f"stride={tup(ss)}", f"padding={tup(ps)}"]
    if any(v != 1 for v in ds):
        args.append(f"dilation={tup(ds)}")
    if groups != 1:
        args.append(f"groups={groups}")
    g.shape[cdim] = out
    g.shape[cdim + 1:] = new_sp
    return g.layer(f"nn.Conv{nd}d({', '.join(args)})", f"Conv{nd}d tuples")


def st_convT(g: Gen) -> bool:
    ch = g.ch
    if g.r != 4:
        return False
    C = g.shape[1]
    out = ch.int(1, 16)
    k = ch.int(1, 4)
    s = ch.int(1, 3)
    p = ch.int(0, max(0, k - 1))
    d = 1
    op = ch.int(0, max(0, s - 1)) if ch.chance(0.5) else 0
    bad = None
    if g.take_bad("ConvTranspose2d"):
        bad = ch.weighted([(4, "in"), (1, "output_padding")])
        g.mistake = f"ConvTranspose2d {bad}"
    C_in = g.perturb(C) if bad == "in" else C
    if bad == "output_padding":
        op = max(s, d) + ch.int(0, 1)
    new_sp = [(L - 1) * s - 2 * p + d * (k - 1) + op + 1 for L in g.shape[2:]]
    if any(v < 1 or v > Gen.MAX_DIM for v in new_sp):
        if bad:
            return False
        p, op, s = 0, 0, 1
        new_sp = [(L - 1) * s + (k - 1) + 1 for L in g.shape[2:]]
        if any(v > Gen.MAX_DIM for v in new_sp):
            return False
    args = [str(C_in), str(out), str(k)]
    if s != 1:
        args.append(f"stride={s}")
    if p:
        args.append(f"padding={p}")
    if op:
        args.append(f"output_padding={op}")
    g.shape[1] = out
    g.shape[2:] = new_sp
    return g.layer(f"nn.ConvTranspose2d({', '.join(args)})", "ConvTranspose2d")


def st_pool(g: Gen) -> bool:
    ch = g.ch
    nd = ch.choice([1, 2, 2])
    if g.r not in (nd + 1, nd + 2) or (g.r == nd + 1 and not ch.chance(0.15)):
        return False
    kind = ch.choice(["Max", "Avg"])
    spatial = g.shape[-nd:]
    k = ch.int(1, 4)
    s = k if ch.chance(0.5) else ch.int(1, 3)
    p = ch.int(0, k // 2) if ch.chance(0.4) else 0
    d = ch.int(1, 2) if kind == "Max" and ch.chance(0.15) else 1
    ceil = ch.chance(0.3)
    bad = g.take_bad("pool kernel too large")
    if bad:
        p, d = 0, 1
        k = max(spatial) + ch.int(1, 3)
        if k > 12:
            return False
    new_sp = [pool_out(L, k, s, p, d, ceil) for L in spatial]
    if not bad and any(v < 1 for v in new_sp):
        k, s, p, d = 1, 1, 0, 1
        new_sp = list(spatial)
    args = [str(k)]
    if s != k or ch.chance(0.3):
        args.append(str(s) if ch.chance(0.5) else f"stride={s}")
    if p:
        args.append(f"padding={p}")
    if d != 1:
        args.append(f"dilation={d}")
    if ceil:
        args.append("ceil_mode=True")
    g.shape[-nd:] = new_sp
    if ch.chance(0.2) and not bad:
        return g.op(f"F.{kind.lower()}_pool{nd}d(x, {', '.join(args)})", f"F.{kind.lower()}_pool{nd}d")
    return g.layer(f"nn.{kind}Pool{nd}d({', '.join(args)})", f"{kind}Pool{nd}d")


def st_adaptive(g: Gen) -> bool:
    ch = g.ch
    nd = ch.choice([1, 2, 2])
    if g.r not in (nd + 1, nd + 2):
        return False
    kind = ch.choice(["Avg", "Avg", "Max"])
    if nd == 1:
        o = ch.int(1, 6)
        g.shape[-1] = o
        return g.layer(f"nn.Adaptive{kind}Pool1d({o})", "AdaptivePool1d")
    form = ch.int(0, 2)
    if form == 0:
        o = ch.int(1, 6)
        arg, new = str(o), [o, o]
    elif form == 1:
        a, b = ch.int(1, 6), ch.int(1, 6)
        arg, new = f"({a}, {b})", [a, b]
    else:
        b = ch.int(1, 6)
        arg, new = f"(None, {b})", [g.shape[-2], b]
    g.shape[-2:] = new
    if ch.chance(0.2):
        return g.op(f"F.adaptive_{kind.lower()}_pool2d(x, {arg})", "F.adaptive_pool2d")
    return g.layer(f"nn.Adaptive{kind}Pool2d({arg})", "AdaptivePool2d")


def st_batchnorm(g: Gen) -> bool:
    nd = {2: 1, 3: 1, 4: 2, 5: 3}.get(g.r)
    if nd is None:
        return False
    C = g.shape[1]
    if g.numel() // C <= 1:
        return False
    bad = g.take_bad("BatchNorm channels")
    c = g.perturb(C) if bad else C
    return g.layer(f"nn.BatchNorm{nd}d({c if bad else g.in_text(C)})", f"BatchNorm{nd}d")


def st_instancenorm(g: Gen) -> bool:
    """InstanceNorm: without affine / running stats torch only warns about a wrong
    num_features; with affine=True the weight's size must match."""
    ch = g.ch
    nd = {3: 1, 4: 2, 5: 3}.get(g.r)
    if nd is None:
        return False
    C = g.shape[1]
    affine = ch.chance(0.5)
    if math.prod(g.shape[2:]) <= 1:
        return False
    bad = g.take_bad("InstanceNorm channels")
    c = g.perturb(C) if bad else C
    extra = ", affine=True" if affine else ""
    return g.layer(f"nn.InstanceNorm{nd}d({c}{extra})", f"InstanceNorm{nd}d")


def st_layernorm(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1:
        return False
    bad = g.take_bad("LayerNorm normalized_shape")
    last = g.perturb(g.shape[-1]) if bad else g.shape[-1]
    form = ch.int(0, 3)
    if form == 0 or (form == 3 and g.r < 2):
        arg = str(last)
    elif form == 1:
        arg = f"({last},)"
    elif form == 2:
        arg = f"[{last}]"
    else:
        arg = f"[{g.shape[-2]}, {last}]"
    extra = ", elementwise_affine=False" if ch.chance(0.1) else ""
    return g.layer(f"nn.LayerNorm({arg}{extra})", "LayerNorm")


def st_groupnorm(g: Gen) -> bool:
    ch = g.ch
    if g.r < 2:
        return False
    C = g.shape[1]
    groups = ch.choice(_divisors(C))
    bad = None
    if g.take_bad("GroupNorm"):
        bad = ch.weighted([(3, "channels"), (1, "groups")])
        g.mistake = f"GroupNorm {bad}"
    c = C
    if bad == "channels":
        c = g.perturb(C)
        groups = ch.choice(_divisors(c))
    elif bad == "groups":
        cands = [k for k in range(2, 9) if C % k]
        if not cands:
            return False
        groups = ch.choice(cands)
    return g.layer(f"nn.GroupNorm({groups}, {c})", "GroupNorm")


def st_pointwise(g: Gen) -> bool:
    ch = g.ch
    if ch.chance(0.4):
        return g.layer(ch.choice(["nn.ReLU()", "nn.GELU()", "nn.Dropout(0.1)", "nn.Tanh()", "nn.Identity()",
                                  "nn.ReLU(inplace=True)", "nn.SiLU()", "nn.Dropout(p=0.5)", "nn.LeakyReLU(0.2)"]),
                       "pointwise layer")
    return g.op(ch.choice(["F.relu(x)", "torch.relu(x)", "x.relu()", "F.gelu(x)", "torch.tanh(x)", "x.sigmoid()",
                           "F.dropout(x, 0.1, self.training)", "x.contiguous()", "x.clone()", "x.float()",
                           "x * torch.sigmoid(x)", "x * 2", "x + 1.0", "x + x", "-x", "x.detach()"]),
                "pointwise op")


def st_flatten_linear(g: Gen) -> bool:
    ch = g.ch
    if g.r < 2:
        return False
    r = g.r
    start = 1 if ch.chance(0.75) else ch.int(0, r - 2)
    end = r - 1 if ch.chance(0.8) else ch.int(start, r - 1)
    dims = g.shape[start:end + 1]
    n = math.prod(dims)
    if n > 4096:
        return False
    if start == 1 and end == r - 1:
        fl = ch.choice(["nn.Flatten()", "nn.Flatten(1)", "nn.Flatten(start_dim=1)"])
    elif end == r - 1:
        fl = f"nn.Flatten({g.dimarg(start)})"
    else:
        fl = f"nn.Flatten({g.dimarg(start)}, {g.dimarg(end)})"
    g.shape[start:end + 1] = [n]
    layers = [_Layer(fl)]
    if end == r - 1 and ch.chance(0.85):
        out, out_t = g.out_size(1, 32)
        bad = g.take_bad("flatten size")
        if bad:
            wrong = list(dims)
            i = ch.int(0, len(wrong) - 1)
            wrong[i] = g.perturb(wrong[i])
            in_t = " * ".join(map(str, wrong)) if ch.chance(0.6) and len(wrong) > 1 else str(math.prod(wrong))
        else:
            in_t = " * ".join(map(str, dims)) if ch.chance(0.5) and len(dims) > 1 else str(n)
        layers.append(_Layer(f"nn.Linear({in_t}, {out_t})"))
        g.shape[-1] = out
    g.steps.append(_Step(layers=layers, desc="Flatten+Linear"))
    return True


def st_flatten_op_linear(g: Gen) -> bool:
    """`x.view(x.size(0), -1)` / `torch.flatten(x, 1)` then a Linear (TL203's pattern)."""
    ch = g.ch
    if g.r < 3:
        return False
    dims = g.shape[1:]
    n = math.prod(dims)
    if n > 4096:
        return False
    flat = ch.choice(["x.view(x.size(0), -1)", "torch.flatten(x, 1)", "x.flatten(1)", "x.reshape(x.shape[0], -1)",
                      f"x.view(-1, {n})"])
    g.steps.append(_Step(op=flat, desc="flatten op"))
    g.shape = [g.shape[0], n]
    out, out_t = g.out_size(1, 32)
    if g.take_bad("flatten size (op)"):
        wrong = list(dims)
        i = ch.int(0, len(wrong) - 1)
        wrong[i] = g.perturb(wrong[i])
        in_t = " * ".join(map(str, wrong)) if ch.chance(0.6) else str(math.prod(wrong))
    else:
        in_t = " * ".join(map(str, dims)) if ch.chance(0.5) else str(n)
    g.steps.append(_Step(layers=[_Layer(f"nn.Linear({in_t}, {out_t})")], desc="Linear after flatten"))
    g.shape[-1] = out
    return True


def st_unflatten(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1 or g.r > 4:
        return False
    d = ch.int(0, g.r - 1)
    n = g.shape[d]
    divs = [a for a in _divisors(n) if 1 < a < n]
    if not divs:
        return False
    a = ch.choice(divs)
    b = n // a
    bad = g.take_bad("Unflatten sizes")
    bb = g.perturb(b) if bad else b
    btxt = "-1" if not bad and ch.chance(0.2) else str(bb)
    g.shape[d:d + 1] = [a, b]
    return g.layer(f"nn.Unflatten({g.dimarg(d, g.r - 1)}, ({a}, {btxt}))", "Unflatten")


def st_rnn(g: Gen) -> bool:
    ch = g.ch
    if g.r != 3 and not (g.r == 2 and ch.chance(0.1)):
        return False
    n = g.shape[-1]
    kind = ch.choice(["LSTM", "GRU", "LSTM", "RNN"])
    h = ch.int(1, 16)
    layers = ch.weighted([(3, 1), (1, 2)])
    bf = ch.chance(0.5)
    bi = ch.chance(0.4)
    bad = g.take_bad(f"{kind} input_size")
    n_in = g.perturb(n) if bad else n
    args = [str(n_in) if bad else g.in_text(n), str(h)] if ch.chance(0.6) else [
        f"input_size={n_in if bad else g.in_text(n)}", f"hidden_size={h}"]
    if layers != 1:
        args.append(f"num_layers={layers}")
    if bf:
        args.append("batch_first=True")
    if bi:
        args.append("bidirectional=True")
    if kind == "LSTM" and h > 1 and ch.chance(0.15):
        proj = ch.int(1, h - 1)
        args.append(f"proj_size={proj}")
        h = proj
    g.shape[-1] = h * (2 if bi else 1)
    return g.layer(f"nn.{kind}({', '.join(args)})", kind, groupable=False, call="rnn")


def st_mha(g: Gen) -> bool:
    ch = g.ch
    if g.r != 3 and not (g.r == 2 and ch.chance(0.1)):
        return False
    E = g.shape[-1]
    heads = ch.choice(_divisors(E)[:4])
    bad = None
    if g.take_bad("MultiheadAttention"):
        bad = ch.weighted([(3, "embed_dim"), (1, "heads")])
        g.mistake = f"MultiheadAttention {bad}"
    e = E
    if bad == "embed_dim":
        e = g.perturb(E)
        heads = ch.choice(_divisors(e)[:4])
    elif bad == "heads":
        cands = [k for k in range(2, 9) if E % k]
        if not cands:
            return False
        heads = ch.choice(cands)
    bf = ch.chance(0.6)
    args = [str(e) if e != E else g.in_text(E), str(heads)]
    if bf:
        args.append("batch_first=True")
    call = "attn_nw" if ch.chance(0.25) else "attn"
    return g.layer(f"nn.MultiheadAttention({', '.join(args)})", "MultiheadAttention", groupable=False, call=call)


def st_transformer(g: Gen) -> bool:
    ch = g.ch
    if g.r != 3:
        return False
    E = g.shape[-1]
    heads = ch.choice(_divisors(E)[:4])
    bad = g.take_bad("TransformerEncoderLayer d_model")
    e = g.perturb(E) if bad else E
    if bad:
        heads = ch.choice(_divisors(e)[:4])
    ff = ch.int(4, 32)
    bf = ", batch_first=True" if ch.chance(0.6) else ""
    layer = f"nn.TransformerEncoderLayer(d_model={e}, nhead={heads}, dim_feedforward={ff}{bf})"
    if ch.chance(0.3):
        return g.layer(f"nn.TransformerEncoder({layer}, num_layers=2)", "TransformerEncoder")
    return g.layer(layer, "TransformerEncoderLayer")


def st_upsample(g: Gen) -> bool:
    ch = g.ch
    if g.r not in (3, 4, 5):
        return False
    sp = g.shape[2:]
    form = ch.int(0, 2)
    if form == 0:
        f = ch.choice([2, 2, 3, 2.0, 0.5, 1.5])
        new = [math.floor(L * f) for L in sp]
        arg = f"scale_factor={f}"
    elif form == 1:
        new = [ch.int(1, 24) for _ in sp]
        if ch.chance(0.3):
            new = [new[0]] * len(sp)
        arg = f"size={new[0]}" if len(set(new)) == 1 and ch.chance(0.5) else f"size={tuple(new)}"
    else:
        f = ch.choice([2, 3])
        new = [L * f for L in sp]
        arg = f"scale_factor=({', '.join([str(f)] * len(sp))})" if ch.chance(0.3) else f"scale_factor={f}"
    if any(v < 1 or v > Gen.MAX_DIM for v in new):
        return False
    mode = ""
    if g.r == 4 and ch.chance(0.3):
        mode = ", mode='bilinear', align_corners=False"
    elif g.r == 3 and ch.chance(0.3):
        mode = ", mode='linear'"
    g.shape[2:] = new
    if ch.chance(0.5):
        return g.op(f"F.interpolate(x, {arg}{mode})", "F.interpolate")
    return g.layer(f"nn.Upsample({arg}{mode})", "Upsample")


def st_pixelshuffle(g: Gen) -> bool:
    ch = g.ch
    if g.r != 4:
        return False
    B, C, H, W = g.shape
    if ch.chance(0.5):
        rs = [r for r in (2, 3) if C % (r * r) == 0 and H * r <= Gen.MAX_DIM and W * r <= Gen.MAX_DIM]
        bad = not rs and g.take_bad("PixelShuffle channels")
        if bad:
            return g.layer("nn.PixelShuffle(2)", "PixelShuffle")
        if not rs:
            return False
        r = ch.choice(rs)
        g.shape = [B, C // (r * r), H * r, W * r]
        return g.layer(f"nn.PixelShuffle({r})", "PixelShuffle")
    rs = [r for r in (2, 3) if H % r == 0 and W % r == 0 and C * r * r <= Gen.MAX_DIM]
    if not rs:
        return False
    r = ch.choice(rs)
    g.shape = [B, C * r * r, H // r, W // r]
    return g.layer(f"nn.PixelUnshuffle({r})", "PixelUnshuffle")


def st_modulelist(g: Gen) -> bool:
    """`self.layers = nn.ModuleList([...])` and `for layer in self.layers: x = layer(x)`;
    the mistake: a layer that changes the size the next iteration reads."""
    ch = g.ch
    if g.r < 1:
        return False
    k = ch.int(1, 3)
    bad = k >= 2 and g.take_bad("ModuleList layer changes the size")
    if g.r == 4 and ch.chance(0.4):
        C = g.shape[1]
        c_out = g.perturb(C) if bad else C
        item = f"nn.Conv2d({C}, {c_out}, 3, padding=1)"
    elif ch.chance(0.3):
        n = g.shape[-1]
        if "MLPBlock" not in g.blocks:
            g.blocks.append("MLPBlock")
        item = f"MLPBlock({n}, {ch.int(1, 16)})"
        if bad:
            return False
    else:
        n = g.shape[-1]
        item = f"nn.Linear({n}, {g.perturb(n) if bad else n})"
    form = ch.int(0, 1)
    ctor = f"nn.ModuleList([{item} for _ in range({k})])" if form == 0 else \
        "nn.ModuleList([" + ", ".join([item] * k) + "])"
    g.steps.append(_Step(loop=ctor, desc="ModuleList loop"))
    return True


def st_block(g: Gen) -> bool:
    ch = g.ch
    if g.r == 4 and ch.chance(0.5):
        C = g.shape[1]
        out = ch.int(1, 16)
        stride = ch.choice([1, 1, 2])
        bad = g.take_bad("ConvBlock c_in")
        c = g.perturb(C) if bad else C
        args = f"{c}, {out}" + (f", stride={stride}" if stride != 1 else "") if ch.chance(0.7) else \
            f"c_in={c}, c_out={out}, stride={stride}"
        g.shape[1] = out
        g.shape[2:] = [(L - 1) // stride + 1 for L in g.shape[2:]]
        if "ConvBlock" not in g.blocks:
            g.blocks.append("ConvBlock")
        return g.layer(f"ConvBlock({args})", "ConvBlock", block="ConvBlock")
    if g.r < 1:
        return False
    n = g.shape[-1]
    hid = ch.int(1, 32)
    bad = g.take_bad("MLPBlock dim")
    d = g.perturb(n) if bad else n
    if "MLPBlock" not in g.blocks:
        g.blocks.append("MLPBlock")
    return g.layer(f"MLPBlock({d}, {hid})" if ch.chance(0.6) else f"MLPBlock(dim={d}, hidden={hid})",
                   "MLPBlock", block="MLPBlock")


# ============================================================================ op steps


def _total_after_reshape(g: Gen) -> list[list[int]]:
    """Candidate target shapes with the same element count."""
    s = g.shape
    cands = []
    if g.r >= 2:
        cands.append([s[0], math.prod(s[1:])])
        cands.append([math.prod(s[:-1]), s[-1]])
        i = g.ch.int(0, g.r - 2)
        cands.append(s[:i] + [s[i] * s[i + 1]] + s[i + 2:])
    for i, n in enumerate(s):
        divs = [a for a in _divisors(n) if 1 < a < n]
        if divs and g.r < 5:
            a = g.ch.choice(divs)
            cands.append(s[:i] + [a, n // a] + s[i + 1:])
    cands.append([math.prod(s)])
    return [c for c in cands if max(c) <= 4096]


def st_reshape(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1:
        return False
    cands = _total_after_reshape(g)
    if not cands:
        return False
    new = ch.choice(cands)
    bad = g.take_bad("reshape")
    texts = [str(v) for v in new]
    if len(new) >= 1 and new[0] == g.shape[0] and g.r >= 2 and ch.chance(0.5):
        texts[0] = ch.choice(["x.size(0)", "x.shape[0]"])
    neg = ch.int(0, len(new) - 1) if ch.chance(0.6) else None
    if neg is not None:
        texts[neg] = "-1"
    if bad:
        kind = ch.weighted([(3, "count"), (1, "two -1")])
        if kind == "two -1" and len(new) >= 2:
            j = ch.choice([i for i in range(len(new)) if i != neg]) if neg is not None else 0
            texts[j] = "-1"
            if neg is None:
                texts[-1] = "-1"
            g.mistake = "reshape two -1"
        else:
            cand = [i for i in range(len(new)) if i != neg]
            if not cand:
                texts.append(str(ch.int(2, 5)))  # (-1, 3) with numel % 3 maybe != 0
                g.mistake = "reshape extra dim"
            else:
                i = ch.choice(cand)
                texts[i] = str(g.perturb(new[i]))
                g.mistake = "reshape count"
    g.shape = list(new)
    meth = ch.int(0, 3)
    if meth == 0:
        return g.op(f"x.view({', '.join(texts)})", "view")
    if meth == 1:
        return g.op(f"x.reshape({', '.join(texts)})", "reshape")
    tup = "(" + ", ".join(texts) + ("," if len(texts) == 1 else "") + ")"
    if meth == 2:
        return g.op(f"torch.reshape(x, {tup})", "torch.reshape")
    return g.op(f"x.view({tup})", "view tuple")


def st_flatten_op(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1:
        return False
    r = g.r
    start = ch.int(0, r - 1) if ch.chance(0.4) else min(1, r - 1)
    end = r - 1 if ch.chance(0.8) else ch.int(start, r - 1)
    n = math.prod(g.shape[start:end + 1])
    if n > 4096:
        return False
    g.shape[start:end + 1] = [n]
    if end == r - 1:
        if start == 0 and ch.chance(0.3):
            return g.op("x.flatten()", "flatten")
        return g.op(ch.choice([f"x.flatten({g.dimarg(start, r)})", f"torch.flatten(x, {g.dimarg(start, r)})"]),
                    "flatten")
    return g.op(f"x.flatten({g.dimarg(start, r)}, {g.dimarg(end, r)})", "flatten range")


def st_permute(g: Gen) -> bool:
    ch = g.ch
    if g.r < 2:
        return False
    r = g.r
    perm = list(range(r))
    for i in range(r - 1, 0, -1):
        j = ch.int(0, i)
        perm[i], perm[j] = perm[j], perm[i]
    texts = [g.dimarg(p, r) for p in perm]
    g.shape = [g.shape[p] for p in perm]
    form = ch.int(0, 2)
    if form == 0:
        return g.op(f"x.permute({', '.join(texts)})", "permute")
    if form == 1:
        return g.op(f"x.permute(({', '.join(texts)}))", "permute tuple")
    return g.op(f"torch.permute(x, ({', '.join(texts)}))", "torch.permute")


def st_transpose(g: Gen) -> bool:
    ch = g.ch
    if g.r < 2:
        return False
    r = g.r
    if r == 2 and ch.chance(0.3):
        g.shape = g.shape[::-1]
        return g.op(ch.choice(["x.t()", "x.T"]), "t")
    if ch.chance(0.25):
        g.shape[-1], g.shape[-2] = g.shape[-2], g.shape[-1]
        return g.op(ch.choice(["x.transpose(-1, -2)", "x.mT", "x.transpose(-2, -1)"]), "transpose last")
    a, b = ch.int(0, r - 1), ch.int(0, r - 1)
    g.shape[a], g.shape[b] = g.shape[b], g.shape[a]
    return g.op(ch.choice([f"x.transpose({g.dimarg(a, r)}, {g.dimarg(b, r)})",
                           f"torch.transpose(x, {g.dimarg(a, r)}, {g.dimarg(b, r)})",
                           f"x.swapaxes({g.dimarg(a, r)}, {g.dimarg(b, r)})"]), "transpose")


def st_squeeze(g: Gen) -> bool:
    ch = g.ch
    r = g.r
    if r < 5 and (ch.chance(0.5) or r == 0):
        d = ch.int(0, r)
        g.shape.insert(d, 1)
        if d == 1 and r >= 1 and ch.chance(0.3):
            return g.op("x[:, None]", "index None")
        return g.op(ch.choice([f"x.unsqueeze({g.dimarg(d, r + 1)})", f"torch.unsqueeze(x, {g.dimarg(d, r + 1)})"]),
                    "unsqueeze")
    if r < 2:
        return False
    ones = [i for i, v in enumerate(g.shape) if v == 1]
    if ones and ch.chance(0.7):
        d = ch.choice(ones)
        g.shape.pop(d)
        return g.op(f"x.squeeze({g.dimarg(d, r)})", "squeeze(d)")
    if ch.chance(0.5):
        d = ch.int(0, r - 1)
        if g.shape[d] != 1:  # a no-op in torch
            return g.op(f"x.squeeze({g.dimarg(d, r)})", "squeeze(d) no-op")
    if len(ones) == r:
        return False
    g.shape = [v for v in g.shape if v != 1]
    return g.op("x.squeeze()", "squeeze()")


def st_chunk(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1:
        return False
    r = g.r
    d = ch.int(0, r - 1)
    n = g.shape[d]
    kind = ch.int(0, 3)
    if kind == 0:  # chunk
        k = ch.int(1, 4)
        c = -(-n // k)
        num = -(-n // c)
        idx = ch.choice([0, -1] + ([1] if num > 1 else []))
        sizes = [c] * (num - 1) + [n - c * (num - 1)]
        g.shape[d] = sizes[idx]
        return g.op(ch.choice([f"x.chunk({k}, dim={g.dimarg(d, r)})[{idx}]", f"torch.chunk(x, {k}, {g.dimarg(d, r)})[{idx}]"]),
                    "chunk")
    if kind == 1:  # split by size
        s = ch.int(1, max(1, n))
        num = -(-n // s)
        sizes = [s] * (num - 1) + [n - s * (num - 1)]
        idx = ch.choice([0, -1])
        g.shape[d] = sizes[idx]
        return g.op(ch.choice([f"x.split({s}, dim={g.dimarg(d, r)})[{idx}]", f"torch.split(x, {s}, {g.dimarg(d, r)})[{idx}]"]),
                    "split")
    if kind == 2 and n >= 2:  # split by sizes
        a = ch.int(1, n - 1)
        bad = g.take_bad("split sizes")
        b = n - a + (ch.choice([-1, 1]) if bad and n - a > 1 else (1 if bad else 0))
        idx = ch.int(0, 1)
        g.shape[d] = [a, n - a][idx]
        return g.op(f"x.split([{a}, {b}], dim={g.dimarg(d, r)})[{idx}]", "split list")
    # unbind / select
    g.shape.pop(d)
    if ch.chance(0.5):
        return g.op(f"x.unbind({g.dimarg(d, r)})[0]", "unbind")
    i = ch.int(0, n - 1)
    return g.op(f"x.select({g.dimarg(d, r)}, {i})", "select")


def st_cat(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1:
        return False
    r = g.r
    kind = ch.int(0, 3)
    if kind == 3 and g.shape[-1] >= 2 and g.shape[-1] * 2 <= Gen.MAX_DIM:
        n = g.shape[-1]
        k = ch.int(1, n - 1)
        if g.take_bad("cat mismatch"):
            cands = [i for i in range(r - 1)]
            if not cands:
                return g.op(f"torch.stack([x, x[..., :{k}]])", "stack mismatch")
            d = ch.choice(cands)
            if ch.chance(0.3):
                return g.op(f"torch.stack([x, x[..., :{k}]], dim={g.dimarg(d, r)})", "stack mismatch")
            return g.op(f"torch.cat([x, x[..., :{k}]], dim={g.dimarg(d, r)})", "cat mismatch")
        g.shape[-1] = n + k
        return g.op(ch.choice([f"torch.cat([x, x[..., :{k}]], dim=-1)", f"torch.cat((x, x[..., :{k}]), {r - 1})"]), "cat slice")
    if kind == 2 and r < 5:
        d = ch.int(0, r)
        g.shape.insert(d, 2)
        return g.op(ch.choice([f"torch.stack([x, x], dim={g.dimarg(d, r + 1)})", f"torch.stack((x, x * 2), {g.dimarg(d, r + 1)})"]),
                    "stack")
    d = ch.int(0, r - 1)
    if g.shape[d] * 2 > Gen.MAX_DIM:
        return False
    g.shape[d] *= 2
    return g.op(ch.choice([f"torch.cat([x, x], dim={g.dimarg(d, r)})", f"torch.cat((x, torch.zeros_like(x)), {g.dimarg(d, r)})",
                           f"torch.concat([x, x.relu()], {g.dimarg(d, r)})"]), "cat")


def st_matmul(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1:
        return False
    r = g.r
    n = g.shape[-1]
    kind = ch.int(0, 5)
    if kind == 0 and r >= 2:
        m = g.shape[-2]
        if g.take_bad("matmul self"):
            if m == n:
                return False
            return g.op("x @ x", "matmul mismatch")
        g.shape[-1] = m
        return g.op(ch.choice(["x @ x.transpose(-1, -2)", "torch.matmul(x, x.mT)"]), "x @ x^T")
    if kind == 1 and r == 3:
        bad = g.take_bad("bmm")
        g.shape[-1] = g.shape[-2]
        if bad:
            return g.op("torch.bmm(x, x)" if g.shape[1] != n else "torch.bmm(x, x[:, :, :-1])", "bmm mismatch") \
                if n > 1 else False
        return g.op("torch.bmm(x, x.transpose(1, 2))", "bmm")
    k, k_t = g.out_size(1, 32)
    bad = g.take_bad("matmul inner dim")
    nn_ = g.perturb(n) if bad else n
    if kind == 2 and r == 2:
        g.shape[-1] = k
        return g.op(f"torch.mm(x, torch.randn({nn_}, {k_t}))", "mm")
    if kind == 3:
        g.shape[-1] = k
        return g.op(f"F.linear(x, torch.randn({k_t}, {nn_}))", "F.linear")
    if kind == 4:
        if r == 1:
            g.shape = [k]
        else:
            g.shape[-1] = k
        return g.op("x @ self.{P}", "matmul param", param=f"nn.Parameter(torch.randn({nn_}, {k_t}))")
    if r == 1:
        g.shape = [k]
    else:
        g.shape[-1] = k
    return g.op(ch.choice([f"x @ torch.randn({nn_}, {k_t})", f"torch.matmul(x, torch.randn({nn_}, {k_t}))"]), "matmul")


def st_broadcast(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1:
        return False
    s = g.shape
    L = ch.int(1, min(g.r + 1, 5))
    other = []
    for i in range(1, L + 1):
        if i <= g.r:
            xd = s[-i]
            if xd == 1:
                other.append(ch.choice([1, ch.int(1, 6)]))
            else:
                other.append(ch.choice([xd, 1]))
        else:
            other.append(ch.int(1, 3))
    other.reverse()
    if g.take_bad("broadcast"):
        cand = [i for i in range(1, min(L, g.r) + 1) if s[-i] != 1]
        if not cand:
            return False
        i = ch.choice(cand)
        other[-i] = g.perturb(s[-i])
        if other[-i] == 1:
            other[-i] = s[-i] + 1
    out = []
    for i in range(1, max(L, g.r) + 1):
        a = s[-i] if i <= g.r else 1
        b = other[-i] if i <= L else 1
        out.append(max(a, b) if 1 in (a, b) else a)
    out.reverse()
    fac = ch.choice(["torch.randn", "torch.ones", "torch.rand", "torch.zeros"])
    op = ch.choice(["+", "*", "-", "/"])
    g.shape = out
    if ch.chance(0.2):
        return g.op(f"{fac}({', '.join(map(str, other))}) {op} x", "broadcast (left)")
    return g.op(f"x {op} {fac}({', '.join(map(str, other))})", "broadcast")


def st_reduce(g: Gen) -> bool:
    ch = g.ch
    if g.r < 2:
        return False
    r = g.r
    keep = ch.chance(0.4)
    if ch.chance(0.2) and r >= 3:
        a, b = sorted((ch.int(0, r - 1), ch.int(0, r - 1)))
        if a == b:
            return False
        dims = f"({g.dimarg(a, r)}, {g.dimarg(b, r)})"
        for d in (b, a):
            if keep:
                g.shape[d] = 1
            else:
                g.shape.pop(d)
        kk = ", keepdim=True" if keep else ""
        return g.op(ch.choice([f"x.mean(dim={dims}{kk})", f"x.sum({dims}{kk})", f"torch.mean(x, {dims}{kk})"]), "reduce 2 dims")
    d = ch.int(0, r - 1)
    da = g.dimarg(d, r)
    if keep:
        g.shape[d] = 1
    else:
        g.shape.pop(d)
    kk = ", keepdim=True" if keep else ""
    return g.op(ch.choice([f"x.sum(dim={da}{kk})", f"x.mean({da}{kk})", f"torch.sum(x, dim={da}{kk})",
                           f"x.amax(dim={da}{kk})", f"x.max(dim={da}{kk}).values", f"x.max({da}{kk})[0]",
                           f"torch.mean(x, {da}{kk})", f"x.std(dim={da}{kk})", f"x.logsumexp({da}{kk})"]), "reduce")


def st_index(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1:
        return False
    r = g.r
    kind = ch.int(0, 5)
    if kind == 0 and r >= 2:
        n = g.shape[1]
        bad = g.take_bad("index out of range")
        i = n if bad else ch.choice([0, -1, ch.int(0, n - 1)])
        g.shape.pop(1)
        return g.op(f"x[:, {i}]", "x[:, i]")
    if kind == 1:
        n = g.shape[-1]
        k = ch.int(1, n)
        g.shape[-1] = k
        return g.op(f"x[..., :{k}]", "x[..., :k]")
    if kind == 2 and r >= 3:
        n = g.shape[2]
        a = ch.int(0, n - 1)
        g.shape[2] = n - a
        return g.op(f"x[:, :, {a}:]", "x[:, :, a:]")
    if kind == 3 and r >= 2:
        g.shape.pop(0)
        return g.op(ch.choice(["x[0]", "x[-1]"]), "x[0]")
    if kind == 4:
        n = g.shape[-1]
        g.shape[-1] = -(-n // 2)
        return g.op("x[..., ::2]", "x[..., ::2]")
    if r >= 2 and g.shape[1] >= 3:
        g.shape[1] -= 2
        return g.op("x[:, 1:-1]", "x[:, 1:-1]")
    return False


def st_pad(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1:
        return False
    if g.r >= 2 and ch.chance(0.5):
        a, b, c, d = (ch.int(0, 3) for _ in range(4))
        g.shape[-1] += a + b
        g.shape[-2] += c + d
        return g.op(f"F.pad(x, ({a}, {b}, {c}, {d}))", "F.pad 4")
    a, b = ch.int(0, 3), ch.int(0, 3)
    if ch.chance(0.15) and g.shape[-1] > 2:
        a = -1
    g.shape[-1] += a + b
    return g.op(ch.choice([f"F.pad(x, ({a}, {b}))", f"F.pad(x, [{a}, {b}])", f"F.pad(x, ({a}, {b}), value=0.0)"]), "F.pad")


def st_softmax(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1:
        return False
    d = g.dimarg(ch.int(0, g.r - 1))
    return g.op(ch.choice([f"x.softmax(dim={d})", f"F.softmax(x, dim={d})", f"torch.softmax(x, {d})",
                           f"F.log_softmax(x, dim={d})", "F.softmax(x, -1)"]), "softmax")


def st_repeat(g: Gen) -> bool:
    ch = g.ch
    if g.r < 1 or g.r > 4:
        return False
    reps = [1] * g.r
    i = ch.int(0, g.r - 1)
    reps[i] = 2
    if g.shape[i] * 2 > Gen.MAX_DIM:
        return False
    g.shape[i] *= 2
    return g.op(f"x.repeat({', '.join(map(str, reps))})", "repeat")


LAYER_STEPS: list[tuple[float, Callable[[Gen], bool]]] = [
    (6, st_linear), (6, st_conv), (1.5, st_convT), (3, st_pool), (2, st_adaptive), (3, st_batchnorm),
    (2.5, st_layernorm), (1.5, st_groupnorm), (1, st_instancenorm), (4, st_pointwise), (3, st_flatten_linear),
    (2, st_flatten_op_linear), (1, st_unflatten), (2, st_rnn), (2, st_mha), (1, st_transformer), (1.5, st_upsample),
    (1, st_pixelshuffle), (1.5, st_block), (1, st_modulelist),
]
OP_STEPS: list[tuple[float, Callable[[Gen], bool]]] = [
    (3, st_reshape), (2, st_flatten_op), (2, st_permute), (2, st_transpose), (2, st_squeeze), (2, st_chunk),
    (2, st_cat), (3, st_matmul), (2.5, st_broadcast), (2, st_reduce), (2, st_index), (1, st_pad),
    (1, st_softmax), (0.5, st_repeat),
]
ALL_STEPS = LAYER_STEPS + OP_STEPS


# ============================================================================ the program


def _start(g: Gen) -> tuple[str, _Step | None]:
    """The call-site input (expression text) and an optional first step (Embedding)."""
    ch = g.ch
    B = ch.int(2, 4)
    dom = ch.weighted([(4, "image"), (3, "seq"), (2, "signal"), (1, "volume"), (2, "flat"), (1.5, "tokens")])
    if dom == "image":
        g.shape = [B, ch.int(1, 8), ch.int(4, 32), ch.int(4, 32)]
    elif dom == "seq":
        g.shape = [B, ch.int(1, 12), ch.int(2, 32)]
    elif dom == "signal":
        g.shape = [B, ch.int(1, 8), ch.int(4, 32)]
    elif dom == "volume":
        g.shape = [B, ch.int(1, 4), ch.int(2, 8), ch.int(2, 8), ch.int(2, 8)]
    elif dom == "flat":
        g.shape = [B, ch.int(2, 64)]
    else:
        V, L, D = ch.int(5, 100), ch.int(1, 12), ch.int(2, 32)
        g.shape = [B, L, D]
        emb = ch.choice([f"nn.Embedding({V}, {D})", f"nn.Embedding(num_embeddings={V}, embedding_dim={D})",
                         f"nn.Embedding({V}, {D}, padding_idx=0)"])
        g.tokens = V
        return f"torch.randint(0, {V}, ({B}, {L}))", _Step(layers=[_Layer(emb)], desc="Embedding")
    return "", None


def _input_text(g: Gen, shape: list[int]) -> str:
    ch = g.ch
    if g.tokens:
        return f"torch.randint(0, {g.tokens}, ({shape[0]}, {shape[1]}))"
    fac = ch.choice(["torch.randn", "torch.randn", "torch.rand", "torch.zeros", "torch.ones"])
    return f"{fac}({', '.join(map(str, shape))})" if ch.chance(0.8) else f"{fac}(({', '.join(map(str, shape))}))"


def generate(ch: Chooser, p_mistake: float = 0.35, max_steps: int = 8) -> Program:
    g = Gen(ch, p_mistake)
    if ch.chance(0.2):
        default = ch.int(2, 32)
        g.width = (default, default if ch.chance(0.5) else ch.int(2, 32))
    inp, first = _start(g)
    true_input = list(g.shape)
    n_steps = ch.int(1, max_steps)
    mistake_at = None
    if ch.chance(p_mistake):
        mistake_at = -1 if ch.chance(0.15) else ch.int(0, n_steps - 1)
    if first is not None:
        g.steps.append(first)
    for i in range(n_steps):
        if i == mistake_at:
            g.bad_pending = True
        for _attempt in range(30):
            fn = ch.weighted(ALL_STEPS)
            saved = (list(g.shape), len(g.steps), g.bad_pending, g.mistake, g.width_used, list(g.blocks))
            ok = fn(g)
            if ok and g.shape and all(1 <= v <= 4096 for v in g.shape) and max(g.shape) <= 4096 and math.prod(g.shape) <= 1 << 20:
                new = g.steps[saved[1]:]
                if len(new) == 1 and len(new[0].layers) == 1 and new[0].layers[0].call == "plain":
                    new[0].residual_ok = g.shape == saved[0]
                break
            g.shape, n, g.bad_pending, g.mistake, g.width_used, g.blocks = saved
            del g.steps[n:]
        # a pending mistake the step could not make waits for a later step
    # the call site
    if not inp:
        shape = list(true_input)
        if mistake_at == -1:
            i = 1 if len(shape) > 2 or ch.chance(0.5) else len(shape) - 1
            shape[i] = g.perturb(shape[i])
            g.mistake = "call-site input"
        inp = _input_text(g, shape)
    inputs = [inp]
    if ch.chance(0.2):  # a second call site: another batch size (and image size); torch says if it fits
        shape = list(true_input)
        shape[0] = ch.choice([b for b in range(1, 6) if b != shape[0]])
        if len(shape) == 4 and not g.tokens and ch.chance(0.3):
            shape[2:] = [ch.int(4, 32), ch.int(4, 32)]
        inputs.append(_input_text(g, shape))
    return _emit(g, inputs)


def _emit(g: Gen, inputs: list[str]) -> Program:
    ch = g.ch
    lines = list(HEADER)
    block_ranges: dict[str, set[int]] = {}
    for b in g.blocks:
        start = len(lines)
        lines.extend(BLOCKS[b])
        block_ranges[b] = set(range(start, len(lines)))
        lines.append("")
    lines.append("class Net(nn.Module):")
    if g.width:
        lines.append(f"    def __init__(self, width={g.width[0]}):")
    else:
        lines.append("    def __init__(self):")
    lines.append("        super().__init__()")
    if g.width:
        lines.append("        self.width = width")

    # decide Sequential grouping: runs of consecutive groupable single-layer steps
    counter = 0
    forward: list[tuple[str, str, set[int], str]] = []  # (lhs, rhs, init lines, desc)
    i = 0
    steps = g.steps
    while i < len(steps):
        st = steps[i]
        if st.op is not None:
            rhs = re.sub(r"\bwidth\b", "self.width", st.op)  # forward sees the attribute
            init_lines: set[int] = set()
            if st.param:
                name = f"w{counter}"
                counter += 1
                init_lines.add(len(lines))
                lines.append(f"        self.{name} = {st.param}")
                rhs = rhs.replace("{P}", name)
            forward.append(("x", rhs, init_lines, st.desc))
            i += 1
            continue
        if st.loop is not None:
            name = f"l{counter}"
            counter += 1
            init_lines = {len(lines)}
            lines.append(f"        self.{name} = {st.loop}")
            if "MLPBlock(" in st.loop:
                init_lines |= block_ranges["MLPBlock"]
            forward.append(("LOOP", name, init_lines, st.desc))
            i += 1
            continue
        # a run of layer steps that could go into one nn.Sequential
        j = i
        while j < len(steps) and steps[j].op is None and all(l.groupable for l in steps[j].layers):
            j += 1
        group = steps[i:j] if j - i >= 1 and ch.chance(0.35) else []
        if len(group) >= 1 and sum(len(s.layers) for s in group) >= 2:
            group = group[:ch.int(1, len(group))]
            if sum(len(s.layers) for s in group) < 2:
                group = []
        if group:
            layers = [l for s in group for l in s.layers]
            name = f"l{counter}"
            counter += 1
            init_lines = {len(lines)}
            lines.append(f"        self.{name} = nn.Sequential(")
            nest = None
            if len(layers) >= 3 and ch.chance(0.4):
                a = ch.int(0, len(layers) - 2)
                nest = (a, ch.int(a + 1, len(layers) - 1))
            for k, l in enumerate(layers):
                indent = "            "
                if nest and k == nest[0]:
                    init_lines.add(len(lines))
                    lines.append(indent + "nn.Sequential(")
                if nest and nest[0] <= k <= nest[1]:
                    indent += "    "
                init_lines.add(len(lines))
                lines.append(f"{indent}{l.ctor},")
                if l.block:
                    init_lines |= block_ranges[l.block]
                if nest and k == nest[1]:
                    init_lines.add(len(lines))
                    lines.append("            ),")
            init_lines.add(len(lines))
            lines.append("        )")
            forward.append(("x", f"self.{name}(x)", init_lines, "Sequential[" + ", ".join(s.desc for s in group) + "]"))
            i += len(group)
            continue
        for l in st.layers:
            name = f"l{counter}"
            counter += 1
            init_lines = {len(lines)}
            lines.append(f"        self.{name} = {l.ctor}")
            if l.block:
                init_lines |= block_ranges[l.block]
            if l.call == "rnn":
                forward.append(("x, _", f"self.{name}(x)", init_lines, st.desc))
            elif l.call == "attn":
                forward.append(("x, _", f"self.{name}(x, x, x)", init_lines, st.desc))
            elif l.call == "attn_nw":
                forward.append(("x", f"self.{name}(x, x, x, need_weights=False)[0]", init_lines, st.desc))
            elif st.residual_ok and ch.chance(0.3) or ch.chance(0.02):  # a residual connection
                forward.append(("x", f"x + self.{name}(x)", init_lines, st.desc + " (residual)"))
            else:
                forward.append(("x", f"self.{name}(x)", init_lines, st.desc))
        i += 1
    if counter == 0:
        lines.append("        pass")
    lines.append("")
    lines.append("    def forward(self, x):")
    units: list[Unit] = []
    instr = list(lines)
    for lhs, rhs, init_lines, desc in forward:
        if lhs == "LOOP":
            var = ch.choice(["layer", "blk", "m"])
            head = f"        for {var} in self.{rhs}:"
            lines.append(head)
            instr.append(head)
            ln = len(lines)
            stmt = f"            x = {var}(x)"
            lines.append(stmt)
            instr.append(stmt + f"; _REC.setdefault({ln}, []).append((_CALL[0], tuple(x.shape)))")
            units.append(Unit(ln, init_lines | {ln - 1, ln}, 12, desc))
            continue
        ln = len(lines)
        stmt = f"        {lhs} = {rhs}"
        lines.append(stmt)
        instr.append(stmt + f"; _REC.setdefault({ln}, []).append((_CALL[0], tuple(x.shape)))")
        units.append(Unit(ln, init_lines | {ln}, 8, desc))
    lines.append("        return x")
    instr.append("        return x")
    lines.append("")
    instr.append("")
    call_lines = set(range(len(lines), len(lines) + 1 + len(inputs)))
    if g.width:
        w = g.width[1]
        ctor = ch.choice([f"Net(width={w})", f"Net({w})"]) if (w != g.width[0] or ch.chance(0.5)) else "Net()"
    else:
        ctor = "Net()"
    tail = [f"model = {ctor}"]
    outs = []
    for k, inp in enumerate(inputs):
        name = "out" if k == 0 else f"out{k + 1}"
        outs.append((name, len(lines) + len(tail)))
        tail.append(f"{name} = model({inp})")
    lines.extend(tail)
    instr.extend(tail[:1] + [f"_CALL[0] = {k}; {t}" for k, t in enumerate(tail[1:])])
    return Program("\n".join(lines) + "\n", "\n".join(instr) + "\n", units, outs, call_lines, g.mistake)


def programs(p_mistake: float = 0.35, max_steps: int = 8):
    """A hypothesis strategy of ``Program``s."""
    from hypothesis import strategies as st

    @st.composite
    def _programs(draw):
        return generate(DrawChooser(draw), p_mistake, max_steps)

    return _programs()


# ============================================================================ the two sides


@dataclass
class TorchResult:
    ok: bool
    outs: dict = field(default_factory=dict)  # name -> shape, for each call site that ran
    rec: dict = field(default_factory=dict)  # 0-based forward line -> [(call index, shape after it)]
    error: str | None = None
    err_line: int | None = None  # 0-based line of the generated source where it raised
    fail_call: int | None = None  # index of the call site that raised (-1: building the model)


class HarnessError(Exception):
    """The generated program is broken (not a shape error): a bug in the generator."""


def run_torch(prog: Program, device: str = "meta") -> TorchResult:
    """Build and run the program with every tensor on ``device`` (the meta device:
    shapes only; "cpu" to confirm, since some meta kernels skip checks that real ones
    make, e.g. ConvTranspose2d's input channels and output_padding)."""
    import torch

    rec: dict = {}
    call = [-1]
    ns: dict = {"_REC": rec, "_CALL": call, "__name__": "differential_gen_program"}
    code = compile(prog.instrumented, GEN_FILENAME, "exec")
    try:
        with torch.device(device), torch.no_grad():
            exec(code, ns)
    except (SyntaxError, NameError, UnboundLocalError) as e:  # pragma: no cover - generator bug
        raise HarnessError(f"{type(e).__name__}: {e}\n{prog.source}") from e
    except Exception as e:  # noqa: BLE001 - torch's verdict
        line = None
        for fr in traceback.extract_tb(e.__traceback__):
            if fr.filename == GEN_FILENAME:
                line = fr.lineno - 1
        msg = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return TorchResult(False, _outs(prog, ns), rec, msg, line, call[0])
    return TorchResult(True, _outs(prog, ns), rec)


def _outs(prog: Program, ns: dict) -> dict:
    return {name: tuple(ns[name].shape) for name, _ in prog.outs if name in ns}


@dataclass
class EngineResult:
    diags: list  # TL2xx diagnostics
    outs: dict  # name -> Shape | None
    line_shapes: dict  # 0-based forward line -> Shape | None
    all_codes: list = field(default_factory=list)


_PROJECT = None


def _project():
    global _PROJECT
    if _PROJECT is None:
        from torch_lsp.analysis.project import Project

        _PROJECT = Project.default()
    return _PROJECT


def _shape_at(q, line: int, col: int, end_col: int):
    info = q.at(line, col)
    if info is None or (info.line, info.col, info.end_line, info.end_col) != (line, col, line, end_col):
        return None
    return info.shape


def run_engine(prog: Program, project=None, path: str = "gen.py") -> EngineResult:
    from torch_lsp.engine import analyse, finish
    from torch_lsp.analysis.query import ShapeQuery
    from torch_lsp.analysis.source import SourceFile

    project = project or _project()
    src = SourceFile.parse(prog.source, path)
    ctx, diags = analyse(src, project, record_shapes=True)  # hovers' view: expression shapes kept
    diags = finish(src, diags, None)  # what check_source returns
    tl2 = [d for d in diags if d.code.startswith("TL2")]
    if ctx is None:  # pragma: no cover - the generator writes valid Python
        raise HarnessError(f"engine could not parse:\n{prog.source}")
    q = ShapeQuery(ctx)
    outs = {name: _shape_at(q, line, 0, len(name)) for name, line in prog.outs}
    line_shapes = {u.fwd_line: _shape_at(q, u.fwd_line, u.target_col, u.target_col + 1) for u in prog.units}
    return EngineResult(tl2, outs, line_shapes, [d.code for d in diags])


# ============================================================================ comparison


def shape_claim_errors(shape, actual: tuple) -> tuple[list[str], str]:
    """Disagreements between an engine shape and torch's, and the category
    ("known" / "partial" / "unknown")."""
    if shape is None:
        return [], "unknown"
    from torch_lsp.analysis.shapes import is_known

    dims = tuple(shape.dims)
    errs = []
    ints = [is_known(d) for d in dims]
    if not shape.prefix:
        if len(dims) != len(actual):
            errs.append(f"rank {len(dims)} != torch's {len(actual)}")
        else:
            for i, (d, a) in enumerate(zip(dims, actual)):
                if is_known(d) and d != a:
                    errs.append(f"dim {i}: {d} != torch's {a}")
        cat = "known" if all(ints) else "partial"  # the rank is known
    else:
        if len(dims) > len(actual):
            errs.append(f"suffix of {len(dims)} dims longer than torch's rank {len(actual)}")
        else:
            for i, d in enumerate(dims):
                a = actual[len(actual) - len(dims) + i]
                if is_known(d) and d != a:
                    errs.append(f"suffix dim {i - len(dims)}: {d} != torch's {a}")
        cat = "partial" if any(ints) else "unknown"
    return errs, cat


@dataclass
class Outcome:
    torch_ok: bool
    torch_error: str | None
    tl2: list  # (code, 1-based line, message)
    out_category: str | None  # for torch-ok programs: known / partial / unknown
    disagreements: list[str]
    miss: bool  # torch raised, engine silent
    true_positive: bool  # engine TL2xx and torch raised at the step it points at
    lines_compared: int = 0
    line_dims_known: int = 0
    line_dims_total: int = 0
    meta_lax: bool = False  # meta ran it, the CPU raised

    @property
    def disagrees(self) -> bool:
        return bool(self.disagreements)


def _diag_lines(d) -> set[int]:
    out = {d.range.start.line, d.range.end.line}
    for r in d.related:
        if r.path is None:
            out |= set(range(r.range.start.line, r.range.end.line + 1))
    out |= set(range(d.range.start.line, d.range.end.line + 1))
    return out


def compare(prog: Program, t: TorchResult, e: EngineResult) -> Outcome:
    dis: list[str] = []
    tl2 = [(d.code, d.range.start.line + 1, d.message) for d in e.diags]
    compared = known = total = 0
    # intermediate shapes of the forward steps torch ran
    # (the engine's shape of a forward line holds for every call: compare with each)
    for u in prog.units:
        shape = e.line_shapes.get(u.fwd_line)
        for _call, actual in t.rec.get(u.fwd_line, []):
            if shape is None:
                total += len(actual)
                continue
            compared += 1
            errs, _ = shape_claim_errors(shape, actual)
            total += len(actual)
            known += sum(1 for d in shape.dims if isinstance(d, int) and not isinstance(d, bool))
            for err in errs:
                dis.append(f"line {u.fwd_line + 1} ({u.desc}): engine {_fmt(shape)} vs torch {list(actual)}: {err}")
    # the call sites' outputs (each one torch computed, even if a later line raised)
    cat = None
    for name, _ in prog.outs:
        if name not in t.outs:
            continue
        errs, c = shape_claim_errors(e.outs.get(name), t.outs[name])
        if name == "out":
            cat = c
        for err in errs:
            dis.append(f"{name}: engine {_fmt(e.outs.get(name))} vs torch {list(t.outs[name])}: {err}")
    if not t.ok:
        cat = None
    if t.ok:
        for c, ln, msg in tl2:
            dis.append(f"{c} at line {ln} but torch ran fine: {msg}")
    tp = False
    if not t.ok and e.diags:
        # the diagnostics must point at the step torch failed on, not at a step torch ran past
        fail_units = [u for u in prog.units if t.err_line is not None and t.err_line in u.lines]
        # steps that completed in the failing call; only decided when that call is the
        # last one (a diagnostic may be about a call site torch never reached)
        last = len(prog.outs) - 1
        ran = {u.fwd_line for u in prog.units if any(c == t.fail_call for c, _ in t.rec.get(u.fwd_line, []))} \
            if t.fail_call == last else set()
        for d in e.diags:
            main = set(range(d.range.start.line, d.range.end.line + 1))
            if any(_diag_lines(d) & u.lines for u in fail_units) or main & prog.call_lines:
                tp = True  # it names the step torch failed on (or the call site)
                continue
            # a diagnostic whose steps all completed in torch is a false claim
            named = [u for u in prog.units if main & u.lines]
            if fail_units and named and ran and all(u.fwd_line in ran for u in named):
                dis.append(f"{d.code} at line {d.range.start.line + 1}, but torch ran that step and failed later "
                           f"(line {t.err_line + 1}: {t.error}): {d.message}")
    return Outcome(t.ok, t.error, tl2, cat, dis, (not t.ok) and not e.diags, tp, compared, known, total)


def _fmt(shape) -> str:
    if shape is None:
        return "None"
    from torch_lsp.analysis.shapes import shape_str

    return shape_str(shape)


def check_program(prog: Program, project=None, timings: dict | None = None) -> tuple[Outcome, TorchResult, EngineResult]:
    """Run both sides and compare. Torch runs on the meta device; when the engine
    disagrees with that run, the program runs again on the CPU (small sizes, so
    cheap) and the CPU's verdict counts if it differs: some meta kernels skip checks
    that the real ones make (ConvTranspose2d's input channels and output_padding), so
    meta may run a step the CPU refuses (``Outcome.meta_lax``)."""
    import time

    a = time.perf_counter()
    t = run_torch(prog)
    b = time.perf_counter()
    e = run_engine(prog, project)
    c = time.perf_counter()
    o = compare(prog, t, e)
    if o.disagrees:
        t_cpu = run_torch(prog, "cpu")
        if (t_cpu.ok, t_cpu.err_line, t_cpu.fail_call) != (t.ok, t.err_line, t.fail_call):
            t = t_cpu
            o = compare(prog, t, e)
            o.meta_lax = True
    if timings is not None:
        timings["torch"] = timings.get("torch", 0.0) + (b - a) + (time.perf_counter() - c)
        timings["engine"] = timings.get("engine", 0.0) + (c - b)
    return o, t, e


def describe(prog: Program, o: Outcome, t: TorchResult, e: EngineResult) -> str:
    lines = [f"--- injected mistake: {prog.mistake}", prog.source.rstrip(),
             f"--- torch: {('ok ' if t.ok else t.error + f' (line {t.err_line + 1 if t.err_line is not None else None})')}"
             f" outputs {({k: list(v) for k, v in t.outs.items()})}",
             f"--- engine: outputs {({k: _fmt(v) for k, v in e.outs.items()})}; TL2xx: {o.tl2 or 'none'}"]
    lines += [f"  ! {d}" for d in o.disagreements]
    return "\n".join(lines)
