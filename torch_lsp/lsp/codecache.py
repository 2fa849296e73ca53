"""Code objects for the source attrs, cattrs and dataclasses generate, kept between
server runs.

Importing lsprotocol builds ~570 attrs classes, and attrs writes each class's
``__init__``, ``__repr__``, ``__eq__``, ... as Python source and compiles it: ~765
``compile()`` calls, about half of the server's start-up. cattrs does the same for
the functions that read and write each message type, on the first message of each
type, and dataclasses for the server's own ~40 dataclasses (with ``exec()``). The
code objects depend only on the source text, its file name, the compiler flags and
the interpreter, so they are kept in a file of the user's cache directory and read
back on the next start:

- an entry is keyed by a hash of the source, the file name, the flags (including
  the ``from __future__`` flags the caller's module would pass on) and the
  optimisation level: a changed script is a miss, compiled as before (only
  ``exec``-mode compiles of a ``str`` are cached; anything else goes to the builtin);
- the file is named by the interpreter (``sys.implementation.cache_tag``, the
  marshal version) and starts with the interpreter's bytecode magic number and a hash
  of its content: another Python, or a truncated or altered file, is never read;
- it is written after the first diagnostics are published (never before), only
  when this run compiled something the file lacked, atomically (a temporary file
  then ``os.replace``), and holds only the entries this run used: it never grows
  beyond what one run needs;
- any failure (no cache folder, an unreadable, corrupt or unwritable file, an attrs
  that no longer calls ``compile``) means plain ``compile()`` / ``exec()``: logged at
  debug level, never an error.

Only the ``serve`` command installs it (``install``, before pygls and lsprotocol are
imported); ``TORCH_LSP_CODE_CACHE=off`` turns it off, ``TORCH_LSP_CODE_CACHE=DIR``
keeps the file in DIR.
"""
from __future__ import annotations

import __future__
import builtins
import importlib.util
import logging
import marshal
import os
import sys
import types
from typing import Any

from torch_lsp.strict import swallowed

try:  # (hashlib's own import loads OpenSSL's, ~3 ms, for a hash the server never asks of it)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter without the module
    from hashlib import blake2b

log = logging.getLogger("torch_lsp.server")

ENV = "TORCH_LSP_CODE_CACHE"
OFF = ("0", "off", "false", "no")
HEADER = b"torch-lsp code cache 1\n"
DIGEST = 16  # bytes of blake2b: keys and the content check
MIN_NEW = 8  # new scripts that make a warm file worth rewriting

# The flags a caller's ``from __future__`` imports give its compile() calls (without
# dont_inherit): the cached code must be compiled with the caller's, not ours. (Not
# nested_scopes' CO_NESTED, which a nested function's code has and compile() ignores.)
FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    if _name not in ("nested_scopes", "generators"):
        FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag

_plain_compile = builtins.compile

# The modules whose generated source is compiled through the cache, and the builtin
# each calls for it (a module global shadows the builtin for that module's code only):
# attrs' class methods, cattrs' converters, and the dataclasses' methods (~170
# ``exec()`` of generated source in the server's own modules, ~13 ms).
PATCHED = (("attr._make", "compile"), ("cattrs.gen", "compile"), ("cattrs.gen.typeddicts", "compile"),
           ("dataclasses", "exec"))


def cache_folder() -> str | None:
    """``TORCH_LSP_CODE_CACHE`` if it names a folder, else torch-lsp's folder in the
    platform's cache directory; None when turned off."""
    given = os.environ.get(ENV, "").strip()
    if given.lower() in OFF:
        return None
    if given:
        return given
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "torch-lsp")


def cache_file(folder: str) -> str | None:
    """The file for this interpreter in ``folder`` (None: an interpreter without a
    bytecode cache tag)."""
    tag = sys.implementation.cache_tag
    if not tag:
        return None
    return os.path.join(folder, f"codecache-{tag}-m{marshal.version}.bin")


