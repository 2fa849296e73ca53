#!/usr/bin/env python3
"""Out-of-sample precision: torch-lsp over PyTorch libraries nobody tuned it on.

The corpus is the package code of a dozen PyTorch libraries that the rules were
never developed against (torchmetrics, stable-baselines3, fastai, ...), pinned
below, downloaded with pip (`--no-deps`, so never torch) into
benchmarks/.cache/wild/ and unpacked into benchmarks/.cache/wild/src/<name>/.
One `torch-lsp check --format json --exit-zero` run (all default rules) covers
all of it; every loud diagnostic (error or warning) is listed with its source
line and matched against the human verdicts in benchmarks/wild_triage.toml,
which gives the precision genuine / (genuine + false).

This is a script for humans, not a CI test.  Exit status: 0 after a completed
run, whatever was found; 2 when the checker crashed, reported an internal error
for some file, printed something other than the JSON array of the contract, or
could not be started; 3 when the corpus could not be prepared; 4 when the
triage file is invalid.

Usage (from the repository root):
    python benchmarks/wild.py                           # whole corpus
    python benchmarks/wild.py --download-only           # fetch + unpack, print sizes
    python benchmarks/wild.py --rev HEAD --repeat 5     # torch_lsp as committed, medians of 5 timings
    python benchmarks/wild.py --only torchmetrics,e3nn --json /tmp/wild.json
    python benchmarks/wild.py --write-untriaged /tmp/new_entries.toml
"""

from __future__ import annotations

import argparse
import collections
import compileall
import dataclasses
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lsp_speed  # noqa: E402  (for snapshot_rev: torch_lsp as committed at a revision)
import realworld  # noqa: E402  (benchmarks/ is not a package)
import speed  # noqa: E402


# --------------------------------------------------------------------------
# Pinned corpus.  Bump deliberately: the triage file's verdicts belong to
# these versions (entries of a bumped library may turn up as "gone").
# --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Library:
    name: str  # the PyPI name, also the name used by --only and in the triage file
    version: str
    kind: str  # "wheel" or "sdist"
    packages: tuple[str, ...]  # folders (relative to the library root) that make up the corpus
    exclude: tuple[str, ...] = ()  # folders below `packages` left out
    note: str = ""  # what of the download is not taken, and why


LIBRARIES: list[Library] = [
    Library("torchmetrics", "1.9.0", "wheel", ("torchmetrics",)),
    Library("stable-baselines3", "2.9.2", "wheel", ("stable_baselines3",)),
    Library("fastai", "2.8.12", "wheel", ("fastai",)),
    Library("x-transformers", "2.31.10", "wheel", ("x_transformers",)),
    Library("openai-whisper", "20250625", "sdist", ("whisper",),
            note="no wheel on PyPI: the sdist; its tests/ folder is not taken"),
    Library("pyro-ppl", "1.9.2", "wheel", ("pyro",)),
    Library("gpytorch", "1.15.2", "wheel", ("gpytorch",), exclude=("gpytorch/test",),
            note="gpytorch/test (base test cases shipped in the package) is not taken"),
    Library("torchtune", "0.6.1", "wheel", ("torchtune", "recipes"),
            note="the wheel's top-level recipes/ package (the `tune run` training scripts) is taken"),
    Library("open-clip-torch", "3.3.0", "wheel", ("open_clip", "open_clip_train")),
    Library("sentence-transformers", "6.3.0", "wheel", ("sentence_transformers",)),
    Library("flair", "0.15.1", "wheel", ("flair",),
            note="the wheel's top-level tests/ folder is not taken"),
    Library("e3nn", "0.6.0", "wheel", ("e3nn",),
            note="the wheel's top-level docs/ and examples/ folders are not taken"),
]
LIBRARY_NAMES = [lib.name for lib in LIBRARIES]

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = BENCH_DIR / ".cache" / "wild"
DEFAULT_TRIAGE = BENCH_DIR / "wild_triage.toml"
LOUD = ("error", "warning")
VERDICTS = ("genuine", "false")
EXIT_TRIAGE_INVALID = 4


# --------------------------------------------------------------------------
# Download and unpack (wheels through realworld.py; sdists here)
# --------------------------------------------------------------------------
def _sdist_pattern(name: str, version: str) -> re.Pattern[str]:
    norm = "[-_.]+".join(re.escape(w) for w in re.split(r"[-_.]+", name))
    return re.compile(rf"^{norm}-{re.escape(version)}\.(tar\.gz|zip)$", re.I)


