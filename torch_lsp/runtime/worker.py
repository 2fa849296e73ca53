"""The runtime worker: a process that imports torch once and then evaluates jobs.

Started by ``client.RuntimeClient`` as ``python -m torch_lsp.runtime.worker --in R
--out W [--log FILE] [--memory-mb N]``: R and W are pipe file descriptors for the
messages of ``protocol``. Its own stdin, stdout and stderr are redirected (to
/dev/null, or stdout/stderr to the log file) before anything else runs, so that
nothing user code prints can reach the message pipe.

A job (``{"path", "source", "sys_path", "package", "evaluations", "cpu_seconds"}``)
executes the document's definitions (``jobs.definitions``) as a fresh module, then
for each evaluation builds the class inside ``torch.device("meta")`` with the given
constructor arguments, makes the inputs on the meta device, and calls the module
with forward hooks on every submodule (input and output shapes) and a line tracer
on the document's frames (the shapes of tensor variables after each line). An
exception is mapped to the deepest frame of the document in its traceback. The
job's ``entries`` (models nobody calls: classes built with their defaults, builder
functions) are built, run with inferred inputs and judged by ``entry``.

Project modules a document imports (under the job's ``sys_path``, not installed)
stay imported for the next job while their files are unchanged on disk.

Limits inside the worker: RLIMIT_AS (address space) set at start to what torch
already maps plus ``--memory-mb``; RLIMIT_CPU raised per job to the CPU time used so
far plus ``cpu_seconds`` (SIGXCPU ends the job). SIGUSR1 cancels the running job.
The wall-clock timeout is the client's (it kills the process).

Processes the evaluated code starts (see ``reaper``): on Linux the process the
client starts becomes a *keeper* before anything else runs: a child subreaper that
forks the worker and only waits. The worker is a subreaper too, and ends every
process below it after each job (before its result is sent) and when it stops. The
keeper, when the worker ends by itself (``os._exit``, a signal, the OOM killer),
ends whatever the worker left, then exits as the worker did (same status, same
signal), so the client sees the worker's own end. When the client's process dies
the keeper is told (``PR_SET_PDEATHSIG``) and ends everything; when the keeper
dies the kernel kills the worker. The client itself stops and kills the keeper's
whole tree (``reaper.kill_tree``) when it gives up on a job.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import linecache
import os
import re
import signal
import sys
import time
import traceback
import types
from typing import Any

from torch_lsp.runtime import entry, protocol, reaper
from torch_lsp.runtime import inputs as inputs_mod
from torch_lsp.runtime.jobs import definitions

MAX_LINE_RECORDS = 2000
DATA_DEPENDENT_MARKERS = (
    "meta tensor", "meta device", "register_meta", "data-dependent", "data dependent",
    "cannot be converted to scalar", "cannot copy out of meta", "cannot be called on meta",
)
_MENTIONS_META = re.compile(r"\bmeta\b", re.IGNORECASE)
OUT_OF_MEMORY_MARKERS = ("can't allocate memory", "not enough memory", "out of memory", "bad_alloc")


class Cancelled(BaseException):
    """SIGUSR1: the client no longer wants this job's result."""


class CpuLimit(BaseException):
    """SIGXCPU: the job used its CPU time."""


def _on_cancel(signum: int, frame: Any) -> None:
    raise Cancelled()


def _on_cpu(signum: int, frame: Any) -> None:
    raise CpuLimit()


# ============================================================================ set-up
def _defer_dynamo() -> None:
    """Keep ``torch._dynamo`` (75 MB, a second of import) out of the worker until
    something really uses it.

    torch wraps its own Python meta kernels in ``torch._disable_dynamo``, whose first
    call imports ``torch._dynamo`` only to mark the kernel "never compile". The
    worker never compiles, so a stand-in module answers ``disable(fn)`` with ``fn``;
    any other attribute (``torch.compile`` in user code, ``from torch._dynamo import
    ...``) imports the real module, which then replaces the stand-in."""
    import importlib

    import torch

    if "torch._dynamo" in sys.modules:
        return

    class _Deferred(types.ModuleType):
        def disable(self, fn: Any = None, recursive: bool = True, **kwargs: Any) -> Any:
            return fn if fn is not None else (lambda f: f)

        def __getattr__(self, name: str) -> Any:
            if sys.modules.get("torch._dynamo") is self:
                del sys.modules["torch._dynamo"]
            real = importlib.import_module("torch._dynamo")
            torch._dynamo = real  # type: ignore[attr-defined]
            return getattr(real, name)

    global _DYNAMO_STAND_IN
    stand_in = _Deferred("torch._dynamo")
    sys.modules["torch._dynamo"] = stand_in
    torch._dynamo = stand_in  # type: ignore[attr-defined]
    _DYNAMO_STAND_IN = stand_in


