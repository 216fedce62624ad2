"""DynamoDB calls per API operation, counted at botocore (every client, PynamoDB's included).

Each operation is sent through the verifying gateway with real Cognito tokens. The
whole sequence runs once as a warm-up (one-off calls such as a first DescribeTable
land there and are reported apart), then again to be counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.harness import Api, BenchError, Check, Section, Stack, User, new_key, order_body

CATEGORIES = ("tea", "books", "garden")
PRODUCTS_PER_CATEGORY = 20  # 60 listed products: enough for a filtered listing to need more than one page


@dataclass(frozen=True)
class Target:
    calls: int
    exact: bool = True

    def met(self, total: int) -> bool:
        return total == self.calls if self.exact else total <= self.calls

    def __str__(self) -> str:
        return f"{'=' if self.exact else '≤'} {self.calls}"


ORDER_SHARDS = 4  # chalicelib/adapters/dynamo/order_records.py's (imported in run() once the stack is set up)
PRODUCT_SHARDS = 4  # chalicelib/adapters/dynamo/catalogue_repo.py's: the whole catalogue is one Query per shard

TARGETS: dict[str, Target | None] = {
    "create order (2 lines)": Target(3, exact=False),
    "get order": Target(1),
    "list orders (customer)": Target(1),
    "list orders (customer, status=confirmed)": Target(1),
    "list orders (staff)": Target(ORDER_SHARDS),  # one Query per shard of the index over all orders
    "list orders (staff, status=confirmed)": Target(ORDER_SHARDS),
    "list orders (staff, customer_id=...)": Target(1),
    "list orders (staff, payment_status+channel+dates)": Target(ORDER_SHARDS),  # filtered: the same one per shard
    "list orders (staff, order_number=...)": Target(2),  # the number index, then the order
    "lookup by order number": Target(2),
    "list products": Target(PRODUCT_SHARDS),
    "list products (category)": Target(1),
    "list products (sort=price, min/max)": Target(PRODUCT_SHARDS),
    "list products (category, sort=-price, min/max)": Target(1),
    "list products (sort=name, min_price=...)": Target(PRODUCT_SHARDS),
    "list products (q=...)": Target(PRODUCT_SHARDS),
    "get product": Target(1),
    "edit order (a line's quantity)": Target(3),  # Query, BatchGetItem (the new lines' prices), TransactWriteItems
    "cancel order": Target(3, exact=False),  # Query, BatchGetItem (the stock it gives back, for its ledger), Transact
    "replay order (same Idempotency-Key)": None,  # reported, no target
    "set a cart line": Target(3),  # GetItem (the cart), BatchGetItem (its products), PutItem (conditional)
    "get cart (2 lines)": Target(2),  # GetItem, one BatchGetItem of the products
    "checkout (2 lines)": Target(4),  # BatchGetItem (key + cart), then POST /orders' three
    "replay checkout (same Idempotency-Key)": None,
    "quote (2 lines)": Target(1),
    "create order (held for approval: staff, admin)": Target(3, exact=False),  # the policy is cached
    "list approvals (staff)": Target(ORDER_SHARDS),  # one Query per shard of the staff steps' index partitions
    "approve (a step; the next one waits)": Target(2),  # Query (the order), TransactWriteItems
    "approve (the last step: confirmed)": Target(2),
    "list categories": Target(1),
    "put a category (rename)": Target(2),  # GetItem (its version), TransactWriteItems (with its audit entry)
    "create product (with stock)": Target(1),  # one TransactWriteItems: product, movement, count, audit
    "edit product (price)": Target(2),  # GetItem (consistent), TransactWriteItems
    "retire product": Target(3),  # GetItem, GetItem (its category), TransactWriteItems
    "stock adjustment": Target(3),  # GetItem (the key, first), GetItem (the product), TransactWriteItems
    "stock movements (a page)": Target(2),  # GetItem (the product exists?), Query
    "low stock (a page)": Target(4),  # one Query per shard of the low-stock index
}


class Operations:
    """Runs every operation once, recording each one's DynamoDB calls."""

    def __init__(self, stack: Stack, api: Api, customer: User, staff: User, admin: User) -> None:
        self.stack, self.api, self.customer, self.staff, self.admin = stack, api, customer, staff, admin
        self.counts: dict[str, Counter[str]] = {}

    def measure(self, name: str, method: str, path: str, user: User | None, expect: int = 200, **kwargs: Any) -> Any:
        with self.stack.calls.capture() as calls:
            status, body = self.api.call(method, path, user, **kwargs)
        if status != expect:
            raise BenchError(f"{name}: {method} {path} answered {status}, not {expect}: {body}")
        self.counts[name] = calls
        return body

    def run(self) -> dict[str, Counter[str]]:
        customer, staff = self.customer, self.staff
        key = new_key()
        body = order_body(("CALLS-TEA-01", 1), ("CALLS-BOOKS-01", 2))
        order = self.measure(
            "create order (2 lines)", "POST", "/orders", customer, 201, body=body, headers={"idempotency-key": key}
        )
        order_id = order["order_id"]
        self.measure("get order", "GET", f"/orders/{order_id}", customer)
        self.measure("list orders (customer)", "GET", "/orders", customer)
        self.measure("list orders (customer, status=confirmed)", "GET", "/orders?status=confirmed", customer)
        self.measure("list orders (staff)", "GET", "/orders", staff)
        self.measure("list orders (staff, status=confirmed)", "GET", "/orders?status=confirmed", staff)
        self.measure("list orders (staff, customer_id=...)", "GET", f"/orders?customer_id={customer.sub}", staff)
        today = order["created_at"][:10]
        self.measure(
            "list orders (staff, payment_status+channel+dates)",
            "GET",
            f"/orders?payment_status=unpaid&channel=web&created_from={today}&created_to={today}",
            staff,
        )
        number = order["order_number"]
        self.measure("list orders (staff, order_number=...)", "GET", f"/orders?order_number={number}", staff)
        self.measure("lookup by order number", "GET", f"/staff/orders/lookup?order_number={number}", staff)
        self.measure("list products", "GET", "/products", None)
        self.measure("list products (category)", "GET", "/products?category=tea", None)
        self.measure(
            "list products (sort=price, min/max)", "GET", "/products?sort=price&min_price=1500&max_price=4000", None
        )
        self.measure(
            "list products (category, sort=-price, min/max)",
            "GET",
            "/products?category=garden&sort=-price&min_price=1000&max_price=5000",
            None,
        )
        self.measure("list products (sort=name, min_price=...)", "GET", "/products?min_price=9000", None)
        found = self.measure("list products (q=...)", "GET", "/products?q=oolong", None)
        if not found["items"]:
            raise BenchError("list products (q=...): the search found nothing")
        self.measure("get product", "GET", "/products/CALLS-TEA-01", None)
        edit = {"items": [{"sku": "CALLS-TEA-01", "quantity": 2}, {"sku": "CALLS-BOOKS-01", "quantity": 2}]}
        version = self.api.call("GET", f"/orders/{order_id}", customer)[1]["version"]
        self.measure("edit order (a line's quantity)", "PATCH", f"/orders/{order_id}", customer, body=edit,
                     headers={"if-match": f'"{version}"'})  # fmt: skip
        self.measure("cancel order", "POST", f"/orders/{order_id}/cancel", customer, body={"reason": "bench"})
        self.measure(
            "replay order (same Idempotency-Key)",
            "POST",
            "/orders",
            customer,
            body=body,
            headers={"idempotency-key": key},
        )
        self.approvals()
        self.cart()
        self.catalogue()
        return self.counts

    def approvals(self) -> None:
        """An order over the approval policy's 2000000: placed, listed, approved by staff, then by admin."""
        held = self.measure(
            "create order (held for approval: staff, admin)", "POST", "/orders", self.customer, 201,
            body=order_body(("CALLS-BIG-01", 1)), headers={"idempotency-key": new_key()},
        )  # fmt: skip
        path = f"/staff/orders/{held['order_id']}/approve"
        self.measure("list approvals (staff)", "GET", "/staff/approvals", self.staff)
        self.measure("approve (a step; the next one waits)", "POST", path, self.staff, body={})
        done = self.measure("approve (the last step: confirmed)", "POST", path, self.admin, body={})
        if done["status"] != "confirmed":
            raise BenchError(f"approve: the order is {done['status']} after its last step")

    def catalogue(self) -> None:
        """Staff keep the catalogue: a category renamed, a product created, edited, restocked and retired."""
        staff, self.passes = self.staff, getattr(self, "passes", 0) + 1
        self.measure("list categories", "GET", "/categories", None)
        self.measure("put a category (rename)", "PUT", "/staff/categories/tea", staff,
                     body={"name": f"Tea ({self.passes})"})  # fmt: skip
        sku = f"CALLS-NEW-{self.passes:02d}"
        product = {"sku": sku, "name": "New tea", "category": "tea", "price": 990, "stock": 10,
                   "low_stock_threshold": 20}  # fmt: skip
        self.measure("create product (with stock)", "POST", "/staff/products", staff, 201, body=product)
        self.measure("edit product (price)", "PATCH", f"/staff/products/{sku}", staff, body={"price": 1090},
                     headers={"if-match": '"1"'})  # fmt: skip
        self.measure("stock adjustment", "POST", "/staff/stock/adjustments", staff, 201,
                     body={"sku": sku, "delta": 5, "reason": "restock"}, headers={"idempotency-key": new_key()})  # fmt: skip
        self.measure("stock movements (a page)", "GET", f"/staff/products/{sku}/stock-movements", staff)
        low = self.measure("low stock (a page)", "GET", "/staff/stock/low", staff)
        if sku not in {item["sku"] for item in low["items"]}:
            raise BenchError(f"low stock: {sku} (15 of 20) is not listed")
        self.measure("retire product", "DELETE", f"/staff/products/{sku}", staff)

    def cart(self) -> None:
        """Quote, fill the cart (two lines), read it, check it out, and replay the checkout."""
        customer, lines = self.customer, (("CALLS-TEA-02", 1), ("CALLS-GARDEN-02", 2))
        self.measure("quote (2 lines)", "POST", "/orders/quote", customer, body=order_body(*lines))
        self.api.call("PUT", f"/cart/items/{lines[0][0]}", customer, body={"quantity": lines[0][1]})
        self.measure("set a cart line", "PUT", f"/cart/items/{lines[1][0]}", customer, body={"quantity": lines[1][1]})
        self.measure("get cart (2 lines)", "GET", "/cart", customer)
        key, body = new_key(), {"shipping_address": order_body()["shipping_address"]}
        self.measure("checkout (2 lines)", "POST", "/cart/checkout", customer, 201, body=body,
                     headers={"idempotency-key": key})  # fmt: skip
        self.measure("replay checkout (same Idempotency-Key)", "POST", "/cart/checkout", customer, body=body,
                     headers={"idempotency-key": key})  # fmt: skip


