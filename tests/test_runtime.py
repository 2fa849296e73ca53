"""Runtime evaluation (TL901/TL902): what is executed and evaluated, the worker's
results, its survival of hostile code, and `torch-lsp check --runtime`.

The worker tests need torch (the `torch` extra; CI installs torch==2.13.0). Each
case below was also run for real under torch on CPU: see RUNS_FOR_REAL."""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile
from torch_lsp.runtime.jobs import call_sites, definitions
from torch_lsp.runtime.report import Options, evaluate_source, job_for

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="the runtime worker needs torch (pip install -e '.[torch]')")


# ============================================================================ what runs
def _src(text: str) -> SourceFile:
    return SourceFile.parse(textwrap.dedent(text), "model.py")


def test_only_imports_definitions_and_constants_are_executed():
    tree = _src("""
        import torch
        from torch import nn
        WIDTH = 32
        SIZES = (WIDTH * 2, 10)
        Base = nn.Module
        META = {"a": 1}
        MORE = {**META, "b": [*SIZES, 3]}
        act = lambda x: x
        print("side effect")
        data = load_dataset()
        try:
            import timm
        except ImportError:
            timm = None
        try:
            download()
        except Exception:
            pass

        def helper(x):
            return x

        class Net(nn.Module):
            pass

        if __name__ == "__main__":
            Net()(torch.randn(1, 3))
    """).tree
    kept = [ast.unparse(s).splitlines()[0] for s in definitions(tree).body]
    # (a dict or list splatting constants, and a lambda, run no user code: torchvision's
    # `_COMMON_SWAG_META = {**_COMMON_META, ...}` is read by the weights classes)
    assert kept == ["import torch", "from torch import nn", "WIDTH = 32", "SIZES = (WIDTH * 2, 10)", "Base = nn.Module",
                    "META = {'a': 1}", "MORE = {**META, 'b': [*SIZES, 3]}", "act = lambda x: x",
                    "try:", "def helper(x):", "class Net(nn.Module):"]


def test_call_sites_take_arguments_and_inputs_known_without_running_anything():
    tree = _src("""
        import torch
        import torch.nn as nn
        HIDDEN = 64

        class Net(nn.Module):
            def __init__(self, d_in, hidden, layers=(1, 2)):
                super().__init__()

        def main():
            batch = 8
            x = torch.randn(batch, 10)
            model = Net(10, HIDDEN * 2, layers=[3, 4]).to("cuda")
            model(x)
            model(torch.randint(0, 5, (batch, 7), dtype=torch.long))
            model(load())  # unknown input: not evaluated
            Net(unknown_size, 1)(x)  # unknown constructor argument: not evaluated

        if __name__ == "__main__":
            Net(1, 2).forward(torch.zeros(3, 1))
    """).tree
    sites = call_sites(tree)
    found = [e.to_json() for e in sites if not e.skip and not e.from_static]
    assert [(e["class"], e["args"], e["kwargs"]) for e in found] == [
        ("Net", ["10", "128"], {"layers": "[3, 4]"}),
        ("Net", ["10", "128"], {"layers": "[3, 4]"}),
        ("Net", ["1", "2"], {}),
    ]
    # an input the code computes: its shape is asked of the static analysis (see report._inputs_from_static)
    (computed,) = [e for e in sites if e.from_static]
    assert computed.call_line == 16 and list(computed.from_static) == [0]
    # an unknown constructor argument: a skip that says why
    (skipped,) = [e for e in sites if e.skip]
    assert skipped.call_line == 17 and "the arguments of `Net(unknown_size, 1)` are not known" in skipped.skip
    assert found[0]["inputs"] == [{"factory": "randn", "args": ["8", "10"], "kwargs": {}}]
    assert found[1]["inputs"] == [{"factory": "randint", "args": ["0", "5", "(8, 7)"], "kwargs": {"dtype": "long"}}]
    assert found[2]["inputs"][0]["factory"] == "zeros" and found[2]["call_line"] == 20


