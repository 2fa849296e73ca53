"""The abstract values of ``attribute_use.ClassUses`` (TL101's model of harm): ``U``, what
a value in ``forward`` is derived from (the input or a parameter, plain tensor attributes,
a Python value, unknown), its join, the places an attribute is used (``Site``,
``AttrUse``) and the frame and flow operations of the walk."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from torch_lsp.analysis.flow import Flow
from torch_lsp.analysis.modules import ClassInfo

if TYPE_CHECKING:
    from torch_lsp.analysis.project import FileSummary


class U:
    """An abstract value in forward: where its tensor lives, as far as TL101 cares."""

    __slots__ = ("attrs", "device", "py", "fresh", "rank", "devspec", "pinned", "src", "mixed")

    def __init__(self, attrs: frozenset = frozenset(), device: bool = False, py: bool = False, fresh: bool = False,
                 rank: int | None = None, devspec: bool = False, pinned: bool = False, src: str | None = None,
                 mixed: bool = False):
        self.attrs = attrs  # plain tensor attributes it is derived from, not moved
        self.device = device  # derived from the input or a parameter/buffer/submodule: on the model's device
        self.py = py  # a Python value (number, size, dtype, bool)
        self.fresh = fresh  # a tensor made in forward without a device: a plain CPU tensor
        self.rank = rank  # the rank of the attribute-derived tensor, when known
        self.devspec = devspec  # a device taken from a tensor on the model's device (`x.device`)
        self.pinned = pinned  # moved to a fixed device (`.cuda()`, `.to("cuda")`, `.to(self.device)`)
        self.src = src  # what put it on the model's device, for messages
        self.mixed = mixed  # a list/tuple holding attribute-derived and device items side by side

    @property
    def tensorish(self) -> bool:
        return not self.py and not self.devspec

    def key(self) -> tuple:
        return (self.attrs, self.device, self.py, self.fresh, self.rank, self.devspec, self.pinned, self.mixed)


_UNKNOWN = U()
RETURNED = "returned"  # the partner of a plain use that is `forward`'s result
_PY = U(py=True)


def join(values: list[U]) -> U:
    values = [v for v in values if v is not None]
    if not values:
        return _UNKNOWN
    if len(values) == 1:
        return values[0]
    attrs = frozenset().union(*(v.attrs for v in values))
    ranks = {v.rank for v in values if v.attrs}
    return U(attrs, any(v.device for v in values), all(v.py for v in values), any(v.fresh for v in values),
             ranks.pop() if len(ranks) == 1 else None, all(v.devspec for v in values), any(v.pinned for v in values),
             next((v.src for v in values if v.src), None), any(v.mixed for v in values))


@dataclass
class Site:
    """One use of an attribute in forward-reachable code."""

    node: ast.AST
    function: str  # the method or function it is in
    partner: str | None = None  # what it meets (`the input `x``, `the output of `self.proj``)
    rank: int | None = None  # the rank of the attribute-derived operand there, when known
    pinned: bool = False
    summary: FileSummary | None = None  # the file's summary, when not the checked file


@dataclass
class AttrUse:
    name: str
    device: list[Site] = field(default_factory=list)  # meets the model's device in a tensor operation
    inplace: list[Site] = field(default_factory=list)  # updated in place / from its own value
    plain: list[Site] = field(default_factory=list)  # used only with other plain tensors, or returned
    arith: list[Site] = field(default_factory=list)  # enters arithmetic (any partner), not moved
    moved: list[Site] = field(default_factory=list)  # moved to the input's device at the use
    pinned: list[Site] = field(default_factory=list)  # moved to a fixed device at the use
    reads: int = 0  # reads in forward-reachable code


class _Frame:
    """One run of a function body: its local names, what it stored on ``self``, and its control flow."""

    def __init__(self, name: str, env: dict[str, U], attrs: dict[str, U], summary, entry: bool,
                 owner: ClassInfo | None, initial: Callable[[str], U]):
        self.name = name
        self.env = env
        self.attrs = attrs  # self.NAME -> value stored by this run (absent: the value it came in with)
        self.summary = summary  # another file's summary, or None for the checked file
        self.entry = entry
        self.owner = owner
        self.initial = initial
        self.flow: Flow = Flow(_FrameOps(self))

    def scratch(self) -> "_Frame":
        """A copy for an expression scope (a comprehension): same flow, own names."""
        f = _Frame.__new__(_Frame)
        f.__dict__.update(self.__dict__)
        f.env = dict(self.env)
        return f


class _FrameOps:
    """``Flow``'s state operations over a frame's (names, attributes)."""

    __slots__ = ("frame",)

    def __init__(self, frame: _Frame) -> None:
        self.frame = frame

    def snapshot(self) -> tuple[dict, dict]:
        return dict(self.frame.env), dict(self.frame.attrs)

    def restore(self, state: tuple[dict, dict]) -> None:
        self.frame.env, self.frame.attrs = state

    def join(self, states: list[tuple[dict, dict]]) -> tuple[dict, dict]:
        envs = [s[0] for s in states]
        attrs = [s[1] for s in states]
        env = {n: join([e[n] for e in envs if n in e]) for n in set().union(*envs)}
        out_attrs = {}
        for n in set().union(*attrs):
            vals: list[Any] = [a.get(n) for a in attrs]
            if any(v is None for v in vals):  # not stored on some path: the value it came in with
                vals = [v for v in vals if v is not None] + [self.frame.initial(n)]
            out_attrs[n] = join(vals)
        return env, out_attrs

    def forget(self, state: tuple[dict, dict], names: set[str]) -> tuple[dict, dict]:
        env, attrs = dict(state[0]), dict(state[1])
        for n in names:
            if n.startswith("self."):
                attrs[n[5:]] = _UNKNOWN
            else:
                env[n] = _UNKNOWN
        return env, attrs


def _one_pass(start, head, n):
    """A loop body runs once: what it does is joined with the state before the loop."""
    return head, False
