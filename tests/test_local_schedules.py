"""The local stack's scheduler runs the app's schedules through Chalice's handlers, as EventBridge would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.entrypoints.http import wiring
from devstack.scheduler import Scheduler


def test_every_schedule_of_the_app_runs_and_an_overdue_order_expires(api, seed, place, monkeypatch):
    from app import app

    seed("MUG-1", stock=5)
    placed = place(("MUG-1", 2))
    assert placed.status == 201, placed.body
    assert api.get("/products/MUG-1").body["stock_available"] == 3
    later = datetime.now(UTC) + timedelta(minutes=31)
    monkeypatch.setattr(wiring.changes(), "clock", lambda: later)
    printed: list[str] = []

    results = Scheduler(app, interval=60, region="us-east-1", report=printed.append).run_once()

    assert set(results) == {"payment_reminders", "expire_unpaid_orders", "retry_refunds", "customer_care"}
    assert results["expire_unpaid_orders"] == {"expired": 1}
    order = api.get(f"/orders/{placed.body['order_id']}", as_="customer").body
    assert order["status"] == "expired"
    assert api.get("/products/MUG-1").body["stock_available"] == 5
    assert printed == ["[schedule] expire_unpaid_orders: {'expired': 1}"]


def test_a_failing_schedule_is_reported_and_does_not_stop_the_others(api, monkeypatch):
    from app import app

    def broken(time_left=None) -> int:
        raise RuntimeError("emulator gone")

    monkeypatch.setattr(wiring.schedules(), "send_reminders", broken)
    printed: list[str] = []

    results = Scheduler(app, interval=60, region="us-east-1", report=printed.append).run_once()

    assert "emulator gone" in results["payment_reminders"]["error"]
    assert results["expire_unpaid_orders"] == {"expired": 0}
    assert len(printed) == 1 and printed[0].startswith("[schedule] payment_reminders:")
