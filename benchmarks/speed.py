#!/usr/bin/env python3
"""Speed of `torch-lsp check` against a bare `ast.parse` loop, measured in the same run.

Corpus: the same as benchmarks/realworld.py (torchvision/models, timm/models and
timm/layers, transformers/models, torch/nn/modules), prepared by its functions; with
--corpus wild, the twelve libraries of benchmarks/wild.py (code the checker was not
tuned on), prepared by its functions.

Baseline: a fresh `python` subprocess that reads every .py file of the corpus
and calls `ast.parse` on it, single process.  Its loop is timed inside the
subprocess (interpreter start excluded); the wall clock of the whole
subprocess (start included) is reported too.

Measured: the wall clock of the whole `torch-lsp check --format json --exit-zero
DIRS...` command (start-up, discovery, analysis, JSON output to a file).

Before timing, the checker's package is byte-compiled (`compileall`, what `pip
install` does for a regular install): an editable install under
PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module from source in
every run and in every worker process. `--no-compile` skips this.

Both are repeated --repeat times, alternating, and the median of each is taken.
Target: torch-lsp / ast.parse <= 1.5. The checker runs with --no-cache (every file
checked) when it has a cache; then the cache is measured on its own: one run that
fills an empty cache folder, and --repeat runs over the unchanged tree that read it
(target: <= 0.1x the ast.parse loop).  This is a measurement for humans, not a CI
test: it exits 0 whatever the ratio, 2 if the tool crashed or broke the JSON
contract, 3 if the corpus could not be prepared.

Usage (from the repository root):
    python benchmarks/speed.py
    python benchmarks/speed.py --repeat 5 --jobs 1 --json speed.json
    python benchmarks/speed.py --corpus wild --repeat 5
    python benchmarks/speed.py --limit-transformers 40 --cmd "python -m torch_lsp"
    python benchmarks/speed.py --rev 3dc9dcc          # torch_lsp as committed at a revision

The default --cmd is the installed `torch-lsp` console script: with an editable install
it runs this checkout whatever the current directory, so a baseline revision must be
measured with --rev (git archive of torch_lsp/ put first on PYTHONPATH), not by running
this script from another worktree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realworld  # noqa: E402  (benchmarks/ is not a package)

TARGET_RATIO = 1.5

# Runs in a fresh interpreter: argv[1] is a file listing one path per line.
BASELINE_CODE = r"""
import ast, json, sys, time
with open(sys.argv[1], encoding="utf-8") as fh:
    paths = fh.read().splitlines()
