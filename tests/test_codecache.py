"""The server's cache of the code attrs and cattrs compile (torch_lsp/lsp/codecache.py):
a warm cache gives the code compile() gives (same flags, same behaviour of the
lsprotocol classes and converters, the same diagnostics from a server), a changed
script is a miss, a damaged, truncated, foreign or unwritable file means plain
compile(), another interpreter never reads the file, and TORCH_LSP_CODE_CACHE=off
turns it off."""
from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import textwrap
import time
import types

import pytest

from conftest import TWO_LINEARS
from test_server_protocol import RawClient
from torch_lsp.lsp import codecache
from torch_lsp.lsp.codecache import CodeCache

SCRIPT = "def f(x):\n    return [x, x * 2]\n"
CO_FUTURE_ANNOTATIONS = 0x1000000


def _cache(tmp_path) -> CodeCache:
    return CodeCache(str(tmp_path / "c.bin"))


def _run(fn_code: types.CodeType, arg):
    env: dict = {}
    exec(fn_code, env)
    return env["f"](arg)


def test_a_warm_cache_gives_the_code_compile_gives(tmp_path):
    cold = _cache(tmp_path)
    first = cold.compile(SCRIPT, "<gen f>", "exec")
    assert (cold.hits, cold.misses) == (0, 1)
    assert cold.save()
    warm = _cache(tmp_path)
    again = warm.compile(SCRIPT, "<gen f>", "exec")
    assert (warm.hits, warm.misses) == (1, 0)
    plain = compile(SCRIPT, "<gen f>", "exec")
    assert again == plain == first
    assert again.co_filename == "<gen f>"
    assert _run(again, 3) == _run(plain, 3) == [3, 6]
    assert not warm.save()  # nothing new: the file is left as it is


def test_the_callers_future_flags_are_kept_and_keyed(tmp_path):
    cache = _cache(tmp_path)
    src = "def f(x: Undefined) -> int:\n    return x\n"
    # This module has `from __future__ import annotations`: compile() called here
    # inherits it (the annotation stays a string), and so must the cache.
    ours = cache.compile(src, "<gen g>", "exec")
    assert ours.co_flags & CO_FUTURE_ANNOTATIONS
    assert ours == compile(src, "<gen g>", "exec")
    assert _run(ours, 1) == 1
    cache.save()
    # From a module without it: another key (a miss), and the annotation is evaluated.
    warm = _cache(tmp_path)
    env = {"cache": warm, "src": src}
    exec(compile("code = cache.compile(src, '<gen g>', 'exec')", "<caller>", "exec", dont_inherit=True), env)
    assert (warm.hits, warm.misses) == (0, 1)
    assert not env["code"].co_flags & CO_FUTURE_ANNOTATIONS
    with pytest.raises(NameError):
        _run(env["code"], 1)
    assert warm.compile(src, "<gen g>", "exec", dont_inherit=True) == compile(src, "<gen g>", "exec", dont_inherit=True)


def test_a_changed_script_or_file_name_is_a_miss(tmp_path):
    cache = _cache(tmp_path)
    cache.compile(SCRIPT, "<gen f>", "exec")
    cache.save()
    warm = _cache(tmp_path)
    changed = warm.compile(SCRIPT.replace("2", "3"), "<gen f>", "exec")
    assert _run(changed, 3) == [3, 9]
    other_name = warm.compile(SCRIPT, "<gen f-1>", "exec")
    assert other_name.co_filename == "<gen f-1>"
    assert (warm.hits, warm.misses) == (0, 2)


def test_what_it_does_not_cache_is_compiled_as_asked(tmp_path):
    import ast

    cache = _cache(tmp_path)
    assert isinstance(cache.compile(SCRIPT, "<x>", "exec", ast.PyCF_ONLY_AST), ast.Module)
    assert cache.compile("1 + 2", "<x>", "eval") == compile("1 + 2", "<x>", "eval")
    assert cache.compile(SCRIPT.encode(), "<x>", "exec") == compile(SCRIPT, "<x>", "exec")
    assert (cache.hits, cache.misses, cache.used) == (0, 0, {})


