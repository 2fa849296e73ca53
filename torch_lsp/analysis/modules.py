"""The module model: every ``nn.Module`` subclass of a file and what it stores on ``self``.

For each class the model answers two questions that every rule and hover needs:

1. **Is it an nn.Module?** ``ClassInfo.is_module`` is decided from its bases,
   however written (``nn.Module``, ``torch.nn.Module``, ``from torch.nn import
   Module``, ``import torch.nn as tnn``, a torch layer such as ``nn.Conv2d``, another
   Module class of the same file, or one imported from another file of the project,
   see ``Project``). A class whose bases cannot be resolved is not a Module: the
   rules stay silent on it.

2. **What does ``__init__`` put on ``self``?** ``ClassInfo.members`` maps each
   attribute name to the list of ``Assignment``s that ``__init__`` (and the helper
   methods it calls, e.g. ``self._build()``) make to it, in execution order, each
   with the abstract ``Value`` assigned (a layer with its constructor call, a
   parameter, a buffer, a plain tensor, a container with its items, a plain value,
   or unknown), its source node, the method it is in, and whether it happens before
   ``super().__init__()``.

Values are computed by a small abstract interpreter over the statements of
``__init__``: it follows local names (``w = torch.zeros(3); self.w = w``), branches
(a name bound differently on two paths joins to "unknown" unless both agree),
loops, ``setattr(self, "w", ...)``, ``self.register_buffer``/``register_parameter``/
``add_module``, and later mutation of containers (``self.layers.append(...)``,
``self.heads[key] = ...``). A ``Value`` is an object: the same list appended to
through a local name and through ``self`` is one value. Values remember whether
they were *registered* (wrapped in ``nn.Parameter``, passed to ``register_buffer``,
stored on ``self`` as a module or parameter, or handed to ``nn.ModuleList`` /
``nn.Sequential``) or *escaped* (passed to a function we do not know, which might
register them), so the rules can stay silent when in doubt.
"""
from __future__ import annotations

import ast
import enum
from dataclasses import dataclass, field, replace
from typing import Any

from torch_lsp.analysis import torch_api as T
import builtins
import sys


from torch_lsp.analysis.project import NOT_PROJECT_MODULES, ClassRef, FileSummary, Project


class Kind(enum.Enum):
    LAYER = "layer"  # an nn.Module instance (torch layer or user Module class)
    MODULE_CONTAINER = "module container"  # nn.ModuleList / ModuleDict / Sequential
    PARAMETER = "parameter"  # nn.Parameter(...)
    PARAM_CONTAINER = "parameter container"  # nn.ParameterList / ParameterDict
    BUFFER = "buffer"  # register_buffer(...) / nn.Buffer(...)
    TENSOR = "tensor"  # a plain torch.Tensor
    PLAIN_CONTAINER = "container"  # a Python list / tuple / dict / set
    VALUE = "value"  # a number, string, dtype, device, ... : never a problem
    NONE = "none"
    UNKNOWN = "unknown"


MODULE_KINDS = frozenset({Kind.LAYER, Kind.MODULE_CONTAINER, Kind.PARAM_CONTAINER})


@dataclass(eq=False)
class Value:
    """An abstract value. Identity matters: containers are shared by reference."""

    kind: Kind
    node: ast.AST | None = None  # the expression that created it
    cls: str | None = None  # qualified class of a layer / container / parameter call
    requires_grad: bool = False  # a tensor built with requires_grad=True / .requires_grad_()
    legacy: bool = False  # built by a legacy typed constructor (torch.FloatTensor...)
    container: str | None = None  # 'list' | 'tuple' | 'dict' | 'set' for PLAIN_CONTAINER
    items: list["Item"] = field(default_factory=list)
    registered: bool = False
    escaped: bool = False
    # (summary, constructor expression) of a call not resolved yet: see ModuleModel.settle
    lazy: tuple | None = field(default=None, repr=False)
    # A callable that builds modules (a parameter whose default is a Module class,
    # `norm_layer=nn.LayerNorm`): (kind, cls) of what a call of it returns
    factory: tuple | None = field(default=None, repr=False)
    # How a module built by a call of a parameter or a helper was made, for messages:
    # "`norm_layer` (an `nn.LayerNorm` by default)", "`make_block(...)`"
    via: str | None = field(default=None, repr=False)

    def all_items(self) -> list["Item"]:
        return self.items


