"""How an ``nn.Module`` uses the plain tensors it stores on ``self``: TL101's model of harm.

A plain tensor attribute (``self.t = torch.zeros(3)``, neither an ``nn.Parameter`` nor a
registered buffer) is only a problem where something goes wrong at run time. This module
gathers the facts that decide it, in one cheap pass per class that has such attributes:

* ``TensorFacts``: what the assigned expression is: its rank when provable (a 0-d tensor
  is a scalar for PyTorch's device rules), its dtype kind (an integer or bool tensor can
  never be an ``nn.Parameter``), whether it is random (a buffer that cannot be recomputed
  must be saved) and whether it is derived only from constructor arguments and constants.
* ``FileFacts``: what the rest of the file says about each class: is it used as a model
  (registered as a submodule, an ``nn.Sequential`` item, called, moved with ``.to()``),
  which attribute names are handed to an optimizer, converted by an ``_apply``/``to``
  override, or read from outside their class.
* ``ClassUses``: an abstract interpretation of ``forward`` and of the methods and file
  functions it calls (transitively), over a tiny domain: each value is derived from the
  input or a parameter/submodule (*on the model's device*), from plain tensor attributes
  (*not moved*), is a Python value (sizes, ``.item()``, truthiness), or is unknown. It
  records, per attribute, where it meets the model's device in a tensor operation, where
  ``forward`` updates it in place, where it is moved to the input's device, where it is
  only mixed with other plain tensors, and where it enters arithmetic. Local aliases are
  followed; an attribute re-assigned in ``forward`` before it is read is overwritten, so
  its later reads see the new value. Control flow (branches, loops, ``return``,
  ``raise``, ``try``) is the shared ``Flow`` of ``analysis/flow.py``, so "overwritten"
  means: on every path that reaches the read.

``ClassUses``' abstract values are in ``attribute_values.py``, ``ClassFacts`` (what one
walk over the class body learns) in ``class_walk.py``; ``TensorFacts`` and ``FileFacts``
in ``tensor_facts.py`` and ``file_facts.py``. This module imports them all, so its
names are the model's interface. The verdicts (severity, message, fixes) are made by
``torch_lsp.rules.registration``.
"""
from __future__ import annotations

import ast
from typing import Callable

from torch_lsp.analysis import torch_api as T
from torch_lsp.analysis.flow import assigned_names, raised_name
from torch_lsp.analysis.modules import MODULE_KINDS, ClassInfo

# The model's other parts live in their own modules; their names are part of this
# module's interface (the rules read ``attribute_use.TensorFacts``, ``FileFacts``, ...).
from torch_lsp.analysis.file_facts import *  # noqa: F401,F403
from torch_lsp.analysis.file_facts import find_method, mro
from torch_lsp.analysis.tensor_facts import *  # noqa: F401,F403
from torch_lsp.analysis.attribute_values import *  # noqa: F401,F403
from torch_lsp.analysis.attribute_values import _PY, _UNKNOWN, RETURNED, AttrUse, Site, U, _Frame, _one_pass, join
from torch_lsp.analysis.class_walk import *  # noqa: F401,F403
from torch_lsp.analysis.tensor_facts import (_NEW_METHODS, _NOT_UPDATES, _PASS_BUILTINS, _PY_ATTRS, _PY_BUILTINS,
                                             _PY_METHODS, _REDUCTIONS, _SAME_ATTRS, _SIZE_ONLY, _dtype_of_name,
                                             _is_self, _q)


# ---------------------------------------------------------------------------------- forward