def test_exec_through_the_cache_is_exec(tmp_path):
    cache = _cache(tmp_path)
    src = "def f(x: Undefined):\n    return x\n"
    ours: dict = {}
    cache.exec(src, ours)
    plain: dict = {}
    exec(src, plain)  # (here: with this module's `from __future__ import annotations`)
    assert ours["f"].__annotations__ == plain["f"].__annotations__ == {"x": "Undefined"}
    assert ours["f"].__code__ == plain["f"].__code__ and ours["f"].__code__.co_filename == "<string>"
    assert (cache.hits, cache.misses) == (0, 1)
    y, out = 5, []  # noqa: F841 (read by the exec'd string)
    cache.exec("out.append(y + 1)")  # no namespaces: the caller's, as exec() does
    assert out == [6]
    ns: dict = {}
    cache.exec(compile("a = 1", "<c>", "exec"), ns)  # a code object: not the cache's business
    assert ns["a"] == 1 and (cache.hits, cache.misses) == (0, 2)
    cache.save()
    warm = _cache(tmp_path)
    again: dict = {}
    warm.exec(src, again)
    assert (warm.hits, warm.misses) == (1, 0) and again["f"].__code__ == plain["f"].__code__


@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage", "empty", "other magic", "not a dict"])
def test_a_damaged_file_means_plain_compile_and_is_rewritten(tmp_path, damage):
    cache = _cache(tmp_path)
    cache.compile(SCRIPT, "<gen f>", "exec")
    cache.save()
    path = tmp_path / "c.bin"
    data = path.read_bytes()
    head = len(codecache.HEADER) + 4 + codecache.DIGEST
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped":  # one byte of a code object: the content hash catches it
        data = data[:-20] + bytes([data[-20] ^ 0x40]) + data[-19:]
    elif damage == "garbage":
        data = os.urandom(len(data))
    elif damage == "empty":
        data = b""
    elif damage == "other magic":  # what another Python's bytecode would be
        data = codecache.HEADER + b"\x00\x00\r\n" + data[len(codecache.HEADER) + 4:]
    else:
        payload = marshal.dumps([1, 2])
        data = data[: head - codecache.DIGEST] + codecache._digest(payload) + payload
    path.write_bytes(data)
    warm = _cache(tmp_path)
    assert warm.stored == {}
    code = warm.compile(SCRIPT, "<gen f>", "exec")
    assert (warm.hits, warm.misses) == (0, 1)
    assert _run(code, 2) == [2, 4]
    assert warm.save()
    assert _cache(tmp_path).compile(SCRIPT, "<gen f>", "exec") == code


def test_an_entry_that_is_not_code_is_compiled(tmp_path):
    cache = _cache(tmp_path)
    cache.compile(SCRIPT, "<gen f>", "exec")
    (key,) = cache.used
    cache.used[key] = marshal.dumps("not code")
    cache.save()
    warm = _cache(tmp_path)
    assert _run(warm.compile(SCRIPT, "<gen f>", "exec"), 1) == [1, 2]
    assert (warm.hits, warm.misses) == (0, 1)


def test_an_unwritable_folder_is_no_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder would be")
    cache = CodeCache(str(blocker / "sub" / "c.bin"))
    assert _run(cache.compile(SCRIPT, "<gen f>", "exec"), 1) == [1, 2]
    assert cache.save() is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no temporary file left


def test_the_file_keeps_only_what_the_run_used(tmp_path):
    cache = _cache(tmp_path)
    for i in range(20):
        cache.compile(f"x = {i}\n", f"<old {i}>", "exec")
    cache.save()
    run = _cache(tmp_path)
    assert len(run.stored) == 20
    run.compile("x = 0\n", "<old 0>", "exec")  # used, from the file
    for i in range(codecache.MIN_NEW):
        run.compile(f"y = {i}\n", f"<new {i}>", "exec")
    assert run.save()
    assert len(_cache(tmp_path).stored) == 1 + codecache.MIN_NEW


def test_a_few_new_scripts_do_not_rewrite_a_warm_file(tmp_path):
    cache = _cache(tmp_path)
    cache.compile(SCRIPT, "<gen f>", "exec")
    cache.save()
    before = (tmp_path / "c.bin").read_bytes()
    run = _cache(tmp_path)
    run.compile(SCRIPT, "<gen f>", "exec")
    run.compile("z = 1\n", "<hash seed>", "exec")  # (as attrs' __hash__ with the seed in it)
    assert not run.worth_saving() and not run.save()
    assert (tmp_path / "c.bin").read_bytes() == before


