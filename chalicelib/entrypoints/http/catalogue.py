"""Catalogue routes: anonymous reads."""

from __future__ import annotations

import re

from chalice import Blueprint

from chalicelib.domain.errors import NotFound
from chalicelib.entrypoints.http import presenters, wiring
from chalicelib.entrypoints.http.routing import PUBLIC, Call, endpoint, respond
from chalicelib.services import catalogue as service

api = Blueprint(__name__)

SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@endpoint(
    api,
    "GET",
    "/products",
    summary="Browse and search the catalogue",
    access=PUBLIC,
    query="ListProductsQuery",
    response="ProductPage",
    errors=(400, 422),
    tag="catalogue",
)
def list_products(call: Call) -> dict:
    q = call.query
    result = service.list_products(
        wiring.catalogue(),
        category=q.category,
        q=q.q,
        min_price=q.min_price,
        max_price=q.max_price,
        sort=q.sort,
        limit=q.limit,
        cursor=q.cursor,
        product_group=q.product_group,
    )
    return presenters.page(result, presenters.product)


@endpoint(
    api,
    "GET",
    "/products/{sku}",
    summary="One product",
    access=PUBLIC,
    response="ProductOut",
    response_headers=("ETag",),
    errors=(404,),
    tag="catalogue",
)
def get_product(call: Call, sku: str):
    if not SKU.match(sku):
        raise NotFound("No such product.", sku=sku[:64])
    product = service.get_product(wiring.catalogue(), sku)
    return respond(presenters.product(product), 200, {"ETag": f'"{product.version}"'})
