"""TL101-TL105: parameters and submodules that ``nn.Module`` never registers.

All five rules read the module model (``torch_lsp.analysis.modules``): what each
``nn.Module`` subclass's ``__init__`` stores on ``self``. TL105 also looks at
every call in the file.
"""
from __future__ import annotations

import ast
import re
from typing import Iterator

from torch_lsp.analysis import attribute_use as U
from torch_lsp.analysis.context import FileContext
from torch_lsp.analysis.diagnostics import (
    Diagnostic,
    Range,
    Severity,
    TextEdit,
)
from torch_lsp.analysis.modules import ClassInfo, Kind, Value
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile
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
_LEGACY_PREFIXES = ("Float", "Double", "Half", "BFloat16", "Byte", "Char", "Short", "Int", "Long", "Bool")
_TENSOR_CALL = re.compile(r"Tensor\s*\(")


def _calls_legacy(text: str) -> bool:
    """``_LEGACY_TEXT.search(text)``, faster: the alternation is tried at every position
    of the file, the literal `Tensor(` is searched for (rare) and what precedes it
    checked."""
    return any(text.endswith(_LEGACY_PREFIXES, 0, m.start()) for m in _TENSOR_CALL.finditer(text))
_ACTIONS = {
    Kind.LAYER: "module",
    Kind.MODULE_CONTAINER: "module",
    Kind.PARAM_CONTAINER: "module",
    Kind.PARAMETER: "parameters",
    Kind.BUFFER: "buffer",
}


def check(ctx: FileContext) -> Iterator[Diagnostic]:
    return _check(ctx, ctx.model.module_classes())


def _check(ctx: FileContext, classes: list[ClassInfo], keep_tensor=None) -> Iterator[Diagnostic]:
    # the checks live in their own modules, which import this one's rules and helpers
    from torch_lsp.rules.registration_containers import _check_plain_containers
    from torch_lsp.rules.registration_super import _check_super_init
    from torch_lsp.rules.registration_tensors import _check_legacy, _check_unregistered_tensors

    facts = U.FileFacts(ctx)
    # One assignment, one diagnostic: a mixin's helper reached from the __init__ of two
    # classes is judged in each; the most severe verdict is kept.
    tensors: dict[tuple, Diagnostic] = {}
    for info in classes:
        yield from _check_super_init(ctx, info, facts)
        for d in _check_unregistered_tensors(ctx, info, facts):
            key = (d.range.start, d.range.end)
            if key not in tensors or d.severity < tensors[key].severity:
                tensors[key] = d
        yield from _check_plain_containers(ctx, info)
    yield from (d for d in tensors.values() if keep_tensor is None or keep_tensor(d))
    if "Tensor" in ctx.src.text and _calls_legacy(ctx.src.text):
        yield from _check_legacy(ctx)


def check_ready(src: SourceFile, project: Project) -> list[Diagnostic] | None:
    """What ``check`` will find in the classes of the file whose analysis reads no
    other file not read yet (their bases are the file's own or torch's), found
    without reading one: the server publishes it before the other files that the
    rest of ``check`` needs are read (the first analysis of a large document).

    It takes two contexts of ``src``: the first finds which classes need no read (a
    look-up cut short by the ban can leave a half-made answer in its model); the
    second, fresh, runs the checks of those only, under the same ban: the result is
    returned only when that
    run completed without needing a read, so each check in it did exactly what it
    does in ``check`` (a look-up that needs no read gives the same answer when
    reads are allowed), and the run saw no cycle cut (whose answers depend on the
    order classes are asked in). What differs from ``check`` is only which classes
    are judged, which can change one thing: a tensor assignment judged from two
    classes keeps the most severe verdict. So a tensor finding is kept only in the
    body of a class judged here that no class left out inherits from (as far as the
    file's text says). The result is therefore a subset of what ``check`` finds.
    None: no class qualifies, or a check needed another file (or met a cycle)."""
    from torch_lsp.analysis.modules import ClassRef, class_definitions
    from torch_lsp.analysis.project import NotRead

    if src.tree is None:
        return None
    nodes = list(class_definitions(src.tree.body))
    ctx = FileContext(src, project, record_shapes=False)
    with project.reading_forbidden():
        ready: set[int] = set()
        for node in nodes:
            try:
                ctx.model.info(ClassRef(ctx.summary, node))
            except NotRead:
                continue
            ready.add(id(node))
        if not ready or ctx.model.cycles_cut:
            return None
        # A class left out may inherit (and so judge) the methods of a class of the file.
        by_name = {n.name: n for n in nodes}
        inherited: set[int] = set()
        todo = [n for n in nodes if id(n) not in ready]
        while todo:
            for base in todo.pop().bases:
                b = by_name.get(base.id) if isinstance(base, ast.Name) else None
                if b is not None and id(b) not in inherited:
                    inherited.add(id(b))
                    todo.append(b)
        fresh = FileContext(src, project, record_shapes=False)
        model = fresh.model
        try:
            infos = [model.info(ClassRef(fresh.summary, n)) for n in nodes if id(n) in ready]
            owners = [(n.lineno, n.end_lineno or n.lineno) for n in nodes if id(n) in ready and id(n) not in inherited]

            def keep_tensor(d: Diagnostic) -> bool:
                line = d.range.start.line + 1
                return any(first <= line <= last for first, last in owners)

            found = list(_check(fresh, [i for i in infos if i.is_module], keep_tensor))
        except NotRead:
            return None
        if model.cycles_cut:
            return None
    return found


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


# ---------------------------------------------------------------------------------- TL101


# ---------------------------------------------------------------------------------- TL102 / TL103


# ---------------------------------------------------------------------------------- TL105


