"""Resolve names in a file to fully qualified dotted names.

``import torch.nn as tnn`` makes ``tnn.Linear`` resolve to ``torch.nn.Linear``;
``from torch.nn import Module`` makes ``Module`` resolve to ``torch.nn.Module``;
``from .base import Block`` resolves against the file's own package. The table is
built from the module's top-level statements (including those nested in top-level
``if``/``try`` blocks, e.g. ``if TYPE_CHECKING:``).

Qualified names are canonicalised for torch (``torch.nn.modules.conv.Conv2d`` and
``torch.nn.Conv2d`` are the same class) by ``torch_lsp.analysis.torch_api``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass
class ImportTable:
    """Local name -> qualified dotted name, for one module."""

    module_name: str | None = None  # dotted name of this file, when known
    is_package: bool = False  # this file is a package's __init__.py
    names: dict[str, str] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    import_nodes: dict[str, ast.stmt] = field(default_factory=dict)

    @classmethod
    def build(cls, tree: ast.Module, module_name: str | None = None, is_package: bool = False) -> "ImportTable":
        table = cls(module_name=module_name, is_package=is_package)
        for stmt in _top_level_statements(tree.body):
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        table.names[alias.asname] = alias.name
                        table.import_nodes[alias.asname] = stmt
                    else:
                        head = alias.name.split(".")[0]
                        table.names.setdefault(head, head)
                        table.import_nodes.setdefault(head, stmt)
            elif isinstance(stmt, ast.ImportFrom):
                base = table.absolute_module(stmt.module, stmt.level)
                if base is None:
                    continue
                for alias in stmt.names:
                    if alias.name == "*":
                        table.star_imports.append(base)
                        continue
                    local = alias.asname or alias.name
                    table.names[local] = f"{base}.{alias.name}" if base else alias.name
                    table.import_nodes[local] = stmt
        return table

    def absolute_module(self, module: str | None, level: int) -> str | None:
        """The absolute dotted name of ``from <level dots><module> import``."""
        if level == 0:
            return module
        if not self.module_name:
            # Unknown package: keep the relative form so a resolver can still follow it.
            return "." * level + (module or "")
        parts = self.module_name.split(".")
        if not self.is_package:
            parts = parts[:-1]
        if level - 1 > len(parts):
            return None
        if level > 1:
            parts = parts[: len(parts) - (level - 1)]
        base = ".".join(parts)
        if module:
            return f"{base}.{module}" if base else module
        return base

    def qualify(self, node: ast.AST, local_classes: dict[str, str] | None = None) -> str | None:
        """``nn.Linear`` -> ``torch.nn.Linear``; None if the head name is unknown."""
        root = node
        while type(root) is ast.Attribute:  # the head first: most expressions have no known one
            root = root.value  # type: ignore[attr-defined]
        if type(root) is not ast.Name:
            return None
        name = root.id  # type: ignore[attr-defined]
        head = None
        if local_classes and name in local_classes:
            head = local_classes[name]
        elif name in self.names:
            head = self.names[name]
        if head is None:
            return None
        parts: list[str] = []
        while type(node) is ast.Attribute:
            parts.append(node.attr)  # type: ignore[attr-defined]
            node = node.value  # type: ignore[attr-defined]
        parts.append(head)
        return ".".join(reversed(parts))

    def local_name_for(self, qualified: str) -> str | None:
        """The shortest expression in this file that names ``qualified``.

        ``torch.nn.ModuleList`` -> ``nn.ModuleList`` when ``torch.nn`` is imported as
        ``nn``; -> ``torch.nn.ModuleList`` when only ``torch`` is; None otherwise.
        """
        best: str | None = None
        for local, target in self.names.items():
            if qualified == target:
                cand = local
            elif qualified.startswith(target + "."):
                cand = local + qualified[len(target) :]
            else:
                continue
            if best is None or len(cand) < len(best):
                best = cand
        return best


def _top_level_statements(body: list[ast.stmt]):
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _top_level_statements(stmt.body)
            yield from _top_level_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try) or (hasattr(ast, "TryStar") and isinstance(stmt, getattr(ast, "TryStar"))):
            yield from _top_level_statements(stmt.body)
            for handler in stmt.handlers:
                yield from _top_level_statements(handler.body)
            yield from _top_level_statements(stmt.orelse)
            yield from _top_level_statements(stmt.finalbody)
