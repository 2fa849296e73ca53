"""Inputs for a module nobody calls in the file: inferred from what reads them (worker side).

Given a built module (on the meta device), ``infer`` finds, for each argument of its
``forward`` that needs a value, the first layer that reads it, following the
source of ``forward`` (and of the methods and submodules it hands the argument
to), and turns what that layer accepts into an input *pattern*::

    Conv2d(3, ...)               -> float [B, 3, H, W]
    Linear(d, ...)               -> float [B, d], else [B, T, d]
    Embedding(n, d)              -> long  [B, T]
    LayerNorm(d)                 -> float [B, T, d]
    LSTM(i, ..., batch_first)    -> float [B, T, i] (or [T, B, i])

Patterns hold symbols (B, T, H, W, D) that ``bind`` replaces with sizes. H and W are
pinned when the model says which image size it wants (``img_size``,
``image_size``, ``input_size``, ``default_cfg["input_size"]``, ``config.image_size``
on the model or a submodule); otherwise they are free, as T is.

Nothing here decides whether a failure is the model's fault; ``entry`` does.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 8

# layers that hand their input on unchanged in shape and have no size of their own
_PASS_THROUGH = frozenset({
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "Identity",
    "ReLU", "ReLU6", "GELU", "SiLU", "Mish", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "SELU", "CELU", "Hardswish",
    "Hardsigmoid", "Hardtanh", "Softplus", "Softsign", "PReLU", "Tanhshrink", "LogSigmoid", "GLU",
})
# methods of a tensor that keep its shape (``x = x.float()``)
_SAME_SHAPE_METHODS = frozenset({
    "float", "double", "half", "bfloat16", "to", "contiguous", "clone", "detach", "type_as", "cpu", "cuda",
    "requires_grad_", "long", "int",
})
# reading these does not consume the argument (``x.shape``, ``x is None``)
_INSPECTIONS = frozenset({"shape", "size", "dim", "ndim", "device", "dtype", "numel", "is_floating_point",
                          "requires_grad", "is_cuda", "ndimension", "get_device"})


@dataclass
class Pattern:
    """The tensors one argument may be: alternatives, most likely first."""

    dtype: str  # "float" or "long"
    shapes: list[list]  # each a list of ints and symbols
    consumer: Any = None  # the module that reads it first (None: a function)
    consumer_name: str = ""  # "self.stem" (for messages)
    how: str = ""  # how it was found: "forward", "first layer"

    def describe(self) -> str:
        return f"{self.consumer_name} ({type(self.consumer).__name__})" if self.consumer is not None else self.consumer_name


@dataclass
class Inferred:
    """What to call ``forward`` with."""

    positional: list[tuple[str, Pattern]] = field(default_factory=list)
    keyword: list[tuple[str, Pattern]] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # pinned symbols (H, W from img_size)
    reason: str = ""  # why nothing could be inferred
    # further arguments that default to None, whose first layer is known: given when the
    # model rejects a call without them (CLIP's ``pixel_values`` beside ``input_ids``)
    optional: list[tuple[str, Pattern]] = field(default_factory=list)


# ============================================================================ leaf layers
def _layer_pattern(mod: Any) -> tuple[str, list[list]] | None:
    """What a torch layer accepts, as (dtype, alternative shapes)."""
    import torch.nn as nn

    def ints(*values: Any) -> bool:
        return all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)

    if isinstance(mod, nn.modules.conv._ConvNd):
        c = mod.in_channels
        n = len(mod.kernel_size)
        if not ints(c) or n not in (1, 2, 3):
            return None
        spatial = {1: ["T"], 2: ["H", "W"], 3: ["D", "H", "W"]}[n]
        return "float", [["B", c] + spatial]
    if isinstance(mod, nn.Linear) and ints(mod.in_features):
        return "float", [["B", mod.in_features], ["B", "T", mod.in_features]]
    if isinstance(mod, (nn.Embedding, nn.EmbeddingBag)):
        return "long", [["B", "T"]]
    if isinstance(mod, (nn.LayerNorm, getattr(nn, "RMSNorm", nn.LayerNorm))):
        # (the getattr keeps torches without RMSNorm working; mypy then widens `mod` to object)
        shape = tuple(mod.normalized_shape) if mod.normalized_shape is not None else ()  # type: ignore[union-attr]
        if shape and ints(*shape):
            return "float", [["B", "T", *shape], ["B", *shape]]
        return None
    if isinstance(mod, nn.modules.batchnorm._BatchNorm) or isinstance(mod, nn.modules.instancenorm._InstanceNorm):
        c = mod.num_features
        if not ints(c):
            return None
        name = type(mod).__name__
        if name.endswith("1d"):
            return "float", [["B", c, "T"], ["B", c]]
        if name.endswith("3d"):
            return "float", [["B", c, "D", "H", "W"]]
        return "float", [["B", c, "H", "W"]]
    if isinstance(mod, nn.GroupNorm) and ints(mod.num_channels):
        return "float", [["B", mod.num_channels, "H", "W"], ["B", mod.num_channels, "T"]]
    if isinstance(mod, nn.RNNBase) and ints(mod.input_size):
        return "float", [["B", "T", mod.input_size] if mod.batch_first else ["T", "B", mod.input_size]]
    if isinstance(mod, nn.MultiheadAttention) and ints(mod.embed_dim):
        return "float", [["B", "T", mod.embed_dim] if mod.batch_first else ["T", "B", mod.embed_dim]]
    if isinstance(mod, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
        attn = mod.self_attn
        if ints(attn.embed_dim):
            return "float", [["B", "T", attn.embed_dim] if attn.batch_first else ["T", "B", attn.embed_dim]]
    if isinstance(mod, nn.TransformerEncoder) and len(mod.layers):
        return _layer_pattern(mod.layers[0])
    return None


# ============================================================================ source of forward
_TREES: dict[Any, ast.FunctionDef | ast.AsyncFunctionDef | None] = {}


def _function_tree(fn: Any) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The parsed definition of a function (its decorators' wrappers removed)."""
    try:
        fn = inspect.unwrap(getattr(fn, "__func__", fn))
        code = fn.__code__
    except (AttributeError, ValueError):
        return None
    if code in _TREES:
        return _TREES[code]
    tree = None
    try:
        text = textwrap.dedent(inspect.getsource(fn))
        parsed = ast.parse(text)
        if parsed.body and isinstance(parsed.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
            tree = parsed.body[0]
    except (OSError, TypeError, SyntaxError, IndentationError):
        tree = None
    if len(_TREES) > 2000:
        _TREES.clear()
    _TREES[code] = tree
    return tree


def forget_sources() -> None:
    """Between jobs: the document's functions change."""
    _TREES.clear()


def _param_names(fn_tree: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn_tree.args
    return [p.arg for p in a.posonlyargs + a.args]


def _resolve(expr: ast.expr, self_name: str, obj: Any, bindings: dict | None = None) -> tuple[Any, str] | None:
    """``self.a.b[0]`` -> (the object, "self.a.b[0]") on the instance; a loop variable
    over a container of modules is its first item (``bindings``)."""
    if isinstance(expr, ast.Name) and expr.id == self_name:
        return obj, self_name
    if isinstance(expr, ast.Name) and bindings and expr.id in bindings:
        return bindings[expr.id]
    if isinstance(expr, ast.Attribute):
        base = _resolve(expr.value, self_name, obj, bindings)
        if base is None:
            return None
        try:
            value = getattr(base[0], expr.attr)
        except Exception:
            return None
        return value, f"{base[1]}.{expr.attr}"
    if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Constant) and isinstance(expr.slice.value, (int, str)):
        base = _resolve(expr.value, self_name, obj, bindings)
        if base is None:
            return None
        try:
            return base[0][expr.slice.value], f"{base[1]}[{expr.slice.value!r}]"
        except Exception:
            return None
    return None


class _Finder:
    """Walks a function's statements in order for the first place an argument is read."""

    def __init__(self) -> None:
        self.steps = 0
        self.bindings: dict[str, tuple[Any, str]] = {}  # loop variable -> the first module of its container
        self.inserted: dict[str, tuple[int, ...]] = {}  # alias -> dims inserted before it (``x[:, None]``)

    def in_function(self, fn: Any, owner: Any, param: str, depth: int) -> Pattern | str:
        tree = _function_tree(fn)
        if tree is None:
            return f"the source of `{getattr(fn, '__qualname__', fn)}` is not available"
        params = _param_names(tree)
        self_name = params[0] if params else "self"
        saved = self.bindings, self.inserted
        self.bindings, self.inserted = {}, {}
        try:
            return self._block(tree.body, {param}, self_name, owner, depth)
        finally:
            self.bindings, self.inserted = saved

    def _block(self, body: list[ast.stmt], names: set[str], self_name: str, owner: Any, depth: int) -> Pattern | str:
        for stmt in body:
            self.steps += 1
            if self.steps > 5000:
                return "the search for the first layer took too long"
            found = self._statement(stmt, names, self_name, owner, depth)
            if found is not None:
                return found
        return ""

    def _statement(self, stmt: ast.stmt, names: set[str], self_name: str, owner: Any, depth: int) -> Pattern | str | None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return None
        if isinstance(stmt, (ast.If, ast.While)):
            found = self._expr(stmt.test, names, self_name, owner, depth)
            if found is not None:
                return found
            for part in (stmt.body, stmt.orelse):
                got = self._block(part, names, self_name, owner, depth)
                if got:
                    return got
            return None
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            found = self._expr(stmt.iter, names, self_name, owner, depth)
            if found is not None:
                return found
            self._bind_loop(stmt, self_name, owner)
            return self._block(stmt.body, names, self_name, owner, depth) or None
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            return self._block(stmt.body, names, self_name, owner, depth) or None
        if isinstance(stmt, ast.Try):
            return self._block(stmt.body, names, self_name, owner, depth) or None
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            inserting = self._inserting(stmt.value, names)
            if inserting is not None and len(targets) == 1 and isinstance(targets[0], ast.Name):
                source, k = inserting
                self.inserted[targets[0].id] = self.inserted.get(source, ()) + (k,)
                names.add(targets[0].id)
                return None
            if self._keeps(stmt.value, names, self_name, owner):
                for t in targets:
                    if isinstance(t, ast.Name):
                        names.add(t.id)
                        value_name = stmt.value.id if isinstance(stmt.value, ast.Name) else None
                        if value_name in self.inserted:
                            self.inserted[t.id] = self.inserted[value_name]
                return None
            found = self._expr(stmt.value, names, self_name, owner, depth)
            if found is not None:
                return found
            for t in targets:  # ``x = something else``: x no longer holds the argument
                if isinstance(t, ast.Name):
                    names.discard(t.id)
            return None
        if isinstance(stmt, (ast.Assert, ast.Raise, ast.Delete, ast.Pass, ast.Global, ast.Nonlocal, ast.Import, ast.ImportFrom)):
            return None
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.expr):
                found = self._expr(child, names, self_name, owner, depth)
                if found is not None:
                    return found
        return None

    def _bind_loop(self, stmt: ast.For | ast.AsyncFor, self_name: str, owner: Any) -> None:
        """``for layer in self.layers`` / ``for i, layer in enumerate(self.layers)``: layer is the first one."""
        import torch.nn as nn

        it, target = stmt.iter, stmt.target
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "enumerate" and it.args \
                and isinstance(target, ast.Tuple) and len(target.elts) == 2:
            it, target = it.args[0], target.elts[1]
        if not isinstance(target, ast.Name):
            return
        got = _resolve(it, self_name, owner, self.bindings)
        if got is None:
            return
        container, label = got
        try:
            first = next(iter(container.values() if isinstance(container, (dict, nn.ModuleDict)) else container))
        except (TypeError, StopIteration, AttributeError):
            return
        if isinstance(first, nn.Module):
            self.bindings[target.id] = (first, f"{label}[0]")

    def _inserting(self, value: ast.expr, names: set[str]) -> tuple[str, int] | None:
        """``x[:, None]``, ``x[None]``, ``x.unsqueeze(k)`` of a tracked name: (name, where the new dim is)."""
        k: object
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name) and value.value.id in names:
            items = value.slice.elts if isinstance(value.slice, ast.Tuple) else [value.slice]
            nones = [i for i, e in enumerate(items) if isinstance(e, ast.Constant) and e.value is None]
            if len(nones) != 1:
                return None
            k = nones[0]
            if all(isinstance(e, ast.Slice) and e.lower is None and e.upper is None and e.step is None for e in items[:k]):
                rest = items[k + 1:]
                if all(isinstance(e, ast.Slice) and e.lower is None and e.upper is None and e.step is None for e in rest):
                    return value.value.id, k
                if len(rest) == 0:
                    return value.value.id, k
            if k == len(items) - 1 and items[:k] and isinstance(items[0], ast.Constant) and items[0].value is Ellipsis \
                    and len(items) == 2:
                return value.value.id, -1
            return None
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "unsqueeze" \
                and isinstance(value.func.value, ast.Name) and value.func.value.id in names and len(value.args) == 1:
            arg = value.args[0]
            # (`-` of any constant's value: mypy sees str, bytes, None among its types)
            k = (arg.value if isinstance(arg, ast.Constant) else -arg.operand.value  # type: ignore[operator]
                 if isinstance(arg, ast.UnaryOp) and isinstance(arg.op, ast.USub) and isinstance(arg.operand, ast.Constant) else None)
            if isinstance(k, int) and not isinstance(k, bool):
                return value.func.value.id, k
        return None

    def _keeps(self, value: ast.expr, names: set[str], self_name: str, owner: Any) -> bool:
        """``y = x``, ``y = x.float()``, ``y = self.dropout(x)``: y still holds the argument, same shape."""
        if isinstance(value, ast.Name):
            return value.id in names
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
            if value.func.attr in _SAME_SHAPE_METHODS and isinstance(value.func.value, ast.Name) and value.func.value.id in names:
                return True
        if isinstance(value, ast.Call) and len(value.args) == 1 and isinstance(value.args[0], ast.Name) and value.args[0].id in names:
            got = _resolve(value.func, self_name, owner, self.bindings)
            if got is not None and type(got[0]).__name__ in _PASS_THROUGH:
                return True
        return False

    def _uses(self, node: ast.expr, names: set[str]) -> bool:
        return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))

    def _expr(self, node: ast.expr, names: set[str], self_name: str, owner: Any, depth: int) -> Pattern | str | None:
        """The first consuming call in an expression (inner calls first), or None."""
        found: Pattern | str | None
        if not self._uses(node, names):
            return None
        if isinstance(node, ast.Attribute) and node.attr in _INSPECTIONS:
            return None
        if isinstance(node, ast.Compare) and all(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops):
            return None
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in _INSPECTIONS and isinstance(f.value, ast.Name):
                return None  # x.size(), x.dim()
            if isinstance(f, ast.Name) and f.id in ("isinstance", "len", "type", "print", "id"):
                return None
            for arg in list(node.args) + [k.value for k in node.keywords]:  # inner calls run first
                if not _tracked(arg, names):
                    inner = self._expr(arg, names, self_name, owner, depth)
                    if inner is not None:
                        return inner
            position = next((i for i, a in enumerate(node.args) if _tracked(a, names)), None)
            keyword = next((k.arg for k in node.keywords if _tracked(k.value, names) and k.arg), None)
            if position is None and keyword is None:
                return self._generic(node, names, self_name, owner, depth)
            used = _tracked(node.args[position], names) if position is not None else \
                next(_tracked(k.value, names) for k in node.keywords if k.arg == keyword)
            found = self._call(node, position, keyword, self_name, owner, depth)
            inserted = self.inserted.get(used, ())
            return _without(found, inserted) if inserted and isinstance(found, Pattern) else found
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                found = self._expr(child, names, self_name, owner, depth)
                if found is not None:
                    return found
        if isinstance(node, ast.Name):
            return None
        return f"`{_short(node)}` reads it first"

    def _generic(self, node: ast.Call, names: set[str], self_name: str, owner: Any, depth: int) -> Pattern | str | None:
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and node.func.value.id in names:
            if node.func.attr in _SAME_SHAPE_METHODS:
                return None
            return f"`{_short(node)}` reads it first"
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                found = self._expr(child, names, self_name, owner, depth)
                if found is not None:
                    return found
        return None

    def _call(self, node: ast.Call, position: int | None, keyword: str | None, self_name: str, owner: Any,
              depth: int) -> Pattern | str:
        import torch.nn as nn

        f = node.func
        if depth > MAX_DEPTH:
            return "the layers are nested too deeply"
        if isinstance(f, ast.Call) and isinstance(f.func, ast.Name) and f.func.id == "super":
            return f"`{_short(node)}` reads it first"
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Call) and isinstance(f.value.func, ast.Name) \
                and f.value.func.id == "super" and f.attr == "forward":
            for base in type(owner).__mro__[1:]:
                if "forward" in base.__dict__:
                    fn = base.__dict__["forward"]
                    return self._into(fn, owner, position, keyword, depth + 1, "super().forward")
            return "no `forward` in the base classes"
        got = _resolve(f, self_name, owner, self.bindings)
        if got is None:
            return f"`{_short(node)}` reads it first"
        value, label = got
        if isinstance(value, nn.Module):
            return module_pattern(value, label, position, keyword, depth + 1, self)
        if inspect.ismethod(value) and value.__self__ is owner:
            return self._into(value, owner, position, keyword, depth + 1, label)
        return f"`{_short(node)}` reads it first"

    def _into(self, fn: Any, owner: Any, position: int | None, keyword: str | None, depth: int, label: str) -> Pattern | str:
        tree = _function_tree(fn)
        if tree is None:
            return f"the source of `{label}` is not available"
        params = _param_names(tree)[1:]
        if keyword is not None:
            name = keyword
        elif position is not None and position < len(params):
            name = params[position]
        else:
            return f"`{label}` takes it as *args"
        found = self.in_function(fn, owner, name, depth)
        return found or f"`{label}` does not read `{name}`"