def test_a_name_assigned_twice_is_not_known():
    tree = _src("""
        import torch
        class Net(torch.nn.Module):
            pass
        x = torch.randn(2, 3)
        x = torch.randn(4, 5)
        Net()(x)
    """).tree
    (site,) = call_sites(tree)
    assert list(site.from_static) == [0]  # not a known factory call: the static analysis is asked


# ============================================================================ the worker
# Bugs that the static rules cannot see (sizes from string parsing, a computed
# einsum equation), each raising under torch on CPU exactly as TL901 says.
CHANNELS_FROM_A_STRING = """\
import torch
import torch.nn as nn


def widths(spec):
    return [int(w) for w in spec.split(",")]


class Net(nn.Module):
    def __init__(self, spec="16,32,64"):
        super().__init__()
        layers = []
        c = 3
        for w in widths(spec):
            layers.append(nn.Conv2d(c, w, 3, padding=1))
            c = w * 2
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


if __name__ == "__main__":
    model = Net()
    out = model(torch.randn(2, 3, 32, 32))
"""

EQUATION_BUILT_AT_RUN_TIME = """\
import torch
import torch.nn as nn


class Mixer(nn.Module):
    def __init__(self, axes="bhd"):
        super().__init__()
        self.spec = ",".join([axes, axes[::-1]]) + "->bh"

    def forward(self, a, b):
        return torch.einsum(self.spec, a, b)


mixer = Mixer()
y = mixer(torch.randn(2, 4, 8), torch.randn(8, 4, 3))
"""

CLEAN = """\
import torch
import torch.nn as nn


def widths(spec):
    return [int(w) for w in spec.split(",")]


class Net(nn.Module):
    def __init__(self, spec="16,32"):
        super().__init__()
        layers, c = [], 3
        for w in widths(spec):
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU()]
            c = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c, 10)

    def forward(self, x):
        h = self.body(x)
        h = h.mean(dim=(2, 3))
        return self.head(h)


out = Net()(torch.randn(2, 3, 16, 16))
"""

RUNS_FOR_REAL = [(CHANNELS_FROM_A_STRING, "expected input[2, 16, 32, 32] to have 32 channels"),
                 (EQUATION_BUILT_AT_RUN_TIME, "einsum()"), (CLEAN, None)]


@needs_torch
@pytest.mark.parametrize("text,raises", RUNS_FOR_REAL, ids=["channels", "einsum", "clean"])
def test_the_cases_behave_so_under_torch_on_cpu(tmp_path, text, raises):
    path = tmp_path / "case.py"
    path.write_text(text.replace('if __name__ == "__main__":', "if True:"))
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    if raises is None:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0 and raises in proc.stderr


@pytest.fixture(scope="module")
def client():
    if not HAS_TORCH:
        pytest.skip("the runtime worker needs torch (pip install -e '.[torch]')")
    from torch_lsp.runtime.client import RuntimeClient

    c = RuntimeClient(timeout=30)
    yield c
    c.close()


def _evaluate(client, tmp_path, text, name="model.py", **options):
    path = tmp_path / name
    path.write_text(text)
    src = SourceFile.parse(text, str(path))
    return evaluate_source(src, str(path), [], client, Options(**options), Project())


@needs_torch
def test_tl901_at_the_line_where_torch_raised(client, tmp_path):
    out = _evaluate(client, tmp_path, CHANNELS_FROM_A_STRING)
    (d,) = out.diagnostics
    assert d.code == "TL901" and d.range.start.line + 1 == 20  # return self.body(x)
    assert "`body.1` (Conv2d, in_channels=32) received [2, 16, 32, 32]" in d.message
    assert [r.range.start.line + 1 for r in d.related] == [25, 24]  # the call, the constructor


