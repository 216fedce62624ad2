"""Settings read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    region: str
    orders_table: str
    products_table: str
    currency: str
    payment_ttl_minutes: int
    max_body_bytes: int
    user_pool_arn: str
    cors_allow_origin: str
    log_level: str


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def load() -> Settings:
    return Settings(
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        orders_table=os.environ.get("ORDERS_TABLE", "orders"),
        products_table=os.environ.get("PRODUCTS_TABLE", "products"),
        currency=os.environ.get("CURRENCY", "CNY"),
        payment_ttl_minutes=_int("PAYMENT_TTL_MINUTES", 30),
        max_body_bytes=_int("MAX_BODY_BYTES", 65536),
        user_pool_arn=os.environ.get(
            "USER_POOL_ARN",
            "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_placeholder",
        ),
        cors_allow_origin=os.environ.get("CORS_ALLOW_ORIGIN", "*"),
        log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
    )


settings = load()
