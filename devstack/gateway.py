"""A local API Gateway that verifies Cognito ID tokens as the deployed one does.

``chalice local`` only decodes a token's payload. Here every route with the
Cognito authorizer gets what API Gateway's Cognito authorizer does in AWS: the
signature checked against the pool's JWKS, expiry, issuer and audience (the app
client), and ``token_use`` = ``id``; anything else is 401 before the app runs.
"""

from __future__ import annotations

import functools
import json
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
)


def _error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()


class NotFoundError(LocalGatewayException):
    CODE = 404


class CognitoVerifier:
    """Checks an ID token of one user pool and app client."""

    def __init__(self, region: str, user_pool_id: str, client_id: str, jwks_url: str) -> None:
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self.client_id = client_id
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True)

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims, or ``jwt.InvalidTokenError``."""
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
            raise jwt.InvalidTokenError("not an ID token")
        return claims


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
        try:
            claims = self._verifier.claims(token.strip())
        except (jwt.PyJWTError, ValueError) as error:
            raise NotAuthorizedError(
                {"x-amzn-ErrorType": "UnauthorizedException"},
                _error("unauthorized", f"Sign in: the token was refused ({type(error).__name__})."),
            ) from None
        lambda_event["requestContext"]["authorizer"] = {"claims": claims, "principalId": claims["sub"]}
        return lambda_event, lambda_context


class VerifyingGateway(LocalGateway):
    def __init__(self, app_object, config, verifier: CognitoVerifier) -> None:
        super().__init__(app_object, config)
        self._authorizer = VerifyingAuthorizer(app_object, verifier)

    def handle_request(self, method, path, headers, body):
        try:
            return super().handle_request(method, path, headers, body)
        except ForbiddenError as error:
            # API Gateway calls an unknown route "Missing Authentication Token" (403);
            # the deployed API maps that gateway response to 404, and so do we.
            if b"Missing Authentication Token" in error.body or b"requires 'Credential'" in error.body:
                raise NotFoundError({}, _error("not_found", "No such route.")) from None
            raise


class VerifyingRequestHandler(ChaliceRequestHandler):
    """Chalice's request handler with the verifying gateway (it serves inside ``__init__``)."""

    def __init__(self, request, client_address, server, app_object, config, verifier) -> None:
        self.local_gateway = VerifyingGateway(app_object, config, verifier)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)


def local_app(app_object):
    """Give the app a per-thread ``current_request``, as ``chalice local`` does, for threaded serving."""
    if not isinstance(app_object, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app_object.__class__)
        app_object.__class__ = CustomLocalChalice
    return app_object


def dev_server(app_object, config, host: str, port: int, verifier: CognitoVerifier) -> LocalDevServer:
    handler = functools.partial(
        VerifyingRequestHandler, app_object=local_app(app_object), config=config, verifier=verifier
    )
    return LocalDevServer(app_object, config, host, port, handler_cls=handler)
