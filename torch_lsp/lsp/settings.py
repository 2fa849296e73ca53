"""What an editor can set: declared dataclasses, read from JSON with cattrs.

Settings arrive as ``initializationOptions`` (``{"settings": {...}}`` or the object
itself) and as the ``torch-lsp`` section of ``workspace/configuration`` /
``workspace/didChangeConfiguration``. JSON keys are the fields' names in camelCase
(``maxFileSize`` is ``max_file_size``). A value of the wrong type is a problem the
user is told about (the server shows it once); that key keeps its default and the
others apply, so one typo never turns the editor's settings off.

Values are taken as they are: a string is no number and a number no boolean (cattrs
would otherwise turn ``"false"`` into ``True``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
)
from cattrs.gen import make_dict_structure_fn, override
from lsprotocol import types as lsp

from torch_lsp.config import Overrides

SETTINGS_SECTION = "torch-lsp"
# A document is analysed only up to these sizes (settings `maxFileSize`, `maxFileLines`;
# 0: no limit). What an analysis costs follows the amount of code (~80 bytes of memory
# per byte of source at its peak, ~1 s per MB of the analysis thread, which every other
# document waits for): 2 MB cost ~160 MB and ~2 s. The largest hand-written model files
# of the benchmark corpora (transformers, timm, torchvision, twelve other libraries)
# have ~4,300 lines and ~200 KB; files ten times that are generated (tables, bundles,
# exported notebooks), where shapes have nothing to find. The line limit only catches
# files of very many short lines (a data table) below the size limit.
MAX_FILE_BYTES = 2_000_000
MAX_FILE_LINES = 100_000
LEVELS = {"error": lsp.MessageType.Error, "warning": lsp.MessageType.Warning, "info": lsp.MessageType.Info,
          "debug": lsp.MessageType.Log}


@dataclass
class RuntimeSettings:
    """``runtime``: what the editor says of runtime evaluation. A field left None is
    not said here: the project's ``[tool.torch-lsp.runtime]`` table decides it."""

    enabled: bool | None = None
    timeout: float | None = None  # seconds
    memory_mb: int | None = None
    python: str | None = None
    report_skipped: bool | None = None
    max_entry_points: int | None = None


@dataclass
class ClientSettings:
    """What an editor can set (camelCase keys in JSON)."""

    select: list[str] | None = None
    ignore: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    extend_ignore: list[str] = field(default_factory=list)
    inlay_hints: bool = True
    report_syntax_errors: bool = True
    unsafe_fixes: bool = False
    log_level: str = "info"
    # Runtime evaluation executes the workspace's code: it runs only when the client
    # enables it (a pyproject cannot: it is part of the code) and, for clients that
    # know workspace trust (VS Code), in a trusted workspace.
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    max_file_size: int = MAX_FILE_BYTES  # bytes (UTF-8); larger documents are not analysed; 0: no limit
    max_file_lines: int = MAX_FILE_LINES  # lines; 0: no limit
    workspace_trusted: bool = True
    trust_stated: bool = field(default=False, metadata={"json": False})  # did these settings say `workspaceTrusted` at all

    @property
    def runtime_enabled(self) -> bool:
        return self.runtime.enabled is True and self.workspace_trusted

    @classmethod
    def from_json(cls, data: Any, problems: list[str]) -> "ClientSettings":
        """The settings in ``data`` (the section itself, ``{"torch-lsp": {...}}`` or
        ``{"settings": {...}}``); what cannot be read is added to ``problems``."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            problems.append(f"settings: expected an object, got {type(data).__name__}; using the defaults")
            return cls()
        if isinstance(data.get(SETTINGS_SECTION), dict):  # {"torch-lsp": {...}}
            data = data[SETTINGS_SECTION]
        if isinstance(data.get("settings"), dict):  # initializationOptions: {"settings": {...}}
            data = data["settings"]
        out = _structure(data, problems)
        out.trust_stated = "workspaceTrusted" in data and out.workspace_trusted is data["workspaceTrusted"]
        return out

    def overrides(self) -> Overrides:
        return Overrides(
            select=tuple(self.select) if self.select is not None else None,
            ignore=tuple(self.ignore) if self.ignore is not None else None,
            extend_select=tuple(self.extend_select),
            extend_ignore=tuple(self.extend_ignore),
            unsafe_fixes=self.unsafe_fixes or None,
        )


# ------------------------------------------------------------------ reading JSON
def camel(name: str) -> str:
    """``max_file_size`` -> ``maxFileSize``."""
    first, *rest = name.split("_")
    return first + "".join(p.title() for p in rest)


def _exact(kind: type, also: tuple[type, ...] = ()) -> Any:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, bool) and kind is not bool or not isinstance(value, (kind, *also)):
            raise TypeError(f"must be {_NOUNS[kind]}, not {_json_type(value)}")
        return value
    return structure


_NOUNS = {bool: "a boolean", int: "an integer", str: "a string", float: "a number"}


def _codes(value: Any, _: Any) -> list[str]:
    """A list of rule codes; one code alone is a list of one."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("must be a list of rule codes")
    return list(value)


