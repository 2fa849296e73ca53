"""TL101-TL105: parameters and submodules that ``nn.Module`` never registers.

All five rules read the module model (``torch_lsp.analysis.modules``): what each
``nn.Module`` subclass's ``__init__`` stores on ``self``. TL105 also looks at
every call in the file.
"""
from __future__ import annotations

import ast
import re
from typing import Any, Iterable, Iterator, Sequence

from torch_lsp.analysis import attribute_use as U
from torch_lsp.analysis import torch_api as T
from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.diagnostics import (
    Applicability,
    Diagnostic,
    Fix,
    Position,
    Range,
    RelatedInformation,
    Severity,
    TextEdit,
)
from torch_lsp.analysis.modules import MODULE_KINDS, Assignment, ClassInfo, Kind, Value
from torch_lsp.analysis.project import ClassRef
from torch_lsp.rules import rule

UNREGISTERED_TENSOR = rule(
    "TL101",
    "unregistered-tensor",
    "A plain tensor on self (neither nn.Parameter nor buffer) where that breaks training, device moves or checkpoints",
    Severity.WARNING,
    """
    ## What it does
    Looks at every `self.NAME = <tensor>` that an `nn.Module`'s `__init__` (or a helper it
    calls) makes from a torch factory (`torch.tensor`, `zeros`, `randn`, ...), a legacy
    constructor (`torch.cuda.FloatTensor(...)`), or `.to()`/`.cuda()`/`.requires_grad_()` of
    one, without `nn.Parameter` or `register_buffer`, and reports it only where the plain
    tensor makes something go wrong at run time. The analysis follows `forward` and the
    methods, properties and file functions it calls (transitively), local aliases
    (`w = self.w`), and re-assignments (`self.m = self.m.to(x.device)` before use).

    A plain tensor attribute is reported when:

    1. **it was meant to be learned**, and is read: created with `requires_grad=True` or
       `.requires_grad_()`, given to `nn.init.*`, or handed to a `torch.optim` optimizer
       (*error*: the optimizer never updates it). A read anywhere counts (any method, or
       `model.NAME` elsewhere in the file), since the optimizer problem does not depend on
       where it is used. Its *name* is weaker evidence: a name whose words say parameter
       (`param`, `weight`, `bias`, `gamma`, `beta`, `learnable`, `logit_scale`, ...; not
       `scale`, `alpha`, `temperature` or `kernel`, which name constants as often; and the
       words of learned embeddings and tokens, `pos_embed`, `cls_token`, `query_embed`, but
       only for a placeholder, a `zeros/ones/empty/rand/randn/full` of a shape that
       `__init__` does not fill in, since a table it computes is a constant) counts
       only for a floating tensor, in a class that already has learned parts (parameters or
       submodules), where it enters `forward`'s arithmetic without ever being moved to the
       input's device there (*warning*). This is why `self.scalar_param = torch.tensor(2.0)`
       multiplied into the output is reported although it is 0-d, while
       `self.scaling = torch.sqrt(torch.tensor(d).float())` is not;
    2. **it meets the model's device**: in code reachable from `forward`, a tensor
       operation (arithmetic, matmul, comparison, a `torch.*`/`F.*` call, `cat`, a
       submodule call, `index_select`, an in-place op) combines it with the input, a
       parameter/buffer, or a submodule's output, without moving it there first
       (`.to(x.device)`, `.to(x)`, `.type_as(x)`, `device=x.device`, `x.new_tensor(...)`).
       After `model.to('cuda')` it stays behind and that line raises "Expected all tensors
       to be on the same device" (*warning*). A 0-d tensor is exempt: PyTorch treats it as a
       scalar (a CPU 0-d tensor works beside CUDA tensors and does not up-cast a float16
       result). So is indexing a tensor with it (`x[:, self.idx]`: torch moves a CPU index);
    3. **`forward` updates it in place** (`self.n += 1`, `self.ema.mul_(m)`,
       `self.buf[i] = v`, `self.n = self.n + 1`): running state that `state_dict()` does not
       save (*warning*).

    Conditions 2 and 3 apply to a class used as a model: it has parameters, buffers or
    submodules, or the file registers an instance as a submodule or `nn.Sequential` item,
    calls one, or moves one with `.to()`, or a subclass in the file is a model. A class
    without `forward` (an environment, a scheduler, a sampler) is not one, nor is a class
    the file builds but only uses through its own methods; when the file cannot tell (a
    `forward` without parameters, used elsewhere) the finding is *information* and says so.
    Also *information*, because the intent is unclear: a non-0-d tensor used in `forward`
    only with other plain tensors, returned from `forward`, or moved to a fixed device
    (`.cuda()`, `.to(self.device)`) instead of the input's.

    Everything else is quiet: tensors read only as Python values (sizes, `.item()`,
    `.tolist()`, `int(...)`, `len(...)`, `if self.mask[i]:`), never read, read only outside
    `forward` (CPU-side sampling or collate helpers, setup code), overwritten in `forward`
    before they are read, moved to the input's device at each use, guarded by a device
    check (`x.device == self.c.device and ...`), converted by an `_apply`/`to` override of
    the class or of an owner class in the file, or re-created by the class itself in a
    method `forward` does not reach (a reset): such state's device and lifetime are the
    class's own business. (Re-assigned in `forward` on some paths only, it is still read
    as the plain tensor on the others.) One assignment gives one diagnostic, even when
    several classes reach it through a mixin.

    ## Why is this bad?
    `nn.Module` only tracks parameters, buffers and submodules. A plain tensor attribute
    is missing from `model.parameters()` (the optimizer never updates it, though it may get
    a `.grad`), from `state_dict()` (checkpoints lose it), and `model.to(device)`, `.cuda()`,
    `.double()` do not move or convert it.

    ## Example
    ```python
    class Normalize(nn.Module):
        def __init__(self, mean, std):
            super().__init__()
            self.mean = torch.tensor(mean)
            self.std = torch.tensor(std)

        def forward(self, x):
            return (x - self.mean[:, None, None]) / self.std[:, None, None]
    ```

    ## Fix
    A constant that should follow the module: a buffer. When it is computed from the
    constructor's arguments only (and not random), a non-persistent one: it is recomputed
    at construction, and checkpoints saved before the fix still load.
    ```python
            self.register_buffer("mean", torch.tensor(mean), persistent=False)
    ```
    Running state that `forward` updates: a persistent buffer (`register_buffer("n", ...)`).
    Meant to be learned: `nn.Parameter`, offered first then:
    ```python
            self.log_temp = nn.Parameter(torch.zeros(1))
    ```
    `nn.Parameter` is never offered for an integer or bool tensor (torch refuses it), nor,
    unless the tensor is meant to be learned, for one that other methods re-assign or
    `forward` updates in place; a `None` arm (`... if flag else None`) stays out of the
    wrap. Both fixes change what the module trains or saves, so `--fix` applies them only
    with `--unsafe-fixes`.
    """,
    fixable=True,
)

