"""The walk of a module class's ``__init__`` (and the helpers it calls) that makes its
``ClassInfo``: every ``self.x = ...`` with its value (a layer, a container, a tensor,
a value of an argument), ``super().__init__()`` and what comes before it, containers
filled in loops; branches and loops through the shared ``Flow`` (``analysis/flow.py``).
``ModuleModel`` (``modules.py``) runs it for each class it is asked about."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable

from torch_lsp.analysis import torch_api as T

from torch_lsp.analysis.flow import Flow, assigned_names, raised_name

from torch_lsp.analysis.modules import (
    Assignment,
    ClassInfo,
    Item,
    Kind,
    LAZY,
    MODULE_KINDS,
    ModuleModel,
    Value,
    _is_self,
)

_PURE_BUILTINS = frozenset(
    """
    len print isinstance issubclass range enumerate zip reversed sorted iter min max sum any all int float
    bool str repr id hash type abs round divmod pow format hasattr getattr callable
    """.split()
)
_REGISTERING_CALLS = frozenset({"add_module", "register_module", "register_buffer", "register_parameter", "setattr"})
# list/dict methods that cannot register what the container holds
_BENIGN_CONTAINER_METHODS = frozenset(
    {"copy", "items", "values", "keys", "get", "sort", "reverse", "index", "count", "pop", "remove", "clear", "popitem"}
)
_CONTAINER_MUTATORS = frozenset({"append", "extend", "insert", "update", "add", "setdefault"})
_DTYPE_NAMES = frozenset(
    """
    float float32 float64 double half float16 bfloat16 int int8 int16 int32 int64 long short uint8 bool
    complex64 complex128 cfloat cdouble float8_e4m3fn float8_e5m2 qint8 quint8 channels_last contiguous_format
    strided sparse_coo
    """.split()
)



@dataclass
class _State:
    env: dict[str, Value] = field(default_factory=dict)  # local names
    attrs: dict[str, Value] = field(default_factory=dict)  # current value of self.NAME
    super_seen: bool = False

    def copy(self) -> "_State":
        return _State(dict(self.env), dict(self.attrs), self.super_seen)


def _join_values(a: Value | None, b: Value | None) -> Value:
    if a is None or b is None:
        return Value(Kind.UNKNOWN)
    if a is b:
        return a
    if a.kind is Kind.NONE:
        return b
    if b.kind is Kind.NONE:
        return a
    if a.kind is b.kind and a.kind not in (Kind.PLAIN_CONTAINER,):
        return Value(a.kind, a.node, a.cls if a.cls == b.cls else None, a.requires_grad and b.requires_grad,
                     a.legacy and b.legacy, registered=a.registered and b.registered)
    if (a.kind is b.kind is Kind.PLAIN_CONTAINER and a.container == b.container and a.items and b.items
            and not (a.registered or b.registered or a.escaped or b.escaped or a.lazy or b.lazy)
            and all(i.value.kind in MODULE_KINDS for i in a.items + b.items)):
        # two paths each build a plain list of layers (`if ...: layers = [...] elif ...: layers = [...]`):
        # on every path it holds layers; its items are those of both
        return Value(Kind.PLAIN_CONTAINER, a.node, container=a.container, items=list(a.items) + list(b.items))
    return Value(Kind.UNKNOWN)


def _join_states(a: _State, b: _State) -> _State:
    out = _State(super_seen=a.super_seen or b.super_seen)
    for name in a.env.keys() | b.env.keys():
        out.env[name] = _join_values(a.env.get(name), b.env.get(name))
    for name in a.attrs.keys() | b.attrs.keys():
        va, vb = a.attrs.get(name), b.attrs.get(name)
        out.attrs[name] = va if vb is None else vb if va is None else _join_values(va, vb)  # type: ignore[assignment]  # name is in one of the two
    return out


class _StateOps:
    """``Flow``'s state operations for the walker: the current ``_State``, changed in place."""

    __slots__ = ("state",)

    def __init__(self, state: _State) -> None:
        self.state = state

    def snapshot(self) -> _State:
        return self.state.copy()

    def restore(self, s: _State) -> None:
        self.state.env, self.state.attrs, self.state.super_seen = s.env, s.attrs, s.super_seen

    def join(self, states: list[_State]) -> _State:
        out = states[0].copy()
        for other in states[1:]:
            out = _join_states(out, other)
        return out

    def forget(self, s: _State, names: set[str]) -> _State:
        out = s.copy()
        for n in names:
            if n.startswith("self."):
                out.attrs[n[5:]] = Value(Kind.UNKNOWN)
            else:
                out.env[n] = Value(Kind.UNKNOWN)
        return out


