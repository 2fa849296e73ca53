#!/usr/bin/env python3
"""Editing latency of `torch-lsp serve` on real model code, against `ast.parse` and `ruff server`
measured in the same run.

Files: three transformers `modeling_*.py` files of about 300, 3,000 and 10,000 lines
(--targets), from the corpus of benchmarks/realworld.py (prepared by its functions).
For each target the file whose line count is closest is taken (ties: fewer lines,
then path).  When no file is within 25% of a target (at the pinned transformers,
the largest file has ~4,300 lines), that file is built instead from whole real
modeling files, largest first (ties: path), with `from __future__` lines dropped
and relative imports made absolute (`from ..x import` -> `from transformers.models.x
import`, so that they resolve as they do in place), stopping at the first top-level
statement of the last file at which the target is reached; it must pass `ast.parse`
and is written to benchmarks/.cache/lsp/.  The workspace root of every session is
the unpacked transformers wheel (the folder that holds `transformers/`).

Baseline: the median time of one `ast.parse` of the file's text, in a fresh
`python` subprocess (one unmeasured parse first, then --parse-repeat timed ones),
run once before and once after the file's LSP sessions; both runs are pooled.

Measured: /work/shared/tools/lsp_bench.py (called as a subprocess) with `--server
"torch-lsp serve"` and, if `ruff` is on PATH, `--server "ruff server"`, interleaved,
--repeat sessions each: open -> first diagnostics, --edits one-character edits
inside a `forward` near the middle of the file (edit -> diagnostics of that
version), --hovers hovers spread over the file, peak RSS of the server.  An edit
whose diagnostics do not come within --edit-timeout seconds is a timeout, not a
sample; the verdicts count timeouts as slower than any sample.  By default the
server is whatever `torch-lsp serve` runs (the working tree, with an editable
install); `--rev REV` measures torch_lsp as committed at REV instead, from a
snapshot, so that edits made to the working tree during the run do not leak in.

Targets, on the ~10,000-line file: edit->diagnostics p50 / ast.parse < 1, hover
p50 / ast.parse < 0.25, RSS < 150 MB.  ruff is not a project dependency: install
it with `pip install ruff`; without it the ruff column is skipped.  This is a
measurement for humans, not a CI test: it exits 0 whatever the figures, 2 if a
tool failed to run (lsp_bench exited non-zero, a session failed, or the parse
baseline crashed), 3 if the corpus could not be prepared.

Usage (from the repository root):
    python benchmarks/lsp_speed.py
    python benchmarks/lsp_speed.py --rev HEAD --json /tmp/lsp_speed.json
    python benchmarks/lsp_speed.py --edits 30 --hovers 20 --repeat 3 --edit-timeout 10
    python benchmarks/lsp_speed.py --targets 300 --no-ruff --server "python -m torch_lsp serve"
"""

from __future__ import annotations

import argparse
import ast
import datetime
import io
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realworld  # noqa: E402  (benchmarks/ is not a package)

REPO = realworld.BENCH_DIR.parent
DEFAULT_LSP_BENCH = REPO.parent / "shared" / "tools" / "lsp_bench.py"
DEFAULT_TARGETS = "300,3000,10000"
SINGLE_FILE_TOLERANCE = 0.25  # a single file is used if within 25% of the target

TARGET_CHANGE_RATIO = 1.0   # edit -> diagnostics p50 / ast.parse
TARGET_HOVER_RATIO = 0.25   # hover p50 / ast.parse
TARGET_RSS_MB = 150.0

# Runs in a fresh interpreter: argv[1] is the file, argv[2] the number of timed parses.
PARSE_CODE = r"""
import ast, json, sys, time
path, n = sys.argv[1], int(sys.argv[2])
with open(path, encoding="utf-8") as fh:
    src = fh.read()
t0 = time.perf_counter()
ast.parse(src, filename=path)
first = time.perf_counter() - t0
samples = []
for _ in range(n):
    t0 = time.perf_counter()
    ast.parse(src, filename=path)
    samples.append(time.perf_counter() - t0)
print(json.dumps({"first_ms": first * 1e3, "ms": [s * 1e3 for s in samples]}))
"""