@needs_torch
def test_tl901_for_an_einsum_equation_built_at_run_time(client, tmp_path):
    (d,) = _evaluate(client, tmp_path, EQUATION_BUILT_AT_RUN_TIME).diagnostics
    assert d.range.start.line + 1 == 11 and "einsum()" in d.message


@needs_torch
def test_a_correct_model_is_quiet_and_its_shapes_are_recorded(client, tmp_path):
    out = _evaluate(client, tmp_path, CLEAN)
    assert out.diagnostics == []
    ((ev, result),) = out.results
    assert result["status"] == "ok" and result["output"] == [2, 10]
    assert {"module": "head", "type": "Linear", "input": [[2, 32]], "output": [2, 10]} in result["calls"]
    # what each assignment of forward bound
    assert result["lines"] == {"20": {"h": [2, 32, 16, 16]}, "21": {"h": [2, 32]}}


@needs_torch
def test_tl901_stays_silent_where_a_static_rule_reports(client, tmp_path):
    from torch_lsp import engine

    text = CHANNELS_FROM_A_STRING.replace("self.body = nn.Sequential(*layers)",
                                          "self.body = nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(32, 8, 3))")
    path = tmp_path / "static.py"
    path.write_text(text)
    static = engine.check_source(text, str(path)).diagnostics
    assert [d.code for d in static] == ["TL202"]
    src = SourceFile.parse(text, str(path))
    assert evaluate_source(src, str(path), static, client, Options(), Project()).diagnostics == []


# ---------------------------------------------------------------------------- survival
HOSTILE_INIT = """\
import torch
import torch.nn as nn
{prelude}

class Net(nn.Module):
    def __init__(self):
        super().__init__()
{body}
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
{forward}
        return self.fc(x)


out = Net()(torch.randn(3, 4))
"""


def _hostile(body="        pass", forward="        pass", prelude=""):
    return HOSTILE_INIT.format(body=body, forward=forward, prelude=prelude)


@needs_torch
@pytest.mark.parametrize("body,reason", [
    ("        while True:\n            pass", "took more than"),
    ("        import os\n        os._exit(3)", "exited with status 3"),
    ("        import ctypes\n        ctypes.string_at(0)", "SIGSEGV"),
    ("        self.big = torch.zeros(25_000_000_000, device='cpu')", "out of memory"),
], ids=["endless-loop", "os-exit", "segfault", "100GB-on-cpu"])
def test_the_worker_survives_hostile_code(client, tmp_path, body, reason):
    text = _hostile(body=body)
    out = _evaluate(client, tmp_path, text, timeout=3, report_skipped=True)
    ((_, result),) = out.results
    assert result["status"] == "skipped" and reason in result["reason"], result
    (d,) = out.diagnostics
    assert d.code == "TL902" and d.range.start.line == text.splitlines().index("out = Net()(torch.randn(3, 4))")
    # ... and the next evaluation works
    ok = _evaluate(client, tmp_path, CLEAN, name="after.py")
    assert ok.results[0][1]["status"] == "ok"


@needs_torch
def test_a_flood_of_prints_does_not_reach_the_pipe(client, tmp_path):
    flood = "        for i in range(200_000):\n            print('x' * 80)\n        import sys\n        sys.stdout.write('\\x00\\x00\\x00\\x05junk')"
    out = _evaluate(client, tmp_path, _hostile(forward=flood))
    assert out.results[0][1]["status"] == "ok"


@needs_torch
@pytest.mark.parametrize("prelude,reason", [
    ("import sys\nsys.exit(2)", None),  # top-level effects are not executed: it is fine
    ("import no_such_module_here", "ModuleNotFoundError"),
    ("class Broken(nn.Module):\n    x = 1 / 0", "ZeroDivisionError"),
], ids=["sys-exit-at-top-level", "import-error", "raises-at-definition"])
def test_what_the_definitions_do_at_import(client, tmp_path, prelude, reason):
    out = _evaluate(client, tmp_path, _hostile(prelude=prelude))
    ((_, result),) = out.results
    if reason is None:
        assert result["status"] == "ok"
    else:
        assert result["status"] == "skipped" and reason in result["reason"]


