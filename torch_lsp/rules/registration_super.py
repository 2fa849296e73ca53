"""TL104 (a module attribute assigned before ``super().__init__()``): the checks of a class's ``__init__`` order and the fix that moves the call first.

A part of the registration rules (``registration.py`` declares them and runs the checks)."""
from __future__ import annotations

import ast
from typing import Any, Iterable

from torch_lsp.analysis import attribute_use as U
from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.diagnostics import (
    Diagnostic,
    Fix,
    Range,
    RelatedInformation,
    TextEdit,
)
from torch_lsp.analysis.modules import Assignment, ClassInfo
from torch_lsp.rules.registration import (
    ASSIGNMENT_BEFORE_SUPER_INIT,
    _ACTIONS,
    _NO_ARG_INIT_BASES,
    _describe,
    _insert_before,
    _statement_alone_on_lines,
)


def _check_super_init(ctx: FileContext, info: ClassInfo, facts: U.FileFacts) -> Iterable[Diagnostic]:
    init = info.init
    if init is None or not info.init_completes:
        return  # every path through __init__ raises: no instance is ever made
    early = [a for a in info.assignments if a.before_super and ctx.model.settle(a.value).kind in _ACTIONS]
    if info.super_init is None:
        if not early and (info.init_calls_unseen or _plain_helper(ctx, info, facts)):
            return  # a method we cannot see may initialise it; or nothing uses it as a module
        yield from _never_calls_super(ctx, info, early)
        return
    if not early:
        return
    first = early[0]
    super_line = info.super_init.lineno
    action = _ACTIONS[first.value.kind]
    when = _only_when(ctx, first)
    msg = (
        f"`self.{first.name}` is assigned {_describe(first.value)}{when} before `super().__init__()` is called (line {super_line}): "
        f"PyTorch raises `AttributeError: cannot assign {action} before Module.__init__() call`"
        + (" then" if when else "")
    )
    related = [RelatedInformation(ctx.src.range_of(info.super_init), "`super().__init__()` is called here, too late")]
    related += [RelatedInformation(ctx.src.range_of(a.target), f"`self.{a.name}` is also assigned before it") for a in early[1:]]
    fixes = []
    move = _move_super_fix(ctx, info)
    if move is not None:
        fixes.append(move)
    yield Diagnostic(ASSIGNMENT_BEFORE_SUPER_INIT.code, ASSIGNMENT_BEFORE_SUPER_INIT.severity,
                     _assignment_range(ctx, first), msg, tuple(related), tuple(fixes))


def _only_when(ctx: FileContext, a: Any) -> str:
    """`` (when `cond` is true)`` for ``self.x = nn.Parameter(...) if cond else None``: the
    other branch assigns something PyTorch accepts before ``Module.__init__()``."""
    node = a.value_node
    if not isinstance(node, ast.IfExp):
        return ""
    for branch, other, truth in ((node.body, node.orelse, "true"), (node.orelse, node.body, "false")):
        if isinstance(other, ast.Constant) and other.value is None:
            cond = ast.unparse(node.test)
            cond = cond if len(cond) <= 40 else cond[:37] + "..."
            return f" (when `{cond}` is {truth})"
    return ""


def _plain_helper(ctx: FileContext, info: ClassInfo, facts: U.FileFacts) -> bool:
    """An nn.Module subclass used as a plain object: no ``forward``, only ``nn.Module`` itself as
    torch base, and the file never calls an instance, registers one as a submodule, moves one
    with ``.to()`` or subclasses it. Nothing reaches the uninitialised ``nn.Module`` machinery."""
    if info.unresolved_bases or not info.torch_bases <= {"torch.nn.Module"} or U.has_forward(ctx, info):
        return False
    return facts.used_as_module(info) is None and not facts.subclasses(info)


def _assignment_range(ctx: FileContext, a: Assignment) -> Range:
    if a.value_node is not None and a.how in ("assign", "annassign"):
        return ctx.src.range_of(a.target, a.value_node)
    return ctx.src.range_of(a.target)


