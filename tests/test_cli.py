"""The command line: formats, exit codes, fixes, file discovery, bad input.

Runs ``main(argv)`` in-process (fast) except for a few subprocess runs of
``python -m torch_lsp``. Case files live in tests/cli_cases/ and are copied into
``tmp_path`` so that paths and fixes never touch the repository.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from torch_lsp import __version__, cli, cli_check, output
from torch_lsp.analysis.diagnostics import Diagnostic, Fix, Range, RelatedInformation, Severity, TextEdit
from torch_lsp.cli import main
from torch_lsp.rules import RULES

CASES = Path(__file__).parent / "cli_cases"
REPO = Path(__file__).resolve().parent.parent

# Known positions (1-based) in the case files.
TL101_AT = (8, 18, 8, 32)  # unregistered.py: `torch.zeros(3)` in `self.w = torch.zeros(3)`
TL000_AT = (3, 5)  # syntax_error.py: `x = = 1`


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A scratch directory as the current directory, with no pyproject.toml above it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def put(root: Path, rel: str, case: str | None = None, text: str | bytes | None = None) -> Path:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if case is not None:
        shutil.copyfile(CASES / case, target)
    elif isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text or "", encoding="utf-8")
    return target


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def run_json(capsys, *argv: str) -> tuple[int, list[dict], str]:
    rc, out, err = run(capsys, "check", "--format", "json", *argv)
    return rc, json.loads(out), err


def no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert 'File "' not in text


# =============================================================================== json
def test_json_is_exactly_the_contract(work, capsys):
    put(work, "pkg/models/net.py", "unregistered.py")
    rc, items, err = run_json(capsys, "pkg")
    assert rc == 1
    assert err == ""
    assert len(items) == 1
    item = items[0]
    assert list(item) == ["path", "line", "column", "end_line", "end_column", "code", "severity", "message", "fixes"]
    assert item["path"] == "pkg/models/net.py"
    assert (item["line"], item["column"], item["end_line"], item["end_column"]) == TL101_AT
    assert item["code"] == "TL101"
    assert item["severity"] == "warning"
    assert isinstance(item["message"], str) and item["message"]
    assert item["fixes"], "TL101 offers fixes"
    for fix in item["fixes"]:
        assert list(fix) == ["title", "applicability", "edits"]
        assert isinstance(fix["title"], str)
        assert fix["applicability"] == "unsafe"  # TL101's fixes change what is trained and saved
        for edit in fix["edits"]:
            assert set(edit) == {"line", "column", "end_line", "end_column", "new_text"}
            for key in ("line", "column", "end_line", "end_column"):
                assert isinstance(edit[key], int) and edit[key] >= 1
            assert isinstance(edit["new_text"], str)
    for key in ("line", "column", "end_line", "end_column"):
        assert type(item[key]) is int


def test_json_fixes_say_whether_they_are_safe(work, capsys):
    """Each fix carries ruff's "applicability": what --fix applies ("safe") and what needs
    --unsafe-fixes ("unsafe")."""
    src = put(work, "net.py", "super_init.py")
    put(work, "u.py", "unregistered.py")
    _, items, _ = run_json(capsys, "net.py", "u.py")
    marks = {(i["path"], i["code"]): [f["applicability"] for f in i["fixes"]] for i in items}
    assert marks[("u.py", "TL101")] and set(marks[("u.py", "TL101")]) == {"unsafe"}
    safe = [(i, f) for i in items if i["path"] == "net.py" for f in i["fixes"] if f["applicability"] == "safe"]
    assert safe
    # --fix applies exactly the fixes marked safe
    before = src.read_text()
    assert run(capsys, "check", "--fix", "net.py", "u.py")[0] == 1  # TL101's unsafe fix is left
    assert src.read_text() != before and run_json(capsys, "net.py")[1] == []
    assert [i["code"] for i in run_json(capsys, "u.py")[1]] == ["TL101"]


@pytest.mark.parametrize("value", ["0", "-1", "-0.5", "nan", "inf"])
def test_runtime_timeout_must_be_positive(work, capsys, value):
    """--runtime-timeout 0 used to turn the evaluation off silently."""
    put(work, "net.py", "unregistered.py")
    rc, out, err = run(capsys, "check", "--runtime", "--runtime-timeout", value, "net.py")
    assert (rc, out) == (2, "")
    assert err.startswith("error: argument --runtime-timeout: ") and repr(value) in err


def test_json_first_fix_applies_with_one_based_positions(work, capsys):
    """The edits are 1-based and end-exclusive: apply them like tools/score.py does."""
    src = put(work, "net.py", "super_init.py")
    _, items, _ = run_json(capsys, "net.py")
    text = src.read_text()
    lines = text.splitlines(keepends=True)
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln))
    edits = [e for item in items for e in item["fixes"][0]["edits"]]
    for e in sorted(edits, key=lambda e: (e["line"], e["column"]), reverse=True):
        a = starts[e["line"] - 1] + e["column"] - 1
        b = starts[e["end_line"] - 1] + e["end_column"] - 1
        text = text[:a] + e["new_text"] + text[b:]
    assert text == (CASES / "super_init_fixed.py").read_text()


def test_json_path_is_joined_as_given(work, capsys):
    put(work, "pkg/sub/net.py", "unregistered.py")
    assert [i["path"] for i in run_json(capsys, "pkg/")[1]] == ["pkg/sub/net.py"]
    assert [i["path"] for i in run_json(capsys, "./pkg")[1]] == ["./pkg/sub/net.py"]
    assert [i["path"] for i in run_json(capsys, "pkg/sub/net.py")[1]] == ["pkg/sub/net.py"]
    assert [i["path"] for i in run_json(capsys, "pkg/../pkg/sub")[1]] == ["pkg/../pkg/sub/net.py"]
    assert [i["path"] for i in run_json(capsys)[1]] == ["pkg/sub/net.py"]  # default "."
    absolute = str(work / "pkg")
    assert [i["path"] for i in run_json(capsys, absolute)[1]] == [os.path.join(absolute, "sub", "net.py")]


def test_json_columns_are_code_points(work, capsys):
    put(work, "netz.py", "nonascii.py")
    _, items, _ = run_json(capsys, "netz.py")
    # `        self.größe = torch.zeros(3)`: `torch` starts at code point 22 (byte 24).
    assert [(i["code"], i["line"], i["column"], i["end_column"]) for i in items] == [("TL101", 8, 22, 36)]


def test_json_empty_array_when_clean(work, capsys):
    put(work, "clean.py", "clean.py")
    rc, out, err = run(capsys, "check", "--format", "json", "clean.py")
    assert rc == 0
    assert json.loads(out) == []
    assert err == ""


def test_json_order_is_deterministic(work, capsys):
    for name in ("b.py", "a.py", "c/z.py", "c/a.py", "B.py"):
        put(work, name, "unregistered.py")
    paths = [i["path"] for i in run_json(capsys, ".")[1]]
    assert paths == ["B.py", "a.py", "b.py", "c/a.py", "c/z.py"]


# =============================================================================== full / concise
def test_full_format(work, capsys):
    put(work, "net.py", "unregistered.py")
    rc, out, err = run(capsys, "check", "net.py")
    assert rc == 1
    lines = out.splitlines()
    assert lines[0].startswith("net.py:8:18: TL101 [warning] `self.w`")  # the severity, as the concise format
    source = next(i for i, ln in enumerate(lines) if "self.w = torch.zeros(3)" in ln)
    code_line, caret_line = lines[source], lines[source + 1]
    assert code_line.startswith("8 | ")
    assert caret_line.startswith("  | ")
    # the carets sit under `torch.zeros(3)` (14 characters)
    start = code_line.index("torch.zeros(3)")
    assert caret_line[start : start + 15] == "^" * 14 + " "
    assert caret_line[start - 1] == " "
    help_line = next(ln for ln in lines if "= help:" in ln)
    assert help_line.startswith('  = help: Register as a non-persistent buffer: `self.register_buffer("w", ...')
    assert "Found 1 problem." in out
    assert "\x1b[" not in out  # not a terminal: no colour


def test_full_format_all_passed_and_fixable_count(work, capsys):
    put(work, "clean.py", "clean.py")
    rc, out, _ = run(capsys, "check", "clean.py")
    assert (rc, out) == (0, "All checks passed!\n")
    put(work, "net.py", "super_init.py")
    rc, out, _ = run(capsys, "check", "net.py")
    assert rc == 1
    assert "Found 2 problems (2 fixable with --fix)." in out
    assert "net.py:7:9: TL104 [error] [*] " in out


def test_full_format_marks_tabs_and_wide_characters():
    line = "\tx = '漢字' + torch.zeros(3)"
    text, col, width = output.excerpt(line, line.index("torch"), line.index("torch") + 14)
    assert text == "    x = '漢字' + torch.zeros(3)"
    # two wide characters take two columns each
    assert col == len("    x = '") + 4 + len("' + ")
    assert width == 14


def test_excerpt_of_a_huge_line_is_a_window():
    line = "x = [" + "1, " * 100_000 + "]"
    text, col, width = output.excerpt(line, 150_000, 150_003)
    assert len(text) < 200
    assert text.startswith("…") and text.endswith("…")
    assert text[col : col + width] == line[150_000:150_003]


def test_terminal_output_is_sanitised():
    assert output.clean("a\x1b[31mb\u202ec") == "a\ufffd[31mb\ufffdc"
    text, _, _ = output.excerpt("x = '\x1b[2J'", 0, 1)
    assert "\x1b" not in text


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert cli._color_for(Tty()) is True
    assert cli._color_for(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli._color_for(Tty()) is False
    outcome = output.FileOutcome("a.py", [_diag()], {0: "x = 1"})
    assert "\x1b[" in output.format_full([outcome], color=True)
    assert "\x1b[" not in output.format_full([outcome], color=False)


def test_concise_format(work, capsys):
    put(work, "net.py", "unregistered.py")
    put(work, "legacy.py", "legacy.py")
    rc, out, _ = run(capsys, "check", "--format", "concise", "net.py", "legacy.py")
    assert rc == 1
    lines = out.splitlines()
    assert re.fullmatch(r"net\.py:8:18: TL101 \[warning\] .+", lines[0])
    assert re.fullmatch(r"legacy\.py:3:8: TL105 \[information\] .+", lines[1])
    assert lines[2].startswith("Found 2 problems")


def test_quiet_prints_only_diagnostics(work, capsys):
    put(work, "net.py", "unregistered.py")
    rc, out, _ = run(capsys, "check", "--format", "concise", "--quiet", "net.py")
    assert rc == 1
    assert len(out.splitlines()) == 1
    put(work, "clean.py", "clean.py")
    assert run(capsys, "check", "-q", "clean.py") == (0, "", "")


def test_output_file(work, capsys):
    put(work, "net.py", "unregistered.py")
    rc, out, _ = run(capsys, "check", "--format", "json", "--output-file", "report.json", "net.py")
    assert rc == 1
    assert out == ""
    assert json.loads((work / "report.json").read_text())[0]["code"] == "TL101"


def test_statistics(work, capsys):
    put(work, "a.py", "super_init.py")
    put(work, "b.py", "super_init.py")
    put(work, "c.py", "unregistered.py")
    rc, out, _ = run(capsys, "check", "--statistics", ".")
    assert rc == 1
    rows = [ln.split("\t") for ln in out.splitlines() if "\t" in ln]
    assert [(r[0].strip(), r[1]) for r in rows] == [("2", "TL102"), ("2", "TL104"), ("1", "TL101")]
    assert rows[0][2] == "[*] module-in-plain-container"
    rc, out, _ = run(capsys, "check", "--statistics", "--format", "json", ".")
    assert json.loads(out)[2] == {"code": "TL101", "name": "unregistered-tensor", "count": 1, "fixable": 0}


# =============================================================================== sarif
def test_sarif_structure(work, capsys):
    put(work, "pkg/net.py", "super_init.py")
    put(work, "pkg/bad.py", "syntax_error.py")
    rc, out, err = run(capsys, "check", "--format", "sarif", "pkg")
    assert rc == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    assert "sarif" in log["$schema"] and "2.1.0" in log["$schema"]
    assert len(log["runs"]) == 1
    run0 = log["runs"][0]
    driver = run0["tool"]["driver"]
    assert driver["name"] == "torch-lsp"
    assert driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    ids = [r["id"] for r in driver["rules"]]
    assert ids == sorted(RULES)
    for r in driver["rules"]:
        rule = RULES[r["id"]]
        assert r["name"] == rule.name
        assert r["shortDescription"]["text"] == rule.summary
        assert r["fullDescription"]["text"]
        assert r["help"]["text"] == rule.render() and r["help"]["markdown"] == rule.render()
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert {r["id"]: r["defaultConfiguration"]["level"] for r in driver["rules"]}["TL105"] == "note"
    results = run0["results"]
    assert [r["ruleId"] for r in results] == ["TL000", "TL104", "TL102"]
    for res in results:
        assert ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note")
        assert res["message"]["text"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] in ("pkg/bad.py", "pkg/net.py")
        assert set(loc["region"]) == {"startLine", "startColumn", "endLine", "endColumn"}
        assert all(v >= 1 for v in loc["region"].values())
        assert re.fullmatch(r"[0-9a-f]{16}:\d+", res["partialFingerprints"]["primaryLocationLineHash"])
    bad = results[0]
    assert bad["level"] == "error"
    assert (bad["locations"][0]["physicalLocation"]["region"]["startLine"], bad["locations"][0]["physicalLocation"]["region"]["startColumn"]) == TL000_AT
    tl104 = results[1]
    assert tl104["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"].strip() == "super().__init__()"
    # a second run gives the same fingerprints
    _, again, _ = run(capsys, "check", "--format", "sarif", "pkg")
    assert [r["partialFingerprints"] for r in json.loads(again)["runs"][0]["results"]] == [r["partialFingerprints"] for r in results]


def test_sarif_related_locations_and_fingerprint_occurrences():
    rel = RelatedInformation(Range.of(0, 0, 0, 1), "defined here")
    diag = Diagnostic("TL101", Severity.WARNING, Range.of(2, 4, 2, 9), "msg", related=(rel,))
    outcome = output.FileOutcome("dir\\x.py" if os.sep == "\\" else "dir/x y.py", [diag, diag], {2: "    a = b"})
    res = output.sarif_log([outcome])["runs"][0]["results"]
    assert res[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "dir/x%20y.py"
    assert res[0]["relatedLocations"][0]["message"]["text"] == "defined here"
    assert res[0]["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 2}
    h0, h1 = (r["partialFingerprints"]["primaryLocationLineHash"] for r in res)
    assert h0.split(":")[0] == h1.split(":")[0] and (h0.endswith(":1"), h1.endswith(":2")) == (True, True)
    # the fingerprint does not depend on the line number or indentation
    moved = output.FileOutcome("dir/x y.py", [Diagnostic("TL101", Severity.WARNING, Range.of(7, 0, 7, 5), "msg")], {7: "a = b"})
    assert output.sarif_log([moved])["runs"][0]["results"][0]["partialFingerprints"]["primaryLocationLineHash"] == h0


# =============================================================================== github
def test_github_format(work, capsys):
    put(work, "net.py", "super_init.py")
    put(work, "legacy.py", "legacy.py")
    rc, out, _ = run(capsys, "check", "--format", "github", "legacy.py", "net.py")
    assert rc == 1
    lines = out.splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"::notice file=legacy\.py,line=3,col=8,endLine=3,endColumn=37,title=torch-lsp \(TL105\)::.+", lines[0])
    assert re.fullmatch(r"::error file=net\.py,line=7,col=9,endLine=7,endColumn=34,title=torch-lsp \(TL104\)::.+", lines[1])
    assert lines[2].startswith("::warning file=net.py,line=8,col=23,")


def _diag(message: str = "message", severity: Severity = Severity.ERROR) -> Diagnostic:
    fix = Fix("fix it", (TextEdit(Range.of(0, 0, 0, 1), "y"),))
    return Diagnostic("TL101", severity, Range.of(0, 0, 0, 1), message, fixes=(fix,))


def test_github_escaping():
    outcome = output.FileOutcome("a,b:c%.py", [_diag("100% bad,\r\nreally: yes")], {0: "x"})
    line = output.format_github([outcome])
    assert line == "::error file=a%2Cb%3Ac%25.py,line=1,col=1,endLine=1,endColumn=2,title=torch-lsp (TL101)::100%25 bad,%0D%0Areally: yes\n"
    hint = output.FileOutcome("a.py", [_diag(severity=Severity.HINT)], {})
    assert output.format_github([hint]).startswith("::notice ")


# =============================================================================== exit codes
@pytest.mark.parametrize(
    ("case", "expected"),
    [("clean.py", 0), ("unregistered.py", 1), ("super_init.py", 1), ("syntax_error.py", 1), ("legacy.py", 0)],
)
def test_exit_codes(work, capsys, case, expected):
    put(work, case, case)
    assert run(capsys, "check", "--format", "concise", case)[0] == expected


def test_exit_zero(work, capsys):
    put(work, "net.py", "unregistered.py")
    rc, out, _ = run(capsys, "check", "--exit-zero", "net.py")
    assert rc == 0
    assert "TL101" in out
    # but not for errors of the run itself
    assert run(capsys, "check", "--exit-zero", "net.py", "missing.py")[0] == 2


def test_usage_errors_exit_2(work, capsys):
    rc, out, err = run(capsys, "check", "--format", "xml")
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert run(capsys, "check", "--jobs", "x")[0] == 2
    assert run(capsys, "check", "--fix", "--diff")[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys)[0] == 2


def test_version_and_help(capsys):
    rc, out, _ = run(capsys, "--version")
    assert (rc, out) == (0, f"torch-lsp {__version__}\n")
    rc, out, _ = run(capsys, "check", "--help")
    assert rc == 0 and "--select" in out and "--format" in out


# =============================================================================== fixes
def test_fix_in_place_then_clean(work, capsys):
    src = put(work, "net.py", "super_init.py")
    src.chmod(0o640)
    rc, out, err = run(capsys, "check", "--fix", "net.py")
    assert rc == 0, err
    assert "Fixed 2 problems." in out
    assert "All checks passed!" in out
    assert src.read_text() == (CASES / "super_init_fixed.py").read_text()
    assert stat.S_IMODE(src.stat().st_mode) == 0o640
    assert sorted(p.name for p in work.iterdir()) == ["net.py"]  # no temporary file left
    assert run(capsys, "check", "net.py")[0] == 0


def test_fix_leaves_unsafe_fixes_alone(work, capsys):
    src = put(work, "net.py", "unregistered.py")
    rc, out, _ = run(capsys, "check", "--fix", "net.py")
    assert rc == 1
    assert src.read_bytes() == (CASES / "unregistered.py").read_bytes()
    assert "Fixed" not in out
    assert "Found 1 problem.\n1 more fix is available with --unsafe-fixes.\n" in out
    rc, out, _ = run(capsys, "check", "--fix", "--unsafe-fixes", "net.py")
    assert rc == 0
    assert 'self.register_buffer("w", torch.zeros(3), persistent=False)' in src.read_text()
    assert run(capsys, "check", "net.py")[0] == 0


def test_unsafe_fixes_from_the_configuration(work, capsys):
    (work / "pyproject.toml").write_text("[tool.torch-lsp]\nunsafe-fixes = true\n")
    src = put(work, "net.py", "unregistered.py")
    assert run(capsys, "check", "--fix", "--no-unsafe-fixes", "net.py")[0] == 1
    assert "register_buffer" not in src.read_text()
    assert run(capsys, "check", "--fix", "net.py")[0] == 0
    assert 'self.register_buffer("w", torch.zeros(3), persistent=False)' in src.read_text()


def test_fix_keeps_crlf_line_endings(work, capsys):
    text = (CASES / "super_init.py").read_text().replace("\n", "\r\n")
    src = put(work, "net.py", text=text.encode())
    assert run(capsys, "check", "--fix", "net.py")[0] == 0
    data = src.read_bytes()
    assert data == (CASES / "super_init_fixed.py").read_text().replace("\n", "\r\n").encode()
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_fix_keeps_the_encoding(work, capsys):
    text = "# -*- coding: latin-1 -*-\n# caf\xe9\n" + (CASES / "super_init.py").read_text()
    src = put(work, "net.py", text=text.encode("latin-1"))
    assert run(capsys, "check", "--fix", "net.py")[0] == 0
    data = src.read_bytes()
    assert b"# caf\xe9\n" in data
    assert "super().__init__()" in data.decode("latin-1")
    bom = put(work, "bom.py", text=b"\xef\xbb\xbf" + (CASES / "super_init.py").read_bytes())
    assert run(capsys, "check", "--fix", "bom.py")[0] == 0
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf")
    assert bom.read_bytes()[3:] == (CASES / "super_init_fixed.py").read_bytes()


def test_form_feed_and_line_separator_do_not_shift_lines(work, capsys):
    """Python ends lines only at \\n, \\r\\n and \\r; a form feed (old GNU style page
    break) or U+2028 in a comment must not shift positions, excerpts or fixes."""
    text = (CASES / "unregistered.py").read_text()
    text = text.replace("from torch import nn\n", "from torch import nn\n\x0c\n", 1)
    text = text.replace("super().__init__()\n", "super().__init__()  # \u2028 odd\n", 1)
    src = put(work, "net.py", text=text.encode("utf-8"))
    rc, out, _ = run(capsys, "check", "net.py")
    assert out.startswith("net.py:9:18: TL101 ")
    assert "9 |         self.w = torch.zeros(3)\n" in out
    rc, out, err = run(capsys, "check", "--fix", "--unsafe-fixes", "net.py")
    assert (rc, err) == (0, "")
    assert src.read_text(encoding="utf-8") == text.replace(
        "self.w = torch.zeros(3)", 'self.register_buffer("w", torch.zeros(3), persistent=False)')


def test_fix_through_a_symlink_keeps_the_link(work, capsys):
    real = put(work, "real/net.py", "super_init.py")
    (work / "link.py").symlink_to(real)
    assert run(capsys, "check", "--fix", "link.py")[0] == 0
    assert (work / "link.py").is_symlink()
    assert real.read_text() == (CASES / "super_init_fixed.py").read_text()


def test_fix_refuses_to_write_invalid_python(work, capsys, monkeypatch):
    import torch_lsp.analysis.fixes as fixes

    monkeypatch.setattr(fixes, "apply_fixes", lambda text, chosen: text.replace("def __init__(self):", "def __init__(self:"))
    src = put(work, "net.py", "super_init.py")
    rc, out, err = run(capsys, "check", "--fix", "net.py")
    assert rc == 2
    assert src.read_bytes() == (CASES / "super_init.py").read_bytes()
    (line,) = err.splitlines()
    assert line.startswith("error: net.py: a fix would leave invalid Python")
    assert "TL104" in out  # the problems are still reported
    no_traceback(err)


def test_fix_not_written_when_replace_fails(work, capsys, monkeypatch):
    src = put(work, "net.py", "super_init.py")

    def refuse(a, b):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "replace", refuse)
    rc, out, err = run(capsys, "check", "--fix", "net.py")
    assert rc == 2
    assert err == "error: net.py: fixes not written: Read-only file system\n"
    assert src.read_bytes() == (CASES / "super_init.py").read_bytes()
    assert sorted(p.name for p in work.iterdir()) == ["net.py"]  # the temporary file is gone
    assert "Found 2 problems" in out and "Fixed" not in out


def test_fix_rounds_stop(work, capsys, monkeypatch):
    """A fix that keeps producing new work is applied at most MAX_FIX_ROUNDS times."""
    import torch_lsp.analysis.fixes as fixes

    calls = []

    def grow(text, chosen):
        calls.append(1)
        return text + "\n# more\n"

    monkeypatch.setattr(fixes, "apply_fixes", grow)
    put(work, "net.py", "super_init.py")
    run(capsys, "check", "--fix", "net.py")
    assert len(calls) == fixes.MAX_FIX_ROUNDS


def test_diff_writes_nothing(work, capsys):
    src = put(work, "net.py", "super_init.py")
    before = src.stat()
    rc, out, err = run(capsys, "check", "--diff", "net.py")
    assert rc == 1
    assert out.startswith("--- net.py\n+++ net.py\n")
    assert "+        super().__init__()\n" in out
    assert "+        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.ReLU()])\n" in out
    assert "Would fix 2 problems." in err
    assert src.read_bytes() == (CASES / "super_init.py").read_bytes()
    assert src.stat().st_mtime_ns == before.st_mtime_ns
    put(work, "clean.py", "clean.py")
    rc, out, _ = run(capsys, "check", "--diff", "clean.py")
    assert (rc, out) == (0, "")


def test_fix_json_output_is_only_the_remaining_diagnostics(work, capsys):
    put(work, "a.py", "super_init.py")
    put(work, "b.py", "unregistered.py")
    rc, out, err = run(capsys, "check", "--fix", "--format", "json", ".")
    assert rc == 1
    assert [i["path"] for i in json.loads(out)] == ["b.py"]
    assert "Fixed 2 problems." in err


# =============================================================================== selection and configuration
def codes_of(capsys, *argv: str) -> list[str]:
    return [i["code"] for i in run_json(capsys, *argv)[1]]


def test_select_and_ignore_flags(work, capsys):
    put(work, "net.py", "super_init.py")
    assert codes_of(capsys, "net.py") == ["TL104", "TL102"]
    assert codes_of(capsys, "--select", "TL104", "net.py") == ["TL104"]
    rc, items, err = run_json(capsys, "--select", "tl102,TL000", "net.py")
    assert ([i["code"] for i in items], err) == (["TL102"], "")
    assert codes_of(capsys, "--ignore", "TL1", "net.py") == []
    assert codes_of(capsys, "--select", "TL1", "--ignore", "TL104", "net.py") == ["TL102"]
    assert codes_of(capsys, "--select", "TL104", "--select", "TL102", "net.py") == ["TL104", "TL102"]
    assert codes_of(capsys, "--select", "ALL", "--extend-ignore", "TL102", "net.py") == ["TL104"]


def test_configuration_file_and_flag_precedence(work, capsys):
    put(work, "net.py", "super_init.py")
    (work / "pyproject.toml").write_text('[tool.torch-lsp]\nselect = ["TL104"]\n')
    assert codes_of(capsys, "net.py") == ["TL104"]
    assert codes_of(capsys, "--select", "TL102", "net.py") == ["TL102"]  # replaces
    assert codes_of(capsys, "--extend-select", "TL102", "net.py") == ["TL104", "TL102"]  # adds
    (work / "pyproject.toml").write_text('[tool.torch-lsp]\nignore = ["TL102"]\n')
    assert codes_of(capsys, "net.py") == ["TL104"]
    assert codes_of(capsys, "--ignore", "TL104", "net.py") == ["TL102"]  # replaces the file's ignore
    assert codes_of(capsys, "--extend-ignore", "TL104", "net.py") == []
    assert codes_of(capsys, "--extend-select", "TL102", "net.py") == ["TL104", "TL102"]  # the flag wins


def test_per_file_ignores(work, capsys):
    (work / "pyproject.toml").write_text(
        '[tool.torch-lsp.per-file-ignores]\n"tests/*" = ["TL101"]\n"legacy_*.py" = ["TL1"]\n'
    )
    put(work, "src/net.py", "unregistered.py")
    put(work, "tests/unit/test_net.py", "unregistered.py")
    put(work, "src/legacy_net.py", "super_init.py")
    rc, items, _ = run_json(capsys, ".")
    assert [(i["path"], i["code"]) for i in items] == [("src/net.py", "TL101")]
    # relative to the pyproject's directory, not to the current directory
    os.chdir(work / "tests")
    assert run_json(capsys, ".")[1] == []


def test_nearest_pyproject_with_a_section_wins(work, capsys):
    (work / "pyproject.toml").write_text('[tool.torch-lsp]\nignore = ["TL101"]\n')
    put(work, "a/net.py", "unregistered.py")
    put(work, "b/net.py", "unregistered.py")
    put(work, "c/net.py", "unregistered.py")
    (work / "b/pyproject.toml").write_text("[tool.torch-lsp]\n")  # its own: all rules
    (work / "c/pyproject.toml").write_text('[project]\nname = "c"\n')  # no section: keep looking up
    assert [i["path"] for i in run_json(capsys, ".")[1]] == ["b/net.py"]


def test_explicit_config(work, capsys):
    put(work, "net.py", "super_init.py")
    put(work, "conf/pyproject.toml", text='[tool.torch-lsp]\nselect = ["TL102"]\n')
    assert codes_of(capsys, "--config", "conf/pyproject.toml", "net.py") == ["TL102"]
    rc, out, err = run(capsys, "check", "--config", "nope.toml", "net.py")
    assert rc == 2 and out == ""
    assert err == "error: nope.toml: No such file\n"


def test_invalid_toml_is_a_one_line_error(work, capsys):
    put(work, "net.py", "unregistered.py")
    (work / "pyproject.toml").write_text("[tool.torch-lsp\nselect = 1\n")
    rc, out, err = run(capsys, "check", "net.py")
    assert rc == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: pyproject.toml: invalid TOML")
    no_traceback(err)


def test_wrong_type_is_a_one_line_error(work, capsys):
    put(work, "net.py", "unregistered.py")
    (work / "pyproject.toml").write_text('[tool.torch-lsp]\nselect = "TL1"\n')
    rc, _, err = run(capsys, "check", "net.py")
    assert rc == 2
    assert err == "error: pyproject.toml: [tool.torch-lsp] select: expected a list of strings, got a string\n"


def test_unknown_key_is_a_warning(work, capsys):
    put(work, "net.py", "unregistered.py")
    (work / "pyproject.toml").write_text('[tool.torch-lsp]\nfoo = 1\nignore = ["TL105"]\n')
    rc, out, err = run(capsys, "check", "net.py")
    assert rc == 1
    assert "TL101" in out
    assert err.splitlines() == ["warning: pyproject.toml: unknown key 'foo' in [tool.torch-lsp]"]


SELECT_FLAGS = ("--select", "--ignore", "--extend-select", "--extend-ignore")


@pytest.mark.parametrize("flag", SELECT_FLAGS)
@pytest.mark.parametrize(("value", "near"), [("TL2O1", "TL201"), ("TL1O1", "TL101"), ("unregistered-tensr", "unregistered-tensor"),
                                             ("", None), ("TL1,", None), ("XY1", None)])
def test_unknown_selector_is_an_error(work, capsys, flag, value, near):
    """A typo used to turn the check off silently (the run passed): now exit 2, naming
    the bad selector and the closest valid one, and nothing is checked."""
    put(work, "net.py", "unregistered.py")
    rc, out, err = run(capsys, "check", flag, value, "net.py")
    assert rc == 2
    assert out == ""
    (line,) = err.splitlines()
    bad = value.split(",")[-1] if "," in value else value
    assert line.startswith(f"error: invalid value '{bad}' for '{flag}': ")
    assert (f"did you mean '{near}'?" in line) if near else ("did you mean" not in line)


@pytest.mark.parametrize("key", ["select", "ignore", "per-file-ignores"])
def test_unknown_selector_in_the_configuration_is_an_error(work, capsys, key):
    put(work, "net.py", "unregistered.py")
    body = 'per-file-ignores = { "*.py" = ["TL1O1"] }' if key == "per-file-ignores" else f'{key} = ["TL1O1"]'
    (work / "pyproject.toml").write_text(f"[tool.torch-lsp]\n{body}\n")
    rc, out, err = run(capsys, "check", "net.py")
    assert rc == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: pyproject.toml: invalid value 'TL1O1' for '")
    assert line.endswith("did you mean 'TL101'?")


def test_rule_names_are_accepted_wherever_codes_are(work, capsys):
    put(work, "net.py", "unregistered.py")
    assert [i["code"] for i in run_json(capsys, "--select", "unregistered-tensor", "net.py")[1]] == ["TL101"]
    assert run_json(capsys, "--select", "TL1", "--ignore", "unregistered-tensor", "net.py")[1] == []
    assert run_json(capsys, "--select", "TL2", "--extend-select", "Unregistered-Tensor", "net.py")[1] != []
    assert run_json(capsys, "--extend-ignore", "unregistered-tensor", "net.py")[1] == []
    (work / "pyproject.toml").write_text('[tool.torch-lsp]\nignore = ["unregistered-tensor"]\n')
    assert run_json(capsys, "net.py")[1] == []
    (work / "pyproject.toml").write_text('[tool.torch-lsp]\nper-file-ignores = { "net.py" = ["unregistered-tensor"] }\n')
    assert run_json(capsys, "net.py")[1] == []
    (work / "pyproject.toml").unlink()
    for prefix in ("TL1", "TL10", "tl101", "ALL", "all"):  # prefixes and ALL stay valid
        assert [i["code"] for i in run_json(capsys, "--select", prefix, "--extend-select", "unregistered-tensor", "net.py")[1]] == ["TL101"]




# =============================================================================== discovery and excludes
def test_directory_walk_skips_default_excludes(work, capsys):
    put(work, "src/net.py", "unregistered.py")
    for skipped in (".venv/lib/x.py", "venv/x.py", "build/lib/x.py", "dist/x.py", "node_modules/x.py", "src/__pycache__/x.py", ".git/x.py"):
        put(work, skipped, "unregistered.py")
    put(work, "myenv/pyvenv.cfg", text="home = /usr\n")
    put(work, "myenv/lib/x.py", "unregistered.py")
    put(work, "src/notes.txt", text="self.w = torch.zeros(3)\n")
    assert [i["path"] for i in run_json(capsys, ".")[1]] == ["src/net.py"]


def test_explicit_file_in_excluded_directory(work, capsys):
    put(work, "build/net.py", "unregistered.py")
    put(work, "script", "unregistered.py")  # no .py suffix: checked when named
    assert [i["path"] for i in run_json(capsys, "build/net.py", "script")[1]] == ["build/net.py", "script"]
    assert [i["path"] for i in run_json(capsys, "build")[1]] == ["build/net.py"]  # an explicit directory too
    rc, items, _ = run_json(capsys, "--force-exclude", "build/net.py")
    assert (rc, items) == (0, [])
    assert run_json(capsys, "--force-exclude", "build")[1] == []


def test_configured_excludes(work, capsys):
    put(work, "build/net.py", "unregistered.py")
    put(work, "generated/net.py", "unregistered.py")
    put(work, "src/gen_net.py", "unregistered.py")
    put(work, "src/net.py", "unregistered.py")
    (work / "pyproject.toml").write_text('[tool.torch-lsp]\nexclude = ["generated"]\n')
    assert [i["path"] for i in run_json(capsys, ".")[1]] == ["build/net.py", "src/gen_net.py", "src/net.py"]
    (work / "pyproject.toml").write_text('[tool.torch-lsp]\nextend-exclude = ["generated", "src/gen_*.py"]\n')
    assert [i["path"] for i in run_json(capsys, ".")[1]] == ["src/net.py"]
    assert [i["path"] for i in run_json(capsys, "--force-exclude", "src/gen_net.py", "src/net.py")[1]] == ["src/net.py"]


def test_same_file_twice_is_checked_once(work, capsys):
    put(work, "pkg/net.py", "unregistered.py")
    (work / "pkg/alias.py").symlink_to(work / "pkg/net.py")
    rc, items, err = run_json(capsys, "pkg/net.py", ".", "pkg", "pkg/net.py")
    assert [i["path"] for i in items] == ["pkg/net.py"]
    assert err == ""  # `pkg` holds Python files, all of them checked already


def test_many_files_in_parallel_keep_their_order(work, capsys):
    for i in range(40):
        put(work, f"pkg/m{i % 3}/net_{i:02d}.py", "unregistered.py" if i % 2 else "clean.py")
    serial = run(capsys, "check", "--format", "json", "-j", "1", "pkg")
    parallel = run(capsys, "check", "--format", "json", "-j", "2", "pkg")
    automatic = run(capsys, "check", "--format", "json", "pkg")
    assert serial == parallel == automatic
    paths = [i["path"] for i in json.loads(serial[1])]
    assert len(paths) == 20 and paths == sorted(paths)


# =============================================================================== bad input
def test_missing_path_is_reported_after_the_rest(work, capsys):
    put(work, "net.py", "unregistered.py")
    rc, out, err = run(capsys, "check", "--format", "concise", "nope.py", "net.py", "gone/")
    assert rc == 2
    assert "net.py:8:18: TL101" in out
    assert err.splitlines() == ["error: nope.py: No such file or directory", "error: gone/: No such file or directory"]


def test_missing_path_never_says_all_checks_passed(work, capsys):
    rc, out, err = run(capsys, "check", "nothere.py")
    assert (rc, out, err) == (2, "", "error: nothere.py: No such file or directory\n")
    put(work, "net.py", "clean.py")
    rc, out, err = run(capsys, "check", "--statistics", "net.py", "nothere.py")
    assert (rc, out) == (2, "")
    assert err == "error: nothere.py: No such file or directory\n"


def test_directory_without_python_files(work, capsys):
    (work / "empty").mkdir()
    put(work, "docs/readme.txt", text="hello")
    rc, out, err = run(capsys, "check", "empty", "docs")
    assert rc == 0
    assert err.splitlines() == ["warning: empty: no Python files found", "warning: docs: no Python files found"]
    assert "All checks passed!" in out


def test_undecodable_bytes_are_tl000(work, capsys):
    put(work, "latin.py", text=b"import torch\n\nname = 'caf\xe9'\n")
    put(work, "net.py", "unregistered.py")
    rc, items, err = run_json(capsys, "latin.py", "net.py")
    assert rc == 1
    assert [(i["path"], i["code"], i["severity"]) for i in items] == [("latin.py", "TL000", "error"), ("net.py", "TL101", "warning")]
    assert items[0]["line"] == 3
    assert err == ""


def test_syntax_error_is_tl000_at_its_position(work, capsys):
    put(work, "bad.py", "syntax_error.py")
    rc, items, err = run_json(capsys, "bad.py")
    assert rc == 1
    (item,) = items
    assert (item["code"], item["line"], item["column"]) == ("TL000",) + TL000_AT
    assert err == ""


def test_deeply_nested_parentheses(work, capsys):
    put(work, "deep.py", text="x = " + "(" * 10000 + ")" * 10000 + "\n")
    put(work, "deeper.py", text="x = " + "-" * 200_000 + "1\n")
    rc, out, err = run(capsys, "check", "--format", "concise", "deep.py", "deeper.py")
    assert rc == 1
    assert re.search(r"^deep\.py:1:\d+: TL000 ", out, re.M)
    assert re.search(r"^deeper\.py:1:\d+: TL000 ", out, re.M)
    assert err == ""
    no_traceback(out)


def test_huge_file_is_skipped_quickly(work, capsys):
    big = work / "big.py"
    with open(big, "wb") as f:
        f.write(b"# generated\n")
        f.write(b"x = 1  # " + b"0123456789" * (5 * 1024 * 1024) + b"\n")
    assert big.stat().st_size > 50 * 1024 * 1024
    put(work, "net.py", "unregistered.py")
    t0 = time.monotonic()
    rc, out, err = run(capsys, "check", "--format", "concise", ".")
    assert time.monotonic() - t0 < 10
    assert rc == 1
    assert "net.py:8:18: TL101" in out
    (line,) = err.splitlines()
    assert line.startswith("warning: big.py: skipped: the file is 50.0 MB")


def test_symlink_loops(work, capsys):
    put(work, "pkg/net.py", "unregistered.py")
    (work / "pkg/again").symlink_to(work / "pkg")  # a directory loop
    (work / "pkg/sub").mkdir()
    (work / "pkg/sub/up").symlink_to(work / "pkg")  # a loop two levels deep
    (work / "loop_a.py").symlink_to(work / "loop_b.py")  # a file loop
    (work / "loop_b.py").symlink_to(work / "loop_a.py")
    rc, out, err = run(capsys, "check", "--format", "concise", "pkg", "loop_a.py")
    assert rc == 2
    assert [ln.split(":")[0] for ln in out.splitlines() if "TL101" in ln] == ["pkg/net.py"]
    assert err.splitlines() == ["error: loop_a.py: Too many levels of symbolic links"]
    # found while walking: an error for that file, the rest is checked
    rc, out, err = run(capsys, "check", "--format", "concise", ".")
    assert rc == 2
    assert [ln.split(":")[0] for ln in out.splitlines() if "TL101" in ln] == ["pkg/net.py"]
    assert err.splitlines() == ["error: loop_a.py: Too many levels of symbolic links", "error: loop_b.py: Too many levels of symbolic links"]


def test_broken_symlink(work, capsys):
    (work / "dangling.py").symlink_to(work / "nowhere.py")
    rc, _, err = run(capsys, "check", "dangling.py")
    assert (rc, err) == (2, "error: dangling.py: broken symbolic link\n")
    rc, _, err = run(capsys, "check", ".")
    assert (rc, err) == (2, "error: dangling.py: broken symbolic link\n")


def test_permission_denied(work, capsys, monkeypatch):
    put(work, "secret.py", "unregistered.py")
    put(work, "net.py", "unregistered.py")
    real_open = open

    def fake_open(path, *a, **kw):
        if os.path.basename(str(path)) == "secret.py":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **kw)

    monkeypatch.setattr(cli_check, "open", fake_open, raising=False)  # (where files are read)
    rc, out, err = run(capsys, "check", "--format", "concise", ".")
    assert rc == 2
    assert "net.py:8:18: TL101" in out
    assert err == "error: secret.py: Permission denied\n"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_for_real(work, capsys):
    secret = put(work, "secret.py", "unregistered.py")
    secret.chmod(0)
    try:
        rc, _, err = run(capsys, "check", "secret.py")
    finally:
        secret.chmod(0o644)
    assert (rc, err) == (2, "error: secret.py: Permission denied\n")


def test_internal_error_in_one_file(work, capsys, monkeypatch):
    import torch_lsp.engine as engine
    import torch_lsp.strict as strict

    monkeypatch.setattr(strict, "_ON", False)  # what users get: the file's error, the rest checked

    real = engine.check_source

    def flaky(data, path=None, **kw):
        if path and path.endswith("boom.py"):
            raise RuntimeError("boom\nsecond line")
        return real(data, path, **kw)

    monkeypatch.setattr(engine, "check_source", flaky)
    put(work, "boom.py", "clean.py")
    put(work, "net.py", "unregistered.py")
    rc, out, err = run(capsys, "check", "--format", "concise", ".")
    assert rc == 2
    assert "net.py:8:18: TL101" in out
    assert err == "error: boom.py: internal error in torch-lsp: RuntimeError: boom; rerun with --debug\n"
    for argv in (["check", "--debug", "."], ["--debug", "check", "."]):
        rc, _, err = run(capsys, *argv)
        assert rc == 2
        assert "Traceback" in err and "RuntimeError: boom" in err
    monkeypatch.setattr(strict, "_ON", True)  # strict mode: the error is raised
    with pytest.raises(RuntimeError, match="boom"):
        run(capsys, "check", ".")


def test_internal_error_outside_the_analysis(work, capsys, monkeypatch, lenient):
    def broken(*a, **kw):
        raise KeyError("oops")

    monkeypatch.setitem(cli.FORMATTERS, "json", broken)
    put(work, "net.py", "clean.py")
    rc, out, err = run(capsys, "check", "--format", "json", "net.py")
    assert (rc, out) == (2, "")
    assert err == "error: internal error in torch-lsp: KeyError: 'oops'; rerun with --debug\n"


def test_runtime_without_torch_warns_once_and_runs_the_static_checks(work, capsys):
    put(work, "net.py", "unregistered.py")
    put(work, "other.py", "unregistered.py")
    wrapper = work / "python-without-site"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    wrapper.chmod(0o755)
    (work / "pyproject.toml").write_text(f'[tool.torch-lsp.runtime]\npython = "{wrapper}"\n')
    rc, items, err = run_json(capsys, "--runtime", "net.py", "other.py")
    assert rc == 1 and [i["code"] for i in items] == ["TL101", "TL101"]
    assert err.count("warning: --runtime: torch cannot be imported") == 1
    # How to add torch to that interpreter (torch-lsp itself is not on a package index).
    assert f"`{wrapper} -m pip install torch`" in err and "torch-lsp[torch]" not in err


# =============================================================================== progress
class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_for_long_runs():
    stream = _Tty()
    bar = cli.Progress(10, stream, enabled=True)
    for _ in range(10):
        bar.advance()
    bar.finish()
    assert stream.getvalue() == ""
    stream = _Tty()
    bar = cli.Progress(300, stream, enabled=True)
    for _ in range(300):
        bar.advance()
    bar.finish()
    assert "300/300 files" in stream.getvalue()
    assert stream.getvalue().endswith("\r\x1b[K")
    stream = _Tty()
    bar = cli.Progress(300, stream, enabled=False)
    bar.advance()
    assert stream.getvalue() == ""


def test_no_progress_bar_when_not_a_terminal(work, capsys):
    for i in range(cli.PROGRESS_MIN_FILES + 1):
        put(work, f"m/f{i:03d}.py", text="x = 1\n")
    rc, out, err = run(capsys, "check", "-j", "1", "m")
    assert (rc, err) == (0, "")


# =============================================================================== rules
def test_rule_command(capsys):
    rc, out, _ = run(capsys, "rule", "TL101")
    assert (rc, out) == (0, RULES["TL101"].render())
    assert run(capsys, "rule", "unregistered-tensor")[1] == RULES["TL101"].render()
    assert run(capsys, "rule", "tl000")[1] == RULES["TL000"].render()
    rc, out, _ = run(capsys, "rule", "--all")
    assert rc == 0 and all(f"({code})" in out for code in RULES)


def test_unknown_rule(capsys):
    rc, out, err = run(capsys, "rule", "TL999")
    assert (rc, out) == (2, "")
    assert err.startswith("error: unknown rule 'TL999'")
    assert run(capsys, "rule")[0] == 2


def test_rules_table(capsys):
    rc, out, _ = run(capsys, "rules")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "SEVERITY", "FIXABLE"]
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    assert set(rows) == set(RULES)
    for code, rule in RULES.items():
        assert rows[code][1:] == [rule.name, rule.severity.label, "yes" if rule.fixable else "no"]
    assert run(capsys, "rule", "--list")[1] == out


# =============================================================================== the real entry point
def _python_m(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "torch_lsp", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_python_m_json(tmp_path):
    put(tmp_path, "models/net.py", "unregistered.py")
    put(tmp_path, "models/deep.py", text="x = " + "(" * 10000 + ")" * 10000 + "\n")
    proc = _python_m("check", "--format", "json", "models", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    items = json.loads(proc.stdout)
    assert [(i["path"], i["code"]) for i in items] == [("models/deep.py", "TL000"), ("models/net.py", "TL101")]
    assert proc.stderr == ""


def _python_m_stdin(data: bytes, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "torch_lsp", *args], cwd=cwd, env=env, input=data, capture_output=True,
                          timeout=120)


def test_stdin_is_checked_under_its_stdin_filename(tmp_path):
    source = (CASES / "unregistered.py").read_bytes()
    proc = _python_m_stdin(source, "check", "--format", "json", "-", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert [(i["path"], i["code"], i["line"]) for i in json.loads(proc.stdout)] == [("-", "TL101", 8)]
    # --stdin-filename: the name in messages, the configuration found from it and its per-file ignores
    put(tmp_path, "pkg/pyproject.toml", text='[tool.torch-lsp]\nper-file-ignores = { "quiet.py" = ["TL101"] }\n')
    proc = _python_m_stdin(source, "check", "--format", "concise", "--stdin-filename", "pkg/net.py", "-", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith("pkg/net.py:8:18: TL101")
    proc = _python_m_stdin(source, "check", "--stdin-filename", "pkg/quiet.py", cwd=tmp_path)  # no PATH: stdin
    assert (proc.returncode, proc.stdout.decode()) == (0, "All checks passed!\n")
    proc = _python_m_stdin(source, "check", "-", "other.py", cwd=tmp_path)
    assert proc.returncode == 2 and b"standard input" in proc.stderr


def test_fix_of_stdin_writes_the_fixed_source_to_stdout(tmp_path):
    source = (CASES / "unregistered.py").read_bytes()
    proc = _python_m_stdin(source, "check", "--fix", "--unsafe-fixes", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode().splitlines() == ["Fixed 1 problem.", "All checks passed!"]
    assert list(tmp_path.iterdir()) == []  # nothing written to disk
    on_disk = put(tmp_path, "net.py", "unregistered.py")  # the same fix as --fix of a file
    assert _python_m("check", "--fix", "--unsafe-fixes", "net.py", cwd=tmp_path).returncode == 0
    assert proc.stdout == on_disk.read_bytes() != source
    # nothing to fix (the fix is unsafe): the source unchanged, the report on stderr
    proc = _python_m_stdin(source, "check", "--fix", "-", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == source
    assert "-:8:18: TL101" in proc.stderr.decode()


def test_python_m_errors_without_traceback(tmp_path):
    put(tmp_path, "net.py", "clean.py")
    proc = _python_m("check", "net.py", "missing.py", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == "error: missing.py: No such file or directory\n"
    assert proc.stdout == ""  # not "All checks passed!": a path could not be checked
    proc = _python_m("--version", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, f"torch-lsp {__version__}\n")


# =============================================================================== summary
LOOP_FILLED = """\
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x):
        return self.fc(x)


