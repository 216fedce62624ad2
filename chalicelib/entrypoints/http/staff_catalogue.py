"""Staff managing the catalogue: products (create, edit with If-Match, retire) and categories; and the
public list of categories."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.domain.errors import NotFound
from chalicelib.entrypoints.http import presenters, wiring
from chalicelib.entrypoints.http.catalogue import SKU
from chalicelib.entrypoints.http.routing import IF_MATCH_HEADER, PUBLIC, STAFF, Call, endpoint, if_match, respond

api = Blueprint(__name__)


def sku_or_404(raw: str) -> str:
    if not SKU.match(raw):
        raise NotFound("No such product.", sku=raw[:64])
    return raw


def _with_etag(product, status: int = 200, extra: dict[str, str] | None = None):
    return respond(presenters.product(product), status, {"ETag": f'"{product.version}"', **(extra or {})})


@endpoint(
    api,
    "POST",
    "/staff/products",
    summary="Add a product (its stock, if any, is its first stock movement)",
    access=STAFF,
    status=201,
    body="ProductIn",
    response="ProductOut",
    response_headers=("Location", "ETag"),
    errors=(400, 401, 403, 409, 413, 422, 429),
    tag="catalogue-admin",
)
def create_product(call: Call):
    from chalicelib.domain.product_changes import ProductDraft

    fields = call.body.model_dump(exclude_none=True)
    fields["stock"] = fields.get("stock") or 0
    product = wiring.product_admin().create(call.principal, ProductDraft(**fields))
    return _with_etag(product, 201, {"Location": f"/products/{product.sku}"})


@endpoint(
    api,
    "PATCH",
    "/staff/products/{sku}",
    summary="Change a product on the version read (If-Match); a price change reaches new orders and carts only",
    access=STAFF,
    body="ProductPatch",
    response="ProductOut",
    response_headers=("ETag",),
    headers=(IF_MATCH_HEADER,),
    errors=(400, 401, 403, 404, 412, 413, 422, 428, 429),
    tag="catalogue-admin",
)
def patch_product(call: Call, sku: str):
    version = if_match(call)
    changes = call.body.model_dump(exclude_unset=True)
    for name in ("name", "category", "price", "images", "attributes", "options", "low_stock_threshold", "active",
                 "description"):  # fmt: skip
        if name in changes and changes[name] is None:
            changes.pop(name)  # null clears only what may be empty: product_group
    product = wiring.product_admin().update(call.principal, sku_or_404(sku), version, changes)
    return _with_etag(product)


@endpoint(
    api,
    "DELETE",
    "/staff/products/{sku}",
    summary="Retire a product (active: false): out of every listing; orders keep their lines",
    access=STAFF,
    response="ProductOut",
    response_headers=("ETag",),
    errors=(401, 403, 404, 429),
    tag="catalogue-admin",
)
def retire_product(call: Call, sku: str):
    return _with_etag(wiring.product_admin().retire(call.principal, sku_or_404(sku)))


@endpoint(
    api,
    "GET",
    "/staff/products/{sku}",
    summary="One product as staff see it, retired or not",
    access=STAFF,
    response="ProductOut",
    response_headers=("ETag",),
    errors=(401, 403, 404),
    tag="catalogue-admin",
)
def staff_product(call: Call, sku: str):
    product = wiring.product_admin().store.get(sku_or_404(sku))
    if product is None:
        raise NotFound("No such product.", sku=sku)
    return _with_etag(product)


@endpoint(
    api,
    "GET",
    "/categories",
    summary="The categories, with how many active products each holds",
    access=PUBLIC,
    response="CategoryList",
    tag="catalogue",
)
def list_categories(call: Call) -> dict:
    return {"items": [presenters.category(item) for item in wiring.product_admin().categories()]}


@endpoint(
    api,
    "PUT",
    "/staff/categories/{category}",
    summary="Create a category or rename it",
    access=STAFF,
    body="CategoryIn",
    response="CategoryOut",
    errors=(400, 401, 403, 413, 422, 429),
    tag="catalogue-admin",
)
def put_category(call: Call, category: str) -> dict:
    from urllib.parse import unquote

    from chalicelib.domain.errors import ValidationFailed

    key = unquote(category)
    if not 1 <= len(key) <= 64 or any(c in key for c in "/#?%\\") or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ValidationFailed(
            "A category is 1 to 64 characters, without control characters, '/', '#', '?', '%' or '\\'.",
            fields={"category": "not a category name"},
        )
    saved = wiring.product_admin().put_category(call.principal, key, call.body.name, call.body.sort_order)
    return presenters.category(saved)