_DYNAMO_STAND_IN: Any = None


class _RealDynamoForImports:
    """While a document's definitions (its imports) run, ``torch._dynamo`` is not the
    stand-in: a library that imports torch internals (``torch.distributed.tensor``,
    which transformers imports) must meet them in their own import order, or a
    circular import breaks. The stand-in comes back afterwards if nothing imported
    the real module."""

    def __enter__(self) -> None:
        self.lifted = _DYNAMO_STAND_IN is not None and sys.modules.get("torch._dynamo") is _DYNAMO_STAND_IN
        if self.lifted:
            import torch

            del sys.modules["torch._dynamo"]
            if torch.__dict__.get("_dynamo") is _DYNAMO_STAND_IN:
                del torch._dynamo  # type: ignore[attr-defined]

    def __exit__(self, *exc: Any) -> None:
        if self.lifted and "torch._dynamo" not in sys.modules:
            import torch

            sys.modules["torch._dynamo"] = _DYNAMO_STAND_IN
            torch._dynamo = _DYNAMO_STAND_IN  # type: ignore[attr-defined]


def _fast_meta_batch_norm() -> None:
    """``torch.batch_norm`` on meta tensors without torch's Python decomposition
    (1.5 ms a call: half of a ResNet-50's evaluation). The shape checks are aten's
    own (Normalization.cpp: each of running_mean, running_var, weight and bias, when
    given, must hold ``input.size(1)`` elements; running statistics are required in
    evaluation mode), with its messages; the result is a tensor like the input, as
    the meta kernel returns. Anything else (a tensor that is not on meta, fewer than
    two dimensions) goes to torch's own function."""
    import torch

    original = torch.batch_norm

    def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled):  # noqa: A002
        if not (isinstance(input, torch.Tensor) and input.device.type == "meta" and input.dim() >= 2):
            return original(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)
        channels = input.shape[1]
        for name, t in (("running_mean", running_mean), ("running_var", running_var)):
            if t is not None and t.numel() != channels:
                raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
            if t is None and not training:
                raise RuntimeError(f"{name} must be defined in evaluation mode")
        for name, t in (("weight", weight), ("bias", bias)):
            if t is not None and t.numel() != channels:
                raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
        return torch.empty_like(input)

    torch.batch_norm = batch_norm


def _redirect_std(log: str | None) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    target = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if log else devnull
    os.dup2(target, 1)
    os.dup2(target, 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)


def _address_space() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _limit_memory(megabytes: int) -> None:
    if megabytes <= 0:
        return
    try:
        import resource

        current = _address_space()
        if current:
            limit = current + megabytes * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _limit_cpu(seconds: float) -> None:
    try:
        import resource

        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime + seconds) + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ImportError, ValueError, OSError):
        pass


# ============================================================================ a job
def _shape(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return list(value.shape)
    if isinstance(value, (tuple, list)) and value and len(value) <= 16:
        shapes = [_shape(v) for v in value]
        return shapes if any(s is not None for s in shapes) else None
    return None


def _user_line(tb: types.TracebackType | None, path: str) -> int:
    """The line of the deepest frame of the document in a traceback (0: none)."""
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _error(exc: BaseException, path: str, phase: str) -> dict:
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0] if text else type(exc).__name__
    lowered = text.lower()
    base = {"phase": phase, "type": type(exc).__name__, "line": _user_line(exc.__traceback__, path)}
    if isinstance(exc, MemoryError) or any(m in lowered for m in OUT_OF_MEMORY_MARKERS):
        return {"status": "skipped", "reason": f"out of memory while {phase} ({first[:200]})", **base}
    if isinstance(exc, NotImplementedError) or any(m in lowered for m in DATA_DEPENDENT_MARKERS):
        return {"status": "skipped", "reason": f"a data-dependent operation cannot run on meta tensors ({first[:200]})", **base}
    if _MENTIONS_META.search(text):
        # A tensor the code made on a real device (a legacy constructor, device="cpu")
        # meeting the meta ones: an artifact of the evaluation, not the user's bug.
        return {"status": "skipped", "reason": f"the evaluation on the meta device failed for a reason of its own ({first[:200]})", **base}
    return {"status": "error", "message": first[:1000], **base}


