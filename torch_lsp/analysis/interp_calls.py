"""Calls of user code: callables resolved (functions, bound methods, classes, partials,
builtins such as getattr/setattr/dict), their arguments bound, and the call dispatched
(a module, a torch function, a function run with the caller's values).

A part of the shape interpreter (``Interpreter`` in ``interpreter.py`` mixes it in)."""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from torch_lsp.analysis import torch_api as T
from torch_lsp.analysis.shapes import UNKNOWN
from torch_lsp.analysis.pyvalues import BUILTIN_CALLS
from torch_lsp.analysis.interp_memo import _MISSING
from torch_lsp.analysis.values import (
    AV, BoundMethodV, CallEntry, ClassV, FuncV, InstanceV, LayerV, LossV, Origin, PartialV, SeqV, TensorV, TupleV, _OrderedDictV,
    StarSizesV, UnionV, _DictV, failed_tensor, has_failed, set_attr,
)


from torch_lsp.analysis.interp_support import (
    FOLLOW_IMPORTED,
    Frame,
    _CONTAINER_VIEWS,
    _LIST_MUTATORS,
    _NOT_FOUND,
    _SCALAR_MATH,
    _STAR_SIZES_METHODS,
    _call_key,
    _concrete,
    _container_entries,
    _forget_attributes,
    _known_keywords,
    _set_label,
    _store_attr,
)


