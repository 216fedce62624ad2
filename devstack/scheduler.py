"""The app's schedules, run locally: what EventBridge rules do in AWS, on a short timer.

Every ``interval`` seconds each ``@app.schedule`` function is invoked through
Chalice's own handler, with a scheduled event shaped like EventBridge's, so the
code path is the one Lambda runs. What a run did is printed when it did something.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("devstack.scheduler")


def scheduled_event(name: str, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:000000000000:rule/{name}"],
        "detail": {},
    }


class Scheduler:
    def __init__(self, app: Any, interval: float, region: str, report: Callable[[str], None] = print) -> None:
        self._jobs = [(source.name, app.handler_map[source.name]) for source in _schedules(app)]
        self._interval, self._region, self._report = interval, region, report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="schedules", daemon=True)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._jobs]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 30)

    def run_once(self) -> dict[str, Any]:
        """Run every schedule once; returns each one's result (or the error it raised)."""
        results: dict[str, Any] = {}
        for name, handler in self._jobs:
            try:
                results[name] = handler(scheduled_event(name, self._region), None)
            except Exception as error:  # a failing schedule must not stop the others, as in AWS
                log.exception("schedule %s failed", name)
                results[name] = {"error": repr(error)}
            if any(isinstance(v, int) and v for v in (results[name] or {}).values()) or "error" in (
                results[name] or {}
            ):
                self._report(f"[schedule] {name}: {results[name]}")
        return results

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.run_once()


def _schedules(app: Any) -> list[Any]:
    from chalice.app import ScheduledEventConfig

    return [source for source in app.event_sources if isinstance(source, ScheduledEventConfig)]