@needs_torch
def test_sys_exit_while_defining_a_class_is_a_skip(client, tmp_path):
    out = _evaluate(client, tmp_path, _hostile(prelude="import sys\nclass Exits:\n    sys.exit(4)"))
    assert "sys.exit(4)" in out.results[0][1]["reason"]


@needs_torch
def test_a_syntax_error_is_a_skip(client, tmp_path):
    src = _src(CLEAN)
    job = job_for(src, str(tmp_path / "m.py"), call_sites(src.tree))
    job["source"] = "def broken(:\n"
    assert "does not compile" in client.evaluate(job)["reason"]


@needs_torch
def test_data_dependent_operations_are_skipped_with_the_reason(client, tmp_path):
    out = _evaluate(client, tmp_path, _hostile(forward="        n = int(x.sum().item())"))
    assert "data-dependent" in out.results[0][1]["reason"]


@needs_torch
def test_a_running_job_can_be_cancelled(client, tmp_path):
    text = _hostile(forward="        import time\n        time.sleep(20)")
    path = tmp_path / "slow.py"
    path.write_text(text)
    src = SourceFile.parse(text, str(path))
    job = job_for(src, str(path), call_sites(src.tree))
    timer = threading.Timer(1.0, client.cancel)
    timer.start()
    started = time.monotonic()
    result = client.evaluate(job, timeout=30)
    assert result["status"] == "cancelled" and time.monotonic() - started < 15
    pid = client.proc.pid
    assert _evaluate(client, tmp_path, CLEAN, name="after.py").results[0][1]["status"] == "ok"
    assert client.proc.pid == pid  # the same warm worker


def test_a_worker_without_torch_says_so(tmp_path):
    from torch_lsp.runtime.client import RuntimeClient

    wrapper = tmp_path / "python-without-site"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    wrapper.chmod(0o755)
    c = RuntimeClient(python=str(wrapper), timeout=10)
    try:
        result = c.evaluate({"path": "x.py", "source": "", "evaluations": []})
    finally:
        c.close()
    assert result["status"] == "skipped" and "torch cannot be imported" in result["reason"]
    assert f"`{sys.executable} -m pip install torch`" in result["reason"]  # how to add it


