"""One cold path, timed in a fresh interpreter on the unzipped deployment package, printed as JSON.

``python -I -S bench/probe.py floor|first SKU [SUB]`` (run by ``bench.cold_start``). ``-I -S``
leave only the standard library on ``sys.path``; ``main`` then puts the unzipped package
(``BENCH_PACKAGE_DIR``, as Lambda's /var/task) and the stand-in for what the Lambda runtime
provides (``BENCH_RUNTIME_DIR``: boto3 and botocore, as Lambda's own copies) after it, in
Lambda's order. Only ``os``, ``sys``, ``time`` and (in both modes) ``json`` and ``uuid``, which
the harness needs to make API Gateway's events and print the result, are imported before the
timer starts, so start-up and the harness are excluded.

- floor:  what any app on this stack pays for its first request: ``import boto3,
  pynamodb.models, chalice`` and one PynamoDB GetItem (of SKU, on PRODUCTS_TABLE).
- first:  ``import app``, then a first anonymous GET /products and a first signed-in
  POST /orders handed straight to the Chalice app as API Gateway proxy events (the
  claims are what API Gateway's Cognito authorizer passes), then a second of each (warm).
  Then more routes that move no money (GET /orders/{id}, cancelling an unpaid order),
  noting after every step whether ``stripe`` is loaded; then a first POST
  /orders/{id}/payments (card), timing the ``import stripe`` it makes, and WARM_PAYS more,
  each on another order (warm: their median). Stripe is the stand-in the bench serves
  over HTTP (``STRIPE_API_BASE`` and the keys are in the environment), reached through
  the app's own wiring, as in the local stack. It also counts the botocore sessions made.
"""

import os
import sys
import time

WARM_PAYS = 3  # warm payment requests after the first (each on its own order); their median is reported

# Modules worth loading lazily: where each is first seen shows what a cold path pays for.
HEAVY = (
    "boto3",
    "botocore",
    "pynamodb.models",
    "pydantic",
    "jwt",
    "chalicelib.adapters.dynamo.models",
    "chalicelib.entrypoints.http.schemas",
    "stripe",
    "reportlab",  # payment vouchers only (GET /orders/{id}/receipt.pdf)
    "openpyxl",  # import workbooks only (the import worker, when it reads one)
)


def loaded() -> list[str]:
    return [name for name in HEAVY if name in sys.modules]


def event(method: str, path: str, body: object = None, claims: object = None, order_id: str | None = None) -> dict:
    """An API Gateway proxy event; with ``order_id``, ``path`` is a resource path with ``{order_id}`` in it."""
    import json
    import uuid

    resource = path
    if order_id is not None:
        path = resource.replace("{order_id}", order_id)
    context: dict = {"resourcePath": resource, "httpMethod": method, "path": f"/api{path}", "stage": "api"}
    context["requestId"] = uuid.uuid4().hex
    headers = {"accept": "application/json"}
    if claims is not None:
        context["authorizer"] = {"claims": claims}
        headers["idempotency-key"] = uuid.uuid4().hex
    if body is not None:
        headers["content-type"] = "application/json"
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None if order_id is None else {"order_id": order_id},
        "stageVariables": None,
        "requestContext": context,
        "body": None if body is None else json.dumps(body, ensure_ascii=False),
        "isBase64Encoded": False,
    }


def handle(chalice_app: object, request: dict, expected: int) -> dict:
    """Send ``request``; its parsed JSON body (exits if the status is not ``expected``)."""
    response = chalice_app(request, None)  # type: ignore[operator]
    if response["statusCode"] != expected:
        raise SystemExit(f"{request['httpMethod']} {request['path']}: {response['statusCode']} {response['body']}")
    import json

    return json.loads(response["body"]) if response.get("body") else {}


class FirstImport:
    """Times the first import of ``package`` made inside the block (cumulative: with everything it imports).

    It wraps ``builtins.__import__``, which every ``import`` statement calls; the
    overhead is one Python call per import statement run inside the block.
    """

    def __init__(self, package: str) -> None:
        self.package = package
        self.seconds: float | None = None

    def __enter__(self) -> "FirstImport":
        import builtins

        original = self._original = builtins.__import__

        def timed(name, globals=None, locals=None, fromlist=(), level=0):
            first = level == 0 and self.seconds is None and self.package not in sys.modules
            if not first or name.partition(".")[0] != self.package:
                return original(name, globals, locals, fromlist, level)
            started = time.perf_counter()
            try:
                return original(name, globals, locals, fromlist, level)
            finally:
                self.seconds = time.perf_counter() - started

        builtins.__import__ = timed
        return self

    def __exit__(self, *exc: object) -> None:
        import builtins

        builtins.__import__ = self._original


