"""moto in server mode on loopback, made faithful where the stack relies on it.

DynamoDB serializes transactions and conditional writes; moto applies a
TransactWriteItems as check-then-write over a deep copy of the table, with no
lock, so concurrent requests could interleave or undo each other. Every DynamoDB
request is therefore handled under one lock, which gives the emulator the
atomicity real DynamoDB has (and costs it concurrency real DynamoDB does not).
"""

from __future__ import annotations

import logging
import threading

from moto.core.responses import BaseResponse
from moto.dynamodb.responses import DynamoHandler
from moto.server import ThreadedMotoServer

_DYNAMODB_LOCK = threading.RLock()
logging.getLogger("werkzeug").setLevel(logging.WARNING)
_patched = False


def make_dynamodb_atomic() -> None:
    global _patched
    if _patched:
        return
    original = BaseResponse.call_action

    def call_action(self):
        if isinstance(self, DynamoHandler):
            with _DYNAMODB_LOCK:
                return original(self)
        return original(self)

    BaseResponse.call_action = call_action
    _patched = True


class Emulator:
    """A moto server on 127.0.0.1 (port 0 picks a free one)."""

    def __init__(self, port: int = 0) -> None:
        make_dynamodb_atomic()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()
