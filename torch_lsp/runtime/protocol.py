"""Messages between the runtime client and its worker.

Each message is a JSON object, framed by a 4-byte big-endian length. They travel
on a pipe of their own (file descriptors handed to the worker at start), never on
the worker's stdout/stderr, which the worker points at /dev/null (or a log file)
so that whatever user code prints cannot corrupt the stream.

The worker speaks first: ``{"type": "hello", "protocol": 1, "torch": "2.13.0",
"pid": ...}``. The client refuses a worker whose ``protocol`` differs. Then, one at
a time: ``{"type": "evaluate", "id": N, "job": {...}}`` → ``{"type": "result",
"id": N, "result": {...}}``; and ``{"type": "shutdown"}``. A job in progress is
cancelled with SIGUSR1 (the worker then answers ``status: "cancelled"``).
"""
from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The stream is broken (a short read, a bad length, invalid JSON)."""


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def write_message(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(encode(message))
    stream.flush()


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(stream: BinaryIO) -> dict[str, Any] | None:
    """The next message; None at the end of the stream (the other side is gone)."""
    header = _read_exact(stream, 4)
    if not header:
        return None
    if len(header) < 4:
        raise ProtocolError("truncated header")
    (size,) = struct.unpack(">I", header)
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {size} bytes")
    body = _read_exact(stream, size)
    if len(body) < size:
        raise ProtocolError("truncated message")
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"invalid message: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message
