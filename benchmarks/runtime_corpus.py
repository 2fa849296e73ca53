#!/usr/bin/env python3
"""`torch-lsp check --runtime` over the real-world corpus: it must finish; what it costs.

Runs, one after the other in the same run, on the corpus of realworld.py
(torchvision, timm, transformers model code and torch.nn.modules):

1. the static check (`check --format json --exit-zero DIRS`), timed;
2. the same with `--runtime --runtime-report-skipped`, timed, while the runtime
   workers' memory is sampled (VmHWM, the peak resident set, of every process
   running `torch_lsp.runtime.worker`).

and prints the two times and their ratio, the workers' peak memory, every TL901
(each to be judged: a TL901 on this working code is a false alarm unless it is a
genuine bug), and the TL902 reasons counted by kind (why models were not evaluated).

The worker imports each file's imports: give it an interpreter that has the
libraries (`--python`, written into a temporary pyproject.toml passed with
`--config`); without them, most files are skipped at import, which is measured too.

Usage (from the repository root):
    python benchmarks/runtime_corpus.py --only torchvision,timm,torch
    python benchmarks/runtime_corpus.py --python benchmarks/.cache/mutation/venv/bin/python --json /tmp/rt.json
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realworld  # noqa: E402  (benchmarks/ is not a package)


def _workers_peak(stop: threading.Event, peak: dict) -> None:
    """Sample VmHWM of every runtime worker until ``stop``; keep the largest (kB) and the count."""
    seen: set[int] = set()
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
                if b"torch_lsp.runtime.worker" not in cmd:
                    continue
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            kb = int(line.split()[1])
                            peak["kb"] = max(peak.get("kb", 0), kb)
                            seen.add(int(pid))
            except (OSError, ValueError):
                continue
        peak["processes"] = len(seen)
        stop.wait(0.5)


def _run(argv: list[str]) -> tuple[list[dict], float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"checker failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout or "[]"), seconds, proc.stderr


_KINDS = [
    ("its definitions raised", "the file's imports or definitions raised"),
    ("could not be built", "the model could not be built with its defaults"),
    ("was built but not called", "the input of forward could not be inferred"),
    ("rejected by", "the inferred input was rejected by the first layer"),
    ("own check rejected", "the model's own check rejected the inferred input"),
    ("depends on the input", "the failure depends on the input size"),
    ("same module as", "the same module as another entry point"),
    ("max-entry-points", "over the cap of entry points per file"),
    ("used its time", "the file's time budget was spent"),
    ("data-dependent", "a data-dependent operation"),
    ("meta device failed", "the meta device failed for a reason of its own"),
    ("not known", "a call site's arguments or inputs are not known statically"),
    ("timed out", "timed out"),
    ("returned", "a builder returned something other than a module"),
]


def _kind(message: str) -> str:
    for marker, kind in _KINDS:
        if marker in message:
            return kind
    return "other: " + re.sub(r"`[^`]*`", "`…`", message.split(": ", 1)[-1])[:80]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    realworld.add_corpus_args(ap)
    ap.add_argument("--cmd", default=f"{sys.executable} -m torch_lsp", help="the checker (default: %(default)s)")
    ap.add_argument("--python", default=None, help="the runtime worker's interpreter (runtime.python)")
    ap.add_argument("--timeout", type=float, default=10.0, help="--runtime-timeout (seconds per file)")
    ap.add_argument("--json", type=Path, default=None, help="write the figures and diagnostics here")
    args = ap.parse_args(argv)
    parts = realworld.prepare_corpus(args.cache_dir, args.limit_transformers, realworld.parse_parts(args.only),
                                     args.torch_from_wheel)
    files, _ = realworld.describe_corpus(parts)
    dirs = [str(d) for d in realworld.corpus_dirs(parts)]
    base = args.cmd.split() + ["check", "--format", "json", "--exit-zero", "--no-progress"]
    with tempfile.TemporaryDirectory() as tmp:
        config: list[str] = []
        if args.python:
            pyproject = Path(tmp) / "pyproject.toml"
            pyproject.write_text(f"[tool.torch-lsp.runtime]\npython = {json.dumps(os.path.abspath(args.python))}\n")
            config = ["--config", str(pyproject)]
        static, static_s, _ = _run(base + config + dirs)
        stop, peak = threading.Event(), {}
        sampler = threading.Thread(target=_workers_peak, args=(stop, peak), daemon=True)
        sampler.start()
        try:
            runtime, runtime_s, stderr = _run(base + config + ["--runtime", "--runtime-report-skipped",
                                                               "--runtime-timeout", str(args.timeout)] + dirs)
        finally:
            stop.set()
            sampler.join()
    tl901 = [d for d in runtime if d["code"] == "TL901"]
    tl902 = [d for d in runtime if d["code"] == "TL902"]
    kinds = collections.Counter(_kind(d["message"]) for d in tl902)
    print(f"\nfiles: {files}")
    print(f"static check:            {static_s:8.1f} s  ({len(static)} diagnostics)")
    print(f"with --runtime:          {runtime_s:8.1f} s  ({runtime_s / static_s:.1f}x the static check)")
    print(f"runtime workers:         {peak.get('processes', 0)} process(es), peak resident memory "
          f"{peak.get('kb', 0) / 1024:.0f} MB")
    print(f"\nTL901: {len(tl901)} (each a false alarm unless it is a genuine bug of this working code)")
    for d in tl901:
        print(f"  {d['path']}:{d['line']}: {d['message'][:300]}")
    print(f"\nTL902 (not evaluated): {len(tl902)}, by reason:")
    for kind, n in kinds.most_common():
        print(f"  {n:6d}  {kind}")
    if "Traceback" in stderr:
        print("\nthe checker printed a traceback:\n" + stderr[-3000:])
    if args.json:
        args.json.write_text(json.dumps({"files": files, "static_seconds": static_s, "runtime_seconds": runtime_s,
                                         "worker_peak_mb": peak.get("kb", 0) / 1024, "tl901": tl901,
                                         "tl902_reasons": dict(kinds)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
