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


def test_engine_knows_most_output_shapes():
    """Agreement means little if the engine only ever says "unknown": on programs
    torch runs, most output shapes must be fully known (the long run shows ~80%)."""
    import random

    from differential_gen import RandomChooser, generate

    rng = random.Random(1)
    known = ran = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(150):
            prog = generate(RandomChooser(rng), 0.0, 6)
            outcome, _t, _e = check_program(prog)
            if outcome.torch_ok:
                ran += 1
                known += outcome.out_category == "known"
    assert ran > 100 and known / ran > 0.6, f"{known} of {ran} output shapes known"
