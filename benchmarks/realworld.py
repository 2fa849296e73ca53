#!/usr/bin/env python3
"""Real-world code must stay quiet: run torch-lsp over well-tested model code.

The corpus is the model code of torchvision, timm and transformers (wheels
downloaded with pip into benchmarks/.cache/) plus torch's own
``torch/nn/modules``.  This code is used by millions and is, for our purposes,
correct: every TL1xx warning or error that torch-lsp reports on it is either a
genuine bug (rare, worth a look) or a false positive (a bug in torch-lsp).

This is a script for humans, not a CI test.  It prints a summary and lists
every warning/error with its source line so each can be judged by eye.

Exit status: 0 after a completed run, whatever was found; 2 when the tool
crashed (exit status other than 0/1), printed something other than the JSON
array of the contract, or could not be started; 3 when the corpus could not be
prepared (download or unpack failed).

Usage (from the repository root):
    python benchmarks/realworld.py                      # whole corpus
    python benchmarks/realworld.py --download-only      # just fetch + unpack
    python benchmarks/realworld.py --limit-transformers 40 --json out.json
    python benchmarks/realworld.py --cmd "python -m torch_lsp" --select TL1
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

# --------------------------------------------------------------------------
# Pinned corpus.  Bump deliberately; results are only comparable at one pin.
# torchvision 0.28.x is the release paired with torch 2.13.
# --------------------------------------------------------------------------
PACKAGES: dict[str, str] = {
    "torchvision": "0.28.0",
    "timm": "1.0.31",
    "transformers": "5.23.0",
}
TORCH_VERSION = "2.13.0"

# Sub-folders of each unpacked wheel that make up the corpus.
CORPUS_SUBDIRS: dict[str, list[str]] = {
    "torchvision": ["torchvision/models"],
    "timm": ["timm/models", "timm/layers"],
    "transformers": ["transformers/models"],
}
TORCH_SUBDIR = "torch/nn/modules"

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = BENCH_DIR / ".cache"
PART_NAMES = ["torchvision", "timm", "transformers", "torch"]
DEFAULT_SELECT = "TL0,TL1"
REQUIRED_KEYS = ("path", "line", "code", "severity", "message")
SEVERITY_ORDER = {"error": 0, "warning": 1, "information": 2, "hint": 3}

EXIT_OK = 0
EXIT_TOOL_FAILED = 2
EXIT_SETUP_FAILED = 3


class SetupError(RuntimeError):
    """The corpus could not be prepared."""


@dataclasses.dataclass
class CorpusPart:
    name: str  # torchvision, timm, transformers, torch
    version: str
    base: Path  # folder that holds the top-level package (for display paths)
    dirs: list[Path]  # the folders handed to the checker
    origin: str  # where the source came from (wheel file or installed path)

    def files(self) -> list[Path]:
        return python_files(self.dirs)


# --------------------------------------------------------------------------
# Download and unpack
# --------------------------------------------------------------------------
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _wheel_pattern(name: str, version: str) -> re.Pattern[str]:
    # Wheel file names use the normalised project name; allow a local version
    # such as torch-2.13.0+cpu-....
    norm = re.sub(r"[-_.]+", "_", name)
    return re.compile(rf"^{re.escape(norm)}-{re.escape(version)}(\+[A-Za-z0-9.]+)?-.*\.whl$", re.I)


def find_wheel(name: str, version: str, wheels_dir: Path) -> Path | None:
    if not wheels_dir.is_dir():
        return None
    pat = _wheel_pattern(name, version)
    hits = sorted(p for p in wheels_dir.iterdir() if pat.match(p.name))
    return hits[0] if hits else None


def download_wheel(name: str, version: str, wheels_dir: Path) -> Path:
    """Return the wheel for name==version, running `pip download` if needed."""
    found = find_wheel(name, version, wheels_dir)
    if found:
        return found
    wheels_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-q", "-d", str(wheels_dir), f"{name}=={version}",
    ]
    log(f"downloading {name}=={version} ...")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SetupError(
            f"pip download of {name}=={version} failed (exit {proc.returncode}):\n"
            + (proc.stderr or proc.stdout).strip()[-3000:]
        )
    found = find_wheel(name, version, wheels_dir)
    if not found:
        raise SetupError(f"pip download of {name}=={version} succeeded but no matching wheel is in {wheels_dir}")
    return found


def unpack_wheel(wheel: Path, dest: Path, prefixes: list[str] | None = None) -> Path:
    """Unzip `wheel` into `dest` (only members under `prefixes`, if given).

    Skips the work when `dest` already holds this wheel's contents (a marker
    file records which wheel was unpacked; a different pin re-unpacks).
    """
    marker = dest / ".unpacked-from"
    if marker.is_file() and marker.read_text().strip() == wheel.name:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    log(f"unpacking {wheel.name} -> {dest}")
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = zf.namelist()
            if prefixes:
                members = [m for m in members if any(m.startswith(p.rstrip("/") + "/") for p in prefixes)]
            zf.extractall(tmp, members)
    except (zipfile.BadZipFile, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SetupError(f"cannot unpack {wheel}: {exc}") from exc
    (tmp / ".unpacked-from").write_text(wheel.name + "\n")
    tmp.rename(dest)
    return dest


def ensure_unpacked(name: str, version: str, wheels_dir: Path, dest: Path,
                    prefixes: list[str] | None = None, keep_wheel: bool = True) -> tuple[Path, str]:
    """Make sure `dest` holds name==version unpacked; return (dest, wheel file name).

    Does not touch pip when `dest` already holds the pinned version.  With
    keep_wheel=False the wheel is deleted after unpacking (used for torch,
    whose wheel is ~190 MB of which we keep ~1 MB).
    """
    marker = dest / ".unpacked-from"
    if marker.is_file():
        recorded = marker.read_text().strip()
        if _wheel_pattern(name, version).match(recorded):
            return dest, recorded
    wheel = download_wheel(name, version, wheels_dir)
    unpack_wheel(wheel, dest, prefixes)
    if not keep_wheel:
        wheel.unlink(missing_ok=True)
    return dest, wheel.name


def installed_torch() -> tuple[Path, str] | None:
    """(site-packages dir holding torch, version) without importing torch."""
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    pkg = Path(list(spec.submodule_search_locations)[0])
    if not (pkg / "nn" / "modules").is_dir():
        return None
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return pkg.parent, version


def select_transformers_models(models_dir: Path, limit: int | None) -> list[Path]:
    """All of transformers/models, or `limit` model folders spread evenly over
    the sorted list (deterministic, and not biased to the start of the alphabet)."""
    if limit is None:
        return [models_dir]
    subdirs = sorted(p for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    if limit >= len(subdirs):
        return [models_dir]
    if limit <= 0:
        return []
    step = len(subdirs) / limit
    return [subdirs[int(i * step)] for i in range(limit)]


def prepare_corpus(
    cache_dir: Path = DEFAULT_CACHE,
    limit_transformers: int | None = None,
    parts: list[str] | None = None,
    torch_from_wheel: bool = False,
) -> list[CorpusPart]:
    """Download/unpack what is missing and return the corpus parts."""
    parts = parts or PART_NAMES
    cache_dir = Path(cache_dir).resolve()
    wheels_dir = cache_dir / "wheels"
    src_dir = cache_dir / "src"
    out: list[CorpusPart] = []
    for name in PART_NAMES:
        if name not in parts:
            continue
        if name == "torch":
            inst = None if torch_from_wheel else installed_torch()
            if inst:
                base, version = inst
                out.append(CorpusPart("torch", version, base, [base / TORCH_SUBDIR], f"installed: {base / 'torch'}"))
            else:
                base, wheel_name = ensure_unpacked("torch", TORCH_VERSION, wheels_dir, src_dir / "torch",
                                                   prefixes=[TORCH_SUBDIR], keep_wheel=False)
                out.append(CorpusPart("torch", TORCH_VERSION, base, [base / TORCH_SUBDIR], f"wheel: {wheel_name}"))
            continue
        version = PACKAGES[name]
        base, wheel_name = ensure_unpacked(name, version, wheels_dir, src_dir / name)
        dirs = [base / sub for sub in CORPUS_SUBDIRS[name]]
        missing = [d for d in dirs if not d.is_dir()]
        if missing:
            raise SetupError(f"{wheel_name} has no {', '.join(str(m.relative_to(base)) for m in missing)}")
        if name == "transformers":
            dirs = select_transformers_models(dirs[0], limit_transformers)
        out.append(CorpusPart(name, version, base, dirs, f"wheel: {wheel_name}"))
    for part in out:
        for d in part.dirs:
            if not d.is_dir():
                raise SetupError(f"corpus folder missing: {d}")
    return out


def python_files(dirs: list[Path]) -> list[Path]:
    files: set[Path] = set()
    for d in dirs:
        if d.is_file():
            files.add(d)
            continue
        for root, subdirs, names in os.walk(d):
            subdirs[:] = sorted(s for s in subdirs if s != "__pycache__" and not s.startswith("."))
            files.update(Path(root) / n for n in names if n.endswith(".py"))
    return sorted(files)


def corpus_dirs(parts: list[CorpusPart]) -> list[Path]:
    return [d for p in parts for d in p.dirs]


def describe_corpus(parts: list[CorpusPart], out=None) -> tuple[int, int]:
    """Print a table of the corpus; return (files, bytes)."""
    out = out or sys.stdout
    total_files = total_bytes = 0
    print("Corpus:", file=out)
    for part in parts:
        files = part.files()
        size = sum(f.stat().st_size for f in files)
        total_files += len(files)
        total_bytes += size
        if len(part.dirs) <= 3:
            where = ", ".join(_rel(d, part.base) for d in part.dirs)
        else:
            where = f"{len(part.dirs)} folders under {_rel(part.dirs[0].parent, part.base)}"
        print(f"  {part.name:<13} {part.version:<10} {len(files):>6} files {size / 1e6:>8.2f} MB  {where}", file=out)
        print(f"  {'':<13} from {part.origin}", file=out)
    print(f"  {'total':<24} {total_files:>6} files {total_bytes / 1e6:>8.2f} MB", file=out)
    return total_files, total_bytes


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------
# Running the checker
# --------------------------------------------------------------------------
class ToolError(RuntimeError):
    """The checker crashed, could not be started, or broke the output contract."""


def build_command(cmd: str, select: str | None, exit_zero: bool, jobs: int | None, dirs: list[Path]) -> list[str]:
    argv = shlex.split(cmd) + ["check", "--format", "json"]
    if exit_zero:
        argv.append("--exit-zero")
    if select:
        argv += ["--select", select]
    if jobs is not None:
        argv += ["-j", str(jobs)]
    return argv + [str(d) for d in dirs]


def parse_output(stdout: str) -> list[dict]:
    """Parse and validate the CLI's JSON array; raise ToolError if it is not one."""
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError as exc:
        head = stdout[:500] + ("..." if len(stdout) > 500 else "")
        raise ToolError(f"output is not JSON ({exc}); stdout began:\n{head}") from exc
    if not isinstance(data, list):
        raise ToolError(f"output is JSON but not an array (got {type(data).__name__})")
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ToolError(f"item {i} is not an object: {item!r:.200}")
        missing = [k for k in REQUIRED_KEYS if k not in item]
        if missing:
            raise ToolError(f"item {i} lacks {', '.join(missing)}: {json.dumps(item)[:300]}")
    return data


