"""TL102/TL103 (modules or parameters in a plain Python list or dict on ``self``) and the fix that wraps them in ``nn.ModuleList``/``nn.ModuleDict``/``nn.ParameterList``.

A part of the registration rules (``registration.py`` declares them and runs the checks)."""
from __future__ import annotations

import ast
import re
from typing import Any, Iterable

from torch_lsp.analysis import attribute_use as U
from torch_lsp.analysis import torch_api as T
from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.diagnostics import (
    Applicability,
    Diagnostic,
    Fix,
    RelatedInformation,
    TextEdit,
)
from torch_lsp.analysis.modules import MODULE_KINDS, Assignment, ClassInfo, Kind, Value
from torch_lsp.analysis.project import ClassRef
from torch_lsp.rules.registration import (
    MODULE_IN_PLAIN_CONTAINER,
    PARAMETER_IN_PLAIN_CONTAINER,
    _CONTAINER_METHODS,
    _bare,
    _describe,
    _registered_names,
)


def _unregistered_items(ctx: FileContext, value: Value, depth: int = 0) -> tuple[list, list, bool]:
    """(module items, parameter items, nested) of a plain container, recursively."""
    modules, params, nested = [], [], False
    for item in value.items:
        v = ctx.model.settle(item.value)
        if v.registered or v.escaped:
            continue
        if v.kind in MODULE_KINDS:
            if not _stateless(v) and not _stateless_user_module(ctx, v):
                modules.append(item)
        elif v.kind is Kind.PARAMETER:
            params.append(item)
        elif v.kind is Kind.PLAIN_CONTAINER and depth < 3:
            m, p, _ = _unregistered_items(ctx, v, depth + 1)
            if m or p:
                nested = True
            modules += m
            params += p
    return modules, params, nested


def _stateless(v: Value) -> bool:
    """A layer that loses nothing when unregistered: no parameters, buffers or train/eval mode."""
    call = v.node if isinstance(v.node, ast.Call) else None
    if v.cls in T.STATELESS_LAYERS:
        return True
    if v.cls == "torch.nn.Sequential" and call is not None and not call.args and not call.keywords:
        return True  # an empty Sequential is the identity
    if v.cls and v.cls.startswith("torch.nn.") and v.cls.endswith("Loss") and call is not None:
        return not call.args and not any(k.arg in T.WEIGHTED_LOSS_ARGS or k.arg is None for k in call.keywords)
    return False


_PLAIN_ANNOTATION = re.compile(r"^(int|float|bool|str|complex|None|Optional\[(int|float|bool|str)\]|"
                               r"(tuple|list|Tuple|List|Sequence)\[[\w\s,.\[\]]*\]|int \| None|float \| None)$")


def _stateless_user_module(ctx: FileContext, v: Value) -> bool:
    """A project Module class whose instances carry nothing ``nn.Module`` tracks: it registers no
    parameters, buffers or submodules, stores no tensors, keeps only plain values (constants, or
    constructor arguments annotated as plain types or defaulting to constants), extends no torch
    layer, and never reads ``self.training`` (so ``train()``/``eval()`` change nothing)."""
    if v.kind is not Kind.LAYER or not isinstance(v.node, ast.Call):
        return False
    ref = ctx.model.resolve_class_expr(ctx.summary, v.node.func, use_jedi=False)
    if not isinstance(ref, ClassRef):
        return False
    for c in U.mro(ctx, ctx.model.info(ref)):
        if not c.is_module and c.assignments:
            return False
        if c.unresolved_bases or not c.torch_bases <= {"torch.nn.Module"} or c.registered_names:
            return False
        init = c.init
        params: dict[str, ast.arg] = {}
        defaults: dict[str, ast.expr] = {}
        if init is not None:
            args = init.args
            positional = args.posonlyargs + args.args
            params = {x.arg: x for x in positional + args.kwonlyargs}
            defaults = dict(zip([x.arg for x in positional[len(positional) - len(args.defaults):]], args.defaults))
        for a in c.assignments:
            kind = a.value.kind
            if kind in (Kind.VALUE, Kind.NONE):
                continue
            node = a.value_node
            if kind is Kind.UNKNOWN and isinstance(node, ast.Name) and node.id in params:
                arg = params[node.id]
                ann = ast.unparse(arg.annotation) if arg.annotation is not None else None
                d = defaults.get(node.id)
                if (ann is not None and _PLAIN_ANNOTATION.match(ann)) or (ann is None and isinstance(d, ast.Constant)):
                    continue
            return False
        for n in ast.walk(c.node):
            if isinstance(n, ast.Attribute) and n.attr == "training" and isinstance(n.value, ast.Name) and n.value.id == "self":
                return False
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in (
                    "register_buffer", "register_parameter", "add_module", "register_module", "_apply", "train", "eval"):
                return False
    return True


