"""What a batch check spends outside the shape interpreter, bounded without changing
any answer."""
from __future__ import annotations

from pathlib import Path

from torch_lsp.analysis.modules import ModuleModel
from torch_lsp.analysis.project import Project

LEVELS = 7


def _diamond(root: Path) -> Path:
    """pkg/m0a.py star-imports m1a and m1b, each of which star-imports m2a and m2b, ...:
    2**LEVELS paths through the star-import graph; the base class is in the last level."""
    pkg = root / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for i in range(LEVELS):
        for side in "ab":
            (pkg / f"m{i}{side}.py").write_text(f"from .m{i + 1}a import *\nfrom .m{i + 1}b import *\n")
    (pkg / f"m{LEVELS}a.py").write_text("import torch.nn as nn\n")
    (pkg / f"m{LEVELS}b.py").write_text("import torch.nn as nn\n\nclass Base(nn.Module):\n    pass\n")
    model = pkg / "model.py"
    model.write_text("from .m0a import *\n\n\nclass Net(Base):\n    pass\n\n\nclass Other(Missing):\n    pass\n")
    return model


def _classes(project: Project, path: Path) -> tuple[dict, int]:
    calls = []
    inner = project.summary

    def counted(p):
        calls.append(p)
        return inner(p)

    project.summary = counted  # type: ignore[method-assign]
    src = project.parsed(path.read_bytes(), str(path))
    model = ModuleModel(project.summary_for_source(src), project)
    out = {c.node.name: (c.is_module, [b.qualname for b in c.user_bases]) for c in model.classes()}
    return out, len(calls)


def test_a_star_import_diamond_is_walked_once_per_module_and_depth_in_a_batch(tmp_path):
    model = _diamond(tmp_path)
    editor = Project([str(tmp_path)], use_jedi=False)  # files may change: nothing remembered
    expected, unremembered = _classes(editor, model)
    assert expected == {"Net": (True, [f"pkg.m{LEVELS}b.Base"]), "Other": (False, [])}

    batch = Project([str(tmp_path)], use_jedi=False)
    batch.files_fixed = True
    got, reads = _classes(batch, model)
    assert got == expected
    # each module is reached at one depth only: a handful of reads per module and name,
    # not one per path (2**LEVELS)
    assert reads < 8 * (2 * LEVELS + 2) < unremembered


# ------------------------------------------------------------------ worker processes
def _pid_outcome(task):
    """A stand-in for cli_check.process (module level: a worker pool pickles it by
    name): a file takes a while, and the outcome says which process checked it."""
    import os
    import time

    from torch_lsp.output import FileOutcome

    time.sleep(0.02)
    return FileOutcome(task.display, warning=str(os.getpid()))


def _runs(pids: list[str]) -> int:
    return 1 + sum(a != b for a, b in zip(pids, pids[1:]))


def _forty_files(tmp_path: Path) -> tuple[list[str], list]:
    """Forty one-line files and their check tasks."""
    from torch_lsp import cli_check

    paths = []
    for i in range(40):
        path = tmp_path / f"m{i:02d}.py"
        path.write_text("x = 1\n")
        paths.append(str(path))
    return paths, [cli_check.Task(p, p, bool, "check", False) for p in paths]


def test_each_worker_checks_a_contiguous_run_of_the_files(tmp_path, monkeypatch):
    """Files next to each other import the same dependencies: a worker that checks a
    contiguous run of them parses those once (chunks dealt round-robin made every
    worker parse every library's dependencies). The outcomes stay in file order."""
    from torch_lsp import cli_check

    paths, tasks = _forty_files(tmp_path)
    monkeypatch.setattr(cli_check, "process", _pid_outcome)
    outcomes = list(cli_check.run_tasks(tasks, 2))
    assert [o.path for o in outcomes] == paths
    pids = [o.warning for o in outcomes]
    assert len(set(pids)) == 2
    # one run each, and at most one run of files taken from the end of the other's
    assert _runs(pids) <= 3, pids


def _dies_on_m05(task):
    import os

    if task.path.endswith("m05.py"):
        os._exit(3)  # as a worker killed by the system
    return _pid_outcome(task)


def test_a_worker_that_dies_costs_one_file(tmp_path, monkeypatch):
    from torch_lsp import cli_check

    paths, tasks = _forty_files(tmp_path)
    monkeypatch.setattr(cli_check, "process", _dies_on_m05)
    outcomes = list(cli_check.run_tasks(tasks, 2))
    assert [o.path for o in outcomes] == paths
    errors = [o.path for o in outcomes if o.error]
    assert errors == [paths[5]] and "worker process died" in outcomes[5].error
    assert all(o.warning for i, o in enumerate(outcomes) if i != 5)


SPAWNED = """
import multiprocessing, sys

if __name__ == "__main__":  # (a spawned worker imports this file again, as __mp_main__)
    multiprocessing.set_start_method("spawn")  # macOS' and Windows' default: nothing inherited
    from multiprocessing.context import SpawnProcess
    from torch_lsp import cli

    real_start = SpawnProcess.start

    def start(self):
        sys.stderr.write("worker started\\n")
        real_start(self)

    SpawnProcess.start = start
    sys.exit(cli.main(sys.argv[1:]))
"""


def test_workers_started_by_spawn_give_what_one_process_gives(tmp_path):
    # Workers that start from nothing (spawn, not fork) check the same files to the
    # same diagnostics: nothing a worker needs comes only through fork.
    import json
    import subprocess
    import sys

    from test_server_bad_input import BUGGY

    for i in range(24):
        (tmp_path / f"m{i:02d}.py").write_text(BUGGY if i % 3 == 0 else "import torch\nx = torch.zeros(2, 3) @ torch.zeros(4, 5)\n")
    (tmp_path / "script.py").write_text(SPAWNED)
    def run(*extra: str) -> tuple[list, int]:
        proc = subprocess.run([sys.executable, str(tmp_path / "script.py"), "check", "--no-cache", "--format", "json",
                               "--exit-zero", *extra, str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout), proc.stderr.count("worker started")

    (spawned, workers), (alone, none) = run("-j", "2"), run("-j", "1")
    assert (workers, none) == (2, 0)
    assert spawned == alone
    assert len(alone) == 24 and {d["code"] for d in alone} == {"TL201", "TL205"}, alone