@dataclass(eq=False)
class Item:
    """One element put into a plain container, and where it was put."""

    value: Value
    node: ast.AST  # the element expression
    via: ast.AST  # the statement/expression that added it (literal, append call, ...)
    key: ast.AST | None = None  # dict key expression, when known


@dataclass(eq=False)
class Assignment:
    """One write of ``self.NAME`` in ``__init__`` or a helper it calls."""

    name: str
    value: Value
    target: ast.AST  # the ``self.NAME`` expression, or the call (setattr/register_*)
    value_node: ast.AST | None  # the assigned expression as written
    stmt: ast.stmt
    method: str
    how: str  # 'assign' | 'annassign' | 'setattr' | 'register_buffer' | 'register_parameter' | 'add_module'
    before_super: bool
    conditional: bool


@dataclass
class ClassInfo:
    """An analysed class. Only ``is_module`` classes get ``members``."""

    ref: ClassRef
    is_module: bool
    torch_bases: set[str] = field(default_factory=set)  # torch.nn layers among its ancestors
    user_bases: list[ClassRef] = field(default_factory=list)  # resolved project base classes
    unresolved_bases: list[ast.expr] = field(default_factory=list)
    init: ast.FunctionDef | None = None
    super_init: ast.Call | None = None  # the first X.__init__(...) call in __init__
    super_init_stmt: ast.stmt | None = None
    super_init_method: str | None = None
    assignments: list[Assignment] = field(default_factory=list)
    registered_names: set[str] = field(default_factory=set)  # names made params/buffers/modules
    # False when every path through __init__ raises: no instance is ever made.
    init_completes: bool = True
    # __init__ calls a method of self, or hands self to a function, that is not seen
    # (inherited from a class of another file, or unresolved): it may initialise the module.
    init_calls_unseen: bool = False
    analysed: bool = False
    _method_uses: dict[str, set[str]] | None = field(default=None, repr=False)
    _methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.ref.node.name

    @property
    def node(self) -> ast.ClassDef:
        return self.ref.node

    @property
    def members(self) -> dict[str, list[Assignment]]:
        out: dict[str, list[Assignment]] = {}
        for a in self.assignments:
            out.setdefault(a.name, []).append(a)
        return out

    @property
    def method_uses(self) -> dict[str, set[str]]:
        """NAME -> the methods called on ``self.NAME`` anywhere in the class (e.g. to
        know whether a list attribute can become an ``nn.ModuleList``). Computed on
        first use: it walks the whole class."""
        if self._method_uses is None:
            uses: dict[str, set[str]] = {}
            for node in ast.walk(self.node):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    inner = node.func.value
                    if isinstance(inner, ast.Attribute) and _is_self(inner.value):
                        uses.setdefault(inner.attr, set()).add(node.func.attr)
            self._method_uses = uses
        return self._method_uses

    def method(self, name: str) -> ast.FunctionDef | None:
        """The method that runs: the last definition of ``name``, skipping ``@overload`` stubs."""
        table = self._methods
        if table is None:
            table = {}
            for stmt in self.node.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if not any(_decorator_name(d) == "overload" for d in stmt.decorator_list):
                        table[stmt.name] = stmt
            self._methods = table
        return table.get(name)  # type: ignore[return-value]


_BUILTIN_NAMES = frozenset(dir(builtins))
# The standard library's top-level modules (``_io``, ``types``, ``random``, ...): what
# our own resolution does not find there is never a project's class.
_STDLIB = frozenset(sys.stdlib_module_names)


