"""Settings from ``[tool.torch-lsp]`` in ``pyproject.toml``, merged with overrides.

Shared by the CLI and (later) the language server, so nothing here prints: problems
come back as ``ConfigError`` (the configuration cannot be used) or as warning
strings on ``Settings.warnings`` / ``ConfigResolver.warnings``.

    [tool.torch-lsp]
    select = ["TL1", "TL000"]          # code prefixes; "ALL" = every rule (default)
    ignore = ["TL105"]
    per-file-ignores = { "tests/*" = ["TL101"] }
    exclude = ["generated"]            # replaces the default excludes
    extend-exclude = ["scratch/*.py"]  # added to the default excludes
    unsafe-fixes = false
    [tool.torch-lsp.runtime]           # accepted as is; read by the runtime evaluation

Rule selection (ruff's model): every selector is a code prefix with a priority
(command line over configuration file) and a specificity (its length). For a code,
the matching selector with the highest (priority, specificity) decides; an ignore
wins a tie. ``--select`` replaces the file's ``select`` and ``--ignore`` its
``ignore``; ``--extend-select``/``--extend-ignore`` add to them. A per-file ignore
always wins.

Globs (``exclude``, ``per-file-ignores``) are matched against the path relative to
the directory of the pyproject.toml that declared them (the current directory when
there is none); a glob without ``/`` also matches the file or directory name alone.
``*`` also matches ``/``, so ``tests/*`` covers everything below ``tests``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from fnmatch import translate
from typing import Any, Callable, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef, import-not-found]

SECTION = "torch-lsp"
ALL = "ALL"

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)

_LIST_KEYS = ("select", "ignore", "exclude", "extend-exclude")
KNOWN_KEYS = frozenset(_LIST_KEYS + ("per-file-ignores", "unsafe-fixes", "runtime"))


class ConfigError(Exception):
    """The configuration cannot be used. ``str(err)`` is one line naming the file."""

    def __init__(self, path: str | None, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{display_path(path)}: {message}" if path else message)


def display_path(path: str | None) -> str:
    """A path as a user would write it: relative to the current directory when below it."""
    if not path:
        return ""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


# --------------------------------------------------------------------- selection
def _rule_codes() -> tuple[str, ...]:
    from torch_lsp.rules import RULES

    return tuple(RULES)


def _rule_names() -> dict[str, str]:
    from torch_lsp.rules import RULES

    return {r.name: r.code for r in RULES.values()}


def selector_code(value: str) -> str | None:
    """The code prefix a selector stands for: ``ALL``, a code or code prefix
    (``TL2``, ``TL201``, any case) or a rule name (``unregistered-tensor``, which
    stands for its code). None when it matches no rule (a typo, an empty string)."""
    text = value.strip()
    if not text:
        return None
    if text.upper() == ALL:
        return ALL
    code = _rule_names().get(text.lower())
    if code is not None:
        return code
    upper = text.upper()
    return upper if any(c.startswith(upper) for c in _rule_codes()) else None


def closest_selector(value: str) -> str | None:
    """The valid selector nearest to a bad one (codes, family prefixes, rule names)."""
    import difflib

    codes = _rule_codes()
    text = value.strip()
    if not text:
        return None
    if text[:2].upper() == "TL" or text[:1].isdigit():
        pool = list(codes) + sorted({c[:3] for c in codes})
        found = difflib.get_close_matches(text.upper(), pool, n=1, cutoff=0.5)
    else:
        found = difflib.get_close_matches(text.lower(), list(_rule_names()), n=1, cutoff=0.5)
    return found[0] if found else None


def invalid_selector(value: str, where: str) -> str:
    """``invalid value 'TL2O1' for '--select'``, with the closest valid selector.
    ``where`` is quoted by the caller (``'--select'``, ``'select' in [tool.torch-lsp]``)."""
    near = closest_selector(value)
    hint = f"; did you mean '{near}'?" if near else ""
    return (f"invalid value '{value}' for {where}: not a rule code, code prefix or rule name"
            f" (`torch-lsp rules` lists them){hint}")


def resolve_selectors(values: list[str] | tuple[str, ...], where: str, path: str | None = None) -> tuple[str, ...]:
    """Each selector as a code prefix (names become their codes); ConfigError naming
    the first that matches no rule."""
    out = []
    for v in values:
        code = selector_code(v)
        if code is None:
            raise ConfigError(path, invalid_selector(v, where))
        out.append(code)
    return tuple(out)


def unknown_selectors(values: tuple[str, ...] | list[str]) -> list[str]:
    """The selectors among ``values`` that match no known rule ("ALL" is always known)."""
    return [v for v in values if selector_code(v) is None]


@dataclass(frozen=True)
class RuleSelection:
    """``code -> enabled`` for one file. Picklable, so it can go to worker processes."""

    selectors: tuple[tuple[int, str, bool], ...]  # (priority, prefix, is_select); "" = ALL
    always_off: tuple[str, ...] = ()  # per-file ignores

    def __call__(self, code: str) -> bool:
        if any(code.startswith(p) for p in self.always_off):
            return False
        best: tuple[int, int, int] | None = None  # (priority, specificity, ignore wins ties)
        enabled = False
        for priority, prefix, is_select in self.selectors:
            if code.startswith(prefix):
                key = (priority, len(prefix), 0 if is_select else 1)
                if best is None or key > best:
                    best, enabled = key, is_select
        return enabled


@dataclass(frozen=True)
class Overrides:
    """Settings given outside the file (command-line flags, editor settings): they win."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    extend_ignore: tuple[str, ...] = ()
    unsafe_fixes: bool | None = None

    def resolved(self) -> "Overrides":
        """The same overrides with every selector a code prefix (rule names become
        their codes); ConfigError naming the flag and the first selector that
        matches no rule."""
        return replace(
            self,
            select=None if self.select is None else resolve_selectors(self.select, "'--select'"),
            ignore=None if self.ignore is None else resolve_selectors(self.ignore, "'--ignore'"),
            extend_select=resolve_selectors(self.extend_select, "'--extend-select'"),
            extend_ignore=resolve_selectors(self.extend_ignore, "'--extend-ignore'"),
        )


