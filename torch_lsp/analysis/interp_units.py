"""Analysis units: the file's top-level code, each function and each class on its own,
their runs isolated and cached (a unit unchanged since the last analysis is reused).

A part of the shape interpreter (``Interpreter`` in ``interpreter.py`` mixes it in)."""
from __future__ import annotations

import ast
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable

from torch_lsp.analysis.shapes import UNKNOWN, Shape, Sym, _Unknown, not_given, sym
from torch_lsp.analysis.values import (
    AV, ClassV, FuncV, InstanceV, Origin, TensorV,
)


from torch_lsp.analysis.interp_support import (
    Frame,
    Reporter,
    ShapeIndex,
    UnitResult,
    _CLASS_HEADER,
    _GLOBAL_STMT,
    _QUOTED,
    _WORD,
    _tensor_annotation,
)


class Units:
    """Analysis units."""

    if TYPE_CHECKING:  # what the other parts of the interpreter provide
        _block: Any
        _call_forward: Any
        _call_memo: Any
        _forward_cache: Any
        _instance_cache: Any
        _memo_runs: Any
        _method_of: Any
        _pending_indexes: Any
        _run_function: Any
        catching: Any
        constructed: Any
        ctx: Any
        dead: Any
        eval: Any
        flows: Any
        followed_nodes: Any
        generic: Any
        global_names: Any
        imports: Any
        index: Any
        instantiate: Any
        layer_calls: Any
        loop_depth: Any
        memo_off: Any
        model: Any
        module_env: Any
        module_frame: Any
        new_flow: Any
        raising: Any
        region: Any
        reporter: Any
        site_classes: Any
        steps: Any
        summary_instances: Any
        unit_class: Any

    # ------------------------------------------------------------------ entry
    def run(self) -> None:
        tree = self.ctx.src.tree
        if tree is None:
            return
        try:
            self._run(tree)
        finally:
            _QUOTED.clear()  # the findings hold the nodes they quote

    def _run(self, tree: ast.Module) -> None:
        self.global_names = self._global_names(self.ctx.src.text)
        self._prepare_module_env(tree)
        relevant = self._relevant_functions(tree)
        self.constructed = self._constructed_classes(tree)
        frame = Frame(self.module_env)
        # 1. top-level code, 2. module functions, 3. each Module class on its own
        units: list[tuple[str, Any, Callable[[], Any]]] = [("top", None, lambda: self._top(tree.body, frame))]
        # (type: ignore[misc] below: mypy cannot infer the type of a lambda with a default)
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name in relevant:
                units.append(("function", stmt, lambda stmt=stmt: self._function_unit(stmt)))  # type: ignore[misc]
        for info in self.model.module_classes():
            if info.ref.summary is not self.ctx.summary:
                continue
            units.append(("class", info, lambda info=info: self._class_unit(info)))  # type: ignore[misc]
        cache = getattr(self.ctx, "unit_cache", None)
        if cache is None:
            for _, _, work in units:
                self._unit(work)
            self._drop_superseded()
            return
        from torch_lsp.analysis.units import unit_keys

        keys = unit_keys(self, tree, units, cache)
        for (kind, _, work), key in zip(units, keys):
            result = cache.get(key)
            if result is None:
                result = self._isolated(work, kind == "top")
                cache.put(key, result)
            self._merge(result)
        cache.finish()
        self._drop_superseded()

    def _function_unit(self, fn: ast.FunctionDef) -> None:
        """A module function on its own. One that needs no argument and returns a model
        of this file (a builder: ``def resnet_small(): return ResNet(BasicBlock, [1, 1])``)
        runs that model's forward on unknown inputs too: its blocks are checked with the
        values the builder gives them."""
        out = self._run_function(fn, [], {}, Frame(dict(self.module_env)), generic=True)
        a = fn.args
        if type(out) is not InstanceV or len(a.posonlyargs + a.args) > len(a.defaults) or any(
                d is None for d in a.kw_defaults) or out.cls.ref.summary is not self.ctx.summary:
            return
        fwd = self._method_of(out.cls, "forward")
        if fwd is None:
            return
        params = (fwd.args.posonlyargs + fwd.args.args)[1:]
        required = params[:len(params) - len(fwd.args.defaults)]
        if not required and params and _tensor_annotation(params[0].annotation):
            # `forward(self, input_ids: torch.LongTensor | None = None, ...)`: called
            # as `model(x)`, its first input given and the rest left to their defaults.
            required = params[:1]
        prev = self.generic
        self.generic = True
        try:
            self._call_forward(out, [self._argument_tensor(p, fwd) for p in required], {}, None)
        finally:
            self.generic = prev

    def _top(self, body: list[ast.stmt], frame: Frame) -> None:
        self.flows.append(frame.flow or self.new_flow(frame))
        self.memo_off += 1  # the module's names change as it runs (see interp_memo)
        try:
            self._block(body, frame, top=True)
        finally:
            self.memo_off -= 1
            self.flows.pop()

    def shape_index(self) -> "ShapeIndex":
        """Every recorded expression shape of the file (units' records merged on first
        use: an edit whose hovers nobody asks for does not pay for it)."""
        if self._pending_indexes:
            pending, self._pending_indexes = self._pending_indexes, []
            for index in pending:
                self.index.merge(index)
        return self.index

    def _isolated(self, work: Callable[[], Any], top: bool) -> "UnitResult":
        """Run one unit with state of its own (what it finds, records, memoises), so
        that its result can be kept and reused while its source is unchanged. The
        findings of the units, merged in their order, are those of a run that
        shares the state (the memo tables only save work)."""
        saved = (self.reporter, self.index, self.layer_calls, self.summary_instances, self.site_classes)
        followed_before = len(self.followed_nodes)
        before = dict(self.module_env) if top else None
        self.reporter, self.index, self.layer_calls, self.summary_instances = Reporter(), ShapeIndex(), {}, {}
        self._forward_cache, self._instance_cache, self.site_classes = {}, {}, set()
        self._call_memo = {}
        try:
            self._unit(work)
            env = None
            if before is not None:  # what top-level code bound, for the units after it
                env = {k: v for k, v in self.module_env.items() if k not in before or before[k] is not v}
            return UnitResult(list(self.reporter.findings.values()), self.index, self.layer_calls, self.summary_instances, env,
                              self.followed_nodes[followed_before:], self.site_classes)
        finally:
            self.reporter, self.index, self.layer_calls, self.summary_instances, self.site_classes = saved

    def _merge(self, result: "UnitResult") -> None:
        for f in result.findings:
            self.reporter.add(f)
        self.site_classes |= result.site_classes
        self._pending_indexes.append(result.index)
        for cls, runs in result.layer_calls.items():
            mine = self.layer_calls.setdefault(cls, {})
            for key, calls in runs.items():
                mine.setdefault(key, []).extend(calls)
        for cls, insts in result.summary_instances.items():
            mine_insts = self.summary_instances.setdefault(cls, {})
            for key, inst in insts.items():
                mine_insts.setdefault(key, inst)
        if result.env:
            self.module_env.update(result.env)
        for node in result.followed:
            if all(node is not n for n in self.followed_nodes):
                self.followed_nodes.append(node)

    def _relevant_functions(self, tree: ast.Module) -> set[str]:
        """Module-level functions worth analysing on their own: those whose text names
        torch (any local name imported from torch), a Module class of this file, or
        another such function. The rest (tokenizers, config helpers, numpy code) sees
        only unknown values; analysing them finds nothing and costs most of the time
        on real code."""
        funcs = [s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if not funcs:
            return set()
        seeds = {name for name, q in self.imports.names.items() if q == "torch" or q.startswith("torch.")}
        seeds |= {c.name for c in self.model.module_classes() if c.ref.summary is self.ctx.summary}
        lines = self.ctx.src.lines
        texts = {fn.name: "".join(lines[fn.lineno - 1:(fn.end_lineno or fn.lineno)]) for fn in funcs}
        words: dict[str, set[str]] = {}

        def names(fn: str, wanted: set[str]) -> bool:
            # A substring test first (cheap); the words only when a name occurs in the text.
            text = texts[fn]
            if not any(w in text for w in wanted):
                return False
            if fn not in words:
                words[fn] = set(_WORD.findall(text))
            return not words[fn].isdisjoint(wanted)

        relevant: set[str] = set()
        wanted = set(seeds)
        while wanted:
            new = {fn.name for fn in funcs if fn.name not in relevant and names(fn.name, wanted)}
            relevant |= new
            wanted = new
        return relevant

    def _unit(self, work: Callable[[], Any]) -> None:
        """One analysis (the top level, a function, a class) with its own step budget:
        past it the analysis stops where it is (what it found so far stands)."""
        self.steps = 0
        self.loop_depth = 0
        self.region = 0
        self.catching, self.raising, self.flows, self.dead, self._memo_runs = [], None, [], False, []
        try:
            work()
        except RecursionError:
            pass

    def _constructed_classes(self, tree: ast.Module) -> set[str]:
        """Names called somewhere in the file (``Net(...)``), from the text: a class
        nobody constructs is analysed with its defaults. A name in a comment or string
        only makes the analysis symbolic, which is never less safe."""
        names = {c.name for c in self.model.module_classes() if c.ref.summary is self.ctx.summary}
        if not names:
            return set()
        cache = getattr(self.ctx, "unit_cache", None)
        if cache is not None:  # the same counts, kept per top-level statement
            from torch_lsp.analysis.units import constructed_names

            return constructed_names(self.ctx.src, tree, names, cache)
        text = self.ctx.src.text
        # `Name(` written more often than `class Name(`: str.count is far cheaper than
        # a regex over every word of the file; the headers are counted in one pass.
        headers = Counter(_CLASS_HEADER.findall(text))
        return {n for n in names if text.count(n + "(") > headers[n]}

    def _global_names(self, text: str) -> set[str]:
        """Names some function of the file declares ``global``: any function may change
        them, so their module-level value is never taken as known."""
        out: set[str] = set()
        i = text.find("global ")
        while i >= 0:
            start = text.rfind("\n", 0, i) + 1
            if not text[start:i].strip():  # the statement starts the line
                m = _GLOBAL_STMT.match(text, start)
                if m is not None:
                    out |= {n.strip() for n in m.group(1).split(",") if n.strip()}
            i = text.find("global ", i + 7)
        return out

    def _prepare_module_env(self, tree: ast.Module) -> None:
        env = self.module_env
        classes = {c.name: c for c in self.model.classes() if c.ref.summary is self.ctx.summary}
        for name, info in classes.items():
            env[name] = ClassV(info)
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                env[stmt.name] = FuncV(stmt)  # type: ignore[arg-type]

    def _class_unit(self, info: Any) -> None:
        """A class analysed on its own; what it finds is dropped when a call site of the
        file runs the class (see ``_drop_superseded``)."""
        self.unit_class = info.name
        try:
            self._analyse_class(info)
        finally:
            self.unit_class = None

    def _drop_superseded(self) -> None:
        """A class whose forward ran with a call site's input is known through that
        run: its analysis on its own (inputs unknown, sizes pinned by its first layers)
        adds only what the run shows is never reached (a branch the input does not take,
        a layer after one the input already fails)."""
        if not self.site_classes:
            return
        findings = self.reporter.findings
        for key in [k for k, f in findings.items() if getattr(f, "unit", None) in self.site_classes]:
            del findings[key]

    def _analyse_class(self, info: Any, own_file: bool = False) -> None:
        init = info.init
        if own_file:  # a class of another file, as its file's check analyses it
            text = info.ref.summary.source.text if info.ref.summary.source is not None else ""
            use_defaults = text.count(info.name + "(") <= text.count("class " + info.name + "(")
        else:
            use_defaults = info.name not in self.constructed
        args: dict[str, AV] = {}
        if init is not None:
            a = init.args
            params = a.posonlyargs + a.args
            defaults = [None] * (len(params) - len(a.defaults)) + list(a.defaults)
            for p, d in list(zip(params[1:], defaults[1:])) + list(zip(a.kwonlyargs, a.kw_defaults)):
                value = self.eval(d, self.module_frame()) if use_defaults and d is not None else None
                # a default of None stands for "not given" (see _default): a symbol, None to
                # `is None` and truth tests when the class is analysed with its defaults
                if value is None:
                    value = not_given(p.arg) if use_defaults and d is not None else sym(p.arg)
                args[p.arg] = value
        prev = self.generic
        self.generic = True
        args["**"] = UNKNOWN  # any construction: its extra keywords are not known
        try:
            inst = self.instantiate(info, [], args, None, Frame(self.module_env))
            fwd = info.method("forward")
            if fwd is not None and isinstance(inst, InstanceV):
                n = len(fwd.args.posonlyargs + fwd.args.args) - 1
                inputs = [self._argument_tensor(p, fwd) for p in (fwd.args.posonlyargs + fwd.args.args)[1:]]
                self._call_forward(inst, inputs[:n], {"**": UNKNOWN}, None)  # any call: its extra keywords are not known
        except RecursionError:
            pass
        finally:
            self.generic = prev

    def _argument_tensor(self, p: ast.arg, fn: ast.FunctionDef) -> AV:
        """A forward argument's starting value: from a jaxtyping annotation, else unknown."""
        shape = self._annotation_shape(p.annotation) if p.annotation is not None else None
        if shape is not None:
            return TensorV(shape, Origin("annotation", p.annotation, f"the annotation of `{p.arg}`"))
        return TensorV(None, Origin("argument", p, f"`{p.arg}`"))

    def _annotation_shape(self, ann: ast.AST) -> Shape | None:
        # jaxtyping: Float[Tensor, "batch 3 h w"]
        if isinstance(ann, ast.Subscript) and isinstance(ann.slice, ast.Tuple) and len(ann.slice.elts) == 2:
            spec = ann.slice.elts[1]
            if isinstance(spec, ast.Constant) and isinstance(spec.value, str):
                dims: list[int | Sym | _Unknown] = []
                prefix = False
                for tok in spec.value.split():
                    if tok in ("...", "*batch", "#*batch") or tok.startswith("*"):
                        if dims:
                            return None
                        prefix = True
                        continue
                    tok = tok.lstrip("#")
                    if tok.isdigit():
                        dims.append(int(tok))
                    elif tok.isidentifier() or (tok.startswith("_") and tok[1:].isidentifier()):
                        dims.append(sym(tok.lstrip("_")) if not tok.startswith("_") else UNKNOWN)
                    else:
                        dims.append(UNKNOWN)
                return Shape(tuple(dims), prefix)
        return None