def seed_catalogue(stack: Stack) -> None:
    """A small catalogue across three categories; a few tea names contain 'Oolong'."""
    for category in CATEGORIES:
        for n in range(1, PRODUCTS_PER_CATEGORY + 1):
            name = f"{'Oolong' if category == 'tea' and n % 3 == 0 else category.title()} {n:02d}"
            sku = f"CALLS-{category.upper()}-{n:02d}"
            stack.seed(sku, stock=1_000, price=500 * n, name=name, category=category)
    stack.seed("CALLS-BIG-01", stock=1_000, price=2_500_000, name="Approval 01", category="machinery")
    from chalicelib.adapters.dynamo.catalogue_table import CATEGORY_PK, CategoryRecord

    CategoryRecord(CATEGORY_PK, "tea", category="tea", name="Tea", product_count=PRODUCTS_PER_CATEGORY,
                   updated_at="2026-12-01T00:00:00Z").save()  # fmt: skip


def describe(counts: Counter[str]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items())) or "none"


def run(stack: Stack) -> Section:
    """Warm up, then count each operation's DynamoDB calls and check them against TARGETS."""
    from chalicelib.adapters.dynamo.catalogue_repo import PRODUCT_SHARDS as product_shards
    from chalicelib.adapters.dynamo.order_records import ORDER_SHARDS as shards  # the stack is set up by now

    if (shards, product_shards) != (ORDER_SHARDS, PRODUCT_SHARDS):
        raise BenchError(f"the app has {shards} order and {product_shards} product shards; update them here")
    seed_catalogue(stack)
    api = Api(stack)
    operations = Operations(stack, api, stack.new_user("customer"), stack.new_user("staff"), stack.new_user("admin"))
    with stack.calls.capture() as warm_up:
        operations.run()
    counts = operations.run()
    measured_calls = sum(counts.values(), Counter())
    scans = measured_calls["Scan"] + measured_calls["ParallelScan"]

    section = Section("dynamodb_calls", "2. DynamoDB calls per operation (counted at botocore, after a warm-up pass)")
    section.lines.append(f"  {'operation':<48} {'calls':>5}  {'target':<6}  {'result':<6}  by API operation")
    rows: dict[str, dict[str, Any]] = {}
    for name, calls in counts.items():
        target, total = TARGETS[name], sum(calls.values())
        passed = None if target is None else target.met(total)
        result = {None: "info", True: "PASS", False: "FAIL"}[passed]
        section.lines.append(f"  {name:<48} {total:>5}  {target or '-'!s:<6}  {result:<6}  {describe(calls)}")
        if target is not None:
            section.checks.append(Check(f"DynamoDB calls: {name}", f"{total} calls", str(target), bool(passed)))
        rows[name] = {
            "total": total,
            "by_api_operation": dict(calls),
            "target": None if target is None else str(target),
            "passed": passed,
        }
    section.lines += [
        f"  warm-up pass (same operations, first time): {sum(warm_up.values())} calls: {describe(warm_up)}"
        + (" (as counted: no one-off calls)" if warm_up == measured_calls else ""),
        f"  Scans in the measured operations: {scans}  {'PASS' if scans == 0 else 'FAIL'} (target 0)",
    ]
    section.checks.append(Check("Scans in the measured operations", str(scans), "0", scans == 0))
    section.data = {
        "operations": rows,
        "warm_up": {"total": sum(warm_up.values()), "by_api_operation": dict(warm_up)},
        "scans": scans,
    }
    return section
