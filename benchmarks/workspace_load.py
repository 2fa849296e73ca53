#!/usr/bin/env python3
"""A big workspace in `torch-lsp serve`: memory, processes, and responsiveness under load.

The server is driven over stdio with raw JSON-RPC (as /work/shared/tools/lsp_bench.py
does: no client library, timestamps taken when a message's body has been read), with
VS Code's kind of capabilities (pushed diagnostics with versions, UTF-16). Memory is
read from /proc: VmRSS (resident now) and VmHWM (the peak so far) of the server process
and its live descendants, added up.

Phases (each server process is fresh; the workspace root is the unpacked transformers
wheel, the folder that holds `transformers/`, so that the files' imports resolve):

1. **open** (server A): --files N `.py` files (default 300) of
   `transformers/models/` opened at once (every didOpen sent back to back). The files:
   the sorted list of the folder's `.py` files without `__init__.py` (mostly lazy-import
   tables) and `modular_*.py` (the sources the `modeling_*.py` files are generated from:
   near-duplicates), taking the file at index floor(i * n / N) for i = 0..N-1 (at
   transformers 5.23.0 and N = 300: 131,645 lines, 5.7 MB). Measured: seconds until every
   file has its first diagnostics; seconds until the *last* opened file has them (the
   most recently opened is analysed first); hovers on the last opened file every 0.5 s
   meanwhile (latency); RSS then, and the peak (VmHWM).
2. **burst** (server A): --burst-edits incremental edits (default 200), --edits-per-file
   (default 4) per file, over --burst-files files spread over the open ones, one edit
   every --edit-gap seconds (default 0.015: 3 s in all): the first edit of a file
   inserts a new indented line after a statement in a function near its middle, the
   next ones type characters on it (as a person typing). Every --hover-every edits
   (default 2) a hover on the most recently edited file, at an identifier of the
   statement the new line follows (sent without waiting for the answer). Measured:
   hover latency (median, max), seconds from the last edit until every edited file has
   diagnostics for its last version and until the last edited file has them, RSS
   after, and after a pause. Then 5 quick edits followed at once by shutdown and exit
   (errors after shutdown: "cannot schedule new futures after shutdown").
3. **grow/shrink** (server B): one file (the opened file closest to 1,000 lines) is
   open; --cycles times (default 4), --grow-mb MB of code (default 1: whole modeling
   files, built as for phase 4) is pasted at its end (one change) and, once its
   diagnostics are in, removed again (one change). RSS before, --cycle-pause seconds
   (default 1) after each step's diagnostics, and after a pause of --pause seconds
   (default 3).
4. **huge** (server C): a normal file (the same one) is open and analysed; then a
   document of --huge-mb MB (default 10) is opened, built from whole modeling files
   (relative imports made absolute, as lsp_speed.py builds its large file) and written
   to benchmarks/.cache/lsp/. While it is handled, a hover on the normal file every
   0.1 s (latency: median, max); seconds until the huge document's diagnostics arrive
   (or --huge-timeout), what they say, peak RSS (VmHWM).

Every phase collects the server's log: window/logMessage at error level and stderr
lines at ERROR level or with a traceback. Printed: one table. `--json OUT` writes every
figure and sample. `--rev REV` measures torch_lsp as committed at REV (a snapshot, as
lsp_speed.py takes one). This is a measurement for humans, not a CI test: it exits 0
after a completed run, 2 when the server could not be driven, 3 when the corpus could
not be prepared.

Usage (from the repository root):
    python benchmarks/realworld.py --download-only       # the corpus, once
    python benchmarks/workspace_load.py
    python benchmarks/workspace_load.py --rev HEAD --json /tmp/ws.json
    python benchmarks/workspace_load.py --files 60 --burst-edits 40 --phases open,burst
"""
from __future__ import annotations

import argparse
import ast
import asyncio
import io
import json
import keyword
import os
import shlex
import statistics
import sys
import tempfile
import time
import tokenize
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lsp_speed  # noqa: E402  (benchmarks/ is not a package)
import realworld  # noqa: E402

PHASES = ("open", "burst", "grow", "huge")


