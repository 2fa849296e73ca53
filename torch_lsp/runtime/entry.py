"""Entry points: models nobody calls in the file, built and run with inferred inputs (worker side).

An entry point (``jobs.entry_points``) is a Module class of the document built with
its defaults, or a function of the document called without arguments (a builder:
``def resnet18(*, weights=None, **kwargs)``). For each, in the worker:

1. **Build** it on the meta device (when an operation of the constructor has no
   meta kernel, on the CPU and then moved to the meta device). A constructor or builder that raises, or a
   builder that returns something other than a module, is skipped with the reason
   (the class may simply need arguments); but a builder (which states the whole
   configuration) whose layer torch itself rejects (``in_channels must be divisible
   by groups``) fails as the model's error. Two entry points that build the same
   module (the same submodules with the same parameter shapes) are evaluated once.
   Of what was built, the smallest modules (fewest parameters) go first, at most
   ``max_entry_points`` of them.
2. **Infer the inputs** of ``forward`` (``inputs.infer``): a pattern for each
   argument from the first layer that reads it. When the model rejects them before
   its first layers, what it asks for is tried: a size its message names
   (``expects ... of length 60``), further optional arguments (``pixel_values``).
3. **Run** ``forward`` in ``eval()`` under ``torch.no_grad()``, then in ``train()``.

**When a failure is the model's and not the guess's** (only then the result is an
``error``, which becomes TL901): the failure happened after the first layer reading
each input completed; it is not the model's own check of its input (an ``assert``
or a ``raise`` outside torch); and every other input tried fails at the same place
too: each other shape an argument's first layer allows (``[B, T, d]`` for
``[B, d]``), with the free sizes doubled (H and W, T) and large (512: an input too
small for a stack of strided layers fails the same way at 16 and 32), another batch
size, and a batch of one (not in training, where batch norm needs two samples). When torch's
message changes with the free sizes, every size of a sweep of common ones must fail
there as well. Anything else is a skip with the reason (TL902), never an error: an
input the model rejects at its first layer, a failure that goes away with another
shape, size or batch.
"""
from __future__ import annotations

import time
import types
from typing import Any, Callable

from torch_lsp.runtime import inputs as I

BATCH = 2
LARGE = {"T": 512, "H": 512, "W": 512, "D": 64}
# torch's words for an input too small for a kernel or a pooling window
TOO_SMALL = ("can't be greater than actual input size", "Output size is too small", "output size is too small")
FIRST = {"B": BATCH, "T": 16, "H": 224, "W": 224, "D": 16}
# further sizes tried when torch's message changes with the size (common input sizes)
# (no 1 or 4 for T: a transposed [B, heads, T, d] with T == heads runs by coincidence)
SWEEP = {"T": [64, 128, 7, 256, 512, 24], "H": [32, 28, 64, 96, 128, 256, 299, 384, 512],
         "D": [8, 32, 7]}


class Built:
    def __init__(self, index: int, label: str, model: Any, size: int) -> None:
        self.index, self.label, self.model, self.size = index, label, model, size


def _signature(model: Any) -> tuple:
    out = []
    for name, mod in model.named_modules():
        params = tuple((n, tuple(p.shape)) for n, p in mod.named_parameters(recurse=False))
        buffers = tuple((n, tuple(b.shape)) for n, b in mod.named_buffers(recurse=False) if b is not None)
        out.append((name, type(mod).__qualname__, params, buffers, repr(getattr(mod, "extra_repr", lambda: "")())[:200]))
    return tuple(out)


def _size(model: Any) -> int:
    try:
        return sum(p.numel() for p in model.parameters())
    except Exception:
        return 0


