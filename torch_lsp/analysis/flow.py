"""Control flow for the abstract interpreters: which states reach which code.

Both interpreters of the analysis (the shape interpreter of ``interpreter.py`` and
the registration walker of ``modules.py``) run one function body at a time over an
abstract *state* of their own (local names, attributes of ``self``, ...). A ``Flow``
is the one place that knows how Python moves between statements, in the spirit of
mypy's binder:

- ``branches``: bodies that start from the same state, joined where they meet
  again (``if``/``else``, ``match`` cases, handlers);
- loops: ``break`` and ``continue`` leave the body; the states that reach the loop
  head again are joined (``continue`` included), the states of every ``break`` join
  the state after the loop, and ``else`` runs only on the normal exit;
- ``return`` and ``raise`` end the path; the function's result is the join of its
  returns, and a raise goes to the handlers of the innermost ``try`` that may catch
  it (or out of the function);
- ``try``: a handler starts from the join of every state the body passed through
  (any statement may raise), ``else`` runs after a body that completed, ``finally``
  on every exit.

After a path ends, ``reachable`` is False and the interpreter runs nothing until a
join brings a live state back. The interpreter supplies the state operations
(``StateOps``): take a snapshot, restore one, join several, forget names. A Flow
keeps no state of its own between functions: each function run has its own.
"""
from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Protocol, Sequence, TypeVar

S = TypeVar("S")


class StateOps(Protocol[S]):
    def snapshot(self) -> S:
        """An independent copy of the current state."""

    def restore(self, state: S) -> None:
        """Make ``state`` current (the interpreter may keep using it: it is not reused)."""

    def join(self, states: list[S]) -> S:
        """The state that holds whichever of ``states`` the program is in (at least one)."""

    def forget(self, state: S, names: set[str]) -> S:
        """``state`` with ``names`` (local names; ``self.NAME`` as ``"self.NAME"``) unknown."""


@dataclass
class _Loop:
    breaks: list = field(default_factory=list)
    continues: list = field(default_factory=list)
    doubt: int = 0  # the Flow's doubt when the loop began
    scarred: bool = False  # a break/continue under an undecided condition: the rest of the loop may be skipped


@dataclass
class _Try:
    catches: Callable[[str | None], bool]  # may a handler catch this exception (None: any error)?
    entry: Any = None  # the join of the states an exception may leave the body in


# Exceptions that a shape or autograd error of torch can be (RuntimeError for most;
# ValueError, IndexError and AssertionError for some checks) and their bases.
SHAPE_ERROR_CATCHERS = frozenset({"BaseException", "Exception", "RuntimeError", "ValueError", "IndexError",
                                  "AssertionError", "LookupError"})
_BUILTIN_EXCEPTIONS = frozenset(n for n in dir(builtins) if isinstance(getattr(builtins, n), type)
                                and issubclass(getattr(builtins, n), BaseException))


def handler_names(handler: ast.ExceptHandler) -> list[str] | None:
    """The exception class names a handler names (None: a bare ``except`` or an
    expression that is not plain names)."""
    t = handler.type
    if t is None:
        return None
    elts = t.elts if isinstance(t, ast.Tuple) else [t]
    out = []
    for e in elts:
        if isinstance(e, ast.Name):
            out.append(e.id)
        elif isinstance(e, ast.Attribute):
            out.append(e.attr)
        else:
            return None
    return out


def may_catch(handlers: list[ast.ExceptHandler], raised: str | None) -> bool:
    """Could one of ``handlers`` catch an exception of class ``raised`` (a builtin
    exception name; None: a shape error torch raises)? Unknown classes may catch
    anything (a project exception class can derive from RuntimeError)."""
    for h in handlers:
        names = handler_names(h)
        if names is None:
            return True
        for n in names:
            if n not in _BUILTIN_EXCEPTIONS:
                return True  # a class we cannot see: it may be a base of anything
            if raised == "?":
                return True
            if raised is None:
                if n in SHAPE_ERROR_CATCHERS:
                    return True
            elif raised not in _BUILTIN_EXCEPTIONS:
                return True
            elif issubclass(getattr(builtins, raised), getattr(builtins, n)):
                return True
    return False


