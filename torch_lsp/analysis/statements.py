"""The statement visitor of the shape interpreter (a mixin of ``Interpreter``).

Every kind of ``ast.stmt`` has a case. Control flow goes through the frame's
``Flow`` (``flow.py``): ``break``, ``continue``, ``return`` and ``raise`` end a path,
and the states that reach the code after a branch, a loop or a ``try`` are joined
there. A statement without a model makes every name and ``self`` attribute it may
store unknown; it never leaves a stale value behind.

The interpreter's state, for the Flow, is the frame's environment and the attributes
of the module instances it holds (``self`` while ``__init__`` builds it).
"""
from __future__ import annotations

import ast
import weakref
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

from torch_lsp.analysis.flow import Flow, assigned_names, may_catch, raised_name
from torch_lsp.analysis.shapes import UNKNOWN, NotGiven, Sym
from torch_lsp.analysis import torch_api as T
from torch_lsp.analysis.values import (
    BoundMethodV,
    ClassV,
    FuncV,
    InstanceV,
    LayerV,
    SeqV,
    TensorV,
    TupleV,
    _DictV,
    _same_value,
    _widen,
    _widen_changed,
    del_attr,
    join_envs,
    set_attr,
)

# Unrolled iterations of a loop whose items are known (outermost loop / nested).
MAX_UNROLL, MAX_UNROLL_NESTED = 64, 8
# Decorators that keep a nested function's behaviour (its body runs when it is called).
_TRANSPARENT_DECORATORS = frozenset({"staticmethod", "wraps", "no_grad", "enable_grad", "inference_mode",
                                     "autocast", "cache", "lru_cache"})


class FrameOps:
    """The state operations of ``Flow`` for one frame of the shape interpreter: its
    environment, and the attributes of the module instances in it."""

    __slots__ = ("interp", "_frame")

    def __init__(self, interp: Any, frame: Any) -> None:
        self.interp = interp
        self._frame = weakref.ref(frame)  # the frame holds its Flow, which holds this: no cycle

    @property
    def frame(self) -> Any:
        return self._frame()

    def snapshot(self) -> tuple:
        env = self.frame.env
        insts = {}
        for v in env.values():
            if type(v) is InstanceV:
                insts[id(v)] = (v, v.attrs)  # (never changed in place: see values.set_attr)
        return (dict(env), insts)

    def restore(self, state: tuple) -> None:
        env, insts = state
        frame = self.frame
        if frame.env is self.interp.module_env:  # the top level: other units read this dict
            frame.env.clear()
            frame.env.update(env)
        else:
            frame.env = env
        for inst, attrs in insts.values():
            inst.attrs = attrs

    def join(self, states: list) -> tuple:
        first_env, first_insts = states[0]
        if len(states) == 1:
            return (dict(first_env), dict(first_insts))
        env = first_env
        insts: dict = dict(first_insts)
        for e, more in states[1:]:
            env = join_envs(env, e)
            for k, (i, a) in more.items():
                insts[k] = (i, join_envs(insts[k][1], a)) if k in insts else (i, a)
        if env is first_env:
            env = dict(env)
        return (env, insts)

    def exit_snapshot(self) -> tuple:
        """The state a function leaves for its caller: only the instances' attributes
        (its local names end with it)."""
        insts = {}
        for v in self.frame.env.values():
            if type(v) is InstanceV:
                insts[id(v)] = (v, v.attrs)
        return ({}, insts)

    def restore_instances(self, state: tuple) -> None:
        for inst, attrs in state[1].values():
            inst.attrs = attrs

    def forget(self, state: tuple, names: set[str]) -> tuple:
        env, insts = self.join([state])
        selves = {id(v) for k, v in env.items() if k == "self" and type(v) is InstanceV}
        for n in names:
            if n.startswith("self."):
                for k in selves:
                    inst, attrs = insts[k]
                    insts[k] = (inst, {**attrs, n[5:]: UNKNOWN})
            elif n in env:
                env[n] = _widen(env[n])
        return (env, insts)


