"""The language server: a thin pygls 2.x shell over the analysis library.

Every open Python document is analysed by ``torch_lsp.engine`` (the same
code ``torch-lsp check`` runs, so editor and CI agree) on one background thread,
so the message loop keeps answering while an analysis runs. An analysis is for one
document version: a newer version cancels it, and a result is only ever published
for the version it was computed from.

Memory stays bounded with the number of open documents: only the most recently used
keep their whole analysis (``FULL_DOCUMENTS``); the others keep what hovers, hints,
code actions and diagnostics read (``Result.compacted``). A closed document's
analysis is released at once, and a document over ``maxFileSize``/``maxFileLines``
is not analysed (one information diagnostic says why).

    torch-lsp serve            # stdio (``--stdio`` is accepted and ignored)
    torch-lsp serve --tcp 127.0.0.1:2087
    python -m torch_lsp serve

Client settings (``initializationOptions`` or the ``torch-lsp`` section of
``workspace/configuration``; see ``torch_lsp.lsp.settings``) override the project's
``[tool.torch-lsp]`` table, which is reloaded when a pyproject.toml changes.

This module puts the server together: ``TorchLanguageServer``
(``torch_lsp/lsp/language_server.py``: the analysis queue and thread, results,
publishing) and one module per LSP method (``torch_lsp/lsp/features/``).
"""
from __future__ import annotations

import sys

from torch_lsp.lsp.features import all_features
from torch_lsp.lsp.language_server import SWITCH_INTERVAL, TorchLanguageServer
from torch_lsp.lsp.protocol import run_stdio

# Names other code and tests import from here.
from torch_lsp.lsp.settings import ClientSettings  # noqa: F401
from torch_lsp.lsp.state import DocState, ShapeSnapshot  # noqa: F401


def create_server() -> TorchLanguageServer:
    server = TorchLanguageServer()
    for feature in all_features():
        server.feature(feature.method, feature.options)(feature.handler)
    return server


def serve(tcp: str | None = None) -> int:
    from torch_lsp.lsp import startup

    startup.prepare()  # (`torch-lsp serve` did it before importing this module)
    # The message loop, the thread that reads stdin for it and the analysis thread
    # share the GIL: a thread that wants it waits up to this long for the one running
    # Python code (5 ms by default). Each message takes several hand-overs between
    # the reader and the loop: during a burst of edits across 50 files hovers took
    # 36 ms at the median and up to 0.2-0.3 s with 5 ms, 15 ms and 70-80 ms with 1 ms
    # (benchmarks/workspace_load.py); a single document's edit latency is the same.
    sys.setswitchinterval(SWITCH_INTERVAL)
    server = create_server()
    startup.imports_done()
    if tcp:
        host, _, port = tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    return run_stdio(server)
