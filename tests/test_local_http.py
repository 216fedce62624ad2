"""The local API over a real socket, as a browser, curl or a careless client talks to it.

Every answer is JSON in the contract's error shape with the configured CORS headers, whatever
refused the request: the app, the gateway's token check, or http.server itself (a method nothing
serves, an oversized header). HEAD answers like GET without a body, and keep-alive survives it.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.config import Config

from devstack.gateway import CognitoVerifier, dev_server

ORIGIN = "https://shop.example.com"
EXPOSED = {"location", "etag", "idempotent-replayed"}
CLASS_NAMES = ("Error", "PyJWK", "Decode", "Expired", "Invalid")


@pytest.fixture(scope="module")
def server(stack) -> Iterator[tuple[str, int]]:
    from app import app

    jwks = f"{stack.endpoint}/{stack.pool_id}/.well-known/jwks.json"
    verifier = CognitoVerifier(stack.region, stack.pool_id, stack.client_id, jwks)
    served = dev_server(app, Config(), "127.0.0.1", 0, verifier)
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served.server.server_address[:2]
    served.server.shutdown()
    served.server.server_close()
    thread.join()


def connect(server: tuple[str, int]) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(*server, timeout=10)


def call(
    server: tuple[str, int], method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    connection = connect(server)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


def raw(server: tuple[str, int], data: bytes) -> tuple[http.client.HTTPResponse, bytes]:
    """Send bytes as they are (no client-side encoding or checks) and read the one answer."""
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response, response.read()


def error_of(response: http.client.HTTPResponse, body: bytes) -> dict[str, Any]:
    """The contract's error object, checking the answer is JSON in its shape."""
    assert response.getheader("Content-Type", "").startswith("application/json"), response.getheaders()
    parsed = json.loads(body)
    assert set(parsed) == {"error"}, parsed
    assert set(parsed["error"]) == {"code", "message", "details"}, parsed
    assert isinstance(parsed["error"]["details"], dict)
    return parsed["error"]


def assert_cors(response: http.client.HTTPResponse) -> None:
    from chalicelib.config import settings

    assert response.getheader("Access-Control-Allow-Origin") == settings.cors_allow_origin
    exposed = {name.strip().lower() for name in (response.getheader("Access-Control-Expose-Headers") or "").split(",")}
    assert exposed >= EXPOSED, response.getheaders()


@pytest.mark.parametrize("method", ["TRACE", "BREW", "CONNECT"])
def test_a_method_nothing_serves_is_405_json_with_allow(server, method):
    response, body = call(server, method, "/health" if method != "CONNECT" else "127.0.0.1:443")
    assert response.status == 405
    assert error_of(response, body)["code"] == "method_not_allowed"
    assert "GET" in response.getheader("Allow", "")
    assert_cors(response)


def test_a_405_on_a_route_allows_what_that_route_serves(server):
    response, body = call(server, "TRACE", "/health")
    assert response.status == 405
    assert response.getheader("Allow") == "GET, HEAD, OPTIONS"
    assert "TRACE" in error_of(response, body)["message"]