def _never_calls_super(ctx: FileContext, info: ClassInfo, early: list[Assignment]) -> Iterable[Diagnostic]:
    init = info.init
    assert init is not None
    fixes = []
    if _super_takes_no_args(ctx, info):
        edit = _insert_before(ctx, init, "super().__init__()")
        if edit is not None:
            fixes.append(Fix("Call `super().__init__()` first in `__init__`", (edit,)))
    if early:
        first = early[0]
        action = _ACTIONS[first.value.kind]
        msg = (
            f"`{info.name}.__init__` never calls `super().__init__()`: assigning {_describe(first.value)} to "
            f"`self.{first.name}` raises `AttributeError: cannot assign {action} before Module.__init__() call`"
        )
        rng = _assignment_range(ctx, first)
        related: tuple[RelatedInformation, ...] = (RelatedInformation(_def_name_range(ctx, init), "`__init__` without `super().__init__()`"),)
    else:
        msg = (
            f"`{info.name}.__init__` never calls `super().__init__()`: the module is never initialised, so calling it "
            f"or `.parameters()` raises `AttributeError: '{info.name}' object has no attribute '_parameters'`"
        )
        rng = _def_name_range(ctx, init)
        related = ()
    yield Diagnostic(ASSIGNMENT_BEFORE_SUPER_INIT.code, ASSIGNMENT_BEFORE_SUPER_INIT.severity, rng, msg, related, tuple(fixes))


def _def_name_range(ctx: FileContext, fn: ast.FunctionDef) -> Range:
    line = fn.lineno - 1
    text = ctx.src.line_text(line)
    col = text.find(fn.name)
    if col < 0:
        return ctx.src.range_of(fn)
    return Range.of(line, col, line, col + len(fn.name))


def _super_takes_no_args(ctx: FileContext, info: ClassInfo) -> bool:
    """Would a bare ``super().__init__()`` be right? True when the next __init__ up
    the chain needs no argument."""
    for base in info.user_bases:
        base_info = ctx.model.info(base)
        init = base_info.init
        if init is not None:
            a = init.args
            required = len(a.posonlyargs + a.args) - len(a.defaults) - 1
            required_kw = sum(1 for d in a.kw_defaults if d is None)
            return required <= 0 and required_kw == 0
        if not _super_takes_no_args(ctx, base_info):
            return False
    return info.torch_bases <= _NO_ARG_INIT_BASES and not info.unresolved_bases


def _move_super_fix(ctx: FileContext, info: ClassInfo) -> Fix | None:
    init, call, stmt = info.init, info.super_init, info.super_init_stmt
    if init is None or call is None or stmt is None or info.super_init_method != "__init__":
        return None
    if not isinstance(stmt, ast.Expr) or stmt not in init.body or not _statement_alone_on_lines(ctx, stmt):
        return None
    # The call may only use __init__'s parameters: locals bound before it would not exist yet.
    params = {a.arg for a in init.args.posonlyargs + init.args.args + init.args.kwonlyargs}
    params |= {a.arg for a in (init.args.vararg, init.args.kwarg) if a}
    bound_before = set()
    for s in init.body[: init.body.index(stmt)]:
        for n in ast.walk(s):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                bound_before.add(n.id)
    for n in ast.walk(call):
        if isinstance(n, ast.Name) and n.id in bound_before - params:
            return None
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self" and n is not call.func:
            return None
    text = ctx.src.segment(stmt)
    insert = _insert_before(ctx, init, text)
    if insert is None:
        return None
    end_line = stmt.end_lineno or stmt.lineno
    lengths = ctx.src.line_lengths
    if end_line < len(lengths):  # its lines, with the line break after them
        delete = TextEdit(Range.of(stmt.lineno - 1, 0, end_line, 0), "")
    else:  # it ends the file, without a line break: its lines and the line break before them
        delete = TextEdit(Range.of(stmt.lineno - 2, lengths[stmt.lineno - 2], end_line - 1, lengths[end_line - 1]), "")
    return Fix("Move `super().__init__()` to the top of `__init__`", (insert, delete))
