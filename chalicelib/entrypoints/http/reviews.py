"""Reviews (API.md, "Reviews"): a customer's review of their delivered order, and a product's public reviews."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.domain.errors import NotFound
from chalicelib.domain.reviews import LineRating
from chalicelib.entrypoints.http import wiring
from chalicelib.entrypoints.http.catalogue import SKU
from chalicelib.entrypoints.http.orders import order_id_or_404
from chalicelib.entrypoints.http.routing import CUSTOMER, PUBLIC, SIGNED_IN, Call, endpoint, respond

if TYPE_CHECKING:
    from chalicelib.domain.reviews import Review

api = Blueprint(__name__)


def review_view(review: Review) -> dict[str, Any]:
    """The review as its customer and staff see it (the name as the public sees it)."""
    return {"order_id": review.order_id, "rating": review.rating, "comment": review.comment,
            "lines": [{"sku": line.sku, "rating": line.rating} for line in review.lines], "name": review.name,
            "created_at": review.created_at}  # fmt: skip


@endpoint(
    api,
    "POST",
    "/orders/{order_id}/review",
    summary="Review one of the caller's delivered orders, once: a rating, a comment, ratings per product",
    access=CUSTOMER,
    status=201,
    body="ReviewIn",
    response="ReviewOut",
    response_headers=("Location",),
    errors=(400, 401, 403, 404, 409, 413, 422, 429),
    tag="reviews",
)
def write_review(call: Call, order_id: str):
    body = call.body
    lines = tuple(LineRating(line.sku, line.rating) for line in body.lines or ())
    review = wiring.reviews().write(call.principal, order_id_or_404(order_id), body.rating, body.comment, lines)
    return respond(review_view(review), 201, {"Location": f"/orders/{review.order_id}/review"})


@endpoint(
    api,
    "GET",
    "/orders/{order_id}/review",
    summary="An order's review (its customer or staff)",
    access=SIGNED_IN,
    response="ReviewOut",
    errors=(401, 404),
    tag="reviews",
)
def get_review(call: Call, order_id: str) -> dict:
    return review_view(wiring.reviews().get(call.principal, order_id_or_404(order_id)))


@endpoint(
    api,
    "GET",
    "/products/{sku}/reviews",
    summary="A product's reviews, newest first, reviewers' names masked",
    access=PUBLIC,
    query="ProductReviewsQuery",
    response="ProductReviewPage",
    errors=(400, 404, 422),
    tag="reviews",
)
def list_product_reviews(call: Call, sku: str) -> dict:
    if not SKU.match(sku):
        raise NotFound("No such product.", sku=sku[:64])
    page = wiring.reviews().of_product(sku, call.query.limit, call.query.cursor)
    return {"items": page.items, "next_cursor": page.next_cursor}
