"""A local API Gateway that verifies Cognito ID tokens as the deployed one does, and its HTTP server.

``chalice local`` only decodes a token's payload. Here every route with the
Cognito authorizer gets what API Gateway's Cognito authorizer does in AWS: the
signature checked against the pool's JWKS, expiry, issuer and audience (the app
client), and ``token_use`` = ``id``; anything else is 401 before the app runs.

Every answer, the gateway's own (401, 404, ...) and the HTTP server's (405 for a
method nothing serves, 431, ...), is JSON in the contract's error shape with the
app's CORS headers, as the deployed gateway responses are.
"""

from __future__ import annotations

import functools
import json
import logging
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from chalice.app import CognitoUserPoolAuthorizer
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    ForbiddenError,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    NotAuthorizedError,
    RouteMatcher,
)

log = logging.getLogger("devstack.api")

SERVED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit: larger bodies get 413 unread
DRAIN_BYTES = 1024 * 1024  # what is read and dropped of an unread request before closing (see finish)
DRAIN_SECONDS = 2.0


def _error(code: str, message: str, **details: Any) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": details}}).encode()


class NotFoundError(LocalGatewayException):
    CODE = 404


class NotAnIdToken(jwt.InvalidTokenError):
    """A valid token of the pool, but an access token (or another kind), not an ID token."""


