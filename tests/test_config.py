"""``[tool.torch-lsp]``: loading, validation, rule selection, globs, excludes."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from torch_lsp.config import (
    DEFAULT_EXCLUDES,
    ConfigError,
    ConfigResolver,
    Overrides,
    RuleSelection,
    Settings,
    glob_matches,
    load_settings,
)
from torch_lsp.rules import RULES


@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def enabled(settings: Settings, path: str | None = None) -> list[str]:
    on = settings.enabled_for(path)
    return [c for c in sorted(RULES) if on(c)]


ALL_CODES = sorted(RULES)


# =============================================================================== selection
def test_defaults_enable_every_rule(proj):
    assert enabled(Settings(root=str(proj))) == ALL_CODES


def test_select_and_ignore_prefixes(proj):
    s = Settings(root=str(proj), select=("TL1", "TL000"), ignore=("TL105",))
    assert enabled(s) == ["TL000", "TL101", "TL102", "TL103", "TL104"]
    assert enabled(Settings(root=str(proj), select=("ALL",), ignore=("TL1", "TL2", "TL3"))) == ["TL000", "TL901", "TL902"]
    assert enabled(Settings(root=str(proj), select=("ALL",), ignore=("TL1", "TL2", "TL3", "TL9"))) == ["TL000"]
    assert enabled(Settings(root=str(proj), select=())) == []


def test_more_specific_selector_wins_and_ignore_wins_ties(proj):
    s = Settings(root=str(proj), select=("TL101",), ignore=("TL1",))
    assert enabled(s) == ["TL101"]
    s = Settings(root=str(proj), select=("TL101",), ignore=("TL101",))
    assert enabled(s) == []


def test_command_line_wins_over_the_file(proj):
    base = Settings(root=str(proj), select=("TL1",), ignore=("TL102",))
    # --select replaces the file's select
    assert enabled(base.with_overrides(Overrides(select=("TL000",)))) == ["TL000"]
    # --select of an ignored code: the flag wins (ruff's rule)
    assert enabled(base.with_overrides(Overrides(select=("TL102",)))) == ["TL102"]
    # --ignore replaces the file's ignore
    assert enabled(base.with_overrides(Overrides(ignore=("TL101",)))) == ["TL102", "TL103", "TL104", "TL105"]
    # --extend-select / --extend-ignore add to them
    assert enabled(base.with_overrides(Overrides(extend_select=("TL000",)))) == ["TL000", "TL101", "TL103", "TL104", "TL105"]
    assert enabled(base.with_overrides(Overrides(extend_select=("TL102",)))) == ["TL101", "TL102", "TL103", "TL104", "TL105"]
    assert enabled(base.with_overrides(Overrides(extend_ignore=("TL1",)))) == []


def test_unsafe_fixes_override(proj):
    s = Settings(root=str(proj), unsafe_fixes=True)
    assert s.with_overrides(Overrides()).unsafe_fixes is True
    assert s.with_overrides(Overrides(unsafe_fixes=False)).unsafe_fixes is False


def test_selection_is_picklable_for_worker_processes(proj):
    s = Settings(root=str(proj), select=("TL1",), per_file_ignores=(("*.py", ("TL101",)),))
    on = s.enabled_for(str(proj / "x.py"))
    assert isinstance(on, RuleSelection)
    again = pickle.loads(pickle.dumps(on))
    assert [c for c in ALL_CODES if again(c)] == ["TL102", "TL103", "TL104", "TL105"]


# =============================================================================== globs
@pytest.mark.parametrize(
    ("pattern", "rel", "expected"),
    [
        ("tests/*", "tests/test_a.py", True),
        ("tests/*", "tests/unit/test_a.py", True),  # `*` crosses directories, like ruff
        ("tests/*", "src/tests.py", False),
        ("test_*.py", "src/deep/test_a.py", True),  # no `/`: the name alone
        ("__init__.py", "pkg/__init__.py", True),
        ("**/gen_*.py", "gen_a.py", True),
        ("**/gen_*.py", "a/b/gen_a.py", True),
        ("src/**/gen_*.py", "src/gen_a.py", True),
        ("./src/*.py", "src/a.py", True),
        ("generated/", "generated", True),
        ("src/*.py", "other/src/a.py", False),
    ],
)
def test_glob_matches(pattern, rel, expected):
    assert glob_matches(pattern, rel, rel.rsplit("/", 1)[-1], "/root/" + rel) is expected


def test_per_file_ignores_relative_to_the_pyproject(proj):
    write(proj / "pyproject.toml", '[tool.torch-lsp.per-file-ignores]\n"tests/*" = ["TL101"]\n"conftest.py" = ["TL1"]\n')
    s = load_settings(str(proj / "pyproject.toml"))
    assert "TL101" not in enabled(s, str(proj / "tests" / "unit" / "test_a.py"))
    assert "TL102" in enabled(s, str(proj / "tests" / "unit" / "test_a.py"))
    assert "TL101" in enabled(s, str(proj / "src" / "tests.py"))
    assert not any(c.startswith("TL1") for c in enabled(s, str(proj / "src" / "conftest.py")))
    assert "TL000" in enabled(s, str(proj / "src" / "conftest.py"))
    os.chdir(proj / "..")  # the current directory does not matter
    assert "TL101" not in enabled(s, str(proj / "tests" / "a.py"))
    assert "TL101" in enabled(s, str(proj.parent / "tests" / "a.py"))  # outside the project


# =============================================================================== excludes
def test_default_excludes(proj):
    s = Settings(root=str(proj))
    for name in DEFAULT_EXCLUDES:
        assert s.is_excluded(str(proj / name)), name
    assert s.is_excluded(str(proj / "build" / "lib" / "x.py"))  # below an excluded directory
    assert not s.is_excluded(str(proj / "build" / "lib" / "x.py"), ancestors=False)
    assert not s.is_excluded(str(proj / "src" / "x.py"))
    assert not s.is_excluded(str(proj / "builder"))
    write(proj / "env" / "pyvenv.cfg", "home = /usr\n")
    assert s.is_excluded(str(proj / "env"))
    assert s.is_excluded(str(proj / "env" / "lib" / "x.py"))


def test_excluded_ancestors_only_below_the_root(tmp_path):
    root = tmp_path / "build" / "project"  # the project itself lives in a directory named build
    s = Settings(root=str(root))
    assert not s.is_excluded(str(root / "src" / "x.py"))
    assert s.is_excluded(str(root / "dist" / "x.py"))


def test_exclude_replaces_and_extend_exclude_adds(proj):
    write(proj / "pyproject.toml", '[tool.torch-lsp]\nexclude = ["generated"]\n')
    s = load_settings(str(proj / "pyproject.toml"))
    assert s.is_excluded(str(proj / "generated"))
    assert not s.is_excluded(str(proj / "build"))
    write(proj / "pyproject.toml", '[tool.torch-lsp]\nextend-exclude = ["generated", "src/gen_*.py"]\n')
    s = load_settings(str(proj / "pyproject.toml"))
    assert s.is_excluded(str(proj / "generated"))
    assert s.is_excluded(str(proj / "build"))
    assert s.is_excluded(str(proj / "src" / "gen_a.py"))
    assert not s.is_excluded(str(proj / "src" / "a.py"))


# =============================================================================== loading
def test_full_section(proj):
    write(
        proj / "pyproject.toml",
        """