def find_sdist(name: str, version: str, sdists_dir: Path) -> Path | None:
    if not sdists_dir.is_dir():
        return None
    pat = _sdist_pattern(name, version)
    hits = sorted(p for p in sdists_dir.iterdir() if pat.match(p.name))
    return hits[0] if hits else None


def download_sdist(name: str, version: str, sdists_dir: Path) -> Path:
    """The source distribution of name==version (pip prepares its metadata, nothing is installed)."""
    found = find_sdist(name, version, sdists_dir)
    if found:
        return found
    sdists_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:",
        "--disable-pip-version-check", "-q", "-d", str(sdists_dir), f"{name}=={version}",
    ]
    realworld.log(f"downloading {name}=={version} (sdist) ...")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise realworld.SetupError(
            f"pip download of {name}=={version} failed (exit {proc.returncode}):\n"
            + (proc.stderr or proc.stdout).strip()[-3000:]
        )
    found = find_sdist(name, version, sdists_dir)
    if not found:
        raise realworld.SetupError(f"pip download of {name}=={version} succeeded but no matching sdist is in {sdists_dir}")
    return found


def unpack_sdist(archive: Path, dest: Path) -> Path:
    """Unpack `archive` into `dest` with its single top-level folder stripped."""
    marker = dest / ".unpacked-from"
    if marker.is_file() and marker.read_text().strip() == archive.name:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    realworld.log(f"unpacking {archive.name} -> {dest}")
    try:
        if archive.name.endswith(".zip"):
            import zipfile

            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp / "x")
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(tmp / "x", filter="data")
        tops = list((tmp / "x").iterdir())
        if len(tops) != 1 or not tops[0].is_dir():
            raise realworld.SetupError(f"{archive.name}: expected one top-level folder, found {len(tops)} entries")
        for child in tops[0].iterdir():
            child.rename(tmp / child.name)
        shutil.rmtree(tmp / "x")
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise realworld.SetupError(f"cannot unpack {archive}: {exc}") from exc
    (tmp / ".unpacked-from").write_text(archive.name + "\n")
    tmp.rename(dest)
    return dest


def ensure_library(lib: Library, cache_dir: Path) -> tuple[Path, str]:
    """(library root with the pinned version unpacked, name of the downloaded file)."""
    dest = cache_dir / "src" / lib.name
    if lib.kind == "wheel":
        return realworld.ensure_unpacked(lib.name, lib.version, cache_dir / "wheels", dest)
    marker = dest / ".unpacked-from"
    if marker.is_file() and _sdist_pattern(lib.name, lib.version).match(marker.read_text().strip()):
        return dest, marker.read_text().strip()
    archive = download_sdist(lib.name, lib.version, cache_dir / "sdists")
    unpack_sdist(archive, dest)
    return dest, archive.name


def corpus_paths(folder: Path, rel: str, exclude: tuple[str, ...]) -> list[Path]:
    """`folder` itself, or (when an excluded folder lies below it) its children minus the excluded ones."""
    if rel in exclude:
        return []
    if not any(e.startswith(rel + "/") for e in exclude):
        return [folder]
    out: list[Path] = []
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            if child.name != "__pycache__":
                out += corpus_paths(child, f"{rel}/{child.name}", exclude)
        elif child.suffix == ".py":
            out.append(child)
    return out


@dataclasses.dataclass
class Sizes:
    files: int
    lines: int
    bytes: int


def prepare_corpus(cache_dir: Path, names: list[str] | None = None) -> list[realworld.CorpusPart]:
    """Download/unpack what is missing; one realworld.CorpusPart per library (base = library root)."""
    cache_dir = Path(cache_dir).resolve()
    out = []
    for lib in LIBRARIES:
        if names and lib.name not in names:
            continue
        base, fetched = ensure_library(lib, cache_dir)
        dirs: list[Path] = []
        for pkg in lib.packages:
            if not (base / pkg).is_dir():
                raise realworld.SetupError(f"{fetched} has no {pkg}/")
            dirs += corpus_paths(base / pkg, pkg, lib.exclude)
        out.append(realworld.CorpusPart(lib.name, lib.version, base, dirs, f"{lib.kind}: {fetched}"))
    return out