def first_requests(sku: str, sub: str) -> dict:
    """``import app`` and the first requests of a new container, each step's cumulative time."""
    # the two events are the harness's (API Gateway's) work, not the container's: made before the timer
    address = {"name": "王小明", "phone": "+86 138 0000 0000", "line1": "人民路 1 号", "city": "上海", "country": "CN"}
    body = {"items": [{"sku": sku, "quantity": 1}], "shipping_address": address}
    claims = {"sub": sub, "token_use": "id", "cognito:groups": []}
    get, post = event("GET", "/products"), event("POST", "/orders", body, claims)
    start = time.perf_counter()
    import app

    imported = time.perf_counter()
    after_import = loaded()
    handle(app.app, get, 200)
    got = time.perf_counter()
    after_get = loaded()
    first_order = handle(app.app, post, 201)["order_id"]
    posted = time.perf_counter()
    after_post = loaded()
    stripe_at = {"import app": "stripe" in after_import, "first GET /products": "stripe" in after_get}
    stripe_at["first POST /orders"] = "stripe" in after_post
    handle(app.app, event("GET", "/products"), 200)
    warm_got = time.perf_counter()
    stripe_at["warm GET /products"] = "stripe" in sys.modules
    second_order = handle(app.app, event("POST", "/orders", body, claims), 201)["order_id"]
    warm_posted = time.perf_counter()
    stripe_at["warm POST /orders"] = "stripe" in sys.modules
    handle(app.app, event("GET", "/orders/{order_id}", None, claims, first_order), 200)
    stripe_at["GET /orders/{id}"] = "stripe" in sys.modules
    handle(app.app, event("POST", "/orders/{order_id}/cancel", {"reason": "bench"}, claims, first_order), 200)
    stripe_at["POST /orders/{id}/cancel (unpaid)"] = "stripe" in sys.modules
    before_pay = loaded()
    more_orders = [handle(app.app, event("POST", "/orders", body, claims), 201)["order_id"] for _ in range(WARM_PAYS)]
    card = {"method": "card"}
    with FirstImport("stripe") as stripe_import:
        paying = time.perf_counter()
        handle(app.app, event("POST", "/orders/{order_id}/payments", card, claims, second_order), 201)
        paid = time.perf_counter()
    after_pay = loaded()
    warm_pays = []
    for order_id in more_orders:
        warm_paying = time.perf_counter()
        handle(app.app, event("POST", "/orders/{order_id}/payments", card, claims, order_id), 201)
        warm_pays.append(time.perf_counter() - warm_paying)
    return {
        "import_s": imported - start,
        "import_get_s": got - start,
        "import_get_post_s": posted - start,
        "warm_get_s": warm_got - posted,
        "warm_post_s": warm_posted - warm_got,
        "loaded_after_import": after_import,
        "loaded_after_get": after_get,
        "loaded_after_post": after_post,
        "first_pay_s": paid - paying,
        "warm_pay_s": sorted(warm_pays)[len(warm_pays) // 2],
        "stripe_import_in_pay_s": stripe_import.seconds,
        "stripe_loaded_after": stripe_at,
        "loaded_before_pay": before_pay,
        "loaded_after_pay": after_pay,
    }


def count_sessions() -> list[int]:
    """A one-item list counting every ``botocore.session.Session`` made from now on in this interpreter."""
    import botocore.session

    made = [0]
    original = botocore.session.Session.__init__

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        made[0] += 1
        original(self, *args, **kwargs)

    botocore.session.Session.__init__ = counted  # type: ignore[method-assign]
    return made


def floor(sku: str) -> dict:
    """``import boto3, pynamodb.models, chalice`` and one PynamoDB GetItem: the bare stack's first request."""
    start = time.perf_counter()
    import boto3  # noqa: F401
    import chalice  # noqa: F401
    import pynamodb.models
    from pynamodb.attributes import UnicodeAttribute

    imported = time.perf_counter()

    class Product(pynamodb.models.Model):
        class Meta:
            table_name = os.environ["PRODUCTS_TABLE"]
            region = os.environ["AWS_REGION"]

        sku = UnicodeAttribute(hash_key=True)

    Product.get(sku)
    return {"import_s": imported - start, "floor_s": time.perf_counter() - start}


def main() -> None:
    """Lambda's ``sys.path`` (package, then the runtime's stand-in, then the standard library), then the mode."""
    runtime = os.environ.get("BENCH_RUNTIME_DIR")
    sys.path[:0] = [os.environ["BENCH_PACKAGE_DIR"], *([runtime] if runtime else [])]
    mode = sys.argv[1]
    import json  # the harness's, in both modes: see the module's docstring
    import uuid  # noqa: F401

    if mode == "first":
        sessions = count_sessions() if os.environ.get("BENCH_COUNT_SESSIONS") else None
        result = first_requests(sys.argv[2], sys.argv[3])
        result["botocore_sessions"] = None if sessions is None else sessions[0]
    else:
        result = floor(sys.argv[2])
    result["botocore_from"] = os.path.dirname(sys.modules["botocore"].__file__ or "")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