MODULE_IN_PLAIN_CONTAINER = rule(
    "TL102",
    "module-in-plain-container",
    "Submodules kept in a plain Python list, tuple or dict",
    Severity.WARNING,
    """
    ## What it does
    Finds `self.NAME` holding a Python `list`, `tuple` or `dict` (a literal, a
    comprehension, or an empty one filled later with `.append`, `.extend`,
    `+=` or `[key] = ...`) whose items are freshly built `nn.Module`s that are not
    registered any other way.

    ## Why is this bad?
    `nn.Module` does not look inside plain containers. The layers' weights are
    missing from `model.parameters()` (the optimizer never trains them), from
    `state_dict()` (checkpoints lose them), and `model.to(device)`, `.train()` and
    `.eval()` skip them: the forward pass then fails with a device mismatch, or
    dropout and batch norm stay in training mode at evaluation time.

    ## Example
    ```python
    class ConvStack(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.layers = []
            for c_in, c_out in zip(channels, channels[1:]):
                self.layers.append(nn.Conv2d(c_in, c_out, 3))
    ```

    ## Fix
    Use `nn.ModuleList` (or `nn.ModuleDict` for a dict): it supports `append`,
    `extend`, `insert`, indexing and iteration.
    ```python
            self.layers = nn.ModuleList()
    ```
    """,
    fixable=True,
)

PARAMETER_IN_PLAIN_CONTAINER = rule(
    "TL103",
    "parameter-in-plain-container",
    "nn.Parameters kept in a plain Python list, tuple or dict",
    Severity.WARNING,
    """
    ## What it does
    Finds `self.NAME` holding a Python `list`, `tuple` or `dict` of freshly built
    `nn.Parameter`s (a literal, a comprehension, or filled later).

    ## Why is this bad?
    Parameters inside a plain container are not registered: `model.parameters()`
    leaves them out, so an optimizer built from it never updates them, even though
    `backward()` fills their `.grad`. They are also missing from `state_dict()` and
    are not moved by `model.to(device)`.

    ## Example
    ```python
    class ScaledStack(nn.Module):
        def __init__(self, dim, depth):
            super().__init__()
            self.scales = [nn.Parameter(torch.ones(dim)) for _ in range(depth)]
    ```

    ## Fix
    ```python
            self.scales = nn.ParameterList([nn.Parameter(torch.ones(dim)) for _ in range(depth)])
    ```
    (`nn.ParameterDict` for a dict.)
    """,
    fixable=True,
)