# --------------------------------------------------------------------- globs
def _norm_rel(path: str) -> str:
    return path.replace(os.sep, "/")


def _normalise_glob(pattern: str) -> str:
    pat = pattern.strip()
    if pat.startswith("./"):
        pat = pat[2:]
    return pat.rstrip("/") or pat


def _rel_variants(pat: str) -> set[str]:
    variants = {pat}
    if pat.startswith("**/"):
        variants.add(pat[3:])
    if "/**/" in pat:
        variants.add(pat.replace("/**/", "/"))
    return variants


def glob_matches(pattern: str, rel: str, name: str, abspath: str) -> bool:
    """Does a configuration glob match a path? ``rel``: the path relative to the
    configuration's root with forward slashes ('' when outside it), ``name``: its last
    component, ``abspath``: for absolute globs."""
    return globset((pattern,)).matches(rel, name, abspath)


class GlobSet:
    """Patterns compiled once (the walk tests every file and directory against every
    exclude): a plain name such as ``build`` is a set look-up on the entry's name, the
    rest one compiled regex each. ``needs_path`` says whether ``rel``/``abspath`` are
    read at all, so a walk with only plain names never computes relative paths."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.names: set[str] = set()
        self.name_or_rel: list[Callable[[str], Any]] = []  # no `/`: the name, or the whole rel
        self.rel: list[Callable[[str], Any]] = []
        self.absolute: list[Callable[[str], Any]] = []
        for pattern in patterns:
            pat = _normalise_glob(pattern)
            if os.path.isabs(pat):
                self.absolute.append(_compile(_norm_rel(pat)))
            elif "/" not in pat:
                if _MAGIC.search(pat):
                    self.name_or_rel.append(_compile(pat))
                else:  # rel == pat would mean rel has no `/`, so it is the name
                    self.names.add(pat)
            else:
                self.rel.extend(_compile(v) for v in _rel_variants(pat))
        self.needs_path = bool(self.name_or_rel or self.rel or self.absolute)

    def matches(self, rel: str, name: str, abspath: str) -> bool:
        if name in self.names:
            return True
        if any(m(name) or (rel and m(rel)) for m in self.name_or_rel):
            return True
        if rel and any(m(rel) for m in self.rel):
            return True
        if self.absolute:
            a = _norm_rel(abspath)
            return any(m(a) for m in self.absolute)
        return False


_MAGIC = re.compile(r"[*?\[]")


def _compile(pattern: str) -> Callable[[str], Any]:
    return re.compile(translate(pattern)).match


@lru_cache(maxsize=64)
def globset(patterns: tuple[str, ...]) -> GlobSet:
    return GlobSet(patterns)


# --------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Settings:
    """The configuration that applies to the files below one pyproject.toml."""

    root: str  # absolute directory the globs are relative to
    config_path: str | None = None  # the pyproject.toml, None: built-in defaults
    select: tuple[str, ...] | None = None  # None: every rule
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    extend_exclude: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    runtime: Mapping[str, Any] = field(default_factory=dict)
    overrides: Overrides = Overrides()
    warnings: tuple[str, ...] = ()  # problems found while reading the file

    # ------------------------------------------------------------------ rules
    def with_overrides(self, overrides: Overrides) -> "Settings":
        unsafe = self.unsafe_fixes if overrides.unsafe_fixes is None else overrides.unsafe_fixes
        return replace(self, overrides=overrides, unsafe_fixes=unsafe)

    def _selectors(self) -> tuple[tuple[int, str, bool], ...]:
        o = self.overrides
        out: list[tuple[int, str, bool]] = []
        if o.select is not None:
            out += [(1, _prefix(c), True) for c in o.select]
        else:
            out += [(0, _prefix(c), True) for c in (self.select if self.select is not None else (ALL,))]
        if o.ignore is not None:
            out += [(1, _prefix(c), False) for c in o.ignore]
        else:
            out += [(0, _prefix(c), False) for c in self.ignore]
        out += [(1, _prefix(c), True) for c in o.extend_select]
        out += [(1, _prefix(c), False) for c in o.extend_ignore]
        return tuple(out)

    def enabled_for(self, path: str | None = None) -> Callable[[str], bool]:
        """Which codes to report for the file at ``path`` (selection + per-file ignores)."""
        off: list[str] = []
        if path is not None and self.per_file_ignores:
            rel, name, abspath = self._relative(path)
            for pattern, codes in self.per_file_ignores:
                if globset((pattern,)).matches(rel, name, abspath):
                    off.extend(_prefix(c) for c in codes)
        return RuleSelection(self._selectors(), tuple(off))

    # ------------------------------------------------------------------ files
    @property
    def exclude_patterns(self) -> tuple[str, ...]:
        return tuple(self.exclude) + tuple(self.extend_exclude)

    def _relative(self, path: str) -> tuple[str, str, str]:
        abspath = os.path.abspath(path)
        name = os.path.basename(abspath)
        try:
            rel = os.path.relpath(abspath, self.root)
        except ValueError:
            rel = ".."
        rel = "" if rel == ".." or rel.startswith(".." + os.sep) else _norm_rel(rel)
        return ("" if rel == "." else rel), name, abspath

    def is_excluded(self, path: str, *, ancestors: bool = True, is_dir: bool | None = None) -> bool:
        """Is ``path`` excluded: by a glob, or as a directory holding ``pyvenv.cfg``?

        With ``ancestors`` the directories between the configuration root and the path
        count too (a file inside ``build/`` is excluded); the directory walk, which
        never enters an excluded directory, tests each entry alone. ``is_dir=False``
        saves the ``pyvenv.cfg`` look-up for a known file.
        """
        globs = globset(self.exclude_patterns)
        if not ancestors and not globs.needs_path:  # the walk with plain-name excludes
            if os.path.basename(path) in globs.names:
                return True
            return is_dir is not False and os.path.isfile(os.path.join(path, "pyvenv.cfg"))
        rel, name, abspath = self._relative(path)
        if self._excluded_one(globs, rel, name, abspath, is_dir is not False):
            return True
        if ancestors and rel:
            parts = rel.split("/")
            for i in range(len(parts) - 1, 0, -1):
                sub = "/".join(parts[:i])
                sub_abs = os.path.join(self.root, *parts[:i])
                if self._excluded_one(globs, sub, parts[i - 1], sub_abs, True):
                    return True
        return False

    @staticmethod
    def _excluded_one(globs: GlobSet, rel: str, name: str, abspath: str, maybe_dir: bool) -> bool:
        if globs.matches(rel, name, abspath):
            return True
        return maybe_dir and os.path.isfile(os.path.join(abspath, "pyvenv.cfg"))


def _prefix(code: str) -> str:
    code = code.strip().upper()
    return "" if code == ALL else code


# --------------------------------------------------------------------- loading
def read_pyproject(path: str) -> dict[str, Any]:
    """The parsed TOML file; ConfigError when it cannot be read or parsed."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"invalid TOML: not UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(path, exc.strerror or str(exc)) from None