class Calls:
    """Calls of user code."""

    if TYPE_CHECKING:  # what the other parts of the interpreter provide
        _forget: Any
        _imported_class: Any
        _imported_function: Any
        _instance_cache: Any
        _lookup_outer: Any
        _loss: Any
        _memo_begin: Any
        _memo_call: Any
        _memo_end: Any
        _memo_hit: Any
        _memo_key: Any
        _method_of: Any
        _qualify: Any
        _replay: Any
        _run_function: Any
        _super_call: Any
        _tensor_method: Any
        _torch_call: Any
        builtin: Any
        call_module: Any
        chain: Any
        depth: Any
        entries: Any
        epoch: Any
        eval: Any
        flows: Any
        generic: Any
        imported: Any
        instantiate: Any
        effects: Any
        local: Any
        memo_runs: Any
        module_env: Any
        region: Any
        seg: Any

    # ------------------------------------------------------------------ calls
    def _call(self, node: ast.Call, frame: Frame) -> AV:
        f = node.func
        if (type(f) is ast.Attribute and type(f.value) is ast.Call and type(f.value.func) is ast.Name
                and f.value.func.id == "super" and "super" not in frame.env and "super" not in self.module_env):
            return self._super_call(node, f.attr, frame)
        root = node.func
        while type(root) is ast.Attribute:
            root = root.value  # type: ignore[attr-defined]
        # A name no code binds is an import: `Block(...)`, `layers.Block(...)`, `torch.zeros(...)`.
        imported = isinstance(root, ast.Name) and root.id not in frame.env and root.id not in self.module_env and (
            frame.closure is None or self._lookup_outer(root.id, frame) is UNKNOWN)
        func = None
        if not imported or isinstance(node.func, ast.Attribute) and not self._qualify(node.func):
            func = self.eval(node.func, frame)
        elif isinstance(node.func, ast.Attribute) and not (self._qualify(node.func) or "").startswith("torch."):
            func = None  # a class or function of another module of the project: qualified below
        elif isinstance(node.func, ast.Attribute):
            func = self.eval(node.func, frame)
        builtin = None
        if func is None:
            q = self._qualify(node.func)
            func = BoundMethodV(None, q) if q is not None else UNKNOWN
            if q is None and isinstance(node.func, ast.Name) and node.func.id in BUILTIN_CALLS:
                builtin = node.func.id
            elif q is None and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr", "dict") \
                    and node.func.id not in self.module_env and node.func.id not in frame.env:
                builtin = node.func.id
        args, kwargs = self._call_arguments(node, frame)
        if builtin == "getattr":
            return self._getattr(args, kwargs)
        if builtin == "setattr":
            return self._setattr(args, kwargs, frame)
        if builtin == "dict":
            # `dict(reduce_first=1, **kwargs)`: keywords known (a `**` splat of a known dict
            # spread out already); `dict(d)` of such a dict: a copy
            if "**" in kwargs or "*" in kwargs or len(args) > 1 or (args and type(args[0]) is not _DictV):
                return UNKNOWN
            return _DictV({**(args[0].items if args else {}), **kwargs})
        if builtin is not None:
            return self.builtin(builtin, args, kwargs, node, frame)
        return self.call(func, args, kwargs, node, frame)

    def _call_function(self, func: FuncV, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        self_args = [func.self_value] if func.self_value is not None else []
        self.chain.append(CallEntry(func.node, node, len(self_args)))
        try:
            closure = func.closure() if func.closure is not None else None
            entering = self.local and id(func.node) in self.imported
            if entering:
                self.entries.append((node, func))
            try:
                return self._run_function(func.node, self_args + args, kwargs, frame, closure=closure)
            finally:
                if entering:
                    self.entries.pop()
        finally:
            self.chain.pop()

    @staticmethod
    def _getattr(args: list, kwargs: dict) -> AV:
        """``getattr(obj, "name"[, default])``: an attribute an instance of the code
        holds (``getattr(config, "head_dim", ...)`` of a configuration built here); else
        unknown (the attribute may be set where the engine does not see)."""
        if kwargs or len(args) not in (2, 3) or not isinstance(args[1], str) or type(args[0]) is not InstanceV:
            return UNKNOWN
        return args[0].attrs.get(args[1], UNKNOWN)

    def _setattr(self, args: list, kwargs: dict, frame: Frame) -> AV:
        """``setattr(self, name, module)`` (torchvision's ShuffleNet stages, named in a
        loop): an attribute set as ``self.<name> = module`` would; under a name not known,
        any attribute may have changed."""
        if not args or type(args[0]) is not InstanceV:
            return None
        inst = args[0]
        if kwargs or len(args) != 3 or not isinstance(args[1], str):
            _forget_attributes(inst)
            return None
        _store_attr(inst, args[1], args[2], True)
        return None

    def _call_arguments(self, node: ast.Call, frame: Frame) -> tuple[list, dict]:
        """A call's arguments: ``*xs`` of a known sequence spread out, else ``kwargs["*"]``
        (how many is not known); ``**dd`` of a dict with known keys spread out, else
        ``kwargs["**"]``."""
        args: list = []
        star = False
        lead = None
        for a in node.args:
            if isinstance(a, ast.Starred):
                inner = self.eval(a.value, frame)
                if type(inner) is StarSizesV and not args and lead is None and not star:
                    lead = inner.lead  # `x.view(*x.shape[:-1], -1, d)`: one sizes argument
                    args.extend(inner.items)
                elif isinstance(inner, TupleV):
                    args.extend(inner.items)
                elif isinstance(inner, SeqV) and inner.kind != "dict":
                    args.extend(inner.items)
                else:
                    star = True
            else:
                args.append(self.eval(a, frame))
        kwargs: dict = {}
        for k in node.keywords:
            v = self.eval(k.value, frame)
            if k.arg is None:
                known = _known_keywords(v)
                if known is None:
                    kwargs["**"] = UNKNOWN
                else:  # `**dd` with dd = {"device": device, "dtype": dtype}: these keywords only
                    kwargs.update(known)
            else:
                kwargs[k.arg] = v
        if lead is not None:
            # one value for the sizes (only views read it); to any other callee the
            # number of arguments is not known
            args = [StarSizesV(lead, tuple(args))]
            star = True
        if star:
            kwargs["*"] = UNKNOWN
        return args, kwargs

    @staticmethod
    def _ordered_dict(args: list, kwargs: dict) -> AV:
        """``OrderedDict([("fc1", layer), ...])`` (for ``nn.Sequential(OrderedDict(...))``),
        ``OrderedDict()`` filled by ``d["fc1"] = layer``."""
        if not args and not kwargs:
            return _OrderedDictV([])
        if len(args) != 1 or kwargs:
            return UNKNOWN
        pairs = args[0].items if isinstance(args[0], (TupleV, SeqV)) and args[0].items is not None else None
        if pairs is None or not all(isinstance(p, TupleV) and len(p.items) == 2 and isinstance(p.items[0], str) for p in pairs):
            return UNKNOWN
        return _OrderedDictV([(p.items[0], p.items[1]) for p in pairs])

    def call(self, func: AV, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        if type(func) is PartialV:  # `norm_layer = partial(nn.BatchNorm2d, eps=1e-3)`, then `norm_layer(c)`
            return self.call(func.func, list(func.args) + list(args), {**func.kwargs, **kwargs}, node, frame)
        if (args or kwargs) and (has_failed(args) or has_failed(kwargs.values())) or (
                type(func) is BoundMethodV and type(func.base) is TensorV and func.base.failed):
            # A run never gets here (an argument's operation raised), unless that failure
            # was on some paths only: what the call would change in place (a list it
            # appends to, or is handed) is not known then.
            for v in ([func.base] if type(func) is BoundMethodV else []) + list(args) + list(kwargs.values()):
                if type(v) is TupleV and v.region is not None:
                    self._forget(v, frame)
            return failed_tensor()
        kind = type(func)  # (exact types: no value class has subclasses)
        if kind is ClassV:
            if "*" in kwargs:
                return UNKNOWN
            seg = self.seg(node)
            site = Origin("call site", node, seg if len(seg) < 60 else f"{func.info.name}(...)")
            init = self._method_of(func.info, "__init__") if self.depth > 0 else None
            if init is None:
                return self.instantiate(func.info, args, kwargs, node, frame, site)
            key = _call_key(args, kwargs)
            if key is not None:
                key = (id(func.info), key, tuple(sorted(frame.subst.items())), self.generic)
                hit = self._instance_cache.get(key)
                if hit is not None:
                    if self.memo_runs:  # a module made outside the run under way
                        self.effects += 1
                    self._replay(hit[1])
                    if isinstance(hit[0], InstanceV):
                        hit[0].reused = True
                    return hit[0]
            self.chain.append(CallEntry(init, node, 1))
            run = self._memo_begin()
            try:
                inst = self.instantiate(func.info, args, kwargs, node, frame, site)
            finally:
                self.chain.pop()
                self._memo_end(run)
            if key is not None and not run.unsafe:
                self._instance_cache[key] = (inst, run.raised)
            return inst
        if kind is InstanceV or kind is LayerV or kind is SeqV or kind is UnionV:
            return self.call_module(func, args, kwargs, node, frame)
        if kind is FuncV:
            key = self._memo_key(func, args, kwargs, frame)
            if key is None:
                return self._call_function(func, args, kwargs, node, frame)
            hit = self._memo_hit(key)
            if hit is not _MISSING:
                return hit
            return self._memo_call(key, func.node, lambda: self._call_function(func, args, kwargs, node, frame))
        if kind is LossV:
            return self._loss(func.name, func.reduction, args, kwargs, node)
        if kind is BoundMethodV:
            if ("*" in kwargs and (func.base is None or isinstance(func.base, TensorV))
                    and not (len(args) == 1 and type(args[0]) is StarSizesV and isinstance(func.base, TensorV)
                             and func.name in _STAR_SIZES_METHODS)):
                # `x.view(b, *rest)`: arguments not known, nor how many.
                if func.base is None and func.name is not None and (T.is_torch_module_class(func.name) or func.name in T.MODULE_CONTAINERS):
                    return UNKNOWN
                return TensorV(None) if func.name is None or func.name.startswith("torch.") or isinstance(func.base, TensorV) else UNKNOWN
            if func.base is None:
                name = func.name
                if name == "collections.OrderedDict":
                    return self._ordered_dict(args, kwargs)
                if name in _SCALAR_MATH and args and not kwargs and all(type(a) in (int, float) for a in args):
                    # `np.log(10000) / (channels // 2 - 1)`: numbers in, a number out
                    try:
                        out = _SCALAR_MATH[name](*args)
                    except (ValueError, TypeError, OverflowError, ZeroDivisionError):
                        return UNKNOWN
                    return out if type(out) in (int, float) else UNKNOWN
                if name == "itertools.repeat" and len(args) == 2 and not kwargs and type(args[1]) is int and 0 <= args[1] <= 64:
                    return TupleV((args[0],) * args[1])
                if name == "functools.partial":
                    if not args or "**" in kwargs or args[0] is UNKNOWN:
                        return UNKNOWN
                    return PartialV(args[0], tuple(args[1:]), dict(kwargs))
                if FOLLOW_IMPORTED and name is not None and not name.startswith("torch."):
                    if name[name.rfind(".") + 1:name.rfind(".") + 2].isupper():
                        info = self._imported_class(func.name)
                        if info is not None:
                            return self.call(ClassV(info), args, kwargs, node, frame)
                    elif (args or kwargs) and all(_concrete(v) for v in args) and all(_concrete(v) for v in kwargs.values()):
                        # A helper given known values (`_make_divisible(1280 * 0.25, 8)` in a
                        # builder's run): run it. Symbolic or tensor arguments are not
                        # followed (the cost of following every helper call is not paid).
                        helper = self._imported_function(name)
                        if helper is not None:
                            return self.call(helper, args, kwargs, node, frame)
                return self._torch_call(func.name, args, kwargs, node, frame)
            if isinstance(func.base, TensorV):
                return self._tensor_method(func.base, func.name, args, kwargs, node, frame)
            if type(func.base) is _DictV:
                d = func.base
                key = args[0] if args else None
                if func.name in ("get", "pop") and isinstance(key, str) and len(args) <= 2 and not kwargs:
                    # `kwargs.pop("output_attentions", None)`: the keys are known
                    found = d.items.get(key, args[1] if len(args) == 2 else (None if func.name == "get" else _NOT_FOUND))
                    if func.name == "pop":
                        if not (self.flows and all(f.certain for f in self.flows)):
                            self._forget(d, frame)  # on some paths only: not known after it
                            return UNKNOWN
                        d.items = {k: v for k, v in d.items.items() if k != key}  # every holder sees it, as in Python
                    return UNKNOWN if found is _NOT_FOUND else found
                if func.name not in ("get", "keys", "values", "items", "copy", "__contains__"):
                    self._forget(d, frame)  # update, setdefault, clear...
                return UNKNOWN
            if isinstance(func.base, TupleV) and func.name in _LIST_MUTATORS:
                base = func.base
                if (func.name in ("append", "extend", "insert") and len(args) == (2 if func.name == "insert" else 1)
                        and not kwargs and base.region == self.region
                        and base.epoch == self.epoch
                        and all(base is not v for v in self.module_env.values())
                        and (func.name != "extend" or isinstance(args[0], TupleV))
                        and (func.name != "insert" or (type(args[0]) is int and 0 <= args[0] <= len(base.items)))):
                    # A list built step by step where every step surely runs (`layers.append(...)`
                    # then `nn.Sequential(*layers)`): changed in place, so every name holding it sees it.
                    if func.name == "insert":
                        base.items = base.items[:args[0]] + (args[1],) + base.items[args[0]:]
                    else:
                        base.items = base.items + ((args[0],) if func.name == "append" else tuple(args[0].items))
                    return None
                self._forget(base, frame)
                return UNKNOWN
            if isinstance(func.base, SeqV) and func.name in ("add_module", "register_module"):
                # `self.features.add_module("block1", block)`: one more module at the end
                # (Sequential, ModuleList) or under that key (ModuleDict)
                key = args[0] if args else kwargs.get("name")
                module = args[1] if len(args) > 1 else kwargs.get("module", UNKNOWN)
                if not self.flows[-1].certain or func.base.items is None or not isinstance(key, str):
                    self._forget(func.base, frame)
                    return None
                if func.base.kind == "dict":
                    func.base.items = [(k, v) for k, v in func.base.items if k != key] + [(key, module)]
                elif isinstance(module, (LayerV, SeqV, InstanceV, UnionV)):
                    if not module.label and func.base.label:
                        _set_label(module, f"{func.base.label}.{key}")
                    func.base.items.append(module)
                else:
                    self._forget(func.base, frame)
                return None
            if isinstance(func.base, SeqV) and func.name in ("append", "extend", "insert") and func.base.kind != "dict":
                if not self.flows[-1].certain:
                    # appended in a branch the engine cannot decide: the same ModuleList is
                    # changed in place on some runs only; its contents are not known after
                    # (else appends of two exclusive branches would add up)
                    self._forget(func.base, frame)
                    return None
                if func.name == "append" and args:
                    func.base.items.append(args[0])
                elif func.name == "extend" and args and isinstance(args[0], (TupleV, SeqV)):
                    func.base.items.extend(args[0].items)
                else:
                    func.base.items.append(UNKNOWN)
                return None
            if isinstance(func.base, SeqV) and func.name in ("items", "values", "keys") and func.base.kind == "dict":
                if func.name == "values":
                    return TupleV(tuple(v for _, v in func.base.items))
                if func.name == "keys":
                    return TupleV(tuple(k for k, _ in func.base.items))
                return TupleV(tuple(TupleV((k, v)) for k, v in func.base.items))
            if isinstance(func.base, InstanceV) and func.name in _CONTAINER_VIEWS and not args and not kwargs:
                entries = _container_entries(func.base)
                if entries is None:
                    return UNKNOWN
                if func.name == "values":
                    return TupleV(tuple(v for _, v in entries))
                if func.name == "keys":
                    return TupleV(tuple(k for k, _ in entries))
                if func.name == "children":
                    return TupleV(tuple(v for _, v in entries))
                return TupleV(tuple(TupleV((k, v)) for k, v in entries))  # items, named_children
            if isinstance(func.base, InstanceV) and func.name in ("register_buffer", "register_parameter", "add_module", "register_module"):
                key = args[0] if args else kwargs.get("name")
                value = args[1] if len(args) > 1 else kwargs.get("tensor", kwargs.get("param", kwargs.get("module", UNKNOWN)))
                if isinstance(key, str):
                    if isinstance(value, (LayerV, SeqV, InstanceV)) and not value.label:
                        _set_label(value, f"self.{key}")
                    set_attr(func.base, key, value)
                else:
                    _forget_attributes(func.base)  # under a name not known: any of them
                return None
            if isinstance(func.base, (LayerV, SeqV, InstanceV)) and func.name in ("to", "cuda", "cpu", "eval", "train", "float", "double", "half", "requires_grad_"):
                return func.base
            if isinstance(func.base, (LayerV, SeqV, InstanceV)) and func.name == "forward":
                return self.call_module(func.base, args, kwargs, node, frame)
        return UNKNOWN
