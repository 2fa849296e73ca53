"""Calls into torch: layers (construction, their forward with the input's shape),
factories, tensor methods and functions through the registry, losses; the
symbolic/concrete duality of sizes a call site fixes.

A part of the shape interpreter (``Interpreter`` in ``interpreter.py`` mixes it in)."""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any, Callable

from torch_lsp.strict import swallowed
from torch_lsp.analysis import registry as R
from torch_lsp.analysis.registry import _flat_sizes
from torch_lsp.analysis import torch_api as T
from torch_lsp.analysis.shapes import UNKNOWN, FloorDiv, Shape, Sym, _Unknown, dim_eq, is_dim, sym
from torch_lsp.analysis.shape_types import Layer, Result, ShapeError
from torch_lsp.analysis.values import (
    AV, BoundMethodV, FuncV, InstanceV, LayerV, Origin, SeqV, TensorV, TupleV, _OrderedDictV,
    failed_tensor,
)

from torch_lsp.analysis import layers as L
from torch_lsp.analysis import ops as O


from torch_lsp.analysis.interp_support import (
    CallSite,
    Frame,
    LayerCall,
    _CHECKPOINT_KEYWORDS,
    _FUNCTIONAL_LAYERS,
    _FUNCTIONAL_POOLS,
    _LOSS_CLASSES,
    _merge_out,
    _shape_pairs,
)


def flattened_dims(shape: Shape | None, start: Any, end: Any) -> tuple:
    """The dims ``torch.flatten(x, start, end)`` (or ``nn.Flatten(start, end)``) multiplies
    into one (``()`` when they are not known)."""
    if shape is None or shape.prefix or type(start) is not int or type(end) is not int:
        return ()
    n = len(shape.dims)
    if not (-n <= start < n and -n <= end < n):
        return ()
    return tuple(shape.dims[start % n:end % n + 1])


