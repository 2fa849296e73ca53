"""TL101 (a plain tensor on ``self``: is it harmful, and how to register it) and the legacy tensor types (``torch.cuda.FloatTensor`` used as a parameter).

A part of the registration rules (``registration.py`` declares them and runs the checks)."""
from __future__ import annotations

import ast
from typing import Iterable, Sequence

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
from torch_lsp.analysis.modules import Assignment, ClassInfo, Kind
from torch_lsp.rules.registration import (
    LEGACY_TENSOR_TYPE,
    UNREGISTERED_TENSOR,
    _owns_torch_names,
    _registered_names,
)


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
