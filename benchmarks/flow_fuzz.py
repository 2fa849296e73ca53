"""Long control-flow soundness run: the static shape engine against torch.

    python benchmarks/flow_fuzz.py                       # 10,000 programs, seed 0, all cores
    python benchmarks/flow_fuzz.py --n 2000 --seed 3 --jobs 2 --show 2

Generates random self-contained programs whose ``forward`` mixes layers and tensor
ops with control flow (``tests/flow_fuzz_gen.py``, shared with
``tests/test_flow_fuzz.py``): loops with ``break``/``continue``/``else``, ``if``/
``elif``, ``match``, ``try``/``except``(``*``), early ``return``, ``raise``, ``with``,
nested functions, lambdas, ``global``/``nonlocal``, a ``yield`` helper... Shape
mistakes sit on paths torch never runs (they must stay silent), inside a ``try``
whose handler catches them (silent too: the program runs), and at most one on a path
torch runs (the program fails there). Each program runs under real torch on the
CPU and through ``check_source``; the script prints:

- programs; how many torch ran, how many failed with a shape error, and generator
  bugs (the generator's prediction disagreed with torch, or torch raised something
  other than a shape error: fix the generator);
- FALSE REPORTS: a TL2xx/TL3xx error or warning where torch ran the program, or away
  from the failing chain where it failed; counted by construct (why the line never
  runs, or what ran before it), by code, with the shortest program of each of the
  most common constructs printed in full;
- misses: torch failed in a construct the engine models (Linear, Conv, LayerNorm,
  BatchNorm, view/reshape, cat, matmul, broadcast, backward) on a statically
  decidable path, and the engine said nothing on the failing chain; by construct and
  by the control flow that ran before the failure;
- engine crashes (an exception out of ``check_source``, or TL000), with traceback;
- the time, and where it went.

Exit status 0 whatever the engine does; 2 when the harness itself breaks (a worker
died, the generator gave up, a program timed out under torch).
"""
from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import sys
import time
import warnings
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))


def use_engine_src(src: str) -> None:
    """Analyse with the ``torch_lsp`` package under ``src`` (say a ``git archive`` of
    another commit) instead of the installed one: drop the editable install's finder
    and put ``src`` first on the path. Call before anything imports torch_lsp."""
    if "torch_lsp" in sys.modules:
        raise RuntimeError("torch_lsp is already imported")
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
                        and "__editable__" not in type(f).__module__]
    sys.path.insert(0, str(Path(src).resolve()))


def _init_worker() -> None:
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)
    import flow_fuzz_gen

    flow_fuzz_gen.engine_module().preload()


def _one(args: tuple) -> dict:
    """Check program ``index`` of ``seed``; a compact record (picklable)."""
    import flow_fuzz_gen as ff

    seed, index = args
    a = time.perf_counter()
    try:
        prog = ff.program_for(seed, index)
    except ff.HarnessError as err:
        return {"index": index, "harness": f"generator: {err}"}
    b = time.perf_counter()
    try:
        t = ff.run_torch(prog)
    except ff.HarnessError as err:
        return {"index": index, "harness": f"torch: {err}"}
    c = time.perf_counter()
    e = ff.run_engine(prog)
    d = time.perf_counter()
    o = ff.compare(prog, t, e)
    return {
        "index": index, "lines": len(prog.source.splitlines()), "ok": o.torch_ok, "shape_error": o.shape_error,
        "torch_error": None if t.ok else f"{t.etype}: {t.message}",
        "generator_bug": o.generator_bug, "crash": o.crash,
        "false": [(dg.code, dg.range.start.line + 1, lab, ff.input_kind(dg)) for dg, lab in o.false_reports],
        "reported": o.reported, "miss": o.miss, "construct": o.construct, "decidable": o.decidable,
        "ran_before": prog.pred.path, "constructs": sorted(prog.constructs), "live": prog.live,
        "times": (b - a, c - b, d - c),
    }


