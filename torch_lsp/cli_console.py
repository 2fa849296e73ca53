"""The command line's console: the report and messages on standard error (``Console``),
colour, and the progress bar. Split from ``cli.py``; ``cli`` imports these names."""

import os
import sys
import time
from typing import TextIO

from torch_lsp.output import (
    clean,
)


PROGRESS_AFTER_SECONDS = 1.0
PROGRESS_MIN_FILES = 200


# =============================================================================== console
class Console:
    """Where text goes: the report (stdout or --output-file), and stderr messages that
    never interleave with a progress bar."""

    def __init__(self, quiet: bool = False, stderr: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stderr = stderr or sys.stderr
        self.progress: Progress | None = None
        self.had_error = False

    def _emit(self, text: str) -> None:
        if self.progress is not None:
            self.progress.clear()
        _write(self.stderr, text + "\n")
        if self.progress is not None:
            self.progress.redraw()

    def error(self, text: str) -> None:
        self.had_error = True
        self._emit(f"error: {clean(text)}")

    def warning(self, text: str) -> None:
        if not self.quiet:
            self._emit(f"warning: {clean(text)}")

    def note(self, text: str) -> None:
        if not self.quiet:
            self._emit(text)

    def debug(self, text: str) -> None:
        self._emit(text.rstrip("\n"))


def _write(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:  # a terminal that cannot show some character of a file
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


def _color_for(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """``[####      ] 120/400 files`` on stderr, only for long runs on a terminal."""

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled
        self.done = 0
        self.started = time.monotonic()
        self.shown = False
        self._last = 0.0

    def advance(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        now = time.monotonic()
        if not self.shown and self.total < PROGRESS_MIN_FILES and now - self.started < PROGRESS_AFTER_SECONDS:
            return
        if now - self._last >= 0.1 or self.done == self.total:
            self._last = now
            self.shown = True
            self.redraw()

    def redraw(self) -> None:
        if not self.shown:
            return
        width = 30
        filled = width * self.done // max(self.total, 1)
        self.stream.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {self.done}/{self.total} files")
        self.stream.flush()

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def finish(self) -> None:
        self.clear()
        self.shown = False