class ModuleModel:
    """The classes of one file, analysed on demand and cached."""

    def __init__(self, summary: FileSummary, project: Project):
        self.summary = summary
        self.project = project
        self._infos: dict[tuple, ClassInfo] = {}
        self._in_progress: set[tuple] = set()
        self._classes: list[ClassInfo] | None = None
        self._function_builds: dict[tuple, tuple | None] = {}
        # The infos of an earlier version of this file to reuse (the server; see
        # ``units.ClassInfoReuse``): None analyses every class (the CLI).
        self.reuse: Any = None
        # Cycles cut (a class asked for while it is analysed, a function while it is
        # followed) make a result depend on which was asked for first: ``_cycles``
        # counts the cuts and the results that saw one (``_tainted``: info keys and
        # function keys), and only a result that saw none is handed to ``reuse``.
        self._cycles = 0
        self._tainted: set[tuple] = set()
        self._building: set[tuple] = set()

    @property
    def cycles_cut(self) -> int:
        """How many cycles were cut so far (an inheritance cycle, a function followed
        into itself): answers that saw one depend on the order of the questions."""
        return self._cycles

    # ------------------------------------------------------------------ classes
    def classes(self) -> list[ClassInfo]:
        """Every class defined at the top level of the file (and nested in classes)."""
        if self._classes is None:
            body = self.summary.source.tree.body if self.summary.source and self.summary.source.tree else []
            self._classes = [self.info(ClassRef(self.summary, node)) for node in class_definitions(body)]
        return list(self._classes)

    def module_classes(self) -> list[ClassInfo]:
        return [c for c in self.classes() if c.is_module]

    @classmethod
    def of(cls, summary: FileSummary, project: Project) -> "ModuleModel":
        """The model of a file, kept with its summary: classes of a file that many
        others import (a base class module) are analysed once, not once per importer."""
        if summary.model is None:
            summary.model = cls(summary, project)
        return summary.model

    def info(self, ref: ClassRef) -> ClassInfo:
        if ref.summary is not self.summary:
            return ModuleModel.of(ref.summary, self.project).info(ref)
        key = ref.key
        hit = self._infos.get(key)
        if hit is not None:
            if key in self._tainted:
                self._cycles += 1
            return hit
        if key in self._in_progress:  # an inheritance cycle: not a Module
            self._cycles += 1
            return ClassInfo(ref, is_module=False)
        reuse = self.reuse
        if reuse is not None:
            kept = reuse.get(ref.node)
            if kept is not None:
                info = _rebased(kept, self.summary)
                self._infos[key] = info
                reuse.put(ref.node, info)  # (the cache keeps this version's copy, not the last one's)
                return info
        cycles = self._cycles
        self._in_progress.add(key)
        try:
            info = self._resolve_bases(ref)
            if info.is_module:
                from torch_lsp.analysis.init_walker import _InitWalker  # (it imports this module)

                _InitWalker(self, info).run()
            self._infos[key] = info
        finally:
            self._in_progress.discard(key)
        if self._cycles != cycles:
            self._tainted.add(key)
        elif reuse is not None:
            reuse.put(ref.node, info)
        return info

    def _resolve_bases(self, ref: ClassRef) -> ClassInfo:
        info = ClassInfo(ref, is_module=False)
        summary = ref.summary
        for base in ref.node.bases:
            expr = base.value if isinstance(base, ast.Subscript) else base
            target = self.resolve_class_expr(summary, expr)
            if isinstance(target, str):
                if T.is_torch_module_class(target):
                    info.is_module = True
                    info.torch_bases.add(T.canonical(target))  # type: ignore[arg-type]  # canonical of a str is a str
                else:
                    info.unresolved_bases.append(base)
            elif isinstance(target, ClassRef):
                base_info = self.info(target)
                info.user_bases.append(target)
                if base_info.is_module:
                    info.is_module = True
                    info.torch_bases |= base_info.torch_bases
                    info.unresolved_bases += base_info.unresolved_bases
            else:
                info.unresolved_bases.append(base)
        return info

    def resolve_class_expr(self, summary: FileSummary, expr: ast.expr, use_jedi: bool = True) -> ClassRef | str | None:
        """What a class expression (a base, or a called constructor) refers to:
        a ClassRef in the project, a canonical qualified name outside it, or None."""
        if isinstance(expr, ast.Name) and expr.id in summary.classes:
            node = summary.classes[expr.id]
            return ClassRef(summary, node)
        if isinstance(expr, ast.Name) and expr.id in summary.aliases:
            hit = self.project.lookup_in(summary, expr.id)
            if hit is not None:
                return T.canonical(hit) if isinstance(hit, str) else hit
        qualified = T.canonical(summary.imports.qualify(expr))
        if qualified is None:
            if isinstance(expr, ast.Name):
                if summary.imports.star_imports:
                    hit = self.project.lookup_in(summary, expr.id)
                    if hit is not None:
                        return T.canonical(hit) if isinstance(hit, str) else hit
                if use_jedi and expr.id not in _BUILTIN_NAMES and expr.id not in summary.functions:
                    return self.project.jedi_resolve(summary, expr)  # e.g. `Base = nn.Module`
            return None
        if qualified.startswith("torch."):
            return qualified
        if qualified.split(".")[0] in NOT_PROJECT_MODULES:
            return None
        hit = self.project.resolve_qualified(qualified, summary)
        if hit is None and use_jedi and qualified.split(".")[0] not in _STDLIB:
            # (jedi would find a class of the standard library, which is never an
            # nn.Module; io.py's `_io._BufferedIOBase` cost a 0.2 s look-up)
            hit = self.project.jedi_resolve(summary, expr, qualified)
        return T.canonical(hit) if isinstance(hit, str) else hit

    def class_kind(self, summary: FileSummary, func: ast.expr, lazy: bool = False) -> tuple[Kind, str | None] | None:
        """The kind of value a call of ``func`` builds, when ``func`` is a class we know.

        With ``lazy``, a name imported from another project file is not resolved now
        (that may mean parsing the file) but answered with ``LAZY``; ``settle`` resolves
        such values when a rule needs them.
        """
        if lazy and not (isinstance(func, ast.Name) and func.id in summary.classes):
            qualified = summary.imports.qualify(func)
            if qualified is not None and not qualified.startswith("torch.") and qualified.split(".")[0] not in NOT_PROJECT_MODULES:
                return LAZY
        # No jedi here: calls are many, and a constructor we cannot see is just unknown.
        target = self.resolve_class_expr(summary, func, use_jedi=False)
        if isinstance(target, str):
            q = target
            if q in T.PARAMETER_CLASSES:
                return Kind.PARAMETER, q
            if q in T.BUFFER_CLASSES:
                return Kind.BUFFER, q
            if q in T.MODULE_CONTAINERS:
                return Kind.MODULE_CONTAINER, q
            if q in T.PARAM_CONTAINERS:
                return Kind.PARAM_CONTAINER, q
            if T.is_torch_module_class(q):
                return Kind.LAYER, q
            return None
        if isinstance(target, ClassRef):
            if self.info(target).is_module:
                return Kind.LAYER, target.qualname
        return None


    def function_builds(self, summary: FileSummary, name: str, depth: int = 0) -> tuple[Kind, str | None] | None:
        """What a top-level function of the file returns when every ``return`` of it
        gives a module built by a known class (directly, through a local name assigned
        only such modules, or through another such function): (kind, class), else None.
        x-transformers' ``def Sequential(*mods): return nn.Sequential(*filter(exists, mods))``."""
        key = (id(summary), name)
        if key in self._function_builds:
            if key in self._building or key in self._tainted:
                self._cycles += 1
            return self._function_builds[key]
        self._function_builds[key] = None  # recursion: unknown
        cycles = self._cycles
        self._building.add(key)
        try:
            fn = next((s for s in (summary.source.tree.body if summary.source is not None and summary.source.tree else [])
                       if isinstance(s, ast.FunctionDef) and s.name == name), None)
            out = self._returns_module(summary, fn, depth) if fn is not None and depth < 3 else None
        finally:
            self._building.discard(key)
        self._function_builds[key] = out
        if self._cycles != cycles:
            self._tainted.add(key)
        return out

    def _returns_module(self, summary: FileSummary, fn: ast.FunctionDef, depth: int) -> tuple[Kind, str | None] | None:
        returns: list[ast.expr | None] = []
        assigned: dict[str, list[ast.expr]] = {}
        stack: list[ast.AST] = list(fn.body)
        t: ast.AST
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(node, (ast.Yield, ast.YieldFrom)):
                return None  # a generator
            if isinstance(node, ast.Return):
                returns.append(node.value)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        assigned.setdefault(t.id, []).append(node.value)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr, ast.For, ast.With)):
                for t in ast.walk(node.target if not isinstance(node, ast.With) else node):
                    if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store):
                        assigned.setdefault(t.id, []).append(ast.Constant(None))  # bound otherwise: not known
            stack.extend(ast.iter_child_nodes(node))
        if not returns:
            return None
        kinds: set = set()
        for value in returns:
            exprs = assigned.get(value.id, [None]) if isinstance(value, ast.Name) else [value]
            for e in exprs:
                if not isinstance(e, ast.Call):
                    return None
                k = self.class_kind(summary, e.func)
                if (k is None or k is LAZY) and isinstance(e.func, ast.Name) and e.func.id in summary.functions:
                    k = self.function_builds(summary, e.func.id, depth + 1)
                if k is None or k is LAZY or k[0] not in (Kind.LAYER, Kind.MODULE_CONTAINER):
                    return None
                kinds.add(k)
        return next(iter(kinds)) if len(kinds) == 1 else (Kind.LAYER, None)

    def settle(self, value: Value) -> Value:
        """Resolve a value built by a constructor imported from another file (see
        ``class_kind``): its kind becomes LAYER when the class is an nn.Module."""
        if value.lazy is not None:
            summary, func = value.lazy
            value.lazy = None
            hit = self.class_kind(summary, func)
            if hit is not None and hit is not LAZY:
                value.kind, value.cls = hit
        return value