# --------------------------------------------------------------------------
# JSON-RPC client
# --------------------------------------------------------------------------
class Client:
    def __init__(self, argv: list[str], cwd: str, stderr_path: str, env: dict | None = None):
        self.argv, self.cwd, self.stderr_path, self.env = argv, cwd, stderr_path, env
        self.proc: asyncio.subprocess.Process | None = None
        self._next = 1
        self._pending: dict[int, asyncio.Future] = {}
        self.diags: dict[str, list[tuple[float, int | None, list]]] = {}  # uri -> [(t, version, diagnostics)]
        self.log_messages: list[tuple[int, str]] = []
        self._cond = asyncio.Condition()
        self.closed = asyncio.Event()
        self._reader: asyncio.Task | None = None

    async def start(self) -> None:
        self._stderr = open(self.stderr_path, "wb")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._stderr,
            cwd=self.cwd, env=self.env, limit=1 << 26)
        self._reader = asyncio.create_task(self._read_loop())

    async def _read_loop(self) -> None:
        out = self.proc.stdout
        try:
            while True:
                length = None
                while True:
                    line = await out.readline()
                    if not line:
                        raise EOFError
                    line = line.strip()
                    if not line:
                        break
                    k, _, v = line.decode("ascii", "replace").partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v.strip())
                if length is None:
                    continue
                body = await out.readexactly(length)
                t = time.perf_counter()
                await self._dispatch(json.loads(body), t)
        except (EOFError, asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            self.closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(EOFError("the server closed its stdout"))
            async with self._cond:
                self._cond.notify_all()

    async def _dispatch(self, msg: dict, t: float) -> None:
        method = msg.get("method")
        if method is None:
            fut = self._pending.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result((msg, t))
            return
        if "id" in msg:  # a request of the server's
            result: Any = None
            if method == "workspace/configuration":
                result = [None] * len(msg.get("params", {}).get("items", []))
            await self._write({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            return
        params = msg.get("params") or {}
        if method == "textDocument/publishDiagnostics":
            self.diags.setdefault(params.get("uri", ""), []).append(
                (t, params.get("version"), params.get("diagnostics") or []))
            async with self._cond:
                self._cond.notify_all()
        elif method == "window/logMessage":
            self.log_messages.append((params.get("type", 0), str(params.get("message", ""))))

    async def _write(self, obj: dict) -> None:
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        await self.proc.stdin.drain()

    async def notify(self, method: str, params: Any) -> float:
        t = time.perf_counter()
        await self._write({"jsonrpc": "2.0", "method": method, "params": params})
        return t

    async def request(self, method: str, params: Any, timeout: float = 60.0) -> tuple[dict, float]:
        rid = self._next
        self._next += 1
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        t0 = time.perf_counter()
        await self._write({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        msg, t1 = await asyncio.wait_for(fut, timeout)
        return msg, t1 - t0

    def has_version(self, uri: str, version: int) -> float | None:
        """When diagnostics for ``version`` (or later) of ``uri`` arrived, or None."""
        for t, v, _ in self.diags.get(uri, ()):
            if v is not None and v >= version:
                return t
        return None

    async def wait_until(self, pred: Callable[[], bool], timeout: float) -> bool:
        try:
            async with self._cond:
                await asyncio.wait_for(self._cond.wait_for(lambda: pred() or self.closed.is_set()), timeout)
        except asyncio.TimeoutError:
            return False
        return pred()

    # ---- memory of the process tree
    def tree_pids(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
        out, todo = [], [self.proc.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(children.get(p, []))
        return out

    def memory_mb(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) of the server and its live descendants, MB."""
        rss = hwm = 0.0
        for pid in self.tree_pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            rss += int(line.split()[1]) / 1024.0
                        elif line.startswith("VmHWM:"):
                            hwm += int(line.split()[1]) / 1024.0
            except OSError:
                pass
        return rss, hwm

    async def stop(self, graceful: bool = True) -> int | None:
        if self.proc.returncode is None and not self.closed.is_set() and graceful:
            try:
                await self.request("shutdown", None, 10.0)
                await self.notify("exit", None)
            except Exception:
                pass
        try:
            await asyncio.wait_for(self.proc.wait(), 10.0)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader:
            self._reader.cancel()
        self._stderr.close()
        return self.proc.returncode


def init_params(root: Path) -> dict:
    return {
        "processId": os.getpid(), "clientInfo": {"name": "workspace_load", "version": "1"},
        "rootUri": root.as_uri(), "rootPath": str(root),
        "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
        "initializationOptions": None, "trace": "off",
        "capabilities": {
            "general": {"positionEncodings": ["utf-16"]},
            "window": {"workDoneProgress": False},
            "workspace": {"configuration": True, "workspaceFolders": True,
                          "didChangeConfiguration": {"dynamicRegistration": False}},
            "textDocument": {
                "synchronization": {"dynamicRegistration": False, "didSave": True},
                "publishDiagnostics": {"relatedInformation": True, "versionSupport": True, "dataSupport": True},
                "hover": {"contentFormat": ["markdown", "plaintext"]},
            },
        },
    }


class Sampler:
    """Samples VmRSS every ``every`` seconds (the peak within a phase)."""

    def __init__(self, cli: Client, every: float = 0.2):
        self.cli, self.every, self.peak, self._task = cli, every, 0.0, None

    def __enter__(self):
        async def run():
            while True:
                self.peak = max(self.peak, self.cli.memory_mb()[0])
                await asyncio.sleep(self.every)
        self._task = asyncio.ensure_future(run())
        return self

    def __exit__(self, *exc):
        self.peak = max(self.peak, self.cli.memory_mb()[0])
        self._task.cancel()


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------
def choose_files(models: Path, n: int) -> list[Path]:
    files = sorted(p for p in models.rglob("*.py")
                   if "__pycache__" not in p.parts and p.name != "__init__.py" and not p.name.startswith("modular_"))
    if not files:
        raise realworld.SetupError(f"no .py files under {models}")
    n = min(n, len(files))
    return [files[(i * len(files)) // n] for i in range(n)]


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def edit_site(text: str) -> tuple[int, int, tuple[int, int]]:
    """(0-based line after which a line is inserted, its indentation, a hover position
    on an identifier of that statement), inside a function near the middle of the file."""
    lines = text.splitlines()
    mid = len(lines) / 2
    try:
        tree = ast.parse(text)
    except SyntaxError:
        tree = None
    funcs = [f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             and len(f.body) >= 2] if tree is not None else []
    if not funcs:
        line = len(lines) - 1
        return line, 0, (0, 0)
    fn = min(funcs, key=lambda f: (abs(f.lineno - mid), f.lineno))
    stmt = fn.body[len(fn.body) // 2 - 1] if len(fn.body) > 2 else fn.body[0]
    indent = len(lines[stmt.lineno - 1]) - len(lines[stmt.lineno - 1].lstrip())
    hover = (stmt.lineno - 1, indent)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(lines[stmt.lineno - 1].lstrip() + "\n").readline):
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
                hover = (stmt.lineno - 1, utf16_len(lines[stmt.lineno - 1][:indent + tok.start[1]]) + 1)
                break
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return stmt.end_lineno - 1, indent, hover


def build_huge(src_base: Path, files: list[Path], megabytes: float, out_dir: Path) -> Path:
    """Whole modeling files (relative imports made absolute, `from __future__` dropped),
    largest first, repeated until ``megabytes`` MB."""
    target = int(megabytes * 1_000_000)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"huge_{megabytes:g}mb.py"
    modeling = sorted((p for p in files if p.name.startswith("modeling_")), key=lambda p: (-p.stat().st_size, str(p)))
    parts: list[str] = [f"# {megabytes:g} MB benchmark document made by benchmarks/workspace_load.py from real\n"
                        "# transformers modeling files. Rebuilt on every run.\n"]
    size = len(parts[0])
    while size < target:
        for p in modeling:
            try:
                lines, _, drop = lsp_speed.prepared_lines(p, src_base)
            except (ValueError, SyntaxError):
                continue
            chunk = f"\n# ---- {p.relative_to(src_base).as_posix()} ----\n" + \
                "\n".join(ln for i, ln in enumerate(lines) if i not in drop) + "\n"
            parts.append(chunk)
            size += len(chunk.encode())
            if size >= target:
                break
    text = "".join(parts)
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return out


# --------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------
def stats(xs: list[float]) -> dict | None:
    if not xs:
        return None
    return {"n": len(xs), "p50": statistics.median(xs), "max": max(xs)}


async def start(args, log_path: Path, root: Path) -> Client:
    cli = Client(args.server_argv, str(root), str(log_path), env=args.server_env)
    await cli.start()
    msg, _ = await cli.request("initialize", init_params(root), 60.0)
    if "error" in msg:
        raise RuntimeError(f"initialize failed: {msg['error']}")
    await cli.notify("initialized", {})
    return cli


async def hover(cli: Client, uri: str, pos: tuple[int, int], out: list, timeout: float = 120.0) -> None:
    try:
        msg, dt = await cli.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                           "position": {"line": pos[0], "character": pos[1]}}, timeout)
        out.append((dt, "error" not in msg and msg.get("result") is not None))
    except (asyncio.TimeoutError, EOFError):
        out.append((timeout, False))


async def phase_open_burst(args, files: list[Path], root: Path, log_path: Path, res: dict) -> None:
    cli = await start(args, log_path, root)
    texts = {f.resolve().as_uri(): f.read_text(encoding="utf-8") for f in files}
    uris = list(texts)
    sites = {u: edit_site(t) for u, t in texts.items()}
    try:
        # ---- open
        hovers: list = []
        last = uris[-1]
        t0 = time.perf_counter()
        with Sampler(cli) as sampler:
            for u in uris:
                await cli.notify("textDocument/didOpen", {"textDocument": {"uri": u, "languageId": "python",
                                                                           "version": 1, "text": texts[u]}})
            tasks = []

            async def poke():
                while cli.has_version(last, 1) is None or not all(cli.has_version(u, 1) for u in uris):
                    tasks.append(asyncio.ensure_future(hover(cli, last, sites[last][2], hovers)))
                    await asyncio.sleep(0.5)
            poker = asyncio.ensure_future(poke())
            ok = await cli.wait_until(lambda: all(cli.has_version(u, 1) for u in uris), args.timeout)
            poker.cancel()
            await asyncio.gather(*tasks)
        t_all = time.perf_counter() - t0
        rss, hwm = cli.memory_mb()
        t_last = cli.has_version(last, 1)
        res["open"] = {
            "files": len(uris), "lines": sum(len(t.splitlines()) for t in texts.values()),
            "mb": sum(len(t.encode()) for t in texts.values()) / 1e6,
            "all_diagnostics_s": t_all if ok else None, "complete": ok,
            "missing": [u for u in uris if not cli.has_version(u, 1)][:5],
            "last_opened_diagnostics_s": (t_last - t0) if t_last else None,
            "hover_ms": stats([h[0] * 1e3 for h in hovers]), "hover_answers": sum(1 for h in hovers if h[1]),
            "rss_mb": rss, "peak_rss_mb": hwm, "sampled_peak_rss_mb": sampler.peak,
        }
        if "burst" not in args.phases:
            return

        # ---- burst
        burst_files = [uris[(i * len(uris)) // args.burst_files] for i in range(min(args.burst_files, len(uris)))]
        versions = {u: 1 for u in uris}
        typed: dict[str, int] = {}
        hovers = []
        tasks = []
        edit_times: dict[str, float] = {}
        n = 0
        t_first = time.perf_counter()
        with Sampler(cli) as sampler:
            while n < args.burst_edits:
                for u in burst_files:
                    for _ in range(args.edits_per_file):
                        if n >= args.burst_edits:
                            break
                        line, indent, hpos = sites[u]
                        k = typed.get(u)
                        if k is None:  # a new line after the statement
                            end = len(texts[u].splitlines()[line])
                            change = {"range": {"start": {"line": line, "character": utf16_len(texts[u].splitlines()[line][:end])},
                                                "end": {"line": line, "character": utf16_len(texts[u].splitlines()[line][:end])}},
                                      "text": "\n" + " " * indent + "t"}
                            typed[u] = 1
                        else:
                            change = {"range": {"start": {"line": line + 1, "character": indent + k},
                                                "end": {"line": line + 1, "character": indent + k}}, "text": "x"}
                            typed[u] = k + 1
                        versions[u] += 1
                        edit_times[u] = await cli.notify("textDocument/didChange", {
                            "textDocument": {"uri": u, "version": versions[u]}, "contentChanges": [change]})
                        n += 1
                        if n % args.hover_every == 0:
                            tasks.append(asyncio.ensure_future(hover(cli, u, hpos, hovers)))
                        await asyncio.sleep(args.edit_gap)
                    if n >= args.burst_edits:
                        break
            t_end = time.perf_counter()
            last_edited = max(edit_times, key=edit_times.get)
            ok = await cli.wait_until(lambda: all(cli.has_version(u, versions[u]) for u in edit_times), args.timeout)
            t_done = time.perf_counter()
            await asyncio.gather(*tasks)
        rss, hwm = cli.memory_mb()
        await asyncio.sleep(args.pause)
        rss_pause, _ = cli.memory_mb()
        t_last = cli.has_version(last_edited, versions[last_edited])
        res["burst"] = {
            "edits": n, "files": len(edit_times), "seconds_sending": t_end - t_first,
            "all_diagnostics_after_last_edit_s": (t_done - t_end) if ok else None, "complete": ok,
            "last_edited_diagnostics_after_its_edit_s": (t_last - edit_times[last_edited]) if t_last else None,
            "hover_ms": stats([h[0] * 1e3 for h in hovers]), "hover_answers": sum(1 for h in hovers if h[1]),
            "hover_samples_ms": [round(h[0] * 1e3, 1) for h in hovers],
            "rss_mb": rss, "rss_after_pause_mb": rss_pause, "peak_rss_mb": hwm, "sampled_peak_rss_mb": sampler.peak,
        }
        # ---- edits and at once shutdown (work queued when shutdown comes)
        for u in burst_files[:5]:
            line, indent, _ = sites[u]
            k = typed.get(u, 0)
            versions[u] += 1
            await cli.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": versions[u]}, "contentChanges": [
                {"range": {"start": {"line": line + 1, "character": indent + k}, "end": {"line": line + 1, "character": indent + k}},
                 "text": "y"}]})
    finally:
        code = await cli.stop()
        res.setdefault("exit_codes", {})["A"] = code
        res.setdefault("error_log", {})["A"] = error_lines(cli, log_path)


async def phase_grow(args, normal: Path, chunk_file: Path, root: Path, log_path: Path, res: dict) -> None:
    cli = await start(args, log_path, root)
    uri = normal.resolve().as_uri()
    text = normal.read_text(encoding="utf-8")
    chunk = chunk_file.read_text(encoding="utf-8")
    try:
        await cli.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        await cli.wait_until(lambda: cli.has_version(uri, 1) is not None, args.timeout)
        await asyncio.sleep(args.pause)
        before = cli.memory_mb()[0]
        lines = text.splitlines(keepends=True)
        n_lines = len(lines)
        end_char = 0
        if not text.endswith("\n"):
            end_char = utf16_len(lines[-1])
            n_lines -= 1
        version = 1
        after = []
        grown = []
        for _ in range(args.cycles):
            version += 1
            pos = {"line": n_lines, "character": end_char}
            await cli.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [
                {"range": {"start": pos, "end": pos}, "text": ("\n" if end_char else "") + chunk}]})
            await cli.wait_until(lambda: cli.has_version(uri, version) is not None, args.timeout)
            await asyncio.sleep(args.cycle_pause)
            grown.append(cli.memory_mb()[0])
            added = chunk.count("\n") + (1 if end_char else 0)
            version += 1
            await cli.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [
                {"range": {"start": pos, "end": {"line": n_lines + added, "character": utf16_len(chunk.rsplit("\n", 1)[-1]) if not chunk.endswith("\n") else 0}},
                 "text": ""}]})
            await cli.wait_until(lambda: cli.has_version(uri, version) is not None, args.timeout)
            await asyncio.sleep(args.cycle_pause)  # (what is released goes after the diagnostics are out)
            after.append(cli.memory_mb()[0])
        await asyncio.sleep(args.pause)
        paused = cli.memory_mb()[0]
        msg, _ = await cli.request("torch-lsp/documentText", {"textDocument": {"uri": uri}}, 30)
        same = (msg.get("result") or {}).get("text") == text
        res["grow"] = {"file": normal.name, "file_lines": len(lines), "chunk": chunk_file.name,
                       "chunk_lines": chunk.count("\n"), "rss_before_mb": before, "rss_grown_mb": grown,
                       "rss_after_cycle_mb": after, "rss_after_pause_mb": paused,
                       "peak_rss_mb": cli.memory_mb()[1], "text_restored": same}
    finally:
        res.setdefault("exit_codes", {})["B"] = await cli.stop()
        res.setdefault("error_log", {})["B"] = error_lines(cli, log_path)


async def phase_huge(args, normal: Path, huge: Path, root: Path, log_path: Path, res: dict) -> None:
    cli = await start(args, log_path, root)
    uri = normal.resolve().as_uri()
    text = normal.read_text(encoding="utf-8")
    huge_uri = huge.resolve().as_uri()
    huge_text = huge.read_text(encoding="utf-8")
    _, _, hpos = edit_site(text)
    try:
        await cli.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        await cli.wait_until(lambda: cli.has_version(uri, 1) is not None, args.timeout)
        await asyncio.sleep(args.pause)
        before = cli.memory_mb()[0]
        hovers: list = []
        tasks = []
        t0 = time.perf_counter()
        with Sampler(cli, 0.1) as sampler:
            async def poke():
                while True:
                    tasks.append(asyncio.ensure_future(hover(cli, uri, hpos, hovers, args.huge_timeout)))
                    await asyncio.sleep(0.1)
            poker = asyncio.ensure_future(poke())
            await asyncio.sleep(0.3)
            await cli.notify("textDocument/didOpen", {"textDocument": {"uri": huge_uri, "languageId": "python",
                                                                       "version": 1, "text": huge_text}})
            ok = await cli.wait_until(lambda: cli.has_version(huge_uri, 1) is not None, args.huge_timeout)
            t_diag = time.perf_counter() - t0
            await asyncio.sleep(1.0)  # hovers just after it too
            poker.cancel()
            await asyncio.gather(*tasks)
        rss, hwm = cli.memory_mb()
        got = cli.diags.get(huge_uri, [])
        first = got[-1][2] if got else []
        res["huge"] = {
            "mb": len(huge_text.encode()) / 1e6, "lines": huge_text.count("\n"),
            "diagnostics_s": t_diag if ok else None, "complete": ok, "diagnostics": len(first),
            "first_message": (first[0].get("message") if first else None),
            "log_messages": [m for _, m in cli.log_messages if "huge" in m or "MB" in m or "not analysed" in m][:3],
            "hover_ms": stats([h[0] * 1e3 for h in hovers]), "hover_answers": sum(1 for h in hovers if h[1]),
            "rss_before_mb": before, "rss_mb": rss, "peak_rss_mb": hwm, "sampled_peak_rss_mb": sampler.peak,
        }
    finally:
        res.setdefault("exit_codes", {})["C"] = await cli.stop()
        res.setdefault("error_log", {})["C"] = error_lines(cli, log_path)


def error_lines(cli: Client, log_path: Path) -> list[str]:
    out = [f"logMessage: {m}" for t, m in cli.log_messages if t == 1]
    try:
        text = Path(log_path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        if " ERROR " in line or "Traceback" in line or "Error:" in line and not line.startswith(" "):
            out.append(f"stderr: {line.strip()}")
    return out


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def f(x, nd=1, unit="") -> str:
    if x is None:
        return "—"
    return f"{x:,.{nd}f}{unit}"


def print_table(res: dict) -> None:
    rows: list[tuple[str, str]] = []
    o = res.get("open")
    if o:
        rows += [
            (f"open {o['files']} files ({o['lines']:,} lines, {o['mb']:.1f} MB): every file's diagnostics", f(o["all_diagnostics_s"], 1, " s")),
            ("  the last opened file's diagnostics", f(o["last_opened_diagnostics_s"], 2, " s")),
            ("  hover on the last opened file meanwhile: median / max",
             f"{f((o['hover_ms'] or {}).get('p50'), 0)} / {f((o['hover_ms'] or {}).get('max'), 0)} ms ({(o['hover_ms'] or {}).get('n', 0)})"),
            ("  RSS then / peak (VmHWM)", f"{f(o['rss_mb'], 0)} / {f(o['peak_rss_mb'], 0)} MB"),
        ]
    b = res.get("burst")
    if b:
        rows += [
            (f"burst: {b['edits']} edits over {b['files']} files in {b['seconds_sending']:.1f} s; all files' last versions' diagnostics after the last edit",
             f(b["all_diagnostics_after_last_edit_s"], 1, " s")),
            ("  the last edited file's diagnostics after its edit", f(b["last_edited_diagnostics_after_its_edit_s"], 2, " s")),
            ("  hover on the most recently edited file: median / max",
             f"{f((b['hover_ms'] or {}).get('p50'), 0)} / {f((b['hover_ms'] or {}).get('max'), 0)} ms ({(b['hover_ms'] or {}).get('n', 0)})"),
            ("  RSS after / after a pause / peak (VmHWM)", f"{f(b['rss_mb'], 0)} / {f(b['rss_after_pause_mb'], 0)} / {f(b['peak_rss_mb'], 0)} MB"),
        ]
    g = res.get("grow")
    if g:
        rows += [
            (f"grow/shrink {g['file']} ({g['file_lines']:,} lines) + {g['chunk']} ({g['chunk_lines']:,} lines), RSS before, after each cycle",
             " → ".join(f(x, 0) for x in [g["rss_before_mb"]] + g["rss_after_cycle_mb"]) + " MB"),
            ("  RSS while grown (each cycle)", " / ".join(f(x, 0) for x in g["rss_grown_mb"]) + " MB"),
            ("  after a pause / peak (VmHWM)", f"{f(g['rss_after_pause_mb'], 0)} / {f(g['peak_rss_mb'], 0)} MB"
             + ("" if g["text_restored"] else "  (the server's text differs from the file's!)")),
        ]
    h = res.get("huge")
    if h:
        rows += [
            (f"huge document ({h['mb']:.1f} MB, {h['lines']:,} lines): its diagnostics", f(h["diagnostics_s"], 1, " s")
             + f" ({h['diagnostics']}: {str(h['first_message'])[:60]!r})" if h["complete"] else "none in time"),
            ("  hover on another document meanwhile: median / max",
             f"{f((h['hover_ms'] or {}).get('p50'), 0)} / {f((h['hover_ms'] or {}).get('max'), 0)} ms ({(h['hover_ms'] or {}).get('n', 0)})"),
            ("  RSS before / after / peak (VmHWM)", f"{f(h['rss_before_mb'], 0)} / {f(h['rss_mb'], 0)} / {f(h['peak_rss_mb'], 0)} MB"),
        ]
    errors = [e for lines in res.get("error_log", {}).values() for e in lines]
    rows.append(("error-level log lines (all servers)", str(len(errors))))
    rows.append(("exit codes", ", ".join(f"{k} {v}" for k, v in sorted(res.get("exit_codes", {}).items()))))
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for server, lines in sorted(res.get("error_log", {}).items()):
        for line in lines[:10]:
            print(f"  [{server}] {line[:200]}")


# --------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=300, help="files opened at once (default: %(default)s)")
    ap.add_argument("--phases", default=",".join(PHASES), help="which phases (default: %(default)s)")
    ap.add_argument("--burst-edits", type=int, default=200)
    ap.add_argument("--burst-files", type=int, default=50)
    ap.add_argument("--edits-per-file", type=int, default=4)
    ap.add_argument("--edit-gap", type=float, default=0.015, help="seconds between two edits of the burst")
    ap.add_argument("--hover-every", type=int, default=2, help="a hover after every N edits of the burst")
    ap.add_argument("--cycles", type=int, default=4, help="grow/shrink cycles")
    ap.add_argument("--grow-mb", type=float, default=1.0, help="MB pasted in each grow/shrink cycle")
    ap.add_argument("--huge-mb", type=float, default=10.0)
    ap.add_argument("--huge-timeout", type=float, default=300.0)
    ap.add_argument("--pause", type=float, default=3.0, help="seconds of the pauses before RSS is read again")
    ap.add_argument("--cycle-pause", type=float, default=1.0,
                    help="seconds between a grow/shrink step's diagnostics and reading RSS")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds a phase waits for diagnostics")
    ap.add_argument("--server", default=f"{shlex.quote(sys.executable)} -m torch_lsp serve")
    ap.add_argument("--rev", default=None, help="measure torch_lsp as committed at REV (a snapshot)")
    ap.add_argument("--cache-dir", type=Path, default=realworld.DEFAULT_CACHE)
    ap.add_argument("--log-dir", type=Path, default=None, help="keep the servers' stderr here (default: a temp dir)")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = ap.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if any(p not in PHASES for p in args.phases):
        ap.error(f"--phases: choose from {', '.join(PHASES)}")
    try:
        parts = realworld.prepare_corpus(args.cache_dir, None, ["transformers"])
    except realworld.SetupError as exc:
        print(f"corpus setup failed: {exc}", file=sys.stderr)
        return realworld.EXIT_SETUP_FAILED
    src_base = parts[0].base.resolve()
    files = choose_files(src_base / "transformers" / "models", args.files)
    lsp_dir = args.cache_dir.resolve() / "lsp"
    args.server_env = None
    source = "working tree"
    if args.rev:
        sha, snapshot = lsp_speed.snapshot_rev(args.rev, lsp_dir)
        args.server_env = dict(os.environ, PYTHONPATH=str(snapshot))
        args.server = f"{shlex.quote(sys.executable)} -m torch_lsp serve"
        source = f"commit {sha}"
    else:
        head = lsp_speed.git("rev-parse", "--short", "HEAD")
        dirty = lsp_speed.git("status", "--porcelain", "--", "torch_lsp").splitlines()
        source = f"working tree at {head}" + (f" + {len(dirty)} uncommitted change(s)" if dirty else "")
    args.server_argv = shlex.split(args.server)
    print(f"server: {args.server} ({source}); root {src_base}; {len(files)} files; phases {', '.join(args.phases)}", flush=True)

    normal = min(files, key=lambda p: (abs(len(p.read_text(encoding="utf-8").splitlines()) - 1000), str(p)))
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="workspace_load_"))
    log_dir.mkdir(parents=True, exist_ok=True)
    res: dict = {"server": args.server, "source": source, "files": [str(p.relative_to(src_base)) for p in files],
                 "args": {k: v for k, v in vars(args).items() if k not in ("server_env",)}}
    try:
        if "open" in args.phases or "burst" in args.phases:
            if "open" not in args.phases:
                args.phases.append("open")
            print("phase open/burst ...", flush=True)
            asyncio.run(phase_open_burst(args, files, src_base, log_dir / "A.stderr.log", res))
        if "grow" in args.phases:
            print("phase grow/shrink ...", flush=True)
            chunk = build_huge(src_base, files, args.grow_mb, lsp_dir)
            asyncio.run(phase_grow(args, normal, chunk, src_base, log_dir / "B.stderr.log", res))
        if "huge" in args.phases:
            huge = build_huge(src_base, files, args.huge_mb, lsp_dir)
            print(f"phase huge ({huge}) ...", flush=True)
            asyncio.run(phase_huge(args, normal, huge, src_base, log_dir / "C.stderr.log", res))
    except (RuntimeError, OSError, EOFError) as exc:
        print(f"could not drive the server: {type(exc).__name__}: {exc} (logs in {log_dir})", file=sys.stderr)
        print_table(res)
        return realworld.EXIT_TOOL_FAILED
    print_table(res)
    print(f"\nservers' stderr: {log_dir}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