def measure(part: realworld.CorpusPart) -> Sizes:
    files = part.files()
    lines = size = 0
    for f in files:
        data = f.read_bytes()
        size += len(data)
        lines += len(data.decode("utf-8", errors="replace").splitlines())
    return Sizes(len(files), lines, size)


def describe(parts: list[realworld.CorpusPart], sizes: dict[str, Sizes]) -> None:
    libs = {lib.name: lib for lib in LIBRARIES}
    print("Corpus:")
    print(f"  {'library':<22} {'version':<10} {'files':>6} {'lines':>9} {'MB':>6}  folders")
    for part in parts:
        s = sizes[part.name]
        lib = libs[part.name]
        folders = ", ".join(lib.packages) + (f" (minus {', '.join(lib.exclude)})" if lib.exclude else "")
        print(f"  {part.name:<22} {part.version:<10} {s.files:>6} {s.lines:>9,} {s.bytes / 1e6:>6.2f}  {folders}")
        print(f"  {'':<22} from {part.origin}" + (f"; {lib.note}" if lib.note else ""))
    tot = Sizes(*(sum(getattr(sizes[p.name], f) for p in parts) for f in ("files", "lines", "bytes")))
    print(f"  {'total':<33} {tot.files:>6} {tot.lines:>9,} {tot.bytes / 1e6:>6.2f}")


# --------------------------------------------------------------------------
# Triage file
# --------------------------------------------------------------------------
class TriageError(RuntimeError):
    """The triage file cannot be read or has a bad entry."""


@dataclasses.dataclass
class Entry:
    library: str
    path: str
    code: str
    line: str  # stripped source line
    verdict: str
    reason: str
    matched: int = 0

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.library, self.path, self.code, self.line)


def diag_key(d: dict) -> tuple[str, str, str, str]:
    return (d["_part"], d["_display"], d["code"], d["_source"].strip())


def load_triage(path: Path) -> list[Entry]:
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TriageError(f"{path}: {exc}") from exc
    raw = data.get("entry", [])
    if not isinstance(raw, list):
        raise TriageError(f"{path}: `entry` must be an array of tables ([[entry]])")
    entries: list[Entry] = []
    seen: dict[tuple, int] = {}
    problems = []
    for i, item in enumerate(raw, 1):
        try:
            e = Entry(**{k: item[k] for k in ("library", "path", "code", "line", "verdict", "reason")})
        except (KeyError, TypeError) as exc:
            problems.append(f"entry {i}: missing or bad field ({exc}): {item!r:.200}")
            continue
        extra = set(item) - {"library", "path", "code", "line", "verdict", "reason"}
        if extra:
            problems.append(f"entry {i}: unknown field(s) {', '.join(sorted(extra))}")
        if e.verdict not in VERDICTS:
            problems.append(f"entry {i} ({e.path}): verdict {e.verdict!r} is not one of {', '.join(VERDICTS)}")
        if not str(e.reason).strip():
            problems.append(f"entry {i} ({e.path}): empty reason")
        if e.library not in LIBRARY_NAMES:
            problems.append(f"entry {i}: unknown library {e.library!r}")
        e.line = str(e.line).strip()
        if e.key in seen:
            problems.append(f"entry {i} repeats entry {seen[e.key]} (same library, path, code and line)")
        seen.setdefault(e.key, i)
        entries.append(e)
    if problems:
        raise TriageError(f"{path}:\n  " + "\n  ".join(problems))
    return entries