def run_checker(argv: list[str], timeout: float | None = None, stdout_path: Path | None = None) -> tuple[int, str, str, float]:
    """Run the CLI; return (exit code, stdout, stderr, wall seconds).

    Raises ToolError if it cannot be started or times out.
    """
    t0 = time.perf_counter()
    try:
        if stdout_path is not None:
            with open(stdout_path, "w+b") as fh:
                proc = subprocess.run(argv, stdout=fh, stderr=subprocess.PIPE, timeout=timeout)
                elapsed = time.perf_counter() - t0
                fh.seek(0)
                stdout = fh.read().decode("utf-8", errors="replace")
        else:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
            elapsed = time.perf_counter() - t0
            stdout = proc.stdout.decode("utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise ToolError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from exc
    except PermissionError as exc:
        raise ToolError(f"cannot start {argv[0]!r}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"timed out after {timeout:.0f} s") from exc
    stderr = proc.stderr.decode("utf-8", errors="replace")
    return proc.returncode, stdout, stderr, elapsed


def check_exit(code: int, stderr: str) -> None:
    if code not in (0, 1):
        tail = "\n".join(stderr.rstrip().splitlines()[-40:])
        raise ToolError(f"exited with status {code} (expected 0 or 1)" + (f"; stderr tail:\n{tail}" if tail else ""))


def tool_identity(cmd: str) -> str:
    """Which executable `cmd` resolves to and what `--version` says."""
    argv = shlex.split(cmd)
    if not argv:
        return "(empty command)"
    exe = shutil.which(argv[0])
    lines = [f"command: {cmd}", f"executable: {os.path.realpath(exe) if exe else '(not on PATH)'}"]
    if exe:
        try:
            with open(exe, "rb") as fh:
                first = fh.readline(300)
            if first.startswith(b"#!"):
                lines.append(f"interpreter: {first[2:].decode(errors='replace').strip()}")
        except OSError:
            pass
    try:
        proc = subprocess.run(argv + ["--version"], capture_output=True, text=True, timeout=60)
        ver = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
        if proc.returncode != 0:
            ver_text = f"(--version exited {proc.returncode}: {(ver[-1] if ver else '')[:200]})"
        else:
            ver_text = ver[0] if ver else "(no output)"
    except (OSError, subprocess.TimeoutExpired) as exc:
        ver_text = f"(--version failed: {exc})"
    lines.append(f"version: {ver_text}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
class SourceCache:
    def __init__(self) -> None:
        self._lines: dict[Path, list[str]] = {}

    def line(self, path: Path, lineno: int) -> str:
        if path not in self._lines:
            try:
                self._lines[path] = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                self._lines[path] = []
        lines = self._lines[path]
        if isinstance(lineno, int) and 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return ""


def display_path(raw: str, parts: list[CorpusPart], cwd: Path) -> tuple[Path, str]:
    p = Path(raw)
    if not p.is_absolute():
        p = cwd / p
    p = Path(os.path.normpath(p))
    for part in parts:
        try:
            return p, str(p.relative_to(part.base))
        except ValueError:
            continue
    return p, raw


def part_of(path: Path, parts: list[CorpusPart]) -> str:
    for part in parts:
        try:
            path.relative_to(part.base)
            return part.name
        except ValueError:
            continue
    return "?"


def sort_key(d: dict):
    return (d.get("_display", d["path"]), d.get("line") or 0, d.get("column") or 0, d["code"])


def annotate(diags: list[dict], parts: list[CorpusPart], cwd: Path) -> None:
    """Add display path, corpus part and source line to each diagnostic (in place)."""
    src = SourceCache()
    for d in diags:
        abs_path, shown = display_path(str(d["path"]), parts, cwd)
        d["_abs"] = abs_path
        d["_display"] = shown
        d["_part"] = part_of(abs_path, parts)
        d["_source"] = src.line(abs_path, d.get("line"))


def listed_items(diags: list[dict], show_info: bool) -> list[dict]:
    wanted = {"error", "warning"} | ({"information", "hint"} if show_info else set())
    return sorted((d for d in diags if d["severity"] in wanted), key=sort_key)


def report(diags: list[dict], listed: list[dict], files_checked: int, show_info: bool) -> None:
    """Print the summary and the listing of annotated diagnostics."""

    print()
    print(f"Files checked: {files_checked}")
    print(f"Diagnostics:   {len(diags)} in {len({d['_abs'] for d in diags})} files")
    by_sev = collections.Counter(d["severity"] for d in diags)
    if by_sev:
        print("By severity:   " + ", ".join(f"{s} {n}" for s, n in sorted(by_sev.items(), key=lambda kv: SEVERITY_ORDER.get(kv[0], 9))))
    if diags:
        print()
        print("By code and severity:")
        by_code = collections.Counter((d["code"], d["severity"]) for d in diags)
        by_code_part: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)
        for d in diags:
            by_code_part[(d["code"], d["severity"])][d["_part"]] += 1
        for (code, sev), n in sorted(by_code.items(), key=lambda kv: (kv[0][0], SEVERITY_ORDER.get(kv[0][1], 9))):
            spread = ", ".join(f"{p} {c}" for p, c in by_code_part[(code, sev)].most_common())
            print(f"  {code:<7} {sev:<12} {n:>6}   ({spread})")

    print()
    label = "Errors and warnings" + (" (and information/hints)" if show_info else "")
    if not listed:
        print(f"{label}: none. Quiet, as it should be.")
    else:
        print(f"{label} ({len(listed)}) -- judge each: genuine bug or false positive?")
        for d in listed:
            line = d.get("line")
            col = d.get("column")
            loc = f"{d['_display']}:{line}" + (f":{col}" if col else "")
            text = d["_source"]
            print()
            print(f"{loc}: {d['code']} [{d['severity']}] {d['message']}")
            print(f"    {line:>5} | {text.rstrip()}")
            if col and text and isinstance(col, int):
                end_col = d.get("end_column") if d.get("end_line") == line else None
                width = max(1, (end_col - col) if isinstance(end_col, int) and end_col > col else 1)
                width = min(width, max(1, len(text) - col + 1))
                print(f"    {'':>5} | {' ' * (col - 1)}{'^' * width}")


def export(listed: list[dict]) -> list[dict]:
    out = []
    for d in listed:
        item = {k: v for k, v in d.items() if not k.startswith("_")}
        item["display_path"] = d["_display"]
        item["corpus_part"] = d["_part"]
        item["source_line"] = d.get("_source", "")
        out.append(item)
    return out


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def add_corpus_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="download/unpack cache (default: %(default)s)")
    ap.add_argument("--limit-transformers", type=int, default=None, metavar="N",
                    help="use only N transformers model folders, spread evenly over the sorted list (default: all)")
    ap.add_argument("--only", default=None, metavar="PARTS",
                    help=f"comma-separated subset of the corpus: {','.join(PART_NAMES)} (default: all)")
    ap.add_argument("--torch-from-wheel", action="store_true",
                    help=f"take torch/nn/modules from a downloaded torch=={TORCH_VERSION} wheel even if torch is installed")


def parse_parts(only: str | None) -> list[str] | None:
    if not only:
        return None
    parts = [p.strip() for p in only.split(",") if p.strip()]
    bad = [p for p in parts if p not in PART_NAMES]
    if bad:
        raise SystemExit(f"--only: unknown part(s) {', '.join(bad)}; choose from {', '.join(PART_NAMES)}")
    return parts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_args(ap)
    ap.add_argument("--cmd", default="torch-lsp", help='the checker command (default: %(default)s; e.g. "python -m torch_lsp")')
    ap.add_argument("--select", default=DEFAULT_SELECT,
                    help="passed as --select to the checker (default: %(default)s); an empty string passes none")
    ap.add_argument("--no-exit-zero", action="store_true", help="do not pass --exit-zero to the checker")
    ap.add_argument("--show-info", action="store_true", help="also list information and hint diagnostics")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the listed diagnostics (with source lines) to OUT")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before the checker is stopped (default: %(default)s)")
    ap.add_argument("--download-only", action="store_true", help="prepare the corpus, print its size and stop")
    args = ap.parse_args(argv)

    try:
        parts = prepare_corpus(args.cache_dir, args.limit_transformers, parse_parts(args.only), args.torch_from_wheel)
    except SetupError as exc:
        print(f"corpus setup failed: {exc}", file=sys.stderr)
        return EXIT_SETUP_FAILED

    files_checked, _ = describe_corpus(parts)
    if args.download_only:
        return EXIT_OK

    cwd = Path.cwd()
    argv_tool = build_command(args.cmd, args.select or None, not args.no_exit_zero, None, corpus_dirs(parts))
    print()
    print(tool_identity(args.cmd))
    shown = argv_tool if len(argv_tool) < 12 else argv_tool[: 11] + [f"... ({len(argv_tool) - 11} more paths)"]
    print("running: " + " ".join(shlex.quote(a) for a in shown))
    stderr = ""
    try:
        code, stdout, stderr, elapsed = run_checker(argv_tool, timeout=args.timeout)
        check_exit(code, stderr)
        diags = parse_output(stdout)
    except ToolError as exc:
        msg = str(exc)
        if "stderr tail" not in msg and stderr.strip():
            msg += "\nstderr tail:\n" + "\n".join(stderr.rstrip().splitlines()[-40:])
        print(f"\nTOOL FAILURE: {msg}", file=sys.stderr)
        return EXIT_TOOL_FAILED
    print(f"finished: exit {code} in {elapsed:.2f} s")
    if stderr.strip():
        lines = stderr.rstrip().splitlines()
        print(f"stderr ({len(lines)} lines{', last 20 shown' if len(lines) > 20 else ''}):")
        for line in lines[-20:]:
            print(f"  {line}")

    annotate(diags, parts, cwd)
    listed = listed_items(diags, args.show_info)
    if args.json:  # written before printing, so `| head` cannot lose it
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(export(listed), indent=2) + "\n")
    report(diags, listed, files_checked, args.show_info)
    if args.json:
        print(f"\nwrote {len(listed)} diagnostics to {args.json}")
    return EXIT_OK


class _PipeSafeStdout:
    """stdout that goes quiet instead of raising when the reader (`| head`) is gone,
    so the run still finishes (and writes --json) and exits with its own status."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._closed = False

    def write(self, text: str) -> int:
        if not self._closed:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self._closed:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._silence()

    def _silence(self) -> None:
        self._closed = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
        except OSError:
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def run_main(fn) -> None:
    """Call fn() and exit with its status; a closed pipe (`| head`) is not an error."""
    sys.stdout = _PipeSafeStdout(sys.stdout)
    try:
        status = fn()
        sys.stdout.flush()
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)


if __name__ == "__main__":
    run_main(main)