class CognitoVerifier:
    """Checks an ID token of one user pool and app client."""

    def __init__(self, region: str, user_pool_id: str, client_id: str, jwks_url: str) -> None:
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self.client_id = client_id
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True)

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims, or ``jwt.PyJWTError``."""
        key = self._keys.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=self.client_id,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
        )
        if claims.get("token_use") != "id":
            raise NotAnIdToken("not an ID token")
        return claims


# Most specific first: ExpiredSignatureError is an InvalidTokenError, InvalidSignatureError a DecodeError, ...
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidIssuerError, "the token was not issued by this user pool"),
    (jwt.InvalidAudienceError, "the token is for another app client"),
    (NotAnIdToken, "this is not an ID token"),
    (jwt.MissingRequiredClaimError, "the token lacks a claim an ID token has"),
    (jwt.InvalidSignatureError, "the token's signature does not match"),
    (jwt.InvalidAlgorithmError, "the token is not signed the way this user pool signs"),
    (jwt.PyJWKClientConnectionError, "the user pool's signing keys could not be fetched"),
    (jwt.PyJWKClientError, "the token was not signed with this user pool's keys"),
)


def refusal(error: Exception) -> str:
    """Why a token was refused, in plain words (never a library's class name)."""
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "the token is not a valid JWT"


class VerifyingAuthorizer(LocalGatewayAuthorizer):
    def __init__(self, app_object, verifier: CognitoVerifier) -> None:
        super().__init__(app_object)
        self._verifier = verifier

    def authorize(self, raw_path: str, lambda_event: dict, lambda_context):
        route = self._route_for_event(lambda_event)
        if route is None or not isinstance(route.authorizer, CognitoUserPoolAuthorizer):
            return super().authorize(raw_path, lambda_event, lambda_context)
        headers = {k.lower(): v for k, v in (lambda_event.get("headers") or {}).items()}
        token = headers.get("authorization", "")
        if token[:7].lower() == "bearer ":
            token = token[7:]
        if not token.strip():
            message = "Sign in: send a valid Cognito ID token as 'Authorization: Bearer <token>'."
        else:
            try:
                claims = self._verifier.claims(token.strip())
            except (jwt.PyJWTError, ValueError) as error:
                message = f"Sign in: the token was refused ({refusal(error)})."
            else:
                lambda_event["requestContext"]["authorizer"] = {"claims": claims, "principalId": claims["sub"]}
                return lambda_event, lambda_context
        raise NotAuthorizedError({"x-amzn-ErrorType": "UnauthorizedException"}, _error("unauthorized", message))


def cors_headers(app_object) -> dict[str, str]:
    """The CORS headers the app's routes declare (one configuration for all), for answers no route gives."""
    for methods in app_object.routes.values():
        for entry in methods.values():
            if entry.cors is not None:
                return entry.cors.get_access_control_headers()
    return {}


def _contract_shaped(body: Any) -> bool:
    try:
        return isinstance(json.loads(body)["error"]["code"], str)
    except (TypeError, ValueError, KeyError):
        return False


_GATEWAY_ERRORS = {  # the deployed gateway responses' codes and messages (infra/resources.json)
    401: ("unauthorized", "Sign in: send a valid Cognito ID token as 'Authorization: Bearer <token>'."),
    403: ("forbidden", "Not allowed."),
    500: ("internal_error", "Something went wrong on our side."),
}


class VerifyingGateway(LocalGateway):
    """Chalice's local gateway with the Cognito check; its errors in the contract's shape, with CORS headers."""

    def __init__(self, app_object, config, verifier: CognitoVerifier) -> None:
        super().__init__(app_object, config)
        self._authorizer = VerifyingAuthorizer(app_object, verifier)
        self._routes = RouteMatcher(list(app_object.routes))
        self.cors = cors_headers(app_object)

    def handle_request(self, method, path, headers, body):
        try:
            response = super().handle_request(method, path, headers, body)
        except LocalGatewayException as error:
            body = error.body or b""
            # API Gateway calls an unknown route "Missing Authentication Token" (403);
            # the deployed API maps that gateway response to 404, and so do we.
            if isinstance(error, ForbiddenError) and (
                b"Missing Authentication Token" in body or b"requires 'Credential'" in body
            ):
                error = NotFoundError({}, _error("not_found", "No such route."))
            elif not _contract_shaped(body):
                error.body = _error(*_GATEWAY_ERRORS.get(error.CODE, _GATEWAY_ERRORS[500]))
            raise self._with_cors(error) from None
        response["headers"] = self.add_cors(response.get("headers") or {})
        return response

    def allowed_methods(self, path: str) -> list[str]:
        """The methods served on ``path`` (every method served anywhere when no route matches), for ``Allow``."""
        try:
            route = self._routes.match_route(path).route
        except ValueError:
            return list(SERVED_METHODS)
        methods = set(self._app_object.routes[route]) | {"OPTIONS"}
        if "GET" in methods:
            methods.add("HEAD")
        return [m for m in SERVED_METHODS if m in methods]

    def add_cors(self, headers: dict[str, Any]) -> dict[str, Any]:
        """``headers`` with the app's CORS headers it does not set itself."""
        present = {name.lower() for name in headers}
        return headers | {name: value for name, value in self.cors.items() if name.lower() not in present}

    def _with_cors(self, error: LocalGatewayException) -> LocalGatewayException:
        error.headers = self.add_cors(dict(error.headers or {}))
        return error


def utf8_path(path: str) -> str:
    """The request target as its sender meant it: http.server reads it as ISO-8859-1, so raw UTF-8 (``?q=圆领``
    from a client that does not percent-encode) arrives as mojibake. Re-read as UTF-8 when it is; else as is."""
    try:
        return path.encode("iso-8859-1").decode("utf-8")
    except UnicodeError:
        return path


# What send_error's statuses say to a client; http.server sends them before any route is looked at.
_PROTOCOL_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is not well-formed HTTP."),
    408: ("request_timeout", "The request took too long to arrive."),
    411: ("length_required", "Send the body with a Content-Length header (chunked bodies are not accepted)."),
    413: ("payload_too_large", "The request body is too large."),
    414: ("uri_too_long", "The request line is too long (at most 65,536 bytes)."),
    431: ("headers_too_large", "The request headers are too large (at most 65,536 bytes a line, 100 headers)."),
    505: ("http_version_not_supported", "Only HTTP/1.0 and HTTP/1.1 are served here."),
}


class _Refused(Exception):
    """The request was answered with an error before its body was read."""


