"""Who the customers are: the Cognito user pool the API's tokens come from."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import aws


class CognitoDirectory:
    def __init__(self, user_pool_arn: str, client: Any = None) -> None:
        self._pool_id = user_pool_arn.rsplit("/", 1)[-1]
        self._client = client

    def is_customer(self, customer_id: str) -> bool:
        """Whether an enabled account has this ``sub`` (one ListUsers call, filtered by it)."""
        client = self._client or aws.client("cognito-idp")
        found = client.list_users(UserPoolId=self._pool_id, Filter=f'sub = "{customer_id}"', Limit=1)["Users"]
        return bool(found) and found[0].get("Enabled", True)
