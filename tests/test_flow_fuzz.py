"""Control-flow soundness fuzz: the shape engine against torch, on programs with
``for``/``while`` (``break``, ``continue``, ``else``), ``if``/``elif``, ``match``,
``try``/``except``(``*``), early ``return``, ``raise``, ``with``, nested functions...

Each program (``flow_fuzz_gen``) runs under real torch on the CPU; the generator knows
which paths run and places shape mistakes on paths that never run (a branch not
taken, ModuleList items after a ``break``, a ``case`` not matched, a handler that
does not run) or whose error is caught, and at most one on a path that runs.

- the generator must agree with torch (else the fuzz measures nothing);
- the engine must never crash;
- **no false report**: where torch runs the program, no TL2xx/TL3xx error or warning;
  where it fails, none away from the failing chain (the traceback's lines in the
  file and the constructor lines of the layers they call);
- the engine must report a fair share of the failures torch hits on a statically
  decidable path (``MIN_DECIDABLE_REPORTED``).

The long run (10,000 programs, counts by construct) is ``benchmarks/flow_fuzz.py``.
"""
import collections

import pytest

torch = pytest.importorskip("torch", reason="torch is an optional extra; the control-flow fuzz runs real torch")

from flow_fuzz_gen import HarnessError, check_program, describe, program_for  # noqa: E402

SEED = 0
N_PROGRAMS = 400

# The share of failures on a statically decidable path (a Linear / Conv / LayerNorm /
# BatchNorm / view / cat / matmul / broadcast / backward error reached through
# straight-line code or control flow decided by known shapes and ints) that the engine
# must report. Measured on these 400 programs (123 such failures): 67.5% at 2df2e80
# (before the control-flow rewrite), 69.1% after "Flow (issue 12)", 87.8% once branches
# are decided on strings, isinstance, range/enumerate/zip and class patterns (the
# 10,000-program run of benchmarks/flow_fuzz.py: 88.4%). The bar sits a little below.
MIN_DECIDABLE_REPORTED = 0.84


@pytest.fixture(scope="module")
def results():
    rows = []
    for i in range(N_PROGRAMS):
        prog = program_for(SEED, i)
        try:
            o, t, e = check_program(prog)
        except HarnessError as err:  # a timeout: the generator's fault
            rows.append((i, prog, None, str(err), None))
            continue
        rows.append((i, prog, o, t, e))
    return rows


def _examples(rows, show: int = 3) -> str:
    rows = sorted(rows, key=lambda r: len(r[1].source))[:show]
    return "\n\n".join(f"=== program {i} (seed {SEED})\n" + (describe(p, o, t, e) if o else t) for i, p, o, t, e in rows)


def test_generator_agrees_with_torch(results):
    """The generator's prediction (runs / fails at line L) holds, torch raises only
    shape errors, and the mix is healthy."""
    bad = [r for r in results if r[2] is None or r[2].generator_bug]
    if bad:
        pytest.fail(f"{len(bad)} generated programs are broken:\n" + _examples(bad), pytrace=False)
    ran = sum(r[2].torch_ok for r in results)
    assert 0.5 * N_PROGRAMS < ran < 0.8 * N_PROGRAMS, f"{ran} of {N_PROGRAMS} programs ran"


def test_engine_never_crashes(results):
    bad = [r for r in results if r[2] is not None and r[2].crash]
    if bad:
        pytest.fail(f"the engine crashed on {len(bad)} programs:\n" + _examples(bad), pytrace=False)


def test_no_false_reports(results):
    bad = [r for r in results if r[2] is not None and r[2].false_reports]
    by_label = collections.Counter(lab for r in bad for _d, lab in r[2].false_reports)
    summary = "\n".join(f"  {n:4}  {lab}" for lab, n in by_label.most_common())
    if bad:
        pytest.fail(f"false reports in {len(bad)} of {N_PROGRAMS} programs, by construct:\n{summary}\n\n"
                    + _examples(bad), pytrace=False)


def test_reports_decidable_failures(results):
    decidable = [r for r in results if r[2] is not None and r[2].shape_error and r[2].decidable
                 and r[2].construct is not None and not r[2].generator_bug]
    from flow_fuzz_gen import MODELED

    decidable = [r for r in decidable if r[2].construct in MODELED]
    reported = [r for r in decidable if r[2].reported]
    assert len(decidable) > 0.15 * N_PROGRAMS, f"only {len(decidable)} failures on a decidable path"
    share = len(reported) / len(decidable)
    missed = [r for r in decidable if not r[2].reported]
    by = collections.Counter(r[2].construct for r in missed)
    if share < MIN_DECIDABLE_REPORTED:
        pytest.fail(f"the engine reported {len(reported)} of {len(decidable)} failures on a decidable path "
                    f"({share:.0%}); missed by construct: {dict(by.most_common())}\n\n" + _examples(missed),
                    pytrace=False)
