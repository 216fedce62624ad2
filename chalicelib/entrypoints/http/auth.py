"""Who is calling, from claims API Gateway has already verified.

In AWS, API Gateway's Cognito authorizer checks the ID token (signature against the
pool's keys, expiry, issuer, audience) before Lambda runs and passes its claims in
the request context; the local stack's gateway does the same checks. This module
never trusts a raw token: no verified claims means 401.
"""

from __future__ import annotations

import re

from chalice import CognitoUserPoolAuthorizer

from chalicelib.config import settings
from chalicelib.domain.identity import Principal
from chalicelib.entrypoints.http.errors import ApiError

cognito = CognitoUserPoolAuthorizer("cognito", provider_arns=[settings.user_pool_arn], header="Authorization")


def principal_from(context: dict) -> Principal:
    claims = (context.get("authorizer") or {}).get("claims") or {}
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or claims.get("token_use") != "id":
        raise ApiError(
            401, "unauthorized", "Sign in: send a valid Cognito ID token as 'Authorization: Bearer <token>'."
        )
    return Principal(subject=subject, groups=_groups(claims.get("cognito:groups")), email=claims.get("email"))


def _groups(raw: object) -> frozenset[str]:
    """Groups arrive as a list locally and as a flattened string ('[staff admin]') from API Gateway."""
    if isinstance(raw, (list, tuple)):
        return frozenset(str(group) for group in raw)
    if isinstance(raw, str):
        return frozenset(group for group in re.split(r"[\s,\[\]]+", raw) if group)
    return frozenset()