ASSIGNMENT_BEFORE_SUPER_INIT = rule(
    "TL104",
    "assignment-before-super-init",
    "A module or parameter assigned before super().__init__(), or __init__ never calls it",
    Severity.ERROR,
    """
    ## What it does
    Finds an `nn.Module` subclass whose `__init__` assigns a submodule or an
    `nn.Parameter` to `self` (or calls `register_buffer`/`add_module`) before
    `super().__init__()`, or never calls `super().__init__()` at all. Plain
    values (numbers, strings, config) before `super().__init__()` are fine.

    ## Why is this bad?
    `Module.__init__` creates the tables that hold parameters, buffers and
    submodules. Before it runs, `Module.__setattr__` raises
    `AttributeError: cannot assign module before Module.__init__() call` (or
    `... parameters before ...`). A module whose `__init__` never calls it fails on
    first use with `AttributeError: 'Net' object has no attribute '_parameters'` (or
    `'_backward_hooks'`).

    ## Example
    ```python
    class Classifier(nn.Module):
        def __init__(self, n_in, n_out):
            self.hidden = nn.Linear(n_in, 128)
            super().__init__()
    ```

    ## Fix
    Call `super().__init__()` first:
    ```python
        def __init__(self, n_in, n_out):
            super().__init__()
            self.hidden = nn.Linear(n_in, 128)
    ```
    """,
    fixable=True,
)

LEGACY_TENSOR_TYPE = rule(
    "TL105",
    "legacy-tensor-type",
    "A legacy typed tensor constructor such as torch.FloatTensor(...) or torch.cuda.FloatTensor(...)",
    Severity.INFORMATION,
    """
    ## What it does
    Finds calls of the legacy typed constructors: `torch.FloatTensor(...)`,
    `torch.LongTensor(...)`, `torch.cuda.FloatTensor(...)` and the other
    `*Tensor` types.

    ## Why is this bad?
    They are deprecated. The `torch.cuda.*` ones hard-code the device, so the code
    fails on a machine without a GPU; called with sizes (`torch.FloatTensor(64, 32)`)
    they return uninitialised memory, which silently produces NaNs if it is not
    overwritten; and the same call means "data" or "sizes" depending on its
    arguments.

    ## Example
    ```python
    weights = torch.FloatTensor([1.0, 2.0, 0.5])
    w = nn.Parameter(torch.FloatTensor(out_features, in_features))
    ```

    ## Fix
    ```python
    weights = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float32)
    w = nn.Parameter(torch.empty(out_features, in_features, dtype=torch.float32))
    ```
    """,
    fixable=True,
)

# Module classes whose __init__ takes no required argument: `super().__init__()` is right for them.
_NO_ARG_INIT_BASES = frozenset(
    {"torch.nn.Module", "torch.nn.ModuleList", "torch.nn.ModuleDict", "torch.nn.Sequential",
     "torch.nn.ParameterList", "torch.nn.ParameterDict"}
)
_CONTAINER_METHODS = {
    "torch.nn.ModuleList": {"append", "extend", "insert", "pop"},
    "torch.nn.ModuleDict": {"clear", "items", "keys", "pop", "update", "values"},
    "torch.nn.ParameterList": {"append", "extend"},
    "torch.nn.ParameterDict": {"clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault",
                               "update", "values"},
}
# A call of a legacy constructor in the text (annotations such as `torch.LongTensor` are not calls).
_LEGACY_TEXT = re.compile(r"(?:Float|Double|Half|BFloat16|Byte|Char|Short|Int|Long|Bool)Tensor\s*\(")
_ACTIONS = {
    Kind.LAYER: "module",
    Kind.MODULE_CONTAINER: "module",
    Kind.PARAM_CONTAINER: "module",
    Kind.PARAMETER: "parameters",
    Kind.BUFFER: "buffer",
}


def check(ctx: FileContext) -> Iterator[Diagnostic]:
    facts = U.FileFacts(ctx)
    # One assignment, one diagnostic: a mixin's helper reached from the __init__ of two
    # classes is judged in each; the most severe verdict is kept.
    tensors: dict[tuple, Diagnostic] = {}
    for info in ctx.model.module_classes():
        yield from _check_super_init(ctx, info, facts)
        for d in _check_unregistered_tensors(ctx, info, facts):
            key = (d.range.start, d.range.end)
            if key not in tensors or d.severity < tensors[key].severity:
                tensors[key] = d
        yield from _check_plain_containers(ctx, info)
    yield from tensors.values()
    if "Tensor" in ctx.src.text and _LEGACY_TEXT.search(ctx.src.text):
        yield from _check_legacy(ctx)