def _same_state(a: tuple, b: tuple) -> bool:
    ea, eb = a[0], b[0]
    if ea.keys() != eb.keys() or not all(_same_value(ea[k], eb[k]) for k in ea):
        return False
    for k, (_, attrs) in a[1].items():
        other = b[1].get(k)
        if other is None:
            continue
        o = other[1]
        if attrs is not o and (attrs.keys() != o.keys() or not all(_same_value(attrs[n], o[n]) for n in attrs)):
            return False
    return True


def _widen_unequal_state(start: tuple, after: tuple) -> tuple:
    """``after`` with what equals ``start``'s value kept and the rest widened."""
    def widen(s: dict, a: dict) -> dict:
        return {k: (v if k in s and _same_value(v, s[k]) else _widen(v)) for k, v in a.items()}
    insts = {k: (i, widen(start[1][k][1], a) if k in start[1] else dict(a)) for k, (i, a) in after[1].items()}
    return (widen(start[0], after[0]), insts)


def _widen_changed_state(start: tuple, after: tuple) -> tuple:
    insts = {k: (i, _widen_changed(start[1][k][1], a) if k in start[1] else dict(a)) for k, (i, a) in after[1].items()}
    return (_widen_changed(start[0], after[0]), insts)


def _is_generator(fn: ast.AST) -> bool:
    """Does ``fn``'s own body yield (calling it makes a generator, not its result)?"""
    body = getattr(fn, "body", [])
    stack = list(body) if isinstance(body, list) else [body]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


