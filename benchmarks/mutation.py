#!/usr/bin/env python3
"""Mutation benchmark: plant one realistic bug at a time in real model code, let real
torch decide which plants break the model, and measure what torch-lsp finds.

The model files (benchmarks/mutation/models.toml) are modeling files of transformers
5.23.0 and files of libraries of the wild corpus (benchmarks/wild.py). Each is copied
into a workspace as a standalone module (relative imports made absolute, so the copy
imports the installed package) with a no-argument builder function appended, and
nothing else: no call, no input.  Then:

1. the oracle (a worker process of the benchmark's venv, real torch on the CPU)
   builds the unplanted copy with its builder and calls it with the model's
   realistic input (in eval() under no_grad, then in train()), recording the lines
   of the file that ran;
2. plants of six kinds (layer-size, view-size, dim, modulelist, parameter,
   super-init) are found with the AST in the statements that ran, sampled
   (seeded, at most --cap per file and kind) and applied as minimal text edits;
3. the oracle runs every mutant: CONFIRMED when it raises (construction or
   forward) or, for the registration kinds, when parameters/state_dict entries of
   the unplanted model are missing; UNBROKEN when it runs with the same
   registration; UNDECIDED on a time-out;
4. one `torch-lsp check --format json --exit-zero` over the workspace (all
   unplanted copies and mutants), and one with `--runtime --runtime-report-skipped`
   (the runtime worker's interpreter is the venv's, set in the workspace's
   pyproject.toml). A mutant is FOUND when it gets a loud diagnostic (error or
   warning) that its unplanted copy does not get (code + line, lines moved by the
   plant mapped back).

Report: per kind, planted / confirmed / found by each mode; false alarms (loud
diagnostics on unplanted copies, and plants torch does not break that get a new
loud diagnostic); every missed confirmed bug with what torch said; TL902 reasons.

Caches (git-ignored): benchmarks/.cache/mutation/venv (transformers and the wild
libraries installed with --no-deps over the installed torch), work/ (the workspace,
rebuilt by every run), oracle_cache.json, last_run.json (what --json writes).

This is a script for humans, not a CI test.  Exit status: 0 after a completed run,
2 when the checker failed (exit status, JSON), 3 when the venv, the sources or an
unplanted model could not be prepared.

Usage (from the repository root):
    python benchmarks/mutation.py                                  # everything
    python benchmarks/mutation.py --only bert,resnet --kinds dim,layer-size
    python benchmarks/mutation.py --limit 40 --modes static        # a quick look
    python benchmarks/mutation.py --json /tmp/mutation.json
    python benchmarks/mutation.py --setup-only                     # venv + sources + baselines
"""

from __future__ import annotations

import argparse
import ast
import collections
import dataclasses
import difflib
import hashlib
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tomllib

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # wild.py, realworld.py (benchmarks/ is no package)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "mutation"
TABLE = DATA_DIR / "models.toml"
DEFAULT_CACHE = BENCH_DIR / ".cache" / "mutation"
WILD_CACHE = BENCH_DIR / ".cache" / "wild"

TRANSFORMERS_VERSION = "5.23.0"
# Packages a model file may come from (`source` in the table), installed in the venv
# without dependencies. torchvision 0.28.0 is the release for torch 2.13, but its C ops
# do not register with the CPU build installed here, and `import torchvision` stops at
# registering their meta kernels: a shim (a .pth line run at start-up) stands in for
# that module. The models never call those ops (nms, roi_align...). timm needs
# torchvision and pillow.
INSTALLED_SOURCES = {"transformers": TRANSFORMERS_VERSION, "torchvision": "0.28.0", "timm": "1.0.31"}
SOURCE_EXTRAS = {"torchvision": {"pillow": None}, "timm": {"torchvision": "0.28.0", "pillow": None}}
TV_SHIM = "_torch_lsp_bench_tv_shim"
# wild-corpus libraries whose files are used, installed into the venv with --no-deps
# (their pins are wild.py's)
VENV_LIBRARIES = ("openai-whisper", "x-transformers")

KINDS = ("layer-size", "view-size", "dim", "modulelist", "parameter", "super-init")
REGISTRATION_KINDS = ("modulelist", "parameter", "super-init")
LOUD = ("error", "warning")
EXIT_TOOL, EXIT_SETUP = 2, 3


class SetupError(RuntimeError):
    """The venv, a source or an unplanted model could not be prepared."""


# --------------------------------------------------------------------------
# Model table and sources
# --------------------------------------------------------------------------
@dataclasses.dataclass
class Model:
    name: str
    source: str  # "transformers" or "wild:<library>"
    path: str
    package: str
    builder: str  # the code of the function appended to the copy
    input: str  # expression (names: torch): kwargs dict or args tuple
    after_imports: str = ""  # code put after the copy's top-level imports (see vision.toml)

    @property
    def builder_name(self) -> str:
        m = re.search(r"def\s+(\w+)\s*\(", self.builder)
        if not m:
            raise SetupError(f"{self.name}: builder has no `def NAME(`")
        return m.group(1)


def load_models(path: Path = TABLE) -> list[Model]:
    data = tomllib.loads(path.read_text())
    out = []
    for entry in data.get("model", []):
        out.append(Model(entry["name"], entry["source"], entry["path"], entry["package"],
                         entry["builder"].strip("\n") + "\n", entry["input"], entry.get("after_imports", "")))
    return out


def venv_python(cache: Path) -> Path:
    return cache / "venv" / "bin" / "python"