# ---------------------------------------------------------------------------------- helpers


def _describe(value: Value) -> str:
    """``an `nn.Linear```, ``a `Block```, ``an `nn.Parameter```: for messages."""
    if value.via is not None and value.kind in (Kind.LAYER, Kind.MODULE_CONTAINER):
        how, name = value.via.split(":", 1)
        if how == "parameter":
            default = f" ({_describe(Value(value.kind, cls=value.cls))} by default)" if value.cls else ""
            return f"a module built by the parameter `{name}`{default}"
        return f"the module `{name}(...)` returns"
    if value.kind in (Kind.LAYER, Kind.MODULE_CONTAINER, Kind.PARAM_CONTAINER) and value.cls:
        short = value.cls.rsplit(".", 1)[-1]
        return f"an `nn.{short}`" if value.cls.startswith("torch.nn.") else f"a `{short}`"
    return {Kind.PARAMETER: "an `nn.Parameter`", Kind.BUFFER: "a buffer", Kind.TENSOR: "a tensor"}.get(value.kind, "a value")


def _bare(description: str) -> str:
    return description.split(" ", 1)[1]


def _registered_names(ctx: FileContext, info: ClassInfo, seen: set | None = None) -> set[str]:
    """Names registered as parameters/buffers/submodules by the class or its project bases."""
    seen = seen if seen is not None else set()
    if info.ref.key in seen:
        return set()
    seen.add(info.ref.key)
    names = set(info.registered_names)
    for base in info.user_bases:
        names |= _registered_names(ctx, ctx.model.info(base), seen)
    return names


def _owns_torch_names(info: ClassInfo) -> bool:
    return any(b not in _NO_ARG_INIT_BASES for b in info.torch_bases)


def _statement_alone_on_lines(ctx: FileContext, stmt: ast.stmt) -> bool:
    first = ctx.src.line_text(stmt.lineno - 1)
    last = ctx.src.line_text((stmt.end_lineno or stmt.lineno) - 1)
    start = ctx.src.start_of(stmt)
    end = ctx.src.end_of(stmt)
    return not first[: start.character].strip() and (not last[end.character :].strip() or last[end.character :].lstrip().startswith("#"))


def _first_body_statement(fn: ast.FunctionDef) -> ast.stmt | None:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    return body[0] if body else None


def _insert_before(ctx: FileContext, fn: ast.FunctionDef, text: str) -> TextEdit | None:
    """An edit inserting a statement as the first statement of ``fn`` (after its docstring)."""
    first = _first_body_statement(fn)
    if first is None or first.lineno == fn.lineno:
        if first is None and fn.body:  # only a docstring: insert after it
            last = fn.body[-1]
            line = (last.end_lineno or last.lineno)
            indent = ctx.src.indent_of(last.lineno - 1)
            lengths = ctx.src.line_lengths
            if line >= len(lengths):  # the docstring ends the file, without a line break
                return TextEdit(Range.point(line - 1, lengths[line - 1]), f"\n{indent}{text}")
            return TextEdit(Range.point(line, 0), f"{indent}{text}\n")
        return None
    indent = ctx.src.indent_of(first.lineno - 1)
    start = ctx.src.start_of(first)
    if ctx.src.line_text(first.lineno - 1)[: start.character].strip():
        return None  # `def f(): a; b` on one line
    return TextEdit(Range.point(first.lineno - 1, 0), f"{indent}{text}\n")


# ---------------------------------------------------------------------------------- TL104


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


# ---------------------------------------------------------------------------------- TL101


