"""Ending every process the runtime worker started, wherever it went (Linux).

Killing the worker's process group is not enough: code the worker runs can start
processes in a session of their own (``os.setsid()``, ``start_new_session=True``),
and a double fork leaves a process whose parent has exited. On Linux the worker's
processes are marked child subreapers (``PR_SET_CHILD_SUBREAPER``), so an orphan
is re-parented to the nearest of them instead of to init: every process the
evaluated code starts stays a descendant of the worker's first process for as long
as that process lives, and ``kill_tree`` finds them by walking the parent links of
``/proc/*/stat``.

``kill_tree`` first stops them (SIGSTOP: a stopped process cannot fork), walking
again until a walk finds nothing new and every process found is stopped, then
kills them (SIGKILL), walking again for any that a subreaper received meanwhile.
Each process is signalled through a pidfd opened after checking its start time, so
a pid reused by an unrelated process is never signalled.

Elsewhere (no ``/proc``, no ``prctl``) these functions do nothing and return False
or 0: the caller's process-group kill is all there is.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from typing import NamedTuple

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36

_STOPPED = (b"T", b"t")
_DEAD = (b"Z", b"X", b"x")


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0
    except (OSError, AttributeError, ImportError):
        return False


def become_subreaper() -> bool:
    """Orphaned descendants of this process are re-parented to it (Linux 3.4+)."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(signum: int) -> bool:
    """The kernel sends ``signum`` when the parent (the thread that started this
    process) exits."""
    return _prctl(PR_SET_PDEATHSIG, int(signum))


def set_undumpable() -> bool:
    """No core file when this process ends by a signal that would write one."""
    return _prctl(PR_SET_DUMPABLE, 0)


def available() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self")


class Stat(NamedTuple):
    ppid: int
    state: bytes
    start: int  # clock ticks after boot: with the pid, it names one process


def stat(pid: int) -> Stat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        fields = data[data.rindex(b")") + 2:].split()  # the name may hold spaces and parentheses
        return Stat(int(fields[1]), fields[0][:1], int(fields[19]))
    except (OSError, ValueError, IndexError):
        return None


def _table() -> dict[int, Stat]:
    table: dict[int, Stat] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if name.isdigit():
            st = stat(int(name))
            if st is not None:
                table[int(name)] = st
    return table


def descendants(root: int, table: dict[int, Stat] | None = None) -> list[int]:
    """The processes below ``root`` (children first), from one walk of /proc."""
    table = _table() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, st in table.items():
        children.setdefault(st.ppid, []).append(pid)
    out: list[int] = []
    todo = list(children.get(root, ()))
    seen = {root}
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


class _Process:
    """One process, pinned by a pidfd where the kernel has them."""

    def __init__(self, pid: int, fd: int | None) -> None:
        self.pid = pid
        self.fd = fd
        self.killed = False

    def send(self, signum: int) -> None:
        try:
            if self.fd is not None:
                signal.pidfd_send_signal(self.fd, signum)
            else:
                os.kill(self.pid, signum)
        except OSError:  # gone already
            pass

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


def _pin(pid: int, seen: Stat) -> _Process | None:
    """The process ``pid`` if it is still the one ``seen`` describes."""
    fd = None
    opener = getattr(os, "pidfd_open", None)
    if opener is not None and hasattr(signal, "pidfd_send_signal"):
        try:
            fd = opener(pid)
        except OSError:
            fd = None
    now = stat(pid)  # read after the pidfd was opened: a match proves the pidfd is that process
    if now is None or now.start != seen.start or now.ppid != seen.ppid:
        if fd is not None:
            os.close(fd)
        return None
    return _Process(pid, fd)


def kill_tree(root: int, include_root: bool = True, timeout: float = 3.0) -> int:
    """Stop, then kill, every descendant of ``root`` (and ``root`` itself when
    ``include_root``); the number of processes signalled. See the module doc."""
    if not available():
        return 0
    deadline = time.monotonic() + timeout
    found: dict[int, _Process] = {}
    root_process = None
    if include_root:
        seen = stat(root)
        if seen is None:
            return 0
        root_process = _pin(root, seen)
        if root_process is None:
            return 0
        root_process.send(signal.SIGSTOP)

    def walk(signum: int) -> tuple[list[int], dict[int, Stat]]:
        table = _table()
        below = descendants(root, table)
        for pid in below:
            if pid not in found and table[pid].state not in _DEAD:
                process = _pin(pid, table[pid])
                if process is not None:
                    found[pid] = process
                    process.send(signum)
                    process.killed = signum == signal.SIGKILL
        return below, table

    try:
        # Freeze: until a walk finds nobody new and everybody found is stopped.
        settle = time.monotonic() + timeout / 2
        while True:
            before = len(found)
            below, table = walk(signal.SIGSTOP)
            if len(found) == before:
                running = [p for p in below if p in found and table[p].state not in _STOPPED + _DEAD]
                if not running or time.monotonic() > settle:
                    break
            time.sleep(0.002)
        # Kill: and whatever a subreaper among them (or root) receives meanwhile.
        while True:
            for process in found.values():
                if not process.killed:
                    process.send(signal.SIGKILL)
                    process.killed = True
            below, table = walk(signal.SIGKILL)
            if not [p for p in below if table[p].state not in _DEAD] or time.monotonic() > deadline:
                break
            time.sleep(0.002)
        if root_process is not None:
            root_process.send(signal.SIGKILL)
    finally:
        for process in found.values():
            process.close()
        if root_process is not None:
            root_process.close()
    return len(found) + (root_process is not None)


def has_children() -> bool:
    """Has this process children (running or exited and not yet waited for)?
    Reaps one exited child, if any."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return False
    except OSError:
        return True
    return True


def reap(timeout: float = 2.0) -> None:
    """Wait for this process's children (all killed: they end at once), at most
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if pid == 0:
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)


def end_children(timeout: float = 3.0) -> int:
    """Kill every descendant of this process and wait for its children."""
    if not available() or not has_children():
        return 0
    n = kill_tree(os.getpid(), include_root=False, timeout=timeout)
    reap(timeout)
    return n