# ============================================================================ the CLI
@needs_torch
def test_check_runtime_reports_tl901_in_json(tmp_path):
    (tmp_path / "net.py").write_text(CHANNELS_FROM_A_STRING)
    (tmp_path / "clean.py").write_text(CLEAN)
    cmd = [sys.executable, "-m", "torch_lsp", "check", "--format", "json", "--runtime", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    found = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [(os.path.basename(d["path"]), d["code"], d["line"]) for d in found] == [("net.py", "TL901", 20)]
    without = subprocess.run(cmd[:-2] + [str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert json.loads(without.stdout) == [] and without.returncode == 0


@needs_torch
def test_a_suppression_comment_silences_tl901(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(CHANNELS_FROM_A_STRING.replace("return self.body(x)", "return self.body(x)  # torch-lsp: ignore[TL901]"))
    proc = subprocess.run([sys.executable, "-m", "torch_lsp", "check", "--format", "json", "--runtime", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert json.loads(proc.stdout) == []


BATCH_NORM_AGREES = r"""
import torch
from torch_lsp.runtime import worker
cases = []
for shape in [(2, 8, 5, 5), (2, 8), (3, 8, 7), (1, 8), (2, 4, 5, 5), (2, 16, 3, 3, 3)]:
    for mod in [torch.nn.BatchNorm2d(8), torch.nn.BatchNorm1d(8), torch.nn.BatchNorm3d(16),
                torch.nn.BatchNorm2d(8, affine=False), torch.nn.BatchNorm2d(8, track_running_stats=False)]:
        for training in (True, False):
            cases.append((shape, mod.to("meta").train(training)))
original = torch.batch_norm
def run():
    out = []
    for shape, mod in cases:
        try:
            out.append(("ok", tuple(mod(torch.empty(shape, device="meta")).shape)))
        except Exception as exc:
            out.append((type(exc).__name__, str(exc)))
    return out
before = run()
worker._fast_meta_batch_norm()
assert torch.batch_norm is not original
after = run()
assert before == after, [(c, b, a) for c, b, a in zip(cases, before, after) if b != a]
print(len(cases), sum(b[0] == "ok" for b in before))
"""


@needs_torch
def test_the_fast_meta_batch_norm_agrees_with_torch():
    proc = subprocess.run([sys.executable, "-c", BATCH_NORM_AGREES], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    total, ok = map(int, proc.stdout.split())
    assert total == 60 and 0 < ok < total  # both outcomes are compared


DEFERRED_DYNAMO = r"""
import sys, torch
from torch_lsp.runtime import worker
worker._defer_dynamo()
torch.nn.Linear(3, 2).to("meta")(torch.empty(4, 3, device="meta"))
assert type(sys.modules["torch._dynamo"]).__name__ == "_Deferred"  # not imported for meta kernels
f = torch.compile(lambda x: x * 2, backend="eager")  # user code that really uses dynamo
assert f(torch.ones(2)).tolist() == [2.0, 2.0]
import torch._dynamo.config
assert type(sys.modules["torch._dynamo"]).__name__ == "module"
"""


@needs_torch
def test_dynamo_is_deferred_until_used():
    proc = subprocess.run([sys.executable, "-c", DEFERRED_DYNAMO], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


@needs_torch
def test_a_tensor_made_on_the_cpu_meeting_meta_ones_is_a_skip_not_a_bug(client, tmp_path):
    # Legacy constructors ignore torch.device("meta"): their tensors are on the CPU.
    # For real, everything is on the CPU and this runs (checked in RUNS_FOR_REAL style).
    text = _hostile(body="        self.mask = torch.FloatTensor(2, 4).fill_(1.0)", forward="        x = x * self.mask[0]")
    path = tmp_path / "legacy.py"
    path.write_text(text.replace('out = Net()', 'out = Net()'))
    assert subprocess.run([sys.executable, str(path)], capture_output=True, timeout=120).returncode == 0
    out = _evaluate(client, tmp_path, text, name="legacy.py", report_skipped=True)
    assert [d.code for d in out.diagnostics] == ["TL902"] and "meta device" in out.diagnostics[0].message


@needs_torch
def test_tl901_stays_silent_where_a_registration_rule_reports(client, tmp_path):
    from torch_lsp import engine

    text = _hostile().replace("        super().__init__()\n", "").replace(
        "        self.fc = nn.Linear(4, 2)\n", "        self.fc = nn.Linear(4, 2)\n        super().__init__()\n")
    path = tmp_path / "early.py"
    path.write_text(text)
    static = engine.check_source(text, str(path)).diagnostics
    assert [d.code for d in static] == ["TL104"]
    src = SourceFile.parse(text, str(path))
    found = evaluate_source(src, str(path), static, client, Options(), Project())
    assert found.results[0][1]["status"] == "error" and found.diagnostics == []


@needs_torch
def test_inputs_from_the_configuration_for_a_class_nobody_calls(tmp_path):
    library = CHANNELS_FROM_A_STRING.split('if __name__ == "__main__":')[0]
    (tmp_path / "lib.py").write_text(library)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.torch-lsp.runtime.inputs]\nNet = [[2, 3, 32, 32]]\nMissing = [[1]]\n")
    cmd = [sys.executable, "-m", "torch_lsp", "check", "--format", "json", "--runtime", "lib.py"]
    found = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path).stdout)
    assert [(d["code"], d["line"]) for d in found] == [("TL901", 20)]
    assert "Net(...) with the configured input [2, 3, 32, 32]" in found[0]["message"]
    (tmp_path / "pyproject.toml").write_text("[tool.torch-lsp.runtime.inputs]\nNet = [[2, 16, 32, 32]]\n")
    found = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path).stdout)
    assert [d["code"] for d in found] == ["TL901"] and "Conv2d, in_channels=3" in found[0]["message"]


def test_configured_inputs_are_validated():
    from torch_lsp.runtime.jobs import configured

    tree = _src("class Net:\n    pass\nclass Other:\n    pass\n").tree
    evs, problems = configured(tree, {"Net": [[2, 3], {"shape": [2], "dtype": "long"}], "Other": [["x"]]})
    assert [e.inputs for e in evs] == [[{"factory": "randn", "args": ["(2, 3)"], "kwargs": {}},
                                        {"factory": "zeros", "args": ["(2,)"], "kwargs": {"dtype": "long"}}]]
    assert problems == ["runtime.inputs.Other: expected a list of shapes (lists of ints) or {shape, dtype} tables"]


ANNOTATED = """\
import torch
import torch.nn as nn
from jaxtyping import Float
from torch import Tensor


class Head(nn.Module):
    def __init__(self, dim=32, classes=10):
        super().__init__()
        self.proj = nn.Linear(dim * 2, classes)

    def forward(self, x: Float[Tensor, "4 32"]) -> Float[Tensor, "4 10"]:
        return self.proj(torch.cat([x, x.flip(0)[:2]], dim=0))
"""


def test_annotated_forward_inputs_are_evaluated_with_the_defaults():
    from torch_lsp.runtime.jobs import annotated

    (ev,) = annotated(_src(ANNOTATED).tree)
    assert ev.cls == "Head" and ev.args == [] and ev.inputs == [{"factory": "randn", "args": ["(4, 32)"], "kwargs": {}}]
    assert annotated(_src(ANNOTATED.replace('"4 32"', '"batch 32"')).tree) == []  # a named axis: no guess
    assert annotated(_src(ANNOTATED.replace("dim=32,", "dim,")).tree) == []  # the constructor needs an argument


@needs_torch
def test_the_cpu_limit_ends_a_busy_job_and_keeps_the_worker(client, tmp_path):
    text = _hostile(forward="        n = 0\n        while True:\n            n += 1")
    path = tmp_path / "busy.py"
    path.write_text(text)
    src = SourceFile.parse(text, str(path))
    job = dict(job_for(src, str(path), call_sites(src.tree)), cpu_seconds=1)
    pid = client.proc.pid if client.proc is not None else None
    started = time.monotonic()
    result = client.evaluate(job, timeout=60)
    assert result["status"] == "skipped" and "CPU time" in result["reason"]
    assert time.monotonic() - started < 30
    assert pid is None or client.proc.pid == pid  # ended by the worker itself, not killed


@needs_torch
def test_nonzero_on_meta_is_a_data_dependent_skip(client, tmp_path):
    out = _evaluate(client, tmp_path, _hostile(forward="        idx = x.nonzero()"))
    assert "data-dependent" in out.results[0][1]["reason"]


@needs_torch
def test_a_project_module_named_like_the_standard_library_does_not_break_the_worker(tmp_path, monkeypatch):
    from torch_lsp.runtime.client import RuntimeClient

    (tmp_path / "json.py").write_text("raise SystemExit('the project json.py was imported')\n")
    (tmp_path / "signal.py").write_text("raise SystemExit('the project signal.py was imported')\n")
    monkeypatch.chdir(tmp_path)  # an editor starts the server (and so the worker) in the project
    c = RuntimeClient(timeout=60)
    try:
        out = _evaluate(c, tmp_path, CHANNELS_FROM_A_STRING)
    finally:
        c.close()
    assert [d.code for d in out.diagnostics] == ["TL901"], out.results


# ---------------------------------------------------------------------------- processes the code starts
# Model code can start processes that leave the worker's process group: five in
# sessions of their own (start_new_session / preexec_fn=os.setsid) and a daemon
# (fork, setsid, fork, the middle one exits). None may outlive the worker.
SPAWNS = """\
import os
import subprocess
import sys
import time
import torch
import torch.nn as nn

PIDS = {pids!r}


class Spawn:  # a class body runs when the worker executes the file's definitions
    for i in range(5):
        if i < 3:
            p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
        else:
            p = subprocess.Popen(["sleep", "600"], preexec_fn=os.setsid)
        with open(PIDS, "a") as f:
            f.write(str(p.pid) + "\\n")
    if {daemon!r}:
        first = os.fork()
        if first == 0:
            os.setsid()
            if os.fork() == 0:
                with open(PIDS, "a") as f:
                    f.write(str(os.getpid()) + "\\n")
                time.sleep(600)
            os._exit(0)
        os.waitpid(first, 0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
{forward}
        return self.fc(x)


out = Net()(torch.randn(3, 4))
"""


def _spawning(tmp_path, forward="        pass", daemon=True) -> tuple[str, object]:
    pids = tmp_path / "pids.txt"
    return SPAWNS.format(pids=str(pids), daemon=daemon, forward=forward), pids


def _started(pids_file, n: int, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pids_file.exists():
            pids = [int(p) for p in pids_file.read_text().split()]
            if len(pids) >= n:
                return pids
        time.sleep(0.05)
    raise AssertionError(f"the model did not start its {n} processes")


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed process whose parent is gone may stay a
    zombie of init until init reaps it)."""
    from torch_lsp.runtime import reaper

    st = reaper.stat(pid)
    return st is not None and st.state not in (b"Z", b"X", b"x")


def _all_ended(pids: list[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if _running(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux (/proc, child subreapers)")


@needs_torch
@needs_linux
@pytest.mark.parametrize("how", ["timeout", "cancel", "crash", "completed"])
def test_processes_in_their_own_session_end_with_the_evaluation(client, tmp_path, how):
    forward = {
        "timeout": "        time.sleep(600)",
        "cancel": "        time.sleep(600)",
        "crash": "        os._exit(3)",
        "completed": "        pass",
    }[how]
    text, pids_file = _spawning(tmp_path, forward)
    if how == "cancel":
        def cancel_once_started():
            _started(pids_file, 6)
            time.sleep(0.2)
            client.cancel()
        threading.Thread(target=cancel_once_started, daemon=True).start()
    out = _evaluate(client, tmp_path, text, timeout=8 if how == "timeout" else 60)
    result = out.results[0][1]
    expected = {"timeout": "took more than", "cancel": "cancelled", "crash": "exited with status 3", "completed": "ok"}[how]
    assert expected in (result.get("reason") or result["status"]), result
    pids = _started(pids_file, 6, timeout=1)
    assert _all_ended(pids) == [], f"still running after the {how}: {pids}"
    # ... and the worker goes on
    assert _evaluate(client, tmp_path, CLEAN, name="after.py").results[0][1]["status"] == "ok"


@needs_torch
@needs_linux
def test_closing_the_session_ends_the_processes(tmp_path):
    from torch_lsp.runtime.session import RuntimeSession

    text, pids_file = _spawning(tmp_path)
    path = tmp_path / "model.py"
    path.write_text(text)
    session = RuntimeSession()
    try:
        outcome = session.evaluate(SourceFile.parse(text, str(path)), str(path), [], 1, Project(), None)
        assert outcome.evaluated == 1
        pids = _started(pids_file, 6, timeout=1)
        worker = session._client.hello["pid"]
        keeper = session._client.proc.pid
    finally:
        session.close()
    assert _all_ended(pids + [worker, keeper]) == []


HOST = """\
import sys, threading
from torch_lsp.analysis.project import Project
from torch_lsp.analysis.source import SourceFile
from torch_lsp.runtime.client import RuntimeClient
from torch_lsp.runtime.report import Options, evaluate_source

path = sys.argv[1]
text = open(path).read()
client = RuntimeClient(timeout=600)
evaluate_source(SourceFile.parse(text, path), path, [], client, Options(timeout=600), Project())
"""


@needs_torch
@needs_linux
@pytest.mark.parametrize("signum", ["SIGKILL", "SIGTERM"])
def test_the_processes_end_when_the_host_process_dies(tmp_path, signum):
    """The server (or the CLI) killed while an evaluation runs: the keeper is told
    by the kernel (PR_SET_PDEATHSIG) and ends the worker and what it started."""
    import signal as signals

    from torch_lsp.runtime import reaper

    text, pids_file = _spawning(tmp_path, "        time.sleep(600)")
    path = tmp_path / "model.py"
    path.write_text(text)
    host = subprocess.Popen([sys.executable, "-c", HOST, str(path)], stdin=subprocess.DEVNULL)
    try:
        pids = _started(pids_file, 6, timeout=120)
        below = reaper.descendants(host.pid)
        assert set(pids) <= set(below)  # (the keeper and the worker are subreapers)
    finally:
        host.send_signal(getattr(signals, signum))
        host.wait(timeout=30)
    assert _all_ended(below) == []


@needs_torch
@needs_linux
def test_the_processes_end_when_the_cli_exits(tmp_path):
    text, pids_file = _spawning(tmp_path, "        time.sleep(600)")
    (tmp_path / "model.py").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "torch_lsp", "check", "--runtime", "--runtime-timeout", "5",
                           "--runtime-report-skipped", "--format", "json", "model.py"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert "took more than 5 s" in proc.stdout, proc.stdout + proc.stderr
    pids = _started(pids_file, 6, timeout=1)
    assert _all_ended(pids) == []


@needs_linux
def test_kill_tree_ends_a_tree_that_is_still_forking_and_spares_other_processes(tmp_path):
    """reaper.kill_tree while a chain of processes is still growing (each one starts
    a new session and forks once; every other one then exits, so its child is an
    orphan, re-parented to the subreaper at the top): all of it ends, a process
    outside it does not. Bounded: at most 60 processes, whatever happens."""
    from torch_lsp.runtime import reaper

    pids_file = tmp_path / "pids.txt"
    chain = ("import os, time\n"
             "for depth in range(60):\n"
             "    if os.fork():\n"
             "        if depth % 2:\n"
             "            os._exit(0)\n"
             "        break\n"
             "    os.setsid()\n"
             f"    with open({str(pids_file)!r}, 'a') as f:\n"
             "        f.write(str(os.getpid()) + '\\n')\n"
             "    time.sleep(0.02)\n"
             "time.sleep(120)\n")
    top = ("import os, sys, time\n"
           "from torch_lsp.runtime import reaper\n"
           "assert reaper.become_subreaper()\n"
           f"if os.fork() == 0:\n    exec({chain!r})\n    os._exit(0)\n"
           "while True:\n"
           "    try:\n        os.waitpid(-1, 0)\n"
           "    except ChildProcessError:\n        time.sleep(0.1)\n")
    bystander = subprocess.Popen(["sleep", "120"])
    root = subprocess.Popen([sys.executable, "-c", top])
    try:
        deadline = time.monotonic() + 30
        while len(reaper.descendants(root.pid)) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        tree = reaper.descendants(root.pid)
        assert 5 <= len(tree) < 61
        reaper.kill_tree(root.pid, include_root=True)
        root.wait(timeout=10)
        started = [int(p) for p in pids_file.read_text().split()]
        assert len(started) < 60  # it was still growing
        time.sleep(0.2)
        assert [int(p) for p in pids_file.read_text().split()] == started  # and it stopped
        assert _all_ended(tree + started) == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
        if root.poll() is None:
            reaper.kill_tree(root.pid, include_root=True)
            root.wait(timeout=10)
