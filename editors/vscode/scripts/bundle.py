"""npm run bundle: torch-lsp and its pure-Python dependencies into bundled/libs.

Builds a wheel of the repository's torch-lsp (two folders up), then installs it with
``pip install --target bundled/libs`` for Python 3.10 (the oldest torch-lsp supports),
so the dependencies that only older Pythons need (tomli, exceptiongroup) are there too
and the bundle runs on every Python from 3.10 on. Only wheels (``--only-binary``): every
dependency is pure Python (a compiled one would fail here, which is the point).
Run with any Python >= 3.10 that has pip (``npm run bundle`` uses python3; or ``/path/to/python scripts/bundle.py``);
``pip install --target`` installs into a folder, so a system Python that refuses
``pip install`` (PEP 668) works too.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # editors/vscode
REPO = os.path.dirname(os.path.dirname(HERE))
LIBS = os.path.join(HERE, "bundled", "libs")
OLDEST_PYTHON = "3.10"


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_for_oldest(libs: str) -> list[str]:
    """Requirements of the installed distributions that Python 3.10 needs and that are not installed."""
    from pip._vendor.packaging.requirements import Requirement

    env = {"python_version": OLDEST_PYTHON, "python_full_version": OLDEST_PYTHON + ".0", "extra": ""}
    installed: set[str] = set()
    wanted: list[Requirement] = []
    for meta in glob.glob(os.path.join(libs, "*.dist-info", "METADATA")):
        with open(meta, encoding="utf-8") as f:
            headers = f.read().split("\n\n", 1)[0].splitlines()
        for line in headers:
            if line.startswith("Name:"):
                installed.add(_norm(line.split(":", 1)[1].strip()))
            elif line.startswith("Requires-Dist:"):
                req = Requirement(line.split(":", 1)[1].strip())
                if req.marker is None or req.marker.evaluate(env):
                    wanted.append(req)
    return sorted({r.name + str(r.specifier) for r in wanted if _norm(r.name) not in installed})  # no marker: pip would evaluate it for itself


def main() -> int:
    if not os.path.isfile(os.path.join(REPO, "pyproject.toml")):
        print(f"bundle: no pyproject.toml in {REPO}", file=sys.stderr)
        return 2
    shutil.rmtree(LIBS, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="torch-lsp-bundle-") as tmp:
        # A copy of the sources: building in place would leave build/ and *.egg-info in the repository.
        src = os.path.join(tmp, "src")
        shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
            ".git", "node_modules", "editors", "tests", "benchmarks", "build", "dist", "*.egg-info", "__pycache__",
            ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache"))
        wheels = os.path.join(tmp, "wheels")
        pip("wheel", "--no-deps", "--wheel-dir", wheels, src)
        [wheel] = glob.glob(os.path.join(wheels, "torch_lsp-*.whl"))
        # pip chooses versions for --python-version but evaluates markers for the Python
        # running it: add what a 3.10 needs (tomli, exceptiongroup) and install again.
        extra: list[str] = []
        for _ in range(3):
            shutil.rmtree(LIBS, ignore_errors=True)
            pip("install", "--target", LIBS, "--no-compile", "--only-binary", ":all:",
                "--python-version", OLDEST_PYTHON, "--implementation", "py", "--abi", "none", "--platform", "any",
                wheel, *extra)
            missing = sorted(set(missing_for_oldest(LIBS)) - set(extra))
            if not missing:
                break
            extra += missing
    # Console scripts (bin/) point at the build machine's Python: the extension never runs them.
    shutil.rmtree(os.path.join(LIBS, "bin"), ignore_errors=True)
    for cache in glob.glob(os.path.join(LIBS, "**", "__pycache__"), recursive=True):
        shutil.rmtree(cache, ignore_errors=True)
    names = sorted(n for n in os.listdir(LIBS) if n.endswith(".dist-info"))
    print("bundled/libs:", ", ".join(n[: -len(".dist-info")] for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