RECORD = "__torch_lsp_record__"


class _Recording(ast.NodeTransformer):
    """Instrument the document's functions: after each assignment to names, a call
    ``__torch_lsp_record__(line, ("x", x), ...)`` notes the tensors' shapes (a line
    tracer would slow every Python call torch makes; this costs only the document's
    own assignments). The inserted calls carry the assignment's line."""

    def _names(self, target: ast.expr) -> list[str]:
        if isinstance(target, ast.Name):
            return [target.id]
        if isinstance(target, (ast.Tuple, ast.List)):
            return [n for t in target.elts for n in self._names(t)]
        if isinstance(target, ast.Starred):
            return self._names(target.value)
        return []

    def _block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            out.append(self.visit(stmt))
            if isinstance(stmt, ast.Assign):
                names = [n for t in stmt.targets for n in self._names(t)]
            elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and (getattr(stmt, "value", None) is not None):
                names = self._names(stmt.target)
            else:
                names = []
            if names:
                pairs: list[ast.expr] = [ast.Tuple([ast.Constant(n), ast.Name(n, ast.Load())], ast.Load()) for n in dict.fromkeys(names)]
                call = ast.Expr(ast.Call(ast.Name(RECORD, ast.Load()), [ast.Constant(stmt.lineno)] + pairs, []))
                out.append(ast.copy_location(call, stmt))
        return out

    def generic_visit(self, node: ast.AST) -> ast.AST:
        handled = set()
        if self.depth > 0:  # statement lists inside functions (not class or module bodies)
            for name in ("body", "orelse", "finalbody"):
                stmts = getattr(node, name, None)
                if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                    setattr(node, name, self._block(stmts))
                    handled.add(name)
        for name, value in ast.iter_fields(node):
            if name in handled:
                continue
            if isinstance(value, list):
                value[:] = [self.visit(v) if isinstance(v, ast.AST) else v for v in value]
            elif isinstance(value, ast.AST):
                setattr(node, name, self.visit(value))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.depth += 1
        try:
            return self.generic_visit(node)
        finally:
            self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]
    depth = 0


class _Lines:
    """What the instrumented assignments saw: 1-based line -> {name: shape}."""

    def __init__(self) -> None:
        self.lines: dict[int, dict[str, Any]] = {}
        self.count = 0

    def __call__(self, line: int, *pairs: tuple[str, Any]) -> None:
        if self.count > MAX_LINE_RECORDS:
            return
        import torch

        for name, value in pairs:
            if isinstance(value, torch.Tensor):
                self.count += 1
                self.lines.setdefault(line, {})[name] = list(value.shape)


def instrument(module: ast.Module) -> ast.Module:
    return ast.fix_missing_locations(_Recording().visit(module))


def _make_input(spec: dict) -> Any:
    import torch

    args = [ast.literal_eval(a) for a in spec.get("args", [])]
    kwargs = {k: (getattr(torch, v) if k == "dtype" else ast.literal_eval(v)) for k, v in spec.get("kwargs", {}).items()}
    factory = getattr(torch, spec["factory"])
    return factory(*args, device="meta", **kwargs)


def _evaluate_one(module: types.ModuleType, ev: dict, path: str) -> dict:
    import torch

    cls = getattr(module, ev["class"], None)
    if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        return {"status": "skipped", "reason": f"{ev['class']} is not an nn.Module class once defined"}
    args = [ast.literal_eval(a) for a in ev.get("args", [])]
    kwargs = {k: ast.literal_eval(v) for k, v in ev.get("kwargs", {}).items()}
    try:
        with torch.device("meta"):
            model = cls(*args, **kwargs)
    except (Cancelled, CpuLimit):
        raise
    except BaseException as exc:  # SystemExit too: user code
        return _error(exc, path, "building the module")
    try:
        specs = list(ev.get("inputs", [])) + list(ev.get("input_kwargs", {}).values())
        if any(s.get("dtype_from_model") for s in specs):
            _dtypes_from_model(model, ev)
        inputs = [_make_input(s) for s in ev.get("inputs", [])]
        input_kwargs = {k: _make_input(s) for k, s in ev.get("input_kwargs", {}).items()}
    except (Cancelled, CpuLimit):
        raise
    except BaseException as exc:
        return {"status": "skipped", "reason": f"could not make the inputs: {type(exc).__name__}: {str(exc)[:200]}"}
    return run_forward(module, model, inputs, input_kwargs, path)


