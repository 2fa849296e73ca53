"""Strict mode (``TORCH_LSP_STRICT``, torch_lsp/strict.py): the errors torch-lsp swallows
to keep a user's check going are raised instead. The test suite runs in it
(conftest.py), so a bug in a shape function fails a test instead of showing up as a
missing diagnostic."""
import pytest

import torch_lsp.analysis.ops as O
import torch_lsp.strict as strict
from torch_lsp.engine import check_source

TRANSPOSED = b"import torch\nx = torch.randn(2, 3)\ny = x.T\n"


def _broken(*args, **kwargs):
    raise NameError("name 'shape_of' is not defined")  # the kind of slip strict mode is for


def test_the_suite_runs_strict():
    assert strict.enabled() and strict._ON


def test_an_error_in_a_shape_function_is_raised_in_strict_mode(monkeypatch):
    monkeypatch.setattr(O, "permute", _broken)
    with pytest.raises(NameError, match="shape_of"):
        check_source(TRANSPOSED, "t.py")


def test_users_get_the_analysis_without_the_failing_op(monkeypatch, lenient):
    monkeypatch.setattr(O, "permute", _broken)
    result = check_source(TRANSPOSED, "t.py")
    assert result.diagnostics == []


@pytest.mark.parametrize("value, on", [("", False), ("0", False), ("1", True), ("yes", True)])
def test_the_environment_variable(monkeypatch, value, on):
    monkeypatch.setenv(strict.ENV_VAR, value)
    assert strict.enabled() is on
