"""Sizes read from tensors: `x.shape` as a tuple, names for the unknown sizes a program
unpacks (`B, C, H, W = x.shape`), the leading sizes of a tensor of unknown rank
(`x.shape[:-1]`).

A part of the shape interpreter (``Interpreter`` in ``interpreter.py`` mixes it in)."""
from __future__ import annotations

import ast
import weakref
from typing import TYPE_CHECKING, Any

from torch_lsp.analysis.shapes import UNKNOWN, Shape, Sym, sym
from torch_lsp.analysis.values import (
    AV, TensorV, TupleV, StarSizesV, _ShapeOf,
)


from torch_lsp.analysis.interp_support import (
    Frame,
    _params_of,
)


class Sizes:
    """Sizes read from tensors."""

    if TYPE_CHECKING:  # what the other parts of the interpreter provide
        _size_names: Any
        effects: Any
        instance_stack: Any
        seg: Any

    def _name_dims(self, t: TensorV, target: ast.Tuple | ast.List, frame: Frame) -> AV:
        """``b, t, c = x.shape`` on a tensor of unknown rank: the rank is now known and
        each dimension gets the name it is unpacked into (a symbol), unless a known
        suffix already gives it."""
        n = len(target.elts)
        if any(isinstance(e, ast.Starred) for e in target.elts):
            return UNKNOWN
        known = t.shape.dims if t.shape is not None else ()
        if len(known) > n:
            return UNKNOWN
        taken = set(frame.subst) | {p.arg for p in _params_of(frame.fn)}
        for inst in self.instance_stack:
            taken |= {p.arg for p in _params_of(inst.cls.init)}
        dims = []
        for i, e in enumerate(target.elts):
            j = i - (n - len(known))
            if j >= 0 and not (known[j] is UNKNOWN and isinstance(e, ast.Name) and e.id != "_"):
                dims.append(known[j])  # (an unknown one gets the name it is unpacked into, below)
            elif isinstance(e, ast.Name) and e.id != "_":
                name = e.id if e.id not in taken else f"{e.id}_"
                dims.append(sym(name))
            else:
                dims.append(UNKNOWN)
        t.shape = Shape(tuple(dims))
        return TupleV(tuple(dims))

    def _named_sizes(self, t: TensorV, expr: ast.AST) -> TupleV:
        """``x.shape[:-1]`` of a tensor of known rank with sizes not known: each unknown
        size becomes a symbol of its own (``x.shape[1]``), in ``x`` too, so that the same
        size read twice is the same (``x.view(*x.shape[:-1], h, -1)`` divides exactly).
        A name already given to another tensor's size gets a mark."""
        if t.shape is None or t.shape.prefix:
            return TupleV(tuple(t.shape.dims) if t.shape is not None else ())
        label = self._size_label(expr)
        dims = tuple(self._size_symbol(f"{label}.shape[{i}]", t) if d is UNKNOWN else d for i, d in enumerate(t.shape.dims))
        t.shape = Shape(dims)
        return TupleV(dims)

    def _size_label(self, expr: ast.AST) -> str:
        if isinstance(expr, ast.Attribute) and expr.attr == "shape":
            expr = expr.value
        label = self.seg(expr) if isinstance(expr, (ast.Name, ast.Attribute)) else "x"
        return label if len(label) < 40 else "x"

    def _size_symbol(self, name: str, t: TensorV) -> Sym:
        """A symbol for a size of ``t`` not known, named after where it was read
        (``x.shape[1]``); a name already given to another tensor's size gets a mark."""
        base, k = name, 0
        self.effects += 1  # the names given so far decide the next (see interp_memo)
        while True:
            owner = self._size_names.get(name)
            if owner is None:  # (a name is never given twice: shapes made from its tensor outlive it)
                self._size_names[name] = weakref.ref(t)
                return sym(name)
            if owner() is t:
                return sym(name)
            k += 1
            name = base + chr(39) * k

    def _leading_sizes(self, t: TensorV, k: int, expr: ast.AST) -> AV:
        """``x.shape[:-k]`` of a tensor of unknown rank: the sizes before its last ``k``,
        as a ``StarSizesV`` whose leading part is a symbol kept in ``x``'s shape too
        (``Shape.lead``), so that ``x.view(*x.shape[:-1], -1, d)`` (or the same view of a
        ``Linear`` of x) divides what is known of the rest exactly. Of an unknown shape,
        the symbol is kept in the tensor (``TensorV.lead``) for the layer that pins it."""
        s = t.shape
        label = self._size_label(expr)
        if s is None:
            if k != 1:
                return UNKNOWN
            if t.lead is None:  # (the shape stays unknown: a layer that takes x still pins it)
                t.lead = self._size_symbol(f"{label}.shape[:-1]", t)
            return StarSizesV(t.lead, ())
        if not s.prefix or len(s.dims) < k:
            return UNKNOWN
        n = len(s.dims)
        dims = tuple(self._size_symbol(f"{label}.shape[{i - n}]", t) if d is UNKNOWN and i < n - k else d
                     for i, d in enumerate(s.dims))
        lead = s.lead if s.lead is not None else self._size_symbol(f"{label}.shape[:-{n}]", t)
        t.shape = Shape(dims, True, lead)
        return StarSizesV(lead, dims[:n - k])

    def _shape_tuple(self, t: TensorV) -> AV:
        if t.shape is None or t.shape.prefix:
            return _ShapeOf(t)
        return TupleV(tuple(t.shape.dims), shape_of=t if any(d is UNKNOWN for d in t.shape.dims) else None)
