"""Code of other files and of the same file followed where it is used: imported classes and
functions, methods, the parse of a followed file, functions run with the caller's
values.

A part of the shape interpreter (``Interpreter`` in ``interpreter.py`` mixes it in)."""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from torch_lsp.analysis.shapes import UNKNOWN
from torch_lsp.analysis.shape_types import Layer
from torch_lsp.analysis.statements import _is_generator
from torch_lsp.analysis.values import (
    AV, ClassV, FuncV, InstanceV, LayerV, Origin, TensorV, TupleV, UnionV, join_values, set_attr,
)

from torch_lsp.analysis import layers as L


from torch_lsp.analysis.interp_support import (
    FOLLOW_IMPORTED,
    FOLLOW_OTHER_FILES,
    Frame,
    MAX_DEPTH,
    MAX_FOLLOWED_FILE_LINES,
    MAX_FOLLOWED_FUNCTION_LINES,
    _DEFAULTED,
    _Held,
    _NOT_FOLLOWED_MODULES,
    _NOT_FOUND,
    _data_class_fields,
    _extra_keywords,
    _holds_embedding,
)


class Following:
    """Code of other files and of the same file followed where it is used."""

    if TYPE_CHECKING:  # what the other parts of the interpreter provide
        _block: Any
        _body_runs: Any
        _class_values: Any
        _file_envs: Any
        _followed_paths: Any
        _followed_summaries: Any
        _generators: Any
        _imported_classes: Any
        _imported_functions: Any
        _local_env: Any
        _qualify: Any
        active: Any
        call: Any
        ctx: Any
        depth: Any
        effects: Any
        epoch: Any
        eval: Any
        flows: Any
        followed_nodes: Any
        foreign: Any
        imported: Any
        imports: Any
        instance_stack: Any
        local: Any
        _recursion_cut: Any
        memo_runs: Any
        model: Any
        module_env: Any
        module_frame: Any
        new_flow: Any
        src: Any
        src_stack: Any

    def _method_of(self, info: Any, name: str) -> ast.FunctionDef | None:
        fn = info.method(name)
        if fn is not None:
            if info.ref.summary is not self.ctx.summary:
                whole = self._whole_method(info, name, fn) if FOLLOW_IMPORTED else None
                if whole is not None:
                    return whole
                self._note_file_of(fn, info.ref.summary)
            return fn
        for base in info.user_bases:
            base_info = self.model.info(base)
            fn = self._method_of(base_info, name)
            if fn is not None:
                return fn
        return None

    def _whole_method(self, info: Any, name: str, fn: ast.FunctionDef) -> ast.FunctionDef | None:
        """The constructor inherited from a container Module class (``nn.Sequential``...)
        of another small file (torchvision's ``MLP`` under ``MLPBlock``), read from a
        whole parse of that file and run on its names as a followed class's are; None
        otherwise (a large file's framework plumbing such as transformers'
        ``PreTrainedModel`` is not run)."""
        summary = info.ref.summary
        if summary.path is None or summary.path in self._followed_paths and id(fn) in self.imported:
            return None
        if not info.is_module or summary.source is None or len(summary.source.lines) > MAX_FOLLOWED_FILE_LINES:
            return None
        if name != "__init__" or not info.torch_bases & {"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict"}:
            # Only the constructor of a container base: it decides the items, without which
            # the container is unknown. Running every inherited method of every small file
            # cost a fifth of the batch time (transformers' modular files) for no finding.
            return None
        full = self.ctx.project.full_summary(summary.path)
        node = full.classes.get(info.node.name) if full is not None else None
        if node is None or node.lineno != info.node.lineno or full is summary:
            return None
        from torch_lsp.analysis.project import ClassRef

        whole = self.model.info(ClassRef(full, node)).method(name)
        if whole is None or whole.lineno != fn.lineno:
            return None
        self._follow_file(full)
        self.imported[id(whole)] = full.source
        return whole

    def _note_file_of(self, fn: ast.AST, summary: Any) -> None:
        """Remember which file a method of another file comes from (followed, or
        inherited and not run)."""
        if summary is self.ctx.summary or id(fn) in self.foreign or id(fn) in self.imported:
            return
        if summary.path in self._followed_paths and summary.source is not None:
            self.imported[id(fn)] = summary.source
        else:
            self.foreign[id(fn)] = summary.source

    def _near_summary(self) -> Any:
        """The summary of the file whose code is running: names are resolved from it."""
        if self.local:
            return self.ctx.summary
        return self._followed_summaries.get(getattr(self.src, "path", None), self.ctx.summary)

    def _follow_file(self, full: Any) -> None:
        """A whole parse of another file whose code runs here (its names, its source)."""
        self._followed_paths.add(full.path)
        self._followed_summaries[full.path] = full

    def _imported_class_value(self, node: ast.Name) -> AV:
        """An imported class used as a value (``mlp_layer: Type[nn.Module] = Mlp``, then
        ``mlp_layer(dim, hidden)``): the class of another file, as a call of it would
        follow it; unknown otherwise."""
        name = node.id
        key = (id(self.imports), name)  # the running file's names: a followed file has its own
        hit = self._class_values.get(key, _NOT_FOUND)
        if hit is not _NOT_FOUND:
            return hit
        out: AV = UNKNOWN
        if FOLLOW_IMPORTED and name in self.imports.names and name not in self.module_env:
            q = self._qualify(node)
            if q is not None and not q.startswith("torch."):
                info = self._imported_class(q)
                if info is not None:
                    out = ClassV(info)
        self._class_values[key] = out
        return out

    def _imported_class(self, qualified: str) -> Any:
        """The ClassInfo of a Module class of another project file named ``qualified``
        (from a whole parse of that file), or None."""
        if not qualified.rpartition(".")[2][:1].isupper():
            return None  # classes are CapWords; a call of anything else is not followed
        near = self._near_summary()
        project = self.ctx.project
        memo = (qualified, near.import_root, project.project_root(near.path) if near.path else None)
        if memo in self._imported_classes:
            return self._imported_classes[memo]
        shared = project.followed_classes.get(memo, _NOT_FOUND)
        if shared is not _NOT_FOUND:  # looked up before, from another file
            self._imported_classes[memo] = shared
            if shared is not None:
                full = shared.ref.summary
                if full.path not in self._followed_paths:
                    self._follow_file(full)
                self.followed_nodes.append(shared.ref.node)
            return shared
        self._imported_classes[memo] = None
        project.followed_classes[memo] = None
        try:
            ref = project.resolve_qualified(qualified, near)
        except (RecursionError, OSError, ValueError):
            ref = None
        if ref is None or isinstance(ref, str) or ref.summary.path is None or ref.summary is self.ctx.summary:
            return None
        try:
            outline_info = self.model.info(ref)
            data = not outline_info.is_module and _data_class_fields(self.model, outline_info) is not None
            if not outline_info.is_module and not data:
                return None  # decided on the outline: no whole parse
        except RecursionError:
            return None
        outline = ref.summary.source
        if outline is None or len(outline.lines) > MAX_FOLLOWED_FILE_LINES:
            if data:
                # a data class of a large file (transformers' model outputs): its fields
                # and defaults are in the outline; its methods are not run
                self._imported_classes[memo] = outline_info
                project.followed_classes[memo] = outline_info
                return outline_info
            return None  # following parses the whole file: not for the largest ones
        full = project.full_summary(ref.summary.path)
        node = full.classes.get(ref.node.name) if full is not None else None
        if node is None or node.lineno != ref.node.lineno:
            return None
        from torch_lsp.analysis.project import ClassRef

        info = self.model.info(ClassRef(full, node))
        if not info.is_module and _data_class_fields(self.model, info) is None:
            return None
        self._follow_file(full)
        self.followed_nodes.append(node)
        self._imported_classes[memo] = info
        project.followed_classes[memo] = info
        return info

    def _imported_function(self, qualified: str, depth: int = 0) -> "FuncV | None":
        """A function of another project file or of an installed package named
        ``qualified`` (``_make_divisible`` of torchvision), run with the caller's
        values on its own file's names (what it finds there belongs to that file).
        Only functions of files of at most MAX_FOLLOWED_FILE_LINES lines, of at most
        MAX_FOLLOWED_FUNCTION_LINES lines each."""
        module, _, name = qualified.rpartition(".")
        if not module or module.split(".")[0] in _NOT_FOLLOWED_MODULES or depth > 4:
            return None
        near = self._near_summary()
        memo = (qualified, near.import_root)
        hit = self._imported_functions.get(memo, _NOT_FOUND)
        if hit is not _NOT_FOUND:
            return hit
        self._imported_functions[memo] = None
        project = self.ctx.project
        try:
            path = project.find_module(module, near)
            outline = project.summary(path) if path else None
        except (RecursionError, OSError, ValueError):
            return None
        if outline is None or outline is self.ctx.summary or outline.source is None:
            return None
        if name not in outline.functions:
            alias = outline.aliases.get(name)  # `to_ntuple = _ntuple`
            if isinstance(alias, ast.Name) and alias.id in outline.functions and alias.id != name:
                found = self._imported_function(f"{module}.{alias.id}", depth + 1)
                self._imported_functions[memo] = found
                return found
            if (isinstance(alias, ast.Call) and isinstance(alias.func, ast.Name) and alias.func.id in outline.functions
                    and alias.func.id != name):
                # `to_2tuple = _ntuple(2)`: the function the factory returns (a nested def
                # keeping its closure), made once with those literal arguments
                factory = self._imported_function(f"{module}.{alias.func.id}", depth + 1)
                found = None
                if factory is not None:
                    made = self.call(factory, [a.value for a in alias.args],  # type: ignore[attr-defined]
                                     {k.arg: k.value.value for k in alias.keywords}, alias,  # type: ignore[attr-defined]
                                     Frame(dict(self.module_env)))
                    found = made if type(made) is FuncV else None
                self._imported_functions[memo] = found
                return found
            target = outline.imports.names.get(name)  # a re-export: `from ._utils import _make_divisible`
            found = self._imported_function(target, depth + 1) if target else None
            self._imported_functions[memo] = found
            return found
        if len(outline.source.lines) > MAX_FOLLOWED_FILE_LINES:
            return None
        full = project.full_summary(path)
        tree = full.source.tree if full is not None and full.source is not None else None
        fn = next((s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == name), None) if tree else None
        if fn is None or (fn.end_lineno or fn.lineno) - fn.lineno > MAX_FOLLOWED_FUNCTION_LINES or fn.decorator_list:
            return None
        self._follow_file(full)
        self.imported[id(fn)] = full.source
        out = self._imported_functions[memo] = FuncV(fn)
        return out

    def followed_files(self) -> list[tuple[ast.AST, str]]:
        """Each followed class of another file (its ClassDef) with its file's path."""
        paths = {id(i.ref.node): i.ref.summary.path for i in self.ctx.project.followed_classes.values() if i is not None}
        return [(n, paths.get(id(n)) or "another file") for n in self.followed_nodes]

    def _run_function(self, fn: ast.FunctionDef, args: list, kwargs: dict, frame: Frame, generic: bool = False,
                      closure: Frame | None = None) -> AV:
        if id(fn) in self.foreign and not FOLLOW_OTHER_FILES and args and type(args[0]) is InstanceV:
            if fn.name == "__init__":
                self._foreign_init_stores(fn, args, kwargs)
            elif isinstance(frame.fn, ast.FunctionDef) and frame.fn.name == "__init__" and \
                    any(v is args[0] for v in frame.env.values()):
                self._unseen_method_in_init(args[0])
        if self.depth > MAX_DEPTH or (id(fn) in self.foreign and not FOLLOW_OTHER_FILES) or id(fn) in self.active:
            if self.memo_runs:  # a limit the same call made elsewhere may not meet (see interp_memo)
                if self.depth > MAX_DEPTH:
                    self.effects += 1
                elif id(fn) in self.active:
                    self._recursion_cut(fn)
            return UNKNOWN  # too deep, another file's, or recursive (its result is what is being computed)
        saved = self._enter(fn)
        epoch = self.epoch
        try:
            return self._run_function_in_file(fn, args, kwargs, frame, generic, closure)
        finally:
            self._leave(saved)
            # The callee's returns ended its own paths, joined before it returns: the
            # caller's lists are still changed in place (`layers.append(block(...))`
            # with a helper that returns inside `block`). Its own lists are not.
            self.epoch = epoch

    def _same_file(self, node: ast.AST, frame: Frame) -> None:
        """A function or lambda defined inside a function of another file runs on that
        file's names too."""
        outer = id(frame.fn) if frame.fn is not None else None
        if outer in self.imported:
            self.imported[id(node)] = self.imported[outer]
        elif outer in self.foreign:
            self.foreign[id(node)] = self.foreign[outer]

    def _set_layer_weight(self, layer: LayerV, attr: str, v: AV, frame: Frame) -> None:
        """``self.lm_head.weight = self.embed.weight`` (weight tying): a ``Linear`` given a
        weight of known shape ``[out, in]`` has those sizes from now on; any other change
        of a layer's parameters makes it one of itself and an unknown module wherever the
        instances at hand hold it."""
        if layer.layer.cls == "torch.nn.Linear" and attr == "weight" and type(v) is TensorV and v.shape is not None \
                and not v.shape.prefix and len(v.shape.dims) == 2:
            out, inp = v.shape.dims
            layer.layer = Layer(layer.layer.cls, {**layer.layer.params, "in_features": inp, "out_features": out})
            return
        if attr == "bias" and (v is None or (type(v) is TensorV and v.shape is not None and v.shape == L.param_shapes(layer.layer).get("bias"))):
            return  # no bias, or one of the same shape
        for inst in self.instance_stack + [x for x in frame.env.values() if type(x) is InstanceV]:
            for k, x in list(inst.attrs.items()):
                if x is layer:
                    set_attr(inst, k, UnionV((layer, UNKNOWN), layer.label))

    @staticmethod
    def _unseen_method_in_init(inst: InstanceV) -> None:
        """A method of another file, not run, called on the instance its ``__init__`` is
        building (transformers' ``self.post_init()``): it may tie weights, giving an
        output ``Linear`` of this instance the weight of an input ``Embedding`` (the
        sizes it was declared with then no longer hold). Each such ``Linear`` is one of
        itself and an unknown module from now on (a call through it reports nothing and
        gives an unknown result). A model with no ``Embedding`` (a vision model) has no
        input embedding to tie: nothing changes."""
        if not _holds_embedding(inst, set()):
            return
        for k, v in inst.attrs.items():
            if type(v) is LayerV and not k.startswith("<") and v.layer.cls == "torch.nn.Linear":
                set_attr(inst, k, UnionV((v, UNKNOWN), v.label))

    def _foreign_init_stores(self, fn: ast.FunctionDef, args: list, kwargs: dict) -> None:
        """A base class's ``__init__`` of another file, not run (framework plumbing):
        what it surely stores from its parameters unchanged (``self.config = config`` of
        transformers' ``PreTrainedModel``) is stored."""
        src = self.foreign.get(id(fn))
        path = getattr(src, "path", None)
        if not path:
            return
        stores = self.ctx.project.parameter_stores(path, fn.lineno)
        if not stores:
            return
        a = fn.args
        params = [p.arg for p in a.posonlyargs + a.args]
        given: dict = {}
        for i, name in enumerate(params):
            if i < len(args):
                given[name] = args[i]
            elif name in kwargs:
                given[name] = kwargs[name]
        for p in a.kwonlyargs:
            if p.arg in kwargs:
                given[p.arg] = kwargs[p.arg]
        inst = args[0]
        for attr, param in stores:
            if param in given:  # a default is an expression of the other file: not evaluated
                set_attr(inst, attr, given[param])

    def _run_function_in_file(self, fn: ast.FunctionDef, args: list, kwargs: dict, frame: Frame, generic: bool,
                              closure: Frame | None = None) -> AV:
        if not generic and (isinstance(fn, ast.AsyncFunctionDef) or self._is_generator(fn)):
            return UNKNOWN  # a call makes a coroutine or a generator; the body runs later
        env: dict = {}
        a = fn.args
        params = a.posonlyargs + a.args
        defaults = [None] * (len(params) - len(a.defaults)) + list(a.defaults)
        for i, p in enumerate(params):
            if i < len(args):
                env[p.arg] = args[i]
            elif p.arg in kwargs:
                env[p.arg] = kwargs[p.arg]
            elif defaults[i] is not None and "**" not in kwargs:
                env[p.arg] = self._default(defaults[i], generic)  # type: ignore[arg-type]  # not None: tested
            else:
                env[p.arg] = UNKNOWN if not generic else TensorV(None, Origin("argument", p, f"`{p.arg}`"))
        if a.vararg:
            env[a.vararg.arg] = TupleV(tuple(args[len(params):])) if len(args) > len(params) else UNKNOWN
        for p, d in zip(a.kwonlyargs, a.kw_defaults):
            if p.arg in kwargs:
                env[p.arg] = kwargs[p.arg]
            else:
                env[p.arg] = self._default(d, generic) if d is not None else UNKNOWN
        if a.kwarg:
            env[a.kwarg.arg] = UNKNOWN if generic else _extra_keywords(a, kwargs)
        if generic:
            for k, v in list(env.items()):
                if v is UNKNOWN:
                    env[k] = TensorV(None)
        for k, v in env.items():
            if v is _DEFAULTED:
                env[k] = UNKNOWN
        inner = Frame(env, fn, frame.subst, frame.site, closure=closure)
        flow = self.new_flow(inner)
        if self.memo_runs:
            self._body_runs(fn)
        self.active.add(id(fn))
        self.depth += 1
        self.flows.append(flow)
        try:
            if isinstance(fn, ast.Lambda):
                flow.return_(self.eval(fn.body, inner))
            else:
                self._block(fn.body, inner)
        finally:
            self.flows.pop()
            self.depth -= 1
            self.active.discard(id(fn))
        out = self._function_result(flow)
        if type(out) is FuncV and out.closure is not None and out.closure() is inner:
            # a nested function returned (`def _ntuple(n): def parse(x): ...; return parse`):
            # its frame ends here, the names it reads are kept
            out = FuncV(out.node, out.self_value, _Held(Frame({k: v for k, v in inner.env.items() if type(v) is not FuncV},
                                                              inner.fn, dict(inner.subst), inner.site, closure=inner.closure)))
        return out

    def _is_generator(self, fn: ast.AST) -> bool:
        key = id(fn)
        hit = self._generators.get(key)
        if hit is None:
            # the text first: most functions do not say `yield` at all
            lines = self.src.lines[fn.lineno - 1:getattr(fn, "end_lineno", None) or fn.lineno]  # type: ignore[attr-defined]
            hit = self._generators[key] = any("yield" in line for line in lines) and _is_generator(fn)
        return hit

    def _function_result(self, flow: Any) -> AV:
        """What a call returns: the join of its returns (None when it falls off the
        end); the state it leaves (attributes set on instances) is the join of those
        paths'. A function that never returns (every path raises) gives an unknown."""
        exits = flow.exit_states()
        if not exits:
            return UNKNOWN
        if any(st[1] for st, _ in exits):  # instances whose attributes the paths set
            flow.ops.restore_instances(flow.ops.join([st for st, _ in exits]) if len(exits) > 1 else exits[0][0])
        out = exits[0][1]
        for _, v in exits[1:]:
            out = join_values(out, v)
        return out

    def _default(self, node: ast.AST, generic: bool) -> AV:
        """A parameter's default. Analysed on its own (no caller), a default of None
        stands for "not given": its callers pass what the body needs (a size), so it is
        unknown, not None (else `nn.LayerNorm(num_features)` would be a TL209 no caller
        ever makes)."""
        v = self.eval(node, self.module_frame())
        return _DEFAULTED if v is None and generic else v

    def _enter(self, fn: ast.AST) -> tuple:
        """Run ``fn`` in its own file: its source (for labels), and, for a followed
        class of another file, that file's top-level names and imports."""
        key = id(fn)
        if self.module_env is self._local_env and key not in self.imported and key not in self.foreign:
            self.src_stack.append(self.ctx.src)  # the common case: this file's code, from this file's code
            return (self.module_env, self.imports)
        src = self.foreign.get(key) or self.imported.get(key) or self.ctx.src
        saved = (self.module_env, self.imports)
        if src is self.ctx.src:
            self.module_env, self.imports = self._local_env, self.ctx.imports
        elif id(fn) in self.imported:
            self.module_env, self.imports = self._file_env(src)
        self.src_stack.append(src)
        return saved

    def _leave(self, saved: tuple) -> None:
        self.src_stack.pop()
        self.module_env, self.imports = saved

    def _file_env(self, src: Any) -> tuple[dict, Any]:
        """Top-level names and imports of a followed file (its classes and functions;
        its top-level code is not run)."""
        hit = self._file_envs.get(id(src))
        if hit is not None:
            return hit
        from torch_lsp.analysis.project import ClassRef

        full = self._followed_summaries[src.path]
        shared = getattr(full, "followed_env", None)  # built once per file version, for every importer
        if shared is not None:
            for v in shared[0].values():
                if isinstance(v, FuncV):
                    self.imported[id(v.node)] = src
            hit = self._file_envs[id(src)] = shared
            return hit
        env: dict = {}
        body = full.source.tree.body if full.source and full.source.tree else []
        # A constant is taken only when its name is bound once at the top level.
        stores: dict[str, int] = {}
        for stmt in body:
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for n in ast.walk(stmt):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        stores[n.id] = stores.get(n.id, 0) + 1
                    elif isinstance(n, ast.alias):
                        name = (n.asname or n.name).split(".")[0]
                        stores[name] = stores.get(name, 0) + 1
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                env[stmt.name] = ClassV(self.model.info(ClassRef(full, stmt)))
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                env[stmt.name] = FuncV(stmt)  # type: ignore[arg-type]
                self.imported[id(stmt)] = src
            elif (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                  and stores.get(stmt.targets[0].id) == 1):
                # constants (`WIDTH = 64`); nothing else of its top-level code is run
                try:
                    value = ast.literal_eval(stmt.value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    env.pop(stmt.targets[0].id, None)
                    continue
                if isinstance(value, (int, float, str, bool)) or value is None:
                    env[stmt.targets[0].id] = value
        hit = self._file_envs[id(src)] = (env, full.imports)
        full.followed_env = hit
        return hit
