"""PynamoDB models: the products table and the single orders table.

Products: one item per SKU holding the catalogue entry *and* its stock
(``available``), so a reservation is one conditional update and a listing one
Query. Listed (active) products carry ``listed``/``listed_category``, which key
the sparse sort indexes; an inactive product drops out of every listing.

Orders: one item collection per order (``ORDER#<id>``): the header (``#ORDER``,
holding the payment ledger), its timeline events (``EVT#<seq>``) and the provider
events already applied to it (``STRIPE#<event id>``, ``FULFIL#<update id>``), so one Query reads an order
with its timeline and what it has seen. Idempotency records, order-number
counters and PaymentIntent → order links (``PAYREF#<id>``) live beside them.

The header carries ``due_kind``/``due_at`` only while a schedule has work for it
(a reminder to send, a refund to retry) and ``expiry_kind``/``expiry_at`` only
while it is unpaid: the sparse ``payment-due`` and ``payment-expiry`` indexes are
what the schedules Query, never a Scan. No index has one constant partition: the
ones over all orders are written to ``ORDER_SHARDS`` partitions (``<value>#<shard>``,
the shard from the order id) and read by one Query per shard, in parallel.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib.config import settings


def _gsi(index_name: str, hash_name: str, range_name: str, range_type: type) -> GlobalSecondaryIndex:
    """A GSI projecting everything, so a listing is served by one Query."""
    meta = type("Meta", (), {"index_name": index_name, "projection": AllProjection()})
    attrs = {
        "Meta": meta,
        hash_name: UnicodeAttribute(hash_key=True),
        range_name: range_type(range_key=True),
    }
    return type(index_name.replace("-", "_"), (GlobalSecondaryIndex,), attrs)()


class JSONTextAttribute(JSONAttribute):
    """Any JSON value as its text: DynamoDB's numbers hold 38 digits between 1e-130 and 1e126, JSON's any."""

    def serialize(self, value: object) -> str | None:
        import json

        return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ProductModel(Model):
    class Meta:
        table_name = settings.products_table
        region = settings.region

    sku = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    name_key = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    category = UnicodeAttribute()
    price = NumberAttribute()
    currency = UnicodeAttribute()
    images = ListAttribute(of=UnicodeAttribute, default=list)
    attributes = JSONTextAttribute(default=dict)  # free-form: kept as the JSON the staff sent
    available = NumberAttribute(default=0)
    sales_count = NumberAttribute(default=0)
    active = BooleanAttribute(default=True)
    low_stock_threshold = NumberAttribute(default=0)
    product_group = UnicodeAttribute(null=True)  # variants of one product share it
    options = MapAttribute(default=dict)  # e.g. {"size": "M", "colour": "白色"}
    search_text = UnicodeAttribute(null=True)  # name, description, option values, case-folded: what q matches
    rating_avg = NumberAttribute(null=True)
    rating_count = NumberAttribute(default=0)
    rating_sum = NumberAttribute(default=0)  # of every rating counted (adapters/dynamo/reviews_repo.py)
    version = NumberAttribute(default=1)  # of the editable fields (If-Match); stock moves do not change it
    stock_seq = NumberAttribute(default=0)  # how many stock movements the SKU has had: the ledger's last entry
    listed = UnicodeAttribute(null=True)
    listed_category = UnicodeAttribute(null=True)
    listed_group = UnicodeAttribute(null=True)
    catalogued = UnicodeAttribute(null=True)  # PRODUCT#<shard> on every product, retired or not (staff lists, exports)
    low_stock = UnicodeAttribute(null=True)  # LOW#<shard> only while available < low_stock_threshold
    shortfall = NumberAttribute(null=True)  # low_stock_threshold - available, while low
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    category_price = _gsi("category-price", "listed_category", "price", NumberAttribute)
    category_sales = _gsi("category-sales", "listed_category", "sales_count", NumberAttribute)
    category_name = _gsi("category-name", "listed_category", "name_key", UnicodeAttribute)
    all_price = _gsi("all-price", "listed", "price", NumberAttribute)
    all_sales = _gsi("all-sales", "listed", "sales_count", NumberAttribute)
    all_name = _gsi("all-name", "listed", "name_key", UnicodeAttribute)
    by_group = _gsi("group-sku", "listed_group", "sku", UnicodeAttribute)
    every = _gsi("all-sku", "catalogued", "sku", UnicodeAttribute)
    low = _gsi("low-stock", "low_stock", "shortfall", NumberAttribute)


class OrdersTableItem(Model):
    class Meta:
        table_name = settings.orders_table
        region = settings.region

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()


class LineMap(MapAttribute):
    sku = UnicodeAttribute()
    name = UnicodeAttribute()
    unit_price = NumberAttribute()
    quantity = NumberAttribute()


class PaymentMap(MapAttribute):
    payment_id = UnicodeAttribute()
    method = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    provider_reference = UnicodeAttribute(null=True)
    reference_code = UnicodeAttribute(null=True)
    received_amount = NumberAttribute(default=0)
    received_currency = UnicodeAttribute(null=True)
    reported_refunded = NumberAttribute(default=0)
    cancel_pending = BooleanAttribute(default=False)
    received_reference = UnicodeAttribute(null=True)


class RefundMap(MapAttribute):
    refund_id = UnicodeAttribute()
    payment_id = UnicodeAttribute()
    amount = NumberAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    provider_reference = UnicodeAttribute(null=True)
    automatic = BooleanAttribute(default=False)
    reference_code = UnicodeAttribute(null=True)
    sent_reference = UnicodeAttribute(null=True)


class StepMap(MapAttribute):
    role = UnicodeAttribute()
    status = UnicodeAttribute()
    by = UnicodeAttribute(null=True)
    at = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)


class ApprovalMap(MapAttribute):
    """An order's approval (``domain/approval.py``), in its header."""

    status = UnicodeAttribute()
    rule = UnicodeAttribute()
    steps = ListAttribute(of=StepMap)
    for_version = NumberAttribute()
    placed_by = UnicodeAttribute()
    deadline = UnicodeAttribute()
    waiting_since = UnicodeAttribute()
    reminded = BooleanAttribute(default=False)
    decided_at = UnicodeAttribute(null=True)


