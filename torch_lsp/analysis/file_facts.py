"""What the whole file says about its classes (TL101's model of harm, part 2): used as
a model or not, attributes handed to an optimizer, converted by an ``_apply``/``to``
override or read from outside their class (``FileFacts``); a class's bases, methods and
whether it is a model. See ``attribute_use`` for the whole model."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torch_lsp.analysis.modules import MODULE_KINDS, ClassInfo, Kind

if TYPE_CHECKING:
    pass
from torch_lsp.analysis.tensor_facts import _MODULE_API, _REGISTERING, _is_self, _q


# ---------------------------------------------------------------------------------- the file


@dataclass
class _Usage:
    instantiated: bool = False
    as_module: list[ast.AST] = field(default_factory=list)  # evidence that it is used as a model


class FileFacts:
    """What the whole file says about its classes and attributes; computed on first use."""

    def __init__(self, ctx):
        self.ctx = ctx
        self._done = False
        self.usage: dict[str, _Usage] = {}
        self.optimizer_names: dict[str, ast.AST] = {}  # attribute name -> the optimizer call
        self.apply_names: set[str] = set()  # names converted in an `_apply`/`to` override of any class
        self.external_reads: set[str] = set()  # `obj.NAME` loads with obj not `self`
        self._subclasses: dict[tuple[str | None, str, int], list[ClassInfo]] | None = None  # ClassRef.key -> subclasses

    def _scan(self) -> None:
        if self._done:
            return
        self._done = True
        tree = self.ctx.src.tree
        if tree is None:
            return
        classes = set(self.ctx.summary.classes)
        usage = self.usage
        instances: dict[str, set[str]] = {}  # local name -> classes it was built from

        def built(node: ast.AST) -> str | None:
            """The file's class whose instance ``node`` evaluates to (``Cls(...)``, ``Cls(...).to(d)``)."""
            while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MODULE_API:
                node = node.func.value
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in classes:
                return node.func.id
            return None

        def mark(name: str | None, evidence: ast.AST | None) -> None:
            if name is None:
                return
            u = usage.setdefault(name, _Usage())
            u.instantiated = True
            if evidence is not None:
                u.as_module.append(evidence)

        def registered_items(arg: ast.AST):
            if isinstance(arg, (ast.List, ast.Tuple, ast.Set)):
                for e in arg.elts:
                    yield from registered_items(e.value if isinstance(e, ast.Starred) else e)
            elif isinstance(arg, ast.Dict):
                for v in arg.values:
                    yield from registered_items(v)
            elif isinstance(arg, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
                yield from registered_items(arg.elt)
            elif isinstance(arg, ast.DictComp):
                yield from registered_items(arg.value)
            elif isinstance(arg, ast.Starred):
                yield from registered_items(arg.value)
            else:
                yield arg

        apply_methods: list[ast.FunctionDef] = []
        c: str | None
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if isinstance(stmt, ast.FunctionDef) and stmt.name in ("_apply", "to"):
                        apply_methods.append(stmt)
            elif isinstance(node, ast.Call):
                func = node.func
                cls = built(node)
                if cls is not None:
                    usage.setdefault(cls, _Usage()).instantiated = True
                    if node.func is not None and isinstance(node.func, ast.Attribute):
                        mark(cls, node)  # Cls(...).to(device)
                inner = built(func) if isinstance(func, ast.Call) else None
                if inner is not None:
                    mark(inner, node)  # Cls(...)(x)
                if isinstance(func, ast.Name) and func.id in instances:
                    for c in instances[func.id]:
                        mark(c, node)  # m(x)
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in instances \
                        and func.attr in _MODULE_API:
                    for c in instances[func.value.id]:
                        mark(c, node)  # m.to(device), m.parameters()
                q = _q(self.ctx, func)
                registering = q in _REGISTERING or (isinstance(func, ast.Attribute) and func.attr in ("add_module", "register_module", "append", "extend", "insert"))
                if registering:
                    args = node.args[1:] if isinstance(func, ast.Attribute) and func.attr in ("add_module", "register_module", "insert") else node.args
                    for arg in list(args) + [k.value for k in node.keywords]:
                        for item in registered_items(arg):
                            c = built(item)
                            # `registering` with q not in _REGISTERING: func is an ast.Attribute
                            if c is None and isinstance(item, ast.Name) and item.id in instances and (q in _REGISTERING or func.attr in ("add_module", "register_module")):  # type: ignore[attr-defined]
                                for c2 in instances[item.id]:
                                    mark(c2, node)
                            elif c is not None and (q in _REGISTERING or func.attr in ("add_module", "register_module")  # type: ignore[attr-defined]
                                                    or (isinstance(func.value, ast.Attribute) and _is_self(func.value.value))):  # type: ignore[attr-defined]
                                mark(c, node)
                if q is not None and q.startswith("torch.optim.") and q.count(".") == 2:
                    params = list(node.args[:1]) + [k.value for k in node.keywords if k.arg == "params"]
                    for p in params:
                        for n in ast.walk(p):
                            if isinstance(n, ast.Attribute):
                                self.optimizer_names.setdefault(n.attr, node)
            elif isinstance(node, ast.Assign):
                cls = built(node.value)
                if cls is None:
                    continue
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        instances.setdefault(t.id, set()).add(cls)
                    elif isinstance(t, ast.Attribute) and _is_self(t.value):
                        mark(cls, node)  # self.block = Block(...): a submodule
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and not _is_self(node.value):
                self.external_reads.add(node.attr)
        # A second look for calls of instances bound after their first use in the walk order.
        if instances:
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    if isinstance(func, ast.Name) and func.id in instances:
                        for c in instances[func.id]:
                            mark(c, node)
                    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in instances \
                            and func.attr in _MODULE_API:
                        for c in instances[func.value.id]:
                            mark(c, node)
        for fn in apply_methods:
            for n in ast.walk(fn):
                if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
                    self.apply_names.add(n.attr)
                elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "setattr" and len(n.args) >= 2 \
                        and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, str):
                    self.apply_names.add(n.args[1].value)

    def used_as_module(self, info: ClassInfo) -> ast.AST | None:
        """Where the file uses an instance of the class as a model (None: nowhere)."""
        self._scan()
        if info.ref.summary is not self.ctx.summary:
            return None
        u = self.usage.get(info.name)
        return u.as_module[0] if u and u.as_module else None

    def instantiated(self, info: ClassInfo) -> bool:
        self._scan()
        u = self.usage.get(info.name)
        return bool(u and u.instantiated)

    def subclasses(self, info: ClassInfo) -> list[ClassInfo]:
        if self._subclasses is None:
            table: dict[tuple[str | None, str, int], list[ClassInfo]] = {}
            for c in self.ctx.model.module_classes():
                for b in _all_bases(self.ctx, c):
                    table.setdefault(b.ref.key, []).append(c)
            self._subclasses = table
        return self._subclasses.get(info.ref.key, [])

    def optimizer_call(self, name: str) -> ast.AST | None:
        self._scan()
        return self.optimizer_names.get(name)

    def converted_by_apply(self, name: str) -> bool:
        self._scan()
        return name in self.apply_names

    def read_outside(self, name: str) -> bool:
        self._scan()
        return name in self.external_reads


