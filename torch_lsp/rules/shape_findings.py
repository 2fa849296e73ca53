"""Turning the interpreter's shape problems into findings: which rule, where, what to say, how to fix.

The interpreter hands ``finding`` a neutral ``ShapeProblem`` (``analysis/shape_events.py``)
when a transfer function reports a ``ShapeError``, with itself as the ``ShapeSite`` to ask
about the code around it. The
placement rules (rules.md): a mismatch between two layers is reported once, at the
consuming layer's wrong constructor argument; the producer, the line in ``forward``
where they meet and the call site that fixed the input go in related information.
A mismatch of the very input a module is called with is TL204 at that call.
"""
from __future__ import annotations

import ast
from typing import Any, Sequence, cast

from torch_lsp.analysis.interp_support import Finding, Frame, quote_line
from torch_lsp.analysis.shape_events import ProblemKind, ShapeProblem, ShapeSite
from torch_lsp.analysis.values import LayerV, Origin, TensorV
from torch_lsp.analysis.shape_types import Layer, ShapeError
from torch_lsp.analysis.shapes import Sym, dim_eq, dim_product, dim_str, shape_str

_PARAM_WORD = {
    "in_features": "input features",
    "normalized_shape": "normalized shape",
    "embed_dim": "embedding size",
    "in_channels": "input channels",
    "num_features": "channels",
    "num_channels": "channels",
    "d_model": "features (d_model)",
    "input_size": "input features",
}


def _finding(code: str, node: ast.AST, message: str, related: list, fixes: list | None = None) -> Finding:
    """A finding of rule ``code``. Shape findings at one place are one problem (the
    first one found is kept): every TL2xx one, every TL3xx one; TL209 (a layer that
    can never run) beside them."""
    f = Finding(code, node, message, related, fixes=fixes or [])
    f.group = code if code == "TL209" else code[:3]
    return f


def _line(node: ast.AST | None) -> str:
    """A line number quoted in a message (rendered when the finding is reported)."""
    return quote_line(node)


def _layer_name(mod: LayerV) -> str:
    return f"`{mod.label}` ({mod.layer.short})" if mod.label else f"`nn.{mod.layer.short}`"


def _arg_node(interp: ShapeSite, mod: LayerV, param: str | None) -> ast.AST | None:
    """The constructor argument that sets ``param`` in the layer's call."""
    call = mod.node
    if not isinstance(call, ast.Call) or param is None:
        return None
    for kw in call.keywords:
        if kw.arg == param:
            return kw.value
    index = _positional_index(mod.layer.cls, param)
    if index is not None and index < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
        return call.args[index]
    return None


def _rebound(fn: ast.AST) -> set[str]:
    """Names a function assigns or deletes (a parameter among them no longer holds the argument)."""
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}


def _lift(arg: ast.AST, chain: Sequence[Any], producer_chain: tuple) -> ast.AST:
    """A layer built inside a helper (``conv_block(c_in, c_out)``) from the helper's
    parameter: the size to change is the argument its caller passed, unless the
    producer was built in the same helper call (then the helper itself is wrong)."""
    chain = list(chain)
    while chain and isinstance(arg, ast.Name):
        entry = chain.pop()
        if any(e is entry for e in producer_chain):
            break
        fn, call = entry.fn, entry.node
        a = fn.args
        positional = [p.arg for p in a.posonlyargs + a.args]
        names = set(positional) | {p.arg for p in a.kwonlyargs}
        if arg.id not in names:
            break
        if arg.id in _rebound(fn):
            break
        new = next((kw.value for kw in call.keywords if kw.arg == arg.id), None)
        if new is None and arg.id in positional:
            i = positional.index(arg.id) - entry.offset
            if 0 <= i < len(call.args) and not any(isinstance(x, ast.Starred) for x in call.args[: i + 1]):
                new = call.args[i]
        if new is None:
            break
        arg = new
    return arg


_INDEX_CACHE: dict[tuple[str, str], int | None] = {}


def _positional_index(cls: str, param: str) -> int | None:
    key = (cls, param)
    if key in _INDEX_CACHE:
        return _INDEX_CACHE[key]
    from torch_lsp.analysis import layers as L

    result = None
    order = getattr(L, "PARAM_ORDER", {}).get(cls)
    if order is not None and param in order:
        result = list(order).index(param)
    _INDEX_CACHE[key] = result
    return result