def _one_pass(start: _State, head: _State, n: int) -> tuple[_State, bool]:
    """The walker runs a loop body once: what it stores is joined with the state before."""
    return head, False


class _InitWalker:
    """Abstract interpretation of ``__init__`` (and the helpers it calls) on kinds."""

    MAX_HELPER_DEPTH = 3

    def __init__(self, model: ModuleModel, info: ClassInfo):
        self.model = model
        self.info = info
        self.summary = info.ref.summary
        self.method_stack: list[str] = []
        self.cond_depth = 0
        self._helpers_done: set[str] = set()
        # None only between walks: every reader runs inside _walk_function, which sets it
        self.flow: Flow = None  # type: ignore[assignment]

    def run(self) -> None:
        info = self.info
        info.init = info.method("__init__")
        if info.init is None:
            info.analysed = True
            return
        state = _State()
        info.init_completes = self._walk_function(info.init, state, "__init__")
        info.analysed = True

    # ------------------------------------------------------------------ methods
    def _walk_function(self, fn: ast.FunctionDef, state: _State, name: str) -> bool:
        """Walk a method's body with its own control flow; ``state`` becomes the join of
        the states it returns in. False when no path returns (every one raises)."""
        self.method_stack.append(name)
        args = fn.args
        for a in args.posonlyargs + args.args + args.kwonlyargs + [x for x in (args.vararg, args.kwarg) if x]:
            state.env[a.arg] = Value(Kind.UNKNOWN)
        if name == "__init__":
            self._typed_parameters(fn, state)
        saved_flow = self.flow
        self.flow = Flow(_StateOps(state))
        try:
            self._block(fn.body, state)
            exits = [st for st, _ in self.flow.exit_states()]
            if exits:
                self.flow.ops.restore(self.flow.ops.join(exits))
            return bool(exits)
        finally:
            self.flow = saved_flow
            self.method_stack.pop()

    def _typed_parameters(self, fn: ast.FunctionDef, state: _State) -> None:
        """What ``__init__``'s signature says of a parameter: a module when annotated
        with a Module class and not defaulting to None (``body: nn.Module``); a builder of
        modules when its default is a Module class or a ``partial`` of one
        (``norm_layer=nn.LayerNorm``: a caller passes another layer class)."""
        a = fn.args
        positional = a.posonlyargs + a.args
        defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
        for p, d in list(zip(positional, defaults)) + list(zip(a.kwonlyargs, a.kw_defaults)):
            if d is None or (isinstance(d, ast.Constant) and d.value is None):
                if d is None and p.annotation is not None:
                    kind = self._class_of(p.annotation)
                    if kind is not None and kind[0] is Kind.LAYER:
                        state.env[p.arg] = Value(Kind.LAYER, p, cls=kind[1])
                continue
            target = d
            if isinstance(d, ast.Call) and T.canonical(self.summary.imports.qualify(d.func)) == "functools.partial" and d.args:
                target = d.args[0]
            kind = self._class_of(target)
            if kind is not None and kind[0] in MODULE_KINDS:
                state.env[p.arg] = Value(Kind.UNKNOWN, d, factory=kind)

    def _class_of(self, expr: ast.expr) -> tuple[Kind, str | None] | None:
        if not isinstance(expr, (ast.Name, ast.Attribute)):
            return None
        # lazy: a class imported from another project file is not resolved (that parses
        # the file: `config: LlamaConfig` on every model class); torch's and this file's are
        kind = self.model.class_kind(self.summary, expr, lazy=True)
        return kind if kind is not None and kind is not LAZY else None

    def _call_helper(self, method_name: str, state: _State) -> None:
        if len(self.method_stack) > self.MAX_HELPER_DEPTH or method_name in self.method_stack:
            return
        fn = self._find_method(method_name)
        if fn is None:
            if method_name not in T.MODULE_METHODS:
                # inherited from a class we do not walk: it may call Module.__init__
                self.info.init_calls_unseen = True
                state.super_seen = True
            return
        sub = _State(attrs=state.attrs, super_seen=state.super_seen)
        completes = self._walk_function(fn, sub, method_name)
        state.attrs = sub.attrs
        state.super_seen = sub.super_seen
        if not completes:
            self.flow.raise_()  # the helper always raises: so does this call

    def _find_method(self, name: str) -> ast.FunctionDef | None:
        fn = self.info.method(name)
        if fn is not None:
            return fn
        # Helpers of base classes in the same file, too; a base from another file was
        # analysed on its own (its registered names are known), and walking its
        # helpers again for every subclass (e.g. transformers' post_init) costs much.
        for base in self.info.user_bases:
            if base.summary is not self.summary:
                continue
            fn = self.model.info(base).method(name)
            if fn is not None:
                return fn
        return None

    @property
    def method(self) -> str:
        return self.method_stack[-1] if self.method_stack else "__init__"

    # ------------------------------------------------------------------ statements
    def _block(self, body: list[ast.stmt], state: _State) -> None:
        flow = self.flow
        for stmt in body:
            if not flow.reachable:
                return
            if flow.in_try:
                flow.checkpoint("?")
            self._stmt(stmt, state)

    def _conditional(self, run) -> Callable[[], None]:
        """A body that may or may not run: what it assigns is ``conditional``."""
        def body() -> None:
            self.cond_depth += 1
            try:
                run()
            finally:
                self.cond_depth -= 1
        return body

    def _stmt(self, stmt: ast.stmt, state: _State) -> None:
        flow = self.flow
        if isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value, state)
            for target in stmt.targets:
                self._assign(target, value, stmt.value, stmt, state, "assign")
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                value = self.eval(stmt.value, state)
                self._assign(stmt.target, value, stmt.value, stmt, state, "annassign")
        elif isinstance(stmt, ast.AugAssign):
            self._augassign(stmt, state)
        elif isinstance(stmt, ast.Expr):
            self.eval(stmt.value, state, stmt=stmt)
        elif isinstance(stmt, ast.If):
            self.eval(stmt.test, state)
            flow.branches([self._conditional(lambda: self._block(stmt.body, state)),
                           self._conditional(lambda: self._block(stmt.orelse, state))])
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self._loop_registers(stmt, state)
            iterable = self.eval(stmt.iter, state)
            item: Value | ast.withitem  # (the with-branch below reuses the name)
            item = Value(Kind.UNKNOWN)
            if iterable.kind is Kind.PLAIN_CONTAINER and len(iterable.items) == 1:
                item = iterable.items[0].value

            def body() -> None:
                self._assign(stmt.target, item, None, stmt, state, "loop")  # type: ignore[arg-type]  # the loop's Value
                self._block(stmt.body, state)
            orelse = self._conditional(lambda: self._block(stmt.orelse, state)) if stmt.orelse else None
            flow.loop(self._conditional(body), orelse, _one_pass)
        elif isinstance(stmt, ast.While):
            self.eval(stmt.test, state)
            forever = isinstance(stmt.test, ast.Constant) and bool(stmt.test.value)
            orelse = self._conditional(lambda: self._block(stmt.orelse, state)) if stmt.orelse else None
            flow.loop(self._conditional(lambda: self._block(stmt.body, state)), orelse, _one_pass, exits_normally=not forever)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                v = self.eval(item.context_expr, state)
                if item.optional_vars is not None:
                    self._assign(item.optional_vars, Value(Kind.UNKNOWN) if v.kind is not Kind.UNKNOWN else v, None, stmt, state, "with")
            self._block(stmt.body, state)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            def handler(h: ast.ExceptHandler) -> Callable[[], None]:
                def run() -> None:
                    if h.name:
                        state.env[h.name] = Value(Kind.UNKNOWN)
                    self._block(h.body, state)
                return self._conditional(run)
            # (a Try, or a TryStar tested by name for 3.10: mypy does not narrow through the name)
            flow.try_(self._conditional(lambda: self._block(stmt.body, state)), [(h, handler(h)) for h in stmt.handlers],  # type: ignore[attr-defined]
                      (lambda: self._block(stmt.orelse, state)) if stmt.orelse else None,  # type: ignore[attr-defined]
                      (lambda: self._block(stmt.finalbody, state)) if stmt.finalbody else None,  # type: ignore[attr-defined]
                      assigned_names(stmt.finalbody) if stmt.finalbody else set())  # type: ignore[attr-defined]
        elif isinstance(stmt, ast.Match):
            self.eval(stmt.subject, state)
            flow.branches([self._conditional(lambda case=case: self._block(case.body, state)) for case in stmt.cases]
                          + [lambda: None])
        elif isinstance(stmt, ast.Return):
            if stmt.value is not None:
                self.eval(stmt.value, state)
            flow.return_(None)
        elif isinstance(stmt, ast.Raise):
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.eval(child, state)
            flow.raise_(raised_name(stmt) if stmt.exc is not None else "?")
        elif isinstance(stmt, ast.Break):
            flow.break_()
        elif isinstance(stmt, ast.Continue):
            flow.continue_()
        elif isinstance(stmt, ast.Assert):
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.eval(child, state)
            if isinstance(stmt.test, ast.Constant) and not stmt.test.value:
                flow.raise_("AssertionError")
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            state.env[stmt.name] = Value(Kind.UNKNOWN)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                state.env[(alias.asname or alias.name).split(".")[0]] = Value(Kind.UNKNOWN)
        elif isinstance(stmt, ast.Delete):
            for t in stmt.targets:
                if isinstance(t, ast.Attribute) and _is_self(t.value):
                    state.attrs.pop(t.attr, None)
                elif isinstance(t, ast.Name):
                    state.env[t.id] = Value(Kind.UNKNOWN)
        elif isinstance(stmt, (ast.Pass, ast.Global, ast.Nonlocal)):
            pass
        else:  # a statement without a model: what it may store is unknown
            for n in assigned_names([stmt]):
                if n.startswith("self."):
                    state.attrs[n[5:]] = Value(Kind.UNKNOWN)
                else:
                    state.env[n] = Value(Kind.UNKNOWN)

    def _loop_registers(self, stmt: ast.For | ast.AsyncFor, state: _State) -> None:
        """``for i, m in enumerate(self.blocks): self.add_module(str(i), m)``: the
        iterated containers are registered through the loop body."""
        if not any(
            isinstance(n, ast.Call)
            and ((isinstance(n.func, ast.Attribute) and n.func.attr in _REGISTERING_CALLS)
                 or (isinstance(n.func, ast.Name) and n.func.id == "setattr"))
            for s in stmt.body
            for n in ast.walk(s)
        ):
            return
        for n in ast.walk(stmt.iter):
            v = self._peek(n, state)
            if v is not None:
                _mark(v, escaped=True)

    def _peek(self, node: ast.AST, state: _State) -> Value | None:
        if isinstance(node, ast.Name):
            return state.env.get(node.id)
        if isinstance(node, ast.Attribute) and _is_self(node.value):
            return state.attrs.get(node.attr)
        return None

    def _assign(self, target: ast.AST, value: Value, value_node: ast.AST | None, stmt: ast.stmt, state: _State, how: str) -> None:
        if isinstance(target, ast.Name):
            state.env[target.id] = value
        elif isinstance(target, ast.Attribute) and _is_self(target.value):
            self._store(target.attr, value, target, value_node, stmt, state, how)
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = None
            if (isinstance(value_node, (ast.Tuple, ast.List)) and value.kind is Kind.PLAIN_CONTAINER
                    and len(value_node.elts) == len(target.elts) == len(value.items)
                    and not any(isinstance(e, ast.Starred) for e in value_node.elts)):
                elts = value_node.elts
            for i, t in enumerate(target.elts):
                if elts is not None:
                    self._assign(t, value.items[i].value, elts[i], stmt, state, how)
                else:
                    self._assign(t.value if isinstance(t, ast.Starred) else t, Value(Kind.UNKNOWN), None, stmt, state, how)
        elif isinstance(target, ast.Subscript):
            container = self._container_of(target.value, state)
            if container is not None:
                container.items.append(Item(value, value_node or target, stmt, target.slice))
            elif value.kind is not Kind.UNKNOWN:
                self.eval(target.value, state)
                _mark(value, escaped=True)
        elif isinstance(target, ast.Attribute):
            # Stored on some other object: it may be registered there.
            _mark(value, escaped=True)

    def _store(self, name: str, value: Value, target: ast.AST, value_node: ast.AST | None, stmt: ast.stmt, state: _State, how: str) -> None:
        if value.kind in (Kind.LAYER, Kind.MODULE_CONTAINER, Kind.PARAM_CONTAINER, Kind.PARAMETER, Kind.BUFFER) or value.lazy:
            # Stored on self, a module or parameter is registered (an unresolved
            # constructor may be a module: treat it as one, to stay quiet).
            value.registered = True
            self.info.registered_names.add(name)
        self.info.assignments.append(
            Assignment(name, value, target, value_node, stmt, self.method, how, not state.super_seen, self.cond_depth > 0)
        )
        state.attrs[name] = value

    def _augassign(self, stmt: ast.AugAssign, state: _State) -> None:
        value = self.eval(stmt.value, state)
        container = self._container_of(stmt.target, state)
        if container is not None and isinstance(stmt.op, ast.Add):
            if value.kind is Kind.PLAIN_CONTAINER:
                for it in value.items:
                    container.items.append(Item(it.value, it.node, stmt))
            return
        if isinstance(stmt.target, ast.Name):
            old = state.env.get(stmt.target.id)
            if old is None or old.kind is not Kind.TENSOR:
                state.env[stmt.target.id] = Value(Kind.UNKNOWN)

    def _container_of(self, node: ast.AST, state: _State) -> Value | None:
        v = self._peek(node, state)
        if v is not None and v.kind is Kind.PLAIN_CONTAINER:
            return v
        return None

    # ------------------------------------------------------------------ expressions
    def eval(self, node: ast.AST | None, state: _State, stmt: ast.stmt | None = None) -> Value:
        v: Value | ast.expr | None
        inner: Value | _State
        if node is None:
            return Value(Kind.UNKNOWN)
        if isinstance(node, ast.Constant):
            return Value(Kind.NONE if node.value is None else Kind.VALUE, node)
        if isinstance(node, ast.Name):
            v = state.env.get(node.id)
            return v if v is not None else Value(Kind.UNKNOWN, node)
        if isinstance(node, ast.Attribute):
            if _is_self(node.value):
                v = state.attrs.get(node.attr)
                return v if v is not None else Value(Kind.UNKNOWN, node)
            q = self.summary.imports.qualify(node)
            if q and q.startswith("torch.") and q.rsplit(".", 1)[1] in _DTYPE_NAMES:
                return Value(Kind.VALUE, node)
            base = self.eval(node.value, state)
            if base.kind is Kind.TENSOR and node.attr in ("T", "mT", "H", "mH", "data"):
                return Value(Kind.TENSOR, node, requires_grad=base.requires_grad and node.attr != "data", legacy=base.legacy)
            return Value(Kind.UNKNOWN, node)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            kind = {ast.List: "list", ast.Tuple: "tuple", ast.Set: "set"}[type(node)]
            out = Value(Kind.PLAIN_CONTAINER, node, container=kind)
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    inner = self.eval(e.value, state)
                    if inner.kind is Kind.PLAIN_CONTAINER:
                        out.items.extend(inner.items)
                    else:
                        _mark(inner, escaped=True)
                else:
                    out.items.append(Item(self.eval(e, state), e, node))
            return out
        if isinstance(node, ast.Dict):
            out = Value(Kind.PLAIN_CONTAINER, node, container="dict")
            for k, v in zip(node.keys, node.values):
                val = self.eval(v, state)
                if k is None:  # {**other}
                    if val.kind is Kind.PLAIN_CONTAINER:
                        out.items.extend(val.items)
                    continue
                self.eval(k, state)
                out.items.append(Item(val, v, node, k))
            return out
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp)):
            inner = state.copy()
            for gen in node.generators:
                self.eval(gen.iter, inner)
                self._assign(gen.target, Value(Kind.UNKNOWN), None, None, inner, "comprehension")  # type: ignore[arg-type]
                for cond in gen.ifs:
                    self.eval(cond, inner)
            container = {ast.ListComp: "list", ast.SetComp: "set", ast.DictComp: "dict"}[type(node)]
            out = Value(Kind.PLAIN_CONTAINER, node, container=container)
            if isinstance(node, ast.DictComp):
                self.eval(node.key, inner)
                out.items.append(Item(self.eval(node.value, inner), node.value, node, node.key))
            else:
                out.items.append(Item(self.eval(node.elt, inner), node.elt, node))
            return out
        if isinstance(node, ast.GeneratorExp):
            inner = state.copy()
            for gen in node.generators:
                self.eval(gen.iter, inner)
                self._assign(gen.target, Value(Kind.UNKNOWN), None, None, inner, "comprehension")  # type: ignore[arg-type]
            out = Value(Kind.PLAIN_CONTAINER, node, container="generator")
            out.items.append(Item(self.eval(node.elt, inner), node.elt, node))
            return out
        if isinstance(node, ast.Call):
            return self._call(node, state, stmt)
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left, state), self.eval(node.right, state)
            # a tensor in arithmetic gives a tensor (`init_values * torch.ones(dim)`: the
            # other operand a number or a tensor, whatever the caller passed)
            if Kind.TENSOR in (left.kind, right.kind) and {left.kind, right.kind} <= {Kind.TENSOR, Kind.VALUE, Kind.UNKNOWN} \
                    and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Pow, ast.Mod)):
                return Value(Kind.TENSOR, node, requires_grad=left.requires_grad or right.requires_grad,
                             legacy=left.legacy or right.legacy)
            if left.kind is Kind.PLAIN_CONTAINER and right.kind is Kind.PLAIN_CONTAINER and isinstance(node.op, ast.Add):
                out = Value(Kind.PLAIN_CONTAINER, node, container=left.container)
                out.items = left.items + right.items
                return out
            if left.kind is Kind.VALUE and right.kind is Kind.VALUE:
                return Value(Kind.VALUE, node)
            return Value(Kind.UNKNOWN, node)
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand, state)
            return v if v.kind in (Kind.TENSOR, Kind.VALUE) else Value(Kind.UNKNOWN, node)
        if isinstance(node, ast.IfExp):
            self.eval(node.test, state)
            return _join_values(self.eval(node.body, state), self.eval(node.orelse, state))
        if isinstance(node, ast.NamedExpr):
            v = self.eval(node.value, state)
            self._assign(node.target, v, node.value, stmt, state, "walrus")  # type: ignore[arg-type]
            return v
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value, state)
            self.eval(node.slice, state)
            if base.kind is Kind.TENSOR:
                return Value(Kind.TENSOR, node, legacy=base.legacy)
            return Value(Kind.UNKNOWN, node)
        if isinstance(node, ast.Starred):
            return self.eval(node.value, state)
        if isinstance(node, (ast.BoolOp, ast.Compare, ast.JoinedStr)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.eval(child, state)
            return Value(Kind.VALUE if isinstance(node, (ast.Compare, ast.JoinedStr)) else Kind.UNKNOWN, node)
        if isinstance(node, ast.Lambda):
            return Value(Kind.UNKNOWN, node)
        return Value(Kind.UNKNOWN, node)

    def _call(self, node: ast.Call, state: _State, stmt: ast.stmt | None) -> Value:
        func = node.func
        # --- calls on self: registration methods, helpers, super().__init__
        if isinstance(func, ast.Attribute) and func.attr == "__init__":
            for a in node.args:
                self.eval(a, state)
            k: ast.keyword | Kind
            for k in node.keywords:
                self.eval(k.value, state)
            if self.info.super_init is None:
                self.info.super_init = node
                self.info.super_init_stmt = stmt
                self.info.super_init_method = self.method
            state.super_seen = True
            return Value(Kind.NONE, node)
        if isinstance(func, ast.Attribute) and _is_self(func.value):
            return self._self_method_call(node, func.attr, state, stmt)
        if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) == 3 and _is_self(node.args[0]):
            value = self.eval(node.args[2], state)
            name = node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                self._store(name.value, value, node, node.args[2], stmt or node, state, "setattr")  # type: ignore[arg-type]
            else:
                self.eval(name, state)
                _mark(value, escaped=True)
            return Value(Kind.NONE, node)
        # --- container mutation: self.layers.append(x), layers.append(x)
        if isinstance(func, ast.Attribute) and func.attr in _CONTAINER_MUTATORS:
            container = self._container_of(func.value, state)
            if container is not None:
                self._mutate(container, func.attr, node, state, stmt)
                return Value(Kind.NONE, node)
        # --- known constructors and tensor factories
        kind = self.model.class_kind(self.summary, func, lazy=True)
        args = [self.eval(a, state) for a in node.args]
        kwargs = {k.arg: self.eval(k.value, state) for k in node.keywords}
        if kind is LAZY:
            for v in args + list(kwargs.values()):
                _mark(v, escaped=True)
            return Value(Kind.UNKNOWN, node, lazy=(self.summary, func))
        if kind is not None:
            k, cls = kind
            if k in (Kind.PARAMETER, Kind.BUFFER, Kind.MODULE_CONTAINER, Kind.PARAM_CONTAINER):
                for v in args + list(kwargs.values()):
                    _mark(v, registered=True)
            else:
                for v in args + list(kwargs.values()):
                    _mark(v, escaped=True)
            return Value(k, node, cls=cls)
        q = T.canonical(self.summary.imports.qualify(func))
        if q is not None:
            if q in T.TENSOR_FACTORIES or q in T.LEGACY_CONSTRUCTORS:
                rg = _kw_true(node, "requires_grad")
                return Value(Kind.TENSOR, node, requires_grad=rg, legacy=q in T.LEGACY_CONSTRUCTORS)
            if q in T.TENSOR_FUNCTIONS:
                first = args[0] if args else None
                if first is not None and (first.kind is Kind.TENSOR or (
                        first.kind is Kind.PLAIN_CONTAINER and first.items and all(i.value.kind is Kind.TENSOR for i in first.items))):
                    return Value(Kind.TENSOR, node)
                return Value(Kind.UNKNOWN, node)
            if q in T.NON_TENSOR_TORCH_CALLS:
                return Value(Kind.VALUE, node)
        if isinstance(func, ast.Attribute):
            base = self.eval(func.value, state)
            if base.kind is Kind.TENSOR and func.attr in T.TENSOR_METHODS:
                rg = base.requires_grad
                if func.attr == "requires_grad_":
                    rg = not (node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value is False) and not any(
                        k.arg == "requires_grad" and isinstance(k.value, ast.Constant) and k.value.value is False for k in node.keywords)
                elif func.attr in ("detach", "detach_"):
                    rg = False
                return Value(Kind.TENSOR, node, requires_grad=rg, legacy=base.legacy)
            if base.kind is Kind.PLAIN_CONTAINER and func.attr in _BENIGN_CONTAINER_METHODS:
                return Value(Kind.UNKNOWN, node)
            if base.kind is not Kind.UNKNOWN:
                _mark(base, escaped=True)
        if isinstance(func, ast.Name) and func.id in ("list", "tuple", "dict") and func.id not in state.env:
            out = Value(Kind.PLAIN_CONTAINER, node, container=func.id)
            if args and args[0].kind is Kind.PLAIN_CONTAINER:
                out.items = list(args[0].items)
            return out
        pure = isinstance(func, ast.Name) and func.id in _PURE_BUILTINS and func.id not in state.env
        if not pure:
            for v in args + list(kwargs.values()):
                _mark(v, escaped=True)
        if isinstance(func, ast.Name):
            bound = state.env.get(func.id)
            if bound is not None and bound.factory is not None:
                return Value(bound.factory[0], node, cls=bound.factory[1], via=f"parameter:{func.id}")
            if bound is None and func.id in self.summary.functions:
                built = self.model.function_builds(self.summary, func.id)
                if built is not None:
                    return Value(built[0], node, cls=built[1], via=f"function:{func.id}")
        return Value(Kind.UNKNOWN, node)

    def _mutate(self, container: Value, method: str, node: ast.Call, state: _State, stmt: ast.stmt | None) -> None:
        args = node.args
        if method == "append" and len(args) == 1:
            container.items.append(Item(self.eval(args[0], state), args[0], node))
        elif method == "insert" and len(args) == 2:
            self.eval(args[0], state)
            container.items.append(Item(self.eval(args[1], state), args[1], node))
        elif method in ("extend", "update") and len(args) == 1:
            v = self.eval(args[0], state)
            if v.kind is Kind.PLAIN_CONTAINER:
                for it in v.items:
                    container.items.append(Item(it.value, it.node, node, it.key))
        elif method == "setdefault" and len(args) == 2:
            self.eval(args[0], state)
            container.items.append(Item(self.eval(args[1], state), args[1], node, args[0]))
        elif method == "add" and len(args) == 1:
            container.items.append(Item(self.eval(args[0], state), args[0], node))
        for k in node.keywords:
            self.eval(k.value, state)

    def _self_method_call(self, node: ast.Call, method: str, state: _State, stmt: ast.stmt | None) -> Value:
        args = [self.eval(a, state) for a in node.args]
        kwargs = {k.arg: self.eval(k.value, state) for k in node.keywords}
        name_node = node.args[0] if node.args else None
        name = name_node.value if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str) else None
        if method in ("register_buffer", "register_parameter", "add_module", "register_module"):
            value_node = node.args[1] if len(node.args) > 1 else (node.keywords[0].value if node.keywords else None)
            value = args[1] if len(args) > 1 else (next(iter(kwargs.values()), Value(Kind.UNKNOWN)))
            _mark(value, registered=True)
            if name is not None:
                kind = {"register_buffer": Kind.BUFFER, "register_parameter": Kind.PARAMETER}.get(method, Kind.LAYER)
                if value.kind in (Kind.NONE,) and method != "add_module":
                    kind = Kind.BUFFER if method == "register_buffer" else Kind.PARAMETER
                registered = Value(kind, value_node, cls=value.cls, registered=True)
                self._store(name, registered, node, value_node, stmt or node, state, method if method != "register_module" else "add_module")  # type: ignore[arg-type]
                self.info.registered_names.add(name)
            return Value(Kind.NONE, node)
        # A helper method: analyse its body as part of __init__.
        for v in args + list(kwargs.values()):
            _mark(v, escaped=True)
        if method not in self._helpers_done:
            self._helpers_done.add(method)
            self._call_helper(method, state)
        return Value(Kind.UNKNOWN, node)


def _kw_true(node: ast.Call, name: str) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True for k in node.keywords)


def _mark(value: Value, registered: bool = False, escaped: bool = False) -> None:
    """Mark a value (and, for containers, their items) registered or escaped."""
    stack = [value]
    seen: set[int] = set()
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if registered:
            v.registered = True
        if escaped:
            v.escaped = True
        if v.kind is Kind.PLAIN_CONTAINER:
            stack.extend(i.value for i in v.items)
