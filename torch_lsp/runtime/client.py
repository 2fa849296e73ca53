"""The runtime worker's client: one warm worker, one job at a time, never a hang.

``RuntimeClient.evaluate(job)`` starts the worker on first use (importing torch
takes seconds; it is paid once and the worker is kept), sends the job and waits for
its result at most ``timeout`` seconds. It never raises: whatever goes wrong comes
back as ``{"status": "skipped", "reason": ...}`` (TL902), and the reason says what:

- no reply within the timeout (an endless loop, a stuck C call): the worker is
  killed with every process below it (``reaper.kill_tree``: those in a session of
  their own and double-forked ones too, on Linux) and its process group; the next
  job starts a new worker;
- the worker died (``os._exit``, a segfault, the kernel's OOM killer): the same;
- torch cannot be imported by the worker's interpreter: said once per start;
- after a crash, starting again waits a back-off (0.5 s, doubling to 8 s, reset by a
  job that completes), so that a file that kills the worker at once cannot spin.

``cancel()`` (any thread) interrupts the running job (SIGUSR1; the worker answers
``cancelled``): the server calls it when a newer version of the document arrives.

On Linux the process started here is the worker's *keeper* (see ``worker``): it
forks the worker, and ends every process the worker leaves behind. ``close()``
asks the worker to stop (it ends what its jobs started, then the keeper ends), and
then kills whatever is still there, as a timeout does.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from torch_lsp.runtime import protocol, reaper

DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY_MB = 2048
STARTUP_TIMEOUT = 120.0
MAX_BACKOFF = 8.0


def skipped(reason: str, **extra: Any) -> dict:
    return {"status": "skipped", "reason": reason, **extra}


class RuntimeClient:
    def __init__(self, python: str | None = None, timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB,
                 cpu_seconds: float | None = None, log: str | None = None, startup_timeout: float = STARTUP_TIMEOUT) -> None:
        self.python = python or sys.executable
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.cpu_seconds = cpu_seconds if cpu_seconds is not None else timeout
        self.log = log
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.hello: dict | None = None
        self._out: Any = None  # to the worker
        self._in: Any = None  # from the worker
        self._lock = threading.Lock()
        self._busy = False
        self._next_id = 0
        self._backoff = 0.0
        self._last_crash = 0.0
        self.starts = 0
        self.crashes = 0
        self.last_start_seconds = 0.0
        self.unavailable: str | None = None  # torch cannot be imported: no point in retrying

    # ------------------------------------------------------------------ lifecycle
    @property
    def state(self) -> str:
        if self.proc is None:
            return "crashed" if self.crashes and self._backoff else "stopped"
        return "busy" if self._busy else "ready"

    def _start(self) -> str | None:
        """Start the worker; None when it is ready, else why it is not."""
        wait = self._last_crash + self._backoff - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        argv = [self.python, "-m", "torch_lsp.runtime.worker", "--in", str(to_worker_r), "--out", str(from_worker_w),
                "--memory-mb", str(self.memory_mb)] + (["--log", self.log] if self.log else [])
        started = time.perf_counter()
        try:
            # cwd: `python -m` puts it first on sys.path, and a project's own `json.py`
            # or `signal.py` must not replace the worker's modules (the job adds the
            # project's folders to sys.path itself, after the worker started).
            self.proc = subprocess.Popen(argv, pass_fds=(to_worker_r, from_worker_w), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                         start_new_session=True, close_fds=True, cwd=package_root)
        except OSError as exc:
            for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w):
                os.close(fd)
            self._crashed()
            return f"the runtime worker could not start ({exc})"
        finally:
            if self.proc is not None:
                os.close(to_worker_r)
                os.close(from_worker_w)
        self.starts += 1
        self._out = os.fdopen(to_worker_w, "wb", buffering=0)
        self._in = os.fdopen(from_worker_r, "rb", buffering=0)
        message = self._receive(self.startup_timeout)
        self.last_start_seconds = time.perf_counter() - started
        if isinstance(message, str):
            self._kill()
            self._crashed()
            return f"the runtime worker did not start: {message}"
        if message.get("type") == "fatal":
            self._kill()
            self.unavailable = str(message.get("reason", "the runtime worker could not start"))
            return self.unavailable
        if message.get("type") != "hello" or message.get("protocol") != protocol.PROTOCOL_VERSION:
            self._kill()
            self._crashed()
            return f"the runtime worker speaks another protocol ({message.get('protocol')!r}, expected {protocol.PROTOCOL_VERSION})"
        self.hello = message
        return None

    def _receive(self, timeout: float) -> dict | str:
        """The next message, or why there is none ("timeout", "exited ...")."""
        assert self._in is not None
        try:
            ready, _, _ = select.select([self._in], [], [], max(timeout, 0))
        except (OSError, ValueError) as exc:
            return f"the pipe failed ({exc})"
        if not ready:
            return "timeout"
        try:
            message = protocol.read_message(self._in)
        except (protocol.ProtocolError, OSError) as exc:
            message = None
            detail = f" ({exc})"
        else:
            detail = ""
        if message is None:
            return self._exit_text() + detail
        return message

    def _exit_text(self) -> str:
        if self.proc is None:
            return "the worker is gone"
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the worker closed its pipe"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the worker was killed by {name}"
        return f"the worker exited with status {code}"

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        for f in (self._out, self._in):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        self._out = self._in = None
        self.hello = None
        if proc is None:
            return
        if proc.poll() is None:  # (not yet waited for: its pid is still its own)
            # Stop and kill everything below it (the keeper is a subreaper: processes in
            # a session of their own and orphans are below it too), then the group.
            try:
                reaper.kill_tree(proc.pid, include_root=True)
            except Exception:  # never let the cleanup fail the caller; the group kill follows
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            try:
                proc.kill()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def _crashed(self) -> None:
        self.crashes += 1
        self._last_crash = time.monotonic()
        self._backoff = min(MAX_BACKOFF, self._backoff * 2) if self._backoff else 0.5

    def close(self) -> None:
        with self._lock:
            if self.proc is not None and self._out is not None:
                try:
                    protocol.write_message(self._out, {"type": "shutdown"})
                    self.proc.wait(timeout=2)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()

    # ------------------------------------------------------------------ jobs
    def evaluate(self, job: dict, timeout: float | None = None) -> dict:
        """Run one job; the worker's result, or a skipped one (see the module doc)."""
        timeout = self.timeout if timeout is None else timeout
        if self.unavailable is not None:
            return skipped(self.unavailable)
        with self._lock:
            if self.proc is None or self.proc.poll() is not None:
                if self.proc is not None:  # it died between jobs
                    self._kill()
                    self._crashed()
                problem = self._start()
                if problem is not None:
                    return skipped(problem)
            self._next_id += 1
            ident = self._next_id
            job = dict(job, id=ident, cpu_seconds=job.get("cpu_seconds", self.cpu_seconds))
            self._busy = True
            try:
                try:
                    protocol.write_message(self._out, {"type": "evaluate", "id": ident, "job": job})
                except (BrokenPipeError, OSError) as exc:
                    reason = self._exit_text()
                    self._kill()
                    self._crashed()
                    return skipped(f"the runtime worker is gone ({reason}; {exc})")
                deadline = time.monotonic() + timeout
                while True:
                    message = self._receive(deadline - time.monotonic())
                    if message == "timeout":
                        self._kill()
                        self._crashed()
                        return skipped(f"the evaluation took more than {timeout:g} s; the worker was stopped", timeout=True)
                    if isinstance(message, str):
                        self._kill()
                        self._crashed()
                        return skipped(f"the runtime worker crashed: {message}", crashed=True)
                    if message.get("type") == "result" and message.get("id") == ident:
                        result = message.get("result") or {}
                        if result.get("status") != "cancelled":
                            self._backoff = 0.0
                        return result
                    # a late answer to a job that was given up: skip it
            finally:
                self._busy = False

    def cancel(self) -> None:
        """Interrupt the running job, if any (its result is ``cancelled``)."""
        proc, hello = self.proc, self.hello
        if proc is not None and self._busy:
            pid = hello.get("pid") if isinstance(hello, dict) else None  # the worker (proc may be its keeper)
            try:
                os.kill(pid if isinstance(pid, int) and pid > 0 else proc.pid, signal.SIGUSR1)
            except (ProcessLookupError, PermissionError, OSError):
                pass