def _check_unregistered_tensors(ctx: FileContext, info: ClassInfo, facts: U.FileFacts) -> Iterable[Diagnostic]:
    tensors = [a for a in info.assignments if a.value.kind is Kind.TENSOR and a.how in ("assign", "annassign", "setattr")]
    if not tensors:
        return
    registered = _registered_names(ctx, info)
    owns = _owns_torch_names(info)
    candidates = [a for a in tensors
                  if not (a.value.registered or a.name in registered or (owns and T.is_torch_owned_name(a.name)))]
    if not candidates:
        return
    self_values = U.value_attribute_names(ctx, info)
    tensor_facts = {id(a): U.tensor_facts(ctx, a.value.node, U.assignment_function(ctx, info, a), self_values,
                                          a.name, a.value_node)
                    for a in candidates}
    ranks: dict[str, int | None] = {}
    for a in candidates:
        r = tensor_facts[id(a)].rank
        ranks[a.name] = r if a.name not in ranks or ranks[a.name] == r else None
    walker = U.ClassUses(ctx, info, ranks, registered, self_values)
    uses = walker.run()
    cls = U.class_facts(ctx, info, set(ranks), U.init_methods(info))
    # Re-created by a method forward does not reach (a reset): the class manages that state itself.
    # (Re-created in forward on some paths only: the other paths still read the plain tensor.)
    cls.recreated = {n: v for n, v in cls.recreated.items() if v[0] not in walker.reached}
    status: list = []  # computed on first need: model_status scans the file

    def model() -> tuple[str, ast.AST | None]:
        if not status:
            status.append(U.model_status(ctx, facts, info, registered))
        return status[0]

    for a in candidates:
        verdict = _judge(ctx, info, a, tensor_facts[id(a)], uses[a.name], cls, facts, registered, model)
        if verdict is not None:
            yield verdict


def _line(site: U.Site) -> int:
    return site.node.lineno  # type: ignore[attr-defined]


def _site_related(ctx: FileContext, site: U.Site, text: str) -> RelatedInformation | None:
    if site.summary is None:
        return RelatedInformation(ctx.src.range_of(site.node), text)
    src = getattr(site.summary, "source", None)
    if src is None:
        return None
    return RelatedInformation(src.range_of(site.node), text, site.summary.path)


def _at(site: U.Site) -> str:
    where = f"`{site.function}`"
    if site.summary is not None and getattr(site.summary, "path", None):
        # the getattr above found a path (mypy does not narrow through getattr)
        where += f" ({site.summary.path.rsplit('/', 1)[-1]})"  # type: ignore[union-attr]
    return f"{where} (line {_line(site)})"


def _stays(tf: U.TensorFacts) -> str:
    """What ``model.to(...)`` leaves behind, by where the tensor was created."""
    if tf.device == "cuda":
        return "it stays on the GPU it was created on when the model runs on the CPU or another GPU"
    if tf.device == "given":
        return "after `model.to(...)` it stays on the device given to the constructor"
    return "after `model.to('cuda')` it stays on the CPU"