def _dtypes_from_model(model: Any, ev: dict) -> None:
    """An input made from a statically inferred shape is long where the first layer
    reading it wants indices (an Embedding), else float."""
    try:
        inferred = inputs_mod.infer(model)
    except Exception:
        return
    wanted = {name: pat.dtype for name, pat in inferred.positional + inferred.keyword}
    positional = [pat.dtype for _, pat in inferred.positional]
    for i, spec in enumerate(ev.get("inputs", [])):
        if spec.get("dtype_from_model") and i < len(positional) and positional[i] == "long":
            spec["factory"], spec["kwargs"] = "zeros", {"dtype": "long"}
    for name, spec in ev.get("input_kwargs", {}).items():
        if spec.get("dtype_from_model") and wanted.get(name) == "long":
            spec["factory"], spec["kwargs"] = "zeros", {"dtype": "long"}


def run_forward(module: types.ModuleType, model: Any, inputs: list, input_kwargs: dict, path: str,
                watch: tuple = (), mode: str = "") -> dict:
    """Call ``model`` with hooks on every submodule; {"status": "ok"|"error", ...}.

    ``mode`` "eval" runs it in ``eval()`` under ``torch.no_grad()``, "train" in
    ``train()``, "" as it is. ``watch``: modules whose forward completing the result
    says (``"completed"``: their indices in ``watch``; ``"entered"``: those started)."""
    import torch

    calls: list[dict] = []
    names = {m: n for n, m in model.named_modules()}
    entered: list[tuple[Any, Any]] = []  # (module, input shapes) of the calls in progress
    watched = {id(m): i for i, m in enumerate(watch)}
    started: set[int] = set()
    completed: set[int] = set()

    def pre_hook(mod: Any, inp: Any) -> None:
        entered.append((mod, _shape(tuple(inp))))
        if id(mod) in watched:
            started.add(watched[id(mod)])

    def hook(mod: Any, inp: Any, out: Any) -> None:
        if entered and entered[-1][0] is mod:
            entered.pop()
        if id(mod) in watched:
            completed.add(watched[id(mod)])
        if len(calls) < 500:
            calls.append({"module": names.get(mod, "?"), "type": type(mod).__name__, "input": _shape(tuple(inp)), "output": _shape(out)})

    handles = [m.register_forward_pre_hook(pre_hook) for m in model.modules()]
    handles += [m.register_forward_hook(hook) for m in model.modules()]
    for m in watch:  # a watched module that is not a submodule (a layer held in a plain list)
        if m not in names:
            handles.append(m.register_forward_pre_hook(pre_hook))
            handles.append(m.register_forward_hook(hook))
    recorder = module.__dict__.get(RECORD)
    if isinstance(recorder, _Lines):
        recorder.lines.clear()  # what forward does (the constructor's assignments are not asked for)
        recorder.count = 0
    try:
        if mode == "eval":
            model.eval()
            with torch.no_grad():
                out = model(*inputs, **input_kwargs)
        else:
            if mode == "train":
                model.train()
            out = model(*inputs, **input_kwargs)
    except (Cancelled, CpuLimit):
        raise
    except BaseException as exc:
        result = _error(exc, path, "running forward")
        result.update(calls=calls, lines=_jsonable_lines(recorder), started=sorted(started), completed=sorted(completed))
        result["where"] = _raised_at(exc.__traceback__)
        result["own_check"] = _own_check(exc, result["where"])
        if entered:  # the innermost module that was running: what it got, what it wants
            mod, shapes = entered[-1]
            result["module"] = {"name": names.get(mod, "?"), "type": type(mod).__name__, "input": shapes,
                                "expects": _expectation(mod)}
        return result
    finally:
        for h in handles:
            h.remove()
    return {"status": "ok", "output": _shape(out), "calls": calls, "lines": _jsonable_lines(recorder),
            "started": sorted(started), "completed": sorted(completed)}


