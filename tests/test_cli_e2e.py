"""End-to-end tests of the shape rules (TL201-TL209, TL301) on realistic model files.

The files in tests/e2e/ are small but complete models. Each ``*_bug.py`` file
really fails under torch (its ``if __name__ == "__main__":`` block raises), each
``*_ok.py`` file really runs; ``test_e2e_file_behaves_as_labelled_under_torch``
checks that with real torch, so the expectations below are grounded in what
PyTorch does, not in what the checker says.

The CLI is always run as a subprocess (``python -m torch_lsp ...``) from inside
tests/e2e/ (or a copy in ``tmp_path`` when a test modifies a file), so paths in
its output are the bare file names.

The expected (code, line) pairs are kept here, per file, on purpose.
"""
from __future__ import annotations

import importlib.util
import json
import re
import runpy
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parent / "e2e"

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(
    not HAS_TORCH, reason="torch is not importable: the e2e model files cannot be executed to confirm they fail/run"
)


# ============================================================================ expectations
@dataclass(frozen=True)
class Bug:
    diagnostics: list[tuple[str, int]]
    runtime_error: str  # a fragment of the exception torch raises when the file runs
    message_parts: tuple[str, ...] = ()  # what the message must say (the sizes torch complains about)
    xfail: str | None = None  # reason, when the checker gets this file wrong


BUGS: dict[str, Bug] = {
    "lenet_flatten_bug.py": Bug(
        [("TL203", 12)],
        "mat1 and mat2 shapes cannot be multiplied (2x400 and 256x120)",
        ("256", "400", "16 × 5 × 5"),
    ),
    "encoder_symbolic_bug.py": Bug(
        [("TL201", 11)],
        "mat1 and mat2 shapes cannot be multiplied (4x32 and 16x8)",
        ("expects 16", "receives 32"),
    ),
    "unet_cat_bug.py": Bug(
        [("TL208", 20)],
        "Sizes of tensors must match except in dimension 1. Expected size 28 but got size 32",
        ("fails at run time", "Expected size 28 but got size 32"),
    ),
    "helper_block_bug.py": Bug(
        [("TL202", 20)],
        "expected input[2, 16, 16, 16] to have 32 channels, but got 16 channels",
        ("expects 32 input channels", "receives 16"),
    ),
    "call_site_wrong_input_bug.py": Bug(
        [("TL204", 21)],
        "expected input[4, 1, 28, 28] to have 3 channels, but got 1 channels",
        ("[4, 1, 28, 28]", "expects 3 input channels", "receives 1"),
    ),
    "matmul_attention_bug.py": Bug(
        [("TL205", 18)],
        "Expected size for first two dimensions of batch2 tensor to be: [2, 64] but got: [2, 10]",
        ("fails at run time", "[2, 10, 64] @ [2, 10, 64]", "64 and 10"),
    ),
    "reshape_bug.py": Bug(
        [("TL207", 14)],
        "shape '[3, 32, 8, 8]' is invalid for input of size 1536",
        ("fails at run time", "shape '[3, 32, 8, 8]' is invalid for input of size 1536"),
    ),
    "training_loop_backward_bug.py": Bug(
        [("TL301", 21)],
        "grad can be implicitly created only for scalar outputs",
        ("[8, 1]", "grad can be implicitly created only for scalar outputs"),
    ),
    "attention_heads_bug.py": Bug(
        [("TL209", 10)],
        "embed_dim must be divisible by num_heads",
        ("can never run", "100", "8", "divisible"),
    ),
    "broadcast_bias_bug.py": Bug(
        [("TL206", 14)],
        "The size of tensor a (48) must match the size of tensor b (24) at non-singleton dimension 1",
        ("48", "24"),
    ),
}

CLEAN = [
    "seq2seq_lstm_ok.py",
    "vit_patch_ok.py",
    "dataloader_config_ok.py",
    "multiscale_cat_ok.py",
    "cnn_attention_ok.py",
]