errors = 0
nbytes = 0
t0 = time.perf_counter()
for path in paths:
    with open(path, "rb") as f:
        src = f.read()
    nbytes += len(src)
    try:
        ast.parse(src, filename=path)
    except (SyntaxError, ValueError):
        errors += 1
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "files": len(paths), "bytes": nbytes, "syntax_errors": errors}))
"""


def run_baseline(file_list: Path, python: str) -> tuple[float, float, dict]:
    """(in-process seconds, wall seconds including interpreter start, details)."""
    t0 = time.perf_counter()
    proc = subprocess.run([python, "-c", BASELINE_CODE, str(file_list)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"baseline subprocess failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return info["seconds"], wall, info


def warm_page_cache(files: list[Path]) -> None:
    """Read every file once so that neither contender pays for cold disk reads."""
    for f in files:
        with open(f, "rb") as fh:
            fh.read()


def cli_supports_jobs(cmd: str) -> bool:
    try:
        proc = subprocess.run(shlex.split(cmd) + ["check", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    text = proc.stdout + proc.stderr
    return proc.returncode == 0 and re.search(r"(^|[\s\[,])(-j|--jobs)\b", text) is not None


def cli_supports_cache(cmd: str) -> bool:
    try:
        proc = subprocess.run(shlex.split(cmd) + ["check", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "--no-cache" in proc.stdout


def fmt_s(x: float) -> str:
    return f"{x:8.3f} s"


def byte_compile(identity: str, cmd: str) -> str:
    """Byte-compile the checker's package with the checker's own interpreter."""
    argv = shlex.split(cmd)
    python = next((ln.split(": ", 1)[1] for ln in identity.splitlines() if ln.startswith("interpreter: ")), None)
    if argv and os.path.basename(argv[0]).startswith("python"):
        python = argv[0]
    if not python:
        return "byte-compile: skipped (the checker's interpreter is not known)"
    code = ("import compileall, os, torch_lsp; d = os.path.dirname(torch_lsp.__file__); "
            "compileall.compile_dir(d, quiet=1) or print('errors'); print(d)")
    try:
        extra = ["-P"] if "-P" in argv[1:2] else []  # (--rev: not the current directory's package)
        proc = subprocess.run(shlex.split(python) + extra + ["-c", code], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"byte-compile: failed ({exc})"
    if proc.returncode != 0:
        return f"byte-compile: failed ({(proc.stderr.strip().splitlines() or [''])[-1][:200]})"
    return f"byte-compiled: {proc.stdout.strip().splitlines()[-1]} (as pip install does)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    realworld.add_corpus_args(ap)
    ap.add_argument("--corpus", choices=("realworld", "wild"), default="realworld",
                    help="realworld: the corpus of benchmarks/realworld.py (default); wild: the twelve libraries of "
                         "benchmarks/wild.py, from <cache-dir>/wild (--limit-transformers, --only and "
                         "--torch-from-wheel do not apply)")
    ap.add_argument("--cmd", default="torch-lsp", help='the checker command (default: %(default)s; e.g. "python -m torch_lsp")')
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each contender; the median is taken (default: %(default)s)")
    ap.add_argument("--jobs", type=int, default=None, metavar="N", help="pass -j N to the checker (only if its `check --help` lists -j/--jobs)")
    ap.add_argument("--select", default=None, help="pass --select to the checker (default: none, i.e. the checker's default rule set)")
    ap.add_argument("--no-exit-zero", action="store_true", help="do not pass --exit-zero to the checker")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the ast.parse baseline (default: this one)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before one checker run is stopped (default: %(default)s)")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the measurements to OUT")
    ap.add_argument("--no-compile", action="store_true", help="do not byte-compile the checker's package before timing")
    ap.add_argument("--rev", default=None, metavar="REV",
                    help="measure torch_lsp as committed at REV (git archive into <cache-dir>/lsp/rev-<sha>/, run as "
                         "`python -m torch_lsp` with that folder first on PYTHONPATH); --cmd is then ignored")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.rev:
        from lsp_speed import ToolFailure, snapshot_rev

        try:
            sha, snapshot = snapshot_rev(args.rev, args.cache_dir / "lsp")
        except ToolFailure as exc:
            print(f"--rev {args.rev}: {exc}", file=sys.stderr)
            return realworld.EXIT_SETUP_FAILED
        os.environ["PYTHONPATH"] = os.pathsep.join([str(snapshot)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
        args.cmd = f"{shlex.quote(sys.executable)} -P -m torch_lsp"  # -P: not the current directory first
        print(f"measuring torch_lsp as committed at {args.rev} ({sha}), from {snapshot}")

    try:
        if args.corpus == "wild":
            import wild

            parts = wild.prepare_corpus(args.cache_dir / "wild")
        else:
            parts = realworld.prepare_corpus(args.cache_dir, args.limit_transformers,
                                             realworld.parse_parts(args.only), args.torch_from_wheel)
    except realworld.SetupError as exc:
        print(f"corpus setup failed: {exc}", file=sys.stderr)
        return realworld.EXIT_SETUP_FAILED

    realworld.describe_corpus(parts)
    dirs = realworld.corpus_dirs(parts)
    files = realworld.python_files(dirs)  # collected once, used by the baseline
    total_bytes = sum(f.stat().st_size for f in files)

    print()
    print("Measured:")
    identity = realworld.tool_identity(args.cmd)
    for line in identity.splitlines():
        print(f"  {line}")
    if args.jobs is not None and not cli_supports_jobs(args.cmd):
        print(f"\n--jobs given, but `{args.cmd} check --help` lists no -j/--jobs option", file=sys.stderr)
        return realworld.EXIT_TOOL_FAILED
    argv_tool = realworld.build_command(args.cmd, args.select, not args.no_exit_zero, args.jobs, dirs)
    has_cache = cli_supports_cache(args.cmd)
    if has_cache:
        argv_tool.insert(argv_tool.index("check") + 1, "--no-cache")
    shown = argv_tool if len(argv_tool) < 12 else argv_tool[:11] + [f"... ({len(argv_tool) - 11} more paths)"]
    print("  running: " + " ".join(shlex.quote(a) for a in shown))
    print(f"  baseline: {args.python} -c <read + ast.parse loop>  (Python {platform.python_version()}, {os.cpu_count()} CPUs)")

    if not args.no_compile:
        print("  " + byte_compile(identity, args.cmd))
    warm_page_cache(files)
    base_in: list[float] = []
    base_wall: list[float] = []
    tool_wall: list[float] = []
    diag_counts: list[int] = []
    exit_codes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="torch-lsp-speed-") as tmp:
        file_list = Path(tmp) / "files.txt"
        file_list.write_text("\n".join(str(f) for f in files) + "\n", encoding="utf-8")
        out_path = Path(tmp) / "out.json"
        print()
        for i in range(1, args.repeat + 1):
            try:
                t_in, t_wall, info = run_baseline(file_list, args.python)
            except (RuntimeError, OSError, ValueError) as exc:
                print(f"baseline failed: {exc}", file=sys.stderr)
                return realworld.EXIT_SETUP_FAILED
            base_in.append(t_in)
            base_wall.append(t_wall)
            stderr = ""
            try:
                code, stdout, stderr, elapsed = realworld.run_checker(argv_tool, timeout=args.timeout, stdout_path=out_path)
                realworld.check_exit(code, stderr)
                diags = realworld.parse_output(stdout)
            except realworld.ToolError as exc:
                msg = str(exc)
                if "stderr tail" not in msg and stderr.strip():
                    msg += "\nstderr tail:\n" + "\n".join(stderr.rstrip().splitlines()[-40:])
                print(f"\nTOOL FAILURE (run {i}): {msg}", file=sys.stderr)
                return realworld.EXIT_TOOL_FAILED
            tool_wall.append(elapsed)
            diag_counts.append(len(diags))
            exit_codes.append(code)
            note = f"  ({info['syntax_errors']} files failed to parse)" if info["syntax_errors"] else ""
            print(f"run {i}/{args.repeat}: ast.parse {t_in:7.3f} s (with start {t_wall:7.3f} s)   "
                  f"torch-lsp {elapsed:7.3f} s  exit {code}, {len(diags)} diagnostics{note}")

        cache_runs: list[float] = []
        fill = None
        if has_cache:
            cached_argv = [a for a in argv_tool if a != "--no-cache"]
            cached_argv.insert(cached_argv.index("check") + 1, "--cache-dir=" + str(Path(tmp) / "cache"))
            try:
                code, _, stderr, fill = realworld.run_checker(cached_argv, timeout=args.timeout, stdout_path=out_path)
                realworld.check_exit(code, stderr)
                for i in range(1, args.repeat + 1):
                    code, stdout, stderr, elapsed = realworld.run_checker(cached_argv, timeout=args.timeout, stdout_path=out_path)
                    realworld.check_exit(code, stderr)
                    if len(realworld.parse_output(stdout)) != diag_counts[-1]:
                        print(f"CACHE DISAGREES: {len(realworld.parse_output(stdout))} diagnostics from the cache, "
                              f"{diag_counts[-1]} checked", file=sys.stderr)
                        return realworld.EXIT_TOOL_FAILED
                    cache_runs.append(elapsed)
            except realworld.ToolError as exc:
                print(f"\nTOOL FAILURE (cached run): {exc}", file=sys.stderr)
                return realworld.EXIT_TOOL_FAILED
            print(f"cache: filling an empty cache {fill:7.3f} s; unchanged tree {', '.join(f'{t:.3f}' for t in cache_runs)} s")

    med_in = statistics.median(base_in)
    med_wall = statistics.median(base_wall)
    med_tool = statistics.median(tool_wall)
    ratio = med_tool / med_in if med_in > 0 else float("inf")
    ratio_wall = med_tool / med_wall if med_wall > 0 else float("inf")
    verdict = "within target" if ratio <= TARGET_RATIO else "OVER target"

    print()
    print(f"Files:                        {len(files)}")
    print(f"Total size:                   {total_bytes / 1e6:.2f} MB")
    print(f"ast.parse baseline (median):  {fmt_s(med_in)}   ({len(files) / med_in:,.0f} files/s, {total_bytes / 1e6 / med_in:.1f} MB/s)")
    print(f"  including interpreter start:{fmt_s(med_wall)}")
    print(f"torch-lsp check (median):     {fmt_s(med_tool)}   ({len(files) / med_tool:,.0f} files/s, {total_bytes / 1e6 / med_tool:.1f} MB/s)")
    print(f"Ratio torch-lsp / ast.parse:  {ratio:8.2f}x   target <= {TARGET_RATIO}x: {verdict}")
    print(f"  vs baseline with start:     {ratio_wall:8.2f}x")
    if cache_runs and fill is not None:
        hot = statistics.median(cache_runs)
        print(f"With the cache, filling it:   {fill / med_in:8.2f}x")
        print(f"  unchanged tree (median):    {hot / med_in:8.2f}x   target <= 0.1x: "
              f"{'within target' if hot / med_in <= 0.1 else 'OVER target'}")
    if len(set(diag_counts)) > 1:
        print(f"note: the diagnostic count changed between runs: {diag_counts}")

    if args.json:
        result = {
            "tool": dict(line.split(": ", 1) for line in identity.splitlines() if ": " in line),
            "command": argv_tool,
            "jobs": args.jobs,
            "select": args.select,
            "python": args.python,
            "python_version": platform.python_version(),
            "cpus": os.cpu_count(),
            "corpus_name": args.corpus,
            "corpus": [
                {"name": p.name, "version": p.version, "origin": p.origin,
                 "dirs": [str(d) for d in p.dirs], "files": len(p.files())}
                for p in parts
            ],
            "files": len(files),
            "bytes": total_bytes,
            "repeat": args.repeat,
            "baseline_seconds": base_in,
            "baseline_with_start_seconds": base_wall,
            "torch_lsp_seconds": tool_wall,
            "torch_lsp_exit_codes": exit_codes,
            "diagnostics": diag_counts,
            "median_baseline_seconds": med_in,
            "median_baseline_with_start_seconds": med_wall,
            "median_torch_lsp_seconds": med_tool,
            "ratio": ratio,
            "ratio_vs_baseline_with_start": ratio_wall,
            "target_ratio": TARGET_RATIO,
            "cache_fill_seconds": fill,
            "cache_unchanged_seconds": cache_runs,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return realworld.EXIT_OK


if __name__ == "__main__":
    realworld.run_main(main)
