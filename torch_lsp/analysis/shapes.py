"""The symbolic shape domain.

A **dimension** is one of:

- a Python ``int`` (a known size);
- a ``Sym``: a polynomial with integer coefficients over *atoms*, where an atom is
  a named size (``B``, ``hidden_dim``, a jaxtyping axis) or an opaque floor
  division ``(H - 3) // 2`` that does not divide evenly. ``hidden_dim * 2`` and
  ``(H - 3) // 2 + 1`` are ``Sym``s; a ``Sym`` whose polynomial is constant is
  always turned back into an ``int``;
- ``UNKNOWN``: nothing is known. It absorbs every operation.

Named sizes are positive integers (a size is at least 1), which lets the domain
prove ``hidden_dim * 2 != hidden_dim`` but never ``hidden_dim != 64``.

Use the operators (``+ - * // %``) on dimensions freely: they accept ``int``,
``Sym`` and ``UNKNOWN`` in any mix. Decide with ``dim_eq`` (True / False / None
when undecided); never compare dimensions with ``==`` to decide a diagnostic.

A **shape** is a ``Shape``: a tuple of dimensions, either of known rank, or (with
``prefix=True``) a known suffix after an unknown number of leading dimensions, as
in ``[*, in_features]``. A shape that is not known at all is ``None``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Union


class _Unknown:
    """The unknown dimension: every operation on it is unknown."""

    _instance: "_Unknown | None" = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "?"

    def _op(self, *_: object) -> "_Unknown":
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _op
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __neg__ = _op

    def __reduce__(self):
        return (_Unknown, ())


UNKNOWN = _Unknown()

# An atom of a polynomial: a size name, or an opaque floor division.
Atom = Union[str, "FloorDiv"]
Monomial = tuple  # sorted tuple of atoms (repeats for powers); () is the constant term


@dataclass(frozen=True)
class FloorDiv:
    """``num // den`` that cannot be simplified; a non-negative opaque atom."""

    num: "Sym"
    den: int

    def __str__(self) -> str:
        return f"({self.num}) // {self.den}" if len(self.num.terms) > 1 else f"{self.num} // {self.den}"

    def sort_key(self) -> str:
        return "~" + str(self)


def _atom_key(a: Atom) -> str:
    return a if isinstance(a, str) else a.sort_key()