def _run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def ensure_venv(cache: Path, sources: Iterable[str] = ("transformers",)) -> Path:
    """The venv (system site packages: the installed torch) with transformers, the
    packages the table's models come from and the wild libraries installed without
    dependencies; torch must stay what it is."""
    py = venv_python(cache)
    system_torch = _run([sys.executable, "-c", "import torch; print(torch.__version__)"]).stdout.strip()
    if not system_torch:
        raise SetupError("the running interpreter cannot import torch")
    if not py.exists():
        print(f"creating {py.parent.parent} (--system-site-packages)", flush=True)
        r = _run([sys.executable, "-m", "venv", "--system-site-packages", str(py.parent.parent)])
        if r.returncode:
            raise SetupError(f"venv: {r.stderr.strip()}")
    pins: dict[str, str | None] = {"transformers": TRANSFORMERS_VERSION}
    for src in sources:
        if src in INSTALLED_SOURCES:
            pins[src] = INSTALLED_SOURCES[src]
            pins.update(SOURCE_EXTRAS.get(src, {}))
    import wild
    for lib in wild.LIBRARIES:
        if lib.name in VENV_LIBRARIES:
            pins[lib.name] = lib.version
    probe = ("import importlib.metadata as m, json\n"
             "out = {}\n"
             f"for n in {sorted(pins)!r}:\n"
             "    try: out[n] = m.version(n)\n"
             "    except Exception: out[n] = None\n"
             "print(json.dumps(out))\n")
    have = json.loads(_run([str(py), "-c", probe]).stdout or "{}")
    missing = [f"{n}=={v}" if v else n for n, v in sorted(pins.items())
               if (have.get(n) != v if v else have.get(n) is None)]
    if missing:
        print(f"pip install --no-deps {' '.join(missing)}", flush=True)
        r = _run([str(py), "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", *missing])
        if r.returncode:
            raise SetupError(f"pip install failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    if "torchvision" in pins:
        site = site_packages(py)
        shim = site / f"{TV_SHIM}.py"
        if not shim.exists():
            shim.write_text("import sys, types\n"
                            "sys.modules.setdefault('torchvision._meta_registrations', "
                            "types.ModuleType('torchvision._meta_registrations'))\n")
            (site / f"{TV_SHIM}.pth").write_text(f"import {TV_SHIM}\n")
    venv_torch = _run([str(py), "-c", "import torch; print(torch.__version__)"]).stdout.strip()
    if venv_torch != system_torch:
        raise SetupError(f"the venv's torch is {venv_torch!r}, not the installed {system_torch!r}")
    return py


def site_packages(py: Path) -> Path:
    out = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    return Path(out)


def source_path(model: Model, py: Path) -> Path:
    if model.source in INSTALLED_SOURCES:
        return site_packages(py) / model.path
    if model.source.startswith("wild:"):
        name = model.source.split(":", 1)[1]
        import wild
        lib = next((lib for lib in wild.LIBRARIES if lib.name == name), None)
        if lib is None:
            raise SetupError(f"{model.name}: no wild library {name!r}")
        try:
            root, _ = wild.ensure_library(lib, WILD_CACHE)
        except Exception as exc:  # download/unpack problems
            raise SetupError(f"{model.name}: {exc}") from exc
        return root / model.path
    raise SetupError(f"{model.name}: unknown source {model.source!r}")


# --------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------
class Text:
    """A source text with (1-based line, UTF-8 byte column) -> character offset."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        chars = len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
        return self.starts[lineno - 1] + chars

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset))

    def seg(self, node: ast.AST) -> str:
        a, b = self.span(node)
        return self.text[a:b]

    def line_of(self, offset: int) -> int:
        import bisect
        return bisect.bisect_right(self.starts, offset)


Edit = tuple[int, int, str]  # (start offset, end offset, replacement)


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    out = text
    for a, b, rep in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:a] + rep + out[b:]
    return out


def make_standalone(text: str, package: str, builder: str, after_imports: str = "") -> str:
    """Relative imports made absolute (`from ..x import y` in package a.b.c ->
    `from a.b.x import y`), the builder appended, ``after_imports`` put after the last
    top-level import; nothing else changes."""
    tree = ast.parse(text)
    t = Text(text)
    parts = package.split(".")
    edits: list[Edit] = []
    if after_imports:
        last = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        at = t.offset(last[-1].end_lineno + 1, 0) if last else 0
        edits.append((at, at, after_imports.strip("\n") + "\n"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = parts[: len(parts) - (node.level - 1)]
            if not base:
                raise SetupError(f"relative import beyond {package}: line {node.lineno}")
            absolute = ".".join(base + ([node.module] if node.module else []))
            start = t.offset(node.lineno, node.col_offset)
            mod = r"\s*" + r"\s*\.\s*".join(map(re.escape, node.module.split("."))) if node.module else ""
            m = re.compile(r"from\s+(\.+" + mod + r")(?=[\s(\\])").match(text, start)
            if not m:
                raise SetupError(f"cannot rewrite the import at line {node.lineno}")
            edits.append((m.start(1), m.end(1), absolute))
    out = apply_edits(text, edits)
    if not out.endswith("\n"):
        out += "\n"
    return out + "\n\n" + builder


# --------------------------------------------------------------------------
# Plants
# --------------------------------------------------------------------------
@dataclasses.dataclass
class Plant:
    kind: str
    edits: list[Edit]
    line: int  # 1-based line of the planted node in the unplanted copy
    stmt_lines: tuple[int, int]  # the enclosing statement (for "did this code run")
    description: str
    before: str = ""
    after: str = ""
    attr: str = ""  # modulelist/parameter: the attribute assigned (`self.<attr> = ...`)

    def key(self) -> tuple:
        return (self.kind, tuple(self.edits))


LAYER_ARGS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {}
for _n in ("Linear",):
    LAYER_ARGS[_n] = ((0, 1), ("in_features", "out_features"))
LAYER_ARGS["Bilinear"] = ((0, 1, 2), ("in1_features", "in2_features", "out_features"))
for _n in ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"):
    LAYER_ARGS[_n] = ((0, 1), ("in_channels", "out_channels"))
LAYER_ARGS["Embedding"] = ((0, 1), ("num_embeddings", "embedding_dim"))
LAYER_ARGS["EmbeddingBag"] = ((0, 1), ("num_embeddings", "embedding_dim"))
for _n in ("LayerNorm", "RMSNorm"):
    LAYER_ARGS[_n] = ((0,), ("normalized_shape",))
for _n in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"):
    LAYER_ARGS[_n] = ((0,), ("num_features",))
LAYER_ARGS["GroupNorm"] = ((0, 1), ("num_groups", "num_channels"))
LAYER_ARGS["MultiheadAttention"] = ((0, 1), ("embed_dim", "num_heads", "kdim", "vdim"))
for _n in ("LSTM", "GRU", "RNN"):
    LAYER_ARGS[_n] = ((0, 1), ("input_size", "hidden_size"))

VIEW_METHODS = {"view", "reshape", "expand", "unflatten", "new_zeros", "new_ones", "new_empty", "new_full"}
TORCH_MODULES = {"torch", "F", "functional", "nn.functional", "torch.nn.functional", "torch.functional"}
# op -> (dim positions as a method, as a function of torch/F, dim keyword names)
DIM_OPS: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...]]] = {
    "flatten": ((0, 1), (1, 2), ("start_dim", "end_dim")),
    "transpose": ((0, 1), (1, 2), ("dim0", "dim1")),
    "swapaxes": ((0, 1), (1, 2), ("axis0", "axis1")),
    "cat": ((), (1,), ("dim",)),
    "concat": ((), (1,), ("dim",)),
    "concatenate": ((), (1,), ("dim", "axis")),
    "stack": ((), (1,), ("dim",)),
    "split": ((1,), (2,), ("dim",)),
    "chunk": ((1,), (2,), ("dim",)),
    "softmax": ((0,), (1,), ("dim",)),
    "log_softmax": ((0,), (1,), ("dim",)),
    "unsqueeze": ((0,), (1,), ("dim",)),
    "mean": ((0,), (1,), ("dim",)),
    "sum": ((0,), (1,), ("dim",)),
}
PARAMETER_NAMES = {"Parameter"}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _int_literal(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) is int):
        return -node.operand.value
    return None


def _atomic(node: ast.expr) -> bool:
    return isinstance(node, (ast.Name, ast.Attribute, ast.Constant, ast.Call, ast.Subscript))


def _torch_nn_names(tree: ast.Module) -> set[str]:
    """Names bound by `from torch.nn import X` (X usable bare)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("torch.nn", "torch.nn.modules", "torch.nn.parameter"):
            for a in node.names:
                out.add(a.asname or a.name)
    return out


def _local_layers(tree: ast.Module) -> dict[str, str]:
    """Names of the file that stand for a torch.nn layer with its constructor arguments:
    `class Linear(nn.Linear)` without an `__init__` of its own, `LinearNoBias =
    partial(nn.Linear, bias=False)`."""
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and len(node.bases) == 1:
            base = node.bases[0]
            if (isinstance(base, ast.Attribute) and _dotted(base.value) in ("nn", "torch.nn")
                    and not any(isinstance(x, ast.FunctionDef) and x.name == "__init__" for x in node.body)):
                out[node.name] = base.attr
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and isinstance(node.value, ast.Call) and _dotted(node.value.func) in ("partial", "functools.partial")
              and node.value.args and isinstance(node.value.args[0], ast.Attribute)
              and _dotted(node.value.args[0].value) in ("nn", "torch.nn") and len(node.value.args) == 1):
            out[node.targets[0].id] = node.value.args[0].attr
    return out