def section_of(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tool = doc.get("tool")
    if not isinstance(tool, Mapping):
        return None
    return tool.get(SECTION)


def _string_list(path: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(path, f"[tool.{SECTION}] {key}: expected a list of strings, got {_type_name(value)}")
    return tuple(value)


def _type_name(value: Any) -> str:
    if isinstance(value, list):
        bad = next((v for v in value if not isinstance(v, str)), None)
        return f"a list holding {_type_name(bad)}" if bad is not None else "a list"
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a float", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def settings_from_section(path: str, section: Any) -> Settings:
    """Validate ``[tool.torch-lsp]`` of the file at ``path``."""
    root = os.path.dirname(os.path.abspath(path))
    if not isinstance(section, Mapping):
        raise ConfigError(path, f"[tool.{SECTION}] must be a table, got {_type_name(section)}")
    warnings: list[str] = []
    values: dict[str, Any] = {}
    shown = display_path(path)
    for key, value in section.items():
        if key not in KNOWN_KEYS:
            hint = key.replace("_", "-")
            extra = f" (did you mean '{hint}'?)" if hint in KNOWN_KEYS else ""
            warnings.append(f"{shown}: unknown key '{key}' in [tool.{SECTION}]{extra}")
            continue
        if key in _LIST_KEYS:
            values[key] = _string_list(path, key, value)
        elif key == "per-file-ignores":
            if not isinstance(value, Mapping):
                raise ConfigError(path, f"[tool.{SECTION}] per-file-ignores: expected a table of glob = [codes], got {_type_name(value)}")
            values[key] = tuple((glob, _string_list(path, f"per-file-ignores.{glob!r}", codes)) for glob, codes in value.items())
        elif key == "unsafe-fixes":
            if not isinstance(value, bool):
                raise ConfigError(path, f"[tool.{SECTION}] unsafe-fixes: expected true or false, got {_type_name(value)}")
            values[key] = value
        elif key == "runtime":
            if not isinstance(value, Mapping):
                raise ConfigError(path, f"[tool.{SECTION}] runtime: expected a table, got {_type_name(value)}")
            values[key] = dict(value)

    def codes(key: str, raw: tuple[str, ...]) -> tuple[str, ...]:
        return resolve_selectors(raw, f"'{key}' in [tool.{SECTION}]", path)

    select = codes("select", values["select"]) if "select" in values else None
    ignore = codes("ignore", values.get("ignore", ()))
    pfi = []
    for glob, raw in values.get("per-file-ignores", ()):
        pfi.append((glob, codes(f"per-file-ignores.{glob!r}", raw)))
    return Settings(
        root=root,
        config_path=os.path.abspath(path),
        select=select,
        ignore=ignore,
        per_file_ignores=tuple(pfi),
        exclude=values.get("exclude", DEFAULT_EXCLUDES),
        extend_exclude=values.get("extend-exclude", ()),
        unsafe_fixes=values.get("unsafe-fixes", False),
        runtime=values.get("runtime", {}),
        warnings=tuple(warnings),
    )


def load_settings(path: str) -> Settings:
    """Settings of one pyproject.toml (defaults rooted there when it has no section)."""
    section = section_of(read_pyproject(path))
    if section is None:
        return Settings(root=os.path.dirname(os.path.abspath(path)), config_path=os.path.abspath(path))
    return settings_from_section(path, section)


class ConfigResolver:
    """Finds the settings for each checked path: the nearest pyproject.toml (searching
    upward from the path's directory) that has a ``[tool.torch-lsp]`` table, or the one
    given explicitly. Caches per directory. ``settings_for`` raises ConfigError."""

    def __init__(self, overrides: Overrides = Overrides(), config_file: str | None = None, cwd: str | None = None) -> None:
        overrides = overrides.resolved()  # raises ConfigError for an unknown selector
        self.overrides = overrides
        self.cwd = os.path.abspath(cwd or os.getcwd())
        self._by_dir: dict[str, Settings] = {}
        self._files: dict[str, Settings | None] = {}  # pyproject.toml -> its settings (None: no table)
        self.warnings: list[str] = []
        self._fixed: Settings | None = None
        if config_file is not None:
            if not os.path.isfile(config_file):
                raise ConfigError(config_file, "No such file" if not os.path.exists(config_file) else "not a file")
            self._fixed = self._load(os.path.abspath(config_file), explicit=True)
        self._default = Settings(root=self.cwd).with_overrides(overrides)

    def _load(self, path: str, explicit: bool = False) -> Settings | None:
        """Settings of a pyproject.toml with our table (any file, when explicit)."""
        if path not in self._files:
            section = section_of(read_pyproject(path))
            settings = None
            if section is not None:
                settings = settings_from_section(path, section)
            elif explicit:
                settings = Settings(root=os.path.dirname(path), config_path=path)
            if settings is not None:
                settings = settings.with_overrides(self.overrides)
                self.warnings.extend(w for w in settings.warnings if w not in self.warnings)
            self._files[path] = settings
        return self._files[path]

    def settings_for(self, path: str, *, is_dir: bool | None = None) -> Settings:
        """The settings of a file or directory (``is_dir``: which, when known)."""
        if self._fixed is not None:
            return self._fixed
        path = os.path.abspath(path)
        directory = path if (os.path.isdir(path) if is_dir is None else is_dir) else os.path.dirname(path)
        return self._for_dir(directory)

    def _for_dir(self, directory: str) -> Settings:
        cached = self._by_dir.get(directory)
        if cached is not None:
            return cached
        candidate = os.path.join(directory, "pyproject.toml")
        found = self._load(candidate) if os.path.isfile(candidate) else None
        if found is None:
            parent = os.path.dirname(directory)
            found = self._default if parent == directory else self._for_dir(parent)
        self._by_dir[directory] = found
        return found
