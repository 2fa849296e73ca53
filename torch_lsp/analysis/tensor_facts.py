"""What a tensor assigned to ``self`` is (TL101's model of harm, part 1): its rank when
provable, its dtype kind, whether it is random or derived only from constructor
arguments and constants (``TensorFacts``), and the tables of torch names those facts
read. See ``attribute_use`` for the whole model."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch_lsp.strict import swallowed
from torch_lsp.analysis import torch_api as T

if TYPE_CHECKING:
    pass


# ---------------------------------------------------------------------------------- tables

# Tensor methods and attributes whose result is a Python value (or a dtype/shape).
_PY_METHODS = frozenset(
    """
    size dim numel item tolist ndimension nelement element_size is_contiguous is_floating_point is_complex
    data_ptr get_device numpy stride storage_offset is_pinned is_shared is_set_to equal __len__ __bool__
    __int__ __float__ __index__ untyped_storage
    """.split()
)
_PY_ATTRS = frozenset(
    "shape dtype ndim is_cuda is_cpu is_meta is_sparse is_leaf requires_grad grad_fn layout names itemsize nbytes".split()
)
_SAME_ATTRS = frozenset("T mT H mH data real imag grad".split())
# In-place methods that do not update a value (they change autograd flags or memory placement).
_NOT_UPDATES = frozenset({"requires_grad_", "share_memory_", "detach_", "retain_grad", "record_stream"})
# Methods that read only the other tensor's size.
_SIZE_ONLY = frozenset({"view_as", "reshape_as", "expand_as"})
_NEW_METHODS = frozenset({"new_tensor", "new_zeros", "new_ones", "new_full", "new_empty"})
# Python builtins returning a plain Python value whatever they are given.
_PY_BUILTINS = frozenset(
    """
    int float bool len str repr isinstance issubclass hasattr callable id hash type print format range round
    divmod chr ord bin hex oct
    """.split()
)
# Builtins that pass their arguments' values through (containers, iteration).
_PASS_BUILTINS = frozenset("list tuple sorted reversed zip enumerate iter next max min sum abs map filter set dict".split())
# Module methods on an instance: the instance is used as a model.
_MODULE_API = frozenset(
    """
    to cuda cpu half float double bfloat16 eval train parameters named_parameters buffers named_buffers
    state_dict load_state_dict apply modules children named_modules named_children zero_grad requires_grad_
    register_forward_hook register_forward_pre_hook forward
    """.split()
)
_REGISTERING = frozenset({"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict"})
_RANDOM_FACTORIES = frozenset(
    "torch." + n
    for n in "rand randn randint randperm normal bernoulli multinomial poisson rand_like randn_like randint_like".split()
)
_RANDOM_METHODS = frozenset(
    "normal_ uniform_ random_ exponential_ bernoulli_ log_normal_ cauchy_ geometric_ bernoulli multinomial".split()
)
_INT_DTYPES = frozenset("int int8 int16 int32 int64 long short uint8 uint16 uint32 uint64 qint8 quint8".split())
_FLOAT_DTYPES = frozenset("float float32 float64 double half float16 bfloat16 complex64 complex128 cfloat cdouble".split())
_ELEMENTWISE = frozenset(
    """
    exp log log1p sqrt rsqrt abs neg sin cos tanh sigmoid clamp clip floor ceil round sign reciprocal erf erfinv
    float double half bfloat16 long int short bool byte char to cuda cpu type type_as contiguous clone detach
    requires_grad_ pin_memory relu softmax log_softmax pow exp_ mul add sub div masked_fill tril triu
    """.split()
)
_REDUCTIONS = frozenset("sum mean prod max min norm std var all any amax amin logsumexp median".split())

# Words of an attribute name that say it holds a learned parameter (see TL101's rule text).
_PARAM_WORDS = frozenset(
    "param params parameter parameters weight weights bias biases gamma beta learnable trainable learned".split()
)
_PARAM_COMPOUNDS = ("logit_scale",)
# Words of learned embeddings and tokens (ViT's pos_embed / cls_token, DETR's query_embed): they say
# "learned" only of a placeholder (a tensor of a shape, left as made), not of a table computed in __init__.
_EMBEDDING_WORDS = frozenset("embed embeds embedding embeddings token tokens query queries prompt prompts latents".split())
_WORD_SPLIT = re.compile(r"[_\W]+|(?<=[a-z])(?=[A-Z])|\d+")


def name_says_parameter(name: str, placeholder: bool = False) -> bool:
    """``scalar_param``, ``gamma_1``, ``attnWeight``, ``logit_scale``: a name that calls
    the tensor a learned parameter. Affine-parameter words (weight, bias, gamma, beta),
    the word param(eter) itself, and CLIP's ``logit_scale``; not generic words such as
    scale, alpha, temperature or kernel, which name constants as often. With
    ``placeholder`` (the tensor is ``zeros/ones/empty/rand/randn/full`` of a shape, not
    filled in afterwards), embedding and token words count too (``pos_embed``, ``cls_token``)."""
    low = name.lower()
    if any(c in low for c in _PARAM_COMPOUNDS):
        return True
    words = [w.lower() for w in _WORD_SPLIT.split(name) if w]
    return any(w in _PARAM_WORDS for w in words) or (placeholder and any(w in _EMBEDDING_WORDS for w in words))


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _const_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp):
        return _const_number(node.operand)
    return isinstance(node, ast.Constant) and type(node.value) in (int, float, bool)


# ---------------------------------------------------------------------------------- what was assigned


@dataclass
class TensorFacts:
    rank: int | None = None  # provable rank, else None
    dtype: str | None = None  # 'float' | 'int' | 'bool' | None (unknown)
    random: bool = False  # made by a random factory: cannot be recomputed
    from_args: bool = False  # derived only from constructor arguments and constants
    device: str = "cpu"  # where it is created: 'cpu' | 'cuda' | 'given' (a device passed in)
    placeholder: bool = False  # zeros/ones/empty/rand/randn/full of a shape, not filled in afterwards


class _Scope:
    """The function an assignment is in: its parameters and its local assignments."""

    def __init__(self, fn: ast.FunctionDef | None, self_values: set[str]):
        self.fn = fn
        self.params: dict[str, ast.arg] = {}
        self.defaults: dict[str, ast.expr] = {}
        self.locals: dict[str, list[ast.AST]] = {}  # expressions, or the AnnAssign/For/comprehension that binds
        self.self_values = self_values
        if fn is None:
            return
        a = fn.args
        positional = a.posonlyargs + a.args
        for arg in positional + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]:
            self.params[arg.arg] = arg
        d: ast.expr | None
        for arg, d in zip(positional[len(positional) - len(a.defaults):], a.defaults):
            self.defaults[arg.arg] = d
        for arg, d in zip(a.kwonlyargs, a.kw_defaults):
            if d is not None:
                self.defaults[arg.arg] = d
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        self.locals.setdefault(t.id, []).append(node.value)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name):
                self.locals.setdefault(node.target.id, []).append(node.value if node.value is not None else node)
            elif isinstance(node, (ast.For, ast.comprehension)):
                for n in ast.walk(node.target):
                    if isinstance(n, ast.Name):
                        self.locals.setdefault(n.id, []).append(node)

    def annotation(self, name: str) -> str | None:
        arg = self.params.get(name)
        if arg is None or arg.annotation is None:
            return None
        try:
            return ast.unparse(arg.annotation)
        except Exception:  # pragma: no cover - unparse of a valid tree
            swallowed()
            return None

    def scalar_kind(self, node: ast.AST, depth: int = 0) -> str | None:
        """'int' | 'float' | 'bool' when ``node`` is provably a Python number, else None."""
        if depth > 4:
            return None
        if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            return type(node.value).__name__
        if isinstance(node, ast.UnaryOp):
            return self.scalar_kind(node.operand, depth + 1)
        if isinstance(node, ast.BinOp):
            a, b = self.scalar_kind(node.left, depth + 1), self.scalar_kind(node.right, depth + 1)
            if a is None or b is None:
                return None
            if isinstance(node.op, ast.Div) or "float" in (a, b):
                return "float"
            return "int"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("int", "float", "len", "round", "bool"):
            return {"len": "int", "round": "int"}.get(node.func.id, node.func.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and node.func.value.id == "math":
            return "int" if node.func.attr in ("floor", "ceil", "prod", "comb", "factorial", "gcd") else "float"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math":
            return "float"
        if isinstance(node, ast.Name):
            ann = self.annotation(node.id)
            if ann in ("int", "float", "bool"):
                return ann
            if node.id in self.params:
                d = self.defaults.get(node.id)
                if ann is None and d is not None and _const_number(d):
                    return self.scalar_kind(d, depth + 1)
                return None
            exprs = self.locals.get(node.id)
            if exprs and len(exprs) == 1 and isinstance(exprs[0], ast.expr):
                return self.scalar_kind(exprs[0], depth + 1)
        return None


_SHAPE_FACTORIES = frozenset("torch." + n for n in "zeros ones empty rand randn full normal".split())
_FILLING = frozenset("copy_ fill_ zero_ index_copy_ index_fill_ masked_fill_ masked_scatter_ scatter_ put_".split())


def tensor_facts(ctx, node: ast.AST | None, fn: ast.FunctionDef | None, self_values: set[str],
                 attr: str | None = None, value_node: ast.AST | None = None) -> TensorFacts:
    """Facts of the expression that created a tensor attribute (``Value.node``; ``value_node``
    is the expression assigned to ``self.<attr>``, e.g. a local name)."""
    facts = TensorFacts()
    if node is None:
        return facts
    scope = _Scope(fn, self_values)
    facts.rank = _rank(ctx, scope, node, 0)
    facts.dtype = _dtype(ctx, scope, node, 0)
    facts.random, facts.from_args = _origin(ctx, scope, node)
    facts.device = _device(ctx, node)
    inner = node
    while isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr in (
            "to", "cuda", "float", "double", "half", "requires_grad_", "contiguous"):
        inner = inner.func.value
    if isinstance(inner, ast.Call) and _q(ctx, inner.func) in _SHAPE_FACTORIES and fn is not None:
        local = value_node.id if isinstance(value_node, ast.Name) else None
        facts.placeholder = not _filled(fn, attr, local)
    return facts


def _filled(fn: ast.FunctionDef, attr: str | None, local: str | None) -> bool:
    """Is ``self.<attr>`` (or the local ``local``) written into in ``fn`` (``pe[:, 0::2] = ...``,
    ``t.copy_(...)``)?"""

    def is_it(n: ast.AST) -> bool:
        while isinstance(n, ast.Subscript):
            n = n.value
        return (isinstance(n, ast.Name) and n.id == local) or (
            isinstance(n, ast.Attribute) and n.attr == attr and _is_self(n.value))

    for n in ast.walk(fn):
        if isinstance(n, (ast.Assign, ast.AugAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            if any(isinstance(t, ast.Subscript) and is_it(t) for t in targets):
                return True
            if isinstance(n, ast.AugAssign) and is_it(n.target):
                return True
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _FILLING | _RANDOM_METHODS \
                and is_it(n.func.value):
            return True
    return False


def _q(ctx, func: ast.AST) -> str | None:
    return T.canonical(ctx.imports.qualify(func))


def _size_rank(ctx, scope: _Scope, args: list[ast.expr]) -> int | None:
    """The rank a factory's size arguments give: ``(2, 3)`` or ``2, 3`` -> 2, ``()`` -> 0, ``n`` (an int) -> 1."""
    if any(isinstance(a, ast.Starred) for a in args):
        return None
    if len(args) == 1:
        a = args[0]
        if isinstance(a, (ast.Tuple, ast.List)):
            return None if any(isinstance(e, ast.Starred) for e in a.elts) else len(a.elts)
        return 1 if scope.scalar_kind(a) == "int" else None
    return len(args) if args else None