def _layer_class(call: ast.Call, bare: set[str], local: dict[str, str] | None = None) -> str | None:
    f = call.func
    if isinstance(f, ast.Attribute) and _dotted(f.value) in ("nn", "torch.nn"):
        return f.attr
    if isinstance(f, ast.Name) and f.id in bare:
        return f.id
    if isinstance(f, ast.Name) and local and f.id in local:
        return local[f.id]
    return None


class _Finder(ast.NodeVisitor):
    """Collect candidate plants of every kind in one walk (statement and function context kept)."""

    def __init__(self, t: Text, tree: ast.Module, limit_line: int) -> None:
        self.t = t
        self.limit_line = limit_line  # plants only above this line (not in the appended builder)
        self.bare = _torch_nn_names(tree)
        self.local = _local_layers(tree)
        self.n_layer_size = 0
        self.stmt: list[ast.stmt] = []
        self.funcs: list[ast.AST] = []
        self.classes: list[ast.ClassDef] = []
        self.out: dict[str, list[Plant]] = {k: [] for k in KINDS}

    # -- context
    def visit(self, node: ast.AST) -> Any:
        is_stmt = isinstance(node, ast.stmt)
        if is_stmt:
            self.stmt.append(node)
        try:
            return super().visit(node)
        finally:
            if is_stmt:
                self.stmt.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.funcs.append(node)
        if self.classes and node.name == "__init__" and node.lineno < self.limit_line:
            self._super_init(node)
        self.generic_visit(node)
        self.funcs.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node)
        self.generic_visit(node)
        self.classes.pop()

    def _stmt_lines(self) -> tuple[int, int]:
        s = self.stmt[-1]
        # a compound statement's header only (its body has statements of its own)
        end = s.end_lineno or s.lineno
        if isinstance(s, (ast.If, ast.For, ast.While, ast.With, ast.FunctionDef, ast.ClassDef, ast.Try)):
            body = getattr(s, "body", None)
            if body:
                end = max(s.lineno, body[0].lineno - 1)
        return (s.lineno, end)

    def _add(self, kind: str, edits: list[Edit], node: ast.AST, desc: str) -> None:
        if node.lineno >= self.limit_line:
            return
        text = self.t.text
        a = min(e[0] for e in edits)
        b = max(e[1] for e in edits)
        before = text[a:b]
        after = apply_edits(text[a:b], [(e[0] - a, e[1] - a, e[2]) for e in edits])
        attr = ""
        s = self.stmt[-1] if self.stmt else None
        if kind in ("modulelist", "parameter") and isinstance(s, (ast.Assign, ast.AnnAssign)):
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Attribute):
                attr = targets[0].attr
        self.out[kind].append(Plant(kind, edits, node.lineno, self._stmt_lines(), desc, before, after, attr))

    # -- calls
    def visit_Call(self, node: ast.Call) -> None:
        self._layer_size(node)
        self._view_size(node)
        self._dim(node)
        self._modulelist(node)
        self._parameter(node)
        self.generic_visit(node)

    def _bump(self, arg: ast.expr, how: str) -> str:
        v = _int_literal(arg)
        if v is not None:
            return str(v + 1 if how == "+ 1" else v * 2)
        s = self.t.seg(arg)
        return f"{s} {how}" if _atomic(arg) else f"({s}) {how}"

    def _size_like(self, arg: ast.expr) -> bool:
        if isinstance(arg, ast.Constant):
            return type(arg.value) is int
        if isinstance(arg, (ast.Tuple, ast.List, ast.Starred, ast.Dict, ast.Set, ast.Lambda, ast.JoinedStr,
                            ast.ListComp, ast.GeneratorExp, ast.Compare, ast.BoolOp)):
            return False
        return True

    def _layer_size(self, call: ast.Call) -> None:
        cls = _layer_class(call, self.bare, self.local)
        if cls not in LAYER_ARGS:
            return
        positions, names = LAYER_ARGS[cls]
        args: list[tuple[str, ast.expr]] = []
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred):
                break
            if i in positions:
                args.append((names[i] if i < len(names) else str(i), a))
        for kw in call.keywords:
            if kw.arg in names:
                args.append((kw.arg, kw.value))
        for name, a in args:
            if not self._size_like(a):
                continue
            how = ("+ 1", "* 2")[self.n_layer_size % 2]  # alternately, in source order
            self.n_layer_size += 1
            rep = self._bump(a, how)
            a0, b0 = self.t.span(a)
            called = _dotted(call.func)
            label = f"nn.{cls}" if called.endswith(cls) else f"{called} (nn.{cls})"
            self._add("layer-size", [(a0, b0, rep)], a, f"{label} {name}: `{self.t.seg(a)}` -> `{rep}`")

    def _view_size(self, call: ast.Call) -> None:
        f = call.func
        if not isinstance(f, ast.Attribute):
            return
        op = f.attr
        is_func = _dotted(f.value) in ("torch",)
        if op not in VIEW_METHODS or (is_func and op != "reshape"):
            return
        args = list(call.args[1:] if is_func else call.args)
        if op == "unflatten":
            args = args[1:2]
        elif op == "new_full":
            args = args[:1]
        elements: list[ast.expr] = []
        if len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
            elements = list(args[0].elts)
        elif len(args) == 1 and isinstance(args[0], ast.Name):
            elements = self._tuple_assigned(args[0].id, args[0].lineno)
        elif len(args) == 1:
            elements = []  # `x.view(other.shape)`, `x.new_zeros(shape)`: a whole shape, not one size
        else:
            elements = args
        for e in elements:
            if isinstance(e, ast.Starred) or _int_literal(e) == -1 or not self._size_like(e):
                continue
            if (isinstance(e, ast.Attribute) and e.attr == "shape") or (
                    isinstance(e, ast.Subscript) and isinstance(e.slice, ast.Slice)) or (
                    isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "size" and not e.args):
                continue  # a whole shape or part of one
            if isinstance(e, ast.Attribute) and _dotted(e.value) == "torch":  # a dtype: x.view(torch.float16)
                continue
            rep = self._bump(e, "+ 1")
            a0, b0 = self.t.span(e)
            self._add("view-size", [(a0, b0, rep)], e, f".{op}(...) size: `{self.t.seg(e)}` -> `{rep}`")

    def _tuple_assigned(self, name: str, before_line: int) -> list[ast.expr]:
        """Elements of the one `name = (a, b, ...)` of the enclosing function, above the use."""
        if not self.funcs:
            return []
        found = []
        for node in ast.walk(self.funcs[-1]):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(tg, ast.Name) and tg.id == name for tg in targets):
                    found.append(node)
        if len(found) != 1 or not isinstance(found[0], ast.Assign) or found[0].lineno > before_line:
            return []
        value = found[0].value
        return list(value.elts) if isinstance(value, (ast.Tuple, ast.List)) else []

    def _dim(self, call: ast.Call) -> None:
        f = call.func
        if not isinstance(f, ast.Attribute):
            return
        op = f.attr
        if op == "permute":
            self._permute(call)
            return
        if op not in DIM_OPS:
            return
        method_pos, func_pos, kw_names = DIM_OPS[op]
        owner = _dotted(f.value)
        is_func = owner in TORCH_MODULES or owner.endswith(".functional")
        positions = func_pos if is_func else method_pos
        if op in ("cat", "concat", "concatenate", "stack") and not is_func:
            return
        cands: list[tuple[str, ast.expr]] = []
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred):
                break
            if i in positions:
                cands.append((f"arg {i}", a))
        for kw in call.keywords:
            if kw.arg in kw_names:
                cands.append((kw.arg, kw.value))
        for name, a in cands:
            v = _int_literal(a)
            if v is None:
                continue
            new = v + 1 if v >= 0 else v - 1
            a0, b0 = self.t.span(a)
            self._add("dim", [(a0, b0, str(new))], a, f".{op}(...) {name}: `{v}` -> `{new}`")

    def _permute(self, call: ast.Call) -> None:
        args = call.args
        if len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
            args = args[0].elts
        vals = [_int_literal(a) for a in args]
        if len(args) < 2 or any(v is None for v in vals):
            return
        for i in range(len(args) - 1):
            x, y = args[i], args[i + 1]
            if vals[i] == vals[i + 1]:
                continue
            a0, _ = self.t.span(x)
            _, b1 = self.t.span(y)
            between = self.t.text[self.t.span(x)[1]:self.t.span(y)[0]]
            rep = self.t.seg(y) + between + self.t.seg(x)
            self._add("dim", [(a0, b1, rep)], x, f".permute(...): swap `{vals[i]}`, `{vals[i + 1]}`")

    def _modulelist(self, call: ast.Call) -> None:
        f = call.func
        cls = _layer_class(call, self.bare)
        if cls not in ("ModuleList", "ModuleDict"):
            return
        text = self.t.text
        a0, b0 = self.t.span(call)
        _, fe = self.t.span(f)
        inner = text[fe:b0].strip()
        if not (inner.startswith("(") and inner.endswith(")")):
            return
        inner = inner[1:-1]
        if call.keywords or len(call.args) > 1:
            return
        arg = call.args[0] if call.args else None
        if cls == "ModuleList":
            if arg is None:
                rep = "[]"
            elif isinstance(arg, (ast.List, ast.ListComp)):
                rep = inner.strip()
            elif isinstance(arg, ast.GeneratorExp):
                rep = "[" + inner.strip() + "]"
            else:
                rep = "list(" + inner + ")"
        else:
            if arg is None:
                rep = "{}"
            elif isinstance(arg, (ast.Dict, ast.DictComp)):
                rep = inner.strip()
            else:
                rep = "dict(" + inner + ")"
        self._add("modulelist", [(a0, b0, rep)], call, f"nn.{cls}(...) -> plain {'list' if cls == 'ModuleList' else 'dict'}")

    def _parameter(self, call: ast.Call) -> None:
        f = call.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        if name not in PARAMETER_NAMES or not call.args or isinstance(call.args[0], ast.Starred):
            return
        if isinstance(f, ast.Attribute) and not _dotted(f.value).endswith(("nn", "parameter")):
            return
        s = self.stmt[-1] if self.stmt else None
        if not isinstance(s, (ast.Assign, ast.AnnAssign)) or s.value is not call:
            return
        targets = s.targets if isinstance(s, ast.Assign) else [s.target]
        if not all(isinstance(tg, ast.Attribute) for tg in targets):
            return
        a0, b0 = self.t.span(call)
        rep = self.t.seg(call.args[0])
        self._add("parameter", [(a0, b0, rep)], call, f"nn.Parameter(...) -> plain tensor `{_dotted(targets[0]) or 'attribute'}`")

    # -- super().__init__()
    def _super_init(self, fn: ast.FunctionDef) -> None:
        body = fn.body
        for idx, s in enumerate(body):
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)):
                continue
            fcall = s.value.func
            if not (isinstance(fcall, ast.Attribute) and fcall.attr == "__init__"):
                continue
            owner = fcall.value
            if not ((isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super")
                    or _dotted(owner) in ("nn.Module", "torch.nn.Module", "Module")):
                continue
            t = self.t
            line_text = t.lines[s.lineno - 1]
            last_text = t.lines[s.end_lineno - 1]
            before = line_text.encode()[: s.col_offset].decode(errors="ignore")
            after = last_text.encode()[s.end_col_offset:].decode(errors="ignore")
            if before.strip() or (after.strip() and not after.strip().startswith("#")):
                continue  # shares its line with other code
            start = t.starts[s.lineno - 1]
            end = t.starts[s.end_lineno]
            stmt_text = t.text[start:end]
            others = [x for j, x in enumerate(body) if j != idx and not (
                j == 0 and isinstance(x, ast.Expr) and isinstance(x.value, ast.Constant) and isinstance(x.value.value, str))]
            self.stmt.append(s)
            try:
                if not others:
                    self._add("super-init", [(start, end, before + "pass\n")], s, "super().__init__(...) deleted")
                else:
                    self._add("super-init", [(start, end, "")], s, "super().__init__(...) deleted")
                last = body[-1]
                if last is not s and idx < len(body) - 1 and not isinstance(last, ast.Return):
                    ins = t.starts[last.end_lineno]
                    if ins <= len(t.text) and t.text[ins - 1:ins] == "\n":
                        self._add("super-init", [(start, end, ""), (ins, ins, stmt_text)], s,
                                  f"super().__init__(...) moved to the end of __init__ (after line {last.end_lineno})")
            finally:
                self.stmt.pop()
            break


def find_plants(text: str, limit_line: int | None = None) -> dict[str, list[Plant]]:
    """Every candidate plant of each kind, in source order; each mutant parses."""
    tree = ast.parse(text)
    t = Text(text)
    finder = _Finder(t, tree, limit_line or len(t.lines) + 2)
    finder.visit(tree)
    out: dict[str, list[Plant]] = {}
    for kind, plants in finder.out.items():
        seen: set[str] = set()
        keep = []
        for p in plants:
            mutant = apply_edits(text, p.edits)
            if mutant == text or mutant in seen:
                continue
            try:
                ast.parse(mutant)
            except SyntaxError:
                continue
            seen.add(mutant)
            keep.append(p)
        out[kind] = keep
    return out


def sample_plants(cands: dict[str, list[Plant]], covered: set[int] | None, cap: int, seed: int, model: str,
                  kinds: Iterable[str]) -> list[Plant]:
    out = []
    for kind in kinds:
        pool = cands.get(kind, [])
        if covered is not None:
            pool = [p for p in pool if any(ln in covered for ln in range(p.stmt_lines[0], p.stmt_lines[1] + 1))]
        rng = random.Random(f"{seed}:{model}:{kind}")
        picked = rng.sample(range(len(pool)), min(cap, len(pool)))
        out += [pool[i] for i in sorted(picked)]
    return out


# --------------------------------------------------------------------------
# Oracle: real torch on the CPU, in worker processes of the venv
# --------------------------------------------------------------------------
ORACLE_WORKER = r'''
import gc, importlib.util, json, os, sys, traceback
proto = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # what the evaluated code prints goes to stderr
import torch
torch.set_num_threads(1)

def shapes(obj, out, depth=0):
    if depth > 4 or len(out) > 64:
        return out
    if isinstance(obj, torch.Tensor):
        out.append(list(obj.shape))
    elif isinstance(obj, dict):
        for k in obj:
            shapes(obj[k], out, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            shapes(v, out, depth + 1)
    return out

def call(model, inputs):
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)

def run(req):
    path, modname = req["path"], req["module"]
    covered = set()
    def local(frame, event, arg):
        if event == "line" or event == "call":
            covered.add(frame.f_lineno)
        return local
    def glob(frame, event, arg):
        if frame.f_code.co_filename == path:
            covered.add(frame.f_lineno)
            return local
        return None
    res = {"status": "ok"}
    phase = "import"
    if req.get("coverage"):
        sys.settrace(glob)
    try:
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
        phase = "build"
        torch.manual_seed(0)
        model = getattr(mod, req["builder"])()
        phase = "input"
        torch.manual_seed(1)
        inputs = eval(req["input"], {"torch": torch})
        phase = "registration"
        res["params"] = {n: list(p.shape) for n, p in model.named_parameters()}
        res["state"] = {k: list(v.shape) for k, v in model.state_dict().items()}
        phase = "forward (eval, no_grad)"
        model.eval()
        with torch.no_grad():
            torch.manual_seed(2)
            res["out_eval"] = shapes(call(model, inputs), [])
        phase = "forward (train)"
        model.train()
        torch.manual_seed(2)
        res["out_train"] = shapes(call(model, inputs), [])
    except BaseException as exc:  # SystemExit too: the mutant must not end the worker
        tb = traceback.extract_tb(exc.__traceback__)
        in_file = [f.lineno for f in tb if f.filename == path]
        res = {"status": "error", "phase": phase, "type": type(exc).__name__,
               "message": str(exc).strip().splitlines()[0][:400] if str(exc).strip() else "",
               "line": in_file[-1] if in_file else None,
               "where": f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else None}
    finally:
        sys.settrace(None)
        sys.modules.pop(modname, None)
    if req.get("coverage"):
        res["covered"] = sorted(covered)
    return res

for line in sys.stdin:
    req = json.loads(line)
    try:
        res = run(req)
    except BaseException as exc:
        res = {"status": "error", "phase": "worker", "type": type(exc).__name__, "message": str(exc)[:400]}
    gc.collect()
    proto.write(json.dumps(res) + "\n")
    proto.flush()
'''


class OracleWorker:
    """One worker process; requests one at a time, each with a time limit."""

    RESTART_EVERY = 60

    def __init__(self, python: Path, script: Path) -> None:
        self.python = python
        self.script = script
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue = queue.Queue()
        self.served = 0

    def _start(self) -> None:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error", HF_HUB_OFFLINE="1",
                   PYTHONWARNINGS="ignore")
        self.proc = subprocess.Popen([str(self.python), str(self.script)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=env, cwd=str(self.script.parent), start_new_session=True)
        self.lines = queue.Queue()
        proc, lines = self.proc, self.lines

        def pump() -> None:
            for line in proc.stdout:  # type: ignore[union-attr]
                lines.put(line)
            lines.put(None)
        threading.Thread(target=pump, daemon=True).start()
        self.served = 0

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            self.proc = None

    def run(self, req: dict, timeout: float) -> dict:
        if self.proc is None or self.proc.poll() is not None or self.served >= self.RESTART_EVERY:
            self.stop()
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        t0 = time.monotonic()
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            line = self.lines.get(timeout=timeout + 30 * (self.served == 0))  # first request: imports torch
        except queue.Empty:
            self.stop()
            return {"status": "timeout", "seconds": round(time.monotonic() - t0, 1)}
        except (BrokenPipeError, OSError):
            line = None
        self.served += 1
        if line is None:
            code = self.proc.poll() if self.proc else None
            self.stop()
            return {"status": "crash", "message": f"oracle worker exited ({code})"}
        res = json.loads(line)
        res["seconds"] = round(time.monotonic() - t0, 2)
        return res


def run_oracle(jobs: list[dict], python: Path, cache: Path, n_workers: int, timeout: float,
               use_cache: bool, progress: str = "") -> list[dict]:
    """Results in the order of `jobs` (dicts with path, module, builder, input, coverage)."""
    script = cache / "oracle_worker.py"
    script.write_text(ORACLE_WORKER)
    cache_file = cache / "oracle_cache.json"
    stored: dict[str, dict] = {}
    if use_cache and cache_file.is_file():
        try:
            stored = json.loads(cache_file.read_text())
        except ValueError:
            stored = {}
    torch_v = ""
    if use_cache:
        torch_v = _run([str(python), "-c", "import torch, transformers; print(torch.__version__, transformers.__version__)"]).stdout.strip()
    keys = []
    for j in jobs:
        h = hashlib.sha256()
        for part in (Path(j["path"]).read_text(), j["builder"], j["input"], str(j.get("coverage")), torch_v, ORACLE_WORKER):
            h.update(part.encode())
            h.update(b"\0")
        keys.append(h.hexdigest())
    results: list[dict | None] = [stored.get(k) if use_cache else None for k in keys]
    todo: queue.Queue = queue.Queue()
    for i, r in enumerate(results):
        if r is None:
            todo.put(i)
    total = todo.qsize()
    done = [0]
    lock = threading.Lock()

    def work() -> None:
        w = OracleWorker(python, script)
        try:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                r = w.run(jobs[i], timeout)
                if r.get("status") in ("timeout", "crash"):  # once more, on a fresh worker
                    w.stop()
                    r2 = w.run(jobs[i], timeout)
                    if r2.get("status") not in ("timeout", "crash"):
                        r = r2
                results[i] = r
                with lock:
                    done[0] += 1
                    if progress and (done[0] % 20 == 0 or done[0] == total):
                        print(f"  {progress}: {done[0]}/{total}", flush=True)
        finally:
            w.stop()

    if total:
        threads = [threading.Thread(target=work) for _ in range(max(1, min(n_workers, total)))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    if use_cache:
        for k, r in zip(keys, results):
            if r is not None and r.get("status") not in ("timeout", "crash"):
                stored[k] = r
        cache_file.write_text(json.dumps(stored))
    return [r or {"status": "crash"} for r in results]


def verdict(kind: str, base: dict, res: dict, attr: str = "") -> tuple[str, str]:
    """(confirmed | unbroken | undecided, what torch said)."""
    st = res.get("status")
    if st in ("timeout", "crash"):
        return "undecided", st
    if st == "error":
        where = f" at line {res['line']}" if res.get("line") else (f" ({res['where']})" if res.get("where") else "")
        return "confirmed", f"{res.get('phase')}: {res.get('type')}: {res.get('message')}{where}"
    missing_p = sorted(set(base.get("params", {})) - set(res.get("params", {})))
    missing_s = sorted(set(base.get("state", {})) - set(res.get("state", {})))
    if kind in REGISTRATION_KINDS and (missing_p or missing_s):
        names = missing_p or missing_s
        what = "parameters" if missing_p else "state_dict entries"
        return "confirmed", f"registration: {len(names)} {what} missing ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
    changes = []
    if kind in ("modulelist", "parameter") and attr and not any(attr in k.split(".") for k in base.get("state", {})):
        changes.append(f"(`{attr}` holds no parameter in this configuration)")
    if res.get("params") != base.get("params") or res.get("state") != base.get("state"):
        changes.append("parameter shapes")
    if res.get("out_eval") != base.get("out_eval") or res.get("out_train") != base.get("out_train"):
        changes.append("output shapes")
    note = [c for c in changes if c.startswith("(")]
    changed = [c for c in changes if not c.startswith("(")]
    said = ("runs; changed " + " and ".join(changed)) if changed else "runs, same registration and output shapes"
    return "unbroken", " ".join([said] + note)


# --------------------------------------------------------------------------
# torch-lsp runs
# --------------------------------------------------------------------------
def run_cli(cli_python: Path, workdir: Path, runtime: bool, runtime_timeout: float, timeout: float) -> tuple[list[dict], float, str]:
    cmd = [str(cli_python), "-m", "torch_lsp", "check", str(workdir), "--format", "json", "--exit-zero", "--no-progress"]
    if runtime:
        cmd += ["--runtime", "--runtime-report-skipped", "--runtime-timeout", str(runtime_timeout)]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("VIRTUAL_ENV", None)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{' '.join(cmd[2:5])}{' --runtime' if runtime else ''} timed out after {timeout:.0f} s") from exc
    wall = time.monotonic() - t0
    if p.returncode not in (0, 1):
        raise ToolError(f"torch-lsp exited {p.returncode}:\n{p.stderr[-3000:]}")
    try:
        diags = json.loads(p.stdout)
        assert isinstance(diags, list)
    except (ValueError, AssertionError) as exc:
        raise ToolError(f"torch-lsp printed no JSON array: {p.stdout[:500]!r}\n{p.stderr[-2000:]}") from exc
    return diags, wall, p.stderr


class ToolError(RuntimeError):
    pass


def line_map(orig: str, mutant: str) -> dict[int, int]:
    """1-based mutant line -> 1-based original line, for lines outside the changed blocks."""
    a, b = orig.splitlines(), mutant.splitlines()
    out: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                out[j1 + k + 1] = i1 + k + 1
    return out


def planted_lines(orig: str, plant: Plant) -> set[int]:
    """The mutant's lines holding the planted text (for a pure deletion, the line after it)."""
    mutant = apply_edits(orig, plant.edits)
    out: set[int] = set()
    shift = 0
    for a, b, rep in sorted(plant.edits):
        start = a + shift
        first = mutant.count("\n", 0, start) + 1
        last = mutant.count("\n", 0, start + len(rep)) + 1
        if rep.endswith("\n"):
            last -= 1
        out.update(range(first, max(first, last) + 1))
        shift += len(rep) - (b - a)
    return out


def loud(diags: list[dict]) -> list[dict]:
    return [d for d in diags if d.get("severity") in LOUD]


def tl902_reason(message: str) -> str:
    """A TL902 message reduced to its reason: the evaluated name, paths and numbers
    taken out, at most 160 characters."""
    m = re.search(r"not evaluated on meta tensors:\s*(.*)", message, re.DOTALL)
    reason = (m.group(1) if m else message).strip().splitlines()[0] if message.strip() else ""
    reason = re.sub(r"`[^`]*`", "`…`", reason)
    reason = re.sub(r"\((/|[A-Za-z]:\\)[^)]*\)", "", reason)  # (path/of/module.py)
    reason = re.sub(r"(/[\w.-]+)+\.py", "….py", reason)
    reason = re.sub(r"\b\d+(\.\d+)?\b", "N", reason)
    reason = re.sub(r"\s+", " ", reason).strip()
    return reason if len(reason) <= 160 else reason[:159] + "…"


def builder_tl902(case: Case, builder: str) -> str | None:
    """The TL902 message about the builder's evaluation (None: there is none)."""
    for msg in case.tl902:
        if msg.startswith(f"`{builder}(") or f"`{builder}()`" in msg:
            return msg
    return None


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------
@dataclasses.dataclass
class Case:
    model: str
    kind: str  # "orig" for the unplanted copy
    file: str  # workspace file name
    plant: Plant | None = None
    verdict: str = ""
    torch_said: str = ""
    oracle: dict = dataclasses.field(default_factory=dict)
    new: dict = dataclasses.field(default_factory=dict)  # mode -> new loud diagnostics
    at_line: dict = dataclasses.field(default_factory=dict)  # mode -> any new one at the planted lines
    tl902: list = dataclasses.field(default_factory=list)  # runtime TL902 messages of the file


def pct(n: int, d: int) -> str:
    return f"{n} ({100 * n / d:.0f}%)" if d else "–"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=TABLE,
                    help="the table of model files (default: %(default)s; benchmarks/mutation/vision.toml: "
                         "torchvision and timm classification models)")
    ap.add_argument("--only", help="comma-separated model names of the table")
    ap.add_argument("--kinds", help=f"comma-separated kinds (default all: {','.join(KINDS)})")
    ap.add_argument("--cap", type=int, default=5, help="plants per file and kind (default 5)")
    ap.add_argument("--limit", type=int, help="at most N plants in all (taken round-robin over files and kinds)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--include-unexecuted", action="store_true",
                    help="also plant in statements the oracle's run of the unplanted model does not execute")
    ap.add_argument("--modes", default="static,runtime", help="static,runtime (default both)")
    ap.add_argument("--runtime-timeout", type=float, default=60.0, help="torch-lsp --runtime-timeout (default 60)")
    ap.add_argument("--oracle-timeout", type=float, default=120.0, help="seconds per oracle run (default 120)")
    ap.add_argument("--jobs", type=int, default=2, help="oracle worker processes (default 2)")
    ap.add_argument("--cli-python", help="interpreter running `-m torch_lsp` (default: the venv's, which sees the "
                    "installed transformers as a user's environment would; torch_lsp comes from this checkout)")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--no-oracle-cache", action="store_true", help="rerun every oracle run")
    ap.add_argument("--cli-timeout", type=float, default=3600.0, help="time limit of one torch-lsp run")
    ap.add_argument("--setup-only", action="store_true", help="venv, sources and the unplanted baselines only")
    ap.add_argument("--show-unbroken", action="store_true", help="also list the plants torch does not break")
    ap.add_argument("--json", type=Path, help="write everything to this file")
    args = ap.parse_args(argv)

    kinds = [k.strip() for k in (args.kinds or ",".join(KINDS)).split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        ap.error(f"unknown kinds: {', '.join(bad)}")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in ("static", "runtime") for m in modes):
        ap.error("--modes takes static and/or runtime")
    cache: Path = args.cache_dir.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    models = load_models(args.models)
    if args.only:
        names = {n.strip() for n in args.only.split(",")}
        unknown = names - {m.name for m in models}
        if unknown:
            ap.error(f"unknown models: {', '.join(sorted(unknown))} (known: {', '.join(m.name for m in models)})")
        models = [m for m in models if m.name in names]

    t_start = time.monotonic()
    # -- setup
    try:
        py = ensure_venv(cache, {m.source for m in models})
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return EXIT_SETUP
    cli_python = Path(args.cli_python) if args.cli_python else py
    work = cache / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / "pyproject.toml").write_text(
        "# written by benchmarks/mutation.py\n[tool.torch-lsp.runtime]\n"
        f"python = {json.dumps(str(py))}\ntimeout = {args.runtime_timeout}\n")
    originals: dict[str, str] = {}
    builder_line: dict[str, int] = {}
    for m in models:
        try:
            src = source_path(m, py)
            text = src.read_text(encoding="utf-8")
        except (SetupError, OSError) as exc:
            print(f"setup failed: {m.name}: {exc}", file=sys.stderr)
            return EXIT_SETUP
        copy = make_standalone(text, m.package, m.builder, m.after_imports)
        originals[m.name] = copy
        builder_line[m.name] = len(copy.splitlines()) - len(m.builder.splitlines()) + 1
        (work / f"{m.name}__orig.py").write_text(copy)
    print(f"{len(models)} model files copied into {work}", flush=True)

    # -- baselines (with coverage)
    t0 = time.monotonic()
    base_jobs = [dict(path=str(work / f"{m.name}__orig.py"), module=f"mutbench_{m.name}__orig", builder=m.builder_name,
                      input=m.input, coverage=True) for m in models]
    bases = run_oracle(base_jobs, py, cache, args.jobs, args.oracle_timeout, not args.no_oracle_cache, "baselines")
    t_base = time.monotonic() - t0
    failed = [(m.name, b) for m, b in zip(models, bases) if b.get("status") != "ok"]
    for name, b in failed:
        print(f"unplanted {name} does not run: {b.get('phase')}: {b.get('type')}: {b.get('message') or b.get('status')}",
              file=sys.stderr)
    if failed:
        return EXIT_SETUP
    base_of = {m.name: b for m, b in zip(models, bases)}
    print(f"baselines: {len(models)} models run in {t_base:.1f} s "
          "(" + ", ".join(f"{m.name} {b.get('seconds', 0):.1f}s" for m, b in zip(models, bases)) + ")", flush=True)
    if args.setup_only:
        return 0

    # -- plants
    cases: list[Case] = [Case(m.name, "orig", f"{m.name}__orig.py") for m in models]
    per_model: list[list[Case]] = []
    candidates_count: dict[str, collections.Counter] = {}
    for m in models:
        cands = find_plants(originals[m.name], builder_line[m.name])
        covered = None if args.include_unexecuted else set(base_of[m.name].get("covered", []))
        candidates_count[m.name] = collections.Counter({k: len(v) for k, v in cands.items()})
        plants = sample_plants(cands, covered, args.cap, args.seed, m.name, kinds)
        mine = []
        counter: collections.Counter = collections.Counter()
        for p in plants:
            counter[p.kind] += 1
            fname = f"{m.name}__{p.kind.replace('-', '_')}__{counter[p.kind]:02d}.py"
            mine.append(Case(m.name, p.kind, fname, p))
        per_model.append(mine)
    # --limit: the first N of an order that mixes models and kinds (the k-th plant of every
    # (model, kind) before any (k+1)-th; within a round, models and kinds interleaved)
    order = []
    for mi, mine in enumerate(per_model):
        rank: collections.Counter = collections.Counter()
        for c in mine:
            rank[c.kind] += 1
            ki = KINDS.index(c.kind)
            order.append(((rank[c.kind], (mi + ki) % len(KINDS), mi, ki), c))
    order.sort(key=lambda x: x[0])
    planted = [c for _, c in order][: args.limit] if args.limit is not None else [c for _, c in order]
    planted.sort(key=lambda c: (c.model, KINDS.index(c.kind), c.file))
    for c in planted:
        assert c.plant is not None
        (work / c.file).write_text(apply_edits(originals[c.model], c.plant.edits))
    cases += planted
    print(f"{len(planted)} plants written ({', '.join(f'{k} {sum(c.kind == k for c in planted)}' for k in kinds)})",
          flush=True)

    # -- oracle over the mutants
    t0 = time.monotonic()
    model_of = {m.name: m for m in models}
    jobs = [dict(path=str(work / c.file), module=f"mutbench_{c.file[:-3]}", builder=model_of[c.model].builder_name,
                 input=model_of[c.model].input, coverage=False) for c in planted]
    results = run_oracle(jobs, py, cache, args.jobs, args.oracle_timeout, not args.no_oracle_cache, "oracle")
    t_oracle = time.monotonic() - t0
    for c, r in zip(planted, results):
        c.oracle = r
        c.verdict, c.torch_said = verdict(c.kind, base_of[c.model], r, c.plant.attr)
    print(f"oracle: {len(planted)} mutants in {t_oracle:.1f} s", flush=True)

    # -- torch-lsp
    walls: dict[str, float] = {}
    stderr_tail: dict[str, str] = {}
    diags_by_mode: dict[str, dict[str, list[dict]]] = {}
    for mode in modes:
        print(f"torch-lsp check{' --runtime' if mode == 'runtime' else ''} over {len(cases)} files ...", flush=True)
        try:
            diags, wall, err = run_cli(cli_python, work, mode == "runtime", args.runtime_timeout, args.cli_timeout)
        except ToolError as exc:
            print(f"torch-lsp failed: {exc}", file=sys.stderr)
            return EXIT_TOOL
        walls[mode] = wall
        stderr_tail[mode] = err[-2000:]
        for line in [x for x in err.splitlines() if x.strip()][:5]:
            print(f"  stderr: {line[:300]}", flush=True)
        by_file: dict[str, list[dict]] = collections.defaultdict(list)
        for d in diags:
            by_file[os.path.basename(d.get("path", ""))].append(d)
        diags_by_mode[mode] = by_file
        print(f"  {len(diags)} diagnostics in {wall:.1f} s", flush=True)

    # -- compare
    orig_keys: dict[tuple[str, str], set[tuple[str, int]]] = {}
    for mode in modes:
        for m in models:
            orig_keys[(mode, m.name)] = {(d["code"], d["line"]) for d in loud(diags_by_mode[mode].get(f"{m.name}__orig.py", []))}
    for c in cases:
        ds = {mode: diags_by_mode[mode].get(c.file, []) for mode in modes}
        if "runtime" in modes:
            c.tl902 = [d["message"] for d in ds["runtime"] if d.get("code") == "TL902"]
        if c.plant is None:
            for mode in modes:
                c.new[mode] = loud(ds[mode])
            continue
        mutant = (work / c.file).read_text()
        lm = line_map(originals[c.model], mutant)
        pl = planted_lines(originals[c.model], c.plant)
        for mode in modes:
            new = []
            for d in loud(ds[mode]):
                o = lm.get(d["line"])
                if o is None or (d["code"], o) not in orig_keys[(mode, c.model)]:
                    new.append(d)
            c.new[mode] = new
            c.at_line[mode] = any(d["line"] in pl for d in new)

    report(models, cases, kinds, modes, walls, candidates_count, args, t_base, t_oracle, time.monotonic() - t_start)
    data = export(models, cases, modes, walls, candidates_count, args)
    data["stderr_tail"] = stderr_tail
    data["oracle_seconds"] = {"baselines": round(t_base, 1), "mutants": round(t_oracle, 1)}
    (cache / "last_run.json").write_text(json.dumps(data, indent=1))  # the workspace is rebuilt by the next run
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
        print(f"\nwritten: {args.json}")
    return 0


