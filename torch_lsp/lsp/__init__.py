"""The language server (``torch_lsp.server`` puts it together): ``language_server``
(the analysis queue and thread, results, publishing), ``features`` (one module per LSP
method), ``state`` (documents, snapshots, results), ``settings`` (what an editor can
set), and what they share: position conversion (``convert``), document sync
(``documents``), diagnostic payloads (``data``), hover text (``hover``), the JSON-RPC
loop (``protocol``)."""