SUMMARY_RE = re.compile(r"^SUMMARY\s+(.*)$")


class ToolFailure(RuntimeError):
    """lsp_bench or the parse baseline failed to run."""


# --------------------------------------------------------------------------
# Choosing the files
# --------------------------------------------------------------------------
def count_lines(text: str) -> int:
    return len(text.splitlines())


def modeling_files(src_base: Path) -> list[tuple[Path, int]]:
    """(path, lines) of every transformers/models/**/modeling_*.py, sorted by path."""
    models = src_base / "transformers" / "models"
    out = []
    for p in sorted(models.rglob("modeling_*.py")):
        if "__pycache__" in p.parts:
            continue
        out.append((p, count_lines(p.read_text(encoding="utf-8"))))
    return out


def closest(candidates: list[tuple[Path, int]], target: int, src_base: Path) -> tuple[Path, int]:
    return min(candidates, key=lambda c: (abs(c[1] - target), c[1], c[0].relative_to(src_base).as_posix()))


def absolute_module(package: list[str], level: int, module: str | None) -> str:
    if level - 1 > len(package):
        raise ValueError("relative import beyond the top-level package")
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def prepared_lines(path: Path, src_base: Path) -> tuple[list[str], ast.Module, set[int]]:
    """The file's lines with relative imports made absolute, its tree, and the
    0-based indices of the `from __future__` lines to drop."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    lines = text.splitlines()
    package = list(path.relative_to(src_base).with_suffix("").parts[:-1])
    drop: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.module == "__future__" and node.level == 0:
            drop.update(range(node.lineno - 1, node.end_lineno))
        elif node.level > 0:
            i = node.lineno - 1
            line = lines[i]
            m = re.compile(r"from\s+(\.+)\s*([\w.]*)\s+import\b").match(line, node.col_offset)
            if m is None or len(m.group(1)) != node.level:
                raise ValueError(f"{path}:{node.lineno}: cannot rewrite this relative import")
            absolute = absolute_module(package, node.level, node.module)
            lines[i] = line[: m.start()] + f"from {absolute} import" + line[m.end():]
    return lines, tree, drop


def build_concatenation(candidates: list[tuple[Path, int]], target: int, src_base: Path,
                        out_dir: Path) -> tuple[Path, list[dict]]:
    """Whole modeling files, largest first, until `target` lines; see the docstring."""
    order = sorted(candidates, key=lambda c: (-c[1], c[0].relative_to(src_base).as_posix()))
    body: list[str] = []
    parts: list[dict] = []
    header = [f"# {target}-line benchmark file made by benchmarks/lsp_speed.py from real transformers",
              "# modeling files (largest first; `from __future__` lines dropped, relative imports",
              "# made absolute). Do not edit: it is rebuilt on every run.", ""]
    for path, _ in order:
        total = len(header) + len(body)
        if total >= target:
            break
        rel = path.relative_to(src_base).as_posix()
        lines, tree, drop = prepared_lines(path, src_base)
        sep = ["", f"# ---- {rel} ----", ""] if body else [f"# ---- {rel} ----", ""]
        need = target - total - len(sep)
        end = len(lines)  # 1-based last line taken
        for stmt in tree.body:
            decorated_end = stmt.end_lineno
            kept = decorated_end - sum(1 for d in drop if d < decorated_end)
            if kept >= need:
                end = decorated_end
                break
        taken = [ln for i, ln in enumerate(lines[:end]) if i not in drop]
        body += sep + taken
        parts.append({"path": rel, "lines_taken": end, "file_lines": len(lines), "whole": end == len(lines)})
    text = "\n".join(header + body) + "\n"
    ast.parse(text)  # raises SyntaxError if the concatenation does not parse
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"concat_{target}.py"
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return out, parts


def choose_files(src_base: Path, targets: list[int], out_dir: Path) -> list[dict]:
    candidates = modeling_files(src_base)
    if not candidates:
        raise realworld.SetupError(f"no modeling_*.py under {src_base / 'transformers' / 'models'}")
    chosen = []
    for target in targets:
        path, lines = closest(candidates, target, src_base)
        if abs(lines - target) <= SINGLE_FILE_TOLERANCE * target:
            chosen.append({"target": target, "path": path, "lines": lines, "kind": "single",
                           "display": path.relative_to(src_base).as_posix(), "parts": None})
            continue
        out, parts = build_concatenation(candidates, target, src_base, out_dir)
        chosen.append({"target": target, "path": out, "lines": count_lines(out.read_text(encoding="utf-8")),
                       "kind": "concatenated", "display": os.path.relpath(out, Path.cwd()), "parts": parts,
                       "closest_single": {"path": path.relative_to(src_base).as_posix(), "lines": lines}})
    return chosen


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------
def run_parse_baseline(python: str, path: Path, n: int) -> dict:
    proc = subprocess.run([python, "-c", PARSE_CODE, str(path), str(n)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolFailure(f"ast.parse subprocess failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parse_summaries(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        m = SUMMARY_RE.match(line.strip())
        if not m:
            continue
        fields: dict = {"raw": line.strip()}
        for key, val in re.findall(r"(\w+)=(\S+)", m.group(1)):
            if key == "label":
                fields[key] = val
            elif val == "NA":
                fields[key] = None
            else:
                try:
                    fields[key] = int(val) if re.fullmatch(r"-?\d+", val) else float(val)
                except ValueError:
                    fields[key] = val
        out.append(fields)
    return out


def censored_median(samples: list[float], timeouts: int) -> float | None:
    """Median of all attempts with each timeout counted as +inf (None if no attempt)."""
    xs = sorted(samples) + [math.inf] * timeouts
    if not xs:
        return None
    n = len(xs)
    if n % 2:
        return xs[n // 2]
    a, b = xs[n // 2 - 1], xs[n // 2]
    return math.inf if math.isinf(b) else (a + b) / 2


def run_lsp_bench(args, servers: list[tuple[str, str]], path: Path, root: Path, log_dir: Path,
                  json_path: Path) -> tuple[list[dict], dict, int]:
    argv = [args.python, str(args.lsp_bench)]
    for cmd, label in servers:
        argv += ["--server", cmd, "--label", label]
    argv += [str(path), "--edits", str(args.edits), "--hovers", str(args.hovers),
             "--repeat", str(args.repeat), "--edit-timeout", str(args.edit_timeout),
             "--root", str(root), "--json", str(json_path), "--log-dir", str(log_dir)]
    print("  running: " + " ".join(shlex.quote(a) for a in argv), flush=True)
    # stderr (one progress line per session) goes straight to ours
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    summaries = parse_summaries(proc.stdout)
    try:
        data = json.loads(json_path.read_text())
    except (OSError, ValueError):
        data = {}
    if proc.returncode not in (0, 1) or not data or len(summaries) != len(servers):
        tail = "\n".join(proc.stdout.rstrip().splitlines()[-20:])
        raise ToolFailure(f"lsp_bench exited {proc.returncode} with {len(summaries)} SUMMARY line(s) "
                          f"for {len(servers)} server(s); stdout tail:\n{tail}")
    return summaries, data, proc.returncode


def scan_logs(log_dir: Path) -> dict[str, dict]:
    """Per stderr log: size and the lines that look like errors."""
    out = {}
    pat = re.compile(r"Traceback|Error|Exception|ERROR|panick|CRITICAL")
    for p in sorted(log_dir.glob("*.log")):
        try:
            lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        hits = [ln for ln in lines if pat.search(ln)]
        out[p.name] = {"lines": len(lines), "error_lines": len(hits), "first_errors": hits[:5]}
    return out


def stat(stats: dict, metric: str, key: str, fallback):
    return (stats.get(metric) or {}).get(key, fallback)


def server_figures(label: str, summary: dict, data: dict, edit_timeout: float) -> dict:
    stats = data.get("stats", {}).get(label, {})
    runs = data.get("runs", {}).get(label, [])
    ok = [r for r in runs if "error" not in r]
    change = [x for r in ok for x in r.get("change_ms", [])]
    hovers = [x for r in ok for x in r.get("hover_ms", [])]
    timeouts = sum(r.get("change_timeouts", 0) for r in ok)
    hover_timeouts = sum(r.get("hover_timeouts", 0) for r in ok)
    rss = [r["rss_mb"] for r in ok if r.get("rss_mb") is not None]
    return {
        "label": label,
        "summary": summary,
        # the SUMMARY figures, unrounded (from lsp_bench's --json statistics)
        "open_ms": stat(stats, "open_ms", "p50", summary.get("open_ms")),
        "change_p50_ms": stat(stats, "change_ms", "p50", summary.get("change_p50_ms")),
        "change_p95_ms": stat(stats, "change_ms", "p95", summary.get("change_p95_ms")),
        "hover_p50_ms": stat(stats, "hover_ms", "p50", summary.get("hover_p50_ms")),
        "rss_mb": stat(stats, "rss_mb", "p50", summary.get("rss_mb")),
        "rss_max_mb": max(rss) if rss else None,
        "change_timeouts": timeouts,
        "change_attempts": len(change) + timeouts,
        "change_p50_all_ms": censored_median(change, timeouts),
        "hover_timeouts": hover_timeouts,
        "hover_attempts": len(hovers) + hover_timeouts,
        "hover_p50_all_ms": censored_median(hovers, hover_timeouts),
        "hover_nonnull": sum(r.get("hover_nonnull", 0) for r in ok),
        "failed_runs": stats.get("failed_runs", len(runs) - len(ok)),
        "errors": [r["error"] for r in runs if "error" in r],
        "per_run_change_p50_ms": [statistics.median(r["change_ms"]) if r.get("change_ms") else None for r in ok],
        "edit_site": ok[0].get("edit_site") if ok else None,
        "sync": ok[0].get("sync") if ok else None,
        "versioned_diags": ok[0].get("versioned_diags") if ok else None,
        "server_info": ok[0].get("server_info") if ok else None,
        "diags_on_edit_line": ok[-1].get("diags_on_edit_line") if ok else None,
        "edit_timeout_s": edit_timeout,
    }


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
def f1(x) -> str:
    if x is None:
        return "NA"
    if isinstance(x, float) and math.isinf(x):
        return "timeout"
    return f"{x:.1f}"


def ratio(a, b) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fr(x) -> str:
    if x is None:
        return "NA"
    if math.isinf(x):
        return "inf"
    return f"{x:.2f}x"


def print_file_table(entry: dict) -> None:
    parse = entry["parse_ms"]
    print(f"\n{entry['display']}: {entry['lines']:,} lines   ast.parse {parse:.2f} ms "
          f"(median of {len(entry['parse_samples_ms'])}; first parse of a fresh process "
          f"{statistics.median(entry['parse_first_ms']):.2f} ms)")
    hdr = (f"  {'server':<11}{'open_ms':>9}{'chg_p50':>9}{'chg_p95':>9}{'hov_p50':>9}{'rss_mb':>8}"
           f"{'timeouts':>10}{'chg/parse':>11}{'hov/parse':>11}")
    print(hdr)
    for s in entry["servers"]:
        print(f"  {s['label']:<11}{f1(s['open_ms']):>9}{f1(s['change_p50_ms']):>9}{f1(s['change_p95_ms']):>9}"
              f"{f1(s['hover_p50_ms']):>9}{f1(s['rss_mb']):>8}"
              f"{str(s['change_timeouts']) + '/' + str(s['change_attempts']):>10}"
              f"{fr(s['ratios']['change_p50_over_parse']):>11}{fr(s['ratios']['hover_p50_over_parse']):>11}")
    print("  hovers with content: " + ", ".join(f"{s['label']} {s['hover_nonnull']}/{s['hover_attempts']}"
                                             for s in entry["servers"]))
    for s in entry["servers"]:
        if s["change_timeouts"]:
            print(f"  note: {s['label']}: {s['change_timeouts']} of {s['change_attempts']} edits got no diagnostics "
                  f"within {s['edit_timeout_s']:g} s (left out of chg_p50/p95); p50 counting them as slower: "
                  f"{f1(s['change_p50_all_ms'])} ms")
        if s["hover_timeouts"]:
            print(f"  note: {s['label']}: {s['hover_timeouts']} hover(s) timed out")
        if s["failed_runs"]:
            print(f"  note: {s['label']}: {s['failed_runs']} session(s) failed: {'; '.join(s['errors'][:3])}")
    by = {s["label"]: s for s in entry["servers"]}
    if "torch-lsp" in by and "ruff" in by:
        t, r = by["torch-lsp"], by["ruff"]
        print(f"  torch-lsp / ruff: open {fr(ratio(t['open_ms'], r['open_ms']))}, "
              f"edit p50 {fr(ratio(t['change_p50_all_ms'], r['change_p50_all_ms']))}, "
              f"hover p50 {fr(ratio(t['hover_p50_ms'], r['hover_p50_ms']))}, "
              f"RSS {fr(ratio(t['rss_mb'], r['rss_mb']))}")


def verdicts(entry: dict, label: str) -> list[dict]:
    s = next(s for s in entry["servers"] if s["label"] == label)
    parse = entry["parse_ms"]
    chg = ratio(s["change_p50_all_ms"], parse)
    hov = ratio(s["hover_p50_all_ms"], parse)
    return [
        {"name": "edit->diagnostics p50 / ast.parse", "value": chg, "target": f"< {TARGET_CHANGE_RATIO:g}",
         "met": chg is not None and chg < TARGET_CHANGE_RATIO,
         "detail": f"{f1(s['change_p50_all_ms'])} ms / {parse:.1f} ms"},
        {"name": "hover p50 / ast.parse", "value": hov, "target": f"< {TARGET_HOVER_RATIO:g}",
         "met": hov is not None and hov < TARGET_HOVER_RATIO,
         "detail": f"{f1(s['hover_p50_all_ms'])} ms / {parse:.1f} ms"},
        {"name": "RSS (median of sessions)", "value": s["rss_mb"], "target": f"< {TARGET_RSS_MB:g} MB",
         "met": s["rss_mb"] is not None and s["rss_mb"] < TARGET_RSS_MB,
         "detail": f"{f1(s['rss_mb'])} MB (max {f1(s['rss_max_mb'])} MB)"},
    ]


def snapshot_rev(rev: str, lsp_dir: Path) -> tuple[str, Path]:
    """Extract torch_lsp/ as committed at `rev`; return (short sha, folder to put on PYTHONPATH)."""
    sha = git("rev-parse", "--short", f"{rev}^{{commit}}")
    if not sha:
        raise ToolFailure("not a commit of this repository")
    dest = lsp_dir / f"rev-{sha}"
    if (dest / "torch_lsp" / "__init__.py").is_file():
        _byte_compile(dest)
        return sha, dest
    proc = subprocess.run(["git", "archive", "--format=tar", sha, "torch_lsp"], cwd=REPO, capture_output=True)
    if proc.returncode != 0:
        raise ToolFailure(f"git archive failed: {proc.stderr.decode(errors='replace')[-500:]}")
    tmp = lsp_dir / f"rev-{sha}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    _byte_compile(dest)
    return sha, dest


def _byte_compile(dest: Path) -> None:
    """Byte-compile a snapshot (what `pip install` does): under PYTHONDONTWRITEBYTECODE
    a snapshot without bytecode would compile every module from source in every server
    it starts, and read ~0.1 s slower than the working tree or an older snapshot."""
    import compileall

    compileall.compile_dir(str(dest / "torch_lsp"), quiet=1)


def json_safe(obj):
    """inf (a median that is a timeout) becomes the string "timeout": strict JSON has no Infinity."""
    if isinstance(obj, float) and math.isinf(obj):
        return "timeout"
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def git(*argv: str) -> str:
    try:
        return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache-dir", type=Path, default=realworld.DEFAULT_CACHE, help="download/unpack cache (default: %(default)s)")
    ap.add_argument("--targets", default=DEFAULT_TARGETS, help="line counts of the files, comma-separated (default: %(default)s); "
                    "the targets are judged on the largest")
    ap.add_argument("--server", default="torch-lsp serve", help='our server (default: "%(default)s", i.e. the working tree if installed in editable mode)')
    ap.add_argument("--rev", default=None, metavar="REV",
                    help="measure torch_lsp as committed at REV instead (git archive into <cache-dir>/lsp/rev-<sha>/, "
                         "run as `python -m torch_lsp serve` with PYTHONPATH there): immune to edits made during the run")
    ap.add_argument("--ruff", default="ruff server", help='the ruff baseline (default: "%(default)s"; install with `pip install ruff`)')
    ap.add_argument("--no-ruff", action="store_true", help="skip the ruff baseline")
    ap.add_argument("--edits", type=int, default=30, help="measured edits per session (default: %(default)s)")
    ap.add_argument("--hovers", type=int, default=20, help="hovers per session (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="sessions per server, interleaved (default: %(default)s)")
    ap.add_argument("--edit-timeout", type=float, default=10.0,
                    help="seconds an edit waits for its diagnostics before it counts as a timeout (default: %(default)s)")
    ap.add_argument("--parse-repeat", type=int, default=20,
                    help="timed ast.parse calls per baseline subprocess; one runs before and one after each file's sessions (default: %(default)s)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for lsp_bench and the ast.parse baseline (default: this one)")
    ap.add_argument("--lsp-bench", type=Path, default=DEFAULT_LSP_BENCH, help="path of lsp_bench.py (default: %(default)s)")
    ap.add_argument("--log-dir", type=Path, default=None,
                    help="keep the servers' stderr here, one folder per file (default: <cache-dir>/lsp/logs)")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT", help="write every figure, raw SUMMARY lines and samples included, to OUT")
    args = ap.parse_args(argv)
    if min(args.repeat, args.parse_repeat) < 1 or min(args.edits, args.hovers) < 0:
        ap.error("--repeat and --parse-repeat must be at least 1, --edits and --hovers at least 0")
    try:
        targets = [int(t) for t in args.targets.split(",") if t.strip()]
    except ValueError:
        ap.error("--targets: comma-separated integers")
    if not targets or min(targets) < 1:
        ap.error("--targets: at least one positive line count")
    if not args.lsp_bench.is_file():
        print(f"lsp_bench.py not found at {args.lsp_bench} (see --lsp-bench)", file=sys.stderr)
        return realworld.EXIT_TOOL_FAILED

    try:
        parts = realworld.prepare_corpus(args.cache_dir, None, ["transformers"])
    except realworld.SetupError as exc:
        print(f"corpus setup failed: {exc}", file=sys.stderr)
        return realworld.EXIT_SETUP_FAILED
    tf = parts[0]
    src_base = tf.base.resolve()
    lsp_dir = args.cache_dir.resolve() / "lsp"
    try:
        chosen = choose_files(src_base, targets, lsp_dir)
    except (realworld.SetupError, SyntaxError, ValueError) as exc:
        print(f"could not choose/build the benchmark files: {exc}", file=sys.stderr)
        return realworld.EXIT_SETUP_FAILED

    print(f"transformers {tf.version} ({tf.origin}); workspace root {src_base}")
    print("Files:")
    for c in chosen:
        if c["kind"] == "single":
            print(f"  ~{c['target']:>6,} lines: {c['display']} ({c['lines']:,} lines)")
        else:
            cs = c["closest_single"]
            print(f"  ~{c['target']:>6,} lines: {c['display']} ({c['lines']:,} lines; the largest single file "
                  f"has {cs['lines']:,}), concatenated from:")
            for p in c["parts"]:
                what = "whole" if p["whole"] else f"lines 1-{p['lines_taken']} of {p['file_lines']}"
                print(f"      {p['path']} ({what})")

    head = git("rev-parse", "--short", "HEAD")
    if args.rev:
        try:
            sha, snapshot = snapshot_rev(args.rev, lsp_dir)
        except ToolFailure as exc:
            print(f"--rev {args.rev}: {exc}", file=sys.stderr)
            return realworld.EXIT_TOOL_FAILED
        args.server = f"env PYTHONPATH={shlex.quote(str(snapshot))} {shlex.quote(args.python)} -m torch_lsp serve"
        source = {"kind": "commit", "commit": sha, "snapshot": str(snapshot), "dirty_paths": []}
        print(f"\ntorch_lsp source: commit {sha} (snapshot in {snapshot})")
    else:
        dirty = git("status", "--porcelain", "--", "torch_lsp").splitlines()
        _byte_compile(REPO)  # (as a snapshot is: see _byte_compile)
        source = {"kind": "working tree", "commit": head, "dirty_paths": dirty}
        print(f"\ntorch_lsp source: what `{args.server}` imports; the repository is at {head}"
              + (f" with {len(dirty)} uncommitted change(s) under torch_lsp/ (use --rev to measure a commit)" if dirty else ""))

    servers = [(args.server, "torch-lsp")]
    ruff_note = None
    if not args.no_ruff:
        ruff_argv = shlex.split(args.ruff)
        if ruff_argv and shutil.which(ruff_argv[0]):
            servers.append((args.ruff, "ruff"))
        else:
            ruff_note = (f"`{ruff_argv[0] if ruff_argv else args.ruff}` is not on PATH: the ruff baseline is skipped "
                         f"(ruff is not a project dependency; `pip install ruff` to include it)")
    else:
        ruff_note = "--no-ruff: the ruff baseline is skipped"
    print("\nServers:")
    identities = {}
    for cmd, label in servers:
        words = shlex.split(cmd)
        if words and os.path.basename(words[0]) == "env":  # env VAR=... PROGRAM ...
            words = [w for w in words[1:] if "=" not in w]
        ident = realworld.tool_identity(words[0] if words else cmd)
        identities[label] = ident
        print(f"  {label}: {cmd}   [" + "; ".join(ident.splitlines()[1:]) + "]")
    if ruff_note:
        print(f"  {ruff_note}")
    print(f"  ast.parse baseline: {args.python} (Python {platform.python_version()}), {os.cpu_count()} CPUs")
    print(f"  lsp_bench: {args.lsp_bench}  --edits {args.edits} --hovers {args.hovers} --repeat {args.repeat} "
          f"--edit-timeout {args.edit_timeout:g}")

    log_root = (args.log_dir or lsp_dir / "logs").resolve()
    entries = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="torch-lsp-lsp-speed-") as tmp:
        for c in chosen:
            print(f"\n== ~{c['target']:,} lines: {c['display']}", flush=True)
            log_dir = log_root / f"{c['target']}"
            if log_dir.is_dir():
                for old in log_dir.glob("*.log"):
                    old.unlink()
            log_dir.mkdir(parents=True, exist_ok=True)
            json_path = Path(tmp) / f"lsp_bench_{c['target']}.json"
            try:
                before = run_parse_baseline(args.python, c["path"], args.parse_repeat)
                summaries, data, bench_rc = run_lsp_bench(args, servers, c["path"], src_base, log_dir, json_path)
                after = run_parse_baseline(args.python, c["path"], args.parse_repeat)
            except (ToolFailure, OSError, ValueError) as exc:
                print(f"\nTOOL FAILURE on {c['display']}: {exc}", file=sys.stderr)
                failures.append(f"{c['display']}: {exc}")
                continue
            samples = before["ms"] + after["ms"]
            parse_ms = statistics.median(samples)
            by_label = {s.get("label"): s for s in summaries}
            figs = []
            for _, label in servers:
                s = server_figures(label, by_label.get(label, {}), data, args.edit_timeout)
                s["ratios"] = {
                    "change_p50_over_parse": ratio(s["change_p50_ms"], parse_ms),
                    "change_p50_all_over_parse": ratio(s["change_p50_all_ms"], parse_ms),
                    "hover_p50_over_parse": ratio(s["hover_p50_ms"], parse_ms),
                }
                figs.append(s)
                if s["failed_runs"]:
                    failures.append(f"{c['display']}: {label}: {s['failed_runs']} failed session(s)")
            logs = scan_logs(log_dir)
            entry = {
                "target": c["target"], "display": c["display"], "path": str(c["path"]), "lines": c["lines"],
                "kind": c["kind"], "parts": c["parts"],
                "parse_ms": parse_ms, "parse_samples_ms": samples,
                "parse_first_ms": [before["first_ms"], after["first_ms"]],
                "parse_median_before_ms": statistics.median(before["ms"]),
                "parse_median_after_ms": statistics.median(after["ms"]),
                "servers": figs, "lsp_bench_exit": bench_rc, "lsp_bench": data,
                "log_dir": str(log_dir), "logs": logs,
            }
            entries.append(entry)
            print_file_table(entry)
            for name, info in logs.items():
                if info["error_lines"]:
                    print(f"  stderr {log_dir / name}: {info['error_lines']} error-like line(s), e.g. {info['first_errors'][0][:160]}")

    # ---- summary
    result_verdicts = None
    if entries:
        print("\nSummary (medians; timeouts = edits without diagnostics within "
              f"{args.edit_timeout:g} s, out of all measured edits)")
        print(f"  {'file':<42}{'lines':>7}{'parse':>7}  {'server':<10}{'open':>8}{'chg_p50':>9}{'chg_p95':>9}"
              f"{'hov_p50':>9}{'rss_mb':>8}{'t/o':>8}{'chg/parse':>11}{'hov/parse':>11}")
        for e in entries:
            for i, s in enumerate(e["servers"]):
                lead = (f"  {Path(e['display']).name[-42:]:<42}{e['lines']:>7,}{e['parse_ms']:>7.1f}" if i == 0 else f"  {'':<56}")
                print(f"{lead}  {s['label']:<10}{f1(s['open_ms']):>8}{f1(s['change_p50_ms']):>9}{f1(s['change_p95_ms']):>9}"
                      f"{f1(s['hover_p50_ms']):>9}{f1(s['rss_mb']):>8}"
                      f"{str(s['change_timeouts']) + '/' + str(s['change_attempts']):>8}"
                      f"{fr(s['ratios']['change_p50_over_parse']):>11}{fr(s['ratios']['hover_p50_over_parse']):>11}")
        largest = max(entries, key=lambda e: e["target"])
        result_verdicts = verdicts(largest, "torch-lsp")
        print(f"\nTargets, torch-lsp on {largest['display']} ({largest['lines']:,} lines):")
        for v in result_verdicts:
            val = f1(v["value"]) + " MB" if v["name"].startswith("RSS") else fr(v["value"])
            print(f"  {v['name']:<36}{val:>10}   target {v['target']:<10} {'not measured' if v['value'] is None else 'met' if v['met'] else 'NOT met'}   ({v['detail']})")
        if max(targets) != largest["target"]:
            print("  (the largest target failed to run; these are for the largest file measured)")

    if args.json:
        result = {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "commit": source["commit"],
            "repository_head": head,
            "torch_lsp_source": source,
            "python": args.python, "python_version": platform.python_version(), "cpus": os.cpu_count(),
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "servers": [{"label": l, "command": c, "identity": identities.get(l)} for c, l in servers],
            "ruff_note": ruff_note,
            "transformers": {"version": tf.version, "origin": tf.origin, "root": str(src_base)},
            "targets": {"change_p50_over_parse": TARGET_CHANGE_RATIO, "hover_p50_over_parse": TARGET_HOVER_RATIO,
                        "rss_mb": TARGET_RSS_MB},
            "verdicts": result_verdicts,
            "files": entries,
            "failures": failures,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(json_safe(result), indent=1, default=str) + "\n")
        print(f"\nwrote {args.json}")
    if failures:
        print("\nTool failures:\n  " + "\n  ".join(failures), file=sys.stderr)
        return realworld.EXIT_TOOL_FAILED
    return realworld.EXIT_OK


if __name__ == "__main__":
    realworld.run_main(main)