def _raised_at(tb: types.TracebackType | None) -> list:
    """[file, line] of the deepest frame of a traceback."""
    where: list = ["", 0]
    while tb is not None:
        where = [tb.tb_frame.f_code.co_filename, tb.tb_lineno]
        tb = tb.tb_next
    return where


_TORCH_DIR: str | None = None


def _torch_dir() -> str:
    global _TORCH_DIR
    if _TORCH_DIR is None:
        import torch

        _TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
    return _TORCH_DIR


def _own_check(exc: BaseException, where: list) -> bool:
    """Was the exception raised by an ``assert`` or a ``raise`` of code other than
    torch's: the model checking its own input, not an operation failing?"""
    if isinstance(exc, AssertionError):
        return True
    filename, line = where
    if not filename or os.path.abspath(filename).startswith(_torch_dir()):
        return False
    text = linecache.getline(filename, line).strip()
    return text.startswith(("raise ", "raise(")) or text == "raise"


def _expectation(mod: Any) -> str:
    """What a layer wants of its input, from its attributes ("in_channels=64")."""
    for attr in ("in_channels", "in_features", "num_features", "embed_dim", "input_size", "normalized_shape", "num_channels"):
        value = getattr(mod, attr, None)
        if isinstance(value, (int, tuple, list)) and not isinstance(value, bool):
            return f"{attr}={tuple(value) if isinstance(value, list) else value}"
    return ""


def _jsonable_lines(recorder: Any) -> dict[str, Any]:
    return {str(k): dict(v) for k, v in recorder.lines.items()} if isinstance(recorder, _Lines) else {}


def _judged_error(exc: BaseException, path: str, phase: str) -> dict:
    """``_error``, plus where it was raised: in torch (``in_torch``), or by a check of the code itself."""
    out = _error(exc, path, phase)
    where = _raised_at(exc.__traceback__)
    out["where"], out["own_check"] = where, _own_check(exc, where)
    out["in_torch"] = bool(where[0]) and os.path.abspath(where[0]).startswith(_torch_dir())
    return out


def _evaluate_entries(module: types.ModuleType, job: dict, path: str) -> list[dict]:
    """The job's entry points (see ``entry``): built, the smallest first, at most
    ``max_entry_points`` run; one result per entry."""
    entries = job["entries"]
    budget = float(job.get("budget_seconds") or 8.0)
    start = time.perf_counter()
    built, results = entry.build(module, entries, path, start + 0.4 * budget, _judged_error)
    cap = int(job.get("max_entry_points") or 8)
    for rank, b in enumerate(built):
        if rank >= cap:
            results[b.index] = {"status": "skipped", "reason": f"`{b.label}` was not run: the file has more than {cap} entry points "
                                "(runtime.max-entry-points; the smallest models run first)", "capped": True}
        elif time.perf_counter() > start + budget:
            results[b.index] = {"status": "skipped", "reason": f"`{b.label}` was not run: the earlier entry points of the file used its time"}
        else:
            results[b.index] = entry.evaluate(module, b, path, run_forward, start + budget)
            results[b.index]["size"] = b.size
    return [results.get(i, {"status": "skipped", "reason": "not evaluated"}) for i in range(len(entries))]


# Project modules (under a job's sys_path, not installed) imported by earlier jobs:
# name -> (file, (mtime_ns, size)). A large package (a library's own model files
# import it) is imported once per worker instead of once per file.
_PROJECT_MODULES: dict[str, tuple[str, tuple[int, int]]] = {}


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _named_by_path(name: str, path: str, roots: tuple[str, ...]) -> bool:
    """Is the module's name its path below one of the roots (``pkg/sub/mod.py`` ->
    ``pkg.sub.mod``)? Then any job finding the same root imports the same file
    under that name."""
    for root in roots:
        if path.startswith(root):
            rel = path[len(root):]
            if rel.endswith(".py"):
                rel = rel[:-3]
            if rel.endswith(os.sep + "__init__"):
                rel = rel[: -len("__init__") - 1]
            if rel.replace(os.sep, ".") == name:
                return True
    return False


def _forget_project_modules(roots: tuple[str, ...]) -> None:
    """Before a job: every kept project module goes when one of them changed on disk
    (another may hold what it defined), and those the job's roots would not find
    under the same name go too."""
    if not _PROJECT_MODULES:
        return
    if any(_stat(f) != stamp for f, stamp in _PROJECT_MODULES.values()):
        for key in _PROJECT_MODULES:
            sys.modules.pop(key, None)
        _PROJECT_MODULES.clear()
        importlib.invalidate_caches()
        return
    for key, (f, _) in list(_PROJECT_MODULES.items()):
        if not _named_by_path(key, f, roots):
            sys.modules.pop(key, None)
            del _PROJECT_MODULES[key]


