"""The package type-checks: `mypy torch_lsp` (configured in pyproject.toml) reports
nothing. Annotations are how the analysis' values, findings and the server's state
are documented; a wrong one misleads the next reader as much as a wrong comment."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_reports_nothing(tmp_path):
    pytest.importorskip("mypy", reason="mypy comes with the [test] extra; without it the types are not checked here")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "torch_lsp"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)