def _judge(ctx: FileContext, info: ClassInfo, a: Assignment, tf: U.TensorFacts, use: U.AttrUse, cls: U.ClassFacts,
           facts: U.FileFacts, registered: set[str], model) -> Diagnostic | None:
    name = a.name
    rng = ctx.src.range_of(a.value_node) if a.value_node is not None else ctx.src.range_of(a.target)
    learnable = tf.dtype not in ("int", "bool")
    converted = name in cls.converted or facts.converted_by_apply(name)

    # (a) meant to be learned, shown by the code
    evidence, evidence_node = None, None
    if a.value.requires_grad:
        evidence = "created with `requires_grad=True`" if "requires_grad=" in ctx.src.segment(a.value_node or a.target) \
            else "made trainable with `.requires_grad_()`"
    elif name in cls.requires_grad:
        evidence, evidence_node = "made trainable with `.requires_grad_()`", cls.requires_grad[name]
    elif name in cls.init_calls:
        call = cls.init_calls[name]
        evidence, evidence_node = f"initialised with `{ctx.src.segment(call.func)}`", call  # type: ignore[attr-defined]
    elif facts.optimizer_call(name) is not None:
        evidence, evidence_node = "handed to an optimizer", facts.optimizer_call(name)
    if evidence is not None and learnable:
        read = (use.device + use.arith + use.plain + use.moved + use.pinned)
        read_elsewhere = cls.reads_elsewhere.get(name)
        if use.reads or read_elsewhere is not None or facts.read_outside(name):
            related = []
            if evidence_node is not None:
                related.append(RelatedInformation(ctx.src.range_of(evidence_node), f"`self.{name}` is {evidence} here"))
            site = read[0] if read else None
            where = ""
            if site is not None:
                where = f" (used in {_at(site)})"
                r = _site_related(ctx, site, f"`self.{name}` is used here")
                if r is not None:
                    related.append(r)
            elif read_elsewhere is not None:
                where = f" (read on line {read_elsewhere.lineno})"  # type: ignore[attr-defined]
                related.append(RelatedInformation(ctx.src.range_of(read_elsewhere), f"`self.{name}` is read here"))
            msg = (
                f"`self.{name}` is {evidence} but is a plain tensor, not an `nn.Parameter`{where}: "
                f"`model.parameters()` leaves it out, so an optimizer built from it never updates it (it still gets a "
                f"`.grad`); it is also missing from `state_dict()` and `model.to(...)` does not move it"
            )
            fixes = _tensor_fixes(ctx, a, tf, use, cls, first="parameter", buffer=False)
            return Diagnostic(UNREGISTERED_TENSOR.code, Severity.ERROR, rng, msg, tuple(related), tuple(fixes))
        return None

    # Moved by the class itself: an `_apply`/`to` override converts it with the module.
    if converted:
        return None

    # State the class re-creates itself in a method forward does not reach (a reset): the class manages
    # its device and lifetime; registering it would not change where the new tensor lives.
    if name in cls.recreated:
        return None

    real_device = [s for s in use.device if s.rank != 0 and not s.pinned]
    named = U.name_says_parameter(name, tf.placeholder) and learnable
    # (a) meant to be learned, shown only by its name: in a class that already has learned parts, where it
    # enters forward's arithmetic and is never moved to the input's device there.
    # A placeholder (zeros/ones/empty/randn of a shape, left as made) that the name calls
    # a parameter and forward reads is one even in a class with nothing else learned
    # (Swin's `relative_position_bias_table`, read by index and returned): kept plain, it
    # is a constant of its initial values.
    placeholder_read = tf.placeholder and (use.arith or use.plain or real_device) and not use.inplace
    if named and (use.arith or placeholder_read) and not use.moved and not use.pinned and (
            placeholder_read or U.has_learned_parts(ctx, info, registered)):
        site = real_device[0] if real_device else (use.arith or use.plain)[0]
        device_part = ""
        if real_device:
            device_part = (f"; {_stays(tf)}, so line {_line(site)} raises "
                           f"'Expected all tensors to be on the same device'")
        msg = (
            f"`self.{name}` is used in {_at(site)} like a learned parameter (its name says so), but it is a plain tensor: "
            f"`model.parameters()` leaves it out, so the optimizer never trains it and it keeps its initial value; it is "
            f"also missing from `state_dict()`{device_part}"
        )
        related = [r for r in [_site_related(ctx, site, f"`self.{name}` is used here")] if r is not None]
        fixes = _tensor_fixes(ctx, a, tf, use, cls, first="parameter")
        return Diagnostic(UNREGISTERED_TENSOR.code, Severity.WARNING, rng, msg, tuple(related), tuple(fixes))

    if not (use.inplace or real_device or use.plain or use.device):
        return None
    status, evidence_of_model = model()
    if status == "not":
        return None
    sure = status == "model"
    severity = Severity.WARNING if sure else Severity.INFORMATION
    doubt = "" if sure else (
        f" (whether this matters depends on how `{info.name}` is used: nothing in this file makes it part of a model "
        f"that is moved with `.to()` or saved)"
    )
    model_note = [RelatedInformation(ctx.src.range_of(evidence_of_model), f"`{info.name}` is used as a model here")] \
        if evidence_of_model is not None else []
    # (c) running state updated in place by forward
    if use.inplace:
        site = use.inplace[0]
        msg = (
            f"`{site.function}` updates `self.{name}` in place (line {_line(site)}): it is running state, but a plain "
            f"tensor, so `state_dict()` does not save it (a restored checkpoint starts it over) and `model.to(...)` does "
            f"not move it{doubt}"
        )
        related = [r for r in [_site_related(ctx, site, f"`self.{name}` is updated here")] if r is not None] + model_note
        fixes = _tensor_fixes(ctx, a, tf, use, cls, first="buffer", persistent=True)
        return Diagnostic(UNREGISTERED_TENSOR.code, severity, rng, msg, tuple(related), tuple(fixes))
    # (b) meets the input or a parameter/submodule output without being moved there
    if real_device:
        site = real_device[0]
        msg = (
            f"`self.{name}` is used with {site.partner or 'the input'} in {_at(site)} but is a plain tensor: "
            f"{_stays(tf)}, so line {_line(site)} raises 'Expected all tensors to be on the same "
            f"device'; it is also missing from `state_dict()`{doubt}"
        )
        related = [r for r in [_site_related(ctx, site, f"`self.{name}` meets {site.partner or 'the input'} here")]
                   if r is not None] + model_note
        fixes = _tensor_fixes(ctx, a, tf, use, cls, first="parameter" if named else "buffer")
        return Diagnostic(UNREGISTERED_TENSOR.code, severity, rng, msg, tuple(related), tuple(fixes))
    if not sure or tf.rank == 0:
        return None
    # Ambiguous: moved to a fixed device, or used only with other plain tensors / returned.
    pinned = [s for s in use.device if s.pinned and s.rank != 0]
    if pinned:
        site = pinned[0]
        msg = (
            f"`self.{name}` is a plain tensor moved to a fixed device (not to the input's) before it meets "
            f"{site.partner or 'the input'} in {_at(site)}: this works only while the model runs on that device, and "
            f"`self.{name}` is missing from `state_dict()`; a buffer would follow `model.to(...)`"
        )
    elif use.plain and use.plain[0].partner == U.RETURNED:
        site = use.plain[0]
        msg = (
            f"`self.{name}` is a plain tensor returned from {_at(site)}: it is unclear whether callers expect it on "
            f"the model's device; if they do, register it as a buffer (`model.to(...)` does not move a plain tensor, "
            f"and `state_dict()` leaves it out)"
        )
    elif use.plain:
        site = use.plain[0]
        msg = (
            f"`self.{name}` is a plain tensor used in {_at(site)} only with {site.partner or 'other plain tensors'}, so "
            f"it is unclear whether it should follow the model's device: if it should, register it as a buffer "
            f"(`model.to(...)` does not move a plain tensor, and `state_dict()` leaves it out)"
        )
    else:
        return None
    related = [r for r in [_site_related(ctx, site, f"`self.{name}` is used here")] if r is not None]
    fixes = _tensor_fixes(ctx, a, tf, use, cls, first="buffer")
    return Diagnostic(UNREGISTERED_TENSOR.code, Severity.INFORMATION, rng, msg, tuple(related), tuple(fixes))