def report(models, cases: list[Case], kinds, modes, walls, candidates_count, args, t_base, t_oracle, t_total) -> None:
    planted = [c for c in cases if c.plant is not None]
    origs = [c for c in cases if c.plant is None]
    builders = {m.name: m.builder_name for m in models}
    print("\n== candidates (all statements) per model: " + "; ".join(
        f"{m.name} " + " ".join(str(candidates_count[m.name][k]) for k in kinds) for m in models))
    print(f"   (columns: {' '.join(kinds)}; plants are sampled from those the unplanted run executes"
          f"{'' if not args.include_unexecuted else ' or not'}, at most {args.cap} per file and kind, seed {args.seed})")
    print("\n== recall per kind (found = a loud diagnostic the unplanted copy does not get)")
    hdr = ["kind", "planted", "confirmed", "unbroken", "undecided"]
    for mode in modes:
        hdr += [f"{mode} found", f"{mode} at line"]
    for mode in modes:
        hdr += [f"{mode} false alarms (unbroken)"]
    rows = []
    tot = collections.Counter()
    for kind in list(kinds) + ["all"]:
        cs = [c for c in planted if kind == "all" or c.kind == kind]
        conf = [c for c in cs if c.verdict == "confirmed"]
        unb = [c for c in cs if c.verdict == "unbroken"]
        row = [kind, str(len(cs)), str(len(conf)), str(len(unb)), str(sum(c.verdict == "undecided" for c in cs))]
        for mode in modes:
            f = [c for c in conf if c.new.get(mode)]
            row += [pct(len(f), len(conf)), str(sum(1 for c in f if c.at_line.get(mode)))]
        for mode in modes:
            row += [f"{sum(1 for c in unb if c.new.get(mode))} / {len(unb)}"]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(x.ljust(w) for x, w in zip(r, widths)) + " |")
    del tot
    if "static" in modes and "runtime" in modes:
        conf = [c for c in planted if c.verdict == "confirmed"]
        only_rt = sum(1 for c in conf if c.new.get("runtime") and not c.new.get("static"))
        only_st = sum(1 for c in conf if c.new.get("static") and not c.new.get("runtime"))
        print(f"confirmed bugs found only with --runtime: {only_rt}; only by the static run: {only_st}")

    print("\n== per model (confirmed / found " + " / ".join(modes) + ")")
    for m in models:
        cs = [c for c in planted if c.model == m.name]
        conf = [c for c in cs if c.verdict == "confirmed"]
        print(f"  {m.name:16s} planted {len(cs):3d}  confirmed {len(conf):3d}  " + "  ".join(
            f"{mode} {sum(1 for c in conf if c.new.get(mode)):3d}" for mode in modes))

    print("\n== false alarms")
    n = 0
    for mode in modes:
        for c in origs:
            for d in c.new.get(mode, []):
                n += 1
                print(f"  [{mode}] unplanted {c.file}:{d['line']}: {d['code']} [{d['severity']}] {d['message'][:300]}")
        for c in planted:
            if c.verdict == "unbroken":
                for d in c.new.get(mode, []):
                    n += 1
                    print(f"  [{mode}] {c.file}:{d['line']}: {d['code']} [{d['severity']}] {d['message'][:300]}\n"
                          f"      plant line {c.plant.line}: {c.plant.description}; torch: {c.torch_said}")
    if not n:
        print("  none")

    print("\n== confirmed bugs missed")
    for mode in modes:
        missed = [c for c in planted if c.verdict == "confirmed" and not c.new.get(mode)]
        print(f"  -- {mode}: {len(missed)}")
        for c in missed:
            extra = ""
            if mode == "runtime":
                msg = builder_tl902(c, builders[c.model])
                extra = f"\n      runtime: {'TL902 ' + tl902_reason(msg) if msg else f'no TL902 for `{builders[c.model]}()`'}"
            print(f"  {c.file}:{c.plant.line}: {c.plant.description}\n      torch: {c.torch_said}{extra}")

    if "runtime" in modes:
        print("\n== runtime misses by reason (confirmed bugs without a new loud diagnostic in the --runtime run)")
        print("   (the TL902 given for the builder's evaluation in the mutant; [unplanted too]: the unplanted copy's"
              " builder is not evaluated either)")
        orig_skip = {c.model: builder_tl902(c, builders[c.model]) for c in origs}
        reasons = collections.Counter()
        for c in planted:
            if c.verdict == "confirmed" and not c.new.get("runtime"):
                msg = builder_tl902(c, builders[c.model])
                r = ("TL902: " + tl902_reason(msg)) if msg else "no TL901, and no TL902 for the builder (evaluated without error, or not found)"
                reasons[("[unplanted too] " if orig_skip.get(c.model) else "") + r] += 1
        for r, k in reasons.most_common():
            print(f"  {k:4d}  {r}")
        print("\n== the builders' TL902 in the unplanted copies")
        for c in origs:
            msg = orig_skip.get(c.model)
            print(f"  {c.model:16s} {tl902_reason(msg) if msg else '(evaluated: no TL902 for the builder)'}")
        print("\n== TL902 reasons over all files (files with the reason)")
        tl = collections.Counter()
        for c in cases:
            for r in {tl902_reason(msg) for msg in c.tl902}:
                tl[r] += 1
        for r, k in tl.most_common(20):
            print(f"  {k:4d}  {r}")
        if not tl:
            print("  none")
        files_without = sum(1 for c in cases if not c.tl902 and not any(d["code"] == "TL901" for d in c.new.get("runtime", [])))
        print(f"  files with neither TL901 nor TL902: {files_without} of {len(cases)}")

    if args.show_unbroken:
        print("\n== plants torch does not break")
        for c in planted:
            if c.verdict != "confirmed":
                print(f"  {c.file}:{c.plant.line}: {c.plant.description} -> {c.verdict}: {c.torch_said}")

    print("\n== time")
    print(f"  oracle: baselines {t_base:.1f} s, mutants {t_oracle:.1f} s ({args.jobs} workers)")
    for mode in modes:
        print(f"  torch-lsp {mode}: {walls[mode]:.1f} s over {len(cases)} files")
    print(f"  total {t_total:.0f} s")


def export(models, cases: list[Case], modes, walls, candidates_count, args) -> dict:
    def plant_json(p: Plant | None) -> dict | None:
        if p is None:
            return None
        return {"kind": p.kind, "line": p.line, "statement_lines": list(p.stmt_lines), "description": p.description,
                "before": p.before, "after": p.after, "edits": [list(e) for e in p.edits]}
    return {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "modes": modes,
        "wall_seconds": walls,
        "candidates": {m: dict(c) for m, c in candidates_count.items()},
        "cases": [{"model": c.model, "kind": c.kind, "file": c.file, "plant": plant_json(c.plant),
                   "verdict": c.verdict or None, "torch_said": c.torch_said or None,
                   "oracle": {k: v for k, v in c.oracle.items() if k not in ("params", "state", "covered")},
                   "new_loud": c.new, "at_planted_line": c.at_line, "tl902": c.tl902} for c in cases],
    }


if __name__ == "__main__":
    sys.exit(main())