def run_job(job: dict) -> dict:
    """Evaluate one job: {"status": "done", "evaluations": [...]} or a skipped/cancelled status."""
    path = job["path"]
    roots = tuple(os.path.abspath(p) + os.sep for p in job.get("sys_path", []))
    _forget_project_modules(roots)
    added_paths = [p for p in job.get("sys_path", []) if p not in sys.path]
    sys.path[:0] = added_paths
    before = set(sys.modules)
    name = f"__torch_lsp_eval_{os.getpid()}_{job.get('id', 0)}__"
    module = types.ModuleType(name)
    module.__file__ = path
    if job.get("package"):
        module.__package__ = job["package"]
    sys.modules[name] = module
    # inspect.getsource (which the input inference reads) sees the document's text, saved or not
    linecache.cache[path] = (len(job["source"]), None, job["source"].splitlines(True), path)
    kept: ast.Module | tuple[int, int] | None  # the module's definitions, then (in finally) a module file's stamp
    try:
        try:
            tree = ast.parse(job["source"], filename=path)
            kept = definitions(tree)
            if job.get("record_lines", True):
                kept = instrument(kept)
                module.__dict__[RECORD] = _Lines()
            code = compile(kept, path, "exec")
        except (SyntaxError, ValueError) as exc:
            return {"status": "skipped", "reason": f"the file does not compile: {exc}"}
        try:
            with _RealDynamoForImports():
                exec(code, module.__dict__)
        except (Cancelled, CpuLimit):
            raise
        except SystemExit as exc:
            return {"status": "skipped", "reason": f"the file called sys.exit({exc.code!r}) while its definitions ran", "line": _user_line(exc.__traceback__, path)}
        except BaseException as exc:
            err = _error(exc, path, "importing the file")
            return {"status": "skipped", "reason": f"its definitions raised {err.get('type')}: {err.get('message') or err.get('reason')}", "line": err.get("line", 0)}
        results = [_evaluate_one(module, ev, path) for ev in job.get("evaluations", [])]
        out: dict = {"status": "done", "evaluations": results}
        if job.get("entries"):
            out["entries"] = _evaluate_entries(module, job, path)
        return out
    finally:
        linecache.cache.pop(path, None)
        inputs_mod.forget_sources()
        # Forget the document. The project modules it imported are kept for the next
        # job while their files do not change (see _forget_project_modules); installed
        # packages (torch...) stay imported.
        for key in set(sys.modules) - before:
            mod = sys.modules.get(key)
            f = os.path.abspath(getattr(mod, "__file__", None) or "")
            if key == name:
                sys.modules.pop(key, None)
            elif roots and f.startswith(roots) and "site-packages" not in f:
                kept = _stat(f) if _named_by_path(key, f, roots) else None
                if kept is None:
                    sys.modules.pop(key, None)
                else:
                    _PROJECT_MODULES[key] = (f, kept)
        for p in added_paths:
            try:
                sys.path.remove(p)
            except ValueError:
                pass


