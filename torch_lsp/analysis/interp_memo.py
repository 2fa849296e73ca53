"""Calls of plain functions remembered by their arguments: a helper that decodes a
block string, picks an activation or pads a size (``_decode_block_str("ir_r1_k3_s1")``,
``get_act_layer("gelu")``, ``_make_divisible(c * 0.25, 8)``) is called again and again
with the same values, from every variant function and every class that builds a block.

A call is answered from the memo only when a second run could not differ from the
first in anything the analysis keeps:

- the arguments are values, not objects (``_call_key``: numbers, strings, symbols,
  tensor shapes, tuples of these): the run cannot change them;
- the run reached nothing outside itself, so it changed nothing another run sees: it
  read no object from a global, a default or an enclosing function (``_outside``: only
  values such as the arguments are), met no module the memo tables of constructions
  and forwards hand out, and ran no body that may rebind a global or an enclosing
  function's name (``_body_runs``); nothing of the file's top-level code runs meanwhile
  (its names may still change);
- the run had nothing to say and left no trace: no problem found or left out, no
  error raised at a certain line, no layer call recorded for a summary, no module run
  with a call site's input, no depth or recursion limit met (each an ``effect``);
- what it returns cannot be changed by its callers and means the same at any call
  site: a number, a string, a symbol, a class or a plain function, a tuple of these,
  a tensor whose origin is a node of the helper itself (not of a caller).

The steps the run took (the unit's budget) and the uncertain regions it opened are
counted again on a hit, so that a file analysed with the memo and without it stops at
the same place. The memo lives as long as the state it depends on: a file's analysis
(``Units._isolated`` gives each unit of an editor session its own).

A part of the shape interpreter (``Interpreter`` in ``interpreter.py`` mixes it in)."""
from __future__ import annotations

import ast
import copy
from typing import TYPE_CHECKING, Any

from torch_lsp.analysis.shapes import UNKNOWN as _UNKNOWN, NotGiven, Sym, _Unknown
from torch_lsp.analysis.values import BoundMethodV, ClassV, FuncV, PartialV, TensorV, TupleV

from torch_lsp.analysis.interp_support import _call_key

ENABLED = True  # (tests compare analyses with and without the memo)

# Builtins through which a body reaches names it does not bind.
_REFLECTION = frozenset({"globals", "vars", "locals", "exec", "eval"})

_MISSING = object()


