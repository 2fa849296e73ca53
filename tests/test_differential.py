"""Differential test: the static shape engine against torch on the meta device.

Random stacks of layers and tensor ops (``differential_gen``), mostly valid, some with
one injected mistake. Wherever the engine states a dimension as an int (for the call
site's output, and for each ``x = ...`` line of ``forward`` torch ran) it must equal
torch's; wherever it reports a TL2xx, torch must raise, at the step the diagnostic
names. Misses (torch raises, the engine is silent) and unknown shapes are allowed.

The long run (10,000+ examples, with counts) is ``benchmarks/differential.py``.
"""
import warnings

import pytest

torch = pytest.importorskip("torch", reason="torch is an optional extra; the differential test runs real torch")
hypothesis = pytest.importorskip("hypothesis", reason="the differential test generates programs with hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from differential_gen import check_program, describe, programs  # noqa: E402


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_engine_agrees_with_torch(prog):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's UserWarnings (padding='same', InstanceNorm sizes)
        outcome, t, e = check_program(prog)
    assert not outcome.disagreements, "engine and torch disagree:\n" + describe(prog, outcome, t, e)