class Sym:
    """A polynomial over size atoms with integer coefficients (immutable)."""

    __slots__ = ("terms", "_hash")

    def __init__(self, terms: dict[Monomial, int]):
        if len(terms) == 1:  # (most sizes are one term: nothing to sort)
            ((m, c),) = terms.items()
            self.terms: tuple[tuple[Monomial, int], ...] = ((m, c),) if c != 0 else ()
        else:
            self.terms = tuple(
                sorted(((m, c) for m, c in terms.items() if c != 0), key=lambda mc: (len(mc[0]), [_atom_key(a) for a in mc[0]]))
            )
        self._hash = hash(self.terms)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def named(name: str) -> "Sym":
        return Sym({(name,): 1})

    @staticmethod
    def _of(terms: dict[Monomial, int]) -> "Dim":
        terms = {m: c for m, c in terms.items() if c != 0}
        if not terms:
            return 0
        if set(terms) == {()}:
            return terms[()]
        return Sym(terms)

    def as_dict(self) -> dict[Monomial, int]:
        return dict(self.terms)

    @property
    def constant(self) -> int:
        for m, c in self.terms:
            if m == ():
                return c
        return 0

    def atoms(self) -> set[Atom]:
        return {a for m, _ in self.terms for a in m}

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other: object) -> "Dim":
        o = _as_terms(other)
        if o is None:
            return UNKNOWN if other is UNKNOWN else NotImplemented
        out = self.as_dict()
        for m, c in o.items():
            out[m] = out.get(m, 0) + c
        return Sym._of(out)

    __radd__ = __add__

    def __neg__(self) -> "Dim":
        return Sym._of({m: -c for m, c in self.terms})

    def __sub__(self, other: object) -> "Dim":
        o = _as_terms(other)
        if o is None:
            return UNKNOWN if other is UNKNOWN else NotImplemented
        out = self.as_dict()
        for m, c in o.items():
            out[m] = out.get(m, 0) - c
        return Sym._of(out)

    def __rsub__(self, other: object) -> "Dim":
        return (-self) + other  # type: ignore[operator]

    def __mul__(self, other: object) -> "Dim":
        o = _as_terms(other)
        if o is None:
            return UNKNOWN if other is UNKNOWN else NotImplemented
        out: dict[Monomial, int] = {}
        for m1, c1 in self.terms:
            for m2, c2 in o.items():
                m = tuple(sorted(m1 + m2, key=_atom_key))
                out[m] = out.get(m, 0) + c1 * c2
        return Sym._of(out)

    __rmul__ = __mul__

    def __floordiv__(self, other: object) -> "Dim":
        if other is UNKNOWN or not isinstance(other, int) or isinstance(other, bool):
            return UNKNOWN
        if other == 0:
            return UNKNOWN
        if other == 1:
            return self
        if all(c % other == 0 for _, c in self.terms):
            return Sym._of({m: c // other for m, c in self.terms})
        # (x * k + c) // k == x + c // k when k divides every non-constant coefficient
        const = self.constant
        rest = {m: c for m, c in self.terms if m != ()}
        if other > 0 and all(c % other == 0 for c in rest.values()):
            return Sym._of({**{m: c // other for m, c in rest.items()}, (): const // other})
        return Sym({(FloorDiv(self, other),): 1})

    def __rfloordiv__(self, other: object) -> "Dim":
        return UNKNOWN

    def __mod__(self, other: object) -> "Dim":
        if isinstance(other, int) and not isinstance(other, bool) and other > 0 and all(c % other == 0 for _, c in self.terms):
            return 0
        return UNKNOWN

    def __rmod__(self, other: object) -> "Dim":
        return UNKNOWN

    # ------------------------------------------------------------------ identity
    def __eq__(self, other: object) -> bool:  # structural, for caches; use dim_eq to decide
        return isinstance(other, Sym) and self.terms == other.terms

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Sym({self})"

    def __str__(self) -> str:
        parts: list[tuple[str, str]] = []
        for m, c in sorted(self.terms, key=lambda mc: (mc[0] == (), -len(mc[0]))):
            if m == ():
                body, coeff = str(abs(c)), 1
            else:
                names = []
                for a in m:
                    s = str(a)
                    names.append(f"({s})" if isinstance(a, FloorDiv) and (len(m) > 1 or abs(c) != 1) else s)
                body, coeff = " * ".join(names), abs(c)
                if coeff != 1:
                    body = f"{body} * {coeff}"
            sign = "-" if c < 0 else "+"
            parts.append((sign, body))
        text = ""
        for i, (sign, body) in enumerate(parts):
            if i == 0:
                text = f"-{body}" if sign == "-" else body
            else:
                text += f" {sign} {body}"
        return text


Dim = Union[int, Sym, _Unknown]


def _as_terms(x: object) -> dict[Monomial, int] | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return {(): x}
    if isinstance(x, Sym):
        return x.as_dict()
    return None


def sym(name: str) -> Sym:
    """A named positive size."""
    return Sym.named(name)


class NotGiven(Sym):
    """A constructor parameter left to its default of None, in a class analysed on its
    own (with its defaults): None for ``is None`` and truth tests (``if norm_layer is
    None: norm_layer = nn.BatchNorm2d``, ``out_features or in_features``), a size symbol
    where it is used as one (a caller passes the size: no error from None)."""

    __slots__ = ()


def not_given(name: str) -> NotGiven:
    return NotGiven({(name,): 1})


def is_known(d: object) -> bool:
    return isinstance(d, int) and not isinstance(d, bool)


def is_dim(d: object) -> bool:
    return (isinstance(d, int) and not isinstance(d, bool)) or isinstance(d, Sym) or d is UNKNOWN


def _positive(terms: dict[Monomial, int]) -> bool | None:
    """Is the polynomial provably > 0 / provably < 0 (sizes >= 1, floor divisions >= 0)?
    Returns True (> 0), False (< 0) or None."""
    const = terms.get((), 0)
    rest = {m: c for m, c in terms.items() if m != ()}
    # A monomial of named sizes only is >= 1; one containing a floor division is >= 0.
    def lower(m: Monomial) -> int:
        return 0 if any(isinstance(a, FloorDiv) for a in m) else 1

    if all(c > 0 for c in rest.values()):
        low = const + sum(c * lower(m) for m, c in rest.items())
        if low > 0:
            return True
    if all(c < 0 for c in rest.values()):
        high = const + sum(c * lower(m) for m, c in rest.items())
        if high < 0:
            return False
    return None


def dim_eq(a: Dim, b: Dim) -> bool | None:
    """True / False when provable, None when undecided (an unknown is never decided)."""
    if a is UNKNOWN or b is UNKNOWN:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if type(a) is Sym and type(b) is Sym and (a is b or a.terms == b.terms):
        return True  # (what the difference below finds: every term cancels, 0)
    diff = a - b  # type: ignore[operator]
    if isinstance(diff, int):
        return diff == 0
    if diff is UNKNOWN:
        return None
    terms = diff.as_dict()  # type: ignore[union-attr]
    if _positive(terms) is not None:
        return False
    bounds = _floordiv_bounds(terms)
    if bounds is not None and (_positive(bounds[0]) is True or _positive(bounds[1]) is False):
        return False  # ``e // 2`` against ``e``: below it for every e >= 1
    return None


def _floordiv_bounds(terms: dict[Monomial, int]) -> tuple[dict, dict] | None:
    """Lower and upper bounds of a polynomial with each ``N // k`` (a monomial of its
    own) replaced by ``(N - k + 1) / k`` and ``N / k``; None when a floor division
    appears in a product."""
    if not any(type(x) is FloorDiv for m in terms for x in m):
        return None  # (no floor division: the loop below would find none)
    from fractions import Fraction

    low: dict = {}
    high: dict = {}
    found = False

    def add(out: dict, poly: dict, factor: Fraction) -> None:
        for m, c in poly.items():
            out[m] = out.get(m, 0) + c * factor

    for m, c in terms.items():
        fds = [x for x in m if isinstance(x, FloorDiv)]
        if not fds:
            add(low, {m: c}, Fraction(1))
            add(high, {m: c}, Fraction(1))
            continue
        if len(m) != 1 or fds[0].den < 1:
            return None
        found = True
        fd = fds[0]
        num = fd.num.as_dict() if isinstance(fd.num, Sym) else {(): fd.num}
        lower = dict(num)
        lower[()] = lower.get((), 0) - (fd.den - 1)
        floor_low, floor_high = (lower, num) if c > 0 else (num, lower)
        add(low, floor_low, Fraction(c, fd.den))
        add(high, floor_high, Fraction(c, fd.den))
    if not found:
        return None
    return {m: c for m, c in low.items() if c}, {m: c for m, c in high.items() if c}


def dim_ne(a: Dim, b: Dim) -> bool:
    """Provably different (the only answer that may trigger a diagnostic)."""
    return dim_eq(a, b) is False


def dim_sign(d: Dim) -> int | None:
    """1 if provably > 0, -1 if provably < 0, 0 if provably 0, None otherwise."""
    if isinstance(d, int):
        return (d > 0) - (d < 0)
    if isinstance(d, Sym):
        p = _positive(d.as_dict())
        return None if p is None else (1 if p else -1)
    return None


def dim_le(a: Dim, b: Dim) -> bool | None:
    """a <= b when provable: True / False / None."""
    s = dim_sign(b - a)  # type: ignore[operator]
    if s is None:
        return None
    return s >= 0


def dim_str(d: Dim) -> str:
    if d is UNKNOWN:
        return "?"
    return str(d)


def dim_product(dims: Iterable[Dim]) -> Dim:
    out: Dim = 1
    for d in dims:
        out = out * d  # type: ignore[operator]
    return out


@dataclass(frozen=True)
class Shape:
    """A tensor shape: ``dims`` of known rank, or with ``prefix`` a known suffix
    after any number (>= 0) of unknown leading dimensions (``[*, 10]``).

    ``lead`` (prefix shapes only): a symbol standing for the product of those leading
    dimensions, when they are known to be the leading dimensions of another shape too
    (``x.shape[:-1]`` of a tensor of unknown rank names them; ``x.view(*x.shape[:-1],
    -1, d)`` then divides the known suffix by ``d``). None: not related to any."""

    dims: tuple = ()
    prefix: bool = False
    lead: Any = None

    @staticmethod
    def of(*dims: Dim) -> "Shape":
        return Shape(tuple(dims))

    @staticmethod
    def suffix(*dims: Dim) -> "Shape":
        return Shape(tuple(dims), prefix=True)

    @property
    def rank(self) -> int | None:
        return None if self.prefix else len(self.dims)

    @property
    def min_rank(self) -> int:
        return len(self.dims)

    def dim(self, i: int) -> Dim:
        """The i-th dimension (negative from the end); UNKNOWN when not known."""
        n = len(self.dims)
        if i < 0:
            return self.dims[i] if -i <= n else UNKNOWN
        if self.prefix:
            return UNKNOWN
        return self.dims[i] if i < n else UNKNOWN

    def numel(self) -> Dim:
        return UNKNOWN if self.prefix else dim_product(self.dims)

    def replace_last(self, d: Dim) -> "Shape":
        if not self.dims:
            return self
        return Shape(self.dims[:-1] + (d,), self.prefix, self.lead)

    def is_fully_known(self) -> bool:
        return not self.prefix and all(isinstance(d, int) for d in self.dims)

    def __str__(self) -> str:
        body = ", ".join(dim_str(d) for d in self.dims)
        if self.prefix:
            return f"[*, {body}]" if body else "[*]"
        return f"[{body}]"

    def __repr__(self) -> str:
        return f"Shape{self}"


def shape_str(s: Shape | None) -> str:
    return "unknown" if s is None else str(s)


def join_dims(a: Dim, b: Dim) -> Dim:
    """The dimension after two paths meet: equal stays, anything else is unknown."""
    if a is b or (isinstance(a, int) and isinstance(b, int) and a == b) or (isinstance(a, Sym) and a == b):
        return a
    return UNKNOWN


def join_shapes(a: Shape | None, b: Shape | None) -> Shape | None:
    if a is None or b is None:
        return None
    if a.prefix or b.prefix or len(a.dims) != len(b.dims):
        # Keep the common known suffix.
        n = min(len(a.dims), len(b.dims))
        suffix = tuple(join_dims(x, y) for x, y in zip(a.dims[len(a.dims) - n:], b.dims[len(b.dims) - n:]))
        return Shape(suffix, prefix=True) if n else None
    return Shape(tuple(join_dims(x, y) for x, y in zip(a.dims, b.dims)), False)