class VerifyingRequestHandler(ChaliceRequestHandler):
    """Chalice's request handler with the verifying gateway (it serves inside ``__init__``).

    Any method goes to the gateway, HEAD as GET without the body; what http.server itself refuses
    (a method it has no ``do_`` for, an oversized line or header, bad syntax) is answered by
    ``send_error`` in the contract's JSON shape. Keep-alive holds whenever the request was read whole.
    """

    access_log = False  # one stderr line per request; otherwise only for 5xx

    def __init__(self, request, client_address, server, app_object, config, verifier, access_log=False) -> None:
        self.local_gateway = VerifyingGateway(app_object, config, verifier)
        self.access_log = access_log
        self._unread = False  # part of the request was left unread: drain it before closing (see finish)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except _Refused:
            return
        try:
            response = self.local_gateway.handle_request(
                method="GET" if self.command == "HEAD" else self.command,
                path=utf8_path(self.path),
                headers=dict(self.headers),
                body=body,
            )
        except LocalGatewayException as error:
            self._send_error_response(error)
            return
        except Exception:  # a fault of the local gateway itself (the app answers its own as 500 JSON)
            log.exception("the local gateway failed on %s %s", self.command, self.path)
            self._send_json(500, "internal_error", "Something went wrong on our side; it has been logged.")
            return
        headers = response["headers"].copy()
        headers.update(response["multiValueHeaders"])
        response = self._handle_binary(response)
        self._send_http_response(response["statusCode"], headers, response["body"])

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def _read_body(self) -> bytes | None:
        """The request body (None when there is none); ``_Refused`` once an error has been sent instead."""
        if "transfer-encoding" in self.headers:
            self.send_error(HTTPStatus.LENGTH_REQUIRED)
            raise _Refused
        raw = (self.headers.get("content-length") or "0").strip()
        if not raw.isdigit():
            self._send_json(400, "bad_request", "The Content-Length header is not a number of bytes.")
            raise _Refused
        length = int(raw)
        if length > MAX_BODY_BYTES:
            self._send_json(413, "payload_too_large", "The request body is too large.", limit_bytes=MAX_BODY_BYTES)
            raise _Refused
        return self.rfile.read(length) if length else None

    def _send_http_response_with_body(self, code, headers, body) -> None:
        if self.command != "HEAD":
            super()._send_http_response_with_body(code, headers, body)
            return
        # HEAD: the headers GET would send, Content-Length included, and no body (RFC 9110 9.3.2).
        size = len(body if isinstance(body, bytes) else body.encode("utf-8"))
        self.send_response(code)
        self.send_header("Content-Length", str(size))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's refusals as JSON: 501 (no ``do_`` method) is the contract's 405; 431, 414, 400, ... keep
        their status. The connection is closed after them, as http.server does."""
        code = int(code)
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            path = self.path if isinstance(getattr(self, "path", None), str) else ""
            allow = ", ".join(self.local_gateway.allowed_methods(path))
            self._send_json(405, "method_not_allowed", f"The method {self.command} is not served.", _allow=allow)
            return
        if code == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE and message == "Too many headers":
            error, text = "headers_too_large", "Too many request headers (at most 100)."
        elif code in _PROTOCOL_ERRORS:
            error, text = _PROTOCOL_ERRORS[code]
        else:
            try:
                status = HTTPStatus(code)
                error, text = status.phrase.lower().replace(" ", "_").replace("-", "_"), f"{status.description}."
            except ValueError:
                error, text = "http_error", "The request could not be served."
        self._send_json(code, error, text)

    def _send_json(self, code: int, error: str, message: str, _allow: str | None = None, **details: Any) -> None:
        """An error before the gateway saw the request: the contract's shape, CORS headers, then close."""
        self.close_connection = True
        self._unread = True
        headers: dict[str, Any] = {"Connection": "close"}
        if _allow:
            headers["Allow"] = _allow
        headers = self.local_gateway.add_cors(headers)
        if self.request_version == "HTTP/0.9":  # an unparsable version stays 0.9, which has no status line
            self.request_version = "HTTP/1.1"
        self._send_http_response_with_body(code, headers, _error(error, message, **details))

    def finish(self) -> None:
        """After an answer sent with part of the request unread (a 431 before the rest of a long header), read
        and drop what the client still sends: closing with unread data resets the connection, which can lose
        the answer before the client reads it."""
        super().finish()
        if not self._unread:
            return
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(DRAIN_SECONDS)
            drained = 0
            while drained < DRAIN_BYTES:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The access log line: only with ``access_log`` (LOG_LEVEL=DEBUG), else only for server faults."""
        status = int(code) if str(code).isdigit() else 0
        if self.access_log or status >= 500:
            self.log_message('"%s" %s %s', utf8_path(self.requestline), code, size)


def local_app(app_object):
    """Give the app a per-thread ``current_request``, as ``chalice local`` does, for threaded serving."""
    if not isinstance(app_object, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app_object.__class__)
        app_object.__class__ = CustomLocalChalice
    return app_object


def dev_server(
    app_object, config, host: str, port: int, verifier: CognitoVerifier, *, access_log: bool = False
) -> LocalDevServer:
    """The API served on host:port (0: any free port) through the verifying gateway."""
    handler = functools.partial(
        VerifyingRequestHandler,
        app_object=local_app(app_object),
        config=config,
        verifier=verifier,
        access_log=access_log,
    )
    return LocalDevServer(app_object, config, host, port, handler_cls=handler)