class CallMemo:
    """Plain function calls remembered by their arguments."""

    if TYPE_CHECKING:  # what the other parts of the interpreter provide
        _regions: Any
        max_steps: Any
        steps: Any

    def _memo_init(self) -> None:
        self._call_memo: dict = {}
        self._pure_fns: dict[int, bool] = {}
        self._fn_nodes: dict[int, frozenset[int]] = {}
        self.effects = 0  # events that make a run under way impossible to replay (see the module)
        self.memo_runs = 0  # memoisable runs under way
        self.memo_off = 0  # >0 while the file's top-level code runs
        # For each memoisable run under way: the functions under way when it began, and
        # whether a recursive call of one of them was cut (see ``_recursion_cut``).
        self.memo_entries: list[list] = []

    def _memo_key(self, func: FuncV, args: list, kwargs: dict, frame: Any) -> Any:
        if self.memo_off or func.closure is not None or func.self_value is not None or not ENABLED:
            return None
        if any(_holds_tensor(a) for a in args) or any(_holds_tensor(a) for a in kwargs.values()):
            return None  # a run may name a tensor's sizes in it, or pin it in its caller
        key = _call_key(args, kwargs)
        if key is None:
            return None
        return (id(func.node), key, tuple(sorted(frame.subst.items())) if frame.subst else (), self.generic,  # type: ignore[attr-defined]
                self.local, bool(self.instance_stack))  # type: ignore[attr-defined]

    def _memo_hit(self, key: Any) -> Any:
        """The remembered result of the call ``key``, its steps and regions counted
        again; ``_MISSING`` when there is none."""
        hit = self._call_memo.get(key)
        if hit is None:
            return _MISSING
        out, steps, regions = hit
        self.steps += steps
        self._regions += regions
        if self.steps > self.max_steps:
            raise RecursionError("analysis budget exhausted")
        return _fresh(out)

    def _memo_call(self, key: Any, fn: ast.AST, run: Any) -> Any:
        """Run the call (``run()``) and remember its result if it may be replayed."""
        effects, steps, regions = self.effects, self.steps, self._regions
        entry = [frozenset(self.active), False]  # type: ignore[attr-defined]
        self.memo_entries.append(entry)
        self.memo_runs += 1
        try:
            out = run()
        finally:
            self.memo_runs -= 1
            self.memo_entries.pop()
        if self.effects == effects and not entry[1] and self._frozen(out, fn):
            self._call_memo[key] = (_fresh(out), self.steps - steps, self._regions - regions)
        return out

    def _recursion_cut(self, fn: ast.AST) -> None:
        """A recursive call of ``fn`` is cut: where ``fn`` was under way before a run
        began, the same call made elsewhere would run (an effect for that run); a
        recursion inside a run is cut wherever the run is made."""
        key = id(fn)
        for entry in self.memo_entries:
            if key in entry[0]:
                entry[1] = True

    def _outside(self, v: Any) -> None:
        """A memoisable run under way reads ``v`` from outside itself (a global, a
        default, an enclosing function's name): an object it could change, or one
        another run would see otherwise, is an effect."""
        if v is not _UNKNOWN and not self._frozen(v, None):
            self.effects += 1

    def _body_runs(self, fn: ast.AST) -> None:
        """A function body is about to run while a memoisable run is under way (the
        callers check ``memo_runs``): one that may rebind names outside itself is an
        effect."""
        key = id(fn)
        pure = self._pure_fns.get(key)
        if pure is None:
            pure = self._pure_fns[key] = _is_pure(fn)
        if not pure:
            self.effects += 1

    # ------------------------------------------------------------------ results
    def _frozen(self, v: Any, fn: ast.AST | None) -> bool:
        """Can ``v`` be handed to another call site as it is (nothing changes it, and
        nothing in it names this call's caller: a tensor's origin is a node of ``fn``)?
        ``fn`` None: can a run read ``v`` from outside itself (no tensor: a run may
        rename its sizes in place)?"""
        kind = type(v)
        if v is None or kind in (bool, int, float, str, Sym, NotGiven, _Unknown, ClassV):
            return True
        if kind is TupleV:
            return v.region is None and v.shape_of is None and all(self._frozen(x, fn) for x in v.items)
        if kind is FuncV:
            return v.closure is None and v.self_value is None
        if kind is BoundMethodV:
            return v.base is None
        if kind is PartialV:
            return (self._frozen(v.func, fn) and all(self._frozen(x, fn) for x in v.args)
                    and all(self._frozen(x, fn) for x in v.kwargs.values()))
        if kind is TensorV:  # (a caller may name its sizes in place: each call gets a copy, see _fresh)
            if fn is None:
                return False  # a tensor made outside the run: it may change its shape's names
            o = v.origin
            if o is None:
                return True
            if o.site is not None or o.chain or o.node is None:
                return False
            nodes = self._fn_nodes.get(id(fn))
            if nodes is None:
                nodes = self._fn_nodes[id(fn)] = frozenset(id(n) for n in ast.walk(fn))
            return id(o.node) in nodes and (o.layer_node is None or id(o.layer_node) in nodes)
        return False


def _is_pure(fn: ast.AST) -> bool:
    """Does the body of ``fn`` leave the names of the module and of enclosing functions
    alone? (No ``global``/``nonlocal`` declaration, no ``globals()``, ``vars()``,
    ``exec``, ``eval``.) What else a body could change is an object it reached: one it
    made itself is its own; any other comes from outside, and reading it is an effect
    (``CallMemo._outside``)."""
    for node in ast.walk(fn):
        kind = type(node)
        if kind is ast.Global or kind is ast.Nonlocal:
            return False
        if kind is ast.Call and type(node.func) is ast.Name and node.func.id in _REFLECTION:  # type: ignore[attr-defined]
            return False
    return True


def _holds_tensor(v: Any) -> bool:
    kind = type(v)
    return kind is TensorV or (kind is TupleV and (v.shape_of is not None or any(_holds_tensor(x) for x in v.items)))


def _fresh(v: Any) -> Any:
    """A remembered result as a new run would make it: its tensors are new objects
    (a caller may name their sizes in place, ``b, c = x.shape``)."""
    kind = type(v)
    if kind is TensorV:
        return copy.copy(v)
    if kind is TupleV and any(_holds_tensor(x) for x in v.items):
        return TupleV(tuple(_fresh(x) for x in v.items), v.region, v.epoch, v.shape_of)
    if kind is PartialV:
        return PartialV(_fresh(v.func), tuple(_fresh(x) for x in v.args), {k: _fresh(x) for k, x in v.kwargs.items()})
    return v
