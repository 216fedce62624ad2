"""Order reviews (``/orders/{order_id}/review``), products' public reviews (``/products/{sku}/reviews``) and the
products' ratings kept from the orders table's stream.

A review is one transaction: the order's review put where none is (so a second one, concurrent or not, is
``409 already_reviewed``) with each rated product's listing entry. The reviewer's name is masked when the review
is written, from their profile's name, else the order's shipping name. An order that is not the caller's does
not exist for them (``404``), as for the order's other routes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.domain import reviews as domain
from chalicelib.domain.errors import NotFound
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import Order, iso
from chalicelib.domain.reviews import AlreadyReviewed, LineRating, NoSuchReview, Review
from chalicelib.services.changes import Busy
from chalicelib.services.ports import Page, WriteConflict

ATTEMPTS = 4


class Reviews(Protocol):
    def get(self, order_id: str) -> Review | None: ...
    def create(self, review: Review, ratings: tuple[LineRating, ...]) -> None: ...
    def product_page(self, sku: str, limit: int, cursor: str | None) -> Page[dict[str, Any]]: ...


class Ratings(Protocol):
    def add(self, order_id: str, sku: str, rating: int, at: str) -> str: ...


@dataclass
class ReviewService:
    reviews: Reviews
    find_order: Callable[[str], Order | None]
    find_name: Callable[[str], str | None]  # the customer's profile name, if they have one
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    pause: Callable[[float], None] = time.sleep

    def write(self, principal: Principal, order_id: str, rating: int, comment: str | None,
              lines: tuple[LineRating, ...]) -> Review:  # fmt: skip
        """The caller's review of their delivered order: ``404`` for an order not theirs, ``409 not_delivered``,
        ``409 already_reviewed``, ``422`` for a line that is not the order's (or rated twice)."""
        order = self.find_order(order_id)
        if order is None or order.customer_id != principal.subject:
            raise NotFound("No such order.", order_id=order_id)
        name = self.find_name(principal.subject) or (order.shipping_address or {}).get("name")
        review = domain.new_review(order, principal.subject, rating, comment, lines, name, iso(self.clock()))
        ratings = review.ratings(domain.order_skus(order))
        for attempt in range(ATTEMPTS):
            try:
                self.reviews.create(review, ratings)
                return review
            except WriteConflict:
                if self.reviews.get(order_id) is not None:
                    raise AlreadyReviewed("This order has already been reviewed.", order_id=order_id) from None
                self.pause(random.uniform(0, 0.02 * 2**attempt))  # another write of it was under way: try again
        raise Busy("The order is being reviewed from elsewhere right now; retry shortly.")

    def get(self, principal: Principal, order_id: str) -> Review:
        """The order's review, for its customer or staff: one GetItem. Anyone else is told there is none."""
        review = self.reviews.get(order_id)
        if review is None or not (principal.is_staff or review.customer_id == principal.subject):
            raise NoSuchReview("No such review.", order_id=order_id)
        return review

    def of_product(self, sku: str, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
        """A product's reviews, newest first, names masked: one Query (an unknown SKU has none)."""
        return self.reviews.product_page(sku, limit, cursor)


@dataclass
class RatingKeeper:
    """From the orders stream: each product entry of a review adds its rating to the product, once."""

    ratings: Ratings

    def review_added(self, fact: dict[str, Any]) -> str:
        return self.ratings.add(fact["order_id"], fact["sku"], fact["rating"], fact["at"])
