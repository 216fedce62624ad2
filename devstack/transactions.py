"""TransactWriteItems for the emulator: check every condition first, then write; no table copies.

moto applies a transaction item by item over a deep copy of each table it touches
(one copy per item), to roll back on a failed condition. With streams enabled the
copies include every stream record, so each order cost more than the last (seconds
after a few hundred). DynamoDB evaluates all conditions against the state before the
transaction, then writes all or nothing; this does the same: conditions first (a
failure writes nothing), then the writes, undoing the items written (and their
stream records) if one of them fails.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)

OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """A drop-in for ``DynamoDBBackend.transact_write_items`` (moto 5.2)."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    errors: list[tuple[Any, Any, Any]] = []
    writes: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        original: dict[str, Any] | None = None
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            key = _key(self, op_type, op)
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in seen:
                raise MultipleTransactionsException()
            seen.add(marker)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                test = get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not test.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original)
            if op_type != "ConditionCheck":
                writes.append((op_type, op, table_name, key))
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original))
        except Exception as error:  # as moto does: the reason names the exception
            errors.append((type(error).__name__, str(error), original))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    _write_all(self, writes)


def _key(self: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]
    table = self.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _write_all(self: Any, writes: list[tuple[str, dict[str, Any], str, dict[str, Any]]]) -> None:
    before = [(name, key, copy.deepcopy(self.get_item(name, key))) for _, _, name, key in writes]
    streams = {name: _stream_length(self, name) for _, _, name, _ in writes}
    try:
        for op_type, op, table_name, key in writes:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            else:
                self.update_item(table_name, key, op["UpdateExpression"], names, values)
    except Exception as error:
        for table_name, key, item in reversed(before):
            if item is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, item.to_json()["Attributes"])
        for table_name, length in streams.items():
            shard = self.get_table(table_name).stream_shard
            if shard is not None and length is not None:
                del shard.items[length:]
        raise TransactionCanceledException([(type(error).__name__, str(error), None)] * len(writes)) from None


def _stream_length(self: Any, table_name: str) -> int | None:
    shard = self.get_table(table_name).stream_shard
    return None if shard is None else len(shard.items)
