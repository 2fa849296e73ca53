"""Client settings (torch_lsp/lsp/settings.py): camelCase JSON read into declared
dataclasses with cattrs; a value of the wrong type is reported and that key keeps its
default, the others apply."""
import pytest

from torch_lsp.lsp.settings import MAX_FILE_BYTES, ClientSettings, RuntimeSettings, camel


def read(data):
    problems: list[str] = []
    return ClientSettings.from_json(data, problems), problems


def test_every_field_has_its_camel_case_key():
    s, problems = read({"select": ["TL1"], "ignore": ["TL902"], "extendSelect": ["TL3"], "extendIgnore": ["TL104"],
                        "inlayHints": False, "reportSyntaxErrors": False, "unsafeFixes": True, "logLevel": "DEBUG",
                        "maxFileSize": 10, "maxFileLines": 0, "workspaceTrusted": False,
                        "runtime": {"enabled": True, "timeout": 2.5, "memoryMb": 512, "python": "/usr/bin/python3",
                                    "reportSkipped": True, "maxEntryPoints": 3}})
    assert problems == []
    assert s == ClientSettings(["TL1"], ["TL902"], ["TL3"], ["TL104"], False, False, True, "debug",
                               RuntimeSettings(True, 2.5, 512, "/usr/bin/python3", True, 3), 10, 0, False, True)
    assert camel("max_entry_points") == "maxEntryPoints"


def test_syntax_errors_are_reported_by_default():
    """As ruff's server does: while a statement does not parse, the editor shows why."""
    s, problems = read({})
    assert (s.report_syntax_errors, problems) == (True, [])


@pytest.mark.parametrize("wrapped", [lambda d: d, lambda d: {"torch-lsp": d}, lambda d: {"settings": d}])
def test_the_section_wrappers(wrapped):
    s, problems = read(wrapped({"inlayHints": False}))
    assert (s.inlay_hints, problems) == (False, [])


def test_a_value_of_the_wrong_type_is_reported_and_the_rest_applies():
    s, problems = read({"select": ["TL1"], "maxFileSize": "2 MB", "unsafeFixes": "false",
                        "runtime": {"enabled": True, "timeout": "3", "colour": "red"}})
    assert s.select == ["TL1"] and s.runtime.enabled is True  # applied
    assert s.max_file_size == MAX_FILE_BYTES and s.unsafe_fixes is False and s.runtime.timeout is None  # defaults
    assert sorted(problems) == sorted([
        "settings: `maxFileSize` must be an integer, not a string; ignored",
        "settings: `unsafeFixes` must be a boolean, not a string; ignored",  # "false" is not False (nor True)
        "settings: `runtime.timeout` must be a number, not a string; ignored",
        "settings: `runtime.colour` is not a runtime setting; ignored",
    ])


def test_values_are_taken_as_they_are():
    s, problems = read({"maxFileLines": True, "extendSelect": [1], "runtime": 5, "workspaceTrusted": "yes"})
    assert s == ClientSettings()
    assert sorted(problems) == sorted([
        "settings: `maxFileLines` must be an integer, not a boolean; ignored",
        "settings: `extendSelect` must be a list of rule codes; ignored",
        "settings: `runtime` must be an object; ignored",
        "settings: `workspaceTrusted` must be a boolean, not a string; ignored",
    ])
    assert s.trust_stated is False  # a trust that could not be read was not stated


def test_checks_beyond_the_type():
    s, problems = read({"logLevel": "loud", "maxFileSize": -1, "select": "TL1", "ignore": None})
    assert (s.log_level, s.max_file_size, s.select, s.ignore) == ("info", MAX_FILE_BYTES, ["TL1"], None)
    assert problems == ["settings: `logLevel` must be one of error, warning, info, debug; ignored",
                        "settings: `maxFileSize` must be 0 (no limit) or more; ignored"]


def test_not_an_object():
    assert read([1]) == (ClientSettings(), ["settings: expected an object, got list; using the defaults"])
    assert read(None) == (ClientSettings(), [])