def _show(seed: int, index: int) -> str:
    import flow_fuzz_gen as ff

    prog = ff.program_for(seed, index)
    o, t, e = ff.check_program(prog)
    return ff.describe(prog, o, t, e)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10000, help="programs to generate (default 10000)")
    ap.add_argument("--seed", type=int, default=0, help="seed (default 0); program i of a seed is the same at any --jobs")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    ap.add_argument("--show", type=int, default=1, help="false-report examples printed per construct (default 1)")
    ap.add_argument("--show-constructs", type=int, default=12, help="constructs with examples printed (default 12)")
    ap.add_argument("--show-misses", type=int, default=0, help="also print this many misses")
    ap.add_argument("--progress", type=int, default=1000, help="a progress line every N programs (0: never)")
    ap.add_argument("--engine-src", metavar="DIR", help="analyse with the torch_lsp package in DIR (e.g. "
                    "`git archive COMMIT torch_lsp | tar -x -C DIR`) instead of the installed one")
    args = ap.parse_args(argv)
    if args.engine_src:
        use_engine_src(args.engine_src)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch is not installed (pip install -e '.[torch]')", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")

    t0 = time.perf_counter()
    work = [(args.seed, i) for i in range(args.n)]
    recs: list[dict] = []
    try:
        if args.jobs > 1:
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
            with ctx.Pool(args.jobs, initializer=_init_worker) as pool:
                for r in pool.imap_unordered(_one, work, chunksize=16):
                    recs.append(r)
                    if args.progress and len(recs) % args.progress == 0:
                        print(f"  ... {len(recs)} programs, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        else:
            _init_worker()
            for w in work:
                recs.append(_one(w))
                if args.progress and len(recs) % args.progress == 0:
                    print(f"  ... {len(recs)} programs, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    except Exception as err:  # noqa: BLE001 - the harness broke
        print(f"harness error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - t0
    recs.sort(key=lambda r: r["index"])
    harness = [r for r in recs if "harness" in r]
    recs = [r for r in recs if "harness" not in r]
    n = len(recs)

    def pct(a: int, b: int) -> str:
        return f"{100 * a / b:.1f}%" if b else "-"

    ran = sum(r["ok"] for r in recs)
    shape = sum(r["shape_error"] for r in recs)
    bugs = [r for r in recs if r["generator_bug"]]
    crashes = [r for r in recs if r["crash"]]
    false = [r for r in recs if r["false"]]
    gen_t, torch_t, eng_t = (sum(r["times"][k] for r in recs) for k in range(3))
    import torch_lsp

    print(f"engine: {Path(torch_lsp.__file__).parent}")
    print(f"flow_fuzz: {n} programs (seed {args.seed}), {args.jobs} job(s), {wall:.1f} s wall "
          f"(summed over workers: generation {gen_t:.1f} s, torch {torch_t:.1f} s, engine {eng_t:.1f} s)")
    print(f"torch: ran OK {ran} ({pct(ran, n)}), failed with a shape error {shape} ({pct(shape, n)}), "
          f"generator bugs {len(bugs)}")
    if harness:
        print(f"HARNESS ERRORS: {len(harness)}")
        for r in harness[:3]:
            print(f"  program {r['index']}: {r['harness'][:2000]}")
    print(f"engine crashes: {len(crashes)}")
    print(f"FALSE REPORTS: {len(false)} programs ({pct(len(false), n)}), "
          f"{sum(len(r['false']) for r in false)} diagnostics; {sum(1 for r in false if r['ok'])} of these programs "
          f"ran under torch, {sum(1 for r in false if not r['ok'])} failed (a report away from the failing chain)")
    by_label: collections.Counter = collections.Counter()
    any_input: collections.Counter = collections.Counter()
    progs_by_label: dict = collections.defaultdict(list)
    by_code: collections.Counter = collections.Counter()
    for r in false:
        for code, _line, lab, kind in r["false"]:
            by_label[lab] += 1
            by_code[code] += 1
            any_input[lab] += kind == "any input"
        for lab in {f[2] for f in r["false"]}:
            progs_by_label[lab].append(r)
    if by_label:
        n_any = sum(any_input.values())
        print(f"  holding for any input (the engine's input-independent check, no call site in the message): "
              f"{n_any} of {sum(by_label.values())} diagnostics")
        print("  by construct (diagnostics / programs / of the diagnostics, holding for any input):")
        for lab, k in by_label.most_common():
            print(f"    {k:6} {len(progs_by_label[lab]):6} {any_input[lab]:6}  {lab}")
        print("  by code: " + ", ".join(f"{c} {k}" for c, k in by_code.most_common()))
    dec = [r for r in recs if r["shape_error"] and r["decidable"] and not r["generator_bug"]]
    import flow_fuzz_gen as ff

    dec = [r for r in dec if r["construct"] in ff.MODELED]
    misses = [r for r in dec if not r["reported"]]
    print(f"failures on a decidable path: {len(dec)}; reported {len(dec) - len(misses)} ({pct(len(dec) - len(misses), len(dec))}); "
          f"MISSES {len(misses)}")
    tot = collections.Counter(r["construct"] for r in dec)
    mis = collections.Counter(r["construct"] for r in misses)
    if tot:
        print("  misses by construct (missed / failures): " +
              ", ".join(f"{c} {mis[c]}/{tot[c]}" for c, _k in tot.most_common()))
    flow_tot: collections.Counter = collections.Counter()
    flow_mis: collections.Counter = collections.Counter()
    for r in dec:
        kinds = r["ran_before"] or ("straight-line",)
        for k in kinds:
            flow_tot[k] += 1
            flow_mis[k] += not r["reported"]
    if flow_tot:
        print("  misses by control flow that ran up to the failure (missed / failures): " +
              ", ".join(f"{k} {flow_mis[k]}/{v}" for k, v in flow_tot.most_common()))
    undec = sum(1 for r in recs if r["shape_error"] and not r["generator_bug"] and not r["decidable"])
    print(f"  (not counted: {undec} failures reached through an undecidable construct "
          f"(a yield helper, a caught exception, a test on the call counter))")
    print(f"time: {wall:.1f} s wall, {1000 * wall / max(n, 1):.1f} ms a program")

    if bugs:
        print(f"\n=== GENERATOR BUGS ({len(bugs)}), the first:")
        for r in bugs[:3]:
            print(f"--- program {r['index']}: {r['generator_bug']}")
        print(_show(args.seed, bugs[0]["index"]))
    for r in crashes[:3]:
        print(f"\n=== ENGINE CRASH, program {r['index']}:\n{r['crash']}")
        print(_show(args.seed, r["index"]))
    if args.show and by_label:
        print(f"\n=== false reports: the shortest program{'s' if args.show > 1 else ''} of each construct")
        for lab, _k in by_label.most_common(args.show_constructs):
            for r in sorted(progs_by_label[lab], key=lambda r: r["lines"])[:args.show]:
                print(f"\n--- [{lab}] program {r['index']} ({r['lines']} lines)")
                print(_show(args.seed, r["index"]))
    for r in sorted(misses, key=lambda r: r["lines"])[:args.show_misses]:
        print(f"\n--- MISS ({r['construct']}) program {r['index']}")
        print(_show(args.seed, r["index"]))
    return 2 if harness else 0


if __name__ == "__main__":
    sys.exit(main())
