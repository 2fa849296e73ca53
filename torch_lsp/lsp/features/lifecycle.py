"""``initialize``, ``initialized``, ``shutdown``."""
from __future__ import annotations

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from torch_lsp.analysis.project import Project
from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.features.configuration import pull_configuration
from torch_lsp.lsp.language_server import TorchLanguageServer


def initialize(ls: TorchLanguageServer, params: lsp.InitializeParams) -> None:
    if params.root_uri:
        ls.root = to_fs_path(params.root_uri)
    elif params.root_path:
        ls.root = params.root_path
    if params.workspace_folders:
        ls.root = to_fs_path(params.workspace_folders[0].uri) or ls.root
    if ls.root:
        ls.project = Project([ls.root])
    td = params.capabilities.text_document
    ls.pull = bool(td and td.diagnostic is not None)
    ls.apply_settings(params.initialization_options)


async def initialized(ls: TorchLanguageServer, params: lsp.InitializedParams) -> None:
    # The analysis imports its checkers and the interpreter on first use: now, on the
    # analysis thread, rather than when the first document arrives.
    ls.submit(ls.preload)
    caps = ls.client_capabilities
    ws = caps.workspace
    if ws and ws.did_change_watched_files and ws.did_change_watched_files.dynamic_registration:
        try:
            await ls.client_register_capability_async(lsp.RegistrationParams(registrations=[lsp.Registration(
                id="torch-lsp-files", method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=lsp.DidChangeWatchedFilesRegistrationOptions(
                    watchers=[lsp.FileSystemWatcher(glob_pattern="**/pyproject.toml"),
                              lsp.FileSystemWatcher(glob_pattern="**/*.py")]))]))
        except Exception as exc:
            ls.log("debug", f"could not watch pyproject.toml and Python files: {exc}")
    await pull_configuration(ls)


def shutdown(ls: TorchLanguageServer, *args) -> None:
    ls.shutting_down = True  # (work that still ends in a submit submits nothing)
    ls.executor.shutdown(wait=False, cancel_futures=True)
    if ls._runtime is not None:  # (made on first use: nothing to stop otherwise)
        ls._runtime.cancel()
    ls.runtime_executor.shutdown(wait=False, cancel_futures=True)
    if ls._runtime is not None:
        ls._runtime.close()


FEATURES = [
    Feature(lsp.INITIALIZE, initialize),
    Feature(lsp.INITIALIZED, initialized),
    Feature(lsp.SHUTDOWN, shutdown),
]
