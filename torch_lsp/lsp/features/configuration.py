"""Settings and files that change under the server: ``workspace/didChangeConfiguration``
and ``workspace/didChangeWatchedFiles``."""
from __future__ import annotations

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from torch_lsp.lsp.features import Feature
from torch_lsp.lsp.language_server import TorchLanguageServer
from torch_lsp.lsp.settings import SETTINGS_SECTION


async def did_change_configuration(ls: TorchLanguageServer, params: lsp.DidChangeConfigurationParams) -> None:
    settings = params.settings
    if isinstance(settings, dict) and SETTINGS_SECTION in settings:
        ls.apply_settings(settings[SETTINGS_SECTION])
        reanalyse_all(ls)
    else:
        await pull_configuration(ls)


def did_change_watched_files(ls: TorchLanguageServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    if any(c.uri.endswith("pyproject.toml") for c in params.changes):
        ls.reload_config()
        reanalyse_all(ls)
    # Open documents are read from the editor, not the disk: only the others count.
    paths = [to_fs_path(c.uri) for c in params.changes
             if c.uri.endswith((".py", ".pyi")) and c.uri.startswith("file:") and c.uri not in ls.docs]
    if paths:
        ls.files_changed_on_disk([p for p in paths if p])


async def pull_configuration(ls: TorchLanguageServer) -> None:
    """Ask the client for the settings; the open documents are analysed again when
    they changed. (After ``initialized`` they are usually the ones ``initialize`` gave:
    analysing again then cancelled the first analysis of the document just opened,
    which started over.)"""
    ws = ls.client_capabilities.workspace
    if not (ws and ws.configuration):
        return
    try:
        items = await ls.workspace_configuration_async(lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section=SETTINGS_SECTION)]))
    except Exception as exc:
        ls.log("debug", f"workspace/configuration failed: {exc}")
        items = None
    if items and items[0] is not None:
        before = ls.settings
        ls.apply_settings(items[0])
        if ls.settings != before:
            reanalyse_all(ls)


def reanalyse_all(ls: TorchLanguageServer) -> None:
    for state in list(ls.docs.values()):
        ls.schedule(state.uri, background=True)


FEATURES = [
    Feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION, did_change_configuration),
    Feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, did_change_watched_files),
]