def _fix_text(interp: ShapeSite, expected: Any, arg: ast.AST, frame: Frame, original: ast.AST | None) -> str | None:
    """Source text for the expected value, valid where ``arg`` is written."""
    if isinstance(expected, tuple):
        if len(expected) == 1 and not isinstance(original, (ast.Tuple, ast.List)):
            expected = expected[0]
        else:
            parts = [_fix_text(interp, e, arg, frame, None) for e in expected]
            if any(p is None for p in parts):
                return None
            return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"  # type: ignore[arg-type]
    if isinstance(expected, bool):
        return None
    if isinstance(expected, int):
        return str(expected)
    if isinstance(expected, Sym):
        names = {a for a in expected.atoms() if isinstance(a, str)}
        if len(names) == len(expected.atoms()) and names <= _names_in_scope(interp, arg, frame):
            return str(expected)
        value = interp.concrete(expected, frame)
        return str(value) if isinstance(value, int) else None
    return None


def _names_in_scope(interp: ShapeSite, arg: ast.AST, frame: Frame) -> set[str]:
    """Constructor parameter names usable at ``arg``: symbols are named after the
    parameters of the outermost module being analysed (or of the function analysed
    with symbols), so they can be written where that function's body is."""
    fns = [frame.fn]
    if interp.outermost_init is not None:
        fns.append(interp.outermost_init)
    line = getattr(arg, "lineno", -1)
    for fn in fns:
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.lineno <= line <= (fn.end_lineno or fn.lineno):
            a = fn.args
            params = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}
            return params - _rebound(fn)
    return set()


def _describe_input(t: TensorV) -> str:
    o = t.origin
    if o is None:
        return ""
    if o.what == "layer":
        return f" from `{o.label}`" + (f" (line {_line(o.node)})" if o.node is not None else "")
    if o.what in ("op", "flatten"):
        return f" from `{o.label}` (line {_line(o.node)})"
    if o.what == "call site":
        return f" (the input at line {_line(o.node)})"
    if o.what == "factory":
        return f" from `{o.label}` (line {_line(o.node)})"
    if o.what == "pinned":
        what = o.factors[0] if o.factors else "the input"
        return (f", the size `{o.label}` (line {_line(o.node)}) takes from `{what}`: the two layers read the same "
                f"tensor and disagree, so one of them is wrong")
    return ""


def _site_text(o: Origin | None) -> str:
    if o is None or o.site is None or o.site.node is None:
        return ""
    return f" (input from `{o.site.label}` at line {_line(o.site.node)})"


def _related(interp: ShapeSite, t: TensorV, node: ast.AST, mod: LayerV | None) -> list:
    rel = []
    o = t.origin
    if o is not None and o.what == "layer" and o.layer_node is not None:
        rel.append((o.layer_node, f"`{o.label}` produces {shape_str(t.shape)}"))
    elif o is not None and o.what in ("flatten", "op") and o.node is not None:
        # an `nn.Flatten()` inside an `nn.Sequential` is called where the whole chain is: show where it is built
        here = o.layer_node if o.layer_node is not None and o.node is node else o.node
        rel.append((here, f"`{o.label}` gives {shape_str(t.shape)}"))
    elif o is not None and o.what == "pinned" and o.layer_node is not None:
        rel.append((o.layer_node, f"`{o.label}` takes {shape_str(t.shape)}"))
    if node is not None and (mod is None or node is not mod.node):
        rel.append((node, "the tensor reaches the layer here"))
    if o is not None and o.site is not None and o.site.node is not None:
        rel.append((o.site.node, "the input shape comes from this call"))
    return rel


def _flatten_formula(t: TensorV) -> str:
    o = t.origin
    if o is None or o.what != "flatten" or not o.factors:
        return ""
    dims = [dim_str(d) for d in o.factors]
    total = t.shape.dims[-1] if t.shape is not None and t.shape.dims else None
    if len(dims) < 2 or total is None or dim_eq(dim_product(o.factors), total) is not True:
        return ""  # (a view whose -1 covers other dims than the ones after the first)
    return f" = {' × '.join(dims)}"