def _tensor_fixes(ctx: FileContext, a: Assignment, tf: U.TensorFacts, use: U.AttrUse, cls: U.ClassFacts,
                  first: str, buffer: bool = True, persistent: bool | None = None) -> list[Fix]:
    """The fixes, preferred first. ``nn.Parameter`` only for a floating tensor (torch refuses an integer
    or bool one) that nothing else re-assigns or updates in place; a buffer is non-persistent when the
    tensor can be recomputed from the constructor's arguments (old checkpoints stay loadable)."""
    if a.value_node is None:
        return []
    learned = first == "parameter"
    param_fix = None
    param = ctx.name_for("torch.nn.Parameter")
    param_ok = tf.dtype == "float" or (learned and tf.dtype is None)
    if not learned and (a.name in cls.stores_elsewhere or use.inplace):
        param_ok = False
    if param is not None and param_ok:
        node = a.value_node
        targets: Sequence[ast.AST] = [node]
        if isinstance(node, ast.IfExp):  # keep a `None` arm out of the wrap
            arms = [arm for arm in (node.body, node.orelse) if not (isinstance(arm, ast.Constant) and arm.value is None)]
            if len(arms) < 2:
                targets = arms
        if targets:
            edits = tuple(TextEdit(ctx.src.range_of(t), f"{param}({_modernised(ctx, t)})") for t in targets)
            param_fix = Fix(f"Wrap in `{param}(...)` (trained by the optimizer, saved in state_dict)", edits,
                            Applicability.UNSAFE)
    buffer_fix = None
    if buffer:
        whole = None
        if a.how in ("assign", "annassign") and isinstance(a.stmt, (ast.Assign, ast.AnnAssign)) and a.stmt.value is a.value_node:
            targets_ = a.stmt.targets if isinstance(a.stmt, ast.Assign) else [a.stmt.target]
            if len(targets_) == 1 and targets_[0] is a.target:
                whole = ctx.src.range_of(a.stmt)
        elif a.how == "setattr":
            whole = ctx.src.range_of(a.target)
        if whole is not None:
            # not None (checked on entry); mypy reads the `a.stmt.value is a.value_node` test above as
            # widening it to the statement's `expr | None`
            value_text = _modernised(ctx, a.value_node)  # type: ignore[arg-type]
            if persistent is None:
                persistent = not (tf.from_args and not tf.random)
            if persistent:
                buffer_fix = Fix(
                    f'Register as a buffer: `self.register_buffer("{a.name}", ...)` (saved, moved by .to(), not trained)',
                    (TextEdit(whole, f'self.register_buffer("{a.name}", {value_text})'),),
                    Applicability.UNSAFE,
                )
            else:
                buffer_fix = Fix(
                    f'Register as a non-persistent buffer: `self.register_buffer("{a.name}", ..., persistent=False)` '
                    f"(moved by .to(), recomputed from the constructor's arguments, so old checkpoints still load)",
                    (TextEdit(whole, f'self.register_buffer("{a.name}", {value_text}, persistent=False)'),),
                    Applicability.UNSAFE,
                )
    ordered = [param_fix, buffer_fix] if learned else [buffer_fix, param_fix]
    return [f for f in ordered if f is not None]