class Appended(nn.Module):
    def __init__(self, dim=64):
        super().__init__()
        self.stem = nn.Linear(dim, dim)
        self.blocks = nn.ModuleList()
        for _ in range(3):
            self.blocks.append(Block(dim))
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x)


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block(64)
        self.b = Block(64)

    def forward(self, x):
        return self.b(self.a(x))


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block(64)
        self.b = self.a

    def forward(self, x):
        return self.b(self.a(x))


class Comprehension(nn.Module):
    def __init__(self, dim=64, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(dim, dim) for _ in range(depth)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def main():
    x = torch.randn(2, 64)
    for cls in (Appended, Twice, Shared, Comprehension):
        cls()(x)
    Appended()(x)
    Twice()(x)
    Shared()(x)
"""


def test_summary_total_of_loop_filled_containers_is_never_wrong(work, capsys):
    """Blocks appended in a loop were one value for the analysis (equal constructor
    arguments): the total counted one Block (8970 for Appended; torch: 17290). A total is
    now torch's count or '?'."""
    torch = pytest.importorskip("torch", reason="torch counts the parameters")
    put(work, "m.py", text=LOOP_FILLED)
    rc, out, _ = run(capsys, "summary", "--format", "json", "m.py")
    assert rc == 0
    totals = {e["class"]: e["total_params"] for e in json.loads(out)}
    env: dict = {}
    exec(LOOP_FILLED, env)
    for cls in ("Appended", "Twice", "Shared", "Comprehension"):
        expected = str(sum(p.numel() for p in env[cls]().parameters()))
        assert totals[cls] in (expected, "?"), (cls, totals[cls], expected)
    assert totals["Comprehension"] != "?"  # distinct layers are still counted


def test_summary_shows_a_container_it_cannot_follow_item_by_item(work, capsys):
    """vit_tiny's Encoder (a list of TransformerEncoderLayer built for `range(depth)`, no
    call site): its table had only the LayerNorm. Now one row, where forward reads it, with
    the count when it is known and '?' when not."""
    shutil.copyfile(REPO / "examples" / "vit_tiny.py", work / "vit_tiny.py")
    rc, out, _ = run(capsys, "summary", "--format", "json", "vit_tiny.py:Encoder")
    assert rc == 0
    (entry,) = json.loads(out)
    assert [(r["layer"], r["kind"]) for r in entry["layers"]][:2] == [
        ("self.layers", "? × TransformerEncoderLayer"), ("self.norm", "LayerNorm(dim)")]
    assert entry["layers"][0]["params"] == "?"
    put(work, "k.py", text=(
        "import torch.nn as nn\nfrom elsewhere import Block\n\n\nclass Known(nn.Module):\n"
        "    def __init__(self, dim=64):\n        super().__init__()\n        self.blocks = nn.ModuleList()\n"
        "        for i in range(3):\n            self.blocks.append(Block(dim))\n\n"
        "    def forward(self, x):\n        for b in self.blocks:\n            x = b(x)\n        return x\n"))
    rc, out, _ = run(capsys, "summary", "k.py")
    assert rc == 0
    assert re.search(r"^self\.blocks +3 × Block +\? +\? +\?$", out, re.M), out
    assert "Total parameters: ?" in out
