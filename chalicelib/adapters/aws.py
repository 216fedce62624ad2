"""The container's one botocore session: every AWS client of the app is made from it.

A botocore session keeps the loaded service models, endpoint rules and credentials; each new
session loads them again (about 50 ms of a cold start per session, mostly JSON). So the app
makes one per container: boto3 is never needed (its clients are these botocore clients), and
PynamoDB, which asks ``botocore.session.get_session()`` for a session of its own per connection
(and per thread), is handed this one instead by ``share_with_pynamodb``.

botocore sessions are not safe to make clients from in several threads at once (the local
stack serves requests in threads, and a page read across shards queries them in parallel), so
``create_client`` is serialised; and as botocore clients are thread-safe, a second request for
the same client (same service, region, endpoint and configuration) answers the first one.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import Any

from botocore.session import Session

ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")  # botocore reads them per client


class SharedSession(Session):
    """A botocore session that makes one client per service and configuration, from any thread.

    PynamoDB makes a client per connection, and a connection's first requests in parallel
    threads (a page read across shards) would each make one; here they all get the first.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_lock = threading.Lock()
        self._clients: dict[tuple, Any] = {}

    def create_client(self, service_name: str, region_name: str | None = None, **kwargs: Any) -> Any:
        """``Session.create_client``, one thread at a time; the same arguments answer the same client."""
        config = kwargs.get("config")
        options = sorted((config._user_provided_options if config is not None else {}).items())
        endpoints = sorted((k, v) for k, v in os.environ.items() if k.startswith(ENDPOINT_VARIABLES))
        key = (service_name, region_name, repr(sorted((k, v) for k, v in kwargs.items() if k != "config")))
        key += (repr(options), repr(endpoints))
        with self._create_lock:
            if key not in self._clients:
                self._clients[key] = super().create_client(service_name, region_name, **kwargs)
            return self._clients[key]


_SESSION: list[SharedSession] = []
_SESSION_LOCK = threading.Lock()


def session() -> SharedSession:
    """The container's botocore session (made on first use; a page's shard threads may all ask at once)."""
    if not _SESSION:
        with _SESSION_LOCK:
            if not _SESSION:
                _SESSION.append(SharedSession())
    return _SESSION[0]


def client(service: str, region: str | None = None, config: Any = None) -> Any:
    """A client of ``service`` from the shared session (endpoint and credentials as botocore resolves them);
    ``config``: a ``botocore.config.Config`` (e.g. S3's signature version for presigned URLs)."""
    from chalicelib.config import settings

    if config is None:
        return session().create_client(service, region_name=region or settings.region)
    return session().create_client(service, region_name=region or settings.region, config=config)


@cache
def share_with_pynamodb() -> None:
    """Make every PynamoDB connection use the shared session instead of a session of its own.

    PynamoDB 6.1 has no parameter for a session: ``Connection.session`` calls the
    ``get_session`` that ``pynamodb.connection.base`` imported from botocore, once per connection
    and thread. Replacing that name is the one hook it offers; it must run before a connection
    makes its first client (``wiring`` calls it before building any repository).
    """
    import pynamodb.connection.base

    pynamodb.connection.base.get_session = session  # type: ignore[assignment]
