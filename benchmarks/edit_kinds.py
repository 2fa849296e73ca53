#!/usr/bin/env python3
"""What each kind of edit costs the server's analysis, against a full `ast.parse`
of the same file measured in the same run (in-process: no LSP transport).

`lsp_speed.py` measures the server end to end, but lsp_bench only types characters
on one line. An editor also sends Enter (a line added: every statement below moves),
Backspace at the start of a line (a line removed), and pastes. For each kind this
runs the server's own per-version pipeline (`IncrementalParser` + `engine.analyse`
with the document's `UnitCache`, what `torch_lsp.server` runs for a new version) on
successive versions of a file, inside the `forward` nearest to the middle of the
file, and reports the median milliseconds of the parse and of the analysis, with
the ratio of their sum to one full `ast.parse`.

Files: the ~300, ~3,000 and ~10,000-line files that `lsp_speed.py` picks or builds
(prepare them once with `python benchmarks/lsp_speed.py --download-only`, or give
paths). Exits 0 whatever the figures (a measurement for humans, not a test).

Usage (from the repository root):
    python benchmarks/edit_kinds.py                       # the lsp_speed files
    python benchmarks/edit_kinds.py FILE.py [FILE.py ...] --rounds 20
"""
from __future__ import annotations

import argparse
import ast
import gc
import statistics
import sys
import time
from pathlib import Path

from torch_lsp import engine
from torch_lsp.analysis.incremental import IncrementalParser
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile
from torch_lsp.analysis.units import UnitCache

HERE = Path(__file__).resolve().parent


def default_files() -> tuple[list[Path], str]:
    """The files lsp_speed.py measures (chosen or built the same way), and their root."""
    sys.path.insert(0, str(HERE))
    import lsp_speed  # noqa: E402  (benchmarks/ is not a package)
    import realworld  # noqa: E402

    parts = realworld.prepare_corpus(realworld.DEFAULT_CACHE, None, ["transformers"])
    src_base = parts[0].base.resolve()
    targets = [int(t) for t in lsp_speed.DEFAULT_TARGETS.split(",")]
    chosen = lsp_speed.choose_files(src_base, targets, realworld.DEFAULT_CACHE.resolve() / "lsp")
    return [Path(c["path"]) for c in chosen], str(src_base)


class Document:
    """One open document, analysed version after version as the server does."""

    def __init__(self, path: Path, root: str) -> None:
        self.path = str(path)
        self.project = Project([root])
        self.parser = IncrementalParser(self.path)
        self.units = UnitCache()
        self.ctx = None

    def version(self, text: str) -> tuple[float, float, bool]:
        t0 = time.perf_counter()
        src = self.parser.parse(text)
        t1 = time.perf_counter()
        if src.tree is not None:
            analysed = src if src.problem is None else SourceFile(text=text, path=self.path, tree=src.tree, _lines=src.lines)
            ctx, _ = engine.analyse(analysed, self.project, None, record_shapes=True, unit_cache=self.units)
            if self.ctx is not None:
                self.ctx.release()
            self.ctx = ctx
        t2 = time.perf_counter()
        gc.collect()
        gc.freeze()  # what the server's _settle_memory does between versions
        return (t1 - t0) * 1000, (t2 - t1) * 1000, self.parser.last_was_incremental


def edit_site(lines: list[str]) -> tuple[int, str]:
    """(0-based line of the first statement of the `forward` nearest the middle, its indentation)."""
    tree = ast.parse("".join(lines))
    forwards = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "forward" and n.body]
    if not forwards:
        raise SystemExit("no forward() in the file")
    middle = len(lines) // 2
    fn = min(forwards, key=lambda n: abs(n.lineno - middle))
    first = fn.body[0].lineno - 1
    line = lines[first]
    return first, line[: len(line) - len(line.lstrip())]


def measure(path: Path, rounds: int, root: str) -> dict[str, list[tuple[float, float, bool]]]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    at, indent = edit_site(lines)
    doc = Document(path, root)
    doc.version(text)
    lines.insert(at, indent + "\n")  # the line the typing happens on
    doc.version("".join(lines))
    out: dict[str, list[tuple[float, float, bool]]] = {"type": [], "enter": [], "backspace": [], "paste": []}
    block = [indent + f"tmp_{k} = x\n" for k in range(5)]
    for r in range(rounds):
        lines[at] = indent + "y" * (r % 5 + 1) + "\n"  # typing one more character of a name
        out["type"].append(doc.version("".join(lines)))
        lines.insert(at + 1, indent + "\n")  # Enter at the end of the line
        out["enter"].append(doc.version("".join(lines)))
        del lines[at + 1]  # Backspace: the empty line joined back
        out["backspace"].append(doc.version("".join(lines)))
        pasted = lines[: at + 1] + block + lines[at + 1:]  # a 5-line paste, then undone
        out["paste"].append(doc.version("".join(pasted)))
        doc.version("".join(lines))
    return out


def full_parse_ms(path: Path, repeat: int = 7) -> float:
    text = path.read_text(encoding="utf-8")
    ast.parse(text)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        ast.parse(text)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--rounds", type=int, default=15, help="edits of each kind per file (default: %(default)s)")
    ap.add_argument("--root", default=None, help="workspace root (default: the transformers corpus root for the default files, else the file's folder)")
    args = ap.parse_args(argv)
    files, corpus_root = (args.files, None) if args.files else default_files()
    gc.freeze()
    gc.set_threshold(1_000_000, 50, 1000)  # what the server sets
    print(f"{'file':<28} {'lines':>6} {'ast.parse':>9}  {'edit':<9} {'parse':>7} {'analysis':>9} {'sum/parse':>9}  incremental")
    for path in files:
        root = args.root or corpus_root or str(path.parent)
        before = full_parse_ms(path)
        results = measure(path, args.rounds, root)
        parse_ms = statistics.median([before, full_parse_ms(path)])
        n = path.read_text(encoding="utf-8").count("\n")
        for kind, samples in results.items():
            p = statistics.median(s[0] for s in samples)
            a = statistics.median(s[1] for s in samples)
            inc = sum(s[2] for s in samples)
            print(f"{path.name[:28]:<28} {n:>6} {parse_ms:>8.1f}ms  {kind:<9} {p:>6.1f}ms {a:>8.1f}ms {(p + a) / parse_ms:>8.2f}x  {inc}/{len(samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
