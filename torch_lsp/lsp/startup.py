"""What ``torch-lsp serve`` sets up before it imports pygls and lsprotocol.

- logging (``TORCH_LSP_LOG``), so that what follows can log;
- only young collections during the imports: the full ones scanned everything the
  imports had made so far, again and again (20-40 ms); none at all leaves ~17,000
  objects of cyclic garbage (the classes attrs replaces by slotted ones), +9 MB of
  RSS for the whole session. Once the server is built ``serve`` freezes what the
  imports made (never scanned, as ``_settle_memory`` in ``language_server`` does
  after each analysis) and sets the session's thresholds;
- the cache of compiled attrs/cattrs code (``codecache``), which must be in place
  before lsprotocol builds its classes.

Only the ``serve`` command calls ``prepare`` (the CLI's other commands import none of
this; tests that import the server in-process run without the code cache).
"""
from __future__ import annotations

import gc
import logging
import os

from torch_lsp.lsp import codecache

_done: list[bool] = []


def prepare() -> None:
    if _done:
        return
    _done.append(True)
    level = os.environ.get("TORCH_LSP_LOG", "").upper()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if level in ("DEBUG", "INFO", "WARNING", "ERROR"):
        logging.getLogger("torch_lsp.server").setLevel(level)
    gc.set_threshold(700, 1000, 1000)  # young collections only (until imports_done)
    codecache.install()


def imports_done() -> None:
    """The server's modules are imported: what they made is frozen, and the collector
    runs on young objects less often (see _settle_memory)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