def _only_in_other_branches(info: ClassInfo, a: Any) -> bool:
    """Is every other assignment of ``self.<name>`` in the other arm of an ``if`` than
    ``a`` (``if ...: self.down = [norm, conv]`` / ``else: self.down = nn.Identity()``)?
    Then the registered module of the other arm does not register this arm's list."""
    others = [b for b in info.assignments if b.name == a.name and b is not a]
    if not others or info.init is None:
        return False

    def contains(stmts: list, target: ast.AST) -> bool:
        return any(n is target for st in stmts for n in ast.walk(st))

    def exclusive(x: ast.AST, y: ast.AST) -> bool:
        for node in ast.walk(info.init):  # type: ignore[arg-type]  # not None (checked above; a nested function loses the narrowing)
            if isinstance(node, ast.If) and node.orelse:
                if (contains(node.body, x) and contains(node.orelse, y)) or (contains(node.orelse, x) and contains(node.body, y)):
                    return True
        return False

    return all(b.method == a.method == "__init__" and exclusive(a.stmt, b.stmt) for b in others)


def _check_plain_containers(ctx: FileContext, info: ClassInfo) -> Iterable[Diagnostic]:
    registered = _registered_names(ctx, info)
    for a in info.assignments:
        v = a.value
        if v.kind is not Kind.PLAIN_CONTAINER or v.container == "generator" or v.registered or v.escaped:
            continue
        if a.name in registered and not _only_in_other_branches(info, a):
            continue
        modules, params, nested = _unregistered_items(ctx, v)
        if not modules and not params:
            continue
        is_dict = v.container == "dict"
        kind_word = {"list": "list", "tuple": "tuple", "dict": "dict", "set": "set"}.get(v.container or "list", "list")
        if modules:
            rule_ = MODULE_IN_PLAIN_CONTAINER
            classes = []
            for it in modules:
                d = _bare(_describe(it.value))
                if d not in classes:
                    classes.append(d)
            what = ", ".join(classes[:3]) + (" ..." if len(classes) > 3 else "")
            container_cls = "torch.nn.ModuleDict" if is_dict else "torch.nn.ModuleList"
            msg = (
                f"`self.{a.name}` is a plain Python {kind_word} of modules ({what}): PyTorch does not register them, so "
                f"their weights are missing from `model.parameters()` (never trained) and `state_dict()`, and "
                f"`.to(device)`, `.train()`, `.eval()` skip them"
            )
            items = modules
        else:
            rule_ = PARAMETER_IN_PLAIN_CONTAINER
            container_cls = "torch.nn.ParameterDict" if is_dict else "torch.nn.ParameterList"
            msg = (
                f"`self.{a.name}` is a plain Python {kind_word} of `nn.Parameter`s: they are missing from "
                f"`model.parameters()`, so the optimizer never updates them (they still get gradients), and from "
                f"`state_dict()`"
            )
            items = params
        related = tuple(
            RelatedInformation(ctx.src.range_of(it.node), f"{_describe(it.value)} added here")
            for it in items
            if isinstance(it.via, ast.Call) or isinstance(it.via, (ast.Assign, ast.AugAssign))
        )[:5]
        fixes = [] if nested else _container_fixes(ctx, info, a, container_cls, items)
        rng = ctx.src.range_of(a.value_node) if a.value_node is not None else ctx.src.range_of(a.target)
        yield Diagnostic(rule_.code, rule_.severity, rng, msg, related, tuple(fixes))


def _container_fixes(ctx: FileContext, info: ClassInfo, a: Assignment, container_cls: str, items: list) -> list[Fix]:
    if a.value_node is None or a.value.container == "set":
        return []
    spelled = ctx.name_for(container_cls)
    if spelled is None:
        return []
    node = a.value_node
    uses = info.method_uses.get(a.name, set())
    safe = uses <= _CONTAINER_METHODS[container_cls]
    if container_cls.endswith("Dict"):
        keys = [it.key for it in a.value.items]
        if not all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in keys):
            safe = False
    if isinstance(node, (ast.List, ast.Tuple, ast.Dict)) and not (node.elts if not isinstance(node, ast.Dict) else node.keys):
        new = f"{spelled}()"
    else:
        new = f"{spelled}({ctx.src.segment(node)})"
    short = container_cls.rsplit(".", 1)[1]
    return [Fix(
        f"Use `{spelled}` so the {'modules' if 'Module' in short else 'parameters'} are registered",
        (TextEdit(ctx.src.range_of(node), new),),
        Applicability.SAFE if safe else Applicability.UNSAFE,
    )]
