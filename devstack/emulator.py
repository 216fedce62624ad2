"""moto in server mode on loopback, made faithful where the stack relies on it.

DynamoDB serializes transactions and conditional writes; moto applies a
TransactWriteItems as check-then-write over a deep copy of the table, with no
lock, so concurrent requests could interleave or undo each other. Every DynamoDB
request is therefore handled under one lock, which gives the emulator the
atomicity real DynamoDB has (and costs it concurrency real DynamoDB does not).

moto also keeps every model object it ever creates, for its dashboard; as a
transaction works on deep copies of its tables, that would keep a copy of the
tables per order placed. The emulator turns the tracking off, and applies
transactions without copying tables (``devstack/transactions.py``).

moto stores any browser form upload (POST Object) without reading its policy; S3
checks the signature, expiry and every condition (content type, size), and the
product images rely on it: the emulator checks them too (``devstack/s3_post_policy.py``).
"""

from __future__ import annotations

import logging
import socket
import threading

from moto.core.responses import BaseResponse
from moto.dynamodb.responses import DynamoHandler
from moto.server import ThreadedMotoServer

_DYNAMODB_LOCK = threading.RLock()
logging.getLogger("werkzeug").setLevel(logging.WARNING)
_patched = False


def make_faithful() -> None:
    """Serialize DynamoDB requests, transact without table copies, stop object tracking, check S3 form uploads'
    policies (once per process)."""
    global _patched
    if _patched:
        return
    from moto.core.common_models import BaseModel
    from moto.dynamodb.models import DynamoDBBackend

    from devstack import s3_post_policy
    from devstack.transactions import transact_write_items

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    BaseModel.__new__ = staticmethod(lambda cls, *args, **kwargs: object.__new__(cls))  # type: ignore[method-assign]
    original = BaseResponse.call_action

    def call_action(self):
        if isinstance(self, DynamoHandler):
            with _DYNAMODB_LOCK:
                return original(self)
        return original(self)

    BaseResponse.call_action = call_action
    s3_post_policy.install()
    _patched = True


class Emulator:
    """A moto server on 127.0.0.1 (port 0 picks a free one)."""

    def __init__(self, port: int = 0) -> None:
        make_faithful()
        self._port = port
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> str:
        if self._port:
            _check_free(self._port)
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()


class PortInUse(RuntimeError):
    pass


def _check_free(port: int) -> None:
    """Fail fast with a clear message (moto's server would wait forever on a taken port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise PortInUse(f"port {port} on 127.0.0.1 is in use; set DEVSTACK_AWS_PORT to another one") from None