def _data_rank(scope: _Scope, data: ast.AST) -> int | None:
    """The rank of ``torch.tensor(data)``: 0 for a number, 1 + the items' rank for a list literal."""
    if scope.scalar_kind(data) is not None:
        return 0
    if isinstance(data, (ast.List, ast.Tuple)):
        if not data.elts:
            return 1
        sub = _data_rank(scope, data.elts[0])
        return None if sub is None else 1 + sub
    return None


def _rank(ctx, scope: _Scope, node: ast.AST, depth: int) -> int | None:
    if depth > 6:
        return None
    if isinstance(node, ast.Call):
        func = node.func
        q = _q(ctx, func)
        kw = {k.arg: k.value for k in node.keywords}
        if q in ("torch.tensor", "torch.as_tensor", "torch.asarray", "torch.scalar_tensor"):
            data = node.args[0] if node.args else kw.get("data")
            if data is None:
                return None
            return 0 if q == "torch.scalar_tensor" else _data_rank(scope, data)
        if q is not None and q.startswith("torch.") and q.endswith("_like") and q in T.TENSOR_FACTORIES:
            return _rank(ctx, scope, node.args[0], depth + 1) if node.args else None
        if q in ("torch.zeros", "torch.ones", "torch.empty", "torch.rand", "torch.randn"):
            if "size" in kw:
                return _size_rank(ctx, scope, [kw["size"]])
            return _size_rank(ctx, scope, node.args)
        if q == "torch.full":
            size = node.args[0] if node.args else kw.get("size")
            return _size_rank(ctx, scope, [size]) if size is not None else None
        if q == "torch.randint":
            size = kw.get("size") or (node.args[-1] if node.args else None)
            return _size_rank(ctx, scope, [size]) if size is not None else None
        if q in ("torch.arange", "torch.range", "torch.linspace", "torch.logspace", "torch.randperm"):
            return 1
        if q in ("torch.eye", "torch.tril_indices", "torch.triu_indices"):
            return 2
        if q in T.LEGACY_CONSTRUCTORS:
            if len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Tuple)):
                return 1 + (1 if node.args[0].elts and isinstance(node.args[0].elts[0], (ast.List, ast.Tuple)) else 0)
            if node.args and all(scope.scalar_kind(a) == "int" for a in node.args):
                return len(node.args)
            return None
        if q is not None and q.startswith("torch.") and node.args:
            short = q.rsplit(".", 1)[1]
            if short in _ELEMENTWISE:
                return _rank(ctx, scope, node.args[0], depth + 1)
            if short in _REDUCTIONS and len(node.args) == 1 and not node.keywords:
                return 0
            return None
        if isinstance(func, ast.Attribute):
            base = func.value
            m = func.attr
            if m in _REDUCTIONS and not node.args and not node.keywords:
                return 0
            if m in _ELEMENTWISE or m in ("requires_grad_", "detach", "to", "float", "double", "half"):
                return _rank(ctx, scope, base, depth + 1)
            if m == "unsqueeze":
                r = _rank(ctx, scope, base, depth + 1)
                return None if r is None else r + 1
            if m in ("view", "reshape") and node.args:
                return _size_rank(ctx, scope, node.args)
            if m == "flatten" and not node.args:
                return 1
        return None
    if isinstance(node, ast.BinOp):
        a, b = _rank(ctx, scope, node.left, depth + 1), _rank(ctx, scope, node.right, depth + 1)
        ls, rs = scope.scalar_kind(node.left) is not None, scope.scalar_kind(node.right) is not None
        if ls:
            return b
        if rs:
            return a
        if a is not None and b is not None and not isinstance(node.op, ast.MatMult):
            return max(a, b)
        return None
    if isinstance(node, ast.UnaryOp):
        return _rank(ctx, scope, node.operand, depth + 1)
    if isinstance(node, ast.Attribute) and node.attr in ("T", "mT", "data"):
        return _rank(ctx, scope, node.value, depth + 1)
    if isinstance(node, ast.Name):
        exprs = scope.locals.get(node.id)
        if exprs and len(exprs) == 1 and isinstance(exprs[0], ast.expr):
            return _rank(ctx, scope, exprs[0], depth + 1)
    return None