def _all_bases(ctx, info: ClassInfo, depth: int = 0) -> list[ClassInfo]:
    out: list[ClassInfo] = []
    if depth > 8:
        return out
    for ref in info.user_bases:
        b = ctx.model.info(ref)
        out.append(b)
        out += _all_bases(ctx, b, depth + 1)
    return out


def mro(ctx, info: ClassInfo) -> list[ClassInfo]:
    """The class and its project base classes, nearest first (depth-first, like a simple MRO)."""
    out, seen = [], set()
    for c in [info] + _all_bases(ctx, info):
        if c.ref.key not in seen:
            seen.add(c.ref.key)
            out.append(c)
    return out


def find_method(ctx, info: ClassInfo, name: str, after: ClassInfo | None = None) -> tuple[ast.FunctionDef, ClassInfo] | None:
    chain = mro(ctx, info)
    if after is not None:
        keys = [c.ref.key for c in chain]
        if after.ref.key in keys:
            chain = chain[keys.index(after.ref.key) + 1:]
    for c in chain:
        fn = c.method(name)
        if fn is not None:
            return fn, c
    return None


def has_forward(ctx, info: ClassInfo) -> bool:
    return find_method(ctx, info, "forward") is not None or find_method(ctx, info, "__call__") is not None


def has_learned_parts(ctx, info: ClassInfo, registered: set[str]) -> bool:
    """Parameters, buffers or submodules of its own (or of a torch layer it extends)."""
    if registered:
        return True
    if any(b not in ("torch.nn.Module",) for b in info.torch_bases):
        return True
    return any(a.value.kind in MODULE_KINDS or a.value.kind in (Kind.PARAMETER, Kind.BUFFER) or a.value.lazy
               for c in mro(ctx, info) for a in c.assignments)


def model_status(ctx, facts: FileFacts, info: ClassInfo, registered: set[str], depth: int = 0) -> tuple[str, ast.AST | None]:
    """('model' | 'not' | 'unknown', evidence): is the class used as a model?

    A model has parameters, buffers or submodules, or the file registers it as a
    submodule / ``nn.Sequential`` item, calls an instance or moves one with ``.to()``,
    or a subclass in the file is a model. A class without ``forward`` is not a model
    (an environment, a scheduler, a helper); neither is one the file builds but only
    uses through its own methods. Otherwise (a ``forward`` and no parameters, used in
    other files only) it cannot be decided here."""
    if has_learned_parts(ctx, info, registered):
        return "model", None
    evidence = facts.used_as_module(info)
    if evidence is not None:
        return "model", evidence
    if depth < 3:
        for sub in facts.subclasses(info):
            status, ev = model_status(ctx, facts, sub, set(sub.registered_names), depth + 1)
            if status == "model":
                return "model", ev
    if not has_forward(ctx, info):
        return "not", None
    if facts.instantiated(info):
        return "not", None
    return "unknown", None