def raised_name(node: ast.Raise) -> str | None:
    """The builtin exception class a ``raise`` statement raises, when it says so
    (``raise ValueError(...)``); None otherwise."""
    exc = node.exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    if isinstance(exc, ast.Name) and exc.id in _BUILTIN_EXCEPTIONS:
        return exc.id
    return None


class Flow(Generic[S]):
    """The control flow of one function run (or of the top level)."""

    __slots__ = ("ops", "reachable", "_frames", "returns", "_tries", "doubt", "scarred", "exceptional")

    def __init__(self, ops: StateOps[S]) -> None:
        self.ops = ops
        self.reachable = True
        self._frames: list[_Loop] = []
        self._tries: list[_Try] = []
        self.returns: list[tuple[S, Any]] = []  # (state, value) of each return
        # Is the current point reached on every run that enters the function (and
        # raises nothing before it)? ``doubt`` counts the undecided branches being
        # run (a body of an `if` whose condition is not known, a handler, a second loop
        # pass); ``scarred``: a `return` under such a branch ended some paths, so the
        # rest of the function runs only on the others. Loops keep their own scar
        # for `break`/`continue`. Raising paths are abnormal ends: they leave no scar.
        self.doubt = 0
        self.scarred = False
        self.exceptional = 0  # handlers being run (their returns are of exceptional paths)

    @property
    def certain(self) -> bool:
        """Is the current point reached on every run through the function (that raises
        nothing before it)?"""
        if self.doubt or self.scarred:
            return False
        for f in self._frames:
            if f.scarred:
                return False
        return True

    def undecided(self, run: Callable[[], Any]) -> Any:
        """Run ``run`` as code that may or may not run (an arm of a conditional expression)."""
        self.doubt += 1
        try:
            return run()
        finally:
            self.doubt -= 1

    # ------------------------------------------------------------------ path ends
    def break_(self) -> None:
        if self.reachable and self._frames:
            frame = self._frames[-1]
            frame.breaks.append(self.ops.snapshot())
            if self.doubt > frame.doubt and not self.exceptional:
                frame.scarred = True
        self.reachable = False

    def continue_(self) -> None:
        if self.reachable and self._frames:
            frame = self._frames[-1]
            frame.continues.append(self.ops.snapshot())
            if self.doubt > frame.doubt and not self.exceptional:
                frame.scarred = True
        self.reachable = False

    def return_(self, value: Any) -> None:
        if self.reachable:
            self.returns.append((self._exit_snapshot(), value))
            if self.doubt and not self.exceptional:
                self.scarred = True
        self.reachable = False

    def _exit_snapshot(self) -> S:
        """The state a return leaves (an interpreter may keep only what outlives the function)."""
        exit_snapshot = getattr(self.ops, "exit_snapshot", None)
        return exit_snapshot() if exit_snapshot is not None else self.ops.snapshot()

    def raise_(self, exc: str | None = "?") -> None:
        """An exception is raised here: the path ends; the handlers of the innermost
        ``try`` that may catch it start from this state too. ``exc`` is its builtin
        class name when known, None for a torch shape error, "BaseException" when the
        statement says nothing (``raise err``): "?"."""
        if self.reachable:
            self.checkpoint(exc)
        self.reachable = False

    def checkpoint(self, exc: str | None = None) -> None:
        """The next statement may raise (``exc`` as for ``raise_``; "?" for anything):
        the handlers of the enclosing ``try`` statements that may catch it may start
        from the current state."""
        if not self.reachable or not self._tries:
            return
        snap = None
        for t in reversed(self._tries):
            if t.catches(exc):
                snap = snap if snap is not None else self.ops.snapshot()
                t.entry = snap if t.entry is None else self.ops.join([t.entry, snap])
                if exc not in ("?", "BaseException"):
                    return  # a known class: the innermost handler that may catch it does

    def surely_raised(self, exc: str | None) -> None:
        """The statement that just ran surely raised ``exc`` and a handler catches it:
        the path ends. The handlers still start from every state the body passed
        through: that the statements before it completed may rest on sizes that only
        hold if they did (a layer's input size is taken from the layer)."""
        self.reachable = False

    @property
    def in_try(self) -> bool:
        return bool(self._tries)

    # ------------------------------------------------------------------ joins
    def _settle(self, states: list[S]) -> None:
        """Continue from the join of ``states`` (unreachable when there are none)."""
        if states:
            self.ops.restore(states[0] if len(states) == 1 else self.ops.join(states))
            self.reachable = True
        else:
            self.reachable = False

    def branches(self, bodies: Sequence[Callable[[], None] | None], undecided: bool = True) -> None:
        """Run each body from the current state (``undecided``: which one runs is not
        known, so none of them surely runs); go on from the join of those that complete.
        A None body is empty: the start state is one of the joined."""
        if not self.reachable:
            return
        start = self.ops.snapshot()
        outs: list[S] = []
        last = len(bodies) - 1
        shared = False
        if undecided:
            self.doubt += 1
        try:
            for i, body in enumerate(bodies):
                if body is None:  # an empty body (an `if` without `else`): the start state goes on
                    outs.append(start)
                    shared = True
                    continue
                if i:  # (the last body may have the start state itself, unless it is joined as is)
                    self.ops.restore(_copy(self.ops, start) if i < last or shared else start)
                self.reachable = True
                body()
                if self.reachable:
                    outs.append(self.ops.snapshot())
        finally:
            if undecided:
                self.doubt -= 1
        self._settle(outs)

    # ------------------------------------------------------------------ loops
    def unrolled(self, steps, orelse: Callable[[], None] | None, rest: Callable[[list, bool], None] | None = None) -> None:
        """A loop whose iterations are known one by one: ``steps`` yields a callable
        per iteration (binding the target and running the body), the string "stop"
        for the normal exit (a ``while`` condition found false), or "unknown" when
        from there on the iterations are not known: then ``rest(breaks)`` goes on
        from the current state (a ``loop`` given the breaks so far)."""
        if not self.reachable:
            return
        frame = _Loop(doubt=self.doubt)
        self._frames.append(frame)
        unknown = False
        try:
            for step in steps:
                if isinstance(step, str):
                    unknown = step == "unknown"
                    break
                step()
                conts, frame.continues = frame.continues, []
                if conts:
                    self._settle(([self.ops.snapshot()] if self.reachable else []) + conts)
                if not self.reachable:
                    break
        finally:
            self._frames.pop()
        if unknown and self.reachable and rest is not None:
            rest(frame.breaks, frame.scarred)
            return
        if self.reachable and orelse is not None:
            self._orelse(orelse, frame)
        self._settle(([self.ops.snapshot()] if self.reachable else []) + frame.breaks)

    def _orelse(self, orelse: Callable[[], None], frame: _Loop) -> None:
        """A loop's ``else``: it runs only when no ``break`` was taken; after a break on
        an undecided path it may not run."""
        if frame.scarred and frame.breaks:
            self.undecided(orelse)
        else:
            orelse()

    def loop(self, body: Callable[[], None], orelse: Callable[[], None] | None,
             settle: Callable[[S, S, int], tuple[S, bool]], exits_normally: bool = True,
             skippable: bool = True, breaks: list | None = None, maybe_never: bool = False,
             scarred: bool = False) -> None:
        """A loop of unknown length. ``body`` runs one iteration (binding the target,
        or evaluating the condition first). After pass ``n`` from state ``start``,
        ``settle(start, head, n)`` gets ``head``, the join of ``start`` and of the states
        that reach the loop head again (end of body, ``continue``), and answers
        ``(state, again)``: run the body once more from ``state``, or stop with
        ``state`` as the state at the head for every iteration. The loop exits
        normally from the head (unless ``exits_normally`` is False: ``while True``),
        runs ``orelse`` there, and joins the states of every ``break``.
        ``skippable``: the body may run zero times (the head's first state is the
        entry state). ``maybe_never``: whether even the first iteration runs is not
        known (a ``while`` whose condition is not known): none of the body surely runs.
        ``breaks``/``scarred``: what an unrolled start of the same loop left."""
        if not self.reachable:
            return
        frame = _Loop(breaks=list(breaks or ()), doubt=self.doubt, scarred=scarred)
        self._frames.append(frame)
        start = self.ops.snapshot()
        n = 0
        try:
            while True:
                self.ops.restore(_copy(self.ops, start))
                self.reachable = True
                # The first pass is the first iteration (a loop is taken to run once,
                # unless ``skippable`` says its condition may be false at once); a later
                # pass stands for iterations that may not happen.
                doubt = 1 if (n or maybe_never) else 0
                self.doubt += doubt
                try:
                    body()
                finally:
                    self.doubt -= doubt
                ends = ([self.ops.snapshot()] if self.reachable else []) + frame.continues
                frame.continues = []
                head = self.ops.join([start] + ends) if (skippable or n) else (
                    self.ops.join(ends) if ends else None)
                if head is None:  # every path of the first iteration left the loop
                    # None only on the way out (the break below), read by the `start is not None`
                    # after the loop; typed S for the passes, which never see it.
                    start = None  # type: ignore[assignment]
                    break
                start, again = settle(start, head, n)
                n += 1
                if not again:
                    break
        finally:
            self._frames.pop()
        outs: list[S] = []
        if start is not None and exits_normally:
            self.ops.restore(_copy(self.ops, start))
            self.reachable = True
            if orelse is not None:
                self._orelse(orelse, frame)
            if self.reachable:
                outs.append(self.ops.snapshot())
        self._settle(outs + frame.breaks)

    # ------------------------------------------------------------------ try
    def try_(self, body: Callable[[], None], handlers: Sequence[tuple[ast.ExceptHandler, Callable[[], None]]],
             orelse: Callable[[], None] | None, finalbody: Callable[[], None] | None,
             final_names: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        """``try``/``except``/``else``/``finally`` (and ``except*``). Each handler starts
        from the join of the states in which the body may have raised what it catches.
        ``final_names``: what ``finally`` assigns; paths that leave the statement by
        ``break``/``continue``/``return`` pass through it, so those names are unknown on them."""
        if not self.reachable:
            return
        hs = [h for h, _ in handlers]
        t = _Try(catches=lambda exc: may_catch(hs, exc))
        t.entry = self.ops.snapshot() if handlers else None
        marks = (len(self.returns), [(f, len(f.breaks), len(f.continues)) for f in self._frames])
        if handlers:
            self._tries.append(t)
        try:
            body()
        finally:
            if handlers:
                self._tries.pop()
        completed = self.reachable
        if self.reachable and orelse is not None:
            orelse()
        outs = [self.ops.snapshot()] if self.reachable else []
        if t.entry is not None:
            # A handler runs only if the body raised: an exceptional path, unless no
            # path through the body completes (then a lone handler surely runs).
            doubt = 1 if completed or len(handlers) > 1 else 0
            exceptional = 1 if completed else 0
            self.doubt += doubt
            self.exceptional += exceptional
            try:
                for _, run in handlers:
                    self.ops.restore(_copy(self.ops, t.entry))
                    self.reachable = True
                    run()
                    if self.reachable:
                        outs.append(self.ops.snapshot())
            finally:
                self.doubt -= doubt
                self.exceptional -= exceptional
        if not outs and t.entry is not None:
            self.ops.restore(t.entry)
        self._settle(outs)
        if finalbody is not None:
            if final_names:
                n_returns, loops = marks
                self.returns[n_returns:] = [(self.ops.forget(s, final_names), v) for s, v in self.returns[n_returns:]]
                for f, nb, nc in loops:
                    f.breaks[nb:] = [self.ops.forget(s, final_names) for s in f.breaks[nb:]]
                    f.continues[nc:] = [self.ops.forget(s, final_names) for s in f.continues[nc:]]
            if self.reachable:
                finalbody()

    # ------------------------------------------------------------------ function exit
    def exit_states(self) -> list[tuple[S, Any]]:
        """The (state, value) of every way out of the function that returns a value:
        each ``return`` and, when the end of the body is reachable, falling off it (None)."""
        out = list(self.returns)
        if self.reachable:
            out.append((self._exit_snapshot(), None))
        return out


def _copy(ops: StateOps, state):
    """A fresh copy of a stored state (restoring it must not let later changes reach it)."""
    return ops.join([state])


def assigned_names(stmts: list[ast.stmt]) -> set[str]:
    """Local names and ``self.NAME`` attributes the statements may assign, at any depth
    (nested function and class bodies excluded: they bind only their own name)."""
    out: set[str] = set()
    stack: list[ast.AST] = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)) \
                and isinstance(node.value, ast.Name) and node.value.id == "self":
            out.add("self." + node.attr)
        elif isinstance(node, ast.alias):
            out.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            out.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return out