class CodeCache:
    """The code objects of one file, and what this run used of them."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.stored: dict[bytes, bytes] = {}  # key -> marshalled code, as read
        self.used: dict[bytes, bytes] = {}  # what this run compiled or read
        self.hits = 0
        self.misses = 0
        self.new = 0  # scripts compiled since the file was read or written
        self.scheduled = False  # a save is on its way (see claim_save)
        self.load()

    # ---------------------------------------------------------------- the file
    def load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.debug("code cache: cannot read %s: %s", self.path, exc)
            return
        self.stored = _decode(data, self.path)

    def encode(self) -> bytes:
        payload = marshal.dumps(self.used)
        return HEADER + importlib.util.MAGIC_NUMBER + _digest(payload) + payload

    def worth_saving(self) -> bool:
        """Did this run compile what the file lacks: anything, if there was no file,
        else at least ``MIN_NEW`` scripts (a script that differs on every run, as
        attrs' ``__hash__`` with the string hash seed in it, is not worth a write)."""
        return self.new > 0 and (not self.stored or self.new >= MIN_NEW)

    def save(self) -> bool:
        """Write what this run used if it is worth it; True if written."""
        self.scheduled = False
        if not self.worth_saving():
            return False
        self.new = 0
        folder = os.path.dirname(self.path)
        tmp = None
        try:
            data = self.encode()
            os.makedirs(folder, exist_ok=True)
            import tempfile

            fd, tmp = tempfile.mkstemp(prefix=".codecache-", suffix=".tmp", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path)
            tmp = None
            self.stored = dict(self.used)
            log.debug("code cache: wrote %d entries (%d bytes) to %s", len(self.used), len(data), self.path)
            return True
        except (OSError, ValueError) as exc:
            log.debug("code cache: cannot write %s: %s", self.path, exc)
            return False
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    # ---------------------------------------------------------------- compile()
    def compile(self, source: Any, filename: Any, mode: str, flags: int = 0, dont_inherit: bool = False,
                optimize: int = -1, **kwargs: Any) -> Any:
        """``compile()`` for the patched modules: the stored code object for this
        source, file name and flags, else compiled (and kept)."""
        if (kwargs or mode != "exec" or optimize != -1 or type(source) is not str or type(filename) is not str
                or flags & ~FUTURE_FLAGS):
            return _plain_compile(source, filename, mode, flags, dont_inherit, optimize, **kwargs)
        if not dont_inherit:  # what compile() would inherit from the caller's module
            flags |= sys._getframe(1).f_code.co_flags & FUTURE_FLAGS
        key = _key(source, filename, flags)
        blob = self.used.get(key) or self.stored.get(key)
        if blob is not None:
            try:
                code = marshal.loads(blob)
            except (EOFError, ValueError, TypeError) as exc:
                log.debug("code cache: an unreadable entry for %s: %s", filename, exc)
                code = None
            if isinstance(code, types.CodeType):
                self.hits += 1
                self.used[key] = blob
                return code
        code = _plain_compile(source, filename, mode, flags, True)
        self.misses += 1
        try:
            self.used[key] = marshal.dumps(code)
            self.new += 1
        except ValueError as exc:  # (a code object marshal cannot write: not kept)
            log.debug("code cache: cannot keep the code for %s: %s", filename, exc)
        return code


    def exec(self, source: Any, globals: Any = None, locals: Any = None, /, **kwargs: Any) -> None:
        """``exec()`` for the patched modules: a string is compiled as ``exec()``
        would (file name ``<string>``, the caller's ``__future__`` flags) through the
        cache."""
        frame = sys._getframe(1)
        if globals is None:  # (as exec() does: the caller's namespaces)
            globals = frame.f_globals
            locals = frame.f_locals if locals is None else locals
        if type(source) is str and not kwargs:
            source = self.compile(source, "<string>", "exec", frame.f_code.co_flags & FUTURE_FLAGS, True)
        builtins.exec(source, globals, locals, **kwargs)


def _key(source: str, filename: str, flags: int) -> bytes:
    h = blake2b(digest_size=DIGEST)
    h.update(f"{flags} {sys.flags.optimize} {len(filename)} {filename}\n".encode("utf-8", "surrogatepass"))
    h.update(source.encode("utf-8", "surrogatepass"))
    return h.digest()


def _digest(payload: bytes) -> bytes:
    return blake2b(payload, digest_size=DIGEST).digest()


def _decode(data: bytes, path: str) -> dict[bytes, bytes]:
    """The entries of a cache file; {} (and a debug line) for a file this interpreter
    did not write or that was cut short or altered."""
    start = len(HEADER) + len(importlib.util.MAGIC_NUMBER) + DIGEST
    if (len(data) < start or not data.startswith(HEADER)
            or data[len(HEADER):len(HEADER) + len(importlib.util.MAGIC_NUMBER)] != importlib.util.MAGIC_NUMBER):
        log.debug("code cache: %s is not this interpreter's (ignored)", path)
        return {}
    payload = data[start:]
    if _digest(payload) != data[start - DIGEST:start]:
        log.debug("code cache: %s is damaged (ignored)", path)
        return {}
    try:
        entries = marshal.loads(payload)
    except (EOFError, ValueError, TypeError) as exc:
        log.debug("code cache: cannot read %s: %s", path, exc)
        return {}
    if not isinstance(entries, dict) or not all(type(k) is bytes and type(v) is bytes for k, v in entries.items()):
        log.debug("code cache: %s holds something else (ignored)", path)
        return {}
    return entries


_active: list[CodeCache] = []


def active() -> CodeCache | None:
    return _active[0] if _active else None


def install() -> CodeCache | None:
    """Compile the generated source of attrs and cattrs through the cache, for the
    rest of this process; None (nothing changed) when turned off or impossible."""
    if _active:
        return _active[0]
    try:
        folder = cache_folder()
        path = cache_file(folder) if folder else None
        if path is None:
            return None
        cache = CodeCache(path)
        import importlib

        for name, builtin in PATCHED:
            module = importlib.import_module(name)
            if builtin not in _names_used(module):
                log.debug("code cache: %s no longer calls %s(): not cached", name, builtin)
                continue
            setattr(module, builtin, getattr(cache, builtin))
    except Exception as exc:  # (never keeps the server from starting)
        swallowed()
        log.debug("code cache: not installed: %s", exc)
        return None
    _active.append(cache)
    log.debug("code cache: %d entries in %s", len(cache.stored), cache.path)
    return cache


def _names_used(module: types.ModuleType) -> set[str]:
    """The global names the module's functions read (whether it calls ``compile``)."""
    names: set[str] = set()
    stack = [v.__code__ for v in vars(module).values() if isinstance(v, types.FunctionType)
             and v.__module__ == module.__name__]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def claim_save() -> bool:
    """Is there something worth writing and no save already on its way? (Then the
    caller schedules ``save``: the server does, after a publish.)"""
    cache = active()
    if cache is None or cache.scheduled or not cache.worth_saving():
        return False
    cache.scheduled = True
    return True


def save() -> bool:
    """Write the active cache if this run compiled something new (see
    ``CodeCache.worth_saving``); False when there is nothing to write or no cache."""
    cache = active()
    if cache is None:
        return False
    try:
        return cache.save()
    except Exception as exc:
        swallowed()
        log.debug("code cache: not written: %s", exc)
        return False
