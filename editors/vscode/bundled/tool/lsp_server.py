"""Runs the torch-lsp bundled with the VS Code extension: ``python lsp_server.py serve``.

The extension runs this file with the interpreter it selected (the Python extension's,
``torch-lsp.interpreter`` or ``python3``); ``bundled/libs`` (filled by ``npm run bundle``)
holds torch-lsp and its pure-Python dependencies. ``TORCH_LSP_IMPORT_STRATEGY``:

- ``useBundled`` (the default): ``bundled/libs`` comes first on ``sys.path``, so the
  bundled torch-lsp, pygls, ... are used even when the interpreter has other versions;
- ``fromEnvironment``: ``bundled/libs`` comes last, so the interpreter's own torch-lsp
  (and dependencies) are used when it has them, the bundled ones otherwise.

Any arguments after the script are torch-lsp's (``serve``, ``summary FILE``, ``--version``).
Running a script (not ``-m``) puts this folder, not the working directory, first on
``sys.path``: a workspace file named like a module the server imports cannot shadow it.
"""
import os
import sys

if sys.version_info < (3, 10):
    sys.stderr.write("torch-lsp needs Python 3.10 or newer; %s is Python %d.%d: select another interpreter "
                     "(torch-lsp.interpreter)\n" % (sys.executable, sys.version_info[0], sys.version_info[1]))
    sys.exit(3)

LIBS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "libs")
if not os.path.isdir(os.path.join(LIBS, "torch_lsp")):
    sys.stderr.write("torch-lsp: the bundled server is missing (%s): build the extension with `npm run bundle`\n" % LIBS)
    sys.exit(4)

if os.environ.get("TORCH_LSP_IMPORT_STRATEGY", "useBundled") == "fromEnvironment":
    sys.path.append(LIBS)
else:
    sys.path.insert(0, LIBS)

if __name__ == "__main__":
    from torch_lsp.cli import run

    sys.argv[0] = "torch-lsp"
    run()