def toml_str(s: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(s, ensure_ascii=False)


def toml_entry(d: dict, verdict: str = "", reason: str = "") -> str:
    return (
        "[[entry]]\n"
        f"library = {toml_str(d['_part'])}\n"
        f"path = {toml_str(d['_display'])}\n"
        f"code = {toml_str(d['code'])}\n"
        f"line = {toml_str(d['_source'].strip())}\n"
        f"verdict = {toml_str(verdict)}\n"
        f"reason = {toml_str(reason)}\n"
        f"# {d['_display']}:{d.get('line')}: {d['code']} [{d['severity']}] {d['message']}\n"
    )


def match_triage(loud: list[dict], entries: list[Entry]) -> None:
    """Set d["_verdict"]/d["_reason"] (None when untriaged) and count matches per entry."""
    by_key = {e.key: e for e in entries}
    for d in loud:
        e = by_key.get(diag_key(d))
        if e is None:
            d["_verdict"] = d["_reason"] = None
        else:
            e.matched += 1
            d["_verdict"], d["_reason"] = e.verdict, e.reason


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
def print_diag(d: dict) -> None:
    line, col = d.get("line"), d.get("column")
    loc = f"{d['_display']}:{line}" + (f":{col}" if col else "")
    print()
    print(f"{d['_part']} {loc}: {d['code']} [{d['severity']}] {d['message']}")
    text = d["_source"]
    print(f"    {line:>5} | {text.rstrip()}")
    if col and text and isinstance(col, int):
        end_col = d.get("end_column") if d.get("end_line") == line else None
        width = max(1, (end_col - col) if isinstance(end_col, int) and end_col > col else 1)
        width = min(width, max(1, len(text) - col + 1))
        print(f"    {'':>5} | {' ' * (col - 1)}{'^' * width}")
    if d["severity"] in LOUD:
        if d.get("_verdict"):
            print(f"    triage: {d['_verdict']}: {d['_reason']}")
        else:
            print("    triage: UNTRIAGED")


def report_counts(parts, sizes, diags, loud) -> None:
    print()
    print("Loud diagnostics (error or warning) by library and code:")
    by_lib: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for d in loud:
        by_lib[d["_part"]][(d["code"], d["severity"])] += 1
    quiet_by_lib = collections.Counter(d["_part"] for d in diags if d["severity"] not in LOUD)
    print(f"  {'library':<22} {'files':>6} {'lines':>9} {'loud':>5} {'quiet':>6}  by code")
    for part in parts:
        s = sizes[part.name]
        c = by_lib.get(part.name, collections.Counter())
        codes = ", ".join(f"{code} {sev} {n}" for (code, sev), n in sorted(c.items()))
        print(f"  {part.name:<22} {s.files:>6} {s.lines:>9,} {sum(c.values()):>5} {quiet_by_lib[part.name]:>6}  {codes or '-'}")
    tot = collections.Counter((d["code"], d["severity"]) for d in loud)
    print(f"  {'total':<22} {sum(sizes[p.name].files for p in parts):>6} {sum(sizes[p.name].lines for p in parts):>9,} "
          f"{len(loud):>5} {sum(quiet_by_lib.values()):>6}  " + (", ".join(f"{c} {s} {n}" for (c, s), n in sorted(tot.items())) or "-"))
    quiet = collections.Counter((d["code"], d["severity"]) for d in diags if d["severity"] not in LOUD)
    if quiet:
        print("  information/hint (not triaged): " + ", ".join(f"{c} {s} {n}" for (c, s), n in sorted(quiet.items())))


def report_triage(parts, sizes, loud, entries, names_run, triage_path: Path) -> None:
    print()
    print(f"Triage ({realworld._rel(triage_path.resolve(), Path.cwd())}):")
    print(f"  {'library':<22} {'files':>6} {'lines':>9} {'loud':>5} {'genuine':>8} {'false':>6} {'untriaged':>10}")
    tg = tf = tu = 0
    for part in parts:
        mine = [d for d in loud if d["_part"] == part.name]
        g = sum(d["_verdict"] == "genuine" for d in mine)
        f = sum(d["_verdict"] == "false" for d in mine)
        u = sum(d["_verdict"] is None for d in mine)
        tg, tf, tu = tg + g, tf + f, tu + u
        s = sizes[part.name]
        print(f"  {part.name:<22} {s.files:>6} {s.lines:>9,} {len(mine):>5} {g:>8} {f:>6} {u:>10}")
    print(f"  {'total':<22} {sum(sizes[p.name].files for p in parts):>6} {sum(sizes[p.name].lines for p in parts):>9,} "
          f"{len(loud):>5} {tg:>8} {tf:>6} {tu:>10}")
    if tg + tf:
        print(f"Precision genuine / (genuine + false): {tg}/{tg + tf} = {tg / (tg + tf):.1%}"
              + (f"  ({tu} untriaged not counted)" if tu else ""))
    else:
        print("Precision: n/a (no triaged loud diagnostics)")

    untriaged = [d for d in loud if d["_verdict"] is None]
    if untriaged:
        print()
        print("!" * 78)
        print(f"UNTRIAGED: {len(untriaged)} loud diagnostic(s) have no entry in the triage file;")
        print("judge each and add an entry (--write-untriaged OUT writes stubs):")
        for d in untriaged:
            print(f"  {d['_part']} {d['_display']}:{d.get('line')}:{d.get('column')}: {d['code']} [{d['severity']}] {d['message']}")
            print(f"      {d['_source'].strip()}")
        print("!" * 78)

    gone = [e for e in entries if e.matched == 0 and e.library in names_run]
    if gone:
        print()
        print(f"Fixed/gone: {len(gone)} triage entr{'y' if len(gone) == 1 else 'ies'} match no current diagnostic:")
        for e in gone:
            what = "false alarm gone (progress)" if e.verdict == "false" else "LOST TRUE POSITIVE"
            print(f"  {what}: {e.library} {e.path}: {e.code}: {e.line}")
            print(f"      was: {e.reason}")


def internal_errors(stderr: str) -> list[str]:
    """Paths of files the checker reported an internal error for (its stderr lines)."""
    out = []
    for line in stderr.splitlines():
        m = re.match(r"^(?:error: )?(.+?): internal error in torch-lsp", line.strip())
        if m:
            out.append(m.group(1))
    return out


def debug_tracebacks(cmd: str, paths: list[str], timeout: float, limit: int = 20) -> list[tuple[str, list[str], str]]:
    """Rerun up to `limit` failing files one by one with --debug; group them by the
    traceback's last line.  Returns [(last line, files, one full traceback)]."""
    groups: dict[str, tuple[list[str], str]] = {}
    for p in paths[:limit]:
        argv = shlex.split(cmd) + ["check", "--debug", "--format", "json", "--exit-zero", "-j", "1", p]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
            text = proc.stderr.rstrip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            text = f"rerun failed: {exc}"
        tb_lines = [ln for ln in text.splitlines() if ln.strip()]
        last = next((ln.strip() for ln in reversed(tb_lines) if not ln.startswith(("error:", "warning:"))), text[-200:])
        groups.setdefault(last, ([], text))[0].append(p)
    return [(last, files, tb) for last, (files, tb) in groups.items()]


def export(listed: list[dict]) -> list[dict]:
    return [
        {
            "library": d["_part"], "path": d["_display"], "line": d.get("line"), "col": d.get("column"),
            "end_line": d.get("end_line"), "end_col": d.get("end_column"),
            "code": d["code"], "severity": d["severity"], "message": d["message"],
            "source_line": d["_source"], "verdict": d.get("_verdict"), "reason": d.get("_reason"),
        }
        for d in listed
    ]


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def parse_only(only: str | None, ap: argparse.ArgumentParser) -> list[str] | None:
    if not only:
        return None
    names = [p.strip() for p in only.split(",") if p.strip()]
    bad = [p for p in names if p not in LIBRARY_NAMES]
    if bad:
        ap.error(f"--only: unknown librar{'y' if len(bad) == 1 else 'ies'} {', '.join(bad)}; choose from {', '.join(LIBRARY_NAMES)}")
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, metavar="LIBS", help=f"comma-separated subset: {','.join(LIBRARY_NAMES)} (default: all)")
    ap.add_argument("--cmd", default="torch-lsp", help='the checker command (default: %(default)s; e.g. "python -m torch_lsp")')
    ap.add_argument("--rev", default=None, metavar="REV",
                    help="check with torch_lsp as committed at REV instead of --cmd (git archive into "
                         "benchmarks/.cache/lsp/rev-<sha>/, byte-compiled, run as `python -m torch_lsp`)")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="download/unpack cache (default: %(default)s)")
    ap.add_argument("--triage", type=Path, default=DEFAULT_TRIAGE, help="the verdicts (default: %(default)s)")
    ap.add_argument("--show-info", action="store_true", help="also list information and hint diagnostics")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT",
                    help="write the listed diagnostics (library, path, line, col, code, severity, message, source_line, verdict) to OUT")
    ap.add_argument("--write-untriaged", type=Path, default=None, metavar="OUT",
                    help="write a [[entry]] stub (empty verdict and reason) for each untriaged loud diagnostic to OUT")
    ap.add_argument("--no-baseline", action="store_true", help="skip the single-process ast.parse timing of the same files")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="time the checker and the ast.parse loop N times each and report medians (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before the checker is stopped (default: %(default)s)")
    ap.add_argument("--download-only", action="store_true", help="prepare the corpus, print its size and stop")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    names = parse_only(args.only, ap)
    try:
        entries = load_triage(args.triage)
    except TriageError as exc:
        print(f"triage file invalid: {exc}", file=sys.stderr)
        return EXIT_TRIAGE_INVALID
    try:
        parts = prepare_corpus(args.cache_dir, names)
    except realworld.SetupError as exc:
        print(f"corpus setup failed: {exc}", file=sys.stderr)
        return realworld.EXIT_SETUP_FAILED
    sizes = {p.name: measure(p) for p in parts}
    describe(parts, sizes)
    if args.download_only:
        return realworld.EXIT_OK

    dirs = realworld.corpus_dirs(parts)
    files = realworld.python_files(dirs)
    head = lsp_speed.git("rev-parse", "--short", "HEAD")
    print()
    if args.rev:
        try:
            sha, snapshot = lsp_speed.snapshot_rev(args.rev, BENCH_DIR / ".cache" / "lsp")
        except lsp_speed.ToolFailure as exc:
            print(f"--rev {args.rev}: {exc}", file=sys.stderr)
            return realworld.EXIT_TOOL_FAILED
        compileall.compile_dir(str(snapshot / "torch_lsp"), quiet=1)  # as pip install does; the snapshot is ours
        # -P: `python -m` would otherwise put the current directory first on sys.path, and
        # from the repository root that is the working tree's torch_lsp, not the snapshot
        python = f"env PYTHONPATH={shlex.quote(str(snapshot))} {shlex.quote(sys.executable)} -P"
        args.cmd = f"{python} -m torch_lsp"
        where = subprocess.run(shlex.split(python) + ["-c", "import torch_lsp; print(torch_lsp.__file__)"],
                               capture_output=True, text=True).stdout.strip()
        if not where.startswith(str(snapshot)):
            print(f"--rev {args.rev}: the snapshot is not what gets imported ({where or 'import failed'})", file=sys.stderr)
            return realworld.EXIT_TOOL_FAILED
        print(f"torch_lsp source: commit {sha} (snapshot in {snapshot}; imports {where})")
    else:
        dirty = lsp_speed.git("status", "--porcelain", "--", "torch_lsp").splitlines()
        print(f"torch_lsp source: what `{args.cmd}` imports; the repository is at {head}"
              + (f" with {len(dirty)} uncommitted change(s) under torch_lsp/ (use --rev HEAD for the commit)" if dirty else ""))
    argv_tool = realworld.build_command(args.cmd, None, True, None, dirs)
    if speed.cli_supports_cache(args.cmd):  # every run checks every file (the timing below repeats it)
        argv_tool.insert(argv_tool.index("check") + 1, "--no-cache")
    print(realworld.tool_identity(args.cmd))
    shown = argv_tool if len(argv_tool) < 12 else argv_tool[:11] + [f"... ({len(argv_tool) - 11} more paths)"]
    print("running: " + " ".join(shlex.quote(a) for a in shown))
    speed.warm_page_cache(files)
    stderr = ""
    times: list[float] = []
    try:
        code, stdout, stderr, elapsed = realworld.run_checker(argv_tool, timeout=args.timeout)
        failed = internal_errors(stderr)
        if not (code == 2 and failed):  # exit 2 for internal errors in some files: report them below
            realworld.check_exit(code, stderr)
        diags = realworld.parse_output(stdout)
        times.append(elapsed)
    except realworld.ToolError as exc:
        msg = str(exc)
        if "stderr tail" not in msg and stderr.strip():
            msg += "\nstderr tail:\n" + "\n".join(stderr.rstrip().splitlines()[-40:])
        print(f"\nTOOL FAILURE: {msg}", file=sys.stderr)
        return realworld.EXIT_TOOL_FAILED
    print(f"finished: exit {code} in {elapsed:.2f} s (wall clock, start-up included)")
    if stderr.strip():
        lines = stderr.rstrip().splitlines()
        print(f"stderr ({len(lines)} lines{', last 20 shown' if len(lines) > 20 else ''}):")
        for line in lines[-20:]:
            print(f"  {line}")

    realworld.annotate(diags, parts, Path.cwd())
    loud = sorted((d for d in diags if d["severity"] in LOUD), key=lambda d: (d["_part"],) + realworld.sort_key(d))
    listed = sorted((d for d in diags if args.show_info or d["severity"] in LOUD),
                    key=lambda d: (d["_part"],) + realworld.sort_key(d))
    match_triage(loud, entries)
    if args.json:  # written before printing, so `| head` cannot lose it
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(export(listed), indent=2, ensure_ascii=False) + "\n")
    untriaged = [d for d in loud if d["_verdict"] is None]
    if args.write_untriaged:
        args.write_untriaged.parent.mkdir(parents=True, exist_ok=True)
        seen: set = set()
        stubs = []
        for d in untriaged:
            if diag_key(d) not in seen:
                seen.add(diag_key(d))
                stubs.append(toml_entry(d))
        args.write_untriaged.write_text("\n".join(stubs), encoding="utf-8")

    report_counts(parts, sizes, diags, loud)
    print()
    label = "Errors and warnings" + (" (and information/hints)" if args.show_info else "")
    if not listed:
        print(f"{label}: none.")
    else:
        print(f"{label} ({len(listed)}):")
        for d in listed:
            print_diag(d)
    tl000 = [d for d in diags if d["code"] == "TL000"]
    report_triage(parts, sizes, loud, entries, {p.name for p in parts}, args.triage)

    # Timing: the run above, then (with --repeat N) N-1 more checker runs, alternating
    # with N runs of the single-process ast.parse loop over the same files.
    base: list[tuple[float, float, dict]] = []
    with tempfile.TemporaryDirectory(prefix="torch-lsp-wild-") as tmp:
        file_list = Path(tmp) / "files.txt"
        file_list.write_text("\n".join(str(f) for f in files) + "\n", encoding="utf-8")
        try:
            for i in range(args.repeat):
                if not args.no_baseline:
                    base.append(speed.run_baseline(file_list, sys.executable))
                if i > 0:
                    _, again, _, t = realworld.run_checker(argv_tool, timeout=args.timeout)
                    times.append(t)
                    if len(realworld.parse_output(again)) != len(diags):
                        print("note: the number of diagnostics changed between runs")
        except (RuntimeError, OSError, ValueError) as exc:  # ToolError is a RuntimeError
            print(f"\ntiming run failed: {exc}")
    t_tool = statistics.median(times)
    what = "one run" if len(times) == 1 else f"medians of {len(times)} runs"
    print()
    print(f"Speed ({len(files)} files, {sum(s.bytes for s in sizes.values()) / 1e6:.1f} MB, {os.cpu_count()} CPUs; {what}):")
    print(f"  torch-lsp check (wall clock, start-up included): {t_tool:7.2f} s" +
          (f"   (runs: {', '.join(f'{t:.2f}' for t in times)})" if len(times) > 1 else ""))
    if base:
        t_in = statistics.median(b[0] for b in base)
        t_wall = statistics.median(b[1] for b in base)
        bad = base[0][2]["syntax_errors"]
        print(f"  ast.parse loop, one process (start excluded):    {t_in:7.2f} s   (with start {t_wall:.2f} s)" +
              (f"   (runs: {', '.join(f'{b[0]:.2f}' for b in base)})" if len(base) > 1 else ""))
        print(f"  ratio: {t_tool / t_in:.2f}x" + (f"  ({bad} files failed ast.parse)" if bad else ""))

    status = realworld.EXIT_OK
    if tl000:
        print(f"\nTL000 on {len(tl000)} file(s): the checker could not read or parse them (see above).")
    if failed:
        print()
        print("!" * 78)
        print(f"INTERNAL ERRORS in {len(failed)} file(s):")
        for p in failed:
            print(f"  {p}")
        groups = debug_tracebacks(args.cmd, failed, args.timeout)
        print(f"Tracebacks (the first {min(len(failed), 20)} rerun one by one with --debug -j 1), one per distinct error:")
        for last, paths, tb in groups:
            print()
            print(f"--- {last}  ({len(paths)} of the rerun files, e.g. {paths[0]})")
            print(tb)
        print("!" * 78)
        status = realworld.EXIT_TOOL_FAILED
    if args.json:
        print(f"\nwrote {len(listed)} diagnostics to {args.json}")
    if args.write_untriaged:
        print(f"wrote {len({diag_key(d) for d in untriaged})} stub entries to {args.write_untriaged}")
    return status


if __name__ == "__main__":
    realworld.run_main(main)
