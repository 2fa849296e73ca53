"""Per-file analysis context handed to every rule checker.

Everything is computed lazily and at most once per file version: the module
model, the import table. Rules never re-parse.
"""
from __future__ import annotations

from functools import cached_property
from typing import Callable

from torch_lsp.analysis.modules import ModuleModel
from torch_lsp.analysis.names import ImportTable
from torch_lsp.analysis.project import FileSummary, Project
from torch_lsp.analysis.source import SourceFile

# The module that turns the shape interpreter's errors into findings (a rule's code,
# the message, where it goes, the fixes), by name: the check engine
# (``torch_lsp.engine``) sets it to its rules' module, as mypy loads its plugins by
# module name. The analysis itself knows no rule; unset, the interpreter finds shapes
# and reports no finding (see ``shape_events.FindingBuilder``).
FINDINGS_MODULE: str | None = None


class AnalysisCancelled(Exception):
    """Raised inside an analysis whose ``FileContext.cancel`` returned True."""


class FileContext:
    def __init__(self, src: SourceFile, project: Project, record_shapes: bool = True):
        self.src = src
        self.project = project
        # Keep every expression's shape for hovers and inlay hints (an editor wants
        # them; a CI check does not, and saves the bookkeeping).
        self.record_shapes = record_shapes
        # Asked now and then during a long analysis; True stops it (AnalysisCancelled):
        # an editor drops the analysis of a version the user has already changed.
        self.cancel: Callable[[], bool] | None = None
        # The server's per-document cache of analysis units (see analysis/units.py);
        # None: analyse everything (the CLI).
        self.unit_cache = None
        # The file's definitions by name for the unit cache's keys (units.definitions).
        self.definitions = None

    @cached_property
    def summary(self) -> FileSummary:
        return self.project.summary_for_source(self.src)

    @property
    def imports(self) -> ImportTable:
        return self.summary.imports

    @cached_property
    def model(self) -> ModuleModel:
        model = ModuleModel.of(self.summary, self.project)
        if self.unit_cache is not None and self.src.tree is not None and model.reuse is None:
            from torch_lsp.analysis.units import ClassInfoReuse

            model.reuse = ClassInfoReuse(self, self.unit_cache)
        return model

    @cached_property
    def shapes(self):
        """The abstract interpreter's run over this file (shapes, findings), or None
        when the shape engine is unavailable."""
        from torch_lsp.analysis.interpreter import Interpreter

        interp = Interpreter(self, record=self.record_shapes)
        try:
            interp.run()
        except RecursionError:
            pass
        return interp

    def release(self) -> None:
        """Drop everything this analysis built. Its values refer to each other
        (summary <-> module model, interpreter values <-> environments), so
        without this the file's syntax tree waits for the cyclic garbage
        collector; after it, reference counting frees the tree at once (a batch
        check calls this after each file). The context is unusable afterwards."""
        for name in ("shapes", "model", "summary"):
            part = self.__dict__.get(name)
            if part is not None and hasattr(part, "__dict__"):
                part.__dict__.clear()
        self.__dict__.clear()

    def name_for(self, qualified: str) -> str | None:
        """How this file can spell ``qualified`` (``torch.nn.Parameter`` ->
        ``nn.Parameter``), or None when it imports nothing that reaches it."""
        return self.imports.local_name_for(qualified)
