#!/usr/bin/env python3
"""Why the static check misses confirmed plants of the mutation benchmark: for each
missed shape plant (dim, view-size, layer-size), the analysis is run again and the
shapes the engine records on the planted statement, in every analysis unit, are
classified:

- "rank known": some tensor on the planted lines has a known rank;
- "rank unknown": tensors are reached there, none of known rank (``[*, d]`` or unknown);
- "not reached": no tensor value is recorded there (a constructor line, a build-time
  failure inside code not run, a unit that stops earlier).

Run it with the interpreter the benchmark checks with (it sees the installed
transformers/timm/torchvision), after `benchmarks/mutation.py --json OUT` left its
work directory in place:

    benchmarks/.cache/mutation/venv/bin/python benchmarks/mutation_misses.py OUT.json

A measurement for humans; prints one line per miss and the counts per kind.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch_lsp.analysis.interpreter as I  # noqa: E402
from torch_lsp.engine import analyse  # noqa: E402
from torch_lsp.analysis.source import SourceFile  # noqa: E402

SHAPE_KINDS = ("dim", "view-size", "layer-size")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", type=Path, help="the --json output of benchmarks/mutation.py")
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks/.cache/mutation/work",
                    help="the mutants' directory (default: %(default)s)")
    args = ap.parse_args()
    cases = json.loads(args.report.read_text())["cases"]
    state: dict = {"lines": set(), "shapes": []}
    original = I.Interpreter.eval

    def recording_eval(self, node, frame):
        v = original(self, node, frame)
        if getattr(node, "lineno", None) in state["lines"] and isinstance(v, I.TensorV):
            state["shapes"].append(v.shape)
        return v

    I.Interpreter.eval = recording_eval
    counts: collections.Counter = collections.Counter()
    for c in cases:
        if c["verdict"] != "confirmed" or c["kind"] not in SHAPE_KINDS or c["new_loud"].get("static"):
            continue
        first, last = c["plant"]["statement_lines"]
        state["lines"], state["shapes"] = set(range(first, last + 1)), []
        path = args.work / c["file"]
        try:
            analyse(SourceFile.from_bytes(path.read_bytes(), str(path)))
        except Exception as exc:  # noqa: BLE001 - a measurement: say it and go on
            print(f"{c['file']}: analysis failed: {exc!r}", file=sys.stderr)
        shapes = state["shapes"]
        if not shapes:
            why = "not reached"
        elif any(s is not None and not s.prefix for s in shapes):
            why = "rank known"
        else:
            why = "rank unknown"
        counts[(c["kind"], why)] += 1
        print(f"{c['file']}:{first}: {why}: {c['plant']['description']}")
    print()
    for (kind, why), n in sorted(counts.items()):
        print(f"{kind:11} {why:13} {n}")
    print(f"{'total':11} {'':13} {sum(counts.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