def test_the_folder_and_file_name(monkeypatch, tmp_path):
    monkeypatch.delenv(codecache.ENV, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert codecache.cache_folder() == str(tmp_path / "xdg" / "torch-lsp")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/not/used")  # (the XDG spec: ignored)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert codecache.cache_folder() == str(tmp_path / "home" / ".cache" / "torch-lsp")
    for off in ("off", "0", "false", "OFF"):
        monkeypatch.setenv(codecache.ENV, off)
        assert codecache.cache_folder() is None
    monkeypatch.setenv(codecache.ENV, str(tmp_path / "mine"))
    assert codecache.cache_folder() == str(tmp_path / "mine")
    name = os.path.basename(codecache.cache_file("x") or "")
    assert sys.implementation.cache_tag in name and f"m{marshal.version}" in name


def test_another_interpreter_does_not_read_the_file(monkeypatch, tmp_path):
    path = codecache.cache_file(str(tmp_path))
    cache = CodeCache(path)
    cache.compile(SCRIPT, "<gen f>", "exec")
    cache.save()
    monkeypatch.setattr(sys, "implementation", types.SimpleNamespace(cache_tag="cpython-399"))
    other = codecache.cache_file(str(tmp_path))
    assert other != path and CodeCache(other).stored == {}
    monkeypatch.setattr(sys, "implementation", types.SimpleNamespace(cache_tag=None))
    assert codecache.cache_file(str(tmp_path)) is None


# ----------------------------------------------------------------------------- in a server process
def _python(code: str, cache_dir: str, **env) -> str:
    """Run ``code`` after what `torch-lsp serve` does first (startup.prepare)."""
    prelude = "from torch_lsp.lsp import startup, codecache\nstartup.prepare()\n"
    full_env = {**os.environ, codecache.ENV: cache_dir, **env}
    out = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], env=full_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


COUNT = """
    import lsprotocol.types
    cache = codecache.active()
    print(cache.hits, cache.misses, cache.save())
"""


def test_a_warm_cache_spares_the_compile_calls(tmp_path):
    hits, misses, saved = _python(COUNT, str(tmp_path)).split()
    assert (int(hits), saved) == (0, "True") and int(misses) > 500
    hits, misses, saved = _python(COUNT, str(tmp_path)).split()
    assert int(hits) > 500 and int(misses) <= 2 and saved == "False"  # (attrs' seeded __hash__: a miss)


# Everything a client and the server see of lsprotocol's classes: construction,
# repr, equality, validators, and the converter both ways (cattrs' generated code).
BEHAVIOUR = """
    import json
    from lsprotocol import types as lsp
    from pygls.protocol import default_converter
    conv = default_converter()
    rng = lsp.Range(start=lsp.Position(line=1, character=2), end=lsp.Position(line=3, character=4))
    diag = lsp.Diagnostic(range=rng, message="m", severity=lsp.DiagnosticSeverity.Error, code="TL201",
                          related_information=[lsp.DiagnosticRelatedInformation(
                              location=lsp.Location(uri="file:///a.py", range=rng), message="r")])
    out = {
        "repr": repr(diag), "eq": diag == lsp.Diagnostic(range=rng, message="m"), "self": diag == diag,
        "unhashable": lsp.Position.__hash__ is None,
        "unstructured": conv.unstructure(lsp.PublishDiagnosticsParams(uri="file:///a.py", diagnostics=[diag])),
        "structured": repr(conv.structure({"textDocument": {"uri": "file:///a.py", "languageId": "python",
                                           "version": 1, "text": "x"}}, lsp.DidOpenTextDocumentParams)),
        "init": conv.unstructure(lsp.InitializeResult(capabilities=lsp.ServerCapabilities(hover_provider=True))),
    }
    try:
        lsp.Position(line="x", character=1)
    except Exception as exc:
        out["validator"] = type(exc).__name__
    # Every generated method is the code compile() makes of its script (attrs keeps the
    # script in linecache), with the flags attrs' own module passes on.
    import builtins, inspect, linecache, attr._make
    flags = attr._make._compile_and_eval.__code__.co_flags & codecache.FUTURE_FLAGS
    compared = 0
    for cls in vars(lsp).values():
        if not inspect.isclass(cls) or cls.__module__ != lsp.__name__:
            continue
        for fn in vars(cls).values():
            code = getattr(fn, "__code__", None)
            if code is None or not code.co_filename.startswith("<attrs generated"):
                continue
            script = "".join(linecache.cache[code.co_filename][2])
            module = builtins.compile(script, code.co_filename, "exec", flags, True)
            (fresh,) = [c for c in module.co_consts if getattr(c, "co_name", None) == code.co_name]
            assert fresh == code, (cls, code.co_name)
            compared += 1
    out["compared"] = compared > 1000
    cache = codecache.active()
    out["cache"] = "off" if cache is None else ("warm" if cache.hits > 500 else "cold")
    # A dataclass made now: its methods come through the cache (exec), behave and
    # are compiled the same.
    import dataclasses
    before = cache.hits + cache.misses if cache else 0

    @dataclasses.dataclass(order=True, frozen=True)
    class Point:
        x: int
        y: list = dataclasses.field(default_factory=list, compare=False)
        z: "str" = "z"

    p = Point(1)
    out["dataclass"] = [repr(p), p == Point(1, [2]), p < Point(2), hash(p) == hash(Point(1)), sorted(
        (name, fn.__code__.co_code.hex(), fn.__code__.co_flags, fn.__code__.co_names, fn.__code__.co_varnames,
         repr([c for c in fn.__code__.co_consts if not hasattr(c, "co_code")]))
        for name, fn in vars(Point).items() if hasattr(fn, "__code__"))]
    try:
        p.x = 2
    except dataclasses.FrozenInstanceError:
        out["frozen"] = True
    out["through the cache"] = (cache.hits + cache.misses - before >= 5) if cache else None
    print(json.dumps(out, sort_keys=True))
"""


