"""The command line: ``torch-lsp check``, ``torch-lsp rule``, ``torch-lsp rules``.

A thin shell: it finds the files, reads the configuration (``torch_lsp.config``),
hands each file's bytes to ``check_source``, applies fixes with
``torch_lsp.analysis.fixes`` and prints with ``torch_lsp.output``. No analysis here.

Exit status (shared/rules.md): 0 no diagnostic at warning or above, 1 some, 2 a
usage, configuration, I/O or internal error (after checking everything else).
"""
from __future__ import annotations

import argparse
import io
import os
import stat
import sys
from dataclasses import replace
from typing import Any, Callable, Iterator, NoReturn, TextIO

from torch_lsp import __version__
from torch_lsp.config import ConfigError, ConfigResolver, Overrides
from torch_lsp.strict import swallowed
from torch_lsp.output import (
    FORMATTERS,
    FORMATS,
    MACHINE_FORMATS,
    FileOutcome,
    clean,
    plural,
    statistics,
    summary,
)


PROG = "torch-lsp"


# =============================================================================== arguments
def _code_list(text: str) -> list[str]:
    # an empty item stays, so that `--select ""` is an error rather than no rule at all
    return [c.strip() for c in text.split(",")]


def _flatten(values: list[list[str]] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(c for v in values for c in v)


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 (automatic) or more")
    return n


def _seconds(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not n > 0 or n == float("inf"):  # 0, a negative time or nan would silently turn the evaluation off
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return n


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, then exit 2 (argparse's own status)
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: `torch-lsp --debug check` and `torch-lsp check --debug` both count
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks of internal errors")

    parser = _Parser(prog=PROG, description="Find PyTorch model bugs without running the model.", parents=[common])
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    # (its parsers are _Parser; declared as ArgumentParser, which `parents` must be)
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser(
        "check",
        parents=[common],
        help="check files and directories",
        description="Check Python files for PyTorch model bugs.",
        epilog="exit status: 0 no problem at warning level or above, 1 some, 2 a usage, configuration, I/O or internal error",
    )
    check.add_argument("paths", nargs="*", metavar="PATH",
                       help="files or directories to check (default: .); - reads the source from standard input")
    check.add_argument("--format", choices=FORMATS, default="full", help="output format (default: full)")
    sel = check.add_argument_group("rule selection (comma-separated codes, code prefixes or rule names; ALL = every rule)")
    sel.add_argument("--select", action="append", type=_code_list, metavar="CODES", help="rules to check; replaces `select` of the configuration")
    sel.add_argument("--ignore", action="append", type=_code_list, metavar="CODES", help="rules not to check; replaces `ignore` of the configuration")
    sel.add_argument("--extend-select", action="append", type=_code_list, metavar="CODES", help="rules to check in addition")
    sel.add_argument("--extend-ignore", action="append", type=_code_list, metavar="CODES", help="rules not to check in addition")
    fix = check.add_argument_group("fixes")
    fix.add_argument("--fix", action="store_true", help="apply the safe fixes in place")
    fix.add_argument("--unsafe-fixes", dest="unsafe_fixes", action="store_true", default=None, help="also apply (and count) unsafe fixes")
    fix.add_argument("--no-unsafe-fixes", dest="unsafe_fixes", action="store_false", help="never apply unsafe fixes (overrides the configuration)")
    fix.add_argument("--diff", action="store_true", help="print the changes --fix would make as a unified diff; write nothing")
    out = check.add_argument_group("output")
    out.add_argument("--output-file", metavar="FILE", help="write the report to FILE instead of standard output")
    out.add_argument("--statistics", action="store_true", help="print the number of problems per rule instead of each problem")
    out.add_argument("-q", "--quiet", action="store_true", help="print the problems only: no summary, no warnings")
    out.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    out.add_argument("--exit-zero", action="store_true", help="exit 0 even when problems are found")
    files = check.add_argument_group("files and configuration")
    files.add_argument("--stdin-filename", metavar="PATH",
                       help="the path of the source read from standard input (-): for messages, configuration and "
                            "per-file ignores; with no PATH, standard input is read")
    files.add_argument("--config", metavar="PYPROJECT", help="use this pyproject.toml for every file instead of searching for one")
    files.add_argument("--force-exclude", action="store_true", help="apply the excludes to paths given on the command line too")
    files.add_argument("-j", "--jobs", type=_jobs, default=0, metavar="N", help="worker processes (default 0: automatic; 1: none)")
    files.add_argument("--no-cache", action="store_true",
                       help="check every file again: neither read nor write the cache of unchanged files' results "
                            "(also TORCH_LSP_NO_CACHE=1)")
    files.add_argument("--cache-dir", metavar="DIR",
                       help="where the cache lives (default: $TORCH_LSP_CACHE_DIR, else .torch_lsp_cache)")
    runtime = check.add_argument_group("runtime evaluation (executes your code: see the README)")
    runtime.add_argument("--runtime", action="store_true",
                         help="also build and run the modules your code calls on meta tensors, in a background torch process (TL901)")
    runtime.add_argument("--runtime-timeout", type=_seconds, default=None, metavar="SECONDS",
                         help="time limit of one file's evaluation (default: runtime.timeout, else 10)")
    runtime.add_argument("--runtime-report-skipped", action="store_true", default=None,
                         help="report evaluations that could not run as TL902 (information)")
    check.set_defaults(func=cmd_check)

    rule = sub.add_parser("rule", parents=[common], help="explain a rule", description="Show a rule's documentation.")
    rule.add_argument("code", nargs="?", metavar="CODE", help="a rule code (TL101) or name (unregistered-tensor)")
    group = rule.add_mutually_exclusive_group()
    group.add_argument("--all", action="store_true", help="show every rule's documentation")
    group.add_argument("--list", action="store_true", help="list the rules in a table")
    rule.set_defaults(func=cmd_rule)

    rules = sub.add_parser("rules", parents=[common], help="list the rules", description="List every rule.")
    rules.set_defaults(func=cmd_rules)

    summary = sub.add_parser(
        "summary", parents=[common], help="show a static model summary",
        description="A torchinfo-like table of each nn.Module in FILE (or just Class): layers, input and "
                    "output shapes, parameter counts; computed statically, nothing is run.")
    summary.add_argument("target", metavar="FILE[:Class]")
    summary.add_argument("--format", choices=("table", "json"), default="table")
    summary.add_argument("--statements", action="store_true",
                         help="instead of the layer table, list each line that assigns a tensor with the shape(s) "
                              "inferred there (what inlay hints show)")
    summary.set_defaults(func=cmd_summary)

    serve = sub.add_parser(
        "serve", parents=[common], help="run the language server",
        description="Run the language server (LSP) on stdin/stdout, or on a TCP port with --tcp. "
                    "Editors start it for you; see the README for VS Code, Neovim, Helix and Emacs.")
    serve.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (the default; accepted for clients that pass it)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP port instead of stdin/stdout")
    serve.set_defaults(func=cmd_serve)
    return parser

# Split into modules of their own; imported here, where the commands use them (and
# where tests and other modules have always found them).
from torch_lsp.cli_console import PROGRESS_AFTER_SECONDS, PROGRESS_MIN_FILES, Console, Progress, _color_for, _write  # noqa: E402,F401
from torch_lsp.cli_check import (  # noqa: E402,F401
    MAX_FILE_BYTES, PARALLEL_MIN_FILES, Task, _encoded_like, _os_error, _torch_importable, _tune_gc, _write_fixed,
    process, run_tasks,
)


# =============================================================================== files
def collect_files(paths: list[str], resolver: ConfigResolver, console: Console, force_exclude: bool) -> list[tuple[str, str]]:
    """(display path, path) of every file to check, in a deterministic order.

    Directories are walked (sorted, following symlinked directories once: a set of
    real paths breaks loops), skipping excluded entries; a file named on the command
    line is checked whatever its name unless ``--force-exclude`` excludes it.
    Raises ConfigError; reports missing paths on the console."""
    found: list[tuple[str, str]] = []
    seen_files: set[str] = set()

    def add(display: str, path: str, real: str | None = None) -> None:
        real = real or os.path.realpath(path)
        if real not in seen_files:
            seen_files.add(real)
            found.append((display, path))

    for arg in paths:
        try:
            st = os.stat(arg)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) and os.path.islink(arg):
                console.error(f"{arg}: broken symbolic link")
            else:
                console.error(f"{arg}: {_os_error(exc)}")
            continue
        if force_exclude and resolver.settings_for(arg).is_excluded(arg):
            continue
        if stat.S_ISDIR(st.st_mode):
            empty = True
            for display, path, real in _walk(arg, resolver, console):
                empty = False
                add(display, path, real)
            if empty:
                console.warning(f"{arg}: no Python files found")
        elif stat.S_ISREG(st.st_mode):
            add(arg, arg)
        else:
            console.error(f"{arg}: not a regular file")
    return found


def _walk(root: str, resolver: ConfigResolver, console: Console) -> Iterator[tuple[str, str, str]]:
    """(display path, path, real path) of the Python files below ``root``, sorted."""
    strip_dot = os.path.normpath(root) == "."
    real_root = os.path.realpath(root)
    visited = {real_root}
    files: list[tuple[tuple[str, ...], str, str]] = []
    stack: list[tuple[str, tuple[str, ...], str]] = [(root, (), real_root)]
    while stack:
        directory, rel_parts, real_dir = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            console.error(f"{directory}: {_os_error(exc)}")
            continue
        settings = resolver.settings_for(directory)
        subdirs = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows symbolic links
                is_file = not is_dir and entry.is_file()
            except OSError:  # a symlink loop or unreadable link: report it if it looks like a source file
                is_dir, is_file = False, entry.name.endswith((".py", ".ipynb"))
            if is_dir:
                if settings.is_excluded(entry.path, ancestors=False):
                    continue
                # (a plain directory's real path is its real parent's plus its name)
                real = os.path.realpath(entry.path) if entry.is_symlink() else os.path.join(real_dir, entry.name)
                if real in visited:  # a symlink back up the tree, or a second way to the same place
                    continue
                visited.add(real)
                subdirs.append((entry.path, rel_parts + (entry.name,), real))
            elif is_file or entry.is_symlink():
                if entry.name.endswith((".py", ".ipynb")) and not settings.is_excluded(entry.path, ancestors=False, is_dir=False):
                    # a plain file's real path is its real directory's plus its name
                    real = os.path.realpath(entry.path) if entry.is_symlink() else os.path.join(real_dir, entry.name)
                    files.append((rel_parts + (entry.name,), entry.path, real))
        stack.extend(reversed(subdirs))
    files.sort()
    for _, path, real in files:
        yield (path[2:] if strip_dot and path.startswith("." + os.sep) else path), path, real


# =============================================================================== commands
def cmd_check(args: argparse.Namespace) -> int:
    _tune_gc()
    console = Console(quiet=args.quiet)
    overrides = Overrides(
        select=_flatten(args.select),
        ignore=_flatten(args.ignore),
        extend_select=_flatten(args.extend_select) or (),
        extend_ignore=_flatten(args.extend_ignore) or (),
        unsafe_fixes=args.unsafe_fixes,
    )
    if args.fix and args.diff:
        console.error("--fix and --diff cannot be used together")
        return 2
    mode = "fix" if args.fix else "diff" if args.diff else "check"
    paths = args.paths or (["-"] if args.stdin_filename is not None else ["."])
    stdin: bytes | None = None
    if "-" in paths:
        if len(paths) > 1:
            console.error("- (standard input) cannot be checked together with other paths")
            return 2
        try:
            stdin = sys.stdin.buffer.read()
        except (OSError, AttributeError, ValueError) as exc:
            console.error(f"standard input: {exc}")
            return 2
    elif args.stdin_filename is not None:
        console.warning("--stdin-filename is used only when standard input (-) is checked")
    try:
        resolver = ConfigResolver(overrides, config_file=args.config)
        if stdin is not None:
            name = args.stdin_filename
            excluded = name is not None and args.force_exclude and resolver.settings_for(name).is_excluded(name)
            files = [] if excluded else [(name or "-", name or os.path.join(os.getcwd(), "-"))]
        else:
            files = collect_files(paths, resolver, console, args.force_exclude)
        tasks = []
        shared: dict[int, Callable[[str], bool]] = {}  # one selection per settings without per-file ignores
        for display, path in files:
            settings = resolver.settings_for(path, is_dir=False if stdin is None else None)  # (collect_files: files)
            if settings.per_file_ignores:
                enabled = settings.enabled_for(path)
            else:
                enabled = shared.get(id(settings)) or shared.setdefault(id(settings), settings.enabled_for(path))
            runtime = None
            if args.runtime:
                from torch_lsp.runtime.report import Options

                runtime = Options.from_settings(settings.runtime, timeout=args.runtime_timeout,
                                                report_skipped=args.runtime_report_skipped)
            tasks.append(Task(display, path, enabled, mode, settings.unsafe_fixes, runtime, stdin))
    except ConfigError as exc:
        console.error(str(exc))
        return 2
    for w in resolver.warnings:
        console.warning(w)
    if args.runtime and not _torch_importable(next((t.runtime.python for t in tasks if t.runtime is not None), None)):
        python = next((t.runtime.python for t in tasks if t.runtime is not None and t.runtime.python), None) or sys.executable
        console.warning(f"--runtime: torch cannot be imported by {python} (install it for that interpreter: "
                        f"`{python} -m pip install torch`, or set runtime.python to one that has it); only the static "
                        "checks ran")
        tasks = [replace(t, runtime=None) for t in tasks]
    unsafe = any(t.unsafe for t in tasks)  # for the summary's fixable counts
    cached: dict[int, FileOutcome] = {}
    cache = None
    if mode == "check" and not args.runtime and not args.no_cache and not os.environ.get("TORCH_LSP_NO_CACHE"):
        tasks, cached, cache = _from_cache(tasks, args, console)

    progress = Progress(len(tasks), console.stderr, enabled=not (args.quiet or args.no_progress) and _isatty(console.stderr))
    console.progress = progress
    outcomes: list[FileOutcome] = []
    try:
        # The tree does not change while it is checked, unless fixes are written into it.
        for outcome in _in_order(run_tasks(tasks, args.jobs, files_fixed=not args.fix, done=progress.advance), cached):
            outcomes.append(outcome)
            if outcome.error:
                console.error(f"{outcome.path}: {outcome.error}")
                if getattr(args, "debug", False) and outcome.traceback:
                    console.debug(outcome.traceback)
            if outcome.warning:
                console.warning(f"{outcome.path}: {outcome.warning}")
    finally:
        progress.finish()
        console.progress = None
    if cache is not None:
        cache.write([n for o in outcomes if o.cache_nodes for n in o.cache_nodes])

    if mode == "diff":
        return _report_diff(outcomes, args, console)
    report_to = None
    if stdin is not None and mode == "fix":  # as ruff: the source on stdout, the report on stderr
        fixed = next((o.fixed_source for o in outcomes if o.fixed_source is not None), None)
        _write_bytes(sys.stdout, stdin if fixed is None else fixed)
        report_to = console.stderr
    return _report(outcomes, args, console, unsafe, fixed=sum(o.fixed for o in outcomes) if mode == "fix" else None,
                   stream=report_to)


def _write_bytes(stream: TextIO, data: bytes) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a text stream without bytes (a test's capture)
        stream.write(data.decode("utf-8", "replace"))
    else:
        stream.flush()
        buffer.write(data)
        buffer.flush()


def _from_cache(tasks: list[Task], args: argparse.Namespace, console: Console) -> tuple[list[Task], dict[int, FileOutcome], Any]:
    """The tasks left to check (which make the cache's nodes of their outcomes), the
    outcomes the cache still holds (by task index), and the cache (None when it cannot
    be used; see ``torch_lsp/cache.py``)."""
    from torch_lsp.cache import CheckCache, cache_directory, describe, read_stamped

    directory = cache_directory(args.cache_dir)
    try:
        cache = CheckCache.open(directory)
    except OSError as exc:
        console.warning(f"cannot use the cache in {directory}: {_os_error(exc)}; every file is checked")
        return tasks, {}, None
    from torch_lsp import cache as cache_module

    absolute = {i: os.path.abspath(t.path) for i, t in enumerate(tasks) if t.data is None}
    cache_module.RUN_FILES = set(absolute.values())
    readable: list[tuple[int, Task, bytes]] = []
    stamps: dict[str, tuple[int, int]] = {}
    for i, task in enumerate(tasks):
        if task.data is None and cache.wanted(task.path):
            try:
                data, stamps[absolute[i]] = read_stamped(task.path)
            except OSError:
                continue
            readable.append((i, task, data))
    found = cache.plan([(absolute[i], data, task.enabled) for i, task, data in readable], stamps)
    cached: dict[int, FileOutcome] = {}
    for k, (i, task, _) in enumerate(readable):
        if k in found:
            diagnostics, lines = found[k]
            cached[i] = FileOutcome(task.display, diagnostics, lines)
    writes = {i for i, _, _ in readable}  # (the files it read: they write their outcome to it)
    left = [replace(task, cache=(cache.directory, cache.key)) if i in writes else task
            for i, task in enumerate(tasks) if i not in cached]
    if getattr(args, "debug", False):
        console.debug(describe(cache))
    return left, cached, cache


def _in_order(checked: Iterator[FileOutcome], cached: dict[int, FileOutcome]) -> Iterator[FileOutcome]:
    """The outcomes in the order of the files: those from the cache where they belong
    among those just checked (which come in the order of the tasks left)."""
    i = 0
    for outcome in checked:
        while i in cached:
            yield cached.pop(i)
            i += 1
        yield outcome
        i += 1
    for k in sorted(cached):
        yield cached[k]


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _emit_report(text: str, args: argparse.Namespace, console: Console, stream: TextIO | None = None) -> bool:
    """Write the report to stdout (or ``stream``) or --output-file; False when the file cannot be written."""
    if not args.output_file:
        _write(stream or sys.stdout, text)
        return True
    try:
        with open(args.output_file, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    except OSError as exc:
        console.error(f"{args.output_file}: {_os_error(exc)}")
        return False
    return True


def _report(outcomes: list[FileOutcome], args: argparse.Namespace, console: Console, unsafe: bool, fixed: int | None,
            stream: TextIO | None = None) -> int:
    color = not args.output_file and _color_for(stream or sys.stdout)
    machine = args.format in MACHINE_FORMATS
    if args.statistics:
        text = statistics(outcomes, as_json=args.format == "json", unsafe=unsafe)
    else:
        text = FORMATTERS[args.format](outcomes, color=color, unsafe=unsafe, successful=not console.had_error)
    if not args.quiet and not machine:
        text += ("\n" if text and args.format == "full" and not args.statistics else "") + summary(
            outcomes, unsafe=unsafe, fixed=fixed, failed=console.had_error)
    elif fixed and machine:
        console.note(f"Fixed {plural(fixed, 'problem')}.")
    if not _emit_report(text, args, console, stream):
        return 2
    if console.had_error:
        return 2
    loud = any(d.severity <= 2 for o in outcomes for d in o.diagnostics)  # error or warning
    return 1 if loud and not args.exit_zero else 0


def _report_diff(outcomes: list[FileOutcome], args: argparse.Namespace, console: Console) -> int:
    text = "".join(o.diff for o in outcomes)
    if not _emit_report(text, args, console):
        return 2
    would = sum(o.fixed for o in outcomes if o.diff)
    if would:
        console.note(f"Would fix {plural(would, 'problem')}.")
    else:
        console.note("No fixes available.")
    if console.had_error:
        return 2
    return 1 if text and not args.exit_zero else 0


def cmd_rule(args: argparse.Namespace) -> int:
    from torch_lsp.rules import RULES, lookup

    if args.list:
        return cmd_rules(args)
    if args.all:
        _write(sys.stdout, "\n".join(r.render() for r in sorted(RULES.values(), key=lambda r: r.code)))
        return 0
    if not args.code:
        _write(sys.stderr, "error: give a rule code (e.g. TL101) or name, or --all / --list\n")
        return 2
    found = lookup(args.code)
    if found is None:
        _write(sys.stderr, f"error: unknown rule {clean(args.code)!r}; `{PROG} rules` lists them\n")
        return 2
    _write(sys.stdout, found.render())
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from torch_lsp.rules import RULES

    rows = [("CODE", "NAME", "SEVERITY", "FIXABLE")]
    rows += [(r.code, r.name, r.severity.label, "yes" if r.fixable else "no") for r in sorted(RULES.values(), key=lambda r: r.code)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    _write(sys.stdout, "".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n" for row in rows))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    import json

    from torch_lsp.analysis.context import FileContext
    from torch_lsp.analysis.project import Project
    from torch_lsp.analysis.summary import render_table, summarise

    path, _, only = args.target.partition(":")
    if not os.path.isfile(path) and ":" in path:  # a Windows drive letter
        path, only = args.target, ""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        _write(sys.stderr, f"error: {clean(path)}: {_os_error(exc)}\n")
        return 2
    project = Project.default()
    src = project.parsed(data, path)
    if src.problem is not None or src.tree is None:
        msg = src.problem.message if src.problem else "cannot parse"
        _write(sys.stderr, f"error: {clean(path)}: {msg}\n")
        return 2
    ctx = FileContext(src, project)
    if args.statements:
        from torch_lsp.analysis.summary import statement_shapes

        rows = statement_shapes(ctx)
        if args.format == "json":
            _write(sys.stdout, json.dumps([{"line": n, "source": t.strip(), "shapes": sh} for n, t, sh in rows], indent=2) + "\n")
        else:
            width = max((len(t.rstrip()) for _, t, _ in rows), default=0)
            _write(sys.stdout, "".join(f"{n:>5}  {t.rstrip().ljust(width)}  # {sh}\n" for n, t, sh in rows))
        return 0
    summaries = summarise(ctx, only or None)
    if only and not summaries:
        _write(sys.stderr, f"error: {clean(path)}: no nn.Module class named {clean(only)!r}\n")
        return 2
    if args.format == "json":
        _write(sys.stdout, json.dumps([s.to_json() for s in summaries], indent=2) + "\n")
    else:
        _write(sys.stdout, render_table(summaries) if summaries else "no nn.Module classes in this file\n")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    if args.tcp is not None:
        host, sep, port = args.tcp.rpartition(":")
        if not sep or not port.isdigit():
            _write(sys.stderr, f"error: --tcp expects HOST:PORT, got {clean(args.tcp)!r}\n")
            return 2
    from torch_lsp.lsp import startup

    startup.prepare()  # logging, the collector, the code cache: before pygls and lsprotocol are imported
    from torch_lsp.server import serve

    return serve(args.tcp)


# =============================================================================== entry point
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        parser.print_usage(sys.stderr)
        _write(sys.stderr, f"error: a command is required (check, rule, rules, summary, serve); see `{PROG} --help`\n")
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _write(sys.stderr, "error: interrupted\n")
        return 130
    except BrokenPipeError:  # `torch-lsp check | head`
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return 1
    except Exception as exc:
        swallowed()
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0]
        _write(sys.stderr, f"error: internal error in torch-lsp: {type(exc).__name__}: {clean(first)}; rerun with --debug\n")
        return 2


def run() -> None:
    """The console entry point: ``main`` and a fast exit. Tearing down the parsed
    trees of a large run object by object costs seconds (a third of a check of the
    transformers models), and nothing is left to do: flush and leave."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code if isinstance(code, int) else 1)
