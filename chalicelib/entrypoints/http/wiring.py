"""The composition root: concrete adapters handed to the services, built once per container."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from chalicelib.config import settings
from chalicelib.services.orders import OrderService


@cache
def catalogue():
    from chalicelib.adapters.dynamo.catalogue_repo import CatalogueRepository

    return CatalogueRepository()


@cache
def orders() -> OrderService:
    from chalicelib.adapters.dynamo.orders_repo import OrdersRepository

    return OrderService(
        orders=OrdersRepository(),
        catalogue=catalogue(),
        currency=settings.currency,
        payment_ttl=timedelta(minutes=settings.payment_ttl_minutes),
    )
