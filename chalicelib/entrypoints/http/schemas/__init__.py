"""Request and response schemas (pydantic), by capability. Each module is imported on first use, not at cold start.

What the server checks is what ``/openapi.json`` publishes: every pattern is both the
published JSON Schema ``pattern`` (ECMA-262) and the server's check (Python ``re.fullmatch``
of the same text). Routes name their schemas by class name (``endpoint(body="PlaceOrderIn")``);
a name is looked up here and its module imported then (PEP 562), in the order of ``MODULES``:
the first GET /products loads the catalogue's schemas only, not the order desk's.
"""

from __future__ import annotations

import importlib
from typing import Any

MODULES = (
    "base",
    "catalogue",
    "orders",
    "payments",
    "system",
    "cart",
    "desk",
    "approvals",
    "audit",
    "products",
    "product_images",
    "imports",
    "customers",
    "exports",
    "tickets",
    "pricing_settings",
    "reviews",
)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    for module_name in MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        if name in vars(module) and not name.startswith("_"):
            value = vars(module)[name]
            globals()[name] = value
            return value
    raise AttributeError(f"no schema named {name!r}")