def test_a_body_over_the_gateway_limit_is_413_json_without_being_read(server):
    response, body = raw(server, b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\n{")
    assert response.status == 413
    assert error_of(response, body)["code"] == "payload_too_large"
    assert_cors(response)


def test_head_answers_like_get_without_a_body_and_keep_alive_survives(server):
    connection = connect(server)
    try:
        connection.request("HEAD", "/health", headers={"Origin": ORIGIN})
        head = connection.getresponse()
        assert head.status == 200
        assert head.read() == b""
        assert head.getheader("Content-Type") == "application/json"
        length = int(head.getheader("Content-Length"))
        assert length > 0
        assert_cors(head)

        connection.request("GET", "/health")  # the same connection: nothing of a HEAD body is left on it
        get = connection.getresponse()
        assert get.status == 200
        body = get.read()
        assert json.loads(body) == {"status": "ok"}
        assert len(body) == length
    finally:
        connection.close()


def test_an_oversized_header_is_431_json(server):
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nOrigin: " + ORIGIN.encode() + b"\r\n"
    request += b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    response, body = raw(server, request)
    assert response.status == 431
    error = error_of(response, body)
    assert error["code"] == "headers_too_large"
    assert "<html" not in body.decode().lower()
    assert_cors(response)


def test_too_many_headers_and_a_bad_request_line_are_json(server):
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(120))
    response, body = raw(server, b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert response.status == 431
    assert "too many" in error_of(response, body)["message"].lower()

    response, body = raw(server, b"GET /health HTTP/9.x\r\n\r\n")
    assert response.status == 400
    assert error_of(response, body)["code"] == "bad_request"
    assert_cors(response)


def test_a_401_to_a_browser_carries_cors(server):
    response, body = call(server, "GET", "/orders", {"Origin": ORIGIN})
    assert response.status == 401
    assert error_of(response, body)["code"] == "unauthorized"
    assert_cors(response)

    response, body = call(server, "GET", "/orders", {"Origin": ORIGIN, "Authorization": "Bearer not-a-jwt"})
    assert response.status == 401
    assert_cors(response)


def test_the_in_process_gateway_adds_cors_to_its_errors_too(api):
    for method, path, status in (("GET", "/orders", 401), ("GET", "/nowhere", 404), ("DELETE", "/health", 405)):
        reply = api.request(method, path, headers={"origin": ORIGIN})
        assert reply.status == status, reply.body
        headers = {name.lower(): value for name, value in reply.headers.items()}
        assert "access-control-allow-origin" in headers, (path, headers)
        assert "etag" in headers["access-control-expose-headers"].lower()


def test_a_refused_token_is_explained_in_plain_words(api, stack):
    from tests.test_authorization import Minter

    minter = Minter(stack)
    now = int(time.time())
    expected = {
        "not-a-jwt": "not a valid JWT",
        "aaaa.bbbb.cccc": "not a valid JWT",
        minter.sign(iat=now - 7200, auth_time=now - 7200, exp=now - 3600): "has expired",
        minter.sign(aud="another-app-client"): "for another app client",
        minter.sign(iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_elsewhere"): "not issued by this",
        minter.sign(token_use="access"): "not an ID token",
        minter.sign(headers={"kid": "not-a-key-of-this-pool"}): "not signed with this user pool's keys",
    }
    for token, reason in expected.items():
        reply = api.get("/orders", headers={"authorization": f"Bearer {token}"})
        assert reply.status == 401
        message = reply.error["message"]
        assert reason in message, message
        assert not any(name in message for name in CLASS_NAMES), message


def test_an_unknown_route_is_404_json_with_cors(server):
    response, body = call(server, "GET", "/no/such/route", {"Origin": ORIGIN})
    assert response.status == 404
    assert error_of(response, body)["code"] == "not_found"
    assert_cors(response)

    response, body = call(server, "DELETE", "/health", {"Origin": ORIGIN})  # the app's own 405
    assert response.status == 405
    assert error_of(response, body)["code"] == "method_not_allowed"
    assert_cors(response)


def test_an_unencoded_utf8_query_searches_as_if_percent_encoded(server, seed):
    seed("TEE-CREW", name="纯棉圆领T恤 白色", category="apparel")
    seed("SCARF", name="Silk scarf", category="apparel")
    response, body = raw(server, "GET /products?q=圆领 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert response.status == 200, body
    assert [p["sku"] for p in json.loads(body)["items"]] == ["TEE-CREW"]


def test_requests_are_not_logged_unless_asked(server, stack, capsys):
    """The console is for notifications: no access-log line per request, unless access_log (LOG_LEVEL=DEBUG)."""
    from app import app

    assert call(server, "GET", "/health")[0].status == 200
    assert "/health" not in capsys.readouterr().err

    jwks = f"{stack.endpoint}/{stack.pool_id}/.well-known/jwks.json"
    verifier = CognitoVerifier(stack.region, stack.pool_id, stack.client_id, jwks)
    verbose = dev_server(app, Config(), "127.0.0.1", 0, verifier, access_log=True)
    thread = threading.Thread(target=verbose.server.serve_forever, daemon=True)
    thread.start()
    try:
        response, _ = raw(verbose.server.server_address[:2], "GET /health?q=圆领 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert response.status == 200
    finally:
        verbose.server.shutdown()
        verbose.server.server_close()
        thread.join()
    assert '"GET /health?q=圆领 HTTP/1.1" 200' in capsys.readouterr().err  # the path as sent, not mojibake
