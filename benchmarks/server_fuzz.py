#!/usr/bin/env python3
"""Long run of the protocol fuzzer (tests/server_fuzz.py, issue 13).

    python benchmarks/server_fuzz.py                       # 20 sessions per profile x 500 edits, 500 CLI files
    python benchmarks/server_fuzz.py --sessions 5 --edits 300 --seed 7 --cli-files 100
    python benchmarks/server_fuzz.py --profiles neovim --json /tmp/fuzz.json
    python benchmarks/server_fuzz.py --rev HEAD             # torch_lsp as committed (not the working tree)

Prints: sessions, edits, requests, checkpoints, failures by kind with examples (and
the smallest reproducer found for each), max/median response time (per method too),
server RSS at the end of each session, and the CLI batch's figures. Exits 0 whatever
it finds (2 when it could not run); a person reads the figures.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from server_fuzz import CORPUS, PROFILES, Report, run_cli_batch, run_fuzz  # noqa: E402


def git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def snapshot_rev(rev: str) -> tuple[str, Path]:
    """torch_lsp/ as committed at ``rev``, extracted into benchmarks/.cache/fuzz/rev-<sha>/;
    (short sha, the folder to put on PYTHONPATH)."""
    sha = git("rev-parse", "--short", f"{rev}^{{commit}}")
    if not sha:
        raise RuntimeError(f"--rev {rev}: not a commit of this repository")
    dest = REPO / "benchmarks" / ".cache" / "fuzz" / f"rev-{sha}"
    if not (dest / "torch_lsp" / "__init__.py").is_file():
        proc = subprocess.run(["git", "archive", "--format=tar", sha, "torch_lsp"], cwd=REPO, capture_output=True)
        if proc.returncode != 0:
            raise RuntimeError(f"git archive failed: {proc.stderr.decode(errors='replace')[-500:]}")
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
            tar.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    return sha, dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=20, help="sessions per profile (default 20)")
    ap.add_argument("--edits", type=int, default=500, help="content changes per session (default 500)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cli-files", type=int, default=500, help="mutated files for the CLI batch (0: none; default 500)")
    ap.add_argument("--profiles", default=",".join(PROFILES), help="vscode,neovim (default both)")
    ap.add_argument("--parallel", type=int, default=2, help="sessions at once (default 2)")
    ap.add_argument("--rev", metavar="REV", help="run torch_lsp as committed at REV (server, checker and the in-process "
                    "reference analysis), not the working tree")
    ap.add_argument("--server", help="the server command (default: this Python's `-m torch_lsp serve`)")
    ap.add_argument("--check", help="the checker command (default: this Python's `-m torch_lsp check`)")
    ap.add_argument("--corpus", default=str(CORPUS), help="folder of .py files to mutate for the CLI batch")
    ap.add_argument("--no-shrink", action="store_true", help="do not look for smaller reproducers")
    ap.add_argument("--examples", type=int, default=3, help="examples printed per failure kind (default 3)")
    ap.add_argument("--json", metavar="OUT", help="write the figures and every kept example as JSON")
    args = ap.parse_args(argv)

    profiles = tuple(p for p in args.profiles.split(",") if p)
    if not set(profiles) <= set(PROFILES):
        ap.error(f"--profiles: choose from {', '.join(PROFILES)}")
    server = shlex.split(args.server) if args.server else None
    check = shlex.split(args.check) if args.check else None
    env = None
    if args.rev:
        try:
            sha, snapshot = snapshot_rev(args.rev)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 2
        sys.path.insert(0, str(snapshot))  # the reference analysis too (torch_lsp is not imported yet)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(snapshot)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        print(f"torch_lsp source: commit {sha} (snapshot in {snapshot})")
    else:
        dirty = git("status", "--porcelain", "--", "torch_lsp").splitlines()
        print(f"torch_lsp source: the working tree at {git('rev-parse', '--short', 'HEAD')}"
              + (f" with {len(dirty)} uncommitted change(s) under torch_lsp/ (--rev HEAD runs the commit)" if dirty else ""))
    t0 = time.monotonic()
    total = Report()
    try:
        if args.sessions > 0:
            lsp = run_fuzz(sessions=args.sessions, edits=args.edits, seed=args.seed, profiles=profiles, server=server,
                           env=env, parallel=args.parallel, shrink_failures=not args.no_shrink)
            print(f"== language server: {args.sessions} session(s) per profile ({', '.join(profiles)}), "
                  f"{args.edits} edits each, seed {args.seed}")
            print(lsp.summary(examples=args.examples))
            total.merge(lsp)
        if args.cli_files > 0:
            cli = run_cli_batch(args.cli_files, seed=args.seed, corpus=Path(args.corpus), cmd=check, env=env,
                                shrink_failures=not args.no_shrink)
            print(f"\n== CLI: {args.cli_files} mutated files from {args.corpus}, seed {args.seed}")
            print(cli.summary(examples=args.examples))
            total.merge(cli)
    except (OSError, RuntimeError) as exc:
        print(f"server_fuzz: could not run: {exc}", file=sys.stderr)
        return 2
    total.seconds = time.monotonic() - t0
    print(f"\n== total: {total.failures} failure(s) of {len(total.counts)} kind(s) in {total.seconds:.0f} s")
    for kind in sorted(total.counts, key=lambda k: -total.counts[k]):
        print(f"  {kind}: {total.counts[kind]}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(total.to_json(), f, indent=1, ensure_ascii=False)
        print(f"wrote {os.path.abspath(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