class ShipmentMap(MapAttribute):
    carrier = UnicodeAttribute(null=True)
    tracking_number = UnicodeAttribute(null=True)
    shipped_at = UnicodeAttribute()


class OrderNumberIndex(GlobalSecondaryIndex):
    """Order number → the order's id: a lookup reads the id here, then the order (numbers are unique)."""

    class Meta:
        index_name = "order-number"
        projection = IncludeProjection(["kind", "order_id"])

    order_number = UnicodeAttribute(hash_key=True)


class OrderRecord(OrdersTableItem, discriminator="order"):
    order_id = UnicodeAttribute()
    order_number = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    status = UnicodeAttribute()
    payment_status = UnicodeAttribute()
    fulfilment_status = UnicodeAttribute()
    lines = ListAttribute(of=LineMap)
    subtotal = NumberAttribute()
    discount = NumberAttribute()
    shipping = NumberAttribute()
    total = NumberAttribute()
    currency = UnicodeAttribute()
    amount_paid = NumberAttribute(default=0)
    amount_refunded = NumberAttribute(default=0)
    shipping_address = MapAttribute()
    channel = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    flags = ListAttribute(of=UnicodeAttribute, default=list)
    reserved_until = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = NumberAttribute()
    # sharded or compound index keys (see orders_repo: never one constant partition for all orders)
    listed = UnicodeAttribute()  # ORDER#<shard>
    customer_status = UnicodeAttribute()  # <customer_id>#<status>
    status_shard = UnicodeAttribute()  # <status>#<shard>
    payments = ListAttribute(of=PaymentMap, default=list)
    refunds = ListAttribute(of=RefundMap, default=list)
    shipments = ListAttribute(of=ShipmentMap, default=list)
    reminded = BooleanAttribute(default=False)
    due_kind = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    expiry_kind = UnicodeAttribute(null=True)
    expiry_at = UnicodeAttribute(null=True)
    approval = ApprovalMap(null=True)
    pricing = JSONTextAttribute(null=True)  # {terms, discounts}: what the order was priced on (order_records.py)
    # only while a step waits: <role>#<shard> of the approvals index, since when, and who may not decide it
    approval_queue = UnicodeAttribute(null=True)
    approval_since = UnicodeAttribute(null=True)
    approval_excluded = UnicodeSetAttribute(null=True)

    by_customer = _gsi("customer-created", "customer_id", "created_at", UnicodeAttribute)
    by_customer_status = _gsi("customer-status-created", "customer_status", "created_at", UnicodeAttribute)
    by_status = _gsi("status-shard-created", "status_shard", "created_at", UnicodeAttribute)
    all_orders = _gsi("all-created", "listed", "created_at", UnicodeAttribute)
    payment_due = _gsi("payment-due", "due_kind", "due_at", UnicodeAttribute)
    payment_expiry = _gsi("payment-expiry", "expiry_kind", "expiry_at", UnicodeAttribute)
    approvals_waiting = _gsi("approvals-waiting", "approval_queue", "approval_since", UnicodeAttribute)
    by_number = OrderNumberIndex()