class Statements:
    """Statements and control flow of the shape interpreter."""

    if TYPE_CHECKING:  # what the interpreter this is a part of provides
        steps: int
        max_steps: int
        cancel: Callable[[], bool] | None
        epoch: int
        region: int
        _regions: int
        loop_depth: int
        catching: list[list]
        raising: str | None
        imports: Any
        eval: Callable[..., Any]
        _assign: Callable[..., None]
        _binop: Callable[..., Any]
        _equal: Callable[..., bool | None]
        _forget: Callable[..., None]
        _same_file: Callable[..., None]
        module_frame: Callable[[], Any]
        match_class: Callable[..., bool | None]

    # ------------------------------------------------------------------ blocks
    def new_flow(self, frame: Any) -> Flow:
        frame.flow = Flow(FrameOps(self, frame))
        return frame.flow

    def _block(self, body: list[ast.stmt], frame: Any, top: bool = False) -> None:
        flow = frame.flow or self.new_flow(frame)
        for stmt in body:
            if not flow.reachable:
                return
            if flow._tries:
                flow.checkpoint("?")  # any statement may raise into the handlers
            self._stmt(stmt, frame, top)
            if self.raising is not None:  # an error a handler catches was raised in it: what it
                flow.surely_raised(self.raising)  # assigned never happened
                return

    def _stmt(self, stmt: ast.stmt, frame: Any, top: bool = False) -> None:
        self.steps += 1  # the unit's step budget, and now and then the cancel hook
        if self.steps > self.max_steps:
            raise RecursionError("analysis budget exhausted")
        if not self.steps & 255 and self.cancel is not None and self.cancel():
            from torch_lsp.analysis.context import AnalysisCancelled

            raise AnalysisCancelled()
        kind = type(stmt)
        if kind is ast.Assign:
            v = self.eval(stmt.value, frame)  # type: ignore[attr-defined]
            for t in stmt.targets:  # type: ignore[attr-defined]
                self._assign(t, v, frame)
        elif kind is ast.Expr:
            self.eval(stmt.value, frame)  # type: ignore[attr-defined]
        else:
            handler = _HANDLERS.get(kind)
            if handler is None:
                self._unmodelled(stmt, frame)
            else:
                handler(self, stmt, frame, top)

    def _unmodelled(self, stmt: ast.stmt, frame: Any) -> None:
        """A statement without a model: what it may store is unknown afterwards."""
        self._forget_names(assigned_names([stmt]), frame)

    def _forget_names(self, names: set[str], frame: Any) -> None:
        selves = [v for k, v in frame.env.items() if k == "self" and type(v) is InstanceV]
        for n in names:
            if n.startswith("self."):
                for inst in selves:
                    set_attr(inst, n[5:], UNKNOWN)
            else:
                frame.env[n] = _widen(frame.env[n]) if n in frame.env else UNKNOWN

    # ------------------------------------------------------------------ simple statements
    def _s_annassign(self, stmt: ast.AnnAssign, frame: Any, top: bool) -> None:
        if stmt.value is not None:
            self._assign(stmt.target, self.eval(stmt.value, frame), frame)

    def _s_augassign(self, stmt: ast.AugAssign, frame: Any, top: bool) -> None:
        left = self.eval(stmt.target, frame) if not isinstance(stmt.target, ast.Subscript) else UNKNOWN
        right = self.eval(stmt.value, frame)
        self._assign(stmt.target, self._binop(stmt.op, left, right, stmt, frame), frame)

    def _s_return(self, stmt: ast.Return, frame: Any, top: bool) -> None:
        value = self.eval(stmt.value, frame) if stmt.value is not None else None
        self._path_ends()
        frame.flow.return_(value)

    def _s_raise(self, stmt: ast.Raise, frame: Any, top: bool) -> None:
        self.eval(stmt.exc, frame)
        self.eval(stmt.cause, frame)
        if frame.flow.in_try:  # a handler here sees the state as it is now
            self._path_ends()
        frame.flow.raise_(raised_name(stmt) if stmt.exc is not None else "?")

    def _s_assert(self, stmt: ast.Assert, frame: Any, top: bool) -> None:
        truth = self._truth(stmt.test, frame)
        if truth is False:
            self.eval(stmt.msg, frame)
            if frame.flow.in_try:
                self._path_ends()
            frame.flow.raise_("AssertionError")
        elif truth is None:
            self._narrow(stmt.test, True, frame)  # past it, the test held

    def _s_break(self, stmt: ast.stmt, frame: Any, top: bool) -> None:
        self._path_ends()
        frame.flow.break_()

    def _s_continue(self, stmt: ast.stmt, frame: Any, top: bool) -> None:
        self._path_ends()
        frame.flow.continue_()

    def _s_pass(self, stmt: ast.stmt, frame: Any, top: bool) -> None:
        pass

    def _path_ends(self) -> None:
        """A path ends here: lists made before are not changed in place any more
        (the ended path holds them as they are now)."""
        self.epoch += 1

    def _s_delete(self, stmt: ast.Delete, frame: Any, top: bool) -> None:
        for t in stmt.targets:
            if isinstance(t, ast.Name):
                frame.env[t.id] = UNKNOWN
            elif isinstance(t, ast.Attribute):
                obj = self.eval(t.value, frame)
                if isinstance(obj, InstanceV):
                    del_attr(obj, t.attr)
            elif isinstance(t, ast.Subscript):
                base = self.eval(t.value, frame)
                self.eval(t.slice, frame)
                if isinstance(base, (TupleV, SeqV)):
                    self._forget(base, frame)
            else:
                self._forget_names(assigned_names([ast.Delete(targets=[t])]), frame)

    def _s_global(self, stmt: ast.Global | ast.Nonlocal, frame: Any, top: bool) -> None:
        """``global``/``nonlocal``: the names live in the module or the enclosing
        function (see ``Interpreter._assign``)."""
        declared = dict(frame.declared) if frame.declared is not None else {}
        for n in stmt.names:
            declared[n] = "global" if isinstance(stmt, ast.Global) else "nonlocal"
            frame.env.pop(n, None)
        frame.declared = declared

    def _s_import(self, stmt: ast.Import | ast.ImportFrom, frame: Any, top: bool) -> None:
        """An import inside a function binds its names there: to what they name
        (`from collections import OrderedDict`, `import torch.nn.functional as F`: the
        same value a module-level import gives), unknown when that is not known."""
        if top:
            return
        for alias in stmt.names:
            local = (alias.asname or alias.name).split(".")[0]
            if isinstance(stmt, ast.ImportFrom):
                base = self.imports.absolute_module(stmt.module, stmt.level)
                q = f"{base}.{alias.name}" if base and alias.name != "*" and not base.startswith(".") else None
            else:
                q = alias.name if alias.asname else local
            # (canonical of a str is a str: its signature, in torch_api.py, says str | None)
            frame.env[local] = BoundMethodV(None, T.canonical(q)) if q else UNKNOWN  # type: ignore[arg-type]

    def _s_def(self, stmt: ast.FunctionDef | ast.AsyncFunctionDef, frame: Any, top: bool) -> None:
        if top:
            return  # module functions are in the module environment already
        if all(_decorator_word(d) in _TRANSPARENT_DECORATORS for d in stmt.decorator_list):
            frame.env[stmt.name] = FuncV(stmt, closure=weakref.ref(frame))  # type: ignore[arg-type]
            self._same_file(stmt, frame)
        else:
            frame.env[stmt.name] = UNKNOWN

    def _s_class(self, stmt: ast.ClassDef, frame: Any, top: bool) -> None:
        if not top:
            frame.env[stmt.name] = UNKNOWN

    def _s_with(self, stmt: ast.With | ast.AsyncWith, frame: Any, top: bool) -> None:
        suppressing = False
        for item in stmt.items:
            self.eval(item.context_expr, frame)
            if isinstance(item.context_expr, ast.Call) and _decorator_word(item.context_expr) == "suppress":
                suppressing = True
            if item.optional_vars is not None:
                self._assign(item.optional_vars, UNKNOWN, frame)
        if not suppressing:
            self._block(stmt.body, frame, top)
            return
        # contextlib.suppress(...): an error in the body is swallowed, as by a handler
        handler = ast.ExceptHandler(type=None, name=None, body=[])
        self._catching_try(frame, top, stmt.body, [(handler, lambda: None)], None, None, set())

    # ------------------------------------------------------------------ branches
    def _truth(self, test: ast.expr, frame: Any) -> bool | None:
        if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__":
            return True  # the main block runs
        v = self.eval(test, frame)
        return _truthiness(v)

    def _enter_region(self) -> int:
        """An uncertain region begins (branches of an unknown condition, a loop whose
        iterations are not known): lists made before it are no longer changed in place."""
        outer = self.region
        self._regions += 1
        self.region = self._regions
        return outer

    # An `if`/`else` whose condition is not known, each of whose arms surely raises: the
    # statement raises on every path (the interpreter reports the first arm's error).
    def _arms_begin(self, frame: Any) -> Any:
        return None

    def _arm(self, arms: Any, i: int) -> None:
        pass

    def _arms_end(self, arms: Any, frame: Any) -> None:
        pass

    def _branches(self, bodies: list[Callable[[], None] | None], frame: Any) -> None:
        outer = self._enter_region()
        try:
            frame.flow.branches(bodies)
        finally:
            self.region = outer

    def _s_if(self, stmt: ast.If, frame: Any, top: bool) -> None:
        test = self._truth(stmt.test, frame)
        if test is True:
            self._block(stmt.body, frame, top)
        elif test is False:
            self._block(stmt.orelse, frame, top)
        elif stmt.orelse and _guard_arm(stmt) is not None:
            # one arm ends the path (`if ok: y = f(x) else: raise ...`): the statement is
            # `if not ok: raise ...` followed by the other arm, which every run that goes
            # on takes
            ends = _guard_arm(stmt)
            goes_on = stmt.body if ends is stmt.orelse else stmt.orelse
            # (ends is not None: the test above)
            self._branches([lambda: self._block(ends, frame, top), None], frame)  # type: ignore[arg-type]
            self._narrow(stmt.test, goes_on is stmt.body, frame)
            self._block(goes_on, frame, top)
        elif stmt.orelse:
            arms = self._arms_begin(frame)

            def arm(i: int, body: list[ast.stmt]) -> Callable[[], None]:
                def run() -> None:
                    self._arm(arms, i)
                    if _ends_path(stmt.orelse if i == 0 else stmt.body):
                        # `if a == b: ... else: raise`: the arm that goes on runs with its test's answer
                        self._narrow(stmt.test, i == 0, frame)
                    self._block(body, frame, top)
                return run

            try:
                self._branches([arm(0, stmt.body), arm(1, stmt.orelse)], frame)
            finally:
                self._arms_end(arms, frame)
        else:
            self._branches([lambda: self._block(stmt.body, frame, top), None], frame)
            if _ends_path(stmt.body):
                self._narrow(stmt.test, False, frame)  # `if c != d: raise ...`: past it, c == d

    # ------------------------------------------------------------------ narrowing
    def _narrow(self, test: ast.expr, holds: bool, frame: Any) -> None:
        """The path goes on only where ``test`` is ``holds``: an equality of sizes it
        then implies (``if num_channels != self.num_channels: raise``, ``assert H ==
        self.img_size[0]``) rewrites the symbol in the values the frame holds
        (``pixel_values: [B, num_channels, H, W]`` becomes ``[B, 3, H, W]``)."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            self._narrow(test.operand, not holds, frame)
            return
        if isinstance(test, ast.BoolOp):
            if isinstance(test.op, ast.And) is holds:  # `a and b` held, `a or b` did not: each did
                for v in test.values:
                    self._narrow(v, holds, frame)
            return
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
            return
        op = test.ops[0]
        if not ((isinstance(op, (ast.Eq, ast.Is)) and holds) or (isinstance(op, (ast.NotEq, ast.IsNot)) and not holds)):
            return
        left, right = test.left, test.comparators[0]
        if not (_plain(left) and _plain(right)):
            return
        a, b = self.eval(left, frame), self.eval(right, frame)
        for x, y in ((a, b), (b, a)):
            atom = _size_atom(x)
            if atom is not None and (type(y) is int or type(y) is Sym) and not (type(y) is Sym and y == x) \
                    and self._rewrite_env(frame, atom, y):
                return

    def _rewrite_env(self, frame: Any, atom: str, value: Any) -> bool:
        """Every value of the frame's environment with ``atom`` replaced by ``value``;
        whether one changed."""
        sub = type(frame)({}, None, {atom: value})
        changed = False
        for name, v in list(frame.env.items()):
            w = _rewritten(self, v, sub)
            if w is not v:
                frame.env[name] = w
                changed = True
        return changed

    # ------------------------------------------------------------------ match
    def _s_match(self, stmt: ast.Match, frame: Any, top: bool) -> None:
        subject = self.eval(stmt.subject, frame)
        bodies: list[Callable[[], None] | None] = []
        captured: set[str] = set()
        certain = False
        for case in stmt.cases:
            verdict, binds = self._pattern(case.pattern, subject, frame)
            if verdict is not False and case.guard is not None:
                # the guard, with the captures bound: a known answer decides the case
                saved = frame.env
                frame.env = dict(saved)
                for n, v in binds:
                    frame.env[n] = v
                guard = self._truth(case.guard, frame)
                frame.env = saved
                if guard is False:
                    continue
                if guard is True and verdict is True:
                    case = ast.match_case(pattern=case.pattern, guard=None, body=case.body)
            if verdict is False:
                continue
            names = {n for n, _ in binds}
            captured |= names

            def run(case=case, binds=binds) -> None:
                for n, v in binds:
                    frame.env[n] = v
                if case.guard is not None:
                    g = self._truth(case.guard, frame)
                    if g is False:
                        frame.flow.reachable = False  # this case does not run on this path
                        return
                self._block(case.body, frame, top)

            if verdict is True and case.guard is None:
                if not bodies:  # the first case that surely matches, nothing before it may: it alone runs
                    run()
                    return
                bodies.append(run)
                certain = True
                break
            bodies.append(run)
        if not certain:
            # no case matches: captures of patterns tried may be bound
            bodies.append(lambda: self._forget_names(captured, frame))
        self._branches(bodies, frame)

    def _pattern(self, p: ast.pattern, subject: Any, frame: Any) -> tuple[bool | None, list]:
        """Does pattern ``p`` match ``subject`` (True/False/None: not known), and the
        names it binds (unknown unless the match is known)."""
        if isinstance(p, ast.MatchAs):
            if p.pattern is None:
                return True, ([(p.name, subject)] if p.name else [])
            verdict, binds = self._pattern(p.pattern, subject, frame)
            return verdict, binds + ([(p.name, subject if verdict else UNKNOWN)] if p.name else [])
        if isinstance(p, ast.MatchValue):
            v = self.eval(p.value, self.module_frame())
            eq = self._equal(subject, v, frame)
            return (eq if eq is not None else None), []
        if isinstance(p, ast.MatchSingleton):
            if subject is p.value:
                return True, []
            if subject is None or isinstance(subject, (bool, TensorV, TupleV, InstanceV, LayerV, SeqV)):
                return (subject is p.value), []
            return None, []
        if isinstance(p, ast.MatchOr):
            verdicts: list[bool | None] = []
            names: set[str] = set()
            for alt in p.patterns:
                v, b = self._pattern(alt, subject, frame)
                names |= {n for n, _ in b}
                if v is True:
                    return (True, b) if not verdicts or all(x is False for x in verdicts) else (None, [(n, UNKNOWN) for n in names])
                verdicts.append(v)
            return (False if all(v is False for v in verdicts) else None), [(n, UNKNOWN) for n in names]
        if isinstance(p, ast.MatchSequence):
            items = subject.items if isinstance(subject, TupleV) else None
            stars = [i for i, q in enumerate(p.patterns) if isinstance(q, ast.MatchStar)]
            if isinstance(subject, (str, int, float, bool)) or subject is None:
                return False, []
            if items is None or len(stars) > 1:
                return None, [(n, UNKNOWN) for n in _pattern_names(p)]
            pairs = list(zip(p.patterns, items))
            if stars:  # `case (b, *rest)`: the star takes what the others leave
                k = stars[0]
                tail = len(p.patterns) - k - 1
                if len(items) < len(p.patterns) - 1:
                    return False, []
                star = p.patterns[k]
                middle = TupleV(tuple(items[k:len(items) - tail]), self.region, self.epoch)
                pairs = (list(zip(p.patterns[:k], items[:k])) + [(star, middle)]
                         + list(zip(p.patterns[k + 1:], items[len(items) - tail:])))
            elif len(items) != len(p.patterns):
                return False, []
            verdict = True
            binds = []
            for q, item in pairs:
                if isinstance(q, ast.MatchStar):
                    if q.name:
                        binds.append((q.name, item))
                    continue
                v, b = self._pattern(q, item, frame)
                binds += b
                if v is False:
                    return False, []
                if v is None:
                    verdict = None
            if verdict is None:
                binds = [(n, UNKNOWN) for n, _ in binds]
            return verdict, binds
        if isinstance(p, ast.MatchClass):
            verdict = self.match_class(p, subject, frame)
            return verdict, [(n, UNKNOWN) for n in _pattern_names(p)]
        # mappings: not modelled
        return None, [(n, UNKNOWN) for n in _pattern_names(p)]

    # ------------------------------------------------------------------ loops
    def _s_for(self, stmt: ast.For | ast.AsyncFor, frame: Any, top: bool) -> None:
        it = self.eval(stmt.iter, frame)
        items = None
        if isinstance(it, TupleV):
            items = list(it.items)
        elif isinstance(it, SeqV) and it.kind != "dict":
            items = list(it.items)
        orelse = (lambda: self._block(stmt.orelse, frame)) if stmt.orelse else None
        if items is not None and len(items) <= (MAX_UNROLL if self.loop_depth == 0 else MAX_UNROLL_NESTED):
            # Unroll: each element in turn (this is how `for layer in self.layers: x = layer(x)` chains).
            def step(item: Any) -> None:
                self._assign(stmt.target, item, frame)
                self._block(stmt.body, frame)

            self.loop_depth += 1
            try:
                frame.flow.unrolled(((lambda item=item: step(item)) for item in items), orelse)
            finally:
                self.loop_depth -= 1
            return
        self._loop(stmt.body, frame, lambda: self._assign(stmt.target, UNKNOWN, frame), orelse)

    def _s_while(self, stmt: ast.While, frame: Any, top: bool) -> None:
        orelse = (lambda: self._block(stmt.orelse, frame)) if stmt.orelse else None
        forever = isinstance(stmt.test, ast.Constant) and bool(stmt.test.value)
        limit = MAX_UNROLL if self.loop_depth == 0 else MAX_UNROLL_NESTED

        def steps():
            # Unrolled while the condition is known (`while i < 3:` with a known `i`).
            for _ in range(limit):
                t = self._truth(stmt.test, frame)
                if t is False:
                    yield "stop"
                    return
                if t is None:
                    yield "unknown"
                    return
                yield lambda: self._block(stmt.body, frame)
            yield "unknown"

        def test_then_body() -> None:
            if self._truth(stmt.test, frame) is not False:
                self._block(stmt.body, frame)

        def rest(breaks: list, scarred: bool) -> None:
            self._loop([], frame, test_then_body, orelse, exits_normally=not forever, breaks=breaks,
                       maybe_never=not forever, scarred=scarred)

        self.loop_depth += 1
        try:
            frame.flow.unrolled(steps(), orelse, rest)
        finally:
            self.loop_depth -= 1

    def _loop(self, body: list[ast.stmt], frame: Any, bind: Callable[[], None] | None,
              orelse: Callable[[], None] | None, exits_normally: bool = True, breaks: list | None = None,
              maybe_never: bool = False, scarred: bool = False) -> None:
        """A loop whose iterations are not known one by one: the body runs once with
        the state at entry (what it finds holds for the first iteration), then what
        changed is widened to unknown and, for an outermost loop, the body runs once
        more on that (later iterations). Nested loops run once: the cost stays linear.
        If a second pass changes nothing more, that state holds for every iteration
        (a fixed point) and the loop's results keep their shapes; otherwise whatever
        the body assigns is unknown after the loop."""
        self.loop_depth += 1
        outer = self._enter_region()
        nested = self.loop_depth > 1

        def one_pass() -> None:
            if bind is not None:
                bind()
            if frame.flow.reachable:
                self._block(body, frame)

        def settle(start: tuple, head: tuple, n: int) -> tuple[tuple, bool]:
            if _same_state(head, start):
                return head, False
            if n == 0 and not nested:
                return _widen_unequal_state(start, head), True
            return _widen_changed_state(start, head), False

        try:
            frame.flow.loop(one_pass, orelse, settle, exits_normally=exits_normally, breaks=breaks,
                            maybe_never=maybe_never, scarred=scarred)
        finally:
            self.loop_depth -= 1
            self.region = outer

    # ------------------------------------------------------------------ try
    def _s_try(self, stmt: ast.Try, frame: Any, top: bool) -> None:
        def handler(h: ast.ExceptHandler) -> Callable[[], None]:
            def run() -> None:
                if h.name:
                    frame.env[h.name] = UNKNOWN
                self._block(h.body, frame, top)
            return run

        handlers = [(h, handler(h)) for h in stmt.handlers]
        # `else` runs only if the body raised nothing: which the body's authors expect
        # may happen, so it is not sure to run.
        orelse = (lambda: frame.flow.undecided(lambda: self._block(stmt.orelse, frame, top))) if stmt.orelse else None
        final = (lambda: self._block(stmt.finalbody, frame, top)) if stmt.finalbody else None
        names = assigned_names(stmt.finalbody) if stmt.finalbody else set()
        self._catching_try(frame, top, stmt.body, handlers, orelse, final, names)

    def _catching_try(self, frame: Any, top: bool, body: list[ast.stmt], handlers: list, orelse, final, names: set[str]) -> None:
        """A ``try``: an error found in its body (in any function it calls) that a
        handler catches is not reported; where it is surely raised, the body's path
        ends there and the handlers run (``raising``)."""
        hs = [h for h, _ in handlers]

        def run_body() -> None:
            self.catching.append(hs)
            try:
                self._block(body, frame, top)
            finally:
                self.catching.pop()
                if self.raising is not None and may_catch(hs, self.raising):
                    self.raising = None  # caught here: the handlers run

        outer = self._enter_region()
        try:
            frame.flow.try_(run_body, handlers, orelse, final, names)
        finally:
            self.region = outer


def _ends_path(body: list[ast.stmt]) -> bool:
    """Does a block surely end its path (its last statement raises, returns, breaks
    or continues)?"""
    return bool(body) and isinstance(body[-1], (ast.Raise, ast.Return, ast.Break, ast.Continue))


def _guard_arm(stmt: ast.If) -> list[ast.stmt] | None:
    """The arm of an ``if``/``else`` that only turns runs away: the one that raises when
    the other does not (``if ok: return f(x) else: raise ...``), else the one that ends
    its path when the other goes on."""
    for test in (lambda b: bool(b) and isinstance(b[-1], ast.Raise), _ends_path):
        body, orelse = test(stmt.body), test(stmt.orelse)
        if body is not orelse:
            return stmt.body if body else stmt.orelse
    return None


def _plain(node: ast.expr) -> bool:
    """An expression read again without effects: names, attributes, constant
    subscripts (``x.shape[1]``, ``self.img_size[0]``), ``x.size(1)``."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    if isinstance(node, ast.Attribute):
        return _plain(node.value)
    if isinstance(node, ast.Subscript):
        return _plain(node.value) and isinstance(node.slice, (ast.Constant, ast.UnaryOp))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "size":
        return _plain(node.func.value) and not node.keywords and all(_plain(a) for a in node.args)
    return False


