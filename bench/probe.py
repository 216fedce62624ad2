"""One cold path, timed in a fresh interpreter and printed as JSON (run by ``bench.cold_start``).

``python bench/probe.py floor|app|first [SKU SUB]`` from the repo root. Only ``os`` (loaded at
start-up anyway), ``sys`` and ``time`` are imported before the timer starts, so start-up is
excluded and nothing the measured imports need is loaded ahead of them.

- floor: ``import boto3, pynamodb, chalice``
- app:   ``import app``
- first: ``import app``, then a first anonymous GET /products and a first signed-in
  POST /orders handed straight to the Chalice app as API Gateway proxy events (the
  claims are what API Gateway's Cognito authorizer passes), then a second of each (warm).
"""

import os
import sys
import time

# Modules worth loading lazily: where each is first seen shows what a cold path pays for.
HEAVY = (
    "boto3",
    "botocore",
    "pynamodb.models",
    "pydantic",
    "jwt",
    "chalicelib.adapters.dynamo.models",
    "chalicelib.entrypoints.http.schemas",
)


def loaded() -> list[str]:
    return [name for name in HEAVY if name in sys.modules]


def event(method: str, path: str, body: object = None, claims: object = None) -> dict:
    import json
    import uuid

    context: dict = {"resourcePath": path, "httpMethod": method, "path": f"/api{path}", "stage": "api"}
    context["requestId"] = uuid.uuid4().hex
    headers = {"accept": "application/json"}
    if claims is not None:
        context["authorizer"] = {"claims": claims}
        headers["idempotency-key"] = uuid.uuid4().hex
    if body is not None:
        headers["content-type"] = "application/json"
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": context,
        "body": None if body is None else json.dumps(body, ensure_ascii=False),
        "isBase64Encoded": False,
    }


def handle(chalice_app: object, request: dict, expected: int) -> None:
    response = chalice_app(request, None)  # type: ignore[operator]
    if response["statusCode"] != expected:
        raise SystemExit(f"{request['httpMethod']} {request['path']}: {response['statusCode']} {response['body']}")


def first_requests(sku: str, sub: str) -> dict:
    """``import app`` and the first requests of a new container, each step's cumulative time."""
    start = time.perf_counter()
    import app

    imported = time.perf_counter()
    after_import = loaded()
    get = event("GET", "/products")
    handle(app.app, get, 200)
    got = time.perf_counter()
    after_get = loaded()
    address = {"name": "王小明", "phone": "+86 138 0000 0000", "line1": "人民路 1 号", "city": "上海", "country": "CN"}
    body = {"items": [{"sku": sku, "quantity": 1}], "shipping_address": address}
    claims = {"sub": sub, "token_use": "id", "cognito:groups": []}
    handle(app.app, event("POST", "/orders", body, claims), 201)
    posted = time.perf_counter()
    after_post = loaded()
    handle(app.app, event("GET", "/products"), 200)
    warm_got = time.perf_counter()
    handle(app.app, event("POST", "/orders", body, claims), 201)
    warm_posted = time.perf_counter()
    return {
        "import_s": imported - start,
        "import_get_s": got - start,
        "import_get_post_s": posted - start,
        "warm_get_s": warm_got - posted,
        "warm_post_s": warm_posted - warm_got,
        "loaded_after_import": after_import,
        "loaded_after_get": after_get,
        "loaded_after_post": after_post,
    }


def main() -> None:
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not bench/
    mode = sys.argv[1]
    if mode == "first":
        result = first_requests(sys.argv[2], sys.argv[3])
    else:
        start = time.perf_counter()
        if mode == "floor":
            import boto3  # noqa: F401
            import chalice  # noqa: F401
            import pynamodb  # noqa: F401
        else:
            import app  # noqa: F401
        result = {"import_s": time.perf_counter() - start, "loaded_after_import": loaded()}
    import json

    print(json.dumps(result))


if __name__ == "__main__":
    main()
