"""Request and response schemas (pydantic), by capability. Imported on first use, not at cold start.

What the server checks is what ``/openapi.json`` publishes: every pattern is both the
published JSON Schema ``pattern`` (ECMA-262) and the server's check (Python ``re.fullmatch``
of the same text). Routes name their schemas by class name (``endpoint(body="PlaceOrderIn")``);
this package gathers every module's public names so they are found here.
"""

from __future__ import annotations

from types import ModuleType

from chalicelib.entrypoints.http.schemas import (
    approvals,
    audit,
    base,
    cart,
    catalogue,
    desk,
    orders,
    payments,
    system,
)
from chalicelib.entrypoints.http.schemas.base import PATTERN_MISMATCH

MODULES: tuple[ModuleType, ...] = (base, catalogue, orders, payments, audit, approvals, cart, desk, system)
globals().update(
    {
        name: value
        for module in MODULES
        for name, value in vars(module).items()
        if name[0] != "_" and not isinstance(value, ModuleType)
    }
)

__all__ = ["MODULES", "PATTERN_MISMATCH"]
