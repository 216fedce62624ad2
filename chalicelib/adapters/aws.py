"""The container's one botocore session: every AWS client of the app is made from it.

A botocore session keeps the loaded service models, endpoint rules and credentials; each new
session loads them again (about 50 ms of a cold start per session, mostly JSON). So the app
makes one per container: boto3 is never needed (its clients are these botocore clients), and
PynamoDB, which asks ``botocore.session.get_session()`` for a session of its own per connection
(and per thread), is handed this one instead by ``share_with_pynamodb``.

botocore sessions are not safe to make clients from in several threads at once (the local
stack serves requests in threads), so ``create_client`` is serialised; the clients themselves
are thread-safe.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from botocore.session import Session


class SharedSession(Session):
    """A botocore session whose ``create_client`` may be called from any thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_lock = threading.Lock()

    def create_client(self, *args: Any, **kwargs: Any) -> Any:
        """``Session.create_client``, one thread at a time."""
        with self._create_lock:
            return super().create_client(*args, **kwargs)


@cache
def session() -> SharedSession:
    """The container's botocore session (made on first use)."""
    return SharedSession()


def client(service: str, region: str | None = None) -> Any:
    """A client of ``service`` from the shared session (endpoint and credentials as botocore resolves them)."""
    from chalicelib.config import settings

    return session().create_client(service, region_name=region or settings.region)


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
