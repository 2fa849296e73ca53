"""Module instances: construction (``__init__`` run with the arguments, data classes and
configurations), ``super()`` calls, and calling a module (its ``forward``, with the call
site's values).

A part of the shape interpreter (``Interpreter`` in ``interpreter.py`` mixes it in)."""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from torch_lsp.analysis.shapes import UNKNOWN, Sym, sym
from torch_lsp.analysis.values import (
    AV, FuncV, InstanceV, LayerV, Origin, SeqV, TensorV, TupleV, UnionV, failed_tensor, join_values, set_attr,
)

from torch_lsp.analysis import layers as L


from torch_lsp.analysis.interp_support import (
    CallSite,
    DataField,
    FOLLOW_OTHER_FILES,
    Frame,
    MAX_DEPTH,
    _NOT_FOUND,
    _SEQUENTIAL,
    _TORCH_LAYER,
    _accepts_other_keywords,
    _as_instance,
    _call_key,
    _class_mro,
    _data_class_fields,
    _decorator_name,
    _extra_keywords,
    _params_of,
    _sequential_items,
)


class Instances:
    """Module instances."""

    if TYPE_CHECKING:  # what the other parts of the interpreter provide
        _block: Any
        _body_runs: Any
        _call_arguments: Any
        _call_layer: Any
        _conc_escaping: Any
        _construct_layer: Any
        _enter: Any
        _forward_cache: Any
        _function_result: Any
        _leave: Any
        _memo_begin: Any
        _memo_end: Any
        _method_of: Any
        _recorders: Any
        _replay: Any
        _run_function: Any
        _store_layer_call: Any
        _suppressed: Any
        call: Any
        ctx: Any
        depth: Any
        effects: Any
        entries: Any
        epoch: Any
        eval: Any
        flows: Any
        foreign: Any
        generic: Any
        imported: Any
        instance_stack: Any
        local: Any
        memo_runs: Any
        model: Any
        module_env: Any
        module_frame: Any
        new_flow: Any
        seg: Any
        shared_paths: Any
        site_classes: Any
        summary_instances: Any

    def _super_call(self, node: ast.Call, name: str, frame: Frame) -> AV:
        """``super().__init__(...)`` / ``super().forward(x)`` in a method of a Module
        class: the next class's method, a user class's (run with the same instance) or
        the torch layer the class extends (``class ConvNextLayerNorm(nn.LayerNorm)``,
        whose ``super().forward(x)`` is LayerNorm's)."""
        args, kwargs = self._call_arguments(node, frame)
        fn = frame.fn
        params = _params_of(fn)
        inst = frame.env.get(params[0].arg) if params else None
        if not isinstance(inst, InstanceV) or not isinstance(fn, ast.FunctionDef):
            return UNKNOWN
        owner = self._owner_of(inst.cls, fn)
        if (name == "__init__" and owner is not None and not owner.user_bases
                and "torch.nn.Sequential" in owner.torch_bases and "**" not in kwargs and not kwargs.keys() - {"*"}):
            # `class ConvNormAct(nn.Sequential)`: `super().__init__(*layers)` makes the
            # layers its first items (unknown when the layers are)
            built = UNKNOWN if "*" in kwargs else self._construct_layer("torch.nn.Sequential", args, {}, node, frame)
            set_attr(inst, _SEQUENTIAL, built if isinstance(built, SeqV) else UNKNOWN)
            return None
        if (name == "__init__" and owner is not None and not owner.user_bases and not args and not kwargs
                and owner.torch_bases & {"torch.nn.ModuleDict", "torch.nn.ModuleList"}):
            # `class DenseBlock(nn.ModuleDict)` with `super().__init__()`: no items yet; its
            # modules are what `__init__` registers, in order (`self.add_module(...)`)
            set_attr(inst, _SEQUENTIAL, SeqV("sequential", [], node))
            return None
        if owner is None or "*" in kwargs:
            return UNKNOWN
        for base in owner.user_bases:
            nxt = self._method_of(self.model.info(base), name)
            if nxt is not None:
                return self.call(FuncV(nxt, inst), args, kwargs, node, frame)
        if owner.user_bases:
            return UNKNOWN  # a base whose method is not seen
        layers = [b for b in owner.torch_bases if b in L.SUPPORTED]
        if len(layers) != 1:
            return UNKNOWN
        if name == "__init__":
            built = self._construct_layer(layers[0], args, kwargs, node, frame)
            if isinstance(built, LayerV):
                built.label = built.label or inst.label
                set_attr(inst, _TORCH_LAYER, built)
            return None
        layer = inst.attrs.get(_TORCH_LAYER)
        if name == "forward" and isinstance(layer, LayerV):
            return self._call_layer(_as_instance(layer, inst), args, kwargs, node, frame)
        return UNKNOWN

    def _owner_of(self, info: Any, fn: ast.FunctionDef, depth: int = 0) -> Any:
        """The class among ``info`` and its project bases whose body defines ``fn`` (for a
        method of another file read from its whole parse, the class whose outline has it
        at the same line)."""
        if fn in info.node.body or (id(fn) in self.imported and any(
                isinstance(b, ast.FunctionDef) and b.lineno == fn.lineno and b.name == fn.name for b in info.node.body)):
            return info
        if depth > 20:
            return None
        for base in info.user_bases:
            hit = self._owner_of(self.model.info(base), fn, depth + 1)
            if hit is not None:
                return hit
        return None

    # ------------------------------------------------------------------ modules
    def instantiate(self, info: Any, args: list, kwargs: dict, node: ast.AST | None, frame: Frame, site: Origin | None = None) -> AV:
        inst = InstanceV(info, node=node, site=site, built_here=self.local)
        init = self._method_of(info, "__init__")
        if not info.is_module:
            # a data class's generated __init__ wins over a base's written one
            # (transformers' ModelOutput subclasses)
            fields = _data_class_fields(self.model, info)
            if fields is not None:
                self._fill_data_instance(inst, info, fields, args, kwargs, node, frame)
                return inst
            if init is None:
                return inst
        if init is None:
            layers = [b for b in info.torch_bases if b in L.SUPPORTED]
            if len(layers) == 1 and isinstance(node, ast.Call) and "*" not in kwargs:
                built = self._construct_layer(layers[0], args, kwargs, node, Frame(self.module_env))
                if isinstance(built, LayerV):
                    set_attr(inst, _TORCH_LAYER, built)
            return inst
        if self.depth > MAX_DEPTH or (id(init) in self.foreign and not FOLLOW_OTHER_FILES):
            if self.memo_runs and self.depth > MAX_DEPTH:
                self.effects += 1  # a limit the same call elsewhere may not meet
            return inst
        entering = node is not None and self.local and id(init) in self.imported
        if entering:
            self.entries.append((node, info))  # type: ignore[arg-type]  # entering: node is not None
        saved = self._enter(init)
        epoch = self.epoch
        try:
            return self._instantiate_in_file(inst, info, init, args, kwargs, frame, site)
        finally:
            self._leave(saved)
            self.epoch = epoch  # (as in _run_function)
            if entering:
                self.entries.pop()

    def _fill_data_instance(self, inst: "InstanceV", info: Any, fields: "list[DataField]", args: list, kwargs: dict,
                            node: ast.AST | None, frame: Frame) -> None:
        """A data class built (``@dataclass``, a ``dataclass_transform`` base such as
        transformers' configs, a ``NamedTuple``): its generated ``__init__`` stores each
        field from the arguments or its default, then ``__post_init__`` runs. Anything
        the generated ``__init__`` would not accept as written (an unknown keyword, a
        ``**`` splat, a missing field, positional arguments where fields are
        keyword-only) leaves every field unknown."""
        if "**" in kwargs or "*" in kwargs:
            return
        names = {f.name for f in fields}
        extra = {k: v for k, v in kwargs.items() if k not in names}
        amap: dict | None
        amap = {}
        if extra:
            # Only a class that accepts other keywords (huggingface's `@strict(accept_kwargs=
            # True)`, transformers' configs) hands them to `__post_init__`, which stores
            # them as attributes, through the class's `attribute_map` when its
            # `__setattr__` maps names; anything else raises, or maps them in a way not read.
            amap = self._attribute_map(info)
            if amap is None or not _accepts_other_keywords(self.model, info):
                return
        positional = [f for f in fields if not f.kw_only]
        if len(args) > len(positional):
            return
        values: dict = {}
        for f, value in zip(positional, args):
            values[f.name] = value
        for f in fields:
            if f.name in values:
                continue
            if f.name in kwargs:
                values[f.name] = kwargs[f.name]
            elif f.default is None:
                return  # a required field not given: the call raises
            else:
                values[f.name] = self._field_default(f)
        for name, value in values.items():
            set_attr(inst, name, value)
        post = self._method_of(info, "__post_init__")
        if post is not None and isinstance(node, ast.Call):
            self.call(FuncV(post, inst), [], dict(extra), node, frame)
        for k, v in extra.items():
            setter = self._property_setter(info, k)
            if setter is not None:
                # `num_labels=5`: a property's setter runs; what it stores is not known
                # (`id2label`), what the property reads back is the value set
                for attr in self._attributes_stored(setter):
                    set_attr(inst, attr, UNKNOWN)
            set_attr(inst, amap.get(k, k), v)

    def _attribute_map(self, info: Any) -> dict | None:
        """How a class renames attributes: ``{}`` when no class of its MRO defines
        ``__setattr__`` or ``__getattribute__``; else the nearest ``attribute_map``
        class attribute written as a dict of strings (transformers' configs:
        ``{"hidden_size": "n_embd"}``), which those methods read; None when they
        exist and no such dict is found. Cached on the ClassInfo."""
        hit: Any = getattr(info, "_attribute_map", _NOT_FOUND)
        if hit is not _NOT_FOUND:
            return hit
        info._attribute_map = None
        mro = _class_mro(self.model, info)
        out: dict | None = {}
        if any(c.method("__setattr__") is not None or c.method("__getattribute__") is not None for c in mro):
            out = None
            found = False
            for c in mro:  # the nearest definition is the one read
                for stmt in c.node.body:
                    target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else \
                        stmt.target if isinstance(stmt, ast.AnnAssign) else None
                    if isinstance(target, ast.Name) and target.id == "attribute_map" and stmt.value is not None:
                        found = True
                        try:
                            d = ast.literal_eval(stmt.value)
                        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                            d = None
                        ok = isinstance(d, dict) and all(isinstance(a, str) and isinstance(b, str) for a, b in d.items())
                        out = d if ok else None
                if found:
                    break
        info._attribute_map = out
        return out

    def _property_setter(self, info: Any, name: str) -> ast.FunctionDef | None:
        """The setter of property ``name`` of the class or a base (``@name.setter``)."""
        for c in _class_mro(self.model, info):
            for stmt in c.node.body:
                if isinstance(stmt, ast.FunctionDef) and stmt.name == name and any(
                        isinstance(d, ast.Attribute) and d.attr == "setter" for d in stmt.decorator_list):
                    return stmt
        return None

    def _attributes_stored(self, fn: ast.FunctionDef) -> set:
        """The attributes a method stores on its first parameter anywhere in its body
        (another file's is read from its lines: outlines have no bodies)."""
        src = self.foreign.get(id(fn))
        path = getattr(src, "path", None)
        if path:
            whole = self.ctx.project.function_at(path, fn.lineno)
            fn = whole if whole is not None else fn
        params = fn.args.posonlyargs + fn.args.args
        if not params:
            return set()
        me = params[0].arg
        return {t.attr for n in ast.walk(fn) if isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == me}

    def _field_default(self, f: "DataField") -> AV:
        """A field's default: a literal anywhere; any expression of this file's own
        classes; anything else (``field(default_factory=...)``, names of another file)
        unknown."""
        d = f.default
        if f.path == self.ctx.summary.path and not (isinstance(d, ast.Call) and _decorator_name(d) == "field"):
            v = self.eval(d, self.module_frame())
            return v if v is not None or (isinstance(d, ast.Constant) and d.value is None) else UNKNOWN
        try:
            v = ast.literal_eval(d)  # type: ignore[arg-type]  # not None: only fields with a default come here
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return UNKNOWN
        if isinstance(v, (int, float, str, bool)) or v is None:
            return v
        if isinstance(v, tuple) and all(isinstance(x, (int, float, str, bool)) for x in v):
            return TupleV(v)
        return UNKNOWN

    def _instantiate_in_file(self, inst: "InstanceV", info: Any, init: ast.FunctionDef, args: list, kwargs: dict,
                             frame: Frame, site: Origin | None) -> AV:
        a = init.args
        params = a.posonlyargs + a.args
        env: dict = {params[0].arg: inst} if params else {}
        subst = dict(frame.subst)
        defaults = [None] * (len(params) - len(a.defaults)) + list(a.defaults)
        for i, p in enumerate(params[1:], start=1):
            if i - 1 < len(args):
                value = args[i - 1]
            elif p.arg in kwargs:
                value = kwargs[p.arg]
            elif defaults[i] is not None and "**" not in kwargs:
                value = self.eval(defaults[i], self.module_frame())
            else:
                value = UNKNOWN
            env[p.arg] = self._param_value(p.arg, value, subst, info, site)
        for p, d in zip(a.kwonlyargs, a.kw_defaults):
            value = kwargs.get(p.arg, self.eval(d, self.module_frame()) if d is not None else UNKNOWN)
            env[p.arg] = self._param_value(p.arg, value, subst, info, site)
        if a.vararg:
            env[a.vararg.arg] = TupleV(tuple(args[len(params) - 1:])) if len(args) >= len(params) - 1 else UNKNOWN
        if a.kwarg:
            env[a.kwarg.arg] = _extra_keywords(a, kwargs)
        inner = Frame(env, init, subst, site or frame.site)
        flow = self.new_flow(inner)
        if self.memo_runs:
            self._body_runs(init)
        self.depth += 1
        self.flows.append(flow)
        try:
            self._block(init.body, inner)
        finally:
            self.flows.pop()
            self.depth -= 1
        inst.subst = subst  # type: ignore[attr-defined]
        if self._function_result(flow) is UNKNOWN and not flow.exit_states():
            return UNKNOWN  # __init__ never completes: no instance is made
        return inst

    def _param_value(self, name: str, value: AV, subst: dict, info: Any, site: Origin | None) -> AV:
        """A constructor parameter: an int from a top-level call site becomes a symbol
        bound in ``subst`` (so fixes can name it); anything else is passed as is."""
        if self.depth == 0 and isinstance(value, int) and not isinstance(value, bool):
            subst[name] = value
            return sym(name)
        if self.depth == 0 and self.generic and isinstance(value, Sym):
            return value
        return value

    def call_module(self, mod: AV, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        if isinstance(mod, LayerV):
            return self._call_layer(mod, args, kwargs, node, frame)
        if isinstance(mod, SeqV):
            if mod.kind != "sequential" or not args:
                return UNKNOWN
            x = args[0]
            for item in mod.items:
                x = self.call_module(item, [x], {}, node, frame) if isinstance(item, (LayerV, SeqV, InstanceV)) else UNKNOWN
            return x
        if isinstance(mod, InstanceV):
            return self._call_forward(mod, args, kwargs, node, frame)
        if type(mod) is UnionV:
            return self._call_union(mod, args, kwargs, node, frame)
        return UNKNOWN

    def _call_union(self, mod: UnionV, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> AV:
        """Each module a run may have here, on a path it may not take (what fails in one
        is not reported: another configuration takes another); the join of the outputs."""
        flow = self.flows[-1] if self.flows else None
        out: AV = None
        if flow is not None:
            flow.doubt += 1
        self.shared_paths += 1
        try:
            for i, alt in enumerate(mod.alternatives):
                got = self.call_module(alt, args, kwargs, node, frame)
                out = got if i == 0 else join_values(out, got)
        finally:
            if flow is not None:
                flow.doubt -= 1
            self.shared_paths -= 1
        return out

    def _call_forward(self, inst: InstanceV, args: list, kwargs: dict, node: ast.AST | None, frame: Frame | None = None) -> AV:
        fwd = self._method_of(inst.cls, "forward")
        if fwd is None:
            if _SEQUENTIAL in inst.attrs:
                items = _sequential_items(inst)
                if items is None or len(args) != 1 or kwargs or not isinstance(node, ast.Call) or frame is None:
                    return UNKNOWN
                return self.call_module(SeqV("sequential", items, inst.node, inst.label), args, {}, node, frame)
            layer = inst.attrs.get(_TORCH_LAYER)
            if isinstance(layer, LayerV) and isinstance(node, ast.Call) and frame is not None:
                return self._call_layer(_as_instance(layer, inst), args, kwargs, node, frame)  # `class Norm(nn.LayerNorm)` without forward
            return UNKNOWN
        site = frame.site if frame is not None else None
        if node is not None and not self.instance_stack and any(isinstance(a, TensorV) and a.shape is not None for a in args):
            # A call from outside any module (top level, a training function): the
            # inputs' shapes come from this call site.
            seg = self.seg(node)
            site = Origin("call site", node, seg if len(seg) < 60 else "this call")
            args = [TensorV(a.shape, Origin("call site", node, a.origin.label if a.origin else seg, site=site)) if isinstance(a, TensorV) else a for a in args]
        subst = getattr(inst, "subst", {})
        outer = Frame({}, None, subst, site)
        key = _call_key(args, kwargs) if self.instance_stack else None
        if key is not None:
            key = (id(inst), key, id(site), tuple(sorted(subst.items())), self.generic)
            hit = self._forward_cache.get(key)
            if hit is not None:
                if self.memo_runs:  # a module run outside the run under way
                    self.effects += 1
                out, recorded, raised = hit
                for mod, shape_in, res_out, label, rec_subst, error in recorded:
                    self._store_layer_call(mod, shape_in, res_out, label, rec_subst, site, error)
                self._replay(raised)
                return out
        if self.memo_runs and (site is not None or not self.instance_stack):
            self.effects += 1  # what the file's summaries and units keep of this run
        if site is not None:
            self.site_classes.add(inst.cls.name)
        if not self.instance_stack:  # the module a summary is about, for its parameter total
            run_key: Any = CallSite(site.node) if site is not None and site.node is not None else "generic"
            self.summary_instances.setdefault(inst.cls.name, {}).setdefault(run_key, inst)
        self.instance_stack.append(inst)
        run = self._memo_begin()
        if key is not None:
            self._recorders.append([])
        try:
            suppressed = self._suppressed
            entering = self.local and id(fwd) in self.imported and (node is not None or inst.node is not None)
            if entering:  # the line to change is where it is built here, else where it is called
                built_here = inst.node is not None and inst.built_here
                # (entering: inst.node or node is not None; see the report on the case where it may be None)
                self.entries.append((inst.node if built_here else node, inst.cls))  # type: ignore[arg-type]
            try:
                out = self._run_function(fwd, [inst] + list(args), kwargs, outer)
            finally:
                if entering:
                    self.entries.pop()
            if self._suppressed > suppressed and id(fwd) in self.imported:
                # A problem inside a followed class of another file (reported there, or
                # here at its entry): what it returns is never had.
                out = failed_tensor() if isinstance(out, TensorV) else UNKNOWN
        finally:
            self.instance_stack.pop()
            recorded = self._recorders.pop() if key is not None else None
            self._memo_end(run)
        if key is not None and not run.unsafe:
            self._forward_cache[key] = (out, recorded, run.raised)
        if subst and (frame is None or frame.subst != subst):
            # The instance's constructor symbols mean nothing outside it: the caller
            # sees the call site's values.
            out = self._conc_escaping(out, Frame({}, None, subst))
        return out