def _tracked(node: ast.expr, names: set[str]) -> str:
    """The tracked name an argument is (``x``, ``x.to(dtype)``, ``x.float()``), or ""."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _SAME_SHAPE_METHODS:
        node = node.func.value
    return node.id if isinstance(node, ast.Name) and node.id in names else ""


def _without(pattern: Pattern, inserted: tuple[int, ...]) -> Pattern | str:
    """The pattern of a tensor before dims were inserted into it (``x[:, None]`` read
    by ``Conv1d(1, ...)`` as ``[B, 1, T]``: x is ``[B, T]``)."""
    shapes = []
    for shape in pattern.shapes:
        dims = list(shape)
        ok = True
        for k in reversed(inserted):
            i = k if k >= 0 else len(dims) + k
            if not 0 <= i < len(dims) or (isinstance(dims[i], int) and dims[i] != 1):
                ok = False
                break
            del dims[i]
        if ok and dims:
            shapes.append(dims)
    if not shapes:
        return f"the shape {pattern.consumer_name} wants cannot come from the argument with dims inserted"
    return Pattern(pattern.dtype, shapes, pattern.consumer, pattern.consumer_name, pattern.how)


def module_pattern(mod: Any, label: str, position: int | None, keyword: str | None, depth: int,
                   finder: _Finder | None = None) -> Pattern | str:
    """What ``mod(...)`` accepts in the argument at ``position`` (or ``keyword``)."""
    import torch.nn as nn

    finder = finder or _Finder()
    if depth > MAX_DEPTH:
        return "the layers are nested too deeply"
    if (position or 0) == 0 and keyword is None:
        known = _layer_pattern(mod)
        if known is not None:
            return Pattern(known[0], known[1], mod, label, "forward")
        if isinstance(mod, nn.Sequential):
            for i, child in enumerate(mod):
                if type(child).__name__ in _PASS_THROUGH:
                    continue
                return module_pattern(child, f"{label}[{i}]", 0, None, depth + 1, finder)
            return f"`{label}` holds no layer with a size"
    if type(mod).__name__ in _PASS_THROUGH or type(mod).forward is nn.Module.forward:
        return f"`{label}` ({type(mod).__name__}) accepts any shape"
    return finder._into(mod.forward, mod, position, keyword, depth, f"{label}.forward")


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 50 else text[:47] + "..."


# ============================================================================ the model's image size
_SIZE_NAMES = ("img_size", "image_size", "input_size", "input_resolution", "resolution")


def _size_of(value: Any) -> tuple[int, int] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value, value
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        if len(value) == 2:
            return value[0], value[1]
        if len(value) == 3 and value[0] <= 4:  # (channels, height, width)
            return value[1], value[2]
    return None


def pinned_image_size(model: Any) -> tuple[int, int] | None:
    """The image size the model declares (see the module docstring), if any."""
    holders = [model]
    config = getattr(model, "config", None)
    if config is not None:
        holders.append(config)
    for cfg_name in ("default_cfg", "pretrained_cfg"):
        cfg = getattr(model, cfg_name, None)
        if isinstance(cfg, dict):
            holders.append(cfg)
    try:
        holders += [m for _, m in list(model.named_modules())[1:64]]
    except Exception:
        pass
    for holder in holders:
        for name in _SIZE_NAMES:
            try:
                value = holder.get(name) if isinstance(holder, dict) else getattr(holder, name, None)
            except Exception:
                continue
            size = _size_of(value)
            if size is not None:
                return size
    return None


# ============================================================================ the inputs of forward
def infer(model: Any) -> Inferred:
    """The arguments ``forward`` needs, each with its pattern (or a reason)."""
    import torch.nn as nn

    out = Inferred()
    try:
        sig = inspect.signature(model.forward)
    except (TypeError, ValueError):
        out.reason = "the signature of `forward` is not available"
        return out
    params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    required = [p for p in params if p.default is p.empty]
    finder = _Finder()
    found: Pattern | str
    if not required:  # forward(input_ids=None, ...): the first argument is the input
        nones = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is None]
        if not nones:
            out.reason = "`forward` takes no argument that could be its input"
            return out
        required = [nones[0]]
        for p in nones[1:8]:
            found = finder.in_function(model.forward, model, p.name, 0)
            if isinstance(found, Pattern) and len(out.optional) < 3:
                out.optional.append((p.name, found))
    for i, p in enumerate(required):
        if isinstance(model, nn.Sequential) or _layer_pattern(model) is not None:
            found = module_pattern(model, type(model).__name__, i, None, 0, finder)
        else:
            found = finder.in_function(model.forward, model, p.name, 0)
        if not isinstance(found, Pattern) and i == 0 and len(required) == 1:
            first_layer = _first_layer(model)
            if first_layer is not None:
                name, layer, (dtype, shapes) = first_layer
                found = Pattern(dtype, shapes, layer, f"self.{name}", "first layer")
        if not isinstance(found, Pattern):
            out.reason = f"cannot tell what `{p.name}` of `forward` should be" + (f": {found}" if found else "")
            return out
        if p.kind == p.KEYWORD_ONLY:
            out.keyword.append((p.name, found))
        else:
            out.positional.append((p.name, found))
    size = pinned_image_size(model)
    if size is not None:
        out.sizes["H"], out.sizes["W"] = size
    return out


def _first_layer(model: Any) -> tuple[str, Any, tuple[str, list[list]]] | None:
    """The first registered layer with a size (the stem of most models)."""
    for name, mod in model.named_modules():
        if name and not any(True for _ in mod.children()):
            known = _layer_pattern(mod)
            if known is not None:
                return name, mod, known
            if any(True for _ in mod.parameters(recurse=False)):
                return None  # the first layer with weights is one whose input is unknown
    return None