def _required(target: Any) -> list[str]:
    """The arguments a call of ``target()`` would miss (a class: of its constructor)."""
    import inspect

    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def build(module: types.ModuleType, entries: list[dict], path: str, deadline: float,
          error: Callable[[BaseException, str, str], dict]) -> tuple[list[Built], dict[int, dict]]:
    """Build every entry point (until the deadline); the skipped ones' results."""
    import torch

    built: list[Built] = []
    results: dict[int, dict] = {}
    seen: dict[tuple, str] = {}
    for i, entry in enumerate(entries):
        name = entry["name"]
        label = f"{name}()"
        if time.perf_counter() > deadline:
            results[i] = {"status": "skipped", "reason": f"`{label}` was not built: the earlier entry points of the file used its time"}
            continue
        target = module.__dict__.get(name)
        if entry["kind"] == "class":
            if not (isinstance(target, type) and issubclass(target, torch.nn.Module)):
                results[i] = {"status": "ignored", "reason": f"{name} is not an nn.Module class"}
                continue
        elif not callable(target):
            results[i] = {"status": "ignored", "reason": f"{name} is not a function once defined"}
            continue
        needs = _required(target)
        if needs:
            results[i] = {"status": "ignored", "reason": f"`{name}` needs arguments ({', '.join(needs)})"}
            continue
        try:
            try:
                with torch.device("meta"):
                    model = target()
            except BaseException as exc:
                if type(exc).__name__ in ("Cancelled", "CpuLimit") or error(exc, path, "building the module").get("status") != "skipped":
                    raise
                # an operation with no meta kernel in the constructor (Whisper's to_sparse):
                # built on the CPU (its weights really allocated, under the worker's memory
                # limit), then moved to the meta device to be run
                model = target()
                if isinstance(model, torch.nn.Module):
                    model = model.to("meta")
        except BaseException as exc:
            if type(exc).__name__ in ("Cancelled", "CpuLimit"):
                raise
            err = error(exc, path, "building the module")
            if entry["kind"] == "builder" and err.get("status") == "error" and err.get("in_torch") and not err.get("own_check"):
                # a builder states the whole configuration: torch rejecting a layer it builds is the model's error
                results[i] = {**err, "entry": label, "input": "", "mode": ""}
                continue
            text = err.get("message") or err.get("reason") or type(exc).__name__
            results[i] = {"status": "skipped", "reason": f"`{label}` could not be built ({err.get('type', type(exc).__name__)}: {text})",
                          "line": err.get("line", 0), "needs_arguments": isinstance(exc, TypeError)}
            continue
        if not isinstance(model, torch.nn.Module):
            results[i] = {"status": "skipped" if entry["kind"] == "builder" else "ignored",
                          "reason": f"`{label}` returned {type(model).__name__}, not a module"}
            continue
        try:
            sig = _signature(model)
        except Exception:
            sig = (id(model),)
        if sig in seen:
            results[i] = {"status": "skipped", "reason": f"`{label}` builds the same module as `{seen[sig]}`, evaluated once", "duplicate": True}
            continue
        seen[sig] = label
        built.append(Built(i, label, model, _size(model)))
    built.sort(key=lambda b: (b.size, b.index))
    return built, results


def _bind(pattern: list, sizes: dict[str, int]) -> list[int]:
    return [sizes[d] if isinstance(d, str) else d for d in pattern]


