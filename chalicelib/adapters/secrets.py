"""Stripe's keys: from SSM Parameter Store in AWS, from the environment locally. Read once per container."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from chalicelib.config import settings


@dataclass(frozen=True)
class StripeKeys:
    api_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)


class MissingSecret(RuntimeError):
    pass


@cache
def stripe_keys() -> StripeKeys:
    """``STRIPE_SECRETS_PARAMETER`` names an SSM path with SecureStrings ``api_key`` and ``webhook_secret``."""
    if settings.stripe_secrets_parameter:
        from chalicelib.adapters import aws

        path = settings.stripe_secrets_parameter.rstrip("/")
        names = [f"{path}/api_key", f"{path}/webhook_secret"]
        answer = aws.client("ssm").get_parameters(Names=names, WithDecryption=True)
        values = {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in answer["Parameters"]}
        if set(values) != {"api_key", "webhook_secret"}:
            raise MissingSecret(
                f"SSM parameters missing under {path}: {sorted({'api_key', 'webhook_secret'} - set(values))}"
            )
        return StripeKeys(values["api_key"], values["webhook_secret"])
    if not settings.stripe_api_key or not settings.stripe_webhook_secret:
        raise MissingSecret("Set STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET (or STRIPE_SECRETS_PARAMETER in AWS).")
    return StripeKeys(settings.stripe_api_key, settings.stripe_webhook_secret)