LAZY = (Kind.UNKNOWN, "lazy")


def _rebased(info: ClassInfo, summary: FileSummary) -> ClassInfo:
    """``info``, analysed with an earlier summary of the same file, as an info of
    ``summary``: the same analysis (its class and everything it read are unchanged),
    with its references to the file's classes and its unresolved constructor calls
    pointing at ``summary``. A copy: the earlier version's model keeps its own (the
    caches the interpreter keeps on an info are not copied, they are recomputed)."""
    old = info.ref.summary
    if old is summary:
        return info

    def ref(r: ClassRef) -> ClassRef:
        return ClassRef(summary, r.node) if r.summary is old else r

    seen: set[int] = set()

    def rebase(value: Value) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if value.lazy is not None and value.lazy[0] is old:
            value.lazy = (summary, value.lazy[1])
        for item in value.items:
            rebase(item.value)

    for a in info.assignments:
        rebase(a.value)
    return replace(info, ref=ref(info.ref), user_bases=[ref(b) for b in info.user_bases])


def class_definitions(body: list[ast.stmt]):
    """Every class definition of a module body (and nested in classes, branches and
    try blocks), in the order ``ModuleModel.classes`` takes them."""
    for stmt in body:
        if isinstance(stmt, ast.ClassDef):
            yield stmt
            yield from class_definitions(stmt.body)
        elif isinstance(stmt, (ast.If, ast.Try)) or type(stmt).__name__ == "TryStar":
            yield from class_definitions(stmt.body)  # type: ignore[attr-defined]  # a TryStar, tested by name for 3.10
            yield from class_definitions(getattr(stmt, "orelse", []))
            for h in getattr(stmt, "handlers", []):
                yield from class_definitions(h.body)
            yield from class_definitions(getattr(stmt, "finalbody", []))


# ---------------------------------------------------------------------------- interpreter


def _decorator_name(node: ast.expr) -> str | None:
    node = node.func if isinstance(node, ast.Call) else node
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


