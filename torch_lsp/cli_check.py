"""Checking files for the command line: one ``Task`` per file, ``process`` (read, check,
fix, and the runtime hook) run here or in worker processes (``run_tasks``). Split from
``cli.py``; ``cli`` imports these names.

The engine (the analysis and the rules) is imported when a file is checked, not
before: a run whose every result comes from the cache never imports it."""

import collections
import gc
import io
import os
import stat
import tokenize
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from torch_lsp.strict import swallowed
from torch_lsp.output import (
    FileOutcome,
    source_lines,
)


MAX_FILE_BYTES = 10 * 1024 * 1024  # bigger files are generated data, not models: skipped with a warning
PARALLEL_MIN_FILES = 32  # below this, worker processes cost more than they save


# =============================================================================== tasks
@dataclass(frozen=True)
class Task:
    """One file to check: picklable, for worker processes."""

    display: str  # the path shown in the output
    path: str  # the path to open (relative to the current directory, like display)
    enabled: Callable[[str], bool]
    mode: str  # "check", "fix" or "diff"
    unsafe: bool
    runtime: Any = None  # runtime.report.Options when --runtime
    data: bytes | None = None  # the source read from standard input (``-``); None: read ``path``
    cache: tuple[str, str] | None = None  # (directory, key) of the cache to write the outcome to


def _os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


# =============================================================================== checking one file
def process(task: Task) -> FileOutcome:
    """Check (and fix) one file. Never raises: problems become the outcome's error."""
    try:
        return _process(task)
    except Exception as exc:  # a bug in torch-lsp: report it for this file and go on
        swallowed()
        import traceback

        first = (str(exc).strip().splitlines() or [""])[0]
        detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        return FileOutcome(
            task.display,
            error=f"internal error in torch-lsp: {detail}; rerun with --debug",
            traceback=traceback.format_exc(),
        )
    finally:
        if _COLLECT_PER_FILE:
            gc.collect()
            gc.freeze()


def _process(task: Task) -> FileOutcome:
    if task.data is not None:  # standard input
        return _checked(task, task.data, None)
    try:
        st = os.stat(task.path)
        if st.st_size > MAX_FILE_BYTES:
            size = f"{st.st_size / 1024 / 1024:.1f} MB"
            return FileOutcome(task.display, warning=f"skipped: the file is {size}, over the {MAX_FILE_BYTES // 1024 // 1024} MB limit")
        with open(task.path, "rb") as f:
            data = f.read()
    except OSError as exc:
        broken = isinstance(exc, FileNotFoundError) and os.path.islink(task.path)
        return FileOutcome(task.display, error="broken symbolic link" if broken else _os_error(exc))
    return _checked(task, data, st)


def _checked(task: Task, data: bytes, st: os.stat_result | None) -> FileOutcome:
    """Check (and fix) the bytes of one file; ``st`` is None for standard input."""
    if task.path.lower().endswith(".ipynb"):  # a Jupyter notebook: its code cells (see cli_notebook)
        from torch_lsp.cli_notebook import process_notebook

        return process_notebook(task, data, st)
    from torch_lsp import engine

    extra = _runtime_hook(task) if task.runtime is not None else None
    result = engine.check_source(data, task.display, enabled=task.enabled, extra=extra, want_imports=task.cache is not None)
    outcome = FileOutcome(task.display)
    if task.mode != "check" and result.source:
        result = _fix(task, data, st, result, outcome)
    outcome.diagnostics = result.diagnostics
    lines = source_lines(result.source or "") if result.diagnostics else []
    for d in result.diagnostics:
        n = d.range.start.line
        outcome.lines[n] = lines[n] if 0 <= n < len(lines) else ""
    if task.cache is not None and result.imports is not None and task.mode == "check":
        outcome.cache_nodes = _worker_cache(task.cache).nodes_for(task.path, data, task.enabled, outcome, result.imports,
                                                                  engine.Project.default())
    return outcome


_WORKER_CACHES: dict[tuple[str, str], Any] = {}


