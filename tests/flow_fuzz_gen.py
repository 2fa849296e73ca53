"""Random programs with control flow for a soundness fuzz of the shape engine.

``generate`` writes a small self-contained file per example: the torch imports, an
optional helper ``Block`` class (with control flow of its own), a ``Net`` whose
``forward`` mixes layer calls and tensor ops with ``for``/``while`` (``break``,
``continue``, ``else``), ``if``/``elif``/``else``, ``match``/``case``,
``try``/``except``/``else``/``finally`` (and ``except*``), ``with torch.no_grad()``,
early ``return``, ``raise``, ``del``, ``global``/``nonlocal``, the walrus, nested
functions and lambdas, ``assert``, a ``yield`` helper and an unawaited ``async def``,
and a call site at module level (sometimes followed by a backward).

The generator builds a small statement tree (``Node``) and runs it on a shape-level
simulator (``Sim``) as it goes, so it knows the shapes at each point and which paths
run. It places at most one *live* mistake (a shape error on a path torch executes:
the program fails there) and many *dead* ones (on paths torch never executes: a branch
not taken, ModuleList items after a ``break``, a ``case`` not matched, a handler that
does not run, code after an early ``return``, a nested function never called...) and
*caught* ones (a shape error raised inside a ``try`` whose handler catches it). Dead
and caught mistakes must leave the engine silent: the program runs.

The simulator's prediction (runs / fails at line L) is checked against real torch
(``run_torch``: the program is exec'd on the CPU, with the executed lines recorded);
a disagreement is a generator bug, reported as such.

``check_program`` compares the engine (``check_source``) with torch:

- **false report**: torch runs the program, and the engine emits a TL2xx/TL3xx of
  severity error or warning; or torch fails, and such a diagnostic's primary line is
  neither on the failing chain (a line of the traceback in the generated file) nor a
  constructor line of a layer called on it;
- **miss**: torch fails with a shape error in a construct the engine models, on a path
  whose control flow is decidable from known shapes and ints, and the engine reports
  nothing on the chain;
- **crash**: ``check_source`` raised, or reported TL000 on a file Python compiles.

The draws go through a ``Chooser`` (``differential_gen``), so ``programs()`` is a
hypothesis strategy and ``RandomChooser`` drives the long run
(``benchmarks/flow_fuzz.py``).
"""
from __future__ import annotations

import math
import random
import signal
import sys
import threading
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from differential_gen import Chooser, DrawChooser, RandomChooser, _divisors  # noqa: F401  (re-exported)

GEN_FILENAME = "<flow_fuzz>"
ENGINE_PATH = "flow_fuzz_program.py"

HEADER = ["import torch", "import torch.nn as nn", "import torch.nn.functional as F", ""]

# what a shape error looks like in torch (anything else raised is a generator bug)
SHAPE_ERROR_TYPES = ("RuntimeError", "ValueError", "IndexError", "AssertionError")
# the constructs whose errors the engine claims to model (a miss counts only for these)
MODELED = {"Linear", "Conv", "LayerNorm", "BatchNorm", "view/reshape", "cat", "matmul", "broadcast", "backward"}
# control flow whose outcome the engine cannot be expected to decide (a failure reached
# through one of these is not counted as a miss)
UNDECIDABLE = {"for-yield", "if-global", "try-caught", "block-try", "try-star-caught"}


# ============================================================================ simulator


@dataclass(frozen=True)
class T:
    """A tensor as the simulator sees it."""

    shape: tuple
    grad: bool = False
    contig: bool = True  # True only when surely contiguous (``view`` is used only then)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


class SimErr(Exception):
    """An exception the real program raises (a shape error, an ``assert``, a ``raise``)."""

    def __init__(self, etype: type, construct: str, msg: str = ""):
        super().__init__(msg or construct)
        self.etype = etype
        self.construct = construct
        self.line: int | None = None  # 0-based line of the innermost frame in the generated file
        self.node = None  # the forward-level leaf that was running


class GenBug(Exception):
    """The simulation hit something the generator did not mean (a missing name, a
    backward without grad...): the attempt is thrown away."""