# The detected bugs (files where the checker is right); used by format/filter tests.
DETECTED = [name for name, bug in BUGS.items() if bug.xfail is None]


def bug_params():
    for name, bug in BUGS.items():
        marks = [pytest.mark.xfail(strict=True, reason=bug.xfail)] if bug.xfail else []
        yield pytest.param(name, marks=marks, id=name)


# ============================================================================ helpers
def cli(*args: str, cwd: Path = E2E, check_rc: tuple[int, ...] = (0, 1)) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "torch_lsp", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in check_rc, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def check_json(*args: str, cwd: Path = E2E) -> tuple[int, list[dict]]:
    proc = cli("check", "--format", "json", *args, cwd=cwd)
    return proc.returncode, json.loads(proc.stdout)


def pairs(items: list[dict]) -> list[tuple[str, int]]:
    return [(d["code"], d["line"]) for d in items]


def copy_to(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copyfile(E2E / name, target)
    return target


def run_main(path: Path) -> dict:
    """Execute a model file's `if __name__ == "__main__":` block in-process with real torch."""
    return runpy.run_path(str(path), run_name="__main__")


def load(path: Path) -> dict:
    """The file's globals without running its __main__ block."""
    return runpy.run_path(str(path), run_name="e2e_model")


def shape_str(value) -> str:
    """torch value -> the summary's shape notation: [2, 3], (a, (b, c)), []"""
    import torch

    if isinstance(value, torch.Tensor):
        return "[" + ", ".join(str(s) for s in value.shape) + "]"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(shape_str(v) for v in value) + ")"
    return "unknown"


CONCRETE = re.compile(r"^[\[\]\(\)\d, ]+$")


def summary_json(target: str, cwd: Path = E2E) -> list[dict]:
    proc = cli("summary", target, "--format", "json", cwd=cwd, check_rc=(0,))
    return json.loads(proc.stdout)


# ============================================================================ ground truth: torch
@needs_torch
@pytest.mark.parametrize("name", list(BUGS) + CLEAN)
def test_e2e_file_behaves_as_labelled_under_torch(name):
    path = E2E / name
    if name in BUGS:
        with pytest.raises((RuntimeError, AssertionError, ValueError)) as exc:
            run_main(path)
        assert BUGS[name].runtime_error in str(exc.value)
    else:
        run_main(path)


def test_every_e2e_file_has_expectations():
    on_disk = sorted(p.name for p in E2E.glob("*.py"))
    assert on_disk == sorted(list(BUGS) + CLEAN)


# ============================================================================ diagnostics
@pytest.mark.parametrize("name", list(bug_params()))
def test_bug_file_diagnostics(name):
    bug = BUGS[name]
    rc, items = check_json(name)
    assert pairs(items) == bug.diagnostics
    assert rc == 1
    for item in items:
        assert item["path"] == name
        assert item["severity"] == "error"
        for part in bug.message_parts:
            assert part in item["message"], (part, item["message"])


@pytest.mark.parametrize("name", CLEAN)
def test_clean_file_has_no_diagnostics(name):
    rc, items = check_json(name)
    assert [d for d in items if d["code"].startswith(("TL2", "TL3"))] == []
    assert items == []
    assert rc == 0


def test_whole_directory_at_once():
    """Checking the directory gives exactly the per-file results (no cross-file interference)."""
    rc, items = check_json(".")
    assert rc == 1
    got = sorted((Path(d["path"]).name, d["code"], d["line"]) for d in items)
    expected = sorted((name, code, line) for name in DETECTED for code, line in BUGS[name].diagnostics)
    assert got == expected


def test_messages_explain_the_runtime_failure():
    """The messages that quote PyTorch's own error quote it as torch says it (checked above at run time)."""
    _, items = check_json("training_loop_backward_bug.py", "reshape_bug.py", "unet_cat_bug.py")
    by_code = {d["code"]: d["message"] for d in items}
    assert "RuntimeError: grad can be implicitly created only for scalar outputs" in by_code["TL301"]
    assert BUGS["reshape_bug.py"].runtime_error in by_code["TL207"]
    assert "Sizes of tensors must match except in dimension 1" in by_code["TL208"]


# ============================================================================ exit codes and selection
def test_exit_codes():
    assert cli("check", "-q", "lenet_flatten_bug.py").returncode == 1
    assert cli("check", "-q", "vit_patch_ok.py").returncode == 0
    proc = cli("check", "--exit-zero", "--format", "json", "lenet_flatten_bug.py")
    assert proc.returncode == 0
    assert pairs(json.loads(proc.stdout)) == [("TL203", 12)]  # still reported


def test_usage_error_exit_code():
    proc = cli("check", "--format", "nope", "lenet_flatten_bug.py", check_rc=(2,))
    assert proc.stdout == ""


def test_select_prefix():
    files = ["lenet_flatten_bug.py", "training_loop_backward_bug.py", "encoder_symbolic_bug.py"]
    rc, items = check_json("--select", "TL2", *files)
    assert rc == 1
    assert sorted(pairs(items)) == [("TL201", 11), ("TL203", 12)]
    rc, items = check_json("--select", "TL3", *files)
    assert rc == 1
    assert pairs(items) == [("TL301", 21)]
    rc, items = check_json("--select", "TL2", "training_loop_backward_bug.py")
    assert (rc, items) == (0, [])


def test_ignore_code():
    rc, items = check_json("--ignore", "TL201", "encoder_symbolic_bug.py")
    assert (rc, items) == (0, [])
    rc, items = check_json("--ignore", "TL201", "lenet_flatten_bug.py", "encoder_symbolic_bug.py")
    assert rc == 1
    assert pairs(items) == [("TL203", 12)]  # TL201 is not a prefix of TL203


# ============================================================================ fixes
FIXES = [
    # file, code, extra flags, the fixed source line, its line number
    ("lenet_flatten_bug.py", "TL203", (), "self.fc1 = nn.Linear(400, 120)", 12),
    ("encoder_symbolic_bug.py", "TL201", (), "self.fc2 = nn.Linear(hidden_dim, out_dim)", 11),
    ("helper_block_bug.py", "TL202", (), "conv_block(16, 64),", 20),
    ("training_loop_backward_bug.py", "TL301", ("--unsafe-fixes",), "loss.mean().backward()", 21),
]


@pytest.mark.parametrize("name,code,flags,fixed_line,lineno", FIXES, ids=[f[0] for f in FIXES])
def test_fix_removes_the_problem(tmp_path, name, code, flags, fixed_line, lineno):
    path = copy_to(tmp_path, name)
    _, before = check_json(name, cwd=tmp_path)
    target = next(d for d in before if d["code"] == code)
    assert target["fixes"], "expected a quick fix"
    proc = cli("check", "--fix", *flags, name, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert path.read_text(encoding="utf-8").splitlines()[lineno - 1].strip() == fixed_line
    rc, after = check_json(name, cwd=tmp_path)
    assert (rc, after) == (0, [])
    # Only that line changed.
    old = (E2E / name).read_text(encoding="utf-8").splitlines()
    new = path.read_text(encoding="utf-8").splitlines()
    assert len(old) == len(new)
    assert [i + 1 for i, (a, b) in enumerate(zip(old, new)) if a != b] == [lineno]


@needs_torch
@pytest.mark.parametrize("name,code,flags,fixed_line,lineno", FIXES, ids=[f[0] for f in FIXES])
def test_fixed_file_runs_under_torch(tmp_path, name, code, flags, fixed_line, lineno):
    path = copy_to(tmp_path, name)
    cli("check", "--fix", *flags, name, cwd=tmp_path)
    run_main(path)  # must not raise any more


def test_backward_fix_is_unsafe(tmp_path):
    path = copy_to(tmp_path, "training_loop_backward_bug.py")
    original = path.read_text(encoding="utf-8")
    proc = cli("check", "--fix", "training_loop_backward_bug.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert "--unsafe-fixes" in proc.stdout + proc.stderr
    assert path.read_text(encoding="utf-8") == original


def test_diff_writes_nothing(tmp_path):
    path = copy_to(tmp_path, "lenet_flatten_bug.py")
    original = path.read_text(encoding="utf-8")
    proc = cli("check", "--diff", "lenet_flatten_bug.py", cwd=tmp_path)
    assert "-        self.fc1 = nn.Linear(16 * 4 * 4, 120)" in proc.stdout
    assert "+        self.fc1 = nn.Linear(400, 120)" in proc.stdout
    assert path.read_text(encoding="utf-8") == original


# ============================================================================ output formats
def test_format_concise():
    files = DETECTED
    proc = cli("check", "--format", "concise", *files)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stdout.splitlines() if re.match(r"^\S+\.py:\d+:\d+: TL\d{3} ", ln)]
    got = sorted((ln.split(":")[0], ln.split(" ")[1], int(ln.split(":")[1])) for ln in lines)
    expected = sorted((n, c, line) for n in files for c, line in BUGS[n].diagnostics)
    assert got == expected
    assert f"Found {len(expected)} problems" in proc.stdout


def test_format_sarif():
    proc = cli("check", "--format", "sarif", *DETECTED)
    assert proc.returncode == 1
    sarif = json.loads(proc.stdout)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for code in ["TL201", "TL202", "TL203", "TL204", "TL205", "TL206", "TL207", "TL208", "TL209", "TL301"]:
        assert code in rule_ids
    got = sorted(
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in run["results"]
    )
    expected = sorted((n, c, line) for n in DETECTED for c, line in BUGS[n].diagnostics)
    assert got == expected
    for r in run["results"]:
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
        assert r["level"] == "error"


def test_format_sarif_clean_and_exit_zero():
    proc = cli("check", "--format", "sarif", "--exit-zero", "vit_patch_ok.py", "lenet_flatten_bug.py")
    assert proc.returncode == 0
    results = json.loads(proc.stdout)["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["TL203"]


def test_format_github():
    proc = cli("check", "--format", "github", "lenet_flatten_bug.py", "training_loop_backward_bug.py")
    assert proc.returncode == 1
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("::")]
    assert len(lines) == 2
    assert lines[0].startswith("::error file=lenet_flatten_bug.py,line=12,col=30,")
    assert "title=torch-lsp (TL203)::" in lines[0]
    assert "400" in lines[0]
    assert lines[1].startswith("::error file=training_loop_backward_bug.py,line=21,col=5,")
    assert "title=torch-lsp (TL301)::" in lines[1]


def test_format_full_shows_source_and_fix():
    proc = cli("check", "lenet_flatten_bug.py")
    assert "lenet_flatten_bug.py:12:30: TL203" in proc.stdout
    assert "self.fc1 = nn.Linear(16 * 4 * 4, 120)" in proc.stdout
    assert "Set in_features to 400" in proc.stdout


# ============================================================================ suppression
SUPPRESS_LINE = 11  # encoder_symbolic_bug.py: self.fc2 = nn.Linear(in_dim, out_dim)


def _with_comment(tmp_path: Path, name: str, lineno: int, comment: str) -> None:
    path = copy_to(tmp_path, name)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[lineno - 1] = lines[lineno - 1].rstrip("\n") + "  " + comment + "\n"
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.parametrize(
    "comment", ["# torch-lsp: ignore[TL201]", "# noqa: TL201", "# torch-lsp: ignore", "# torch-lsp: ignore[TL105, TL201]"]
)
def test_suppression_comment(tmp_path, comment):
    _with_comment(tmp_path, "encoder_symbolic_bug.py", SUPPRESS_LINE, comment)
    rc, items = check_json("encoder_symbolic_bug.py", cwd=tmp_path)
    assert (rc, items) == (0, [])


@pytest.mark.parametrize("comment", ["# torch-lsp: ignore[TL202]", "# noqa: E501"])
def test_suppression_of_other_codes_keeps_the_diagnostic(tmp_path, comment):
    _with_comment(tmp_path, "encoder_symbolic_bug.py", SUPPRESS_LINE, comment)
    rc, items = check_json("encoder_symbolic_bug.py", cwd=tmp_path)
    assert rc == 1
    assert pairs(items) == [("TL201", 11)]


def test_suppression_on_diagnostic_line_inside_multiline_statement(tmp_path):
    _with_comment(tmp_path, "helper_block_bug.py", 20, "# torch-lsp: ignore[TL202]")
    assert check_json("helper_block_bug.py", cwd=tmp_path) == (0, [])


def test_suppression_after_closing_bracket_of_multiline_statement(tmp_path):
    _with_comment(tmp_path, "helper_block_bug.py", 21, "# noqa: TL202")  # line 21: `        )`
    assert check_json("helper_block_bug.py", cwd=tmp_path) == (0, [])


# ============================================================================ summary
def test_summary_table():
    proc = cli("summary", "lenet_flatten_bug.py", check_rc=(0,))
    out = proc.stdout
    assert "LeNet (line 6; shapes from call at line 27)" in out
    assert re.search(r"self\.conv1\s+Conv2d\(3 → 6, kernel 5×5, stride 1\)\s+\[2, 3, 32, 32\]\s+\[2, 6, 28, 28\]\s+456", out)
    assert re.search(r"✗ self\.fc1\s+Linear\(256 → 120\)\s+\[2, 400\]\s+\[2, 120\]\s+30840", out)
    assert "Total parameters: 44726" in out


def test_summary_unknown_class_is_a_usage_error():
    proc = cli("summary", "lenet_flatten_bug.py:NoSuchNet", check_rc=(2,))
    assert "NoSuchNet" in proc.stderr


# Models whose layer rows are compared with torch forward hooks; inputs as at the file's call site.
def _inputs(name):
    import torch

    return {
        "seq2seq_lstm_ok.py": lambda: (torch.randint(0, 50, (4, 7)), torch.randint(0, 60, (4, 9))),
        "vit_patch_ok.py": lambda: (torch.randn(2, 3, 32, 32),),
        "cnn_attention_ok.py": lambda: (torch.randn(4, 3, 16, 16),),
    }[name]()


SUMMARY_LAYERS = [
    ("seq2seq_lstm_ok.py", "Seq2Seq"),
    ("vit_patch_ok.py", "TinyViT"),
    ("cnn_attention_ok.py", "ConvAttnNet"),
]


@needs_torch
@pytest.mark.parametrize("name,cls", SUMMARY_LAYERS, ids=[s[0] for s in SUMMARY_LAYERS])
def test_summary_layers_match_torch(name, cls):
    """Each row's parameter count and (when fully known) input/output shape equal what torch sees."""
    import torch

    (entry,) = summary_json(f"{name}:{cls}")
    assert entry["class"] == cls
    assert entry["shapes_from"].startswith("call at line")
    torch.manual_seed(0)
    model = load(E2E / name)[cls]()
    seen: dict[str, list[tuple[str, str]]] = {}
    handles = []
    for row_name in {row["layer"] for row in entry["layers"]}:
        module = eval("model" + row_name[len("self"):], {"model": model})  # e.g. self.stem[0]
        assert isinstance(module, torch.nn.Module)

        def hook(mod, args, out, row_name=row_name):
            seen.setdefault(row_name, []).append((shape_str(args[0]), shape_str(out)))

        handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        model(*_inputs(name))
    for h in handles:
        h.remove()

    calls = {k: list(v) for k, v in seen.items()}
    compared = 0
    for row in entry["layers"]:
        module = eval("model" + row["layer"][len("self"):], {"model": model})
        assert row["params"] == str(sum(p.numel() for p in module.parameters())), row
        actual_in, actual_out = calls[row["layer"]].pop(0)
        if CONCRETE.match(row["input"]):
            assert row["input"] == actual_in, row
            compared += 1
        if CONCRETE.match(row["output"]):
            assert row["output"] == actual_out, row
            compared += 1
        assert row["error"] == ""
    assert all(not v for v in calls.values()), f"torch called layers more often than the summary lists: {calls}"
    assert compared >= len(entry["layers"])  # most shapes are concrete


def _total_case(name, cls, args_factory=None, *, concrete=True, xfail=None):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(name, cls, args_factory, concrete, marks=marks, id=f"{name}:{cls}")


TOTALS = [
    _total_case("lenet_flatten_bug.py", "LeNet"),
    _total_case("seq2seq_lstm_ok.py", "Seq2Seq"),
    _total_case("unet_cat_bug.py", "TinyUNet"),
    _total_case("helper_block_bug.py", "SmallVGG"),
    _total_case("vit_patch_ok.py", "TinyViT"),
    _total_case("cnn_attention_ok.py", "ConvAttnNet"),
    _total_case("multiscale_cat_ok.py", "MultiScale", concrete=False),
    _total_case("dataloader_config_ok.py", "Classifier", lambda g: (g["Config"](),), concrete=False),
]


@needs_torch
@pytest.mark.parametrize("name,cls,args_factory,concrete", TOTALS)
def test_summary_total_params_match_torch(name, cls, args_factory, concrete):
    """A definite total must equal sum(p.numel() for p in model.parameters()); '?' is allowed only
    where the sizes are not concrete in the file."""
    (entry,) = summary_json(f"{name}:{cls}")
    g = load(E2E / name)
    model = g[cls](*(args_factory(g) if args_factory else ()))
    expected = str(sum(p.numel() for p in model.parameters()))
    if concrete:  # every size is a literal or a constructor default: the total is knowable
        assert entry["total_params"] == expected
    else:
        assert entry["total_params"] in (expected, "?")


def test_summary_json_whole_file_lists_every_module():
    entries = summary_json("cnn_attention_ok.py")
    assert [e["class"] for e in entries] == ["ConvAttnNet"]
    entries = summary_json("lenet_flatten_bug.py")
    (lenet,) = entries
    fc1 = next(r for r in lenet["layers"] if r["layer"] == "self.fc1")
    assert fc1["input"] == "[2, 400]"
    assert "expects 256" in fc1["error"] and "400" in fc1["error"]


def _statements(name: str) -> dict[int, str]:
    proc = cli("summary", "--statements", name, check_rc=(0,))
    out: dict[int, str] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"^\s*(\d+)\s.*#\s*([^#]+?)\s*$", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def test_summary_statements():
    lenet = _statements("lenet_flatten_bug.py")
    # Inside forward: the view of the call site (`model(torch.randn(2, 3, 32, 32))`),
    # not the class analysed on its own ([*, 6, ?, ?]); as torch computes them.
    assert lenet[17] == "[2, 6, 14, 14]"
    assert lenet[19] == "[2, 400]"
    # fc1 (line 20) cannot take [2, 400]: a run never gets past it, so nothing is
    # claimed after it (and no second error is derived from it).
    assert 21 not in lenet and 27 not in lenet
    seq = _statements("seq2seq_lstm_ok.py")
    assert seq[23] == "[4, 7]"
    assert seq[25] == "[4, 9, 60]"
    assert seq[26] == "[]"


@needs_torch
@pytest.mark.parametrize("name", ["seq2seq_lstm_ok.py"])
def test_summary_statements_match_torch(name):
    """Top-level `NAME = ...` lines: the inferred shape is the shape torch produces."""
    import torch

    shapes = _statements(name)
    source = (E2E / name).read_text(encoding="utf-8").splitlines()
    g = run_main(E2E / name)
    compared = 0
    for lineno, shape in shapes.items():
        m = re.match(r"^\s*(\w+)\s*=", source[lineno - 1])
        if not m or not source[lineno - 1].startswith("    ") or source[lineno - 1].startswith("        "):
            continue  # only the __main__ block's own statements
        value = g.get(m.group(1))
        if isinstance(value, torch.Tensor) and CONCRETE.match(shape):
            assert shape == shape_str(value), (lineno, source[lineno - 1])
            compared += 1
    assert compared >= 3