class EventRecord(OrdersTableItem, discriminator="event"):
    order_id = UnicodeAttribute()
    customer_id = UnicodeAttribute(null=True)  # so the stream can notify without reading the order
    order_number = UnicodeAttribute(null=True)
    seq = NumberAttribute()
    at = UnicodeAttribute()
    type = UnicodeAttribute()
    actor = UnicodeAttribute()
    data = MapAttribute(default=dict)


class IdempotencyRecord(OrdersTableItem, discriminator="idempotency"):
    order_id = UnicodeAttribute()
    request_hash = UnicodeAttribute()
    expires_at = TTLAttribute()


class ProcessedEventRecord(OrdersTableItem, discriminator="provider_event"):
    """A provider event applied to this order, written in the same transaction as its effect."""

    event_type = UnicodeAttribute()
    at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class PaymentRefRecord(OrdersTableItem, discriminator="payment_ref"):
    """Which order a provider's payment (PaymentIntent) belongs to, for events that carry no order id."""

    order_id = UnicodeAttribute()


class SentRecord(OrdersTableItem, discriminator="sent"):
    """Which side effects of one committed event were done (``NOTIFY#<event key>``), so redelivery skips them."""

    sent = UnicodeSetAttribute(default=set)
    expires_at = TTLAttribute(null=True)


class CounterRecord(OrdersTableItem, discriminator="counter"):
    value = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


class SettingRecord(OrdersTableItem, discriminator="setting"):
    """A versioned setting (``SETTING#<name>``): its body as JSON, written only on its version."""

    version = NumberAttribute()
    body = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute()


def setting_pk(name: str) -> str:
    return f"SETTING#{name}"


SETTING_SK = "#SETTING"


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


ORDER_SK = "#ORDER"


def event_sk(seq: int) -> str:
    return f"EVT#{seq:06d}"


def applied_sk(source: str, event_id: str) -> str:
    """The marker of an outside event applied to an order: ``STRIPE#<event id>``, ``FULFIL#<update id>``."""
    return f"{source}#{event_id}"


def payment_ref_pk(provider_reference: str) -> str:
    return f"PAYREF#{provider_reference}"


PAYMENT_REF_SK = "#PAYREF"


class CartLineMap(MapAttribute):
    sku = UnicodeAttribute()
    quantity = NumberAttribute()
    price_seen = NumberAttribute()
    name_seen = UnicodeAttribute()
    added_at = UnicodeAttribute()


class CartRecord(OrdersTableItem, discriminator="cart"):
    """A customer's cart (``CUSTOMER#<sub>`` / ``#CART``): written only at the ``version`` it was read at.

    It lapses (the table's TTL on ``expires_at``) 30 days after its last change. Emptied, it stays, with a
    higher version, so a checkout that read an older version can never match a cart filled again since.
    """

    customer_id = UnicodeAttribute()
    lines = ListAttribute(of=CartLineMap, default=list)
    version = NumberAttribute()
    updated_at = UnicodeAttribute()
    expires_at = TTLAttribute()


def customer_pk(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


CART_SK = "#CART"