def _shape_text(shape: list[int]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


class Attempt:
    """One way to call the model: a shape alternative for each argument, and sizes."""

    def __init__(self, inferred: I.Inferred, choice: tuple[int, ...], sizes: dict[str, int]) -> None:
        self.inferred, self.choice, self.sizes = inferred, choice, sizes

    def args(self) -> list[tuple[str, I.Pattern, list[int]]]:
        out = []
        for k, (name, pat) in enumerate(self.inferred.positional + self.inferred.keyword):
            out.append((name, pat, _bind(pat.shapes[self.choice[k]], self.sizes)))
        return out

    def describe(self) -> str:
        parts = [_shape_text(shape) + (" (long)" if pat.dtype == "long" else "") for _, pat, shape in self.args()]
        return ", ".join(parts)

    def symbols(self) -> set[str]:
        used: set[str] = set()
        for k, (_, pat) in enumerate(self.inferred.positional + self.inferred.keyword):
            used |= {d for d in pat.shapes[self.choice[k]] if isinstance(d, str)}
        return used

    def make(self) -> tuple[list, dict]:
        import torch

        pos, kw = [], {}
        n = len(self.inferred.positional)
        for k, (name, pat, shape) in enumerate(self.args()):
            t = torch.zeros(shape, dtype=torch.long, device="meta") if pat.dtype == "long" else torch.randn(shape, device="meta")
            if k < n:
                pos.append(t)
            else:
                kw[name] = t
        return pos, kw


def evaluate(module: types.ModuleType, b: Built, path: str, run: Callable[..., dict], deadline: float) -> dict:
    """Infer, run in both modes, and decide (see the module docstring)."""
    try:
        inferred = I.infer(b.model)
    except Exception as exc:  # a property of user code raised while the layers were looked at
        return {"status": "skipped", "reason": f"`{b.label}` was built but its input could not be inferred ({type(exc).__name__}: {exc})"}
    if inferred.reason:
        return {"status": "skipped", "reason": f"`{b.label}` was built but not called: {inferred.reason}"}
    patterns = inferred.positional + inferred.keyword
    consumers = _consumers(patterns)
    sizes = dict(FIRST)
    sizes.update(inferred.sizes)
    first = Attempt(inferred, tuple(0 for _ in patterns), sizes)
    last: dict = {}
    for mode in ("eval", "train"):
        res = _attempt(module, b, first, path, run, consumers, mode)
        if res["status"] == "error" and mode == "eval" and _rejected(res, patterns):
            adapted = _adapt(module, b, first, res, path, run, deadline)
            if adapted is not None:
                first, res = adapted
                patterns = first.inferred.positional + first.inferred.keyword
                consumers = _consumers(patterns)
        if res["status"] == "error" and any(m in str(res.get("message", "")) for m in TOO_SMALL):
            larger = _larger(first)
            if larger is not None:  # torch says the input is too small for the model: a larger one is the input
                got = _attempt(module, b, larger, path, run, consumers, mode)
                if got["status"] == "ok" or (got["status"] == "error" and not _rejected(got, patterns)
                                             and _place(got) != _place(res)):
                    first, res = larger, got
        last = res
        if res["status"] == "ok":
            continue
        if res["status"] != "error":
            return res
        return _decide(module, b, first, res, path, run, consumers, mode, patterns, deadline)
    last.update(status="ok", input=first.describe(), entry=b.label)
    return last


def _larger(first: Attempt) -> Attempt | None:
    free = (first.symbols() & {"T", "H", "W", "D"}) - set(first.inferred.sizes)
    if not free:
        return None
    return Attempt(first.inferred, first.choice, {**first.sizes, **{s: max(LARGE[s], first.sizes[s] * 4) for s in free}})


def _consumers(patterns: list) -> tuple:
    return tuple(p.consumer for _, p in patterns if p.consumer is not None)


def _rejected(res: dict, patterns: list) -> bool:
    return not _past_consumers(res, patterns) or bool(res.get("own_check"))


def _adapt(module: types.ModuleType, b: Built, first: Attempt, res: dict, path: str, run: Callable[..., dict],
           deadline: float) -> tuple[Attempt, dict] | None:
    """The model rejected the inferred input: try what it asks for. The sizes its
    message names (``expects ... length 60, but found 16``) for the free sizes, and the
    further optional arguments whose first layer is known (``pixel_values``). The
    first that gets past the rejection becomes the input."""
    current, last = first, res
    for _ in range(3):  # one step at a time: a size, then an argument the next check asks for
        progress = None
        for cand in _candidates(current, last):
            if time.perf_counter() > deadline:
                return None
            patterns = cand.inferred.positional + cand.inferred.keyword
            got = _attempt(module, b, cand, path, run, _consumers(patterns), "eval")
            if got["status"] == "ok" or (got["status"] == "error" and not _rejected(got, patterns)):
                return cand, got
            if progress is None and got["status"] == "error" and _place(got) != _place(last):
                progress = (cand, got)  # rejected again, but further on
        if progress is None:
            return None
        current, last = progress
    return None


def _candidates(first: Attempt, res: dict) -> list[Attempt]:
    import dataclasses
    import re

    free = (first.symbols() & {"T", "H", "W", "D"}) - set(first.inferred.sizes)
    candidates: list[Attempt] = []
    if free:
        current = set(first.sizes.values())
        named = sorted({int(n) for n in re.findall(r"(?<![\w.])\d+(?![\w.])", str(res.get("message", "")))} - current)
        for n in [n for n in named if 2 <= n <= 4096][:6]:
            pinned = {s: n for s in free}  # the model named it: a size it requires, not varied any more
            candidates.append(Attempt(dataclasses.replace(first.inferred, sizes={**first.inferred.sizes, **pinned}),
                                      first.choice, {**first.sizes, **pinned}))
    optional = first.inferred.optional
    for k in range(1, len(optional) + 1):
        more = dataclasses.replace(first.inferred, keyword=first.inferred.keyword + optional[:k], optional=optional[k:])
        candidates.append(Attempt(more, first.choice + (0,) * k, first.sizes))
    return candidates


def _attempt(module: types.ModuleType, b: Built, attempt: Attempt, path: str, run: Callable[..., dict],
             consumers: tuple, mode: str) -> dict:
    try:
        pos, kw = attempt.make()
    except Exception as exc:
        return {"status": "skipped", "reason": f"could not make the input {attempt.describe()}: {type(exc).__name__}: {exc}"}
    return run(module, b.model, pos, kw, path, watch=consumers, mode=mode)


def _place(res: dict) -> tuple:
    return tuple(res.get("where") or ()), res.get("line", 0)


def _decide(module: types.ModuleType, b: Built, first: Attempt, res: dict, path: str, run: Callable[..., dict],
            consumers: tuple, mode: str, patterns: list, deadline: float) -> dict:
    """``first`` failed in ``mode``: the model's error (returned, for TL901), or a skip
    saying why the failure may be the guess's (see the module docstring)."""
    told = first.describe()
    line = res.get("line", 0)
    if not _past_consumers(res, patterns):
        who = _rejecting(res, patterns)
        return {"status": "skipped", "reason": f"the inferred input {told} was rejected by {who}: {res.get('message', '')[:300]}",
                "input_rejected": True}
    if res.get("own_check"):
        return {"status": "skipped", "reason": f"the model's own check rejected the inferred input {told}: {res.get('message', '')[:300]}",
                "input_rejected": True}
    free = (first.symbols() & {"T", "H", "W", "D"}) - set(first.inferred.sizes)
    messages = {res.get("message")}
    tried: list[str] = []

    def same(got: dict) -> bool:
        return got["status"] == "error" and _place(got) == _place(res) and _past_consumers(got, patterns) \
            and not got.get("own_check")

    # Another input that runs says the failure is the guess's; one that fails at the same
    # place confirms it; one that fails elsewhere (a size over a limit of the model) tells nothing.
    for other in _variations(first, patterns, free, mode):
        if time.perf_counter() > deadline:
            return {"status": "skipped", "reason": f"fails with the inferred input {told} (line {line}); no time was left "
                    "to try other inputs"}
        got = _attempt(module, b, other, path, run, consumers, mode)
        if got["status"] == "ok":
            return {"status": "skipped", "reason": f"fails with the inferred input {told} (line {line}: "
                    f"{res.get('message', '')[:200]}) but runs with {other.describe()}: it depends on the input"}
        if same(got):
            messages.add(got.get("message"))
            tried.append(other.describe())
    if not tried:
        return {"status": "skipped", "reason": f"fails with the inferred input {told} (line {line}), and every other input "
                "tried failed elsewhere: it may depend on the input"}
    if len(messages) > 1 and free:  # torch's words change with the sizes: the common sizes must fail too
        swept = 0
        for sweep in _sweeps(first, free):
            if time.perf_counter() > deadline:
                return {"status": "skipped", "reason": f"fails with the inferred inputs {told} and {', '.join(tried)}; "
                        "no time was left to try other sizes"}
            other = Attempt(first.inferred, first.choice, sweep)
            again = _attempt(module, b, other, path, run, consumers, mode)
            if again["status"] == "ok":
                return {"status": "skipped", "reason": f"fails with the inferred input {told} (line {line}) "
                        f"but runs with {other.describe()}: it depends on the input size"}
            if same(again):
                swept += 1
                tried.append(other.describe())
        if swept < 2:
            return {"status": "skipped", "reason": f"fails with the inferred input {told} (line {line}) in words that change "
                    "with its size, and too few other sizes reached that line: it may depend on the input size"}
    res = dict(res)
    res.update(entry=b.label, input=told, also=tried, mode=mode, inferred=True)
    return res


def _variations(first: Attempt, patterns: list, free: set[str], mode: str) -> list[Attempt]:
    """The other inputs a failure must survive: each other shape an argument may have
    (``[B, T, d]`` for ``[B, d]``), each with the free sizes doubled and large, another batch
    size, and (not in training, where batch norm needs two samples) a batch of one."""
    choices = [first.choice]
    for k, (_, pat) in enumerate(patterns):
        for alt in range(1, len(pat.shapes)):
            choices.append(tuple(alt if j == k else c for j, c in enumerate(first.choice)))
    out = []
    for choice in choices:
        probe = Attempt(first.inferred, choice, first.sizes)
        used = (probe.symbols() & {"T", "H", "W", "D"}) - set(first.inferred.sizes)
        sizes = [dict(first.sizes)]
        if used:
            sizes.append({**first.sizes, **{s: first.sizes[s] * 2 for s in used}})
            # a large input: a failure of an input too small for the model (a stack of strided
            # convolutions) goes away with it
            sizes.append({**first.sizes, **{s: max(LARGE[s], first.sizes[s] * 4) for s in used}})
        sizes.append({**first.sizes, "B": BATCH + 1})
        if mode != "train":
            sizes.append({**first.sizes, "B": 1})
        for size in sizes:
            if choice == first.choice and size == first.sizes:
                continue
            out.append(Attempt(first.inferred, choice, size))
    return out


def _sweeps(first: Attempt, free: set[str]) -> list[dict[str, int]]:
    """Sizes to try for the free symbols, each of them changed together."""
    n = max(len(SWEEP[k]) for k in ("H", "T", "D") if k in free or (k == "H" and "W" in free))
    out = []
    for i in range(n):
        sizes = dict(first.sizes)
        for s in free:
            values = SWEEP["H"] if s in ("H", "W") else SWEEP[s]
            sizes[s] = values[i % len(values)]
        out.append(sizes)
    return out


def _past_consumers(res: dict, patterns: list) -> bool:
    """Did the failure happen after the inputs were accepted? The first layer of an
    argument completed and no argument's first layer was entered without completing. Token ids (long ``[B, T]``, read by an embedding) have no size to
    guess but B and T, which the variations change: for them a failure of a torch
    operation before the embedding (``input_ids.view(-1, n)``) counts too."""
    started, completed = set(res.get("started") or ()), set(res.get("completed") or ())
    if not patterns or not started <= completed:
        return False
    if completed:  # (an argument whose first layer has not run yet is not what failed: CLIP runs pixels first)
        return True
    return all(p.dtype == "long" for _, p in patterns) and res.get("type") == "RuntimeError" and not res.get("own_check")


def _rejecting(res: dict, patterns: list) -> str:
    started, completed = set(res.get("started") or ()), set(res.get("completed") or ())
    consumers = [p for _, p in patterns if p.consumer is not None]
    for k in sorted(started - completed):
        if k < len(consumers):
            return f"`{consumers[k].describe()}`"
    if consumers and 0 not in started:
        return f"the code before `{consumers[0].describe()}`"
    return "its first layer"