def _dtype_of_name(ctx, node: ast.AST | None) -> str | None:
    """``torch.long`` -> 'int', ``torch.float16`` -> 'float', ``torch.bool`` -> 'bool'."""
    if node is None:
        return None
    q = ctx.imports.qualify(node) if isinstance(node, (ast.Attribute, ast.Name)) else None
    if q and q.startswith("torch."):
        last = q.rsplit(".", 1)[1]
        if last == "bool":
            return "bool"
        if last in _INT_DTYPES:
            return "int"
        if last in _FLOAT_DTYPES:
            return "float"
    if isinstance(node, ast.Name) and node.id in ("float", "int", "bool"):
        return node.id
    return None


def _data_dtype(scope: _Scope, data: ast.AST) -> str | None:
    if isinstance(data, (ast.List, ast.Tuple)):
        kinds = {_data_dtype(scope, e) for e in data.elts}
        if None in kinds or not kinds:
            return None
        if "float" in kinds:
            return "float"
        return "int" if "int" in kinds else "bool"
    return scope.scalar_kind(data)


def _dtype(ctx, scope: _Scope, node: ast.AST, depth: int) -> str | None:
    if depth > 6:
        return None
    if isinstance(node, ast.Compare):
        return "bool"
    if isinstance(node, ast.Call):
        func = node.func
        q = _q(ctx, func)
        kw = {k.arg: k.value for k in node.keywords}
        if "dtype" in kw:
            return _dtype_of_name(ctx, kw["dtype"])
        if q in T.LEGACY_CONSTRUCTORS:
            d: str | None
            d = T.LEGACY_DTYPES[q.rsplit(".", 1)[1]]
            return "bool" if d == "bool" else "float" if d.startswith(("float", "bfloat")) else "int"
        if q in ("torch.tensor", "torch.as_tensor", "torch.asarray"):
            data = node.args[0] if node.args else kw.get("data")
            return _data_dtype(scope, data) if data is not None else None
        if q in ("torch.randint", "torch.randperm", "torch.tril_indices", "torch.triu_indices", "torch.randint_like"):
            return "int"
        if q in ("torch.zeros", "torch.ones", "torch.empty", "torch.rand", "torch.randn", "torch.eye", "torch.linspace",
                 "torch.logspace", "torch.rand_like", "torch.randn_like", "torch.normal", "torch.scalar_tensor"):
            return "float"
        if q == "torch.full":
            fill = node.args[1] if len(node.args) > 1 else kw.get("fill_value")
            return _data_dtype(scope, fill) if fill is not None else None
        if q in ("torch.arange", "torch.range"):
            kinds = {_data_dtype(scope, a) for a in node.args}
            if "float" in kinds:
                return "float"
            return "int" if kinds == {"int"} else None
        if q is not None and q.endswith("_like") and node.args:
            return _dtype(ctx, scope, node.args[0], depth + 1)
        if q is not None and q.startswith("torch.") and node.args:
            short = q.rsplit(".", 1)[1]
            inner = _dtype(ctx, scope, node.args[0], depth + 1)
            if short in ("sqrt", "rsqrt", "exp", "log", "log1p", "sin", "cos", "tanh", "sigmoid", "softmax",
                         "log_softmax", "erf", "reciprocal", "mean"):
                return "float" if inner in ("int", "float", "bool") else None
            if short in ("logical_not", "logical_and", "logical_or", "isnan", "isinf", "eq", "ne", "gt", "lt", "ge", "le"):
                return "bool"
            return inner
        if isinstance(func, ast.Attribute):
            m = func.attr
            if m in ("long", "int", "short", "byte", "char"):
                return "int"
            if m == "bool":
                return "bool"
            if m in ("float", "double", "half", "bfloat16"):
                return "float"
            if m in ("to", "type") and node.args:
                d = _dtype_of_name(ctx, node.args[0])
                if d is not None:
                    return d
            if m in ("eq", "ne", "gt", "lt", "ge", "le", "isnan", "isinf", "logical_not"):
                return "bool"
            if m in ("sqrt", "exp", "log", "mean", "sigmoid", "tanh", "softmax"):
                return "float"
            return _dtype(ctx, scope, func.value, depth + 1)
        return None
    if isinstance(node, ast.BinOp):
        a, b = _dtype(ctx, scope, node.left, depth + 1), _dtype(ctx, scope, node.right, depth + 1)
        a = a or scope.scalar_kind(node.left)
        b = b or scope.scalar_kind(node.right)
        if isinstance(node.op, ast.Div):
            return "float"
        if a is None or b is None:
            return None
        if "float" in (a, b):
            return "float"
        return "int"
    if isinstance(node, ast.UnaryOp):
        return _dtype(ctx, scope, node.operand, depth + 1)
    if isinstance(node, ast.Attribute) and node.attr in ("T", "mT", "data"):
        return _dtype(ctx, scope, node.value, depth + 1)
    if isinstance(node, ast.Subscript):
        return _dtype(ctx, scope, node.value, depth + 1)
    if isinstance(node, ast.Name):
        exprs = scope.locals.get(node.id)
        if exprs and len(exprs) == 1 and isinstance(exprs[0], ast.expr):
            return _dtype(ctx, scope, exprs[0], depth + 1)
    return None


