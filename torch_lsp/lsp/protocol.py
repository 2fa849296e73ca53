"""The JSON-RPC side of the server: every request is answered, whatever arrives.

pygls' protocol, with what the LSP spec asks and robust servers do:

- before ``initialize``, requests get ServerNotInitialized (-32002) and notifications
  other than ``exit`` are dropped; after ``shutdown``, requests get InvalidRequest
  (-32600) and ``exit`` ends the process with 0 (1 without a ``shutdown`` first);
- a request whose params cannot be read (``line: -1``, ``position: null``, a list
  instead of an object) gets InvalidParams (-32602) with a message, not silence and a
  traceback in the log; a notification with unreadable params is dropped (logged at
  debug level);
- a message without a ``Content-Length`` header, or a body that is not JSON, costs
  that message only: reading resumes at the next header;
- open documents are kept by the server itself (``torch_lsp.lsp.documents``), with
  the LSP's line model, not in pygls' workspace (whose line model differs, and whose
  copy would double the memory of every open document).
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcServerNotInitialized
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    ResponseErrorMessage,
)
from pygls.protocol.language_server import lsp_method

from torch_lsp.lsp import codecache

log = logging.getLogger("torch_lsp.server")


class _Unreadable:
    """A request whose params could not be structured: answered with an error."""

    def __init__(self, msg_id: Any, method: str, error: JsonRpcException) -> None:
        self.id = msg_id
        self.method = method
        self.error = error


class TorchLspProtocol(LanguageServerProtocol):
    _initialize_seen = False

    # ------------------------------------------------------------------ reading
    def structure_message(self, data: dict[str, Any]):
        """pygls' structuring of a message, without its traceback in the log: params
        that cannot be read make an InvalidParams answer (a request) or are dropped (a
        notification)."""
        if not isinstance(data, dict) or "jsonrpc" not in data:
            return data
        method = data.get("method")
        try:
            if "id" in data:
                if "error" in data:
                    return self._converter.structure(data, ResponseErrorMessage)
                if method is not None:
                    return self._converter.structure(data, self.get_message_type(method) or JsonRPCRequestMessage)
                response_type = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
                return self._converter.structure(data, response_type)
            return self._converter.structure(data, self.get_message_type(method or "") or JsonRPCNotification)
        except Exception as exc:
            message = f"invalid params for {method}: {_first_error(exc)}"[:500]
            if "id" in data and method is not None:
                return _Unreadable(data["id"], method, JsonRpcInvalidParams(message))
            log.debug("dropped %s", message)
            return None

    def handle_message(self, message: Any) -> None:
        if message is None:
            return
        if isinstance(message, _Unreadable):
            self._send_response(message.id, None, message.error.to_response_error())
            return
        method = getattr(message, "method", None)
        msg_id = getattr(message, "id", None)
        if self._shutdown and method is not None and method != lsp.EXIT and msg_id is not None:
            error = JsonRpcInvalidRequest(f"{method} after shutdown")
            self._send_response(msg_id, None, error.to_response_error())
            return
        super().handle_message(message)

    def _handle_request(self, msg_id: Any, method_name: str, params: Any):
        if method_name == lsp.INITIALIZE:
            self._initialize_seen = True
        elif not self._initialize_seen:
            error = JsonRpcServerNotInitialized(f"{method_name} before initialize")
            self._send_response(msg_id, None, error.to_response_error())
            return
        return super()._handle_request(msg_id, method_name, params)

    def _handle_notification(self, method_name: str, params: Any):
        if not self._initialize_seen and method_name != lsp.EXIT:
            return
        return super()._handle_notification(method_name, params)

    def _handle_cancel_notification(self, msg_id: Any):
        """``$/cancelRequest`` for a request that is not running: pygls logs a warning
        ("Cancel notification for unknown message id") for each. It is ordinary traffic:
        VS Code cancels the inlay hints, code actions and hovers it asked for as the user
        types, and the cancel crosses the answer (a request handled synchronously is
        answered before the cancel can arrive). Logged at debug level instead."""
        if msg_id not in self._request_futures:
            log.debug("$/cancelRequest for request %s, which is already answered", msg_id)
            return
        super()._handle_cancel_notification(msg_id)

    # ------------------------------------------------------------------ documents
    # (the server's own copies: see torch_lsp.lsp.documents; the user handlers keep them)
    @lsp_method(lsp.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: lsp.DidOpenTextDocumentParams):
        if (handler := self.fm.features.get(lsp.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams):
        if (handler := self.fm.features.get(lsp.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: lsp.DidCloseTextDocumentParams):
        if (handler := self.fm.features.get(lsp.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


def _first_error(exc: BaseException) -> str:
    """The innermost reason of a structuring error (cattrs nests them in groups)."""
    while getattr(exc, "exceptions", None):  # an exception group (cattrs; Python 3.11+ or the backport)
        exc = exc.exceptions[0]  # type: ignore[attr-defined]  # an exception group: tested above
    return f"{type(exc).__name__}: {exc}"


_CONTENT_LENGTH = re.compile(rb"Content-Length:\s*(\d+)\s*$", re.I)


async def read_messages(stop: threading.Event, reader: Any, protocol: TorchLspProtocol) -> None:
    """The message loop: headers, then a body of ``Content-Length`` bytes. A header
    block without a length, a length glued to the end of garbage (a message sent
    without headers runs into the next one's ``Content-Length``), or a body that is
    not JSON costs that one message; reading resumes at the next header."""
    length = 0
    while not stop.is_set():
        line = await reader.readline()
        if not line:
            break
        m = _CONTENT_LENGTH.search(line)
        if m:
            length = int(m.group(1))
            continue
        if line.strip():
            continue  # another header (Content-Type), or garbage
        if not length:
            continue  # a blank line without a length: nothing to read
        body = await reader.readexactly(length)
        length = 0
        if not body:
            break
        try:
            message = json.loads(body, object_hook=protocol.structure_message)
        except (ValueError, RecursionError) as exc:
            log.debug("unreadable message dropped: %s", exc)
            continue
        try:
            protocol.handle_message(message)
        except Exception:  # a bug in torch-lsp: logged, the loop goes on
            log.exception("could not handle a message")


def run_stdio(server: Any) -> int:
    """Serve on stdin/stdout (pygls' start_io with the loop above). The exit code: 0
    after ``shutdown`` then ``exit``, 1 otherwise (``exit`` alone, or the client gone)."""
    import sys

    from pygls.io_ import StdinAsyncReader, StdoutWriter

    server._stop_event = threading.Event()
    reader = StdinAsyncReader(sys.stdin.buffer, server.thread_pool)
    server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))
    try:
        asyncio.run(read_messages(server._stop_event, reader, server.protocol))
    except BrokenPipeError:
        log.error("connection to the client lost")
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:  # `exit` (see LanguageServerProtocol.lsp_exit)
        return int(exc.code or 0)
    finally:
        server.shutdown()
        codecache.save()  # (if the session compiled something new since the last save)
    return 0 if server.protocol._shutdown else 1