class ClassUses:
    """The uses of a class's plain tensor attributes in code reachable from ``forward``."""

    MAX_DEPTH = 5
    MAX_RUNS = 120

    def __init__(self, ctx, info: ClassInfo, candidates: dict[str, int | None], registered: set[str],
                 value_names: set[str]):
        self.ctx = ctx
        self.info = info
        self.candidates = candidates
        self.registered = registered
        self.value_names = value_names
        self.uses: dict[str, AttrUse] = {n: AttrUse(n) for n in candidates}
        self._seen_sites: set[tuple] = set()
        self._guarded: set[str] = set()  # attributes whose device an enclosing condition has checked
        self._stack: list[int] = []
        self._memo: dict[tuple, tuple[U, dict[str, U]]] = {}
        self._runs = 0
        self._functions: dict[str, ast.FunctionDef] | None = None
        self.module_names = {a.name for c in mro(ctx, info) for a in c.assignments
                             if a.value.kind in MODULE_KINDS or a.value.lazy or a.how in ("add_module",)}
        self.reached: set[str] = set()  # functions analysed

    # ------------------------------------------------------------------ entry
    def run(self) -> dict[str, AttrUse]:
        for entry in ("forward", "__call__"):
            hit = find_method(self.ctx, self.info, entry)
            if hit is None:
                continue
            fn, owner = hit
            env = self._entry_params(fn)
            self._analyse(fn, owner, env, {}, entry=True)
        return self.uses

    def _entry_params(self, fn: ast.FunctionDef) -> dict[str, U]:
        a = fn.args
        positional = a.posonlyargs + a.args
        defaults = dict(zip([x.arg for x in positional[len(positional) - len(a.defaults):]], a.defaults))
        defaults.update({x.arg: d for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
        env: dict[str, U] = {}
        for arg in positional[1:] + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]:
            ann = ast.unparse(arg.annotation) if arg.annotation is not None else ""
            d = defaults.get(arg.arg)
            if ann in ("int", "float", "bool", "str") or (d is not None and isinstance(d, ast.Constant) and d.value is not None):
                env[arg.arg] = _PY
            else:
                env[arg.arg] = U(device=True, src=f"the input `{arg.arg}`")
        return env

    def _path_of(self, owner_summary):
        """The summary of another file the function is in (None: the checked file)."""
        return None if owner_summary is self.ctx.summary else owner_summary

    def _analyse(self, fn: ast.FunctionDef, owner: ClassInfo | None, env: dict[str, U], attrs: dict[str, U],
                 entry: bool = False, summary=None) -> tuple[U, dict[str, U]]:
        key = (id(fn), tuple(sorted((k, v.key()) for k, v in env.items())),
               tuple(sorted((k, v.key()) for k, v in attrs.items())))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if id(fn) in self._stack or len(self._stack) > self.MAX_DEPTH or self._runs >= self.MAX_RUNS:
            return _UNKNOWN, attrs
        self._runs += 1
        self._stack.append(id(fn))
        self.reached.add(fn.name)
        summary = summary or (owner.ref.summary if owner is not None else self.ctx.summary)
        frame = _Frame(fn.name, dict(env), dict(attrs), self._path_of(summary), entry, owner, self._initial_of(attrs))
        try:
            self._block(fn.body, frame)
        finally:
            self._stack.pop()
        exits = frame.flow.exit_states()
        if exits:
            ops = frame.flow.ops
            _, final_attrs = ops.join([st for st, _ in exits]) if len(exits) > 1 else exits[0][0]
            result = join([v if v is not None else _UNKNOWN for _, v in exits]), final_attrs
        else:  # every path raises
            result = _UNKNOWN, attrs
        self._memo[key] = result
        return result

    def _initial_of(self, attrs: dict[str, U]) -> Callable[[str], U]:
        """What ``self.NAME`` holds when a function starts: what the caller stored, else its value from
        ``__init__`` (the plain tensor itself for a candidate)."""
        def initial(name: str) -> U:
            v = attrs.get(name)
            if v is not None:
                return v
            if name in self.candidates:
                return U(frozenset({name}), rank=self.candidates[name])
            return _UNKNOWN
        return initial

    # ------------------------------------------------------------------ recording
    def _site(self, name: str, kind: str, node: ast.AST, frame: _Frame, partner: str | None = None,
              rank: int | None = None, pinned: bool = False) -> None:
        use = self.uses.get(name)
        if use is None or (kind == "device" and name in self._guarded):
            return
        k = (name, kind, id(node))
        if k in self._seen_sites:
            return
        self._seen_sites.add(k)
        getattr(use, kind).append(Site(node, frame.name, partner, rank, pinned, frame.summary))

    def _meet(self, node: ast.AST, ops: list[U], frame: _Frame, arith: bool = True) -> U:
        """A tensor operation on ``ops``: records where plain attributes meet the model's device."""
        tensors = [u for u in ops if u.tensorish]
        attrs: set[str] = set()
        met_any = False
        for u in tensors:
            if not u.attrs:
                continue
            partner = next((o for o in tensors if o is not u and o.device), None)
            if partner is None and u.mixed:
                partner = u
            if arith:
                for n in u.attrs:
                    self._site(n, "arith", node, frame, partner.src if partner else None, u.rank, u.pinned)
            if partner is not None:
                for n in u.attrs:
                    self._site(n, "device", node, frame, partner.src if partner is not u else "the other items", u.rank, u.pinned)
                met_any = True
                continue
            if any(o is not u and (o.fresh or o.attrs) for o in tensors):
                for n in u.attrs:
                    self._site(n, "plain", node, frame, "other plain tensors", u.rank)
            attrs |= u.attrs
        if not tensors:
            return _PY if ops and all(u.py for u in ops) else _UNKNOWN
        device = any(u.device for u in tensors)
        rank = None
        with_attrs = [u for u in tensors if u.attrs]
        if len(with_attrs) == 1 and all(u is with_attrs[0] or not u.attrs for u in tensors):
            rank = with_attrs[0].rank if len(tensors) == 1 else None
        return U(frozenset(attrs), device or met_any, False, any(u.fresh for u in tensors), rank, False,
                 any(u.pinned for u in tensors), next((u.src for u in tensors if u.src), None))

    # ------------------------------------------------------------------ statements
    def _block(self, body: list[ast.stmt], frame: _Frame) -> None:
        for stmt in body:
            if not frame.flow.reachable:
                return
            self._stmt(stmt, frame)

    def _stmt(self, stmt: ast.stmt, frame: _Frame) -> None:
        flow = frame.flow
        if isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value, frame)
            for t in stmt.targets:
                self._bind(t, value, frame, stmt)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self._bind(stmt.target, self.eval(stmt.value, frame), frame, stmt)
        elif isinstance(stmt, ast.AugAssign):
            value = self.eval(stmt.value, frame)
            target = stmt.target
            old = self.eval(target, frame) if not isinstance(target, ast.Subscript) else self.eval(target.value, frame)
            for n in old.attrs:
                self._site(n, "inplace", stmt, frame)
            result = self._meet(stmt, [old, value], frame)
            if isinstance(target, ast.Subscript):
                self.eval(target.slice, frame)
            else:
                self._bind(target, result, frame, stmt, augmented=True)
        elif isinstance(stmt, ast.Expr):
            self.eval(stmt.value, frame)
        elif isinstance(stmt, ast.Return):
            v = _UNKNOWN
            if stmt.value is not None:
                v = self.eval(stmt.value, frame)
                if frame.entry:
                    parts = stmt.value.elts if isinstance(stmt.value, (ast.Tuple, ast.List)) else [stmt.value]
                    for part in parts:
                        p = v if len(parts) == 1 else self.eval(part, frame)
                        if p.attrs and not p.device:
                            for n in p.attrs:
                                self._site(n, "plain", part, frame, RETURNED, p.rank)
            flow.return_(v)
        elif isinstance(stmt, ast.Raise):
            for child in (stmt.exc, stmt.cause):
                if child is not None:
                    self.eval(child, frame)
            flow.raise_(raised_name(stmt) or "?")
        elif isinstance(stmt, ast.Break):
            flow.break_()
        elif isinstance(stmt, ast.Continue):
            flow.continue_()
        elif isinstance(stmt, ast.If):
            self.eval(stmt.test, frame)
            flow.branches([lambda: self._block(stmt.body, frame), lambda: self._block(stmt.orelse, frame)])
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            item = self._element(self.eval(stmt.iter, frame))

            def body() -> None:
                self._bind(stmt.target, item, frame, stmt)
                self._block(stmt.body, frame)
            orelse = (lambda: self._block(stmt.orelse, frame)) if stmt.orelse else None
            flow.loop(body, orelse, _one_pass)
        elif isinstance(stmt, ast.While):
            self.eval(stmt.test, frame)
            forever = isinstance(stmt.test, ast.Constant) and bool(stmt.test.value)
            orelse = (lambda: self._block(stmt.orelse, frame)) if stmt.orelse else None
            flow.loop(lambda: self._block(stmt.body, frame), orelse, _one_pass, exits_normally=not forever)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item_ in stmt.items:
                v = self.eval(item_.context_expr, frame)
                if item_.optional_vars is not None:
                    self._bind(item_.optional_vars, v if v.tensorish and (v.attrs or v.device) else _UNKNOWN, frame, stmt)
            self._block(stmt.body, frame)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            # A Try or (3.11+) a TryStar, named so that 3.10 runs it: mypy does not narrow
            # through the name test, hence the attr-defined ignores on the fields both have.
            handlers: list[tuple[ast.ExceptHandler, Callable[[], None]]] = []
            for h in stmt.handlers:  # type: ignore[attr-defined]
                def run(h=h) -> None:
                    if h.name:
                        frame.env[h.name] = _UNKNOWN
                    self._block(h.body, frame)
                handlers.append((h, run))
            flow.try_(lambda: self._block(stmt.body, frame), handlers,  # type: ignore[attr-defined]
                      (lambda: self._block(stmt.orelse, frame)) if stmt.orelse else None,  # type: ignore[attr-defined]
                      (lambda: self._block(stmt.finalbody, frame)) if stmt.finalbody else None,  # type: ignore[attr-defined]
                      assigned_names(stmt.finalbody))  # type: ignore[attr-defined]
        elif isinstance(stmt, ast.Match):
            self.eval(stmt.subject, frame)
            # `c=c` binds each case; mypy cannot infer a lambda with a parameter where a
            # Callable[[], None] is expected
            flow.branches([lambda: None] + [(lambda c=c: self._block(c.body, frame)) for c in stmt.cases])  # type: ignore[misc]
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # A closure (e.g. for checkpointing): analysed in place, its parameters standing for inputs.
            env = dict(frame.env)
            for a in stmt.args.posonlyargs + stmt.args.args + stmt.args.kwonlyargs:
                env[a.arg] = U(device=True, src=f"the input `{a.arg}`")
            inner = _Frame(frame.name, env, dict(frame.attrs), frame.summary, False, frame.owner, frame.initial)
            self._block(stmt.body, inner)
            frame.env[stmt.name] = _UNKNOWN
        elif isinstance(stmt, ast.Assert):
            self.eval(stmt.test, frame)
        elif isinstance(stmt, ast.Delete):
            for t in stmt.targets:
                if isinstance(t, ast.Attribute) and _is_self(t.value):
                    frame.attrs[t.attr] = _UNKNOWN

    def _element(self, it: U) -> U:
        if it.attrs:
            return U(it.attrs, it.device, it.py, it.fresh, None if it.rank is None else max(it.rank - 1, 0), pinned=it.pinned,
                     src=it.src)
        return it

    def _bind(self, target: ast.AST, value: U, frame: _Frame, stmt: ast.stmt, augmented: bool = False) -> None:
        if isinstance(target, ast.Name):
            frame.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for e in target.elts:
                self._bind(e.value if isinstance(e, ast.Starred) else e, value, frame, stmt)
        elif isinstance(target, ast.Starred):
            self._bind(target.value, value, frame, stmt)
        elif isinstance(target, ast.Attribute) and _is_self(target.value):
            name = target.attr
            if not augmented and name in value.attrs:
                self._site(name, "inplace", stmt, frame)  # `self.n = self.n + 1`: running state
            frame.attrs[name] = value
        elif isinstance(target, ast.Attribute):
            base = self.eval(target.value, frame)
            if target.attr == "data" and base.attrs:
                for n in base.attrs:
                    self._site(n, "inplace", stmt, frame)
        elif isinstance(target, ast.Subscript):
            base = self.eval(target.value, frame)
            self.eval(target.slice, frame)
            if base.attrs:
                for n in base.attrs:
                    self._site(n, "inplace", stmt, frame)
                self._meet(stmt, [base, value], frame, arith=False)

    # ------------------------------------------------------------------ expressions
    def _read_self(self, name: str, frame: _Frame) -> U:
        v = frame.attrs.get(name)
        if v is not None:
            return v
        if name in self.candidates:
            self.uses[name].reads += 1
            return U(frozenset({name}), rank=self.candidates[name])
        if name in self.registered or T.is_torch_owned_name(name):
            return U(device=True, src=f"`self.{name}`")
        if name in self.value_names or name == "training":
            return _PY
        hit = find_method(self.ctx, self.info, name)
        if hit is not None and any(_decorator(d) in ("property", "cached_property") for d in hit[0].decorator_list):
            ret, attrs = self._analyse(hit[0], hit[1], {}, frame.attrs)
            frame.attrs = dict(attrs)
            return ret
        return _UNKNOWN

    def eval(self, node: ast.AST | None, frame: _Frame) -> U:
        if node is None:
            return _UNKNOWN
        if isinstance(node, ast.Constant):
            return _PY
        if isinstance(node, ast.Name):
            return frame.env.get(node.id, _UNKNOWN)
        if isinstance(node, ast.Attribute):
            if _is_self(node.value):
                return self._read_self(node.attr, frame)
            base = self.eval(node.value, frame)
            if node.attr == "device":
                return U(devspec=True) if base.device else _PY
            if node.attr in _PY_ATTRS:
                return _PY
            if node.attr in _SAME_ATTRS:
                return base
            if base.device and not base.attrs:
                return U(device=True, src=base.src)  # `self.proj.weight`
            return _UNKNOWN
        if isinstance(node, ast.Call):
            return self._call(node, frame)
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left, frame), self.eval(node.right, frame)
            if left.py and right.py:
                return _PY
            return self._meet(node, [left, right], frame)
        if isinstance(node, ast.Compare):
            ops = [self.eval(node.left, frame)] + [self.eval(c, frame) for c in node.comparators]
            if all(u.py or not u.tensorish for u in ops) or any(isinstance(o, (ast.Is, ast.IsNot, ast.In, ast.NotIn)) for o in node.ops):
                return _PY
            return self._meet(node, ops, frame, arith=False)
        v: U | ast.expr
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand, frame)
            return _PY if isinstance(node.op, ast.Not) else v
        if isinstance(node, ast.BoolOp):
            # `x.device == self.c.device and torch.equal(x, self.c)`: the later operands run only
            # on the device the earlier ones checked.
            values: list[U]
            guarded: set[str]
            values, guarded = [], set()
            for v in node.values:
                before = set(self._guarded)
                self._guarded |= guarded
                values.append(self.eval(v, frame))
                self._guarded = before
                guarded |= _device_checked(v)
            return join(values)
        if isinstance(node, ast.IfExp):
            self.eval(node.test, frame)
            return join([self.eval(node.body, frame), self.eval(node.orelse, frame)])
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value, frame)
            idx = self.eval(node.slice, frame)
            if base.attrs:
                return U(base.attrs, base.device, False, base.fresh, _index_rank(base.rank, node.slice, idx), pinned=base.pinned,
                         src=base.src)
            # A CPU index tensor is accepted for a tensor on any device (torch moves it): not a meeting.
            if base.py:
                return _UNKNOWN
            return base
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [self.eval(e.value if isinstance(e, ast.Starred) else e, frame) for e in node.elts]
            out = join(items) if items else _UNKNOWN
            if any(i.attrs for i in items) and any(i.device and not i.attrs for i in items):
                out = U(out.attrs, out.device, False, out.fresh, out.rank, pinned=out.pinned, src=out.src, mixed=True)
            return out
        if isinstance(node, ast.Dict):
            for k in node.keys:
                if k is not None:
                    self.eval(k, frame)
            return join([self.eval(v, frame) for v in node.values])
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = frame.scratch()
            for gen in node.generators:
                it = self.eval(gen.iter, inner)
                self._bind(gen.target, self._element(it), inner, node)  # type: ignore[arg-type]
                for cond in gen.ifs:
                    self.eval(cond, inner)
            if isinstance(node, ast.DictComp):
                self.eval(node.key, inner)
                return self.eval(node.value, inner)
            return self.eval(node.elt, inner)
        if isinstance(node, ast.NamedExpr):
            v = self.eval(node.value, frame)
            self._bind(node.target, v, frame, node)  # type: ignore[arg-type]
            return v
        if isinstance(node, ast.Starred):
            return self.eval(node.value, frame)
        if isinstance(node, ast.JoinedStr):
            for v in node.values:
                if isinstance(v, ast.FormattedValue):
                    self.eval(v.value, frame)
            return _PY
        if isinstance(node, ast.Slice):
            for part in (node.lower, node.upper, node.step):
                if part is not None:
                    self.eval(part, frame)
            return _PY
        return _UNKNOWN

    def _args(self, node: ast.Call, frame: _Frame) -> tuple[list[U], dict[str, U]]:
        args = [self.eval(a, frame) for a in node.args]
        kwargs = {k.arg or "**": self.eval(k.value, frame) for k in node.keywords}
        return args, kwargs

    def _call(self, node: ast.Call, frame: _Frame) -> U:
        func = node.func
        # super().method(...)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name) \
                and func.value.func.id == "super":
            args, kwargs = self._args(node, frame)
            owner = frame.owner
            hit = find_method(self.ctx, self.info, func.attr, after=owner) if owner is not None else None
            if hit is not None:
                return self._helper(hit[0], hit[1], node, args, kwargs, frame, bound=True)
            return U(device=True) if any(u.device for u in args + list(kwargs.values())) else _UNKNOWN
        # self.method(...) / self.submodule(...)
        if isinstance(func, ast.Attribute) and _is_self(func.value):
            name = func.attr
            args, kwargs = self._args(node, frame)
            if name not in self.candidates and name not in self.registered and name not in frame.attrs:
                hit = find_method(self.ctx, self.info, name)
                if hit is not None:
                    return self._helper(hit[0], hit[1], node, args, kwargs, frame, bound=True)
            return self._module_call(name, node, args, kwargs, frame)
        if isinstance(func, ast.Subscript):
            base: ast.expr | U = func.value
            while isinstance(base, ast.Subscript):
                base = base.value
            if isinstance(base, ast.Attribute) and _is_self(base.value) and base.attr in self.module_names:
                self.eval(func.slice, frame)
                args, kwargs = self._args(node, frame)
                return self._module_call(base.attr, node, args, kwargs, frame)
        q = _q(self.ctx, func) if isinstance(func, (ast.Name, ast.Attribute)) else None
        if q is not None and q.startswith("torch."):
            return self._torch_call(q, node, frame)
        if isinstance(func, ast.Name):
            args, kwargs = self._args(node, frame)
            everything = args + list(kwargs.values())
            if func.id in frame.env:
                local = frame.env[func.id]
                return U(device=True, src=local.src) if local.device or any(u.device for u in everything) else _UNKNOWN
            if func.id in _PY_BUILTINS:
                return _PY
            if func.id in _PASS_BUILTINS:
                return join(everything) if everything else _UNKNOWN
            fn = self._module_function(func.id)
            if fn is not None:
                return self._helper(fn, None, node, args, kwargs, frame, bound=False)
            return self._unknown_call(node, everything, frame)
        if isinstance(func, ast.Attribute):
            base = self.eval(func.value, frame)
            return self._method_call(base, func.attr, node, frame)
        self.eval(func, frame)
        args, kwargs = self._args(node, frame)
        return self._unknown_call(node, args + list(kwargs.values()), frame)

    def _unknown_call(self, node: ast.Call, values: list[U], frame: _Frame) -> U:
        device = next((u for u in values if u.device and u.tensorish), None)
        if device is not None:
            return U(device=True, src=device.src)
        return _UNKNOWN

    def _module_call(self, name: str, node: ast.Call, args: list[U], kwargs: dict[str, U], frame: _Frame) -> U:
        if name in self.module_names or name in self.registered:
            for u in args + list(kwargs.values()):
                for n in u.attrs:
                    self._site(n, "device", node, frame, f"`self.{name}` (its parameters are on the model's device)", u.rank,
                               u.pinned)
            return U(device=True, src=f"the output of `self.{name}`")
        callee = self._read_self(name, frame) if name not in self.candidates else U(frozenset({name}))
        values = args + list(kwargs.values())
        if callee.device or any(u.device for u in values):
            return U(device=True, src=f"the output of `self.{name}`")
        return _UNKNOWN

    def _helper(self, fn: ast.FunctionDef, owner: ClassInfo | None, node: ast.Call, args: list[U], kwargs: dict[str, U],
                frame: _Frame, bound: bool) -> U:
        a = fn.args
        positional = a.posonlyargs + a.args
        if bound and not any(_decorator(d) == "staticmethod" for d in fn.decorator_list):
            positional = positional[1:]
        env: dict[str, U] = {}
        for p, v in zip(positional, args):
            env[p.arg] = v
        names = {p.arg for p in positional + a.kwonlyargs}
        for k, v in kwargs.items():
            if k in names:
                env[k] = v
        if a.vararg is not None:
            env[a.vararg.arg] = join(args[len(positional):]) if len(args) > len(positional) else _UNKNOWN
        if a.kwarg is not None:
            env[a.kwarg.arg] = join([v for k, v in kwargs.items() if k not in names]) or _UNKNOWN
        defaults = dict(zip([x.arg for x in (a.posonlyargs + a.args)[len(a.posonlyargs + a.args) - len(a.defaults):]], a.defaults))
        defaults.update({x.arg: d for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
        for p in positional + a.kwonlyargs:
            if p.arg not in env:
                env[p.arg] = _PY if isinstance(defaults.get(p.arg), ast.Constant) else _UNKNOWN
        summary = owner.ref.summary if owner is not None else self.ctx.summary
        ret, attrs = self._analyse(fn, owner if bound else None, env, frame.attrs if bound else {}, summary=summary)
        if bound:
            frame.attrs = dict(attrs)
        return ret

    def _module_function(self, name: str) -> ast.FunctionDef | None:
        if self._functions is None:
            tree = self.ctx.src.tree
            self._functions = {s.name: s for s in (tree.body if tree else []) if isinstance(s, ast.FunctionDef)}
        return self._functions.get(name)

    def _torch_call(self, q: str, node: ast.Call, frame: _Frame) -> U:
        short = q.rsplit(".", 1)[1]
        args, kwargs = self._args(node, frame)
        dev = kwargs.get("device")
        if q in T.NON_TENSOR_TORCH_CALLS or q in ("torch.is_tensor", "torch.numel", "torch.is_floating_point",
                                                   "torch.is_grad_enabled", "torch.get_default_dtype"):
            return _PY
        if q.startswith(("torch.no_grad", "torch.enable_grad", "torch.autocast", "torch.cuda.amp", "torch.amp",
                         "torch.jit.", "torch.compiler.", "torch._")):
            return _UNKNOWN
        if q in T.TENSOR_FACTORIES:
            if dev is not None:
                if dev.devspec or dev.device:
                    for u in args:
                        for n in u.attrs:
                            self._site(n, "moved", node, frame)
                    return U(device=True, src="a tensor made on the input's device")
                return U(pinned=True, fresh=True)
            if q.endswith("_like") and args:
                return args[0]
            if short in ("tensor", "as_tensor", "asarray") and args and args[0].attrs:
                return args[0]
            return U(fresh=True)
        if dev is not None and (dev.devspec or dev.device):
            for u in args:
                for n in u.attrs:
                    self._site(n, "moved", node, frame)
            return U(device=True)
        skip = {"dim", "dtype", "out", "device", "layout", "keepdim", "memory_format", "p", "eps", "inplace", "training",
                "reduction", "mode", "align_corners", "size", "scale_factor", "padding", "stride", "dilation", "groups"}
        ops: list[U] = []
        for a, n in zip(args, node.args):
            if isinstance(n, (ast.List, ast.Tuple)):
                ops += [self.eval(e.value if isinstance(e, ast.Starred) else e, frame) for e in n.elts]
            else:
                ops.append(a)
        ops += [v for k, v in kwargs.items() if k not in skip]
        arith = short not in ("cat", "stack", "concat", "concatenate", "where")
        return self._meet(node, ops, frame, arith=arith)

    def _method_call(self, base: U, meth: str, node: ast.Call, frame: _Frame) -> U:
        args, kwargs = self._args(node, frame)
        values = args + list(kwargs.values())
        if meth in _PY_METHODS and (base.tensorish and (base.attrs or base.device or base.fresh)):
            return _PY
        if not (base.attrs or base.device or base.fresh):
            # not a tensor we follow: a list, a dict, a Python object, an unknown value
            if meth in _PY_METHODS:
                return _PY
            return self._unknown_call(node, values, frame)
        if meth == "to" or meth == "type_as":
            target = [u for u in values if u.device or u.devspec]
            if target:
                for n in base.attrs:
                    self._site(n, "moved", node, frame)
                return U(device=True, src=target[0].src or "the input's device", rank=base.rank)
            fixed = meth == "to" and any(self._is_device_spec(a) for a in list(node.args) + [k.value for k in node.keywords if k.arg == "device"])
            if fixed:
                for n in base.attrs:
                    self._site(n, "pinned", node, frame)
                return U(base.attrs, base.device, False, base.fresh, base.rank, pinned=True, src=base.src)
            return base
        if meth == "cuda":
            for n in base.attrs:
                self._site(n, "pinned", node, frame)
            return U(base.attrs, base.device, False, base.fresh, base.rank, pinned=True, src=base.src)
        if meth in _NEW_METHODS:
            if base.device and not base.attrs:
                for u in values:
                    for n in u.attrs:
                        self._site(n, "moved", node, frame)
                return U(device=True, src=base.src)
            return U(base.attrs, False, False, True, None, pinned=base.pinned)
        if meth in _SIZE_ONLY:
            return base
        if meth.endswith("_") and not meth.startswith("_") and meth not in _NOT_UPDATES:
            for n in base.attrs:
                self._site(n, "inplace", node, frame)
        if meth in _REDUCTIONS and not node.args and base.attrs:
            base = U(base.attrs, base.device, False, base.fresh, 0, pinned=base.pinned, src=base.src)
        tensors = [u for u in values if u.tensorish and (u.attrs or u.device or u.fresh)]
        if not tensors:
            return base
        return self._meet(node, [base] + tensors, frame)

    def _is_device_spec(self, node: ast.AST) -> bool:
        """``"cuda"``, ``device``, ``self.device``, ``torch.device(...)``: a device, not a dtype."""
        if _dtype_of_name(self.ctx, node) is not None:
            return False
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        if isinstance(node, ast.Call):
            return _q(self.ctx, node.func) == "torch.device"
        text = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
        return "device" in text.lower() or "cuda" in text.lower()


def _device_checked(node: ast.AST) -> set[str]:
    """Attributes whose ``.device`` an expression reads (``self.c.device == x.device``)."""
    return {n.value.attr for n in ast.walk(node)
            if isinstance(n, ast.Attribute) and n.attr == "device" and isinstance(n.value, ast.Attribute)
            and _is_self(n.value.value)}


def _index_rank(rank: int | None, slice_node: ast.AST, idx: U) -> int | None:
    if rank is None:
        return None
    parts = slice_node.elts if isinstance(slice_node, ast.Tuple) else [slice_node]
    out = rank
    for p in parts:
        if isinstance(p, ast.Slice):
            continue
        if isinstance(p, ast.Constant) and p.value is None:
            out += 1
        elif isinstance(p, ast.Constant) and p.value is Ellipsis:
            return None
        elif idx.py or isinstance(p, (ast.Constant, ast.Name, ast.UnaryOp, ast.BinOp)) and not idx.attrs and not idx.device:
            out -= 1
        else:
            return None
    return max(out, 0)


def _decorator(node: ast.expr) -> str | None:
    node = node.func if isinstance(node, ast.Call) else node
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None
