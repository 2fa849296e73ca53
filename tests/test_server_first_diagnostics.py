"""The first diagnostics of a large document that was just opened: what the
registration rules find is published before the shape interpreter has run, then
everything; the early publish is a subset of the final one (never a finding the
whole analysis would not report)."""
from __future__ import annotations

import textwrap

import pytest

from test_server_bad_input import BUGGY, Raw, initialize, open_doc

NO_SUPER_INIT = textwrap.dedent("""

    class NoInit(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(3, 4)

        def forward(self, x):
            return self.fc(x)
""")
# past the server's PARTIAL_PUBLISH_LINES (1,000 lines)
PADDING = "".join(f"\n\ndef helper_{i}(a):\n    return a + {i}\n" for i in range(400))


@pytest.fixture
def raw(tmp_path):
    server = Raw(tmp_path)
    yield server
    server.close()


def publishes(raw: Raw, uri: str, version: int, until_code: str, timeout: float = 60.0) -> list[list[dict]]:
    """Every publishDiagnostics of `uri` at `version`, until one has `until_code`."""
    raw.diagnostics(uri, version, timeout)  # the first one
    while True:
        seen = [n["params"]["diagnostics"] for n in raw.notifications
                if n["method"] == "textDocument/publishDiagnostics" and n["params"]["uri"] == uri
                and n["params"].get("version") == version]
        if any(d["code"] == until_code for d in seen[-1]):
            return seen
        msg = raw._read_message(timeout)
        assert msg is not None, f"no diagnostics with {until_code}: {seen}"
        if "method" in msg:
            raw.notifications.append(msg)


def key(d: dict) -> tuple:
    return d["code"], d["range"]["start"]["line"], d["range"]["start"]["character"], d["message"]


def test_a_large_file_gets_its_registration_findings_first(raw, tmp_path):
    text = BUGGY + NO_SUPER_INIT + PADDING
    assert text.count("\n") > 1000
    initialize(raw, tmp_path)
    uri = (tmp_path / "big.py").as_uri()
    (tmp_path / "big.py").write_text(text)
    open_doc(raw, uri, text)
    seen = publishes(raw, uri, 1, "TL201")
    assert len(seen) == 2
    first, final = seen
    assert [d["code"] for d in first] == ["TL104"]
    assert sorted(d["code"] for d in final) == ["TL104", "TL201"]
    assert {key(d) for d in first} <= {key(d) for d in final}
    assert [d for d in final if d["code"] == "TL104"] == first



# A class whose base is in another file of the project (not read yet when the
# document opens), with a finding of its own.
BASE_FILE = "import torch.nn as nn\n\n\nclass Base(nn.Module):\n    pass\n"
FOREIGN_NO_SUPER = textwrap.dedent("""

    class Child(Base):
        def __init__(self):
            self.proj = nn.Linear(3, 4)

        def forward(self, x):
            return self.proj(x)
""")


def test_classes_needing_no_other_file_come_before_those_that_do(raw, tmp_path):
    # The registration findings of the classes whose bases are the file's own or
    # torch's are published before the other files are read; then those of the class
    # whose base is another file's; then the shape findings. Each a subset of the next.
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "base.py").write_text(BASE_FILE)
    text = "from base import Base\n" + BUGGY + NO_SUPER_INIT + FOREIGN_NO_SUPER + PADDING
    initialize(raw, tmp_path)
    uri = (tmp_path / "big.py").as_uri()
    (tmp_path / "big.py").write_text(text)
    open_doc(raw, uri, text)
    seen = publishes(raw, uri, 1, "TL201")
    assert len(seen) == 3, seen
    lines = [sorted((d["code"], d["range"]["start"]["line"]) for d in ds) for ds in seen]
    no_init = text.splitlines().index("class NoInit(nn.Module):")
    child = text.splitlines().index("class Child(Base):")
    assert [c for c, _ in lines[0]] == ["TL104"] and no_init < lines[0][0][1] < child
    assert [c for c, _ in lines[1]] == ["TL104", "TL104"] and lines[1][1][1] > child
    assert sorted(c for c, _ in lines[2]) == ["TL104", "TL104", "TL201"]
    for early, later in zip(seen, seen[1:]):
        assert {key(d) for d in early} <= {key(d) for d in later}