def _size_atom(v: Any) -> str | None:
    """The name of a size symbol that is one atom (``num_channels``), else None."""
    if type(v) is not Sym or len(v.terms) != 1:
        return None
    mono, coeff = v.terms[0]
    return mono[0] if coeff == 1 and len(mono) == 1 and isinstance(mono[0], str) else None


def _rewritten(interp: Any, v: Any, sub: Any) -> Any:
    """``v`` with the substitution of ``sub`` applied to its sizes (tensors' shapes,
    sizes, tuples of them); ``v`` itself when nothing changes."""
    t = type(v)
    if t is Sym:
        w = interp.concrete(v, sub)
        return v if w == v else w
    if t is TensorV and v.shape is not None:
        shape = interp._conc_deep(v.shape, sub)
        return v if shape is v.shape else replace(v, shape=shape)
    if t is TupleV and v.region is None:
        items = tuple(_rewritten(interp, x, sub) for x in v.items)
        return v if all(x is y for x, y in zip(items, v.items)) else replace(v, items=items, shape_of=None)
    return v


def _truthiness(v: Any) -> bool | None:
    """Python's truth value of an abstract value, when known."""
    if isinstance(v, bool):
        return v
    if v is None or type(v) is NotGiven:
        return False
    if type(v) in (int, float):
        return bool(v)
    if isinstance(v, str):
        return bool(v)
    if type(v) is _DictV:
        return bool(v.items)  # a dict whose keys are known
    if type(v) is InstanceV and v.cls.torch_bases & {"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict"}:
        return None  # a container subclass: its length decides
    if isinstance(v, (FuncV, ClassV, InstanceV, LayerV)):
        return True  # no __bool__ or __len__ (containers have a length: not known)
    return None


