"""Strict mode: errors torch-lsp swallows to keep users' checks going are raised.

The analysis guards its transfer functions, the CLI each file and the server each
job with ``except Exception``, so that a bug in torch-lsp costs one diagnostic, one
file or one request, never the session. The price is that a bug shows only as a
missing diagnostic ("All checks passed!"). With ``TORCH_LSP_STRICT=1`` in the
environment those blocks re-raise instead; the test suite runs that way
(``tests/conftest.py``), so a ``NameError`` in a shape function fails a test at once.

Use it inside an ``except`` block, before the fallback::

    try:
        res = fn(*args)
    except Exception:
        swallowed()  # raises again in strict mode
        return TensorV(None)
"""
from __future__ import annotations

import os

ENV_VAR = "TORCH_LSP_STRICT"


def enabled() -> bool:
    """Is strict mode on (``TORCH_LSP_STRICT`` set to anything but ``""`` or ``"0"``)?"""
    return os.environ.get(ENV_VAR, "") not in ("", "0")


_ON = enabled()


def swallowed() -> None:
    """Called in an ``except`` block that swallows an error: in strict mode the error
    being handled is raised again."""
    if _ON:
        raise  # noqa: PLE0704 - re-raises the exception being handled by the caller