def _modernised(ctx: FileContext, node: ast.AST) -> str:
    """The source of ``node`` with its legacy constructors rewritten (TL105's fixes),
    so that one fix settles both problems of ``self.g = torch.cuda.FloatTensor([1.0])``."""
    text = ctx.src.segment(node)
    start = ctx.src.start_of(node)

    def relative(p: Position) -> Position:  # a file position -> a position in `text`
        return Position(p.line - start.line, p.character - (start.character if p.line == start.line else 0))

    edits = []
    for call in ast.walk(node):
        legacy = _legacy_of(ctx, call) if isinstance(call, ast.Call) else None
        if legacy is not None:
            for fix in _legacy_fixes(ctx, call, *legacy)[:1]:  # type: ignore[arg-type]  # legacy is set only for an ast.Call
                edits += [TextEdit(Range(relative(e.range.start), relative(e.range.end)), e.new_text) for e in fix.edits]
    if not edits:
        return text
    from torch_lsp.analysis.fixes import apply_edits

    return apply_edits(text, edits)


def _legacy_of(ctx: FileContext, call: ast.Call) -> tuple[str, bool] | None:
    func = call.func
    if not isinstance(func, (ast.Attribute, ast.Name)):
        return None
    name = func.attr if isinstance(func, ast.Attribute) else func.id
    if not name.endswith("Tensor"):
        return None
    return T.legacy_dtype(T.canonical(ctx.imports.qualify(func)))


# ---------------------------------------------------------------------------------- TL102 / TL103


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


# ---------------------------------------------------------------------------------- TL105


def _check_legacy(ctx: FileContext) -> Iterable[Diagnostic]:
    tree = ctx.src.tree
    assert tree is not None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        legacy = _legacy_of(ctx, node)
        if legacy is None:
            continue
        dtype, cuda = legacy
        spelled = ctx.src.segment(node.func)
        device = ', device="cuda"' if cuda else ""
        sizes = len(node.args) >= 2 or (len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and type(node.args[0].value) is int)
        if sizes:
            why = "called with sizes it returns uninitialised memory (NaNs if not overwritten)"
            modern = f"torch.empty(..., dtype=torch.{dtype}{device})"
        else:
            why = "the same call means data or sizes depending on its arguments"
            modern = f"torch.tensor(data, dtype=torch.{dtype}{device})"
        msg = (
            f"`{spelled}(...)` is a deprecated legacy constructor: "
            + ("it hard-codes the CUDA device, so it fails on a machine without a GPU; " if cuda else "")
            + f"{why}; use `{modern}`"
        )
        fixes = _legacy_fixes(ctx, node, dtype, cuda)
        yield Diagnostic(LEGACY_TENSOR_TYPE.code, LEGACY_TENSOR_TYPE.severity, ctx.src.range_of(node), msg, (), tuple(fixes))


def _legacy_fixes(ctx: FileContext, node: ast.Call, dtype: str, cuda: bool) -> list[Fix]:
    torch_name = ctx.name_for("torch")
    if torch_name is None or node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        return []
    extra = f", dtype={torch_name}.{dtype}" + (', device="cuda"' if cuda else "")
    args = node.args
    if len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple)) and _is_literal_data(args[0]):
        new = f"{torch_name}.tensor({ctx.src.segment(args[0])}{extra})"
        title = f"Use `{torch_name}.tensor(..., dtype={torch_name}.{dtype})`"
    elif not args:
        new = f"{torch_name}.tensor([]{extra})"
        title = f"Use `{torch_name}.tensor([], dtype={torch_name}.{dtype})`"
    elif len(args) >= 2 or (isinstance(args[0], ast.Constant) and type(args[0].value) is int):
        sizes = ", ".join(ctx.src.segment(a) for a in args)
        new = f"{torch_name}.empty({sizes}{extra})"
        title = f"Use `{torch_name}.empty(..., dtype={torch_name}.{dtype})` (same uninitialised memory, explicit)"
    else:
        return []
    if "\n" in new:
        return []
    return [Fix(title, (TextEdit(ctx.src.range_of(node), new),), Applicability.SAFE)]


def _is_literal_data(node: ast.AST) -> bool:
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_is_literal_data(e) for e in node.elts)
    if isinstance(node, ast.UnaryOp):
        return _is_literal_data(node.operand)
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool))
