"""The catalogue table: what the catalogue keeps beside the products themselves.

- Categories: ``CATEGORY`` / ``<category key>``, one small partition read by one Query.
- Stock movements: ``SKU#<sku>`` / ``MOVE#<seq>``, every change of a SKU's stock, written in the
  transaction that changes ``available`` (``adapters/dynamo/stock_ledger.py``); ``seq`` is the
  product's ``stock_seq`` after the change, so a SKU's ledger is gapless and in commit order. The
  ``moves-at`` index (``MOVES#<shard>``, ``at``) reads every SKU's movements by time (exports).
- Stock adjustments' Idempotency-Keys: ``IDEM#<caller>#<key>`` / ``#IDEM``, holding the first answer.
- Changes made once: ``ONCE#<token>`` / ``#ONCE`` (an import's rows), in the change's own transaction.
"""

from __future__ import annotations

from pynamodb.attributes import DiscriminatorAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.adapters.dynamo.models import _gsi
from chalicelib.config import settings

CATEGORY_PK = "CATEGORY"
MOVES_SHARDS = 4


class CatalogueTableItem(Model):
    class Meta:
        table_name = settings.catalogue_table
        region = settings.region

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()


class CategoryRecord(CatalogueTableItem, discriminator="category"):
    category = UnicodeAttribute()  # as staff named its key (``apparel``)
    name = UnicodeAttribute()  # as shoppers see it (``服装``)
    sort_order = NumberAttribute(default=0)
    product_count = NumberAttribute(default=0)  # active products, changed in the transaction that changes one
    version = NumberAttribute(default=1)
    updated_at = UnicodeAttribute()


class MovementRecord(CatalogueTableItem, discriminator="movement"):
    sku = UnicodeAttribute()
    seq = NumberAttribute()
    at = UnicodeAttribute()
    delta = NumberAttribute()
    reason = UnicodeAttribute()
    actor = UnicodeAttribute()
    balance_after = NumberAttribute()
    order_id = UnicodeAttribute(null=True)
    return_id = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    moves_shard = UnicodeAttribute()

    by_time = _gsi("moves-at", "moves_shard", "at", UnicodeAttribute)


class StockIdempotencyRecord(CatalogueTableItem, discriminator="idempotency"):
    request_hash = UnicodeAttribute()
    answer = UnicodeAttribute()  # the first answer, as JSON
    expires_at = TTLAttribute()


class OnceRecord(CatalogueTableItem, discriminator="once"):
    """A change made once (``ONCE#<token>``: an import's row), written in that change's transaction."""

    at = UnicodeAttribute()
    expires_at = TTLAttribute()


def once_pk(token: str) -> str:
    return f"ONCE#{token}"


ONCE_SK = "#ONCE"


def sku_pk(sku: str) -> str:
    return f"SKU#{sku}"


def movement_sk(seq: int) -> str:
    return f"MOVE#{seq:012d}"