def _origin(ctx, scope: _Scope, node: ast.AST, depth: int = 0, seen: set | None = None) -> tuple[bool, bool]:
    """(random, derived only from constructor arguments and constants)."""
    seen = seen if seen is not None else set()
    random, derived = False, True
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            q = _q(ctx, n.func)
            if q in _RANDOM_FACTORIES or (isinstance(n.func, ast.Attribute) and n.func.attr in _RANDOM_METHODS):
                random = True
            if q is not None and (q.startswith(("torch.load", "torch.from_numpy", "numpy.load")) or q in ("torch.frombuffer",)):
                derived = False
            if isinstance(n.func, ast.Name) and n.func.id == "open":
                derived = False
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            if n.id in scope.params or n.id in seen:
                continue
            exprs = scope.locals.get(n.id)
            if exprs is None:
                continue  # a module-level name: an import or a constant
            seen.add(n.id)
            if depth > 3:
                derived = False
                continue
            for e in exprs:
                if not isinstance(e, ast.expr):
                    continue  # a loop variable over something: follow what it iterates
                r, d = _origin(ctx, scope, e, depth + 1, seen)
                random |= r
                derived &= d
        elif isinstance(n, ast.Attribute) and _is_self(n.value) and isinstance(n.ctx, ast.Load):
            if n.attr not in scope.self_values:
                derived = False
    return random, derived and not random


def _device(ctx, node: ast.AST) -> str:
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            q = _q(ctx, n.func)
            if q is not None and q.startswith("torch.cuda.") and q in T.LEGACY_CONSTRUCTORS:
                return "cuda"
            if isinstance(n.func, ast.Attribute) and n.func.attr == "cuda":
                return "cuda"
            dev = next((k.value for k in n.keywords if k.arg == "device"), None)
            if dev is None and isinstance(n.func, ast.Attribute) and n.func.attr == "to" and n.args:
                dev = n.args[0]
                if _dtype_of_name(ctx, dev) is not None:
                    dev = None
            if dev is not None:
                if isinstance(dev, ast.Constant) and isinstance(dev.value, str):
                    return "cuda" if dev.value.startswith("cuda") else "cpu"
                return "given"
    return "cpu"
