"""``python -m devstack.token [EMAIL]`` (``make token EMAIL=...``): an ID token of a demo account, on stdout.

It signs in the way real clients do, Cognito ``InitiateAuth`` with
``USER_PASSWORD_AUTH``, against the running local stack's emulator, with the
password from its env.json. Without EMAIL it signs in the first demo customer.
"""

from __future__ import annotations

import sys
from typing import Any

from devstack import state
from devstack.awsenv import use_emulator

NOT_RUNNING = "the local stack is not running ({why}); start it with `make run`."


def _fail(message: str, code: int = 1) -> int:
    print(f"make token: {message}", file=sys.stderr)
    return code


def _account(env: dict[str, Any], email: str | None) -> dict[str, str] | None:
    accounts = env["demo_accounts"]
    if email is None:
        return next((a for a in accounts if a["role"] == "customer"), accounts[0])
    return next((a for a in accounts if a["email"].casefold() == email.casefold()), None)


class SignInFailed(Exception):
    """Why a demo account could not sign in, in a sentence for the user."""


def demo_token(env: dict[str, Any], account: dict[str, str]) -> str:
    """An ID token of a demo account of the running stack (raises ``SignInFailed``)."""
    use_emulator(env["aws_endpoint_url"], env["region"])
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError, EndpointConnectionError

    from devstack.resources import sign_in

    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=env["aws_endpoint_url"],
        region_name=env["region"],
        config=Config(connect_timeout=3, read_timeout=15, retries={"mode": "standard", "max_attempts": 1}),
    )
    try:
        return sign_in(cognito, env["user_pool_client_id"], account["email"], account["password"])
    except EndpointConnectionError:
        raise SignInFailed(NOT_RUNNING.format(why=f"nothing answers at {env['aws_endpoint_url']}")) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") == "ResourceNotFoundException":  # a stack restarted elsewhere, or a stale env.json
            raise SignInFailed(NOT_RUNNING.format(why=f"its user pool is gone: {details.get('Message', '')}")) from None
        raise SignInFailed(
            f"sign-in as {account['email']} failed: {details.get('Code')}: {details.get('Message')}"
        ) from None


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0] in ("-h", "--help")):
        return _fail("usage: python -m devstack.token [EMAIL]  (or: make token EMAIL=customer1@demo.local)", 2)
    directory = state.state_dir()
    env = state.read_env(directory)
    if env is None:
        return _fail(NOT_RUNNING.format(why=f"no {directory / state.ENV_JSON}"))
    account = _account(env, argv[0] if argv else None)
    if account is None:
        known = ", ".join(a["email"] for a in env["demo_accounts"])
        return _fail(f"{argv[0]} is not a demo account; the demo accounts are {known}.", 2)

    try:
        token = demo_token(env, account)
    except SignInFailed as error:
        return _fail(str(error))
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
