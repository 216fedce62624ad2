"""Reviews in the orders table, each kind in its own item collection (never in the order's, which every read of
the order decodes whole):

- the order's review: ``REVIEW#<order id>`` / ``#REVIEW``, put only where none is (once per order);
- the public listing of a product's reviews: ``PRODUCT_REVIEWS#<sku>`` / ``<created_at>#<order id>``, one per
  product of the order, written in the review's transaction and read newest first by one Query;
- a product rated once per review: ``RATED#<order id>#<sku>`` / ``#RATED``, put by the orders stream in the
  transaction that adds the rating to the product (``rating_sum``, ``rating_count``, ``rating_avg``), so a
  redelivered stream record adds nothing.

No item here has an attribute a table index is keyed on (the customer is kept as ``owner``).
"""

from __future__ import annotations

import random
import time
from typing import Any

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.models import OrdersTableItem, ProductModel
from chalicelib.adapters.dynamo.pages import base_table, query_page
from chalicelib.config import settings
from chalicelib.domain.reviews import LineRating, Review, average
from chalicelib.services.ports import Page, WriteConflict

REVIEW_SK = "#REVIEW"
RATED_SK = "#RATED"
ATTEMPTS = 8


def review_pk(order_id: str) -> str:
    return f"REVIEW#{order_id}"


def product_reviews_pk(sku: str) -> str:
    return f"PRODUCT_REVIEWS#{sku}"


def rated_pk(order_id: str, sku: str) -> str:
    return f"RATED#{order_id}#{sku}"


class LineRatingMap(MapAttribute):
    sku = UnicodeAttribute()
    rating = NumberAttribute()


class ReviewRecord(OrdersTableItem, discriminator="review"):
    order_id = UnicodeAttribute()
    customer_id = UnicodeAttribute(attr_name="owner")
    rating = NumberAttribute()
    comment = UnicodeAttribute(null=True)
    lines = ListAttribute(of=LineRatingMap, default=list)
    name = UnicodeAttribute()  # masked
    created_at = UnicodeAttribute()


class ProductReviewRecord(OrdersTableItem, discriminator="product_review"):
    """One product's entry of a review: what the public listing shows, and what the stream adds to the product."""

    sku = UnicodeAttribute()
    order_id = UnicodeAttribute()
    rating = NumberAttribute()
    comment = UnicodeAttribute(null=True)
    name = UnicodeAttribute()  # masked
    created_at = UnicodeAttribute()


class RatedRecord(OrdersTableItem, discriminator="rated"):
    at = UnicodeAttribute()


_Listing = base_table(ProductReviewRecord)


def to_review(record: ReviewRecord) -> Review:
    lines = tuple(LineRating(line.sku, int(line.rating)) for line in record.lines or [])
    return Review(order_id=record.order_id, customer_id=record.customer_id, rating=int(record.rating),
                  comment=record.comment, lines=lines, name=record.name, created_at=record.created_at)  # fmt: skip


def review_record(review: Review) -> ReviewRecord:
    lines = [LineRatingMap(sku=line.sku, rating=line.rating) for line in review.lines]
    return ReviewRecord(review_pk(review.order_id), REVIEW_SK, order_id=review.order_id,
                        customer_id=review.customer_id, rating=review.rating, comment=review.comment, lines=lines,
                        name=review.name, created_at=review.created_at)  # fmt: skip


def product_review_record(review: Review, rated: LineRating) -> ProductReviewRecord:
    return ProductReviewRecord(product_reviews_pk(rated.sku), f"{review.created_at}#{review.order_id}",
                               sku=rated.sku, order_id=review.order_id, rating=rated.rating, comment=review.comment,
                               name=review.name, created_at=review.created_at)  # fmt: skip


def public_view(record: ProductReviewRecord) -> dict[str, Any]:
    """What anyone may see of a review: never who wrote it beyond the masked name."""
    return {"rating": int(record.rating), "comment": record.comment, "name": record.name,
            "created_at": record.created_at}  # fmt: skip


def rating_fact(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The product rating a stream record inserted (``{order_id, sku, rating, at}``), or None for any other."""
    if raw.get("eventName") != "INSERT":
        return None
    image = (raw.get("dynamodb") or {}).get("NewImage") or {}
    if (image.get("kind") or {}).get("S") != "product_review":
        return None
    record = ProductReviewRecord.from_raw_data(image)
    return {"order_id": record.order_id, "sku": record.sku, "rating": int(record.rating), "at": record.created_at}


class ReviewsRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=settings.region)

    def get(self, order_id: str) -> Review | None:
        """GetItem (consistent)."""
        try:
            return to_review(ReviewRecord.get(review_pk(order_id), REVIEW_SK, consistent_read=True))
        except ReviewRecord.DoesNotExist:
            return None

    def create(self, review: Review, ratings: tuple[LineRating, ...]) -> None:
        """One transaction: the review where none is, and each rated product's listing entry.
        ``WriteConflict`` when the order already has a review (or another write of it is under way)."""
        try:
            with TransactWrite(connection=self._connection) as transaction:
                transaction.save(review_record(review), condition=ReviewRecord.pk.does_not_exist())
                for rated in ratings:
                    transaction.save(product_review_record(review, rated))
        except TransactWriteError as error:
            if error.cause_response_code == "TransactionCanceledException":
                raise WriteConflict() from None
            raise

    def product_page(self, sku: str, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
        """A product's reviews, newest first: one Query of its partition."""
        return query_page(_Listing, ("pk", product_reviews_pk(sku)), limit=limit, cursor=cursor,
                          convert=public_view, order_by="sk", newest_first=True)  # fmt: skip


class ProductRatings:
    """The products' ``rating_sum`` / ``rating_count`` / ``rating_avg``, each review's rating added once."""

    def __init__(self) -> None:
        self._connection = Connection(region=settings.region)

    def add(self, order_id: str, sku: str, rating: int, at: str) -> str:
        """``rated``, ``already`` (this review's rating is in) or ``missing`` (no such product). The product is
        written on the count read and the marker where none is, in one transaction, retried on a fresh read."""
        for attempt in range(ATTEMPTS):
            try:
                product = ProductModel.get(sku, consistent_read=True)
            except ProductModel.DoesNotExist:
                return "missing"
            total, count = int(product.rating_sum or 0) + rating, int(product.rating_count or 0) + 1
            seen = ProductModel.rating_count == count - 1
            if count == 1:
                seen = seen | ProductModel.rating_count.does_not_exist()
            try:
                with TransactWrite(connection=self._connection) as transaction:
                    marker = RatedRecord(rated_pk(order_id, sku), RATED_SK, at=at)
                    transaction.save(marker, condition=RatedRecord.pk.does_not_exist())
                    actions = [ProductModel.rating_sum.set(total), ProductModel.rating_count.set(count),
                               ProductModel.rating_avg.set(average(total, count))]  # fmt: skip
                    transaction.update(ProductModel(sku), actions=actions, condition=ProductModel.sku.exists() & seen)
                return "rated"
            except TransactWriteError as error:
                reasons = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    return "already"
                if error.cause_response_code != "TransactionCanceledException":
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))  # another rating came first: read it again
        raise WriteConflict()
