"""The real Stripe SDK over a fake HTTP transport: requests go to an in-memory ``StripeStandIn``, never the network.

``StandInTransport`` counts requests by (method, path) and can make the next
requests of a path fail, as an outage would: a connection error, or an HTTP
status such as 500, either before the stand-in sees the request or after it has
processed it (the answer lost on the way back, the case idempotency keys exist for).
"""

from __future__ import annotations

import fnmatch
import io
import json
import threading
import urllib.parse
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe

from devstack.stripe_standin import JSON, StripeStandIn

API_KEY = "sk_test_fake"


@dataclass
class _Fault:
    pattern: str
    method: str | None
    remaining: int
    status: int | None
    processed: bool

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and fnmatch.fnmatchcase(path, self.pattern)

    def answer(self, method: str, path: str) -> tuple[str, int, dict[str, str]]:
        where = "after it was processed" if self.processed else "before it arrived"
        if self.status is None:
            raise stripe.APIConnectionError(
                f"Injected connection error on {method} {path} ({where}).", should_retry=True
            )
        body = {"error": {"type": "api_error", "message": f"Injected HTTP {self.status} on {method} {path} ({where})."}}
        return json.dumps(body), self.status, {}


class StandInTransport(stripe.HTTPClient):
    """A sync ``stripe.HTTPClient`` answering from ``standin``; pass it as ``StripeClient(http_client=...)``.

    ``retry_sleep`` replaces the SDK's back-off between retries (0: tests do not wait).
    ``events`` collects the events Stripe would now send to webhooks (e.g. a refund's).
    """

    name = "stripe-standin"

    def __init__(self, standin: StripeStandIn, *, retry_sleep: float = 0.0) -> None:
        super().__init__()
        self.standin = standin
        self.retry_sleep = retry_sleep
        self.calls: Counter[tuple[str, str]] = Counter()
        self.events: list[JSON] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()

    def request(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None, *, _usage: Any = None
    ) -> tuple[str, int, dict[str, str]]:
        parts = urllib.parse.urlsplit(url)
        method = method.upper()
        with self._lock:
            self.calls[(method, parts.path)] += 1
            fault = next((f for f in self._faults if f.remaining > 0 and f.matches(method, parts.path)), None)
            if fault is not None:
                fault.remaining -= 1
        if fault is not None and not fault.processed:
            return fault.answer(method, parts.path)
        response = self.standin.handle(method, parts.path, query=parts.query, headers=headers or {}, body=post_data)
        with self._lock:
            self.events += response.events
        if fault is not None:
            return fault.answer(method, parts.path)
        return json.dumps(response.body), response.status, dict(response.headers)

    def request_stream(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None, *, _usage: Any = None
    ) -> tuple[io.BytesIO, int, dict[str, str]]:
        body, status, headers_out = self.request(method, url, headers, post_data)
        return io.BytesIO(body.encode("utf-8")), status, headers_out

    def close(self) -> None:
        pass

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return self.retry_sleep

    def count(self, method: str, path: str = "*") -> int:
        """Requests made so far whose method and path match (``path`` may be a glob: ``/v1/payment_intents/*``)."""
        with self._lock:
            return sum(n for (m, p), n in self.calls.items() if m == method.upper() and fnmatch.fnmatchcase(p, path))

    def fail_next(
        self,
        path: str,
        times: int = 1,
        *,
        method: str | None = None,
        status: int | None = None,
        processed: bool = False,
    ) -> None:
        """Make the next ``times`` requests to ``path`` (a glob) fail.

        ``status`` None raises a retryable ``stripe.APIConnectionError``; otherwise the
        answer is that HTTP status with a Stripe ``api_error`` body. With ``processed``
        the stand-in handles the request first and only the answer is lost.
        """
        with self._lock:
            self._faults.append(_Fault(path, method.upper() if method else None, times, status, processed))

    def reset(self) -> None:
        """Forget counts, events and pending faults."""
        with self._lock:
            self.calls.clear()
            self.events.clear()
            self._faults.clear()


def make_client(target: StripeStandIn | StandInTransport, **options: Any) -> stripe.StripeClient:
    """A real ``StripeClient`` (api key ``sk_test_fake``) over a ``StandInTransport``.

    Pass a ``StandInTransport`` to keep a handle on it (counts, faults), or just the
    stand-in. ``options`` go to ``StripeClient`` (e.g. ``max_network_retries=0``).
    """
    transport = target if isinstance(target, StandInTransport) else StandInTransport(target)
    return stripe.StripeClient(API_KEY, http_client=transport, **options)