def serve(fd_in: int, fd_out: int) -> int:
    inp = os.fdopen(fd_in, "rb", buffering=0)
    out = os.fdopen(fd_out, "wb", buffering=0)
    import torch

    protocol.write_message(out, {"type": "hello", "protocol": protocol.PROTOCOL_VERSION, "torch": torch.__version__, "pid": os.getpid()})
    signal.signal(signal.SIGUSR1, _on_cancel)
    signal.signal(signal.SIGXCPU, _on_cpu)
    while True:
        try:
            message = protocol.read_message(inp)
        except protocol.ProtocolError:
            return 2
        except Cancelled:  # a cancel that arrived between jobs
            continue
        if message is None or message.get("type") == "shutdown":
            return 0
        if message.get("type") != "evaluate":
            continue
        job = message.get("job") or {}
        started = time.perf_counter()
        try:
            _limit_cpu(float(job.get("cpu_seconds", 10)))
            result = run_job(job)
        except Cancelled:
            result = {"status": "cancelled"}
        except CpuLimit:
            result = {"status": "skipped", "reason": f"the evaluation used more than {job.get('cpu_seconds', 10)} s of CPU time"}
        except Exception as exc:  # a bug here: report it, keep serving
            result = {"status": "skipped", "reason": f"internal error in the runtime worker: {type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()}
        finally:
            _limit_cpu(3600)
        _end_children()  # what the job started ends with it (before the client hears it ended)
        result["seconds"] = round(time.perf_counter() - started, 4)
        try:
            protocol.write_message(out, {"type": "result", "id": message.get("id"), "result": result})
        except (BrokenPipeError, OSError):
            return 0
        except Cancelled:
            continue


def _end_children() -> None:
    """End every process below this one (the worker is a subreaper: double-forked
    and ``setsid`` processes the job started are below it too)."""
    if not _SUBREAPER:
        return
    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # the job is over: nothing left to cancel
    try:
        reaper.end_children()
    finally:
        signal.signal(signal.SIGUSR1, previous)


_SUBREAPER = False  # this process is a child subreaper (Linux)


class _ParentGone(BaseException):
    pass


def _keep(worker: int, parent: int) -> int:
    """The keeper's life (see the module doc): wait for the worker; then end what is
    left below, and exit as the worker did. Never returns."""
    def on_parent_death(signum: int, frame: Any) -> None:
        if os.getppid() != parent:  # (the signal also comes when only the parent's thread ended)
            raise _ParentGone()

    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # a cancel meant for the worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_parent_death)
    status = None
    try:
        if reaper.set_parent_death_signal(signal.SIGTERM) and os.getppid() != parent:
            raise _ParentGone()
        while True:
            try:
                pid, wstatus = os.waitpid(-1, 0)  # reaps orphans re-parented here too
            except ChildProcessError:
                break
            if pid == worker:
                status = wstatus
                break
    except _ParentGone:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        reaper.end_children()
    finally:
        code = 1
        if status is not None:
            if os.WIFSIGNALED(status):
                signum = os.WTERMSIG(status)
                reaper.set_undumpable()  # the worker wrote its core file, if any
                try:
                    signal.signal(signum, signal.SIG_DFL)
                    os.kill(os.getpid(), signum)
                except (OSError, ValueError):
                    pass
                code = 128 + signum
            elif os.WIFEXITED(status):
                code = os.WEXITSTATUS(status)
        os._exit(code)


def _become_keeper(fd_in: int, fd_out: int) -> None:
    """On Linux: fork; the parent becomes the keeper (and never returns from here),
    the child goes on as the worker. Elsewhere: nothing."""
    global _SUBREAPER
    if not reaper.become_subreaper():
        return
    keeper, parent = os.getpid(), os.getppid()
    try:
        worker = os.fork()
    except OSError:
        _SUBREAPER = True  # no keeper: the worker still ends what its jobs start
        return
    if worker:
        for fd in (fd_in, fd_out):  # the pipes are the worker's: EOF must reach the client when it ends
            os.close(fd)
        _keep(worker, parent)
    reaper.set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != keeper:  # the keeper died before the line above
        os._exit(1)
    _SUBREAPER = reaper.become_subreaper()  # not inherited through fork


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="torch_lsp.runtime.worker")
    ap.add_argument("--in", dest="fd_in", type=int, required=True)
    ap.add_argument("--out", dest="fd_out", type=int, required=True)
    ap.add_argument("--log", default=None)
    ap.add_argument("--memory-mb", type=int, default=2048)
    args = ap.parse_args(argv)
    _redirect_std(args.log)
    _become_keeper(args.fd_in, args.fd_out)
    try:
        import torch  # noqa: F401  (the seconds it takes are paid once, here)
    except Exception as exc:  # no torch for this interpreter: say so, then stop
        with os.fdopen(args.fd_out, "wb", buffering=0) as out:
            protocol.write_message(out, {"type": "fatal", "protocol": protocol.PROTOCOL_VERSION,
                                         "reason": f"torch cannot be imported by {sys.executable}: {type(exc).__name__}: {exc} "
                                                   f"(runtime evaluation needs it: `{sys.executable} -m pip install torch`)"})
        return 1
    _defer_dynamo()
    _fast_meta_batch_norm()
    _limit_memory(args.memory_mb)
    try:
        return serve(args.fd_in, args.fd_out)
    finally:
        _end_children()


if __name__ == "__main__":
    sys.exit(main())
