"""Long differential run: the static shape engine against torch on the meta device.

    python benchmarks/differential.py                      # 10,000 examples, seed 0
    python benchmarks/differential.py --examples 50000 --seed 7 --show 10

Generates random stacks of layers and ops with the generators of the test suite
(``tests/differential_gen.py``), driven by a plain ``random.Random``: mostly valid,
some with one injected mistake (``--p-mistake``). For each program it asks the engine
for the output shape and its TL2xx diagnostics and runs the program with torch on the
meta device (on the CPU too when the meta run disagrees, since some meta kernels skip
checks), then prints:

- torch ok / raised, and for the programs torch ran, whether the engine knew the
  output shape fully, partly, or not at all (the unknown rate);
- TL2xx reported where torch raised at the step the diagnostic names (true
  positives), and misses (torch raised, the engine said nothing);
- DISAGREEMENTS: an int dimension or rank the engine claims that torch contradicts,
  or a TL2xx where torch ran the step fine. Target 0; the first few are printed with
  their source, and the exit status is 1 when there is any.

Requires torch (the optional extra). Exit status: 0 no disagreement, 1 some, 2 when
a generated program was broken (a generator bug).
"""
from __future__ import annotations

import argparse
import collections
import random
import sys
import time
import warnings
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import differential_gen as dg  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=10000, help="programs to generate (default 10000)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--p-mistake", type=float, default=0.35, help="chance of an injected mistake (default 0.35)")
    ap.add_argument("--max-steps", type=int, default=8, help="most steps in forward (default 8)")
    ap.add_argument("--show", type=int, default=5, help="disagreements to print in full (default 5)")
    ap.add_argument("--show-misses", type=int, default=0, help="also print this many misses")
    ap.add_argument("--progress", type=int, default=1000, help="print a progress line every N examples (0: never)")
    args = ap.parse_args(argv)

    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch is not installed (pip install -e '.[torch]')", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")

    rng = random.Random(args.seed)
    c: collections.Counter = collections.Counter()
    by_code: collections.Counter = collections.Counter()
    miss_errors: collections.Counter = collections.Counter()
    shown = misses_shown = 0
    first_disagreements: list[str] = []
    t0 = time.perf_counter()
    timings: dict = {}
    for i in range(args.examples):
        prog = dg.generate(dg.RandomChooser(rng), args.p_mistake, args.max_steps)
        try:
            o, t, e = dg.check_program(prog, timings=timings)
        except dg.HarnessError as err:
            print(f"generator bug at example {i}:\n{err}", file=sys.stderr)
            return 2
        c["examples"] += 1
        c["with mistake"] += prog.mistake is not None
        c["two call sites"] += len(prog.outs) > 1
        c["meta lax"] += o.meta_lax
        if o.torch_ok:
            c["torch ok"] += 1
            c[f"out {o.out_category}"] += 1
        else:
            c["torch raised"] += 1
            if o.true_positive:
                c["true positive"] += 1
            elif o.miss:
                c["miss"] += 1
                miss_errors[(t.error or "")[:90]] += 1
                if misses_shown < args.show_misses:
                    misses_shown += 1
                    print(f"\n=== miss (example {i})\n{dg.describe(prog, o, t, e)}")
            else:
                c["TL2xx, torch raised elsewhere"] += 1
        if e.diags:
            c["TL2xx reported"] += 1
            for d in e.diags:
                by_code[d.code] += 1
        c["lines compared"] += o.lines_compared
        c["line dims known"] += o.line_dims_known
        c["line dims total"] += o.line_dims_total
        if o.disagrees:
            c["DISAGREEMENTS"] += 1
            first_disagreements.append(o.disagreements[0])
            if shown < args.show:
                shown += 1
                print(f"\n=== DISAGREEMENT (example {i})\n{dg.describe(prog, o, t, e)}")
        if args.progress and (i + 1) % args.progress == 0:
            print(f"... {i + 1} examples, {c['DISAGREEMENTS']} disagreements, {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)
    elapsed = time.perf_counter() - t0

    n, ok, raised = c["examples"], c["torch ok"], c["torch raised"]

    def pct(a: int, b: int) -> str:
        return f"{100 * a / b:.1f}%" if b else "-"

    print()
    print(f"differential run: {n} examples, seed {args.seed}, p_mistake {args.p_mistake}, max_steps {args.max_steps}")
    print(f"  with an injected mistake        {c['with mistake']:7d}  ({pct(c['with mistake'], n)})")
    print(f"  with a second call site         {c['two call sites']:7d}")
    print("torch (meta device)")
    print(f"  ran                             {ok:7d}  ({pct(ok, n)})")
    print(f"  raised                          {raised:7d}  ({pct(raised, n)})")
    print(f"  meta ran, CPU raised            {c['meta lax']:7d}")
    print("engine, output shape of the programs torch ran")
    print(f"  known (every dim)               {c['out known']:7d}  ({pct(c['out known'], ok)})")
    print(f"  partial                         {c['out partial']:7d}  ({pct(c['out partial'], ok)})")
    print(f"  unknown                         {c['out unknown']:7d}  ({pct(c['out unknown'], ok)})  <- unknown rate")
    print(f"  forward lines compared          {c['lines compared']:7d}  "
          f"(int dims: {c['line dims known']} of {c['line dims total']}, {pct(c['line dims known'], c['line dims total'])})")
    print("engine diagnostics")
    print(f"  programs with a TL2xx           {c['TL2xx reported']:7d}  "
          + " ".join(f"{k}={v}" for k, v in sorted(by_code.items())))
    print(f"  true positives                  {c['true positive']:7d}  ({pct(c['true positive'], raised)} of torch errors)")
    print(f"  TL2xx, torch failed earlier     {c['TL2xx, torch raised elsewhere']:7d}  (or at a call torch never reached)")
    print(f"  misses (torch raised, silent)   {c['miss']:7d}  ({pct(c['miss'], raised)} of torch errors)")
    print(f"DISAGREEMENTS                     {c['DISAGREEMENTS']:7d}  (target 0)")
    for d in first_disagreements[:10]:
        print(f"  - {d}")
    if miss_errors:
        print("most common torch errors the engine missed:")
        for msg, k in miss_errors.most_common(8):
            print(f"  {k:5d}  {msg}")
    print(f"time: {elapsed:.1f} s ({1000 * elapsed / max(n, 1):.1f} ms/example; torch {timings.get('torch', 0):.1f} s, engine {timings.get('engine', 0):.1f} s)")
    return 1 if c["DISAGREEMENTS"] else 0


if __name__ == "__main__":
    sys.exit(main())
