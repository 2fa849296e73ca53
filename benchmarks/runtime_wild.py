#!/usr/bin/env python3
"""Runtime evaluation (TL901) out of sample: every model of the wild corpus built and run.

For each Python file of the wild corpus (wild.py's libraries, unpacked in
benchmarks/.cache/wild/src/), the file is checked as `torch-lsp check --runtime`
does (the static analysis, then the runtime evaluation of its call sites and entry
points, through the library API in this process with one warm worker), and what
happened to each evaluation is counted: ran and passed, TL901, skipped (by reason),
not a model. Every TL901 is listed: on these released libraries each is a false
alarm unless it is a genuine bug (judge it, as wild_triage.toml does for the static
rules).

The worker imports what each file imports, so give it an interpreter with the
libraries and their dependencies (torch excluded: `--system-site-packages`):

    python -m venv --system-site-packages benchmarks/.cache/wild/venv
    benchmarks/.cache/wild/venv/bin/pip install --no-deps torchmetrics==1.9.0 ... (see README)
    python benchmarks/runtime_wild.py --python benchmarks/.cache/wild/venv/bin/python
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import realworld  # noqa: E402
import wild  # noqa: E402

from torch_lsp import engine  # noqa: E402
from torch_lsp.analysis.project import Project  # noqa: E402
from torch_lsp.runtime.client import RuntimeClient  # noqa: E402
from torch_lsp.runtime.report import Options, evaluate_source  # noqa: E402


def _reason(text: str) -> str:
    text = re.sub(r"`[^`]*`", "`…`", text)
    text = re.sub(r"\[[\d, ]+\]( \(long\))?", "[…]", text)
    text = re.sub(r"\d+", "N", text)
    return text[:110]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=None, help="the runtime worker's interpreter (default: this one)")
    ap.add_argument("--only", default=None, help="comma-separated libraries of wild.py")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per file (runtime.timeout)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else wild.LIBRARY_NAMES
    src_root = wild.DEFAULT_CACHE / "src"
    files: list[tuple[str, Path]] = []
    for lib in wild.LIBRARIES:
        if lib.name not in names:
            continue
        base = src_root / lib.name
        if not base.is_dir():
            print(f"missing: {base} (run `python benchmarks/wild.py --download-only`)", file=sys.stderr)
            return 3
        dirs = [base / p for p in lib.packages]
        excluded = tuple(str(base / e) + os.sep for e in lib.exclude)
        files += [(lib.name, f) for f in realworld.python_files(dirs) if not str(f).startswith(excluded)]
    client = RuntimeClient(python=args.python, timeout=args.timeout)
    options = Options(timeout=args.timeout, report_skipped=True)
    project = Project()
    statuses: collections.Counter = collections.Counter()
    per_lib: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    reasons: collections.Counter = collections.Counter()
    tl901: list[dict] = []
    started = time.perf_counter()
    try:
        for lib, path in files:
            found = []

            def hook(src, static, proj):
                out = evaluate_source(src, str(path), static, client, options, proj)
                found.append(out)
                return out.diagnostics

            result = engine.check_source(path.read_bytes(), str(path), project=project, extra=hook)
            for out in found:
                for _, res in list(out.results) + list(out.entries):
                    status = res.get("status", "?")
                    statuses[status] += 1
                    per_lib[lib][status] += 1
                    if status == "skipped":
                        reasons[_reason(str(res.get("reason", "")))] += 1
            for d in result.diagnostics:
                if d.code == "TL901":
                    tl901.append({"library": lib, "path": str(path), "line": d.range.start.line + 1, "message": d.message})
    finally:
        client.close()
    seconds = time.perf_counter() - started
    print(f"files: {len(files)} in {seconds:.0f} s; evaluations: {sum(statuses.values())} "
          f"({', '.join(f'{k} {v}' for k, v in statuses.most_common())})")
    print("\nby library (ok = built and run with its inferred inputs, nothing found):")
    for lib, c in per_lib.items():
        print(f"  {lib:24} " + ", ".join(f"{k} {v}" for k, v in c.most_common()))
    print(f"\nTL901: {len(tl901)} (each a false alarm unless a genuine bug)")
    for t in tl901:
        print(f"  {t['path']}:{t['line']}: {t['message'][:400]}")
    print("\nskipped, by reason:")
    for r, n in reasons.most_common(30):
        print(f"  {n:5d}  {r}")
    if args.json:
        args.json.write_text(json.dumps({"files": len(files), "seconds": seconds, "statuses": dict(statuses),
                                         "per_library": {k: dict(v) for k, v in per_lib.items()},
                                         "tl901": tl901, "reasons": dict(reasons)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