class TorchCalls:
    """Calls into torch."""

    if TYPE_CHECKING:  # what the other parts of the interpreter provide
        _config_error: Any
        _layer_error: Any
        _op_error: Any
        _recorders: Any
        _size_label: Any
        _size_symbol: Any
        active: Any
        call: Any
        chain: Any
        effects: Any
        flows: Any
        instance_stack: Any
        layer_calls: Any
        module_env: Any
        seg: Any
        shared_paths: Any

    def _conc_escaping(self, v: AV, frame: Frame) -> AV:
        if isinstance(v, TensorV) and v.shape is not None:
            shape = self._conc_deep(v.shape, frame)
            return v if shape is v.shape else TensorV(shape, v.origin)
        if isinstance(v, TupleV):
            return TupleV(tuple(self._conc_escaping(x, frame) for x in v.items))
        if isinstance(v, Sym):
            return self._conc_deep(v, frame)
        return v

    def _call_layer(self, mod: LayerV, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        layer = mod.layer
        if layer.cls in _LOSS_CLASSES:
            return self._loss(_LOSS_CLASSES[layer.cls], layer.params.get("reduction", "mean"), args, kwargs, node)
        if args and args[0] is UNKNOWN:
            # the output of something the engine does not follow (``self.features = make(cfg)``,
            # a helper of another package): if this call runs, it was a tensor, and what the
            # layer returns is known in part (``[*, out_features]``), so the next layer is checked
            args = [TensorV(None)] + list(args[1:])
        inputs = [a.shape if isinstance(a, TensorV) else None for a in args]
        if not args or not all(isinstance(a, TensorV) for a in args[:1]):
            return UNKNOWN
        try:
            res = self.dual(L.forward, (layer, inputs, kwargs), frame)
        except Exception:  # a transfer function must never break the analysis
            swallowed()
            return TensorV(None)
        if res.error is not None:
            self._layer_error(mod, args[0], res.error, node, frame)
            # The summary shows the row as if fixed; the value that flows on is unknown
            # (the call raises: nothing after it is derived from its output).
            fixed = self._as_if_fixed(layer, res.error, inputs, kwargs, frame)
            self._record_layer_call(mod, inputs[0] if inputs else None, fixed.out if fixed is not None else None, frame,
                                    res.error.message)
            return failed_tensor()
        else:
            self._record_layer_call(mod, inputs[0] if inputs else None, res.out, frame)
            if inputs and inputs[0] is None:
                lead = self._pin(args[0], node.args[0] if node.args else None, mod, frame)
                if lead is not None and isinstance(res.out, Shape) and res.out.prefix:
                    res = Result(Shape(res.out.dims, True, lead))  # a Linear keeps its input's leading sizes
        origin_in = args[0].origin
        preserving = layer.cls in T.STATELESS_LAYERS or layer.short.startswith("Dropout")
        if layer.cls == "torch.nn.Flatten":  # as `torch.flatten(x, start, end)`: the dims it multiplied
            origin = Origin("flatten", node, mod.label or layer.short, mod.node, factors=flattened_dims(inputs[0], layer.params.get("start_dim", 1),
                                                    layer.params.get("end_dim", -1)),
                            site=origin_in.site if origin_in else None, chain=mod.chain)
        elif preserving and origin_in is not None:
            origin = origin_in
        else:
            origin = Origin("layer", node, mod.label or layer.short, mod.node, site=origin_in.site if origin_in else None, chain=mod.chain)
        return self._wrap_output(res.out, origin)

    def _pin(self, x: AV, arg: ast.AST | None, mod: LayerV, frame: Frame) -> Any:
        """A tensor of unknown shape that a layer accepted has the shape the layer
        takes (or the run stopped there): ``self.qkv(x)`` makes ``x`` ``[*, dim]`` for
        what follows, in every running frame that holds it (the caller's ``residual``
        is the same tensor), on this path only (the names are rebound, not the value
        changed). Not where alternatives share the names (see ``shared_paths``).
        For a ``Linear``, whose output has its input's leading sizes, returns the
        symbol now standing for them in both (``Shape.lead``); else None."""
        if type(x) is not TensorV or x.shape is not None or x.failed or self.shared_paths:
            return None
        layer = mod.layer
        want = L.expected_input(layer)
        if want is None or not any(d is not UNKNOWN for d in want.dims):
            return None
        seg = self.seg(arg) if arg is not None else "the input"
        origin = Origin("pinned", arg, mod.label or layer.short, mod.node, site=x.origin.site if x.origin else None,
                        chain=mod.chain, factors=(seg if len(seg) <= 40 else "the input",))
        lead = None
        if layer.cls == "torch.nn.Linear" and want.prefix and len(want.dims) == 1 and arg is not None:
            lead = x.lead if x.lead is not None else self._size_symbol(f"{self._size_label(arg)}.shape[:-1]", x)
            want = Shape(want.dims, True, lead)
        pinned = TensorV(want, origin, x.parameter)
        for flow in self.flows:
            running = getattr(flow.ops, "frame", None)
            env = running.env if running is not None else None
            if env is None or env is self.module_env:
                continue
            for k, v in env.items():
                if v is x:
                    env[k] = pinned
        return lead

    def _as_if_fixed(self, layer: Layer, err: ShapeError, inputs: list, kwargs: dict, frame: Frame) -> Result | None:
        """The layer's output as if the fix were applied (its size argument set to what
        it receives): shown in the summary's row for the failing layer. The analysis
        itself goes on with a failed value (nothing is derived from it)."""
        if err.kind not in ("features", "channels") or err.param is None or err.expected is None or err.param not in layer.params:
            return None
        fixed = Layer(layer.cls, {**layer.params, err.param: err.expected})
        try:
            res = self.dual(L.forward, (fixed, inputs, kwargs), frame)
        except Exception:
            swallowed()
            return None
        return res if res.error is None else None

    def _record_layer_call(self, mod: LayerV, shape_in: Shape | None, out: Any, frame: Frame, error: str = "") -> None:
        if not self.instance_stack:
            return
        self.effects += 1  # kept for the summary (see interp_memo)
        label = mod.label or f"nn.{mod.layer.short}"
        if len(self.instance_stack) > 1:
            inner = self.instance_stack[-1]
            label = f"{inner.label or inner.cls.name}.{label.removeprefix('self.')}"
        subst = dict(frame.subst)
        for rec in self._recorders:
            rec.append((mod, shape_in, out, label, subst, error))
        self._store_layer_call(mod, shape_in, out, label, subst, frame.site, error)

    def _store_layer_call(self, mod: LayerV, shape_in: Shape | None, out: Any, label: str, subst: dict, site: Origin | None, error: str = "") -> None:
        if not self.instance_stack:
            return
        inst = self.instance_stack[0]  # the outermost module: the one a summary is about
        key: Any = CallSite(site.node) if site is not None and site.node is not None else "generic"
        self.layer_calls.setdefault(inst.cls.name, {}).setdefault(key, []).append(LayerCall(label, mod, shape_in, out, subst, error))

    def _wrap_output(self, out: Any, origin: Origin | None) -> AV:
        if isinstance(out, tuple):
            return TupleV(tuple(self._wrap_output(o, origin) for o in out))
        if isinstance(out, Shape) or out is None:
            return TensorV(out, origin)
        return UNKNOWN

    # ------------------------------------------------------------------ torch calls
    def _torch_call(self, name: str | None, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        if name is None:
            return UNKNOWN
        if name in T.PARAMETER_CLASSES or name in T.BUFFER_CLASSES:
            data = args[0] if args else kwargs.get("data")
            param = name in T.PARAMETER_CLASSES
            return TensorV(data.shape, data.origin, parameter=param) if isinstance(data, TensorV) else TensorV(None, parameter=param)
        if T.is_torch_module_class(name) or name in T.MODULE_CONTAINERS:
            if "*" in kwargs:
                return UNKNOWN  # `nn.Sequential(*layers)` with layers not known
            return self._construct_layer(name, args, kwargs, node, frame)
        short = name.rsplit(".", 1)[-1]
        if name in T.TENSOR_FACTORIES or name in ("torch.Tensor",):
            return self._factory(short, args, kwargs, node)
        if name == "torch.utils.checkpoint.checkpoint" and args and isinstance(args[0], (FuncV, LayerV, SeqV, InstanceV)):
            # `checkpoint(fn, *args)` calls `fn(*args)`; its own keywords are not fn's
            passed = {k: v for k, v in kwargs.items() if k not in _CHECKPOINT_KEYWORDS}
            return self.call(args[0], list(args[1:]), passed, node, frame)
        if name.startswith("torch.nn.functional.") or name.startswith("torch."):
            return self._function(short, name, args, kwargs, node, frame)
        if name in T.DEFAULT_STANDS_FOR:
            i, key = T.DEFAULT_STANDS_FOR[name]
            return args[i] if len(args) > i else kwargs.get(key, UNKNOWN)
        if name in T.ACTIVATION_FACTORIES or name == T.ACTIVATION_CLASS:
            return LayerV(Layer(L.ACTIVATION, {}), node)
        if name in T.ACTIVATION_CLASS_FACTORIES:
            return BoundMethodV(None, T.ACTIVATION_CLASS)
        self._callbacks(args, kwargs, node, frame)
        return UNKNOWN

    def _callbacks(self, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> None:
        """A function the engine does not know, handed a function of this code
        (`apply_chunking_to_forward(self.feed_forward_chunk, ..., x)`, a hook): the
        callback runs some time, with arguments the engine cannot map, so its body is
        checked with unknown arguments (what it finds holds whatever they are). Only
        methods and nested functions: those reach the module's layers."""
        for v in list(args) + list(kwargs.values()):
            if type(v) is not FuncV or not isinstance(v.node, ast.FunctionDef) or id(v.node) in self.active:
                continue
            if v.self_value is None and v.closure is None:
                continue  # a function of the module (`eager_attention_forward` as a default): no layers of its own
            a = v.node.args
            params = (a.posonlyargs + a.args)[1 if v.self_value is not None else 0:len(a.posonlyargs + a.args) - len(a.defaults)]
            self.call(v, [TensorV(None, Origin("argument", p, f"`{p.arg}`")) for p in params], {"**": UNKNOWN}, node, frame)

    def _construct_layer(self, cls: str, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        if cls == "torch.nn.Sequential":
            items: list | None
            items = list(args)
            if len(items) == 1 and isinstance(items[0], _OrderedDictV):
                items = [v for _, v in items[0].items]
            return SeqV("sequential", items, node)
        if cls == "torch.nn.ModuleList":
            first = args[0] if args else TupleV(())
            items = list(first.items) if isinstance(first, (TupleV, SeqV)) else None
            return SeqV("list", items, node) if items is not None else UNKNOWN
        if cls == "torch.nn.ModuleDict":
            return UNKNOWN
        if cls in _LOSS_CLASSES:
            layer: Layer | None
            layer = Layer(cls, {"reduction": kwargs.get("reduction", "mean")})
            return LayerV(layer, node)
        try:
            layer = L.bind(cls, args, kwargs)
        except Exception:
            swallowed()
            layer = None
        if layer is None:
            return UNKNOWN
        try:
            errors = L.config_errors(self._conc_deep(layer, frame))
        except Exception:
            swallowed()
            errors = []
        for err in errors:
            self._config_error(layer, err, node, frame)
        if errors:
            return UNKNOWN  # the construction raises: nothing is derived from what it would be
        return LayerV(layer, node, chain=tuple(self.chain))

    def _factory(self, short: str, args: list, kwargs: dict, node: ast.Call) -> AV:
        origin = Origin("factory", node, self.seg(node) if len(self.seg(node)) < 50 else f"torch.{short}(...)")
        try:
            if short.endswith("_like"):
                base = args[0] if args else None
                return TensorV(base.shape if isinstance(base, TensorV) else None, origin)
            if short == "arange":
                # (ops.arange_shape and eye_shape give a Shape or None; Result.out, in shape_types.py, may also be a tuple)
                return TensorV(O.arange_shape(*args[:3]).out if args else None, origin)  # type: ignore[arg-type]
            if short == "eye":
                return TensorV(O.eye_shape(*args[:2]).out if args else None, origin)  # type: ignore[arg-type]
            if short in ("linspace", "logspace", "randperm"):  # 1-D: `steps` (`n`) elements
                steps: AV = kwargs.get("steps", args[2] if len(args) > 2 else None) if short != "randperm" else \
                    kwargs.get("n", args[0] if args else None)
                known = is_dim(steps) and not isinstance(steps, bool) and not (isinstance(steps, int) and steps < 0)
                return TensorV(Shape.of(steps) if known else None, origin)
            if short in ("tensor", "as_tensor", "asarray"):
                return TensorV(self._data_shape(args[0]) if args else None, origin)
            if short in ("zeros", "ones", "empty", "rand", "randn", "full"):
                sizes = args[:1] if short == "full" else args
                if short == "full" and args:
                    sizes = [args[0]]
                if "size" in kwargs:
                    sizes = [kwargs["size"]]
                flat = _flat_sizes(list(sizes))
                if flat is not None and "*" not in kwargs:
                    return TensorV(Shape(tuple(flat)), origin)
                return TensorV(None, origin)
            if short == "randint":
                size = kwargs.get("size") or (args[-1] if args else None)
                if isinstance(size, TupleV) and all(is_dim(d) for d in size.items):
                    return TensorV(Shape(tuple(size.items)), origin)
        except Exception:
            swallowed()
            pass
        return TensorV(None, origin)

    def _data_shape(self, v: AV) -> Shape | None:
        if isinstance(v, (int, float, bool)) and not isinstance(v, _Unknown):
            return Shape(())
        if isinstance(v, TupleV):
            if not v.items:
                return Shape((0,))
            inner = [self._data_shape(x) for x in v.items]
            if all(s is not None and s == inner[0] for s in inner):
                return Shape((len(v.items),) + inner[0].dims)  # type: ignore[union-attr]
        return None

    def _function(self, short: str, name: str, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        """A torch function (``torch.flatten``, ``F.interpolate``): its entry in the
        registry of ops, keyed by qualified name."""
        op = R.lookup(name)
        if op is not None and op.binds == R.ARGS:
            return self._apply_op(op, None, args, kwargs, node, frame)
        x = args[0] if args and isinstance(args[0], TensorV) else None
        if x is None:
            return TensorV(None) if any(isinstance(a, TensorV) for a in args) else UNKNOWN
        if op is None:
            return TensorV(None)
        return self._apply_op(op, x, args[1:], kwargs, node, frame)

    def _tensor_method(self, t: TensorV, name: str, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        """``x.view(...)``: the registry's ``torch.Tensor.<name>``."""
        op = R.lookup("torch.Tensor." + name)
        if op is None:
            return TensorV(None, t.origin)
        return self._apply_op(op, t, args, kwargs, node, frame)

    def _apply_op(self, op: Any, x: TensorV | None, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        if op.needs_shape and x is not None and x.shape is None:
            return TensorV(None, x.origin)
        try:
            return op.handler(self, x, args, kwargs, node, frame, op.name.rsplit(".", 1)[1])
        except Exception:  # a shape function must never break the analysis
            swallowed()
            return TensorV(None)

    def _functional_layer(self, t: TensorV, name: str, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        """``F.max_pool2d(x, 2)``, ``F.conv2d(x, w, ...)``: the module's transfer
        function on the equivalent layer. Only the output is used: a functional call
        has no constructor argument to point a fix at, so mismatches stay silent here."""
        layer = None
        if name in _FUNCTIONAL_POOLS:
            layer = L.bind(_FUNCTIONAL_POOLS[name], list(args), dict(kwargs))
        elif name in _FUNCTIONAL_LAYERS and args and isinstance(args[0], TensorV):
            w = args[0].shape
            if w is None or w.prefix or w.rank is None or w.rank < 3:
                return TensorV(None)
            rest = list(args[2:])
            names = ("stride", "padding", "dilation", "groups")
            given = {k: v for k, v in zip(names, rest)}
            given.update({k: kwargs[k] for k in names if k in kwargs})
            groups = given.get("groups", 1)
            if not is_dim(groups):
                return TensorV(None)
            layer = L.bind(_FUNCTIONAL_LAYERS[name], [w.dims[1] * groups, w.dims[0], tuple(w.dims[2:])], {k: v for k, v in given.items()})
        elif name == "embedding" and args and isinstance(args[0], TensorV):
            w = args[0].shape
            if t.shape is None or w is None or w.rank != 2:
                return TensorV(None)
            return TensorV(Shape(t.shape.dims + (w.dims[1],), t.shape.prefix), t.origin)
        if layer is None:
            return TensorV(None)
        try:
            res = self.dual(L.forward, (layer, [t.shape], {}), frame)
        except Exception:
            swallowed()
            return TensorV(None)
        if res.error is not None:
            return TensorV(None)
        return self._wrap_output(res.out, Origin("op", node, self.seg(node)[:60], site=t.origin.site if t.origin else None))

    # ------------------------------------------------------------------ op plumbing
    def _op_result(self, fn: Callable[..., Result], fn_args: tuple, node: ast.AST, origin: Origin | None, frame: Frame) -> AV:
        try:
            res = self.dual(fn, fn_args, frame)
        except Exception:
            swallowed()
            return TensorV(None)
        if res.error is not None:
            return TensorV(None)
        return self._wrap_output(res.out, origin)

    # ------------------------------------------------------------------ symbols and a call site's values
    def dual(self, fn: Callable[..., Result], fn_args: tuple, frame: Frame) -> Result:
        """Run a transfer function on symbolic arguments and, when a call site binds
        the symbols, on its values too: errors are decided on the values (what will
        happen at run time), the output keeps the symbols where they are known (so
        hovers and fixes can name ``hidden_dim``)."""
        if not frame.subst:
            return fn(*fn_args)
        conc_args = self._conc_deep(fn_args, frame)
        if conc_args is fn_args:
            return fn(*fn_args)
        res_c = fn(*conc_args)
        if res_c.error is not None:
            return self._symbolic_expected(res_c, fn_args, conc_args)
        try:
            res_s = fn(*fn_args)
        except Exception:
            swallowed()
            return res_c
        if res_s.error is not None:
            return res_c
        return Result(_merge_out(res_s.out, res_c.out), None, res_c.notes)

    @staticmethod
    def _symbolic_expected(res: Result, fn_args: tuple, conc_args: tuple) -> Result:
        """An error decided on the call site's values names the size a fix should
        write; when exactly one symbolic input dimension has that value, say the
        symbol instead (``hidden_dim`` rather than 64)."""
        err = res.error
        want = err.expected if err is not None else None
        if want is None or isinstance(want, bool):
            return res
        pairs: list = []
        _shape_pairs(fn_args, conc_args, pairs)
        wants = want if isinstance(want, tuple) else (want,)
        if not all(isinstance(w, int) for w in wants):
            return res
        k = len(wants)
        found = set()
        for sdims, cdims in pairs:
            for i in range(len(cdims) - k + 1):
                if tuple(cdims[i:i + k]) == wants and any(isinstance(d, Sym) for d in sdims[i:i + k]):
                    found.add(tuple(sdims[i:i + k]))
        if len(found) != 1:
            return res
        new = found.pop()
        from dataclasses import replace

        # (err is not None: want is not None)
        return Result(res.out, replace(err, expected=new if isinstance(want, tuple) else new[0]), res.notes)  # type: ignore[type-var]

    def _conc_deep(self, v: Any, frame: Frame) -> Any:
        """``v`` with the call site's values substituted for constructor symbols;
        ``v`` itself (identical) when nothing changes."""
        if not frame.subst:
            return v
        if isinstance(v, Sym):
            c = self.concrete(v, frame)
            return v if c == v else c
        if isinstance(v, Shape):
            dims = self._conc_deep(v.dims, frame)
            return v if dims is v.dims else Shape(dims, v.prefix, v.lead)
        if isinstance(v, (tuple, list)):
            items = [self._conc_deep(x, frame) for x in v]
            if all(a is b for a, b in zip(items, v)):
                return v
            return tuple(items) if isinstance(v, tuple) else items
        if isinstance(v, slice):
            parts = self._conc_deep((v.start, v.stop, v.step), frame)
            return v if parts == (v.start, v.stop, v.step) else slice(*parts)
        if isinstance(v, Layer):
            params = {k: self._conc_deep(x, frame) for k, x in v.params.items()}
            return v if all(params[k] is v.params[k] for k in params) else Layer(v.cls, params)
        return v

    def _tensor_op(self, name: str, fn: Callable[..., Result], fn_args: tuple, operands: list, node: ast.AST, frame: Frame, family: str | None, flatten_sizes: Any = None) -> AV:
        """``family``: what kind of operation fails when it fails (matmul, broadcast,
        reshape, concat: the rules say which rule that is); None: not reported."""
        if any(isinstance(o, TensorV) and o.shape is None for o in operands) and name not in ("cat", "stack", "concat", "concatenate", "broadcast", "matmul"):
            return TensorV(None)
        try:
            res = self.dual(fn, fn_args, frame)
        except Exception:
            swallowed()
            return TensorV(None)
        if res.error is not None:
            if family is not None:
                self._op_error(family, res.error, operands, node, frame)
            return failed_tensor()
        origin = None
        if flatten_sizes is not None:
            first = operands[0]
            factors = tuple(first.shape.dims[1:]) if first.shape is not None and not first.shape.prefix else ()
            if factors and isinstance(flatten_sizes, (tuple, list)) and flatten_sizes[:1] != ("flatten",):
                # `x.reshape(b, n, -1)`: the -1 takes the dims after the sizes kept as they were
                sizes = tuple(flatten_sizes)
                k = len(sizes) - 1
                dims = first.shape.dims
                kept = (k >= 1 and type(sizes[-1]) is int and sizes[-1] == -1 and k < len(dims)
                        and all(dim_eq(a, b) is True for a, b in zip(sizes[:k], dims[:k])))
                factors = tuple(dims[k:]) if kept else ()
            if factors and isinstance(flatten_sizes, tuple) and flatten_sizes[:1] == ("flatten",):
                factors = flattened_dims(first.shape, flatten_sizes[1], flatten_sizes[2])
            origin = Origin("flatten", node, self.seg(node), factors=factors, site=first.origin.site if first.origin else None)
        elif operands and isinstance(operands[0], TensorV) and operands[0].origin is not None:
            origin = Origin("op", node, self.seg(node), site=operands[0].origin.site)
        return self._wrap_output(res.out, origin)

    # ------------------------------------------------------------------ losses and backward
    def _loss(self, name: str, reduction: AV, args: list, kwargs: dict, node: ast.AST) -> AV:
        if len(args) < 2 or not isinstance(args[0], TensorV):
            return TensorV(None)
        red = kwargs.get("reduction", reduction)
        if not isinstance(red, str):
            return TensorV(None)
        target = args[1].shape if isinstance(args[1], TensorV) else None
        try:
            res = O.loss_output_for(name, args[0].shape, target, red)
        except Exception:
            swallowed()
            return TensorV(None)
        origin = Origin("op", node, self.seg(node) if len(self.seg(node)) < 60 else f"{name}(...)")
        return self._wrap_output(res.out if res.error is None else None, origin)

    # ------------------------------------------------------------------ decisions
    def concrete(self, d: AV, frame: Frame) -> AV:
        """Substitute the call site's values for constructor symbols."""
        if isinstance(d, Sym) and frame.subst:
            out: AV = 0
            for mono, coeff in d.terms:
                term: AV = coeff
                for atom in mono:
                    if isinstance(atom, str) and atom in frame.subst:
                        term = term * frame.subst[atom]
                    elif isinstance(atom, str):
                        term = term * sym(atom)
                    elif isinstance(atom, FloorDiv):  # (H - 3) // 2: substitute inside
                        inner = self.concrete(atom.num, frame)
                        term = term * (inner // atom.den) if is_dim(inner) else UNKNOWN
                    else:
                        term = UNKNOWN
                out = out + term
            return out
        return d
