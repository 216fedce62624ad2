"""Point every AWS client of this process at the local emulator, never at AWS."""

from __future__ import annotations

import os

REGION = "us-east-1"
ACCESS_KEY = "local"
SECRET_KEY = "local"


def use_emulator(endpoint: str, region: str = REGION) -> None:
    """Set the environment botocore (and so PynamoDB and boto3) reads: endpoint, dummy keys, region.

    Anything that could send a request elsewhere is dropped: a profile or session
    token of a real account, per-service endpoint overrides, the switch that
    ignores configured endpoints, and proxies for loopback.
    """
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_") or name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        ):
            del os.environ[name]
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
    )
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(name, "").split(",") if h]
        os.environ[name] = ",".join(dict.fromkeys([*hosts, "127.0.0.1", "localhost"]))