def finding(site: ShapeSite, p: ShapeProblem) -> Finding | None:
    """The finding of a problem the interpreter met (``FindingBuilder.finding``), or None.
    (The fields each kind carries are set by ``interp_reporting``.)"""
    if p.kind is ProblemKind.LAYER_INPUT:
        return layer_error(site, cast(LayerV, p.layer), p.tensor, cast(ShapeError, p.err), cast(ast.Call, p.node),
                           cast(Frame, p.frame))
    if p.kind is ProblemKind.LAYER_CONFIG:
        return config_error(site, cast(Layer, p.config), cast(ShapeError, p.err), cast(ast.Call, p.node),
                            cast(Frame, p.frame))
    if p.kind is ProblemKind.OPERATION:
        return op_error(site, cast(str, p.family), cast(ShapeError, p.err), list(p.operands), p.node,
                        cast(Frame, p.frame))
    if p.kind is ProblemKind.NON_SCALAR_BACKWARD:
        return backward_finding(site, cast(TensorV, p.tensor), cast(ast.Call, p.node))
    return None


def layer_error(interp: ShapeSite, mod: LayerV, inp: Any, err: ShapeError, node: ast.Call, frame: Frame) -> Finding | None:
    if not isinstance(inp, TensorV):
        return None
    o = inp.origin
    from_call_site = o is not None and o.what == "call site"
    kind = err.kind
    name = _layer_name(mod)
    if kind in ("features", "channels", "rank") and from_call_site:
        site = o.site if o.site is not None else o  # type: ignore[union-attr]  # from_call_site: o is not None
        target = site.node if site is not None and site.node is not None else node
        msg = f"{name} cannot take the input {shape_str(inp.shape)} given at line {_line(target)}: {err.message}"
        rel = []
        if mod.node is not None:
            rel.append((mod.node, f"{name} is built here"))
        if node is not None and node is not target:
            rel.append((node, "the input reaches it here"))
        return _finding("TL204", target, msg, rel)
    if kind == "rank":
        return None  # a rank mismatch deep inside a chain: no rule claims it (yet)
    if kind in ("features", "channels"):
        code = "TL201" if kind == "features" else "TL202"
        formula = _flatten_formula(inp)
        if formula and mod.layer.cls in ("torch.nn.Linear",):
            code = "TL203"
        arg = _arg_node(interp, mod, err.param)
        if arg is not None:
            arg = _lift(arg, mod.chain, o.chain if o is not None and o.what == "layer" else ())
        where = arg or mod.node or node
        got = f"{dim_str(err.got)}" if err.got is not None else shape_str(inp.shape)
        word = _PARAM_WORD.get(err.param or "", "size")
        if code == "TL203":
            # TL203 needs a flatten formula, which needs an origin: o is not None
            msg = f"{name} expects {dim_str(err.want)} {word}, but receives {got}{formula} from `{o.label}`{_site_text(o)}"  # type: ignore[union-attr]
        else:
            msg = f"{name}: {err.message}{_describe_input(inp)}{_site_text(o)}"
        fixes = []
        # no fix for an argument in a loop: it is evaluated once per iteration, with other
        # values, and one number would break the others (`nn.Conv2d(c, w)` in `for w in widths`)
        if arg is not None and err.expected is not None and not interp.in_loop(arg) and not (o is not None and o.what == "pinned"):
            text = _fix_text(interp, err.expected, arg, frame, arg)
            if text is not None and text != interp.seg(arg):
                title = f"Set {err.param} to {text}" + (f" (= {formula[3:]})" if code == "TL203" and formula else "")
                fixes.append((title, [(arg, text)]))
        return _finding(code, where, msg, _related(interp, inp, node, mod), fixes=fixes)
    if kind == "reshape":  # nn.Unflatten(dim, sizes) whose sizes do not multiply to the dimension
        arg = _arg_node(interp, mod, "unflattened_size")
        where = arg or mod.node or node
        msg = f"{name}: {err.message}{_describe_input(inp)}{_site_text(o)}"
        return _finding("TL207", where, msg, _related(interp, inp, node, mod))
    if kind == "spatial":
        where = mod.node or node
        msg = f"{name}: {err.message}{_describe_input(inp)}{_site_text(o)}"
        return _finding("TL209", where, msg, _related(interp, inp, node, mod))
    if kind == "config":
        return None  # reported once at construction (config_errors)
    return None


