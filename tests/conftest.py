import os
import textwrap

# Strict mode (torch_lsp/strict.py): an error torch-lsp would swallow to keep a user's
# check going fails the test instead. Set before torch_lsp is imported; the CLI and
# server processes the tests start inherit it.
os.environ.setdefault("TORCH_LSP_STRICT", "1")
# The batch check's cache (torch_lsp/cache.py) is off: a test that checks a file must
# check it, not read what another test left. tests/test_cache.py turns it on.
os.environ.setdefault("TORCH_LSP_NO_CACHE", "1")
# The servers the tests start keep their compiled attrs/cattrs code
# (torch_lsp/lsp/codecache.py) in a folder of this test run, not the user's cache.
if "TORCH_LSP_CODE_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["TORCH_LSP_CODE_CACHE"] = tempfile.mkdtemp(prefix="torch-lsp-test-codecache-")
    atexit.register(shutil.rmtree, os.environ["TORCH_LSP_CODE_CACHE"], True)

import pytest  # noqa: E402

from torch_lsp.engine import check_source  # noqa: E402
from torch_lsp.analysis.fixes import apply_fixes  # noqa: E402
from torch_lsp.analysis.project import Project  # noqa: E402

@pytest.fixture
def lenient(monkeypatch):
    """What users get: torch-lsp's own errors are swallowed (reported per file or
    logged) instead of raised as in the tests' strict mode."""
    import torch_lsp.strict as strict

    monkeypatch.setattr(strict, "_ON", False)


HEADER = "import torch\nimport torch.nn as nn\n\n"

# The editor and integration tests' buggy model: `nn.Linear(30, 5)` receives the 20
# features of `nn.Linear(10, 20)` (TL201 at line 9, column 30; the fix sets 20).
TWO_LINEARS = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(10, 20)
            self.fc2 = nn.Linear(30, 5)

        def forward(self, x):
            h = self.fc1(x)
            return self.fc2(h)


    model = Net()
    out = model(torch.randn(4, 10))
""")


def run(code: str, path: str | None = None, header: bool = True, project: Project | None = None):
    """Diagnostics for a snippet (dedented; the torch imports prepended unless header=False)."""
    text = (HEADER if header else "") + textwrap.dedent(code).lstrip("\n")
    return text, check_source(text, path, project=project or Project(use_jedi=False)).diagnostics


def codes(code: str, **kw) -> list[tuple[str, int]]:
    """(code, 1-based line) of each diagnostic; lines count from the snippet's first line."""
    offset = 3 if kw.get("header", True) else 0
    _, diags = run(code, **kw)
    return [(d.code, d.range.start.line + 1 - offset) for d in diags]


def fix_and_recheck(code: str, rule_code: str, fix_index: int = 0):
    """Apply one fix of the first `rule_code` diagnostic; return (fixed text, new diagnostics)."""
    text, diags = run(code)
    target = next(d for d in diags if d.code == rule_code)
    fixed = apply_fixes(text, [target.fixes[fix_index]])
    compile(fixed, "<fixed>", "exec")
    return fixed, check_source(fixed, None, project=Project(use_jedi=False)).diagnostics


@pytest.fixture
def check():
    return codes
