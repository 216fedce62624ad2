"""Order reviews and product ratings (API.md, "Reviews"): who may review what, and what the public sees.

A customer reviews one of their own orders once, after it was delivered: an overall rating (1..5), an optional
comment and, optionally, a rating per product of the order. Every product of the order is rated: by its line's
own rating, else by the overall one. The public listing names the reviewer only by the first character of their
name and ``**`` (``王**``, ``J**``). Pure: no AWS here.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import Conflict, NotFound, ValidationFailed
from chalicelib.domain.orders import Order

MIN_RATING, MAX_RATING = 1, 5
MAX_COMMENT = 2000
DELIVERED = "delivered"
MASK = "**"
ANONYMOUS = "*"  # no name known: the listing shows ``***``


class AlreadyReviewed(Conflict):
    code = "already_reviewed"


class NotDelivered(Conflict):
    code = "not_delivered"


class NoSuchReview(NotFound):
    pass


@dataclass(frozen=True)
class LineRating:
    sku: str
    rating: int


@dataclass(frozen=True)
class Review:
    order_id: str
    customer_id: str
    rating: int
    comment: str | None
    lines: tuple[LineRating, ...]  # as the customer rated them (possibly none)
    name: str  # masked when written: the full name is never kept with a review
    created_at: str

    def ratings(self, order_skus: tuple[str, ...]) -> tuple[LineRating, ...]:
        """What each product of the order is rated: its line's rating, else the overall one."""
        own = {line.sku: line.rating for line in self.lines}
        return tuple(LineRating(sku, own.get(sku, self.rating)) for sku in order_skus)


def masked(name: str | None) -> str:
    """The first character of the name and ``**``: ``王小明`` → ``王**``, ``Jane Doe`` → ``J**``."""
    text = (name or "").strip()
    return f"{text[0] if text else ANONYMOUS}{MASK}"


def order_skus(order: Order) -> tuple[str, ...]:
    """The order's products, each once, in line order."""
    return tuple(dict.fromkeys(line.sku for line in order.lines))


def check_lines(order: Order, lines: tuple[LineRating, ...]) -> None:
    """Each line rating names a product of the order, once (``422`` naming the line otherwise)."""
    skus, seen, fields = set(order_skus(order)), set(), {}
    for n, line in enumerate(lines):
        if line.sku not in skus:
            fields[f"lines[{n}].sku"] = "must be a product of this order"
        elif line.sku in seen:
            fields[f"lines[{n}].sku"] = "must not be rated twice"
        seen.add(line.sku)
    if fields:
        raise ValidationFailed("Some line ratings do not match the order.", fields=fields)


def new_review(order: Order, customer_id: str, rating: int, comment: str | None, lines: tuple[LineRating, ...],
               name: str | None, at: str) -> Review:  # fmt: skip
    """The review of a delivered order (``409 not_delivered`` before), its lines checked against the order."""
    if order.fulfilment_status != DELIVERED:
        raise NotDelivered("Only a delivered order can be reviewed.", order_id=order.order_id,
                           fulfilment_status=order.fulfilment_status)  # fmt: skip
    if not MIN_RATING <= rating <= MAX_RATING:
        raise ValueError(f"not a rating: {rating}")
    check_lines(order, lines)
    return Review(order_id=order.order_id, customer_id=customer_id, rating=rating, comment=comment or None,
                  lines=lines, name=masked(name), created_at=at)  # fmt: skip


def average(total: int, count: int) -> float | None:
    """``rating_avg``: the mean to two decimals (half up), or None before the first rating."""
    if count <= 0:
        return None
    from decimal import ROUND_HALF_UP, Decimal

    return float((Decimal(total) / Decimal(count)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