[tool.torch-lsp]
select = ["tl1", "TL000"]
ignore = ["TL105"]
exclude = ["gen"]
extend-exclude = ["tmp"]
unsafe-fixes = true

[tool.torch-lsp.per-file-ignores]
"tests/*" = ["TL101"]

[tool.torch-lsp.runtime]
enabled = true
timeout = 5
""",
    )
    s = load_settings(str(proj / "pyproject.toml"))
    assert s.root == str(proj)
    assert s.config_path == str(proj / "pyproject.toml")
    assert s.select == ("TL1", "TL000")
    assert s.ignore == ("TL105",)
    assert s.exclude == ("gen",) and s.extend_exclude == ("tmp",)
    assert s.unsafe_fixes is True
    assert s.per_file_ignores == (("tests/*", ("TL101",)),)
    assert s.runtime == {"enabled": True, "timeout": 5}
    assert s.warnings == ()


def test_no_section_means_defaults(proj):
    write(proj / "pyproject.toml", '[project]\nname = "x"\n')
    s = load_settings(str(proj / "pyproject.toml"))
    assert enabled(s) == ALL_CODES
    assert s.exclude == DEFAULT_EXCLUDES


def test_unknown_keys_are_warnings(proj):
    write(proj / "pyproject.toml", '[tool.torch-lsp]\nfoo = 1\nper_file_ignores = {}\nselect = ["TL1"]\n')
    s = load_settings(str(proj / "pyproject.toml"))
    assert s.warnings == (
        "pyproject.toml: unknown key 'foo' in [tool.torch-lsp]",
        "pyproject.toml: unknown key 'per_file_ignores' in [tool.torch-lsp] (did you mean 'per-file-ignores'?)",
    )
    assert enabled(s) == ["TL101", "TL102", "TL103", "TL104", "TL105"]


def test_unknown_codes_are_errors(proj):
    write(proj / "pyproject.toml", '[tool.torch-lsp]\nselect = ["TL1", "XX9"]\n')
    with pytest.raises(ConfigError) as info:
        load_settings(str(proj / "pyproject.toml"))
    assert str(info.value).startswith("pyproject.toml: invalid value 'XX9' for 'select' in [tool.torch-lsp]")
    with pytest.raises(ConfigError, match="invalid value 'TL2O1' for '--select'.*did you mean 'TL201'"):
        ConfigResolver(Overrides(select=("TL2O1",)))


def test_rule_names_select_their_codes(proj):
    write(proj / "pyproject.toml", '[tool.torch-lsp]\nselect = ["unregistered-tensor", "TL104"]\n')
    assert enabled(load_settings(str(proj / "pyproject.toml"))) == ["TL101", "TL104"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('select = "TL1"', "[tool.torch-lsp] select: expected a list of strings, got a string"),
        ("ignore = [1]", "[tool.torch-lsp] ignore: expected a list of strings, got a list holding an integer"),
        ("exclude = true", "[tool.torch-lsp] exclude: expected a list of strings, got a boolean"),
        ('unsafe-fixes = "yes"', "[tool.torch-lsp] unsafe-fixes: expected true or false, got a string"),
        ('per-file-ignores = ["x"]', "[tool.torch-lsp] per-file-ignores: expected a table of glob = [codes], got a list"),
        ('per-file-ignores = { "a/*" = "TL1" }', "[tool.torch-lsp] per-file-ignores.'a/*': expected a list of strings, got a string"),
        ("runtime = 3", "[tool.torch-lsp] runtime: expected a table, got an integer"),
    ],
)
def test_wrong_types(proj, body, message):
    write(proj / "pyproject.toml", "[tool.torch-lsp]\n" + body + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(str(proj / "pyproject.toml"))
    assert str(info.value) == "pyproject.toml: " + message
    assert "\n" not in str(info.value)


def test_section_that_is_not_a_table(proj):
    write(proj / "pyproject.toml", '[tool]\ntorch-lsp = "on"\n')
    with pytest.raises(ConfigError, match=r"^pyproject.toml: \[tool.torch-lsp\] must be a table"):
        load_settings(str(proj / "pyproject.toml"))


def test_invalid_toml(proj):
    write(proj / "sub" / "pyproject.toml", "[tool.torch-lsp\n")
    with pytest.raises(ConfigError) as info:
        load_settings(str(proj / "sub" / "pyproject.toml"))
    text = str(info.value)
    assert text.startswith(os.path.join("sub", "pyproject.toml") + ": invalid TOML: ")
    assert "\n" not in text
    (proj / "sub" / "pyproject.toml").write_bytes(b"[tool.torch-lsp]\nselect = ['\xff']\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(str(proj / "sub" / "pyproject.toml"))


# =============================================================================== discovery
def test_resolver_searches_upward_and_caches(proj, monkeypatch):
    write(proj / "pyproject.toml", '[tool.torch-lsp]\nselect = ["TL101"]\n')
    write(proj / "a" / "pyproject.toml", '[project]\nname = "a"\n')  # no section: skipped
    write(proj / "b" / "pyproject.toml", '[tool.torch-lsp]\nselect = ["TL102"]\n')
    (proj / "a" / "deep" / "er").mkdir(parents=True)
    (proj / "b" / "c").mkdir(parents=True)
    resolver = ConfigResolver()
    top = resolver.settings_for(str(proj / "x.py"))
    assert top.config_path == str(proj / "pyproject.toml")
    assert resolver.settings_for(str(proj / "a" / "deep" / "er" / "x.py")) is top
    nested = resolver.settings_for(str(proj / "b" / "c" / "x.py"))
    assert nested.config_path == str(proj / "b" / "pyproject.toml")
    assert nested.root == str(proj / "b")
    assert resolver.settings_for(str(proj / "b" / "c")) is nested  # a directory

    import torch_lsp.config as config

    def fail(path):
        raise AssertionError(f"read again: {path}")

    monkeypatch.setattr(config, "read_pyproject", fail)
    assert resolver.settings_for(str(proj / "b" / "c" / "y.py")) is nested
    assert resolver.settings_for(str(proj / "a" / "z.py")) is top


def test_resolver_without_any_pyproject(tmp_path):
    (tmp_path / "src").mkdir()
    resolver = ConfigResolver(cwd=str(tmp_path))
    s = resolver.settings_for(str(tmp_path / "src" / "x.py"))
    assert s.config_path is None
    assert s.root == str(tmp_path)
    assert enabled(s) == ALL_CODES


def test_resolver_applies_overrides_everywhere(proj):
    write(proj / "pyproject.toml", '[tool.torch-lsp]\nselect = ["TL101"]\n')
    write(proj / "b" / "pyproject.toml", "[tool.torch-lsp]\n")
    resolver = ConfigResolver(Overrides(extend_ignore=("TL101",)))
    assert enabled(resolver.settings_for(str(proj / "x.py"))) == []
    assert "TL101" not in enabled(resolver.settings_for(str(proj / "b" / "x.py")))


def test_explicit_config_file(proj):
    write(proj / "conf" / "custom.toml", '[tool.torch-lsp]\nselect = ["TL000"]\n')
    write(proj / "pyproject.toml", '[tool.torch-lsp]\nselect = ["TL101"]\n')
    resolver = ConfigResolver(config_file=str(proj / "conf" / "custom.toml"))
    s = resolver.settings_for(str(proj / "x.py"))
    assert enabled(s) == ["TL000"]
    assert s.root == str(proj / "conf")
    # an explicit file without the section gives the defaults
    write(proj / "empty.toml", "")
    assert enabled(ConfigResolver(config_file=str(proj / "empty.toml")).settings_for(str(proj / "x.py"))) == ALL_CODES
    with pytest.raises(ConfigError, match="No such file"):
        ConfigResolver(config_file=str(proj / "missing.toml"))


def test_resolver_collects_warnings_once(proj):
    write(proj / "pyproject.toml", "[tool.torch-lsp]\nbogus = 1\n")
    (proj / "a").mkdir()
    resolver = ConfigResolver(Overrides(select=("TL1",)))
    resolver.settings_for(str(proj / "x.py"))
    resolver.settings_for(str(proj / "a" / "y.py"))
    assert resolver.warnings == ["pyproject.toml: unknown key 'bogus' in [tool.torch-lsp]"]


def test_resolver_error_names_the_file(proj):
    write(proj / "a" / "pyproject.toml", "[tool.torch-lsp]\nselect = 1\n")
    resolver = ConfigResolver()
    with pytest.raises(ConfigError) as info:
        resolver.settings_for(str(proj / "a" / "x.py"))
    assert info.value.path == str(proj / "a" / "pyproject.toml")
    assert str(info.value).startswith(os.path.join("a", "pyproject.toml") + ": ")