def config_error(interp: ShapeSite, layer: Layer, err: ShapeError, node: ast.Call, frame: Frame) -> Finding | None:
    msg = f"`nn.{layer.short}(...)` can never run: {err.message}"
    if frame.subst and frame.site is not None and frame.site.node is not None:
        msg += f" (with the arguments of the call at line {_line(frame.site.node)})"
    rel = []
    if frame.site is not None and frame.site.node is not None:
        rel.append((frame.site.node, "constructed with these arguments here"))
    return _finding("TL209", node, msg, rel)


# The interpreter's families of tensor operations, and their rules.
_OP_CODE = {"matmul": "TL205", "broadcast": "TL206", "reshape": "TL207", "concat": "TL208"}


def op_error(interp: ShapeSite, family: str, err: ShapeError, operands: list, node: ast.AST, frame: Frame) -> Finding | None:
    code = _OP_CODE[family]
    if err.kind in ("rank",) and code not in ("TL205",):
        return None
    seg = " ".join(interp.seg(node).split())  # a call over several lines, quoted on one
    seg = seg if len(seg) <= 50 else seg[:47] + "..."
    site = next((_site_text(o.origin) for o in operands if isinstance(o, TensorV) and _site_text(o.origin)), "")
    msg = f"`{seg}` fails at run time: {err.message}{site}"
    rel = []
    for o in operands:
        if isinstance(o, TensorV) and o.origin is not None and o.origin.node is not None and o.origin.node is not node:
            rel.append((o.origin.node, f"{shape_str(o.shape)} comes from here"))
    return _finding(code, node, msg, rel[:4])


def backward_finding(interp: ShapeSite, t: TensorV, node: ast.Call) -> Finding:
    receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
    text = interp.seg(receiver) if receiver is not None else "loss"
    n = t.shape.numel() if t.shape is not None else None
    count = f" ({dim_str(n)} elements)" if n is not None and not isinstance(n, type(None)) else ""
    msg = (
        f"`{text}.backward()` on a tensor of shape {shape_str(t.shape)}{count}: PyTorch raises `RuntimeError: grad can be "
        f"implicitly created only for scalar outputs`; reduce it to a scalar first"
    )
    simple = receiver is not None and isinstance(receiver, (ast.Name, ast.Attribute, ast.Call, ast.Subscript))
    base = text if simple else f"({text})"
    torch_name = interp.ctx.name_for("torch") or "torch"
    # `.mean()` first (what --fix applies): the usual loss; `.sum()` scales the gradients by the element count
    fixes = [
        (f"Use `{base}.mean().backward()`", [(node, f"{base}.mean().backward()")]),
        (f"Use `{base}.sum().backward()`", [(node, f"{base}.sum().backward()")]),
        (f"Pass `gradient={torch_name}.ones_like({text})`", [(node, f"{base}.backward(gradient={torch_name}.ones_like({text}))")]),
    ]
    rel = []
    if t.origin is not None and t.origin.node is not None:
        rel.append((t.origin.node, f"{shape_str(t.shape)} comes from here"))
    return _finding("TL301", node, msg, rel, fixes=fixes)


def foreign_finding(interp: ShapeSite, f: Finding, entry: ast.AST, target: Any) -> Finding | None:
    """A problem inside code of another file that only this file's values cause
    (sizes it passes, inputs it gives): reported here, at ``entry`` (the call in this
    file that builds or calls that code), with where it fails there."""
    src = interp.src  # the other file's source: its code is running
    path = getattr(src, "path", None)
    if path is None:
        return None
    what = getattr(target, "name", None) or getattr(getattr(target, "node", None), "name", "it")
    msg = (f"`{interp.ctx.src.segment(entry)}`: with what this file passes, `{what}` fails at line "
           f"{_line(f.node)}: {f.message}")
    out = _finding(f.code, entry, msg, [])
    # the related places are in either file (the layer there, the input from here): each with its own file
    here = interp.ctx.src
    there_ids = {id(n) for n in ast.walk(src.tree)} if src.tree is not None else set()
    here_ids = {id(n) for n in ast.walk(here.tree)} if here.tree is not None else set()
    related = [(src if id(n) in there_ids else here, n, m) for n, m in f.related
               if n is not None and (id(n) in there_ids or id(n) in here_ids)]
    out.elsewhere = [(src, f.node, f"{f.code}: it fails here")] + related[:3]
    return out