def _json_type(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def _converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True)
    conv.register_structure_hook(bool, _exact(bool))
    conv.register_structure_hook(int, _exact(int))
    conv.register_structure_hook(str, _exact(str))
    conv.register_structure_hook(float, _exact(float, (int,)))
    conv.register_structure_hook_func(lambda t: t == list[str], _codes)
    for cls in (RuntimeSettings, ClientSettings):  # inner first: the outer's function uses the inner's hook
        renames = {f.name: override(rename=camel(f.name)) if f.metadata.get("json", True) else override(omit=True)
                   for f in fields(cls)}
        # (the renames are keyed by field names, never by make_dict_structure_fn's own _cattrs_* parameters)
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **renames))  # type: ignore[arg-type]
    return conv


_CONVERTER = _converter()
_KNOWN = {cls: {camel(f.name) for f in fields(cls) if f.metadata.get("json", True)}
          for cls in (RuntimeSettings, ClientSettings)}


def _structure(data: dict, problems: list[str]) -> ClientSettings:
    """Structure ``data``; each key that fails is reported and left out (its default
    applies), then the rest is structured again."""
    data = {k: (dict(v) if k == "runtime" and isinstance(v, dict) else v) for k, v in data.items()}
    runtime = data.get("runtime")
    if isinstance(runtime, dict):  # keys runtime evaluation does not know: said, not silently dropped
        for key in [k for k in runtime if k not in _KNOWN[RuntimeSettings]]:
            problems.append(f"settings: `runtime.{key}` is not a runtime setting; ignored")
            del runtime[key]
    for _ in range(len(data) + (len(runtime) if isinstance(runtime, dict) else 0) + 1):
        try:
            out = _CONVERTER.structure(data, ClientSettings)
        except ClassValidationError as exc:
            failures = list(_failures(exc, ()))
            if not failures:
                raise
            for path, why in failures:
                problems.append(f"settings: `{'.'.join(path)}` {why}; ignored")
                _drop(data, path)
            continue
        return _checked(out, problems)
    return ClientSettings()  # (not reached: every round drops at least one key)


def _failures(exc: ClassValidationError, prefix: tuple[str, ...]):
    """(JSON path, why) of each key ``exc`` says failed."""
    for sub in exc.exceptions:
        note = next((n for n in getattr(sub, "__notes__", ()) if isinstance(n, AttributeValidationNote)), None)
        if note is None:
            continue
        path = prefix + (camel(note.name),)
        if isinstance(sub, ClassValidationError):
            found = list(_failures(sub, path))
            yield from found or [(path, "must be an object")]
        elif isinstance(sub, IterableValidationError):
            yield path, "must be a list of rule codes"
        elif isinstance(sub, (TypeError, ValueError)) and str(sub).startswith("must be"):
            yield path, str(sub)
        else:
            yield path, f"must be {'an object' if note.type in (RuntimeSettings, ClientSettings) else 'of type ' + str(note.type)}"


def _drop(data: dict, path: tuple[str, ...]) -> None:
    for key in path[:-1]:
        data = data.get(key) if isinstance(data.get(key), dict) else {}  # type: ignore[assignment]  # a dict: tested
    data.pop(path[-1], None)


def _checked(out: ClientSettings, problems: list[str]) -> ClientSettings:
    """Checks of values beyond their types."""
    default = ClientSettings()
    if out.log_level.lower() not in LEVELS:
        problems.append(f"settings: `logLevel` must be one of {', '.join(LEVELS)}; ignored")
        out.log_level = default.log_level
    out.log_level = out.log_level.lower()
    for name in ("max_file_size", "max_file_lines"):
        if getattr(out, name) < 0:
            problems.append(f"settings: `{camel(name)}` must be 0 (no limit) or more; ignored")
            setattr(out, name, getattr(default, name))
    return out