def _pattern_names(p: ast.pattern) -> set[str]:
    out = set()
    for n in ast.walk(p):
        if isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
            out.add(n.name)
        elif isinstance(n, ast.MatchMapping) and n.rest:
            out.add(n.rest)
    return out


def _decorator_word(d: ast.expr) -> str | None:
    d = d.func if isinstance(d, ast.Call) else d
    if isinstance(d, ast.Attribute):
        return d.attr
    return d.id if isinstance(d, ast.Name) else None


_HANDLERS: dict[type, Callable] = {
    ast.AnnAssign: Statements._s_annassign,
    ast.AugAssign: Statements._s_augassign,
    ast.Return: Statements._s_return,
    ast.Raise: Statements._s_raise,
    ast.Assert: Statements._s_assert,
    ast.Break: Statements._s_break,
    ast.Continue: Statements._s_continue,
    ast.Pass: Statements._s_pass,
    ast.Delete: Statements._s_delete,
    ast.Global: Statements._s_global,
    ast.Nonlocal: Statements._s_global,
    ast.Import: Statements._s_import,
    ast.ImportFrom: Statements._s_import,
    ast.FunctionDef: Statements._s_def,
    ast.AsyncFunctionDef: Statements._s_def,
    ast.ClassDef: Statements._s_class,
    ast.With: Statements._s_with,
    ast.AsyncWith: Statements._s_with,
    ast.If: Statements._s_if,
    ast.Match: Statements._s_match,
    ast.For: Statements._s_for,
    ast.AsyncFor: Statements._s_for,
    ast.While: Statements._s_while,
    ast.Try: Statements._s_try,
}
if hasattr(ast, "TryStar"):
    _HANDLERS[ast.TryStar] = Statements._s_try