class HarnessError(Exception):
    """The generated program is broken (not a shape error), or torch disagrees with the
    generator's prediction: a bug in the generator."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Ret(Exception):
    def __init__(self, value):
        self.value = value


def _grad(sim: "Sim", *ts) -> bool:
    return not sim.no_grad and any(isinstance(t, T) and t.grad for t in ts)


def _tensor(v, what: str = "") -> T:
    if not isinstance(v, T):
        raise GenBug(f"not a tensor: {v!r} {what}")
    return v


class Sim:
    """Runs a statement tree on shapes. ``asif``: the mistakes the generator placed on
    purpose (live and dead ones) skip their checks and give their nominal result (the
    generator's estimate); otherwise every check is made (the prediction)."""

    MAX_ITER = 200

    def __init__(self, asif: bool):
        self.asif = asif
        self.no_grad = 0
        self.training = True
        self.glob: dict = {}
        self.executed: set[int] = set()
        self.called: set[int] = set()
        self.forward: list | None = None
        self.steps = 0
        self.events: set[str] = set()  # things that happened outside the statement tree (a Block's caught error)

    def tick(self) -> None:
        self.steps += 1
        if self.steps > 20000:
            raise GenBug("simulation too long")

    def checks(self, obj) -> bool:
        return not (self.asif and getattr(obj, "bad", None))

    def block(self, body: list, env: dict) -> None:
        for n in body:
            n.run(self, env)

    def call_layer(self, layer, t) -> T:
        if not isinstance(layer, Layer) or layer.fn is None:
            raise GenBug(f"not callable: {layer!r}")
        t = _tensor(t, f"into {layer.ctor}")
        self.called.add(id(layer))
        out = layer.fn(self, t, self.checks(layer))
        if isinstance(out, T):
            return out
        grad = not self.no_grad and (t.grad or layer.params)
        return T(tuple(out), grad, layer.contig_out(t))

    def call_forward(self, t: T):
        env = {"x": t}
        try:
            self.block(self.forward, env)
        except _Ret as r:
            return r.value
        raise GenBug("forward ended without return")

    def call_func(self, fv, args: list):
        if isinstance(fv, LamV):
            env = dict(zip(fv.params, args))
            try:
                return fv.body.ev(self, env)
            except SimErr as e:
                if e.line is None:
                    e.line = fv.line
                raise
        if not isinstance(fv, FuncV):
            raise GenBug(f"not a function: {fv!r}")
        env = dict(zip(fv.node.params, args))
        env["__outer__"] = fv.outer
        try:
            self.block(fv.node.body, env)
        except _Ret as r:
            return r.value
        return None


@dataclass
class FuncV:
    node: Any
    outer: dict


@dataclass
class LamV:
    params: tuple
    body: Any  # E
    line: int | None


# ============================================================================ layers


class Layer:
    """An ``nn.Module`` attribute of ``Net`` (or an item of a container).

    ``fn(sim, t, check) -> shape tuple | T``; ``bad``: the mistake's tag when the
    generator placed it on purpose (live or dead): the simulator's as-if mode skips
    its checks; ``tag``: why it never runs, or why its error is caught (attribution)."""

    def __init__(self, kind: str, ctor: str, fn=None, params: bool = True, items: list | None = None,
                 attrs: dict | None = None, contig: str = "new", bad: str | None = None, tag: str | None = None):
        self.kind = kind
        self.ctor = ctor
        self.fn = fn
        self.params = params
        self.items = items
        self.attrs = attrs or {}
        self.contig = contig  # "new": contiguous output; "same": like the input
        self.bad = bad
        self.tag = tag
        self.name: str | None = None
        self.lines: set[int] = set()
        self.construct: str | None = kind if kind in ("Linear", "LayerNorm", "Conv", "BatchNorm") else None

    def contig_out(self, t: T) -> bool:
        return True if self.contig == "new" else t.contig

    def all_lines(self) -> set[int]:
        out = set(self.lines)
        for it in self.items or []:
            out |= it.all_lines()
        return out

    def __repr__(self) -> str:
        return f"Layer({self.ctor})"


def _fail(etype: type, construct: str, msg: str = ""):
    raise SimErr(etype, construct, msg)


def fn_linear(i: int, o: int):
    def fn(sim, t, check):
        if check and (len(t.shape) < 1 or t.shape[-1] != i):
            _fail(RuntimeError, "Linear", f"Linear({i}, {o}) on {t.shape}")
        return t.shape[:-1] + (o,)
    return fn


def fn_layernorm(n: int):
    def fn(sim, t, check):
        if check and (len(t.shape) < 1 or t.shape[-1] != n):
            _fail(RuntimeError, "LayerNorm", f"LayerNorm({n}) on {t.shape}")
        return t.shape
    return fn


def fn_batchnorm(nd: int, c: int):
    def fn(sim, t, check):
        s = t.shape
        if check:
            if (nd == 1 and len(s) not in (2, 3)) or (nd == 2 and len(s) != 4):
                _fail(ValueError, "BatchNorm", f"BatchNorm{nd}d rank {len(s)}")
            if sim.training and s[0] * math.prod(s[2:]) == 1:
                _fail(ValueError, "BatchNorm", "one value per channel")
            if s[1] != c:
                _fail(RuntimeError, "BatchNorm", f"BatchNorm{nd}d({c}) on {s}")
        return s
    return fn


def fn_conv(nd: int, ci: int, co: int, k: int, p: int):
    def fn(sim, t, check):
        s = t.shape
        if check and len(s) not in (nd + 1, nd + 2):
            _fail(RuntimeError, "Conv", f"Conv{nd}d rank {len(s)}")
        if len(s) < nd + 1:
            return s
        if check and s[-nd - 1] != ci:
            _fail(RuntimeError, "Conv", f"Conv{nd}d({ci}) on {s}")
        sp = tuple(L + 2 * p - k + 1 for L in s[-nd:])
        if check and any(v < 1 for v in sp):
            _fail(RuntimeError, "Conv", "kernel larger than input")
        return s[:-nd - 1] + (co,) + tuple(max(v, 1) for v in sp)
    return fn


def fn_same(sim, t, check):
    return t.shape


def fn_flatten(sim, t, check):
    s = t.shape
    if len(s) < 2:
        if check:
            _fail(IndexError, "Flatten")
        return s
    return (s[0], math.prod(s[1:]))


def fn_seq(items: list):
    def fn(sim, t, check):
        for it in items:
            t = sim.call_layer(it, t)
        return t
    return fn


# ============================================================================ expressions and statements


class E:
    """An expression: its text and its value in the simulator."""

    __slots__ = ("text", "f", "layers", "construct", "bad", "tag")

    def __init__(self, text: str, f, layers=(), construct: str | None = None, bad: str | None = None,
                 tag: str | None = None):
        self.text = text
        self.f = f
        self.layers = tuple(layers)
        self.construct = construct
        self.bad = bad
        self.tag = tag

    def ev(self, sim: Sim, env: dict):
        return self.f(sim, env, not (sim.asif and self.bad))


def _get(env: dict, name: str):
    if name in env:
        return env[name]
    outer = env.get("__outer__")
    if outer is not None and name in outer:
        return outer[name]
    raise GenBug(f"name {name} not bound")


def V(name: str) -> E:
    return E(name, lambda sim, env, chk: _get(env, name))


def const(text: str, shape: tuple) -> E:
    return E(text, lambda sim, env, chk: T(tuple(shape), False, True))


def opE(text: str, fn, *args: E, construct: str | None = None, fault=None, layers=()) -> E:
    lay = tuple(layers) + tuple(l for a in args for l in a.layers)
    bad, tag = _fault_flags(fault)
    return E(text, lambda sim, env, chk: fn(sim, chk, *[a.ev(sim, env) for a in args]), lay, construct, bad, tag)


def callE(layer: Layer, arg: E, prefix: str = "self.") -> E:
    return E(f"{prefix}{layer.name}({arg.text})", lambda sim, env, chk: sim.call_layer(layer, arg.ev(sim, env)),
             (layer,) + arg.layers, _construct_of(layer), None, layer.tag)


def _construct_of(layer: Layer) -> str | None:
    if layer.construct:
        return layer.construct
    if layer.kind == "Block":
        return "Linear"
    if layer.kind == "Sequential":
        items = layer.items or []
        return next((_construct_of(i) for i in items if i.bad or i.tag), None) or \
            next((_construct_of(i) for i in items if _construct_of(i)), None)
    return None


def _fault_flags(fault) -> tuple[str | None, str | None]:
    if fault is None:
        return None, None
    kind, tag = fault
    return (tag if kind in ("live", "dead") else None), tag


class Node:
    line: int | None = None

    def leaves(self):
        yield self


class Leaf(Node):
    """A one-line statement."""

    def __init__(self, text: str, fn, layers=(), tag: str | None = None, construct: str | None = None,
                 extra_related: list | None = None):
        self.text = text
        self.fn = fn
        self.layers = tuple(layers)
        self.tag = tag
        self.construct = construct
        self.extra_related = extra_related or []  # other leaves whose lines are related (a backward's tensor)
        self.path: tuple = ()
        self.before: tuple = ()

    def emit(self, em: "Emitter", ind: str) -> None:
        self.line = em.add(ind + self.text, self)

    def run(self, sim: Sim, env: dict) -> None:
        sim.tick()
        sim.executed.add(id(self))
        try:
            self.fn(sim, env)
        except SimErr as e:
            if e.line is None:
                e.line = self.line
            if e.node is None:
                e.node = self
            raise


def assign(var: str, e: E) -> Leaf:
    def fn(sim, env):
        env[var] = e.ev(sim, env)
    return Leaf(f"{var} = {e.text}", fn, e.layers, e.tag, e.construct)


def pass_leaf() -> Leaf:
    return Leaf("pass", lambda sim, env: None)


def break_leaf() -> Leaf:
    def fn(sim, env):
        raise _Break()
    return Leaf("break", fn)


def continue_leaf() -> Leaf:
    def fn(sim, env):
        raise _Continue()
    return Leaf("continue", fn)


def return_leaf(e: E) -> Leaf:
    def fn(sim, env):
        raise _Ret(e.ev(sim, env))
    return Leaf(f"return {e.text}", fn, e.layers, e.tag, e.construct)


class Cond:
    """A condition: text, value, what kind of test it is."""

    def __init__(self, text: str, f, kind: str):
        self.text = text
        self.f = f
        self.kind = kind

    def ev(self, sim: Sim, env: dict) -> bool:
        return bool(self.f(sim, env))


class If(Node):
    construct_label = "if"

    def __init__(self, arms: list, orelse: list | None):
        self.arms = arms  # [(Cond, body)]
        self.orelse = orelse

    def leaves(self):
        yield self
        for _c, b in self.arms:
            for n in b:
                yield from n.leaves()
        for n in self.orelse or []:
            yield from n.leaves()

    def emit(self, em, ind):
        for k, (c, body) in enumerate(self.arms):
            ln = em.add(f"{ind}{'if' if k == 0 else 'elif'} {c.text}:", self)
            if k == 0:
                self.line = ln
            _emit_body(em, body, ind + "    ")
        if self.orelse is not None:
            em.add(f"{ind}else:", self)
            _emit_body(em, self.orelse, ind + "    ")

    def run(self, sim, env):
        sim.tick()
        sim.executed.add(id(self))
        for c, body in self.arms:
            if c.ev(sim, env):
                sim.block(body, env)
                return
        if self.orelse is not None:
            sim.block(self.orelse, env)


def _emit_body(em, body: list, ind: str) -> None:
    if not body:
        body.append(pass_leaf())
    for n in body:
        n.emit(em, ind)


class For(Node):
    construct_label = "for"

    def __init__(self, target: str, iter_text: str, items, bind, body: list, orelse: list | None = None,
                 layers=()):
        self.target = target
        self.iter_text = iter_text
        self.items = items  # (sim, env) -> list
        self.bind = bind  # (env, item) -> None
        self.body = body
        self.orelse = orelse
        self.layers = tuple(layers)
        self.broke = False

    def leaves(self):
        yield self
        for n in self.body + (self.orelse or []):
            yield from n.leaves()

    def emit(self, em, ind):
        self.line = em.add(f"{ind}for {self.target} in {self.iter_text}:", self)
        _emit_body(em, self.body, ind + "    ")
        if self.orelse is not None:
            em.add(f"{ind}else:", self)
            _emit_body(em, self.orelse, ind + "    ")

    def run(self, sim, env):
        sim.tick()
        sim.executed.add(id(self))
        items = self.items(sim, env)
        broke = False
        for k, item in enumerate(items):
            if k > Sim.MAX_ITER:
                raise GenBug("loop too long")
            self.bind(env, item)
            try:
                sim.block(self.body, env)
            except _Continue:
                continue
            except _Break:
                broke = True
                break
        self.broke = broke
        if not broke and self.orelse is not None:
            sim.block(self.orelse, env)


class While(Node):
    construct_label = "while"

    def __init__(self, cond: Cond, body: list, orelse: list | None = None):
        self.cond = cond
        self.body = body
        self.orelse = orelse
        self.broke = False

    def leaves(self):
        yield self
        for n in self.body + (self.orelse or []):
            yield from n.leaves()

    def emit(self, em, ind):
        self.line = em.add(f"{ind}while {self.cond.text}:", self)
        _emit_body(em, self.body, ind + "    ")
        if self.orelse is not None:
            em.add(f"{ind}else:", self)
            _emit_body(em, self.orelse, ind + "    ")

    def run(self, sim, env):
        sim.tick()
        sim.executed.add(id(self))
        broke = False
        n = 0
        while self.cond.ev(sim, env):
            n += 1
            if n > Sim.MAX_ITER:
                raise GenBug("while too long")
            try:
                sim.block(self.body, env)
            except _Continue:
                continue
            except _Break:
                broke = True
                break
        self.broke = broke
        if not broke and self.orelse is not None:
            sim.block(self.orelse, env)


class Pat:
    """A ``case`` pattern: text and a matcher that binds captures into env."""

    def __init__(self, text: str, match, irrefutable: bool = False):
        self.text = text
        self.match = match  # (value, env) -> bool
        self.irrefutable = irrefutable


def pat_seq(items: list, brackets: str = "()") -> Pat:
    """items: ("cap", name) | ("lit", value) | ("wild",) | ("star", name or "_")."""
    texts = []
    for it in items:
        if it[0] == "cap":
            texts.append(it[1])
        elif it[0] == "lit":
            texts.append(repr(it[1]))
        elif it[0] == "wild":
            texts.append("_")
        else:
            texts.append("*" + it[1])
    inner = ", ".join(texts) + ("," if len(texts) == 1 and brackets == "()" else "")
    text = brackets[0] + inner + brackets[1]
    star = next((k for k, it in enumerate(items) if it[0] == "star"), None)

    def match(v, env):
        if not isinstance(v, tuple):
            return False
        if star is None:
            if len(v) != len(items):
                return False
            pairs = list(zip(items, v))
        else:
            head, tail = items[:star], items[star + 1:]
            if len(v) < len(head) + len(tail):
                return False
            pairs = list(zip(head, v[:len(head)])) + list(zip(tail, v[len(v) - len(tail):]))
        binds = {}
        for it, x in pairs:
            if it[0] == "lit" and it[1] != x:
                return False
            if it[0] == "cap":
                binds[it[1]] = x
        if star is not None and items[star][1] != "_":
            binds[items[star][1]] = list(v[len(items[:star]):len(v) - len(items[star + 1:])])
        env.update(binds)
        return True
    return Pat(text, match)


def pat_lits(values: list) -> Pat:
    return Pat(" | ".join(repr(v) for v in values), lambda v, env: v in values)


def pat_wild() -> Pat:
    return Pat("_", lambda v, env: True, irrefutable=True)


def pat_capture(name: str) -> Pat:
    def match(v, env):
        env[name] = v
        return True
    return Pat(name, match, irrefutable=True)


def pat_class(cls_text: str, kinds: set) -> Pat:
    return Pat(f"{cls_text}()", lambda v, env: isinstance(v, Layer) and v.kind in kinds)


class Match(Node):
    construct_label = "match"

    def __init__(self, subject_text: str, subject, cases: list):
        self.subject_text = subject_text
        self.subject = subject  # (sim, env) -> value
        self.cases = cases  # [(Pat, Cond | None, body)]

    def leaves(self):
        yield self
        for _p, _g, b in self.cases:
            for n in b:
                yield from n.leaves()

    def emit(self, em, ind):
        self.line = em.add(f"{ind}match {self.subject_text}:", self)
        for p, guard, body in self.cases:
            em.add(f"{ind}    case {p.text}{' if ' + guard.text if guard else ''}:", self)
            _emit_body(em, body, ind + "        ")

    def run(self, sim, env):
        sim.tick()
        sim.executed.add(id(self))
        v = self.subject(sim, env)
        for p, guard, body in self.cases:
            trial = dict(env)
            if p.match(v, trial) and (guard is None or guard.ev(sim, trial)):
                env.update(trial)
                sim.block(body, env)
                return


def _exc_matches(types: tuple | None, etype: type) -> bool:
    if types is None:
        return True
    import builtins

    return any(issubclass(etype, getattr(builtins, t)) for t in types)


class Try(Node):
    construct_label = "try"

    def __init__(self, body: list, handlers: list, orelse: list | None = None, finalbody: list | None = None,
                 star: bool = False):
        self.body = body
        self.handlers = handlers  # [(types tuple | None, name | None, body)]
        self.orelse = orelse
        self.finalbody = finalbody
        self.star = star

    def leaves(self):
        yield self
        for n in self.body + (self.orelse or []) + (self.finalbody or []):
            yield from n.leaves()
        for _t, _n, b in self.handlers:
            for n in b:
                yield from n.leaves()

    def emit(self, em, ind):
        self.line = em.add(f"{ind}try:", self)
        _emit_body(em, self.body, ind + "    ")
        kw = "except*" if self.star else "except"
        for types, name, body in self.handlers:
            if types is None:
                head = "except"
            elif len(types) == 1:
                head = f"{kw} {types[0]}"
            else:
                head = f"{kw} ({', '.join(types)})"
            if name:
                head += f" as {name}"
            em.add(f"{ind}{head}:", self)
            _emit_body(em, body, ind + "    ")
        if self.orelse is not None:
            em.add(f"{ind}else:", self)
            _emit_body(em, self.orelse, ind + "    ")
        if self.finalbody is not None:
            em.add(f"{ind}finally:", self)
            _emit_body(em, self.finalbody, ind + "    ")

    def run(self, sim, env):
        sim.tick()
        sim.executed.add(id(self))
        try:
            try:
                sim.block(self.body, env)
            except SimErr as e:
                for types, name, body in self.handlers:
                    if _exc_matches(types, e.etype):
                        if name:
                            env[name] = e
                        sim.block(body, env)
                        if name:
                            env.pop(name, None)  # Python deletes the name after the handler
                        break
                else:
                    raise
            else:
                if self.orelse is not None:
                    sim.block(self.orelse, env)
        finally:
            if self.finalbody is not None:
                sim.block(self.finalbody, env)


class With(Node):
    construct_label = "with"

    def __init__(self, header: str, no_grad: bool, body: list):
        self.header = header
        self.no_grad = no_grad
        self.body = body

    def leaves(self):
        yield self
        for n in self.body:
            yield from n.leaves()

    def emit(self, em, ind):
        self.line = em.add(f"{ind}with {self.header}:", self)
        _emit_body(em, self.body, ind + "    ")

    def run(self, sim, env):
        sim.tick()
        sim.executed.add(id(self))
        if self.no_grad:
            sim.no_grad += 1
        try:
            sim.block(self.body, env)
        finally:
            if self.no_grad:
                sim.no_grad -= 1


class FuncDef(Node):
    construct_label = "nested-def"

    def __init__(self, name: str, params: tuple, body: list, is_async: bool = False):
        self.name = name
        self.params = params
        self.body = body
        self.is_async = is_async

    def leaves(self):
        yield self
        for n in self.body:
            yield from n.leaves()

    def emit(self, em, ind):
        self.line = em.add(f"{ind}{'async ' if self.is_async else ''}def {self.name}({', '.join(self.params)}):", self)
        _emit_body(em, self.body, ind + "    ")

    def run(self, sim, env):
        sim.tick()
        sim.executed.add(id(self))
        env[self.name] = FuncV(self, env) if not self.is_async else "coroutine function"


# ============================================================================ program


@dataclass
class LineInfo:
    tag: str | None = None  # "dead: ..." / "caught: ..." / "live" when a mistake sits here
    region: str | None = None  # why this line never runs (a dead region), if it is in one
    construct: str | None = None  # what can fail on this line
    related: set = field(default_factory=set)  # constructor lines of the layers it calls (and such)
    path: tuple = ()  # enclosing control-flow constructs
    before: tuple = ()  # constructs earlier in forward (program order)
    uses: set = field(default_factory=set)  # for a constructor line: the lines that call the layer


@dataclass
class Prediction:
    ok: bool
    line: int | None = None  # 0-based
    etype: str | None = None
    construct: str | None = None
    decidable: bool | None = None
    path: tuple = ()


@dataclass
class Program:
    source: str
    info: dict  # 0-based line -> LineInfo
    pred: Prediction
    live: str | None  # what live mistake the generator placed (None: meant to run)
    dead_tags: list  # tags of the dead / caught mistakes placed
    constructs: set  # control-flow constructs used
    dead_lines: set  # lines that must never run
    ran: tuple = ()  # the control-flow constructs that ran (as-if)
    module_line: int = 0  # first line of the module-level code after the classes


class Emitter:
    def __init__(self):
        self.lines: list[str] = []
        self.info: dict[int, LineInfo] = {}

    def add(self, text: str, node=None, **kw) -> int:
        ln = len(self.lines)
        self.lines.append(text)
        inf = LineInfo(**kw)
        if node is not None:
            inf.path = getattr(node, "path", ())
            inf.before = getattr(node, "before", ())
            inf.region = getattr(node, "region", None)
            if isinstance(node, Leaf):
                inf.tag = node.tag
                inf.construct = node.construct
        self.info[ln] = inf
        return ln


# ============================================================================ the generator


class Retry(Exception):
    """This attempt at a statement (or program) did not work out."""


@dataclass
class Ctx:
    env: dict
    live: bool = True
    dead_tag: str | None = None
    mode: str = "any"  # "any": shapes may change; "keep": each statement keeps x's shape; "generic": any shape works
    depth: int = 0
    path: tuple = ()
    in_loop: bool = False
    no_live: bool = False  # no live mistake here (inside a try, a handler...)
    no_return: bool = False  # inside except* (return/break/continue would leave it) or a finally
    loop_vars: tuple = ()  # (name, values) of enclosing loops, for conditions on them
    top: bool = False  # forward's own body

    def sub(self, **kw) -> "Ctx":
        d = dict(self.__dict__)
        d.update(kw)
        d["env"] = dict(kw.get("env", self.env))
        return Ctx(**d)

    def dead(self, tag: str, **kw) -> "Ctx":
        return self.sub(live=False, dead_tag=self.dead_tag if not self.live else tag, top=False, **kw)


WIDTHS = [4, 6, 8, 10, 12, 16, 20, 24, 30, 32]

BLOCK_TEMPLATES = {
    # name: (lines, fc constructor line, {line: construct} of the lines that call fc, extra params text)
    "residual": ([
        "class Block(nn.Module):",
        "    def __init__(self, d_in, d_out):",
        "        super().__init__()",
        "        self.fc = nn.Linear(d_in, d_out)",
        "        self.residual = d_in == d_out",
        "",
        "    def forward(self, x):",
        "        h = torch.relu(self.fc(x))",
        "        if self.residual:",
        "            h = h + x",
        "        return h",
    ], 3, {7: "Linear"}),
    "early": ([
        "class Block(nn.Module):",
        "    def __init__(self, d_in, d_out):",
        "        super().__init__()",
        "        self.d_out = d_out",
        "        self.fc = nn.Linear(d_in, d_out)",
        "",
        "    def forward(self, x):",
        "        if x.shape[-1] == self.d_out:",
        "            return x",
        "        return F.gelu(self.fc(x))",
    ], 4, {9: "Linear"}),
    "match": ([
        "class Block(nn.Module):",
        "    def __init__(self, d_in, d_out, act=\"relu\"):",
        "        super().__init__()",
        "        self.act = act",
        "        self.fc = nn.Linear(d_in, d_out)",
        "",
        "    def forward(self, x):",
        "        x = self.fc(x)",
        "        match self.act:",
        "            case \"relu\":",
        "                return F.relu(x)",
        "            case \"tanh\":",
        "                return torch.tanh(x)",
        "            case _:",
        "                return x",
    ], 4, {7: "Linear"}),
    "try": ([
        "class Block(nn.Module):",
        "    def __init__(self, d_in, d_out):",
        "        super().__init__()",
        "        self.d_in = d_in",
        "        self.fc = nn.Linear(d_in, d_out)",
        "",
        "    def forward(self, x):",
        "        try:",
        "            return self.fc(x)",
        "        except RuntimeError:",
        "            return self.fc(x[..., : self.d_in])",
    ], 4, {8: "Linear", 10: "Linear"}),
}

TAKE_HELPER = [
    "def take(blocks, n):",
    "    for i, blk in enumerate(blocks):",
    "        if i == n:",
    "            return",
    "        yield blk",
    "",
]


class G:
    """One program being generated."""

    def __init__(self, ch: Chooser, p_live: float, p_dead: float):
        self.ch = ch
        self.p_live = p_live
        self.p_dead = p_dead
        self.layers: list[Layer] = []  # Net's attributes, in order
        self.counter = 0
        self.cfg: dict[str, list] = {}  # attr -> [param text default, actual value, default value]
        self.block: str | None = None
        self.block_base: int | None = None  # first line of the Block class, once emitted
        self.need_take = False
        self.need_calls = False
        self.want_live = False
        self.live: str | None = None
        self.seen: list[str] = []
        self.dead_tags: list[str] = []
        self.two_calls = False
        self.names = 0
        self.budget = 30  # statements left for forward (keeps it short)

    # ------------------------------------------------------------------ state for retries
    def snap(self):
        return (len(self.layers), self.counter, {k: list(v) for k, v in self.cfg.items()}, self.need_take,
                self.need_calls, self.want_live, self.live, len(self.seen), len(self.dead_tags))

    def restore(self, s) -> None:
        (n, self.counter, self.cfg, self.need_take, self.need_calls, self.want_live, self.live, ns, nd) = s
        del self.layers[n:]
        del self.seen[ns:]
        del self.dead_tags[nd:]

    # ------------------------------------------------------------------ small helpers
    def width(self, avoid=()) -> int:
        c = [w for w in WIDTHS if w not in avoid]
        return self.ch.choice(c)

    def perturb(self, n: int) -> int:
        ch = self.ch
        m = n * 2 if ch.chance(0.2) and n <= 32 else n + ch.choice([-3, -2, -1, 1, 2, 4, 8, 10])
        if m < 1 or m == n:
            m = n + ch.int(1, 4)
        return m

    def add_layer(self, layer: Layer, prefix: str = "l") -> Layer:
        layer.name = f"{prefix}{self.counter}"
        self.counter += 1
        self.layers.append(layer)
        return layer

    def note(self, construct: str) -> None:
        self.seen.append(construct)

    def fault(self, ctx: Ctx, allow_live: bool = True):
        """The fault the next faultable step should carry, if any."""
        if not ctx.live:
            if self.ch.chance(self.p_dead):
                return ("dead", ctx.dead_tag)
            return None
        if allow_live and self.want_live and not ctx.no_live:
            return ("live", "live")
        return None

    def took_fault(self, fault, construct: str) -> None:
        if fault is None:
            return
        if fault[0] == "live":
            self.want_live = False
            self.live = construct
        else:
            self.dead_tags.append(fault[1])

    def cfg_attr(self, kind: str):
        """(attribute name, actual value) of a configuration attribute of Net."""
        ch = self.ch
        names = {"bool": "use_norm", "str": "mode", "int": "depth"}
        name = names[kind]
        if name not in self.cfg:
            if kind == "bool":
                default = ch.chance(0.5)
                actual = default if ch.chance(0.7) else not default
            elif kind == "str":
                default = ch.choice(["a", "b", "c"])
                actual = default if ch.chance(0.7) else ch.choice(["a", "b", "c"])
            else:
                default = ch.int(1, 4)
                actual = default if ch.chance(0.7) else ch.int(1, 4)
            self.cfg[name] = [repr(default), actual, default]
        return name, self.cfg[name][1]

    def fresh(self, base: str) -> str:
        self.names += 1
        return f"{base}{self.names}"


# ------------------------------------------------------------------ steps: x -> x'


@dataclass
class Step:
    e: E
    construct: str | None = None


def _x(ctx: Ctx) -> T:
    return _tensor(ctx.env.get("x"), "x in the estimate")


def b_linear(g: G, a: E, t: T, mode: str, fault) -> Step | None:
    s = t.shape
    if len(s) < 2 or mode == "generic":
        return None
    n = s[-1]
    o = n if mode == "keep" else g.width()
    i = g.perturb(n) if fault else n
    style = g.ch.int(0, 3)
    ctor = f"nn.Linear({i}, {o})" if style < 2 else (f"nn.Linear({i}, {o}, bias=False)" if style == 2 else
                                                     f"nn.Linear(in_features={i}, out_features={o})")
    bad, tag = _fault_flags(fault)
    layer = g.add_layer(Layer("Linear", ctor, fn_linear(i, o), attrs={"in_features": i}, bad=bad, tag=tag))
    g.took_fault(fault, "Linear")
    if mode == "keep" and not fault and g.ch.chance(0.3):  # a residual connection
        inner = callE(layer, a)
        return Step(opE(f"{a.text} + {inner.text}", f_bcast, a, inner, construct="Linear"), "Linear")
    return Step(callE(layer, a), "Linear")


def b_layernorm(g, a, t, mode, fault):
    s = t.shape
    if len(s) < 2 or mode == "generic":
        return None
    n = g.perturb(s[-1]) if fault else s[-1]
    bad, tag = _fault_flags(fault)
    ctor = g.ch.choice([f"nn.LayerNorm({n})", f"nn.LayerNorm([{n}])", f"nn.LayerNorm(({n},))"])
    layer = g.add_layer(Layer("LayerNorm", ctor, fn_layernorm(n), contig="new", bad=bad, tag=tag))
    g.took_fault(fault, "LayerNorm")
    return Step(callE(layer, a), "LayerNorm")


def b_batchnorm(g, a, t, mode, fault):
    s = t.shape
    nd = {2: 1, 3: 1, 4: 2}.get(len(s))
    if nd is None or mode == "generic" or s[0] * math.prod(s[2:]) <= 1:
        return None
    c = g.perturb(s[1]) if fault else s[1]
    bad, tag = _fault_flags(fault)
    layer = g.add_layer(Layer("BatchNorm", f"nn.BatchNorm{nd}d({c})", fn_batchnorm(nd, c), contig="same",
                              bad=bad, tag=tag))
    g.took_fault(fault, "BatchNorm")
    return Step(callE(layer, a), "BatchNorm")


def b_conv(g, a, t, mode, fault):
    s = t.shape
    nd = len(s) - 2
    if nd not in (1, 2) or mode == "generic":
        return None
    ch = g.ch
    C = s[1]
    ci = g.perturb(C) if fault else C
    co = C if mode == "keep" else ch.int(2, 12)
    k = ch.choice([1, 3, 3, 5])
    p = k // 2 if mode == "keep" or ch.chance(0.6) else 0
    if any(L + 2 * p - k + 1 < 1 for L in s[2:]):
        k, p = 1, 0
    args = f"{ci}, {co}, {k}" + (f", padding={p}" if p else "")
    bad, tag = _fault_flags(fault)
    layer = g.add_layer(Layer("Conv", f"nn.Conv{nd}d({args})", fn_conv(nd, ci, co, k, p),
                              attrs={"in_channels": ci}, bad=bad, tag=tag))
    g.took_fault(fault, "Conv")
    return Step(callE(layer, a), "Conv")


def b_act(g, a, t, mode, fault):
    if fault:
        return None
    ch = g.ch
    if mode != "generic" and ch.chance(0.35):
        ctor = ch.choice(["nn.ReLU()", "nn.GELU()", "nn.Tanh()", "nn.Dropout(0.1)", "nn.Identity()", "nn.SiLU()"])
        layer = g.add_layer(Layer("act", ctor, fn_same, params=False, contig="same"))
        return Step(callE(layer, a))
    text = ch.choice([f"F.relu({a.text})", f"torch.tanh({a.text})", f"{a.text}.sigmoid()", f"{a.text} * 0.5",
                      f"{a.text} + 1.0", f"-{a.text}", f"F.gelu({a.text})", f"{a.text}.clamp(min=0.0)"])
    return Step(opE(text, lambda sim, chk, v: T(_tensor(v).shape, _grad(sim, v), v.contig), a))


def b_flatten(g, a, t, mode, fault):
    s = t.shape
    if len(s) < 3 or mode != "any" or fault:
        return None
    if g.ch.chance(0.4):
        layer = g.add_layer(Layer("Flatten", g.ch.choice(["nn.Flatten()", "nn.Flatten(1)"]), fn_flatten,
                                  params=False, contig="same"))
        return Step(callE(layer, a))
    text = g.ch.choice([f"{a.text}.flatten(1)", f"torch.flatten({a.text}, 1)"])
    return Step(opE(text, lambda sim, chk, v: T(fn_flatten(sim, v, chk), _grad(sim, v), v.contig), a))


def b_seq(g, a, t, mode, fault):
    """nn.Sequential of two or three layers (one of them carries the fault)."""
    if mode == "generic" or len(t.shape) < 2:
        return None
    ch = g.ch
    items: list[Layer] = []
    cur = t
    n = ch.int(2, 3)
    bad_at = ch.int(0, n - 1) if fault else None
    tmp_layers = []
    for k in range(n):
        f = fault if k == bad_at else None
        opts = [b_linear, b_layernorm, b_act] + ([b_conv, b_batchnorm] if len(cur.shape) in (3, 4) else [])
        if f:
            opts = [b_linear, b_layernorm] + ([b_conv, b_batchnorm] if len(cur.shape) in (3, 4) else [])
        before = len(g.layers)
        st = None
        for _ in range(6):
            st = ch.choice(opts)(g, V("_"), cur, "keep" if mode == "keep" else "any", f)
            if st is not None and len(g.layers) == before + 1 and st.e.text.startswith("self.l"):
                break
            del g.layers[before:]
            st = None
        if st is None:
            raise Retry("sequential")
        layer = g.layers.pop()
        tmp_layers.append(layer)
        items.append(layer)
        out = layer.fn(Sim(asif=True), cur, False)  # the nominal result (a fault may be "caught": not flagged)
        cur = out if isinstance(out, T) else T(tuple(out), True, True)
    for it in items:
        it.name = None
    seq = Layer("Sequential", "nn.Sequential(", fn_seq(items), items=items, contig="new")
    g.add_layer(seq)
    return Step(callE(seq, a), _construct_of(seq))


def f_view(dims_fn, method: str):
    def fn(sim, chk, v):
        v = _tensor(v)
        dims = list(dims_fn(v))
        n = v.numel
        negs = dims.count(-1)
        known = math.prod(d for d in dims if d != -1)
        if chk:
            if negs > 1 or (negs and (known == 0 or n % known)) or (not negs and known != n):
                _fail(RuntimeError, "view/reshape", f"{method}{tuple(dims)} of {v.shape}")
            if method == "view" and not v.contig:
                raise GenBug("view of a tensor that may not be contiguous")
        if negs == 1:
            dims = [n // known if d == -1 and known and n % known == 0 else (1 if d == -1 else d) for d in dims]
        return T(tuple(dims), _grad(sim, v), v.contig or method == "view")
    return fn


def b_view(g, a, t, mode, fault):
    s = t.shape
    if mode == "generic" or len(s) < 2:
        return None
    ch = g.ch
    meth = "view" if t.contig and ch.chance(0.5) else "reshape"
    b0 = ch.choice([f"{a.text}.shape[0]", f"{a.text}.size(0)"] + ([] if fault else ["-1"]))
    rest = t.numel // s[0]
    if fault:
        nondiv = [k for k in range(2, 10) if rest % k]
        if nondiv and ch.chance(0.4):
            dims = [str(ch.choice(nondiv)), "-1"]  # a -1 that cannot be inferred
        else:
            dims = [str(g.perturb(rest))]  # a count that differs
    elif mode == "keep":
        dims = [str(v) for v in s[1:]]
    else:
        opts = []
        if len(s) >= 3:
            opts.append(["-1"] if ch.chance(0.5) else [str(rest)])
        divs = [d for d in _divisors(s[-1]) if 1 < d < s[-1]]
        if divs and len(s) <= 3:
            d = ch.choice(divs)
            opts.append([str(v) for v in s[1:-1]] + [str(d), str(s[-1] // d) if ch.chance(0.6) else "-1"])
        if len(s) == 3:
            opts.append([str(s[1] * s[2])])
        if not opts:
            return None
        dims = ch.choice(opts)
    frozen = list(dims)

    def dims_fn(v, frozen=frozen):
        return [v.shape[0] if b0 != "-1" else -1] + [int(x) for x in frozen]
    text = f"{a.text}.{meth}({', '.join([b0] + dims)})"
    g.took_fault(fault, "view/reshape")
    return Step(opE(text, f_view(dims_fn, meth), a, construct="view/reshape", fault=fault), "view/reshape")


def f_cat(dim: int):
    def fn(sim, chk, *ts):
        ts = [_tensor(v) for v in ts]
        r = len(ts[0].shape)
        d = dim % r
        if chk:
            if any(len(v.shape) != r for v in ts) or any(
                    v.shape[:d] + v.shape[d + 1:] != ts[0].shape[:d] + ts[0].shape[d + 1:] for v in ts):
                _fail(RuntimeError, "cat", "cat of " + ", ".join(str(v.shape) for v in ts))
        out = list(ts[0].shape)
        out[d] = sum(v.shape[d] if len(v.shape) == r else 0 for v in ts)
        return T(tuple(out), _grad(sim, *ts), True)
    return fn


def f_slice_last(k: int | None, step: int = 1):
    def fn(sim, chk, v):
        v = _tensor(v)
        n = v.shape[-1]
        m = min(n, k) if k is not None else n
        m = -(-m // step)
        return T(v.shape[:-1] + (m,), _grad(sim, v), False)
    return fn


def b_cat(g, a, t, mode, fault):
    s = t.shape
    if mode != "any" or len(s) < 2:
        return None
    ch = g.ch
    n = s[-1]
    if fault:
        k = ch.int(1, max(1, n - 1)) if n > 1 else None
        if k is None or k == n:
            return None
        d = ch.int(0, len(s) - 2)
        sl = opE(f"{a.text}[..., :{k}]", f_slice_last(k), a)
        text = f"torch.cat([{a.text}, {sl.text}], dim={d})"
        g.took_fault(fault, "cat")
        return Step(opE(text, f_cat(d), a, sl, construct="cat", fault=fault), "cat")
    if n * 2 > 64:
        return None
    if ch.chance(0.5) and n >= 2:
        k = ch.int(1, n - 1)
        sl = opE(f"{a.text}[..., :{k}]", f_slice_last(k), a)
        text = f"torch.cat([{a.text}, {sl.text}], dim=-1)"
        return Step(opE(text, f_cat(-1), a, sl, construct="cat"), "cat")
    d = ch.choice([-1, 1]) if len(s) >= 2 else -1
    if s[d] * 2 > 64:
        d = -1
    other = ch.choice([f"{a.text}", f"torch.zeros_like({a.text})", f"{a.text}.relu()"])
    oe = opE(other, lambda sim, chk, v: T(v.shape, _grad(sim, v) if "zeros" not in other else False, True), a)
    text = f"torch.cat([{a.text}, {oe.text}], dim={d})" if ch.chance(0.7) else f"torch.cat(({a.text}, {oe.text}), {d})"
    return Step(opE(text, f_cat(d), a, oe, construct="cat"), "cat")


def f_matmul(sim, chk, x, w):
    x, w = _tensor(x), _tensor(w)
    if chk and (len(x.shape) < 1 or x.shape[-1] != w.shape[0]):
        _fail(RuntimeError, "matmul", f"{x.shape} @ {w.shape}")
    out = x.shape[:-1] + (w.shape[1],) if len(x.shape) >= 2 else (w.shape[1],)
    return T(out, _grad(sim, x, w), True)


def b_matmul(g, a, t, mode, fault):
    s = t.shape
    if mode == "generic" or len(s) < 2:
        return None
    ch = g.ch
    n = s[-1]
    k = n if mode == "keep" else g.width()
    nn_ = g.perturb(n) if fault else n
    if ch.chance(0.35):
        p = Layer("Param", f"nn.Parameter(torch.randn({nn_}, {k}))", None, params=True)
        g.add_layer(p, "w")
        w = E(f"self.{p.name}", lambda sim, env, chk: T((nn_, k), True, True), (p,))
    else:
        w = const(f"torch.randn({nn_}, {k})", (nn_, k))
    text = f"{a.text} @ {w.text}" if ch.chance(0.6) else f"torch.matmul({a.text}, {w.text})"
    g.took_fault(fault, "matmul")
    return Step(opE(text, f_matmul, a, w, construct="matmul", fault=fault), "matmul")


def bcast_shape(a: tuple, b: tuple) -> tuple | None:
    out = []
    for k in range(1, max(len(a), len(b)) + 1):
        x = a[-k] if k <= len(a) else 1
        y = b[-k] if k <= len(b) else 1
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y) if 1 in (x, y) else x)
    return tuple(reversed(out))


def f_bcast(sim, chk, x, y):
    x, y = _tensor(x), _tensor(y)
    out = bcast_shape(x.shape, y.shape)
    if out is None:
        if chk:
            _fail(RuntimeError, "broadcast", f"{x.shape} and {y.shape}")
        out = x.shape
    return T(out, _grad(sim, x, y), x.contig and y.contig and out == x.shape)


def b_bcast(g, a, t, mode, fault, env: dict | None = None):
    s = t.shape
    if mode == "generic" or len(s) < 1:
        return None
    ch = g.ch
    op = ch.choice(["+", "*", "-"])
    skip = (env or {}).get("skip")
    if isinstance(skip, T) and ch.chance(0.5):
        ok = bcast_shape(s, skip.shape) == s
        if (ok and not fault) or (fault and bcast_shape(s, skip.shape) is None):
            text = f"{a.text} {op} skip"
            g.took_fault(fault, "broadcast")
            return Step(opE(text, f_bcast, a, V("skip"), construct="broadcast", fault=fault), "broadcast")
    L = ch.int(1, min(len(s), 3))
    other = [ch.choice([v, 1]) if k else v for k, v in enumerate(s[-L:])]
    if fault:
        cand = [k for k, v in enumerate(s[-L:]) if v != 1]
        if not cand:
            return None
        k = ch.choice(cand)
        other[k] = g.perturb(s[-L:][k])
        if other[k] == 1:
            other[k] = s[-L:][k] + 1
    fac = ch.choice(["torch.randn", "torch.ones", "torch.rand"])
    if ch.chance(0.25):
        p = Layer("Param", f"nn.Parameter({fac}({', '.join(map(str, other))}))", None, params=True)
        g.add_layer(p, "b")
        oshape = tuple(other)
        oe = E(f"self.{p.name}", lambda sim, env, chk: T(oshape, True, True), (p,))
    else:
        oe = const(f"{fac}({', '.join(map(str, other))})", tuple(other))
    g.took_fault(fault, "broadcast")
    return Step(opE(f"{a.text} {op} {oe.text}", f_bcast, a, oe, construct="broadcast", fault=fault), "broadcast")


def f_reduce(dim: int, keep: bool):
    def fn(sim, chk, v):
        v = _tensor(v)
        s = list(v.shape)
        d = dim % len(s)
        if keep:
            s[d] = 1
        else:
            s.pop(d)
        return T(tuple(s), _grad(sim, v), v.contig)
    return fn


def b_reduce(g, a, t, mode, fault):
    s = t.shape
    if mode != "any" or len(s) < 3 or fault:
        return None
    ch = g.ch
    d = ch.int(1, len(s) - 1)
    dt = str(d - len(s)) if ch.chance(0.4) else str(d)
    keep = ch.chance(0.3)
    kk = ", keepdim=True" if keep else ""
    text = ch.choice([f"{a.text}.mean(dim={dt}{kk})", f"{a.text}.sum({dt}{kk})", f"{a.text}.amax(dim={dt}{kk})",
                      f"torch.mean({a.text}, {dt}{kk})"])
    return Step(opE(text, f_reduce(d, keep), a))


def b_slice(g, a, t, mode, fault):
    s = t.shape
    if mode != "any" or len(s) < 2 or s[-1] < 2 or fault:
        return None
    ch = g.ch
    if ch.chance(0.5):
        k = ch.int(1, s[-1] - 1)
        return Step(opE(f"{a.text}[..., :{k}]", f_slice_last(k), a))
    return Step(opE(f"{a.text}[..., ::2]", f_slice_last(None, 2), a))


def f_transpose(d0: int, d1: int):
    def fn(sim, chk, v):
        v = _tensor(v)
        s = list(v.shape)
        s[d0], s[d1] = s[d1], s[d0]
        return T(tuple(s), _grad(sim, v), False)
    return fn


def b_transpose(g, a, t, mode, fault):
    s = t.shape
    if mode != "any" or len(s) < 3 or fault:
        return None
    r = len(s)
    if g.ch.chance(0.5):
        return Step(opE(f"{a.text}.transpose(-1, -2)", f_transpose(r - 1, r - 2), a))
    return Step(opE(f"{a.text}.transpose(1, 2)", f_transpose(1, 2), a))


STEPS: list[tuple[float, Callable]] = [
    (5, b_linear), (2, b_layernorm), (2, b_batchnorm), (3, b_conv), (4, b_act), (1.5, b_flatten), (1.5, b_seq),
    (2, b_view), (1.5, b_cat), (2, b_matmul), (2, b_bcast), (1, b_reduce), (1, b_slice), (0.7, b_transpose),
]
FAULTABLE = {b_linear, b_layernorm, b_batchnorm, b_conv, b_seq, b_view, b_cat, b_matmul, b_bcast}


def step(g: G, ctx: Ctx, fault=None, var: str = "x", a: E | None = None, t: T | None = None) -> Step:
    """A step on ``var`` that fits its estimated shape (and the mode); with ``fault`` one
    that fails there."""
    ch = g.ch
    a = a or V(var)
    t = t or _tensor(ctx.env.get(var), var)
    opts = [(w, b) for w, b in STEPS if not fault or b in FAULTABLE]
    for _ in range(25):
        b = ch.weighted(opts)
        sn = g.snap()
        try:
            st = b(g, a, t, ctx.mode, fault, ctx.env) if b is b_bcast else b(g, a, t, ctx.mode, fault)
        except Retry:
            st = None
        if st is not None:
            return st
        g.restore(sn)
    if fault:
        raise Retry("no faultable step fits")
    return b_act(g, a, t, ctx.mode, None)


# ------------------------------------------------------------------ conditions


def c_shape(g: G, ctx: Ctx, want: bool) -> Cond | None:
    t = ctx.env.get("x")
    if not isinstance(t, T) or not t.shape:
        return None
    s = t.shape
    ch = g.ch
    kind = ch.int(0, 5)
    if kind == 0:
        v = s[-1] if want else g.width(avoid=(s[-1],))
        form = ch.choice(["x.shape[-1]", "x.size(-1)", f"x.shape[{len(s) - 1}]"])
        return Cond(f"{form} == {v}", lambda sim, env: _tensor(_get(env, "x")).shape[-1] == v, "shape")
    if kind == 1:
        v = s[-1] if not want else g.width(avoid=(s[-1],))
        return Cond(f"x.shape[-1] != {v}", lambda sim, env: _tensor(_get(env, "x")).shape[-1] != v, "shape")
    if kind == 2:
        r = len(s) if want else ch.choice([q for q in (2, 3, 4, 5) if q != len(s)])
        form = ch.choice(["x.dim()", "x.ndim", "len(x.shape)"])
        return Cond(f"{form} == {r}", lambda sim, env: len(_tensor(_get(env, "x")).shape) == r, "shape")
    if kind == 3 and len(s) >= 2:
        k = ch.int(max(0, s[1] - 6), s[1] - 1) if want else ch.int(s[1], s[1] + 6)
        form = ch.choice(["x.size(1)", "x.shape[1]"])
        return Cond(f"{form} > {k}", lambda sim, env: _tensor(_get(env, "x")).shape[1] > k, "shape")
    if kind == 4:
        par = s[-1] % 2
        op = "==" if (par == 0) == want else "!="
        return Cond(f"x.shape[-1] % 2 {op} 0", lambda sim, env: (_tensor(_get(env, "x")).shape[-1] % 2 == 0) == (op == "=="),
                    "shape")
    a = c_shape(g, ctx, True if want else ch.chance(0.5))
    b = c_shape(g, ctx, want if want else (not _truth_of(a, ctx)))
    if a is None or b is None or " and " in a.text + b.text or " or " in a.text + b.text:
        return None
    return Cond(f"{a.text} and {b.text}", lambda sim, env: a.ev(sim, env) and b.ev(sim, env), "shape")


def _truth_of(c: Cond | None, ctx: Ctx) -> bool:
    if c is None:
        return True
    return c.ev(Sim(asif=True), dict(ctx.env))


def c_cfg(g: G, ctx: Ctx, want: bool) -> Cond | None:
    ch = g.ch
    kind = ch.choice(["bool", "str", "int"])
    name, val = g.cfg_attr(kind)
    if kind == "bool":
        text = f"self.{name}" if val == want else f"not self.{name}"
        return Cond(text, lambda sim, env: (val if text.startswith("self") else not val), "config")
    if kind == "str":
        lit = val if want else ch.choice([m for m in ("a", "b", "c") if m != val])
        if ch.chance(0.3):
            others = [m for m in ("a", "b", "c", "d") if m != val]
            group = (val, ch.choice(others)) if want else tuple(others[:2])
            return Cond(f"self.{name} in {group!r}", lambda sim, env: val in group, "config")
        return Cond(f"self.{name} == {lit!r}", lambda sim, env: val == lit, "config")
    k = ch.int(max(0, val - 3), val - 1) if want else ch.int(val, val + 3)
    return Cond(f"self.{name} > {k}", lambda sim, env: val > k, "config")


def c_walrus(g: G, ctx: Ctx, want: bool) -> Cond | None:
    t = ctx.env.get("x")
    if not isinstance(t, T) or len(t.shape) < 2:
        return None
    ch = g.ch
    name = ch.choice(["n", "w", "c"])
    if ch.chance(0.5):
        v = t.shape[-1] if want else g.width(avoid=(t.shape[-1],))

        def f(sim, env):
            env[name] = _tensor(_get(env, "x")).shape[-1]
            return env[name] == v
        return Cond(f"({name} := x.shape[-1]) == {v}", f, "walrus")
    k = ch.int(max(0, t.shape[1] - 5), t.shape[1] - 1) if want else ch.int(t.shape[1], t.shape[1] + 5)

    def f2(sim, env):
        env[name] = _tensor(_get(env, "x")).shape[1]
        return env[name] > k
    return Cond(f"({name} := x.size(1)) > {k}", f2, "walrus")


def c_lit(g: G, ctx: Ctx, want: bool) -> Cond:
    if want:
        return Cond(g.ch.choice(["True", "isinstance(x, torch.Tensor)", "1"]), lambda sim, env: True, "literal")
    return Cond(g.ch.choice(["False", "0", "x is None"]), lambda sim, env: False, "literal")


def c_global(g: G, ctx: Ctx, want: bool) -> Cond | None:
    if not g.need_calls:
        return None
    if want:
        return Cond("CALLS >= 1", lambda sim, env: sim.glob.get("CALLS", 0) >= 1, "global")
    return Cond("CALLS > 1000", lambda sim, env: sim.glob.get("CALLS", 0) > 1000, "global")


def c_loopvar(g: G, ctx: Ctx, want: bool | None) -> tuple[Cond, bool] | None:
    """A test on an enclosing loop's variable. Returns (cond, never): ``never`` when it
    is false on every iteration (so its branch is dead)."""
    if not ctx.loop_vars:
        return None
    name, values = g.ch.choice(list(ctx.loop_vars))
    if not values or not all(isinstance(v, int) for v in values):
        return None
    ch = g.ch
    if want is False:
        k = max(values) + ch.int(1, 3)
        return Cond(f"{name} {'>=' if ch.chance(0.5) else '=='} {k}", lambda sim, env: _get(env, name) >= k, "loop-var"), True
    kind = ch.int(0, 2)
    if kind == 0:
        k = ch.choice(values)
        return Cond(f"{name} == {k}", lambda sim, env: _get(env, name) == k, "loop-var"), False
    if kind == 1:
        return Cond(f"{name} % 2 == 0", lambda sim, env: _get(env, name) % 2 == 0, "loop-var"), False
    k = ch.choice(values)
    return Cond(f"{name} < {k}", lambda sim, env: _get(env, name) < k, "loop-var"), False


def cond(g: G, ctx: Ctx, want: bool | None) -> Cond:
    ch = g.ch
    if want is None:
        want = ch.chance(0.5)
    for _ in range(10):
        kind = ch.weighted([(6, "shape"), (3, "config"), (1.5, "walrus"), (0.7, "literal"), (0.8, "global")])
        if ctx.mode == "generic" and kind in ("shape", "walrus"):
            continue
        c = {"shape": c_shape, "config": c_cfg, "walrus": c_walrus, "literal": c_lit, "global": c_global}[kind](g, ctx, want)
        if c is not None and _truth_of(c, ctx) == want:
            return c
    return c_lit(g, ctx, want)


# ------------------------------------------------------------------ statements


def gen_block(g: G, ctx: Ctx, lo: int, hi: int) -> list:
    """Statements for a body; ``ctx.env`` follows them (the estimate). An early return
    taken here makes the rest of the body dead."""
    body: list = []
    n = g.ch.int(lo, hi) if g.budget > 0 else lo
    k = 0
    while k < n:
        k += 1
        for _attempt in range(8):
            sn = g.snap()
            n_seen = len(g.seen)
            try:
                nodes = gen_stmt(g, ctx)
            except Retry:
                g.restore(sn)
                continue
            env = dict(ctx.env)
            sim = Sim(asif=True)
            sim.glob = {"CALLS": 1}
            returned = False
            try:
                sim.block(nodes, env)
            except (SimErr, GenBug, _Break, _Continue):
                g.restore(sn)
                continue
            except _Ret:
                returned = True
            _stamp(nodes, ctx.path, tuple(g.seen[:n_seen]), None if ctx.live else ctx.dead_tag)
            g.budget -= 1
            body.extend(nodes)
            ctx.env = env
            if returned and ctx.live:
                g.note("return")
                ctx.live = False
                ctx.dead_tag = "return: code after an early return"
                ctx.top = False
                n = max(n, k + g.ch.int(1, 2))
            break
    return body


def _stamp(nodes: list, path: tuple, before: tuple, region: str | None = None) -> None:
    """Record each node's enclosing constructs, and the reason its region never runs
    (nodes made by an inner ``gen_block`` carry theirs already)."""
    for n in nodes:
        if getattr(n, "_stamped", False):
            continue
        n.path = path
        n.before = before
        n.region = region
        n._stamped = True
        label = getattr(n, "construct_label", None)
        for child in _children(n):
            _stamp(child, path + ((label,) if label else ()), before, region)


def _children(n) -> list:
    if isinstance(n, If):
        return [b for _c, b in n.arms] + ([n.orelse] if n.orelse else [])
    if isinstance(n, (For, While)):
        return [n.body] + ([n.orelse] if n.orelse else [])
    if isinstance(n, Match):
        return [b for _p, _g, b in n.cases]
    if isinstance(n, Try):
        return [n.body] + [b for _t, _n, b in n.handlers] + [n.orelse or [], n.finalbody or []]
    if isinstance(n, (With, FuncDef)):
        return [n.body]
    return []


def gen_stmt(g: G, ctx: Ctx) -> list:
    ch = g.ch
    d = ctx.depth
    deep = d >= 3
    opts: list = [(6 if ctx.top else 5, s_leaf)]
    if ctx.mode == "generic":
        return s_leaf(g, ctx)
    if not deep:
        opts += [(3, s_if), (2.5, s_match), (2, s_try)]
        if ctx.mode == "keep":
            opts += [(1.5, s_range_loop), (0.8, s_while_counter)]
        else:
            opts += [(3, s_modulelist), (1.5, s_range_loop), (0.8, s_list_loop), (1, s_while_counter),
                     (0.8, s_while_shape)]
        opts += [(0.8, s_with)]
    opts += [(1, s_skip), (0.8, s_dead_raise), (0.6, s_del), (1, s_func), (0.8, s_assert), (0.4, s_nonlocal),
             (0.3, s_async_dead)]
    if ctx.mode == "any" and not ctx.no_return and not ctx.in_loop:
        opts += [(0.9, s_early_return)]
    if g.budget <= 0:
        opts = [(1, s_leaf)]
    else:  # compound statements get rarer with depth
        opts = [(w * (1 if f is s_leaf else 0.5 ** d), f) for w, f in opts]
    fn = ch.weighted(opts)
    out = fn(g, ctx)
    if out is None:
        raise Retry(fn.__name__)
    return out


def s_leaf(g: G, ctx: Ctx) -> list:
    fault = g.fault(ctx)
    st = step(g, ctx, fault)
    leaf = assign("x", st.e)
    if fault and fault[0] == "live":
        leaf.tag = "live"
    return [leaf]


def s_skip(g: G, ctx: Ctx) -> list | None:
    """``skip = x`` (used by a later broadcast / cat), or a residual with it."""
    if ctx.mode == "generic":
        return None
    skip = ctx.env.get("skip")
    t = _x(ctx)
    if isinstance(skip, T) and g.ch.chance(0.6):
        fault = g.fault(ctx)
        if skip.shape == t.shape or fault:
            st = b_bcast(g, V("x"), t, ctx.mode, fault, {"skip": skip})
            if st is not None and "skip" in st.e.text:
                return [assign("x", st.e)]
        if len(t.shape) == len(skip.shape) and t.shape[:-1] == skip.shape[:-1] and ctx.mode == "any" \
                and t.shape[-1] + skip.shape[-1] <= 64:
            return [assign("x", opE("torch.cat([x, skip], dim=-1)", f_cat(-1), V("x"), V("skip"), construct="cat"))]
        return None
    return [assign("skip", V("x"))]


def _body_ctx(ctx: Ctx, live: bool, tag: str, path_add: str, **kw) -> Ctx:
    if live:
        return ctx.sub(depth=ctx.depth + 1, path=ctx.path + (path_add,), top=False, **kw)
    return ctx.dead(tag, depth=ctx.depth + 1, path=ctx.path + (path_add,), **kw)


def s_if(g: G, ctx: Ctx) -> list:
    ch = g.ch
    n_arms = ch.weighted([(5, 1), (3, 2), (1, 3)])
    has_else = ch.chance(0.5)
    choices = list(range(n_arms)) + (["else"] if has_else else ["none"])
    taken = ch.choice(choices)
    lv = None
    if ctx.in_loop and ctx.loop_vars and ch.chance(0.3):
        lv = c_loopvar(g, ctx, None if ch.chance(0.6) else False)
    arms = []
    entry = dict(ctx.env)
    kind = None
    if lv is not None:  # a test on the loop variable: both branches run (in some iteration), unless never true
        c, never = lv
        live_body = not never
        bctx = _body_ctx(ctx.sub(env=entry), live_body, "if: branch never true in any iteration", "if-loopvar",
                         no_live=True)
        body = gen_block(g, bctx, 1, 2)
        orelse = None
        if ch.chance(0.4):
            octx = _body_ctx(ctx.sub(env=entry), True, "", "if-loopvar", no_live=True)
            orelse = gen_block(g, octx, 1, 2)
        g.note("if")
        return [If([(c, body)], orelse)]
    for k in range(n_arms):
        if taken == k:
            want = True
        elif taken in ("else", "none") or k < taken:
            want = False
        else:
            want = None
        c = cond(g, ctx.sub(env=entry), want)
        kind = kind or c.kind
        live = taken == k
        tag = "if: branch not taken" if (taken in ("else", "none") or k < taken) else "if: elif after the taken branch"
        tag += f" ({c.kind} test)"
        bctx = _body_ctx(ctx.sub(env=entry), live and ctx.live, tag, "elif" if k else "if")
        body = gen_block(g, bctx, 1, 3)
        arms.append((c, body))
    orelse = None
    if has_else:
        live = taken == "else"
        bctx = _body_ctx(ctx.sub(env=entry), live and ctx.live, f"if: else not taken ({kind} test)", "else")
        orelse = gen_block(g, bctx, 1, 2)
    g.note("if" if n_arms == 1 else "elif")
    node = If(arms, orelse)
    if any(c.kind == "global" for c, _b in arms):
        node.construct_label = "if-global"
        g.note("if-global")
    if kind == "walrus":
        g.note("walrus")
    return [node]


def s_early_return(g: G, ctx: Ctx) -> list | None:
    ch = g.ch
    taken = ch.chance(0.4) and ctx.live
    c = cond(g, ctx, taken)
    if taken:
        st = step(g, ctx) if ch.chance(0.5) else Step(V("x"))
        body = [return_leaf(st.e)]
    else:
        fault = g.fault(ctx.dead("if: branch not taken (early return)"))
        st = step(g, ctx.dead("if: branch not taken (early return)"), fault)
        body = [return_leaf(st.e)]
    g.note("if")
    return [If([(c, body)], None)]


def s_dead_raise(g: G, ctx: Ctx) -> list:
    c = cond(g, ctx, False)

    def fn(sim, env):
        raise SimErr(ValueError, "raise")
    text = g.ch.choice(['raise ValueError(f"unexpected input shape {tuple(x.shape)}")',
                        'raise RuntimeError("unsupported configuration")', "raise NotImplementedError"])
    leaf = Leaf(text, fn, tag="dead: raise in a branch not taken")
    g.note("raise")
    return [If([(c, [leaf])], None)]


def s_del(g: G, ctx: Ctx) -> list | None:
    if ctx.mode == "generic":
        return None
    ch = g.ch
    name = ch.choice(["h", "y", "tmp"])
    first = assign(name, step(g, ctx, g.fault(ctx)).e)

    def del_fn(var):
        def fn(sim, env):
            if var not in env:
                raise GenBug(f"del {var}: not bound")
            del env[var]
        return fn
    if ch.chance(0.5):
        out = [first, Leaf("del x", del_fn("x")), assign("x", V(name))]
    else:
        out = [first, assign("x", V(name)), Leaf(f"del {name}", del_fn(name))]
    g.note("del")
    return out


def s_assert(g: G, ctx: Ctx) -> list:
    want = True if ctx.live else g.ch.chance(0.3)
    c = cond(g, ctx, want)

    def fn(sim, env):
        if not c.ev(sim, env):
            raise SimErr(AssertionError, "assert")
    msg = g.ch.choice(["", ', "unexpected shape"', ", f\"got {tuple(x.shape)}\""])
    g.note("assert")
    return [Leaf(f"assert {c.text}{msg}", fn, tag=None if want else "dead: failing assert in dead code")]


def s_with(g: G, ctx: Ctx) -> list:
    body = gen_block(g, _body_ctx(ctx, ctx.live, ctx.dead_tag or "", "with"), 1, 3)
    g.note("with")
    return [With("torch.no_grad()", True, body)]


def s_func(g: G, ctx: Ctx) -> list | None:
    """A nested function or a lambda, applied to x; or one never called (dead)."""
    ch = g.ch
    t = _x(ctx)
    called = ch.chance(0.7) or not ctx.live
    name = g.fresh("f") if ch.chance(0.3) else ch.choice(["proj", "mix", "act", "block", "apply"])
    fctx = ctx.sub(env={"t": t, "x": t}, top=False, path=ctx.path + ("nested-def",), depth=ctx.depth + 1,
                   in_loop=False, loop_vars=(), no_return=False)
    if not called:
        fctx = fctx.dead("def: nested function never called")
    fault = g.fault(fctx)
    if ch.chance(0.5):  # lambda
        st = step(g, fctx, fault, var="t")
        lam = Leaf(f"{name} = lambda t: {st.e.text}", None, st.e.layers, st.e.tag if fault else None, st.e.construct)

        def mk(sim, env, lam=lam, e=st.e):
            env[name] = LamV(("t",), e, lam.line)
        lam.fn = mk
        if fault and fault[0] == "live":
            lam.tag = "live"
        g.note("lambda")
        out = [lam]
    else:
        n = ch.int(1, 2)
        body = []
        cur = dict(fctx.env)
        var = "t"
        for k in range(n):
            sub = fctx.sub(env=cur)
            st = step(g, sub, fault if k == n - 1 else None, var=var)
            tgt = "h" if k == 0 else "t"
            leaf = assign(tgt, st.e)
            if fault and k == n - 1 and fault[0] == "live":
                leaf.tag = "live"
            body.append(leaf)
            sim = Sim(asif=True)
            try:
                leaf.run(sim, cur)
            except (SimErr, GenBug):
                raise Retry("nested body")
            cur["x"] = cur[tgt]
            var = tgt
        body.append(return_leaf(V(var)))
        out = [FuncDef(name, ("t",), body)]
        g.note("nested-def")
    if called:
        def call_fn(sim, env):
            env["x"] = sim.call_func(_get(env, name), [_get(env, "x")])
        call = Leaf(f"x = {name}(x)", call_fn, out[0].layers if isinstance(out[0], Leaf) else
                    tuple(l for b in out[0].body for l in getattr(b, "layers", ())))
        call.tag = None
        out.append(call)
    return out


def s_nonlocal(g: G, ctx: Ctx) -> list | None:
    if ctx.mode == "generic" or not ctx.live:
        return None
    ch = g.ch
    name = ch.choice(["bump", "count_call", "tick"])
    cnt = "count"

    def init(sim, env):
        env[cnt] = 0

    def inc(sim, env):
        env["__outer__"][cnt] += 1
    t = _x(ctx)
    st = b_act(g, V("t"), t, "generic", None)
    body = [Leaf(f"nonlocal {cnt}", lambda sim, env: None), Leaf(f"{cnt} += 1", inc), return_leaf(st.e)]
    fdef = FuncDef(name, ("t",), body)
    calls = ch.int(1, 2)

    def call_fn(sim, env):
        env["x"] = sim.call_func(_get(env, name), [_get(env, "x")])
    out = [Leaf(f"{cnt} = 0", init), fdef] + [Leaf(f"x = {name}(x)", call_fn) for _ in range(calls)]
    if ch.chance(0.6):
        k = calls + ch.int(1, 4)
        c = Cond(f"{cnt} > {k}", lambda sim, env: _get(env, cnt) > k, "nonlocal")
        dctx = ctx.dead("if: branch not taken (nonlocal counter test)", depth=ctx.depth + 1,
                        path=ctx.path + ("if",))
        out.append(If([(c, gen_block(g, dctx, 1, 1))], None))
    g.note("nonlocal")
    return out


def s_async_dead(g: G, ctx: Ctx) -> list | None:
    t = _x(ctx)
    fctx = ctx.sub(env={"t": t, "x": t}, top=False, path=ctx.path + ("async",), depth=ctx.depth + 1,
                   in_loop=False, loop_vars=())
    fctx = fctx.dead("async: async def never awaited")
    fault = ("dead", fctx.dead_tag) if g.ch.chance(0.8) else None
    st = step(g, fctx, fault, var="t")
    g.took_fault(fault, "")
    g.note("async")
    body = [return_leaf(st.e)]
    if fault:
        body[0].tag = fctx.dead_tag
    fd = FuncDef(g.ch.choice(["later", "prefetch", "_warm"]), ("t",), body, is_async=True)
    fd.construct_label = "async"
    return [fd]


# ------------------------------------------------------------------ loops over a ModuleList


def _items_e(layer: Layer):
    return lambda sim, env: list(layer.items)


def _chain_item(g: G, w: int, dom: str, fault, rank: int, tag: str | None = None,
                plain: bool = False) -> tuple[Layer, int]:
    """One ModuleList item taking width / channels ``w`` (with a fault: another one).
    ``plain``: an ``nn.Linear`` (its ``in_features`` is read, or its class matched)."""
    ch = g.ch
    bad, ftag = _fault_flags(fault)
    tag = ftag or tag
    i = g.perturb(w) if fault else w
    if dom == "conv":
        nd = rank - 2
        o = ch.choice([c for c in (2, 3, 4, 6, 8, 12, 16) if c != w])
        L = Layer("Conv", f"nn.Conv{nd}d({i}, {o}, 3, padding=1)", fn_conv(nd, i, o, 3, 1),
                  attrs={"in_channels": i}, bad=bad, tag=tag)
        return L, o
    o = g.width(avoid=(w,))
    if not plain and g.block and ch.chance(0.5):
        return _block_item(g, i, o, bad, tag), o
    if not plain and ch.chance(0.2):
        inner = Layer("Linear", f"nn.Linear({i}, {o})", fn_linear(i, o), attrs={"in_features": i}, bad=bad, tag=tag)
        act = Layer("act", "nn.ReLU()", fn_same, params=False, contig="same")
        L = Layer("Sequential", f"nn.Sequential(nn.Linear({i}, {o}), nn.ReLU())", fn_seq([inner, act]), bad=bad,
                  tag=tag)
        L.construct = "Linear"
        return L, o
    return Layer("Linear", f"nn.Linear({i}, {o})", fn_linear(i, o), attrs={"in_features": i}, bad=bad, tag=tag), o


def _block_item(g: G, i: int, o: int, bad, tag) -> Layer:
    tpl = g.block
    _lines, _fc_line, calls = BLOCK_TEMPLATES[tpl]
    extra = ""
    if tpl == "match" and g.ch.chance(0.5):
        extra = f", act={g.ch.choice(['tanh', 'none'])!r}"

    def fn(sim, t, check, i=i, o=o):
        s = t.shape
        base = g.block_base

        def err(rel):
            e = SimErr(RuntimeError, "Linear", f"Block({i}, {o}) on {s}")
            e.line = None if base is None else base + rel
            raise e
        if tpl == "early" and s and s[-1] == o:
            return t  # `return x`: fc never runs
        if tpl == "try" and s and s[-1] != i:
            if s[-1] > i:  # the error is caught; the fallback slices x to d_in
                sim.events.add("block-try")
                return T(s[:-1] + (o,), not sim.no_grad, True)
            if check:
                err(10)
        if check and (not s or s[-1] != i):
            err(min(calls))
        return s[:-1] + (o,)
    L = Layer("Block", f"Block({i}, {o}{extra})", fn, bad=bad, tag=tag)
    L.construct = "Linear"
    return L


def _modlist(g: G, items: list[Layer]) -> Layer:
    ml = Layer("ModuleList", "nn.ModuleList([", None, items=items)
    g.add_layer(ml, "blocks")
    return ml


def _call_item(var: str, ml: Layer) -> Leaf:
    def fn(sim, env):
        env["x"] = sim.call_layer(_get(env, var), _get(env, "x"))
    return Leaf(f"x = {var}(x)", fn, (ml,))


def s_modulelist(g: G, ctx: Ctx) -> list | None:
    """``for blk in self.blocks`` over items of differing widths, with a ``break``
    (the items after it never run), a ``continue`` (the skipped items never run), a
    ``match`` on the item's class, a ``yield`` helper that stops early, or plain."""
    t = _x(ctx)
    s = t.shape
    if ctx.mode != "any" or len(s) < 2:
        return None
    ch = g.ch
    form = ch.weighted([(4, "break"), (2, "continue"), (1.2, "continue-attr"), (1.5, "match"), (1.2, "yield"),
                        (1, "plain")])
    dom = "conv" if len(s) in (3, 4) and form not in ("match", "continue-attr") and ch.chance(0.35) else "linear"
    w = s[1] if dom == "conv" else s[-1]
    axis = 1 if dom == "conv" else -1
    wtext = "x.shape[1]" if dom == "conv" else ch.choice(["x.shape[-1]", "x.size(-1)"])
    var = ch.choice(["blk", "layer", "block", "m"])
    live_ok = ctx.live and g.want_live and not ctx.no_live
    items: list[Layer] = []
    label = "for-modulelist"
    if form in ("break", "plain", "yield"):
        k = ch.int(1, 3)
        variant = "never"
        if form == "break":
            variant = ch.weighted([(4, "before"), (3, "after"), (1.5, "never"), (1.5, "return")])
            if variant == "return" and (ctx.no_return or ctx.in_loop):
                variant = "after"
        live_at = ch.int(0, k - 1) if live_ok and ch.chance(0.7) else None
        widths = [w]
        cur = w
        for j in range(k):
            f = ("live", "live") if j == live_at else None
            L, cur = _chain_item(g, cur, dom, f, len(s))
            g.took_fault(f, _construct_of(L) or "Linear")
            items.append(L)
            widths.append(cur)
        target = widths[-1]
        if variant == "before" and target in widths[:-1]:
            return None
        if variant in ("after", "return") and target in widths[1:-1]:
            return None
        if variant == "never":
            target = g.width(avoid=widths) if dom == "linear" else max(widths) + ch.int(1, 5)
        tag = None
        if form == "yield":
            tag = "for+yield: ModuleList item past take()'s limit"
        elif variant in ("before", "after"):
            tag = "for+break: ModuleList item after the break"
        elif variant == "return":
            tag = "for+return: ModuleList item after the return"
        n_dead = ch.int(1, 2) if tag else 0
        for _ in range(n_dead):
            f = ("dead", tag) if ch.chance(min(1.0, g.p_dead + 0.25)) else None
            L, cur = _chain_item(g, cur, dom, f, len(s), tag)
            g.took_fault(f, "")
            items.append(L)
        ml = _modlist(g, items)
        call = _call_item(var, ml)
        body: list = [call]
        if form == "break":
            c = Cond(f"{wtext} == {target}",
                     lambda sim, env: _tensor(_get(env, "x")).shape[axis] == target, "shape")
            jump = return_leaf(V("x")) if variant == "return" else break_leaf()
            test = If([(c, [jump])], None)
            test.construct_label = "if"
            body = [test, call] if variant == "before" else [call, test]
            g.note("return" if variant == "return" else "break")
            label = "for+return" if variant == "return" else "for+break"
        if ch.chance(0.3):
            body.append(assign("x", b_act(g, V("x"), t, "generic", None).e))
        if form == "yield":
            g.need_take = True
            node = For(var, f"take(self.{ml.name}, {k})", lambda sim, env, ml=ml, k=k: list(ml.items[:k]),
                       lambda env, item: env.__setitem__(var, item), body, layers=(ml,))
            g.note("for-yield")
            label = "for-yield"
        else:
            node = For(var, f"self.{ml.name}", _items_e(ml), lambda env, item: env.__setitem__(var, item), body,
                       layers=(ml,))
            g.note("for-modulelist")
    elif form in ("continue", "continue-attr"):
        k = ch.int(2, 4)
        skips = {j for j in ch.choice([[1], [0], [k - 1], [1, 2]]) if j < k}
        if len(skips) >= k:
            return None
        live_idx = [j for j in range(k) if j not in skips]
        live_at = ch.choice(live_idx) if live_ok and form == "continue" and ch.chance(0.7) else None
        tag = "for+continue: ModuleList item skipped by continue"
        cur = w
        plain = form == "continue-attr"
        for j in range(k):
            if j in skips:
                f = ("dead", tag) if plain or ch.chance(min(1.0, g.p_dead + 0.25)) else None
                L, _o = _chain_item(g, cur, dom, f, len(s), tag, plain=plain)
                g.took_fault(f, "")
            else:
                f = ("live", "live") if j == live_at else None
                L, cur = _chain_item(g, cur, dom, f, len(s), plain=plain)
                g.took_fault(f, _construct_of(L) or "Linear")
            items.append(L)
        ml = _modlist(g, items)
        call = _call_item(var, ml)
        if form == "continue":
            sk = sorted(skips)
            if len(sk) == 1 and ch.chance(0.7):
                c = Cond(f"i == {sk[0]}", lambda sim, env, v=sk[0]: _get(env, "i") == v, "loop-var")
            else:
                c = Cond(f"i in {tuple(sk)!r}", lambda sim, env, v=tuple(sk): _get(env, "i") in v, "loop-var")
        else:
            c = Cond(f"{var}.in_features != {wtext}",
                     lambda sim, env: _get(env, var).attrs["in_features"] != _tensor(_get(env, "x")).shape[-1], "shape")
        test = If([(c, [continue_leaf()])], None)
        test.construct_label = "if"
        body = [test, call]

        def bind(env, item):
            env["i"], env[var] = item
        node = For(f"i, {var}", f"enumerate(self.{ml.name})", lambda sim, env, ml=ml: list(enumerate(ml.items)),
                   bind, body, layers=(ml,))
        g.note("continue")
        g.note("for-modulelist")
        label = "for+continue"
    else:  # match on the item's class
        k = ch.int(2, 4)
        cur = w
        tag = "match: ModuleList item whose class no case matches"
        for j in range(k):
            r = ch.int(0, 9)
            if r < 3 and j > 0:
                f = ("dead", tag) if ch.chance(min(1.0, g.p_dead + 0.25)) else None
                c_in = g.perturb(cur) if f else cur
                items.append(Layer("Conv", f"nn.Conv1d({c_in}, 4, 3)", fn_conv(1, c_in, 4, 3, 0),
                                   bad=_fault_flags(f)[0], tag=tag))
                g.took_fault(f, "")
            elif r < 5:
                items.append(Layer("LayerNorm", f"nn.LayerNorm({cur})", fn_layernorm(cur)))
            else:
                f = ("live", "live") if live_ok and g.want_live and ch.chance(0.4) else None
                L, cur = _chain_item(g, cur, "linear", f, len(s), plain=True)
                g.took_fault(f, "Linear")
                items.append(L)
        ml = _modlist(g, items)
        cases = [(pat_class("nn.Linear", {"Linear"}), None, [_call_item(var, ml)]),
                 (pat_class("nn.LayerNorm", {"LayerNorm"}), None, [_call_item(var, ml)]),
                 (pat_wild(), None, [continue_leaf() if ch.chance(0.5) else pass_leaf()])]
        m = Match(var, lambda sim, env: _get(env, var), cases)
        m.construct_label = "match-class"
        node = For(var, f"self.{ml.name}", _items_e(ml), lambda env, item: env.__setitem__(var, item), [m],
                   layers=(ml,))
        g.note("match-class")
        g.note("for-modulelist")
    node.construct_label = label
    return _finish_loop(g, ctx, node, "for", else_ok=form != "match")


# ------------------------------------------------------------------ other loops


def _loop_body(g: G, ctx: Ctx, var: str, values: list, path: str) -> tuple[list, Ctx]:
    env = dict(ctx.env)
    env[var] = values[0] if values else 0
    bctx = ctx.sub(env=env, mode="keep", depth=ctx.depth + 1, path=ctx.path + (path,), in_loop=True,
                   loop_vars=ctx.loop_vars + ((var, values),), top=False)
    body = gen_block(g, bctx, 1, 3)
    return body, bctx


def _finish_loop(g: G, ctx: Ctx, node, construct: str, else_ok: bool = True) -> list:
    """Check the loop runs (as-if) from here; maybe add an ``else`` (dead when the
    loop breaks)."""
    if not getattr(node, "construct_label", None):
        node.construct_label = construct
    env = dict(ctx.env)
    sim = Sim(asif=True)
    sim.glob = {"CALLS": 1}
    try:
        node.run(sim, env)
    except (SimErr, GenBug, _Break, _Continue):
        raise Retry("loop")
    except _Ret:
        return [node]
    if else_ok and g.ch.chance(0.3):
        if node.broke:
            octx = ctx.dead(f"{construct}-else: else skipped by the break", depth=ctx.depth + 1,
                            path=ctx.path + (construct + "-else",))
            octx.env = env
        else:
            octx = ctx.sub(env=env, depth=ctx.depth + 1, path=ctx.path + (construct + "-else",), top=False)
        node.orelse = gen_block(g, octx, 1, 2)
        g.note(construct + "-else")
    return [node]


def _jumps(g: G, ctx: Ctx, var: str, values: list, body: list) -> list:
    """Maybe a ``continue`` at the top and a ``break`` at the bottom of a loop body,
    tested on the loop variable."""
    ch = g.ch
    if ch.chance(0.35) and len(values) > 1:
        k = ch.choice(values)
        c = Cond(f"{var} == {k}", lambda sim, env, k=k: _get(env, var) == k, "loop-var")
        body.insert(0, If([(c, [continue_leaf()])], None))
        g.note("continue")
    if ch.chance(0.4):
        k = ch.choice(values + [max(values) + ch.int(1, 3)])
        c = Cond(f"{var} == {k}" if ch.chance(0.5) else f"{var} >= {k}",
                 (lambda sim, env, k=k: _get(env, var) == k), "loop-var")
        if ">=" in c.text:
            c.f = lambda sim, env, k=k: _get(env, var) >= k
        after = []
        if ch.chance(0.3):  # dead code after the break, in the same block
            dctx = ctx.dead("for+break: statement after break", depth=ctx.depth + 2, path=ctx.path + ("break",),
                            mode="keep")
            f = ("dead", dctx.dead_tag)
            st = step(g, dctx, f)
            g.took_fault(f, "")
            after = [assign("x", st.e)]
        body.append(If([(c, [break_leaf()] + after)], None))
        g.note("break")
    return body


def s_range_loop(g: G, ctx: Ctx) -> list | None:
    ch = g.ch
    var = "ijk"[min(ctx.depth, 2)] if ch.chance(0.8) else "_i"
    if any(v == var for v, _ in ctx.loop_vars):
        return None
    if ch.chance(0.3):
        name, val = g.cfg_attr("int")
        K = val
        it = f"range(self.{name})"
    else:
        K = ch.int(1, 4)
        it = f"range({K})"
    values = list(range(K))
    if not values:
        return None
    body, _bctx = _loop_body(g, ctx, var, values, "for-range")
    body = _jumps(g, ctx, var, values, body)
    node = For(var, it, lambda sim, env, K=K: list(range(K)), lambda env, item: env.__setitem__(var, item), body)
    node.construct_label = "for-range"
    g.note("for-range")
    return _finish_loop(g, ctx, node, "for")


def s_list_loop(g: G, ctx: Ctx) -> list | None:
    ch = g.ch
    var = ch.choice(["s", "scale", "k"])
    if ch.chance(0.5):
        values = ch.choice([[0.5, 2.0], [1.0, 0.5, 2.0], [0.1]])
        body, _ = _loop_body(g, ctx.sub(), var, [], "for-list")
        body.insert(0, assign("x", opE(f"x * {var}", lambda sim, chk, v: T(v.shape, _grad(sim, v), v.contig), V("x"))))
        it = repr(values) if ch.chance(0.5) else repr(tuple(values))
    else:
        values = ch.choice([[1, 2], [2, 3, 4], [1, 2, 3]])
        body, _ = _loop_body(g, ctx, var, values, "for-list")
        body = _jumps(g, ctx, var, values, body)
        it = repr(values)
    node = For(var, it, lambda sim, env, v=values: list(v), lambda env, item: env.__setitem__(var, item), body)
    node.construct_label = "for-list"
    g.note("for-list")
    return _finish_loop(g, ctx, node, "for")


def s_while_counter(g: G, ctx: Ctx) -> list | None:
    ch = g.ch
    var = ch.choice(["step", "it", "n_iter"])
    if any(v == var for v, _ in ctx.loop_vars) or var in ctx.env:
        return None
    K = ch.int(1, 4)
    values = list(range(K))
    env = dict(ctx.env)
    env[var] = 0
    bctx = ctx.sub(env=env, mode="keep", depth=ctx.depth + 1, path=ctx.path + ("while",), in_loop=True,
                   loop_vars=ctx.loop_vars + ((var, values),), top=False)
    body = gen_block(g, bctx, 1, 2)

    def inc(sim, env):
        env[var] = _get(env, var) + 1
    body.append(Leaf(f"{var} += 1", inc))
    if ch.chance(0.4):
        k = ch.int(1, K + 2)
        c = Cond(f"{var} == {k}", lambda sim, env, k=k: _get(env, var) == k, "loop-var")
        body.append(If([(c, [break_leaf()])], None))
        g.note("break")
    c = Cond(f"{var} < {K}", lambda sim, env: _get(env, var) < K, "loop-var")
    node = While(c, body)
    g.note("while")
    init = Leaf(f"{var} = 0", lambda sim, env: env.__setitem__(var, 0))
    out = _finish_loop(g, ctx.sub(env=dict(ctx.env, **{var: 0})), node, "while")
    return [init] + out


def s_while_shape(g: G, ctx: Ctx) -> list | None:
    """A loop whose trip count follows from the shape (the engine has to iterate)."""
    t = _x(ctx)
    s = t.shape
    ch = g.ch
    kind = ch.int(0, 2)
    if kind == 0 and len(s) >= 2 and s[-1] > 4:
        m = ch.int(2, s[-1] - 1)
        c = Cond(f"x.shape[-1] > {m}", lambda sim, env: _tensor(_get(env, "x")).shape[-1] > m, "shape")
        body = [assign("x", opE("x[..., ::2]", f_slice_last(None, 2), V("x")))]
    elif kind == 1 and len(s) >= 3:
        c = Cond("x.dim() > 2", lambda sim, env: len(_tensor(_get(env, "x")).shape) > 2, "shape")
        body = [assign("x", opE(ch.choice(["x.mean(dim=-1)", "x.sum(-1)", "x.amax(dim=-1)"]), f_reduce(-1, False), V("x")))]
    elif kind == 2 and len(s) >= 2 and s[1] < 16:
        C = ch.int(s[1] + 1, 20)
        c = Cond(f"x.shape[1] < {C}", lambda sim, env: _tensor(_get(env, "x")).shape[1] < C, "shape")
        body = [assign("x", opE("torch.cat([x, x], dim=1)", f_cat(1), V("x"), V("x"), construct="cat"))]
    else:
        return None
    node = While(c, body)
    g.note("while")
    return _finish_loop(g, ctx, node, "while")


# ------------------------------------------------------------------ match


def s_match(g: G, ctx: Ctx) -> list | None:
    ch = g.ch
    t = _x(ctx)
    s = t.shape
    kind = ch.weighted([(4, "shape"), (2, "dim"), (2, "str"), (1, "int")])
    entry = dict(ctx.env)
    if kind == "shape":
        subj_text, subj = "x.shape", (lambda sim, env: tuple(_tensor(_get(env, "x")).shape))
        names = ["b", "c", "h", "w", "d", "n", "l"]
        r = len(s)

        def caps(rank):
            return [("cap", names[k]) if k < len(names) else ("wild",) for k in range(rank)]

        def matching():
            form = ch.int(0, 3)
            if form == 0:
                return pat_seq(caps(r), ch.choice(["()", "[]"])), None
            if form == 1 and r >= 2:
                items = caps(r)
                items[-1] = ("lit", s[-1])
                return pat_seq(items), None
            if form == 2 and r >= 2:
                items = caps(r)
                v = s[1]
                k = ch.int(max(0, v - 4), v - 1)
                return pat_seq(items), Cond(f"{names[1]} > {k}", lambda sim, env: _get(env, names[1]) > k, "shape")
            return pat_seq([("cap", "b"), ("star", "rest")]), None

        def failing():
            form = ch.int(0, 2)
            if form == 0:
                rr = ch.choice([q for q in (2, 3, 4) if q != r])
                return pat_seq(caps(rr), ch.choice(["()", "[]"])), None
            if form == 1 and r >= 2:
                items = caps(r)
                items[-1] = ("lit", g.width(avoid=(s[-1],)))
                return pat_seq(items), None
            if r >= 2:
                items = caps(r)
                v = s[1]
                k = ch.int(v, v + 4)
                return pat_seq(items), Cond(f"{names[1]} > {k}", lambda sim, env: _get(env, names[1]) > k, "shape")
            return pat_seq(caps(r + 1)), None
        construct = "match-shape"
    elif kind == "dim":
        subj_text = ch.choice(["x.dim()", "x.ndim", "len(x.shape)"])
        subj = lambda sim, env: len(_tensor(_get(env, "x")).shape)  # noqa: E731
        r = len(s)

        def matching():
            if ch.chance(0.4):
                return pat_lits([r, ch.choice([q for q in (1, 2, 3, 4, 5) if q != r])]), None
            return pat_lits([r]), None

        def failing():
            return pat_lits([ch.choice([q for q in (1, 2, 3, 4, 5) if q != r])]), None
        construct = "match-int"
    elif kind == "str":
        name, val = g.cfg_attr("str")
        subj_text, subj = f"self.{name}", (lambda sim, env: val)

        def matching():
            if ch.chance(0.3):
                return pat_lits([val, ch.choice([m for m in "abcd" if m != val])]), None
            return pat_lits([val]), None

        def failing():
            return pat_lits([ch.choice([m for m in "abcd" if m != val])]), None
        construct = "match-str"
    else:
        name, val = g.cfg_attr("int")
        subj_text, subj = f"self.{name}", (lambda sim, env: val)

        def matching():
            if ch.chance(0.4):
                k = ch.int(max(0, val - 3), val - 1)
                return pat_capture("d"), Cond(f"d > {k}", lambda sim, env: _get(env, "d") > k, "config")
            return pat_lits([val]), None

        def failing():
            if ch.chance(0.3):
                k = ch.int(val, val + 3)
                return pat_capture("d"), Cond(f"d > {k}", lambda sim, env: _get(env, "d") > k, "config")
            return pat_lits([ch.choice([q for q in range(0, 7) if q != val])]), None
        construct = "match-int"
    n_cases = ch.int(1, 3)
    wildcard = ch.chance(0.6)
    slots = n_cases + (1 if wildcard else 0)
    taken = ch.int(0, slots - 1) if ch.chance(0.85) else None  # None: no case matches
    if taken is None and wildcard:
        wildcard = False
        slots -= 1
    cases = []
    for k in range(slots):
        is_wild = wildcard and k == slots - 1
        if is_wild:
            p, gd = pat_wild(), None
        elif taken is not None and k == taken:
            p, gd = matching()
        elif taken is None or k < taken:
            p, gd = failing()
        else:
            p, gd = (matching() if ch.chance(0.5) else failing())
        if p.irrefutable and gd is None and not is_wild:
            p, gd = failing()
        live = taken == k and ctx.live
        env = dict(entry)
        trial = dict(entry)
        matched = p.match(subj(None, trial), trial) and (gd is None or gd.ev(Sim(True), trial))
        if (taken == k) != matched and (taken is None or k <= taken):
            raise Retry("match pattern")
        if matched:
            env = trial
        tag = f"match: case not taken ({construct[6:]} subject)" if taken is None or k < taken else \
            f"match: case after the matching one ({construct[6:]} subject)"
        bctx = _body_ctx(ctx.sub(env=env), live, tag, construct)
        body = gen_block(g, bctx, 1, 3)
        cases.append((p, gd, body))
    g.note(construct)
    m = Match(subj_text, subj, cases)
    m.construct_label = construct
    return [m]


# ------------------------------------------------------------------ try


HANDLERS_CATCHING_RUNTIME = [("RuntimeError",), ("Exception",), None, ("ValueError", "RuntimeError")]


def _run_est(nodes: list, env: dict) -> None:
    """Advance an estimate over statements that must run as-if without jumping out."""
    sim = Sim(asif=True)
    sim.glob = {"CALLS": 1}
    try:
        sim.block(nodes, env)
    except (SimErr, GenBug, _Break, _Continue, _Ret):
        raise Retry("estimate")


def s_try(g: G, ctx: Ctx) -> list | None:
    """``try`` without an exception (the handlers never run); with a shape error /
    ``raise`` / failing ``assert`` that a handler catches (the code after it in the
    body and the ``else`` never run); with ``except*``; or the live mistake under
    handlers that do not match it (the program fails)."""
    ch = g.ch
    forms = [(4, "plain"), (4, "caught"), (0.6, "star-plain"), (0.8, "star-caught")]
    if ctx.live and g.want_live and not ctx.no_live:
        forms.append((3, "uncaught"))
    form = ch.weighted(forms)
    star = form.startswith("star")
    entry = dict(ctx.env)
    if form in ("plain", "star-plain"):
        label = "try-star" if star else "try"
        inner = ctx.sub(env=entry, no_live=True, depth=ctx.depth + 1, path=ctx.path + (label,), top=False)
        body = gen_block(g, inner, 1, 2)
        env = dict(entry)
        _run_est(body, env)
        handlers = []
        n_h = ch.int(1, 2)
        for k in range(n_h):
            opts = [("RuntimeError",), ("ValueError",), ("Exception",), ("TypeError", "ValueError")]
            if not star and k == n_h - 1:
                opts.append(None)  # a bare except must come last
            types = ch.choice(opts)
            hctx = _body_ctx(ctx.sub(env=entry), False, "try: handler never runs (no exception)", label,
                             no_return=star or ctx.no_return)
            handlers.append((types, None, gen_block(g, hctx, 1, 2)))
        node = Try(body, handlers, star=star)
        if ch.chance(0.4):
            node.orelse = gen_block(g, _body_ctx(ctx.sub(env=env), ctx.live, ctx.dead_tag or "", label, no_live=True),
                                    1, 2)
        if ch.chance(0.3):
            node.finalbody = [assign("x", b_act(g, V("x"), _x(ctx), "generic", None).e)]
        g.note(label)
        node.construct_label = label
        return [node]
    if form in ("caught", "star-caught"):
        label = "try-star-caught" if star else "try-caught"
        inner = ctx.sub(env=dict(entry), no_live=True, depth=ctx.depth + 1, path=ctx.path + (label,), top=False)
        body = []
        if ch.chance(0.4):
            body += gen_block(g, inner, 1, 1)
        env = dict(entry)
        _run_est(body, env)
        how = "shape" if star else ch.weighted([(5, "shape"), (1.5, "raise"), (1, "assert")])
        if how == "shape":
            handler_types = ch.choice([("RuntimeError",), ("Exception",)] if star else HANDLERS_CATCHING_RUNTIME)
            tag = "caught: shape error in try, " + (
                f"except{'*' if star else ''} {'/'.join(handler_types)}" if handler_types else "bare except")
            st = step(g, inner.sub(env=env), ("caught", tag))
            fail: Node = assign("x", st.e)
            fail.tag = tag
        elif how == "raise":
            handler_types = ch.choice([("ValueError",), ("Exception",), None])
            tag = "caught: raise in try"
            c = cond(g, inner.sub(env=env), True)

            def fnr(sim, env):
                raise SimErr(ValueError, "raise")
            fail = If([(c, [Leaf('raise ValueError("fall back")', fnr, tag=tag)])], None)
        else:
            handler_types = ch.choice([("AssertionError",), ("Exception",), None])
            tag = "caught: failing assert in try"
            c = cond(g, inner.sub(env=env), False)

            def fna(sim, env, c=c):
                if not c.ev(sim, env):
                    raise SimErr(AssertionError, "assert")
            fail = Leaf(f"assert {c.text}", fna, tag=tag)
        g.dead_tags.append(tag)
        body.append(fail)
        if ch.chance(0.5):
            dctx = ctx.dead("try: statement after the one that raised", depth=ctx.depth + 1,
                            path=ctx.path + (label,))
            dctx.env = dict(env)
            body += gen_block(g, dctx, 1, 2)
        handlers = []
        if not star and handler_types not in (("Exception",), ("TypeError",)) and ch.chance(0.3):
            hctx = _body_ctx(ctx.sub(env=env), False, "try: handler that does not match", label)
            handlers.append((("TypeError",), None, gen_block(g, hctx, 1, 1)))
        hctx = _body_ctx(ctx.sub(env=env), ctx.live, ctx.dead_tag or "", label, no_live=True, no_return=star or ctx.no_return)
        name = "err" if handler_types and ch.chance(0.3) else None
        handlers.append((handler_types, name, gen_block(g, hctx, 1, 2)))
        node = Try(body, handlers, star=star)
        if not star and ch.chance(0.3):
            node.orelse = gen_block(g, _body_ctx(ctx.sub(env=env), False,
                                                 "try: else skipped (an exception was raised)", label), 1, 1)
        if ch.chance(0.3):
            node.finalbody = [assign("x", b_act(g, V("x"), _x(ctx), "generic", None).e)]
        g.note(label)
        node.construct_label = label
        return [node]
    # uncaught: the live mistake, under handlers that do not match it
    lctx = ctx.sub(env=dict(entry), depth=ctx.depth + 1, path=ctx.path + ("try",), top=False)
    st = step(g, lctx, ("live", "live"))
    fail = assign("x", st.e)
    fail.tag = "live"
    handlers = []
    for types in ch.choice([[("ValueError",)], [("TypeError", "KeyError")], [("KeyError",), ("ValueError",)]]):
        hctx = _body_ctx(ctx.sub(env=entry), False, "try: handler that does not match", "try")
        handlers.append((types, None, gen_block(g, hctx, 1, 1)))
    node = Try([fail], handlers)
    if ch.chance(0.3):
        node.finalbody = [assign("x", b_act(g, V("x"), _x(ctx), "generic", None).e)]
    g.note("try")
    return [node]


# ============================================================================ whole programs


def _start(g: G) -> tuple:
    ch = g.ch
    B = ch.int(2, 4)
    dom = ch.weighted([(3, "flat"), (3, "seq"), (2, "image"), (2, "signal")])
    if dom == "flat":
        return (B, ch.choice(WIDTHS))
    if dom == "seq":
        return (B, ch.int(2, 6), ch.choice(WIDTHS))
    if dom == "image":
        return (B, ch.int(1, 6), ch.int(4, 10), ch.int(4, 10))
    return (B, ch.int(1, 8), ch.int(4, 16))


def _input_text(shape: tuple, ch: Chooser) -> str:
    fac = ch.choice(["torch.randn", "torch.randn", "torch.rand", "torch.ones"])
    return f"{fac}({', '.join(map(str, shape))})"


def build(g: G) -> Program:
    ch = g.ch
    shape = _start(g)
    if ch.chance(0.35):
        g.block = ch.choice(list(BLOCK_TEMPLATES))
    g.two_calls = ch.chance(0.15)
    if ch.chance(g.p_live):
        live_kind = ch.weighted([(8, "forward"), (1.5, "backward")])
    else:
        live_kind = None
    use_global = ch.chance(0.15)
    g.need_calls = use_global
    # ---------------------------------------------------------------- forward
    x0 = T(shape, False, True)
    ctx = Ctx(env={"x": x0}, top=True)
    fwd: list = []
    if use_global:
        def inc(sim, env):
            sim.glob["CALLS"] = sim.glob.get("CALLS", 0) + 1
        fwd += [Leaf("global CALLS", lambda sim, env: None), Leaf("CALLS += 1", inc)]
        g.note("global")
    n_top = ch.int(2, 5)
    g.budget = ch.int(6, 16)
    live_at = ch.int(0, n_top - 1) if live_kind == "forward" else None
    sim0 = Sim(asif=True)
    sim0.glob = {"CALLS": 1}
    for k in range(n_top):
        if k == live_at and ctx.live:
            g.want_live = True
        fwd += gen_block(g, ctx, 1, 1)
    if g.want_live and ctx.live:  # not placed yet: a plain step at the end
        st = step(g, ctx, ("live", "live"))
        leaf = assign("x", st.e)
        leaf.tag = "live"
        _stamp([leaf], (), tuple(g.seen))
        fwd.append(leaf)
        sim = Sim(asif=True)
        env = dict(ctx.env)
        leaf.run(sim, env)
        ctx.env = env
    g.want_live = False
    ret = return_leaf(V("x"))
    if not ctx.live:
        ret.tag = None
    _stamp([ret], (), tuple(g.seen))
    fwd.append(ret)
    # ---------------------------------------------------------------- module level
    sim = Sim(asif=True)
    sim.forward = fwd
    sim.glob = {"CALLS": 0}
    try:
        out = sim.call_forward(x0)
        if g.two_calls:
            B2 = ch.choice([b for b in range(2, 6) if b != shape[0]])
            shape2 = (B2,) + shape[1:]
            sim.call_forward(T(shape2, False, True))
    except (SimErr, _Break, _Continue) as e:
        raise Retry(f"forward as-if: {e!r}")
    if not isinstance(out, T):
        raise Retry("forward returned no tensor")
    mod: list = []
    cfg_args = []
    for name, (dtext, actual, default) in g.cfg.items():
        if actual != default:
            cfg_args.append(f"{name}={actual!r}")
        elif ch.chance(0.2):
            cfg_args.append(f"{name}={actual!r}")

    def mk_model(sim, env):
        sim.training = True
        sim.glob["CALLS"] = 0
    mod.append(Leaf(f"model = Net({', '.join(cfg_args)})", mk_model))
    if ch.chance(0.15):
        def ev(sim, env):
            sim.training = False
        mod.append(Leaf("model.eval()", ev))
    inp = _input_text(shape, ch)

    def call(sim, env, shape=shape):
        env["out"] = sim.call_forward(T(shape, False, True))
    mod.append(Leaf(f"out = model({inp})", call))
    if g.two_calls:
        def call2(sim, env, shape=shape2):
            env["out2"] = sim.call_forward(T(shape2, False, True))
        mod.append(Leaf(f"out2 = model({_input_text(shape2, ch)})", call2))
    if out.grad:
        mod += _backward(g, out, live_kind == "backward")
    elif live_kind == "backward":
        live_kind = None
    return _finish(g, shape, fwd, mod)


def _backward(g: G, out: T, live: bool) -> list:
    ch = g.ch
    nodes: list = []

    def back(var, mistake=False):
        def fn(sim, env):
            t = _tensor(_get(env, var))
            if not t.grad:
                raise GenBug("backward of a tensor without grad")
            if t.numel != 1 and not (sim.asif and mistake):
                _fail(RuntimeError, "backward", f"backward of {t.shape}")
        return fn
    if live:
        if out.numel == 1:
            return []
        form = ch.int(0, 2)
        if form == 0:
            b = Leaf("out.backward()", back("out", True), construct="backward", tag="live")
            nodes.append(b)
        else:
            text = "out * 2" if form == 1 else "F.mse_loss(out, torch.zeros_like(out), reduction=\"none\")"
            d = Leaf(f"loss = {text}", lambda sim, env: env.__setitem__("loss", T(_get(env, "out").shape, True, True)))
            b = Leaf("loss.backward()", back("loss", True), construct="backward", tag="live", extra_related=[d])
            nodes += [d, b]
        g.live = "backward"
        return nodes
    form = ch.weighted([(4, "sum"), (1, "dead"), (1, "caught"), (2, "none")])
    if form == "none":
        return []
    if form == "sum":
        text = ch.choice(["out.sum()", "out.mean()", "F.mse_loss(out, torch.zeros_like(out))", "(out ** 2).mean()"])
        d = Leaf(f"loss = {text}", lambda sim, env: env.__setitem__("loss", T((), _get(env, "out").grad, True)))
        return [d, Leaf("loss.backward()", back("loss"), construct="backward", extra_related=[d])]
    if form == "dead" and out.numel > 1:
        r = len(out.shape)
        c = Cond(f"out.dim() == {r + 3}", lambda sim, env: False, "shape")
        tag = "if: non-scalar backward in a branch not taken"
        g.dead_tags.append(tag)
        return [If([(c, [Leaf("out.backward()", back("out"), construct="backward", tag=tag)])],
                   [Leaf("out.sum().backward()", lambda sim, env: None)])]
    if form == "caught" and out.numel > 1:
        tag = "caught: non-scalar backward in try, except RuntimeError"
        g.dead_tags.append(tag)
        return [Try([Leaf("out.backward()", back("out"), construct="backward", tag=tag)],
                    [(("RuntimeError",), None, [Leaf("out.sum().backward()", lambda sim, env: None)])])]
    return []


def _finish(g: G, shape: tuple, fwd: list, mod: list) -> Program:
    ch = g.ch
    em = Emitter()
    for ln in HEADER:
        em.add(ln)
    if g.need_calls:
        em.add("CALLS = 0")
        em.add("")
    mod_prefix: list = []
    if g.need_take:
        for ln in TAKE_HELPER:
            em.add(ln)
    if ch.chance(0.1):  # a module-level coroutine function nobody awaits
        tag = "async: async def never awaited"
        em.add("async def warmup(model):", tag=tag)
        bad = (shape[0],) + tuple(v + 1 for v in shape[1:])
        em.add(f"    return model(torch.randn({', '.join(map(str, bad))}))", tag=tag, construct="call")
        em.add("")
        g.dead_tags.append(tag)
        g.note("async")
    if g.block:
        lines, fc_line, calls = BLOCK_TEMPLATES[g.block]
        g.block_base = base = len(em.lines)
        for k, ln in enumerate(lines):
            inf = {}
            if k in calls:
                inf = {"construct": calls[k], "related": {base + fc_line}}
            if g.block == "residual" and k == 9:
                inf["tag"] = "block: residual add guarded by `d_in == d_out`"
            if g.block == "try" and k == 8:
                inf["tag"] = "caught: Block try/except RuntimeError"
            em.add(ln, **inf)
        em.add("")
    # Net.__init__
    em.add("class Net(nn.Module):")
    params = ", ".join(f"{k}={v[0]}" for k, v in g.cfg.items())
    em.add(f"    def __init__(self{', ' + params if params else ''}):")
    em.add("        super().__init__()")
    for k in g.cfg:
        em.add(f"        self.{k} = {k}")
    for L in g.layers:
        _emit_layer(em, L, f"        self.{L.name} = ", "        ")
    em.add("")
    em.add("    def forward(self, x):")
    for n in fwd:
        n.emit(em, "        ")
    em.add("")
    module_line = len(em.lines)
    for n in mod_prefix + mod:
        n.emit(em, "")
    # related lines and uses
    all_nodes = [leaf for n in fwd + mod for leaf in n.leaves()]
    for leaf in all_nodes:
        if isinstance(leaf, Leaf) and leaf.line is not None:
            inf = em.info[leaf.line]
            for L in leaf.layers:
                inf.related |= L.all_lines()
                for ln in L.all_lines():
                    em.info[ln].uses.add(leaf.line)
            for other in leaf.extra_related:
                inf.related.add(other.line)
        elif isinstance(leaf, For) and leaf.line is not None:
            for L in leaf.layers:
                em.info[leaf.line].related |= L.all_lines()
    if g.block:
        for L in _all_layers(g.layers):
            if L.kind == "Block":
                for ln in L.lines:
                    em.info[ln].related |= set(range(g.block_base, g.block_base + len(BLOCK_TEMPLATES[g.block][0])))
    source = "\n".join(em.lines) + "\n"
    # ---------------------------------------------------------------- checks and the prediction
    for n in all_nodes:  # a branch on the call counter: the engine cannot know how many calls ran
        if isinstance(n, If) and any(c.kind == "global" for c, _b in n.arms):
            n.construct_label = "if-global"
    dead_leaves = [n for n in all_nodes if isinstance(n, Leaf) and n.tag and n.tag.startswith("dead")]
    dead_layers = [L for L in _all_layers(g.layers) if L.bad and L.bad != "live"]
    for asif in (True, False):
        sim = Sim(asif=asif)
        sim.forward = fwd
        env: dict = {}
        err = None
        try:
            sim.block(mod_prefix + mod, env)
        except SimErr as e:
            err = e
        except (_Break, _Continue, _Ret, GenBug) as e:
            raise Retry(f"module level: {e!r}")
        if asif:
            if err is not None:
                raise Retry(f"as-if run failed: {err!r} {err.construct}")
            if any(id(n) in sim.executed for n in dead_leaves) or any(id(L) in sim.called for L in dead_layers):
                raise Retry("a dead mistake runs")
            executed = set(sim.executed)
            for n in all_nodes:  # a "live" mistake in a loop body no iteration runs
                if isinstance(n, Leaf) and n.tag == "live" and id(n) not in executed:
                    n.tag = em.info[n.line].tag = "dead: mistake in a loop body no iteration runs"
            for L in _all_layers(g.layers):
                if L.bad == "live" and id(L) not in sim.called:
                    for ln in L.lines:
                        em.info[ln].tag = "dead: mistake in a loop body no iteration runs"
    dead_lines = {n.line for n in all_nodes if n.line is not None and id(n) not in executed and isinstance(n, Leaf)}
    if err is None:
        pred = Prediction(True)
    else:
        # the control flow that ran up to the failure (and encloses it) decides whether
        # the engine can be expected to follow it
        ran = {getattr(n, "construct_label", None) for n in all_nodes if not isinstance(n, Leaf)
               and id(n) in sim.executed} | sim.events
        path = tuple(getattr(err.node, "path", ()))
        ran.discard(None)
        decidable = not (ran | set(path)) & UNDECIDABLE
        pred = Prediction(False, err.line, err.etype.__name__, err.construct, decidable, tuple(sorted(ran | set(path))))
    info = em.info
    constructs = set(g.seen)
    ran_labels = tuple(sorted({getattr(n, "construct_label", None) for n in all_nodes
                               if not isinstance(n, Leaf) and id(n) in executed} - {None}))
    return Program(source, info, pred, g.live if err is not None else None, list(g.dead_tags), constructs, dead_lines,
                   ran_labels, module_line)


def _all_layers(layers: list) -> list:
    out = []
    for L in layers:
        out.append(L)
        out += _all_layers(L.items or [])
    return out


def _emit_layer(em: Emitter, L: Layer, prefix: str, ind: str) -> None:
    tag = L.tag if (L.tag and (L.tag.startswith("dead") or L.tag.startswith("caught") or ":" in L.tag)) else None
    if L.kind == "ModuleList":
        L.lines = {em.add(prefix + "nn.ModuleList([")}
        for it in L.items:
            it.lines = {em.add(f"{ind}    {it.ctor},", tag=it.tag, construct=_construct_of(it))}
        L.lines.add(em.add(f"{ind}])"))
    elif L.kind == "Sequential" and L.items:
        L.lines = {em.add(prefix + "nn.Sequential(")}
        for it in L.items:
            it.lines = {em.add(f"{ind}    {it.ctor},", tag=it.tag, construct=_construct_of(it))}
        L.lines.add(em.add(f"{ind})"))
    else:
        L.lines = {em.add(prefix + L.ctor, tag=tag, construct=_construct_of(L))}


def generate(ch: Chooser, p_live: float = 0.42, p_dead: float = 0.6) -> Program:
    last = None
    for _attempt in range(40):
        g = G(ch, p_live, p_dead)
        try:
            return build(g)
        except Retry as e:
            last = e
    raise HarnessError(f"the generator gave up: {last}")


def programs(p_live: float = 0.42, p_dead: float = 0.6):
    """A hypothesis strategy of ``Program``s."""
    from hypothesis import strategies as st

    @st.composite
    def _programs(draw):
        return generate(DrawChooser(draw), p_live, p_dead)

    return _programs()


def program_for(seed: int, index: int, p_live: float = 0.42, p_dead: float = 0.6) -> Program:
    """The ``index``-th program of a run with ``seed`` (independent of the others)."""
    return generate(RandomChooser(random.Random(f"flow-fuzz:{seed}:{index}")), p_live, p_dead)


# ============================================================================ the two sides


@dataclass
class TorchRun:
    ok: bool
    etype: str | None = None
    message: str | None = None
    line: int | None = None  # 0-based line of the innermost frame in the generated file
    chain: list = field(default_factory=list)  # 0-based lines of all frames in the generated file
    covered: set = field(default_factory=set)  # 0-based lines torch executed
    shape_error: bool = False


class _Timeout(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def run_torch(prog: Program, timeout: float = 20.0, trace: bool = True) -> TorchRun:
    """Run the program with torch on the CPU, in this process (exec under a fake file
    name), recording the lines it executes. A non-shape exception is a generator bug
    (``HarnessError``)."""
    import torch

    code = compile(prog.source, GEN_FILENAME, "exec")
    ns: dict = {"__name__": "flow_fuzz_program"}
    covered: set[int] = set()

    def local(frame, event, arg):
        if event == "line":
            covered.add(frame.f_lineno - 1)
        return local

    def global_trace(frame, event, arg):
        if frame.f_code.co_filename == GEN_FILENAME:
            return local
        return None

    old_trace = sys.gettrace()
    alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    old_handler = None
    if alarm:
        old_handler = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    if threads != 1:  # tiny tensors: a thread pool costs ~10x more than it saves
        torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if trace:
                sys.settrace(global_trace)
            try:
                exec(code, ns)
            finally:
                sys.settrace(old_trace)
    except _Timeout:
        raise HarnessError(f"timed out after {timeout} s:\n{_numbered(prog.source)}")
    except Exception as e:  # noqa: BLE001 - torch's verdict
        chain = [fr.lineno - 1 for fr in traceback.extract_tb(e.__traceback__) if fr.filename == GEN_FILENAME]
        msg = str(e).splitlines()[0] if str(e) else ""
        etype = type(e).__name__
        return TorchRun(False, etype, msg, chain[-1] if chain else None, chain, covered,
                        shape_error=etype in SHAPE_ERROR_TYPES)
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
        if threads != 1:
            torch.set_num_threads(threads)
    return TorchRun(True, covered=covered)


@dataclass
class EngineRun:
    diags: list
    crash: str | None = None


def _project():
    from differential_gen import _project as shared  # one Project for both generators' runs

    return shared()


def engine_module():
    """The check engine (``torch_lsp.engine``; ``torch_lsp.analysis.engine`` in trees
    before it moved, for ``--engine-src`` runs of older commits)."""
    try:
        from torch_lsp import engine
    except ImportError:
        from torch_lsp.analysis import engine  # type: ignore[no-redef]
    return engine


def run_engine(prog: Program) -> EngineRun:
    check_source = engine_module().check_source

    try:
        res = check_source(prog.source, ENGINE_PATH, project=_project())
    except Exception:  # noqa: BLE001 - an engine crash is a finding
        return EngineRun([], traceback.format_exc())
    tl0 = [d for d in res.diagnostics if d.code == "TL000"]
    if tl0:
        return EngineRun(res.diagnostics, f"TL000 on a file Python compiles: {tl0[0].message}")
    return EngineRun(res.diagnostics)


def loud(diags: list) -> list:
    """TL2xx / TL3xx diagnostics of severity error or warning."""
    from torch_lsp.analysis.diagnostics import Severity

    return [d for d in diags if d.code.startswith(("TL2", "TL3")) and d.severity in (Severity.ERROR, Severity.WARNING)]


# ============================================================================ comparison


@dataclass
class Outcome:
    torch_ok: bool
    shape_error: bool  # torch failed with a shape error
    generator_bug: str | None  # the prediction disagrees with torch, or torch raised a non-shape error
    crash: str | None
    false_reports: list  # [(diagnostic, construct label)]
    reported: bool  # torch failed and the engine reported on the failing chain
    miss: bool  # torch failed in a modeled construct on a decidable path, the engine said nothing there
    construct: str | None  # the failing construct (torch failed)
    decidable: bool | None

    @property
    def ok(self) -> bool:
        return not (self.false_reports or self.crash)


def accepted_lines(prog: Program, t: TorchRun) -> set[int]:
    """Where a diagnostic about torch's failure may point: the lines of the traceback
    in the generated file, and the constructor lines of the layers they call."""
    out: set[int] = set()
    for ln in t.chain:
        out.add(ln)
        inf = prog.info.get(ln)
        if inf is not None:
            out |= inf.related
    return out


def label(prog: Program, d, t: TorchRun) -> str:
    """Which construct a false report is about: the mistake or dead region at its line
    (or at a layer it calls, or at one of its related locations: a call-site report
    names the layer), else what ran before it."""
    line = d.range.start.line
    inf = prog.info.get(line)
    if inf is None:
        return "unknown line"
    groups = [[inf], [prog.info[u] for u in sorted(inf.uses) if u in prog.info]]
    for r in getattr(d, "related", ()):
        i = prog.info.get(r.range.start.line) if r.path is None else None
        if i is not None:
            groups.append([i] + [prog.info[u] for u in sorted(i.uses) if u in prog.info])
    for group in groups:  # the nearest first: the line itself, the lines calling it, related locations
        for c in group:
            if c.tag and c.tag.startswith("dead"):
                return c.tag
        for c in group:  # a dead region wins over a caught error inside it
            if c.region:
                return c.region
        for c in group:
            if c.tag and c.tag != "live":
                return c.tag
    cands = [c for group in groups for c in group]
    if not t.ok and line not in t.covered and not inf.uses:
        return "cascade: a line after the failing one"
    if not t.ok and inf.uses and not any(u in t.covered for u in inf.uses):
        return "cascade: a layer only called after the failing line"
    c = next((c for c in cands if c.path or c.before), inf)
    if c.path:
        return f"downstream: inside {c.path[-1]}"
    if c.before:
        return f"downstream: after {c.before[-1]}"
    if prog.ran and line >= prog.module_line:  # a call-site report (TL204) about what forward did
        return f"downstream: call-site report after {'/'.join(prog.ran)}"
    return "straight-line code"


def input_kind(d) -> str:
    """Whether a diagnostic comes from the call site's input ("call-site input": its
    message names the call) or holds for any input (the engine's input-independent
    check of a function, e.g. two layers that never fit)."""
    if not d.code.startswith("TL2"):
        return "call-site input"  # TL301 is about the module-level code that called the model
    return "call-site input" if "input from" in d.message else "any input"


def compare(prog: Program, t: TorchRun, e: EngineRun) -> Outcome:
    bug = None
    p = prog.pred
    if not t.ok and not t.shape_error:
        bug = f"torch raised a non-shape error: {t.etype}: {t.message} (line {_l(t.line)})"
    elif p.ok != t.ok:
        bug = (f"generator predicted {'a run' if p.ok else f'a failure at line {_l(p.line)}'}, torch "
               f"{'ran' if t.ok else f'failed at line {_l(t.line)}: {t.etype}: {t.message}'}")
    elif not t.ok and (p.line != t.line or p.etype != t.etype):
        bug = (f"generator predicted {p.etype} at line {_l(p.line)}, torch {t.etype} at line {_l(t.line)}: "
               f"{t.message}")
    else:
        ran_dead = sorted(ln for ln in prog.dead_lines if ln in t.covered and (prog.info[ln].tag or "").startswith("dead"))
        if ran_dead:
            bug = f"torch ran line(s) {[ln + 1 for ln in ran_dead]} the generator says never run"
    diags = loud(e.diags)
    false: list = []
    reported = False
    if t.ok:
        false = [(d, label(prog, d, t)) for d in diags]
    else:
        ok_lines = accepted_lines(prog, t)
        for d in diags:
            if d.range.start.line in ok_lines:
                reported = True
            else:
                false.append((d, label(prog, d, t)))
    construct = p.construct if not t.ok and bug is None else None
    decidable = p.decidable if not t.ok and bug is None else None
    miss = bool(not t.ok and t.shape_error and bug is None and not reported and construct in MODELED and decidable)
    return Outcome(t.ok, bool(not t.ok and t.shape_error), bug, e.crash, false, reported, miss, construct, decidable)


def _l(line: int | None):
    return None if line is None else line + 1


def check_program(prog: Program) -> tuple[Outcome, TorchRun, EngineRun]:
    t = run_torch(prog)
    e = run_engine(prog)
    return compare(prog, t, e), t, e


def _numbered(source: str) -> str:
    return "\n".join(f"{k + 1:3}  {ln}" for k, ln in enumerate(source.splitlines()))


def describe(prog: Program, o: Outcome, t: TorchRun, e: EngineRun) -> str:
    """The program (numbered), torch's verdict, the generator's, and the engine's."""
    out = [_numbered(prog.source)]
    if t.ok:
        out.append("--- torch: ran")
    else:
        out.append(f"--- torch: {t.etype} at line {_l(t.line)}: {t.message}  (chain {[_l(x) for x in t.chain]})")
    p = prog.pred
    out.append(f"--- generator: {'runs' if p.ok else f'fails at line {_l(p.line)} ({p.construct}, decidable {p.decidable})'}"
               f"; live mistake: {prog.live}; dead/caught: {sorted(set(prog.dead_tags)) or 'none'}")
    if e.crash:
        out.append(f"--- engine CRASH: {e.crash}")
    diags = [f"{d.code} [{d.severity.name.lower()}] line {d.range.start.line + 1}: {d.message}" for d in e.diags]
    out.append("--- engine: " + ("\n    ".join([""] + diags) if diags else "no diagnostics"))
    for d, lab in o.false_reports:
        out.append(f"  ! FALSE REPORT {d.code} at line {d.range.start.line + 1} [{lab}] ({input_kind(d)})")
    if o.miss:
        out.append(f"  ! MISS: torch failed in {o.construct} on a decidable path, the engine said nothing there")
    if o.generator_bug:
        out.append(f"  ! GENERATOR BUG: {o.generator_bug}")
    return "\n".join(out)