def _worker_cache(spec: tuple[str, str]):
    from torch_lsp.cache import CheckCache

    hit = _WORKER_CACHES.get(spec)
    if hit is None:
        hit = _WORKER_CACHES[spec] = CheckCache(*spec)
    return hit


_RUNTIME_CLIENT = None  # one warm torch worker per process (see torch_lsp.runtime.client)


def _runtime_client(options):
    global _RUNTIME_CLIENT
    if _RUNTIME_CLIENT is None:
        import atexit

        from torch_lsp.runtime.client import RuntimeClient

        _RUNTIME_CLIENT = RuntimeClient(python=options.python, timeout=options.timeout, memory_mb=options.memory_mb)
        atexit.register(_RUNTIME_CLIENT.close)
    return _RUNTIME_CLIENT


def _torch_importable(python: str | None) -> bool:
    """Can the runtime worker's interpreter import torch (without importing it here)?"""
    if python is None:
        import importlib.util

        return importlib.util.find_spec("torch") is not None
    try:
        import subprocess

        probe = subprocess.run([python, "-c", "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)"],
                               capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _runtime_hook(task: Task):
    """The runtime evaluation of a file, run after its static checks (their
    diagnostics decide what TL901 stays silent about) and before selection and
    suppression apply to both."""
    def evaluate(src, static, project):
        if not (task.enabled("TL901") or task.enabled("TL902")):
            return []
        from torch_lsp.runtime.report import evaluate_source

        return evaluate_source(src, task.path, static, _runtime_client(task.runtime), task.runtime, project).diagnostics

    return evaluate


def fix_rounds(task: Task, original: str, result, outcome: FileOutcome):
    """``fixes.fix_all`` over ``original`` (whose check is ``result``), each new text
    checked as the task checks; a fix that would leave invalid Python is the outcome's
    error. Returns the run and the check of its final text."""
    from torch_lsp import engine
    from torch_lsp.analysis import fixes

    results = {original: result}

    def recheck(text: str) -> list:
        results[text] = engine.check_source(text, task.display, enabled=task.enabled)
        return results[text].diagnostics

    run = fixes.fix_all(original, result.diagnostics, recheck, unsafe=task.unsafe)
    if run.problem is not None:
        titles = "; ".join(run.refused)
        outcome.error = f"a fix would leave invalid Python ({run.problem}); not applied: {titles}. This is a bug in torch-lsp, please report it"
    return run, results[run.text]


def _fix(task: Task, data: bytes, st: os.stat_result | None, result, outcome: FileOutcome):
    """Apply fixes round after round; write (``fix``) or diff (``diff``) the result."""
    first = result
    original = result.source
    run, result = fix_rounds(task, original, result, outcome)
    text = run.text
    outcome.fixed += run.applied
    if text == original:
        return result
    if task.mode == "diff":
        outcome.diff = _unified_diff(original, text, task.display)
        return result
    if st is None:  # standard input: the fixed source goes to standard output
        outcome.fixed_source = _encoded_like(data, text)
        return result
    problem = _write_fixed(task.path, data, text, st)
    if problem is not None:
        outcome.error = problem
        outcome.fixed = 0
        return first
    return result


def _unified_diff(before: str, after: str, path: str) -> str:
    import difflib

    out = []
    for line in difflib.unified_diff(source_lines(before, True), source_lines(after, True), fromfile=path, tofile=path):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _encoded_like(data: bytes, text: str) -> bytes:
    """``text`` in the encoding of the source ``data`` (UTF-8 when it cannot be)."""
    try:
        return text.encode(tokenize.detect_encoding(io.BytesIO(data).readline)[0])
    except (SyntaxError, LookupError, UnicodeEncodeError):
        return text.encode("utf-8", "surrogateescape")


def _write_fixed(path: str, data: bytes, text: str, st: os.stat_result) -> str | None:
    """Replace the file atomically (same directory, same mode, same encoding).
    Returns a one-line problem when it was not written."""
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
        new_data = text.encode(encoding)
    except (SyntaxError, LookupError, UnicodeEncodeError) as exc:
        return f"fixes not written: cannot encode the result ({exc})"
    import tempfile

    real = os.path.realpath(path)  # write through a symlink, keep the link
    directory = os.path.dirname(real) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(real)}.", suffix=".torch-lsp.tmp", dir=directory)
    except OSError as exc:
        return f"fixes not written: {_os_error(exc)}"
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(new_data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        now = os.stat(real)
        if (now.st_mtime_ns, now.st_size) != (st.st_mtime_ns, st.st_size):
            os.unlink(tmp)
            return "fixes not written: the file changed while it was being checked"
        os.replace(tmp, real)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return f"fixes not written: {_os_error(exc)}"
    return None


# =============================================================================== running many files
def _cpu_count() -> int:
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return counter() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_tasks(tasks: list[Task], jobs: int, files_fixed: bool = False,
              done: Callable[[], None] | None = None) -> Iterator[FileOutcome]:
    """Outcomes in the order of ``tasks``: in worker processes when there are many.
    ``files_fixed``: the tree does not change while they run, so the files other files
    depend on are read once (``Project.files_fixed``; workers inherit it on fork).
    ``done`` is called each time a file is checked (in any order: a progress bar)."""
    if not tasks:
        return  # (nothing to check: the analysis is not even imported)
    from torch_lsp.analysis.project import Project

    project = Project.default()
    before = project.files_fixed
    project.files_fixed = files_fixed
    try:
        yield from _run_tasks(tasks, jobs, done)
    finally:
        project.files_fixed = before


def _run_tasks(tasks: list[Task], jobs: int, done: Callable[[], None] | None) -> Iterator[FileOutcome]:
    workers = jobs or min(_cpu_count(), max(1, len(tasks) // (PARALLEL_MIN_FILES // 2)))
    workers = min(workers, len(tasks))
    if workers <= 1 or (not jobs and len(tasks) < PARALLEL_MIN_FILES):
        for task in tasks:
            outcome = process(task)
            if done is not None:
                done()
            yield outcome
        return
    from torch_lsp import engine

    engine.preload()  # import the rule modules once, before the workers fork
    yield from _run_in_workers(tasks, workers, done)


CHUNK = 8  # files sent to a worker at a time (two chunks in flight per worker)


def _segments(tasks: list[Task], workers: int) -> list[collections.deque[int]]:
    """The task indices cut into ``workers`` contiguous runs of about the same bytes."""
    sizes = []
    for task in tasks:
        if task.data is not None:
            sizes.append(len(task.data))
            continue
        try:
            sizes.append(os.stat(task.path).st_size)
        except OSError:
            sizes.append(0)
    total = sum(sizes) or 1
    out: list[collections.deque[int]] = [collections.deque() for _ in range(workers)]
    acc = 0
    for i, size in enumerate(sizes):
        out[min(workers - 1, acc * workers // total)].append(i)
        acc += size
    return out


def _worker_main(conn) -> None:
    """A worker process: check the files of each chunk it is sent, sending back
    (index, outcome) for each, or (index, None, exception) when ``process`` raised
    (strict mode); None ends it."""
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for i, task in chunk:
            try:
                conn.send((i, process(task), None))
            except BaseException as exc:  # strict mode re-raises: hand it to the parent
                try:
                    conn.send((i, None, exc))
                except Exception:  # an exception that cannot be pickled
                    conn.send((i, None, RuntimeError(f"{type(exc).__name__}: {exc}")))


def _run_in_workers(tasks: list[Task], workers: int, done: Callable[[], None] | None) -> Iterator[FileOutcome]:
    """Each worker walks its own contiguous run of the files (``_segments``): the
    files of one library import the same dependencies, which a worker parses and
    summarises once for all of them (with chunks dealt round-robin, every worker
    read every library's dependencies: a third more CPU than one process on the wild
    corpus). A worker whose run is over takes chunks from the end of the longest run
    left, so that the workers end together. Outcomes are yielded in task order."""
    import multiprocessing
    from multiprocessing.connection import wait

    segments = _segments(tasks, workers)
    results: dict[int, FileOutcome] = {}
    in_flight: dict[Any, collections.deque[int]] = {}
    procs: dict[Any, Any] = {}
    next_out = 0

    def take(w: int) -> list[int]:
        own = segments[w]
        if own:
            return [own.popleft() for _ in range(min(CHUNK, len(own)))]
        victim = max(segments, key=len)
        n = min(CHUNK, (len(victim) + 1) // 2)
        return sorted(victim.pop() for _ in range(n))

    def send(conn, w: int) -> None:
        chunk = take(w)
        if chunk:
            in_flight[conn].extend(chunk)
            try:
                conn.send([(i, tasks[i]) for i in chunk])
            except OSError:  # it died after its last outcome: its end of file comes next
                pass  # (and its files in flight go to the others)

    ctx = multiprocessing.get_context()
    try:
        for w in range(workers):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(child_end,), daemon=True)
            proc.start()
            child_end.close()
            procs[parent_end] = (proc, w)
            in_flight[parent_end] = collections.deque()
            send(parent_end, w)
            send(parent_end, w)
    except OSError:  # no worker processes on this system: the rest here
        procs_started = list(procs)
        for conn in procs_started:
            segments[procs[conn][1]].extendleft(reversed(in_flight.pop(conn)))
            _stop(conn, procs.pop(conn)[0])
    try:
        while procs:
            ready: list[Any] = wait(list(procs))  # (the Connections)
            for conn in ready:
                proc, w = procs[conn]
                try:
                    message: tuple[int, FileOutcome | None, BaseException | None] = conn.recv()
                except (EOFError, OSError):  # the worker died (killed, out of memory)
                    lost = in_flight.pop(conn)
                    del procs[conn]
                    proc.join(1)
                    if lost:
                        first = lost.popleft()
                        results[first] = FileOutcome(tasks[first].display, error=(
                            f"internal error in torch-lsp: a worker process died (exit code {proc.exitcode}); rerun with --debug"))
                        segments[w].extendleft(reversed(lost))  # the others take them
                        if done is not None:
                            done()
                    continue
                i, checked, exc = message
                if exc is not None or checked is None:
                    raise exc or RuntimeError("a worker sent no outcome")
                in_flight[conn].popleft()
                results[i] = checked
                if done is not None:
                    done()
                if len(in_flight[conn]) <= CHUNK:
                    send(conn, w)
                if not in_flight[conn]:
                    _stop(conn, proc)
                    del procs[conn], in_flight[conn]
            while next_out in results:
                yield results.pop(next_out)
                next_out += 1
    finally:  # (an exception, or the caller stopped reading): no waiting for the files in flight
        for conn, (proc, _) in procs.items():
            conn.close()
            proc.terminate()
            proc.join()
    left = sorted(i for seg in segments for i in seg)  # no worker left to check them
    for i in range(next_out, len(tasks)):
        if i in results:
            yield results.pop(i)
        elif i in left:
            outcome = process(tasks[i])
            if done is not None:
                done()
            yield outcome


def _stop(conn, proc) -> None:
    """End an idle worker."""
    try:
        conn.send(None)
    except (OSError, ValueError):
        pass
    conn.close()
    proc.join(5)
    if proc.is_alive():
        proc.terminate()


# =============================================================================== memory
_COLLECT_PER_FILE = False


def _tune_gc() -> None:
    """Garbage collection for a batch of files (workers inherit it on fork).

    A file's analysis leaves its syntax tree in reference cycles (summary <->
    module model, interpreter values), so it is freed by the collector, not by
    reference counting, while the dependency cache only grows. With CPython's
    default thresholds the collector re-scans the cache over and over (2x slower
    on the real-world benchmark); with rare young collections it still frees
    each tree late, on the parse of a later file (measured: a third of parse
    time). So: automatic collection only as a safety net for a huge file, and
    after each file one collection of what that file allocated, then ``freeze``
    so that what survives (the dependency cache) is never scanned again."""
    global _COLLECT_PER_FILE
    _COLLECT_PER_FILE = True
    gc.freeze()
    gc.set_threshold(1_000_000, 50, 1000)