def test_lsprotocol_behaves_the_same_with_a_warm_cache(tmp_path):
    off = json.loads(_python(BEHAVIOUR, "off"))
    cold = json.loads(_python(BEHAVIOUR + "    codecache.save()\n", str(tmp_path)))
    warm = json.loads(_python(BEHAVIOUR, str(tmp_path)))
    assert (off.pop("cache"), cold.pop("cache"), warm.pop("cache")) == ("off", "cold", "warm")
    assert (off.pop("through the cache"), cold.pop("through the cache"), warm.pop("through the cache")) == (
        None, True, True)
    assert off == cold == warm
    assert off["frozen"] and off["dataclass"][1:4] == [True, True, True]
    assert off["compared"] and off["validator"] == "ValueError"


def _session(tmp_path, cache_dir: str) -> tuple[dict, list[dict]]:
    """A server session: initialize, open TWO_LINEARS, its diagnostics, shutdown, exit."""
    env = {**os.environ, codecache.ENV: cache_dir}
    c = RawClient(str(tmp_path), env=env)
    init = c.initialize(str(tmp_path))
    uri = (tmp_path / "m.py").as_uri()
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                       "text": TWO_LINEARS}})
    diags = None
    end = time.monotonic() + 60
    while time.monotonic() < end and diags is None:
        with c.lock:
            for m in c.messages:
                if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["diagnostics"]:
                    diags = m["params"]["diagnostics"]
            if diags is None:
                c.lock.wait(0.1)
    assert c.response(c.request("shutdown", None))["result"] is None
    c.notify("exit", None)
    assert c.proc.wait(timeout=20) == 0
    assert b"Traceback" not in c.stderr
    assert diags is not None
    return init, diags


def test_a_server_with_a_warm_cache_answers_and_publishes_the_same(tmp_path):
    folder = tmp_path / "cache"
    (tmp_path / "m.py").write_text(TWO_LINEARS)
    off = _session(tmp_path, "off")
    assert not folder.exists()
    cold = _session(tmp_path, str(folder))
    (path,) = folder.iterdir()  # written (at the latest at exit)
    stamp = path.stat().st_mtime_ns
    assert len(CodeCache(str(path)).stored) > 500
    warm = _session(tmp_path, str(folder))
    assert path.stat().st_mtime_ns == stamp  # nothing new to write
    assert off == cold == warm
    assert [d["code"] for d in warm[1]] == ["TL201"]


def test_off_writes_nothing_anywhere(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "m.py").write_text(TWO_LINEARS)
    off = "import lsprotocol.types\nprint(codecache.active(), codecache.save())\n"
    assert _python(off, "off", HOME=str(home), XDG_CACHE_HOME=str(home / "xdg")).split() == ["None", "False"]
    assert list(home.iterdir()) == []
    # while by default the file goes to the user's cache folder
    env_default = {k: v for k, v in os.environ.items() if k != codecache.ENV}
    out = subprocess.run([sys.executable, "-c", "from torch_lsp.lsp import startup, codecache\nstartup.prepare()\n"
                          "import lsprotocol.types\nprint(codecache.save())"],
                         env={**env_default, "HOME": str(home), "XDG_CACHE_HOME": str(home / "xdg")},
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True"], out.stderr
    assert [p.name for p in (home / "xdg" / "torch-lsp").iterdir()] == [
        f"codecache-{sys.implementation.cache_tag}-m{marshal.version}.bin"]


def test_the_collector_runs_again_once_the_server_is_built(tmp_path):
    """startup.prepare allows only young collections during the imports (they leave
    little garbage behind); serve sets the session's thresholds once the server is
    built, the imports frozen."""
    out = _python("""
        import gc
        print(gc.get_threshold())
        import torch_lsp.server as server
        server.create_server()
        gc.disable()
        print(gc.collect() < 5_000)  # (with no collection at all: ~17,000)
        gc.enable()
        startup.imports_done()
        print(gc.isenabled(), gc.get_threshold(), gc.get_freeze_count() > 50_000)
    """, str(tmp_path))
    assert out.splitlines() == ["(700, 1000, 1000)", "True", "True (50000, 20, 100) True"]
