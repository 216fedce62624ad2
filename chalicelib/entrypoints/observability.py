"""Structured logs and custom metrics for every invocation, with AWS Lambda Powertools.

Logs: the app's loggers (``orders.*``, plain ``logging``) write through Powertools Logger,
one JSON object per line with ``correlation_id`` (the API Gateway request id, or a valid
``X-Correlation-Id`` header; a stream record's ``eventID``; a queue message's ``messageId``;
a schedule's event id), the Lambda request id, function name and cold start, and the X-Ray
trace id. Metrics: Powertools Metrics in CloudWatch's embedded metric format (EMF), in the
namespace ``OrdersApi`` with dimensions ``service`` and ``function``, flushed at the end of
each invocation; the alarms in ``infra/resources.json`` read the same names.

Neither is imported on a request's path unless that request logs or counts something: a
normal GET or POST logs nothing at INFO and counts nothing (business counts come from the
orders stream), so the cold start does not pay for them (about 15 ms together).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

SERVICE = "orders-api"
NAMESPACE = "OrdersApi"
CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_invocation: dict[str, Any] = {}
_metrics: Any = None
_counted = False
_cold = True


class PowertoolsHandler(logging.Handler):
    """Hands each record to a Powertools Logger, built (imported) on the first record."""

    def __init__(self, level: str) -> None:
        super().__init__()
        self._level = level
        self._logger: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._logger is None:
            from aws_lambda_powertools import Logger

            self._logger = Logger(service=SERVICE, level=self._level)
        self._logger.set_correlation_id(_invocation.get("correlation_id"))
        self._logger.append_keys(**{k: v for k, v in _invocation.items() if k != "correlation_id"})
        self._logger.registered_handler.handle(record)


def install(level: str, *, json_logs: bool) -> None:
    """The app's log level and, in Lambda (``json_logs``), JSON lines through Powertools."""
    app_logger = logging.getLogger("orders")
    app_logger.setLevel(level)
    if json_logs and not any(isinstance(h, PowertoolsHandler) for h in app_logger.handlers):
        app_logger.addHandler(PowertoolsHandler(level))
        app_logger.propagate = False  # the runtime's root handler would print each line a second time


def begin(event: Any) -> None:
    """A new invocation: what every log line and metric of it carries (the function is the deployed one's name,
    which the alarms name too; ``local`` outside Lambda)."""
    global _counted, _cold
    _counted = False
    _invocation.clear()
    _invocation["cold_start"], _cold = _cold, False
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    _invocation["function"] = (
        getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "local"
    )
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        _invocation["function_request_id"] = request_id
    _invocation["correlation_id"] = _correlation_of(event) or request_id


def correlate(correlation_id: str | None) -> None:
    """The record (stream record, queue message) being handled now."""
    _invocation["correlation_id"] = correlation_id


def count(name: str, value: int = 1) -> None:
    """Add ``value`` to the custom metric ``name`` (a Count) of this invocation."""
    global _metrics, _counted
    if value <= 0 or os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":
        return
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    if _metrics is None:
        _metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
    if not _counted:
        _metrics.add_dimension(name="function", value=_invocation.get("function", "local"))
        _counted = True
    _metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def end() -> None:
    """The invocation is over: publish what it counted (one EMF line), if anything."""
    global _counted
    if _counted and _metrics is not None:
        _metrics.flush_metrics()
    _counted = False


def _correlation_of(event: Any) -> str | None:
    headers = getattr(event, "headers", None)
    if headers is not None:  # an HTTP request
        given = headers.get("x-correlation-id")
        if given and CORRELATION_ID.match(given):
            return given
        return (getattr(event, "context", None) or {}).get("requestId")
    raw = getattr(event, "to_dict", lambda: {})()
    return raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
