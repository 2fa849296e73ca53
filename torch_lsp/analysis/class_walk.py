"""What one walk over a class body learns of its plain tensor attributes (TL101's model
of harm, ``attribute_use``): initialised with ``nn.init``, made to require grad, read or
re-created outside ``__init__``, converted by an own ``_apply``/``to``."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from torch_lsp.analysis.file_facts import find_method, mro
from torch_lsp.analysis.modules import Assignment, ClassInfo, Kind
from torch_lsp.analysis.tensor_facts import _is_self, _q


@dataclass
class ClassFacts:
    """Learned intent and custom conversion, from one walk over the class body."""

    init_calls: dict[str, ast.AST] = field(default_factory=dict)  # NAME -> `nn.init.*(self.NAME)`
    requires_grad: dict[str, ast.AST] = field(default_factory=dict)  # `self.NAME.requires_grad_()` / `= True`
    reads_elsewhere: dict[str, ast.AST] = field(default_factory=dict)  # reads outside __init__ and its helpers
    stores_elsewhere: set[str] = field(default_factory=set)  # `self.NAME = ...` outside __init__ and its helpers
    converted: set[str] = field(default_factory=set)  # names an own `_apply`/`to` override touches
    # `self.NAME = <a new value>` outside __init__ and its helpers: the class re-creates the tensor itself
    recreated: dict[str, tuple[str, ast.AST]] = field(default_factory=dict)


def class_facts(ctx, info: ClassInfo, names: set[str], init_methods: set[str]) -> ClassFacts:
    out = ClassFacts()
    for c in mro(ctx, info):
        for stmt in c.node.body:
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            in_init = stmt.name in init_methods
            converting = stmt.name in ("_apply", "to")
            for n in ast.walk(stmt):
                if isinstance(n, ast.Attribute) and _is_self(n.value) and n.attr in names:
                    if converting:
                        out.converted.add(n.attr)
                    if isinstance(n.ctx, ast.Load):
                        if not in_init:
                            out.reads_elsewhere.setdefault(n.attr, n)
                    elif not in_init:
                        out.stores_elsewhere.add(n.attr)
                elif isinstance(n, ast.Call):
                    func = n.func
                    if isinstance(func, ast.Attribute) and func.attr == "requires_grad_" and isinstance(func.value, ast.Attribute) \
                            and _is_self(func.value.value) and func.value.attr in names:
                        if not (n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value is False):
                            out.requires_grad.setdefault(func.value.attr, n)
                    elif n.args and isinstance(n.args[0], ast.Attribute) and _is_self(n.args[0].value) and n.args[0].attr in names:
                        q = _q(ctx, func)
                        if q is not None and q.startswith("torch.nn.init."):
                            out.init_calls.setdefault(n.args[0].attr, n)
                elif isinstance(n, (ast.Assign, ast.AnnAssign)) and not in_init and n.value is not None:
                    targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                    for t in targets:
                        if isinstance(t, ast.Attribute) and _is_self(t.value) and t.attr in names and not any(
                                isinstance(r, ast.Attribute) and r.attr == t.attr and _is_self(r.value)
                                for r in ast.walk(n.value)) and not _is_none(n.value):
                            out.recreated.setdefault(t.attr, (stmt.name, n))
                if isinstance(n, ast.Assign):
                    for t in n.targets:
                        if isinstance(t, ast.Attribute) and t.attr == "requires_grad" and isinstance(t.value, ast.Attribute) \
                                and _is_self(t.value.value) and t.value.attr in names \
                                and isinstance(n.value, ast.Constant) and n.value.value is True:
                            out.requires_grad.setdefault(t.value.attr, n)
    return out


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def init_methods(info: ClassInfo) -> set[str]:
    """``__init__`` and the helpers whose assignments the module model saw."""
    return {"__init__"} | {a.method for a in info.assignments}


def value_attribute_names(ctx, info: ClassInfo) -> set[str]:
    """Attributes that only ever hold plain Python values (numbers, strings, dtypes)."""
    kinds: dict[str, set[Kind]] = {}
    for c in mro(ctx, info):
        for a in c.assignments:
            kinds.setdefault(a.name, set()).add(a.value.kind)
    return {n for n, ks in kinds.items() if ks <= {Kind.VALUE, Kind.NONE}}


def assignment_function(ctx, info: ClassInfo, a: Assignment) -> ast.FunctionDef | None:
    hit = find_method(ctx, info, a.method)
    return hit[0] if hit else None
